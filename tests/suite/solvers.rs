//! The translator and the solver layer: relaxed ≤ exact ≤ sampled values on ReLU, conv,
//! max-pool and padding networks; embedded HiGHS, CBC and GLPK agree on the same LP and MILP;
//! every solver fault gives an error or an uncertified result, never a bound.

use twinverify::bounds::InputMap;

use crate::common::*;
use rand::Rng;
use twinverify::analysis::lrom::{analyse, LromConfig};
use twinverify::analysis::objective::{Certificate, OutputObjective, Region};
use twinverify::bounds::{self, Interval, Method, NetworkBounds};
use twinverify::encode::{EncodeOptions, JointModel, LinExpr, LinearProgram, Mode};
use twinverify::ir::Network;
use twinverify::onnx::{self, TractRunner};
use twinverify::solve::{self, Sense, SolverConfig, SolverKind, Status};

struct Case {
    net: Network,
    runner: TractRunner,
    nb: NetworkBounds,
    center: Vec<f64>,
}

fn case(file: &str, delta: f64) -> Case {
    let entry = manifest().into_iter().find(|e| e["file"] == file).unwrap();
    let model = onnx::load(fixture(file)).unwrap();
    let center = floats(&entry["reference"][0]["input"]);
    let region = Interval::around(&center, delta, None).unwrap();
    let nb = bounds::propagate(&model.network, &region, Method::Symbolic, None).unwrap();
    Case { runner: TractRunner::new(&model).unwrap(), net: model.network, nb, center }
}

fn model(c: &Case, mode: Mode) -> JointModel {
    JointModel::build(&[&c.net], &[&c.nb], &[], &EncodeOptions { mode, ..Default::default() })
}

fn config(kind: SolverKind) -> SolverConfig {
    SolverConfig { kind, ..Default::default() }
}

#[test]
fn relaxed_certified_le_exact_le_sampled_minimum() {
    // maxpool_net: conv + max-pool; conv_ops: pad, batch-norm, grouped/dilated conv, avg/max-pool
    for file in ["twin_mlp.onnx", "maxpool_net.onnx", "conv_ops.onnx", "mlp_tf.onnx"] {
        let c = case(file, 0.15);
        let obj = OutputObjective { terms: vec![(1.0, 0, 0), (-1.0, 0, 1)], constant: 0.0 };
        let nets = [&c.net];
        let runners = [c.runner.clone()];
        let nbs = [&c.nb];
        let (relaxed_model, exact_model) = (model(&c, Mode::Relaxed), model(&c, Mode::Exact));
        assert!(exact_model.lp.integer_count() > 0, "{file}: the exact model has binaries");
        let solver = SolverConfig::default();
        for sense in [Sense::Minimise, Sense::Maximise] {
            let region = |m| Region::new(&nets, &runners, &nbs, m, &c.center);
            let relaxed = region(&relaxed_model).optimise(&obj, sense, Some(&solver));
            let exact = region(&exact_model).optimise(&obj, sense, Some(&solver));
            assert_eq!(relaxed.certificate, Certificate::Dual, "{file}: LP duals certify the relaxed bound");
            let exact_opt = exact.bracket.solver_value.unwrap();
            let s = if sense == Sense::Minimise { 1.0 } else { -1.0 };
            let tol = 1e-6;
            assert!(s * relaxed.certified() <= s * exact_opt + tol, "{file} {sense:?}: relaxed above exact");
            assert!(
                s * exact_opt <= s * exact.attained().unwrap() + tol,
                "{file} {sense:?}: exact optimum above its witness"
            );
            // the exact optimum is attained (to solver tolerance) by its re-executed witness
            assert!((exact_opt - exact.attained().unwrap()).abs() < 1e-4, "{file}: MILP witness value differs");
            let mut r = rng(9);
            for _ in 0..2000 {
                let x: Vec<f64> =
                    (0..c.center.len()).map(|i| r.random_range(c.nb.input.lower[i]..=c.nb.input.upper[i])).collect();
                let v = obj.eval(&nets, &x).unwrap();
                assert!(
                    s * relaxed.certified() <= s * v && s * exact.certified() <= s * v,
                    "{file}: sample beats a certified bound"
                );
                assert!(s * exact_opt <= s * v + tol, "{file}: sample beats the MILP optimum");
            }
        }
    }
}

/// Solves the relaxed and exact models of a fixture with a backend, for both senses.
fn objective_values(kind: SolverKind) -> Vec<f64> {
    let c = case("maxpool_net.onnx", 0.1);
    let mut out = Vec::new();
    for mode in [Mode::Relaxed, Mode::Exact] {
        let m = model(&c, mode);
        let obj = m.objective(&[(1.0, 0, 0), (-1.0, 0, 2)], 0.0);
        for sense in [Sense::Minimise, Sense::Maximise] {
            let sol = solve::solve(&m.lp, &obj, sense, &config(kind)).unwrap();
            assert_eq!(sol.status, Status::Optimal);
            out.push(sol.objective);
        }
    }
    out
}

#[test]
fn embedded_cbc_and_glpk_agree_on_the_same_lp_and_milp() {
    let highs = objective_values(SolverKind::Highs);
    for kind in [SolverKind::Cbc, SolverKind::Glpk] {
        if !have_solver(kind) {
            continue;
        }
        // the file interfaces return f32 values, so agreement is to f32 precision of the point
        for (a, b) in highs.iter().zip(objective_values(kind)) {
            assert!((a - b).abs() <= 1e-6 * (1.0 + a.abs()), "{kind}: {b} vs embedded {a}");
        }
    }
}

/// Certified bounds: every installed file backend's duals go through the same certificate as
/// HiGHS's and give the same bound within 1e-6 (relative), for both senses.
#[test]
fn certified_bounds_of_cbc_and_glpk_equal_the_embedded_ones() {
    for file in ["twin_mlp.onnx", "maxpool_net.onnx", "conv_ops.onnx", "mlp_tf.onnx"] {
        let c = case(file, 0.15);
        let m = model(&c, Mode::Relaxed);
        let (nets, runners, nbs) = ([&c.net], [c.runner.clone()], [&c.nb]);
        let region = Region::new(&nets, &runners, &nbs, &m, &c.center);
        let obj = OutputObjective { terms: vec![(1.0, 0, 0), (-1.0, 0, 1)], constant: 0.0 };
        for sense in [Sense::Minimise, Sense::Maximise] {
            let highs = region.optimise(&obj, sense, Some(&SolverConfig::default()));
            for kind in [SolverKind::Cbc, SolverKind::Glpk] {
                if !have_solver(kind) {
                    continue;
                }
                let e = region.optimise(&obj, sense, Some(&config(kind)));
                assert_eq!(e.certificate, Certificate::Dual, "{file} {kind} {sense:?}: {:?}", e.bracket.note);
                let rel = (e.certified() - highs.certified()).abs() / highs.certified().abs().max(1.0);
                assert!(rel <= 1e-6, "{file} {kind} {sense:?}: {} vs highs {}", e.certified(), highs.certified());
            }
        }
    }
}

/// The same on an anchor: fcnn7 against its 8-bit twin, LROM of sample 0 at δ = 0.005 and 0.01
/// (every class pair's certified minimum and maximum, LP-tightened bounds), when
/// ../shared/anchors is present. At δ = 0.01 CBC with its default tolerances stopped short of
/// some tightening optima by up to 3e-4 and the bounds differed by 2e-5 (relative).
#[test]
fn anchor_lrom_bounds_agree_across_backends() {
    let Some(anchors) = anchors() else { return };
    let nets = anchors.join("FANC/proof_transfer/nets");
    let models = ["fcnn7.onnx", "fcnn7_quant8.onnx"].map(|n| onnx::load(nets.join(n)).unwrap());
    let runners: Vec<TractRunner> = models.iter().map(|m| TractRunner::new(m).unwrap()).collect();
    let (label, x) = csv_rows(&anchors.join("FANC/data/mnist_test.csv"), 1.0 / 255.0, 1).remove(0);
    let run = |kind: SolverKind, delta: f64| {
        let cfg = LromConfig { solver: config(kind), independent: false, ..Default::default() };
        let r =
            analyse([&models[0].network, &models[1].network], &runners, &x, label, delta, &InputMap::plain(None), &cfg);
        let r = r.unwrap();
        r.pairs.iter().flat_map(|p| [p.min.certified(), p.max.as_ref().unwrap().certified()]).collect::<Vec<f64>>()
    };
    for delta in [0.005, 0.01] {
        let highs = run(SolverKind::Highs, delta);
        for kind in [SolverKind::Cbc, SolverKind::Glpk] {
            if have_solver(kind) {
                for (a, b) in highs.iter().zip(run(kind, delta)) {
                    assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{kind} δ = {delta}: {b} vs highs {a}");
                }
            }
        }
    }
}

#[test]
fn gurobi_and_cplex_agree_when_installed() {
    let installed: Vec<SolverKind> =
        [SolverKind::Gurobi, SolverKind::Cplex].into_iter().filter(|&k| have_solver(k)).collect();
    if installed.is_empty() {
        return;
    }
    let highs = objective_values(SolverKind::Highs);
    for kind in installed {
        for (a, b) in highs.iter().zip(objective_values(kind)) {
            assert!((a - b).abs() <= 1e-6 * (1.0 + a.abs()), "{kind}: {b} vs embedded {a}");
        }
    }
}

/// A two-variable MILP (one integer variable).
fn tiny_milp() -> (LinearProgram, LinExpr) {
    let mut lp = LinearProgram::default();
    let x = lp.add_var(0.0, 1.0, false);
    let y = lp.add_var(0.0, 1.0, true);
    lp.add_row(
        LinExpr { terms: vec![(x, 1.0), (y, 1.0)], constant: 0.0, error: 0.0 },
        twinverify::encode::RowKind::Ge,
        0.5,
    );
    (lp, LinExpr { terms: vec![(x, 1.0), (y, 2.0)], constant: 0.0, error: 0.0 })
}

#[test]
fn solver_faults_are_errors_never_answers() {
    let (lp, obj) = tiny_milp();
    let dir = scratch_dir("fake");
    let cases = [
        ("crash", "exit 3"),
        // writes garbage where CBC's solution file (last argument) is expected
        ("garbage", "for last; do :; done; echo 'this is not a solution' > \"$last\""),
        ("silent", "exit 0"),
    ];
    for kind in [SolverKind::Cbc, SolverKind::Glpk] {
        for (name, body) in cases {
            let cfg = SolverConfig {
                kind,
                path: Some(fake_solver(&dir, &format!("{kind}-{name}"), body)),
                ..Default::default()
            };
            let r = solve::solve(&lp, &obj, Sense::Minimise, &cfg);
            assert!(r.is_err(), "{kind} {name}: a broken solver must give an error, got {r:?}");
        }
        let missing = SolverConfig { kind, path: Some(dir.join("no-such-solver")), ..Default::default() };
        let e = solve::solve(&lp, &obj, Sense::Minimise, &missing).unwrap_err().to_string();
        assert!(e.contains("not found"), "{e}");
    }
    // infeasible: x + y ≥ 3 with x, y ≤ 1
    let mut bad = lp.clone();
    bad.add_row(
        LinExpr { terms: vec![(0, 1.0), (1, 1.0)], constant: 0.0, error: 0.0 },
        twinverify::encode::RowKind::Ge,
        3.0,
    );
    for kind in [SolverKind::Highs, SolverKind::Cbc, SolverKind::Glpk] {
        if have_solver(kind) {
            let e = solve::solve(&bad, &obj, Sense::Minimise, &config(kind));
            assert!(e.is_err(), "{kind}: infeasible model must be an error");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_time_out_is_never_certified_by_the_solver() {
    let c = case("conv_ops.onnx", 0.3);
    let m = model(&c, Mode::Exact);
    let nets = [&c.net];
    let runners = [c.runner.clone()];
    let nbs = [&c.nb];
    let region = Region::new(&nets, &runners, &nbs, &m, &c.center);
    let obj = OutputObjective { terms: vec![(1.0, 0, 0), (-1.0, 0, 1)], constant: 0.0 };
    let cfg = SolverConfig { time_limit: Some(0.0), ..Default::default() };
    let e = region.optimise(&obj, Sense::Minimise, Some(&cfg));
    // with no time the MILP is not solved: the bound is the symbolic one, and the note says why
    assert_eq!(e.certificate, Certificate::Symbolic);
    assert!(e.bracket.note.is_some());
    assert!(e.certified() <= e.attained().unwrap());
}

#[test]
fn kept_models_are_valid_lp_files_that_reproduce_the_optimum() {
    let c = case("twin_mlp.onnx", 0.1);
    let m = model(&c, Mode::Relaxed);
    let obj = m.objective(&[(1.0, 0, 1), (-1.0, 0, 0)], 0.0);
    let dir = std::env::temp_dir().join(format!("twinverify-keep-{}", std::process::id()));
    let cfg = SolverConfig { keep_model: Some(dir.clone()), ..Default::default() };
    let sol = solve::solve(&m.lp, &obj, Sense::Minimise, &cfg).unwrap();
    let kept = dir.join("model-0000.lp");
    assert!(kept.is_file());
    if have_solver(SolverKind::Glpk) {
        let out = std::process::Command::new("glpsol")
            .arg("--lp")
            .arg(&kept)
            .arg("-o")
            .arg(dir.join("sol.txt"))
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = std::fs::read_to_string(dir.join("sol.txt")).unwrap();
        let line = text.lines().find(|l| l.starts_with("Objective:")).unwrap();
        let v: f64 = line.split_whitespace().nth(3).unwrap().parse().unwrap();
        assert!((v + obj.constant - sol.objective).abs() < 1e-6, "{line} vs {}", sol.objective);
    }
    std::fs::remove_dir_all(&dir).ok();
}
