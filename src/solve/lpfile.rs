//! Our model in CPLEX LP format (rows `r<i>`, columns `x<i>`): the file every external backend
//! reads, and the `--keep-model` copy, so a user can inspect or re-run exactly what was solved.

use std::fmt::Write as _;
use std::path::Path;

use super::Sense;
use crate::encode::{LinExpr, LinearProgram, RowKind};
use crate::error::{Error, Result};

/// Writes the model to `dir/model-NNNN.lp` (numbered so successive solves do not overwrite).
pub fn keep(dir: &Path, lp: &LinearProgram, objective: &LinExpr, sense: Sense) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
    let n = std::fs::read_dir(dir).map_err(|e| Error::read(dir, e))?.count();
    let path = dir.join(format!("model-{n:04}.lp"));
    std::fs::write(&path, lp_format(lp, objective, sense)).map_err(|e| Error::write(&path, e))
}

/// A linear expression, a few terms per line: the LP format caps lines (CPLEX at 510
/// characters) and CBC's reader rejects some very long ones.
fn terms_text(terms: &[(usize, f64)]) -> String {
    let mut s = String::new();
    for (k, &(v, c)) in terms.iter().enumerate() {
        if k > 0 && k % 8 == 0 {
            s.push_str("\n   ");
        }
        let _ = write!(s, " {} {:e} x{v}", if c < 0.0 { "-" } else { "+" }, c.abs());
    }
    if s.is_empty() {
        s.push_str(" 0 x0");
    }
    s
}

/// The model in CPLEX LP format (the objective's constant is a comment).
pub fn lp_format(lp: &LinearProgram, objective: &LinExpr, sense: Sense) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\\ twinverify model: {} variables, {} rows; objective constant {:e}",
        lp.vars.len(),
        lp.rows.len(),
        objective.constant
    );
    let _ = writeln!(
        s,
        "{}\n obj:{}",
        if sense == Sense::Minimise { "Minimize" } else { "Maximize" },
        terms_text(&objective.terms)
    );
    let _ = writeln!(s, "Subject To");
    for (i, r) in lp.rows.iter().enumerate() {
        let op = match r.kind {
            RowKind::Ge => ">=",
            RowKind::Le => "<=",
            RowKind::Eq => "=",
        };
        let _ = writeln!(s, " r{i}:{} {op} {:e}", terms_text(&r.coeffs), r.rhs);
    }
    let _ = writeln!(s, "Bounds");
    for (i, v) in lp.vars.iter().enumerate() {
        let _ = writeln!(s, " {:e} <= x{i} <= {:e}", v.lower, v.upper);
    }
    let ints: Vec<String> =
        lp.vars.iter().enumerate().filter(|(_, v)| v.integer).map(|(i, _)| format!("x{i}")).collect();
    if !ints.is_empty() {
        let _ = writeln!(s, "General\n {}", ints.join(" "));
    }
    s.push_str("End\n");
    s
}
