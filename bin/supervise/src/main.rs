//! `supervise DIR`: supervises `DIR/run` (and `DIR/log/run`) as runit's `runsv` does.
//! See docs/supervise.md.

#![forbid(unsafe_code)]

mod machine;
mod notify;
mod prefix;
mod reclaim;
mod shell;

use std::process::ExitCode;

use herd_diag::{emit, usage_line, Diag};

/// runsv's exit code for startup failures.
const EXIT_FATAL: u8 = 111;
/// runsv's exit code for a bad command line.
const EXIT_USAGE: u8 = 1;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args.first().map_or("supervise", String::as_str);
    let [_, dir] = args.as_slice() else {
        emit(usage_line(argv0, " dir"));
        return ExitCode::from(EXIT_USAGE);
    };
    let diag = Diag::new(format!("supervise {dir}"));
    match shell::run(dir, &diag) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            diag.fatal(&msg);
            ExitCode::from(EXIT_FATAL)
        }
    }
}
