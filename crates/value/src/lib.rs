//! Every number herd reads from argv, the environment or a file is parsed here: one function per
//! kind of value (seconds, milliseconds, counts, sizes, resource limits, nice increments,
//! descriptors, ports, user and group ids, pids, exit codes, signals), each with a documented
//! range, plus the one saturating "now + d" every deadline is computed with ([`later`]).
//!
//! Invariants: no function here panics or wraps, whatever the bytes; a value beyond a kind's
//! range either saturates at the range's end (where "more than that" can only mean "practically
//! forever" or "as much as possible") or is refused with [`Error::OutOfRange`] (where a wrong
//! number would name the wrong thing: a descriptor, a user, a port). Pure: no clock, no I/O, so
//! the state machines may use it. The `scan_*` functions read runit's way (`scan_ulong`: the
//! leading decimal digits, none reading as 0, anything after them ignored); the others want the
//! whole argument to be the number. The table of every number read, by tool, is in
//! docs/reliability.md ("Input").

#![forbid(unsafe_code)]

use std::fmt;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

/// Why a value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Not in the kind's syntax: empty, a sign, a space, a letter, an exponent…
    Invalid,
    /// Well-formed, but outside the kind's range (kinds that do not saturate).
    OutOfRange,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Invalid => "invalid value",
            Error::OutOfRange => "value out of range",
        })
    }
}

impl std::error::Error for Error {}

// ---------------------------------------------------------------------------------------------
// Digits

/// The leading decimal digits of `s`, and what follows them.
pub fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    s.split_at(n)
}

/// The value of a run of decimal digits, saturating at `u64::MAX`.
fn digits_value(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |v, d| {
        v.saturating_mul(10)
            .saturating_add(u64::from(d.wrapping_sub(b'0')))
    })
}

/// runit's `scan_ulong`: the value of the leading decimal digits of `s` (0 if there are none)
/// and how many digits there were. Saturates at `u64::MAX` where runit's C wraps around.
pub fn scan_ulong(s: &[u8]) -> (u64, usize) {
    let (digits, _) = split_digits(s);
    (digits_value(digits), digits.len())
}

/// `s` is one or more decimal digits: their value, saturating at `u64::MAX`.
fn whole(s: &[u8]) -> Result<u64, Error> {
    match split_digits(s) {
        (d, []) if !d.is_empty() => Ok(digits_value(d)),
        _ => Err(Error::Invalid),
    }
}

/// `s` is one or more decimal digits and at most `max`.
fn bounded(s: &[u8], min: u64, max: u64) -> Result<u64, Error> {
    let v = whole(s)?;
    if (min..=max).contains(&v) {
        Ok(v)
    } else {
        Err(Error::OutOfRange)
    }
}

/// The first line of a file's contents, without the blanks around it (spaces, tabs, CR): how a
/// one-value file (`essential`, and the service-directory option files) is read.
pub fn first_line(contents: &[u8]) -> &[u8] {
    let line = contents.split(|&b| b == b'\n').next().unwrap_or_default();
    line.trim_ascii()
}

// ---------------------------------------------------------------------------------------------
// Time

/// The longest span of time herd keeps: 2^32 − 1 seconds (136 years). Longer ones saturate to
/// it; every deadline `now + MAX_DURATION` fits the monotonic clock.
pub const MAX_SECONDS: u64 = u32::MAX as u64;
/// [`MAX_SECONDS`] as a `Duration`.
pub const MAX_DURATION: Duration = Duration::from_secs(MAX_SECONDS);
const NANOS_DIGITS: usize = 9;

/// Seconds with an optional decimal fraction (`7`, `0.25`, `.5`, `3.`): at least one digit, no
/// sign, no exponent, no blanks. Range 0 to [`MAX_SECONDS`], to the nanosecond (further fraction
/// digits are dropped); longer saturates to [`MAX_DURATION`]. svscan's `-t`,
/// `SVSCAN_STOP_TIMEOUT` and my_init's `KILL_PROCESS_TIMEOUT`, `KILL_ALL_PROCESSES_TIMEOUT`.
pub fn seconds(s: &[u8]) -> Result<Duration, Error> {
    let (int, rest) = split_digits(s);
    let frac = match rest {
        [] => &[][..],
        [b'.', frac @ ..] => match split_digits(frac) {
            (f, []) => f,
            _ => return Err(Error::Invalid),
        },
        _ => return Err(Error::Invalid),
    };
    if int.is_empty() && frac.is_empty() {
        return Err(Error::Invalid);
    }
    let mut nanos = 0u32;
    for i in 0..NANOS_DIGITS {
        let d = frac.get(i).map_or(0, |d| d.wrapping_sub(b'0'));
        nanos = nanos * 10 + u32::from(d);
    }
    Ok(Duration::new(digits_value(int), nanos).min(MAX_DURATION))
}

/// Whole milliseconds (`5000`): one or more digits. Range 0 to [`MAX_DURATION`]; longer
/// saturates. For s6-style option files (`timeout-kill`, `timeout-finish`).
pub fn milliseconds(s: &[u8]) -> Result<Duration, Error> {
    Ok(Duration::from_millis(whole(s)?).min(MAX_DURATION))
}

/// Whole seconds read runit's way (sv's `-w` and `SVWAIT`): the leading digits, none reading as
/// 0, the rest ignored. Range 0 to [`MAX_SECONDS`]; more saturates (runit's C wraps around).
pub fn scan_seconds(s: &[u8]) -> Duration {
    Duration::from_secs(scan_ulong(s).0.min(MAX_SECONDS))
}

/// svlogd's `t` line: leading digits, times 60 with an `m` after them, 3600 with an `h`
/// (anything else after them is ignored). Range 0 to [`MAX_SECONDS`]; more saturates.
pub fn scan_seconds_unit(s: &[u8]) -> Duration {
    let (v, n) = scan_ulong(s);
    let v = match s.get(n) {
        Some(b'm') => v.saturating_mul(60),
        Some(b'h') => v.saturating_mul(3600),
        _ => v,
    };
    Duration::from_secs(v.min(MAX_SECONDS))
}

/// `now + d`, saturating: `d` is cut to [`MAX_DURATION`], and to the farthest instant the clock
/// can hold beyond `now` (never reached on Linux's monotonic clock). The one way herd computes a
/// deadline: `Instant + Duration` panics on overflow, in every build profile.
pub fn later(now: Instant, d: Duration) -> Instant {
    let mut d = d.min(MAX_DURATION);
    loop {
        if let Some(t) = now.checked_add(d) {
            return t;
        }
        // Ends: `now + 0` always fits.
        d /= 2;
    }
}

// ---------------------------------------------------------------------------------------------
// Counts and sizes

/// A count (failed runs before an essential service gives up): one or more digits. Range 0 to
/// `u32::MAX`; more saturates.
pub fn count(s: &[u8]) -> Result<u32, Error> {
    Ok(u32::try_from(whole(s)?).unwrap_or(u32::MAX))
}

/// A count read runit's way (svlogd's `n` and `N`): leading digits, none reading as 0. Range 0
/// to `u32::MAX`; more saturates.
pub fn scan_count(s: &[u8]) -> u32 {
    u32::try_from(scan_ulong(s).0).unwrap_or(u32::MAX)
}

/// A size in bytes read runit's way (svlogd's `-l` and `-b`): leading digits, none reading as
/// 0. Range 0 to `u64::MAX`; more saturates.
pub fn scan_size(s: &[u8]) -> u64 {
    scan_ulong(s).0
}

/// svlogd's `s` line: leading digits, times 1024 with a `k` after them, 1048576 with an `m`
/// (anything else after them is ignored). Range 0 to `u64::MAX`; more saturates.
pub fn scan_size_unit(s: &[u8]) -> u64 {
    let (v, n) = scan_ulong(s);
    match s.get(n) {
        Some(b'k') => v.saturating_mul(1024),
        Some(b'm') => v.saturating_mul(1024 * 1024),
        _ => v,
    }
}

/// A resource limit (chpst's `-m -d -o -p -f -c -r -t`, softlimit's values): all digits, the
/// empty string reading as 0 (runit's check is only that `scan_ulong` used every byte). Range 0
/// to `u64::MAX` (which is `RLIM_INFINITY`); more saturates. The kernel's hard limit then cuts
/// it further (chpst clamps to it).
pub fn rlimit(s: &[u8]) -> Result<u64, Error> {
    match split_digits(s) {
        (d, []) => Ok(digits_value(d)),
        _ => Err(Error::Invalid),
    }
}

/// The largest nice increment that means anything: from 19 to −20 and back.
pub const MAX_NICE: i32 = 40;

/// A nice increment (chpst's `-n`): `N`, `+N` or `-N`, the digits possibly empty (0), as runit
/// reads it. Range −[`MAX_NICE`] to [`MAX_NICE`]; beyond saturates (the kernel then holds the
/// level within −20 to 19; runit's C wraps around).
pub fn nice(s: &[u8]) -> Result<i32, Error> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    let v = i32::try_from(rlimit(digits)?.min(MAX_NICE as u64)).unwrap_or(MAX_NICE);
    Ok(if negative { -v } else { v })
}

// ---------------------------------------------------------------------------------------------
// Things a number names: refused outside their range

/// A file descriptor number (`SVSCAN_NOTIFY_FD`, an s6 `notification-fd`): one or more digits,
/// 0 to `i32::MAX`. Callers that need more (above stdio) check it themselves.
pub fn fd(s: &[u8]) -> Result<i32, Error> {
    i32::try_from(bounded(s, 0, i32::MAX as u64)?).map_err(|_| Error::OutOfRange)
}

/// A UDP port (svlogd's `u`/`U` lines): one or more digits, 1 to 65535.
pub fn port(s: &[u8]) -> Result<u16, Error> {
    u16::try_from(bounded(s, 1, u64::from(u16::MAX))?).map_err(|_| Error::OutOfRange)
}

/// A user or group id (chpst's `:uid:gid` form, the id fields of `/etc/passwd` and
/// `/etc/group`): one or more digits, 0 to 2^32 − 2 (2^32 − 1 is `(uid_t)-1`, "no change").
pub fn id(s: &[u8]) -> Result<u32, Error> {
    u32::try_from(bounded(s, 0, u64::from(u32::MAX - 1))?).map_err(|_| Error::OutOfRange)
}

/// A process id (`supervise/pid`, the notices of supervise to svscan): one or more digits, 1 to
/// `i32::MAX` (a pid `kill(2)` takes as one process, never a group).
pub fn pid(s: &[u8]) -> Result<NonZeroU32, Error> {
    u32::try_from(bounded(s, 1, i32::MAX as u64)?)
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or(Error::OutOfRange)
}

/// A time in clock ticks after boot (a process's start time, `/proc/PID/stat` field 22, as
/// `supervise/instance` records it): one or more digits, 0 to 2^64 − 1; beyond is refused (a
/// start time that does not fit is no start time, and must match no process).
pub fn clock_ticks(s: &[u8]) -> Result<u64, Error> {
    let (digits, []) = split_digits(s) else {
        return Err(Error::Invalid);
    };
    if digits.is_empty() {
        return Err(Error::Invalid);
    }
    digits
        .iter()
        .try_fold(0u64, |v, d| {
            v.checked_mul(10)?
                .checked_add(u64::from(d.wrapping_sub(b'0')))
        })
        .ok_or(Error::OutOfRange)
}

/// An exit code: one or more digits, 0 to 255.
pub fn exit_code(s: &[u8]) -> Result<u8, Error> {
    u8::try_from(bounded(s, 0, u64::from(u8::MAX))?).map_err(|_| Error::OutOfRange)
}

/// Linux's highest signal number (`SIGRTMAX`).
pub const MAX_SIGNAL: i32 = 64;

/// The signals known by name, without their `SIG`.
const SIGNALS: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// A signal (an s6-style `down-signal` file): a number from 1 to [`MAX_SIGNAL`], or a name in
/// capitals with or without `SIG` (`TERM`, `SIGHUP`).
pub fn signal(s: &[u8]) -> Result<i32, Error> {
    if s.first().is_some_and(u8::is_ascii_digit) {
        let n = bounded(s, 1, MAX_SIGNAL as u64)?;
        return i32::try_from(n).map_err(|_| Error::OutOfRange);
    }
    let name = s.strip_prefix(b"SIG").unwrap_or(s);
    SIGNALS
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|&(_, v)| v)
        .ok_or(Error::Invalid)
}

/// The name of signal `n` without its `SIG` (`TERM` for 15), as [`signal`] reads it; `None`
/// for a number without a name here (real-time signals).
pub fn signal_name(n: i32) -> Option<&'static str> {
    SIGNALS
        .iter()
        .find(|&&(_, v)| v == n)
        .map(|&(name, _)| name)
}

#[cfg(test)]
mod tests;
