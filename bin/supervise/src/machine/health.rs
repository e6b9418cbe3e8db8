//! herd only: the health checks of the main service (docs/policy.md, "Health"), Docker's
//! HEALTHCHECK rules with one file per option, and what `supervise/health` says.
//!
//! `./health` runs while `./run` is up and ready (and not paused): the first time
//! `health-interval` after readiness, then `health-interval` after each check ended. A check
//! still running at `health-timeout` is killed (a failure). A pass makes the service healthy; a
//! failure counts unless the service is still `starting` and the check began within
//! `health-start-period` of the start of `./run`; `health-retries` counted failures in a row make
//! it unhealthy, and supervise then restarts it as `t` does (a failed run). Invariants: at most
//! one check runs; none runs while the service is not up and ready (the file says `none`); the
//! file is written only when what it says changes. Without `health`, nothing here exists: no
//! deadline, no file.

use std::time::{Duration, Instant};

use herd_status::{CheckEnd, Exit, Health as Record, HealthState, Pid, State};
use herd_tai64n::Tai64n;
use herd_value::later;

use super::svc::Svc;
use super::Effects;

/// Without `health-interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Without `health-timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Without `health-retries`.
pub const DEFAULT_RETRIES: u32 = 3;
/// Without `health-start-period`.
pub const DEFAULT_START_PERIOD: Duration = Duration::ZERO;

/// The health options of the service directory, read before each start of `./run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthConfig {
    pub interval: Duration,
    pub timeout: Duration,
    /// Counted failures in a row that make the service unhealthy (0 counts as 1).
    pub retries: u32,
    pub start_period: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            start_period: DEFAULT_START_PERIOD,
        }
    }
}

/// The `./health` running.
#[derive(Debug, Clone, Copy)]
struct Running {
    pid: Pid,
    began: Instant,
    /// When it is killed.
    deadline: Instant,
}

/// The health checks of the main service.
#[derive(Debug, Clone, Default)]
pub(super) struct Checks {
    /// The options for the current run of `./run`; `None`: no executable `health`.
    config: Option<HealthConfig>,
    /// What `supervise/health` says; `None`: the file is not kept.
    file: Option<Record>,
    /// `file` is still to be written (or, for `None`, removed).
    dirty: bool,
    /// Checks run: the service is up and ready.
    active: bool,
    /// When `./run` started: the start period counts from there.
    run_began: Option<Instant>,
    running: Option<Running>,
    /// When the next check starts (none while one runs, or once unhealthy).
    next: Option<Instant>,
    /// Counted failures in a row.
    streak: u32,
    /// The service has just become unhealthy: it is to be restarted.
    verdict: bool,
}

impl Checks {
    /// At startup: the file says `none`, or is removed if `kept` is false (a stale one).
    pub(super) fn track(&mut self, kept: bool) {
        self.file = kept.then_some(Record {
            state: HealthState::None,
            last: None,
        });
        self.dirty = true;
    }

    /// What the file says (for the machine's tests).
    #[cfg(test)]
    pub(super) fn file(&self) -> Option<&Record> {
        self.file.as_ref()
    }

    fn set_state(&mut self, state: HealthState) {
        let last = self.file.and_then(|f| f.last);
        self.set(Some(Record { state, last }));
    }

    fn set(&mut self, file: Option<Record>) {
        if self.file != file {
            self.file = file;
            self.dirty = true;
        }
    }

    /// `./run` is about to start at `now` with `config` (`None`: no `health`). The last check's
    /// end stays in the file.
    pub(super) fn prepare(&mut self, config: Option<HealthConfig>, now: Instant) {
        self.config = config;
        self.run_began = Some(now);
        if config.is_some() {
            self.set_state(HealthState::None);
        } else {
            self.set(None);
        }
    }

    /// The check `pid` ended with `exit` at `now` (`wall`): `false` if it is not the one running.
    pub(super) fn check_exited(
        &mut self,
        pid: Pid,
        exit: Exit,
        now: Instant,
        wall: Tai64n,
    ) -> bool {
        let Some(running) = self.running.filter(|r| r.pid == pid) else {
            return false;
        };
        self.result(CheckEnd::Exit(exit), running.began, now, wall);
        true
    }

    /// A check that began at `began` ended with `end` at `now`.
    fn result(&mut self, end: CheckEnd, began: Instant, now: Instant, wall: Tai64n) {
        self.running = None;
        let Some(config) = self.config else { return };
        let state = self.file.map_or(HealthState::None, |f| f.state);
        let mut next = state;
        if end == CheckEnd::Exit(Exit::Code(0)) {
            self.streak = 0;
            next = HealthState::Healthy;
        } else if state == HealthState::Starting
            && self
                .run_began
                .is_some_and(|t| began < later(t, config.start_period))
        {
            // In the start period: a failure does not count.
        } else {
            self.streak = self.streak.saturating_add(1);
            if self.streak >= config.retries.max(1) {
                next = HealthState::Unhealthy;
            }
        }
        self.set(Some(Record {
            state: next,
            last: Some((end, wall)),
        }));
        if next == HealthState::Unhealthy {
            self.next = None;
            self.verdict = true;
        } else {
            self.next = Some(later(now, config.interval));
        }
    }

    /// The service is (`up_ready`) or is not up and ready at `now`: checks begin or end.
    fn follow(&mut self, up_ready: bool, now: Instant, fx: &mut impl Effects) {
        let Some(config) = self.config else { return };
        if up_ready && !self.active {
            self.active = true;
            self.streak = 0;
            self.verdict = false;
            self.next = Some(later(now, config.interval));
            self.set_state(HealthState::Starting);
        } else if !up_ready {
            self.ended(fx);
        }
    }

    /// The service is no longer up and ready (`./run` ended, readiness reset, paused): the
    /// checks stop and the file says `none`.
    pub(super) fn ended(&mut self, fx: &mut impl Effects) {
        if !std::mem::take(&mut self.active) {
            return;
        }
        self.next = None;
        self.verdict = false;
        if let Some(r) = self.running.take() {
            // Its answer would be about a run that is over.
            fx.kill_health(r.pid);
        }
        self.set_state(HealthState::None);
    }

    /// Kills a check at its timeout, starts the next when its time has come.
    fn run(&mut self, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        let Some(config) = self.config.filter(|_| self.active) else {
            return;
        };
        if let Some(r) = self.running.filter(|r| r.deadline <= now) {
            fx.kill_health(r.pid);
            self.result(CheckEnd::Timeout, r.began, now, wall);
        }
        if self.running.is_some() || self.next.is_none_or(|t| t > now) {
            return;
        }
        match fx.spawn_health() {
            Some(pid) => {
                self.next = None;
                self.running = Some(Running {
                    pid,
                    began: now,
                    deadline: later(now, config.timeout),
                });
            }
            // Not a verdict on the service: tried again an interval later (the shell has said
            // why, once per run).
            None => self.next = Some(later(now, config.interval)),
        }
    }

    /// When a check is to be killed or started next.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.running.map(|r| r.deadline).or(self.next)
    }

    /// Writes (or removes) the file if it changed; `false` if that failed, and it is still to
    /// be done.
    pub(super) fn publish(&mut self, fx: &mut impl Effects) -> bool {
        if self.dirty {
            self.dirty = !fx.publish_health(self.file.as_ref());
        }
        !self.dirty
    }
}

impl Svc {
    /// After each batch of events: health checks follow the service's readiness, run on their
    /// schedule, and an unhealthy service is restarted as `t` does (its end is a failed run).
    pub(super) fn tend_health(&mut self, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        let up_ready = self.state == State::Run
            && self.pid.is_some()
            && !self.paused
            && !self.removed
            && self.ready.is_ready();
        self.health.follow(up_ready, now, fx);
        self.health.run(now, wall, fx);
        if !self.removed && !self.health.publish(fx) {
            self.stale = true;
        }
        if std::mem::take(&mut self.health.verdict) {
            self.stop(fx);
            self.sick = true;
            // The stop's `timeout-kill` gets its deadline now, not at the next event.
            self.enforce(now, fx);
        }
    }
}
