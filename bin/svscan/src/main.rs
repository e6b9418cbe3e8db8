//! `svscan [-P] [-t sec] DIR [log]`: runit's runsvdir, with inotify pickup, and a correct PID 1.
//! See docs/svscan.md.

#![forbid(unsafe_code)]

mod proctitle;
mod shell;
mod table;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::time::Duration;

use herd_diag::{emit, usage_line};

/// runsvdir's exit code for a bad command line.
const EXIT_USAGE: u8 = 1;
/// Default bound on the whole shutdown: inside Docker's 10 s stop timeout with margin.
const DEFAULT_STOP: Duration = Duration::from_secs(7);
/// Environment variable that sets the shutdown bound in seconds (`-t` wins).
const STOP_ENV: &str = "SVSCAN_STOP_TIMEOUT";

/// The parsed command line.
#[derive(Debug)]
pub struct Args {
    /// `-P`: each supervise in its own session.
    pub setsid: bool,
    pub stop_timeout: Duration,
    pub dir: OsString,
    /// The readproctitle argument and its index in argv.
    pub log: Option<(usize, OsString)>,
}

fn seconds(s: &[u8]) -> Option<Duration> {
    let s = std::str::from_utf8(s).ok()?;
    let f: f64 = s.parse().ok()?;
    (f.is_finite() && f >= 0.0).then(|| Duration::from_secs_f64(f))
}

fn parse(argv: &[OsString]) -> Option<Args> {
    let mut setsid = false;
    let mut stop_timeout = std::env::var_os(STOP_ENV)
        .and_then(|v| seconds(v.as_bytes()))
        .unwrap_or(DEFAULT_STOP);
    let mut i = 1;
    // As runsvdir: options come first; an unknown `-X` is taken as the directory name.
    while let Some(a) = argv.get(i).map(|a| a.as_bytes()) {
        match a {
            b"-P" => setsid = true,
            b"-t" => {
                i += 1;
                stop_timeout = seconds(argv.get(i)?.as_bytes())?;
            }
            b"--" => {
                i += 1;
                break;
            }
            _ => break,
        }
        i += 1;
    }
    let dir = argv.get(i)?.clone();
    let log = argv.get(i + 1).map(|l| (i + 1, l.clone()));
    Some(Args {
        setsid,
        stop_timeout,
        dir,
        log,
    })
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let argv0 = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "svscan".into());
    let Some(args) = parse(&argv) else {
        emit(&usage_line(&argv0, " [-P] [-t sec] dir [log]"));
        return ExitCode::from(EXIT_USAGE);
    };
    ExitCode::from(shell::run(&args, &argv))
}
