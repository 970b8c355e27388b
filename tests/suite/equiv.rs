//! `twinverify equiv` on two exports of one MLP: a faithful re-export is proved equivalent, a
//! changed weight gives checked counterexamples, a float16 twin gets a bound above sampled values.

use crate::common::*;
use twinverify::analysis::equiv::{analyse, Area, Criterion, EquivConfig, EquivResult, Top1Status, Verdict};
use twinverify::bounds::Interval;
use twinverify::data::argmax;
use twinverify::ir::Network;
use twinverify::onnx::{self, TractRunner};

struct Pair {
    nets: [Network; 2],
    runners: Vec<TractRunner>,
}

fn pair(a: &str, b: &str) -> Pair {
    pair_of(fixture(a), fixture(b))
}

fn pair_of(a: std::path::PathBuf, b: std::path::PathBuf) -> Pair {
    let models = [a, b].map(|f| onnx::load(f).unwrap());
    let runners = models.iter().map(|m| TractRunner::new(m).unwrap()).collect();
    let [ma, mb] = models;
    Pair { nets: [ma.network, mb.network], runners }
}

fn config() -> EquivConfig {
    EquivConfig {
        lrom: Default::default(),
        epsilon: 1e-5,
        criterion: Criterion::Both,
        every_output: false,
        branch_seconds: 0.0,
    }
}

/// Balls of radius `delta` (clipped to [0, 1]) around the first `n` rows of equiv_data.csv.
fn balls(n: usize, delta: f64) -> Vec<(Interval, Vec<f64>)> {
    csv_rows(&fixture("equiv_data.csv"), 1.0, n)
        .into_iter()
        .map(|(_, x)| (Interval::around(&x, delta, Some((0.0, 1.0))).unwrap(), x))
        .collect()
}

fn whole_box() -> (Interval, Vec<f64>) {
    let region = Interval { lower: vec![0.0; 6], upper: vec![1.0; 6] };
    let centre = Area::midpoint(&region);
    (region, centre)
}

impl Pair {
    fn analyse(&self, region: &(Interval, Vec<f64>)) -> EquivResult {
        self.analyse_with(region, &config())
    }

    fn analyse_with(&self, (region, centre): &(Interval, Vec<f64>), cfg: &EquivConfig) -> EquivResult {
        let nets = [&self.nets[0], &self.nets[1]];
        analyse(nets, &self.runners, &Area { region, centre }, cfg).unwrap()
    }

    /// `A(x) − B(x)` through the IR and through tract.
    fn difference(&self, x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let sub = |a: Vec<f64>, b: Vec<f64>| a.iter().zip(&b).map(|(p, q)| p - q).collect();
        let ir = sub(self.nets[0].forward(x).unwrap(), self.nets[1].forward(x).unwrap());
        let tract = sub(self.runners[0].run(x).unwrap(), self.runners[1].run(x).unwrap());
        (ir, tract)
    }
}

/// The binary's exit code and standard output.
fn run_code(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinverify")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

#[test]
fn faithful_re_export_is_proved_equivalent_without_a_gap() {
    let p = pair("equiv_torch.onnx", "equiv_tf.onnx");
    assert_eq!(p.nets[0].shared_prefix(&p.nets[1]), p.nets[0].layers.len(), "Gemm vs MatMul+Add fold alike");
    let mut regions = balls(10, 0.05);
    regions.push(whole_box());
    for r in &regions {
        let res = p.analyse(r);
        assert!(res.epsilon.certified <= 1e-5, "{res:?}");
        assert_eq!(res.top1.status, Top1Status::Proved, "{res:?}");
        assert_eq!(res.verdict, Verdict::Equivalent);
    }
    let data = path("equiv_data.csv");
    let (code, out, err) = run_code(&[
        "equiv",
        &path("equiv_torch.onnx"),
        &path("equiv_tf.onnx"),
        "--data",
        &data,
        "--samples",
        "0..4",
        "--delta",
        "0.05",
        "--domain",
        "0,1",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("5 of 5/5 layers identical") && out.trim_end().ends_with("verdict: equivalent"), "{out}");
}

#[test]
fn changed_weight_gives_checked_counterexamples() {
    let p = pair("equiv_torch.onnx", "equiv_changed.onnx");
    let mut regions = balls(6, 0.05);
    regions.push(whole_box());
    for r in &regions {
        let res = p.analyse(r);
        assert_eq!(res.verdict, Verdict::NotEquivalent, "{res:?}");
        // the largest difference: attained at a checked input of the region, through tract too
        let eps = res.epsilon.attained.unwrap();
        assert!(eps > 0.1 && eps <= res.epsilon.certified, "{res:?}");
        assert!(r.0.contains(&res.witness));
        let (ir, tract) = p.difference(&res.witness);
        let worst = ir.iter().map(|v| v.abs()).fold(0.0, f64::max);
        assert!((worst - eps).abs() < 1e-12, "{worst} vs {eps}");
        assert!(ir.iter().zip(&tract).all(|(a, b)| (a - b).abs() < 1e-4), "{ir:?} {tract:?}");
        // top-1: a checked input with another argmax in both IR and tract
        assert_eq!(res.top1.status, Top1Status::Differs, "{res:?}");
        let d = res.top1.disagreement.as_ref().unwrap();
        assert!(r.0.contains(&d.input) && d.classes[0] != d.classes[1]);
        for k in 0..2 {
            assert_eq!(argmax(&p.nets[k].forward(&d.input).unwrap()), d.classes[k]);
            assert_eq!(argmax(&p.runners[k].run(&d.input).unwrap()), d.classes[k]);
        }
    }
    let (code, out, err) =
        run_code(&["equiv", &path("equiv_torch.onnx"), &path("equiv_changed.onnx"), "--domain", "0,1"]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.trim_end().ends_with("verdict: not equivalent"), "{out}");
}

/// The float16 copy: ε encloses 10⁴ sampled differences per ball and is within 2× of their
/// maximum; the branch and bound (`--branch-seconds`) never raises it, and on the whole box,
/// where the relaxation is loosest, brings it closer to what is attained while staying above
/// every sample.
#[test]
fn float16_twin_bound_encloses_and_is_near_the_sampled_maximum() {
    let p = pair("equiv_torch.onnx", "equiv_f16.onnx");
    let mut rng = rng(18);
    let branching = EquivConfig { branch_seconds: 1.0, ..config() };
    let mut regions = balls(5, 0.05);
    regions.push(whole_box());
    for (k, r) in regions.iter().enumerate() {
        let res = p.analyse(r);
        let mut sampled: f64 = 0.0;
        for _ in 0..10_000 {
            let x: Vec<f64> = (0..6).map(|i| uniform(&mut rng, 1, r.0.lower[i], r.0.upper[i])[0]).collect();
            sampled = p.difference(&x).0.iter().map(|v| v.abs()).fold(sampled, f64::max);
        }
        let certified = res.epsilon.certified;
        assert!(sampled <= certified, "sampled {sampled} above certified {certified}");
        assert!(k == 5 || certified <= 2.0 * sampled, "certified {certified} vs sampled {sampled}");
        assert!(res.epsilon.attained.unwrap() <= certified);
        let branched = p.analyse_with(r, &branching).epsilon;
        assert!(sampled <= branched.certified && branched.certified <= certified, "{branched:?} vs {certified}");
        assert!(branched.attained.unwrap() <= branched.certified);
        if k == 5 {
            let (before, after) =
                (certified / res.epsilon.attained.unwrap(), branched.certified / branched.attained.unwrap());
            assert!(after < 0.9 * before, "certified/attained {before} → {after}");
        }
    }
}

/// fcnn7 against its float16 twin (paper 000's anchors): the bounds enclose the sampled
/// differences; the LP coupled at every ReLU pair is at least as tight as the symbolic difference
/// bound and within 1.2× of a checked value (it was 2.9–5.5× the sampled maximum without the
/// coupling); solving it only where it can lower the overall bound gives the same overall bound
/// (up to the LP's tolerances) and checked value; top-1 agreement is proved.
#[test]
fn fcnn7_float16_twin_on_the_anchors() {
    let Some(root) = anchors() else { return };
    let nets = root.join("FANC/proof_transfer/nets");
    let p = pair_of(nets.join("fcnn7.onnx"), nets.join("fcnn7_float16.onnx"));
    let (_, x) = csv_rows(&root.join("FANC/data/mnist_test.csv"), 1.0 / 255.0, 1).remove(0);
    let region = Interval::around(&x, 0.01, Some((0.0, 1.0))).unwrap();
    let area = (region.clone(), x);
    let res = p.analyse_with(&area, &EquivConfig { every_output: true, ..config() });
    let lazy = p.analyse(&area);
    // the same LPs, solved from other bases: duals (and certificates) equal up to the solver's
    // tolerances
    assert!((lazy.epsilon.certified - res.epsilon.certified).abs() <= 1e-9, "{:?} {:?}", lazy.epsilon, res.epsilon);
    assert_eq!(lazy.epsilon.attained, res.epsilon.attained);
    let mut rng = rng(7);
    let mut sampled: f64 = 0.0;
    for _ in 0..1000 {
        let x: Vec<f64> =
            (0..region.len()).map(|i| uniform(&mut rng, 1, region.lower[i], region.upper[i])[0]).collect();
        sampled = p.difference(&x).0.iter().map(|v| v.abs()).fold(sampled, f64::max);
    }
    let certified = res.epsilon.certified;
    assert!(sampled <= certified && certified <= 1.2 * res.epsilon.attained.unwrap(), "{sampled} {:?}", res.epsilon);
    for o in &res.outputs {
        let d = o.difference_bound.unwrap();
        assert!(o.joint_bound <= d * (1.0 + 1e-6), "output {}: {o:?}", o.output);
    }
    assert_eq!(res.top1.status, Top1Status::Proved, "{res:?}");
}

#[test]
fn layers_locate_the_divergence() {
    let data = path("equiv_data.csv");
    let args = ["equiv", &path("equiv_torch.onnx"), &path("equiv_changed.onnx"), "--data", &data, "--samples", "0..3"];
    let (code, out, err) = run_code(&[&args[..], &["--layers", "--domain", "0,1"]].concat());
    assert_eq!(code, 4, "{out}{err}");
    let devs: Vec<&str> = out.lines().skip(2).take(5).map(|l| l.split_whitespace().last().unwrap()).collect();
    assert_eq!(&devs[..4], ["0.000000e0"; 4], "{out}");
    assert!(devs[4].parse::<f64>().unwrap() > 0.1, "{out}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let (code, out, err) =
        run_code(&["equiv", &path("twin_mlp.onnx"), &path("bad/twin_wrong_shape.onnx"), "--domain", "0,1"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.starts_with("error: ") && err.contains("not compatible"), "{err}");
    let (code, _, err) = run_code(&["equiv", &path("equiv_torch.onnx"), &path("equiv_tf.onnx")]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--domain"), "{err}");
    let (code, _, err) = run_code(&["equiv", &path("equiv_torch.onnx"), &path("equiv_tf.onnx"), "--layers"]);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"));
}

/// Through Sigmoid and Tanh: sigmoid_mlp against its int8-quantised twin (written by
/// `compress`): both the joint LP and the layer-by-layer difference bound every output's
/// difference above 10⁴ sampled points and the corners, and ε is within 2× of the sampled maximum.
#[test]
fn s_shaped_twin_bounds_enclose_and_are_near_the_sampled_maximum() {
    let dir = scratch_dir("equiv-sigmoid");
    let twin = dir.join("sigmoid_mlp_int8.onnx");
    let (ok, _, err) =
        run_cli(&["compress", &path("sigmoid_mlp.onnx"), "--quantize", "int8", "--out", twin.to_str().unwrap()]);
    assert!(ok, "{err}");
    let p = pair_of(fixture("sigmoid_mlp.onnx"), twin);
    let mut rng = rng(19);
    for (_, x) in csv_rows(&fixture("sigmoid_mlp_data.csv"), 1.0, 5) {
        let region = Interval::around(&x, 0.05, Some((0.0, 1.0))).unwrap();
        let res = p.analyse(&(region.clone(), x.clone()));
        let mut sampled = vec![0.0f64; 3];
        for k in 0..10_016 {
            let pt: Vec<f64> = (0..4)
                .map(|i| match k < 16 {
                    true if (k >> i) & 1 == 0 => region.lower[i],
                    true => region.upper[i],
                    false => uniform(&mut rng, 1, region.lower[i], region.upper[i])[0],
                })
                .collect();
            let d = p.difference(&pt).0;
            sampled.iter_mut().zip(&d).for_each(|(s, v)| *s = s.max(v.abs()));
        }
        for (o, seen) in res.outputs.iter().zip(&sampled) {
            let layered = o.difference_bound.expect("one layer structure: a difference bound");
            assert!(*seen <= o.joint_bound && *seen <= layered, "output {}: {seen} above {o:?}", o.output);
        }
        let most = sampled.iter().copied().fold(0.0, f64::max);
        assert!(res.epsilon.certified <= 2.0 * most, "certified {} vs sampled {most}", res.epsilon.certified);
    }
}
