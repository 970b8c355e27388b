//! Maximum resilience Φ_m on the 2-input fixture against a dense grid: for the global form the
//! L1/L∞ distance between the grid's confident inputs and the grid's inputs where m is out of
//! the top k (exact distance transforms), for the local form the distance from the sample. The
//! proved lower bound never exceeds the grid's value, the checked witness is never below the
//! true Φ_m, and the MILP's value lands on the grid's answer.

use crate::common::*;
use twinverify::analysis::resilience::{resilience, xi, Norm, ResilienceConfig, Scope, Status};
use twinverify::bounds::{InputMap, Method};
use twinverify::ir::Network;
use twinverify::onnx::{self, TractRunner};
use twinverify::solve::{SolverConfig, SolverKind};

const N: usize = 801;
const H: f64 = 1.0 / (N - 1) as f64;
/// Class 0 is never this confident on the square, classes 1 and 2 are in parts of it.
const ALPHA: f64 = 1.1;

/// The logits at every grid point (row-major: x, then y).
fn grid_outputs(net: &Network) -> Vec<Vec<f64>> {
    (0..N * N).map(|i| net.forward(&point(i)).unwrap()).collect()
}

fn point(i: usize) -> [f64; 2] {
    [(i / N) as f64 * H, (i % N) as f64 * H]
}

/// Per grid point: confident for m, and m out of the top k.
fn classify(outputs: &[Vec<f64>], m: usize, k: usize) -> (Vec<bool>, Vec<bool>) {
    outputs
        .iter()
        .map(|o| {
            let others = (0..o.len()).filter(|&c| c != m);
            (others.clone().all(|c| o[m] - o[c] >= ALPHA.ln()), others.filter(|&c| o[c] >= o[m]).count() >= k)
        })
        .unzip()
}

/// Exact city-block (L1) or chessboard (L∞) distance, in grid steps, to the nearest `set` point.
fn distance_transform(set: &[bool], norm: Norm) -> Vec<f64> {
    let mut d: Vec<f64> = set.iter().map(|&s| if s { 0.0 } else { f64::INFINITY }).collect();
    let diagonal = norm == Norm::Linf;
    let at = |i: isize, j: isize| (0..N as isize).contains(&i) && (0..N as isize).contains(&j);
    let passes: [(Vec<(isize, isize)>, bool); 2] =
        [(vec![(-1, 0), (0, -1), (-1, -1), (-1, 1)], true), (vec![(1, 0), (0, 1), (1, 1), (1, -1)], false)];
    for (steps, forward) in passes {
        let steps = if diagonal { steps } else { steps[..2].to_vec() };
        for n in 0..N * N {
            let idx = if forward { n } else { N * N - 1 - n };
            let (i, j) = ((idx / N) as isize, (idx % N) as isize);
            for &(di, dj) in &steps {
                if at(i + di, j + dj) {
                    let o = d[((i + di) as usize) * N + (j + dj) as usize] + 1.0;
                    d[idx] = d[idx].min(o);
                }
            }
        }
    }
    d
}

fn config(k: usize, norm: Norm) -> ResilienceConfig {
    ResilienceConfig {
        alpha: ALPHA,
        k,
        norm,
        map: InputMap::plain(Some((0.0, 1.0))),
        bounds: Method::Lp,
        solver: SolverConfig { time_limit: Some(30.0), ..Default::default() },
        tolerance: 1e-4,
    }
}

/// The checks every result must pass against the grid's value `grid` (∞: no losing point).
fn check(r: &twinverify::analysis::resilience::ClassResilience, grid: f64, slack: f64, what: &str) {
    if r.bracket.status == Status::Vacuous {
        return;
    }
    assert!(r.bracket.certified <= grid + 1e-9, "{what}: lower {} above the grid's {grid}", r.bracket.certified);
    if let Some(u) = r.bracket.attained {
        assert!(u >= grid - slack, "{what}: witness {u} below the grid's {grid}");
        assert!(r.bracket.certified <= u, "{what}: lower {} above the witness {u}", r.bracket.certified);
    }
    if grid.is_finite() {
        assert!(matches!(r.bracket.status, Status::Exact | Status::Proved), "{what}: {r:?}");
        // proved: the bounds meet; exact: the MILP's value, attained by the witness
        let v = match r.bracket.status {
            Status::Proved => r.bracket.attained.unwrap(),
            _ => r.bracket.solver_value.unwrap_or_else(|| panic!("{what}: no MILP value ({r:?})")),
        };
        assert!((v - grid).abs() <= slack, "{what}: MILP value {v} against the grid's {grid}");
        // the solver's copy has gaps strict by 1e-5: its optimum may sit above a witness (by ≤ the tolerance)
        assert!(r.bracket.certified <= v + 1e-9 && v <= r.bracket.attained.unwrap() + 1e-4, "{what}: {r:?}");
    }
}

#[test]
fn global_resilience_matches_the_grid() {
    let model = onnx::load(fixture("tiny_2d.onnx")).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let net = &model.network;
    let outputs = grid_outputs(net);
    let mut vacuous = 0;
    for k in [1, 2] {
        for norm in [Norm::L1, Norm::Linf] {
            let mut results = Vec::new();
            for m in 0..3 {
                let (confident, loses) = classify(&outputs, m, k);
                let dt = distance_transform(&loses, norm);
                let grid = (0..N * N).filter(|&i| confident[i]).map(|i| dt[i] * H).fold(f64::INFINITY, f64::min);
                let r = resilience(net, &runner, m, Scope::Global, &config(k, norm)).unwrap();
                let what = format!("global m={m} k={k} {norm:?}");
                eprintln!(
                    "{what}: grid {grid:.5}  [{:.5}, {:?}] solver {:?} {:?}",
                    r.bracket.certified, r.bracket.attained, r.bracket.solver_value, r.bracket.status
                );
                if !confident.iter().any(|&c| c) {
                    assert_eq!(r.bracket.attained, None, "{what}");
                    vacuous += (r.bracket.status == Status::Vacuous) as usize;
                }
                check(&r, grid, 4.0 * H, &what);
                results.push(r);
            }
            let (lo, hi) = xi(&results);
            assert!(hi.is_none_or(|h| lo <= h), "Ξ bounds cross: {lo} {hi:?}");
        }
    }
    assert!(vacuous > 0, "the certified LP never proved class 0 unconfident");
}

#[test]
fn local_resilience_matches_the_grid() {
    let model = onnx::load(fixture("tiny_2d.onnx")).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let net = &model.network;
    let outputs = grid_outputs(net);
    let mut exact = 0;
    for (label, x) in csv_rows(&fixture("tiny_2d_data.csv"), 1.0, 12) {
        let o = net.forward(&x).unwrap();
        let confident = (0..3).filter(|&c| c != label).all(|c| o[label] - o[c] >= ALPHA.ln());
        for k in [1, 2] {
            let loses = classify(&outputs, label, k).1;
            let loses: Vec<[f64; 2]> = (0..N * N).filter(|&i| loses[i]).map(point).collect();
            for norm in [Norm::L1, Norm::Linf] {
                let dist = |p: &[f64; 2]| match norm {
                    Norm::L1 => (p[0] - x[0]).abs() + (p[1] - x[1]).abs(),
                    Norm::Linf => (p[0] - x[0]).abs().max((p[1] - x[1]).abs()),
                };
                let grid = loses.iter().map(dist).fold(f64::INFINITY, f64::min);
                let scope = Scope::Local { center: &x, radius: 0.0 };
                let r = resilience(net, &runner, label, scope, &config(k, norm)).unwrap();
                let what = format!("local {x:?} m={label} k={k} {norm:?}");
                eprintln!(
                    "{what}: grid {grid:.5}  [{:.5}, {:?}] solver {:?} {:?}",
                    r.bracket.certified, r.bracket.attained, r.bracket.solver_value, r.bracket.status
                );
                assert_eq!(r.bracket.status == Status::Vacuous, !confident, "{what}: {r:?}");
                check(&r, grid, 2.0 * H, &what);
                exact += (r.bracket.status == Status::Exact) as usize;
            }
        }
    }
    assert!(exact > 0, "no local case was solved exactly");
}

#[test]
fn local_radius_and_cbc_stay_consistent() {
    let model = onnx::load(fixture("tiny_2d.onnx")).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let net = &model.network;
    let (label, x) = csv_rows(&fixture("tiny_2d_data.csv"), 1.0, 2).remove(1);
    let point =
        resilience(net, &runner, label, Scope::Local { center: &x, radius: 0.0 }, &config(1, Norm::L1)).unwrap();
    // a larger region of confident inputs can only lower Φ_m
    let wide = Scope::Local { center: &x, radius: 0.05 };
    let r = resilience(net, &runner, label, wide, &config(1, Norm::L1)).unwrap();
    assert!(r.bracket.certified <= point.bracket.attained.unwrap() + 1e-9, "{r:?} {point:?}");
    assert!(r.bracket.attained.unwrap() <= point.bracket.attained.unwrap() + 1e-9, "{r:?} {point:?}");
    assert!(r.start_used, "HiGHS took the initial point");
    let cbc = ResilienceConfig {
        solver: SolverConfig { kind: SolverKind::Cbc, ..Default::default() },
        ..config(1, Norm::L1)
    };
    if !have_solver(SolverKind::Cbc) {
        return;
    }
    let c = resilience(net, &runner, label, wide, &cbc).unwrap();
    assert!(!c.start_used, "CBC's file interface takes no start point");
    let (a, b) = (r.bracket.solver_value.unwrap(), c.bracket.solver_value.unwrap());
    assert!((a - b).abs() <= 1e-3, "highs {a} against cbc {b}");
}

#[test]
fn bad_settings_are_errors() {
    let model = onnx::load(fixture("tiny_2d.onnx")).unwrap();
    let runner = TractRunner::new(&model).unwrap();
    let net = &model.network;
    let x = [0.5, 0.5];
    let local = Scope::Local { center: &x, radius: 0.0 };
    for (cfg, class, needle) in [
        (ResilienceConfig { alpha: 0.5, ..config(1, Norm::L1) }, 0, "alpha"),
        (config(3, Norm::L1), 0, "k must be"),
        (config(1, Norm::L1), 7, "does not exist"),
        (ResilienceConfig { map: InputMap::plain(Some((1.0, 0.0))), ..config(1, Norm::L1) }, 0, "domain"),
    ] {
        let e = resilience(net, &runner, class, local, &cfg).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    let e =
        resilience(net, &runner, 0, Scope::Local { center: &[0.5], radius: 0.0 }, &config(1, Norm::L1)).unwrap_err();
    assert!(e.to_string().contains("takes 2"), "{e}");
}

#[test]
fn the_command_prints_every_class_and_xi() {
    let net = fixture("tiny_2d.onnx");
    let (ok, out, err) = run_cli(&["resilience", net.to_str().unwrap(), "--alpha", "1.1", "--k", "2"]);
    assert!(ok, "{err}");
    assert!(out.contains("vacuous") && out.contains("Ξ = min over classes"), "{out}");
    let data = fixture("tiny_2d_data.csv");
    let local = ["resilience", net.to_str().unwrap(), "--data", data.to_str().unwrap(), "--row", "1", "--norm", "linf"];
    let (ok, out, err) = run_cli(&local);
    assert!(ok && out.contains("exact"), "{out}{err}");
    for (extra, needle) in [
        (&["--k", "3"][..], "k must be"),
        (&["--class", "9"][..], "does not exist"),
        (&["--alpha", "0.2"][..], "alpha"),
    ] {
        let (ok, _, err) = run_cli(&[&local[..], extra].concat());
        assert!(!ok && err.contains(needle), "{err}");
    }
    let (ok, _, err) = run_cli(&["resilience", net.to_str().unwrap(), "--radius", "0.1"]);
    assert!(!ok && err.contains("needs a sample"), "{err}");
}
