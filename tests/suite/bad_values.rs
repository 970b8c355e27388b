//! Every number a user gives that cannot mean anything (NaN, infinities, negative radii or time
//! limits, reversed or out-of-range row selections, labels that are no class, empty radius lists,
//! NaN domains in a spec) is rejected by every command that takes it: non-zero exit, a message,
//! no panic, nothing analysed.

use crate::common;

use common::*;

fn path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

/// Runs the command and asserts a clean refusal.
fn refused(args: &[&str]) {
    let (ok, out, err) = run_cli(args);
    assert!(!ok, "{args:?} was accepted:\n{out}");
    assert!(!err.contains("panicked") && !err.trim().is_empty(), "{args:?}: {err}");
    assert!(!out.contains("established"), "{args:?} analysed something:\n{out}");
}

#[test]
fn bad_numbers_from_flags_are_refused_by_every_command() {
    let (net, twin, data) = (path("twin_mlp.onnx"), path("twin_mlp_prune50.onnx"), path("twin_mlp_data.csv"));
    let lrom = ["lrom", &net, &twin, "--data", &data, "--samples", "0..2"];
    let robust = ["robust", &net, "--data", &data, "--samples", "0..2"];
    let boundary = ["boundary", &net, "--data", &data, "--samples", "0..2"];
    let bounds = ["bounds", &net, "--data", &data, "--row", "0"];
    let resilience = ["resilience", &net, "--data", &data, "--row", "0"];
    let bad_common: [&[&str]; 7] = [
        &["--time-limit", "-1"],
        &["--time-limit", "nan"],
        &["--time-limit", "inf"],
        &["--threads", "0"],
        &["--scale", "nan"],
        &["--scale", "-1"],
        &["--scale", "1/0"],
    ];
    for base in [&lrom[..], &robust[..], &boundary[..], &bounds[..], &resilience[..]] {
        for bad in bad_common {
            refused(&[base, bad].concat());
        }
    }
    // the commands that solve MILPs (the others do not offer --mip-gap)
    for base in [&lrom[..], &boundary[..], &resilience[..]] {
        for bad in [["--mip-gap", "-1"], ["--mip-gap", "nan"]] {
            refused(&[base, &bad[..]].concat());
        }
    }
    for base in [&lrom[..], &robust[..], &bounds[..]] {
        for bad in
            [["--delta", "nan"], ["--delta", "-0.1"], ["--delta", "inf"], ["--domain", "nan,1"], ["--domain", "1,0"]]
        {
            refused(&[base, &bad[..]].concat());
        }
    }
    for bad in [["--threshold", "nan"], ["--samples", "5..2"], ["--samples", "100..200"], ["--samples", "999"]] {
        refused(&[&lrom[..2], &[&twin, "--data", &data], &bad[..]].concat());
    }
    for bad in [["--samples", "5..2"], ["--samples", "100..200"]] {
        refused(&[&robust[..3], &[&data], &bad[..]].concat());
        refused(&[&boundary[..3], &[&data], &bad[..]].concat());
    }
    for bad in [["--tolerance", "0"], ["--tolerance", "nan"], ["--start", "-1"], ["--max-epsilon", "inf"]] {
        refused(&[&boundary[..], &bad[..]].concat());
    }
    for bad in [["--alpha", "nan"], ["--radius", "-1"], ["--tolerance", "-1"]] {
        refused(&[&resilience[..], &bad[..]].concat());
    }
}

#[test]
fn bad_numbers_in_data_and_specs_are_refused() {
    let dir = scratch_dir("bad-values");
    let (net, twin) = (path("twin_mlp.onnx"), path("twin_mlp_prune50.onnx"));
    // a label that is not a class (the networks have 3), a NaN feature
    let label = dir.join("label.csv");
    std::fs::write(&label, "7,0.1,0.2,0.3,0.4,0.5,0.6\n").unwrap();
    let nan = dir.join("nan.csv");
    std::fs::write(&nan, "1,0.1,nan,0.3,0.4,0.5,0.6\n").unwrap();
    for csv in [&label, &nan] {
        let csv = csv.to_str().unwrap();
        refused(&["lrom", &net, &twin, "--data", csv, "--include-misclassified"]);
        refused(&["robust", &net, "--data", csv]);
        refused(&["boundary", &net, "--data", csv]);
    }
    let spec = |extra: &str| {
        let p = dir.join("spec.yaml");
        let text = format!(
            "networks:\n  - {{name: a, path: {net}}}\n  - {{name: b, path: {twin}}}\ndata: {{csv: {}}}\n{extra}\n",
            path("twin_mlp_data.csv")
        );
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    for extra in [
        "delta: []",
        "delta: .nan",
        "delta: 0.01\ndomain: [.nan, 1]",
        "delta: 0.01\ndomain: [1, 0]",
        "delta: 0.01\nthreshold: .nan",
        "delta: 0.01\nsolver: {time_limit: -1}",
    ] {
        refused(&["lrom", "--spec", &spec(extra)]);
    }
    // flags are merged before the one check: an override can make a good spec bad
    refused(&["lrom", "--spec", &spec("delta: 0.01"), "--threshold", "inf"]);
    let _ = std::fs::remove_dir_all(&dir);
}
