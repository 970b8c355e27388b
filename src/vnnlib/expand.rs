//! Queries over several input, output or hidden tensors (theories MIO and H) as queries over
//! networks with one input and one output tensor each: a network's inputs become one vector (in
//! declaration order, which is the ONNX graph's input order), and every further output and every
//! hidden tensor becomes a network of its own, cut at that tensor and reading the same inputs.

use super::ast::{CmpOp, Expr, Formula, NetworkDecl, Query, TensorDecl, Var, VarKind};
use super::lexer::Pos;

/// Which tensor of its file an expanded network computes.
#[derive(Clone, Debug, PartialEq)]
pub enum Tap {
    /// Graph output number `k`.
    Output(usize),
    /// A hidden tensor, by its ONNX name.
    Hidden(String),
}

/// A query whose networks have one input and one output tensor each.
#[derive(Clone, Debug)]
pub struct Expanded {
    pub query: Query,
    /// Per network of `query`: the declared network it comes from and the tensor it computes
    /// (the declared networks first, in order, each with its output 0).
    pub origins: Vec<(usize, Tap)>,
}

impl Expanded {
    /// The network of the expanded query computing output `t` of declared network `n`.
    pub fn output_network(&self, n: usize, t: usize) -> Option<usize> {
        self.origins.iter().position(|o| *o == (n, Tap::Output(t)))
    }
}

/// The expanded query (the query itself when every network has one input, one output and no
/// hidden tensor). Inputs declared with different element types cannot share one vector: an error.
pub fn expand(q: &Query) -> Result<Expanded, String> {
    let mut networks: Vec<NetworkDecl> = Vec::new();
    let mut origins: Vec<(usize, Tap)> = Vec::new();
    let mut merged: Vec<TensorDecl> = Vec::new();
    for (k, n) in q.networks.iter().enumerate() {
        let input = merge_inputs(n)?;
        let mut declared = n.clone();
        (declared.inputs, declared.hidden) = (vec![input.clone()], Vec::new());
        declared.outputs.truncate(1);
        networks.push(declared);
        origins.push((k, Tap::Output(0)));
        merged.push(input);
    }
    let mut extra = Vec::new();
    for (k, n) in q.networks.iter().enumerate() {
        let taps = n.outputs.iter().enumerate().skip(1).map(|(t, d)| (d, Tap::Output(t)));
        let hidden = n.hidden.iter().map(|d| (d, Tap::Hidden(d.onnx_name.clone().unwrap_or_else(|| d.name.clone()))));
        for (decl, tap) in taps.chain(hidden) {
            let input = TensorDecl { name: format!("{}@{}", merged[k].name, decl.name), ..merged[k].clone() };
            let name = format!("{}.{}", n.name, decl.name);
            networks.push(NetworkDecl {
                name,
                inputs: vec![input],
                hidden: vec![],
                outputs: vec![decl.clone()],
                relation: None,
            });
            extra.push((networks.len() - 1, k));
            origins.push((k, tap));
        }
    }
    if extra.is_empty() && q.networks.iter().all(|n| n.inputs.len() == 1) {
        return Ok(Expanded { query: q.clone(), origins });
    }
    let var = |v: &Var| -> Var {
        let n = &q.networks[v.network];
        match v.kind {
            VarKind::Input => {
                let offset: usize = n.inputs[..v.tensor].iter().map(TensorDecl::numel).sum();
                Var { tensor: 0, index: offset + v.index, ..*v }
            }
            VarKind::Output if v.tensor == 0 => *v,
            kind => {
                let tap = match kind {
                    VarKind::Output => Tap::Output(v.tensor),
                    _ => Tap::Hidden(
                        n.hidden[v.tensor].onnx_name.clone().unwrap_or_else(|| n.hidden[v.tensor].name.clone()),
                    ),
                };
                let network = origins.iter().position(|o| *o == (v.network, tap.clone())).unwrap_or(v.network);
                Var { network, kind: VarKind::Output, tensor: 0, index: v.index }
            }
        }
    };
    let mut assertions: Vec<Formula> = q.assertions.iter().map(|f| map_formula(f, &var)).collect();
    let pos = Pos { line: 0, column: 0 };
    for (v, parent) in extra {
        for i in 0..merged[parent].numel() {
            let at = |network| Expr::Var(Var { network, kind: VarKind::Input, tensor: 0, index: i });
            assertions.push(Formula::Cmp { op: CmpOp::Eq, lhs: at(v), rhs: at(parent), pos });
        }
    }
    Ok(Expanded { query: Query { networks, assertions, ..q.clone() }, origins })
}

/// One input tensor holding a network's inputs in order.
fn merge_inputs(n: &NetworkDecl) -> Result<TensorDecl, String> {
    match n.inputs.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!("network '{}' declares no input", n.name)),
        [first, rest @ ..] => {
            if let Some(t) = rest.iter().find(|t| t.elem_type != first.elem_type) {
                return Err(format!(
                    "network '{}': inputs {} ({}) and {} ({}) have different element types; twinverify reads a \
                     network's inputs as one vector of one type",
                    n.name, first.name, first.elem_type, t.name, t.elem_type
                ));
            }
            let names: Vec<&str> = n.inputs.iter().map(|t| t.name.as_str()).collect();
            let total = n.inputs.iter().map(TensorDecl::numel).sum();
            Ok(TensorDecl { name: names.join("+"), shape: vec![total], ..first.clone() })
        }
    }
}

fn map_formula(f: &Formula, var: &impl Fn(&Var) -> Var) -> Formula {
    match f {
        Formula::Cmp { op, lhs, rhs, pos } => {
            Formula::Cmp { op: *op, lhs: map_expr(lhs, var), rhs: map_expr(rhs, var), pos: *pos }
        }
        Formula::And(fs, pos) => Formula::And(fs.iter().map(|f| map_formula(f, var)).collect(), *pos),
        Formula::Or(fs, pos) => Formula::Or(fs.iter().map(|f| map_formula(f, var)).collect(), *pos),
    }
}

fn map_expr(e: &Expr, var: &impl Fn(&Var) -> Var) -> Expr {
    let all = |es: &[Expr]| es.iter().map(|e| map_expr(e, var)).collect();
    match e {
        Expr::Const(c) => Expr::Const(*c),
        Expr::Var(v) => Expr::Var(var(v)),
        Expr::Neg(e) => Expr::Neg(Box::new(map_expr(e, var))),
        Expr::Add(es) => Expr::Add(all(es)),
        Expr::Sub(es) => Expr::Sub(all(es)),
        Expr::Mul(es) => Expr::Mul(all(es)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vnnlib::{parse_query, to_property};

    /// Inputs become one vector (offsets in declaration order); a second output and a hidden
    /// tensor become networks reading the same inputs (identities the property states).
    #[test]
    fn tensors_become_networks_and_offsets() {
        let q = parse_query(
            "(vnnlib-version <2.0>)\n(declare-network N (declare-input A float32 [2]) (declare-input B float32 [3]) \
             (declare-hidden H float32 [1] \"h\") (declare-output Y float32 [1]) (declare-output Z float32 [2]))\n\
             (assert (>= B[1] 0.5))\n(assert (<= (+ Z[1] H[0]) Y[0]))",
        )
        .unwrap();
        let e = expand(&q).unwrap();
        let names: Vec<&str> = e.query.networks.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["N", "N.Z", "N.H"]);
        assert_eq!(e.origins, [(0, Tap::Output(0)), (0, Tap::Output(1)), (0, Tap::Hidden("h".into()))]);
        assert_eq!(e.output_network(0, 1), Some(1));
        assert!(e.query.networks.iter().all(|n| n.inputs.len() == 1 && n.outputs.len() == 1 && n.hidden.is_empty()));
        assert_eq!(e.query.networks[0].inputs[0].shape, [5]);
        let p = to_property(&e.query).unwrap();
        let all: Vec<&crate::vnnlib::LinearConstraint> = p.disjuncts[0].iter().collect();
        let vars: Vec<Var> = all.iter().flat_map(|c| c.terms.iter().map(|t| t.0)).collect();
        let input = |network, index| Var { network, kind: VarKind::Input, tensor: 0, index };
        assert!(vars.contains(&input(1, 4)) && vars.contains(&input(0, 4)), "identities over all 5 inputs");
        let out = |network, index| Var { network, kind: VarKind::Output, tensor: 0, index };
        assert!(vars.contains(&out(1, 1)) && vars.contains(&out(2, 0)) && vars.contains(&out(0, 0)));
        assert_eq!(p.input_boxes[0][0].0[3], 0.5, "B[1] is entry 2 + 1 of the one input vector");
    }
}
