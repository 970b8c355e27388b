//! Analyses built on the IR, bounds and solvers: compressed twins (pruning, quantisation), the
//! verification-friendly networks of paper 002 (sparsify), and the report that compares a twin.

pub mod compress;
pub mod sparsify;
pub mod summary;
