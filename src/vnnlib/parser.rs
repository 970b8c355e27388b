//! Entry points (dialect detection) and the VNN-LIB 2.x query layout: version line, network
//! declarations (see `decl`), then assertions whose `X[i,j]` references are resolved here.

use super::ast::{Query, Var, VarKind, Version};
use super::decl::{check_real_exclusive, parse_network, usize_of, Decls};
use super::error::VnnlibError;
use super::formula::{parse_bool, Resolver};
use super::lexer::{tokenize, Pos, Token, TokenKind};
use super::sexpr::{build, SExpr};
use super::v1::parse_v1;

/// Parses a query in either dialect: a first form `(vnnlib-version ...)` means 2.x, otherwise 1.0.
pub fn parse_query(text: &str) -> Result<Query, VnnlibError> {
    let forms = build(tokenize(text)?)?;
    let Some(first) = forms.first() else {
        return Err(VnnlibError::new(Pos::new(1, 1), "empty query: no forms"));
    };
    if first.head() == Some("vnnlib-version") {
        parse_v2(&forms)
    } else {
        parse_v1(&forms)
    }
}

/// [`parse_query`], naming `file` in the error message.
pub fn parse_query_named(text: &str, file: &str) -> Result<Query, VnnlibError> {
    parse_query(text).map_err(|e| e.with_file(file))
}

/// The VNN-LIB versions answered, oldest and newest (`supports --vnnlib-versions`): 1.0 (no
/// version line) and 2.0 up to 2.1, the standard's current version (2.1 only clarified 2.0).
pub const VERSIONS: [&str; 2] = ["1.0", "2.1"];

/// `(vnnlib-version <2.x>)`: accepts `<2.0>`, `2.0`, `<2.1>`, `2.1`; a later minor version may
/// use extensions we do not know, so it is refused with the supported range.
fn check_version(form: &SExpr) -> Result<(), VnnlibError> {
    let SExpr::List { items, .. } = form else {
        return Ok(());
    };
    let Some(arg) = items.get(1) else {
        return Err(VnnlibError::new(form.pos(), "missing version, e.g. (vnnlib-version <2.0>)"));
    };
    let text = match arg {
        SExpr::Atom(Token { kind: TokenKind::Symbol(s) | TokenKind::Number { text: s, .. }, .. }) => s.as_str(),
        _ => "",
    };
    let bare = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')).unwrap_or(text);
    let parts: Vec<&str> = bare.split('.').collect();
    let numeric = parts.len() == 2 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return Err(VnnlibError::new(arg.pos(), format!("malformed version {}, expected e.g. <2.0>", arg.describe())));
    }
    let newest_minor = VERSIONS[1].strip_prefix("2.").and_then(|m| m.parse::<u32>().ok()).unwrap_or(0);
    if parts[0] != "2" || parts[1].parse::<u32>().map_or(true, |m| m > newest_minor) {
        return Err(VnnlibError::new(
            arg.pos(),
            format!(
                "unsupported VNN-LIB version {bare} (supported: 1.0 without a version line, 2.0 to {})",
                VERSIONS[1]
            ),
        ));
    }
    if let Some(extra) = items.get(2) {
        return Err(VnnlibError::new(extra.pos(), "unexpected extra operand of 'vnnlib-version'"));
    }
    Ok(())
}

fn parse_v2(forms: &[SExpr]) -> Result<Query, VnnlibError> {
    check_version(&forms[0])?;
    let mut decls = Decls::default();
    let mut bodies = Vec::new();
    for form in &forms[1..] {
        let SExpr::List { items, .. } = form else {
            return Err(VnnlibError::new(form.pos(), format!("expected a command '(...)', found {}", form.describe())));
        };
        let head = items.first().and_then(SExpr::symbol).unwrap_or("");
        match head {
            "declare-network" if bodies.is_empty() => parse_network(form, items, &mut decls)?,
            "declare-network" => {
                return Err(VnnlibError::new(form.pos(), "network declarations must come before the assertions"))
            }
            "assert" => match items.as_slice() {
                [_, body] => bodies.push(body),
                _ => return Err(VnnlibError::new(items[0].pos(), "'assert' takes exactly one formula")),
            },
            "vnnlib-version" => return Err(VnnlibError::new(form.pos(), "duplicate 'vnnlib-version'")),
            _ => {
                let at = items.first().map_or(form.pos(), SExpr::pos);
                return Err(VnnlibError::new(
                    at,
                    format!(
                        "unknown command {} (expected declare-network or assert)",
                        items.first().map_or("'()'".into(), SExpr::describe)
                    ),
                ));
            }
        }
    }
    if decls.networks.is_empty() {
        let at = forms.get(1).map_or(forms[0].pos(), SExpr::pos);
        return Err(VnnlibError::new(at, "a 2.x query must declare at least one network before its assertions"));
    }
    check_real_exclusive(&decls)?;
    let mut assertions = Vec::with_capacity(bodies.len());
    for body in bodies {
        assertions.push(parse_bool(body, &decls)?);
    }
    Ok(Query { version: Version::V2, networks: decls.networks, assertions })
}

impl Resolver for Decls {
    fn version(&self) -> Version {
        Version::V2
    }

    fn resolve(&self, name: &str, pos: Pos, index: Option<(Pos, &[Token])>) -> Result<(Var, String), VnnlibError> {
        let Some((_, entry)) = self.names.get(name) else {
            return Err(VnnlibError::new(pos, format!("undeclared variable '{name}'")));
        };
        let Some((network, kind, tensor)) = *entry else {
            return Err(VnnlibError::new(pos, format!("'{name}' is a network, not a tensor")));
        };
        let net = &self.networks[network];
        let t = match kind {
            VarKind::Input => &net.inputs[tensor],
            VarKind::Hidden => &net.hidden[tensor],
            VarKind::Output => &net.outputs[tensor],
        };
        let (open, idx) = index.unwrap_or((pos, &[]));
        if idx.is_empty() && !t.shape.is_empty() {
            return Err(VnnlibError::new(
                pos,
                format!(
                    "'{name}' has shape {:?}: an element needs {} indices, e.g. {name}[{}]",
                    t.shape,
                    t.shape.len(),
                    vec!["0"; t.shape.len()].join(",")
                ),
            ));
        }
        if index.is_some() && (idx.len() != t.shape.len() || t.shape.is_empty()) {
            return Err(VnnlibError::new(
                open,
                format!("'{name}' has shape {:?} and needs {} indices, found {}", t.shape, t.shape.len(), idx.len()),
            ));
        }
        let mut flat = 0usize;
        for (tok, &dim) in idx.iter().zip(&t.shape) {
            let i = usize_of(tok, "index")?;
            if i >= dim {
                return Err(VnnlibError::new(
                    tok.pos,
                    format!("index {i} out of range for dimension of size {dim} of '{name}' (shape {:?})", t.shape),
                ));
            }
            flat = flat * dim + i;
        }
        Ok((Var { network, kind, tensor, index: flat }, t.elem_type.clone()))
    }
}
