//! Starting svscan's children: `supervise NAME` for each service, the scripts, and the main
//! command. Every child starts with an empty signal mask and default signal actions. Failure
//! texts are prepared before the fork (`herd_sys::Command`); a fork that fails is a warning and
//! `None`, and the lifecycle decides what follows.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use herd_diag::{Diag, Reason};
use herd_status::Pid;
use herd_sys::Command;

use crate::lifecycle::{EXIT_CANNOT_EXEC, EXIT_NOT_FOUND};

/// Tells each supervise which inherited descriptor takes its essential-service notices.
const NOTIFY_ENV: &str = "SVSCAN_NOTIFY_FD";

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

fn pid_of(pid: nix::unistd::Pid) -> Option<Pid> {
    u32::try_from(pid.as_raw()).ok().and_then(Pid::new)
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
        shown: &str,
        spawned: Result<nix::unistd::Pid, nix::errno::Errno>,
    ) -> Option<Pid> {
        match spawned {
            Ok(pid) => pid_of(pid),
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
    /// symlink counts), and the notice pipe.
    pub fn supervise(&self, dir: &Path, name: &OsStr) -> Option<Pid> {
        let prefix = self.diag.prefix();
        let shown = name.to_string_lossy();
        let mut c = Command::new(
            &self.supervise.to_string_lossy(),
            &format!("{prefix}: fatal: unable to start supervise {shown}: "),
        )
        .ok()?;
        c.set_args(&[&shown]).ok()?;
        c.current_dir(
            &dir.to_string_lossy(),
            &format!(
                "{prefix}: fatal: unable to change directory to {}: ",
                dir.display()
            ),
        )
        .ok()?;
        c.setsid(self.setsid);
        c.reset_signals(true);
        if let Some(w) = &self.notify {
            let fd = w.as_raw_fd();
            c.fd(w.as_fd(), fd);
            c.env(OsStr::new(NOTIFY_ENV), OsStr::new(&fd.to_string()))
                .ok()?;
        }
        self.forked(&shown, c.spawn())
    }

    /// A start-up or shutdown script, with svscan's stdio, cwd and environment.
    pub fn script(&self, path: &Path) -> Option<Pid> {
        let shown = path.display().to_string();
        let prefix = self.diag.prefix();
        let mut c =
            Command::new(&shown, &format!("{prefix}: fatal: unable to run {shown}: ")).ok()?;
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
        let shown = name.to_string_lossy().into_owned();
        let Some(path) = find_in_path(name) else {
            self.diag.fatal(&format_args!(
                "unable to run {shown}: {}",
                Reason(rustix::io::Errno::NOENT.raw_os_error())
            ));
            return Err(EXIT_NOT_FOUND);
        };
        let prefix = self.diag.prefix();
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let spawned = Command::new(
            &path.to_string_lossy(),
            &format!("{prefix}: fatal: unable to run {shown}: "),
        )
        .and_then(|mut c| {
            c.arg0(&shown)?;
            c.set_args(&args)?;
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
        pid_of(pid).ok_or(EXIT_CANNOT_EXEC)
    }
}
