//! Sound bounds of products of two entries `y = a·b` (McCormick): the box of the four corner
//! products rounded outward, and planes below and above valid on the box `[la, ua] × [lb, ub]`.

use super::Interval;
use crate::ir::Product;

/// The product `x·y` rounded down (`up` false) or up: exact when the rounding left no error.
pub fn mul_rounded(x: f64, y: f64, up: bool) -> f64 {
    let p = x * y;
    let e = x.mul_add(y, -p); // the exact error x·y − p
    match (up, e) {
        (_, 0.0) => p,
        (true, e) if e > 0.0 => p.next_up(),
        (false, e) if e < 0.0 => p.next_down(),
        _ => p,
    }
}

/// The box of the products on the input box.
pub fn interval(p: &Product, x: &Interval) -> Interval {
    let (lower, upper) = p
        .pairs
        .iter()
        .map(|&(a, b)| {
            let ends = [
                (x.lower[a], x.lower[b]),
                (x.lower[a], x.upper[b]),
                (x.upper[a], x.lower[b]),
                (x.upper[a], x.upper[b]),
            ];
            let lo = ends.iter().map(|&(s, t)| mul_rounded(s, t, false)).fold(f64::INFINITY, f64::min);
            let hi = ends.iter().map(|&(s, t)| mul_rounded(s, t, true)).fold(f64::NEG_INFINITY, f64::max);
            if a == b {
                (lo.max(0.0), hi) // a square is never negative
            } else {
                (lo, hi)
            }
        })
        .unzip();
    Interval { lower, upper }
}

/// A plane `y = ca·a + cb·b + c` over two entries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plane {
    pub ca: f64,
    pub cb: f64,
    /// The constant, as the product `−k1·k2` of two bounds (rounded where it is used).
    pub k: (f64, f64),
}

/// McCormick's planes: below, `y ≥ lb·a + la·b − la·lb` (from `(a − la)(b − lb) ≥ 0`) and
/// `y ≥ ub·a + ua·b − ua·ub`; above, `y ≤ ub·a + la·b − la·ub` and `y ≤ lb·a + ua·b − ua·lb`.
/// Exact in real arithmetic; the constants are products, rounded where they are used.
pub fn planes(a: (f64, f64), b: (f64, f64)) -> ([Plane; 2], [Plane; 2]) {
    let ((la, ua), (lb, ub)) = (a, b);
    let plane = |ca, cb, k1, k2| Plane { ca, cb, k: (k1, k2) };
    ([plane(lb, la, la, lb), plane(ub, ua, ua, ub)], [plane(ub, la, la, ub), plane(lb, ua, ua, lb)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On boxes of every sign pattern, the box and all four planes hold on a grid of the box.
    #[test]
    fn box_and_planes_hold_on_grids() {
        let ends = [(-2.0, -0.5), (-1.5, 0.7), (0.0, 3.0), (0.3, 0.31), (-0.1, 0.1), (1e-3, 7.0)];
        for &a in &ends {
            for &b in &ends {
                let x = Interval { lower: vec![a.0, b.0], upper: vec![a.1, b.1] };
                let p = Product { pairs: vec![(0, 1), (0, 0)] };
                let out = interval(&p, &x);
                let (below, above) = planes(a, b);
                for i in 0..=60 {
                    for j in 0..=60 {
                        let (u, v) = (a.0 + (a.1 - a.0) * i as f64 / 60.0, b.0 + (b.1 - b.0) * j as f64 / 60.0);
                        let (u, v) = (u.min(a.1), v.min(b.1));
                        let y = u * v;
                        assert!(out.lower[0] <= y && y <= out.upper[0], "{a:?} {b:?} at ({u}, {v})");
                        assert!(out.lower[1] <= u * u && u * u <= out.upper[1]);
                        let at = |q: &Plane| q.ca * u + q.cb * v - q.k.0 * q.k.1;
                        assert!(below.iter().all(|q| at(q) <= y + 1e-12), "{a:?} {b:?} below at ({u}, {v})");
                        assert!(above.iter().all(|q| at(q) >= y - 1e-12), "{a:?} {b:?} above at ({u}, {v})");
                    }
                }
            }
        }
    }
}
