//! Boxes too small to split: every coordinate's range holds at most one float32 value (a point
//! box such as `X_0 = 0.35`, or a range between two neighbouring float32 values).
//!
//! The networks run on float32 inputs, so such a box has only a few float32 images: a range
//! without a float32 value reaches the networks as the float32 rounding to nearest of one of its
//! values, i.e. of one of its two ends' roundings (rounding is monotone). The rule for witnesses
//! (`witness`): a witness is the float32 rounding of a point that satisfies the input constraints.
//! Here the candidates (every range at its lower end, at its upper end, and at the end the
//! gradient prefers) are checked, then the real box is bounded once: `unsat` holds for every
//! real point of the box, and a box neither answers is left open instead of being split.

use super::search::{BoxResult, Context};
use super::space::{Empty, Grid, InputSpace};
use super::witness::Witness;
use super::Item;
use crate::bounds::{Interval, Method};
use crate::encode::Mode;
use crate::error::Result;

/// Does `[lo, hi]` hold at most one value of `grid`?
fn at_most_one(grid: Grid, lo: f64, hi: f64) -> bool {
    // the smallest grid value ≥ lo, if it is ≤ hi
    grid.inside(lo, lo, hi).is_none_or(|f| grid.step(f, true) > hi)
}

/// Decides `items` on `b` when every coordinate of `b` holds at most one value of its grid
/// (float32, or float16 where declared so; see the module documentation); `None` for any other
/// box.
pub fn decide(ctx: &Context, b: &Interval, items: &[Item]) -> Result<Option<BoxResult>> {
    let grids = &ctx.checker.space.grids;
    if !(0..b.len()).all(|g| at_most_one(grids[g], b.lower[g], b.upper[g])) {
        return Ok(None);
    }
    let checker = &ctx.checker;
    // the box is at most a float32 step wide: the gradient at a corner serves for all of it
    let grad = checker.sensitivity(&b.lower, items).unwrap_or_else(|| vec![0.0; b.len()]);
    let guided: Vec<f64> = (0..b.len()).map(|g| if grad[g] > 0.0 { b.lower[g] } else { b.upper[g] }).collect();
    let candidates = [guided, b.lower.clone(), b.upper.clone()];
    let fresh = |k: usize| !candidates[..k].contains(&candidates[k]);
    if let Some(w) = (0..candidates.len()).filter(|&k| fresh(k)).find_map(|k| checker.check(&candidates[k], b, items)) {
        return Ok(Some(BoxResult::Sat(w)));
    }
    Ok(Some(match ctx.solve_box(b, items, Method::Symbolic, Mode::Relaxed)? {
        BoxResult::Open { lower, point, note } => {
            let why = format!(
                "{}: at most one float32 value per input, none of the box's float32 candidates is a \
                 witness and bounds on the box leave the violation's lower bound at {lower:.6e} ≤ 0 \
                 (not split further)",
                describe(ctx.checker.space, b)
            );
            let note = Some(match note {
                Some(n) => format!("{why}; {n}"),
                None => why,
            });
            BoxResult::Open { lower, point, note }
        }
        decided => decided,
    }))
}

/// The first three entries of a list and how many more there are, for messages.
fn listed(entries: impl ExactSizeIterator<Item = String>) -> String {
    let n = entries.len();
    let shown: Vec<String> = entries.take(3).collect();
    let more = if n > 3 { format!(" and {} more", n - 3) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

/// The box's ranges, for messages.
fn describe(space: &InputSpace, b: &Interval) -> String {
    let ranges = (0..b.len()).map(|g| format!("{} ∈ [{:?}, {:?}]", space.names[g], b.lower[g], b.upper[g]));
    format!("the box {}", listed(ranges))
}

/// Why a variable has no value, for the warning of an empty input region.
pub fn empty_reason(space: &InputSpace, e: &Empty) -> String {
    format!("{}: lower bound {:?} > upper bound {:?}", space.names[e.var], e.lower, e.upper)
}

/// How a witness's inputs were rounded (the rule of the module documentation), if any were.
pub fn rounding_note(space: &InputSpace, w: &Witness) -> Option<String> {
    if w.rounded.is_empty() {
        return None;
    }
    let values = w.rounded.iter().map(|&(g, real, run)| format!("{} = {real:?} ran as {run:?}", space.names[g]));
    Some(format!(
        "inputs whose range holds no float32 value: the witness is the float32 rounding (to nearest) of \
         a point that satisfies the input constraints ({})",
        listed(values)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_with_at_most_one_float32_value() {
        let one = |lo, hi| at_most_one(Grid::F32, lo, hi);
        let next = |v: f64| (v as f32).next_up() as f64;
        assert!(one(0.35, 0.35), "0.35 is no float32 value");
        assert!(one(0.375, 0.375), "a point");
        let below = 0.35f32 as f64; // the float32 nearest to 0.35 lies below it
        assert!(below < 0.35 && one(0.35, next(below) - 1e-12), "between two neighbours");
        assert!(one(below, next(below) - 1e-12), "one neighbour inside");
        assert!(!one(below, next(below)), "two neighbours inside");
        assert!(!one(0.0, 1.0));
        let tiny = f32::from_bits(1) as f64; // the smallest float32 subnormal
        assert!(one(0.0, 0.0) && one(0.0, 0.5 * tiny) && !one(0.0, tiny));
    }

    /// float16's grid: spacing 2⁻¹² near 0.35 (a range two float32 steps wide holds at most one
    /// value), the steps across zero reach the subnormals 2⁻²⁴ on either side.
    #[test]
    fn float16_grid_steps_and_ranges() {
        let one = |lo, hi| at_most_one(Grid::F16, lo, hi);
        assert!(one(0.35, 0.35 + 1e-4) && !one(0.35, 0.3505) && !at_most_one(Grid::F32, 0.35, 0.35 + 1e-4));
        let tiny = 2f64.powi(-24);
        assert_eq!((Grid::F16.step(0.0, true), Grid::F16.step(0.0, false)), (tiny, -tiny));
        assert_eq!((Grid::F16.step(-tiny, true), Grid::F16.step(1.0, false)), (-0.0, 1.0 - 2f64.powi(-11)));
        assert!(one(0.0, 0.5 * tiny) && !one(0.0, tiny));
        assert_eq!(Grid::F16.inside(0.35, 0.3, 0.4), Some(0.35009765625));
        assert_eq!(Grid::F16.inside(0.35, 0.35001, 0.35005), None);
    }
}
