//! Normalisation: linearisation, DNF distribution and its cap, `!=` splitting, box extraction
//! (tightest bound, hull over disjuncts, strict bounds, empty boxes, scaled bounds).

use super::super::{parse_query, CmpOp, MAX_DISJUNCTS};
use super::{assert_error, lc, property, v1_header, x, y};

const INF: f64 = f64::INFINITY;

#[test]
fn dnf_of_and_of_ors_has_four_disjuncts() {
    let text = v1_header(1, 4) + "(assert (and (or (>= Y_0 1) (>= Y_1 1)) (or (<= Y_2 2) (<= Y_3 2))))";
    let p = property(&text);
    let c = |v, op, r| lc(&[(y(v), 1.0)], op, r);
    assert_eq!(
        p.disjuncts,
        vec![
            vec![c(0, CmpOp::Ge, 1.0), c(2, CmpOp::Le, 2.0)],
            vec![c(0, CmpOp::Ge, 1.0), c(3, CmpOp::Le, 2.0)],
            vec![c(1, CmpOp::Ge, 1.0), c(2, CmpOp::Le, 2.0)],
            vec![c(1, CmpOp::Ge, 1.0), c(3, CmpOp::Le, 2.0)],
        ]
    );
    // The same as two assertions, and nested one level deeper under an `or`.
    let two = v1_header(1, 4) + "(assert (or (>= Y_0 1) (>= Y_1 1)))\n(assert (or (<= Y_2 2) (<= Y_3 2)))";
    assert_eq!(property(&two).disjuncts, p.disjuncts);
    let nested =
        v1_header(1, 4) + "(assert (or (and (or (>= Y_0 1) (>= Y_1 1)) (or (<= Y_2 2) (<= Y_3 2))) (>= Y_0 9)))";
    assert_eq!(property(&nested).disjuncts.len(), 5);
}

#[test]
fn dnf_cap_is_an_error() {
    // 17 binary disjunctions: 2^17 = 131072 disjuncts > 100000.
    let mut text = v1_header(1, 2);
    for _ in 0..17 {
        text += "(assert (or (>= Y_0 0) (>= Y_1 0)))\n";
    }
    // Reached while multiplying in the 17th assertion (line 4 + 16), at its `or`.
    assert_error(&text, 20, 10, &MAX_DISJUNCTS.to_string());
    let sixteen: String = text.lines().take(3 + 16).collect::<Vec<_>>().join("\n");
    assert_eq!(property(&sixteen).disjuncts.len(), 1 << 16);
}

#[test]
fn not_equal_splits_into_lt_or_gt() {
    let p = property(&(v1_header(1, 2) + "(assert (!= Y_0 Y_1))"));
    let t = [(y(0), 1.0), (y(1), -1.0)];
    assert_eq!(p.disjuncts, vec![vec![lc(&t, CmpOp::Lt, 0.0)], vec![lc(&t, CmpOp::Gt, 0.0)]]);
    // Inside a conjunction, with a box bound common to both halves.
    let text = v1_header(1, 1) + "(assert (and (>= X_0 0) (!= X_0 0.5) (<= Y_0 3)))";
    let p = property(&text);
    assert_eq!(p.input_boxes[0][0], (vec![0.0], vec![INF]));
    let yc = lc(&[(y(0), 1.0)], CmpOp::Le, 3.0);
    assert_eq!(
        p.disjuncts,
        vec![vec![yc.clone(), lc(&[(x(0), 1.0)], CmpOp::Lt, 0.5)], vec![yc, lc(&[(x(0), 1.0)], CmpOp::Gt, 0.5)],]
    );
}

#[test]
fn tightest_bound_wins_and_is_removed() {
    let text = v1_header(2, 1)
        + "(assert (<= X_0 0.5)) (assert (<= X_0 0.7)) (assert (>= X_0 0.1)) (assert (>= X_0 -5))\n\
           (assert (<= Y_0 0))";
    let p = property(&text);
    assert_eq!(p.input_boxes[0][0], (vec![0.1, -INF], vec![0.5, INF]));
    assert_eq!(p.disjuncts, vec![vec![lc(&[(y(0), 1.0)], CmpOp::Le, 0.0)]]);
}

#[test]
fn empty_box_is_kept_and_no_condition_is_one_empty_disjunct() {
    let p = property(&(v1_header(1, 1) + "(assert (>= X_0 1)) (assert (<= X_0 0))"));
    assert_eq!(p.input_boxes[0][0], (vec![1.0], vec![0.0]));
    assert_eq!(p.disjuncts, vec![vec![]]);
}

#[test]
fn strict_bounds_enter_the_box_and_stay() {
    let p = property(&(v1_header(1, 1) + "(assert (< X_0 0.5)) (assert (> X_0 -0.5))"));
    assert_eq!(p.input_boxes[0][0], (vec![-0.5], vec![0.5]));
    assert_eq!(p.disjuncts, vec![vec![lc(&[(x(0), 1.0)], CmpOp::Lt, 0.5), lc(&[(x(0), 1.0)], CmpOp::Gt, -0.5)]]);
}

#[test]
fn box_is_the_hull_over_disjuncts() {
    let text = v1_header(2, 1) + "(assert (or (and (>= X_0 0) (<= X_0 1) (<= X_1 4)) (and (>= X_0 2) (<= X_0 3))))";
    let p = property(&text);
    // X_1 is bounded in one disjunct only: no box bound, the constraint stays.
    assert_eq!(p.input_boxes[0][0], (vec![0.0, -INF], vec![3.0, INF]));
    assert_eq!(
        p.disjuncts,
        vec![
            vec![lc(&[(x(0), 1.0)], CmpOp::Le, 1.0), lc(&[(x(1), 1.0)], CmpOp::Le, 4.0)],
            vec![lc(&[(x(0), 1.0)], CmpOp::Ge, 2.0)],
        ]
    );
}

#[test]
fn scaled_and_negated_bounds() {
    // -2·X_0 <= -1  ⇔  X_0 >= 0.5 (exact);  3·X_1 <= 1 is not exact: box rounded outwards, constraint kept.
    let text = v1_header(2, 1) + "(assert (<= (* -2 X_0) -1)) (assert (<= (* 3 X_1) 1)) (assert (= (- X_0) -0.75))";
    let p = property(&text);
    let (lo, hi) = &p.input_boxes[0][0];
    assert_eq!((lo[0], hi[0]), (0.75, 0.75));
    assert_eq!(lo[1], -INF);
    assert!(hi[1] > 1.0 / 3.0 && hi[1] == (1.0f64 / 3.0).next_up());
    assert_eq!(p.disjuncts, vec![vec![lc(&[(x(1), 3.0)], CmpOp::Le, 1.0)]]);
}

#[test]
fn linear_arithmetic_is_merged() {
    // (X_0 + 2·X_0 - (−X_1)) − 3 >= Y_0 · 0.5 + 1   ⇒   3·X_0 + X_1 − 0.5·Y_0 >= 4
    let text = v1_header(2, 1) + "(assert (>= (- (+ X_0 (* 2 X_0) (- 0 (- X_1))) 3) (+ (* Y_0 0.5) 1)))";
    let p = property(&text);
    assert_eq!(p.disjuncts, vec![vec![lc(&[(x(0), 3.0), (x(1), 1.0), (y(0), -0.5)], CmpOp::Ge, 4.0)]]);
    // Terms that cancel leave a constant comparison: true drops out, false empties the DNF.
    let p = property(&(v1_header(1, 1) + "(assert (<= (- Y_0 Y_0) 1))"));
    assert_eq!(p.disjuncts, vec![vec![]]);
    let p = property(&(v1_header(1, 1) + "(assert (or (>= (- Y_0 Y_0) 1) (<= 2 1)))"));
    assert!(p.disjuncts.is_empty());
}

#[test]
fn two_dimensional_indices_are_row_major() {
    let text =
        "(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [2,3]) (declare-output Y float32 []))\n\
                (assert (<= X[1,2] 7)) (assert (>= Y 0))";
    let q = parse_query(text).unwrap();
    let p = super::super::to_property(&q).unwrap();
    assert_eq!(p.input_boxes[0][0].1, vec![INF, INF, INF, INF, INF, 7.0]);
    assert_eq!(p.disjuncts, vec![vec![lc(&[(y(0), 1.0)], CmpOp::Ge, 0.0)]]);
    assert_eq!(q.var_name(&x(5)), "X[1,2]");
    assert_eq!(q.var_name(&y(0)), "Y");
}

#[test]
fn deep_nesting_up_to_the_limit() {
    let depth = super::super::MAX_DEPTH - 2;
    let expr = format!("{}X_0{}", "(- ".repeat(depth), ")".repeat(depth));
    let p = property(&(v1_header(1, 1) + &format!("(assert (<= {expr} 1))")));
    // An even number of negations is the identity.
    assert_eq!(p.input_boxes[0][0].1, vec![if depth.is_multiple_of(2) { 1.0 } else { INF }]);
    let too_deep = format!("{}X_0{}", "(- ".repeat(depth + 1), ")".repeat(depth + 1));
    assert_error(&(v1_header(1, 1) + &format!("(assert (<= {too_deep} 1))")), 3, 13 + 3 * depth, "nested deeper");
}
