//! LP tightening (as SafeDeep does): for every unstable ReLU, minimise and maximise its
//! pre-activation over the triangle relaxation of the layers before it, layer by layer.
//! Each optimum is certified from the LP duals (`solve::certify`), never taken from the solver.

use super::NetworkBounds;
use crate::encode::{encode_network, EncodeOptions, LinExpr, LinearProgram};
use crate::error::Result;
use crate::ir::Network;
use crate::solve::{self, certify, Sense, SolverConfig};

/// Tightens the bounds of affine layer `j`'s unstable outputs in place. Returns how many LP
/// solves ran. Solver failures leave the symbolic bound of that neuron as it was.
pub fn tighten_layer(net: &Network, nb: &mut NetworkBounds, j: usize, solver: &SolverConfig) -> Result<usize> {
    let out = &nb.layers[j];
    let unstable: Vec<usize> = (0..out.lower.len()).filter(|&i| out.lower[i] < 0.0 && out.upper[i] > 0.0).collect();
    if unstable.is_empty() {
        return Ok(0);
    }
    let mut lp = LinearProgram::default();
    let inputs: Vec<LinExpr> =
        (0..net.input_size()).map(|i| LinExpr::var(lp.add_var(nb.input.lower[i], nb.input.upper[i], false))).collect();
    let exprs = encode_network(&mut lp, net, nb, inputs, &EncodeOptions::default(), 0..j + 1);
    let mut cfg = solver.clone();
    cfg.threads = Some(1);
    let jobs: Vec<(usize, Sense)> =
        unstable.iter().flat_map(|&i| [(i, Sense::Minimise), (i, Sense::Maximise)]).collect();
    let results = crate::par::map(&jobs, |&(i, sense)| {
        solve::solve(&lp, &exprs[i], sense, &cfg)
            .ok()
            .and_then(|s| s.row_duals.map(|d| certify::bound(&lp, &exprs[i], sense, &d)))
    });
    let out = &mut nb.layers[j];
    for (&(i, sense), r) in jobs.iter().zip(results) {
        match (sense, r) {
            (Sense::Minimise, Some(b)) => out.lower[i] = out.lower[i].max(b),
            (Sense::Maximise, Some(b)) => out.upper[i] = out.upper[i].min(b),
            _ => {}
        }
    }
    Ok(jobs.len())
}
