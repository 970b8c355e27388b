//! The pair view of the boundary distance: the largest L∞ radius at which the implication
//! "N2 ⇒ N1" is still established for a sample, by bisection over the LROM analysis.
//!
//! The lower end is proved (every certified LROM minimum ≥ the threshold on that ball). The
//! upper end is the distance of a checked input with LROM below the threshold, beyond which the
//! LROM criterion cannot establish the implication; `violated` is the distance of a checked input
//! where N2 is right and N1 wrong, where the implication itself fails.

use serde::{Deserialize, Serialize};

use super::BoundaryConfig;
use crate::analysis::ball::largest_radius;
use crate::analysis::lrom::{analyse, breaks_implication, LromConfig, Verdict};
use crate::analysis::outcome::Bracket;
use crate::bounds::InputMap;
use crate::error::Result;
use crate::ir::Network;
use crate::onnx::TractRunner;

/// The implication radius of one sample.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairRadius {
    pub label: usize,
    /// `certified`: N2 ⇒ N1 is established on the ball of this radius (proved); `attained`: the
    /// distance of the closest checked input with LROM below the threshold.
    #[serde(flatten)]
    pub bracket: Bracket,
    /// Distance of the closest checked input where N2 gives the label and N1 does not.
    pub violated: Option<f64>,
    pub probes: usize,
    pub seconds: f64,
}

/// The largest radius around `x` (label `label`) at which `analyse` establishes N2 ⇒ N1.
/// Only the minima are needed: `cfg`'s maximisation, independent baseline, implication-only
/// variant and all-pairs option are switched off.
pub fn implication_radius(
    nets: [&Network; 2],
    runners: &[TractRunner],
    x: &[f64],
    label: usize,
    map: &InputMap,
    cfg: &LromConfig,
    search: &BoundaryConfig,
) -> Result<PairRadius> {
    let start = std::time::Instant::now();
    let cfg =
        LromConfig { maximise: false, independent: false, implication_only: false, all_pairs: false, ..cfg.clone() };
    let (mut probes, mut refuted, mut violated) = (0, None::<f64>, None::<f64>);
    let closer = |slot: &mut Option<f64>, d: f64| *slot = Some(slot.map_or(d, |s| s.min(d)));
    let cap = map.cap(x, search.max_epsilon);
    let (established, _) = largest_radius(search.start, cap, search.tolerance, |delta| {
        probes += 1;
        let r = analyse(nets, runners, x, label, delta, map, &cfg)?;
        // where it is established, a witness below the threshold is rounding noise of its evaluation
        let refuting = r
            .pairs
            .iter()
            .filter(|p| r.verdict != Verdict::Established && p.min.attained().is_some_and(|a| a < cfg.threshold));
        for p in refuting {
            let d = map.distance(x, &p.min.witness);
            closer(&mut refuted, d);
            if breaks_implication(nets, runners, &p.min.witness, label)? {
                closer(&mut violated, d);
            }
        }
        Ok((r.verdict == Verdict::Established, refuted))
    })?;
    let mut bracket = Bracket { attained: refuted, ..Bracket::open(established) };
    bracket.close_within(search.tolerance);
    Ok(PairRadius { label, bracket, violated, probes, seconds: start.elapsed().as_secs_f64() })
}
