//! What sv reads from `supervise/ready` (herd-status's `Readiness`): the words it appends to a
//! status line, and whether a started service counts as up for a wait (docs/sv.md, Readiness).
//!
//! Pure: the caller reads `status` and `supervise/ready` and passes them in, with the time. The
//! appendix is shown only for a service directory with `notification-fd` or `dependencies.d/`
//! (the caller decides that): every other line stays runit's, byte for byte, because scripts
//! (phusion's my_init among them) parse it. The log service has no readiness.

use herd_status::{is_ready, Pid, Readiness, State, Status};

/// The words after runit's flags of the main service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appendix<'a> {
    /// Nothing to add (down and not waiting, or finishing).
    Nothing,
    /// `, ready Ns`: `./run` is ready since N seconds.
    Ready { secs: u64 },
    /// `, not ready`: `./run` runs and is not ready yet.
    NotReady,
    /// `, waiting for NAME`: not started, dependency NAME is not up and ready.
    Waiting(&'a [u8]),
}

/// The appendix for a service whose `status` is `st` and whose `supervise/ready` is `ready`
/// (`None`: no file; `Some(None)`: unreadable or bad). `now_secs` is TAI64 seconds, as in the
/// status line. Without the file readiness is runit's (up is ready, since the start); with it,
/// `is_ready` decides, and a `ready` line's own stamp gives the seconds.
pub fn appendix<'a>(
    st: &Status,
    ready: Option<Option<&'a Readiness>>,
    now_secs: u64,
) -> Appendix<'a> {
    match st.state {
        State::Run if st.pid.is_some() => {
            if !is_ready(st, ready) {
                return Appendix::NotReady;
            }
            let since = match ready {
                Some(Some(Readiness::Ready { since, .. })) => since.secs,
                _ => st.stamp.secs,
            };
            Appendix::Ready {
                secs: now_secs.saturating_sub(since),
            }
        }
        State::Down if st.pid.is_none() => match ready {
            Some(Some(Readiness::Waiting(name))) => Appendix::Waiting(name),
            _ => Appendix::Nothing,
        },
        _ => Appendix::Nothing,
    }
}

/// How to decide that a running service is up for a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpTest {
    /// `supervise/ready` exists: its supervisor decided (it runs `./check` itself).
    Decided(bool),
    /// No `supervise/ready` (runit's runsv, or a service with no way to be ready but being up):
    /// runit's rule, `./check` if there is one.
    Script,
}

/// [`UpTest`] for `st` and the service's `supervise/ready` (as in [`appendix`]).
pub fn up_test(st: &Status, ready: Option<Option<&Readiness>>) -> UpTest {
    match ready {
        None => UpTest::Script,
        Some(r) => UpTest::Decided(is_ready(st, Some(r))),
    }
}

/// Whether `st` shows an instance other than the one that ran before sv wrote its letters
/// (`before`): a restart waits for the new one. runit compares whole seconds only.
pub fn is_new_instance(st: &Status, before: Option<Pid>) -> bool {
    before.is_none() || st.pid != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use herd_status::Want;
    use herd_tai64n::Tai64n;

    fn pid(n: u32) -> Option<Pid> {
        Pid::new(n)
    }

    fn p(n: u32) -> Pid {
        Pid::new(n).unwrap_or(Pid::MIN)
    }

    fn st(state: State, p: u32) -> Status {
        Status {
            stamp: Tai64n::from_unix(1000, 500),
            pid: pid(p),
            paused: false,
            want: Want::Up,
            term: false,
            state,
        }
    }

    #[test]
    fn appendix_of_each_state() {
        let now = Tai64n::from_unix(1010, 0).secs;
        let run = st(State::Run, 42);
        let ready = Readiness::Ready {
            pid: p(42),
            since: Tai64n::from_unix(1007, 0),
        };
        assert_eq!(
            appendix(&run, Some(Some(&ready)), now),
            Appendix::Ready { secs: 3 }
        );
        // Without the file: ready since the start (runit's meaning).
        assert_eq!(appendix(&run, None, now), Appendix::Ready { secs: 10 });
        // A `ready` line about another process, `up`, `down`, a bad file: not ready.
        let other = Readiness::Ready {
            pid: p(7),
            since: Tai64n::from_unix(1007, 0),
        };
        assert_eq!(appendix(&run, Some(Some(&other)), now), Appendix::NotReady);
        let up = Readiness::Up(p(42));
        assert_eq!(appendix(&run, Some(Some(&up)), now), Appendix::NotReady);
        assert_eq!(
            appendix(&run, Some(Some(&Readiness::Down)), now),
            Appendix::NotReady
        );
        assert_eq!(appendix(&run, Some(None), now), Appendix::NotReady);
        // A ready stamp in the future reads 0 s, as runit's seconds do.
        let later = Readiness::Ready {
            pid: p(42),
            since: Tai64n::from_unix(2000, 0),
        };
        assert_eq!(
            appendix(&run, Some(Some(&later)), now),
            Appendix::Ready { secs: 0 }
        );

        let down = st(State::Down, 0);
        let waiting = Readiness::Waiting(b"db".to_vec());
        assert_eq!(
            appendix(&down, Some(Some(&waiting)), now),
            Appendix::Waiting(b"db")
        );
        assert_eq!(
            appendix(&down, Some(Some(&Readiness::Down)), now),
            Appendix::Nothing
        );
        assert_eq!(appendix(&down, None, now), Appendix::Nothing);
        // `./finish` running: readiness was reset with `./run`; nothing to say.
        let finish = st(State::Finish, 43);
        assert_eq!(
            appendix(&finish, Some(Some(&Readiness::Down)), now),
            Appendix::Nothing
        );
        assert_eq!(appendix(&finish, None, now), Appendix::Nothing);
    }

    #[test]
    fn up_is_decided_by_the_file_when_there_is_one() {
        let run = st(State::Run, 42);
        let ready = Readiness::Ready {
            pid: p(42),
            since: Tai64n::from_unix(1007, 0),
        };
        assert_eq!(up_test(&run, None), UpTest::Script);
        assert_eq!(up_test(&run, Some(Some(&ready))), UpTest::Decided(true));
        let up = Readiness::Up(p(42));
        assert_eq!(up_test(&run, Some(Some(&up))), UpTest::Decided(false));
        assert_eq!(up_test(&run, Some(None)), UpTest::Decided(false));
    }

    #[test]
    fn a_restart_needs_another_pid() {
        let run = st(State::Run, 42);
        assert!(is_new_instance(&run, None));
        assert!(is_new_instance(&run, pid(41)));
        assert!(!is_new_instance(&run, pid(42)));
        assert!(is_new_instance(&st(State::Down, 0), pid(42)));
    }
}
