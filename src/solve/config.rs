//! Solver configuration shared by the YAML `solver:` block and the command-line flags.

use std::path::PathBuf;

/// Which solver runs the LPs and MILPs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, serde::Serialize)]
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
