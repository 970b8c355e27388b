//! Neuron bounds over an input box: interval propagation, symbolic back-substitution and LP
//! tightening, all sound in floating point (outward rounding by rigorous error terms).
//!
//! Soundness scheme: no directed rounding mode is needed. Every sum is computed in ordinary f64
//! and widened by Higham's bound `γₙ Σ|terms|` on its rounding error (module `round`); symbolic
//! forms carry a bound on the error of their own coefficients, and ReLU relaxation lines are
//! rounded so that they stay valid in exact arithmetic. The printed bounds therefore enclose
//! the values of the IR evaluated in exact real arithmetic.

pub mod alpha;
pub mod curve;
pub mod difference;
pub mod float32;
mod input_map;
pub mod interval;
pub mod product;
pub mod softmax;
pub mod symbolic;

pub use input_map::{InputMap, Layout, Normalisation};

use crate::error::{Error, Result};
use crate::ir::{Layer, Network};

/// A box: one closed interval per coordinate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Interval {
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

impl Interval {
    /// The L∞ ball of radius `radius` around `center`, intersected with `domain` when given.
    pub fn around(center: &[f64], radius: f64, domain: Option<(f64, f64)>) -> Result<Interval> {
        InputMap::plain(domain).region(center, radius)
    }

    pub fn len(&self) -> usize {
        self.lower.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }

    pub fn contains(&self, x: &[f64]) -> bool {
        x.len() == self.len() && x.iter().enumerate().all(|(i, &v)| self.lower[i] <= v && v <= self.upper[i])
    }

    /// Coordinate-wise intersection (both boxes must be sound enclosures of the same values).
    pub fn intersect(&self, other: &Interval) -> Interval {
        Interval {
            lower: self.lower.iter().zip(&other.lower).map(|(a, b)| a.max(*b)).collect(),
            upper: self.upper.iter().zip(&other.upper).map(|(a, b)| a.min(*b)).collect(),
        }
    }
}

/// How neuron bounds are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Interval,
    Symbolic,
    /// Symbolic with the ReLU lower slopes optimised per neuron (`alpha`).
    Alpha,
    Lp,
}

/// Bounds of the input and of every layer's output.
#[derive(Clone, Debug)]
pub struct NetworkBounds {
    pub input: Interval,
    pub layers: Vec<Interval>,
}

impl NetworkBounds {
    /// Bounds of the vector at `position`: the input for 0, else the output of layer `position−1`.
    pub fn position(&self, position: usize) -> &Interval {
        if position == 0 {
            &self.input
        } else {
            &self.layers[position - 1]
        }
    }

    pub fn output(&self) -> &Interval {
        self.layers.last().unwrap_or(&self.input)
    }
}

/// Stability of the ReLUs of one layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReluStats {
    pub layer: usize,
    pub active: usize,
    pub inactive: usize,
    pub unstable: usize,
}

/// Per ReLU layer: how many neurons are stable active, stable inactive and unstable.
pub fn relu_stats(net: &Network, nb: &NetworkBounds) -> Vec<ReluStats> {
    (0..net.layers.len())
        .filter(|&j| matches!(net.layers[j].layer, Layer::Relu))
        .map(|j| {
            let pre = nb.position(j);
            let mut s = ReluStats { layer: j, ..Default::default() };
            for (&l, &u) in pre.lower.iter().zip(&pre.upper) {
                match (l >= 0.0, u <= 0.0) {
                    (true, _) => s.active += 1,
                    (_, true) => s.inactive += 1,
                    _ => s.unstable += 1,
                }
            }
            s
        })
        .collect()
}

/// Bounds by interval propagation, or symbolic back-substitution for `Symbolic` and `Lp` (LP
/// tightening needs a solver and lives above the solvers, in `tighten`, which starts from these).
/// With `prior` (bounds known to hold on the same region, e.g. a parent's bounds with one ReLU's
/// phase fixed by a split) each layer's bounds are intersected with it before the next layer is
/// computed; the result may then be empty (lower > upper somewhere): no input of the region
/// reaches it.
pub fn propagate(
    net: &Network,
    input: &Interval,
    method: Method,
    prior: Option<&NetworkBounds>,
) -> Result<NetworkBounds> {
    if let (Method::Alpha, None) = (method, prior) {
        // back-substitution is not monotone in the bounds it relaxes with (DeepPoly's slope
        // choice can flip when they tighten): the plain pass is intersected in, so that the
        // optimised bounds are never looser anywhere
        let plain = propagate_from(net, input, Method::Symbolic, None)?;
        return propagate_from(net, input, method, Some((&plain, 0)));
    }
    propagate_from(net, input, method, prior.map(|p| (p, 0)))
}

/// `propagate` inside `prior` (bounds on the same input box) whose layers before `from` are
/// taken as they are: a branch-and-bound child whose parent's bounds changed only from layer
/// `from` on gets the same bounds as a full pass, for less.
pub fn propagate_within(net: &Network, prior: &NetworkBounds, from: usize) -> Result<NetworkBounds> {
    propagate_from(net, &prior.input, Method::Symbolic, Some((prior, from)))
}

fn propagate_from(
    net: &Network,
    input: &Interval,
    method: Method,
    prior: Option<(&NetworkBounds, usize)>,
) -> Result<NetworkBounds> {
    if input.len() != net.input_size() {
        return Err(Error::Shape(format!(
            "the input box has {} values, network '{}' takes {}",
            input.len(),
            net.name,
            net.input_size()
        )));
    }
    net.check_well_formed()?;
    let mut nb = NetworkBounds { input: input.clone(), layers: Vec::with_capacity(net.layers.len()) };
    for (j, node) in net.layers.iter().enumerate() {
        if let Some((p, _)) = prior.filter(|&(_, from)| j < from) {
            nb.layers.push(p.layers[j].clone());
            continue;
        }
        if let Layer::Power(p) = &node.layer {
            check_defined(net, j, p, nb.position(j))?;
        }
        let mut b = interval::propagate(&node.layer, nb.position(j));
        let symbolic = method != Method::Interval && j > 0;
        if let (Layer::Affine(a), true) = (&node.layer, symbolic) {
            // A neuron that feeds a ReLU and is stable by intervals keeps its (exact) role in
            // every later relaxation whatever its bounds: only the others are back-substituted.
            let rows: Vec<usize> =
                (0..b.lower.len()).filter(|&i| !feeds_relu(net, j) || (b.lower[i] < 0.0 && b.upper[i] > 0.0)).collect();
            narrow(&mut b, symbolic::affine_layer(net, &nb, j, a, &rows));
            if method == Method::Alpha && feeds_relu(net, j) && alpha::applies(net, j) {
                let open: Vec<usize> = rows.into_iter().filter(|&i| b.lower[i] < 0.0 && b.upper[i] > 0.0).collect();
                narrow(&mut b, alpha::affine_layer(net, &nb, j, a, &open));
            }
        }
        if let Some((p, _)) = prior {
            b = b.intersect(&p.layers[j]);
        }
        check_finite(net, j, &b)?;
        nb.layers.push(b);
    }
    Ok(nb)
}

/// Intersects `b` with the bounds `(row, lower, upper)` found for some of its rows.
fn narrow(b: &mut Interval, found: Vec<(usize, f64, f64)>) {
    for (i, l, u) in found {
        b.lower[i] = b.lower[i].max(l);
        b.upper[i] = b.upper[i].min(u);
    }
}

/// A power layer's input must stay where each of its curves is defined (a fractional exponent
/// needs `x ≥ 0`, a negative one `x ≠ 0`): else no bound is sound there, and that is an error.
fn check_defined(net: &Network, j: usize, p: &crate::ir::Power, x: &Interval) -> Result<()> {
    let bad = p.curves.iter().enumerate().find(|&(i, f)| !f.defined_on(x.lower[i], x.upper[i]));
    match bad {
        None => Ok(()),
        Some((i, f)) => Err(Error::Input(format!(
            "network '{}': layer {j} (from {}) computes {f:?} of entry {i}, whose input reaches [{}, {}] on this \
             region, where it is not defined (or its slope is not finite)",
            net.name,
            net.layers[j].origin.join(", "),
            x.lower[i],
            x.upper[i]
        ))),
    }
}

/// Encodings need finite bounds on every neuron: an infinite or NaN bound (an overflow, or a
/// non-finite input) is an error rather than a model that could prove anything.
fn check_finite(net: &Network, j: usize, b: &Interval) -> Result<()> {
    match b.lower.iter().chain(&b.upper).find(|v| !v.is_finite()) {
        None => Ok(()),
        Some(v) => Err(Error::Input(format!(
            "network '{}': layer {j} (from {}) has a non-finite bound ({v}) on this input region; the \
             weights or inputs are too large for sound bounds",
            net.name,
            net.layers[j].origin.join(", ")
        ))),
    }
}

/// Whether layer `j`'s output feeds a ReLU (the neurons whose bounds LP tightening refines).
pub fn feeds_relu(net: &Network, j: usize) -> bool {
    matches!(net.layers.get(j + 1).map(|l| &l.layer), Some(Layer::Relu))
}
