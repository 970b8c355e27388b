//! Analyses built on the bounds, the translator and the solvers: LROM and local implication,
//! robustness, resilience, boundary distance, and verification-friendly networks.

pub mod batch;
pub mod lrom;
pub mod objective;
