//! YAML specs for the analyses that take flags only (robust, boundary, resilience, equiv, bench):
//! a spec's keys become the defaults of the command's flags, so flags override them.
//!
//! The keys are `lrom`'s (`networks`, `data.csv`, `samples`, `delta`, `domain`, `bounds`,
//! `solver.*`, `output.*`, …) plus the command's own flags by their long name with `_` (e.g.
//! `max_epsilon`). `--print-spec` writes the effective values (file, flags and defaults) back as
//! such a spec, so `twinverify run` on it repeats the run exactly.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgMatches, Command};
use serde_json::Value;

use crate::error::{Error, Result};

/// The commands whose specs are read here (`lrom` reads its own, `spec::Spec`), with the
/// arguments `networks` fills in order (a multi-valued last one takes the rest).
const GENERIC: &[(&str, &[&str])] = &[
    ("robust", &["net"]),
    ("boundary", &["net", "reference"]),
    ("resilience", &["net"]),
    ("equiv", &["a", "b"]),
    ("bench", &["original", "compact"]),
];

/// Keys nested under a section: (section, key, argument).
const NESTED: &[(&str, &str, &str)] = &[
    ("data", "csv", "data"),
    ("data", "scale", "scale"),
    ("data", "mean", "mean"),
    ("data", "std", "std"),
    ("data", "layout", "layout"),
    ("solver", "name", "solver"),
    ("solver", "path", "solver_path"),
    ("solver", "time_limit", "time_limit"),
    ("solver", "threads", "threads"),
    ("solver", "mip_gap", "mip_gap"),
    ("solver", "keep_model", "keep_model"),
    ("solver", "options", "solver_option"),
    ("solver", "fallback", "solver_fallback"),
    ("output", "csv", "csv"),
    ("output", "json", "json"),
    ("output", "jsonl", "jsonl"),
];

/// Arguments that control a run rather than say what is computed: never spec keys.
const NOT_KEYS: &[&str] =
    &["spec", "print_spec", "resume", "overwrite", "shard", "quiet", "verbose", "help", "no_solve"];

/// Arguments holding a file name, made relative to the spec's folder when read.
const PATHS: &[&str] = &["data", "csv", "json", "jsonl", "solver_path", "keep_model", "reference", "input"];

/// The spec file and the request to print the effective spec, shared by every analysis.
#[derive(Debug, Default, clap::Args)]
pub struct SpecArgs {
    /// A YAML spec (see specs/, or `--print-spec`); flags given with it override its values.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Print the effective spec (the file's values with the flags applied, paths absolute) as
    /// YAML and stop: `twinverify run` on it repeats the run exactly.
    #[arg(long)]
    pub print_spec: bool,
}

/// The sub-command `twinverify run SPEC` stands for: the spec's `analysis` (lrom, implication and
/// matrix are `lrom`'s).
pub fn command_of(spec: &Path) -> Result<&'static str> {
    let analysis = read(spec)?.get("analysis").cloned().unwrap_or(Value::Null);
    match analysis.as_str().unwrap_or("lrom") {
        "lrom" | "implication" | "matrix" => Ok("lrom"),
        other => GENERIC.iter().map(|g| g.0).find(|&c| c == other).ok_or_else(|| {
            Error::Input(format!(
                "spec {}: unknown analysis '{other}' (lrom, implication, matrix, robust, boundary, resilience, equiv, bench)",
                spec.display()
            ))
        }),
    }
}

/// Parses the command line: with `--spec` on a generic command, the spec's values become its
/// flags' defaults first. `Ok(None)`: `--print-spec` printed the effective spec.
pub fn parse<C: clap::FromArgMatches>(command: Command, argv: &[OsString]) -> Result<Option<C>> {
    let lenient = command.clone().ignore_errors(true).try_get_matches_from(argv).ok();
    let sub = lenient.as_ref().and_then(|m| m.subcommand());
    let spec =
        sub.and_then(|(_, m)| m.try_get_raw("spec").ok().flatten()).and_then(|mut v| v.next().map(PathBuf::from));
    // a generic command, as declared (its arguments in the order of its help)
    let generic = sub.and_then(|(name, _)| GENERIC.iter().find(|g| g.0 == name)).and_then(|&(name, networks)| {
        command.find_subcommand(name).cloned().map(|declared| (name, networks, declared))
    });
    let mut parser = command;
    if let (Some((name, networks, declared)), Some(path)) = (&generic, &spec) {
        let defaults = defaults(path, name, networks, declared)?;
        parser = parser.mut_subcommand(name, |sc| {
            defaults
                .into_iter()
                .fold(sc, |sc, (id, values)| sc.mut_arg(id, |a| a.required(false).default_values(values)))
        });
    }
    let matches = finish(parser.try_get_matches_from(argv), spec.as_deref())?;
    if let Some((name, networks, declared)) = &generic {
        if let Some(m) = matches.subcommand_matches(name).filter(|m| m.get_flag("print_spec")) {
            crate::say!("{}", effective(declared, m, name, networks).trim_end_matches('\n'));
            return Ok(None);
        }
    }
    C::from_arg_matches(&matches).map(Some).map_err(|e| Error::Input(e.to_string()))
}

/// The matches, or clap's usage error (printed, exit code 2), naming the spec when its values
/// were the defaults.
fn finish(matches: std::result::Result<ArgMatches, clap::Error>, spec: Option<&Path>) -> Result<ArgMatches> {
    matches.map_err(|e| {
        if let (Some(path), true) = (spec, e.use_stderr()) {
            eprintln!("note: values of {} are the defaults of the flags", path.display());
        }
        e.exit()
    })
}

/// The spec file as a YAML mapping.
fn read(path: &Path) -> Result<serde_json::Map<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    let value: Value =
        serde_saphyr::from_str(&text).map_err(|e| Error::Spec { path: path.into(), source: Box::new(e) })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Error::Input(format!("spec {}: a spec is a mapping of keys (see specs/)", path.display()))),
    }
}

/// The defaults a spec gives the arguments of sub-command `name`: (argument, values).
fn defaults(path: &Path, name: &str, networks: &[&str], command: &Command) -> Result<Vec<(String, Vec<String>)>> {
    let bad = |m: String| Error::Input(format!("spec {}: {m}", path.display()));
    let base = path.parent().unwrap_or(Path::new("."));
    let set = |id: &str, value: &Value, key: &str| -> Result<Option<(String, Vec<String>)>> {
        let not_a_key = || bad(format!("`{key}` is not a key of {name} (its keys: {})", spec_keys(command).join(", ")));
        let arg = command.get_arguments().find(|a| a.get_id() == id).ok_or_else(not_a_key)?;
        let multiple = arg.get_num_args().is_some_and(|r| r.max_values() > 1) || arg.get_value_delimiter().is_some();
        let mut values = scalars(value).ok_or_else(|| bad(format!("`{key}` must be a value or a list of values")))?;
        if PATHS.contains(&id) {
            values = values.into_iter().map(|v| rebase(base, &v, id == "input")).collect();
        }
        let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        Ok(match () {
            _ if flag && values == ["false"] => None,
            _ if flag && values != ["true"] => return Err(bad(format!("`{key}` is true or false"))),
            _ if values.is_empty() => None,
            _ if multiple => Some((id.to_string(), values)),
            _ => Some((id.to_string(), vec![values.join(",")])),
        })
    };
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (key, value) in read(path)? {
        match (key.as_str(), &value) {
            (_, Value::Null) => {}
            ("analysis", v) if v.as_str() == Some(name) => {}
            ("analysis", v) => {
                let v = scalar(v).unwrap_or_default();
                return Err(bad(format!("it is a spec of `analysis: {v}`, not {name}; run it with `twinverify run`")));
            }
            ("networks", Value::Array(list)) => out.extend(network_paths(list, networks, base).map_err(bad)?),
            ("solve", Value::Bool(solve)) => out.extend(set("no_solve", &Value::Bool(!solve), "solve")?),
            (section @ ("data" | "solver" | "output"), Value::Object(inner)) => {
                for (k, v) in inner {
                    let full = format!("{section}.{k}");
                    let id = NESTED.iter().find(|n| n.0 == section && n.1 == k).map_or("", |n| n.2);
                    let v = match (id, v) {
                        ("solver_option", Value::Object(options)) => Value::Array(
                            options
                                .iter()
                                .map(|(o, v)| Value::String(format!("{o}={}", scalar(v).unwrap_or_default())))
                                .collect(),
                        ),
                        _ => v.clone(),
                    };
                    out.extend(set(id, &v, &full)?);
                }
            }
            (k, v) if !NOT_KEYS.contains(&k) && !NESTED.iter().any(|n| n.2 == k) => out.extend(set(k, v, k)?),
            (k, v) => out.extend(set("", v, k)?),
        }
    }
    Ok(out)
}

/// The network arguments a spec's `networks` list fills (paths, or `{name, path}` entries).
fn network_paths(list: &[Value], ids: &[&str], base: &Path) -> std::result::Result<Vec<(String, Vec<String>)>, String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        // the last argument takes the rest when it is a list (bench's compact networks)
        let id = ids.get(i).or(ids.last().filter(|&&id| id == "compact")).ok_or(format!(
            "`networks` lists {} networks; this analysis takes at most {}",
            list.len(),
            ids.len()
        ))?;
        let path = entry.get("path").unwrap_or(entry).as_str().ok_or("a network is a path or {name, path}")?;
        let path = rebase(base, path, false);
        match out.iter_mut().find(|(a, _)| a == id) {
            Some((_, values)) => values.push(path),
            None => out.push((id.to_string(), vec![path])),
        }
    }
    Ok(out)
}

/// The spec keys of a sub-command, in the order its help lists them.
fn spec_keys(command: &Command) -> Vec<String> {
    let ids: Vec<&str> = command.get_arguments().filter(|a| !a.is_positional()).map(|a| a.get_id().as_str()).collect();
    let mut keys = vec!["analysis".to_string(), "networks".into()];
    for &id in &ids {
        match id {
            "no_solve" => keys.push("solve".into()),
            _ if !NOT_KEYS.contains(&id) && !NESTED.iter().any(|n| n.2 == id) => keys.push(id.into()),
            _ => {}
        }
    }
    keys.extend(NESTED.iter().filter(|n| ids.contains(&n.2)).map(|(section, key, _)| format!("{section}.{key}")));
    keys
}

/// A YAML scalar as a flag's text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A scalar or a list of scalars as a flag's values.
fn scalars(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(list) => list.iter().map(scalar).collect(),
        v => scalar(v).map(|s| vec![s]),
    }
}

/// `value` relative to the spec's folder (only when that names a file, if `only_files`).
fn rebase(base: &Path, value: &str, only_files: bool) -> String {
    let p = Path::new(value);
    if value == "-" || p.is_absolute() || (only_files && !base.join(p).is_file()) {
        return value.to_string();
    }
    base.join(p).to_string_lossy().into_owned()
}

/// The effective spec of a parsed sub-command as YAML: every argument that has a value.
fn effective(command: &Command, m: &ArgMatches, name: &str, networks: &[&str]) -> String {
    let raw = |id: &str| -> Vec<String> {
        m.try_get_raw(id)
            .ok()
            .flatten()
            .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    };
    let absolute =
        |v: String| if v == "-" { v } else { std::path::absolute(&v).map_or(v, |a| a.to_string_lossy().into_owned()) };
    let mut yaml = format!("analysis: {name}\nnetworks:\n");
    for path in networks.iter().flat_map(|id| raw(id)) {
        let stem = Path::new(&path).file_stem().map_or("net".into(), |s| s.to_string_lossy().into_owned());
        yaml += &format!("  - {{name: {}, path: {}}}\n", quote(&stem), quote(&absolute(path)));
    }
    let mut sections: Vec<(&str, String)> = Vec::new();
    for arg in command.get_arguments().filter(|a| !a.is_positional()) {
        let id = arg.get_id().as_str();
        let mut values = raw(id);
        if values.is_empty() || networks.contains(&id) || (NOT_KEYS.contains(&id) && id != "no_solve") {
            continue;
        }
        if PATHS.contains(&id) && (id != "input" || Path::new(&values[0]).is_file()) {
            values = values.into_iter().map(absolute).collect();
        }
        let multiple = values.len() > 1 || arg.get_value_delimiter().is_some();
        let text = match values.as_slice() {
            [v] if !multiple && v.contains(',') && v.split(',').all(|p| p.trim().parse::<f64>().is_ok()) => {
                format!("[{v}]").replace(',', ", ")
            }
            [v] if !multiple => quote(v),
            vs => format!("[{}]", vs.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", ")),
        };
        match NESTED.iter().find(|n| n.2 == id) {
            Some((section, key, _)) => sections.push((section, format!("  {key}: {text}\n"))),
            None if id == "no_solve" => yaml += &format!("solve: {}\n", values[0] != "true"),
            None => yaml += &format!("{id}: {text}\n"),
        }
    }
    for section in ["data", "solver", "output"] {
        let lines: String = sections.iter().filter(|s| s.0 == section).map(|s| s.1.as_str()).collect();
        if !lines.is_empty() {
            yaml += &format!("{section}:\n{lines}");
        }
    }
    yaml
}

/// A YAML scalar: numbers, booleans and plain words or paths bare, anything else double-quoted
/// (JSON escapes).
fn quote(v: &str) -> String {
    let word = v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && v.chars().all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
        && !["null", "yes", "no", "on", "off", "y", "n"].contains(&v.to_ascii_lowercase().as_str());
    match word || v.parse::<f64>().is_ok_and(f64::is_finite) || v == "true" || v == "false" {
        true => v.to_string(),
        false => Value::String(v.to_string()).to_string(),
    }
}
