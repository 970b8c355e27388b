//! Solver configuration shared by the YAML `solver:` block and the command-line flags.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// Which solver runs the LPs and MILPs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SolverKind {
    /// Embedded HiGHS (default; LP and MILP, row duals for certification).
    #[default]
    Highs,
    /// COIN-OR CBC through its LP-file interface (`cbc` on PATH or --solver-path).
    Cbc,
    /// GLPK through its LP-file interface (`glpsol`).
    Glpk,
    /// Gurobi through its LP-file interface (`gurobi_cl`).
    Gurobi,
    /// IBM CPLEX through its LP-file interface (`cplex`).
    Cplex,
}

impl SolverKind {
    /// The executable the file interface runs by default.
    pub fn default_binary(self) -> Option<&'static str> {
        match self {
            SolverKind::Highs => None,
            SolverKind::Cbc => Some("cbc"),
            SolverKind::Glpk => Some("glpsol"),
            SolverKind::Gurobi => Some("gurobi_cl"),
            SolverKind::Cplex => Some("cplex"),
        }
    }

    /// How to get the backend's binary.
    pub fn install_hint(self) -> &'static str {
        match self {
            SolverKind::Highs => "it is built in",
            SolverKind::Cbc => "Debian/Ubuntu: apt-get install coinor-cbc",
            SolverKind::Glpk => "Debian/Ubuntu: apt-get install glpk-utils",
            SolverKind::Gurobi => "from gurobi.com, with a licence",
            SolverKind::Cplex => "IBM ILOG CPLEX Optimization Studio",
        }
    }
}

impl std::fmt::Display for SolverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            SolverKind::Highs => "highs",
            SolverKind::Cbc => "cbc",
            SolverKind::Glpk => "glpk",
            SolverKind::Gurobi => "gurobi",
            SolverKind::Cplex => "cplex",
        };
        f.write_str(name)
    }
}

/// Everything passed through to a solver.
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SolverConfig {
    #[serde(default, rename = "name")]
    pub kind: SolverKind,
    /// Seconds per solve.
    #[serde(default)]
    pub time_limit: Option<f64>,
    #[serde(default)]
    pub threads: Option<u32>,
    /// Relative MIP gap.
    #[serde(default)]
    pub mip_gap: Option<f64>,
    /// Path of the solver executable (file interfaces).
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// Directory where every model is written in LP format before it is solved.
    #[serde(default)]
    pub keep_model: Option<PathBuf>,
    /// Options passed through to the backend by name (`--solver-option KEY=VALUE`).
    #[serde(default)]
    pub options: BTreeMap<String, OptionValue>,
    /// What a failed solve does to the exit code (the bound falls back to the symbolic one).
    #[serde(default)]
    pub fallback: Fallback,
}

/// The value of a pass-through option, as YAML gives it (a flag gives text).
#[derive(Clone, Debug, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum OptionValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl std::fmt::Display for OptionValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionValue::Bool(b) => write!(f, "{b}"),
            OptionValue::Int(i) => write!(f, "{i}"),
            OptionValue::Float(x) => write!(f, "{x}"),
            OptionValue::Text(t) => f.write_str(t),
        }
    }
}

/// What a solver fault (crash, kill at the time limit, unreadable answer) does to the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    /// Symbolic bounds for the faulty solves and a non-zero exit code (3) at the end.
    #[default]
    Fail,
    /// Symbolic bounds for the faulty solves, reported on stderr, and exit code 0.
    Symbolic,
}

/// Parses `KEY=VALUE` (a solver option from the command line).
pub fn parse_option(s: &str) -> std::result::Result<(String, OptionValue), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("'{s}': write a solver option as KEY=VALUE"))?;
    let opt = (k.to_string(), OptionValue::Text(v.to_string()));
    check_option(&opt.0, &opt.1).map(|_| opt)
}

/// A key is letters, digits, `_`, `.`, `-`; a value has no blank or control character.
fn check_option(k: &str, v: &OptionValue) -> std::result::Result<(), String> {
    let key_ok = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let text = v.to_string();
    if !key_ok {
        return Err(format!("solver option '{k}': a key is letters, digits, '_', '.' or '-'"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("solver option {k}='{text}': a value has no blank or control character"));
    }
    Ok(())
}

impl SolverConfig {
    /// Rejects malformed options (from a spec: the command line checks its own as it parses).
    pub fn check_options(&self) -> Result<()> {
        self.options.iter().try_for_each(|(k, v)| check_option(k, v)).map_err(Error::Input)
    }
}

impl SolverConfig {
    /// Rejects settings that cannot mean anything: a time limit that is not a finite number
    /// > 0, a MIP gap that is not a finite number ≥ 0, zero threads.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::Input(m));
        if let Some(t) = self.time_limit.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return bad(format!("time limit {t}: give a finite number of seconds > 0"));
        }
        if let Some(g) = self.mip_gap.filter(|g| !(g.is_finite() && *g >= 0.0)) {
            return bad(format!("MIP gap {g}: give a finite number ≥ 0"));
        }
        if self.threads == Some(0) {
            return bad("threads: give at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_from_yaml_maps_and_key_value_flags_and_bad_ones_are_rejected() {
        let cfg: SolverConfig = serde_saphyr::from_str(
            "name: cbc\noptions:\n  presolve: \"off\"\n  threads: 2\n  ratio: 0.5\nfallback: symbolic\n",
        )
        .unwrap();
        let text: Vec<String> = cfg.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(text, ["presolve=off", "ratio=0.5", "threads=2"]);
        assert_eq!(cfg.fallback, Fallback::Symbolic);
        assert!(cfg.check_options().is_ok());
        assert_eq!(parse_option("mip.tolerances.mipgap=0.01").unwrap().0, "mip.tolerances.mipgap");
        for bad in ["novalue", "=1", "a b=1", "k=a b", "k=a\tb"] {
            assert!(parse_option(bad).is_err(), "{bad}");
        }
        let bad: SolverConfig = serde_saphyr::from_str("options:\n  \"x;rm\": 1\n").unwrap();
        assert!(bad.check_options().is_err());
    }
}
