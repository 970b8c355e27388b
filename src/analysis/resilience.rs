//! Maximum resilience (paper 003, Definition 1): the smallest L1 (or L∞) perturbation Φ_m that
//! makes class m lose its place among the top k, for inputs classified to m with confidence α.
//!
//! Global form: over every input of the domain; local form: over the inputs within `radius` of a
//! sample. Paper 003's heuristic 3 runs first: a confident input `a_ini`, then Φ_m^ini with `a`
//! fixed there (MILPs with a growing cut C until one finds a perturbation), then problem (6) over
//! the whole region with `(a_ini, a_ini + ε_ini)` handed to the solver and `Σ ε_abs ≤ Φ_m^ini`.
//!
//! Reported: `lower`, proved (the certified LP relaxation of the last MILP, or a certified
//! L∞ bisection in the local form); `upper`, the norm of a perturbation re-executed through the
//! IR and tract; `solver_value`, the MILP optimum (not certified). The answer is `exact` when the
//! MILP finished and the checked witness attains its optimum.

pub mod model;
mod search;

use serde::{Deserialize, Serialize};

use self::model::Problem;
use self::search::Search;
pub use super::outcome::{Bracket, Status};
use crate::bounds::{InputMap, Interval, Method};
use crate::error::{Error, Result};
use crate::ir::Network;
use crate::onnx::TractRunner;
use crate::solve::{self, SolverConfig};
use crate::tighten::LpOptions;

/// How a perturbation is measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// `Σ |ε_i|` (the paper's).
    #[default]
    L1,
    /// `max |ε_i|`.
    Linf,
}

/// Over which inputs `a` the confident class is taken.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// Every input of the domain (Definition 1 as stated).
    Global,
    /// The inputs within L∞ distance `radius` of `center` (radius 0: the sample alone).
    Local { center: &'a [f64], radius: f64 },
}

#[derive(Clone, Debug)]
pub struct ResilienceConfig {
    /// Confidence: `N[m] − N[j] ≥ ln α` for every other class j (softmax ratio ≥ α).
    pub alpha: f64,
    /// m must drop out of the top k.
    pub k: usize,
    pub norm: Norm,
    /// Pixels to network inputs (normalisation, layout) and the pixel-space domain of valid
    /// inputs (perturbed ones too): perturbation norms and radii are measured in pixels.
    pub map: InputMap,
    /// Neuron bounds behind every big-M (interval, symbolic or LP-tightened).
    pub bounds: Method,
    /// Runs the MILPs. Certified LPs always run on the embedded HiGHS: only it returns duals.
    pub solver: SolverConfig,
    /// `lower` and `upper` this close count as proved; also the bisection's resolution.
    pub tolerance: f64,
}

impl ResilienceConfig {
    /// The pixel-space domain (NaN when the map has none, which `resilience` refuses).
    pub fn domain(&self) -> (f64, f64) {
        self.map.domain().unwrap_or((f64::NAN, f64::NAN))
    }
}

/// Φ_m for one class: `bracket.certified` is the proved lower bound, `bracket.attained` the norm
/// of the checked witness (a proved upper bound), `bracket.solver_value` the final MILP's optimum.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClassResilience {
    pub class: usize,
    #[serde(flatten)]
    pub bracket: Bracket,
    /// Φ_m^ini: the checked perturbation found with `a` fixed at the confident input.
    pub initial: Option<f64>,
    /// Whether the final MILP's solver took the start point (the file interfaces do not).
    pub start_used: bool,
    pub witness: Option<Witness>,
    pub milps: usize,
    pub seconds: f64,
}

/// Ξ = min over classes of Φ_m (Definition 2): bounds from the per-class ones.
pub fn xi(classes: &[ClassResilience]) -> (f64, Option<f64>) {
    let lower = classes.iter().map(|c| c.bracket.certified).fold(f64::INFINITY, f64::min);
    (lower, classes.iter().filter_map(|c| c.bracket.attained).min_by(f64::total_cmp))
}

/// A checked pair: `input` is classified to m with confidence α, `perturbed` has m out of the
/// top k (both by the IR, confirmed by tract), and `norm` ≥ the norm of their difference.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Witness {
    pub input: Vec<f64>,
    pub perturbed: Vec<f64>,
    pub norm: f64,
}

/// Φ_m (bounds, witness and the solver's value) for class `class` of `net` over `scope`.
pub fn resilience(
    net: &Network,
    runner: &TractRunner,
    class: usize,
    scope: Scope,
    cfg: &ResilienceConfig,
) -> Result<ClassResilience> {
    let start = std::time::Instant::now();
    let region = validate(net, class, scope, cfg)?;
    solve::check_available(&cfg.solver)?;
    let problem = Problem {
        net,
        class,
        log_alpha: cfg.alpha.ln().next_down(),
        k: cfg.k,
        norm: cfg.norm,
        domain: cfg.map.domain_box(net.input_size()),
        weights: cfg.map.weights(net.input_size()),
        bounds: cfg.bounds,
        lp: LpOptions::embedded(),
    };
    let mut out = ClassResilience {
        class,
        bracket: Bracket::open(0.0),
        initial: None,
        start_used: false,
        witness: None,
        milps: 0,
        seconds: 0.0,
    };
    Search { problem, runner, cfg }.run(&mut out, &region, scope)?;
    out.bracket.close_within(cfg.tolerance);
    out.seconds = start.elapsed().as_secs_f64();
    Ok(out)
}

/// Checks the settings against the network and returns the region of `a`.
fn validate(net: &Network, class: usize, scope: Scope, cfg: &ResilienceConfig) -> Result<Interval> {
    let classes = net.output_size();
    let bad = |m: String| Err(Error::Input(m));
    if class >= classes {
        return bad(format!("class {class} does not exist (the network has {classes} outputs)"));
    }
    if !(cfg.alpha >= 1.0 && cfg.alpha.is_finite()) {
        return bad(format!("alpha must be a finite number ≥ 1, got {}", cfg.alpha));
    }
    if cfg.k == 0 || cfg.k >= classes {
        return bad(format!("k must be between 1 and {} (classes − 1), got {}", classes - 1, cfg.k));
    }
    let (lo, hi) = cfg.domain();
    if !(lo < hi && lo.is_finite() && hi.is_finite()) {
        return bad(format!("the domain [{lo}, {hi}] is empty or not finite"));
    }
    if !(cfg.tolerance > 0.0 && cfg.tolerance.is_finite()) {
        return bad(format!("tolerance must be positive, got {}", cfg.tolerance));
    }
    let domain = cfg.map.domain_box(net.input_size());
    match scope {
        Scope::Global => Ok(domain),
        Scope::Local { center, radius } => {
            if center.len() != net.input_size() {
                return bad(format!("the sample has {} values, the network takes {}", center.len(), net.input_size()));
            }
            if let Some(i) = (0..center.len()).find(|&i| !(domain.lower[i]..=domain.upper[i]).contains(&center[i])) {
                let pixel = cfg.map.to_pixels(center)[i];
                return bad(format!("the sample's value {i} ({pixel}) is outside the domain [{lo}, {hi}]"));
            }
            match radius {
                0.0 => Ok(Interval { lower: center.to_vec(), upper: center.to_vec() }),
                _ => cfg.map.region(center, radius),
            }
        }
    }
}
