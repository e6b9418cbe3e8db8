//! What goes in and out of the lifecycle: the events it takes, the effects it asks for (and
//! which event answers each), the lines it reports, and the plan it is made with. Plain values,
//! no behaviour.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use herd_status::{Exit, Pid};

use crate::table::{Entry, Id};

/// The signals the lifecycle tells apart or sends; the shell maps them to the system's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Hup,
    Int,
    Quit,
    Usr1,
    Usr2,
    Alrm,
    Term,
    Winch,
    Cont,
    Kill,
}

/// How long the stop may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopBound {
    /// One bound for the whole sequence.
    Total(Duration),
    /// phusion's two timeouts, set explicitly: services, then every process left.
    Phased { services: Duration, all: Duration },
}

/// What the command line turned on: the parts of the configuration the lifecycle decides by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// A container environment directory.
    pub env: bool,
    /// Start-up script sources.
    pub startup: bool,
    /// A scan directory (not my_init's `--skip-runit`).
    pub scan: bool,
    /// A main command.
    pub main: bool,
    pub pre_shutdown: bool,
    pub post_shutdown: bool,
    /// Signal every process left once the services have stopped.
    pub kill_all: bool,
    pub stop: StopBound,
    /// Whether the main command waits for the services to be ready, and how long.
    pub wait: CmdWait,
}

/// `SVSCAN_CMD_WAIT` and `SVSCAN_CMD_WAIT_MAXTIME` (docs/svscan.md, "Main command").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdWait {
    /// The main command starts after the first scan.
    Off,
    /// It starts when every service is ready, however long that takes.
    Forever,
    /// It starts when every service is ready; if they are not within this, everything stops.
    Upto(Duration),
}

/// Which script directory a script comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    Startup,
    PreShutdown,
    PostShutdown,
}

/// When the container environment is synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// At start: the directory's files are imported (variables already set win).
    Initial,
    /// After a start-up script: the directory's view replaces the environment.
    AfterScript,
}

/// my_init's `*** ` progress lines (printed only by my_init without `--quiet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    RunningScript(PathBuf),
    StartingServices,
    RunningMain,
    MainExited(u8),
    ShuttingDown,
    StoppingServices,
    KillingAll,
}

/// A line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Progress(Progress),
    /// A script exited non-zero; `fatal` for a start-up script (it aborts the start-up).
    ScriptFailed {
        path: PathBuf,
        code: u8,
        fatal: bool,
    },
    /// A script still running when its time was up was SIGKILLed.
    ScriptKilled(PathBuf),
    /// An essential service stopped for good: everything stops.
    EssentialStopped {
        name: OsString,
        code: u8,
    },
    /// The bound passed: everything left gets SIGKILL.
    TimedOut,
    /// The main command waited `after` for these services to be ready (sorted), in vain.
    NotReady {
        names: Vec<OsString>,
        after: Duration,
    },
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Sync the container environment; answer [`Event::EnvSynced`].
    SyncEnv(Sync),
    /// List the scripts of one kind, in order; answer [`Event::Scripts`].
    ListScripts(ScriptKind),
    /// Start one script; answer [`Event::ScriptStarted`].
    StartScript(PathBuf),
    /// Start the main command; answer [`Event::MainStarted`].
    SpawnMain,
    /// Watch the scan directory (and the symlinks on the way to it).
    Watch,
    /// Remove every watch of the scan directory (the stop never rescans), keeping the inotify
    /// descriptor: see `Watches::unwatch_all`. The forker ends too (spawn.rs): a supervise
    /// started from now on (none, as a rule) is exec'd.
    Unwatch,
    /// Read the scan directory; answer [`Event::Scanned`] or [`Event::ScanFailed`].
    Rescan,
    /// Start `supervise NAME`; answer [`Event::SuperviseStarted`].
    StartSupervise {
        id: Id,
        name: OsString,
    },
    Signal(Pid, Sig),
    /// Read the `dependencies.d/` of these services (each running a supervise); answer
    /// [`Event::Dependencies`].
    ReadDependencies(Vec<OsString>),
    /// Watch these services (the set replaces any before) until each is up and ready or has a
    /// `down` file; answer [`Event::Readiness`] now, and again whenever a service changes.
    AwaitReady(Vec<OsString>),
    /// Stop watching the services' readiness.
    EndAwait,
    /// Have the supervise of this service SIGKILL it, if it still runs (`k`).
    ForceKill(OsString),
    /// List the children of svscan; answer [`Event::Orphans`].
    FindOrphans,
    /// Signal every process left: as PID 1 all of the namespace, else svscan's descendants.
    SignalLeftovers(Sig),
    /// Reap what has terminated; answer [`Event::Reaped`] for each, then [`Event::NoChildren`]
    /// if no child is left.
    Reap,
    /// Take the terminal back from the main command's process group.
    TakeTerminal,
    Report(Report),
    /// svscan exits with this code; nothing follows.
    Exit(u8),
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Set-up is done: start.
    Begin,
    /// [`Effect::SyncEnv`] done; `false` after a fatal message (a file could not be read or
    /// written).
    EnvSynced(bool),
    Scripts(VecDeque<PathBuf>),
    /// [`Effect::StartScript`] done: the script's pid, or `None` if it could not be forked.
    ScriptStarted(Option<Pid>),
    /// [`Effect::SpawnMain`] done: its pid, or the exit code for why it could not start.
    MainStarted(Result<Pid, u8>),
    /// The scan directory as read; `retry`: something in it could not be examined yet.
    Scanned {
        entries: Vec<Entry>,
        retry: bool,
    },
    /// The scan directory could not be read.
    ScanFailed,
    SuperviseStarted {
        id: Id,
        pid: Option<Pid>,
    },
    /// inotify saw the scan directory change.
    DirChanged,
    /// There is no inotify (or no more): rescan every [`super::RESCAN`].
    InotifyLost,
    /// inotify works again (it could not be set up for want of a resource, and now could):
    /// changes are seen as they happen, rescans are no longer periodic.
    InotifyBack,
    /// svscan's children (orphans among them), for [`Effect::FindOrphans`].
    Orphans(Vec<Pid>),
    Signal(Sig),
    Reaped(Pid, Exit),
    /// svscan has no child left at all.
    NoChildren,
    /// [`Effect::ReadDependencies`] done: the dependencies of each service that has any (a
    /// directory that could not be read counts as none).
    Dependencies(Vec<(OsString, Vec<OsString>)>),
    /// The services of [`Effect::AwaitReady`] not ready yet, sorted (none: all are); `watched`:
    /// a change will be told by another such event (`false`: inotify could not be used, ask
    /// again later).
    Readiness {
        not_ready: Vec<OsString>,
        watched: bool,
    },
    /// A supervise says its essential service stopped for good with this code.
    Notice {
        pid: Pid,
        code: u8,
    },
    /// A supervise closed the log pipe on its way out and waits for its logger: a backgrounded
    /// child of its service, just orphaned, may hold the pipe.
    Draining(Pid),
    /// Time passed (a deadline may be due).
    Tick,
}
