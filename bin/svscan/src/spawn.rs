//! Starting svscan's children: `supervise NAME` for each service, the scripts, and the main
//! command. Every child starts with an empty signal mask and default signal actions. Failure
//! texts are prepared before the fork (`herd_sys::Command`); a fork that fails is a warning and
//! `None`, and the lifecycle decides what follows.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use herd_diag::{Diag, Kind, Reason};
use herd_status::Pid;
use herd_sys::{find_executable, status_pid, Command};

use crate::lifecycle::{EXIT_CANNOT_EXEC, EXIT_NOT_FOUND};

pub struct Spawner {
    diag: Diag,
    supervise: PathBuf,
    /// `-P`: each supervise in its own session.
    setsid: bool,
    /// The write end of the essential-service notice pipe, given to each supervise.
    notify: Option<OwnedFd>,
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
    find_executable(OsStr::new("supervise")).unwrap_or_else(|| PathBuf::from("supervise"))
}

/// The main command's program: a name with a `/` as it is if something is there (exec says what is
/// wrong with it), else the first executable of that name on `PATH`; `None`: not found (127).
fn find_main(name: &OsStr) -> Option<PathBuf> {
    if name.as_bytes().contains(&b'/') {
        // A path that names nothing is "not found" (127), as for a name looked up in PATH; one
        // that exists but cannot be executed fails at the exec (126).
        let path = PathBuf::from(name);
        return match rustix::fs::stat(&path) {
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => None,
            _ => Some(path),
        };
    }
    find_executable(name)
}

impl Spawner {
    pub fn new(diag: Diag, setsid: bool, notify: Option<OwnedFd>) -> Self {
        Spawner {
            diag,
            supervise: find_supervise(),
            setsid,
            notify,
        }
    }

    fn forked(
        &self,
        shown: &dyn std::fmt::Display,
        spawned: Result<nix::unistd::Pid, nix::errno::Errno>,
    ) -> Option<Pid> {
        match spawned {
            Ok(pid) => status_pid(pid),
            Err(e) => {
                self.diag.warn(&format_args!(
                    "unable to fork for {shown}: {}",
                    Reason(e as i32)
                ));
                None
            }
        }
    }

    /// `supervise NAME` with cwd the scan dir (re-resolved at each start, so that a switched
    /// symlink counts), and the notice pipe. NAME's bytes go to supervise as they are, but for a
    /// service called `--help` or `--version`, which supervise would answer: `./NAME`.
    pub fn supervise(&self, dir: &Path, name: &OsStr) -> Option<Pid> {
        let dotted;
        let name = if herd_getopt::Long::of(name).is_some() {
            dotted = Path::new(".").join(name);
            dotted.as_os_str()
        } else {
            name
        };
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
        c.setsid(self.setsid);
        c.reset_signals(true);
        if let Some(w) = &self.notify {
            herd_notice::pass_to(&mut c, w.as_fd()).ok()?;
        }
        self.forked(&shown, c.spawn())
    }

    /// A start-up or shutdown script, with svscan's stdio, cwd and environment.
    pub fn script(&self, path: &Path) -> Option<Pid> {
        let shown = path.display();
        let failure = self
            .diag
            .head(Kind::Fatal, &format_args!("unable to run {shown}"));
        let mut c = Command::new(path, failure).ok()?;
        c.failure_code(EXIT_CANNOT_EXEC);
        c.reset_signals(true);
        self.forked(&shown, c.spawn())
    }

    /// The main command in the foreground: its own process group, given the terminal. `Err` is
    /// the exit code for why it could not start (the fatal line is written).
    pub fn main(&self, cmd: &[OsString]) -> Result<Pid, u8> {
        let Some((name, args)) = cmd.split_first() else {
            return Err(EXIT_NOT_FOUND);
        };
        let shown = name.to_string_lossy();
        let Some(path) = find_main(name) else {
            self.diag.fatal(&format_args!(
                "unable to run {shown}: {}",
                Reason(rustix::io::Errno::NOENT.raw_os_error())
            ));
            return Err(EXIT_NOT_FOUND);
        };
        let failure = self
            .diag
            .head(Kind::Fatal, &format_args!("unable to run {shown}"));
        let spawned = Command::new(&path, failure).and_then(|mut c| {
            c.arg0(name)?;
            c.set_args(args)?;
            c.failure_code(EXIT_CANNOT_EXEC);
            c.reset_signals(true);
            c.foreground(true);
            Ok(c)
        });
        let Ok(Ok(pid)) = spawned.map(|c| c.spawn()) else {
            self.diag.fatal(&format_args!("unable to start {shown}"));
            return Err(EXIT_CANNOT_EXEC);
        };
        // The child does the same; whichever runs first wins the race with a signal.
        let _ = nix::unistd::setpgid(pid, pid);
        status_pid(pid).ok_or(EXIT_CANNOT_EXEC)
    }
}
