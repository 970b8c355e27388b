//! `twinverify boundary`: distance to the decision boundary per sample (paper 004), or with
//! `--reference` the largest radius at which "reference ⇒ network" is established (LROM).

use std::path::{Path, PathBuf};

use clap::Args;
use serde::{Deserialize, Serialize};

use super::args::{streamed_outputs, to_json, BatchArgs, DataArgs, DomainArgs, OutputArgs, SolverArgs};
use super::progress::Progress;
use super::{load, values};
use crate::analysis::boundary::pair::{implication_radius, PairRadius};
use crate::analysis::boundary::{distance, BoundaryConfig, BoundaryResult, Status};
use crate::analysis::lrom::LromConfig;
use crate::error::Result;
use crate::report::units::{self, Header};
use crate::report::{fixed, median};

#[derive(Debug, Args)]
#[command(mut_arg("data", |a| a.required(true)))]
pub struct BoundaryArgs {
    /// The ONNX model (N1 with --reference).
    pub net: PathBuf,
    /// Pair view: the reference network N2; reports the largest radius where N2 ⇒ N1 is established.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    #[command(flatten)]
    pub spec: super::spec_file::SpecArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub clip: DomainArgs,
    /// After the certified-LP bisection, bisect with the exact engine (branch and bound: proved
    /// radii; --exact-engine milp: MILPs, exact by the solver's word).
    #[arg(long)]
    pub exact: bool,
    #[command(flatten)]
    pub exact_engine: super::args::ExactArgs,
    /// Stop when the bracket is this narrow.
    #[arg(long, default_value_t = 1e-3, value_parser = super::args::parse_positive)]
    pub tolerance: f64,
    /// First radius tried (doubled while certified).
    #[arg(long, default_value_t = 0.01, value_parser = super::args::parse_positive)]
    pub start: f64,
    /// Largest radius searched.
    #[arg(long, default_value_t = 1.0, value_parser = super::args::parse_positive)]
    pub max_epsilon: f64,
    /// Neuron bounds under every LP/MILP (lp: tighter, but slow on large balls of large networks).
    #[arg(long, value_enum, default_value = "symbolic")]
    pub bounds: values::Method,
    #[command(flatten)]
    pub solver: SolverArgs,
    #[command(flatten)]
    pub mip: super::args::MipGapArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// One CSV row of the single-network view.
#[derive(Serialize)]
pub(super) struct Row {
    sample: usize,
    label: usize,
    status: Status,
    certified: f64,
    upper: Option<f64>,
    solver: Option<f64>,
    target: Option<usize>,
    probes: usize,
    milp_probes: usize,
    seconds: f64,
    note: Option<String>,
}

/// One CSV row of the pair view.
#[derive(Serialize)]
pub(super) struct PairRow {
    sample: usize,
    label: usize,
    status: Status,
    established: f64,
    margin_negative: Option<f64>,
    violated: Option<f64>,
    probes: usize,
    seconds: f64,
}

/// What the report of a `boundary` batch needs besides its samples.
#[derive(Serialize, Deserialize)]
pub(super) struct Context {
    network: PathBuf,
    reference: Option<PathBuf>,
    /// Samples left out because a network misclassifies them.
    skipped: usize,
    tolerance: f64,
}

impl Context {
    /// The pair view (implication radius) rather than the distance to the boundary.
    pub fn pair_view(&self) -> bool {
        self.reference.is_some()
    }
}

/// A sample's index and its result: one unit.
pub(super) type Unit<T> = (usize, T);

pub fn run(args: BoundaryArgs) -> Result<()> {
    args.output.json.route_text();
    let paths: Vec<_> = std::iter::once(&args.net).chain(&args.reference).collect();
    let models = load::models(&paths, false)?;
    let runners = load::runners(&models)?;
    let nets: Vec<_> = models.iter().map(|m| &m.network).collect();
    let map = args.data.file.map(nets[0], args.clip.domain)?;
    let load::Picked { rows: picked, skipped } = load::pick(map.samples(args.data.read()?)?, &nets, false, usize::MAX)?;
    let search = BoundaryConfig {
        bounds: args.bounds.into(),
        solver: args.solver.apply(args.mip.apply(Default::default()))?,
        exact: args.exact,
        engine: args.exact_engine.settings().0,
        bab: args.exact_engine.settings().1,
        tolerance: args.tolerance,
        max_epsilon: args.max_epsilon,
        start: args.start,
    };
    let keys: Vec<String> = picked.iter().map(|s| format!("sample={}", s.index)).collect();
    let settings = format!("{:?} {:?} {search:?}", args.data, args.clip);
    let files: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).chain([args.data.file.path()?]).collect();
    let cx =
        Context { network: args.net.clone(), reference: args.reference.clone(), skipped, tolerance: args.tolerance };
    let header = Header::new("boundary", units::spec_hash(&settings, &files)?, keys.len(), to_json(&cx)?);
    let (csv, json) = (args.output.csv.as_deref(), args.output.json.json.as_deref());
    if nets.len() == 2 {
        let cfg = LromConfig { bounds: args.bounds.into(), ..Default::default() };
        let mut store = args.batch.open(header, keys, (csv, json, None), |u: &Unit<PairRadius>| vec![pair_row(u)])?;
        let bar = Progress::new(store.todo().len(), "samples");
        store.run(|i| {
            let s = &picked[i];
            let r = implication_radius([nets[0], nets[1]], &runners, &s.features, s.label, &map, &cfg, &search)?;
            bar.inc();
            Ok(((s.index, r), false))
        })?;
        bar.finish();
        return report_pairs(&store.into_units(), &cx, csv, json);
    }
    let mut store = args.batch.open(header, keys, (csv, json, None), |u: &Unit<BoundaryResult>| vec![row(u)])?;
    let bar = Progress::new(store.todo().len(), "samples");
    store.run(|i| {
        let s = &picked[i];
        let mut r = distance(nets[0], &runners[0], &s.features, s.label, &map, &search)?;
        // counterexamples are checked on network inputs and reported as pixel rows
        if let Some(c) = r.counterexample.as_mut() {
            c.input = map.to_pixels(&c.input);
        }
        bar.inc();
        Ok(((s.index, r), false))
    })?;
    bar.finish();
    report_distances(&store.into_units(), &cx, csv, json)
}

pub(super) fn row((i, r): &Unit<BoundaryResult>) -> Row {
    Row {
        sample: *i,
        label: r.label,
        status: r.bracket.status,
        certified: r.bracket.certified,
        upper: r.upper(),
        solver: r.bracket.solver_value,
        target: r.counterexample.as_ref().map(|c| c.target),
        probes: r.probes,
        milp_probes: r.milp_probes,
        seconds: r.seconds,
        note: r.bracket.note.clone(),
    }
}

pub(super) fn pair_row((i, r): &Unit<PairRadius>) -> PairRow {
    PairRow {
        sample: *i,
        label: r.label,
        status: r.bracket.status,
        established: r.bracket.certified,
        margin_negative: r.bracket.attained,
        violated: r.violated,
        probes: r.probes,
        seconds: r.seconds,
    }
}

/// Names the streamed CSV and writes the JSON document (everything) when asked for.
fn write<T: Serialize>(out: &[Unit<T>], cx: &Context, csv: Option<&Path>, json: Option<&Path>) -> Result<()> {
    streamed_outputs(csv, json, || {
        let samples: Vec<_> = out.iter().map(|(i, r)| serde_json::json!({ "sample": i, "result": r })).collect();
        serde_json::json!({ "network": cx.network, "reference": cx.reference, "samples": samples })
    })
}

fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| fixed(v, 5))
}

/// Prints the distances (and their summary) and writes the outputs.
pub(super) fn report_distances(
    out: &[Unit<BoundaryResult>],
    cx: &Context,
    csv: Option<&Path>,
    json: Option<&Path>,
) -> Result<()> {
    crate::say!(
        "certified: proved radius; upper: distance of a checked counterexample; solver: MILP bisection (not certified)"
    );
    crate::say!(
        "{:>6} {:>5} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} {:>8}  note",
        "sample",
        "label",
        "status",
        "certified",
        "upper",
        "solver",
        "target",
        "probes",
        "seconds"
    );
    for (i, r) in out {
        crate::say!(
            "{i:>6} {:>5} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} {:>8.2}  {}",
            r.label,
            format!("{:?}", r.bracket.status).to_lowercase(),
            fixed(r.bracket.certified, 5),
            num(r.upper()),
            num(r.bracket.solver_value),
            r.counterexample.as_ref().map_or("-".into(), |c| c.target.to_string()),
            r.probes,
            r.seconds,
            r.bracket.note.as_deref().unwrap_or("")
        );
    }
    let count = |s: Status| out.iter().filter(|(_, r)| r.bracket.status == s).count();
    let mut certified: Vec<f64> = out.iter().map(|(_, r)| r.bracket.certified).collect();
    let mut seconds: Vec<f64> = out.iter().map(|(_, r)| r.seconds).collect();
    crate::say!(
        "{} samples ({} misclassified skipped): {} proved, {} exact, {} interval (tolerance {}); median certified {}, median {} s",
        out.len(),
        cx.skipped,
        count(Status::Proved),
        count(Status::Exact),
        count(Status::Interval),
        cx.tolerance,
        num(median(&mut certified)),
        num(median(&mut seconds))
    );
    write(out, cx, csv, json)
}

/// Prints the implication radii and writes the outputs.
pub(super) fn report_pairs(
    out: &[Unit<PairRadius>],
    cx: &Context,
    csv: Option<&Path>,
    json: Option<&Path>,
) -> Result<()> {
    crate::say!("established: proved radius of reference ⇒ network; margin-neg: distance of a checked input with LROM < 0; violated: of a checked input where the reference is right and the network wrong");
    crate::say!(
        "{:>6} {:>5} {:>9} {:>11} {:>10} {:>9} {:>6} {:>8}",
        "sample",
        "label",
        "status",
        "established",
        "margin-neg",
        "violated",
        "probes",
        "seconds"
    );
    for (i, r) in out {
        crate::say!(
            "{i:>6} {:>5} {:>9} {:>11} {:>10} {:>9} {:>6} {:>8.2}",
            r.label,
            format!("{:?}", r.bracket.status).to_lowercase(),
            fixed(r.bracket.certified, 5),
            num(r.bracket.attained),
            num(r.violated),
            r.probes,
            r.seconds
        );
    }
    crate::say!("{} samples ({} misclassified by either network skipped)", out.len(), cx.skipped);
    write(out, cx, csv, json)
}
