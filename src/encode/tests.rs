//! Unit tests of the translator: identical networks share their layers in a joint model, and
//! every expression and row carries a bound on the rounding of its own coefficients.

use super::*;
use crate::bounds::{self, Interval, Method, NetworkBounds};
use crate::ir::{Affine, Layer, LayerNode, Network, SparseMatrix};

fn affine(rows: &[&[f64]], bias: &[f64]) -> LayerNode {
    let data: Vec<f64> = rows.concat();
    LayerNode {
        output_shape: vec![1, rows.len()],
        layer: Layer::Affine(Affine {
            weights: SparseMatrix::from_dense(rows.len(), rows[0].len(), &data),
            bias: bias.to_vec(),
        }),
        origin: vec![],
    }
}

/// 2 → 3 → ReLU → 2, with weights that are not dyadic (their products round).
fn net(name: &str, last: f64) -> Network {
    Network {
        name: name.into(),
        input_shape: vec![1, 2],
        layers: vec![
            affine(&[&[0.1, -0.7], &[0.3, 0.2], &[-0.9, 0.4]], &[0.05, 0.5, 0.2]),
            LayerNode { layer: Layer::Relu, output_shape: vec![1, 3], origin: vec![] },
            affine(&[&[0.3, -1.1, 0.7], &[last, 0.6, -0.2]], &[0.0, 0.1]),
        ],
        notes: vec![],
    }
}

fn bounds_of(n: &Network, lower: [f64; 2], upper: [f64; 2]) -> NetworkBounds {
    let b = Interval { lower: lower.to_vec(), upper: upper.to_vec() };
    bounds::propagate(n, &b, Method::Symbolic, None).unwrap()
}

#[test]
fn identical_networks_share_every_layer() {
    let (a, b) = (net("a", 0.9), net("b", 0.9));
    let (na, nb) = (bounds_of(&a, [-1.0, -1.0], [1.0, 1.0]), bounds_of(&b, [-1.0, -1.0], [1.0, 1.0]));
    let opts = EncodeOptions::default();
    let single = JointModel::build(&[&a], &[&na], &[], &opts);
    let joint = JointModel::build(&[&a, &b], &[&na, &nb], &[], &opts);
    // no new variable or row for the second copy, and the same output expressions
    assert_eq!((joint.lp.vars.len(), joint.lp.rows.len()), (single.lp.vars.len(), single.lp.rows.len()));
    assert_eq!(joint.outputs[0], joint.outputs[1]);
    // so N1[c] − N2[c] is exactly zero: no terms, no constant, no error
    for c in 0..2 {
        let d = joint.objective(&[(1.0, 0, c), (-1.0, 1, c)], 0.0);
        assert!(d.terms.is_empty() && d.constant == 0.0 && d.error == 0.0, "{d:?}");
    }
    // a twin differing in its last layer shares the layers before it only
    let c = net("c", 0.8);
    let nc = bounds_of(&c, [-1.0, -1.0], [1.0, 1.0]);
    let twin = JointModel::build(&[&a, &c], &[&na, &nc], &[], &opts);
    assert_ne!(twin.outputs[0][1], twin.outputs[1][1]);
    assert_eq!(twin.outputs[0][0], twin.outputs[1][0]);
}

#[test]
fn expressions_bound_the_rounding_of_their_coefficients() {
    // every ReLU stably active on this box: the logits are affine in the input, with
    // coefficients W2·W1 computed in f64
    let n = net("a", 0.9);
    let (lo, hi) = ([0.0, -0.1], [0.1, 0.0]);
    let nb = bounds_of(&n, lo, hi);
    assert!(nb.layers[0].lower.iter().all(|&l| l > 0.0), "{:?}", nb.layers[0]);
    let m = JointModel::build(&[&n], &[&nb], &[], &EncodeOptions::default());
    let [Layer::Affine(w1), _, Layer::Affine(w2)] = [0, 1, 2].map(|j| n.layers[j].layer.clone()) else {
        unreachable!()
    };
    let (w1, w2) = (w1.weights.to_dense(), w2.weights.to_dense());
    for (o, e) in m.outputs[0].iter().enumerate() {
        assert!(e.error > 0.0, "output {o}: a rounded expression must carry an error bound");
        // the exact coefficient of input i (in real arithmetic of the stored doubles) differs
        // from the expression's by at most what the error allows over the box
        for &(v, c) in &e.terms {
            let exact: Vec<(f64, f64)> = (0..3).map(|k| (w2[o * 3 + k], w1[k * 2 + v])).collect();
            let (mut sum, mut err) = (0.0f64, 0.0f64);
            for (a, b) in exact {
                let p = a * b;
                err += a.mul_add(b, -p).abs();
                let s = sum + p;
                err += ((sum - (s - p)) + (p - (s - sum))).abs();
                sum = s;
            }
            let gap = (sum - c).abs() + err;
            assert!(gap * lo[v].abs().max(hi[v].abs()) <= e.error, "output {o}, input {v}: {gap} vs {}", e.error);
        }
    }
}

#[test]
fn rows_carry_the_rounding_of_the_moved_constant() {
    let mut lp = LinearProgram::default();
    let x = lp.add_var(0.0, 1.0, false);
    let mut e = LinExpr::var(x);
    e.constant = 1e-20;
    lp.add_row(e, RowKind::Ge, 1.0);
    let row = &lp.rows[0];
    // 1 − 1e-20 is rounded in f64: the exact difference of the doubles lies within the error
    let (rounded, lost) = crate::round::two_sum(1.0, -1e-20);
    assert!(lost != 0.0 && row.rhs == rounded && row.error >= lost.abs(), "{row:?}");
}
