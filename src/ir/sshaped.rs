//! S-shaped element-wise activations (Sigmoid, Tanh): increasing, convex below 0 and concave
//! above, with the steepest slope at 0; their values and slopes in plain f64.

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
