//! The service directory as runsv lays it out (docs/runit-compatibility.md#the-service-directory):
//! every path, the `supervise/` setup (including `supervise` as a symlink), the lock, the `control`
//! and `ok` FIFOs, and the atomic `x.new` + rename writes of `pid`, `stat` and `status`, in runsv's
//! order.
//!
//! Paths are relative to the service directory, which is the caller's cwd (runsv `chdir`s there
//! first), so error texts name them exactly as runsv does (`unable to lock supervise/lock`).
//! A caller elsewhere (svscan, for each service of its scan directory) takes the same paths
//! through [`Layout::at`]. Every descriptor is opened close-on-exec. This crate has no policy and
//! no loop.
//!
//! Unlike runsv, nothing in `supervise/` is opened through a symlink (`O_NOFOLLOW`), so a link
//! planted there cannot make a root supervisor create, truncate or write another file: the open
//! fails with ELOOP (`symbolic link loop`) and the caller says so. Files that are written are
//! opened non-blocking, as runsv does, so a FIFO planted in their place cannot hang it.
//! `supervise` itself may be a symlink (Debian's layout).

#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use herd_diag::Reason;
use herd_status::{Health, Pid, Readiness, Runs, Status};
use rustix::fs::{self, AtFlags, FileType, FlockOperation, Mode, OFlags, CWD};
use rustix::io::Errno;

/// Where the files of one supervised service live, relative to the service directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The directory the service's programs run in (`.` or `./log`).
    pub base: &'static str,
    /// `supervise`, or `log/supervise`.
    pub supervise: &'static str,
    /// The name runsv uses for `supervise` in readlink errors.
    pub supervise_link: &'static str,
    pub lock: &'static str,
    pub control: &'static str,
    pub ok: &'static str,
    pub status: &'static str,
    pub status_new: &'static str,
    pub stat: &'static str,
    pub stat_new: &'static str,
    pub pid: &'static str,
    pub pid_new: &'static str,
    /// herd only: `PID STARTTIME` of the last process started, to recognise it after a crash.
    pub instance: &'static str,
    pub instance_new: &'static str,
    /// herd only: the readiness of the main service (`herd_status::Readiness`), kept only for a
    /// service with `notification-fd`, `check` or `dependencies.d/`.
    pub ready: &'static str,
    pub ready_new: &'static str,
    /// herd only: starts of `./run`, how the last one ended, and whether supervise gave up
    /// (`herd_status::Runs`).
    pub runs: &'static str,
    pub runs_new: &'static str,
    /// herd only: the health of a service with a `health` check (`herd_status::Health`).
    pub health: &'static str,
    pub health_new: &'static str,
    /// Present when the service starts: want down.
    pub down: &'static str,
}

impl Layout {
    /// This layout's files in the service directory `dir` rather than in the current one.
    pub fn at<'a>(&'a self, dir: &'a Path) -> At<'a> {
        At { dir, layout: self }
    }
}

/// A [`Layout`] seen from outside the service directory: each path is `dir` joined with the
/// layout's path (`/etc/service/web` + `supervise/pid`).
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    dir: &'a Path,
    layout: &'a Layout,
}

impl At<'_> {
    /// The service directory.
    pub fn dir(&self) -> &Path {
        self.dir
    }

    /// `supervise` (or `log/supervise`).
    pub fn supervise(&self) -> PathBuf {
        self.dir.join(self.layout.supervise)
    }

    /// `supervise/lock`.
    pub fn lock(&self) -> PathBuf {
        self.dir.join(self.layout.lock)
    }

    /// `supervise/control`, the FIFO control letters are written to (`herd_control::write_control`).
    pub fn control(&self) -> PathBuf {
        self.dir.join(self.layout.control)
    }

    /// `supervise/ok`.
    pub fn ok(&self) -> PathBuf {
        self.dir.join(self.layout.ok)
    }

    /// `supervise/status`.
    pub fn status(&self) -> PathBuf {
        self.dir.join(self.layout.status)
    }

    /// `supervise/stat`.
    pub fn stat(&self) -> PathBuf {
        self.dir.join(self.layout.stat)
    }

    /// `supervise/pid`.
    pub fn pid(&self) -> PathBuf {
        self.dir.join(self.layout.pid)
    }

    /// `supervise/ready`.
    pub fn ready(&self) -> PathBuf {
        self.dir.join(self.layout.ready)
    }

    /// `down` (or `log/down`).
    pub fn down(&self) -> PathBuf {
        self.dir.join(self.layout.down)
    }

    /// The service's readiness, from its `supervise/status` and `supervise/ready`
    /// (`herd_status::is_ready`); `false` when the status cannot be read.
    pub fn is_ready(&self) -> bool {
        let Some(status) = std::fs::read(self.status())
            .ok()
            .and_then(|b| Status::decode(&b).ok())
        else {
            return false;
        };
        let ready = read_ready_at(&self.ready());
        herd_status::is_ready(&status, ready.as_ref().map(Option::as_ref))
    }

    /// The process `supervise/pid` names: `./run` or `./finish` while one runs, `None` while the
    /// service is down (the file is empty) or when it cannot be read.
    pub fn read_pid(&self) -> Option<Pid> {
        herd_status::parse_pid_text(&std::fs::read(self.pid()).ok()?)
    }

    /// Whether a supervise runs for this service: `supervise/ok` opened for writing without
    /// blocking finds a reader (ENXIO: none; runit's test). supervise writes `status` before it
    /// opens `ok`, so once this is true `status` is not a stale one of an earlier supervise.
    pub fn supervised(&self) -> bool {
        fs::open(
            self.ok(),
            OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .is_ok()
    }
}

/// The main service.
pub const MAIN: Layout = Layout {
    base: ".",
    supervise: "supervise",
    supervise_link: "./supervise",
    lock: "supervise/lock",
    control: "supervise/control",
    ok: "supervise/ok",
    status: "supervise/status",
    status_new: "supervise/status.new",
    stat: "supervise/stat",
    stat_new: "supervise/stat.new",
    pid: "supervise/pid",
    pid_new: "supervise/pid.new",
    instance: "supervise/instance",
    instance_new: "supervise/instance.new",
    ready: "supervise/ready",
    ready_new: "supervise/ready.new",
    runs: "supervise/runs",
    runs_new: "supervise/runs.new",
    health: "supervise/health",
    health_new: "supervise/health.new",
    down: "down",
};

/// The log service in `log/`.
pub const LOG: Layout = Layout {
    base: "./log",
    supervise: "log/supervise",
    supervise_link: "./log/supervise",
    lock: "log/supervise/lock",
    control: "log/supervise/control",
    ok: "log/supervise/ok",
    status: "log/supervise/status",
    status_new: "log/supervise/status.new",
    stat: "log/supervise/stat",
    stat_new: "log/supervise/stat.new",
    pid: "log/supervise/pid",
    pid_new: "log/supervise/pid.new",
    instance: "log/supervise/instance",
    instance_new: "log/supervise/instance.new",
    ready: "log/supervise/ready",
    ready_new: "log/supervise/ready.new",
    runs: "log/supervise/runs",
    runs_new: "log/supervise/runs.new",
    health: "log/supervise/health",
    health_new: "log/supervise/health.new",
    down: "log/down",
};

/// The service's run program, relative to its base directory.
pub const RUN: &str = "./run";
/// The finish program of the main service.
pub const FINISH: &str = "./finish";
/// The finish program's name as runsv tests for it (`open` for reading).
pub const FINISH_FILE: &str = "finish";
/// The log service's directory.
pub const LOG_DIR: &str = "log";
/// herd only: present when the main service is essential; its first line may give the number of
/// failed runs in a row after which it stops for good.
pub const ESSENTIAL: &str = "essential";
/// s6's file: the descriptor on which `./run` writes a newline when it is ready.
pub const NOTIFICATION_FD: &str = "notification-fd";
/// Client-side readiness check used by `sv`: the path it is executed by...
pub const CHECK: &str = "check";
/// ...and its argv[0] (runit: `execve("check", {"./check"})`).
pub const CHECK_ARGV0: &str = "./check";
/// herd only: the main service's health check, run by supervise while the service is up and
/// ready (docs/policy.md, "Health"): the path it is executed by...
pub const HEALTH: &str = "health";
/// ...and its argv[0].
pub const HEALTH_ARGV0: &str = "./health";
/// herd only: seconds between the end of a health check and the start of the next.
pub const HEALTH_INTERVAL: &str = "health-interval";
/// herd only: seconds after which a health check still running is killed (a failure).
pub const HEALTH_TIMEOUT: &str = "health-timeout";
/// herd only: failed health checks in a row that make the service unhealthy.
pub const HEALTH_RETRIES: &str = "health-retries";
/// herd only: seconds from the start of `./run` in which failed health checks do not count.
pub const HEALTH_START_PERIOD: &str = "health-start-period";

/// Longest `supervise` symlink text runsv accepts (its readlink buffer).
const LINK_MAX: usize = 256;
const DIR_MODE: u32 = 0o700;
/// The directories made on the way to a `supervise` symlink's target.
const PARENT_MODE: u32 = 0o755;
const FIFO_MODE: u32 = 0o600;
const LOCK_MODE: u32 = 0o600;
pub const FILE_MODE: u32 = 0o644;
/// Flags of every open in `supervise/`: never through a symlink, never inherited.
const PRIVATE: OFlags = OFlags::NOFOLLOW.union(OFlags::CLOEXEC);

/// A failed operation on the service directory, worded as runsv words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// `{what}{path}: {reason}`, e.g. `unable to lock supervise/lock: temporary failure`.
    Sys {
        what: &'static str,
        path: &'static str,
        errno: Errno,
    },
    /// `unable to rename pid.new to supervise/pid: {reason}`.
    Rename {
        from: &'static str,
        to: &'static str,
        errno: Errno,
    },
    /// `supervise/control exists but is not a fifo`.
    NotFifo { path: &'static str },
    /// `unable to readlink ./supervise: name too long`.
    LinkTooLong { path: &'static str },
    /// `unable to mkdir the target of ./supervise: {reason}`: the directory a `supervise` symlink
    /// names could not be made.
    MkdirTarget { link: &'static str, errno: Errno },
    /// `unable to write supervise/status.new: partial write.`
    PartialWrite { path: &'static str },
}

impl Error {
    /// The errno behind the error, if there is one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Sys { errno, .. }
            | Error::Rename { errno, .. }
            | Error::MkdirTarget { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Sys { what, path, errno } => {
                write!(f, "{what}{path}: {}", Reason(errno.raw_os_error()))
            }
            Error::Rename { from, to, errno } => {
                let short = from.rsplit('/').next().unwrap_or(from);
                write!(
                    f,
                    "unable to rename {short} to {to}: {}",
                    Reason(errno.raw_os_error())
                )
            }
            Error::NotFifo { path } => write!(f, "{path} exists but is not a fifo"),
            Error::LinkTooLong { path } => write!(f, "unable to readlink {path}: name too long"),
            Error::MkdirTarget { link, errno } => write!(
                f,
                "unable to mkdir the target of {link}: {}",
                Reason(errno.raw_os_error())
            ),
            Error::PartialWrite { path } => write!(f, "unable to write {path}: partial write."),
        }
    }
}

impl std::error::Error for Error {}

fn sys(what: &'static str, path: &'static str) -> impl FnOnce(Errno) -> Error {
    move |errno| Error::Sys { what, path, errno }
}

/// Creates the `supervise` directory (mode 0700). If `supervise` is a symlink, creates its target
/// instead (only the last component, relative to the service's base directory), as Debian's
/// `/etc/sv/X/supervise -> /run/runit/supervise/X` needs. An existing directory keeps its mode.
pub fn make_supervise(l: &Layout) -> Result<(), Error> {
    match fs::mkdir(l.supervise, Mode::from_raw_mode(DIR_MODE)) {
        Ok(()) => return Ok(()),
        // There already: a directory, or a symlink (dangling or not), or something else that the
        // lock's open reports.
        Err(Errno::EXIST) => {}
        // The real cause (a read-only tree, say), not its consequence at the lock's open.
        Err(e) => return Err(sys("unable to mkdir ", l.supervise)(e)),
    }
    match fs::readlink(l.supervise, Vec::new()) {
        Ok(target) => {
            if target.as_bytes().len() >= LINK_MAX {
                return Err(Error::LinkTooLong {
                    path: l.supervise_link,
                });
            }
            let base = fs::open(l.base, OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(sys("unable to open ", l.base))?;
            make_target(&base, target.as_bytes()).map_err(|errno| Error::MkdirTarget {
                link: l.supervise_link,
                errno,
            })
        }
        Err(Errno::NOENT | Errno::INVAL) => Ok(()),
        Err(e) => Err(sys("unable to readlink ", l.supervise_link)(e)),
    }
}

/// Makes the directory a `supervise` symlink names (relative to the link's directory `base`) and
/// the directories on the way to it, as `mkdir -p` does: the missing parents with mode 0755 (less
/// the umask), the target itself 0700. Each existing one is left as it is.
fn make_target(base: &OwnedFd, target: &[u8]) -> Result<(), Errno> {
    let mut end = 0;
    while end < target.len() {
        // The next component's end.
        let from = end + target[end..].iter().take_while(|&&b| b == b'/').count();
        end = from + target[from..].iter().take_while(|&&b| b != b'/').count();
        if end == from {
            break;
        }
        let last = target[end..].iter().all(|&b| b == b'/');
        let mode = if last { DIR_MODE } else { PARENT_MODE };
        match fs::mkdirat(base, &target[..end], Mode::from_raw_mode(mode)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Opens `supervise/lock` (mode 0600) and takes an exclusive `flock(2)` on it. runsv takes the
/// main lock without blocking (a held lock is fatal) and the log's lock blocking. A symlink
/// there is an error (ELOOP), where runsv would create and lock the link's target.
pub fn take_lock(l: &Layout, wait: bool) -> Result<OwnedFd, Error> {
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NONBLOCK | PRIVATE;
    let fd = fs::open(l.lock, flags, Mode::from_raw_mode(LOCK_MODE))
        .map_err(sys("unable to open ", l.lock))?;
    let op = if wait {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    fs::flock(&fd, op).map_err(sys("unable to lock ", l.lock))?;
    Ok(fd)
}

/// Creates `supervise/control` (FIFO, 0600) if missing and opens it read+write, non-blocking, so
/// that reads never see EOF. Something other than a FIFO there is an error, a symlink included
/// (runsv follows one to whatever it names). An existing FIFO keeps its owner and mode, so a
/// pre-made `supervise/` can give a group the right to write it.
pub fn open_control(l: &Layout) -> Result<OwnedFd, Error> {
    let _ = fs::mkfifoat(CWD, l.control, Mode::from_raw_mode(FIFO_MODE));
    let not_fifo = Error::NotFifo { path: l.control };
    let st = fs::lstat(l.control).map_err(sys("unable to stat ", l.control))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Fifo {
        return Err(not_fifo);
    }
    let fd = fs::open(l.control, Held::Control.flags(), Mode::empty())
        .map_err(sys("unable to open ", l.control))?;
    // What was looked at may have been replaced before the open.
    match fs::fstat(&fd) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Fifo => Ok(fd),
        Ok(_) => Err(not_fifo),
        Err(e) => Err(sys("unable to stat ", l.control)(e)),
    }
}

/// Creates `supervise/ok` (FIFO, 0600) and opens it for reading. Holding it open is the liveness
/// signal clients test by opening it for writing (ENXIO: no supervisor).
pub fn open_ok(l: &Layout) -> Result<OwnedFd, Error> {
    let _ = fs::mkfifoat(CWD, l.ok, Mode::from_raw_mode(FIFO_MODE));
    fs::open(l.ok, Held::Ok.flags(), Mode::empty()).map_err(sys("unable to read ", l.ok))
}

/// What is at the path of a FIFO that supervise holds open (`control`, `ok`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoState {
    /// The FIFO held open (or the path cannot be examined, so there is nothing to do).
    Held,
    /// Nothing: it was removed. Left alone: a removal of the whole service may be under way.
    Missing,
    /// Another FIFO, made by someone else: the caller opens it instead.
    Other,
    /// Something that is not a FIFO: the caller replaces it with [`replace_fifo`].
    NotFifo,
}

/// Compares what is at `path` with the FIFO `held` (`None`: nothing held yet). A symlink is not
/// followed: even one to a FIFO counts as [`FifoState::NotFifo`], and is replaced.
pub fn check_fifo(path: &str, held: Option<BorrowedFd<'_>>) -> FifoState {
    let st = match fs::statat(CWD, path, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return FifoState::Missing,
        Err(_) => return FifoState::Held,
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Fifo {
        return FifoState::NotFifo;
    }
    match held.map(fs::fstat) {
        Some(Ok(h)) if (h.st_dev, h.st_ino) != (st.st_dev, st.st_ino) => FifoState::Other,
        _ => FifoState::Held,
    }
}

/// How supervise holds one of its FIFOs: `control` read and write (so that it never sees EOF),
/// `ok` read only (a liveness signal: clients open it for writing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    Control,
    Ok,
}

impl Held {
    fn flags(self) -> OFlags {
        let access = match self {
            Held::Control => OFlags::RDWR,
            Held::Ok => OFlags::RDONLY,
        };
        access | OFlags::NONBLOCK | PRIVATE
    }
}

/// Puts a new FIFO (mode 0600) at `path` in place of what is there (a regular file, say), and
/// returns it opened as `held` says: made as `path.new` and opened, then renamed over `path`, so
/// the name is never missing and never a FIFO without its reader meanwhile (a client opening it
/// then would take supervise for gone).
pub fn replace_fifo(path: &'static str, held: Held) -> Result<OwnedFd, Error> {
    let new = format!("{path}.new");
    let fail = sys("unable to replace ", path);
    let _ = fs::unlink(&new);
    fs::mkfifoat(CWD, &new, Mode::from_raw_mode(FIFO_MODE)).map_err(fail)?;
    let undo = |e| {
        let _ = fs::unlink(&new);
        sys("unable to replace ", path)(e)
    };
    let fd = fs::open(&new, held.flags(), Mode::empty()).map_err(undo)?;
    fs::rename(&new, path).map_err(undo)?;
    Ok(fd)
}

/// Writes `bytes` to `new` (mode 0644, truncated) and renames it over `target`. `new` is opened
/// as runsv opens it (non-blocking: a FIFO without a reader is ENXIO, not a hang), but never
/// through a symlink (ELOOP).
pub fn write_atomic(new: &'static str, target: &'static str, bytes: &[u8]) -> Result<(), Error> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NONBLOCK | PRIVATE;
    let fd = fs::open(new, flags, Mode::from_raw_mode(FILE_MODE))
        .map_err(sys("unable to open ", new))?;
    match rustix::io::write(&fd, bytes) {
        Ok(n) if n == bytes.len() => {}
        Ok(_) => {
            drop(fd);
            let _ = fs::unlink(new);
            return Err(Error::PartialWrite { path: new });
        }
        Err(e) => {
            drop(fd);
            let _ = fs::unlink(new);
            return Err(sys("unable to write ", new)(e));
        }
    }
    drop(fd);
    fs::rename(new, target).map_err(|errno| Error::Rename {
        from: new,
        to: target,
        errno,
    })
}

/// Publishes a service's state as runsv does: `pid` (only when the pid changed since the last
/// successful write), then `stat`, then `status`, each through `x.new` and rename. The first
/// failure skips the rest of the update and is returned for the caller to warn about.
#[derive(Debug)]
pub struct StatusWriter {
    layout: Layout,
    /// The pid last written to `pid`; `None` until the first write.
    written_pid: Option<Option<Pid>>,
}

impl StatusWriter {
    pub fn new(layout: Layout) -> Self {
        StatusWriter {
            layout,
            written_pid: None,
        }
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Writes `pid` (if changed), `stat` and `status`.
    pub fn publish(&mut self, status: &Status) -> Result<(), Error> {
        let l = &self.layout;
        if self.written_pid != Some(status.pid) {
            write_atomic(l.pid_new, l.pid, status.pid_text().as_bytes())?;
            self.written_pid = Some(status.pid);
        }
        write_atomic(l.stat_new, l.stat, status.stat_text().as_bytes())?;
        write_atomic(l.status_new, l.status, &status.encode())
    }
}

/// Writes `supervise/ready` (atomically).
pub fn write_ready(l: &Layout, r: &Readiness) -> Result<(), Error> {
    write_atomic(l.ready_new, l.ready, &r.encode())
}

/// Removes `supervise/ready` (a service that has no way to be ready other than being up); a
/// file that is not there is no error.
pub fn remove_ready(l: &Layout) -> Result<(), Error> {
    remove_if_there(l.ready)
}

/// Removes one of herd's files of `supervise/`; one that is not there is no error.
fn remove_if_there(path: &'static str) -> Result<(), Error> {
    match fs::unlink(path) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(sys("unable to remove ", path)(e)),
    }
}

/// Writes `supervise/runs` (atomically).
pub fn write_runs(l: &Layout, r: &Runs) -> Result<(), Error> {
    write_atomic(l.runs_new, l.runs, &r.encode())
}

/// Writes `supervise/health` (atomically).
pub fn write_health(l: &Layout, h: &Health) -> Result<(), Error> {
    write_atomic(l.health_new, l.health, &h.encode())
}

/// Removes `supervise/health` (a service without a `health` check); a file that is not there is
/// no error.
pub fn remove_health(l: &Layout) -> Result<(), Error> {
    remove_if_there(l.health)
}

/// Reads `supervise/runs`: `None` if it does not exist, `Some(None)` if it cannot be read or
/// decoded.
pub fn read_runs(l: &Layout) -> Option<Option<Runs>> {
    read_line_file(Path::new(l.runs)).map(|b| b.and_then(|b| Runs::decode(&b)))
}

/// Reads `supervise/health` as [`read_runs`] reads `runs`.
pub fn read_health(l: &Layout) -> Option<Option<Health>> {
    read_line_file(Path::new(l.health)).map(|b| b.and_then(|b| Health::decode(&b)))
}

/// The first bytes (at most [`READY_MAX`]) of a one-line file of `supervise/`, opened never
/// through a symlink: `None` if it does not exist, `Some(None)` if it cannot be read.
fn read_line_file(path: &Path) -> Option<Option<Vec<u8>>> {
    let fd = match fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | PRIVATE,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return None,
        Err(_) => return Some(None),
    };
    let mut buf = [0u8; READY_MAX];
    Some(
        rustix::io::read(&fd, &mut buf)
            .ok()
            .map(|n| buf[..n].to_vec()),
    )
}

/// Longest `supervise/ready` read: `waiting ` and a file name of 255 bytes, or a `ready` line.
const READY_MAX: usize = 300;

/// Reads `supervise/ready`: `None` if the file does not exist (readiness is then runit's: up is
/// ready), `Some(None)` if it cannot be read or decoded (not ready).
pub fn read_ready(l: &Layout) -> Option<Option<Readiness>> {
    read_ready_at(Path::new(l.ready))
}

/// [`read_ready`] of the file at `path`.
pub fn read_ready_at(path: &Path) -> Option<Option<Readiness>> {
    read_line_file(path).map(|b| b.and_then(|b| Readiness::decode(&b)))
}

/// A process recorded in `supervise/instance`: its pid and its start time in clock ticks after
/// boot (field 22 of `/proc/PID/stat`), which together name one process even after pid reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    pub pid: Pid,
    pub start: u64,
}

/// Records `inst` in `supervise/instance` (atomically).
pub fn write_instance(l: &Layout, inst: Instance) -> Result<(), Error> {
    let mut buf = [0u8; INSTANCE_MAX];
    let len = encode_instance(inst.pid.get(), inst.start, &mut buf);
    write_atomic(l.instance_new, l.instance, &buf[..len])
}

/// Longest `supervise/instance` read or written: two decimal numbers of 20 digits, a space and a
/// newline.
pub const INSTANCE_MAX: usize = 64;

/// `PID START\n` into `out`; its length. Allocates nothing and cannot panic: a child between
/// `clone` and `exec` calls it to record itself (`herd_sys::Record`).
pub fn encode_instance(pid: u32, start: u64, out: &mut [u8; INSTANCE_MAX]) -> usize {
    let mut len = 0;
    for (n, end) in [(u64::from(pid), b' '), (start, b'\n')] {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in digits[i..].iter().chain(&[end]) {
            if let Some(slot) = out.get_mut(len) {
                *slot = d;
                len += 1;
            }
        }
    }
    len
}

/// Reads `supervise/instance`; `None` if it is missing or malformed, or if it is not a regular
/// file owned by our effective user: its pid is stopped at startup, so a file someone else could
/// have written (in a `supervise/` they can write to) must not name the process to stop.
pub fn read_instance(l: &Layout) -> Option<Instance> {
    let fd = fs::open(
        l.instance,
        OFlags::RDONLY | OFlags::NONBLOCK | PRIVATE,
        Mode::empty(),
    )
    .ok()?;
    let st = fs::fstat(&fd).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile
        || st.st_uid != rustix::process::geteuid().as_raw()
    {
        return None;
    }
    let mut buf = [0u8; INSTANCE_MAX];
    let n = rustix::io::read(&fd, &mut buf).ok()?;
    parse_instance(&buf[..n])
}

/// `PID START\n` as [`write_instance`] writes it: a pid (`herd_value::pid`, 1 to 2^31 - 1) and
/// a start time (`herd_value::clock_ticks`); `None` for anything else.
pub fn parse_instance(text: &[u8]) -> Option<Instance> {
    let mut words = text
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty());
    let pid = herd_value::pid(words.next()?).ok()?;
    let start = herd_value::clock_ticks(words.next()?).ok()?;
    Some(Instance { pid, start })
}

/// Reads and decodes `supervise/status` as runit's clients do: one read of at most 20 bytes,
/// which must return exactly 20 (a shorter file, daemontools' 18 bytes included, is a bad format;
/// bytes past the 20th are not looked at).
pub fn read_status(l: &Layout) -> Result<Status, ReadError> {
    let fd =
        fs::open(l.status, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|errno| {
            ReadError::Open {
                path: l.status,
                errno,
            }
        })?;
    let mut buf = [0u8; herd_status::STATUS_LEN];
    let n = loop {
        match rustix::io::read(&fd, &mut buf) {
            Err(Errno::INTR) => {}
            Err(e) => {
                return Err(ReadError::Read {
                    path: l.status,
                    errno: Some(e),
                })
            }
            Ok(n) => break n,
        }
    };
    let bad = ReadError::Read {
        path: l.status,
        errno: None,
    };
    if n != herd_status::STATUS_LEN {
        return Err(bad);
    }
    Status::decode(&buf).map_err(|_| bad)
}

/// Why `supervise/status` could not be read, as `sv` words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// `unable to open supervise/status: {reason}`.
    Open { path: &'static str, errno: Errno },
    /// `unable to read supervise/status: {reason}` (`bad format` when the length is wrong).
    Read {
        path: &'static str,
        errno: Option<Errno>,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Open { path, errno } => {
                write!(f, "unable to open {path}: {}", Reason(errno.raw_os_error()))
            }
            ReadError::Read {
                path,
                errno: Some(e),
            } => {
                write!(f, "unable to read {path}: {}", Reason(e.raw_os_error()))
            }
            ReadError::Read { path, errno: None } => write!(f, "unable to read {path}: bad format"),
        }
    }
}

impl std::error::Error for ReadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_are_runsvs() {
        let e = Error::Sys {
            what: "unable to lock ",
            path: MAIN.lock,
            errno: Errno::AGAIN,
        };
        assert_eq!(
            e.to_string(),
            "unable to lock supervise/lock: temporary failure"
        );
        let e = Error::Rename {
            from: LOG.pid_new,
            to: LOG.pid,
            errno: Errno::NOENT,
        };
        assert_eq!(
            e.to_string(),
            "unable to rename pid.new to log/supervise/pid: file does not exist"
        );
        assert_eq!(
            Error::NotFifo { path: MAIN.control }.to_string(),
            "supervise/control exists but is not a fifo"
        );
        assert_eq!(
            Error::LinkTooLong {
                path: MAIN.supervise_link
            }
            .to_string(),
            "unable to readlink ./supervise: name too long"
        );
        assert_eq!(
            Error::MkdirTarget {
                link: LOG.supervise_link,
                errno: Errno::ROFS
            }
            .to_string(),
            "unable to mkdir the target of ./log/supervise: read-only file system"
        );
        assert_eq!(
            sys("unable to mkdir ", MAIN.supervise)(Errno::ROFS).to_string(),
            "unable to mkdir supervise: read-only file system"
        );
        assert_eq!(
            ReadError::Read {
                path: MAIN.status,
                errno: None
            }
            .to_string(),
            "unable to read supervise/status: bad format"
        );
    }

    #[test]
    fn paths_at_a_service_directory() {
        let web = Path::new("/etc/service/web");
        let at = MAIN.at(web);
        assert_eq!(at.dir(), web);
        assert_eq!(at.pid(), Path::new("/etc/service/web/supervise/pid"));
        assert_eq!(
            at.control(),
            Path::new("/etc/service/web/supervise/control")
        );
        assert_eq!(at.ok(), Path::new("/etc/service/web/supervise/ok"));
        assert_eq!(at.status(), Path::new("/etc/service/web/supervise/status"));
        assert_eq!(at.stat(), Path::new("/etc/service/web/supervise/stat"));
        assert_eq!(at.lock(), Path::new("/etc/service/web/supervise/lock"));
        assert_eq!(at.supervise(), Path::new("/etc/service/web/supervise"));
        assert_eq!(at.down(), Path::new("/etc/service/web/down"));
        let log = LOG.at(web);
        assert_eq!(log.pid(), Path::new("/etc/service/web/log/supervise/pid"));
        assert_eq!(log.down(), Path::new("/etc/service/web/log/down"));
    }

    #[test]
    fn pid_file_at_a_service_directory() {
        let dir = std::env::temp_dir().join(format!("herd-svdir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("supervise")).expect("temp dir");
        let at = MAIN.at(&dir);
        assert_eq!(at.read_pid(), None, "no file");
        std::fs::write(at.pid(), b"").expect("write");
        assert_eq!(at.read_pid(), None, "down");
        std::fs::write(at.pid(), b"4242\n").expect("write");
        assert_eq!(at.read_pid(), Pid::new(4242));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn fifo_checked_against_the_one_held_and_replaced_whole() {
        use std::os::fd::AsFd;
        let dir = std::env::temp_dir().join(format!("herd-svdir-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        // replace_fifo takes a path for the life of the program, as the layouts' are.
        let path: &'static str = Box::leak(
            dir.join("control")
                .to_str()
                .expect("utf-8 temp dir")
                .to_string()
                .into_boxed_str(),
        );
        assert_eq!(check_fifo(path, None), FifoState::Missing);
        fs::mkfifoat(CWD, path, Mode::from_raw_mode(FIFO_MODE)).expect("mkfifo");
        let held = fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()).expect("open");
        assert_eq!(check_fifo(path, Some(held.as_fd())), FifoState::Held);
        assert_eq!(check_fifo(path, None), FifoState::Held);
        std::fs::remove_file(path).expect("rm");
        assert_eq!(check_fifo(path, Some(held.as_fd())), FifoState::Missing);
        std::fs::write(path, b"d\n").expect("regular file");
        assert_eq!(check_fifo(path, Some(held.as_fd())), FifoState::NotFifo);
        let _new = replace_fifo(path, Held::Control).expect("replace");
        let st = fs::stat(path).expect("stat");
        assert_eq!(FileType::from_raw_mode(st.st_mode), FileType::Fifo);
        // 0600 under any umask that leaves the owner's bits alone.
        assert_eq!(st.st_mode & 0o777, FIFO_MODE);
        // A FIFO, but not the one held: someone made it anew.
        assert_eq!(check_fifo(path, Some(held.as_fd())), FifoState::Other);
        assert!(!dir.join("control.new").exists());
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn layouts_agree() {
        for l in [MAIN, LOG] {
            for p in [l.lock, l.control, l.ok, l.status, l.stat, l.pid, l.instance] {
                assert!(p.starts_with(l.supervise), "{p}");
            }
            assert_eq!(l.status_new, format!("{}.new", l.status));
            assert_eq!(l.stat_new, format!("{}.new", l.stat));
            assert_eq!(l.pid_new, format!("{}.new", l.pid));
        }
    }

    proptest::proptest! {
        /// `supervise/instance` of any bytes: no panic; what `write_instance` writes reads back.
        #[test]
        fn prop_instance(b in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..40)) {
            let _ = parse_instance(&b);
        }

        #[test]
        fn prop_instance_round_trip(p in 1..=i32::MAX.unsigned_abs(), start in proptest::arbitrary::any::<u64>()) {
            let inst = Instance { pid: Pid::new(p).expect("not 0"), start };
            let line = format!("{} {}\n", inst.pid, inst.start);
            proptest::prop_assert_eq!(parse_instance(line.as_bytes()), Some(inst));
            // What the child writes of itself is the same line.
            let mut buf = [0u8; INSTANCE_MAX];
            let len = encode_instance(p, start, &mut buf);
            proptest::prop_assert_eq!(&buf[..len], line.as_bytes());
        }
    }
}
