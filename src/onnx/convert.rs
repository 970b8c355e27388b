//! Walks the ONNX graph in order and hands every node to its operator in the registry (`ops`);
//! keeps the values flowing through the graph (constants and the one activation) and the layers.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tract_onnx::pb;

mod layout;

use super::consts::ConstTensor;
use super::ops::{self, OpNode};
use super::proto::{decode_tensor, node_label};
use crate::error::{Error, Result};
use crate::ir::{numel, with_pass_through, Affine, Cmp, IndexMap, Layer, LayerNode, SparseMatrix};

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
    /// which all sit in the network's one input vector; a slice or other data movement of the tip;
    /// `None` entries are zero padding).
    pub view: Option<Vec<Option<usize>>>,
}

impl Act {
    /// The tip entry each of this value's entries is (`None`: zero padding): its view, or the
    /// tip's leading entries.
    pub fn entries(&self) -> Vec<Option<usize>> {
        self.view.clone().unwrap_or_else(|| (0..numel(&self.shape)).map(Some).collect())
    }

    /// The tip entry behind each entry of this value broadcast to `shape` (padding refused).
    pub fn entries_over(&self, shape: &[usize]) -> R<Vec<usize>> {
        let own = self.entries();
        let at = ConstTensor::iota(&self.shape).broadcast_to(shape)?;
        at.data
            .iter()
            .map(|&k| {
                own[k as usize].ok_or_else(|| "a zero-padded entry cannot be combined with another tensor".into())
            })
            .collect()
    }
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
    input_shape: Vec<usize>,
    pub(super) options: Options,
    /// The number of layers after the latest Softmax layer, and the tensor that Softmax read.
    softmax: Option<(usize, String)>,
    /// Activations carried behind the tip's front entries (in order) and their total length.
    carried: Vec<(String, Act)>,
    carry: usize,
    /// A layer the last operator pushed could not carry the carried entries: why.
    failed: Option<String>,
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
            let view = (inputs.len() > 1).then(|| (offset..offset + n).map(Some).collect());
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
        Ok(Converter {
            path,
            values,
            input_shape,
            options,
            softmax: None,
            carried: Vec::new(),
            carry: 0,
            failed: None,
            layers: Vec::new(),
            notes: Vec::new(),
        })
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
        let order: Vec<(usize, &pb::NodeProto)> = graph.node.iter().enumerate().filter(|(i, _)| needed[*i]).collect();
        // the position of each tensor's last reader (the target is read at the end)
        let mut last: HashMap<String, usize> = HashMap::new();
        for (pos, (_, node)) in order.iter().enumerate() {
            for input in &node.input {
                last.insert(input.clone(), pos);
            }
        }
        last.insert(target.clone(), usize::MAX);
        for (pos, &(idx, node)) in order.iter().enumerate() {
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
            self.lay_out(node, pos, &last).map_err(bad)?;
            let out = (op.convert)(&mut self, &OpNode::new(node, &label)).map_err(bad)?;
            if let Some(reason) = self.failed.take() {
                return Err(bad(reason));
            }
            let first = node.output.first().cloned().unwrap_or_default();
            self.values.insert(first, out);
        }
        self.finish(&target)
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
            Some(Value::Act(a)) if a.view.is_some() && a.at == self.layers.len() => {
                // the output is a view of the tip (a slice, one input of several): its index map
                let (shape, map) = (a.shape.clone(), a.view.clone().unwrap_or_default());
                self.push(Layer::IndexMap(IndexMap { map }), shape.clone(), name);
                Ok(self.converted(name.clone(), name, shape))
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
                let shape = a.shape.clone();
                Ok(self.converted(logits_name, name, shape))
            }
            Some(Value::Act(_)) => Err(err(format!("graph output '{name}' is not the last computed activation"))),
            Some(Value::Const(c)) => {
                // a constant network (e.g. the Shape of the input): an affine layer with no weights
                let weights = SparseMatrix::from_rows(self.tip_size(), vec![Vec::new(); c.data.len()]);
                let layer = Layer::Affine(Affine { weights, bias: c.data.clone() });
                let origin = vec![format!("constant output '{name}'")];
                self.layers.push(LayerNode { layer, output_shape: c.shape.clone(), origin });
                self.notes.push(format!("graph output '{name}' is a constant: it does not depend on the input"));
                let shape = c.shape.clone();
                Ok(self.converted(name.clone(), name, shape))
            }
            None => Err(err(format!("graph output '{name}' is never computed"))),
        }
    }

    /// The converted network computing `output_name` (its logits `logits_name`).
    fn converted(self, logits_name: String, output_name: &str, output_shape: Vec<usize>) -> Converted {
        let output_name = output_name.to_string();
        Converted { logits_name, output_name, output_shape, layers: self.layers, notes: self.notes }
    }

    /// The shape of the network's input (the concatenation of several graph inputs, flat).
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The length of the chain's tip (the input vector before any layer), carried entries left out.
    pub(super) fn tip_size(&self) -> usize {
        self.tip_total() - self.carry
    }

    /// The length of the whole tip, carried entries included.
    fn tip_total(&self) -> usize {
        self.layers.last().map_or(numel(&self.input_shape), |l| numel(&l.output_shape))
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

    /// Pushes `layer` (on the tip's front entries) with its output shape; carried entries pass
    /// through it (the layer widened, its output then flat).
    pub(super) fn push(&mut self, layer: Layer, shape: Vec<usize>, label: &str) -> Value {
        let origin = vec![label.to_string()];
        if self.carry == 0 {
            self.layers.push(LayerNode { layer, output_shape: shape.clone(), origin });
        } else {
            let (n, m, c) = (self.tip_size(), numel(&shape), self.carry);
            match with_pass_through(layer, n, m, c) {
                Ok(layers) => {
                    let mut width = n + c;
                    for layer in layers {
                        width = layer.output_len(width);
                        self.layers.push(LayerNode { layer, output_shape: vec![width], origin: origin.clone() });
                    }
                }
                Err(reason) => self.failed = Some(reason),
            }
            self.refresh_carried();
        }
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

    /// A data movement inside an operator (before its own layer): an index map pushed at once.
    pub(super) fn push_moved(&mut self, moved: ConstTensor, label: &str) -> Value {
        let map = moved.data.iter().map(|&v| (v >= 0.0).then_some(v as usize)).collect();
        self.push(Layer::IndexMap(IndexMap { map }), moved.shape, label)
    }

    /// A data-movement op applied to the activation `a`, evaluated on its index tensor: a view of
    /// the tip (an index map when something reads it).
    pub(super) fn moved(&self, a: &Act, moved: ConstTensor) -> Value {
        let own = |v: f64| (v >= 0.0).then_some(v as usize);
        let view = match &a.view {
            Some(outer) => moved.data.iter().map(|&v| own(v).and_then(|k| outer[k])).collect(),
            None => moved.data.iter().map(|&v| own(v)).collect(),
        };
        Value::Act(Act { shape: moved.shape, view: Some(view), ..a.clone() })
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
