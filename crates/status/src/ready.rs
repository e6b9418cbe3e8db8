//! herd's `supervise/ready`: the readiness of a main service, next to runit's files (which stay
//! byte for byte as runit writes them). docs/readiness.md describes it for users.
//!
//! supervise keeps the file only for a service that has a way to be ready other than being up:
//! `notification-fd` (s6's protocol), a `check` script, or a `dependencies.d/` directory. For any
//! other service the file is absent and readiness is runit's: up means ready. The file is one
//! line, written through `ready.new` and a rename like the status, so a reader never sees half
//! of it and inotify watchers of `supervise/` wake on `IN_MOVED_TO`:
//!
//! | line | meaning |
//! |---|---|
//! | `down` | no `./run` process: readiness is reset whenever the service stops |
//! | `waiting NAME` | wanted up, not started: dependency `NAME` is not up and ready yet |
//! | `up PID` | `./run` (pid PID) started and is not ready yet |
//! | `ready PID @TAI64N` | `./run` (pid PID) is ready since the stamp (24 hex digits, as svlogd's `-t`) |
//!
//! `NAME` is the dependency's file name as bytes (no newline can be in it: such a file is not a
//! dependency). A reader must compare the pid of `up`/`ready` with the pid in `status`: a
//! `ready` line is about one process only ([`is_ready`]).

use herd_tai64n::{Tai64n, LABEL_LEN};

use crate::{Pid, State, Status};

/// The file's name in `supervise/`.
pub const READY_FILE: &str = "ready";

/// What `supervise/ready` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// No `./run` process.
    Down,
    /// Wanted up, not started: waiting for this dependency (its name's bytes).
    Waiting(Vec<u8>),
    /// `./run` started and not ready yet.
    Up(Pid),
    /// `./run` ready since `since`.
    Ready { pid: Pid, since: Tai64n },
}

impl Readiness {
    /// The file's bytes: one line ending in a newline.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        match self {
            Readiness::Down => out.extend_from_slice(b"down"),
            Readiness::Waiting(name) => {
                out.extend_from_slice(b"waiting ");
                out.extend_from_slice(name);
            }
            Readiness::Up(pid) => {
                out.extend_from_slice(b"up ");
                out.extend_from_slice(pid.get().to_string().as_bytes());
            }
            Readiness::Ready { pid, since } => {
                out.extend_from_slice(b"ready ");
                out.extend_from_slice(pid.get().to_string().as_bytes());
                out.push(b' ');
                out.extend_from_slice(&since.label());
            }
        }
        out.push(b'\n');
        out
    }

    /// Reads what [`Readiness::encode`] writes; `None` for anything else (a reader then treats
    /// the service as not ready).
    pub fn decode(text: &[u8]) -> Option<Readiness> {
        let line = text.strip_suffix(b"\n")?;
        if line.contains(&b'\n') {
            return None;
        }
        if line == b"down" {
            return Some(Readiness::Down);
        }
        if let Some(name) = line.strip_prefix(b"waiting ") {
            return (!name.is_empty()).then(|| Readiness::Waiting(name.to_vec()));
        }
        if let Some(pid) = line.strip_prefix(b"up ") {
            return herd_value::pid(pid).ok().map(Readiness::Up);
        }
        let rest = line.strip_prefix(b"ready ")?;
        let space = rest.iter().position(|&b| b == b' ')?;
        let pid = herd_value::pid(&rest[..space]).ok()?;
        let label = &rest[space + 1..];
        if label.len() != LABEL_LEN {
            return None;
        }
        let since = Tai64n::parse_label(label)?;
        Some(Readiness::Ready { pid, since })
    }
}

/// Whether the service is up and ready, from its `status` and its `supervise/ready` (`None` when
/// the file does not exist; a file that could not be decoded is `Some(None)`, not ready).
///
/// Without the file, up is ready (runit's meaning). With it, only a `ready` line naming the pid
/// that `status` says runs `./run` is.
pub fn is_ready(status: &Status, ready: Option<Option<&Readiness>>) -> bool {
    let Some(pid) = status.pid.filter(|_| status.state == State::Run) else {
        return false;
    };
    match ready {
        None => true,
        Some(Some(Readiness::Ready { pid: p, .. })) => *p == pid,
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Want;
    use proptest::prelude::*;

    fn pid(n: u32) -> Pid {
        Pid::new(n).unwrap_or(Pid::MIN)
    }

    fn status(state: State, p: Option<u32>) -> Status {
        Status {
            stamp: Tai64n::from_unix(1000, 0),
            pid: p.map(pid),
            paused: false,
            want: Want::Up,
            term: false,
            state,
        }
    }

    #[test]
    fn lines() {
        let since = Tai64n::from_unix(1_700_000_000, 5);
        assert_eq!(Readiness::Down.encode(), b"down\n");
        assert_eq!(Readiness::Waiting(b"db".to_vec()).encode(), b"waiting db\n");
        assert_eq!(Readiness::Up(pid(42)).encode(), b"up 42\n");
        let mut want = b"ready 42 ".to_vec();
        want.extend_from_slice(&since.label());
        want.push(b'\n');
        assert_eq!(
            Readiness::Ready {
                pid: pid(42),
                since
            }
            .encode(),
            want
        );
        assert_eq!(want[9], b'@');
    }

    #[test]
    fn bad_lines_are_refused() {
        for bad in [
            &b""[..],
            b"down",
            b"down\n\n",
            b"waiting \n",
            b"up 0\n",
            b"up x\n",
            b"ready 42\n",
            b"ready 42 @40000000\n",
            b"ready 0 @400000006553f1000000000a\n",
            b"sleeping\n",
        ] {
            assert_eq!(
                Readiness::decode(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn readiness_is_about_the_running_pid() {
        let since = Tai64n::from_unix(5, 0);
        let ready = Readiness::Ready { pid: pid(7), since };
        let run7 = status(State::Run, Some(7));
        assert!(is_ready(&run7, None));
        assert!(is_ready(&run7, Some(Some(&ready))));
        assert!(!is_ready(&run7, Some(None)));
        assert!(!is_ready(&run7, Some(Some(&Readiness::Up(pid(7))))));
        assert!(!is_ready(&run7, Some(Some(&Readiness::Down))));
        assert!(!is_ready(&status(State::Run, Some(8)), Some(Some(&ready))));
        assert!(!is_ready(
            &status(State::Finish, Some(7)),
            Some(Some(&ready))
        ));
        assert!(!is_ready(&status(State::Finish, Some(7)), None));
        assert!(!is_ready(&status(State::Down, None), None));
    }

    fn readiness() -> impl Strategy<Value = Readiness> {
        prop_oneof![
            Just(Readiness::Down),
            proptest::collection::vec(
                any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
                1..40
            )
            .prop_map(Readiness::Waiting),
            (1u32..=0x7fff_ffff).prop_map(|p| Readiness::Up(pid(p))),
            (1u32..=0x7fff_ffff, any::<u32>(), 0u32..1_000_000_000).prop_map(|(p, s, n)| {
                Readiness::Ready {
                    pid: pid(p),
                    since: Tai64n::from_unix(u64::from(s), n),
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn prop_ready_round_trips(r in readiness()) {
            prop_assert_eq!(Readiness::decode(&r.encode()), Some(r));
        }

        #[test]
        fn prop_ready_decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Readiness::decode(&b);
        }
    }
}
