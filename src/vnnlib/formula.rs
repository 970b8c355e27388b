//! Parses the body of an `(assert ...)` into a [`Formula`], for both dialects: connectives,
//! comparisons, linear arithmetic, element-type agreement; variable names go through a [`Resolver`].

use super::ast::{CmpOp, Expr, Formula, Var, Version};
use super::error::VnnlibError;
use super::lexer::{Pos, Token, TokenKind};
use super::sexpr::SExpr;

/// Dialect-specific lookup of variable references.
pub(crate) trait Resolver {
    fn version(&self) -> Version;
    /// Resolves `name` at `pos`, with the `[...]` group (its `[` position and numbers) that
    /// follows it, if any. Returns the variable and its element type.
    fn resolve(&self, name: &str, pos: Pos, index: Option<(Pos, &[Token])>) -> Result<(Var, String), VnnlibError>;
}

/// What the type checker knows about an arithmetic expression.
#[derive(Debug, Clone, Default)]
struct Info {
    has_var: bool,
    /// Element type and the position of the variable that fixed it.
    ty: Option<(String, Pos)>,
    /// Position of the first constant with a fractional part.
    frac_const: Option<Pos>,
}

impl Info {
    fn merge(mut self, other: Info) -> Result<Info, VnnlibError> {
        match (&self.ty, other.ty) {
            (Some((a, apos)), Some((b, bpos))) if *a != b => {
                return Err(VnnlibError::new(
                    bpos,
                    format!(
                        "element type mismatch: {b} here but {a} at {}:{} (VNN-LIB allows no coercion)",
                        apos.line, apos.column
                    ),
                ))
            }
            (None, t @ Some(_)) => self.ty = t,
            _ => {}
        }
        self.has_var |= other.has_var;
        self.frac_const = self.frac_const.or(other.frac_const);
        Ok(self)
    }
}

fn cmp_op(s: &str) -> Option<CmpOp> {
    Some(match s {
        "<=" => CmpOp::Le,
        "<" => CmpOp::Lt,
        ">=" => CmpOp::Ge,
        ">" => CmpOp::Gt,
        "=" | "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        _ => return None,
    })
}

fn is_integer_type(ty: &str) -> bool {
    ty.starts_with("int") || ty.starts_with("uint")
}

/// Splits a list into (operator symbol, operator position, operands).
fn operator<'a>(e: &'a SExpr, what: &str) -> Result<(&'a str, Pos, &'a [SExpr]), VnnlibError> {
    let SExpr::List { open, items } = e else {
        return Err(VnnlibError::new(e.pos(), format!("expected {what}, found {}", e.describe())));
    };
    let Some(first) = items.first() else {
        return Err(VnnlibError::new(*open, format!("expected {what}, found '()'")));
    };
    match first.symbol() {
        Some(op) => Ok((op, first.pos(), &items[1..])),
        None => Err(VnnlibError::new(first.pos(), format!("expected an operator, found {}", first.describe()))),
    }
}

/// Parses a Boolean formula (the body of an assertion, or an operand of `and`/`or`).
pub(crate) fn parse_bool(e: &SExpr, r: &dyn Resolver) -> Result<Formula, VnnlibError> {
    let (op, pos, args) = operator(e, "a Boolean formula '(op ...)'")?;
    match op {
        "and" | "or" => {
            if args.is_empty() {
                return Err(VnnlibError::new(pos, format!("'{op}' needs at least one operand")));
            }
            let parts = args.iter().map(|a| parse_bool(a, r)).collect::<Result<Vec<_>, _>>()?;
            Ok(if op == "and" { Formula::And(parts, pos) } else { Formula::Or(parts, pos) })
        }
        _ => {
            if let Some(cmp) = cmp_op(op) {
                return parse_comparison(cmp, op, pos, args, r);
            }
            let msg = match op {
                "not" | "=>" | "xor" | "ite" | "distinct" => {
                    format!("'{op}' is not part of VNN-LIB (use comparisons combined with 'and'/'or')")
                }
                "+" | "-" | "*" => {
                    format!("expected a Boolean formula, found arithmetic '({op} ...)'")
                }
                _ => format!("unknown Boolean operator '{op}'"),
            };
            Err(VnnlibError::new(pos, msg))
        }
    }
}

fn parse_comparison(op: CmpOp, text: &str, pos: Pos, args: &[SExpr], r: &dyn Resolver) -> Result<Formula, VnnlibError> {
    let operands = parse_arith_seq(args, r)?;
    let n = operands.len();
    let Ok([(lhs, linfo), (rhs, rinfo)]) = <[_; 2]>::try_from(operands) else {
        return Err(VnnlibError::new(pos, format!("'{text}' takes exactly 2 operands, found {n}")));
    };
    let info = linfo.merge(rinfo)?;
    if !info.has_var && r.version() == Version::V2 {
        return Err(VnnlibError::new(pos, "comparison with no variable (its element type is undefined)"));
    }
    if let (Some((ty, _)), Some(cpos)) = (&info.ty, info.frac_const) {
        if is_integer_type(ty) {
            return Err(VnnlibError::new(cpos, format!("constant with a fractional part compared with {ty} values")));
        }
    }
    Ok(Formula::Cmp { op, lhs, rhs, pos })
}

/// Parses a sequence of arithmetic operands; `name [i,j]` pairs become one indexed variable.
fn parse_arith_seq(items: &[SExpr], r: &dyn Resolver) -> Result<Vec<(Expr, Info)>, VnnlibError> {
    let mut out = Vec::with_capacity(items.len());
    let mut i = 0;
    while i < items.len() {
        let item = &items[i];
        i += 1;
        let parsed = match item {
            SExpr::Atom(tok) => match &tok.kind {
                TokenKind::Symbol(name) => {
                    let index = match items.get(i) {
                        Some(SExpr::Index { open, items: idx }) => {
                            i += 1;
                            Some((*open, idx.as_slice()))
                        }
                        _ => None,
                    };
                    let (var, ty) = r.resolve(name, tok.pos, index)?;
                    let info = Info { has_var: true, ty: Some((ty, tok.pos)), frac_const: None };
                    (Expr::Var(var), info)
                }
                TokenKind::Number { value, .. } => {
                    let info = Info { frac_const: (value.fract() != 0.0).then_some(tok.pos), ..Info::default() };
                    (Expr::Const(*value), info)
                }
                k => {
                    return Err(VnnlibError::new(
                        tok.pos,
                        format!("expected an arithmetic expression, found {}", super::sexpr::describe_token(k)),
                    ))
                }
            },
            SExpr::Index { open, .. } => {
                return Err(VnnlibError::new(*open, "an index '[...]' must directly follow a variable name"))
            }
            SExpr::List { .. } => parse_arith(item, r)?,
        };
        out.push(parsed);
    }
    Ok(out)
}

/// Parses `(- a)`, `(+ a ...)`, `(- a b ...)`, `(* a ...)`; rejects products of variable terms.
fn parse_arith(e: &SExpr, r: &dyn Resolver) -> Result<(Expr, Info), VnnlibError> {
    let (op, pos, args) = operator(e, "an arithmetic expression")?;
    if !matches!(op, "+" | "-" | "*") {
        let msg = if cmp_op(op).is_some() || matches!(op, "and" | "or") {
            format!("expected an arithmetic expression, found Boolean '({op} ...)'")
        } else {
            format!("unknown arithmetic operator '{op}' (supported: + - *)")
        };
        return Err(VnnlibError::new(pos, msg));
    }
    let operands = parse_arith_seq(args, r)?;
    if operands.is_empty() {
        return Err(VnnlibError::new(pos, format!("'{op}' needs at least one operand")));
    }
    let var_factors = operands.iter().filter(|(_, i)| i.has_var).count();
    if op == "*" && var_factors > 1 {
        return Err(VnnlibError::new(pos, "non-linear term: product of two expressions that contain variables"));
    }
    let mut info = Info::default();
    let mut exprs = Vec::with_capacity(operands.len());
    for (x, i) in operands {
        info = info.merge(i)?;
        exprs.push(x);
    }
    let expr = match op {
        "+" => Expr::Add(exprs),
        "*" => Expr::Mul(exprs),
        _ if exprs.len() == 1 => Expr::Neg(Box::new(exprs.remove(0))),
        _ => Expr::Sub(exprs),
    };
    Ok((expr, info))
}
