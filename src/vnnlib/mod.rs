//! VNN-LIB front-end: parses 1.0 (VNN-COMP) and 2.x queries into a typed AST ([`Query`]) and
//! normalises them into input boxes plus a linear DNF ([`Property`]) for the verifier.

mod ast;
mod decl;
mod error;
mod expand;
mod formula;
mod lexer;
mod parser;
mod property;
mod sexpr;
mod v1;

#[cfg(test)]
mod tests;

pub use ast::{CmpOp, Expr, Formula, NetworkDecl, Query, Relation, TensorDecl, Var, VarKind, Version};
pub use decl::MAX_TENSOR_ELEMENTS;
pub use error::VnnlibError;
pub use expand::{expand, Expanded, Tap};
pub use lexer::Pos;
pub use parser::{parse_query, parse_query_named, VERSIONS};
pub use property::{to_property, LinearConstraint, Property, MAX_DISJUNCTS, MAX_DNF_CONSTRAINTS};
pub use sexpr::MAX_DEPTH;

use std::path::Path;

/// Reads and parses a query file; an I/O failure is an error at line 0, column 0.
pub fn parse_file(path: &Path) -> Result<Query, VnnlibError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| VnnlibError::new(Pos::default(), format!("cannot read file: {e}")).with_file(&name))?;
    parse_query_named(&text, &name)
}
