//! The embedded default backend: HiGHS linked in through good_lp (LP and MILP, row duals).

use good_lp::solvers::highs::highs;
use good_lp::{ResolutionError, Solution as _, SolutionStatus, SolverModel, WithMipGap};

use super::{lpfile::to_good_lp, Sense, Solution, SolverConfig, Status};
use crate::encode::{LinExpr, LinearProgram};
use crate::error::{Error, Result};

pub fn solve(lp: &LinearProgram, objective: &LinExpr, sense: Sense, cfg: &SolverConfig) -> Result<Solution> {
    let (problem, vars, constraints) = to_good_lp(lp, objective, sense);
    let mut model = problem.using(highs);
    model.set_verbose(false);
    if let Some(t) = cfg.time_limit {
        model = model.set_time_limit(t);
    }
    if let Some(n) = cfg.threads {
        model = model.set_threads(n);
    }
    if let Some(g) = cfg.mip_gap {
        model = model.with_mip_gap(g as f32).map_err(|e| Error::Solver(format!("highs: invalid MIP gap {g}: {e}")))?;
    }
    for c in constraints {
        model.add_constraint(c);
    }
    let solved = match model.solve() {
        Ok(s) => s,
        Err(ResolutionError::Infeasible) => {
            return Err(Error::Solver("highs: the model is infeasible (the region or property admits no input)".into()))
        }
        Err(ResolutionError::Unbounded) => return Err(Error::Solver("highs: the model is unbounded".into())),
        Err(e) => return Err(Error::Solver(format!("highs: {e}"))),
    };
    let status = match solved.status() {
        SolutionStatus::Optimal => Status::Optimal,
        SolutionStatus::GapLimit => Status::Optimal,
        SolutionStatus::TimeLimit => Status::Unknown("time limit reached".into()),
    };
    let primal: Vec<f64> = vars.iter().map(|&v| solved.value(v)).collect();
    let raw = solved.into_inner();
    let objective_value = objective.eval(&primal);
    let row_duals = (lp.integer_count() == 0 && status == Status::Optimal).then(|| raw.dual_rows().to_vec());
    Ok(Solution { status, objective: objective_value, primal, row_duals, seconds: 0.0 })
}
