//! The layer IR: a network is an ordered list of layers over flat f64 vectors of known shape.
//! Affine maps (dense, conv, pooling averages, folded normalisation), ReLU, S-shaped activations
//! (Sigmoid, Tanh), constant powers, step functions (comparisons, truncation), softmax, products
//! of two entries, max-pool, index maps.

mod carry;
mod curve;
mod fold;
mod sparse;
mod step;

pub use carry::with_pass_through;
pub use curve::{Bend, Curve, Power, SShaped};
pub use sparse::SparseMatrix;
pub use step::{Branch, Cmp, Piece, Step};

use crate::error::{Error, Result};

/// `y = W x + b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Affine {
    pub weights: SparseMatrix,
    pub bias: Vec<f64>,
}

impl Affine {
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let mut y = self.weights.mul_vec(x);
        y.iter_mut().zip(&self.bias).for_each(|(y, b)| *y += b);
        y
    }
}

/// `y[i] = max_{j ∈ windows[i]} x[j]`; every window is non-empty.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxPool {
    pub windows: Vec<Vec<usize>>,
}

/// `y[k] = x[map[k]]`, or 0 where `map[k]` is `None` (zero padding, transposes, slices).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexMap {
    pub map: Vec<Option<usize>>,
}

/// Softmax over groups of entries (disjoint): `y[i] = e^(x[i]) / Σ_{j in i's group} e^(x[j])`;
/// an entry in no group passes through unchanged (a value carried past the softmax).
#[derive(Clone, Debug, PartialEq)]
pub struct Softmax {
    pub groups: Vec<Vec<usize>>,
}

impl Softmax {
    /// Whether each of `n` entries lies in a group (the others pass through).
    pub fn grouped(&self, n: usize) -> Vec<bool> {
        let mut inside = vec![false; n];
        self.groups.iter().flatten().for_each(|&i| inside[i] = true);
        inside
    }

    /// Each group shifted by its maximum first (no overflow); NaN propagates to its group.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let mut y = x.to_vec();
        for g in &self.groups {
            let m = g.iter().map(|&j| x[j]).fold(f64::NEG_INFINITY, nan_max);
            let s: f64 = g.iter().map(|&j| (x[j] - m).exp()).sum();
            g.iter().for_each(|&j| y[j] = (x[j] - m).exp() / s);
        }
        y
    }

    /// The gradient `g` at the output taken back to the input through the Jacobian at output `y`:
    /// `∂y_i/∂x_j = y_i (δ_ij − y_j)`.
    fn backward(&self, y: &[f64], g: &[f64]) -> Vec<f64> {
        let mut back = g.to_vec();
        for grp in &self.groups {
            let dot: f64 = grp.iter().map(|&i| g[i] * y[i]).sum();
            grp.iter().for_each(|&j| back[j] = y[j] * (g[j] - dot));
        }
        back
    }
}

/// Products of two entries: `y[k] = x[pairs[k].0] · x[pairs[k].1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub pairs: Vec<(usize, usize)>,
}

/// One layer of the IR.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    Affine(Affine),
    Relu,
    /// An S-shaped function of every entry.
    SShaped(SShaped),
    /// Each entry to a constant power.
    Power(Power),
    /// A step function of each entry (`steps[i]` on entry `i`).
    Step(Vec<Step>),
    Softmax(Softmax),
    Product(Product),
    MaxPool(MaxPool),
    IndexMap(IndexMap),
}

impl Layer {
    /// Short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Affine(_) => "affine",
            Layer::Relu => "relu",
            Layer::SShaped(f) => f.name(),
            Layer::Power(_) => "power",
            Layer::Step(_) => "step",
            Layer::Softmax(_) => "softmax",
            Layer::Product(_) => "product",
            Layer::MaxPool(_) => "maxpool",
            Layer::IndexMap(_) => "indexmap",
        }
    }

    /// Applies the layer to one input vector. NaN propagates as in IEEE arithmetic: ReLU and
    /// max-pool of a NaN are NaN, never a number that hides it.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        match self {
            Layer::Affine(a) => a.apply(x),
            Layer::Relu => x.iter().map(|&v| if v < 0.0 { 0.0 } else { v }).collect(),
            Layer::SShaped(_) | Layer::Power(_) | Layer::Step(_) => {
                x.iter().zip(self.curves(x.len())).map(|(&v, f)| f.value(v)).collect()
            }
            Layer::Softmax(s) => s.apply(x),
            Layer::Product(p) => p.pairs.iter().map(|&(i, j)| x[i] * x[j]).collect(),
            Layer::MaxPool(p) => {
                p.windows.iter().map(|w| w.iter().map(|&j| x[j]).fold(f64::NEG_INFINITY, nan_max)).collect()
            }
            Layer::IndexMap(m) => m.map.iter().map(|j| j.map_or(0.0, |j| x[j])).collect(),
        }
    }

    /// The function each of `n` neurons applies, for the element-wise nonlinear layers (S-shaped,
    /// powers, steps); nothing for the others. Allocates nothing (the forward pass calls it).
    pub fn curves(&self, n: usize) -> impl Iterator<Item = Curve> + '_ {
        let (same, each, steps): (Option<Curve>, &[Curve], &[Step]) = match self {
            Layer::SShaped(f) => (Some(Curve::S(*f)), &[], &[]),
            Layer::Power(p) => (None, &p.curves, &[]),
            Layer::Step(s) => (None, &[], s),
            _ => (None, &[], &[]),
        };
        let same = same.into_iter().flat_map(move |c| std::iter::repeat_n(c, n));
        same.chain(each.iter().copied()).chain(steps.iter().map(|&s| Curve::Step(s)))
    }

    /// The length of the output for an input of length `n_in`.
    pub fn output_len(&self, n_in: usize) -> usize {
        match self {
            Layer::Affine(a) => a.weights.rows(),
            Layer::Relu | Layer::SShaped(_) | Layer::Softmax(_) => n_in,
            Layer::Power(p) => p.curves.len(),
            Layer::Step(s) => s.len(),
            Layer::Product(p) => p.pairs.len(),
            Layer::MaxPool(p) => p.windows.len(),
            Layer::IndexMap(m) => m.map.len(),
        }
    }

    /// Number of parameters (stored weights plus biases).
    pub fn parameters(&self) -> usize {
        match self {
            Layer::Affine(a) => a.weights.nnz() + a.bias.len(),
            _ => 0,
        }
    }
}

/// The larger of two numbers, NaN when either is NaN (`f64::max` would drop the NaN).
pub fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// A layer with the shape of what it outputs and the ONNX nodes it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNode {
    pub layer: Layer,
    pub output_shape: Vec<usize>,
    pub origin: Vec<String>,
}

/// A feed-forward network in the IR.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub name: String,
    pub input_shape: Vec<usize>,
    pub layers: Vec<LayerNode>,
    /// Things the front-end did that a user may want to know (e.g. a dropped Softmax).
    pub notes: Vec<String>,
}

/// Product of the dimensions of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Network {
    pub fn input_size(&self) -> usize {
        numel(&self.input_shape)
    }

    pub fn output_shape(&self) -> &[usize] {
        self.layers.last().map_or(&self.input_shape, |l| &l.output_shape)
    }

    pub fn output_size(&self) -> usize {
        numel(self.output_shape())
    }

    /// Size of the vector that enters layer `i` (the input for `i = 0`).
    pub fn layer_input_size(&self, i: usize) -> usize {
        if i == 0 {
            self.input_size()
        } else {
            numel(&self.layers[i - 1].output_shape)
        }
    }

    pub fn parameters(&self) -> usize {
        self.layers.iter().map(|l| l.layer.parameters()).sum()
    }

    pub fn relu_count(&self) -> usize {
        self.layers.iter().filter(|l| matches!(l.layer, Layer::Relu)).map(|l| numel(&l.output_shape)).sum()
    }

    fn check_input(&self, x: &[f64]) -> Result<()> {
        if x.len() != self.input_size() {
            return Err(Error::Input(format!(
                "network '{}' takes {} inputs (shape {:?}), got {}",
                self.name,
                self.input_size(),
                self.input_shape,
                x.len()
            )));
        }
        Ok(())
    }

    /// Checks that every weight and bias is finite and every max-pool window non-empty: bounds,
    /// encodings and verdicts are meaningless otherwise. The ONNX front-end rejects such files
    /// (naming the tensor or node); this is the defence for networks that reach the analyses
    /// another way, run before any bound is computed.
    pub fn check_well_formed(&self) -> Result<()> {
        for (i, node) in self.layers.iter().enumerate() {
            if let Layer::MaxPool(p) = &node.layer {
                if p.windows.iter().any(Vec::is_empty) {
                    return Err(Error::Input(format!(
                        "network '{}': layer {i} (from {}) has an empty max-pool window",
                        self.name,
                        node.origin.join(", ")
                    )));
                }
            }
            let Layer::Affine(a) = &node.layer else { continue };
            let weights = a.weights.entries().map(|(_, _, v)| v);
            if let Some(v) = weights.chain(a.bias.iter().copied()).find(|v| !v.is_finite()) {
                return Err(Error::Input(format!(
                    "network '{}': layer {i} (from {}) has a non-finite parameter ({v}); weights and biases must be \
                     finite numbers",
                    self.name,
                    node.origin.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Runs the network in f64 and returns its output (the logits).
    pub fn forward(&self, x: &[f64]) -> Result<Vec<f64>> {
        self.check_input(x)?;
        Ok(self.layers.iter().fold(x.to_vec(), |v, l| l.layer.apply(&v)))
    }

    /// Runs the network and returns the output of every layer, in order.
    pub fn forward_all(&self, x: &[f64]) -> Result<Vec<Vec<f64>>> {
        self.check_input(x)?;
        let mut outs: Vec<Vec<f64>> = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let next = l.layer.apply(outs.last().map_or(x, |v| v));
            outs.push(next);
        }
        Ok(outs)
    }

    /// Gradient of `Σ weights[i]·output[i]` with respect to the input at `x` (ReLU and max-pool
    /// take the branch active at `x`). Used to search for counterexamples; nothing is proved
    /// with it.
    pub fn gradient(&self, x: &[f64], weights: &[f64]) -> Result<Vec<f64>> {
        Ok(self.output_and_gradient(x, weights)?.1)
    }

    /// The output at `x` (as `forward`) and the gradient of `gradient`, from one forward pass.
    pub fn output_and_gradient(&self, x: &[f64], weights: &[f64]) -> Result<(Vec<f64>, Vec<f64>)> {
        let outs = self.forward_all(x)?;
        let mut g = weights.to_vec();
        for (i, l) in self.layers.iter().enumerate().rev() {
            let input = if i == 0 { x } else { &outs[i - 1] };
            g = match &l.layer {
                Layer::Affine(a) => a.weights.transpose_mul_vec(&g),
                Layer::Relu => g.iter().zip(input).map(|(&g, &v)| if v > 0.0 { g } else { 0.0 }).collect(),
                Layer::SShaped(_) | Layer::Power(_) | Layer::Step(_) => {
                    let curves = l.layer.curves(input.len());
                    g.iter().zip(input).zip(curves).map(|((&g, &v), f)| g * f.slope(v)).collect()
                }
                Layer::Softmax(s) => s.backward(&outs[i], &g),
                Layer::Product(p) => {
                    let mut back = vec![0.0; input.len()];
                    for (&(a, b), &gk) in p.pairs.iter().zip(&g) {
                        back[a] += gk * input[b];
                        back[b] += gk * input[a];
                    }
                    back
                }
                Layer::MaxPool(p) => {
                    let mut back = vec![0.0; input.len()];
                    for (w, &gk) in p.windows.iter().zip(&g) {
                        if let Some(best) = w.iter().copied().reduce(|b, j| if input[j] > input[b] { j } else { b }) {
                            back[best] += gk;
                        }
                    }
                    back
                }
                Layer::IndexMap(m) => {
                    let mut back = vec![0.0; input.len()];
                    m.map.iter().zip(&g).for_each(|(j, &gk)| j.iter().for_each(|&j| back[j] += gk));
                    back
                }
            };
        }
        let output = outs.last().cloned().unwrap_or_else(|| x.to_vec());
        Ok((output, g))
    }

    /// Number of leading layers `other` has identical to this network (same parameters and
    /// shapes): a joint model computes them once for both.
    pub fn shared_prefix(&self, other: &Network) -> usize {
        if self.input_shape != other.input_shape {
            return 0;
        }
        self.layers
            .iter()
            .zip(&other.layers)
            .take_while(|(a, b)| a.layer == b.layer && a.output_shape == b.output_shape)
            .count()
    }

    /// Checks that two networks can be compared on the same inputs (same input and output sizes).
    pub fn check_compatible(&self, other: &Network) -> Result<()> {
        if self.input_size() != other.input_size() || self.output_size() != other.output_size() {
            return Err(Error::Shape(format!(
                "networks '{}' (input {:?}, output {:?}) and '{}' (input {:?}, output {:?}) are not \
                 compatible: input and output sizes must match",
                self.name,
                self.input_shape,
                self.output_shape(),
                other.name,
                other.input_shape,
                other.output_shape()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(layers: Vec<Layer>) -> Network {
        let layers =
            layers.into_iter().map(|layer| LayerNode { layer, output_shape: vec![2], origin: vec![] }).collect();
        Network { name: "t".into(), input_shape: vec![2], layers, notes: vec![] }
    }

    #[test]
    fn nan_propagates_through_relu_and_max_pool() {
        let x = [f64::NAN, -1.0];
        assert!(Layer::Relu.apply(&x)[0].is_nan());
        assert_eq!(Layer::Relu.apply(&[-0.5, 2.0]), vec![0.0, 2.0]);
        let pool = Layer::MaxPool(MaxPool { windows: vec![vec![1, 0], vec![1]] });
        let y = pool.apply(&x);
        assert!(y[0].is_nan() && y[1] == -1.0, "{y:?}");
        let shift = Layer::Affine(Affine { weights: SparseMatrix::diagonal(&[1.0, 1.0]), bias: vec![f64::NAN, 0.0] });
        let out = net(vec![shift, Layer::Relu]).forward(&[1.0, 1.0]).unwrap();
        assert!(out[0].is_nan(), "the IR does not hide a NaN behind ReLU: {out:?}");
    }

    #[test]
    fn non_finite_parameters_are_an_error_naming_the_layer() {
        let ok = Layer::Affine(Affine { weights: SparseMatrix::diagonal(&[1.0, 2.0]), bias: vec![0.0, 0.0] });
        net(vec![ok.clone(), Layer::Relu]).check_well_formed().unwrap();
        let inf = Layer::Affine(Affine { weights: SparseMatrix::diagonal(&[1.0, f64::INFINITY]), bias: vec![0.0; 2] });
        let msg = net(vec![ok, Layer::Relu, inf]).check_well_formed().unwrap_err().to_string();
        assert!(msg.contains("layer 2") && msg.contains("inf"), "{msg}");
        let empty = Layer::MaxPool(MaxPool { windows: vec![vec![0], vec![]] });
        let msg = net(vec![empty]).check_well_formed().unwrap_err().to_string();
        assert!(msg.contains("layer 0") && msg.contains("empty max-pool window"), "{msg}");
    }
}
