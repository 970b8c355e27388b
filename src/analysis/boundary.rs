//! Distance to the decision boundary (paper 004): the largest L∞ radius ε around a sample on
//! which its class keeps a margin ≥ 0 over every other class, bracketed by LP and MILP probes.
//!
//! The answer is an interval. Its lower end is *proved*: every margin has a certified (LP-dual or
//! symbolic) lower bound ≥ 0 on the ball of that radius. Its upper end is *checked*: the
//! L∞ distance of a concrete input, re-executed through the IR and tract, where another class
//! scores higher. Exact mode bisects with MILPs between the two; the largest radius the MILP
//! claimed safe is reported as `solver` (not certified: a MILP optimum has no checkable proof).

pub mod pair;

use serde::{Deserialize, Serialize};

use super::bab::{BabSettings, ExactEngine};
use super::ball::{keep_closest, largest_radius, Ball, Exact, Probe};
pub use super::ball::{linf_distance, Counterexample};
pub use super::outcome::{Bracket, Status};
use crate::bounds::{InputMap, Method};
use crate::data::argmax;
use crate::error::{Error, Result};
use crate::ir::Network;
use crate::onnx::TractRunner;
use crate::solve::{self, SolverConfig};

/// How the search runs.
#[derive(Clone, Debug)]
pub struct BoundaryConfig {
    /// Neuron bounds under every LP/MILP (they are also the MILP's big-M values).
    pub bounds: Method,
    /// Runs the MILPs. Certified LPs always run on the embedded HiGHS: only it returns duals.
    pub solver: SolverConfig,
    /// Bisect with the exact engine after the LP phase.
    pub exact: bool,
    /// Certified branch and bound (bisection's lower end stays proved), or MILPs (the solver's word).
    pub engine: ExactEngine,
    pub bab: BabSettings,
    /// Stop when the bracket is this narrow.
    pub tolerance: f64,
    /// Largest radius searched.
    pub max_epsilon: f64,
    /// First radius tried (doubled while it is certified).
    pub start: f64,
}

impl Default for BoundaryConfig {
    fn default() -> Self {
        BoundaryConfig {
            bounds: Method::Lp,
            solver: SolverConfig::default(),
            exact: false,
            engine: ExactEngine::default(),
            bab: BabSettings::default(),
            tolerance: 1e-3,
            max_epsilon: 1.0,
            start: 0.01,
        }
    }
}

/// The distance to the decision boundary of one sample: `bracket.certified` is the proved
/// radius (no input within it changes the class), `bracket.attained` the distance of the closest
/// checked counterexample, `bracket.solver_value` (exact mode) the largest radius every MILP
/// claimed safe (not certified).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BoundaryResult {
    pub label: usize,
    #[serde(flatten)]
    pub bracket: Bracket,
    /// The closest checked counterexample found (its distance is a proved upper bound).
    pub counterexample: Option<Counterexample>,
    pub probes: usize,
    /// Probes of the exact phase (each runs the exact engine on every margin the LP left open).
    pub milp_probes: usize,
    pub seconds: f64,
}

impl BoundaryResult {
    /// The proved upper end of the interval, when a counterexample was found.
    pub fn upper(&self) -> Option<f64> {
        self.counterexample.as_ref().map(|c| c.distance)
    }
}

/// The distance to the decision boundary of `x`, which `net` must classify as `label`: the
/// certified-LP bisection, the falsifier around the radius it failed at, then (exact mode) the
/// MILP bisection between the two.
pub fn distance(
    net: &Network,
    runner: &TractRunner,
    x: &[f64],
    label: usize,
    map: &InputMap,
    cfg: &BoundaryConfig,
) -> Result<BoundaryResult> {
    let start = std::time::Instant::now();
    check_config(cfg)?;
    let predicted = argmax(&net.forward(x)?);
    if predicted != label {
        return Err(Error::Input(format!("the network classifies the sample as {predicted}, not {label}")));
    }
    if cfg.exact {
        solve::check_available(&cfg.solver)?;
    }
    let search = Search { ball: Ball { net, runner, x, label, map: map.clone(), bounds: cfg.bounds }, cfg };
    let cap = map.cap(x, cfg.max_epsilon);
    let mut best: Option<Counterexample> = None;
    let (certified, failed, probes) = search.lp_phase(cap, &mut best)?;
    let mut result = BoundaryResult {
        label,
        bracket: Bracket::open(certified),
        counterexample: None,
        probes,
        milp_probes: 0,
        seconds: 0.0,
    };
    search.falsifier_phase(certified, failed, cap, &mut best)?;
    if certified >= cap {
        result.bracket.note = Some(format!("no class change within radius {cap} (certified)"));
    } else if cfg.exact {
        search.milp_phase(failed, cap, &mut best, &mut result)?;
    }
    result.bracket.attained = best.as_ref().map(|c| c.distance);
    result.counterexample = best;
    result.bracket.close_within(cfg.tolerance);
    result.seconds = start.elapsed().as_secs_f64();
    Ok(result)
}

/// The ball family of one sample and the search's settings.
struct Search<'a> {
    ball: Ball<'a>,
    cfg: &'a BoundaryConfig,
}

impl Search<'_> {
    /// The largest radius the certified LP proves, the smallest it failed at, and the probes.
    fn lp_phase(&self, cap: f64, best: &mut Option<Counterexample>) -> Result<(f64, f64, usize)> {
        let mut probes = 0;
        let (certified, failed) = largest_radius(self.cfg.start, cap, self.cfg.tolerance, |r| {
            probes += 1;
            let (outcome, c) = self.ball.probe(r, None)?;
            let beyond = c.as_ref().map(|c| c.distance);
            keep_closest(best, c);
            Ok((outcome == Probe::Certified, beyond))
        })?;
        Ok((certified, failed, probes))
    }

    /// The falsifier alone (cheap): further out from `failed` while there is no
    /// counterexample, then bisecting closer in towards `certified`.
    fn falsifier_phase(&self, certified: f64, failed: f64, cap: f64, best: &mut Option<Counterexample>) -> Result<()> {
        let attack_all = |r: f64, best: &mut Option<Counterexample>| -> Result<()> {
            for j in (0..self.ball.net.output_size()).filter(|&j| j != self.ball.label) {
                keep_closest(best, self.ball.attack(j, r)?.1);
            }
            Ok(())
        };
        let mut r = failed;
        while best.is_none() && certified < cap && r < cap {
            r = (2.0 * r).min(cap);
            attack_all(r, best)?;
        }
        let mut below = certified;
        while let Some(hi) = best.as_ref().map(|c| c.distance).filter(|&h| h - below > self.cfg.tolerance) {
            let r = 0.5 * (below + hi);
            attack_all(r, best)?;
            if best.as_ref().is_some_and(|c| c.distance >= hi) {
                below = r;
            }
        }
        Ok(())
    }

    /// MILP bisection between the certified radius and the closest counterexample; without one,
    /// MILPs from the radius the LP failed at, doubled while they claim safety.
    fn milp_phase(
        &self,
        failed: f64,
        cap: f64,
        best: &mut Option<Counterexample>,
        result: &mut BoundaryResult,
    ) -> Result<()> {
        let (tolerance, bracket) = (self.cfg.tolerance, &mut result.bracket);
        let (mut lo, mut next) = (bracket.certified, failed);
        let converged = loop {
            let hi = best.as_ref().map(|c| c.distance);
            if hi.is_some_and(|h| h - lo <= tolerance) {
                break true;
            }
            let r = hi.map_or(next, |h| 0.5 * (lo + h));
            result.probes += 1;
            result.milp_probes += 1;
            let bab = (self.cfg.engine == ExactEngine::Bab).then_some(&self.cfg.bab);
            let (outcome, c) = self.ball.probe(r, Some(Exact { solver: &self.cfg.solver, bab }))?;
            keep_closest(best, c);
            match outcome {
                Probe::Certified | Probe::SolverSafe => {
                    if outcome == Probe::Certified {
                        bracket.certified = r;
                    }
                    lo = r;
                    if best.is_none() && r >= cap {
                        bracket.note = Some(format!("no class change within radius {cap} by the MILP"));
                        break false;
                    }
                    next = (2.0 * r).min(cap);
                }
                Probe::Counterexample => {
                    if best.as_ref().is_some_and(|c| c.distance < lo) {
                        bracket.note = Some(format!("a MILP claimed radius {lo} safe; a checked input contradicts it"));
                        lo = bracket.certified;
                    }
                }
                Probe::Unknown(why) => {
                    bracket.note = Some(format!("MILP at radius {r}: {why}"));
                    if best.is_some() || r >= cap {
                        break false;
                    }
                    // no counterexample yet: look for one further out, where they are easier to find
                    next = (2.0 * r).min(cap);
                }
            }
        };
        bracket.solver_value = Some(lo);
        // exact by the solver's word only when a MILP's claim carried it past the certified radius
        if converged && bracket.certified < lo {
            bracket.status = Status::Exact;
        }
        Ok(())
    }
}

fn check_config(cfg: &BoundaryConfig) -> Result<()> {
    let positive = |v: f64| v > 0.0 && v.is_finite();
    if !positive(cfg.tolerance) || !positive(cfg.max_epsilon) || !positive(cfg.start) {
        return Err(Error::Input(format!(
            "tolerance, max epsilon and start radius must be positive and finite (got {}, {}, {})",
            cfg.tolerance, cfg.max_epsilon, cfg.start
        )));
    }
    Ok(())
}
