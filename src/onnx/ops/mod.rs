//! The operator registry: one entry per ONNX operator the front-end converts, with its function
//! and how far it is supported; the supported and the claimed operator lists derive from it.

mod constant;
mod layer;
mod movement;

use tract_onnx::pb;

use super::convert::{Converter, Value, R};
use super::proto::Attrs;
use crate::ir::{Cmp, SShaped};
use layer::Arith;

/// One node as an operator function sees it.
pub(super) struct OpNode<'n> {
    pub proto: &'n pb::NodeProto,
    /// The node's name, or `#index` when it has none (as in `LayerNode::origin`).
    pub label: &'n str,
    pub at: Attrs<'n>,
}

impl<'n> OpNode<'n> {
    pub fn new(proto: &'n pb::NodeProto, label: &'n str) -> Self {
        OpNode { proto, label, at: Attrs::new(proto) }
    }

    pub fn op(&self) -> &'n str {
        &self.proto.op_type
    }
}

/// Converts one node: returns the value of its (first) output, pushing layers as needed.
pub(super) type Convert = fn(&mut Converter<'_>, &OpNode<'_>) -> R<Value>;

/// How far an operator is supported: only `Every` is claimed by `supports --onnx-operators`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Converted in every use a sequential network allows.
    Every,
    /// Only as the network's last operation, where it is dropped (twinverify reasons on logits).
    Last,
}

/// A registered operator.
pub(super) struct OpDef {
    pub name: &'static str,
    pub scope: Scope,
    pub convert: Convert,
}

const fn op(name: &'static str, scope: Scope, convert: Convert) -> OpDef {
    OpDef { name, scope, convert }
}

use Scope::{Every, Last};

/// Every operator of the default ONNX domain the front-end converts, in alphabetical order.
pub(super) const OPS: &[OpDef] = &[
    op("Add", Every, |cx, n| layer::arithmetic(cx, n, Arith::Add)),
    op("AveragePool", Every, |cx, n| layer::pool(cx, n, true)),
    op("BatchNormalization", Every, layer::batch_norm),
    op("Cast", Every, constant::cast),
    op("Concat", Every, layer::concat),
    op("Constant", Every, constant::constant),
    op("ConstantOfShape", Every, constant::constant_of_shape),
    op("Conv", Every, layer::conv),
    op("Div", Every, |cx, n| layer::arithmetic(cx, n, Arith::Div)),
    op("Dropout", Every, movement::identity),
    op("Equal", Every, |cx, n| constant::compare(cx, n, Cmp::Equal)),
    op("Expand", Every, movement::expand),
    op("Flatten", Every, movement::flatten),
    op("Gather", Every, movement::gather),
    op("Gemm", Every, |cx, n| layer::matmul(cx, n, true)),
    op("GlobalAveragePool", Every, layer::global_average_pool),
    op("Greater", Every, |cx, n| constant::compare(cx, n, Cmp::Greater)),
    op("GreaterOrEqual", Every, |cx, n| constant::compare(cx, n, Cmp::GreaterOrEqual)),
    op("Identity", Every, movement::identity),
    op("Less", Every, |cx, n| constant::compare(cx, n, Cmp::Less)),
    op("LessOrEqual", Every, |cx, n| constant::compare(cx, n, Cmp::LessOrEqual)),
    op("LogSoftmax", Last, layer::log_softmax),
    op("MatMul", Every, |cx, n| layer::matmul(cx, n, false)),
    op("MaxPool", Every, |cx, n| layer::pool(cx, n, false)),
    op("Mul", Every, |cx, n| layer::arithmetic(cx, n, Arith::Mul)),
    op("Neg", Every, layer::neg),
    op("Pad", Every, movement::pad),
    op("Pow", Every, layer::pow),
    op("ReduceMean", Every, |cx, n| layer::reduce(cx, n, true)),
    op("ReduceSum", Every, |cx, n| layer::reduce(cx, n, false)),
    op("Relu", Every, layer::relu),
    op("Reshape", Every, movement::reshape),
    op("Shape", Every, constant::shape),
    op("Sigmoid", Every, |cx, n| layer::sshaped(cx, n, SShaped::Sigmoid)),
    op("Size", Every, constant::size),
    op("Slice", Every, movement::slice),
    op("Softmax", Every, layer::softmax),
    op("Split", Every, movement::split),
    op("Squeeze", Every, movement::squeeze),
    op("Sub", Every, |cx, n| layer::arithmetic(cx, n, Arith::Sub)),
    op("Tanh", Every, |cx, n| layer::sshaped(cx, n, SShaped::Tanh)),
    op("Transpose", Every, movement::transpose),
    op("Unsqueeze", Every, movement::unsqueeze),
    op("Where", Every, constant::where_),
];

/// The names of every registered operator (constant sub-graph operators included).
pub const SUPPORTED_OPS: &[&str] = &names();

const fn names() -> [&'static str; OPS.len()] {
    let mut out = [""; OPS.len()];
    let mut i = 0;
    while i < OPS.len() {
        out[i] = OPS[i].name;
        i += 1;
    }
    out
}

/// The registered operator of a node (default ONNX domain only).
pub(super) fn lookup(node: &pb::NodeProto) -> Option<&'static OpDef> {
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return None;
    }
    OPS.iter().find(|o| o.name == node.op_type)
}

/// The operators converted in every use: what `supports --onnx-operators` claims.
pub fn claimed_operators() -> Vec<&'static str> {
    OPS.iter().filter(|o| o.scope == Scope::Every).map(|o| o.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_sorted_and_claims_only_operators_converted_in_every_use() {
        assert!(OPS.windows(2).all(|w| w[0].name < w[1].name), "sorted, no duplicates");
        assert_eq!(SUPPORTED_OPS.len(), OPS.len());
        let claimed = claimed_operators();
        assert!(SUPPORTED_OPS.contains(&"LogSoftmax") && !claimed.contains(&"LogSoftmax"), "only last, dropped");
        let every =
            ["Cast", "Concat", "Div", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Mul", "Pow"];
        for every in every.into_iter().chain(["ReduceMean", "ReduceSum", "Shape", "Sigmoid", "Split", "Tanh", "Where"])
        {
            assert!(claimed.contains(&every), "{every}");
        }
        assert_eq!(claimed.len(), OPS.len() - 1);
    }
}
