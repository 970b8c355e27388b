//! The LP/MILP translator: our own small model type (variables with finite bounds, rows with a
//! bound on their rounding error) and the encoding of one or more networks over shared inputs.
//!
//! Building our own model (rather than a solver's) lets every backend receive the same problem
//! and lets `solve::certify` turn any dual vector into a rigorous bound on this very model.

mod expr;
mod joint;
mod network;
#[cfg(test)]
mod tests;

pub use expr::{Combiner, LinExpr};
pub use joint::{InputConstraint, JointModel};
pub use network::{encode_network, encode_recording, upper_line_scale, EncodeOptions, Mode, ReluRow};

use crate::round::one_op_error;

/// `rhs − constant` for a row whose expression has `constant` and `error`, and the row's error:
/// the subtraction is rounded (by at most half an ulp), which is folded into the error.
fn moved_rhs(constant: f64, error: f64, rhs: f64) -> (f64, f64) {
    let moved = rhs - constant;
    (moved, (error + one_op_error(moved)).next_up())
}

/// One network encoded up to layer `position` (exclusive): the model so far and the
/// expressions of the vector at `position` (LP tightening hands this on for reuse).
#[derive(Clone, Debug, Default)]
pub struct Prefix {
    pub lp: LinearProgram,
    pub exprs: Vec<LinExpr>,
    pub position: usize,
}

/// A variable with finite bounds; `integer` marks the binaries of exact mode.
#[derive(Clone, Debug, PartialEq)]
pub struct VarDef {
    pub lower: f64,
    pub upper: f64,
    pub integer: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// `a·x ≥ rhs`
    Ge,
    /// `a·x ≤ rhs`
    Le,
    /// `a·x = rhs`
    Eq,
}

/// A linear row. `error` bounds how far the stored left-hand side may be from the exact one
/// (products rounded while the row was built) anywhere in the variables' box.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub coeffs: Vec<(usize, f64)>,
    pub kind: RowKind,
    pub rhs: f64,
    pub error: f64,
}

/// An LP or MILP: minimise or maximise a `LinExpr` subject to rows and variable bounds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinearProgram {
    pub vars: Vec<VarDef>,
    pub rows: Vec<Row>,
}

impl LinearProgram {
    /// Adds a variable and returns its index.
    pub fn add_var(&mut self, lower: f64, upper: f64, integer: bool) -> usize {
        debug_assert!(lower.is_finite() && upper.is_finite() && lower <= upper, "bad bounds [{lower}, {upper}]");
        self.vars.push(VarDef { lower, upper, integer });
        self.vars.len() - 1
    }

    /// Adds the row `expr (kind) rhs`, moving the expression's constant to the right.
    pub fn add_row(&mut self, expr: LinExpr, kind: RowKind, rhs: f64) {
        let (rhs, error) = moved_rhs(expr.constant, expr.error, rhs);
        self.rows.push(Row { coeffs: expr.terms, kind, rhs, error });
    }

    /// Re-bounds the triangle relaxation `r` for pre-activation bounds `[l, u]` (taken inside
    /// those it was built with): `y ≤ max(u, 0)` and the upper row's `c` and right-hand side for
    /// `[min(l, 0), max(u, 0)]`. A fixed phase becomes exact: `y = z` (then `z ≥ 0`) or `y = 0`
    /// (the row then reads `z ≥ l`). Returns y's upper bound, `c` and the row's right-hand side.
    pub fn rebound_relu(&mut self, r: &ReluRow, l: f64, u: f64) -> (f64, f64, f64) {
        let (l, u) = (l.max(r.lower).min(0.0), u.min(r.upper).max(0.0));
        let c = if u > 0.0 { upper_line_scale(l, u) } else { 1.0 };
        self.vars[r.y].upper = u;
        let (rhs, error) = moved_rhs(r.constant, r.error, -l);
        let row = &mut self.rows[r.row];
        if let Some(t) = row.coeffs.iter_mut().rev().find(|t| t.0 == r.y) {
            t.1 = c;
        }
        (row.rhs, row.error) = (rhs, error);
        (u, c, rhs)
    }

    /// The largest magnitude each variable can take.
    pub fn magnitudes(&self) -> Vec<f64> {
        self.vars.iter().map(|v| v.lower.abs().max(v.upper.abs())).collect()
    }

    pub fn integer_count(&self) -> usize {
        self.vars.iter().filter(|v| v.integer).count()
    }
}
