//! svscan's service table: which supervise runs for which service directory
//! (docs/runit-compatibility.md#runsvdir-scanning).
//!
//! A service is identified by the (device, inode) of its directory (symlinks followed), so a
//! rename or a second symlink to the same directory does not start a second supervise. A
//! supervise that dies is started again, at most once a second per service. A service that
//! disappears gets its supervise TERMed and is forgotten once that supervise is reaped. The
//! table is pure: the lifecycle feeds it scans and reaps, and turns its [`Action`]s into effects.

use std::ffi::{OsStr, OsString};
use std::time::{Duration, Instant};

use herd_status::Pid;
use herd_value::later;

/// Minimum time between two starts of a supervise for one service.
pub const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// (st_dev, st_ino) of a service directory.
pub type Id = (u64, u64);

/// One directory entry found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: OsString,
    pub id: Id,
    /// `run` exists: a supervise can start now.
    pub ready: bool,
}

#[derive(Debug, Clone)]
struct Slot {
    name: OsString,
    id: Id,
    pid: Option<Pid>,
    /// A start was asked for and not answered yet ([`Table::started`]): the shell may take a
    /// while to get to it (hundreds of services start at once), and meanwhile the slot must not
    /// be started again, however long that takes.
    starting: bool,
    /// When its supervise was last started (or asked to start).
    last_start: Option<Instant>,
    /// The directory left the scan dir: its supervise was TERMed and is not restarted.
    gone: bool,
}

/// What the shell must do after a scan or a timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start `supervise NAME`; report the pid with [`Table::started`].
    Start { id: Id, name: OsString },
    /// SIGTERM to this supervise (its service left the scan dir).
    Term(Pid),
}

#[derive(Debug, Default)]
pub struct Table {
    slots: Vec<Slot>,
}

impl Table {
    /// Applies one full scan of the directory.
    pub fn scan(&mut self, entries: &[Entry], now: Instant, out: &mut Vec<Action>) {
        for s in &mut self.slots {
            if !s.gone && !entries.iter().any(|e| e.id == s.id) {
                s.gone = true;
                if let Some(pid) = s.pid {
                    out.push(Action::Term(pid));
                }
            }
        }
        self.slots
            .retain(|s| !(s.gone && s.pid.is_none() && !s.starting));
        for e in entries {
            match self.slots.iter_mut().find(|s| s.id == e.id && !s.gone) {
                Some(s) => s.name.clone_from(&e.name),
                None if e.ready => self.slots.push(Slot {
                    name: e.name.clone(),
                    id: e.id,
                    pid: None,
                    starting: false,
                    last_start: None,
                    gone: false,
                }),
                None => {}
            }
        }
        self.due(now, out);
    }

    /// Starts whatever may start now.
    pub fn due(&mut self, now: Instant, out: &mut Vec<Action>) {
        for s in &mut self.slots {
            if !s.gone
                && s.pid.is_none()
                && !s.starting
                && s.last_start.is_none_or(|t| now >= later(t, RESTART_PAUSE))
            {
                // Until its pid is reported the slot must not start again, however long the
                // answer takes (300 supervisors can take longer than the pause to start).
                s.starting = true;
                s.last_start = Some(now);
                out.push(Action::Start {
                    id: s.id,
                    name: s.name.clone(),
                });
            }
        }
    }

    /// A supervise was started (`pid`), or could not be forked (`None`: retried after the pause).
    /// If its service left the scan dir meanwhile, it is TERMed at once.
    pub fn started(&mut self, id: Id, pid: Option<Pid>, now: Instant, out: &mut Vec<Action>) {
        let Some(i) = self.slots.iter().position(|s| s.id == id && s.starting) else {
            return;
        };
        let s = &mut self.slots[i];
        s.pid = pid;
        s.starting = false;
        s.last_start = Some(now);
        match (s.gone, pid) {
            (true, Some(pid)) => out.push(Action::Term(pid)),
            (true, None) => {
                self.slots.remove(i);
            }
            (false, _) => {}
        }
    }

    /// A child was reaped. `true` if it was a supervise.
    pub fn reaped(&mut self, pid: Pid) -> bool {
        let Some(i) = self.slots.iter().position(|s| s.pid == Some(pid)) else {
            return false;
        };
        if self.slots[i].gone {
            self.slots.remove(i);
        } else {
            self.slots[i].pid = None;
        }
        true
    }

    /// When the next throttled restart is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter(|s| !s.gone && s.pid.is_none() && !s.starting)
            .filter_map(|s| s.last_start.map(|t| later(t, RESTART_PAUSE)))
            .min()
    }

    /// Pids of every supervise alive.
    pub fn pids(&self) -> impl Iterator<Item = Pid> + '_ {
        self.slots.iter().filter_map(|s| s.pid)
    }

    /// (service name, supervise pid) of every live supervise.
    pub fn live(&self) -> impl Iterator<Item = (&OsStr, Pid)> + '_ {
        self.slots
            .iter()
            .filter_map(|s| Some((s.name.as_os_str(), s.pid?)))
    }

    /// The names of the services of the scan directory (supervised, or to be again).
    pub fn names(&self) -> Vec<OsString> {
        self.slots
            .iter()
            .filter(|s| !s.gone)
            .map(|s| s.name.clone())
            .collect()
    }

    /// The service name of a live supervise.
    pub fn name_of(&self, pid: Pid) -> Option<&OsStr> {
        self.slots
            .iter()
            .find(|s| s.pid == Some(pid))
            .map(|s| s.name.as_os_str())
    }

    /// Whether a service with this id has a slot (started or waiting to restart).
    pub fn knows(&self, id: Id) -> bool {
        self.slots.iter().any(|s| s.id == id && !s.gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(name: &str, id: u64, ready: bool) -> Entry {
        Entry {
            name: name.into(),
            id: (1, id),
            ready,
        }
    }

    fn pid(n: u32) -> Pid {
        Pid::new(n).expect("nonzero")
    }

    fn start(name: &str, id: u64) -> Action {
        Action::Start {
            id: (1, id),
            name: name.into(),
        }
    }

    #[test]
    fn new_ready_services_start_once() {
        let mut t = Table::default();
        let now = Instant::now();
        let mut out = Vec::new();
        t.scan(&[e("a", 1, true), e("b", 2, false)], now, &mut out);
        assert_eq!(out, vec![start("a", 1)]);
        t.started((1, 1), Some(pid(100)), now, &mut out);
        out.clear();
        // The same dir under a new name (rename, second symlink) starts nothing.
        t.scan(&[e("a2", 1, true), e("b", 2, true)], now, &mut out);
        assert_eq!(out, vec![start("b", 2)]);
    }

    /// The shell answers each start in turn; when starting them all takes longer than the
    /// restart pause (300 services on a loaded machine), a slot still waiting for its answer is
    /// not started a second time (the soak saw two supervise per service, the second failing on
    /// the lock every second and the first never told to stop).
    #[test]
    fn start_waiting_for_its_answer_is_not_repeated() {
        let mut t = Table::default();
        let t0 = Instant::now();
        let mut out = Vec::new();
        t.scan(&[e("a", 1, true), e("b", 2, true)], t0, &mut out);
        assert_eq!(out, vec![start("a", 1), start("b", 2)]);
        let late = t0 + RESTART_PAUSE * 2;
        out.clear();
        t.started((1, 1), Some(pid(100)), late, &mut out);
        t.due(late, &mut out);
        assert_eq!(out, vec![]);
        assert_eq!(t.next_deadline(), None);
        t.started((1, 2), Some(pid(101)), late, &mut out);
        assert_eq!(out, vec![]);
        assert_eq!(t.pids().collect::<Vec<_>>(), vec![pid(100), pid(101)]);
    }

    /// A service that leaves while its start is waiting for the answer: the supervise that was
    /// started gets its TERM when the answer comes, and is forgotten once reaped.
    #[test]
    fn gone_while_starting_is_termed_when_started() {
        let mut t = Table::default();
        let t0 = Instant::now();
        let mut out = Vec::new();
        t.scan(&[e("a", 1, true), e("b", 2, true)], t0, &mut out);
        out.clear();
        t.scan(&[e("b", 2, true)], t0, &mut out);
        assert_eq!(out, vec![]);
        t.started((1, 1), Some(pid(100)), t0, &mut out);
        assert_eq!(out, vec![Action::Term(pid(100))]);
        assert!(!t.knows((1, 1)));
        assert!(t.reaped(pid(100)));
        assert_eq!(t.pids().count(), 0);
        // A fork that failed for a service gone meanwhile leaves nothing.
        t.scan(&[], t0, &mut out);
        out.clear();
        t.started((1, 2), None, t0, &mut out);
        assert_eq!(out, vec![]);
        t.due(t0 + RESTART_PAUSE * 2, &mut out);
        assert_eq!(out, vec![]);
    }

    #[test]
    fn dead_supervise_restarts_after_the_pause() {
        let mut t = Table::default();
        let t0 = Instant::now();
        let mut out = Vec::new();
        t.scan(&[e("a", 1, true)], t0, &mut out);
        t.started((1, 1), Some(pid(100)), t0, &mut out);
        assert!(t.reaped(pid(100)));
        out.clear();
        t.due(t0 + Duration::from_millis(10), &mut out);
        assert!(out.is_empty());
        assert_eq!(t.next_deadline(), Some(t0 + RESTART_PAUSE));
        t.due(t0 + RESTART_PAUSE, &mut out);
        assert_eq!(out, vec![start("a", 1)]);
    }

    #[test]
    fn removed_service_is_termed_and_forgotten() {
        let mut t = Table::default();
        let t0 = Instant::now();
        let mut out = Vec::new();
        t.scan(&[e("a", 1, true)], t0, &mut out);
        t.started((1, 1), Some(pid(100)), t0, &mut out);
        out.clear();
        t.scan(&[], t0, &mut out);
        assert_eq!(out, vec![Action::Term(pid(100))]);
        assert_eq!(t.pids().collect::<Vec<_>>(), vec![pid(100)]);
        assert!(t.reaped(pid(100)));
        assert_eq!(t.pids().count(), 0);
        out.clear();
        t.due(t0 + RESTART_PAUSE * 2, &mut out);
        assert!(out.is_empty());
        assert!(!t.reaped(pid(100)));
    }

    #[test]
    fn back_before_its_old_supervise_exited_gets_a_new_one() {
        let mut t = Table::default();
        let t0 = Instant::now();
        let mut out = Vec::new();
        t.scan(&[e("a", 1, true)], t0, &mut out);
        t.started((1, 1), Some(pid(100)), t0, &mut out);
        t.scan(&[], t0, &mut out);
        out.clear();
        let t1 = t0 + RESTART_PAUSE;
        t.scan(&[e("a", 1, true)], t1, &mut out);
        assert_eq!(out, vec![start("a", 1)]);
    }
}
