//! Step functions of single entries: a comparison with a constant choosing between the entry and
//! constants (ONNX Greater/Less/Equal/Where, casts to bool) and truncation (casts to integers).

/// A comparison `x ∘ threshold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    Equal,
    NotEqual,
}

impl Cmp {
    /// Whether `x ∘ t` holds (IEEE: every comparison with NaN is false but `≠`).
    pub fn holds(self, x: f64, t: f64) -> bool {
        match self {
            Cmp::Greater => x > t,
            Cmp::GreaterOrEqual => x >= t,
            Cmp::Less => x < t,
            Cmp::LessOrEqual => x <= t,
            Cmp::Equal => x == t,
            Cmp::NotEqual => x != t,
        }
    }

    /// The comparison that holds exactly where this one does not (for numbers).
    pub fn negated(self) -> Cmp {
        match self {
            Cmp::Greater => Cmp::LessOrEqual,
            Cmp::GreaterOrEqual => Cmp::Less,
            Cmp::Less => Cmp::GreaterOrEqual,
            Cmp::LessOrEqual => Cmp::Greater,
            Cmp::Equal => Cmp::NotEqual,
            Cmp::NotEqual => Cmp::Equal,
        }
    }

    /// `t ∘' x` written as `x ∘ t` (the operands swapped).
    pub fn swapped(self) -> Cmp {
        match self {
            Cmp::Greater => Cmp::Less,
            Cmp::GreaterOrEqual => Cmp::LessOrEqual,
            Cmp::Less => Cmp::Greater,
            Cmp::LessOrEqual => Cmp::GreaterOrEqual,
            same => same,
        }
    }

    /// The closed hull of `{x ∈ [l, u] : x ∘ t}`, or `None` when no such `x` exists.
    fn part(self, t: f64, l: f64, u: f64) -> Option<(f64, f64)> {
        let (above, below) = ((t.max(l), u), (l, t.min(u)));
        match self {
            Cmp::Greater => (u > t).then_some(above),
            Cmp::GreaterOrEqual => (u >= t).then_some(above),
            Cmp::Less => (l < t).then_some(below),
            Cmp::LessOrEqual => (l <= t).then_some(below),
            Cmp::Equal => (l <= t && t <= u).then_some((t, t)),
            Cmp::NotEqual => (l < u || l != t).then_some((l, u)),
        }
    }
}

/// What a selection yields: the entry itself or a constant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Branch {
    Entry,
    Const(f64),
}

impl Branch {
    fn at(self, x: f64) -> f64 {
        match self {
            Branch::Entry => x,
            Branch::Const(c) => c,
        }
    }

    fn piece(self) -> Piece {
        match self {
            Branch::Entry => Piece::Affine { slope: 1.0, offset: 0.0 },
            Branch::Const(c) => Piece::Affine { slope: 0.0, offset: c },
        }
    }

    /// The range of the branch over `[l, u]`.
    fn range(self, (l, u): (f64, f64)) -> (f64, f64) {
        match self {
            Branch::Entry => (l, u),
            Branch::Const(c) => (c, c),
        }
    }
}

/// One entry's step function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// `then` where `x ∘ threshold` holds, `other` elsewhere.
    Select { cmp: Cmp, threshold: f64, then: Branch, other: Branch },
    /// `x` rounded toward zero (a cast to an integer type).
    Trunc,
}

/// A step function on an interval: one affine function there (exact), or only a range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Piece {
    Affine { slope: f64, offset: f64 },
    Range { lower: f64, upper: f64 },
}

impl Step {
    pub fn value(self, x: f64) -> f64 {
        match self {
            Step::Select { cmp, threshold, then, other } => {
                if cmp.holds(x, threshold) {
                    then.at(x)
                } else {
                    other.at(x)
                }
            }
            Step::Trunc => x.trunc(),
        }
    }

    /// The derivative where the function is continuous (1 on an entry branch, else 0).
    pub fn slope(self, x: f64) -> f64 {
        match self {
            Step::Select { cmp, threshold, then, other } => {
                let branch = if cmp.holds(x, threshold) { then } else { other };
                if branch == Branch::Entry {
                    1.0
                } else {
                    0.0
                }
            }
            Step::Trunc => 0.0,
        }
    }

    /// The function on the real interval `[l, u]` (`l ≤ u`): affine where only one branch (or one
    /// integer part) is reached, else the hull of the branches' ranges. Exact: no arithmetic.
    pub fn piece(self, l: f64, u: f64) -> Piece {
        match self {
            Step::Select { then, other, .. } if then == other => then.piece(),
            Step::Select { cmp, threshold, then, other } => {
                match (cmp.part(threshold, l, u), cmp.negated().part(threshold, l, u)) {
                    (Some(_), None) => then.piece(),
                    (None, Some(_)) | (None, None) => other.piece(),
                    (Some(a), Some(b)) => {
                        let ((la, ua), (lb, ub)) = (then.range(a), other.range(b));
                        Piece::Range { lower: la.min(lb), upper: ua.max(ub) }
                    }
                }
            }
            Step::Trunc if l.trunc() == u.trunc() => Piece::Affine { slope: 0.0, offset: l.trunc() },
            Step::Trunc => Piece::Range { lower: l.trunc(), upper: u.trunc() },
        }
    }

    /// The function's range on `[l, u]`.
    pub fn range(self, l: f64, u: f64) -> (f64, f64) {
        match self.piece(l, u) {
            Piece::Affine { slope: 0.0, offset } => (offset, offset),
            Piece::Affine { .. } => (l, u),
            Piece::Range { lower, upper } => (lower, upper),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On many intervals, every value on a grid (the ends and the thresholds included) lies in the
    /// range, and an affine piece is the function there.
    #[test]
    fn pieces_and_ranges_hold_on_grids() {
        let cmps = [Cmp::Greater, Cmp::GreaterOrEqual, Cmp::Less, Cmp::LessOrEqual, Cmp::Equal, Cmp::NotEqual];
        let mut steps = vec![Step::Trunc];
        for cmp in cmps {
            for (then, other) in [(Branch::Entry, Branch::Const(10.0)), (Branch::Const(1.0), Branch::Const(0.0))] {
                steps.push(Step::Select { cmp, threshold: 0.5, then, other });
                steps.push(Step::Select { cmp, threshold: 0.5, then: other, other: then });
            }
        }
        let ends = [-2.5, -1.0, -0.3, 0.0, 0.5, 0.7, 1.0, 2.0, 3.9];
        for s in steps {
            for &l in &ends {
                for &u in ends.iter().filter(|&&u| u >= l) {
                    let (lo, hi) = s.range(l, u);
                    let grid = (0..=400).map(|k| l + (u - l) * k as f64 / 400.0).chain([0.5, 0.0, 1.0, 2.0, -1.0]);
                    for x in grid.filter(|&x| l <= x && x <= u) {
                        let v = s.value(x);
                        assert!(lo <= v && v <= hi, "{s:?} on [{l}, {u}] at {x}: {v} outside [{lo}, {hi}]");
                        if let Piece::Affine { slope, offset } = s.piece(l, u) {
                            assert_eq!(v, slope * x + offset, "{s:?} on [{l}, {u}] at {x}");
                        }
                    }
                }
            }
        }
        let gt = Step::Select { cmp: Cmp::Greater, threshold: 0.5, then: Branch::Entry, other: Branch::Const(10.0) };
        assert_eq!(gt.piece(0.5, 0.5), Piece::Affine { slope: 0.0, offset: 10.0 }, "0.5 > 0.5 is false");
        assert_eq!(gt.piece(0.6, 2.0), Piece::Affine { slope: 1.0, offset: 0.0 });
        assert_eq!(gt.range(0.0, 1.0), (0.5, 10.0));
        assert_eq!(Step::Trunc.piece(-0.9, 0.9), Piece::Affine { slope: 0.0, offset: 0.0 });
        assert_eq!(Step::Trunc.range(-1.5, 2.5), (-1.0, 2.0));
    }
}
