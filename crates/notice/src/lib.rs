//! The supervise notices: how a supervise tells svscan that its essential service stopped for
//! good (docs/supervise.md, "Essential services"), or that it closed the log pipe on its way out
//! and waits for its logger to drain (docs/svscan.md, "Shutdown"), through a pipe svscan passes
//! down.
//!
//! svscan gives each supervise the write end at some descriptor N and `SVSCAN_NOTIFY_FD=N`
//! ([`pass_to`]); supervise takes it at startup ([`take`]) and writes one line per notice
//! ([`write`]): `PID CODE\n`, its own pid and the service's exit code (128+n for signal n), or
//! `PID -\n` for the drain (an older svscan skips that line as garbage). A line is
//! shorter than `PIPE_BUF`, so each is one atomic `write(2)` even with many writers. svscan reads
//! the pipe in whatever pieces it comes and decodes it with a [`Decoder`], which keeps at most
//! [`LINE_MAX`] bytes of a partial line and drops anything that is not a notice. Both sides use
//! this crate, so the variable, the format and the limits live here only.

#![forbid(unsafe_code)]

use std::ffi::{NulError, OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use herd_diag::Reason;
use herd_status::Exit;
use herd_sys::Command;
use nix::unistd::Pid;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// The variable naming the descriptor.
pub const ENV: &str = "SVSCAN_NOTIFY_FD";
/// The longest line: `PID CODE\n` is at most 10 + 1 + 3 + 1 bytes; anything longer is garbage.
pub const LINE_MAX: usize = 32;
/// Descriptors 0, 1 and 2 are supervise's stdio, never a notice pipe.
const FIRST_FD: i32 = 3;

/// What a notice says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// The essential service stopped for good with this exit code.
    Stopped(u8),
    /// The service is down and supervise, on its way out, closed the log pipe: it waits for its
    /// logger, which reads EOF only once no process holds the pipe (a backgrounded child of the
    /// service may).
    Draining,
}

/// The mark in place of the code of a [`What::Draining`] line.
const DRAINING: &[u8] = b"-";

/// One notice of supervise `pid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    pub pid: Pid,
    pub what: What,
}

impl Notice {
    /// The notice of supervise `pid` for a service that ended as `exit` (code 128+n for signal n).
    pub fn new(pid: Pid, exit: Exit) -> Self {
        Notice {
            pid,
            what: What::Stopped(u8::try_from(exit.shell_code()).unwrap_or(u8::MAX)),
        }
    }

    /// The notice of supervise `pid` that its logger drains.
    pub fn draining(pid: Pid) -> Self {
        Notice {
            pid,
            what: What::Draining,
        }
    }

    /// The line `PID CODE\n`, rendered on the stack.
    pub fn encode(&self) -> Line {
        let mut line = Line {
            buf: [0; LINE_MAX],
            len: 0,
        };
        let mut rest = &mut line.buf[..];
        // At most 11 + 1 + 3 + 1 bytes: it always fits.
        let written = match self.what {
            What::Stopped(code) => writeln!(rest, "{} {code}", self.pid),
            What::Draining => writeln!(rest, "{} -", self.pid),
        };
        if written.is_ok() {
            line.len = LINE_MAX - rest.len();
        }
        line
    }
}

/// An encoded notice.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `write(2)` of one notice line to the pipe. Callers ignore the error: EAGAIN (svscan is not
/// reading) and EPIPE (svscan is gone) both mean there is nobody to tell.
pub fn write(fd: impl AsFd, notice: Notice) -> rustix::io::Result<()> {
    let line = notice.encode();
    match rustix::io::write(fd, line.as_bytes())? {
        n if n == line.as_bytes().len() => Ok(()),
        _ => Err(Errno::PIPE),
    }
}

/// Why the inherited descriptor could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakeError {
    /// The variable is not a descriptor number above 2.
    Invalid(OsString),
    /// `/proc/self/fd/N` could not be opened (EBADF: N is not open).
    Open { fd: i32, errno: Errno },
}

impl fmt::Display for TakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TakeError::Invalid(v) => write!(f, "invalid {ENV}: {}", v.to_string_lossy()),
            TakeError::Open { fd, errno } => write!(
                f,
                "unable to open {ENV} {fd}: {}",
                Reason(errno.raw_os_error())
            ),
        }
    }
}

impl std::error::Error for TakeError {}

/// supervise's side: takes the descriptor named by `SVSCAN_NOTIFY_FD` and removes the variable
/// from the environment, so that no service sees it. `Ok(None)`: not set, no notices.
///
/// Owning an inherited descriptor needs `unsafe`, so this reopens it through `/proc/self/fd/N`
/// (a new open file description of the same pipe, close-on-exec and non-blocking) and closes N:
/// no child inherits either. Must run before the process opens descriptors of its own (one could
/// be given the number N after all) and while it has one thread.
pub fn take() -> Result<Option<OwnedFd>, TakeError> {
    let Some(value) = std::env::var_os(ENV) else {
        return Ok(None);
    };
    std::env::remove_var(ENV);
    let Some(n) = herd_value::fd(value.as_encoded_bytes())
        .ok()
        .filter(|&n| n >= FIRST_FD)
    else {
        return Err(TakeError::Invalid(value));
    };
    let flags =
        OFlags::WRONLY | OFlags::APPEND | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(format!("/proc/self/fd/{n}"), flags, Mode::empty());
    // N is inherited and owned by no Rust object: closing it is closing our copy only.
    let _ = nix::unistd::close(n);
    match fd {
        Ok(fd) => Ok(Some(fd)),
        Err(e) => Err(TakeError::Open {
            fd: n,
            errno: if e == Errno::NOENT { Errno::BADF } else { e },
        }),
    }
}

/// svscan's side: the child `cmd` starts gets a copy of `fd` (the pipe's write end) at the same
/// number, and `SVSCAN_NOTIFY_FD` naming it.
pub fn pass_to(cmd: &mut Command, fd: BorrowedFd<'_>) -> Result<(), NulError> {
    let n = fd.as_raw_fd();
    cmd.fd(fd, n);
    cmd.env(OsStr::new(ENV), OsStr::new(&n.to_string()))
}

/// svscan's side: decodes the bytes read from the pipe, in whatever pieces they come.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// The start of a line whose newline has not come yet.
    line: [u8; LINE_MAX],
    len: usize,
    /// The line so far is longer than any notice: dropped up to its newline.
    garbage: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            line: [0; LINE_MAX],
            len: 0,
            garbage: false,
        }
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes read from the pipe; yields each notice they complete. Lines that are
    /// not `PID CODE` or `PID -` (a positive pid, a code of 0 to 255, one space) are skipped. Run the
    /// iterator to its end: bytes it has not looked at when dropped are not kept.
    pub fn feed<'a>(&'a mut self, bytes: &'a [u8]) -> Notices<'a> {
        Notices { dec: self, bytes }
    }
}

/// The notices completed by one [`Decoder::feed`].
#[derive(Debug)]
pub struct Notices<'a> {
    dec: &'a mut Decoder,
    bytes: &'a [u8],
}

impl Iterator for Notices<'_> {
    type Item = Notice;

    fn next(&mut self) -> Option<Notice> {
        let d = &mut *self.dec;
        while let Some((&b, rest)) = self.bytes.split_first() {
            self.bytes = rest;
            if b != b'\n' {
                if d.len < LINE_MAX {
                    d.line[d.len] = b;
                    d.len += 1;
                } else {
                    d.garbage = true;
                }
                continue;
            }
            let notice = (!d.garbage).then(|| parse(&d.line[..d.len])).flatten();
            d.len = 0;
            d.garbage = false;
            if notice.is_some() {
                return notice;
            }
        }
        None
    }
}

/// `PID CODE` or `PID -`, without the newline: a pid (`herd_value::pid`, 1 to 2^31 - 1), one
/// space, an exit code (`herd_value::exit_code`, 0 to 255) or the drain's mark.
fn parse(line: &[u8]) -> Option<Notice> {
    let space = line.iter().position(|&b| b == b' ')?;
    let (pid, code) = (&line[..space], &line[space + 1..]);
    let pid = i32::try_from(herd_value::pid(pid).ok()?.get()).ok()?;
    let what = match code {
        DRAINING => What::Draining,
        code => What::Stopped(herd_value::exit_code(code).ok()?),
    };
    Some(Notice {
        pid: Pid::from_raw(pid),
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(pid: i32, code: u8) -> Notice {
        Notice {
            pid: Pid::from_raw(pid),
            what: What::Stopped(code),
        }
    }

    fn decode(d: &mut Decoder, bytes: &[u8]) -> Vec<Notice> {
        d.feed(bytes).collect()
    }

    #[test]
    fn codes_from_exits() {
        let pid = Pid::from_raw(7);
        assert_eq!(Notice::new(pid, Exit::Code(3)).what, What::Stopped(3));
        let killed = Exit::Signal {
            signo: 9,
            core: false,
        };
        assert_eq!(Notice::new(pid, killed).what, What::Stopped(137));
        assert_eq!(Notice::new(pid, killed).encode().as_bytes(), b"7 137\n");
        let widest = notice(i32::MAX, 255).encode();
        assert_eq!(widest.as_bytes(), b"2147483647 255\n");
    }

    #[test]
    fn round_trip_through_a_pipe() {
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        let sent = [
            notice(4242, 0),
            notice(1, 255),
            Notice::draining(Pid::from_raw(77)),
            notice(i32::MAX, 137),
        ];
        for n in sent {
            write(&w, n).expect("written");
        }
        drop(w);
        let mut buf = [0u8; 256];
        let len = rustix::io::read(&r, &mut buf).expect("read");
        assert_eq!(decode(&mut Decoder::new(), &buf[..len]), sent);
    }

    #[test]
    fn split_lines() {
        let mut d = Decoder::new();
        let bytes = b"12 3\n345 1";
        let mut got = Vec::new();
        for b in bytes {
            got.extend(d.feed(std::slice::from_ref(b)));
        }
        assert_eq!(got, [notice(12, 3)]);
        assert_eq!(
            decode(&mut d, b"11\n6 0\n"),
            [notice(345, 111), notice(6, 0)]
        );
    }

    #[test]
    fn garbage_is_dropped() {
        let mut d = Decoder::new();
        for bad in [
            &b"\n"[..],
            b"x y\n",
            b"12\n",
            b"12 \n",
            b" 12 3\n",
            b"12  3\n",
            b"12 3 4\n",
            b"0 3\n",
            b"-1 3\n",
            b"12 256\n",
            b"99999999999 1\n",
            b"12 3\r\n",
            b"12 --\n",
            b"12 -1\n",
            b"0 -\n",
            b"- 3\n",
            b"\xff\xfe 1\n",
        ] {
            assert_eq!(decode(&mut d, bad), [], "{bad:?}");
        }
        // A line far longer than a notice costs no memory and ends at its newline; its tail
        // (which looks like a notice) is not taken for one.
        let mut long = vec![b'7'; 10_000];
        long.extend_from_slice(b" 1\n5 2\n");
        assert_eq!(decode(&mut d, &long), [notice(5, 2)]);
        assert_eq!(decode(&mut d, &[b'x'; 5000]), []);
        assert_eq!(decode(&mut d, b"9 9\n8 8\n"), [notice(8, 8)]);
    }

    #[test]
    fn take_refuses_bad_values() {
        // The variable is process-wide: this is the only test of this crate that sets it.
        let err = || take().err().map(|e| e.to_string());
        std::env::set_var(ENV, "2");
        assert_eq!(err(), Some("invalid SVSCAN_NOTIFY_FD: 2".to_string()));
        assert!(std::env::var_os(ENV).is_none(), "removed");
        assert!(matches!(take(), Ok(None)));
        std::env::set_var(ENV, "x");
        assert_eq!(err(), Some("invalid SVSCAN_NOTIFY_FD: x".to_string()));
        std::env::set_var(ENV, "999999");
        assert_eq!(
            err(),
            Some("unable to open SVSCAN_NOTIFY_FD 999999: file descriptor not open".to_string())
        );
    }

    proptest::proptest! {
        /// Any bytes in any pieces: no panic, and every notice decoded is a well-formed one.
        #[test]
        fn prop_decoder_any_bytes(
            chunks in proptest::collection::vec(proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..64), 0..8)
        ) {
            let mut d = Decoder::new();
            for c in &chunks {
                for n in d.feed(c) {
                    proptest::prop_assert!(n.pid.as_raw() > 0);
                }
            }
        }

        /// Encoded notices decode back, however the byte stream is cut, with garbage between.
        #[test]
        fn prop_round_trip(
            notices in proptest::collection::vec((1..=i32::MAX, proptest::arbitrary::any::<u8>()), 0..6),
            cut in 1..20usize,
        ) {
            let sent: Vec<Notice> = notices.iter().map(|&(p, c)| notice(p, c)).collect();
            let mut bytes = b"garbage line\n".to_vec();
            for n in &sent {
                bytes.extend_from_slice(n.encode().as_bytes());
                bytes.extend_from_slice(b"x 1\n");
            }
            let mut d = Decoder::new();
            let got: Vec<Notice> = bytes.chunks(cut).flat_map(|c| d.feed(c).collect::<Vec<_>>()).collect();
            proptest::prop_assert_eq!(got, sent);
        }
    }
}
