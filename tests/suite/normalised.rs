//! Normalised inputs and HWC rows (issue 17): a net with its normalisation outside the graph, fed
//! HWC pixel rows with --mean/--std/--layout hwc, matches the same net with the normalisation inside.

use crate::common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use serde_json::Value;

const MEAN: &str = "0.4914,0.4822,0.4465";
const STD: &str = "0.2023,0.1994,0.2010";

fn path(name: &str) -> String {
    fixture(name).to_str().unwrap().to_string()
}

/// Runs `lrom` on rows 0..4 at δ = 0.01 and 0.03 (pixel units) with `extra` flags; the certified
/// minima and maxima of every (sample, δ, pair, class pair) row, in order.
fn certified(nets: [&str; 2], data: &str, extra: &[&str]) -> Vec<(String, f64, f64)> {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let run = RUN.fetch_add(1, Ordering::SeqCst);
    let out = std::env::temp_dir().join(format!("twinverify-norm-{}-{run}.csv", std::process::id()));
    let (n1, n2, data, csv) = (path(nets[0]), path(nets[1]), path(data), out.to_str().unwrap().to_string());
    let mut args = vec!["lrom", &n1, &n2, "--data", &data, "--scale", "1/255", "--samples", "0..4"];
    args.extend(["--delta", "0.01,0.03", "--domain", "0,1", "--csv", &csv]);
    args.extend(extra);
    let (ok, stdout, stderr) = run_cli(&args);
    assert!(ok, "{args:?}\n{stdout}\n{stderr}");
    read_certified(&out)
}

fn read_certified(path: &Path) -> Vec<(String, f64, f64)> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let head = reader.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let (lo, hi) = (col("certified_min"), col("certified_max"));
    let key = [col("sample"), col("delta"), col("c"), col("j")];
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let k = key.iter().map(|&i| r[i].to_string()).collect::<Vec<_>>().join("/");
            (k, r[lo].parse().unwrap(), r[hi].parse().unwrap())
        })
        .collect()
}

#[test]
fn outside_normalisation_with_hwc_rows_gives_the_inside_normalised_bounds() {
    let hwc = ["--layout", "hwc"];
    let outside = certified(
        ["cifar_norm.onnx", "cifar_norm_prune50.onnx"],
        "cifar_norm_hwc.csv",
        &["--mean", MEAN, "--std", STD, "--layout", "hwc"],
    );
    let inside = certified(["cifar_norm_inside.onnx", "cifar_norm_inside_prune50.onnx"], "cifar_norm_hwc.csv", &hwc);
    // the inside-normalised net on the CHW rows: the same regions again
    let inside_chw = certified(["cifar_norm_inside.onnx", "cifar_norm_inside_prune50.onnx"], "cifar_norm_chw.csv", &[]);
    assert!(outside.len() >= 16, "{} rows", outside.len());
    for other in [&inside, &inside_chw] {
        assert_eq!(outside.len(), other.len());
        for ((k, lo, hi), (k2, lo2, hi2)) in outside.iter().zip(other.iter()) {
            assert_eq!(k, k2);
            assert!((lo - lo2).abs() < 1e-6 && (hi - hi2).abs() < 1e-6, "{k}: [{lo}, {hi}] vs [{lo2}, {hi2}]");
        }
    }
    // a wrong map changes the bounds: δ not divided by std, or the rows left in HWC order
    let wrong = certified(["cifar_norm.onnx", "cifar_norm_prune50.onnx"], "cifar_norm_hwc.csv", &hwc);
    let unnormalised = certified(
        ["cifar_norm.onnx", "cifar_norm_prune50.onnx"],
        "cifar_norm_hwc.csv",
        &["--mean", MEAN, "--std", STD],
    );
    let differs = |rows: &[(String, f64, f64)]| {
        rows.len() != outside.len()
            || rows.iter().zip(&outside).any(|((k, lo, _), (k2, lo2, _))| k != k2 || (lo - lo2).abs() > 1e-3)
    };
    assert!(differs(&wrong) && differs(&unnormalised), "{wrong:?}\n{unnormalised:?}");
    // wider pixel radius, wider range: the δ = 0.03 minima are below the δ = 0.01 ones
    let at = |d: &str| outside.iter().filter(|(k, ..)| k.split('/').nth(1) == Some(d)).map(|r| r.1).collect::<Vec<_>>();
    assert!(
        at("0.03").iter().zip(at("0.01")).all(|(a, b)| a <= &b)
            && at("0.03").iter().zip(at("0.01")).any(|(a, b)| *a < b)
    );
}

#[test]
fn hwc_rows_give_onnxruntime_logits_of_the_inside_normalised_net() {
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("cifar_norm_logits.json")).unwrap()).unwrap();
    let want = &reference["logits"]["cifar_norm_inside.onnx"];
    let (net, data) = (path("cifar_norm.onnx"), path("cifar_norm_hwc.csv"));
    for row in 0..4 {
        let r = row.to_string();
        let args = [
            "eval", &net, "--data", &data, "--row", &r, "--scale", "1/255", "--mean", MEAN, "--std", STD, "--layout",
            "hwc", "--json",
        ];
        let (ok, out, err) = run_cli(&args);
        assert!(ok, "{err}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        let got = floats(&doc["logits"]);
        assert!(rel_diff(&got, &floats(&want[row])) < 1e-5, "row {row}: {got:?} vs {:?}", want[row]);
        // the same row read as CHW is a different input: the transposition is what makes them agree
        let chw =
            ["eval", &net, "--data", &data, "--row", &r, "--scale", "1/255", "--mean", MEAN, "--std", STD, "--json"];
        let doc: Value = serde_json::from_str(&run_cli(&chw).1).unwrap();
        assert!(rel_diff(&floats(&doc["logits"]), &floats(&want[row])) > 1e-3);
    }
}

#[test]
fn bad_normalisations_are_refused_with_a_clear_message() {
    let (net, twin, data) = (path("cifar_norm.onnx"), path("cifar_norm_prune50.onnx"), path("cifar_norm_hwc.csv"));
    let cases: [(&[&str], &str); 6] = [
        (&["--std", "0"], "std 0 must be a finite number > 0"),
        (&["--std", "0.2,-0.1,0.2"], "std -0.1 must be a finite number > 0"),
        (&["--std", "nan"], "not a finite number"),
        (&["--mean", "inf"], "not a finite number"),
        (&["--mean", "0.5,0.5"], "mean has 2 values but the network has 3 input channels"),
        (&["--std", "0.2,0.2,0.2,0.2"], "std has 4 values but the network has 3 input channels"),
    ];
    for (flags, message) in cases {
        for cmd in [vec!["lrom", &net, &twin], vec!["robust", &net], vec!["eval", &net]] {
            let mut args = cmd.clone();
            args.extend(["--data", &data, "--scale", "1/255"]);
            args.extend(flags);
            let (ok, out, err) = run_cli(&args);
            assert!(!ok && err.contains(message) && !err.contains("panicked"), "{args:?}\n{out}\n{err}");
        }
    }
    // HWC needs a (C,H,W) input; resilience checks the map like every other command
    let (mlp, mlp_data) = (path("twin_mlp.onnx"), path("twin_mlp_data.csv"));
    let (ok, _, err) = run_cli(&["eval", &mlp, "--data", &mlp_data, "--layout", "hwc"]);
    assert!(!ok && err.contains("layout hwc needs a (C,H,W) network input"), "{err}");
    let (ok, _, err) = run_cli(&["resilience", &net, "--data", &data, "--scale", "1/255", "--std", "0"]);
    assert!(!ok && err.contains("std 0 must be a finite number > 0"), "{err}");
}

#[test]
fn spec_data_block_takes_mean_std_and_layout() {
    let dir = scratch_dir("norm-spec");
    let spec = dir.join("spec.yaml");
    let text = format!(
        "networks:\n  - {{name: original, path: {}}}\n  - {{name: pruned, path: {}}}\ndata:\n  csv: {}\n  scale: 1/255\n  mean: [{MEAN}]\n  std: [{STD}]\n  layout: hwc\nsamples: 0..4\ndelta: [0.01, 0.03]\ndomain: [0, 1]\npairs: [[original, pruned]]\n",
        path("cifar_norm.onnx"),
        path("cifar_norm_prune50.onnx"),
        path("cifar_norm_hwc.csv")
    );
    std::fs::write(&spec, text).unwrap();
    let csv = dir.join("out.csv");
    let (ok, out, err) = run_cli(&["lrom", "--spec", spec.to_str().unwrap(), "--csv", csv.to_str().unwrap()]);
    assert!(ok, "{out}\n{err}");
    let from_spec = read_certified(&csv);
    let flags = certified(
        ["cifar_norm.onnx", "cifar_norm_prune50.onnx"],
        "cifar_norm_hwc.csv",
        &["--mean", MEAN, "--std", STD, "--layout", "hwc", "--pair", "1,2"],
    );
    assert_eq!(from_spec, flags);
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, text.replace("std: [", "std: [0, ")).unwrap();
    let (ok, _, err) = run_cli(&["lrom", "--spec", spec.to_str().unwrap()]);
    assert!(!ok && err.contains("std 0 must be a finite number > 0"), "{err}");
    std::fs::write(&spec, text.replace("layout: hwc", "layout: nhwc")).unwrap();
    let (ok, _, err) = run_cli(&["lrom", "--spec", spec.to_str().unwrap()]);
    assert!(!ok && err.contains("nhwc"), "{err}");
}

#[test]
fn bounds_and_robust_use_the_same_regions() {
    let (outside, inside, data) = (path("cifar_norm.onnx"), path("cifar_norm_inside.onnx"), path("cifar_norm_hwc.csv"));
    let norm = ["--mean", MEAN, "--std", STD, "--layout", "hwc"];
    let common = ["--data", &data, "--scale", "1/255", "--domain", "0,1"];
    let output = |net: &str, flags: &[&str]| {
        let args = [&["bounds", net, "--row", "2", "--delta", "0.02", "--json"][..], &common, flags].concat();
        let (ok, out, err) = run_cli(&args);
        assert!(ok, "{err}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        let r = &doc["regions"][0];
        [floats(&r["output_lower"]), floats(&r["output_upper"])]
    };
    let (a, b) = (output(&outside, &norm), output(&inside, &["--layout", "hwc"]));
    for (x, y) in a.iter().zip(&b) {
        assert!(x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-6), "{a:?} vs {b:?}");
    }
    assert!(a[0].iter().zip(&a[1]).all(|(l, u)| u - l > 1e-3), "a non-trivial box: {a:?}");
    let robust = |net: &str, flags: &[&str]| {
        let args = [&["robust", net, "--delta", "0.001,0.03"][..], &common, flags].concat();
        let (ok, out, err) = run_cli(&args);
        assert!(ok, "{err}");
        out.lines()
            .skip(1)
            .map(str::to_string)
            .map(|l| l.split_whitespace().take(5).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    assert_eq!(robust(&outside, &norm), robust(&inside, &["--layout", "hwc"]));
}

#[test]
fn compress_reports_the_same_accuracy_and_unstable_relus() {
    let data = path("cifar_norm_hwc.csv");
    let report = |net: &str, flags: &[&str]| {
        let out = std::env::temp_dir().join(format!("twinverify-norm-twin-{}-{}", std::process::id(), flags.len()));
        let (net, out) = (path(net), out.to_str().unwrap().to_string());
        let args =
            [&["compress", &net, "--prune", "0.5", "--out", &out, "--data", &data, "--scale", "1/255"][..], flags]
                .concat();
        let args = [&args[..], &["--delta", "0.01,0.05", "--domain", "0,1"]].concat();
        let (ok, stdout, err) = run_cli(&args);
        assert!(ok, "{err}");
        stdout
            .lines()
            .filter(|l| l.starts_with("accuracy") || l.starts_with("unstable"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let outside = report("cifar_norm.onnx", &["--mean", MEAN, "--std", STD, "--layout", "hwc"]);
    assert_eq!(outside.len(), 3, "{outside:?}");
    assert!(outside[0].contains("original 8 (100.0%)"), "{outside:?}");
    assert_eq!(outside, report("cifar_norm_inside.onnx", &["--layout", "hwc"]));
}

#[test]
fn boundary_distances_are_in_pixel_units() {
    let data = path("cifar_norm_hwc.csv");
    let run = |net: &str, twin: &str, flags: &[&str]| {
        let (net, twin) = (path(net), path(twin));
        let common = ["--data", &data, "--scale", "1/255", "--domain", "0,1", "--samples", "0..3", "--json"];
        let mut out = Vec::new();
        for reference in [None, Some(&twin)] {
            let extra: Vec<&str> = reference.map_or(vec![], |t| vec!["--reference", t]);
            let file = std::env::temp_dir().join(format!(
                "twinverify-norm-b-{}-{}-{}.json",
                std::process::id(),
                flags.len(),
                reference.is_some()
            ));
            let f = file.to_str().unwrap();
            let args = [&["boundary", &net][..], &common[..common.len() - 1], &["--json", f], flags, &extra].concat();
            let (ok, _, err) = run_cli(&args);
            assert!(ok, "{args:?} {err}");
            out.push(std::fs::read_to_string(&file).unwrap());
        }
        out
    };
    let outside = run("cifar_norm.onnx", "cifar_norm_prune50.onnx", &["--mean", MEAN, "--std", STD, "--layout", "hwc"]);
    let inside = run("cifar_norm_inside.onnx", "cifar_norm_inside_prune50.onnx", &["--layout", "hwc"]);
    for (a, b) in outside.iter().zip(&inside) {
        let (a, b): (Value, Value) = (serde_json::from_str(a).unwrap(), serde_json::from_str(b).unwrap());
        assert_eq!(a["samples"].as_array().map(Vec::len), Some(3), "{a}");
        same(&a["samples"], &b["samples"]);
        // counterexamples are pixel rows (HWC, in the domain), whichever net produced them
        for c in a["samples"].as_array().unwrap().iter().filter_map(|s| s["result"].get("counterexample")) {
            let x = floats(&c["input"]);
            assert!(x.len() == 192 && x.iter().all(|v| (-1e-9..=1.0 + 1e-9).contains(v)), "{x:?}");
        }
    }
}

/// Equal JSON up to 1e-6 in numbers, timings ignored.
fn same(a: &Value, b: &Value) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>());
            x.iter().filter(|(k, _)| *k != "seconds").for_each(|(k, v)| same(v, &y[k]));
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len());
            x.iter().zip(y).for_each(|(p, q)| same(p, q));
        }
        (Value::Number(p), Value::Number(q)) => {
            assert!((p.as_f64().unwrap() - q.as_f64().unwrap()).abs() < 1e-6, "{p} vs {q}")
        }
        _ => assert_eq!(a, b),
    }
}

#[test]
fn resilience_measures_pixels_through_the_normalisation() {
    // Φ_m (L∞, pixel units) of row 1: the net with the normalisation outside, given HWC pixel
    // rows and --mean/--std/--layout, and the same net with the normalisation inside, given CHW
    // pixel rows, are one function of the pixels, so both brackets must overlap; a run that
    // forgets the normalisation (the outside net on raw pixels) measures something else
    let run = |net: &str, data: &str, extra: &[&str]| -> Value {
        let (net, data) = (path(net), path(data));
        let mut args = vec!["resilience", &net, "--data", &data, "--scale", "1/255", "--row", "1", "--norm", "linf"];
        args.extend(extra);
        args.push("--json");
        let (ok, out, err) = run_cli(&args);
        assert!(ok, "{args:?}: {err}");
        serde_json::from_str::<Value>(&out).unwrap()["classes"][0].clone()
    };
    let outside = run("cifar_norm.onnx", "cifar_norm_hwc.csv", &["--mean", MEAN, "--std", STD, "--layout", "hwc"]);
    let inside = run("cifar_norm_inside.onnx", "cifar_norm_chw.csv", &[]);
    let bracket = |c: &Value| (c["certified"].as_f64().unwrap(), c["attained"].as_f64().unwrap());
    let ((lo1, hi1), (lo2, hi2)) = (bracket(&outside), bracket(&inside));
    assert!(lo1 > 0.0 && lo2 > 0.0 && lo1 <= hi2 + 1e-9 && lo2 <= hi1 + 1e-9, "{outside} vs {inside}");
    assert!((hi1 - hi2).abs() <= 1e-3 && (lo1 - lo2).abs() <= 1e-3, "{outside} vs {inside}");
    // the witness is reported in pixels (HWC, as the rows): inside [0, 1] and at L∞ distance
    // `attained` (up to rounding) from row 1's pixels
    let pixels: Vec<f64> = std::fs::read_to_string(fixture("cifar_norm_hwc.csv"))
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .skip(1)
        .map(|v| v.trim().parse::<f64>().unwrap() / 255.0)
        .collect();
    let w = &outside["witness"];
    let perturbed: Vec<f64> = w["perturbed"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(perturbed.iter().all(|&v| (-1e-9..=1.0 + 1e-9).contains(&v)), "{w}");
    let input: Vec<f64> = w["input"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(input.iter().zip(&pixels).all(|(a, b)| (a - b).abs() < 1e-9), "the sample itself, in pixels");
    let moved = perturbed.iter().zip(&input).map(|(p, a)| (p - a).abs()).fold(0.0, f64::max);
    assert!((moved - hi1).abs() <= 1e-6 * (1.0 + hi1), "moved {moved}, attained {hi1}");
    // forgetting the normalisation gives another answer
    let raw = run("cifar_norm.onnx", "cifar_norm_hwc.csv", &["--layout", "hwc"]);
    assert!((bracket(&raw).1 - hi1).abs() > 1e-3, "{raw}");
}

#[test]
fn equiv_compares_normalised_twins_on_pixel_regions() {
    // the outside-normalised pair on HWC rows with the flags and the inside-normalised pair on
    // CHW rows: the same regions of pixels, so the same certified and attained max |A − B|
    let run = |nets: [&str; 2], data: &str, extra: &[&str]| -> Value {
        let (a, b, data) = (path(nets[0]), path(nets[1]), path(data));
        let mut args = vec!["equiv", &a, &b, "--data", &data, "--scale", "1/255", "--samples", "0..3"];
        args.extend(["--delta", "0.01", "--domain", "0,1", "--json"]);
        args.extend(extra);
        let (_, out, err) = run_cli(&args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{err}"))
    };
    let outside = run(
        ["cifar_norm.onnx", "cifar_norm_prune50.onnx"],
        "cifar_norm_hwc.csv",
        &["--mean", MEAN, "--std", STD, "--layout", "hwc"],
    );
    let inside = run(["cifar_norm_inside.onnx", "cifar_norm_inside_prune50.onnx"], "cifar_norm_chw.csv", &[]);
    let eps = |d: &Value| -> Vec<(f64, f64)> {
        let regions = d["regions"].as_array().unwrap();
        regions
            .iter()
            .map(|r| (r["epsilon"]["certified"].as_f64().unwrap(), r["epsilon"]["attained"].as_f64().unwrap()))
            .collect()
    };
    let (o, i) = (eps(&outside), eps(&inside));
    assert_eq!(o.len(), 3);
    for ((c1, a1), (c2, a2)) in o.iter().zip(&i) {
        assert!((c1 - c2).abs() < 1e-6 && (a1 - a2).abs() < 1e-6 && a1 <= c1, "{o:?} vs {i:?}");
    }
    // the witness is a pixel row in the file's (HWC) order, within δ of its row
    let rows: Vec<Vec<f64>> = std::fs::read_to_string(fixture("cifar_norm_hwc.csv"))
        .unwrap()
        .lines()
        .take(3)
        .map(|l| l.split(',').skip(1).map(|v| v.trim().parse::<f64>().unwrap() / 255.0).collect())
        .collect();
    for (r, row) in outside["regions"].as_array().unwrap().iter().zip(&rows) {
        let w: Vec<f64> = r["witness"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let far = w.iter().zip(row).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(far <= 0.01 + 1e-9 && w.iter().all(|&v| (-1e-9..=1.0 + 1e-9).contains(&v)), "{far}");
    }
}

#[test]
fn the_cifar_paper_specs_run_once_pointed_at_their_files() {
    // FANC's CIFAR-10 nets are not in ../shared: stand in for every file the specs name with the
    // CIFAR-shaped fixtures (normalisation outside, HWC rows), at the paths the specs expect under
    // a scratch folder, and run each spec end to end on two rows
    let dir = scratch_dir("cifar-specs");
    let specs = fixtures().join("../../specs/paper");
    let anchors = "../../../shared/anchors/FANC/";
    for name in ["cifar_fcnn7_prune", "cifar_fcnn7_quant", "cifar_fconv4_prune", "cifar_fconv4_quant"] {
        let text = std::fs::read_to_string(specs.join(format!("{name}.yaml"))).unwrap();
        let root = dir.join(name);
        let text = text
            .replace(anchors, &format!("{}/", root.display()))
            .replace("../../out/", &format!("{}/", root.display()));
        let nets: Vec<&str> =
            text.lines().filter_map(|l| l.split("path: ").nth(1)).map(|p| p.trim_end_matches('}')).collect();
        assert!(nets.len() >= 4, "{name}: {nets:?}");
        for (k, net) in nets.iter().enumerate() {
            let file = Path::new(net);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            let stand_in = if k == 0 { "cifar_norm.onnx" } else { "cifar_norm_prune50.onnx" };
            std::fs::copy(fixture(stand_in), file).unwrap();
        }
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::copy(fixture("cifar_norm_hwc.csv"), root.join("data/cifar_test.csv")).unwrap();
        let spec = root.join("spec.yaml");
        std::fs::write(&spec, &text).unwrap();
        let (ok, out, err) = run_cli(&["run", spec.to_str().unwrap(), "--samples", "0..2", "--overwrite"]);
        assert!(ok, "{name}: {err}");
        // one summary row per listed pair and radius (δ = 0.001 and 0.01), in the spec's order
        let pairs = text.lines().filter(|l| l.trim_start().starts_with("- [")).count();
        let rows = out.lines().filter(|l| l.contains(" ⇐ ") && (l.contains(" 0.001 ") || l.contains(" 0.01 "))).count();
        assert_eq!(rows, 2 * pairs, "{name}:\n{out}");
        assert!(root.join(format!("{name}.csv")).is_file(), "{name}: the spec's CSV");
    }
}
