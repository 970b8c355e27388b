//! `twinverify lrom`: LROM bounds, implication verdicts and the implication matrix over a batch
//! of samples, from a YAML spec or from flags for the quick case.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use clap::Args;

use super::args::{streamed_outputs, to_json, BatchArgs, DataArgs, OutputArgs, RegionArgs, SolverArgs};
use super::progress::Progress;
use super::spec_file::SpecArgs;
use super::{load, values};
use crate::analysis::batch::{Batch, Outcome};
use crate::analysis::lrom::LromConfig;
use crate::encode::EncodeOptions;
use crate::error::{Error, Result};
use crate::report;
use crate::report::units::{self, Header};
use crate::spec::{AnalysisKind, ClassPairs, NetworkEntry, OneOrMany, OutputSpec, Scale, Spec};

#[derive(Debug, Args)]
pub struct LromArgs {
    /// The networks (N1 N2 …) when no --spec is given; every ordered pair is analysed unless
    /// --pair is given.
    #[arg(conflicts_with = "spec")]
    pub nets: Vec<PathBuf>,
    #[command(flatten)]
    pub spec: SpecArgs,
    /// Analyse only the pair N1,N2 given by position (1-based), e.g. --pair 1,2 (repeatable).
    #[arg(long, value_parser = parse_pair)]
    pub pair: Vec<(usize, usize)>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub region: RegionArgs,
    /// What to compute.
    #[arg(long, value_enum)]
    pub analysis: Option<values::AnalysisKind>,
    /// Relaxed (LP) or exact (branch and bound on ReLU phases; the MILP with --exact-engine milp).
    #[arg(long, value_enum)]
    pub mode: Option<values::Mode>,
    /// Neuron bounds feeding the encoding.
    #[arg(long, value_enum)]
    pub bounds: Option<values::Method>,
    /// Every ordered class pair instead of (label, j).
    #[arg(long)]
    pub all_pairs: bool,
    /// Analyse misclassified samples too.
    #[arg(long)]
    pub include_misclassified: bool,
    /// Symbolic bounds only: no LP/MILP solve.
    #[arg(long)]
    pub no_solve: bool,
    /// Skip the independent baseline (each network bounded on its own).
    #[arg(long)]
    pub no_independent: bool,
    /// Also minimise N1's margin subject to N2's margin ≥ 0.
    #[arg(long)]
    pub implication_only: bool,
    /// Paper-faithful encoding: every affine output gets a variable and an equality row.
    #[arg(long)]
    pub materialize: bool,
    /// The paper's joint LP: the two networks meet only at their shared input. By default, twins
    /// of one layer structure that share no layer are also coupled at every ReLU pair by their
    /// layer-by-layer difference bounds (tighter LROM bounds).
    #[arg(long)]
    pub uncoupled: bool,
    /// Certified bounds also hold for float32 inference (onnxruntime, tract, PyTorch).
    #[arg(long)]
    pub float_sound: bool,
    /// Implication is established when every certified LROM minimum is ≥ this.
    #[arg(long, value_parser = super::args::parse_finite)]
    pub threshold: Option<f64>,
    #[command(flatten)]
    pub solver: SolverArgs,
    #[command(flatten)]
    pub mip: super::args::MipGapArgs,
    #[command(flatten)]
    pub exact: super::args::ExactArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
}

fn parse_pair(s: &str) -> std::result::Result<(usize, usize), String> {
    let (a, b) = s.split_once(',').ok_or("write a pair as N1,N2 (1-based positions)")?;
    let p = |t: &str| t.trim().parse::<usize>().ok().filter(|&v| v > 0).ok_or(format!("'{t}' is not a position ≥ 1"));
    Ok((p(a)? - 1, p(b)? - 1))
}

/// The spec from the file, or one built from the flags; flags override the file.
fn spec(args: &LromArgs) -> Result<Spec> {
    let mut spec = match &args.spec.spec {
        Some(path) => match super::spec_file::command_of(path)? {
            "lrom" => Spec::read(path)?,
            other => {
                let path = path.display();
                return Err(Error::Input(format!("{path} is a spec of {other}: run it with `twinverify run {path}`")));
            }
        },
        None => {
            if args.nets.len() < 2 {
                return Err(Error::Input("give at least two networks, or --spec FILE".into()));
            }
            let data =
                args.data.file.data.clone().ok_or_else(|| Error::Input("give --data CSV (or use --spec)".into()))?;
            let networks = args
                .nets
                .iter()
                .map(|p| NetworkEntry {
                    name: p.file_stem().map_or("net".into(), |s| s.to_string_lossy().into()),
                    path: p.clone(),
                })
                .collect();
            Spec::new(networks, data)
        }
    };
    if let Some(s) = args.data.file.scale {
        spec.data.scale = Some(Scale::Number(s));
    }
    let file = &args.data.file;
    spec.data.mean = file.mean.clone().map(OneOrMany::Many).or(spec.data.mean);
    spec.data.std = file.std.clone().map(OneOrMany::Many).or(spec.data.std);
    spec.data.layout = file.layout.unwrap_or(spec.data.layout);
    if let Some(s) = &args.data.samples {
        spec.samples = Some(s.clone());
    }
    if !args.region.delta.is_empty() {
        spec.delta = OneOrMany::Many(args.region.delta.clone());
    }
    if let Some((a, b)) = args.region.clip.domain {
        spec.domain = Some([a, b]);
    }
    spec.analysis = args.analysis.map_or(spec.analysis, Into::into);
    spec.mode = args.mode.map_or(spec.mode, Into::into);
    spec.bounds = args.bounds.map_or(spec.bounds, Into::into);
    spec.threshold = args.threshold.unwrap_or(spec.threshold);
    spec.include_misclassified |= args.include_misclassified;
    spec.implication_only |= args.implication_only;
    spec.solve &= !args.no_solve;
    spec.float_sound |= args.float_sound;
    if args.no_independent {
        spec.independent = Some(false);
    }
    if args.all_pairs {
        spec.class_pairs = ClassPairs::All;
    }
    if !args.pair.is_empty() {
        let n = spec.networks.len();
        if let Some(&(a, b)) = args.pair.iter().find(|&&(a, b)| a >= n || b >= n || a == b) {
            return Err(Error::Input(format!("--pair {},{}: positions must differ and be ≤ {n}", a + 1, b + 1)));
        }
        spec.pairs = Some(
            args.pair.iter().map(|&(a, b)| [spec.networks[a].name.clone(), spec.networks[b].name.clone()]).collect(),
        );
    }
    spec.solver = args.solver.apply(args.mip.apply(spec.solver))?;
    // output flags replace the spec's whole output block (no file of the spec is written then)
    let (csv, json, jsonl) = (&args.output.csv, &args.output.json, &args.batch.jsonl);
    if csv.is_some() || json.json.is_some() || jsonl.is_some() {
        spec.output = OutputSpec { csv: csv.clone(), json: json.json.clone(), jsonl: jsonl.clone() };
    }
    spec.check()?;
    Ok(spec)
}

/// The fingerprint of everything that decides a batch's results: the effective spec (names,
/// not paths, of its files) and the bytes of its networks and data.
fn fingerprint(spec: &Spec, materialize: bool) -> Result<String> {
    let mut settings = spec.clone();
    settings.output = Default::default();
    settings.networks.iter_mut().for_each(|n| n.path = Default::default());
    settings.data.csv = None;
    let mut files: Vec<&std::path::Path> = spec.networks.iter().map(|n| n.path.as_path()).collect();
    files.extend(spec.data.csv.as_deref());
    units::spec_hash(&format!("{settings:?} materialize={materialize}"), &files)
}

pub fn run(args: LromArgs) -> Result<()> {
    args.output.json.route_text();
    let spec = spec(&args)?;
    if args.spec.print_spec {
        crate::say!("{}", spec.to_yaml()?.trim_end_matches('\n'));
        return Ok(());
    }
    let paths: Vec<_> = spec.networks.iter().map(|n| &n.path).collect();
    let models = load::models(&paths, spec.float_sound)?;
    let runners = load::runners(&models)?;
    let nets: Vec<_> = models.iter().map(|m| &m.network).collect();
    let map = spec.data.map(spec.domain, &nets[0].input_shape)?;
    // misclassified rows are skipped per pair of networks by the batch
    let samples = load::pick(map.samples(spec.samples()?)?, &nets, true, usize::MAX)?.rows;
    let names: Vec<String> = spec.networks.iter().map(|n| n.name.clone()).collect();
    let lrom = spec.analysis == AnalysisKind::Lrom;
    let (exact_engine, bab) = args.exact.settings();
    let config = LromConfig {
        encode: EncodeOptions {
            mode: spec.mode,
            materialize_affine: args.materialize,
            phase_rows: false,
            uncoupled: args.uncoupled,
        },
        bounds: spec.bounds,
        solver: spec.solver.clone(),
        solve: spec.solve,
        independent: spec.independent.unwrap_or(lrom),
        implication_only: spec.implication_only,
        all_pairs: spec.class_pairs == ClassPairs::All,
        maximise: lrom,
        threshold: spec.threshold,
        parallel: true,
        warm_start: true,
        float_sound: spec.float_sound,
        exact_engine,
        bab,
    };
    let pairs = spec.pair_indices()?;
    let deltas = spec.delta.values();
    let batch = Batch {
        nets: &nets,
        runners: &runners,
        pairs: &pairs,
        samples: &samples,
        deltas: &deltas,
        map: &map,
        include_misclassified: spec.include_misclassified,
        config: &config,
    };
    let context =
        Context { networks: names.clone(), matrix: spec.analysis == AnalysisKind::Matrix, deltas: deltas.clone() };
    let keys = batch.keys();
    let header = Header::new("lrom", fingerprint(&spec, args.materialize)?, keys.len(), to_json(&context)?);
    let out = &spec.output;
    let row_names = names.clone();
    let mut store = args.batch.open(
        header,
        keys,
        (out.csv.as_deref(), out.json.as_deref(), out.jsonl.as_deref()),
        move |o: &Outcome| report::csv_rows(std::slice::from_ref(o), &row_names),
    )?;
    let bar = Progress::new(store.todo().len(), "regions");
    store.run(|i| {
        let o = batch.run_one(i)?;
        bar.set_message(format!("{} ⇐ {} sample {} δ={}", names[o.n1], names[o.n2], o.sample, o.delta));
        bar.inc();
        Ok((o, false))
    })?;
    bar.finish();
    let outcomes = store.into_units();
    report(&outcomes, &context, out.csv.as_deref(), out.json.as_deref())
}

/// What the report of an `lrom` batch needs besides its regions (kept in its units file).
#[derive(Serialize, Deserialize)]
pub(super) struct Context {
    pub networks: Vec<String>,
    /// Print the implication matrix for every radius.
    pub matrix: bool,
    pub deltas: Vec<f64>,
}

/// Prints the summary (and the matrices) of a batch's regions and writes its JSON document;
/// the CSV, already streamed, is named.
pub(super) fn report(outcomes: &[Outcome], cx: &Context, csv: Option<&Path>, json: Option<&Path>) -> Result<()> {
    let summaries = report::summarise(outcomes);
    if cx.matrix {
        for d in &cx.deltas {
            crate::say!("{}", report::matrix_table(&summaries, &cx.networks, *d));
        }
    }
    crate::say!("{}", report::summary_table(&summaries, &cx.networks).trim_end_matches('\n'));
    streamed_outputs(csv, json, || report::json_doc(outcomes, &cx.networks))
}
