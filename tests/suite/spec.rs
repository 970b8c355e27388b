//! The YAML spec: unknown keys and bad values are one clear error naming the key and the allowed
//! ones; the bundled example specs load and run through the binary.

use crate::common;

use std::process::Command;

use twinverify::spec::Spec;

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("twinverify-spec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str =
    "networks:\n  - {name: a, path: /x/a.onnx}\n  - {name: b, path: /x/b.onnx}\ndata: {csv: /x/d.csv}\ndelta: 0.01\n";

#[test]
fn unknown_keys_name_the_key_and_the_allowed_ones() {
    let p = write("typo.yaml", &format!("{GOOD}dleta: 0.02\n"));
    let e = Spec::load(&p).unwrap_err().to_string();
    assert!(e.contains("dleta") && e.contains("delta") && e.contains("networks"), "{e}");
    let p = write("nested.yaml", &GOOD.replace("{csv: /x/d.csv}", "{csv: /x/d.csv, scal: 2}"));
    let e = Spec::load(&p).unwrap_err().to_string();
    assert!(e.contains("scal") && e.contains("scale"), "{e}");
    let p = write("solver.yaml", &format!("{GOOD}solver: {{name: highs, timelimit: 3}}\n"));
    assert!(Spec::load(&p).unwrap_err().to_string().contains("timelimit"));
}

#[test]
fn bad_values_are_clear_errors() {
    let cases = [
        (format!("{GOOD}mode: fuzzy\n"), "fuzzy"),
        (format!("{GOOD}pairs: [[a, c]]\n"), "unknown network 'c'"),
        (GOOD.replace("delta: 0.01", "delta: -1"), "delta"),
        (GOOD.replace("  - {name: b, path: /x/b.onnx}\n", ""), "at least two networks"),
        (GOOD.replace("{csv: /x/d.csv}", "{}"), "exactly one of `csv` and `centers`"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let e = Spec::load(&write(&format!("bad{i}.yaml"), text)).unwrap_err().to_string();
        assert!(e.contains(want), "case {i}: {e}");
    }
}

#[test]
fn paths_are_relative_to_the_spec_and_selections_parse() {
    let p = write("rel.yaml", &GOOD.replace("/x/a.onnx", "nets/a.onnx"));
    let s = Spec::load(&p).unwrap();
    assert_eq!(s.networks[0].path, p.parent().unwrap().join("nets/a.onnx"));
    let sel = twinverify::spec::parse_selection("2..=4").unwrap();
    assert_eq!(sel.indices(10).unwrap(), vec![2, 3, 4]);
    assert!(twinverify::spec::parse_selection("3,x").is_err());
    assert!(twinverify::spec::parse_selection("0..20").unwrap().indices(5).unwrap().len() == 5);
}

#[test]
fn the_bundled_fixture_spec_runs_and_writes_its_csv() {
    let spec = common::fixtures().join("../../specs/twin_mlp.yaml");
    let dir = common::scratch_dir("spec-run");
    let csv = dir.join("results.csv");
    let out = Command::new(env!("CARGO_BIN_EXE_twinverify"))
        .args(["lrom", "--spec"])
        .arg(&spec)
        .arg("--csv")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = twinverify::report::read_csv(&csv).unwrap();
    // an output flag replaces the spec's output block: its JSON is not written
    let mut written: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    written.sort();
    assert_eq!(written, ["results.csv", "results.jsonl", "results.status.json"]);
    std::fs::remove_dir_all(&dir).unwrap();
    // 4 ordered pairs × 2 radii × (correctly classified samples of 20) × 2 other classes
    assert!(!rows.is_empty() && rows.iter().all(|r| r.j != r.label && r.certified_min <= r.attained_min + 1e-9));
    assert!(rows.iter().all(|r| r.certified_max.unwrap() >= r.attained_max.unwrap() - 1e-9));
}

/// `--print-spec` writes the effective spec (flags applied, paths absolute): running it from
/// another folder gives the rows of the run with flags.
#[test]
fn the_printed_spec_repeats_the_run() {
    let spec = common::fixtures().join("../../specs/twin_mlp.yaml");
    let dir = common::scratch_dir("print-spec");
    let lrom = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_twinverify")).arg("lrom").args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let flags = ["--samples", "0..4", "--delta", "0.02", "--pair", "2,1", "--csv"].map(std::ffi::OsStr::new);
    let with_flags = dir.join("flags.csv");
    let printed = lrom(
        &[&["--spec".as_ref(), spec.as_os_str()][..], &flags, &[with_flags.as_os_str(), "--print-spec".as_ref()]]
            .concat(),
    );
    assert!(!with_flags.exists(), "--print-spec runs nothing");
    let nested = dir.join("elsewhere");
    std::fs::create_dir_all(&nested).unwrap();
    let file = nested.join("effective.yaml");
    std::fs::write(&file, printed.replace(with_flags.to_str().unwrap(), dir.join("again.csv").to_str().unwrap()))
        .unwrap();
    lrom(&[&["--spec".as_ref(), spec.as_os_str()][..], &flags, &[with_flags.as_os_str()]].concat());
    lrom(&["--spec".as_ref(), file.as_os_str()]);
    let rows = |p: &std::path::Path| {
        let mut r = twinverify::report::read_csv(p).unwrap();
        r.iter_mut().for_each(|row| row.seconds = 0.0);
        r
    };
    let (a, b) = (rows(&with_flags), rows(&dir.join("again.csv")));
    assert!(!a.is_empty() && a.iter().all(|r| r.delta == 0.02 && r.sample < 4 && r.n1 == "prune50"));
    assert_eq!(a, b);
    std::fs::remove_dir_all(&dir).unwrap();
}
