//! The `twinverify` binary: everything is in the library; see `twinverify --help`.

fn main() -> std::process::ExitCode {
    twinverify::cli::main()
}
