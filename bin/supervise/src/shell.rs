//! supervise's shell: startup in runsv's order (runit.md §1.2), the one event loop, and the
//! effects the machine asks for. The loop waits in one `poll` on the signalfd, the control
//! FIFOs and (with prefixed logs) the service's output pipes, with the machine's next deadline as
//! the only timeout: an idle supervise never wakes.
//! Faults (docs/reliability.md): children are forked held ([`Command::spawn_gated`]) until
//! `supervise/instance` names them, so a supervise killed at any moment leaves nothing its
//! successor cannot find; `supervise/control` and `ok` replaced under supervise are put back at
//! its next status write (or SIGIO); nothing at runtime needs a free descriptor but the status
//! files, whose writes the machine retries.

use std::ffi::{NulError, OsStr};
use std::fmt;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Instant, SystemTime};

use herd_control::Control;
use herd_diag::{Diag, Kind, Reason};
use herd_notice::Notice;
use herd_status::{Exit, Pid, Status};
use herd_svdir::{self as svdir, FifoState, Instance, Layout, StatusWriter, LOG, MAIN};
use herd_sys::process::{reap, wait_for};
use herd_sys::signal::{self, Sig};
use herd_sys::{proc_start_time, status_pid, system_pid, timespec_until, Command};
use herd_tai64n::Tai64n;
use nix::sys::signal::{kill, SigSet, Signal};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::{self, FileType};
use rustix::io::Errno;

use crate::machine::{failure_limit, Effects, Machine, Prog, Which};
use crate::prefix::{self, Output};
use crate::reclaim::reclaim;

/// Signals supervise handles (through its signalfd). SIGPIPE is ignored by the Rust runtime.
/// SIGIO asks supervise to look at `supervise/control` and `ok` at once.
const HANDLED: [Sig; 7] = [
    Sig::SIGCHLD,
    Sig::SIGTERM,
    Sig::SIGHUP,
    Sig::SIGALRM,
    Sig::SIGUSR1,
    Sig::SIGUSR2,
    Sig::SIGIO,
];
/// Lowest descriptor for supervise's pipes, so that they can never be mistaken for stdio.
const FIRST_PRIVATE_FD: i32 = 3;
/// Bytes of `essential` read for its first line.
const ESSENTIAL_READ: usize = 128;

fn now() -> (Instant, Tai64n) {
    (Instant::now(), Tai64n::from_system_time(SystemTime::now()))
}

/// Why supervise could not start, or had to stop: `supervise DIR: fatal: …`, exit 111.
#[derive(Debug)]
pub enum Fatal {
    /// `unable to {what}: {reason}`.
    Sys { what: &'static str, errno: Errno },
    /// Setting up `supervise/`, in runsv's words.
    Svdir(svdir::Error),
    /// A program path with a NUL byte (the paths are constants: never seen).
    Nul(NulError),
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::Sys { what, errno } => {
                write!(f, "unable to {what}: {}", Reason(errno.raw_os_error()))
            }
            Fatal::Svdir(e) => e.fmt(f),
            Fatal::Nul(e) => write!(f, "invalid program path: {e}"),
        }
    }
}

impl std::error::Error for Fatal {}

impl From<svdir::Error> for Fatal {
    fn from(e: svdir::Error) -> Self {
        Fatal::Svdir(e)
    }
}

/// `Fatal::Sys` for an errno of any of the three kinds (nix, rustix, std).
fn sys<E: Into<RawErrno>>(what: &'static str) -> impl FnOnce(E) -> Fatal {
    move |e| Fatal::Sys {
        what,
        errno: Errno::from_raw_os_error(e.into().0),
    }
}

/// A raw errno value, from whichever library reported it.
struct RawErrno(i32);

impl From<nix::errno::Errno> for RawErrno {
    fn from(e: nix::errno::Errno) -> Self {
        RawErrno(e as i32)
    }
}

impl From<Errno> for RawErrno {
    fn from(e: Errno) -> Self {
        RawErrno(e.raw_os_error())
    }
}

impl From<std::io::Error> for RawErrno {
    fn from(e: std::io::Error) -> Self {
        RawErrno(Reason::of(&e).0)
    }
}

/// Runs supervise in `dir` until it exits.
pub fn run(dir: &OsStr, diag: &Diag) -> Result<(), Fatal> {
    // First: the inherited descriptor is taken before any of ours can be given its number.
    let notify = herd_notice::take().unwrap_or_else(|e| {
        diag.warn(&e);
        None
    });
    let sigmask = signal::block(&HANDLED).map_err(sys("block signals"))?;
    let sigfd = signal::signal_fd(&HANDLED).map_err(sys("create signalfd"))?;
    std::env::set_current_dir(dir).map_err(sys("change to directory"))?;

    let main_down = fs::stat(MAIN.down).is_ok();
    let log = match fs::stat(svdir::LOG_DIR) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
            Some(fs::stat(LOG.down).is_ok())
        }
        Ok(_) => {
            diag.warn(&"./log: not a directory.");
            None
        }
        Err(Errno::NOENT) => None,
        Err(e) => {
            diag.warn(&format_args!(
                "unable to stat() ./log: : {}",
                Reason(e.raw_os_error())
            ));
            None
        }
    };
    let pipe = match log {
        Some(_) => Some(private_pipe().map_err(sys("create log pipe"))?),
        None => None,
    };
    let output = match log {
        None if prefix::enabled() => {
            let name = prefix::service_name(dir);
            let output = private_pipe()
                .and_then(|out| Output::new(&name, out, private_pipe()?))
                .map_err(sys("create output pipe"))?;
            Some(output)
        }
        _ => None,
    };
    let essential = read_essential();

    svdir::make_supervise(&MAIN)?;
    let _main_lock = svdir::take_lock(&MAIN, false)?;
    let _log_lock = match log {
        Some(_) => {
            svdir::make_supervise(&LOG)?;
            Some(svdir::take_lock(&LOG, true)?)
        }
        None => None,
    };
    reclaim(&MAIN, Which::Main, diag);
    if log.is_some() {
        reclaim(&LOG, Which::Log, diag);
    }

    diag.trace(&format_args!(
        "start: down {main_down}, log {}, essential {essential:?}",
        match log {
            Some(true) => "down",
            Some(false) => "up",
            None => "none",
        }
    ));
    let (_, wall) = now();
    let mut machine = Machine::new(wall, main_down, log);
    if let Some(limit) = essential {
        machine = machine.with_essential(limit);
    }
    let mut shell = Shell::new(diag, sigmask, pipe, output, notify).map_err(Fatal::Nul)?;
    let mut main = Fifos::open_control(&MAIN, Which::Main)?;
    machine.publish(Which::Main, &mut shell);
    let mut log = match log {
        Some(_) => {
            let fifos = Fifos::open_control(&LOG, Which::Log)?;
            machine.publish(Which::Log, &mut shell);
            Some(fifos)
        }
        None => None,
    };
    main.open_ok(&shell.diag)?;
    if let Some(log) = &mut log {
        log.open_ok(&shell.diag)?;
    }

    loop {
        let (t, wall) = now();
        machine.tick(t, wall, &mut shell);
        if machine.done() {
            if let Some(output) = &mut shell.output {
                output.finish();
            }
            return Ok(());
        }
        let timeout = machine.next_deadline().map(timespec_until);
        // Slot 2 is the log's control FIFO, or slots 2 and 3 the output pipes (never both).
        let mut fds = [
            PollFd::new(&sigfd, PollFlags::IN),
            PollFd::new(&main.control, PollFlags::IN),
            PollFd::new(&sigfd, PollFlags::IN),
            PollFd::new(&sigfd, PollFlags::IN),
        ];
        let mut nfds = 2;
        if let Some(log) = &log {
            fds[2] = PollFd::new(&log.control, PollFlags::IN);
            nfds = 3;
        }
        if let Some(output) = &shell.output {
            let [out, err] = output.readers();
            fds[2] = PollFd::from_borrowed_fd(out, PollFlags::IN);
            fds[3] = PollFd::from_borrowed_fd(err, PollFlags::IN);
            nfds = 4;
        }
        match poll(&mut fds[..nfds], timeout.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(sys("poll")(e)),
        }
        let ready: [bool; 4] = [0, 1, 2, 3].map(|i| i < nfds && !fds[i].revents().is_empty());

        if ready[0] {
            // HUP, ALRM, USR1 and USR2 would kill runsv and orphan the service; we ignore them.
            let sigs = signal::drain(&sigfd);
            if sigs.contains(Signal::SIGCHLD) {
                while let Some((pid, exit)) = reap() {
                    // What the process wrote before it exited is copied (and its last line
                    // ended) before finish or the next run can write.
                    if let Some(output) = &mut shell.output {
                        output.finish();
                    }
                    if let Some(pid) = status_pid(pid) {
                        shell
                            .diag
                            .trace(&format_args!("event exited: {pid} {exit:?}"));
                        let (t, wall) = now();
                        machine.child_exited(pid, exit, t, wall, &mut shell);
                    }
                }
            }
            if sigs.contains(Signal::SIGTERM) {
                shell.diag.trace(&"event SIGTERM");
                machine.terminate(&mut shell);
            }
            if sigs.contains(Signal::SIGIO) {
                shell.unchecked = [true; 2];
            }
        }
        if let Some(output) = &mut shell.output {
            output.copy([ready[2], ready[3]]);
        }
        if ready[1] {
            read_control(&main.control, Which::Main, &mut machine, &mut shell);
        }
        if let Some(log) = log.as_ref().filter(|_| ready[2]) {
            read_control(&log.control, Which::Log, &mut machine, &mut shell);
        }
        // After each status write (supervise changes `supervise/` itself then, at every change
        // of state), or SIGIO: are `control` and `ok` still ours?
        // off): are `control` and `ok` still ours?
        for f in [Some(&mut main), log.as_mut()].into_iter().flatten() {
            if std::mem::take(&mut shell.unchecked[Shell::slot(f.which)]) {
                f.check(&mut machine, &mut shell);
            }
        }
    }
}

/// Reads every byte available on a control FIFO and hands each letter to the machine.
fn read_control(fd: &OwnedFd, which: Which, machine: &mut Machine, shell: &mut Shell) {
    let mut buf = [0u8; 64];
    while let Ok(n @ 1..) = rustix::io::read(fd, &mut buf) {
        for c in buf[..n].iter().filter_map(|&b| Control::from_byte(b)) {
            shell
                .diag
                .trace(&format_args!("event control: {which:?} {c:?}"));
            machine.control(which, c, shell);
        }
    }
}

/// The FIFOs of one service (`supervise/control` and `ok`). After each status write, and on
/// SIGIO, [`Fifos::check`] puts back a FIFO that was replaced (by a regular file, say) and opens
/// one that someone made anew, so that `sv` reaches supervise again. A FIFO removed is left alone
/// (the service may be being removed). Not watched between status writes: a watch (dnotify)
/// made every supervise's exit measurably slower, for a fault this rare.
struct Fifos {
    layout: &'static Layout,
    which: Which,
    control: OwnedFd,
    /// Held open, never read: clients open it for writing to see that supervise runs.
    ok: Option<OwnedFd>,
}

impl Fifos {
    /// Opens `supervise/control` (step 4 of runsv's startup).
    fn open_control(layout: &'static Layout, which: Which) -> Result<Self, Fatal> {
        let control = svdir::open_control(layout)?;
        Ok(Fifos {
            layout,
            which,
            control,
            ok: None,
        })
    }

    /// Opens `supervise/ok` (step 7): something other than a FIFO there is replaced first, or
    /// `sv` would take supervise for alive even after it is gone.
    fn open_ok(&mut self, diag: &Diag) -> Result<(), Fatal> {
        if svdir::check_fifo(self.layout.ok, None) == FifoState::NotFifo {
            replace(self.layout.ok, diag);
        }
        self.ok = Some(svdir::open_ok(self.layout)?);
        Ok(())
    }

    /// Are `control` and `ok` still ours? A FIFO replaced (by a regular file, say) is put back,
    /// one someone made anew is opened; one only removed is left alone.
    fn check(&mut self, machine: &mut Machine, shell: &mut Shell) {
        let l = self.layout;
        match svdir::check_fifo(l.control, Some(self.control.as_fd())) {
            FifoState::Held | FifoState::Missing => {}
            state => {
                if state == FifoState::NotFifo {
                    replace(l.control, &shell.diag);
                }
                match svdir::open_control(l) {
                    Ok(fd) => {
                        // Letters written before the switch are not lost.
                        read_control(&self.control, self.which, machine, shell);
                        self.control = fd;
                    }
                    Err(e) => shell.diag.warn(&e),
                }
            }
        }
        let held = self.ok.as_ref().map(|fd| fd.as_fd());
        match svdir::check_fifo(l.ok, held) {
            FifoState::Held | FifoState::Missing => {}
            state => {
                if state == FifoState::NotFifo {
                    replace(l.ok, &shell.diag);
                }
                match svdir::open_ok(l) {
                    // The new one is open before the old one closes: no moment without a reader.
                    Ok(fd) => self.ok = Some(fd),
                    Err(e) => shell.diag.warn(&e),
                }
            }
        }
    }
}

/// Replaces what is at a FIFO's path with a new FIFO, saying so.
fn replace(path: &'static str, diag: &Diag) {
    diag.warn(&format_args!(
        "{}: replacing it",
        svdir::Error::NotFifo { path }
    ));
    if let Err(e) = svdir::replace_fifo(path) {
        diag.warn(&e);
    }
}

/// The failure limit of an essential service (`essential` exists), read from its first line.
fn read_essential() -> Option<u32> {
    let mut buf = [0u8; ESSENTIAL_READ];
    let n = match std::fs::File::open(svdir::ESSENTIAL) {
        Ok(mut f) => f.read(&mut buf).unwrap_or(0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        // There but unreadable: essential, with the default limit.
        Err(_) => 0,
    };
    Some(failure_limit(&buf[..n]))
}

/// A pipe with both ends close-on-exec and at descriptors 3 and above.
fn private_pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let high = |fd: OwnedFd| -> Result<OwnedFd, Errno> {
        if rustix::fd::AsRawFd::as_raw_fd(&fd) >= FIRST_PRIVATE_FD {
            Ok(fd)
        } else {
            rustix::io::fcntl_dupfd_cloexec(&fd, FIRST_PRIVATE_FD)
        }
    };
    Ok((high(r)?, high(w)?))
}

/// The effects of the machine, done for real.
struct Shell {
    diag: Diag,
    mask: SigSet,
    main_status: StatusWriter,
    log_status: StatusWriter,
    run: Command,
    log_run: Command,
    /// Read and write ends of the log pipe, held for supervise's whole life (until the exit).
    pipe: Option<(OwnedFd, OwnedFd)>,
    /// Prefixed logs: the service's stdout and stderr pipes (never with a log pipe).
    output: Option<Output>,
    /// Where an essential service's stop for good is told (`SVSCAN_NOTIFY_FD`).
    notify: Option<OwnedFd>,
    /// The pid `supervise/instance` names, for the main service and the log.
    recorded: [Option<Pid>; 2],
    /// The pid whose record failed and was said: the retries that follow are silent.
    unrecorded: [Option<Pid>; 2],
    /// The removal of the service directory has been said.
    removed: bool,
    /// `control` and `ok` are to be looked at: supervise wrote its status, or got SIGIO.
    unchecked: [bool; 2],
}

impl Shell {
    fn new(
        diag: &Diag,
        mask: SigSet,
        pipe: Option<(OwnedFd, OwnedFd)>,
        output: Option<Output>,
        notify: Option<OwnedFd>,
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
        Ok(Shell {
            diag: diag.clone(),
            mask,
            main_status: StatusWriter::new(MAIN),
            log_status: StatusWriter::new(LOG),
            run,
            log_run,
            pipe,
            output,
            notify,
            recorded: [None; 2],
            unrecorded: [None; 2],
            removed: false,
            unchecked: [false; 2],
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
    fn slot(which: Which) -> usize {
        match which {
            Which::Main => 0,
            Which::Log => 1,
        }
    }

    fn layout(which: Which) -> &'static Layout {
        match which {
            Which::Main => &MAIN,
            Which::Log => &LOG,
        }
    }

    /// A one-off command (finish, control scripts) with the main service's stdout (the log
    /// pipe). With `output`, also the service's stdout and stderr of prefixed logs; control
    /// scripts do without: supervise waits for them and would not read those pipes meanwhile.
    fn command(&self, path: &str, failure: &str, output: bool) -> Option<Command> {
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

impl Effects for Shell {
    fn spawn(&mut self, which: Which, prog: Prog) -> Option<Pid> {
        // Held until recorded: a supervise killed in between leaves no unrecorded instance.
        let result = match (which, prog) {
            (Which::Main, Prog::Run) => self.run.spawn_gated(),
            (Which::Log, _) => self.log_run.spawn_gated(),
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
                c.spawn_gated()
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
            Ok((pid, gate)) => {
                let pid = status_pid(pid);
                if let Some(pid) = pid {
                    // A failure is said (and retried) by the status write that follows.
                    let _ = self.record(which, pid);
                }
                gate.open();
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
        fs::accessat(
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
    }

    fn stopped_for_good(&mut self, exit: Exit) {
        self.diag
            .trace(&format_args!("effect stopped for good: {exit:?}"));
        if let Some(fd) = &self.notify {
            // Nobody to tell if svscan is not reading (EAGAIN) or gone (EPIPE).
            let _ = herd_notice::write(fd, Notice::new(nix::unistd::Pid::this(), exit));
        }
    }
}
