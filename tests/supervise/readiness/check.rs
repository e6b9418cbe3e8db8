//! Readiness by runit's `check` script, run by supervise after each start of `./run` until it
//! exits 0: at once, then after waits of 10 ms doubling to 1 s.

use super::*;

/// The tick of `date +%s%N`: nanoseconds since the epoch.
fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// `voluntary_ctxt_switches` of `pid`: how often it has gone to sleep, so woken.
fn wakeups(pid: u32) -> u64 {
    proc_status(pid, "voluntary_ctxt_switches").parse().unwrap()
}

/// A check that fails until `./run` has been up 1.5 s (it writes its start, in ns, to
/// `started`, whole: through a rename), counting its runs in `checks`.
const CHECK_AFTER_1_5_S: &str = "#!/bin/sh
echo run >> checks
start=$(cat started 2>/dev/null) || exit 1
[ $(( $(date +%s%N) - start )) -ge 1500000000 ]
";

#[test]
fn check_makes_ready_after_1_5_s_and_not_before() {
    let sc = Scenario::new();
    let svc = sc.service(
        "svc",
        "#!/bin/sh\ndate +%s%N > started.new\nmv started.new started\nexec sleep 1000\n",
    );
    sc.script("svc/check", CHECK_AFTER_1_5_S);
    let mut sup = spawn_supervise(&sc, "svc");
    let pid = wait_running(&svc);
    wait_for("the check runs", DEADLINE, || {
        !read(&svc.join("checks")).is_empty()
    });
    assert_eq!(read(&svc.join("supervise/ready")), format!("up {pid}\n"));
    let ready_at = wait_until("ready", DEADLINE, || {
        NotifyFlavor::Herd.is_ready(&svc).then(now_ns)
    });
    let started: u128 = read(&svc.join("started")).trim().parse().unwrap();
    let after = Duration::from_nanos((ready_at - started) as u64);
    assert_eq!(ready_line_pid(&svc), pid);
    // Checks at about 0, 10, 30, 70, 150, 310, 630 and 1270 ms fail; the next, 1 s later, is
    // the first that can pass.
    assert!(
        after >= Duration::from_millis(1500),
        "ready after {after:?}"
    );
    assert!(after < Duration::from_millis(2900), "ready after {after:?}");
    let runs = read(&svc.join("checks")).lines().count();
    assert!((8..=10).contains(&runs), "{runs} checks");
    // Ready: no more checks, and supervise sleeps (once it is back in its poll).
    wait_blocked_in(sup.pid(), libc::SYS_ppoll);
    let woken = wakeups(sup.pid());
    std::thread::sleep(QUIET);
    assert_eq!(wakeups(sup.pid()), woken, "supervise woke while idle");
    assert_eq!(read(&svc.join("checks")).lines().count(), runs);
    assert_eq!(stderr_of(&sc, "svc"), "");
    exit_and_wait(&mut sup, &svc);
}

/// `execve("check", {"./check"})` as runit's sv: a script's interpreter gets `check` as `$0`.
#[test]
fn check_runs_as_runits_sv_runs_it_with_stdout_on_dev_null() {
    let sc = Scenario::new();
    let svc = sc.service("svc", RUN_SLEEP);
    sc.script(
        "svc/check",
        "#!/bin/sh
io=$(readlink /proc/$$/fd/0 /proc/$$/fd/1)
{ echo \"$0 $#\"; pwd; echo \"$io\"; } > seen.new
mv seen.new seen
echo 'check says' >&2
",
    );
    let mut sup = spawn_supervise(&sc, "svc");
    wait_for("ready", DEADLINE, || NotifyFlavor::Herd.is_ready(&svc));
    assert_eq!(
        read(&svc.join("seen")),
        format!("check 0\n{}\n/dev/null\n/dev/null\n", svc.display())
    );
    assert_eq!(stderr_of(&sc, "svc"), "check says\n");
    exit_and_wait(&mut sup, &svc);
}

#[test]
fn check_that_cannot_run_is_one_warning_per_start() {
    for (mode, text, reason) in [
        (0o644, "#!/bin/sh\nexit 0\n", "access denied"),
        (0o755, "exit 0\n", "exec format error"),
    ] {
        let sc = Scenario::new();
        let svc = sc.service("svc", RUN_SLEEP);
        sc.file("svc/check", text, mode);
        let mut sup = spawn_supervise(&sc, "svc");
        let pid = wait_running(&svc);
        let line = format!("supervise svc: warning: unable to run ./check: {reason}\n");
        wait_eq("the warning", line.clone(), DEADLINE, || {
            stderr_of(&sc, "svc")
        });
        // Tried again and again (at most 1 s apart), said once: one more try, plus the shared
        // window.
        std::thread::sleep(Duration::from_secs(1) + QUIET);
        assert_eq!(stderr_of(&sc, "svc"), line);
        assert_eq!(read(&svc.join("supervise/ready")), format!("up {pid}\n"));
        control(&svc, "t");
        wait_new_pid(&svc, pid, DEADLINE);
        wait_eq("a warning per start", line.repeat(2), DEADLINE, || {
            stderr_of(&sc, "svc")
        });
        // Fixed: the next try finds it.
        fs::write(svc.join("check"), "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(svc.join("check"), fs::Permissions::from_mode(0o755)).unwrap();
        wait_for("ready once fixed", DEADLINE, || {
            NotifyFlavor::Herd.is_ready(&svc)
        });
        exit_and_wait(&mut sup, &svc);
    }
}

#[test]
fn run_ending_kills_a_check_still_running() {
    let sc = Scenario::new();
    let mark = marker(4244);
    let svc = sc.service("svc", RUN_SLEEP);
    // The check hangs in a child of its own: both must go.
    sc.script(
        "svc/check",
        &format!("#!/bin/sh\necho $$ >> checks\nsleep {mark}\nexit 0\n"),
    );
    let mut sup = spawn_supervise(&sc, "svc");
    let pid = wait_running(&svc);
    let check = wait_until("the check", DEADLINE, || {
        read(&svc.join("checks"))
            .lines()
            .next()?
            .parse::<u32>()
            .ok()
    });
    wait_for("the check's sleep", DEADLINE, || {
        !pids_with_cmdline(&["sleep", &mark]).is_empty()
    });
    control(&svc, "t");
    let new = wait_new_pid(&svc, pid, DEADLINE);
    wait_for("the old check gone", DEADLINE, || !pid_alive(check));
    // The new run's check is running its own sleep; only the old one's is gone.
    wait_for("the new check", DEADLINE, || {
        read(&svc.join("checks")).lines().count() == 2
    });
    wait_for("one sleep left", DEADLINE, || {
        pids_with_cmdline(&["sleep", &mark]).len() == 1
    });
    assert_eq!(read(&svc.join("supervise/ready")), format!("up {new}\n"));
    control(&svc, "d");
    wait_for("every check gone", DEADLINE, || {
        pids_with_cmdline(&["sleep", &mark]).is_empty()
    });
    assert_eq!(read(&svc.join("supervise/ready")), "down\n");
    exit_and_wait(&mut sup, &svc);
}

#[test]
fn notification_fd_comes_before_check() {
    let sc = Scenario::new();
    let svc = sc.service(
        "svc",
        "#!/bin/sh\ntouch reached\nread _ < go\nprintf '\\n' >&3\nexec sleep 1000\n",
    );
    sc.script("svc/check", "#!/bin/sh\necho ran >> checks\n");
    fs::write(svc.join("notification-fd"), "3\n").unwrap();
    nix::unistd::mkfifo(
        &svc.join("go"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let mut sup = spawn_supervise(&sc, "svc");
    wait_for("the run waits", DEADLINE, || svc.join("reached").exists());
    std::thread::sleep(QUIET);
    assert!(!NotifyFlavor::Herd.is_ready(&svc));
    let mut go = fs::OpenOptions::new()
        .write(true)
        .open(svc.join("go"))
        .unwrap();
    go.write_all(b"\n").unwrap();
    drop(go);
    wait_for("ready", DEADLINE, || NotifyFlavor::Herd.is_ready(&svc));
    assert!(!svc.join("checks").exists(), "check ran");
    exit_and_wait(&mut sup, &svc);
}
