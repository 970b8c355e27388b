//! A YAML spec for every analysis: `--print-spec` writes the effective settings, `twinverify run`
//! on that file computes exactly what the flags did (same fingerprint, same results), flags given
//! after a spec override it, and a wrong key or value is refused with a message naming it.

use crate::common::*;
use serde_json::Value;

/// One run per analysis that reads a generic spec, with its flags (fixtures given by name).
fn analyses() -> Vec<(&'static str, Vec<String>)> {
    let f = |name: &str| fixture(name).to_string_lossy().into_owned();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let data = f("twin_mlp_data.csv");
    vec![
        (
            "lrom",
            s(&[
                "lrom",
                &f("twin_mlp.onnx"),
                &f("twin_mlp_prune50.onnx"),
                "--data",
                &data,
                "--samples",
                "0..4",
                "--pair",
                "2,1",
            ]),
        ),
        (
            "robust",
            [s(&["robust", &f("twin_mlp.onnx"), "--data", &data]), s(&["--samples", "0..6", "--delta", "0.01,0.05"])]
                .concat(),
        ),
        (
            "boundary",
            s(&[
                "boundary",
                &f("twin_mlp_prune50.onnx"),
                "--reference",
                &f("twin_mlp.onnx"),
                "--data",
                &data,
                "--samples",
                "0..4",
                "--start",
                "0.02",
            ]),
        ),
        (
            "resilience",
            s(&[
                "resilience",
                &f("twin_mlp.onnx"),
                "--data",
                &data,
                "--row",
                "2",
                "--radius",
                "0.05",
                "--norm",
                "linf",
            ]),
        ),
        (
            "equiv",
            s(&[
                "equiv",
                &f("equiv_torch.onnx"),
                &f("equiv_tf.onnx"),
                "--data",
                &f("equiv_data.csv"),
                "--samples",
                "0..3",
                "--epsilon",
                "0.001",
            ]),
        ),
        (
            "bench",
            s(&[
                "bench",
                "--original",
                &f("twin_mlp.onnx"),
                "--compact",
                &f("twin_mlp_prune50.onnx"),
                "--compact",
                &f("twin_mlp_quant8.onnx"),
                "--data",
                &data,
                "--count",
                "2",
            ]),
        ),
    ]
}

/// The JSON document a run prints on standard output with a bare `--json`.
fn json_of(args: &[String]) -> Value {
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.push("--json");
    let (ok, out, err) = run_cli(&all);
    assert!(ok, "{all:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{all:?}: not JSON ({e}): {out}"))
}

/// The document without what differs between two runs of the same settings: the command line
/// and every timing.
fn results(mut doc: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| k != "command_line" && !k.contains("second") && k != "speedup");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut doc);
    doc
}

#[test]
fn a_printed_spec_repeats_the_run_of_the_flags() {
    let dir = scratch_dir("specs");
    for (name, args) in analyses() {
        let flags = json_of(&args);
        let mut print: Vec<&str> = args.iter().map(String::as_str).collect();
        print.push("--print-spec");
        let (ok, yaml, err) = run_cli(&print);
        assert!(ok && yaml.lines().any(|l| l == format!("analysis: {name}")), "{name}: {err}{yaml}");
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, &yaml).unwrap();
        let spec = json_of(&["run".into(), file.to_string_lossy().into_owned()]);
        let hash = flags.get("spec_hash").and_then(Value::as_str);
        assert!(hash.is_some_and(|h| !h.is_empty()), "{name}: no spec_hash in {flags}");
        assert_eq!(spec.get("spec_hash").and_then(Value::as_str), hash, "{name}: another fingerprint from\n{yaml}");
        assert_eq!(results(spec), results(flags), "{name}: other results from\n{yaml}");
        // the printed spec is a fixed point: printing it again gives the same text
        let (ok, again, err) = run_cli(&["run", &file.to_string_lossy(), "--print-spec"]);
        assert!(ok, "{err}");
        assert_eq!(again, yaml, "{name}");
    }
}

#[test]
fn every_shipped_spec_reads_and_prints_back_the_same() {
    let specs = fixtures().join("../../specs");
    let mut files: Vec<_> = std::fs::read_dir(&specs).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let dir = scratch_dir("shipped-specs");
    let mut analyses = std::collections::BTreeSet::new();
    for file in &files {
        let (ok, yaml, err) = run_cli(&["run", &file.to_string_lossy(), "--print-spec"]);
        assert!(ok, "{}: {err}", file.display());
        let copy = dir.join(file.file_name().unwrap());
        std::fs::write(&copy, &yaml).unwrap();
        let (ok, again, err) = run_cli(&["run", &copy.to_string_lossy(), "--print-spec"]);
        assert!(ok && again == yaml, "{}: {err}\n{yaml}\n---\n{again}", file.display());
        let kind = yaml.lines().find_map(|l| l.strip_prefix("analysis: ")).unwrap_or("lrom").to_string();
        analyses.insert(kind);
    }
    for kind in ["lrom", "matrix", "robust", "boundary", "resilience", "equiv", "bench"] {
        assert!(analyses.contains(kind), "no shipped spec of analysis {kind}: {analyses:?}");
    }
}

#[test]
fn flags_after_a_spec_override_it() {
    let spec = fixtures().join("../../specs/robust_mlp.yaml");
    let spec = spec.to_string_lossy().into_owned();
    let doc =
        json_of(&["run".into(), spec.clone(), "--delta".into(), "0.05".into(), "--samples".into(), "0..3".into()]);
    let samples = doc["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 3, "{doc}");
    assert!(samples.iter().all(|s| s["delta"] == 0.05), "{doc}");
    // the spec alone: its two radii over its 20 rows (correctly classified ones)
    let all = json_of(&["run".into(), spec]);
    let deltas: std::collections::BTreeSet<String> =
        all["samples"].as_array().unwrap().iter().map(|s| s["delta"].to_string()).collect();
    assert_eq!(deltas.into_iter().collect::<Vec<_>>(), ["0.01", "0.05"]);
}

#[test]
fn a_wrong_key_or_value_in_a_spec_is_named() {
    let dir = scratch_dir("bad-specs");
    let net = fixture("twin_mlp.onnx").to_string_lossy().into_owned();
    let data = fixture("twin_mlp_data.csv").to_string_lossy().into_owned();
    let write = |name: &str, extra: &str| {
        let p = dir.join(name);
        let kind = if extra.starts_with("analysis") { "" } else { "analysis: robust\n" };
        std::fs::write(&p, format!("{kind}networks: [{net}]\ndata: {{csv: {data}}}\n{extra}")).unwrap();
        p.to_string_lossy().into_owned()
    };
    let cases = [
        (write("key.yaml", "tolerance: 0.1\n"), "`tolerance` is not a key of robust"),
        (write("nested.yaml", "solver: {nmae: highs}\n"), "`solver.nmae` is not a key of robust"),
        (write("negative.yaml", "delta: -1\n"), "-1 is negative"),
        (write("kind.yaml", "analysis: nonsense\n"), "nonsense"),
    ];
    for (file, message) in &cases {
        let (ok, _, err) = run_cli(&["run", file]);
        assert!(!ok && err.contains(message), "{file}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // more networks than the analysis reads
    let two = dir.join("two.yaml");
    std::fs::write(&two, format!("analysis: robust\nnetworks: [{net}, {net}]\ndata: {{csv: {data}}}\n")).unwrap();
    let (ok, _, err) = run_cli(&["run", two.to_str().unwrap()]);
    assert!(!ok && err.contains("`networks` lists 2 networks; this analysis takes at most 1"), "{err}");
    // a spec of one analysis given to another command
    let (ok, _, err) = run_cli(&["boundary", "--spec", &cases[0].0]);
    assert!(!ok && err.contains("not boundary"), "{err}");
}
