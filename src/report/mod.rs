//! Reports of batch runs: a readable summary table, the implication matrix, and CSV/JSON files
//! with one row per sample, radius, network pair and class pair.

pub mod plot;
pub mod units;

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analysis::batch::Outcome;
use crate::analysis::lrom::{PairResult, Verdict};
use crate::error::{Error, IoOp, Result};

/// One CSV row: a class pair of one region. Sample-level fields repeat on each of its rows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CsvRow {
    pub sample: usize,
    pub label: usize,
    pub delta: f64,
    pub n1: String,
    pub n2: String,
    pub c: usize,
    pub j: usize,
    pub certified_min: f64,
    pub attained_min: f64,
    pub certificate_min: String,
    pub certified_max: Option<f64>,
    pub attained_max: Option<f64>,
    pub independent_min: Option<f64>,
    pub independent_max: Option<f64>,
    pub implication_only_min: Option<f64>,
    pub verdict: String,
    pub seconds: f64,
    pub unstable_n1: usize,
    pub unstable_n2: usize,
    /// Why a solver answer was not used (solver fault, no duals, time limit), if so.
    #[serde(default)]
    pub note: Option<String>,
    /// Branch-and-bound nodes spent on the minimum and on the maximum (exact mode).
    #[serde(default)]
    pub nodes_min: Option<usize>,
    #[serde(default)]
    pub nodes_max: Option<usize>,
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Established => "established",
        Verdict::Violated => "implication-violated",
        Verdict::MarginNegative => "margin-negative",
        Verdict::Unknown => "unknown",
    }
}

/// Flattens outcomes into CSV rows (skipped samples produce none).
pub fn csv_rows(outcomes: &[Outcome], names: &[String]) -> Vec<CsvRow> {
    let mut rows = Vec::new();
    for o in outcomes {
        let Some(r) = &o.result else { continue };
        for p in &r.pairs {
            rows.push(CsvRow {
                sample: o.sample,
                label: o.label,
                delta: o.delta,
                n1: names[o.n1].clone(),
                n2: names[o.n2].clone(),
                c: p.c,
                j: p.j,
                certified_min: p.min.certified(),
                attained_min: p.min.attained().unwrap_or(f64::NAN),
                certificate_min: format!("{:?}", p.min.certificate).to_lowercase(),
                certified_max: p.max.as_ref().map(|m| m.certified()),
                attained_max: p.max.as_ref().and_then(|m| m.attained()),
                independent_min: p.independent.map(|i| i.0),
                independent_max: p.independent.map(|i| i.1),
                implication_only_min: p.implication_only.as_ref().map(|e| e.certified()),
                verdict: verdict_name(r.verdict).into(),
                seconds: r.seconds,
                unstable_n1: r.unstable[0],
                unstable_n2: r.unstable[1],
                note: pair_note(p),
                nodes_min: p.min.search.as_ref().map(|s| s.nodes),
                nodes_max: p.max.as_ref().and_then(|m| m.search.as_ref()).map(|s| s.nodes),
            });
        }
    }
    rows
}

/// The notes of a class pair's solves, joined (each said once).
fn pair_note(p: &PairResult) -> Option<String> {
    let mut notes: Vec<&str> = Vec::new();
    let all = [Some(&p.min), p.max.as_ref(), p.implication_only.as_ref()];
    for n in all.into_iter().flatten().filter_map(|e| e.bracket.note.as_deref()) {
        if !notes.contains(&n) {
            notes.push(n);
        }
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// Writes one CSV row per item (flat structs: a header from the field names).
pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut w = csv::Writer::from_writer(units::create_file(path)?);
    for r in rows {
        w.serialize(r).map_err(|e| Error::csv(path, IoOp::Write, e))?;
    }
    w.flush().map_err(|e| Error::write(path, e))
}

pub fn read_csv(path: &Path) -> Result<Vec<CsvRow>> {
    let mut r = csv::Reader::from_path(path).map_err(|e| Error::csv(path, IoOp::Read, e))?;
    r.deserialize().map(|row| row.map_err(|e| Error::csv(path, IoOp::Read, e))).collect()
}

/// The JSON document of a batch: the network names and every region's outcome.
pub fn json_doc(outcomes: &[Outcome], names: &[String]) -> serde_json::Value {
    serde_json::json!({ "networks": names, "regions": outcomes })
}

/// Writes any serialisable document as pretty JSON.
pub fn write_json_doc<T: Serialize>(path: &Path, doc: &T) -> Result<()> {
    let doc = serde_json::to_value(doc).map_err(|source| Error::Json { path: path.into(), source })?;
    let mut f = units::create_file(path)?;
    serde_json::to_writer_pretty(&mut f, &stamped(doc)).map_err(|source| Error::Json { path: path.into(), source })?;
    writeln!(f).map_err(|e| Error::write(path, e))
}

/// The layout version of every JSON document the tool writes, raised when a field changes its
/// meaning or goes away (new fields may appear without it).
pub const SCHEMA_VERSION: u32 = 2;

/// The fingerprint of the running analysis (`units::spec_hash`), once it is known.
static SPEC_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records the running analysis' fingerprint for [`stamped`] (the first one recorded stays).
pub fn set_spec_hash(hash: &str) {
    let _ = SPEC_HASH.set(hash.to_string());
}

/// A JSON document with what it came from: `schema_version`, `tool` (name and version),
/// `command_line` (as run) and, for an analysis, `spec_hash` (its settings and input files) are
/// added to an object; other documents are left as they are.
pub fn stamped(doc: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(fields) = doc else { return doc };
    let command_line: Vec<String> = std::env::args().collect();
    let mut out = serde_json::Map::new();
    out.insert("schema_version".into(), SCHEMA_VERSION.into());
    out.insert("tool".into(), format!("twinverify {}", env!("CARGO_PKG_VERSION")).into());
    out.insert("command_line".into(), command_line.into());
    if let Some(hash) = SPEC_HASH.get() {
        out.insert("spec_hash".into(), hash.clone().into());
    }
    out.extend(fields);
    serde_json::Value::Object(out)
}

/// Whether text output goes to standard error (when JSON takes standard output).
static TEXT_TO_STDERR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sends the text output ([`say!`](crate::say)) to standard error, or back to standard output.
pub fn text_to_stderr(on: bool) {
    TEXT_TO_STDERR.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether text output goes to standard error.
pub fn text_on_stderr() -> bool {
    TEXT_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed)
}

/// Prints a line of text output: on standard output, or on standard error when `--json` takes
/// standard output.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => {
        if $crate::report::text_on_stderr() { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

/// `v` with `decimals` decimals, a negative value that rounds to zero written as 0 (not -0.000).
pub fn fixed(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => text,
    }
}

/// Like [`fixed`], with a sign always (`+0.000000`, never `-0.000000`).
pub fn signed(v: f64, decimals: usize) -> String {
    let text = fixed(v, decimals);
    if text.starts_with('-') || !v.is_finite() {
        text
    } else {
        format!("+{text}")
    }
}

/// The median of `v` (the upper one for an even count), `None` when empty; sorts `v`.
pub fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Statistics of one (N1, N2, δ) group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub n1: usize,
    pub n2: usize,
    pub delta: f64,
    pub analysed: usize,
    pub skipped: usize,
    pub established: usize,
    /// Regions with a checked input of negative LROM margin (none violating the implication).
    pub margin_negative: usize,
    /// Regions with a checked input where N2 is right and N1 wrong.
    pub violated: usize,
    /// Mean certified LROM range width (max − min) and independent width, over class pairs.
    pub joint_width: Option<f64>,
    pub independent_width: Option<f64>,
    pub median_seconds: f64,
}

impl Summary {
    /// Share of analysed samples where N2 ⇒ N1 was established, in percent.
    pub fn established_percent(&self) -> f64 {
        if self.analysed == 0 {
            0.0
        } else {
            100.0 * self.established as f64 / self.analysed as f64
        }
    }
}

/// A group being summarised: its summary, seconds per region, joint and independent widths.
type Group = (Summary, Vec<f64>, Vec<f64>, Vec<f64>);

pub fn summarise(outcomes: &[Outcome]) -> Vec<Summary> {
    let mut groups: Vec<Group> = Vec::new();
    for o in outcomes {
        let idx = match groups.iter().position(|g| g.0.n1 == o.n1 && g.0.n2 == o.n2 && g.0.delta == o.delta) {
            Some(i) => i,
            None => {
                groups.push((
                    Summary { n1: o.n1, n2: o.n2, delta: o.delta, ..Default::default() },
                    vec![],
                    vec![],
                    vec![],
                ));
                groups.len() - 1
            }
        };
        let (s, secs, joint, indep) = &mut groups[idx];
        let Some(r) = &o.result else {
            s.skipped += 1;
            continue;
        };
        s.analysed += 1;
        s.established += (r.verdict == Verdict::Established) as usize;
        s.margin_negative += (r.verdict == Verdict::MarginNegative) as usize;
        s.violated += (r.verdict == Verdict::Violated) as usize;
        secs.push(r.seconds);
        joint.extend(r.widths());
        indep.extend(r.pairs.iter().filter_map(|p| p.independent.map(|(lo, hi)| hi - lo)));
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    groups
        .into_iter()
        .map(|(mut s, mut secs, joint, indep)| {
            s.median_seconds = median(&mut secs).unwrap_or(0.0);
            s.joint_width = mean(&joint);
            s.independent_width = mean(&indep);
            s
        })
        .collect()
}

/// The summary as a text table.
pub fn summary_table(summaries: &[Summary], names: &[String]) -> String {
    let mut t = format!(
        "{:<34} {:>7} {:>8} {:>6} {:>12} {:>10} {:>9} {:>11} {:>11} {:>9} {:>9}\n",
        "N1 ⇐ N2 (N2 implies N1)",
        "delta",
        "samples",
        "skip",
        "established",
        "margin-neg",
        "violated",
        "LROM width",
        "indep width",
        "gain",
        "median s"
    );
    for s in summaries {
        // the spec's order [N1, N2], the arrow pointing the way the implication goes
        let pair = format!("{} ⇐ {}", names[s.n1], names[s.n2]);
        let w = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        let gain = match (s.joint_width, s.independent_width) {
            (Some(j), Some(i)) if i > 0.0 => format!("{:.1}%", 100.0 * (i - j) / i),
            _ => "-".into(),
        };
        t.push_str(&format!(
            "{pair:<34} {:>7} {:>8} {:>6} {:>11.1}% {:>10} {:>9} {:>11} {:>11} {:>9} {:>9.3}\n",
            s.delta,
            s.analysed,
            s.skipped,
            s.established_percent(),
            s.margin_negative,
            s.violated,
            w(s.joint_width),
            w(s.independent_width),
            gain,
            s.median_seconds
        ));
    }
    t
}

/// The implication matrix for one radius: row N2 (reference), column N1 (subject), cell = share
/// of samples where N2 ⇒ N1 is established.
pub fn matrix_table(summaries: &[Summary], names: &[String], delta: f64) -> String {
    let width = names.iter().map(|n| n.len()).max().unwrap_or(4).max(8);
    let mut t = format!("implication matrix at delta {delta} (row N2 ⇒ column N1, % of samples)\n{:width$}", "");
    for n in names {
        t.push_str(&format!(" {n:>width$}"));
    }
    t.push('\n');
    for (b, row) in names.iter().enumerate() {
        t.push_str(&format!("{row:width$}"));
        for a in 0..names.len() {
            let cell = summaries
                .iter()
                .find(|s| s.n1 == a && s.n2 == b && s.delta == delta)
                .map_or("-".to_string(), |s| format!("{:.1}", s.established_percent()));
            t.push_str(&format!(" {cell:>width$}"));
        }
        t.push('\n');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::{fixed, signed};

    #[test]
    fn tiny_negatives_print_as_zero() {
        assert_eq!(fixed(-1e-17, 6), "0.000000");
        assert_eq!(fixed(-0.0, 2), "0.00");
        assert_eq!(fixed(-0.004, 2), "0.00");
        assert_eq!(fixed(-0.006, 2), "-0.01");
        assert_eq!(signed(-1e-12, 3), "+0.000");
        assert_eq!(signed(0.5, 1), "+0.5");
        assert_eq!(signed(-2.25, 1), "-2.2");
        assert_eq!(fixed(f64::NAN, 2), "NaN");
    }
}
