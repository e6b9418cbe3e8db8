//! The ordered stop (docs/svscan.md, "Shutdown"): the main command (or a start-up script still
//! running) first, then the pre-shutdown scripts, every supervise in parallel (with the orphan
//! sweep, and a SIGKILL through supervise at three quarters of the bound), the post-shutdown
//! scripts, and what is left. One bound covers it all; when it passes everything gets SIGKILL.
//! Without inotify nothing here changes: the stop never rescans and never restarts.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use herd_status::Pid;
use herd_value::later;

use super::{Effect, Lifecycle, Phase, Progress, Report, ScriptKind, Sig, StopBound};

/// While the supervisors stop, processes orphaned since (a service's backgrounded children,
/// which may hold its log pipe open) are looked for this often, and get SIGTERM.
pub const SWEEP: Duration = Duration::from_millis(10);
/// How long to wait for the last reaps after the final SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub(super) enum Stage {
    /// The main command (or a start-up script) got the signal; waiting for it to exit.
    Main,
    /// Pre-shutdown scripts: being listed (`None`), then run one at a time.
    PreScripts(Option<VecDeque<PathBuf>>),
    /// Every supervise got SIGTERM; waiting for them.
    Supervisors,
    /// Post-shutdown scripts: being listed (`None`), then run one at a time.
    PostScripts(Option<VecDeque<PathBuf>>),
    /// What is left got SIGTERM; waiting for no child to be left.
    Leftovers,
    /// The bound passed: everything got SIGKILL; waiting for the last reaps.
    Killed,
}

#[derive(Debug)]
pub(super) struct Stop {
    pub(super) stage: Stage,
    /// The main command and the pre-shutdown scripts get until this.
    early: Instant,
    /// The supervisors get until this; then a service still running is SIGKILLed.
    services: Instant,
    /// Everything left is SIGKILLed at this.
    end: Instant,
    sweep_at: Instant,
    /// Children that were orphans already when the supervisors got SIGTERM (daemons of
    /// start-up scripts, stopped after the services, as phusion does); `None` until read.
    old_orphans: Option<Vec<Pid>>,
    /// Orphans signalled since.
    swept: Vec<Pid>,
}

impl Stop {
    fn new(bound: StopBound, now: Instant) -> Self {
        // The services get three quarters of a single bound; post-shutdown scripts and the
        // last sweep the rest.
        let (early, services, end) = match bound {
            StopBound::Total(d) => (d / 2, d.saturating_sub(d / 4), d),
            StopBound::Phased { services, all } => {
                (services / 2, services, services.saturating_add(all))
            }
        };
        let end = later(now, end);
        Stop {
            stage: Stage::Main,
            early: later(now, early),
            services: later(now, services),
            end,
            sweep_at: end,
            old_orphans: None,
            swept: Vec::new(),
        }
    }

    /// When the stop must next move on without an event.
    pub(super) fn next_deadline(&self, forced: bool) -> Instant {
        match self.stage {
            Stage::Main | Stage::PreScripts(_) => self.early.min(self.end),
            Stage::Supervisors if forced => self.sweep_at.min(self.end),
            Stage::Supervisors => self.services.min(self.sweep_at).min(self.end),
            Stage::PostScripts(_) | Stage::Leftovers | Stage::Killed => self.end,
        }
    }

    /// The answer to a `ListScripts` of the current stage.
    pub(super) fn scripts_listed(&mut self, list: VecDeque<PathBuf>) {
        if let Stage::PreScripts(q @ None) | Stage::PostScripts(q @ None) = &mut self.stage {
            *q = Some(list);
        }
    }
}

impl Lifecycle {
    /// Begins the stop, unless it has begun: the main command and a start-up script still
    /// running get SIGTERM (and SIGCONT) first. Whoever calls this has recorded why.
    pub(super) fn begin_stop(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        if matches!(self.phase, Phase::Stopping(_) | Phase::Done) {
            return;
        }
        if let Some(s) = self.script.as_ref() {
            if let Some(pid) = s.pid.filter(|_| s.kind == ScriptKind::Startup) {
                fx.extend([
                    Effect::Signal(pid, Sig::Term),
                    Effect::Signal(pid, Sig::Cont),
                ]);
            }
        }
        if let Some(main) = self.main.filter(|_| !self.main_told) {
            fx.extend([
                Effect::Signal(main, Sig::Term),
                Effect::Signal(main, Sig::Cont),
            ]);
        }
        fx.push(Effect::Report(Report::Progress(Progress::ShuttingDown)));
        self.phase = Phase::Stopping(Stop::new(self.plan.stop, now));
    }

    /// Moves the stop on as far as it goes at `now`.
    pub(super) fn advance(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        // The stop is taken out so that the steps below can use the rest of `self`.
        let Phase::Stopping(mut s) = std::mem::replace(&mut self.phase, Phase::Done) else {
            return;
        };
        match self.advance_stop(&mut s, now, fx) {
            Some(code) => fx.push(Effect::Exit(code)),
            None => self.phase = Phase::Stopping(s),
        }
    }

    /// The stages in order; `Some(code)` when svscan should exit now.
    fn advance_stop(&mut self, s: &mut Stop, now: Instant, fx: &mut Vec<Effect>) -> Option<u8> {
        loop {
            match &mut s.stage {
                Stage::Main => {
                    if (self.main.is_some() || self.script.is_some()) && now < s.early {
                        break;
                    }
                    self.kill_script(fx);
                    let pre = self.plan.pre_shutdown;
                    s.stage = Stage::PreScripts(self.list(ScriptKind::PreShutdown, pre, fx));
                }
                Stage::PreScripts(None) | Stage::PostScripts(None) => break,
                Stage::PreScripts(Some(queue)) => {
                    if now >= s.early {
                        self.kill_script(fx);
                        queue.clear();
                    }
                    if self.next_script(queue, ScriptKind::PreShutdown, fx) {
                        break;
                    }
                    if self.plan.scan {
                        fx.push(Effect::Report(Report::Progress(Progress::StoppingServices)));
                    }
                    // The orphans of before are read before any service can make new ones.
                    fx.push(Effect::FindOrphans);
                    fx.extend(self.table.pids().map(|p| Effect::Signal(p, Sig::Term)));
                    s.sweep_at = later(now, SWEEP);
                    s.stage = Stage::Supervisors;
                }
                Stage::Supervisors => {
                    if self.table.pids().next().is_none() {
                        let post = self.plan.post_shutdown;
                        s.stage = Stage::PostScripts(self.list(ScriptKind::PostShutdown, post, fx));
                        continue;
                    }
                    if now >= s.services && !self.forced {
                        // supervise SIGKILLs its service, then drains the logger and exits, so
                        // that the post-shutdown scripts and the last sweep run within the bound.
                        self.forced = true;
                        fx.extend(self.table.live().map(|(n, _)| Effect::ForceKill(n.into())));
                    }
                    if now >= s.sweep_at {
                        fx.push(Effect::FindOrphans);
                        s.sweep_at = later(now, SWEEP);
                    }
                    break;
                }
                Stage::PostScripts(Some(queue)) => {
                    if self.next_script(queue, ScriptKind::PostShutdown, fx) {
                        break;
                    }
                    if !self.plan.kill_all {
                        return Some(self.exit_code());
                    }
                    fx.extend([
                        Effect::Report(Report::Progress(Progress::KillingAll)),
                        Effect::SignalLeftovers(Sig::Term),
                        Effect::SignalLeftovers(Sig::Cont),
                        Effect::Reap,
                    ]);
                    s.stage = Stage::Leftovers;
                }
                Stage::Leftovers | Stage::Killed => break,
            }
        }
        if now < s.end {
            return None;
        }
        if matches!(s.stage, Stage::Killed) {
            return Some(self.exit_code());
        }
        fx.extend([
            Effect::Report(Report::TimedOut),
            Effect::SignalLeftovers(Sig::Kill),
        ]);
        let ours: Vec<Pid> = self.table.pids().chain(self.main).collect();
        fx.extend(ours.into_iter().map(|p| Effect::Signal(p, Sig::Kill)));
        if let Some(pid) = self.script.take().and_then(|sc| sc.pid) {
            fx.push(Effect::Signal(pid, Sig::Kill));
        }
        fx.push(Effect::Reap);
        self.forced = true;
        s.stage = Stage::Killed;
        s.end = later(now, KILL_GRACE);
        None
    }

    /// Starts the next script of `queue`; `true` while one runs (or is being started).
    fn next_script(
        &mut self,
        queue: &mut VecDeque<PathBuf>,
        kind: ScriptKind,
        fx: &mut Vec<Effect>,
    ) -> bool {
        if self.script.is_some() {
            return true;
        }
        match queue.pop_front() {
            Some(path) => {
                self.start_script(path, kind, fx);
                true
            }
            None => false,
        }
    }

    /// A script still running when its time is up is SIGKILLed (and left to the reaping).
    fn kill_script(&mut self, fx: &mut Vec<Effect>) {
        if let Some(s) = self.script.take() {
            fx.push(Effect::Report(Report::ScriptKilled(s.path)));
            if let Some(pid) = s.pid {
                fx.push(Effect::Signal(pid, Sig::Kill));
            }
        }
    }

    /// svscan's children, answering `FindOrphans`: the first answer of the stop is the orphans
    /// of before; after that, each new orphan gets SIGTERM and SIGCONT once.
    pub(super) fn orphans(&mut self, children: &[Pid], fx: &mut Vec<Effect>) {
        let orphans: Vec<Pid> = children
            .iter()
            .copied()
            .filter(|&p| !self.is_ours(p))
            .collect();
        let Phase::Stopping(s) = &mut self.phase else {
            return;
        };
        let Some(old) = &s.old_orphans else {
            s.old_orphans = Some(orphans);
            return;
        };
        for p in orphans {
            if !old.contains(&p) && !s.swept.contains(&p) {
                fx.extend([Effect::Signal(p, Sig::Term), Effect::Signal(p, Sig::Cont)]);
                s.swept.push(p);
            }
        }
    }
}
