//! The MILP of paper 003, problem (6): two copies of one network, on an input `a` classified to
//! `m` with confidence α and on its perturbation `a'`, with `ε_abs`, class binaries and big-M.
//!
//! Every big-M comes from computed bounds (never a global constant), the perturbation is cut at
//! a known upper bound `C` (heuristic 3's Φ_m^ini cut, in its stronger form `Σ ε_abs ≤ C`), and
//! for the L1 norm the perturbed copy's first layer is bounded over the L1 ball itself. The same
//! model with every "≥" made strict by a small margin is the one the MILP solver gets, so that
//! its points survive the re-execution; the LP relaxation of the plain one is certified.

use super::Norm;
use crate::analysis::objective::OutputObjective;
use crate::bounds::interval::propagate;
use crate::bounds::{Interval, Method, NetworkBounds};
use crate::encode::{EncodeOptions, JointModel, LinExpr, LinearProgram, Mode, RowKind};
use crate::error::Result;
use crate::ir::{Layer, Network};
use crate::solve::Sense;
use crate::tighten::{self, LpOptions};

/// Margin by which the solver's copy makes the confidence and class-selection rows strict.
pub const STRICT: f64 = 1e-5;

/// Problem (6) over an input box, cut at `C`.
pub struct PairModel {
    pub model: JointModel,
    /// `Σ ε_abs` (L1) or `t` (L∞).
    pub objective: LinExpr,
    /// Rows whose right-hand side gets `STRICT` in the solver's copy.
    strict: Vec<usize>,
    /// The box of the perturbed input.
    pub perturbed: Interval,
}

/// What the bounds alone decide about the perturbed copy.
pub enum Built {
    Model(Box<PairModel>),
    /// Fewer than `k` classes can ever reach `m`'s score in the perturbed box: no perturbation
    /// of norm ≤ C succeeds (proved by the bounds).
    Impossible,
}

/// The data every model of one class shares.
pub struct Problem<'a> {
    pub net: &'a Network,
    pub class: usize,
    /// `ln α`, rounded down (the relaxation must contain every confident input).
    pub log_alpha: f64,
    pub k: usize,
    pub norm: Norm,
    /// Network inputs whose pixels lie in the domain.
    pub domain: Interval,
    /// Pixel units per network unit of every input (the norm is measured in pixels).
    pub weights: Vec<f64>,
    pub bounds: Method,
    pub lp: LpOptions,
}

impl Problem<'_> {
    /// Builds problem (6) for `a ∈ region` and `‖a' − a‖ ≤ cut`, `a'` in the domain.
    pub fn build(&self, region: &Interval, cut: f64) -> Result<Built> {
        // a pixel change of at most `cut` moves network input i by at most cut / weights[i]
        let reach: Vec<f64> = self.weights.iter().map(|&w| if w == 1.0 { cut } else { (cut / w).next_up() }).collect();
        let perturbed = Interval {
            lower: (0..region.len())
                .map(|i| (region.lower[i] - reach[i]).next_down().max(self.domain.lower[i]))
                .collect(),
            upper: (0..region.len())
                .map(|i| (region.upper[i] + reach[i]).next_up().min(self.domain.upper[i]))
                .collect(),
        };
        let nb_a = tighten::compute(self.net, region, self.bounds, &self.lp)?;
        let mut nb_p = tighten::compute(self.net, &perturbed, self.bounds, &self.lp)?;
        if self.norm == Norm::L1 {
            tighten_l1(self.net, &mut nb_p, region, cut, &self.weights);
        }
        let (m, classes) = (self.class, self.net.output_size());
        // per class j: the largest N[m] − N[j] (big-M) and whether j can reach m at all
        let mut reach: Vec<(usize, f64)> = Vec::new();
        let mut always = 0;
        for j in (0..classes).filter(|&j| j != m) {
            let gap = OutputObjective::margin(m, j);
            let out = nb_p.output();
            let upper =
                gap.symbolic_bound(&[self.net], &[&nb_p], Sense::Maximise).min((out.upper[m] - out.lower[j]).next_up());
            let lower = gap
                .symbolic_bound(&[self.net], &[&nb_p], Sense::Minimise)
                .max((out.lower[m] - out.upper[j]).next_down());
            if upper < -STRICT {
                always += 1;
            } else if lower <= 0.0 {
                reach.push((j, (upper + STRICT).next_up().max(STRICT)));
            }
        }
        let need = self.k.saturating_sub(always);
        if reach.len() < need {
            return Ok(Built::Impossible);
        }
        let opts = EncodeOptions { mode: Mode::Exact, ..Default::default() };
        let mut model = JointModel::build_separate(&[self.net, self.net], &[&nb_a, &nb_p], &[], &opts);
        let mut strict = Vec::new();
        // a is classified to m with confidence α: N(a)[m] − N(a)[j] ≥ ln α
        for j in (0..classes).filter(|&j| j != m) {
            strict.push(model.lp.rows.len());
            let e = model.objective(&OutputObjective::margin(m, j).terms, 0.0);
            model.constrain(e, RowKind::Ge, self.log_alpha);
        }
        // at least `need` selected classes j with N(a')[j] ≥ N(a')[m]: c_j = 1 ⇒ row holds,
        // c_j = 0 ⇒ the row is slack by M_j ≥ max (N[m] − N[j])
        if need > 0 {
            let mut pick = LinExpr::default();
            for &(j, big_m) in &reach {
                let c = model.lp.add_var(0.0, 1.0, true);
                let mut e = model.objective(&[(1.0, 1, j), (-1.0, 1, m)], 0.0);
                e.terms.push((c, -big_m));
                strict.push(model.lp.rows.len());
                model.constrain(e, RowKind::Ge, -big_m);
                pick.terms.push((c, 1.0));
            }
            model.constrain(pick, RowKind::Ge, need as f64);
        }
        let objective = self.perturbation(&mut model.lp, &model.inputs, region.len(), &perturbed, cut);
        model.constrain(objective.clone(), RowKind::Le, cut);
        Ok(Built::Model(Box::new(PairModel { model, objective, strict, perturbed })))
    }

    /// The pixel norm of `a' − a` as an objective: `ε_abs` variables (L1) or one `t` (L∞), each
    /// above `±w_i(a'_i − a_i)` (`w_i` the input's pixel units per network unit).
    fn perturbation(&self, lp: &mut LinearProgram, inputs: &[usize], n: usize, p: &Interval, cut: f64) -> LinExpr {
        let t = (self.norm == Norm::Linf).then(|| lp.add_var(0.0, cut, false));
        let mut objective = LinExpr::default();
        for i in 0..n {
            let (a, b, w) = (inputs[i], inputs[n + i], self.weights[i]);
            let width = if w == 1.0 { p.upper[i] - p.lower[i] } else { ((p.upper[i] - p.lower[i]) * w).next_up() };
            let e = t.unwrap_or_else(|| lp.add_var(0.0, cut.min(width).next_up(), false));
            for s in [w, -w] {
                let row = LinExpr { terms: vec![(e, 1.0), (b, -s), (a, s)], constant: 0.0, error: 0.0 };
                lp.add_row(row, RowKind::Ge, 0.0);
            }
            if t.is_none() {
                objective.terms.push((e, 1.0));
            }
        }
        if let Some(t) = t {
            objective.terms.push((t, 1.0));
        }
        objective
    }
}

impl PairModel {
    /// The solver's copy: the confidence and class rows made strict by `STRICT`.
    pub fn strict_lp(&self) -> LinearProgram {
        let mut lp = self.model.lp.clone();
        for &r in &self.strict {
            lp.rows[r].rhs += STRICT;
        }
        lp
    }

    /// `lp` with every integer variable continuous: its LP relaxation.
    pub fn relaxed(lp: &LinearProgram) -> LinearProgram {
        let mut lp = lp.clone();
        lp.vars.iter_mut().for_each(|v| v.integer = false);
        lp
    }
}

/// Tightens the perturbed copy's bounds to inputs within pixel L1 distance `cut` of `region`
/// (`Σ weights_j |d_j| ≤ cut`): the first affine layer's rows move by at most
/// `cut·max_j |W_ij| / weights_j`; later layers are re-propagated by intervals and intersected
/// with the box bounds (both enclose every such input).
fn tighten_l1(net: &Network, nb: &mut NetworkBounds, region: &Interval, cut: f64, weights: &[f64]) {
    let Some(Layer::Affine(first)) = net.layers.first().map(|l| &l.layer) else { return };
    let centre = propagate(&net.layers[0].layer, region);
    for i in 0..first.weights.rows() {
        let (cols, vals) = first.weights.row(i);
        let per_pixel = |(&j, &v): (&u32, &f64)| match weights[j as usize] {
            1.0 => v.abs(),
            w => (v.abs() / w).next_up(),
        };
        let w = cols.iter().zip(vals).map(per_pixel).fold(0.0f64, f64::max);
        let shift = (cut * w).next_up();
        let b = &mut nb.layers[0];
        b.lower[i] = b.lower[i].max((centre.lower[i] - shift).next_down());
        b.upper[i] = b.upper[i].min((centre.upper[i] + shift).next_up());
    }
    for j in 1..net.layers.len() {
        let again = propagate(&net.layers[j].layer, &nb.layers[j - 1]);
        nb.layers[j] = nb.layers[j].intersect(&again);
    }
}
