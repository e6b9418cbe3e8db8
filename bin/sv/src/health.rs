//! `sv health [DIR]` (herd's; docs/sv.md, "Health"): one answer for a container's health check.
//! Every service of the scan directory DIR (`$SVDIR`, then `/etc/service/`) and its `log/` is
//! looked at, entries named `.*` skipped and non-directories ignored as svscan does, in byte
//! order of their names. Exit 0 when each one that is wanted up runs, is ready and is not
//! unhealthy, and none has been given up on; else exit 1 with one line per service that is not.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use herd_diag::{errno_text, Diag, Reason};
use herd_status::{HealthState, State, Want};
use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;

use crate::cli::{Cli, DEFAULT_SVDIR};
use crate::json::Facts;
use crate::look::read_facts;

/// Exit codes: all well, not all well, could not look (sv's fatal code).
const WELL: u8 = 0;
const NOT_WELL: u8 = 1;
const FATAL: u8 = 100;

/// What is wrong with a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// supervise gave up restarting it (`restart-limit`).
    Failed,
    /// Wanted up, not running `./run`: the state word (`down`, `finish`).
    Down(&'static str),
    NotReady,
    Unhealthy,
}

impl Problem {
    /// The words after `NAME: `.
    pub fn words(self) -> &'static str {
        match self {
            Problem::Failed => "failed",
            Problem::Down("finish") => "finish, want up",
            Problem::Down(_) => "down, want up",
            Problem::NotReady => "not ready",
            Problem::Unhealthy => "unhealthy",
        }
    }
}

/// The verdict on one service. A service wanted down is well unless it was given up on.
pub fn judge(f: &Facts) -> Option<Problem> {
    if f.runs.is_some_and(|r| r.failed) {
        return Some(Problem::Failed);
    }
    if f.status.want != Want::Up {
        return None;
    }
    if f.status.state != State::Run || f.status.pid.is_none() {
        return Some(Problem::Down(f.status.state.word().unwrap_or("down")));
    }
    if !f.ready {
        return Some(Problem::NotReady);
    }
    match f.health {
        Some(Some(h)) if h.state == HealthState::Unhealthy => Some(Problem::Unhealthy),
        _ => None,
    }
}

/// Runs `sv health`; returns the exit code.
pub fn run(cli: &Cli) -> u8 {
    let dir = cli
        .services
        .first()
        .cloned()
        .or_else(|| std::env::var_os("SVDIR"))
        .unwrap_or_else(|| OsString::from(DEFAULT_SVDIR));
    if let Err(e) = std::env::set_current_dir(&dir) {
        Diag::bare().fatal(&format_args!(
            "unable to change to directory {}: {}",
            dir.to_string_lossy(),
            Reason::of(&e)
        ));
        return FATAL;
    }
    let names = match services() {
        Ok(n) => n,
        Err(e) => {
            Diag::bare().fatal(&format_args!(
                "unable to read directory {}: {}",
                dir.to_string_lossy(),
                Reason::of(&e)
            ));
            return FATAL;
        }
    };
    let home = match fs::open(".", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => {
            Diag::bare().fatal(&format_args!(
                "unable to open current directory: {}",
                Reason(e.raw_os_error())
            ));
            return FATAL;
        }
    };
    let mut out = Vec::with_capacity(256);
    for name in &names {
        let n = name.as_bytes();
        match std::env::set_current_dir(name) {
            Ok(()) => {
                look_at(&mut out, n, b"");
                match std::env::set_current_dir("log") {
                    Ok(()) => look_at(&mut out, n, b"/log"),
                    Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => {}
                    Err(e) => say(
                        &mut out,
                        n,
                        b"/log",
                        "unable to change directory",
                        e.raw_os_error(),
                    ),
                }
            }
            Err(e) => say(
                &mut out,
                n,
                b"",
                "unable to change to service directory",
                e.raw_os_error(),
            ),
        }
        if let Err(e) = rustix::process::fchdir(&home) {
            Diag::bare().fatal(&format_args!(
                "unable to change to original directory: {}",
                Reason(e.raw_os_error())
            ));
            return FATAL;
        }
    }
    if out.is_empty() {
        return WELL;
    }
    use std::io::Write;
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(&out).and_then(|()| so.flush());
    NOT_WELL
}

/// The service directories of the cwd (a scan directory), sorted by name.
fn services() -> std::io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for ent in std::fs::read_dir(".")? {
        let name = ent?.file_name();
        if name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        // As svscan: a directory, or a symlink to one.
        if std::fs::metadata(&name).is_ok_and(|m| m.is_dir()) {
            names.push(name);
        }
    }
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Judges the service in the cwd and appends its line if it is not well.
fn look_at(out: &mut Vec<u8>, name: &[u8], suffix: &[u8]) {
    match read_facts() {
        Ok(f) => {
            if let Some(p) = judge(&f) {
                line(out, name, suffix, p.words().as_bytes());
            }
        }
        Err(u) => line(out, name, suffix, u.text().as_bytes()),
    }
}

fn say(out: &mut Vec<u8>, name: &[u8], suffix: &[u8], what: &str, errno: Option<i32>) {
    let mut text = what.as_bytes().to_vec();
    if let Some(e) = errno {
        text.extend_from_slice(b": ");
        text.extend_from_slice(errno_text(e).as_bytes());
    }
    line(out, name, suffix, &text);
}

fn line(out: &mut Vec<u8>, name: &[u8], suffix: &[u8], words: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(suffix);
    out.extend_from_slice(b": ");
    out.extend_from_slice(words);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_status::{Health, Runs, Status};
    use herd_tai64n::Tai64n;
    use std::num::NonZeroU32;

    fn facts() -> Facts {
        Facts {
            status: Status {
                stamp: Tai64n::from_unix(1000, 500),
                pid: NonZeroU32::new(42),
                paused: false,
                want: Want::Up,
                term: false,
                state: State::Run,
            },
            normally_up: true,
            want_exit: false,
            ready: true,
            runs: None,
            health: None,
        }
    }

    #[test]
    fn verdicts() {
        let f = facts();
        assert_eq!(judge(&f), None);
        let down = |state, pid| Facts {
            status: Status {
                state,
                pid: NonZeroU32::new(pid),
                ..f.status
            },
            ready: false,
            ..f
        };
        assert_eq!(judge(&down(State::Down, 0)), Some(Problem::Down("down")));
        assert_eq!(
            judge(&down(State::Finish, 7)),
            Some(Problem::Down("finish"))
        );
        assert_eq!(Problem::Down("finish").words(), "finish, want up");
        assert_eq!(Problem::Down("down").words(), "down, want up");
        // Wanted down: well, whatever its state.
        let mut d = down(State::Down, 0);
        d.status.want = Want::Down;
        assert_eq!(judge(&d), None);
        assert_eq!(judge(&Facts { ready: false, ..f }), Some(Problem::NotReady));
        let h = |state| Facts {
            health: Some(Some(Health { state, last: None })),
            ..f
        };
        assert_eq!(judge(&h(HealthState::Unhealthy)), Some(Problem::Unhealthy));
        assert_eq!(judge(&h(HealthState::Starting)), None);
        assert_eq!(judge(&h(HealthState::Healthy)), None);
        assert_eq!(
            judge(&Facts {
                health: Some(None),
                ..f
            }),
            None
        );
        // Given up on: not well even though it wants down now.
        let failed = Runs {
            started: 3,
            last_exit: None,
            failed: true,
        };
        assert_eq!(
            judge(&Facts {
                runs: Some(failed),
                ..d
            }),
            Some(Problem::Failed)
        );
    }
}
