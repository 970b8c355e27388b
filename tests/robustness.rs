//! Single-network robustness: a verified region has no misclassified sampled input, a falsified
//! one comes from a checked counterexample, and widening the region never turns falsified into
//! verified.

mod common;

use common::*;
use rand::Rng;
use twinverify::analysis::robustness::{check, Robustness};
use twinverify::bounds::InputMap;
use twinverify::bounds::Method;
use twinverify::data::argmax;
use twinverify::onnx::{self, TractRunner};
use twinverify::solve::SolverConfig;

#[test]
fn verdicts_agree_with_sampling_and_grow_monotonically() {
    let model = onnx::load(fixture("twin_mlp.onnx")).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let net = &model.network;
    let mut r = rng(5);
    let (mut verified, mut falsified) = (0, 0);
    for (label, x) in csv_rows(&fixture("twin_mlp_data.csv"), 1.0, 20) {
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
                    assert_eq!(argmax(&net.forward(&p).unwrap()), label, "verified region has a misclassified point");
                }
            }
            if previous == Robustness::Falsified {
                assert_eq!(v, Robustness::Falsified, "a larger region lost its counterexample");
            }
            falsified += (v == Robustness::Falsified) as usize;
            previous = v;
        }
    }
    assert!(verified > 0 && falsified > 0, "the fixture exercises both verdicts ({verified}, {falsified})");
}
