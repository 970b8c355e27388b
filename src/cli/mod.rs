//! Command-line interface: argument parsing (clap derive) and dispatch to the library.
//! Each sub-command lives in its own file and only formats what the library computes.

mod args;
mod bench;
mod boundary;
mod bounds;
mod equiv;
mod instances;
mod load;
mod logging;
mod lrom;
mod merge;
mod network;
mod plot;
mod progress;
mod resilience;
mod robust;
mod spec_file;
mod twins;
mod values;
mod verify;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Sound joint LP/MILP verification of neural-network twins.
#[derive(Debug, Parser)]
#[command(name = "twinverify", about, version, long_about = None, disable_version_flag = true)]
pub struct Cli {
    /// Print the solver's full name (VNN-LIB solver interface).
    #[arg(long)]
    name: bool,
    /// Print the version.
    #[arg(long, short = 'V')]
    version: bool,
    /// Errors only: no warnings, notes or progress.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More messages: -v debug, -vv trace (see also TWINVERIFY_LOG, e.g. TWINVERIFY_LOG=debug).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the layer IR of an ONNX classifier: layers, shapes, parameter counts.
    Info(network::InfoArgs),
    /// Run an ONNX classifier on one input and print its logits.
    Eval(network::EvalArgs),
    /// Neuron bounds around a point and ReLU stability per layer (interval, symbolic, alpha or LP).
    Bounds(bounds::BoundsArgs),
    /// LROM bounds and the implication "N2 ⇒ N1" over a batch of samples (spec or flags).
    Lrom(Box<lrom::LromArgs>),
    /// Benchmark: paper-faithful LROM baseline against the default fast path, in one run.
    Bench(bench::BenchArgs),
    /// Verified-robustness rate of one network over a batch of samples (certified margins).
    Robust(robust::RobustArgs),
    /// Verification-friendly twin (paper 002): sparsest weights keeping every validation phase and prediction.
    Sparsify(twins::SparsifyArgs),
    /// Pruned or quantised twin of a network, written as float32 ONNX.
    Compress(twins::CompressArgs),
    /// Decide a VNN-LIB query (1.0 or 2.x): sat (with a checked assignment), unsat, unknown or timed-out.
    Verify(Box<verify::VerifyArgs>),
    /// Capabilities, as the VNN-LIB solver interface asks for them (one flag per call).
    Supports(verify::SupportsArgs),
    /// Run a VNN-COMP benchmark folder (instances.csv) and write a results CSV with times.
    RunInstances(instances::RunInstancesArgs),
    /// Join the JSON Lines files of a batch's shards (--shard K/N runs) and rebuild its CSV, JSON and summary.
    Merge(merge::MergeArgs),
    /// Bar chart (SVG or PNG) of "compact ⇒ original" and "original ⇒ compact" from `lrom --csv` results.
    Plot(plot::PlotArgs),
    /// Maximum resilience Φ_m (paper 003): the smallest perturbation that drops class m out of the top k.
    Resilience(Box<resilience::ResilienceArgs>),
    /// Distance to the decision boundary per sample (paper 004), or the implication radius with --reference.
    Boundary(Box<boundary::BoundaryArgs>),
    /// Certify that two exports of one model agree: max |A − B| and equal argmax over regions.
    Equiv(Box<equiv::EquivArgs>),
    /// Run a YAML spec of any analysis (its `analysis:` key picks the command); flags after it
    /// override its values, e.g. `twinverify run specs/robust_mlp.yaml --delta 0.05`.
    Run {
        /// The spec (see specs/, or any command's --print-spec).
        spec: std::path::PathBuf,
        /// Flags of the analysis' command, overriding the spec.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        flags: Vec<std::ffi::OsString>,
    },
    /// Shell completions on standard output, e.g. `twinverify completions bash > /etc/bash_completion.d/twinverify`.
    Completions {
        /// The shell: bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// The manual page (roff) on standard output, e.g. `twinverify man > twinverify.1; man ./twinverify.1`.
    Man,
}

/// Parses the command line, runs it and maps errors to a message on stderr and exit code 1,
/// solver faults to a summary on stderr and exit code 3 (`equiv` also exits with its verdict's code).
pub fn main() -> ExitCode {
    run(std::env::args_os().collect())
}

/// `main` on the command line `argv` (its first item names the program).
fn run(argv: Vec<OsString>) -> ExitCode {
    let cli = match spec_file::parse::<Cli>(Cli::command(), &argv) {
        Ok(Some(cli)) => cli,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(cli.quiet, cli.verbose);
    let command = match cli.command {
        _ if cli.name => return print_line(verify::name()),
        _ if cli.version => return print_line(env!("CARGO_PKG_VERSION")),
        Some(c) => c,
        None => {
            eprintln!("error: a sub-command is required (see twinverify --help)");
            return ExitCode::from(2);
        }
    };
    let mut code = 0;
    let result = match command {
        Command::Info(a) => network::info(a),
        Command::Eval(a) => network::eval(a),
        Command::Bounds(a) => bounds::run(a),
        Command::Lrom(a) => lrom::run(*a),
        Command::Bench(a) => bench::run(a),
        Command::Robust(a) => robust::run(a),
        Command::Sparsify(a) => twins::run_sparsify(a),
        Command::Compress(a) => twins::run_compress(a),
        Command::Plot(a) => plot::run(a),
        Command::Verify(a) => verify::run(*a),
        Command::Supports(a) => verify::supports(a),
        Command::RunInstances(a) => instances::run(a),
        Command::Merge(a) => merge::run(a),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "twinverify", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map_err(|e| crate::error::Error::write("standard output", e)),
        Command::Resilience(a) => resilience::run(*a),
        Command::Boundary(a) => boundary::run(*a),
        Command::Equiv(a) => equiv::run(*a).map(|c| code = c),
        Command::Run { spec, flags } => match spec_file::command_of(&spec) {
            // the spec's command line: `COMMAND --spec SPEC` with the global flags and the rest
            Ok(command) => {
                let globals = cli.quiet.then_some("-q").into_iter().chain(["-v"].repeat(cli.verbose.into()));
                let program = argv.first().cloned().unwrap_or_else(|| "twinverify".into());
                let head = [program, command.into(), "--spec".into(), spec.into()];
                return run(head.into_iter().chain(globals.map(OsString::from)).chain(flags).collect());
            }
            Err(e) => Err(e),
        },
    };
    let (faults, strict) = crate::solve::faults::take();
    for (kind, n) in &faults {
        log::warn!("solver faults: {kind}: {n} solve(s); their bounds are the symbolic ones");
    }
    match result {
        Ok(()) if strict => {
            eprintln!(
                "error: the requested solver failed (exit code {SOLVER_FAULT}; --solver-fallback symbolic accepts it)"
            );
            ExitCode::from(SOLVER_FAULT)
        }
        Ok(()) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The exit code of a run that completed with solver faults (without `--solver-fallback symbolic`).
pub const SOLVER_FAULT: u8 = 3;

fn print_line(s: &str) -> ExitCode {
    println!("{s}");
    ExitCode::SUCCESS
}
