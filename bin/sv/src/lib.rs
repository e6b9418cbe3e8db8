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

use std::ffi::OsString;

/// The tool, called with `argv` (`argv[0]` is the name it was called by).
pub fn main(argv: Vec<OsString>) -> u8 {
    let svwait = std::env::var_os("SVWAIT");
    let cli = match cli::parse(
        &argv,
        svwait
            .as_deref()
            .map(std::os::unix::ffi::OsStrExt::as_bytes),
    ) {
        Ok(cli) => cli,
        Err(cli::Stop::Usage(refusal)) => {
            herd_diag::emit(&refusal.stderr);
            return refusal.code;
        }
        Err(cli::Stop::Long(long)) => {
            let argv0 = argv.first().map_or("sv".into(), |a| a.to_string_lossy());
            let name = argv0.rsplit('/').next().unwrap_or("sv");
            let diag = herd_diag::Diag::bare();
            return herd_getopt::answer(long, &cli::help(name), &diag);
        }
    };
    run::run(&cli)
}
