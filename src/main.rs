//! The `twinverify` binary: everything is in the library; see `twinverify --help`.

fn main() -> std::process::ExitCode {
    // Behave like other Unix tools when the reader of our output goes away (`| head`): end
    // quietly instead of failing to print.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    twinverify::cli::main()
}
