//! The forker: a small process a tool forks once, early, that forks the tool's children for it
//! and runs a function of this executable in each of them instead of an exec.
//!
//! Why: every tool is the one static `herd` executable, so svscan's `supervise NAME` is this same
//! program. An exec of it costs the kernel's load and the C library's start-up, which on a
//! virtual machine is mostly `cpuid` exits (glibc's start-up asks the CPU about itself about 70
//! times): with hundreds of services that is most of svscan's start (docs/benchmarks.md,
//! "Startup vs floor"). A fork of svscan itself would skip it, but would then share svscan's
//! memory with every supervise, and each page svscan writes afterwards would stay behind as a
//! private copy in every supervise forked before (about 45 KiB each, measured). The forker is
//! forked before svscan has done much, writes almost nothing afterwards (one request buffer on
//! its stack), and so each child starts from its small, still memory.
//!
//! Each child is made with `clone(CLONE_PARENT)`: it is the tool's child, not the forker's, so
//! the tool reaps it and is told of its end as of any child. The forker replies with the pid.
//!
//! In the child, as after an exec: the directory of the request, a session of its own if asked,
//! default signal actions and an empty mask, only the descriptors an exec would have left open
//! (the tool's without close-on-exec, and the kept ones), the request's environment (the tool's own at the time of the request:
//! my_init changes it after the forker has started), and the process name, argv and environment
//! `ps` shows. Then `main(argv)` runs, and its code is the exit code.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use nix::errno::Errno;
use nix::unistd::Pid;

/// What a child of the forker runs: a tool's `main`, given its argv; returns the exit code.
pub type Inline = fn(Vec<OsString>) -> u8;

/// The largest request: a directory path, a service name and the environment.
const REQUEST_MAX: usize = 128 * 1024;
/// The exit code of a child that cannot change to its directory (runit's 111).
const EXIT_CHDIR: i32 = 111;

/// The tool's end of a running forker.
#[derive(Debug)]
pub struct Forker {
    sock: OwnedFd,
    pid: Pid,
}

/// One child to start.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Its argv; argv[0] also names the process (`comm`, its base name).
    pub argv: &'a [&'a OsStr],
    /// Its working directory.
    pub dir: &'a OsStr,
    /// What it writes (followed by the reason and a newline) to stderr if it cannot change to
    /// `dir`, before exiting 111.
    pub chdir_failure: &'a [u8],
    /// It calls `setsid()`.
    pub setsid: bool,
    /// Its whole environment.
    pub env: &'a [(&'a OsStr, &'a OsStr)],
}

impl Forker {
    /// Forks the forker. Its children run `main`; `keep`: descriptors they get at the same
    /// numbers although close-on-exec here (besides those without it, which they get as an exec
    /// leaves them); `title`: the forker's own argv as `ps` shows it.
    pub fn start(main: Inline, keep: &[RawFd], title: &[&[u8]]) -> Result<Forker, Errno> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: socketpair writes two descriptors into `fds`, which we then own.
        let (ours, theirs) = unsafe {
            if libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            ) == -1
            {
                return Err(Errno::last());
            }
            (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
        };
        // Prepared before the fork, so that the forker allocates nothing of its own.
        let keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd > 2).collect();
        let title = Title::new(title);
        // SAFETY: the tools that call this are single-threaded; the child never returns from
        // `serve`.
        match unsafe { libc::fork() } {
            -1 => Err(Errno::last()),
            0 => {
                drop(ours);
                serve(theirs.as_raw_fd(), main, &keep, &title)
            }
            pid => Ok(Forker {
                sock: ours,
                pid: Pid::from_raw(pid),
            }),
        }
    }

    /// The forker's pid (a child of the caller).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Starts a child as `req` says; returns its pid. `Err(EPIPE)`: the forker is gone (any
    /// failure to talk to it; the caller spawns otherwise, and drops this); another error: the fork failed, or the request
    /// is too big to send.
    pub fn spawn(&self, req: &Request<'_>) -> Result<Pid, Errno> {
        let msg = encode(req).ok_or(Errno::E2BIG)?;
        let fd = self.sock.as_raw_fd();
        // SAFETY: a send of an owned buffer on our socket.
        let sent = unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), libc::MSG_NOSIGNAL) };
        if sent < 0 {
            return Err(Errno::EPIPE);
        }
        let mut reply = [0u8; 4];
        loop {
            // SAFETY: a receive into a buffer of ours, of its length.
            let n = unsafe { libc::recv(fd, reply.as_mut_ptr().cast(), reply.len(), 0) };
            match n {
                4 => break,
                -1 if Errno::last() == Errno::EINTR => continue,
                -1 => return Err(Errno::EPIPE),
                _ => return Err(Errno::EPIPE),
            }
        }
        match i32::from_ne_bytes(reply) {
            pid if pid > 0 => Ok(Pid::from_raw(pid)),
            e => Err(Errno::from_raw(-e)),
        }
    }
}

/// `setsid, argc`, `envc` (2 bytes, little-endian), then NUL-terminated: the chdir failure text,
/// the directory, the arguments, the variables (`NAME`, `value`). `None` if it does not fit or
/// holds a NUL.
fn encode(req: &Request<'_>) -> Option<Vec<u8>> {
    let argc = u8::try_from(req.argv.len()).ok()?;
    let [e0, e1] = u16::try_from(req.env.len()).ok()?.to_le_bytes();
    let mut out = vec![u8::from(req.setsid), argc, e0, e1];
    let mut put = |b: &[u8]| -> Option<()> {
        if b.contains(&0) {
            return None;
        }
        out.extend_from_slice(b);
        out.push(0);
        Some(())
    };
    put(req.chdir_failure)?;
    put(req.dir.as_bytes())?;
    for a in req.argv {
        put(a.as_bytes())?;
    }
    for (n, v) in req.env {
        put(n.as_bytes())?;
        put(v.as_bytes())?;
    }
    (out.len() <= REQUEST_MAX).then_some(out)
}

/// A request as the child reads it.
struct Decoded<'a> {
    setsid: bool,
    chdir_failure: &'a [u8],
    dir: &'a [u8],
    argv: Vec<&'a [u8]>,
    env: Vec<(&'a [u8], &'a [u8])>,
}

fn decode(msg: &[u8]) -> Option<Decoded<'_>> {
    let (&[setsid, argc, e0, e1], rest) = msg.split_first_chunk::<4>()?;
    let envc = u16::from_le_bytes([e0, e1]);
    // Every string ends in a NUL: without the last one, the pieces are the strings.
    let mut parts = rest.strip_suffix(&[0])?.split(|&b| b == 0);
    let chdir_failure = parts.next()?;
    let dir = parts.next()?;
    let argv = (0..argc)
        .map(|_| parts.next())
        .collect::<Option<Vec<_>>>()?;
    let env = (0..envc)
        .map(|_| Some((parts.next()?, parts.next()?)))
        .collect::<Option<Vec<_>>>()?;
    if parts.next().is_some() {
        return None;
    }
    Some(Decoded {
        setsid: setsid != 0,
        chdir_failure,
        dir,
        argv,
        env,
    })
}

/// The forker: set up once, then one child per request until the tool's end closes.
fn serve(sock: RawFd, main: Inline, keep: &[RawFd], title: &Title) -> ! {
    // SAFETY: we are the forker, single-threaded, between fork and `_exit`; the calls below
    // touch only what it owns.
    unsafe {
        reset_signals();
        close_on_exec_but(keep, sock);
        for &fd in keep {
            // Kept descriptors reach each child as an exec would leave them.
            libc::fcntl(fd, libc::F_SETFD, 0);
        }
    }
    title.apply();
    // The request buffer is a mapping of its own (never unmapped): only the pages a request
    // fills are ever memory (shared with each child). On the stack, the frame's probes would
    // touch all of it.
    let Ok(buf) = crate::process::map_anonymous(REQUEST_MAX, 0) else {
        exit_now(0)
    };
    let buf = buf.cast::<u8>();
    loop {
        // SAFETY: a receive into our mapping, of its length.
        let n = unsafe { libc::recv(sock, buf.cast(), REQUEST_MAX, 0) };
        let n = match usize::try_from(n) {
            Ok(0) => exit_now(0),
            Ok(n) => n,
            Err(_) if Errno::last() == Errno::EINTR => continue,
            Err(_) => exit_now(0),
        };
        // SAFETY: a fork-like clone (no new stack: the child goes on from here on a copy) of a
        // single-threaded process; CLONE_PARENT makes the child our parent's, who reaps it.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                libc::CLONE_PARENT | libc::SIGCHLD,
                0usize,
                0usize,
                0usize,
                0usize,
            )
        };
        if pid == 0 {
            // SAFETY: recv wrote the first `n` bytes (at most REQUEST_MAX).
            let msg = unsafe { std::slice::from_raw_parts(buf, n) };
            run_child(sock, msg, main);
        }
        let reply: i32 = if pid < 0 {
            -(Errno::last() as i32)
        } else {
            i32::try_from(pid).unwrap_or(-(Errno::EOVERFLOW as i32))
        };
        let bytes = reply.to_ne_bytes();
        // SAFETY: a send of a buffer of ours on our socket.
        let sent =
            unsafe { libc::send(sock, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) };
        if sent < 0 {
            exit_now(0);
        }
    }
}

/// A child of the forker: becomes what the request says, then runs `main`.
fn run_child(sock: RawFd, msg: &[u8], main: Inline) -> ! {
    // SAFETY: this process is our own copy of the forker; closing its socket end here leaves
    // the forker's open.
    drop(unsafe { OwnedFd::from_raw_fd(sock) });
    let Some(req) = decode(msg) else {
        exit_now(EXIT_CHDIR)
    };
    let Ok(dir) = CString::new(req.dir) else {
        exit_now(EXIT_CHDIR)
    };
    // SAFETY: chdir of a C string; on failure only writes to fd 2 and `_exit`.
    unsafe {
        if libc::chdir(dir.as_ptr()) == -1 {
            let reason = herd_diag::errno_text(Errno::last() as i32);
            let mut line = req.chdir_failure.to_vec();
            line.extend_from_slice(reason.as_bytes());
            line.push(b'\n');
            libc::write(2, line.as_ptr().cast(), line.len());
            exit_now(EXIT_CHDIR);
        }
        if req.setsid {
            libc::setsid();
        }
    }
    // SAFETY: single-threaded; clearenv drops the array, not the strings.
    unsafe { libc::clearenv() };
    for (name, value) in &req.env {
        std::env::set_var(OsStr::from_bytes(name), OsStr::from_bytes(value));
    }
    let argv: Vec<OsString> = req
        .argv
        .iter()
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    Title::new(&req.argv).with_env(&req.env).apply();
    crate::start::runtime();
    crate::start::exit(main(argv))
}

/// Every signal back to its default action, and none blocked (the forker's children start
/// clean, as svscan's exec'd children do).
///
/// # Safety
/// Only in a single-threaded process.
unsafe fn reset_signals() {
    // SAFETY: single-threaded (the caller's contract); sigprocmask with an empty set is valid.
    unsafe {
        crate::process::default_actions();
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}

/// Closes every descriptor an exec would close (close-on-exec), but `keep` and `sock`: what is
/// left is what the tool's exec'd children would get.
///
/// # Safety
/// The caller owns none of the descriptors closed any more.
unsafe fn close_on_exec_but(keep: &[RawFd], sock: RawFd) {
    let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if fd <= 2 || fd == sock || keep.contains(&fd) {
            continue;
        }
        // SAFETY: F_GETFD reads a flag; a descriptor that was the listing's own is closed by
        // now and fails with EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags != -1 && flags & libc::FD_CLOEXEC != 0 {
            // SAFETY: as the function's contract says.
            unsafe { libc::close(fd) };
        }
    }
}

fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` ends the process at once, which is what we want here.
    unsafe { libc::_exit(code) }
}

/// What `ps` shows as a process's argv (`/proc/PID/cmdline`): after an exec, the kernel's copy of
/// the arguments; for the forker and its children, a buffer of their own named to the kernel with
/// `prctl(PR_SET_MM, PR_SET_MM_MAP)`, which needs no privilege. Where the kernel refuses it
/// (built without checkpoint/restore), they keep the tool's argv.
struct Title {
    /// The arguments, each followed by a NUL; never freed (the kernel reads it while we live).
    buf: &'static [u8],
    /// The environment as `/proc/PID/environ` shows it (`NAME=value`, each followed by a NUL),
    /// if it is not the one the process started with.
    env: Option<&'static [u8]>,
}

/// `struct prctl_mm_map` of `<linux/prctl.h>`.
#[repr(C)]
struct MmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: u64,
    auxv_size: u32,
    exe_fd: u32,
}

const PR_SET_MM: libc::c_int = 35;
const PR_SET_MM_MAP: libc::c_ulong = 14;

impl Title {
    fn new(argv: &[&[u8]]) -> Title {
        let mut buf = Vec::new();
        for a in argv {
            buf.extend(a.iter().copied().filter(|&b| b != 0));
            buf.push(0);
        }
        Title {
            buf: Vec::leak(buf),
            env: None,
        }
    }

    fn with_env(mut self, env: &[(&[u8], &[u8])]) -> Title {
        let mut buf = Vec::new();
        for (name, value) in env {
            buf.extend_from_slice(name);
            buf.push(b'=');
            buf.extend_from_slice(value);
            buf.push(0);
        }
        self.env = Some(Vec::leak(buf));
        self
    }

    /// Names this process after argv[0] (`comm`, its base name) and shows the arguments as its
    /// argv.
    fn apply(&self) {
        let arg0 = self.buf.split(|&b| b == 0).next().unwrap_or_default();
        let base = arg0.rsplit(|&b| b == b'/').next().unwrap_or_default();
        if let Ok(comm) = CString::new(base) {
            let _ = nix::sys::prctl::set_name(&comm);
        }
        let Some(mut map) = current_map() else {
            return;
        };
        if self.buf.is_empty() {
            return;
        }
        map.arg_start = self.buf.as_ptr() as u64;
        map.arg_end = map.arg_start + self.buf.len() as u64;
        if let Some(env) = self.env {
            map.env_start = env.as_ptr() as u64;
            map.env_end = map.env_start + env.len() as u64;
        }
        // The brk of this moment: the kernel takes it as the heap's end.
        // SAFETY: brk(0) only reports the current break.
        map.brk = unsafe { libc::syscall(libc::SYS_brk, 0usize) } as u64;
        // SAFETY: PR_SET_MM_MAP reads a `prctl_mm_map` of the given size; every field is the
        // kernel's own value but the arguments', which point at our never-freed buffer.
        unsafe {
            libc::prctl(
                PR_SET_MM,
                PR_SET_MM_MAP,
                std::ptr::from_ref(&map),
                std::mem::size_of::<MmMap>(),
                0,
            )
        };
    }
}

/// This process's memory map fields (`/proc/self/stat` fields 26–28 and 45–51).
fn current_map() -> Option<MmMap> {
    let text = std::fs::read("/proc/self/stat").ok()?;
    let fields = crate::procfs::numeric_fields(&text)?;
    let field = |n: usize| {
        fields
            .get(n.checked_sub(crate::procfs::AFTER_COMM)?)
            .copied()
    };
    Some(MmMap {
        start_code: field(26)?,
        end_code: field(27)?,
        start_data: field(45)?,
        end_data: field(46)?,
        start_brk: field(47)?,
        brk: 0,
        start_stack: field(28)?,
        arg_start: field(48)?,
        arg_end: field(49)?,
        env_start: field(50)?,
        env_end: field(51)?,
        auxv: 0,
        auxv_size: 0,
        exe_fd: u32::MAX,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(argv: &'a [&'a OsStr], env: &'a [(&'a OsStr, &'a OsStr)]) -> Request<'a> {
        Request {
            argv,
            dir: OsStr::new("/etc/service"),
            chdir_failure: b"svscan: fatal: unable to change directory to /etc/service: ",
            setsid: true,
            env,
        }
    }

    #[test]
    fn a_request_reads_back_as_sent() {
        let argv = [OsStr::new("/usr/bin/supervise"), OsStr::new("web")];
        let env = [(OsStr::new("SVSCAN_NOTIFY_FD"), OsStr::new("7"))];
        let msg = encode(&request(&argv, &env)).unwrap();
        let d = decode(&msg).unwrap();
        assert!(d.setsid);
        assert_eq!(d.dir, b"/etc/service");
        assert_eq!(
            d.chdir_failure,
            b"svscan: fatal: unable to change directory to /etc/service: "
        );
        assert_eq!(d.argv, [&b"/usr/bin/supervise"[..], b"web"]);
        assert_eq!(d.env, [(&b"SVSCAN_NOTIFY_FD"[..], &b"7"[..])]);
    }

    #[test]
    fn empty_strings_and_no_variables_read_back() {
        let argv = [OsStr::new("supervise"), OsStr::new("")];
        let mut req = request(&argv, &[]);
        req.setsid = false;
        req.chdir_failure = b"";
        let msg = encode(&req).unwrap();
        let d = decode(&msg).unwrap();
        assert!(!d.setsid);
        assert_eq!(d.chdir_failure, b"");
        assert_eq!(d.argv, [&b"supervise"[..], b""]);
        assert!(d.env.is_empty());
    }

    #[test]
    fn a_request_that_cannot_be_sent_is_refused() {
        let nul = OsStr::from_bytes(b"we\0b");
        let argv = [OsStr::new("supervise"), nul];
        assert!(encode(&request(&argv, &[])).is_none());
        let long = OsString::from_vec(vec![b'x'; REQUEST_MAX]);
        let argv = [OsStr::new("supervise"), long.as_os_str()];
        assert!(encode(&request(&argv, &[])).is_none());
    }

    #[test]
    fn a_short_or_cut_message_is_no_request() {
        assert!(decode(b"").is_none());
        assert!(decode(&[1, 2, 0]).is_none());
        let argv = [OsStr::new("supervise"), OsStr::new("web")];
        let msg = encode(&request(&argv, &[])).unwrap();
        // Without the last argument's terminator and text, argc promises more than there is.
        assert!(decode(&msg[..msg.len() - 4]).is_none());
        assert!(decode(&msg[..msg.len() - 1]).is_none());
        let mut more = msg.clone();
        more.extend_from_slice(b"extra\0");
        assert!(decode(&more).is_none());
    }

    #[test]
    fn a_title_is_the_arguments_each_ended_by_a_nul() {
        let t = Title::new(&[b"supervise", b"we\0b"]);
        assert_eq!(t.buf, b"supervise\0web\0");
        let t = t.with_env(&[(b"A", b"1"), (b"PATH", b"/bin")]);
        assert_eq!(t.env, Some(&b"A=1\0PATH=/bin\0"[..]));
    }
}
