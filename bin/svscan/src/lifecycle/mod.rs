//! svscan's lifecycle with no system calls: start-up (the container environment, then the
//! start-up scripts one at a time), running (the service table, rescans, the main command), the
//! ordered stop in stages with their deadlines, and the exit code. Events come in with the time
//! ([`Lifecycle::handle`]); effects go out as a list that the shell applies in order. An effect
//! that asks the system for something (spawn, list, read) is answered by an event before the
//! next effect is applied. The phases are one enum; the stop's stages are in `stop.rs`, the
//! exit-code rules in [`Lifecycle::exit_code`], the main command's wait for the services in
//! `cmdwait.rs`. Spec: docs/svscan.md ("Shutdown", "Exit codes", "Main command").

mod cmdwait;
mod events;
mod stop;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use herd_status::{Exit, Pid};
use herd_value::later;

use crate::table::{Action, Entry, Id, Table};
use cmdwait::MainDue;
pub use events::{
    CmdWait, Effect, Event, Plan, Progress, Report, ScriptKind, Sig, StopBound, Sync,
};
use stop::{Stage, Stop};

/// runsvdir's rescan period, used only without inotify (or while a dangling symlink waits).
pub const RESCAN: Duration = Duration::from_secs(5);

/// Exit codes (docs/svscan.md, "Exit codes").
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FATAL: u8 = 100;
pub const EXIT_HANGUP: u8 = 111;
/// Something had to be SIGKILLed.
pub const EXIT_FORCED: u8 = 124;
/// A script or the main command exists but cannot be executed (or forked).
pub const EXIT_CANNOT_EXEC: u8 = 126;
/// The main command was not found.
pub const EXIT_NOT_FOUND: u8 = 127;
/// The services were not ready within `SVSCAN_CMD_WAIT_MAXTIME` (s6-svwait's code for a
/// timeout).
pub const EXIT_NOT_READY: u8 = 99;

/// Signals passed on to the main command while it runs (TERM and INT also begin the stop).
const FORWARDED: [Sig; 7] = [
    Sig::Term,
    Sig::Int,
    Sig::Hup,
    Sig::Quit,
    Sig::Usr1,
    Sig::Usr2,
    Sig::Winch,
];

/// A script running (or being started: `pid` is `None` until the shell answers).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Script {
    path: PathBuf,
    kind: ScriptKind,
    pid: Option<Pid>,
}

#[derive(Debug)]
enum Phase {
    /// The container environment is being imported.
    Environment,
    Starting(Starting),
    /// The services are supervised; the main command is due, waits for them, or runs.
    Running {
        main: MainDue,
    },
    Stopping(Stop),
    Done,
}

/// The start-up scripts, run one at a time.
#[derive(Debug)]
struct Starting {
    /// `None` while they are being listed.
    queue: Option<VecDeque<PathBuf>>,
    /// The container environment is being synced after a script: the next one waits.
    syncing: bool,
}

/// svscan from set-up to exit.
#[derive(Debug)]
pub struct Lifecycle {
    plan: Plan,
    phase: Phase,
    table: Table,
    script: Option<Script>,
    /// The main command, while it runs.
    main: Option<Pid>,
    /// The main command got the SIGTERM/SIGINT that began the stop: it is not sent another.
    main_told: bool,
    /// When the scan directory is read again without an event.
    rescan_at: Option<Instant>,
    /// No inotify: the scan directory is read every [`RESCAN`].
    periodic: bool,
    /// The first decisive status (main command, essential service, start-up failure).
    verdict: Option<u8>,
    /// SIGHUP began or joined the stop.
    hangup: bool,
    /// Something had to be SIGKILLed.
    forced: bool,
}

/// The code a shell reports for how a process ended (128 + n for signal n).
fn status(exit: Exit) -> u8 {
    u8::try_from(exit.shell_code()).unwrap_or(u8::MAX)
}

impl Lifecycle {
    pub fn new(plan: Plan) -> Self {
        Lifecycle {
            plan,
            phase: Phase::Environment,
            table: Table::default(),
            script: None,
            main: None,
            main_told: false,
            rescan_at: None,
            periodic: false,
            verdict: None,
            hangup: false,
            forced: false,
        }
    }

    /// Takes one event at `now`; pushes the effects to apply, in order.
    pub fn handle(&mut self, ev: Event, now: Instant, fx: &mut Vec<Effect>) {
        if matches!(self.phase, Phase::Done) {
            return;
        }
        match ev {
            Event::Begin => self.begin(fx),
            Event::EnvSynced(ok) => self.env_synced(ok, now, fx),
            Event::Scripts(list) => self.scripts(list),
            Event::ScriptStarted(pid) => self.script_started(pid, now, fx),
            Event::MainStarted(r) => self.main_started(r, now, fx),
            Event::Scanned { entries, retry } => self.scanned(&entries, retry, now, fx),
            Event::Readiness { not_ready, watched } => self.readiness(not_ready, watched, now, fx),
            Event::Dependencies(deps) => self.dependencies(deps),
            Event::ScanFailed => self.scan_failed(now, fx),
            Event::SuperviseStarted { id, pid } => {
                let mut actions = Vec::new();
                self.table.started(id, pid, now, &mut actions);
                self.actions(actions, fx);
            }
            Event::DirChanged => self.rescan(fx),
            Event::InotifyLost => {
                self.periodic = true;
                self.rescan_at.get_or_insert(later(now, RESCAN));
            }
            // The scan that follows sets the next rescan, if one is still needed.
            Event::InotifyBack => self.periodic = false,
            Event::Orphans(list) => self.orphans(&list, fx),
            Event::Signal(sig) => self.signal(sig, now, fx),
            Event::Reaped(pid, exit) => self.reaped(pid, exit, now, fx),
            Event::NoChildren => self.no_children(fx),
            Event::Notice { pid, code } => self.notice(pid, code, now, fx),
            Event::Draining(_) => self.draining(fx),
            Event::Tick => {}
        }
        self.catch_up(now, fx);
    }

    /// The next instant at which [`Event::Tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Running { main } => [
                self.table.next_deadline(),
                self.rescan_at,
                main.next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min(),
            Phase::Stopping(s) => Some(s.next_deadline(self.forced)),
            _ => None,
        }
    }

    /// Whether a service with this id has a supervise (started or waiting to restart).
    pub fn knows(&self, id: Id) -> bool {
        self.table.knows(id)
    }

    /// The exit code, decided here and nowhere else (docs/svscan.md, "Exit codes"): the first
    /// decisive status (the main command's exit, an essential service stopping for good, a
    /// failing start-up script or a fatal start-up error, whichever came first); else 124 when
    /// something had to be SIGKILLed; else 111 after SIGHUP; else 0.
    pub fn exit_code(&self) -> u8 {
        match (self.verdict, self.forced, self.hangup) {
            (Some(code), _, _) => code,
            (None, true, _) => EXIT_FORCED,
            (None, false, true) => EXIT_HANGUP,
            (None, false, false) => EXIT_CLEAN,
        }
    }

    /// Records a decisive status; the first one stands.
    fn decide(&mut self, code: u8) {
        self.verdict.get_or_insert(code);
    }

    fn stopping(&self) -> bool {
        matches!(self.phase, Phase::Stopping(_))
    }

    fn begin(&mut self, fx: &mut Vec<Effect>) {
        if self.plan.env {
            fx.push(Effect::SyncEnv(Sync::Initial));
        } else {
            self.list_startup(fx);
        }
    }

    fn list_startup(&mut self, fx: &mut Vec<Effect>) {
        let queue = self.list(ScriptKind::Startup, self.plan.startup, fx);
        self.phase = Phase::Starting(Starting {
            queue,
            syncing: false,
        });
    }

    /// The scripts of one kind: listed by the shell if there are any (`None` until then).
    fn list(&self, kind: ScriptKind, on: bool, fx: &mut Vec<Effect>) -> Option<VecDeque<PathBuf>> {
        if on {
            fx.push(Effect::ListScripts(kind));
            None
        } else {
            Some(VecDeque::new())
        }
    }

    fn env_synced(&mut self, ok: bool, now: Instant, fx: &mut Vec<Effect>) {
        match (&mut self.phase, ok) {
            // Nothing has started yet: nothing to stop.
            (Phase::Environment, false) => self.exit(EXIT_FATAL, fx),
            (Phase::Environment, true) => self.list_startup(fx),
            (Phase::Starting(st), true) => st.syncing = false,
            (Phase::Starting(_), false) => {
                self.decide(EXIT_FATAL);
                self.begin_stop(now, fx);
            }
            _ => {}
        }
    }

    fn scripts(&mut self, list: VecDeque<PathBuf>) {
        match &mut self.phase {
            Phase::Starting(Starting {
                queue: queue @ None,
                ..
            }) => *queue = Some(list),
            Phase::Stopping(s) => s.scripts_listed(list),
            _ => {}
        }
    }

    fn start_script(&mut self, path: PathBuf, kind: ScriptKind, fx: &mut Vec<Effect>) {
        if kind == ScriptKind::Startup {
            fx.push(Effect::Report(Report::Progress(Progress::RunningScript(
                path.clone(),
            ))));
        }
        fx.push(Effect::StartScript(path.clone()));
        self.script = Some(Script {
            path,
            kind,
            pid: None,
        });
    }

    fn script_started(&mut self, pid: Option<Pid>, now: Instant, fx: &mut Vec<Effect>) {
        let Some(script) = self.script.as_mut().filter(|s| s.pid.is_none()) else {
            return;
        };
        if pid.is_some() {
            script.pid = pid;
            return;
        }
        let kind = script.kind;
        self.script = None;
        if kind == ScriptKind::Startup && !self.stopping() {
            self.decide(EXIT_CANNOT_EXEC);
            self.begin_stop(now, fx);
        }
    }

    /// Starts the next start-up script, or, when none is left, the services and the main
    /// command.
    fn next_startup(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        if self.script.is_some() {
            return;
        }
        let Phase::Starting(Starting {
            queue: Some(queue),
            syncing: false,
        }) = &mut self.phase
        else {
            return;
        };
        if let Some(path) = queue.pop_front() {
            self.start_script(path, ScriptKind::Startup, fx);
            return;
        }
        self.phase = Phase::Running {
            main: match self.plan.main {
                true => MainDue::AfterScan,
                false => MainDue::No,
            },
        };
        if self.plan.scan {
            fx.push(Effect::Report(Report::Progress(Progress::StartingServices)));
            fx.push(Effect::Watch);
            // The main command starts once the scan's answer is in.
            fx.push(Effect::Rescan);
        } else {
            self.main_due(now, fx);
        }
    }

    fn main_started(&mut self, r: Result<Pid, u8>, now: Instant, fx: &mut Vec<Effect>) {
        match r {
            Ok(pid) => {
                self.main = Some(pid);
                fx.push(Effect::Report(Report::Progress(Progress::RunningMain)));
            }
            Err(code) => {
                self.decide(code);
                self.begin_stop(now, fx);
            }
        }
    }

    fn rescan(&mut self, fx: &mut Vec<Effect>) {
        if self.plan.scan && matches!(self.phase, Phase::Running { .. }) {
            self.rescan_at = None;
            fx.push(Effect::Rescan);
        }
    }

    fn scanned(&mut self, entries: &[Entry], retry: bool, now: Instant, fx: &mut Vec<Effect>) {
        if !matches!(self.phase, Phase::Running { .. }) {
            return;
        }
        self.rescan_at = (retry || self.periodic).then(|| later(now, RESCAN));
        let mut actions = Vec::new();
        self.table.scan(entries, now, &mut actions);
        self.actions(actions, fx);
        self.main_due(now, fx);
    }

    fn scan_failed(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        if matches!(self.phase, Phase::Running { .. }) {
            self.rescan_at = Some(later(now, RESCAN));
            self.main_due(now, fx);
        }
    }

    fn actions(&mut self, actions: Vec<Action>, fx: &mut Vec<Effect>) {
        for a in actions {
            fx.push(match a {
                Action::Start { id, name } => Effect::StartSupervise { id, name },
                Action::Term(pid) => Effect::Signal(pid, Sig::Term),
            });
        }
    }

    fn signal(&mut self, sig: Sig, now: Instant, fx: &mut Vec<Effect>) {
        if let Some(main) = self.main.filter(|_| FORWARDED.contains(&sig)) {
            fx.push(Effect::Signal(main, sig));
        }
        match sig {
            Sig::Term | Sig::Int => {
                if !self.stopping() {
                    self.main_told = self.main.is_some();
                }
                self.begin_stop(now, fx);
            }
            // With a main command, SIGHUP is only passed on.
            Sig::Hup if self.main.is_none() => {
                self.hangup = true;
                self.begin_stop(now, fx);
            }
            Sig::Alrm => self.rescan(fx),
            _ => {}
        }
    }

    fn reaped(&mut self, pid: Pid, exit: Exit, now: Instant, fx: &mut Vec<Effect>) {
        if self.table.reaped(pid) {
            self.supervise_reaped(pid);
            return;
        }
        if self.script.as_ref().is_some_and(|s| s.pid == Some(pid)) {
            if let Some(s) = self.script.take() {
                self.script_done(s, exit, now, fx);
            }
        } else if self.main == Some(pid) {
            self.main = None;
            self.main_done(exit, now, fx);
        }
    }

    fn script_done(&mut self, s: Script, exit: Exit, now: Instant, fx: &mut Vec<Effect>) {
        let code = status(exit);
        let startup = s.kind == ScriptKind::Startup;
        if startup && self.stopping() {
            return;
        }
        if code != 0 {
            fx.push(Effect::Report(Report::ScriptFailed {
                path: s.path,
                code,
                fatal: startup,
            }));
            if startup {
                self.decide(code);
                self.begin_stop(now, fx);
            }
        } else if startup && self.plan.env {
            // What a script wrote to the container environment is what later scripts, the
            // services and the main command see.
            if let Phase::Starting(st) = &mut self.phase {
                st.syncing = true;
            }
            fx.push(Effect::SyncEnv(Sync::AfterScript));
        }
    }

    fn main_done(&mut self, exit: Exit, now: Instant, fx: &mut Vec<Effect>) {
        let code = status(exit);
        fx.push(Effect::TakeTerminal);
        fx.push(Effect::Report(Report::Progress(Progress::MainExited(code))));
        self.decide(code);
        self.begin_stop(now, fx);
    }

    fn notice(&mut self, pid: Pid, code: u8, now: Instant, fx: &mut Vec<Effect>) {
        if !matches!(self.phase, Phase::Running { .. }) {
            return;
        }
        let Some(name) = self.table.name_of(pid) else {
            return;
        };
        fx.push(Effect::Report(Report::EssentialStopped {
            name: name.to_os_string(),
            code,
        }));
        self.decide(code);
        self.begin_stop(now, fx);
    }

    fn no_children(&mut self, fx: &mut Vec<Effect>) {
        if let Phase::Stopping(s) = &self.phase {
            if matches!(s.stage, Stage::Leftovers | Stage::Killed) {
                self.exit(self.exit_code(), fx);
            }
        }
    }

    fn exit(&mut self, code: u8, fx: &mut Vec<Effect>) {
        self.phase = Phase::Done;
        fx.push(Effect::Exit(code));
    }

    /// Whether `pid` is a child svscan started (not an orphan).
    fn is_ours(&self, pid: Pid) -> bool {
        self.main == Some(pid)
            || self.script.as_ref().is_some_and(|s| s.pid == Some(pid))
            || self.table.pids().any(|p| p == pid)
    }

    /// After every event: what is due at `now` (a start-up step, a restart, a rescan, the next
    /// stage of the stop).
    fn catch_up(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        // The main command's wait may end in a stop, which then begins below.
        self.await_due(now, fx);
        match self.phase {
            Phase::Starting(_) => self.next_startup(now, fx),
            Phase::Running { .. } => {
                let mut actions = Vec::new();
                self.table.due(now, &mut actions);
                self.actions(actions, fx);
                if self.rescan_at.is_some_and(|t| t <= now) {
                    self.rescan(fx);
                }
            }
            Phase::Stopping(_) => self.advance(now, fx),
            Phase::Environment | Phase::Done => {}
        }
    }
}
