//! svscan's shell: set-up, the one loop with its one `poll`, events read into the lifecycle
//! (signals, reaped children, essential-service notices, inotify, the passing of time), and the
//! lifecycle's effects applied through `spawn`, `scan`, `watch`, `ready`, `scripts` and the
//! system. An
//! idle svscan never wakes: the timeout is the lifecycle's nearest deadline (or the
//! readproctitle window's 15-minute tick), or none. Nothing here decides what happens next.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

use herd_control::{write_control, Control};
use herd_diag::{Diag, Reason};

use crate::environ::Environ;
use herd_notice::{Decoder, What};
use herd_svdir::MAIN;
use herd_sys::forker::Inline;
use herd_sys::signal::{self, Sig as Signal};
use herd_sys::{children, descendants, reap_any, status_pid, system_pid, timespec_until, Reaped};
use herd_value::later;
use nix::sys::signal::kill;
use rustix::event::{poll, PollFd, PollFlags};

use crate::config::Config;
use crate::lifecycle::{Effect, Event, Lifecycle, ScriptKind, Sync, EXIT_FATAL};
use crate::proctitle::{self, Title};
use crate::ready::Readiness;
use crate::report;
use crate::scan;
use crate::scripts;
use crate::signals::{sig_of, signal_of, BLOCKED};
use crate::spawn::Spawner;
use crate::watch::Watches;

/// Set to `0` to do without inotify.
const INOTIFY_ENV: &str = "SVSCAN_INOTIFY";

struct Shell<'a> {
    config: &'a Config,
    diag: Diag,
    dir: Option<&'a Path>,
    pid1: bool,
    watches: Option<Watches>,
    /// inotify could not be set up for want of a resource (descriptors, memory): it is tried
    /// again, silently, at each periodic rescan.
    inotify_retry: bool,
    spawner: Spawner,
    /// The read end of the essential-service notice pipe, and what has been read of it.
    notices: Option<OwnedFd>,
    decoder: Decoder,
    env: Option<Environ>,
    /// The services' readiness, watched while the main command waits for it (kept once made:
    /// see `ready.rs`).
    ready: Option<Readiness>,
    /// Effects to apply, and events answering them; reused from event to event.
    fx: Vec<Effect>,
    queue: VecDeque<Effect>,
    /// Events to feed next (answers to effects, or read in the loop), and those being fed.
    answers: Vec<Event>,
    events: Vec<Event>,
}

/// Whether an error is for want of a resource that may come back: descriptors (EMFILE, ENFILE,
/// also inotify's per-user instance limit) or memory.
fn scarce(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    [Errno::MFILE, Errno::NFILE, Errno::NOMEM]
        .iter()
        .any(|n| e.raw_os_error() == Some(n.raw_os_error()))
}

/// Runs svscan until it exits; returns the exit code.
pub fn run(config: &Config, argv: &[OsString], supervise: Option<Inline>) -> u8 {
    let diag = Diag::new(config.name.as_slice());
    herd_diag::init_trace();
    for i in &config.ignored {
        diag.warn(i);
    }
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
    let (mut title, title_pipe): (Option<Title>, Option<OwnedFd>) = config
        .log
        .as_ref()
        .and_then(|(index, log)| proctitle::setup(argv, *index, log, &diag))
        .unzip();
    // Both ends close-on-exec: each supervise gets the write end by number.
    let (notices, notify) = match rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    ) {
        Ok((r, w)) => (Some(r), Some(w)),
        Err(e) => {
            // Services run; only an essential one cannot stop the container.
            diag.warn(&format_args!(
                "unable to create pipe for essential services: {}",
                Reason(e.raw_os_error())
            ));
            (None, None)
        }
    };
    let mut sh = Shell {
        config,
        diag: diag.clone(),
        dir: config.dir.as_deref().map(Path::new),
        pid1,
        watches: None,
        inotify_retry: false,
        spawner: Spawner::new(
            diag,
            config.setsid,
            notify,
            argv.first()
                .map_or(OsStr::new("svscan"), OsString::as_os_str),
            config.dir.is_some().then_some(supervise).flatten(),
        ),
        notices,
        decoder: Decoder::new(),
        env: Environ::new(config),
        ready: None,
        fx: Vec::new(),
        queue: VecDeque::new(),
        answers: Vec::new(),
        events: Vec::new(),
    };
    let mut lc = Lifecycle::new(config.plan());
    if sh.dir.is_some() {
        // SVSCAN_INOTIFY=0: rescan every 5 s instead, as runsvdir does (for scan dirs on
        // filesystems whose changes inotify does not see, such as NFS).
        if std::env::var_os(INOTIFY_ENV).is_none_or(|v| v != "0") {
            match Watches::new() {
                Ok(w) => sh.watches = Some(w),
                Err(e) => {
                    sh.inotify_retry = scarce(&e);
                    sh.inotify_lost(&e);
                }
            }
        }
        if sh.watches.is_none() {
            sh.answers.push(Event::InotifyLost);
        }
    }
    sh.answers.push(Event::Begin);
    if let Some(code) = sh.feed_answers(&mut lc) {
        return code;
    }

    let mut buf = [0u8; 4096];
    let mut title_at = later(Instant::now(), proctitle::TICK);
    loop {
        let deadline = lc.next_deadline();
        let wake = [deadline, title.is_some().then_some(title_at)]
            .into_iter()
            .flatten()
            .min();
        let (sig_ready, ino_ready, log_ready, notice_ready, ready_ready) = {
            let mut fds = vec![PollFd::new(&sigfd, PollFlags::IN)];
            fn add<'f>(fd: Option<BorrowedFd<'f>>, fds: &mut Vec<PollFd<'f>>) -> Option<usize> {
                fds.push(PollFd::from_borrowed_fd(fd?, PollFlags::IN));
                Some(fds.len() - 1)
            }
            let ino_i = add(sh.watches.as_ref().map(Watches::fd), &mut fds);
            let log_i = add(title_pipe.as_ref().map(|f| f.as_fd()), &mut fds);
            let notice_i = add(sh.notices.as_ref().map(|f| f.as_fd()), &mut fds);
            let ready_i = add(sh.ready.as_ref().and_then(Readiness::fd), &mut fds);
            let _ = poll(&mut fds, wake.map(timespec_until).as_ref());
            let r = |i: Option<usize>| i.is_some_and(|i| !fds[i].revents().is_empty());
            (r(Some(0)), r(ino_i), r(log_i), r(notice_i), r(ready_i))
        };
        if sig_ready {
            let pending = signal::drain(&sigfd);
            if pending.contains(Signal::SIGCHLD) {
                sh.reap();
            }
            sh.answers
                .extend(pending.iter().filter_map(sig_of).map(Event::Signal));
        }
        if notice_ready {
            sh.read_notices();
        }
        if ino_ready {
            sh.read_inotify(&mut buf);
        }
        if ready_ready {
            sh.read_readiness(&mut buf);
        }
        if let (true, Some(t), Some(fd)) = (log_ready, title.as_mut(), title_pipe.as_ref()) {
            while let Ok(n @ 1..) = rustix::io::read(fd, &mut buf) {
                t.push(&buf[..n]);
            }
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            sh.answers.push(Event::Tick);
        }
        if let Some(code) = sh.feed_answers(&mut lc) {
            return code;
        }
        if let Some(t) = title.as_mut().filter(|_| now >= title_at) {
            t.push(b".");
            title_at = later(now, proctitle::TICK);
        }
    }
}

impl Shell<'_> {
    /// Feeds the pending events to the lifecycle and applies the effects that follow, in order;
    /// an effect's answers are fed before the next effect is applied. `Some(code)` when svscan
    /// must exit.
    fn feed_answers(&mut self, lc: &mut Lifecycle) -> Option<u8> {
        loop {
            std::mem::swap(&mut self.answers, &mut self.events);
            for ev in self.events.drain(..) {
                self.diag.trace(&format_args!("event {ev:?}"));
                lc.handle(ev, Instant::now(), &mut self.fx);
                self.queue.extend(self.fx.drain(..));
            }
            let e = self.queue.pop_front()?;
            self.diag.trace(&format_args!("effect {e:?}"));
            if let Some(code) = self.apply(e, lc) {
                return Some(code);
            }
        }
    }

    /// Does what one effect says; answers go to `self.answers`.
    fn apply(&mut self, e: Effect, lc: &Lifecycle) -> Option<u8> {
        match e {
            Effect::SyncEnv(s) => {
                let ok = self
                    .env
                    .as_ref()
                    .is_none_or(|e| e.sync(s == Sync::Initial, &self.diag));
                self.answers.push(Event::EnvSynced(ok));
            }
            Effect::ListScripts(kind) => {
                let sources: &[PathBuf] = match kind {
                    ScriptKind::Startup => &self.config.startup,
                    ScriptKind::PreShutdown => self.config.pre_shutdown.as_slice(),
                    ScriptKind::PostShutdown => self.config.post_shutdown.as_slice(),
                };
                self.answers.push(Event::Scripts(scripts::list(sources)));
            }
            Effect::StartScript(path) => {
                let pid = self.spawner.script(&path);
                self.answers.push(Event::ScriptStarted(pid));
            }
            Effect::SpawnMain => {
                let started = self.spawner.main(&self.config.cmd);
                self.answers.push(Event::MainStarted(started));
            }
            Effect::Watch => {
                if let (Some(w), Some(dir)) = (self.watches.as_mut(), self.dir) {
                    if let Err(e) = w.watch_scan_dir(dir) {
                        self.inotify_lost(&e);
                    }
                }
            }
            Effect::Unwatch => {
                if let Some(w) = self.watches.as_mut() {
                    w.unwatch_all();
                }
                self.spawner.end_forker();
            }
            Effect::Rescan => {
                if let Some(dir) = self.dir {
                    self.retry_inotify();
                    let (ev, lost) =
                        scan::scan(dir, self.watches.as_mut(), |id| lc.knows(id), &self.diag);
                    if let Some(e) = lost {
                        self.inotify_lost(&e);
                    }
                    self.answers.push(ev);
                }
            }
            Effect::StartSupervise { id, name } => {
                let pid = self.dir.and_then(|d| self.spawner.supervise(d, &name));
                self.answers.push(Event::SuperviseStarted { id, pid });
            }
            Effect::Signal(pid, sig) => {
                if let Some(pid) = system_pid(pid) {
                    let _ = kill(pid, signal_of(sig));
                }
            }
            Effect::ReadDependencies(names) => {
                let deps = self.read_dependencies(names);
                self.answers.push(Event::Dependencies(deps));
            }
            Effect::AwaitReady(names) => self.await_ready(&names),
            Effect::EndAwait => {
                if let Some(r) = self.ready.as_mut() {
                    r.end();
                }
            }
            Effect::ForceKill(name) => self.force_kill(&name),
            Effect::FindOrphans => {
                let children = children(nix::unistd::Pid::this())
                    .into_iter()
                    .filter_map(status_pid)
                    .collect();
                self.answers.push(Event::Orphans(children));
            }
            Effect::SignalLeftovers(sig) => self.signal_leftovers(signal_of(sig)),
            Effect::Reap => self.reap(),
            Effect::TakeTerminal => {
                let stdin = std::io::stdin();
                if nix::unistd::isatty(&stdin).unwrap_or(false) {
                    let _ = nix::unistd::tcsetpgrp(&stdin, nix::unistd::getpgrp());
                }
            }
            Effect::Report(r) => report::say(&self.diag, self.config, r),
            Effect::Exit(code) => return Some(code),
        }
        None
    }

    /// Sets inotify up again if it could not be for want of a resource; the scan that follows
    /// watches the scan directory.
    fn retry_inotify(&mut self) {
        if self.watches.is_some() || !self.inotify_retry {
            return;
        }
        if let Ok(w) = Watches::new() {
            self.diag.trace(&"inotify set up again");
            self.watches = Some(w);
            self.inotify_retry = false;
            self.answers.push(Event::InotifyBack);
        }
    }

    fn inotify_lost(&mut self, e: &std::io::Error) {
        let had = self.watches.take().is_some();
        if had || e.raw_os_error().is_some() {
            self.diag.warn(&format_args!(
                "unable to use inotify: {}: rescanning every 5 seconds",
                Reason::of(e)
            ));
        }
        if had {
            self.answers.push(Event::InotifyLost);
        }
    }

    fn read_inotify(&mut self, buf: &mut [u8]) {
        let (Some(w), Some(dir)) = (self.watches.as_mut(), self.dir) else {
            return;
        };
        match w.read(dir, buf) {
            Ok(true) => self.answers.push(Event::DirChanged),
            Ok(false) => {}
            Err(e) => self.inotify_lost(&e),
        }
    }

    /// The dependencies of each service of `names` that has any; a `dependencies.d` that cannot
    /// be read counts as none (supervise says why when the service starts).
    fn read_dependencies(&self, names: Vec<OsString>) -> Vec<(OsString, Vec<OsString>)> {
        let Some(dir) = self.dir else {
            return Vec::new();
        };
        names
            .into_iter()
            .filter_map(|n| {
                let deps = herd_deps::read(&dir.join(&n)).ok()?;
                (!deps.is_empty()).then_some((n, deps))
            })
            .collect()
    }

    /// Watches the readiness of `names` (and of no other service); answers with the services
    /// not ready.
    fn await_ready(&mut self, names: &[OsString]) {
        let ready = self.ready.get_or_insert_with(Readiness::new);
        if let Some(dir) = self.dir {
            ready.set(dir, names);
        }
        self.answers.push(Event::Readiness {
            not_ready: ready.not_ready(),
            watched: ready.watched(),
        });
    }

    fn read_readiness(&mut self, buf: &mut [u8]) {
        if let Some(ready) = self.ready.as_mut() {
            if ready.read(buf) {
                self.answers.push(Event::Readiness {
                    not_ready: ready.not_ready(),
                    watched: ready.watched(),
                });
            }
        }
    }

    /// Reaps every child that has terminated: supervise processes, scripts, the main command and
    /// orphans alike; says so when no child is left at all.
    fn reap(&mut self) {
        loop {
            match reap_any() {
                Reaped::Child(pid, exit) => {
                    if let Some(pid) = status_pid(pid) {
                        self.answers.push(Event::Reaped(pid, exit));
                    }
                }
                Reaped::NoChildren => {
                    self.answers.push(Event::NoChildren);
                    return;
                }
                Reaped::Running => return,
            }
        }
    }

    /// Reads the notices of the supervisors (an essential service stopped, a logger drains).
    fn read_notices(&mut self) {
        let Some(r) = self.notices.as_ref() else {
            return;
        };
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = rustix::io::read(r, &mut buf) {
            for notice in self.decoder.feed(&buf[..n]) {
                if let Some(pid) = status_pid(notice.pid) {
                    self.answers.push(match notice.what {
                        What::Stopped(code) => Event::Notice { pid, code },
                        What::Draining => Event::Draining(pid),
                    });
                }
            }
        }
    }

    /// Signals every process left: as PID 1 every process of the namespace, otherwise our own
    /// descendants (orphans of services come to us as the subreaper).
    fn signal_leftovers(&self, sig: Signal) {
        if self.pid1 {
            let _ = kill(nix::unistd::Pid::from_raw(-1), sig);
        } else {
            for p in descendants(nix::unistd::Pid::this()) {
                let _ = kill(p, sig);
            }
        }
    }

    /// A service still running gets SIGKILL from its supervise (`k`).
    fn force_kill(&self, name: &OsStr) {
        let Some(dir) = self.dir else {
            return;
        };
        let service = dir.join(name);
        let at = MAIN.at(&service);
        if at.read_pid().is_none() {
            return;
        }
        self.diag.warn(&format_args!(
            "{} did not stop in time: killed",
            name.to_string_lossy()
        ));
        let _ = write_control(at.control(), &[Control::Kill]);
    }
}
