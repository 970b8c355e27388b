//! COIN-OR CBC: its command line and a reader of its solution file written after
//! `printingOptions all`, a status line then one line per row (value, dual) and per column.

use std::ffi::OsString;
use std::path::Path;

use super::answer::{number, FileAnswer, FileStatus};
use super::SolverConfig;

/// The solution file CBC is told to write, in the run's directory.
pub const SOLUTION: &str = "solution.txt";

/// CBC's arguments: read the model, set the limits and options, solve, write every row and column.
pub fn arguments(cfg: &SolverConfig, model: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![model.into()];
    let mut set = |k: &str, v: String| a.extend([format!("-{k}").into(), v.into()]);
    if let Some(t) = cfg.time_limit {
        set("sec", t.max(0.0).to_string());
    }
    if let Some(n) = cfg.threads {
        set("threads", n.to_string());
    }
    if let Some(g) = cfg.mip_gap {
        set("ratio", g.to_string());
    }
    for (k, v) in &cfg.options {
        a.push(format!("-{k}").into());
        a.extend(Some(v.to_string()).filter(|v| !v.is_empty()).map(OsString::from));
    }
    a.extend(["-solve", "-printingOptions", "all", "-solution", SOLUTION].map(OsString::from));
    a
}

/// Parses CBC's solution file (any bytes: unreadable text is an error, never a panic).
pub fn read(text: &str) -> Result<FileAnswer, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let head = lines.next().ok_or("empty CBC solution file")?.trim();
    let lower = head.to_lowercase();
    let status = if head.starts_with("Optimal") {
        FileStatus::Optimal
    } else if lower.contains("infeasible") {
        FileStatus::Infeasible
    } else if lower.contains("unbounded") {
        FileStatus::Unbounded
    } else if head.starts_with("Stopped") {
        FileStatus::Stopped(format!("cbc: {head}"))
    } else {
        return Err(format!("CBC solution file with unknown status line '{head}'"));
    };
    let (mut columns, mut rows, mut dual_error) = (Vec::new(), Vec::new(), None);
    for line in lines {
        // "**" marks an infeasible row or column; the numbers follow as usual
        let tokens: Vec<&str> =
            line.trim_start_matches(|c: char| c == '*' || c.is_whitespace()).split_whitespace().collect();
        let [_, name, value, dual] = tokens[..] else {
            return Err(format!("CBC solution file: unreadable line '{line}'"));
        };
        if name.starts_with('r') {
            match number(dual, name) {
                Ok(d) => rows.push((name.to_string(), d)),
                Err(e) => dual_error = dual_error.or(Some(e)),
            }
        } else {
            columns.push((name.to_string(), number(value, name)?));
        }
    }
    let rows = match dual_error {
        Some(e) => Err(format!("unreadable dual ({e})")),
        None if rows.is_empty() => Err("no row section".into()),
        None => Ok(rows),
    };
    Ok(FileAnswer { status, columns, rows })
}

#[cfg(test)]
mod tests {
    use super::super::config::OptionValue;
    use super::*;

    const FILE: &str = "Optimal - objective value 0.60000000\n      0 r0                   0.5                     1.5\n\
                        \n**    1 r1                   0.3                    -0.5\n      0 x0                   0.4                       0\n\
                              1 x1                   0.1                       0\n";

    #[test]
    fn reads_status_values_and_duals_by_name() {
        let a = read(FILE).unwrap();
        assert_eq!(a.status, FileStatus::Optimal);
        assert_eq!(a.columns, vec![("x0".into(), 0.4), ("x1".into(), 0.1)]);
        assert_eq!(a.rows, Ok(vec![("r0".into(), 1.5), ("r1".into(), -0.5)]));
        let stopped = read(&FILE.replace("Optimal", "Stopped on time")).unwrap();
        assert!(matches!(stopped.status, FileStatus::Stopped(_)));
        assert_eq!(read("Infeasible - objective value 3\n").unwrap().status, FileStatus::Infeasible);
    }

    #[test]
    fn garbage_is_an_error_and_a_bad_dual_only_loses_the_duals() {
        for bad in ["", "\n\n", "this is not a solution", "Optimal\n 0 x0 0.4", "Optimal\n 0 x0 abc 0"] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
        let a = read(&FILE.replace("1.5", "1.5.7")).unwrap();
        assert!(a.rows.is_err() && a.columns.len() == 2);
    }

    #[test]
    fn arguments_put_options_before_the_solve() {
        let cfg = SolverConfig {
            time_limit: Some(5.0),
            options: [("presolve".into(), OptionValue::Text("off".into()))].into(),
            ..Default::default()
        };
        let a: Vec<String> = arguments(&cfg, Path::new("m.lp")).iter().map(|s| s.to_string_lossy().into()).collect();
        assert_eq!(a[..5], ["m.lp", "-sec", "5", "-presolve", "off"]);
        assert_eq!(a[5..], ["-solve", "-printingOptions", "all", "-solution", SOLUTION]);
    }
}
