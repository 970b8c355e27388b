//! Helpers shared by the integration tests: fixture paths, the fixture manifest, random inputs
//! and the relative comparison used for every IR-versus-reference check.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::Value;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// A fake solver binary: a shell script with the given body (it runs in the solve's scratch
/// directory).
pub fn fake_solver(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&p).status().unwrap();
    p
}

/// Why a check did not run. `Missing` data or tools are always there in CI (`.ci/run` sets
/// CI=true and installs cbc and glpsol; `../shared` lies beside the clone), so there a missing one
/// fails the test; `OptIn` checks (slow ones, licensed solvers) are only listed.
pub enum Skip {
    Missing,
    OptIn,
}

/// Records a skipped check where the person running the tests sees it: on stderr and in
/// `target/skipped-checks.txt`, which `scripts/test.sh` prints after the run (libtest hides the
/// stderr of passing tests).
pub fn skip(kind: Skip, reason: &str) {
    if matches!(kind, Skip::Missing) && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{reason} (CI always has it: this is a failure there, not a skip)");
    }
    eprintln!("SKIPPED: {reason}");
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/skipped-checks.txt");
    let line = format!("{}: {reason}\n", std::thread::current().name().unwrap_or("?"));
    let _ = std::fs::OpenOptions::new().create(true).append(true).open(log).and_then(|mut f| {
        use std::io::Write;
        f.write_all(line.as_bytes())
    });
}

/// Whether the opt-in slow checks run (TWINVERIFY_SLOW=1); records the skip of `what` if not.
pub fn slow(what: &str) -> bool {
    let on = std::env::var_os("TWINVERIFY_SLOW").is_some();
    if !on {
        skip(Skip::OptIn, &format!("{what} (set TWINVERIFY_SLOW=1 to run it)"));
    }
    on
}

/// `../shared/anchors` when it exists (optional locally: tests that use it record the skip).
pub fn anchors() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/anchors");
    if p.is_dir() {
        Some(p)
    } else {
        skip(Skip::Missing, "../shared/anchors is not present; the anchor cross-check did not run");
        None
    }
}

/// Whether the external `solver` can run (cbc and glpsol are installed by scripts/deps.sh, so
/// missing is a failure in CI; Gurobi and CPLEX are licensed: opt-in).
pub fn have_solver(kind: twinverify::solve::SolverKind) -> bool {
    use twinverify::solve::{check_available, SolverConfig, SolverKind};
    let ok = check_available(&SolverConfig { kind, ..Default::default() }).is_ok();
    if !ok {
        let licensed = matches!(kind, SolverKind::Gurobi | SolverKind::Cplex);
        skip(if licensed { Skip::OptIn } else { Skip::Missing }, &format!("{kind} is not installed"));
    }
    ok
}

/// The entries of tests/fixtures/manifest.json.
pub fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("manifest.json")).expect("manifest.json");
    serde_json::from_str::<Vec<Value>>(&text).expect("manifest is a JSON list")
}

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn uniform(rng: &mut StdRng, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

/// Largest difference between two vectors relative to the larger of 1 and the reference's
/// largest magnitude.
pub fn rel_diff(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "vector lengths differ");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale
}

/// An empty scratch directory of this test process, `twinverify-{tag}-{pid}` under the system's
/// temporary directory (whatever an earlier run left there is removed).
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twinverify-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// Runs the binary: (success, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinverify")).args(args).output().expect("binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Rows of a "label,features" CSV file, scaled.
pub fn csv_rows(path: &Path, scale: f64, n: usize) -> Vec<(usize, Vec<f64>)> {
    twinverify::data::read_samples(path, scale)
        .expect("csv")
        .into_iter()
        .take(n)
        .map(|s| (s.label, s.features))
        .collect()
}
