//! Branch and bound on ReLU phases for inputs too large to split, on the common engine
//! (`analysis::bab`), for every open disjunct over one box at once: a node is closed only when
//! each disjunct is ruled out there, by a certified bound on one of its constraints with
//! optimised slopes and sign multipliers (the node's splits among them) or by a certified LP
//! bound on its largest violation (or by bounds that leave no input in it); a checked witness of
//! any disjunct in any node answers `sat`.

use std::rc::Rc;
use std::time::Instant;

use super::frame::DisjunctFrame;
use super::search::{refutes, BoxResult, Context};
use super::witness::Witness;
use super::Item;
use crate::analysis::bab::{self, BabOptions, Bounder, Evaluated, Problem, Stop, Target};
use crate::bounds::{Interval, NetworkBounds};
use crate::encode::Mode;
use crate::error::Result;
use crate::solve::Basis;

/// The disjuncts still open in a node, the one with the lowest bound first (the branching
/// focus), and the basis its LP ended with (where its children's solves start).
#[derive(Clone, Debug)]
pub struct Open {
    pub disjuncts: Vec<usize>,
    basis: Option<Rc<Basis>>,
}

/// Certifies a node by the relaxed LP of each open disjunct's largest violation on its bounds
/// (one model, re-solved per disjunct).
struct Violations<'c, 'a> {
    ctx: &'c Context<'a>,
    root: &'c Interval,
    disjuncts: &'c [Vec<Item>],
    /// Each disjunct's items' output coefficients, summed (the BaBSR score follows them).
    coefficients: Vec<Vec<Vec<f64>>>,
    /// The root's model, re-bounded per node (when it applies; else a model per node).
    frame: Option<DisjunctFrame>,
}

impl Bounder for Violations<'_, '_> {
    type Witness = Witness;
    type Tag = Open;

    fn evaluate(&mut self, bounds: &[NetworkBounds], tag: &Open) -> Result<Evaluated<Witness, Open>> {
        let sat = |w| {
            Ok(Evaluated::Bounded { lower: f64::NEG_INFINITY, found: Some((f64::NEG_INFINITY, w)), tag: tag.clone() })
        };
        // optimised slopes and sign multipliers rule disjuncts out without an LP (milliseconds
        // where the LP may take seconds); the LP sees only the rest
        let items: Vec<&[Item]> = tag.disjuncts.iter().map(|&k| self.disjuncts[k].as_slice()).collect();
        let lowers = self.ctx.slopes_lower(self.root, bounds, &items)?;
        let (left, bounded): (Vec<usize>, Vec<f64>) = tag
            .disjuncts
            .iter()
            .zip(lowers)
            .filter(|&(&k, l)| !refutes(l, &self.disjuncts[k]))
            .map(|(&k, l)| (k, l))
            .unzip();
        if left.is_empty() {
            return Ok(Evaluated::Empty);
        }
        let (results, basis) =
            solve(self.ctx, self.frame.as_mut(), self.root, bounds, self.disjuncts, &left, tag.basis.as_deref())?;
        let mut open = Open { disjuncts: Vec::new(), basis: basis.map(Rc::new) };
        let mut lowest = f64::INFINITY;
        for ((&k, result), bounded) in left.iter().zip(results).zip(bounded) {
            match result {
                BoxResult::Unsat => {} // nothing in the node violates the property this way
                BoxResult::Sat(w) => return sat(w),
                BoxResult::Open { lower, point, .. } => {
                    // both bounds are certified: the node's is the better one
                    let lower = lower.max(bounded);
                    if let Some(w) = self.ctx.checker.attack(&point, self.root, &self.disjuncts[k], 4) {
                        return sat(w);
                    }
                    match lower < lowest {
                        true => open.disjuncts.insert(0, k),
                        false => open.disjuncts.push(k),
                    }
                    lowest = lowest.min(lower);
                }
            }
        }
        if open.disjuncts.is_empty() {
            return Ok(Evaluated::Empty);
        }
        Ok(Evaluated::Bounded { lower: lowest, found: None, tag: open })
    }

    fn focus(&self, tag: &Open) -> Option<Vec<Vec<f64>>> {
        tag.disjuncts.first().map(|&k| self.coefficients[k].clone())
    }
}

/// The relaxed LP of each disjunct `which` over `root` on `bounds`: on the frame, from `basis`,
/// when one applies (with the basis it ends with), else on a model of their own.
fn solve(
    ctx: &Context,
    frame: Option<&mut DisjunctFrame>,
    root: &Interval,
    bounds: &[NetworkBounds],
    disjuncts: &[Vec<Item>],
    which: &[usize],
    basis: Option<&Basis>,
) -> Result<(Vec<BoxResult>, Option<Basis>)> {
    match frame {
        Some(f) => f.solve_node(ctx, root, bounds, disjuncts, which, basis),
        None => {
            let items: Vec<&[Item]> = which.iter().map(|&k| disjuncts[k].as_slice()).collect();
            Ok((ctx.solve_each(root, bounds, &items, Mode::Relaxed)?, None))
        }
    }
}

/// What the branch and bound left: the answer and, when it is open, the disjuncts still open in
/// some leaf (indices into the disjuncts given).
pub struct Searched {
    pub result: BoxResult,
    pub open: Vec<usize>,
}

/// The root of a search: its LP solved, on the frame when one applies.
pub struct Root {
    /// The disjuncts the root's LP left open (indices into the disjuncts), the worst first.
    pub open: Vec<usize>,
    /// Their lowest certified bound.
    pub lower: f64,
    frame: Option<DisjunctFrame>,
    basis: Option<Rc<Basis>>,
}

/// Solves the root box's LP for every disjunct (on the frame the search will keep, when one
/// applies): a checked witness (from the LP point or an attack from it) answers at once.
pub fn solve_root(
    ctx: &Context,
    root: &Interval,
    disjuncts: &[Vec<Item>],
    bounds: &[NetworkBounds],
    attack_steps: usize,
) -> Result<std::result::Result<Root, Witness>> {
    let all: Vec<usize> = (0..disjuncts.len()).collect();
    let mut frame = DisjunctFrame::new(ctx, root, bounds, disjuncts);
    let (results, basis) = solve(ctx, frame.as_mut(), root, bounds, disjuncts, &all, None)?;
    let mut open: Vec<(f64, usize)> = Vec::new();
    for (k, result) in results.into_iter().enumerate() {
        match result {
            BoxResult::Unsat => {}
            BoxResult::Sat(w) => return Ok(Err(w)),
            BoxResult::Open { lower, point, .. } => {
                if let Some(w) = ctx.checker.attack(&point, root, &disjuncts[k], attack_steps) {
                    return Ok(Err(w));
                }
                open.push((lower, k));
            }
        }
    }
    open.sort_by(|a, b| a.0.total_cmp(&b.0));
    let lower = open.first().map_or(f64::INFINITY, |o| o.0);
    Ok(Ok(Root { open: open.into_iter().map(|o| o.1).collect(), lower, frame, basis: basis.map(Rc::new) }))
}

/// Explores phase splits of the root box's neurons, lowest certified bound first, until every
/// disjunct open at the root is ruled out in every node (unsat), a checked witness turns up
/// (sat), or `deadline` passes (open).
pub fn relu_bab(
    ctx: &Context,
    root: &Interval,
    disjuncts: &[Vec<Item>],
    root_bounds: Vec<NetworkBounds>,
    start: Root,
    deadline: Option<Instant>,
    max_nodes: usize,
) -> Result<Searched> {
    let nets = ctx.checker.nets;
    let coefficients: Vec<Vec<Vec<f64>>> = disjuncts
        .iter()
        .map(|items| {
            let mut c: Vec<Vec<f64>> = nets.iter().map(|n| vec![0.0; n.output_size()]).collect();
            for &(a, n, i) in items.iter().flat_map(|it| &it.outputs) {
                c[n][i] += a;
            }
            c
        })
        .collect();
    let Root { open: at_root, lower, frame, basis } = start;
    let first = at_root.first().copied().unwrap_or(0);
    let twins = frame.as_ref().and_then(|f| f.coupling().map(<[_]>::to_vec));
    let problem = Problem {
        nets,
        coefficients: coefficients[first].clone(),
        shared_layers: ctx.shares_layers(root),
        twins: twins.as_deref(),
    };
    // a disjunct whose bound reaches 0 and is ruled out by it leaves the node's open set, so a
    // node's bound answers "yes" only when it is above 0
    let opts = BabOptions {
        deadline,
        max_nodes,
        target: Some(Target { threshold: 0.0, inclusive: false, stop_below: true }),
        ..BabOptions::default()
    };
    let searched = at_root.len();
    let mut bounder = Violations { ctx, root, disjuncts, coefficients, frame };
    let tag = Open { disjuncts: at_root, basis };
    let r = bab::minimise(&problem, &mut bounder, (root_bounds, tag), lower, None, &opts)?;
    let s = &r.stats;
    log::debug!(
        "ReLU branch and bound over {searched} disjuncts: {:?} after {} nodes in {:.2} s, {} open, lowest bound {:.6e}",
        s.stop,
        s.nodes,
        s.seconds,
        s.open,
        r.lower
    );
    if let Some((_, w)) = r.best {
        return Ok(Searched { result: BoxResult::Sat(w), open: Vec::new() });
    }
    let mut open: Vec<usize> = r.open_tags.iter().flat_map(|t| t.disjuncts.iter().copied()).collect();
    open.sort_unstable();
    open.dedup();
    if open.is_empty() || r.lower > 0.0 {
        return Ok(Searched { result: BoxResult::Unsat, open: Vec::new() });
    }
    let why = match s.stop {
        Stop::TimeUp => "time up",
        Stop::NodeBudget => "node budget spent",
        Stop::Closed | Stop::Decided => "every phase fixed",
    };
    let note = format!(
        "ReLU branch and bound over {} of {searched} disjuncts: {why} with {} open nodes after {} nodes{}; lowest certified bound {:.6e}",
        open.len(),
        s.open,
        s.nodes,
        if s.faults > 0 { format!(" ({} failed to certify)", s.faults) } else { String::new() },
        r.lower
    );
    Ok(Searched { result: BoxResult::Open { lower: r.lower, point: root.lower.clone(), note: Some(note) }, open })
}
