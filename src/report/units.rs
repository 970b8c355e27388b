//! Streamed batch results: every finished unit (a region × network pair, a sample, an instance)
//! is appended to a JSON Lines file, its rows to the CSV, and both are flushed at once; so a
//! killed run loses only the units in flight, and `--resume`, `--shard K/N` and `merge` read
//! the file back. A status file beside it says how far the run is.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, IoOp, Result};

/// Shard `k` of `n` (0 ≤ k < n): unit `i` belongs to it when `i mod n = k`, so N processes with
/// shards 0/N … N−1/N cover every unit exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

impl Shard {
    /// The whole batch.
    pub const ALL: Shard = Shard { k: 0, n: 1 };

    pub fn owns(&self, index: usize) -> bool {
        index % self.n == self.k
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (k, n) = s.split_once('/').ok_or(format!("shard '{s}': write K/N, e.g. 0/3 (shards 0 … N−1 of N)"))?;
        let num = |t: &str| t.trim().parse::<usize>().map_err(|_| format!("shard '{s}': '{t}' is not a whole number"));
        let (k, n) = (num(k)?, num(n)?);
        if n == 0 {
            return Err(format!("shard '{s}': N must be at least 1"));
        }
        if k >= n {
            return Err(format!("shard '{s}': K must be below N (shards are numbered 0 … {})", n - 1));
        }
        Ok(Shard { k, n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// The first line of a units file: what produced the units, so that resuming and merging can
/// refuse files from another spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub schema_version: u32,
    pub tool: String,
    /// The sub-command (`lrom`, `robust`, `boundary`, `resilience`, `run-instances`).
    pub command: String,
    /// Fingerprint of every setting and input file that decides the results.
    pub spec_hash: String,
    /// Units in the whole batch (all shards).
    pub total: usize,
    pub shard: Shard,
    /// What the command's report needs besides the units (network names, radii, …).
    pub context: serde_json::Value,
}

impl Header {
    /// The header of a whole batch (the shard is set when the store opens).
    pub fn new(command: &str, spec_hash: String, total: usize, context: serde_json::Value) -> Header {
        Header {
            schema_version: super::SCHEMA_VERSION,
            tool: format!("twinverify {}", env!("CARGO_PKG_VERSION")),
            command: command.into(),
            spec_hash,
            total,
            shard: Shard::ALL,
            context,
        }
    }
}

impl Header {
    /// Whether `other` comes from the same batch: command, fingerprint and unit count (the shard
    /// may differ).
    pub fn same_batch(&self, other: &Header) -> bool {
        (self.command.as_str(), &self.spec_hash, self.total) == (other.command.as_str(), &other.spec_hash, other.total)
    }
}

/// One finished unit, as a line of the file.
#[derive(Serialize, Deserialize)]
struct Line<T> {
    index: usize,
    key: String,
    unit: T,
}

#[derive(Serialize, Deserialize)]
struct HeaderLine {
    header: Header,
}

/// FNV-1a (64 bit) of the parts, as 16 hex digits: stable across builds and platforms.
pub fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&(part.len() as u64).to_le_bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The fingerprint of a batch: its settings (as text) and the bytes of the files it reads
/// (networks, data), so that resuming and merging refuse results of anything else.
pub fn spec_hash(settings: &str, files: &[&Path]) -> Result<String> {
    let bytes: Vec<Vec<u8>> =
        files.iter().map(|p| std::fs::read(p).map_err(|e| Error::read(p, e))).collect::<Result<_>>()?;
    Ok(fingerprint(std::iter::once(settings.as_bytes()).chain(bytes.iter().map(Vec::as_slice))))
}

/// Where a batch's units go: the JSON Lines file, and the CSV its rows are appended to.
#[derive(Clone, Debug, Default)]
pub struct Destination {
    pub jsonl: Option<PathBuf>,
    pub csv: Option<PathBuf>,
}

impl Destination {
    /// `--jsonl`, else the CSV's or the JSON's path with extension `.jsonl`, else none.
    pub fn new(jsonl: Option<&Path>, csv: Option<&Path>, json: Option<&Path>) -> Destination {
        // `--json -` is standard output, not a file to name the units file after
        let json = json.filter(|p| *p != Path::new("-"));
        let jsonl = jsonl.map(Path::to_path_buf).or_else(|| csv.or(json).map(|p| p.with_extension("jsonl")));
        Destination { jsonl, csv: csv.map(Path::to_path_buf) }
    }
}

/// The status file beside a units file: `out/a.jsonl` → `out/a.status.json`.
pub fn status_path(jsonl: &Path) -> PathBuf {
    jsonl.with_extension("status.json")
}

/// The open files of a streamed batch.
struct Sink {
    jsonl_path: PathBuf,
    jsonl: File,
    csv: Option<(PathBuf, csv::Writer<File>)>,
}

/// Turns a unit into its CSV rows.
type RowsOf<T, R> = Box<dyn Fn(&T) -> Vec<R>>;

/// A unit read back from a file: its index in the batch, its key and itself.
pub type Indexed<T> = (usize, String, T);

/// The units of one batch (or shard): those found in the file when resuming and those run now.
pub struct Store<T, R> {
    header: Header,
    keys: Vec<String>,
    done: BTreeMap<usize, T>,
    sink: Option<Sink>,
    rows: RowsOf<T, R>,
    start: Instant,
    ran: usize,
    failed: usize,
    resumed: usize,
}

impl<T: Serialize + DeserializeOwned, R: Serialize> Store<T, R> {
    /// Opens the batch whose units are `keys` (in their one fixed order). Without `resume`, an
    /// existing non-empty units file or CSV is an error, never overwritten; with it, the file's
    /// header must match and its units are kept (a last line cut off mid-write is dropped).
    pub fn open(
        header: Header,
        keys: Vec<String>,
        to: &Destination,
        resume: bool,
        rows: impl Fn(&T) -> Vec<R> + 'static,
    ) -> Result<Self> {
        let rows: RowsOf<T, R> = Box::new(rows);
        let mut store = Store {
            header,
            keys,
            done: BTreeMap::new(),
            sink: None,
            rows,
            start: Instant::now(),
            ran: 0,
            failed: 0,
            resumed: 0,
        };
        let Some(jsonl) = &to.jsonl else {
            if resume || store.header.shard != Shard::ALL {
                return Err(Error::Input("--resume and --shard need an output file (--jsonl, --csv or --json)".into()));
            }
            return Ok(store);
        };
        let existing = non_empty(jsonl);
        if !resume {
            if let Some(p) = [Some(jsonl), to.csv.as_ref()].into_iter().flatten().find(|p| non_empty(p)) {
                return Err(Error::Input(format!(
                    "{} already holds results of an earlier run: pass --resume to continue that run, \
                     --overwrite to start over, or choose another output",
                    p.display()
                )));
            }
        }
        if existing {
            store.load(jsonl)?;
            let todo = store.todo().len();
            log::info!("{}: resuming: {} units already done, {todo} to run", jsonl.display(), store.resumed);
        }
        store.sink = Some(store.open_sink(jsonl, to.csv.as_deref(), existing)?);
        store.write_status("running", None)?;
        Ok(store)
    }

    /// Reads the units an earlier run left in `path`, after checking it ran the same batch.
    fn load(&mut self, path: &Path) -> Result<()> {
        let (header, lines, cut) = read_lines::<T>(path)?;
        if !header.same_batch(&self.header) {
            return Err(Error::Input(format!(
                "{}: cannot resume: it holds `{}` results of another spec or settings (fingerprint {}, this run {}); \
                 choose another output",
                path.display(),
                header.command,
                header.spec_hash,
                self.header.spec_hash
            )));
        }
        if header.shard != self.header.shard {
            return Err(Error::Input(format!(
                "{}: cannot resume: it holds shard {}, this run is shard {}",
                path.display(),
                header.shard,
                self.header.shard
            )));
        }
        if let Some(valid) = cut {
            log::warn!("{}: the last unit was cut off mid-write; it is run again", path.display());
            let f = OpenOptions::new().write(true).open(path).map_err(|e| Error::write(path, e))?;
            f.set_len(valid).map_err(|e| Error::write(path, e))?;
        }
        for line in lines {
            if self.keys.get(line.index) != Some(&line.key) {
                return Err(Error::Input(format!(
                    "{}: unit {} ('{}') is not unit {} of this batch; choose another output",
                    path.display(),
                    line.index,
                    line.key,
                    line.index
                )));
            }
            self.done.insert(line.index, line.unit);
        }
        self.resumed = self.done.len();
        Ok(())
    }

    fn open_sink(&self, jsonl_path: &Path, csv: Option<&Path>, existing: bool) -> Result<Sink> {
        create_parent(jsonl_path)?;
        let mut jsonl =
            OpenOptions::new().create(true).append(true).open(jsonl_path).map_err(|e| Error::write(jsonl_path, e))?;
        if !existing {
            append_line(&mut jsonl, jsonl_path, &HeaderLine { header: self.header.clone() })?;
        }
        let csv = match csv {
            None => None,
            Some(p) => {
                // the CSV is a view of the units: when resuming it is rebuilt from them, so a
                // row cut off mid-write or rows of a unit missing from the units file go away
                let mut w = csv::Writer::from_writer(create_file(p)?);
                for unit in self.done.values() {
                    write_rows(&mut w, p, &(self.rows)(unit))?;
                }
                Some((p.to_path_buf(), w))
            }
        };
        Ok(Sink { jsonl_path: jsonl_path.to_path_buf(), jsonl, csv })
    }

    /// The units this run still has to do: those of its shard not already in the file.
    pub fn todo(&self) -> Vec<usize> {
        (0..self.keys.len()).filter(|&i| self.header.shard.owns(i) && !self.done.contains_key(&i)).collect()
    }

    /// Records a finished unit: appended and flushed at once. `failed` counts it in the status
    /// file as failed (an error or time-out of its own, not of the run).
    pub fn push(&mut self, index: usize, unit: T, failed: bool) -> Result<()> {
        if let Some(sink) = &mut self.sink {
            if let Some((p, w)) = &mut sink.csv {
                write_rows(w, p, &(self.rows)(&unit))?;
            }
            let line = Line { index, key: self.keys[index].clone(), unit };
            append_line(&mut sink.jsonl, &sink.jsonl_path, &line)?;
            self.done.insert(index, line.unit);
        } else {
            self.done.insert(index, unit);
        }
        self.ran += 1;
        self.failed += failed as usize;
        log::debug!("unit {index} ({}) done{}", self.keys[index], if failed { ", failed" } else { "" });
        self.write_status("running", None)
    }

    /// Runs every unit still to do through `unit`, recording each as it finishes; when one
    /// fails, the status file says so and the error is returned.
    pub fn run(&mut self, mut unit: impl FnMut(usize) -> Result<(T, bool)>) -> Result<()> {
        for i in self.todo() {
            match unit(i) {
                Ok((t, failed)) => self.push(i, t, failed)?,
                Err(e) => {
                    self.write_status("stopped", Some(&e.to_string()))?;
                    return Err(e);
                }
            }
        }
        self.finish()
    }

    /// Marks the batch finished in the status file.
    pub fn finish(&self) -> Result<()> {
        self.write_status("finished", None)
    }

    /// Every unit of this batch or shard, in the batch's order.
    pub fn units(&self) -> impl Iterator<Item = &T> {
        self.done.values()
    }

    /// Every unit of this batch or shard, in the batch's order, handed over.
    pub fn into_units(self) -> Vec<T> {
        self.done.into_values().collect()
    }

    /// Writes `<units>.status.json` (replaced atomically): units done, failed and remaining,
    /// elapsed seconds and an estimate of the rest.
    fn write_status(&self, state: &str, error: Option<&str>) -> Result<()> {
        let Some(sink) = &self.sink else { return Ok(()) };
        let owned = (0..self.keys.len()).filter(|&i| self.header.shard.owns(i)).count();
        let remaining = owned.saturating_sub(self.done.len());
        let elapsed = self.start.elapsed().as_secs_f64();
        let eta = (self.ran > 0).then(|| elapsed / self.ran as f64 * remaining as f64);
        let status = serde_json::json!({
            "command": self.header.command,
            "shard": self.header.shard.to_string(),
            "state": state,
            "units": owned,
            "done": self.done.len(),
            "resumed": self.resumed,
            "failed": self.failed,
            "remaining": remaining,
            "elapsed_seconds": elapsed,
            "eta_seconds": eta,
            "error": error,
            "updated_unix": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        });
        let path = status_path(&sink.jsonl_path);
        let tmp = path.with_extension("json.tmp");
        let text =
            serde_json::to_string_pretty(&status).map_err(|source| Error::Json { path: path.clone(), source })?;
        std::fs::write(&tmp, text + "\n").map_err(|e| Error::write(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::write(&path, e))
    }
}

fn non_empty(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

fn create_parent(path: &Path) -> Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|e| Error::create(dir, e)),
        None => Ok(()),
    }
}

/// Creates (or replaces) `path`, and its folder if needed.
pub fn create_file(path: &Path) -> Result<File> {
    create_parent(path)?;
    File::create(path).map_err(|e| Error::write(path, e))
}

fn append_line<S: Serialize>(f: &mut File, path: &Path, value: &S) -> Result<()> {
    let mut text = serde_json::to_string(value).map_err(|source| Error::Json { path: path.into(), source })?;
    text.push('\n');
    // one write per line, then flush: a kill leaves at most a cut-off last line
    f.write_all(text.as_bytes()).and_then(|()| f.flush()).map_err(|e| Error::write(path, e))
}

fn write_rows<R: Serialize>(w: &mut csv::Writer<File>, path: &Path, rows: &[R]) -> Result<()> {
    for r in rows {
        w.serialize(r).map_err(|e| Error::csv(path, IoOp::Write, e))?;
    }
    w.flush().map_err(|e| Error::write(path, e))
}

/// Opens a units file for reading.
fn open_units(path: &Path) -> Result<BufReader<File>> {
    File::open(path).map(BufReader::new).map_err(|e| Error::read(path, e))
}

/// Reads the header line of a units file; returns the header and the line's length in bytes.
fn header_line(reader: &mut impl BufRead, path: &Path) -> Result<(Header, usize)> {
    let mut line = String::new();
    let len = reader.read_line(&mut line).map_err(|e| Error::read(path, e))?;
    let bad = |what: String| Error::Input(format!("{}:1: {what}", path.display()));
    if !line.ends_with('\n') {
        let what = if line.is_empty() { "empty: no header line" } else { "the header line was cut off" };
        return Err(bad(format!("{what}; this is not a finished units file")));
    }
    let h: HeaderLine = serde_json::from_str(&line)
        .map_err(|e| bad(format!("not a twinverify units file (the first line is no header: {e})")))?;
    Ok((h.header, len))
}

/// The header of a units file (to learn which command wrote it), from its first line only.
pub fn read_header(path: &Path) -> Result<Header> {
    header_line(&mut open_units(path)?, path).map(|(header, _)| header)
}

/// A units file's header, units and, when its last line was cut off mid-write, the length of
/// the part before it.
fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<(Header, Vec<Line<T>>, Option<u64>)> {
    let mut reader = open_units(path)?;
    let (header, len) = header_line(&mut reader, path)?;
    let (mut lines, mut offset) = (Vec::new(), len as u64);
    let mut buf = String::new();
    for n in 2.. {
        buf.clear();
        let len = reader.read_line(&mut buf).map_err(|e| Error::read(path, e))?;
        if len == 0 {
            break;
        }
        if !buf.ends_with('\n') {
            return Ok((header, lines, Some(offset)));
        }
        offset += len as u64;
        let unit = serde_json::from_str(&buf)
            .map_err(|e| Error::Input(format!("{}:{n}: not a unit of this command: {e}", path.display())))?;
        lines.push(unit);
    }
    Ok((header, lines, None))
}

/// The units of shard files, merged in the batch's order, after checking that the files are
/// shards of one batch and cover every unit exactly once.
pub fn merge<T: DeserializeOwned>(paths: &[PathBuf]) -> Result<(Header, Vec<Indexed<T>>)> {
    let mut first: Option<(Header, &Path)> = None;
    let mut units: BTreeMap<usize, (String, T, &Path)> = BTreeMap::new();
    for path in paths {
        let (header, lines, cut) = read_lines::<T>(path)?;
        if cut.is_some() {
            log::warn!("{}: its last unit was cut off mid-write and is left out", path.display());
        }
        if let Some((h, p)) = &first {
            if !h.same_batch(&header) {
                return Err(Error::Input(format!(
                    "{} and {} are not shards of one batch: `{}` fingerprint {} with {} units, against `{}` {} with {}",
                    p.display(),
                    path.display(),
                    h.command,
                    h.spec_hash,
                    h.total,
                    header.command,
                    header.spec_hash,
                    header.total
                )));
            }
        }
        for line in lines {
            if let Some((_, _, other)) = units.get(&line.index) {
                return Err(Error::Input(format!(
                    "unit {} ('{}') is in both {} and {}: a shard was given twice or the shards overlap",
                    line.index,
                    line.key,
                    other.display(),
                    path.display()
                )));
            }
            units.insert(line.index, (line.key, line.unit, path));
        }
        first.get_or_insert((header, path));
    }
    let (header, _) = first.ok_or_else(|| Error::Input("give at least one shard file".into()))?;
    let missing: Vec<usize> = (0..header.total).filter(|i| !units.contains_key(i)).collect();
    if !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(|i| i.to_string()).collect();
        let mut shards: Vec<usize> = missing.iter().map(|i| i % header.shard.n).collect();
        shards.sort_unstable();
        shards.dedup();
        return Err(Error::Input(format!(
            "{} of {} units are missing (indices {}{}); they belong to shard(s) {} of {}, which did not \
             finish or were not given: re-run them with --resume, then merge again",
            missing.len(),
            header.total,
            shown.join(", "),
            if missing.len() > shown.len() { ", …" } else { "" },
            shards.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "),
            header.shard.n
        )));
    }
    let header = Header { shard: Shard::ALL, ..header };
    Ok((header, units.into_iter().map(|(i, (key, unit, _))| (i, key, unit)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_and_bad_shards_are_refused() {
        let shards: Vec<Shard> = (0..3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for i in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1, "unit {i}");
        }
        for bad in ["0/0", "3/3", "5/2", "1", "a/2", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!("2/5".parse::<Shard>().unwrap().to_string(), "2/5");
    }

    #[test]
    fn fingerprints_see_every_byte_and_the_boundaries() {
        let a = fingerprint([b"ab".as_slice(), b"c".as_slice()]);
        assert_ne!(a, fingerprint([b"a".as_slice(), b"bc".as_slice()]));
        assert_ne!(a, fingerprint([b"ab".as_slice(), b"d".as_slice()]));
        assert_eq!(a, fingerprint([b"ab".as_slice(), b"c".as_slice()]));
    }
}
