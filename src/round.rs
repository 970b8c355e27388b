//! Outward rounding by rigorous error terms (the ground floor: bounds, encode, solve and the
//! analyses all widen their f64 sums here, by a bound on the accumulated rounding error, Higham's γₙ).
//!
//! For a sum `s = Σᵢ aᵢ bᵢ` of `n` products evaluated in any order with round-to-nearest,
//! `|fl(s) − s| ≤ γₙ Σᵢ |aᵢ bᵢ| + n·η`, where `γₙ = n·u/(1 − n·u)`, `u = 2⁻⁵³` and `η = 2⁻¹⁰⁷⁴`
//! covers underflow. The widening itself is rounded, so the error term is doubled and the
//! widened value is moved one more ulp outward with `next_down`/`next_up`.

const UNIT_ROUNDOFF: f64 = 1.1102230246251565e-16; // 2^-53
const SUBNORMAL_UNIT: f64 = 5e-324; // 2^-1074, the smallest subnormal

/// `2·γₙ`, a safe over-estimate of the relative error of an `n`-term sum of products.
pub fn gamma(n: usize) -> f64 {
    let nu = (n as f64 + 2.0) * UNIT_ROUNDOFF;
    2.0 * nu / (1.0 - nu)
}

/// Accumulates a sum of products together with the magnitude needed for its error bound.
#[derive(Clone, Copy, Debug, Default)]
pub struct Acc {
    sum: f64,
    magnitude: f64,
    terms: usize,
    /// Absolute errors known from elsewhere, added to the final error bound.
    extra: f64,
    /// Products that fell into the subnormal range (each may be off by half of 2⁻¹⁰⁷⁴).
    underflows: usize,
}

impl Acc {
    pub fn new(start: f64) -> Self {
        Acc { sum: start, magnitude: start.abs(), terms: 1, extra: 0.0, underflows: 0 }
    }

    /// Adds `a·b`.
    #[inline]
    pub fn add(&mut self, a: f64, b: f64) {
        let p = a * b;
        if p.abs() < f64::MIN_POSITIVE && a != 0.0 && b != 0.0 {
            self.underflows += 1;
        }
        self.sum += p;
        self.magnitude += p.abs();
        self.terms += 1;
    }

    /// Adds a known error bound (already an upper bound on some absolute error).
    pub fn add_error(&mut self, e: f64) {
        self.extra += e;
    }

    fn error(&self) -> f64 {
        // sums of normal numbers carry no absolute underflow error: only subnormal products do
        let e = gamma(self.terms) * self.magnitude + self.extra + self.underflows as f64 * 2.0 * SUBNORMAL_UNIT;
        e * (1.0 + 8.0 * UNIT_ROUNDOFF)
    }

    /// The computed (unwidened) sum and a bound on its absolute rounding error.
    pub fn value_and_error(&self) -> (f64, f64) {
        (self.sum, self.error())
    }

    /// A value certainly ≤ the exact sum (the sum itself when it is exact: all terms zero).
    pub fn lower(&self) -> f64 {
        match self.error() {
            0.0 => self.sum,
            e => (self.sum - e).next_down(),
        }
    }

    /// A value certainly ≥ the exact sum.
    pub fn upper(&self) -> f64 {
        match self.error() {
            0.0 => self.sum,
            e => (self.sum + e).next_up(),
        }
    }
}

/// `a + b` rounded, and the exact rounding error `e` with `a + b = s + e` (Knuth's TwoSum).
#[inline]
pub fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// A bound on the rounding error of one f64 addition or subtraction whose result is `x`
/// (half an ulp, over-estimated by a full machine epsilon of `|x|`, plus one subnormal step).
#[inline]
pub fn one_op_error(x: f64) -> f64 {
    (f64::EPSILON * x.abs()).next_up() + SUBNORMAL_UNIT
}

/// A rigorous upper bound on `Σ aᵢvᵢ − rhs` for the given f64 values: products and sums are
/// computed with their exact rounding errors (FMA and TwoSum), whose total is added, widened.
pub fn upper_sum_minus(terms: impl Iterator<Item = (f64, f64)>, rhs: f64) -> f64 {
    let (mut s, mut err, mut n) = (-rhs, 0.0f64, 1usize);
    for (a, v) in terms {
        let p = a * v;
        let e = a.mul_add(v, -p);
        let (t, e2) = two_sum(s, p);
        s = t;
        err += e.abs() + e2.abs();
        n += 2;
    }
    if err == 0.0 {
        s
    } else {
        s + err * (1.0 + 2.0 * n as f64 * f64::EPSILON) + f64::MIN_POSITIVE
    }
}

/// Upper bound on `|x|` over an interval.
#[inline]
pub fn magnitude(lo: f64, hi: f64) -> f64 {
    lo.abs().max(hi.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widened_sums_enclose_the_exact_value() {
        // 0.1 + 0.2 − 0.3 is 5.55e-17 in f64 but 0 in real arithmetic (of the f64 inputs: the
        // exact sum of the three doubles is 2.7755575615628914e-17).
        let mut acc = Acc::new(0.1);
        acc.add(0.2, 1.0);
        acc.add(-0.3, 1.0);
        let exact = 2.7755575615628914e-17;
        assert!(acc.lower() <= exact && exact <= acc.upper());
        assert!(acc.upper() - acc.lower() < 1e-14);
    }
}
