//! Normalises a parsed [`Query`] into what the verifier solves: per-input box bounds plus the rest
//! of the condition in disjunctive normal form over linear constraints `Σ a·v op rhs`.

use std::collections::{BTreeMap, HashMap};

use super::ast::{CmpOp, Expr, Formula, Query, Var, VarKind};
use super::error::VnnlibError;
use super::lexer::Pos;

/// Most disjuncts the DNF may have before [`to_property`] gives up.
pub const MAX_DISJUNCTS: usize = 100_000;
/// Most constraints (summed over all disjuncts) the DNF may hold.
pub const MAX_DNF_CONSTRAINTS: usize = 10_000_000;

/// `Σ coef·var op rhs`, terms sorted by variable, merged, with no zero coefficient.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearConstraint {
    pub terms: Vec<(Var, f64)>,
    pub op: CmpOp,
    pub rhs: f64,
}

/// The query as the verifier sees it: `∀ net, tensor: lower ≤ x ≤ upper` and `OR_k AND disjuncts[k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Per network, per input tensor: box bounds (lower, upper) collected from single-variable
    /// input constraints that hold in every disjunct (−inf/+inf when absent). Strict bounds enter
    /// as their closure and also stay in the disjuncts; lower > upper is kept (trivially unsat).
    pub input_boxes: Vec<Vec<(Vec<f64>, Vec<f64>)>>,
    /// The remaining condition in DNF: OR over disjuncts, each an AND of linear constraints.
    /// `[]` means false (unsat whatever the box); `[[]]` means no condition beyond the box.
    pub disjuncts: Vec<Vec<LinearConstraint>>,
}

type Dnf = Vec<Vec<LinearConstraint>>;

/// A linear expression `Σ terms + constant`.
#[derive(Default)]
struct Lin {
    terms: BTreeMap<Var, f64>,
    constant: f64,
}

impl Lin {
    fn scale(mut self, k: f64) -> Lin {
        self.terms.values_mut().for_each(|c| *c *= k);
        self.constant *= k;
        self
    }

    fn add(mut self, other: Lin, sign: f64) -> Lin {
        for (v, c) in other.terms {
            *self.terms.entry(v).or_insert(0.0) += sign * c;
        }
        self.constant += sign * other.constant;
        self
    }
}

fn linear(e: &Expr, pos: Pos) -> Result<Lin, VnnlibError> {
    Ok(match e {
        Expr::Const(c) => Lin { terms: BTreeMap::new(), constant: *c },
        Expr::Var(v) => Lin { terms: BTreeMap::from([(*v, 1.0)]), constant: 0.0 },
        Expr::Neg(a) => linear(a, pos)?.scale(-1.0),
        Expr::Add(xs) => xs.iter().try_fold(Lin::default(), |acc, x| Ok(acc.add(linear(x, pos)?, 1.0)))?,
        Expr::Sub(xs) => {
            let mut it = xs.iter();
            let first = it.next().map_or(Ok(Lin::default()), |x| linear(x, pos))?;
            it.try_fold(first, |acc, x| Ok::<_, VnnlibError>(acc.add(linear(x, pos)?, -1.0)))?
        }
        Expr::Mul(xs) => {
            let mut acc = Lin { terms: BTreeMap::new(), constant: 1.0 };
            for x in xs {
                let f = linear(x, pos)?;
                acc = match (acc.terms.is_empty(), f.terms.is_empty()) {
                    (true, _) => f.scale(acc.constant),
                    (false, true) => acc.scale(f.constant),
                    _ => {
                        return Err(VnnlibError::new(
                            pos,
                            "non-linear term: product of two expressions that contain variables",
                        ))
                    }
                };
            }
            acc
        }
    })
}

/// `lhs op rhs` as a constraint; `None` if it has no variable left (then it is just true/false).
fn constraint(op: CmpOp, lhs: &Expr, rhs: &Expr, pos: Pos) -> Result<Result<LinearConstraint, bool>, VnnlibError> {
    let diff = linear(lhs, pos)?.add(linear(rhs, pos)?, -1.0);
    let terms: Vec<(Var, f64)> = diff.terms.into_iter().filter(|&(_, c)| c != 0.0).collect();
    let rhs = -diff.constant + 0.0;
    if !rhs.is_finite() || terms.iter().any(|(_, c)| !c.is_finite()) {
        return Err(VnnlibError::new(pos, "constant arithmetic overflows a 64-bit float"));
    }
    if terms.is_empty() {
        return Ok(Err(op.holds(0.0, rhs)));
    }
    Ok(Ok(LinearConstraint { terms, op, rhs }))
}

fn truth(b: bool) -> Dnf {
    if b {
        vec![vec![]]
    } else {
        vec![]
    }
}

fn cap_error(pos: Pos) -> VnnlibError {
    VnnlibError::new(pos, format!("the disjunctive normal form has more than {MAX_DISJUNCTS} disjuncts (or {MAX_DNF_CONSTRAINTS} constraints); the cap was reached here"))
}

/// `a AND b` distributed: every pair of disjuncts, with the caps checked first.
fn product(a: Dnf, b: &Dnf, pos: Pos) -> Result<Dnf, VnnlibError> {
    let n = a.len().checked_mul(b.len()).filter(|&n| n <= MAX_DISJUNCTS).ok_or_else(|| cap_error(pos))?;
    let size_a: usize = a.iter().map(Vec::len).sum();
    let size_b: usize = b.iter().map(Vec::len).sum();
    let total = size_a.saturating_mul(b.len()).saturating_add(size_b.saturating_mul(a.len()));
    if total > MAX_DNF_CONSTRAINTS {
        return Err(cap_error(pos));
    }
    let mut out = Vec::with_capacity(n);
    for x in &a {
        for y in b {
            out.push(x.iter().chain(y).cloned().collect());
        }
    }
    Ok(out)
}

fn dnf(f: &Formula) -> Result<Dnf, VnnlibError> {
    match f {
        Formula::Cmp { op, lhs, rhs, pos } => Ok(match constraint(*op, lhs, rhs, *pos)? {
            Err(b) => truth(b),
            Ok(c) if c.op == CmpOp::Ne => {
                let split = |op| LinearConstraint { op, ..c.clone() };
                vec![vec![split(CmpOp::Lt)], vec![split(CmpOp::Gt)]]
            }
            Ok(c) => vec![vec![c]],
        }),
        Formula::And(parts, pos) => parts.iter().try_fold(truth(true), |acc, p| product(acc, &dnf(p)?, *pos)),
        Formula::Or(parts, pos) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(dnf(p)?);
                if out.len() > MAX_DISJUNCTS {
                    return Err(cap_error(*pos));
                }
            }
            Ok(out)
        }
    }
}

/// Collects the top-level conjuncts: `and`s are flattened, so is an `or` with one operand.
fn conjuncts<'a>(f: &'a Formula, out: &mut Vec<&'a Formula>) {
    match f {
        Formula::And(parts, _) => parts.iter().for_each(|p| conjuncts(p, out)),
        Formula::Or(parts, _) if parts.len() == 1 => conjuncts(&parts[0], out),
        _ => out.push(f),
    }
}

/// A box bound carried by a constraint: `(var, lower, upper, exact)`. `exact` is false when the
/// bound had to be divided by a coefficient other than ±1 (it is then rounded outwards and the
/// constraint must stay in the disjuncts).
fn box_bound(c: &LinearConstraint) -> Option<(Var, f64, f64, bool)> {
    let [(v, a)] = c.terms[..] else { return None };
    if v.kind != VarKind::Input {
        return None;
    }
    let value = c.rhs / a + 0.0;
    if !value.is_finite() {
        return None;
    }
    let exact = exact_quotient(value, a, c.rhs);
    let (lo, hi) = if exact { (value, value) } else { (value.next_down(), value.next_up()) };
    let op = if a < 0.0 { c.op.flipped() } else { c.op };
    Some(match op {
        CmpOp::Le | CmpOp::Lt => (v, f64::NEG_INFINITY, hi, exact),
        CmpOp::Ge | CmpOp::Gt => (v, lo, f64::INFINITY, exact),
        CmpOp::Eq => (v, lo, hi, exact),
        CmpOp::Ne => return None,
    })
}

/// Is `value` exactly `rhs / a` (so `a·x op rhs` and `x op' value` are the same constraint)?
/// The fused residual `value·a − rhs` is exact unless it underflows, which the magnitude
/// guard rules out.
fn exact_quotient(value: f64, a: f64, rhs: f64) -> bool {
    a == 1.0 || a == -1.0 || rhs == 0.0 || (rhs.abs() >= 1e-150 && value.mul_add(a, -rhs) == 0.0)
}

/// Tightest box bounds per variable implied by a conjunction.
fn conj_bounds(cs: &[LinearConstraint]) -> HashMap<Var, (f64, f64)> {
    let mut m: HashMap<Var, (f64, f64)> = HashMap::new();
    for (v, lo, hi, _) in cs.iter().filter_map(box_bound) {
        let e = m.entry(v).or_insert((f64::NEG_INFINITY, f64::INFINITY));
        *e = (e.0.max(lo), e.1.min(hi));
    }
    m
}

/// Is `c` an exact single-input bound already implied by the box `(lo, hi)` of its variable?
fn implied_by_box(c: &LinearConstraint, lo: f64, hi: f64) -> bool {
    let Some((_, _, _, true)) = box_bound(c) else {
        return false;
    };
    let Some(&(_, a)) = c.terms.first() else {
        return false;
    };
    let value = c.rhs / a + 0.0;
    match if a < 0.0 { c.op.flipped() } else { c.op } {
        CmpOp::Le => hi <= value,
        CmpOp::Lt => hi < value,
        CmpOp::Ge => lo >= value,
        CmpOp::Gt => lo > value,
        CmpOp::Eq => lo == value && hi == value,
        CmpOp::Ne => false,
    }
}

/// Normalises the query: linearises every comparison, moves single-variable input bounds that
/// hold in every disjunct into `input_boxes`, and distributes the rest into DNF (capped).
pub fn to_property(q: &Query) -> Result<Property, VnnlibError> {
    let mut top = Vec::new();
    q.assertions.iter().for_each(|f| conjuncts(f, &mut top));
    // Conjuncts with one disjunct are common to all disjuncts; the others get multiplied out.
    let mut common: Vec<LinearConstraint> = Vec::new();
    let mut multi: Dnf = truth(true);
    for f in top {
        let mut d = dnf(f)?;
        if d.len() == 1 {
            common.append(&mut d[0]);
        } else {
            multi = product(multi, &d, f.pos())?;
        }
    }
    let common_bounds = conj_bounds(&common);
    // Box = common bounds ∩ hull over disjuncts of each disjunct's own bounds.
    let mut bounds = common_bounds.clone();
    if let Some((first, rest)) = multi.split_first() {
        let mut hull = conj_bounds(first);
        for d in rest {
            let b = conj_bounds(d);
            hull.retain(|v, _| b.contains_key(v));
            for (v, h) in hull.iter_mut() {
                if let Some(&(lo, hi)) = b.get(v) {
                    *h = (h.0.min(lo), h.1.max(hi));
                }
            }
        }
        for (v, (lo, hi)) in hull {
            let e = bounds.entry(v).or_insert((f64::NEG_INFINITY, f64::INFINITY));
            *e = (e.0.max(lo), e.1.min(hi));
        }
    }
    let mut input_boxes: Vec<Vec<(Vec<f64>, Vec<f64>)>> = q
        .networks
        .iter()
        .map(|n| {
            n.inputs.iter().map(|t| (vec![f64::NEG_INFINITY; t.numel()], vec![f64::INFINITY; t.numel()])).collect()
        })
        .collect();
    for (v, &(lo, hi)) in &bounds {
        let slot = input_boxes.get_mut(v.network).and_then(|n| n.get_mut(v.tensor));
        match slot {
            Some((l, u)) if v.index < l.len() => {
                l[v.index] = lo;
                u[v.index] = hi;
            }
            _ => return Err(VnnlibError::new(Pos::default(), format!("variable {v:?} is not declared in the query"))),
        }
    }
    let keep = |c: &LinearConstraint| match c.terms.first() {
        Some((v, _)) if c.terms.len() == 1 && v.kind == VarKind::Input => {
            let (lo, hi) = bounds.get(v).copied().unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
            !implied_by_box(c, lo, hi)
        }
        _ => true,
    };
    let common_rest: Vec<LinearConstraint> = common.into_iter().filter(|c| keep(c)).collect();
    let total = common_rest.len().saturating_mul(multi.len()).saturating_add(multi.iter().map(Vec::len).sum());
    if total > MAX_DNF_CONSTRAINTS {
        return Err(cap_error(q.assertions.first().map_or(Pos::default(), Formula::pos)));
    }
    let disjuncts = multi
        .into_iter()
        .map(|d| common_rest.iter().cloned().chain(d.into_iter().filter(|c| keep(c))).collect())
        .collect();
    Ok(Property { input_boxes, disjuncts })
}
