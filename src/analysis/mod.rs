//! Analyses built on the bounds, the translator and the solvers: LROM and local implication,
//! robustness, resilience, boundary distance, verification-friendly networks and compressed twins.

pub mod batch;
pub mod boundary;
pub mod compress;
pub mod lrom;
pub mod objective;
pub mod resilience;
pub mod robustness;
pub mod sparsify;
pub mod summary;
pub mod verify;
