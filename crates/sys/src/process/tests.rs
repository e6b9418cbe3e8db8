//! Spawning for real: gated, reporting, failing.

use super::*;

#[test]
fn spawn_runs_and_reports_exit() {
    let mut c = Command::new("/bin/sh", "test: unable to start /bin/sh: ").expect("no NUL");
    c.set_args(["-c", "exit 3"]).expect("no NUL");
    let pid = c.spawn().expect("fork");
    assert_eq!(wait_for(pid), Some(Exit::Code(3)));
}

/// The record's bytes: `PID START\n`.
fn encode(pid: u32, start: u64, out: &mut [u8; RECORD_MAX]) -> usize {
    use std::io::Write;
    let mut w = &mut out[..];
    let _ = writeln!(w, "{pid} {start}");
    RECORD_MAX - w.len()
}

#[test]
fn recorded_child_records_itself_before_it_runs() {
    let dir = std::env::temp_dir().join(format!("herd-record-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).expect("temp dir");
    let new = dir.join("instance.new");
    let path = dir.join("instance");
    let seen = dir.join("seen");
    let record = Record::new(
        new.to_str().expect("utf-8"),
        path.to_str().expect("utf-8"),
        0o644,
        encode,
    )
    .expect("no NUL");
    // The program copies the record as it finds it when it runs.
    let mut c = Command::new("/bin/sh", "test: unable to start /bin/sh: ").expect("no NUL");
    let script = "cat \"$0\" > \"$1\"";
    c.set_args([
        "-c",
        script,
        path.to_str().expect("utf-8"),
        seen.to_str().expect("utf-8"),
    ])
    .expect("no NUL");
    for _ in 0..20 {
        let (pid, start) = c.spawn_recorded(&record).expect("clone");
        // On return the record names the child, with the start time /proc gives.
        let from_proc = crate::procfs::proc_start_time(pid).expect("child alive or a zombie");
        assert_eq!(start, Some(from_proc));
        let line = format!("{pid} {from_proc}\n");
        assert_eq!(std::fs::read_to_string(&path).expect("instance"), line);
        assert!(!new.exists(), "instance.new left behind");
        assert_eq!(wait_for(pid), Some(Exit::Code(0)));
        assert_eq!(std::fs::read_to_string(&seen).expect("seen"), line);
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// The recorded child runs on its parent's stack, below the frame of the `clone` call: every
/// frame above it, the caller's included, is as it was (the child's record, read back from the
/// parent's frame, is checked by `recorded_child_records_itself_before_it_runs`).
#[test]
fn recorded_child_leaves_its_parents_frames_alone() {
    let record =
        Record::new("/nonexistent/i.new", "/nonexistent/i", 0o644, encode).expect("no NUL");
    let mut c = Command::new("/bin/sh", "test: unable to start /bin/sh: ").expect("no NUL");
    c.set_args(["-c", "exit 0"]).expect("no NUL");
    let canary = std::hint::black_box([0x5au8; 4096]);
    for _ in 0..3 {
        // The record cannot be written (no such directory): the child execs all the same.
        let (pid, start) = c.spawn_recorded(&record).expect("clone");
        assert_eq!(start, None);
        assert_eq!(wait_for(pid), Some(Exit::Code(0)));
    }
    assert!(std::hint::black_box(&canary).iter().all(|&b| b == 0x5a));
}

/// A shared-memory spawn runs the program with its arguments and directory, reports a program
/// that cannot be run through the failure code, and leaves none of its stack resident.
#[test]
fn shared_spawn_runs_the_program_and_gives_its_stack_back() {
    let stack = SpawnStack::default();
    let mut c = Command::new("/bin/sh", "test: unable to start /bin/sh: ").expect("no NUL");
    c.set_args(["-c", "[ \"$(pwd)\" = / ] && exit 3"])
        .expect("no NUL");
    c.current_dir(std::path::Path::new("/"), "test: unable to chdir: ")
        .expect("no NUL");
    for _ in 0..3 {
        let pid = c.spawn_shared(&stack).expect("clone");
        assert_eq!(wait_for(pid), Some(Exit::Code(3)));
    }
    let mut missing =
        Command::new("/nonexistent/program", "test: unable to start: ").expect("no NUL");
    missing.failure_code(42);
    let pid = missing.spawn_shared(&stack).expect("clone");
    assert_eq!(wait_for(pid), Some(Exit::Code(42)));
    assert_eq!(resident_pages(stack.get().expect("mapped")), 0);
}

/// How many of a child stack's pages (the guard page aside) are in memory.
fn resident_pages(stack: &ChildStack) -> usize {
    let mut resident = vec![0u8; CHILD_STACK / 4096];
    let start = stack.base.cast::<u8>().wrapping_add(GUARD);
    // SAFETY: mincore of the stack's pages (mapped), into a vector of one byte per page.
    let r = unsafe { libc::mincore(start.cast(), CHILD_STACK, resident.as_mut_ptr()) };
    assert_eq!(r, 0, "mincore");
    resident.iter().filter(|&&b| b & 1 != 0).count()
}

#[test]
fn recorded_child_runs_when_its_record_fails() {
    // As before the record existed: a record that cannot be written is the caller's to retry;
    // the program still runs.
    let record =
        Record::new("/nonexistent/i.new", "/nonexistent/i", 0o644, encode).expect("no NUL");
    let mut c = Command::new("/bin/sh", "test: unable to start /bin/sh: ").expect("no NUL");
    c.set_args(["-c", "exit 7"]).expect("no NUL");
    let (pid, start) = c.spawn_recorded(&record).expect("clone");
    assert_eq!(start, None);
    assert_eq!(wait_for(pid), Some(Exit::Code(7)));
    // And an exec that fails after a record: the failure code, as from any spawn.
    let c = Command::new("/nonexistent/prog", "test: unable to start: ").expect("no NUL");
    let (pid, _) = c.spawn_recorded(&record).expect("clone");
    assert_eq!(wait_for(pid), Some(Exit::Code(111)));
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
fn tick_of_needs_both_readings_inside_one_tick() {
    const MS: u64 = 1_000_000;
    assert_eq!(tick_of(30 * MS + 5_000, 30 * MS + 90_000, 100), Some(3));
    assert_eq!(tick_of(29 * MS, 31 * MS, 100), None, "across a tick");
    assert_eq!(
        tick_of(30 * MS + 10, 31 * MS, 100),
        None,
        "at the start edge"
    );
    assert_eq!(tick_of(31 * MS, 40 * MS - 10, 100), None, "at the end edge");
    assert_eq!(
        tick_of(35 * MS, 34 * MS, 100),
        None,
        "readings out of order"
    );
    assert_eq!(tick_of(35 * MS, 35 * MS, 0), None);
    assert_eq!(
        tick_of(35 * MS, 35 * MS, 7),
        None,
        "a tick of no whole nanoseconds"
    );
    assert_eq!(tick_of(35 * MS + MS / 2, 35 * MS + MS / 2, 1000), Some(35));
}
