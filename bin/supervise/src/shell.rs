//! supervise's shell: startup in runsv's order (runit.md §1.2), the one event loop, and the
//! effects the machine asks for. The loop waits in one `poll` on the signalfd, the control
//! FIFOs and (with prefixed logs) the service's output pipes, with the machine's next deadline as
//! the only timeout: an idle supervise never wakes.

use std::ffi::{NulError, OsStr};
use std::fmt;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Instant, SystemTime};

use herd_control::Control;
use herd_diag::{Diag, Kind, Reason};
use herd_notice::Notice;
use herd_status::{Exit, Pid, Status};
use herd_svdir::{self as svdir, Instance, Layout, StatusWriter, LOG, MAIN};
use herd_sys::process::{reap, wait_for};
use herd_sys::signal::{self, Sig};
use herd_sys::{proc_start_time, status_pid, system_pid, timespec_until, Command};
use herd_tai64n::Tai64n;
use nix::sys::signal::{kill, SigSet, Signal};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::{self, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::machine::{failure_limit, Effects, Machine, Prog, Which};
use crate::prefix::{self, Output};
use crate::reclaim::reclaim;

/// Signals supervise handles (through its signalfd). SIGPIPE is ignored by the Rust runtime.
const HANDLED: [Sig; 6] = [
    Sig::SIGCHLD,
    Sig::SIGTERM,
    Sig::SIGHUP,
    Sig::SIGALRM,
    Sig::SIGUSR1,
    Sig::SIGUSR2,
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
    let main_control = svdir::open_control(&MAIN)?;
    shell.publish_initial(&machine, Which::Main);
    let log_control = match log {
        Some(_) => {
            let fd = svdir::open_control(&LOG)?;
            shell.publish_initial(&machine, Which::Log);
            Some(fd)
        }
        None => None,
    };
    let _main_ok = svdir::open_ok(&MAIN)?;
    let _log_ok = match log {
        Some(_) => Some(svdir::open_ok(&LOG)?),
        None => None,
    };

    let mut buf = [0u8; 64];
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
            PollFd::new(&main_control, PollFlags::IN),
            PollFd::new(&sigfd, PollFlags::IN),
            PollFd::new(&sigfd, PollFlags::IN),
        ];
        let mut nfds = 2;
        if let Some(fd) = &log_control {
            fds[2] = PollFd::new(fd, PollFlags::IN);
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
        }
        if let Some(output) = &mut shell.output {
            output.copy([ready[2], ready[3]]);
        }
        for (which, fd, is_ready) in [
            (Which::Main, Some(&main_control), ready[1]),
            (Which::Log, log_control.as_ref(), ready[2]),
        ] {
            let Some(fd) = fd.filter(|_| is_ready) else {
                continue;
            };
            while let Ok(n @ 1..) = rustix::io::read(fd, &mut buf) {
                for c in buf[..n].iter().filter_map(|&b| Control::from_byte(b)) {
                    shell
                        .diag
                        .trace(&format_args!("event control: {which:?} {c:?}"));
                    machine.control(which, c, &mut shell);
                }
            }
        }
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
        })
    }

    fn publish_initial(&mut self, machine: &Machine, which: Which) {
        if let Some(st) = machine.status(which) {
            self.publish(which, &st);
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
        let result = match (which, prog) {
            (Which::Main, Prog::Run) => self.run.spawn(),
            (Which::Log, _) => self.log_run.spawn(),
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
                c.spawn()
            }
        };
        self.diag.trace(&format_args!(
            "effect spawn: {which:?} {prog:?}: {}",
            match &result {
                Ok(pid) => pid.to_string(),
                Err(e) => Reason(*e as i32).to_string(),
            }
        ));
        match result {
            Ok(pid) => {
                let start = proc_start_time(pid);
                let pid = status_pid(pid)?;
                if let Some(start) = start {
                    let _ = svdir::write_instance(Self::layout(which), Instance { pid, start });
                }
                Some(pid)
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
        fs::open(
            svdir::FINISH_FILE,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .is_ok()
    }

    fn publish(&mut self, which: Which, status: &Status) {
        self.diag.trace(&format_args!(
            "effect publish: {which:?} {}",
            status
                .stat_text()
                .as_bytes()
                .trim_ascii_end()
                .escape_ascii()
        ));
        let writer = match which {
            Which::Main => &mut self.main_status,
            Which::Log => &mut self.log_status,
        };
        if let Err(e) = writer.publish(status) {
            self.diag.warn(&e);
        }
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
