//! `verify` on degenerate input boxes: point boxes at values float32 cannot represent, ranges
//! between two neighbouring float32 values (decided without input splitting), and empty boxes.

use std::path::{Path, PathBuf};

use crate::common::*;
use twinverify::analysis::verify::{self, Answer, Checker, Verdict, VerifyOptions};
use twinverify::onnx;

const NET: &str = "twin_mlp.onnx";

/// A VNN-LIB 1.0 query over `twin_mlp` (6 inputs, 3 outputs): each input in its range, plus
/// `property` (a list of assertions).
fn query(name: &str, ranges: &[(f64, f64)], property: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twinverify-degenerate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut s = String::new();
    (0..6).for_each(|i| s.push_str(&format!("(declare-const X_{i} Real)\n")));
    (0..3).for_each(|j| s.push_str(&format!("(declare-const Y_{j} Real)\n")));
    for (i, (lo, hi)) in ranges.iter().enumerate() {
        s.push_str(&format!("(assert (>= X_{i} {lo:?}))\n(assert (<= X_{i} {hi:?}))\n"));
    }
    s.push_str(property);
    let path = dir.join(format!("{name}.vnnlib"));
    std::fs::write(&path, s).unwrap();
    path
}

/// Every input at `v` (a point box).
fn point(v: f64) -> Vec<(f64, f64)> {
    vec![(v, v); 6]
}

/// The library's answer (it reports how many boxes were bounded).
fn solve(path: &Path) -> Answer {
    let q = twinverify::vnnlib::parse_file(path).unwrap();
    let bound = verify::bind(&q, &[("N".into(), fixture(NET))]).unwrap();
    let nets: Vec<&twinverify::ir::Network> = bound.models.iter().map(|m| &m.network).collect();
    let checker = Checker { nets: &nets, runners: &bound.runners, space: &bound.space };
    verify::verify(&checker, &bound.disjuncts, &VerifyOptions::default()).unwrap()
}

fn forward(x: &[f64]) -> Vec<f64> {
    onnx::load(fixture(NET)).unwrap().network.forward(x).unwrap()
}

fn cli(path: &Path) -> (String, String) {
    let net = format!("N={}", fixture(NET).display());
    let (ok, out, err) = run_cli(&["verify", path.to_str().unwrap(), "--network", &net]);
    assert!(ok, "{err}");
    (out, err)
}

/// The values printed after the header `name` of a command-line assignment.
fn printed(out: &str, name: &str) -> Vec<f64> {
    out.lines().skip_while(|l| !l.starts_with(name)).skip(1).map_while(|l| l.parse().ok()).collect()
}

/// `Y_1 − Y_0 ≥ m` as an assertion.
fn margin_at_least(m: f64) -> String {
    format!("(assert (>= (+ Y_1 (* -1.0 Y_0)) {m:?}))\n")
}

#[test]
fn a_point_box_at_a_non_float32_value_is_sat_without_splitting() {
    let rounded = 0.35f32 as f64;
    assert_ne!(rounded, 0.35, "0.35 is no float32 value");
    assert!(forward(&[0.35; 6])[1] - forward(&[0.35; 6])[0] > 0.3, "Y_1 beats Y_0 by a wide margin");
    let path = query("point_sat", &point(0.35), "(assert (>= Y_1 Y_0))\n");
    let answer = solve(&path);
    assert_eq!(answer.verdict, Verdict::Sat, "{:?}", answer.note);
    assert!(answer.boxes <= 1, "{} boxes bounded", answer.boxes);
    let w = answer.witness.expect("a witness");
    assert_eq!(w.inputs[0], vec![rounded; 6], "the networks ran on the float32 rounding of 0.35");
    let y = forward(&w.inputs[0]);
    assert!(rel_diff(&w.outputs[0], &y) < 1e-5 && y[1] >= y[0], "{y:?}");
    assert!(w.rounded.iter().all(|&(_, real, run)| real == 0.35 && run == rounded), "{:?}", w.rounded);
    // the command line: the assignment re-evaluates to a violation, the rule is on stderr
    let (out, err) = cli(&path);
    assert_eq!(out.lines().next(), Some("sat"));
    let x = printed(&out, "X");
    assert_eq!(x, vec![rounded; 6]);
    let y = forward(&x);
    assert!(y[1] >= y[0] && rel_diff(&printed(&out, "Y"), &y) < 1e-5, "{y:?}");
    assert!(
        err.contains("float32 rounding (to nearest)") && err.contains("X_0 = 0.35 ran as 0.3499999940395355"),
        "{err}"
    );
}

#[test]
fn the_same_point_box_is_unsat_where_the_property_holds() {
    let answer = solve(&query("point_unsat", &point(0.35), "(assert (>= Y_0 Y_1))\n"));
    assert_eq!(answer.verdict, Verdict::Unsat, "{:?}", answer.note);
    assert_eq!(answer.boxes, 1, "bounded once, not split");
    assert!(answer.note.is_none());
}

/// The real point satisfies `Y_1 − Y_0 ≥ m` (half-way between its margin and its float32
/// rounding's), the rounding does not: no witness under the rounding rule and no proof for the
/// real box, so `unknown`, without splitting the box.
#[test]
fn a_point_box_whose_rounding_misses_the_property_is_unknown_and_not_split() {
    let margin = |x: f64| {
        let y = forward(&[x; 6]);
        y[1] - y[0]
    };
    let (real, rounded) = (margin(0.35), margin(0.35f32 as f64));
    assert!((real - rounded).abs() > 1e-10, "the rounding moves the margin: {real} vs {rounded}");
    let mid = 0.5 * (real + rounded);
    let property =
        if rounded < real { margin_at_least(mid) } else { format!("(assert (<= (+ Y_1 (* -1.0 Y_0)) {mid:?}))\n") };
    let answer = solve(&query("point_unknown", &point(0.35), &property));
    assert_eq!(answer.verdict, Verdict::Unknown, "{:?}", answer.note);
    assert_eq!(answer.boxes, 1);
    assert!(answer.note.as_deref().is_some_and(|n| n.contains("not split further")), "{:?}", answer.note);
}

/// `X_0` ranges over four float32 values and a bit beyond the last; only the real points beyond
/// it satisfy the property. Splitting ends at boxes with one float32 value instead of halving
/// them until the budget runs out.
#[test]
fn splitting_stops_at_boxes_with_one_float32_value() {
    let f: Vec<f64> =
        std::iter::successors(Some(0.35f32.next_up()), |v| Some(v.next_up())).take(5).map(f64::from).collect();
    let hi = f[3] + 0.25 * (f[4] - f[3]);
    let margin = |x0: f64| {
        let mut x = [0.375; 6];
        x[0] = x0;
        let y = forward(&x);
        y[1] - y[0]
    };
    let (edge, last) = (margin(hi), margin(f[3]));
    assert!((edge - last).abs() > 1e-12, "X_0 moves the margin: {edge} vs {last}");
    let mid = 0.5 * (edge + last);
    let (property, misses): (String, Box<dyn Fn(f64) -> bool>) = if edge > last {
        (margin_at_least(mid), Box::new(move |m| m < mid))
    } else {
        (format!("(assert (<= (+ Y_1 (* -1.0 Y_0)) {mid:?}))\n"), Box::new(move |m| m > mid))
    };
    assert!(f[..4].iter().all(|&v| misses(margin(v))), "no float32 value of the range satisfies it");
    let mut ranges = point(0.375);
    ranges[0] = (f[0], hi);
    let answer = solve(&query("split_to_one", &ranges, &property));
    assert_eq!(answer.verdict, Verdict::Unknown, "{:?}", answer.note);
    assert!(answer.boxes < 100, "{} boxes bounded", answer.boxes);
    assert!(answer.note.as_deref().is_some_and(|n| n.contains("not split further")), "{:?}", answer.note);
}

#[test]
fn a_range_between_two_float32_neighbours_is_decided() {
    let (below, above) = (0.35f32 as f64, (0.35f32).next_up() as f64);
    // [lo, hi] lies strictly between the neighbours; lo rounds down, hi rounds up
    let (lo, hi) = (0.350000005, 0.35000002);
    assert!(below < lo && hi < above && lo as f32 as f64 == below && hi as f32 as f64 == above);
    let ranges = vec![(lo, hi); 6];
    let answer = solve(&query("between_sat", &ranges, "(assert (>= Y_1 Y_0))\n"));
    assert_eq!(answer.verdict, Verdict::Sat, "{:?}", answer.note);
    assert!(answer.boxes <= 1, "{} boxes bounded", answer.boxes);
    let w = answer.witness.expect("a witness");
    assert!(w.inputs[0].iter().all(|&v| v == below || v == above), "{:?}", w.inputs[0]);
    assert!(w.rounded.iter().all(|&(_, real, run)| (lo..=hi).contains(&real) && real as f32 as f64 == run));
    let y = forward(&w.inputs[0]);
    assert!(y[1] >= y[0], "{y:?}");
    let answer = solve(&query("between_unsat", &ranges, "(assert (>= Y_0 Y_1))\n"));
    assert_eq!(answer.verdict, Verdict::Unsat, "{:?}", answer.note);
    assert_eq!(answer.boxes, 1);
}

#[test]
fn an_empty_box_is_unsat_with_a_warning() {
    let mut ranges = point(0.35);
    ranges[2] = (0.5, 0.4);
    let path = query("empty", &ranges, "(assert (>= Y_1 Y_0))\n");
    let answer = solve(&path);
    assert_eq!((answer.verdict, answer.boxes), (Verdict::Unsat, 0));
    let (out, err) = cli(&path);
    assert_eq!(out.trim(), "unsat");
    assert!(err.contains("warning") && err.contains("X_2: lower bound 0.5 > upper bound 0.4"), "{err}");
    // a box emptied by a linear input constraint: the variable it empties is named
    let ranges = vec![(0.0, 1.0); 6];
    let path = query("contradictory", &ranges, "(assert (>= (+ X_0 X_1) 3.0))\n(assert (>= Y_1 Y_0))\n");
    let (out, err) = cli(&path);
    assert_eq!(out.trim(), "unsat");
    assert!(
        err.contains("warning: the input constraints contradict each other (propagated, they leave X_0: lower bound"),
        "{err}"
    );
    // an ordinary box gets no warning
    let (out, err) = cli(&query("ordinary", &ranges, "(assert (>= Y_1 Y_0))\n"));
    assert_eq!(out.lines().next(), Some("sat"));
    assert!(!err.contains("warning"), "{err}");
}
