//! svscan's shell: the scan directory and its inotify watches, starting and reaping supervise
//! processes, signals, and the ordered, deadline-bounded shutdown. One loop, one `poll`; its
//! timeout is the nearest deadline (a throttled restart, the shutdown bound), or none: an idle
//! svscan never wakes. Without inotify it rescans every 5 s, as runsvdir does.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use herd_diag::{Diag, Reason};
use herd_sys::signal::{self, Sig};
use herd_sys::{descendants, reap_any, Command, Reaped};
use inotify::{Inotify, WatchDescriptor, WatchMask};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags, Timespec};

use crate::proctitle::{self, Title};
use crate::table::{Action, Entry, Id, Table};
use crate::Args;

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
/// Set to `0` to do without inotify.
const INOTIFY_ENV: &str = "SVSCAN_INOTIFY";
/// runsvdir's rescan period, used only when inotify is missing (or a dangling symlink waits).
const RESCAN: Duration = Duration::from_secs(5);
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
    /// Every supervise got SIGTERM; waiting for them.
    Supervisors,
    /// Supervisors are gone; leftovers got SIGTERM; waiting for no child to be left.
    Leftovers,
    /// The bound passed: everything got SIGKILL.
    Killed,
}

struct Shutdown {
    code: u8,
    deadline: Instant,
    stage: Stage,
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
    diag: Diag,
    dir: &'a OsStr,
    supervise: PathBuf,
    setsid: bool,
    pid1: bool,
    table: Table,
    watches: Option<Watches>,
    /// A scan found a dangling symlink: look again in 5 s (it may be fixed without an event here).
    retry_at: Option<Instant>,
    shutdown: Option<Shutdown>,
    stop_timeout: Duration,
    actions: Vec<Action>,
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
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
    std::env::split_paths(&path)
        .map(|d| d.join("supervise"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("supervise"))
}

/// Ready once `run` is there and executable: starting before the chmod of a new run would
/// cost a failed exec and a 1 s pause.
fn run_ready(service: &Path) -> bool {
    std::fs::metadata(service.join("run")).is_ok_and(|m| m.mode() & 0o100 != 0)
}

/// Runs svscan until it exits; returns the exit code.
pub fn run(args: &Args, argv: &[OsString]) -> u8 {
    let diag = Diag::new(format!("svscan {}", args.dir.to_string_lossy()));
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
    if let Some((index, log)) = &args.log {
        match setup_log(argv, *index, log, &diag) {
            Some((t, r)) => {
                title = Some(t);
                title_pipe = Some(r);
            }
            None => diag.warn(&"log service disabled."),
        }
    }

    let mut sv = Svscan {
        diag,
        dir: &args.dir,
        supervise: find_supervise(),
        setsid: args.setsid,
        pid1,
        table: Table::default(),
        watches: None,
        retry_at: None,
        shutdown: None,
        stop_timeout: args.stop_timeout,
        actions: Vec::new(),
    };
    // SVSCAN_INOTIFY=0: rescan every 5 s instead, as runsvdir does (for scan dirs on filesystems
    // whose changes inotify does not see, such as NFS).
    if std::env::var_os(INOTIFY_ENV).is_none_or(|v| v != "0") {
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
    sv.watch_scan_dir();
    sv.rescan();

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
            sv.shutdown.as_ref().map(|s| s.deadline),
        ]
        .into_iter()
        .flatten()
        .min();
        if sv.watches.is_none() && sv.shutdown.is_none() {
            wake = Some(wake.map_or(now + RESCAN, |w| w.min(now + RESCAN)));
        }
        if title.is_some() {
            wake = Some(wake.map_or(title_at, |w| w.min(title_at)));
        }
        let timeout = wake.map(|w| {
            let left = w.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            }
        });

        let (sig_ready, ino_ready, log_ready) = {
            let ino_fd = sv.watches.as_ref().map(|w| w.ino.as_fd());
            let mut fds = vec![PollFd::new(&sigfd, PollFlags::IN)];
            if let Some(fd) = &ino_fd {
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            if let Some(fd) = &title_pipe {
                fds.push(PollFd::new(fd, PollFlags::IN));
            }
            let _ = poll(&mut fds, timeout.as_ref());
            let r = |i: usize| fds.get(i).is_some_and(|f| !f.revents().is_empty());
            let ino_i = ino_fd.is_some().then_some(1);
            let log_i = title_pipe
                .as_ref()
                .map(|_| 1 + usize::from(ino_fd.is_some()));
            (r(0), ino_i.is_some_and(r), log_i.is_some_and(r))
        };

        if sig_ready {
            let mut rescan = false;
            let mut stop = None;
            let mut reap = false;
            signal::drain(&sigfd, |s| match Signal::try_from(s) {
                Ok(Signal::SIGCHLD) => reap = true,
                Ok(Signal::SIGTERM | Signal::SIGINT) => stop = stop.or(Some(EXIT_CLEAN)),
                Ok(Signal::SIGHUP) => stop = Some(EXIT_HANGUP),
                Ok(Signal::SIGALRM) => rescan = true,
                _ => {}
            });
            if reap {
                sv.reap();
            }
            if let Some(code) = stop {
                sv.begin_shutdown(code);
            }
            if rescan && sv.shutdown.is_none() {
                sv.rescan();
            }
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
            if sv.shutdown.is_none() {
                sv.rescan();
            }
        }
        if let Some(t) = title.as_mut().filter(|_| now >= title_at) {
            t.push(b".");
            title_at = now + TITLE_TICK;
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
        let dir = Path::new(self.dir);
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
        if rescan && self.shutdown.is_none() {
            self.rescan();
        }
    }

    /// Reads the scan dir and updates the table; watches new directories that have no `run` yet.
    fn rescan(&mut self) {
        let dir = Path::new(self.dir);
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
            let path = Path::new(self.dir).join(&e.name);
            if let Ok(wd) = w.ino.watches().add(&path, PENDING_MASK) {
                w.pending.push((e.id, wd));
            }
            late |= run_ready(&path);
        }
        late
    }

    fn start_due(&mut self, now: Instant) {
        if self.shutdown.is_some() {
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
    /// counts), an empty signal mask and default signal dispositions.
    fn spawn(&self, name: &OsStr) -> Option<i32> {
        let prefix = self.diag.prefix();
        let shown = name.to_string_lossy();
        let mut c = Command::new(
            &self.supervise.to_string_lossy(),
            &format!("{prefix}: fatal: unable to start supervise {shown}: "),
        )
        .ok()?;
        c.set_args(&[&shown]).ok()?;
        c.current_dir(
            &Path::new(self.dir).to_string_lossy(),
            &format!(
                "{prefix}: fatal: unable to change directory to {}: ",
                Path::new(self.dir).display()
            ),
        )
        .ok()?;
        c.setsid(self.setsid);
        c.reset_signals(true);
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

    /// Reaps every child that has terminated: supervise processes and orphans alike.
    fn reap(&mut self) {
        while let Reaped::Child(pid, _) = reap_any() {
            self.table.reaped(pid.as_raw());
        }
    }

    fn begin_shutdown(&mut self, code: u8) {
        match &mut self.shutdown {
            Some(s) => {
                if code == EXIT_HANGUP {
                    s.code = code;
                }
            }
            None => {
                for pid in self.table.pids() {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                }
                self.shutdown = Some(Shutdown {
                    code,
                    deadline: Instant::now() + self.stop_timeout,
                    stage: Stage::Supervisors,
                });
            }
        }
    }

    /// Signals every process left: as PID 1 every process of the namespace, otherwise our own
    /// descendants (orphans of services come to us as the subreaper).
    fn signal_leftovers(&self, sig: Signal) {
        if self.pid1 {
            let _ = kill(Pid::from_raw(-1), sig);
        } else {
            for p in descendants(std::process::id()) {
                let _ = kill(Pid::from_raw(p as i32), sig);
            }
        }
    }

    /// Moves the shutdown on; `Some(code)` when svscan should exit now.
    fn shutdown_progress(&mut self, now: Instant) -> Option<u8> {
        let s = self.shutdown.as_ref()?;
        let (stage, deadline, code) = (s.stage, s.deadline, s.code);
        if stage == Stage::Supervisors && self.table.pids().next().is_none() {
            self.signal_leftovers(Signal::SIGTERM);
            self.signal_leftovers(Signal::SIGCONT);
            if let Some(s) = self.shutdown.as_mut() {
                s.stage = Stage::Leftovers;
            }
        }
        loop {
            match reap_any() {
                Reaped::Child(pid, _) => {
                    self.table.reaped(pid.as_raw());
                }
                Reaped::NoChildren => {
                    if self.table.pids().next().is_none() {
                        return Some(if stage == Stage::Killed {
                            EXIT_FORCED
                        } else {
                            code
                        });
                    }
                    break;
                }
                Reaped::Running => break,
            }
        }
        if now >= deadline {
            if stage == Stage::Killed {
                return Some(EXIT_FORCED);
            }
            self.diag
                .warn(&"shutdown timed out: killing every process left");
            self.signal_leftovers(Signal::SIGKILL);
            for pid in self.table.pids() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            if let Some(s) = self.shutdown.as_mut() {
                s.stage = Stage::Killed;
                s.deadline = now + KILL_GRACE;
            }
        }
        None
    }
}
