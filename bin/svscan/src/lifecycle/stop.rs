//! The ordered stop (docs/svscan.md, "Shutdown"): the main command (or a start-up script still
//! running) first, then the pre-shutdown scripts, the supervisors layer by layer, dependents
//! first (with the orphan sweep, and a SIGKILL through supervise at three quarters of the bound
//! to every service left, whatever its layer), the post-shutdown scripts, and what is left. One
//! bound covers it all; when it passes everything gets SIGKILL. Services without dependencies
//! are one layer: every supervise is told at once. Without inotify nothing here changes: the
//! stop never rescans and never restarts.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use herd_deps::Graph;
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
    /// The supervisors stop, layer by layer.
    Supervisors(Layers),
    /// Post-shutdown scripts: being listed (`None`), then run one at a time.
    PostScripts(Option<VecDeque<PathBuf>>),
    /// What is left got SIGTERM; waiting for no child to be left.
    Leftovers,
    /// The bound passed: everything got SIGKILL; waiting for the last reaps.
    Killed,
}

/// The supervisors in the order they stop: each layer gets SIGTERM once every supervise of the
/// layer before has exited.
#[derive(Debug, Default)]
pub(super) struct Layers {
    /// The layers after the current one; `None` until the dependencies are read.
    next: Option<VecDeque<Vec<Pid>>>,
    /// The supervisors told to stop that have not exited yet.
    current: Vec<Pid>,
}

/// The layers of the running supervisors `live` (service name, supervise pid), given the
/// dependencies of the services that have any. Without any, one layer: all of them.
fn layers(live: &[(OsString, Pid)], deps: Vec<(OsString, Vec<OsString>)>) -> VecDeque<Vec<Pid>> {
    if deps.is_empty() {
        return VecDeque::from([live.iter().map(|(_, p)| *p).collect()]);
    }
    let mut names: Vec<OsString> = Vec::with_capacity(live.len());
    for (n, _) in live {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let deps: HashMap<OsString, Vec<OsString>> = deps.into_iter().collect();
    let graph = Graph::build(names.clone(), |n| deps.get(n).cloned().unwrap_or_default());
    graph
        .stop_layers(&names)
        .into_iter()
        .map(|layer| {
            live.iter()
                .filter(|(n, _)| layer.contains(n))
                .map(|(_, p)| *p)
                .collect()
        })
        .collect()
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
    /// A `FindOrphans` is asked for and not answered yet: drains told meanwhile need no other.
    looking: bool,
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
            looking: false,
        }
    }

    /// When the stop must next move on without an event.
    pub(super) fn next_deadline(&self, forced: bool) -> Instant {
        match self.stage {
            Stage::Main | Stage::PreScripts(_) => self.early.min(self.end),
            Stage::Supervisors(_) if forced => self.sweep_at.min(self.end),
            Stage::Supervisors(_) => self.services.min(self.sweep_at).min(self.end),
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
        if self.awaiting() {
            fx.push(Effect::EndAwait);
        }
        if let Some(main) = self.main.filter(|_| !self.main_told) {
            fx.extend([
                Effect::Signal(main, Sig::Term),
                Effect::Signal(main, Sig::Cont),
            ]);
        }
        fx.push(Effect::Report(Report::Progress(Progress::ShuttingDown)));
        if self.plan.scan {
            // The stop never rescans; the kernel's cost of dropping the watches (a grace
            // period) then runs while the services stop rather than at svscan's exit.
            fx.push(Effect::Unwatch);
        }
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
                    let names: Vec<OsString> = self.table.live().map(|(n, _)| n.into()).collect();
                    if !names.is_empty() {
                        fx.push(Effect::ReadDependencies(names));
                    }
                    s.sweep_at = later(now, SWEEP);
                    s.stage = Stage::Supervisors(Layers::default());
                }
                Stage::Supervisors(l) => {
                    if self.table.pids().next().is_none() {
                        let post = self.plan.post_shutdown;
                        s.stage = Stage::PostScripts(self.list(ScriptKind::PostShutdown, post, fx));
                        continue;
                    }
                    // Once the dependencies are read, the next layer is told when the current
                    // one is gone; a supervise in no layer (there should be none) stops last.
                    while let (Some(next), true) = (l.next.as_mut(), l.current.is_empty()) {
                        let layer = next
                            .pop_front()
                            .unwrap_or_else(|| self.table.pids().collect());
                        if layer.is_empty() {
                            break;
                        }
                        l.current = self.term(&layer, fx);
                    }
                    if now >= s.services && !self.forced {
                        // Every service left is SIGKILLed, in the layers not told yet too:
                        // supervise SIGKILLs its service, then drains the logger and exits, so
                        // that the post-shutdown scripts and the last sweep run within the bound.
                        self.forced = true;
                        l.next = Some(VecDeque::new());
                        let rest: Vec<Pid> = self
                            .table
                            .pids()
                            .filter(|p| !l.current.contains(p))
                            .collect();
                        l.current.extend(self.term(&rest, fx));
                        fx.extend(self.table.live().map(|(n, _)| Effect::ForceKill(n.into())));
                    }
                    if now >= s.sweep_at {
                        fx.push(Effect::FindOrphans);
                        s.looking = true;
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

    /// SIGTERM to each supervise of `pids` still running; returns those.
    fn term(&self, pids: &[Pid], fx: &mut Vec<Effect>) -> Vec<Pid> {
        let alive: Vec<Pid> = pids
            .iter()
            .copied()
            .filter(|&p| self.table.pids().any(|q| q == p))
            .collect();
        fx.extend(alive.iter().map(|&p| Effect::Signal(p, Sig::Term)));
        alive
    }

    /// The answer to [`Effect::ReadDependencies`]: the order in which the supervisors stop.
    pub(super) fn dependencies(&mut self, deps: Vec<(OsString, Vec<OsString>)>) {
        let live: Vec<(OsString, Pid)> = self.table.live().map(|(n, p)| (n.into(), p)).collect();
        if let Phase::Stopping(Stop {
            stage: Stage::Supervisors(l @ Layers { next: None, .. }),
            ..
        }) = &mut self.phase
        {
            l.next = Some(layers(&live, deps));
        }
    }

    /// A supervise was reaped: the next layer may stop.
    pub(super) fn supervise_reaped(&mut self, pid: Pid) {
        if let Phase::Stopping(Stop {
            stage: Stage::Supervisors(l),
            ..
        }) = &mut self.phase
        {
            if let Some(i) = l.current.iter().position(|&p| p == pid) {
                l.current.swap_remove(i);
            }
        }
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

    /// A supervise waits for its logger: the orphans are looked for at once rather than at the
    /// next sweep (the orphan that holds the log pipe, if any, is ours by now: the kernel
    /// re-parents a process's children before its parent can reap it), so that the logger reads
    /// EOF without waiting out the [`SWEEP`] period. The periodic sweep stays, for orphans that
    /// come later.
    pub(super) fn draining(&mut self, fx: &mut Vec<Effect>) {
        if let Phase::Stopping(
            s @ Stop {
                stage: Stage::Supervisors(_),
                old_orphans: Some(_),
                looking: false,
                ..
            },
        ) = &mut self.phase
        {
            fx.push(Effect::FindOrphans);
            s.looking = true;
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
        s.looking = false;
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
