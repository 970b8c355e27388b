//! VNN-LIB 2.x declarations: `declare-network` with its typed, shaped input/hidden/output tensors,
//! unique names, and the `equal-to`/`isomorphic-to` and `real`-only typing rules.

use std::collections::HashMap;

use super::ast::{NetworkDecl, Relation, TensorDecl, VarKind};
use super::error::VnnlibError;
use super::lexer::{Pos, Token, TokenKind};
use super::sexpr::SExpr;

/// Largest tensor (number of elements) a declaration may have.
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 24;

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic()) && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// The `k`-th item of a form as a name (`[A-Za-z][A-Za-z0-9_]*`).
fn name_at<'a>(form: &SExpr, items: &'a [SExpr], k: usize, what: &str) -> Result<(&'a str, Pos), VnnlibError> {
    let Some(e) = items.get(k) else {
        return Err(VnnlibError::new(form.pos(), format!("missing {what}")));
    };
    match e.symbol() {
        Some(s) if is_name(s) => Ok((s, e.pos())),
        _ => Err(VnnlibError::new(e.pos(), format!("expected {what} ([A-Za-z][A-Za-z0-9_]*), found {}", e.describe()))),
    }
}

/// A non-negative integer literal (shape dimension or index).
pub(crate) fn usize_of(tok: &Token, what: &str) -> Result<usize, VnnlibError> {
    match &tok.kind {
        TokenKind::Number { text, .. } if text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().map_err(|_| VnnlibError::new(tok.pos, format!("{what} {text} is too large")))
        }
        TokenKind::Number { text, .. } => {
            Err(VnnlibError::new(tok.pos, format!("{what} must be a non-negative integer, found {text}")))
        }
        _ => Err(VnnlibError::new(tok.pos, format!("expected {what}"))),
    }
}

/// A declared tensor: (network index, kind, index in that kind's list).
pub(crate) type TensorSlot = (usize, VarKind, usize);

/// Where things were declared, for error messages and cross-checks.
struct Positions {
    relation_target: Option<Pos>,
    /// (name, element type) positions of inputs, hidden, outputs.
    tensors: [Vec<(Pos, Pos)>; 3],
}

/// Everything the 2.x parser has declared so far.
#[derive(Default)]
pub(crate) struct Decls {
    pub(crate) networks: Vec<NetworkDecl>,
    positions: Vec<Positions>,
    /// Every declared name (networks and tensors); `None` marks a network name.
    pub(crate) names: HashMap<String, (Pos, Option<TensorSlot>)>,
}

impl Decls {
    fn claim(&mut self, name: &str, pos: Pos, what: Option<(usize, VarKind, usize)>) -> Result<(), VnnlibError> {
        if let Some((first, _)) = self.names.get(name) {
            return Err(VnnlibError::new(
                pos,
                format!("duplicate name '{name}' (first declared at {}:{})", first.line, first.column),
            ));
        }
        self.names.insert(name.to_string(), (pos, what));
        Ok(())
    }
}

/// `real` gives permission to analyse over the reals; the standard requires it to be used exclusively.
pub(crate) fn check_real_exclusive(d: &Decls) -> Result<(), VnnlibError> {
    let all = || {
        d.networks.iter().zip(&d.positions).flat_map(|(n, p)| {
            [&n.inputs, &n.hidden, &n.outputs].into_iter().zip(&p.tensors).flat_map(|(ts, ps)| ts.iter().zip(ps))
        })
    };
    if all().any(|(t, _)| t.elem_type == "real") {
        if let Some((t, (_, ty_pos))) = all().find(|(t, _)| t.elem_type != "real") {
            return Err(VnnlibError::new(
                *ty_pos,
                format!(
                    "element type {} mixed with 'real': a real-valued query must use 'real' for every tensor",
                    t.elem_type
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn parse_network(form: &SExpr, items: &[SExpr], d: &mut Decls) -> Result<(), VnnlibError> {
    let (name, name_pos) = name_at(form, items, 1, "a network name")?;
    let net_index = d.networks.len();
    d.claim(name, name_pos, None)?;
    let mut net =
        NetworkDecl { name: name.to_string(), inputs: vec![], hidden: vec![], outputs: vec![], relation: None };
    let mut pos = Positions { relation_target: None, tensors: [vec![], vec![], vec![]] };
    // 0: relations, 1: inputs, 2: hidden, 3: outputs (the grammar's order).
    let mut phase = 0;
    for part in &items[2..] {
        let head = part.head().unwrap_or("");
        let (kind, part_phase) = match head {
            "equal-to" | "isomorphic-to" => (None, 0),
            "declare-input" => (Some(VarKind::Input), 1),
            "declare-hidden" => (Some(VarKind::Hidden), 2),
            "declare-output" => (Some(VarKind::Output), 3),
            _ => {
                return Err(VnnlibError::new(
                    part.pos(),
                    format!(
                        "expected declare-input, declare-hidden, declare-output, equal-to or isomorphic-to, found {}",
                        part.describe()
                    ),
                ))
            }
        };
        if part_phase < phase || (part_phase == 0 && net.relation.is_some()) {
            let msg = match part_phase {
                0 if net.relation.is_some() => "a network may have at most one equal-to/isomorphic-to".to_string(),
                _ => format!("'{head}' is out of order (expected: equal-to/isomorphic-to, declare-input+, declare-hidden*, declare-output+)"),
            };
            return Err(VnnlibError::new(part.pos(), msg));
        }
        phase = part_phase;
        let SExpr::List { items: sub, .. } = part else {
            continue;
        };
        match kind {
            None => {
                let (target, tpos) = name_at(part, sub, 1, "a network name")?;
                if let Some(extra) = sub.get(2) {
                    return Err(VnnlibError::new(extra.pos(), format!("unexpected extra operand of '{head}'")));
                }
                let rel = if head == "equal-to" { Relation::EqualTo } else { Relation::IsomorphicTo };
                net.relation = Some((rel, target.to_string()));
                pos.relation_target = Some(tpos);
            }
            Some(k) => {
                let list = match k {
                    VarKind::Input => &mut net.inputs,
                    VarKind::Hidden => &mut net.hidden,
                    VarKind::Output => &mut net.outputs,
                };
                let (t, tp) = parse_tensor(part, sub, k)?;
                d.claim(&t.name, tp.0, Some((net_index, k, list.len())))?;
                list.push(t);
                pos.tensors[k as usize].push(tp);
            }
        }
    }
    for (list, what) in [(&net.inputs, "declare-input"), (&net.outputs, "declare-output")] {
        if list.is_empty() {
            return Err(VnnlibError::new(name_pos, format!("network '{name}' needs at least one {what}")));
        }
    }
    check_relation(&net, &pos, d)?;
    d.networks.push(net);
    d.positions.push(pos);
    Ok(())
}

/// `(declare-input X float32 [1,6] [initialized])`, `(declare-hidden H t [..] "onnx")`,
/// `(declare-output Y t [..])`. Returns the declaration and its (name, type) positions.
fn parse_tensor(part: &SExpr, sub: &[SExpr], kind: VarKind) -> Result<(TensorDecl, (Pos, Pos)), VnnlibError> {
    let (name, name_pos) = name_at(part, sub, 1, "a tensor name")?;
    let (ty, ty_pos) = name_at(part, sub, 2, "an element type")?;
    let Some(SExpr::Index { open, items: dims }) = sub.get(3) else {
        let at = sub.get(3).map_or(part.pos(), SExpr::pos);
        return Err(VnnlibError::new(at, "expected a shape such as [1,6] or []"));
    };
    let mut shape = Vec::with_capacity(dims.len());
    let mut numel: usize = 1;
    for tok in dims {
        let dim = usize_of(tok, "dimension")?;
        numel = numel.saturating_mul(dim);
        shape.push(dim);
    }
    if numel > MAX_TENSOR_ELEMENTS {
        return Err(VnnlibError::new(*open, format!("tensor '{name}' has more than {MAX_TENSOR_ELEMENTS} elements")));
    }
    let mut onnx_name = None;
    let rest = &sub[4..];
    match (kind, rest) {
        (VarKind::Input, []) | (VarKind::Output, []) => {}
        // 2.1's optional `initialized` flag: accepted, carries nothing for the verifier.
        (VarKind::Input, [flag]) if flag.symbol() == Some("initialized") => {}
        (VarKind::Hidden, [SExpr::Atom(Token { kind: TokenKind::Str(s), .. })]) => onnx_name = Some(s.clone()),
        (VarKind::Hidden, []) => {
            return Err(VnnlibError::new(part.pos(), "declare-hidden needs the ONNX tensor name as a quoted string"))
        }
        (_, [extra, ..]) => {
            return Err(VnnlibError::new(
                extra.pos(),
                format!("unexpected {} in a tensor declaration", extra.describe()),
            ))
        }
    }
    let decl = TensorDecl { name: name.to_string(), elem_type: ty.to_string(), shape, onnx_name };
    Ok((decl, (name_pos, ty_pos)))
}

/// The typing rules NetworkEq / NetworkIso: the target exists, has no relation itself, and the
/// input/output lists match in shape (and, for equal-to, in element type).
fn check_relation(net: &NetworkDecl, pos: &Positions, d: &Decls) -> Result<(), VnnlibError> {
    let (Some((rel, target)), Some(tpos)) = (&net.relation, pos.relation_target) else {
        return Ok(());
    };
    let Some(other_idx) = d.networks.iter().position(|n| &n.name == target) else {
        return Err(VnnlibError::new(
            tpos,
            format!("undeclared network '{target}' (it must be declared before '{}')", net.name),
        ));
    };
    let other = &d.networks[other_idx];
    if other.relation.is_some() {
        return Err(VnnlibError::new(
            tpos,
            format!("network '{target}' is itself equal-to/isomorphic-to another network; refer to that one"),
        ));
    }
    let same_type = *rel == Relation::EqualTo;
    let pairs = [
        (&net.inputs, &other.inputs, &pos.tensors[0], "inputs"),
        (&net.outputs, &other.outputs, &pos.tensors[2], "outputs"),
    ];
    for (mine, theirs, ps, what) in pairs {
        if mine.len() != theirs.len() {
            return Err(VnnlibError::new(
                tpos,
                format!("'{}' declares {} {what} but '{target}' declares {}", net.name, mine.len(), theirs.len()),
            ));
        }
        for ((a, b), (npos, _)) in mine.iter().zip(theirs).zip(ps) {
            if a.shape != b.shape || (same_type && a.elem_type != b.elem_type) {
                return Err(VnnlibError::new(
                    *npos,
                    format!(
                        "'{}' ({} {:?}) does not match '{}' ({} {:?}) of '{target}'",
                        a.name, a.elem_type, a.shape, b.name, b.elem_type, b.shape
                    ),
                ));
            }
        }
    }
    if same_type {
        for (h, (npos, _)) in net.hidden.iter().zip(&pos.tensors[1]) {
            if let Some(o) = other.hidden.iter().find(|o| o.onnx_name == h.onnx_name) {
                if o.shape != h.shape || o.elem_type != h.elem_type {
                    return Err(VnnlibError::new(
                        *npos,
                        format!(
                            "hidden '{}' names the same ONNX tensor as '{}' of '{target}' but differs in type or shape",
                            h.name, o.name
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
