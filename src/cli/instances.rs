//! `run-instances`: a VNN-COMP benchmark folder (instances.csv rows `onnx,vnnlib,timeout`), each
//! instance run as `twinverify verify` in a child process killed at its time-out, into a CSV.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::args::{BatchArgs, MipGapArgs, SolverArgs};
use super::progress::Progress;
use crate::error::{Error, IoOp, Result};
use crate::report::units::{self, Header};

#[derive(Debug, Args)]
pub struct RunInstancesArgs {
    /// The instances file: rows `onnx,vnnlib,timeout` (paths relative to --dir).
    pub instances: PathBuf,
    /// The benchmark folder (default: the instances file's folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Results CSV, a row appended as each instance finishes (default: results.csv in the current
    /// folder); the JSON Lines file of the units goes beside it (results.jsonl).
    #[arg(long, default_value = "results.csv")]
    pub out: PathBuf,
    /// Expected verdicts (`onnx,vnnlib,expected` with a header); default: the folder's
    /// expected_results.csv when present. A contradiction makes the command fail.
    #[arg(long)]
    pub expected: Option<PathBuf>,
    /// Multiply every instance's time-out by this factor.
    #[arg(long, default_value_t = 1.0, value_parser = super::args::parse_positive)]
    pub timeout_scale: f64,
    /// Run only the first N instances.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub solver: SolverArgs,
    #[command(flatten)]
    pub mip: MipGapArgs,
    #[command(flatten)]
    pub batch: BatchArgs,
}

struct Instance {
    onnx: String,
    vnnlib: String,
    timeout: f64,
}

/// A malformed row of `path`.
fn row_err(path: &Path, what: String) -> Error {
    Error::Input(format!("{}: {what}", path.display()))
}

fn read_instances(path: &Path) -> Result<Vec<Instance>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| Error::csv(path, IoOp::Read, e))?;
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| Error::csv(path, IoOp::Read, e))?;
        if rec.len() < 3 {
            return Err(row_err(path, format!("row {}: expected onnx,vnnlib,timeout", i + 1)));
        }
        let timeout = rec[2]
            .parse()
            .map_err(|_| row_err(path, format!("row {}: timeout '{}' is not a number", i + 1, &rec[2])))?;
        out.push(Instance { onnx: rec[0].to_string(), vnnlib: rec[1].to_string(), timeout });
    }
    Ok(out)
}

fn read_expected(path: &Path) -> Result<HashMap<(String, String), String>> {
    let mut r =
        csv::ReaderBuilder::new().trim(csv::Trim::All).from_path(path).map_err(|e| Error::csv(path, IoOp::Read, e))?;
    let mut out = HashMap::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| Error::csv(path, IoOp::Read, e))?;
        if rec.len() >= 3 {
            out.insert((rec[0].to_string(), rec[1].to_string()), rec[2].to_lowercase());
        }
    }
    Ok(out)
}

/// Runs one instance in a child process; returns (verdict, seconds, first stderr line).
fn run_one(
    dir: &Path,
    inst: &Instance,
    timeout: f64,
    (solver, mip): (&SolverArgs, &MipGapArgs),
) -> Result<(String, f64, String)> {
    let exe = std::env::current_exe().map_err(|e| Error::Input(format!("cannot find the twinverify binary: {e}")))?;
    let mut cmd = Command::new(&exe);
    cmd.arg("verify").arg(dir.join(&inst.vnnlib)).arg("--network").arg(format!("N={}", dir.join(&inst.onnx).display()));
    cmd.arg("--timeout").arg(timeout.to_string());
    cmd.args(solver.to_flags()).args(mip.to_flags());
    let start = Instant::now();
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| Error::run(&exe, e))?;
    let limit = Duration::from_secs_f64(timeout + 5.0);
    loop {
        if child.try_wait().map_err(|e| Error::run(&exe, e))?.is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(("timeout".into(), start.elapsed().as_secs_f64(), "killed at the time-out".into()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().map_err(|e| Error::run(&exe, e))?;
    let secs = start.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let note = stderr.lines().next().unwrap_or("").to_string();
    let verdict = match stdout.lines().next().map(str::trim) {
        Some("timed-out") => "timeout",
        Some(v @ ("sat" | "unsat" | "unknown")) => v,
        _ => "error",
    };
    Ok((verdict.to_string(), secs, note))
}

/// One instance's result: a unit of the batch and a row of the CSV.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct InstanceResult {
    onnx: String,
    vnnlib: String,
    result: String,
    seconds: f64,
    timeout: f64,
    expected: String,
    note: String,
}

/// The fingerprint of a folder's run: the instances and expected files and the settings.
fn fingerprint(args: &RunInstancesArgs, expected: Option<&Path>) -> Result<String> {
    let files: Vec<&Path> = std::iter::once(args.instances.as_path()).chain(expected).collect();
    units::spec_hash(&format!("{:?} {:?} {:?}", args.timeout_scale, args.limit, (&args.solver, &args.mip)), &files)
}

pub fn run(args: RunInstancesArgs) -> Result<()> {
    args.solver.apply(args.mip.apply(Default::default()))?; // an absent backend stops the run before any instance
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| args.instances.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf));
    let mut instances = read_instances(&args.instances)?;
    instances.truncate(args.limit.unwrap_or(usize::MAX));
    let expected_path =
        args.expected.clone().or_else(|| Some(dir.join("expected_results.csv")).filter(|p| p.is_file()));
    let expected = expected_path.as_deref().map(read_expected).transpose()?.unwrap_or_default();
    let keys: Vec<String> = instances.iter().map(|i| format!("{} {}", i.onnx, i.vnnlib)).collect();
    let header = Header::new("run-instances", fingerprint(&args, expected_path.as_deref())?, keys.len(), json!({}));
    let mut store =
        args.batch.open(header, keys, (Some(&args.out), None, None), |r: &InstanceResult| vec![r.clone()])?;
    let bar = Progress::new(store.todo().len(), "instances");
    store.run(|i| {
        let inst = &instances[i];
        let timeout = inst.timeout * args.timeout_scale;
        let (verdict, seconds, note) = run_one(&dir, inst, timeout, (&args.solver, &args.mip))?;
        bar.set_message(format!("{} {verdict}", inst.vnnlib));
        bar.inc();
        let exp = expected.get(&(inst.onnx.clone(), inst.vnnlib.clone())).cloned().unwrap_or_default();
        let failed = verdict == "error";
        let seconds = (seconds * 1000.0).round() / 1000.0;
        let (onnx, vnnlib) = (inst.onnx.clone(), inst.vnnlib.clone());
        Ok((InstanceResult { onnx, vnnlib, result: verdict, seconds, timeout, expected: exp, note }, failed))
    })?;
    bar.finish();
    let results = store.into_units();
    report(&results, &args.out)
}

/// Prints the count and time of each answer and names the CSV; answers that contradict the
/// expected ones make it fail.
pub(super) fn report(results: &[InstanceResult], csv: &Path) -> Result<()> {
    let mut counts: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    let mut contradictions = Vec::new();
    for r in results {
        let c = counts.entry(&r.result).or_default();
        c.0 += 1;
        c.1 += r.seconds;
        if (r.result == "sat" && r.expected == "unsat") || (r.result == "unsat" && r.expected == "sat") {
            contradictions.push(format!("{} {}: {}, expected {}", r.onnx, r.vnnlib, r.result, r.expected));
        }
    }
    crate::say!("{:<10} {:>6} {:>12}", "result", "count", "seconds");
    for (k, (n, secs)) in counts {
        crate::say!("{k:<10} {n:>6} {secs:>12.1}");
    }
    crate::say!("results written to {}", csv.display());
    if !contradictions.is_empty() {
        return Err(Error::Input(format!(
            "{} answers contradict the expected results:\n{}",
            contradictions.len(),
            contradictions.join("\n")
        )));
    }
    Ok(())
}
