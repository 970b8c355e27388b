//! The one error type of the VNN-LIB module: a message with the 1-based line and column of the
//! offending token (0:0 when there is no position, e.g. an I/O failure), optionally a file name.

use std::fmt;

use super::lexer::Pos;

/// A parse, scoping, typing or normalisation error, pointing at the offending token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VnnlibError {
    /// File name used in the message; `None` prints as `<input>`.
    pub file: Option<String>,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl VnnlibError {
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        VnnlibError { file: None, line: pos.line, column: pos.column, message: message.into() }
    }

    /// The same error, naming `file` in its message.
    pub fn with_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }
}

impl fmt::Display for VnnlibError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.as_deref().unwrap_or("<input>");
        write!(f, "{file}:{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for VnnlibError {}
