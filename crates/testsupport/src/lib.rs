//! The harness every black-box test in `tests/` uses: temp service trees, the built binaries
//! and the peers' binaries by absolute path, commands with a deadline and exact assertions,
//! spawned processes killed (with their process group) and reaped on drop, and bounded polling.
//!
//! No test sleeps to wait: [`wait_until`] polls every few ms and panics with a message when its
//! deadline passes. A test that proves something did not happen holds [`QUIET`]. Our tools are
//! links to the one `herd` binary, from `HERD_BIN_DIR` or the target dir next to the test
//! executable (`cargo build --workspace --bins` first); peers come from `/usr/bin` by path,
//! never through PATH (Debian's daemontools also ships `svscan` and `supervise`).
//!
//! Differential tests (ours against runit's) use the one [`Flavor`] and [`compare_flavors`]
//! of [`differential`]; a fixture several tests share (the Docker tests' `dockerd`) is a
//! [`Shared`] value, held through a [`Lease`] per test.

// A harness panics on purpose: a failed expectation is a failed test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use herd_status::{State, Status, Want};

pub mod clock;
pub mod differential;
pub mod shared;
pub use differential::{
    compare_flavors, compare_notify_flavors, Flavor, NotifyFlavor, Schedule, Tool, Transcript,
    FLAVORS, NOTIFY_FLAVORS,
};
pub use shared::{Lease, Shared};

/// Default deadline for waits and commands.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// How long a test watches for something that must *not* happen (a restart, a signal, a line, a
/// pickup) before it concludes that it did not. One window for every such check, the longest
/// any of them needed, so that "nothing happened" proves the same thing in every module.
pub const QUIET: Duration = Duration::from_millis(300);
/// Interval between two checks in [`wait_until`].
const POLL: Duration = Duration::from_millis(5);

/// A run script that stays up.
pub const RUN_SLEEP: &str = "#!/bin/sh\nexec sleep 1000\n";

/// Copies an executable a test will run (into a chroot, say), in a `cp` process of its own. A
/// copy written by this process holds a writable descriptor that every fork a concurrent test
/// makes meanwhile inherits until its exec, and executing the copy in that window fails with
/// ETXTBSY ("Text file busy"); `cp`'s descriptor is in no process but `cp`.
pub fn copy_executable(from: &Path, to: &Path) {
    let st = std::process::Command::new("/bin/cp")
        .arg("--")
        .arg(from)
        .arg(to)
        .status()
        .unwrap_or_else(|e| panic!("run /bin/cp: {e}"));
    assert!(st.success(), "cp {} {}: {st}", from.display(), to.display());
}

/// herd's dispatch table (`bin/herd/src/tool.rs`), included as source: a binary crate cannot be
/// a dependency, and the names must have one home.
#[path = "../../../bin/herd/src/tool.rs"]
#[allow(dead_code)]
mod tool;

/// Every name the `herd` binary answers to as a tool, from its dispatch table (`herd --help`
/// lists them; the `multicall` tests check its output, `install::` what install.sh links).
pub const HERD_NAMES: [&str; tool::NAMES.len()] = {
    let mut out = [""; tool::NAMES.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = tool::NAMES[i].0;
        i += 1;
    }
    out
};

/// Path of one of our binaries: for a tool's name (`supervise`, `svscan`, `envdir`, …, any of
/// [`HERD_NAMES`]) a link to the `herd` binary by that name, else the binary itself (`herd`,
/// `herd-notify`). From `HERD_BIN_DIR` (an installed `PREFIX/bin`, say) as it is; else from the
/// target dir next to the test executable, where the links are `herd-names/NAME -> ../herd`
/// (made once per test process; see [`herd_names`]). A binary of a tool's name in the target
/// dir itself (an earlier build's `target/debug/svscan`) is never used.
pub fn bin(name: &str) -> PathBuf {
    if let Some(d) = std::env::var_os("HERD_BIN_DIR") {
        let p = PathBuf::from(d).join(name);
        assert!(p.is_file(), "{} is missing (HERD_BIN_DIR)", p.display());
        return p;
    }
    // target/<profile>/deps/main-HASH -> target/<profile>
    let exe = std::env::current_exe().expect("test executable path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_path_buf();
    let herd = profile.join("herd");
    let p = if HERD_NAMES.contains(&name) {
        assert!(
            herd.is_file(),
            "{} is missing: run `cargo build --workspace --bins` first (or set HERD_BIN_DIR)",
            herd.display()
        );
        herd_names(&profile).join(name)
    } else {
        profile.join(name)
    };
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --workspace --bins` first (or set HERD_BIN_DIR)",
        p.display()
    );
    p
}

/// `PROFILE/herd-names`, a directory of links `NAME -> ../herd`, one for each of
/// [`HERD_NAMES`]. Made once per test process, and race-free between processes: built complete
/// under a name of its own, then renamed into place; whoever loses the race uses the winner's.
pub fn herd_names(profile: &Path) -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = profile.join("herd-names");
        let complete = |d: &Path| {
            HERD_NAMES
                .iter()
                .all(|n| fs::read_link(d.join(n)).is_ok_and(|t| t == Path::new("../herd")))
        };
        for attempt in 0.. {
            if complete(&dir) {
                return dir;
            }
            assert!(attempt < 10, "unable to make {}", dir.display());
            let tmp = profile.join(format!(".herd-names.{}.{attempt}", std::process::id()));
            let _ = fs::remove_dir_all(&tmp);
            fs::create_dir(&tmp).expect("mkdir herd-names");
            for n in HERD_NAMES {
                std::os::unix::fs::symlink("../herd", tmp.join(n)).expect("link herd-names");
            }
            if fs::rename(&tmp, &dir).is_err() {
                let _ = fs::remove_dir_all(&tmp);
                // Someone else's (complete, or an older list's: moved aside, then ours).
                if !complete(&dir) {
                    let old = profile.join(format!(".herd-names.old.{}", std::process::id()));
                    if fs::rename(&dir, &old).is_ok() {
                        let _ = fs::remove_dir_all(&old);
                    }
                }
            }
        }
        dir
    })
    .clone()
}

/// Path of a peer's binary (runit, daemontools, s6), which must be installed.
pub fn peer(path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.is_file(),
        "{path} is missing: apt-get install -y runit daemontools s6"
    );
    p
}

/// A fresh temporary directory, removed on drop unless `HERD_KEEP_TMP=1` (or the test failed,
/// in which case its path is printed).
pub struct Scenario {
    dir: PathBuf,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

impl Scenario {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::var_os("HERD_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!(
            "herd-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scenario dir");
        Scenario { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `self.path()/rel`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.join(rel)
    }

    /// Writes a file (creating parent directories) with the given mode.
    pub fn file(&self, rel: impl AsRef<Path>, contents: &str, mode: u32) -> PathBuf {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).expect("create parent dir");
        }
        fs::write(&p, contents).expect("write file");
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).expect("chmod");
        p
    }

    /// Writes an executable script (mode 0755).
    pub fn script(&self, rel: impl AsRef<Path>, contents: &str) -> PathBuf {
        self.file(rel, contents, 0o755)
    }

    /// A service directory `name` with an executable `run`.
    pub fn service(&self, name: &str, run: &str) -> PathBuf {
        self.script(Path::new(name).join("run"), run);
        self.dir.join(name)
    }

    /// A command with its cwd in the scenario dir.
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Cmd {
        let mut c = Command::new(program);
        c.current_dir(&self.dir);
        Cmd {
            cmd: c,
            timeout: DEADLINE,
            input: None,
        }
    }

    /// Starts a long-running process (in its own process group, cwd = scenario dir).
    pub fn spawn(&self, program: impl AsRef<OsStr>, args: &[&str]) -> Proc {
        let mut c = Command::new(program);
        c.args(args).current_dir(&self.dir);
        Proc::spawn(c)
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        if std::env::var_os("HERD_KEEP_TMP").is_some() || std::thread::panicking() {
            eprintln!("scenario kept at {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A command with a deadline.
pub struct Cmd {
    cmd: Command,
    timeout: Duration,
    /// Bytes fed on stdin (then EOF); `None`: stdin is /dev/null.
    input: Option<Vec<u8>>,
}

impl Cmd {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(k);
        self
    }

    pub fn current_dir(mut self, d: impl AsRef<Path>) -> Self {
        self.cmd.current_dir(d);
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Sets `argv[0]` (the program is still run by its path).
    pub fn arg0(mut self, a: impl AsRef<OsStr>) -> Self {
        self.cmd.arg0(a);
        self
    }

    /// Feeds `bytes` on stdin, then EOF (instead of /dev/null).
    pub fn input(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.input = Some(bytes.into());
        self
    }

    /// Runs to completion (killed at the deadline, which fails the test).
    pub fn run(mut self) -> Output {
        self.cmd
            .stdin(if self.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.cmd.process_group(0);
        let what = format!("{:?}", self.cmd);
        let mut child = self
            .cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let t_in = self.input.take().map(|bytes| {
            let mut stdin = child.stdin.take().expect("stdin pipe");
            std::thread::spawn(move || {
                use std::io::Write;
                // The program may exit without reading everything: a broken pipe is its business.
                let _ = stdin.write_all(&bytes);
            })
        });
        let mut out = child.stdout.take().expect("stdout pipe");
        let mut err = child.stderr.take().expect("stderr pipe");
        let t_out = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        });
        let t_err = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() > deadline {
                kill_group(child.id());
                let _ = child.wait();
                panic!("{what} did not finish within {:?}", self.timeout);
            }
            std::thread::sleep(POLL);
        };
        if let Some(t) = t_in {
            let _ = t.join();
        }
        Output {
            code: status.code(),
            stdout: String::from_utf8_lossy(&t_out.join().expect("stdout reader")).into_owned(),
            stderr: String::from_utf8_lossy(&t_err.join().expect("stderr reader")).into_owned(),
        }
    }
}

/// What a finished command printed and returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// `None` if killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "exit code\n{}", self.show());
        self
    }

    #[track_caller]
    pub fn stdout(&self, expected: &str) -> &Self {
        assert_eq!(self.stdout, expected, "stdout\n{}", self.show());
        self
    }

    #[track_caller]
    pub fn stderr(&self, expected: &str) -> &Self {
        assert_eq!(self.stderr, expected, "stderr\n{}", self.show());
        self
    }

    /// stdout with pids and seconds masked by [`normalize`].
    #[track_caller]
    pub fn stdout_norm(&self, expected: &str) -> &Self {
        assert_eq!(
            normalize(&self.stdout),
            expected,
            "normalized stdout\n{}",
            self.show()
        );
        self
    }

    fn show(&self) -> String {
        format!(
            "--- code: {:?}\n--- stdout:\n{}--- stderr:\n{}---",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Masks what varies between runs in `sv`/`svstat` output: `(pid 123)` → `(pid N)`,
/// ` 12s` → ` Ns`, ` 12 seconds` → ` N seconds`.
pub fn normalize(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"(pid ") {
            let mut j = i + 5;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j > i + 5 && j < b.len() && b[j] == b')' {
                out.push_str("(pid N)");
                i = j + 1;
                continue;
            }
        }
        if b[i] == b' ' && i + 1 < b.len() && b[i + 1].is_ascii_digit() {
            let mut j = i + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let rest = &b[j..];
            if rest.starts_with(b"s") && (rest.len() == 1 || !rest[1].is_ascii_alphanumeric()) {
                out.push_str(" Ns");
                i = j + 1;
                continue;
            }
            if rest.starts_with(b" seconds") {
                out.push_str(" N seconds");
                i = j + 8;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// A running process, killed with its process group and reaped on drop.
pub struct Proc {
    child: Option<Child>,
    pid: u32,
}

impl Proc {
    /// Spawns `cmd` in a new process group (stdin from /dev/null).
    pub fn spawn(mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null());
        Self::spawn_with_stdio(cmd)
    }

    /// Spawns `cmd` in a new process group, keeping the stdin (and other stdio) the caller set.
    pub fn spawn_with_stdio(mut cmd: Command) -> Proc {
        cmd.process_group(0);
        let what = format!("{cmd:?}");
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let pid = child.id();
        Proc {
            child: Some(child),
            pid,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends a signal to the process only.
    pub fn signal(&self, sig: i32) {
        signal(self.pid, sig);
    }

    /// Waits (bounded) for the process to exit and returns its exit code (`None`: signalled).
    #[track_caller]
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("process already waited for");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                return st.code();
            }
            assert!(
                Instant::now() < deadline,
                "pid {} did not exit within {timeout:?}",
                self.pid
            );
            std::thread::sleep(POLL);
        }
    }

    /// Whether the process is still running (not exited, not a zombie we have reaped).
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            kill_group(self.pid);
            let _ = c.wait();
        } else {
            kill_group(self.pid);
        }
    }
}

/// `kill(pid, sig)`.
pub fn signal(pid: u32, sig: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::try_from(sig).ok(),
    );
}

/// SIGKILL to the process group `pgid` (which the harness gives every process it starts).
pub fn kill_group(pgid: u32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Writes control bytes to `DIR/supervise/control` (non-blocking: fails if nobody reads).
#[track_caller]
pub fn control(dir: &Path, bytes: &str) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(dir.join("supervise/control"))
        .unwrap_or_else(|e| panic!("open {}/supervise/control: {e}", dir.display()));
    f.write_all(bytes.as_bytes()).unwrap();
}

/// Polls `cond` every few ms until it returns `Some`, or panics with `what` after `timeout`.
#[track_caller]
pub fn wait_until<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// Polls until `cond` is true (see [`wait_until`]).
#[track_caller]
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    wait_until(what, timeout, || cond().then_some(()));
}

/// Reads and decodes `DIR/supervise/status` (or `None` if missing or malformed).
pub fn status(service: &Path) -> Option<Status> {
    Status::decode(&fs::read(service.join("supervise/status")).ok()?).ok()
}

/// Waits until the service's status satisfies `cond`, and returns it.
#[track_caller]
pub fn wait_status(service: &Path, what: &str, cond: impl Fn(&Status) -> bool) -> Status {
    wait_until(what, DEADLINE, || status(service).filter(|s| cond(s)))
}

/// Waits until the service runs (state run with a pid), returns the pid.
#[track_caller]
pub fn wait_running(service: &Path) -> u32 {
    wait_status(service, &format!("{} running", service.display()), |s| {
        s.state == State::Run && s.pid.is_some()
    })
    .pid
    .map_or(0, |p| p.get())
}

/// Whether a supervisor holds `DIR/supervise/ok` open (what `svok` tests).
pub fn supervisor_alive(service: &Path) -> bool {
    fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(service.join("supervise/ok"))
        .is_ok()
}

/// Process state letter from `/proc/PID/stat` (`R`, `S`, `T`, `Z`…), `None` if gone.
pub fn proc_state(pid: u32) -> Option<char> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = s.rfind(')')?;
    s[close + 1..].trim_start().chars().next()
}

/// Whether `pid` is alive and not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    matches!(proc_state(pid), Some(c) if c != 'Z' && c != 'X')
}

/// Pids of live (non-zombie) processes whose command line is exactly `argv`.
pub fn pids_with_cmdline(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| a.bytes().chain(std::iter::once(0)))
        .collect();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if fs::read(e.path().join("cmdline")).ok().as_deref() == Some(&want[..]) && pid_alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// Argument vector of `pid` from `/proc/PID/cmdline` (`None` if gone; empty for a zombie).
pub fn proc_cmdline(pid: u32) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        raw.split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// Fields 4 to 6 of `/proc/PID/stat`: parent pid, process group, session.
fn proc_stat_numbers(pid: u32) -> Option<Vec<u32>> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain anything: count from the last ')'.
    let close = s.rfind(')')?;
    s[close + 1..]
        .split_ascii_whitespace()
        .skip(1)
        .take(3)
        .map(|f| f.parse().ok())
        .collect()
}

/// Parent pid of `pid` (`None` if gone).
pub fn proc_ppid(pid: u32) -> Option<u32> {
    proc_stat_numbers(pid)?.first().copied()
}

/// (process group, session) of `pid` (`None` if gone).
pub fn proc_pgid_sid(pid: u32) -> Option<(u32, u32)> {
    let n = proc_stat_numbers(pid)?;
    Some((*n.get(1)?, *n.get(2)?))
}

/// The value of line `key:` of `/proc/PID/status`, whitespace-trimmed (`None` if gone).
pub fn proc_status_line(pid: u32, key: &str) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// The scheduler slice of `pid` in nanoseconds (`se.slice` of `/proc/PID/sched`; panics if the
/// kernel does not show it).
#[track_caller]
pub fn proc_sched_slice_ns(pid: u32) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/sched")).unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with("se.slice"));
    let value = line.and_then(|l| l.rsplit(':').next()).map(str::trim);
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no se.slice in /proc/{pid}/sched:\n{text}"))
}

/// CPU time used by `pid` so far (utime + stime from `/proc/PID/stat`; `None` if gone).
pub fn proc_cpu_time(pid: u32) -> Option<Duration> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = s.rfind(')')?;
    // Fields 14 and 15 (utime, stime) in clock ticks; field 3 (the state) is the first after ')'.
    let f: Vec<&str> = s[close + 1..].split_ascii_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // USER_HZ, which Linux uses in /proc whatever the kernel's HZ.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time `pid` uses over the next `window` (the caller's thread sleeps through it): what a
/// "no busy loop" check measures.
pub fn cpu_used_over(pid: u32, window: Duration) -> Duration {
    let before = proc_cpu_time(pid).expect("cpu time");
    std::thread::sleep(window);
    proc_cpu_time(pid).expect("cpu time") - before
}

/// Sets the soft limit on open descriptors of the running process `pid` (`prlimit --nofile=N:
/// --pid PID`, util-linux's, by path): 3 leaves a process none to open beyond its stdio.
#[track_caller]
pub fn set_nofile(pid: u32, soft: u64) {
    let out = Command::new(peer("/usr/bin/prlimit"))
        .arg(format!("--nofile={soft}:"))
        .arg("--pid")
        .arg(pid.to_string())
        .output()
        .expect("run prlimit");
    assert!(out.status.success(), "prlimit: {out:?}");
}

/// Every pid in `/proc` with its parent pid (zombies included).
fn all_ppids() -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(pp) = proc_ppid(pid) {
            out.push((pid, pp));
        }
    }
    out
}

/// Direct children of `pid` (zombies included), in pid order.
pub fn proc_children(pid: u32) -> Vec<u32> {
    let mut v: Vec<u32> = all_ppids()
        .into_iter()
        .filter(|&(_, pp)| pp == pid)
        .map(|(p, _)| p)
        .collect();
    v.sort_unstable();
    v
}

/// Every descendant of `pid` (not `pid` itself; zombies included), in pid order.
pub fn proc_descendants(pid: u32) -> Vec<u32> {
    let all = all_ppids();
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for &(c, pp) in &all {
            if pp == p && !out.contains(&c) {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The pid namespace of `pid` (the text of the `/proc/PID/ns/pid` link, e.g. `pid:[4026532]`).
pub fn pid_ns(pid: u32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// Host pids of every process (zombies included) whose pid namespace is `ns` (see [`pid_ns`]).
pub fn pids_in_ns(ns: &str) -> Vec<u32> {
    let mut out: Vec<u32> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| pid_ns(p).as_deref() == Some(ns))
        .collect();
    out.sort_unstable();
    out
}

/// Pids of every process (zombies excluded) whose cwd is `dir` or below it: what a test whose
/// services all run inside its scenario dir can use to see that nothing was left behind.
pub fn pids_with_cwd_under(dir: &Path) -> Vec<u32> {
    let mut out: Vec<u32> = fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            fs::read_link(format!("/proc/{p}/cwd")).is_ok_and(|c| c.starts_with(dir))
                && pid_alive(p)
        })
        .collect();
    out.sort_unstable();
    out
}

/// `SigIgn:`/`SigBlk:`/`SigCgt:` lines (as in `/proc/PID/status`) with the bits of glibc's
/// internal signals 32 and 33 cleared. A program started by glibc's `posix_spawn` (cargo starts
/// the test binary so, Rust's `Command` starts everything so) gets them as SIG_IGN, which survives
/// exec, and no program can reset them through glibc (its `sigaction` refuses them); every libc
/// installs its own handlers for them when it needs them. Other lines are kept as they are.
pub fn without_glibc_internal_signals(lines: &str) -> String {
    const INTERNAL: u64 = (1 << 31) | (1 << 32);
    let mut out = String::new();
    for l in lines.lines() {
        let masked = ["SigIgn:", "SigBlk:", "SigCgt:"].iter().find_map(|k| {
            let hex = l.strip_prefix(k)?.trim();
            let v = u64::from_str_radix(hex, 16).ok()?;
            Some(format!("{k}\t{:016x}", v & !INTERNAL))
        });
        out.push_str(masked.as_deref().unwrap_or(l));
        out.push('\n');
    }
    out
}

/// SIGKILLs `pid` and every descendant, even those in other sessions or process groups: the
/// whole tree is first frozen with SIGSTOP (until no new process appears), so that nothing can
/// fork or be re-parented out of reach while it is being killed.
pub fn kill_tree(pid: u32) {
    let mut seen: Vec<u32> = Vec::new();
    for _ in 0..50 {
        let mut tree = proc_descendants(pid);
        tree.push(pid);
        let fresh: Vec<u32> = tree.into_iter().filter(|p| !seen.contains(p)).collect();
        if fresh.is_empty() {
            break;
        }
        for &p in &fresh {
            signal(p, libc::SIGSTOP);
        }
        seen.extend(fresh);
    }
    for &p in &seen {
        signal(p, libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_internal_signals_are_masked() {
        assert_eq!(
            without_glibc_internal_signals(
                "SigBlk:\t0000000180000000\nSigIgn:\t0000000080000806\n"
            ),
            "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000806\n"
        );
    }

    #[test]
    fn normalize_masks_pids_and_seconds() {
        assert_eq!(
            normalize("run: web: (pid 123) 45s; run: log: (pid 7) 0s, normally down\n"),
            "run: web: (pid N) Ns; run: log: (pid N) Ns, normally down\n"
        );
        assert_eq!(
            normalize("x: up (pid 9) 12 seconds\n"),
            "x: up (pid N) N seconds\n"
        );
        assert_eq!(normalize("sd/up1: 8s"), "sd/up1: Ns");
        assert_eq!(normalize("fail: 120: unable"), "fail: 120: unable");
    }
}
