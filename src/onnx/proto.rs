//! Raw ONNX protobuf access: decoding the file, node attributes and initializer tensors.
//! Tensors are decoded here (not through tract) so that every data type error is a value.

use std::path::Path;

use prost::Message;
use tract_onnx::pb::{self, attribute_proto::AttributeType, tensor_proto::DataType};

use super::consts::ConstTensor;
use crate::error::{Error, Result};

/// Reads and decodes an ONNX file; it must have a graph and a known default-domain opset.
pub fn read_model(path: &Path) -> Result<pb::ModelProto> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    let malformed = |reason: String| Error::MalformedOnnx { path: path.to_path_buf(), reason };
    let model =
        pb::ModelProto::decode(bytes.as_slice()).map_err(|e| malformed(format!("protobuf decoding failed: {e}")))?;
    graph(&model, path)?;
    check_opset(&model).map_err(malformed)?;
    Ok(model)
}

/// The model's graph (a model without one is malformed).
pub fn graph<'m>(model: &'m pb::ModelProto, path: &Path) -> Result<&'m pb::GraphProto> {
    model.graph.as_ref().ok_or_else(|| no_graph(path))
}

/// The error for a model without a graph.
pub fn no_graph(path: &Path) -> Error {
    Error::MalformedOnnx { path: path.to_path_buf(), reason: "the model has no graph".into() }
}

/// The default ONNX domain's opset version (`read_model` checked there is exactly one).
pub fn opset(model: &pb::ModelProto) -> i64 {
    let default = model.opset_import.iter().find(|o| o.domain.is_empty() || o.domain == "ai.onnx");
    default.map_or(*super::OPSET_VERSIONS.end(), |o| o.version)
}

/// The default ONNX domain's opset must be one the front-end knows (`OPSET_VERSIONS`).
fn check_opset(model: &pb::ModelProto) -> std::result::Result<(), String> {
    let known = super::OPSET_VERSIONS;
    let default: Vec<i64> =
        model.opset_import.iter().filter(|o| o.domain.is_empty() || o.domain == "ai.onnx").map(|o| o.version).collect();
    match default[..] {
        [v] if known.contains(&v) => Ok(()),
        [v] => {
            Err(format!("the model uses ONNX opset {v}; twinverify knows opsets {} to {}", known.start(), known.end()))
        }
        [] => Err("the model imports no version of the default ONNX operator set".into()),
        _ => Err(format!("the model imports the default ONNX operator set {} times", default.len())),
    }
}

/// The name layers and errors use for node `idx`: its own name, or `#idx` when it has none.
pub fn node_label(idx: usize, node: &pb::NodeProto) -> String {
    if node.name.is_empty() {
        format!("#{idx}")
    } else {
        node.name.clone()
    }
}

/// Decodes a tensor (raw or typed fields) into f64 values; integer types stay exact.
pub fn decode_tensor(t: &pb::TensorProto) -> std::result::Result<ConstTensor, String> {
    let shape = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
        return Err(format!("tensor '{}' keeps its data in an external file, which is not supported", t.name));
    }
    let dt = DataType::try_from(t.data_type).map_err(|_| format!("unknown data type {}", t.data_type))?;
    let raw = &t.raw_data;
    let from_raw = !raw.is_empty();
    let data: Vec<f64> = match dt {
        DataType::Float if from_raw => le_chunks::<4>(raw).map(|b| f32::from_le_bytes(b) as f64).collect(),
        DataType::Float => t.float_data.iter().map(|&v| v as f64).collect(),
        DataType::Double if from_raw => le_chunks::<8>(raw).map(f64::from_le_bytes).collect(),
        DataType::Double => t.double_data.clone(),
        DataType::Float16 if from_raw => le_chunks::<2>(raw).map(|b| f16_to_f64(u16::from_le_bytes(b))).collect(),
        DataType::Float16 => t.int32_data.iter().map(|&v| f16_to_f64(v as u16)).collect(),
        DataType::Int64 if from_raw => le_chunks::<8>(raw).map(|b| i64::from_le_bytes(b) as f64).collect(),
        DataType::Int64 => t.int64_data.iter().map(|&v| v as f64).collect(),
        DataType::Int32 if from_raw => le_chunks::<4>(raw).map(|b| i32::from_le_bytes(b) as f64).collect(),
        DataType::Int8 | DataType::Uint8 | DataType::Bool if from_raw => {
            raw.iter().map(|&b| if dt == DataType::Int8 { b as i8 as f64 } else { b as f64 }).collect()
        }
        DataType::Int32 | DataType::Int8 | DataType::Uint8 | DataType::Bool | DataType::Int16 | DataType::Uint16 => {
            t.int32_data.iter().map(|&v| v as f64).collect()
        }
        other => return Err(format!("tensor data type {other:?} is not supported")),
    };
    let expected = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if expected != Some(data.len()) {
        return Err(format!("tensor '{}' has {} values for shape {:?}", t.name, data.len(), shape));
    }
    let is_int = !matches!(dt, DataType::Float | DataType::Double | DataType::Float16);
    Ok(ConstTensor { shape, data, is_int })
}

fn le_chunks<const N: usize>(raw: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    raw.chunks_exact(N).map(|c| {
        let mut bytes = [0; N];
        bytes.copy_from_slice(c);
        bytes
    })
}

fn f16_to_f64(bits: u16) -> f64 {
    tract_onnx::prelude::f16::from_bits(bits).to_f64()
}

/// Typed access to a node's attributes.
pub struct Attrs<'a> {
    node: &'a pb::NodeProto,
}

impl<'a> Attrs<'a> {
    pub fn new(node: &'a pb::NodeProto) -> Self {
        Attrs { node }
    }

    fn get(&self, name: &str) -> Option<&'a pb::AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).map(|a| a.i)
    }

    pub fn int_or(&self, name: &str, default: i64) -> i64 {
        self.int(name).unwrap_or(default)
    }

    pub fn float_or(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f)
    }

    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.get(name).map(|a| a.ints.clone())
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    /// The value of a `Constant` node, whichever attribute holds it.
    pub fn constant_value(&self) -> std::result::Result<ConstTensor, String> {
        for a in &self.node.attribute {
            let ty = AttributeType::try_from(a.r#type).ok();
            match (a.name.as_str(), ty) {
                ("value", _) => {
                    return a.t.as_ref().ok_or("attribute 'value' holds no tensor".to_string()).and_then(decode_tensor)
                }
                ("value_float", _) => return Ok(ConstTensor::scalar(a.f as f64, false)),
                ("value_int", _) => return Ok(ConstTensor::scalar(a.i as f64, true)),
                ("value_floats", _) => {
                    return Ok(ConstTensor::vector(a.floats.iter().map(|&v| v as f64).collect(), false))
                }
                ("value_ints", _) => return Ok(ConstTensor::vector(a.ints.iter().map(|&v| v as f64).collect(), true)),
                _ => {}
            }
        }
        Err("Constant node without a supported value attribute".into())
    }
}

/// The static shape of a graph input; a symbolic or zero first dimension (the batch) becomes 1.
pub fn input_shape(info: &pb::ValueInfoProto) -> std::result::Result<Vec<usize>, String> {
    use pb::tensor_shape_proto::dimension::Value;
    let tensor = match info.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t,
        _ => return Err(format!("input '{}' is not a tensor", info.name)),
    };
    if tensor.elem_type != pb::tensor_proto::DataType::Float as i32 {
        return Err(format!(
            "input '{}' has ONNX element type {}; only float32 (type 1) networks are supported",
            info.name, tensor.elem_type
        ));
    }
    let dims = tensor.shape.as_ref().ok_or_else(|| format!("input '{}' has no shape", info.name))?;
    let shape = dims
        .dim
        .iter()
        .enumerate()
        .map(|(i, d)| match &d.value {
            Some(Value::DimValue(v)) if *v > 0 => Ok(*v as usize),
            _ if i == 0 => Ok(1),
            _ => Err(format!(
                "input '{}' has a symbolic dimension at axis {i}; only the batch axis may be symbolic",
                info.name
            )),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    super::consts::checked_numel(&shape).map_err(|e| format!("input '{}': {e}", info.name))?;
    Ok(shape)
}

/// The graph's parameter count as stored: the elements of its floating-point initializers (the
/// IR's count differs: folded normalisation, convolutions expanded to affine maps).
pub fn stored_parameters(graph: &pb::GraphProto) -> u64 {
    const FLOATS: [DataType; 4] = [DataType::Float, DataType::Float16, DataType::Double, DataType::Bfloat16];
    let float = |t: i32| FLOATS.iter().any(|&d| d as i32 == t);
    let numel = |t: &pb::TensorProto| t.dims.iter().map(|&d| u64::try_from(d).unwrap_or(0)).product::<u64>();
    graph.initializer.iter().filter(|t| float(t.data_type)).map(numel).sum()
}

/// Whether float32 inference of `graph` follows the float32 error model of `bounds::float32`:
/// no other float type (float16, double, bfloat16 weights or casts) and no BatchNormalization
/// (its square root and division round in ways the folded affine map does not show).
pub fn check_float32(graph: &pb::GraphProto) -> std::result::Result<(), String> {
    const OTHER_FLOATS: [DataType; 3] = [DataType::Float16, DataType::Double, DataType::Bfloat16];
    let other = |t: i32| OTHER_FLOATS.iter().any(|&d| d as i32 == t);
    if let Some(t) = graph.initializer.iter().find(|t| other(t.data_type)) {
        return Err(format!(
            "--float-sound: initializer '{}' has ONNX type {}; only float32 arithmetic is modelled",
            t.name, t.data_type
        ));
    }
    for (idx, node) in graph.node.iter().enumerate() {
        let cast_to_other =
            node.op_type == "Cast" && node.attribute.iter().any(|a| a.name == "to" && other(a.i as i32));
        if cast_to_other || node.op_type == "BatchNormalization" {
            return Err(format!(
                "--float-sound: node '{}' ({}) is not covered by the float32 error model (float32 \
                 arithmetic only, no BatchNormalization)",
                node_label(idx, node),
                node.op_type
            ));
        }
    }
    Ok(())
}
