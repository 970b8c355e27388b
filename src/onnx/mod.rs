//! ONNX front-end: reads a classifier with tract's protobuf types and converts it to the layer IR;
//! also runs the same file through tract's own inference for cross-checks and witness replay.

mod consts;
mod convert;
mod layers;
mod ops;
mod proto;
mod tract_ref;
pub mod writer;

use std::path::{Path, PathBuf};

pub use convert::Cut;
pub use ops::{claimed_operators, SUPPORTED_OPS};
pub use tract_ref::{max_abs_diff, TractRunner};

use crate::error::{Error, Result};
use crate::ir::{IndexMap, Layer, LayerNode, Network};

/// Operator set versions of the default ONNX domain the front-end knows. From 7 on, arithmetic
/// broadcasts as numpy does (6 and older had `broadcast` attributes); operators newer than 21
/// are not known to this front-end. `supports --onnx-opset-versions` prints these bounds.
pub const OPSET_VERSIONS: std::ops::RangeInclusive<i64> = 7..=21;

/// A network read from ONNX, with what is needed to replay it through tract.
#[derive(Clone, Debug)]
pub struct OnnxModel {
    pub path: PathBuf,
    pub network: Network,
    /// The graph's inputs (name and shape), in order: the network's input vector is their
    /// concatenation.
    pub inputs: Vec<(String, Vec<usize>)>,
    /// The tensor holding the logits (before a dropped trailing Softmax).
    pub logits_name: String,
    /// The graph's declared output (differs from `logits_name` when a Softmax was dropped).
    pub output_name: String,
    /// Parameters as the file stores them (floating-point initializer elements); the IR's
    /// `Network::parameters` counts folded and expanded layers.
    pub stored_parameters: u64,
}

/// Reads an ONNX classifier and converts it to the (simplified) layer IR.
pub fn load(path: impl AsRef<Path>) -> Result<OnnxModel> {
    load_with(path.as_ref(), false, false, None)
}

/// Reads an ONNX classifier for float32-sound analysis (`bounds::float32`): one IR layer per
/// ONNX node (nothing folded), and only graphs that compute in float32 throughout.
pub fn load_float32(path: impl AsRef<Path>) -> Result<OnnxModel> {
    load_with(path.as_ref(), true, false, None)
}

/// `load_float32` when `float32`, else `load`.
pub fn load_as(path: impl AsRef<Path>, float32: bool) -> Result<OnnxModel> {
    load_with(path.as_ref(), float32, false, None)
}

/// `load_as` for queries on the graph's declared outputs (VNN-LIB): a trailing Softmax stays a
/// layer, and the network computes the tensor `cut` (one of several outputs, a hidden node) when
/// given.
pub fn load_output(path: impl AsRef<Path>, float32: bool, cut: Option<Cut>) -> Result<OnnxModel> {
    load_with(path.as_ref(), float32, true, cut)
}

fn load_with(path: &Path, float32: bool, keep_softmax: bool, cut: Option<Cut>) -> Result<OnnxModel> {
    let model = proto::read_model(path)?;
    let graph = proto::graph(&model, path)?;
    let initializers: std::collections::HashSet<&str> = graph.initializer.iter().map(|i| i.name.as_str()).collect();
    let inputs: Vec<_> = graph.input.iter().filter(|i| !initializers.contains(i.name.as_str())).collect();
    let malformed = |reason: String| Error::MalformedOnnx { path: path.to_path_buf(), reason };
    if inputs.is_empty() {
        return Err(malformed("the graph has no input".into()));
    }
    let inputs = (inputs.iter().map(|i| proto::input_shape(i).map(|s| (i.name.clone(), s))))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(malformed)?;
    if float32 {
        proto::check_float32(graph).map_err(|reason| Error::Input(format!("{}: {reason}", path.display())))?;
    }
    let options = convert::Options { opset: proto::opset(&model), keep_softmax, cut };
    let converter = convert::Converter::new(path, graph, &inputs, options)?;
    let input_shape = converter.input_shape().to_vec();
    let converted = converter.run(graph)?;
    let name = path.file_stem().map_or_else(|| "network".into(), |s| s.to_string_lossy().into_owned());
    let mut network = Network { name, input_shape, layers: converted.layers, notes: converted.notes };
    if let Some(last) = network.layers.last_mut() {
        last.output_shape = converted.output_shape.clone();
        if !float32 {
            network.simplify();
        }
    }
    if network.layers.is_empty() {
        // only reshapes (Flatten, Identity, ...): the output is the input, one identity layer
        let n = network.input_size();
        let identity = IndexMap { map: (0..n).map(Some).collect() };
        let shape = converted.output_shape;
        network.layers.push(LayerNode { layer: Layer::IndexMap(identity), output_shape: shape, origin: vec![] });
    }
    Ok(OnnxModel {
        path: path.to_path_buf(),
        network,
        inputs,
        logits_name: converted.logits_name,
        output_name: converted.output_name,
        stored_parameters: proto::stored_parameters(graph),
    })
}

/// Reads an ONNX classifier and returns only its IR.
pub fn load_network(path: impl AsRef<Path>) -> Result<Network> {
    load(path).map(|m| m.network)
}
