//! tract's own inference of an ONNX file (f32), used as the reference the IR is checked against
//! and to re-execute every witness before it is reported.

use tract_onnx::prelude::*;

use super::OnnxModel;
use crate::error::{Error, Result};

/// A runnable tract plan for one model, cut at the logits (cheap to clone: the plan is shared).
#[derive(Clone)]
pub struct TractRunner {
    plan: Arc<TypedRunnableModel>,
    /// The shape of each graph input, in order (the network's input vector is their concatenation).
    shapes: Vec<Vec<usize>>,
}

impl TractRunner {
    pub fn new(model: &OnnxModel) -> Result<Self> {
        let shapes: Vec<Vec<usize>> = model.inputs.iter().map(|(_, s)| s.clone()).collect();
        let err = |e: TractError| Error::Tract(format!("{}: {e:#}", model.path.display()));
        let facts = |m: InferenceModel| {
            shapes.iter().enumerate().try_fold(m, |m, (k, s)| m.with_input_fact(k, f32::fact(s).into()))
        };
        let plan = tract_onnx::onnx()
            .model_for_path(&model.path)
            .and_then(facts)
            .and_then(|m| m.with_outputs_by_name([model.logits_name.as_str()]))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(err)?;
        Ok(TractRunner { plan, shapes })
    }

    /// Runs the model on one input vector (rounded to f32; cut into the graph's inputs in order)
    /// and returns the logits.
    pub fn run(&self, x: &[f64]) -> Result<Vec<f64>> {
        let data: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut inputs = TVec::new();
        let mut rest = data.as_slice();
        for shape in &self.shapes {
            let (part, more) = rest.split_at(shape.iter().product::<usize>().min(rest.len()));
            inputs.push(Tensor::from_shape(shape, part).map_err(|e| Error::Tract(e.to_string()))?.into());
            rest = more;
        }
        let out = self.plan.run(inputs).map_err(|e| Error::Tract(format!("{e:#}")))?;
        let err = |e: TractError| Error::Tract(format!("{e:#}"));
        let first = out.first().ok_or_else(|| Error::Tract("the plan computed no output".into()))?;
        let values = first.cast_to::<f64>().map_err(err)?;
        let view = values.to_plain_array_view::<f64>().map_err(err)?;
        Ok(view.iter().copied().collect())
    }
}

/// The largest `|a − b|` between the IR's and tract's outputs; NaN when a value on either side
/// is not finite (a NaN or an overflow on one side is a disagreement, never a difference of 0).
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() || a.iter().chain(b).any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::max_abs_diff;

    #[test]
    fn a_non_finite_value_on_either_side_is_a_disagreement() {
        assert_eq!(max_abs_diff(&[1.0, -2.0], &[1.5, -2.0]), 0.5);
        assert!(max_abs_diff(&[1.0, 2.0], &[f64::NAN, 2.0]).is_nan());
        assert!(max_abs_diff(&[f64::NAN, 2.0], &[1.0, 2.0]).is_nan());
        assert!(max_abs_diff(&[f64::INFINITY], &[f64::INFINITY]).is_nan());
        assert!(max_abs_diff(&[1.0], &[1.0, 2.0]).is_nan());
    }
}
