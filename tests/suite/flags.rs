//! One meaning per flag: every command that takes a shared flag (data, region, solver, output,
//! batch) documents it with the same help text and value name, and the shell completions and the
//! manual page cover every command.

use crate::common;

use std::collections::BTreeMap;

use clap::CommandFactory;
use twinverify::cli::Cli;

/// The flags that must mean one thing wherever they appear. (`--json` still has two: a file of
/// results for the batch commands, JSON on standard output instead of text for info, eval,
/// bounds, sparsify and compress.)
const SHARED: &[&str] = &[
    "data",
    "scale",
    "mean",
    "std",
    "layout",
    "samples",
    "delta",
    "domain",
    "solver",
    "solver-path",
    "solver-option",
    "solver-fallback",
    "time-limit",
    "threads",
    "csv",
    "jsonl",
    "resume",
    "overwrite",
    "shard",
    "spec",
    "print-spec",
    "mip-gap",
];

/// Flags offered by exactly these commands: a flag that means nothing to a command (a MIP gap
/// where nothing solves a MILP) is not offered there.
const ONLY: &[(&str, &[&str])] = &[
    ("mip-gap", &["boundary", "lrom", "resilience", "run-instances", "verify"]),
    ("spec", &["bench", "boundary", "equiv", "lrom", "resilience", "robust"]),
    ("print-spec", &["bench", "boundary", "equiv", "lrom", "resilience", "robust"]),
];

/// Commands that read results rather than run an analysis: their `--delta` picks among the
/// radii of the results.
const READERS: &[&str] = &["plot", "merge"];

/// Commands that must offer a flag group.
const GROUPS: &[(&str, &[&str])] = &[
    ("data", &["lrom", "robust", "boundary", "bounds", "eval", "equiv", "bench", "sparsify", "compress"]),
    ("delta", &["lrom", "robust", "bounds", "equiv", "compress"]),
    ("solver", &["lrom", "robust", "boundary", "resilience", "verify", "run-instances", "equiv"]),
    ("shard", &["lrom", "robust", "boundary", "resilience", "run-instances"]),
    ("resume", &["lrom", "robust", "boundary", "resilience", "run-instances"]),
    ("csv", &["lrom", "robust", "boundary", "resilience", "equiv", "bench"]),
    (
        "json",
        &[
            "info",
            "eval",
            "bounds",
            "lrom",
            "robust",
            "boundary",
            "resilience",
            "equiv",
            "bench",
            "sparsify",
            "compress",
        ],
    ),
];

#[test]
fn shared_flags_mean_the_same_in_every_command() {
    // clap's own checks over every command (no flag or short option defined twice, …)
    Cli::command().debug_assert();
    let cli = Cli::command();
    // flag → (help text and value names) → commands
    let mut seen: BTreeMap<&str, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut offered: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for cmd in cli.get_subcommands().filter(|c| !READERS.contains(&c.get_name())) {
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            offered.entry(long.to_string()).or_default().push(cmd.get_name().to_string());
            if let Some(flag) = SHARED.iter().find(|f| **f == long) {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                let names =
                    arg.get_value_names().map(|v| v.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" "));
                let meaning = format!("{help} [{}]", names.unwrap_or_default());
                seen.entry(flag).or_default().entry(meaning).or_default().push(cmd.get_name().into());
            }
        }
    }
    let differing: Vec<String> = seen
        .iter()
        .filter(|(_, meanings)| meanings.len() > 1)
        .map(|(flag, meanings)| format!("--{flag}: {meanings:#?}"))
        .collect();
    assert!(differing.is_empty(), "shared flags with more than one meaning:\n{}", differing.join("\n"));
    for (flag, commands) in GROUPS {
        let have = offered.get(*flag).cloned().unwrap_or_default();
        let missing: Vec<&&str> = commands.iter().filter(|c| !have.iter().any(|h| h == **c)).collect();
        assert!(missing.is_empty(), "--{flag} is missing from {missing:?}");
    }
    for (flag, commands) in ONLY {
        let mut have = offered.get(*flag).cloned().unwrap_or_default();
        have.sort();
        assert_eq!(have, *commands, "--{flag}");
    }
}

#[test]
fn completions_and_the_manual_cover_every_command() {
    let names: Vec<String> = Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
    assert!(names.len() >= 18, "{names:?}");
    for shell in ["bash", "zsh", "fish"] {
        let (ok, out, err) = common::run_cli(&["completions", shell]);
        assert!(ok, "{shell}: {err}");
        for n in &names {
            assert!(out.contains(n.as_str()), "{shell} completions lack `{n}`");
        }
    }
    let (ok, man, err) = common::run_cli(&["man"]);
    assert!(ok, "{err}");
    assert!(man.contains(".TH twinverify 1") && man.contains(env!("CARGO_PKG_VERSION")), "{}", &man[..200]);
    for n in &names {
        assert!(
            man.contains(&format!("twinverify\\-{}", n.replace('-', "\\-"))) || man.contains(n.as_str()),
            "man lacks `{n}`"
        );
    }
    let (ok, _, err) = common::run_cli(&["completions", "tcsh"]);
    assert!(!ok && err.contains("possible values"), "{err}");
}
