//! External solvers (CBC, GLPK, Gurobi, CPLEX): the model is written as an LP file in a scratch
//! directory, the binary runs as a child killed past its time limit, and our own readers take the
//! status, the point and (for an LP) the row duals, matched to the model's rows by name.
//!
//! Every fault (missing binary, crash, kill, missing or unreadable file) is an error recorded in
//! `faults`; a missing or unusable dual section only costs the certificate (a note, a fault).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::answer::{by_name, FileAnswer, FileStatus};
use super::child::{self, Ended};
use super::{cbc, cplex, faults, glpk, gurobi, lpfile, Sense, Solution, SolverConfig, SolverKind, Status};
use crate::encode::{LinExpr, LinearProgram};
use crate::error::{Error, Result};

/// The solver executable `cfg` names, if it can be found (an absolute path: the child runs in
/// a scratch directory).
pub fn binary(cfg: &SolverConfig) -> Result<PathBuf> {
    let binary = match (&cfg.path, cfg.kind.default_binary()) {
        (Some(p), _) => p.to_string_lossy().into_owned(),
        (None, Some(b)) => b.to_string(),
        (None, None) => return Err(Error::Solver(format!("{}: not an external solver", cfg.kind))),
    };
    match which(&binary) {
        Some(p) => std::path::absolute(&p).map_err(|e| Error::read(p, e)),
        None => Err(Error::Solver(format!(
            "{}: solver binary '{binary}' not found (install it — {} — put it on PATH or give its path with --solver-path)",
            cfg.kind,
            cfg.kind.install_hint()
        ))),
    }
}

/// A fault of `cfg`'s backend: recorded, and an error carrying the note.
fn fault(cfg: &SolverConfig, what: &str, detail: &str) -> Error {
    Error::Solver(faults::record(&format!("{} {what}", cfg.kind), detail, cfg.fallback))
}

static RUNS: AtomicUsize = AtomicUsize::new(0);

pub fn solve(lp: &LinearProgram, objective: &LinExpr, sense: Sense, cfg: &SolverConfig) -> Result<Solution> {
    let binary = binary(cfg).map_err(|e| fault(cfg, "is missing", &e.to_string()))?;
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("twinverify-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::create(&dir, e))?;
    let result = run_in(&dir, &binary, lp, objective, sense, cfg);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(
    dir: &Path,
    binary: &Path,
    lp: &LinearProgram,
    objective: &LinExpr,
    sense: Sense,
    cfg: &SolverConfig,
) -> Result<Solution> {
    let model = Path::new("model.lp");
    std::fs::write(dir.join(model), lpfile::lp_format(lp, objective, sense)).map_err(|e| Error::write(dir, e))?;
    let args: Vec<OsString> = match cfg.kind {
        SolverKind::Cbc => cbc::arguments(cfg, model),
        SolverKind::Glpk => glpk::arguments(cfg, model),
        SolverKind::Gurobi => gurobi::arguments(cfg, model).map_err(Error::Input)?,
        SolverKind::Cplex => cplex::arguments(cfg, model),
        SolverKind::Highs => return Err(Error::Solver("highs is not an external solver".into())),
    };
    match child::run(binary, &args, dir, cfg.time_limit) {
        Err(e) => return Err(fault(cfg, "could not be started", &format!("{}: {e}", binary.display()))),
        Ok(Ended::Killed) => {
            let limit = cfg.time_limit.unwrap_or(0.0);
            let detail =
                format!("still running {:.1} s after its time limit of {limit} s", child::grace(limit).as_secs_f64());
            return Err(fault(cfg, "killed at the time limit", &detail));
        }
        Ok(Ended::Exited(Some(0))) => {}
        Ok(Ended::Exited(code)) => {
            let how = code.map_or("ended by a signal".to_string(), |c| format!("exit code {c}"));
            return Err(fault(cfg, "crashed", &format!("{how}: {}", child::output_tail(dir))));
        }
    }
    let file = |name: &str| -> Result<String> {
        let bytes = std::fs::read(dir.join(name))
            .map_err(|_| fault(cfg, "wrote no solution", &format!("no {name}: {}", child::output_tail(dir))))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let answer = match cfg.kind {
        SolverKind::Cbc => cbc::read(&file(cbc::SOLUTION)?, std::fs::read(dir.join(cbc::BINARY)).ok().as_deref()),
        SolverKind::Glpk => glpk::read(&file(glpk::SOLUTION)?, &file(glpk::REPORT)?),
        SolverKind::Gurobi => gurobi::read(&file(gurobi::SOLUTION)?),
        _ => cplex::read(&file(cplex::SOLUTION)?),
    }
    .map_err(|e| fault(cfg, "wrote an unreadable solution", &e))?;
    solution(answer, lp, objective, cfg)
}

/// Our solution from a file's answer: the status, the point by column name and, for an optimal
/// LP, the row duals by row name (else a note and a fault: the bound falls back).
fn solution(answer: FileAnswer, lp: &LinearProgram, objective: &LinExpr, cfg: &SolverConfig) -> Result<Solution> {
    let kind = cfg.kind;
    let status = match answer.status {
        FileStatus::Optimal => Status::Optimal,
        FileStatus::Stopped(why) => Status::Unknown(why),
        FileStatus::Infeasible => return Err(Error::Solver(format!("{kind}: the model is infeasible"))),
        FileStatus::Unbounded => return Err(Error::Solver(format!("{kind}: the model is unbounded"))),
        FileStatus::NoSolution(why) => return Err(fault(cfg, "found no solution", &why)),
    };
    let primal = by_name(&answer.columns, 'x', lp.vars.len(), &[])
        .map_err(|e| fault(cfg, "wrote an incomplete solution", &format!("columns: {e}")))?;
    let (mut row_duals, mut note) = (None, None);
    if lp.integer_count() == 0 && status == Status::Optimal {
        match answer.rows.and_then(|r| by_name(&r, 'r', lp.rows.len(), &["obj"])) {
            Ok(d) => row_duals = Some(d),
            Err(e) => {
                let f = faults::record(&format!("{kind} gave no usable duals"), &e, cfg.fallback);
                note = Some(format!("{f}: no dual certificate"));
            }
        }
    }
    Ok(Solution { status, objective: objective.eval(&primal), primal, row_duals, note, seconds: 0.0 })
}

/// The path of an executable: as given when it contains a slash, else searched on PATH.
pub fn which(binary: &str) -> Option<PathBuf> {
    let p = Path::new(binary);
    if binary.contains('/') {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(binary)).find(|c| c.is_file()))
}
