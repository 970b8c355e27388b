//! VNN-LIB 1.0 (VNN-COMP) dialect: `(declare-const X_i Real)` / `(declare-const Y_j Real)` and
//! `(assert ...)`; builds the single implicit network `N` with input `X[n]` and output `Y[m]`.

use std::collections::HashMap;

use super::ast::{NetworkDecl, Query, TensorDecl, Var, VarKind, Version};
use super::error::VnnlibError;
use super::formula::{parse_bool, Resolver};
use super::lexer::{Pos, Token};
use super::sexpr::SExpr;

/// SMT-LIB commands that carry no meaning for a VNN-LIB query and are skipped.
const IGNORED: [&str; 6] = ["check-sat", "get-model", "exit", "set-logic", "set-info", "set-option"];

/// One `declare-const`: which form declared it, the variable, where its name is.
struct Decl {
    form: usize,
    kind: VarKind,
    index: usize,
    pos: Pos,
}

/// `X_12` → (Input, 12); `Y_0` → (Output, 0); anything else (including leading zeros) → None.
fn split_name(name: &str) -> Option<(VarKind, usize)> {
    let (kind, digits) = if let Some(d) = name.strip_prefix("X_") {
        (VarKind::Input, d)
    } else {
        (VarKind::Output, name.strip_prefix("Y_")?)
    };
    let well_formed =
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'));
    if !well_formed {
        return None;
    }
    Some((kind, digits.parse().ok()?))
}

struct Scope<'a> {
    decls: &'a HashMap<String, Decl>,
    /// Index of the form being parsed: a variable must be declared by an earlier form.
    form: usize,
}

impl Resolver for Scope<'_> {
    fn version(&self) -> Version {
        Version::V1
    }

    fn resolve(&self, name: &str, pos: Pos, index: Option<(Pos, &[Token])>) -> Result<(Var, String), VnnlibError> {
        if let Some((open, _)) = index {
            return Err(VnnlibError::new(open, "VNN-LIB 1.0 variables take no index (write X_i, Y_j)"));
        }
        let Some(d) = self.decls.get(name) else {
            return Err(VnnlibError::new(pos, format!("undeclared variable '{name}'")));
        };
        if d.form > self.form {
            return Err(VnnlibError::new(
                pos,
                format!("variable '{name}' used before its declaration at {}:{}", d.pos.line, d.pos.column),
            ));
        }
        let var = Var { network: 0, kind: d.kind, tensor: 0, index: d.index };
        Ok((var, "Real".to_string()))
    }
}

fn symbol_arg<'a>(form: &'a SExpr, items: &'a [SExpr], k: usize, what: &str) -> Result<(&'a str, Pos), VnnlibError> {
    match items.get(k) {
        Some(e) => e
            .symbol()
            .map(|s| (s, e.pos()))
            .ok_or_else(|| VnnlibError::new(e.pos(), format!("expected {what}, found {}", e.describe()))),
        None => Err(VnnlibError::new(form.pos(), format!("missing {what}"))),
    }
}

fn parse_declare(
    form: &SExpr,
    items: &[SExpr],
    k: usize,
    decls: &mut HashMap<String, Decl>,
) -> Result<(), VnnlibError> {
    let (name, pos) = symbol_arg(form, items, 1, "a variable name")?;
    let (ty, ty_pos) = symbol_arg(form, items, 2, "the sort 'Real'")?;
    if let Some(extra) = items.get(3) {
        return Err(VnnlibError::new(extra.pos(), "unexpected extra operand of 'declare-const'"));
    }
    let Some((kind, index)) = split_name(name) else {
        return Err(VnnlibError::new(
            pos,
            format!("VNN-LIB 1.0 variables are named X_<i> (inputs) or Y_<j> (outputs), found '{name}'"),
        ));
    };
    if ty != "Real" {
        return Err(VnnlibError::new(ty_pos, format!("unsupported sort '{ty}' (only Real)")));
    }
    if let Some(first) = decls.get(name) {
        return Err(VnnlibError::new(
            pos,
            format!("duplicate declaration of '{name}' (first at {}:{})", first.pos.line, first.pos.column),
        ));
    }
    decls.insert(name.to_string(), Decl { form: k, kind, index, pos });
    Ok(())
}

/// Number of variables of `kind`; their indices must be exactly 0..n-1.
fn count_without_gaps(decls: &HashMap<String, Decl>, kind: VarKind) -> Result<usize, VnnlibError> {
    let mut found: Vec<(usize, Pos)> = decls.values().filter(|d| d.kind == kind).map(|d| (d.index, d.pos)).collect();
    found.sort_unstable();
    for (expected, &(index, pos)) in found.iter().enumerate() {
        if index != expected {
            let name = if kind == VarKind::Input { "X" } else { "Y" };
            return Err(VnnlibError::new(
                pos,
                format!("{name}_{expected} is not declared but {name}_{index} is: indices must be 0..n-1 without gaps"),
            ));
        }
    }
    Ok(found.len())
}

/// Parses the forms of a 1.0 file.
pub(crate) fn parse_v1(forms: &[SExpr]) -> Result<Query, VnnlibError> {
    let mut decls: HashMap<String, Decl> = HashMap::new();
    let mut asserts = Vec::new();
    for (k, form) in forms.iter().enumerate() {
        let SExpr::List { items, .. } = form else {
            return Err(VnnlibError::new(form.pos(), format!("expected a command '(...)', found {}", form.describe())));
        };
        let (head, head_pos) = symbol_arg(form, items, 0, "a command name")?;
        match head {
            "declare-const" => parse_declare(form, items, k, &mut decls)?,
            "assert" => match items.as_slice() {
                [_, body] => asserts.push((k, body)),
                _ => return Err(VnnlibError::new(head_pos, "'assert' takes exactly one formula")),
            },
            h if IGNORED.contains(&h) => {}
            "vnnlib-version" => {
                return Err(VnnlibError::new(head_pos, "'vnnlib-version' must be the first form of the file"))
            }
            "declare-network" => {
                return Err(VnnlibError::new(
                    head_pos,
                    "'declare-network' is VNN-LIB 2.x: start the file with (vnnlib-version <2.0>)",
                ))
            }
            other => return Err(VnnlibError::new(head_pos, format!("unknown command '{other}'"))),
        }
    }
    let n_in = count_without_gaps(&decls, VarKind::Input)?;
    let n_out = count_without_gaps(&decls, VarKind::Output)?;
    if n_in == 0 {
        return Err(VnnlibError::new(Pos::new(1, 1), "no input variables declared (declare-const X_0 Real ...)"));
    }
    let mut assertions = Vec::with_capacity(asserts.len());
    for (form, body) in asserts {
        assertions.push(parse_bool(body, &Scope { decls: &decls, form })?);
    }
    let tensor = |name: &str, n: usize| TensorDecl {
        name: name.to_string(),
        elem_type: "Real".to_string(),
        shape: vec![n],
        onnx_name: None,
    };
    let network = NetworkDecl {
        name: "N".to_string(),
        inputs: vec![tensor("X", n_in)],
        hidden: Vec::new(),
        outputs: vec![tensor("Y", n_out)],
        relation: None,
    };
    Ok(Query { version: Version::V1, networks: vec![network], assertions })
}
