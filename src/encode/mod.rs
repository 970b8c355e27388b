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
pub use network::{encode_network, EncodeOptions, Mode};

use crate::round::one_op_error;

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
        let rhs_moved = rhs - expr.constant;
        // the subtraction is rounded (by at most half an ulp): fold that into the row's error
        let error = (expr.error + one_op_error(rhs_moved)).next_up();
        self.rows.push(Row { coeffs: expr.terms, kind, rhs: rhs_moved, error });
    }

    /// The largest magnitude each variable can take.
    pub fn magnitudes(&self) -> Vec<f64> {
        self.vars.iter().map(|v| v.lower.abs().max(v.upper.abs())).collect()
    }

    pub fn integer_count(&self) -> usize {
        self.vars.iter().filter(|v| v.integer).count()
    }
}
