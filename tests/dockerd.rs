//! The private `dockerd` that the Docker tests run their containers in (`tests/docker.rs`, and
//! `tests/images.rs` for docs/docker.md's recipes), and the few steps they share: `docker stop`
//! timed, the container's exit code, polling a condition with a deadline. Each dockerd has its own
//! data-root, exec-root, socket and pidfile under one temp dir, `--bridge=none` and no iptables,
//! so that it touches nothing of the host's Docker; dropping it, also on panic, removes every
//! container and stops it by its pid.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use herd_testsupport::*;

/// The Docker client, by path: `/usr/local/bin/docker` may be something else.
pub(crate) const DOCKER: &str = "/usr/bin/docker";
const DOCKERD: &str = "/usr/sbin/dockerd";
/// How long dockerd may take to answer `docker version`.
const DOCKERD_READY: Duration = Duration::from_secs(20);
/// How long dockerd may take to exit on SIGTERM before it gets SIGKILL.
const DOCKERD_STOP: Duration = Duration::from_secs(15);
/// Deadline for `docker build`, `docker run`, `docker stop` and the like.
pub(crate) const DOCKER_SLOW: Duration = Duration::from_secs(30);
/// Deadline for what a started container must reach (services up, lines logged).
pub(crate) const UP: Duration = Duration::from_secs(10);

/// A private dockerd (data-root, exec-root, socket, pidfile under one temp dir). Dropping it
/// removes every container, stops dockerd by its pid (TERM, bounded wait, KILL), kills whatever
/// it left that names the dir (containerd, shims), unmounts what is left under it and removes it.
pub(crate) struct Dockerd {
    /// Its temp dir: a new dockerd has another, so it also tells dockerds apart.
    pub(crate) root: PathBuf,
    child: Child,
}

impl Dockerd {
    /// Starts dockerd and waits until `docker version` answers; panics with the tail of its log
    /// if it cannot.
    pub(crate) fn start() -> Dockerd {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the docker test runs its own dockerd and needs root"
        );
        for p in [DOCKERD, DOCKER] {
            assert!(
                Path::new(p).is_file(),
                "{p} is missing: apt-get install -y docker.io"
            );
        }
        // A dockerd started again after the last test let go of one gets a dir of its own.
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "herd-dockerd-{}-{}",
            std::process::id(),
            STARTS.fetch_add(1, Ordering::SeqCst)
        ));
        let sock = root.join("s");
        // sun_path holds 108 bytes.
        assert!(
            sock.as_os_str().len() < 100,
            "{} is too long for a unix socket: set TMPDIR to a shorter dir",
            sock.display()
        );
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("cfg")).expect("create dockerd root");
        // Nothing from /etc/docker/daemon.json.
        fs::write(root.join("daemon.json"), "{}\n").expect("daemon.json");
        let log = File::create(root.join("log")).expect("dockerd log");
        let mut c = Command::new(DOCKERD);
        c.args([
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--storage-driver=overlay2",
        ])
        .arg("--config-file")
        .arg(root.join("daemon.json"))
        .arg("--data-root")
        .arg(root.join("d"))
        .arg("--exec-root")
        .arg(root.join("e"))
        .arg("--pidfile")
        .arg(root.join("p"))
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log)
        .process_group(0);
        let child = c.spawn().unwrap_or_else(|e| panic!("spawn {DOCKERD}: {e}"));
        // From here on, a panic stops and removes it.
        let mut d = Dockerd { root, child };
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = d.child.try_wait() {
                panic!(
                    "dockerd exited ({st}) before it answered:\n{}",
                    d.log_tail()
                );
            }
            let answered = run_quietly(
                d.client(["version", "--format", "{{.Server.Version}}"]),
                DEADLINE,
            )
            .is_some_and(|o| o.status.success());
            if answered {
                break;
            }
            assert!(
                t0.elapsed() < DOCKERD_READY,
                "dockerd did not answer `docker version` within {DOCKERD_READY:?}:\n{}",
                d.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("dockerd ready after {:?}", t0.elapsed());
        d
    }

    /// The client's environment: this daemon, no user config, the classic builder (no registry).
    pub(crate) fn client_env(&self) -> [(&'static str, String); 3] {
        [
            (
                "DOCKER_HOST",
                format!("unix://{}", self.root.join("s").display()),
            ),
            ("DOCKER_CONFIG", self.root.join("cfg").display().to_string()),
            ("DOCKER_BUILDKIT", "0".into()),
        ]
    }

    /// `docker ARGS…` for the teardown, which must not panic.
    pub(crate) fn client<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(
        &self,
        args: I,
    ) -> Command {
        let mut c = Command::new(DOCKER);
        c.args(args)
            .envs(self.client_env())
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        c
    }

    /// `docker` with a deadline and exact assertions, cwd the scenario dir.
    pub(crate) fn docker(&self, sc: &Scenario) -> Cmd {
        let mut c = sc
            .cmd(DOCKER)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH");
        for (k, v) in self.client_env() {
            c = c.env(k, v);
        }
        c
    }

    /// The last lines of dockerd's log.
    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.root.join("log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let t0 = Instant::now();
        let ids = run_quietly(self.client(["ps", "-aq"]), DEADLINE)
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut rm = self.client(["rm", "-f"]);
            rm.args(&ids);
            let _ = run_quietly(rm, DOCKER_SLOW);
        }
        let pid = self.child.id();
        signal(pid, libc::SIGTERM);
        if !wait_child(&mut self.child, DOCKERD_STOP) {
            eprintln!("warning: dockerd did not exit within {DOCKERD_STOP:?}: killing it");
            signal(pid, libc::SIGKILL);
            let _ = self.child.wait();
        }
        // containerd and the shims: dockerd's, so they name its dirs.
        let left = pids_naming(&self.root);
        for &p in &left {
            signal(p, libc::SIGTERM);
        }
        let deadline = Instant::now() + DEADLINE;
        while left.iter().any(|&p| pid_alive(p)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for &p in &left {
            signal(p, libc::SIGKILL);
        }
        for m in mounts_under(&self.root) {
            let mut umount = Command::new("/bin/umount");
            umount.arg("-l").arg(m);
            let _ = run_quietly(umount, DEADLINE);
        }
        if let Err(e) = fs::remove_dir_all(&self.root) {
            eprintln!("warning: unable to remove {}: {e}", self.root.display());
        }
        eprintln!("dockerd stopped and removed in {:?}", t0.elapsed());
    }
}

/// Runs `cmd` (stdin /dev/null, stderr discarded) to completion within `timeout`, without
/// panicking (for teardown): `None` if it could not start or had to be killed.
fn run_quietly(mut cmd: Command, timeout: Duration) -> Option<std::process::Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    if !wait_child(&mut child, timeout) {
        kill_group(child.id());
        let _ = child.wait();
        return None;
    }
    let status = child.wait().ok()?;
    Some(std::process::Output {
        status,
        stdout: reader.join().ok()?,
        stderr: Vec::new(),
    })
}

/// Waits (bounded) for a child to exit; whether it did.
fn wait_child(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Live processes with an argument under `dir`.
fn pids_naming(dir: &Path) -> Vec<u32> {
    let prefix = format!("{}/", dir.display());
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            pid_alive(p) && proc_cmdline(p).is_some_and(|a| a.iter().any(|s| s.contains(&prefix)))
        })
        .collect()
}

/// Mount points at or under `dir`, deepest first.
pub(crate) fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape_mountinfo(m)))
        .filter(|m| m.starts_with(dir))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
    v
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Polls `f` until it returns `Ok`, or panics with `what` and its last `Err` after `timeout`.
#[track_caller]
pub(crate) fn poll<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) => assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for: {what}\nlast seen:\n{last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pids in `sv` output, in order (`(pid N)`).
pub(crate) fn pids_in(s: &str) -> Vec<u32> {
    s.split("(pid ")
        .skip(1)
        .filter_map(|r| r.split(')').next()?.parse().ok())
        .collect()
}

/// `docker stop [ARGS…] NAME`, timed.
#[track_caller]
pub(crate) fn stop(d: &Dockerd, sc: &Scenario, args: &[&str], name: &str) -> Duration {
    let t0 = Instant::now();
    d.docker(sc)
        .arg("stop")
        .args(args)
        .arg(name)
        .timeout(DOCKER_SLOW)
        .run()
        .code(0)
        .stdout(&format!("{name}\n"))
        .stderr("");
    t0.elapsed()
}

#[track_caller]
pub(crate) fn exit_code(d: &Dockerd, sc: &Scenario, name: &str) -> String {
    let o = d
        .docker(sc)
        .args(["inspect", "-f", "{{.State.ExitCode}}", name])
        .run();
    o.code(0).stderr("");
    o.stdout
}

/// Cargo's target dir, where `scripts/release.sh` puts the static build (under
/// `x86_64-unknown-linux-gnu/release`).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}
