//! Walks the ONNX graph in order and hands every node to its operator in the registry (`ops`);
//! keeps the values flowing through the graph (constants and the one activation) and the layers.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tract_onnx::pb;

use super::consts::ConstTensor;
use super::ops::{self, OpNode};
use super::proto::{decode_tensor, node_label};
use crate::error::{Error, Result};
use crate::ir::{numel, Affine, Cmp, IndexMap, Layer, LayerNode, SparseMatrix};

/// A value flowing through the graph: a known constant, or the network's activation.
#[derive(Clone, Debug)]
pub(super) enum Value {
    Const(ConstTensor),
    Act(Act),
}

#[derive(Clone, Debug)]
pub(super) struct Act {
    pub shape: Vec<usize>,
    /// Number of IR layers that existed when this value was produced.
    pub at: usize,
    /// The tensor name before a trailing LogSoftmax, once one was applied.
    pub before_softmax: Option<String>,
    /// Set when this value is a comparison of the activation with constants: a boolean tensor, not
    /// yet a layer, that a Cast to a number or a Where turns into a step layer.
    pub pred: Option<Pred>,
    /// The entries of the chain's tip this value is, not yet a layer (one graph input of several,
    /// which all sit in the network's one input vector).
    pub view: Option<Vec<usize>>,
}

/// `x[i] ∘ thresholds[i]` for every entry `i` of the activation.
#[derive(Clone, Debug)]
pub(super) struct Pred {
    pub cmp: Cmp,
    pub thresholds: Vec<f64>,
}

/// Result of converting a graph.
pub struct Converted {
    pub layers: Vec<LayerNode>,
    pub output_shape: Vec<usize>,
    pub logits_name: String,
    pub output_name: String,
    pub notes: Vec<String>,
}

pub struct Converter<'a> {
    path: &'a Path,
    values: HashMap<String, Value>,
    /// Every tensor some node reads or the graph outputs.
    used: HashSet<String>,
    input_shape: Vec<usize>,
    pub(super) options: Options,
    /// The number of layers after the latest Softmax layer, and the tensor that Softmax read.
    softmax: Option<(usize, String)>,
    layers: Vec<LayerNode>,
    pub(super) notes: Vec<String>,
}

pub(super) type R<T> = std::result::Result<T, String>;

/// How to convert a graph.
#[derive(Clone, Debug)]
pub struct Options {
    /// The default domain's opset version.
    pub opset: i64,
    /// Keep a trailing Softmax as a layer (queries on the declared output) instead of dropping it
    /// (analyses of the logits).
    pub keep_softmax: bool,
    /// The tensor the network computes: the graph's only output by default.
    pub cut: Option<Cut>,
}

/// A tensor to compute instead of the graph's only output: one of several graph outputs, or any
/// tensor by name (a hidden node); only the nodes it depends on are converted.
#[derive(Clone, Debug, PartialEq)]
pub enum Cut {
    Output(usize),
    Tensor(String),
}

impl<'a> Converter<'a> {
    /// A converter of `graph` whose inputs (name and shape each) make one input vector, in order.
    pub fn new(
        path: &'a Path,
        graph: &pb::GraphProto,
        inputs: &[(String, Vec<usize>)],
        options: Options,
    ) -> Result<Self> {
        let mut values = HashMap::new();
        for init in &graph.initializer {
            let t = decode_tensor(init).map_err(|reason| Error::MalformedOnnx {
                path: path.to_path_buf(),
                reason: format!("initializer '{}': {reason}", init.name),
            })?;
            values.insert(init.name.clone(), Value::Const(t));
        }
        let mut offset = 0;
        for (name, shape) in inputs {
            let n = numel(shape);
            let view = (inputs.len() > 1).then(|| (offset..offset + n).collect());
            offset += n;
            values.insert(
                name.clone(),
                Value::Act(Act { shape: shape.clone(), at: 0, before_softmax: None, pred: None, view }),
            );
        }
        let input_shape = match inputs {
            [(_, shape)] => shape.clone(),
            _ => vec![offset],
        };
        let (used, softmax) = (HashSet::new(), None);
        Ok(Converter { path, values, used, input_shape, options, softmax, layers: Vec::new(), notes: Vec::new() })
    }

    /// The tensor to compute (`Options::cut`, else the graph's only output).
    fn target(&self, graph: &pb::GraphProto) -> Result<String> {
        let err = |reason: String| Error::MalformedOnnx { path: self.path.to_path_buf(), reason };
        match &self.options.cut {
            Some(Cut::Tensor(name)) => Ok(name.clone()),
            Some(Cut::Output(k)) => graph.output.get(*k).map(|o| o.name.clone()).ok_or_else(|| {
                err(format!("output {k} is asked for, but the graph has {} outputs", graph.output.len()))
            }),
            None => match graph.output.as_slice() {
                [output] => Ok(output.name.clone()),
                more => Err(err(format!(
                    "the graph has {} outputs; exactly one (the logits) is supported here (VNN-LIB queries may \
                     declare several)",
                    more.len()
                ))),
            },
        }
    }

    /// Converts the nodes the target tensor depends on, in order, then checks it is the
    /// activation (or a constant).
    pub fn run(mut self, graph: &pb::GraphProto) -> Result<Converted> {
        let path = self.path;
        let target = self.target(graph)?;
        let needed = needed_nodes(graph, &target);
        let nodes = || graph.node.iter().enumerate().filter(|(i, _)| needed[*i]);
        self.used = nodes().flat_map(|(_, n)| &n.input).filter(|n| !n.is_empty()).cloned().collect();
        self.used.insert(target.clone());
        for (idx, node) in nodes() {
            let label = node_label(idx, node);
            let op = ops::lookup(node).ok_or_else(|| Error::UnsupportedOp {
                path: path.to_path_buf(),
                node: label.clone(),
                op: if node.domain.is_empty() {
                    node.op_type.clone()
                } else {
                    format!("{}:{}", node.domain, node.op_type)
                },
                detail: String::new(),
                supported: ops::SUPPORTED_OPS.join(", "),
            })?;
            let bad = |reason: String| Error::BadNode {
                path: path.to_path_buf(),
                node: label.clone(),
                op: node.op_type.clone(),
                reason,
            };
            self.check_finite_inputs(node).map_err(bad)?;
            self.materialise_views(node).map_err(bad)?;
            let out = (op.convert)(&mut self, &OpNode::new(node, &label)).map_err(bad)?;
            let first = node.output.first().cloned().unwrap_or_default();
            self.values.insert(first, out);
        }
        self.finish(&target)
    }

    /// A graph input of several becomes a layer (an index map out of the input vector) when a
    /// node reads it, unless the node is arithmetic on two of them (a sum or difference is an
    /// affine map of both; a product or quotient is refused by the operator).
    fn materialise_views(&mut self, node: &pb::NodeProto) -> R<()> {
        let viewed = |v: Option<&Value>| matches!(v, Some(Value::Act(a)) if a.view.is_some());
        let two = node.input.len() == 2 && node.input.iter().all(|i| viewed(self.values.get(i)));
        if two && matches!(node.op_type.as_str(), "Add" | "Sub" | "Mul" | "Div") {
            return Ok(());
        }
        for name in &node.input {
            let Some(Value::Act(a)) = self.values.get(name).filter(|v| viewed(Some(v))) else { continue };
            if a.at != self.layers.len() {
                return Err("the graph branches (graph inputs are read after a layer); only sequential networks \
                            are supported"
                    .into());
            }
            let (shape, view) = (a.shape.clone(), a.view.clone().unwrap_or_default());
            let value = self.push(Layer::IndexMap(IndexMap { map: view.into_iter().map(Some).collect() }), shape, name);
            self.values.insert(name.clone(), value);
        }
        Ok(())
    }

    /// Every constant a node reads (weights, biases, constants) must be finite.
    fn check_finite_inputs(&self, node: &pb::NodeProto) -> R<()> {
        for name in &node.input {
            if let Some(Value::Const(c)) = self.values.get(name) {
                c.check_finite(name)?;
            }
        }
        Ok(())
    }

    fn finish(mut self, name: &String) -> Result<Converted> {
        let err = |reason: String| Error::MalformedOnnx { path: self.path.to_path_buf(), reason };
        match self.values.get(name) {
            Some(Value::Act(a)) if a.view.is_some() => {
                Err(err(format!("the network computes '{name}', one of its inputs; nothing to verify")))
            }
            Some(Value::Act(a)) if a.pred.is_some() => Err(err(format!(
                "graph output '{name}' is a boolean comparison of the activation; cast it to a number"
            ))),
            Some(Value::Act(a)) if a.at == self.layers.len() => {
                let mut logits_name = a.before_softmax.clone().unwrap_or_else(|| name.clone());
                if let Some((at, input)) = self.softmax.take().filter(|s| s.0 == a.at && !self.options.keep_softmax) {
                    // a trailing Softmax: the analyses reason on the logits
                    self.layers.truncate(at - 1);
                    self.notes.push(format!("trailing Softmax dropped: twinverify reasons on the logits '{input}'"));
                    logits_name = input;
                }
                Ok(Converted {
                    logits_name,
                    output_name: name.clone(),
                    output_shape: a.shape.clone(),
                    layers: self.layers,
                    notes: self.notes,
                })
            }
            Some(Value::Act(_)) => Err(err(format!("graph output '{name}' is not the last computed activation"))),
            Some(Value::Const(c)) => {
                // a constant network (e.g. the Shape of the input): an affine layer with no weights
                let weights = SparseMatrix::from_rows(self.tip_size(), vec![Vec::new(); c.data.len()]);
                let layer = Layer::Affine(Affine { weights, bias: c.data.clone() });
                let origin = vec![format!("constant output '{name}'")];
                self.layers.push(LayerNode { layer, output_shape: c.shape.clone(), origin });
                self.notes.push(format!("graph output '{name}' is a constant: it does not depend on the input"));
                Ok(Converted {
                    logits_name: name.clone(),
                    output_name: name.clone(),
                    output_shape: c.shape.clone(),
                    layers: self.layers,
                    notes: self.notes,
                })
            }
            None => Err(err(format!("graph output '{name}' is never computed"))),
        }
    }

    /// The shape of the network's input (the concatenation of several graph inputs, flat).
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The length of the chain's tip (the input vector before any layer).
    pub(super) fn tip_size(&self) -> usize {
        self.layers.last().map_or(numel(&self.input_shape), |l| numel(&l.output_shape))
    }

    /// Whether a node or the graph output reads the tensor `name`.
    pub(super) fn is_used(&self, name: &str) -> bool {
        self.used.contains(name)
    }

    /// Gives a node's further output (beyond the first, which its operator returns) a value.
    pub(super) fn define(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_string(), value);
    }

    pub(super) fn get(&self, node: &pb::NodeProto, i: usize) -> R<&Value> {
        let name = node.input.get(i).filter(|n| !n.is_empty()).ok_or_else(|| format!("missing input {i}"))?;
        self.values.get(name).ok_or_else(|| format!("input '{name}' is not defined before this node"))
    }

    pub(super) fn konst(&self, node: &pb::NodeProto, i: usize) -> R<&ConstTensor> {
        match self.get(node, i)? {
            Value::Const(c) => Ok(c),
            Value::Act(_) => Err(format!("input {i} must be a constant (weights, shape, axes), not the activation")),
        }
    }

    pub(super) fn opt_konst(&self, node: &pb::NodeProto, i: usize) -> R<Option<&ConstTensor>> {
        if node.input.get(i).is_none_or(|n| n.is_empty()) {
            return Ok(None);
        }
        self.konst(node, i).map(Some)
    }

    /// Axes given as an attribute (old opsets) or as input `i` (new opsets).
    pub(super) fn ints_attr_or_input(&self, n: &OpNode, name: &str, i: usize) -> R<Option<Vec<i64>>> {
        match n.at.ints(name) {
            Some(v) => Ok(Some(v)),
            None => Ok(self.opt_konst(n.proto, i)?.map(|t| t.as_ints())),
        }
    }

    /// Input 0 when it is the activation (operators that make a layer); a constant is an error.
    pub(super) fn act_input(&self, n: &OpNode) -> R<Act> {
        match self.get(n.proto, 0)? {
            Value::Act(a) => Ok(a.clone()),
            Value::Const(_) => Err(format!("{} on a constant is not supported", n.op())),
        }
    }

    /// Checks that an activation input is the current tip of the layer chain.
    pub(super) fn act(&self, a: &Act, shape_only: bool) -> R<Vec<usize>> {
        if a.at != self.layers.len() {
            return Err(
                "the graph branches (an earlier activation is used again); only sequential networks are supported"
                    .into(),
            );
        }
        if a.before_softmax.is_some() && !shape_only {
            return Err("LogSoftmax is supported only as the last operation of the network".into());
        }
        if a.pred.is_some() && !shape_only {
            return Err("a comparison of the activation (a boolean tensor) is supported only as the input of a Cast \
                        to a number or as the condition of a Where"
                .into());
        }
        if a.shape.contains(&0) {
            return Err(format!("the activation is empty (shape {:?})", a.shape));
        }
        Ok(a.shape.clone())
    }

    pub(super) fn push(&mut self, layer: Layer, shape: Vec<usize>, label: &str) -> Value {
        self.layers.push(LayerNode { layer, output_shape: shape.clone(), origin: vec![label.to_string()] });
        Value::Act(Act { shape, at: self.layers.len(), before_softmax: None, pred: None, view: None })
    }

    /// Pushes a Softmax layer that read the tensor `input`.
    pub(super) fn push_softmax(&mut self, layer: Layer, shape: Vec<usize>, label: &str, input: String) -> Value {
        let value = self.push(layer, shape, label);
        self.softmax = Some((self.layers.len(), input));
        value
    }

    /// The comparison `pred` of the activation at the tip of the chain, of shape `shape`.
    pub(super) fn predicate(&self, shape: Vec<usize>, pred: Pred) -> Value {
        Value::Act(Act { shape, at: self.layers.len(), before_softmax: None, pred: Some(pred), view: None })
    }

    /// A data-movement op applied to the activation: evaluated on an index tensor.
    pub(super) fn push_moved(&mut self, moved: ConstTensor, label: &str) -> Value {
        let map = moved.data.iter().map(|&v| (v >= 0.0).then_some(v as usize)).collect();
        self.push(Layer::IndexMap(IndexMap { map }), moved.shape, label)
    }
}

/// Which nodes the tensor `target` depends on (by index; the graph is in topological order).
fn needed_nodes(graph: &pb::GraphProto, target: &str) -> Vec<bool> {
    let mut wanted: HashSet<&str> = HashSet::from([target]);
    let mut needed = vec![false; graph.node.len()];
    for (i, node) in graph.node.iter().enumerate().rev() {
        if node.output.iter().any(|o| wanted.contains(o.as_str())) {
            needed[i] = true;
            wanted.extend(node.input.iter().map(String::as_str).filter(|n| !n.is_empty()));
        }
    }
    needed
}
