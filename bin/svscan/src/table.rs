//! svscan's service table: which supervise runs for which service directory (runit.md §5.2).
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
        self.slots.retain(|s| !(s.gone && s.pid.is_none()));
        for e in entries {
            match self.slots.iter_mut().find(|s| s.id == e.id && !s.gone) {
                Some(s) => s.name.clone_from(&e.name),
                None if e.ready => self.slots.push(Slot {
                    name: e.name.clone(),
                    id: e.id,
                    pid: None,
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
                && s.last_start.is_none_or(|t| now >= later(t, RESTART_PAUSE))
            {
                // Counted from now: until its pid is reported the slot must not start again.
                s.last_start = Some(now);
                out.push(Action::Start {
                    id: s.id,
                    name: s.name.clone(),
                });
            }
        }
    }

    /// A supervise was started (`pid`), or could not be forked (`None`: retried after the pause).
    pub fn started(&mut self, id: Id, pid: Option<Pid>, now: Instant) {
        if let Some(s) = self.slots.iter_mut().find(|s| s.id == id && !s.gone) {
            s.pid = pid;
            s.last_start = Some(now);
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
            .filter(|s| !s.gone && s.pid.is_none())
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
        t.started((1, 1), Some(pid(100)), now);
        out.clear();
        // The same dir under a new name (rename, second symlink) starts nothing.
        t.scan(&[e("a2", 1, true), e("b", 2, true)], now, &mut out);
        assert_eq!(out, vec![start("b", 2)]);
    }

    #[test]
    fn dead_supervise_restarts_after_the_pause() {
        let mut t = Table::default();
        let t0 = Instant::now();
        let mut out = Vec::new();
        t.scan(&[e("a", 1, true)], t0, &mut out);
        t.started((1, 1), Some(pid(100)), t0);
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
        t.started((1, 1), Some(pid(100)), t0);
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
        t.started((1, 1), Some(pid(100)), t0);
        t.scan(&[], t0, &mut out);
        out.clear();
        let t1 = t0 + RESTART_PAUSE;
        t.scan(&[e("a", 1, true)], t1, &mut out);
        assert_eq!(out, vec![start("a", 1)]);
    }
}
