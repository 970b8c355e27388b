//! Error values: exact line:column of the bad example files and of scoping, typing and syntax
//! errors in both dialects; I/O errors; and no panic on mangled input.

use super::super::{parse_file, parse_query, parse_query_named};
use super::{assert_error, examples_dir, v1_header};

const NET: &str =
    "(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [1,6]) (declare-output Y float32 [1,3]))\n";

#[test]
fn bad_example_files_point_at_the_offending_token() {
    let cases = [
        ("unbalanced.vnnlib", 6, 1, "unclosed '('"),
        ("undeclared.vnnlib", 8, 13, "undeclared variable 'Z'"),
        ("index_out_of_range.vnnlib", 7, 17, "index 6 out of range"),
        ("nonlinear.vnnlib", 8, 14, "non-linear term"),
        ("gap_v1.vnnlib", 5, 16, "X_2 is not declared"),
        ("wrong_arity.vnnlib", 7, 14, "needs 2 indices, found 1"),
    ];
    for (file, line, column, needle) in cases {
        let path = examples_dir().join("bad").join(file);
        let e = parse_file(&path).expect_err(file);
        assert_eq!((e.line, e.column), (line, column), "{e}");
        assert!(e.message.contains(needle), "{e}");
        let shown = e.to_string();
        assert!(shown.starts_with(&format!("{}:{line}:{column}: ", path.display())), "{shown}");
    }
}

#[test]
fn io_error_is_at_zero_zero() {
    let e = parse_file(std::path::Path::new("/nonexistent/q.vnnlib")).unwrap_err();
    assert_eq!((e.line, e.column), (0, 0));
    assert!(e.to_string().starts_with("/nonexistent/q.vnnlib:0:0: cannot read file"), "{e}");
    let e = parse_query_named("(assert", "q.vnnlib").unwrap_err();
    assert_eq!(e.to_string(), "q.vnnlib:1:1: unclosed '(' (missing ')')");
    assert_eq!(parse_query("  ").unwrap_err().to_string(), "<input>:1:1: empty query: no forms");
}

#[test]
fn v2_scoping_and_typing() {
    let dup =
        "(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [1]) (declare-output X float32 [1]))";
    assert_error(dup, 2, 66, "duplicate name 'X'");
    assert_error(&format!("{NET}(assert (<= 0.0 1.0))"), 3, 10, "comparison with no variable");
    assert_error(&format!("{NET}(assert (<= N 1.0))"), 3, 13, "is a network");
    assert_error(&format!("{NET}(assert (<= X 1.0))"), 3, 13, "needs 2 indices");
    assert_error(&format!("{NET}(assert (<= X[0,-1] 1.0))"), 3, 17, "non-negative integer");
    assert_error(&format!("{NET}(assert (<= X[0,0.5] 1.0))"), 3, 17, "non-negative integer");
    assert_error(&format!("{NET}(assert (<= (* 2 (+ X[0,0] 1) Y[0,0]) 1.0))"), 3, 14, "non-linear term");
    assert_error(&format!("{NET}(assert (not (<= X[0,0] 1.0)))"), 3, 10, "'not' is not part of VNN-LIB");
    assert_error(&format!("{NET}(assert (<= X[0,0] 1.0 2.0))"), 3, 10, "exactly 2 operands");
    assert_error(&format!("{NET}(assert (<= (<= X[0,0] 1) 1.0))"), 3, 14, "found Boolean");
    assert_error(&format!("{NET}(assert (and))"), 3, 10, "at least one operand");
    let mixed = "(vnnlib-version <2.0>)\n(declare-network A (declare-input X float32 [1]) (declare-output Y float32 [1]))\n\
                 (declare-network B (declare-input U float16 [1]) (declare-output V float16 [1]))\n(assert (<= X[0] U[0]))";
    assert_error(mixed, 4, 18, "element type mismatch: float16 here but float32 at 4:13");
    let int = "(vnnlib-version <2.0>)\n(declare-network A (declare-input X int64 [1]) (declare-output Y int64 [1]))\n(assert (<= X[0] 1.5))";
    assert_error(int, 3, 18, "fractional part");
    let real = "(vnnlib-version <2.0>)\n(declare-network A (declare-input X real [1]) (declare-output Y float32 [1]))";
    assert_error(real, 2, 65, "mixed with 'real'");
    let scalar = "(vnnlib-version <2.0>)\n(declare-network A (declare-input X real []) (declare-output Y real []))\n(assert (<= X[0] 1))";
    assert_error(scalar, 3, 14, "needs 0 indices, found 1");
}

#[test]
fn v2_declarations() {
    let header = "(vnnlib-version <2.0>)\n(declare-network A (declare-input X float32 [1,2]) (declare-output Y float32 [1,3]))\n";
    let ok = |rest: &str| parse_query(&format!("{header}{rest}")).unwrap_or_else(|e| panic!("{e}"));
    let q = ok("(declare-network B (equal-to A) (declare-input X2 float32 [1,2]) (declare-hidden H float32 [4] \"relu_1\") (declare-output Y2 float32 [1,3]))");
    assert_eq!(q.networks[1].hidden[0].onnx_name.as_deref(), Some("relu_1"));
    assert_eq!(q.networks[1].relation, Some((super::super::Relation::EqualTo, "A".into())));
    ok("(declare-network B (isomorphic-to A) (declare-input X2 float16 [1,2] initialized) (declare-output Y2 float16 [1,3]))");
    let err = |rest: &str, line, col, needle| assert_error(&format!("{header}{rest}"), line, col, needle);
    err(
        "(declare-network B (equal-to A) (declare-input X2 float16 [1,2]) (declare-output Y2 float32 [1,3]))",
        3,
        48,
        "does not match",
    );
    err(
        "(declare-network B (isomorphic-to A) (declare-input X2 float32 [2,2]) (declare-output Y2 float32 [1,3]))",
        3,
        53,
        "does not match",
    );
    err(
        "(declare-network B (isomorphic-to C) (declare-input X2 float32 [1,2]) (declare-output Y2 float32 [1,3]))",
        3,
        35,
        "undeclared network 'C'",
    );
    err(
        "(declare-network B (isomorphic-to A) (declare-input X2 float32 [1,2]) (declare-output Y2 float32 [1,3]))\n\
         (declare-network C (equal-to B) (declare-input X3 float32 [1,2]) (declare-output Y3 float32 [1,3]))",
        4,
        30,
        "is itself",
    );
    err("(declare-network B (declare-output Y2 float32 [1]) (declare-input X2 float32 [1]))", 3, 52, "out of order");
    err("(declare-network B (declare-input X2 float32 [1]))", 3, 18, "needs at least one declare-output");
    err(
        "(declare-network B (declare-hidden H float32 [1] \"h\") (declare-output Y2 float32 [1]))",
        3,
        18,
        "needs at least one declare-input",
    );
    err("(declare-network B (declare-input X2 float32 [1]) (declare-output Y2 float32 [1]) (declare-hidden H float32 [1] \"h\"))", 3, 83, "out of order");
    err("(declare-network B (declare-input X2 float32 [1]) (declare-hidden H float32 [1]) (declare-output Y2 float32 [1]))", 3, 51, "quoted string");
    err("(declare-network _B (declare-input X2 float32 [1]))", 3, 18, "expected a network name");
    err(
        "(assert (>= X[0,0] 0))\n(declare-network B (declare-input X2 float32 [1]) (declare-output Y2 float32 [1]))",
        4,
        1,
        "before the assertions",
    );
    err(
        "(declare-network B (declare-input X2 float32 [100000,100000]) (declare-output Y2 float32 [1]))",
        3,
        46,
        "more than",
    );
    err("(check-sat)", 3, 2, "unknown command");
}

#[test]
fn versions() {
    let body = "(declare-network N (declare-input X float32 [1]) (declare-output Y float32 [1]))";
    for v in ["<2.0>", "<2.1>", "2.0", "2.1"] {
        parse_query(&format!("(vnnlib-version {v}) {body}")).unwrap_or_else(|e| panic!("{v}: {e}"));
    }
    assert_error(&format!("(vnnlib-version <3.0>) {body}"), 1, 17, "unsupported VNN-LIB version 3.0");
    // a later minor version may extend the language: refused, naming the newest answered
    assert_error(&format!("(vnnlib-version <2.2>) {body}"), 1, 17, "unsupported VNN-LIB version 2.2");
    assert_error(&format!("(vnnlib-version 2.10) {body}"), 1, 17, "2.0 to 2.1");
    assert_error(&format!("(vnnlib-version <2>) {body}"), 1, 17, "malformed version");
    assert_error("(vnnlib-version <2.0>)", 1, 1, "at least one network");
}

#[test]
fn v1_errors() {
    let h = v1_header(2, 1);
    assert_error(&format!("{h}(declare-const X_1 Real)"), 4, 16, "duplicate declaration of 'X_1' (first at 2:16)");
    assert_error("(declare-const X_01 Real)", 1, 16, "X_<i>");
    assert_error("(declare-const Z Real)", 1, 16, "X_<i>");
    assert_error("(declare-const X_0 Int)", 1, 20, "only Real");
    assert_error(
        "(declare-const X_0 Real)\n(assert (<= Y_0 1))\n(declare-const Y_0 Real)",
        2,
        13,
        "before its declaration",
    );
    assert_error(&format!("{h}(assert (<= Y_1 1))"), 4, 13, "undeclared variable 'Y_1'");
    assert_error(&format!("{h}(assert (<= X[0] 1))"), 4, 14, "take no index");
    assert_error(&format!("{h}(assert (<= X_0 1) (<= X_1 1))"), 4, 2, "exactly one formula");
    assert_error(&format!("{h}(declare-network N)"), 4, 2, "VNN-LIB 2.x");
    assert_error("(declare-const Y_0 Real)", 1, 1, "no input variables");
    assert_error(&format!("{h}(assert (<= X_0 1.2.3))"), 4, 17, "malformed number");
    // Constant comparisons are legal in 1.0 (SMT-LIB) and `==`/`=` both mean equality.
    parse_query(&format!("{h}(assert (<= 0 1)) (assert (== X_0 1)) (assert (= X_1 1))")).unwrap();
    // SMT-LIB housekeeping commands are skipped.
    parse_query(&format!("(set-logic QF_LRA)\n{h}(check-sat)\n(get-model)\n(exit)")).unwrap();
}

#[test]
fn mangled_input_never_panics() {
    let text = std::fs::read_to_string(examples_dir().join("twin_v2.vnnlib")).unwrap();
    let chars: Vec<char> = text.chars().collect();
    for cut in 0..chars.len() {
        let truncated: String = chars[..cut].iter().collect();
        let _ = parse_query(&truncated).and_then(|q| super::super::to_property(&q));
        let dropped: String = chars.iter().enumerate().filter(|&(i, _)| i != cut).map(|(_, c)| c).collect();
        let _ = parse_query(&dropped).and_then(|q| super::super::to_property(&q));
    }
    for junk in [
        "\u{feff}(",
        ")",
        "[",
        "]",
        ",",
        "\"",
        "((((",
        "(vnnlib-version)",
        "(assert)",
        "(()",
        "(1)",
        "(\"s\")",
        "(x [1,2)]",
    ] {
        assert!(parse_query(junk).is_err(), "{junk}");
    }
}
