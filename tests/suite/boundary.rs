//! Distance to the decision boundary on the 2-input fixture against a dense grid: the certified
//! radius never exceeds the grid's distance, the checked counterexample is never closer than the
//! true boundary, and the MILP bisection lands on the grid's answer; plus the pair view.

use crate::common::*;
use twinverify::analysis::bab::ExactEngine;
use twinverify::analysis::boundary::pair::implication_radius;
use twinverify::analysis::boundary::{distance, linf_distance, BoundaryConfig, Status};
use twinverify::analysis::lrom::LromConfig;
use twinverify::analysis::resilience::{resilience, Norm, ResilienceConfig, Scope};
use twinverify::analysis::robustness::{check, Robustness};
use twinverify::bounds::InputMap;
use twinverify::bounds::Method;
use twinverify::data::argmax;
use twinverify::ir::Network;
use twinverify::onnx::{self, TractRunner};
use twinverify::solve::{SolverConfig, SolverKind};

/// Grid spacing: the grid's distance is within `H` of the true one.
const N: usize = 801;
const H: f64 = 1.0 / (N - 1) as f64;

/// Every grid point of [0,1]² with its class.
fn grid(net: &Network) -> Vec<([f64; 2], usize)> {
    let mut out = Vec::with_capacity(N * N);
    for i in 0..N {
        for j in 0..N {
            let p = [i as f64 * H, j as f64 * H];
            out.push((p, argmax(&net.forward(&p).unwrap())));
        }
    }
    out
}

/// L∞ distance from `x` to the closest grid point of another class: ≥ the true distance to the
/// boundary and, on this fixture's regions, within one grid step of it.
fn grid_distance(points: &[([f64; 2], usize)], x: &[f64], label: usize) -> f64 {
    points.iter().filter(|(_, c)| *c != label).map(|(p, _)| linf_distance(x, p)).fold(f64::INFINITY, f64::min)
}

fn config(exact: bool, solver: SolverKind) -> BoundaryConfig {
    BoundaryConfig {
        bounds: Method::Lp,
        solver: SolverConfig { kind: solver, time_limit: Some(20.0), ..Default::default() },
        exact,
        engine: ExactEngine::Milp,
        tolerance: 1e-4,
        max_epsilon: 1.0,
        start: 0.01,
        ..Default::default()
    }
}

#[test]
fn bisection_brackets_the_grid_distance() {
    let model = onnx::load(fixture("tiny_2d.onnx")).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let net = &model.network;
    let points = grid(net);
    let (mut lp_gaps, mut bab_probes) = (Vec::new(), 0);
    for (label, x) in csv_rows(&fixture("tiny_2d_data.csv"), 1.0, 12) {
        let d = grid_distance(&points, &x, label);
        let lp =
            distance(net, &runner, &x, label, &InputMap::plain(Some((0.0, 1.0))), &config(false, SolverKind::Highs))
                .unwrap();
        let ex =
            distance(net, &runner, &x, label, &InputMap::plain(Some((0.0, 1.0))), &config(true, SolverKind::Highs))
                .unwrap();
        let bab_cfg = BoundaryConfig { engine: ExactEngine::Bab, ..config(true, SolverKind::Highs) };
        let bab = distance(net, &runner, &x, label, &InputMap::plain(Some((0.0, 1.0))), &bab_cfg).unwrap();
        // the branch and bound proves the radius the MILP only claims
        assert_eq!(bab.bracket.status, Status::Proved, "{bab:?}");
        assert!((bab.bracket.certified - d).abs() <= 2.0 * H + 1e-4, "B&B radius against grid {d}: {bab:?}");
        bab_probes += bab.milp_probes;
        for r in [&lp, &ex, &bab] {
            assert!(
                r.bracket.certified <= d + 1e-12,
                "certified {} beyond the grid distance {d} at {x:?}",
                r.bracket.certified
            );
            let c = r.counterexample.as_ref().expect("a counterexample within the unit square");
            assert!(c.distance >= d - 2.0 * H, "counterexample at {} closer than the boundary {d}", c.distance);
            assert_ne!(argmax(&net.forward(&c.input).unwrap()), label, "the counterexample keeps the label");
            assert_ne!(argmax(&runner.run(&c.input).unwrap()), label, "tract disagrees with the counterexample");
        }
        let solver = ex.bracket.solver_value.expect("exact mode reports the MILP's radius");
        assert!(matches!(ex.bracket.status, Status::Exact | Status::Proved), "{ex:?}");
        assert!(ex.bracket.certified <= solver && solver <= ex.upper().unwrap(), "{ex:?}");
        assert!((solver - d).abs() <= 2.0 * H + 1e-4, "MILP radius {solver} against grid {d} at {x:?}");
        assert!(
            lp.bracket.certified <= ex.upper().unwrap(),
            "LP {} above the exact interval {ex:?}",
            lp.bracket.certified
        );
        lp_gaps.push(solver - lp.bracket.certified);
        eprintln!(
            "grid {d:.5}  LP [{:.5}, {:.5}]  MILP {solver:.5} [{:.5}, {:.5}] {:?}",
            lp.bracket.certified,
            lp.upper().unwrap(),
            ex.bracket.certified,
            ex.upper().unwrap(),
            ex.bracket.status
        );
    }
    eprintln!("MILP radius − certified LP radius per sample: {lp_gaps:?}");
    assert!(bab_probes > 0, "the exact phase ran on some sample");
}

#[test]
fn cbc_agrees_with_the_embedded_solver() {
    if !have_solver(SolverKind::Cbc) {
        return;
    }
    let model = onnx::load(fixture("tiny_2d.onnx")).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    for (label, x) in csv_rows(&fixture("tiny_2d_data.csv"), 1.0, 3) {
        let [a, b] = [SolverKind::Highs, SolverKind::Cbc].map(|k| {
            distance(&model.network, &runner, &x, label, &InputMap::plain(Some((0.0, 1.0))), &config(true, k)).unwrap()
        });
        let (sa, sb) = (a.bracket.solver_value.unwrap(), b.bracket.solver_value.unwrap());
        assert!((sa - sb).abs() <= 2e-4, "highs {sa} against cbc {sb}");
    }
}

#[test]
fn misclassified_samples_and_bad_settings_are_errors() {
    let model = onnx::load(fixture("tiny_2d.onnx")).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let (label, x) = csv_rows(&fixture("tiny_2d_data.csv"), 1.0, 1).remove(0);
    let wrong = (label + 1) % 3;
    let e =
        distance(&model.network, &runner, &x, wrong, &InputMap::plain(None), &BoundaryConfig::default()).unwrap_err();
    assert!(e.to_string().contains("classifies the sample as"), "{e}");
    let bad = BoundaryConfig { tolerance: 0.0, ..Default::default() };
    assert!(distance(&model.network, &runner, &x, label, &InputMap::plain(None), &bad).is_err());
}

#[test]
fn implication_radius_of_a_twin_with_itself_covers_the_domain() {
    let a = onnx::load(fixture("twin_mlp.onnx")).unwrap();
    let b = onnx::load(fixture("twin_mlp_quant8.onnx")).unwrap();
    let runners = [TractRunner::new(&a).unwrap(), TractRunner::new(&b).unwrap()];
    let search = BoundaryConfig { tolerance: 1e-3, start: 0.005, max_epsilon: 0.3, ..Default::default() };
    let cfg = LromConfig::default();
    let (mut refuted, mut established) = (0, 0);
    let domain = InputMap::plain(Some((0.0, 1.0)));
    for (label, x) in csv_rows(&fixture("twin_mlp_data.csv"), 1.0, 6) {
        let radius = |nets, runners: &[TractRunner]| {
            implication_radius(nets, runners, &x, label, &domain, &cfg, &search).unwrap()
        };
        // identical networks: LROM is exactly 0 everywhere, so the implication holds on every ball
        let same = radius([&a.network, &a.network], &[runners[0].clone(), runners[0].clone()]);
        assert_eq!(same.bracket.certified, 0.3, "{same:?}");
        let r = radius([&a.network, &b.network], &runners);
        if let Some(u) = r.bracket.attained {
            assert!(r.bracket.certified <= u, "{r:?}");
            refuted += 1;
        }
        if let Some(v) = r.violated {
            assert!(r.bracket.certified < v, "the implication was established beyond a violation: {r:?}");
        }
        established += (r.bracket.certified > 0.0) as usize;
    }
    assert!(refuted > 0 && established > 0, "the fixture exercises both ends ({established}, {refuted})");
}

#[test]
fn the_command_prints_a_table_and_writes_csv_and_json() {
    let dir = std::env::temp_dir().join(format!("twinverify-boundary-{}", std::process::id()));
    let (csv, json) = (dir.join("b.csv"), dir.join("b.json"));
    let (net, data) = (fixture("tiny_2d.onnx"), fixture("tiny_2d_data.csv"));
    let args = ["boundary", net.to_str().unwrap(), "--data", data.to_str().unwrap(), "--samples", "0..4"];
    let files = ["--csv", csv.to_str().unwrap(), "--json", json.to_str().unwrap()];
    let (ok, out, err) = run_cli(&[&args[..], &["--domain", "0,1", "--exact"], &files].concat());
    assert!(ok, "{err}");
    assert!(out.contains("certified") && out.contains("4 samples"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.starts_with("sample,label,status,certified,upper,solver"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let first = &doc["samples"][0]["result"];
    assert!(first["counterexample"]["input"].as_array().is_some_and(|v| v.len() == 2), "{doc}");
    std::fs::remove_dir_all(&dir).ok();
    // the pair view and clear errors
    let (mlp, quant) = (fixture("twin_mlp.onnx"), fixture("twin_mlp_quant8.onnx"));
    let mlp_data = fixture("twin_mlp_data.csv");
    let pair = ["boundary", mlp.to_str().unwrap(), "--reference", quant.to_str().unwrap()];
    let (ok, out, err) = run_cli(&[&pair[..], &["--data", mlp_data.to_str().unwrap(), "--samples", "0..3"]].concat());
    assert!(ok && out.contains("established"), "{out}{err}");
    let wrong = fixture("bad/twin_wrong_shape.onnx");
    let (ok, _, err) = run_cli(&[
        "boundary",
        mlp.to_str().unwrap(),
        "--reference",
        wrong.to_str().unwrap(),
        "--data",
        mlp_data.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("not compatible"), "{err}");
    let (ok, _, err) =
        run_cli(&[&args[..], &["--exact", "--solver", "cbc", "--solver-path", "/nonexistent/cbc"]].concat());
    assert!(!ok && err.contains("not found"), "{err}");
}

/// fcnn7 from ../shared/anchors (minutes: TWINVERIFY_SLOW=1). The robustness analysis verifies
/// the ball of the certified radius, and Φ_m with k = 1, α = 1 in the L∞ norm (the same quantity,
/// by another encoding) has an interval that overlaps the boundary distance's.
#[test]
fn anchor_fcnn7_agrees_with_robustness_and_resilience() {
    let Some(root) = anchors() else { return };
    if !slow("fcnn7 boundary distance") {
        return;
    }
    let model = onnx::load(root.join("FANC/proof_transfer/nets/fcnn7.onnx")).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let net = &model.network;
    let domain = Some((0.0, 1.0));
    let highs = SolverConfig { time_limit: Some(5.0), ..Default::default() };
    for (label, x) in csv_rows(&root.join("FANC/data/mnist_test.csv"), 1.0 / 255.0, 2) {
        let cfg = BoundaryConfig { bounds: Method::Symbolic, tolerance: 0.005, start: 0.02, ..Default::default() };
        let b = distance(net, &runner, &x, label, &InputMap::plain(domain), &cfg).unwrap();
        assert!(b.bracket.certified > 0.0, "{b:?}");
        let verdict = check(
            net,
            &runner,
            &x,
            label,
            b.bracket.certified,
            &InputMap::plain(domain),
            Method::Symbolic,
            &highs,
            false,
        )
        .unwrap();
        assert_eq!(verdict, Robustness::Verified, "{b:?}");
        let upper = b.upper().expect("the falsifier finds a counterexample on fcnn7");
        assert!(b.bracket.certified < upper, "{b:?}");
        let rc = ResilienceConfig {
            alpha: 1.0,
            k: 1,
            norm: Norm::Linf,
            map: InputMap::plain(domain),
            bounds: Method::Symbolic,
            solver: highs.clone(),
            tolerance: 0.005,
        };
        let r = resilience(net, &runner, label, Scope::Local { center: &x, radius: 0.0 }, &rc).unwrap();
        eprintln!(
            "boundary [{}, {upper}]  resilience [{}, {:?}]",
            b.bracket.certified, r.bracket.certified, r.bracket.attained
        );
        assert!(
            r.bracket.certified <= upper && r.bracket.attained.is_none_or(|u| b.bracket.certified <= u),
            "{b:?} {r:?}"
        );
    }
}
