//! Our model in CPLEX LP format (rows `r<i>`, columns `x<i>`): the file every external backend
//! reads, and the `--keep-model` copy, so a user can inspect or re-run exactly what was solved.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::Sense;
use crate::encode::{LinExpr, LinearProgram, RowKind};
use crate::error::{Error, Result};

/// Writes the model to `dir/model-NNNN.lp`, numbered so successive solves do not overwrite: the
/// first free number from the directory's size on, claimed atomically (parallel solves each
/// get a file of their own).
pub fn keep(dir: &Path, lp: &LinearProgram, objective: &LinExpr, sense: Sense) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
    let mut n = std::fs::read_dir(dir).map_err(|e| Error::read(dir, e))?.count();
    loop {
        let path = dir.join(format!("model-{n:04}.lp"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                return file.write_all(lp_format(lp, objective, sense).as_bytes()).map_err(|e| Error::write(&path, e))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(Error::create(&path, e)),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Solves running in parallel each keep a whole model of their own (counting the directory
    /// alone gave two of them one number, and a longer model's tail outlived a shorter one).
    #[test]
    fn parallel_keeps_write_whole_files_under_distinct_numbers() {
        let dir = std::env::temp_dir().join(format!("twinverify-keep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut lp = LinearProgram::default();
        let x = lp.add_var(0.0, 1.0, false);
        let objective = LinExpr { terms: vec![(x, 1.0)], constant: 0.0, error: 0.0 };
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| (0..5).for_each(|_| keep(&dir, &lp, &objective, Sense::Minimise).unwrap()));
            }
        });
        let texts: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect();
        assert_eq!(texts.len(), 40);
        let whole = lp_format(&lp, &objective, Sense::Minimise);
        assert!(texts.iter().all(|t| *t == whole), "every kept file is one whole model");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
