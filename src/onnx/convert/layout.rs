//! The layout of the chain's tip when the graph branches: a node's activation inputs in front,
//! every activation a later node reads again carried behind them past the node's layers
//! (`ir::with_pass_through`), so residual connections stay a chain of layers.

use std::collections::HashMap;

use tract_onnx::pb;

use super::{Act, Converter, Value, R};
use crate::ir::{numel, IndexMap, Layer};

impl Converter<'_> {
    /// Lays the tip out for `node` (at position `pos` of the converted nodes; `last` gives each
    /// tensor's last reader): its activation inputs in front, then every activation at the tip
    /// read after it. With nothing to carry, views of the tip the node reads become index maps
    /// (unless it is arithmetic on two activations, which combines them itself).
    pub(super) fn lay_out(&mut self, node: &pb::NodeProto, pos: usize, last: &HashMap<String, usize>) -> R<()> {
        let tip = self.layers.len();
        let mut inputs: Vec<String> = Vec::new();
        for name in &node.input {
            if matches!(self.values.get(name), Some(Value::Act(_))) && !inputs.contains(name) {
                inputs.push(name.clone());
            }
        }
        let later = |name: &String| last.get(name).is_some_and(|&l| l > pos);
        let mut carried: Vec<(String, Act)> = (self.values.iter())
            .filter_map(|(name, v)| match v {
                Value::Act(a) if a.at == tip && a.pred.is_none() && later(name) => Some((name.clone(), a.clone())),
                _ => None,
            })
            .collect();
        carried.sort_by(|a, b| a.0.cmp(&b.0));
        (self.carry, self.carried) = (0, Vec::new());
        if carried.is_empty() {
            return self.materialise_views(node);
        }
        let mut map: Vec<Option<usize>> = Vec::new();
        let mut placed = Vec::new();
        for name in &inputs {
            let Some(Value::Act(a)) = self.values.get(name) else { continue };
            if a.at != tip || a.pred.is_some() || a.before_softmax.is_some() {
                return Err("the graph branches in a way a chain of layers cannot carry (an activation is read \
                            after layers that did not carry it, or a comparison is carried)"
                    .into());
            }
            let entries = a.entries();
            placed.push((name.clone(), a.clone(), map.len(), entries.len()));
            map.extend(entries);
        }
        let front = map.len();
        for (_, a) in &carried {
            map.extend(a.entries());
        }
        let total = map.len();
        let identity = total == self.tip_total() && map.iter().enumerate().all(|(k, &j)| j == Some(k));
        if !identity {
            let label = format!("layout for {}", node.name);
            self.push(Layer::IndexMap(IndexMap { map }), vec![total], &label);
        }
        (self.carry, self.carried) = (total - front, carried);
        self.refresh_carried();
        let (tip, single) = (self.layers.len(), placed.len() == 1);
        for (name, a, offset, len) in placed {
            let view = (!single).then(|| (offset..offset + len).map(Some).collect());
            self.values.insert(name, Value::Act(Act { at: tip, view, ..a }));
        }
        Ok(())
    }

    /// The carried activations as views of the tip's trailing entries, in order.
    pub(super) fn refresh_carried(&mut self) {
        let (tip, mut at) = (self.layers.len(), self.tip_size());
        for (name, a) in &self.carried {
            let n = numel(&a.shape);
            let view = Some((at..at + n).map(Some).collect());
            self.values.insert(name.clone(), Value::Act(Act { at: tip, view, ..a.clone() }));
            at += n;
        }
    }

    /// A view of the tip (a graph input of several, a slice) becomes a layer (an index map) when a
    /// node reads it, unless the node is arithmetic on two activations, a Concat or a Where of
    /// several (`layer::arithmetic`, `layer::concat`, `constant::where_` combine the views).
    fn materialise_views(&mut self, node: &pb::NodeProto) -> R<()> {
        let viewed = |v: Option<&Value>| matches!(v, Some(Value::Act(a)) if a.view.is_some());
        let acts = node.input.iter().filter(|i| matches!(self.values.get(*i), Some(Value::Act(_)))).count();
        let any = node.input.iter().any(|i| viewed(self.values.get(i)));
        let combines = matches!(node.op_type.as_str(), "Add" | "Sub" | "Mul" | "Div") && acts == 2;
        if any && (combines || (matches!(node.op_type.as_str(), "Concat" | "Where") && acts >= 2)) {
            return Ok(());
        }
        for name in &node.input {
            let Some(Value::Act(a)) = self.values.get(name).filter(|v| viewed(Some(v))) else { continue };
            if a.at != self.layers.len() {
                return Err("the graph branches (graph inputs are read after a layer); only sequential networks \
                            are supported"
                    .into());
            }
            let (shape, map) = (a.shape.clone(), a.view.clone().unwrap_or_default());
            let value = self.push(Layer::IndexMap(IndexMap { map }), shape, name);
            self.values.insert(name.clone(), value);
        }
        Ok(())
    }
}
