//! The binary as a user runs it: output of `info` and `eval`, and one clear error with a
//! non-zero exit status for bad input.

use crate::common::*;

use run_cli as run;

#[test]
fn info_prints_layers_shapes_and_parameters() {
    let (ok, out, _) = run(&["info", fixture("twin_mlp.onnx").to_str().unwrap()]);
    assert!(ok);
    // 6→12→12→3: 84 + 156 + 39 parameters
    assert!(out.contains("parameters  279 in the IR, 279 in the file"), "{out}");
    assert!(out.contains("[1, 12]") && out.contains("output      [1, 3]"), "{out}");
}

/// A convolution is expanded to an affine map in the IR: `info` tells its parameter count apart
/// from the file's (the kernel's weights and biases).
#[test]
fn info_counts_the_files_parameters_apart_from_the_irs() {
    let (ok, out, err) = run(&["info", fixture("twin_conv.onnx").to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (ir, stored) = (doc["parameters"].as_u64().unwrap(), doc["stored_parameters"].as_u64().unwrap());
    assert!(stored > 0 && stored < ir, "file {stored}, IR {ir}");
    assert_eq!(doc["schema_version"], 2, "JSON documents say their layout version");
}

#[test]
fn eval_prints_the_logits_of_a_data_row_and_agrees_with_tract() {
    let data = fixture("twin_mlp_data.csv");
    let (ok, out, err) = run(&[
        "eval",
        fixture("twin_mlp.onnx").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--row",
        "3",
        "--tract",
        "--json",
    ]);
    assert!(ok, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let label = csv_rows(&data, 1.0, 4)[3].0;
    assert_eq!(doc["predicted"].as_u64().unwrap() as usize, label, "fixture labels are the original's predictions");
    assert!(doc["max_abs_diff"].as_f64().unwrap() < 1e-5);
}

#[test]
fn eval_applies_the_scale_to_a_literal_input() {
    let net = fixture("twin_mlp.onnx");
    let (_, a, _) =
        run(&["eval", net.to_str().unwrap(), "--input", "[255, 0, 51, 102, 204, 25.5]", "--scale", "1/255", "--json"]);
    let (_, b, _) = run(&["eval", net.to_str().unwrap(), "--input", "1,0,0.2,0.4,0.8,0.1", "--json"]);
    let (a, b): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&a).unwrap(), serde_json::from_str(&b).unwrap());
    assert!(rel_diff(&floats(&a["logits"]), &floats(&b["logits"])) < 1e-12);
}

#[test]
fn bad_input_exits_non_zero_with_one_message() {
    let (ok, _, err) = run(&["info", fixture("bad/unsupported_op.onnx").to_str().unwrap()]);
    assert!(!ok);
    assert!(err.starts_with("error: ") && err.contains("Erf"), "{err}");
    let (ok, _, err) = run(&["eval", fixture("twin_mlp.onnx").to_str().unwrap(), "--input", "1,2,3"]);
    assert!(!ok && err.contains("takes 6 inputs"), "{err}");
    let (ok, _, err) = run(&["eval", fixture("twin_mlp.onnx").to_str().unwrap(), "--input", "1,2,x,4,5,6"]);
    assert!(!ok && err.contains("value 3"), "{err}");
    assert!(!err.contains("panicked"));
}

/// Without a terminal (CI logs, cluster jobs) a batch prints timestamped progress lines on
/// stderr: one at the start, then at most one per interval (every item with an interval of 0),
/// and one at the end.
#[test]
fn a_batch_without_a_terminal_prints_progress_lines() {
    let (net, twin) = (fixture("twin_mlp.onnx"), fixture("twin_mlp_prune50.onnx"));
    let data = fixture("twin_mlp_data.csv");
    let args = [
        "lrom",
        net.to_str().unwrap(),
        twin.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--samples",
        "0..6",
        "--delta",
        "0.05",
    ];
    let lines = |every: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_twinverify"))
            .args(args)
            .env("TWINVERIFY_PROGRESS_SECS", every)
            .output()
            .unwrap();
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        err.lines().filter(|l| l.contains("] progress: ")).map(String::from).collect::<Vec<_>>()
    };
    // 6 rows, 2 ordered pairs: 12 regions
    let sparse = lines("3600");
    assert_eq!(sparse.len(), 2, "{sparse:?}");
    assert!(sparse[0].contains("progress: 0/12 regions") && sparse[1].contains("progress: 12/12 regions, done in"));
    assert!(sparse[0].starts_with('[') && sparse[0].as_bytes()[9] == b'Z', "timestamped: {}", sparse[0]);
    assert_eq!(lines("0").len(), 14, "the start, every region and the end");
}

/// `bounds --method lp` tightens the output layer too: never looser than symbolic, tighter
/// somewhere, and the network's own outputs at the centre lie inside.
#[test]
fn bounds_by_lp_tighten_the_outputs() {
    let data = fixture("twin_mlp_data.csv");
    let net = fixture("twin_mlp.onnx");
    let bounds = |method: &str| {
        let args = ["bounds", net.to_str().unwrap(), "--data", data.to_str().unwrap(), "--row", "1"];
        let (ok, out, err) = run(&[&args[..], &["--delta", "0.05,0.1", "--method", method, "--json"]].concat());
        assert!(ok, "{err}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        let regions = doc["regions"].as_array().unwrap().clone();
        assert_eq!(regions.len(), 2, "one region per radius");
        let f = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect::<Vec<_>>();
        regions.iter().map(|r| (f(&r["output_lower"]), f(&r["output_upper"]))).collect::<Vec<_>>()
    };
    let (sym, lp) = (bounds("symbolic"), bounds("lp"));
    let (ok, out, _) = run(&["eval", net.to_str().unwrap(), "--data", data.to_str().unwrap(), "--row", "1", "--json"]);
    assert!(ok);
    let logits: Vec<f64> = serde_json::from_str::<serde_json::Value>(&out).unwrap()["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let mut tighter = 0.0f64;
    for ((sl, su), (ll, lu)) in sym.iter().zip(&lp) {
        for i in 0..sl.len() {
            assert!(ll[i] >= sl[i] - 1e-12 && lu[i] <= su[i] + 1e-12, "output {i}: lp looser than symbolic");
            assert!(ll[i] <= logits[i] && logits[i] <= lu[i], "output {i}: the centre's logit is outside");
            tighter = tighter.max((ll[i] - sl[i]).max(su[i] - lu[i]));
        }
    }
    assert!(tighter > 1e-6, "LP tightened no output bound: {sym:?} {lp:?}");
}

/// `--quiet` leaves errors only, `-v` and `TWINVERIFY_LOG=debug` add debug messages (one per
/// finished unit of a batch); what goes to stdout does not change.
#[test]
fn quiet_and_verbose_choose_the_messages_on_stderr() {
    let (net, data) = (fixture("twin_mlp.onnx"), fixture("twin_mlp_data.csv"));
    let args = ["robust", net.to_str().unwrap(), "--data", data.to_str().unwrap(), "--samples", "0..3"];
    let run_with = |extra: &[&str], env: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_twinverify"));
        cmd.args(args).args(extra).env_remove("TWINVERIFY_LOG");
        if let Some(filter) = env {
            cmd.env("TWINVERIFY_LOG", filter);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (plain_out, plain_err) = run_with(&[], None);
    assert!(plain_err.contains("] progress: ") && !plain_err.contains("[debug]"), "{plain_err}");
    let (quiet_out, quiet_err) = run_with(&["--quiet"], None);
    assert!(quiet_err.is_empty(), "--quiet: {quiet_err}");
    let (_, verbose_err) = run_with(&["-v"], None);
    assert_eq!(verbose_err.matches("[debug] unit ").count(), 3, "{verbose_err}");
    let (_, env_err) = run_with(&[], Some("debug"));
    assert!(env_err.contains("[debug] unit 0 (delta=0.01 sample=0) done"), "{env_err}");
    let strip =
        |s: &str| s.lines().map(|l| l.split_whitespace().take(5).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>();
    assert_eq!(strip(&plain_out), strip(&quiet_out));
}

/// `--json` means one thing everywhere: with a FILE the document goes there and the text to
/// stdout; bare, the document is all of stdout and the text goes to stderr.
#[test]
fn json_goes_to_a_file_or_alone_to_stdout() {
    let (net, data) = (fixture("twin_mlp.onnx"), fixture("twin_mlp_data.csv"));
    let (net, data) = (net.to_str().unwrap(), data.to_str().unwrap());
    let dir = scratch_dir("json-flag");
    for cmd in [
        vec!["info", net],
        vec!["eval", net, "--data", data, "--row", "0"],
        vec!["bounds", net, "--data", data, "--row", "0"],
        vec!["robust", net, "--data", data, "--samples", "0..2"],
        vec!["boundary", net, "--data", data, "--samples", "0..2"],
    ] {
        let file = dir.join(format!("{}.json", cmd[0]));
        let (ok, out, err) = run(&[&cmd[..], &["--json"]].concat());
        assert!(ok, "{cmd:?}: {err}");
        let doc: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{cmd:?}: stdout is not JSON ({e}): {out}"));
        assert_eq!(doc["schema_version"], 2);
        assert!(!err.trim().is_empty(), "{cmd:?}: the text went to stderr");
        let (ok, out, err) = run(&[&cmd[..], &["--json", file.to_str().unwrap()]].concat());
        assert!(ok, "{cmd:?}: {err}");
        assert!(
            serde_json::from_str::<serde_json::Value>(&out).is_err() && out.contains("wrote"),
            "{cmd:?}: text on stdout"
        );
        let written: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(written["schema_version"], 2);
    }
    let stray = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("-.jsonl");
    assert!(!stray.exists() && !std::path::Path::new("-.jsonl").exists(), "a bare --json names no units file");
    std::fs::remove_dir_all(&dir).unwrap();
}
