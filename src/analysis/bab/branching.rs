//! Which unstable ReLU a node splits on: the widest triangle relaxation, or a BaBSR-style score
//! (the triangle's height times the objective's back-substituted coefficient on the neuron).

use serde::{Deserialize, Serialize};

use super::{Neuron, Problem};
use crate::bounds::symbolic::{backsubstitute_to, Forms};
use crate::bounds::NetworkBounds;
use crate::ir::Layer;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Branching {
    /// Largest `u·(−l)/(u−l)`: the height of the triangle relaxation.
    Widest,
    /// The height times how much the objective's symbolic lower bound depends on the neuron
    /// (its coefficient on the ReLU's output; an upper line, used for a negative one, costs the
    /// whole height).
    #[default]
    Babsr,
}

/// Height of the triangle relaxation of an unstable ReLU on `[l, u]` (0 when stable).
fn height(l: f64, u: f64) -> f64 {
    if l < 0.0 && u > 0.0 {
        u * -l / (u - l)
    } else {
        0.0
    }
}

impl Branching {
    /// The unstable neuron with the best score under `bounds`, if any is left; BaBSR scores
    /// follow `focus` (the objective's output coefficients per network) or else the problem's.
    pub fn choose(self, problem: &Problem, focus: Option<&[Vec<f64>]>, bounds: &[NetworkBounds]) -> Option<Neuron> {
        let coefficients = match self {
            Branching::Widest => None,
            Branching::Babsr => Some(relu_coefficients(problem, focus.unwrap_or(&problem.coefficients), bounds)),
        };
        let mut best: Option<(f64, Neuron)> = None;
        for (k, net) in problem.nets.iter().enumerate() {
            let from = problem.shared_with_first(k); // ReLU layers before it are the first's
            for r in from.max(1)..net.layers.len() {
                if !matches!(net.layers[r].layer, Layer::Relu) {
                    continue;
                }
                let pre = &bounds[k].layers[r - 1];
                for (i, (&l, &u)) in pre.lower.iter().zip(&pre.upper).enumerate() {
                    let h = height(l, u);
                    if h <= 0.0 {
                        continue;
                    }
                    let score = match &coefficients {
                        None => h,
                        Some(c) => {
                            let lam = c[k][r][i];
                            // a small share of the height keeps the choice among unscored neurons sensible
                            h * ((-lam).max(0.0) + 0.25 * lam.max(0.0) + 1e-6)
                        }
                    };
                    if best.is_none_or(|(s, _)| score > s) {
                        best = Some((score, (k, r, i)));
                    }
                }
            }
        }
        best.map(|(_, n)| n)
    }
}

/// `c[k][r][i]`: the coefficient of the objective's symbolic lower bound on the output of ReLU
/// layer `r`'s neuron `i` in network `k` (empty for other layers). Layers a network shares with
/// the first are credited to the first.
fn relu_coefficients(problem: &Problem, outputs: &[Vec<f64>], bounds: &[NetworkBounds]) -> Vec<Vec<Vec<f64>>> {
    let mut all: Vec<Vec<Vec<f64>>> = Vec::with_capacity(problem.nets.len());
    for (k, net) in problem.nets.iter().enumerate() {
        let n = net.layers.len();
        let mut per_layer = vec![Vec::new(); n];
        let coeffs = &outputs[k];
        if coeffs.iter().all(|&c| c == 0.0) {
            all.push(per_layer);
            continue;
        }
        let mut f = Forms { cols: coeffs.len(), coeffs: coeffs.clone(), constant: vec![0.0], error: vec![0.0] };
        for pos in (1..=n).rev() {
            if matches!(net.layers[pos - 1].layer, Layer::Relu) {
                per_layer[pos - 1] = f.coeffs.clone();
            }
            f = backsubstitute_to(net, &bounds[k], pos, pos - 1, f);
        }
        all.push(per_layer);
    }
    for k in 1..all.len() {
        let shared = problem.shared_with_first(k);
        for r in 0..shared.min(all[k].len()) {
            if all[k][r].is_empty() {
                continue;
            }
            let extra = std::mem::take(&mut all[k][r]);
            if all[0][r].is_empty() {
                all[0][r] = extra;
            } else {
                all[0][r].iter_mut().zip(extra).for_each(|(a, b)| *a += b);
            }
        }
    }
    all
}
