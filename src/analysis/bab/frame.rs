//! One relaxed model for a whole ReLU branch and bound (embedded HiGHS): built on the root's
//! bounds, re-bounded in place for each node and re-solved from its parent's basis.
//!
//! A node's bounds lie inside the root's, so the root's model holds every node's relaxation once
//! each unstable ReLU's triangle is re-bounded (`LinearProgram::rebound_relu`); our copy of the
//! model changes with the solver's, and certification reads our copy.

use crate::bounds::NetworkBounds;
use crate::encode::JointModel;
use crate::error::Result;
use crate::ir::{Layer, Network};
use crate::solve::{Basis, EmbeddedSession, SolverConfig, SolverKind};

pub struct Frame {
    /// The root's relaxed model (built by `JointModel::build`), as re-bounded for the last node.
    pub model: JointModel,
    /// The model loaded into HiGHS (none after a failed solve or change: reloaded from our copy).
    loaded: Option<EmbeddedSession>,
}

impl Frame {
    /// Whether a frame serves these networks and solver: the embedded solver with no model files
    /// kept, and no max-pool (its encoding depends on the bounds beyond the ReLU triangles).
    pub fn applies(nets: &[&Network], solver: &SolverConfig) -> bool {
        let pooled = nets.iter().any(|n| n.layers.iter().any(|l| matches!(l.layer, Layer::MaxPool(_))));
        solver.kind == SolverKind::Highs && solver.keep_model.is_none() && !pooled
    }

    pub fn new(model: JointModel) -> Frame {
        Frame { model, loaded: None }
    }

    /// Re-bounds every triangle for a node's `bounds`: our copy always in full (it alone is
    /// certified), then the loaded model, which is dropped if a change fails.
    pub fn rebound(&mut self, bounds: &[NetworkBounds]) {
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
        let Some(s) = &mut self.loaded else { return };
        let pushed = changes.iter().try_for_each(|&(y, row, u, c, rhs)| {
            s.set_var_bounds(y, 0.0, u)?;
            s.set_coefficient(row, y, c)?;
            s.set_row_bounds(row, f64::NEG_INFINITY, rhs)
        });
        if let Err(e) = pushed {
            log::debug!("re-bounding the loaded model failed ({e}); reloading it");
            self.loaded = None;
        }
    }

    /// The model as it stands, loaded (or reloaded) into HiGHS and starting from `basis` (a
    /// basis HiGHS refuses only costs the warm start): wrap it with `Session::adopt(&model.lp,
    /// ...)` and hand it back with `restore`.
    pub fn load(&mut self, cfg: &SolverConfig, basis: Option<&Basis>) -> Result<EmbeddedSession> {
        let mut loaded = match self.loaded.take() {
            Some(s) => s,
            None => EmbeddedSession::new(&self.model.lp, cfg, true)?,
        };
        if let Some(b) = basis {
            let _ = loaded.set_basis(b);
        }
        Ok(loaded)
    }

    /// Takes back the loaded model (none if a solve failed).
    pub fn restore(&mut self, loaded: Option<EmbeddedSession>) {
        self.loaded = loaded;
    }
}
