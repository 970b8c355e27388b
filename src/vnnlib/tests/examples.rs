//! The hand-written files in `vnnlib-examples/` (expected boxes and DNF); tests/suite/vnnlib_files.rs
//! parses every example file and the VNN-COMP anchors.

use super::super::{parse_file, to_property, CmpOp, Relation, Var, VarKind, Version};
use super::{examples_dir, lc, x, y};

const INF: f64 = f64::INFINITY;

fn load(name: &str) -> (super::super::Query, super::super::Property) {
    let q = parse_file(&examples_dir().join(name)).unwrap_or_else(|e| panic!("{e}"));
    let p = to_property(&q).unwrap_or_else(|e| panic!("{e}"));
    (q, p)
}

fn robust_box() -> (Vec<f64>, Vec<f64>) {
    (vec![0.05, 0.15, 0.25, 0.35, 0.45, 0.55], vec![0.15, 0.25, 0.35, 0.45, 0.55, 0.65])
}

fn robust_dnf() -> Vec<Vec<super::super::LinearConstraint>> {
    vec![vec![lc(&[(y(0), -1.0), (y(1), 1.0)], CmpOp::Ge, 0.0)], vec![lc(&[(y(0), -1.0), (y(2), 1.0)], CmpOp::Ge, 0.0)]]
}

#[test]
fn robust_v1() {
    let (q, p) = load("robust_v1.vnnlib");
    assert_eq!(q.version, Version::V1);
    assert_eq!(q.networks.len(), 1);
    assert_eq!(q.networks[0].inputs[0].shape, vec![6]);
    assert_eq!(q.networks[0].outputs[0].shape, vec![3]);
    assert_eq!(q.assertions.len(), 13);
    assert_eq!(p.input_boxes, vec![vec![robust_box()]]);
    assert_eq!(p.disjuncts, robust_dnf());
    assert_eq!(q.var_name(&x(3)), "X_3");
}

#[test]
fn robust_v2_equals_robust_v1() {
    let (q, p) = load("robust_v2.vnnlib");
    assert_eq!(q.version, Version::V2);
    let net = &q.networks[0];
    assert_eq!((net.name.as_str(), net.relation.clone()), ("N", None));
    assert_eq!(net.inputs[0].shape, vec![1, 6]);
    assert_eq!(net.inputs[0].elem_type, "float32");
    assert_eq!(net.outputs[0].shape, vec![1, 3]);
    // Flat row-major indices make the normal form identical to the 1.0 file.
    assert_eq!(p.input_boxes, vec![vec![robust_box()]]);
    assert_eq!(p.disjuncts, robust_dnf());
    assert_eq!(q.var_name(&x(3)), "X[0,3]");
}

#[test]
fn box_v1_scientific_notation() {
    let (_, p) = load("box_v1_sci.vnnlib");
    let (lo, hi) = &p.input_boxes[0][0];
    assert_eq!(lo, &vec![1.5e-5, -3.4e38, 1.0]);
    assert_eq!(hi, &vec![0.25, 3.4e38, 1.0]);
    assert_eq!(p.disjuncts, vec![vec![lc(&[(y(0), 2.0), (y(1), -1.0)], CmpOp::Le, -1.0e-3)]]);
}

#[test]
fn twin_v2() {
    let (q, p) = load("twin_v2.vnnlib");
    assert_eq!(q.networks.len(), 2);
    assert_eq!(q.networks[0].relation, None);
    assert_eq!(q.networks[1].relation, Some((Relation::IsomorphicTo, "N1".to_string())));
    let lo = vec![-1.0, -1.0, -1.0, 0.0, 0.0, 0.0];
    let hi = vec![1.0, 1.0, 1.0, 0.5, 0.5, 0.5];
    assert_eq!(p.input_boxes[0], vec![(lo, hi)]);
    // N2's input is only tied to N1's by equalities: its own box stays unbounded.
    assert_eq!(p.input_boxes[1], vec![(vec![-INF; 6], vec![INF; 6])]);
    let v = |network, kind, index| Var { network, kind, tensor: 0, index };
    let mut expected: Vec<_> = (0..6)
        .map(|i| {
            let terms = [(v(0, VarKind::Input, i), -1.0), (v(1, VarKind::Input, i), 1.0)];
            lc(&terms, CmpOp::Eq, 0.0)
        })
        .collect();
    let margin = [
        (v(0, VarKind::Output, 0), 1.0),
        (v(0, VarKind::Output, 1), -1.0),
        (v(1, VarKind::Output, 0), -1.0),
        (v(1, VarKind::Output, 1), 1.0),
    ];
    expected.push(lc(&margin, CmpOp::Lt, 0.0));
    assert_eq!(p.disjuncts, vec![expected]);
}
