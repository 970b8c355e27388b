//! Errors as values for the whole library: one enum, one readable message per failure.
//! The CLI prints the message and exits non-zero; nothing in the library panics on bad input.

use std::path::PathBuf;

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid ONNX model ({reason})")]
    MalformedOnnx { path: PathBuf, reason: String },
    #[error(
        "{path}: node '{node}' uses operator '{op}', which twinverify does not support{detail}.\n\
         Supported operators: {supported}"
    )]
    UnsupportedOp { path: PathBuf, node: String, op: String, detail: String, supported: String },
    #[error("{path}: node '{node}' ({op}): {reason}")]
    BadNode { path: PathBuf, node: String, op: String, reason: String },
    #[error("shape mismatch: {0}")]
    Shape(String),
    #[error("bad input: {0}")]
    Input(String),
    #[error("tract: {0}")]
    Tract(String),
    #[error("solver: {0}")]
    Solver(String),
    #[error("plot: {0}")]
    Plot(String),
}

/// Short alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O failure with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
