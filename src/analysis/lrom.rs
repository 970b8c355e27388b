//! LROM and local implication (papers 000/001): bounds on `(N1[c]−N1[j]) − (N2[c]−N2[j])` over
//! a region, joint (shared inputs) and independent, and the verdict "N2 implies N1".

use serde::{Deserialize, Serialize};

use super::bab::{self, BabSettings, ExactEngine, Target};
use super::objective::{clip, Extremum, OutputObjective, Region};
use crate::bounds::{relu_stats, InputMap, Interval, Method, NetworkBounds};
use crate::data::{argmax, check_label};
use crate::encode::{EncodeOptions, JointModel, Mode, Prefix, RowKind};
use crate::error::Result;
use crate::ir::Network;
use crate::onnx::TractRunner;
use crate::solve::{Sense, Session, SolverConfig};
use crate::tighten::{self, LpOptions, Tightened};

/// How one region is analysed.
#[derive(Clone, Debug)]
pub struct LromConfig {
    pub encode: EncodeOptions,
    pub bounds: Method,
    pub solver: SolverConfig,
    /// Solve the LP/MILP (else symbolic bounds only).
    pub solve: bool,
    /// Also bound each network's margin on its own (the papers' baseline).
    pub independent: bool,
    /// Also minimise N1's margin subject to N2's margin ≥ 0.
    pub implication_only: bool,
    /// Every ordered class pair instead of (label, j) only.
    pub all_pairs: bool,
    /// Also bound the maximum (the verdict needs only minima).
    pub maximise: bool,
    /// Implication is established when every certified minimum is ≥ this.
    pub threshold: f64,
    /// Solve the class pairs in parallel.
    pub parallel: bool,
    /// Re-solve one model per worker from the previous basis (else a fresh model per LP).
    pub warm_start: bool,
    /// Certified bounds also hold for float32 inference (networks from `onnx::load_float32`).
    pub float_sound: bool,
    /// What answers exact mode: branch and bound on ReLU phases, or the MILP.
    pub exact_engine: ExactEngine,
    pub bab: BabSettings,
}

impl LromConfig {
    /// Whether exact mode is answered by branch and bound (on relaxed mode's model).
    pub fn branching(&self) -> bool {
        self.encode.mode == Mode::Exact && self.exact_engine == ExactEngine::Bab && self.solve
    }

    /// The configuration whose model the analysis solves: relaxed mode's under branch and bound.
    fn modelled(&self) -> std::borrow::Cow<'_, LromConfig> {
        if !self.branching() {
            return std::borrow::Cow::Borrowed(self);
        }
        let encode = EncodeOptions { mode: Mode::Relaxed, ..self.encode };
        std::borrow::Cow::Owned(LromConfig { encode, ..self.clone() })
    }

    /// LP tightening solves with the same solver and encoding as the analysis.
    pub fn lp_options(&self) -> LpOptions {
        LpOptions {
            solver: self.solver.clone(),
            materialize_affine: self.encode.materialize_affine,
            warm_start: self.warm_start,
            deadline: None,
            alpha_first: false,
        }
    }
}

impl Default for LromConfig {
    fn default() -> Self {
        LromConfig {
            encode: EncodeOptions::default(),
            bounds: Method::Lp,
            solver: SolverConfig::default(),
            solve: true,
            independent: true,
            implication_only: false,
            all_pairs: false,
            maximise: true,
            threshold: 0.0,
            parallel: true,
            warm_start: true,
            float_sound: false,
            exact_engine: ExactEngine::default(),
            bab: BabSettings::default(),
        }
    }
}

/// Bounds for one class pair.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PairResult {
    pub c: usize,
    pub j: usize,
    pub min: Extremum,
    pub max: Option<Extremum>,
    /// Independent analysis: certified (min, max) of OM(N1) − OM(N2) with separate inputs.
    pub independent: Option<(f64, f64)>,
    /// Certified minimum of N1's margin where N2's margin is ≥ 0.
    pub implication_only: Option<Extremum>,
}

/// The outcome for one region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every certified minimum is ≥ the threshold: N2 ⇒ N1 holds on the region.
    Established,
    /// A checked input of the region where N2 gives the label and N1 does not (by the IR and
    /// tract alike): the implication itself is false there.
    #[serde(rename = "implication-violated")]
    Violated,
    /// A checked input has LROM below the threshold, and none violates the implication: the
    /// LROM criterion cannot establish it, though it may still hold. (`refuted` before schema 2.)
    #[serde(rename = "margin-negative", alias = "refuted")]
    MarginNegative,
    /// Neither.
    Unknown,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegionResult {
    pub label: usize,
    pub pairs: Vec<PairResult>,
    pub verdict: Verdict,
    /// Unstable ReLUs of N1 and N2 under the chosen bounds.
    pub unstable: [usize; 2],
    pub seconds: f64,
}

impl RegionResult {
    /// The certified LROM range width (max − min) of each class pair whose maximum was bounded.
    pub fn widths(&self) -> impl Iterator<Item = f64> + '_ {
        self.pairs.iter().filter_map(|p| Some(p.max.as_ref()?.certified() - p.min.certified()))
    }
}

/// Analyses one region: `x` (a network input) with label `label`, the pixel-space L∞ ball of
/// radius `delta` ∩ the domain, as `map` puts it in network input space. The
/// networks must be compatible (`Network::check_compatible`, checked once where they are loaded).
#[allow(clippy::too_many_arguments)]
pub fn analyse(
    nets: [&Network; 2],
    runners: &[TractRunner],
    x: &[f64],
    label: usize,
    delta: f64,
    map: &InputMap,
    cfg: &LromConfig,
) -> Result<RegionResult> {
    let start = std::time::Instant::now();
    debug_assert!(nets[0].check_compatible(nets[1]).is_ok(), "analyse is given compatible networks");
    check_label(nets[0], label)?;
    let region = map.region(x, delta)?;
    let branching = cfg.branching();
    let cfg = &*cfg.modelled();
    let (nb, model, relaxation) = joint_model(nets, &region, cfg)?;
    let nbr: Vec<&NetworkBounds> = nb.iter().collect();
    let anchor = clip(x, &region);
    let joint = Region::new(&nets, runners, &nbr, &model, &anchor).float_sound_if(cfg.float_sound)?;
    let joint = joint.with_relaxation(relaxation.as_ref(), Some(cfg.threshold));
    // the independent baseline's single-network models do not depend on the class pair
    let single = |k: usize, encode: &EncodeOptions| JointModel::build(&[nets[k]], &[nbr[k]], &[], encode);
    let relaxed = EncodeOptions { mode: Mode::Relaxed, ..cfg.encode };
    let single_models: Vec<(JointModel, Option<JointModel>)> = match cfg.independent {
        true => (0..2).map(|k| (single(k, &cfg.encode), relaxation.is_some().then(|| single(k, &relaxed)))).collect(),
        false => Vec::new(),
    };
    let singles: Vec<Region> = single_models
        .iter()
        .enumerate()
        .map(|(k, (m, r))| {
            let region = Region::new(&nets[k..=k], &runners[k..=k], &nbr[k..=k], m, &anchor);
            Ok(region.float_sound_if(cfg.float_sound)?.with_relaxation(r.as_ref(), None))
        })
        .collect::<Result<_>>()?;
    let solver = cfg.solve.then_some(&cfg.solver);
    let classes = nets[0].output_size();
    let pairs: Vec<(usize, usize)> = if cfg.all_pairs {
        (0..classes).flat_map(|c| (0..classes).filter(move |&j| j != c).map(move |j| (c, j))).collect()
    } else {
        (0..classes).filter(|&j| j != label).map(|j| (label, j)).collect()
    };
    // one solver session per worker, re-solved for every objective of its pairs
    let presolve_off = !cfg.encode.materialize_affine;
    let session = || solver.filter(|_| cfg.warm_start).map(|s| Session::new(&model.lp, s, presolve_off));
    let results = crate::par::map_with(&pairs, cfg.parallel, session, |session, &(c, j)| -> Result<PairResult> {
        let lrom = OutputObjective { terms: vec![(1.0, 0, c), (-1.0, 0, j), (-1.0, 1, c), (1.0, 1, j)], constant: 0.0 };
        let mut optimise = |sense, target| {
            let root = joint.optimise_in(&lrom, sense, session, solver);
            match branching {
                true => bab::refine(&joint, &lrom, sense, root, target, &cfg.solver, &cfg.bab),
                false => Ok(root),
            }
        };
        // a minimum at or above the threshold decides the verdict; below it, the optimum is chased
        let decided_above = Target { threshold: cfg.threshold, inclusive: true, stop_below: false };
        let min = optimise(Sense::Minimise, Some(decided_above))?;
        let max = cfg.maximise.then(|| optimise(Sense::Maximise, None)).transpose()?;
        let independent = cfg.independent.then(|| independent_range(&singles, c, j, cfg, branching)).transpose()?;
        let implication_only = cfg.implication_only.then(|| implication_only(&joint, c, j, cfg));
        Ok(PairResult { c, j, min, max, independent, implication_only })
    });
    let pairs = results.into_iter().collect::<Result<Vec<_>>>()?;
    let negative: Vec<&PairResult> =
        pairs.iter().filter(|p| p.min.attained().is_some_and(|a| a < cfg.threshold)).collect();
    let verdict = if pairs.iter().all(|p| p.min.certified() >= cfg.threshold) {
        Verdict::Established
    } else if negative.is_empty() {
        Verdict::Unknown
    } else if negative.iter().try_fold(false, |hit, p| {
        Ok::<_, crate::error::Error>(hit || breaks_implication(nets, runners, &p.min.witness, label)?)
    })? {
        Verdict::Violated
    } else {
        Verdict::MarginNegative
    };
    let unstable = [0, 1].map(|k| relu_stats(nets[k], &nb[k]).iter().map(|s| s.unstable).sum());
    Ok(RegionResult { label, pairs, verdict, unstable, seconds: start.elapsed().as_secs_f64() })
}

/// Whether N2 classifies `w` as `label` and N1 does not, by the IR and by tract alike.
pub fn breaks_implication(nets: [&Network; 2], runners: &[TractRunner], w: &[f64], label: usize) -> Result<bool> {
    let mut classes = [[0usize; 2]; 2];
    for k in 0..2 {
        classes[k] = [argmax(&nets[k].forward(w)?), argmax(&runners[k].run(w)?)];
    }
    let agree = classes.iter().all(|c| c[0] == c[1]);
    Ok(agree && classes[1][0] == label && classes[0][0] != label)
}

/// Both networks' neuron bounds over `region` (by `cfg.bounds`), their joint model and, in
/// exact mode with a solver, relaxed mode's model too: exact mode also certifies every bound by
/// it (a MILP has no duals), so it is never weaker than relaxed mode. LP tightening already
/// relaxed most of both networks: that is reused, unless layers are shared (they must then be
/// encoded once).
pub fn joint_model(
    nets: [&Network; 2],
    region: &Interval,
    cfg: &LromConfig,
) -> Result<(Vec<NetworkBounds>, JointModel, Option<JointModel>)> {
    let (nb, relaxations) = joint_bounds(nets, region, cfg)?;
    let (model, relaxation) = models_on(nets, &nb, relaxations, cfg);
    Ok((nb, model, relaxation))
}

/// Both networks' neuron bounds over `region` and, after LP tightening, the relaxations it built.
pub fn joint_bounds(
    nets: [&Network; 2],
    region: &Interval,
    cfg: &LromConfig,
) -> Result<(Vec<NetworkBounds>, Vec<Option<Prefix>>)> {
    let computed = nets
        .iter()
        .map(|n| tighten::compute_with_relaxation(n, region, cfg.bounds, &cfg.lp_options()))
        .collect::<Result<Vec<_>>>()?;
    Ok(computed.into_iter().map(|Tightened { bounds, relaxation }| (bounds, relaxation)).unzip())
}

/// The joint model on bounds `nb` (and relaxed mode's too in exact mode), as `joint_model`.
pub fn models_on(
    nets: [&Network; 2],
    nb: &[NetworkBounds],
    relaxations: Vec<Option<Prefix>>,
    cfg: &LromConfig,
) -> (JointModel, Option<JointModel>) {
    let nbr: Vec<&NetworkBounds> = nb.iter().collect();
    let relaxed = EncodeOptions { mode: Mode::Relaxed, ..cfg.encode };
    // twins of one layer structure are coupled at their ReLU pairs; other networks that share
    // no layer reuse the relaxations LP tightening built
    let build_relaxed = |prefixes: Vec<Option<Prefix>>| match JointModel::coupling(&nets, &nbr, &relaxed) {
        Some(d) => JointModel::build_coupled(nets, [nbr[0], nbr[1]], &d, &relaxed),
        None => match prefixes.into_iter().collect::<Option<Vec<_>>>() {
            Some(r) if nets[0].shared_prefix(nets[1]) == 0 => JointModel::from_prefixes(r, &nets, &nbr, &relaxed),
            _ => JointModel::build(&nets, &nbr, &[], &relaxed),
        },
    };
    match cfg.encode.mode {
        Mode::Exact => {
            (JointModel::build(&nets, &nbr, &[], &cfg.encode), cfg.solve.then(|| build_relaxed(relaxations)))
        }
        Mode::Relaxed => (build_relaxed(relaxations), None),
    }
}

/// The independent baseline: min and max of `OM(N1) − OM(N2)` when each network's margin is
/// bounded on its own (no shared input), as certified (lower, upper); refined by branch and
/// bound when `branching`.
fn independent_range(singles: &[Region], c: usize, j: usize, cfg: &LromConfig, branching: bool) -> Result<(f64, f64)> {
    let solver = cfg.solve.then_some(&cfg.solver);
    let margin = OutputObjective { terms: vec![(1.0, 0, c), (-1.0, 0, j)], constant: 0.0 };
    let mut m = [(0.0, 0.0); 2];
    for (k, single) in singles.iter().enumerate() {
        let bound = |sense| {
            let root = single.optimise(&margin, sense, solver);
            let best = match branching {
                true => bab::refine(single, &margin, sense, root, None, &cfg.solver, &cfg.bab)?,
                false => root,
            };
            Ok::<_, crate::error::Error>(best.certified())
        };
        m[k] = (bound(Sense::Minimise)?, bound(Sense::Maximise)?);
    }
    Ok((m[0].0 - m[1].1, m[0].1 - m[1].0))
}

/// Minimum of N1's margin over the part of the region where N2's margin is ≥ 0.
fn implication_only(joint: &Region, c: usize, j: usize, cfg: &LromConfig) -> Extremum {
    let n2_margin = OutputObjective { terms: vec![(1.0, 1, c), (-1.0, 1, j)], constant: 0.0 };
    let mut model = joint.model.clone();
    // float-sound: N2's float32 margin ≥ 0 only says its real margin is ≥ −(its float32 error)
    let row = model.objective(&n2_margin.terms, 0.0);
    model.constrain(row, RowKind::Ge, -joint.float_error_of(&n2_margin));
    let region = joint.with_model(&model);
    let n1_margin = OutputObjective { terms: vec![(1.0, 0, c), (-1.0, 0, j)], constant: 0.0 };
    let mut best = region.optimise(&n1_margin, Sense::Minimise, cfg.solve.then_some(&cfg.solver));
    // the witness must lie where N2's margin is ≥ 0, else it attains nothing for this problem
    if region.checked_value(&n2_margin, &best.witness).is_none_or(|m| m < 0.0) {
        best.bracket.attained = None;
        best.bracket.note = Some("no checked point with N2's margin ≥ 0 was found".into());
    }
    best
}
