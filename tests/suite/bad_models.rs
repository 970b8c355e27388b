//! Networks no analysis may trust: non-finite weights and biases, unknown opsets and bounds that
//! overflow. Every command fails with one message naming the tensor and node, and never panics.

use std::path::PathBuf;

use crate::common::*;
use prost::Message;
use tract_onnx::pb::{self, attribute_proto::AttributeType};
use twinverify::bounds::{Interval, Method};
use twinverify::ir::{Affine, Layer, LayerNode, Network, SparseMatrix};
use twinverify::onnx;
use twinverify::Error;

fn arg(name: &str) -> String {
    fixture(name).display().to_string()
}

/// Every command that reads a network, run on `net` (a twin_mlp-shaped file) with valid data.
fn commands(net: &str) -> Vec<Vec<String>> {
    let data = arg("twin_mlp_data.csv");
    let vnnlib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vnnlib-examples/robust_v2.vnnlib");
    let (original, network) = (arg("twin_mlp.onnx"), format!("N={net}"));
    let args = [
        vec!["info", net],
        vec!["eval", net, "--input", "0.1,0.2,0.3,0.4,0.5,0.6", "--tract"],
        vec!["bounds", net, "--data", &data, "--row", "0", "--delta", "0.01", "--method", "symbolic"],
        vec!["lrom", &original, net, "--data", &data, "--samples", "0..2", "--delta", "0.01"],
        vec!["robust", net, "--data", &data, "--delta", "0.01", "--domain", "0,1"],
        vec!["verify", vnnlib.to_str().unwrap(), "--network", &network],
    ];
    args.iter().map(|a| a.iter().map(|s| s.to_string()).collect()).collect()
}

/// Runs every command on a bad file: each must fail with one error line containing `needles`.
fn every_command_rejects(file: &str, needles: &[&str]) {
    for args in commands(&arg(file)) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, err) = run_cli(&args);
        let cmd = args[0];
        assert!(!ok, "{cmd} accepted {file}");
        assert!(!err.contains("panicked"), "{cmd} panicked on {file}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{cmd} on {file}: one message, got {err}");
        assert!(err.starts_with("error: "), "{cmd}: {err}");
        for n in needles {
            assert!(err.contains(n), "{cmd} on {file}: '{n}' missing from {err}");
        }
    }
}

#[test]
fn a_nan_weight_is_rejected_by_every_command_naming_tensor_and_node() {
    every_command_rejects("bad/nan_weight.onnx", &["'W_1'", "'Gemm_1'", "NaN", "finite"]);
}

#[test]
fn an_infinite_bias_is_rejected_by_every_command_naming_tensor_and_node() {
    every_command_rejects("bad/inf_bias.onnx", &["'B_0'", "'Gemm_0'", "inf", "finite"]);
}

#[test]
fn an_unknown_opset_is_rejected_by_every_command() {
    every_command_rejects("bad/opset99.onnx", &["opset 99", "7 to 21"]);
}

#[test]
fn compress_refuses_a_non_finite_weight_naming_it() {
    let out = std::env::temp_dir().join(format!("twinverify-nan-twin-{}.onnx", std::process::id()));
    let (ok, _, err) =
        run_cli(&["compress", &arg("bad/nan_weight.onnx"), "--prune", "0.5", "--out", out.to_str().unwrap()]);
    assert!(!ok && !out.exists(), "{err}");
    assert!(
        err.contains("'W_1'") && err.contains("'Gemm_1'") && err.contains("NaN") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn non_finite_initialisers_are_typed_errors_of_the_library() {
    for (file, tensor) in [("nan_weight.onnx", "W_1"), ("inf_bias.onnx", "B_0")] {
        match onnx::load(fixture(&format!("bad/{file}"))) {
            Err(Error::BadNode { node, reason, .. }) => {
                assert!(node.starts_with("Gemm_") && reason.contains(tensor), "{node}: {reason}")
            }
            other => panic!("{file}: {other:?}"),
        }
    }
}

/// twin_mlp.onnx changed by `edit`, written to a temporary file named after `tag`.
fn edited_twin_mlp(tag: &str, edit: impl FnOnce(&mut pb::ModelProto)) -> PathBuf {
    let bytes = std::fs::read(fixture("twin_mlp.onnx")).unwrap();
    let mut model = pb::ModelProto::decode(bytes.as_slice()).unwrap();
    edit(&mut model);
    let path = std::env::temp_dir().join(format!("twinverify-{tag}-{}.onnx", std::process::id()));
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    path
}

#[test]
fn the_opsets_accepted_are_exactly_those_supports_prints() {
    let (ok, out, err) = run_cli(&["supports", "--onnx-opset-versions"]);
    assert!(ok, "{err}");
    let bounds: Vec<i64> = out.lines().map(|l| l.parse().unwrap()).collect();
    let [min, max] = bounds[..] else { panic!("{out}") };
    for (version, accepted) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
        let path = edited_twin_mlp(&format!("opset{version}"), |m| m.opset_import[0].version = version);
        let result = onnx::load(&path);
        std::fs::remove_file(&path).ok();
        assert_eq!(result.is_ok(), accepted, "opset {version}: {result:?}");
        if let Err(e) = result {
            assert!(matches!(e, Error::MalformedOnnx { .. }) && e.to_string().contains(&format!("opset {version}")));
        }
    }
}

fn dense(w: f64, b: f64) -> LayerNode {
    let layer = Layer::Affine(Affine { weights: SparseMatrix::from_dense(2, 2, &[w, w, w, -w]), bias: vec![b; 2] });
    LayerNode { layer, output_shape: vec![2], origin: vec!["fc".into()] }
}

#[test]
fn bounds_refuse_networks_with_non_finite_parameters_or_overflowing_bounds() {
    let net = |layers| Network { name: "t".into(), input_shape: vec![2], layers, notes: vec![] };
    let region = Interval::around(&[0.5, 0.5], 0.1, None).unwrap();
    for method in [Method::Interval, Method::Symbolic] {
        let ok = net(vec![dense(1.0, 0.0), dense(2.0, 1.0)]);
        assert!(twinverify::tighten::compute(&ok, &region, method, &Default::default()).is_ok());
        let nan = net(vec![dense(1.0, f64::NAN)]);
        let msg = twinverify::tighten::compute(&nan, &region, method, &Default::default()).unwrap_err().to_string();
        assert!(msg.contains("layer 0 (from fc)") && msg.contains("NaN"), "{msg}");
        let huge = net(vec![dense(1e200, 0.0), dense(1e200, 0.0)]);
        let msg = twinverify::tighten::compute(&huge, &region, method, &Default::default()).unwrap_err().to_string();
        assert!(msg.contains("layer 1") && msg.contains("non-finite bound"), "{msg}");
    }
}

/// A power undefined where its input's bounds reach (a square root of a possibly negative value,
/// 1/x of a possibly zero one) is an error naming the layer and the range, by every bound method;
/// the same layer on a region where it is defined is bounded.
#[test]
fn powers_undefined_on_the_bounds_are_an_error() {
    use twinverify::ir::{Curve, Power};
    let power = |e: f64| LayerNode {
        layer: Layer::Power(Power { curves: vec![Curve::Power(e); 2] }),
        output_shape: vec![2],
        origin: vec!["pow".into()],
    };
    let net =
        |e| Network { name: "t".into(), input_shape: vec![2], layers: vec![dense(1.0, 0.0), power(e)], notes: vec![] };
    let (around_zero, positive) =
        (Interval::around(&[0.1, 0.1], 0.2, None).unwrap(), Interval::around(&[0.5, 0.25], 0.1, None).unwrap());
    for method in [Method::Interval, Method::Symbolic, Method::Alpha, Method::Lp] {
        for e in [0.5, -1.0] {
            let msg = twinverify::tighten::compute(&net(e), &around_zero, method, &Default::default())
                .unwrap_err()
                .to_string();
            assert!(msg.contains("layer 1 (from pow)") && msg.contains("not defined"), "{msg}");
            assert!(twinverify::tighten::compute(&net(e), &positive, method, &Default::default()).is_ok());
        }
    }
}

/// A constant base raised to the activation must be positive: Pow(−2, x) is refused naming the node.
#[test]
fn a_non_positive_power_base_is_refused() {
    let path = edited_twin_mlp("pow-base", |m| {
        let graph = m.graph.as_mut().unwrap();
        graph.initializer.push(pb::TensorProto {
            name: "base".into(),
            dims: vec![1],
            data_type: pb::tensor_proto::DataType::Float as i32,
            float_data: vec![-2.0],
            ..Default::default()
        });
        let relu = graph.node.iter_mut().find(|n| n.op_type == "Relu").unwrap();
        relu.op_type = "Pow".into();
        relu.input = vec!["base".into(), relu.input[0].clone()];
    });
    let msg = onnx::load(&path).unwrap_err().to_string();
    assert!(msg.contains("(Pow)") && msg.contains("positive"), "{msg}");
}

/// One Gemm whose rows add 1e30·x0 and −1e30·x1: at x0 = x1 = 1e10 float32 overflows to
/// inf − inf = NaN in tract, while the IR (f64) computes 0 exactly.
fn overflowing_gemm(model: &mut pb::ModelProto) {
    let graph = model.graph.as_mut().unwrap();
    let row = [1e30f32, -1e30, 0.0, 0.0, 0.0, 0.0];
    let w = pb::TensorProto {
        name: "W_big".into(),
        dims: vec![3, 6],
        data_type: pb::tensor_proto::DataType::Float as i32,
        float_data: row.repeat(3),
        ..Default::default()
    };
    let trans_b =
        pb::AttributeProto { name: "transB".into(), i: 1, r#type: AttributeType::Int as i32, ..Default::default() };
    let gemm = pb::NodeProto {
        name: "big".into(),
        op_type: "Gemm".into(),
        input: vec!["input".into(), "W_big".into()],
        output: vec![graph.output[0].name.clone()],
        attribute: vec![trans_b],
        ..Default::default()
    };
    (graph.initializer, graph.node) = (vec![w], vec![gemm]);
}

#[test]
fn eval_reports_nan_logits_of_tract_as_disagreement() {
    let net = edited_twin_mlp("overflow", overflowing_gemm);
    let net = net.to_str().unwrap();
    let input = "1e10,1e10,0,0,0,0";
    let (ok, out, err) = run_cli(&["eval", net, "--input", input, "--tract", "--json"]);
    let (_, text, _) = run_cli(&["eval", net, "--input", input, "--tract"]);
    std::fs::remove_file(net).ok();
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(floats(&doc["logits"]), [0.0; 3], "{out}");
    assert!(doc["tract_logits"].as_array().unwrap().iter().all(|v| v.is_null()), "tract's NaN: {out}");
    assert_eq!(doc["tract_agrees"], false, "{out}");
    assert!(doc["max_abs_diff"].is_null(), "{out}");
    assert!(text.contains("DISAGREE") && !text.contains("max |IR − tract|"), "{text}");
}

/// Operators on the activation that no sequential relaxation covers name the node, the op and
/// what would be needed: a quotient of the activation by itself, a comparison of two activations,
/// a cast to a narrow integer type (which wraps or saturates).
#[test]
fn nonlinear_uses_of_the_activation_say_what_they_would_need() {
    let cases = [("Div", "divided by itself"), ("Equal", "two activations"), ("Greater", "two activations")];
    for (op, needle) in cases.into_iter().chain([("Cast", "narrower integer types")]) {
        let path = edited_twin_mlp(&format!("act-{op}"), |m| {
            let graph = m.graph.as_mut().unwrap();
            let relu = graph.node.iter_mut().find(|n| n.op_type == "Relu").unwrap();
            relu.op_type = op.into();
            if op == "Cast" {
                let to_uint8 = pb::AttributeProto {
                    name: "to".into(),
                    i: 2,
                    r#type: AttributeType::Int as i32,
                    ..Default::default()
                };
                relu.attribute = vec![to_uint8];
            } else {
                relu.input = vec![relu.input[0].clone(), relu.input[0].clone()];
            }
        });
        let msg = onnx::load(&path).unwrap_err().to_string();
        assert!(msg.contains(&format!("({op})")) && msg.contains(needle), "{op}: {msg}");
    }
}
