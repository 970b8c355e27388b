//! Certified bounds on the difference A − B of two networks with the same layer structure, layer
//! by layer (ReluDiff-style): `Δz' = W_A·Δh + (W_A − W_B)·h_B + (b_A − b_B)`, outward rounded.
//!
//! Each layer's difference is also intersected with the difference of the two networks' own
//! bounds, so the result is never worse than subtracting independent bounds. Identical layers on
//! an exact zero difference give an exact zero (every term is zero, so no rounding is added).

use super::interval::add_scaled;
use super::{Interval, NetworkBounds};
use crate::ir::{Affine, Layer, MaxPool, Network};
use crate::round::{magnitude, two_sum, Acc};

/// Bounds on `A(x) − B(x)` after every layer, for `x` in the box both `ba` and `bb` were
/// computed on; `None` when the two networks do not have the same layer structure (number,
/// kinds and shapes of layers, identical max-pool windows and index maps).
pub fn difference(a: &Network, b: &Network, ba: &NetworkBounds, bb: &NetworkBounds) -> Option<Vec<Interval>> {
    if a.input_shape != b.input_shape || a.layers.len() != b.layers.len() {
        return None;
    }
    let n = a.input_size();
    let mut d = Interval { lower: vec![0.0; n], upper: vec![0.0; n] };
    let mut out = Vec::with_capacity(a.layers.len());
    for (k, (la, lb)) in a.layers.iter().zip(&b.layers).enumerate() {
        if la.output_shape != lb.output_shape {
            return None;
        }
        let next = match (&la.layer, &lb.layer) {
            (Layer::Affine(wa), Layer::Affine(wb)) if wa.weights.cols() == wb.weights.cols() => {
                affine(wa, wb, &d, bb.position(k))
            }
            (Layer::Relu, Layer::Relu) => relu(&d, ba.position(k), bb.position(k)),
            (Layer::MaxPool(p), Layer::MaxPool(q)) if p == q => max_pool(p, &d),
            (Layer::IndexMap(m), Layer::IndexMap(q)) if m == q => super::interval::propagate(&la.layer, &d),
            _ => return None,
        };
        d = next.intersect(&box_difference(ba.position(k + 1), bb.position(k + 1)));
        out.push(d.clone());
    }
    Some(out)
}

/// `[a − b]` for `a`, `b` in two boxes, rounded outward.
fn box_difference(a: &Interval, b: &Interval) -> Interval {
    let lower = a.lower.iter().zip(&b.upper).map(|(x, y)| outward(x - y, -1.0)).collect();
    let upper = a.upper.iter().zip(&b.lower).map(|(x, y)| outward(x - y, 1.0)).collect();
    Interval { lower, upper }
}

/// A rounded result moved one ulp in direction `sign` (past the exact value), unless it is exact
/// zero of a zero difference.
fn outward(v: f64, sign: f64) -> f64 {
    match (v == 0.0, sign > 0.0) {
        (true, _) => v,
        (false, true) => v.next_up(),
        (false, false) => v.next_down(),
    }
}

/// `W_A·Δh + (W_A − W_B)·h_B + (b_A − b_B)` over the boxes of `Δh` (`d`) and `h_B` (`hb`); the
/// weight and bias differences are taken exactly (TwoSum: rounded value plus exact error).
fn affine(wa: &Affine, wb: &Affine, d: &Interval, hb: &Interval) -> Interval {
    let cols = wa.weights.cols();
    let (mut row_a, mut row_b, mut touched) = (vec![0.0; cols], vec![0.0; cols], Vec::new());
    let rows = wa.weights.rows();
    let (mut lower, mut upper) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    for i in 0..rows {
        let (bias, e) = two_sum(wa.bias[i], -wb.bias[i]);
        let (mut lo, mut hi) = (Acc::new(bias), Acc::new(bias));
        lo.add_error(e.abs());
        hi.add_error(e.abs());
        let (ca, va) = wa.weights.row(i);
        for (&j, &w) in ca.iter().zip(va) {
            let j = j as usize;
            add_scaled(&mut lo, &mut hi, w, d.lower[j], d.upper[j]);
            row_a[j] = w;
            touched.push(j);
        }
        let (cb, vb) = wb.weights.row(i);
        for (&j, &w) in cb.iter().zip(vb) {
            row_b[j as usize] = w;
            touched.push(j as usize);
        }
        touched.sort_unstable();
        touched.dedup();
        for &j in &touched {
            let (dw, e) = two_sum(row_a[j], -row_b[j]);
            add_scaled(&mut lo, &mut hi, dw, hb.lower[j], hb.upper[j]);
            if e != 0.0 {
                let err = (e.abs() * magnitude(hb.lower[j], hb.upper[j])).next_up();
                lo.add_error(err);
                hi.add_error(err);
            }
            (row_a[j], row_b[j]) = (0.0, 0.0);
        }
        touched.clear();
        lower.push(lo.lower());
        upper.push(hi.upper());
    }
    Interval { lower, upper }
}

/// `relu(z_A) − relu(z_B)` given `Δz = z_A − z_B` in `d`: `Δz` where both are active, 0 where
/// both are inactive; `min(Δz, z_A)` where only A is surely active, `max(Δz, −z_B)` where only B
/// is; else between `min(0, Δz)` and `max(0, Δz)` (ReLU is monotone and 1-Lipschitz). Only
/// minima and maxima of bounds are taken: nothing is rounded.
fn relu(d: &Interval, za: &Interval, zb: &Interval) -> Interval {
    let mut out = d.clone();
    for i in 0..d.len() {
        let (dl, du) = (d.lower[i], d.upper[i]);
        let (a_on, b_on) = (za.lower[i] >= 0.0, zb.lower[i] >= 0.0);
        (out.lower[i], out.upper[i]) = match (a_on, b_on) {
            (true, true) => (dl, du),
            _ if za.upper[i] <= 0.0 && zb.upper[i] <= 0.0 => (0.0, 0.0),
            (true, false) => (dl.min(za.lower[i]), du.min(za.upper[i])),
            (false, true) => (dl.max(-zb.upper[i]), du.max(-zb.lower[i])),
            (false, false) => (dl.min(0.0), du.max(0.0)),
        };
    }
    out
}

/// `max(a_w) − max(b_w)` lies between the smallest and largest difference in the window.
fn max_pool(p: &MaxPool, d: &Interval) -> Interval {
    let fold = |w: &[usize], v: &[f64], f: fn(f64, f64) -> f64, init: f64| w.iter().map(|&j| v[j]).fold(init, f);
    Interval {
        lower: p.windows.iter().map(|w| fold(w, &d.lower, f64::min, f64::INFINITY)).collect(),
        upper: p.windows.iter().map(|w| fold(w, &d.upper, f64::max, f64::NEG_INFINITY)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::{propagate, Method};
    use crate::ir::{LayerNode, SparseMatrix};

    fn net(first: [f64; 4]) -> Network {
        let affine = |rows: usize, cols: usize, w: &[f64], bias: Vec<f64>| LayerNode {
            output_shape: vec![1, rows],
            layer: Layer::Affine(Affine { weights: SparseMatrix::from_dense(rows, cols, w), bias }),
            origin: vec![],
        };
        Network {
            name: "t".into(),
            input_shape: vec![1, 2],
            layers: vec![
                affine(2, 2, &first, vec![0.1, -0.2]),
                LayerNode { layer: Layer::Relu, output_shape: vec![1, 2], origin: vec![] },
                affine(1, 2, &[1.0, -0.5], vec![0.0]),
            ],
            notes: vec![],
        }
    }

    /// Identical networks differ by exactly zero; perturbed ones by at most the bound, which
    /// encloses a grid of sampled differences.
    #[test]
    fn difference_encloses_samples() {
        let region = Interval { lower: vec![-1.0, -1.0], upper: vec![1.0, 1.0] };
        let (a, b) = (net([1.0, -2.0, 0.5, 1.5]), net([1.001, -2.0, 0.5, 1.499]));
        let (ba, bb) = (
            propagate(&a, &region, Method::Symbolic, None).unwrap(),
            propagate(&b, &region, Method::Symbolic, None).unwrap(),
        );
        let same = difference(&a, &a, &ba, &ba).unwrap();
        assert!(same.iter().all(|d| d.lower.iter().chain(&d.upper).all(|&v| v == 0.0)), "{same:?}");
        let d = difference(&a, &b, &ba, &bb).unwrap().pop().unwrap();
        for i in 0..=20 {
            for k in 0..=20 {
                let x = [-1.0 + 0.1 * i as f64, -1.0 + 0.1 * k as f64];
                let v = a.forward(&x).unwrap()[0] - b.forward(&x).unwrap()[0];
                assert!(d.lower[0] <= v && v <= d.upper[0], "{v} outside {d:?}");
            }
        }
        assert!(d.upper[0] - d.lower[0] < 0.01, "{d:?}");
    }
}
