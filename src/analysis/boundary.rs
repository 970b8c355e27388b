//! Distance to the decision boundary (paper 004): the largest L∞ radius ε around a sample on
//! which its class keeps a margin ≥ 0 over every other class, bracketed by LP and MILP probes.
//!
//! The answer is an interval. Its lower end is *proved*: every margin has a certified (LP-dual or
//! symbolic) lower bound ≥ 0 on the ball of that radius. Its upper end is *checked*: the
//! L∞ distance of a concrete input, re-executed through the IR and tract, where another class
//! scores higher. Exact mode bisects with MILPs between the two; the largest radius the MILP
//! claimed safe is reported as `solver` (not certified: a MILP optimum has no checkable proof).

pub mod attack;
pub mod pair;

use serde::Serialize;

use super::objective::{clip, tract_agrees, Extremum, OutputObjective, Region};
use crate::bounds::{self, Interval, LpOptions, Method, NetworkBounds};
use crate::data::argmax;
use crate::encode::{EncodeOptions, JointModel, Mode};
use crate::error::{Error, Result};
use crate::ir::Network;
use crate::onnx::TractRunner;
use crate::solve::{self, Sense, Session, SolverConfig};

/// Sign-gradient steps of the falsifier per margin and radius.
pub const ATTACK_STEPS: usize = 40;

/// How the search runs.
#[derive(Clone, Debug)]
pub struct BoundaryConfig {
    /// Neuron bounds under every LP/MILP (they are also the MILP's big-M values).
    pub bounds: Method,
    /// Runs the MILPs. Certified LPs always run on the embedded HiGHS: only it returns duals.
    pub solver: SolverConfig,
    /// Bisect with MILPs after the LP phase.
    pub exact: bool,
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
            tolerance: 1e-3,
            max_epsilon: 1.0,
            start: 0.01,
        }
    }
}

/// How far the answer got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The certified radius and a checked counterexample are within the tolerance.
    Proved,
    /// The MILP bisection closed the bracket: exact by the solver's word, upper end checked.
    Exact,
    /// Only the interval [certified, upper] is known (LP mode, time-out or no counterexample).
    Interval,
}

/// A checked input of another class: `target` scores at least as high as the label there.
#[derive(Clone, Debug, Serialize)]
pub struct Counterexample {
    /// L∞ distance from the sample, rounded up.
    pub distance: f64,
    pub target: usize,
    /// `N[label] − N[target]` at the input (IR, confirmed by tract): < 0.
    pub margin: f64,
    pub input: Vec<f64>,
}

/// The distance to the decision boundary of one sample.
#[derive(Clone, Debug, Serialize)]
pub struct BoundaryResult {
    pub label: usize,
    /// Proved: no input within this L∞ radius changes the class.
    pub certified: f64,
    /// The closest checked counterexample found (its distance is a proved upper bound).
    pub counterexample: Option<Counterexample>,
    /// Exact mode: the largest radius every MILP claimed safe (not certified).
    pub solver: Option<f64>,
    pub status: Status,
    pub probes: usize,
    /// Probes of the MILP phase (each solves a MILP per margin the LP left open).
    pub milp_probes: usize,
    pub seconds: f64,
    pub note: Option<String>,
}

impl BoundaryResult {
    /// The proved upper end of the interval, when a counterexample was found.
    pub fn upper(&self) -> Option<f64> {
        self.counterexample.as_ref().map(|c| c.distance)
    }
}

/// The outcome of probing one radius.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Every margin has a certified lower bound ≥ 0.
    Certified,
    /// Exact mode: every margin the LP left open has a MILP minimum ≥ 0 (not certified).
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
    pub domain: Option<(f64, f64)>,
    pub bounds: Method,
}

/// LP tightening and certified LPs run on the embedded solver (the one with duals).
pub fn embedded_lp() -> LpOptions {
    LpOptions { solver: SolverConfig::default(), materialize_affine: false, warm_start: true }
}

/// The margin `N[label] − N[j]` of one network.
pub fn margin(label: usize, j: usize) -> OutputObjective {
    OutputObjective { terms: vec![(1.0, 0, label), (-1.0, 0, j)], constant: 0.0 }
}

/// The L∞ distance between two points, rounded up.
pub fn linf_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max).next_up()
}

impl Ball<'_> {
    /// Every margin over the ball of radius `eps`, lowest symbolic bound first. Where the symbolic
    /// bound is below 0: without `milp` the certified LP bound, with it a MILP started from the
    /// falsifier's point; the falsifier runs first on every open margin. Stops at the first
    /// counterexample or the first margin left open.
    pub fn probe(&self, eps: f64, milp: Option<&SolverConfig>) -> Result<(Outcome, Option<Counterexample>)> {
        let (nb, anchor) = self.region(eps)?;
        let (nets, runners, nbs) = ([self.net], [self.runner.clone()], [&nb]);
        let exact = EncodeOptions { mode: Mode::Exact, ..Default::default() };
        let model = milp.map(|_| JointModel::build(&nets, &nbs, &[], &exact));
        let region = model.as_ref().map(|m| Region::new(&nets, &runners, &nbs, m, &anchor));
        let mut session: Option<Session> = None;
        let (mut outcome, mut best) = (Outcome::Certified, None);
        // the MILP phase works (mostly) above the radius the LP failed at, where the LP bound
        // fails too and costs far more than a MILP time-out: it goes from symbolic to MILP
        let lp_fails = |v: f64| milp.is_none() && v < 0.0;
        self.each_margin(&nb, &anchor, lp_fails, |j, lp| {
            if self.keep_closer(&mut best, j, &lp) {
                outcome = Outcome::Counterexample;
                return Ok(false);
            }
            if lp.certified >= 0.0 {
                return Ok(true);
            }
            let (point, c) = self.attack(j, eps)?;
            if c.is_some() {
                keep_closest(&mut best, c);
                outcome = Outcome::Counterexample;
                return Ok(false);
            }
            let (Some(cfg), Some(model), Some(region)) = (milp, &model, &region) else {
                outcome = Outcome::Unknown(format!("the certified LP leaves margin {j} open"));
                return Ok(false);
            };
            let s = match &mut session {
                Some(s) => s,
                None => session.insert(Session::new(&model.lp, cfg, false)?),
            };
            let objective = margin(self.label, j);
            // start from the falsifier's best point, completed into a MILP point
            if s.takes_start() {
                let e = model.objective(&objective.terms, 0.0);
                if let Some(p) = solve::complete_point(&model.lp, &model.inputs, &point, &e) {
                    s.set_start(&p);
                }
            }
            let e = region.optimise_with(&objective, Sense::Minimise, Some(s));
            if self.keep_closer(&mut best, j, &e) {
                outcome = Outcome::Counterexample;
                return Ok(false);
            }
            if e.note.is_some() || e.solver_value.is_none_or(|v| v < 0.0) {
                // the margins left are no easier: stop at the first one the MILP does not settle
                outcome =
                    Outcome::Unknown(e.note.unwrap_or_else(|| format!("the MILP minimum of margin {j} is below 0")));
                return Ok(false);
            }
            outcome = Outcome::SolverSafe;
            Ok(true)
        })?;
        Ok((outcome, best))
    }

    /// The neuron bounds over the ball of radius `eps` (clipped) and the sample clipped into it.
    fn region(&self, eps: f64) -> Result<(NetworkBounds, Vec<f64>)> {
        let region = Interval::around(self.x, eps, self.domain)?;
        let nb = bounds::compute_with(self.net, &region, self.bounds, &embedded_lp())?;
        Ok((nb, clip(self.x, &region)))
    }

    /// Certified minima of the margins `N[label] − N[j]` over the ball, as `each_margin` gives
    /// them; stops after `stop` margins that `fails`.
    pub fn lp_margins(&self, eps: f64, fails: impl Fn(f64) -> bool, stop: usize) -> Result<Vec<(usize, Extremum)>> {
        let (nb, anchor) = self.region(eps)?;
        let (mut out, mut failed) = (Vec::new(), 0);
        self.each_margin(&nb, &anchor, &fails, |j, e| {
            failed += fails(e.certified) as usize;
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
            .map(|j| (j, region.optimise_with(&margin(self.label, j), Sense::Minimise, None)))
            .collect();
        symbolic.sort_by(|a, b| a.1.certified.total_cmp(&b.1.certified));
        let highs = SolverConfig::default();
        let mut session: Option<Option<Session>> = None;
        for (j, e) in symbolic {
            let e = match fails(e.certified) {
                false => e,
                true => {
                    let s = session.get_or_insert_with(|| Session::new(&model.lp, &highs, true).ok());
                    region.optimise_with(&margin(self.label, j), Sense::Minimise, s.as_mut())
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
        let ball = Interval::around(self.x, eps, self.domain)?;
        let (p, _) = attack::minimise_margin(self.net, self.x, &ball, self.label, &[j], ATTACK_STEPS)?;
        let (ir, tract) = (self.net.forward(&p)?, self.runner.run(&p)?);
        let (v, t) = (ir[self.label] - ir[j], tract[self.label] - tract[j]);
        let c = (v < 0.0 && tract_agrees(v, t)).then(|| Counterexample {
            distance: linf_distance(self.x, &p),
            target: j,
            margin: v,
            input: p.clone(),
        });
        Ok((p, c))
    }

    /// Records `e`'s witness when it is a counterexample closer than `best`; true if it is one.
    fn keep_closer(&self, best: &mut Option<Counterexample>, j: usize, e: &Extremum) -> bool {
        if e.attained.is_nan() || e.attained >= 0.0 {
            return false;
        }
        let distance = linf_distance(self.x, &e.witness);
        keep_closest(best, Some(Counterexample { distance, target: j, margin: e.attained, input: e.witness.clone() }));
        true
    }
}

/// Keeps the closer of two counterexamples.
fn keep_closest(best: &mut Option<Counterexample>, c: Option<Counterexample>) {
    if let Some(c) = c.filter(|c| best.as_ref().is_none_or(|b| c.distance < b.distance)) {
        *best = Some(c);
    }
}

/// The radius beyond which a larger ball adds nothing: the domain is covered (or `max`).
pub fn search_cap(x: &[f64], domain: Option<(f64, f64)>, max: f64) -> f64 {
    match domain {
        Some((lo, hi)) => x.iter().map(|&v| (v - lo).max(hi - v)).fold(0.0, f64::max).min(max),
        None => max,
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

/// The distance to the decision boundary of `x`, which `net` must classify as `label`.
pub fn distance(
    net: &Network,
    runner: &TractRunner,
    x: &[f64],
    label: usize,
    domain: Option<(f64, f64)>,
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
    let ball = Ball { net, runner, x, label, domain, bounds: cfg.bounds };
    let cap = search_cap(x, domain, cfg.max_epsilon);
    let mut probes = 0;
    let mut best: Option<Counterexample> = None;
    // phase 1: the largest radius the certified LP proves
    let (certified, failed) = largest_radius(cfg.start, cap, cfg.tolerance, |r| {
        probes += 1;
        let (outcome, c) = ball.probe(r, None)?;
        let beyond = c.as_ref().map(|c| c.distance);
        keep_closest(&mut best, c);
        Ok((outcome == Outcome::Certified, beyond))
    })?;
    let mut result = BoundaryResult {
        label,
        certified,
        counterexample: None,
        solver: None,
        status: Status::Interval,
        probes,
        milp_probes: 0,
        seconds: 0.0,
        note: None,
    };
    // the falsifier alone (cheap): further out while there is no counterexample, then closer in
    let attack_all = |r: f64, best: &mut Option<Counterexample>| -> Result<()> {
        for j in (0..net.output_size()).filter(|&j| j != label) {
            keep_closest(best, ball.attack(j, r)?.1);
        }
        Ok(())
    };
    let mut r = failed;
    while best.is_none() && certified < cap && r < cap {
        r = (2.0 * r).min(cap);
        attack_all(r, &mut best)?;
    }
    let mut below = certified;
    while let Some(hi) = best.as_ref().map(|c| c.distance).filter(|&h| h - below > cfg.tolerance) {
        let r = 0.5 * (below + hi);
        attack_all(r, &mut best)?;
        if best.as_ref().is_some_and(|c| c.distance >= hi) {
            below = r;
        }
    }
    if certified >= cap {
        result.note = Some(format!("no class change within radius {cap} (certified)"));
    } else if cfg.exact {
        // phase 2: MILP bisection between the certified radius and the closest counterexample;
        // without one, MILPs from the radius the LP failed at, doubled while they claim safety
        let (mut lo, mut next) = (certified, failed);
        let converged = loop {
            let hi = best.as_ref().map(|c| c.distance);
            if hi.is_some_and(|h| h - lo <= cfg.tolerance) {
                break true;
            }
            let r = hi.map_or(next, |h| 0.5 * (lo + h));
            result.probes += 1;
            result.milp_probes += 1;
            let (outcome, c) = ball.probe(r, Some(&cfg.solver))?;
            keep_closest(&mut best, c);
            match outcome {
                Outcome::Certified | Outcome::SolverSafe => {
                    if outcome == Outcome::Certified {
                        result.certified = r;
                    }
                    lo = r;
                    if best.is_none() && r >= cap {
                        result.note = Some(format!("no class change within radius {cap} by the MILP"));
                        break false;
                    }
                    next = (2.0 * r).min(cap);
                }
                Outcome::Counterexample => {
                    if best.as_ref().is_some_and(|c| c.distance < lo) {
                        result.note = Some(format!("a MILP claimed radius {lo} safe; a checked input contradicts it"));
                        lo = result.certified;
                    }
                }
                Outcome::Unknown(why) => {
                    result.note = Some(format!("MILP at radius {r}: {why}"));
                    if best.is_some() || r >= cap {
                        break false;
                    }
                    // no counterexample yet: look for one further out, where they are easier to find
                    next = (2.0 * r).min(cap);
                }
            }
        };
        result.solver = Some(lo);
        if converged {
            result.status = Status::Exact;
        }
    }
    result.counterexample = best;
    if result.upper().is_some_and(|u| u - result.certified <= cfg.tolerance) {
        result.status = Status::Proved;
    }
    result.seconds = start.elapsed().as_secs_f64();
    Ok(result)
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
