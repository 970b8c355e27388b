//! Branch and bound on ReLU phases for inputs too large to split: a node fixes some neurons'
//! phases (their pre-activation bound clamped at 0, with the phase row in the LP); a node is
//! closed only by a certified LP bound or by bounds that leave no input in it.

use std::collections::BinaryHeap;
use std::time::Instant;

use super::search::{BoxResult, Context};
use super::{Item, Queued};
use crate::bounds::{Interval, NetworkBounds};
use crate::encode::Mode;
use crate::error::Result;
use crate::ir::Layer;

/// A ReLU pre-activation: network, layer (the vector entering the ReLU), neuron.
type Neuron = (usize, usize, usize);

/// The unstable neuron whose triangle relaxation is widest (`u·(−l)/(u−l)`), if any is left.
/// For twins encoded on shared inputs, neurons of layers shared with the first network are only
/// split in the first network (the joint model encodes them once, from its bounds).
fn widest(ctx: &Context, nbs: &[NetworkBounds]) -> Option<Neuron> {
    let nets = ctx.checker.nets;
    let shared = ctx.checker.space.shared();
    let mut best: Option<(f64, Neuron)> = None;
    for (k, net) in nets.iter().enumerate() {
        let from = if k > 0 && shared { nets[0].shared_prefix(net) } else { 0 };
        for j in from..net.layers.len().saturating_sub(1) {
            if !matches!(net.layers[j + 1].layer, Layer::Relu) {
                continue;
            }
            let pre = &nbs[k].layers[j];
            for (i, (&l, &u)) in pre.lower.iter().zip(&pre.upper).enumerate() {
                if l < 0.0 && u > 0.0 {
                    let gap = u * -l / (u - l);
                    if best.is_none_or(|(g, _)| gap > g) {
                        best = Some((gap, (k, j, i)));
                    }
                }
            }
        }
    }
    best.map(|(_, n)| n)
}

/// Explores phase splits of the root box's neurons, lowest certified bound first, until every
/// node is closed (unsat), a checked witness turns up (sat), or `deadline` passes (open).
pub fn relu_bab(
    ctx: &Context,
    root: &Interval,
    items: &[Item],
    root_bounds: Vec<NetworkBounds>,
    lower: f64,
    deadline: Option<Instant>,
    max_nodes: usize,
) -> Result<BoxResult> {
    let mut nodes: Vec<Vec<NetworkBounds>> = vec![root_bounds];
    let mut queue = BinaryHeap::from([Queued { lower, node: 0 }]);
    let (mut closed, mut stuck) = (0usize, 0usize);
    while let Some(Queued { lower, node }) = queue.pop() {
        if deadline.is_some_and(|d| Instant::now() >= d) || nodes.len() >= max_nodes {
            let note = format!(
                "ReLU branch and bound: {} with {} open nodes ({closed} closed); lowest certified bound {lower:.6e}",
                if nodes.len() >= max_nodes { "node budget spent" } else { "time up" },
                queue.len() + 1
            );
            return Ok(BoxResult::Open { lower, point: root.lower.clone(), note: Some(note) });
        }
        let nbs = std::mem::take(&mut nodes[node]);
        let Some((k, j, i)) = widest(ctx, &nbs) else {
            stuck += 1; // every phase fixed and still undecided (e.g. an LP that failed)
            continue;
        };
        for active in [true, false] {
            let mut prior = nbs.clone();
            let pre = &mut prior[k].layers[j];
            if active {
                pre.lower[i] = 0.0;
            } else {
                pre.upper[i] = 0.0;
            }
            let Some(child) = ctx.bounds_within(root, &prior)? else {
                closed += 1; // no input reaches this phase pattern
                continue;
            };
            match ctx.solve_with(root, &child, items, Mode::Relaxed)? {
                BoxResult::Unsat => closed += 1,
                BoxResult::Sat(w) => return Ok(BoxResult::Sat(w)),
                BoxResult::Open { lower, point, .. } => {
                    if let Some(w) = ctx.checker.attack(&point, root, items, 4) {
                        return Ok(BoxResult::Sat(w));
                    }
                    nodes.push(child);
                    queue.push(Queued { lower, node: nodes.len() - 1 });
                }
            }
        }
    }
    if stuck == 0 {
        return Ok(BoxResult::Unsat);
    }
    let note = format!("ReLU branch and bound: {stuck} fully split nodes stayed undecided ({closed} closed)");
    Ok(BoxResult::Open { lower: f64::NEG_INFINITY, point: root.lower.clone(), note: Some(note) })
}
