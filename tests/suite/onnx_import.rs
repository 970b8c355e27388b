//! The ONNX front-end against references: onnxruntime outputs stored with the fixtures, tract's
//! inference on random inputs, the real anchor networks, and every kind of bad input.

use crate::common::*;
use twinverify::onnx::{self, TractRunner};
use twinverify::Error;

#[test]
fn ir_matches_onnxruntime_and_tract_on_every_fixture() {
    let entries = manifest();
    assert!(entries.len() >= 14, "manifest lists the fixtures");
    for e in entries {
        let file = e["file"].as_str().unwrap();
        let model = onnx::load(fixture(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        let tract = TractRunner::new(&model).unwrap();
        let key = if e.get("logits_reference").is_some() { "logits_reference" } else { "reference" };
        let want_outputs = e[key].as_array().unwrap();
        for (case, reference) in e["reference"].as_array().unwrap().iter().enumerate() {
            let x = floats(&reference["input"]);
            let want = floats(&want_outputs[case]["output"]);
            let got = model.network.forward(&x).unwrap();
            let d = rel_diff(&got, &want);
            assert!(d < 1e-5, "{file} case {case}: IR differs from onnxruntime by {d}");
            let t = tract.run(&x).unwrap();
            assert!(rel_diff(&got, &t) < 1e-5, "{file} case {case}: IR differs from tract");
        }
    }
}

#[test]
fn every_operator_of_the_table_is_exercised_by_a_fixture() {
    let covered: std::collections::BTreeSet<String> = manifest()
        .iter()
        .flat_map(|e| e["ops"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()))
        .collect();
    for op in [
        "Gemm",
        "MatMul",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Conv",
        "BatchNormalization",
        "Relu",
        "MaxPool",
        "AveragePool",
        "Pad",
        "Flatten",
        "Reshape",
        "Transpose",
        "Identity",
        "Dropout",
        "Softmax",
        "Shape",
        "Gather",
        "Unsqueeze",
        "Squeeze",
        "Concat",
        "ConstantOfShape",
        "Where",
        "Expand",
        "Equal",
        "Split",
        "Greater",
        "LessOrEqual",
        "Cast",
    ] {
        assert!(covered.contains(op), "no fixture exercises {op}");
    }
}

#[test]
fn symbolic_batch_is_set_to_one_and_trailing_softmax_is_dropped() {
    let net = onnx::load_network(fixture("mlp_gemm.onnx")).unwrap();
    assert_eq!(net.input_shape, vec![1, 1, 4, 4]);
    assert!(net.notes.iter().any(|n| n.contains("Softmax")), "the dropped Softmax is reported");
    // Gemm(16→10), Relu, Gemm(10→8), Relu, Gemm(8→3): the flatten idiom left no layer behind
    let kinds: Vec<_> = net.layers.iter().map(|l| l.layer.kind()).collect();
    assert_eq!(kinds, ["affine", "relu", "affine", "relu", "affine"]);
    // queries on the declared output keep it as a layer
    let kept = onnx::load_output(fixture("mlp_gemm.onnx"), false, None).unwrap();
    assert_eq!(kept.network.layers.last().unwrap().layer.kind(), "softmax");
    assert_eq!(kept.logits_name, kept.output_name);
}

#[test]
fn in_graph_normalisation_folds_into_the_first_convolution() {
    let net = onnx::load_network(fixture("normalize_net.onnx")).unwrap();
    assert_eq!(net.layers[0].layer.kind(), "affine");
    assert!(net.layers[0].origin.iter().any(|o| o.contains("Sub")), "{:?}", net.layers[0].origin);
    assert_eq!(net.layers.iter().filter(|l| l.layer.kind() == "affine").count(), 3);
}

#[test]
fn tf_nhwc_transposes_fold_into_affine_layers() {
    let net = onnx::load_network(fixture("mlp_tf.onnx")).unwrap();
    let kinds: Vec<_> = net.layers.iter().map(|l| l.layer.kind()).collect();
    assert_eq!(kinds, ["affine", "relu", "affine", "relu", "affine"]);
}

fn load_err(name: &str) -> Error {
    match onnx::load(fixture(&format!("bad/{name}"))) {
        Ok(_) => panic!("{name} must be rejected"),
        Err(e) => e,
    }
}

#[test]
fn bad_models_give_one_clear_error() {
    let e = load_err("unsupported_op.onnx");
    let msg = e.to_string();
    assert!(matches!(e, Error::UnsupportedOp { .. }));
    assert!(msg.contains("act_erf") && msg.contains("Erf") && msg.contains("Gemm, "), "{msg}");
    assert!(matches!(load_err("malformed.onnx"), Error::MalformedOnnx { .. }));
    assert!(load_err("branching.onnx").to_string().contains("residual connection"));
    assert!(load_err("log_softmax_middle.onnx").to_string().contains("LogSoftmax is supported only as the last"));
    assert!(load_err("nonzero_pad.onnx").to_string().contains("zero padding"));
    let missing = onnx::load(fixture("does_not_exist.onnx")).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }));
}

#[test]
fn incompatible_twins_are_reported() {
    let a = onnx::load_network(fixture("twin_mlp.onnx")).unwrap();
    let b = onnx::load_network(fixture("bad/twin_wrong_shape.onnx")).unwrap();
    let msg = a.check_compatible(&b).unwrap_err().to_string();
    assert!(msg.contains("not compatible"), "{msg}");
    let c = onnx::load_network(fixture("twin_mlp_prune50.onnx")).unwrap();
    a.check_compatible(&c).unwrap();
}

/// Every anchor network: IR (f64) against tract (f32) on random inputs and real MNIST rows.
#[test]
fn ir_matches_tract_on_every_anchor_network() {
    let Some(root) = anchors() else { return };
    let nets = root.join("FANC/proof_transfer/nets");
    let mut files: Vec<_> = [
        "fcnn7",
        "fcnn7_float16",
        "fcnn7_quant16",
        "fcnn7_quant8",
        "fcnn7_quant4",
        "fconv4",
        "fconv4_float16",
        "fconv4_quant16",
        "fconv4_quant8",
        "fconv4_quant4",
        "lenet",
        "ffn",
    ]
    .iter()
    .map(|n| nets.join(format!("{n}.onnx")))
    .collect();
    for k in 1..=9 {
        files.push(nets.join(format!("fcnn7_prune/fcnn7_prune_tune{k}.onnx")));
        files.push(nets.join(format!("fconv4_prune/fconv4_prune_tune{k}.onnx")));
    }
    for dir in ["vnncomp/test", "vnncomp/mnistfc", "vnncomp/mnist_fc_2022/onnx"] {
        for f in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "onnx") {
                files.push(p);
            }
        }
    }
    let mnist = csv_rows(&root.join("FANC/data/mnist_test.csv"), 1.0 / 255.0, 5);
    let mut r = rng(7);
    let mut checked = 0;
    for f in &files {
        let model = onnx::load(f).unwrap_or_else(|e| panic!("{e}"));
        let tract = TractRunner::new(&model).unwrap();
        let n = model.network.input_size();
        let mut inputs: Vec<Vec<f64>> = (0..5).map(|_| uniform(&mut r, n, 0.0, 1.0)).collect();
        if n == 784 {
            inputs.extend(mnist.iter().map(|(_, x)| x.clone()));
        }
        for x in &inputs {
            let got = model.network.forward(x).unwrap();
            let want = tract.run(x).unwrap();
            let d = rel_diff(&got, &want);
            assert!(d < 1e-4, "{}: IR differs from tract by {d} (relative)", f.display());
            checked += 1;
        }
    }
    eprintln!("anchor cross-check: {} networks, {checked} inputs", files.len());
}
