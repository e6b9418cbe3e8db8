//! `supervise` on its own: what runsv does, and where herd deliberately does better.
//!
//! Deliberate differences from runsv checked here
//! (docs/runit-compatibility.md#runit-bugs-herd-does-not-copy): the restart throttle is a deadline,
//! not a blocking `sleep(1)`, so control bytes act at once; `k` during `finish` kills finish and
//! does not run it again; HUP, ALRM, USR1, USR2 and PIPE do not kill supervise; a service left
//! running by a killed supervise is stopped before a new instance starts.
//!
//! herd-only features of supervise have a module each: [`prefixed_logs`] and [`essential`];
//! [`hardening`] checks that `supervise/` cannot be turned against a root supervise; faults of
//! the system (fork failing, disk full, files replaced, SIGKILL) are in [`faults`].

mod captured;
mod dependencies;
mod essential;
mod faults;
mod hardening;
mod health;
mod policy;
mod prefixed_logs;
mod readiness;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herd_testsupport::*;

/// Starts `supervise NAME` in the scenario dir with stdout on /dev/null and stderr in
/// `NAME.stderr` (read it with [`stderr_of`]).
fn spawn_supervise(sc: &Scenario, name: &str) -> Proc {
    let mut c = Command::new(bin("supervise"));
    c.arg(name).current_dir(sc.path());
    spawn_with_stderr(sc, name, c)
}

/// Spawns `c` with stdout on /dev/null and stderr in `sc/NAME.stderr` (truncated).
fn spawn_with_stderr(sc: &Scenario, name: &str, mut c: Command) -> Proc {
    let err = File::create(stderr_path(sc, name)).unwrap();
    c.stdout(Stdio::null()).stderr(err);
    Proc::spawn(c)
}

fn stderr_path(sc: &Scenario, name: &str) -> PathBuf {
    sc.join(format!("{name}.stderr"))
}

/// What the supervise started by [`spawn_supervise`] wrote to stderr so far.
fn stderr_of(sc: &Scenario, name: &str) -> String {
    read(&stderr_path(sc, name))
}

/// A file's contents, or "" if it does not exist.
fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// `DIR/supervise/stat`.
fn stat(dir: &Path) -> String {
    read(&dir.join("supervise/stat"))
}

/// Polls `get` until it returns `want`; on timeout, panics showing the last value seen.
#[track_caller]
fn wait_eq<T: PartialEq + std::fmt::Debug>(
    what: &str,
    want: T,
    timeout: Duration,
    mut get: impl FnMut() -> T,
) {
    let deadline = Instant::now() + timeout;
    loop {
        let got = get();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what} == {want:?}; last seen: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `DIR/supervise/stat` is exactly `want`.
#[track_caller]
fn wait_stat(dir: &Path, want: &str, timeout: Duration) {
    let what = format!("{}/supervise/stat", dir.display());
    wait_eq(&what, want.to_string(), timeout, || stat(dir));
}

/// Waits until bytes 12-19 of `DIR/supervise/status` (pid, paused, want, TERM flag, state) are
/// `tail`. `status` is renamed into place just after `stat`, so a reader can see the new `stat`
/// with the old `status` for a moment.
#[track_caller]
fn wait_status_tail(dir: &Path, tail: Vec<u8>) {
    let path = dir.join("supervise/status");
    wait_eq(
        &format!("{} bytes 12..20", path.display()),
        Some(tail),
        DEADLINE,
        || {
            fs::read(&path)
                .ok()
                .filter(|b| b.len() == 20)
                .map(|b| b[12..].to_vec())
        },
    );
}

/// Waits until the service runs with a pid other than `old`, returns the new pid.
#[track_caller]
fn wait_new_pid(dir: &Path, old: u32, timeout: Duration) -> u32 {
    wait_until(
        &format!("{} running with a pid other than {old}", dir.display()),
        timeout,
        || {
            status(dir)
                .filter(|s| s.state == State::Run)
                .and_then(|s| s.pid)
                .map(|p| p.get())
                .filter(|&p| p != old)
        },
    )
}

/// Waits until `pid` has exec'd into `argv` (until then, a child just forked still holds its
/// parent's descriptors, signal mask and so on).
#[track_caller]
fn wait_exec(pid: u32, argv: &[&str]) {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    wait_for(&format!("pid {pid} runs {argv:?}"), DEADLINE, || {
        fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want)
    });
}

/// Waits until `pid` is blocked in system call `nr` (as `/proc/PID/syscall` shows it): a program
/// that has just been exec'd still opens files of its own (locale data) before it settles.
#[track_caller]
fn wait_blocked_in(pid: u32, nr: libc::c_long) {
    wait_for(
        &format!("pid {pid} blocked in syscall {nr}"),
        DEADLINE,
        || read(Path::new(&format!("/proc/{pid}/syscall"))).starts_with(&format!("{nr} ")),
    );
}

/// Numeric field `n` (1-based, as in proc(5), n ≥ 4) of `/proc/PID/stat`.
fn proc_stat_field(pid: u32, n: usize) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) may contain anything: count from the last ')'.
    let close = s.rfind(')').unwrap();
    let field = s[close + 1..].split_ascii_whitespace().nth(n - 3).unwrap();
    field.parse().unwrap()
}

fn ppid(pid: u32) -> u32 {
    proc_stat_field(pid, 4) as u32
}

fn pgid(pid: u32) -> u32 {
    proc_stat_field(pid, 5) as u32
}

fn sid(pid: u32) -> u32 {
    proc_stat_field(pid, 6) as u32
}

fn start_time(pid: u32) -> u64 {
    proc_stat_field(pid, 22)
}

/// `name:\tvalue` from `/proc/PID/status`.
fn proc_status(pid: u32, name: &str) -> String {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// The open descriptors of `pid` and what they point to.
fn fds(pid: u32) -> BTreeMap<i32, String> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(e.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect()
}

/// Descriptors above 2 that this test process would pass to a child (no close-on-exec).
/// runsv passes such inherited descriptors through to its children
/// (docs/runit-compatibility.md#runsv-children).
fn inheritable_fds() -> BTreeSet<i32> {
    const O_CLOEXEC_OCTAL: u64 = 0o2_000_000;
    fds(std::process::id())
        .into_keys()
        .filter(|&fd| fd > 2)
        .filter(|fd| {
            let info = read(Path::new(&format!("/proc/self/fdinfo/{fd}")));
            info.lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u64::from_str_radix(f.trim(), 8).ok())
                .is_some_and(|flags| flags & O_CLOEXEC_OCTAL == 0)
        })
        .collect()
}

/// Whether `pid` is blocked in `read(0, …)`: with nothing more being written, its stdin pipe is
/// empty and it holds no data it has read but not yet written.
fn blocked_reading_stdin(pid: u32) -> bool {
    read(Path::new(&format!("/proc/{pid}/syscall")))
        .starts_with(&format!("{} 0x0 ", libc::SYS_read))
}

/// `"0\n1\n…\n(n-1)\n"`.
fn numbered(n: usize) -> String {
    (0..n).map(|i| format!("{i}\n")).collect()
}

/// Unix time stamps written by `date +%s.%N`, one per line.
/// The kernel's clock ticks per second (`/proc/PID/stat` start times count in them).
fn clock_ticks_per_second() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn stamps(p: &Path) -> Vec<f64> {
    read(p).lines().map(|l| l.parse().unwrap()).collect()
}

/// The pid in `DIR/supervise/pid`, which must be `<pid>\n`.
#[track_caller]
fn pid_file(dir: &Path) -> u32 {
    let text = read(&dir.join("supervise/pid"));
    text.strip_suffix('\n')
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{}/supervise/pid is {text:?}", dir.display()))
}

/// A unique `sleep` duration, so that `pids_with_cmdline(["sleep", …])` finds only this test's.
fn marker(base: u32) -> String {
    format!("{base}.{}", std::process::id())
}

#[test]
fn usage_is_runsvs() {
    let sc = Scenario::new();
    let sup = bin("supervise");
    sc.cmd(&sup)
        .run()
        .code(1)
        .stdout("")
        .stderr(&format!("usage: {} dir\n\n", sup.display()));
    sc.cmd(&sup).args(["a", "b"]).run().code(1);
}

#[test]
fn starts_run_and_publishes_status() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let _sup = sc.spawn(bin("supervise"), &["web"]);
    let pid = wait_running(&svc);
    assert_eq!(
        std::fs::read_to_string(svc.join("supervise/pid")).unwrap(),
        format!("{pid}\n")
    );
    assert_eq!(
        std::fs::read_to_string(svc.join("supervise/stat")).unwrap(),
        "run\n"
    );
}

// ---------------------------------------------------------------------------------------------
// The log pipe

/// The service numbers its lines on from where the previous instance stopped, and writes each
/// number both to stdout (the log pipe) and to `sent`; its TERM trap ends the loop between two
/// numbers, so `sent` is exactly what went into the pipe.
const RUN_COUNTER: &str = "#!/bin/sh
trap 'stop=1' TERM
i=$(cat count 2>/dev/null || echo 0)
while [ -z \"$stop\" ]; do
  echo $i
  echo $i >> sent
  i=$((i+1))
  echo $i > count
  sleep 0.01
done
";

#[test]
fn log_pipe_loses_and_duplicates_nothing_across_logger_and_service_restarts() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_COUNTER);
    let log = svc.join("log");
    sc.script("web/log/run", "#!/bin/sh\nexec cat >> ../log.out\n");
    sc.script(
        "web/log/finish",
        "#!/bin/sh\necho \"$@\" >> ../log-finish\n",
    );
    let sent = svc.join("sent");
    let logged = svc.join("log.out");
    let _sup = spawn_supervise(&sc, "web");
    let mut run_pid = wait_running(&svc);
    let mut log_pid = wait_running(&log);
    let (mut run_pids, mut log_pids) = (vec![run_pid], vec![log_pid]);
    let sent_lines = || read(&sent).lines().count();

    for _ in 0..2 {
        let n = sent_lines();
        wait_for("the service writes 10 more lines", DEADLINE, || {
            sent_lines() >= n + 10
        });
        // Kill the logger while it is idle (the service paused, the pipe drained), so that a
        // line cat has read but not yet written cannot be lost by cat itself; then let the
        // service write into the pipe while the logger is down.
        control(&svc, "p");
        wait_for("service stopped", DEADLINE, || {
            proc_state(run_pid) == Some('T')
        });
        wait_for("logger idle in read(0)", DEADLINE, || {
            blocked_reading_stdin(log_pid)
        });
        signal(log_pid, libc::SIGKILL);
        control(&svc, "c");
        log_pid = wait_new_pid(&log, log_pid, DEADLINE);
        log_pids.push(log_pid);

        let n = sent_lines();
        wait_for("the service writes 10 more lines", DEADLINE, || {
            sent_lines() >= n + 10
        });
        control(&svc, "t");
        run_pid = wait_new_pid(&svc, run_pid, DEADLINE);
        run_pids.push(run_pid);
    }
    let n = sent_lines();
    wait_for("the service writes 10 more lines", DEADLINE, || {
        sent_lines() >= n + 10
    });
    control(&svc, "d");
    wait_stat(&svc, "down\n", DEADLINE);

    let sent_text = read(&sent);
    let n = sent_text.lines().count();
    assert_eq!(
        sent_text,
        numbered(n),
        "the service itself skipped a number"
    );
    wait_for(
        &format!("log.out catches up with the {n} lines sent"),
        DEADLINE,
        || read(&logged).len() >= sent_text.len(),
    );
    assert_eq!(read(&logged), sent_text);
    assert_eq!(
        run_pids.iter().collect::<BTreeSet<_>>().len(),
        3,
        "{run_pids:?}"
    );
    assert_eq!(
        log_pids.iter().collect::<BTreeSet<_>>().len(),
        3,
        "{log_pids:?}"
    );
    assert!(
        !svc.join("log-finish").exists(),
        "log/finish was run: {:?}",
        read(&svc.join("log-finish"))
    );
    assert_eq!(stderr_of(&sc, "web"), "");
}

#[test]
fn log_pipe_is_run_stdout_and_log_stdin() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    sc.script("web/log/run", "#!/bin/sh\nexec cat\n");
    let sup = spawn_supervise(&sc, "web");
    let run = wait_running(&svc);
    let log = wait_running(&svc.join("log"));
    wait_exec(run, &["sleep", "1000"]);
    wait_exec(log, &["cat"]);
    wait_blocked_in(run, libc::SYS_clock_nanosleep);
    wait_blocked_in(log, libc::SYS_read);
    let inherited = inheritable_fds();
    let (run_fds, log_fds) = (fds(run), fds(log));
    let expected: BTreeSet<i32> = [0, 1, 2].into_iter().chain(inherited).collect();
    assert_eq!(
        run_fds.keys().copied().collect::<BTreeSet<_>>(),
        expected,
        "run's fds: {run_fds:?}; supervise's: {:?}",
        fds(sup.pid())
    );
    assert_eq!(
        log_fds.keys().copied().collect::<BTreeSet<_>>(),
        expected,
        "log/run's fds: {log_fds:?}; supervise's: {:?}",
        fds(sup.pid())
    );
    let pipe = &run_fds[&1];
    assert!(pipe.starts_with("pipe:["), "run's stdout is {pipe}");
    assert_eq!(&log_fds[&0], pipe, "log/run's stdin is not run's stdout");
    let err = stderr_path(&sc, "web").to_string_lossy().into_owned();
    assert_eq!(run_fds[&0], "/dev/null");
    assert_eq!(run_fds[&2], err);
    assert_eq!(log_fds[&1], "/dev/null");
    assert_eq!(log_fds[&2], err);
    for p in [run, log] {
        assert_eq!(pgid(p), sup.pid(), "pgid of {p}");
        assert_eq!(ppid(p), sup.pid(), "ppid of {p}");
    }
}

// ---------------------------------------------------------------------------------------------
// Signals, and a supervise that was killed

#[test]
fn hup_alrm_usr1_usr2_pipe_are_ignored_and_supervision_goes_on() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let mut sup = spawn_supervise(&sc, "web");
    let pid = wait_running(&svc);
    for sig in [
        libc::SIGHUP,
        libc::SIGALRM,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGPIPE,
    ] {
        sup.signal(sig);
    }
    std::thread::sleep(QUIET);
    assert!(sup.alive(), "supervise died of a signal");
    assert!(supervisor_alive(&svc));
    assert!(pid_alive(pid), "the service got a signal");
    assert_eq!(status(&svc).and_then(|s| s.pid).map(|p| p.get()), Some(pid));
    assert_eq!(stat(&svc), "run\n");

    control(&svc, "t");
    let new = wait_new_pid(&svc, pid, DEADLINE);
    assert!(!pid_alive(pid));
    control(&svc, "d");
    wait_stat(&svc, "down\n", DEADLINE);
    assert!(!pid_alive(new));
    assert_eq!(stderr_of(&sc, "web"), "");
}

#[test]
fn leftover_service_of_a_killed_supervise_is_replaced_by_exactly_one() {
    let sc = Scenario::new();
    let m = marker(1001);
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    let mut sup1 = spawn_supervise(&sc, "web");
    let old = wait_running(&svc);
    wait_for("the service runs sleep", DEADLINE, || {
        pids_with_cmdline(&["sleep", &m]) == [old]
    });
    sup1.signal(libc::SIGKILL);
    sup1.wait(DEADLINE);
    assert!(pid_alive(old), "the service died with supervise");

    let sup2 = spawn_supervise(&sc, "web");
    let new = wait_until(
        "exactly one instance, the new one",
        Duration::from_secs(2),
        || {
            let pids = pids_with_cmdline(&["sleep", &m]);
            let cur = status(&svc)
                .filter(|s| s.state == State::Run)
                .and_then(|s| s.pid)?
                .get();
            (pids == [cur] && cur != old).then_some(cur)
        },
    );
    std::thread::sleep(QUIET);
    assert_eq!(pids_with_cmdline(&["sleep", &m]), vec![new]);
    assert_eq!(ppid(new), sup2.pid());
    assert!(!pid_alive(old));
    assert_eq!(
        stderr_of(&sc, "web"),
        format!(
            "supervise web: warning: stopping process left by a previous supervise: pid {old}\n"
        )
    );
}

#[test]
fn term_ignoring_leftover_is_killed_after_grace_and_replaced_by_exactly_one() {
    let sc = Scenario::new();
    let name = format!("ignore-term-{}", std::process::id());
    let body = "trap \"\" TERM; while :; do sleep 0.05; done";
    let svc = sc.service(
        "web",
        &format!("#!/bin/sh\nexec /bin/sh -c '{body}' {name}\n"),
    );
    let argv = ["/bin/sh", "-c", body, &name];
    let mut sup1 = spawn_supervise(&sc, "web");
    let old = wait_running(&svc);
    wait_for("the service runs its loop", DEADLINE, || {
        pids_with_cmdline(&argv) == [old]
    });
    sup1.signal(libc::SIGKILL);
    sup1.wait(DEADLINE);

    let t0 = Instant::now();
    let sup2 = spawn_supervise(&sc, "web");
    wait_for("the leftover is killed", Duration::from_secs(2), || {
        !pid_alive(old)
    });
    // TERM first, KILL only after the grace period.
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "leftover killed after {:?}",
        t0.elapsed()
    );
    let new = wait_until(
        "exactly one instance, the new one",
        Duration::from_secs(2).saturating_sub(t0.elapsed()),
        || {
            let cur = status(&svc)
                .filter(|s| s.state == State::Run)
                .and_then(|s| s.pid)?
                .get();
            (cur != old && pids_with_cmdline(&argv) == [cur]).then_some(cur)
        },
    );
    std::thread::sleep(QUIET);
    assert_eq!(pids_with_cmdline(&argv), vec![new]);
    assert_eq!(ppid(new), sup2.pid());
    assert_eq!(
        stderr_of(&sc, "web"),
        format!(
            "supervise web: warning: stopping process left by a previous supervise: pid {old}\n"
        )
    );
}

#[test]
fn leftover_service_and_logger_are_replaced_by_exactly_one_each() {
    let sc = Scenario::new();
    let m = marker(1003);
    let name = format!("logger-{}", std::process::id());
    let body = "while read -r l; do :; done";
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    let log = svc.join("log");
    sc.script(
        "web/log/run",
        &format!("#!/bin/sh\nexec /bin/sh -c '{body}' {name}\n"),
    );
    let run_argv = ["sleep", m.as_str()];
    let log_argv = ["/bin/sh", "-c", body, &name];
    let mut sup1 = spawn_supervise(&sc, "web");
    let old_run = wait_running(&svc);
    let old_log = wait_running(&log);
    wait_for("one service and one logger", DEADLINE, || {
        pids_with_cmdline(&run_argv) == [old_run] && pids_with_cmdline(&log_argv) == [old_log]
    });
    sup1.signal(libc::SIGKILL);
    sup1.wait(DEADLINE);

    let sup2 = spawn_supervise(&sc, "web");
    let running = |dir: &Path, old: u32| {
        status(dir)
            .filter(|s| s.state == State::Run)
            .and_then(|s| s.pid)
            .map(|p| p.get())
            .filter(|&p| p != old)
    };
    let (new_run, new_log) = wait_until(
        "exactly one new service and one new logger",
        Duration::from_secs(2),
        || {
            let (r, l) = (running(&svc, old_run)?, running(&log, old_log)?);
            (pids_with_cmdline(&run_argv) == [r] && pids_with_cmdline(&log_argv) == [l])
                .then_some((r, l))
        },
    );
    std::thread::sleep(QUIET);
    assert_eq!(pids_with_cmdline(&run_argv), vec![new_run]);
    assert_eq!(pids_with_cmdline(&log_argv), vec![new_log]);
    assert_eq!(ppid(new_run), sup2.pid());
    assert_eq!(ppid(new_log), sup2.pid());
    // The old logger exits on EOF once the old service is gone; whether supervise still saw it
    // (and said so) depends on how fast it went.
    let main_line = format!(
        "supervise web: warning: stopping process left by a previous supervise: pid {old_run}\n"
    );
    let log_line = format!(
        "supervise web: warning: stopping process left by a previous supervise: pid {old_log}\n"
    );
    let err = stderr_of(&sc, "web");
    assert!(
        err == main_line || err == format!("{main_line}{log_line}"),
        "stderr: {err:?}"
    );
}

#[test]
fn instance_file_naming_a_reused_pid_kills_nothing() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let mut c = Command::new("/bin/sleep");
    c.arg(marker(1005));
    let mut victim = Proc::spawn(c);
    let start = start_time(victim.pid());
    fs::create_dir(svc.join("supervise")).unwrap();
    fs::set_permissions(svc.join("supervise"), fs::Permissions::from_mode(0o700)).unwrap();
    // Same pid, other start time: the recorded process is gone and the pid was reused.
    fs::write(
        svc.join("supervise/instance"),
        format!("{} {}\n", victim.pid(), start + 1),
    )
    .unwrap();
    let _sup = spawn_supervise(&sc, "web");
    wait_running(&svc);
    std::thread::sleep(QUIET);
    assert!(victim.alive(), "supervise killed an unrelated process");
    assert_eq!(stderr_of(&sc, "web"), "");
}

// ---------------------------------------------------------------------------------------------
// The restart throttle is a deadline

#[test]
fn crash_loop_restarts_about_once_a_second() {
    let sc = Scenario::new();
    // Each run records when it was forked (its start time in clock ticks, from /proc), not when
    // it got to run a command: on a loaded machine the latter can lag by most of a second.
    let svc = sc.service(
        "web",
        "#!/bin/sh\ncut -d' ' -f22 /proc/$$/stat >> starts\nexit 0\n",
    );
    let _sup = spawn_supervise(&sc, "web");
    let starts = svc.join("starts");
    wait_for("three starts", DEADLINE, || stamps(&starts).len() >= 3);
    let hz = clock_ticks_per_second() as f64;
    let t: Vec<f64> = stamps(&starts).iter().map(|ticks| ticks / hz).collect();
    for w in t.windows(2) {
        let gap = w[1] - w[0];
        assert!((0.9..1.9).contains(&gap), "starts {gap:.3} s apart: {t:?}");
    }
}

#[test]
fn control_during_restart_pause_takes_effect_at_once() {
    let sc = Scenario::new();
    let svc = sc.service("web", "#!/bin/sh\necho start >> starts\nexit 0\n");
    let _sup = spawn_supervise(&sc, "web");
    let starts = svc.join("starts");
    let count = || read(&starts).lines().count();
    wait_for("first start, then down", DEADLINE, || {
        count() == 1 && stat(&svc) == "down\n"
    });
    // runsv sits in sleep(1) here and would act on these bytes only after it.
    control(&svc, "p");
    wait_stat(&svc, "down, paused\n", Duration::from_millis(200));
    // `status` is renamed into place just after `stat`.
    wait_status(&svc, "paused flag set", |s| s.paused);
    control(&svc, "c");
    wait_stat(&svc, "down\n", Duration::from_millis(200));
    assert_eq!(count(), 1, "the test did not act within the pause");
    wait_for("second start", Duration::from_secs(2), || count() == 2);
}

#[test]
fn run_that_lived_a_second_restarts_at_once() {
    let sc = Scenario::new();
    let svc = sc.service(
        "web",
        "#!/bin/sh\ndate +%s.%N >> starts\nsleep 1.2\ndate +%s.%N >> ends\nexit 0\n",
    );
    let _sup = spawn_supervise(&sc, "web");
    let (starts, ends) = (svc.join("starts"), svc.join("ends"));
    wait_for("second start", DEADLINE, || stamps(&starts).len() >= 2);
    let (s, e) = (stamps(&starts), stamps(&ends));
    let gap = s[1] - e[0];
    assert!(
        (0.0..0.3).contains(&gap),
        "restart {gap:.3} s after the exit (starts {s:?}, ends {e:?})"
    );
}

#[test]
fn short_run_restarts_a_second_after_its_start_not_after_its_exit() {
    let sc = Scenario::new();
    let svc = sc.service(
        "web",
        "#!/bin/sh\ndate +%s.%N >> starts\nsleep 0.6\nexit 0\n",
    );
    let _sup = spawn_supervise(&sc, "web");
    let starts = svc.join("starts");
    wait_for("second start", DEADLINE, || stamps(&starts).len() >= 2);
    let t = stamps(&starts);
    // runsv sleeps a full second after the exit: about 1.6 s.
    let gap = t[1] - t[0];
    assert!((0.9..1.35).contains(&gap), "starts {gap:.3} s apart");
}

#[test]
fn exit_during_restart_pause_is_immediate() {
    let sc = Scenario::new();
    let svc = sc.service("web", "#!/bin/sh\necho start >> starts\nexit 0\n");
    let mut sup = spawn_supervise(&sc, "web");
    let starts = svc.join("starts");
    wait_for("first start, then down", DEADLINE, || {
        read(&starts) == "start\n" && stat(&svc) == "down\n"
    });
    // runsv finishes its sleep(1) first.
    control(&svc, "x");
    assert_eq!(sup.wait(Duration::from_millis(500)), Some(0));
    assert_eq!(read(&starts), "start\n");
}

/// An exit is final: a `u` right behind the `x` does not cancel it (runsv drops the `u` too).
#[test]
fn up_after_exit_does_not_cancel_the_exit() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let mut sup = spawn_supervise(&sc, "web");
    let pid = wait_running(&svc);
    control(&svc, "xu");
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert!(!pid_alive(pid));
    assert_eq!(stat(&svc), "down\n");
}

#[test]
fn crash_looping_logger_does_not_stall_the_service() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    sc.script(
        "web/log/run",
        "#!/bin/sh\necho start >> ../log-starts\nexit 0\n",
    );
    let _sup = spawn_supervise(&sc, "web");
    let pid = wait_running(&svc);
    let log_starts = svc.join("log-starts");
    wait_for("the logger crash-loops", DEADLINE, || {
        read(&log_starts).lines().count() >= 2
    });
    // runsv sleeps 1 s after each quick exit of the logger and reads no control byte meanwhile:
    // well under that is the point (500 ms leaves room for a loaded machine).
    for _ in 0..3 {
        control(&svc, "p");
        wait_stat(&svc, "run, paused\n", Duration::from_millis(500));
        control(&svc, "c");
        wait_stat(&svc, "run\n", Duration::from_millis(500));
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(status(&svc).and_then(|s| s.pid).map(|p| p.get()), Some(pid));
}

// ---------------------------------------------------------------------------------------------
// Control letters

#[test]
fn letters_in_one_write_are_all_applied_and_unknown_bytes_ignored() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let _sup = spawn_supervise(&sc, "web");
    let pid = wait_running(&svc);
    let before = fs::read(svc.join("supervise/status")).unwrap();
    control(&svc, "zZ\n?!rbyOXwDUe");
    std::thread::sleep(QUIET);
    assert_eq!(fs::read(svc.join("supervise/status")).unwrap(), before);
    assert!(pid_alive(pid) && proc_state(pid) != Some('T'));

    control(&svc, "pcp");
    wait_status_tail(&svc, [pid.to_le_bytes(), [1, b'u', 0, 1]].concat());
    assert_eq!(stat(&svc), "run, paused\n");
    wait_for("run stopped", DEADLINE, || proc_state(pid) == Some('T'));
    control(&svc, "cd");
    wait_stat(&svc, "down\n", DEADLINE);
    assert!(!pid_alive(pid));
}

#[test]
fn down_file_keeps_the_service_down_until_asked_and_o_runs_it_once() {
    let sc = Scenario::new();
    let svc = sc.service("web", "#!/bin/sh\necho run >> events\nexec sleep 1000\n");
    sc.file("web/down", "", 0o644);
    let events = svc.join("events");
    let _sup = spawn_supervise(&sc, "web");
    wait_status_tail(&svc, vec![0, 0, 0, 0, 0, b'd', 0, 0]);
    assert_eq!(stat(&svc), "down\n");
    std::thread::sleep(QUIET);
    assert!(!events.exists(), "run was started");

    control(&svc, "o");
    let pid = wait_running(&svc);
    wait_for("run started", DEADLINE, || read(&events) == "run\n");
    assert_eq!(stat(&svc), "run, want down\n");
    control(&svc, "k");
    wait_stat(&svc, "down\n", DEADLINE);
    std::thread::sleep(QUIET);
    assert_eq!(read(&events), "run\n", "o ran the service more than once");

    control(&svc, "u");
    let new = wait_new_pid(&svc, pid, DEADLINE);
    assert_eq!(stat(&svc), "run\n");
    assert_eq!(status(&svc).map(|s| s.want), Some(Want::Up));
    assert!(pid_alive(new));
}

// ---------------------------------------------------------------------------------------------
// Exiting

/// Service with a log: `trigger` asks supervise to exit; the service gets TERM, then the logger
/// EOF, supervise exits 0 and both end `down`. `log/finish` is never run.
fn exit_stops_service_then_logger(trigger: impl FnOnce(&Proc, &Path)) {
    let sc = Scenario::new();
    let svc = sc.service(
        "web",
        "#!/bin/sh\ntrap 'echo term >> events; exit 0' TERM\necho hello\n\
         while :; do sleep 0.05; done\n",
    );
    let log = svc.join("log");
    sc.script(
        "web/log/run",
        "#!/bin/sh\ncat > ../out\necho eof >> ../events\n",
    );
    sc.script(
        "web/log/finish",
        "#!/bin/sh\necho \"$@\" >> ../log-finish\n",
    );
    let mut sup = spawn_supervise(&sc, "web");
    wait_running(&svc);
    wait_running(&log);
    wait_for("hello logged", DEADLINE, || {
        read(&svc.join("out")) == "hello\n"
    });
    trigger(&sup, &svc);
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert_eq!(read(&svc.join("events")), "term\neof\n");
    assert_eq!(read(&svc.join("out")), "hello\n");
    for dir in [&svc, &log] {
        assert_eq!(stat(dir), "down\n", "{}", dir.display());
        assert_eq!(read(&dir.join("supervise/pid")), "", "{}", dir.display());
        assert!(!supervisor_alive(dir));
    }
    assert_eq!(status(&svc).map(|s| s.want), Some(Want::Down));
    assert!(!svc.join("log-finish").exists(), "log/finish was run");
    assert_eq!(stderr_of(&sc, "web"), "");
}

#[test]
fn exit_letter_stops_service_then_logger_by_eof_and_exits_0() {
    exit_stops_service_then_logger(|_, svc| control(svc, "x"));
}

#[test]
fn sigterm_stops_service_then_logger_by_eof_and_exits_0() {
    exit_stops_service_then_logger(|sup, _| sup.signal(libc::SIGTERM));
}

#[test]
fn exit_letter_on_the_log_control_is_ignored() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let log = svc.join("log");
    sc.script("web/log/run", "#!/bin/sh\nexec cat\n");
    let mut sup = spawn_supervise(&sc, "web");
    let run = wait_running(&svc);
    let logger = wait_running(&log);
    let before = [
        fs::read(svc.join("supervise/status")).unwrap(),
        fs::read(log.join("supervise/status")).unwrap(),
    ];
    control(&log, "x");
    std::thread::sleep(QUIET);
    assert!(sup.alive());
    let after = [
        fs::read(svc.join("supervise/status")).unwrap(),
        fs::read(log.join("supervise/status")).unwrap(),
    ];
    assert_eq!(before, after);
    assert_eq!((stat(&svc), stat(&log)), ("run\n".into(), "run\n".into()));
    assert!(pid_alive(run) && pid_alive(logger));
    // The log's control FIFO is read (a `t` after the `x` restarts the logger), the `x` was not
    // acted on, and the main service is untouched.
    control(&log, "t");
    wait_new_pid(&log, logger, DEADLINE);
    assert_eq!(status(&svc).and_then(|s| s.pid).map(|p| p.get()), Some(run));
    assert!(sup.alive());
}

#[test]
fn sigterm_with_term_ignoring_service_waits_until_k() {
    let sc = Scenario::new();
    let svc = sc.service(
        "web",
        "#!/bin/sh\ntrap '' TERM\necho ready > ready\nwhile :; do sleep 0.05; done\n",
    );
    let mut sup = spawn_supervise(&sc, "web");
    let pid = wait_running(&svc);
    wait_for("trap set", DEADLINE, || svc.join("ready").exists());
    sup.signal(libc::SIGTERM);
    wait_stat(&svc, "run, got TERM, want exit\n", DEADLINE);
    std::thread::sleep(QUIET);
    assert!(sup.alive());
    assert!(supervisor_alive(&svc));
    assert_eq!(stat(&svc), "run, got TERM, want exit\n");
    assert_eq!(status(&svc).and_then(|s| s.pid).map(|p| p.get()), Some(pid));
    control(&svc, "k");
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert_eq!(stat(&svc), "down\n");
    assert!(!pid_alive(pid));
}

// ---------------------------------------------------------------------------------------------
// finish

#[test]
fn kill_during_finish_kills_finish_and_does_not_run_it_again() {
    let sc = Scenario::new();
    let svc = sc.service("web", "#!/bin/sh\necho run >> events\nexec sleep 1000\n");
    sc.script(
        "web/finish",
        "#!/bin/sh\necho \"$@\" >> finish-args\nexec sleep 1000\n",
    );
    let args = svc.join("finish-args");
    let events = svc.join("events");
    let _sup = spawn_supervise(&sc, "web");
    let run1 = wait_running(&svc);
    wait_for("run started", DEADLINE, || read(&events) == "run\n");

    // Want up: `k` kills finish, and the service restarts. runsv would leave finish running
    // and then run it a second time.
    control(&svc, "t");
    wait_stat(&svc, "finish\n", DEADLINE);
    let fin1 = pid_file(&svc);
    wait_for("finish recorded its args", DEADLINE, || {
        read(&args) == "-1 15\n"
    });
    control(&svc, "k");
    let run2 = wait_new_pid(&svc, run1, Duration::from_secs(3));
    assert!(!pid_alive(fin1), "finish survived k");
    wait_for("the new run started", DEADLINE, || {
        read(&events) == "run\nrun\n"
    });
    assert_eq!(read(&args), "-1 15\n");

    // Want down: `k` kills finish and the service stays down.
    control(&svc, "d");
    wait_stat(&svc, "finish, want down\n", DEADLINE);
    let fin2 = pid_file(&svc);
    assert!(!pid_alive(run2));
    wait_for("finish recorded its args", DEADLINE, || {
        read(&args) == "-1 15\n-1 15\n"
    });
    control(&svc, "k");
    wait_stat(&svc, "down\n", DEADLINE);
    assert!(!pid_alive(fin2), "finish survived k");
    std::thread::sleep(QUIET);
    assert_eq!(stat(&svc), "down\n");
    assert_eq!(read(&svc.join("supervise/pid")), "");
    assert_eq!(read(&args), "-1 15\n-1 15\n");
    assert_eq!(read(&events), "run\nrun\n");
}

#[test]
fn finish_gets_exit_code_or_signal_at_once_and_writes_to_the_log() {
    let sc = Scenario::new();
    let svc = sc.service(
        "web",
        "#!/bin/sh\nn=$(cat n 2>/dev/null || echo 0)\necho $((n+1)) > n\n\
         date +%s.%N >> exited\n\
         case $n in 0) exit 3;; 1) kill -9 $$;; *) exec sleep 1000;; esac\n",
    );
    sc.script(
        "web/finish",
        "#!/bin/sh\ndate +%s.%N >> finished\necho \"finish $*\"\n",
    );
    sc.script("web/log/run", "#!/bin/sh\nexec cat >> ../log.out\n");
    let _sup = spawn_supervise(&sc, "web");
    let out = svc.join("log.out");
    wait_for("two finishes logged", DEADLINE, || {
        read(&out) == "finish 3 0\nfinish -1 9\n"
    });
    wait_for("third run", DEADLINE, || read(&svc.join("n")) == "3\n");
    let exited = stamps(&svc.join("exited"));
    let finished = stamps(&svc.join("finished"));
    assert_eq!(finished.len(), 2);
    for i in 0..2 {
        let gap = finished[i] - exited[i];
        assert!(
            (0.0..0.3).contains(&gap),
            "finish {i} started {gap:.3} s after run exited"
        );
    }
    assert_eq!(stderr_of(&sc, "web"), "");
}

// ---------------------------------------------------------------------------------------------
// What children inherit

#[test]
fn run_shares_supervises_process_group_and_gets_no_private_fds() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let sup = spawn_supervise(&sc, "web");
    let run = wait_running(&svc);
    wait_exec(run, &["sleep", "1000"]);
    wait_blocked_in(run, libc::SYS_clock_nanosleep);
    let inherited = inheritable_fds();
    let run_fds = fds(run);
    let expected: BTreeSet<i32> = [0, 1, 2].into_iter().chain(inherited).collect();
    assert_eq!(
        run_fds.keys().copied().collect::<BTreeSet<_>>(),
        expected,
        "run's fds: {run_fds:?}"
    );
    // supervise's own stdin, stdout and stderr.
    assert_eq!(run_fds[&0], "/dev/null");
    assert_eq!(run_fds[&1], "/dev/null");
    assert_eq!(run_fds[&2], stderr_path(&sc, "web").to_string_lossy());
    assert_eq!(pgid(run), sup.pid());
    assert_eq!(pgid(sup.pid()), sup.pid());
    assert_eq!(sid(run), sid(sup.pid()));
    // supervise blocks signals for its signalfd and ignores SIGPIPE: none of that is passed on.
    // Signals ignored by whoever started supervise stay ignored
    // (docs/runit-compatibility.md#runsv-children); supervise itself was started with an empty mask
    // and SIGPIPE at its default. Only the classic signals 1-31 are compared: the libc-internal
    // real-time ones vary with the environment.
    let sigset = |pid: u32, k: &str| u64::from_str_radix(&proc_status(pid, k), 16).unwrap();
    let classic = |set: u64| set & 0x7fff_ffff;
    let pipe_bit = 1u64 << (libc::SIGPIPE - 1);
    assert_eq!(sigset(run, "SigBlk"), 0);
    assert_eq!(
        classic(sigset(run, "SigIgn")),
        classic(sigset(std::process::id(), "SigIgn")) & !pipe_bit
    );
}

/// supervise asks for the shortest scheduler slice (100 µs, Linux 6.12 and later) so that a
/// service's readiness newline or exit runs it at once; `run` and `log/run` get the default
/// slice, the one this test runs with. Started at nice -5, supervise leaves its scheduling alone
/// (resetting the slice at fork would also reset the children's nice) and they inherit -5.
#[test]
fn supervise_has_a_short_slice_and_its_children_the_default() {
    let default = proc_sched_slice_ns(std::process::id());
    assert_ne!(
        default, 100_000,
        "this test must run with the default slice"
    );
    for nice in [None, Some(-5)] {
        let sc = Scenario::new();
        let svc = sc.service("web", RUN_SLEEP);
        sc.script("web/log/run", "#!/bin/sh\nexec cat\n");
        let mut c = match nice {
            None => Command::new(bin("supervise")),
            Some(n) => {
                let mut c = Command::new("/usr/bin/nice");
                c.arg(format!("-n{n}")).arg(bin("supervise"));
                c
            }
        };
        c.arg("web").current_dir(sc.path());
        let sup = spawn_with_stderr(&sc, "web", c);
        let run = wait_running(&svc);
        let log = wait_running(&svc.join("log"));
        wait_exec(run, &["sleep", "1000"]);
        wait_exec(log, &["cat"]);
        let want = if nice.is_none() { 100_000 } else { default };
        assert_eq!(
            proc_sched_slice_ns(sup.pid()),
            want,
            "supervise, nice {nice:?}"
        );
        for (what, pid) in [("run", run), ("log/run", log)] {
            assert_eq!(proc_sched_slice_ns(pid), default, "{what}, nice {nice:?}");
            let stat = read(Path::new(&format!("/proc/{pid}/stat")));
            let fields: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .collect();
            // Field 19 of stat (nice) is the 17th after the command's closing parenthesis.
            assert_eq!(fields[16], nice.unwrap_or(0).to_string(), "{what}'s nice");
        }
    }
}

#[test]
fn children_get_supervises_environment_unchanged() {
    let sc = Scenario::new();
    // Shells that do not exec: /proc/PID/environ is exactly what supervise passed to execve.
    let svc = sc.service("web", "#!/bin/sh\nsleep 1000\n");
    sc.script("web/log/run", "#!/bin/sh\ncat\n");
    let mut c = Command::new(bin("supervise"));
    c.arg("web")
        .current_dir(sc.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HERD_TEST_VAR", "some value")
        .env("HERD_TEST_EMPTY", "")
        .env("HERD_TEST_NL", "two\nlines");
    let sup = spawn_with_stderr(&sc, "web", c);
    let run = wait_running(&svc);
    let log = wait_running(&svc.join("log"));
    wait_exec(run, &["/bin/sh", "./run"]);
    wait_exec(log, &["/bin/sh", "./run"]);
    let environ = |pid: u32| fs::read(format!("/proc/{pid}/environ")).unwrap();
    let sup_env = environ(sup.pid());
    let mut vars: Vec<String> = sup_env
        .split(|&b| b == 0)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    vars.sort();
    assert_eq!(
        vars,
        [
            "HERD_TEST_EMPTY=",
            "HERD_TEST_NL=two\nlines",
            "HERD_TEST_VAR=some value",
            "PATH=/usr/bin:/bin",
        ]
    );
    assert_eq!(environ(run), sup_env, "run's environment");
    assert_eq!(environ(log), sup_env, "log/run's environment");
}

// ---------------------------------------------------------------------------------------------
// Startup errors and warnings

#[test]
fn missing_directory_is_fatal_111() {
    let sc = Scenario::new();
    sc.cmd(bin("supervise"))
        .arg("nonexist")
        .run()
        .code(111)
        .stdout("")
        .stderr("supervise nonexist: fatal: unable to change to directory: file does not exist\n");
}

#[test]
fn lock_held_by_another_supervise_is_fatal_111() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let mut sup = spawn_supervise(&sc, "web");
    let pid = wait_running(&svc);
    sc.cmd(bin("supervise"))
        .arg("web")
        .run()
        .code(111)
        .stdout("")
        .stderr("supervise web: fatal: unable to lock supervise/lock: temporary failure\n");
    assert!(sup.alive());
    assert_eq!(status(&svc).and_then(|s| s.pid).map(|p| p.get()), Some(pid));
    assert_eq!(stat(&svc), "run\n");
}

#[test]
fn control_that_is_not_a_fifo_is_fatal_111() {
    let sc = Scenario::new();
    let svc = sc.service("web", "#!/bin/sh\ntouch started\nexec sleep 1000\n");
    sc.file("web/supervise/control", "", 0o600);
    sc.cmd(bin("supervise"))
        .arg("web")
        .run()
        .code(111)
        .stdout("")
        .stderr("supervise web: fatal: supervise/control exists but is not a fifo\n");
    assert!(!svc.join("started").exists());
}

#[test]
fn symlinked_supervise_dirs_are_created_relative_to_their_service() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    sc.script("web/log/run", "#!/bin/sh\nexec cat\n");
    fs::create_dir(sc.join("state")).unwrap();
    std::os::unix::fs::symlink("../state/main", svc.join("supervise")).unwrap();
    std::os::unix::fs::symlink("../../state/log", svc.join("log/supervise")).unwrap();
    let _sup = spawn_supervise(&sc, "web");
    wait_running(&svc);
    wait_running(&svc.join("log"));
    for d in ["state/main", "state/log"] {
        let meta = fs::symlink_metadata(sc.join(d)).unwrap();
        assert!(meta.is_dir(), "{d}");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o700, "{d}");
        assert!(sc.join(d).join("status").is_file(), "{d}");
    }
    assert!(supervisor_alive(&svc) && supervisor_alive(&svc.join("log")));
    assert_eq!(stderr_of(&sc, "web"), "");
}

/// A `supervise` symlink whose target's parents do not exist (an image that ships
/// `supervise -> /run/herd/NAME` links and runs with `--read-only --tmpfs /run`): herd makes the
/// parents (0755) and the target (0700) and runs; runit's runsv makes only the last component and
/// so fails at the lock (checked here on the real runsv, which the docs state as a difference).
#[test]
fn symlinked_supervise_whose_target_parents_are_missing_is_made_with_them() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    std::os::unix::fs::symlink("../missing/deeper/S", svc.join("supervise")).unwrap();
    sc.cmd("/usr/bin/runsv")
        .arg("web")
        .run()
        .code(111)
        .stdout("")
        .stderr("runsv web: fatal: unable to open supervise/lock: file does not exist\n");
    assert!(!sc.join("missing").exists());

    let _sup = spawn_supervise(&sc, "web");
    wait_running(&svc);
    let mode = |d: &str| {
        fs::symlink_metadata(sc.join(d))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("missing") & 0o700, 0o700);
    assert_eq!(mode("missing/deeper") & 0o700, 0o700);
    assert_eq!(mode("missing/deeper/S"), 0o700);
    assert!(sc.join("missing/deeper/S/status").is_file());
    assert_eq!(stderr_of(&sc, "web"), "");
    sc.cmd(bin("sv"))
        .args(["status", "./web"])
        .run()
        .code(0)
        .stdout_norm("run: ./web: (pid N) Ns\n");
}

/// A service tree on a read-only file system: supervise says why `supervise/` cannot be made
/// (runsv says only that the lock cannot be opened, a consequence).
#[test]
fn read_only_service_tree_names_the_real_cause() {
    let sc = Scenario::new();
    let ro = sc.join("ro");
    fs::create_dir(&ro).unwrap();
    let mut c = Command::new("mount");
    c.args(["-t", "tmpfs", "-o", "size=64k", "herd-test-ro"])
        .arg(&ro);
    faults::succeed(c);
    let _unmount = Unmount(ro.clone());
    fs::create_dir(ro.join("web")).unwrap();
    fs::write(ro.join("web/run"), RUN_SLEEP).unwrap();
    fs::set_permissions(ro.join("web/run"), fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = Command::new("mount");
    c.args(["-o", "remount,ro"]).arg(&ro);
    faults::succeed(c);
    sc.cmd(bin("supervise"))
        .arg("web")
        .current_dir(&ro)
        .run()
        .code(111)
        .stdout("")
        .stderr("supervise web: fatal: unable to mkdir supervise: read-only file system\n");
    // With `supervise` a symlink out of the read-only tree, to a writable place: it runs.
    let sc2 = Scenario::new();
    let svc = sc2.service("web", RUN_SLEEP);
    std::os::unix::fs::symlink(sc2.join("run/herd/web"), svc.join("supervise")).unwrap();
    let _sup = spawn_supervise(&sc2, "web");
    wait_running(&svc);
    assert!(sc2.join("run/herd/web/status").is_file());
}

/// Unmounts a test's mount when dropped (also on panic).
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn supervise_symlink_text_of_256_bytes_is_fatal_255_is_fine() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    std::os::unix::fs::symlink("a".repeat(256), svc.join("supervise")).unwrap();
    sc.cmd(bin("supervise"))
        .arg("web")
        .run()
        .code(111)
        .stdout("")
        .stderr("supervise web: fatal: unable to readlink ./supervise: name too long\n");

    fs::remove_file(svc.join("supervise")).unwrap();
    let target = "b".repeat(255);
    std::os::unix::fs::symlink(&target, svc.join("supervise")).unwrap();
    let _sup = spawn_supervise(&sc, "web");
    wait_running(&svc);
    let meta = fs::symlink_metadata(svc.join(&target)).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.permissions().mode() & 0o7777, 0o700);
    assert_eq!(stderr_of(&sc, "web"), "");
}

#[test]
fn log_that_is_not_a_directory_warns_and_service_runs() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    sc.file("web/log", "", 0o644);
    let _sup = spawn_supervise(&sc, "web");
    let run = wait_running(&svc);
    wait_exec(run, &["sleep", "1000"]);
    assert_eq!(
        stderr_of(&sc, "web"),
        "supervise web: warning: ./log: not a directory.\n"
    );
    // No log pipe: run's stdout is supervise's.
    assert_eq!(fds(run)[&1], "/dev/null");
}

#[test]
fn run_not_executable_fails_in_the_child_and_finish_gets_111_0() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    fs::set_permissions(svc.join("run"), fs::Permissions::from_mode(0o644)).unwrap();
    sc.script("web/finish", "#!/bin/sh\necho \"$@\" >> finish-args\n");
    let args = svc.join("finish-args");
    let _sup = spawn_supervise(&sc, "web");
    wait_for("finish ran twice", DEADLINE, || {
        read(&args).lines().count() >= 2
    });
    for l in read(&args).lines() {
        assert_eq!(l, "111 0");
    }
    let err = stderr_of(&sc, "web");
    assert!(err.lines().count() >= 2, "stderr: {err:?}");
    for l in err.lines() {
        assert_eq!(
            l,
            "supervise web: fatal: unable to start ./run: access denied"
        );
    }
    assert!(err.ends_with('\n'));
    assert!(supervisor_alive(&svc));
}

// ---------------------------------------------------------------------------------------------
// supervise/ files

#[test]
fn supervise_files_have_runsvs_types_and_modes() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let mut c = Command::new("/bin/sh");
    c.args(["-c", "umask 022; exec \"$0\" web"])
        .arg(bin("supervise"))
        .current_dir(sc.path());
    let _sup = spawn_with_stderr(&sc, "web", c);
    wait_running(&svc);
    let sv = svc.join("supervise");
    let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert!(fs::symlink_metadata(&sv).unwrap().is_dir());
    assert_eq!(mode(&sv), 0o700);
    for fifo in ["control", "ok"] {
        let p = sv.join(fifo);
        assert!(
            fs::symlink_metadata(&p).unwrap().file_type().is_fifo(),
            "{fifo}"
        );
        assert_eq!(mode(&p), 0o600, "{fifo}");
    }
    let lock = fs::symlink_metadata(sv.join("lock")).unwrap();
    assert!(lock.is_file());
    assert_eq!(lock.len(), 0);
    assert_eq!(mode(&sv.join("lock")), 0o600);
    for f in ["pid", "stat", "status", "instance", "runs"] {
        let p = sv.join(f);
        assert!(fs::symlink_metadata(&p).unwrap().is_file(), "{f}");
        assert_eq!(mode(&p), 0o644, "{f}");
    }
    // Nothing else: no `.new` file left behind. `instance` (the leftover check) and `runs`
    // (starts and the last exit, for `sv --json status`) are herd's.
    let names: BTreeSet<String> = fs::read_dir(&sv)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["control", "instance", "lock", "ok", "pid", "runs", "stat", "status"]
            .map(String::from)
            .into()
    );
    assert_eq!(stderr_of(&sc, "web"), "");
}

#[test]
fn pid_stat_and_status_bytes_follow_run_pause_down() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let _sup = spawn_supervise(&sc, "web");
    let pid = wait_running(&svc);
    let bytes = || fs::read(svc.join("supervise/status")).unwrap();
    assert_eq!(read(&svc.join("supervise/pid")), format!("{pid}\n"));
    assert_eq!(stat(&svc), "run\n");
    let b = bytes();
    assert_eq!(b.len(), 20);
    assert_eq!(b[0..4], [0x40, 0, 0, 0]);
    assert_eq!(u32::from_be_bytes([b[8], b[9], b[10], b[11]]) % 1000, 500);
    assert_eq!(b[12..16], pid.to_le_bytes());
    assert_eq!(b[16..20], [0, b'u', 0, 1]);

    control(&svc, "p");
    wait_stat(&svc, "run, paused\n", DEADLINE);
    wait_for("run stopped", DEADLINE, || proc_state(pid) == Some('T'));
    wait_status_tail(&svc, [pid.to_le_bytes(), [1, b'u', 0, 1]].concat());

    // The paused flag survives going down (runsv clears it only on `c` or a start).
    control(&svc, "d");
    wait_stat(&svc, "down, paused\n", DEADLINE);
    assert_eq!(read(&svc.join("supervise/pid")), "");
    wait_status_tail(&svc, vec![0, 0, 0, 0, 1, b'd', 0, 0]);
    assert!(!pid_alive(pid));
    control(&svc, "c");
    wait_stat(&svc, "down\n", DEADLINE);
    wait_status_tail(&svc, vec![0, 0, 0, 0, 0, b'd', 0, 0]);

    control(&svc, "p");
    wait_stat(&svc, "down, paused\n", DEADLINE);
    control(&svc, "u");
    let new = wait_new_pid(&svc, pid, DEADLINE);
    assert_eq!(stat(&svc), "run\n", "a start clears the paused flag");
    assert_eq!(read(&svc.join("supervise/pid")), format!("{new}\n"));
    wait_status_tail(&svc, [new.to_le_bytes(), [0, b'u', 0, 1]].concat());
}

// ---------------------------------------------------------------------------------------------
// The loop sleeps

#[test]
fn idle_supervise_never_wakes() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    sc.script("web/log/run", "#!/bin/sh\nexec cat\n");
    let sup = spawn_supervise(&sc, "web");
    wait_running(&svc);
    wait_running(&svc.join("log"));
    let switches = || {
        let n = |k| proc_status(sup.pid(), k).parse::<u64>().unwrap();
        n("voluntary_ctxt_switches") + n("nonvoluntary_ctxt_switches")
    };
    std::thread::sleep(Duration::from_millis(200));
    let before = switches();
    let t0 = Instant::now();
    // The one long "nothing happens" interval of this module: a periodic timer of up to 2 s
    // would show here.
    std::thread::sleep(Duration::from_secs(2));
    assert!(t0.elapsed() >= Duration::from_secs(2));
    assert_eq!(switches(), before, "supervise woke up while idle");
}
