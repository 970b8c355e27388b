//! Float32-sound mode: a rigorous bound, per neuron, on how far float32 inference (onnxruntime,
//! tract, PyTorch; any summation order) can lie from the IR's value in real arithmetic.
//!
//! With `v` the IR in real arithmetic and `v̂` its float32 evaluation, `e[p][i] ≥ |v̂ − v|` at
//! position `p` for every input of the region (whose bounds on `v` are given):
//! * input: the rounding of a real input to float32, `u·|x| + η` (`u = 2⁻²⁴`);
//! * affine row of `n` terms: `γ_{n+K}·(Σ|w|·(|v| + e) + |b|) + Σ|w|·e + 2(n+K)·η` — the sum
//!   rounded in any order (Higham's `γₙ = nu/(1 − nu)`), `K` extra roundings per term (a Gemm's
//!   alpha/beta, a division done as a multiplication by a rounded reciprocal, an average's
//!   division), plus the earlier errors carried through `|W|`;
//! * ReLU is 1-Lipschitz (and the error vanishes where `v + e ≤ 0`), max-pool takes the largest
//!   error of its window, index maps move errors. `η = 2⁻¹²⁶` per operation covers underflow even
//!   with subnormals flushed to zero.
//!
//! The runtime is assumed to compute each node as float32 sums of products (any order, FMA and
//! blocking included), not by Winograd, Strassen, FFT or reduced-precision (TF32) kernels.
//! It needs one IR layer per ONNX node (`onnx::load_float32`): a layer folded from several nodes
//! rounds in float32 at places the folded map no longer shows.

use std::sync::Mutex;

use super::{Interval, NetworkBounds};
use crate::error::{Error, Result};
use crate::ir::{Affine, Layer, Network};
use crate::round::{magnitude, Acc};

/// float32's unit roundoff, 2⁻²⁴.
pub const UNIT: f64 = 5.960464477539063e-8;
/// Extra roundings per term allowed beyond the sum's own (see the module doc).
const EXTRA_ROUNDINGS: usize = 4;
/// Absolute error of one float32 operation near zero: the smallest normal float32, 2⁻¹²⁶.
const UNDERFLOW: f64 = 1.1754943508222875e-38;

/// `γₙ = n·u/(1 − n·u)` for float32, rounded up (infinite when `n·u ≥ 1`).
pub fn gamma32(n: usize) -> f64 {
    let nu = n as f64 * UNIT;
    if nu >= 1.0 {
        return f64::INFINITY;
    }
    (nu / (1.0 - nu).next_down()).next_up()
}

/// Float32 error bounds of one network over one region.
#[derive(Debug)]
pub struct FloatErrors {
    /// Per position, bounds on the rounding of that position alone (the input's rounding to
    /// float32, an affine layer's own sums; 0 elsewhere).
    local: Vec<Vec<f64>>,
    /// Per position, bounds on `|v̂ − v|` (every earlier rounding carried through `|W|`).
    accumulated: Vec<Vec<f64>>,
    /// Objective errors already computed, by coefficients up to sign (LROM's pairs bound the
    /// same combinations in both directions and in the independent baseline).
    known: Mutex<Vec<(Vec<f64>, f64)>>,
}

impl FloatErrors {
    /// The bounds over the region `nb` bounds. Fails when a layer was folded from several ONNX
    /// nodes.
    pub fn new(net: &Network, nb: &NetworkBounds) -> Result<FloatErrors> {
        if let Some((j, node)) = net.layers.iter().enumerate().find(|(_, n)| n.origin.len() > 1) {
            return Err(Error::Input(format!(
                "float-sound: layer {j} of '{}' folds the nodes {} into one map; load the network \
                 with onnx::load_float32 (one layer per node)",
                net.name,
                node.origin.join(", ")
            )));
        }
        let input = &nb.input;
        let first: Vec<f64> =
            (0..input.len()).map(|i| add_up(UNIT * magnitude(input.lower[i], input.upper[i]), UNDERFLOW)).collect();
        let mut errs = FloatErrors { local: vec![first.clone()], accumulated: vec![first], known: Mutex::default() };
        for (j, node) in net.layers.iter().enumerate() {
            let (e, x) = (&errs.accumulated[j], nb.position(j));
            let (local, next) = match &node.layer {
                Layer::Affine(a) => (0..a.weights.rows()).map(|i| affine_row(a, i, x, e)).unzip(),
                // real and float values are both ≤ 0 where upper + e ≤ 0: both outputs are 0
                Layer::Relu => {
                    (vec![0.0; e.len()], e.iter().zip(&x.upper).map(|(&e, &u)| if e <= -u { 0.0 } else { e }).collect())
                }
                Layer::SShaped(_) | Layer::Power(_) | Layer::Step(_) | Layer::Softmax(_) | Layer::Product(_) => {
                    return Err(Error::Input(format!(
                        "float-sound: layer {j} of '{}' ({}) has no float32 error bound (inference engines \
                         evaluate S-shaped functions, powers and softmax in their own ways; a step jumps; products are not covered)",
                        net.name,
                        node.layer.kind()
                    )))
                }
                Layer::MaxPool(p) => (
                    vec![0.0; p.windows.len()],
                    p.windows.iter().map(|w| w.iter().map(|&k| e[k]).fold(0.0, f64::max)).collect(),
                ),
                Layer::IndexMap(m) => (vec![0.0; m.map.len()], m.map.iter().map(|k| k.map_or(0.0, |k| e[k])).collect()),
            };
            errs.local.push(local);
            errs.accumulated.push(next);
        }
        Ok(errs)
    }

    /// Bounds on `|v̂ − v|` at the outputs.
    pub fn output(&self) -> &[f64] {
        // `new` pushes the input's errors first, so there is always a last entry
        self.accumulated.last().map_or(&[], Vec::as_slice)
    }

    /// A bound on `|Σ cᵢ (v̂ᵢ − vᵢ)|` over the outputs: the smaller of `Σ|cᵢ|·output()` and the
    /// local errors weighed by the objective's gradient with respect to each position, bounded
    /// by a backward interval pass (ReLU and max-pool slopes in [0, 1] where a phase is open),
    /// which keeps the cancellations `|W|` loses.
    pub fn objective(&self, net: &Network, nb: &NetworkBounds, c: &[f64]) -> f64 {
        let sign = c.iter().find(|&&v| v != 0.0).map_or(1.0, |v| v.signum());
        let key: Vec<f64> = c.iter().map(|v| sign * v).collect();
        let known = |k: &Vec<(Vec<f64>, f64)>| k.iter().find(|(c, _)| *c == key).map(|&(_, e)| e);
        if let Some(e) = known(&self.known.lock().unwrap_or_else(|e| e.into_inner())) {
            return e;
        }
        let e = self.compute_objective(net, nb, c);
        self.known.lock().unwrap_or_else(|e| e.into_inner()).push((key, e));
        e
    }

    fn compute_objective(&self, net: &Network, nb: &NetworkBounds, c: &[f64]) -> f64 {
        let mut forward = Acc::new(0.0);
        c.iter().zip(self.output()).for_each(|(&c, &e)| forward.add(c.abs(), e));
        let mut grad = Gradient { mid: c.to_vec(), rad: vec![0.0; c.len()] };
        let mut total = Acc::new(0.0);
        for j in (0..=net.layers.len()).rev() {
            for (i, &e) in self.local[j].iter().enumerate().filter(|(_, &e)| e > 0.0) {
                total.add(add_up(grad.mid[i].abs(), grad.rad[i]), e);
            }
            if j > 0 {
                grad = grad.back(&net.layers[j - 1].layer, nb.position(j - 1), &self.accumulated[j - 1]);
            }
        }
        forward.upper().min(total.upper())
    }
}

/// One affine row: (its own rounding, the accumulated error) given the errors `e` of its input,
/// whose real values `x` bounds.
fn affine_row(a: &Affine, i: usize, x: &Interval, e: &[f64]) -> (f64, f64) {
    let (cols, vals) = a.weights.row(i);
    let n = cols.len() + 1 + EXTRA_ROUNDINGS;
    let (mut size, mut carried) = (Acc::new(a.bias[i].abs()), Acc::new(0.0));
    for (&c, &w) in cols.iter().zip(vals) {
        let c = c as usize;
        size.add(w.abs(), add_up(magnitude(x.lower[c], x.upper[c]), e[c]));
        carried.add(w.abs(), e[c]);
    }
    let mut local = Acc::new(2.0 * n as f64 * UNDERFLOW); // a product and an addition per term
    local.add(gamma32(n), size.upper());
    let local = local.upper();
    (local, add_up(carried.upper(), local))
}

/// An interval vector `mid ± rad`: the gradient of an objective with respect to one position.
struct Gradient {
    mid: Vec<f64>,
    rad: Vec<f64>,
}

impl Gradient {
    /// The gradient with respect to `layer`'s input, whose real values `x` bounds and whose
    /// float32 values lie within `e` of them.
    fn back(&self, layer: &Layer, x: &Interval, e: &[f64]) -> Gradient {
        let n = x.len();
        let (mut mid, mut rad) = (vec![Acc::new(0.0); n], vec![Acc::new(0.0); n]);
        // input k gets (mid ± rad)·w
        let mut add = |k: usize, m: f64, r: f64, w: f64| {
            mid[k].add(m, w);
            rad[k].add(r, w.abs());
        };
        match layer {
            Layer::Affine(a) => {
                for i in 0..a.weights.rows() {
                    let (cols, vals) = a.weights.row(i);
                    for (&k, &w) in cols.iter().zip(vals) {
                        add(k as usize, self.mid[i], self.rad[i], w);
                    }
                }
            }
            Layer::Relu => {
                for (k, &e) in e.iter().enumerate() {
                    if e <= x.lower[k] {
                        add(k, self.mid[k], self.rad[k], 1.0); // active for real and float values
                    } else if e > -x.upper[k] {
                        let (m, r) = self.hull_with_zero(k);
                        add(k, m, r, 1.0);
                    }
                }
            }
            // slopes in [0, 1] (σ' ≤ 1/4, tanh' ≤ 1), as an open ReLU phase; never reached by a
            // power, a step, a softmax or a product, which `FloatErrors::new` refuses like S-shaped
            // layers
            Layer::SShaped(_) | Layer::Power(_) | Layer::Step(_) | Layer::Softmax(_) | Layer::Product(_) => {
                for k in 0..n {
                    let (m, r) = self.hull_with_zero(k);
                    add(k, m, r, 1.0);
                }
            }
            Layer::MaxPool(p) => {
                for (w, window) in p.windows.iter().enumerate() {
                    match certain_max(window, x, e) {
                        Some(best) => add(best, self.mid[w], self.rad[w], 1.0),
                        None => window.iter().for_each(|&k| {
                            let (m, r) = self.hull_with_zero(w);
                            add(k, m, r, 1.0);
                        }),
                    }
                }
            }
            Layer::IndexMap(m) => {
                for (k, j) in m.map.iter().enumerate() {
                    if let Some(j) = *j {
                        add(j, self.mid[k], self.rad[k], 1.0);
                    }
                }
            }
        }
        // each product and sum above was rounded: the midpoints' errors go to the radii
        let (mid, rad): (Vec<f64>, Vec<f64>) = mid
            .iter()
            .zip(&rad)
            .map(|(m, r)| {
                let (v, err) = m.value_and_error();
                (v, add_up(r.upper(), err))
            })
            .unzip();
        Gradient { mid, rad }
    }

    /// The hull of `{0} ∪ (mid ± rad)` at `k`, as (midpoint, radius): the gradient times a slope
    /// in [0, 1].
    fn hull_with_zero(&self, k: usize) -> (f64, f64) {
        let lo = (self.mid[k] - self.rad[k]).next_down().min(0.0);
        let hi = (self.mid[k] + self.rad[k]).next_up().max(0.0);
        let m = 0.5 * (lo + hi);
        (m, (hi - m).max(m - lo).next_up())
    }
}

/// The input of `window` that is the largest for real and float values alike, if one is.
fn certain_max(window: &[usize], x: &Interval, e: &[f64]) -> Option<usize> {
    let best = *window.iter().max_by(|&&a, &&b| x.lower[a].total_cmp(&x.lower[b]))?;
    let low = -add_up(-x.lower[best], e[best]);
    window.iter().filter(|&&k| k != best).all(|&k| add_up(x.upper[k], e[k]) < low).then_some(best)
}

/// `a + b` rounded up (an upper bound on the exact sum).
pub fn add_up(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        return a;
    }
    let mut acc = Acc::new(a);
    acc.add(b, 1.0);
    acc.upper()
}

/// Bounds that hold for the float32 values: every position widened by its accumulated error.
pub fn widen(net: &Network, nb: &NetworkBounds) -> Result<NetworkBounds> {
    let errs = FloatErrors::new(net, nb)?;
    let grow = |b: &Interval, e: &[f64]| Interval {
        lower: b.lower.iter().zip(e).map(|(&l, &e)| -add_up(-l, e)).collect(),
        upper: b.upper.iter().zip(e).map(|(&u, &e)| add_up(u, e)).collect(),
    };
    Ok(NetworkBounds {
        input: grow(&nb.input, &errs.accumulated[0]),
        layers: nb.layers.iter().zip(&errs.accumulated[1..]).map(|(b, e)| grow(b, e)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::{propagate, Method};
    use crate::ir::{Affine, LayerNode, SparseMatrix};

    fn node(layer: Layer, n: usize) -> LayerNode {
        LayerNode { layer, output_shape: vec![n], origin: vec![] }
    }

    /// A dense layer of 3 ones over inputs in [0, 1]: each term and the bias are ≤ 1.
    #[test]
    fn an_affine_row_costs_gamma_of_its_terms_plus_the_input_rounding() {
        let ones = Affine { weights: SparseMatrix::from_dense(1, 3, &[1.0; 3]), bias: vec![1.0] };
        let net = Network {
            name: "t".into(),
            input_shape: vec![3],
            layers: vec![node(Layer::Affine(ones), 1), node(Layer::Relu, 1)],
            notes: vec![],
        };
        let input = Interval { lower: vec![0.0; 3], upper: vec![1.0; 3] };
        let nb = propagate(&net, &input, Method::Interval, None).unwrap();
        let errs = FloatErrors::new(&net, &nb).unwrap();
        let e = &errs.accumulated;
        let expected = 3.0 * UNIT + gamma32(3 + 1 + EXTRA_ROUNDINGS) * 4.0;
        assert!(e[1][0] >= expected && e[1][0] < expected * 1.001, "{} vs {expected}", e[1][0]);
        assert_eq!(e[2], e[1], "an active ReLU passes the error on");
        let objective = errs.objective(&net, &nb, &[2.0]);
        assert!(objective >= 2.0 * expected && objective < 2.0 * expected * 1.001);
    }

    #[test]
    fn gamma_grows_with_the_terms_and_saturates() {
        assert!(gamma32(1) > UNIT && gamma32(1) < 1.01 * UNIT);
        assert!(gamma32(100) > 100.0 * UNIT);
        assert_eq!(gamma32(1 << 24), f64::INFINITY);
    }
}
