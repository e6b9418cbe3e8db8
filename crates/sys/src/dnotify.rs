//! `fcntl(F_NOTIFY)` (dnotify): a signal when an entry of a directory is created or renamed.
//!
//! sv uses it while it waits for a command to take effect: a watch on the service's
//! `supervise/` wakes it when `status` or `ready` is renamed into place. dnotify rather than
//! inotify because of what a watch costs at the end: closing an inotify instance that held a
//! watch waits for an SRCU grace period in the kernel (8–16 ms measured on a 2-core machine,
//! paid before the process's exit is reported to its parent), while a dnotify mark is dropped
//! with its descriptor in microseconds. The signal is the default one, SIGIO, which the caller
//! blocks and reads through a signalfd (a standard signal coalesces: no queue to overflow). A
//! watcher holds the mark only while it waits: a mark makes every change of the watched
//! directory a little dearer (about 0.3 ms per supervise exit, which is why supervise has none).

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// The signal dnotify sends (no `F_SETSIG`).
pub const SIGNAL: Signal = Signal::SIGIO;

/// `DN_CREATE` of `<linux/fcntl.h>`: an entry was created (including by `rename` into the dir).
const DN_CREATE: libc::c_int = 0x4;
/// `DN_RENAME`: an entry was renamed within the directory.
const DN_RENAME: libc::c_int = 0x10;
/// `DN_MULTISHOT`: stay armed after the first notice.
const DN_MULTISHOT: libc::c_int = 0x8000_0000_u32 as libc::c_int;

/// `fcntl(dir, F_NOTIFY, DN_CREATE | DN_RENAME | DN_MULTISHOT)`: [`SIGNAL`] to this process
/// whenever an entry of `dir` is created or renamed, until `dir` is closed. `EINVAL` if the
/// kernel has no dnotify.
pub fn watch_entries(dir: BorrowedFd<'_>) -> Result<(), Errno> {
    // No unit test here: SIGIO is sent to the whole process, and another thread of a test binary
    // that does not block it would die of it. tests/sv_ready.rs covers this through sv.
    // SAFETY: fcntl with an integer argument on a descriptor the caller holds open.
    let r = unsafe {
        libc::fcntl(
            dir.as_raw_fd(),
            libc::F_NOTIFY,
            DN_CREATE | DN_RENAME | DN_MULTISHOT,
        )
    };
    match r {
        -1 => Err(Errno::last()),
        _ => Ok(()),
    }
}
