//! Tests of the VNN-LIB module: example files, VNN-COMP anchors, normalisation, error positions.
//! Shared helpers live here; each submodule covers one concern.

mod errors;
mod examples;
mod normalise;

use std::path::{Path, PathBuf};

use super::{parse_query, to_property, LinearConstraint, Property, Var, VarKind, VnnlibError};

/// `vnnlib-examples/` of this crate.
fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vnnlib-examples")
}

/// Parse and normalise, panicking with the error message (tests only).
fn property(text: &str) -> Property {
    let q = parse_query(text).unwrap_or_else(|e| panic!("{e}"));
    to_property(&q).unwrap_or_else(|e| panic!("{e}"))
}

/// The error of parsing (or, if parsing succeeds, normalising) `text`.
fn error(text: &str) -> VnnlibError {
    match parse_query(text) {
        Err(e) => e,
        Ok(q) => to_property(&q).expect_err("expected an error"),
    }
}

/// Asserts the error position and that the message contains `needle`.
fn assert_error(text: &str, line: usize, column: usize, needle: &str) {
    let e = error(text);
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert!(e.message.contains(needle), "'{needle}' not in: {e}");
}

/// Network-0 variable of tensor 0.
fn x(index: usize) -> Var {
    Var { network: 0, kind: VarKind::Input, tensor: 0, index }
}
fn y(index: usize) -> Var {
    Var { network: 0, kind: VarKind::Output, tensor: 0, index }
}

fn lc(terms: &[(Var, f64)], op: super::CmpOp, rhs: f64) -> LinearConstraint {
    LinearConstraint { terms: terms.to_vec(), op, rhs }
}

/// A 1.0 header declaring X_0..X_{nx-1} and Y_0..Y_{ny-1}.
fn v1_header(nx: usize, ny: usize) -> String {
    let mut s = String::new();
    for i in 0..nx {
        s += &format!("(declare-const X_{i} Real)\n");
    }
    for j in 0..ny {
        s += &format!("(declare-const Y_{j} Real)\n");
    }
    s
}
