//! `twinverify bench`: the LROM benchmark. Runs a paper-faithful baseline and the default fast
//! path on the same regions in one run and prints seconds, the speed ratio and bound differences.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::args::{DataArgs, OutputArgs, RegionArgs};
use super::progress::Progress;
use super::{load, values};
use crate::analysis::lrom::{analyse, LromConfig, RegionResult, Verdict};
use crate::bounds::Method;
use crate::encode::EncodeOptions;
use crate::error::{Error, Result};
use crate::report::median;

#[derive(Debug, Args)]
#[command(mut_arg("data", |a| a.required(true)), mut_arg("domain", |a| a.default_value("0,1")))]
pub struct BenchArgs {
    /// The original network (N1).
    #[arg(long)]
    pub original: PathBuf,
    /// A compact twin (N2); repeat for several.
    #[arg(long, required = true)]
    pub compact: Vec<PathBuf>,
    #[command(flatten)]
    pub spec: super::spec_file::SpecArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Run this many of the selected rows that both networks classify correctly (the first ones).
    #[arg(long, default_value_t = 20)]
    pub count: usize,
    #[command(flatten)]
    pub region: RegionArgs,
    /// relaxed: the paper-faithful baseline against the fast path; exact: relaxed mode (the
    /// baseline) against exact mode's branch and bound, with the share of objectives it closes.
    #[arg(long, value_enum, default_value = "relaxed")]
    pub mode: values::Mode,
    #[command(flatten)]
    pub exact: super::args::ExactArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

mod exact;

/// One compact twin at one radius, as written to `--csv` and `--json`.
#[derive(Serialize)]
struct Row {
    compact: String,
    delta: f64,
    samples: usize,
    baseline_median_seconds: f64,
    fast_median_seconds: f64,
    baseline_total_seconds: f64,
    fast_total_seconds: f64,
    speedup: f64,
    max_looser_by: f64,
    verdicts_agree: usize,
    /// Regions whose implication is established: baseline, fast.
    established: [usize; 2],
    /// Mean LROM width (certified max − certified min over the class pairs): baseline, fast.
    mean_width: [f64; 2],
}

/// The baseline: LP-tightened bounds, every layer's equality rows, pairs solved one by one.
fn baseline() -> LromConfig {
    LromConfig {
        bounds: Method::Lp,
        encode: EncodeOptions { materialize_affine: true, uncoupled: true, ..Default::default() },
        independent: false,
        parallel: false,
        warm_start: false,
        ..Default::default()
    }
}

/// The tool's default fast path (as `twinverify lrom` runs it, without the independent baseline).
fn fast() -> LromConfig {
    LromConfig { independent: false, ..Default::default() }
}

/// The mean certified LROM width over a region's class pairs.
fn mean_width(r: &RegionResult) -> f64 {
    let widths: Vec<f64> = r.widths().collect();
    widths.iter().sum::<f64>() / widths.len().max(1) as f64
}

/// Largest amount by which `fast` is looser than `base` over every pair (negative: tighter).
fn looseness(base: &RegionResult, fast: &RegionResult) -> f64 {
    base.pairs
        .iter()
        .zip(&fast.pairs)
        .flat_map(|(b, f)| {
            let max = match (&b.max, &f.max) {
                (Some(bm), Some(fm)) => fm.certified() - bm.certified(),
                _ => f64::NEG_INFINITY,
            };
            [b.min.certified() - f.min.certified(), max]
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

pub fn run(args: BenchArgs) -> Result<()> {
    args.output.json.route_text();
    let paths: Vec<_> = std::iter::once(&args.original).chain(&args.compact).collect();
    let models = load::models(&paths, false)?;
    let (original, all_runners) = (&models[0], load::runners(&models)?);
    let map = args.data.file.map(&original.network, args.region.clip.domain)?;
    let samples = map.samples(args.data.read()?)?;
    let deltas = args.region.deltas();
    let settings = format!("{:?} {:?} {}", args.data, args.region, args.count);
    let files: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).chain([args.data.file.path()?]).collect();
    crate::report::set_spec_hash(&crate::report::units::spec_hash(&settings, &files)?);
    if args.mode == values::Mode::Exact {
        return exact::run(&args, &models, &all_runners, &map, &samples, &deltas);
    }
    let (base_cfg, fast_cfg) = (baseline(), fast());
    crate::say!(
        "LROM benchmark: {} at delta {deltas:?}, first {} selected rows both networks classify correctly",
        original.network.name,
        args.count
    );
    crate::say!("baseline: LP-tightened bounds, full joint LP with every layer's equality rows, each LP built and solved afresh, 18 LP solves per sample in sequence");
    crate::say!("fast:     LP-tightened bounds on substituted LPs, small joint LP (stable affine chains substituted, twins coupled at their ReLU pairs), warm-started re-solves, pairs in parallel\n");
    crate::say!(
        "{:<28} {:>8} {:>8} {:>12} {:>12} {:>9} {:>14} {:>9} {:>12} {:>17}",
        "compact twin",
        "delta",
        "samples",
        "baseline s",
        "fast s",
        "speed-up",
        "max looser by",
        "verdicts",
        "established",
        "mean width"
    );
    let mut rows = Vec::new();
    for (k, compact) in models.iter().enumerate().skip(1) {
        let nets = [&original.network, &compact.network];
        let runners = [all_runners[0].clone(), all_runners[k].clone()];
        let picked = load::pick(samples.iter().cloned(), &nets, false, args.count)?.rows;
        if picked.is_empty() {
            return Err(Error::Input("no selected row is classified correctly by both networks".into()));
        }
        for &delta in &deltas {
            let (mut tb, mut tf, mut worst, mut agree) = (Vec::new(), Vec::new(), f64::NEG_INFINITY, 0);
            let (mut established, mut width) = ([0; 2], [0.0; 2]);
            let bar = Progress::new(picked.len(), "samples");
            bar.set_message(format!("{} δ={delta}", compact.network.name));
            for s in &picked {
                let t = Instant::now();
                let b = analyse(nets, &runners, &s.features, s.label, delta, &map, &base_cfg)?;
                tb.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                let f = analyse(nets, &runners, &s.features, s.label, delta, &map, &fast_cfg)?;
                tf.push(t.elapsed().as_secs_f64());
                worst = worst.max(looseness(&b, &f));
                agree += (b.verdict == f.verdict) as usize;
                for (k, r) in [&b, &f].into_iter().enumerate() {
                    established[k] += (r.verdict == Verdict::Established) as usize;
                    width[k] += mean_width(r) / picked.len() as f64;
                }
                bar.inc();
            }
            bar.finish();
            let (sb, sf) = (tb.iter().sum::<f64>(), tf.iter().sum::<f64>());
            let (mb, mf) = (median(&mut tb).unwrap_or(f64::NAN), median(&mut tf).unwrap_or(f64::NAN));
            let n = picked.len();
            crate::say!(
                "{:<28} {delta:>8} {n:>8} {mb:>12.4} {mf:>12.4} {:>8.1}× {worst:>14.2e} {agree:>6}/{n} {:>12} {:>17}",
                compact.network.name,
                mb / mf,
                format!("{} / {}", established[0], established[1]),
                format!("{:.4} / {:.4}", width[0], width[1])
            );
            rows.push(Row {
                compact: compact.network.name.clone(),
                delta,
                samples: n,
                baseline_median_seconds: mb,
                fast_median_seconds: mf,
                baseline_total_seconds: sb,
                fast_total_seconds: sf,
                speedup: mb / mf,
                max_looser_by: worst,
                verdicts_agree: agree,
                established,
                mean_width: width,
            });
        }
    }
    crate::say!("\nseconds are per-sample medians; 'max looser by' is the largest amount any fast bound is looser than the baseline's (≤ 0: never looser); 'established' and 'mean width' (of the certified LROM range): baseline / fast");
    args.output
        .write(|| rows.iter().collect(), || serde_json::json!({ "original": original.network.name, "rows": rows }))
}
