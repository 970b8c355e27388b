//! Batch runs: every selected sample × radius × ordered network pair, one unit at a time;
//! samples a network misclassifies are skipped unless asked for (as the papers do).

use serde::{Deserialize, Serialize};

use super::lrom::{analyse, LromConfig, RegionResult};
use crate::bounds::InputMap;
use crate::data::correctly_classified;
use crate::data::Sample;
use crate::error::Result;
use crate::ir::Network;
use crate::onnx::TractRunner;

/// One region of a batch and what came of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub sample: usize,
    pub label: usize,
    pub delta: f64,
    pub n1: usize,
    pub n2: usize,
    /// `None` when the sample was skipped (misclassified by N1 or N2).
    pub result: Option<RegionResult>,
}

/// What to run.
pub struct Batch<'a> {
    pub nets: &'a [&'a Network],
    pub runners: &'a [TractRunner],
    pub pairs: &'a [(usize, usize)],
    pub samples: &'a [Sample],
    pub deltas: &'a [f64],
    /// Pixel rows → network inputs, pixel-space regions → network boxes.
    pub map: &'a InputMap,
    pub include_misclassified: bool,
    pub config: &'a LromConfig,
}

impl Batch<'_> {
    pub fn len(&self) -> usize {
        self.pairs.len() * self.samples.len() * self.deltas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Unit `i` of the batch as (pair, sample, radius) positions: pairs outermost, radii innermost.
    fn position(&self, i: usize) -> (usize, usize, usize) {
        let (ns, nd) = (self.samples.len(), self.deltas.len());
        (i / (ns * nd), (i / nd) % ns, i % nd)
    }

    /// The key of every unit, in the batch's order: which pair, sample and radius it is.
    pub fn keys(&self) -> Vec<String> {
        (0..self.len())
            .map(|i| {
                let (p, s, d) = self.position(i);
                let (a, b) = self.pairs[p];
                format!("n1={a} n2={b} sample={} delta={}", self.samples[s].index, self.deltas[d])
            })
            .collect()
    }

    /// Runs unit `i` (see [`Batch::keys`]).
    pub fn run_one(&self, i: usize) -> Result<Outcome> {
        let (p, s, d) = self.position(i);
        let ((a, b), s, delta) = (self.pairs[p], &self.samples[s], self.deltas[d]);
        let nets = [self.nets[a], self.nets[b]];
        let keep = self.include_misclassified || correctly_classified(&nets, &s.features, s.label)?;
        let result = if keep {
            let runners = [self.runners[a].clone(), self.runners[b].clone()];
            Some(analyse(nets, &runners, &s.features, s.label, delta, self.map, self.config)?)
        } else {
            None
        };
        Ok(Outcome { sample: s.index, label: s.label, delta, n1: a, n2: b, result })
    }

    /// Runs every unit in order.
    pub fn run(&self) -> Result<Vec<Outcome>> {
        (0..self.len()).map(|i| self.run_one(i)).collect()
    }
}
