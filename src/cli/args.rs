//! Argument groups shared by the sub-commands: one input point, a data file and its rows, a
//! region, the output files and the solver, each flag with one meaning everywhere.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::Serialize;

use super::values;
use crate::bounds::{InputMap, Layout, Normalisation};
use crate::data::{parse_scale, parse_vector, read_samples, Sample};
use crate::error::{Error, Result};
use crate::ir::Network;
use crate::report;
use crate::report::units::{Destination, Header, Shard, Store};
use crate::spec::{parse_selection, select_rows, Selection};

/// The radius of a region when no `--delta` is given.
pub const DEFAULT_DELTA: f64 = 0.01;

/// A labelled CSV data file and the factor applied to its values.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// A CSV data file with rows "label,f1,…,fn".
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Multiply every input value by this factor: a number or a fraction such as 1/255 (default 1).
    #[arg(long, value_parser = parse_scale)]
    pub scale: Option<f64>,
    /// Normalisation outside the network: network input = (pixel − mean_c)/std_c, pixel taken
    /// after --scale; one value, or one per channel (0.4914,0.4822,0.4465). --delta and --domain
    /// stay in pixel units: the region in network input space is per channel (δ/std_c, domain
    /// ((low − mean_c)/std_c, (high − mean_c)/std_c)).
    #[arg(long, value_delimiter = ',', value_parser = parse_finite, allow_hyphen_values = true)]
    pub mean: Option<Vec<f64>>,
    /// Standard deviations of the normalisation (see --mean): finite numbers > 0.
    #[arg(long, value_delimiter = ',', value_parser = parse_finite, allow_hyphen_values = true)]
    pub std: Option<Vec<f64>>,
    /// Pixel order of the data rows: chw (the network's order, default) or hwc (ERAN/FANC CIFAR
    /// CSVs: row, column, channel), transposed to the network's (C,H,W) input.
    #[arg(long)]
    pub layout: Option<Layout>,
}

impl FileArgs {
    /// The scale factor (1 when none is given).
    pub fn scale(&self) -> f64 {
        self.scale.unwrap_or(1.0)
    }

    /// The data file (an error names the flag when it is missing).
    pub fn path(&self) -> Result<&Path> {
        self.data.as_deref().ok_or_else(|| Error::Input("give --data CSV".into()))
    }

    /// The normalisation and pixel order the flags give.
    pub fn normalisation(&self) -> Normalisation {
        Normalisation { mean: self.mean.clone(), std: self.std.clone(), layout: self.layout.unwrap_or_default() }
    }

    /// The pixel → network map for `net`'s input, regions clipped to `domain` (pixel space).
    pub fn map(&self, net: &Network, domain: Option<(f64, f64)>) -> Result<InputMap> {
        InputMap::new(&self.normalisation(), domain, &net.input_shape)
    }

    /// Every row of the data file, scaled (pixel space).
    pub fn read(&self) -> Result<Vec<Sample>> {
        read_samples(self.path()?, self.scale())
    }
}

/// A data file and the rows of it to analyse.
#[derive(Debug, Args)]
pub struct DataArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Rows to use: 0..100, 7 or 1,5,9 (default: all).
    #[arg(long, value_parser = parse_selection)]
    pub samples: Option<Selection>,
}

impl DataArgs {
    /// The selected rows of the data file, scaled, in the order selected.
    pub fn read(&self) -> Result<Vec<Sample>> {
        select_rows(self.samples.as_ref(), self.file.read()?)
    }
}

/// One input point: a literal vector, a file holding one, or a row of a labelled CSV file.
#[derive(Debug, Args)]
pub struct PointArgs {
    /// The input: a CSV row ("0.1,0.2,…"), a JSON array ("[0.1, 0.2]") or a file holding either.
    #[arg(long, visible_alias = "center", conflicts_with = "data", required_unless_present = "data")]
    pub input: Option<String>,
    #[command(flatten)]
    pub file: FileArgs,
    /// Row of --data to use (0-based).
    #[arg(long, default_value_t = 0, requires = "data")]
    pub row: usize,
}

impl PointArgs {
    /// The scaled point and its label when it came from a data file; `None` when neither
    /// --input nor --data was given (a command where the point is optional).
    pub fn resolve_optional(&self) -> Result<Option<(Vec<f64>, Option<usize>)>> {
        let scale = self.file.scale();
        match (&self.input, &self.file.data) {
            (Some(text), _) => {
                let path = Path::new(text);
                let text = if path.is_file() {
                    std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?
                } else {
                    text.clone()
                };
                Ok(Some((parse_vector(&text)?.into_iter().map(|v| v * scale).collect(), None)))
            }
            (None, Some(data)) => {
                let samples = read_samples(data, scale)?;
                let s = samples.get(self.row).ok_or_else(|| {
                    Error::Input(format!(
                        "{} has {} rows; --row {} is out of range",
                        data.display(),
                        samples.len(),
                        self.row
                    ))
                })?;
                Ok(Some((s.features.clone(), Some(s.label))))
            }
            (None, None) => Ok(None),
        }
    }

    /// The scaled point and its label when it came from a data file.
    pub fn resolve(&self) -> Result<(Vec<f64>, Option<usize>)> {
        self.resolve_optional()?.ok_or_else(|| Error::Input("give --input or --data".into()))
    }
}

/// The input domain regions are clipped to.
#[derive(Debug, Args)]
pub struct DomainArgs {
    /// Input domain LOW,HIGH the regions are clipped to (for example 0,1).
    #[arg(long, value_parser = parse_domain)]
    pub domain: Option<(f64, f64)>,
}

/// L∞ regions around every sample: their radii and the domain they are clipped to.
#[derive(Debug, Args)]
pub struct RegionArgs {
    /// Radii of the L∞ regions (comma-separated or repeated; default 0.01).
    #[arg(long, value_delimiter = ',', value_parser = parse_nonnegative)]
    pub delta: Vec<f64>,
    #[command(flatten)]
    pub clip: DomainArgs,
}

impl RegionArgs {
    /// The radii given, or the default one.
    pub fn deltas(&self) -> Vec<f64> {
        match self.delta.is_empty() {
            true => vec![DEFAULT_DELTA],
            false => self.delta.clone(),
        }
    }
}

/// Result files.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write the results as CSV, one row per result.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    #[command(flatten)]
    pub json: JsonArgs,
}

/// Where a command's JSON document goes.
#[derive(Debug, Default, Args)]
pub struct JsonArgs {
    /// Write the results as JSON to FILE; with no FILE (or -), print the JSON on standard output
    /// and the text on standard error.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "-")]
    pub json: Option<PathBuf>,
}

impl JsonArgs {
    /// A file (or `-`, standard output).
    pub fn to(json: Option<&Path>) -> JsonArgs {
        JsonArgs { json: json.map(Path::to_path_buf) }
    }

    /// Whether the JSON goes to standard output.
    pub fn on_stdout(&self) -> bool {
        self.json.as_deref() == Some(Path::new("-"))
    }

    /// Sends the text to standard error when the JSON takes standard output; call it first.
    pub fn route_text(&self) {
        report::text_to_stderr(self.on_stdout());
    }

    /// Writes the document to the file, or prints it on standard output, when asked for.
    pub fn emit(&self, doc: impl FnOnce() -> serde_json::Value) -> Result<()> {
        match &self.json {
            None => Ok(()),
            Some(_) if self.on_stdout() => print_json(&doc()),
            Some(p) => {
                report::write_json_doc(p, &doc())?;
                crate::say!("wrote {}", p.display());
                Ok(())
            }
        }
    }
}

impl OutputArgs {
    /// Writes the CSV rows and the JSON document that were asked for, and says where.
    pub fn write<R: Serialize>(
        &self,
        rows: impl FnOnce() -> Vec<R>,
        doc: impl FnOnce() -> serde_json::Value,
    ) -> Result<()> {
        if let Some(p) = &self.csv {
            report::write_csv(p, &rows())?;
            crate::say!("wrote {}", p.display());
        }
        self.json.emit(doc)?;
        Ok(())
    }
}

/// Streamed results of a batch: where its units go, resuming an interrupted run, and shards.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// JSON Lines file of finished units, each appended and flushed as it finishes (default: the
    /// --csv or --json path with extension .jsonl); --resume and `twinverify merge` read it, and a
    /// status file beside it (NAME.status.json) counts units done, failed and remaining.
    #[arg(long)]
    pub jsonl: Option<PathBuf>,
    /// Continue an interrupted run into the same output: units already in its JSON Lines file are
    /// kept, the rest are run (refused when the file came from another spec or other settings).
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Start over, replacing the output files of an earlier run (without it they are never
    /// overwritten).
    #[arg(long)]
    pub overwrite: bool,
    /// Run only shard K of N (0 ≤ K < N): unit i belongs to shard i mod N, so N processes cover
    /// every unit once; `twinverify merge` joins their JSON Lines files.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
}

impl BatchArgs {
    /// Opens the units store of a batch writing to `csv`/`json` (and `--jsonl`, or `jsonl` when
    /// the flag is absent), after removing an earlier run's files if `--overwrite` asks for it.
    pub fn open<T, R>(
        &self,
        header: Header,
        keys: Vec<String>,
        out: (Option<&Path>, Option<&Path>, Option<&Path>),
        rows: impl Fn(&T) -> Vec<R> + 'static,
    ) -> Result<Store<T, R>>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
        R: Serialize,
    {
        let (csv, json, jsonl) = out;
        report::set_spec_hash(&header.spec_hash);
        let to = Destination::new(self.jsonl.as_deref().or(jsonl), csv, json);
        if self.overwrite {
            for p in [to.jsonl.as_ref(), to.csv.as_ref()].into_iter().flatten() {
                if p.exists() {
                    std::fs::remove_file(p).map_err(|e| Error::write(p, e))?;
                }
            }
        }
        Store::open(Header { shard: self.shard.unwrap_or(Shard::ALL), ..header }, keys, &to, self.resume, rows)
    }
}

/// The end of a streamed batch's report: names the CSV its rows went to as they finished, and
/// writes (or prints) the JSON document.
pub fn streamed_outputs(
    csv: Option<&Path>,
    json: Option<&Path>,
    doc: impl FnOnce() -> serde_json::Value,
) -> Result<()> {
    if let Some(p) = csv {
        crate::say!("wrote {}", p.display());
    }
    JsonArgs::to(json).emit(doc)
}

/// A batch's report context as the JSON its units file keeps.
pub fn to_json<C: Serialize>(context: &C) -> Result<serde_json::Value> {
    serde_json::to_value(context).map_err(|source| Error::Json { path: "the units file's header".into(), source })
}

/// Prints a JSON document on standard output (the commands' `--json` flag without a file).
pub fn print_json(doc: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(&report::stamped(doc.clone()))
        .map_err(|source| Error::Json { path: "standard output".into(), source })?;
    println!("{text}");
    Ok(())
}

/// Parses an input domain written `LOW,HIGH` (for example `0,1`).
pub fn parse_domain(s: &str) -> std::result::Result<(f64, f64), String> {
    let (a, b) = s.split_once(',').ok_or("write the domain as LOW,HIGH (for example 0,1)")?;
    let (a, b): (f64, f64) = (
        a.trim().parse().map_err(|_| format!("'{a}' is not a number"))?,
        b.trim().parse().map_err(|_| format!("'{b}' is not a number"))?,
    );
    if a > b || !a.is_finite() || !b.is_finite() {
        return Err(format!("domain {a},{b} is empty or not finite"));
    }
    Ok((a, b))
}

/// A number that must be finite (e.g. a threshold).
pub fn parse_finite(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("'{s}' is not a number"))?;
    v.is_finite().then_some(v).ok_or(format!("{s} is not a finite number"))
}

/// A finite number ≥ 0 (a radius, a tolerance of zero allowed).
pub fn parse_nonnegative(s: &str) -> std::result::Result<f64, String> {
    let v = parse_finite(s)?;
    (v >= 0.0).then_some(v).ok_or(format!("{s} is negative"))
}

/// A finite number > 0 (a time limit, a tolerance, a starting radius).
pub fn parse_positive(s: &str) -> std::result::Result<f64, String> {
    let v = parse_finite(s)?;
    (v > 0.0).then_some(v).ok_or(format!("{s} is not > 0"))
}

/// Solver selection and the options passed through to it.
#[derive(Debug, Clone, Args)]
pub struct SolverArgs {
    /// Solver for the LPs/MILPs: embedded HiGHS (default) or an external binary.
    #[arg(long, value_enum)]
    pub solver: Option<values::SolverKind>,
    /// Path of the external solver binary (default: cbc, glpsol, gurobi_cl or cplex on PATH).
    #[arg(long)]
    pub solver_path: Option<PathBuf>,
    /// Time limit per solve, in seconds.
    #[arg(long, value_parser = parse_positive)]
    pub time_limit: Option<f64>,
    /// Solver threads.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Write every model to this directory (LP format) before solving it.
    #[arg(long)]
    pub keep_model: Option<PathBuf>,
    /// An option passed through to the solver by name, KEY=VALUE (repeatable): HiGHS option
    /// names; `-KEY VALUE` for cbc, `--KEY VALUE` for glpsol (empty VALUE: a bare flag),
    /// `KEY=VALUE` for gurobi_cl, `set K E Y VALUE` for cplex (dots in KEY become spaces).
    #[arg(long = "solver-option", value_parser = crate::solve::parse_option)]
    pub solver_option: Vec<(String, crate::solve::OptionValue)>,
    /// On a solver fault (crash, kill, unreadable answer): fail = symbolic bound and exit code 3
    /// at the end; symbolic = symbolic bound and exit code 0 (faults still said on stderr).
    #[arg(long, value_enum)]
    pub solver_fallback: Option<values::Fallback>,
}

impl SolverArgs {
    /// Applies the flags given on top of `base` (a spec's `solver:` block or the defaults) and
    /// checks that the backend can run (binary, options) before any work starts.
    pub fn apply(&self, mut base: crate::solve::SolverConfig) -> Result<crate::solve::SolverConfig> {
        if let Some(k) = self.solver {
            base.kind = k.into();
        }
        base.path = self.solver_path.clone().or(base.path);
        base.time_limit = self.time_limit.or(base.time_limit);
        base.threads = self.threads.or(base.threads);
        base.keep_model = self.keep_model.clone().or(base.keep_model);
        base.options.extend(self.solver_option.iter().cloned());
        base.fallback = self.solver_fallback.map_or(base.fallback, Into::into);
        base.validate()?;
        crate::solve::check_available(&base)?;
        Ok(base)
    }

    /// The flags given, for a child process of the same tool (`run-instances` → `verify`).
    pub fn to_flags(&self) -> Vec<std::ffi::OsString> {
        let mut out: Vec<std::ffi::OsString> = Vec::new();
        let mut flag = |name: &str, value: std::ffi::OsString| out.extend([format!("--{name}").into(), value]);
        if let Some(k) = self.solver {
            flag("solver", crate::solve::SolverKind::from(k).to_string().into());
        }
        if let Some(p) = &self.solver_path {
            flag("solver-path", p.into());
        }
        if let Some(t) = self.time_limit {
            flag("time-limit", t.to_string().into());
        }
        if let Some(t) = self.threads {
            flag("threads", t.to_string().into());
        }
        if let Some(p) = &self.keep_model {
            flag("keep-model", p.into());
        }
        for (k, v) in &self.solver_option {
            flag("solver-option", format!("{k}={v}").into());
        }
        if let Some(f) = self.solver_fallback {
            flag("solver-fallback", format!("{f:?}").to_lowercase().into());
        }
        out
    }
}

/// The relative MIP gap, offered by the commands that solve MILPs.
#[derive(Debug, Clone, Args)]
pub struct MipGapArgs {
    /// Relative MIP gap of the MILPs (exact mode).
    #[arg(long, value_parser = parse_nonnegative)]
    pub mip_gap: Option<f64>,
}

impl MipGapArgs {
    /// `base` with the gap given (the spec's or none otherwise).
    pub fn apply(&self, mut base: crate::solve::SolverConfig) -> crate::solve::SolverConfig {
        base.mip_gap = self.mip_gap.or(base.mip_gap);
        base
    }

    /// The flag given, for a child process of the same tool.
    pub fn to_flags(&self) -> Vec<std::ffi::OsString> {
        self.mip_gap.map_or_else(Vec::new, |g| vec!["--mip-gap".into(), g.to_string().into()])
    }
}

/// How exact mode is answered, offered by the commands that have one.
#[derive(Debug, Clone, Args)]
pub struct ExactArgs {
    /// Exact mode's engine: certified branch and bound on ReLU phases (bab, the default) or the
    /// MILP (its optimum is the solver's word; the certified bound stays the LP relaxation's).
    #[arg(long, value_enum)]
    pub exact_engine: Option<crate::analysis::bab::ExactEngine>,
    /// Branch and bound: seconds per objective (default 60); the bound reached is still valid.
    #[arg(long, value_parser = parse_positive)]
    pub bab_time_limit: Option<f64>,
    /// Branch and bound: most nodes per objective (default 20000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub bab_nodes: Option<u64>,
    /// Branch and bound: an objective counts as closed when certified and attained are this
    /// close (default 1e-4).
    #[arg(long, value_parser = parse_nonnegative)]
    pub bab_gap: Option<f64>,
    /// Branch and bound: which unstable ReLU a node splits on.
    #[arg(long, value_enum)]
    pub branching: Option<crate::analysis::bab::Branching>,
}

impl ExactArgs {
    /// The engine and its settings, the defaults overridden by the flags given.
    pub fn settings(&self) -> (crate::analysis::bab::ExactEngine, crate::analysis::bab::BabSettings) {
        let mut s = crate::analysis::bab::BabSettings::default();
        s.seconds = self.bab_time_limit.or(s.seconds);
        s.max_nodes = self.bab_nodes.map_or(s.max_nodes, |n| n as usize);
        s.gap = self.bab_gap.unwrap_or(s.gap);
        s.branching = self.branching.unwrap_or(s.branching);
        (self.exact_engine.unwrap_or_default(), s)
    }
}
