//! Interval propagation: a box on a layer's input gives a box on its output, with every affine
//! sum widened outward by its rounding-error bound (see `round`).

use super::Interval;
use crate::ir::{Affine, Layer};
use crate::round::{magnitude, Acc};

/// The box of a layer's output given a box of its input.
pub fn propagate(layer: &Layer, x: &Interval) -> Interval {
    match layer {
        Layer::Affine(a) => affine(a, x),
        Layer::Relu => Interval {
            lower: x.lower.iter().map(|&v| v.max(0.0)).collect(),
            upper: x.upper.iter().map(|&v| v.max(0.0)).collect(),
        },
        Layer::SShaped(_) | Layer::Power(_) | Layer::Step(_) => super::curve::interval(layer.curves(x.len()), x),
        Layer::Softmax(s) => super::softmax::interval(s, x),
        Layer::Product(p) => super::product::interval(p, x),
        Layer::MaxPool(p) => {
            let fold = |v: &[f64], w: &[usize]| w.iter().map(|&j| v[j]).fold(f64::NEG_INFINITY, f64::max);
            Interval {
                lower: p.windows.iter().map(|w| fold(&x.lower, w)).collect(),
                upper: p.windows.iter().map(|w| fold(&x.upper, w)).collect(),
            }
        }
        Layer::IndexMap(m) => Interval {
            lower: m.map.iter().map(|j| j.map_or(0.0, |j| x.lower[j])).collect(),
            upper: m.map.iter().map(|j| j.map_or(0.0, |j| x.upper[j])).collect(),
        },
    }
}

/// Adds `w·v` for `v ∈ [l, u]` to the lower and upper sums.
pub(crate) fn add_scaled(lo: &mut Acc, hi: &mut Acc, w: f64, l: f64, u: f64) {
    if w >= 0.0 {
        lo.add(w, l);
        hi.add(w, u);
    } else {
        lo.add(w, u);
        hi.add(w, l);
    }
}

fn affine(a: &Affine, x: &Interval) -> Interval {
    let n = a.weights.rows();
    let (mut lower, mut upper) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let (cols, vals) = a.weights.row(i);
        let (mut lo, mut hi) = (Acc::new(a.bias[i]), Acc::new(a.bias[i]));
        for (&j, &w) in cols.iter().zip(vals) {
            let j = j as usize;
            add_scaled(&mut lo, &mut hi, w, x.lower[j], x.upper[j]);
        }
        lower.push(lo.lower());
        upper.push(hi.upper());
    }
    Interval { lower, upper }
}

/// `Σⱼ |Wᵢⱼ|·max|xⱼ| + |bᵢ|` for row `i`, rounded up: the magnitude of every term an affine
/// layer sums there, used to bound the rounding error of back-substitution through it.
pub fn row_magnitude(a: &Affine, i: usize, x: &Interval) -> f64 {
    let (cols, vals) = a.weights.row(i);
    let mut acc = Acc::new(a.bias[i].abs());
    for (&j, &w) in cols.iter().zip(vals) {
        acc.add(w.abs(), magnitude(x.lower[j as usize], x.upper[j as usize]));
    }
    acc.upper()
}
