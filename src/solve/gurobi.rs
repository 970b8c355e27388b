//! Gurobi's `gurobi_cl`: its command line (parameters as `Name=value`) and a reader of its JSON
//! result file (`SolutionInfo.Status`, `Vars[].VarName/X`, `Constrs[].ConstrName/Pi`).

use std::ffi::OsString;
use std::path::Path;

use serde_json::Value;

use super::answer::{FileAnswer, FileStatus};
use super::SolverConfig;

/// The JSON result file gurobi_cl is told to write.
pub const SOLUTION: &str = "solution.json";

/// gurobi_cl's arguments: `Name=value` parameters (every variable and row in the JSON), the model.
pub fn arguments(cfg: &SolverConfig, model: &Path) -> Result<Vec<OsString>, String> {
    let mut a: Vec<String> = Vec::new();
    a.extend(cfg.time_limit.map(|t| format!("TimeLimit={}", t.max(0.0))));
    a.extend(cfg.threads.map(|n| format!("Threads={n}")));
    a.extend(cfg.mip_gap.map(|g| format!("MIPGap={g}")));
    for (k, v) in &cfg.options {
        let v = v.to_string();
        if v.is_empty() {
            return Err(format!("gurobi option '{k}' needs a value (KEY=VALUE)"));
        }
        a.push(format!("{k}={v}"));
    }
    a.extend(["JSONSolDetail=1".to_string(), format!("ResultFile={SOLUTION}")]);
    let mut a: Vec<OsString> = a.into_iter().map(OsString::from).collect();
    a.push(model.into());
    Ok(a)
}

/// `(name, value)` of every entry of the array `list`, with the name in `name` and the value in `value`.
fn entries(doc: &Value, list: &str, name: &str, value: &str) -> Result<Vec<(String, f64)>, String> {
    let items = doc.get(list).and_then(Value::as_array).ok_or_else(|| format!("no '{list}' array"))?;
    items
        .iter()
        .map(|it| {
            let n =
                it.get(name).and_then(Value::as_str).ok_or_else(|| format!("an entry of '{list}' without '{name}'"))?;
            let v = it.get(value).and_then(Value::as_f64).ok_or_else(|| format!("'{n}' without a number '{value}'"))?;
            Ok((n.to_string(), v))
        })
        .collect()
}

/// Parses the JSON result file; the dual section (`Constrs` with `Pi`) is optional.
pub fn read(text: &str) -> Result<FileAnswer, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("Gurobi result file is not JSON ({e})"))?;
    let code = doc
        .get("SolutionInfo")
        .and_then(|i| i.get("Status"))
        .and_then(Value::as_i64)
        .ok_or("Gurobi result file without SolutionInfo.Status")?;
    // status codes of the Gurobi reference manual: 2 optimal, 3 infeasible, 4 infeasible or
    // unbounded, 5 unbounded; the limits (7–11, 13, …) stop with the best point found
    let status = match code {
        2 => FileStatus::Optimal,
        3 | 4 => FileStatus::Infeasible,
        5 => FileStatus::Unbounded,
        c => FileStatus::Stopped(format!("gurobi stopped with status {c} (time limit or similar)")),
    };
    let columns = entries(&doc, "Vars", "VarName", "X").map_err(|e| format!("Gurobi result file: {e}"))?;
    let rows = entries(&doc, "Constrs", "ConstrName", "Pi");
    Ok(FileAnswer { status, columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_go_before_the_model() {
        let cfg = SolverConfig { time_limit: Some(3.5), threads: Some(2), ..Default::default() };
        let a: Vec<String> =
            arguments(&cfg, Path::new("m.lp")).unwrap().iter().map(|s| s.to_string_lossy().into()).collect();
        assert_eq!(a, ["TimeLimit=3.5", "Threads=2", "JSONSolDetail=1", "ResultFile=solution.json", "m.lp"]);
    }
}
