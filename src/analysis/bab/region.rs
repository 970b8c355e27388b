//! Branch and bound for an objective over a joint region (LROM, margins): each node is the
//! relaxed joint LP with phase rows, certified by its duals or symbolically, its point checked.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use std::rc::Rc;

use super::{minimise, BabOptions, Bounder, Branching, Evaluated, Frame, Problem, Target};
use crate::analysis::objective::{Certificate, Extremum, OutputObjective, Region, PROVED_TOLERANCE};
use crate::bounds::NetworkBounds;
use crate::encode::{EncodeOptions, JointModel, Mode};
use crate::error::Result;
use crate::solve::{certify, Basis, Sense, Session, SolverConfig};

/// Which engine answers exact mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExactEngine {
    /// Certified branch and bound on ReLU phases (every bound proved).
    #[default]
    Bab,
    /// The MILP: its optimum is the solver's word; the certified bound is the LP relaxation's.
    Milp,
}

/// How far the branch and bound of one objective may go.
#[derive(Clone, Debug, PartialEq)]
pub struct BabSettings {
    /// Seconds per objective (none: until closed or out of nodes).
    pub seconds: Option<f64>,
    pub max_nodes: usize,
    /// Absolute gap between certified and attained at which an objective counts as closed.
    pub gap: f64,
    pub branching: Branching,
}

impl Default for BabSettings {
    fn default() -> Self {
        BabSettings { seconds: Some(60.0), max_nodes: 20_000, gap: 1e-4, branching: Branching::default() }
    }
}

/// Certifies one node of `region`'s networks: the relaxed joint LP on the node's bounds, on the
/// root's model re-bounded for the node (from its parent's basis, the node's tag) where a frame
/// applies, else on a model built for the node.
struct RegionBounder<'r, 'a> {
    region: &'r Region<'a>,
    objective: &'r OutputObjective,
    solver: &'r SolverConfig,
    encode: EncodeOptions,
    frame: Option<Frame>,
}

impl Bounder for RegionBounder<'_, '_> {
    type Witness = Vec<f64>;
    type Tag = Option<Rc<Basis>>;

    fn evaluate(&mut self, bounds: &[NetworkBounds], basis: &Self::Tag) -> Result<Evaluated<Vec<f64>, Self::Tag>> {
        let refs: Vec<&NetworkBounds> = bounds.iter().collect();
        let (best, empty, basis) = match &mut self.frame {
            Some(frame) => {
                frame.rebound(bounds);
                let loaded = frame.load(self.solver, basis.as_deref())?;
                let node = self.region.on_bounds(&refs, &frame.model)?;
                let mut session = Session::adopt(&frame.model.lp, self.solver, loaded);
                let best = node.optimise_with(self.objective, Sense::Minimise, Some(&mut session));
                let basis = session.basis();
                let loaded = session.into_embedded();
                frame.restore(loaded);
                let empty =
                    best.bracket.solver_value.is_none() && certify::proves_infeasible(&frame.model.lp, self.solver);
                (best, empty, basis)
            }
            None => {
                let model = JointModel::build_joint(self.region.nets, &refs, &self.encode);
                let node = self.region.on_bounds(&refs, &model)?;
                // presolve off: on a node's substituted LP it costs more than it saves
                let best = node.optimise_in_new(self.objective, Sense::Minimise, Some(self.solver), true);
                let empty = best.bracket.solver_value.is_none() && certify::proves_infeasible(&model.lp, self.solver);
                (best, empty, None)
            }
        };
        if empty {
            return Ok(Evaluated::Empty);
        }
        let found = best.attained().map(|a| (a, best.witness.clone()));
        Ok(Evaluated::Bounded { lower: best.certified(), found, tag: basis.map(Rc::new) })
    }
}

/// Improves `root` (the relaxed LP's extremum of `obj` over `region`) by branch and bound on
/// the ReLU phases of every network. With a `target`, an extremum whose question it already
/// answers is left as it is, and the search stops once it answers it (for a maximum, the
/// threshold is on the maximised objective: the search stops once the maximum is proved ≤ it).
pub fn refine(
    region: &Region,
    obj: &OutputObjective,
    sense: Sense,
    root: Extremum,
    target: Option<Target>,
    solver: &SolverConfig,
    settings: &BabSettings,
) -> Result<Extremum> {
    let sign = if sense == Sense::Minimise { 1.0 } else { -1.0 };
    let target = target.map(|t| Target { threshold: sign * t.threshold, ..t });
    let lower = sign * root.certified();
    let attained = root.attained().map(|a| sign * a);
    let answered = target.is_some_and(|t| t.proved(lower) || attained.is_some_and(|a| t.refuted(a)));
    if answered || attained.is_some_and(|a| a - lower <= settings.gap) {
        return Ok(root);
    }
    let minimised = OutputObjective {
        terms: obj.terms.iter().map(|&(w, n, i)| (sign * w, n, i)).collect(),
        constant: sign * obj.constant,
    };
    let root_model = region.relaxed_model();
    let problem = Problem {
        nets: region.nets,
        coefficients: region
            .nets
            .iter()
            .enumerate()
            .map(|(n, net)| minimised.coefficients(n, net.output_size(), 1.0))
            .collect(),
        shared_layers: true,
        twins: root_model.coupling.as_deref(),
    };
    // the nodes' models are of the root's kind (coupled twins stay coupled)
    let uncoupled = root_model.coupling.is_none();
    let encode = EncodeOptions { mode: Mode::Relaxed, materialize_affine: false, phase_rows: true, uncoupled };
    let refs: Vec<&NetworkBounds> = region.bounds.to_vec();
    let frame =
        Frame::applies(region.nets, solver).then(|| Frame::new(root_model.rebuilt_on(region.nets, &refs, &encode)));
    let mut bounder = RegionBounder { region, objective: &minimised, solver, encode, frame };
    let opts = BabOptions {
        deadline: settings.seconds.map(|s| Instant::now() + Duration::from_secs_f64(s)),
        max_nodes: settings.max_nodes,
        target,
        gap: settings.gap,
        branching: settings.branching,
    };
    let roots: Vec<NetworkBounds> = region.bounds.iter().map(|b| (*b).clone()).collect();
    let best = attained.map(|a| (a, root.witness.clone()));
    // the root's solve on the frame gives its children a basis to start from
    let tag = match bounder.frame.is_some() {
        true => match bounder.evaluate(&roots, &None)? {
            Evaluated::Bounded { tag, .. } => tag,
            Evaluated::Empty => None,
        },
        false => None,
    };
    let r = minimise(&problem, &mut bounder, (roots, tag), lower, best, &opts)?;
    let mut out = root;
    if r.lower > lower {
        out.bracket.certified = sign * r.lower;
        out.certificate = Certificate::Branching;
    }
    if let Some((v, w)) = r.best.filter(|(v, _)| attained.is_none_or(|a| *v < a)) {
        out.bracket.attained = Some(sign * v);
        out.witness = w;
    }
    out.bracket.close_within(PROVED_TOLERANCE);
    out.search = Some(r.stats);
    Ok(out)
}
