//! The effects of the machine, done for real: spawning, signalling, control scripts, and the
//! files of `supervise/`.

use std::os::fd::{AsFd, OwnedFd};
use std::time::SystemTime;

use herd_control::Control;
use herd_diag::{Diag, Kind, Reason};
use herd_notice::Notice;
use herd_status::{Exit, Pid, Readiness, Runs, Status};
use herd_svdir::{self as svdir, Instance, Layout, StatusWriter, LOG, MAIN};
use herd_sys::process::wait_for;
use herd_sys::{proc_start_time, status_pid, system_pid, Command, Record};
use herd_tai64n::Tai64n;
use nix::sys::signal::{kill, SigSet, Signal};
use rustix::fs;
use rustix::io::Errno;

use super::private_pipe;
use crate::deps::Dependencies;
use crate::health;
use crate::machine::{Effects, HealthConfig, Machine, Policy, Prog, Source, Unmet, Which};
use crate::options::Listing;
use crate::prefix::Output;
use crate::readiness::{self, CheckCommand, Notification, Notified};

/// The effects of the machine, done for real.
pub(super) struct Shell {
    pub(super) diag: Diag,
    pub(super) mask: SigSet,
    pub(super) main_status: StatusWriter,
    pub(super) log_status: StatusWriter,
    pub(super) run: Command,
    pub(super) log_run: Command,
    /// Where each child records itself before its exec: `supervise/instance` of the main
    /// service (for `./run` and `./finish`) and of the log.
    pub(super) records: [Record; 2],
    /// Read and write ends of the log pipe, held for supervise's whole life (until the exit).
    pub(super) pipe: Option<(OwnedFd, OwnedFd)>,
    /// Prefixed logs: the service's stdout and stderr pipes (never with a log pipe).
    pub(super) output: Option<Output>,
    /// Where an essential service's stop for good is told (`SVSCAN_NOTIFY_FD`).
    pub(super) notify: Option<OwnedFd>,
    /// The pid `supervise/instance` names, for the main service and the log.
    pub(super) recorded: [Option<Pid>; 2],
    /// The pid whose record failed and was said: the retries that follow are silent.
    pub(super) unrecorded: [Option<Pid>; 2],
    /// The removal of the service directory has been said.
    pub(super) removed: bool,
    /// `control` and `ok` are to be looked at: supervise wrote its status, or got SIGIO.
    pub(super) unchecked: [bool; 2],
    /// The descriptor `notification-fd` asks for, for the start of `./run` about to happen.
    pub(super) notify_target: Option<i32>,
    /// supervise's end of the running `./run`'s notification pipe.
    pub(super) notification: Option<Notification>,
    /// `./check`, for a service without `notification-fd`.
    pub(super) check: CheckCommand,
    /// `dependencies.d/`, and the watch while the start waits.
    pub(super) deps: Dependencies,
    /// `./health`, run while the main service is up and ready.
    pub(super) health: CheckCommand,
    /// The names of the service directory, read once for the lookups of a start.
    pub(super) listing: Listing,
}

impl Shell {
    pub(super) fn new(
        diag: &Diag,
        mask: SigSet,
        pipe: Option<(OwnedFd, OwnedFd)>,
        output: Option<Output>,
        notify: Option<OwnedFd>,
        deps: Dependencies,
        listing: Listing,
    ) -> Result<Self, std::ffi::NulError> {
        let fatal = |what: &str| diag.head(Kind::Fatal, &what);
        let mut run = Command::new(svdir::RUN, fatal("unable to start ./run"))?;
        let mut log_run = Command::new(svdir::RUN, fatal("unable to start log/./run"))?;
        log_run.current_dir(LOG.base, fatal("unable to change directory to ./log"))?;
        run.mask(mask);
        log_run.mask(mask);
        if let Some((r, w)) = &pipe {
            run.stdout(w.as_fd());
            log_run.stdin(r.as_fd());
        }
        if let Some(output) = &output {
            run.stdout(output.stdout());
            run.fd(output.stderr(), 2);
        }
        let record = |l: &Layout| {
            Record::new(
                l.instance_new,
                l.instance,
                svdir::FILE_MODE,
                svdir::encode_instance,
            )
        };
        Ok(Shell {
            diag: diag.clone(),
            mask,
            main_status: StatusWriter::new(MAIN),
            log_status: StatusWriter::new(LOG),
            run,
            log_run,
            records: [record(&MAIN)?, record(&LOG)?],
            pipe,
            output,
            notify,
            recorded: [None; 2],
            unrecorded: [None; 2],
            removed: false,
            unchecked: [false; 2],
            notify_target: None,
            notification: None,
            check: CheckCommand::new(mask)?,
            deps,
            health: CheckCommand::program(mask, svdir::HEALTH, svdir::HEALTH_ARGV0)?,
            listing,
        })
    }

    /// Records `pid` in `supervise/instance` (unless it is there already), so that a successor
    /// of a killed supervise can stop it. `Err` only if the file could not be written: when the
    /// start time cannot be read, there is nothing to record and nothing to retry.
    fn record(&mut self, which: Which, pid: Pid) -> Result<(), svdir::Error> {
        let slot = Self::slot(which);
        if self.recorded[slot] == Some(pid) {
            return Ok(());
        }
        let Some(start) = system_pid(pid).and_then(proc_start_time) else {
            return Ok(());
        };
        svdir::write_instance(Self::layout(which), Instance { pid, start })?;
        self.recorded[slot] = Some(pid);
        Ok(())
    }

    /// A write failed: said, unless the whole directory is gone, which `removed` says once
    /// instead of a warning per file.
    fn warn_unless_removed(&self, e: &svdir::Error) {
        if !Self::dir_removed() {
            self.diag.warn(e);
        }
    }

    /// Whether the directory supervise runs in (the service directory) has been removed.
    fn dir_removed() -> bool {
        fs::stat(".").is_ok_and(|st| st.st_nlink == 0)
    }

    /// Writes `pid`, `stat` and `status`, then records the pid in `instance`; `false` if a file
    /// could not be written (the machine writes the status again later).
    fn write_status(&mut self, which: Which, status: &Status) -> bool {
        let writer = match which {
            Which::Main => &mut self.main_status,
            Which::Log => &mut self.log_status,
        };
        if let Err(e) = writer.publish(status) {
            self.warn_unless_removed(&e);
            return false;
        }
        let Some(pid) = status.pid else {
            return true;
        };
        match self.record(which, pid) {
            Ok(()) => true,
            Err(e) => {
                // Retried with the status until it is written, but said once per process.
                let said = &mut self.unrecorded[Self::slot(which)];
                if *said != Some(pid) {
                    *said = Some(pid);
                    self.warn_unless_removed(&e);
                }
                false
            }
        }
    }

    /// Where `which` is in the per-service arrays.
    pub(super) fn slot(which: Which) -> usize {
        match which {
            Which::Main => 0,
            Which::Log => 1,
        }
    }

    pub(super) fn layout(which: Which) -> &'static Layout {
        match which {
            Which::Main => &MAIN,
            Which::Log => &LOG,
        }
    }

    /// A one-off command (finish, control scripts) with the main service's stdout (the log
    /// pipe). With `output`, also the service's stdout and stderr of prefixed logs; control
    /// scripts do without: supervise waits for them and would not read those pipes meanwhile.
    pub(super) fn command(&self, path: &str, failure: &str, output: bool) -> Option<Command> {
        let mut c = Command::new(path, self.diag.head(Kind::Fatal, &failure)).ok()?;
        c.mask(self.mask);
        if let Some((_, w)) = &self.pipe {
            c.stdout(w.as_fd());
        }
        if let Some(o) = self.output.as_ref().filter(|_| output) {
            c.stdout(o.stdout());
            c.fd(o.stderr(), 2);
        }
        Some(c)
    }
}

impl Shell {
    /// Reads the notification pipe (it is readable); tells the machine of a newline.
    pub(super) fn read_notification(&mut self, machine: &mut Machine) {
        let Some(n) = &self.notification else { return };
        match n.read() {
            Notified::Pending => {}
            Notified::Closed => {
                self.diag.trace(&"event notification pipe closed");
                self.notification = None;
            }
            Notified::Ready => {
                self.diag.trace(&"event notified");
                self.notification = None;
                machine.notified(Tai64n::from_system_time(SystemTime::now()), self);
            }
        }
    }

    /// Starts `./run`, with the write end of a new notification pipe as the descriptor
    /// `notification-fd` asked for, if it did.
    fn spawn_run(&mut self) -> Result<(nix::unistd::Pid, Option<u64>), nix::errno::Errno> {
        self.check.new_run();
        self.health.new_run();
        let target = self.notify_target.take();
        let pipe = target.and_then(|fd| match private_pipe() {
            Ok((r, w)) => Some((fd, r, w)),
            Err(e) => {
                self.diag.warn(&format_args!(
                    "unable to create notification pipe: {}: {NOT_READY}",
                    Reason(e.raw_os_error())
                ));
                None
            }
        });
        if let Some((fd, _, w)) = &pipe {
            self.run.fd(w.as_fd(), *fd);
        }
        let result = self.run.spawn_recorded(&self.records[0]);
        if let Some((fd, r, w)) = pipe {
            // Only the child keeps the write end: EOF comes when ./run and its children close it.
            self.run.remove_fd(fd);
            drop(w);
            if result.is_ok() {
                match Notification::new(r) {
                    Ok(n) => self.notification = Some(n),
                    Err(e) => self.diag.warn(&format_args!(
                        "unable to set up notification pipe: {}: {NOT_READY}",
                        Reason(e.raw_os_error())
                    )),
                }
            }
        }
        result
    }
}

impl Effects for Shell {
    fn spawn(&mut self, which: Which, prog: Prog) -> Option<Pid> {
        // Each child records itself before its exec: a supervise killed at any moment leaves
        // no unrecorded instance.
        let result = match (which, prog) {
            (Which::Main, Prog::Run) => self.spawn_run(),
            (Which::Log, _) => self.log_run.spawn_recorded(&self.records[1]),
            (Which::Main, Prog::Finish(exit)) => {
                let mut c = self.command(svdir::FINISH, "unable to start ./finish", true)?;
                let (code, status) = match exit {
                    Exit::Code(c) => (c.to_string(), "0".to_string()),
                    Exit::Signal { signo, core } => (
                        "-1".to_string(),
                        (signo | if core { 0x80 } else { 0 }).to_string(),
                    ),
                };
                c.set_args([&code, &status]).ok()?;
                c.spawn_recorded(&self.records[0])
            }
        };
        self.diag.trace(&format_args!(
            "effect spawn: {which:?} {prog:?}: {}",
            match &result {
                Ok((pid, _)) => pid.to_string(),
                Err(e) => Reason(*e as i32).to_string(),
            }
        ));
        match result {
            Ok((pid, recorded)) => {
                let pid = status_pid(pid);
                if let Some(pid) = pid {
                    if recorded.is_some() {
                        self.recorded[Self::slot(which)] = Some(pid);
                    } else {
                        // The child could not: tried here again, and a failure is said (and
                        // retried) by the status write that follows.
                        let _ = self.record(which, pid);
                    }
                }
                pid
            }
            Err(e) => {
                self.diag
                    .warn(&format_args!("unable to fork: {}", Reason(e as i32)));
                None
            }
        }
    }

    fn signal(&mut self, pid: Pid, sig: Signal) {
        self.diag.trace(&format_args!("effect signal: {pid} {sig}"));
        if let Some(pid) = system_pid(pid) {
            let _ = kill(pid, sig);
        }
    }

    fn custom(&mut self, c: Control) -> bool {
        let script = c.script();
        if !self.listing.current().may_exist(script) {
            return false;
        }
        match fs::stat(script) {
            Ok(st) if st.st_mode & 0o100 != 0 => {}
            Ok(_) | Err(Errno::NOENT) => return false,
            Err(e) => {
                self.diag.warn(&format_args!(
                    "unable to stat {script}: {}",
                    Reason(e.raw_os_error())
                ));
                return false;
            }
        }
        // runsv's message names the script with a literal '?'.
        let Some(cmd) = self.command(script, "unable to run control/?", false) else {
            return false;
        };
        self.diag.trace(&format_args!("effect run: {script}"));
        // The script may change the service directory: read again for what follows.
        self.listing.expire();
        match cmd.spawn() {
            Ok(pid) => wait_for(pid) == Some(Exit::Code(0)),
            Err(e) => {
                self.diag.warn(&format_args!(
                    "unable to fork for {script}: {}",
                    Reason(e as i32)
                ));
                false
            }
        }
    }

    fn has_finish(&mut self) -> bool {
        // runsv opens it for reading; `access` answers the same without a descriptor, so a
        // full descriptor table does not skip finish.
        self.listing.current().may_exist(svdir::FINISH_FILE)
            && fs::accessat(
                fs::CWD,
                svdir::FINISH_FILE,
                fs::Access::READ_OK,
                fs::AtFlags::EACCESS,
            )
            .is_ok()
    }

    fn publish(&mut self, which: Which, status: &Status) -> bool {
        self.diag.trace(&format_args!(
            "effect publish: {which:?} {}",
            status
                .stat_text()
                .as_bytes()
                .trim_ascii_end()
                .escape_ascii()
        ));
        self.unchecked[Self::slot(which)] = true;
        self.write_status(which, status)
    }

    fn removed(&mut self) -> bool {
        if !Self::dir_removed() {
            return false;
        }
        if !self.removed {
            self.removed = true;
            self.diag.warn(&"service directory removed: exiting");
        }
        true
    }

    fn close_log_pipe(&mut self) {
        self.diag.trace(&"effect close the log pipe");
        self.pipe = None;
        if let Some(fd) = &self.notify {
            // svscan looks for orphans at once: one may hold the pipe and keep the logger from
            // EOF. Nobody to tell if svscan is not reading (EAGAIN) or gone (EPIPE).
            let _ = herd_notice::write(fd, Notice::draining(nix::unistd::Pid::this()));
        }
    }

    fn stopped_for_good(&mut self, exit: Exit) {
        self.diag
            .trace(&format_args!("effect stopped for good: {exit:?}"));
        if let Some(fd) = &self.notify {
            // Nobody to tell if svscan is not reading (EAGAIN) or gone (EPIPE).
            let _ = herd_notice::write(fd, Notice::new(nix::unistd::Pid::this(), exit));
        }
    }

    fn readiness_source(&mut self) -> Source {
        self.notify_target = None;
        let present = self.listing.read();
        let source = match readiness::read_notification_fd(present) {
            None if readiness::has_check(present) => Source::Check,
            None if readiness::has_dependencies(present) => Source::Up,
            None => Source::Plain,
            Some(Ok(fd)) => {
                self.notify_target = Some(fd);
                Source::Notification
            }
            Some(Err(e)) => {
                self.diag.warn(&format_args!("{e}: {NOT_READY}"));
                Source::Notification
            }
        };
        // A plain service's trace is runsv's: nothing about readiness.
        if source != Source::Plain {
            self.diag.trace(&format_args!(
                "effect readiness: {source:?}, notification-fd {:?}",
                self.notify_target
            ));
        }
        source
    }

    fn publish_ready(&mut self, ready: Option<&Readiness>) -> bool {
        let done = match ready {
            Some(r) => {
                self.diag.trace(&format_args!(
                    "effect ready: {}",
                    r.encode().trim_ascii_end().escape_ascii()
                ));
                svdir::write_ready(&MAIN, r)
            }
            None => {
                // Said only when there was a file: a plain service has none to remove.
                if fs::lstat(MAIN.ready).is_ok() {
                    self.diag.trace(&"effect ready: removed");
                }
                svdir::remove_ready(&MAIN)
            }
        };
        match done {
            Ok(()) => true,
            Err(e) => {
                self.warn_unless_removed(&e);
                false
            }
        }
    }

    fn close_notification(&mut self) {
        self.notify_target = None;
        if self.notification.take().is_some() {
            self.diag.trace(&"effect close the notification pipe");
        }
    }

    fn spawn_check(&mut self) -> Option<Pid> {
        self.check.spawn(&self.diag)
    }

    fn kill_check(&mut self, pid: Pid) {
        self.diag.trace(&format_args!("effect kill check: {pid}"));
        if let Some(pid) = system_pid(pid) {
            // Its own session and process group: everything it started goes with it.
            let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
        }
    }

    fn unmet_dependency(&mut self) -> Option<Unmet> {
        self.deps.unmet(self.listing.read(), &self.diag)
    }

    fn say_waiting(&mut self, unmet: &Unmet) {
        let mut line = self.diag.prefix().to_vec();
        line.extend_from_slice(b": waiting for ");
        line.extend_from_slice(&unmet.name);
        if !unmet.exists {
            line.extend_from_slice(b", which does not exist yet");
        }
        line.push(b'\n');
        herd_diag::emit(line);
    }

    fn end_wait(&mut self) {
        self.diag.trace(&"effect end of the wait");
        self.deps.end();
    }

    fn health_config(&mut self) -> Option<HealthConfig> {
        let config = health::read_config(self.listing.read(), &self.diag);
        if let Some(c) = &config {
            self.diag.trace(&format_args!("effect health: {c:?}"));
        }
        config
    }

    fn spawn_health(&mut self) -> Option<Pid> {
        self.health.spawn(&self.diag)
    }

    fn kill_health(&mut self, pid: Pid) {
        self.diag.trace(&format_args!("effect kill health: {pid}"));
        if let Some(pid) = system_pid(pid) {
            // Its own session and process group: everything it started goes with it.
            let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
        }
    }

    fn publish_health(&mut self, health: Option<&herd_status::Health>) -> bool {
        let done = match health {
            Some(h) => {
                self.diag.trace(&format_args!(
                    "effect health: {}",
                    h.encode().trim_ascii_end().escape_ascii()
                ));
                svdir::write_health(&MAIN, h)
            }
            None => {
                if fs::lstat(MAIN.health).is_ok() {
                    self.diag.trace(&"effect health: removed");
                }
                svdir::remove_health(&MAIN)
            }
        };
        match done {
            Ok(()) => true,
            Err(e) => {
                self.warn_unless_removed(&e);
                false
            }
        }
    }

    fn policy(&mut self) -> Policy {
        let p = crate::policy::read_policy(self.listing.read(), &self.diag);
        if p != Policy::default() {
            self.diag.trace(&format_args!("effect policy: {p:?}"));
        }
        p
    }

    fn publish_runs(&mut self, runs: &Runs) -> bool {
        match svdir::write_runs(&MAIN, runs) {
            Ok(()) => true,
            Err(e) => {
                self.warn_unless_removed(&e);
                false
            }
        }
    }

    fn kill_run(&mut self, pid: Pid, group: bool) {
        self.diag
            .trace(&format_args!("effect timeout-kill: {pid}, group {group}"));
        if let Some(pid) = system_pid(pid) {
            let _ = if group {
                nix::sys::signal::killpg(pid, Signal::SIGKILL)
            } else {
                kill(pid, Signal::SIGKILL)
            };
        }
    }

    fn kill_finish(&mut self, pid: Pid) {
        self.diag
            .warn(&"./finish ran longer than timeout-finish: sending it SIGKILL");
        if let Some(pid) = system_pid(pid) {
            let _ = kill(pid, Signal::SIGKILL);
        }
    }
}

/// The end of a warning about a readiness source that cannot work for this run.
const NOT_READY: &str = "the service starts, but cannot become ready";
