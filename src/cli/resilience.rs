//! `twinverify resilience`: maximum resilience Φ_m per class (paper 003) and Ξ = min over the
//! classes, over the whole domain or around one sample; a table plus optional CSV/JSON.

use std::path::{Path, PathBuf};

use clap::builder::Resettable;
use clap::Args;
use serde::{Deserialize, Serialize};

use super::args::{streamed_outputs, to_json, BatchArgs, DomainArgs, OutputArgs, PointArgs, SolverArgs};
use super::values;
use crate::analysis::resilience::{resilience, xi, ClassResilience, Norm, ResilienceConfig, Scope};
use crate::data::argmax;
use crate::error::{Error, Result};
use crate::onnx::{self, TractRunner};
use crate::report::fixed;
use crate::report::units::{self, Header};

#[derive(Debug, Args)]
#[command(mut_arg("input", |a| a.required_unless_present(Resettable::Reset)), mut_arg("domain", |a| a.default_value("0,1")))]
pub struct ResilienceArgs {
    /// The ONNX model.
    pub net: PathBuf,
    /// Classes m (comma-separated). Default: every class (global form) or the sample's
    /// predicted class (local form).
    #[arg(long, value_delimiter = ',')]
    pub class: Vec<usize>,
    /// Confidence α ≥ 1: the inputs considered score N[m] − N[j] ≥ ln α over every other class.
    #[arg(long, default_value_t = 1.0, value_parser = super::args::parse_finite)]
    pub alpha: f64,
    /// m must drop out of the top k (1 ≤ k < classes).
    #[arg(long, default_value_t = 1)]
    pub k: usize,
    /// How perturbations are measured (in pixels, after --scale, before --mean/--std).
    #[arg(long, value_enum, default_value = "l1")]
    pub norm: values::Norm,
    #[command(flatten)]
    pub spec: super::spec_file::SpecArgs,
    // local form: the sample (--input/--center, or a row of --data)
    #[command(flatten)]
    pub point: PointArgs,
    /// Local form: the confident inputs are those within this L∞ radius (pixels) of the sample.
    #[arg(long, default_value_t = 0.0, value_parser = super::args::parse_nonnegative)]
    pub radius: f64,
    #[command(flatten)]
    pub clip: DomainArgs,
    /// Neuron bounds behind every big-M (lp: tighter, but slow on large regions of large networks).
    #[arg(long, value_enum, default_value = "symbolic")]
    pub bounds: values::Method,
    /// Bounds this close count as proved; resolution of the L∞ bisection.
    #[arg(long, default_value_t = 1e-3, value_parser = super::args::parse_positive)]
    pub tolerance: f64,
    #[command(flatten)]
    pub solver: SolverArgs,
    #[command(flatten)]
    pub mip: super::args::MipGapArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
}

/// One CSV row.
#[derive(Serialize)]
pub(super) struct Row {
    class: usize,
    status: String,
    lower: f64,
    upper: Option<f64>,
    solver_value: Option<f64>,
    initial: Option<f64>,
    start_used: bool,
    milps: usize,
    seconds: f64,
    note: Option<String>,
}

impl From<&ClassResilience> for Row {
    fn from(r: &ClassResilience) -> Row {
        Row {
            class: r.class,
            status: format!("{:?}", r.bracket.status).to_lowercase(),
            lower: r.bracket.certified,
            upper: r.bracket.attained,
            solver_value: r.bracket.solver_value,
            initial: r.initial,
            start_used: r.start_used,
            milps: r.milps,
            seconds: r.seconds,
            note: r.bracket.note.clone(),
        }
    }
}

pub fn run(args: ResilienceArgs) -> Result<()> {
    args.output.json.route_text();
    let model = onnx::load(&args.net)?;
    let runner = TractRunner::new(&model)?;
    let net = &model.network;
    let domain = args.clip.domain.unwrap_or((0.0, 1.0));
    let map = args.point.file.map(net, Some(domain))?;
    // the sample in the network's input space (the flags give pixels)
    let sample = args.point.resolve_optional()?.map(|(x, _)| map.to_network(&x)).transpose()?;
    let scope = match &sample {
        Some(x) => Scope::Local { center: x, radius: args.radius },
        None if args.radius > 0.0 => return Err(Error::Input("--radius needs a sample (--center or --data)".into())),
        None => Scope::Global,
    };
    let classes = match (&args.class[..], &sample) {
        ([], Some(x)) => vec![argmax(&net.forward(x)?)],
        ([], None) => (0..net.output_size()).collect(),
        (given, _) => given.to_vec(),
    };
    let cfg = ResilienceConfig {
        alpha: args.alpha,
        k: args.k,
        norm: args.norm.into(),
        map,
        bounds: args.bounds.into(),
        solver: args.solver.apply(args.mip.apply(Default::default()))?,
        tolerance: args.tolerance,
    };
    let form = match scope {
        Scope::Global => format!("global over [{}, {}]", domain.0, domain.1),
        Scope::Local { radius, .. } => format!("local, radius {radius}"),
    };
    let cx = Context {
        network: net.name.clone(),
        form,
        norm: cfg.norm,
        alpha: cfg.alpha,
        k: cfg.k,
        solver: cfg.solver.kind.to_string(),
    };
    let keys: Vec<String> = classes.iter().map(|m| format!("class={m}")).collect();
    let settings = format!("{:?} {:?} {classes:?} {cfg:?}", args.point, args.radius);
    let mut files = vec![args.net.as_path()];
    files.extend(args.point.file.data.as_deref());
    let header = Header::new("resilience", units::spec_hash(&settings, &files)?, keys.len(), to_json(&cx)?);
    let (csv, json) = (args.output.csv.as_deref(), args.output.json.json.as_deref());
    let mut store = args.batch.open(header, keys, (csv, json, None), |r: &ClassResilience| vec![Row::from(r)])?;
    print_header(&cx);
    store.units().for_each(print_row);
    store.run(|i| {
        let mut r = resilience(net, &runner, classes[i], scope, &cfg)?;
        // witnesses are reported in pixel space (they were checked in the network's)
        for w in r.witness.iter_mut() {
            (w.input, w.perturbed) = (cfg.map.to_pixels(&w.input), cfg.map.to_pixels(&w.perturbed));
        }
        print_row(&r);
        Ok((r, false))
    })?;
    summary(&store.into_units(), &cx, csv, json)
}

/// What the report of a `resilience` batch needs besides its classes.
#[derive(Serialize, Deserialize)]
pub(super) struct Context {
    network: String,
    /// Global over the domain, or local with a radius.
    form: String,
    norm: Norm,
    alpha: f64,
    k: usize,
    solver: String,
}

/// The whole report of finished classes (as `merge` prints it).
pub(super) fn report(results: &[ClassResilience], cx: &Context, csv: Option<&Path>, json: Option<&Path>) -> Result<()> {
    print_header(cx);
    results.iter().for_each(print_row);
    summary(results, cx, csv, json)
}

/// Ξ over the classes, and the output files.
fn summary(results: &[ClassResilience], cx: &Context, csv: Option<&Path>, json: Option<&Path>) -> Result<()> {
    let (lower, upper) = xi(results);
    if results.len() > 1 {
        let upper = upper.map_or("-".into(), |u| fixed(u, 6));
        crate::say!("Ξ = min over classes: proved ≥ {}, checked ≤ {upper}", fixed(lower, 6));
    }
    streamed_outputs(csv, json, || {
        serde_json::json!({ "network": cx.network, "norm": cx.norm, "alpha": cx.alpha, "k": cx.k,
            "form": cx.form, "classes": results, "xi": { "lower": lower, "upper": upper } })
    })
}

fn print_header(cx: &Context) {
    crate::say!("Φ_m ({}, {:?} norm, α = {}, k = {}, solver {})", cx.form, cx.norm, cx.alpha, cx.k, cx.solver);
    crate::say!("lower: proved; upper: a perturbation checked through the IR and tract; solver: the MILP optimum (not certified)");
    crate::say!(
        "{:>5} {:>9} {:>12} {:>12} {:>12} {:>12} {:>6} {:>5} {:>9}  note",
        "class",
        "status",
        "lower",
        "upper",
        "solver",
        "initial",
        "start",
        "milps",
        "seconds"
    );
}

fn print_row(r: &ClassResilience) {
    let num = |v: Option<f64>| v.map_or("-".to_string(), |v| fixed(v, 6));
    let lower = if r.bracket.certified.is_finite() { num(Some(r.bracket.certified)) } else { "∞".into() };
    crate::say!(
        "{:>5} {:>9} {:>12} {:>12} {:>12} {:>12} {:>6} {:>5} {:>9.2}  {}",
        r.class,
        format!("{:?}", r.bracket.status).to_lowercase(),
        lower,
        num(r.bracket.attained),
        num(r.bracket.solver_value),
        num(r.initial),
        if r.start_used { "yes" } else { "no" },
        r.milps,
        r.seconds,
        r.bracket.note.as_deref().unwrap_or("")
    );
}
