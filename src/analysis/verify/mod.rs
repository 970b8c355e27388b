//! Satisfiability of VNN-LIB properties over one or more networks: `unsat` only from certified
//! LP bounds (with input splitting on small inputs), `sat` only with a witness tract confirms.
//!
//! Each disjunct of the property's DNF is first bounded on its own: the root box gets symbolic,
//! then LP-tightened bounds and a relaxed LP whose certified optimum bounds the largest constraint
//! violation from below (`> 0` refutes the disjunct); candidate points come from the LP and a
//! gradient search. Undecided disjuncts are split on input coordinates (small inputs, one by one)
//! or, all those over one box together, on ReLU phases (module `relu_split`, on one re-bounded
//! model: module `frame`), then handed to the MILP, whose points are checked like any other (its
//! optimum proves nothing). Boxes with at most one float32 value per input are decided
//! without splitting (module `degenerate`); an empty input region is `unsat` with a warning.

mod bind;
mod cancel;
mod degenerate;
mod frame;
mod relu_split;
mod search;
mod space;
mod witness;

pub use bind::{bind, bind_as, Bound};
pub use space::{input_space, items, InputSpace};
pub use witness::{Checker, Witness};

use std::collections::BinaryHeap;
use std::time::Instant;

use search::{BoxResult, Context};

use crate::analysis::bab::Queued;

use crate::bounds::{Interval, Method, NetworkBounds};
use crate::encode::Mode;
use crate::error::Result;
use crate::solve::SolverConfig;

/// One constraint `Σ a·x[g] + Σ a·N_n[i] − rhs ≤ 0` (`< 0` when strict) of a disjunct.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub inputs: Vec<(f64, usize)>,
    pub outputs: Vec<(f64, usize, usize)>,
    pub rhs: f64,
    pub strict: bool,
}

impl Item {
    /// `−(expression) ≤ −rhs`: the same comparison with its sides swapped.
    fn negated(&self) -> Item {
        Item {
            inputs: self.inputs.iter().map(|&(a, g)| (-a, g)).collect(),
            outputs: self.outputs.iter().map(|&(a, n, i)| (-a, n, i)).collect(),
            rhs: -self.rhs,
            strict: self.strict,
        }
    }
}

/// The standard's four answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Sat,
    Unsat,
    Unknown,
    TimedOut,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Sat => "sat",
            Verdict::Unsat => "unsat",
            Verdict::Unknown => "unknown",
            Verdict::TimedOut => "timed-out",
        })
    }
}

#[derive(Clone, Debug)]
pub struct Answer {
    pub verdict: Verdict,
    /// The checked counterexample of a `sat` answer.
    pub witness: Option<Witness>,
    /// Why the answer is not definite, when it is not (a line per open disjunct); how a witness's inputs were rounded; or
    /// a warning (`warning: ...`) that the input region is empty.
    pub note: Option<String>,
    /// Input boxes bounded on the way (the root boxes and the halves of input splitting).
    pub boxes: usize,
}

#[derive(Clone, Debug)]
pub struct VerifyOptions {
    pub solver: SolverConfig,
    pub deadline: Option<Instant>,
    /// Split input coordinates when the input space has at most this many variables.
    pub split_dims: usize,
    /// Most boxes (input splitting) or nodes (ReLU splitting) examined per disjunct.
    pub max_boxes: usize,
    /// Gradient-search steps per start point.
    pub attack_steps: usize,
    /// `unsat` also for float32 inference (networks from `onnx::load_float32`): each item is
    /// proved violated by more than its outputs' float32 error bound.
    pub float_sound: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            solver: SolverConfig::default(),
            deadline: None,
            split_dims: 16,
            max_boxes: 20_000,
            attack_steps: 40,
            float_sound: false,
        }
    }
}

/// A disjunct that the first pass left open.
struct Open {
    items: Vec<Item>,
    root: Interval,
    lower: f64,
}

fn expired(opts: &VerifyOptions) -> bool {
    opts.deadline.is_some_and(|d| Instant::now() >= d)
}

/// `opts` with an equal share of the time left among `pieces` pieces of work.
fn share(opts: &VerifyOptions, pieces: usize) -> VerifyOptions {
    let mut share = opts.clone();
    share.deadline = opts.deadline.map(|end| {
        let now = Instant::now();
        now + end.saturating_duration_since(now).div_f64(pieces.max(1) as f64)
    });
    share
}

/// Decides `OR_k AND disjuncts[k]` over `space` (see the module documentation).
pub fn verify(checker: &Checker, disjuncts: &[Vec<Item>], opts: &VerifyOptions) -> Result<Answer> {
    let ctx = Context::new(*checker, &opts.solver, opts.float_sound, opts.deadline);
    let mut answer = decide(&ctx, disjuncts, opts)?;
    answer.boxes = ctx.boxes();
    if let Some(note) = answer.witness.as_ref().and_then(|w| degenerate::rounding_note(checker.space, w)) {
        answer.note = Some(note);
    }
    Ok(answer)
}

/// The disjuncts grouped by their box (in order of first appearance).
fn by_box(screen: Vec<(Interval, &[Item])>) -> Vec<(Interval, Vec<&[Item]>)> {
    let mut groups: Vec<(Interval, Vec<&[Item]>)> = Vec::new();
    for (root, items) in screen {
        match groups.iter_mut().find(|(b, _)| *b == root) {
            Some((_, g)) => g.push(items),
            None => groups.push((root, vec![items])),
        }
    }
    groups
}

/// `verify` on the context's networks.
fn decide(ctx: &Context, disjuncts: &[Vec<Item>], opts: &VerifyOptions) -> Result<Answer> {
    let checker = &ctx.checker;
    let space = checker.space;
    if let Some(e) = space::empty(&space.bounds) {
        let why = degenerate::empty_reason(space, &e);
        return Ok(unsat(Some(format!("warning: the input box is empty ({why}); no input violates the property"))));
    }
    let mut work = Vec::new();
    let mut notes = Vec::new();
    let mut empty = Vec::new();
    let same = cancel::representatives(checker);
    let mut screen = Vec::new();
    for items in disjuncts {
        let root = match space::tighten(&space.bounds, items) {
            Ok(root) => root,
            Err(e) => {
                empty.push(degenerate::empty_reason(space, &e));
                continue;
            }
        };
        let (root, unbounded) = space::bounded_part(space, &root);
        if !unbounded.is_empty() {
            // only a part of the region can be searched: a witness there is a witness
            let centre: Vec<f64> = (0..root.len()).map(|g| 0.5 * (root.lower[g] + root.upper[g])).collect();
            let found = match checker.attack(&centre, &root, items, opts.attack_steps) {
                Some(w) => Some(w),
                None => match ctx.solve_box(&root, items, Method::Symbolic, Mode::Relaxed)? {
                    BoxResult::Sat(w) => Some(w),
                    _ => None,
                },
            };
            match found {
                Some(w) => return Ok(sat(w)),
                None => notes.push(format!(
                    "inputs without finite bounds ({}); only a counterexample search",
                    unbounded.join(", ")
                )),
            }
            continue;
        }
        if expired(opts) {
            return Ok(timed_out());
        }
        if !opts.float_sound && cancel::contradicts(&same, items) {
            continue;
        }
        if let Some(decided) = degenerate::decide(ctx, &root, items)? {
            match decided {
                BoxResult::Unsat => {}
                BoxResult::Sat(w) => return Ok(sat(w)),
                BoxResult::Open { note, .. } => notes.extend(note),
            }
            continue;
        }
        let centre: Vec<f64> = (0..root.len()).map(|g| 0.5 * (root.lower[g] + root.upper[g])).collect();
        if let Some(w) = checker.attack(&centre, &root, items, opts.attack_steps) {
            return Ok(sat(w));
        }
        screen.push((root, items.as_slice()));
    }
    // a box small enough to split: one relaxed LP per disjunct on symbolic bounds (one model for
    // the disjuncts over one box, re-solved from the previous basis); a larger box (VNN-COMP's
    // robustness queries: nine disjuncts over one box) is screened by optimised-slope bounds
    // alone, and what they leave open goes on to LP tightening, whose LPs decide it better
    for (root, group) in by_box(screen) {
        if expired(opts) {
            return Ok(timed_out());
        }
        if root.len() > opts.split_dims {
            let lowers = ctx.screen_by_slopes(&root, &group)?;
            let left: Vec<Vec<Item>> = (group.iter().zip(lowers))
                .filter(|&(items, lower)| !search::refutes(lower, items))
                .map(|(items, _)| items.to_vec())
                .collect();
            if !left.is_empty() {
                work.push(Work::Deepen(root, left));
            }
            continue;
        }
        for (&items, result) in group.iter().zip(ctx.screen(&root, &group)?) {
            match result {
                BoxResult::Unsat => {}
                BoxResult::Sat(w) => return Ok(sat(w)),
                BoxResult::Open { lower, point, .. } => {
                    if let Some(w) = checker.attack(&point, &root, items, opts.attack_steps) {
                        return Ok(sat(w));
                    }
                    work.push(Work::Split(Open { items: items.to_vec(), root: root.clone(), lower }));
                }
            }
        }
    }
    // a small input space is split, disjunct by disjunct; the open disjuncts over a larger box
    // (VNN-COMP's robustness queries have one box for all) share its LP-tightened bounds and one
    // ReLU branch and bound
    let count = work.len();
    for (k, piece) in work.into_iter().enumerate() {
        let result = match piece {
            Work::Deepen(root, items) => {
                // the bounds serve the whole piece: computed before the time is shared out
                let nbs = ctx.bounds(&root, Method::Lp)?;
                if expired(opts) {
                    return Ok(timed_out());
                }
                deepen(ctx, &root, &items, nbs, &share(opts, count - k))?
            }
            Work::Split(d) => {
                if expired(opts) {
                    return Ok(timed_out());
                }
                split(ctx, d, &share(opts, count - k))?
            }
        };
        match result {
            BoxResult::Unsat => {}
            BoxResult::Sat(w) => return Ok(sat(w)),
            BoxResult::Open { note, lower, .. } => {
                notes.push(note.unwrap_or_else(|| format!("certified lower bound on the violation {lower:.6e} ≤ 0")))
            }
        }
    }
    if notes.is_empty() {
        let contradictory = !disjuncts.is_empty() && empty.len() == disjuncts.len();
        let warning = contradictory.then(|| {
            format!(
                "warning: the input constraints contradict each other (propagated, they leave {}); no input \
                 violates the property",
                empty.join("; ")
            )
        });
        return Ok(unsat(warning));
    }
    let verdict = if expired(opts) { Verdict::TimedOut } else { Verdict::Unknown };
    Ok(Answer { verdict, witness: None, note: Some(notes.join("\n")), boxes: 0 })
}

fn sat(w: Witness) -> Answer {
    Answer { verdict: Verdict::Sat, witness: Some(w), note: None, boxes: 0 }
}

fn unsat(note: Option<String>) -> Answer {
    Answer { verdict: Verdict::Unsat, witness: None, note, boxes: 0 }
}

fn timed_out() -> Answer {
    Answer { verdict: Verdict::TimedOut, witness: None, note: Some("the time limit was reached".into()), boxes: 0 }
}

/// What the second pass does with the open disjuncts.
enum Work {
    /// Input splitting of one disjunct.
    Split(Open),
    /// The disjuncts (their items) over one box too large to split, in order of first appearance.
    Deepen(Interval, Vec<Vec<Item>>),
}

/// Second pass on open disjuncts over a box too large to split, on its LP-tightened bounds
/// `nbs`: the relaxed LP, branch and bound on ReLU phases for all of them together and, if that
/// stops undecided before the deadline, the MILP of each one left as a counterexample search.
fn deepen(
    ctx: &Context,
    root: &Interval,
    disjuncts: &[Vec<Item>],
    nbs: Vec<NetworkBounds>,
    opts: &VerifyOptions,
) -> Result<BoxResult> {
    let start = match relu_split::solve_root(ctx, root, disjuncts, &nbs, opts.attack_steps)? {
        Ok(start) if start.open.is_empty() => return Ok(BoxResult::Unsat),
        Ok(start) => start,
        Err(w) => return Ok(BoxResult::Sat(w)),
    };
    let searched = relu_split::relu_bab(ctx, root, disjuncts, nbs.clone(), start, opts.deadline, opts.max_boxes)?;
    let bab = searched.result;
    let BoxResult::Open { note: Some(bab_note), lower, point } = bab else { return Ok(bab) };
    let mut notes = vec![bab_note];
    for (j, &k) in searched.open.iter().enumerate() {
        if expired(opts) {
            break;
        }
        // the MILP's time is shared by the disjuncts still open
        let mut milp = ctx.solver.clone();
        if let Some(end) = opts.deadline {
            let left = end.saturating_duration_since(Instant::now()).as_secs_f64() / (searched.open.len() - j) as f64;
            milp.time_limit = Some(milp.time_limit.map_or(left, |t| t.min(left)).max(0.1));
        }
        let exact = Context::new(ctx.checker, &milp, opts.float_sound, opts.deadline);
        match exact.solve_with(root, &nbs, &disjuncts[k], Mode::Exact)? {
            BoxResult::Sat(w) => return Ok(BoxResult::Sat(w)),
            BoxResult::Open { note: Some(n), .. } if n.contains("MILP") => notes.push(n),
            _ => {} // the MILP proves nothing
        }
    }
    Ok(BoxResult::Open { lower, point, note: Some(notes.join("; ")) })
}

/// Best-first branch and bound on input coordinates.
fn split(ctx: &Context, d: Open, opts: &VerifyOptions) -> Result<BoxResult> {
    let items = &d.items;
    let mut queue = BinaryHeap::from([Queued { lower: d.lower, node: d.root.clone() }]);
    let mut examined = 0;
    // a box with at most one float32 value per input that stayed open (it is not split further)
    let mut stuck = None;
    while let Some(Queued { node: b, lower }) = queue.pop() {
        if expired(opts) || examined >= opts.max_boxes {
            let why = if expired(opts) { "the time limit was reached" } else { "the box budget ran out" };
            let note = format!("{why} after {examined} boxes; lowest open bound {lower:.6e}");
            return Ok(BoxResult::Open { lower, point: b.lower, note: Some(note) });
        }
        for half in halves(ctx, &b, items) {
            examined += 1;
            let Ok(half) = space::tighten(&half, items) else { continue };
            if let Some(decided) = degenerate::decide(ctx, &half, items)? {
                match decided {
                    BoxResult::Sat(w) => return Ok(BoxResult::Sat(w)),
                    BoxResult::Unsat => {}
                    open => stuck = Some(open),
                }
                continue;
            }
            match ctx.solve_box(&half, items, Method::Symbolic, Mode::Relaxed)? {
                BoxResult::Unsat => {}
                BoxResult::Sat(w) => return Ok(BoxResult::Sat(w)),
                BoxResult::Open { lower, point, .. } => {
                    if let Some(w) = ctx.checker.attack(&point, &half, items, opts.attack_steps / 4) {
                        return Ok(BoxResult::Sat(w));
                    }
                    queue.push(Queued { lower, node: half });
                }
            }
        }
    }
    Ok(stuck.unwrap_or(BoxResult::Unsat))
}

/// Splits `b` in two along the coordinate with the largest width times sensitivity.
fn halves(ctx: &Context, b: &Interval, items: &[Item]) -> [Interval; 2] {
    let centre: Vec<f64> = (0..b.len()).map(|g| 0.5 * (b.lower[g] + b.upper[g])).collect();
    let grad = ctx.checker.sensitivity(&centre, items).unwrap_or_else(|| vec![0.0; b.len()]);
    let top = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let score = |g: usize| (b.upper[g] - b.lower[g]) * (grad[g].abs() + 1e-3 * top + f64::MIN_POSITIVE);
    let g = (0..b.len()).max_by(|&i, &j| score(i).total_cmp(&score(j))).unwrap_or(0);
    let mid = centre[g];
    let (mut lo, mut hi) = (b.clone(), b.clone());
    lo.upper[g] = mid;
    hi.lower[g] = mid;
    [lo, hi]
}
