//! One supervised process (`./run` or `log/run`) and runsv's rules for it: start, stop, the
//! control letters, the exit and `./finish`, the throttle, and the essential give-up rule. The
//! stop and restart policies (`policy.rs`) and `supervise/runs` apply to the main service only.

use std::time::Instant;

use herd_control::Control;
use herd_status::{Exit, Pid, Runs, State, Status, Want};
use herd_tai64n::Tai64n;
use herd_value::later;
use nix::sys::signal::Signal;

use super::health::Checks;
use super::policy::Memory;
use super::ready::Ready;
use super::{Effects, Prog, Which, STABLE, THROTTLE};

/// The give-up rule of an essential service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Essential {
    /// Failed runs in a row that stop the service (at least 1).
    pub(super) limit: u32,
    /// Failed runs in a row so far.
    pub(super) failures: u32,
    /// How the last `./run` ended, until the service is down (after `./finish`).
    pub(super) last_run: Option<Exit>,
}

#[derive(Debug, Clone)]
pub(super) struct Svc {
    pub(super) which: Which,
    pub(super) state: State,
    pub(super) pid: Option<Pid>,
    pub(super) want: Want,
    pub(super) paused: bool,
    pub(super) term: bool,
    pub(super) stamp: Tai64n,
    pub(super) started: Option<Instant>,
    /// No start before this instant (the throttle).
    pub(super) not_before: Option<Instant>,
    /// An `o` arrived while down: start once.
    pub(super) once: bool,
    /// `./run` was asked to stop (`t`, `d`, `x`, `k`): its end is not a failure.
    pub(super) asked: bool,
    /// Set for an essential main service.
    pub(super) essential: Option<Essential>,
    /// How `./run` ended, while `./finish` is due but could not be forked yet (state finish,
    /// no pid).
    pub(super) finish_due: Option<Exit>,
    /// The last status could not be written.
    pub(super) stale: bool,
    /// When the stale status is written again.
    pub(super) retry_at: Option<Instant>,
    /// The service directory is gone: nothing is written any more.
    pub(super) removed: bool,
    /// The main service's readiness (the log's stays untracked).
    pub(super) ready: Ready,
    /// The main service's health checks (the log has none).
    pub(super) health: Checks,
    /// `./run` was stopped for being unhealthy: its end is a failed run, however it exits.
    pub(super) sick: bool,
    /// The main service's stop and restart policies and what they remember.
    pub(super) mem: Memory,
    /// What `supervise/runs` says (main service only).
    pub(super) runs: Runs,
    /// `supervise/runs` is to be written with the next status.
    pub(super) runs_dirty: bool,
    /// The end of `./run` did not write `supervise/runs`: the start due at once writes it with
    /// its status, so that a restart writes it once. Whatever else comes first writes it
    /// ([`Svc::release_runs`]).
    pub(super) runs_held: bool,
}

impl Svc {
    pub(super) fn new(which: Which, stamp: Tai64n, down: bool) -> Self {
        Svc {
            which,
            state: State::Down,
            pid: None,
            want: if down { Want::Down } else { Want::Up },
            paused: false,
            term: false,
            stamp,
            started: None,
            not_before: None,
            once: false,
            asked: false,
            essential: None,
            finish_due: None,
            stale: false,
            retry_at: None,
            removed: false,
            ready: Ready::default(),
            health: Checks::default(),
            sick: false,
            mem: Memory::default(),
            runs: Runs {
                started: 0,
                last_exit: None,
                failed: false,
            },
            // A stale file of an earlier supervise is replaced at the first status.
            runs_dirty: which == Which::Main,
            runs_held: false,
        }
    }

    pub(super) fn status(&self) -> Status {
        Status {
            stamp: self.stamp,
            pid: self.pid,
            paused: self.paused,
            want: self.want,
            term: self.term,
            state: self.state,
        }
    }

    /// Writes `supervise/ready` and `supervise/health` if they changed, then the status, then
    /// `supervise/runs` if it changed.
    pub(super) fn publish(&mut self, fx: &mut impl Effects) {
        self.publish_with(true, fx);
    }

    /// [`Svc::publish`], leaving out `supervise/runs` unless `runs`.
    fn publish_with(&mut self, runs: bool, fx: &mut impl Effects) {
        if !self.removed {
            let ready = self.ready.publish(fx);
            let health = self.health.publish(fx);
            let status = fx.publish(self.which, &self.status());
            let runs = runs && self.runs_dirty;
            if runs {
                self.runs_held = false;
                if fx.publish_runs(&self.runs) {
                    self.runs_dirty = false;
                }
            }
            self.stale = !(status && ready && health) || (runs && self.runs_dirty);
        }
    }

    /// Writes the `supervise/runs` that the end of `./run` held for the start due then, which
    /// is not happening now (it waits for a dependency, its fork failed), unless a status
    /// written since has done so; a failure is retried with the status.
    pub(super) fn release_runs(&mut self, fx: &mut impl Effects) {
        if !std::mem::take(&mut self.runs_held) || !self.runs_dirty || self.removed {
            return;
        }
        if fx.publish_runs(&self.runs) {
            self.runs_dirty = false;
        } else {
            self.stale = true;
        }
    }

    /// Writes `supervise/ready` alone, after a change of readiness only; a failure is retried
    /// with the status.
    pub(super) fn publish_ready(&mut self, fx: &mut impl Effects) {
        if !self.removed && !self.ready.publish(fx) {
            self.stale = true;
        }
    }

    pub(super) fn is_main(&self) -> bool {
        self.which == Which::Main
    }

    /// What should be started (now or at `not_before`): `./finish` whose fork failed, or
    /// `./run` of a service wanted up (or once).
    pub(super) fn due(&self) -> Option<Prog> {
        if self.pid.is_some() {
            return None;
        }
        match self.state {
            State::Finish => self.finish_due.map(Prog::Finish),
            State::Down if self.want == Want::Up || self.once => Some(Prog::Run),
            _ => None,
        }
    }

    /// [`Svc::due`] if its time has come at `now`.
    pub(super) fn due_at(&self, now: Instant) -> Option<Prog> {
        self.due()
            .filter(|_| self.not_before.is_none_or(|t| t <= now))
    }

    pub(super) fn launch(&mut self, prog: Prog, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        match prog {
            Prog::Run => self.start(now, wall, fx),
            Prog::Finish(exit) => self.start_finish(exit, now, fx),
        }
    }

    pub(super) fn custom(&self, c: Control, fx: &mut impl Effects) -> bool {
        self.is_main() && fx.custom(c)
    }

    pub(super) fn start(&mut self, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        if self.is_main() {
            // runsv runs control/u before every start of ./run; its exit status is ignored.
            fx.custom(Control::Up);
            self.ready.prepare(fx.readiness_source());
            self.health.prepare(fx.health_config(), now);
            self.mem.policy = fx.policy();
        }
        self.once = false;
        self.not_before = None;
        match fx.spawn(self.which, Prog::Run) {
            Some(pid) => {
                self.pid = Some(pid);
                self.state = State::Run;
                self.started = Some(now);
                self.stamp = wall;
                self.paused = false;
                self.term = false;
                self.asked = false;
                self.sick = false;
                self.ready.started(pid, now, wall);
                if self.is_main() {
                    self.runs.started = self.runs.started.saturating_add(1);
                    self.runs_dirty = true;
                }
                self.publish(fx);
            }
            // fork failed: try again after the throttle.
            None => self.not_before = Some(later(now, THROTTLE)),
        }
    }

    /// runsv's "stop": control/t or the down signal (TERM without `down-signal`), then for want
    /// down/exit CONT and control/d or x. With `timeout-kill`, SIGKILL follows if need be.
    pub(super) fn stop(&mut self, fx: &mut impl Effects) {
        let Some(pid) = self.pid else { return };
        self.asked = true;
        // A control/t that handled the stop stands for the down signal: the kill still follows.
        self.mem.kill_armed = self.mem.policy.timeout_kill.is_some();
        if !self.custom(Control::Term, fx) {
            fx.signal(pid, self.mem.policy.down_signal);
            self.term = true;
            self.publish(fx);
        }
        let script = match self.want {
            Want::Up => return,
            Want::Down => Control::Down,
            Want::Exit => Control::Exit,
        };
        fx.signal(pid, Signal::SIGCONT);
        if self.is_main() {
            fx.custom(script);
        }
    }

    pub(super) fn control(&mut self, c: Control, fx: &mut impl Effects) {
        // An exit, once asked for, is final: `u`, `o` and `d` no longer change what is wanted.
        if self.want == Want::Exit && matches!(c, Control::Up | Control::Once | Control::Down) {
            return;
        }
        match c {
            Control::Up => {
                self.want = Want::Up;
                self.clear_failed();
                self.publish(fx);
            }
            Control::Once => {
                self.want = Want::Down;
                self.clear_failed();
                self.publish(fx);
                if self.state == State::Down {
                    self.once = true;
                }
            }
            Control::Down | Control::Exit => {
                if c == Control::Exit && !self.is_main() {
                    return;
                }
                self.want = if c == Control::Exit {
                    Want::Exit
                } else {
                    Want::Down
                };
                self.once = false;
                self.publish(fx);
                if self.state == State::Run {
                    self.stop(fx);
                }
            }
            Control::Term => {
                if self.state == State::Run {
                    self.stop(fx);
                }
            }
            Control::Kill => match (self.state, self.pid) {
                (State::Run, Some(pid)) => {
                    self.asked = true;
                    if !self.custom(c, fx) {
                        fx.signal(pid, Signal::SIGKILL);
                    }
                }
                // runsv ignores k during finish and then runs finish twice; we kill finish.
                (State::Finish, Some(pid)) => fx.signal(pid, Signal::SIGKILL),
                _ => {}
            },
            Control::Pause | Control::Cont => {
                self.forward(c, fx);
                self.paused = c == Control::Pause;
                self.publish(fx);
            }
            _ => self.forward(c, fx),
        }
    }

    /// `u` or `o`: supervise tries again, without the failures before.
    fn clear_failed(&mut self) {
        self.mem.forget();
        if self.runs.failed {
            self.runs.failed = false;
            self.runs_dirty = true;
        }
    }

    /// The `timeout-kill` and `timeout-finish` deadlines at `now`: a kill that was armed gets
    /// its deadline; one that is due is sent.
    pub(super) fn enforce(&mut self, now: Instant, fx: &mut impl Effects) {
        let m = &mut self.mem;
        if std::mem::take(&mut m.kill_armed) {
            m.kill_at = m.policy.timeout_kill.map(|d| later(now, d));
        }
        match (self.state, self.pid) {
            (State::Run, Some(pid)) if m.kill_at.is_some_and(|t| t <= now) => {
                m.kill_at = None;
                fx.kill_run(pid, m.policy.killpg);
            }
            (State::Finish, Some(pid)) if m.finish_kill_at.is_some_and(|t| t <= now) => {
                m.finish_kill_at = None;
                fx.kill_finish(pid);
            }
            _ => {}
        }
    }

    /// The nearest of the kill deadlines.
    pub(super) fn kill_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Run => self.mem.kill_at,
            State::Finish => self.mem.finish_kill_at,
            _ => None,
        }
    }

    /// Sends the letter's signal to `./run` if it runs and no control script handled it.
    pub(super) fn forward(&self, c: Control, fx: &mut impl Effects) {
        if let (State::Run, Some(pid), Some(sig)) = (self.state, self.pid, c.signal()) {
            if !self.custom(c, fx) {
                fx.signal(pid, sig);
            }
        }
    }

    /// Starts `./finish` after `./run` ended with `exit`. If the fork fails the service stays in
    /// state finish with no pid (as runsv's status shows it for a moment between the two) and
    /// the fork is tried again after [`THROTTLE`].
    pub(super) fn start_finish(&mut self, exit: Exit, now: Instant, fx: &mut impl Effects) {
        self.state = State::Finish;
        self.not_before = None;
        match fx.spawn(self.which, Prog::Finish(exit)) {
            Some(pid) => {
                self.finish_due = None;
                self.pid = Some(pid);
                self.paused = false;
                self.mem.finish_kill_at = self
                    .mem
                    .policy
                    .timeout_finish
                    .filter(|_| self.is_main())
                    .map(|d| later(now, d));
                self.publish(fx);
            }
            None => {
                let first = self.finish_due.replace(exit).is_none();
                self.not_before = Some(later(now, THROTTLE));
                if first {
                    self.publish(fx);
                }
            }
        }
    }

    /// The process went away: start finish, or go down (throttling the next start).
    pub(super) fn exited(&mut self, exit: Exit, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        self.pid = None;
        self.term = false;
        if self.state == State::Run {
            self.ready.ended(fx);
            self.health.ended(fx);
            self.count_run(exit, now);
            if self.is_main() && !self.removed && fx.has_finish() {
                self.start_finish(exit, now, fx);
                return;
            }
        }
        self.state = State::Down;
        self.stamp = wall;
        self.mem.finish_kill_at = None;
        self.not_before = match self.mem.restart_at(now) {
            Some(t) => Some(t),
            None => self
                .started
                .map(|s| later(s, THROTTLE))
                .filter(|t| *t > now),
        };
        let for_good = self.settle();
        // A restart due at once writes `supervise/runs` with its own status.
        self.runs_held = self.is_main() && self.due_at(now) == Some(Prog::Run);
        self.publish_with(!self.runs_held, fx);
        if let Some(exit) = for_good {
            fx.stopped_for_good(exit);
        }
    }

    /// An essential service's `./run` ended: a run that exited 0 or stayed up [`STABLE`] ends the
    /// streak; a failure (non-zero exit, or a signal) that was not asked for adds to it, and so
    /// does a run stopped for being unhealthy. The main service's run also counts in
    /// `supervise/runs` and the restart policy.
    pub(super) fn count_run(&mut self, exit: Exit, now: Instant) {
        let lived = self.started.map(|s| now.saturating_duration_since(s));
        let failed = self.sick || (exit != Exit::Code(0) && !self.asked);
        if self.is_main() {
            self.runs.last_exit = Some(exit);
            self.runs_dirty = true;
            self.mem.run_ended(failed, lived, now);
        }
        let Some(e) = &mut self.essential else { return };
        e.last_run = Some(exit);
        if exit == Exit::Code(0) || lived.is_some_and(|d| d >= STABLE) {
            e.failures = 0;
        }
        if failed {
            e.failures = e.failures.saturating_add(1);
        }
    }

    /// The service has just gone down after `./run` (and `./finish`): whether an essential
    /// service stopped for good, and with which exit of `./run`. Wanted down, it has; wanted up,
    /// it has after `limit` failures in a row, and is then wanted down (no more restarts).
    /// `restart-limit` reached gives up the same way (wanted down, `failed`), whether or not the
    /// service is essential.
    pub(super) fn settle(&mut self) -> Option<Exit> {
        let limit_hit = std::mem::take(&mut self.mem.limit_hit);
        if limit_hit && self.want == Want::Up {
            self.give_up();
            let e = self.essential.as_mut()?;
            e.failures = 0;
            return e.last_run.take();
        }
        let e = self.essential.as_mut()?;
        let exit = e.last_run.take()?;
        if self.want == Want::Up {
            if e.failures < e.limit {
                return None;
            }
            // A later `u` starts a fresh count.
            e.failures = 0;
            self.give_up();
        }
        Some(exit)
    }

    /// No more restarts: wanted down, and `failed` until `u` or `o`.
    fn give_up(&mut self) {
        self.want = Want::Down;
        self.not_before = None;
        self.runs.failed = true;
        self.runs_dirty = true;
    }
}
