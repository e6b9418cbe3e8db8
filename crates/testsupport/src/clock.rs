//! CLOCK_MONOTONIC in nanoseconds, shared by tests and the services they start: a service's
//! helper (`herd-notify`) stamps an instant into a file, and a test compares it with the instant
//! it saw a process exit ([`wait_exit_ns`], through a pidfd: no polling interval in the figure).

use std::process::{Child, ExitStatus};
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{pidfd_open, Pid, PidfdFlags};
use rustix::time::{clock_gettime, ClockId};

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds (what `herd-notify` writes).
pub fn monotonic_ns() -> u64 {
    let t = clock_gettime(ClockId::Monotonic);
    (t.tv_sec as u64) * 1_000_000_000 + t.tv_nsec as u64
}

/// Waits (bounded by `timeout`) for `child` to exit, through a pidfd, and returns its status with
/// [`monotonic_ns`] taken as soon as the exit was seen; `None` if it still runs at the deadline.
#[track_caller]
pub fn wait_exit_ns(child: &mut Child, timeout: Duration) -> Option<(ExitStatus, u64)> {
    let pid = Pid::from_raw(child.id() as i32).expect("child pid");
    let fd = pidfd_open(pid, PidfdFlags::empty()).expect("pidfd_open");
    let ts = rustix::time::Timespec {
        tv_sec: timeout.as_secs() as i64,
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let ready = poll(&mut fds, Some(&ts)).expect("poll on a pidfd");
    let t = monotonic_ns();
    if ready == 0 {
        return None;
    }
    Some((child.wait().expect("wait"), t))
}
