//! GLPK's `glpsol`: its command line and a reader of the two files it writes, the plain solution
//! (`-w`: status, values and duals in full precision, by number) and the report (`-o`: the names).

use std::ffi::OsString;
use std::path::Path;

use super::answer::{number, FileAnswer, FileStatus};
use super::SolverConfig;

/// The plain solution file and the printable report glpsol is told to write.
pub const SOLUTION: &str = "solution.txt";
pub const REPORT: &str = "report.txt";

/// glpsol's arguments: the model, the simplex method, limits and options, then both output files.
/// The dual simplex with an exact check of its final basis: glpsol's default primal simplex
/// cycled for minutes ("numerical instability") on some tightening LPs of fcnn7 twins, which
/// this pair solves in a fraction of a second to the exact optimum. A user's `--primal` wins.
pub fn arguments(cfg: &SolverConfig, model: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = ["--lp".into(), model.into(), "--dual".into(), "--xcheck".into()].into();
    if let Some(t) = cfg.time_limit {
        // whole seconds only; the child is killed soon after the limit anyway
        a.extend(["--tmlim".into(), (t.ceil().max(1.0) as u64).to_string().into()]);
    }
    if let Some(g) = cfg.mip_gap {
        a.extend(["--mipgap".into(), g.to_string().into()]);
    }
    for (k, v) in &cfg.options {
        a.push(format!("--{k}").into());
        a.extend(Some(v.to_string()).filter(|v| !v.is_empty()).map(OsString::from));
    }
    a.extend(["-w", SOLUTION, "-o", REPORT].map(OsString::from));
    a
}

/// Row and column names by number, from the report's two tables.
fn names(report: &str) -> Result<[Vec<String>; 2], String> {
    let lines: Vec<&str> = report.lines().collect();
    let table = |title: &str| -> Result<Vec<String>, String> {
        let head = lines
            .iter()
            .position(|l| l.trim_start().starts_with("No.") && l.contains(title))
            .ok_or_else(|| format!("glpsol report without a '{title}' table"))?;
        let mut out = Vec::new();
        let mut continued = false;
        for line in lines[head + 2..].iter().take_while(|l| !l.trim().is_empty()) {
            if std::mem::take(&mut continued) {
                continue; // the values of an entry whose long name sat alone on its line
            }
            let tokens: Vec<&str> = line.split_whitespace().collect();
            match tokens[..] {
                [no, name, ..] if no.parse::<usize>() == Ok(out.len() + 1) => {
                    continued = tokens.len() == 2;
                    out.push(name.to_string());
                }
                _ => return Err(format!("glpsol report: unreadable line '{line}'")),
            }
        }
        Ok(out)
    };
    Ok([table("Row name")?, table("Column name")?])
}

/// Parses the plain solution (`-w`) with the names from the report (`-o`).
pub fn read(solution: &str, report: &str) -> Result<FileAnswer, String> {
    let [row_names, col_names] = names(report)?;
    let mut status = None;
    let (mut columns, mut rows) = (Vec::new(), Ok(Vec::new()));
    for line in solution.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('c')) {
        let t: Vec<&str> = line.split_whitespace().collect();
        match (t[0], &t[1..]) {
            ("s", [kind, m, n, flags @ ..]) => {
                if (m.parse::<usize>(), n.parse::<usize>()) != (Ok(row_names.len()), Ok(col_names.len())) {
                    return Err(format!(
                        "glpsol solution of {m}×{n} but a report of {}×{}",
                        row_names.len(),
                        col_names.len()
                    ));
                }
                status = Some(solution_status(kind, flags));
            }
            (kind @ ("i" | "j"), [k, rest @ ..]) => {
                let names = if kind == "i" { &row_names } else { &col_names };
                let name = k.parse::<usize>().ok().and_then(|k| names.get(k.wrapping_sub(1)));
                let name = name.ok_or_else(|| format!("glpsol solution: no {kind} entry number {k}"))?.clone();
                // a basis status letter comes first in simplex solutions
                let nums = match rest.first() {
                    Some(s) if s.parse::<f64>().is_err() => &rest[1..],
                    _ => rest,
                };
                let value = number(nums.first().unwrap_or(&""), &name)?;
                if kind == "j" {
                    columns.push((name, value));
                } else if let Ok(r) = &mut rows {
                    match nums.get(1).map(|d| number(d, &name)) {
                        Some(Ok(d)) => r.push((name, d)),
                        Some(Err(e)) => rows = Err(format!("unreadable dual ({e})")),
                        None => rows = Err("no duals (a MIP solution)".into()),
                    }
                }
            }
            ("e", _) => break,
            _ => return Err(format!("glpsol solution: unreadable line '{line}'")),
        }
    }
    let status = status.ok_or("glpsol solution without a status line")?;
    Ok(FileAnswer { status, columns, rows })
}

/// The status of an `s` line: `bas`/`ipt` give primal and dual status, `mip` one status;
/// an undefined or infeasible point is no solution.
fn solution_status(kind: &str, flags: &[&str]) -> FileStatus {
    let stopped = || FileStatus::Stopped("glpk: not proven optimal (time limit or similar)".into());
    match (kind, flags) {
        ("bas" | "ipt", ["f", "f", _]) | ("mip", ["o", _]) => FileStatus::Optimal,
        ("bas" | "ipt", ["n", ..]) | ("mip", ["n", _]) => FileStatus::Infeasible,
        ("bas" | "ipt", ["f", "n", _]) => FileStatus::Unbounded,
        ("bas" | "ipt", ["f", _, _]) | ("mip", ["f", _]) => stopped(),
        _ => FileStatus::NoSolution(format!("glpsol's status is '{kind} {}': no usable point", flags.join(" "))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::OptionValue;
    use super::*;

    #[test]
    fn arguments_ask_for_the_checked_dual_simplex_before_the_options() {
        let cfg = SolverConfig {
            time_limit: Some(2.5),
            options: [("primal".into(), OptionValue::Text(String::new()))].into(),
            ..Default::default()
        };
        let a: Vec<String> = arguments(&cfg, Path::new("m.lp")).iter().map(|s| s.to_string_lossy().into()).collect();
        assert_eq!(a, ["--lp", "m.lp", "--dual", "--xcheck", "--tmlim", "3", "--primal", "-w", SOLUTION, "-o", REPORT]);
    }

    const REPORT_LP: &str = "Status:     OPTIMAL\n\n   No.   Row name   St   Activity     Lower bound   Upper bound    Marginal\n\
        ------ ------------ -- ------------- ------------- ------------- -------------\n\
             1 r0           NL           0.5           0.5                         1.5 \n\
             2 a_very_long_row_name\n                    NU           0.3                         0.3          -0.5 \n\n\
           No. Column name  St   Activity     Lower bound   Upper bound    Marginal\n\
        ------ ------------ -- ------------- ------------- ------------- -------------\n\
             1 x0           B            0.4             0             1 \n\
             2 x1           B            0.1             0             1 \n\n";
    const SOL_LP: &str = "c Problem:\nc Status: OPTIMAL\ns bas 2 2 f f 0.6\ni 1 l 0.5 1.5000000000000002\n\
                          i 2 u 0.3 -0.5\nj 1 b 0.4 0\nj 2 b 0.1 0\ne o f\n";

    #[test]
    fn reads_full_precision_values_and_duals_named_by_the_report() {
        let a = read(SOL_LP, REPORT_LP).unwrap();
        assert_eq!(a.status, FileStatus::Optimal);
        assert_eq!(a.columns, vec![("x0".into(), 0.4), ("x1".into(), 0.1)]);
        assert_eq!(a.rows, Ok(vec![("r0".into(), 1.5000000000000002), ("a_very_long_row_name".into(), -0.5)]));
        let mip = read("s mip 2 2 o 2\ni 1 1\ni 2 -1\nj 1 0\nj 2 1\ne o f\n", REPORT_LP).unwrap();
        assert_eq!(mip.status, FileStatus::Optimal);
        assert_eq!(mip.columns[1], ("x1".into(), 1.0));
        assert!(mip.rows.is_err());
        let stopped = read(&SOL_LP.replace("f f", "f i"), REPORT_LP).unwrap();
        assert!(matches!(stopped.status, FileStatus::Stopped(_)));
        assert_eq!(read(&SOL_LP.replace("f f", "n f"), REPORT_LP).unwrap().status, FileStatus::Infeasible);
        assert!(matches!(read(&SOL_LP.replace("f f", "u u"), REPORT_LP).unwrap().status, FileStatus::NoSolution(_)));
    }

    #[test]
    fn garbage_and_mismatches_are_errors_a_bad_dual_only_loses_the_duals() {
        for (sol, report) in [
            ("garbage", REPORT_LP),
            ("", REPORT_LP),
            (SOL_LP, ""),
            (&SOL_LP.replace("s bas 2 2", "s bas 3 2"), REPORT_LP),
            (&SOL_LP.replace("j 2 b 0.1", "j 3 b 0.1"), REPORT_LP),
            (&SOL_LP.replace("0.4", "zero"), REPORT_LP),
        ] {
            assert!(read(sol, report).is_err(), "{sol:?}");
        }
        let a = read(&SOL_LP.replace("-0.5", "-0.5x"), REPORT_LP).unwrap();
        assert!(a.rows.is_err() && a.columns.len() == 2);
    }
}
