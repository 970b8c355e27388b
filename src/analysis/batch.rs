//! Batch runs: every selected sample × radius × ordered network pair, with progress reporting;
//! samples a network misclassifies are skipped unless asked for (as the papers do).

use serde::Serialize;

use super::lrom::{analyse, LromConfig, RegionResult};
use crate::bounds::InputMap;
use crate::data::correctly_classified;
use crate::data::Sample;
use crate::error::Result;
use crate::ir::Network;
use crate::onnx::TractRunner;

/// One region of a batch and what came of it.
#[derive(Clone, Debug, Serialize)]
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

    /// Runs every region in order, calling `progress` after each one.
    pub fn run(&self, mut progress: impl FnMut(&Outcome)) -> Result<Vec<Outcome>> {
        let mut out = Vec::with_capacity(self.len());
        for &(a, b) in self.pairs {
            let nets = [self.nets[a], self.nets[b]];
            let runners = [self.runners[a].clone(), self.runners[b].clone()];
            for s in self.samples {
                let keep = self.include_misclassified || correctly_classified(&nets, &s.features, s.label)?;
                for &delta in self.deltas {
                    let result = if keep {
                        Some(analyse(nets, &runners, &s.features, s.label, delta, self.map, self.config)?)
                    } else {
                        None
                    };
                    let o = Outcome { sample: s.index, label: s.label, delta, n1: a, n2: b, result };
                    progress(&o);
                    out.push(o);
                }
            }
        }
        Ok(out)
    }
}
