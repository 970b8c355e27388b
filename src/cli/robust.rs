//! `twinverify robust`: the verified-robustness rate of one network over a batch of samples.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use indicatif::ProgressBar;

use super::args::{parse_domain, SolverArgs};
use crate::analysis::robustness::{check, Robustness};
use crate::bounds::Method;
use crate::data::correctly_classified;
use crate::data::{parse_scale, read_samples};
use crate::error::Result;
use crate::onnx::{self, TractRunner};
use crate::report::median;
use crate::spec::{parse_selection, Selection};

#[derive(Debug, Args)]
pub struct RobustArgs {
    /// The ONNX model.
    pub net: PathBuf,
    /// CSV data file with rows "label,f1,…,fn".
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "1")]
    pub scale: String,
    /// Rows to use: 0..100, 7 or 1,5,9 (default: all).
    #[arg(long, value_parser = parse_selection)]
    pub samples: Option<Selection>,
    /// Radii (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0.01", value_parser = super::args::parse_nonnegative)]
    pub delta: Vec<f64>,
    /// Input domain LOW,HIGH the region is clipped to.
    #[arg(long, value_parser = parse_domain)]
    pub domain: Option<(f64, f64)>,
    /// Neuron bounds feeding the encoding.
    #[arg(long, value_enum, default_value = "lp")]
    pub bounds: Method,
    #[command(flatten)]
    pub solver: SolverArgs,
    /// Certified margins also hold for float32 inference (onnxruntime, tract, PyTorch).
    #[arg(long)]
    pub float_sound: bool,
}

pub fn run(args: RobustArgs) -> Result<()> {
    let model = onnx::load_as(&args.net, args.float_sound)?;
    let runner = TractRunner::new(&model)?;
    let net = &model.network;
    let all = read_samples(&args.data, parse_scale(&args.scale)?)?;
    let rows = match &args.samples {
        Some(s) => s.indices(all.len())?,
        None => (0..all.len()).collect(),
    };
    let solver = args.solver.apply(Default::default())?;
    println!(
        "{:>8} {:>8} {:>10} {:>10} {:>9} {:>9}",
        "delta", "correct", "verified", "falsified", "unknown", "median s"
    );
    for &delta in &args.delta {
        let bar = ProgressBar::new(rows.len() as u64);
        let (mut counts, mut secs) = ([0usize; 3], Vec::new());
        for &i in &rows {
            let s = &all[i];
            bar.inc(1);
            if !correctly_classified(&[net], &s.features, s.label)? {
                continue;
            }
            let t = Instant::now();
            let r =
                check(net, &runner, &s.features, s.label, delta, args.domain, args.bounds, &solver, args.float_sound)?;
            secs.push(t.elapsed().as_secs_f64());
            counts[r as usize] += 1;
        }
        bar.finish_and_clear();
        let n: usize = counts.iter().sum();
        let pct = |k: usize| if n == 0 { 0.0 } else { 100.0 * counts[k] as f64 / n as f64 };
        println!(
            "{delta:>8} {n:>8} {:>9.1}% {:>9.1}% {:>8.1}% {:>9.3}",
            pct(Robustness::Verified as usize),
            pct(Robustness::Falsified as usize),
            pct(Robustness::Unknown as usize),
            median(&mut secs).unwrap_or(0.0)
        );
    }
    Ok(())
}
