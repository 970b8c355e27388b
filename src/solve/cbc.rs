//! COIN-OR CBC: its command line and a reader of its solution file written after
//! `printingOptions all` (status, then each row and column by number and name, 8 digits),
//! refined to full precision from the binary `saveSolution` file when the two agree.

use std::ffi::OsString;
use std::path::Path;

use super::answer::{number, FileAnswer, FileStatus};
use super::SolverConfig;

/// The solution files CBC is told to write (text and binary), in the run's directory.
pub const SOLUTION: &str = "solution.txt";
pub const BINARY: &str = "solution.bin";
/// The primal and dual feasibility tolerances CBC is given (a user's `-primalT`/`-dualT` option,
/// which comes later on the command line, wins).
const TOLERANCE: f64 = 1e-10;

/// CBC's arguments: read the model, set the limits and options, solve, write every row and column.
pub fn arguments(cfg: &SolverConfig, model: &Path) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![model.into()];
    let mut set = |k: &str, v: String| a.extend([format!("-{k}").into(), v.into()]);
    // CBC's default tolerances (1e-7, on the scaled model) stopped short of the optimum by up
    // to 3e-4 on tightening LPs of fcnn7 twins (objective coefficients often below 1e-4), 1e-9
    // still by 3e-5 on a few
    set("primalTolerance", format!("{TOLERANCE:e}"));
    set("dualTolerance", format!("{TOLERANCE:e}"));
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
    a.extend(["-solve", "-printingOptions", "all", "-solution", SOLUTION, "-saveSolution", BINARY].map(OsString::from));
    a
}

/// Parses CBC's solution file (any bytes: unreadable text is an error, never a panic); the
/// values of `binary` replace the printed ones when every one of them agrees to print precision.
pub fn read(text: &str, binary: Option<&[u8]>) -> Result<FileAnswer, String> {
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
    let (mut cols_at, mut rows_at) = (Vec::new(), Vec::new());
    for line in lines {
        // "**" marks an infeasible row or column; the numbers follow as usual
        let tokens: Vec<&str> =
            line.trim_start_matches(|c: char| c == '*' || c.is_whitespace()).split_whitespace().collect();
        let [index, name, value, dual] = tokens[..] else {
            return Err(format!("CBC solution file: unreadable line '{line}'"));
        };
        let index = index.parse::<usize>().ok();
        if name.starts_with('r') {
            match number(dual, name) {
                Ok(d) => rows.push((name.to_string(), d)),
                Err(e) => dual_error = dual_error.or(Some(e)),
            }
            rows_at.push(index);
        } else {
            columns.push((name.to_string(), number(value, name)?));
            cols_at.push(index);
        }
    }
    if let Some((duals, values)) = binary.and_then(parse_binary) {
        refine(&mut rows, &rows_at, &duals);
        refine(&mut columns, &cols_at, &values);
    }
    let rows = match dual_error {
        Some(e) => Err(format!("unreadable dual ({e})")),
        None if rows.is_empty() => Err("no row section".into()),
        None => Ok(rows),
    };
    Ok(FileAnswer { status, columns, rows })
}

/// CBC's `saveSolution` file: row and column counts (i32), the objective, row activities, row
/// duals, column values, reduced costs (f64, native byte order). Returns (row duals, values).
fn parse_binary(bytes: &[u8]) -> Option<(Vec<f64>, Vec<f64>)> {
    let int = |k: usize| bytes.get(4 * k..4 * k + 4).and_then(|b| <[u8; 4]>::try_from(b).ok()).map(i32::from_ne_bytes);
    let (m, n) = (usize::try_from(int(0)?).ok()?, usize::try_from(int(1)?).ok()?);
    if bytes.len() != m.checked_add(n)?.checked_mul(16)?.checked_add(16)? {
        return None;
    }
    let f =
        |k: usize| bytes.get(16 + 8 * k..24 + 8 * k).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(f64::from_ne_bytes);
    let duals = (0..m).map(|i| f(m + i)).collect::<Option<Vec<f64>>>()?;
    let values = (0..n).map(|j| f(2 * m + j)).collect::<Option<Vec<f64>>>()?;
    Some((duals, values))
}

/// Replaces printed values by the binary ones at their numbers, if every one agrees with its
/// printed value to the 8 significant digits CBC prints (else the printed values stay).
fn refine(printed: &mut [(String, f64)], at: &[Option<usize>], full: &[f64]) {
    let exact: Option<Vec<f64>> = printed
        .iter()
        .zip(at)
        .map(|((_, p), k)| {
            let v = *full.get((*k)?)?;
            ((v - p).abs() <= 1e-7 * v.abs().max(p.abs()) + 1e-12).then_some(v)
        })
        .collect();
    if let Some(exact) = exact {
        printed.iter_mut().zip(exact).for_each(|(e, v)| e.1 = v);
    }
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
        let a = read(FILE, None).unwrap();
        assert_eq!(a.status, FileStatus::Optimal);
        assert_eq!(a.columns, vec![("x0".into(), 0.4), ("x1".into(), 0.1)]);
        assert_eq!(a.rows, Ok(vec![("r0".into(), 1.5), ("r1".into(), -0.5)]));
        let stopped = read(&FILE.replace("Optimal", "Stopped on time"), None).unwrap();
        assert!(matches!(stopped.status, FileStatus::Stopped(_)));
        assert_eq!(read("Infeasible - objective value 3\n", None).unwrap().status, FileStatus::Infeasible);
    }

    #[test]
    fn garbage_is_an_error_and_a_bad_dual_only_loses_the_duals() {
        for bad in ["", "\n\n", "this is not a solution", "Optimal\n 0 x0 0.4", "Optimal\n 0 x0 abc 0"] {
            assert!(read(bad, None).is_err(), "{bad:?}");
        }
        let a = read(&FILE.replace("1.5", "1.5.7"), None).unwrap();
        assert!(a.rows.is_err() && a.columns.len() == 2);
    }

    #[test]
    fn arguments_put_tolerances_then_options_before_the_solve() {
        let cfg = SolverConfig {
            time_limit: Some(5.0),
            options: [("presolve".into(), OptionValue::Text("off".into()))].into(),
            ..Default::default()
        };
        let a: Vec<String> = arguments(&cfg, Path::new("m.lp")).iter().map(|s| s.to_string_lossy().into()).collect();
        let tolerances = ["-primalTolerance", "1e-10", "-dualTolerance", "1e-10"];
        assert_eq!(a[..5], [&["m.lp"][..], &tolerances].concat());
        assert_eq!(a[5..9], ["-sec", "5", "-presolve", "off"]);
        assert_eq!(a[9..], ["-solve", "-printingOptions", "all", "-solution", SOLUTION, "-saveSolution", BINARY]);
    }

    /// The binary file of the text one (2 rows, 2 columns), with `dual0` as the first row dual.
    fn binary(dual0: f64) -> Vec<u8> {
        let mut b: Vec<u8> = [2i32, 2].iter().flat_map(|i| i.to_ne_bytes()).collect();
        for v in [0.6, 0.5, 0.3, dual0, -0.5, 0.4, 0.09999999999999998, 0.0, 0.0] {
            b.extend(v.to_ne_bytes());
        }
        b
    }

    #[test]
    fn the_binary_file_gives_full_precision_only_when_it_agrees_with_the_text() {
        let a = read(FILE, Some(&binary(1.5000000000000002))).unwrap();
        assert_eq!(a.rows, Ok(vec![("r0".into(), 1.5000000000000002), ("r1".into(), -0.5)]));
        assert_eq!(a.columns[1].1, 0.09999999999999998);
        // a section that disagrees keeps its printed values; a cut or garbled file is ignored
        let a = read(FILE, Some(&binary(1.6))).unwrap();
        assert_eq!(a.rows, Ok(vec![("r0".into(), 1.5), ("r1".into(), -0.5)]));
        for bad in [binary(1.5)[..40].to_vec(), vec![255; 16]] {
            let a = read(FILE, Some(&bad)).unwrap();
            assert_eq!(a.rows, Ok(vec![("r0".into(), 1.5), ("r1".into(), -0.5)]));
            assert_eq!(a.columns[1].1, 0.1);
        }
    }
}
