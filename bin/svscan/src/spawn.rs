//! Starting svscan's children: `supervise NAME` for each service, the scripts, and the main
//! command. Every child starts with an empty signal mask and default signal actions. Failure
//! texts are prepared before the fork (`herd_sys::Command`); a fork that fails is a warning and
//! `None`, and the lifecycle decides what follows.
//!
//! When the `supervise` svscan runs is this executable (the `herd` binary, as installed), every
//! supervise is started by svscan's forker (`herd_sys::forker`): forked, without an exec, from a
//! small copy of svscan made at its start, before it has scanned anything (so each supervise
//! begins from pages nobody has written since, which stay shared). Whenever the forker is gone
//! or the binary has been replaced since svscan started (an upgrade), supervise is exec'd.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use herd_diag::{Diag, Kind, Reason};
use herd_status::Pid;
use herd_sys::forker::{Forker, Inline, Request};
use herd_sys::{find_executable, status_pid, Command, SpawnStack};

use crate::lifecycle::{EXIT_CANNOT_EXEC, EXIT_NOT_FOUND};

pub struct Spawner {
    diag: Diag,
    supervise: SuperviseCmd,
    /// `-P`: each supervise in its own session.
    setsid: bool,
    /// The write end of the essential-service notice pipe, given to each supervise.
    notify: Option<OwnedFd>,
    /// What each child runs on until its exec: svscan spawns as `posix_spawn` does (no copy of
    /// svscan, which a fork would make of its page tables for every one of hundreds of
    /// services).
    stack: SpawnStack,
    /// Starts each supervise without an exec while the binary is the one running.
    forker: Option<Forker>,
    /// The running binary's (device, inode): a supervise path that names another file (the
    /// binary replaced by an upgrade) is exec'd.
    image: Option<(u64, u64)>,
}

/// The forker's argv, as `ps` shows it.
const FORKER_TITLE: &[u8] = b"svscan-fork";

/// How svscan runs `supervise NAME`: the executable and the argv[0] it gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SuperviseCmd {
    path: PathBuf,
    arg0: OsString,
}

/// Where `supervise` is. Every tool is the one `herd` binary, so svscan runs itself:
/// `/proc/self/exe` (`exe`), resolved once at start, so that an upgrade that replaces the binary
/// by rename (scripts/install.sh) is what the next supervise runs. Without it (no `/proc`):
/// today's rule, `supervise` next to svscan's argv[0] (`arg0`), else the first on `PATH`. Either
/// way argv[0] is the `supervise` next to svscan's argv[0] if there is one there (`ps` shows
/// `/usr/bin/supervise web` as before), else `supervise`.
fn find_supervise(exe: Option<PathBuf>, arg0: &OsStr) -> SuperviseCmd {
    let beside = Path::new(arg0)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join("supervise"))
        .filter(|p| p.is_file());
    let arg0 = beside
        .clone()
        .map_or_else(|| OsString::from("supervise"), PathBuf::into_os_string);
    let path = exe.or(beside).unwrap_or_else(|| {
        find_executable(OsStr::new("supervise")).unwrap_or_else(|| PathBuf::from("supervise"))
    });
    SuperviseCmd { path, arg0 }
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
    /// `arg0`: svscan's argv[0].
    /// `supervise`: supervise's `main` if it is in this executable: each supervise is then
    /// started by a forker, which this starts now.
    pub fn new(
        diag: Diag,
        setsid: bool,
        notify: Option<OwnedFd>,
        arg0: &OsStr,
        supervise: Option<Inline>,
    ) -> Self {
        // `current_exe` reads `/proc/self/exe`; a deleted binary's name ends in " (deleted)".
        let exe = std::env::current_exe()
            .ok()
            .filter(|e| !e.as_os_str().as_bytes().ends_with(b" (deleted)"));
        // The file this process runs, even if replaced since (the link names its inode).
        let image = std::fs::metadata("/proc/self/exe")
            .ok()
            .map(|m| (m.dev(), m.ino()));
        let keep: Vec<_> = notify.iter().map(|w| w.as_raw_fd()).collect();
        let forker = supervise
            .filter(|_| exe.is_some() && image.is_some())
            .and_then(|main| Forker::start(main, &keep, &[FORKER_TITLE]).ok());
        Spawner {
            diag,
            supervise: find_supervise(exe, arg0),
            setsid,
            notify,
            stack: SpawnStack::default(),
            forker,
            image,
        }
    }

    /// Ends the forker (it exits when its end of the socket closes); from now on every
    /// supervise is exec'd.
    pub fn end_forker(&mut self) {
        self.forker = None;
    }

    /// Whether the supervise path still names the binary this process runs.
    fn path_is_image(&self) -> bool {
        let now = std::fs::metadata(&self.supervise.path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        now.is_some() && now == self.image
    }

    /// `supervise NAME` started by the forker; `None` (and no forker any more) if it cannot
    /// start it: the caller execs supervise instead.
    fn forked_supervise(
        &mut self,
        dir: &Path,
        name: &OsStr,
        shown: &dyn std::fmt::Display,
    ) -> Option<Option<Pid>> {
        let forker = self.forker.as_ref()?;
        if !self.path_is_image() {
            self.forker = None;
            return None;
        }
        // svscan's environment now (my_init changes it), with the notice pipe's number.
        let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        let n = self.notify.as_ref().map(|w| w.as_raw_fd().to_string());
        let notice = OsStr::new(herd_notice::ENV);
        let mut env: Vec<(&OsStr, &OsStr)> = vars
            .iter()
            .filter(|(k, _)| n.is_none() || k != notice)
            .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
            .collect();
        if let Some(n) = &n {
            env.push((notice, OsStr::new(n)));
        }
        let failure = self.diag.head(
            Kind::Fatal,
            &format_args!("unable to change directory to {}", dir.display()),
        );
        let req = Request {
            argv: &[self.supervise.arg0.as_os_str(), name],
            dir: dir.as_os_str(),
            chdir_failure: &failure,
            setsid: self.setsid,
            env: &env,
        };
        match forker.spawn(&req) {
            Ok(pid) => Some(status_pid(pid)),
            Err(nix::errno::Errno::EPIPE | nix::errno::Errno::E2BIG) => {
                self.forker = None;
                None
            }
            Err(e) => Some(self.forked(shown, Err(e))),
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
    pub fn supervise(&mut self, dir: &Path, name: &OsStr) -> Option<Pid> {
        let dotted;
        let name = if herd_getopt::Long::of(name).is_some() {
            dotted = Path::new(".").join(name);
            dotted.as_os_str()
        } else {
            name
        };
        let shown = name.to_string_lossy();
        if let Some(started) = self.forked_supervise(dir, name, &shown) {
            return started;
        }
        let mut c = Command::new(
            &self.supervise.path,
            self.diag.head(
                Kind::Fatal,
                &format_args!("unable to start supervise {shown}"),
            ),
        )
        .ok()?;
        c.arg0(&self.supervise.arg0).ok()?;
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
        self.forked(&shown, c.spawn_shared(&self.stack))
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
        self.forked(&shown, c.spawn_shared(&self.stack))
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
        let Ok(Ok(pid)) = spawned.map(|c| c.spawn_shared(&self.stack)) else {
            self.diag.fatal(&format_args!("unable to start {shown}"));
            return Err(EXIT_CANNOT_EXEC);
        };
        // The child does the same; whichever runs first wins the race with a signal.
        let _ = nix::unistd::setpgid(pid, pid);
        status_pid(pid).ok_or(EXIT_CANNOT_EXEC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn supervise_is_this_executable_named_as_before() {
        let dir = std::env::temp_dir().join(format!("herd-spawn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("supervise"), b"").unwrap();
        let exe = || Some(PathBuf::from("/usr/bin/herd"));
        let cmd = |path: &str, arg0: &Path| SuperviseCmd {
            path: PathBuf::from(path),
            arg0: arg0.as_os_str().to_owned(),
        };
        let beside = dir.join("supervise");
        // Called by a bare name, or from where there is no supervise: argv[0] `supervise`.
        let bare = Path::new("supervise");
        assert_eq!(
            find_supervise(exe(), OsStr::new("svscan")),
            cmd("/usr/bin/herd", bare)
        );
        let nowhere = OsStr::new("/nonexistent/svscan");
        assert_eq!(find_supervise(exe(), nowhere), cmd("/usr/bin/herd", bare));
        // A supervise next to svscan's argv[0] names the child, but the executable is ours.
        let arg0 = dir.join("my_init");
        assert_eq!(
            find_supervise(exe(), arg0.as_os_str()),
            cmd("/usr/bin/herd", &beside)
        );
        // Without /proc/self/exe: the one next to argv[0] runs.
        let found = find_supervise(None, arg0.as_os_str());
        assert_eq!(found, cmd(beside.to_str().unwrap(), &beside));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
