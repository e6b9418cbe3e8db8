//! herd's own: the warnings about `notification-fd`, where herd differs from s6 (descriptors 0
//! to 2, blanks), `supervise/ready` through a run's life and runit's files beside it.

use super::*;

/// `supervise svc` with `notification-fd` holding `fd` and a run that probes descriptor 3 (and
/// says what its stdout is): waits for the probe, holds [`QUIET`], and returns stderr.
fn bad_fd_stderr(fd: &str) -> (String, String) {
    let sc = Scenario::new();
    let mark = marker(4243);
    let svc = sc.service(
        "svc",
        &format!(
            "{PROLOGUE}t=$(readlink /proc/$$/fd/1)\necho \"$t\" > stdout.target\n{PROBE_FD3}exec sleep {mark}\n"
        ),
    );
    fs::write(svc.join("notification-fd"), fd).unwrap();
    let mut sup = spawn_supervise(&sc, "svc");
    wait_for("the probe", DEADLINE, || {
        read(&svc.join("fd3")).ends_with('\n')
    });
    std::thread::sleep(QUIET);
    assert!(!NotifyFlavor::Herd.is_ready(&svc), "ready with {fd:?}");
    assert_eq!(
        read(&svc.join("supervise/ready")),
        format!("up {}\n", pid_file(&svc))
    );
    let probe = format!(
        "{}stdout: {}",
        read(&svc.join("fd3")),
        read(&svc.join("stdout.target"))
    );
    control(&svc, "x");
    assert_eq!(sup.wait(DEADLINE), Some(0));
    (stderr_of(&sc, "svc"), probe)
}

#[test]
fn bad_notification_fd_is_one_warning_per_start() {
    // The soft limit supervise inherits from this process.
    let limits = read(Path::new("/proc/self/limits"));
    let limit: u64 = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap();
    let devnull = "/dev/null\n";
    for (fd, why) in [
        (
            "abc\n",
            "invalid notification-fd: not a number: abc".to_string(),
        ),
        ("", "invalid notification-fd: empty".to_string()),
        (
            "99999999999",
            "invalid notification-fd: out of range: 99999999999".to_string(),
        ),
        (
            "0\n",
            "invalid notification-fd: 0: must be 3 or more".to_string(),
        ),
        (
            "1\n",
            "invalid notification-fd: 1: must be 3 or more".to_string(),
        ),
        (
            "2\n",
            "invalid notification-fd: 2: must be 3 or more".to_string(),
        ),
        (
            "2147483647\n",
            format!("invalid notification-fd: 2147483647: not below the descriptor limit {limit}"),
        ),
    ] {
        let (err, probe) = bad_fd_stderr(fd);
        assert_eq!(
            err,
            format!("supervise svc: warning: {why}: {NOT_READY}\n"),
            "{fd:?}"
        );
        // Descriptors 0 to 2 stay the service's own (s6 would give it the pipe as stdout).
        assert_eq!(probe, format!("closed\nstdout: {devnull}"), "{fd:?}");
    }
}

#[test]
fn notification_fd_directory_cannot_be_read() {
    let sc = Scenario::new();
    let svc = sc.service("svc", "#!/bin/sh\nexec sleep 1000\n");
    fs::create_dir(svc.join("notification-fd")).unwrap();
    let mut sup = spawn_supervise(&sc, "svc");
    let pid = wait_running(&svc);
    wait_for("the warning", DEADLINE, || {
        stderr_of(&sc, "svc").ends_with('\n')
    });
    // Once per start: a restart says it again.
    control(&svc, "t");
    wait_new_pid(&svc, pid, DEADLINE);
    let line = format!(
        "supervise svc: warning: unable to read notification-fd: is a directory: {NOT_READY}\n"
    );
    wait_eq("two warnings", line.repeat(2), DEADLINE, || {
        stderr_of(&sc, "svc")
    });
    exit_and_wait(&mut sup, &svc);
}

/// herd reads `notification-fd` as its other one-value files: blanks around the number are
/// allowed (s6 refuses ` 3 `, and that service is never ready).
#[test]
fn notification_fd_may_have_blanks() {
    let sc = Scenario::new();
    let svc = sc.service("svc", "#!/bin/sh\nprintf '\\n' >&3\nexec sleep 1000\n");
    fs::write(svc.join("notification-fd"), " 3 \r\n").unwrap();
    let mut sup = spawn_supervise(&sc, "svc");
    wait_for("ready", DEADLINE, || NotifyFlavor::Herd.is_ready(&svc));
    assert_eq!(stderr_of(&sc, "svc"), "");
    exit_and_wait(&mut sup, &svc);
}

#[test]
fn ready_file_follows_the_run_and_runits_files_do_not_change() {
    let sc = Scenario::new();
    let svc = sc.service(
        "svc",
        "#!/bin/sh\ntouch reached\nread _ < go\nprintf '\\n' >&3\nexec sleep 1000\n",
    );
    fs::write(svc.join("notification-fd"), "3\n").unwrap();
    nix::unistd::mkfifo(
        &svc.join("go"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let mut sup = spawn_supervise(&sc, "svc");
    let pid = wait_running(&svc);
    wait_for("the run waits", DEADLINE, || svc.join("reached").exists());
    assert_eq!(read(&svc.join("supervise/ready")), format!("up {pid}\n"));
    let files =
        || ["status", "stat", "pid"].map(|f| fs::read(svc.join("supervise").join(f)).unwrap());
    let before = files();
    assert_eq!(before[1], b"run\n");
    let mut go = fs::OpenOptions::new()
        .write(true)
        .open(svc.join("go"))
        .unwrap();
    go.write_all(b"\n").unwrap();
    drop(go);
    wait_for("ready", DEADLINE, || {
        read(&svc.join("supervise/ready")).starts_with("ready")
    });
    assert_eq!(ready_line_pid(&svc), pid);
    // runit's three files are the bytes they were: readiness is not a change of state.
    assert_eq!(files(), before);
    // Down: readiness resets, before the status says down.
    control(&svc, "d");
    wait_stat(&svc, "down\n", DEADLINE);
    assert_eq!(read(&svc.join("supervise/ready")), "down\n");
    assert!(!NotifyFlavor::Herd.is_ready(&svc));
    exit_and_wait(&mut sup, &svc);
    assert_eq!(read(&svc.join("supervise/ready")), "down\n");
}

#[test]
fn stale_ready_file_of_a_plain_service_is_removed() {
    let sc = Scenario::new();
    let svc = sc.service("svc", RUN_SLEEP);
    fs::create_dir(svc.join("supervise")).unwrap();
    fs::write(
        svc.join("supervise/ready"),
        "ready 1 @400000006b1595c80d1b04c4\n",
    )
    .unwrap();
    let mut sup = spawn_supervise(&sc, "svc");
    wait_running(&svc);
    assert!(
        !svc.join("supervise/ready").exists(),
        "stale ready file kept"
    );
    assert!(
        NotifyFlavor::Herd.is_ready(&svc),
        "a plain service is ready when up"
    );
    exit_and_wait(&mut sup, &svc);
    assert_eq!(stderr_of(&sc, "svc"), "");
}

#[test]
fn ready_file_says_down_from_the_start_for_a_service_wanted_down() {
    let sc = Scenario::new();
    let svc = sc.service("svc", RUN_SLEEP);
    fs::write(svc.join("notification-fd"), "3\n").unwrap();
    fs::write(svc.join("down"), "").unwrap();
    let mut sup = spawn_supervise(&sc, "svc");
    wait_stat(&svc, "down\n", DEADLINE);
    wait_eq("ready file", "down\n".to_string(), DEADLINE, || {
        read(&svc.join("supervise/ready"))
    });
    exit_and_wait(&mut sup, &svc);
}
