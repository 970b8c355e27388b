//! Equivalence of two exports of one model (`twinverify equiv`): a certified bound on
//! max |A(x)ᵢ − B(x)ᵢ| over a region and top-1 agreement, each with a checked input.
//!
//! The bound on each `Aᵢ − Bᵢ` is the better of the joint model's certified LP extrema (layers
//! identical after folding are encoded once, so a faithful re-export cancels exactly) and the
//! layer-by-layer difference bounds of `bounds::difference`. Attained values come from the LP's
//! points and the falsifier, re-executed through the IR and tract.

mod top1;

use serde::Serialize;

pub use top1::{Disagreement, Top1, Top1Status};

use super::bab::{self, BabSettings, Target};
use super::falsify;
use super::lrom::{joint_bounds, models_on, LromConfig};
use super::objective::{clip, Extremum, OutputObjective, Region};
use super::outcome::Bracket;
use crate::bounds::{difference::difference, Interval, Method, NetworkBounds};
use crate::encode::{JointModel, Mode};
use crate::error::Result;
use crate::ir::Network;
use crate::onnx::TractRunner;
use crate::solve::{Sense, Session};

/// Which statements the verdict is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Criterion {
    /// ε-equivalence and top-1 equivalence.
    Both,
    /// max |A − B| ≤ ε only.
    Epsilon,
    /// Equal argmax only.
    Top1,
}

/// How regions are analysed.
#[derive(Clone, Debug)]
pub struct EquivConfig {
    /// Bounds, encoding and solver (the LROM analysis's; only those fields are used).
    pub lrom: LromConfig,
    /// ε-equivalence holds when the certified max |Aᵢ − Bᵢ| is ≤ this.
    pub epsilon: f64,
    pub criterion: Criterion,
    /// Solve the LP for every output and sign, not only where it can lower the overall bound
    /// (tighter bounds per output; the overall one is the same).
    pub every_output: bool,
    /// Seconds per region for a ReLU branch and bound on the objectives that set the overall
    /// bound (largest first); 0: none.
    pub branch_seconds: f64,
}

/// The verdict on a region or a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Proved on the region (every region of a run).
    Equivalent,
    /// A checked input differs by more than ε, or has another argmax.
    NotEquivalent,
    Unknown,
}

impl Verdict {
    /// A run's verdict: not equivalent if any region is, equivalent if every region is.
    pub fn combine(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        verdicts.into_iter().fold(Verdict::Equivalent, |acc, v| match (acc, v) {
            (Verdict::NotEquivalent, _) | (_, Verdict::NotEquivalent) => Verdict::NotEquivalent,
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
            _ => Verdict::Equivalent,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Equivalent => "equivalent",
            Verdict::NotEquivalent => "not equivalent",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Where a certified difference bound came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The joint model (LP duals or symbolic back-substitution).
    Joint,
    /// Layer-by-layer difference propagation.
    Difference,
}

/// One output's difference `Aᵢ − Bᵢ` over the region.
#[derive(Clone, Debug, Serialize)]
pub struct OutputDiff {
    pub output: usize,
    /// Certified: `lower ≤ Aᵢ(x) − Bᵢ(x) ≤ upper` on the whole region.
    pub lower: f64,
    pub upper: f64,
    /// Which bound gave the larger of `upper` and `−lower`.
    pub source: Source,
    /// The certified max |Aᵢ − Bᵢ| by each method alone (the layer-by-layer one when the
    /// networks have one layer structure).
    pub joint_bound: f64,
    pub difference_bound: Option<f64>,
    /// max |Aᵢ − Bᵢ|: certified (≥), attained at a checked input (≤).
    pub abs: Bracket,
    /// The checked input attaining `abs.attained`.
    pub witness: Vec<f64>,
}

/// The outcome for one region.
#[derive(Clone, Debug, Serialize)]
pub struct EquivResult {
    /// Leading layers identical in both networks (after folding), and each network's layers.
    pub shared_layers: usize,
    pub layers: [usize; 2],
    pub outputs: Vec<OutputDiff>,
    /// max over outputs of max |Aᵢ − Bᵢ| (certified ≥, attained ≤).
    pub epsilon: Bracket,
    /// The output of the largest certified difference and the checked input of the largest attained one.
    pub worst_output: usize,
    pub witness: Vec<f64>,
    /// max |A − B| of tract's (float32) outputs at the witness: "not equivalent" needs both it
    /// and the IR's attained value above ε.
    pub epsilon_tract: Option<f64>,
    pub top1: Top1,
    pub verdict: Verdict,
    pub seconds: f64,
}

/// A region: a box of inputs and a point inside it (the sample, or the box's centre).
pub struct Area<'a> {
    pub region: &'a Interval,
    pub centre: &'a [f64],
}

impl Area<'_> {
    /// The box's midpoint.
    pub fn midpoint(region: &Interval) -> Vec<f64> {
        region.lower.iter().zip(&region.upper).map(|(l, u)| 0.5 * l + 0.5 * u).collect()
    }
}

/// Analyses one region. The networks must be compatible (`Network::check_compatible`).
pub fn analyse(nets: [&Network; 2], runners: &[TractRunner], area: &Area, cfg: &EquivConfig) -> Result<EquivResult> {
    let start = std::time::Instant::now();
    let shared = nets[0].shared_prefix(nets[1]);
    // identical after folding: the joint model's differences are exactly 0 whatever the bounds,
    // so the cheapest bounds and no solve prove it
    let lrom = match shared == nets[0].layers.len() && shared == nets[1].layers.len() {
        true => LromConfig { bounds: Method::Interval, solve: false, ..cfg.lrom.clone() },
        false => cfg.lrom.clone(),
    };
    let (nb, relaxations) = joint_bounds(nets, area.region, &lrom)?;
    let nbr: Vec<&NetworkBounds> = nb.iter().collect();
    let deltas = difference(nets[0], nets[1], nbr[0], nbr[1]);
    // same structure, nothing shared: the LP couples the two networks at every ReLU pair
    let model = match (&deltas, shared, lrom.encode.mode) {
        (Some(d), 0, Mode::Relaxed) => JointModel::build_coupled(nets, [nbr[0], nbr[1]], d, &lrom.encode),
        _ => models_on(nets, &nb, relaxations, &lrom).0,
    };
    let anchor = clip(area.centre, area.region);
    let joint = Region::new(&nets, runners, &nbr, &model, &anchor);
    let m = nets[0].output_size();
    let diff_obj = |i: usize| OutputObjective { terms: vec![(1.0, 0, i), (-1.0, 1, i)], constant: 0.0 };
    let items: Vec<(OutputObjective, Sense)> =
        (0..m).flat_map(|i| [Sense::Maximise, Sense::Minimise].map(|s| (diff_obj(i), s))).collect();
    let layered = deltas.and_then(|mut d| d.pop());
    let mut extrema = match cfg.every_output {
        true => optimise_all(&joint, &items, &lrom),
        false => optimise_where_it_counts(&joint, &items, layered.as_ref(), &lrom),
    };
    if cfg.branch_seconds > 0.0 && lrom.solve {
        branch(&joint, &items, &mut extrema, layered.as_ref(), cfg)?;
    }
    let layered_at = |i: usize| layered.as_ref().map(|d| (d.lower[i], d.upper[i]));
    // the falsifier (the bulk of the time) runs, in parallel, for the outputs and signs whose
    // certified bound is above every value the LP's points attained: elsewhere it cannot raise ε
    let lp_best = extrema.iter().filter_map(|e| e.attained()).map(f64::abs).fold(0.0, f64::max);
    let searches: Vec<(usize, f64)> = (0..m)
        .flat_map(|i| {
            let (lower, upper) = tightest(&extrema[2 * i], &extrema[2 * i + 1], layered_at(i));
            [(i, 1.0, upper), (i, -1.0, -lower)]
        })
        .filter(|&(_, _, bound)| bound > lp_best)
        .map(|(i, sign, _)| (i, sign))
        .collect();
    let found = crate::par::map(&searches, |&(i, sign)| falsify_difference(&joint, i, sign));
    let found: Vec<Vec<f64>> = found.into_iter().collect::<Result<_>>()?;
    let outputs: Vec<OutputDiff> = (0..m)
        .map(|i| {
            let points = searches.iter().zip(&found).filter(|((k, _), _)| *k == i).map(|(_, p)| p.as_slice());
            output_diff(&joint, i, [&extrema[2 * i], &extrema[2 * i + 1]], layered_at(i), points)
        })
        .collect();
    let worst = (0..m).max_by(|&a, &b| outputs[a].abs.certified.total_cmp(&outputs[b].abs.certified)).unwrap_or(0);
    let seen = (0..m).max_by(|&a, &b| attained(&outputs[a]).total_cmp(&attained(&outputs[b]))).unwrap_or(0);
    let mut epsilon = Bracket::open(outputs.get(worst).map_or(0.0, |o| o.abs.certified));
    epsilon.attained = outputs.get(seen).and_then(|o| o.abs.attained);
    epsilon.close_within(0.0);
    let identical = outputs.iter().all(|o| o.lower == 0.0 && o.upper == 0.0);
    let top1 = top1::decide(&joint, identical, &lrom)?;
    let witness = outputs.get(seen).map_or_else(Vec::new, |o| o.witness.clone());
    let epsilon_tract = tract_difference(runners, &witness);
    let verdict = verdict(&epsilon, epsilon_tract, &top1, cfg);
    Ok(EquivResult {
        shared_layers: shared,
        layers: [nets[0].layers.len(), nets[1].layers.len()],
        witness,
        epsilon_tract,
        outputs,
        epsilon,
        worst_output: worst,
        top1,
        verdict,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn attained(o: &OutputDiff) -> f64 {
    o.abs.attained.unwrap_or(f64::NEG_INFINITY)
}

/// max |A − B| of tract's outputs at `x` (none when either run fails or `x` is empty).
fn tract_difference(runners: &[TractRunner], x: &[f64]) -> Option<f64> {
    let (a, b) = (runners[0].run(x).ok()?, runners[1].run(x).ok()?);
    Some(a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max))
}

/// The region's verdict on the statements `cfg.criterion` names.
fn verdict(epsilon: &Bracket, tract: Option<f64>, top1: &Top1, cfg: &EquivConfig) -> Verdict {
    let exceeds = |v: Option<f64>| v.is_some_and(|a| a > cfg.epsilon);
    let eps = match () {
        _ if epsilon.certified <= cfg.epsilon => Verdict::Equivalent,
        _ if exceeds(epsilon.attained) && exceeds(tract) => Verdict::NotEquivalent,
        _ => Verdict::Unknown,
    };
    let top = match top1.status {
        Top1Status::Proved => Verdict::Equivalent,
        Top1Status::Differs => Verdict::NotEquivalent,
        Top1Status::Unknown => Verdict::Unknown,
    };
    match cfg.criterion {
        Criterion::Both => Verdict::combine([eps, top]),
        Criterion::Epsilon => eps,
        Criterion::Top1 => top,
    }
}

/// Certified extrema of every objective over the joint model: one warm-started solver session
/// per chunk of objectives (in parallel when configured), symbolic bounds when nothing is solved.
pub fn optimise_all(joint: &Region, items: &[(OutputObjective, Sense)], cfg: &LromConfig) -> Vec<Extremum> {
    let solver = cfg.solve.then_some(&cfg.solver);
    let presolve_off = !cfg.encode.materialize_affine;
    let session = || solver.filter(|_| cfg.warm_start).map(|s| Session::new(&joint.model.lp, s, presolve_off));
    crate::par::map_with(items, cfg.parallel, session, |session, (obj, sense)| {
        joint.optimise_in(obj, *sense, session, solver)
    })
}

/// How many LPs `optimise_where_it_counts` solves at once (fixed, so that which objectives are
/// solved does not depend on the machine).
const LP_BATCH: usize = 2;

/// `optimise_all` for the max and min of each output's `Aᵢ − Bᵢ` (`items`, in that order), with
/// an LP only where it can lower the overall bound: in decreasing order of the layer-by-layer
/// bound on `|Aᵢ − Bᵢ|` (`layered`), `LP_BATCH` at a time, until the next one is no larger than
/// the largest certified so far. The overall bound is what solving every LP would give; the
/// objectives not solved keep the joint model's symbolic bound (and the layer-by-layer one).
fn optimise_where_it_counts(
    joint: &Region,
    items: &[(OutputObjective, Sense)],
    layered: Option<&Interval>,
    cfg: &LromConfig,
) -> Vec<Extremum> {
    let Some(d) = layered.filter(|_| cfg.solve) else { return optimise_all(joint, items, cfg) };
    let layered_abs = |k: usize| if k.is_multiple_of(2) { d.upper[k / 2] } else { -d.lower[k / 2] };
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&p, &q| layered_abs(q).total_cmp(&layered_abs(p)));
    let mut solved: Vec<Option<Extremum>> = items.iter().map(|_| None).collect();
    let mut largest = f64::NEG_INFINITY;
    let mut next = 0;
    while next < order.len() && layered_abs(order[next]) > largest {
        let batch: Vec<usize> =
            order[next..].iter().copied().take(LP_BATCH).take_while(|&k| layered_abs(k) > largest).collect();
        let chosen: Vec<(OutputObjective, Sense)> = batch.iter().map(|&k| items[k].clone()).collect();
        for (&k, e) in batch.iter().zip(optimise_all(joint, &chosen, cfg)) {
            largest = largest.max(certified_abs(k, &e, layered));
            solved[k] = Some(e);
        }
        next += batch.len();
    }
    let symbolic = |(obj, sense): &(OutputObjective, Sense)| joint.optimise(obj, *sense, None);
    solved.into_iter().zip(items).map(|(e, item)| e.unwrap_or_else(|| symbolic(item))).collect()
}

/// `|Aᵢ − Bᵢ|`'s certified bound from objective `k` of `items` (output `k / 2`, its max for an
/// even `k`, its min for an odd one) and the layer-by-layer bounds.
fn certified_abs(k: usize, e: &Extremum, layered: Option<&Interval>) -> f64 {
    let (dl, du) = layered.map_or((f64::NEG_INFINITY, f64::INFINITY), |d| (d.lower[k / 2], d.upper[k / 2]));
    match k % 2 {
        0 => e.certified().min(du),
        _ => (-e.certified()).min(-dl),
    }
}

/// Branch and bound (`bab::refine`, within `cfg.branch_seconds` in all) on the objective with the
/// largest certified `|Aᵢ − Bᵢ|`, until it is proved below the next one, then on that one: the
/// overall bound falls as far as the time allows and stays certified at every step.
fn branch(
    joint: &Region,
    items: &[(OutputObjective, Sense)],
    extrema: &mut [Extremum],
    layered: Option<&Interval>,
    cfg: &EquivConfig,
) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(cfg.branch_seconds);
    loop {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&p, &q| {
            certified_abs(q, &extrema[q], layered).total_cmp(&certified_abs(p, &extrema[p], layered))
        });
        let (k, next) = (order[0], order.get(1).map_or(0.0, |&q| certified_abs(q, &extrema[q], layered)));
        let left = deadline.saturating_duration_since(std::time::Instant::now()).as_secs_f64();
        let before = certified_abs(k, &extrema[k], layered);
        if left <= 0.0 || extrema[k].bracket.status == crate::analysis::outcome::Status::Proved {
            return Ok(());
        }
        // stop once it is proved below the next one (in the objective's own sense; strictly, so
        // that of two tied at the top this one still moves)
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        let target = Target { threshold: sign * next, inclusive: false, stop_below: false };
        let settings = BabSettings { seconds: Some(left), ..cfg.lrom.bab.clone() };
        let (obj, sense) = &items[k];
        extrema[k] = bab::refine(joint, obj, *sense, extrema[k].clone(), Some(target), &cfg.lrom.solver, &settings)?;
        if certified_abs(k, &extrema[k], layered) >= before {
            return Ok(()); // no progress: the time is up or the search is closed
        }
    }
}

/// The tighter of the joint bounds (`hi`, `lo`) and the layer-by-layer ones on `Aᵢ − Bᵢ`.
fn tightest(hi: &Extremum, lo: &Extremum, layered: Option<(f64, f64)>) -> (f64, f64) {
    let (dl, du) = layered.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
    (lo.certified().max(dl), hi.certified().min(du))
}

/// Output `i`'s difference: its bounds (`tightest`) and the largest checked |Aᵢ − Bᵢ| among the
/// LP's points (`extrema`: max, min) and the falsifier's `points`.
fn output_diff<'p>(
    joint: &Region,
    i: usize,
    extrema: [&Extremum; 2],
    layered: Option<(f64, f64)>,
    points: impl Iterator<Item = &'p [f64]>,
) -> OutputDiff {
    let [hi, lo] = extrema;
    let (lower, upper) = tightest(hi, lo, layered);
    let joint_worst = hi.certified().max(-lo.certified());
    // the side that gives the larger |Aᵢ − Bᵢ|, and whether the joint bound is that side's bound
    let joint_side = if upper >= -lower { hi.certified() <= upper } else { lo.certified() >= lower };
    let source = if joint_side { Source::Joint } else { Source::Difference };
    let obj = OutputObjective { terms: vec![(1.0, 0, i), (-1.0, 1, i)], constant: 0.0 };
    let mut best: Option<(f64, Vec<f64>)> = None;
    let mut consider = |v: Option<f64>, x: &[f64]| {
        let Some(v) = v else { return };
        if best.as_ref().is_none_or(|b| v.abs() > b.0) {
            best = Some((v.abs(), x.to_vec()));
        }
    };
    consider(hi.attained(), &hi.witness);
    consider(lo.attained(), &lo.witness);
    for p in points {
        consider(joint.checked_value(&obj, p), p);
    }
    let mut abs = Bracket::open(upper.max(-lower).max(0.0));
    abs.attained = best.as_ref().map(|b| b.0);
    abs.solver_value =
        [hi.bracket.solver_value, lo.bracket.solver_value.map(|v| -v)].into_iter().flatten().reduce(f64::max);
    abs.note = hi.bracket.note.clone().or(lo.bracket.note.clone());
    abs.close_within(0.0);
    OutputDiff {
        output: i,
        lower,
        upper,
        source,
        joint_bound: joint_worst,
        difference_bound: layered.map(|(l, u)| u.max(-l)),
        abs,
        witness: best.map_or_else(Vec::new, |b| b.1),
    }
}

/// The falsifier's point of the region with the largest `sign·(Aᵢ − Bᵢ)` it finds (from the anchor).
fn falsify_difference(joint: &Region, i: usize, sign: f64) -> Result<Vec<f64>> {
    let nets = joint.nets;
    let mut coeffs = vec![0.0; nets[0].output_size()];
    coeffs[i] = -sign;
    let mut failure = None;
    let probe = |p: &[f64]| -> Option<(f64, Vec<f64>)> {
        let run = || -> Result<(f64, Vec<f64>)> {
            let ((a, ga), (b, gb)) =
                (nets[0].output_and_gradient(p, &coeffs)?, nets[1].output_and_gradient(p, &coeffs)?);
            Ok((-sign * (a[i] - b[i]), ga.iter().zip(&gb).map(|(x, y)| x - y).collect()))
        };
        run().map_err(|e| failure = Some(e)).ok()
    };
    let best = falsify::descend(&joint.bounds[0].input, joint.anchor, falsify::STEPS, probe, |_, _| false);
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(best.map_or_else(|| joint.anchor.to_vec(), |b| b.0))
}

/// Per IR layer (matched by position), the largest |A − B| over the given inputs, where both
/// networks' layers have the same output shape (`None` where they do not).
#[derive(Clone, Debug, Serialize)]
pub struct LayerDeviation {
    pub layer: usize,
    pub kinds: [&'static str; 2],
    pub shapes: [Vec<usize>; 2],
    pub max_abs: Option<f64>,
}

/// The largest deviation at every layer both networks have, over the inputs `xs`.
pub fn layer_deviations(nets: [&Network; 2], xs: &[Vec<f64>]) -> Result<Vec<LayerDeviation>> {
    let mut out: Vec<LayerDeviation> = nets[0]
        .layers
        .iter()
        .zip(&nets[1].layers)
        .enumerate()
        .map(|(layer, (a, b))| LayerDeviation {
            layer,
            kinds: [a.layer.kind(), b.layer.kind()],
            shapes: [a.output_shape.clone(), b.output_shape.clone()],
            max_abs: (a.output_shape == b.output_shape).then_some(0.0),
        })
        .collect();
    for x in xs {
        let (a, b) = (nets[0].forward_all(x)?, nets[1].forward_all(x)?);
        for (d, (va, vb)) in out.iter_mut().zip(a.iter().zip(&b)) {
            if let Some(m) = d.max_abs.as_mut() {
                *m = va.iter().zip(vb).map(|(p, q)| (p - q).abs()).fold(*m, f64::max);
            }
        }
    }
    Ok(out)
}
