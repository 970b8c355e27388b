//! The embedded default backend: HiGHS, linked in through the `highs` crate. A `Session` keeps
//! one HiGHS model per LP and re-solves it for each new objective from the previous basis.

use std::sync::OnceLock;
use std::time::Instant;

use highs::{HighsModelStatus, HighsSolutionStatus, Model, RowProblem, Sense as HSense};
use highs_sys::HighsInt;

use super::{OptionValue, Sense, Solution, SolverConfig, Status};
use crate::encode::{LinExpr, LinearProgram, RowKind};
use crate::error::{Error, Result};

/// A simplex basis as HiGHS states it (a status per column and per row), to start a later solve
/// of a model of the same shape from.
#[derive(Clone, Debug, PartialEq)]
pub struct Basis {
    cols: Vec<HighsInt>,
    rows: Vec<HighsInt>,
}

/// HiGHS's default `small_matrix_value`: matrix entries at or below it are ignored.
const SMALL_MATRIX_VALUE: f64 = 1e-9;

/// One LP/MILP loaded into HiGHS, ready to be solved for many objectives.
pub struct Session {
    model: Option<Model>,
    cols: Vec<highs::Col>,
    costs: Vec<f64>,
    integer: bool,
    time_limit: Option<f64>,
    spent: f64,
    start: Option<Vec<f64>>,
}

impl Session {
    /// `warm`: the model is small and will be re-solved for many objectives: presolve is switched
    /// off, as it then costs more than it saves (on large models with equality rows it is needed).
    pub fn new(lp: &LinearProgram, cfg: &SolverConfig, warm: bool) -> Result<Session> {
        let mut p = RowProblem::default();
        let cols: Vec<highs::Col> =
            lp.vars.iter().map(|v| p.add_column_with_integrality(0.0, v.lower..=v.upper, v.integer)).collect();
        for r in &lp.rows {
            // HiGHS ignores |coefficient| ≤ its small_matrix_value (10⁻⁹) with a warning, on
            // every model built from small weights: left out here, the LP it solves is the same
            // and certification (on our own rows) still sees every coefficient
            let terms = r.coeffs.iter().filter(|&&(_, c)| c.abs() > SMALL_MATRIX_VALUE).map(|&(v, c)| (cols[v], c));
            match r.kind {
                RowKind::Ge => p.add_row(r.rhs.., terms),
                RowKind::Le => p.add_row(..=r.rhs, terms),
                RowKind::Eq => p.add_row(r.rhs..=r.rhs, terms),
            }
        }
        let err = |what: &str| Error::Solver(format!("highs: {what}"));
        let mut model = p.try_optimise(HSense::Minimise).map_err(|e| err(&format!("cannot load the model ({e:?})")))?;
        model.make_quiet();
        if warm {
            model.try_set_option("presolve", "off").map_err(|_| err("cannot switch presolve off"))?;
        }
        model.try_set_option("threads", scheduler_threads(cfg)).map_err(|_| err("invalid thread count"))?;
        if lp.integer_count() == 0 {
            // serial dual simplex: an LP's answer must not depend on the thread count
            model.try_set_option("parallel", "off").map_err(|_| err("cannot switch parallel simplex off"))?;
        }
        if let Some(g) = cfg.mip_gap {
            model.try_set_option("mip_rel_gap", g).map_err(|_| err("invalid MIP gap"))?;
        }
        set_options(&mut model, cfg)?;
        Ok(Session {
            model: Some(model),
            costs: vec![0.0; cols.len()],
            cols,
            integer: lp.integer_count() > 0,
            time_limit: cfg.time_limit,
            spent: 0.0,
            start: None,
        })
    }

    /// Hands HiGHS a feasible point (every variable) as the incumbent of the next MILP solve.
    /// It is passed just before that solve: changing the objective discards a solution.
    pub fn set_start(&mut self, primal: &[f64]) {
        self.start = Some(primal.to_vec());
    }

    /// Whether a model is loaded (not after a failed solve).
    pub fn usable(&self) -> bool {
        self.model.is_some()
    }

    /// The loaded model, for an in-place change (none after a failed solve).
    fn loaded(&mut self) -> Result<&mut Model> {
        self.model.as_mut().ok_or_else(|| Error::Solver("highs: an earlier solve failed".into()))
    }

    /// Changes variable `col`'s bounds in the loaded model (the basis is kept).
    pub fn set_var_bounds(&mut self, col: usize, lower: f64, upper: f64) -> Result<()> {
        let m = self.loaded()?;
        // SAFETY: the pointer is the live HiGHS instance the model owns; an index out of range
        // is refused by HiGHS with an error status
        let status = unsafe { highs_sys::Highs_changeColBounds(m.as_mut_ptr(), index(col)?, lower, upper) };
        checked(status, "cannot change a column's bounds")
    }

    /// Changes the coefficient of variable `col` in row `row` of the loaded model.
    pub fn set_coefficient(&mut self, row: usize, col: usize, value: f64) -> Result<()> {
        let m = self.loaded()?;
        // SAFETY: as in `set_var_bounds`
        let status = unsafe { highs_sys::Highs_changeCoeff(m.as_mut_ptr(), index(row)?, index(col)?, value) };
        checked(status, "cannot change a coefficient")
    }

    /// Changes row `row`'s bounds in the loaded model (±∞ for a missing side).
    pub fn set_row_bounds(&mut self, row: usize, lower: f64, upper: f64) -> Result<()> {
        let m = self.loaded()?;
        // SAFETY: as in `set_var_bounds`
        let status = unsafe { highs_sys::Highs_changeRowBounds(m.as_mut_ptr(), index(row)?, lower, upper) };
        checked(status, "cannot change a row's bounds")
    }

    /// The basis of the last solve, if HiGHS has one.
    pub fn basis(&mut self) -> Option<Basis> {
        let m = self.model.as_mut()?;
        let mut basis = Basis { cols: vec![0; m.num_cols()], rows: vec![0; m.num_rows()] };
        // SAFETY: the arrays have one entry per column and per row of this model, as HiGHS writes
        let status = unsafe { highs_sys::Highs_getBasis(m.as_ptr(), basis.cols.as_mut_ptr(), basis.rows.as_mut_ptr()) };
        (status == highs_sys::STATUS_OK).then_some(basis)
    }

    /// Starts the next solve from `basis` (of a model of this shape).
    pub fn set_basis(&mut self, basis: &Basis) -> Result<()> {
        let m = self.loaded()?;
        if basis.cols.len() != m.num_cols() || basis.rows.len() != m.num_rows() {
            return Err(Error::Solver("highs: a basis of another model's shape".into()));
        }
        // SAFETY: the arrays match the model's column and row counts (checked above)
        let status = unsafe { highs_sys::Highs_setBasis(m.as_mut_ptr(), basis.cols.as_ptr(), basis.rows.as_ptr()) };
        checked(status, "cannot take the basis")
    }

    /// Solves for one objective, starting from the previous solve's basis.
    pub fn solve(&mut self, objective: &LinExpr, sense: Sense) -> Result<Solution> {
        let mut model = self.model.take().ok_or_else(|| Error::Solver("highs: an earlier solve failed".into()))?;
        let mut costs = vec![0.0; self.cols.len()];
        for &(v, c) in &objective.terms {
            costs[v] += c;
        }
        for (j, (&old, &new)) in self.costs.iter().zip(&costs).enumerate() {
            if old != new {
                model.change_column_cost(self.cols[j], new);
            }
        }
        self.costs = costs;
        model.set_sense(if sense == Sense::Minimise { HSense::Minimise } else { HSense::Maximise });
        if let Some(t) = self.time_limit {
            // HiGHS's clock runs across re-solves of one model: give each solve its own limit
            model
                .try_set_option("time_limit", self.spent + t)
                .map_err(|_| Error::Solver("highs: invalid time limit".into()))?;
        }
        if let Some(p) = self.start.take() {
            model
                .try_set_solution(Some(&p), None, None, None)
                .map_err(|e| Error::Solver(format!("highs: cannot take the start point ({e:?})")))?;
        }
        let start = Instant::now();
        let solved = model.try_solve().map_err(|e| Error::Solver(format!("highs: solve failed ({e:?})")))?;
        self.spent += start.elapsed().as_secs_f64();
        let status = match solved.status() {
            HighsModelStatus::Optimal => Status::Optimal,
            HighsModelStatus::Infeasible => {
                return Err(Error::Solver(
                    "highs: the model is infeasible (the region or property admits no input)".into(),
                ))
            }
            HighsModelStatus::Unbounded | HighsModelStatus::UnboundedOrInfeasible => {
                return Err(Error::Solver("highs: the model is unbounded or infeasible".into()))
            }
            HighsModelStatus::ReachedTimeLimit => Status::Unknown("time limit reached".into()),
            other => Status::Unknown(format!("highs stopped with status {other:?}")),
        };
        if solved.primal_solution_status() != HighsSolutionStatus::Feasible {
            return Err(Error::Solver(format!("highs: no feasible point ({})", describe(&status))));
        }
        let sol = solved.get_solution();
        let primal = sol.columns().to_vec();
        let row_duals = (!self.integer && status == Status::Optimal).then(|| sol.dual_rows().to_vec());
        self.model = Some(Model::from(solved));
        Ok(Solution { objective: objective.eval(&primal), status, primal, row_duals, note: None, seconds: 0.0 })
    }
}

/// HiGHS runs every instance of a process on one global scheduler, sized by the first solve; an
/// instance asking for another size fails, and leaving the size to HiGHS (0) made the first
/// analysis of a process differ from the next ones. So the first configured count (1 unless
/// `threads` is given) is kept for the whole process and passed to every instance.
fn scheduler_threads(cfg: &SolverConfig) -> i32 {
    static THREADS: OnceLock<i32> = OnceLock::new();
    *THREADS.get_or_init(|| cfg.threads.map_or(1, |n| n.clamp(1, i32::MAX as u32) as i32))
}

/// Sets the pass-through options by name, each as the first type HiGHS accepts for it
/// (bool, integer, real, text).
fn set_options(model: &mut Model, cfg: &SolverConfig) -> Result<()> {
    cfg.check_options()?; // HiGHS's bindings panic on a NUL byte in a name or value
    for (k, v) in &cfg.options {
        let text = v.to_string();
        let accepted = match v {
            OptionValue::Bool(b) => model.try_set_option(k.as_str(), *b).is_ok(),
            _ => {
                text.parse::<bool>().is_ok_and(|b| model.try_set_option(k.as_str(), b).is_ok())
                    || text.parse::<i32>().is_ok_and(|i| model.try_set_option(k.as_str(), i).is_ok())
                    || text.parse::<f64>().is_ok_and(|x| model.try_set_option(k.as_str(), x).is_ok())
                    || model.try_set_option(k.as_str(), text.as_str()).is_ok()
            }
        };
        if !accepted {
            return Err(Error::Input(format!("highs rejects the option {k}={text} (unknown name or invalid value)")));
        }
    }
    Ok(())
}

/// Checks the pass-through options on an empty model, before any work.
pub fn check_options(cfg: &SolverConfig) -> Result<()> {
    let mut model = RowProblem::default()
        .try_optimise(HSense::Minimise)
        .map_err(|e| Error::Solver(format!("highs: cannot create a model ({e:?})")))?;
    model.make_quiet();
    set_options(&mut model, cfg)
}

/// A column or row index as HiGHS's integer type.
fn index(i: usize) -> Result<HighsInt> {
    HighsInt::try_from(i).map_err(|_| Error::Solver(format!("highs: index {i} out of range")))
}

/// An error unless HiGHS answered OK (a warning counts as an error here: the change is not
/// known to have been made as asked).
fn checked(status: HighsInt, what: &str) -> Result<()> {
    match status == highs_sys::STATUS_OK {
        true => Ok(()),
        false => Err(Error::Solver(format!("highs: {what} (status {status})"))),
    }
}

fn describe(s: &Status) -> String {
    match s {
        Status::Optimal => "optimal".into(),
        Status::Unknown(why) => why.clone(),
    }
}
