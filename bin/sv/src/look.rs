//! What sv reads about the service in its cwd: runit's liveness test and status (runit's
//! `svstatus_get`: `supervise/ok` must have a reader, then `status` must be 20 bytes), and for
//! `sv --json status` and `sv health` everything else the supervisor publishes (`down`,
//! `supervise/stat`, `ready`, `runs`, `health`). The texts of the failures are sv's.

use herd_diag::errno_text;
use herd_status::{is_ready, State, Status, Want};
use herd_svdir::{ReadError, MAIN};
use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;

use crate::json::Facts;

/// Why a service could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// Nothing reads `supervise/ok`: sv's `runsv not running`.
    NotRunning,
    /// sv's `warning:` text and its errno.
    Warn {
        what: &'static str,
        errno: Option<i32>,
    },
}

impl Unread {
    /// The text after `NAME: ` in sv's line (`runsv not running`, `unable to open …: REASON`).
    pub fn text(&self) -> String {
        match *self {
            Unread::NotRunning => NOT_RUNNING.to_string(),
            Unread::Warn { what, errno: None } => what.to_string(),
            Unread::Warn {
                what,
                errno: Some(e),
            } => format!("{what}: {}", errno_text(e)),
        }
    }
}

pub const NOT_RUNNING: &str = "runsv not running";

/// The status of the service in the cwd, if a supervisor runs it.
pub fn read_live() -> Result<Status, Unread> {
    match fs::open(
        MAIN.ok,
        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(_) => {}
        Err(Errno::NXIO) => return Err(Unread::NotRunning),
        Err(e) => {
            return Err(Unread::Warn {
                what: "unable to open supervise/ok",
                errno: Some(e.raw_os_error()),
            })
        }
    }
    herd_svdir::read_status(&MAIN).map_err(|e| match e {
        ReadError::Open { errno, .. } => Unread::Warn {
            what: "unable to open supervise/status",
            errno: Some(errno.raw_os_error()),
        },
        ReadError::Read { errno: Some(e), .. } => Unread::Warn {
            what: "unable to read supervise/status",
            errno: Some(e.raw_os_error()),
        },
        ReadError::Read { errno: None, .. } => Unread::Warn {
            what: "unable to read supervise/status: bad format",
            errno: None,
        },
    })
}

/// Whether the service in the cwd is normally up (no `down` file).
pub fn normally_up() -> Result<bool, Errno> {
    match fs::stat("down") {
        Ok(_) => Ok(false),
        Err(Errno::NOENT) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Everything `sv --json status` shows of the service in the cwd.
pub fn read_facts() -> Result<Facts, Unread> {
    let status = read_live()?;
    let normally_up = normally_up().map_err(|e| Unread::Warn {
        what: "unable to stat down",
        errno: Some(e.raw_os_error()),
    })?;
    // The status file stores want exit as `d`; `stat` says which (only while a process runs).
    let want_exit = status.want == Want::Down
        && status.state != State::Down
        && std::fs::read(MAIN.stat).is_ok_and(|t| t.windows(9).any(|w| w == b"want exit"));
    let ready = herd_svdir::read_ready(&MAIN);
    Ok(Facts {
        status,
        normally_up,
        want_exit,
        ready: is_ready(&status, ready.as_ref().map(Option::as_ref)),
        runs: herd_svdir::read_runs(&MAIN).flatten(),
        health: herd_svdir::read_health(&MAIN),
    })
}
