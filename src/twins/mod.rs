//! Transformations that write a new ONNX twin of a network: pruning and quantisation (`compress`),
//! paper 002's verification-friendly sparsification (`sparsify`), and the summary of a twin.

pub mod compress;
pub mod sparsify;
pub mod summary;
