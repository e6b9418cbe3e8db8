//! What sv prints (docs/runit-compatibility.md#sv-output): the status line and the
//! `ok:`/`fail:`/`warning:` lines on stdout, flushed line by line, and the failure count that
//! becomes the exit code.

use std::io::{self, Write};

use herd_diag::{errno_text, Diag};
use herd_status::{State, Status, Want};

use crate::readiness::Appendix;

pub const FAIL: &str = "fail: ";
pub const WARN: &str = "warning: ";
pub const OK: &str = "ok: ";
pub const TIMEOUT: &str = "timeout: ";
pub const KILL: &str = "kill: ";

/// stdout plus the failure count (`fail:` + `warning:` + timeouts), as runit counts it.
pub struct Out {
    buf: Vec<u8>,
    pub rc: u32,
}

impl Out {
    pub fn new() -> Self {
        Out {
            buf: Vec::with_capacity(256),
            rc: 0,
        }
    }

    pub fn put(&mut self, s: &[u8]) {
        self.buf.extend_from_slice(s);
    }

    pub fn puts(&mut self, s: &str) {
        self.put(s.as_bytes());
    }

    /// Writes what is buffered to stdout.
    pub fn flush(&mut self) {
        let mut so = io::stdout().lock();
        let _ = so.write_all(&self.buf);
        let _ = so.flush();
        self.buf.clear();
    }

    /// `PREFIX NAME[/log]: MSG[: REASON]\n`, flushed.
    pub fn line(&mut self, prefix: &str, name: &[u8], log: bool, msg: &str, errno: Option<i32>) {
        self.puts(prefix);
        self.put(name);
        if log {
            self.puts("/log");
        }
        self.puts(": ");
        self.puts(msg);
        if let Some(e) = errno {
            self.puts(": ");
            self.puts(errno_text(e));
        }
        self.puts("\n");
        self.flush();
    }

    /// `fail: …`, counted.
    pub fn fail(&mut self, name: &[u8], log: bool, msg: &str, errno: Option<i32>) {
        self.rc = self.rc.saturating_add(1);
        self.line(FAIL, name, log, msg, errno);
    }

    /// `warning: …`, counted.
    pub fn warn(&mut self, name: &[u8], log: bool, msg: &str, errno: Option<i32>) {
        self.rc = self.rc.saturating_add(1);
        self.line(WARN, name, log, msg, errno);
    }

    /// `ok: …`.
    pub fn ok(&mut self, name: &[u8], log: bool, msg: &str) {
        self.line(OK, name, log, msg, None);
    }

    /// The status line (without newline): `run: NAME: (pid P) Ss, flags`. `normally_up` says
    /// whether the `down` file is absent; `now_secs` is the TAI64 seconds of now.
    pub fn status_line(&mut self, name: &[u8], st: &Status, normally_up: bool, now_secs: u64) {
        if let Some(w) = st.state.word() {
            self.puts(w);
            self.puts(": ");
        }
        self.put(name);
        self.puts(": ");
        let pid = st.pid.map_or(0, |p| p.get());
        if st.state != State::Down {
            self.puts(&format!("(pid {pid}) "));
        }
        self.puts(&format!("{}s", now_secs.saturating_sub(st.stamp.secs)));
        let up = pid != 0;
        if up && !normally_up {
            self.puts(", normally down");
        }
        if !up && normally_up {
            self.puts(", normally up");
        }
        if up && st.paused {
            self.puts(", paused");
        }
        if !up && st.want == Want::Up {
            self.puts(", want up");
        }
        if up && st.want != Want::Up {
            self.puts(", want down");
        }
        if up && st.term {
            self.puts(", got TERM");
        }
    }
}

impl Out {
    /// The readiness words after the main service's flags (docs/sv.md, Readiness).
    pub fn appendix(&mut self, a: Appendix<'_>) {
        match a {
            Appendix::Nothing => {}
            Appendix::Ready { secs } => self.puts(&format!(", ready {secs}s")),
            Appendix::NotReady => self.puts(", not ready"),
            Appendix::Waiting(name) => {
                self.puts(", waiting for ");
                self.put(name);
            }
        }
    }
}

/// A warning on stderr, which runit uses only for `down`/`check` problems: `warning: MSG\n`.
pub fn warn_stderr(msg: &dyn std::fmt::Display) {
    Diag::bare().warn(msg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_tai64n::Tai64n;
    use std::num::NonZeroU32;

    fn line(st: &Status, normally_up: bool, now: u64) -> String {
        let mut o = Out::new();
        o.status_line(b"web", st, normally_up, now);
        String::from_utf8(o.buf).expect("utf-8")
    }

    #[test]
    fn status_lines() {
        let stamp = Tai64n::from_unix(1000, 500);
        let now = stamp.secs + 8;
        let run = Status {
            stamp,
            pid: NonZeroU32::new(25883),
            paused: false,
            want: Want::Up,
            term: false,
            state: State::Run,
        };
        assert_eq!(line(&run, true, now), "run: web: (pid 25883) 8s");
        assert_eq!(
            line(&run, false, now),
            "run: web: (pid 25883) 8s, normally down"
        );
        let t = Status {
            want: Want::Down,
            term: true,
            paused: true,
            ..run
        };
        assert_eq!(
            line(&t, true, now),
            "run: web: (pid 25883) 8s, paused, want down, got TERM"
        );
        let down = Status {
            pid: None,
            state: State::Down,
            ..run
        };
        assert_eq!(
            line(&down, true, now),
            "down: web: 8s, normally up, want up"
        );
        assert_eq!(
            line(&down, true, stamp.secs - 3),
            "down: web: 0s, normally up, want up"
        );
        let odd = Status {
            state: State::Other(7),
            pid: NonZeroU32::new(12345),
            ..run
        };
        assert_eq!(line(&odd, true, now), "web: (pid 12345) 8s");
        let fin = Status {
            state: State::Finish,
            pid: NonZeroU32::new(3077),
            ..run
        };
        assert_eq!(line(&fin, true, now), "finish: web: (pid 3077) 8s");
    }

    #[test]
    fn appendix_words() {
        let stamp = Tai64n::from_unix(1000, 500);
        let run = Status {
            stamp,
            pid: NonZeroU32::new(25883),
            paused: false,
            want: Want::Down,
            term: false,
            state: State::Run,
        };
        let with = |a: Appendix<'_>, st: &Status| {
            let mut o = Out::new();
            o.status_line(b"web", st, false, stamp.secs + 8);
            o.appendix(a);
            String::from_utf8(o.buf).expect("utf-8")
        };
        assert_eq!(
            with(Appendix::Ready { secs: 5 }, &run),
            "run: web: (pid 25883) 8s, normally down, want down, ready 5s"
        );
        assert_eq!(
            with(Appendix::NotReady, &run),
            "run: web: (pid 25883) 8s, normally down, want down, not ready"
        );
        assert_eq!(
            with(Appendix::Nothing, &run),
            "run: web: (pid 25883) 8s, normally down, want down"
        );
        let down = Status {
            pid: None,
            state: State::Down,
            want: Want::Up,
            ..run
        };
        let mut o = Out::new();
        o.status_line(b"app", &down, true, stamp.secs + 2);
        o.appendix(Appendix::Waiting(b"d\xffb"));
        assert_eq!(
            o.buf,
            b"down: app: 2s, normally up, want up, waiting for d\xffb"
        );
    }
}
