//! Writing ONNX back: the input model with some float32 initializers replaced and everything else
//! (graph, node names, opset, data types) unchanged; and where each node's weights and bias live.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;
use tract_onnx::pb::{self, tensor_proto::DataType};

use super::proto::{self, decode_tensor, node_label, read_model, Attrs};
use crate::error::{Error, Result};

/// A float32 initializer, decoded for reading or editing.
#[derive(Clone, Debug, PartialEq)]
pub struct Initializer {
    pub name: String,
    pub dims: Vec<usize>,
    pub values: Vec<f32>,
}

impl Initializer {
    pub fn nonzeros(&self) -> usize {
        self.values.iter().filter(|&&v| v != 0.0).count()
    }
}

/// How a weight tensor maps to the IR's `W` (rows = outputs, columns = inputs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[outputs, inputs]`: Gemm with transB = 1.
    OutIn,
    /// `[inputs, outputs]`: Gemm with transB = 0, MatMul `x · W`.
    InOut,
    /// Anything else (Conv kernels, `W · x` products): not a plain dense matrix.
    Other,
}

/// The bias of a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Bias {
    Absent,
    /// A float32 initializer (Gemm's C, Conv's B, or the constant of the Add after a MatMul).
    Init(Initializer),
    /// A bias that is not a plain initializer (computed, or a Constant node): named for errors.
    NotInitializer(String),
}

/// The parameters of one Gemm, MatMul or Conv node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeParams {
    /// The node's label (its name, or `#index` when unnamed), as in `LayerNode::origin`.
    pub node: String,
    pub op: String,
    pub weight: Initializer,
    pub layout: Layout,
    /// Gemm's alpha (the IR weights are `alpha · W`) and beta (the IR bias is `beta · C`).
    pub alpha: f32,
    pub beta: f32,
    pub bias: Bias,
    /// The Add node that supplies a MatMul's bias.
    pub bias_node: Option<String>,
    /// The weight initializer is also an input of another node.
    pub shared: bool,
}

/// The parameters of every Gemm, MatMul and Conv node of an ONNX file, in graph order. A weight
/// that is not a float32 initializer is an error naming the node.
pub fn node_params(path: &Path) -> Result<Vec<NodeParams>> {
    let model = read_model(path)?;
    let graph = proto::graph(&model, path)?;
    let reader = ParamReader::new(path, graph);
    let mut out = Vec::new();
    for (idx, node) in graph.node.iter().enumerate() {
        if matches!(node.op_type.as_str(), "Gemm" | "MatMul" | "Conv") {
            out.push(reader.params(&node_label(idx, node), node)?);
        }
    }
    Ok(out)
}

/// Reads the parameters of single nodes: the graph's initializers and how often each tensor is
/// used as an input.
struct ParamReader<'g> {
    path: &'g Path,
    graph: &'g pb::GraphProto,
    inits: HashMap<&'g str, &'g pb::TensorProto>,
    uses: HashMap<&'g str, usize>,
}

impl<'g> ParamReader<'g> {
    fn new(path: &'g Path, graph: &'g pb::GraphProto) -> Self {
        let inits = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        let mut uses: HashMap<&str, usize> = HashMap::new();
        for i in graph.node.iter().flat_map(|n| &n.input) {
            *uses.entry(i.as_str()).or_default() += 1;
        }
        ParamReader { path, graph, inits, uses }
    }

    fn bad(&self, node: &str, op: &str, reason: String) -> Error {
        Error::BadNode { path: self.path.to_path_buf(), node: node.to_string(), op: op.to_string(), reason }
    }

    /// The float32 initializer `name`, read for node `node`.
    fn initializer(&self, name: &str, node: &str, op: &str) -> Result<Initializer> {
        let t = self.inits.get(name).ok_or_else(|| self.bad(node, op, format!("'{name}' is not an initializer")))?;
        if t.data_type != DataType::Float as i32 {
            return Err(self.bad(node, op, format!("initializer '{name}' is not float32 (data type {})", t.data_type)));
        }
        let c = decode_tensor(t).map_err(|e| self.bad(node, op, e))?;
        c.check_finite(name).map_err(|e| self.bad(node, op, e))?;
        Ok(Initializer { name: name.to_string(), dims: c.shape, values: c.data.iter().map(|&v| v as f32).collect() })
    }

    fn is_init(&self, node: &pb::NodeProto, i: usize) -> bool {
        node.input.get(i).is_some_and(|n| self.inits.contains_key(n.as_str()))
    }

    /// The parameters of one Gemm, MatMul or Conv node.
    fn params(&self, label: &str, node: &pb::NodeProto) -> Result<NodeParams> {
        let op = node.op_type.as_str();
        let w_index = match op {
            "Conv" => 1,
            _ if self.is_init(node, 0) && !self.is_init(node, 1) => 0,
            _ => 1,
        };
        let w_name = match node.input.get(w_index) {
            Some(name) if self.is_init(node, w_index) => name,
            _ => return Err(self.bad(label, op, "the weight is not a plain initializer".into())),
        };
        let weight = self.initializer(w_name, label, op)?;
        let at = Attrs::new(node);
        let gemm = op == "Gemm";
        let (bias, bias_node) = self.bias(label, node)?;
        Ok(NodeParams {
            node: label.to_string(),
            op: op.to_string(),
            shared: self.uses.get(w_name.as_str()).copied().unwrap_or(0) > 1,
            layout: layout(op, w_index, &weight, &at),
            weight,
            alpha: if gemm { at.float_or("alpha", 1.0) } else { 1.0 },
            beta: if gemm { at.float_or("beta", 1.0) } else { 1.0 },
            bias,
            bias_node,
        })
    }

    /// The bias of a node (input 2, or the Add after a MatMul) and the Add's label.
    fn bias(&self, label: &str, node: &pb::NodeProto) -> Result<(Bias, Option<String>)> {
        let (input, bias_node) = match node.op_type.as_str() {
            "MatMul" => matmul_bias(self.graph, node).map_or((None, None), |(i, n)| (Some(i), Some(n))),
            _ => (node.input.get(2).filter(|n| !n.is_empty()).cloned(), None),
        };
        let bias = match input {
            None => Bias::Absent,
            Some(name) if self.inits.contains_key(name.as_str()) => {
                Bias::Init(self.initializer(&name, label, &node.op_type)?)
            }
            Some(name) => Bias::NotInitializer(name),
        };
        Ok((bias, bias_node))
    }
}

/// How the weight of a node maps to the IR's matrix.
fn layout(op: &str, w_index: usize, weight: &Initializer, at: &Attrs) -> Layout {
    match (op, w_index) {
        ("Gemm", 1) if at.int_or("transA", 0) == 0 && weight.dims.len() == 2 => {
            if at.int_or("transB", 0) != 0 {
                Layout::OutIn
            } else {
                Layout::InOut
            }
        }
        ("MatMul", 1) if weight.dims.len() == 2 => Layout::InOut,
        _ => Layout::Other,
    }
}

/// The bias input of the Add that is the only consumer of a MatMul's output, with the Add's label.
fn matmul_bias(graph: &pb::GraphProto, matmul: &pb::NodeProto) -> Option<(String, String)> {
    let out = matmul.output.first()?;
    let consumers: Vec<(usize, &pb::NodeProto)> =
        graph.node.iter().enumerate().filter(|(_, n)| n.input.iter().any(|i| i == out)).collect();
    match consumers.as_slice() {
        [(idx, add)] if add.op_type == "Add" && add.input.len() == 2 => {
            let other = add.input.iter().find(|i| *i != out)?;
            Some((other.clone(), node_label(*idx, add)))
        }
        _ => None,
    }
}

/// Writes `src` to `dst` with the named float32 initializers replaced by new values of the same
/// shape. Nothing else in the file changes: nodes, names, opset, other initializers.
pub fn write_replacing(src: &Path, dst: &Path, replacements: &[Initializer]) -> Result<()> {
    let mut model = read_model(src)?;
    let graph = model.graph.as_mut().ok_or_else(|| proto::no_graph(src))?;
    let malformed = |reason: String| Error::MalformedOnnx { path: src.to_path_buf(), reason };
    for r in replacements {
        let t = graph
            .initializer
            .iter_mut()
            .find(|t| t.name == r.name)
            .ok_or_else(|| malformed(format!("no initializer named '{}'", r.name)))?;
        let len = t.dims.iter().try_fold(1i64, |n, &d| n.checked_mul(d));
        if t.data_type != DataType::Float as i32 || len != Some(r.values.len() as i64) {
            return Err(Error::Input(format!(
                "initializer '{}' ({:?}, data type {}) cannot hold {} float32 values",
                r.name,
                t.dims,
                t.data_type,
                r.values.len()
            )));
        }
        t.float_data.clear();
        t.raw_data = r.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        t.data_location = None;
        t.external_data.clear();
    }
    std::fs::write(dst, model.encode_to_vec()).map_err(|e| Error::write(dst, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[test]
    fn gemm_and_matmul_add_layouts_and_biases() {
        let p = node_params(&fixture("twin_mlp.onnx")).unwrap();
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|n| n.op == "Gemm" && matches!(n.bias, Bias::Init(_)) && !n.shared));
        assert_eq!(p[0].weight.dims.len(), 2);
        let tf = node_params(&fixture("mlp_tf.onnx")).unwrap();
        let mm: Vec<_> = tf.iter().filter(|n| n.op == "MatMul").collect();
        assert!(!mm.is_empty());
        assert!(mm.iter().all(|n| n.layout == Layout::InOut && n.bias_node.is_some()));
        let conv = tf.iter().find(|n| n.op == "Conv").unwrap();
        assert_eq!(conv.layout, Layout::Other);
    }

    #[test]
    fn replacing_an_initializer_changes_only_that_tensor() {
        let src = fixture("twin_mlp.onnx");
        let before = node_params(&src).unwrap();
        let mut w = before[1].weight.clone();
        w.values.iter_mut().for_each(|v| *v *= 2.0);
        let dst = std::env::temp_dir().join(format!("twinverify-writer-{}.onnx", std::process::id()));
        write_replacing(&src, &dst, std::slice::from_ref(&w)).unwrap();
        let after = node_params(&dst).unwrap();
        std::fs::remove_file(&dst).ok();
        assert_eq!(after[1].weight, w);
        assert_eq!(after[0], before[0]);
        assert_eq!(after[2], before[2]);
        assert_eq!(after[1].bias, before[1].bias);
        let wrong = Initializer { name: w.name.clone(), dims: vec![1], values: vec![0.0] };
        assert!(write_replacing(&src, &dst, &[wrong]).is_err());
        let missing = Initializer { name: "nope".into(), dims: vec![1], values: vec![0.0] };
        assert!(write_replacing(&src, &dst, &[missing]).unwrap_err().to_string().contains("nope"));
    }
}
