//! `twinverify robust`: the verified-robustness rate of one network over a batch of samples.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use super::args::{DataArgs, OutputArgs, RegionArgs, SolverArgs};
use super::progress::Progress;
use super::{load, values};
use crate::analysis::robustness::{check, Robustness};
use crate::error::Result;
use crate::onnx::TractRunner;
use crate::report::median;

#[derive(Debug, Args)]
#[command(mut_arg("data", |a| a.required(true)))]
pub struct RobustArgs {
    /// The ONNX model.
    pub net: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub region: RegionArgs,
    /// Neuron bounds feeding the encoding.
    #[arg(long, value_enum, default_value = "lp")]
    pub bounds: values::Method,
    #[command(flatten)]
    pub solver: SolverArgs,
    /// Certified margins also hold for float32 inference (onnxruntime, tract, PyTorch).
    #[arg(long)]
    pub float_sound: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One sample at one radius, as written to `--csv` and `--json`.
#[derive(Serialize)]
struct Row {
    delta: f64,
    sample: usize,
    label: usize,
    result: Robustness,
    seconds: f64,
}

pub fn run(args: RobustArgs) -> Result<()> {
    let models = load::models(&[&args.net], args.float_sound)?;
    let (net, runner) = (&models[0].network, TractRunner::new(&models[0])?);
    let map = args.data.file.map(net, args.region.clip.domain)?;
    let rows = load::pick(map.samples(args.data.read()?)?, &[net], false, usize::MAX)?.rows;
    let solver = args.solver.apply(Default::default())?;
    println!(
        "{:>8} {:>8} {:>10} {:>10} {:>9} {:>9}",
        "delta", "correct", "verified", "falsified", "unknown", "median s"
    );
    let mut written = Vec::new();
    for delta in args.region.deltas() {
        let bar = Progress::new(rows.len(), "samples");
        let (mut counts, mut secs) = ([0usize; 3], Vec::new());
        for s in &rows {
            bar.inc();
            let t = Instant::now();
            let r =
                check(net, &runner, &s.features, s.label, delta, &map, args.bounds.into(), &solver, args.float_sound)?;
            let seconds = t.elapsed().as_secs_f64();
            secs.push(seconds);
            counts[r as usize] += 1;
            written.push(Row { delta, sample: s.index, label: s.label, result: r, seconds });
        }
        bar.finish();
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
    args.output.write(
        || written.iter().collect(),
        || serde_json::json!({ "network": args.net, "domain": args.region.clip.domain, "samples": written }),
    )
}
