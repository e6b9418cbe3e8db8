//! `sv --json status`: one JSON object per service and line (docs/sv.md, "JSON status"), written
//! by hand into a reused buffer. Pure: the caller reads the files and passes in what they say.
//!
//! The keys and their order are fixed by the schema. A name that is not UTF-8 is shown with
//! U+FFFD in place of each invalid sequence (JSON strings are Unicode; every parser takes that).

use herd_status::{Exit, Health, HealthState, Runs, State, Status, Want};

/// What sv read about one service (main or log), with its cwd in the service's directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub status: Status,
    /// No `down` file.
    pub normally_up: bool,
    /// `supervise/stat` says `want exit` (the status file stores exit as `d`).
    pub want_exit: bool,
    /// `herd_status::is_ready` of `status` and `supervise/ready`.
    pub ready: bool,
    /// `supervise/runs`, `None` if absent or unreadable.
    pub runs: Option<Runs>,
    /// `supervise/health`: `None` absent, `Some(None)` unreadable or bad.
    pub health: Option<Option<Health>>,
}

/// One service's entry: its facts, or the error text its status line would have printed.
pub enum Entry<'a> {
    Facts(Facts),
    Error(&'a str),
}

/// The `health` value: null without a `health` check (no file, or a file that cannot be read);
/// `none` (no check due: the service is not up and ready) reads as `starting`, Docker's word
/// for "no result counted yet".
pub fn health_word(h: Option<Option<Health>>) -> Option<&'static str> {
    match h??.state {
        HealthState::None | HealthState::Starting => Some("starting"),
        s => Some(s.word()),
    }
}

/// The `want` value: `up`, `exit` (down, then the supervisor exits) or `down`.
pub fn want_word(st: &Status, want_exit: bool) -> &'static str {
    match st.want {
        Want::Up => "up",
        Want::Exit => "exit",
        Want::Down if want_exit => "exit",
        Want::Down => "down",
    }
}

/// Appends `s` as a JSON string, quotes included.
pub fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if u32::from(c) < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let b = u32::from(c) as usize;
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[b >> 4]);
                    out.push(HEX[b & 0xf]);
                }
                c => {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
    out.push(b'"');
}

fn put_num(out: &mut Vec<u8>, n: impl std::fmt::Display) {
    use std::io::Write;
    let _ = write!(out, "{n}");
}

fn put_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(out, s.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

fn key(out: &mut Vec<u8>, k: &str) {
    out.extend_from_slice(b", \"");
    out.extend_from_slice(k.as_bytes());
    out.extend_from_slice(b"\": ");
}

/// `{"code": N}`, `{"signal": "TERM"}` (a signal without a name: its number, as a string), or
/// `null`.
fn put_exit(out: &mut Vec<u8>, e: Option<Exit>) {
    match e {
        None => out.extend_from_slice(b"null"),
        Some(Exit::Code(c)) => {
            out.extend_from_slice(b"{\"code\": ");
            put_num(out, c);
            out.push(b'}');
        }
        Some(Exit::Signal { signo, .. }) => {
            out.extend_from_slice(b"{\"signal\": ");
            match herd_value::signal_name(signo) {
                Some(name) => put_str(out, name.as_bytes()),
                None => put_str(out, signo.to_string().as_bytes()),
            }
            out.push(b'}');
        }
    }
}

/// Appends the object of `name` (without newline). `log` is `None` for a service without
/// `log/` and for the log's own object (then `"log": null`: every object has the same keys).
/// `now_secs` is TAI64 seconds, as in the status line.
pub fn put_entry(
    out: &mut Vec<u8>,
    name: &[u8],
    e: &Entry<'_>,
    log: Option<&Entry<'_>>,
    now_secs: u64,
) {
    out.extend_from_slice(b"{\"name\": ");
    put_str(out, name);
    let f = match e {
        Entry::Error(text) => {
            key(out, "error");
            put_str(out, text.as_bytes());
            out.push(b'}');
            return;
        }
        Entry::Facts(f) => f,
    };
    let st = &f.status;
    key(out, "state");
    put_opt_str(out, st.state.word());
    key(out, "pid");
    match st.pid {
        Some(p) if st.state != State::Down => put_num(out, p),
        _ => out.extend_from_slice(b"null"),
    }
    key(out, "since");
    put_num(out, st.stamp.unix_secs());
    key(out, "uptime");
    put_num(out, now_secs.saturating_sub(st.stamp.secs));
    key(out, "want");
    put_opt_str(out, Some(want_word(st, f.want_exit)));
    key(out, "normally_up");
    put_bool(out, f.normally_up);
    key(out, "paused");
    put_bool(out, st.paused);
    key(out, "got_term");
    put_bool(out, st.term);
    key(out, "ready");
    put_bool(out, f.ready);
    key(out, "failed");
    put_bool(out, f.runs.is_some_and(|r| r.failed));
    key(out, "health");
    put_opt_str(out, health_word(f.health));
    key(out, "restarts");
    put_num(out, f.runs.map_or(0, |r| r.started.saturating_sub(1)));
    key(out, "last_exit");
    put_exit(out, f.runs.and_then(|r| r.last_exit));
    key(out, "log");
    match log {
        None => out.extend_from_slice(b"null"),
        Some(l) => put_entry(out, b"log", l, None, now_secs),
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests;
