//! Symbolic bounds by back-substitution (DeepPoly/CROWN style): linear lower bounds of linear
//! forms over a layer, rewritten layer by layer down to the input and concretised over the box.
//!
//! Only lower bounds are computed; an upper bound of `f` is `−lower(−f)`. Each back-substitution
//! step also bounds its own rounding error: the exact real form differs from the computed one by
//! at most `error`, which is subtracted when the form is concretised (see `round`).

use super::curve::{self, Line};
use super::{interval, product, Interval, NetworkBounds};
use crate::ir::{Affine, IndexMap, Layer, MaxPool, Network, Product};
use crate::round::{gamma, magnitude, two_sum, Acc};

pub(super) const UNIT: f64 = 2.220446049250313e-16; // 2u: one rounding of a product, doubled

/// Linear forms `Λ·v + c` over the vector at one position of the network, each with a bound
/// `error` on how far the computed form may lie above a true lower bound.
#[derive(Clone, Debug)]
pub struct Forms {
    pub cols: usize,
    /// Row-major `rows × cols` coefficients.
    pub coeffs: Vec<f64>,
    pub constant: Vec<f64>,
    pub error: Vec<f64>,
}

impl Forms {
    pub fn rows(&self) -> usize {
        self.constant.len()
    }

    pub fn row(&self, r: usize) -> &[f64] {
        &self.coeffs[r * self.cols..(r + 1) * self.cols]
    }

    pub fn negated(&self) -> Forms {
        Forms {
            cols: self.cols,
            coeffs: self.coeffs.iter().map(|v| -v).collect(),
            constant: self.constant.iter().map(|v| -v).collect(),
            error: self.error.clone(),
        }
    }

    /// The row-wise sum of forms over the same vector, whose box is `x`; the rounding of each
    /// added coefficient is charged to the error.
    pub fn sum(parts: &[&Forms], x: &Interval) -> Forms {
        let first = parts[0];
        let mut out =
            Forms { cols: first.cols, coeffs: vec![0.0; first.coeffs.len()], constant: Vec::new(), error: Vec::new() };
        for r in 0..first.rows() {
            let mut c = Acc::new(0.0);
            let mut err = Acc::new(0.0);
            for p in parts {
                c.add(p.constant[r], 1.0);
                err.add(p.error[r], 1.0);
            }
            for j in 0..first.cols {
                // TwoSum gives each addition's exact error: exact cancellations cost nothing
                let (mut v, mut lost) = (0.0, 0.0);
                for p in parts {
                    let (s, e) = two_sum(v, p.row(r)[j]);
                    v = s;
                    lost += e.abs();
                }
                out.coeffs[r * first.cols + j] = v;
                err.add(lost * (1.0 + gamma(parts.len())), magnitude(x.lower[j], x.upper[j]));
            }
            let (cv, ce) = c.value_and_error();
            out.constant.push(cv);
            out.error.push(err.upper() + ce);
        }
        out
    }

    /// Sound lower bounds of `Σ_parts` row by row over a box (all parts over the same vector).
    pub fn concretize_sum(parts: &[&Forms], x: &Interval) -> Vec<f64> {
        let rows = parts.first().map_or(0, |p| p.rows());
        (0..rows)
            .map(|r| {
                let mut acc = Acc::new(0.0);
                for p in parts {
                    acc.add(p.constant[r], 1.0);
                    acc.add_error(p.error[r]);
                }
                for j in 0..x.lower.len() {
                    let total: f64 = parts.iter().map(|p| p.row(r)[j]).sum();
                    let v = if total >= 0.0 { x.lower[j] } else { x.upper[j] };
                    for p in parts {
                        acc.add(p.row(r)[j], v);
                    }
                }
                acc.lower()
            })
            .collect()
    }
}

/// The upper line `y ≤ s·z + t` of an unstable ReLU on `[l, u]`, rounded so that it stays above
/// the ReLU at both ends (hence everywhere on the interval) in exact arithmetic.
pub fn relu_upper_line(l: f64, u: f64) -> (f64, f64) {
    let s = u / (u - l);
    let through_l = (-(s * l)).next_up();
    let through_u = (u - (s * u).next_down()).next_up();
    (s, through_l.max(through_u))
}

/// DeepPoly's adaptive lower slope of an unstable ReLU: 1 when the positive part dominates.
pub fn relu_lower_slope(l: f64, u: f64) -> f64 {
    if u > -l {
        1.0
    } else {
        0.0
    }
}

/// What a back-substitution may choose at one ReLU layer, row-major (one per form and neuron):
/// the lower slopes of its unstable neurons (each in [0, 1]) and the multipliers (≥ 0) of its
/// stable neurons' sign constraints (`z ≥ 0` where the bounds make it active, `z ≤ 0` inactive).
#[derive(Clone, Copy, Default)]
pub struct ReluChoice<'a> {
    pub slopes: Option<&'a [f64]>,
    pub signs: Option<&'a [f64]>,
}

impl<'a> ReluChoice<'a> {
    fn row(&self, r: usize, n: usize) -> ReluChoice<'a> {
        let part = |v: Option<&'a [f64]>| v.map(|s| &s[r * n..(r + 1) * n]);
        ReluChoice { slopes: part(self.slopes), signs: part(self.signs) }
    }
}

/// Rewrites forms over the output of layer `layer` (position `layer + 1`) as forms over its
/// input, using the bounds of that input; a ReLU layer takes `choice` where given.
fn step(layer: &Layer, input: &Interval, f: Forms, choice: ReluChoice) -> Forms {
    let n_in = input.lower.len();
    let rows = f.rows();
    let mut coeffs = vec![0.0; rows * n_in];
    let mut constant = Vec::with_capacity(rows);
    let mut error = Vec::with_capacity(rows);
    // input magnitudes; for an affine layer, row magnitudes computed once and only where used
    let mut mag: Vec<f64> = match layer {
        Layer::Affine(a) => vec![f64::NAN; a.weights.rows()],
        _ => input.lower.iter().zip(&input.upper).map(|(&l, &u)| magnitude(l, u)).collect(),
    };
    // an element-wise curve's lines depend on the neuron only: computed once for every form
    let lines: Vec<(Line, Line)> = (layer.curves(n_in).zip(input.lower.iter().zip(&input.upper)))
        .map(|(f, (&l, &u))| curve::lines(f, l, u))
        .collect();
    let (out_box, grouped) = match layer {
        Layer::Softmax(s) => (super::softmax::interval(s, input), s.grouped(n_in)),
        _ => (Interval::default(), Vec::new()),
    };
    for r in 0..rows {
        let lam = f.row(r);
        let mut w = Rewrite {
            out: &mut coeffs[r * n_in..(r + 1) * n_in],
            c: Acc::new(f.constant[r]),
            err: Acc::new(f.error[r]),
        };
        match layer {
            Layer::Affine(a) => w.affine(a, input, lam, &mut mag),
            Layer::Relu => w.relu_chosen(input, lam, &mag, choice.row(r, n_in)),
            Layer::SShaped(_) | Layer::Power(_) | Layer::Step(_) => w.curve(&lines, lam, &mag),
            Layer::Softmax(_) => w.softmax(&grouped, lam, &out_box),
            Layer::Product(p) => w.product(p, input, lam, &mag),
            Layer::MaxPool(p) => w.max_pool(p, input, lam, &mag),
            Layer::IndexMap(m) => w.index_map(m, lam, &mag),
        }
        let (cv, ce) = w.c.value_and_error();
        constant.push(cv);
        error.push(w.err.upper() + ce);
    }
    Forms { cols: n_in, coeffs, constant, error }
}

/// One form `λ` being rewritten over a layer's input: its new coefficients, its constant and
/// the bound on its rounding error.
pub(super) struct Rewrite<'a> {
    pub(super) out: &'a mut [f64],
    pub(super) c: Acc,
    pub(super) err: Acc,
}

impl Rewrite<'_> {
    /// `λ·(Wx + b)`; `mag[i]`, row i's magnitude over the input, is computed on first use.
    fn affine(&mut self, a: &Affine, input: &Interval, lam: &[f64], mag: &mut [f64]) {
        for (i, &l) in lam.iter().enumerate() {
            if l == 0.0 {
                continue;
            }
            let (cols, vals) = a.weights.row(i);
            for (&j, &w) in cols.iter().zip(vals) {
                self.out[j as usize] += l * w;
            }
            self.c.add(l, a.bias[i]);
            if mag[i].is_nan() {
                mag[i] = interval::row_magnitude(a, i, input);
            }
            self.err.add(l.abs() * gamma(a.weights.rows()), mag[i]);
        }
    }

    /// ReLU: stable neurons pass or vanish, unstable ones take the lower slope (λ > 0) or the
    /// upper line (λ < 0).
    pub(super) fn relu(&mut self, input: &Interval, lam: &[f64], mag: &[f64]) {
        self.relu_chosen(input, lam, mag, ReluChoice::default())
    }

    /// `relu` with the lower slopes `α ∈ [0, 1]` of `choice` (`y ≥ α·z` holds for any such α)
    /// in place of DeepPoly's 0 or 1, and a stable neuron's sign constraint added with its
    /// multiplier `β ≥ 0` (`f − β·z` where `z ≥ 0`, `f + β·z` where `z ≤ 0`: each is below `f`
    /// on the bounds); the rounding of `λ·α` and `λ − β` is charged to the error.
    fn relu_chosen(&mut self, input: &Interval, lam: &[f64], mag: &[f64], choice: ReluChoice) {
        for (i, &l) in lam.iter().enumerate() {
            let (lo, hi) = (input.lower[i], input.upper[i]);
            let beta = choice.signs.map_or(0.0, |b| b[i].max(0.0));
            if hi <= 0.0 {
                self.out[i] = beta;
                continue;
            }
            if lo >= 0.0 {
                self.out[i] = l - beta;
                if beta != 0.0 {
                    self.err.add(UNIT * self.out[i].abs(), mag[i]);
                }
            } else if l == 0.0 {
                continue;
            } else if l > 0.0 {
                let alpha = choice.slopes.map_or_else(|| relu_lower_slope(lo, hi), |s| s[i].clamp(0.0, 1.0));
                self.out[i] = l * alpha;
                if alpha != 0.0 && alpha != 1.0 {
                    self.err.add(UNIT * self.out[i].abs(), mag[i]);
                }
            } else {
                let (s, t) = relu_upper_line(lo, hi);
                self.out[i] = l * s;
                self.c.add(l, t);
                self.err.add(UNIT * self.out[i].abs(), mag[i]);
            }
        }
    }

    /// An element-wise curve: the lower line of each neuron where λ > 0, the upper line where
    /// λ < 0 (`lines[i]`: lower, upper); the rounding of `λ·slope` is charged to the error.
    pub(super) fn curve(&mut self, lines: &[(Line, Line)], lam: &[f64], mag: &[f64]) {
        for (i, &l) in lam.iter().enumerate() {
            if l == 0.0 {
                continue;
            }
            let line = if l > 0.0 { lines[i].0 } else { lines[i].1 };
            self.out[i] = l * line.slope;
            self.c.add(l, line.intercept);
            self.err.add(UNIT * self.out[i].abs(), mag[i]);
        }
    }

    /// Products `a·b`: McCormick's first plane below for λ > 0, above for λ < 0
    /// (`bounds::product::planes`); every coefficient sum and the constant's product charged.
    pub(super) fn product(&mut self, p: &Product, input: &Interval, lam: &[f64], mag: &[f64]) {
        for (k, &l) in lam.iter().enumerate().filter(|(_, &l)| l != 0.0) {
            let (a, b) = p.pairs[k];
            let (below, above) = product::planes((input.lower[a], input.upper[a]), (input.lower[b], input.upper[b]));
            let q = if l > 0.0 { below[0] } else { above[0] };
            for (i, coef) in [(a, q.ca), (b, q.cb)] {
                let term = l * coef;
                self.out[i] += term;
                self.err.add(UNIT * (term.abs() + self.out[i].abs()), mag[i]);
            }
            let k = q.k.0 * q.k.1;
            self.c.add(-l, k);
            self.err.add(UNIT * l.abs(), k.abs());
        }
    }

    /// Softmax: a grouped output by its box `out` as a constant, an entry in no group passed
    /// through.
    pub(super) fn softmax(&mut self, grouped: &[bool], lam: &[f64], out: &Interval) {
        for (i, &l) in lam.iter().enumerate().filter(|(_, &l)| l != 0.0) {
            if grouped[i] {
                self.c.add(l, if l > 0.0 { out.lower[i] } else { out.upper[i] });
            } else {
                self.out[i] = l;
            }
        }
    }

    /// `λ·v` for `v` in the box `x`, as a constant (its lower end).
    pub(super) fn add_box(&mut self, lam: &[f64], x: &Interval) {
        for (i, &l) in lam.iter().enumerate().filter(|(_, &l)| l != 0.0) {
            self.c.add(l, if l > 0.0 { x.lower[i] } else { x.upper[i] });
        }
    }

    /// Max-pool: the input with the largest lower bound for λ > 0 (or when it dominates the
    /// window), else the window's largest upper bound as a constant.
    pub(super) fn max_pool(&mut self, p: &MaxPool, input: &Interval, lam: &[f64], mag: &[f64]) {
        for (i, &l) in lam.iter().enumerate() {
            if l == 0.0 {
                continue;
            }
            let w = &p.windows[i];
            // `Network::check_well_formed` rejects empty windows before any bound
            debug_assert!(!w.is_empty(), "max-pool windows are non-empty");
            let Some(&best) = w.iter().max_by(|&&a, &&b| input.lower[a].total_cmp(&input.lower[b])) else {
                continue;
            };
            let others_max =
                w.iter().filter(|&&j| j != best).map(|&j| input.upper[j]).fold(f64::NEG_INFINITY, f64::max);
            if l > 0.0 || input.lower[best] >= others_max {
                self.out[best] += l;
                self.err.add(l.abs() * gamma(p.windows.len()), mag[best]);
            } else {
                let top = w.iter().map(|&j| input.upper[j]).fold(f64::NEG_INFINITY, f64::max);
                self.c.add(l, top);
            }
        }
    }

    /// An index map: each output copies one input (or is 0).
    pub(super) fn index_map(&mut self, m: &IndexMap, lam: &[f64], mag: &[f64]) {
        for (k, &l) in lam.iter().enumerate() {
            if let (Some(j), true) = (m.map[k], l != 0.0) {
                self.out[j] += l;
                self.err.add(l.abs() * gamma(m.map.len()), mag[j]);
            }
        }
    }
}

/// Rewrites forms over position `position` (the output of layer `position − 1`) as forms over the
/// network input.
pub fn backsubstitute(net: &Network, nb: &NetworkBounds, position: usize, f: Forms) -> Forms {
    backsubstitute_to(net, nb, position, 0, f)
}

/// Rewrites forms over position `top` as forms over position `bottom ≤ top`.
pub fn backsubstitute_to(net: &Network, nb: &NetworkBounds, top: usize, bottom: usize, mut f: Forms) -> Forms {
    for j in (bottom..top).rev() {
        f = step(&net.layers[j].layer, nb.position(j), f, ReluChoice::default());
    }
    f
}

/// `backsubstitute` with, at each ReLU layer `j` that has them, the lower slopes `slopes[j]`
/// and the sign multipliers `signs[j]` (one per form and neuron).
pub fn backsubstitute_chosen(
    net: &Network,
    nb: &NetworkBounds,
    top: usize,
    mut f: Forms,
    slopes: &[Option<Vec<f64>>],
    signs: &[Option<Vec<f64>>],
) -> Forms {
    for j in (0..top).rev() {
        let choice = ReluChoice { slopes: at_layer(slopes, j), signs: at_layer(signs, j) };
        f = step(&net.layers[j].layer, nb.position(j), f, choice);
    }
    f
}

fn at_layer(v: &[Option<Vec<f64>>], j: usize) -> Option<&[f64]> {
    v.get(j).and_then(|s| s.as_deref())
}

/// Rows `rows` of an affine layer as forms over its input (where back-substitution starts).
fn affine_rows(a: &Affine, rows: &[usize], sign: f64) -> Forms {
    let cols = a.weights.cols();
    let mut coeffs = vec![0.0; rows.len() * cols];
    for (r, &i) in rows.iter().enumerate() {
        let (c, v) = a.weights.row(i);
        for (&j, &w) in c.iter().zip(v) {
            coeffs[r * cols + j as usize] = sign * w;
        }
    }
    Forms { cols, coeffs, constant: rows.iter().map(|&i| sign * a.bias[i]).collect(), error: vec![0.0; rows.len()] }
}

const BLOCK: usize = 64;

/// Symbolic bounds of rows `rows` of the output of layer `j`, the affine layer `a`, given bounds
/// of every earlier position; returns `(row, lower, upper)` for each.
pub fn affine_layer(net: &Network, nb: &NetworkBounds, j: usize, a: &Affine, rows: &[usize]) -> Vec<(usize, f64, f64)> {
    affine_layer_by(net, nb, j, a, rows, BLOCK, backsubstitute)
}

/// `affine_layer` with the back-substitution `rewrite` (forms over position `j` to forms over
/// the input), in blocks of `block` rows shared out over the cores.
pub(super) fn affine_layer_by(
    net: &Network,
    nb: &NetworkBounds,
    j: usize,
    a: &Affine,
    rows: &[usize],
    block: usize,
    rewrite: impl Fn(&Network, &NetworkBounds, usize, Forms) -> Forms + Sync + Send,
) -> Vec<(usize, f64, f64)> {
    let blocks: Vec<&[usize]> = rows.chunks(block).collect();
    let per_block = crate::par::map(&blocks, |block| {
        let [lower, upper] = [1.0, -1.0].map(|sign| {
            let f = rewrite(net, nb, j, affine_rows(a, block, sign));
            Forms::concretize_sum(&[&f], &nb.input)
        });
        block.iter().zip(lower).zip(upper).map(|((&i, l), u)| (i, l, -u)).collect::<Vec<_>>()
    });
    per_block.into_iter().flatten().collect()
}
