//! Faults of the system survived by svlog (docs/reliability.md, "Faults", svlog): no more
//! descriptors (EMFILE) when a rotation needs a new `current`. svlog pauses in svlogd's words,
//! retries every 3 s without spinning, and once descriptors are back writes every line, once
//! and in order.

use super::*;

/// The soft descriptor limit that leaves svlog none to open (stdin, stdout and stderr are 0-2).
const NO_FDS: u64 = 3;
/// A soft limit under which everything opens again.
const FDS_BACK: u64 = 1024;
/// How much CPU svlog may use while paused: a busy loop uses all of the window.
const IDLE_CPU: Duration = Duration::from_millis(100);
/// The window over which that is measured (shorter than the 3 s between two tries).
const WINDOW: Duration = Duration::from_secs(2);

/// `prlimit --nofile=3` on a running svlog whose `current` is full (`s100`): the rotation
/// renames it and cannot open a new one. `svlogd: pausing: unable to create new current: L:
/// process cannot open more files` every 3 s, under 100 ms of CPU over 2 s; once the limit is
/// lifted, the new `current` is opened and every line is there exactly once, in order, in whole
/// lines. (svlogd does the same, with a blocking `sleep(3)` in which it handles no signal.)
#[test]
fn emfile_at_rotation_pauses_without_spinning_and_loses_nothing() {
    let sc = Scenario::new();
    logdir(&sc, "s100\nn50\n");
    let dir = sc.join("L");
    let mut l = Live::ready(&sc, Herd, &["L"], "err", "L");
    let head = numbered(0, 4, 20);
    l.write(head.as_bytes());
    wait_content(&dir.join("current"), &head);

    set_nofile(l.pid(), NO_FDS);
    l.write(numbered(4, 36, 20).as_bytes());
    let msg = "svlogd: pausing: unable to create new current: L: process cannot open more files\n";
    wait_for("the pausing message", DEADLINE, || l.stderr().contains(msg));
    let before = l.stderr().matches(msg).count();
    let cpu = cpu_used_over(l.pid(), WINDOW);
    assert!(cpu < IDLE_CPU, "svlog used {cpu:?} of CPU in {WINDOW:?}");
    let more = l.stderr().matches(msg).count() - before;
    assert!(more <= 1, "{more} more messages in {WINDOW:?}");

    set_nofile(l.pid(), FDS_BACK);
    l.eof();
    let out = l.exit(RUN);
    assert!(out.starts_with("rc=Some(0)\n"), "{out}");
    let want: Vec<String> = numbered(0, 40, 20).lines().map(String::from).collect();
    assert_eq!(all_lines(&dir, 100), want);
    let err = l.stderr();
    assert!(
        err.split_inclusive('\n').all(|line| line == msg),
        "unexpected messages:\n{err}"
    );
}

/// svlog's stderr a pipe nobody reads any more, with every line selected for a copy on stderr
/// (`e*`): each copy gets EPIPE and svlog goes on; every line is in the log and svlog exits 0
/// at EOF. svlogd dies of SIGPIPE at the first copy and the lines it held are lost.
#[test]
fn stderr_with_no_reader_loses_no_line() {
    let sc = Scenario::new();
    logdir(&sc, "e*\n");
    let (r, w) = pipe();
    drop(r);
    let (input, mut feed) = pipe();
    let lines = numbered(0, 100, 20);
    let mut c = Command::new(Herd.program(Tool::Svlog));
    c.arg0(ARGV0)
        .arg("L")
        .current_dir(sc.path())
        .stdin(Stdio::from(input))
        .stdout(Stdio::null())
        .stderr(Stdio::from(w));
    let mut p = Proc::spawn_with_stdio(c);
    feed.write_all(lines.as_bytes()).unwrap();
    drop(feed);
    assert_eq!(p.wait(RUN), Some(0));
    assert_eq!(fs::read_to_string(sc.join("L/current")).unwrap(), lines);
}
