//! Analyses built on the bounds, the translator and the solvers: LROM and local implication,
//! robustness, resilience, boundary distance, VNN-LIB queries (`verify`) and two exports' equivalence.

pub mod bab;
pub mod ball;
pub mod batch;
pub mod boundary;
pub mod equiv;
pub mod falsify;
pub mod lrom;
pub mod objective;
pub mod outcome;
pub mod resilience;
pub mod robustness;
pub mod verify;
