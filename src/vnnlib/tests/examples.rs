//! The hand-written files in `vnnlib-examples/` (expected boxes and DNF) and every VNN-COMP
//! anchor file under `../shared/anchors/vnncomp` (skipped with a message when absent).

use std::path::{Path, PathBuf};

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

/// Every `.vnnlib` file below `dir`, recursively, sorted.
fn vnnlib_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            vnnlib_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "vnnlib") {
            out.push(p);
        }
    }
    out.sort();
}

#[test]
fn all_examples_parse_and_bad_ones_fail() {
    let mut files = Vec::new();
    vnnlib_files(&examples_dir(), &mut files);
    assert!(files.len() >= 10, "{files:?}");
    for f in files {
        let bad = f.parent().is_some_and(|d| d.ends_with("bad"));
        let r = parse_file(&f).and_then(|q| to_property(&q));
        assert_eq!(r.is_err(), bad, "{}: {r:?}", f.display());
    }
}

#[test]
fn vnncomp_anchors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/anchors/vnncomp");
    if !root.is_dir() {
        eprintln!("SKIPPED: {} is not present; the VNN-COMP parse check did not run", root.display());
        return;
    }
    let mut files = Vec::new();
    vnnlib_files(&root, &mut files);
    assert!(!files.is_empty());
    for f in &files {
        let q = parse_file(f).unwrap_or_else(|e| panic!("{e}"));
        let p = to_property(&q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.version, Version::V1);
        // Every VNN-COMP input is boxed on both sides, and no box constraint is left over.
        let (lo, hi) = &p.input_boxes[0][0];
        for (l, h) in lo.iter().zip(hi) {
            assert!(l.is_finite() && h.is_finite() && l <= h, "{}: [{l}, {h}]", f.display());
        }
        for c in p.disjuncts.iter().flatten() {
            assert!(c.terms.iter().all(|(v, _)| v.kind == VarKind::Output), "{}: {c:?}", f.display());
        }
    }
    eprintln!("parsed {} VNN-COMP files", files.len());

    let q = parse_file(&root.join("mnistfc/prop_0_0.03.vnnlib")).unwrap_or_else(|e| panic!("{e}"));
    let p = to_property(&q).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(q.networks[0].inputs[0].shape, vec![784]);
    assert_eq!(q.networks[0].outputs[0].shape, vec![10]);
    let (lo, hi) = &p.input_boxes[0][0];
    assert!(lo.iter().zip(hi).all(|(l, h)| 0.0 <= *l && l <= h && *h <= 1.0));
    assert_eq!((lo[0], hi[0]), (0.0, 0.029999999329447746));
    // Label 8: one disjunct `Y_i - Y_8 >= 0` for each other class.
    let expected: Vec<_> = (0..10)
        .filter(|&i| i != 8)
        .map(|i| {
            let mut t = vec![(y(i), 1.0), (y(8), -1.0)];
            t.sort_by_key(|a| a.0);
            vec![lc(&t, CmpOp::Ge, 0.0)]
        })
        .collect();
    assert_eq!(p.disjuncts, expected);

    // Input bounds inside `(or (and ...))` with a single disjunct still go to the box.
    let q = parse_file(&root.join("test/test_small.vnnlib")).unwrap_or_else(|e| panic!("{e}"));
    let p = to_property(&q).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.input_boxes, vec![vec![(vec![-1.0], vec![1.0])]]);
    assert_eq!(p.disjuncts, vec![vec![lc(&[(y(0), 1.0)], CmpOp::Ge, 100.0)]]);

    // ACAS Xu property 3: five inputs, four output constraints in one conjunction.
    let q = parse_file(&root.join("test/test_prop.vnnlib")).unwrap_or_else(|e| panic!("{e}"));
    let p = to_property(&q).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.input_boxes[0][0].1[3], 0.5);
    assert_eq!(p.disjuncts.len(), 1);
    assert_eq!(p.disjuncts[0].len(), 4);
    assert_eq!(p.disjuncts[0][0], lc(&[(y(0), 1.0), (y(1), -1.0)], CmpOp::Le, 0.0));
}
