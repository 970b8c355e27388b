//! The search behind Φ_m: paper 003's heuristic 3 (a confident input, Φ_m^ini with the input
//! fixed, then problem (6) over the region) and the checks every claimed pair goes through.

use super::model::{Built, PairModel, Problem, STRICT};
use super::{ClassResilience, Norm, ResilienceConfig, Scope, Status, Witness};
use crate::analysis::ball::{largest_radius, Ball};
use crate::analysis::falsify::{self, minimise_margin};
use crate::analysis::objective::{clip, tract_agrees, OutputObjective};
use crate::bounds::{Interval, NetworkBounds};
use crate::encode::{EncodeOptions, JointModel, LinExpr, Mode, RowKind};
use crate::error::Result;
use crate::onnx::TractRunner;
use crate::round::Acc;
use crate::solve::{self, certify, Sense, Session, SolverConfig, Status as SolveStatus};
use crate::tighten::{self, LpOptions};

/// One MILP of the search: its witness (checked), the solver's claim and a certified lower bound.
pub(super) struct Attempt {
    witness: Option<Witness>,
    solver_value: Option<f64>,
    optimal: bool,
    /// Proved: Φ (over the attempt's region) ≥ this.
    lower: f64,
    start_used: bool,
    note: Option<String>,
}

/// One class's search: the problem, tract for the checks and the settings.
pub(super) struct Search<'a> {
    pub problem: Problem<'a>,
    pub runner: &'a TractRunner,
    pub cfg: &'a ResilienceConfig,
}

impl Search<'_> {
    /// Paper 003's heuristic 3 for `scope`'s region, filling `out`'s bracket, witness and counts.
    pub fn run(&self, out: &mut ClassResilience, region: &Interval, scope: Scope) -> Result<()> {
        let cfg = self.cfg;
        // step 1: an input classified to m with confidence α
        let a_ini = match self.confident_input(region, scope)? {
            Ok(a) => a,
            Err(true) => {
                (out.bracket.status, out.bracket.certified) = (Status::Vacuous, f64::INFINITY);
                return Ok(());
            }
            Err(false) => {
                out.bracket.note = Some("no input classified to m with confidence α was found".into());
                return Ok(());
            }
        };
        let single = matches!(scope, Scope::Local { radius, .. } if radius == 0.0);
        // a proved lower bound and a first cut from L∞ balls around the sample (local form)
        let (lo, hi) = cfg.domain();
        let mut cut = 0.05 * (hi - lo);
        if let Scope::Local { center, radius } = scope {
            let (proved, failed) = self.linf_lower(center, radius)?;
            out.bracket.certified = proved;
            cut = failed.max(cfg.tolerance);
        }
        let Some(initial) = self.initial(out, &a_ini, cut, single)? else { return Ok(()) };
        // step 3: problem (6) over the whole region, started from the initial pair, cut at Φ_m^ini
        let last = match single {
            true => initial,
            false => {
                let value = out.bracket.attained.unwrap_or(f64::INFINITY);
                let last = self.attempt(region, value, out.witness.as_ref())?;
                out.milps += 1;
                out.bracket.certified = out.bracket.certified.max(last.lower);
                last
            }
        };
        self.settle(out, last);
        Ok(())
    }

    /// Step 2: Φ_m^ini, `a` fixed at `a_ini`. A checked perturbation from the falsifier (cheap)
    /// sets the cut and the start; without one the cut doubles until a MILP finds one. Returns
    /// the last MILP's attempt when a checked perturbation was found (recorded in `out`).
    fn initial(&self, out: &mut ClassResilience, a_ini: &[f64], mut cut: f64, single: bool) -> Result<Option<Attempt>> {
        let cfg = self.cfg;
        let point = Interval { lower: a_ini.to_vec(), upper: a_ini.to_vec() };
        let (lo, hi) = cfg.domain();
        let cover = match cfg.norm {
            Norm::L1 => (hi - lo) * a_ini.len() as f64,
            Norm::Linf => hi - lo,
        };
        let guess = self.falsify(a_ini, cut)?;
        if let Some(w) = &guess {
            // a little room: the solver's copy needs strict gaps, so its optimum lies just above
            cut = w.norm + cfg.tolerance.max(1e-3 * w.norm);
        }
        let initial = loop {
            let attempt = self.attempt(&point, cut, guess.as_ref())?;
            out.milps += 1;
            if single {
                out.bracket.certified = out.bracket.certified.max(attempt.lower);
            }
            // none within the cut (proved, claimed or not found in time): a larger cut may help
            if attempt.witness.is_some() || guess.is_some() || cut >= cover {
                break attempt;
            }
            cut = (2.0 * cut).min(cover);
        };
        let found = [initial.witness.clone(), guess].into_iter().flatten().min_by(|a, b| a.norm.total_cmp(&b.norm));
        let Some(w) = found else {
            out.bracket.note = initial.note.or(Some(format!("no perturbation of norm ≤ {cut} was found")));
            return Ok(None);
        };
        (out.initial, out.bracket.attained, out.witness) = (Some(w.norm), Some(w.norm), Some(w));
        Ok(Some(initial))
    }

    /// Takes the final MILP's claim, a closer witness, and `exact` when its optimum is attained.
    fn settle(&self, out: &mut ClassResilience, last: Attempt) {
        let value = out.bracket.attained.unwrap_or(f64::INFINITY);
        out.bracket.solver_value = last.solver_value;
        out.start_used = last.start_used;
        out.bracket.note = last.note;
        if let Some(w) = last.witness.filter(|w| w.norm < value) {
            (out.bracket.attained, out.witness) = (Some(w.norm), Some(w));
        }
        let tolerance = self.cfg.tolerance;
        let attained = |v: f64| out.bracket.attained.is_some_and(|u| (u - v).abs() <= tolerance.max(1e-6 * v.abs()));
        if last.optimal && last.solver_value.is_some_and(attained) {
            out.bracket.status = Status::Exact;
        }
    }

    /// An input of `region` classified to m with confidence α: the sample when it is one, else a
    /// MILP's (checked). `Err(true)` when a certified bound proves there is none, `Err(false)`
    /// when none was found.
    fn confident_input(&self, region: &Interval, scope: Scope) -> Result<std::result::Result<Vec<f64>, bool>> {
        let (net, m) = (self.problem.net, self.problem.class);
        let nb = tighten::compute(net, region, self.cfg.bounds, &LpOptions::embedded())?;
        if self.confidence_bound(&nb) < self.problem.log_alpha {
            return Ok(Err(true));
        }
        if let Scope::Local { center, .. } = scope {
            if self.confident(center)? {
                return Ok(Ok(center.to_vec()));
            }
        }
        let mut model =
            JointModel::build(&[net], &[&nb], &[], &EncodeOptions { mode: Mode::Exact, ..Default::default() });
        for j in (0..net.output_size()).filter(|&j| j != m) {
            let e = model.objective(&OutputObjective::margin(m, j).terms, 0.0);
            model.constrain(e, RowKind::Ge, self.problem.log_alpha + STRICT);
        }
        let found = Session::new(&model.lp, &self.cfg.solver, false)?.solve(&LinExpr::default(), Sense::Minimise);
        let a = found.ok().map(|sol| clip(&model.input_point(&sol.primal), region));
        match a {
            Some(a) if self.confident(&a)? => Ok(Ok(a)),
            _ => Ok(Err(false)),
        }
    }

    /// A proved upper bound on `max_a min_j (N(a)[m] − N(a)[j])` over the bounds' input box: the
    /// certified LP `max t s.t. N[m] − N[j] ≥ t`, or the smallest symbolic bound of one margin.
    fn confidence_bound(&self, nb: &NetworkBounds) -> f64 {
        let (net, m) = (self.problem.net, self.problem.class);
        let others: Vec<usize> = (0..net.output_size()).filter(|&j| j != m).collect();
        let symbolic = others
            .iter()
            .map(|&j| OutputObjective::margin(m, j).symbolic_bound(&[net], &[nb], Sense::Maximise))
            .fold(f64::INFINITY, f64::min);
        let mut model = JointModel::build(&[net], &[nb], &[], &EncodeOptions::default());
        let out = nb.output();
        let gaps = others.iter().map(|&j| (out.lower[m] - out.upper[j], out.upper[m] - out.lower[j]));
        let (lo, hi) = gaps.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (a, b)| (l.min(a), h.max(b)));
        let t = model.lp.add_var(lo.next_down(), hi.next_up(), false);
        for &j in &others {
            let mut e = model.objective(&OutputObjective::margin(m, j).terms, 0.0);
            e.terms.push((t, -1.0));
            model.constrain(e, RowKind::Ge, 0.0);
        }
        let objective = LinExpr::var(t);
        let lp = solve::solve(&model.lp, &objective, Sense::Maximise, &SolverConfig::default()).ok();
        let certified =
            lp.and_then(|sol| sol.row_duals).map(|d| certify::bound(&model.lp, &objective, Sense::Maximise, &d));
        certified.map_or(symbolic, |c| c.min(symbolic))
    }

    /// Whether `a` is classified to m with confidence α, by the IR and confirmed by tract.
    fn confident(&self, a: &[f64]) -> Result<bool> {
        let m = self.problem.class;
        let threshold = self.cfg.alpha.ln().next_up();
        let (ir, tract) = (self.problem.net.forward(a)?, self.runner.run(a)?);
        Ok((0..ir.len()).filter(|&j| j != m).all(|j| {
            let (v, t) = (ir[m] - ir[j], tract[m] - tract[j]);
            v >= threshold && tract_agrees(v, t)
        }))
    }

    /// Whether m is out of the top k at `a2`: at least k other classes score ≥ m, by the IR and
    /// by tract alike.
    fn loses(&self, a2: &[f64]) -> Result<bool> {
        let m = self.problem.class;
        let (ir, tract) = (self.problem.net.forward(a2)?, self.runner.run(a2)?);
        let count = |o: &[f64]| (0..o.len()).filter(|&j| j != m && o[j] >= o[m]).count();
        Ok(count(&ir) >= self.cfg.k && count(&tract) >= self.cfg.k)
    }

    /// The pixel norm of `a2 − a`, rounded up.
    fn norm(&self, a: &[f64], a2: &[f64]) -> f64 {
        let w = &self.problem.weights;
        let d = a.iter().zip(a2).zip(w).map(|((x, y), &w)| match w {
            1.0 => (y - x).abs().next_up(),
            w => ((y - x).abs().next_up() * w).next_up(),
        });
        match self.cfg.norm {
            Norm::Linf => d.fold(0.0, f64::max),
            Norm::L1 => {
                let mut acc = Acc::new(0.0);
                d.for_each(|v| acc.add(1.0, v));
                acc.upper()
            }
        }
    }

    /// A checked witness from a solver pair: as given, else with the perturbation stretched a
    /// little (a MILP point sits on the class boundary, up to the solver's tolerances).
    fn witness(&self, a: Vec<f64>, a2: &[f64], perturbed: &Interval) -> Result<Option<Witness>> {
        if !self.confident(&a)? {
            return Ok(None);
        }
        for stretch in [1.0, 1.0 + 1e-6, 1.0 + 1e-4, 1.0 + 1e-3, 1.0 + 1e-2] {
            let p: Vec<f64> = a.iter().zip(a2).map(|(&x, &y)| x + stretch * (y - x)).collect();
            let p = clip(&p, perturbed);
            if self.loses(&p)? {
                let norm = self.norm(&a, &p);
                return Ok(Some(Witness { input: a, perturbed: p, norm }));
            }
        }
        Ok(None)
    }

    /// A checked perturbation of `a` from the falsifier: in L∞ balls of radius `r`, `2r`, … up to
    /// the domain's width, a point where the k classes closest to m all score at least as high.
    fn falsify(&self, a: &[f64], mut r: f64) -> Result<Option<Witness>> {
        let (net, m, (lo, hi)) = (self.problem.net, self.problem.class, self.cfg.domain());
        let out = net.forward(a)?;
        let mut others: Vec<usize> = (0..out.len()).filter(|&j| j != m).collect();
        others.sort_by(|&i, &j| out[j].total_cmp(&out[i]));
        let targets = &others[..self.cfg.k];
        loop {
            let ball = self.cfg.map.region(a, r)?;
            let (p, _) = minimise_margin(net, a, &ball, m, targets, falsify::STEPS)?;
            if let Some(w) = self.witness(a.to_vec(), &p, &ball)? {
                return Ok(Some(w));
            }
            if r >= hi - lo {
                return Ok(None);
            }
            r = (2.0 * r).min(hi - lo);
        }
    }

    /// One MILP of problem (6) over `region` cut at `cut`, started from `start` when the backend
    /// takes one; plus the certified bound of its LP relaxation.
    fn attempt(&self, region: &Interval, cut: f64, start: Option<&Witness>) -> Result<Attempt> {
        let mut out =
            Attempt { witness: None, solver_value: None, optimal: false, lower: 0.0, start_used: false, note: None };
        let pm = match self.problem.build(region, cut)? {
            Built::Impossible => {
                out.lower = cut;
                out.note = Some(format!("the bounds prove no perturbation of norm ≤ {cut} succeeds"));
                return Ok(out);
            }
            Built::Model(pm) => pm,
        };
        out.lower = relaxation_bound(&pm).min(cut);
        let lp = pm.strict_lp();
        let mut session = Session::new(&lp, &self.cfg.solver, false)?;
        if let Some(w) = start.filter(|_| session.takes_start()) {
            let pair = [&w.input[..], &w.perturbed[..]].concat();
            if let Some(p) = solve::complete_point(&lp, &pm.model.inputs, &pair, &pm.objective) {
                out.start_used = session.set_start(&p);
            }
        }
        match session.solve(&pm.objective, Sense::Minimise) {
            Err(e) => out.note = Some(e.to_string()),
            Ok(sol) => {
                out.optimal = sol.status == SolveStatus::Optimal;
                if let SolveStatus::Unknown(why) = &sol.status {
                    out.note = Some(why.clone());
                }
                out.solver_value = Some(sol.objective);
                let a = clip(&pm.model.network_input(&sol.primal, 0), region);
                let a2 = pm.model.network_input(&sol.primal, 1);
                out.witness = self.witness(a, &a2, &pm.perturbed)?;
                if out.witness.is_none() {
                    out.note = Some("the solver's pair was not confirmed by the IR and tract; dropped".into());
                }
            }
        }
        Ok(out)
    }

    /// The largest L∞ radius ρ (proved) such that on the ball of radius `radius + ρ` around the
    /// sample fewer than k classes can reach m's score, and the radius at which that failed.
    fn linf_lower(&self, center: &[f64], radius: f64) -> Result<(f64, f64)> {
        let (net, m, k) = (self.problem.net, self.problem.class, self.cfg.k);
        let ball =
            Ball { net, runner: self.runner, x: center, label: m, map: self.cfg.map.clone(), bounds: self.cfg.bounds };
        let cap = (ball.map.cap(center, f64::INFINITY) - radius).max(0.0);
        largest_radius(0.01f64.min(cap), cap, self.cfg.tolerance, |rho| {
            let margins = ball.lp_margins(radius + rho, |v| v <= 0.0, k)?;
            Ok((margins.iter().filter(|(_, e)| e.certified() <= 0.0).count() < k, None))
        })
    }
}

/// The certified lower bound of a pair model's LP relaxation (0 when the LP gives none).
fn relaxation_bound(pm: &PairModel) -> f64 {
    let relaxed = PairModel::relaxed(&pm.model.lp);
    match solve::solve(&relaxed, &pm.objective, Sense::Minimise, &SolverConfig::default()) {
        Ok(sol) => {
            sol.row_duals.map_or(0.0, |d| certify::bound(&pm.model.lp, &pm.objective, Sense::Minimise, &d).max(0.0))
        }
        Err(_) => 0.0,
    }
}
