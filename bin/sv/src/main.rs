//! `sv`: runit's sv, byte for byte, with event-driven waiting. See docs/sv.md.

#![forbid(unsafe_code)]

mod cli;
mod health;
mod json;
mod look;
mod readiness;
mod report;
mod run;
mod service;

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    let svwait = std::env::var_os("SVWAIT");
    let cli = match cli::parse(
        &argv,
        svwait
            .as_deref()
            .map(std::os::unix::ffi::OsStrExt::as_bytes),
    ) {
        Ok(cli) => cli,
        Err(refusal) => {
            herd_diag::emit(&refusal.stderr);
            return ExitCode::from(refusal.code);
        }
    };
    ExitCode::from(run::run(&cli))
}
