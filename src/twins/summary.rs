//! The comparison printed for a twin: non-zeros per weight tensor, accuracy and agreement on
//! labelled rows, and the average number of unstable ReLUs under symbolic bounds at radius δ.

use std::path::Path;

use crate::bounds::{self, InputMap, Method};
use crate::data::{argmax, Sample};
use crate::error::{Error, Result};
use crate::ir::{nan_max, Network};
use crate::onnx::writer::{self, Bias};
use crate::onnx::{max_abs_diff, OnnxModel, TractRunner};

/// Non-zero weights and biases of one Gemm/MatMul/Conv node in the original and in the twin.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NodeNonzeros {
    pub node: String,
    pub tensor: String,
    pub size: usize,
    pub original: usize,
    pub twin: usize,
    pub bias_size: usize,
    pub bias_original: usize,
    pub bias_twin: usize,
}

/// Non-zeros per node of two ONNX files with the same nodes (a twin written from an original).
pub fn nonzeros(original: &Path, twin: &Path) -> Result<Vec<NodeNonzeros>> {
    let (a, b) = (writer::node_params(original)?, writer::node_params(twin)?);
    let bias = |b: &Bias| match b {
        Bias::Init(i) => (i.values.len(), i.nonzeros()),
        _ => (0, 0),
    };
    a.iter()
        .map(|p| {
            let q = b.iter().find(|q| q.node == p.node && q.weight.name == p.weight.name).ok_or_else(|| {
                Error::Input(format!("{} has no node '{}' with weight '{}'", twin.display(), p.node, p.weight.name))
            })?;
            let ((bias_size, bias_original), (_, bias_twin)) = (bias(&p.bias), bias(&q.bias));
            Ok(NodeNonzeros {
                node: p.node.clone(),
                tensor: p.weight.name.clone(),
                size: p.weight.values.len(),
                original: p.weight.nonzeros(),
                twin: q.weight.nonzeros(),
                bias_size,
                bias_original,
                bias_twin,
            })
        })
        .collect()
}

/// Correct predictions of both networks on labelled rows, and how often they predict alike.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Accuracy {
    pub rows: usize,
    pub original_correct: usize,
    pub twin_correct: usize,
    pub agree: usize,
}

/// The class each row is assigned by `net`.
pub fn predictions(net: &Network, inputs: &[Vec<f64>]) -> Result<Vec<usize>> {
    inputs.iter().map(|x| net.forward(x).map(|y| argmax(&y))).collect()
}

pub fn accuracy(original: &Network, twin: &Network, samples: &[Sample]) -> Result<Accuracy> {
    let inputs: Vec<Vec<f64>> = samples.iter().map(|s| s.features.clone()).collect();
    let (p, q) = (predictions(original, &inputs)?, predictions(twin, &inputs)?);
    let correct = |pred: &[usize]| pred.iter().zip(samples).filter(|(c, s)| **c == s.label).count();
    Ok(Accuracy {
        rows: samples.len(),
        original_correct: correct(&p),
        twin_correct: correct(&q),
        agree: p.iter().zip(&q).filter(|(a, b)| a == b).count(),
    })
}

/// Average number of unstable ReLUs (symbolic bounds) over the same rows for both networks.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Unstable {
    pub delta: f64,
    /// Indices (in the data file) of the rows averaged over.
    pub rows: Vec<usize>,
    pub original: f64,
    pub twin: f64,
}

/// Average count of unstable ReLUs of `net` over the regions of radius `delta` around `points`
/// (network inputs; `map` puts the pixel-space regions in network input space).
pub fn average_unstable(net: &Network, points: &[&[f64]], delta: f64, map: &InputMap) -> Result<f64> {
    if points.is_empty() {
        return Ok(0.0);
    }
    let mut total = 0usize;
    for x in points {
        let nb = bounds::propagate(net, &map.region(x, delta)?, Method::Symbolic, None)?;
        total += bounds::relu_stats(net, &nb).iter().map(|s| s.unstable).sum::<usize>();
    }
    Ok(total as f64 / points.len() as f64)
}

/// Unstable ReLUs at each radius, averaged over the first `count` rows the original classifies
/// correctly (the same rows for both networks, so the averages compare like with like).
pub fn unstable(
    original: &Network,
    twin: &Network,
    samples: &[Sample],
    deltas: &[f64],
    count: usize,
    map: &InputMap,
) -> Result<Vec<Unstable>> {
    let mut chosen: Vec<&Sample> = Vec::new();
    for s in samples {
        if chosen.len() == count {
            break;
        }
        if argmax(&original.forward(&s.features)?) == s.label {
            chosen.push(s);
        }
    }
    let points: Vec<&[f64]> = chosen.iter().map(|s| s.features.as_slice()).collect();
    deltas
        .iter()
        .map(|&delta| {
            Ok(Unstable {
                delta,
                rows: chosen.iter().map(|s| s.index).collect(),
                original: average_unstable(original, &points, delta, map)?,
                twin: average_unstable(twin, &points, delta, map)?,
            })
        })
        .collect()
}

/// tract's inference of a written file against the IR's forward pass on the same rows.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TractCheck {
    pub rows: usize,
    pub same_predictions: usize,
    pub max_abs_diff: f64,
}

pub fn tract_check(model: &OnnxModel, inputs: &[Vec<f64>]) -> Result<TractCheck> {
    let runner = TractRunner::new(model)?;
    let mut check = TractCheck { rows: inputs.len(), same_predictions: 0, max_abs_diff: 0.0 };
    for x in inputs {
        let (ir, tract) = (model.network.forward(x)?, runner.run(x)?);
        check.same_predictions += (argmax(&ir) == argmax(&tract)) as usize;
        check.max_abs_diff = nan_max(check.max_abs_diff, max_abs_diff(&ir, &tract));
    }
    Ok(check)
}
