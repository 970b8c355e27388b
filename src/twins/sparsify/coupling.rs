//! Rows that tie one layer's new outputs to later layers when ε > 0: each later ReLU keeps its phase
//! and the logits keep the class, as linear forms through the later layers at their fixed phases.
//!
//! Sound by induction over the layers: a form of layer m assumes the phases of layers < m, which
//! are either enforced by a row or implied for every `x̃` in the ε-box (such rows are dropped).

use super::SparsifyOptions;
use crate::encode::RowKind;
use crate::error::{Error, Result};
use crate::ir::{Layer, Network};

/// `Σ coeff·x̃[sample][neuron] + constant (kind) rhs` over the outputs of the optimised layer.
#[derive(Clone, Debug, PartialEq)]
pub struct CouplingRow {
    pub sample: usize,
    pub coeffs: Vec<(usize, f64)>,
    pub constant: f64,
    pub kind: RowKind,
    pub rhs: f64,
}

/// An affine form over the free outputs of row `s`: coefficients, then the constant last.
type Form = Vec<f64>;

/// The coupling rows for dense layer `l` of an alternating dense/ReLU network, given every row's
/// activations (`acts[s][j]` = output of layer j) and the class each row must keep.
pub fn rows(
    net: &Network,
    l: usize,
    acts: &[Vec<Vec<f64>>],
    classes: &[usize],
    opts: &SparsifyOptions,
) -> Result<Vec<CouplingRow>> {
    let samples: Vec<usize> = (0..acts.len()).collect();
    let per_sample = crate::par::map(&samples, |&s| sample_rows(net, l, &acts[s], classes[s], s, opts));
    Ok(per_sample.into_iter().collect::<Result<Vec<_>>>()?.into_iter().flatten().collect())
}

fn sample_rows(
    net: &Network,
    l: usize,
    act: &[Vec<f64>],
    class: usize,
    s: usize,
    opts: &SparsifyOptions,
) -> Result<Vec<CouplingRow>> {
    let last = net.layers.len() - 1;
    let z = &act[l];
    let free: Vec<usize> = (0..z.len()).filter(|&i| l == last || z[i] > 0.0).collect();
    let k = free.len();
    let lo: Vec<f64> = free.iter().map(|&i| z[i] - opts.epsilon * z[i].abs()).collect();
    let hi: Vec<f64> = free.iter().map(|&i| z[i] + opts.epsilon * z[i].abs()).collect();
    let mut forms: Vec<Form> = vec![vec![0.0; k + 1]; z.len()];
    free.iter().enumerate().for_each(|(c, &i)| forms[i][c] = 1.0);
    let mut out = Vec::new();
    let mut emit = |f: Form, kind: RowKind, rhs: f64| {
        if !implied(&f, &lo, &hi, kind, rhs) {
            let coeffs = free.iter().zip(&f).filter(|(_, &a)| a != 0.0).map(|(&i, &a)| (i, a)).collect();
            out.push(CouplingRow { sample: s, coeffs, constant: f[k], kind, rhs });
        }
    };
    // later dense layers sit at l + 2, l + 4, …; each but the last feeds a ReLU
    for j in (l + 2..=last).step_by(2) {
        let Layer::Affine(a) = &net.layers[j].layer else {
            return Err(Error::internal("sparsify's networks alternate dense layers and ReLUs"));
        };
        forms = (0..a.weights.rows())
            .map(|r| {
                let mut f = vec![0.0; k + 1];
                f[k] = a.bias[r];
                let (cols, vals) = a.weights.row(r);
                for (&c, &w) in cols.iter().zip(vals) {
                    f.iter_mut().zip(&forms[c as usize]).for_each(|(x, y)| *x += w * y);
                }
                f
            })
            .collect();
        if j == last {
            break;
        }
        for (r, f) in forms.iter_mut().enumerate() {
            let zr = act[j][r];
            if zr > 0.0 {
                emit(f.clone(), RowKind::Ge, zr.min(opts.margin));
            } else {
                // the paper's rule here whatever `opts.inactive`: "≤ z" would hold on the box only for
                // constant forms, i.e. it would add a dense row for nearly every inactive neuron
                emit(f.clone(), RowKind::Le, zr.max(-opts.margin));
                f.iter_mut().for_each(|x| *x = 0.0);
            }
        }
    }
    let logits = &act[last];
    for (c, f) in forms.iter().enumerate().filter(|&(c, _)| c != class) {
        let diff: Form = forms[class].iter().zip(f).map(|(a, b)| a - b).collect();
        emit(diff, RowKind::Ge, (logits[class] - logits[c]).min(opts.margin));
    }
    Ok(out)
}

/// Whether every point of the box satisfies `form (kind) rhs`.
fn implied(f: &[f64], lo: &[f64], hi: &[f64], kind: RowKind, rhs: f64) -> bool {
    let k = lo.len();
    let (mut min, mut max) = (f[k], f[k]);
    for c in 0..k {
        let (a, b) = (f[c] * lo[c], f[c] * hi[c]);
        min += a.min(b);
        max += a.max(b);
    }
    match kind {
        RowKind::Ge => min >= rhs,
        RowKind::Le => max <= rhs,
        RowKind::Eq => min == rhs && max == rhs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Affine, LayerNode, SparseMatrix};

    fn node(layer: Layer, n: usize) -> LayerNode {
        LayerNode { layer, output_shape: vec![n], origin: vec![] }
    }

    #[test]
    fn rows_follow_fixed_phases_and_drop_what_the_box_implies() {
        // 1 → 2 (ReLU) → 2 (ReLU) → 2 logits
        let dense = |w: &[f64], b: &[f64], r, c| {
            Layer::Affine(Affine { weights: SparseMatrix::from_dense(r, c, w), bias: b.to_vec() })
        };
        let net = Network {
            name: "t".into(),
            input_shape: vec![1],
            layers: vec![
                node(dense(&[1.0, 1.0], &[0.0, -5.0], 2, 1), 2),
                node(Layer::Relu, 2),
                node(dense(&[1.0, 0.0, 1.0, 1.0], &[-0.9, 0.0], 2, 2), 2),
                node(Layer::Relu, 2),
                node(dense(&[1.0, 0.0, 0.0, 1.0], &[0.0, 0.0], 2, 2), 2),
            ],
            notes: vec![],
        };
        let acts = net.forward_all(&[1.0]).unwrap();
        // layer 0 outputs (1, −4): neuron 0 free in [1−ε, 1+ε]; layer 2 pre-activations (0.1, 1)
        let mut opts = SparsifyOptions { epsilon: 0.05, ..Default::default() };
        let class = crate::data::argmax(acts.last().unwrap());
        assert_eq!(class, 1);
        let rows = sample_rows(&net, 0, &acts, class, 0, &opts).unwrap();
        // x̃ ∈ [0.95, 1.05]: x̃ − 0.9 ≥ 0.05 > τ and x̃ ≥ 0.95 hold on the box; the class margin
        // x̃ − (x̃ − 0.9) = 0.9 too: nothing to add
        assert!(rows.is_empty(), "{rows:?}");
        opts.epsilon = 0.2;
        let rows = sample_rows(&net, 0, &acts, class, 0, &opts).unwrap();
        // x̃ ∈ [0.8, 1.2]: only "x̃ − 0.9 ≥ min(0.1, τ)" can fail
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.coeffs.clone(), r.kind, r.rhs), (vec![(0, 1.0)], RowKind::Ge, opts.margin));
        assert!((r.constant + 0.9).abs() < 1e-12);
    }
}
