//! The VNN-LIB solver interface as a harness runs it: `verify` answers checked against the
//! networks (assignments re-evaluated, unsat answers against random sampling), `supports`,
//! `--name`/`--version`, errors, serialised assignments, run-instances and the VNN-COMP folder.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use prost::Message;
use rand::Rng;
use tract_onnx::pb;
use twinverify::onnx;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_twinverify")).args(args).output().expect("binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vnnlib-examples").join(name).display().to_string()
}

fn net_arg(name: &str, file: &str) -> String {
    format!("{name}={}", fixture(file).display())
}

/// The tensors of a command-line assignment: (name, type, shape, values).
fn parse_assignment(text: &str) -> Vec<(String, String, String, Vec<f64>)> {
    let mut out: Vec<(String, String, String, Vec<f64>)> = Vec::new();
    for line in text.lines().skip(1) {
        match line.parse::<f64>() {
            Ok(v) => out.last_mut().expect("a header first").3.push(v),
            Err(_) => {
                let parts: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(parts.len(), 3, "header 'NAME TYPE [DIMS]': {line}");
                out.push((parts[0].into(), parts[1].into(), parts[2].into(), Vec::new()));
            }
        }
    }
    out
}

fn forward(file: &str, x: &[f64]) -> Vec<f64> {
    onnx::load(fixture(file)).unwrap().network.forward(x).unwrap()
}

#[test]
fn name_version_and_capabilities() {
    let (ok, out, _) = run(&["--version"]);
    assert!(ok);
    assert_eq!(out.trim(), env!("CARGO_PKG_VERSION"));
    let (ok, out, _) = run(&["--name"]);
    assert!(ok && out.starts_with("twinverify"), "{out}");
    let lines = |flag: &str| {
        let (ok, out, err) = run(&["supports", flag]);
        assert!(ok, "{flag}: {err}");
        out.lines().map(String::from).collect::<Vec<_>>()
    };
    assert_eq!(lines("--vnnlib-versions"), ["1.0", "2.1"]);
    let opset = lines("--onnx-opset-versions");
    assert_eq!(opset.len(), 2);
    assert!(opset[0].parse::<u32>().unwrap() <= opset[1].parse::<u32>().unwrap());
    assert_eq!(lines("--serialise-assignments"), ["true"]);
    assert_eq!(lines("--hidden-node-theories"), ["NH", "H"]);
    assert_eq!(lines("--multiple-input-output-theories"), ["SIO", "MIO"]);
    assert!(!lines("--arithmetic-complexity-theories").contains(&"POLY".to_string()));
    let ops = lines("--onnx-operators");
    let every = ["Gemm", "Relu", "Conv", "MatMul", "MaxPool", "Add", "Sigmoid", "Tanh", "ReduceMean", "Concat", "Mul"];
    for op in every.into_iter().chain(["Pow", "Softmax", "Where", "Cast", "Split", "Shape", "Div"]) {
        assert!(ops.contains(&op.to_string()), "{op} missing");
    }
    // an operator converted only in some uses is not claimed
    assert!(!ops.contains(&"LogSoftmax".to_string()), "LogSoftmax claimed");
    assert!(ops.iter().all(|op| onnx::SUPPORTED_OPS.contains(&op.as_str())));
    let (ok, _, err) = run(&["supports"]);
    assert!(!ok && err.contains("required"), "{err}");
}

#[test]
fn robustness_counterexample_is_printed_in_the_standard_format_and_holds() {
    let (ok, out, err) = run(&["verify", &example("robust_v2.vnnlib"), "--network", &net_arg("N", "twin_mlp.onnx")]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().next(), Some("sat"));
    let tensors = parse_assignment(&out);
    assert_eq!(tensors.len(), 2);
    let (x, y) = (&tensors[0], &tensors[1]);
    assert_eq!((x.0.as_str(), x.1.as_str(), x.2.as_str()), ("X", "float32", "[1,6]"));
    assert_eq!((y.0.as_str(), y.2.as_str()), ("Y", "[1,3]"));
    let lo = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55];
    assert!(x.3.iter().zip(lo).all(|(&v, l)| v >= l && v <= l + 0.1), "{:?}", x.3);
    assert!(x.3.iter().all(|&v| v as f32 as f64 == v), "inputs are float32 values");
    let logits = forward("twin_mlp.onnx", &x.3);
    assert!(rel_diff(&y.3, &logits) < 1e-5, "printed outputs are the network's");
    assert!(logits[1] >= logits[0] || logits[2] >= logits[0], "{logits:?}");
    // the 1.0 file states the same property
    let (_, out1, _) = run(&["verify", &example("robust_v1.vnnlib"), "--network", &net_arg("N", "twin_mlp.onnx")]);
    assert_eq!(parse_assignment(&out1)[0].3, x.3);
}

/// Robustness queries at several radii, decided by input splitting and (with `--split-dims 0`)
/// by ReLU-phase branch and bound: unsat answers are checked against the box's corners and random
/// points, sat answers by re-running the network; the two searches never contradict each other
/// and both kinds of answer occur.
/// A query declaring float16 tensors is analysed in real arithmetic and its witness checked in
/// float16: the inputs are float16 values inside the box, the printed outputs are the network's
/// rounded to float16 and satisfy the property; the serialised tensors are FLOAT16.
#[test]
fn float16_declarations_get_float16_witnesses() {
    let dir = scratch_dir("verify-f16");
    let query = std::fs::read_to_string(example("robust_v2.vnnlib")).unwrap().replace("float32", "float16");
    let path = dir.join("robust_f16.vnnlib");
    std::fs::write(&path, query).unwrap();
    let (ok, out, err) = run(&["verify", path.to_str().unwrap(), "--network", &net_arg("N", "twin_mlp.onnx")]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().next(), Some("sat"), "{out}");
    let tensors = parse_assignment(&out);
    let (x, y) = (&tensors[0], &tensors[1]);
    assert_eq!((x.1.as_str(), y.1.as_str()), ("float16", "float16"));
    // a float16 value is a float32 value with the 13 lowest significand bits clear
    let is_f16 = |v: f64| v as f32 as f64 == v && (v as f32).to_bits() & 0x1fff == 0;
    let lo = [0.05, 0.15, 0.25, 0.35, 0.45, 0.55];
    assert!(x.3.iter().zip(lo).all(|(&v, l)| v >= l && v <= l + 0.1 && is_f16(v)), "{:?}", x.3);
    let logits = forward("twin_mlp.onnx", &x.3);
    assert!(y.3.iter().all(|&v| is_f16(v)) && rel_diff(&y.3, &logits) < 2e-3, "{:?} vs {logits:?}", y.3);
    assert!(y.3[1] >= y.3[0] || y.3[2] >= y.3[0], "{:?}", y.3);
    let pb = dir.join("pb");
    let net = net_arg("N", "twin_mlp.onnx");
    let (ok, _, err) =
        run(&["verify", path.to_str().unwrap(), "--network", &net, "--serialise-assignments", pb.to_str().unwrap()]);
    assert!(ok, "{err}");
    let tensor = tract_onnx::pb::TensorProto::decode(std::fs::read(pb.join("X.pb")).unwrap().as_slice()).unwrap();
    assert_eq!(tensor.data_type, tract_onnx::pb::tensor_proto::DataType::Float16 as i32);
    assert_eq!(tensor.int32_data.len(), 6);
}

#[test]
fn robustness_answers_agree_with_sampling() {
    robustness_answers_agree_with_sampling_on("twin_mlp.onnx", "twin_mlp_data.csv", 1.0);
}

/// The same on a network with Sigmoid and Tanh layers (relaxed by lines; its witnesses come from
/// the gradient search and the LP's points).
#[test]
fn robustness_answers_on_s_shaped_activations_agree_with_sampling() {
    robustness_answers_agree_with_sampling_on("sigmoid_mlp.onnx", "sigmoid_mlp_data.csv", 1.0);
}

/// The same through step functions (Split, Where of comparisons, casts to int64 and to bool):
/// relaxed by their pieces, decided where input splitting separates the thresholds.
#[test]
fn robustness_answers_on_step_functions_agree_with_sampling() {
    robustness_answers_agree_with_sampling_on("step_ops.onnx", "step_ops_data.csv", 1.0);
    robustness_answers_agree_with_sampling_on("step_bool.onnx", "step_bool_data.csv", 1.0);
}

/// Theories MIO and H on a network with two inputs, two outputs and a named hidden tensor: each
/// further output and the hidden tensor become a network cut there, reading the one input
/// vector (both inputs in order). The cuts' IR agrees with tract; a strict negative ReLU output
/// and an output beyond its sampled maximum are unsat (no sampled point shows them); a sat
/// assignment prints every declared input and output, and the IR recomputes the outputs.
#[test]
fn several_inputs_outputs_and_hidden_tensors_are_answered() {
    use twinverify::onnx::{Cut, TractRunner};
    let path = fixture("mio_net.onnx");
    let cuts = [Cut::Output(0), Cut::Output(1), Cut::Tensor("hidden_relu".into())];
    let nets: Vec<_> = cuts.iter().map(|c| onnx::load_output(&path, false, Some(c.clone())).unwrap()).collect();
    let mut rng = rng(3);
    let samples: Vec<Vec<f64>> = (0..2000).map(|_| uniform(&mut rng, 4, 0.0, 1.0)).collect();
    for m in &nets {
        let tract = TractRunner::new(m).unwrap();
        assert_eq!(m.network.input_size(), 4);
        for x in samples.iter().take(50) {
            let (ir, t) = (m.network.forward(x).unwrap(), tract.run(x).unwrap());
            assert!(rel_diff(&ir, &t) < 1e-5, "{}: {ir:?} vs {t:?}", m.logits_name);
        }
    }
    let y2_max = samples.iter().map(|x| nets[1].network.forward(x).unwrap()[0]).fold(f64::NEG_INFINITY, f64::max);
    let head = "(vnnlib-version <2.0>)\n(declare-network N\n  (declare-input X1 float32 [1,2])\n  \
                (declare-input X2 float32 [1,2])\n  (declare-hidden H float32 [1,6] \"hidden_relu\")\n  \
                (declare-output Y1 float32 [1,3])\n  (declare-output Y2 float32 [1,2])\n)\n";
    let mut boxes = String::new();
    for t in ["X1", "X2"] {
        for i in 0..2 {
            boxes.push_str(&format!("(assert (>= {t}[0,{i}] 0.0))\n(assert (<= {t}[0,{i}] 1.0))\n"));
        }
    }
    let dir = scratch_dir("verify-mio");
    let ask = |name: &str, property: &str| {
        let file = dir.join(name);
        std::fs::write(&file, format!("{head}{boxes}{property}")).unwrap();
        let (ok, out, err) = run(&["verify", file.to_str().unwrap(), "--network", &net_arg("N", "mio_net.onnx")]);
        assert!(ok, "{err}");
        out
    };
    assert_eq!(ask("negative.vnnlib", "(assert (< H[0,2] 0.0))\n").lines().next(), Some("unsat"));
    let beyond = y2_max + 0.5;
    let out = ask("beyond.vnnlib", &format!("(assert (>= Y2[0,0] {beyond:e}))\n"));
    assert_eq!(out.lines().next(), Some("unsat"), "{out}");
    let x = &samples[7];
    let (y1, y2) = (nets[0].network.forward(x).unwrap(), nets[1].network.forward(x).unwrap());
    let property = format!("(assert (>= Y1[0,1] {:e}))\n(assert (<= Y2[0,1] {:e}))\n", y1[1] - 1e-3, y2[1] + 1e-3);
    let out = ask("reach.vnnlib", &property);
    assert_eq!(out.lines().next(), Some("sat"), "{out}");
    let tensors = parse_assignment(&out);
    let names: Vec<&str> = tensors.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(names, ["X1", "X2", "Y1", "Y2"]);
    let xs: Vec<f64> = tensors[0].3.iter().chain(&tensors[1].3).copied().collect();
    assert!(rel_diff(&tensors[2].3, &nets[0].network.forward(&xs).unwrap()) < 1e-5);
    assert!(rel_diff(&tensors[3].3, &nets[1].network.forward(&xs).unwrap()) < 1e-5);
    assert!(tensors[2].3[1] >= y1[1] - 1e-3 && tensors[3].3[1] <= y2[1] + 1e-3, "{out}");
}

/// The same through a Softmax inside the network, and through products of two parts of the
/// activation (McCormick) and a quotient of two slices.
#[test]
fn robustness_answers_through_softmax_and_products_agree_with_sampling() {
    robustness_answers_agree_with_sampling_on("softmax_ops.onnx", "softmax_ops_data.csv", 1.0);
    robustness_answers_agree_with_sampling_on("product_ops.onnx", "product_ops_data.csv", 1.0);
}

/// The same on a residual network: two blocks `Relu(x + Conv(Relu(Conv(x))))`, the skip
/// connections carried past the blocks' layers.
#[test]
fn robustness_answers_on_a_residual_network_agree_with_sampling() {
    robustness_answers_agree_with_sampling_on("residual_conv.onnx", "residual_conv_data.csv", 1.0 / 255.0);
}

/// A query reads the probabilities of a network ending in Softmax (kept as a layer): a drop of
/// the top probability in a small box is unsat (no sampled point shows it), a sum of the
/// probabilities off 1 is unsat on a large box (the LP knows every group sums to 1), and a sat
/// answer's outputs are the softmax of the logits.
#[test]
fn queries_read_the_probabilities_of_a_trailing_softmax() {
    let e = manifest().into_iter().find(|e| e["file"] == "mlp_gemm.onnx").unwrap();
    let x = floats(&e["reference"][0]["input"]);
    let probs = |x: &[f64]| {
        let logits = forward("mlp_gemm.onnx", x);
        let s: f64 = logits.iter().map(|v| v.exp()).sum();
        logits.iter().map(|v| v.exp() / s).collect::<Vec<f64>>()
    };
    let p = probs(&x);
    let dir = scratch_dir("verify-softmax");
    let query = |r: f64, property: &str| {
        let mut s = String::new();
        (0..x.len()).for_each(|i| s.push_str(&format!("(declare-const X_{i} Real)\n")));
        (0..3).for_each(|j| s.push_str(&format!("(declare-const Y_{j} Real)\n")));
        for (i, v) in x.iter().enumerate() {
            s.push_str(&format!("(assert (>= X_{i} {:e}))\n(assert (<= X_{i} {:e}))\n", v - r, v + r));
        }
        s + property
    };
    let ask = |name: &str, r: f64, property: &str| {
        let path = dir.join(name);
        std::fs::write(&path, query(r, property)).unwrap();
        let (ok, out, err) = run(&["verify", path.to_str().unwrap(), "--network", &net_arg("N", "mlp_gemm.onnx")]);
        assert!(ok, "{err}");
        out
    };
    let drop = p[1] - 0.05;
    let out = ask("drop.vnnlib", 0.01, &format!("(assert (<= Y_1 {drop:e}))\n"));
    assert_eq!(out.lines().next(), Some("unsat"), "{out}");
    let mut rng = rng(5);
    for _ in 0..2000 {
        let y: Vec<f64> = x.iter().map(|v| v + rng.random_range(-0.01..0.01)).collect();
        assert!(probs(&y)[1] > drop, "unsat, but {y:?} drops the probability");
    }
    let out = ask("sum.vnnlib", 1.0, "(assert (>= (+ Y_0 Y_1 Y_2) 1.001))\n");
    assert_eq!(out.lines().next(), Some("unsat"), "{out}");
    let out = ask("high.vnnlib", 0.01, &format!("(assert (>= Y_1 {:e}))\n", p[1] - 1e-3));
    assert_eq!(out.lines().next(), Some("sat"), "{out}");
    let tensors = parse_assignment(&out);
    let (xs, ys) = (&tensors[0].3, &tensors[1].3);
    assert!(rel_diff(ys, &probs(xs)) < 1e-5 && (ys.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{ys:?}");
}

fn robustness_answers_agree_with_sampling_on(file: &str, data: &str, scale: f64) {
    let data = csv_rows(&fixture(data), scale, 6);
    let dir = scratch_dir(&format!("verify-robust-{file}"));
    let mut seen = (0, 0);
    let mut rng = rng(7);
    for (row, (_, x)) in data.iter().enumerate() {
        let logits = forward(file, x);
        let c = twinverify::data::argmax(&logits);
        for eps in [0.005, 0.05, 0.2] {
            let path = dir.join(format!("r{row}_{eps}.vnnlib"));
            std::fs::write(&path, robustness_query(x, c, eps)).unwrap();
            let mut answers = Vec::new();
            for split_dims in ["16", "0"] {
                let net = net_arg("N", file);
                let args = [
                    "verify",
                    path.to_str().unwrap(),
                    "--network",
                    &net,
                    "--split-dims",
                    split_dims,
                    "--timeout",
                    "20",
                ];
                let (ok, out, err) = run(&args);
                assert!(ok, "{err}");
                let answer = out.lines().next().unwrap_or_default().to_string();
                match answer.as_str() {
                    "unsat" => {
                        seen.0 += 1;
                        for k in 0..2000 {
                            // the 64 corners of the box first, then uniform points
                            let p: Vec<f64> = (0..x.len())
                                .map(|i| match k < 64 {
                                    true if (k >> i) & 1 == 0 => x[i] - eps,
                                    true => x[i] + eps,
                                    false => x[i] + rng.random_range(-eps..eps),
                                })
                                .collect();
                            let y = forward(file, &p);
                            assert_eq!(
                                twinverify::data::argmax(&y),
                                c,
                                "{file} row {row} eps {eps}: unsat but {p:?} changes the class"
                            );
                        }
                    }
                    "sat" => {
                        seen.1 += 1;
                        let xs = &parse_assignment(&out)[0].3;
                        assert!(xs.iter().zip(x).all(|(a, b)| (a - b).abs() <= eps + 1e-6));
                        let y = forward(file, xs);
                        assert!((0..3).any(|j| j != c && y[j] >= y[c]), "{file} row {row} eps {eps}: {y:?}");
                    }
                    other => assert!(other == "unknown" || other == "timed-out", "{out}"),
                }
                answers.push(answer);
            }
            let decided: Vec<&String> = answers.iter().filter(|a| *a == "sat" || *a == "unsat").collect();
            assert!(decided.windows(2).all(|w| w[0] == w[1]), "{file} row {row} eps {eps}: {answers:?}");
        }
    }
    assert!(seen.0 >= 6 && seen.1 >= 6, "{file}: both answers occur: {seen:?}");
}

fn robustness_query(x: &[f64], c: usize, eps: f64) -> String {
    let others: Vec<usize> = (0..3).filter(|&j| j != c).collect();
    class_change_query(x, c, &others, eps)
}

/// "Some class of `others` scores at least class `c` somewhere in the box of radius `eps`", one
/// disjunct per class (the networks have 3 outputs).
fn class_change_query(x: &[f64], c: usize, others: &[usize], eps: f64) -> String {
    let mut s = String::new();
    (0..x.len()).for_each(|i| s.push_str(&format!("(declare-const X_{i} Real)\n")));
    (0..3).for_each(|j| s.push_str(&format!("(declare-const Y_{j} Real)\n")));
    for (i, v) in x.iter().enumerate() {
        s.push_str(&format!("(assert (>= X_{i} {:e}))\n(assert (<= X_{i} {:e}))\n", v - eps, v + eps));
    }
    let disjuncts: Vec<String> = others.iter().map(|j| format!("(and (>= Y_{j} Y_{c}))")).collect();
    s.push_str(&format!("(assert (or {}))\n", disjuncts.join(" ")));
    s
}

/// The disjuncts of a query over one box too large to split share one ReLU branch and bound:
/// its answer agrees with the disjuncts asked one at a time (unsat exactly when every one is
/// unsat, sat only when one of them is not unsat), its assignments hold, both answers occur, and
/// a search over two disjuncts at once does happen.
#[test]
fn disjuncts_searched_together_agree_with_each_asked_alone() {
    let dir = scratch_dir("verify-together");
    let mut seen = (0, 0, 0);
    for (file, csv, scale) in
        [("twin_mlp.onnx", "twin_mlp_data.csv", 1.0), ("twin_conv.onnx", "twin_conv_data.csv", 1.0 / 255.0)]
    {
        let net = net_arg("N", file);
        let answer = |query: String, name: String| {
            let path = dir.join(name);
            std::fs::write(&path, query).unwrap();
            let args =
                ["verify", path.to_str().unwrap(), "--network", &net, "--split-dims", "0", "--timeout", "20", "-v"];
            let (ok, out, err) = run(&args);
            assert!(ok, "{err}");
            (out, err)
        };
        for (row, (_, x)) in csv_rows(&fixture(csv), scale, 6).iter().enumerate() {
            let c = twinverify::data::argmax(&forward(file, x));
            let others: Vec<usize> = (0..3).filter(|&j| j != c).collect();
            for eps in [0.02, 0.05, 0.1, 0.2] {
                let (together, log) =
                    answer(class_change_query(x, c, &others, eps), format!("{file}_{row}_{eps}.vnnlib"));
                seen.2 += log.contains("ReLU branch and bound over 2 disjuncts") as usize;
                let alone: Vec<String> = others
                    .iter()
                    .map(|&j| answer(class_change_query(x, c, &[j], eps), format!("{file}_{row}_{eps}_{j}.vnnlib")).0)
                    .map(|out| out.lines().next().unwrap_or_default().to_string())
                    .collect();
                let at = format!("{file} row {row} eps {eps}");
                match together.lines().next().unwrap_or_default() {
                    "unsat" => {
                        seen.0 += 1;
                        assert!(alone.iter().all(|a| a != "sat"), "{at}: {alone:?}");
                    }
                    "sat" => {
                        seen.1 += 1;
                        assert!(alone.iter().any(|a| a != "unsat"), "{at}: {alone:?}");
                        let xs = &parse_assignment(&together)[0].3;
                        assert!(xs.iter().zip(x).all(|(a, b)| (a - b).abs() <= eps + 1e-6));
                        let y = forward(file, xs);
                        assert!(others.iter().any(|&j| y[j] >= y[c]), "{at}: {y:?}");
                    }
                    other => panic!("{at}: {other} on a small network with 20 s"),
                }
                if alone.iter().all(|a| a == "unsat") {
                    assert!(together.starts_with("unsat"), "{at}: {together} but {alone:?}");
                }
            }
        }
    }
    assert!(seen.0 >= 4 && seen.1 >= 4 && seen.2 >= 1, "unsat, sat, searches over two disjuncts: {seen:?}");
}

#[test]
fn unsat_example_and_twin_relations() {
    for twin in ["twin_mlp.onnx", "twin_mlp_prune50.onnx", "twin_mlp_quant8.onnx"] {
        let (ok, out, err) = run(&["verify", &example("robust_row0_v1.vnnlib"), "--network", &net_arg("N", twin)]);
        assert!(ok, "{err}");
        assert_eq!(out.trim(), "unsat", "{twin}");
    }
    // identical twins: the margin difference is exactly 0, never < 0
    let args = |n2: &str| {
        let (a, b) = (net_arg("N1", "twin_mlp.onnx"), net_arg("N2", n2));
        run(&["verify", &example("twin_v2.vnnlib"), "--network", &a, "--network", &b])
    };
    assert_eq!(args("twin_mlp_same.onnx").1.trim(), "unsat");
    let (ok, out, err) = args("twin_mlp_prune50.onnx");
    assert!(ok, "{err}");
    assert_eq!(out.lines().next(), Some("sat"));
    let t = parse_assignment(&out);
    assert_eq!(t.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["X1", "Y1", "X2", "Y2"]);
    assert_eq!(t[0].3, t[2].3, "both networks read the same input");
    let (y1, y2) = (forward("twin_mlp.onnx", &t[0].3), forward("twin_mlp_prune50.onnx", &t[2].3));
    assert!((y1[0] - y1[1]) - (y2[0] - y2[1]) < 0.0);
}

#[test]
fn implication_counterexample_between_twins() {
    let (a, b) = (net_arg("N1", "twin_mlp.onnx"), net_arg("N2", "twin_mlp_prune50.onnx"));
    let (ok, out, err) = run(&["verify", &example("implication_v2.vnnlib"), "--network", &a, "--network", &b]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().next(), Some("sat"));
    let x = &parse_assignment(&out)[0].3;
    let (y1, y2) = (forward("twin_mlp.onnx", x), forward("twin_mlp_prune50.onnx", x));
    assert_eq!(twinverify::data::argmax(&y2), 1);
    assert_ne!(twinverify::data::argmax(&y1), 1);
    // identical twins: no counterexample can exist
    let same = net_arg("N2", "twin_mlp_same.onnx");
    let (ok, out, _) =
        run(&["verify", &example("implication_v2.vnnlib"), "--network", &a, "--network", &same, "--timeout", "3"]);
    assert!(ok);
    assert_ne!(out.lines().next(), Some("sat"));
}

#[test]
fn serialised_assignment_matches_the_printed_one() {
    let dir = scratch_dir("verify-pb");
    let net = net_arg("N", "twin_mlp.onnx");
    let (_, printed, _) = run(&["verify", &example("robust_v2.vnnlib"), "--network", &net]);
    let (ok, out, err) = run(&[
        "verify",
        &example("robust_v2.vnnlib"),
        "--network",
        &net,
        "--serialise-assignments",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "sat", "assignment goes to the folder, not stdout");
    let printed = parse_assignment(&printed);
    for (name, _, _, values) in printed {
        let bytes = std::fs::read(dir.join(format!("{name}.pb"))).unwrap();
        let t = pb::TensorProto::decode(bytes.as_slice()).unwrap();
        assert_eq!(t.data_type, pb::tensor_proto::DataType::Float as i32);
        assert_eq!(t.dims, vec![1, if name == "X" { 6 } else { 3 }]);
        let got: Vec<f64> = t.float_data.iter().map(|&v| v as f64).collect();
        assert_eq!(got, values.iter().map(|&v| v as f32 as f64).collect::<Vec<_>>());
    }
}

#[test]
fn bad_queries_and_bindings_are_one_clear_error() {
    let twin = net_arg("N", "twin_mlp.onnx");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![example("robust_v2.vnnlib"), "--network".into(), net_arg("M", "twin_mlp.onnx")],
            "declares no network 'M'",
        ),
        (
            vec![example("twin_v2.vnnlib"), "--network".into(), net_arg("N1", "twin_mlp.onnx")],
            "network 'N2' needs a file",
        ),
        (
            vec![example("robust_v2.vnnlib"), "--network".into(), net_arg("N", "twin_pool.onnx")],
            "declares input [1, 6]",
        ),
        (vec![example("bad/unbalanced.vnnlib"), "--network".into(), twin.clone()], ":"),
        (vec![example("robust_v2.vnnlib"), "--network".into(), twin, "--timeout".into(), "0".into()], "positive"),
    ];
    for (args, want) in cases {
        let mut all = vec!["verify".to_string()];
        all.extend(args);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let (ok, out, err) = run(&refs);
        assert!(!ok, "{all:?} should fail");
        assert!(out.is_empty(), "nothing on stdout: {out}");
        assert!(err.contains(want) && err.lines().count() == 1, "{all:?}: {err}");
    }
}

#[test]
fn run_instances_writes_results_and_rejects_contradictions() {
    let dir = scratch_dir("verify-bench");
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("vnnlib-examples");
    let fx = fixtures();
    std::fs::write(
        dir.join("instances.csv"),
        format!(
            "{f}/twin_mlp.onnx,{e}/robust_v1.vnnlib,30\n{f}/twin_mlp.onnx,{e}/robust_row0_v1.vnnlib,30\n",
            f = fx.display(),
            e = ex.display()
        ),
    )
    .unwrap();
    let expected = |a: &str, b: &str| {
        format!("onnx,vnnlib,expected\n{f}/twin_mlp.onnx,{e}/robust_v1.vnnlib,{a}\n{f}/twin_mlp.onnx,{e}/robust_row0_v1.vnnlib,{b}\n", f = fx.display(), e = ex.display())
    };
    std::fs::write(dir.join("expected_results.csv"), expected("sat", "unsat")).unwrap();
    let out_csv = dir.join("results.csv");
    let (ok, out, err) =
        run(&["run-instances", dir.join("instances.csv").to_str().unwrap(), "--out", out_csv.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("sat") && out.contains("unsat"), "{out}");
    let mut r = csv::Reader::from_path(&out_csv).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.iter().map(|r| r[2].to_string()).collect::<Vec<_>>(), ["sat", "unsat"]);
    assert!(rows.iter().all(|r| r[3].parse::<f64>().unwrap() < 30.0));
    // a (deliberately wrong) expectation is reported as a contradiction
    std::fs::write(dir.join("expected_results.csv"), expected("unsat", "unsat")).unwrap();
    let instances = dir.join("instances.csv");
    let (ok, _, err) =
        run(&["run-instances", instances.to_str().unwrap(), "--out", out_csv.to_str().unwrap(), "--overwrite"]);
    assert!(!ok && err.contains("contradict"), "{err}");
}

/// The VNN-COMP 2021 `test` benchmark: every instance solved, in agreement with the expected results.
#[test]
fn vnncomp_test_benchmark() {
    let Some(anchors) = anchors() else { return };
    let dir = anchors.join("vnncomp/test");
    let out_csv = scratch_dir("verify-vnncomp").join("results.csv");
    let (ok, _, err) =
        run(&["run-instances", dir.join("test_instances.csv").to_str().unwrap(), "--out", out_csv.to_str().unwrap()]);
    assert!(ok, "{err}");
    let mut r = csv::Reader::from_path(&out_csv).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r[2] == r[5]), "every answer is the expected one: {rows:?}");
}

/// An instance no VNN-COMP 2021 tool solved, with a 2-second time-out: an answer within it.
#[test]
fn answers_within_the_time_out() {
    let Some(anchors) = anchors() else { return };
    let dir = anchors.join("vnncomp/mnistfc");
    let start = std::time::Instant::now();
    let net = format!("N={}", dir.join("mnist-net_256x6.onnx").display());
    let (ok, out, err) =
        run(&["verify", dir.join("prop_0_0.05.vnnlib").to_str().unwrap(), "--network", &net, "--timeout", "2"]);
    let secs = start.elapsed().as_secs_f64();
    assert!(ok, "{err}");
    assert!(["sat", "unsat", "unknown", "timed-out"].contains(&out.lines().next().unwrap_or("")), "{out}");
    assert!(secs < 2.0, "answered after {secs:.2} s");
}

#[test]
fn equivalence_queries_are_proved_for_a_faithful_re_export_and_refuted_for_a_changed_one() {
    // the two statements of `equiv` as VNN-LIB 2 queries over the whole box [0, 1]^6: the
    // PyTorch-style and TF-style exports share every layer after folding, so ε-equivalence is
    // proved by the joint model and top-1 equivalence by exact cancellation (an LP cannot: the
    // two relaxed rows meet on the decision boundary); the changed copy gives checked witnesses
    let fx = fixtures();
    let net = |name: &str| fx.join(name).display().to_string();
    for (query, twin, want) in [
        ("equiv_epsilon_v2.vnnlib", "equiv_tf.onnx", "unsat"),
        ("equiv_top1_v2.vnnlib", "equiv_tf.onnx", "unsat"),
        ("equiv_epsilon_v2.vnnlib", "equiv_changed.onnx", "sat"),
        ("equiv_top1_v2.vnnlib", "equiv_changed.onnx", "sat"),
        ("equiv_epsilon_v2.vnnlib", "equiv_f16.onnx", "sat"),
    ] {
        let a = format!("A={}", net("equiv_torch.onnx"));
        let b = format!("B={}", net(twin));
        let start = std::time::Instant::now();
        let (ok, out, err) = run(&["verify", &example(query), "--network", &a, "--network", &b, "--timeout", "20"]);
        assert!(ok, "{query} {twin}: {err}");
        assert_eq!(out.lines().next(), Some(want), "{query} {twin}: {out}{err}");
        assert!(start.elapsed().as_secs_f64() < 10.0, "{query} {twin}: {:?}", start.elapsed());
    }
    // float-sound mode does not use the exact cancellation (float32 rounding differs between
    // the two exports' summation orders): it must not claim more than it can prove
    let a = format!("A={}", net("equiv_torch.onnx"));
    let b = format!("B={}", net("equiv_tf.onnx"));
    let (_, out, err) = run(&[
        "verify",
        &example("equiv_top1_v2.vnnlib"),
        "--network",
        &a,
        "--network",
        &b,
        "--timeout",
        "3",
        "--float-sound",
    ]);
    assert!(matches!(out.lines().next(), Some("unknown" | "timed-out")), "{out}{err}");
}

#[test]
fn epsilon_queries_on_a_float16_copy_are_decided_by_the_difference_bound() {
    // torch vs its float16 copy share no layer, so the joint LP bounds A and B apart (and timed
    // out on "some |Aᵢ − Bᵢ| > 0.005"); the layer-by-layer difference bound (certified ≤ 0.0027
    // by `equiv`) refutes it at once, through the input splitting and the large-box path alike,
    // and never refutes a threshold below a difference that is attained (7.5e-4)
    let fx = fixtures();
    let text = std::fs::read_to_string(example("equiv_epsilon_v2.vnnlib")).unwrap();
    let dir = scratch_dir("verify-f16-epsilon");
    let a = format!("A={}", fx.join("equiv_torch.onnx").display());
    let b = format!("B={}", fx.join("equiv_f16.onnx").display());
    for (epsilon, want) in [("0.005", "unsat"), ("0.0007", "sat")] {
        let query = dir.join(format!("epsilon_{epsilon}.vnnlib"));
        std::fs::write(&query, text.replace("0.0001)", &format!("{epsilon})"))).unwrap();
        for split_dims in ["16", "0"] {
            let start = std::time::Instant::now();
            let args = ["verify", query.to_str().unwrap(), "--network", &a, "--network", &b, "--timeout", "20"];
            let (ok, out, err) = run(&[&args[..], &["--split-dims", split_dims]].concat());
            assert!(ok, "{err}");
            assert_eq!(out.lines().next(), Some(want), "ε = {epsilon}, split dims {split_dims}: {out}{err}");
            assert!(start.elapsed().as_secs_f64() < 5.0, "ε = {epsilon}: {:?}", start.elapsed());
        }
    }
}
