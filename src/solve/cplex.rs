//! IBM CPLEX's interactive `cplex -c`: its commands and a reader of the XML solution file
//! (`header@solutionStatusValue`, `variable@name/value`, `constraint@name/dual`).

use std::ffi::OsString;
use std::path::Path;

use super::answer::{number, FileAnswer, FileStatus};
use super::SolverConfig;

/// The solution file CPLEX is told to write.
pub const SOLUTION: &str = "solution.sol";

/// `cplex -c` commands: read, set the parameters (`a.b.c=v` is `set a b c v`), optimise, write.
pub fn arguments(cfg: &SolverConfig, model: &Path) -> Vec<OsString> {
    let mut c = vec![format!("read {}", model.display())];
    c.extend(cfg.time_limit.map(|t| format!("set timelimit {}", t.max(0.0))));
    c.extend(cfg.threads.map(|n| format!("set threads {n}")));
    c.extend(cfg.mip_gap.map(|g| format!("set mip tolerances mipgap {g}")));
    c.extend(cfg.options.iter().map(|(k, v)| format!("set {} {v}", k.replace('.', " "))));
    c.extend(["optimize".to_string(), format!("write {SOLUTION}"), "quit".to_string()]);
    std::iter::once(OsString::from("-c")).chain(c.into_iter().map(OsString::from)).collect()
}

/// Every element `<tag …/>` of the document with its attributes (a reader for this flat format,
/// not a general XML parser).
fn elements(text: &str) -> Vec<(&str, Vec<(&str, &str)>)> {
    let mut out = Vec::new();
    for chunk in text.split('<').skip(1) {
        let body = chunk.split('>').next().unwrap_or("");
        let mut rest = body.trim_start_matches(['?', '!', '/']);
        let tag_end = rest.find(|c: char| c.is_whitespace() || c == '/').unwrap_or(rest.len());
        let tag = &rest[..tag_end];
        rest = &rest[tag_end..];
        let mut attrs = Vec::new();
        while let Some((key, after)) = rest.split_once("=\"") {
            let Some((value, tail)) = after.split_once('"') else { break };
            attrs.push((key.trim(), value));
            rest = tail;
        }
        out.push((tag, attrs));
    }
    out
}

fn attr<'a>(attrs: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Parses the XML solution file; duals come from the `dual` attribute of each constraint.
pub fn read(text: &str) -> Result<FileAnswer, String> {
    let els = elements(text);
    if !els.iter().any(|(t, _)| *t == "CPLEXSolution") {
        return Err("not a CPLEX solution file (no CPLEXSolution element)".into());
    }
    let code = els
        .iter()
        .find(|(t, _)| *t == "header")
        .and_then(|(_, a)| attr(a, "solutionStatusValue"))
        .ok_or("CPLEX solution file without a header status")?;
    // CPLEX status codes: 1 optimal (LP), 101/102 integer optimal (within the gap), 2 and 118
    // unbounded, 3, 103 infeasible, 4 infeasible or unbounded; others stop early (limits)
    let status = match code.trim() {
        "1" | "101" | "102" => FileStatus::Optimal,
        "3" | "4" | "103" => FileStatus::Infeasible,
        "2" | "118" => FileStatus::Unbounded,
        c => FileStatus::Stopped(format!("cplex stopped with status {c} (time limit or similar)")),
    };
    let named = |tag: &str, key: &str| -> Result<Vec<(String, f64)>, String> {
        els.iter()
            .filter(|(t, _)| *t == tag)
            .map(|(_, a)| {
                let name = attr(a, "name").ok_or_else(|| format!("a {tag} without a name"))?;
                let v = attr(a, key).ok_or_else(|| format!("{tag} '{name}' without '{key}'"))?;
                Ok((name.to_string(), number(v, name)?))
            })
            .collect()
    };
    let columns = named("variable", "value")?;
    let rows =
        named("constraint", "dual").and_then(|r| if r.is_empty() { Err("no constraints".into()) } else { Ok(r) });
    Ok(FileAnswer { status, columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_become_set_commands() {
        let cfg = SolverConfig {
            threads: Some(1),
            options: [("lpmethod".to_string(), super::super::config::OptionValue::Int(4))].into(),
            ..Default::default()
        };
        let a: Vec<String> = arguments(&cfg, Path::new("m.lp")).iter().map(|s| s.to_string_lossy().into()).collect();
        assert_eq!(a, ["-c", "read m.lp", "set threads 1", "set lpmethod 4", "optimize", "write solution.sol", "quit"]);
    }
}
