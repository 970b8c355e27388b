//! Deciding one disjunct on one box: neuron bounds, the relaxed joint LP with a certified lower
//! bound on the largest constraint violation, candidate points from the LP and a gradient search.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use super::witness::{Checker, Witness};
use super::Item;
use crate::analysis::objective::OutputObjective;
use crate::bounds::difference::Difference;
use crate::bounds::float32::{self, FloatErrors};
use crate::bounds::symbolic::Forms;
use crate::bounds::{self, alpha, Interval, Method, NetworkBounds};
use crate::encode::{EncodeOptions, JointModel, LinExpr, Mode, RowKind};
use crate::error::Result;
use crate::ir::Network;
use crate::round::{upper_sum_minus, Acc};
use crate::solve::{certify, Sense, Session, Solution, SolverConfig, Status};
use crate::tighten::{self, LpOptions};

/// What one box gave.
pub enum BoxResult {
    /// No point of the box satisfies the disjunct (certified).
    Unsat,
    Sat(Witness),
    /// Undecided: the certified lower bound on the largest violation and the LP's point.
    Open {
        lower: f64,
        point: Vec<f64>,
        note: Option<String>,
    },
}

/// Can a certified lower bound `lower` on the largest violation rule the disjunct out?
pub fn refutes(lower: f64, items: &[Item]) -> bool {
    lower > 0.0 || (lower >= 0.0 && items.iter().all(|it| it.strict))
}

/// The networks, their replays and the solver: everything a box needs.
pub struct Context<'a> {
    pub checker: Checker<'a>,
    pub solver: &'a SolverConfig,
    /// Refute items by more than their float32 error (see `VerifyOptions::float_sound`).
    float_sound: bool,
    /// Bounds already computed for a box (disjuncts of one query usually share their box).
    cache: RefCell<Vec<(Interval, Method, Vec<NetworkBounds>)>>,
    /// Boxes decided so far by `solve_box`.
    boxes: Cell<usize>,
    /// When LP tightening stops (the neurons left keep their symbolic bounds).
    deadline: Option<Instant>,
}

impl<'a> Context<'a> {
    pub fn new(
        checker: Checker<'a>,
        solver: &'a SolverConfig,
        float_sound: bool,
        deadline: Option<Instant>,
    ) -> Context<'a> {
        Context { checker, solver, float_sound, cache: RefCell::new(Vec::new()), boxes: Cell::new(0), deadline }
    }

    /// Whether items are refuted by more than their float32 error (`VerifyOptions::float_sound`).
    pub fn float_sound(&self) -> bool {
        self.float_sound
    }

    /// How many boxes `solve_box` has bounded.
    pub fn boxes(&self) -> usize {
        self.boxes.get()
    }

    /// The items to refute: in float-sound mode each one tightened by the float32 error bound of
    /// its outputs on these bounds, so that refuting it refutes the float32 outputs too.
    fn to_refute(&self, nbs: &[NetworkBounds], items: &[Item]) -> Result<Vec<Item>> {
        if !self.float_sound {
            return Ok(items.to_vec());
        }
        let nets = self.checker.nets;
        let errors = nets.iter().zip(nbs).map(|(n, b)| FloatErrors::new(n, b)).collect::<Result<Vec<_>>>()?;
        let refs: Vec<&NetworkBounds> = nbs.iter().collect();
        let tightened = |it: &Item| {
            let objective = OutputObjective { terms: it.outputs.clone(), constant: 0.0 };
            Item { rhs: float32::add_up(it.rhs, objective.float_error(nets, &refs, &errors)), ..it.clone() }
        };
        Ok(items.iter().map(tightened).collect())
    }

    /// The networks' bounds on box `b` (remembered for the last few boxes).
    pub fn bounds(&self, b: &Interval, method: Method) -> Result<Vec<NetworkBounds>> {
        if let Some(nbs) = self.cached(b, method) {
            return Ok(nbs);
        }
        // LP tightening gets at most half the time left (the branch and bound needs the rest);
        // it starts from optimised slopes, so the neurons it does not reach keep near-LP bounds
        let deadline = self.deadline.map(|d| {
            let now = Instant::now();
            now + d.saturating_duration_since(now) / 2
        });
        let lp = LpOptions { deadline, alpha_first: true, ..LpOptions::with_solver(self.solver) };
        let space = self.checker.space;
        let start = Instant::now();
        // LP tightening starts from the box's optimised-slope bounds when they are at hand
        let sloped = if method == Method::Lp { self.cached(b, Method::Alpha) } else { None };
        let nbs = match sloped {
            Some(sloped) => (self.checker.nets.iter().zip(sloped))
                .map(|(net, nb)| tighten::tighten_from(net, nb, &lp).bounds)
                .collect(),
            None => (0..self.checker.nets.len())
                .map(|k| tighten::compute(self.checker.nets[k], &space.network_box(b, k), method, &lp))
                .collect::<Result<Vec<_>>>()?,
        };
        if method == Method::Lp {
            let nets = self.checker.nets.iter().zip(&nbs);
            let unstable: Vec<usize> =
                nets.map(|(n, nb)| bounds::relu_stats(n, nb).iter().map(|s| s.unstable).sum()).collect();
            log::debug!("LP-tightened bounds in {:.2} s: unstable ReLUs {unstable:?}", start.elapsed().as_secs_f64());
        }
        let mut cache = self.cache.borrow_mut();
        if cache.len() >= 4 {
            cache.remove(0);
        }
        cache.push((b.clone(), method, nbs.clone()));
        Ok(nbs)
    }

    /// The bounds by `method` of box `b`, if among the last few computed.
    fn cached(&self, b: &Interval, method: Method) -> Option<Vec<NetworkBounds>> {
        self.cache.borrow().iter().find(|(cb, m, _)| cb == b && *m == method).map(|c| c.2.clone())
    }

    /// Whether the joint model of box `b` shares the networks' common leading layers (all read
    /// the same variables in order); else every network is encoded on its own.
    pub fn shares_layers(&self, b: &Interval) -> bool {
        let maps = &self.checker.space.maps;
        maps.iter().all(|m| m.len() == b.len() && m.iter().enumerate().all(|(i, &g)| i == g))
    }

    /// The joint model of box `b` on bounds `nbs`, without an objective.
    pub(super) fn encode(&self, b: &Interval, nbs: &[NetworkBounds], mode: Mode) -> JointModel {
        let nets = self.checker.nets;
        let refs: Vec<&NetworkBounds> = nbs.iter().collect();
        let opts = EncodeOptions { mode, phase_rows: true, ..Default::default() };
        if self.shares_layers(b) {
            JointModel::build_joint(nets, &refs, &opts)
        } else {
            JointModel::build_on(nets, &refs, b, &self.checker.space.maps, &[], &opts)
        }
    }

    /// Decides `items` on box `b` as far as bounds by `method` and one LP (`mode`) allow.
    pub fn solve_box(&self, b: &Interval, items: &[Item], method: Method, mode: Mode) -> Result<BoxResult> {
        self.boxes.set(self.boxes.get() + 1);
        let nbs = self.bounds(b, method)?;
        self.solve_with(b, &nbs, items, mode)
    }

    /// `solve_box` for several disjuncts over box `b` (symbolic bounds, relaxed LP): one model,
    /// re-solved per disjunct.
    pub fn screen(&self, b: &Interval, disjuncts: &[&[Item]]) -> Result<Vec<BoxResult>> {
        self.boxes.set(self.boxes.get() + 1);
        let nbs = self.bounds(b, Method::Symbolic)?;
        self.solve_each(b, &nbs, disjuncts, Mode::Relaxed)
    }

    /// Screens disjuncts over box `b` by optimised-slope bounds alone (no LP): per disjunct, a
    /// certified lower bound on its largest violation (the best of its items' bounds), which
    /// refutes it when `refutes` says so.
    pub fn screen_by_slopes(&self, b: &Interval, disjuncts: &[&[Item]]) -> Result<Vec<f64>> {
        self.boxes.set(self.boxes.get() + 1);
        let nbs = self.bounds(b, Method::Alpha)?;
        self.slopes_lower(b, &nbs, disjuncts)
    }

    /// Per disjunct, a certified lower bound on its largest violation over box `b` on bounds
    /// `nbs` (the best of its items' optimised-slope and difference bounds).
    pub fn slopes_lower(&self, b: &Interval, nbs: &[NetworkBounds], disjuncts: &[&[Item]]) -> Result<Vec<f64>> {
        let differences = Differences::new(self.checker, nbs, disjuncts);
        let best = |items: &[Item]| {
            let bound = |it: &Item| self.item_lower(b, nbs, it).max(differences.item_lower(b, it));
            items.iter().map(bound).fold(f64::NEG_INFINITY, f64::max)
        };
        disjuncts.iter().map(|items| Ok(best(&self.to_refute(nbs, items)?))).collect()
    }

    /// A certified lower bound of `it`'s violation (expression − rhs) over box `b`: each
    /// network's terms back-substituted with optimised slopes over its own input box, the input
    /// terms over `b`.
    fn item_lower(&self, b: &Interval, nbs: &[NetworkBounds], it: &Item) -> f64 {
        let Some(coeffs) = output_coefficients(self.checker.nets, it) else { return f64::NEG_INFINITY };
        let mut sum = Acc::new(0.0);
        for ((net, nb), coeffs) in self.checker.nets.iter().zip(nbs).zip(coeffs) {
            if coeffs.iter().any(|&c| c != 0.0) {
                let f = Forms { cols: coeffs.len(), coeffs, constant: vec![0.0], error: vec![0.0] };
                let over_input = alpha::backsubstitute(net, nb, net.layers.len(), f);
                sum.add(Forms::concretize_sum(&[&over_input], &nb.input)[0], 1.0);
            }
        }
        plus_inputs(sum.lower(), b, it)
    }

    /// As `solve_box`, with the networks' bounds given.
    pub fn solve_with(&self, b: &Interval, nbs: &[NetworkBounds], items: &[Item], mode: Mode) -> Result<BoxResult> {
        let mut each = self.solve_each(b, nbs, &[items], mode)?;
        Ok(each.remove(0))
    }

    /// As `solve_with` for several disjuncts over one box: one model, loaded into the solver once
    /// and re-solved for each disjunct's objective from the previous basis.
    pub fn solve_each(
        &self,
        b: &Interval,
        nbs: &[NetworkBounds],
        disjuncts: &[&[Item]],
        mode: Mode,
    ) -> Result<Vec<BoxResult>> {
        let refuted = disjuncts.iter().map(|items| self.to_refute(nbs, items)).collect::<Result<Vec<_>>>()?;
        // an item the boxes alone rule out (exactly: a strict one at a bound of 0, where the LP's
        // certificate has rounding error) rules its disjunct out
        // (or the difference bounds of two exports of one model)
        let refs: Vec<&[Item]> = refuted.iter().map(Vec::as_slice).collect();
        let differences = Differences::new(self.checker, nbs, &refs);
        let ruled_out = |it: &Item| {
            ruled_out_by_boxes(b, nbs, it) || refutes(differences.item_lower(b, it), std::slice::from_ref(it))
        };
        let boxed: Vec<bool> = refuted.iter().map(|r| r.iter().any(&ruled_out)).collect();
        if boxed.iter().all(|&x| x) {
            return Ok(disjuncts.iter().map(|_| BoxResult::Unsat).collect());
        }
        let mut model = self.encode(b, nbs, mode);
        let objectives: Vec<LinExpr> = refuted.iter().map(|r| violation(&mut model, b, nbs, r)).collect();
        // presolve off: on these substituted LPs it costs more than the solve (2.7× the branch and
        // bound's nodes per second on mnist-net_256x2)
        let mut session = match Session::new(&model.lp, self.solver, true) {
            Ok(s) => s,
            Err(e) => return Ok(disjuncts.iter().map(|_| failed(b, e.to_string())).collect()),
        };
        let goals: Vec<Goal> =
            disjuncts.iter().zip(&refuted).zip(&objectives).map(|((i, r), o)| (*i, r.as_slice(), o)).collect();
        let mut out = self.decide_each(b, &model, &goals, mode, |o| session.solve(o, Sense::Minimise));
        out.iter_mut().zip(boxed).filter(|(_, x)| *x).for_each(|(r, _)| *r = BoxResult::Unsat);
        Ok(out)
    }

    /// Decides each goal from the solve of its objective over `model` (by `solve`, in order): sat
    /// with a checked point, unsat with a certified bound (or a model proved infeasible), else
    /// open with the certified bound.
    pub fn decide_each(
        &self,
        b: &Interval,
        model: &JointModel,
        goals: &[Goal],
        mode: Mode,
        mut solve: impl FnMut(&LinExpr) -> Result<Solution>,
    ) -> Vec<BoxResult> {
        let mut out = Vec::with_capacity(goals.len());
        for &(items, refuted, objective) in goals {
            let sol = match solve(objective) {
                Ok(sol) => sol,
                // no objective's solve has succeeded on this model: it may have no point at all
                Err(_)
                    if out.is_empty()
                        && mode == Mode::Relaxed
                        && certify::proves_infeasible(&model.lp, self.solver) =>
                {
                    return goals.iter().map(|_| BoxResult::Unsat).collect();
                }
                Err(e) => {
                    out.push(failed(b, e.to_string()));
                    continue;
                }
            };
            let point = model.input_point(&sol.primal);
            if let Some(w) = self.checker.check(&point, b, items) {
                out.push(BoxResult::Sat(w));
                continue;
            }
            let mut note = None;
            let lower = match (&sol.status, &sol.row_duals) {
                (Status::Optimal, Some(d)) if mode == Mode::Relaxed => {
                    certify::bound(&model.lp, objective, Sense::Minimise, d)
                }
                (Status::Unknown(why), _) => {
                    note = Some(why.clone());
                    f64::NEG_INFINITY
                }
                _ => f64::NEG_INFINITY,
            };
            if mode == Mode::Exact && sol.status == Status::Optimal && sol.objective > 0.0 {
                note =
                    Some(format!("the MILP's optimum {:.6e} > 0 says unsat, but it is not certified", sol.objective));
            }
            out.push(match refutes(lower, refuted) {
                true => BoxResult::Unsat,
                false => BoxResult::Open { lower, point, note },
            });
        }
        out
    }
}

/// Item `it`'s output coefficients per network (`None` when it names an output twice).
fn output_coefficients(nets: &[&Network], it: &Item) -> Option<Vec<Vec<f64>>> {
    let mut coeffs: Vec<Vec<f64>> = nets.iter().map(|n| vec![0.0; n.output_size()]).collect();
    for &(a, n, i) in &it.outputs {
        if coeffs[n][i] != 0.0 {
            return None;
        }
        coeffs[n][i] = a;
    }
    Some(coeffs)
}

/// A certified lower bound of `outputs + Σ a·x[g] − rhs` over box `b`, given a certified lower
/// bound `outputs` of `it`'s output terms (−∞ when an input is named twice).
fn plus_inputs(outputs: f64, b: &Interval, it: &Item) -> f64 {
    let mut coeffs = vec![0.0; b.len()];
    for &(a, g) in &it.inputs {
        if coeffs[g] != 0.0 {
            return f64::NEG_INFINITY;
        }
        coeffs[g] = a;
    }
    let inputs = Forms { cols: b.len(), coeffs, constant: vec![-it.rhs], error: vec![0.0] };
    let mut sum = Acc::new(outputs);
    sum.add(Forms::concretize_sum(&[&inputs], b)[0], 1.0);
    sum.lower()
}

/// The difference bounds (`bounds::difference`) of the pairs of networks that items name
/// together, where the two have one layer structure and read the same inputs: two exports of
/// one model, whose outputs' difference is bounded as one function of the input.
struct Differences<'a> {
    nets: &'a [&'a Network],
    pairs: Vec<([usize; 2], Difference<'a>)>,
}

impl<'a> Differences<'a> {
    fn new(checker: Checker<'a>, nbs: &'a [NetworkBounds], disjuncts: &[&[Item]]) -> Self {
        let nets = checker.nets;
        let maps = &checker.space.maps;
        let mut pairs: Vec<([usize; 2], Difference<'a>)> = Vec::new();
        let mut tried = Vec::new();
        for it in disjuncts.iter().flat_map(|items| items.iter()) {
            let Some(pair) = two_networks(it) else { continue };
            if tried.contains(&pair) || maps[pair[0]] != maps[pair[1]] {
                continue;
            }
            tried.push(pair);
            let [n, m] = pair;
            if let Some(d) = Difference::new(nets[n], nets[m], &nbs[n], &nbs[m]) {
                pairs.push((pair, d));
            }
        }
        Differences { nets, pairs }
    }

    /// A certified lower bound of `it`'s violation over box `b` by the difference bounds of the
    /// two networks it names (−∞ when they have none).
    fn item_lower(&self, b: &Interval, it: &Item) -> f64 {
        let Some(pair) = two_networks(it) else { return f64::NEG_INFINITY };
        let Some((_, d)) = self.pairs.iter().find(|(p, _)| *p == pair) else { return f64::NEG_INFINITY };
        let Some(coeffs) = output_coefficients(self.nets, it) else { return f64::NEG_INFINITY };
        plus_inputs(d.lower(&coeffs[pair[0]], &coeffs[pair[1]]), b, it)
    }
}

/// The two networks (in order) whose outputs `it` names, when it names exactly two.
fn two_networks(it: &Item) -> Option<[usize; 2]> {
    let mut named: Vec<usize> = it.outputs.iter().map(|t| t.1).collect();
    named.sort_unstable();
    named.dedup();
    match named[..] {
        [n, m] => Some([n, m]),
        _ => None,
    }
}

/// Whether item `it` cannot hold anywhere in box `b` by the output boxes `nbs` alone (its lower
/// end over the boxes, exact where no rounding happens).
fn ruled_out_by_boxes(b: &Interval, nbs: &[NetworkBounds], it: &Item) -> bool {
    let end = |a: f64, lo: f64, hi: f64| (-a, if a > 0.0 { lo } else { hi });
    let outputs = it.outputs.iter().map(|&(a, n, i)| end(a, nbs[n].output().lower[i], nbs[n].output().upper[i]));
    let inputs = it.inputs.iter().map(|&(a, g)| end(a, b.lower[g], b.upper[g]));
    // −(upper end of −(Σ a·v − rhs))
    let lower = -upper_sum_minus(outputs.chain(inputs), -it.rhs);
    lower > 0.0 || (lower >= 0.0 && it.strict)
}

/// One disjunct to decide on a model: its items, the items as refuted (`Context::to_refute`) and
/// its objective, the largest violation.
pub type Goal<'g> = (&'g [Item], &'g [Item], &'g LinExpr);

/// An open answer with no bound, at the box's centre: a solve failed for `why`.
fn failed(b: &Interval, why: String) -> BoxResult {
    let centre: Vec<f64> = (0..b.len()).map(|g| 0.5 * (b.lower[g] + b.upper[g])).collect();
    BoxResult::Open { lower: f64::NEG_INFINITY, point: centre, note: Some(why) }
}

/// Adds to `model` the objective "largest violation" of `items`: the item itself when there is
/// one; else a variable `t` with `g_k ≤ t` for every item (rows that any other objective leaves
/// slack, so several disjuncts can share one model).
pub(super) fn violation(model: &mut JointModel, b: &Interval, nbs: &[NetworkBounds], items: &[Item]) -> LinExpr {
    let expr = |m: &JointModel, it: &Item| m.linear(&it.inputs, &it.outputs, -it.rhs);
    if let [single] = items {
        return expr(model, single);
    }
    // t only needs a range that holds every point where all items are ≤ 0 (t ≤ 0 there)
    // and does not cut below the true largest violation when that is positive.
    let (lo, hi) = items
        .iter()
        .map(|it| it.range(b, nbs))
        .fold((f64::NEG_INFINITY, 0.0f64), |acc, r| (acc.0.max(r.0), acc.1.max(r.1)));
    let t = model.lp.add_var(lo.min(0.0) - 1.0, hi + 1.0, false);
    for it in items {
        let mut e = expr(model, it);
        e.terms.push((t, -1.0));
        model.constrain(e, RowKind::Le, 0.0);
    }
    LinExpr::var(t)
}

impl Item {
    /// A rough range of `g` over the box (from the networks' output bounds), for `t`'s bounds.
    fn range(&self, b: &Interval, nbs: &[NetworkBounds]) -> (f64, f64) {
        let mut lo = -self.rhs;
        let mut hi = -self.rhs;
        let mut add = |a: f64, l: f64, u: f64| {
            lo += (a * l).min(a * u);
            hi += (a * l).max(a * u);
        };
        self.inputs.iter().for_each(|&(a, g)| add(a, b.lower[g], b.upper[g]));
        for &(a, n, i) in &self.outputs {
            let o = nbs[n].output();
            add(a, o.lower[i], o.upper[i]);
        }
        (lo, hi)
    }
}
