//! Spawning and reaping children, and the two forms of a pid (the system's and the status file's).

use std::ffi::{CString, NulError, OsStr};
use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::sync::atomic::{AtomicI64, Ordering};

use nix::errno::Errno;
use nix::sys::signal::SigSet;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use herd_status::Exit;

/// `waitpid(-1, WNOHANG)`: one terminated child, or `None` when no child has terminated (or
/// there are no children). Stopped and continued children are skipped.
pub fn reap() -> Option<(Pid, Exit)> {
    match reap_any() {
        Reaped::Child(pid, exit) => Some((pid, exit)),
        Reaped::Running | Reaped::NoChildren => None,
    }
}

/// What a non-blocking `waitpid(-1)` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// A child terminated.
    Child(Pid, Exit),
    /// Children exist, none has terminated.
    Running,
    /// No children at all (ECHILD): for PID 1, the namespace is empty.
    NoChildren,
}

/// `waitpid(-1, WNOHANG)`, telling "no children" apart from "none terminated yet".
pub fn reap_any() -> Reaped {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => return Reaped::Child(pid, Exit::Code(code as u8)),
            Ok(WaitStatus::Signaled(pid, sig, core)) => {
                return Reaped::Child(
                    pid,
                    Exit::Signal {
                        signo: sig as i32,
                        core,
                    },
                )
            }
            Ok(WaitStatus::StillAlive) => return Reaped::Running,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(Errno::ECHILD) => return Reaped::NoChildren,
            Err(_) => return Reaped::Running,
        }
    }
}

/// `waitpid(pid, 0)`: blocks until that one child has terminated.
pub fn wait_for(pid: Pid) -> Option<Exit> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Some(Exit::Code(code as u8)),
            Ok(WaitStatus::Signaled(_, sig, core)) => {
                return Some(Exit::Signal {
                    signo: sig as i32,
                    core,
                })
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// A pid as the status file stores it: `None` for 0 and below (no process, or a group).
pub fn status_pid(pid: Pid) -> Option<herd_status::Pid> {
    u32::try_from(pid.as_raw())
        .ok()
        .and_then(herd_status::Pid::new)
}

/// A pid from the status file as the system's: `None` above the largest `pid_t` (a damaged file).
pub fn system_pid(pid: herd_status::Pid) -> Option<Pid> {
    i32::try_from(pid.get()).ok().map(Pid::from_raw)
}

/// A program to start, prepared in full before the fork so that the child allocates nothing.
#[derive(Debug)]
pub struct Command {
    path: CString,
    args: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    chdir: Option<CString>,
    chdir_fd: Option<RawFd>,
    /// (source, target): the child gets a copy of source at target.
    fds: Vec<(RawFd, RawFd)>,
    stdin: Option<RawFd>,
    stdout: Option<RawFd>,
    close_stdout: bool,
    reset_signals: bool,
    setsid: bool,
    mask: Option<SigSet>,
    /// `Some`: the child's whole environment (`NAME=value`), for `execve`; `None`: inherited.
    env: Option<Vec<CString>>,
    envp: Vec<*const libc::c_char>,
    /// The child makes its own process group and, if fd 0 is a terminal, its foreground group.
    foreground: bool,
    exec_failure: Vec<u8>,
    chdir_failure: Vec<u8>,
    /// The child's exit code when exec (or chdir) fails.
    failure_code: i32,
}

impl Command {
    /// Runs `path` with argv `[path]`. If exec fails, the child writes `exec_failure` (a
    /// [`herd_diag::Diag::head`]) followed by runit's text for the errno and a newline to
    /// stderr, and exits 111. Paths and arguments are bytes: none needs to be UTF-8.
    pub fn new(path: impl AsRef<OsStr>, exec_failure: impl AsRef<[u8]>) -> Result<Self, NulError> {
        let path = c_string(path.as_ref())?;
        let mut c = Command {
            args: vec![path.clone()],
            path,
            argv: Vec::new(),
            chdir: None,
            chdir_fd: None,
            fds: Vec::new(),
            stdin: None,
            stdout: None,
            close_stdout: false,
            reset_signals: false,
            setsid: false,
            mask: None,
            env: None,
            envp: Vec::new(),
            foreground: false,
            exec_failure: exec_failure.as_ref().to_vec(),
            chdir_failure: Vec::new(),
            failure_code: 111,
        };
        c.rebuild_argv();
        Ok(c)
    }

    fn rebuild_argv(&mut self) {
        self.argv = self.args.iter().map(|a| a.as_ptr()).collect();
        self.argv.push(std::ptr::null());
    }

    /// Sets argv[0] (by default the path).
    pub fn arg0(&mut self, arg0: impl AsRef<OsStr>) -> Result<(), NulError> {
        self.args[0] = c_string(arg0.as_ref())?;
        self.rebuild_argv();
        Ok(())
    }

    /// Replaces the arguments after argv[0].
    pub fn set_args<I, S>(&mut self, args: I) -> Result<(), NulError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.truncate(1);
        for a in args {
            self.args.push(c_string(a.as_ref())?);
        }
        self.rebuild_argv();
        Ok(())
    }

    /// Changes directory in the child; on failure writes `failure` + reason and exits 111.
    pub fn current_dir(
        &mut self,
        dir: impl AsRef<OsStr>,
        failure: impl AsRef<[u8]>,
    ) -> Result<(), NulError> {
        self.chdir = Some(c_string(dir.as_ref())?);
        self.chdir_failure = failure.as_ref().to_vec();
        Ok(())
    }

    /// Changes directory in the child to the directory open at `dir` (`fchdir`); on failure
    /// writes `failure` + reason and exits 111.
    pub fn current_dir_fd(&mut self, dir: BorrowedFd<'_>, failure: impl AsRef<[u8]>) {
        self.chdir_fd = Some(dir.as_raw_fd());
        self.chdir_failure = failure.as_ref().to_vec();
    }

    /// The child gets a copy of `fd` as descriptor `target` (after stdin and stdout are set).
    /// `fd` must stay open while this command is used, and must not itself be a later target.
    pub fn fd(&mut self, fd: BorrowedFd<'_>, target: RawFd) {
        self.fds.push((fd.as_raw_fd(), target));
    }

    /// Forgets what [`Command::fd`] set up for descriptor `target` (a descriptor given to one
    /// child only, closed by the caller after the spawn).
    pub fn remove_fd(&mut self, target: RawFd) {
        self.fds.retain(|&(_, t)| t != target);
    }

    /// The child's stdin is a copy of `fd` (which must stay open while this command is used).
    pub fn stdin(&mut self, fd: BorrowedFd<'_>) {
        self.stdin = Some(fd.as_raw_fd());
    }

    /// The child's stdout is a copy of `fd` (which must stay open while this command is used).
    pub fn stdout(&mut self, fd: BorrowedFd<'_>) {
        self.stdout = Some(fd.as_raw_fd());
    }

    /// The child's stdout is closed (not redirected): sv's `./check` runs so.
    pub fn close_stdout(&mut self) {
        self.close_stdout = true;
    }

    /// Every signal goes back to its default action in the child, even one this process
    /// inherited as ignored (svscan's children start clean). Without this only SIGPIPE is reset.
    pub fn reset_signals(&mut self, on: bool) {
        self.reset_signals = on;
    }

    /// The child calls `setsid()`.
    pub fn setsid(&mut self, on: bool) {
        self.setsid = on;
    }

    /// The signal mask the child starts with (default: the parent's current mask).
    pub fn mask(&mut self, mask: SigSet) {
        self.mask = Some(mask);
    }

    /// Sets one environment variable for the child only. The first call takes a copy of this
    /// process's environment, which the child then gets with the changes (`execve`).
    pub fn env(&mut self, name: &OsStr, value: &OsStr) -> Result<(), NulError> {
        let env = self.env.get_or_insert_with(|| {
            std::env::vars_os()
                .filter_map(|(n, v)| {
                    let mut b = n.into_vec();
                    b.push(b'=');
                    b.extend_from_slice(v.as_bytes());
                    CString::new(b).ok()
                })
                .collect()
        });
        let mut entry = name.as_bytes().to_vec();
        entry.push(b'=');
        let prefix = entry.len();
        entry.extend_from_slice(value.as_bytes());
        let entry = CString::new(entry)?;
        env.retain(|e| e.as_bytes().get(..prefix) != Some(&entry.as_bytes()[..prefix]));
        env.push(entry);
        self.envp = env.iter().map(|e| e.as_ptr()).collect();
        self.envp.push(std::ptr::null());
        Ok(())
    }

    /// The child runs in a process group of its own and, when fd 0 is a terminal, takes it as
    /// the foreground group (`setpgid` + `tcsetpgrp`): a container's main command gets the
    /// terminal and its ^C. The caller should also `setpgid(child, child)` to close the race.
    pub fn foreground(&mut self, on: bool) {
        self.foreground = on;
    }

    /// The child's exit code when exec fails (default 111, runit's).
    pub fn failure_code(&mut self, code: u8) {
        self.failure_code = i32::from(code);
    }

    /// `fork(2)` + `execv(2)`. Returns the child's pid; fails only if the fork fails.
    pub fn spawn(&self) -> Result<Pid, Errno> {
        // SAFETY: the child branch below only makes async-signal-safe calls on data prepared
        // before the fork, then execs or exits; it never returns into Rust code.
        match unsafe { libc::fork() } {
            -1 => Err(Errno::last()),
            0 => self.child(None),
            pid => Ok(Pid::from_raw(pid)),
        }
    }

    /// `fork(2)` + `execv(2)`, waiting until the child has exec'd: an exec (or chdir) that fails
    /// is returned as [`SpawnError::Exec`] instead of being written by the child, which then
    /// exits at once with the failure code, silently (the caller reaps it as any child). The
    /// child reports through a close-on-exec pipe, as s6-supervise does: EOF means it exec'd.
    /// Without a descriptor for that pipe, the child is spawned as by [`Command::spawn`].
    pub fn spawn_reporting(&self) -> Result<Pid, SpawnError> {
        let pipe = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).and_then(|(r, w)| {
            // Above stdio, where the child's own descriptor moves cannot overwrite it.
            if w.as_raw_fd() > 2 {
                Ok((r, w))
            } else {
                Ok((r, rustix::io::fcntl_dupfd_cloexec(&w, 3)?))
            }
        });
        let Ok((r, w)) = pipe else {
            return self.spawn().map_err(SpawnError::Fork);
        };
        // SAFETY: as in `spawn`; the child only writes to the report pipe on failure.
        let pid = match unsafe { libc::fork() } {
            -1 => return Err(SpawnError::Fork(Errno::last())),
            0 => self.child(Some(w.as_raw_fd())),
            pid => Pid::from_raw(pid),
        };
        drop(w);
        let mut buf = [0u8; 4];
        let mut got = 0;
        while got < buf.len() {
            match rustix::io::read(&r, &mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => break,
            }
        }
        if got == buf.len() {
            let errno = Errno::from_raw(i32::from_ne_bytes(buf));
            return Err(SpawnError::Exec { pid, errno });
        }
        Ok(pid)
    }

    /// `clone(CLONE_VM | CLONE_VFORK)` + `execv(2)`, as `posix_spawn` does, with the child
    /// recording itself in `record` first: it writes its pid and start time there (atomically)
    /// and only then goes on to `exec`, so that no instance it starts can run unrecorded. This
    /// process is suspended until the child has exec'd or exited: nothing is copied (no page
    /// tables, no copy-on-write faults afterwards), and on return the record is written or has
    /// failed. The child holds this process's descriptors (its locks) until its `exec`, so
    /// should this process die meanwhile, a successor that takes the lock finds the record.
    /// Returns the child's pid and, if the record was written, its start time (else the caller
    /// may record it itself). Fails only if the clone fails.
    ///
    /// The child runs on this thread's own stack, below the caller's frames, as the child of
    /// `vfork(2)` does: nothing is mapped, faulted in or given back per spawn. A stack of its own,
    /// given back after each spawn, cost a restart about 30 µs on a 2-CPU VM: the `madvise` was a
    /// TLB shootdown, an IPI to the CPU where the child had run in this process's memory. The
    /// pages the child uses are ones this process's own deepest calls have already made
    /// resident (a supervise holds no more memory for it).
    pub fn spawn_recorded(&self, record: &Record) -> Result<(Pid, Option<u64>), Errno> {
        // SAFETY: sysconf has no preconditions.
        let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(0);
        let job = Job {
            command: self,
            file: &record.file,
            hz,
            before: boottime_ns(),
            outcome: AtomicI64::new(NOT_RECORDED),
        };
        // SAFETY: `recorded_child` reads only `job` and what `self` and `record` hold (none of
        // which can change: this process is suspended until the child execs or exits), writes
        // only `job.outcome` (an atomic) and its own stack, and makes only async-signal-safe
        // calls before it execs or `_exit`s.
        let pid = unsafe {
            clone_vfork(
                None,
                recorded_child,
                std::ptr::addr_of!(job).cast_mut().cast(),
            )
        }?;
        let start = u64::try_from(job.outcome.load(Ordering::SeqCst)).ok();
        Ok((pid, start))
    }

    /// `clone(CLONE_VM | CLONE_VFORK)` + `execv(2)`, as `posix_spawn` does: the child runs on
    /// `stack`, not on a copy of this process, and this process is suspended until it has
    /// exec'd or exited. Nothing is copied (no page tables, no copy-on-write faults), which
    /// makes a spawn cheaper than [`Command::spawn`]'s fork when this process has much mapped
    /// (svscan, starting hundreds of supervise processes). A failed exec is reported as by
    /// [`Command::spawn`] (the child writes the failure and exits).
    pub fn spawn_shared(&self, stack: &SpawnStack) -> Result<Pid, Errno> {
        let stack = stack.get()?;
        // SAFETY: `plain_child` reads only `self` (which cannot change: this process is
        // suspended until the child execs or exits) and makes only async-signal-safe calls
        // before it execs or `_exit`s.
        let pid = unsafe {
            clone_vfork(
                Some(stack.top()),
                plain_child,
                std::ptr::from_ref(self).cast_mut().cast(),
            )
        };
        // The child has exec'd or exited: what it touched of its stack is given back.
        stack.give_back();
        pid
    }

    /// The child after the fork (or clone); `report` the write end of the pipe of
    /// [`Command::spawn_reporting`].
    fn child(&self, report: Option<RawFd>) -> ! {
        let fail = |msg: &[u8]| -> ! {
            // SAFETY: only async-signal-safe calls (see `report_errno` and `die`).
            unsafe {
                match report {
                    Some(fd) => report_errno(fd, self.failure_code),
                    None => die(msg, self.failure_code),
                }
            }
        };
        // SAFETY: we are the child of a fork: only async-signal-safe libc calls follow, on
        // descriptors and C strings owned by `self`, which the fork copied (or, after a
        // `CLONE_VM` clone, which stay as they are while the parent is suspended).
        unsafe {
            // The directory first: moving descriptors could overwrite the one `chdir_fd` names.
            if let Some(dir) = &self.chdir {
                if libc::chdir(dir.as_ptr()) == -1 {
                    fail(&self.chdir_failure);
                }
            }
            if let Some(fd) = self.chdir_fd {
                if libc::fchdir(fd) == -1 {
                    fail(&self.chdir_failure);
                }
            }
            if let Some(fd) = self.stdin {
                move_fd(fd, 0);
            }
            if let Some(fd) = self.stdout {
                move_fd(fd, 1);
            }
            if self.close_stdout {
                libc::close(1);
            }
            for &(fd, target) in &self.fds {
                move_fd(fd, target);
            }
            if self.setsid {
                libc::setsid();
            }
            if self.foreground {
                libc::setpgid(0, 0);
                // Signals are still blocked here, so SIGTTOU does not stop us.
                if libc::isatty(0) == 1 {
                    libc::tcsetpgrp(0, libc::getpid());
                }
            }
            // Rust's runtime ignores SIGPIPE; the program gets the default back.
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGPIPE, &dfl, std::ptr::null_mut());
            if self.reset_signals {
                default_actions();
            }
            let mask = match &self.mask {
                Some(m) => *m.as_ref(),
                None => {
                    let mut empty: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut empty);
                    empty
                }
            };
            libc::sigprocmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut());
            if self.env.is_some() {
                libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
            } else {
                libc::execv(self.path.as_ptr(), self.argv.as_ptr());
            }
            fail(&self.exec_failure)
        }
    }
}

/// Why [`Command::spawn_reporting`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// `fork(2)` failed: there is no child.
    Fork(Errno),
    /// The child `pid` could not change directory or exec: it exits with the failure code,
    /// having written nothing, and is reaped as any child.
    Exec { pid: Pid, errno: Errno },
}

/// Largest record [`Command::spawn_recorded`]'s child writes.
pub const RECORD_MAX: usize = 64;
/// Runs `child(arg)` in a `clone(CLONE_VM | CLONE_VFORK)` child, with every signal blocked
/// around the clone (so that no handler of this process runs in the child, which shares its
/// memory; the child sets its own mask before its exec). The child's stack grows down from
/// `top`, or with `None` from below the frame of the `clone` call on this thread's own stack, as
/// a `vfork(2)` child's does: this thread is suspended until the child has exec'd or exited, and
/// uses nothing of its stack below that frame meanwhile.
///
/// # Safety
/// `child` must only make async-signal-safe calls, touch no memory but its own stack and what
/// `arg` points to (read-only, but for atomics), and end in `exec` or `_exit`; nothing else may
/// use the memory below `top` until it has.
unsafe fn clone_vfork(
    top: Option<*mut u8>,
    child: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    arg: *mut libc::c_void,
) -> Result<Pid, Errno> {
    let top = top.unwrap_or_else(|| below_caller_frame().wrapping_sub(CLONE_GAP));
    // The ABI wants the stack 16-byte aligned at the call.
    let top = top.wrapping_sub(top as usize % 16);
    // SAFETY: zeroed sigsets are valid values.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `all` and `old` are valid sigsets.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    // SAFETY: the child runs on the stack below `top`, which no one else uses while this
    // process is suspended: the caller's, or this thread's below this call (all calls above
    // have returned, and `clone` keeps nothing on its caller's stack below `CLONE_GAP`); the
    // caller vouches for `child` and `arg`.
    let pid = unsafe {
        libc::clone(
            child,
            top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            arg,
        )
    };
    let errno = Errno::last();
    // SAFETY: `old` is the mask read above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    if pid == -1 {
        return Err(errno);
    }
    Ok(Pid::from_raw(pid))
}

/// The child of [`Command::spawn_shared`].
extern "C" fn plain_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Command` of the suspended parent, alive until we exec or exit.
    let command = unsafe { &*arg.cast_const().cast::<Command>() };
    command.child(None)
}

/// The stack [`Command::spawn_shared`]'s children run on until their `exec`, mapped at the
/// first spawn; one for every spawn of its owner (a spawn suspends the owner until the child
/// has exec'd, so two never overlap).
#[derive(Default)]
pub struct SpawnStack {
    stack: std::cell::OnceCell<ChildStack>,
}

impl fmt::Debug for SpawnStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnStack").finish_non_exhaustive()
    }
}

impl SpawnStack {
    fn get(&self) -> Result<&ChildStack, Errno> {
        if self.stack.get().is_none() {
            let _ = self.stack.set(ChildStack::map()?);
        }
        self.stack.get().ok_or(Errno::ENOMEM)
    }
}

/// Stack of the child of [`Command::spawn_shared`] until its `exec`: it needs little (no
/// allocation).
const CHILD_STACK: usize = 64 * 1024;
/// The inaccessible page below it: an overflow is a SIGSEGV, not a write into other memory.
const GUARD: usize = 4096;
/// Room left between [`below_caller_frame`] and the top of a child stack on this thread's own:
/// for the return address of the `clone` call, what `clone` keeps on its caller's stack
/// (nothing, in glibc's x86_64 and aarch64 versions) and a red zone, with plenty to spare.
const CLONE_GAP: usize = 256;
/// `Job::outcome` before the child has written its record.
const NOT_RECORDED: i64 = -1;

/// Turns a pid and a start time into the bytes of a record; returns their length. Called in the
/// child between `clone` and `exec`: it must not allocate, lock or panic.
pub type Encode = fn(u32, u64, &mut [u8; RECORD_MAX]) -> usize;

/// The file the child of [`Command::spawn_recorded`] writes before its `exec`, naming itself:
/// `encode(pid, start time)` written to `new` (created with `mode`, never through a symlink) and
/// renamed to `path`.
pub struct Record {
    file: RecordFile,
}

/// An address below every byte of its caller's stack frame (stacks grow down on every
/// architecture Linux runs Rust on but PA-RISC): a local of a frame of its own, which lies below
/// the caller's and is gone when it returns. Only what the caller's later calls put on the stack
/// can be below it.
#[inline(never)]
fn below_caller_frame() -> *mut u8 {
    let mark = 0u8;
    std::hint::black_box(std::ptr::addr_of!(mark)).cast_mut()
}

/// The stack a shared-spawn child runs on until its `exec`: an anonymous mapping of its own, with
/// a guard page below it. Only the pages the child touches are ever memory, and they are given
/// back after each spawn (`MADV_DONTNEED`), so that its owner between spawns holds none of it (a
/// heap buffer would stay its private memory for good).
struct ChildStack {
    base: *mut libc::c_void,
}

/// A new private anonymous mapping of `len` bytes (read and write, no swap reserved), with
/// `flags` added: only the pages that are touched are ever memory.
pub(crate) fn map_anonymous(len: usize, flags: libc::c_int) -> Result<*mut libc::c_void, Errno> {
    // SAFETY: a new anonymous mapping, at an address the kernel chooses.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | flags,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    Ok(base)
}

impl ChildStack {
    fn map() -> Result<Self, Errno> {
        let base = map_anonymous(GUARD + CHILD_STACK, libc::MAP_STACK)?;
        let stack = ChildStack { base };
        // SAFETY: the mapping's first page, which nothing uses.
        if unsafe { libc::mprotect(base, GUARD, libc::PROT_NONE) } == -1 {
            return Err(Errno::last());
        }
        Ok(stack)
    }

    /// The stack's top (it grows down), 16-byte aligned as the ABI wants at the call.
    fn top(&self) -> *mut u8 {
        self.base.cast::<u8>().wrapping_add(GUARD + CHILD_STACK)
    }

    fn give_back(&self) {
        // SAFETY: the stack's pages, which no one uses while no child runs on them; the next
        // touch finds zeroed pages.
        unsafe {
            libc::madvise(
                self.base.cast::<u8>().wrapping_add(GUARD).cast(),
                CHILD_STACK,
                libc::MADV_DONTNEED,
            )
        };
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, used by nothing once its owner goes.
        unsafe { libc::munmap(self.base, GUARD + CHILD_STACK) };
    }
}

/// What the child of [`Command::spawn_recorded`] reads to write its record.
struct RecordFile {
    new: CString,
    path: CString,
    mode: libc::mode_t,
    encode: Encode,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("new", &self.file.new)
            .field("path", &self.file.path)
            .finish_non_exhaustive()
    }
}

impl Record {
    /// A record written to `new`, then renamed to `path` (paths relative to the current
    /// directory at the spawn).
    pub fn new(new: &str, path: &str, mode: u32, encode: Encode) -> Result<Self, NulError> {
        Ok(Record {
            file: RecordFile {
                new: CString::new(new)?,
                path: CString::new(path)?,
                mode,
                encode,
            },
        })
    }
}

/// What the child of [`Command::spawn_recorded`] is given.
struct Job<'a> {
    command: &'a Command,
    file: &'a RecordFile,
    /// `sysconf(_SC_CLK_TCK)`, read before the clone.
    hz: u64,
    /// The boot-time clock just before the clone.
    before: Option<u64>,
    /// The start time, once recorded; [`NOT_RECORDED`] or `-errno` otherwise.
    outcome: AtomicI64,
}

/// The child of [`Command::spawn_recorded`]: records itself, then goes on as any child.
extern "C" fn recorded_child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `Job` on the suspended parent's stack, alive until we exec or exit.
    let job = unsafe { &*arg.cast_const().cast::<Job<'_>>() };
    let outcome = match write_record(job) {
        Ok(start) => i64::try_from(start).unwrap_or(NOT_RECORDED),
        Err(errno) => -i64::from(errno.max(1)),
    };
    job.outcome.store(outcome, Ordering::SeqCst);
    job.command.child(None)
}

/// The child's record of itself: its start time, or the errno of the step that failed.
fn write_record(job: &Job<'_>) -> Result<u64, i32> {
    // SAFETY: getpid has no preconditions.
    let pid = u32::try_from(unsafe { libc::getpid() }).map_err(|_| libc::EINVAL)?;
    let start = match tick_of_hz(job.before, boottime_ns(), job.hz) {
        Some(t) => t,
        None => own_start_time()?,
    };
    let r = job.file;
    let mut buf = [0u8; RECORD_MAX];
    let len = (r.encode)(pid, start, &mut buf).min(RECORD_MAX);
    let flags = libc::O_WRONLY
        | libc::O_CREAT
        | libc::O_TRUNC
        | libc::O_NONBLOCK
        | libc::O_NOFOLLOW
        | libc::O_CLOEXEC;
    // SAFETY: open, write, close, unlink and rename are async-signal-safe; the paths are C
    // strings and the buffer is on our stack.
    unsafe {
        let fd = libc::open(r.new.as_ptr(), flags, libc::c_uint::from(r.mode));
        if fd == -1 {
            return Err(*libc::__errno_location());
        }
        let n = libc::write(fd, buf.as_ptr().cast(), len);
        let errno = *libc::__errno_location();
        libc::close(fd);
        if usize::try_from(n).ok() != Some(len) {
            libc::unlink(r.new.as_ptr());
            return Err(if n == -1 { errno } else { libc::ENOSPC });
        }
        if libc::rename(r.new.as_ptr(), r.path.as_ptr()) == -1 {
            return Err(*libc::__errno_location());
        }
    }
    Ok(start)
}

/// Field 22 of `/proc/self/stat`, read and parsed without allocating.
fn own_start_time() -> Result<u64, i32> {
    let mut buf = [0u8; 1024];
    // SAFETY: open, read and close are async-signal-safe; the buffer is on our stack.
    let n = unsafe {
        let fd = libc::open(
            c"/proc/self/stat".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd == -1 {
            return Err(*libc::__errno_location());
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let n = usize::try_from(n).map_err(|_| libc::EIO)?;
    crate::procfs::parse_stat(&buf[..n])
        .map(|st| st.start_time)
        .ok_or(libc::EIO)
}

/// Margin kept from a tick's edges in [`start_tick`], far above any skew between the kernel's
/// reading of the boot-time clock and the vDSO's.
const TICK_MARGIN_NS: u64 = 1_000;

/// `clock_gettime(CLOCK_BOOTTIME)` in nanoseconds; `None` if the clock cannot be read.
fn boottime_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u64::try_from(ts.tv_nsec).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// The start time of a child forked between two readings of the boot-time clock, in the unit of
/// `/proc/PID/stat`'s field 22 (`hz` = `sysconf(_SC_CLK_TCK)` ticks a second: the kernel stores
/// the fork's boot-time clock and shows it rounded down to a tick), if both readings fall in one
/// tick, away from its edges.
fn tick_of_hz(before: Option<u64>, after: Option<u64>, hz: u64) -> Option<u64> {
    tick_of(before?, after?, hz)
}

/// [`tick_of_hz`] of two readings: the tick holding both `before` and
/// `after` (each [`TICK_MARGIN_NS`] inside it), or `None`.
fn tick_of(before: u64, after: u64, hz: u64) -> Option<u64> {
    if hz == 0 || 1_000_000_000 % hz != 0 {
        return None;
    }
    let tick = 1_000_000_000 / hz;
    let first = before.checked_sub(TICK_MARGIN_NS)? / tick;
    let last = after.checked_add(TICK_MARGIN_NS)? / tick;
    (before <= after && first == last).then_some(first)
}

/// The bytes of `s` as a C string (`Err` if it holds a NUL).
fn c_string(s: &OsStr) -> Result<CString, NulError> {
    CString::new(s.as_bytes())
}

/// Makes `fd` the descriptor `target` in the child, inheritable.
///
/// # Safety
/// Only for the child between fork and exec.
unsafe fn move_fd(fd: RawFd, target: RawFd) {
    if fd == target {
        // dup2 onto itself keeps close-on-exec: clear it by hand.
        // SAFETY: fcntl on a descriptor we own; async-signal-safe.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    } else {
        // SAFETY: dup2 is async-signal-safe.
        unsafe { libc::dup2(fd, target) };
    }
}

/// Every signal back to its default action (but SIGKILL and SIGSTOP, which have no other).
///
/// # Safety
/// Only in a child between fork and exec (or in a single-threaded process): async-signal-safe.
pub(crate) unsafe fn default_actions() {
    // SAFETY: sigaction with a zeroed struct and SIG_DFL is valid.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        for sig in 1..=libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                // glibc-internal signals refuse this; that is fine.
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
    }
}

/// Writes the current errno (4 bytes, native order) to `fd`, then `_exit(code)`.
///
/// # Safety
/// Only for the child between fork and exec.
unsafe fn report_errno(fd: RawFd, code: i32) -> ! {
    // SAFETY: reading errno, write and _exit are async-signal-safe; the buffer is on the stack.
    unsafe {
        let bytes = (*libc::__errno_location()).to_ne_bytes();
        libc::write(fd, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(code)
    }
}

/// Writes `msg`, runit's text for the current errno and a newline to fd 2, then `_exit(code)`.
///
/// # Safety
/// Only for the child between fork and exec.
unsafe fn die(msg: &[u8], code: i32) -> ! {
    // SAFETY: reading errno and writing to fd 2 are async-signal-safe; the text is static.
    unsafe {
        let reason = herd_diag::errno_text(*libc::__errno_location()).as_bytes();
        libc::write(2, msg.as_ptr().cast(), msg.len());
        libc::write(2, reason.as_ptr().cast(), reason.len());
        libc::write(2, b"\n".as_ptr().cast(), 1);
        libc::_exit(code)
    }
}

/// `execve(2)` in place: replaces this process with `path`, argv `argv` and environment `env`
/// (`NAME=value` strings). The signal mask is kept; SIGPIPE goes back to its default action
/// (Rust's runtime ignores it). Returns only on failure, with the errno.
pub fn exec_replace(path: &std::ffi::CStr, argv: &[CString], env: &[CString]) -> Errno {
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut env_ptrs: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    env_ptrs.push(std::ptr::null());
    // SAFETY: both arrays are NUL-terminated and point into CStrings that outlive the call;
    // sigaction with a zeroed struct and SIG_DFL is valid.
    unsafe {
        let mut dfl: libc::sigaction = std::mem::zeroed();
        dfl.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGPIPE, &dfl, std::ptr::null_mut());
        libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), env_ptrs.as_ptr());
    }
    Errno::last()
}

/// `close(2)` of a standard descriptor (0, 1 or 2), as chpst's `-0 -1 -2` do. Other
/// descriptors are refused: Rust code may own them.
pub fn close_stdio(fd: i32) -> Result<(), Errno> {
    if !(0..=2).contains(&fd) {
        return Err(Errno::EBADF);
    }
    // SAFETY: fds 0-2 are never owned by an OwnedFd in herd; closing one only affects what the
    // exec'd program inherits.
    match unsafe { libc::close(fd) } {
        0 => Ok(()),
        _ => Err(Errno::last()),
    }
}

#[cfg(test)]
mod tests;
