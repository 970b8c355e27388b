//! Symbolic bounds on A − B (NeuroDiff-style): linear forms over the pair (Δh, h_B) of a layer,
//! back-substituted through both networks at once down to their shared input, outward rounded.
//!
//! At an affine pair `λΔ·Δz + λB·z_B = λΔ·z_A + (λB − λΔ)·z_B` with `z_A = W_A·(Δh + h_B) + b_A`,
//! so the weight difference is never formed and through neurons stable in both networks the form
//! stays exact: A − B is bounded as one function of the input, not as A and B apart.

use crate::bounds::symbolic::{relu_upper_line, Forms, Rewrite, UNIT};
use crate::bounds::{curve, interval, Interval, NetworkBounds};
use crate::ir::{Affine, Layer, Network};
use crate::round::{gamma, magnitude, two_sum, Acc};

/// Two networks of the same layer structure and their bounds on one input box.
pub(super) struct Pair<'a> {
    pub a: &'a Network,
    pub b: &'a Network,
    pub ba: &'a NetworkBounds,
    pub bb: &'a NetworkBounds,
}

/// What rewriting a form over layer `k` needs besides the form, computed once per layer (when
/// the bounds of `A − B` at position `k` are final): the magnitudes of Δh and h_B at its input
/// and, for an affine pair, the row magnitudes `|W_A|·|Δh|`, `|W_A|·|h_B|`, `|W_B|·|h_B|` (each
/// plus its bias).
pub(super) struct Magnitudes {
    delta: Vec<f64>,
    b: Vec<f64>,
    affine: Option<[Vec<f64>; 3]>,
}

impl Magnitudes {
    /// For layer `k`, given `d`, the final bounds of `A − B` at its input.
    pub(super) fn new(pair: &Pair, d: &Interval, k: usize) -> Magnitudes {
        let hb = pair.bb.position(k);
        let rows = |a: &Affine, x: &Interval| (0..a.weights.rows()).map(|i| interval::row_magnitude(a, i, x)).collect();
        let affine = match (&pair.a.layers[k].layer, &pair.b.layers[k].layer) {
            (Layer::Affine(wa), Layer::Affine(wb)) => Some([rows(wa, d), rows(wa, hb), rows(wb, hb)]),
            _ => None,
        };
        Magnitudes { delta: magnitudes(d), b: magnitudes(hb), affine }
    }
}

const BLOCK: usize = 16;

/// Bounds of `A − B` on rows `rows` of position `top`, given bounds `deltas[p]` of `A − B` at
/// every position `p ≤ top` and each layer's `Magnitudes` below `top`; `(row, lower, upper)` for
/// each (infinite when a layer pair has no joint rule).
pub(super) fn rows_at(
    pair: &Pair,
    deltas: &[Interval],
    mags: &[Magnitudes],
    top: usize,
    rows: &[usize],
) -> Vec<(usize, f64, f64)> {
    let n = deltas[top].len();
    let blocks: Vec<&[usize]> = rows.chunks(BLOCK).collect();
    let per_block = crate::par::map(&blocks, |block| {
        let unit = |sign: f64| {
            let mut coeffs = vec![0.0; block.len() * 2 * n];
            for (r, &i) in block.iter().enumerate() {
                coeffs[r * 2 * n + i] = sign;
            }
            Forms { cols: 2 * n, coeffs, constant: vec![0.0; block.len()], error: vec![0.0; block.len()] }
        };
        let lower = lower_bounds(pair, deltas, mags, top, unit(1.0));
        let upper = lower_bounds(pair, deltas, mags, top, unit(-1.0));
        block.iter().zip(lower.into_iter().zip(upper)).map(|(&i, (l, u))| (i, l, -u)).collect::<Vec<_>>()
    });
    per_block.into_iter().flatten().collect()
}

/// Sound lower bounds of forms over position `top`, row by row (−∞ when a layer pair has no
/// joint rule).
pub(super) fn lower_bounds(
    pair: &Pair,
    deltas: &[Interval],
    mags: &[Magnitudes],
    top: usize,
    mut f: Forms,
) -> Vec<f64> {
    for k in (0..top).rev() {
        match step(pair, deltas, &mags[k], k, &f) {
            Some(next) => f = next,
            None => return vec![f64::NEG_INFINITY; f.rows()],
        }
    }
    // at the input Δ is exactly 0: only the B half (over the input itself) remains
    let n = f.cols / 2;
    let coeffs = (0..f.rows()).flat_map(|r| f.row(r)[n..].to_vec()).collect();
    let over_input = Forms { cols: n, coeffs, constant: f.constant, error: f.error };
    Forms::concretize_sum(&[&over_input], &pair.bb.input)
}

fn magnitudes(x: &Interval) -> Vec<f64> {
    x.lower.iter().zip(&x.upper).map(|(&l, &u)| magnitude(l, u)).collect()
}

/// Rewrites forms over (Δ, h_B) at position `k + 1` as forms over (Δ, h_B) at position `k`.
fn step(pair: &Pair, deltas: &[Interval], mags: &Magnitudes, k: usize, f: &Forms) -> Option<Forms> {
    let (la, lb) = (&pair.a.layers[k].layer, &pair.b.layers[k].layer);
    let (d, hb) = (&deltas[k], pair.bb.position(k));
    let (n, n_out) = (d.len(), f.cols / 2);
    let (mag_d, mag_b) = (&mags.delta, &mags.b);
    let rows = f.rows();
    let lines: Vec<_> =
        (lb.curves(hb.len()).zip(hb.lower.iter().zip(&hb.upper))).map(|(g, (&l, &u))| curve::lines(g, l, u)).collect();
    let mut out = Forms { cols: 2 * n, coeffs: vec![0.0; rows * 2 * n], constant: Vec::new(), error: Vec::new() };
    for r in 0..rows {
        let (lam_d, lam_b) = f.row(r).split_at(n_out);
        let (out_d, out_b) = out.coeffs[r * 2 * n..(r + 1) * 2 * n].split_at_mut(n);
        let (mut c, mut err) = (Acc::new(f.constant[r]), Acc::new(f.error[r]));
        match (la, lb, &mags.affine) {
            (Layer::Affine(wa), Layer::Affine(wb), Some(mags)) => {
                let z_b = pair.bb.position(k + 1);
                affine(AffinePair { wa, wb, mags, z_b }, lam_d, lam_b, out_d, out_b, (&mut c, &mut err));
            }
            (Layer::Relu, Layer::Relu, _) => {
                let mut w = Rewrite { out: out_b, c, err };
                w.relu(pair.bb.position(k), lam_b, mag_b);
                let mut w = Rewrite { out: out_d, c: w.c, err: w.err };
                w.relu_difference([d, pair.ba.position(k), pair.bb.position(k)], lam_d, mag_d);
                (c, err) = (w.c, w.err);
            }
            (Layer::MaxPool(p), Layer::MaxPool(q), _) if p == q => {
                let mut w = Rewrite { out: out_b, c, err };
                w.max_pool(p, hb, lam_b, mag_b);
                // the difference of two maxima is not linear: its box, as a constant
                w.add_box(lam_d, &deltas[k + 1]);
                (c, err) = (w.c, w.err);
            }
            (Layer::SShaped(_), Layer::SShaped(_), _) | (Layer::Power(_), Layer::Power(_), _) if la == lb => {
                let mut w = Rewrite { out: out_b, c, err };
                w.curve(&lines, lam_b, mag_b);
                // nor is the difference of two curves' values: its box, as a constant
                w.add_box(lam_d, &deltas[k + 1]);
                (c, err) = (w.c, w.err);
            }
            (Layer::IndexMap(m), Layer::IndexMap(q), _) if m == q => {
                let mut w = Rewrite { out: out_b, c, err };
                w.index_map(m, lam_b, mag_b);
                let mut w = Rewrite { out: out_d, c: w.c, err: w.err };
                w.index_map(m, lam_d, mag_d);
                (c, err) = (w.c, w.err);
            }
            _ => return None,
        }
        let (cv, ce) = c.value_and_error();
        out.constant.push(cv);
        out.error.push(err.upper() + ce);
    }
    Some(out)
}

/// An affine pair with the row magnitudes `|W_A|·|Δh|`, `|W_A|·|h_B|`, `|W_B|·|h_B|` (each plus
/// its bias) and the box of B's output `z_B`.
struct AffinePair<'a> {
    wa: &'a Affine,
    wb: &'a Affine,
    mags: &'a [Vec<f64>; 3],
    z_b: &'a Interval,
}

/// `λΔ·z_A + μ·z_B` with `μ = λB − λΔ` (TwoSum: its rounding error times |z_B| is charged) and
/// `z_A = W_A·Δh + W_A·h_B + b_A`, `z_B = W_B·h_B + b_B`. B's coefficients sum up to twice as
/// many products as A's, which the error bound counts.
fn affine(
    p: AffinePair,
    lam_d: &[f64],
    lam_b: &[f64],
    out_d: &mut [f64],
    out_b: &mut [f64],
    acc: (&mut Acc, &mut Acc),
) {
    let (c, err) = acc;
    let (g_d, g_b) = (gamma(p.wa.weights.rows()), gamma(2 * p.wa.weights.rows()));
    for (i, (&l, &lb)) in lam_d.iter().zip(lam_b).enumerate() {
        let (mu, e) = two_sum(lb, -l);
        if l != 0.0 {
            let (cols, vals) = p.wa.weights.row(i);
            for (&j, &w) in cols.iter().zip(vals) {
                let lw = l * w;
                out_d[j as usize] += lw;
                out_b[j as usize] += lw;
            }
            c.add(l, p.wa.bias[i]);
            err.add(l.abs(), g_d * p.mags[0][i] + g_b * p.mags[1][i]);
        }
        if mu != 0.0 {
            let (cols, vals) = p.wb.weights.row(i);
            for (&j, &w) in cols.iter().zip(vals) {
                out_b[j as usize] += mu * w;
            }
            c.add(mu, p.wb.bias[i]);
            err.add(mu.abs(), g_b * p.mags[2][i]);
        }
        if e != 0.0 {
            err.add(e.abs(), magnitude(p.z_b.lower[i], p.z_b.upper[i]));
        }
    }
}

/// A line `y = s·Δz + t` (exact in real arithmetic).
pub type Line = (f64, f64);

const IDENTITY: Line = (1.0, 0.0);
const ZERO: Line = (0.0, 0.0);

/// Lines below and above `relu(z_A) − relu(z_B)` as functions of `Δz = z_A − z_B ∈ [dl, du]`,
/// the tightest that applies first: below, `Δz` where B is active (the difference is
/// `max(Δz, −z_B)`), 0 where B is inactive (it is `relu(z_A)`); above, `Δz` where A is active
/// (`min(Δz, z_A)`), 0 where A is inactive (`−relu(z_B)`); else, as the difference always lies
/// between `min(0, Δz)` and `max(0, Δz)` (ReLU is monotone and 1-Lipschitz), those functions
/// where Δz's sign is known and their chords over `[dl, du]` where it is not. Both lines are `Δz`
/// where both networks are active, 0 where both are inactive.
pub fn difference_lines(dl: f64, du: f64, za: (f64, f64), zb: (f64, f64)) -> (Line, Line) {
    let lower = if zb.0 >= 0.0 {
        IDENTITY
    } else if zb.1 <= 0.0 || dl >= 0.0 {
        ZERO
    } else if du <= 0.0 {
        IDENTITY
    } else {
        // min(0, Δz) = −max(0, −Δz) ≥ −(s·(−Δz) + t)
        let (s, t) = relu_upper_line(-du, -dl);
        (s, -t)
    };
    let upper = if za.0 >= 0.0 {
        IDENTITY
    } else if za.1 <= 0.0 || du <= 0.0 {
        ZERO
    } else if dl >= 0.0 {
        IDENTITY
    } else {
        relu_upper_line(dl, du)
    };
    (lower, upper)
}

impl Rewrite<'_> {
    /// `λ·(relu(z_A) − relu(z_B))` over `Δz`: exact where both phases are fixed and equal,
    /// else the lower line for λ > 0 and the upper line for λ < 0. `boxes`: Δz, z_A, z_B.
    fn relu_difference(&mut self, boxes: [&Interval; 3], lam: &[f64], mag: &[f64]) {
        let [d, za, zb] = boxes;
        for (i, &l) in lam.iter().enumerate() {
            if l == 0.0 {
                continue;
            }
            let (lower, upper) =
                difference_lines(d.lower[i], d.upper[i], (za.lower[i], za.upper[i]), (zb.lower[i], zb.upper[i]));
            let (s, t) = if l > 0.0 { lower } else { upper };
            if s == 0.0 && t == 0.0 {
                continue;
            }
            self.out[i] = l * s;
            self.c.add(l, t);
            if s != 1.0 {
                self.err.add(UNIT * self.out[i].abs(), mag[i]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line pair encloses `relu(za) − relu(zb)` on a grid of compatible points.
    #[test]
    fn lines_enclose_the_relu_difference() {
        let boxes = [(-1.0, 2.0), (-2.0, -0.5), (0.5, 3.0), (-0.3, 0.2), (1.0, 1.5)];
        for &za in &boxes {
            for &zb in &boxes {
                for &(dl, du) in &[(-0.4, 0.3), (0.1, 0.6), (-0.7, -0.05), (-3.0, 3.0)] {
                    let (lo, hi) = difference_lines(dl, du, za, zb);
                    for i in 0..=40 {
                        for j in 0..=40 {
                            let a = za.0 + (za.1 - za.0) * i as f64 / 40.0;
                            let b = zb.0 + (zb.1 - zb.0) * j as f64 / 40.0;
                            let dz = a - b;
                            if dz < dl || dz > du {
                                continue;
                            }
                            let v = a.max(0.0) - b.max(0.0);
                            assert!(lo.0 * dz + lo.1 <= v + 1e-12, "{za:?} {zb:?} [{dl},{du}] {dz}: {v} < {lo:?}");
                            assert!(hi.0 * dz + hi.1 >= v - 1e-12, "{za:?} {zb:?} [{dl},{du}] {dz}: {v} > {hi:?}");
                        }
                    }
                }
            }
        }
    }
}
