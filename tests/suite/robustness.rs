//! Single-network robustness: a verified region has no misclassified sampled input, a falsified
//! one comes from a checked counterexample, and widening the region never turns falsified into
//! verified.

use crate::common::*;
use rand::Rng;
use twinverify::analysis::robustness::{check, Robustness};
use twinverify::bounds::InputMap;
use twinverify::bounds::Method;
use twinverify::data::argmax;
use twinverify::onnx::{self, TractRunner};
use twinverify::solve::SolverConfig;

#[test]
fn verdicts_agree_with_sampling_and_grow_monotonically() {
    verdicts_agree_with_sampling("twin_mlp.onnx", "twin_mlp_data.csv", 1.0);
}

/// The same on networks with Sigmoid and Tanh layers (relaxed by lines, never exact).
#[test]
fn verdicts_on_s_shaped_activations_agree_with_sampling() {
    verdicts_agree_with_sampling("sigmoid_mlp.onnx", "sigmoid_mlp_data.csv", 1.0);
    verdicts_agree_with_sampling("sigmoid_conv.onnx", "sigmoid_conv_data.csv", 1.0 / 255.0);
}

/// The same on a residual network (skip connections carried past the blocks' layers).
#[test]
fn verdicts_on_a_residual_network_agree_with_sampling() {
    verdicts_agree_with_sampling("residual_conv.onnx", "residual_conv_data.csv", 1.0 / 255.0);
}

fn verdicts_agree_with_sampling(file: &str, data: &str, scale: f64) {
    let model = onnx::load(fixture(file)).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let net = &model.network;
    let mut r = rng(5);
    let (mut verified, mut falsified) = (0, 0);
    for (label, x) in csv_rows(&fixture(data), scale, 20) {
        let mut previous = Robustness::Verified;
        for delta in [0.01, 0.05, 0.2] {
            let v = check(
                net,
                &runner,
                &x,
                label,
                delta,
                &InputMap::plain(Some((0.0, 1.0))),
                Method::Lp,
                &SolverConfig::default(),
                false,
            )
            .unwrap();
            if v == Robustness::Verified {
                verified += 1;
                assert_eq!(previous, Robustness::Verified, "a smaller region was not verified");
                for _ in 0..500 {
                    let p: Vec<f64> = x.iter().map(|&v| (v + r.random_range(-delta..=delta)).clamp(0.0, 1.0)).collect();
                    assert_eq!(
                        argmax(&net.forward(&p).unwrap()),
                        label,
                        "{file}: verified region has a misclassified point"
                    );
                }
            }
            if previous == Robustness::Falsified {
                assert_eq!(v, Robustness::Falsified, "a larger region lost its counterexample");
            }
            falsified += (v == Robustness::Falsified) as usize;
            previous = v;
        }
    }
    assert!(verified > 0 && falsified > 0, "{file} exercises both verdicts ({verified}, {falsified})");
}

/// `robust --json/--csv` write one row per sample and radius, with the library's verdict, and
/// agree with the printed rates.
#[test]
fn robust_writes_one_row_per_sample_and_radius() {
    let dir = scratch_dir("robust-out");
    let (json, csv) = (dir.join("r.json"), dir.join("r.csv"));
    let (net, data) = (fixture("twin_mlp.onnx"), fixture("twin_mlp_data.csv"));
    let (ok, out, err) = run_cli(&[
        "robust",
        net.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--samples",
        "0..8",
        "--delta",
        "0.01,0.2",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = doc["samples"].as_array().unwrap();
    let csv_rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
    assert_eq!(csv_rows, rows.len());
    let model = onnx::load(&net).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let samples = twinverify::data::read_samples(&data, 1.0).unwrap();
    for delta in [0.01, 0.2] {
        let at: Vec<&serde_json::Value> = rows.iter().filter(|r| r["delta"] == delta).collect();
        assert!(!at.is_empty() && at.len() <= 8);
        let verified = at.iter().filter(|r| r["result"] == "verified").count();
        let rate = format!("{:.1}%", 100.0 * verified as f64 / at.len() as f64);
        let line = out.lines().find(|l| l.split_whitespace().next() == Some(&delta.to_string())).unwrap();
        assert_eq!(line.split_whitespace().nth(2), Some(rate.as_str()), "{line}");
        for r in at {
            let s = &samples[r["sample"].as_u64().unwrap() as usize];
            let lib = check(
                &model.network,
                &runner,
                &s.features,
                s.label,
                delta,
                &InputMap::plain(None),
                Method::Lp,
                &SolverConfig::default(),
                false,
            )
            .unwrap();
            assert_eq!(r["result"], serde_json::to_value(lib).unwrap(), "sample {}", s.index);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
