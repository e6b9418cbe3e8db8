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

use herd_diag::{emit, usage_line, Diag};

/// runsv's exit code for startup failures.
const EXIT_FATAL: u8 = 111;
/// runsv's exit code for a bad command line.
const EXIT_USAGE: u8 = 1;
const USAGE: &str = " dir";

/// `--help` for `supervise` or runit's `runsv` (`name`, the name it was called by).
pub fn help(name: &str) -> String {
    let name = if name == "runsv" { name } else { "supervise" };
    herd_getopt::Help {
        synopsis: USAGE,
        about:
            "Supervises dir/run, and dir/log/run joined to it by a pipe, as runit's runsv does;\n\
                controlled through dir/supervise/control (sv). See supervise(8).\n",
        options: &[("dir", "the service directory")],
    }
    .render(name)
}

/// The tool, called with `args` (`args[0]` is the name it was called by).
pub fn main(args: Vec<OsString>) -> u8 {
    // Bytes, not text: a service directory's name need not be UTF-8.
    if let Some(long) = herd_getopt::leading(args.get(1..).unwrap_or(&[])) {
        let argv0 = args
            .first()
            .map_or("supervise".into(), |a| a.to_string_lossy());
        let name = argv0.rsplit('/').next().unwrap_or("supervise");
        let diag = Diag::new("supervise");
        return herd_getopt::answer(long, &help(name), &diag);
    }
    let [_, dir] = args.as_slice() else {
        let argv0 = args
            .first()
            .map_or("supervise".into(), |a| a.to_string_lossy());
        emit(usage_line(&argv0, USAGE));
        return EXIT_USAGE;
    };
    let diag = Diag::with_arg("supervise", dir);
    herd_diag::init_trace();
    herd_sys::sched::prompt_wakeups();
    match shell::run(dir, &diag) {
        Ok(()) => 0,
        Err(fatal) => {
            diag.fatal(&fatal);
            EXIT_FATAL
        }
    }
}
