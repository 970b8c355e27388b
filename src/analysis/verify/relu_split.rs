//! Branch and bound on ReLU phases for inputs too large to split, on the common engine
//! (`analysis::bab`): a node is closed only by a certified LP bound on the largest violation, or
//! by bounds that leave no input in it; a checked witness in any node answers `sat`.

use std::time::Instant;

use super::search::{BoxResult, Context};
use super::witness::Witness;
use super::Item;
use crate::analysis::bab::{self, BabOptions, Bounder, Evaluated, Problem, Stop, Target};
use crate::bounds::{Interval, NetworkBounds};
use crate::encode::Mode;
use crate::error::Result;

/// Certifies a node by the relaxed LP of the disjunct's largest violation on its bounds.
struct Violation<'c, 'a> {
    ctx: &'c Context<'a>,
    root: &'c Interval,
    items: &'c [Item],
}

impl Bounder for Violation<'_, '_> {
    type Witness = Witness;

    fn evaluate(&mut self, bounds: &[NetworkBounds]) -> Result<Evaluated<Witness>> {
        let sat = |w| Ok(Evaluated::Bounded { lower: f64::NEG_INFINITY, found: Some((f64::NEG_INFINITY, w)) });
        match self.ctx.solve_with(self.root, bounds, self.items, Mode::Relaxed)? {
            BoxResult::Unsat => Ok(Evaluated::Empty), // nothing in it violates the property
            BoxResult::Sat(w) => sat(w),
            BoxResult::Open { lower, point, .. } => match self.ctx.checker.attack(&point, self.root, self.items, 4) {
                Some(w) => sat(w),
                None => Ok(Evaluated::Bounded { lower, found: None }),
            },
        }
    }
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
    let nets = ctx.checker.nets;
    // the branching score follows the items' output coefficients, summed
    let mut coefficients: Vec<Vec<f64>> = nets.iter().map(|n| vec![0.0; n.output_size()]).collect();
    for &(a, n, i) in items.iter().flat_map(|it| &it.outputs) {
        coefficients[n][i] += a;
    }
    let problem = Problem { nets, coefficients, shared_layers: ctx.shares_layers(root) };
    let all_strict = items.iter().all(|it| it.strict);
    let opts = BabOptions {
        deadline,
        max_nodes,
        target: Some(Target { threshold: 0.0, inclusive: all_strict, stop_below: true }),
        ..BabOptions::default()
    };
    let mut bounder = Violation { ctx, root, items };
    let r = bab::minimise(&problem, &mut bounder, root_bounds, lower, None, &opts)?;
    if let Some((_, w)) = r.best {
        return Ok(BoxResult::Sat(w));
    }
    if super::search::refutes(r.lower, items) {
        return Ok(BoxResult::Unsat);
    }
    let s = &r.stats;
    let why = match s.stop {
        Stop::TimeUp => "time up",
        Stop::NodeBudget => "node budget spent",
        Stop::Closed | Stop::Decided => "every phase fixed",
    };
    let note = format!(
        "ReLU branch and bound: {why} with {} open nodes after {} nodes{}; lowest certified bound {:.6e}",
        s.open,
        s.nodes,
        if s.faults > 0 { format!(" ({} failed to certify)", s.faults) } else { String::new() },
        r.lower
    );
    Ok(BoxResult::Open { lower: r.lower, point: root.lower.clone(), note: Some(note) })
}
