//! Carrying values past a layer: a layer over `n` entries widened so that `c` more entries pass
//! through it unchanged (a tensor a later layer reads again, such as a residual connection).

use super::{Affine, Branch, Cmp, Curve, IndexMap, Layer, MaxPool, Power, SparseMatrix, Step};

/// The layers computing `[layer(x) | z]` from `[x | z]` for `x` of `n` entries (where `layer`
/// outputs `m`) and `z` of `c`: the layer itself widened, or for a ReLU the split `[x | z | −z]`,
/// the ReLU of all, and `[y | z⁺ − z⁻]` (exact: `z = relu(z) − relu(−z)`); a softmax leaves them
/// out of its groups. A product cannot pass values through: an error.
pub fn with_pass_through(layer: Layer, n: usize, m: usize, c: usize) -> Result<Vec<Layer>, String> {
    if c == 0 {
        return Ok(vec![layer]);
    }
    Ok(match layer {
        Layer::Affine(a) => {
            let rows = (0..m).map(|i| {
                let (cols, vals) = a.weights.row(i);
                cols.iter().map(|&k| k as usize).zip(vals.iter().copied()).collect()
            });
            let rows: Vec<Vec<(usize, f64)>> = rows.chain((n..n + c).map(|k| vec![(k, 1.0)])).collect();
            let mut bias = a.bias;
            bias.extend(std::iter::repeat_n(0.0, c));
            vec![Layer::Affine(Affine { weights: SparseMatrix::from_rows(n + c, rows), bias })]
        }
        Layer::Relu => {
            let identity = |k: usize| vec![(k, 1.0)];
            let split: Vec<Vec<(usize, f64)>> =
                (0..n + c).map(identity).chain((n..n + c).map(|k| vec![(k, -1.0)])).collect();
            let merge: Vec<Vec<(usize, f64)>> =
                (0..n).map(identity).chain((n..n + c).map(|k| vec![(k, 1.0), (k + c, -1.0)])).collect();
            let affine = |cols, rows: Vec<Vec<(usize, f64)>>| {
                let weights = SparseMatrix::from_rows(cols, rows);
                Layer::Affine(Affine { bias: vec![0.0; weights.rows()], weights })
            };
            vec![affine(n + c, split), Layer::Relu, affine(n + 2 * c, merge)]
        }
        layer @ (Layer::SShaped(_) | Layer::Power(_)) => {
            let mut curves: Vec<Curve> = layer.curves(n).collect();
            curves.extend(std::iter::repeat_n(Curve::Power(1.0), c));
            vec![Layer::Power(Power { curves })]
        }
        Layer::Step(mut steps) => {
            let same = Step::Select { cmp: Cmp::Equal, threshold: 0.0, then: Branch::Entry, other: Branch::Entry };
            steps.extend(std::iter::repeat_n(same, c));
            vec![Layer::Step(steps)]
        }
        Layer::MaxPool(mut p) => {
            p.windows.extend((n..n + c).map(|k| vec![k]));
            vec![Layer::MaxPool(MaxPool { windows: p.windows })]
        }
        Layer::IndexMap(mut map) => {
            map.map.extend((n..n + c).map(Some));
            vec![Layer::IndexMap(IndexMap { map: map.map })]
        }
        layer @ Layer::Softmax(_) => vec![layer],
        Layer::Product(_) => {
            return Err(
                "a tensor read again later (a residual connection) cannot be carried past a product layer".into()
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::SShaped;

    /// Every kind of layer that can carry values computes `[layer(x) | z]`.
    #[test]
    fn carried_values_pass_unchanged() {
        let x = [-1.5, 0.25, 2.0];
        let z = [-3.0, 0.5];
        let affine = Layer::Affine(Affine {
            weights: SparseMatrix::from_rows(3, vec![vec![(0, 2.0), (2, -1.0)], vec![(1, 4.0)]]),
            bias: vec![0.5, -1.0],
        });
        let layers = [
            (affine, 2),
            (Layer::Relu, 3),
            (Layer::SShaped(SShaped::Tanh), 3),
            (Layer::Step(vec![Step::Trunc; 3]), 3),
            (Layer::MaxPool(MaxPool { windows: vec![vec![0, 2], vec![1]] }), 2),
            (Layer::IndexMap(IndexMap { map: vec![Some(2), None] }), 2),
            (Layer::Softmax(super::super::Softmax { groups: vec![vec![0, 2], vec![1]] }), 3),
        ];
        for (layer, m) in layers {
            let want: Vec<f64> = layer.apply(&x).into_iter().chain(z).collect();
            let wide = with_pass_through(layer.clone(), 3, m, 2).unwrap();
            let input: Vec<f64> = x.iter().chain(&z).copied().collect();
            let got = wide.iter().fold(input, |v, l| l.apply(&v));
            assert_eq!(got.len(), want.len());
            assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-15), "{}: {got:?} vs {want:?}", layer.kind());
        }
        let product = Layer::Product(super::super::Product { pairs: vec![(0, 1)] });
        assert!(with_pass_through(product, 3, 1, 2).unwrap_err().contains("residual"));
    }
}
