//! Faults of the system survived by svscan (docs/reliability.md, "Faults", svscan): no more
//! descriptors (EMFILE, on a running svscan and from its start), the scan directory removed and
//! made again, svscan stopped and continued (SIGSTOP, SIGCONT) while things change, and a burst
//! of directory changes larger than inotify's queue. Each time: one clear line where there is
//! something to say, no busy loop, nothing lost and nothing doubled.

use std::collections::BTreeSet;

use super::*;

/// util-linux's `prlimit`, by path.
const PRLIMIT: &str = "/usr/bin/prlimit";
/// The soft descriptor limit that leaves svscan none to open (stdin, stdout and stderr are 0-2).
const NO_FDS: u64 = 3;
/// A soft limit under which everything opens again.
const FDS_BACK: u64 = 1024;
/// How much CPU svscan may use while it waits out a fault: a busy loop uses all of a window.
const IDLE_CPU: Duration = Duration::from_millis(100);
/// The window over which that is measured.
const WINDOW: Duration = Duration::from_secs(2);
/// Within a periodic rescan of svscan's (5 s), with room for a loaded machine.
const RESCAN_BOUND: Duration = Duration::from_secs(8);

/// Asserts that `text` is `line` repeated at least once, and nothing else.
#[track_caller]
fn assert_only(text: &str, line: &str) {
    assert!(
        !text.is_empty() && text.split_inclusive('\n').all(|l| l == line),
        "expected only {line:?}, got:\n{text}"
    );
}

/// Whether `pid` holds an inotify instance.
fn has_inotify(pid: u32) -> bool {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| fs::read_link(e.path()).is_ok_and(|l| l.as_os_str() == "anon_inode:inotify"))
}

/// SIGSTOP to svscan, and wait until it is stopped.
fn stop(s: &Svscan) {
    s.proc.signal(libc::SIGSTOP);
    wait_for("svscan stopped", DEADLINE, || {
        proc_state(s.pid()) == Some('T')
    });
}

/// A service prepared in `SC/prep/NAME` and moved into the scan dir in one rename.
fn move_in(sc: &Scenario, scan: &Path, name: &str) {
    sc.service(&format!("prep/{name}"), &marker_run(sc, name));
    fs::rename(sc.join("prep").join(name), scan.join(name)).unwrap();
}

/// EMFILE on a running svscan (`prlimit --nofile` of 3): a new service cannot be read in. svscan
/// says so in runsvdir's words, tries again every 5 s without spinning, and starts the service
/// once the limit is lifted; the service it had keeps its supervise. (runsvdir warns once and
/// then waits for the next change of the directory, however long that is.)
#[test]
fn emfile_warns_retries_without_spinning_and_recovers() {
    let sc = Scenario::new();
    let (scan, s) = scan_with_first(&sc);
    let first = s.wait_supervise("first", DEADLINE);
    set_nofile(s.pid(), NO_FDS);
    move_in(&sc, &scan, "a");
    let line = format!(
        "svscan {0}: warning: unable to open directory {0}: process cannot open more files\n",
        scan.display()
    );
    wait_for("the warning", DEADLINE, || s.stderr().contains(&line));
    let cpu = cpu_used_over(s.pid(), WINDOW);
    assert!(cpu < IDLE_CPU, "svscan used {cpu:?} of CPU in {WINDOW:?}");
    assert_eq!(s.stderr(), line, "more than one warning in {WINDOW:?}");
    assert!(!ran(&sc, "a"));

    set_nofile(s.pid(), FDS_BACK);
    wait_ran(&sc, "a", RESCAN_BOUND);
    wait_running(&scan.join("a"));
    assert_eq!(s.supervise_of("first"), Some(first));
    assert_eq!(runs(&sc, "a"), 1);
    assert_only(&s.stderr(), &line);
}

/// svscan started with one descriptor to spare (`prlimit --nofile=4`: its signalfd): the notice
/// pipe, inotify and the scan directory each fail with one line, and svscan runs on, rescanning
/// every 5 s. Once the limit is lifted the services start, and inotify is set up again (a new
/// service then starts at once, as usual).
#[test]
fn started_short_of_descriptors_recovers_and_gets_inotify_back() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/first", &marker_run(&sc, "first"));
    // prlimit execs svscan: the pid is svscan's. Descriptors 3-9 closed so that 3 is free.
    let mut c = Command::new("/bin/sh");
    c.args([
        "-c",
        "exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-; exec \"$@\"",
        "sh",
    ])
    .arg(peer(PRLIMIT))
    .arg("--nofile=4:")
    .arg(bin("svscan"))
    .arg(&scan)
    .env_remove(STOP_ENV);
    let s = Svscan::spawn(&sc, c);
    let want = format!(
        "svscan {0}: warning: unable to create pipe for essential services: process cannot open more files\n\
         svscan {0}: warning: unable to use inotify: process cannot open more files: rescanning every 5 seconds\n\
         svscan {0}: warning: unable to open directory {0}: process cannot open more files\n",
        scan.display()
    );
    wait_for("the three warnings", DEADLINE, || s.stderr() == want);
    let cpu = cpu_used_over(s.pid(), WINDOW);
    assert!(cpu < IDLE_CPU, "svscan used {cpu:?} of CPU in {WINDOW:?}");
    assert!(!ran(&sc, "first"));

    set_nofile(s.pid(), FDS_BACK);
    wait_ran(&sc, "first", RESCAN_BOUND);
    wait_for("inotify set up again", DEADLINE, || has_inotify(s.pid()));
    move_in(&sc, &scan, "a");
    wait_ran(&sc, "a", PICKUP);
    let warnings = s.stderr();
    assert!(
        warnings.starts_with(&want)
            && warnings[want.len()..]
                .split_inclusive('\n')
                .all(|l| want.ends_with(l)),
        "{warnings}"
    );
    assert_eq!((runs(&sc, "first"), runs(&sc, "a")), (1, 1));
}

/// The scan directory removed from its path (renamed away: one atomic step) and made again
/// (prepared aside, then renamed into place). Its entries are symlinks to services elsewhere, as
/// in Debian's /etc/service. Meanwhile svscan warns that it cannot read it and keeps every
/// supervise: a missing directory is not an empty one. Once it is back, a service still in it
/// keeps its supervise and its process, a new one starts, and one no longer in it is stopped.
#[test]
fn scan_dir_removed_and_made_again() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    fs::create_dir_all(&scan).unwrap();
    fs::create_dir_all(sc.join("prep/scan")).unwrap();
    fs::create_dir_all(sc.join("away")).unwrap();
    for name in ["a", "b", "c"] {
        sc.service(&format!("sv/{name}"), &marker_run(&sc, name));
    }
    // Relative to where each link is used: SC/scan.
    for name in ["a", "c"] {
        symlink(format!("../sv/{name}"), scan.join(name)).unwrap();
    }
    let s = Svscan::start(&sc, &[&scan]);
    let a = wait_running(&sc.join("sv/a"));
    let c = wait_running(&sc.join("sv/c"));
    let (sup_a, sup_c) = (
        s.wait_supervise("a", DEADLINE),
        s.wait_supervise("c", DEADLINE),
    );

    fs::rename(&scan, sc.join("away/scan")).unwrap();
    let line = format!(
        "svscan {0}: warning: unable to open directory {0}: file does not exist\n",
        scan.display()
    );
    wait_for("the warning", DEADLINE, || s.stderr().contains(&line));
    std::thread::sleep(QUIET);
    assert_eq!(s.supervise_of("a"), Some(sup_a));
    assert_eq!(s.supervise_of("c"), Some(sup_c));
    assert!(pid_alive(a) && pid_alive(c));

    for name in ["a", "b"] {
        symlink(format!("../sv/{name}"), sc.join("prep/scan").join(name)).unwrap();
    }
    fs::rename(sc.join("prep/scan"), &scan).unwrap();
    wait_ran(&sc, "b", PICKUP);
    wait_for("c's service to stop", DEADLINE, || !pid_alive(c));
    wait_for("c's supervise to exit and be reaped", DEADLINE, || {
        proc_state(sup_c).is_none()
    });
    std::thread::sleep(QUIET);
    assert_eq!(s.supervise_of("a"), Some(sup_a));
    assert_eq!(wait_running(&sc.join("sv/a")), a);
    let names: BTreeSet<String> = s.supervisors().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["a", "b"].map(String::from).into());
    assert_eq!((runs(&sc, "a"), runs(&sc, "b"), runs(&sc, "c")), (1, 1, 1));
    assert_only(&s.stderr(), &line);
}

/// A run script that appends to its marker and then sleeps `secs` (an argv unique to the
/// service, to count its instances).
fn counted_run(sc: &Scenario, name: &str, secs: &str) -> String {
    let _ = fs::create_dir(sc.join("marks"));
    format!(
        "#!/bin/sh\necho ran >> {}\nexec sleep {secs}\n",
        mark(sc, name).display()
    )
}

/// svscan stopped (SIGSTOP) while a supervise is killed, a service is added and another
/// removed; after SIGCONT each is handled once: the killed supervise is replaced by one new
/// supervise (which stops the instance the old one left) so the service runs exactly once, the
/// new service starts once, the removed one is stopped, the dead supervise is reaped, and the
/// untouched service keeps its supervise.
#[test]
fn sigstop_and_sigcont_lose_nothing_and_double_nothing() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/first", RUN_SLEEP);
    sc.service("scan/a", &counted_run(&sc, "a", "1041"));
    sc.service("scan/c", &counted_run(&sc, "c", "1043"));
    sc.service("prep/b", &counted_run(&sc, "b", "1042"));
    fs::create_dir(sc.join("away")).unwrap();
    let s = Svscan::start(&sc, &[&scan]);
    let a = wait_running(&scan.join("a"));
    let c = wait_running(&scan.join("c"));
    wait_running(&scan.join("first"));
    wait_for("a to exec sleep", DEADLINE, || {
        proc_cmdline(a).is_some_and(|v| v == ["sleep", "1041"])
    });
    let (first, sup_a, sup_c) = (
        s.wait_supervise("first", DEADLINE),
        s.wait_supervise("a", DEADLINE),
        s.wait_supervise("c", DEADLINE),
    );

    stop(&s);
    signal(sup_a, libc::SIGKILL);
    wait_for("a's supervise dead", DEADLINE, || {
        proc_state(sup_a) == Some('Z')
    });
    fs::rename(sc.join("prep/b"), scan.join("b")).unwrap();
    fs::rename(scan.join("c"), sc.join("away/c")).unwrap();
    std::thread::sleep(QUIET);
    assert_eq!(proc_state(s.pid()), Some('T'));
    assert_eq!(runs(&sc, "b"), 0);

    s.proc.signal(libc::SIGCONT);
    wait_ran(&sc, "b", PICKUP);
    wait_for("c's service to stop", DEADLINE, || !pid_alive(c));
    wait_for("the old instance of a to be gone", DEADLINE, || {
        proc_state(a).is_none()
    });
    let new_a = wait_until("a new instance of a", DEADLINE, || {
        status(&scan.join("a"))
            .filter(|st| st.state == State::Run)
            .and_then(|st| st.pid)
            .map(|p| p.get())
            .filter(|&p| p != a)
    });
    wait_for("c's supervise reaped", DEADLINE, || {
        proc_state(sup_c).is_none()
    });
    std::thread::sleep(QUIET);
    assert_eq!(
        proc_state(sup_a),
        None,
        "the killed supervise was not reaped"
    );
    let names: BTreeSet<String> = s.supervisors().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["a", "b", "first"].map(String::from).into());
    assert_eq!(s.supervise_of("first"), Some(first));
    assert_eq!(descendants_running(s.pid(), &["sleep", "1041"]), [new_a]);
    assert_eq!(descendants_running(s.pid(), &["sleep", "1042"]).len(), 1);
    assert!(descendants_running(s.pid(), &["sleep", "1043"]).is_empty());
    assert_eq!((runs(&sc, "a"), runs(&sc, "b"), runs(&sc, "c")), (2, 1, 1));
    assert!(
        proc_children(s.pid())
            .into_iter()
            .all(|p| proc_state(p) != Some('Z')),
        "a zombie is left"
    );
    assert_eq!(
        s.stderr(),
        format!("supervise a: warning: stopping process left by a previous supervise: pid {a}\n")
    );
}

/// More changes than inotify's queue holds (16384 events by default) while svscan is stopped:
/// the event for a new service is dropped with the rest, and the queue's overflow makes svscan
/// read the scan directory, which finds it. The changes are in the scan directory's parent,
/// which svscan watches but which costs no rescan, so only the overflow can find the service.
#[test]
fn inotify_queue_overflow_still_finds_a_new_service() {
    let sc = Scenario::new();
    let (scan, s) = scan_with_first(&sc);
    let queue: usize = fs::read_to_string("/proc/sys/fs/inotify/max_queued_events")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    sc.service("prep/a", &marker_run(&sc, "a"));
    stop(&s);
    // Two events each (create, delete), in the parent of the scan directory.
    for i in 0..queue / 2 + 100 {
        let f = sc.join(format!("noise{i}"));
        File::create(&f).unwrap();
        fs::remove_file(&f).unwrap();
    }
    fs::rename(sc.join("prep/a"), scan.join("a")).unwrap();
    s.proc.signal(libc::SIGCONT);
    wait_ran(&sc, "a", PICKUP);
    assert_eq!(runs(&sc, "a"), 1);
    assert_eq!(s.stderr(), "");
}

/// A burst of changes in the scan directory (3000 files made while svscan is stopped) is read
/// in one go: one rescan, not one per read of the inotify descriptor.
#[test]
fn a_burst_of_changes_costs_one_rescan() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/first", RUN_SLEEP);
    let s = Svscan::start_env(&sc, &[&scan], &[("HERD_TRACE", "1")]);
    wait_running(&scan.join("first"));
    stop(&s);
    let before = s.stderr().len();
    for i in 0..3000 {
        File::create(scan.join(format!(".noise{i}"))).unwrap();
    }
    s.proc.signal(libc::SIGCONT);
    let rescans = |err: &str| {
        err[before..]
            .lines()
            .filter(|l| l.ends_with(": trace: effect Rescan"))
            .count()
    };
    wait_for("a rescan", DEADLINE, || rescans(&s.stderr()) > 0);
    std::thread::sleep(QUIET);
    assert_eq!(rescans(&s.stderr()), 1, "{}", &s.stderr()[before..]);
}

/// A user of no one else's, for the fork test (numeric only: nothing is added to the system).
const FORK_USER: u32 = 47011;
/// util-linux's `setpriv`, by path.
const SETPRIV: &str = "/usr/bin/setpriv";

/// `setpriv` as [`FORK_USER`] (no supplementary groups), then `cmd`.
fn as_fork_user(cmd: &[&OsStr]) -> Command {
    let mut c = Command::new(peer(SETPRIV));
    c.arg(format!("--reuid={FORK_USER}"))
        .arg(format!("--regid={FORK_USER}"))
        .arg("--clear-groups")
        .arg("--")
        .args(cmd);
    c
}

/// fork fails (EAGAIN: a non-root svscan at its RLIMIT_NPROC of 1): `unable to fork for first:
/// temporary failure`, tried again once a second (runsvdir's words and pace, without its second
/// line), no busy loop, and the service starts once the limit is raised.
#[test]
fn fork_failure_warns_once_a_second_and_recovers() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/first", &marker_run(&sc, "first"));
    let chown = Command::new("/bin/chown")
        .arg("-R")
        .arg(format!("{FORK_USER}:{FORK_USER}"))
        .arg(sc.path())
        .status()
        .unwrap();
    assert!(chown.success());
    let svscan = bin("svscan");
    let mut c = as_fork_user(&[
        peer(PRLIMIT).as_os_str(),
        OsStr::new("--nproc=1:"),
        svscan.as_os_str(),
        scan.as_os_str(),
    ]);
    c.env_remove(STOP_ENV);
    let s = Svscan::spawn(&sc, c);
    let line = format!(
        "svscan {}: warning: unable to fork for first: temporary failure\n",
        scan.display()
    );
    wait_for("two warnings", DEADLINE, || {
        s.stderr().matches(&line).count() >= 2
    });
    let before = s.stderr().matches(&line).count();
    let cpu = cpu_used_over(s.pid(), WINDOW);
    assert!(cpu < IDLE_CPU, "svscan used {cpu:?} of CPU in {WINDOW:?}");
    let more = s.stderr().matches(&line).count() - before;
    assert!((1..=3).contains(&more), "{more} warnings in {WINDOW:?}");
    assert!(!ran(&sc, "first"));

    // Only its own user may raise the soft limit of a process of that user (without
    // CAP_SYS_RESOURCE, which a container's root may lack).
    let pid = s.pid().to_string();
    let raised = as_fork_user(&[
        peer(PRLIMIT).as_os_str(),
        OsStr::new("--nproc=1000:"),
        OsStr::new("--pid"),
        OsStr::new(&pid),
    ])
    .status()
    .unwrap();
    assert!(raised.success());
    wait_ran(&sc, "first", DEADLINE);
    wait_running(&scan.join("first"));
    assert_eq!(runs(&sc, "first"), 1);
    assert_only(&s.stderr(), &line);
}

/// Write calls `pid` has made so far, failed ones included (`syscw` of `/proc/PID/io`).
fn write_calls(pid: u32) -> u64 {
    proc_io(pid, "syscw")
}

/// A field of `/proc/PID/io`.
fn proc_io(pid: u32, key: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// svscan's stderr a pipe nobody reads any more: a warning (a dangling symlink in the scan
/// directory) gets EPIPE, and SIGPIPE, blocked and read from the signalfd, does not kill it;
/// svscan goes on starting services. runsvdir dies of SIGPIPE at its first warning.
#[test]
fn stderr_with_no_reader_does_not_kill_svscan() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/first", RUN_SLEEP);
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    drop(r);
    let mut c = Command::new(bin("svscan"));
    c.arg(&scan)
        .current_dir(sc.path())
        .env_remove(STOP_ENV)
        .stdout(Stdio::null())
        .stderr(Stdio::from(w));
    let mut s = Svscan {
        proc: Proc::spawn(c),
        stderr: sc.join("svscan.stderr"),
    };
    wait_running(&scan.join("first"));
    let writes = write_calls(s.pid());
    symlink(sc.join("nowhere"), scan.join("dangling")).unwrap();
    wait_for("the warning written to the broken pipe", DEADLINE, || {
        write_calls(s.pid()) > writes
    });
    std::thread::sleep(QUIET);
    assert!(s.proc.alive(), "svscan died");
    move_in(&sc, &scan, "a");
    wait_ran(&sc, "a", PICKUP);
    assert!(s.proc.alive());
}
