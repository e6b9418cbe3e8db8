//! sv's flow: resolve each service, write the command, then wait for it to take effect.
//!
//! runit's sv re-reads every status each 420 ms. We check right after writing, then 1, 2, 4 and
//! 8 ms later (most commands are done by then, and an inotify instance costs 5-20 ms of kernel
//! teardown at exit), then watch the service's `supervise/` directory with inotify and re-check
//! it when its `status` is renamed into place, or when its supervisor exits (its `ok` reader or
//! `lock` closes). A `./check` script that
//! fails is re-run on a back-off (10 ms doubling to 420 ms). Without inotify, we poll every 420 ms
//! as runit does. The output and its order are runit's.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant, SystemTime};

use herd_diag::{Diag, Reason};
use herd_sys::timespec_until;
use herd_tai64n::Tai64n;
use herd_value::later;
use inotify::{Inotify, WatchDescriptor, WatchMask};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;

use crate::cli::{Cli, Verb, DEFAULT_SVDIR};
use crate::service::{Check, Sv};

/// runit's poll period, our fallback and the longest back-off for `./check`.
const POLL: Duration = Duration::from_millis(420);
/// Quick re-checks right after writing, before any watch (1, 2, 4, 8 ms).
const QUICK_CHECKS: u32 = 4;
const FIRST_QUICK: Duration = Duration::from_millis(1);
/// What a status change or a supervisor exit looks like in `supervise/`.
const WATCH_MASK: WatchMask = WatchMask::MOVED_TO
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::CLOSE_NOWRITE);
/// First back-off for re-running a failing `./check`.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// sv's exit code for fatal errors (151 in LSB mode).
const EXIT_FATAL: u8 = 100;
const EXIT_FATAL_LSB: u8 = 151;
/// The exit code is the failure count, capped.
const MAX_RC: u32 = 99;

fn tai_now() -> u64 {
    Tai64n::from_system_time(SystemTime::now()).secs
}

/// Why sv must stop at once: `fatal: MSG: REASON` on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fatal {
    /// sv keeps its starting directory open to come back to after each service.
    OpenHome(Errno),
    /// Coming back to it failed.
    ReturnHome(Errno),
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, e) = match self {
            Fatal::OpenHome(e) => ("unable to open current directory", e),
            Fatal::ReturnHome(e) => ("unable to change to original directory", e),
        };
        write!(f, "{what}: {}", Reason(e.raw_os_error()))
    }
}

/// Runs the command line; returns the exit code.
pub fn run(cli: &Cli) -> u8 {
    let start = Instant::now();
    let start_secs = tai_now();
    let mut sv = Sv {
        out: crate::report::Out::new(),
        start_secs,
        now_secs: start_secs,
        action: cli.action,
        lsb: cli.lsb,
    };
    match run_inner(cli, &mut sv, start) {
        Ok(Some(code)) => code,
        Ok(None) => u8::try_from(sv.out.rc.min(MAX_RC)).unwrap_or(u8::MAX),
        Err(fatal) => {
            Diag::bare().fatal(&fatal);
            if cli.lsb {
                EXIT_FATAL_LSB
            } else {
                EXIT_FATAL
            }
        }
    }
}

/// One service still being waited for.
struct Waiting {
    name: OsString,
    watch: Option<WatchDescriptor>,
    /// Re-check at this instant even without an event (failing `./check`, or no inotify).
    recheck: Option<Instant>,
    backoff: Duration,
    /// Quick re-checks done before a watch is set up.
    quick: u32,
    dirty: bool,
}

fn run_inner(cli: &Cli, sv: &mut Sv, start: Instant) -> Result<Option<u8>, Fatal> {
    let home = fs::open(
        ".",
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Fatal::OpenHome)?;
    let svdir = std::env::var_os("SVDIR").unwrap_or_else(|| OsString::from(DEFAULT_SVDIR));
    let action = cli.action;
    // Created only when a service is not there after the quick checks: tearing down an inotify
    // instance costs an RCU grace period in the kernel (5-20 ms) at exit.
    let mut inotify: Option<Inotify> = None;
    let mut inotify_failed = false;
    let mut waiting = Vec::new();

    for name in &cli.services {
        let n = name.as_bytes();
        // Names that do not start with '/' or '.' and do not end with '/' are under SVDIR.
        let under_svdir = !n.is_empty() && n[0] != b'/' && n[0] != b'.' && n.last() != Some(&b'/');
        if let Err(errno) = enter(&svdir, name, under_svdir) {
            sv.out
                .fail(n, false, "unable to change to service directory", errno);
            go_home(&home)?;
            continue;
        }
        if action.verb == Verb::Status {
            if let Some(code) = sv.status(n) {
                return Ok(Some(code));
            }
        } else {
            let ok = sv.control(n, action.letters());
            if ok && action.wait {
                waiting.push(Waiting {
                    name: name.clone(),
                    watch: None,
                    quick: 0,
                    recheck: None,
                    backoff: FIRST_BACKOFF,
                    dirty: true,
                });
            }
        }
        go_home(&home)?;
    }
    if !action.wait {
        return Ok(None);
    }

    // Timed out once more than `wait` seconds have passed (runit: elapsed > wait).
    let deadline = later(start, cli.wait.saturating_add(Duration::from_millis(1)));
    let mut buf = [0u8; 4096];
    while !waiting.is_empty() {
        let now = Instant::now();
        sv.now_secs = tai_now();
        let timed_out = now >= deadline;
        let mut i = 0;
        while i < waiting.len() {
            let w = &mut waiting[i];
            let due = w.dirty || timed_out || w.recheck.is_some_and(|t| t <= now);
            if !due {
                i += 1;
                continue;
            }
            w.dirty = false;
            w.recheck = None;
            let name = w.name.clone();
            let n = name.as_bytes();
            // The wait loop resolves names without the trailing-'/' exception, as runit's does.
            let under_svdir = !n.is_empty() && n[0] != b'/' && n[0] != b'.';
            let mut finished = true;
            if let Err(errno) = enter(&svdir, &name, under_svdir) {
                sv.out
                    .fail(n, false, "unable to change to service directory", errno);
            } else {
                match sv.check(n) {
                    Check::Done | Check::Gone => {}
                    Check::NotYet { .. } if timed_out => sv.timeout(n, action.kill),
                    Check::NotYet { script } => {
                        finished = false;
                        let w = &mut waiting[i];
                        if w.watch.is_none() && w.quick < QUICK_CHECKS {
                            let step = FIRST_QUICK.saturating_mul(1 << w.quick.min(QUICK_CHECKS));
                            w.recheck = Some(later(Instant::now(), step));
                            w.quick += 1;
                        } else {
                            if w.watch.is_none() && !inotify_failed {
                                // Still in the service directory: watch its supervise/, then look
                                // again at once, so that nothing between the check and the watch
                                // is missed.
                                if inotify.is_none() {
                                    inotify = Inotify::init().ok();
                                    inotify_failed = inotify.is_none();
                                }
                                w.watch = inotify.as_mut().and_then(|ino| {
                                    ino.watches().add("supervise", WATCH_MASK).ok()
                                });
                                w.dirty = w.watch.is_some();
                            }
                            if !w.dirty && (script || w.watch.is_none()) {
                                let step = if w.watch.is_none() { POLL } else { w.backoff };
                                w.recheck = Some(later(Instant::now(), step));
                                w.backoff = w.backoff.saturating_mul(2).min(POLL);
                            }
                        }
                    }
                }
            }
            go_home(&home)?;
            if finished {
                if let (Some(wd), Some(ino)) = (waiting[i].watch.clone(), inotify.as_mut()) {
                    if !waiting
                        .iter()
                        .enumerate()
                        .any(|(j, o)| j != i && o.watch.as_ref() == Some(&wd))
                    {
                        let _ = ino.watches().remove(wd);
                    }
                }
                waiting.remove(i);
            } else {
                i += 1;
            }
        }
        if waiting.is_empty() {
            break;
        }
        // A service to look at again at once (its watch was just added): no waiting.
        if waiting.iter().any(|w| w.dirty) {
            continue;
        }
        let wake = waiting
            .iter()
            .filter_map(|w| w.recheck)
            .chain(std::iter::once(deadline))
            .min()
            .unwrap_or(deadline);
        let ts = timespec_until(wake);
        match inotify.as_mut() {
            Some(ino) => {
                let ready = {
                    let fd = std::os::fd::AsFd::as_fd(ino);
                    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
                    matches!(poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
                };
                if ready {
                    if let Ok(events) = ino.read_events(&mut buf) {
                        for ev in events {
                            if relevant(ev.name, ev.mask) {
                                for w in waiting
                                    .iter_mut()
                                    .filter(|w| w.watch.as_ref() == Some(&ev.wd))
                                {
                                    w.dirty = true;
                                    w.backoff = FIRST_BACKOFF;
                                }
                            }
                        }
                    }
                }
            }
            None => std::thread::sleep(wake.saturating_duration_since(Instant::now())),
        }
    }
    Ok(None)
}

/// A status rename, or the supervisor closing `ok`/`lock` on exit. Our own reads of `status`
/// and opens of `ok` for writing do not count, so sv never wakes itself.
fn relevant(name: Option<&OsStr>, mask: inotify::EventMask) -> bool {
    use inotify::EventMask as M;
    match name.map(OsStr::as_bytes) {
        Some(b"status") => mask.intersects(M::MOVED_TO | M::CLOSE_WRITE),
        Some(b"ok") => mask.contains(M::CLOSE_NOWRITE),
        Some(b"lock") => mask.contains(M::CLOSE_WRITE),
        _ => mask.contains(M::Q_OVERFLOW),
    }
}

/// `chdir` into the service: `SVDIR/NAME` or `NAME`. `Err` carries the errno for the message.
fn enter(svdir: &OsStr, name: &OsStr, under_svdir: bool) -> Result<(), Option<i32>> {
    let r = if under_svdir {
        std::env::set_current_dir(svdir).and_then(|()| std::env::set_current_dir(name))
    } else {
        std::env::set_current_dir(name)
    };
    r.map_err(|e| e.raw_os_error())
}

fn go_home(home: &OwnedFd) -> Result<(), Fatal> {
    rustix::process::fchdir(home).map_err(Fatal::ReturnHome)
}
