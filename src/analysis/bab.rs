//! Certified branch and bound on ReLU phases over one or more networks on shared inputs: each
//! node clamps some pre-activation bounds at 0, is re-bounded inside its parent and certified.
//!
//! The engine owns the search (queue, branching choice, re-bounding, stopping); a `Bounder`
//! certifies one node (a relaxed LP with duals and Neumaier–Shcherbina, or symbolic bounds) and
//! proposes a checked point. The certified minimum reported is the minimum over the leaves not
//! proved empty, so the answer is valid whenever the search stops (anytime). A leaf that fixes
//! every unstable ReLU is an exact LP, so a finished search meets its best checked value.

mod branching;
mod frame;
mod region;

pub use branching::Branching;
pub use frame::Frame;
pub use region::{refine, BabSettings, ExactEngine};

use std::collections::BinaryHeap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::bounds::difference::twin_of;
use crate::bounds::{self, Interval, NetworkBounds};
use crate::error::Result;
use crate::ir::Network;

/// What certifying one node gave.
pub enum Evaluated<W, T = ()> {
    /// No input of the region reaches the node's phase pattern (certified).
    Empty,
    /// A certified lower bound over the node and, if one was found, a checked point inside it
    /// with its value; `tag` is what the node's children inherit.
    Bounded { lower: f64, found: Option<(f64, W)>, tag: T },
}

/// Certifies one node, given every network's bounds on it and the tag its parent left.
pub trait Bounder {
    type Witness: Clone;
    /// What a node carries besides its bounds (e.g. which of several objectives are still open
    /// in it); `()` for one objective.
    type Tag: Clone;
    fn evaluate(&mut self, bounds: &[NetworkBounds], tag: &Self::Tag) -> Result<Evaluated<Self::Witness, Self::Tag>>;

    /// The objective's coefficients on the networks' outputs that a node with `tag` branches for,
    /// when they differ from the problem's.
    fn focus(&self, _tag: &Self::Tag) -> Option<Vec<Vec<f64>>> {
        None
    }
}

/// When the search may stop before it closes the gap: the question asked is only whether the
/// minimum is at or above `threshold` (`inclusive`) or strictly above it; with `stop_below`, a
/// checked value that answers "no" stops it too (else it goes on towards the optimum).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    pub threshold: f64,
    pub inclusive: bool,
    pub stop_below: bool,
}

impl Target {
    /// Does a certified lower bound answer "yes"?
    pub fn proved(&self, lower: f64) -> bool {
        lower > self.threshold || (self.inclusive && lower >= self.threshold)
    }

    /// Does a checked value answer "no" (and stop the search)?
    pub fn refuted(&self, value: f64) -> bool {
        self.stop_below && (value < self.threshold || (!self.inclusive && value <= self.threshold))
    }
}

#[derive(Clone, Debug)]
pub struct BabOptions {
    pub deadline: Option<Instant>,
    pub max_nodes: usize,
    /// Stop as soon as the target's question is answered (else chase the optimum).
    pub target: Option<Target>,
    /// A leaf whose bound is within `gap` of the best checked value is closed.
    pub gap: f64,
    pub branching: Branching,
}

impl Default for BabOptions {
    fn default() -> Self {
        BabOptions { deadline: None, max_nodes: 20_000, target: None, gap: 1e-4, branching: Branching::default() }
    }
}

/// Why the search stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// Every leaf is empty or within the gap of the best checked value.
    Closed,
    /// The target's question is answered.
    Decided,
    TimeUp,
    NodeBudget,
}

/// The search's statistics, reported beside each objective's bracket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchStats {
    /// Nodes certified (the root not counted).
    pub nodes: usize,
    /// Leaves still open when the search stopped.
    pub open: usize,
    /// Nodes whose certification failed (kept open with their parent's bound).
    pub faults: usize,
    pub seconds: f64,
    pub stop: Stop,
}

pub struct BabResult<W, T = ()> {
    /// Certified: the true minimum over the region is ≥ this.
    pub lower: f64,
    /// The best checked value and its point.
    pub best: Option<(f64, W)>,
    pub stats: SearchStats,
    /// The tags of the leaves left open (those queued and those with every phase fixed).
    pub open_tags: Vec<T>,
}

/// The networks and the region one search runs on.
pub struct Problem<'a> {
    pub nets: &'a [&'a Network],
    /// Coefficients of the minimised objective on each network's outputs (for branching).
    pub coefficients: Vec<Vec<f64>>,
    /// The networks read the same inputs and their model encodes the layers they share with the
    /// first network once (`JointModel::build`): those are split in the first network only.
    pub shared_layers: bool,
    /// Bounds of `N0 − N1` after every layer, on the root, when the two networks are twins coupled
    /// by them (`JointModel::coupling`): a split of one twin then also bounds the other.
    pub twins: Option<&'a [Interval]>,
}

/// A ReLU pre-activation: network, position of the vector entering the ReLU layer, neuron.
pub type Neuron = (usize, usize, usize);

/// A branch-and-bound node (a box, or a node's bounds) in a queue that pops the lowest certified
/// bound first.
pub struct Queued<T> {
    pub lower: f64,
    pub node: T,
}

impl<T> PartialEq for Queued<T> {
    fn eq(&self, o: &Self) -> bool {
        self.lower.total_cmp(&o.lower).is_eq()
    }
}
impl<T> Eq for Queued<T> {}
impl<T> PartialOrd for Queued<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Queued<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.lower.total_cmp(&self.lower)
    }
}

impl Problem<'_> {
    /// The first network's layers that network `k` shares (encoded once, from the first's bounds).
    fn shared_with_first(&self, k: usize) -> usize {
        if k == 0 || !self.shared_layers {
            return 0;
        }
        let split = self.nets[1..].iter().map(|n| self.nets[0].shared_prefix(n)).max().unwrap_or(0);
        if self.nets[0].shared_prefix(self.nets[k]) == split {
            split
        } else {
            0
        }
    }

    /// The parent's bounds with `neuron` fixed active or inactive (in every network that shares
    /// its layer, and through the difference bounds in its twin), re-bounded symbolically inside
    /// them from that layer on; `None` when no input reaches that phase.
    fn child(&self, parent: &[NetworkBounds], (k, p, i): Neuron, active: bool) -> Result<Option<Vec<NetworkBounds>>> {
        let mut out = Vec::with_capacity(parent.len());
        for (m, nb) in parent.iter().enumerate() {
            if !(m == k || (k == 0 && p <= self.shared_with_first(m))) {
                out.push(nb.clone());
                continue;
            }
            let mut prior = nb.clone();
            let pre = &mut prior.layers[p - 1];
            if active {
                pre.lower[i] = pre.lower[i].max(0.0);
            } else {
                pre.upper[i] = pre.upper[i].min(0.0);
            }
            out.push(bounds::propagate_within(self.nets[m], &prior, p)?);
        }
        if let (Some(deltas), [_, _]) = (self.twins, &out[..]) {
            // the twin lies within the difference bounds of the split network from that layer on
            let o = 1 - k;
            let mut prior = out[o].clone();
            let transfer = prior.layers.iter_mut().zip(&out[k].layers).zip(deltas).skip(p - 1);
            for ((own, split), delta) in transfer {
                *own = own.intersect(&twin_of(split, delta, k == 0));
            }
            out[o] = bounds::propagate_within(self.nets[o], &prior, p)?;
        }
        let empty = |nb: &NetworkBounds| nb.layers.iter().any(|l| l.lower.iter().zip(&l.upper).any(|(lo, hi)| lo > hi));
        Ok((!out.iter().any(empty)).then_some(out))
    }
}

/// Minimises over the region by branching on ReLU phases, from the root's `bounds` (with its
/// `tag`) and its certified `lower` bound (and checked point `best`, if any).
pub fn minimise<B: Bounder>(
    problem: &Problem,
    bounder: &mut B,
    root: (Vec<NetworkBounds>, B::Tag),
    lower: f64,
    mut best: Option<(f64, B::Witness)>,
    opts: &BabOptions,
) -> Result<BabResult<B::Witness, B::Tag>> {
    let start = Instant::now();
    let mut queue = BinaryHeap::from([Queued { lower, node: root }]);
    // the lowest bound of the leaves taken off the queue without being split or proved empty
    let mut settled = f64::INFINITY;
    let mut settled_tags = Vec::new();
    let (mut nodes, mut faults) = (0usize, 0usize);
    let best_value = |b: &Option<(f64, B::Witness)>| b.as_ref().map_or(f64::INFINITY, |(v, _)| *v);
    let stop = loop {
        let Some(top) = queue.peek() else { break Stop::Closed };
        let global = top.lower.min(settled);
        if let Some(t) = opts.target {
            if t.proved(global) || t.refuted(best_value(&best)) {
                break Stop::Decided;
            }
        }
        if top.lower >= best_value(&best) - opts.gap {
            break Stop::Closed; // every queued leaf is within the gap
        }
        if opts.deadline.is_some_and(|d| Instant::now() >= d) {
            break Stop::TimeUp;
        }
        if nodes >= opts.max_nodes {
            break Stop::NodeBudget;
        }
        let Some(Queued { lower, node: (bounds, tag) }) = queue.pop() else { break Stop::Closed };
        let Some(neuron) = opts.branching.choose(problem, bounder.focus(&tag).as_deref(), &bounds) else {
            settled = settled.min(lower); // every phase fixed: its LP bound is exact
            settled_tags.push(tag);
            continue;
        };
        for active in [true, false] {
            let Some(child) = problem.child(&bounds, neuron, active)? else { continue };
            nodes += 1;
            match bounder.evaluate(&child, &tag) {
                Ok(Evaluated::Empty) => {}
                // a node that could not be certified stays open with its parent's bound
                Err(_) => {
                    faults += 1;
                    queue.push(Queued { lower, node: (child, tag.clone()) });
                }
                Ok(Evaluated::Bounded { lower: l, found, tag }) => {
                    if let Some((v, w)) = found.filter(|(v, _)| *v < best_value(&best)) {
                        best = Some((v, w));
                    }
                    // a child's region lies inside its parent's: the parent's bound holds too
                    queue.push(Queued { lower: l.max(lower), node: (child, tag) });
                }
            }
        }
    };
    let open = queue.len();
    let lower = queue.peek().map_or(settled, |q| q.lower.min(settled));
    let stats = SearchStats { nodes, open, faults, seconds: start.elapsed().as_secs_f64(), stop };
    let open_tags = queue.into_iter().map(|q| q.node.1).chain(settled_tags).collect();
    Ok(BabResult { lower, best, stats, open_tags })
}
