//! Messages on stderr through the `log` crate: warnings, notes and progress at the level that
//! `--quiet`/`--verbose` or the `TWINVERIFY_LOG` filter (env_logger syntax) choose.

use std::io::Write;

use log::{Level, LevelFilter};

/// The environment variable with a log filter, e.g. `debug` or `twinverify::solve=trace`.
pub const ENV: &str = "TWINVERIFY_LOG";

/// Sets up the logger: `--quiet` shows errors only, `-v` debug and `-vv` trace messages;
/// without either, `TWINVERIFY_LOG` when set, else warnings, notes and progress (info).
pub fn init(quiet: bool, verbose: u8) {
    let mut builder = env_logger::Builder::new();
    match (quiet, verbose, std::env::var(ENV)) {
        (true, _, _) => builder.filter_level(LevelFilter::Error),
        (false, 1, _) => builder.filter_level(LevelFilter::Debug),
        (false, 2.., _) => builder.filter_level(LevelFilter::Trace),
        (false, 0, Ok(filter)) => builder.parse_filters(&filter),
        (false, 0, Err(_)) => builder.filter_level(LevelFilter::Info),
    };
    builder.format(|buf, record| match record.level() {
        Level::Error => writeln!(buf, "error: {}", record.args()),
        Level::Warn => writeln!(buf, "warning: {}", record.args()),
        Level::Info => writeln!(buf, "{}", record.args()),
        level => writeln!(buf, "[{}] {}", level.as_str().to_lowercase(), record.args()),
    });
    // a second initialisation (tests calling `main` twice) keeps the first logger
    let _ = builder.try_init();
}
