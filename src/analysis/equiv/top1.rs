//! Top-1 agreement of two networks over a region: proved by certified margins of the centre's
//! class in both networks, refuted by a checked input where their argmax differs.
//!
//! argmax is the lowest index among the maxima; a tie anywhere in the region leaves a margin
//! at 0, which does not prove agreement (the proof needs every margin > 0).

use serde::Serialize;

use super::optimise_all;
use crate::analysis::falsify;
use crate::analysis::lrom::LromConfig;
use crate::analysis::objective::{Extremum, OutputObjective, Region};
use crate::data::argmax;
use crate::error::Result;
use crate::solve::Sense;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Top1Status {
    /// Both networks' argmax is the centre's class on the whole region (or they compute the
    /// same function there: every difference is certified to be 0).
    Proved,
    /// A checked input where the argmaxes differ.
    Differs,
    Unknown,
}

/// A checked input where the two networks' argmaxes differ (IR, confirmed by tract's argmax).
#[derive(Clone, Debug, Serialize)]
pub struct Disagreement {
    pub input: Vec<f64>,
    pub classes: [usize; 2],
}

#[derive(Clone, Debug, Serialize)]
pub struct Top1 {
    pub status: Top1Status,
    /// A's argmax at the centre.
    pub class: usize,
    /// Per network, the smallest certified lower bound of `N[class] − N[j]` over the region.
    pub min_margins: Option<[f64; 2]>,
    pub disagreement: Option<Disagreement>,
    pub note: Option<String>,
}

/// Decides top-1 agreement on `joint`'s region; `identical` says every output difference is
/// certified to be exactly 0 (the networks compute the same function there).
pub fn decide(joint: &Region, identical: bool, cfg: &LromConfig) -> Result<Top1> {
    let nets = joint.nets;
    let class = argmax(&nets[0].forward(joint.anchor)?);
    let mut top = Top1 { status: Top1Status::Proved, class, min_margins: None, disagreement: None, note: None };
    if identical {
        top.note = Some("every output difference is certified to be 0".into());
        return Ok(top);
    }
    let m = nets[0].output_size();
    let others: Vec<usize> = (0..m).filter(|&j| j != class).collect();
    let margin = |k: usize, j: usize| OutputObjective { terms: vec![(1.0, k, class), (-1.0, k, j)], constant: 0.0 };
    let items: Vec<(OutputObjective, Sense)> =
        (0..2).flat_map(|k| others.iter().map(move |&j| (margin(k, j), Sense::Minimise))).collect();
    // the LP only for the margins that their symbolic bound does not prove positive
    let mut extrema: Vec<Extremum> = items.iter().map(|(obj, sense)| joint.optimise(obj, *sense, None)).collect();
    let open: Vec<usize> = (0..items.len()).filter(|&k| extrema[k].certified() <= 0.0).collect();
    let chosen: Vec<(OutputObjective, Sense)> = open.iter().map(|&k| items[k].clone()).collect();
    for (&k, e) in open.iter().zip(optimise_all(joint, &chosen, cfg)) {
        extrema[k] = e;
    }
    let mins = [0, 1].map(|k| {
        extrema[k * others.len()..][..others.len()].iter().map(|e| e.certified()).fold(f64::INFINITY, f64::min)
    });
    top.min_margins = Some(mins);
    if mins.iter().all(|&v| v > 0.0) {
        return Ok(top);
    }
    let mut candidates: Vec<Vec<f64>> = vec![joint.anchor.to_vec()];
    candidates.extend(extrema.iter().map(|e| e.witness.clone()));
    for (n, e) in extrema.iter().enumerate() {
        if e.certified() <= 0.0 {
            candidates.push(falsify_pair(joint, class, others[n % others.len()], n / others.len())?);
        }
    }
    for x in &candidates {
        if let Some(d) = disagreement(joint, x) {
            top.status = Top1Status::Differs;
            top.disagreement = Some(d);
            return Ok(top);
        }
    }
    top.status = Top1Status::Unknown;
    top.note = Some(format!(
        "a certified margin of class {class} is ≤ 0 (A {:.3e}, B {:.3e}) and no checked input with another argmax was found",
        mins[0], mins[1]
    ));
    Ok(top)
}

/// The argmaxes at `x` if they differ, through the IR and confirmed by tract's argmax.
fn disagreement(joint: &Region, x: &[f64]) -> Option<Disagreement> {
    let mut classes = [0; 2];
    for (k, class) in classes.iter_mut().enumerate() {
        *class = argmax(&joint.nets[k].forward(x).ok()?);
        if argmax(&joint.runners[k].run(x).ok()?) != *class {
            return None;
        }
    }
    (classes[0] != classes[1]).then(|| Disagreement { input: x.to_vec(), classes })
}

/// The falsifier's point where network `k` most prefers `j` over `class` while the other one
/// still prefers `class`: it minimises `max(N_k[class] − N_k[j], N_o[j] − N_o[class])`.
fn falsify_pair(joint: &Region, class: usize, j: usize, k: usize) -> Result<Vec<f64>> {
    let (nets, o) = (joint.nets, 1 - k);
    let mut coeffs = vec![0.0; nets[0].output_size()];
    let mut failure = None;
    let probe = |p: &[f64]| -> Option<(f64, Vec<f64>)> {
        let mut run = || -> Result<(f64, Vec<f64>)> {
            let (a, b) = (nets[k].forward(p)?, nets[o].forward(p)?);
            let (first, second) = (a[class] - a[j], b[j] - b[class]);
            let (net, sign) = if first >= second { (k, 1.0) } else { (o, -1.0) };
            (coeffs[class], coeffs[j]) = (sign, -sign);
            Ok((first.max(second), nets[net].gradient(p, &coeffs)?))
        };
        run().map_err(|e| failure = Some(e)).ok()
    };
    let best = falsify::descend(&joint.bounds[0].input, joint.anchor, falsify::STEPS, probe, |_, _| false);
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(best.map_or_else(|| joint.anchor.to_vec(), |b| b.0))
}
