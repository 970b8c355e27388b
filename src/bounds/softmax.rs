//! Sound bounds of softmax: each output's range over the input box, rounded outward; the LP adds
//! that every group sums to 1.

use super::curve::REL;
use super::Interval;
use crate::ir::Softmax;

/// `Σ_j e^(d_j)` rounded up (`up`) or down, for differences `d_j` already rounded that way.
fn exp_sum(d: impl Iterator<Item = f64>, up: bool) -> f64 {
    d.map(|v| {
        let e = v.exp();
        if up {
            (e * (1.0 + REL)).next_up()
        } else {
            (e * (1.0 - REL)).next_down().max(0.0)
        }
    })
    .fold(0.0, |s, e| if up { (s + e).next_up() } else { (s + e).next_down().max(0.0) })
}

/// The box of the outputs: `y_i = 1 / (1 + Σ_{j≠i} e^(x_j − x_i))` is smallest where the others
/// are at their upper and `x_i` at its lower bound, largest the other way round.
pub fn interval(s: &Softmax, x: &Interval) -> Interval {
    // entries in no group pass through
    let (mut lower, mut upper) = (x.lower.clone(), x.upper.clone());
    for g in &s.groups {
        for &i in g {
            let others = || g.iter().filter(move |&&j| j != i);
            let most = exp_sum(others().map(|&j| (x.upper[j] - x.lower[i]).next_up()), true);
            let least = exp_sum(others().map(|&j| (x.lower[j] - x.upper[i]).next_down()), false);
            lower[i] = (1.0 / (1.0 + most).next_up()).next_down().max(0.0);
            upper[i] = (1.0 / (1.0 + least).next_down()).next_up().min(1.0);
        }
    }
    Interval { lower, upper }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Boxes of every width: sampled points' softmax lies inside, and a point box is enclosed
    /// within a few ulps; entry 5, in no group, keeps its input box.
    #[test]
    fn the_box_holds_every_sampled_point() {
        let s = Softmax { groups: vec![vec![0, 2, 4], vec![1, 3]] };
        let mut seed = 11u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for width in [0.0, 1e-6, 0.1, 2.0, 30.0, 900.0] {
            let c: Vec<f64> = (0..6).map(|_| (next() - 0.5) * 20.0).collect();
            let b =
                Interval { lower: c.iter().map(|v| v - width).collect(), upper: c.iter().map(|v| v + width).collect() };
            let out = interval(&s, &b);
            assert_eq!((out.lower[5], out.upper[5]), (b.lower[5], b.upper[5]));
            for _ in 0..2000 {
                let x: Vec<f64> = (0..6).map(|i| b.lower[i] + (b.upper[i] - b.lower[i]) * next()).collect();
                let y = s.apply(&x);
                for i in 0..6 {
                    assert!(out.lower[i] <= y[i] && y[i] <= out.upper[i], "width {width} entry {i}: {y:?} vs {out:?}");
                }
            }
            if width == 0.0 {
                let y = s.apply(&c);
                assert!((0..6).all(|i| out.upper[i] - out.lower[i] <= 1e-12 * y[i].abs()));
            }
        }
    }
}
