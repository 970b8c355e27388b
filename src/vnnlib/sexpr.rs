//! S-expression layer: groups tokens into parenthesised lists and `[n,n,...]` index/shape groups,
//! iteratively and with a depth limit, so unbalanced or absurdly nested input is an error, not a crash.

use super::error::VnnlibError;
use super::lexer::{Pos, Token, TokenKind};

/// Deepest nesting of parentheses accepted (real files nest about 4 deep).
pub const MAX_DEPTH: usize = 256;

/// One node of the S-expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum SExpr {
    /// A symbol, number or string token.
    Atom(Token),
    /// `( items... )`; `open` is the position of the `(`.
    List { open: Pos, items: Vec<SExpr> },
    /// `[ n, n, ... ]` (possibly empty); `open` is the position of the `[`, items are numbers.
    Index { open: Pos, items: Vec<Token> },
}

impl SExpr {
    /// Where this node starts.
    pub fn pos(&self) -> Pos {
        match self {
            SExpr::Atom(t) => t.pos,
            SExpr::List { open, .. } | SExpr::Index { open, .. } => *open,
        }
    }

    /// The symbol text if this is a symbol atom.
    pub fn symbol(&self) -> Option<&str> {
        match self {
            SExpr::Atom(Token { kind: TokenKind::Symbol(s), .. }) => Some(s),
            _ => None,
        }
    }

    /// The head symbol of a list, e.g. `assert` for `(assert ...)`.
    pub fn head(&self) -> Option<&str> {
        match self {
            SExpr::List { items, .. } => items.first().and_then(SExpr::symbol),
            _ => None,
        }
    }

    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            SExpr::Atom(t) => describe_token(&t.kind),
            SExpr::List { items, .. } => match items.first().and_then(SExpr::symbol) {
                Some(h) => format!("'({h} ...)'"),
                None => "a list".to_string(),
            },
            SExpr::Index { .. } => "'[...]'".to_string(),
        }
    }
}

/// A short description of a token for error messages.
pub fn describe_token(kind: &TokenKind) -> String {
    match kind {
        TokenKind::LParen => "'('".into(),
        TokenKind::RParen => "')'".into(),
        TokenKind::LBracket => "'['".into(),
        TokenKind::RBracket => "']'".into(),
        TokenKind::Comma => "','".into(),
        TokenKind::Symbol(s) => format!("'{s}'"),
        TokenKind::Number { text, .. } => format!("number {text}"),
        TokenKind::Str(s) => format!("string \"{s}\""),
    }
}

/// Builds the top-level forms from tokens. Errors: unclosed `(` (points at it), stray `)`,
/// malformed `[...]` groups, nesting deeper than [`MAX_DEPTH`].
pub fn build(tokens: Vec<Token>) -> Result<Vec<SExpr>, VnnlibError> {
    let mut top: Vec<SExpr> = Vec::new();
    // Open lists: (position of '(', items so far).
    let mut stack: Vec<(Pos, Vec<SExpr>)> = Vec::new();
    let mut it = tokens.into_iter();
    while let Some(tok) = it.next() {
        let node = match tok.kind {
            TokenKind::LParen => {
                if stack.len() >= MAX_DEPTH {
                    return Err(VnnlibError::new(tok.pos, format!("parentheses nested deeper than {MAX_DEPTH}")));
                }
                stack.push((tok.pos, Vec::new()));
                continue;
            }
            TokenKind::RParen => match stack.pop() {
                Some((open, items)) => SExpr::List { open, items },
                None => return Err(VnnlibError::new(tok.pos, "unexpected ')' with no matching '('")),
            },
            TokenKind::LBracket => build_index(tok.pos, &mut it)?,
            TokenKind::RBracket => return Err(VnnlibError::new(tok.pos, "unexpected ']' with no matching '['")),
            TokenKind::Comma => return Err(VnnlibError::new(tok.pos, "unexpected ',' outside '[...]'")),
            _ => SExpr::Atom(tok),
        };
        match stack.last_mut() {
            Some((_, items)) => items.push(node),
            None => top.push(node),
        }
    }
    match stack.first() {
        // Report the outermost unclosed '(' : that is the form that never ends.
        Some((open, _)) => Err(VnnlibError::new(*open, "unclosed '(' (missing ')')")),
        None => Ok(top),
    }
}

/// Reads `n, n, ... ]` after a `[` at `open`.
fn build_index(open: Pos, it: &mut impl Iterator<Item = Token>) -> Result<SExpr, VnnlibError> {
    let mut items = Vec::new();
    let mut expect_number = true;
    loop {
        let Some(tok) = it.next() else {
            return Err(VnnlibError::new(open, "unclosed '[' (missing ']')"));
        };
        match (&tok.kind, expect_number) {
            (TokenKind::RBracket, _) if items.is_empty() || !expect_number => {
                return Ok(SExpr::Index { open, items });
            }
            (TokenKind::Number { .. }, true) => {
                items.push(tok);
                expect_number = false;
            }
            (TokenKind::Comma, false) => expect_number = true,
            (k, true) => {
                return Err(VnnlibError::new(
                    tok.pos,
                    format!("expected a number inside '[...]', found {}", describe_token(k)),
                ))
            }
            (k, false) => {
                return Err(VnnlibError::new(
                    tok.pos,
                    format!("expected ',' or ']' inside '[...]', found {}", describe_token(k)),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::lexer::tokenize;
    use super::*;

    fn parse(text: &str) -> Result<Vec<SExpr>, VnnlibError> {
        build(tokenize(text)?)
    }

    fn err_at(text: &str) -> (usize, usize) {
        let e = parse(text).unwrap_err();
        (e.line, e.column)
    }

    #[test]
    fn nesting_and_indices() {
        let forms = parse("(a (b [1,2]) []) (c)").unwrap();
        assert_eq!(forms.len(), 2);
        assert_eq!(forms[0].head(), Some("a"));
        let SExpr::List { items, .. } = &forms[0] else { panic!() };
        assert!(matches!(&items[2], SExpr::Index { items, .. } if items.is_empty()));
        let SExpr::List { items: inner, .. } = &items[1] else { panic!() };
        assert!(matches!(&inner[1], SExpr::Index { items, .. } if items.len() == 2));
    }

    #[test]
    fn unbalanced_and_malformed() {
        assert_eq!(err_at("(a\n (b c)\n"), (1, 1));
        assert_eq!(err_at("(a) )"), (1, 5));
        assert_eq!(err_at("(x [1,,2])"), (1, 7));
        assert_eq!(err_at("(x [1 2])"), (1, 7));
        assert_eq!(err_at("(x [1,])"), (1, 7));
        assert_eq!(err_at("(x [1,2"), (1, 4));
        assert_eq!(err_at("(x ,)"), (1, 4));
        let deep = "(".repeat(100_000);
        assert_eq!(err_at(&deep), (1, MAX_DEPTH + 1));
    }
}
