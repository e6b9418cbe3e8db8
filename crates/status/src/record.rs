//! herd's `supervise/runs` and `supervise/health`: what supervise knows about a service beyond
//! runit's status, for `sv --json status` and `sv health` (docs/sv.md, docs/policy.md). Each is one
//! line, written through `NAME.new` and a rename like the status.
//!
//! `supervise/runs`, kept for every main service:
//!
//! | line | meaning |
//! |---|---|
//! | `runs N exit none` | `./run` started N times since supervise started; none has ended yet |
//! | `runs N exit code C` | … the last one exited with code C |
//! | `runs N exit signal S` | … the last one was killed by signal number S |
//! | … ` failed` at the end | supervise gave up (`restart-limit`): the service stays down until `u`/`o` |
//!
//! `supervise/health`, kept only for a main service with an executable `health`:
//!
//! | line | meaning |
//! |---|---|
//! | `none` | no check is due: the service is not up and ready |
//! | `starting` | checks run; none has passed yet, and fewer than `health-retries` counted failures in a row (failures in the start period do not count) |
//! | `healthy LAST` | a check passed, and fewer than `health-retries` failed in a row since |
//! | `unhealthy LAST` | `health-retries` checks failed in a row |
//!
//! `LAST` is the last check's end and when it ended: `code C @TAI64N`, `signal S @TAI64N`, or
//! `timeout @TAI64N` (killed at `health-timeout`).

use herd_tai64n::{Tai64n, LABEL_LEN};

use crate::Exit;

/// The file names in `supervise/`.
pub const RUNS_FILE: &str = "runs";
pub const HEALTH_FILE: &str = "health";

/// What `supervise/runs` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Runs {
    /// Starts of `./run` since supervise started.
    pub started: u64,
    /// How the last `./run` ended.
    pub last_exit: Option<Exit>,
    /// supervise gave up restarting it.
    pub failed: bool,
}

impl Runs {
    /// The file's bytes: one line.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = format!("runs {} exit ", self.started);
        match self.last_exit {
            None => s.push_str("none"),
            Some(e) => s.push_str(&exit_words(e)),
        }
        if self.failed {
            s.push_str(" failed");
        }
        s.push('\n');
        s.into_bytes()
    }

    /// Reads what [`Runs::encode`] writes; `None` for anything else.
    pub fn decode(text: &[u8]) -> Option<Runs> {
        let line = std::str::from_utf8(text.strip_suffix(b"\n")?).ok()?;
        let mut w = line.split(' ');
        if w.next()? != "runs" {
            return None;
        }
        let started = digits(w.next()?)?;
        if w.next()? != "exit" {
            return None;
        }
        let last_exit = match w.next()? {
            "none" => None,
            kind => Some(parse_exit(kind, w.next()?)?),
        };
        let failed = match w.next() {
            None => false,
            Some("failed") => true,
            Some(_) => return None,
        };
        w.next().is_none().then_some(Runs {
            started,
            last_exit,
            failed,
        })
    }
}

/// The health of a service with a `health` check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthState {
    None,
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthState {
    /// The word in the file (and in `sv --json status`).
    pub fn word(self) -> &'static str {
        match self {
            HealthState::None => "none",
            HealthState::Starting => "starting",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
        }
    }
}

/// How a health check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckEnd {
    /// It exited (0 passes) or was killed by a signal.
    Exit(Exit),
    /// It was still running at `health-timeout` and was killed.
    Timeout,
}

/// What `supervise/health` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    pub state: HealthState,
    /// The last check's end and when it ended.
    pub last: Option<(CheckEnd, Tai64n)>,
}

impl Health {
    /// The file's bytes: one line.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = self.state.word().to_string();
        if let Some((end, at)) = self.last {
            s.push(' ');
            match end {
                CheckEnd::Exit(e) => s.push_str(&exit_words(e)),
                CheckEnd::Timeout => s.push_str("timeout"),
            }
            s.push(' ');
            s.push_str(&String::from_utf8_lossy(&at.label()));
        }
        s.push('\n');
        s.into_bytes()
    }

    /// Reads what [`Health::encode`] writes; `None` for anything else.
    pub fn decode(text: &[u8]) -> Option<Health> {
        let line = std::str::from_utf8(text.strip_suffix(b"\n")?).ok()?;
        let mut w = line.split(' ');
        let state = match w.next()? {
            "none" => HealthState::None,
            "starting" => HealthState::Starting,
            "healthy" => HealthState::Healthy,
            "unhealthy" => HealthState::Unhealthy,
            _ => return None,
        };
        let last = match w.next() {
            None => None,
            Some("timeout") => Some((CheckEnd::Timeout, label(w.next()?)?)),
            Some(kind) => {
                let end = CheckEnd::Exit(parse_exit(kind, w.next()?)?);
                Some((end, label(w.next()?)?))
            }
        };
        w.next().is_none().then_some(Health { state, last })
    }
}

fn exit_words(e: Exit) -> String {
    match e {
        Exit::Code(c) => format!("code {c}"),
        Exit::Signal { signo, .. } => format!("signal {signo}"),
    }
}

fn parse_exit(kind: &str, n: &str) -> Option<Exit> {
    match kind {
        "code" => herd_value::exit_code(n.as_bytes()).ok().map(Exit::Code),
        "signal" => {
            let signo = i32::try_from(digits(n)?).ok()?;
            (1..=64)
                .contains(&signo)
                .then_some(Exit::Signal { signo, core: false })
        }
        _ => None,
    }
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn label(s: &str) -> Option<Tai64n> {
    (s.len() == LABEL_LEN)
        .then(|| Tai64n::parse_label(s.as_bytes()))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn runs_lines() {
        let r = Runs {
            started: 4,
            last_exit: Some(Exit::Code(1)),
            failed: true,
        };
        assert_eq!(r.encode(), b"runs 4 exit code 1 failed\n");
        let r = Runs {
            started: 0,
            last_exit: None,
            failed: false,
        };
        assert_eq!(r.encode(), b"runs 0 exit none\n");
        let r = Runs {
            started: 2,
            last_exit: Some(Exit::Signal {
                signo: 15,
                core: false,
            }),
            failed: false,
        };
        assert_eq!(r.encode(), b"runs 2 exit signal 15\n");
        for bad in [
            &b"runs 2 exit signal 15"[..],
            b"runs x exit none\n",
            b"runs 2 exit code 256\n",
            b"runs 2 exit signal 0\n",
            b"runs 2 exit none failed again\n",
            b"runs -1 exit none\n",
        ] {
            assert_eq!(
                Runs::decode(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn health_lines() {
        let at = Tai64n::from_unix(1_800_000_000, 0);
        let h = Health {
            state: HealthState::Unhealthy,
            last: Some((CheckEnd::Timeout, at)),
        };
        let mut want = b"unhealthy timeout ".to_vec();
        want.extend_from_slice(&at.label());
        want.push(b'\n');
        assert_eq!(h.encode(), want);
        assert_eq!(
            Health {
                state: HealthState::Starting,
                last: None
            }
            .encode(),
            b"starting\n"
        );
        for bad in [
            &b"starting"[..],
            b"sick\n",
            b"healthy exit 0\n",
            b"none timeout @12\n",
        ] {
            assert_eq!(
                Health::decode(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn exit() -> impl Strategy<Value = Exit> {
        prop_oneof![
            any::<u8>().prop_map(Exit::Code),
            (1i32..=64).prop_map(|signo| Exit::Signal { signo, core: false }),
        ]
    }

    proptest! {
        #[test]
        fn prop_runs_round_trip(started in any::<u64>(), last in proptest::option::of(exit()), failed in any::<bool>()) {
            let r = Runs { started, last_exit: last, failed };
            prop_assert_eq!(Runs::decode(&r.encode()), Some(r));
        }

        #[test]
        fn prop_health_round_trip(
            state in prop_oneof![Just(HealthState::None), Just(HealthState::Starting), Just(HealthState::Healthy), Just(HealthState::Unhealthy)],
            last in proptest::option::of((prop_oneof![exit().prop_map(CheckEnd::Exit), Just(CheckEnd::Timeout)], any::<u32>(), 0u32..1_000_000_000)),
        ) {
            let h = Health { state, last: last.map(|(e, s, n)| (e, Tai64n::from_unix(u64::from(s), n))) };
            prop_assert_eq!(Health::decode(&h.encode()), Some(h));
        }

        #[test]
        fn prop_decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Runs::decode(&b);
            let _ = Health::decode(&b);
        }
    }
}
