//! supervise under faults of the system (issue 14, item 4; docs/reliability.md, "Faults"): fork
//! failing, a full descriptor table, a full file system under `supervise/`, the service
//! directory removed or renamed, `supervise/control` and `ok` replaced by regular files,
//! SIGSTOP/SIGCONT, and SIGKILL over and over. Each test is a row of the table there.
//!
//! Limits are set with `prlimit`; fork failure needs an unprivileged user (root is not held to
//! RLIMIT_NPROC), and the tests run as root, so supervise runs there through `setpriv` as a uid
//! of its own ([`own_uid`]), which is also the only user allowed to lift the limit again
//! (`prlimit --pid` on another user's process needs CAP_SYS_RESOURCE). The full file system is
//! a small tmpfs mounted on `supervise/` in a private mount namespace (`unshare --mount`) that
//! dies with supervise and its service; the test reaches it through `/proc/PID/root`.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{chown, FileTypeExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herd_testsupport::*;

use super::{marker, read, spawn_supervise, spawn_with_stderr, stat, stderr_of, wait_stat};

/// How many times the SIGKILL tests kill a supervise.
const KILLS: u32 = 100;
/// How many retries the tests that watch supervise retry a failing step count.
const RETRIES: usize = 3;
/// The CPU time supervise may use while it retries [`RETRIES`] times (once a second): a busy
/// loop would use about as much as the time that passed.
const RETRY_CPU: Duration = Duration::from_millis(100);

/// A uid no other process uses (RLIMIT_NPROC counts the processes of the user): one per test
/// process and `n`.
fn own_uid(n: u32) -> u32 {
    3_000_000 + (std::process::id() % 100_000) * 10 + n
}

/// Makes `uid` the owner of `dir` and everything in it.
fn chown_tree(dir: &Path, uid: u32) {
    chown(dir, Some(uid), Some(uid)).unwrap();
    for e in fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            chown_tree(&e.path(), uid);
        } else {
            chown(e.path(), Some(uid), Some(uid)).unwrap();
        }
    }
}

/// `setpriv` arguments that run a program as `uid` (its own group, no other groups).
fn as_user(uid: u32) -> Command {
    let mut c = Command::new("setpriv");
    let id = uid.to_string();
    c.args(["--reuid", &id, "--regid", &id, "--clear-groups"]);
    c
}

/// Runs `c` to completion (bounded) and asserts it succeeded.
#[track_caller]
pub(super) fn succeed(mut c: Command) {
    let what = format!("{c:?}");
    let mut child = c.stdin(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "{what} did not finish");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "{what}: {status}");
}

/// The soft and hard limits of `pid` on the line `name` of `/proc/PID/limits`.
fn limits(pid: u32, name: &str) -> (String, String) {
    let text = read(Path::new(&format!("/proc/{pid}/limits")));
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/limits"));
    let mut words = line.split_ascii_whitespace();
    (
        words.next().unwrap().to_string(),
        words.next().unwrap().to_string(),
    )
}

/// The lowest descriptor number `pid` does not have open: with its soft RLIMIT_NOFILE set to
/// that, every `open`, `pipe` or `dup` it makes fails with EMFILE.
fn lowest_free_fd(pid: u32) -> u32 {
    let open: BTreeSet<u32> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|n| !open.contains(n)).unwrap()
}

/// The lines of `text`, each checked to be `line` exactly; returns how many there are.
#[track_caller]
fn count_lines(text: &str, line: &str) -> usize {
    count_lines_among(text, line, &[])
}

/// The lines of `text` that are `line`, each other line checked to be one of `also`.
#[track_caller]
fn count_lines_among(text: &str, line: &str, also: &[&str]) -> usize {
    for l in text.lines() {
        assert!(
            l == line || also.contains(&l),
            "unexpected line {l:?} in:\n{text}"
        );
    }
    text.lines().filter(|&l| l == line).count()
}

/// Waits until [`RETRIES`] more `line`s come on supervise's stderr (each must be `line`), and
/// checks that they came no faster than once a second and that supervise did not spin meanwhile.
#[track_caller]
fn retries_without_spinning(sc: &Scenario, sup: u32, line: &str, also: &[&str]) {
    let n0 = count_lines_among(&stderr_of(sc, "web"), line, also);
    let (t0, cpu0) = (Instant::now(), proc_cpu_time(sup).unwrap());
    wait_for(
        &format!("{RETRIES} more lines {line:?}"),
        Duration::from_secs(3 * RETRIES as u64),
        || count_lines_among(&stderr_of(sc, "web"), line, also) >= n0 + RETRIES,
    );
    let (elapsed, cpu) = (t0.elapsed(), proc_cpu_time(sup).unwrap() - cpu0);
    eprintln!("{RETRIES} retries in {elapsed:?}, {cpu:?} of CPU");
    // The first of them may come at once (it was due when we started to count).
    let at_least = Duration::from_secs(RETRIES as u64 - 1) - Duration::from_millis(100);
    assert!(
        elapsed >= at_least,
        "{RETRIES} retries in {elapsed:?}: more often than once a second"
    );
    assert!(
        cpu <= RETRY_CPU,
        "supervise used {cpu:?} of CPU in {elapsed:?}"
    );
}

/// The pid a service's `supervise/instance` names (`PID STARTTIME`).
fn instance_pid(dir: &Path) -> Option<u32> {
    read(&dir.join("supervise/instance"))
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Waits until `argv` runs exactly once, as a pid other than `old` (whatever the status says:
/// it may not be writable).
#[track_caller]
fn wait_new_instance(argv: &[&str], old: u32) -> u32 {
    wait_until(
        &format!("one {argv:?} other than {old}"),
        DEADLINE,
        || match pids_with_cmdline(argv)[..] {
            [p] if p != old => Some(p),
            _ => None,
        },
    )
}

/// Waits until the status, `stat`, `pid` and `instance` of `dir` all say that `pid` runs.
#[track_caller]
fn wait_published(dir: &Path, pid: u32) {
    wait_for(
        &format!("{}'s status files to say pid {pid} runs", dir.display()),
        DEADLINE,
        || {
            status(dir).is_some_and(|s| {
                s.state == State::Run && s.pid.map(|p| p.get()) == Some(pid) && !s.paused
            }) && stat(dir) == "run\n"
                && read(&dir.join("supervise/pid")) == format!("{pid}\n")
                && instance_pid(dir) == Some(pid)
        },
    );
}

// ---------------------------------------------------------------------------------------------
// fork fails

#[test]
fn fork_failure_is_said_and_retried_once_a_second_until_the_process_limit_is_lifted() {
    let sc = Scenario::new();
    let m = marker(1401);
    let argv = ["sleep", m.as_str()];
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    let uid = own_uid(1);
    chown_tree(&svc, uid);
    // One process for the user: supervise itself. setpriv and prlimit exec, so the pid is
    // supervise's.
    let mut c = as_user(uid);
    c.args(["prlimit", "--nproc=1:"])
        .arg(bin("supervise"))
        .arg("web")
        .current_dir(sc.path());
    let sup = spawn_with_stderr(&sc, "web", c);
    let line = "supervise web: warning: unable to fork: temporary failure";
    wait_for("the first fork failure", DEADLINE, || {
        count_lines(&stderr_of(&sc, "web"), line) >= 1
    });
    assert_eq!(proc_cmdline(sup.pid()).unwrap()[1..], ["web"]);
    retries_without_spinning(&sc, sup.pid(), line, &[]);
    assert_eq!(stat(&svc), "down\n");
    assert_eq!(status(&svc).map(|s| s.want), Some(Want::Up));
    assert_eq!(pids_with_cmdline(&argv), Vec::<u32>::new());

    // Lifted by the user itself: soft limit up to the hard one.
    let (_, hard) = limits(sup.pid(), "Max processes");
    let mut lift = as_user(uid);
    lift.args(["prlimit", "--pid", &sup.pid().to_string()])
        .arg(format!("--nproc={hard}:"));
    succeed(lift);
    let pid = wait_running(&svc);
    wait_for("exactly one instance", DEADLINE, || {
        pids_with_cmdline(&argv) == [pid]
    });
    let said = stderr_of(&sc, "web");
    std::thread::sleep(QUIET);
    assert_eq!(stderr_of(&sc, "web"), said, "warnings after the recovery");
    count_lines(&said, line);
}

#[test]
fn finish_whose_fork_failed_runs_later_with_runs_exit_before_run_starts_again() {
    let sc = Scenario::new();
    let m = marker(1402);
    let argv = ["sleep", m.as_str()];
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    sc.script("web/finish", "#!/bin/sh\necho \"$1 $2\" >> finished\n");
    let uid = own_uid(2);
    chown_tree(&svc, uid);
    let mut c = as_user(uid);
    c.args(["prlimit", "--nproc=2:"])
        .arg(bin("supervise"))
        .arg("web")
        .current_dir(sc.path());
    let _sup = spawn_with_stderr(&sc, "web", c);
    let old = wait_running(&svc);
    wait_for("run to exec", DEADLINE, || {
        pids_with_cmdline(&argv) == [old]
    });
    // A third process of the user (started by root, which the limit does not stop): once run
    // has exited, supervise and this are two, and the fork of finish fails.
    let held = marker(1403);
    let mut hold = as_user(uid);
    hold.args(["sleep", &held]);
    let mut holder = Proc::spawn(hold);
    // Once it runs sleep, setpriv has made it the user's.
    wait_for("the holder to run as the user", DEADLINE, || {
        pids_with_cmdline(&["sleep", &held]) == [holder.pid()]
    });
    signal(old, libc::SIGKILL);
    let line = "supervise web: warning: unable to fork: temporary failure";
    wait_for("finish's fork to fail twice", DEADLINE, || {
        count_lines(&stderr_of(&sc, "web"), line) >= 2
    });
    // State finish with no pid; run is not started before finish has run.
    assert_eq!(stat(&svc), "finish\n");
    assert_eq!(read(&svc.join("supervise/pid")), "");
    assert_eq!(read(&svc.join("finished")), "");
    assert_eq!(pids_with_cmdline(&argv), Vec::<u32>::new());

    signal(holder.pid(), libc::SIGKILL);
    holder.wait(DEADLINE);
    let new = wait_new_instance(&argv, old);
    assert_eq!(read(&svc.join("finished")), "-1 9\n");
    wait_published(&svc, new);
}

// ---------------------------------------------------------------------------------------------
// EMFILE

#[test]
fn full_descriptor_table_keeps_supervising_retries_the_status_and_catches_up() {
    let sc = Scenario::new();
    let m = marker(1404);
    let argv = ["sleep", m.as_str()];
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    let finished = sc.join("finished");
    sc.script(
        "web/finish",
        &format!("#!/bin/sh\necho \"$1 $2\" >> {}\n", finished.display()),
    );
    // With a logger supervise holds 14 descriptors (0 to 13, more if the test runner left some
    // open), enough that its children, which inherit its limit, can still run a shell script: sh
    // moves the script's descriptor to 10, and finish's `>>` saves stdout at 11.
    sc.script("web/log/run", "#!/bin/sh\nexec cat > /dev/null\n");
    let sup = spawn_supervise(&sc, "web");
    let old = wait_running(&svc);
    wait_running(&svc.join("log"));
    wait_for("run to exec", DEADLINE, || {
        pids_with_cmdline(&argv) == [old]
    });
    let low = lowest_free_fd(sup.pid());
    assert!(low >= 12, "supervise has only {low} descriptors");
    let mut c = Command::new("prlimit");
    c.args(["--pid", &sup.pid().to_string(), &format!("--nofile={low}:")]);
    succeed(c);

    signal(old, libc::SIGKILL);
    // Supervision goes on: finish runs, run starts again.
    let new = wait_new_instance(&argv, old);
    wait_for("finish to have run", DEADLINE, || {
        read(&finished) == "-1 9\n"
    });
    let line =
        "supervise web: warning: unable to open supervise/pid.new: process cannot open more files";
    // `supervise/runs`, written after the status, fails the same way.
    let runs =
        "supervise web: warning: unable to open supervise/runs.new: process cannot open more files";
    retries_without_spinning(&sc, sup.pid(), line, &[runs]);
    // Nothing was written meanwhile: the files still say the old pid.
    assert_eq!(read(&svc.join("supervise/pid")), format!("{old}\n"));
    assert_eq!(stat(&svc), "run\n");

    let mut c = Command::new("prlimit");
    c.args(["--pid", &sup.pid().to_string(), "--nofile=1024:"]);
    succeed(c);
    wait_published(&svc, new);
    let said = stderr_of(&sc, "web");
    std::thread::sleep(QUIET);
    assert_eq!(stderr_of(&sc, "web"), said, "warnings after the recovery");
    assert_eq!(pids_with_cmdline(&argv), [new]);
}

// ---------------------------------------------------------------------------------------------
// ENOSPC

/// The tmpfs mounted on `supervise/`: small, so that filling it is quick.
const TMPFS_SIZE: &str = "64k";

/// Asserts that every status file of `dir` is whole: `status` 20 bytes that decode, `stat` one
/// line, `pid` empty or a pid and a newline, `instance` a pid and a start time. Whether each is
/// the previous version or the new one, nothing is ever cut short (runsv leaves `stat` and `pid`
/// empty when the disk is full).
#[track_caller]
fn assert_whole(dir: &Path) {
    let sup = dir.join("supervise");
    let bytes = fs::read(sup.join("status")).unwrap();
    assert_eq!(bytes.len(), 20, "status: {bytes:?}");
    assert!(Status::decode(&bytes).is_ok(), "status: {bytes:?}");
    let st = read(&sup.join("stat"));
    assert!(
        st.ends_with('\n') && st.len() > 1 && st.lines().count() == 1,
        "stat: {st:?}"
    );
    let pid = read(&sup.join("pid"));
    assert!(
        pid.is_empty()
            || pid
                .strip_suffix('\n')
                .is_some_and(|p| p.parse::<u32>().is_ok()),
        "pid: {pid:?}"
    );
    let inst = read(&sup.join("instance"));
    let words: Vec<&str> = inst.split_ascii_whitespace().collect();
    assert!(
        inst.ends_with('\n') && words.len() == 2 && words.iter().all(|w| w.parse::<u64>().is_ok()),
        "instance: {inst:?}"
    );
    let runs = fs::read(sup.join("runs")).unwrap();
    assert!(
        herd_status::Runs::decode(&runs).is_some(),
        "runs: {:?}",
        String::from_utf8_lossy(&runs)
    );
}

/// One of the warnings a write on a full file system gives.
fn is_enospc_warning(line: &str) -> bool {
    ["pid", "stat", "status", "instance", "runs"]
        .iter()
        .any(|f| {
            line == format!(
                "supervise web: warning: unable to write supervise/{f}.new: out of disk space"
            )
        })
}

#[test]
fn full_file_system_keeps_supervising_never_cuts_a_status_file_and_catches_up() {
    let sc = Scenario::new();
    let m = marker(1405);
    let argv = ["sleep", m.as_str()];
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    fs::create_dir(svc.join("supervise")).unwrap();
    // supervise in a mount namespace of its own, with a tmpfs on supervise/ (unshare and sh
    // exec, so the pid is supervise's); the namespace goes when supervise and run are gone.
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "/bin/sh", "-c"])
        .arg(format!(
            "mount -t tmpfs -o size={TMPFS_SIZE},mode=0700 herd-test web/supervise && exec {} web",
            bin("supervise").display()
        ))
        .current_dir(sc.path());
    let sup = spawn_with_stderr(&sc, "web", c);
    // The service directory as supervise sees it, tmpfs included.
    let view = PathBuf::from(format!("/proc/{}/root{}", sup.pid(), svc.display()));
    let old = wait_running(&view);
    wait_for("run to exec", DEADLINE, || {
        pids_with_cmdline(&argv) == [old]
    });
    wait_published(&view, old);

    // Fill it up.
    let mut fill = File::create(view.join("supervise/fill")).unwrap();
    let full = loop {
        if let Err(e) = fill.write_all(&[0; 4096]) {
            break e;
        }
    };
    assert_eq!(full.raw_os_error(), Some(libc::ENOSPC), "{full}");
    drop(fill);

    // Supervision goes on: a killed run is started again, and `t` restarts it. Every file is
    // whole at every look.
    signal(old, libc::SIGKILL);
    let new = wait_until("a new instance", DEADLINE, || {
        assert_whole(&view);
        match pids_with_cmdline(&argv)[..] {
            [p] if p != old => Some(p),
            _ => None,
        }
    });
    control(&view, "t");
    let newer = wait_until("another new instance", DEADLINE, || {
        assert_whole(&view);
        match pids_with_cmdline(&argv)[..] {
            [p] if p != new => Some(p),
            _ => None,
        }
    });
    // Written again once a second, and failing again.
    let warnings = || {
        let err = stderr_of(&sc, "web");
        for l in err.lines() {
            assert!(is_enospc_warning(l), "{l:?} in\n{err}");
        }
        err.lines().count()
    };
    let n = warnings();
    assert!(n >= 1, "no warning");
    wait_for("a retry", DEADLINE, || {
        assert_whole(&view);
        warnings() > n
    });
    // No .new is left behind.
    let mut names: Vec<String> = fs::read_dir(view.join("supervise"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["control", "fill", "instance", "lock", "ok", "pid", "runs", "stat", "status"]
    );
    assert_ne!(
        status(&view).and_then(|s| s.pid).map(|p| p.get()),
        Some(newer),
        "the status was written on a full file system"
    );

    // Space comes back: within a retry the files say what runs.
    fs::remove_file(view.join("supervise/fill")).unwrap();
    wait_published(&view, newer);
    assert_eq!(pids_with_cmdline(&argv), [newer]);
    let n = warnings();
    std::thread::sleep(QUIET);
    assert_eq!(warnings(), n, "warnings after the recovery");
}

// ---------------------------------------------------------------------------------------------
// The service directory removed or renamed

#[test]
fn removed_service_directory_ends_supervise_at_the_next_exit_with_one_line() {
    let sc = Scenario::new();
    let m = marker(1406);
    let run_argv = ["sleep", m.as_str()];
    let name = format!("logger-{}", std::process::id());
    // The logger's shell marks when it has started (dash reads its cwd first): only then is the
    // directory removed.
    let ready = sc.join("logger.ready");
    let body = format!(": > {}; while read -r l; do :; done", ready.display());
    let log_argv = ["/bin/sh", "-c", body.as_str(), &name];
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    sc.script(
        "web/log/run",
        &format!("#!/bin/sh\nexec /bin/sh -c '{body}' {name}\n"),
    );
    let mut sup = spawn_supervise(&sc, "web");
    let old = wait_running(&svc);
    let logger = wait_running(&svc.join("log"));
    wait_for("run and log to exec", DEADLINE, || {
        pids_with_cmdline(&run_argv) == [old]
            && pids_with_cmdline(&log_argv) == [logger]
            && ready.exists()
    });
    fs::remove_dir_all(&svc).unwrap();
    // Nothing to do until something happens: the service runs on.
    std::thread::sleep(QUIET);
    assert!(sup.alive());
    assert_eq!(pids_with_cmdline(&run_argv), [old]);
    assert_eq!(stderr_of(&sc, "web"), "");

    // The service exits: nothing can start again. supervise stops the logger (EOF) and exits 0
    // instead of failing to start ./run once a second, as runsv does.
    signal(old, libc::SIGKILL);
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert_eq!(pids_with_cmdline(&run_argv), Vec::<u32>::new());
    assert_eq!(pids_with_cmdline(&log_argv), Vec::<u32>::new());
    assert_eq!(
        stderr_of(&sc, "web"),
        "supervise web: warning: service directory removed: exiting\n"
    );
}

#[test]
fn removed_service_directory_and_sigterm_stop_the_service_and_exit_0() {
    let sc = Scenario::new();
    let m = marker(1407);
    let argv = ["sleep", m.as_str()];
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    let mut sup = spawn_supervise(&sc, "web");
    let old = wait_running(&svc);
    wait_for("run to exec", DEADLINE, || {
        pids_with_cmdline(&argv) == [old]
    });
    fs::remove_dir_all(&svc).unwrap();
    sup.signal(libc::SIGTERM);
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert_eq!(pids_with_cmdline(&argv), Vec::<u32>::new());
    assert_eq!(
        stderr_of(&sc, "web"),
        "supervise web: warning: service directory removed: exiting\n"
    );
}

#[test]
fn renamed_service_directory_is_supervised_as_before_under_its_new_name() {
    let sc = Scenario::new();
    let m = marker(1408);
    let argv = ["sleep", m.as_str()];
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    let _sup = spawn_supervise(&sc, "web");
    let old = wait_running(&svc);
    let moved = sc.join("elsewhere/web2");
    fs::create_dir(sc.join("elsewhere")).unwrap();
    fs::rename(&svc, &moved).unwrap();
    signal(old, libc::SIGKILL);
    let new = wait_new_instance(&argv, old);
    wait_published(&moved, new);
    sc.cmd(bin("sv"))
        .args(["down", "./elsewhere/web2"])
        .run()
        .code(0);
    wait_stat(&moved, "down\n", DEADLINE);
    assert_eq!(pids_with_cmdline(&argv), Vec::<u32>::new());
    assert_eq!(stderr_of(&sc, "web"), "");
}

// ---------------------------------------------------------------------------------------------
// control and ok replaced

fn is_fifo(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_fifo())
}

#[test]
fn control_replaced_by_a_regular_file_is_made_a_fifo_again() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let sup = spawn_supervise(&sc, "web");
    let pid = wait_running(&svc);
    let control = svc.join("supervise/control");
    fs::remove_file(&control).unwrap();
    // What `echo d > supervise/control` does once the FIFO is gone.
    fs::write(&control, "d\n").unwrap();
    // Nothing is watched between changes of state: still the regular file after a while.
    std::thread::sleep(QUIET);
    assert!(!is_fifo(&control));
    // The next change of state (the service dies and is started again) puts it back.
    signal(pid, libc::SIGKILL);
    wait_for("control to be a FIFO again", DEADLINE, || is_fifo(&control));
    let pid = wait_status(&svc, "a new instance", |s| {
        s.state == State::Run && s.pid.is_some_and(|p| p.get() != pid)
    })
    .pid
    .map_or(0, |p| p.get());
    sc.cmd(bin("sv"))
        .args(["-w", "3", "down", "./web"])
        .run()
        .code(0);
    wait_stat(&svc, "down\n", DEADLINE);
    assert!(!pid_alive(pid));
    let line = "supervise web: warning: supervise/control exists but is not a fifo: replacing it\n";
    assert_eq!(stderr_of(&sc, "web"), line);

    // An idle service: SIGIO asks supervise to look at once.
    fs::remove_file(&control).unwrap();
    fs::write(&control, "").unwrap();
    sup.signal(libc::SIGIO);
    wait_for("control to be a FIFO again", DEADLINE, || is_fifo(&control));
    assert_eq!(stderr_of(&sc, "web"), line.repeat(2));
    sc.cmd(bin("sv"))
        .args(["-w", "3", "up", "./web"])
        .run()
        .code(0);
}

#[test]
fn ok_replaced_by_a_regular_file_is_made_a_fifo_again_so_liveness_stays_true() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let mut sup = spawn_supervise(&sc, "web");
    wait_running(&svc);
    let ok = svc.join("supervise/ok");
    // Renamed over it this time.
    let tmp = svc.join("supervise/ok.tmp");
    fs::write(&tmp, "").unwrap();
    fs::rename(&tmp, &ok).unwrap();
    // Put back at the next change of state.
    sc.cmd(bin("sv"))
        .args(["-w", "3", "restart", "./web"])
        .run()
        .code(0);
    wait_for("ok to be a FIFO again", DEADLINE, || is_fifo(&ok));
    assert!(supervisor_alive(&svc));
    // Gone: a regular file would still open for writing and make sv take it for alive.
    sup.signal(libc::SIGTERM);
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert!(!supervisor_alive(&svc), "ok opens with no supervise");
    sc.cmd(bin("sv"))
        .args(["status", "./web"])
        .run()
        .code(1)
        .stdout("fail: ./web: runsv not running\n");
    let line = "supervise web: warning: supervise/ok exists but is not a fifo: replacing it\n";
    assert_eq!(stderr_of(&sc, "web"), line);

    // Found so at startup: replaced as well (runsv would hold the regular file open).
    fs::remove_file(&ok).unwrap();
    fs::write(&ok, "").unwrap();
    let mut sup = spawn_supervise(&sc, "web");
    wait_running(&svc);
    assert!(is_fifo(&ok));
    assert_eq!(stderr_of(&sc, "web"), line);
    sup.signal(libc::SIGTERM);
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert!(!supervisor_alive(&svc));
}

// ---------------------------------------------------------------------------------------------
// SIGSTOP and SIGCONT

#[test]
fn stopped_supervise_restarts_what_exited_and_handles_every_letter_after_sigcont() {
    let sc = Scenario::new();
    let record = sc.join("record");
    let mut run = String::from("#!/bin/sh\n");
    for sig in ["HUP", "ALRM", "INT", "USR1", "USR2"] {
        run.push_str(&format!(
            "trap 'echo {sig} >> {}' {sig}\n",
            record.display()
        ));
    }
    run.push_str(&format!(
        "echo ready >> {}\nwhile :; do sleep 0.05; done\n",
        record.display()
    ));
    let svc = sc.service("web", &run);
    let sup = spawn_supervise(&sc, "web");
    let old = wait_running(&svc);
    wait_for("the traps", DEADLINE, || read(&record) == "ready\n");

    // The service dies while supervise is stopped: it stays a zombie until SIGCONT.
    sup.signal(libc::SIGSTOP);
    wait_for("supervise stopped", DEADLINE, || {
        proc_state(sup.pid()) == Some('T')
    });
    signal(old, libc::SIGKILL);
    wait_for("the service to be a zombie", DEADLINE, || {
        proc_state(old) == Some('Z')
    });
    sup.signal(libc::SIGCONT);
    let new = wait_new_pid_or_panic(&svc, old);
    wait_for("the old one reaped", DEADLINE, || proc_state(old).is_none());
    wait_for("the traps", DEADLINE, || read(&record) == "ready\nready\n");

    // Letters written while it is stopped wait in the FIFO, and all are handled after SIGCONT.
    sup.signal(libc::SIGSTOP);
    wait_for("supervise stopped", DEADLINE, || {
        proc_state(sup.pid()) == Some('T')
    });
    control(&svc, "hai12");
    std::thread::sleep(QUIET);
    assert_eq!(read(&record), "ready\nready\n");
    sup.signal(libc::SIGCONT);
    wait_for("five traps", DEADLINE, || {
        read(&record).lines().count() == 7
    });
    let mut got: Vec<String> = read(&record).lines().skip(2).map(String::from).collect();
    // The shell runs the traps of signals pending together in its own order.
    got.sort();
    assert_eq!(got, ["ALRM", "HUP", "INT", "USR1", "USR2"]);
    assert_eq!(status(&svc).and_then(|s| s.pid).map(|p| p.get()), Some(new));
    assert_eq!(stderr_of(&sc, "web"), "");
}

/// Waits until the service runs with a pid other than `old`.
#[track_caller]
fn wait_new_pid_or_panic(dir: &Path, old: u32) -> u32 {
    wait_until("a new instance", DEADLINE, || {
        status(dir)
            .filter(|s| s.state == State::Run)
            .and_then(|s| s.pid)
            .map(|p| p.get())
            .filter(|&p| p != old)
    })
}

// ---------------------------------------------------------------------------------------------
// SIGKILL, over and over

/// The moment of the `i`-th kill after supervise was started: spread over 0–25 ms, which takes
/// in its startup, the stop of what its predecessor left, the fork of run and run's exec.
/// (A chosen moment for a fault, not a wait for something to happen.)
fn kill_delay(i: u32) -> Duration {
    Duration::from_micros(u64::from(i) * 7_919 % 25_000)
}

/// Returns as soon as `pid` has had `n` children (forked, exec'd or not), or has exited. Polls
/// without sleeping: the point is to come right after a fork.
fn wait_for_children(pid: u32, n: usize) {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let deadline = Instant::now() + DEADLINE;
    let mut seen = BTreeSet::new();
    while Instant::now() < deadline {
        let Ok(list) = fs::read_to_string(&path) else {
            return;
        };
        seen.extend(list.split_ascii_whitespace().map(String::from));
        if seen.len() >= n {
            return;
        }
    }
    panic!(
        "pid {pid} forked {} children within {DEADLINE:?}",
        seen.len()
    );
}

/// Lines a supervise killed at any moment may cause: its successor stops what it left, or finds
/// the lock still held for a moment by the child it was forking (the child holds a copy of the
/// lock's descriptor until it execs or exits).
fn allowed_after_kills(line: &str, name: &str) -> bool {
    let left =
        format!("supervise {name}: warning: stopping process left by a previous supervise: pid ");
    line.strip_prefix(&left)
        .is_some_and(|p| p.parse::<u32>().is_ok())
        || line
            == format!("supervise {name}: fatal: unable to lock supervise/lock: temporary failure")
}

/// The start time of `pid` (field 22 of `/proc/PID/stat`): with the pid, it names one process
/// even when pids are reused (they wrap quickly on a busy machine).
fn start_of(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = s.rfind(')')?;
    s[close + 1..]
        .split_ascii_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Asserts that no argv in `argvs` runs more than once; adds every process seen to `seen`.
#[track_caller]
fn at_most_one_each(argvs: &[Vec<&str>], seen: &mut BTreeSet<(u32, u64)>) {
    for argv in argvs {
        let pids = pids_with_cmdline(argv);
        assert!(pids.len() <= 1, "{argv:?} runs as {pids:?}");
        seen.extend(pids.into_iter().filter_map(|p| Some((p, start_of(p)?))));
    }
}

/// Whether the process seen as (pid, start time) is gone, not even a zombie.
fn gone((pid, start): (u32, u64)) -> bool {
    start_of(pid) != Some(start)
}

#[test]
fn supervise_killed_100_times_in_a_row_leaves_one_instance_and_no_zombie() {
    let sc = Scenario::new();
    let m = marker(1409);
    let name = format!("logger-{}", std::process::id());
    let body = "while read -r l; do :; done";
    let run_argv = vec!["sleep", m.as_str()];
    let log_argv = vec!["/bin/sh", "-c", body, name.as_str()];
    let svc = sc.service("web", &format!("#!/bin/sh\nexec sleep {m}\n"));
    let log = svc.join("log");
    sc.script(
        "web/log/run",
        &format!("#!/bin/sh\nexec /bin/sh -c '{body}' {name}\n"),
    );
    let stderr = sc.join("web.stderr");
    let spawn = || {
        let err = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr)
            .unwrap();
        let mut c = Command::new(bin("supervise"));
        c.arg("web")
            .current_dir(sc.path())
            .stdout(Stdio::null())
            .stderr(err);
        Proc::spawn(c)
    };
    let argvs = [run_argv.clone(), log_argv.clone()];
    let mut seen = BTreeSet::new();
    // Dropping a Proc kills its process group, which what a killed supervise left running is
    // still in (supervise never calls setsid): they are dropped only at the end.
    let mut killed = Vec::new();
    for i in 0..KILLS {
        let mut sup = spawn();
        // A third of the kills come at a moment spread over the startup, the others right after
        // the fork of the logger or of run: before the child has been recorded, if it can be.
        match i % 3 {
            0 => std::thread::sleep(kill_delay(i)),
            n => wait_for_children(sup.pid(), n as usize),
        }
        // Looking (a walk through /proc) takes milliseconds: only once it is dead.
        sup.signal(libc::SIGKILL);
        sup.wait(DEADLINE);
        at_most_one_each(&argvs, &mut seen);
        killed.push(sup);
    }

    let mut sup = spawn();
    let (run, logger) = wait_until("one service and one logger", DEADLINE, || {
        at_most_one_each(&argvs, &mut seen);
        let r = status(&svc).filter(|s| s.state == State::Run)?.pid?.get();
        let l = status(&log).filter(|s| s.state == State::Run)?.pid?.get();
        (pids_with_cmdline(&run_argv) == [r] && pids_with_cmdline(&log_argv) == [l])
            .then_some((r, l))
    });
    // Everything earlier is gone, zombies included (init reaps the orphans).
    wait_for(
        "no earlier instance left, not even a zombie",
        DEADLINE,
        || {
            seen.iter()
                .all(|&(p, st)| p == run || p == logger || gone((p, st)))
        },
    );
    control(&svc, "x");
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert_eq!(pids_with_cmdline(&run_argv), Vec::<u32>::new());
    assert_eq!(pids_with_cmdline(&log_argv), Vec::<u32>::new());
    let err = read(&stderr);
    for line in err.lines() {
        assert!(allowed_after_kills(line, "web"), "{line:?} in\n{err}");
    }
    eprintln!("{} instances seen, stderr:\n{err}", seen.len());
    drop(killed);
}

/// Services under svscan in the SIGKILL test: every round kills each one's supervise once, so
/// that [`KILLS`] kills take `KILLS / SERVICES` rounds of svscan's 1-second restart pause.
const SERVICES: u32 = 4;

#[test]
fn supervise_killed_100_times_under_svscan_leaves_one_instance_each_and_no_zombie() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    let names: Vec<String> = (0..SERVICES).map(|i| format!("s{i}")).collect();
    let markers: Vec<String> = (0..SERVICES).map(|i| marker(1410 + i)).collect();
    for (n, m) in names.iter().zip(&markers) {
        sc.service(
            &format!("scan/{n}"),
            &format!("#!/bin/sh\nexec sleep {m}\n"),
        );
    }
    let argvs: Vec<Vec<&str>> = markers.iter().map(|m| vec!["sleep", m.as_str()]).collect();
    let stderr = sc.join("svscan.stderr");
    let mut c = Command::new(bin("svscan"));
    c.arg(&scan)
        .current_dir(sc.path())
        .env_remove("SVSCAN_STOP_TIMEOUT")
        .stdout(Stdio::null())
        .stderr(File::create(&stderr).unwrap());
    let svscan = KillTree(Proc::spawn(c));
    // From svscan's own list of children: a walk through /proc would take milliseconds.
    let children = format!("/proc/{0}/task/{0}/children", svscan.0.pid());
    let supervise_of = |name: &str| {
        read(Path::new(&children))
            .split_ascii_whitespace()
            .filter_map(|p| p.parse().ok())
            .find(|&p| {
                proc_cmdline(p)
                    .is_some_and(|a| a.len() == 2 && a[0].ends_with("/supervise") && a[1] == name)
            })
    };
    let mut seen = BTreeSet::new();
    let mut killed: Vec<Option<u32>> = vec![None; names.len()];
    for round in 0..KILLS / SERVICES {
        for (i, name) in names.iter().enumerate() {
            // svscan starts a new one no sooner than 1 s after the previous start. Looked for
            // often, so that it is found before it forks.
            let deadline = Instant::now() + Duration::from_secs(3);
            let sup = loop {
                if let Some(p) = supervise_of(name).filter(|&p| Some(p) != killed[i]) {
                    break p;
                }
                assert!(Instant::now() < deadline, "no new supervise for {name}");
                std::thread::sleep(Duration::from_micros(200));
            };
            // As in the standalone test: at a moment of the startup, or right after the fork.
            let k = round * SERVICES + i as u32;
            match k % 2 {
                0 => std::thread::sleep(kill_delay(k)),
                _ => wait_for_children(sup, 1),
            }
            signal(sup, libc::SIGKILL);
            killed[i] = Some(sup);
            at_most_one_each(&argvs, &mut seen);
        }
    }

    let mut current = BTreeSet::new();
    for (i, (name, argv)) in names.iter().zip(&argvs).enumerate() {
        let dir = scan.join(name);
        // Run by a supervise that was not killed (one killed last may still be dying, and its
        // instance is stopped by the supervise svscan starts next).
        let pid = wait_until(&format!("{name} running once"), DEADLINE, || {
            at_most_one_each(&argvs, &mut seen);
            let p = status(&dir).filter(|s| s.state == State::Run)?.pid?.get();
            let sup = supervise_of(name).filter(|&s| Some(s) != killed[i])?;
            (pids_with_cmdline(argv) == [p] && proc_ppid(p) == Some(sup)).then_some(p)
        });
        current.insert(pid);
    }
    // svscan, the subreaper, reaped every orphan: no zombie among what was seen, none below it.
    let left = || -> Vec<(u32, u64)> {
        seen.iter()
            .copied()
            .filter(|&(p, st)| !current.contains(&p) && !gone((p, st)))
            .collect()
    };
    let deadline = Instant::now() + DEADLINE;
    while !left().is_empty() {
        assert!(
            Instant::now() < deadline,
            "earlier instances left: {:?}",
            left()
                .iter()
                .map(|&(p, _)| (p, proc_state(p), proc_ppid(p), proc_cmdline(p)))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    wait_for("no zombie child of svscan", DEADLINE, || {
        proc_children(svscan.0.pid())
            .iter()
            .all(|&p| proc_state(p) != Some('Z'))
    });
    let err = read(&stderr);
    for line in err.lines() {
        assert!(
            names.iter().any(|n| allowed_after_kills(line, n)),
            "{line:?} in\n{err}"
        );
    }
    eprintln!("{} instances seen", seen.len());
}

/// svscan, killed with every descendant on drop.
struct KillTree(Proc);

impl Drop for KillTree {
    fn drop(&mut self) {
        kill_tree(self.0.pid());
    }
}
