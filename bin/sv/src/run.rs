//! sv's flow: resolve each service, write the command, then wait for it to take effect.
//!
//! runit's sv re-reads every status each 420 ms. We check right after writing; a service not
//! there yet gets a dnotify watch on its `supervise/` (herd_sys::dnotify: SIGIO, read through a
//! signalfd; why not inotify is said there) and is checked again at once, so that nothing
//! between the check and the watch is missed. It is then checked whenever an entry of
//! `supervise/` is created or renamed (`status` and `ready` are replaced so) and when its
//! supervisor exits: sv holds `supervise/ok` open for writing, and a FIFO without a reader
//! reports an error. A `./check` that fails is re-run on a back-off (10 ms doubling to 420 ms).
//! Without dnotify, we poll every 420 ms as runit does. The output and its order are runit's.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant, SystemTime};

use herd_diag::{Diag, Reason};
use herd_status::Pid;
use herd_svdir::MAIN;
use herd_sys::dnotify;
use herd_sys::signal::{block, drain, signal_fd};
use herd_sys::timespec_until;
use herd_tai64n::Tai64n;
use herd_value::later;
use nix::sys::signalfd::SignalFd;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;

use crate::cli::{Cli, Verb, DEFAULT_SVDIR};
use crate::service::{Check, Sv};

/// runit's poll period, our fallback and the longest back-off for `./check`.
const POLL: Duration = Duration::from_millis(420);
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
    if cli.action.verb == Verb::Health {
        return crate::health::run(cli);
    }
    let start = Instant::now();
    let start_secs = tai_now();
    let mut sv = Sv {
        out: crate::report::Out::new(),
        start_secs,
        now_secs: start_secs,
        action: cli.action,
        lsb: cli.lsb,
        // dnotify's SIGIO is read through a signalfd, never delivered: blocked before any watch.
        // `./check` gets the mask sv started with.
        mask: if cli.action.wait {
            block(&[dnotify::SIGNAL]).ok()
        } else {
            None
        },
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
    /// The pid that ran before sv wrote its letters (a restart waits for another).
    before: Option<Pid>,
    watch: Option<Watch>,
    /// A watch could not be set up: poll as runit does.
    unwatched: bool,
    /// Re-check at this instant even without an event (failing `./check`, or no watch).
    recheck: Option<Instant>,
    backoff: Duration,
    dirty: bool,
}

/// What wakes sv for one service: a dnotify mark on its `supervise/`, and its `supervise/ok`
/// open for writing (an error once the supervisor, its only reader, is gone).
struct Watch {
    _dir: OwnedFd,
    ok: Option<OwnedFd>,
}

/// Watches `supervise/` of the service in the cwd; `None` if dnotify cannot be had.
fn watch(sigfd: &mut Option<SignalFd>) -> Option<Watch> {
    if sigfd.is_none() {
        *sigfd = signal_fd(&[dnotify::SIGNAL]).ok();
    }
    sigfd.as_ref()?;
    let dir = fs::open(
        "supervise",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    dnotify::watch_entries(dir.as_fd()).ok()?;
    Some(Watch {
        _dir: dir,
        ok: open_ok(),
    })
}

/// `supervise/ok` of the service in the cwd, for writing; `None` without a reader (the check
/// that follows sees that).
fn open_ok() -> Option<OwnedFd> {
    fs::open(
        MAIN.ok,
        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()
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
    // Made when a first service needs a watch.
    let mut sigfd: Option<SignalFd> = None;
    let mut waiting = Vec::new();

    for name in &cli.services {
        let n = name.as_bytes();
        // Names that do not start with '/' or '.' and do not end with '/' are under SVDIR.
        let under_svdir = !n.is_empty() && n[0] != b'/' && n[0] != b'.' && n.last() != Some(&b'/');
        if let Err(errno) = enter(&svdir, name, under_svdir) {
            const WHAT: &str = "unable to change to service directory";
            if cli.json {
                sv.json_error(n, WHAT, errno);
            } else {
                sv.out.fail(n, false, WHAT, errno);
            }
            go_home(&home)?;
            continue;
        }
        if action.verb == Verb::Status && cli.json {
            sv.json_status(n);
        } else if action.verb == Verb::Status {
            if let Some(code) = sv.status(n) {
                return Ok(Some(code));
            }
        } else if let Some(before) = sv.control(n, action.letters()) {
            if action.wait {
                waiting.push(Waiting {
                    name: name.clone(),
                    before,
                    watch: None,
                    unwatched: false,
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
                match sv.check(n, waiting[i].before) {
                    Check::Done | Check::Gone => {}
                    Check::NotYet { .. } if timed_out => sv.timeout(n, action.kill),
                    Check::NotYet { script } => {
                        finished = false;
                        let w = &mut waiting[i];
                        match &mut w.watch {
                            // Still in the service directory: watch its supervise/, then look
                            // again at once.
                            None if !w.unwatched => match watch(&mut sigfd) {
                                Some(wt) => {
                                    w.watch = Some(wt);
                                    w.dirty = true;
                                }
                                None => w.unwatched = true,
                            },
                            // `ok` lost its reader for a moment (replaced under a live
                            // supervisor): hold the new one.
                            Some(wt) if wt.ok.is_none() => wt.ok = open_ok(),
                            _ => {}
                        }
                        if !w.dirty && (script || w.watch.is_none()) {
                            let step = if w.watch.is_none() { POLL } else { w.backoff };
                            w.recheck = Some(later(Instant::now(), step));
                            w.backoff = w.backoff.saturating_mul(2).min(POLL);
                        }
                    }
                }
            }
            go_home(&home)?;
            if finished {
                // Dropping the watch closes its descriptors: the mark goes with them.
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
        let (signalled, lost) = {
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(waiting.len() + 1);
            if let Some(fd) = &sigfd {
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            let first_ok = fds.len();
            // Only errors are asked for: a FIFO's writer gets POLLERR once it has no reader.
            let owners: Vec<usize> = waiting
                .iter()
                .enumerate()
                .filter_map(|(j, w)| {
                    let ok = w.watch.as_ref()?.ok.as_ref()?;
                    fds.push(PollFd::new(ok, PollFlags::empty()));
                    Some(j)
                })
                .collect();
            let ready = matches!(poll(&mut fds, Some(&ts)), Ok(n) if n > 0);
            let signalled = ready && first_ok == 1 && !fds[0].revents().is_empty();
            let lost: Vec<usize> = if ready {
                fds[first_ok..]
                    .iter()
                    .zip(&owners)
                    .filter(|(fd, _)| !fd.revents().is_empty())
                    .map(|(_, &j)| j)
                    .collect()
            } else {
                Vec::new()
            };
            (signalled, lost)
        };
        if signalled {
            if let Some(fd) = &sigfd {
                drain(fd);
            }
            for w in waiting.iter_mut().filter(|w| w.watch.is_some()) {
                w.dirty = true;
                w.backoff = FIRST_BACKOFF;
            }
        }
        for j in lost {
            let w = &mut waiting[j];
            w.dirty = true;
            if let Some(wt) = &mut w.watch {
                wt.ok = None;
            }
        }
    }
    Ok(None)
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
