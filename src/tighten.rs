//! LP tightening (as SafeDeep does), above the solvers: for every unstable ReLU, minimise and
//! maximise its pre-activation over the triangle relaxation of the layers before it, layer by layer.
//!
//! Each optimum is certified from the LP duals (`solve::certify`), never taken from the solver;
//! later layers are re-propagated by intervals, so the result is never looser than `bounds`' own.

use std::time::Instant;

use crate::bounds::{self, interval, Interval, Method, NetworkBounds};
use crate::encode::{encode_network, EncodeOptions, LinExpr, LinearProgram, Mode, Prefix};
use crate::error::Result;
use crate::ir::{Layer, Network};
use crate::solve::{self, certify, Sense, SolverConfig};

/// How LP tightening solves its LPs.
#[derive(Clone, Debug, Default)]
pub struct LpOptions {
    pub solver: SolverConfig,
    /// Paper-faithful LPs: every affine output a variable with an equality row.
    pub materialize_affine: bool,
    /// Re-solve one model per worker from the previous basis (else a fresh model per LP).
    pub warm_start: bool,
    /// LPs not started by then are skipped (their neurons keep the bounds they had).
    pub deadline: Option<Instant>,
    /// Start from optimised-slope bounds (`Method::Alpha`) rather than the plain symbolic ones:
    /// worth it when the LPs may not all finish (their cost is a fraction of the LPs', and the
    /// neurons the LPs do not reach keep near-LP bounds); when they do finish, the LPs alone
    /// reach the same bounds.
    pub alpha_first: bool,
}

impl LpOptions {
    /// The embedded solver, compact rows, warm re-solves: what the analyses use by default.
    pub fn embedded() -> LpOptions {
        LpOptions {
            solver: SolverConfig::default(),
            materialize_affine: false,
            warm_start: true,
            deadline: None,
            alpha_first: false,
        }
    }

    /// `solver`, compact rows, warm re-solves.
    pub fn with_solver(solver: &SolverConfig) -> LpOptions {
        LpOptions { solver: solver.clone(), ..LpOptions::embedded() }
    }
}

/// Bounds by `method` and, for `Method::Lp`, the relaxation the tightening built (the network
/// encoded up to its last tightened layer), so that a joint model can reuse it.
pub struct Tightened {
    pub bounds: NetworkBounds,
    pub relaxation: Option<Prefix>,
}

/// Bounds of every layer of `net` over `input` by `method` (LP tightening on top of the
/// symbolic, or optimised-slope, bounds for `Method::Lp`).
pub fn compute(net: &Network, input: &Interval, method: Method, opts: &LpOptions) -> Result<NetworkBounds> {
    compute_with_relaxation(net, input, method, opts).map(|t| t.bounds)
}

/// Like `compute`, also handing on the relaxation that LP tightening built.
pub fn compute_with_relaxation(net: &Network, input: &Interval, method: Method, opts: &LpOptions) -> Result<Tightened> {
    let base = match method {
        Method::Lp if opts.alpha_first => Method::Alpha,
        Method::Lp => Method::Symbolic,
        other => other,
    };
    let nb = bounds::propagate(net, input, base, None)?;
    if method != Method::Lp {
        return Ok(Tightened { bounds: nb, relaxation: None });
    }
    Ok(tighten_from(net, nb, opts))
}

/// LP tightening of the unstable neurons of `net` (and of every neuron entering an element-wise
/// curve, step, softmax or product layer) starting from the bounds `nb` (symbolic or
/// optimised-slope bounds of the same box).
pub fn tighten_from(net: &Network, mut nb: NetworkBounds, opts: &LpOptions) -> Tightened {
    // layer by layer on top of those bounds (so LP ⊆ them): each LP relaxes the earlier layers
    // with their tightened bounds, which is at least as tight as back-substitution over those
    // bounds; later layers are re-propagated by intervals.
    let mut relaxation = Relaxation::new(&nb.input, opts);
    for j in 1..net.layers.len() {
        let again = interval::propagate(&net.layers[j].layer, nb.position(j));
        nb.layers[j] = nb.layers[j].intersect(&again);
        // a ReLU needs its unstable neurons tightened; the relaxations of the other nonlinear
        // layers all narrow with their inputs' bounds
        let which = match net.layers.get(j + 1).map(|l| &l.layer) {
            _ if !matches!(net.layers[j].layer, Layer::Affine(_)) => None,
            Some(Layer::Relu) => Some(Neurons::Unstable),
            Some(Layer::SShaped(_) | Layer::Power(_) | Layer::Step(_) | Layer::Softmax(_) | Layer::Product(_)) => {
                Some(Neurons::All)
            }
            _ => None,
        };
        if let Some(which) = which {
            relaxation.tighten_layer(net, &mut nb, j, opts, which);
        }
    }
    Tightened { bounds: nb, relaxation: Some(relaxation.prefix) }
}

/// Which neurons of a layer LP tightening optimises.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Neurons {
    /// Those whose ReLU is unstable (what the encodings need).
    Unstable,
    /// Every one (the output layer, as `bounds --method lp` reports it).
    All,
}

/// Tightens every output of `net` over the relaxation of all its layers with the bounds `nb`
/// (certified by the duals): what `bounds --method lp` reports as the output bounds. The
/// analyses optimise their own objectives over the outputs and do not need it.
pub fn tighten_outputs(net: &Network, input: &Interval, nb: &mut NetworkBounds, opts: &LpOptions) {
    if let Some(last) = net.layers.len().checked_sub(1) {
        Relaxation::new(input, opts).tighten_layer(net, nb, last, opts, Neurons::All);
    }
}

/// The relaxation of a network's first layers, grown layer by layer as bounds get tightened.
struct Relaxation {
    prefix: Prefix,
    encode: EncodeOptions,
}

impl Relaxation {
    /// Input variables over the box, nothing encoded yet.
    fn new(input: &Interval, opts: &LpOptions) -> Relaxation {
        let mut lp = LinearProgram::default();
        let exprs = (0..input.len()).map(|i| LinExpr::var(lp.add_var(input.lower[i], input.upper[i], false))).collect();
        let encode =
            EncodeOptions { mode: Mode::Relaxed, materialize_affine: opts.materialize_affine, ..Default::default() };
        Relaxation { prefix: Prefix { lp, exprs, position: 0 }, encode }
    }

    /// Encodes the layers up to `position` (their bounds must be final by now).
    fn advance(&mut self, net: &Network, nb: &NetworkBounds, position: usize) {
        let p = &mut self.prefix;
        let exprs = std::mem::take(&mut p.exprs);
        p.exprs = encode_network(&mut p.lp, net, nb, exprs, &self.encode, p.position..position);
        p.position = position;
    }

    /// Tightens the unstable outputs of affine layer `j` in `nb` (the layers before it are
    /// encoded first). Solver failures leave a neuron's bound as it was.
    fn tighten_layer(&mut self, net: &Network, nb: &mut NetworkBounds, j: usize, opts: &LpOptions, which: Neurons) {
        let out = &nb.layers[j];
        let all = which == Neurons::All;
        let unstable: Vec<usize> =
            (0..out.lower.len()).filter(|&i| all || (out.lower[i] < 0.0 && out.upper[i] > 0.0)).collect();
        if unstable.is_empty() {
            return;
        }
        self.advance(net, nb, j + 1);
        let cfg = &opts.solver;
        let jobs: Vec<(usize, Sense)> =
            unstable.iter().flat_map(|&i| [(i, Sense::Minimise), (i, Sense::Maximise)]).collect();
        let (lp, exprs) = (&self.prefix.lp, &self.prefix.exprs);
        // one solver session per worker: each re-solve starts from the previous basis
        let results = crate::par::map_with(
            &jobs,
            true,
            || opts.warm_start.then(|| solve::Session::new(lp, cfg, !opts.materialize_affine)),
            |session, &(i, sense)| {
                if opts.deadline.is_some_and(|d| Instant::now() >= d) {
                    return None;
                }
                let sol = match session {
                    Some(s) => s.as_mut().ok()?.solve(&exprs[i], sense).ok()?,
                    None => solve::solve(lp, &exprs[i], sense, cfg).ok()?,
                };
                sol.row_duals.map(|d| certify::bound(lp, &exprs[i], sense, &d))
            },
        );
        let out = &mut nb.layers[j];
        for (&(i, sense), r) in jobs.iter().zip(results) {
            match (sense, r) {
                (Sense::Minimise, Some(b)) => out.lower[i] = out.lower[i].max(b),
                (Sense::Maximise, Some(b)) => out.upper[i] = out.upper[i].min(b),
                _ => {}
            }
        }
    }
}
