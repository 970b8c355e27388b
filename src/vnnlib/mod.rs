//! VNN-LIB front-end: parses 1.0 (VNN-COMP) and 2.x queries into a typed AST (`Query`) and
//! normalises them into input boxes plus a linear DNF (`Property`) for the verifier.

mod error;
mod lexer;
mod sexpr;

pub use error::VnnlibError;
pub use lexer::Pos;
pub use sexpr::MAX_DEPTH;
