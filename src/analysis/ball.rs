//! One sample and the family of L∞ balls around it (clipped to the domain), as the boundary and
//! resilience searches see it: certified margins per radius, the falsifier, and radius search.
//!
//! A probe of one radius is certified (every margin's LP-dual or symbolic bound ≥ 0), safe by
//! the solver's word (MILP), refuted by a checked counterexample, or unknown.

use serde::{Deserialize, Serialize};

use super::bab::{self, BabSettings, Target};
use super::falsify;
use super::objective::{clip, tract_agrees, Extremum, OutputObjective, Region};
use crate::bounds::{InputMap, Method, NetworkBounds};
use crate::encode::{EncodeOptions, JointModel, Mode};
use crate::error::Result;
use crate::ir::Network;
use crate::onnx::TractRunner;
use crate::solve::{self, Sense, Session, SolverConfig};
use crate::tighten::{self, LpOptions};

/// A checked input of another class: `target` scores at least as high as the label there.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Counterexample {
    /// L∞ distance from the sample in pixel units (`InputMap::distance`), rounded up.
    pub distance: f64,
    pub target: usize,
    /// `N[label] − N[target]` at the input (IR, confirmed by tract): < 0.
    pub margin: f64,
    /// The input (network input space; `boundary` reports it as a pixel row).
    pub input: Vec<f64>,
}

/// How exact mode probes a margin the LP leaves open: the solver, and the branch and bound's
/// settings (`None`: the MILP, whose minimum is the solver's word).
#[derive(Clone, Copy, Debug)]
pub struct Exact<'a> {
    pub solver: &'a SolverConfig,
    pub bab: Option<&'a BabSettings>,
}

/// The outcome of probing one radius.
#[derive(Clone, Debug, PartialEq)]
pub enum Probe {
    /// Every margin has a certified lower bound ≥ 0 (LP, symbolic or branch and bound).
    Certified,
    /// Exact mode by MILP: every margin the LP left open has a MILP minimum ≥ 0 (not certified).
    SolverSafe,
    /// A checked counterexample was found (also returned by `probe`).
    Counterexample,
    /// Neither (LP mode above the certified radius, a time-out, a solver failure).
    Unknown(String),
}

/// One sample, its class, and the ball family around it (clipped to `domain`).
pub struct Ball<'a> {
    pub net: &'a Network,
    pub runner: &'a TractRunner,
    pub x: &'a [f64],
    pub label: usize,
    /// Pixel space → network inputs: the regions and distances (pixel units).
    pub map: InputMap,
    pub bounds: Method,
}

/// The L∞ distance between two points, rounded up.
pub fn linf_distance(a: &[f64], b: &[f64]) -> f64 {
    InputMap::plain(None).distance(a, b)
}

impl Ball<'_> {
    /// Every margin over the ball of radius `eps`, lowest symbolic bound first. Where the symbolic
    /// bound is below 0: without `exact` the certified LP bound; with it the falsifier, then the
    /// branch and bound from the certified LP (or a MILP started from the falsifier's point).
    /// Stops at the first counterexample or the first margin left open.
    pub fn probe(&self, eps: f64, exact: Option<Exact>) -> Result<(Probe, Option<Counterexample>)> {
        let (nb, anchor) = self.region(eps)?;
        let (nets, runners, nbs) = ([self.net], [self.runner.clone()], [&nb]);
        let mode = match exact.and_then(|e| e.bab) {
            Some(_) => Mode::Relaxed,
            None => Mode::Exact,
        };
        let model = exact.map(|_| JointModel::build(&nets, &nbs, &[], &EncodeOptions { mode, ..Default::default() }));
        let region = model.as_ref().map(|m| Region::new(&nets, &runners, &nbs, m, &anchor));
        let mut session: Option<Session> = None;
        let (mut outcome, mut best) = (Probe::Certified, None);
        // the exact phase works (mostly) above the radius the LP failed at, where the LP bound
        // fails too: it goes from symbolic to the exact engine (which starts from the LP itself)
        let lp_fails = |v: f64| exact.is_none() && v < 0.0;
        self.each_margin(&nb, &anchor, lp_fails, |j, lp| {
            if self.keep_closer(&mut best, j, &lp) {
                outcome = Probe::Counterexample;
                return Ok(false);
            }
            if lp.certified() >= 0.0 {
                return Ok(true);
            }
            let (point, c) = self.attack(j, eps)?;
            if c.is_some() {
                keep_closest(&mut best, c);
                outcome = Probe::Counterexample;
                return Ok(false);
            }
            let (Some(exact), Some(model), Some(region)) = (exact, &model, &region) else {
                outcome = Probe::Unknown(format!("the certified LP leaves margin {j} open"));
                return Ok(false);
            };
            let objective = OutputObjective::margin(self.label, j);
            let e = match exact.bab {
                Some(settings) => {
                    let root = region.optimise(&objective, Sense::Minimise, Some(&SolverConfig::default()));
                    let safe = Target { threshold: 0.0, inclusive: true, stop_below: true };
                    bab::refine(region, &objective, Sense::Minimise, root, Some(safe), exact.solver, settings)?
                }
                None => {
                    let s = match &mut session {
                        Some(s) => s,
                        None => session.insert(Session::new(&model.lp, exact.solver, false)?),
                    };
                    // start from the falsifier's best point, completed into a MILP point
                    if s.takes_start() {
                        let e = model.objective(&objective.terms, 0.0);
                        if let Some(p) = solve::complete_point(&model.lp, &model.inputs, &point, &e) {
                            s.set_start(&p);
                        }
                    }
                    region.optimise_with(&objective, Sense::Minimise, Some(s))
                }
            };
            if self.keep_closer(&mut best, j, &e) {
                outcome = Probe::Counterexample;
                return Ok(false);
            }
            if e.certified() >= 0.0 {
                return Ok(true);
            }
            if exact.bab.is_some() || e.bracket.note.is_some() || e.bracket.solver_value.is_none_or(|v| v < 0.0) {
                // the margins left are no easier: stop at the first one not settled
                let open = || match exact.bab {
                    Some(_) => format!("the branch and bound leaves margin {j} open at {:.6e}", e.certified()),
                    None => format!("the MILP minimum of margin {j} is below 0"),
                };
                outcome = Probe::Unknown(e.bracket.note.clone().unwrap_or_else(open));
                return Ok(false);
            }
            outcome = Probe::SolverSafe;
            Ok(true)
        })?;
        Ok((outcome, best))
    }

    /// The neuron bounds over the ball of radius `eps` (clipped) and the sample clipped into it.
    fn region(&self, eps: f64) -> Result<(NetworkBounds, Vec<f64>)> {
        let region = self.map.region(self.x, eps)?;
        let nb = tighten::compute(self.net, &region, self.bounds, &LpOptions::embedded())?;
        Ok((nb, clip(self.x, &region)))
    }

    /// Certified minima of the margins `N[label] − N[j]` over the ball, as `each_margin` gives
    /// them; stops after `stop` margins that `fails`.
    pub fn lp_margins(&self, eps: f64, fails: impl Fn(f64) -> bool, stop: usize) -> Result<Vec<(usize, Extremum)>> {
        let (nb, anchor) = self.region(eps)?;
        let (mut out, mut failed) = (Vec::new(), 0);
        self.each_margin(&nb, &anchor, &fails, |j, e| {
            failed += fails(e.certified()) as usize;
            out.push((j, e));
            Ok(failed < stop)
        })?;
        Ok(out)
    }

    /// Hands `visit` every margin `N[label] − N[j]` in the order of their symbolic bounds
    /// (lowest first), each with its certified LP bound (duals) where the symbolic one `fails`,
    /// until `visit` returns false.
    fn each_margin(
        &self,
        nb: &NetworkBounds,
        anchor: &[f64],
        fails: impl Fn(f64) -> bool,
        mut visit: impl FnMut(usize, Extremum) -> Result<bool>,
    ) -> Result<()> {
        let (nets, runners, nbs) = ([self.net], [self.runner.clone()], [nb]);
        let model = JointModel::build(&nets, &nbs, &[], &EncodeOptions::default());
        let region = Region::new(&nets, &runners, &nbs, &model, anchor);
        let mut symbolic: Vec<(usize, Extremum)> = (0..self.net.output_size())
            .filter(|&j| j != self.label)
            .map(|j| (j, region.optimise_with(&OutputObjective::margin(self.label, j), Sense::Minimise, None)))
            .collect();
        symbolic.sort_by(|a, b| a.1.certified().total_cmp(&b.1.certified()));
        let highs = SolverConfig::default();
        let mut session: Option<Option<Session>> = None;
        for (j, e) in symbolic {
            let e = match fails(e.certified()) {
                false => e,
                true => {
                    let s = session.get_or_insert_with(|| Session::new(&model.lp, &highs, true).ok());
                    region.optimise_with(&OutputObjective::margin(self.label, j), Sense::Minimise, s.as_mut())
                }
            };
            if !visit(j, e)? {
                break;
            }
        }
        Ok(())
    }

    /// The falsifier's best point for margin `j` within radius `eps`, and the counterexample it
    /// is if it survives re-execution (IR margin < 0, confirmed by tract).
    pub fn attack(&self, j: usize, eps: f64) -> Result<(Vec<f64>, Option<Counterexample>)> {
        let ball = self.map.region(self.x, eps)?;
        let (p, _) = falsify::minimise_margin(self.net, self.x, &ball, self.label, &[j], falsify::STEPS)?;
        let (ir, tract) = (self.net.forward(&p)?, self.runner.run(&p)?);
        let (v, t) = (ir[self.label] - ir[j], tract[self.label] - tract[j]);
        let c = (v < 0.0 && tract_agrees(v, t)).then(|| Counterexample {
            distance: self.map.distance(self.x, &p),
            target: j,
            margin: v,
            input: p.clone(),
        });
        Ok((p, c))
    }

    /// Records `e`'s witness when it is a counterexample closer than `best`; true if it is one.
    fn keep_closer(&self, best: &mut Option<Counterexample>, j: usize, e: &Extremum) -> bool {
        let Some(margin) = e.attained().filter(|&m| m < 0.0) else {
            return false;
        };
        let distance = self.map.distance(self.x, &e.witness);
        keep_closest(best, Some(Counterexample { distance, target: j, margin, input: e.witness.clone() }));
        true
    }
}

/// Keeps the closer of two counterexamples.
pub fn keep_closest(best: &mut Option<Counterexample>, c: Option<Counterexample>) {
    if let Some(c) = c.filter(|c| best.as_ref().is_none_or(|b| c.distance < b.distance)) {
        *best = Some(c);
    }
}

/// The largest radius in `[0, cap]` at which `holds` succeeds, up to `tol`: doubling from
/// `start` while it holds, then bisection. `holds(r)` says whether the property is proved at `r`
/// and may return a radius it can never hold beyond (a counterexample's distance). Returns the
/// largest radius proved (0 when none) and the smallest one known or seen to fail (`cap` if none).
pub fn largest_radius(
    start: f64,
    cap: f64,
    tol: f64,
    mut holds: impl FnMut(f64) -> Result<(bool, Option<f64>)>,
) -> Result<(f64, f64)> {
    let (mut lo, mut hi) = (0.0, cap);
    let mut probe = |r: f64, lo: &mut f64, hi: &mut f64| -> Result<bool> {
        let (ok, beyond) = holds(r)?;
        if let Some(b) = beyond {
            *hi = hi.min(b);
        }
        if ok {
            *lo = r;
        } else {
            *hi = hi.min(r);
        }
        Ok(ok)
    };
    let mut r = start.min(cap);
    while r > lo && probe(r, &mut lo, &mut hi)? && r < hi {
        r = (2.0 * r).min(hi);
    }
    while hi - lo > tol {
        probe(0.5 * (lo + hi), &mut lo, &mut hi)?;
    }
    Ok((lo, hi))
}
