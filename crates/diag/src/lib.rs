//! Message lines in runit's grammar and runit's errno wording
//! (docs/runit-compatibility.md#errno-wording).
//!
//! runit never calls `strerror`: every `…: <reason>` suffix comes from its own table, so the
//! texts here are runit's, not glibc's (`file does not exist`, not `No such file or directory`).
//! [`errno_text`] is the only place such a text lives. [`Diag`] writes one whole line per call
//! (`PREFIX: fatal: MSG`), in one `write(2)` so lines from several processes do not interleave,
//! and renders the start of a line that a forked child finishes ([`Diag::head`]). The prefix is
//! bytes: a service name that is not UTF-8 is printed as given, as runsv prints it.
//! [`Diag::trace`] lines (`PREFIX: trace: MSG`) are herd's opt-in trace of what a tool decides,
//! written only when `HERD_TRACE` asks for them. This crate knows no tool: the prefix is given by
//! the caller.

#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};

/// The variable that turns the trace on (any value but empty or `0`).
pub const TRACE_ENV: &str = "HERD_TRACE";

/// Whether trace lines are written; set once at start by [`init_trace`].
static TRACING: AtomicBool = AtomicBool::new(false);

/// Whether a value of [`TRACE_ENV`] asks for the trace.
fn trace_wanted(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// Turns the trace on for this process if [`TRACE_ENV`] asks for it; returns whether it is on.
pub fn init_trace() -> bool {
    let on = trace_wanted(std::env::var_os(TRACE_ENV).as_deref());
    TRACING.store(on, Ordering::Relaxed);
    on
}

/// runit's wording for a raw errno value; `unknown error` for anything not in its table.
pub fn errno_text(errno: i32) -> &'static str {
    match errno {
        0 => "no error",
        libc::EINTR => "interrupted system call",
        libc::ENOMEM => "out of memory",
        libc::ENOENT => "file does not exist",
        libc::ETXTBSY => "text busy",
        libc::EIO => "input/output error",
        libc::EEXIST => "file already exists",
        libc::ETIMEDOUT => "timed out",
        libc::EINPROGRESS => "operation in progress",
        libc::EAGAIN => "temporary failure",
        libc::ENOSPC => "out of disk space",
        libc::ECONNREFUSED => "connection refused",
        libc::EPIPE => "broken pipe",
        libc::EISDIR => "is a directory",
        libc::EROFS => "read-only file system",
        libc::ENOTDIR => "not a directory",
        libc::ENOEXEC => "exec format error",
        libc::EPERM => "permission denied",
        libc::EACCES => "access denied",
        libc::ENXIO => "device not configured",
        libc::ESRCH => "no such process",
        libc::ECHILD => "no child processes",
        libc::E2BIG => "argument list too long",
        libc::EBADF => "file descriptor not open",
        libc::EBUSY => "device busy",
        libc::EXDEV => "cross-device link",
        libc::EINVAL => "invalid argument",
        libc::ENFILE => "system cannot open more files",
        libc::EMFILE => "process cannot open more files",
        libc::EFBIG => "file too big",
        libc::ELOOP => "symbolic link loop",
        libc::ENAMETOOLONG => "file name too long",
        libc::ENOTEMPTY => "directory not empty",
        libc::EDQUOT => "disk quota exceeded",
        libc::ENOTTY => "not a tty",
        libc::ESPIPE => "unseekable descriptor",
        libc::EFAULT => "bad address",
        libc::EDEADLK => "operation would cause deadlock",
        libc::ENOSYS => "system call not available",
        libc::EMLINK => "too many links",
        libc::EDOM => "input out of range",
        libc::ERANGE => "output out of range",
        libc::ENODEV => "device does not support operation",
        libc::EPROTO => "protocol error",
        libc::ENOTBLK => "not a block device",
        libc::EALREADY => "operation already in progress",
        libc::ENOTSOCK => "not a socket",
        libc::ECONNRESET => "connection reset",
        libc::ENOLCK => "no locks available",
        _ => "unknown error",
    }
}

/// The reason part of a message: displays as runit's text for an errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reason(pub i32);

impl Reason {
    /// The reason carried by an `io::Error` (`unknown error` if it has no errno).
    pub fn of(e: &io::Error) -> Self {
        Reason(e.raw_os_error().unwrap_or(-1))
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(errno_text(self.0))
    }
}

/// What a line says after the prefix: `fatal`, `warning`, or svlogd's `info` and `pausing`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The tool gives up.
    Fatal,
    /// The tool carries on.
    Warning,
    /// svlogd `-v`'s progress notes.
    Info,
    /// svlogd retrying an operation every 3 s.
    Pausing,
    /// herd's opt-in trace ([`Diag::trace`]).
    Trace,
}

impl Kind {
    /// The word in the line.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Fatal => "fatal",
            Kind::Warning => "warning",
            Kind::Info => "info",
            Kind::Pausing => "pausing",
            Kind::Trace => "trace",
        }
    }
}

/// Writes `PREFIX: fatal: MSG` and `PREFIX: warning: MSG` lines to stderr.
#[derive(Clone, Debug)]
pub struct Diag {
    /// Empty for sv, whose lines start with the kind (`fatal: …`).
    prefix: Vec<u8>,
}

impl Diag {
    /// Lines start with `prefix` (`svlogd`, `chpst`).
    pub fn new(prefix: impl Into<Vec<u8>>) -> Self {
        Diag {
            prefix: prefix.into(),
        }
    }

    /// Lines start with `TOOL ARG`, runsv's and runsvdir's form (`supervise web`), with the bytes
    /// of `arg` as given.
    pub fn with_arg(tool: &str, arg: &OsStr) -> Self {
        let mut prefix = tool.as_bytes().to_vec();
        prefix.push(b' ');
        prefix.extend_from_slice(arg.as_bytes());
        Diag { prefix }
    }

    /// Lines start with the kind: sv's `fatal: …` and `warning: …`.
    pub fn bare() -> Self {
        Diag { prefix: Vec::new() }
    }

    /// The prefix lines start with.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// `PREFIX: KIND: MSG: `: the start of a line that ends with a reason, for a forked child
    /// to finish (`herd_sys::Command` appends runit's text for the errno and a newline).
    pub fn head(&self, kind: Kind, msg: &dyn fmt::Display) -> Vec<u8> {
        let mut line = self.start(kind);
        line.extend_from_slice(format!("{msg}: ").as_bytes());
        line
    }

    /// The bytes of a complete line `PREFIX: KIND: MSG\n`.
    pub fn line(&self, kind: Kind, msg: &dyn fmt::Display) -> Vec<u8> {
        let mut line = self.start(kind);
        line.extend_from_slice(format!("{msg}\n").as_bytes());
        line
    }

    fn start(&self, kind: Kind) -> Vec<u8> {
        let mut line = self.prefix.clone();
        if !line.is_empty() {
            line.extend_from_slice(b": ");
        }
        line.extend_from_slice(kind.word().as_bytes());
        line.extend_from_slice(b": ");
        line
    }

    /// Writes `PREFIX: KIND: MSG`.
    pub fn say(&self, kind: Kind, msg: &dyn fmt::Display) {
        emit(self.line(kind, msg));
    }

    /// `PREFIX: fatal: MSG`.
    pub fn fatal(&self, msg: &dyn fmt::Display) {
        self.say(Kind::Fatal, msg);
    }

    /// `PREFIX: warning: MSG`.
    pub fn warn(&self, msg: &dyn fmt::Display) {
        self.say(Kind::Warning, msg);
    }

    /// `PREFIX: trace: MSG`, only when the trace is on ([`init_trace`]); otherwise `msg` is not
    /// even formatted (pass `format_args!`). For decisions, never for a per-byte path.
    pub fn trace(&self, msg: &dyn fmt::Display) {
        if TRACING.load(Ordering::Relaxed) {
            self.say(Kind::Trace, msg);
        }
    }
}

/// Writes a whole line to stderr in one call; errors writing stderr are ignored (nowhere to report).
pub fn emit(line: impl AsRef<[u8]>) {
    let _ = io::stderr().lock().write_all(line.as_ref());
}

/// `usage: ARGV0USAGE` followed by an empty line, as every runit tool prints it
/// (docs/runit-compatibility.md#usage-lines).
pub fn usage_line(argv0: &str, usage: &str) -> String {
    format!("usage: {argv0}{usage}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runit_wording() {
        assert_eq!(errno_text(libc::ENOENT), "file does not exist");
        assert_eq!(errno_text(libc::EAGAIN), "temporary failure");
        assert_eq!(errno_text(libc::EWOULDBLOCK), "temporary failure");
        assert_eq!(errno_text(libc::ENXIO), "device not configured");
        assert_eq!(errno_text(libc::EACCES), "access denied");
        assert_eq!(errno_text(libc::EPERM), "permission denied");
        assert_eq!(errno_text(0), "no error");
        assert_eq!(errno_text(4095), "unknown error");
        assert_eq!(
            Reason::of(&io::Error::from_raw_os_error(libc::ENOTDIR)).to_string(),
            "not a directory"
        );
    }

    #[test]
    fn only_a_value_other_than_empty_or_0_turns_the_trace_on() {
        assert!(!trace_wanted(None));
        assert!(!trace_wanted(Some(OsStr::new(""))));
        assert!(!trace_wanted(Some(OsStr::new("0"))));
        assert!(trace_wanted(Some(OsStr::new("1"))));
        assert!(trace_wanted(Some(OsStr::new("yes"))));
    }

    #[test]
    fn line_grammar() {
        let d = Diag::new("supervise web");
        let msg = format!("unable to lock supervise/lock: {}", Reason(libc::EAGAIN));
        assert_eq!(
            d.line(Kind::Fatal, &msg),
            b"supervise web: fatal: unable to lock supervise/lock: temporary failure\n"
        );
        assert_eq!(
            d.head(Kind::Fatal, &"unable to start ./run"),
            b"supervise web: fatal: unable to start ./run: "
        );
        let sv = Diag::bare();
        assert_eq!(
            sv.line(
                Kind::Fatal,
                &"unable to open current directory: access denied"
            ),
            b"fatal: unable to open current directory: access denied\n"
        );
        assert_eq!(
            sv.head(Kind::Warning, &"unable to run ./web/check"),
            b"warning: unable to run ./web/check: "
        );
        assert_eq!(
            Diag::new("svlogd").line(Kind::Pausing, &"x"),
            b"svlogd: pausing: x\n"
        );
        assert_eq!(
            Diag::new("svlogd").line(Kind::Info, &"x"),
            b"svlogd: info: x\n"
        );
        assert_eq!(usage_line("supervise", " dir"), "usage: supervise dir\n\n");
    }

    #[test]
    fn names_are_bytes() {
        let d = Diag::with_arg("supervise", OsStr::from_bytes(b"a\xffb"));
        assert_eq!(d.prefix(), b"supervise a\xffb");
        assert_eq!(
            d.line(Kind::Warning, &"x"),
            b"supervise a\xffb: warning: x\n"
        );
    }
}
