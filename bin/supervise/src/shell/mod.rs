//! supervise's shell: startup in runsv's order (docs/runit-compatibility.md#setting-up-supervise),
//! the one event loop, and the effects the machine asks for. The loop waits in one `poll` on the
//! signalfd, the control FIFOs and (with prefixed logs) the service's output pipes, with the
//! machine's next deadline as the only timeout: an idle supervise never wakes.
//! Faults (docs/reliability.md): each child records itself in `supervise/instance` before its
//! exec ([`herd_sys::Command::spawn_recorded`]), so a supervise killed at any moment leaves
//! nothing its successor cannot find; `supervise/control` and `ok` replaced under supervise are put back at
//! its next status write (or SIGIO); nothing at runtime needs a free descriptor but the status
//! files, whose writes the machine retries.

use std::ffi::{NulError, OsStr};
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Instant, SystemTime};

use herd_diag::{Diag, Reason};
use herd_svdir::{self as svdir, LOG, MAIN};
use herd_sys::process::reap;
use herd_sys::signal::{self, Sig};
use herd_sys::{status_pid, timespec_until};
use herd_tai64n::Tai64n;
use nix::sys::signal::Signal;
use rustix::fs::{self, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::deps::Dependencies;
use crate::health;
use crate::machine::{failure_limit, Machine, Which};
use crate::options::{Listing, Present};
use crate::prefix::{self, Output};
use crate::readiness;
use crate::reclaim::reclaim;

mod effects;
mod fifos;
mod poll;

use effects::Shell;
use fifos::{read_control, Fifos};
use poll::{PollSet, Slot};

/// Signals supervise handles (through its signalfd). SIGPIPE is ignored by the Rust runtime.
/// SIGIO asks supervise to look at `supervise/control` and `ok` at once.
const HANDLED: [Sig; 7] = [
    Sig::SIGCHLD,
    Sig::SIGTERM,
    Sig::SIGHUP,
    Sig::SIGALRM,
    Sig::SIGUSR1,
    Sig::SIGUSR2,
    Sig::SIGIO,
];
/// Lowest descriptor for supervise's pipes, so that they can never be mistaken for stdio.
const FIRST_PRIVATE_FD: i32 = 3;
/// Bytes of `essential` read for its first line.
const ESSENTIAL_READ: usize = 128;

fn now() -> (Instant, Tai64n) {
    (Instant::now(), Tai64n::from_system_time(SystemTime::now()))
}

/// Why supervise could not start, or had to stop: `supervise DIR: fatal: …`, exit 111.
#[derive(Debug)]
pub enum Fatal {
    /// `unable to {what}: {reason}`.
    Sys { what: &'static str, errno: Errno },
    /// Setting up `supervise/`, in runsv's words.
    Svdir(svdir::Error),
    /// A program path with a NUL byte (the paths are constants: never seen).
    Nul(NulError),
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::Sys { what, errno } => {
                write!(f, "unable to {what}: {}", Reason(errno.raw_os_error()))
            }
            Fatal::Svdir(e) => e.fmt(f),
            Fatal::Nul(e) => write!(f, "invalid program path: {e}"),
        }
    }
}

impl std::error::Error for Fatal {}

impl From<svdir::Error> for Fatal {
    fn from(e: svdir::Error) -> Self {
        Fatal::Svdir(e)
    }
}

/// `Fatal::Sys` for an errno of any of the three kinds (nix, rustix, std).
fn sys<E: Into<RawErrno>>(what: &'static str) -> impl FnOnce(E) -> Fatal {
    move |e| Fatal::Sys {
        what,
        errno: Errno::from_raw_os_error(e.into().0),
    }
}

/// A raw errno value, from whichever library reported it.
struct RawErrno(i32);

impl From<nix::errno::Errno> for RawErrno {
    fn from(e: nix::errno::Errno) -> Self {
        RawErrno(e as i32)
    }
}

impl From<Errno> for RawErrno {
    fn from(e: Errno) -> Self {
        RawErrno(e.raw_os_error())
    }
}

impl From<std::io::Error> for RawErrno {
    fn from(e: std::io::Error) -> Self {
        RawErrno(Reason::of(&e).0)
    }
}

/// Runs supervise in `dir` until it exits.
pub fn run(dir: &OsStr, diag: &Diag) -> Result<(), Fatal> {
    // First: the inherited descriptor is taken before any of ours can be given its number.
    let notify = herd_notice::take().unwrap_or_else(|e| {
        diag.warn(&e);
        None
    });
    let sigmask = signal::block(&HANDLED).map_err(sys("block signals"))?;
    let sigfd = signal::signal_fd(&HANDLED).map_err(sys("create signalfd"))?;
    // The scan directory is where the directory named by `dir` is: found before moving there.
    let deps = Dependencies::locate(dir);
    std::env::set_current_dir(dir).map_err(sys("change to directory"))?;

    let main_down = fs::stat(MAIN.down).is_ok();
    let log = match fs::stat(svdir::LOG_DIR) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
            Some(fs::stat(LOG.down).is_ok())
        }
        Ok(_) => {
            diag.warn(&"./log: not a directory.");
            None
        }
        Err(Errno::NOENT) => None,
        Err(e) => {
            diag.warn(&format_args!(
                "unable to stat() ./log: : {}",
                Reason(e.raw_os_error())
            ));
            None
        }
    };
    let pipe = match log {
        Some(_) => Some(private_pipe().map_err(sys("create log pipe"))?),
        None => None,
    };
    let output = match log {
        None if prefix::enabled() => {
            let name = prefix::service_name(dir);
            let output = private_pipe()
                .and_then(|out| Output::new(&name, out, private_pipe()?))
                .map_err(sys("create output pipe"))?;
            Some(output)
        }
        _ => None,
    };
    let essential = read_essential();
    // Held from here on, so that reading the directory at run time needs no free descriptor.
    let listing = Listing::new(
        fs::open(
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .and_then(private_fd)
        .ok(),
    );

    svdir::make_supervise(&MAIN)?;
    let _main_lock = svdir::take_lock(&MAIN, false)?;
    let _log_lock = match log {
        Some(_) => {
            svdir::make_supervise(&LOG)?;
            Some(svdir::take_lock(&LOG, true)?)
        }
        None => None,
    };
    reclaim(&MAIN, Which::Main, diag);
    if log.is_some() {
        reclaim(&LOG, Which::Log, diag);
    }

    diag.trace(&format_args!(
        "start: down {main_down}, log {}, essential {essential:?}",
        match log {
            Some(true) => "down",
            Some(false) => "up",
            None => "none",
        }
    ));
    let (_, wall) = now();
    let mut machine = Machine::new(wall, main_down, log)
        .with_ready_file(readiness::keeps_ready_file())
        .with_health_file(health::has_health(Present::UNKNOWN));
    if let Some(limit) = essential {
        machine = machine.with_essential(limit);
    }
    let mut shell =
        Shell::new(diag, sigmask, pipe, output, notify, deps, listing).map_err(Fatal::Nul)?;
    let mut main = Fifos::open_control(&MAIN, Which::Main)?;
    machine.publish(Which::Main, &mut shell);
    let mut log = match log {
        Some(_) => {
            let fifos = Fifos::open_control(&LOG, Which::Log)?;
            machine.publish(Which::Log, &mut shell);
            Some(fifos)
        }
        None => None,
    };
    main.open_ok(&shell.diag)?;
    if let Some(log) = &mut log {
        log.open_ok(&shell.diag)?;
    }

    loop {
        let (t, wall) = now();
        machine.tick(t, wall, &mut shell);
        if machine.done() {
            if let Some(output) = &mut shell.output {
                output.finish();
            }
            return Ok(());
        }
        // After each status write (supervise changes `supervise/` itself then, at every change
        // of state), or SIGIO: are `control` and `ok` still ours? Looked at after the tick, so
        // that a restart due at once is not held up by it, and then ticked again before the
        // wait: a letter read from a replaced `control` may make a start due at once.
        let unchecked = std::mem::take(&mut shell.unchecked);
        if unchecked.contains(&true) {
            for f in [Some(&mut main), log.as_mut()].into_iter().flatten() {
                if unchecked[Shell::slot(f.which)] {
                    f.check(&mut machine, &mut shell);
                }
            }
            continue;
        }
        let timeout = machine.next_deadline().map(timespec_until);
        let mut set = PollSet::new(sigfd.as_fd());
        set.add(Slot::Control, main.control.as_fd());
        if let Some(log) = &log {
            set.add(Slot::LogControl, log.control.as_fd());
        }
        if let Some(output) = &shell.output {
            let [out, err] = output.readers();
            set.add(Slot::Stdout, out);
            set.add(Slot::Stderr, err);
        }
        if let Some(n) = &shell.notification {
            set.add(Slot::Notification, n.fd());
        }
        if let Some(fd) = shell.deps.fd() {
            set.add(Slot::Dependencies, fd);
        }
        let ready = set.wait(timeout.as_ref()).map_err(sys("poll"))?;
        // Time has passed: the service directory is read again when a start needs it.
        shell.listing.expire();

        // Before the signals, as s6-supervise: a newline written just before `./run` exited
        // makes it ready (for that moment) before it is seen down.
        if ready.has(Slot::Notification) {
            shell.read_notification(&mut machine);
        }
        // What changed does not matter: the machine's next tick looks again.
        if ready.has(Slot::Dependencies) {
            shell.deps.drain();
        }
        if ready.has(Slot::Signals) {
            // HUP, ALRM, USR1 and USR2 would kill runsv and orphan the service; we ignore them.
            let sigs = signal::drain(&sigfd);
            if sigs.contains(Signal::SIGCHLD) {
                while let Some((pid, exit)) = reap() {
                    // What the process wrote before it exited is copied (and its last line
                    // ended) before finish or the next run can write.
                    if let Some(output) = &mut shell.output {
                        output.finish();
                    }
                    if let Some(pid) = status_pid(pid) {
                        shell
                            .diag
                            .trace(&format_args!("event exited: {pid} {exit:?}"));
                        let (t, wall) = now();
                        machine.child_exited(pid, exit, t, wall, &mut shell);
                    }
                }
            }
            if sigs.contains(Signal::SIGTERM) {
                shell.diag.trace(&"event SIGTERM");
                machine.terminate(&mut shell);
            }
            if sigs.contains(Signal::SIGIO) {
                shell.unchecked = [true; 2];
            }
        }
        if let Some(output) = &mut shell.output {
            output.copy([ready.has(Slot::Stdout), ready.has(Slot::Stderr)]);
        }
        if ready.has(Slot::Control) {
            read_control(&main.control, Which::Main, &mut machine, &mut shell);
        }
        if let Some(log) = log.as_ref().filter(|_| ready.has(Slot::LogControl)) {
            read_control(&log.control, Which::Log, &mut machine, &mut shell);
        }
    }
}

/// The failure limit of an essential service (`essential` exists), read from its first line.
fn read_essential() -> Option<u32> {
    let mut buf = [0u8; ESSENTIAL_READ];
    // There but unreadable: essential, with the default limit.
    let bytes = crate::options::read_first(Present::UNKNOWN, svdir::ESSENTIAL, &mut buf)?
        .unwrap_or_default();
    Some(failure_limit(bytes))
}

/// A pipe with both ends close-on-exec and at descriptors 3 and above.
fn private_pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    Ok((private_fd(r)?, private_fd(w)?))
}

/// `fd` (close-on-exec), moved to 3 or above if it is below.
fn private_fd(fd: OwnedFd) -> Result<OwnedFd, Errno> {
    if rustix::fd::AsRawFd::as_raw_fd(&fd) >= FIRST_PRIVATE_FD {
        Ok(fd)
    } else {
        rustix::io::fcntl_dupfd_cloexec(&fd, FIRST_PRIVATE_FD)
    }
}
