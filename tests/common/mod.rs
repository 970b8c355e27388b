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

/// `../shared/anchors` when it exists (it is optional: tests that use it skip and say so).
pub fn anchors() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/anchors");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("SKIPPED: ../shared/anchors is not present; the anchor cross-check did not run");
        None
    }
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
