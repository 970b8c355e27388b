//! The disjuncts of a ReLU branch and bound over one box on one re-bounded model
//! (`analysis::bab::Frame`): each node is decided from its parent's basis.

use super::search::{violation, BoxResult, Context, Goal};
use super::Item;
use crate::analysis::bab::Frame;
use crate::bounds::{Interval, NetworkBounds};
use crate::encode::{LinExpr, Mode};
use crate::error::Result;
use crate::solve::{Basis, Sense, Session};

pub struct DisjunctFrame {
    frame: Frame,
    /// Each disjunct's objective (its largest violation).
    objectives: Vec<LinExpr>,
}

impl DisjunctFrame {
    /// The frame of `root` on `bounds` for `disjuncts`, when one applies (`Frame::applies`, items
    /// refuted as they are rather than float-sound, networks on shared inputs).
    pub fn new(ctx: &Context, root: &Interval, bounds: &[NetworkBounds], disjuncts: &[Vec<Item>]) -> Option<Self> {
        if !Frame::applies(ctx.checker.nets, ctx.solver) || ctx.float_sound() || !ctx.shares_layers(root) {
            return None;
        }
        let mut model = ctx.encode(root, bounds, Mode::Relaxed);
        let objectives = disjuncts.iter().map(|items| violation(&mut model, root, bounds, items)).collect();
        Some(DisjunctFrame { frame: Frame::new(model), objectives })
    }

    /// The difference bounds its model couples two twins on (`JointModel::coupling`).
    pub fn coupling(&self) -> Option<&[Interval]> {
        self.frame.model.coupling.as_deref()
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
        self.frame.rebound(bounds);
        let loaded = self.frame.load(ctx.solver, basis)?;
        let model = &self.frame.model;
        let mut session = Session::adopt(&model.lp, ctx.solver, loaded);
        let goals: Vec<Goal> =
            open.iter().map(|&k| (disjuncts[k].as_slice(), disjuncts[k].as_slice(), &self.objectives[k])).collect();
        let mut first_basis = None;
        let results = ctx.decide_each(root, model, &goals, Mode::Relaxed, |objective| {
            let solved = session.solve(objective, Sense::Minimise);
            if solved.is_ok() && first_basis.is_none() {
                first_basis = session.basis();
            }
            solved
        });
        let loaded = session.into_embedded();
        self.frame.restore(loaded);
        Ok((results, first_basis))
    }
}
