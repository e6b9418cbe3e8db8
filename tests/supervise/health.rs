//! Health checks (docs/policy.md, "Health"): `./health` run while the service is up and ready,
//! `supervise/health`, the restart of an unhealthy service, the timeout, the start period, and
//! nothing at all for a service without `health`.

use super::*;

fn exit_and_wait(sup: &mut Proc, svc: &Path) {
    control(svc, "x");
    assert_eq!(sup.wait(DEADLINE), Some(0), "supervise's exit code");
}

/// `supervise/health` split into its words before the stamp, the stamp checked for shape
/// (`None` while the file is not there).
fn health(svc: &Path) -> Option<(String, herd_tai64n::Tai64n)> {
    let text = fs::read_to_string(svc.join("supervise/health")).ok()?;
    let (words, label) = text.strip_suffix('\n')?.rsplit_once(' ')?;
    let at = herd_tai64n::Tai64n::parse_label(label.as_bytes())?;
    Some((words.to_string(), at))
}

/// Nanoseconds since the epoch of a TAI64N stamp (as supervise writes them, from the system
/// clock).
fn unix_ns(t: herd_tai64n::Tai64n) -> u128 {
    u128::try_from(t.unix_secs()).unwrap() * 1_000_000_000 + u128::from(t.nanos)
}

/// `./run` writing its start (ns, whole: through a rename) before it sleeps.
const RUN_STAMPED: &str =
    "#!/bin/sh\ndate +%s%N > started.new\nmv started.new started\nexec sleep 1000\n";

/// A check passing while `./run` has been up less than `$1` ns… given as a file: `limit`.
/// It logs `PID pass|fail` (PID: the run's) to `checks`.
const HEALTH_UNTIL: &str = "#!/bin/sh
start=$(cat started) || exit 1
run=$(cat supervise/pid)
if [ $(( $(date +%s%N) - start )) -lt $(cat limit) ]; then echo \"$run pass\" >> checks; exit 0; fi
echo \"$run fail\" >> checks
exit 1
";

fn options(svc: &Path, interval: &str, timeout: &str, retries: &str, start: Option<&str>) {
    fs::write(svc.join("health-interval"), interval).unwrap();
    fs::write(svc.join("health-timeout"), timeout).unwrap();
    fs::write(svc.join("health-retries"), retries).unwrap();
    if let Some(s) = start {
        fs::write(svc.join("health-start-period"), s).unwrap();
    }
}

fn checks_of(svc: &Path, run: u32) -> Vec<String> {
    read(&svc.join("checks"))
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{run} ")).map(String::from))
        .collect()
}

#[test]
fn failing_after_2_s_is_unhealthy_after_retries_and_restarted() {
    let sc = Scenario::new();
    let svc = sc.service("svc", RUN_STAMPED);
    sc.script("svc/health", HEALTH_UNTIL);
    fs::write(svc.join("limit"), "2000000000").unwrap();
    options(&svc, "0.2\n", "1\n", "3\n", None);
    let mut sup = spawn_supervise(&sc, "svc");
    let pid = wait_running(&svc);
    let (words, _) = wait_until("healthy", DEADLINE, || {
        health(&svc).filter(|(w, _)| w.starts_with("healthy"))
    });
    assert_eq!(words, "healthy code 0");
    let new = wait_new_pid(&svc, pid, Duration::from_secs(10));
    // The old run: passes, then exactly 3 failures, the last of them the verdict.
    let old = checks_of(&svc, pid);
    let fails = old.iter().rev().take_while(|c| *c == "fail").count();
    assert_eq!(fails, 3, "{old:?}");
    assert!(old.len() >= 5, "{old:?}");
    assert!(old[..old.len() - 3].iter().all(|c| c == "pass"), "{old:?}");
    // The restart was a stop by TERM: the run's end is in supervise/runs.
    wait_eq(
        "runs",
        "runs 2 exit signal 15\n".to_string(),
        DEADLINE,
        || read(&svc.join("supervise/runs")),
    );
    // The new run starts over: healthy again.
    wait_for("the new run healthy", DEADLINE, || {
        checks_of(&svc, new).first().map(String::as_str) == Some("pass")
            && health(&svc).is_some_and(|(w, _)| w == "healthy code 0")
    });
    assert_eq!(stderr_of(&sc, "svc"), "");
    exit_and_wait(&mut sup, &svc);
    assert_eq!(
        health(&svc).map(|(w, _)| w),
        Some("none code 0".to_string())
    );
}

#[test]
fn hanging_check_is_killed_with_its_group_at_the_timeout_and_fails() {
    let sc = Scenario::new();
    let mark = marker(4601);
    let svc = sc.service("svc", RUN_SLEEP);
    sc.script(
        "svc/health",
        &format!("#!/bin/sh\necho \"$$ $(date +%s%N)\" >> checks\nsleep {mark}\nexit 0\n"),
    );
    options(&svc, "0.1\n", "0.5\n", "100\n", None);
    let mut sup = spawn_supervise(&sc, "svc");
    let pid = wait_running(&svc);
    let (check, began) = wait_until("the check", DEADLINE, || {
        let text = read(&svc.join("checks"));
        let (p, t) = text.lines().next()?.split_once(' ')?;
        Some((p.parse::<u32>().ok()?, t.parse::<u128>().ok()?))
    });
    let sleeps = wait_until("its sleep", DEADLINE, || {
        let v: Vec<u32> = pids_with_cmdline(&["sleep", &mark])
            .into_iter()
            .filter(|&p| pgid(p) == check)
            .collect();
        (!v.is_empty()).then_some(v)
    });
    let (words, at) = wait_until("timeout", DEADLINE, || {
        health(&svc).filter(|(w, _)| w.contains("timeout"))
    });
    // Still starting: a failure, and 1 of 100.
    assert_eq!(words, "starting timeout");
    // `began` is the check's own stamp, a few ms after supervise started it.
    let after = Duration::from_nanos((unix_ns(at) - began) as u64);
    assert!(
        after >= Duration::from_millis(450),
        "killed after {after:?}"
    );
    assert!(
        after < Duration::from_millis(2000),
        "killed after {after:?}"
    );
    // The check and its child: the whole group is gone.
    wait_for("the check gone", DEADLINE, || !pid_alive(check));
    wait_for("its sleep gone", DEADLINE, || {
        sleeps.iter().all(|&p| !pid_alive(p))
    });
    assert_eq!(stat(&svc), "run\n");
    assert_eq!(wait_running(&svc), pid, "not restarted");
    exit_and_wait(&mut sup, &svc);
    wait_for("every check gone", DEADLINE, || {
        pids_with_cmdline(&["sleep", &mark]).is_empty()
    });
}

#[test]
fn start_period_failures_do_not_count_and_a_pass_in_it_makes_healthy() {
    let sc = Scenario::new();
    let svc = sc.service("svc", RUN_STAMPED);
    // Fails for the first second, passes after: the inverse of HEALTH_UNTIL.
    sc.script(
        "svc/health",
        "#!/bin/sh
start=$(cat started) || exit 1
run=$(cat supervise/pid)
if [ $(( $(date +%s%N) - start )) -ge 1000000000 ]; then echo \"$run pass\" >> checks; exit 0; fi
echo \"$run fail\" >> checks
exit 1
",
    );
    // One failure would be enough to restart it, outside the 3 s start period.
    options(&svc, "0.2\n", "1\n", "1\n", Some("3\n"));
    let mut sup = spawn_supervise(&sc, "svc");
    let pid = wait_running(&svc);
    let (words, _) = wait_until("healthy", DEADLINE, || {
        health(&svc).filter(|(w, _)| w.starts_with("healthy"))
    });
    assert_eq!(words, "healthy code 0");
    let seen = checks_of(&svc, pid);
    assert!(seen.len() >= 3, "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("pass"));
    assert!(
        seen[..seen.len() - 1].iter().all(|c| c == "fail"),
        "{seen:?}"
    );
    assert_eq!(wait_running(&svc), pid, "not restarted");
    exit_and_wait(&mut sup, &svc);
}

#[test]
fn failures_during_the_start_period_file_missing_restart_at_once() {
    // The same service without the start period: its first failure (retries 1) restarts it.
    let sc = Scenario::new();
    let svc = sc.service("svc", RUN_STAMPED);
    sc.script("svc/health", "#!/bin/sh\nexit 3\n");
    options(&svc, "0.2\n", "1\n", "1\n", None);
    let mut sup = spawn_supervise(&sc, "svc");
    let pid = wait_running(&svc);
    wait_new_pid(&svc, pid, DEADLINE);
    exit_and_wait(&mut sup, &svc);
    assert_eq!(
        health(&svc).map(|(w, _)| w),
        Some("none code 3".to_string())
    );
}

#[test]
fn health_runs_from_the_service_directory_with_dev_null() {
    let sc = Scenario::new();
    let svc = sc.service("svc", RUN_SLEEP);
    sc.script(
        "svc/health",
        "#!/bin/sh
io=$(readlink /proc/$$/fd/0 /proc/$$/fd/1)
{ echo \"$0 $#\"; pwd; echo \"$io\"; } > seen.new
mv seen.new seen
echo 'health says' >&2
",
    );
    options(&svc, "0.1\n", "1\n", "3\n", None);
    let mut sup = spawn_supervise(&sc, "svc");
    wait_for("seen", DEADLINE, || svc.join("seen").exists());
    assert_eq!(
        read(&svc.join("seen")),
        format!("health 0\n{}\n/dev/null\n/dev/null\n", svc.display())
    );
    wait_for("healthy", DEADLINE, || {
        health(&svc).is_some_and(|(w, _)| w == "healthy code 0")
    });
    assert!(stderr_of(&sc, "svc").starts_with("health says\n"));
    exit_and_wait(&mut sup, &svc);
}

#[test]
fn bad_option_values_give_one_warning_each_and_the_default() {
    let sc = Scenario::new();
    let svc = sc.service("svc", RUN_SLEEP);
    sc.script("svc/health", "#!/bin/sh\nexit 0\n");
    options(&svc, "soon\n", "-1\n", "3x\n", Some("1e3\n"));
    let mut sup = spawn_supervise(&sc, "svc");
    wait_running(&svc);
    let want = "supervise svc: warning: invalid health-interval: soon: using 30s
supervise svc: warning: invalid health-timeout: -1: using 10s
supervise svc: warning: invalid health-retries: 3x: using 3
supervise svc: warning: invalid health-start-period: 1e3: using 0s
";
    wait_eq("the warnings", want.to_string(), DEADLINE, || {
        stderr_of(&sc, "svc")
    });
    // Checks every 30 s: the first is far off.
    wait_eq("starting", "starting\n".to_string(), DEADLINE, || {
        read(&svc.join("supervise/health"))
    });
    exit_and_wait(&mut sup, &svc);
}

#[test]
fn without_health_no_file_and_no_wakeups() {
    let sc = Scenario::new();
    let svc = sc.service("svc", RUN_SLEEP);
    // A stale file of an earlier configuration goes.
    fs::create_dir_all(svc.join("supervise")).unwrap();
    fs::write(svc.join("supervise/health"), "healthy\n").unwrap();
    // Option files without `health` do nothing.
    options(&svc, "0.01\n", "1\n", "1\n", None);
    let mut sup = spawn_supervise(&sc, "svc");
    wait_running(&svc);
    assert!(!svc.join("supervise/health").exists());
    wait_blocked_in(sup.pid(), libc::SYS_ppoll);
    let woken = proc_status(sup.pid(), "voluntary_ctxt_switches");
    std::thread::sleep(QUIET);
    assert_eq!(
        proc_status(sup.pid(), "voluntary_ctxt_switches"),
        woken,
        "supervise woke while idle"
    );
    assert_eq!(stderr_of(&sc, "svc"), "");
    exit_and_wait(&mut sup, &svc);
}

#[test]
fn unhealthy_stop_uses_the_down_signal_and_counts_as_failed_in_restart_limit() {
    let sc = Scenario::new();
    let mark = marker(4602);
    let svc = sc.service(
        "svc",
        &format!(
            "#!/bin/sh\nsleep {mark} &\ntrap 'kill $!; echo QUIT > got; exit 0' QUIT\ntouch trapped\nwait\n"
        ),
    );
    // Fails once the trap is set.
    sc.script(
        "svc/health",
        "#!/bin/sh\n[ -e trapped ] && exit 1\nexit 0\n",
    );
    options(&svc, "0.2\n", "1\n", "1\n", None);
    fs::write(svc.join("down-signal"), "QUIT\n").unwrap();
    fs::write(svc.join("restart-limit"), "1 60\n").unwrap();
    let mut sup = spawn_supervise(&sc, "svc");
    wait_running(&svc);
    // Exit 0 on QUIT, and still a failed run: restart-limit 1 gives up at once.
    wait_eq(
        "gave up",
        "runs 1 exit code 0 failed\n".to_string(),
        DEADLINE,
        || read(&svc.join("supervise/runs")),
    );
    assert_eq!(read(&svc.join("got")), "QUIT\n");
    assert_eq!(
        health(&svc).map(|(w, _)| w),
        Some("none code 1".to_string())
    );
    exit_and_wait(&mut sup, &svc);
}

#[test]
fn unhealthy_service_ignoring_the_signal_is_killed_at_timeout_kill() {
    let sc = Scenario::new();
    let mark = marker(4603);
    let svc = sc.service(
        "svc",
        &format!("#!/bin/sh\ntrap '' TERM\ntouch trapped\nexec sleep {mark}\n"),
    );
    sc.script(
        "svc/health",
        "#!/bin/sh\n[ -e trapped ] && exit 1\nexit 0\n",
    );
    options(&svc, "0.2\n", "1\n", "1\n", None);
    fs::write(svc.join("timeout-kill"), "300\n").unwrap();
    let mut sup = spawn_supervise(&sc, "svc");
    let pid = wait_running(&svc);
    wait_new_pid(&svc, pid, DEADLINE);
    let runs = wait_until("killed", DEADLINE, || {
        let r = read(&svc.join("supervise/runs"));
        r.ends_with(" exit signal 9\n").then_some(r)
    });
    assert!(runs.starts_with("runs "), "{runs}");
    assert!(!pid_alive(pid));
    exit_and_wait(&mut sup, &svc);
    wait_for("no sleep left", DEADLINE, || {
        pids_with_cmdline(&["sleep", &mark]).is_empty()
    });
}
