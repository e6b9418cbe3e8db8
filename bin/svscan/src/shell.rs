//! svscan's shell: start-up scripts and the container environment, the scan directory and its
//! inotify watches, starting and reaping supervise processes, the main command, signals, and the
//! ordered, deadline-bounded shutdown. One loop, one `poll`; its timeout is the nearest deadline
//! (a throttled restart, a shutdown bound), or none: an idle svscan never wakes. Without inotify
//! it rescans every 5 s, as runsvdir does.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use herd_diag::{emit, Diag, Kind, Reason};
use herd_status::Exit;
use herd_sys::signal::{self, Sig};
use herd_sys::{descendants, reap_any, Command, Reaped};
use inotify::{Inotify, WatchDescriptor, WatchMask};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags, Timespec};

use crate::proctitle::{self, Title};
use crate::scripts;
use crate::table::{Action, Entry, Id, Table};
use crate::{Config, StopBound};

/// Every signal that has no job must not kill svscan: all are blocked and read from a signalfd.
const BLOCKED: [Sig; 19] = [
    Sig::SIGHUP,
    Sig::SIGINT,
    Sig::SIGQUIT,
    Sig::SIGUSR1,
    Sig::SIGUSR2,
    Sig::SIGPIPE,
    Sig::SIGALRM,
    Sig::SIGTERM,
    Sig::SIGCHLD,
    Sig::SIGCONT,
    Sig::SIGTSTP,
    Sig::SIGTTIN,
    Sig::SIGTTOU,
    Sig::SIGURG,
    Sig::SIGXCPU,
    Sig::SIGXFSZ,
    Sig::SIGVTALRM,
    Sig::SIGPROF,
    Sig::SIGWINCH,
];
/// Signals passed on to the main command while it runs (SIGTERM and SIGINT also stop svscan).
const FORWARDED: [Sig; 7] = [
    Sig::SIGTERM,
    Sig::SIGINT,
    Sig::SIGHUP,
    Sig::SIGQUIT,
    Sig::SIGUSR1,
    Sig::SIGUSR2,
    Sig::SIGWINCH,
];
/// Set to `0` to do without inotify.
const INOTIFY_ENV: &str = "SVSCAN_INOTIFY";
/// Tells each supervise which inherited descriptor takes its essential-service notices.
const NOTIFY_ENV: &str = "SVSCAN_NOTIFY_FD";
/// runsvdir's rescan period, used only when inotify is missing (or a dangling symlink waits).
const RESCAN: Duration = Duration::from_secs(5);
/// While the supervisors stop, processes orphaned since (a service's backgrounded children,
/// which may hold its log pipe open) are looked for this often, and get SIGTERM.
const SWEEP: Duration = Duration::from_millis(10);
/// How long to wait for the last reaps after the final SIGKILL.
const KILL_GRACE: Duration = Duration::from_millis(500);
/// Every 15 minutes runsvdir scrolls its log window by one '.'.
const TITLE_TICK: Duration = Duration::from_secs(900);

/// Exit codes.
pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FATAL: u8 = 100;
pub const EXIT_HANGUP: u8 = 111;
/// The shutdown bound passed and something had to be SIGKILLed.
pub const EXIT_FORCED: u8 = 124;
/// The main command or a script exists but cannot be executed.
pub const EXIT_CANNOT_EXEC: u8 = 126;
/// The main command was not found.
pub const EXIT_NOT_FOUND: u8 = 127;

const SCAN_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF);
const PENDING_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF);
const CHAIN_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The main command got the signal; waiting for it to exit.
    Cmd,
    /// Pre-shutdown scripts run one by one.
    PreScripts,
    /// Every supervise got SIGTERM; waiting for them.
    Supervisors,
    /// Post-shutdown scripts run one by one.
    PostScripts,
    /// What is left got SIGTERM; waiting for no child to be left.
    Leftovers,
    /// The bound passed: everything got SIGKILL.
    Killed,
}

struct Shutdown {
    code: u8,
    /// The code is the main command's, an essential service's or a failed start-up's: it stands
    /// even when the bound forces a kill.
    fixed: bool,
    stage: Stage,
    /// The main command and the pre-shutdown scripts get until this.
    early: Instant,
    /// The supervisors get until this; then a service still running is killed (supervise's `k`).
    services: Instant,
    /// Whether something had to be killed: the exit code is then 124 (unless fixed).
    forced: bool,
    /// Children that were orphans already when the services began to stop (daemons of start-up
    /// scripts, stopped after the services, as phusion does), and new orphans signalled since.
    old_orphans: Vec<i32>,
    swept: Vec<i32>,
    sweep_at: Instant,
    /// Everything left is killed at this.
    end: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScriptKind {
    Startup,
    PreShutdown,
    PostShutdown,
}

struct Script {
    pid: i32,
    path: PathBuf,
    kind: ScriptKind,
}

/// The inotify watches: the scan dir, the parents of each symlink on the way to it, and new
/// service directories that have no `run` yet.
struct Watches {
    ino: Inotify,
    scan: Option<WatchDescriptor>,
    /// (watch on a parent directory, the name in it that leads to the scan dir).
    chain: Vec<(WatchDescriptor, OsString)>,
    pending: Vec<(Id, WatchDescriptor)>,
}

struct Svscan<'a> {
    config: &'a Config,
    diag: Diag,
    dir: Option<&'a OsStr>,
    supervise: PathBuf,
    pid1: bool,
    table: Table,
    watches: Option<Watches>,
    /// A scan found a dangling symlink: look again in 5 s (it may be fixed without an event here).
    retry_at: Option<Instant>,
    shutdown: Option<Shutdown>,
    actions: Vec<Action>,
    /// Start-up is over: the services are scanned and the main command runs.
    started: bool,
    /// The scripts still to run in this phase, and the one running.
    queue: VecDeque<PathBuf>,
    script: Option<Script>,
    /// The main command, while it runs.
    cmd: Option<i32>,
    /// The main command got the SIGTERM/SIGINT that started the shutdown.
    cmd_told: bool,
    /// The essential-service notice pipe (read end, write end), and a partial line read from it.
    notify: Option<(OwnedFd, OwnedFd)>,
    notice: Vec<u8>,
    env: Option<herd_contenv::ContainerEnv>,
}

/// Where `supervise` is: next to this svscan, else on PATH.
fn find_supervise() -> PathBuf {
    if let Some(p) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("supervise")))
    {
        if p.is_file() {
            return p;
        }
    }
    find_in_path(OsStr::new("supervise")).unwrap_or_else(|| PathBuf::from("supervise"))
}

/// `name` looked up as `execvp` would: as is if it holds a `/`, else in each `PATH` directory.
fn find_in_path(name: &OsStr) -> Option<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(name));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0))
}

/// Ready once `run` is there and executable: starting before the chmod of a new run would
/// cost a failed exec and a 1 s pause.
fn run_ready(service: &Path) -> bool {
    std::fs::metadata(service.join("run")).is_ok_and(|m| m.mode() & 0o100 != 0)
}

fn timespec(until: Instant) -> Timespec {
    let left = until.saturating_duration_since(Instant::now());
    Timespec {
        tv_sec: left.as_secs() as _,
        tv_nsec: left.subsec_nanos() as _,
    }
}

/// Runs svscan until it exits; returns the exit code.
pub fn run(config: &Config, argv: &[OsString]) -> u8 {
    let diag = Diag::new(config.name.clone());
    let sigfd = match signal::block(&BLOCKED).and_then(|_| signal::signal_fd(&BLOCKED)) {
        Ok(fd) => fd,
        Err(e) => {
            diag.fatal(&format_args!(
                "unable to set up signals: {}",
                Reason(e as i32)
            ));
            return EXIT_FATAL;
        }
    };
    let pid1 = std::process::id() == 1;
    if !pid1 {
        // Orphans of services are re-parented to us, so that we reap them as PID 1 would.
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }

    let mut title = None;
    let mut title_pipe: Option<OwnedFd> = None;
    if let Some((index, log)) = &config.log {
        match setup_log(argv, *index, log, &diag) {
            Some((t, r)) => {
                title = Some(t);
                title_pipe = Some(r);
            }
            None => diag.warn(&"log service disabled."),
        }
    }
    // Both ends close-on-exec: each supervise gets the write end by number (`Command::fd`).
    let notify = rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    )
    .ok();

    let mut sv = Svscan {
        config,
        diag,
        dir: config.dir.as_deref(),
        supervise: find_supervise(),
        pid1,
        table: Table::default(),
        watches: None,
        retry_at: None,
        shutdown: None,
        actions: Vec::new(),
        started: false,
        queue: VecDeque::new(),
        script: None,
        cmd: None,
        cmd_told: false,
        notify,
        notice: Vec::new(),
        env: config
            .env_dir
            .as_ref()
            .map(|d| herd_contenv::ContainerEnv::new(d.clone())),
    };
    // SVSCAN_INOTIFY=0: rescan every 5 s instead, as runsvdir does (for scan dirs on filesystems
    // whose changes inotify does not see, such as NFS).
    if sv.dir.is_some() && std::env::var_os(INOTIFY_ENV).is_none_or(|v| v != "0") {
        match Inotify::init() {
            Ok(ino) => {
                sv.watches = Some(Watches {
                    ino,
                    scan: None,
                    chain: Vec::new(),
                    pending: Vec::new(),
                })
            }
            Err(e) => sv.inotify_lost(&e),
        }
    }
    if !sv.sync_env(true) {
        return EXIT_FATAL;
    }
    sv.queue = scripts::list(&config.startup);
    sv.advance_startup();

    let mut buf = [0u8; 4096];
    let mut title_at = Instant::now() + TITLE_TICK;
    loop {
        let now = Instant::now();
        sv.start_due(now);
        if let Some(code) = sv.shutdown_progress(now) {
            return code;
        }
        let mut wake = [
            sv.table.next_deadline(),
            sv.retry_at,
            sv.shutdown.as_ref().map(Shutdown::next_deadline),
        ]
        .into_iter()
        .flatten()
        .min();
        if sv.dir.is_some() && sv.started && sv.watches.is_none() && sv.shutdown.is_none() {
            wake = Some(wake.map_or(now + RESCAN, |w| w.min(now + RESCAN)));
        }
        if title.is_some() {
            wake = Some(wake.map_or(title_at, |w| w.min(title_at)));
        }
        let timeout = wake.map(timespec);

        let (sig_ready, ino_ready, log_ready, notice_ready) = {
            let ino_fd = sv.watches.as_ref().map(|w| w.ino.as_fd());
            let mut fds = vec![PollFd::new(&sigfd, PollFlags::IN)];
            fn add<'f>(fd: Option<BorrowedFd<'f>>, fds: &mut Vec<PollFd<'f>>) -> Option<usize> {
                fds.push(PollFd::from_borrowed_fd(fd?, PollFlags::IN));
                Some(fds.len() - 1)
            }
            let ino_i = add(ino_fd, &mut fds);
            let log_i = add(title_pipe.as_ref().map(|f| f.as_fd()), &mut fds);
            let notice_i = add(sv.notify.as_ref().map(|(r, _)| r.as_fd()), &mut fds);
            let _ = poll(&mut fds, timeout.as_ref());
            let r = |i: Option<usize>| i.is_some_and(|i| !fds[i].revents().is_empty());
            (r(Some(0)), r(ino_i), r(log_i), r(notice_i))
        };

        if sig_ready {
            let mut pending = 0u64;
            for s in signal::drain(&sigfd).iter() {
                pending |= 1 << (s as u64 & 63);
            }
            sv.signals(pending);
        }
        if notice_ready {
            sv.read_notices();
        }
        if ino_ready {
            sv.read_events(&mut buf);
        }
        if log_ready {
            if let (Some(t), Some(fd)) = (title.as_mut(), title_pipe.as_ref()) {
                while let Ok(n @ 1..) = rustix::io::read(fd, &mut buf) {
                    t.push(&buf[..n]);
                }
            }
        }
        let now = Instant::now();
        if sv.retry_at.is_some_and(|t| t <= now)
            || (sv.watches.is_none() && wake.is_some_and(|w| w <= now))
        {
            sv.retry_at = None;
            if sv.shutdown.is_none() && sv.started {
                sv.rescan();
            }
        }
        if let Some(t) = title.as_mut().filter(|_| now >= title_at) {
            t.push(b".");
            title_at = now + TITLE_TICK;
        }
    }
}

impl Shutdown {
    /// When the shutdown must next move on without an event.
    fn next_deadline(&self) -> Instant {
        match self.stage {
            Stage::Cmd | Stage::PreScripts => self.early.min(self.end),
            Stage::Supervisors => self.services.min(self.end).min(self.sweep_at),
            Stage::PostScripts | Stage::Leftovers | Stage::Killed => self.end,
        }
    }
}

/// runsvdir's readproctitle log: stderr becomes a pipe that we read into our argv.
fn setup_log(
    argv: &[OsString],
    index: usize,
    log: &OsStr,
    diag: &Diag,
) -> Option<(Title, OwnedFd)> {
    if log.as_bytes().len() < proctitle::MIN_LEN {
        diag.warn(&"log must have at least seven characters.");
        return None;
    }
    let title = Title::new(argv, index)?;
    let (r, w) = rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    )
    .ok()?;
    // The read end is ours; the write end becomes fd 2 for us and every child.
    if rustix::stdio::dup2_stderr(&w).is_err() {
        diag.warn(&"unable to set filedescriptor for log.");
        return None;
    }
    Some((title, r))
}

impl Svscan<'_> {
    fn inotify_lost(&mut self, e: &std::io::Error) {
        if self.watches.take().is_some() || e.raw_os_error().is_some() {
            self.diag.warn(&format_args!(
                "unable to use inotify: {}: rescanning every 5 seconds",
                Reason::of(e)
            ));
        }
    }

    /// Watches the scan dir (following symlinks) and the parent of every symlink on the way to it,
    /// so that switching a link such as Debian's `/etc/service`, or creating a missing scan dir,
    /// is seen at once.
    fn watch_scan_dir(&mut self) {
        let Some(w) = self.watches.as_mut() else {
            return;
        };
        let Some(dir) = self.dir.map(Path::new) else {
            return;
        };
        for (wd, _) in w.chain.drain(..) {
            let _ = w.ino.watches().remove(wd);
        }
        let mut link = dir.to_path_buf();
        for _ in 0..16 {
            let parent = match link.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let Some(name) = link.file_name().map(OsStr::to_os_string) else {
                break;
            };
            if let Ok(wd) = w
                .ino
                .watches()
                .add(&parent, CHAIN_MASK | WatchMask::ONLYDIR)
            {
                w.chain.push((wd, name));
            }
            match std::fs::read_link(&link) {
                Ok(target) => link = parent.join(target),
                Err(_) => break,
            }
        }
        match w.ino.watches().add(dir, SCAN_MASK) {
            Ok(new) => {
                if let Some(old) = w.scan.replace(new.clone()).filter(|old| *old != new) {
                    let _ = w.ino.watches().remove(old);
                }
            }
            // A missing scan dir: the scan warns, and the watch on its parent sees it appear.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) => {
                if let Some(old) = w.scan.take() {
                    let _ = w.ino.watches().remove(old);
                }
            }
            Err(e) => self.inotify_lost(&e),
        }
    }

    fn read_events(&mut self, buf: &mut [u8]) {
        let Some(w) = self.watches.as_mut() else {
            return;
        };
        let mut rewatch = false;
        let mut rescan = false;
        match w.ino.read_events(buf) {
            Ok(events) => {
                for ev in events {
                    if ev.mask.contains(inotify::EventMask::Q_OVERFLOW) {
                        rewatch = true;
                        rescan = true;
                    }
                    // A parent directory on the way to DIR: only the name that leads to DIR counts,
                    // so that busy parents such as /etc cost no rescan.
                    if w.chain
                        .iter()
                        .any(|(wd, name)| *wd == ev.wd && ev.name == Some(name.as_os_str()))
                    {
                        rewatch = true;
                        rescan = true;
                    }
                    if w.scan.as_ref() == Some(&ev.wd) {
                        rescan = true;
                        if ev.mask.intersects(
                            inotify::EventMask::DELETE_SELF | inotify::EventMask::MOVE_SELF,
                        ) {
                            rewatch = true;
                        }
                    }
                    if w.pending.iter().any(|(_, wd)| *wd == ev.wd) {
                        rescan = true;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => self.inotify_lost(&e),
        }
        if rewatch {
            self.watch_scan_dir();
        }
        if rescan && self.shutdown.is_none() && self.started {
            self.rescan();
        }
    }

    /// Reads the scan dir and updates the table; watches new directories that have no `run` yet.
    fn rescan(&mut self) {
        let Some(dir) = self.dir.map(Path::new) else {
            return;
        };
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => {
                self.diag.warn(&format_args!(
                    "unable to open directory {}: {}",
                    dir.display(),
                    Reason::of(&e)
                ));
                self.retry_at = Some(Instant::now() + RESCAN);
                return;
            }
        };
        if self.watches.as_ref().is_some_and(|w| w.scan.is_none()) {
            self.watch_scan_dir();
        }
        let mut entries = Vec::new();
        let mut dangling = false;
        for ent in rd {
            let ent = match ent {
                Ok(e) => e,
                Err(e) => {
                    self.diag.warn(&format_args!(
                        "unable to read directory {}: {}",
                        dir.display(),
                        Reason::of(&e)
                    ));
                    dangling = true;
                    break;
                }
            };
            let name = ent.file_name();
            if name.as_bytes().first() == Some(&b'.') {
                continue;
            }
            let path = dir.join(&name);
            let md = match std::fs::metadata(&path) {
                Ok(md) => md,
                Err(e) => {
                    self.diag.warn(&format_args!(
                        "unable to stat {}: {}",
                        name.to_string_lossy(),
                        Reason::of(&e)
                    ));
                    dangling = true;
                    continue;
                }
            };
            if !md.is_dir() {
                continue;
            }
            // Ready once `run` is there and executable: starting before the chmod of a new run
            // would cost a failed exec and a 1 s pause.
            let ready = std::fs::metadata(path.join("run")).is_ok_and(|m| m.mode() & 0o100 != 0);
            entries.push(Entry {
                name,
                id: (md.dev(), md.ino()),
                ready,
            });
        }
        self.retry_at = dangling.then(|| Instant::now() + RESCAN);
        if self.update_pending(&mut entries) {
            // A `run` appeared between our look and the watch: it counts now.
            for e in entries.iter_mut() {
                e.ready = e.ready || run_ready(&dir.join(&e.name));
            }
        }
        let mut actions = std::mem::take(&mut self.actions);
        self.table.scan(&entries, Instant::now(), &mut actions);
        self.apply(&mut actions);
        self.actions = actions;
    }

    /// Keeps a watch on each service directory that waits for its `run`, and only on those.
    /// Returns whether a newly watched directory turned out ready after all (its `run` came
    /// between the scan's look and the watch), so that the caller looks again.
    fn update_pending(&mut self, entries: &mut [Entry]) -> bool {
        let Some(w) = self.watches.as_mut() else {
            return false;
        };
        let table = &self.table;
        let waiting = |id: Id, entries: &[Entry]| {
            entries.iter().any(|e| e.id == id && !e.ready) && !table.knows(id)
        };
        w.pending.retain(|(id, wd)| {
            let keep = waiting(*id, entries);
            if !keep {
                let _ = w.ino.watches().remove(wd.clone());
            }
            keep
        });
        let mut late = false;
        for e in entries.iter() {
            if !waiting(e.id, entries) || w.pending.iter().any(|(id, _)| *id == e.id) {
                continue;
            }
            let Some(dir) = self.dir else {
                continue;
            };
            let path = Path::new(dir).join(&e.name);
            if let Ok(wd) = w.ino.watches().add(&path, PENDING_MASK) {
                w.pending.push((e.id, wd));
            }
            late |= run_ready(&path);
        }
        late
    }

    fn start_due(&mut self, now: Instant) {
        if self.shutdown.is_some() || !self.started {
            return;
        }
        let mut actions = std::mem::take(&mut self.actions);
        self.table.due(now, &mut actions);
        self.apply(&mut actions);
        self.actions = actions;
    }

    fn apply(&mut self, actions: &mut Vec<Action>) {
        for a in actions.drain(..) {
            match a {
                Action::Start { id, name } => {
                    let pid = self.spawn(&name);
                    self.table.started(id, pid, Instant::now());
                }
                Action::Term(pid) => {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                }
            }
        }
    }

    /// `supervise NAME` with cwd the scan dir (re-resolved at each start, so a switched symlink
    /// counts), an empty signal mask, default signal dispositions, and the notice pipe.
    fn spawn(&self, name: &OsStr) -> Option<i32> {
        let dir = Path::new(self.dir?);
        let shown = name.to_string_lossy();
        let mut c = Command::new(
            &self.supervise,
            self.diag.head(
                Kind::Fatal,
                &format_args!("unable to start supervise {shown}"),
            ),
        )
        .ok()?;
        c.set_args([name]).ok()?;
        c.current_dir(
            dir,
            self.diag.head(
                Kind::Fatal,
                &format_args!("unable to change directory to {}", dir.display()),
            ),
        )
        .ok()?;
        c.setsid(self.config.setsid);
        c.reset_signals(true);
        if let Some((_, w)) = &self.notify {
            let fd = w.as_raw_fd();
            c.fd(w.as_fd(), fd);
            c.env(OsStr::new(NOTIFY_ENV), OsStr::new(&fd.to_string()))
                .ok()?;
        }
        match c.spawn() {
            Ok(pid) => Some(pid.as_raw()),
            Err(e) => {
                self.diag.warn(&format_args!(
                    "unable to fork for {shown}: {}",
                    Reason(e as i32)
                ));
                None
            }
        }
    }

    /// my_init's `*** ` progress line on stderr (not with `--quiet`, never for plain svscan).
    fn info(&self, msg: fmt::Arguments<'_>) {
        if self.config.verbose {
            emit(format!("*** {msg}\n"));
        }
    }

    /// The container environment, if configured: at start (`initial`) its files are imported
    /// (variables already set win) and everything is written back; after a start-up script the
    /// directory's view replaces the environment and `.sh`/`.json` are rewritten. Files that
    /// cannot be variables (`=` in the name, NUL in the value) get a warning. `false` after a
    /// fatal message: a file could not be read or written.
    fn sync_env(&self, initial: bool) -> bool {
        let Some(env) = &self.env else {
            return true;
        };
        let done = if initial {
            env.import_initial()
        } else {
            env.import_replace()
        }
        .and_then(|skipped| {
            env.export_process_env(initial)?;
            Ok(skipped)
        });
        match done {
            Ok(skipped) => {
                for n in skipped {
                    self.diag.warn(&format_args!(
                        "unable to set {} from the container environment: invalid name or value",
                        n.to_string_lossy()
                    ));
                }
                true
            }
            Err(f) => {
                self.diag.fatal(&f);
                false
            }
        }
    }

    /// Runs start-up scripts one at a time; when none is left, starts the services and the
    /// main command.
    fn advance_startup(&mut self) {
        while !self.started && self.shutdown.is_none() && self.script.is_none() {
            match self.queue.pop_front() {
                Some(path) => {
                    self.info(format_args!("Running {}...", path.display()));
                    if !self.start_script(path, ScriptKind::Startup) {
                        self.begin_shutdown(EXIT_CANNOT_EXEC, true);
                    }
                }
                None => {
                    self.started = true;
                    if let Some(dir) = self.dir {
                        self.info(format_args!(
                            "Starting the services in {}...",
                            Path::new(dir).display()
                        ));
                        self.watch_scan_dir();
                        self.rescan();
                    }
                    if !self.config.cmd.is_empty() {
                        self.spawn_cmd();
                    }
                }
            }
        }
    }

    /// Starts one script; `false` if it could not be forked.
    fn start_script(&mut self, path: PathBuf, kind: ScriptKind) -> bool {
        let shown = path.display().to_string();
        let Ok(mut c) = Command::new(
            &path,
            self.diag
                .head(Kind::Fatal, &format_args!("unable to run {shown}")),
        ) else {
            return false;
        };
        c.failure_code(EXIT_CANNOT_EXEC);
        c.reset_signals(true);
        match c.spawn() {
            Ok(pid) => {
                self.script = Some(Script {
                    pid: pid.as_raw(),
                    path,
                    kind,
                });
                true
            }
            Err(e) => {
                self.diag.warn(&format_args!(
                    "unable to fork for {shown}: {}",
                    Reason(e as i32)
                ));
                false
            }
        }
    }

    fn script_done(&mut self, script: Script, exit: Exit) {
        let code = exit.shell_code();
        let shown = script.path.display();
        match script.kind {
            ScriptKind::Startup if self.shutdown.is_some() => {}
            ScriptKind::Startup if code != 0 => {
                self.diag
                    .fatal(&format_args!("{shown} failed with status {code}"));
                self.begin_shutdown(code as u8, true);
            }
            ScriptKind::Startup => {
                // A script may have changed the container environment: what it wrote is what
                // later scripts, the services and the main command see.
                if !self.sync_env(false) {
                    self.begin_shutdown(EXIT_FATAL, true);
                }
            }
            ScriptKind::PreShutdown | ScriptKind::PostShutdown if code != 0 => {
                self.diag
                    .warn(&format_args!("{shown} failed with status {code}"));
            }
            ScriptKind::PreShutdown | ScriptKind::PostShutdown => {}
        }
    }

    /// Runs the main command in the foreground: its own process group, given the terminal.
    fn spawn_cmd(&mut self) {
        let cmd = &self.config.cmd;
        let shown = cmd[0].to_string_lossy().into_owned();
        let Some(path) = find_in_path(&cmd[0]) else {
            self.diag.fatal(&format_args!(
                "unable to run {shown}: {}",
                Reason(rustix::io::Errno::NOENT.raw_os_error())
            ));
            self.begin_shutdown(EXIT_NOT_FOUND, true);
            return;
        };
        let spawned = Command::new(
            &path,
            self.diag
                .head(Kind::Fatal, &format_args!("unable to run {shown}")),
        )
        .and_then(|mut c| {
            c.arg0(&cmd[0])?;
            c.set_args(&cmd[1..])?;
            c.failure_code(EXIT_CANNOT_EXEC);
            c.reset_signals(true);
            c.foreground(true);
            Ok(c)
        });
        let pid = match spawned.map(|c| c.spawn()) {
            Ok(Ok(pid)) => pid,
            _ => {
                self.diag.fatal(&format_args!("unable to start {shown}"));
                self.begin_shutdown(EXIT_CANNOT_EXEC, true);
                return;
            }
        };
        // The child does the same; whichever runs first wins the race with a signal.
        let _ = nix::unistd::setpgid(pid, pid);
        self.cmd = Some(pid.as_raw());
        let line: Vec<String> = cmd
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        self.info(format_args!("Running {}...", line.join(" ")));
    }

    fn cmd_done(&mut self, exit: Exit) {
        // Take the terminal back from the main command's process group.
        let stdin = std::io::stdin();
        if nix::unistd::isatty(&stdin).unwrap_or(false) {
            let _ = nix::unistd::tcsetpgrp(&stdin, nix::unistd::getpgrp());
        }
        let code = exit.shell_code().clamp(0, 255) as u8;
        self.info(format_args!(
            "{} exited with status {code}.",
            self.config.cmd[0].to_string_lossy()
        ));
        match &mut self.shutdown {
            Some(s) if !s.fixed => {
                s.code = code;
                s.fixed = true;
            }
            Some(_) => {}
            None => self.begin_shutdown(code, true),
        }
    }

    /// Handles a set of signals (bit n = signal n).
    fn signals(&mut self, pending: u64) {
        let has = |s: Signal| pending & (1 << s as u64) != 0;
        if has(Signal::SIGCHLD) {
            self.reap();
        }
        if let Some(cmd) = self.cmd {
            for s in FORWARDED {
                if has(s) {
                    let _ = kill(Pid::from_raw(cmd), s);
                }
            }
        }
        if has(Signal::SIGTERM) || has(Signal::SIGINT) {
            self.cmd_told = self.cmd.is_some();
            self.begin_shutdown(EXIT_CLEAN, false);
        }
        if has(Signal::SIGHUP) && self.cmd.is_none() {
            self.begin_shutdown(EXIT_HANGUP, false);
        }
        if has(Signal::SIGALRM) && self.shutdown.is_none() && self.started {
            self.rescan();
        }
    }

    /// Reads essential-service notices (`PID CODE\n` from a supervise): such a service stopped
    /// for good, so everything stops, and svscan exits with its code.
    fn read_notices(&mut self) {
        let Some((r, _)) = self.notify.as_ref() else {
            return;
        };
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = rustix::io::read(r, &mut buf) {
            self.notice.extend_from_slice(&buf[..n]);
        }
        while let Some(nl) = self.notice.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.notice.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line[..nl]);
            let mut words = text.split(' ');
            let (Some(Ok(pid)), Some(Ok(code))) = (
                words.next().map(str::parse::<i32>),
                words.next().map(str::parse::<u8>),
            ) else {
                continue;
            };
            let Some(name) = self.table.name_of(pid) else {
                continue;
            };
            if self.shutdown.is_none() {
                self.diag.warn(&format_args!(
                    "essential service {} stopped with status {code}: stopping everything",
                    name.to_string_lossy()
                ));
                self.begin_shutdown(code, true);
            }
        }
        // A notice never needs more than a line; drop garbage.
        if self.notice.len() > 4096 {
            self.notice.clear();
        }
    }

    /// Reaps every child that has terminated: supervise processes, scripts, the main command
    /// and orphans alike. `true` when no child is left at all.
    fn reap(&mut self) -> bool {
        loop {
            match reap_any() {
                Reaped::Child(pid, exit) => self.reaped(pid.as_raw(), exit),
                Reaped::NoChildren => return true,
                Reaped::Running => return false,
            }
        }
    }

    fn reaped(&mut self, pid: i32, exit: Exit) {
        if self.table.reaped(pid) {
            return;
        }
        if self.script.as_ref().is_some_and(|s| s.pid == pid) {
            if let Some(s) = self.script.take() {
                self.script_done(s, exit);
                self.advance_startup();
            }
        } else if self.cmd == Some(pid) {
            self.cmd = None;
            self.cmd_done(exit);
        }
    }

    fn begin_shutdown(&mut self, code: u8, fixed: bool) {
        if let Some(s) = &mut self.shutdown {
            if !s.fixed && (fixed || code == EXIT_HANGUP) {
                s.code = code;
                s.fixed = fixed;
            }
            return;
        }
        let now = Instant::now();
        let (early, services, end) = match self.config.stop {
            // The services get three quarters of the bound; post-shutdown scripts and the
            // last sweep the rest.
            StopBound::Total(d) => (now + d / 2, now + d * 3 / 4, now + d),
            StopBound::Phased { services, all } => {
                (now + services / 2, now + services, now + services + all)
            }
        };
        self.queue.clear();
        // A start-up script still running is stopped first, like the main command.
        if let Some(s) = self
            .script
            .as_ref()
            .filter(|s| s.kind == ScriptKind::Startup)
        {
            let _ = kill(Pid::from_raw(s.pid), Signal::SIGTERM);
            let _ = kill(Pid::from_raw(s.pid), Signal::SIGCONT);
        }
        // The main command stops first: it gets SIGTERM unless it already got the signal that
        // started this shutdown.
        if let Some(cmd) = self.cmd.filter(|_| !self.cmd_told) {
            let _ = kill(Pid::from_raw(cmd), Signal::SIGTERM);
            let _ = kill(Pid::from_raw(cmd), Signal::SIGCONT);
        }
        self.info(format_args!("Shutting down..."));
        self.shutdown = Some(Shutdown {
            code,
            fixed,
            stage: Stage::Cmd,
            early,
            services,
            forced: false,
            old_orphans: Vec::new(),
            swept: Vec::new(),
            sweep_at: end,
            end,
        });
    }

    /// Signals every process left: as PID 1 every process of the namespace, otherwise our own
    /// descendants (orphans of services come to us as the subreaper).
    fn signal_leftovers(&self, sig: Signal) {
        if self.pid1 {
            let _ = kill(Pid::from_raw(-1), sig);
        } else {
            for p in descendants(Pid::this()) {
                let _ = kill(p, sig);
            }
        }
    }

    /// A script still running when its time is up is SIGKILLed (and left to the reaping).
    fn kill_script(&mut self) {
        if let Some(s) = self.script.take() {
            self.diag
                .warn(&format_args!("{} took too long: killed", s.path.display()));
            let _ = kill(Pid::from_raw(s.pid), Signal::SIGKILL);
        }
    }

    /// Starts the next script of the queue, if any; `true` if one runs.
    fn next_script(&mut self, kind: ScriptKind) -> bool {
        while self.script.is_none() {
            let Some(path) = self.queue.pop_front() else {
                return false;
            };
            self.start_script(path, kind);
        }
        true
    }

    /// Direct children that are none of ours: orphans re-parented to us (PID 1 or subreaper).
    fn orphans(&self) -> Vec<i32> {
        let me = std::process::id();
        let Ok(list) = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")) else {
            return Vec::new();
        };
        let script = self.script.as_ref().map(|s| s.pid);
        list.split_ascii_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
            .filter(|&p| Some(p) != self.cmd && Some(p) != script)
            .filter(|&p| !self.table.pids().any(|s| s == p))
            .collect()
    }

    /// SIGTERM (and SIGCONT) to processes orphaned since the services began to stop: a
    /// service's backgrounded child that holds its log pipe would otherwise keep the logger,
    /// and so the stop, waiting.
    fn sweep(&mut self, now: Instant) {
        let orphans = self.orphans();
        let Some(s) = self.shutdown.as_mut() else {
            return;
        };
        for p in orphans {
            if !s.old_orphans.contains(&p) && !s.swept.contains(&p) {
                let _ = kill(Pid::from_raw(p), Signal::SIGTERM);
                let _ = kill(Pid::from_raw(p), Signal::SIGCONT);
                s.swept.push(p);
            }
        }
        s.sweep_at = now + SWEEP;
    }

    /// The services' part of the bound is over: every service still running is SIGKILLed by its
    /// supervise (`k`), which then drains the logger and exits, so that the post-shutdown
    /// scripts and the last sweep still run within the bound.
    fn kill_services(&mut self) {
        if let Some(s) = self.shutdown.as_mut() {
            s.forced = true;
        }
        let Some(dir) = self.dir.map(Path::new) else {
            return;
        };
        for (name, _) in self.table.live() {
            let service = dir.join(name);
            let running = std::fs::read_to_string(service.join("supervise/pid"))
                .is_ok_and(|p| !p.trim().is_empty());
            if !running {
                continue;
            }
            self.diag.warn(&format_args!(
                "{} did not stop in time: killed",
                name.to_string_lossy()
            ));
            let control = service.join("supervise/control");
            let _ = herd_control::write_control(&control, &[herd_control::Control::Kill]);
        }
    }

    /// Moves the shutdown on; `Some(code)` when svscan should exit now.
    fn shutdown_progress(&mut self, now: Instant) -> Option<u8> {
        self.shutdown.as_ref()?;
        let empty = self.reap();
        loop {
            let s = self.shutdown.as_ref()?;
            let (stage, code) = (s.stage, s.code);
            let (early, services) = (now >= s.early, now >= s.services);
            let (forced, sweep_due) = (s.forced, now >= s.sweep_at);
            let final_code = if (stage == Stage::Killed || s.forced) && !s.fixed {
                EXIT_FORCED
            } else {
                code
            };
            let next = match stage {
                Stage::Cmd if (self.cmd.is_none() && self.script.is_none()) || early => {
                    self.kill_script();
                    if let Some(dir) = &self.config.pre_shutdown {
                        self.queue = scripts::list(std::slice::from_ref(dir));
                    }
                    Stage::PreScripts
                }
                Stage::PreScripts => {
                    if early {
                        self.kill_script();
                        self.queue.clear();
                    }
                    if self.next_script(ScriptKind::PreShutdown) {
                        break;
                    }
                    if self.dir.is_some() {
                        self.info(format_args!("Stopping the services..."));
                    }
                    // The orphans of before, read before any service can make new ones.
                    let old = self.orphans();
                    for pid in self.table.pids() {
                        let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                    }
                    if let Some(s) = self.shutdown.as_mut() {
                        s.old_orphans = old;
                        s.sweep_at = now + SWEEP;
                    }
                    Stage::Supervisors
                }
                Stage::Supervisors if self.table.pids().next().is_none() => {
                    if let Some(dir) = &self.config.post_shutdown {
                        self.queue = scripts::list(std::slice::from_ref(dir));
                    }
                    Stage::PostScripts
                }
                Stage::PostScripts => {
                    if self.next_script(ScriptKind::PostShutdown) {
                        break;
                    }
                    if !self.config.kill_all {
                        return Some(code);
                    }
                    self.info(format_args!("Killing all processes..."));
                    self.signal_leftovers(Signal::SIGTERM);
                    self.signal_leftovers(Signal::SIGCONT);
                    Stage::Leftovers
                }
                Stage::Leftovers | Stage::Killed if empty || self.reap() => {
                    return Some(final_code);
                }
                Stage::Supervisors => {
                    if services && !forced {
                        self.kill_services();
                    }
                    if sweep_due {
                        self.sweep(now);
                    }
                    break;
                }
                _ => break,
            };
            if let Some(s) = self.shutdown.as_mut() {
                s.stage = next;
            }
        }
        let s = self.shutdown.as_ref()?;
        if now >= s.end {
            if s.stage == Stage::Killed {
                return Some(if s.fixed { s.code } else { EXIT_FORCED });
            }
            self.diag
                .warn(&"shutdown timed out: killing every process left");
            self.signal_leftovers(Signal::SIGKILL);
            for pid in self.table.pids().chain(self.cmd) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            if let Some(sc) = self.script.take() {
                let _ = kill(Pid::from_raw(sc.pid), Signal::SIGKILL);
            }
            if let Some(s) = self.shutdown.as_mut() {
                s.stage = Stage::Killed;
                s.end = now + KILL_GRACE;
            }
        }
        None
    }
}
