//! Optimised ReLU slopes (α-CROWN style): per bounded neuron, the lower slopes of the unstable
//! ReLUs below it, and multipliers of the stable ones' known signs (β-CROWN style: a branch and
//! bound split is such a sign), are chosen by projected gradient ascent on its back-substituted
//! bound.
//!
//! The search runs in plain f64 and only picks them; every slope in [0, 1] gives a valid lower
//! line and every multiplier ≥ 0 a valid lower form, and the bound that is kept is recomputed
//! with the choice by `symbolic` (outward rounding), so the search's own arithmetic never reaches
//! a printed bound.

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
    let choice = optimise(net, nb, top, &f);
    symbolic::backsubstitute_chosen(net, nb, top, f, &choice.slopes, &choice.signs)
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

/// What the search chooses per ReLU layer, row-major (one per form and neuron): lower slopes of
/// the unstable neurons and multipliers of the stable neurons' sign constraints.
#[derive(Clone)]
struct Choice {
    slopes: Vec<Option<Vec<f64>>>,
    signs: Vec<Option<Vec<f64>>>,
}

impl Choice {
    /// Copies form `r`'s choices from `other`.
    fn copy_row(&mut self, other: &Choice, r: usize, rows: usize) {
        let pairs = self.slopes.iter_mut().zip(&other.slopes).chain(self.signs.iter_mut().zip(&other.signs));
        for (b, a) in pairs {
            if let (Some(b), Some(a)) = (b, a) {
                let n = a.len() / rows;
                b[r * n..(r + 1) * n].copy_from_slice(&a[r * n..(r + 1) * n]);
            }
        }
    }
}

/// Slopes and sign multipliers for the forms `f` over position `top` (DeepPoly's slopes and no
/// multipliers to start, the best seen per form).
fn optimise(net: &Network, nb: &NetworkBounds, top: usize, f: &Forms) -> Choice {
    let rows = f.rows();
    let per_relu = |init: &dyn Fn(f64, f64) -> f64| -> Vec<Option<Vec<f64>>> {
        (0..top)
            .map(|k| {
                matches!(net.layers[k].layer, Layer::Relu).then(|| {
                    let z = nb.position(k);
                    let start: Vec<f64> = z.lower.iter().zip(&z.upper).map(|(&l, &u)| init(l, u)).collect();
                    start.repeat(rows)
                })
            })
            .collect()
    };
    let mut choice = Choice { slopes: per_relu(&symbolic::relu_lower_slope), signs: per_relu(&|_, _| 0.0) };
    let mut best = choice.clone();
    let mut best_value = vec![f64::NEG_INFINITY; rows];
    let moments = |v: &[Option<Vec<f64>>]| -> Vec<Option<Adam>> {
        v.iter().map(|a| a.as_ref().map(|a| Adam { m: vec![0.0; a.len()], v: vec![0.0; a.len()] })).collect()
    };
    let (mut adam_slopes, mut adam_signs) = (moments(&choice.slopes), moments(&choice.signs));
    for t in 1..=ITERATIONS {
        let pass = backward(net, nb, top, f, &choice);
        for (r, (&value, best_r)) in pass.value.iter().zip(&mut best_value).enumerate() {
            if value > *best_r {
                *best_r = value;
                best.copy_row(&choice, r, rows);
            }
        }
        if t == ITERATIONS {
            break;
        }
        let (grad_slopes, grad_signs) = gradient(net, nb, top, rows, &pass);
        let steps = (choice.slopes.iter_mut().zip(&grad_slopes).zip(&mut adam_slopes).map(|(p, m)| (p, m, 1.0)))
            .chain(choice.signs.iter_mut().zip(&grad_signs).zip(&mut adam_signs).map(|(p, m)| (p, m, f64::INFINITY)));
        for ((a, g), m, limit) in steps {
            if let (Some(a), Some(g), Some(m)) = (a, g, m) {
                m.ascend(a, g, t, limit);
            }
        }
    }
    best
}

/// Adam's moment estimates for one vector of parameters.
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
}

impl Adam {
    /// One step up the gradient `g`, projected on [0, limit].
    fn ascend(&mut self, a: &mut [f64], g: &[f64], t: usize, limit: f64) {
        let (b1, b2) = (0.9f64, 0.999f64);
        let (c1, c2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
        let (m, v) = (&mut self.m, &mut self.v);
        for i in 0..a.len() {
            if g[i] == 0.0 && m[i] == 0.0 {
                continue;
            }
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            a[i] = (a[i] + STEP * (m[i] / c1) / ((v[i] / c2).sqrt() + 1e-12)).clamp(0.0, limit);
        }
    }
}

/// Back-substitutes the forms to the input with `choice` and concretises them.
fn backward(net: &Network, nb: &NetworkBounds, top: usize, f: &Forms, choice: &Choice) -> Pass {
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
                let slopes = choice.slopes[k].as_deref().unwrap_or_default();
                let signs = choice.signs[k].as_deref().unwrap_or_default();
                let mut chosen =
                    Lines { slope: vec![0.0; lam.len()], intercept: vec![0.0; lam.len()], nu: lam.clone() };
                for (idx, l) in lam.iter_mut().enumerate() {
                    let i = idx % n_in;
                    let (lo, hi) = (z.lower[i], z.upper[i]);
                    let (s, t, sign) = match () {
                        _ if hi <= 0.0 => (0.0, 0.0, -1.0),
                        _ if lo >= 0.0 => (1.0, 0.0, 1.0),
                        _ if *l >= 0.0 => (slopes[idx], 0.0, 0.0),
                        _ => {
                            let (s, t) = relu_upper_line(lo, hi);
                            (s, t, 0.0)
                        }
                    };
                    constant[idx / n_in] += *l * t;
                    *l = *l * s - sign * signs[idx];
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
            Layer::MaxPool(_)
            | Layer::SShaped(_)
            | Layer::Power(_)
            | Layer::Step(_)
            | Layer::Softmax(_)
            | Layer::Product(_) => {
                unreachable!("`applies` admits no max-pool, element-wise curve, softmax or product below the top")
            }
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

/// The gradient of each form's bound in its slopes and sign multipliers: `ν·ẑ` for every slope
/// the pass used and `∓ẑ` for the multiplier of `±z ≥ 0`, with `ẑ` the ReLU's input in the
/// pass's linear network evaluated at the form's corner.
type Gradient = (Vec<Option<Vec<f64>>>, Vec<Option<Vec<f64>>>);

fn gradient(net: &Network, nb: &NetworkBounds, top: usize, rows: usize, pass: &Pass) -> Gradient {
    let n0 = nb.input.len();
    let zeros = || -> Vec<Option<Vec<f64>>> {
        pass.lines.iter().map(|l| l.as_ref().map(|l| vec![0.0; l.slope.len()])).collect()
    };
    let (mut grad, mut grad_signs) = (zeros(), zeros());
    // the forward pass stops at the last ReLU below the top
    let depth = pass.lines.iter().rposition(Option::is_some).map_or(0, |k| k + 1).min(top);
    for r in 0..rows {
        let mut v = pass.corner[r * n0..(r + 1) * n0].to_vec();
        for (k, (node, lines)) in net.layers[..depth].iter().zip(&pass.lines).enumerate() {
            match (&node.layer, lines, &mut grad[k], &mut grad_signs[k]) {
                (Layer::Relu, Some(lines), Some(g), Some(gs)) => {
                    let n = v.len();
                    let z = nb.position(k);
                    for (i, vi) in v.iter_mut().enumerate() {
                        let idx = r * n + i;
                        if z.upper[i] <= 0.0 {
                            gs[idx] = *vi;
                        } else if z.lower[i] >= 0.0 {
                            gs[idx] = -*vi;
                        } else if lines.nu[idx] >= 0.0 {
                            g[idx] = lines.nu[idx] * *vi;
                        }
                        *vi = lines.slope[idx] * *vi + lines.intercept[idx];
                    }
                }
                (Layer::Affine(a), ..) => v = (0..a.bias.len()).map(|i| a.weights.row_dot(i, &v) + a.bias[i]).collect(),
                (layer, ..) => v = layer.apply(&v),
            }
        }
    }
    (grad, grad_signs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::{propagate_within, Interval};
    use crate::ir::{LayerNode, SparseMatrix};

    /// x ∈ [−1, 1] → z = x → relu → out = 2·relu(z) − 0.5 (a chain: layer, relu, layer).
    fn net() -> Network {
        let affine = |w: f64, b: f64| LayerNode {
            output_shape: vec![1, 1],
            layer: Layer::Affine(Affine { weights: SparseMatrix::from_dense(1, 1, &[w]), bias: vec![b] }),
            origin: vec![],
        };
        let relu = LayerNode { layer: Layer::Relu, output_shape: vec![1, 1], origin: vec![] };
        Network {
            name: "t".into(),
            input_shape: vec![1, 1],
            layers: vec![affine(1.0, 0.0), relu, affine(2.0, -0.5)],
            notes: vec![],
        }
    }

    fn lower(net: &Network, nb: &NetworkBounds, sign: f64) -> f64 {
        let f = Forms { cols: 1, coeffs: vec![sign], constant: vec![0.0], error: vec![0.0] };
        Forms::concretize_sum(&[&backsubstitute(net, nb, 3, f)], &nb.input)[0]
    }

    /// A node that fixes z ≥ 0 (its bounds clamped at 0, as the branch and bound does): with the
    /// ReLU stable the plain pass forgets x ≥ 0 and bounds `out` by 2·(−1) − 0.5; the sign
    /// multiplier of `z ≥ 0` brings it to the true minimum −0.5 (within Adam's last step), never
    /// above it. The node z ≤ 0, where `out` is −0.5, and the upper side stay exact.
    #[test]
    fn sign_multipliers_use_a_split_and_stay_sound() {
        let net = net();
        let region = Interval { lower: vec![-1.0], upper: vec![1.0] };
        let root = crate::bounds::propagate(&net, &region, crate::bounds::Method::Symbolic, None).unwrap();
        let mut active = root.clone();
        active.layers[0].lower[0] = 0.0;
        let active = propagate_within(&net, &active, 1).unwrap();
        let low = lower(&net, &active, 1.0);
        let plain = Forms::concretize_sum(
            &[&symbolic::backsubstitute(
                &net,
                &active,
                3,
                Forms { cols: 1, coeffs: vec![1.0], constant: vec![0.0], error: vec![0.0] },
            )],
            &active.input,
        )[0];
        assert!(plain < -2.4, "the plain pass should not see the split: {plain}");
        assert!((-0.7..=-0.5).contains(&low), "multiplier bound {low}, true minimum −0.5");
        assert!(-lower(&net, &active, -1.0) >= 1.5, "upper bound below the true maximum 1.5");
        let mut inactive = root;
        inactive.layers[0].upper[0] = 0.0;
        let inactive = propagate_within(&net, &inactive, 1).unwrap();
        assert!((-0.5 - 1e-12..=-0.5).contains(&lower(&net, &inactive, 1.0)));
    }
}
