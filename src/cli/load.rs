//! The one path the commands take to their inputs: networks loaded and checked against each other
//! (the only compatibility check of a run) and data rows checked and selected.

use std::path::Path;

use crate::data::{correctly_classified, Sample};
use crate::error::{Error, Result};
use crate::ir::Network;
use crate::onnx::{self, OnnxModel, TractRunner};

/// Loads every network (float32-sound when asked) and checks each against the first: the same
/// input and output sizes. Commands check compatibility here and nowhere else.
pub fn models<P: AsRef<Path>>(paths: &[P], float_sound: bool) -> Result<Vec<OnnxModel>> {
    let models = paths.iter().map(|p| onnx::load_as(p, float_sound)).collect::<Result<Vec<_>>>()?;
    if let Some((first, rest)) = models.split_first() {
        rest.iter().try_for_each(|m| first.network.check_compatible(&m.network))?;
    }
    Ok(models)
}

/// Tract's inference for every model (the reference that checked witnesses are confirmed by).
pub fn runners(models: &[OnnxModel]) -> Result<Vec<TractRunner>> {
    models.iter().map(TractRunner::new).collect()
}

/// The rows kept for analysis and how many were skipped as misclassified.
pub struct Picked {
    pub rows: Vec<Sample>,
    pub skipped: usize,
}

/// Checks that every row fits the networks (input size, a label that is a class of each) and
/// keeps those every network classifies correctly (all of them with `keep_misclassified`), at
/// most `max` of them, the first ones.
pub fn pick(
    rows: impl IntoIterator<Item = Sample>,
    nets: &[&Network],
    keep_misclassified: bool,
    max: usize,
) -> Result<Picked> {
    let mut out = Picked { rows: Vec::new(), skipped: 0 };
    for s in rows {
        if out.rows.len() == max {
            break;
        }
        if let Some(n) = nets.iter().find(|n| n.input_size() != s.features.len()) {
            return Err(Error::Shape(format!(
                "sample {} has {} features, the networks take {}",
                s.index,
                s.features.len(),
                n.input_size()
            )));
        }
        match keep_misclassified {
            true => nets.iter().try_for_each(|n| crate::data::check_label(n, s.label))?,
            false if !correctly_classified(nets, &s.features, s.label)? => {
                out.skipped += 1;
                continue;
            }
            false => {}
        }
        out.rows.push(s);
    }
    Ok(out)
}
