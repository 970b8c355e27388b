//! Argument groups shared by several sub-commands (choosing one input point, a region).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::data::{parse_scale, parse_vector, read_samples};
use crate::error::{Error, Result};

/// One input point: a literal vector, a file holding one, or a row of a labelled CSV file.
#[derive(Debug, Args)]
pub struct PointArgs {
    /// The input: a CSV row ("0.1,0.2,…"), a JSON array ("[0.1, 0.2]") or a file holding either.
    #[arg(long, visible_alias = "center", conflicts_with = "data", required_unless_present = "data")]
    pub input: Option<String>,
    /// A CSV data file with rows "label,f1,…,fn"; pick the row with --row.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Row of --data to use (0-based).
    #[arg(long, default_value_t = 0, requires = "data")]
    pub row: usize,
    /// Multiply every input value by this factor (a number or a fraction such as 1/255).
    #[arg(long, default_value = "1")]
    pub scale: String,
}

impl PointArgs {
    /// The scaled point and its label when it came from a data file.
    pub fn resolve(&self) -> Result<(Vec<f64>, Option<usize>)> {
        let scale = parse_scale(&self.scale)?;
        match (&self.input, &self.data) {
            (Some(text), _) => {
                let path = Path::new(text);
                let text = if path.is_file() {
                    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?
                } else {
                    text.clone()
                };
                Ok((parse_vector(&text)?.into_iter().map(|v| v * scale).collect(), None))
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
                Ok((s.features.clone(), Some(s.label)))
            }
            (None, None) => Err(Error::Input("give --input or --data".into())),
        }
    }
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
    pub solver: Option<crate::solve::SolverKind>,
    /// Path of the external solver binary (default: cbc, glpsol, gurobi_cl or cplex on PATH).
    #[arg(long)]
    pub solver_path: Option<PathBuf>,
    /// Time limit per solve, in seconds.
    #[arg(long, value_parser = parse_positive)]
    pub time_limit: Option<f64>,
    /// Solver threads.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Relative MIP gap (exact mode).
    #[arg(long, value_parser = parse_nonnegative)]
    pub mip_gap: Option<f64>,
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
    pub solver_fallback: Option<crate::solve::Fallback>,
}

impl SolverArgs {
    /// Applies the flags given on top of `base` (a spec's `solver:` block or the defaults) and
    /// checks that the backend can run (binary, options) before any work starts.
    pub fn apply(&self, mut base: crate::solve::SolverConfig) -> Result<crate::solve::SolverConfig> {
        if let Some(k) = self.solver {
            base.kind = k;
        }
        base.path = self.solver_path.clone().or(base.path);
        base.time_limit = self.time_limit.or(base.time_limit);
        base.threads = self.threads.or(base.threads);
        base.mip_gap = self.mip_gap.or(base.mip_gap);
        base.keep_model = self.keep_model.clone().or(base.keep_model);
        base.options.extend(self.solver_option.iter().cloned());
        base.fallback = self.solver_fallback.unwrap_or(base.fallback);
        base.validate()?;
        crate::solve::check_available(&base)?;
        Ok(base)
    }
}
