//! The query's input space: inputs that the property equates (`X2[i] == X1[i]`) become one
//! variable, boxes are intersected and tightened through the linear input constraints.

use super::Item;
use crate::bounds::Interval;
use crate::round::Acc;
use crate::vnnlib::{CmpOp, LinearConstraint, Property, Var, VarKind};

/// Input variables shared by the networks: network `k` reads variable `maps[k][i]` as input `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct InputSpace {
    pub maps: Vec<Vec<usize>>,
    /// The box every variable lies in (intersection of its members' boxes).
    pub bounds: Interval,
    /// Query name of each variable, for messages.
    pub names: Vec<String>,
    /// The grid each variable's witness values lie on (float16 where any member is declared
    /// float16, else float32: the networks run in float32).
    pub grids: Vec<Grid>,
    /// Per network, the grid its declared output is checked on.
    pub output_grids: Vec<Grid>,
}

/// The floating-point values a declared tensor takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Grid {
    /// float32 (also for `real` and `float64` declarations: the networks read float32).
    #[default]
    F32,
    F16,
    /// Integers (outputs declared of an integer type).
    Int,
}

impl Grid {
    /// The value of the grid nearest to `v` (ties to even).
    pub fn nearest(self, v: f64) -> f64 {
        match self {
            Grid::F32 => v as f32 as f64,
            Grid::F16 => half::f16::from_f64(v).to_f64(),
            Grid::Int => v.round_ties_even(),
        }
    }

    /// The grid value nearest to `v` inside `[lo, hi]`, if the interval holds one.
    pub fn inside(self, v: f64, lo: f64, hi: f64) -> Option<f64> {
        if lo.is_nan() || hi.is_nan() || lo > hi {
            return None;
        }
        let mut r = self.nearest(v.clamp(lo, hi));
        if r < lo {
            r = self.step(r, true);
        }
        if r > hi {
            r = self.step(r, false);
        }
        (r >= lo && r <= hi).then_some(r)
    }

    /// The grid value next to `r` (a grid value) upwards or downwards.
    pub fn step(self, r: f64, up: bool) -> f64 {
        match self {
            Grid::F32 => {
                let f = r as f32;
                (if up { f.next_up() } else { f.next_down() }) as f64
            }
            Grid::F16 => {
                let h = half::f16::from_f64(r);
                let (bits, negative) = (h.to_bits(), h.is_sign_negative());
                let next = match (negative, up, bits & 0x7fff == 0) {
                    (false, false, true) => 0x8001, // +0 → the smallest negative
                    (true, true, true) => 0x0001,   // −0 → the smallest positive
                    (false, true, _) | (true, false, _) => bits + 1,
                    _ => bits - 1,
                };
                half::f16::from_bits(next).to_f64()
            }
            Grid::Int if up => r + 1.0,
            Grid::Int => r - 1.0,
        }
    }
}

impl InputSpace {
    /// Do all networks read the same variables in the same order?
    pub fn shared(&self) -> bool {
        self.maps.iter().all(|m| *m == self.maps[0])
    }

    /// The box of network `k`'s input inside `b` (a box over all variables).
    pub fn network_box(&self, b: &Interval, k: usize) -> Interval {
        let m = &self.maps[k];
        Interval { lower: m.iter().map(|&g| b.lower[g]).collect(), upper: m.iter().map(|&g| b.upper[g]).collect() }
    }

    /// Network `k`'s input at a point over all variables.
    pub fn network_point(&self, x: &[f64], k: usize) -> Vec<f64> {
        self.maps[k].iter().map(|&g| x[g]).collect()
    }
}

fn find(parent: &mut [usize], i: usize) -> usize {
    let mut r = i;
    while parent[r] != r {
        r = parent[r];
    }
    parent[i] = r;
    r
}

/// Is `c` the identity `a − b == 0` between two inputs (then they are one variable)?
fn identity(c: &LinearConstraint) -> Option<(Var, Var)> {
    match c.terms[..] {
        [(a, ca), (b, cb)] if c.op == CmpOp::Eq && c.rhs == 0.0 && ca == -cb && ca != 0.0 => {
            (a.kind == VarKind::Input && b.kind == VarKind::Input).then_some((a, b))
        }
        _ => None,
    }
}

/// Builds the input space of a property over networks with `sizes` inputs each (one input
/// tensor per network); `names[k][i]` names input `i` of network `k`.
pub fn input_space(p: &Property, sizes: &[usize], names: &[Vec<String>]) -> InputSpace {
    let offsets: Vec<usize> = sizes.iter().scan(0, |acc, &n| Some(std::mem::replace(acc, *acc + n))).collect();
    let total: usize = sizes.iter().sum();
    let flat = |v: &Var| offsets[v.network] + v.index;
    let mut parent: Vec<usize> = (0..total).collect();
    // identities present in every disjunct
    if let Some((first, rest)) = p.disjuncts.split_first() {
        for c in first.iter().filter(|c| rest.iter().all(|d| d.contains(c))) {
            if let Some((a, b)) = identity(c) {
                let (ra, rb) = (find(&mut parent, flat(&a)), find(&mut parent, flat(&b)));
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut class_of = vec![usize::MAX; total];
    let mut reps = Vec::new();
    for i in 0..total {
        let r = find(&mut parent, i);
        if class_of[r] == usize::MAX {
            class_of[r] = reps.len();
            reps.push(i);
        }
        class_of[i] = class_of[r];
    }
    let mut bounds = Interval { lower: vec![f64::NEG_INFINITY; reps.len()], upper: vec![f64::INFINITY; reps.len()] };
    for (k, boxes) in p.input_boxes.iter().enumerate() {
        let (lo, hi) = &boxes[0];
        for i in 0..sizes[k] {
            let g = class_of[offsets[k] + i];
            bounds.lower[g] = bounds.lower[g].max(lo[i]);
            bounds.upper[g] = bounds.upper[g].min(hi[i]);
        }
    }
    let maps = (0..sizes.len()).map(|k| (0..sizes[k]).map(|i| class_of[offsets[k] + i]).collect()).collect();
    let all_names: Vec<&String> = names.iter().flatten().collect();
    let names: Vec<String> = reps.iter().map(|&i| all_names[i].clone()).collect();
    let grids = vec![Grid::F32; names.len()];
    InputSpace { maps, bounds, names, grids, output_grids: vec![Grid::F32; sizes.len()] }
}

/// Turns one disjunct into items `g ≤ 0` (or `< 0`) over the space's variables; identities
/// already merged by the space disappear.
pub fn items(space: &InputSpace, disjunct: &[LinearConstraint]) -> Vec<Item> {
    let mut out = Vec::new();
    for c in disjunct {
        let mut inputs: Vec<(f64, usize)> = Vec::new();
        let mut outputs = Vec::new();
        for &(v, a) in &c.terms {
            match v.kind {
                VarKind::Input => {
                    let g = space.maps[v.network][v.index];
                    match inputs.iter_mut().find(|t| t.1 == g) {
                        Some(t) => t.0 += a,
                        None => inputs.push((a, g)),
                    }
                }
                _ => outputs.push((a, v.network, v.index)),
            }
        }
        inputs.retain(|t| t.0 != 0.0);
        if inputs.is_empty() && outputs.is_empty() {
            if !c.op.holds(0.0, c.rhs) {
                out.push(Item { inputs, outputs, rhs: -1.0, strict: false }); // 0 ≤ −1: false
            }
            continue;
        }
        let item = Item { inputs, outputs, rhs: c.rhs, strict: matches!(c.op, CmpOp::Lt | CmpOp::Gt) };
        match c.op {
            CmpOp::Le | CmpOp::Lt => out.push(item),
            CmpOp::Ge | CmpOp::Gt => out.push(item.negated()),
            CmpOp::Eq | CmpOp::Ne => {
                out.push(item.negated());
                out.push(item);
            }
        }
    }
    out
}

/// A variable left without values: its lower bound exceeds its upper bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Empty {
    pub var: usize,
    pub lower: f64,
    pub upper: f64,
}

/// The first variable of `b` whose range is empty, if any.
pub fn empty(b: &Interval) -> Option<Empty> {
    (0..b.len()).find(|&g| b.lower[g] > b.upper[g]).map(|g| Empty { var: g, lower: b.lower[g], upper: b.upper[g] })
}

/// Tightens `b` with every input-only item (a few rounds of bound propagation, rounded outwards).
/// Fails with the variable whose range becomes empty.
pub fn tighten(b: &Interval, items: &[Item]) -> Result<Interval, Empty> {
    let mut b = b.clone();
    for _ in 0..4 {
        let mut changed = false;
        for it in items.iter().filter(|it| it.outputs.is_empty()) {
            for (j, &(aj, gj)) in it.inputs.iter().enumerate() {
                // aj·x_j ≤ rhs − Σ_{i≠j} min(a_i x_i), the right side rounded upwards
                let mut slack = Acc::new(it.rhs);
                for &(a, g) in it.inputs.iter().enumerate().filter(|&(i, _)| i != j).map(|(_, t)| t) {
                    if a != 0.0 {
                        slack.add(-a, if a > 0.0 { b.lower[g] } else { b.upper[g] });
                    }
                }
                let limit = slack.upper();
                if !limit.is_finite() {
                    continue;
                }
                let q = limit / aj;
                if aj > 0.0 {
                    let hi = q.next_up();
                    if hi < b.upper[gj] {
                        b.upper[gj] = hi;
                        changed = true;
                    }
                } else {
                    let lo = q.next_down();
                    if lo > b.lower[gj] {
                        b.lower[gj] = lo;
                        changed = true;
                    }
                }
            }
        }
        if let Some(e) = empty(&b) {
            return Err(e);
        }
        if !changed {
            break;
        }
    }
    Ok(b)
}

/// The box with every infinite side replaced by a finite one (one unit beyond the finite side,
/// `[−1, 1]` when both are infinite), and the names of the variables that were unbounded.
/// Only a counterexample search makes sense on such a box: it is a part of the region.
pub fn bounded_part(space: &InputSpace, b: &Interval) -> (Interval, Vec<String>) {
    let mut part = b.clone();
    let mut names = Vec::new();
    for g in 0..b.len() {
        let (l, u) = (b.lower[g], b.upper[g]);
        if l.is_finite() && u.is_finite() {
            continue;
        }
        names.push(space.names[g].clone());
        (part.lower[g], part.upper[g]) = match (l.is_finite(), u.is_finite()) {
            (true, _) => (l, l + 1.0),
            (_, true) => (u - 1.0, u),
            _ => (-1.0, 1.0),
        };
    }
    (part, names)
}
