//! Solver faults of this run (crash, kill at the time limit, missing or unreadable answer): each
//! kind is said on stderr the first time, counted, and summed up by the CLI, which sets the exit code.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::config::Fallback;

/// Faults by kind, and whether one of them happened without `--solver-fallback symbolic`.
struct Registry {
    counts: BTreeMap<String, usize>,
    strict: bool,
}

static FAULTS: Mutex<Registry> = Mutex::new(Registry { counts: BTreeMap::new(), strict: false });

/// Records one fault of kind `kind` (e.g. "cbc crashed"); the first of its kind is printed with
/// `detail`. Returns the message for the result's note.
pub fn record(kind: &str, detail: &str, fallback: Fallback) -> String {
    let note = format!("solver fault: {kind} ({detail})");
    if let Ok(mut r) = FAULTS.lock() {
        let n = r.counts.entry(kind.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            log::warn!("{note} [further '{kind}' faults are counted, not repeated]");
        }
        r.strict |= fallback == Fallback::Fail;
    }
    note
}

/// The faults so far (kind, count) and whether any should fail the run; clears the record.
pub fn take() -> (Vec<(String, usize)>, bool) {
    match FAULTS.lock() {
        Ok(mut r) => {
            let strict = std::mem::take(&mut r.strict);
            (std::mem::take(&mut r.counts).into_iter().collect(), strict)
        }
        Err(_) => (vec![("unrecorded solver faults".into(), 1)], true),
    }
}
