//! Stopping a service instance that a previous supervise left running when it was killed.
//!
//! runsv forgets its children when it dies, so the next runsv starts a second instance
//! (docs/runit-compatibility.md#runsv-signals). We record every child's pid and start time in
//! `supervise/instance`; at startup, holding the lock, a recorded process that is still the same
//! process (same start time) is stopped before anything new starts. Stopping rather than adopting:
//! an adopted process is not our child, so its exit status (finish's arguments) is lost, and its
//! stdout is a log pipe we no longer hold. The old service gets TERM+CONT, then KILL after
//! [`GRACE`]; the old logger first gets [`GRACE`] to drain the old pipe and exit on EOF, then TERM,
//! then KILL.

use std::os::fd::AsFd;
use std::time::Duration;

use herd_diag::Diag;
use herd_svdir::{read_instance, Layout};
use herd_sys::{proc_start_time, system_pid, timespec};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

use crate::machine::Which;

/// How long a leftover process gets at each step.
pub const GRACE: Duration = Duration::from_secs(1);

/// Stops the process recorded in `l`'s instance file if it is still running.
pub fn reclaim(l: &Layout, which: Which, diag: &Diag) {
    let Some(inst) = read_instance(l) else { return };
    let Some(sys_pid) = system_pid(inst.pid) else {
        return;
    };
    let Some(pid) = Pid::from_raw(sys_pid.as_raw()) else {
        return;
    };
    // Open the pidfd first, then check the start time: the pidfd pins the process we checked.
    let Ok(pidfd) = pidfd_open(pid, PidfdFlags::empty()) else {
        return;
    };
    if proc_start_time(sys_pid) != Some(inst.start) {
        return;
    }
    diag.warn(&format_args!(
        "stopping process left by a previous supervise: pid {}",
        inst.pid
    ));
    let exited = |fd: &rustix::fd::OwnedFd| {
        let mut fds = [PollFd::new(fd, PollFlags::IN)];
        matches!(poll(&mut fds, Some(&timespec(GRACE))), Ok(n) if n > 0)
    };
    if which == Which::Log && exited(&pidfd) {
        return;
    }
    let _ = pidfd_send_signal(pidfd.as_fd(), Signal::TERM);
    let _ = pidfd_send_signal(pidfd.as_fd(), Signal::CONT);
    if !exited(&pidfd) {
        let _ = pidfd_send_signal(pidfd.as_fd(), Signal::KILL);
        exited(&pidfd);
    }
}
