//! The readiness of the main service (docs/readiness.md): where it comes from, and what
//! `supervise/ready` says (`herd_status::Readiness`).
//!
//! The source is looked at before each start of `./run` ([`Effects::readiness_source`]). The
//! file is kept only for a service that has a way to be ready other than being up; for any
//! other it is removed (once) and up means ready, as in runit. Invariants: the file is written
//! only when what it says changes, and always before the status of the same change, so that a
//! reader never pairs a new `status` with an old `ready`; readiness is about one `./run`, and
//! resets to `down` when it ends. The log service has no readiness.

use std::time::{Duration, Instant};

use herd_status::{Exit, Pid, Readiness};
use herd_tai64n::Tai64n;
use herd_value::later;

use super::Effects;

/// The wait before the second run of `./check`; each later wait is twice the one before, up
/// to [`CHECK_MAX_DELAY`]. The first run is at once.
pub const CHECK_FIRST_DELAY: Duration = Duration::from_millis(10);
/// The longest wait between two runs of `./check`.
pub const CHECK_MAX_DELAY: Duration = Duration::from_secs(1);
/// How often dependencies are looked at while they cannot be watched (no inotify): the only
/// timer of a wait, and only in that fault.
pub const DEPS_RETRY: Duration = Duration::from_secs(1);

/// A dependency of the main service that is not up and ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// Its name in the scan directory (a file name of `dependencies.d/`).
    pub name: Vec<u8>,
    /// Whether the scan directory has a service of that name yet.
    pub exists: bool,
    /// Whether its changes are watched (inotify); if not, it is looked at again after
    /// [`DEPS_RETRY`].
    pub watched: bool,
}

/// How the main service becomes ready, as the shell found its directory before a start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    /// Nothing but `./run`: ready when up, and no `supervise/ready` (runit's meaning).
    #[default]
    Plain,
    /// `notification-fd` (s6's protocol): ready when `./run` writes a newline to the descriptor
    /// it names; never, for this run, if the file is invalid.
    Notification,
    /// `check` without `notification-fd`: ready at the first exit 0 of `./check`, run at once
    /// after the start, then after waits from [`CHECK_FIRST_DELAY`] doubling to
    /// [`CHECK_MAX_DELAY`].
    Check,
    /// Only `dependencies.d/`: ready when up, and `supervise/ready` says so (and says what the
    /// service waits for before it starts).
    Up,
}

/// The runs of `./check` for one run of `./run`, until one exits 0.
#[derive(Debug, Clone, Copy)]
struct Check {
    /// The `./check` running.
    pid: Option<Pid>,
    /// When the next one starts (none while one runs).
    next: Option<Instant>,
    /// The wait after the next failure.
    delay: Duration,
}

impl Check {
    fn new(now: Instant) -> Self {
        Check {
            pid: None,
            next: Some(now),
            delay: CHECK_FIRST_DELAY,
        }
    }

    /// A run failed (or could not start) at `now`: the next one comes after the delay, which
    /// doubles.
    fn failed(&mut self, now: Instant) {
        self.pid = None;
        self.next = Some(later(now, self.delay));
        self.delay = self.delay.saturating_mul(2).min(CHECK_MAX_DELAY);
    }
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
    /// `./check` runs until it says ready.
    check: Option<Check>,
    /// The dependency waited for before a start of `./run`.
    waiting: Option<Vec<u8>>,
    /// When dependencies that cannot be watched are looked at again.
    deps_retry: Option<Instant>,
}

impl Ready {
    /// At startup: the file says `down`, or is removed if `kept` is false (a stale one, left by
    /// an earlier configuration).
    pub(super) fn track(&mut self, kept: bool) {
        self.file = kept.then_some(Readiness::Down);
        self.dirty = true;
    }

    /// `true` if that changed what the file says.
    fn set(&mut self, file: Option<Readiness>) -> bool {
        let changed = self.file != file;
        if changed {
            self.file = file;
            self.dirty = true;
        }
        changed
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

    /// `./run` started as `pid` at `now` (`wall`).
    pub(super) fn started(&mut self, pid: Pid, now: Instant, wall: Tai64n) {
        let file = match self.source {
            Source::Plain => None,
            Source::Up => Some(Readiness::Ready { pid, since: wall }),
            Source::Notification => Some(Readiness::Up(pid)),
            Source::Check => {
                self.check = Some(Check::new(now));
                Some(Readiness::Up(pid))
            }
        };
        self.set(file);
    }

    /// `./run` ended: readiness resets; a `./check` still running is killed (its answer would
    /// be about a process that is gone).
    pub(super) fn ended(&mut self, fx: &mut impl Effects) {
        match self.source {
            Source::Notification => fx.close_notification(),
            Source::Check => {
                if let Some(pid) = self.check.take().and_then(|c| c.pid) {
                    fx.kill_check(pid);
                }
            }
            Source::Plain | Source::Up => {}
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

    /// Whether the running `./run` is ready: at once for a plain service, else as the file says.
    pub(super) fn is_ready(&self) -> bool {
        self.source == Source::Plain || matches!(self.file, Some(Readiness::Ready { .. }))
    }

    /// Whether a start of `./run` waits for a dependency.
    pub(super) fn waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// The start of `./run` is due at `now` but waits for `unmet`: said when it is a dependency
    /// other than the one waited for so far; `true` if the file changed.
    pub(super) fn wait(&mut self, unmet: &Unmet, now: Instant, fx: &mut impl Effects) -> bool {
        if self.waiting.as_ref() != Some(&unmet.name) {
            fx.say_waiting(unmet);
            self.waiting = Some(unmet.name.clone());
        }
        self.deps_retry = (!unmet.watched).then(|| later(now, DEPS_RETRY));
        self.set(Some(Readiness::Waiting(unmet.name.clone())))
    }

    /// The wait is over: the start goes ahead, or is not wanted any more (then the file says
    /// `down` again).
    pub(super) fn end_wait(&mut self, fx: &mut impl Effects) {
        if self.waiting.take().is_some() {
            self.deps_retry = None;
            fx.end_wait();
            self.set(Some(Readiness::Down));
        }
    }

    /// When dependencies that cannot be watched are looked at again.
    pub(super) fn deps_retry(&self) -> Option<Instant> {
        self.deps_retry
    }

    /// When `./check` is to run next.
    pub(super) fn next_check(&self) -> Option<Instant> {
        self.check.and_then(|c| c.next)
    }

    /// Starts `./check` if its time has come.
    pub(super) fn run_check(&mut self, now: Instant, fx: &mut impl Effects) {
        let Some(check) = &mut self.check else { return };
        if check.next.is_none_or(|t| t > now) {
            return;
        }
        check.next = None;
        match fx.spawn_check() {
            Some(pid) => check.pid = Some(pid),
            None => check.failed(now),
        }
    }

    /// Whether `pid` is the `./check` running.
    pub(super) fn is_check(&self, pid: Pid) -> bool {
        self.check.is_some_and(|c| c.pid == Some(pid))
    }

    /// `./check` ended with `exit` at `now` (`wall`) while `./run` (`run`) runs: `true` if that
    /// made the service ready.
    pub(super) fn check_exited(
        &mut self,
        exit: Exit,
        run: Pid,
        now: Instant,
        wall: Tai64n,
    ) -> bool {
        let Some(check) = &mut self.check else {
            return false;
        };
        if exit != Exit::Code(0) {
            check.failed(now);
            return false;
        }
        self.check = None;
        self.set(Some(Readiness::Ready {
            pid: run,
            since: wall,
        }));
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
