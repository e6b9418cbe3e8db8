//! `supervise DIR`: supervises `DIR/run` (and `DIR/log/run`) as runit's `runsv` does.
//! See docs/supervise.md.

#![forbid(unsafe_code)]

mod deps;
mod health;
mod machine;
mod options;
mod policy;
mod prefix;
mod readiness;
mod reclaim;
mod shell;

use std::ffi::OsString;
use std::process::ExitCode;

use herd_diag::{emit, usage_line, Diag};

/// runsv's exit code for startup failures.
const EXIT_FATAL: u8 = 111;
/// runsv's exit code for a bad command line.
const EXIT_USAGE: u8 = 1;

fn main() -> ExitCode {
    // Bytes, not text: a service directory's name need not be UTF-8.
    let args: Vec<OsString> = std::env::args_os().collect();
    let [_, dir] = args.as_slice() else {
        let argv0 = args
            .first()
            .map_or("supervise".into(), |a| a.to_string_lossy());
        emit(usage_line(&argv0, " dir"));
        return ExitCode::from(EXIT_USAGE);
    };
    let diag = Diag::with_arg("supervise", dir);
    herd_diag::init_trace();
    match shell::run(dir, &diag) {
        Ok(()) => ExitCode::SUCCESS,
        Err(fatal) => {
            diag.fatal(&fatal);
            ExitCode::from(EXIT_FATAL)
        }
    }
}
