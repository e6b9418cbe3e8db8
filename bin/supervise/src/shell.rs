//! supervise's shell: startup in runsv's order (runit.md §1.2), the one event loop, and the
//! effects the machine asks for. The loop waits in one `poll` on the signalfd and the control
//! FIFOs, with the machine's next deadline as the only timeout: an idle supervise never wakes.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Instant, SystemTime};

use herd_control::Control;
use herd_diag::{Diag, Reason};
use herd_status::{Pid, Status};
use herd_svdir::{self as svdir, Instance, Layout, StatusWriter, LOG, MAIN};
use herd_sys::process::{reap, wait_for};
use herd_sys::signal::{self, Sig};
use herd_sys::{proc_start_time, Command, Exit};
use herd_tai64n::Tai64n;
use nix::sys::signal::{kill, SigSet, Signal};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::fs::{self, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::machine::{Effects, Machine, Prog, Which};
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
/// Lowest descriptor for the log pipe, so that it can never be mistaken for stdin/stdout.
const FIRST_PRIVATE_FD: i32 = 3;

fn now() -> (Instant, Tai64n) {
    (Instant::now(), Tai64n::from_system_time(SystemTime::now()))
}

/// Runs supervise in `dir` until it exits. `Err` is a fatal message (exit 111).
pub fn run(dir: &str, diag: &Diag) -> Result<(), String> {
    let sigmask = signal::block(&HANDLED)
        .map_err(|e| format!("unable to block signals: {}", Reason(e as i32)))?;
    let sigfd = signal::signal_fd(&HANDLED)
        .map_err(|e| format!("unable to create signalfd: {}", Reason(e as i32)))?;
    std::env::set_current_dir(dir)
        .map_err(|e| format!("unable to change to directory: {}", Reason::of(&e)))?;

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
        Some(_) => Some(
            log_pipe()
                .map_err(|e| format!("unable to create log pipe: {}", Reason(e.raw_os_error())))?,
        ),
        None => None,
    };

    let fatal = |e: svdir::Error| e.to_string();
    svdir::make_supervise(&MAIN).map_err(fatal)?;
    let _main_lock = svdir::take_lock(&MAIN, false).map_err(fatal)?;
    let _log_lock = match log {
        Some(_) => {
            svdir::make_supervise(&LOG).map_err(fatal)?;
            Some(svdir::take_lock(&LOG, true).map_err(fatal)?)
        }
        None => None,
    };
    reclaim(&MAIN, Which::Main, diag);
    if log.is_some() {
        reclaim(&LOG, Which::Log, diag);
    }

    let (_, wall) = now();
    let mut machine = Machine::new(wall, main_down, log);
    let mut shell = Shell::new(dir, diag, sigmask, pipe).map_err(|e| e.to_string())?;
    let main_control = svdir::open_control(&MAIN).map_err(fatal)?;
    shell.publish_initial(&machine, Which::Main);
    let log_control = match log {
        Some(_) => {
            let fd = svdir::open_control(&LOG).map_err(fatal)?;
            shell.publish_initial(&machine, Which::Log);
            Some(fd)
        }
        None => None,
    };
    let _main_ok = svdir::open_ok(&MAIN).map_err(fatal)?;
    let _log_ok = match log {
        Some(_) => Some(svdir::open_ok(&LOG).map_err(fatal)?),
        None => None,
    };

    let mut buf = [0u8; 64];
    loop {
        let (t, wall) = now();
        machine.tick(t, wall, &mut shell);
        if machine.done() {
            return Ok(());
        }
        let timeout = machine.next_deadline().map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            }
        });
        let mut fds = [
            PollFd::new(&sigfd, PollFlags::IN),
            PollFd::new(&main_control, PollFlags::IN),
            PollFd::new(log_control.as_ref().unwrap_or(&main_control), PollFlags::IN),
        ];
        let nfds = if log_control.is_some() { 3 } else { 2 };
        match poll(&mut fds[..nfds], timeout.as_ref()) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(format!("unable to poll: {}", Reason(e.raw_os_error()))),
        }
        let ready: [bool; 3] = [0, 1, 2].map(|i| i < nfds && !fds[i].revents().is_empty());

        if ready[0] {
            let (mut child, mut term) = (false, false);
            signal::drain(&sigfd, |s| match s {
                s if s == Signal::SIGCHLD as i32 => child = true,
                s if s == Signal::SIGTERM as i32 => term = true,
                // HUP, ALRM, USR1 and USR2 would kill runsv and orphan the service; we ignore them.
                _ => {}
            });
            if child {
                while let Some((pid, exit)) = reap() {
                    if let Some(pid) = Pid::new(pid.as_raw() as u32) {
                        let (t, wall) = now();
                        machine.child_exited(pid, exit, t, wall, &mut shell);
                    }
                }
            }
            if term {
                machine.terminate(&mut shell);
            }
        }
        for (which, fd, is_ready) in [
            (Which::Main, Some(&main_control), ready[1]),
            (Which::Log, log_control.as_ref(), ready[2]),
        ] {
            let Some(fd) = fd.filter(|_| is_ready) else {
                continue;
            };
            while let Ok(n @ 1..) = rustix::io::read(fd, &mut buf) {
                for &b in &buf[..n] {
                    machine.control(which, b, &mut shell);
                }
            }
        }
    }
}

/// A pipe with both ends close-on-exec and at descriptors 3 and above.
fn log_pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
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
}

impl Shell {
    fn new(
        dir: &str,
        diag: &Diag,
        mask: SigSet,
        pipe: Option<(OwnedFd, OwnedFd)>,
    ) -> Result<Self, std::ffi::NulError> {
        let fatal = |what: &str| format!("supervise {dir}: fatal: {what}: ");
        let mut run = Command::new(svdir::RUN, &fatal("unable to start ./run"))?;
        let mut log_run = Command::new(svdir::RUN, &fatal("unable to start log/./run"))?;
        log_run.current_dir(LOG.base, &fatal("unable to change directory to ./log"))?;
        run.mask(mask);
        log_run.mask(mask);
        if let Some((r, w)) = &pipe {
            run.stdout(w.as_fd());
            log_run.stdin(r.as_fd());
        }
        Ok(Shell {
            diag: diag.clone(),
            mask,
            main_status: StatusWriter::new(MAIN),
            log_status: StatusWriter::new(LOG),
            run,
            log_run,
            pipe,
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

    /// A one-off command (finish, control scripts) with the main service's stdout.
    fn command(&self, path: &str, failure: &str) -> Option<Command> {
        let mut c =
            Command::new(path, &format!("{}: fatal: {failure}: ", self.diag.prefix())).ok()?;
        c.mask(self.mask);
        if let Some((_, w)) = &self.pipe {
            c.stdout(w.as_fd());
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
                let mut c = self.command(svdir::FINISH, "unable to start ./finish")?;
                let (code, status) = match exit {
                    Exit::Code(c) => (c.to_string(), "0".to_string()),
                    Exit::Signal { signo, core } => (
                        "-1".to_string(),
                        (signo | if core { 0x80 } else { 0 }).to_string(),
                    ),
                };
                c.set_args(&[&code, &status]).ok()?;
                c.spawn()
            }
        };
        match result {
            Ok(pid) => {
                let pid = Pid::new(pid.as_raw() as u32)?;
                if let Some(start) = proc_start_time(pid.get()) {
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
        let _ = kill(nix::unistd::Pid::from_raw(pid.get() as i32), sig);
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
        let Some(cmd) = self.command(script, "unable to run control/?") else {
            return false;
        };
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
        let writer = match which {
            Which::Main => &mut self.main_status,
            Which::Log => &mut self.log_status,
        };
        if let Err(e) = writer.publish(status) {
            self.diag.warn(&e);
        }
    }

    fn close_log_pipe(&mut self) {
        self.pipe = None;
    }
}
