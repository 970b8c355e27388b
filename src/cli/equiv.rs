//! `twinverify equiv`: certify that two exports of one model agree over regions (data rows with a
//! radius, or the whole domain box): a bound on max |A − B|, top-1 agreement and a CI verdict.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::args::{parse_nonnegative, DataArgs, OutputArgs, RegionArgs, SolverArgs};
use super::progress::Progress;
use super::{load, values};
use crate::analysis::equiv::{self, Area, EquivConfig, EquivResult, Verdict};
use crate::analysis::lrom::LromConfig;
use crate::bounds::{InputMap, Interval};
use crate::error::{Error, Result};
use crate::ir::Network;
use crate::report::median;

/// Exit code of a run whose verdict is "not equivalent".
pub const NOT_EQUIVALENT: u8 = 4;
/// Exit code of a run whose verdict is "unknown".
pub const UNKNOWN: u8 = 5;

#[derive(Debug, Args)]
#[command(after_help = "\
Regions: with --data, the L∞ ball of each --delta around each selected row (clipped to --domain); \
without --data, the whole --domain box.

ε-equivalence: the certified max over the region of |A(x)ᵢ − B(x)ᵢ| (every output i) is ≤ --epsilon. \
Top-1 equivalence: argmax A(x) = argmax B(x) on the whole region, where argmax is the lowest index \
among the maxima; it is proved when both networks keep the class A gives the region's centre with \
every certified margin > 0 (a tie counts as not proved), or when every difference is certified to \
be 0. Counterexamples are inputs re-executed through the IR and tract.

The last line is the verdict over every region: `equivalent` (exit code 0), `not equivalent` \
(exit code 4: a checked input differs by more than ε or has another argmax), `unknown` (exit code \
5). Errors exit with 1, usage errors with 2, solver faults with 3.")]
pub struct EquivArgs {
    /// The first export (A).
    pub a: PathBuf,
    /// The second export (B).
    pub b: PathBuf,
    #[command(flatten)]
    pub spec: super::spec_file::SpecArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub region: RegionArgs,
    /// Tolerance of ε-equivalence: the certified max |Aᵢ − Bᵢ| must be ≤ this.
    #[arg(long, default_value_t = 1e-4, value_parser = parse_nonnegative)]
    pub epsilon: f64,
    /// What the verdict is about.
    #[arg(long, value_enum, default_value = "both")]
    pub check: values::Criterion,
    /// Neuron bounds feeding the encoding and the layer-by-layer difference bounds. Optimised
    /// slopes (alpha) give the overall bound of LP tightening to 5 digits on fcnn7's twins, in
    /// half the time.
    #[arg(long, value_enum, default_value = "alpha")]
    pub bounds: values::Method,
    /// Symbolic bounds only: no LP solve.
    #[arg(long)]
    pub no_solve: bool,
    /// Solve the LP for the max and min of every output's difference. By default it runs only
    /// where it can lower the overall bound (largest layer-by-layer bound first), which gives the
    /// same overall ε; the other outputs keep their layer-by-layer bounds.
    #[arg(long)]
    pub every_output: bool,
    /// Seconds per region for a ReLU branch and bound on the outputs that set the certified ε
    /// (the largest first, each until it is no longer the largest); 0: none. The bound reached
    /// is certified whenever the time runs out.
    #[arg(long, default_value_t = 0.0, value_parser = parse_nonnegative)]
    pub branch_seconds: f64,
    /// Also print, over the data rows, the largest |A − B| at each IR layer (matched by position
    /// and shape), to locate where the exports diverge.
    #[arg(long, requires = "data")]
    pub layers: bool,
    #[command(flatten)]
    pub solver: SolverArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One region's result with where it came from.
#[derive(Clone, Debug, Serialize)]
struct Outcome {
    sample: Option<usize>,
    delta: Option<f64>,
    #[serde(flatten)]
    result: EquivResult,
}

/// One CSV row per region.
#[derive(Serialize)]
struct Row {
    sample: Option<usize>,
    delta: Option<f64>,
    class: usize,
    shared_layers: usize,
    layers_a: usize,
    layers_b: usize,
    epsilon_certified: f64,
    epsilon_attained: Option<f64>,
    epsilon_tract: Option<f64>,
    worst_output: usize,
    source: equiv::Source,
    top1: equiv::Top1Status,
    min_margin_a: Option<f64>,
    min_margin_b: Option<f64>,
    verdict: Verdict,
    seconds: f64,
}

impl From<&Outcome> for Row {
    fn from(o: &Outcome) -> Row {
        let r = &o.result;
        Row {
            sample: o.sample,
            delta: o.delta,
            class: r.top1.class,
            shared_layers: r.shared_layers,
            layers_a: r.layers[0],
            layers_b: r.layers[1],
            epsilon_certified: r.epsilon.certified,
            epsilon_attained: r.epsilon.attained,
            epsilon_tract: r.epsilon_tract,
            worst_output: r.worst_output,
            source: r.outputs.get(r.worst_output).map_or(equiv::Source::Joint, |d| d.source),
            top1: r.top1.status,
            min_margin_a: r.top1.min_margins.map(|m| m[0]),
            min_margin_b: r.top1.min_margins.map(|m| m[1]),
            verdict: r.verdict,
            seconds: r.seconds,
        }
    }
}

/// Runs the command and returns its exit code (0 equivalent, `NOT_EQUIVALENT`, `UNKNOWN`).
pub fn run(args: EquivArgs) -> Result<u8> {
    args.output.json.route_text();
    let models = load::models(&[&args.a, &args.b], false)?;
    let runners = load::runners(&models)?;
    let nets = [&models[0].network, &models[1].network];
    let config = EquivConfig {
        lrom: LromConfig {
            bounds: args.bounds.into(),
            solver: args.solver.apply(Default::default())?,
            solve: !args.no_solve,
            independent: false,
            ..Default::default()
        },
        epsilon: args.epsilon,
        criterion: args.check.into(),
        every_output: args.every_output,
        branch_seconds: args.branch_seconds,
    };
    let map = args.data.file.map(nets[0], args.region.clip.domain)?;
    let regions = regions(&args, nets, &map)?;
    let settings = format!("{:?} {:?} {:?}", args.data, args.region, config);
    let files: Vec<&std::path::Path> =
        [args.a.as_path(), args.b.as_path()].into_iter().chain(args.data.file.data.as_deref()).collect();
    crate::report::set_spec_hash(&crate::report::units::spec_hash(&settings, &files)?);
    let shared = nets[0].shared_prefix(nets[1]);
    crate::say!(
        "A = {}, B = {}: {shared} of {}/{} layers identical after folding (shared by the joint model)",
        args.a.display(),
        args.b.display(),
        nets[0].layers.len(),
        nets[1].layers.len()
    );
    if args.layers {
        print_layers(nets, &regions)?;
    }
    let bar = Progress::new(regions.len(), "regions");
    let mut outcomes = Vec::with_capacity(regions.len());
    for (sample, delta, region, centre) in &regions {
        let mut result = equiv::analyse(nets, &runners, &Area { region, centre }, &config)?;
        in_pixels(&mut result, &map);
        outcomes.push(Outcome { sample: *sample, delta: *delta, result });
        bar.inc();
    }
    bar.finish();
    print_table(&outcomes);
    let verdict = Verdict::combine(outcomes.iter().map(|o| o.result.verdict));
    let doc = || {
        serde_json::json!({"a": args.a, "b": args.b, "epsilon": args.epsilon, "check": config.criterion,
        "verdict": verdict, "regions": outcomes})
    };
    args.output.write(|| outcomes.iter().map(Row::from).collect(), doc)?;
    crate::say!("verdict: {}", verdict.as_str());
    Ok(match verdict {
        Verdict::Equivalent => 0,
        Verdict::NotEquivalent => NOT_EQUIVALENT,
        Verdict::Unknown => UNKNOWN,
    })
}

/// (sample, radius, box, centre) of every region.
type Regions = Vec<(Option<usize>, Option<f64>, Interval, Vec<f64>)>;

/// The L∞ balls (pixel space) around the selected rows, or the whole domain box without --data,
/// as boxes of network inputs.
fn regions(args: &EquivArgs, nets: [&Network; 2], map: &InputMap) -> Result<Regions> {
    if args.data.file.data.is_none() {
        if args.region.clip.domain.is_none() {
            return Err(Error::Input("give --data CSV (rows and --delta) or --domain LOW,HIGH".into()));
        }
        if !args.region.delta.is_empty() || args.data.samples.is_some() {
            return Err(Error::Input(
                "--delta and --samples need --data: without it the region is the whole --domain box".into(),
            ));
        }
        let region = map.domain_box(nets[0].input_size());
        let centre = Area::midpoint(&region);
        return Ok(vec![(None, None, region, centre)]);
    }
    let rows = load::pick(map.samples(args.data.read()?)?, &nets, true, usize::MAX)?.rows;
    let mut out = Vec::new();
    for s in &rows {
        for delta in args.region.deltas() {
            let region = map.region(&s.features, delta)?;
            out.push((Some(s.index), Some(delta), region, s.features.clone()));
        }
    }
    match out.is_empty() {
        true => Err(Error::Input("no data row selected: nothing to compare".into())),
        false => Ok(out),
    }
}

/// The result's checked inputs as pixel rows (they were checked as network inputs).
fn in_pixels(r: &mut EquivResult, map: &InputMap) {
    let inputs = r.outputs.iter_mut().map(|o| &mut o.witness).chain([&mut r.witness]);
    for x in inputs.chain(r.top1.disagreement.iter_mut().map(|d| &mut d.input)).filter(|x| !x.is_empty()) {
        *x = map.to_pixels(x);
    }
}

fn print_table(outcomes: &[Outcome]) {
    crate::say!(
        "{:>7} {:>8} {:>5} {:>13} {:>13} {:>10} {:>8} {:>15} {:>8}",
        "sample",
        "delta",
        "class",
        "certified ε",
        "attained ε",
        "source",
        "top-1",
        "verdict",
        "seconds"
    );
    let opt = |v: Option<f64>, w: usize| v.map_or(format!("{:>w$}", "-"), |v| format!("{v:>w$.6e}"));
    for o in outcomes {
        let r = &o.result;
        let source = r.outputs.get(r.worst_output).map_or("-", |d| match d.source {
            equiv::Source::Joint => "joint",
            equiv::Source::Difference => "difference",
        });
        crate::say!(
            "{:>7} {:>8} {:>5} {:>13.6e} {} {:>10} {:>8} {:>15} {:>8.3}",
            o.sample.map_or("box".into(), |s| s.to_string()),
            o.delta.map_or("-".into(), |d| d.to_string()),
            r.top1.class,
            r.epsilon.certified,
            opt(r.epsilon.attained, 13),
            source,
            format!("{:?}", r.top1.status).to_lowercase(),
            r.verdict.as_str(),
            r.seconds
        );
    }
    let mut secs: Vec<f64> = outcomes.iter().map(|o| o.result.seconds).collect();
    let worst = outcomes.iter().map(|o| o.result.epsilon.certified).fold(0.0, f64::max);
    let seen = outcomes.iter().filter_map(|o| o.result.epsilon.attained).fold(0.0, f64::max);
    crate::say!(
        "{} regions: certified max |A − B| ≤ {worst:.6e}, attained {seen:.6e}; median {:.3} s per region",
        outcomes.len(),
        median(&mut secs).unwrap_or(0.0)
    );
}

/// The largest |A − B| at every IR layer over the regions' centres.
fn print_layers(nets: [&Network; 2], regions: &Regions) -> Result<()> {
    let xs: Vec<Vec<f64>> = regions.iter().map(|r| r.3.clone()).collect();
    crate::say!("{:>5} {:>16} {:>24} {:>14}", "layer", "kinds (A/B)", "shapes (A/B)", "max |A − B|");
    for d in equiv::layer_deviations(nets, &xs)? {
        let shapes = match d.shapes[0] == d.shapes[1] {
            true => format!("{:?}", d.shapes[0]),
            false => format!("{:?}/{:?}", d.shapes[0], d.shapes[1]),
        };
        let kinds = format!("{}/{}", d.kinds[0], d.kinds[1]);
        let dev = d.max_abs.map_or("shape differs".into(), |v| format!("{v:.6e}"));
        crate::say!("{:>5} {kinds:>16} {shapes:>24} {dev:>14}", d.layer);
    }
    Ok(())
}
