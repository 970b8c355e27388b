//! What an external solver's solution file says, as read by our own readers, and its matching to
//! our model by name: columns `x<i>` give the point, rows `r<i>` the row duals.

use std::collections::HashMap;

/// The status a solution file reports.
#[derive(Clone, Debug, PartialEq)]
pub enum FileStatus {
    Optimal,
    /// A point, but not proven optimal (time limit, iteration limit, …): why.
    Stopped(String),
    Infeasible,
    Unbounded,
    /// No usable point although the model was read (numerical trouble, a limit before any
    /// feasible point): why.
    NoSolution(String),
}

/// A solution file's content: status, column values and (for an LP) row duals by name.
#[derive(Clone, Debug, PartialEq)]
pub struct FileAnswer {
    pub status: FileStatus,
    pub columns: Vec<(String, f64)>,
    /// The dual section, or why it is missing or unusable.
    pub rows: Result<Vec<(String, f64)>, String>,
}

/// A number of a solution file; `what` names it in the error.
pub fn number(text: &str, what: &str) -> Result<f64, String> {
    text.trim().parse::<f64>().map_err(|_| format!("{what}: '{text}' is not a number"))
}

/// The index `i` of a name `<prefix><i>` written by our LP writer, if it is one below `n`.
fn index(name: &str, prefix: char, n: usize) -> Option<usize> {
    let i: usize = name.strip_prefix(prefix)?.parse().ok()?;
    (i < n && format!("{prefix}{i}") == name).then_some(i)
}

/// Values by name matched to the `n` names `<prefix>0 … <prefix>{n-1}`: every one exactly once,
/// finite, and no other name (`ignore` lists names that may appear, e.g. the objective row).
pub fn by_name(entries: &[(String, f64)], prefix: char, n: usize, ignore: &[&str]) -> Result<Vec<f64>, String> {
    let mut out = vec![f64::NAN; n];
    let mut seen = HashMap::new();
    for (name, v) in entries {
        if ignore.contains(&name.as_str()) {
            continue;
        }
        let i = index(name, prefix, n).ok_or_else(|| format!("unknown name '{name}'"))?;
        if seen.insert(i, ()).is_some() {
            return Err(format!("'{name}' appears twice"));
        }
        if !v.is_finite() {
            return Err(format!("'{name}' has the non-finite value {v}"));
        }
        out[i] = *v;
    }
    match out.iter().position(|v| v.is_nan()) {
        Some(i) => Err(format!("no value for '{prefix}{i}' ({} of {n} given)", seen.len())),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(v: &[(&str, f64)]) -> Vec<(String, f64)> {
        v.iter().map(|&(n, x)| (n.to_string(), x)).collect()
    }

    #[test]
    fn names_are_matched_exactly_once_and_never_by_position() {
        let ok = named(&[("r1", 2.0), ("obj", 9.0), ("r0", 1.0)]);
        assert_eq!(by_name(&ok, 'r', 2, &["obj"]).unwrap(), vec![1.0, 2.0]);
        for bad in [
            named(&[("r0", 1.0)]),                           // r1 missing
            named(&[("r0", 1.0), ("r1", 1.0), ("r2", 1.0)]), // r2 not in the model
            named(&[("r0", 1.0), ("r01", 1.0)]),             // not our spelling of r1
            named(&[("r0", 1.0), ("r0", 1.0)]),              // twice
            named(&[("r0", 1.0), ("r1", f64::NAN)]),         // not finite
            named(&[("r0", 1.0), ("x1", 1.0)]),              // a column among rows
        ] {
            assert!(by_name(&bad, 'r', 2, &["obj"]).is_err(), "{bad:?}");
        }
        assert!(number("1e-3", "x").is_ok() && number("1.2.3", "x").is_err());
    }
}
