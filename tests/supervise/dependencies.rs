//! Dependencies between services (issue 15, item 3; docs/readiness.md, "Dependencies"): plain
//! `supervise` processes in one temporary scan directory (the scenario's), as svscan would run
//! them (`supervise NAME` with the scan directory as cwd). A dependent waits, event-driven, until
//! each dependency is up and ready, says once what it waits for, and starts promptly after.

use super::*;

/// A run that writes the time it started (ns since the epoch, whole through a rename) to
/// `started`, then sleeps as `sleep MARK`.
fn stamping_run(mark: &str) -> String {
    format!(
        "#!/bin/sh\necho $$ >> pids\ndate +%s%N > started.new\nmv started.new started\nexec sleep {mark}\n"
    )
}

/// A service `name` whose run is [`stamping_run`], depending on `deps`.
fn dependent(sc: &Scenario, name: &str, deps: &[&str], mark: &str) -> PathBuf {
    let svc = sc.service(name, &stamping_run(mark));
    fs::create_dir(svc.join("dependencies.d")).unwrap();
    for d in deps {
        fs::write(svc.join("dependencies.d").join(d), "").unwrap();
    }
    svc
}

/// The pids the run of `svc` wrote, one per start.
fn starts(svc: &Path) -> Vec<u32> {
    read(&svc.join("pids"))
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// `started` of `svc`, in ns since the epoch.
fn started_ns(svc: &Path) -> u128 {
    read(&svc.join("started")).trim().parse().unwrap()
}

/// When `svc` became ready, from its `supervise/ready` (`ready PID @STAMP`), in ns since the
/// epoch.
fn ready_ns(svc: &Path) -> u128 {
    let text = read(&svc.join("supervise/ready"));
    let label = text
        .trim_end()
        .rsplit(' ')
        .next()
        .filter(|_| text.starts_with("ready "))
        .unwrap_or_else(|| panic!("{}: ready file {text:?}", svc.display()));
    let t = herd_tai64n::Tai64n::parse_label(label.as_bytes()).unwrap();
    t.unix_secs() as u128 * 1_000_000_000 + u128::from(t.nanos)
}

/// Holds [`QUIET`], then asserts that `svc` never started.
#[track_caller]
fn assert_not_started(svc: &Path) {
    std::thread::sleep(QUIET);
    assert_eq!(starts(svc), Vec::<u32>::new(), "{} started", svc.display());
}

/// Waits until `svc`'s `supervise/ready` is `want`.
#[track_caller]
fn wait_ready_file(svc: &Path, want: &str) {
    wait_eq("supervise/ready", want.to_string(), DEADLINE, || {
        read(&svc.join("supervise/ready"))
    });
}

/// `x`, then supervise's exit 0.
#[track_caller]
fn exit_and_wait(sup: &mut Proc, svc: &Path) {
    control(svc, "x");
    assert_eq!(sup.wait(DEADLINE), Some(0), "supervise's exit code");
}

#[test]
fn dependent_waits_for_readiness_and_starts_promptly() {
    let sc = Scenario::new();
    let mark = marker(4301);
    let a = sc.service(
        "a",
        &format!("#!/bin/sh\nsleep 1\nprintf 'up\\n' >&3\nexec sleep {mark}\n"),
    );
    fs::write(a.join("notification-fd"), "3\n").unwrap();
    let b = dependent(&sc, "b", &["a"], &mark);
    let mut sup_b = spawn_supervise(&sc, "b");
    wait_ready_file(&b, "waiting a\n");
    wait_eq(
        "b's line",
        "supervise b: waiting for a\n".to_string(),
        DEADLINE,
        || stderr_of(&sc, "b"),
    );
    let mut sup_a = spawn_supervise(&sc, "a");
    let a_pid = wait_running(&a);
    // a runs, but is not ready for a second: b goes on waiting.
    assert_eq!(read(&a.join("supervise/ready")), format!("up {a_pid}\n"));
    assert_not_started(&b);
    let b_pid = wait_running(&b);
    wait_for("b's run writes its start", DEADLINE, || {
        b.join("started").exists()
    });
    let after = started_ns(&b).saturating_sub(ready_ns(&a));
    assert!(
        started_ns(&b) >= ready_ns(&a),
        "b started before a was ready"
    );
    // Event-driven: the start follows a's readiness by the time of a fork and an exec, not by
    // a polling period.
    assert!(
        after < 250_000_000,
        "b started {after} ns after a was ready"
    );
    eprintln!("b started {} µs after a was ready", after / 1000);
    // b has nothing but dependencies.d: up is ready, and its file says so.
    wait_for("b ready", DEADLINE, || NotifyFlavor::Herd.is_ready(&b));
    assert!(read(&b.join("supervise/ready")).starts_with(&format!("ready {b_pid} @")));
    // Said once, for the whole wait.
    assert_eq!(stderr_of(&sc, "b"), "supervise b: waiting for a\n");
    assert_eq!(stderr_of(&sc, "a"), "");
    exit_and_wait(&mut sup_b, &b);
    exit_and_wait(&mut sup_a, &a);
}

#[test]
fn missing_dependency_is_waited_for_until_it_appears() {
    let sc = Scenario::new();
    let mark = marker(4302);
    let b = dependent(&sc, "b", &["db"], &mark);
    let mut sup_b = spawn_supervise(&sc, "b");
    wait_ready_file(&b, "waiting db\n");
    wait_eq(
        "b's line",
        "supervise b: waiting for db, which does not exist yet\n".to_string(),
        DEADLINE,
        || stderr_of(&sc, "b"),
    );
    assert_not_started(&b);
    // db appears without a supervisor: still not up, and nothing more is said.
    let db = sc.service("db", &format!("#!/bin/sh\nexec sleep {mark}\n"));
    assert_not_started(&b);
    let mut sup_db = spawn_supervise(&sc, "db");
    wait_running(&db);
    wait_running(&b);
    assert_eq!(
        stderr_of(&sc, "b"),
        "supervise b: waiting for db, which does not exist yet\n"
    );
    exit_and_wait(&mut sup_b, &b);
    exit_and_wait(&mut sup_db, &db);
}

#[test]
fn dependency_going_down_stops_nothing_but_the_next_start_waits() {
    let sc = Scenario::new();
    let mark = marker(4303);
    let a = sc.service("a", &format!("#!/bin/sh\nexec sleep {mark}\n"));
    let b = dependent(&sc, "b", &["a"], &mark);
    let mut sup_a = spawn_supervise(&sc, "a");
    wait_running(&a);
    let mut sup_b = spawn_supervise(&sc, "b");
    let b_pid = wait_running(&b);
    // Not waited for: nothing said.
    assert_eq!(stderr_of(&sc, "b"), "");
    control(&a, "d");
    wait_stat(&a, "down\n", DEADLINE);
    std::thread::sleep(QUIET);
    assert_eq!(starts(&b), [b_pid]);
    assert!(pid_alive(b_pid), "b stopped with its dependency");
    // b's own restart waits for a again.
    control(&b, "t");
    wait_ready_file(&b, "waiting a\n");
    assert_eq!(stderr_of(&sc, "b"), "supervise b: waiting for a\n");
    std::thread::sleep(QUIET);
    assert_eq!(starts(&b), [b_pid]);
    control(&a, "u");
    let new = wait_new_pid(&b, b_pid, DEADLINE);
    // The status names the new run once it has exec'd; its line comes when the script runs.
    wait_for("the new run's line", DEADLINE, || {
        starts(&b) == [b_pid, new]
    });
    exit_and_wait(&mut sup_b, &b);
    exit_and_wait(&mut sup_a, &a);
}

#[test]
fn cycle_is_said_once_by_its_first_member_and_hangs_nothing() {
    let sc = Scenario::new();
    let mark = marker(4304);
    // a <-> b, and a also waits for x, outside the cycle.
    let a = dependent(&sc, "a", &["b", "x"], &mark);
    let b = dependent(&sc, "b", &["a"], &mark);
    let x = sc.service("x", &format!("#!/bin/sh\nexec sleep {mark}\n"));
    let mut sup_b = spawn_supervise(&sc, "b");
    let mut sup_a = spawn_supervise(&sc, "a");
    // b waits for nothing of its cycle: it starts at once.
    wait_running(&b);
    wait_ready_file(&a, "waiting x\n");
    let cycle = "supervise a: warning: dependency cycle: a -> b -> a: \
                 its services start without waiting for each other\n";
    wait_eq(
        "a's lines",
        format!("{cycle}supervise a: waiting for x\n"),
        DEADLINE,
        || stderr_of(&sc, "a"),
    );
    let mut sup_x = spawn_supervise(&sc, "x");
    let a_pid = wait_running(&a);
    // Restarts look again, and say nothing again.
    control(&a, "t");
    wait_new_pid(&a, a_pid, DEADLINE);
    control(&b, "t");
    std::thread::sleep(QUIET);
    assert_eq!(
        stderr_of(&sc, "a"),
        format!("{cycle}supervise a: waiting for x\n")
    );
    assert_eq!(stderr_of(&sc, "b"), "");
    assert_eq!(stderr_of(&sc, "x"), "");
    exit_and_wait(&mut sup_a, &a);
    exit_and_wait(&mut sup_b, &b);
    exit_and_wait(&mut sup_x, &x);
}

#[test]
fn down_exit_and_term_while_waiting_act_at_once() {
    let sc = Scenario::new();
    let mark = marker(4305);
    let b = dependent(&sc, "b", &["db"], &mark);
    let mut sup = spawn_supervise(&sc, "b");
    wait_ready_file(&b, "waiting db\n");
    control(&b, "d");
    wait_ready_file(&b, "down\n");
    assert_eq!(stat(&b), "down\n");
    control(&b, "u");
    wait_ready_file(&b, "waiting db\n");
    // `x` exits at once, without ever starting.
    let t0 = Instant::now();
    control(&b, "x");
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert!(t0.elapsed() < QUIET, "x took {:?}", t0.elapsed());
    assert_eq!(read(&b.join("supervise/ready")), "down\n");
    // SIGTERM likewise.
    let mut sup = spawn_supervise(&sc, "b");
    wait_ready_file(&b, "waiting db\n");
    sup.signal(libc::SIGTERM);
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert_eq!(starts(&b), Vec::<u32>::new());
    assert_eq!(
        stderr_of(&sc, "b"),
        "supervise b: waiting for db, which does not exist yet\n"
    );
}

#[test]
fn waiting_is_event_driven_and_idle() {
    let sc = Scenario::new();
    let mark = marker(4306);
    let b = dependent(&sc, "b", &["db"], &mark);
    let sup = spawn_supervise(&sc, "b");
    wait_ready_file(&b, "waiting db\n");
    wait_blocked_in(sup.pid(), libc::SYS_ppoll);
    let switches = || {
        let n = |k| proc_status(sup.pid(), k).parse::<u64>().unwrap();
        n("voluntary_ctxt_switches") + n("nonvoluntary_ctxt_switches")
    };
    let before = switches();
    // Longer than the only timer a wait can have (a look each second, without inotify), plus the
    // shared window.
    std::thread::sleep(Duration::from_secs(1) + QUIET);
    assert_eq!(switches(), before, "supervise woke while waiting");
}

#[test]
fn scan_directory_is_the_one_of_the_argument() {
    // `supervise /abs/scan/b`, run from elsewhere: the dependency is /abs/scan/a.
    let sc = Scenario::new();
    let mark = marker(4307);
    let a = sc.service("scan/a", &format!("#!/bin/sh\nexec sleep {mark}\n"));
    let b = dependent(&sc, "scan/b", &["a"], &mark);
    let mut c = Command::new(bin("supervise"));
    c.arg(&b).current_dir("/");
    let mut sup_b = spawn_with_stderr(&sc, "b", c);
    wait_ready_file(&b, "waiting a\n");
    let mut c = Command::new(bin("supervise"));
    c.arg("a").current_dir(sc.join("scan"));
    let mut sup_a = spawn_with_stderr(&sc, "a", c);
    wait_running(&a);
    wait_running(&b);
    exit_and_wait(&mut sup_b, &b);
    exit_and_wait(&mut sup_a, &a);
}

/// Debian's layout: the dependency's `supervise` is a symlink to a directory that its supervise
/// makes when it starts, elsewhere.
#[test]
fn dependency_whose_supervise_is_a_symlink_made_later() {
    let sc = Scenario::new();
    let mark = marker(4308);
    fs::create_dir(sc.join("runtime")).unwrap();
    let db = sc.service("db", &format!("#!/bin/sh\nexec sleep {mark}\n"));
    std::os::unix::fs::symlink(sc.join("runtime/db"), db.join("supervise")).unwrap();
    let b = dependent(&sc, "b", &["db"], &mark);
    let mut sup_b = spawn_supervise(&sc, "b");
    wait_ready_file(&b, "waiting db\n");
    let mut sup_db = spawn_supervise(&sc, "db");
    wait_running(&db);
    assert!(sc.join("runtime/db/status").exists());
    wait_running(&b);
    exit_and_wait(&mut sup_b, &b);
    exit_and_wait(&mut sup_db, &db);
}
