//! What chpst does, in runit's order (docs/runit-compatibility.md#chpst-order-of-operations):
//! setsid, envdir (read outside the chroot), chroot, nice, `-U`, `-u` (users looked up inside the
//! chroot), lock, closing fds, resource limits (after dropping privileges), then exec with PATH
//! taken from the original environment.

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use herd_diag::{Diag, Reason};
use nix::unistd::{Gid, Uid};
use rustix::fs::{FlockOperation, Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Resource, Rlimit};

use crate::users::{self, Ids, LookupError};

/// chpst's exit code for every failure.
pub const EXIT_FAIL: u8 = 111;
/// The prefix of chpst's messages, whatever it is called (setuser has its own).
pub const PROG: &str = "chpst";

/// A fatal error: `chpst: fatal: MSG`, exit 111 (or, for setlock `-x`, exit 0 silently).
/// Displays in runit's words.
#[derive(Debug)]
pub enum Fatal {
    /// `WHAT: REASON`.
    Sys { what: &'static str, errno: Errno },
    /// `WHATPATH: REASON`; `what` ends with its separator (`unable to lock: `, `unable to read `).
    Path {
        what: &'static str,
        path: PathBuf,
        errno: Errno,
    },
    /// `invalid uid/gids: SPEC` (the numeric form, without its leading `:`).
    InvalidIds(OsString),
    /// `unknown user/group: SPEC` (`-u`, `-U`).
    UnknownUserGroup(OsString),
    /// `unknown account: SPEC` (setuidgid, envuidgid, setuser).
    UnknownAccount(OsString),
    /// `unable to read /etc/group` (setuser).
    ReadGroups,
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fatal::Sys { what, errno } => write!(f, "{what}: {}", Reason(errno.raw_os_error())),
            Fatal::Path { what, path, errno } => write!(
                f,
                "{what}{}: {}",
                path.display(),
                Reason(errno.raw_os_error())
            ),
            Fatal::InvalidIds(spec) => write!(f, "invalid uid/gids: {}", spec.to_string_lossy()),
            Fatal::UnknownUserGroup(spec) => {
                write!(f, "unknown user/group: {}", spec.to_string_lossy())
            }
            Fatal::UnknownAccount(spec) => write!(f, "unknown account: {}", spec.to_string_lossy()),
            Fatal::ReadGroups => f.write_str("unable to read /etc/group"),
        }
    }
}

impl std::error::Error for Fatal {}

pub type Result<T> = std::result::Result<T, Fatal>;

/// A raw errno, whichever library reported it.
fn errno(raw: impl Into<i32>) -> Errno {
    Errno::from_raw_os_error(raw.into())
}

fn io_errno(e: &std::io::Error) -> Errno {
    errno(Reason::of(e).0)
}

fn sys(what: &'static str) -> impl FnOnce(Errno) -> Fatal {
    move |errno| Fatal::Sys { what, errno }
}

fn at(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(Errno) -> Fatal {
    move |errno| Fatal::Path {
        what,
        path: path.into(),
        errno,
    }
}

/// A resource limit request: a value, or "the hard limit" (softlimit's `=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Value(u64),
    Hard,
}

/// The limits chpst can set, in runit's order of application.
#[derive(Debug, Default, Clone)]
pub struct Limits {
    pub data: Option<Limit>,
    pub stack: Option<Limit>,
    pub memlock: Option<Limit>,
    pub address_space: Option<Limit>,
    pub nofile: Option<Limit>,
    pub nproc: Option<Limit>,
    pub fsize: Option<Limit>,
    pub core: Option<Limit>,
    pub rss: Option<Limit>,
    pub cpu: Option<Limit>,
}

impl Limits {
    /// `-m`: data, stack, memlock and address space together.
    pub fn memory(&mut self, l: Limit) {
        self.data = Some(l);
        self.stack = Some(l);
        self.memlock = Some(l);
        self.address_space = Some(l);
    }
}

/// How to take a lock.
#[derive(Debug, Clone)]
pub struct Lock {
    pub path: OsString,
    pub wait: bool,
    /// setlock `-x`: if the lock cannot be had, exit 0 silently.
    pub quiet: bool,
}

/// Everything chpst was asked to do before exec.
#[derive(Debug, Default)]
pub struct Plan {
    pub setsid: bool,
    pub envdir: Option<OsString>,
    /// envdir emulation: a subdirectory in the envdir is fatal (chpst `-e` skips it).
    pub envdir_strict: bool,
    pub verbose: bool,
    pub root: Option<OsString>,
    pub nice: i32,
    /// `-U`: set `$UID`/`$GID`; `(spec, extended form)`.
    pub env_user: Option<(OsString, bool)>,
    /// `-u`: become this user; `(spec, extended form)`.
    pub set_user: Option<(OsString, bool)>,
    /// setuser: also `$HOME`, `$USER`, `$LOGNAME`, `$UID` from the passwd entry, and initgroups.
    pub setuser: bool,
    pub lock: Option<Lock>,
    pub close: [bool; 3],
    pub limits: Limits,
    pub argv0: Option<OsString>,
}

/// Environment changes applied at exec: `(name, Some(value))` sets, `(name, None)` unsets.
type EnvChanges = Vec<(OsString, Option<OsString>)>;

fn lookup(spec: &OsStr, ext: bool) -> Result<Ids> {
    let r = if ext {
        users::ids_ext(spec)
    } else {
        users::ids_account(spec)
    };
    r.map_err(|e| match e {
        LookupError::Invalid => {
            let b = spec.as_bytes();
            Fatal::InvalidIds(OsStr::from_bytes(b.strip_prefix(b":").unwrap_or(b)).into())
        }
        LookupError::Unknown if ext => Fatal::UnknownUserGroup(spec.into()),
        LookupError::Unknown => Fatal::UnknownAccount(spec.into()),
        LookupError::Io(e) if ext => sys("unable to get password/group file entry")(io_errno(&e)),
        LookupError::Io(e) => sys("unable to get password file entry")(io_errno(&e)),
    })
}

/// Reads an envdir: each file's first line (trailing blanks cut, NUL → newline) sets the
/// variable named by the file; an empty file unsets it.
fn read_envdir(dir: &OsStr, strict: bool, verbose: bool, env: &mut EnvChanges) -> Result<()> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| at("unable to switch to directory: ", dir)(io_errno(&e)))?;
    let mut names: Vec<OsString> = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| at("unable to read directory: ", dir)(io_errno(&e)))?;
        names.push(ent.file_name());
    }
    for name in names {
        if name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        // `DIR/NAME` as runit names it (no path normalisation).
        let mut path = dir.to_os_string();
        path.push("/");
        path.push(&name);
        let contents = match std::fs::read(&path) {
            Ok(c) => c,
            Err(e) => {
                let fatal = at("unable to read ", path)(io_errno(&e));
                if io_errno(&e) == Errno::ISDIR && !strict {
                    if verbose {
                        Diag::new(PROG).warn(&fatal);
                    }
                    continue;
                }
                return Err(fatal);
            }
        };
        if contents.is_empty() {
            env.push((name, None));
            continue;
        }
        let mut line: Vec<u8> = contents
            .split(|&b| b == b'\n')
            .next()
            .unwrap_or_default()
            .to_vec();
        while matches!(line.last(), Some(b' ' | b'\t')) {
            line.pop();
        }
        for b in &mut line {
            if *b == 0 {
                *b = b'\n';
            }
        }
        env.push((name, Some(OsString::from_vec(line))));
    }
    Ok(())
}

fn set_limit(res: Resource, l: Limit) -> Result<()> {
    let cur = rustix::process::getrlimit(res);
    let want = match l {
        Limit::Hard => cur.maximum,
        // Above the hard limit: clamped to it, as runit does.
        Limit::Value(v) => match cur.maximum {
            Some(max) if v > max => Some(max),
            _ => Some(v),
        },
    };
    rustix::process::setrlimit(
        res,
        Rlimit {
            current: want,
            maximum: cur.maximum,
        },
    )
    .map_err(sys("unable to setrlimit()"))
}

/// Does everything in `plan`, then execs `argv` (PATH searched in the original environment).
/// Returns only on failure.
pub fn execute(plan: &Plan, argv: &[OsString]) -> Fatal {
    match execute_inner(plan, argv) {
        Ok(never) => match never {},
        Err(f) => f,
    }
}

enum Never {}

fn execute_inner(plan: &Plan, argv: &[OsString]) -> Result<Never> {
    let mut env: EnvChanges = Vec::new();
    if plan.setsid {
        let _ = nix::unistd::setsid();
    }
    if let Some(dir) = &plan.envdir {
        read_envdir(dir, plan.envdir_strict, plan.verbose, &mut env)?;
    }
    if let Some(root) = &plan.root {
        std::env::set_current_dir(root)
            .map_err(|e| at("unable to change directory: ", root)(io_errno(&e)))?;
        nix::unistd::chroot(".")
            .map_err(|e| sys("unable to change root directory")(errno(e as i32)))?;
    }
    if plan.nice != 0 {
        // The kernel refuses a raise with EACCES; runit calls glibc's nice(3), which turns that
        // into EPERM, so runit's line says "permission denied".
        rustix::process::nice(plan.nice)
            .map_err(|e| if e == Errno::ACCESS { Errno::PERM } else { e })
            .map_err(sys("unable to set nice level"))?;
    }
    if let Some((spec, ext)) = &plan.env_user {
        let ids = lookup(spec, *ext)?;
        env.push(("GID".into(), Some(ids.gids[0].to_string().into())));
        env.push(("UID".into(), Some(ids.uid.to_string().into())));
    }
    if let Some((spec, ext)) = &plan.set_user {
        let mut ids = lookup(spec, *ext)?;
        if plan.setuser {
            let pw = users::passwd(spec)
                .ok()
                .flatten()
                .ok_or_else(|| Fatal::UnknownAccount(spec.clone()))?;
            ids.gids = users::member_groups(&pw.name, pw.gid).map_err(|_| Fatal::ReadGroups)?;
            env.push(("HOME".into(), Some(pw.home.clone())));
            env.push(("USER".into(), Some(pw.name.clone())));
            env.push(("LOGNAME".into(), Some(pw.name.clone())));
            env.push(("UID".into(), Some(pw.uid.to_string().into())));
        }
        let gids: Vec<Gid> = ids.gids.iter().map(|g| Gid::from_raw(*g)).collect();
        let nix_sys = |what| move |e: nix::errno::Errno| sys(what)(errno(e as i32));
        nix::unistd::setgroups(&gids).map_err(nix_sys("unable to setgroups"))?;
        nix::unistd::setgid(gids[0]).map_err(nix_sys("unable to setgid"))?;
        nix::unistd::setuid(Uid::from_raw(ids.uid)).map_err(nix_sys("unable to setuid"))?;
    }
    // The lock descriptor must stay open (and inherited) across exec.
    let _lock = match &plan.lock {
        Some(l) => Some(take_lock(l)?),
        None => None,
    };
    for (fd, what) in [
        (0, "unable to close stdin"),
        (1, "unable to close stdout"),
        (2, "unable to close stderr"),
    ] {
        if plan.close[fd as usize] {
            herd_sys::close_stdio(fd).map_err(|e| sys(what)(errno(e as i32)))?;
        }
    }
    let l = &plan.limits;
    for (res, lim) in [
        (Resource::Data, l.data),
        (Resource::Stack, l.stack),
        (Resource::Memlock, l.memlock),
        (Resource::As, l.address_space),
        (Resource::Nofile, l.nofile),
        (Resource::Nproc, l.nproc),
        (Resource::Fsize, l.fsize),
        (Resource::Core, l.core),
        (Resource::Rss, l.rss),
        (Resource::Cpu, l.cpu),
    ] {
        if let Some(lim) = lim {
            set_limit(res, lim)?;
        }
    }
    Err(exec(argv, plan.argv0.as_deref(), &env))
}

fn take_lock(l: &Lock) -> Result<std::os::fd::OwnedFd> {
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | OFlags::NONBLOCK;
    let fd =
        rustix::fs::open(l.path.as_os_str(), flags, Mode::from_raw_mode(0o600)).map_err(|e| {
            if l.quiet {
                std::process::exit(0);
            }
            at("unable to open lock: ", &l.path)(e)
        })?;
    let op = if l.wait {
        FlockOperation::LockExclusive
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    rustix::fs::flock(&fd, op).map_err(|e| {
        if l.quiet {
            std::process::exit(0);
        }
        at("unable to lock: ", &l.path)(e)
    })?;
    Ok(fd)
}

fn cstring(s: &OsStr) -> Option<CString> {
    CString::new(s.as_bytes()).ok()
}

/// djb's `pathexec_env_run`: the environment with `changes` applied; `argv[0]` searched in
/// the original `PATH` (default `/bin:/usr/bin`) unless it contains a `/`.
fn exec(argv: &[OsString], argv0: Option<&OsStr>, changes: &EnvChanges) -> Fatal {
    let Some(prog) = argv.first() else {
        return at("unable to run: ", "")(Errno::NOENT);
    };
    // djb's pathexec_env: each change removes the first variable with the same name (the text
    // before the change's first `=`, so a file named `A=B` replaces `A`), moving the last
    // variable into its slot, then appends itself when it has a value.
    let mut env: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| {
            let mut b = k.into_vec();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            b
        })
        .collect();
    for (k, v) in changes {
        let mut change = k.as_bytes().to_vec();
        if let Some(v) = v {
            change.push(b'=');
            change.extend_from_slice(v.as_bytes());
        }
        let key_len = change
            .iter()
            .position(|&b| b == b'=')
            .unwrap_or(change.len());
        let key = &change[..key_len];
        if let Some(j) = env
            .iter()
            .position(|e| e.len() > key_len && e.starts_with(key) && e[key_len] == b'=')
        {
            env.swap_remove(j);
        }
        if v.is_some() {
            env.push(change);
        }
    }
    let env: Vec<CString> = env
        .into_iter()
        .filter_map(|e| CString::new(e).ok())
        .collect();
    let mut args: Vec<CString> = argv.iter().filter_map(|a| cstring(a)).collect();
    if let (Some(first), Some(a0)) = (args.first_mut(), argv0.and_then(cstring)) {
        *first = a0;
    }
    // As execvp: each candidate in turn; "not there" moves on, "not allowed" is remembered.
    let mut saved = None;
    for c in herd_sys::path::candidates(prog) {
        let Some(path) = cstring(c.as_os_str()) else {
            continue;
        };
        let e = herd_sys::exec_replace(&path, &args, &env);
        if e != nix::errno::Errno::ENOENT {
            saved = Some(e);
            if !matches!(
                e,
                nix::errno::Errno::EACCES | nix::errno::Errno::EPERM | nix::errno::Errno::EISDIR
            ) {
                break;
            }
        }
    }
    let errno = saved.map_or(Errno::NOENT, |e| Errno::from_raw_os_error(e as i32));
    at("unable to run: ", argv0.unwrap_or(prog))(errno)
}
