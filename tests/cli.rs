//! The binary as a user runs it: output of `info` and `eval`, and one clear error with a
//! non-zero exit status for bad input.

mod common;

use common::*;

use run_cli as run;

#[test]
fn info_prints_layers_shapes_and_parameters() {
    let (ok, out, _) = run(&["info", fixture("twin_mlp.onnx").to_str().unwrap()]);
    assert!(ok);
    // 6→12→12→3: 84 + 156 + 39 parameters
    assert!(out.contains("parameters  279"), "{out}");
    assert!(out.contains("[1, 12]") && out.contains("output      [1, 3]"), "{out}");
}

#[test]
fn eval_prints_the_logits_of_a_data_row_and_agrees_with_tract() {
    let data = fixture("twin_mlp_data.csv");
    let (ok, out, err) = run(&[
        "eval",
        fixture("twin_mlp.onnx").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--row",
        "3",
        "--tract",
        "--json",
    ]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let label = csv_rows(&data, 1.0, 4)[3].0;
    assert_eq!(doc["predicted"].as_u64().unwrap() as usize, label, "fixture labels are the original's predictions");
    assert!(doc["max_abs_diff"].as_f64().unwrap() < 1e-5);
}

#[test]
fn eval_applies_the_scale_to_a_literal_input() {
    let net = fixture("twin_mlp.onnx");
    let (_, a, _) =
        run(&["eval", net.to_str().unwrap(), "--input", "[255, 0, 51, 102, 204, 25.5]", "--scale", "1/255", "--json"]);
    let (_, b, _) = run(&["eval", net.to_str().unwrap(), "--input", "1,0,0.2,0.4,0.8,0.1", "--json"]);
    let (a, b): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&a).unwrap(), serde_json::from_str(&b).unwrap());
    assert!(rel_diff(&floats(&a["logits"]), &floats(&b["logits"])) < 1e-12);
}

#[test]
fn bad_input_exits_non_zero_with_one_message() {
    let (ok, _, err) = run(&["info", fixture("bad/unsupported_op.onnx").to_str().unwrap()]);
    assert!(!ok);
    assert!(err.starts_with("error: ") && err.contains("Sigmoid"), "{err}");
    let (ok, _, err) = run(&["eval", fixture("twin_mlp.onnx").to_str().unwrap(), "--input", "1,2,3"]);
    assert!(!ok && err.contains("takes 6 inputs"), "{err}");
    let (ok, _, err) = run(&["eval", fixture("twin_mlp.onnx").to_str().unwrap(), "--input", "1,2,x,4,5,6"]);
    assert!(!ok && err.contains("value 3"), "{err}");
    assert!(!err.contains("panicked"));
}
