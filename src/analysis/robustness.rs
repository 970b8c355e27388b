//! Single-network local robustness on an L∞ region: certified lower bounds of every margin
//! `N[label] − N[j]` (verified when all are > 0) and checked counterexamples (falsified).

use serde::{Deserialize, Serialize};

use super::objective::{clip, OutputObjective, Region};
use crate::bounds::InputMap;
use crate::bounds::{Method, NetworkBounds};
use crate::data::check_label;
use crate::encode::{EncodeOptions, JointModel};
use crate::error::Result;
use crate::ir::Network;
use crate::onnx::TractRunner;
use crate::solve::{Sense, Session, SolverConfig};
use crate::tighten::{self, LpOptions};

/// The outcome for one region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Robustness {
    /// Every certified margin is > 0: no input of the region changes the class.
    Verified,
    /// A checked input of the region is classified otherwise.
    Falsified,
    Unknown,
}

#[allow(clippy::too_many_arguments)]
/// Decides robustness of `net` around `x` (class `label`) within radius `delta` ∩ `domain`; with
/// `float_sound`, for float32 inference too (`net` from `onnx::load_float32`).
pub fn check(
    net: &Network,
    runner: &TractRunner,
    x: &[f64],
    label: usize,
    delta: f64,
    map: &InputMap,
    bounds_method: Method,
    solver: &SolverConfig,
    float_sound: bool,
) -> Result<Robustness> {
    check_label(net, label)?;
    let region = map.region(x, delta)?;
    let nb: NetworkBounds = tighten::compute(net, &region, bounds_method, &LpOptions::with_solver(solver))?;
    let model = JointModel::build(&[net], &[&nb], &[], &EncodeOptions::default());
    let anchor = clip(x, &region);
    let (nets, runners, nbs) = ([net], [runner.clone()], [&nb]);
    let r = Region::new(&nets, &runners, &nbs, &model, &anchor).float_sound_if(float_sound)?;
    let mut session = Session::new(&model.lp, solver, true).ok();
    let mut verdict = Robustness::Verified;
    for j in (0..net.output_size()).filter(|&j| j != label) {
        let margin = OutputObjective { terms: vec![(1.0, 0, label), (-1.0, 0, j)], constant: 0.0 };
        let e = r.optimise_with(&margin, Sense::Minimise, session.as_mut());
        if e.attained().is_some_and(|a| a < 0.0) {
            return Ok(Robustness::Falsified);
        }
        if e.certified() <= 0.0 {
            verdict = Robustness::Unknown;
        }
    }
    Ok(verdict)
}
