//! `twinverify plot`: implication percentages from a small hand-written results CSV with known
//! answers, the SVG and PNG files the binary writes, and clear errors for bad input.

use std::process::Command;

use crate::common::{fixture, scratch_dir};
use twinverify::report::plot::{implication_figure, Share, VariantBars};
use twinverify::report::read_csv;

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_twinverify")).args(args).output().expect("binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// A fresh scratch directory for one test.
fn results() -> String {
    fixture("results_small.csv").to_str().unwrap().to_string()
}

/// The text content of every `<text>` element of an SVG document.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim().to_string()))
        .collect()
}

fn bars(variant: &str, compact: Option<(usize, usize)>, original: Option<(usize, usize)>) -> VariantBars {
    let share = |s: Option<(usize, usize)>| s.map(|(established, samples)| Share { established, samples });
    VariantBars {
        variant: variant.into(),
        compact_implies_original: share(compact),
        original_implies_compact: share(original),
    }
}

#[test]
fn percentages_of_the_small_results_are_the_known_ones() {
    let fig = implication_figure(&read_csv(&fixture("results_small.csv")).unwrap(), None, None).unwrap();
    assert_eq!(fig.original, "original", "in three pairs; prune50 and quant8 are in two");
    assert_eq!(fig.facets.len(), 2);
    assert_eq!(fig.facets[0].delta, 0.01);
    assert_eq!(
        fig.facets[0].bars,
        [
            // prune50 ⇒ original: explicit on samples 0 (refuted) and 1 (established), which override
            // the maxima (which disagree on purpose); derived from max ≤ 0 on 2 (yes) and 3 (0.1: no)
            bars("prune50", Some((2, 4)), Some((3, 4))),
            // only (quant8, original) regions: the maxima give quant8 ⇒ original on samples 0 and 1
            // (max exactly 0 counts); the verdicts give original ⇒ quant8 on sample 0 only
            bars("quant8", Some((2, 5)), Some((1, 5))),
            // no maximum: the other direction is undecided
            bars("tiny", Some((1, 2)), None),
        ]
    );
    assert_eq!(fig.facets[1].delta, 0.05);
    assert_eq!(
        fig.facets[1].bars,
        [bars("prune50", Some((2, 2)), Some((0, 2))), bars("quant8", None, None), bars("tiny", None, None)]
    );
}

#[test]
fn original_and_delta_options_pick_the_variants_and_the_facet() {
    let rows = read_csv(&fixture("results_small.csv")).unwrap();
    let fig = implication_figure(&rows, Some("quant8"), Some(0.01)).unwrap();
    assert_eq!(fig.facets.len(), 1);
    // seen from quant8 the original's bars swap: 40% and 20% as above, mirrored
    assert_eq!(fig.facets[0].bars, [bars("prune50", None, Some((1, 1))), bars("original", Some((1, 5)), Some((2, 5)))]);
    let fig = implication_figure(&rows, None, Some(0.05)).unwrap();
    assert_eq!(fig.facets.len(), 1);
    assert_eq!(fig.facets[0].bars[0], bars("prune50", Some((2, 2)), Some((0, 2))));
}

#[test]
fn the_binary_writes_an_svg_with_the_variants_and_the_percentages() {
    let out = scratch_dir("plot-svg").join("sub/chart.svg");
    let (ok, stdout, err) = run(&["plot", &results(), "--out", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(stdout.contains("prune50") && stdout.contains("40.0% (2/5)"), "{stdout}");
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(svg.trim_start().starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    let texts = svg_texts(&svg);
    let count = |t: &str| texts.iter().filter(|x| *x == t).count();
    // each variant is named once per facet
    for name in ["prune50", "quant8", "tiny"] {
        assert_eq!(count(name), 2, "{name} in {texts:?}");
    }
    for text in ["compact ⇒ original", "original ⇒ compact", "δ = 0.01, n = 2–5", "δ = 0.05, n = 2"] {
        assert_eq!(count(text), 1, "{text} in {texts:?}");
    }
    // value labels: 50% twice (prune50 and tiny at 0.01), n/a for the five undecided bars
    for (value, times) in [("50%", 2), ("75%", 1), ("40%", 1), ("20%", 1), ("100%", 1), ("0%", 1), ("n/a", 5)] {
        assert_eq!(count(value), times, "{value} in {texts:?}");
    }
    // one facet with --delta
    let (ok, _, err) = run(&["plot", &results(), "--out", out.to_str().unwrap(), "--delta", "0.05"]);
    assert!(ok, "{err}");
    let texts = svg_texts(&std::fs::read_to_string(&out).unwrap());
    assert!(texts.contains(&"δ = 0.05, n = 2".to_string()) && !texts.iter().any(|t| t.starts_with("δ = 0.01")));
}

#[test]
fn the_binary_writes_a_png_with_both_bar_colours() {
    let out = scratch_dir("plot-png").join("chart.png");
    let (ok, _, err) = run(&["plot", &results(), "--out", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut rgb).unwrap();
    assert!(info.width > 600 && info.height > 400, "{}×{}", info.width, info.height);
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let has = |c: [u8; 3]| rgb.chunks(3).filter(|p| *p == c).count();
    assert!(has([0x44, 0x77, 0xAA]) > 1000 && has([0xEE, 0x77, 0x33]) > 1000, "both bar colours are drawn");
    assert!(has([0xFF, 0xFF, 0xFF]) > rgb.len() / 6, "white background");
}

#[test]
fn bad_input_is_one_clear_error_and_a_non_zero_exit() {
    let dir = scratch_dir("plot-errors");
    let svg = dir.join("chart.svg");
    let svg = svg.to_str().unwrap();
    let expect_error = |args: &[&str], needle: &str| {
        let (ok, _, err) = run(args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.starts_with("error: ") && err.contains(needle), "{args:?}: {err}");
    };
    expect_error(&["plot", "/nonexistent/results.csv", "--out", svg], "/nonexistent/results.csv");
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "sample,label,delta\n0,1,not-a-number\n").unwrap();
    expect_error(&["plot", bad.to_str().unwrap(), "--out", svg], "bad.csv");
    let empty = dir.join("empty.csv");
    std::fs::write(&empty, std::fs::read_to_string(fixture("results_small.csv")).unwrap().lines().next().unwrap())
        .unwrap();
    expect_error(&["plot", empty.to_str().unwrap(), "--out", svg], "no pair");
    expect_error(&["plot", &results(), "--out", svg, "--original", "vgg16"], "unknown network 'vgg16'");
    expect_error(&["plot", &results(), "--out", svg, "--delta", "0.2"], "0.01, 0.05");
    expect_error(&["plot", &results(), "--out", dir.join("chart.jpg").to_str().unwrap()], ".svg or .png");
    expect_error(&["plot", &results(), "--out", svg, "--font", "/nonexistent/font.ttf"], "fonts-dejavu-core");
    expect_error(&["plot", &results(), "--out", svg, "--font", fixture("results_small.csv").to_str().unwrap()], "font");
    assert!(!dir.join("chart.svg").exists(), "no file is written on error");
}

/// On a real `lrom` run with both directions analysed, the "max ≤ 0" rule on one direction's regions
/// reproduces the other direction's explicit verdicts.
#[test]
fn the_maximum_rule_agrees_with_explicit_verdicts_on_a_real_run() {
    let dir = scratch_dir("plot-lrom");
    let csv = dir.join("both.csv");
    let (net, data) = (fixture("twin_mlp.onnx"), fixture("twin_mlp_data.csv"));
    let (ok, _, err) = run(&[
        "lrom",
        net.to_str().unwrap(),
        fixture("twin_mlp_quant8.onnx").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--samples",
        "0..20",
        "--delta",
        "0.01,0.05",
        "--domain",
        "0,1",
        "--analysis",
        "lrom",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let rows = read_csv(&csv).unwrap();
    let both = implication_figure(&rows, Some("twin_mlp"), None).unwrap();
    let one: Vec<_> = rows.into_iter().filter(|r| r.n1 == "twin_mlp_quant8").collect();
    let derived = implication_figure(&one, Some("twin_mlp"), None).unwrap();
    assert_eq!(both, derived);
    let shares: Vec<_> = both
        .facets
        .iter()
        .flat_map(|f| &f.bars)
        .flat_map(|b| [b.compact_implies_original, b.original_implies_compact])
        .collect();
    assert!(shares.iter().all(|s| s.is_some_and(|s| s.samples > 0)), "{shares:?}");
    assert!(shares.iter().any(|s| s.is_some_and(|s| s.established > 0)), "something is established: {shares:?}");
}
