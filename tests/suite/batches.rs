//! Streamed batches: units reach the JSON Lines file and the CSV as they finish, an interrupted
//! run resumes to the same rows, shards cover every unit once and merge to a single run's
//! output, and bad shards, foreign files and overwrites are refused with a clear message.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::scratch_dir;

/// Runs twinverify; (success, stdout, stderr).
fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_twinverify")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn spec() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/matrix_fixtures.yaml").display().to_string()
}

/// `lrom` on the matrix fixtures (4 networks, 12 ordered pairs, 2 radii), samples 0..3, into `csv`.
fn lrom(csv: &Path, extra: &[&str]) -> (bool, String, String) {
    let spec = spec();
    let mut args = vec!["lrom", "--spec", &spec, "--samples", "0..3"];
    let csv = csv.to_str().unwrap();
    args.extend(["--csv", csv]);
    args.extend(extra);
    run(&args)
}

/// CSV rows without the timing column, in file order.
fn rows(csv: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(csv).unwrap();
    let skip = r.headers().unwrap().iter().position(|h| h == "seconds").unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, v)| v.into()).collect())
        .collect()
}

/// The unit lines of a JSON Lines file (the header excluded).
fn unit_lines(jsonl: &Path) -> Vec<String> {
    std::fs::read_to_string(jsonl).unwrap().lines().skip(1).map(String::from).collect()
}

/// The summary table lines, timing column dropped.
fn summary(stdout: &str) -> Vec<String> {
    let lines = stdout.lines().skip_while(|l| !l.starts_with("N1 ⇐ N2")).skip(1);
    lines
        .take_while(|l| !l.starts_with("wrote"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>()[..l.split_whitespace().count() - 1].join(" "))
        .collect()
}

fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}

#[test]
fn an_interrupted_run_resumes_to_the_rows_of_a_full_run() {
    let dir = scratch_dir("batches-resume");
    let full = path(&dir, "full.csv");
    let (ok, out, err) = lrom(&full, &[]);
    assert!(ok, "{err}");
    let units = unit_lines(&full.with_extension("jsonl"));
    assert_eq!(units.len(), 12 * 3 * 2, "one unit per pair, sample and radius");
    let status: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("full.status.json")).unwrap()).unwrap();
    assert_eq!(
        (status["state"].as_str(), status["done"].as_u64(), status["remaining"].as_u64()),
        (Some("finished"), Some(72), Some(0))
    );

    // a run killed after 30 units, the 31st cut off mid-write, the CSV holding a partial row
    let cut = path(&dir, "cut.csv");
    let header = std::fs::read_to_string(full.with_extension("jsonl")).unwrap().lines().next().unwrap().to_string();
    let mut text = format!("{header}\n{}\n", units[..30].join("\n"));
    text.push_str(&units[30][..40]);
    std::fs::write(cut.with_extension("jsonl"), text).unwrap();
    std::fs::write(&cut, "sample,label,del").unwrap();
    let (ok, _, err) = lrom(&cut, &[]);
    assert!(!ok && err.contains("--resume"), "an existing output is never overwritten: {err}");
    let (ok, resumed_out, err) = lrom(&cut, &["--resume"]);
    assert!(ok, "{err}");
    assert!(err.contains("cut off"), "the dropped partial unit is said: {err}");
    assert_eq!(rows(&cut), rows(&full), "resumed rows equal a full run's");
    assert_eq!(unit_lines(&cut.with_extension("jsonl")).len(), 72);
    assert_eq!(summary(&resumed_out), summary(&out));

    // resuming a file from other settings is refused and leaves it as it was
    let before = std::fs::read(cut.with_extension("jsonl")).unwrap();
    let (ok, _, err) = lrom(&cut, &["--resume", "--delta", "0.02"]);
    assert!(!ok && err.contains("another spec"), "{err}");
    assert_eq!(std::fs::read(cut.with_extension("jsonl")).unwrap(), before);
    // --overwrite starts over
    let (ok, _, err) = lrom(&cut, &["--overwrite", "--delta", "0.02"]);
    assert!(ok, "{err}");
    assert_eq!(unit_lines(&cut.with_extension("jsonl")).len(), 36);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shards_cover_every_unit_once_and_merge_to_a_single_run() {
    let dir = scratch_dir("batches-shards");
    let single = path(&dir, "single.csv");
    let (ok, single_out, err) = lrom(&single, &[]);
    assert!(ok, "{err}");
    let mut shard_files = Vec::new();
    for k in [2, 0, 1] {
        let csv = path(&dir, &format!("shard-{k}.csv"));
        let (ok, _, err) = lrom(&csv, &["--shard", &format!("{k}/3")]);
        assert!(ok, "{err}");
        assert_eq!(unit_lines(&csv.with_extension("jsonl")).len(), 24, "shard {k} holds a third");
        shard_files.push(csv.with_extension("jsonl").display().to_string());
    }
    let merged = path(&dir, "merged.jsonl");
    let m = merged.to_str().unwrap();
    let shards: Vec<&str> = shard_files.iter().map(String::as_str).collect();

    // a missing shard, a repeated one, and a shard of another spec are refused
    let (ok, _, err) = run(&[&["merge", m], &shards[..2]].concat());
    assert!(!ok && err.contains("24 of 72 units are missing") && err.contains("shard(s) 1 of 3"), "{err}");
    let (ok, _, err) = run(&[&["merge", m], &shards[..], &shards[..1]].concat());
    assert!(!ok && err.contains("in both"), "{err}");
    let other = path(&dir, "other.csv");
    assert!(lrom(&other, &["--shard", "1/3", "--delta", "0.02"]).0);
    let other = other.with_extension("jsonl").display().to_string();
    let (ok, _, err) = run(&["merge", m, shards[0], shards[1], &other]);
    assert!(!ok && err.contains("not shards of one batch"), "{err}");
    assert!(!merged.exists(), "a refused merge writes nothing");

    let (ok, merged_out, err) = run(&[&["merge", m], &shards[..]].concat());
    assert!(ok, "{err}");
    assert_eq!(rows(&merged.with_extension("csv")), rows(&single), "the merged CSV is the single run's");
    assert_eq!(summary(&merged_out), summary(&single_out));
    let matrix = |s: &str| s.lines().take_while(|l| !l.starts_with("N1 ⇐ N2")).map(String::from).collect::<Vec<_>>();
    assert_eq!(matrix(&merged_out), matrix(&single_out));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.with_extension("json")).unwrap()).unwrap();
    assert_eq!(doc["regions"].as_array().unwrap().len(), 72);
    let (ok, _, err) = run(&[&["merge", m], &shards[..]].concat());
    assert!(!ok && err.contains("already holds"), "merge never overwrites: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_shards_and_outputs_are_refused() {
    let dir = scratch_dir("batches-bad");
    let csv = path(&dir, "x.csv");
    for (shard, says) in [("0/0", "at least 1"), ("3/3", "below N"), ("1", "K/N"), ("a/2", "whole number")] {
        let (ok, _, err) = lrom(&csv, &["--shard", shard]);
        assert!(!ok && err.contains(says), "--shard {shard}: {err}");
    }
    let (a, b) = (common::fixture("twin_mlp.onnx"), common::fixture("twin_mlp_same.onnx"));
    let data = common::fixture("twin_mlp_data.csv");
    let nets_only = [a.to_str().unwrap(), b.to_str().unwrap(), "--data", data.to_str().unwrap()];
    let (ok, _, err) = run(&[&["lrom"], &nets_only[..], &["--samples", "0..3", "--shard", "0/2"]].concat());
    assert!(!ok && err.contains("need an output file"), "{err}");
    let not_units = path(&dir, "plain.jsonl");
    std::fs::write(&not_units, "{\"a\": 1}\n").unwrap();
    let (ok, _, err) = run(&["merge", path(&dir, "m.jsonl").to_str().unwrap(), not_units.to_str().unwrap()]);
    assert!(!ok && err.contains("not a twinverify units file"), "{err}");
    assert!(!csv.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `robust`, `boundary` (both views) and `run-instances` on 3 shards merge to a single run's rows.
#[test]
fn every_batch_command_merges_its_shards_to_a_single_run() {
    let dir = scratch_dir("batches-commands");
    let (net, twin) = (common::fixture("twin_mlp.onnx"), common::fixture("twin_mlp_prune50.onnx"));
    let data = common::fixture("twin_mlp_data.csv");
    let (net, twin, data) = (net.to_str().unwrap(), twin.to_str().unwrap(), data.to_str().unwrap());
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("vnnlib-examples");
    let instances = dir.join("list.csv");
    let vnnlib = ["robust_v1.vnnlib", "robust_row0_v1.vnnlib"].map(|v| format!("{net},{}/{v},30\n", ex.display()));
    std::fs::write(&instances, vnnlib.concat()).unwrap();
    let commands: [(&str, Vec<&str>); 4] = [
        ("robust", vec!["robust", net, "--data", data, "--samples", "0..5", "--delta", "0.01,0.05"]),
        ("boundary", vec!["boundary", net, "--data", data, "--samples", "0..5"]),
        ("pairs", vec!["boundary", net, "--reference", twin, "--data", data, "--samples", "0..5"]),
        ("instances", vec!["run-instances", instances.to_str().unwrap()]),
    ];
    for (name, args) in commands {
        let out_flag = if name == "instances" { "--out" } else { "--csv" };
        let single = dir.join(format!("{name}.csv"));
        let (ok, _, err) = run(&[&args[..], &[out_flag, single.to_str().unwrap()]].concat());
        assert!(ok, "{name}: {err}");
        let mut shards = Vec::new();
        for k in 0..3 {
            let csv = dir.join(format!("{name}-{k}.csv"));
            let shard = format!("{k}/3");
            let (ok, _, err) = run(&[&args[..], &[out_flag, csv.to_str().unwrap(), "--shard", &shard]].concat());
            assert!(ok, "{name} shard {k}: {err}");
            shards.push(csv.with_extension("jsonl").display().to_string());
        }
        let merged = dir.join(format!("{name}-merged.jsonl"));
        let shards: Vec<&str> = shards.iter().map(String::as_str).collect();
        let (ok, _, err) = run(&[&["merge", merged.to_str().unwrap()], &shards[..]].concat());
        assert!(ok, "{name} merge: {err}");
        let (a, b) = (rows(&single), rows(&merged.with_extension("csv")));
        assert!(!a.is_empty(), "{name}");
        assert_eq!(a, b, "{name}: merged rows equal a single run's");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
