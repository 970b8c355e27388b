//! Data-movement operators (Identity, Reshape, Flatten, Squeeze, Unsqueeze, Gather, Transpose,
//! Slice, Split, Pad, Expand): folded on constants, index maps (or only a new shape) on the activation.

use super::OpNode;
use crate::ir::numel;
use crate::onnx::consts::{axis, broadcast_shapes, ConstTensor};
use crate::onnx::convert::{Act, Converter, Value, R};

/// Identity and Dropout (inference): the input, whatever it is.
pub fn identity(cx: &mut Converter, n: &OpNode) -> R<Value> {
    cx.get(n.proto, 0).cloned()
}

/// An operation that keeps the data in order: applied to a constant, or to the activation's
/// shape only (evaluated on a probe tensor of that shape; no layer is needed).
fn reshape_like(cx: &Converter, n: &OpNode, f: impl Fn(&ConstTensor) -> R<ConstTensor>) -> R<Value> {
    match cx.get(n.proto, 0)? {
        Value::Const(c) => Ok(Value::Const(f(c)?)),
        Value::Act(a) => {
            let shape = cx.act(a, true)?;
            let probe = ConstTensor::new(shape.clone(), vec![0.0; numel(&shape)], false);
            Ok(Value::Act(Act { shape: f(&probe)?.shape, ..a.clone() }))
        }
    }
}

pub fn reshape(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let target = cx.konst(n.proto, 1)?.as_ints();
    let allow_zero = n.at.int_or("allowzero", 0) != 0;
    reshape_like(cx, n, |t| t.reshape(&target, allow_zero))
}

pub fn flatten(cx: &mut Converter, n: &OpNode) -> R<Value> {
    reshape_like(cx, n, |t| {
        let ax = axis(n.at.int_or("axis", 1), t.shape.len() + 1)?;
        t.reshape(&[numel(&t.shape[..ax]) as i64, numel(&t.shape[ax..]) as i64], true)
    })
}

pub fn unsqueeze(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let axes = cx.ints_attr_or_input(n, "axes", 1)?.unwrap_or_default();
    reshape_like(cx, n, |t| t.unsqueeze(&axes))
}

pub fn squeeze(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let axes = cx.ints_attr_or_input(n, "axes", 1)?;
    reshape_like(cx, n, |t| t.squeeze(axes.as_deref()))
}

/// An operation that moves data: applied to a constant, or to the index tensor of the activation
/// (the result tells where each output element comes from) and pushed as an index map. `f` gets
/// the tensor and whether it stands for the activation.
fn move_data(
    cx: &mut Converter,
    n: &OpNode,
    f: impl FnOnce(&Converter, ConstTensor, bool) -> R<ConstTensor>,
) -> R<Value> {
    let (tensor, act) = match cx.get(n.proto, 0)? {
        Value::Const(c) => (c.clone(), None),
        Value::Act(a) => (ConstTensor::iota(&cx.act(a, true)?), Some(a.clone())),
    };
    let moved = f(cx, tensor, act.is_some())?;
    match act {
        None => Ok(Value::Const(moved)),
        Some(a) if a.before_softmax.is_some() => Err(format!("{} after a Softmax is not supported", n.op())),
        Some(a) if a.pred.is_some() => Err(format!("{} of a comparison of the activation is not supported", n.op())),
        Some(a) => Ok(cx.moved(&a, moved)),
    }
}

pub fn gather(cx: &mut Converter, n: &OpNode) -> R<Value> {
    move_data(cx, n, |cx, t, _| t.gather(cx.konst(n.proto, 1)?, n.at.int_or("axis", 0)))
}

pub fn transpose(cx: &mut Converter, n: &OpNode) -> R<Value> {
    move_data(cx, n, |_, t, _| t.transpose(n.at.ints("perm").as_deref()))
}

pub fn expand(cx: &mut Converter, n: &OpNode) -> R<Value> {
    move_data(cx, n, |cx, t, _| {
        let target: Vec<usize> = cx.konst(n.proto, 1)?.as_ints().iter().map(|&d| d.max(0) as usize).collect();
        t.broadcast_to(&broadcast_shapes(&t.shape, &target)?)
    })
}

pub fn slice(cx: &mut Converter, n: &OpNode) -> R<Value> {
    move_data(cx, n, |cx, t, _| {
        let starts = cx.ints_attr_or_input(n, "starts", 1)?.ok_or("Slice needs starts")?;
        let ends = cx.ints_attr_or_input(n, "ends", 2)?.ok_or("Slice needs ends")?;
        let axes = cx.ints_attr_or_input(n, "axes", 3)?;
        let steps = cx.opt_konst(n.proto, 4)?.map(|t| t.as_ints());
        t.slice(&starts, &ends, axes.as_deref(), steps.as_deref())
    })
}

/// Constant padding; the activation only with zeros (index −1 marks a padded position).
pub fn pad(cx: &mut Converter, n: &OpNode) -> R<Value> {
    move_data(cx, n, |cx, t, is_act| {
        let mode = n.at.string("mode").unwrap_or_else(|| "constant".into());
        if mode != "constant" {
            return Err(format!("Pad mode '{mode}' is not supported (only constant)"));
        }
        let pads = cx.ints_attr_or_input(n, "pads", 1)?.ok_or("Pad needs pads")?;
        if cx.opt_konst(n.proto, 3)?.is_some() {
            return Err("Pad with an axes input is not supported".into());
        }
        let value = match cx.opt_konst(n.proto, 2)? {
            Some(v) => v.data.first().copied().unwrap_or(0.0),
            None => n.at.float_or("value", 0.0) as f64,
        };
        if is_act && value != 0.0 {
            return Err(format!("Pad of the activation with value {value} is not supported (only zero padding)"));
        }
        t.pad(&pads, if is_act { -1.0 } else { value })
    })
}

/// Split along an axis (sizes from the `split` input or attribute, else equal parts): every part
/// of a constant is computed; every part of the activation is a view of it (an index map when read).
pub fn split(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let input = cx.get(n.proto, 0)?.clone();
    let shape = match &input {
        Value::Const(c) => c.shape.clone(),
        Value::Act(a) => cx.act(a, false)?,
    };
    let outs = &n.proto.output;
    let ax = axis(n.at.int_or("axis", 0), shape.len())?;
    let dim = shape[ax];
    let sizes: Vec<usize> = match cx.ints_attr_or_input(n, "split", 1)? {
        Some(s) => {
            s.iter().map(|&v| usize::try_from(v).map_err(|_| format!("negative split size {v}"))).collect::<R<_>>()?
        }
        None => {
            let part = dim.div_ceil(outs.len().max(1));
            (0..outs.len()).map(|i| part.min(dim.saturating_sub(i * part))).collect()
        }
    };
    if sizes.len() != outs.len() || sizes.iter().sum::<usize>() != dim {
        return Err(format!("split sizes {sizes:?} do not cut axis {ax} of length {dim} into {} outputs", outs.len()));
    }
    let mut first = None;
    let mut start = 0;
    for (name, &size) in outs.iter().zip(&sizes) {
        let (from, to) = (start as i64, (start + size) as i64);
        start += size;
        let piece = |t: &ConstTensor| t.slice(&[from], &[to], Some(&[ax as i64]), None);
        let value = match &input {
            Value::Const(c) => Value::Const(piece(c)?),
            Value::Act(a) => cx.moved(a, piece(&ConstTensor::iota(&shape))?),
        };
        cx.define(name, value.clone());
        first.get_or_insert(value);
    }
    first.ok_or_else(|| "Split has no output".into())
}
