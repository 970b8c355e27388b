//! Solver backends chosen by configuration: embedded HiGHS (the default, nothing to install) and
//! the lp-solvers file interfaces to CBC, GLPK, Gurobi and CPLEX; plus dual-based certification.
//!
//! A backend only proposes numbers. `certify` turns row duals into a rigorous bound on the very
//! model that was solved; witnesses are re-executed by the analyses. A missing binary, a crash,
//! an unreadable answer, infeasibility or a time-out is an error or `Status::Unknown`, never a bound.

pub mod certify;
mod config;
mod embedded;
mod external;
mod glpk;
mod lpfile;

pub use config::{SolverConfig, SolverKind};

use std::time::Instant;

use crate::encode::{LinExpr, LinearProgram};
use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sense {
    Minimise,
    Maximise,
}

/// What the solver reported.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Proven optimal (for a MILP: within the configured gap).
    Optimal,
    /// Stopped early (time limit or similar) with a feasible point.
    Unknown(String),
}

/// A solver's answer: the objective it claims, its point and (when available) row duals.
#[derive(Clone, Debug)]
pub struct Solution {
    pub status: Status,
    pub objective: f64,
    pub primal: Vec<f64>,
    pub row_duals: Option<Vec<f64>>,
    pub seconds: f64,
}

/// Solves `lp` for one objective with the configured backend.
pub fn solve(lp: &LinearProgram, objective: &LinExpr, sense: Sense, cfg: &SolverConfig) -> Result<Solution> {
    if let Some(dir) = &cfg.keep_model {
        lpfile::keep(dir, lp, objective, sense)?;
    }
    let start = Instant::now();
    let mut sol = match cfg.kind {
        SolverKind::Highs => embedded::solve(lp, objective, sense, cfg)?,
        _ => external::solve(lp, objective, sense, cfg)?,
    };
    sol.seconds = start.elapsed().as_secs_f64();
    if sol.primal.len() != lp.vars.len() || sol.primal.iter().any(|v| !v.is_finite()) {
        return Err(Error::Solver(format!("{}: the solution does not assign every variable a finite value", cfg.kind)));
    }
    Ok(sol)
}
