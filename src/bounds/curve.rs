//! Sound bounds of element-wise nonlinear layers (Sigmoid, Tanh, constant powers, steps):
//! rigorous enclosures of their values and, on a pre-activation interval, a lower and an upper
//! line valid in exact arithmetic.
//!
//! The functions are evaluated by the platform's `exp`, `tanh`, `cosh` and `pow` (within a few
//! ulps); every value and line is widened by a margin far above those errors (`REL`, `margin`).

use super::Interval;
use crate::ir::{Bend, Curve, Piece};

const U: f64 = 1.1102230246251565e-16; // 2^-53
/// Relative error allowed for one evaluation of a value or slope (libm: ≤ 2 ulps; σ adds 3
/// roundings): 64 u.
pub(super) const REL: f64 = 64.0 * U;

/// `lower ≤ f(x) ≤ upper` for the true `f`.
pub fn enclose(f: Curve, x: f64) -> (f64, f64) {
    let v = f.value(x);
    if let Curve::Step(_) = f {
        return (v, v); // no arithmetic: the entry, a constant or an integer part
    }
    let d = REL * v.abs() + 1e-300;
    let (lo, hi) = f.range();
    ((v - d).next_down().max(lo), (v + d).next_up().min(hi))
}

/// The points of `[l, u]` where `f` or `f'` may take its extremes: the ends, 0 (where even
/// powers turn and S-shaped and odd powers' slopes do) and 1/e (where `x^x` turns); the other
/// curves and slopes are monotone.
fn critical(l: f64, u: f64) -> impl Iterator<Item = f64> {
    let inner = [0.0, std::f64::consts::E.recip()].into_iter().filter(move |&c| l < c && c < u);
    [l, u].into_iter().chain(inner)
}

/// The range of `f` on `[l, u]`, enclosed.
pub fn value_range(f: Curve, l: f64, u: f64) -> (f64, f64) {
    if let Curve::Step(s) = f {
        return s.range(l, u);
    }
    critical(l, u)
        .map(|x| enclose(f, x))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (lo, hi)| (a.min(lo), b.max(hi)))
}

/// The box of a layer's output given the box of its input, the `i`-th of `curves` on neuron `i`.
pub fn interval(curves: impl Iterator<Item = Curve>, x: &Interval) -> Interval {
    let (lower, upper) = curves.zip(x.lower.iter().zip(&x.upper)).map(|(f, (&l, &u))| value_range(f, l, u)).unzip();
    Interval { lower, upper }
}

/// `lower ≤ f'(ξ) ≤ upper` for every `ξ ∈ [l, u]`; unbounded for a step that jumps there (no
/// mean-value form holds across a jump).
pub fn slope_range(f: Curve, l: f64, u: f64) -> (f64, f64) {
    if let Curve::Step(s) = f {
        return match s.piece(l, u) {
            Piece::Affine { slope, .. } => (slope, slope),
            Piece::Range { .. } => (f64::NEG_INFINITY, f64::INFINITY),
        };
    }
    let widen = |v: f64, down: bool| {
        let d = REL * v.abs();
        if down {
            (v - d).next_down()
        } else {
            (v + d).next_up()
        }
    };
    critical(l, u)
        .map(|x| f.slope(x))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| (a.min(widen(s, true)), b.max(widen(s, false))))
}

/// A line `y = slope·z + intercept`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    pub slope: f64,
    pub intercept: f64,
}

impl Line {
    /// Through `(a, f(a))` with `slope`.
    fn through(f: Curve, a: f64, slope: f64) -> Line {
        Line { slope, intercept: f.value(a) - slope * a }
    }

    /// The line moved down (`by < 0`) or up by `|by|`, rounded further that way.
    fn shifted(self, by: f64) -> Line {
        let moved = self.intercept + by;
        Line { intercept: if by < 0.0 { moved.next_down() } else { moved.next_up() }, ..self }
    }
}

/// Lines below and above `f` on `[l, u]` (finite, `l ≤ u`, where `f` is defined):
/// `lower(z) ≤ f(z) ≤ upper(z)` for every real `z` in `[l, u]`, in exact arithmetic.
///
/// Where `f` is convex: the tangent at the midpoint below, the chord above (concave: the other
/// way round). Convex then concave (S-shaped, bending at 0): below, the line through `(l, f(l))`
/// with slope `min(f'(l), chord)` — under the tangent at `l` on the convex part, at or under `f`
/// at 0 and at `u`, so under the concave part's chord; above, the mirror image through `u`.
/// Concave then convex (odd powers): above, the line through `(l, f(l))` with slope
/// `max(f'(l), chord)`, below the one through `(u, f(u))` with slope `max(f'(u), chord)`, by the
/// same argument. Each line is then moved outward by `margin`, which covers the evaluation errors
/// of `f`, `f'` and the line's own arithmetic. A step: its piece on `[l, u]` (both lines), or the
/// constant ends of its range where it jumps.
pub fn lines(f: Curve, l: f64, u: f64) -> (Line, Line) {
    if let Curve::Step(s) = f {
        // exact: the piece itself, or the constant ends of its range
        return match s.piece(l, u) {
            Piece::Affine { slope, offset } => (Line { slope, intercept: offset }, Line { slope, intercept: offset }),
            Piece::Range { lower, upper } => {
                (Line { slope: 0.0, intercept: lower }, Line { slope: 0.0, intercept: upper })
            }
        };
    }
    if l >= u {
        let (lo, hi) = value_range(f, l, u);
        return (Line { slope: 0.0, intercept: lo }, Line { slope: 0.0, intercept: hi });
    }
    let chord = (f.value(u) - f.value(l)) / (u - l);
    let m = 0.5 * l + 0.5 * u;
    let tangent = Line::through(f, m, f.slope(m));
    let secant = Line::through(f, l, chord);
    let (lower, upper) = match f.bend(l, u) {
        Bend::Linear => (secant, secant),
        Bend::Convex => (tangent, secant),
        Bend::Concave => (secant, tangent),
        Bend::ConvexConcave => (Line::through(f, l, f.slope(l).min(chord)), Line::through(f, u, f.slope(u).min(chord))),
        Bend::ConcaveConvex => (Line::through(f, u, f.slope(u).max(chord)), Line::through(f, l, f.slope(l).max(chord))),
    };
    let fmax = [l, m, u].iter().map(|&x| f.value(x).abs()).fold(0.0, f64::max);
    let dmax = [l, m, u].iter().map(|&x| f.slope(x).abs()).fold(chord.abs(), f64::max);
    let margin = |s: f64| 4.0 * (REL * (3.0 * fmax + (dmax + s.abs()) * (l.abs() + u.abs())) + 1e-300);
    (lower.shifted(-margin(lower.slope)), upper.shifted(margin(upper.slope)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::SShaped;

    /// Every curve on intervals of every kind where it is defined (convex part, concave part,
    /// across 0; narrow, wide, far out in the flat tails): both lines and the value range hold on
    /// a dense grid, the lines touch `f` somewhere within the margin (a line far off would be
    /// sound but useless), the slope range holds too.
    #[test]
    fn lines_enclose_the_function_on_every_kind_of_interval() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let curves = [
            Curve::S(SShaped::Sigmoid),
            Curve::S(SShaped::Tanh),
            Curve::Power(2.0),
            Curve::Power(3.0),
            Curve::Power(4.0),
            Curve::Power(0.5),
            Curve::Power(2.5),
            Curve::Power(-0.5),
            Curve::Power(-1.0),
            Curve::Power(-2.0),
            Curve::Power(0.0),
            Curve::Power(1.0),
            Curve::Exp(2.0),
            Curve::Exp(0.5),
            Curve::SelfPower,
        ];
        for f in curves {
            let mut cases =
                vec![(-3.0, -1.0), (0.5, 4.0), (-2.0, 3.0), (-40.0, 35.0), (-1e-9, 1e-9), (2.0, 2.0), (-800.0, -700.0)];
            for _ in 0..300 {
                let (a, b) = ((next() - 0.5) * 16.0, (next() - 0.5) * 16.0 * next());
                cases.push((a.min(b), a.max(b)));
            }
            for (l, u) in cases.into_iter().filter(|&(l, u)| f.defined_on(l, u) && f.value(u).abs() < 1e6) {
                let (below, above) = lines(f, l, u);
                let (lo_range, hi_range) = value_range(f, l, u);
                let (mut gap_below, mut gap_above) = (f64::INFINITY, f64::INFINITY);
                for k in 0..=2000 {
                    let z = (l + (u - l) * k as f64 / 2000.0).clamp(l, u);
                    let (v, lo, hi) =
                        (f.value(z), below.slope * z + below.intercept, above.slope * z + above.intercept);
                    assert!(lo <= v && v <= hi, "{f:?} on [{l}, {u}] at {z}: {lo} ≤ {v} ≤ {hi} fails");
                    assert!(lo_range <= v && v <= hi_range, "{f:?} on [{l}, {u}] at {z}: {v} outside its range");
                    (gap_below, gap_above) = (gap_below.min(v - lo), gap_above.min(hi - v));
                }
                let room = 1e-9 * (1.0 + l.abs() + u.abs()) * (1.0 + f.value(l).abs() + f.value(u).abs());
                assert!(
                    gap_below < room && gap_above < room,
                    "{f:?} on [{l}, {u}]: lines {gap_below}, {gap_above} off"
                );
                let (vl, vu) = (enclose(f, l), enclose(f, u));
                assert!(vl.0 <= f.value(l) && f.value(u) <= vu.1 && vl.0 < vl.1.max(vu.1));
                let (s_lo, s_hi) = slope_range(f, l, u);
                for k in 0..=200 {
                    let s = f.slope((l + (u - l) * k as f64 / 200.0).clamp(l, u));
                    assert!(s_lo <= s && s <= s_hi, "{f:?} on [{l}, {u}]: slope {s} outside [{s_lo}, {s_hi}]");
                }
            }
        }
    }
}
