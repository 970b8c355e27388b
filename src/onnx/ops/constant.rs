//! Operators evaluated on constants: Constant, Shape, Size, ConstantOfShape, Cast, comparisons
//! and Where (the shape and mask sub-graphs exporters emit, folded away).

use super::OpNode;
use crate::ir::numel;
use crate::onnx::consts::{checked_numel, ConstTensor};
use crate::onnx::convert::{Converter, Value, R};
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

/// Cast of a constant to any type; of the activation only to a float type (a no-op).
pub fn cast(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let to = n.at.int_or("to", 1);
    let is_int = !matches!(to, 1 | 10 | 11 | 16);
    match cx.get(n.proto, 0)?.clone() {
        Value::Const(mut c) => {
            if is_int {
                c.data.iter_mut().for_each(|x| *x = if to == 9 { (*x != 0.0) as u8 as f64 } else { x.trunc() });
            }
            c.is_int = is_int;
            Ok(Value::Const(c))
        }
        Value::Act(_) if is_int => Err("casting the activation to an integer or boolean type rounds it (a step \
                                         function); only casts between float types are supported on the activation"
            .into()),
        v => Ok(v),
    }
}

/// Equal, Less or Greater of two constants (a boolean tensor, kept as 0/1 integers).
pub fn compare(cx: &mut Converter, n: &OpNode, f: fn(f64, f64) -> bool) -> R<Value> {
    if (0..2).any(|i| matches!(cx.get(n.proto, i), Ok(Value::Act(_)))) {
        return Err(format!(
            "{} of the activation is a step function (its 0/1 output jumps), which needs an encoding with \
             binary variables that twinverify does not have; only comparisons of constants (masks, shapes) \
             are supported",
            n.op()
        ));
    }
    let (a, b) = (cx.konst(n.proto, 0)?, cx.konst(n.proto, 1)?);
    let mut t = a.binary(b, |x, y| f(x, y) as u8 as f64)?;
    t.is_int = true;
    Ok(Value::Const(t))
}

pub fn where_(cx: &mut Converter, n: &OpNode) -> R<Value> {
    let (c, a, b) = (cx.konst(n.proto, 0)?, cx.konst(n.proto, 1)?, cx.konst(n.proto, 2)?);
    Ok(Value::Const(ConstTensor::where_(c, a, b)?))
}
