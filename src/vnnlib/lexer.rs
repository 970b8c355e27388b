//! Lexer for VNN-LIB 1.0 and 2.x: turns text into tokens (parens, brackets, commas, symbols,
//! numbers in any float notation, quoted strings) with 1-based line/column; `;` comments are skipped.

use super::error::VnnlibError;

/// A 1-based source position (line 0, column 0 means "no position", e.g. an I/O error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub fn new(line: usize, column: usize) -> Self {
        Pos { line, column }
    }
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    /// Any other run of characters that is not a number: names, keywords, operators, `<2.0>`.
    Symbol(String),
    /// A numeric literal; `text` is kept verbatim (shapes and indices need the integer form).
    Number {
        value: f64,
        text: String,
    },
    /// A double-quoted string with escapes resolved.
    Str(String),
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub pos: Pos,
}

fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ',' | ';' | '"')
}

/// Does `s` have the shape of a number: `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?`
fn is_number_text(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - f;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return false;
        }
    }
    i == b.len()
}

/// Does `s` look like an attempt at a number (so a malformed one is an error, not a symbol)?
fn looks_numeric(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('+' | '-' | '.') => {
            let rest: String = s.chars().skip(1).collect();
            let rest = rest.strip_prefix('.').unwrap_or(&rest);
            rest.starts_with(|c: char| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// Splits `text` into tokens. Errors: unterminated string, bad escape, malformed or
/// out-of-range number.
pub fn tokenize(text: &str) -> Result<Vec<Token>, VnnlibError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    // A byte-order mark at the very start is not part of the text.
    if chars.first() == Some(&'\u{feff}') {
        i = 1;
    }
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos::new(line, col);
        if c == '\n' {
            i += 1;
            line += 1;
            col = 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            col += 1;
            continue;
        }
        if c == ';' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        let single = match c {
            '(' => Some(TokenKind::LParen),
            ')' => Some(TokenKind::RParen),
            '[' => Some(TokenKind::LBracket),
            ']' => Some(TokenKind::RBracket),
            ',' => Some(TokenKind::Comma),
            _ => None,
        };
        if let Some(kind) = single {
            tokens.push(Token { kind, pos });
            i += 1;
            col += 1;
            continue;
        }
        if c == '"' {
            let (s, ni, nl, nc) = lex_string(&chars, i, line, col)?;
            tokens.push(Token { kind: TokenKind::Str(s), pos });
            (i, line, col) = (ni, nl, nc);
            continue;
        }
        let start = i;
        while i < chars.len() && !is_delimiter(chars[i]) {
            i += 1;
        }
        col += i - start;
        let word: String = chars[start..i].iter().collect();
        let kind = if is_number_text(&word) {
            let value: f64 = word.parse().map_err(|_| VnnlibError::new(pos, format!("malformed number '{word}'")))?;
            if !value.is_finite() {
                return Err(VnnlibError::new(pos, format!("number '{word}' is out of the range of a 64-bit float")));
            }
            TokenKind::Number { value, text: word }
        } else if looks_numeric(&word) {
            return Err(VnnlibError::new(pos, format!("malformed number '{word}'")));
        } else {
            TokenKind::Symbol(word)
        };
        tokens.push(Token { kind, pos });
    }
    Ok(tokens)
}

/// Lexes a string starting at the opening quote `chars[i]`; returns the content and the
/// index/line/column just after the closing quote.
fn lex_string(
    chars: &[char],
    mut i: usize,
    mut line: usize,
    mut col: usize,
) -> Result<(String, usize, usize, usize), VnnlibError> {
    let open = Pos::new(line, col);
    i += 1;
    col += 1;
    let mut s = String::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(VnnlibError::new(open, "unterminated string"));
        };
        match c {
            '"' => return Ok((s, i + 1, line, col + 1)),
            '\\' => {
                let esc = match chars.get(i + 1) {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    _ => {
                        return Err(VnnlibError::new(
                            Pos::new(line, col),
                            "bad escape in string (allowed: \\\" \\\\ \\n \\t)",
                        ))
                    }
                };
                s.push(esc);
                i += 2;
                col += 2;
            }
            '\n' => {
                s.push(c);
                i += 1;
                line += 1;
                col = 1;
            }
            _ => {
                s.push(c);
                i += 1;
                col += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        tokenize(text).unwrap().into_iter().map(|t| t.kind).collect()
    }

    fn num(text: &str) -> f64 {
        match &kinds(text)[..] {
            [TokenKind::Number { value, .. }] => *value,
            other => panic!("not one number: {other:?}"),
        }
    }

    #[test]
    fn numbers_in_every_notation() {
        assert_eq!(num("0"), 0.0);
        assert_eq!(num("-1"), -1.0);
        assert_eq!(num("0.029999999329447746"), 0.029999999329447746);
        assert_eq!(num("1.5e-05"), 1.5e-5);
        assert_eq!(num("-3.4E+38"), -3.4e38);
        assert_eq!(num("2e3"), 2000.0);
        assert_eq!(num(".5"), 0.5);
        assert_eq!(num("5."), 5.0);
        assert_eq!(num("+7"), 7.0);
    }

    #[test]
    fn malformed_numbers_are_errors() {
        for bad in ["1.2.3", "1e", "1e+", "-1x", "3abc", "1e999"] {
            let e = tokenize(&format!("  {bad}")).unwrap_err();
            assert_eq!((e.line, e.column), (1, 3), "{bad}: {e}");
        }
    }

    #[test]
    fn symbols_operators_and_positions() {
        let toks = tokenize("(assert (<= X[0,1] -0.5)) ; c\n  (- Y_0)").unwrap();
        let pos: Vec<(usize, usize)> = toks.iter().map(|t| (t.pos.line, t.pos.column)).collect();
        assert_eq!(
            pos,
            vec![
                (1, 1),
                (1, 2),
                (1, 9),
                (1, 10),
                (1, 13),
                (1, 14),
                (1, 15),
                (1, 16),
                (1, 17),
                (1, 18),
                (1, 20),
                (1, 24),
                (1, 25),
                (2, 3),
                (2, 4),
                (2, 6),
                (2, 9)
            ]
        );
        assert_eq!(toks[1].kind, TokenKind::Symbol("assert".into()));
        assert_eq!(toks[3].kind, TokenKind::Symbol("<=".into()));
        assert_eq!(toks[14].kind, TokenKind::Symbol("-".into()));
        assert_eq!(kinds("<2.0>"), vec![TokenKind::Symbol("<2.0>".into())]);
    }

    #[test]
    fn strings() {
        assert_eq!(kinds(r#""a\"b\\c" x"#), vec![TokenKind::Str("a\"b\\c".into()), TokenKind::Symbol("x".into())]);
        let e = tokenize("\n  \"abc").unwrap_err();
        assert_eq!((e.line, e.column), (2, 3));
        let e = tokenize(r#""a\q""#).unwrap_err();
        assert_eq!((e.line, e.column), (1, 3));
    }
}
