//! External solvers' answers as our own readers take them: Gurobi and CPLEX solution files in the
//! vendors' formats (through fake binaries), corrupted CBC dual sections, crashes and kills: each
//! gives the certified bound, a fallback with a note, or an error — never a bound sampling beats.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;
use rand::Rng;
use twinverify::analysis::objective::{Certificate, OutputObjective, Region};
use twinverify::bounds::{self, Interval, Method};
use twinverify::encode::{EncodeOptions, JointModel, LinExpr, LinearProgram, RowKind};
use twinverify::onnx::{self, TractRunner};
use twinverify::solve::{self, certify, Sense, SolverConfig, SolverKind, Status};

/// The LP of tests/fixtures/solvers: min x0 + 2 x1, x0 + x1 ≥ 0.5, x0 − x1 ≤ 0.3, 0 ≤ x ≤ 1.
fn tiny_lp() -> (LinearProgram, LinExpr) {
    let mut lp = LinearProgram::default();
    let (x, y) = (lp.add_var(0.0, 1.0, false), lp.add_var(0.0, 1.0, false));
    let row = |a: f64, b: f64| LinExpr { terms: vec![(x, a), (y, b)], constant: 0.0, error: 0.0 };
    lp.add_row(row(1.0, 1.0), RowKind::Ge, 0.5);
    lp.add_row(row(1.0, -1.0), RowKind::Le, 0.3);
    (lp, row(1.0, 2.0))
}

#[test]
fn gurobi_and_cplex_files_are_read_by_name_and_their_duals_certify_the_optimum() {
    let (lp, obj) = tiny_lp();
    let dir = scratch_dir("vendors");
    for (kind, file, out) in [
        (SolverKind::Gurobi, "solvers/gurobi_tiny.json", "solution.json"),
        (SolverKind::Cplex, "solvers/cplex_tiny.sol", "solution.sol"),
    ] {
        let src = fixture(file).display().to_string();
        let run = |name: &str, edit: &str| {
            let bin = fake_solver(&dir, &format!("{kind}-{name}"), &format!("sed '{edit}' '{src}' > {out}"));
            solve::solve(&lp, &obj, Sense::Minimise, &SolverConfig { kind, path: Some(bin), ..Default::default() })
        };
        let sol = run("good", "").unwrap();
        assert_eq!(sol.status, Status::Optimal);
        assert!((sol.primal[0] - 0.4).abs() < 1e-15 && (sol.primal[1] - 0.1).abs() < 1e-15, "{:?}", sol.primal);
        // the rows are listed r1 first: matched by name, not position
        assert_eq!(sol.row_duals.as_deref(), Some(&[1.5, -0.5][..]), "{kind}");
        let b = certify::bound(&lp, &obj, Sense::Minimise, sol.row_duals.as_ref().unwrap());
        assert!(b <= 0.6 && b > 0.6 - 1e-12, "{kind}: {b}");
        // corrupted dual sections: an error, no duals with a note, or duals whose bound stays ≤ 0.6
        let (pi, minus) = if kind == SolverKind::Gurobi { ("\"Pi\": ", "\"Pi\": -") } else { ("dual=\"", "dual=\"-") };
        let cases = [
            ("flipped", format!("s/{pi}-/{pi}PLUS/; s/{pi}\\([0-9]\\)/{minus}\\1/; s/PLUS//"), "duals"),
            ("swapped", "s/\"r0\"/\"rX\"/; s/\"r1\"/\"r0\"/; s/\"rX\"/\"r1\"/".to_string(), "duals"),
            ("nan", format!("s/{pi}1.5/{pi}NaN/"), "fallback"),
            ("text", format!("s/{pi}-0.5/{pi}\"x\"/"), "fallback"),
            ("unknown-row", "s/\"r1\"/\"r7\"/".to_string(), "fallback"),
            ("truncated", "20q".to_string(), "error"),
            (
                "status",
                "s/\"Status\": 2/\"Status\": 9/; s/StatusValue=\"1\"/StatusValue=\"11\"/".to_string(),
                "stopped",
            ),
        ];
        for (name, edit, want) in cases {
            let r = run(name, &edit);
            match (want, r) {
                ("duals", Ok(s)) => {
                    let b = certify::bound(&lp, &obj, Sense::Minimise, s.row_duals.as_ref().unwrap());
                    assert!(b <= 0.6, "{kind} {name}: {b} above the optimum");
                }
                ("fallback", Ok(s)) => {
                    assert!(
                        s.row_duals.is_none() && s.note.as_deref().is_some_and(|n| n.contains("duals")),
                        "{kind} {name}"
                    )
                }
                // NaN is not JSON: Gurobi's whole file is unreadable
                ("fallback", Err(e)) => assert!(kind == SolverKind::Gurobi && name == "nan", "{kind} {name}: {e}"),
                ("error", r) => assert!(r.is_err(), "{kind} {name}: {r:?}"),
                ("stopped", Ok(s)) => assert!(matches!(s.status, Status::Unknown(_)) && s.row_duals.is_none()),
                (_, r) => panic!("{kind} {name}: unexpected {r:?}"),
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A fixture network's margin model, with random points of its input box.
struct Case {
    nets: Vec<twinverify::ir::Network>,
    runners: Vec<TractRunner>,
    nb: bounds::NetworkBounds,
    model: JointModel,
    center: Vec<f64>,
}

fn case() -> Case {
    let entry = manifest().into_iter().find(|e| e["file"] == "twin_mlp.onnx").unwrap();
    let m = onnx::load(fixture("twin_mlp.onnx")).unwrap();
    let center = floats(&entry["reference"][0]["input"]);
    let nb =
        bounds::propagate(&m.network, &Interval::around(&center, 0.2, None).unwrap(), Method::Symbolic, None).unwrap();
    let model = JointModel::build(&[&m.network], &[&nb], &[], &EncodeOptions::default());
    Case { runners: vec![TractRunner::new(&m).unwrap()], nets: vec![m.network], nb, model, center }
}

#[test]
fn corrupted_cbc_dual_sections_fall_back_or_fail_and_sampling_never_beats_the_bound() {
    if !have_solver(SolverKind::Cbc) {
        return;
    }
    let c = case();
    let nets: Vec<_> = c.nets.iter().collect();
    let nbs = [&c.nb];
    let region = Region::new(&nets, &c.runners, &nbs, &c.model, &c.center);
    let obj = OutputObjective { terms: vec![(1.0, 0, 0), (-1.0, 0, 1)], constant: 0.0 };
    let highs = region.optimise(&obj, Sense::Minimise, Some(&SolverConfig::default()));
    let mut r = rng(5);
    let sampled = (0..3000)
        .map(|_| {
            let x: Vec<f64> =
                (0..c.center.len()).map(|i| r.random_range(c.nb.input.lower[i]..=c.nb.input.upper[i])).collect();
            obj.eval(&nets, &x).unwrap()
        })
        .fold(f64::INFINITY, f64::min);
    let dir = scratch_dir("cbc-dual");
    let rows = "$(NF-2) ~ /^r[0-9]/";
    let cases = [
        ("intact", String::new(), Some(Certificate::Dual)),
        ("blank-lines", "sed -i 's/$/\\n/' solution.txt".into(), Some(Certificate::Dual)),
        (
            "flipped",
            format!("awk '{rows} {{$NF = -$NF}} {{print}}' solution.txt > s && mv s solution.txt"),
            Some(Certificate::Dual),
        ),
        (
            "shifted",
            format!("awk '{rows} {{t = $NF; $NF = p + 0; p = t}} {{print}}' solution.txt > s && mv s solution.txt"),
            None,
        ),
        (
            "nan",
            format!("awk '{rows} {{$NF = \"nan\"}} {{print}}' solution.txt > s && mv s solution.txt"),
            Some(Certificate::Symbolic),
        ),
        ("truncated", "head -c 300 solution.txt > s && mv s solution.txt".into(), Some(Certificate::Symbolic)),
        ("invalid-utf8", "printf '\\377\\376 x\\n' >> solution.txt".into(), Some(Certificate::Symbolic)),
    ];
    for (name, edit, want) in cases {
        let bin = fake_solver(&dir, name, &format!("cbc \"$@\" > /dev/null || exit 1\n{edit}"));
        let cfg = SolverConfig { kind: SolverKind::Cbc, path: Some(bin), ..Default::default() };
        let e = region.optimise(&obj, Sense::Minimise, Some(&cfg));
        assert!(e.certified() <= sampled, "{name}: certified {} above a sampled value {sampled}", e.certified());
        if let Some(w) = want {
            assert_eq!(e.certificate, w, "{name}: {:?}", e.bracket.note);
        }
        if want == Some(Certificate::Dual) {
            // an edited file no longer matches CBC's binary one: its duals come from the text, at
            // the 8 significant digits CBC prints
            let tolerance = if name == "intact" { 1e-6 } else { 1e-5 };
            let rel = (e.certified() - highs.certified()).abs() / highs.certified().abs().max(1.0);
            assert!(rel <= tolerance, "{name}: cbc {} vs highs {}", e.certified(), highs.certified());
        } else if want == Some(Certificate::Symbolic) {
            assert!(
                e.bracket.note.as_deref().is_some_and(|n| n.contains("solver fault")),
                "{name}: {:?}",
                e.bracket.note
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_solver_past_its_time_limit_is_killed_and_gives_an_error() {
    let (lp, obj) = tiny_lp();
    let dir = scratch_dir("kill");
    let bin = fake_solver(&dir, "cbc-hangs", "sleep 60 & sleep 60");
    let cfg = SolverConfig { kind: SolverKind::Cbc, path: Some(bin), time_limit: Some(0.5), ..Default::default() };
    let start = Instant::now();
    let e = solve::solve(&lp, &obj, Sense::Minimise, &cfg).unwrap_err().to_string();
    assert!(start.elapsed() < Duration::from_secs(10), "not killed in time");
    assert!(e.contains("killed at the time limit"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs the binary: (exit code, stdout, stderr).
fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinverify")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn an_absent_backend_stops_every_command_before_any_work() {
    if std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("gurobi_cl").is_file())) {
        eprintln!("SKIPPED: gurobi_cl is installed");
        return;
    }
    let (net, data) = (fixture("twin_mlp.onnx"), fixture("twin_mlp_data.csv"));
    let (net, data) = (net.to_str().unwrap(), data.to_str().unwrap());
    let query = Path::new(env!("CARGO_MANIFEST_DIR")).join("vnnlib-examples/robust_v2.vnnlib");
    let network = format!("N={net}");
    let commands: [&[&str]; 6] = [
        &["lrom", net, net, "--data", data, "--samples", "0"],
        &["robust", net, "--data", data, "--samples", "0"],
        &["bounds", net, "--data", data, "--method", "lp"],
        &["boundary", net, "--data", data, "--samples", "0"],
        &["resilience", net, "--data", data, "--row", "0"],
        &["verify", query.to_str().unwrap(), "--network", &network],
    ];
    for c in commands {
        let start = Instant::now();
        let (code, out, err) = cli(&[c, &["--solver", "gurobi"]].concat());
        assert!(code.is_some_and(|c| c != 0), "{c:?}: exit {code:?}");
        assert!(err.contains("'gurobi_cl' not found") && err.contains("--solver-path"), "{c:?}: {err}");
        assert!(out.trim().is_empty() || c[0] == "verify", "{c:?}: work started: {out}");
        assert!(start.elapsed() < Duration::from_secs(20), "{c:?}");
    }
}

#[test]
fn solver_faults_are_said_counted_noted_and_give_exit_code_3_unless_accepted() {
    let dir = scratch_dir("fault-cli");
    let (a, b, data) = (fixture("twin_mlp.onnx"), fixture("twin_mlp_quant8.onnx"), fixture("twin_mlp_data.csv"));
    let crash = fake_solver(&dir, "cbc-crash", "echo 'Segmentation fault' >&2; exit 139");
    let hang = fake_solver(&dir, "cbc-hang", "sleep 60");
    let csv = dir.join("out.csv");
    for (bin, extra, want_code, kind) in [
        (&crash, None, 3, "cbc crashed"),
        (&crash, Some("symbolic"), 0, "cbc crashed"),
        (&hang, None, 3, "cbc killed at the time limit"),
    ] {
        let mut args = vec!["lrom", a.to_str().unwrap(), b.to_str().unwrap(), "--data", data.to_str().unwrap()];
        args.extend([
            "--pair",
            "1,2",
            "--samples",
            "0",
            "--delta",
            "0.05",
            "--bounds",
            "symbolic",
            "--no-independent",
            "--solver",
            "cbc",
        ]);
        args.extend(["--solver-path", bin.to_str().unwrap(), "--time-limit", "0.2", "--csv", csv.to_str().unwrap()]);
        args.push("--overwrite"); // one output file for the three runs
        if let Some(f) = extra {
            args.extend(["--solver-fallback", f]);
        }
        let start = Instant::now();
        let (code, _, err) = cli(&args);
        assert_eq!(code, Some(want_code), "{kind} {extra:?}: {err}");
        // said once when it first happens, then counted in the summary: 2 pairs × (min, max)
        assert_eq!(err.matches(&format!("warning: solver fault: {kind}")).count(), 1, "{err}");
        assert!(err.contains(&format!("solver faults: {kind}: 4 solve(s)")), "{err}");
        assert!(start.elapsed() < Duration::from_secs(60), "{kind}: not killed");
        let rows = twinverify::report::read_csv(&csv).unwrap();
        assert_eq!(rows.len(), 2);
        for r in rows {
            assert_eq!(r.certificate_min, "symbolic");
            assert!(r.note.as_deref().is_some_and(|n| n.contains(kind)), "{:?}", r.note);
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn solver_options_reach_the_backend_and_malformed_ones_are_rejected() {
    let (net, data) = (fixture("twin_mlp.onnx"), fixture("twin_mlp_data.csv"));
    let base = ["robust", net.to_str().unwrap(), "--data", data.to_str().unwrap(), "--samples", "0", "--delta", "0.05"];
    for (bad, needle) in [("presolve", "KEY=VALUE"), ("=1", "a key is"), ("a b=1", "a key is"), ("k=a b", "no blank")] {
        let (code, _, err) = cli(&[&base[..], &["--solver-option", bad]].concat());
        assert!(code.is_some_and(|c| c != 0) && err.contains(needle), "{bad}: {err}");
    }
    let (code, out, err) = cli(&[&base[..], &["--solver-option", "no_such_option=1"]].concat());
    assert!(
        code == Some(1) && err.contains("highs rejects the option no_such_option=1") && !out.contains("verified"),
        "{err}"
    );
    let (code, out, err) = cli(&[&base[..], &["--solver-option", "simplex_strategy=4"]].concat());
    assert!(code == Some(0) && out.contains("100.0%"), "{out}{err}");
    if !have_solver(SolverKind::Cbc) {
        return;
    }
    let dir = scratch_dir("options");
    let log = dir.join("args.txt");
    let bin = fake_solver(&dir, "cbc-logged", &format!("echo \"$@\" > '{}'\nexec cbc \"$@\"", log.display()));
    let opts = ["--solver", "cbc", "--solver-path", bin.to_str().unwrap(), "--solver-option", "presolve=off"];
    let (code, out, err) = cli(&[&base[..], &opts, &["--bounds", "symbolic"]].concat());
    assert!(code == Some(0) && out.contains("100.0%"), "{out}{err}");
    let args = std::fs::read_to_string(&log).unwrap();
    assert!(args.contains("-presolve off -solve -printingOptions all"), "{args}");
    std::fs::remove_dir_all(&dir).ok();
}
