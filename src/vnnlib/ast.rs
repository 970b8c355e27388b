//! Typed AST of a parsed VNN-LIB query (both dialects): network/tensor declarations and the
//! assertions as formulas over resolved variables, each node keeping its source position.

use super::lexer::Pos;

/// Which dialect the file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// VNN-LIB 1.0 / VNN-COMP: `declare-const X_i Real`, one implicit network.
    V1,
    /// VNN-LIB 2.x: `(vnnlib-version <2.x>)` and explicit `declare-network`s.
    V2,
}

/// A parsed, scope- and type-checked query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub version: Version,
    /// Declared networks in file order. A 1.0 file has one implicit network named `N` with one
    /// input `X` of shape `[n]` and one output `Y` of shape `[m]` (`Real` elements).
    pub networks: Vec<NetworkDecl>,
    /// The assertions in file order; the query asks for all of them to hold.
    pub assertions: Vec<Formula>,
}

/// `equal-to` (same model file) or `isomorphic-to` (same graph, other weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    EqualTo,
    IsomorphicTo,
}

/// One `declare-network`.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkDecl {
    pub name: String,
    pub inputs: Vec<TensorDecl>,
    pub hidden: Vec<TensorDecl>,
    pub outputs: Vec<TensorDecl>,
    /// The relation to an earlier network, by that network's name.
    pub relation: Option<(Relation, String)>,
}

/// One `declare-input` / `declare-hidden` / `declare-output`.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorDecl {
    pub name: String,
    /// Element type as written (`float32`, `real`, ...; `Real` for 1.0).
    pub elem_type: String,
    /// Dimensions; `[]` is a scalar.
    pub shape: Vec<usize>,
    /// ONNX tensor name (hidden tensors only).
    pub onnx_name: Option<String>,
}

impl TensorDecl {
    /// Number of scalar elements (1 for a scalar; saturates instead of overflowing).
    pub fn numel(&self) -> usize {
        self.shape.iter().fold(1usize, |a, &d| a.saturating_mul(d))
    }

    /// Row-major flat index of a multi-index, or `None` if the arity or a bound is wrong.
    pub fn flat_index(&self, idx: &[usize]) -> Option<usize> {
        if idx.len() != self.shape.len() {
            return None;
        }
        idx.iter().zip(&self.shape).try_fold(
            0usize,
            |acc, (&i, &d)| {
                if i < d {
                    acc.checked_mul(d)?.checked_add(i)
                } else {
                    None
                }
            },
        )
    }

    /// The multi-index of a row-major flat index (inverse of [`TensorDecl::flat_index`]).
    pub fn multi_index(&self, mut flat: usize) -> Vec<usize> {
        let mut idx = vec![0; self.shape.len()];
        for (k, &d) in self.shape.iter().enumerate().rev() {
            if d > 0 {
                idx[k] = flat % d;
                flat /= d;
            }
        }
        idx
    }
}

/// Input, hidden or output tensor of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum VarKind {
    Input,
    Hidden,
    Output,
}

/// A variable: which network (index into `Query::networks`), input/hidden/output, which declared
/// tensor (index into that list), flat row-major element index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Var {
    pub network: usize,
    pub kind: VarKind,
    pub tensor: usize,
    pub index: usize,
}

/// Comparison operators (`=` and `==` are both `Eq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Le,
    Lt,
    Ge,
    Gt,
    Eq,
    Ne,
}

impl CmpOp {
    /// The operator as VNN-LIB 2.x writes it.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Le => "<=",
            CmpOp::Lt => "<",
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }

    /// Does `lhs op rhs` hold?
    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            CmpOp::Le => lhs <= rhs,
            CmpOp::Lt => lhs < rhs,
            CmpOp::Ge => lhs >= rhs,
            CmpOp::Gt => lhs > rhs,
            CmpOp::Eq => lhs == rhs,
            CmpOp::Ne => lhs != rhs,
        }
    }

    /// The operator with its sides swapped (`a < b` iff `b > a`), e.g. after dividing by a negative.
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Ge => CmpOp::Le,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
        }
    }
}

/// A Boolean formula; `pos` is the operator token.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    Cmp { op: CmpOp, lhs: Expr, rhs: Expr, pos: Pos },
    And(Vec<Formula>, Pos),
    Or(Vec<Formula>, Pos),
}

impl Formula {
    /// Position of the operator token.
    pub fn pos(&self) -> Pos {
        match self {
            Formula::Cmp { pos, .. } | Formula::And(_, pos) | Formula::Or(_, pos) => *pos,
        }
    }
}

/// An arithmetic expression; the parser guarantees it is linear (no product of two variable terms).
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Const(f64),
    Var(Var),
    Neg(Box<Expr>),
    /// `(+ a b ...)`
    Add(Vec<Expr>),
    /// `(- a b ...)`, left-associative: `a - b - ...`
    Sub(Vec<Expr>),
    /// `(* a b ...)`
    Mul(Vec<Expr>),
}

impl Query {
    /// The declaration of the tensor a variable belongs to, if the variable is valid for this query.
    pub fn tensor(&self, v: &Var) -> Option<&TensorDecl> {
        let net = self.networks.get(v.network)?;
        let list = match v.kind {
            VarKind::Input => &net.inputs,
            VarKind::Hidden => &net.hidden,
            VarKind::Output => &net.outputs,
        };
        list.get(v.tensor)
    }

    /// The variable as the file would write it: `X_3` (1.0) or `X[0,3]` / `Y` (2.x).
    pub fn var_name(&self, v: &Var) -> String {
        let Some(t) = self.tensor(v) else {
            return format!("{v:?}");
        };
        match self.version {
            Version::V1 => format!("{}_{}", t.name, v.index),
            Version::V2 if t.shape.is_empty() => t.name.clone(),
            Version::V2 => {
                let idx: Vec<String> = t.multi_index(v.index).iter().map(|i| i.to_string()).collect();
                format!("{}[{}]", t.name, idx.join(","))
            }
        }
    }
}
