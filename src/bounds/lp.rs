//! LP tightening (as SafeDeep does): for every unstable ReLU, minimise and maximise its
//! pre-activation over the triangle relaxation of the layers before it, layer by layer.
//! Each optimum is certified from the LP duals (`solve::certify`), never taken from the solver.

use super::{Interval, LpOptions, NetworkBounds};
use crate::encode::{encode_network, EncodeOptions, LinExpr, LinearProgram, Mode};
use crate::ir::Network;
use crate::solve::{self, certify, Sense};

/// The relaxation of a network's first layers, grown layer by layer as bounds get tightened.
pub struct Relaxation {
    lp: LinearProgram,
    exprs: Vec<LinExpr>,
    position: usize,
    encode: EncodeOptions,
}

impl Relaxation {
    /// Input variables over the box, nothing encoded yet.
    pub fn new(input: &Interval, opts: &LpOptions) -> Relaxation {
        let mut lp = LinearProgram::default();
        let exprs = (0..input.len()).map(|i| LinExpr::var(lp.add_var(input.lower[i], input.upper[i], false))).collect();
        let encode =
            EncodeOptions { mode: Mode::Relaxed, materialize_affine: opts.materialize_affine, phase_rows: false };
        Relaxation { lp, exprs, position: 0, encode }
    }

    /// The model, the expressions of the vector at `position`, and `position`.
    pub fn into_parts(self) -> (LinearProgram, Vec<LinExpr>, usize) {
        (self.lp, self.exprs, self.position)
    }

    /// Encodes the layers up to `position` (their bounds must be final by now).
    fn advance(&mut self, net: &Network, nb: &NetworkBounds, position: usize) {
        let exprs = std::mem::take(&mut self.exprs);
        self.exprs = encode_network(&mut self.lp, net, nb, exprs, &self.encode, self.position..position);
        self.position = position;
    }

    /// Tightens the unstable outputs of affine layer `j` in `nb` (the layers before it are
    /// encoded first). Solver failures leave a neuron's bound as it was.
    pub fn tighten_layer(&mut self, net: &Network, nb: &mut NetworkBounds, j: usize, opts: &LpOptions) {
        let out = &nb.layers[j];
        let unstable: Vec<usize> = (0..out.lower.len()).filter(|&i| out.lower[i] < 0.0 && out.upper[i] > 0.0).collect();
        if unstable.is_empty() {
            return;
        }
        self.advance(net, nb, j + 1);
        let cfg = &opts.solver;
        let jobs: Vec<(usize, Sense)> =
            unstable.iter().flat_map(|&i| [(i, Sense::Minimise), (i, Sense::Maximise)]).collect();
        let (lp, exprs) = (&self.lp, &self.exprs);
        // one solver session per worker: each re-solve starts from the previous basis
        let results = crate::par::map_with(
            &jobs,
            true,
            || opts.warm_start.then(|| solve::Session::new(lp, cfg, !opts.materialize_affine)),
            |session, &(i, sense)| {
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
