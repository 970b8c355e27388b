//! A cheap falsifier for the boundary search: projected sign-gradient descent on one margin over
//! an L∞ ball clipped to the domain, through the IR's backward pass (`Network::gradient`).
//!
//! Its points are only candidates: the caller re-executes them through the IR and tract before
//! one counts as a counterexample. It proves nothing and only narrows the search from above.

use crate::bounds::Interval;
use crate::error::Result;
use crate::ir::Network;

/// The point of `ball` (which contains `x`) with the lowest `max_{j ∈ targets} N[label] − N[j]`
/// found by `steps` sign-gradient steps from `x` on the worst target of each step (step
/// `width/4`, halved every quarter of the steps), and that value.
pub fn minimise_margin(
    net: &Network,
    x: &[f64],
    ball: &Interval,
    label: usize,
    targets: &[usize],
    steps: usize,
) -> Result<(Vec<f64>, f64)> {
    // the worst target's margin and the target
    let worst = |p: &[f64]| -> Result<(f64, usize)> {
        let o = net.forward(p)?;
        let m = targets.iter().map(|&j| (o[label] - o[j], j)).max_by(|a, b| a.0.total_cmp(&b.0));
        Ok(m.unwrap_or((f64::INFINITY, label)))
    };
    let width = (0..x.len()).map(|i| ball.upper[i] - ball.lower[i]).fold(0.0, f64::max);
    let mut p = x.to_vec();
    let mut current = worst(&p)?;
    let mut best = (p.clone(), current.0);
    let mut step = width / 4.0;
    for k in 0..steps {
        if k > 0 && k % (steps / 4).max(1) == 0 {
            step /= 2.0;
        }
        let mut coeffs = vec![0.0; net.output_size()];
        (coeffs[label], coeffs[current.1]) = (1.0, -1.0);
        let g = net.gradient(&p, &coeffs)?;
        for (i, v) in p.iter_mut().enumerate() {
            if g[i] != 0.0 {
                *v = (*v - step * g[i].signum()).clamp(ball.lower[i], ball.upper[i]);
            }
        }
        current = worst(&p)?;
        if current.0 < best.1 {
            best = (p.clone(), current.0);
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Layer;
    use crate::ir::{Affine, LayerNode, SparseMatrix};

    /// `y = relu(W x + b)` then `V y`: the gradient against finite differences.
    #[test]
    fn gradient_matches_finite_differences() {
        let affine = |rows: Vec<Vec<f64>>, bias: Vec<f64>| LayerNode {
            output_shape: vec![1, rows.len()],
            layer: Layer::Affine(Affine {
                weights: SparseMatrix::from_dense(rows.len(), rows[0].len(), &rows.concat()),
                bias,
            }),
            origin: vec![],
        };
        let net = Network {
            name: "t".into(),
            input_shape: vec![1, 2],
            layers: vec![
                affine(vec![vec![1.0, -2.0], vec![0.5, 1.5], vec![-1.0, 0.3]], vec![0.1, -0.2, 0.4]),
                LayerNode { layer: Layer::Relu, output_shape: vec![1, 3], origin: vec![] },
                affine(vec![vec![1.0, 2.0, -1.0], vec![-0.5, 0.25, 3.0]], vec![0.0, 0.0]),
            ],
            notes: vec![],
        };
        let x = [0.35, 0.1]; // no ReLU at its kink
        let g = net.gradient(&x, &[1.0, -1.0]).unwrap();
        let f = |p: &[f64]| net.forward(p).map(|o| o[0] - o[1]).unwrap();
        for i in 0..2 {
            let mut p = x;
            p[i] += 1e-6;
            assert!(((f(&p) - f(&x)) / 1e-6 - g[i]).abs() < 1e-6, "{i}: {g:?}");
        }
    }
}
