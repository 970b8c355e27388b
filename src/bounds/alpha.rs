//! Optimised ReLU slopes (α-CROWN style): per bounded neuron, the lower slopes of the unstable
//! ReLUs below it are chosen by projected gradient ascent on its back-substituted bound.
//!
//! The search runs in plain f64 and only picks slopes; every slope in [0, 1] gives a valid lower
//! line, and the bound that is kept is recomputed with the chosen slopes by `symbolic` (outward
//! rounding), so the search's own arithmetic never reaches a printed bound.

use super::symbolic::{self, relu_upper_line, Forms};
use super::NetworkBounds;
use crate::ir::{Affine, Layer, Network};

/// Gradient steps per block of neurons, and Adam's step length on a slope.
const ITERATIONS: usize = 20;
const STEP: f64 = 0.1;
/// Neurons optimised together (memory: rows × the widths below them).
const BLOCK: usize = 32;

/// Whether slopes below position `top` can be optimised: affine, ReLU and index-map layers only
/// (networks with a max-pool below keep the plain symbolic pass).
pub fn applies(net: &Network, top: usize) -> bool {
    net.layers[..top].iter().any(|l| matches!(l.layer, Layer::Relu))
        && net.layers[..top].iter().all(|l| matches!(l.layer, Layer::Affine(_) | Layer::Relu | Layer::IndexMap(_)))
}

/// Sound bounds of rows `rows` of affine layer `j` (its output is position `j + 1`) with slopes
/// optimised per row and side, given bounds of every earlier position: `(row, lower, upper)`.
pub fn affine_layer(net: &Network, nb: &NetworkBounds, j: usize, a: &Affine, rows: &[usize]) -> Vec<(usize, f64, f64)> {
    symbolic::affine_layer_by(net, nb, j, a, rows, BLOCK, backsubstitute)
}

/// Lower-bounding forms over position `top` rewritten over the input with slopes optimised per
/// form (sound: the plain symbolic pass does the rewriting); the plain pass alone where
/// `applies` does not hold.
pub fn backsubstitute(net: &Network, nb: &NetworkBounds, top: usize, f: Forms) -> Forms {
    if !applies(net, top) {
        return symbolic::backsubstitute(net, nb, top, f);
    }
    let slopes = optimise(net, nb, top, &f);
    symbolic::backsubstitute_sloped(net, nb, top, f, &slopes)
}

/// The lines one backward pass chose at a ReLU layer, per form and neuron (row-major): slope,
/// intercept and the coefficient `ν` the form had on the ReLU's output.
struct Lines {
    slope: Vec<f64>,
    intercept: Vec<f64>,
    nu: Vec<f64>,
}

/// One backward pass in plain f64: each form's bound, the input corner attaining it, and the
/// lines chosen at every ReLU layer.
struct Pass {
    value: Vec<f64>,
    corner: Vec<f64>,
    lines: Vec<Option<Lines>>,
}

/// Slopes for the forms `f` over position `top` (DeepPoly's to start, the best seen per form).
fn optimise(net: &Network, nb: &NetworkBounds, top: usize, f: &Forms) -> Vec<Option<Vec<f64>>> {
    let rows = f.rows();
    let mut alpha: Vec<Option<Vec<f64>>> = (0..top)
        .map(|k| {
            matches!(net.layers[k].layer, Layer::Relu).then(|| {
                let z = nb.position(k);
                let start: Vec<f64> =
                    z.lower.iter().zip(&z.upper).map(|(&l, &u)| symbolic::relu_lower_slope(l, u)).collect();
                start.repeat(rows)
            })
        })
        .collect();
    let mut best = alpha.clone();
    let mut best_value = vec![f64::NEG_INFINITY; rows];
    let mut adam: Vec<Option<(Vec<f64>, Vec<f64>)>> =
        alpha.iter().map(|a| a.as_ref().map(|a| (vec![0.0; a.len()], vec![0.0; a.len()]))).collect();
    for t in 1..=ITERATIONS {
        let pass = backward(net, nb, top, f, &alpha);
        for r in 0..rows {
            if pass.value[r] <= best_value[r] {
                continue;
            }
            best_value[r] = pass.value[r];
            for (b, a) in best.iter_mut().zip(&alpha) {
                if let (Some(b), Some(a)) = (b, a) {
                    let n = a.len() / rows;
                    b[r * n..(r + 1) * n].copy_from_slice(&a[r * n..(r + 1) * n]);
                }
            }
        }
        if t == ITERATIONS {
            break;
        }
        let grad = gradient(net, nb, top, rows, &pass);
        for ((a, g), m) in alpha.iter_mut().zip(&grad).zip(&mut adam) {
            if let (Some(a), Some(g), Some((m, v))) = (a, g, m) {
                adam_ascent(a, g, m, v, t);
            }
        }
    }
    best
}

/// One Adam step up the gradient, projected on [0, 1].
fn adam_ascent(a: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64], t: usize) {
    let (b1, b2) = (0.9f64, 0.999f64);
    let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
    for i in 0..a.len() {
        if g[i] == 0.0 && m[i] == 0.0 {
            continue;
        }
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        a[i] = (a[i] + STEP * (m[i] / c1) / ((v[i] / c2).sqrt() + 1e-12)).clamp(0.0, 1.0);
    }
}

/// Back-substitutes the forms to the input with slopes `alpha` and concretises them.
fn backward(net: &Network, nb: &NetworkBounds, top: usize, f: &Forms, alpha: &[Option<Vec<f64>>]) -> Pass {
    let rows = f.rows();
    let (mut lam, mut width, mut constant) = (f.coeffs.clone(), f.cols, f.constant.clone());
    let mut lines: Vec<Option<Lines>> = (0..top).map(|_| None).collect();
    for k in (0..top).rev() {
        let z = nb.position(k);
        let n_in = z.len();
        match &net.layers[k].layer {
            Layer::Affine(a) => {
                let mut next = vec![0.0; rows * n_in];
                for r in 0..rows {
                    let out = &mut next[r * n_in..(r + 1) * n_in];
                    for (i, &l) in lam[r * width..(r + 1) * width].iter().enumerate().filter(|(_, l)| **l != 0.0) {
                        a.weights.add_scaled_row(i, l, out);
                        constant[r] += l * a.bias[i];
                    }
                }
                lam = next;
            }
            Layer::Relu => {
                let slopes = alpha[k].as_deref().unwrap_or_default();
                let mut chosen =
                    Lines { slope: vec![0.0; lam.len()], intercept: vec![0.0; lam.len()], nu: lam.clone() };
                for (idx, l) in lam.iter_mut().enumerate() {
                    let i = idx % n_in;
                    let (lo, hi) = (z.lower[i], z.upper[i]);
                    let (s, t) = match () {
                        _ if hi <= 0.0 => (0.0, 0.0),
                        _ if lo >= 0.0 => (1.0, 0.0),
                        _ if *l >= 0.0 => (slopes[idx], 0.0),
                        _ => relu_upper_line(lo, hi),
                    };
                    constant[idx / n_in] += *l * t;
                    *l *= s;
                    (chosen.slope[idx], chosen.intercept[idx]) = (s, t);
                }
                lines[k] = Some(chosen);
            }
            Layer::IndexMap(m) => {
                let mut next = vec![0.0; rows * n_in];
                for r in 0..rows {
                    for (kk, j) in m.map.iter().enumerate() {
                        if let Some(j) = j {
                            next[r * n_in + j] += lam[r * width + kk];
                        }
                    }
                }
                lam = next;
            }
            Layer::MaxPool(_) => unreachable!("`applies` admits no max-pool below the top"),
        }
        width = n_in;
    }
    let x = &nb.input;
    let mut corner = vec![0.0; lam.len()];
    let value = (0..rows)
        .map(|r| {
            let mut v = constant[r];
            for j in 0..width {
                let (l, c) = (lam[r * width + j], &mut corner[r * width + j]);
                *c = if l >= 0.0 { x.lower[j] } else { x.upper[j] };
                v += l * *c;
            }
            v
        })
        .collect();
    Pass { value, corner, lines }
}

/// The gradient of each form's bound in its slopes: `ν·ẑ` for every slope the pass used, with
/// `ẑ` the ReLU's input in the pass's linear network evaluated at the form's corner.
fn gradient(net: &Network, nb: &NetworkBounds, top: usize, rows: usize, pass: &Pass) -> Vec<Option<Vec<f64>>> {
    let n0 = nb.input.len();
    let mut grad: Vec<Option<Vec<f64>>> =
        pass.lines.iter().map(|l| l.as_ref().map(|l| vec![0.0; l.slope.len()])).collect();
    // the forward pass stops at the last ReLU below the top
    let depth = pass.lines.iter().rposition(Option::is_some).map_or(0, |k| k + 1).min(top);
    for r in 0..rows {
        let mut v = pass.corner[r * n0..(r + 1) * n0].to_vec();
        for (k, (node, lines)) in net.layers[..depth].iter().zip(&pass.lines).enumerate() {
            match (&node.layer, lines, &mut grad[k]) {
                (Layer::Relu, Some(lines), Some(g)) => {
                    let n = v.len();
                    let z = nb.position(k);
                    for (i, vi) in v.iter_mut().enumerate() {
                        let idx = r * n + i;
                        if z.lower[i] < 0.0 && z.upper[i] > 0.0 && lines.nu[idx] >= 0.0 {
                            g[idx] = lines.nu[idx] * *vi;
                        }
                        *vi = lines.slope[idx] * *vi + lines.intercept[idx];
                    }
                }
                (Layer::Affine(a), _, _) => {
                    v = (0..a.bias.len()).map(|i| a.weights.row_dot(i, &v) + a.bias[i]).collect()
                }
                (layer, _, _) => v = layer.apply(&v),
            }
        }
    }
    grad
}
