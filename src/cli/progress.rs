//! Progress of a batch on stderr: a bar on a terminal; elsewhere (CI logs, cluster jobs) a
//! timestamped line at the start, every `TWINVERIFY_PROGRESS_SECS` seconds (default 10) and at the end.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};

/// Seconds between two progress lines when stderr is not a terminal, unless the environment
/// variable `TWINVERIFY_PROGRESS_SECS` says otherwise.
const PLAIN_EVERY: f64 = 10.0;

/// A batch's progress: `len` items called `unit`.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: Mutex<Plain>,
    len: usize,
    unit: String,
    /// `--quiet`: nothing is shown.
    hidden: bool,
}

/// What the plain (non-terminal) lines need.
struct Plain {
    done: usize,
    start: Instant,
    last: Option<Instant>,
    every: Duration,
    message: String,
}

impl Progress {
    /// A bar when stderr is a terminal, timestamped lines otherwise (the first one now).
    pub fn new(len: usize, unit: &str) -> Progress {
        let hidden = !log::log_enabled!(log::Level::Info);
        let bar = (!hidden && std::io::stderr().is_terminal()).then(|| {
            let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}  {{elapsed}} elapsed, ETA {{eta}}  {{msg}}");
            let bar = ProgressBar::new(len as u64);
            bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
            bar
        });
        let every = std::env::var("TWINVERIFY_PROGRESS_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(PLAIN_EVERY);
        let plain = Plain {
            done: 0,
            start: Instant::now(),
            last: None,
            every: Duration::from_secs_f64(every),
            message: String::new(),
        };
        let p = Progress { bar, plain: Mutex::new(plain), len, unit: unit.to_string(), hidden };
        p.line(false);
        p
    }

    /// What the item being worked on is (shown with the next bar update or line).
    pub fn set_message(&self, message: String) {
        match &self.bar {
            Some(bar) => bar.set_message(message),
            None => self.with_plain(|p| p.message = message),
        }
    }

    /// One more item done.
    pub fn inc(&self) {
        match &self.bar {
            Some(bar) => bar.inc(1),
            None => {
                self.with_plain(|p| p.done += 1);
                self.line(false);
            }
        }
    }

    /// The batch is over: the bar goes, or a last line says how long it took.
    pub fn finish(&self) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => self.line(true),
        }
    }

    fn with_plain(&self, f: impl FnOnce(&mut Plain)) {
        if let Ok(mut p) = self.plain.lock() {
            f(&mut p);
        }
    }

    /// Prints a plain line when none was printed yet, when the interval has passed, or `always`.
    fn line(&self, always: bool) {
        if self.bar.is_some() || self.hidden {
            return;
        }
        self.with_plain(|p| {
            let now = Instant::now();
            if !always && p.last.is_some_and(|t| now.duration_since(t) < p.every) {
                return;
            }
            p.last = Some(now);
            let elapsed = now.duration_since(p.start).as_secs_f64();
            let eta = match p.done {
                _ if always => format!("done in {elapsed:.1} s"),
                0 => format!("{elapsed:.0} s elapsed, ETA ?"),
                d => format!(
                    "{elapsed:.0} s elapsed, ETA {:.0} s",
                    elapsed / d as f64 * self.len.saturating_sub(d) as f64
                ),
            };
            let message = if p.message.is_empty() { String::new() } else { format!("  ({})", p.message) };
            log::info!("[{}] progress: {}/{} {}, {eta}{message}", clock(), p.done, self.len, self.unit);
        });
    }
}

/// The time of day in UTC, `HH:MM:SSZ`.
fn clock() -> String {
    let s = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!("{:02}:{:02}:{:02}Z", s / 3600, s / 60 % 60, s % 60)
}
