//! Every file in `vnnlib-examples/` parses (those under bad/ fail), and every VNN-COMP anchor file
//! under `../shared/anchors/vnncomp` normalises to a boxed input and output-only constraints.

use std::path::{Path, PathBuf};

use crate::common::*;
use twinverify::vnnlib::{parse_file, to_property, CmpOp, LinearConstraint, Var, VarKind, Version};

fn y(index: usize) -> Var {
    Var { network: 0, kind: VarKind::Output, tensor: 0, index }
}

fn lc(terms: &[(Var, f64)], op: CmpOp, rhs: f64) -> LinearConstraint {
    LinearConstraint { terms: terms.to_vec(), op, rhs }
}

/// Every `.vnnlib` file below `dir`, recursively, sorted.
fn vnnlib_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
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
    vnnlib_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("vnnlib-examples"), &mut files);
    assert!(files.len() >= 10, "{files:?}");
    for f in files {
        let bad = f.parent().is_some_and(|d| d.ends_with("bad"));
        let r = parse_file(&f).and_then(|q| to_property(&q));
        assert_eq!(r.is_err(), bad, "{}: {r:?}", f.display());
    }
}

#[test]
fn vnncomp_anchors() {
    let Some(anchors) = anchors() else { return };
    let root = anchors.join("vnncomp");
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
