//! Operators that make IR layers from the activation: arithmetic with a constant, Neg, Relu,
//! Sigmoid/Tanh, Softmax, LogSoftmax (dropped at the end), Gemm/MatMul, Conv, pooling, BatchNormalization,
//! reductions and Concat with constants.

use super::OpNode;
use crate::ir::{numel, Affine, Curve, Layer, Power, Product, SShaped, Softmax, SparseMatrix};
use crate::onnx::consts::{axis, broadcast_shapes, ConstTensor};
use crate::onnx::convert::{Act, Converter, Value, R};
use crate::onnx::layers::{self, Elementwise, WindowAttrs};
use crate::onnx::proto::Attrs;

/// The four arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// Arithmetic on two constants (folded), between the activation and a constant (an affine
/// layer, or `c / x` as `c·x^(−1)`), or of the activation with itself (`x·x` a power layer,
/// `x + x` and `x − x` affine); two different activations would need a branching graph.
pub fn arithmetic(cx: &mut Converter, n: &OpNode, op: Arith) -> R<Value> {
    let (a, b) = (cx.get(n.proto, 0)?.clone(), cx.get(n.proto, 1)?.clone());
    let (act, c, act_first) =
        match (a, b) {
            (Value::Const(x), Value::Const(y)) => {
                return Ok(Value::Const(match op {
                    Arith::Add => x.binary(&y, |p, q| p + q)?,
                    Arith::Sub => x.binary(&y, |p, q| p - q)?,
                    Arith::Mul => x.binary(&y, |p, q| p * q)?,
                    Arith::Div => x.div(&y)?,
                }))
            }
            (Value::Act(x), Value::Act(y)) if x.view.is_some() || y.view.is_some() => {
                return two_views(cx, n, op, &x, &y);
            }
            (Value::Act(x), Value::Act(y)) if x.at == y.at => {
                let shape = cx.act(&x, false)?;
                let factor = match op {
                    Arith::Mul => return Ok(push_power(cx, n, vec![Curve::Power(2.0); numel(&shape)], shape)),
                    Arith::Add => 2.0,
                    Arith::Sub => 0.0,
                    Arith::Div => {
                        return Err("the activation divided by itself (1 where it is not 0) is not supported".into())
                    }
                };
                let layer = layers::elementwise(&shape, &ConstTensor::scalar(factor, false), Elementwise::Mul)?;
                return Ok(cx.push(layer, shape, n.label));
            }
            (Value::Act(_), Value::Act(_)) => return Err(
                "both operands are activations (a residual or branching graph); only sequential networks are supported"
                    .into(),
            ),
            (Value::Act(a), Value::Const(c)) => (a, c, true),
            (Value::Const(c), Value::Act(a)) => (a, c, false),
        };
    let shape = widened(cx, n, &act, &c)?;
    let kind = match (op, act_first) {
        (Arith::Add, _) => Elementwise::Add,
        (Arith::Mul, _) => Elementwise::Mul,
        (Arith::Sub, true) => Elementwise::Sub,
        (Arith::Sub, false) => Elementwise::SubFrom,
        (Arith::Div, true) => Elementwise::Div,
        (Arith::Div, false) => {
            // c / x = c · x^(−1): a power layer, then the constant factor
            push_power(cx, n, vec![Curve::Power(-1.0); numel(&shape)], shape.clone());
            Elementwise::Mul
        }
    };
    let layer = layers::elementwise(&shape, &c, kind)?;
    Ok(cx.push(layer, shape, n.label))
}

/// Arithmetic on two views of the chain's tip (graph inputs of several, slices), broadcast to a
/// common shape: a sum or difference is one affine layer; a product a product layer (McCormick);
/// a quotient `a / b` the product of `a` and `b⁻¹` (a power layer first: `b` must not reach 0).
fn two_views(cx: &mut Converter, n: &OpNode, op: Arith, x: &Act, y: &Act) -> R<Value> {
    if x.at != y.at || [x, y].iter().any(|a| a.pred.is_some() || a.before_softmax.is_some()) {
        return Err("both operands are activations (a residual or branching graph); only sequential networks are \
                    supported"
            .into());
    }
    let shape = broadcast_shapes(&x.shape, &y.shape)?;
    let (xs, ys) = (x.entries_over(&shape)?, y.entries_over(&shape)?);
    let m = xs.len();
    match op {
        Arith::Add | Arith::Sub => {
            let sign = if op == Arith::Add { 1.0 } else { -1.0 };
            let rows = xs
                .iter()
                .zip(&ys)
                .map(|(&i, &j)| if i == j { vec![(i, 1.0 + sign)] } else { vec![(i, 1.0), (j, sign)] });
            let weights = SparseMatrix::from_rows(cx.tip_size(), rows);
            Ok(cx.push(Layer::Affine(Affine { bias: vec![0.0; weights.rows()], weights }), shape, n.label))
        }
        Arith::Mul => {
            let pairs = xs.into_iter().zip(ys).collect();
            Ok(cx.push(Layer::Product(Product { pairs }), shape, n.label))
        }
        Arith::Div if xs == ys => Err("the activation divided by itself (1 where it is not 0) is not supported".into()),
        Arith::Div => {
            let both = ConstTensor::new(vec![2 * m], xs.iter().chain(&ys).map(|&k| k as f64).collect(), false);
            cx.push_moved(both, n.label);
            let curves = (0..2 * m).map(|k| Curve::Power(if k < m { 1.0 } else { -1.0 })).collect();
            push_power(cx, n, curves, vec![2 * m]);
            Ok(cx.push(Layer::Product(Product { pairs: (0..m).map(|k| (k, m + k)).collect() }), shape, n.label))
        }
    }
}

pub fn neg(cx: &mut Converter, n: &OpNode) -> R<Value> {
    match cx.get(n.proto, 0)? {
        Value::Const(c) => Ok(Value::Const(ConstTensor { data: c.data.iter().map(|v| -v).collect(), ..c.clone() })),
        Value::Act(a) => {
            let shape = cx.act(a, false)?;
            let layer = layers::elementwise(&shape, &ConstTensor::scalar(-1.0, false), Elementwise::Mul)?;
            Ok(cx.push(layer, shape, n.label))
        }
    }
}

pub fn relu(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let shape = cx.act(&cx.act_input(n)?, false)?;
    Ok(cx.push(Layer::Relu, shape, n.label))
}

/// Concat of constants, or of activations (views of the tip, or the tip itself) with constants:
/// an affine map that copies each activation entry into its place and puts the constants into the
/// bias.
pub fn concat(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let values = (0..n.proto.input.len()).map(|i| cx.get(n.proto, i).cloned()).collect::<R<Vec<_>>>()?;
    let ax = n.at.int_or("axis", 0);
    let acts: Vec<&Act> = values.iter().filter_map(|v| if let Value::Act(a) = v { Some(a) } else { None }).collect();
    if acts.is_empty() {
        let parts: Vec<&ConstTensor> =
            values.iter().filter_map(|v| if let Value::Const(c) = v { Some(c) } else { None }).collect();
        return Ok(Value::Const(ConstTensor::concat(&parts, ax)?));
    }
    if acts.len() > 1 && acts.iter().any(|a| a.view.is_none() || a.at != acts[0].at) {
        return Err("Concat of the activation with itself or with an activation the chain did not carry".into());
    }
    // where each output comes from: tip entry k as k + 1, a constant as 0 (its value in `fill`)
    let (mut marks, mut fill) = (Vec::new(), Vec::new());
    for v in &values {
        let (m, f) = match v {
            Value::Act(a) => {
                let shape = cx.act(&Act { view: None, ..a.clone() }, false)?;
                let entries = a.entries();
                let at = entries.iter().map(|e| e.map_or(0.0, |k| k as f64 + 1.0)).collect();
                (ConstTensor::new(shape.clone(), at, false), ConstTensor::new(shape, vec![0.0; entries.len()], false))
            }
            Value::Const(c) => (ConstTensor::new(c.shape.clone(), vec![0.0; c.data.len()], false), c.clone()),
        };
        marks.push(m);
        fill.push(f);
    }
    let marks = ConstTensor::concat(&marks.iter().collect::<Vec<_>>(), ax)?;
    let fill = ConstTensor::concat(&fill.iter().collect::<Vec<_>>(), ax)?;
    let rows = marks.data.iter().map(|&m| if m > 0.0 { vec![(m as usize - 1, 1.0)] } else { Vec::new() });
    let weights = SparseMatrix::from_rows(cx.tip_size(), rows);
    Ok(cx.push(Layer::Affine(Affine { weights, bias: fill.data }), marks.shape, n.label))
}

/// ReduceSum and ReduceMean (`mean`): one affine map, applied at once to a constant.
pub fn reduce(cx: &mut Converter, n: &OpNode, mean: bool) -> R<Value> {
    let value = cx.get(n.proto, 0)?.clone();
    let shape = match &value {
        Value::Const(c) => c.shape.clone(),
        Value::Act(a) => cx.act(a, false)?,
    };
    let axes = cx.ints_attr_or_input(n, "axes", 1)?.unwrap_or_default();
    if axes.is_empty() && n.at.int_or("noop_with_empty_axes", 0) != 0 {
        return Ok(value);
    }
    let axes: Vec<usize> = match axes.is_empty() {
        true => (0..shape.len()).collect(),
        false => axes.iter().map(|&a| axis(a, shape.len())).collect::<R<_>>()?,
    };
    let (layer, out_shape) = layers::reduce(&shape, &axes, n.at.int_or("keepdims", 1) != 0, mean);
    match value {
        Value::Const(c) => Ok(Value::Const(ConstTensor::new(out_shape, layer.apply(&c.data), c.is_int && !mean))),
        Value::Act(_) => Ok(cx.push(layer, out_shape, n.label)),
    }
}

/// Pow: of two constants (folded), of the activation to a constant exponent (`x^e`, fractional
/// exponents need `x ≥ 0` and negative ones `x ≠ 0`, checked on the bounds), of a positive
/// constant base to the activation (`b^x`), or of the activation to itself (`x^x`, `x > 0`);
/// exponents and bases broadcast to the activation.
pub fn pow(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let (a, b) = (cx.get(n.proto, 0)?.clone(), cx.get(n.proto, 1)?.clone());
    let (act, c, curve): (Act, ConstTensor, fn(f64) -> Curve) = match (a, b) {
        (Value::Const(x), Value::Const(y)) => return Ok(Value::Const(x.binary(&y, f64::powf)?)),
        (Value::Act(x), Value::Act(y)) if x.at == y.at => {
            let shape = cx.act(&x, false)?;
            return Ok(push_power(cx, n, vec![Curve::SelfPower; numel(&shape)], shape));
        }
        (Value::Act(_), Value::Act(_)) => {
            return Err(
                "both operands are activations (a branching graph); only sequential networks are supported".into()
            )
        }
        (Value::Act(a), Value::Const(e)) => (a, e, Curve::Power),
        (Value::Const(base), Value::Act(a)) => {
            if base.data.iter().any(|&b| !(b > 0.0 && b.is_finite())) {
                return Err("a constant base to the power of the activation must be a positive number".into());
            }
            (a, base, Curve::Exp)
        }
    };
    let shape = widened(cx, n, &act, &c)?;
    let curves = c.broadcast_to(&shape)?.data.into_iter().map(curve).collect();
    Ok(push_power(cx, n, curves, shape))
}

/// The activation's shape broadcast with the constant `c`'s: where `c` makes it larger, an index
/// map copies the activation there first.
fn widened(cx: &mut Converter, n: &OpNode, act: &Act, c: &ConstTensor) -> R<Vec<usize>> {
    let shape = cx.act(act, false)?;
    let wide = broadcast_shapes(&shape, &c.shape)?;
    if wide != shape {
        cx.push_moved(ConstTensor::iota(&shape).broadcast_to(&wide)?, n.label);
    }
    Ok(wide)
}

fn push_power(cx: &mut Converter, n: &OpNode, curves: Vec<Curve>, shape: Vec<usize>) -> Value {
    cx.push(Layer::Power(Power { curves }), shape, n.label)
}

/// Sigmoid or Tanh of every entry.
pub fn sshaped(cx: &mut Converter, n: &OpNode, f: SShaped) -> R<Value> {
    let shape = cx.act(&cx.act_input(n)?, false)?;
    Ok(cx.push(Layer::SShaped(f), shape, n.label))
}

/// Softmax over one axis (opset 13 on; before, over the input coerced to 2-D at `axis`): a layer
/// wherever it is (the converter drops a trailing one unless asked to keep it).
pub fn softmax(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let shape = cx.act(&cx.act_input(n)?, false)?;
    let rank = shape.len();
    let groups: Vec<Vec<usize>> = if cx.options.opset >= 13 {
        let ax = axis(n.at.int_or("axis", -1), rank)?;
        let (outer, dim, inner) = (numel(&shape[..ax]), shape[ax], numel(&shape[ax + 1..]));
        let group = |o: usize, r: usize| (0..dim).map(|k| (o * dim + k) * inner + r).collect();
        (0..outer).flat_map(|o| (0..inner).map(move |r| group(o, r))).collect()
    } else {
        let block = numel(&shape[axis(n.at.int_or("axis", 1), rank + 1)?..]);
        (0..numel(&shape) / block).map(|b| (b * block..(b + 1) * block).collect()).collect()
    };
    let input = n.proto.input.first().cloned().unwrap_or_default();
    Ok(cx.push_softmax(Layer::Softmax(Softmax { groups }), shape, n.label, input))
}

/// LogSoftmax: dropped, and allowed only as the last operation (checked when anything uses its
/// result); a query on its output would need a logarithm.
pub fn log_softmax(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let a = cx.act_input(n)?;
    cx.act(&a, false)?;
    if cx.options.keep_softmax {
        return Err("LogSoftmax is supported only as the last operation of a classifier, where analyses of the \
                    logits drop it; a query on its output needs a logarithm twinverify does not encode"
            .into());
    }
    cx.notes.push(format!("trailing {} '{}' dropped: twinverify reasons on logits", n.op(), n.label));
    let name = n.proto.input.first().cloned().unwrap_or_default();
    Ok(Value::Act(Act { before_softmax: Some(name), ..a }))
}

/// Gemm (`gemm`) or MatMul between the activation and a constant matrix.
pub fn matmul(cx: &mut Converter, n: &OpNode, gemm: bool) -> R<Value> {
    let at = &n.at;
    let (a, b) = (cx.get(n.proto, 0)?.clone(), cx.get(n.proto, 1)?.clone());
    let (trans_a, trans_b) = (gemm && at.int_or("transA", 0) != 0, gemm && at.int_or("transB", 0) != 0);
    let alpha = if gemm { at.float_or("alpha", 1.0) as f64 } else { 1.0 };
    let (act, w, act_left) = match (a, b) {
        (Value::Act(x), Value::Const(w)) => (x, if trans_b { w.transpose(None)? } else { w }, true),
        (Value::Const(w), Value::Act(x)) => (x, if trans_a { w.transpose(None)? } else { w }, false),
        (Value::Act(_), Value::Act(_)) => return Err("product of two activations is not linear".into()),
        (Value::Const(_), Value::Const(_)) => return Err(format!("{} of two constants is not supported", n.op())),
    };
    let mut shape = cx.act(&act, false)?;
    if (act_left && trans_a) || (!act_left && trans_b) {
        // transpose the activation first, as an index map
        let moved = ConstTensor::iota(&shape).transpose(None)?;
        shape = moved.shape.clone();
        cx.push_moved(moved, n.label);
    }
    let (weights, out_shape) = layers::matmul(&shape, &w, act_left)?;
    let weights = if alpha != 1.0 { weights.map_values(|_, _, v| v * alpha) } else { weights };
    let mut bias = vec![0.0; weights.rows()];
    if let Some(c) = if gemm { cx.opt_konst(n.proto, 2)? } else { None } {
        let beta = at.float_or("beta", 1.0) as f64;
        bias = c.broadcast_to(&out_shape)?.data.iter().map(|v| v * beta).collect();
    }
    Ok(cx.push(Layer::Affine(Affine { weights, bias }), out_shape, n.label))
}

pub fn conv(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let shape = cx.act(&cx.act_input(n)?, false)?;
    let w = cx.konst(n.proto, 1)?;
    let b = cx.opt_konst(n.proto, 2)?;
    let attrs = window_attrs(&n.at, w.shape.get(2..).map(<[usize]>::to_vec).unwrap_or_default());
    let (layer, out) = layers::conv(&shape, &attrs, w, b, n.at.int_or("group", 1).max(0) as usize)?;
    Ok(cx.push(layer, out, n.label))
}

/// MaxPool, or AveragePool (`average`).
pub fn pool(cx: &mut Converter, n: &OpNode, average: bool) -> R<Value> {
    let shape = cx.act(&cx.act_input(n)?, false)?;
    if n.proto.output.get(1).is_some_and(|o| !o.is_empty()) {
        return Err("MaxPool indices output is not supported".into());
    }
    if n.at.int_or("storage_order", 0) != 0 {
        return Err("MaxPool storage_order=1 is not supported".into());
    }
    let kernel = n.at.ints("kernel_shape").ok_or("kernel_shape is required")?;
    let attrs = WindowAttrs { kernel, ..window_attrs(&n.at, vec![]) };
    let avg = average.then(|| n.at.int_or("count_include_pad", 0) != 0);
    let (layer, out) = layers::pool(&shape, &attrs, avg)?;
    Ok(cx.push(layer, out, n.label))
}

pub fn global_average_pool(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let shape = cx.act(&cx.act_input(n)?, false)?;
    let (layer, out) = layers::global_average(&shape)?;
    Ok(cx.push(layer, out, n.label))
}

pub fn batch_norm(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let shape = cx.act(&cx.act_input(n)?, false)?;
    if n.at.int_or("spatial", 1) == 0 {
        return Err("BatchNormalization with spatial=0 (opset 7 and 8) is not supported".into());
    }
    let p = [1, 2, 3, 4].map(|i| cx.konst(n.proto, i));
    let [scale, shift, mean, var] = p;
    let layer = layers::batch_norm(&shape, [scale?, shift?, mean?, var?], n.at.float_or("epsilon", 1e-5) as f64)?;
    Ok(cx.push(layer, shape, n.label))
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
