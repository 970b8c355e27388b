//! GLPK through the lp-solvers file interface, with a solution reader of our own: lp-solvers'
//! reader takes the wrong column of glpsol's MIP report (there is no status column there), so
//! every MILP answer would be a bound instead of the solution.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use good_lp::solvers::lp_solvers::{
    GlpkSolver, Solution, SolverProgram, SolverWithSolutionParsing, Status, WithMaxSeconds, WithMipGap,
};
use lp_solvers::lp_format::LpProblem;

/// glpsol, run exactly as lp-solvers runs it, with a correct reader of its `-o` report.
#[derive(Clone, Debug)]
pub struct Glpk(pub GlpkSolver);

impl SolverProgram for Glpk {
    fn command_name(&self) -> &str {
        SolverProgram::command_name(&self.0)
    }

    fn arguments(&self, lp_file: &Path, solution_file: &Path) -> Vec<OsString> {
        self.0.arguments(lp_file, solution_file)
    }
}

impl WithMaxSeconds<Glpk> for Glpk {
    fn max_seconds(&self) -> Option<u32> {
        self.0.max_seconds()
    }
    fn with_max_seconds(&self, seconds: u32) -> Glpk {
        Glpk(self.0.with_max_seconds(seconds))
    }
}

impl WithMipGap<Glpk> for Glpk {
    fn mip_gap(&self) -> Option<f32> {
        self.0.mip_gap()
    }
    fn with_mip_gap(&self, gap: f32) -> Result<Glpk, String> {
        self.0.with_mip_gap(gap).map(Glpk)
    }
}

impl SolverWithSolutionParsing for Glpk {
    fn read_specific_solution<'a, P: LpProblem<'a>>(&self, f: &File, _: Option<&'a P>) -> Result<Solution, String> {
        let lines: Vec<String> = BufReader::new(f).lines().collect::<Result<_, _>>().map_err(|e| e.to_string())?;
        parse_report(&lines)
    }
}

/// Parses glpsol's printable report (`-o`): the status line and the column section.
pub fn parse_report(lines: &[String]) -> Result<Solution, String> {
    let status_text = lines
        .iter()
        .find_map(|l| l.strip_prefix("Status:"))
        .map(str::trim)
        .ok_or("glpsol report without a Status line")?;
    let status = match status_text {
        "OPTIMAL" | "INTEGER OPTIMAL" => Status::Optimal,
        "FEASIBLE" | "INTEGER NON-OPTIMAL" => Status::SubOptimal,
        "INFEASIBLE (FINAL)" | "INTEGER EMPTY" | "INFEASIBLE (INTERMEDIATE)" => Status::Infeasible,
        "UNBOUNDED" => Status::Unbounded,
        "UNDEFINED" | "INTEGER UNDEFINED" => Status::NotSolved,
        other => return Err(format!("glpsol report with unknown status '{other}'")),
    };
    let header = lines
        .iter()
        .position(|l| l.trim_start().starts_with("No. Column name"))
        .ok_or("glpsol report without a column section")?;
    let has_status_column = lines[header].contains(" St ");
    let mut values = std::collections::HashMap::new();
    let mut pending: Option<String> = None;
    for line in lines[header + 2..].iter().take_while(|l| !l.trim().is_empty()) {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        // a long name sits alone on its line, its values on the next one
        let (name, rest) = match pending.take() {
            Some(name) => (name, &tokens[..]),
            None if tokens.len() == 2 => {
                pending = Some(tokens[1].to_string());
                continue;
            }
            None if tokens.len() >= 3 => (tokens[1].to_string(), &tokens[2..]),
            None => return Err(format!("glpsol report: unreadable column line '{line}'")),
        };
        let skip = if has_status_column || rest.first() == Some(&"*") { 1 } else { 0 };
        let value = rest.get(skip).ok_or_else(|| format!("glpsol report: no value for column {name}"))?;
        let v: f32 = value.parse().map_err(|_| format!("glpsol report: '{value}' is not a number"))?;
        values.insert(name, v);
    }
    Ok(Solution::new(status, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn reads_lp_and_mip_reports() {
        let mip = lines(
            "Status:     INTEGER OPTIMAL\n\n   No. Column name       Activity     Lower bound   Upper bound\n\
             ------ ------------    ------------- ------------- -------------\n\
                  1 x0                     0.25             0             1\n\
                  2 x1           *              1             0             1\n\n",
        );
        let s = parse_report(&mip).unwrap();
        assert_eq!(s.status, Status::Optimal);
        assert_eq!((s.results["x0"], s.results["x1"]), (0.25, 1.0));
        let lp = lines(
            "Status:     OPTIMAL\n   No. Column name  St   Activity     Lower bound   Upper bound    Marginal\n\
             ------ ------------ -- ------------- ------------- ------------- -------------\n\
                  1 x0           B           0.5             0             1\n\
                  2 a_very_long_column_name\n                  NL             0             0             1         < eps\n\n",
        );
        let s = parse_report(&lp).unwrap();
        assert_eq!((s.results["x0"], s.results["a_very_long_column_name"]), (0.5, 0.0));
        assert!(parse_report(&lines("garbage")).is_err());
    }
}
