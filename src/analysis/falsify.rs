//! The one falsifier of every analysis: projected sign-gradient descent over a box, through the
//! IR's backward pass (`Network::gradient`), on whatever value the analysis wants below zero.
//!
//! Its points are only candidates: callers re-execute them through the IR and tract before one
//! counts as a counterexample. It proves nothing; it only narrows searches from above.

use crate::bounds::Interval;
use crate::error::Result;
use crate::ir::Network;

/// Sign-gradient steps per margin and radius in the boundary and resilience searches.
pub const STEPS: usize = 40;

/// Descends from `start` (inside `b`) for `steps` steps: each coordinate moves against the sign
/// of its gradient by `rate·width`, the rate falling linearly from 0.26 to 0.01 of the box's
/// width in that coordinate, and is projected back on `b`. `probe` gives the value at a point
/// and its gradient (`None` ends the search); `stop` sees every point probed with its value and
/// ends the search by returning true. Returns the point with the lowest value seen.
pub fn descend(
    b: &Interval,
    start: &[f64],
    steps: usize,
    mut probe: impl FnMut(&[f64]) -> Option<(f64, Vec<f64>)>,
    mut stop: impl FnMut(&[f64], f64) -> bool,
) -> Option<(Vec<f64>, f64)> {
    let width: Vec<f64> = (0..b.len()).map(|g| b.upper[g] - b.lower[g]).collect();
    let mut x = start.to_vec();
    let mut best: Option<(Vec<f64>, f64)> = None;
    for step in 0..=steps {
        let (value, grad) = probe(&x)?;
        if best.as_ref().is_none_or(|b| value < b.1) {
            best = Some((x.clone(), value));
        }
        if stop(&x, value) || step == steps {
            break;
        }
        let rate = 0.25 * (1.0 - step as f64 / steps as f64) + 0.01;
        for g in 0..x.len() {
            if grad[g] != 0.0 {
                x[g] = (x[g] - grad[g].signum() * rate * width[g]).clamp(b.lower[g], b.upper[g]);
            }
        }
    }
    best
}

/// The point of `ball` (which contains `x`) with the lowest `max_{j ∈ targets} N[label] − N[j]`
/// found by `steps` steps of `descend` from `x`, each on the worst target there, and that value.
pub fn minimise_margin(
    net: &Network,
    x: &[f64],
    ball: &Interval,
    label: usize,
    targets: &[usize],
    steps: usize,
) -> Result<(Vec<f64>, f64)> {
    let mut failure = None;
    let mut probe = |p: &[f64]| -> Option<(f64, Vec<f64>)> {
        let run = || -> Result<Option<(f64, Vec<f64>)>> {
            let o = net.forward(p)?;
            let Some((value, j)) = targets.iter().map(|&j| (o[label] - o[j], j)).max_by(|a, b| a.0.total_cmp(&b.0))
            else {
                return Ok(None);
            };
            let mut coeffs = vec![0.0; net.output_size()];
            (coeffs[label], coeffs[j]) = (1.0, -1.0);
            Ok(Some((value, net.gradient(p, &coeffs)?)))
        };
        run().unwrap_or_else(|e| {
            failure = Some(e);
            None
        })
    };
    let best = descend(ball, x, steps, &mut probe, |_, _| false);
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(best.unwrap_or_else(|| (x.to_vec(), f64::INFINITY)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{Affine, Layer, LayerNode, SparseMatrix};

    fn net() -> Network {
        let affine = |rows: Vec<Vec<f64>>, bias: Vec<f64>| LayerNode {
            output_shape: vec![1, rows.len()],
            layer: Layer::Affine(Affine {
                weights: SparseMatrix::from_dense(rows.len(), rows[0].len(), &rows.concat()),
                bias,
            }),
            origin: vec![],
        };
        Network {
            name: "t".into(),
            input_shape: vec![1, 2],
            layers: vec![
                affine(vec![vec![1.0, -2.0], vec![0.5, 1.5], vec![-1.0, 0.3]], vec![0.1, -0.2, 0.4]),
                LayerNode { layer: Layer::Relu, output_shape: vec![1, 3], origin: vec![] },
                affine(vec![vec![1.0, 2.0, -1.0], vec![-0.5, 0.25, 3.0]], vec![0.0, 0.0]),
            ],
            notes: vec![],
        }
    }

    /// `y = relu(W x + b)` then `V y`: the gradient against finite differences.
    #[test]
    fn gradient_matches_finite_differences() {
        let net = net();
        let x = [0.35, 0.1]; // no ReLU at its kink
        let g = net.gradient(&x, &[1.0, -1.0]).unwrap();
        let f = |p: &[f64]| net.forward(p).map(|o| o[0] - o[1]).unwrap();
        for i in 0..2 {
            let mut p = x;
            p[i] += 1e-6;
            assert!(((f(&p) - f(&x)) / 1e-6 - g[i]).abs() < 1e-6, "{i}: {g:?}");
        }
    }

    /// The descent finds the grid minimum of a margin over a box (to the grid's resolution), and
    /// its point stays in the box and has the value it reports.
    #[test]
    fn descent_reaches_the_grid_minimum() {
        let net = net();
        let ball = Interval { lower: vec![-1.0, -1.0], upper: vec![1.0, 1.0] };
        let margin = |p: &[f64]| net.forward(p).map(|o| o[0] - o[1]).unwrap();
        let (p, v) = minimise_margin(&net, &[0.0, 0.0], &ball, 0, &[1], STEPS).unwrap();
        assert!(ball.contains(&p) && (margin(&p) - v).abs() < 1e-12, "{p:?} {v}");
        let grid = (0..=100)
            .flat_map(|i| (0..=100).map(move |k| [-1.0 + 0.02 * i as f64, -1.0 + 0.02 * k as f64]))
            .map(|q| margin(&q))
            .fold(f64::INFINITY, f64::min);
        assert!(v <= grid + 0.05, "descent {v} vs grid {grid}");
    }
}
