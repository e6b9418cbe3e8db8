//! supervise's state machine: runsv's rules (docs/runit-compatibility.md#control, #runsv) with no
//! system calls.
//!
//! Events come in (a control byte, a child's exit, SIGTERM, the passing of time) together with
//! the time; effects go out through [`Effects`] (spawn, signal, run a control script, publish the
//! status). The shell (`shell/`) implements the effects; the tests (`tests/`) use a recorder.
//! Differences from runsv (docs/supervise.md, Notes): the 1-second restart throttle is a deadline
//! (the next start of a process comes no sooner than 1 s after its previous start), not a blocking
//! `sleep(1)`; `k` during `finish` kills finish instead of running it a second time; every byte
//! read is handled, none is dropped on exit.
//! herd only: an essential service (the `essential` file) stops for good after `limit` failed runs
//! in a row, and its stopping for good is reported through [`Effects::stopped_for_good`]
//! (docs/supervise.md, "Essential services"). Without `essential` nothing of that exists.
//! herd only: the main service's readiness (`notification-fd`, `check`, or up; `ready.rs`) is
//! published in `supervise/ready` before the status of the same change, and each start of
//! `./run` first waits for its dependencies ([`Effects::unmet_dependency`]; docs/readiness.md).
//! Without those files nothing of that exists, and not one runit byte changes.
//! herd only: an executable `health` is run while the main service is up and ready, and an
//! unhealthy service is restarted (`health.rs`; docs/policy.md, "Health").
//! herd and s6: the main service's stop and restart policies (`policy.rs`: `down-signal`,
//! `timeout-kill`, `timeout-finish`, `restart-backoff`, `restart-limit`; docs/policy.md) and
//! `supervise/runs`, written after the status at each start and end of `./run` (once for a
//! restart due at once, with its start) and when supervise gives up or tries again. Without the
//! policy files, runsv's behaviour is unchanged.
//! Faults (docs/reliability.md): a start whose fork failed, `./finish`'s included, is tried again
//! [`THROTTLE`] later (runsv blocks in `sleep(5)`); a status that could not be written is written
//! again every [`STATUS_RETRY`] until it is (runsv leaves it stale); a service directory found
//! removed (at a start, or after a failed status write) ends supervise as `x` does.

use std::time::{Duration, Instant};

use herd_control::Control;
use herd_status::{Exit, Pid, Readiness, Runs, State, Status, Want};
use herd_tai64n::Tai64n;
use herd_value::later;
use nix::sys::signal::Signal;

/// Minimum time between two starts of the same process; also the wait before a start whose
/// fork failed is tried again.
pub const THROTTLE: Duration = Duration::from_secs(1);
/// The wait before a status that could not be written (disk full, no descriptor left) is
/// written again.
pub const STATUS_RETRY: Duration = Duration::from_secs(1);
/// An essential service's run that stayed up this long ends a streak of failures.
pub const STABLE: Duration = Duration::from_secs(10);
/// Failed runs in a row after which an essential service stops, when `essential` gives no number.
pub const DEFAULT_FAILURE_LIMIT: u32 = 5;

/// The failure limit written in `essential`: its first line, a count (`herd_value::count`: 0 to
/// 2^32 - 1, more saturates), surrounding blanks allowed. Empty or not a number gives
/// [`DEFAULT_FAILURE_LIMIT`]; 0 means the same as 1 (the first failure stops the service).
pub fn failure_limit(contents: &[u8]) -> u32 {
    herd_value::count(herd_value::first_line(contents)).map_or(DEFAULT_FAILURE_LIMIT, |n| n.max(1))
}

/// Which of the two supervised processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Main,
    Log,
}

/// What to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prog {
    /// `./run` (or `log/run`).
    Run,
    /// `./finish` with how `./run` ended.
    Finish(Exit),
}

/// The side effects the machine asks for.
pub trait Effects {
    /// Starts a program; `None` if it could not be forked.
    fn spawn(&mut self, which: Which, prog: Prog) -> Option<Pid>;
    /// Sends `sig` to `pid` (never to a process group).
    fn signal(&mut self, pid: Pid, sig: Signal);
    /// Runs `control/<letter>` of the main service if it exists and is executable, and waits
    /// for it. `true` if it exited 0 ("handled").
    fn custom(&mut self, c: Control) -> bool;
    /// Whether `./finish` exists (can be opened).
    fn has_finish(&mut self) -> bool;
    /// Writes `pid`, `stat` and `status` of one service; `false` if that failed (the shell has
    /// said why).
    fn publish(&mut self, which: Which, status: &Status) -> bool;
    /// Whether the service directory has been removed (so `./run` and `supervise/` are gone for
    /// good). The shell says so the first time it answers `true`.
    fn removed(&mut self) -> bool;
    /// Closes supervise's two ends of the log pipe, so that the logger reads EOF (and tells
    /// svscan, if it passed a notice pipe, that the logger drains).
    fn close_log_pipe(&mut self);
    /// An essential service stopped for good; `exit` is how its last `./run` ended. Called after
    /// the status saying so has been published.
    fn stopped_for_good(&mut self, exit: Exit);
    /// Looks at the service directory just before a start of the main `./run`: how it will
    /// become ready. The shell prepares what the start needs (the notification pipe).
    fn readiness_source(&mut self) -> Source;
    /// Writes `supervise/ready` (`None`: removes it); `false` if that failed (the shell has said
    /// why).
    fn publish_ready(&mut self, ready: Option<&Readiness>) -> bool;
    /// The main `./run` ended: supervise's end of its notification pipe is closed.
    fn close_notification(&mut self);
    /// Starts `./check` without waiting for it; `None` if it could not be started (the shell
    /// says why, once per start of `./run`).
    fn spawn_check(&mut self) -> Option<Pid>;
    /// Kills a `./check` still running (and what it started) when `./run` has ended.
    fn kill_check(&mut self, pid: Pid);
    /// The first dependency of the main service (`dependencies.d/`) that is not up and ready,
    /// cycles aside; `None` when `./run` may start. While it answers `Some`, the shell watches
    /// that dependency, so that a change of it wakes the loop.
    fn unmet_dependency(&mut self) -> Option<Unmet>;
    /// The main service waits for `unmet`: the first time, or for another dependency than
    /// before.
    fn say_waiting(&mut self, unmet: &Unmet);
    /// The wait for dependencies is over: nothing is watched any more.
    fn end_wait(&mut self);
    /// Looks at the service directory just before a start of the main `./run`: its health
    /// options, or `None` without an executable `health`.
    fn health_config(&mut self) -> Option<HealthConfig>;
    /// Starts `./health` without waiting for it; `None` if it could not be started (the shell
    /// says why, once per start of `./run`).
    fn spawn_health(&mut self) -> Option<Pid>;
    /// Kills a `./health` (and what it started): at its timeout, or when `./run` is no longer
    /// up and ready.
    fn kill_health(&mut self, pid: Pid);
    /// Writes `supervise/health` (`None`: removes it); `false` if that failed (the shell has
    /// said why).
    fn publish_health(&mut self, health: Option<&herd_status::Health>) -> bool;
    /// Reads the policy files of the main service, just before a start of its `./run`.
    fn policy(&mut self) -> Policy;
    /// Writes `supervise/runs`; `false` if that failed (the shell has said why).
    fn publish_runs(&mut self, runs: &Runs) -> bool;
    /// `timeout-kill` has passed: SIGKILL to `./run` (to its process group with `group`).
    fn kill_run(&mut self, pid: Pid, group: bool);
    /// `timeout-finish` has passed: SIGKILL to `./finish`, with a warning.
    fn kill_finish(&mut self, pid: Pid);
}

mod health;
mod policy;
mod ready;
mod svc;

pub use health::HealthConfig;
pub use policy::{parse_backoff, parse_down_signal, parse_limit, parse_timeout, Policy};
#[cfg(test)]
use policy::{Backoff, Limit, BACKOFF_RESET, LIMIT_MAX_COUNT};
pub use ready::{Source, Unmet};
use svc::{Essential, Svc};

/// Both services of one service directory.
#[derive(Debug)]
pub struct Machine {
    main: Svc,
    log: Option<Svc>,
    /// The log pipe was closed on the way out; nothing is started any more.
    closing: bool,
    done: bool,
}

impl Machine {
    /// A machine at supervise startup: everything down, want up unless the `down` file exists.
    /// `log` is `Some(log_down)` when there is a log service.
    pub fn new(wall: Tai64n, main_down: bool, log: Option<bool>) -> Self {
        Machine {
            main: Svc::new(Which::Main, wall, main_down),
            log: log.map(|down| Svc::new(Which::Log, wall, down)),
            closing: false,
            done: false,
        }
    }

    /// Makes the main service essential: it stops for good after `limit` failed runs in a row
    /// (see [`failure_limit`]), and each stop for good is reported.
    pub fn with_essential(mut self, limit: u32) -> Self {
        self.main.essential = Some(Essential {
            limit: limit.max(1),
            failures: 0,
            last_run: None,
        });
        self
    }

    /// Keeps `supervise/ready` from the start (it says `down`), or removes a stale one: the
    /// shell's look at the directory at startup. Written with the first status.
    pub fn with_ready_file(mut self, kept: bool) -> Self {
        self.main.ready.track(kept);
        self
    }

    /// Keeps `supervise/health` from the start (it says `none`), or removes a stale one: whether
    /// the service directory has an executable `health`. Written with the first status.
    pub fn with_health_file(mut self, kept: bool) -> Self {
        self.main.health.track(kept);
        self
    }

    /// What `supervise/health` says, if it is kept.
    #[cfg(test)]
    pub fn health(&self) -> Option<&herd_status::Health> {
        self.main.health.file()
    }

    /// What `supervise/ready` says, if it is kept.
    #[cfg(test)]
    pub fn readiness(&self) -> Option<&Readiness> {
        self.main.ready.file()
    }

    /// The main `./run` wrote the newline of its readiness notification.
    pub fn notified(&mut self, wall: Tai64n, fx: &mut impl Effects) {
        let svc = &mut self.main;
        if let (State::Run, Some(pid)) = (svc.state, svc.pid) {
            if svc.ready.notified(pid, wall) {
                svc.publish_ready(fx);
            }
        }
    }

    /// The status of one service as it would be published.
    #[cfg(test)]
    pub fn status(&self, which: Which) -> Option<Status> {
        self.svc(which).map(Svc::status)
    }

    /// Publishes the status of one service (the first write at startup); a failure is retried
    /// as any other.
    pub fn publish(&mut self, which: Which, fx: &mut impl Effects) {
        if let Some(svc) = self.svc_mut(which) {
            svc.publish(fx);
        }
    }

    fn svc(&self, which: Which) -> Option<&Svc> {
        match which {
            Which::Main => Some(&self.main),
            Which::Log => self.log.as_ref(),
        }
    }

    fn svc_mut(&mut self, which: Which) -> Option<&mut Svc> {
        match which {
            Which::Main => Some(&mut self.main),
            Which::Log => self.log.as_mut(),
        }
    }

    /// One letter read from a control FIFO (the shell drops bytes that are not letters).
    pub fn control(&mut self, which: Which, c: Control, fx: &mut impl Effects) {
        if self.closing {
            return;
        }
        if let Some(svc) = self.svc_mut(which) {
            svc.control(c, fx);
        }
    }

    /// SIGTERM to supervise: the same as `x`.
    pub fn terminate(&mut self, fx: &mut impl Effects) {
        self.control(Which::Main, Control::Exit, fx);
    }

    /// A child was reaped. Children that are neither service are ignored (control scripts are
    /// waited for where they run).
    pub fn child_exited(
        &mut self,
        pid: Pid,
        exit: Exit,
        now: Instant,
        wall: Tai64n,
        fx: &mut impl Effects,
    ) {
        let main = &mut self.main;
        if main.health.check_exited(pid, exit, now, wall) {
            return;
        }
        if main.ready.is_check(pid) {
            if let (State::Run, Some(run)) = (main.state, main.pid) {
                if main.ready.check_exited(exit, run, now, wall) {
                    main.publish_ready(fx);
                }
            }
            return;
        }
        for which in [Which::Main, Which::Log] {
            if let Some(svc) = self.svc_mut(which).filter(|s| s.pid == Some(pid)) {
                svc.exited(exit, now, wall, fx);
                return;
            }
        }
    }

    /// After each batch of events: start what should run (the log first) and `./check` when its
    /// time has come, write again a status that could not be written, and handle the exit.
    pub fn tick(&mut self, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        // Even on the way out: a service that ignores its down signal still gets its SIGKILL.
        self.main.enforce(now, fx);
        if !self.closing && !self.main.removed {
            for which in [Which::Log, Which::Main] {
                let Some(prog) = self.svc(which).and_then(|s| s.due_at(now)) else {
                    continue;
                };
                if fx.removed() {
                    self.leave(fx);
                    break;
                }
                if which == Which::Main && prog == Prog::Run && self.main_waits(now, fx) {
                    continue;
                }
                if let Some(svc) = self.svc_mut(which) {
                    svc.launch(prog, now, wall, fx);
                }
            }
            // Not started after all (its fork failed, say): `supervise/runs` is written now.
            self.main.release_runs(fx);
            if !self.main.removed {
                // `d`, `x` or SIGTERM while waiting: no start is wanted any more.
                if self.main.ready.waiting() && self.main.due().is_none() {
                    self.main.ready.end_wait(fx);
                    self.main.publish_ready(fx);
                }
                self.main.ready.run_check(now, fx);
            }
        }
        self.main.tend_health(now, wall, fx);
        self.retry_status(now, fx);
        if self.main.want != Want::Exit || self.main.state != State::Down {
            return;
        }
        match &mut self.log {
            Some(log) if log.pid.is_some() => {
                if !self.closing {
                    // The logger is stopped after the service, by EOF rather than a signal.
                    self.closing = true;
                    log.want = Want::Exit;
                    log.publish(fx);
                    fx.close_log_pipe();
                }
            }
            _ => self.done = true,
        }
    }

    /// The start of the main `./run` is due: whether it waits for a dependency (every start
    /// does, restarts too), publishing what it waits for.
    fn main_waits(&mut self, now: Instant, fx: &mut impl Effects) -> bool {
        let main = &mut self.main;
        // The throttle has passed: from here on only the dependencies hold the start.
        main.not_before = None;
        match fx.unmet_dependency() {
            Some(unmet) => {
                // Written before the wait is, as it was at the end of `./run`.
                main.release_runs(fx);
                if main.ready.wait(&unmet, now, fx) {
                    main.publish_ready(fx);
                }
                true
            }
            None => {
                main.ready.end_wait(fx);
                false
            }
        }
    }

    /// A status that could not be written is written again once [`STATUS_RETRY`] has passed;
    /// each time it fails (the first time included), supervise first looks whether its
    /// directory is still there.
    fn retry_status(&mut self, now: Instant, fx: &mut impl Effects) {
        for which in [Which::Main, Which::Log] {
            let Some(svc) = self.svc_mut(which) else {
                continue;
            };
            if !svc.stale {
                svc.retry_at = None;
                continue;
            }
            match svc.retry_at {
                Some(t) if t > now => continue,
                Some(_) => {
                    svc.retry_at = None;
                    svc.publish(fx);
                    if !svc.stale {
                        continue;
                    }
                }
                None => {}
            }
            if fx.removed() {
                self.leave(fx);
                return;
            }
            if let Some(svc) = self.svc_mut(which) {
                svc.retry_at = Some(later(now, STATUS_RETRY));
            }
        }
    }

    /// The service directory was removed: nothing can be started or written any more, so
    /// supervise stops as on `x` (the service, then the logger by EOF) and exits.
    fn leave(&mut self, fx: &mut impl Effects) {
        for svc in [Some(&mut self.main), self.log.as_mut()]
            .into_iter()
            .flatten()
        {
            svc.removed = true;
            svc.stale = false;
            svc.retry_at = None;
            if svc.finish_due.take().is_some() {
                svc.state = State::Down;
            }
        }
        self.main.control(Control::Exit, fx);
    }

    /// The next instant at which [`Machine::tick`] has something to do, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        let svcs = || [Some(&self.main), self.log.as_ref()].into_iter().flatten();
        let retry = svcs().filter_map(|s| s.retry_at);
        let kill = self.main.kill_deadline();
        if self.closing || self.main.removed {
            return retry.chain(kill).min();
        }
        svcs()
            .filter(|s| s.due().is_some())
            .filter_map(|s| s.not_before)
            .chain(retry)
            .chain(self.main.ready.next_check())
            .chain(self.main.ready.deps_retry())
            .chain(self.main.health.next_deadline())
            .chain(kill)
            .min()
    }

    /// supervise should exit 0.
    pub fn done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests;
