//! The files of the service directory that give the main service its readiness
//! (docs/readiness.md), and s6's notification pipe.
//!
//! `notification-fd` is s6's file: a descriptor number N; supervise gives `./run` the write end
//! of a fresh pipe as descriptor N, and the service is ready at the first read of the other end
//! that holds a newline. As s6-supervise (2.11, checked), supervise then closes its end: what
//! was written after that newline is dropped, and a later write gets EPIPE (SIGPIPE, which kills
//! a service that does not ignore it). EOF before a newline, or the end of `./run`, closes it
//! too, and the service is not ready. Read here before each start, as s6 does.
//!
//! `check` is runit's script (which runit's `sv` runs): without `notification-fd`, supervise
//! runs it after each start until it exits 0 ([`CheckCommand`]).

use std::ffi::NulError;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};

use herd_diag::{Diag, Kind, Reason};
use herd_status::Pid;
use herd_svdir::{CHECK, CHECK_ARGV0, NOTIFICATION_FD};
use herd_sys::{status_pid, Command, SpawnError};
use nix::sys::signal::SigSet;
use rustix::io::Errno;

use crate::options::Present;

/// Bytes of `notification-fd` read for its first line.
const NOTIFICATION_FD_READ: usize = 64;
/// Longest piece of a bad `notification-fd` shown in the warning.
const SHOWN_MAX: usize = 32;
/// Bytes read from the notification pipe per `read(2)` (s6's buffer).
const NOTIFY_BUF: usize = 4096;
/// Reads of the notification pipe per wakeup, at most: a service that writes without end and
/// without a newline cannot keep the loop from its signals.
const NOTIFY_READS: usize = 16;
/// Lowest descriptor a notification may use: 0, 1 and 2 are the service's stdio (s6 takes them,
/// and `notification-fd` 1 then replaces the log pipe).
const LOWEST_FD: i32 = 3;

/// Why `notification-fd` gives no descriptor. supervise says so at each start and starts
/// `./run` without it: that run never becomes ready, as under s6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdError {
    /// The file exists but cannot be read (a directory, say).
    Unreadable(Errno),
    /// Its first line is not a number (shown, cut and escaped; empty when it is empty).
    NotNumber(String),
    /// A number beyond any descriptor (above 2^31 − 1).
    OutOfRange(String),
    /// 0, 1 or 2.
    Stdio(i32),
    /// Not below the limit on descriptors (`RLIMIT_NOFILE`), so it cannot be given.
    AboveLimit { fd: i32, limit: u64 },
}

impl fmt::Display for FdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FdError::Unreadable(e) => write!(
                f,
                "unable to read {NOTIFICATION_FD}: {}",
                Reason(e.raw_os_error())
            ),
            FdError::NotNumber(s) if s.is_empty() => write!(f, "invalid {NOTIFICATION_FD}: empty"),
            FdError::NotNumber(s) => write!(f, "invalid {NOTIFICATION_FD}: not a number: {s}"),
            FdError::OutOfRange(s) => write!(f, "invalid {NOTIFICATION_FD}: out of range: {s}"),
            FdError::Stdio(n) => write!(f, "invalid {NOTIFICATION_FD}: {n}: must be 3 or more"),
            FdError::AboveLimit { fd, limit } => write!(
                f,
                "invalid {NOTIFICATION_FD}: {fd}: not below the descriptor limit {limit}"
            ),
        }
    }
}

/// The descriptor `notification-fd` names, from the file's contents: its first line, blanks
/// around it allowed (s6 refuses them), one or more digits, from 3 to below `limit` (the
/// process's `RLIMIT_NOFILE`, above which `dup2(2)` cannot make it).
pub fn parse_notification_fd(contents: &[u8], limit: u64) -> Result<i32, FdError> {
    let line = herd_value::first_line(contents);
    let shown = || {
        let cut = &line[..line.len().min(SHOWN_MAX)];
        cut.escape_ascii().to_string()
    };
    let fd = herd_value::fd(line).map_err(|e| match e {
        herd_value::Error::Invalid => FdError::NotNumber(shown()),
        herd_value::Error::OutOfRange => FdError::OutOfRange(shown()),
    })?;
    if fd < LOWEST_FD {
        return Err(FdError::Stdio(fd));
    }
    if u64::try_from(fd).map_or(true, |n| n >= limit) {
        return Err(FdError::AboveLimit { fd, limit });
    }
    Ok(fd)
}

/// Reads `notification-fd` in the current directory (the service directory): `None` if there
/// is no such file.
pub fn read_notification_fd(present: Present) -> Option<Result<i32, FdError>> {
    let mut buf = [0u8; NOTIFICATION_FD_READ];
    let bytes = match crate::options::read_first(present, NOTIFICATION_FD, &mut buf)? {
        Ok(bytes) => bytes,
        Err(e) => return Some(Err(FdError::Unreadable(e.errno()))),
    };
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);
    Some(parse_notification_fd(bytes, limit))
}

/// Whether the service directory (the current one) has a way to be ready other than being up,
/// so that `supervise/ready` is kept: `notification-fd` or `check` exists (any kind of file,
/// through a symlink), or `dependencies.d/`.
pub fn keeps_ready_file() -> bool {
    let unknown = Present::UNKNOWN;
    rustix::fs::stat(NOTIFICATION_FD).is_ok() || has_check(unknown) || has_dependencies(unknown)
}

/// Whether `dependencies.d` is a directory (through a symlink).
pub fn has_dependencies(present: Present) -> bool {
    present.may_exist(herd_deps::DIR) && std::fs::metadata(herd_deps::DIR).is_ok_and(|m| m.is_dir())
}

/// Whether `check` exists (any kind of file, through a symlink).
pub fn has_check(present: Present) -> bool {
    present.may_exist(CHECK) && rustix::fs::stat(CHECK).is_ok()
}

/// `./check` as supervise runs it: as runit's `sv` does (the path `check`, argv `[./check]`),
/// cwd the service directory, stdin and
/// stdout `/dev/null`, stderr supervise's, in a session of its own (so that all it started can
/// be killed with it when `./run` ends), not waited for.
pub struct CheckCommand {
    cmd: Command,
    /// Its argv[0], the name in messages (`./check`, `./health`).
    name: &'static str,
    /// `/dev/null`, opened at the first run (and kept: `cmd` names it by number).
    devnull: Option<OwnedFd>,
    /// A failure to run it has been said since the last start of `./run`.
    said: bool,
}

impl CheckCommand {
    pub fn new(mask: SigSet) -> Result<Self, NulError> {
        // As runit's sv: `execve("check", {"./check"})` (a script's interpreter gets `check`).
        Self::program(mask, CHECK, CHECK_ARGV0)
    }

    /// Another program run the same way (`./health`).
    pub fn program(mask: SigSet, path: &str, name: &'static str) -> Result<Self, NulError> {
        // The failure is reported to supervise (spawn_reporting), never written by the child.
        let mut cmd = Command::new(path, "")?;
        cmd.arg0(name)?;
        cmd.mask(mask);
        cmd.setsid(true);
        Ok(CheckCommand {
            cmd,
            name,
            devnull: None,
            said: false,
        })
    }

    /// `./run` starts again: a failure is said again.
    pub fn new_run(&mut self) {
        self.said = false;
    }

    /// Starts `./check`; `None` if it could not be (said once per start of `./run`).
    pub fn spawn(&mut self, diag: &Diag) -> Option<Pid> {
        if self.devnull.is_none() {
            match rustix::fs::open(
                "/dev/null",
                rustix::fs::OFlags::RDWR | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            ) {
                Ok(fd) => {
                    self.cmd.stdin(fd.as_fd());
                    self.cmd.stdout(fd.as_fd());
                    self.devnull = Some(fd);
                }
                Err(e) => {
                    let what = format!("unable to open /dev/null for {}", self.name);
                    self.fail(diag, &what, e.raw_os_error());
                    return None;
                }
            }
        }
        match self.cmd.spawn_reporting() {
            Ok(pid) => {
                diag.trace(&format_args!("effect {}: {pid}", self.label()));
                status_pid(pid)
            }
            Err(SpawnError::Fork(e)) => {
                let what = format!("unable to fork for {}", self.name);
                self.fail(diag, &what, e as i32);
                None
            }
            Err(SpawnError::Exec { errno, .. }) => {
                let what = format!("unable to run {}", self.name);
                self.fail(diag, &what, errno as i32);
                None
            }
        }
    }

    /// Its name in the trace (`check`, `health`).
    fn label(&self) -> &'static str {
        self.name.trim_start_matches("./")
    }

    fn fail(&mut self, diag: &Diag, what: &str, errno: i32) {
        diag.trace(&format_args!(
            "effect {}: {what}: {}",
            self.label(),
            Reason(errno)
        ));
        if !std::mem::replace(&mut self.said, true) {
            let mut line = diag.head(Kind::Warning, &what);
            line.extend_from_slice(Reason(errno).to_string().as_bytes());
            line.push(b'\n');
            herd_diag::emit(line);
        }
    }
}

/// supervise's end of the notification pipe of the running `./run`.
#[derive(Debug)]
pub struct Notification {
    read_end: OwnedFd,
}

/// What a look at the notification pipe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notified {
    /// Nothing decisive yet: keep reading.
    Pending,
    /// A newline: the service is ready. The pipe is closed.
    Ready,
    /// EOF (or an error) before any newline: the service will not be ready. The pipe is closed.
    Closed,
}

impl Notification {
    /// supervise's end of a new pipe (made non-blocking here).
    pub fn new(read_end: OwnedFd) -> Result<Self, Errno> {
        rustix::fs::fcntl_setfl(&read_end, rustix::fs::OFlags::NONBLOCK)?;
        Ok(Notification { read_end })
    }

    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.read_end.as_fd()
    }

    /// Reads what is there (s6: bytes before the newline are ignored, and so is everything after
    /// it). The caller closes the pipe unless the answer is [`Notified::Pending`].
    pub fn read(&self) -> Notified {
        let mut buf = [0u8; NOTIFY_BUF];
        for _ in 0..NOTIFY_READS {
            match rustix::io::read(&self.read_end, &mut buf) {
                Ok(0) => return Notified::Closed,
                Ok(n) if buf[..n].contains(&b'\n') => return Notified::Ready,
                Ok(_) | Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return Notified::Pending,
                Err(_) => return Notified::Closed,
            }
        }
        Notified::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 1024;

    #[test]
    fn notification_fd_values() {
        assert_eq!(parse_notification_fd(b"3\n", LIMIT), Ok(3));
        assert_eq!(parse_notification_fd(b"3", LIMIT), Ok(3));
        assert_eq!(parse_notification_fd(b"03\n", LIMIT), Ok(3));
        assert_eq!(parse_notification_fd(b"3\nmore", LIMIT), Ok(3));
        assert_eq!(parse_notification_fd(b" 5 \r\n", LIMIT), Ok(5));
        assert_eq!(parse_notification_fd(b"1023", LIMIT), Ok(1023));
        assert_eq!(
            parse_notification_fd(b"", LIMIT),
            Err(FdError::NotNumber(String::new()))
        );
        assert_eq!(
            parse_notification_fd(b"\n3\n", LIMIT),
            Err(FdError::NotNumber(String::new()))
        );
        assert_eq!(
            parse_notification_fd(b"abc\n", LIMIT),
            Err(FdError::NotNumber("abc".into()))
        );
        assert_eq!(
            parse_notification_fd(b"+3", LIMIT),
            Err(FdError::NotNumber("+3".into()))
        );
        assert_eq!(parse_notification_fd(b"2", LIMIT), Err(FdError::Stdio(2)));
        assert_eq!(parse_notification_fd(b"0", LIMIT), Err(FdError::Stdio(0)));
        assert_eq!(
            parse_notification_fd(b"1024", LIMIT),
            Err(FdError::AboveLimit {
                fd: 1024,
                limit: LIMIT
            })
        );
        assert_eq!(
            parse_notification_fd(b"99999999999", LIMIT),
            Err(FdError::OutOfRange("99999999999".into()))
        );
        assert_eq!(
            parse_notification_fd(b"\xff\x1b[31m", LIMIT),
            Err(FdError::NotNumber("\\xff\\x1b[31m".into()))
        );
    }

    #[test]
    fn messages() {
        assert_eq!(
            FdError::Unreadable(Errno::ISDIR).to_string(),
            "unable to read notification-fd: is a directory"
        );
        assert_eq!(
            FdError::NotNumber(String::new()).to_string(),
            "invalid notification-fd: empty"
        );
        assert_eq!(
            FdError::NotNumber("x".into()).to_string(),
            "invalid notification-fd: not a number: x"
        );
        assert_eq!(
            FdError::Stdio(1).to_string(),
            "invalid notification-fd: 1: must be 3 or more"
        );
        assert_eq!(
            FdError::AboveLimit {
                fd: 5000,
                limit: 1024
            }
            .to_string(),
            "invalid notification-fd: 5000: not below the descriptor limit 1024"
        );
        assert_eq!(
            FdError::OutOfRange("9999999999".into()).to_string(),
            "invalid notification-fd: out of range: 9999999999"
        );
    }

    proptest::proptest! {
        /// Any bytes: no panic; a descriptor given is in range.
        #[test]
        fn prop_notification_fd(b in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..40)) {
            if let Ok(fd) = parse_notification_fd(&b, LIMIT) {
                proptest::prop_assert!((3..1024).contains(&fd));
            }
        }
    }

    #[test]
    fn pipe_reads() {
        let pipe = || {
            let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe");
            (Notification::new(r).expect("nonblock"), w)
        };
        let (n, w) = pipe();
        assert_eq!(n.read(), Notified::Pending);
        rustix::io::write(&w, b"starting").expect("write");
        assert_eq!(n.read(), Notified::Pending);
        rustix::io::write(&w, b"x\ny\n").expect("write");
        assert_eq!(n.read(), Notified::Ready);
        let (n, w) = pipe();
        rustix::io::write(&w, b"no newline").expect("write");
        drop(w);
        assert_eq!(n.read(), Notified::Closed);
    }
}
