//! Spawning for real: gated, reporting, failing.

use super::*;

#[test]
fn spawn_runs_and_reports_exit() {
    let mut c = Command::new("/bin/sh", "test: unable to start /bin/sh: ").expect("no NUL");
    c.set_args(["-c", "exit 3"]).expect("no NUL");
    let pid = c.spawn().expect("fork");
    assert_eq!(wait_for(pid), Some(Exit::Code(3)));
}

#[test]
fn gated_child_runs_only_once_the_gate_is_open() {
    let dir = std::env::temp_dir().join(format!("herd-gate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("temp dir");
    let mark = dir.join("ran");
    let mut c = Command::new("/bin/sh", "test: unable to start /bin/sh: ").expect("no NUL");
    c.set_args(["-c", "echo ran > \"$0\"", mark.to_str().expect("utf-8")])
        .expect("no NUL");
    let (pid, gate) = c.spawn_gated().expect("fork");
    // Held: the child sits in read(2) on the gate, and has not run the program.
    let syscall = format!("/proc/{pid}/syscall");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !std::fs::read_to_string(&syscall)
        .is_ok_and(|s| s.starts_with(&format!("{} ", libc::SYS_read)))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "child not held in read"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(!mark.exists(), "the child ran before the gate was opened");
    gate.open();
    assert_eq!(wait_for(pid), Some(Exit::Code(0)));
    assert_eq!(std::fs::read_to_string(&mark).expect("mark"), "ran\n");

    // A gate dropped unopened (what the parent's death does): the child exits at once
    // with the failure code and never runs the program.
    std::fs::remove_file(&mark).expect("rm");
    let (pid, gate) = c.spawn_gated().expect("fork");
    drop(gate);
    assert_eq!(wait_for(pid), Some(Exit::Code(111)));
    assert!(!mark.exists(), "the child ran without its gate");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn spawn_reporting_returns_the_exec_failure() {
    let c = Command::new("/nonexistent/prog", "test: unable to start: ").expect("no NUL");
    let Err(SpawnError::Exec { pid, errno }) = c.spawn_reporting() else {
        panic!("exec of a missing program reported no failure");
    };
    assert_eq!(errno, Errno::ENOENT);
    assert_eq!(wait_for(pid), Some(Exit::Code(111)));
    let mut c = Command::new("/bin/sh", "test: unable to start /bin/sh: ").expect("no NUL");
    c.set_args(["-c", "exit 3"]).expect("no NUL");
    let pid = c.spawn_reporting().expect("exec");
    assert_eq!(wait_for(pid), Some(Exit::Code(3)));
}

#[test]
fn exec_failure_exits_111() {
    let c = Command::new("/nonexistent/prog", "test: unable to start: ").expect("no NUL");
    let pid = c.spawn().expect("fork");
    assert_eq!(wait_for(pid), Some(Exit::Code(111)));
    assert_eq!(
        Exit::Signal {
            signo: 9,
            core: false
        }
        .shell_code(),
        137
    );
}

#[test]
fn gate_start_time_is_procs() {
    // The start time read from the clock around the fork is field 22 of /proc/PID/stat, as
    // supervise/instance records it; when the clock cannot tell, there is none (never a guess).
    let c = Command::new("/bin/true", "test: unable to start /bin/true: ").expect("no NUL");
    let mut told = 0;
    for _ in 0..50 {
        let (pid, gate) = c.spawn_gated().expect("fork");
        let from_proc = crate::procfs::proc_start_time(pid);
        if let Some(start) = gate.start_time() {
            assert_eq!(Some(start), from_proc, "pid {pid}");
            told += 1;
        }
        gate.open();
        assert_eq!(wait_for(pid), Some(Exit::Code(0)));
    }
    // A fork takes well under a tick (10 ms): nearly every spawn falls inside one.
    assert!(told >= 25, "the clock told the start time of {told} spawns of 50");
}

#[test]
fn tick_of_needs_both_readings_inside_one_tick() {
    const MS: u64 = 1_000_000;
    assert_eq!(tick_of(30 * MS + 5_000, 30 * MS + 90_000, 100), Some(3));
    assert_eq!(tick_of(29 * MS, 31 * MS, 100), None, "across a tick");
    assert_eq!(tick_of(30 * MS + 10, 31 * MS, 100), None, "at the start edge");
    assert_eq!(tick_of(31 * MS, 40 * MS - 10, 100), None, "at the end edge");
    assert_eq!(tick_of(35 * MS, 34 * MS, 100), None, "readings out of order");
    assert_eq!(tick_of(35 * MS, 35 * MS, 0), None);
    assert_eq!(tick_of(35 * MS, 35 * MS, 7), None, "a tick of no whole nanoseconds");
    assert_eq!(tick_of(35 * MS + MS / 2, 35 * MS + MS / 2, 1000), Some(35));
}
