//! Certified optimisation of a linear function of several networks' outputs over a region:
//! a rigorous bound (LP duals, else symbolic back-substitution) plus a checked witness.
//!
//! The true optimum always lies between `certified` and `attained`: the first is proved, the
//! second is the value the IR computes at a concrete input inside the region, which tract has
//! confirmed. A witness that tract does not confirm is dropped, never reported.

use serde::{Deserialize, Serialize};

use super::outcome::{self, Bracket};
use crate::bounds::float32::{self, FloatErrors};
use crate::bounds::symbolic::{backsubstitute_to, Forms};
use crate::bounds::{Interval, NetworkBounds};
use crate::encode::JointModel;
use crate::error::Result;
use crate::ir::Network;
use crate::onnx::TractRunner;
use crate::solve::{self, certify, Sense, SolverConfig, Status};

/// `Σ weight·N_net(x)[output] + constant`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputObjective {
    pub terms: Vec<(f64, usize, usize)>,
    pub constant: f64,
}

impl OutputObjective {
    /// Value given every network's outputs.
    /// The margin `N[label] − N[j]` of one network.
    pub fn margin(label: usize, j: usize) -> OutputObjective {
        OutputObjective { terms: vec![(1.0, 0, label), (-1.0, 0, j)], constant: 0.0 }
    }

    pub fn value(&self, outs: &[Vec<f64>]) -> f64 {
        self.constant + self.terms.iter().map(|&(w, n, i)| w * outs[n][i]).sum::<f64>()
    }

    /// The objective's coefficients on network `n`'s outputs (`size` of them), times `sign`.
    pub fn coefficients(&self, n: usize, size: usize, sign: f64) -> Vec<f64> {
        let mut coeffs = vec![0.0; size];
        self.terms.iter().filter(|t| t.1 == n).for_each(|&(w, _, i)| coeffs[i] += sign * w);
        coeffs
    }

    /// How far the objective of float32 outputs can lie from its value in real arithmetic, given
    /// each network's float32 error bounds on `bounds`.
    pub fn float_error(&self, nets: &[&Network], bounds: &[&NetworkBounds], errors: &[FloatErrors]) -> f64 {
        let mut total = crate::round::Acc::new(0.0);
        for (n, net) in nets.iter().enumerate() {
            let coeffs = self.coefficients(n, net.output_size(), 1.0);
            if coeffs.iter().any(|&c| c != 0.0) {
                total.add(errors[n].objective(net, bounds[n], &coeffs), 1.0);
            }
        }
        total.upper()
    }

    /// Value through the IR (f64).
    pub fn eval(&self, nets: &[&Network], x: &[f64]) -> Result<f64> {
        let outs = nets.iter().map(|n| n.forward(x)).collect::<Result<Vec<_>>>()?;
        Ok(self.value(&outs))
    }

    /// Rigorous bound by back-substituting the objective through every network to the shared
    /// input (joint: one concretisation of the summed forms). Layers a network shares with the
    /// first one are substituted once, for the summed form.
    pub fn symbolic_bound(&self, nets: &[&Network], bounds: &[&NetworkBounds], sense: Sense) -> f64 {
        let sign = if sense == Sense::Minimise { 1.0 } else { -1.0 };
        let input = &bounds[0].input;
        let split = nets[1..].iter().map(|n| nets[0].shared_prefix(n)).max().unwrap_or(0);
        let mut at_split: Vec<Forms> = Vec::new();
        let mut at_input: Vec<Forms> = Vec::new();
        for (n, net) in nets.iter().enumerate() {
            let coeffs = self.coefficients(n, net.output_size(), sign);
            if coeffs.iter().all(|&c| c == 0.0) {
                continue;
            }
            let f = Forms { cols: coeffs.len(), coeffs, constant: vec![0.0], error: vec![0.0] };
            let bottom = if n == 0 || nets[0].shared_prefix(net) == split { split } else { 0 };
            let f = backsubstitute_to(net, bounds[n], net.layers.len(), bottom, f);
            if bottom == split {
                at_split.push(f)
            } else {
                at_input.push(f)
            }
        }
        if !at_split.is_empty() {
            let parts: Vec<&Forms> = at_split.iter().collect();
            let summed = Forms::sum(&parts, bounds[0].position(split));
            at_input.push(backsubstitute_to(nets[0], bounds[0], split, 0, summed));
        }
        let konst = Forms {
            cols: input.len(),
            coeffs: vec![0.0; input.len()],
            constant: vec![sign * self.constant],
            error: vec![0.0],
        };
        let mut all: Vec<&Forms> = at_input.iter().collect();
        all.push(&konst);
        sign * Forms::concretize_sum(&all, input)[0]
    }
}

/// Where a certified bound came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Certificate {
    /// Rigorous bound from the LP's dual solution.
    Dual,
    /// Symbolic back-substitution (no duals available, or they gave less).
    Symbolic,
    /// Branch and bound on ReLU phases: the lowest certified bound (dual or symbolic) of its
    /// open leaves (`analysis::bab`).
    Branching,
}

/// One certified extremum: the bracket [certified, attained] around the true optimum (the
/// common result vocabulary, `outcome::Bracket`), where the certified end came from, and the
/// checked point that attains the other end.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Extremum {
    /// `certified` ≤ the true minimum (≥ the true maximum); `attained` the value at `witness`.
    #[serde(flatten)]
    pub bracket: Bracket,
    pub certificate: Certificate,
    #[serde(skip)]
    pub witness: Vec<f64>,
    /// The branch and bound's statistics, when one ran (exact mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<crate::analysis::bab::SearchStats>,
}

/// Absolute distance within which a certified bound and a checked value count as meeting.
pub const PROVED_TOLERANCE: f64 = 1e-9;

/// Relative distance within which a checked value attains a solver's optimum (its feasibility
/// tolerances are of this order).
const SOLVER_TOLERANCE: f64 = 1e-6;

impl Extremum {
    /// The value at the checked witness, if there is one.
    pub fn attained(&self) -> Option<f64> {
        self.bracket.attained
    }

    /// The certified bound.
    pub fn certified(&self) -> f64 {
        self.bracket.certified
    }

    /// This extremum with `note` (replacing any earlier one).
    pub fn noted(mut self, note: impl Into<String>) -> Extremum {
        self.bracket.note = Some(note.into());
        self
    }

    /// The tighter certified bound and the better checked point of two extrema of one objective
    /// in direction `sense` (e.g. a MILP's and its LP relaxation's); `self`'s solver value and
    /// note stay.
    pub fn merge(mut self, other: Extremum, sense: Sense) -> Extremum {
        let better = |a: f64, b: f64| if sense == Sense::Minimise { a < b } else { a > b };
        if better(self.certified(), other.certified()) {
            (self.bracket.certified, self.certificate) = (other.certified(), other.certificate);
        }
        if let Some(o) = other.attained().filter(|&o| self.attained().is_none_or(|s| better(o, s))) {
            (self.bracket.attained, self.witness) = (Some(o), other.witness);
        }
        self
    }
}

/// Everything one region needs: the networks, their bounds, the joint model and the solver.
#[derive(Clone)]
pub struct Region<'a> {
    pub nets: &'a [&'a Network],
    pub runners: &'a [TractRunner],
    pub bounds: &'a [&'a NetworkBounds],
    pub model: &'a JointModel,
    /// A point known to be in the region (its centre), always a valid witness.
    pub anchor: &'a [f64],
    /// Every network's outputs at the anchor, through the IR and through tract.
    anchor_outputs: Option<Outputs>,
    /// Float32-sound mode: bounds on each network's output rounding error (`bounds::float32`),
    /// by which every certified bound is widened.
    float_error: Option<std::sync::Arc<Vec<FloatErrors>>>,
    /// For an exact (MILP) model: its LP relaxation, whose dual-certified bound is taken when it
    /// is tighter than what the MILP certifies (a MILP has no duals), so exact mode is never
    /// weaker than relaxed mode.
    relaxation: Option<&'a JointModel>,
    /// A minimum the relaxation certifies at or above this value decides the question asked
    /// (e.g. LROM ≥ threshold): the MILP is then not run.
    decided_above: Option<f64>,
}

/// Outputs of every network at one point: (IR, tract).
type Outputs = (Vec<Vec<f64>>, Vec<Vec<f64>>);

/// Relative tolerance within which tract (f32) must confirm the IR's value at a witness.
pub const TRACT_TOLERANCE: f64 = 1e-4;

impl<'a> Region<'a> {
    pub fn new(
        nets: &'a [&'a Network],
        runners: &'a [TractRunner],
        bounds: &'a [&'a NetworkBounds],
        model: &'a JointModel,
        anchor: &'a [f64],
    ) -> Region<'a> {
        let mut r = Region {
            nets,
            runners,
            bounds,
            model,
            anchor,
            anchor_outputs: None,
            float_error: None,
            relaxation: None,
            decided_above: None,
        };
        r.anchor_outputs = r.outputs(anchor);
        r
    }

    /// Float32-sound certified bounds: each one also holds for float32 inference of the networks
    /// (`onnx::load_float32`), whatever its summation order. Fails for networks with folded layers.
    pub fn float_sound(mut self) -> Result<Region<'a>> {
        let errors = self.nets.iter().zip(self.bounds).map(|(n, b)| FloatErrors::new(n, b));
        self.float_error = Some(std::sync::Arc::new(errors.collect::<Result<Vec<_>>>()?));
        Ok(self)
    }

    /// `float_sound` when `on`.
    pub fn float_sound_if(self, on: bool) -> Result<Region<'a>> {
        if on {
            self.float_sound()
        } else {
            Ok(self)
        }
    }

    /// How far `obj` of float32 outputs can lie from its real value (0 unless float-sound).
    pub fn float_error_of(&self, obj: &OutputObjective) -> f64 {
        self.float_error.as_ref().map_or(0.0, |e| obj.float_error(self.nets, self.bounds, e))
    }

    /// Also certifies every extremum by `relaxation`, an LP relaxation of this region's (MILP)
    /// model, when given; a minimum it certifies at or above `decided_above` is final.
    pub fn with_relaxation(self, relaxation: Option<&'a JointModel>, decided_above: Option<f64>) -> Region<'a> {
        Region { relaxation, decided_above, ..self }
    }

    /// The same region over another model of it (e.g. with an extra constraint; a relaxation
    /// of the original model stays valid for a subset of the region, only weaker).
    pub fn with_model(&self, model: &'a JointModel) -> Region<'a> {
        Region { model, decided_above: None, ..self.clone() }
    }

    /// The same networks, anchor and float mode over a node of a branch and bound: tighter
    /// `bounds` (inside this region's) and their `model`.
    pub fn on_bounds<'b>(&self, bounds: &'b [&'b NetworkBounds], model: &'b JointModel) -> Result<Region<'b>>
    where
        'a: 'b,
    {
        let node = Region { bounds, model, float_error: None, relaxation: None, decided_above: None, ..self.clone() };
        node.float_sound_if(self.float_error.is_some())
    }

    /// The relaxed model of the region: its LP relaxation, or the model itself when relaxed.
    pub fn relaxed_model(&self) -> &JointModel {
        self.relaxation.unwrap_or(self.model)
    }

    fn input_box(&self) -> &Interval {
        &self.bounds[0].input
    }

    fn outputs(&self, x: &[f64]) -> Option<Outputs> {
        let ir = self.nets.iter().map(|n| n.forward(x)).collect::<Result<Vec<_>>>().ok()?;
        let tract = self.runners.iter().map(|r| r.run(x)).collect::<Result<Vec<_>>>().ok()?;
        Some((ir, tract))
    }

    /// The IR's value of `obj` from outputs, if tract's value confirms it.
    fn confirmed(obj: &OutputObjective, (ir, tract): &Outputs) -> Option<f64> {
        let (v, t) = (obj.value(ir), obj.value(tract));
        tract_agrees(v, t).then_some(v)
    }

    /// The IR's value at `x` if tract confirms it.
    pub fn checked_value(&self, obj: &OutputObjective, x: &[f64]) -> Option<f64> {
        Self::confirmed(obj, &self.outputs(x)?)
    }

    /// Certified extremum of `obj` in direction `sense`, solving the LP/MILP with a new session
    /// when a solver is given (symbolic bound and the anchor's value otherwise).
    pub fn optimise(&self, obj: &OutputObjective, sense: Sense, solver: Option<&SolverConfig>) -> Extremum {
        self.optimise_in_new(obj, sense, solver, false)
    }

    /// `optimise` in a new session opened with `warm` (presolve off, see `Session::new`).
    pub fn optimise_in_new(
        &self,
        obj: &OutputObjective,
        sense: Sense,
        solver: Option<&SolverConfig>,
        warm: bool,
    ) -> Extremum {
        match solver.map(|cfg| solve::Session::new(&self.model.lp, cfg, warm)) {
            None => self.optimise_with(obj, sense, None),
            Some(Ok(mut session)) => self.optimise_with(obj, sense, Some(&mut session)),
            Some(Err(e)) => self.optimise_with(obj, sense, None).noted(e.to_string()),
        }
    }

    /// `optimise_with` in a worker's warm-started `session` (one that could not be opened is noted
    /// and the symbolic bound stands), or `optimise` with `solver` when the worker has none.
    pub fn optimise_in(
        &self,
        obj: &OutputObjective,
        sense: Sense,
        session: &mut Option<Result<solve::Session>>,
        solver: Option<&SolverConfig>,
    ) -> Extremum {
        match session {
            Some(Ok(s)) => self.optimise_with(obj, sense, Some(s)),
            Some(Err(e)) => self.optimise_with(obj, sense, None).noted(e.to_string()),
            None => self.optimise(obj, sense, solver),
        }
    }

    /// Certified extremum of `obj`, solving with `session` (a session of this region's model).
    pub fn optimise_with(&self, obj: &OutputObjective, sense: Sense, session: Option<&mut solve::Session>) -> Extremum {
        let cfg = session.as_ref().map(|s| s.config());
        let mut best = match (self.relaxation, cfg) {
            (Some(relaxed), Some(cfg)) => {
                let lp = Region { model: relaxed, relaxation: None, decided_above: None, ..self.clone() };
                let lp_best = match solve::Session::new(&relaxed.lp, cfg, false) {
                    Ok(mut s) => lp.optimise_real(obj, sense, Some(&mut s)),
                    Err(e) => lp.optimise_real(obj, sense, None).noted(format!("LP relaxation: {e}")),
                };
                if sense == Sense::Minimise && self.decided_above.is_some_and(|t| lp_best.certified() >= t) {
                    lp_best.noted("decided by the LP relaxation's certified bound; the MILP was not run")
                } else {
                    self.optimise_real(obj, sense, session).merge(lp_best, sense)
                }
            }
            _ => self.optimise_real(obj, sense, session),
        };
        let e = self.float_error_of(obj);
        best.bracket.certified = match sense {
            Sense::Minimise => -float32::add_up(-best.certified(), e),
            Sense::Maximise => float32::add_up(best.certified(), e),
        };
        // a proof beats the solver's word
        if best.bracket.meets(PROVED_TOLERANCE) {
            best.bracket.status = outcome::Status::Proved;
        }
        best
    }

    /// `optimise_with` for the networks in real arithmetic.
    fn optimise_real(&self, obj: &OutputObjective, sense: Sense, session: Option<&mut solve::Session>) -> Extremum {
        let better = |a: f64, b: f64| if sense == Sense::Minimise { a < b } else { a > b };
        let symbolic = obj.symbolic_bound(self.nets, self.bounds, sense);
        let attained = self.anchor_outputs.as_ref().and_then(|o| Self::confirmed(obj, o));
        let mut best = Extremum {
            bracket: Bracket { attained, ..Bracket::open(symbolic) },
            certificate: Certificate::Symbolic,
            witness: self.anchor.to_vec(),
            search: None,
        };
        let Some(session) = session else { return best };
        let expr = self.model.objective(&obj.terms, obj.constant);
        let b = &mut best.bracket;
        match session.solve(&expr, sense) {
            Err(e) => b.note = Some(e.to_string()),
            Ok(sol) => {
                b.solver_value = Some(sol.objective);
                if let Status::Unknown(why) = &sol.status {
                    b.note = Some(why.clone());
                }
                b.note = sol.note.clone().or(b.note.take());
                if let Some(d) = sol.row_duals.as_ref().filter(|_| sol.status == Status::Optimal) {
                    let bound = certify::bound(&self.model.lp, &expr, sense, d);
                    if better(symbolic, bound) {
                        b.certified = bound;
                        best.certificate = Certificate::Dual;
                    }
                }
                let x = clip(&self.model.input_point(&sol.primal), self.input_box());
                match self.checked_value(obj, &x) {
                    Some(v) if b.attained.is_none_or(|a| better(v, a)) => {
                        b.attained = Some(v);
                        best.witness = x;
                    }
                    Some(_) => {}
                    None => b.note = Some("the solver's point was not confirmed by tract; dropped".into()),
                }
                // a finished MILP whose optimum a checked point attains is exact by its word
                let attains =
                    b.attained.is_some_and(|a| (a - sol.objective).abs() <= SOLVER_TOLERANCE * (1.0 + a.abs()));
                if self.model.lp.integer_count() > 0 && sol.status == Status::Optimal && attains {
                    b.status = outcome::Status::Exact;
                }
            }
        }
        best
    }
}

/// Whether tract's value `t` confirms the IR's value `v` (within `TRACT_TOLERANCE`, relative).
pub fn tract_agrees(v: f64, t: f64) -> bool {
    (v - t).abs() <= TRACT_TOLERANCE * (1.0 + v.abs().max(t.abs()))
}

/// Projects a solver point (feasible up to tolerances) into the box.
pub fn clip(x: &[f64], b: &Interval) -> Vec<f64> {
    x.iter().enumerate().map(|(i, &v)| v.clamp(b.lower[i], b.upper[i])).collect()
}
