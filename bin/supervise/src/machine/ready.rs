//! The readiness of the main service (docs/readiness.md): where it comes from, and what
//! `supervise/ready` says (`herd_status::Readiness`).
//!
//! The source is looked at before each start of `./run` ([`Effects::readiness_source`]). The
//! file is kept only for a service that has a way to be ready other than being up; for any
//! other it is removed (once) and up means ready, as in runit. Invariants: the file is written
//! only when what it says changes, and always before the status of the same change, so that a
//! reader never pairs a new `status` with an old `ready`; readiness is about one `./run`, and
//! resets to `down` when it ends. The log service has no readiness.

use herd_status::{Pid, Readiness};
use herd_tai64n::Tai64n;

use super::Effects;

/// How the main service becomes ready, as the shell found its directory before a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// Nothing but `./run`: ready when up, and no `supervise/ready` (runit's meaning).
    #[default]
    Plain,
    /// `notification-fd` (s6's protocol): ready when `./run` writes a newline to the descriptor
    /// it names; never, for this run, if the file is invalid.
    Notification,
}

/// The main service's readiness.
#[derive(Debug, Clone, Default)]
pub(super) struct Ready {
    /// What `supervise/ready` says; `None`: the file is not kept.
    file: Option<Readiness>,
    /// `file` is still to be written (or, for `None`, removed).
    dirty: bool,
    /// The source found before the last start of `./run`.
    source: Source,
}

impl Ready {
    /// At startup: the file says `down`, or is removed if `kept` is false (a stale one, left by
    /// an earlier configuration).
    pub(super) fn track(&mut self, kept: bool) {
        self.file = kept.then_some(Readiness::Down);
        self.dirty = true;
    }

    fn set(&mut self, file: Option<Readiness>) {
        if self.file != file {
            self.file = file;
            self.dirty = true;
        }
    }

    /// What the file says (for the machine's tests).
    #[cfg(test)]
    pub(super) fn file(&self) -> Option<&Readiness> {
        self.file.as_ref()
    }

    /// `./run` is about to start with `source`.
    pub(super) fn prepare(&mut self, source: Source) {
        self.source = source;
    }

    /// `./run` started as `pid`.
    pub(super) fn started(&mut self, pid: Pid) {
        let file = match self.source {
            Source::Plain => None,
            Source::Notification => Some(Readiness::Up(pid)),
        };
        self.set(file);
    }

    /// `./run` ended: readiness resets.
    pub(super) fn ended(&mut self, fx: &mut impl Effects) {
        if self.source == Source::Notification {
            fx.close_notification();
        }
        if self.file.is_some() {
            self.set(Some(Readiness::Down));
        }
    }

    /// `./run` (`pid`) wrote its newline at `wall`: `true` if that made it ready.
    pub(super) fn notified(&mut self, pid: Pid, wall: Tai64n) -> bool {
        if self.source != Source::Notification || self.file != Some(Readiness::Up(pid)) {
            return false;
        }
        self.set(Some(Readiness::Ready { pid, since: wall }));
        true
    }

    /// Writes (or removes) the file if it changed; `false` if that failed, and it is still to
    /// be done.
    pub(super) fn publish(&mut self, fx: &mut impl Effects) -> bool {
        if self.dirty {
            self.dirty = !fx.publish_ready(self.file.as_ref());
        }
        !self.dirty
    }
}
