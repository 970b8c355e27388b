//! Element-wise nonlinear functions: S-shaped activations (Sigmoid, Tanh: increasing, convex
//! below 0 and concave above), constant powers and steps; their values, slopes and bends in
//! plain f64.

use super::Step;

/// Which S-shaped function a layer applies to every entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SShaped {
    /// `1 / (1 + e^(−x))`, in (0, 1).
    Sigmoid,
    /// `tanh x`, in (−1, 1).
    Tanh,
}

impl SShaped {
    pub fn name(self) -> &'static str {
        match self {
            SShaped::Sigmoid => "sigmoid",
            SShaped::Tanh => "tanh",
        }
    }

    /// The function's value (NaN stays NaN).
    pub fn value(self, x: f64) -> f64 {
        match self {
            SShaped::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            SShaped::Tanh => x.tanh(),
        }
    }

    /// The derivative at `x`.
    pub fn slope(self, x: f64) -> f64 {
        match self {
            SShaped::Sigmoid => {
                // σ' = e^(−|x|) / (1 + e^(−|x|))², exact in form for either sign (no 1 − σ cancellation)
                let e = (-x.abs()).exp();
                e / ((1.0 + e) * (1.0 + e))
            }
            SShaped::Tanh => {
                let c = x.cosh();
                1.0 / (c * c)
            }
        }
    }

    /// The limits at −∞ and +∞.
    pub fn range(self) -> (f64, f64) {
        match self {
            SShaped::Sigmoid => (0.0, 1.0),
            SShaped::Tanh => (-1.0, 1.0),
        }
    }
}

/// Powers with a constant on one side, per entry: `x^e` (ONNX Pow with a constant exponent, Mul
/// of the activation by itself) or `b^x` (Pow of a constant base); `curves[i]` on entry `i`.
#[derive(Clone, Debug, PartialEq)]
pub struct Power {
    pub curves: Vec<Curve>,
}

/// The function one neuron of an element-wise nonlinear layer applies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Curve {
    S(SShaped),
    /// `x^e`.
    Power(f64),
    /// `b^x` for a base `b > 0`.
    Exp(f64),
    /// `x^x` (for `x > 0`).
    SelfPower,
    /// A step function (not continuous: its bounds come from its pieces, `Step::piece`).
    Step(Step),
}

/// Where a curve bends on an interval: convex, concave, convex then concave at 0 (S) or concave
/// then convex at 0 (odd powers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bend {
    Linear,
    Convex,
    Concave,
    ConvexConcave,
    ConcaveConvex,
}

impl Curve {
    pub fn value(self, x: f64) -> f64 {
        match self {
            Curve::S(f) => f.value(x),
            Curve::Power(e) => power(x, e),
            Curve::Exp(b) => b.powf(x),
            Curve::SelfPower => x.powf(x),
            Curve::Step(s) => s.value(x),
        }
    }

    pub fn slope(self, x: f64) -> f64 {
        match self {
            Curve::S(f) => f.slope(x),
            Curve::Power(0.0) => 0.0,
            Curve::Power(e) => e * power(x, e - 1.0),
            Curve::Exp(b) => b.ln() * b.powf(x),
            Curve::SelfPower => x.powf(x) * (x.ln() + 1.0),
            Curve::Step(s) => s.slope(x),
        }
    }

    /// Whether `[l, u]` lies where the curve is defined (and its slope finite): non-integer
    /// exponents need `x ≥ 0`, negative ones `x ≠ 0` (and `x > 0` when not an integer).
    pub fn defined_on(self, l: f64, u: f64) -> bool {
        match self {
            Curve::S(_) | Curve::Exp(_) | Curve::Step(_) => true,
            Curve::SelfPower => l > 0.0,
            Curve::Power(e) if e.fract() == 0.0 && e >= 0.0 => true,
            Curve::Power(e) if e.fract() == 0.0 => l > 0.0 || u < 0.0,
            Curve::Power(e) if e > 1.0 => l >= 0.0,
            Curve::Power(_) => l > 0.0,
        }
    }

    /// How the curve bends on `[l, u]` (where it is defined).
    pub fn bend(self, l: f64, u: f64) -> Bend {
        let e = match self {
            Curve::S(_) => return Bend::ConvexConcave,
            // a step is linear on each piece (its lines come from the piece)
            Curve::Exp(1.0) | Curve::Step(_) => return Bend::Linear,
            // (x^x)'' = x^x·((ln x + 1)² + 1/x) > 0
            Curve::Exp(_) | Curve::SelfPower => return Bend::Convex,
            Curve::Power(e) => e,
        };
        let odd = e.fract() == 0.0 && (e % 2.0).abs() == 1.0;
        match () {
            _ if e == 0.0 || e == 1.0 => Bend::Linear,
            _ if l >= 0.0 && e > 0.0 && e < 1.0 => Bend::Concave,
            // x ≥ 0 with e > 1 or e < 0, or an even power anywhere
            _ if l >= 0.0 || !odd => Bend::Convex,
            // an odd power on x ≤ 0 (x³, 1/x)
            _ if u <= 0.0 => Bend::Concave,
            _ => Bend::ConcaveConvex,
        }
    }

    /// The curve's values lie in this range (for clamping enclosures).
    pub fn range(self) -> (f64, f64) {
        match self {
            Curve::S(f) => f.range(),
            Curve::Exp(_) | Curve::SelfPower => (0.0, f64::INFINITY),
            Curve::Power(_) | Curve::Step(_) => (f64::NEG_INFINITY, f64::INFINITY),
        }
    }
}

/// `x^e` (`powi` is not used: its error grows with the exponent).
fn power(x: f64, e: f64) -> f64 {
    if e == 0.0 {
        1.0
    } else if e == 1.0 {
        x
    } else {
        x.powf(e)
    }
}
