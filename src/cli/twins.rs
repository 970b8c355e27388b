//! `twinverify sparsify` and `twinverify compress`: write a twin of a network (paper 002's
//! verification-friendly network, or a pruned / quantised copy) and report how it compares.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use super::args::{FileArgs, JsonArgs, RegionArgs};
use super::{load, values};
use crate::bounds::InputMap;
use crate::data::Sample;
use crate::error::{Error, Result};
use crate::onnx;
use crate::solve::SolverConfig;
use crate::twins::compress::{self, Compression};
use crate::twins::sparsify::{self, LayerReport, SparsifyOptions};
use crate::twins::summary::{self, Accuracy, NodeNonzeros, TractCheck, Unstable};

/// What the report measures on both networks.
#[derive(Debug, Args)]
pub struct ReportArgs {
    // unstable ReLUs are counted in the L∞ regions around the rows of --data
    #[command(flatten)]
    pub region: RegionArgs,
    /// Average the unstable ReLU count over this many rows that the original classifies correctly.
    #[arg(long, default_value_t = 10)]
    pub unstable_rows: usize,
    #[command(flatten)]
    pub json: JsonArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("data", |a| a.required(true)))]
pub struct SparsifyArgs {
    /// The ONNX model (dense layers and ReLUs).
    pub net: PathBuf,
    // validation rows: every prediction and ReLU phase on them is kept
    #[command(flatten)]
    pub data: FileArgs,
    /// Use only the first N rows of --data for the LPs (the rest are held out for the report).
    #[arg(long)]
    pub rows: Option<usize>,
    /// Relative freedom of each optimised layer's outputs, |x̃ − x| ≤ ε·|x| (0 ≤ ε < 1).
    #[arg(long, default_value_t = 0.0, value_parser = super::args::parse_nonnegative)]
    pub epsilon: f64,
    /// Where the verification-friendly network is written.
    #[arg(long)]
    pub out: PathBuf,
    /// Phase row of an inactive ReLU: the paper's "≤ 0", or "keep" (never closer to the boundary).
    #[arg(long, value_enum, default_value = "keep")]
    pub inactive: values::InactiveRule,
    /// Time limit per solve, in seconds.
    #[arg(long, value_parser = super::args::parse_positive)]
    pub time_limit: Option<f64>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Debug, Args)]
#[group(id = "how", required = true, multiple = false, args = ["prune", "quantize"])]
pub struct CompressArgs {
    /// The ONNX model.
    pub net: PathBuf,
    /// Zero this fraction (0..1) of every weight tensor, smallest magnitudes first.
    #[arg(long, value_parser = super::args::parse_nonnegative)]
    pub prune: Option<f64>,
    /// Quantise every weight tensor per tensor, symmetrically, and store it back as float32.
    #[arg(long, value_enum)]
    pub quantize: Option<values::Precision>,
    /// Integer rounding rule: FANC's truncation on 2^(b−1) levels, or round-to-nearest on 2^(b−1)−1.
    #[arg(long, value_enum, default_value = "fanc")]
    pub rule: values::QuantRule,
    /// Where the compressed network is written.
    #[arg(long)]
    pub out: PathBuf,
    // labelled rows for accuracy and unstable-ReLU counts
    #[command(flatten)]
    pub data: FileArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// Everything the report prints.
struct Report {
    nonzeros: Vec<NodeNonzeros>,
    accuracy: Option<Accuracy>,
    /// Accuracy on the rows of --data after the first --rows (not seen by the LPs).
    held_out: Option<Accuracy>,
    unstable: Vec<Unstable>,
    unstable_held_out: Vec<Unstable>,
    tract: Option<TractCheck>,
}

fn report(
    original: &Path,
    twin: &Path,
    samples: Option<&[Sample]>,
    held_out: &[Sample],
    args: &ReportArgs,
    map: &InputMap,
) -> Result<Report> {
    let models = load::models(&[original, twin], false)?;
    let (a, b) = (&models[0], &models[1]);
    let mut r = Report {
        nonzeros: summary::nonzeros(original, twin)?,
        accuracy: None,
        held_out: None,
        unstable: vec![],
        unstable_held_out: vec![],
        tract: None,
    };
    let deltas = args.region.deltas();
    let unstable = |rows| summary::unstable(&a.network, &b.network, rows, &deltas, args.unstable_rows, map);
    if !held_out.is_empty() {
        r.held_out = Some(summary::accuracy(&a.network, &b.network, held_out)?);
        r.unstable_held_out = unstable(held_out)?;
    }
    if let Some(samples) = samples {
        r.accuracy = Some(summary::accuracy(&a.network, &b.network, samples)?);
        let inputs: Vec<Vec<f64>> = samples.iter().map(|s| s.features.clone()).collect();
        r.tract = Some(summary::tract_check(b, &inputs)?);
        r.unstable = unstable(samples)?;
    }
    Ok(r)
}

/// The rows of a data file as network inputs, split after the first `rows` (all rows when None).
fn samples(data: &FileArgs, map: &InputMap, rows: Option<usize>) -> Result<(Vec<Sample>, Vec<Sample>)> {
    let mut s = map.samples(data.read()?)?;
    let n = rows.unwrap_or(s.len());
    if n == 0 {
        return Err(Error::Input("--rows must be at least 1".into()));
    }
    let rest = s.split_off(n.min(s.len()));
    Ok((s, rest))
}

pub fn run_sparsify(args: SparsifyArgs) -> Result<()> {
    let model = onnx::load(&args.net)?;
    let map = args.data.map(&model.network, args.report.region.clip.domain)?;
    let (rows, held_out) = samples(&args.data, &map, args.rows)?;
    let inputs: Vec<Vec<f64>> = rows.iter().map(|s| s.features.clone()).collect();
    let opts = SparsifyOptions {
        epsilon: args.epsilon,
        inactive: args.inactive.into(),
        solver: SolverConfig { time_limit: args.time_limit, ..Default::default() },
        ..Default::default()
    };
    let done = sparsify::sparsify(&model, &inputs, &opts, |r| {
        log::info!("layer {:>3} ({}): {} LPs, {:.1} s", r.layer, r.origin.join(", "), r.lps, r.seconds);
    })?;
    sparsify::write(&model, &done.network, &args.out)?;
    let r = report(&args.net, &args.out, Some(&rows), &held_out, &args.report, &map)?;
    let method = json!({"sparsify": {"epsilon": args.epsilon, "inactive": opts.inactive, "rows": rows.len(), "margin": opts.margin,
        "zero_tolerance": opts.zero_tolerance}});
    print_report(&args.net, &args.out, method, &r, Some(&done.layers), &args.report.json)
}

pub fn run_compress(args: CompressArgs) -> Result<()> {
    let how = match (args.prune, args.quantize) {
        (Some(f), None) => Compression::Prune(f),
        (None, Some(q)) => Compression::Quantize(q.into(), args.rule.into()),
        _ => return Err(Error::Input("give exactly one of --prune and --quantize".into())),
    };
    let map = args.data.map(&onnx::load(&args.net)?.network, args.report.region.clip.domain)?;
    let rows = args.data.data.is_some().then(|| samples(&args.data, &map, None)).transpose()?.map(|s| s.0);
    compress::compress(&args.net, &args.out, how)?;
    let r = report(&args.net, &args.out, rows.as_deref(), &[], &args.report, &map)?;
    let method = match how {
        Compression::Prune(f) => json!({"prune": f}),
        Compression::Quantize(q, rule) => json!({"quantize": q, "rule": rule}),
    };
    print_report(&args.net, &args.out, method, &r, None, &args.report.json)
}

fn print_report(
    net: &Path,
    out: &Path,
    method: serde_json::Value,
    r: &Report,
    layers: Option<&[LayerReport]>,
    json: &JsonArgs,
) -> Result<()> {
    json.route_text();
    if json.json.is_some() {
        let doc = json!({"network": net, "twin": out, "method": method, "nonzeros": r.nonzeros,
            "accuracy": r.accuracy, "held_out_accuracy": r.held_out, "unstable_relus": r.unstable,
            "unstable_relus_held_out": r.unstable_held_out, "tract": r.tract, "sparsify_layers": layers});
        json.emit(|| doc)?;
    }
    crate::say!("{} → {}   {method}", net.display(), out.display());
    if let Some(layers) = layers {
        print_layers(layers);
    }
    print_measures(r);
    Ok(())
}

/// What sparsify did layer by layer.
fn print_layers(layers: &[LayerReport]) {
    crate::say!(
        "{:>5} {:<24} {:>6} {:>7} {:>9} {:>7} {:>8}  note",
        "layer",
        "from",
        "LPs",
        "failed",
        "coupling",
        "phases",
        "seconds"
    );
    for l in layers {
        crate::say!(
            "{:>5} {:<24} {:>6} {:>7} {:>9} {:>7} {:>8.1}  {}",
            l.layer,
            l.origin.join("+"),
            l.lps,
            l.failed_lps,
            l.coupling_rows,
            l.phase_changes,
            l.seconds,
            l.note.as_deref().unwrap_or(if l.sparsified { "sparsified" } else { "" })
        );
    }
}

/// Non-zeros per node, accuracy, tract's check and unstable ReLUs of both networks.
fn print_measures(r: &Report) {
    crate::say!(
        "{:<16} {:<14} {:>9} {:>12} {:>12} {:>12}",
        "node",
        "tensor",
        "weights",
        "nnz before",
        "nnz after",
        "bias nnz"
    );
    for n in &r.nonzeros {
        crate::say!(
            "{:<16} {:<14} {:>9} {:>12} {:>12} {:>6} → {:<4}",
            n.node,
            n.tensor,
            n.size,
            n.original,
            n.twin,
            n.bias_original,
            n.bias_twin
        );
    }
    let (a, b): (usize, usize) = (r.nonzeros.iter().map(|n| n.original).sum(), r.nonzeros.iter().map(|n| n.twin).sum());
    crate::say!(
        "{:<16} {:<14} {:>9} {:>12} {:>12}",
        "total",
        "",
        r.nonzeros.iter().map(|n| n.size).sum::<usize>(),
        a,
        b
    );
    for (acc, what) in [(&r.accuracy, "rows"), (&r.held_out, "held-out rows")] {
        let Some(acc) = acc else { continue };
        let pct = |k: usize| 100.0 * k as f64 / acc.rows.max(1) as f64;
        crate::say!(
            "accuracy on {} {what}: original {} ({:.1}%), twin {} ({:.1}%); same prediction on {}",
            acc.rows,
            acc.original_correct,
            pct(acc.original_correct),
            acc.twin_correct,
            pct(acc.twin_correct),
            acc.agree
        );
    }
    if let Some(t) = &r.tract {
        crate::say!(
            "tract on the written twin: same prediction as the IR on {}/{} rows, max |IR − tract| {:.2e}",
            t.same_predictions,
            t.rows,
            t.max_abs_diff
        );
    }
    let lists = [(&r.unstable, ""), (&r.unstable_held_out, " held-out")];
    for (u, what) in lists.iter().flat_map(|(l, w)| l.iter().map(move |u| (u, w))) {
        crate::say!(
            "unstable ReLUs at δ = {} (symbolic, mean over {}{what} rows): original {:.2}, twin {:.2}",
            u.delta,
            u.rows.len(),
            u.original,
            u.twin
        );
    }
}
