//! `fcntl(F_NOTIFY)` (dnotify): a signal when an entry of a directory is created or renamed.
//!
//! supervise uses it to see at once that `supervise/control` or `supervise/ok` was replaced
//! under it. dnotify rather than inotify on purpose: every inotify instance counts against
//! `fs.inotify.max_user_instances` (128 by default), so one per supervisor runs out with a few
//! hundred services and starves every other program of the same user; dnotify costs one
//! directory descriptor and no instance. The signal is the default one, SIGIO, which the caller
//! blocks and reads through its signalfd (standard signals coalesce: no queue to overflow).

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
    // that does not block it would die of it. tests/supervise/faults.rs covers this.
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
