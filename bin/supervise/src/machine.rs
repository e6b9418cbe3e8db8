//! supervise's state machine: runsv's rules (runit.md §3, §4) with no system calls.
//!
//! Events come in (a control byte, a child's exit, SIGTERM, the passing of time) together with
//! the time; effects go out through [`Effects`] (spawn, signal, run a control script, publish the
//! status). The shell in `shell.rs` implements the effects; the tests below use a recorder.
//! Differences from runsv (docs/supervise.md, Notes): the 1-second restart throttle is a deadline
//! (the next start of a process comes no sooner than 1 s after its previous start), not a blocking
//! `sleep(1)`; `k` during `finish` kills finish instead of running it a second time; every byte
//! read is handled, none is dropped on exit.
//! herd only: an essential service (the `essential` file) stops for good after `limit` failed runs
//! in a row, and its stopping for good is reported through [`Effects::stopped_for_good`]
//! (docs/supervise.md, "Essential services"). Without `essential` nothing of that exists.
//! Faults (docs/reliability.md): a start whose fork failed, `./finish`'s included, is tried again
//! [`THROTTLE`] later (runsv blocks in `sleep(5)`); a status that could not be written is written
//! again every [`STATUS_RETRY`] until it is (runsv leaves it stale); a service directory found
//! removed (at a start, or after a failed status write) ends supervise as `x` does.

use std::time::{Duration, Instant};

use herd_control::Control;
use herd_status::{Exit, Pid, State, Status, Want};
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
    /// Closes supervise's two ends of the log pipe, so that the logger reads EOF.
    fn close_log_pipe(&mut self);
    /// An essential service stopped for good; `exit` is how its last `./run` ended. Called after
    /// the status saying so has been published.
    fn stopped_for_good(&mut self, exit: Exit);
}

/// The give-up rule of an essential service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Essential {
    /// Failed runs in a row that stop the service (at least 1).
    limit: u32,
    /// Failed runs in a row so far.
    failures: u32,
    /// How the last `./run` ended, until the service is down (after `./finish`).
    last_run: Option<Exit>,
}

#[derive(Debug, Clone)]
struct Svc {
    which: Which,
    state: State,
    pid: Option<Pid>,
    want: Want,
    paused: bool,
    term: bool,
    stamp: Tai64n,
    started: Option<Instant>,
    /// No start before this instant (the throttle).
    not_before: Option<Instant>,
    /// An `o` arrived while down: start once.
    once: bool,
    /// `./run` was asked to stop (`t`, `d`, `x`, `k`): its end is not a failure.
    asked: bool,
    /// Set for an essential main service.
    essential: Option<Essential>,
    /// How `./run` ended, while `./finish` is due but could not be forked yet (state finish,
    /// no pid).
    finish_due: Option<Exit>,
    /// The last status could not be written.
    stale: bool,
    /// When the stale status is written again.
    retry_at: Option<Instant>,
    /// The service directory is gone: nothing is written any more.
    removed: bool,
}

impl Svc {
    fn new(which: Which, stamp: Tai64n, down: bool) -> Self {
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
        }
    }

    fn status(&self) -> Status {
        Status {
            stamp: self.stamp,
            pid: self.pid,
            paused: self.paused,
            want: self.want,
            term: self.term,
            state: self.state,
        }
    }

    fn publish(&mut self, fx: &mut impl Effects) {
        if !self.removed {
            self.stale = !fx.publish(self.which, &self.status());
        }
    }

    fn is_main(&self) -> bool {
        self.which == Which::Main
    }

    /// What should be started (now or at `not_before`): `./finish` whose fork failed, or
    /// `./run` of a service wanted up (or once).
    fn due(&self) -> Option<Prog> {
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
    fn due_at(&self, now: Instant) -> Option<Prog> {
        self.due()
            .filter(|_| self.not_before.is_none_or(|t| t <= now))
    }

    fn launch(&mut self, prog: Prog, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        match prog {
            Prog::Run => self.start(now, wall, fx),
            Prog::Finish(exit) => self.start_finish(exit, now, fx),
        }
    }

    fn custom(&self, c: Control, fx: &mut impl Effects) -> bool {
        self.is_main() && fx.custom(c)
    }

    fn start(&mut self, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        if self.is_main() {
            // runsv runs control/u before every start of ./run; its exit status is ignored.
            fx.custom(Control::Up);
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
                self.publish(fx);
            }
            // fork failed: try again after the throttle.
            None => self.not_before = Some(later(now, THROTTLE)),
        }
    }

    /// runsv's "stop": control/t or TERM, then for want down/exit CONT and control/d or x.
    fn stop(&mut self, fx: &mut impl Effects) {
        let Some(pid) = self.pid else { return };
        self.asked = true;
        if !self.custom(Control::Term, fx) {
            fx.signal(pid, Signal::SIGTERM);
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

    fn control(&mut self, c: Control, fx: &mut impl Effects) {
        // An exit, once asked for, is final: `u`, `o` and `d` no longer change what is wanted.
        if self.want == Want::Exit && matches!(c, Control::Up | Control::Once | Control::Down) {
            return;
        }
        match c {
            Control::Up => {
                self.want = Want::Up;
                self.publish(fx);
            }
            Control::Once => {
                self.want = Want::Down;
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

    /// Sends the letter's signal to `./run` if it runs and no control script handled it.
    fn forward(&self, c: Control, fx: &mut impl Effects) {
        if let (State::Run, Some(pid), Some(sig)) = (self.state, self.pid, c.signal()) {
            if !self.custom(c, fx) {
                fx.signal(pid, sig);
            }
        }
    }

    /// Starts `./finish` after `./run` ended with `exit`. If the fork fails the service stays in
    /// state finish with no pid (as runsv's status shows it for a moment between the two) and
    /// the fork is tried again after [`THROTTLE`].
    fn start_finish(&mut self, exit: Exit, now: Instant, fx: &mut impl Effects) {
        self.state = State::Finish;
        self.not_before = None;
        match fx.spawn(self.which, Prog::Finish(exit)) {
            Some(pid) => {
                self.finish_due = None;
                self.pid = Some(pid);
                self.paused = false;
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
    fn exited(&mut self, exit: Exit, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        self.pid = None;
        self.term = false;
        if self.state == State::Run {
            self.count_run(exit, now);
            if self.is_main() && !self.removed && fx.has_finish() {
                self.start_finish(exit, now, fx);
                return;
            }
        }
        self.state = State::Down;
        self.stamp = wall;
        self.not_before = self
            .started
            .map(|s| later(s, THROTTLE))
            .filter(|t| *t > now);
        let for_good = self.settle();
        self.publish(fx);
        if let Some(exit) = for_good {
            fx.stopped_for_good(exit);
        }
    }

    /// An essential service's `./run` ended: a run that exited 0 or stayed up [`STABLE`] ends the
    /// streak; a failure (non-zero exit, or a signal) that was not asked for adds to it.
    fn count_run(&mut self, exit: Exit, now: Instant) {
        let lived = self.started.map(|s| now.saturating_duration_since(s));
        let asked = self.asked;
        let Some(e) = &mut self.essential else { return };
        e.last_run = Some(exit);
        if exit == Exit::Code(0) || lived.is_some_and(|d| d >= STABLE) {
            e.failures = 0;
        }
        if exit != Exit::Code(0) && !asked {
            e.failures = e.failures.saturating_add(1);
        }
    }

    /// The service has just gone down after `./run` (and `./finish`): whether an essential
    /// service stopped for good, and with which exit of `./run`. Wanted down, it has; wanted up,
    /// it has after `limit` failures in a row, and is then wanted down (no more restarts).
    fn settle(&mut self) -> Option<Exit> {
        let e = self.essential.as_mut()?;
        let exit = e.last_run.take()?;
        if self.want == Want::Up {
            if e.failures < e.limit {
                return None;
            }
            // A later `u` starts a fresh count.
            e.failures = 0;
            self.want = Want::Down;
        }
        Some(exit)
    }
}

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
        for which in [Which::Main, Which::Log] {
            if let Some(svc) = self.svc_mut(which).filter(|s| s.pid == Some(pid)) {
                svc.exited(exit, now, wall, fx);
                return;
            }
        }
    }

    /// After each batch of events: start what should run (the log first), write again a status
    /// that could not be written, and handle the exit.
    pub fn tick(&mut self, now: Instant, wall: Tai64n, fx: &mut impl Effects) {
        if !self.closing && !self.main.removed {
            for which in [Which::Log, Which::Main] {
                let Some(prog) = self.svc(which).and_then(|s| s.due_at(now)) else {
                    continue;
                };
                if fx.removed() {
                    self.leave(fx);
                    break;
                }
                if let Some(svc) = self.svc_mut(which) {
                    svc.launch(prog, now, wall, fx);
                }
            }
        }
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
        if self.closing || self.main.removed {
            return retry.min();
        }
        svcs()
            .filter(|s| s.due().is_some())
            .filter_map(|s| s.not_before)
            .chain(retry)
            .min()
    }

    /// supervise should exit 0.
    pub fn done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[derive(Debug, PartialEq, Eq, Clone)]
    enum Fx {
        Spawn(Which, Prog, u32),
        /// A spawn whose fork failed.
        ForkFailed(Which, Prog),
        /// A status write that failed.
        PublishFailed(Which, String),
        /// `removed` answered `true`.
        Removed,
        Signal(u32, Signal),
        Custom(Control),
        Publish(Which, String),
        ClosePipe,
        /// `stopped_for_good`, with the code the shell reports.
        Stopped(i32),
    }

    #[derive(Default)]
    struct Rec {
        log: Vec<Fx>,
        next_pid: u32,
        finish: bool,
        handled: Vec<Control>,
        scripts: bool,
        /// Forks fail.
        no_fork: bool,
        /// Status writes fail.
        no_write: bool,
        /// The service directory is gone.
        gone: bool,
    }

    impl Effects for Rec {
        fn spawn(&mut self, which: Which, prog: Prog) -> Option<Pid> {
            if self.no_fork {
                self.log.push(Fx::ForkFailed(which, prog));
                return None;
            }
            self.next_pid += 1;
            self.log.push(Fx::Spawn(which, prog, self.next_pid + 99));
            NonZeroU32::new(self.next_pid + 99)
        }
        fn signal(&mut self, pid: Pid, sig: Signal) {
            self.log.push(Fx::Signal(pid.get(), sig));
        }
        fn custom(&mut self, c: Control) -> bool {
            if self.scripts {
                self.log.push(Fx::Custom(c));
            }
            self.handled.contains(&c)
        }
        fn has_finish(&mut self) -> bool {
            self.finish
        }
        fn publish(&mut self, which: Which, status: &Status) -> bool {
            let s = String::from_utf8_lossy(status.stat_text().as_bytes())
                .trim_end()
                .to_string();
            if self.no_write {
                self.log.push(Fx::PublishFailed(which, s));
                return false;
            }
            self.log.push(Fx::Publish(which, s));
            true
        }
        fn removed(&mut self) -> bool {
            if self.gone {
                self.log.push(Fx::Removed);
            }
            self.gone
        }
        fn close_log_pipe(&mut self) {
            self.log.push(Fx::ClosePipe);
        }
        fn stopped_for_good(&mut self, exit: Exit) {
            self.log.push(Fx::Stopped(exit.shell_code()));
        }
    }

    fn pid(n: u32) -> Pid {
        NonZeroU32::new(n).expect("nonzero")
    }

    fn wall() -> Tai64n {
        Tai64n::from_unix(1_800_000_000, 500)
    }

    fn started(log: Option<bool>) -> (Machine, Rec, Instant) {
        let t0 = Instant::now();
        let mut m = Machine::new(wall(), false, log);
        let mut fx = Rec::default();
        m.tick(t0, wall(), &mut fx);
        fx.log.clear();
        (m, fx, t0)
    }

    #[test]
    fn starts_log_first_then_run() {
        let t0 = Instant::now();
        let mut m = Machine::new(wall(), false, Some(false));
        let mut fx = Rec::default();
        m.tick(t0, wall(), &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Spawn(Which::Log, Prog::Run, 100),
                Fx::Publish(Which::Log, "run".into()),
                Fx::Spawn(Which::Main, Prog::Run, 101),
                Fx::Publish(Which::Main, "run".into()),
            ]
        );
        assert_eq!(m.next_deadline(), None);
    }

    #[test]
    fn down_file_means_no_start() {
        let mut m = Machine::new(wall(), true, None);
        let mut fx = Rec::default();
        m.tick(Instant::now(), wall(), &mut fx);
        assert!(fx.log.is_empty());
        assert_eq!(m.status(Which::Main).map(|s| s.want), Some(Want::Down));
    }

    #[test]
    fn quick_exit_is_throttled_by_a_deadline() {
        let (mut m, mut fx, t0) = started(None);
        let t1 = t0 + Duration::from_millis(10);
        m.child_exited(pid(100), Exit::Code(3), t1, wall(), &mut fx);
        m.tick(t1, wall(), &mut fx);
        assert_eq!(fx.log, vec![Fx::Publish(Which::Main, "down".into())]);
        assert_eq!(m.next_deadline(), Some(t0 + THROTTLE));
        fx.log.clear();
        // A control byte during the pause is handled at once.
        m.control(Which::Main, Control::Pause, &mut fx);
        assert_eq!(
            fx.log,
            vec![Fx::Publish(Which::Main, "down, paused".into())]
        );
        fx.log.clear();
        m.tick(t0 + THROTTLE, wall(), &mut fx);
        assert_eq!(fx.log[0], Fx::Spawn(Which::Main, Prog::Run, 101));
        assert_eq!(m.status(Which::Main).map(|s| s.paused), Some(false));
        assert_eq!(m.next_deadline(), None);
    }

    #[test]
    fn long_run_restarts_at_once() {
        let (mut m, mut fx, t0) = started(None);
        let t1 = t0 + Duration::from_secs(2);
        m.child_exited(pid(100), Exit::Code(0), t1, wall(), &mut fx);
        m.tick(t1, wall(), &mut fx);
        assert!(fx.log.contains(&Fx::Spawn(Which::Main, Prog::Run, 101)));
    }

    #[test]
    fn down_during_throttle_cancels_the_start() {
        let (mut m, mut fx, t0) = started(None);
        m.child_exited(pid(100), Exit::Code(1), t0, wall(), &mut fx);
        m.control(Which::Main, Control::Down, &mut fx);
        assert_eq!(m.next_deadline(), None);
        fx.log.clear();
        m.tick(t0 + THROTTLE, wall(), &mut fx);
        assert!(fx.log.is_empty());
    }

    #[test]
    fn finish_gets_runs_exit() {
        let (mut m, mut fx, t0) = started(None);
        fx.finish = true;
        let sig = Exit::Signal {
            signo: 9,
            core: false,
        };
        m.child_exited(pid(100), sig, t0, wall(), &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Spawn(Which::Main, Prog::Finish(sig), 101),
                Fx::Publish(Which::Main, "finish".into())
            ]
        );
        fx.log.clear();
        // finish's own exit brings the service down; finish is not run again.
        m.child_exited(pid(101), Exit::Code(0), t0, wall(), &mut fx);
        assert_eq!(fx.log, vec![Fx::Publish(Which::Main, "down".into())]);
    }

    #[test]
    fn kill_during_finish_kills_finish_once() {
        let (mut m, mut fx, t0) = started(None);
        fx.finish = true;
        m.child_exited(pid(100), Exit::Code(0), t0, wall(), &mut fx);
        fx.log.clear();
        m.control(Which::Main, Control::Kill, &mut fx);
        assert_eq!(fx.log, vec![Fx::Signal(101, Signal::SIGKILL)]);
        fx.log.clear();
        m.child_exited(
            pid(101),
            Exit::Signal {
                signo: 9,
                core: false,
            },
            t0,
            wall(),
            &mut fx,
        );
        assert_eq!(fx.log, vec![Fx::Publish(Which::Main, "down".into())]);
    }

    #[test]
    fn down_sends_term_then_cont() {
        let (mut m, mut fx, _) = started(None);
        m.control(Which::Main, Control::Down, &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Publish(Which::Main, "run, want down".into()),
                Fx::Signal(100, Signal::SIGTERM),
                Fx::Publish(Which::Main, "run, got TERM, want down".into()),
                Fx::Signal(100, Signal::SIGCONT),
            ]
        );
    }

    #[test]
    fn term_with_want_up_sends_no_cont() {
        let (mut m, mut fx, _) = started(None);
        m.control(Which::Main, Control::Term, &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Signal(100, Signal::SIGTERM),
                Fx::Publish(Which::Main, "run, got TERM".into())
            ]
        );
    }

    #[test]
    fn custom_scripts_order() {
        let (mut m, mut fx, t0) = started(None);
        fx.scripts = true;
        fx.handled = vec![Control::Hup];
        m.control(Which::Main, Control::Hup, &mut fx);
        assert_eq!(fx.log, vec![Fx::Custom(Control::Hup)]);
        fx.log.clear();
        m.control(Which::Main, Control::Down, &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Publish(Which::Main, "run, want down".into()),
                Fx::Custom(Control::Term),
                Fx::Signal(100, Signal::SIGTERM),
                Fx::Publish(Which::Main, "run, got TERM, want down".into()),
                Fx::Signal(100, Signal::SIGCONT),
                Fx::Custom(Control::Down),
            ]
        );
        fx.log.clear();
        m.child_exited(pid(100), Exit::Code(0), t0 + THROTTLE, wall(), &mut fx);
        m.control(Which::Main, Control::Once, &mut fx);
        m.tick(t0 + THROTTLE, wall(), &mut fx);
        assert_eq!(fx.log[2], Fx::Custom(Control::Up));
        assert_eq!(fx.log[3], Fx::Spawn(Which::Main, Prog::Run, 101));
    }

    #[test]
    fn log_letters_run_no_scripts_and_ignore_exit() {
        let (mut m, mut fx, _) = started(Some(false));
        fx.scripts = true;
        m.control(Which::Log, Control::Exit, &mut fx);
        m.control(Which::Log, Control::Hup, &mut fx);
        assert_eq!(fx.log, vec![Fx::Signal(100, Signal::SIGHUP)]);
    }

    #[test]
    fn unknown_bytes_change_nothing() {
        let (mut m, mut fx, _) = started(None);
        // The shell passes on only the bytes that are letters.
        for c in b"zZ\n?!".iter().filter_map(|&b| Control::from_byte(b)) {
            m.control(Which::Main, c, &mut fx);
        }
        assert!(fx.log.is_empty());
    }

    #[test]
    fn pause_while_down_is_recorded() {
        let mut m = Machine::new(wall(), true, None);
        let mut fx = Rec::default();
        m.control(Which::Main, Control::Pause, &mut fx);
        assert_eq!(
            fx.log,
            vec![Fx::Publish(Which::Main, "down, paused".into())]
        );
    }

    #[test]
    fn once_runs_one_time() {
        let mut m = Machine::new(wall(), true, None);
        let mut fx = Rec::default();
        let t0 = Instant::now();
        m.control(Which::Main, Control::Once, &mut fx);
        m.tick(t0, wall(), &mut fx);
        assert!(fx.log.contains(&Fx::Spawn(Which::Main, Prog::Run, 100)));
        let t1 = t0 + Duration::from_secs(5);
        m.child_exited(pid(100), Exit::Code(0), t1, wall(), &mut fx);
        fx.log.clear();
        m.tick(t1, wall(), &mut fx);
        assert!(fx.log.is_empty());
    }

    #[test]
    fn exit_stops_service_then_closes_log_pipe() {
        let (mut m, mut fx, t0) = started(Some(false));
        m.terminate(&mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Publish(Which::Main, "run, want exit".into()),
                Fx::Signal(101, Signal::SIGTERM),
                Fx::Publish(Which::Main, "run, got TERM, want exit".into()),
                Fx::Signal(101, Signal::SIGCONT),
            ]
        );
        fx.log.clear();
        let t1 = t0 + Duration::from_millis(5);
        m.child_exited(
            pid(101),
            Exit::Signal {
                signo: 15,
                core: false,
            },
            t1,
            wall(),
            &mut fx,
        );
        m.tick(t1, wall(), &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Publish(Which::Main, "down".into()),
                Fx::Publish(Which::Log, "run, want exit".into()),
                Fx::ClosePipe,
            ]
        );
        assert!(!m.done());
        assert_eq!(m.next_deadline(), None);
        m.child_exited(pid(100), Exit::Code(0), t1, wall(), &mut fx);
        m.tick(t1, wall(), &mut fx);
        assert!(m.done());
    }

    #[test]
    fn exit_is_final() {
        let (mut m, mut fx, t0) = started(None);
        for c in [Control::Exit, Control::Up] {
            m.control(Which::Main, c, &mut fx);
        }
        m.child_exited(
            pid(100),
            Exit::Signal {
                signo: 15,
                core: false,
            },
            t0,
            wall(),
            &mut fx,
        );
        fx.log.clear();
        m.tick(t0 + THROTTLE, wall(), &mut fx);
        assert!(fx.log.is_empty(), "{:?}", fx.log);
        assert!(m.done());
    }

    #[test]
    fn exit_without_log_is_immediate_when_down() {
        let mut m = Machine::new(wall(), true, None);
        let mut fx = Rec::default();
        m.terminate(&mut fx);
        m.tick(Instant::now(), wall(), &mut fx);
        assert!(m.done());
    }

    #[test]
    fn term_ignoring_service_keeps_supervise_waiting() {
        let (mut m, mut fx, t0) = started(None);
        m.terminate(&mut fx);
        m.tick(t0, wall(), &mut fx);
        assert!(!m.done());
        assert_eq!(
            m.status(Which::Main)
                .map(|s| String::from_utf8_lossy(s.stat_text().as_bytes()).into_owned()),
            Some("run, got TERM, want exit\n".into())
        );
    }

    // -----------------------------------------------------------------------------------------
    // Faults

    #[test]
    fn failed_fork_is_tried_again_after_the_throttle_and_only_then() {
        let t0 = Instant::now();
        let mut m = Machine::new(wall(), false, None);
        let mut fx = Rec {
            no_fork: true,
            ..Rec::default()
        };
        m.tick(t0, wall(), &mut fx);
        assert_eq!(fx.log, vec![Fx::ForkFailed(Which::Main, Prog::Run)]);
        assert_eq!(m.next_deadline(), Some(t0 + THROTTLE));
        fx.log.clear();
        // Early wakeups (a signal, a letter) do not try again.
        m.tick(t0 + THROTTLE - Duration::from_millis(1), wall(), &mut fx);
        assert_eq!(fx.log, vec![]);
        let t1 = t0 + THROTTLE;
        m.tick(t1, wall(), &mut fx);
        assert_eq!(fx.log, vec![Fx::ForkFailed(Which::Main, Prog::Run)]);
        assert_eq!(m.next_deadline(), Some(t1 + THROTTLE));
        fx.log.clear();
        fx.no_fork = false;
        m.tick(t1 + THROTTLE, wall(), &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Spawn(Which::Main, Prog::Run, 100),
                Fx::Publish(Which::Main, "run".into())
            ]
        );
        assert_eq!(m.next_deadline(), None);
    }

    #[test]
    fn finish_whose_fork_failed_is_tried_again_with_runs_exit() {
        let (mut m, mut fx, t0) = started(None);
        fx.finish = true;
        fx.no_fork = true;
        let t1 = t0 + Duration::from_secs(5);
        m.child_exited(pid(100), Exit::Code(3), t1, wall(), &mut fx);
        m.tick(t1, wall(), &mut fx);
        let finish = Prog::Finish(Exit::Code(3));
        // State finish with no pid (runsv shows it so between run and finish), said once.
        assert_eq!(
            fx.log,
            vec![
                Fx::ForkFailed(Which::Main, finish),
                Fx::Publish(Which::Main, "finish".into())
            ]
        );
        assert_eq!(m.next_deadline(), Some(t1 + THROTTLE));
        fx.log.clear();
        m.tick(t1 + THROTTLE, wall(), &mut fx);
        assert_eq!(fx.log, vec![Fx::ForkFailed(Which::Main, finish)]);
        fx.log.clear();
        fx.no_fork = false;
        let t2 = t1 + THROTTLE * 2;
        m.tick(t2, wall(), &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Spawn(Which::Main, finish, 101),
                Fx::Publish(Which::Main, "finish".into())
            ]
        );
        fx.log.clear();
        m.child_exited(pid(101), Exit::Code(0), t2, wall(), &mut fx);
        m.tick(t2, wall(), &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Publish(Which::Main, "down".into()),
                Fx::Spawn(Which::Main, Prog::Run, 102),
                Fx::Publish(Which::Main, "run".into())
            ]
        );
    }

    #[test]
    fn exit_waits_for_a_finish_whose_fork_failed() {
        let (mut m, mut fx, t0) = started(None);
        fx.finish = true;
        fx.no_fork = true;
        m.terminate(&mut fx);
        m.child_exited(pid(100), SIGTERM_EXIT, t0, wall(), &mut fx);
        m.tick(t0, wall(), &mut fx);
        assert!(!m.done());
        fx.log.clear();
        fx.no_fork = false;
        m.tick(t0 + THROTTLE, wall(), &mut fx);
        assert_eq!(
            fx.log[0],
            Fx::Spawn(Which::Main, Prog::Finish(SIGTERM_EXIT), 101)
        );
        m.child_exited(pid(101), Exit::Code(0), t0 + THROTTLE, wall(), &mut fx);
        m.tick(t0 + THROTTLE, wall(), &mut fx);
        assert!(m.done());
    }

    #[test]
    fn failed_status_write_is_written_again_each_second_until_it_is() {
        let (mut m, mut fx, t0) = started(None);
        fx.no_write = true;
        m.control(Which::Main, Control::Pause, &mut fx);
        m.tick(t0, wall(), &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Signal(100, Signal::SIGSTOP),
                Fx::PublishFailed(Which::Main, "run, paused".into())
            ]
        );
        assert_eq!(m.next_deadline(), Some(t0 + STATUS_RETRY));
        fx.log.clear();
        m.tick(t0 + STATUS_RETRY / 2, wall(), &mut fx);
        assert_eq!(fx.log, vec![]);
        let t1 = t0 + STATUS_RETRY;
        m.tick(t1, wall(), &mut fx);
        assert_eq!(
            fx.log,
            vec![Fx::PublishFailed(Which::Main, "run, paused".into())]
        );
        assert_eq!(m.next_deadline(), Some(t1 + STATUS_RETRY));
        fx.log.clear();
        // Meanwhile the state changes: the next write (the retry) says the latest.
        m.control(Which::Main, Control::Cont, &mut fx);
        fx.no_write = false;
        fx.log.clear();
        let t2 = t1 + STATUS_RETRY;
        m.tick(t2, wall(), &mut fx);
        assert_eq!(fx.log, vec![Fx::Publish(Which::Main, "run".into())]);
        assert_eq!(m.next_deadline(), None);
        fx.log.clear();
        m.tick(t2 + STATUS_RETRY, wall(), &mut fx);
        assert_eq!(fx.log, vec![]);
    }

    #[test]
    fn a_write_that_succeeds_ends_the_retries() {
        let (mut m, mut fx, t0) = started(Some(false));
        fx.no_write = true;
        m.control(Which::Log, Control::Pause, &mut fx);
        m.tick(t0, wall(), &mut fx);
        assert_eq!(m.next_deadline(), Some(t0 + STATUS_RETRY));
        fx.no_write = false;
        m.control(Which::Log, Control::Cont, &mut fx);
        m.tick(t0, wall(), &mut fx);
        assert_eq!(m.next_deadline(), None);
    }

    #[test]
    fn removed_directory_seen_after_a_failed_write_ends_supervise_as_x_does() {
        let (mut m, mut fx, t0) = started(Some(false));
        fx.no_write = true;
        fx.gone = true;
        m.child_exited(pid(101), Exit::Code(0), t0, wall(), &mut fx);
        m.tick(t0, wall(), &mut fx);
        // Nothing is started or written any more; the logger is stopped by EOF.
        assert_eq!(
            fx.log,
            vec![
                Fx::PublishFailed(Which::Main, "down".into()),
                Fx::Removed,
                Fx::ClosePipe,
            ]
        );
        assert_eq!(m.next_deadline(), None);
        fx.log.clear();
        m.child_exited(pid(100), Exit::Code(0), t0, wall(), &mut fx);
        m.tick(t0 + THROTTLE, wall(), &mut fx);
        assert_eq!(fx.log, vec![]);
        assert!(m.done());
    }

    #[test]
    fn removed_directory_seen_at_a_start_stops_the_service_then_exits() {
        let (mut m, mut fx, t0) = started(Some(false));
        fx.gone = true;
        // The logger dies; its restart finds the directory gone.
        let t1 = t0 + Duration::from_secs(5);
        m.child_exited(pid(100), Exit::Code(1), t1, wall(), &mut fx);
        m.tick(t1, wall(), &mut fx);
        assert_eq!(
            fx.log,
            vec![
                Fx::Publish(Which::Log, "down".into()),
                Fx::Removed,
                Fx::Signal(101, Signal::SIGTERM),
                Fx::Signal(101, Signal::SIGCONT),
            ]
        );
        assert_eq!(m.next_deadline(), None);
        fx.log.clear();
        m.child_exited(pid(101), SIGTERM_EXIT, t1, wall(), &mut fx);
        m.tick(t1, wall(), &mut fx);
        assert_eq!(fx.log, vec![]);
        assert!(m.done());
    }

    #[test]
    fn removed_directory_is_not_looked_for_while_all_goes_well() {
        let (mut m, mut fx, t0) = started(None);
        fx.gone = true;
        m.control(Which::Main, Control::Hup, &mut fx);
        m.tick(t0, wall(), &mut fx);
        assert_eq!(fx.log, vec![Fx::Signal(100, Signal::SIGHUP)]);
        assert!(!m.done());
    }

    // -----------------------------------------------------------------------------------------
    // Essential services

    const SIGTERM_EXIT: Exit = Exit::Signal {
        signo: 15,
        core: false,
    };

    /// An essential service with `limit`, started at `t0` as pid 100.
    fn essential(limit: u32) -> (Machine, Rec, Instant) {
        let t0 = Instant::now();
        let mut m = Machine::new(wall(), false, None).with_essential(limit);
        let mut fx = Rec::default();
        m.tick(t0, wall(), &mut fx);
        fx.log.clear();
        (m, fx, t0)
    }

    /// `./run` (pid `pid`, started at `start`) ends with `exit` after `lived`; then the machine
    /// ticks at the restart deadline. Returns what happened.
    fn run_ends(
        m: &mut Machine,
        fx: &mut Rec,
        pid_: u32,
        start: Instant,
        lived: Duration,
        exit: Exit,
    ) -> Vec<Fx> {
        fx.log.clear();
        let t = start + lived;
        m.child_exited(pid(pid_), exit, t, wall(), fx);
        m.tick(t.max(start + THROTTLE), wall(), fx);
        std::mem::take(&mut fx.log)
    }

    #[test]
    fn failure_limit_defaults_to_5() {
        assert_eq!(failure_limit(b"2"), 2);
        assert_eq!(failure_limit(b" 12\t\r\nmore"), 12);
        assert_eq!(failure_limit(b""), 5);
        assert_eq!(failure_limit(b"   "), 5);
        assert_eq!(failure_limit(b"two"), 5);
        assert_eq!(failure_limit(b"2 tries"), 5);
        assert_eq!(failure_limit(b"-1"), 5);
        assert_eq!(failure_limit(b"+2"), 5);
        assert_eq!(failure_limit(b"\xff"), 5);
        assert_eq!(failure_limit(b"0"), 1);
        assert_eq!(failure_limit(b"4294967295"), u32::MAX);
        // Beyond the range it saturates: practically never gives up.
        assert_eq!(failure_limit(b"4294967296"), u32::MAX);
        assert_eq!(failure_limit(b"99999999999999999999999"), u32::MAX);
    }

    #[test]
    fn essential_stops_for_good_after_limit_failures_in_a_row() {
        let (mut m, mut fx, t0) = essential(2);
        let short = Duration::from_millis(10);
        let restart = |pid| {
            vec![
                Fx::Publish(Which::Main, "down".into()),
                Fx::Spawn(Which::Main, Prog::Run, pid),
                Fx::Publish(Which::Main, "run".into()),
            ]
        };
        assert_eq!(
            run_ends(&mut m, &mut fx, 100, t0, short, Exit::Code(3)),
            restart(101)
        );
        let t1 = t0 + THROTTLE;
        assert_eq!(
            run_ends(&mut m, &mut fx, 101, t1, short, Exit::Code(3)),
            vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(3)]
        );
        let st = m.status(Which::Main).expect("main");
        assert_eq!((st.state, st.want, st.pid), (State::Down, Want::Down, None));
        assert_eq!(m.next_deadline(), None);
        m.tick(t1 + Duration::from_secs(60), wall(), &mut fx);
        assert_eq!(fx.log, vec![]);
        // `u` starts it again with a fresh count: one failure is not enough any more.
        m.control(Which::Main, Control::Up, &mut fx);
        let t2 = t1 + Duration::from_secs(60);
        m.tick(t2, wall(), &mut fx);
        assert_eq!(fx.log[1], Fx::Spawn(Which::Main, Prog::Run, 102));
        assert_eq!(
            run_ends(&mut m, &mut fx, 102, t2, short, Exit::Code(3)),
            restart(103)
        );
    }

    #[test]
    fn exit_0_and_a_stable_run_end_the_streak() {
        let (mut m, mut fx, t0) = essential(2);
        let short = Duration::from_millis(10);
        let mut t = t0;
        let mut pid = 100;
        let mut end = |m: &mut Machine, fx: &mut Rec, lived: Duration, exit: Exit| {
            let seen = run_ends(m, fx, pid, t, lived, exit);
            pid += 1;
            t = (t + lived).max(t + THROTTLE);
            seen.contains(&Fx::Stopped(exit.shell_code()))
        };
        assert!(!end(&mut m, &mut fx, short, Exit::Code(1)));
        assert!(!end(&mut m, &mut fx, short, Exit::Code(0)));
        assert!(!end(&mut m, &mut fx, short, Exit::Code(1)));
        // Failed, but after 10 s up: a new streak of one.
        assert!(!end(&mut m, &mut fx, STABLE, Exit::Code(1)));
        // 9.999 s is not stable.
        assert!(end(
            &mut m,
            &mut fx,
            STABLE - Duration::from_millis(1),
            Exit::Signal {
                signo: 9,
                core: true
            }
        ));
        assert_eq!(fx.log, vec![]);
        assert_eq!(m.status(Which::Main).map(|s| s.want), Some(Want::Down));
    }

    #[test]
    fn essential_wanted_down_stops_for_good_with_runs_exit() {
        let (mut m, mut fx, t0) = essential(5);
        m.control(Which::Main, Control::Down, &mut fx);
        assert_eq!(
            run_ends(&mut m, &mut fx, 100, t0, THROTTLE, SIGTERM_EXIT),
            vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(143)]
        );
        // `o` on a down service: the run that ends is wanted down.
        m.control(Which::Main, Control::Once, &mut fx);
        let t1 = t0 + Duration::from_secs(5);
        m.tick(t1, wall(), &mut fx);
        assert_eq!(fx.log[1], Fx::Spawn(Which::Main, Prog::Run, 101));
        assert_eq!(
            run_ends(&mut m, &mut fx, 101, t1, THROTTLE, Exit::Code(0)),
            vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(0)]
        );
    }

    #[test]
    fn essential_notice_comes_after_finish() {
        let (mut m, mut fx, t0) = essential(5);
        fx.finish = true;
        m.control(Which::Main, Control::Once, &mut fx);
        assert_eq!(
            run_ends(&mut m, &mut fx, 100, t0, THROTTLE, Exit::Code(7)),
            vec![
                Fx::Spawn(Which::Main, Prog::Finish(Exit::Code(7)), 101),
                Fx::Publish(Which::Main, "finish, want down".into()),
            ]
        );
        assert_eq!(
            run_ends(&mut m, &mut fx, 101, t0, THROTTLE, Exit::Code(0)),
            vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(7)]
        );
    }

    #[test]
    fn essential_exit_stops_for_good() {
        let (mut m, mut fx, t0) = essential(5);
        m.terminate(&mut fx);
        let seen = run_ends(&mut m, &mut fx, 100, t0, THROTTLE, SIGTERM_EXIT);
        assert_eq!(
            seen,
            vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(143)]
        );
        assert!(m.done());
    }

    #[test]
    fn runs_stopped_on_request_are_not_failures() {
        let (mut m, mut fx, t0) = essential(1);
        let short = Duration::from_millis(10);
        m.control(Which::Main, Control::Term, &mut fx);
        let seen = run_ends(&mut m, &mut fx, 100, t0, short, SIGTERM_EXIT);
        assert_eq!(seen[1], Fx::Spawn(Which::Main, Prog::Run, 101));
        m.control(Which::Main, Control::Kill, &mut fx);
        let kill = Exit::Signal {
            signo: 9,
            core: false,
        };
        let seen = run_ends(&mut m, &mut fx, 101, t0 + THROTTLE, short, kill);
        assert_eq!(seen[1], Fx::Spawn(Which::Main, Prog::Run, 102));
        // A signal from elsewhere is a failure.
        let seen = run_ends(&mut m, &mut fx, 102, t0 + THROTTLE * 2, short, kill);
        assert_eq!(
            seen,
            vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(137)]
        );
    }

    #[test]
    fn plain_service_never_stops_for_good() {
        let (mut m, mut fx, t0) = started(None);
        let mut t = t0;
        for pid in 100..110 {
            let seen = run_ends(&mut m, &mut fx, pid, t, Duration::ZERO, Exit::Code(3));
            assert_eq!(seen[1], Fx::Spawn(Which::Main, Prog::Run, pid + 1));
            t += THROTTLE;
        }
        m.control(Which::Main, Control::Down, &mut fx);
        let seen = run_ends(&mut m, &mut fx, 110, t, THROTTLE, SIGTERM_EXIT);
        assert_eq!(seen, vec![Fx::Publish(Which::Main, "down".into())]);
    }

    proptest::proptest! {
        /// `essential` of any bytes: a limit of at least 1; a first line of digits (blanks
        /// around) reads as their value, saturating.
        #[test]
        fn prop_failure_limit(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..64)) {
            proptest::prop_assert!(failure_limit(&bytes) >= 1);
        }

        #[test]
        fn prop_failure_limit_reads_digits(n in proptest::arbitrary::any::<u64>(), pad in "[ \t]{0,2}", rest in "(\n.*)?") {
            let text = format!("{pad}{n}{pad}{rest}");
            let want = u32::try_from(n).unwrap_or(u32::MAX).max(1);
            proptest::prop_assert_eq!(failure_limit(text.as_bytes()), want);
        }
    }
}
