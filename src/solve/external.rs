//! External solvers through the lp-solvers file interfaces (CBC, GLPK, Gurobi, CPLEX): the model
//! is written as an LP file, the binary runs, and its solution file is read back.
//!
//! These interfaces return no duals and only f32 values: their answers are never certified by
//! themselves (the analyses fall back to a provable bound and re-execute every witness).
//! good_lp's bridge reports every answer as optimal, so the status the solution file gives
//! ("Stopped on time", a feasible but non-optimal point) is kept by a wrapper of our own.

use std::sync::{Arc, Mutex};

use good_lp::solvers::lp_solvers::{
    CbcSolver, GlpkSolver, GurobiSolver, LpSolver, SolverTrait, Status as FileStatus, WithMaxSeconds, WithMipGap,
    WithNbThreads,
};
use good_lp::{ResolutionError, Solution as _, SolverModel};
use lp_solvers::lp_format::LpProblem;

use super::glpk::Glpk;
use super::{lpfile::to_good_lp, Sense, Solution, SolverConfig, SolverKind, Status};
use crate::encode::{LinExpr, LinearProgram};
use crate::error::{Error, Result};

/// The solver executable `cfg` names, if it can be found.
pub fn binary(cfg: &SolverConfig) -> Result<String> {
    let binary = match &cfg.path {
        Some(p) => p.to_string_lossy().into_owned(),
        None => cfg.kind.default_binary().expect("external kinds have a binary").to_string(),
    };
    match which(&binary) {
        Some(_) => Ok(binary),
        None => Err(Error::Solver(format!(
            "{}: solver binary '{binary}' not found (install it, put it on PATH or give its path with --solver-path)",
            cfg.kind
        ))),
    }
}

pub fn solve(lp: &LinearProgram, objective: &LinExpr, sense: Sense, cfg: &SolverConfig) -> Result<Solution> {
    let binary = binary(cfg)?;
    let secs = cfg.time_limit.map(|t| t.ceil().max(1.0) as u32);
    let gap = cfg.mip_gap.map(|g| g as f32);
    match cfg.kind {
        SolverKind::Cbc => {
            let mut s = CbcSolver::new().command_name(binary);
            s = apply(s, secs, gap, cfg.kind)?;
            if let Some(t) = cfg.threads {
                s = s.with_nb_threads(t);
            }
            run(LpSolver(s), lp, objective, sense, cfg.kind)
        }
        SolverKind::Glpk => {
            let s = apply(Glpk(GlpkSolver::new().command_name(binary)), secs, gap, cfg.kind)?;
            run(LpSolver(s), lp, objective, sense, cfg.kind)
        }
        SolverKind::Gurobi => {
            let mut s = GurobiSolver::new().command_name(binary);
            s = apply(s, secs, gap, cfg.kind)?;
            run(LpSolver(s), lp, objective, sense, cfg.kind)
        }
        SolverKind::Cplex => {
            run(LpSolver(good_lp::solvers::lp_solvers::Cplex::with_command(binary)), lp, objective, sense, cfg.kind)
        }
        SolverKind::Highs => unreachable!("the embedded solver is not an external one"),
    }
}

fn apply<S: WithMaxSeconds<S> + WithMipGap<S>>(
    s: S,
    secs: Option<u32>,
    gap: Option<f32>,
    kind: SolverKind,
) -> Result<S> {
    let s = match secs {
        Some(t) => s.with_max_seconds(t),
        None => s,
    };
    match gap {
        Some(g) => s.with_mip_gap(g).map_err(|e| Error::Solver(format!("{kind}: invalid MIP gap {g}: {e}"))),
        None => Ok(s),
    }
}

/// A file-interface solver that remembers the status of its last solution file.
#[derive(Clone)]
struct Tracked<T> {
    inner: T,
    status: Arc<Mutex<Option<FileStatus>>>,
}

impl<T: SolverTrait> SolverTrait for Tracked<T> {
    fn run<'a, P: LpProblem<'a>>(&self, problem: &'a P) -> std::result::Result<lp_solvers::solvers::Solution, String> {
        let solution = self.inner.run(problem)?;
        if let Ok(mut s) = self.status.lock() {
            *s = Some(solution.status.clone());
        }
        Ok(solution)
    }
}

fn run<T: SolverTrait + Clone>(
    solver: LpSolver<T>,
    lp: &LinearProgram,
    objective: &LinExpr,
    sense: Sense,
    kind: SolverKind,
) -> Result<Solution> {
    let (problem, vars, constraints) = to_good_lp(lp, objective, sense);
    let status = Arc::new(Mutex::new(None));
    let mut model = problem.using(LpSolver(Tracked { inner: solver.0, status: status.clone() }));
    for c in constraints {
        model.add_constraint(c);
    }
    let solved = match model.solve() {
        Ok(s) => s,
        Err(ResolutionError::Infeasible) => return Err(Error::Solver(format!("{kind}: the model is infeasible"))),
        Err(ResolutionError::Unbounded) => return Err(Error::Solver(format!("{kind}: the model is unbounded"))),
        Err(e) => return Err(Error::Solver(format!("{kind}: {e}"))),
    };
    let status = match status.lock().ok().and_then(|s| s.clone()) {
        Some(FileStatus::Optimal | FileStatus::MipGap) => Status::Optimal,
        Some(FileStatus::TimeLimit) => Status::Unknown("time limit reached".into()),
        Some(other) => Status::Unknown(format!("{kind} stopped early ({other:?}): time limit or similar")),
        None => Status::Unknown(format!("{kind} gave no status")),
    };
    let primal: Vec<f64> = vars.iter().map(|&v| solved.value(v)).collect();
    Ok(Solution { status, objective: objective.eval(&primal), primal, row_duals: None, seconds: 0.0 })
}

/// The path of an executable: as given when it contains a slash, else searched on PATH.
pub fn which(binary: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(binary);
    if binary.contains('/') {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(binary)).find(|c| c.is_file()))
}
