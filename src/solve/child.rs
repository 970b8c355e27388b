//! An external solver run as a child process in its own process group, killed (with everything it
//! started) when it outlives its time limit plus a grace period; its output goes to files.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a child process ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited by itself with this code (`None`: ended by a signal).
    Exited(Option<i32>),
    /// It was still running at the deadline and was killed.
    Killed,
}

/// The grace period after a time limit before the child is killed: the solver should stop by
/// itself at its limit, and writing the solution file takes a moment.
pub fn grace(limit: f64) -> Duration {
    Duration::from_secs_f64(2.0 + 0.1 * limit)
}

/// Runs `binary args` in `dir` with stdout and stderr in `dir/output.txt`; kills the child's
/// whole process group once `limit` (seconds, if any) plus the grace period has passed.
pub fn run(binary: &Path, args: &[OsString], dir: &Path, limit: Option<f64>) -> std::io::Result<Ended> {
    let out = File::create(dir.join("output.txt"))?;
    let mut child = Command::new(binary)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()?;
    let deadline = limit.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)) + grace(t));
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Ended::Exited(status.code()));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            // the group id is the child's pid (process_group(0)); a negative pid names the group
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: kill(2) with a process-group id we created; no memory is involved.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
            return Ok(Ended::Killed);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The last lines of the child's output (for an error message).
pub fn output_tail(dir: &Path) -> String {
    let text = std::fs::read(dir.join("output.txt")).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_past_its_limit_is_killed_with_its_own_children() {
        let dir = std::env::temp_dir().join(format!("twinverify-child-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let start = Instant::now();
        // the shell starts a grandchild that would outlive a kill of the shell alone
        let args: Vec<OsString> = vec!["-c".into(), "sleep 30 & sleep 30; echo late".into()];
        assert_eq!(run(Path::new("sh"), &args, &dir, Some(0.0)).unwrap(), Ended::Killed);
        assert!(start.elapsed() < Duration::from_secs(5));
        let args: Vec<OsString> = vec!["-c".into(), "echo done; exit 4".into()];
        assert_eq!(run(Path::new("sh"), &args, &dir, Some(10.0)).unwrap(), Ended::Exited(Some(4)));
        assert_eq!(output_tail(&dir), "done");
        std::fs::remove_dir_all(&dir).ok();
    }
}
