//! LROM and implication on the twin fixtures: identical twins give LROM = 0, the joint range is
//! never wider than the independent one, and relaxed ≤ exact ≤ value at any sampled input.

use crate::common::*;
use rand::Rng;
use twinverify::analysis::bab::ExactEngine;
use twinverify::analysis::lrom::{analyse, LromConfig, Verdict};
use twinverify::analysis::outcome::Status;
use twinverify::bounds::InputMap;
use twinverify::encode::Mode;
use twinverify::onnx::{self, OnnxModel, TractRunner};

fn load(names: [&str; 2]) -> ([OnnxModel; 2], Vec<TractRunner>) {
    let models = names.map(|n| onnx::load(fixture(n)).unwrap());
    let runners = models.iter().map(|m| TractRunner::new(m).unwrap()).collect();
    (models, runners)
}

fn lrom_at(models: &[OnnxModel; 2], x: &[f64], c: usize, j: usize) -> f64 {
    let (a, b) = (models[0].network.forward(x).unwrap(), models[1].network.forward(x).unwrap());
    (a[c] - a[j]) - (b[c] - b[j])
}

#[test]
fn identical_twins_have_lrom_zero_and_implication_holds() {
    let (models, runners) = load(["twin_mlp.onnx", "twin_mlp_same.onnx"]);
    let nets = [&models[0].network, &models[1].network];
    for (label, x) in csv_rows(&fixture("twin_mlp_data.csv"), 1.0, 5) {
        for mode in [Mode::Relaxed, Mode::Exact] {
            let mut cfg = LromConfig::default();
            cfg.encode.mode = mode;
            let r = analyse(nets, &runners, &x, label, 0.05, &InputMap::plain(Some((0.0, 1.0))), &cfg).unwrap();
            for p in &r.pairs {
                let max = p.max.as_ref().unwrap();
                assert_eq!((p.min.bracket.status, max.bracket.status), (Status::Proved, Status::Proved));
                for v in [p.min.certified(), max.certified(), p.min.attained().unwrap(), max.attained().unwrap()] {
                    assert!(v.abs() <= 1e-9, "pair ({}, {}): {v}", p.c, p.j);
                }
            }
            assert_eq!(r.verdict, Verdict::Established);
        }
    }
}

#[test]
fn joint_bounds_are_sound_never_wider_than_independent_and_relaxed_brackets_exact() {
    for (pair, data, scale) in [
        (["twin_mlp.onnx", "twin_mlp_prune50.onnx"], "twin_mlp_data.csv", 1.0),
        (["twin_mlp.onnx", "twin_mlp_quant8.onnx"], "twin_mlp_data.csv", 1.0),
        (["twin_conv.onnx", "twin_conv_prune50.onnx"], "twin_conv_data.csv", 1.0 / 255.0),
        (["twin_pool.onnx", "twin_pool_quant8.onnx"], "twin_pool_data.csv", 1.0 / 255.0),
    ] {
        let (models, runners) = load(pair);
        let nets = [&models[0].network, &models[1].network];
        let mut r = rng(3);
        for (label, x) in csv_rows(&fixture(data), scale, 4) {
            let delta = 0.05;
            let relaxed =
                analyse(nets, &runners, &x, label, delta, &InputMap::plain(Some((0.0, 1.0))), &LromConfig::default())
                    .unwrap();
            let mut cfg = LromConfig { exact_engine: ExactEngine::Milp, ..LromConfig::default() };
            cfg.encode.mode = Mode::Exact;
            cfg.solver.mip_gap = Some(0.0);
            cfg.threshold = f64::MAX; // nothing is decided early: every MILP runs
            let exact = analyse(nets, &runners, &x, label, delta, &InputMap::plain(Some((0.0, 1.0))), &cfg).unwrap();
            cfg.exact_engine = ExactEngine::Bab;
            cfg.bab.gap = 1e-9;
            let bab = analyse(nets, &runners, &x, label, delta, &InputMap::plain(Some((0.0, 1.0))), &cfg).unwrap();
            for ((rp, ep), bp) in relaxed.pairs.iter().zip(&exact.pairs).zip(&bab.pairs) {
                let (c, j) = (rp.c, rp.j);
                let (ilo, ihi) = rp.independent.unwrap();
                let (rmax, emax) = (rp.max.as_ref().unwrap(), ep.max.as_ref().unwrap());
                let tol = 1e-6;
                // exact mode also certifies by the relaxed LP: never weaker (up to the LP's
                // last digits, as its basis may differ)
                let close = 1e-9 * (1.0 + rp.min.certified().abs() + rmax.certified().abs());
                assert!(
                    ep.min.certified() >= rp.min.certified() - close && emax.certified() <= rmax.certified() + close,
                    "{pair:?}: exact [{}, {}] weaker than relaxed [{}, {}]",
                    ep.min.certified(),
                    emax.certified(),
                    rp.min.certified(),
                    rmax.certified()
                );
                assert!(
                    rp.min.certified() >= ilo - tol && rmax.certified() <= ihi + tol,
                    "{pair:?}: joint wider than independent"
                );
                // relaxed certified ≤ exact solver optimum ≤ attained (a checked point) ≤ any sample
                let exact_min = ep.min.bracket.solver_value.unwrap();
                assert!(
                    rp.min.certified() <= exact_min + tol,
                    "{pair:?}: relaxed {} > exact {exact_min}",
                    rp.min.certified()
                );
                assert!(exact_min <= ep.min.attained().unwrap() + tol);
                assert_ne!(ep.min.bracket.status, Status::Interval, "{pair:?}: a finished MILP is exact or proved");
                let exact_max = emax.bracket.solver_value.unwrap();
                assert!(rmax.certified() >= exact_max - tol && exact_max >= emax.attained().unwrap() - tol);
                // the branch and bound proves what the MILP only claims (its leaves are exact LPs
                // once every ReLU is fixed; a max-pool stays relaxed, so there it is only sound)
                let bmax = bp.max.as_ref().unwrap();
                let (bmin, bmax) = (bp.min.certified(), bmax.certified());
                assert!(bmin >= rp.min.certified() - close && bmax <= rmax.certified() + close);
                assert!(bmin <= exact_min + tol && bmax >= exact_max - tol, "{pair:?}: B&B beyond the MILP");
                if !pair[0].contains("pool") {
                    assert!((bmin - exact_min).abs() <= tol && (bmax - exact_max).abs() <= tol, "{pair:?}: not met");
                }
                for _ in 0..300 {
                    let p: Vec<f64> = x.iter().map(|&v| (v + r.random_range(-delta..=delta)).clamp(0.0, 1.0)).collect();
                    let v = lrom_at(&models, &p, c, j);
                    assert!(
                        rp.min.certified() <= v && v <= rmax.certified(),
                        "{pair:?}: sampled LROM {v} outside certified range"
                    );
                    assert!(ep.min.certified() <= v && v <= emax.certified());
                    assert!(bmin <= v && v <= bmax);
                }
            }
        }
    }
}

/// Exact mode (either engine) decides what relaxed mode decides, the same way, and neither
/// branches nor runs a MILP for a minimum the LP relaxation already certifies above the threshold.
#[test]
fn exact_mode_decides_what_relaxed_mode_decides_without_chasing_the_optimum() {
    for engine in [ExactEngine::Bab, ExactEngine::Milp] {
        exact_decides_what_relaxed_decides(engine);
    }
}

fn exact_decides_what_relaxed_decides(engine: ExactEngine) {
    let (models, runners) = load(["twin_mlp.onnx", "twin_mlp_prune50.onnx"]);
    let nets = [&models[0].network, &models[1].network];
    let mut exact_cfg = LromConfig { exact_engine: engine, ..LromConfig::default() };
    exact_cfg.encode.mode = Mode::Exact;
    let mut established = 0;
    for (label, x) in csv_rows(&fixture("twin_mlp_data.csv"), 1.0, 6) {
        for delta in [0.01, 0.05] {
            let relaxed =
                analyse(nets, &runners, &x, label, delta, &InputMap::plain(Some((0.0, 1.0))), &LromConfig::default())
                    .unwrap();
            let exact =
                analyse(nets, &runners, &x, label, delta, &InputMap::plain(Some((0.0, 1.0))), &exact_cfg).unwrap();
            if relaxed.verdict == Verdict::Established {
                established += 1;
                assert_eq!(exact.verdict, Verdict::Established, "δ = {delta}: relaxed mode established it");
                for p in &exact.pairs {
                    let note = p.min.bracket.note.as_deref().unwrap_or_default();
                    match engine {
                        ExactEngine::Milp => assert!(note.contains("the MILP was not run"), "a MILP ran: {note}"),
                        ExactEngine::Bab => assert!(p.min.search.is_none(), "branched on a decided minimum"),
                    }
                }
            }
            if matches!(relaxed.verdict, Verdict::MarginNegative | Verdict::Violated) {
                // a checked negative margin stays; exact mode's better witness may also violate
                let kept = matches!(exact.verdict, Verdict::MarginNegative | Verdict::Violated);
                assert!(kept, "δ = {delta}: relaxed mode found a negative margin, exact says {:?}", exact.verdict);
            }
        }
    }
    assert!(established > 0, "the fixture has established regions");
}

/// The verdict words: `implication-violated` only with a checked input of the region where N2
/// (the pruned twin) is right and N1 (the original) wrong, `margin-negative` only with a checked
/// negative LROM and no such input; the fixture has both.
#[test]
fn violated_and_margin_negative_regions_show_their_inputs() {
    let (models, runners) = load(["twin_mlp.onnx", "twin_mlp_prune50.onnx"]);
    let nets = [&models[0].network, &models[1].network];
    let (delta, map) = (0.03, InputMap::plain(Some((0.0, 1.0))));
    let argmax = twinverify::data::argmax;
    let mut seen = [0usize; 2];
    for (label, x) in csv_rows(&fixture("twin_mlp_data.csv"), 1.0, 40) {
        if argmax(&nets[0].forward(&x).unwrap()) != label || argmax(&nets[1].forward(&x).unwrap()) != label {
            continue;
        }
        let r = analyse(nets, &runners, &x, label, delta, &map, &LromConfig::default()).unwrap();
        let negative: Vec<_> = r.pairs.iter().filter(|p| p.min.attained().is_some_and(|a| a < 0.0)).collect();
        let breaks = |w: &[f64]| {
            let inside = w.iter().zip(&x).all(|(a, b)| (a - b).abs() <= delta + 1e-12 && (0.0..=1.0).contains(a));
            let (n1, n2) = (nets[0].forward(w).unwrap(), nets[1].forward(w).unwrap());
            let by_tract = (runners[0].run(w).unwrap(), runners[1].run(w).unwrap());
            inside && argmax(&n2) == label && argmax(&n1) != label && argmax(&by_tract.0) == argmax(&n1)
        };
        match r.verdict {
            Verdict::Violated => {
                seen[0] += 1;
                assert!(negative.iter().any(|p| breaks(&p.min.witness)), "violated without a violating input");
            }
            Verdict::MarginNegative => {
                seen[1] += 1;
                assert!(!negative.is_empty() && negative.iter().all(|p| !breaks(&p.min.witness)));
            }
            _ => assert!(negative.is_empty() || r.verdict == Verdict::Established),
        }
    }
    assert!(seen[0] > 0 && seen[1] > 0, "the fixture has both kinds (violated, margin-negative): {seen:?}");
}

/// Twins of one layer structure are coupled at their ReLU pairs by default: never looser than
/// the paper's joint LP (`--uncoupled`), 8× narrower on the 8-bit twin (0.077 against 0.62), and sound
/// (each bound encloses the LROM at 2 000 sampled inputs of the region).
#[test]
fn coupled_twins_are_never_looser_than_the_papers_joint_lp_and_enclose_samples() {
    for (pair, data, scale, gain) in [
        (["twin_mlp.onnx", "twin_mlp_quant8.onnx"], "twin_mlp_data.csv", 1.0, 0.8),
        (["twin_mlp.onnx", "twin_mlp_prune50.onnx"], "twin_mlp_data.csv", 1.0, 0.0),
        (["twin_conv.onnx", "twin_conv_prune50.onnx"], "twin_conv_data.csv", 1.0 / 255.0, 0.0),
    ] {
        let (models, runners) = load(pair);
        let nets = [&models[0].network, &models[1].network];
        let mut r = rng(5);
        let (mut coupled_width, mut paper_width) = (0.0, 0.0);
        for (label, x) in csv_rows(&fixture(data), scale, 4) {
            let map = InputMap::plain(Some((0.0, 1.0)));
            let cfg = LromConfig { independent: false, ..LromConfig::default() };
            let mut paper_cfg = cfg.clone();
            paper_cfg.encode.uncoupled = true;
            let coupled = analyse(nets, &runners, &x, label, 0.05, &map, &cfg).unwrap();
            let paper = analyse(nets, &runners, &x, label, 0.05, &map, &paper_cfg).unwrap();
            for (c, p) in coupled.pairs.iter().zip(&paper.pairs) {
                let (cmax, pmax) = (c.max.as_ref().unwrap().certified(), p.max.as_ref().unwrap().certified());
                let what = format!("{pair:?} pair ({}, {})", c.c, c.j);
                assert!(c.min.certified() >= p.min.certified() - 1e-7, "{what}: min {c:?} vs {p:?}");
                assert!(cmax <= pmax + 1e-7, "{what}: max {cmax} vs {pmax}");
                coupled_width += cmax - c.min.certified();
                paper_width += pmax - p.min.certified();
                for _ in 0..2000 / coupled.pairs.len() {
                    let y: Vec<f64> = x.iter().map(|&v| (v + r.random_range(-0.05..=0.05)).clamp(0.0, 1.0)).collect();
                    let v = lrom_at(&models, &y, c.c, c.j);
                    assert!(c.min.certified() <= v && v <= cmax, "{what}: {v} outside [{}, {cmax}]", c.min.certified());
                }
            }
        }
        assert!(coupled_width <= (1.0 - gain) * paper_width, "{pair:?}: width {coupled_width} vs {paper_width}");
    }
}
