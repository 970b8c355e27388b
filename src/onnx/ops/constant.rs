//! Constants, shapes, casts, comparisons and Where: folded on constants (the shape and mask
//! sub-graphs exporters emit); on the activation, casts and comparisons with constants make steps.

use super::OpNode;
use crate::ir::numel;
use crate::ir::{Affine, Branch, Cmp, Layer, SparseMatrix, Step};
use crate::onnx::consts::{broadcast_shapes, checked_numel, ConstTensor};
use crate::onnx::convert::{Act, Converter, Pred, Value, R};
use crate::onnx::proto::decode_tensor;

fn shape_of(v: &Value) -> &[usize] {
    match v {
        Value::Const(c) => &c.shape,
        Value::Act(a) => &a.shape,
    }
}

pub fn constant(_: &mut Converter, n: &OpNode) -> R<Value> {
    Ok(Value::Const(n.at.constant_value()?))
}

/// The shape of input 0 (constant or activation), cut to `start..end`.
pub fn shape(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let shape = shape_of(cx.get(n.proto, 0)?);
    let r = shape.len() as i64;
    let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let (s, e) = (clampi(n.at.int_or("start", 0)), clampi(n.at.int_or("end", r)));
    let dims = shape[s..e.max(s)].iter().map(|&d| d as f64).collect();
    Ok(Value::Const(ConstTensor::vector(dims, true)))
}

pub fn size(cx: &mut Converter, n: &OpNode) -> R<Value> {
    Ok(Value::Const(ConstTensor::scalar(numel(shape_of(cx.get(n.proto, 0)?)) as f64, true)))
}

pub fn constant_of_shape(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let shape: Vec<usize> = cx.konst(n.proto, 0)?.as_ints().iter().map(|&d| d.max(0) as usize).collect();
    let fill = match n.proto.attribute.iter().find(|a| a.name == "value").and_then(|a| a.t.as_ref()) {
        Some(t) => decode_tensor(t)?,
        None => ConstTensor::scalar(0.0, false),
    };
    let [value] = fill.data[..] else {
        return Err(format!("the value attribute must hold one element, not {}", fill.data.len()));
    };
    let n = checked_numel(&shape)?;
    Ok(Value::Const(ConstTensor::new(shape, vec![value; n], fill.is_int)))
}

/// Cast of a constant to any type. Of the activation: to a float type a no-op, to bool the
/// comparison `x ≠ 0`, to int32/int64 truncation (a step layer); of a comparison: to a number its
/// 0/1 indicator (a step layer), to bool itself.
pub fn cast(cx: &mut Converter, n: &OpNode) -> R<Value> {
    const BOOL: i64 = 9;
    let to = n.at.int_or("to", 1);
    let is_float = matches!(to, 1 | 10 | 11 | 16);
    match cx.get(n.proto, 0)?.clone() {
        Value::Const(mut c) => {
            if !is_float {
                c.data.iter_mut().for_each(|x| *x = if to == BOOL { (*x != 0.0) as u8 as f64 } else { x.trunc() });
            }
            c.is_int = !is_float;
            Ok(Value::Const(c))
        }
        Value::Act(a) if a.pred.is_some() && to == BOOL => Ok(Value::Act(a)),
        Value::Act(ref a @ Act { pred: Some(ref pred), .. }) => {
            let shape = cx.act(a, true)?;
            let k = numel(&shape);
            Ok(push_select(cx, n, pred, shape, vec![Branch::Const(1.0); k], vec![Branch::Const(0.0); k]))
        }
        Value::Act(a) if to == BOOL => {
            let shape = cx.act(&a, false)?;
            let thresholds = vec![0.0; numel(&shape)];
            Ok(cx.predicate(shape, Pred { cmp: Cmp::NotEqual, thresholds }))
        }
        Value::Act(a) if matches!(to, 6 | 7) => {
            let shape = cx.act(&a, false)?;
            Ok(cx.push(Layer::Step(vec![Step::Trunc; numel(&shape)]), shape, n.label))
        }
        Value::Act(a) if is_float => cx.act(&a, false).map(|_| Value::Act(a)),
        Value::Act(_) => Err(format!(
            "casting the activation to ONNX type {to} is not supported (float types, bool, int32 and int64 are; \
             narrower integer types wrap or saturate outside their range)"
        )),
    }
}

/// Where with a constant mask: each entry from the activation (an entry of the chain's tip) or a
/// constant, as one affine map.
fn masked(cx: &mut Converter, n: &OpNode, mask: &ConstTensor, a: &Value, b: &Value) -> R<Value> {
    let shape = broadcast_shapes(&broadcast_shapes(&mask.shape, shape_of(a))?, shape_of(b))?;
    // per output entry: Ok(tip entry) or Err(constant)
    let source = |v: &Value| -> R<Vec<Result<usize, f64>>> {
        match v {
            Value::Const(k) => Ok(k.broadcast_to(&shape)?.data.into_iter().map(Err).collect()),
            Value::Act(x) => {
                cx.act(&Act { view: None, ..x.clone() }, false)?;
                Ok(x.entries_over(&shape)?.into_iter().map(Ok).collect())
            }
        }
    };
    let (then, other, mask) = (source(a)?, source(b)?, mask.broadcast_to(&shape)?);
    let picked = mask.data.iter().zip(then.into_iter().zip(other)).map(|(&m, (t, o))| if m != 0.0 { t } else { o });
    let (rows, bias): (Vec<Vec<(usize, f64)>>, Vec<f64>) = picked
        .map(|s| match s {
            Ok(k) => (vec![(k, 1.0)], 0.0),
            Err(c) => (Vec::new(), c),
        })
        .unzip();
    let weights = SparseMatrix::from_rows(cx.tip_size(), rows);
    Ok(cx.push(Layer::Affine(Affine { weights, bias }), shape, n.label))
}

/// A step layer choosing `then` where the comparison `pred` holds and `other` elsewhere.
fn push_select(
    cx: &mut Converter,
    n: &OpNode,
    pred: &Pred,
    shape: Vec<usize>,
    then: Vec<Branch>,
    other: Vec<Branch>,
) -> Value {
    let steps = pred.thresholds.iter().zip(then).zip(other);
    let steps =
        steps.map(|((&threshold, then), other)| Step::Select { cmp: pred.cmp, threshold, then, other }).collect();
    cx.push(Layer::Step(steps), shape, n.label)
}

/// Equal, Less, Greater, LessOrEqual or GreaterOrEqual: of two constants a 0/1 integer tensor; of
/// the activation and a constant (either side, broadcast to the activation) a comparison.
pub fn compare(cx: &mut Converter, n: &OpNode, cmp: Cmp) -> R<Value> {
    let (a, b) = (cx.get(n.proto, 0)?.clone(), cx.get(n.proto, 1)?.clone());
    let (act, c, cmp) = match (a, b) {
        (Value::Const(x), Value::Const(y)) => {
            let mut t = x.binary(&y, |p, q| cmp.holds(p, q) as u8 as f64)?;
            t.is_int = true;
            return Ok(Value::Const(t));
        }
        (Value::Act(a), Value::Const(c)) => (a, c, cmp),
        (Value::Const(c), Value::Act(a)) => (a, c, cmp.swapped()),
        (Value::Act(_), Value::Act(_)) => {
            return Err(format!("{} of two activations is not supported (only comparisons with constants)", n.op()))
        }
    };
    let shape = cx.act(&act, false)?;
    let c = c.broadcast_to(&shape).map_err(|_| {
        format!("the constant of shape {:?} would broadcast the activation {shape:?} to a larger shape", c.shape)
    })?;
    Ok(cx.predicate(shape, Pred { cmp, thresholds: c.data }))
}

/// Where of constants (folded); with a constant mask, an affine map taking each entry from one
/// branch (activations or constants); with a comparison of the activation as its condition and,
/// as each branch, that activation itself or a constant: a step layer.
pub fn where_(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let [c, a, b] = [0, 1, 2].map(|i| cx.get(n.proto, i).cloned());
    let (c, a, b) = (c?, a?, b?);
    let (p, pred) = match (&c, &a, &b) {
        (Value::Const(c), Value::Const(a), Value::Const(b)) => return Ok(Value::Const(ConstTensor::where_(c, a, b)?)),
        (Value::Const(mask), _, _) => return masked(cx, n, mask, &a, &b),
        (Value::Act(p @ Act { pred: Some(pred), .. }), _, _) => (p, pred),
        _ => {
            return Err("Where is supported with a constant mask or with a comparison of the activation with \
                        constants as its condition"
                .into())
        }
    };
    let shape = cx.act(p, true)?;
    let branch = |v: &Value| -> R<Vec<Branch>> {
        match v {
            Value::Const(k) => {
                let k = k.broadcast_to(&shape).map_err(|_| {
                    format!("a branch of shape {:?} would broadcast the condition {shape:?} to a larger shape", k.shape)
                })?;
                Ok(k.data.iter().map(|&x| Branch::Const(x)).collect())
            }
            Value::Act(x)
                if x.at == p.at
                    && x.shape == shape
                    && x.view == p.view
                    && x.pred.is_none()
                    && x.before_softmax.is_none() =>
            {
                Ok(vec![Branch::Entry; numel(&shape)])
            }
            Value::Act(_) => Err("a branch of Where must be the compared activation itself or a constant (another \
                                  activation would branch the graph)"
                .into()),
        }
    };
    let (then, other) = (branch(&a)?, branch(&b)?);
    Ok(push_select(cx, n, pred, shape, then, other))
}
