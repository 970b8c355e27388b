//! Errors as values for the whole library: one enum, one readable message per failure.
//! The CLI prints the message and exits non-zero; nothing in the library panics on bad input.

use std::fmt;
use std::path::PathBuf;

use crate::vnnlib::VnnlibError;

/// What was being done with a file (or program) when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOp {
    Read,
    Write,
    /// Creating a folder.
    Create,
    /// Running a program.
    Run,
}

impl fmt::Display for IoOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoOp::Read => "read",
            IoOp::Write => "write",
            IoOp::Create => "create",
            IoOp::Run => "run",
        })
    }
}

/// Every failure the library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {op} {path}: {source}")]
    Io {
        path: PathBuf,
        op: IoOp,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {op} {path}: {source}")]
    Csv {
        path: PathBuf,
        op: IoOp,
        #[source]
        source: csv::Error,
    },
    #[error("cannot write {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Spec {
        path: PathBuf,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    #[error(transparent)]
    Vnnlib(#[from] VnnlibError),
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
    #[error("internal error: {0} (please report this)")]
    Internal(&'static str),
}

/// Short alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure to read `path`.
    pub fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), op: IoOp::Read, source }
    }

    /// A failure to write `path`.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), op: IoOp::Write, source }
    }

    /// A failure to create the folder `path`.
    pub fn create(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), op: IoOp::Create, source }
    }

    /// A failure to run the program `path`.
    pub fn run(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), op: IoOp::Run, source }
    }

    /// A broken internal invariant: a panic in debug builds (the tests), an error in release builds.
    #[track_caller]
    pub fn internal(what: &'static str) -> Self {
        debug_assert!(false, "internal invariant broken: {what}");
        Error::Internal(what)
    }

    /// A CSV failure while reading or writing `path`.
    pub fn csv(path: impl Into<PathBuf>, op: IoOp, source: csv::Error) -> Self {
        Error::Csv { path: path.into(), op, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_failed_and_keep_the_cause() {
        // a folder stands where the file should be written
        let e = crate::report::write_csv(&std::env::temp_dir(), &[1]).unwrap_err();
        assert!(e.to_string().starts_with("cannot write"), "{e}");
        let e = crate::data::read_samples(std::path::Path::new("/nonexistent/x.csv"), 1.0).unwrap_err();
        assert!(e.to_string().starts_with("cannot read") && std::error::Error::source(&e).is_some(), "{e}");
        let e: Error = crate::vnnlib::parse_query("").unwrap_err().into();
        assert!(matches!(&e, Error::Vnnlib(v) if v.line == 1) && e.to_string().contains("empty query"), "{e}");
    }
}
