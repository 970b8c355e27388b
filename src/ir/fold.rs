//! Simplification of the IR: index maps are folded into neighbouring affine layers (exact, no
//! arithmetic) and consecutive affine layers are multiplied out when that does not add entries.

use super::{Affine, IndexMap, Layer, LayerNode, Network};

impl Network {
    /// Folds index maps and chains of affine maps until nothing changes. Folding two affine maps
    /// rounds each product once in f64; index-map folds are exact.
    pub fn simplify(&mut self) {
        let mut i = 0;
        while i < self.layers.len() {
            let input_len = self.layer_input_size(i);
            if let Layer::IndexMap(m) = &self.layers[i].layer {
                if is_identity(m, input_len) {
                    let removed = self.layers.remove(i);
                    self.reshape_after_removal(i, removed);
                    i = i.saturating_sub(1);
                    continue;
                }
            }
            if i + 1 < self.layers.len() {
                if let Some(merged) = merge(&self.layers[i].layer, &self.layers[i + 1].layer, input_len) {
                    let second = self.layers.remove(i + 1);
                    let first = &mut self.layers[i];
                    first.layer = merged;
                    first.output_shape = second.output_shape;
                    first.origin.extend(second.origin);
                    i = i.saturating_sub(1);
                    continue;
                }
            }
            i += 1;
        }
    }

    /// After removing an identity layer at `i`, the layer before it takes over its shape.
    fn reshape_after_removal(&mut self, i: usize, removed: LayerNode) {
        if i == 0 {
            if self.layers.is_empty() {
                self.input_shape = removed.output_shape;
            }
        } else {
            self.layers[i - 1].output_shape = removed.output_shape;
        }
    }
}

fn is_identity(m: &IndexMap, input_len: usize) -> bool {
    m.map.len() == input_len && m.map.iter().enumerate().all(|(k, j)| *j == Some(k))
}

/// The single layer equal to `second ∘ first`, when it is cheap and exact enough to form.
fn merge(first: &Layer, second: &Layer, input_len: usize) -> Option<Layer> {
    match (first, second) {
        (Layer::IndexMap(g), Layer::Affine(a)) => {
            Some(Layer::Affine(Affine { weights: a.weights.select_columns(&g.map, input_len), bias: a.bias.clone() }))
        }
        (Layer::Affine(a), Layer::IndexMap(g)) => Some(Layer::Affine(Affine {
            weights: a.weights.select_rows(&g.map),
            bias: g.map.iter().map(|j| j.map_or(0.0, |j| a.bias[j])).collect(),
        })),
        (Layer::IndexMap(g1), Layer::IndexMap(g2)) => {
            Some(Layer::IndexMap(IndexMap { map: g2.map.iter().map(|j| j.and_then(|j| g1.map[j])).collect() }))
        }
        (Layer::Affine(a1), Layer::Affine(a2)) => {
            let weights = a2.weights.compose(&a1.weights);
            if weights.nnz() > a1.weights.nnz() + a2.weights.nnz() {
                return None;
            }
            let mut bias = a2.weights.mul_vec(&a1.bias);
            bias.iter_mut().zip(&a2.bias).for_each(|(b, c)| *b += c);
            Some(Layer::Affine(Affine { weights, bias }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::SparseMatrix;

    fn node(layer: Layer, shape: Vec<usize>) -> LayerNode {
        LayerNode { layer, output_shape: shape, origin: vec![] }
    }

    #[test]
    fn folding_keeps_the_function() {
        let pad = Layer::IndexMap(IndexMap { map: vec![None, Some(1), Some(0), None] });
        let dense = Layer::Affine(Affine {
            weights: SparseMatrix::from_dense(2, 4, &[1.0, 2.0, 3.0, 4.0, -1.0, 0.5, 0.25, 2.0]),
            bias: vec![0.5, -0.5],
        });
        let diag = Layer::Affine(Affine { weights: SparseMatrix::diagonal(&[2.0, -3.0]), bias: vec![1.0, 1.0] });
        let mut net = Network {
            name: "t".into(),
            input_shape: vec![2],
            layers: vec![node(pad, vec![4]), node(dense, vec![2]), node(Layer::Relu, vec![2]), node(diag, vec![2])],
            notes: vec![],
        };
        let x = [0.7, -1.3];
        let before = net.forward(&x).unwrap();
        net.simplify();
        assert_eq!(net.layers.len(), 3, "the index map folds into the affine layer");
        let after = net.forward(&x).unwrap();
        assert_eq!(before, after);
    }
}
