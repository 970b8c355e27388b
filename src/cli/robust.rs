//! `twinverify robust`: the verified-robustness rate of one network over a batch of samples.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::args::{streamed_outputs, to_json, BatchArgs, DataArgs, OutputArgs, RegionArgs, SolverArgs};
use super::progress::Progress;
use super::{load, values};
use crate::analysis::robustness::{check, Robustness};
use crate::data::Sample;
use crate::error::Result;
use crate::onnx::TractRunner;
use crate::report::median;
use crate::report::units::{self, Header};

#[derive(Debug, Args)]
#[command(mut_arg("data", |a| a.required(true)))]
pub struct RobustArgs {
    /// The ONNX model.
    pub net: PathBuf,
    #[command(flatten)]
    pub spec: super::spec_file::SpecArgs,
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
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// One sample at one radius: a unit of the batch and a row of `--csv`.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct Row {
    delta: f64,
    sample: usize,
    label: usize,
    result: Robustness,
    seconds: f64,
}

/// What the report of a `robust` batch needs besides its rows.
#[derive(Serialize, Deserialize)]
pub(super) struct Context {
    network: PathBuf,
    domain: Option<(f64, f64)>,
    deltas: Vec<f64>,
}

pub fn run(args: RobustArgs) -> Result<()> {
    args.output.json.route_text();
    let models = load::models(&[&args.net], args.float_sound)?;
    let (net, runner) = (&models[0].network, TractRunner::new(&models[0])?);
    let map = args.data.file.map(net, args.region.clip.domain)?;
    let rows = load::pick(map.samples(args.data.read()?)?, &[net], false, usize::MAX)?.rows;
    let solver = args.solver.apply(Default::default())?;
    let deltas = args.region.deltas();
    let units: Vec<(f64, &Sample)> = deltas.iter().flat_map(|&d| rows.iter().map(move |s| (d, s))).collect();
    let keys = units.iter().map(|(d, s)| format!("delta={d} sample={}", s.index)).collect();
    let settings = format!("{:?} {:?} {:?} {:?} {}", args.data, args.region, args.bounds, solver, args.float_sound);
    let hash = units::spec_hash(&settings, &[&args.net, args.data.file.path()?])?;
    let cx = Context { network: args.net.clone(), domain: args.region.clip.domain, deltas };
    let header = Header::new("robust", hash, units.len(), to_json(&cx)?);
    let out = &args.output;
    let mut store =
        args.batch
            .open(header, keys, (out.csv.as_deref(), out.json.json.as_deref(), None), |r: &Row| vec![r.clone()])?;
    let bar = Progress::new(store.todo().len(), "samples");
    store.run(|i| {
        let (delta, s) = units[i];
        bar.inc();
        let t = Instant::now();
        let r = check(net, &runner, &s.features, s.label, delta, &map, args.bounds.into(), &solver, args.float_sound)?;
        let row = Row { delta, sample: s.index, label: s.label, result: r, seconds: t.elapsed().as_secs_f64() };
        Ok((row, false))
    })?;
    bar.finish();
    report(&store.into_units(), &cx, out.csv.as_deref(), out.json.json.as_deref())
}

/// Prints the rates per radius and writes the JSON document; the CSV, already streamed, is named.
pub(super) fn report(rows: &[Row], cx: &Context, csv: Option<&Path>, json: Option<&Path>) -> Result<()> {
    crate::say!(
        "{:>8} {:>8} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "delta",
        "correct",
        "verified",
        "falsified",
        "unknown",
        "median s",
        "total s"
    );
    for &delta in &cx.deltas {
        let at: Vec<&Row> = rows.iter().filter(|r| r.delta == delta).collect();
        let n = at.len();
        let pct = |k: Robustness| {
            if n == 0 {
                0.0
            } else {
                100.0 * at.iter().filter(|r| r.result == k).count() as f64 / n as f64
            }
        };
        let mut secs: Vec<f64> = at.iter().map(|r| r.seconds).collect();
        crate::say!(
            "{delta:>8} {n:>8} {:>9.1}% {:>9.1}% {:>8.1}% {:>9.3} {:>9.1}",
            pct(Robustness::Verified),
            pct(Robustness::Falsified),
            pct(Robustness::Unknown),
            median(&mut secs).unwrap_or(0.0),
            secs.iter().sum::<f64>()
        );
    }
    streamed_outputs(csv, json, || serde_json::json!({ "network": cx.network, "domain": cx.domain, "samples": rows }))
}
