//! Compressed twins of an ONNX network: magnitude pruning and per-tensor quantisation of the weight
//! initializer of every Gemm, MatMul and Conv node (biases untouched), written back as float32.
//!
//! The rules reproduce the FANC networks (anchors/FANC/proof_transfer/nets) exactly:
//! * prune `f`: per tensor of `n` weights, the `k = round(f·n)` (ties to even, as Python's
//!   `round` in `torch.nn.utils.prune`) entries of smallest magnitude become 0; ties in magnitude
//!   go to the lower flat (row-major) index. Entries already 0 sort first, so a tensor ends with
//!   exactly `k` zeros unless it had more to begin with. `fcnn7_prune_tune5` is `prune 0.5` of
//!   `fcnn7`, zero for zero.
//! * quantise to `b` bits, rule `fanc` (the default): in float32, `s = 2^(b−1)/max|w|`,
//!   `w_q = trunc(w·s)·max|w|/2^(b−1)`. This is FANC's `int(w·2^(b−1)/max|w|)`; evaluated in this
//!   order it gives `fcnn7_quant{16,8,4}` bit for bit. Note its integer range is `[−2^(b−1),
//!   2^(b−1)]` (the largest weight maps to `2^(b−1)`), one level more than a true `b`-bit integer.
//! * rule `nearest`: in f64, `w_q = round(w·L/max|w|)·max|w|/L` with `L = 2^(b−1)−1`, ties to even
//!   (the textbook symmetric scheme; tests/fixtures/*_quant8.onnx were made this way).
//! * float16: every weight rounded to the nearest IEEE half (ties to even), stored back as float32.

use std::path::Path;

use tract_onnx::prelude::f16;

use crate::error::{Error, Result};
use crate::onnx::writer::{self, Initializer};

/// Target precision of `quantize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Int16,
    Int8,
    Int4,
    Float16,
}

impl Precision {
    /// Bits of an integer precision (None for float16).
    pub fn bits(self) -> Option<i32> {
        match self {
            Precision::Int16 => Some(16),
            Precision::Int8 => Some(8),
            Precision::Int4 => Some(4),
            Precision::Float16 => None,
        }
    }
}

/// How an integer quantisation rounds (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuantRule {
    /// FANC: truncation toward zero, scale `2^(b−1)/max|w|`, float32 arithmetic.
    #[default]
    Fanc,
    /// Round to nearest (ties to even), scale `(2^(b−1)−1)/max|w|`, f64 arithmetic.
    Nearest,
}

/// What `compress` does to every weight tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Compression {
    /// Magnitude pruning of this fraction of each tensor's entries.
    Prune(f64),
    Quantize(Precision, QuantRule),
}

/// What happened to one weight tensor.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TensorChange {
    pub node: String,
    pub tensor: String,
    pub dims: Vec<usize>,
    pub zeros_before: usize,
    pub zeros_after: usize,
    pub max_abs_change: f64,
}

/// Number of entries `prune` zeroes in a tensor of `n` entries; `fraction` must lie in [0, 1].
pub fn prune_count(n: usize, fraction: f64) -> Result<usize> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(Error::Input(format!("the pruning fraction must lie in [0, 1], got {fraction}")));
    }
    Ok(((fraction * n as f64).round_ties_even() as usize).min(n))
}

/// Magnitude pruning of one tensor (see the module documentation for the exact rule).
pub fn prune_values(w: &[f32], fraction: f64) -> Result<Vec<f32>> {
    let k = prune_count(w.len(), fraction)?;
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by(|&a, &b| w[a].abs().total_cmp(&w[b].abs()).then(a.cmp(&b)));
    let mut out = w.to_vec();
    for &i in &order[..k] {
        out[i] = 0.0;
    }
    Ok(out)
}

/// Per-tensor symmetric quantisation of one tensor, dequantised back to float32.
pub fn quantize_values(w: &[f32], precision: Precision, rule: QuantRule) -> Vec<f32> {
    let Some(bits) = precision.bits() else {
        return w.iter().map(|&v| f16::from_f32(v).to_f32()).collect();
    };
    let m = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if m == 0.0 || !m.is_finite() {
        return w.to_vec();
    }
    match rule {
        QuantRule::Fanc => {
            let levels = (2.0f32).powi(bits - 1);
            let scale = levels / m;
            w.iter().map(|&v| (v * scale).trunc() * m / levels).collect()
        }
        QuantRule::Nearest => {
            let (levels, m) = ((2.0f64).powi(bits - 1) - 1.0, m as f64);
            w.iter().map(|&v| ((v as f64 * levels / m).round_ties_even() * m / levels) as f32).collect()
        }
    }
}

/// Writes to `dst` the network `src` with every Gemm/MatMul/Conv weight initializer compressed.
/// A tensor used by several nodes is compressed once.
pub fn compress(src: &Path, dst: &Path, how: Compression) -> Result<Vec<TensorChange>> {
    if let Compression::Prune(f) = how {
        prune_count(0, f)?;
    }
    let params = writer::node_params(src)?;
    if params.is_empty() {
        return Err(Error::Input(format!("{}: no Gemm, MatMul or Conv node to compress", src.display())));
    }
    let mut replaced: Vec<Initializer> = Vec::new();
    let mut changes = Vec::new();
    for p in params {
        if replaced.iter().any(|r| r.name == p.weight.name) {
            continue;
        }
        let w = &p.weight;
        let values = match how {
            Compression::Prune(f) => prune_values(&w.values, f)?,
            Compression::Quantize(q, rule) => quantize_values(&w.values, q, rule),
        };
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input(format!(
                "tensor '{}' of node '{}' has weights outside the float16 range",
                w.name, p.node
            )));
        }
        let zeros = |v: &[f32]| v.iter().filter(|&&x| x == 0.0).count();
        let max_abs_change = w.values.iter().zip(&values).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
        changes.push(TensorChange {
            node: p.node.clone(),
            tensor: w.name.clone(),
            dims: w.dims.clone(),
            zeros_before: zeros(&w.values),
            zeros_after: zeros(&values),
            max_abs_change,
        });
        replaced.push(Initializer { values, ..w.clone() });
    }
    writer::write_replacing(src, dst, &replaced)?;
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_zeroes_the_smallest_magnitudes_with_ties_to_the_lower_index() {
        let w = [0.5, -0.1, 0.1, -2.0, 0.3, 0.0];
        // k = round(0.5·6) = 3: the 0.0, then the two |0.1| entries (index 1 before 2)
        assert_eq!(prune_values(&w, 0.5).unwrap(), vec![0.5, 0.0, 0.0, -2.0, 0.3, 0.0]);
        // k = round(0.25·6) = round(1.5) = 2 (ties to even): only the 0.0 and the first 0.1
        assert_eq!(prune_values(&w, 0.25).unwrap(), vec![0.5, 0.0, 0.1, -2.0, 0.3, 0.0]);
        assert_eq!(prune_count(10, 0.25).unwrap(), 2, "2.5 rounds to 2");
        assert_eq!(prune_count(10, 0.35).unwrap(), 4, "3.5 rounds to 4");
        assert_eq!(prune_count(7, 1.0).unwrap(), 7);
        assert!(prune_values(&w, 1.5).unwrap_err().to_string().contains("[0, 1]"));
        assert!(prune_count(3, f64::NAN).is_err());
    }

    #[test]
    fn fanc_quantisation_truncates_on_a_power_of_two_grid() {
        let w = [1.0f32, -0.5, 0.3, -0.26, 0.0];
        // int4: s = 8; 0.3·8 = 2.4 → 2 → 0.25; −0.26·8 = −2.08 → −2 → −0.25; the maximum maps to 8
        assert_eq!(quantize_values(&w, Precision::Int4, QuantRule::Fanc), vec![1.0, -0.5, 0.25, -0.25, 0.0]);
        // nearest, L = 7: −0.5·7 = −3.5 → −4 (ties to even); 0.3·7 = 2.1 → 2; −0.26·7 = −1.82 → −2
        let q = quantize_values(&w, Precision::Int4, QuantRule::Nearest);
        assert_eq!(q, vec![1.0, (-4.0f64 / 7.0) as f32, (2.0f64 / 7.0) as f32, (-2.0f64 / 7.0) as f32, 0.0]);
        // a zero tensor stays zero instead of dividing by zero
        assert_eq!(quantize_values(&[0.0, 0.0], Precision::Int8, QuantRule::Fanc), vec![0.0, 0.0]);
    }

    #[test]
    fn float16_rounds_to_the_nearest_half() {
        let w = [1.0f32 + 1.0 / 4096.0, 0.1, 65520.0];
        let q = quantize_values(&w, Precision::Float16, QuantRule::Fanc);
        assert_eq!(q[0], 1.0, "1 + 2^-12 is half-way between halves 1 and 1 + 2^-10: ties to even");
        assert_eq!(q[1], 0.099975586);
        assert!(q[2].is_infinite(), "beyond the largest half: `compress` reports this as an error");
    }
}
