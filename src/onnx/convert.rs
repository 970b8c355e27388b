//! Walks the ONNX graph in order, folds constant sub-graphs (shape arithmetic, Expand/Where…)
//! and turns every operation on the activation into IR layers; anything else is a named error.

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb;

use super::consts::{axis, reshape_target, ConstTensor};
use super::layers::{self, Elementwise, WindowAttrs};
use super::proto::{decode_tensor, node_label, Attrs};
use super::SUPPORTED_OPS;
use crate::error::{Error, Result};
use crate::ir::{numel, IndexMap, Layer, LayerNode};

/// A value flowing through the graph: a known constant, or the network's activation.
#[derive(Clone, Debug)]
enum Value {
    Const(ConstTensor),
    Act(Act),
}

#[derive(Clone, Debug)]
struct Act {
    shape: Vec<usize>,
    /// Number of IR layers that existed when this value was produced.
    at: usize,
    /// The tensor name before a trailing Softmax, once one was applied.
    before_softmax: Option<String>,
}

/// Result of converting a graph.
pub struct Converted {
    pub layers: Vec<LayerNode>,
    pub output_shape: Vec<usize>,
    pub logits_name: String,
    pub notes: Vec<String>,
}

pub struct Converter<'a> {
    path: &'a Path,
    values: HashMap<String, Value>,
    layers: Vec<LayerNode>,
    notes: Vec<String>,
}

type R<T> = std::result::Result<T, String>;

impl<'a> Converter<'a> {
    pub fn new(path: &'a Path, graph: &pb::GraphProto, input_name: &str, input_shape: &[usize]) -> Result<Self> {
        let mut values = HashMap::new();
        for init in &graph.initializer {
            let t = decode_tensor(init).map_err(|reason| Error::MalformedOnnx {
                path: path.to_path_buf(),
                reason: format!("initializer '{}': {reason}", init.name),
            })?;
            values.insert(init.name.clone(), Value::Const(t));
        }
        values.insert(
            input_name.to_string(),
            Value::Act(Act { shape: input_shape.to_vec(), at: 0, before_softmax: None }),
        );
        Ok(Converter { path, values, layers: Vec::new(), notes: Vec::new() })
    }

    /// Converts every node, then checks the graph output is the activation.
    pub fn run(mut self, graph: &pb::GraphProto) -> Result<Converted> {
        for (idx, node) in graph.node.iter().enumerate() {
            let label = node_label(idx, node);
            if !SUPPORTED_OPS.contains(&node.op_type.as_str()) || !(node.domain.is_empty() || node.domain == "ai.onnx")
            {
                return Err(Error::UnsupportedOp {
                    path: self.path.to_path_buf(),
                    node: label,
                    op: if node.domain.is_empty() {
                        node.op_type.clone()
                    } else {
                        format!("{}:{}", node.domain, node.op_type)
                    },
                    detail: String::new(),
                    supported: SUPPORTED_OPS.join(", "),
                });
            }
            let out = self.node(node, &label).map_err(|reason| Error::BadNode {
                path: self.path.to_path_buf(),
                node: label.clone(),
                op: node.op_type.clone(),
                reason,
            })?;
            let first = node.output.first().cloned().unwrap_or_default();
            self.values.insert(first, out);
        }
        self.finish(graph)
    }

    fn finish(self, graph: &pb::GraphProto) -> Result<Converted> {
        let err = |reason: String| Error::MalformedOnnx { path: self.path.to_path_buf(), reason };
        if graph.output.len() != 1 {
            return Err(err(format!(
                "the graph has {} outputs; exactly one (the logits) is supported",
                graph.output.len()
            )));
        }
        let name = &graph.output[0].name;
        match self.values.get(name) {
            Some(Value::Act(a)) if a.at == self.layers.len() => Ok(Converted {
                logits_name: a.before_softmax.clone().unwrap_or_else(|| name.clone()),
                output_shape: a.shape.clone(),
                layers: self.layers,
                notes: self.notes,
            }),
            Some(Value::Act(_)) => Err(err(format!("graph output '{name}' is not the last computed activation"))),
            Some(Value::Const(_)) => Err(err(format!("graph output '{name}' does not depend on the input"))),
            None => Err(err(format!("graph output '{name}' is never computed"))),
        }
    }

    fn get(&self, node: &pb::NodeProto, i: usize) -> R<&Value> {
        let name = node.input.get(i).filter(|n| !n.is_empty()).ok_or_else(|| format!("missing input {i}"))?;
        self.values.get(name).ok_or_else(|| format!("input '{name}' is not defined before this node"))
    }

    fn konst(&self, node: &pb::NodeProto, i: usize) -> R<&ConstTensor> {
        match self.get(node, i)? {
            Value::Const(c) => Ok(c),
            Value::Act(_) => Err(format!("input {i} must be a constant (weights, shape, axes), not the activation")),
        }
    }

    fn opt_konst(&self, node: &pb::NodeProto, i: usize) -> R<Option<&ConstTensor>> {
        if node.input.get(i).is_none_or(|n| n.is_empty()) {
            return Ok(None);
        }
        self.konst(node, i).map(Some)
    }

    /// Axes given as an attribute (old opsets) or as input `i` (new opsets).
    fn ints_attr_or_input(&self, node: &pb::NodeProto, name: &str, i: usize) -> R<Option<Vec<i64>>> {
        match Attrs::new(node).ints(name) {
            Some(v) => Ok(Some(v)),
            None => Ok(self.opt_konst(node, i)?.map(|t| t.as_ints())),
        }
    }

    /// Checks that an activation input is the current tip of the layer chain.
    fn act(&self, a: &Act, shape_only: bool) -> R<Vec<usize>> {
        if a.at != self.layers.len() {
            return Err(
                "the graph branches (an earlier activation is used again); only sequential networks are supported"
                    .into(),
            );
        }
        if a.before_softmax.is_some() && !shape_only {
            return Err("Softmax is supported only as the last operation of the network".into());
        }
        Ok(a.shape.clone())
    }

    fn push(&mut self, layer: Layer, shape: Vec<usize>, label: &str) -> Value {
        self.layers.push(LayerNode { layer, output_shape: shape.clone(), origin: vec![label.to_string()] });
        Value::Act(Act { shape, at: self.layers.len(), before_softmax: None })
    }

    /// A data-movement op applied to the activation: evaluated on an index tensor.
    fn push_moved(&mut self, moved: ConstTensor, label: &str) -> Value {
        let map = moved.data.iter().map(|&v| (v >= 0.0).then_some(v as usize)).collect();
        self.push(Layer::IndexMap(IndexMap { map }), moved.shape, label)
    }

    fn reshaped(&self, a: &Act, shape: Vec<usize>) -> Value {
        Value::Act(Act { shape, ..a.clone() })
    }

    fn node(&mut self, node: &pb::NodeProto, label: &str) -> R<Value> {
        let at = Attrs::new(node);
        let op = node.op_type.as_str();
        let x = self.get(node, 0).cloned();
        match (op, x) {
            ("Constant", _) => Ok(Value::Const(at.constant_value()?)),
            ("Identity" | "Dropout", Ok(v)) => Ok(v),
            ("Shape", Ok(v)) => {
                let shape = match &v {
                    Value::Const(c) => c.shape.clone(),
                    Value::Act(a) => a.shape.clone(),
                };
                let r = shape.len() as i64;
                let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
                let (s, e) = (clampi(at.int_or("start", 0)), clampi(at.int_or("end", r)));
                let dims = shape[s..e.max(s)].iter().map(|&d| d as f64).collect();
                Ok(Value::Const(ConstTensor::vector(dims, true)))
            }
            ("Size", Ok(Value::Const(c))) => Ok(Value::Const(ConstTensor::scalar(c.data.len() as f64, true))),
            ("Size", Ok(Value::Act(a))) => Ok(Value::Const(ConstTensor::scalar(numel(&a.shape) as f64, true))),
            ("ConstantOfShape", _) => {
                let shape: Vec<usize> = self.konst(node, 0)?.as_ints().iter().map(|&d| d.max(0) as usize).collect();
                let fill = match node.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref()) {
                    Some(t) => decode_tensor(t)?,
                    None => ConstTensor::scalar(0.0, false),
                };
                let n = numel(&shape);
                Ok(Value::Const(ConstTensor::new(shape, vec![fill.data[0]; n], fill.is_int)))
            }
            ("Cast", Ok(v)) => {
                let to = at.int_or("to", 1);
                let is_int = !matches!(to, 1 | 10 | 11 | 16);
                match v {
                    Value::Const(mut c) => {
                        if is_int {
                            c.data
                                .iter_mut()
                                .for_each(|x| *x = if to == 9 { (*x != 0.0) as u8 as f64 } else { x.trunc() });
                        }
                        c.is_int = is_int;
                        Ok(Value::Const(c))
                    }
                    Value::Act(_) if is_int => Err("casting the activation to an integer type is not supported".into()),
                    v => Ok(v),
                }
            }
            ("Equal" | "Less" | "Greater", _) => {
                let (a, b) = (self.konst(node, 0)?, self.konst(node, 1)?);
                let f = match op {
                    "Equal" => |x: f64, y: f64| (x == y) as u8 as f64,
                    "Less" => |x: f64, y: f64| (x < y) as u8 as f64,
                    _ => |x: f64, y: f64| (x > y) as u8 as f64,
                };
                let mut t = a.binary(b, f)?;
                t.is_int = true;
                Ok(Value::Const(t))
            }
            ("Where", _) => {
                Ok(Value::Const(ConstTensor::where_(self.konst(node, 0)?, self.konst(node, 1)?, self.konst(node, 2)?)?))
            }
            ("Concat", _) => {
                let parts = (0..node.input.len()).map(|i| self.konst(node, i)).collect::<R<Vec<_>>>()?;
                Ok(Value::Const(ConstTensor::concat(&parts, at.int_or("axis", 0))?))
            }
            ("Add" | "Sub" | "Mul" | "Div", _) => self.arithmetic(node, op, label),
            ("Neg", Ok(Value::Const(c))) => {
                Ok(Value::Const(ConstTensor { data: c.data.iter().map(|v| -v).collect(), ..c }))
            }
            ("Neg", Ok(Value::Act(a))) => {
                let shape = self.act(&a, false)?;
                let layer = layers::elementwise(&shape, &ConstTensor::scalar(-1.0, false), Elementwise::Mul)?;
                Ok(self.push(layer, shape, label))
            }
            ("Reshape", Ok(v)) => {
                let target = self.konst(node, 1)?.as_ints();
                let allow_zero = at.int_or("allowzero", 0) != 0;
                match v {
                    Value::Const(c) => Ok(Value::Const(c.reshape(&target, allow_zero)?)),
                    Value::Act(a) => {
                        let shape = reshape_target(&self.act(&a, true)?, &target, allow_zero)?;
                        Ok(self.reshaped(&a, shape))
                    }
                }
            }
            ("Flatten", Ok(v)) => {
                let shape = match &v {
                    Value::Const(c) => c.shape.clone(),
                    Value::Act(a) => self.act(a, true)?,
                };
                let ax = axis(at.int_or("axis", 1), shape.len() + 1)?;
                let target = [numel(&shape[..ax]) as i64, numel(&shape[ax..]) as i64];
                match v {
                    Value::Const(c) => Ok(Value::Const(c.reshape(&target, true)?)),
                    Value::Act(a) => Ok(self.reshaped(&a, target.iter().map(|&d| d as usize).collect())),
                }
            }
            ("Unsqueeze" | "Squeeze", Ok(v)) => {
                let axes = self.ints_attr_or_input(node, "axes", 1)?;
                let apply = |t: &ConstTensor| match op {
                    "Unsqueeze" => t.unsqueeze(axes.as_deref().unwrap_or(&[])),
                    _ => t.squeeze(axes.as_deref()),
                };
                match v {
                    Value::Const(c) => Ok(Value::Const(apply(&c)?)),
                    Value::Act(a) => {
                        let shape = self.act(&a, true)?;
                        let probe = ConstTensor::new(shape.clone(), vec![0.0; numel(&shape)], false);
                        Ok(self.reshaped(&a, apply(&probe)?.shape))
                    }
                }
            }
            ("Gather" | "Transpose" | "Slice" | "Pad" | "Expand", Ok(v)) => self.data_movement(node, op, v, label),
            ("Relu", Ok(Value::Act(a))) => {
                let shape = self.act(&a, false)?;
                Ok(self.push(Layer::Relu, shape, label))
            }
            ("Softmax" | "LogSoftmax", Ok(Value::Act(a))) => {
                self.act(&a, false)?;
                self.notes.push(format!("trailing {op} '{label}' dropped: twinverify reasons on logits"));
                let name = node.input[0].clone();
                Ok(Value::Act(Act { before_softmax: Some(name), ..a }))
            }
            ("Gemm" | "MatMul", _) => self.matmul(node, op, label),
            ("Conv", Ok(Value::Act(a))) => {
                let shape = self.act(&a, false)?;
                let w = self.konst(node, 1)?.clone();
                let b = self.opt_konst(node, 2)?.cloned();
                let attrs = window_attrs(&at, w.shape.get(2..).map(<[usize]>::to_vec).unwrap_or_default());
                let (layer, out) = layers::conv(&shape, &attrs, &w, b.as_ref(), at.int_or("group", 1).max(0) as usize)?;
                Ok(self.push(layer, out, label))
            }
            ("MaxPool" | "AveragePool", Ok(Value::Act(a))) => {
                let shape = self.act(&a, false)?;
                if node.output.len() > 1 && !node.output[1].is_empty() {
                    return Err("MaxPool indices output is not supported".into());
                }
                if at.int_or("storage_order", 0) != 0 {
                    return Err("MaxPool storage_order=1 is not supported".into());
                }
                let kernel = at.ints("kernel_shape").ok_or("kernel_shape is required")?;
                let mut attrs = window_attrs(&at, vec![]);
                attrs.kernel = kernel;
                let avg = (op == "AveragePool").then(|| at.int_or("count_include_pad", 0) != 0);
                let (layer, out) = layers::pool(&shape, &attrs, avg)?;
                Ok(self.push(layer, out, label))
            }
            ("GlobalAveragePool", Ok(Value::Act(a))) => {
                let shape = self.act(&a, false)?;
                let (layer, out) = layers::global_average(&shape)?;
                Ok(self.push(layer, out, label))
            }
            ("BatchNormalization", Ok(Value::Act(a))) => {
                let shape = self.act(&a, false)?;
                let p = [self.konst(node, 1)?, self.konst(node, 2)?, self.konst(node, 3)?, self.konst(node, 4)?];
                let layer = layers::batch_norm(&shape, p, at.float_or("epsilon", 1e-5) as f64)?;
                Ok(self.push(layer, shape, label))
            }
            (_, Err(e)) => Err(e),
            (_, Ok(Value::Const(_))) => Err(format!("{op} on a constant is not supported")),
            (_, Ok(Value::Act(_))) => Err(format!("{op} on the activation is not supported")),
        }
    }

    fn arithmetic(&mut self, node: &pb::NodeProto, op: &str, label: &str) -> R<Value> {
        let (a, b) = (self.get(node, 0)?.clone(), self.get(node, 1)?.clone());
        let kind = |act_first: bool| match (op, act_first) {
            ("Add", _) => Ok(Elementwise::Add),
            ("Mul", _) => Ok(Elementwise::Mul),
            ("Sub", true) => Ok(Elementwise::Sub),
            ("Sub", false) => Ok(Elementwise::SubFrom),
            ("Div", true) => Ok(Elementwise::Div),
            _ => Err("dividing a constant by the activation is not linear".to_string()),
        };
        let (act, c, act_first) = match (a, b) {
            (Value::Const(x), Value::Const(y)) => {
                return Ok(Value::Const(match op {
                    "Add" => x.binary(&y, |p, q| p + q)?,
                    "Sub" => x.binary(&y, |p, q| p - q)?,
                    "Mul" => x.binary(&y, |p, q| p * q)?,
                    _ => x.div(&y)?,
                }))
            }
            (Value::Act(_), Value::Act(_)) => return Err(
                "both operands are activations (a residual or branching graph); only sequential networks are supported"
                    .into(),
            ),
            (Value::Act(a), Value::Const(c)) => (a, c, true),
            (Value::Const(c), Value::Act(a)) => (a, c, false),
        };
        let shape = self.act(&act, false)?;
        let layer = layers::elementwise(&shape, &c, kind(act_first)?)?;
        Ok(self.push(layer, shape, label))
    }

    fn data_movement(&mut self, node: &pb::NodeProto, op: &str, v: Value, label: &str) -> R<Value> {
        let at = Attrs::new(node);
        let (tensor, act) = match v {
            Value::Const(c) => (c, None),
            Value::Act(a) => (ConstTensor::iota(&self.act(&a, true)?), Some(a)),
        };
        let moved = match op {
            "Gather" => tensor.gather(self.konst(node, 1)?, at.int_or("axis", 0))?,
            "Transpose" => tensor.transpose(at.ints("perm").as_deref())?,
            "Expand" => {
                let target: Vec<usize> = self.konst(node, 1)?.as_ints().iter().map(|&d| d.max(0) as usize).collect();
                let shape = super::consts::broadcast_shapes(&tensor.shape, &target)?;
                tensor.broadcast_to(&shape)?
            }
            "Slice" => {
                let starts = self.ints_attr_or_input(node, "starts", 1)?.ok_or("Slice needs starts")?;
                let ends = self.ints_attr_or_input(node, "ends", 2)?.ok_or("Slice needs ends")?;
                let axes = self.ints_attr_or_input(node, "axes", 3)?;
                let steps = self.opt_konst(node, 4)?.map(|t| t.as_ints());
                tensor.slice(&starts, &ends, axes.as_deref(), steps.as_deref())?
            }
            _ => {
                let mode = at.string("mode").unwrap_or_else(|| "constant".into());
                if mode != "constant" {
                    return Err(format!("Pad mode '{mode}' is not supported (only constant)"));
                }
                let pads = self.ints_attr_or_input(node, "pads", 1)?.ok_or("Pad needs pads")?;
                if self.opt_konst(node, 3)?.is_some() {
                    return Err("Pad with an axes input is not supported".into());
                }
                let value = match self.opt_konst(node, 2)? {
                    Some(v) => v.data.first().copied().unwrap_or(0.0),
                    None => at.float_or("value", 0.0) as f64,
                };
                if act.is_some() && value != 0.0 {
                    return Err(format!(
                        "Pad of the activation with value {value} is not supported (only zero padding)"
                    ));
                }
                tensor.pad(&pads, if act.is_some() { -1.0 } else { value })?
            }
        };
        match act {
            None => Ok(Value::Const(moved)),
            Some(a) if a.before_softmax.is_some() => Err(format!("{op} after a Softmax is not supported")),
            Some(_) => Ok(self.push_moved(moved, label)),
        }
    }

    fn matmul(&mut self, node: &pb::NodeProto, op: &str, label: &str) -> R<Value> {
        let at = Attrs::new(node);
        let (a, b) = (self.get(node, 0)?.clone(), self.get(node, 1)?.clone());
        let gemm = op == "Gemm";
        let (trans_a, trans_b) = (gemm && at.int_or("transA", 0) != 0, gemm && at.int_or("transB", 0) != 0);
        let alpha = if gemm { at.float_or("alpha", 1.0) as f64 } else { 1.0 };
        let (act, w, act_left) = match (a, b) {
            (Value::Act(x), Value::Const(w)) => (x, if trans_b { w.transpose(None)? } else { w }, true),
            (Value::Const(w), Value::Act(x)) => (x, if trans_a { w.transpose(None)? } else { w }, false),
            (Value::Act(_), Value::Act(_)) => return Err("product of two activations is not linear".into()),
            (Value::Const(_), Value::Const(_)) => return Err(format!("{op} of two constants is not supported")),
        };
        let mut shape = self.act(&act, false)?;
        let transposed_act = (act_left && trans_a) || (!act_left && trans_b);
        if transposed_act {
            // transpose the activation first, as an index map
            let moved = ConstTensor::iota(&shape).transpose(None)?;
            shape = moved.shape.clone();
            self.push_moved(moved, label);
        }
        let (weights, out_shape) = layers::matmul(&shape, &w, act_left)?;
        let weights = if alpha != 1.0 { weights.map_values(|_, _, v| v * alpha) } else { weights };
        let mut bias = vec![0.0; weights.rows()];
        if gemm {
            if let Some(c) = self.opt_konst(node, 2)? {
                let beta = at.float_or("beta", 1.0) as f64;
                let c = c.broadcast_to(&out_shape)?;
                bias = c.data.iter().map(|v| v * beta).collect();
            }
        }
        Ok(self.push(Layer::Affine(crate::ir::Affine { weights, bias }), out_shape, label))
    }
}

fn window_attrs(at: &Attrs, kernel_from_weights: Vec<usize>) -> WindowAttrs {
    WindowAttrs {
        kernel: at.ints("kernel_shape").unwrap_or_else(|| kernel_from_weights.iter().map(|&k| k as i64).collect()),
        strides: at.ints("strides"),
        dilations: at.ints("dilations"),
        pads: at.ints("pads"),
        auto_pad: at.string("auto_pad"),
        ceil_mode: at.int_or("ceil_mode", 0) != 0,
    }
}
