//! Sound bounds of S-shaped activations (Sigmoid, Tanh): rigorous enclosures of their values
//! and, on a pre-activation interval, a lower and an upper line valid in exact arithmetic.
//!
//! The functions are evaluated by the platform's `exp`, `tanh` and `cosh` (within a few ulps);
//! every value and line is widened by a margin far above those errors (`REL`, `margin`).

use super::Interval;
use crate::ir::SShaped;

const U: f64 = 1.1102230246251565e-16; // 2^-53
/// Relative error allowed for one evaluation of a value or slope (libm: ≤ 2 ulps; σ adds 3
/// roundings): 64 u.
const REL: f64 = 64.0 * U;

/// `lower ≤ f(x) ≤ upper` for the true `f`.
pub fn enclose(f: SShaped, x: f64) -> (f64, f64) {
    let v = f.value(x);
    let d = REL * v.abs() + 1e-300;
    let (lo, hi) = f.range();
    ((v - d).next_down().max(lo), (v + d).next_up().min(hi))
}

/// The box of the layer's output given the box of its input (the functions increase).
pub fn interval(f: SShaped, x: &Interval) -> Interval {
    Interval {
        lower: x.lower.iter().map(|&l| enclose(f, l).0).collect(),
        upper: x.upper.iter().map(|&u| enclose(f, u).1).collect(),
    }
}

/// `lower ≤ f'(ξ) ≤ upper` for every `ξ ∈ [l, u]` (`f'` rises to its peak at 0, then falls).
pub fn slope_range(f: SShaped, l: f64, u: f64) -> (f64, f64) {
    let peak = f.slope(0.0f64.clamp(l, u));
    let least = f.slope(l).min(f.slope(u));
    ((least * (1.0 - REL)).next_down().max(0.0), (peak * (1.0 + REL)).next_up())
}

/// A line `y = slope·z + intercept`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    pub slope: f64,
    pub intercept: f64,
}

impl Line {
    /// Through `(a, f(a))` with `slope`.
    fn through(f: SShaped, a: f64, slope: f64) -> Line {
        Line { slope, intercept: f.value(a) - slope * a }
    }

    /// The line moved down (`by < 0`) or up by `|by|`, rounded further that way.
    fn shifted(self, by: f64) -> Line {
        let moved = self.intercept + by;
        Line { intercept: if by < 0.0 { moved.next_down() } else { moved.next_up() }, ..self }
    }
}

/// Lines below and above `f` on `[l, u]` (finite, `l ≤ u`): `lower(z) ≤ f(z) ≤ upper(z)` for
/// every real `z` in `[l, u]`, in exact arithmetic.
///
/// Below: the tangent at the midpoint where `f` is convex (`u ≤ 0`), the chord where it is
/// concave (`l ≥ 0`), else the line through `(l, f(l))` with slope `min(f'(l), chord)`: under
/// the tangent at `l` on the convex part, at or under `f` at 0 and at `u`, so under the concave
/// part's chord. Above: the mirror image. Each line is then moved outward by `margin`, which
/// covers the evaluation errors of `f`, `f'` and the line's own arithmetic.
pub fn lines(f: SShaped, l: f64, u: f64) -> (Line, Line) {
    if l >= u {
        let (lo, hi) = (enclose(f, l).0, enclose(f, u).1);
        return (Line { slope: 0.0, intercept: lo }, Line { slope: 0.0, intercept: hi });
    }
    let chord = (f.value(u) - f.value(l)) / (u - l);
    let m = 0.5 * l + 0.5 * u;
    let tangent = Line::through(f, m, f.slope(m));
    let lower = match () {
        _ if u <= 0.0 => tangent,
        _ if l >= 0.0 => Line::through(f, l, chord),
        _ => Line::through(f, l, f.slope(l).min(chord)),
    };
    let upper = match () {
        _ if l >= 0.0 => tangent,
        _ if u <= 0.0 => Line::through(f, u, chord),
        _ => Line::through(f, u, f.slope(u).min(chord)),
    };
    (lower.shifted(-margin(lower.slope, l, u)), upper.shifted(margin(upper.slope, l, u)))
}

/// How far a line built above may be off the exact line it stands for, on `[l, u]`: the value
/// and slope errors (`REL`, relative, values and slopes ≤ 1) times the distance to the anchor
/// (≤ |l| + |u|), the chord's cancellation (≤ 2·REL over the width, times the width), and the
/// intercept's rounding — with a factor 4 to spare.
fn margin(slope: f64, l: f64, u: f64) -> f64 {
    4.0 * (REL * (3.0 + (1.0 + slope.abs()) * (l.abs() + u.abs())) + 1e-300)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Intervals of every kind (convex part, concave part, across 0; narrow, wide, far out in
    /// the flat tails): both lines hold on a dense grid, with room to spare only as large as the
    /// margin, and they touch `f` somewhere (a line far off would be sound but useless).
    #[test]
    fn lines_enclose_the_function_on_every_kind_of_interval() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for f in [SShaped::Sigmoid, SShaped::Tanh] {
            let mut cases =
                vec![(-3.0, -1.0), (0.5, 4.0), (-2.0, 3.0), (-40.0, 35.0), (-1e-9, 1e-9), (2.0, 2.0), (-800.0, -700.0)];
            for _ in 0..300 {
                let (a, b) = ((next() - 0.5) * 16.0, (next() - 0.5) * 16.0 * next());
                cases.push((a.min(b), a.max(b)));
            }
            for (l, u) in cases {
                let (below, above) = lines(f, l, u);
                let (mut gap_below, mut gap_above) = (f64::INFINITY, f64::INFINITY);
                for k in 0..=2000 {
                    let z = l + (u - l) * k as f64 / 2000.0;
                    let (v, lo, hi) =
                        (f.value(z), below.slope * z + below.intercept, above.slope * z + above.intercept);
                    assert!(lo <= v && v <= hi, "{f:?} on [{l}, {u}] at {z}: {lo} ≤ {v} ≤ {hi} fails");
                    (gap_below, gap_above) = (gap_below.min(v - lo), gap_above.min(hi - v));
                }
                let room = 1e-9 * (1.0 + l.abs() + u.abs());
                assert!(
                    gap_below < room && gap_above < room,
                    "{f:?} on [{l}, {u}]: lines {gap_below}, {gap_above} off"
                );
                let (vl, vu) = (enclose(f, l), enclose(f, u));
                assert!(vl.0 <= f.value(l) && f.value(u) <= vu.1 && vl.0 < vl.1.max(vu.1));
                let (s_lo, s_hi) = slope_range(f, l, u);
                for k in 0..=200 {
                    let s = f.slope(l + (u - l) * k as f64 / 200.0);
                    assert!(s_lo <= s && s <= s_hi, "{f:?} on [{l}, {u}]: slope {s} outside [{s_lo}, {s_hi}]");
                }
            }
        }
    }
}
