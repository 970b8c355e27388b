//! The VNN-LIB standard's solver interface: `verify` (first stdout line sat | unsat | unknown |
//! timed-out, then the assignment) and `supports` (honest capability answers).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use clap::Args;
use prost::Message;
use tract_onnx::pb;

use super::args::SolverArgs;
use crate::analysis::verify::{self, Checker, Verdict, VerifyOptions, Witness};
use crate::error::{Error, Result};
use crate::vnnlib::{self, Query, TensorDecl};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The VNN-LIB query (1.0 or 2.x).
    pub query: PathBuf,
    /// NAME=FILE.onnx for every network the query declares (except `equal-to` ones); a 1.0
    /// query takes one file under any name.
    #[arg(long = "network", value_parser = parse_binding, required = true)]
    pub networks: Vec<(String, PathBuf)>,
    /// Seconds the whole run may take (integer or decimal); the answer is printed within it.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Write the satisfying assignment as ONNX TensorProto files NAME.pb into this folder.
    #[arg(long)]
    pub serialise_assignments: Option<PathBuf>,
    /// Also write the answer in VNN-COMP's result format (`sat` + `((X_0 v) ... (Y_0 v))`).
    #[arg(long)]
    pub vnncomp_result: Option<PathBuf>,
    /// Split input coordinates when the (joint) input has at most this many variables.
    #[arg(long, default_value_t = VerifyOptions::default().split_dims)]
    pub split_dims: usize,
    /// `unsat` also for float32 inference (onnxruntime, tract, PyTorch), not only for the
    /// networks in real arithmetic.
    #[arg(long)]
    pub float_sound: bool,
    #[command(flatten)]
    pub solver: SolverArgs,
    #[command(flatten)]
    pub mip: super::args::MipGapArgs,
}

fn parse_binding(s: &str) -> std::result::Result<(String, PathBuf), String> {
    let (name, path) = s.split_once('=').ok_or("write NAME=FILE.onnx")?;
    if name.is_empty() || path.is_empty() {
        return Err("write NAME=FILE.onnx".into());
    }
    Ok((name.to_string(), PathBuf::from(path)))
}

/// The answer is printed exactly once: by the run, or by the watchdog when time is up.
fn printed() -> &'static Mutex<bool> {
    static PRINTED: OnceLock<Mutex<bool>> = OnceLock::new();
    PRINTED.get_or_init(|| Mutex::new(false))
}

/// Prints `text` unless the watchdog already answered; returns whether it printed.
fn answer_once(text: &str) -> bool {
    let mut done = printed().lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return false;
    }
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    *done = true;
    true
}

/// When, in seconds from the start, the search stops and the answer is due.
#[derive(Debug, PartialEq)]
struct Schedule {
    search_until: f64,
    answer_by: f64,
}

/// For a time limit of `t` seconds: the answer is due min(10 %, 2 s) before the limit, and the
/// search stops min(20 %, 3 s) before that, time enough to end the node LP or MILP in progress
/// and print. Short limits keep the proportions (70 % and 90 %); long ones lose only 5 s.
fn schedule(t: f64) -> Schedule {
    let answer_by = t - (0.1 * t).min(2.0);
    Schedule { search_until: answer_by - (0.2 * t).min(3.0), answer_by }
}

/// Answers `timed-out` and exits if the run has not answered by `limit`.
fn start_watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        if answer_once("timed-out\n") {
            eprintln!("twinverify: no answer within the time limit");
            std::process::exit(0);
        }
    });
}

pub fn run(args: VerifyArgs) -> Result<()> {
    let start = Instant::now();
    if let Some(t) = args.timeout {
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::Input(format!("--timeout {t}: give a positive number of seconds")));
        }
        start_watchdog(Duration::from_secs_f64(schedule(t).answer_by));
    }
    let query = vnnlib::parse_file(&args.query)?;
    let bound = verify::bind_as(&query, &args.networks, args.float_sound)?;
    let nets: Vec<&crate::ir::Network> = bound.models.iter().map(|m| &m.network).collect();
    let checker = Checker { nets: &nets, runners: &bound.runners, space: &bound.space };
    let opts = VerifyOptions {
        solver: args.solver.apply(args.mip.apply(Default::default()))?,
        deadline: args.timeout.map(|t| start + Duration::from_secs_f64(schedule(t).search_until)),
        split_dims: args.split_dims,
        float_sound: args.float_sound,
        ..Default::default()
    };
    let answer = verify::verify(&checker, &bound.disjuncts, &opts)?;
    // one message per line (an undecided query has a note per open disjunct)
    for line in answer.note.iter().flat_map(|n| n.lines()) {
        log::info!("twinverify: {line}");
    }
    let mut text = format!("{}\n", answer.verdict);
    if let Some(w) = &answer.witness {
        match &args.serialise_assignments {
            Some(dir) => serialise(dir, &query, w)?,
            None => text.push_str(&assignment(&query, w)),
        }
    }
    if let Some(path) = &args.vnncomp_result {
        let body = vnncomp_result(answer.verdict, answer.witness.as_ref());
        std::fs::write(path, body).map_err(|e| Error::write(path, e))?;
    }
    answer_once(&text);
    Ok(())
}

/// Every declared tensor with its values, network by network in declaration order (inputs, then
/// outputs; hidden tensors are not part of an assignment).
fn tensors<'a>(q: &'a Query, w: &'a Witness) -> Vec<(&'a TensorDecl, &'a [f64])> {
    let expanded = crate::vnnlib::expand(q).ok();
    let mut out = Vec::new();
    for (k, n) in q.networks.iter().enumerate() {
        let mut rest = w.inputs[k].as_slice();
        for t in &n.inputs {
            let (part, more) = rest.split_at(t.numel().min(rest.len()));
            out.push((t, part));
            rest = more;
        }
        for (t, decl) in n.outputs.iter().enumerate() {
            if let Some(j) = expanded.as_ref().and_then(|e| e.output_network(k, t)) {
                out.push((decl, w.outputs[j].as_slice()));
            }
        }
    }
    out
}

/// The standard's command-line assignment format.
fn assignment(q: &Query, w: &Witness) -> String {
    let mut s = String::new();
    for (t, values) in tensors(q, w) {
        let dims: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
        s.push_str(&format!("{} {} [{}]\n", t.name, t.elem_type, dims.join(",")));
        values.iter().for_each(|v| s.push_str(&format!("{v:?}\n")));
    }
    s
}

/// One TensorProto file per declared tensor (float32 and float16 as declared, double otherwise).
fn serialise(dir: &Path, q: &Query, w: &Witness) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e))?;
    for (t, values) in tensors(q, w) {
        let mut tensor = pb::TensorProto {
            name: t.name.clone(),
            dims: t.shape.iter().map(|&d| d as i64).collect(),
            ..Default::default()
        };
        if t.elem_type == "float32" {
            tensor.data_type = pb::tensor_proto::DataType::Float as i32;
            tensor.float_data = values.iter().map(|&v| v as f32).collect();
        } else if t.elem_type == "float16" {
            // float16 values travel as their bit patterns in int32_data (the ONNX convention)
            tensor.data_type = pb::tensor_proto::DataType::Float16 as i32;
            tensor.int32_data = values.iter().map(|&v| half::f16::from_f64(v).to_bits() as i32).collect();
        } else {
            tensor.data_type = pb::tensor_proto::DataType::Double as i32;
            tensor.double_data = values.to_vec();
        }
        let path = dir.join(format!("{}.pb", t.name));
        std::fs::write(&path, tensor.encode_to_vec()).map_err(|e| Error::write(&path, e))?;
    }
    Ok(())
}

/// VNN-COMP's result file: the verdict (`timeout` for timed-out) and, after `sat`, the first
/// network's input and output as `((X_0 v) ... (Y_0 v))`.
pub fn vnncomp_result(verdict: Verdict, witness: Option<&Witness>) -> String {
    let word = match verdict {
        Verdict::TimedOut => "timeout".to_string(),
        v => v.to_string(),
    };
    let Some(w) = witness else { return format!("{word}\n") };
    let mut s = format!("{word}\n(");
    w.inputs[0].iter().enumerate().for_each(|(i, v)| s.push_str(&format!("(X_{i} {v:?})\n")));
    let n = w.outputs[0].len();
    w.outputs[0]
        .iter()
        .enumerate()
        .for_each(|(i, v)| s.push_str(&format!("(Y_{i} {v:?}){}", if i + 1 == n { ")\n" } else { "\n" })));
    s
}

/// Capability questions of the standard; exactly one per call.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SupportsArgs {
    /// Minimum and maximum ONNX opset versions.
    #[arg(long)]
    onnx_opset_versions: bool,
    /// Element types whose queries are answered soundly.
    #[arg(long)]
    onnx_element_types: bool,
    /// ONNX operators the front-end converts (one per line).
    #[arg(long)]
    onnx_operators: bool,
    /// Minimum and maximum VNN-LIB versions.
    #[arg(long)]
    vnnlib_versions: bool,
    #[arg(long)]
    hidden_node_theories: bool,
    #[arg(long, visible_alias = "multiple-inputs-output-theories")]
    multiple_input_output_theories: bool,
    #[arg(long)]
    multiple_network_theories: bool,
    #[arg(long)]
    multiple_node_comparison_theories: bool,
    #[arg(long)]
    arithmetic_complexity_theories: bool,
    #[arg(long)]
    optimised_disjunctive_reasoning: bool,
    #[arg(long)]
    serialise_assignments: bool,
}

pub fn supports(a: SupportsArgs) -> Result<()> {
    let opsets = crate::onnx::OPSET_VERSIONS;
    let opsets = [opsets.start().to_string(), opsets.end().to_string()];
    let lines: Vec<&str> = if a.onnx_opset_versions {
        opsets.iter().map(String::as_str).collect()
    } else if a.onnx_element_types {
        vec!["float32", "real"]
    } else if a.onnx_operators {
        crate::onnx::claimed_operators()
    } else if a.vnnlib_versions {
        crate::vnnlib::VERSIONS.to_vec()
    } else if a.hidden_node_theories {
        vec!["NH", "H"]
    } else if a.multiple_input_output_theories {
        vec!["SIO", "MIO"]
    } else if a.multiple_network_theories {
        vec!["SNET", "MNET", "MENET", "MINET"]
    } else if a.multiple_node_comparison_theories {
        vec!["SNC", "MNC"]
    } else if a.arithmetic_complexity_theories {
        vec!["BND", "OUTC", "LIN"]
    } else if a.optimised_disjunctive_reasoning {
        vec!["false"]
    } else {
        vec!["true"]
    };
    println!("{}", lines.join("\n"));
    Ok(())
}

/// `--version` prints the bare version; `--name` the full name.
pub fn name() -> &'static str {
    "twinverify (sound LP/MILP verification of neural-network twins)"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_limits_search_almost_to_the_end_and_short_ones_keep_their_margins() {
        assert_eq!(schedule(300.0), Schedule { search_until: 295.0, answer_by: 298.0 });
        let short = schedule(5.0);
        assert!((short.search_until - 3.5).abs() < 1e-12 && (short.answer_by - 4.5).abs() < 1e-12);
        for t in [0.01, 1.0, 12.0, 60.0, 1e4] {
            let s = schedule(t);
            assert!(0.0 < s.search_until && s.search_until < s.answer_by && s.answer_by < t, "{t}: {s:?}");
        }
    }
}
