//! `twinverify bench`: the LROM benchmark. Runs a paper-faithful baseline and the default fast
//! path on the same regions in one run and prints seconds, the speed ratio and bound differences.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::analysis::lrom::{analyse, LromConfig, RegionResult};
use crate::bounds::Method;
use crate::data::correctly_classified;
use crate::data::{parse_scale, read_samples};
use crate::encode::EncodeOptions;
use crate::error::{Error, Result};
use crate::onnx::{self, TractRunner};
use crate::report::median;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The original network (N1).
    #[arg(long)]
    pub original: PathBuf,
    /// A compact twin (N2); repeat for several.
    #[arg(long, required = true)]
    pub compact: Vec<PathBuf>,
    /// CSV data file with rows "label,f1,…,fn".
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "1/255")]
    pub scale: String,
    /// Number of correctly classified rows (from the top of the file) to run.
    #[arg(long, default_value_t = 20)]
    pub samples: usize,
    #[arg(long, default_value_t = 0.01, value_parser = super::args::parse_nonnegative)]
    pub delta: f64,
}

/// The baseline: LP-tightened bounds, every layer's equality rows, pairs solved one by one.
fn baseline() -> LromConfig {
    LromConfig {
        bounds: Method::Lp,
        encode: EncodeOptions { materialize_affine: true, ..Default::default() },
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

/// Largest amount by which `fast` is looser than `base` over every pair (negative: tighter).
fn looseness(base: &RegionResult, fast: &RegionResult) -> f64 {
    base.pairs
        .iter()
        .zip(&fast.pairs)
        .flat_map(|(b, f)| {
            let max = match (&b.max, &f.max) {
                (Some(bm), Some(fm)) => fm.certified - bm.certified,
                _ => f64::NEG_INFINITY,
            };
            [b.min.certified - f.min.certified, max]
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

pub fn run(args: BenchArgs) -> Result<()> {
    let original = onnx::load(&args.original)?;
    let samples = read_samples(&args.data, parse_scale(&args.scale)?)?;
    let (base_cfg, fast_cfg) = (baseline(), fast());
    println!(
        "LROM benchmark: {} at delta {}, first {} rows both networks classify correctly",
        original.network.name, args.delta, args.samples
    );
    println!("baseline: LP-tightened bounds, full joint LP with every layer's equality rows, each LP built and solved afresh, 18 LP solves per sample in sequence");
    println!("fast:     LP-tightened bounds on substituted LPs, small joint LP (stable affine chains substituted), warm-started re-solves, pairs in parallel\n");
    println!(
        "{:<28} {:>8} {:>12} {:>12} {:>9} {:>14} {:>9}",
        "compact twin", "samples", "baseline s", "fast s", "speed-up", "max looser by", "verdicts"
    );
    for path in &args.compact {
        let compact = onnx::load(path)?;
        original.network.check_compatible(&compact.network)?;
        let nets = [&original.network, &compact.network];
        let runners = [TractRunner::new(&original)?, TractRunner::new(&compact)?];
        let (mut tb, mut tf, mut worst, mut agree, mut n) = (Vec::new(), Vec::new(), f64::NEG_INFINITY, 0, 0);
        for s in &samples {
            if n == args.samples {
                break;
            }
            if !correctly_classified(&nets, &s.features, s.label)? {
                continue;
            }
            let t = Instant::now();
            let b = analyse(nets, &runners, &s.features, s.label, args.delta, Some((0.0, 1.0)), &base_cfg)?;
            tb.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let f = analyse(nets, &runners, &s.features, s.label, args.delta, Some((0.0, 1.0)), &fast_cfg)?;
            tf.push(t.elapsed().as_secs_f64());
            worst = worst.max(looseness(&b, &f));
            agree += (b.verdict == f.verdict) as usize;
            n += 1;
        }
        if n == 0 {
            return Err(Error::Input(format!(
                "no row of {} is classified correctly by both networks",
                args.data.display()
            )));
        }
        let (mb, mf) = (median(&mut tb).unwrap_or(f64::NAN), median(&mut tf).unwrap_or(f64::NAN));
        println!(
            "{:<28} {n:>8} {mb:>12.4} {mf:>12.4} {:>8.1}× {worst:>14.2e} {agree:>6}/{n}",
            compact.network.name,
            mb / mf
        );
    }
    println!("\nseconds are per-sample medians; 'max looser by' is the largest amount any fast bound is looser than the baseline's (≤ 0: never looser)");
    Ok(())
}
