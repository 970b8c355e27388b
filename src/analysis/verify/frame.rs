//! One relaxed model for a whole ReLU branch and bound over a box (embedded HiGHS): built on the
//! root's bounds, re-bounded in place for each node and re-solved from its parent's basis.
//!
//! A node's bounds lie inside the root's, so the root's model holds every node's relaxation once
//! each unstable ReLU's triangle is re-bounded (`LinearProgram::rebound_relu`); our copy of the
//! model is changed with the solver's, and certification reads our copy.

use super::search::{violation, BoxResult, Context, Goal};
use super::Item;
use crate::bounds::{Interval, NetworkBounds};
use crate::encode::{JointModel, LinExpr, Mode};
use crate::error::{Error, Result};
use crate::ir::Layer;
use crate::solve::{Basis, EmbeddedSession, Sense, Solution, SolverKind};

pub struct Frame {
    model: JointModel,
    /// Each disjunct's objective (its largest violation).
    objectives: Vec<LinExpr>,
    /// The model loaded into HiGHS (none after a failed solve: reloaded from our copy).
    session: Option<EmbeddedSession>,
}

impl Frame {
    /// The frame of `root` on `bounds` for `disjuncts`, when it applies: the embedded solver
    /// with no model files kept, items refuted as they are (not float-sound), networks of
    /// affine and ReLU layers on shared inputs.
    pub fn new(ctx: &Context, root: &Interval, bounds: &[NetworkBounds], disjuncts: &[Vec<Item>]) -> Option<Frame> {
        let nets = ctx.checker.nets;
        let plain = nets.iter().all(|n| n.layers.iter().all(|l| !matches!(l.layer, Layer::MaxPool(_))));
        let solver = ctx.solver;
        if solver.kind != SolverKind::Highs
            || solver.keep_model.is_some()
            || ctx.float_sound()
            || !plain
            || !ctx.shares_layers(root)
        {
            return None;
        }
        let mut model = ctx.encode(root, bounds, Mode::Relaxed);
        let objectives = disjuncts.iter().map(|items| violation(&mut model, root, bounds, items)).collect();
        Some(Frame { model, objectives, session: None })
    }

    /// Re-bounds every triangle for a node's `bounds`: our copy always in full (it alone is
    /// certified), then the loaded model, which is dropped if a change fails.
    fn rebound(&mut self, bounds: &[NetworkBounds]) {
        let changes: Vec<(usize, usize, f64, f64, f64)> = self
            .model
            .relus
            .iter()
            .map(|r| {
                let pre = bounds[r.net].position(r.layer);
                let (u, c, rhs) = self.model.lp.rebound_relu(r, pre.lower[r.neuron], pre.upper[r.neuron]);
                (r.y, r.row, u, c, rhs)
            })
            .collect();
        let Some(s) = &mut self.session else { return };
        let pushed = changes.iter().try_for_each(|&(y, row, u, c, rhs)| {
            s.set_var_bounds(y, 0.0, u)?;
            s.set_coefficient(row, y, c)?;
            s.set_row_bounds(row, f64::NEG_INFINITY, rhs)
        });
        if let Err(e) = pushed {
            log::debug!("re-bounding the loaded model failed ({e}); reloading it");
            self.session = None;
        }
    }

    /// Decides the disjuncts `open` (indices into `disjuncts`, in the order solved) on a node's
    /// `bounds`, the first solve starting from `basis`; also returns the basis after the first.
    pub fn solve_node(
        &mut self,
        ctx: &Context,
        root: &Interval,
        bounds: &[NetworkBounds],
        disjuncts: &[Vec<Item>],
        open: &[usize],
        basis: Option<&Basis>,
    ) -> Result<(Vec<BoxResult>, Option<Basis>)> {
        self.rebound(bounds);
        let session = match &mut self.session {
            Some(s) => s,
            None => self.session.insert(EmbeddedSession::new(&self.model.lp, ctx.solver, true)?),
        };
        if let Some(b) = basis {
            // a basis HiGHS refuses only costs the warm start
            let _ = session.set_basis(b);
        }
        let goals: Vec<Goal> =
            open.iter().map(|&k| (disjuncts[k].as_slice(), disjuncts[k].as_slice(), &self.objectives[k])).collect();
        let mut first_basis = None;
        let vars = self.model.lp.vars.len();
        let slot = &mut self.session;
        let results = ctx.decide_each(root, &self.model, &goals, Mode::Relaxed, |objective| {
            let s = slot.as_mut().ok_or_else(|| Error::Solver("highs: an earlier solve failed".into()))?;
            let solved = s.solve(objective, Sense::Minimise).and_then(|sol| finite(sol, vars));
            if solved.is_err() {
                *slot = None;
            } else if first_basis.is_none() {
                first_basis = Some(s.basis());
            }
            solved
        });
        Ok((results, first_basis.flatten()))
    }
}

/// The solution if it assigns every one of `vars` variables a finite value.
fn finite(sol: Solution, vars: usize) -> Result<Solution> {
    match sol.primal.len() == vars && sol.primal.iter().all(|v| v.is_finite()) {
        true => Ok(sol),
        false => Err(Error::Solver("highs: the solution does not assign every variable a finite value".into())),
    }
}
