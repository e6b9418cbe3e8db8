//! The notify descriptor of essential services (docs/supervise.md, "Essential services").
//!
//! svscan passes `SVSCAN_NOTIFY_FD=N`, N being the write end of a pipe it reads. supervise takes
//! it at startup, before it opens anything, and removes the variable so that no service sees it.
//! Owning an inherited descriptor needs `unsafe`, so supervise reopens it through
//! `/proc/self/fd/N` (a new open file description of the same pipe, close-on-exec and
//! non-blocking) and closes N: no child inherits either. Each notice is one line
//! `PID CODE\n`, in one `write(2)` (shorter than `PIPE_BUF`, so atomic); errors are ignored.

use std::io::Write;
use std::os::fd::OwnedFd;

use herd_diag::{Diag, Reason};
use herd_status::Exit;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// The variable naming the descriptor.
pub const ENV: &str = "SVSCAN_NOTIFY_FD";
/// Room for `PID CODE\n` (10 + 1 + 3 + 1 bytes).
const LINE_MAX: usize = 32;

/// Takes the descriptor named by `SVSCAN_NOTIFY_FD` and removes the variable from the
/// environment. `None` (with a warning if the variable was set but unusable) means no notices.
/// Must run before supervise opens any descriptor of its own, and while it has one thread.
pub fn take(diag: &Diag) -> Option<OwnedFd> {
    let value = std::env::var_os(ENV)?;
    std::env::remove_var(ENV);
    // 0, 1 and 2 are supervise's stdio, never a notify pipe.
    let Some(n) = value
        .to_str()
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|&n| n > 2)
    else {
        diag.warn(&format_args!("invalid {ENV}: {}", value.to_string_lossy()));
        return None;
    };
    let flags =
        OFlags::WRONLY | OFlags::APPEND | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(format!("/proc/self/fd/{n}"), flags, Mode::empty());
    // N is inherited and owned by no Rust object: closing it is closing our copy only.
    let _ = nix::unistd::close(n);
    match fd {
        Ok(fd) => Some(fd),
        Err(e) => {
            let e = if e == Errno::NOENT { Errno::BADF } else { e };
            diag.warn(&format_args!(
                "unable to open {ENV} {n}: {}",
                Reason(e.raw_os_error())
            ));
            None
        }
    }
}

/// Writes `PID CODE\n` (supervise's pid; the code of `exit`, 128+n for signal n) to `fd`.
pub fn send(fd: &OwnedFd, exit: Exit) {
    let mut buf = [0u8; LINE_MAX];
    let mut rest = &mut buf[..];
    if writeln!(rest, "{} {}", std::process::id(), exit.shell_code()).is_err() {
        return;
    }
    let len = LINE_MAX - rest.len();
    // EAGAIN (svscan not reading) or EPIPE (svscan gone): nobody to tell.
    let _ = rustix::io::write(fd, &buf[..len]);
}
