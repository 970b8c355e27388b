//! Solver backends chosen by configuration: embedded HiGHS (the default, nothing to install) and
//! LP-file interfaces to CBC, GLPK, Gurobi and CPLEX; plus dual-based certification.
//!
//! A backend only proposes numbers. `certify` turns row duals (from any backend) into a rigorous
//! bound on the very model that was solved; witnesses are re-executed by the analyses. A missing
//! binary, a crash, an unreadable answer, infeasibility or a time-out is an error or
//! `Status::Unknown`, never a bound; faults are also recorded in `faults` for the exit code.

mod answer;
mod cbc;
pub mod certify;
mod child;
mod config;
mod cplex;
mod embedded;
mod external;
pub mod faults;
mod glpk;
mod gurobi;
mod lpfile;

pub use config::{parse_option, Fallback, OptionValue, SolverConfig, SolverKind};
pub use embedded::{Basis, Session as EmbeddedSession};

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
    /// Why an optimal LP answer carries no usable duals, when it does not.
    pub note: Option<String>,
    pub seconds: f64,
}

/// An LP/MILP loaded once and solved for many objectives (the embedded solver re-solves from
/// the previous basis; file interfaces run the binary once per objective).
pub struct Session<'a> {
    lp: &'a LinearProgram,
    cfg: &'a SolverConfig,
    embedded: Option<embedded::Session>,
}

impl<'a> Session<'a> {
    /// `warm`: many objectives will follow, each re-solved from the previous basis.
    pub fn new(lp: &'a LinearProgram, cfg: &'a SolverConfig, warm: bool) -> Result<Session<'a>> {
        let embedded = match cfg.kind {
            SolverKind::Highs => Some(embedded::Session::new(lp, cfg, warm)?),
            _ => None,
        };
        Ok(Session { lp, cfg, embedded })
    }

    /// A session around a model already loaded into HiGHS (`lp` must be the model it holds).
    pub fn adopt(lp: &'a LinearProgram, cfg: &'a SolverConfig, loaded: embedded::Session) -> Session<'a> {
        Session { lp, cfg, embedded: Some(loaded) }
    }

    /// The loaded HiGHS model, to re-solve after in-place changes (none for the file interfaces
    /// or after a failed solve).
    pub fn into_embedded(self) -> Option<embedded::Session> {
        self.embedded.filter(embedded::Session::usable)
    }

    /// The simplex basis of the last solve (the embedded solver only).
    pub fn basis(&mut self) -> Option<Basis> {
        self.embedded.as_mut().and_then(embedded::Session::basis)
    }

    /// The solver settings this session runs with.
    pub fn config(&self) -> &'a SolverConfig {
        self.cfg
    }

    /// Whether the backend takes a start point: the file interfaces (CBC, GLPK, …) do not.
    pub fn takes_start(&self) -> bool {
        self.embedded.is_some()
    }

    /// Offers a feasible point (a value for every variable) as the MILP's first incumbent;
    /// `false` when the backend takes none.
    pub fn set_start(&mut self, primal: &[f64]) -> bool {
        match &mut self.embedded {
            Some(session) => {
                session.set_start(primal);
                true
            }
            None => false,
        }
    }

    /// Solves for one objective with the configured backend.
    pub fn solve(&mut self, objective: &LinExpr, sense: Sense) -> Result<Solution> {
        if let Some(dir) = &self.cfg.keep_model {
            lpfile::keep(dir, self.lp, objective, sense)?;
        }
        let start = Instant::now();
        let mut sol = match &mut self.embedded {
            Some(session) => session.solve(objective, sense)?,
            None => external::solve(self.lp, objective, sense, self.cfg)?,
        };
        sol.seconds = start.elapsed().as_secs_f64();
        if sol.primal.len() != self.lp.vars.len() || sol.primal.iter().any(|v| !v.is_finite()) {
            return Err(Error::Solver(format!(
                "{}: the solution does not assign every variable a finite value",
                self.cfg.kind
            )));
        }
        Ok(sol)
    }
}

/// Fails with a clear message when the configured backend cannot run (a missing binary, an option
/// it rejects), so that every command stops before any work instead of falling back.
pub fn check_available(cfg: &SolverConfig) -> Result<()> {
    cfg.check_options()?;
    match cfg.kind {
        SolverKind::Highs => embedded::check_options(cfg),
        _ => external::binary(cfg).map(drop),
    }
}

/// A value for every variable of `lp` with `vars` fixed at `values` (clamped into their bounds),
/// the others found by the embedded solver: a start point for a MILP. `None` if there is none.
pub fn complete_point(lp: &LinearProgram, vars: &[usize], values: &[f64], objective: &LinExpr) -> Option<Vec<f64>> {
    let mut fixed = lp.clone();
    for (&v, &x) in vars.iter().zip(values) {
        let var = &mut fixed.vars[v];
        let x = x.clamp(var.lower, var.upper);
        (var.lower, var.upper) = (x, x);
    }
    solve(&fixed, objective, Sense::Minimise, &SolverConfig::default()).ok().map(|s| s.primal)
}

/// Solves `lp` for one objective with the configured backend.
pub fn solve(lp: &LinearProgram, objective: &LinExpr, sense: Sense, cfg: &SolverConfig) -> Result<Solution> {
    Session::new(lp, cfg, false)?.solve(objective, sense)
}
