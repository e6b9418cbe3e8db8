//! `svscan` as a plain process (not PID 1; it makes itself the child subreaper): what runsvdir
//! does (docs/runit-compatibility.md#runsvdir), and where herd deliberately does better
//! (docs/svscan.md, Notes): inotify pickup in milliseconds, a dead supervise restarted at once
//! (at most once a second), signals with no job ignored, and an ordered, bounded shutdown.
//!
//! Every scenario uses `SC/scan` as the scan directory; run scripts write markers to absolute
//! paths in the scenario dir. svscan's stderr (and so every supervise's) goes to
//! `SC/svscan.stderr`.
//!
//! [`faults`] checks that faults of the system (EMFILE, the scan directory removed, SIGSTOP,
//! inotify's queue overflowing) are survived.

mod cmdwait;
mod faults;

use std::ffi::OsStr;
use std::fs::{self, File};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herd_testsupport::*;

/// The pickup bound for anything inotify sees (runsvdir: 1–5 s).
const PICKUP: Duration = Duration::from_secs(1);
/// The environment variable that sets the shutdown bound.
const STOP_ENV: &str = "SVSCAN_STOP_TIMEOUT";

/// A running `svscan`, killed with every descendant (whatever its session) on drop.
struct Svscan {
    proc: Proc,
    stderr: PathBuf,
}

impl Svscan {
    /// `svscan ARGS…` with cwd the scenario dir, stdout on /dev/null, stderr in
    /// `SC/svscan.stderr`, and no `SVSCAN_STOP_TIMEOUT` unless `env` sets it.
    fn start_env<S: AsRef<OsStr>>(sc: &Scenario, args: &[S], env: &[(&str, &str)]) -> Svscan {
        let mut c = Command::new(bin("svscan"));
        c.args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        Self::spawn(sc, c)
    }

    /// Starts `c`, which must exec svscan in the process it starts, as [`Self::start_env`] does.
    fn spawn(sc: &Scenario, mut c: Command) -> Svscan {
        let stderr = sc.join("svscan.stderr");
        c.current_dir(sc.path())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).unwrap());
        if !c.get_envs().any(|(k, _)| k == STOP_ENV) {
            c.env_remove(STOP_ENV);
        }
        Svscan {
            proc: Proc::spawn(c),
            stderr,
        }
    }

    fn start<S: AsRef<OsStr>>(sc: &Scenario, args: &[S]) -> Svscan {
        Self::start_env(sc, args, &[])
    }

    fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// What svscan and its supervise processes wrote to stderr so far.
    fn stderr(&self) -> String {
        read(&self.stderr)
    }

    /// Live supervise children of svscan: (pid, NAME argument), in pid order.
    fn supervisors(&self) -> Vec<(u32, String)> {
        proc_children(self.pid())
            .into_iter()
            .filter_map(|p| {
                let argv = proc_cmdline(p)?;
                match &argv[..] {
                    [prog, name] if prog.ends_with("/supervise") && pid_alive(p) => {
                        Some((p, name.clone()))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Pid of the live supervise started for `name`.
    fn supervise_of(&self, name: &str) -> Option<u32> {
        self.supervisors()
            .into_iter()
            .find(|(_, n)| n == name)
            .map(|(p, _)| p)
    }

    /// Waits for the supervise of `name` and returns its pid.
    #[track_caller]
    fn wait_supervise(&self, name: &str, timeout: Duration) -> u32 {
        wait_until(&format!("a supervise for {name}"), timeout, || {
            self.supervise_of(name)
        })
    }
}

impl Drop for Svscan {
    fn drop(&mut self) {
        if self.proc.alive() {
            kill_tree(self.proc.pid());
        }
    }
}

/// A file's contents, or "" if it does not exist.
fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// A run script that appends `ran` to `SC/marks/NAME.ran`, then sleeps. (Not in SC itself:
/// svscan watches the scan dir's parent, and every file created there makes it rescan.)
fn marker_run(sc: &Scenario, name: &str) -> String {
    let _ = fs::create_dir(sc.join("marks"));
    format!(
        "#!/bin/sh\necho ran >> {}\nexec sleep 1000\n",
        mark(sc, name).display()
    )
}

fn mark(sc: &Scenario, name: &str) -> PathBuf {
    sc.join("marks").join(format!("{name}.ran"))
}

/// Whether the run script made by [`marker_run`] for `name` has run (at least once).
fn ran(sc: &Scenario, name: &str) -> bool {
    runs(sc, name) > 0
}

/// How many times it has run.
fn runs(sc: &Scenario, name: &str) -> usize {
    read(&mark(sc, name)).lines().count()
}

/// Waits for `name`'s marker and asserts the wait took less than `bound`.
#[track_caller]
fn wait_ran(sc: &Scenario, name: &str, bound: Duration) {
    let t0 = Instant::now();
    wait_for(&format!("{name}'s run to run"), bound, || ran(sc, name));
    eprintln!("{name} started after {:?}", t0.elapsed());
}

/// Pids of live processes below `ancestor` whose argv is exactly `argv`.
fn descendants_running(ancestor: u32, argv: &[&str]) -> Vec<u32> {
    proc_descendants(ancestor)
        .into_iter()
        .filter(|&p| pid_alive(p) && proc_cmdline(p).is_some_and(|a| a == argv))
        .collect()
}

/// `SC/scan` with a service `first` (a plain sleep) running under a fresh svscan: once `first`
/// runs, svscan has its watches and has made its first scan.
fn scan_with_first(sc: &Scenario) -> (PathBuf, Svscan) {
    let scan = sc.join("scan");
    sc.service("scan/first", RUN_SLEEP);
    let s = Svscan::start(sc, &[&scan]);
    wait_running(&scan.join("first"));
    (scan, s)
}

// ---------------------------------------------------------------------------------------------
// Command line

#[test]
fn usage_is_runsvdirs_with_t_and_exit_1() {
    let sc = Scenario::new();
    let svscan = bin("svscan");
    let usage = format!(
        "usage: {} [-P] [-t sec] dir [log] [-- command...]\n\n",
        svscan.display()
    );
    for args in [
        &[][..],
        &["-P"],
        &["-t"],
        &["-t", "soon", "scan"],
        &["-t", "-1", "scan"],
    ] {
        sc.cmd(&svscan)
            .args(args)
            .env_remove(STOP_ENV)
            .run()
            .code(1)
            .stdout("")
            .stderr(&usage);
    }
}

#[test]
fn missing_scan_dir_warns_and_keeps_running() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    let mut s = Svscan::start(&sc, &[&scan]);
    let want = format!(
        "svscan {0}: warning: unable to open directory {0}: file does not exist\n",
        scan.display()
    );
    wait_for("the warning", DEADLINE, || s.stderr() == want);
    std::thread::sleep(QUIET);
    assert!(s.proc.alive(), "svscan exited on a missing scan dir");
    assert_eq!(s.stderr(), want);
}

/// docs/svscan.md: "A missing DIR is waited for … svscan watches DIR's parent, so DIR is
/// scanned the moment it is created". And from then on DIR itself is watched: a service added
/// after that starts at once too.
#[test]
fn scan_dir_created_after_start_is_scanned_and_then_watched() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    let s = Svscan::start(&sc, &[&scan]);
    wait_for("the missing-dir warning", DEADLINE, || {
        s.stderr().contains("unable to open directory")
    });
    sc.service("prep/scan/a", &marker_run(&sc, "a"));
    fs::rename(sc.join("prep/scan"), &scan).unwrap();
    wait_ran(&sc, "a", PICKUP);
    sc.service("prep/b", &marker_run(&sc, "b"));
    fs::rename(sc.join("prep/b"), scan.join("b")).unwrap();
    wait_ran(&sc, "b", PICKUP);
}

#[test]
fn scan_dir_that_is_a_file_warns_and_keeps_running() {
    let sc = Scenario::new();
    let file = sc.file("scan", "", 0o644);
    let mut s = Svscan::start(&sc, &[&file]);
    let want = format!(
        "svscan {0}: warning: unable to open directory {0}: not a directory\n",
        file.display()
    );
    wait_for("the warning", DEADLINE, || s.stderr() == want);
    std::thread::sleep(QUIET);
    assert!(s.proc.alive(), "svscan exited on a scan dir that is a file");
    assert_eq!(s.stderr(), want);
}

// ---------------------------------------------------------------------------------------------
// Pickup

#[test]
fn service_moved_in_starts_within_a_second() {
    let sc = Scenario::new();
    let (scan, s) = scan_with_first(&sc);
    sc.service("prep/a", &marker_run(&sc, "a"));
    fs::rename(sc.join("prep/a"), scan.join("a")).unwrap();
    wait_ran(&sc, "a", PICKUP);
    wait_running(&scan.join("a"));
    let names: Vec<String> = s.supervisors().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"a".into()) && names.contains(&"first".into()));
    assert_eq!(runs(&sc, "a"), 1);
    assert_eq!(s.stderr(), "");
}

#[test]
fn service_dir_starts_when_its_run_appears() {
    let sc = Scenario::new();
    let (scan, s) = scan_with_first(&sc);
    fs::create_dir(scan.join("b")).unwrap();
    std::thread::sleep(QUIET);
    // svscan waits for run: no supervise yet (runsvdir would start runsv on the empty dir).
    assert_eq!(s.supervise_of("b"), None);
    assert!(!scan.join("b/supervise").exists());
    let tmp = scan.join("b/run.tmp");
    fs::write(&tmp, marker_run(&sc, "b")).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
    fs::rename(&tmp, scan.join("b/run")).unwrap();
    wait_ran(&sc, "b", PICKUP);
    wait_running(&scan.join("b"));
    assert_eq!(runs(&sc, "b"), 1);
    assert_eq!(s.stderr(), "");
}

/// docs/svscan.md: a service starts once `run` is there "with its owner-execute bit".
#[test]
fn service_starts_when_its_run_becomes_executable() {
    let sc = Scenario::new();
    let (scan, s) = scan_with_first(&sc);
    fs::create_dir(scan.join("b")).unwrap();
    std::thread::sleep(QUIET);
    let run = scan.join("b/run");
    fs::write(&run, marker_run(&sc, "b")).unwrap();
    fs::set_permissions(&run, fs::Permissions::from_mode(0o644)).unwrap();
    std::thread::sleep(QUIET);
    assert_eq!(s.supervise_of("b"), None);
    assert!(!scan.join("b/supervise").exists());
    fs::set_permissions(&run, fs::Permissions::from_mode(0o744)).unwrap();
    wait_ran(&sc, "b", PICKUP);
    assert_eq!(runs(&sc, "b"), 1);
    assert_eq!(s.stderr(), "");
}

#[test]
fn symlink_to_a_service_elsewhere_starts_it_once() {
    let sc = Scenario::new();
    let (scan, s) = scan_with_first(&sc);
    let c = sc.service("elsewhere/c", &marker_run(&sc, "c"));
    symlink(&c, scan.join("c")).unwrap();
    wait_ran(&sc, "c", PICKUP);
    let sup = s.wait_supervise("c", DEADLINE);
    let pid = wait_running(&c);
    // A second link to the same directory is the same service: nothing new starts.
    symlink(&c, scan.join("c2")).unwrap();
    std::thread::sleep(QUIET);
    assert_eq!(s.supervisors().len(), 2, "{:?}", s.supervisors());
    assert_eq!(s.supervise_of("c"), Some(sup));
    assert_eq!(s.supervise_of("c2"), None);
    assert_eq!(wait_running(&c), pid);
    assert_eq!(runs(&sc, "c"), 1);
    assert_eq!(s.stderr(), "");
}

#[test]
fn dot_names_and_plain_files_start_nothing() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/.hidden", &marker_run(&sc, "hidden"));
    sc.script("scan/plain", &marker_run(&sc, "plain"));
    sc.service("scan/first", RUN_SLEEP);
    let s = Svscan::start(&sc, &[&scan]);
    wait_running(&scan.join("first"));
    // Also when they appear while svscan runs.
    sc.service("prep/.late", &marker_run(&sc, "late"));
    fs::rename(sc.join("prep/.late"), scan.join(".late")).unwrap();
    sc.script("scan/plain2", &marker_run(&sc, "plain2"));
    std::thread::sleep(QUIET);
    for name in ["hidden", "plain", "late", "plain2"] {
        assert!(!ran(&sc, name), "{name} ran");
    }
    assert!(!scan.join(".hidden/supervise").exists());
    assert!(!scan.join(".late/supervise").exists());
    let names: Vec<String> = s.supervisors().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["first"]);
    assert_eq!(s.stderr(), "");
}

/// A dangling symlink `scan/d` to `SC/far/d`, and the service that will become its target
/// prepared at `SC/far/prep/d`: `SC/far` exists before svscan starts, so that nothing svscan
/// watches (the scan dir and its parent) sees the target appear.
fn dangling_link(sc: &Scenario) -> (PathBuf, Svscan) {
    sc.service("far/prep/d", &marker_run(sc, "d"));
    let (scan, s) = scan_with_first(sc);
    symlink(sc.join("far/d"), scan.join("d")).unwrap();
    (scan, s)
}

/// docs/svscan.md: "A directory without `run` yet is watched too, and its supervise starts as
/// soon as `run` appears". svscan decides that a directory has no `run` while it reads DIR, and
/// sets the watch on that directory afterwards: a `run` that appears in between must not be
/// missed. 20000 plain files in DIR make each scan long enough for `run` to appear in that
/// window; a service dir is made (`mkdir`), then its complete `run` is renamed into it a little
/// later, 1 ms more each time.
#[test]
fn run_appearing_while_its_dir_is_being_scanned_is_not_missed() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    fs::create_dir(&scan).unwrap();
    for i in 0..20000 {
        File::create(scan.join(format!("f{i:05}"))).unwrap();
    }
    sc.service("scan/first", RUN_SLEEP);
    // Not in SC itself: svscan watches the scan dir's parent too.
    fs::create_dir(sc.join("prep")).unwrap();
    fs::create_dir(sc.join("marks")).unwrap();
    let s = Svscan::start(&sc, &[&scan]);
    wait_running(&scan.join("first"));
    for step in 0..40u64 {
        let name = format!("a{step:02}");
        let tmp = sc.join(format!("prep/{name}.run"));
        fs::write(&tmp, marker_run(&sc, &name)).unwrap();
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        let t0 = Instant::now();
        fs::create_dir(scan.join(&name)).unwrap();
        // Not a wait: where in svscan's scan of DIR the `run` appears.
        std::thread::sleep(Duration::from_millis(step));
        fs::rename(&tmp, scan.join(&name).join("run")).unwrap();
        let deadline = t0 + Duration::from_secs(2);
        while !ran(&sc, &name) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if !ran(&sc, &name) {
            let sup = s.supervise_of(&name);
            // Keep the scenario small for whoever looks at it.
            for i in 0..20000 {
                let _ = fs::remove_file(scan.join(format!("f{i:05}")));
            }
            panic!(
                "{name}: `run` renamed in {step} ms after the mkdir has not run 2 s later \
                 (its supervise: {sup:?})"
            );
        }
        eprintln!("{name}: started {:?} after mkdir", t0.elapsed());
    }
    assert_eq!(s.stderr(), "");
}

/// The one slow test: a dangling symlink has no event to wait for, so it is retried every 5 s.
#[test]
fn dangling_symlink_warns_then_starts_when_its_target_appears() {
    let sc = Scenario::new();
    let (scan, s) = dangling_link(&sc);
    let want = format!(
        "svscan {}: warning: unable to stat d: file does not exist\n",
        scan.display()
    );
    wait_for("the dangling-symlink warning", DEADLINE, || {
        s.stderr() == want
    });
    fs::rename(sc.join("far/prep/d"), sc.join("far/d")).unwrap();
    wait_ran(&sc, "d", Duration::from_secs(6));
    s.wait_supervise("d", DEADLINE);
    assert_eq!(runs(&sc, "d"), 1);
    assert_eq!(s.stderr(), want);
}

// ---------------------------------------------------------------------------------------------
// Removal, rename, switched scan dir

#[test]
fn service_moved_out_gets_its_supervise_termed_and_stopped() {
    let sc = Scenario::new();
    // Made before svscan starts: this is not about pickup. And `away` too: made in SC, it
    // would start a scan that could read `a` just before it leaves ("unable to stat a").
    sc.service("scan/a", &marker_run(&sc, "a"));
    fs::create_dir(sc.join("away")).unwrap();
    let (scan, s) = scan_with_first(&sc);
    wait_ran(&sc, "a", DEADLINE);
    let pid = wait_running(&scan.join("a"));
    let sup = s.wait_supervise("a", DEADLINE);
    fs::rename(scan.join("a"), sc.join("away/a")).unwrap();
    wait_for("a's service to stop", DEADLINE, || !pid_alive(pid));
    // Reaped by svscan, not left a zombie.
    wait_for("a's supervise to exit and be reaped", DEADLINE, || {
        proc_state(sup).is_none()
    });
    assert_eq!(
        fs::read_to_string(sc.join("away/a/supervise/stat")).unwrap(),
        "down\n"
    );
    std::thread::sleep(QUIET);
    let names: Vec<String> = s.supervisors().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["first"]);
    assert_eq!(runs(&sc, "a"), 1);
    assert_eq!(s.stderr(), "");
}

#[test]
fn renamed_service_keeps_its_supervise_and_its_process() {
    let sc = Scenario::new();
    // Made before svscan starts: this is not about pickup.
    sc.service("scan/a", &marker_run(&sc, "a"));
    let (scan, s) = scan_with_first(&sc);
    let pid = wait_running(&scan.join("a"));
    let sup = s.wait_supervise("a", DEADLINE);
    fs::rename(scan.join("a"), scan.join("b")).unwrap();
    std::thread::sleep(QUIET);
    assert_eq!(s.supervisors().len(), 2, "{:?}", s.supervisors());
    assert_eq!(s.supervise_of("a"), Some(sup));
    assert_eq!(wait_running(&scan.join("b")), pid);
    assert!(supervisor_alive(&scan.join("b")));
    assert_eq!(runs(&sc, "a"), 1);
    assert_eq!(s.stderr(), "");
}

#[test]
fn switching_a_symlinked_scan_dir_starts_the_new_and_stops_the_old() {
    let sc = Scenario::new();
    sc.service("one/x", &marker_run(&sc, "x"));
    sc.service("two/y", &marker_run(&sc, "y"));
    let link = sc.join("scan");
    symlink("one", &link).unwrap();
    let s = Svscan::start(&sc, &[&link]);
    wait_ran(&sc, "x", DEADLINE);
    let x = wait_running(&sc.join("one/x"));
    let sup_x = s.wait_supervise("x", DEADLINE);
    // `ln -s two tmp && mv -T tmp scan`: one atomic switch.
    symlink("two", sc.join("scan.tmp")).unwrap();
    fs::rename(sc.join("scan.tmp"), &link).unwrap();
    wait_ran(&sc, "y", PICKUP);
    wait_running(&sc.join("two/y"));
    wait_for("x's service to stop", DEADLINE, || !pid_alive(x));
    wait_for("x's supervise to exit", DEADLINE, || {
        proc_state(sup_x).is_none()
    });
    let names: Vec<String> = s.supervisors().into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["y"]);
    assert_eq!((runs(&sc, "x"), runs(&sc, "y")), (1, 1));
    assert_eq!(s.stderr(), "");
}

// ---------------------------------------------------------------------------------------------
// Supervisors and orphans

#[test]
fn killed_supervise_is_replaced_and_the_service_runs_exactly_once() {
    let sc = Scenario::new();
    let argv = ["sleep", "1037"];
    sc.service("scan/a", "#!/bin/sh\nexec sleep 1037\n");
    let (scan, s) = scan_with_first(&sc);
    let old = wait_running(&scan.join("a"));
    // Until it has exec'd, the service is a copy of supervise: killed now, it would be
    // re-parented to svscan looking like a supervise.
    wait_for("a to exec sleep", DEADLINE, || {
        proc_cmdline(old).is_some_and(|a| a == argv)
    });
    let sup = s.wait_supervise("a", DEADLINE);
    signal(sup, libc::SIGKILL);
    let t0 = Instant::now();
    let new_sup = wait_until("a new supervise for a", Duration::from_millis(1500), || {
        s.supervise_of("a").filter(|&p| p != sup)
    });
    eprintln!("new supervise after {:?}", t0.elapsed());
    let new = wait_until("a new instance of a", DEADLINE, || {
        status(&scan.join("a"))
            .filter(|st| st.state == State::Run)
            .and_then(|st| st.pid)
            .map(|p| p.get())
            .filter(|&p| p != old)
    });
    // The orphan of the killed supervise was stopped (and reaped by svscan, the subreaper).
    wait_for("the old instance to be gone", DEADLINE, || {
        proc_state(old).is_none()
    });
    std::thread::sleep(QUIET);
    assert_eq!(descendants_running(s.pid(), &argv), [new], "{}", s.stderr());
    assert_eq!(s.supervise_of("a"), Some(new_sup), "{}", s.stderr());
    assert_eq!(
        s.stderr(),
        format!("supervise a: warning: stopping process left by a previous supervise: pid {old}\n")
    );
}

#[test]
fn supervise_that_dies_at_once_is_restarted_once_a_second() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/bad", RUN_SLEEP);
    // supervise exits 111 at once: "supervise/control exists but is not a fifo".
    sc.file("scan/bad/supervise/control", "", 0o600);
    let s = Svscan::start(&sc, &[&scan]);
    let line = "supervise bad: fatal: supervise/control exists but is not a fifo\n";
    let count = || s.stderr().matches(line).count();
    wait_for("supervise's first failure", DEADLINE, || count() >= 1);
    let t0 = Instant::now();
    let mut seen = vec![Duration::ZERO];
    while t0.elapsed() < Duration::from_millis(2500) {
        if count() > seen.len() {
            seen.push(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let total = count();
    assert!(
        (2..=4).contains(&total),
        "{total} starts of supervise in 2.5 s, at {seen:?}\n{}",
        s.stderr()
    );
    for w in seen.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= Duration::from_millis(900) && gap <= Duration::from_millis(1500),
            "restarts at {seen:?}: not about once a second"
        );
    }
    assert_eq!(s.stderr(), line.repeat(total));
}

#[test]
fn orphans_of_services_come_to_svscan_and_are_reaped() {
    let sc = Scenario::new();
    let pidfile = sc.join("orphan.pid");
    sc.service(
        "scan/a",
        &format!(
            "#!/bin/sh\n(sleep 1 </dev/null >/dev/null 2>&1 & echo $! > {0}.tmp; mv {0}.tmp {0})\nexec sleep 1000\n",
            pidfile.display()
        ),
    );
    let (scan, s) = scan_with_first(&sc);
    wait_running(&scan.join("a"));
    let orphan: u32 = wait_until("the orphan's pid", DEADLINE, || {
        read(&pidfile).trim().parse().ok()
    });
    wait_for("the orphan to be re-parented to svscan", DEADLINE, || {
        proc_ppid(orphan) == Some(s.pid())
    });
    wait_for("the orphan to exit", DEADLINE, || !pid_alive(orphan));
    wait_for(
        "the orphan to be reaped",
        Duration::from_millis(200),
        || proc_state(orphan).is_none(),
    );
    assert_eq!(s.stderr(), "");
}

#[test]
fn dash_p_puts_each_supervise_in_its_own_session() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/a", RUN_SLEEP);
    sc.service("scan/b", RUN_SLEEP);
    let s = Svscan::start(&sc, &[Path::new("-P"), scan.as_path()]);
    let a = wait_running(&scan.join("a"));
    wait_running(&scan.join("b"));
    for name in ["a", "b"] {
        let sup = s.wait_supervise(name, DEADLINE);
        assert_eq!(proc_pgid_sid(sup), Some((sup, sup)), "supervise {name}");
    }
    // The service shares its supervise's group and session.
    let sup_a = s.supervise_of("a").unwrap();
    assert_eq!(proc_pgid_sid(a), Some((sup_a, sup_a)));
}

#[test]
fn without_dash_p_supervise_shares_svscans_process_group() {
    let sc = Scenario::new();
    let (scan, s) = scan_with_first(&sc);
    let pid = wait_running(&scan.join("first"));
    let sup = s.wait_supervise("first", DEADLINE);
    let mine = proc_pgid_sid(s.pid()).unwrap();
    // Proc::spawn made svscan a process-group leader.
    assert_eq!(mine.0, s.pid());
    assert_eq!(proc_pgid_sid(sup), Some(mine));
    assert_eq!(proc_pgid_sid(pid), Some(mine));
}

/// svscan and each supervise ask for the shortest scheduler slice (100 µs) so that an event
/// runs them at once on a busy machine; the services get the default slice, this test's
/// (docs/svscan.md, "Notes").
#[test]
fn svscan_and_supervise_have_a_short_slice_and_services_the_default() {
    let default = proc_sched_slice_ns(std::process::id());
    assert_ne!(
        default, 100_000,
        "this test must run with the default slice"
    );
    let sc = Scenario::new();
    let (scan, s) = scan_with_first(&sc);
    let pid = wait_running(&scan.join("first"));
    let sup = s.wait_supervise("first", DEADLINE);
    assert_eq!(proc_sched_slice_ns(s.pid()), 100_000, "svscan");
    assert_eq!(proc_sched_slice_ns(sup), 100_000, "supervise");
    assert_eq!(proc_sched_slice_ns(pid), default, "the service");
}

// ---------------------------------------------------------------------------------------------
// Signals

#[test]
fn alrm_rescans_at_once_and_does_not_kill() {
    let sc = Scenario::new();
    // A dangling symlink is otherwise looked at again only after 5 s: ALRM makes it now.
    let (_scan, mut s) = dangling_link(&sc);
    wait_for("the dangling-symlink warning", DEADLINE, || {
        s.stderr().contains("unable to stat d")
    });
    fs::rename(sc.join("far/prep/d"), sc.join("far/d")).unwrap();
    std::thread::sleep(QUIET);
    assert!(!ran(&sc, "d"), "d started without a rescan");
    s.proc.signal(libc::SIGALRM);
    wait_ran(&sc, "d", PICKUP);
    assert!(s.proc.alive(), "SIGALRM killed svscan");
    assert_eq!(runs(&sc, "d"), 1);
}

#[test]
fn signals_with_no_job_are_ignored() {
    let sc = Scenario::new();
    let (scan, mut s) = scan_with_first(&sc);
    let pid = wait_running(&scan.join("first"));
    let sup = s.wait_supervise("first", DEADLINE);
    for sig in [
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGQUIT,
        libc::SIGPIPE,
        libc::SIGWINCH,
        libc::SIGVTALRM,
        libc::SIGPROF,
        libc::SIGXCPU,
    ] {
        s.proc.signal(sig);
    }
    std::thread::sleep(QUIET);
    assert!(s.proc.alive(), "a signal with no job killed svscan");
    assert_eq!(s.supervise_of("first"), Some(sup));
    assert_eq!(wait_running(&scan.join("first")), pid);
    // And svscan still works: a new service starts.
    sc.service("prep/a", &marker_run(&sc, "a"));
    fs::rename(sc.join("prep/a"), scan.join("a")).unwrap();
    wait_ran(&sc, "a", PICKUP);
    assert_eq!(s.stderr(), "");
}

/// A service with a logger and a backgrounded job that traps TERM: the ordered shutdown.
fn service_with_log_and_job(sc: &Scenario, name: &str) {
    let dir = sc.path().display();
    sc.service(
        &format!("scan/{name}"),
        &format!(
            "#!/bin/sh\n\
             (trap 'echo {name} job got TERM >> {dir}/term.txt; exit 0' TERM\n\
             while :; do sleep 0.05; done) </dev/null >/dev/null 2>&1 &\n\
             trap 'echo {name} got TERM >> {dir}/term.txt; echo {name} last line; exit 0' TERM\n\
             echo {name} first line\n\
             echo {name} >> {dir}/up.txt\n\
             while :; do sleep 0.05; done\n"
        ),
    );
    sc.script(
        format!("scan/{name}/log/run"),
        &format!("#!/bin/sh\nexec cat >> {dir}/{name}.log\n"),
    );
}

/// SIGTERM (or INT, or HUP) to a plain svscan: every service stopped, its logger drained, its
/// orphans stopped, nothing left; the exit code says which signal.
fn ordered_shutdown(sig: i32, code: i32) {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    for name in ["a", "b", "c"] {
        service_with_log_and_job(&sc, name);
    }
    let mut s = Svscan::start(&sc, &[&scan]);
    wait_for("every service up", DEADLINE, || {
        read(&sc.join("up.txt")).lines().count() == 3
    });
    wait_for("every logger running", DEADLINE, || {
        ["a", "b", "c"]
            .iter()
            .all(|n| read(&sc.join(format!("{n}.log"))) == format!("{n} first line\n"))
    });
    let t0 = Instant::now();
    s.proc.signal(sig);
    assert_eq!(s.proc.wait(Duration::from_secs(10)), Some(code));
    let took = t0.elapsed();
    eprintln!("shutdown took {took:?}");
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    let mut term: Vec<String> = read(&sc.join("term.txt"))
        .lines()
        .map(String::from)
        .collect();
    term.sort();
    assert_eq!(
        term,
        [
            "a got TERM",
            "a job got TERM",
            "b got TERM",
            "b job got TERM",
            "c got TERM",
            "c job got TERM"
        ]
    );
    for n in ["a", "b", "c"] {
        assert_eq!(
            read(&sc.join(format!("{n}.log"))),
            format!("{n} first line\n{n} last line\n")
        );
    }
    assert_eq!(pids_with_cwd_under(sc.path()), Vec::<u32>::new());
    assert_eq!(s.stderr(), "");
}

#[test]
fn term_stops_everything_in_order_and_exits_0() {
    ordered_shutdown(libc::SIGTERM, 0);
}

#[test]
fn int_stops_everything_in_order_and_exits_0() {
    ordered_shutdown(libc::SIGINT, 0);
}

#[test]
fn hup_stops_everything_in_order_and_exits_111() {
    ordered_shutdown(libc::SIGHUP, 111);
}

/// A TERM-ignoring service holds the shutdown for three quarters of the bound, then it is
/// SIGKILLed and the rest of the stop is quick.
fn bounded_shutdown(args: &[&str], env: &[(&str, &str)], bound: Duration) {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service(
        "scan/stub",
        &format!(
            "#!/bin/sh\ntrap '' TERM\necho up > {}/stub.up\nwhile :; do sleep 0.05; done\n",
            sc.path().display()
        ),
    );
    sc.service("scan/ok", RUN_SLEEP);
    let mut argv: Vec<&Path> = args.iter().map(Path::new).collect();
    argv.push(&scan);
    let mut s = Svscan::start_env(&sc, &argv, env);
    wait_for("stub up", DEADLINE, || sc.join("stub.up").exists());
    wait_running(&scan.join("ok"));
    let t0 = Instant::now();
    s.proc.signal(libc::SIGTERM);
    assert_eq!(s.proc.wait(Duration::from_secs(10)), Some(124));
    let took = t0.elapsed();
    eprintln!("bound {bound:?}: shutdown took {took:?}");
    assert!(
        took >= bound * 3 / 4 && took < bound + Duration::from_millis(200),
        "bound {bound:?}, shutdown took {took:?}"
    );
    assert_eq!(pids_with_cwd_under(sc.path()), Vec::<u32>::new());
    assert_eq!(
        s.stderr(),
        format!(
            "svscan {}: warning: stub did not stop in time: killed\n",
            scan.display()
        )
    );
}

#[test]
fn stop_bound_comes_from_the_environment() {
    bounded_shutdown(&[], &[(STOP_ENV, "1")], Duration::from_secs(1));
}

#[test]
fn dash_t_wins_over_the_environment_and_takes_decimals() {
    bounded_shutdown(
        &["-t", "0.5"],
        &[(STOP_ENV, "30")],
        Duration::from_millis(500),
    );
}

// ---------------------------------------------------------------------------------------------
// Signal state of children

const CLEAN_MASK: &str = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n";

/// A run script that records its SigBlk and SigIgn lines in `SC/mask.txt`.
fn mask_run(sc: &Scenario) -> String {
    let out = sc.join("mask.txt");
    format!(
        "#!/bin/sh\ngrep -E '^(SigBlk|SigIgn)' /proc/self/status > {0}.tmp\nmv {0}.tmp {0}\nexec sleep 1000\n",
        out.display()
    )
}

/// The SigBlk and SigIgn lines the run script made by [`mask_run`] wrote.
#[track_caller]
fn recorded_mask(sc: &Scenario) -> String {
    let got = wait_until("mask.txt", DEADLINE, || {
        fs::read_to_string(sc.join("mask.txt")).ok()
    });
    without_glibc_internal_signals(&got)
}

/// svscan blocks 19 signals for its signalfd: its children get an empty mask, and no ignored
/// signal. svscan is started through `env --default-signal`, so that it starts with every signal
/// at its default action (but glibc's internal ones: see
/// [`without_glibc_internal_signals`]).
#[test]
fn services_start_with_an_empty_signal_mask() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/m", &mask_run(&sc));
    let mut c = Command::new("/usr/bin/env");
    c.arg("--default-signal").arg(bin("svscan")).arg(&scan);
    let _s = Svscan::spawn(&sc, c);
    assert_eq!(recorded_mask(&sc), CLEAN_MASK);
}

/// docs/svscan.md: "Children start with an empty signal mask and default signal actions", also
/// when svscan itself was started with signals ignored (`svscan DIR &` from a script ignores
/// INT and QUIT; `nohup` ignores HUP).
#[test]
fn signals_ignored_when_svscan_started_are_default_in_services() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/m", &mask_run(&sc));
    let mut c = Command::new("/bin/sh");
    c.arg("-c").arg(format!(
        "trap '' INT QUIT USR2; exec {} {}",
        bin("svscan").display(),
        scan.display()
    ));
    let _s = Svscan::spawn(&sc, c);
    assert_eq!(recorded_mask(&sc), CLEAN_MASK);
}

// ---------------------------------------------------------------------------------------------
// The readproctitle log argument (docs/runit-compatibility.md#runsvdir-the-log-argument)

/// stderr of svscan and of everything below it scrolls through the `log` argument in place: the
/// first five characters stay, the rest shows the latest bytes (what `ps` then displays).
#[test]
fn log_argument_shows_the_latest_stderr_bytes_in_place() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service(
        "scan/e",
        "#!/bin/sh\necho 'some error message' >&2\nexec sleep 1000\n",
    );
    let log = format!("log: {}", ".".repeat(30));
    let s = Svscan::start(&sc, &[scan.as_os_str(), OsStr::new(&log)]);
    let want = format!(
        "log: {}some error message\n",
        ".".repeat(30 - "some error message\n".len())
    );
    wait_until("the message in svscan's argv", DEADLINE, || {
        let argv = proc_cmdline(s.pid())?;
        (argv.last() == Some(&want)).then_some(())
    });
    // The argument keeps its length: argv[2] is exactly as long as it was given.
    assert_eq!(want.len(), log.len());
    // svscan's own stderr went into the window, not to its original stderr.
    assert_eq!(s.stderr(), "");
}

#[test]
fn log_argument_shorter_than_seven_characters_is_refused() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/a", RUN_SLEEP);
    let s = Svscan::start(&sc, &[scan.as_os_str(), OsStr::new("log: x")]);
    wait_running(&scan.join("a"));
    let p = scan.display();
    let want = format!(
        "svscan {p}: warning: log must have at least seven characters.\nsvscan {p}: warning: log service disabled.\n"
    );
    wait_for("the two warnings", DEADLINE, || s.stderr() == want);
}

/// Without inotify (SVSCAN_INOTIFY=0, or no kernel support) svscan rescans every 5 s, as runsvdir.
#[test]
fn without_inotify_a_new_service_is_found_by_the_5_second_rescan() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/first", RUN_SLEEP);
    let s = Svscan::start_env(&sc, &[&scan], &[("SVSCAN_INOTIFY", "0")]);
    wait_running(&scan.join("first"));
    sc.service("prep/late", RUN_SLEEP);
    std::fs::rename(sc.join("prep/late"), scan.join("late")).expect("mv into the scan dir");
    std::thread::sleep(QUIET);
    assert!(
        s.supervise_of("late").is_none(),
        "picked up at once: inotify was used"
    );
    s.wait_supervise("late", Duration::from_secs(6));
    wait_running(&scan.join("late"));
    assert_eq!(s.stderr(), "");
}

/// HERD_TRACE=1 shows each decision: svscan's events and effects (a directory without `run` is
/// scanned as not ready and gets no supervise) and, inherited, supervise's; without it, nothing.
#[test]
fn herd_trace_shows_each_decision_and_is_off_by_default() {
    for trace in [true, false] {
        let sc = Scenario::new();
        let scan = sc.join("scan");
        sc.service("scan/web", RUN_SLEEP);
        fs::create_dir_all(scan.join("norun")).unwrap();
        let env: &[(&str, &str)] = if trace { &[("HERD_TRACE", "1")] } else { &[] };
        let mut s = Svscan::start_env(&sc, &[&scan], env);
        let run = wait_running(&scan.join("web"));
        let sup = s.wait_supervise("web", DEADLINE);
        s.proc.signal(libc::SIGTERM);
        assert_eq!(s.proc.wait(DEADLINE), Some(0));
        let err = s.stderr();
        if !trace {
            assert_eq!(err, "");
            continue;
        }
        let svscan = format!("svscan {}: trace: ", scan.display());
        let ours: Vec<&str> = err
            .lines()
            .filter_map(|l| l.strip_prefix(svscan.as_str()))
            .collect();
        assert_eq!(ours.first(), Some(&"event Begin"), "{err}");
        assert_eq!(ours.last(), Some(&"effect Exit(0)"), "{err}");
        let scanned = ours
            .iter()
            .find(|l| l.starts_with("event Scanned"))
            .unwrap_or_else(|| panic!("no scan in {err}"));
        assert!(
            scanned.contains("name: \"norun\", id: (")
                && scanned.contains("), ready: false }")
                && scanned.contains("name: \"web\", id: (")
                && scanned.contains("), ready: true }"),
            "{scanned}"
        );
        assert_eq!(
            ours.iter()
                .filter(|l| l.starts_with("effect StartSupervise"))
                .count(),
            1,
            "{err}"
        );
        assert!(
            ours.contains(&format!("effect Signal({sup}, Term)").as_str()),
            "{err}"
        );
        let web = "supervise web: trace: ";
        let theirs: Vec<&str> = err.lines().filter_map(|l| l.strip_prefix(web)).collect();
        assert_eq!(
            theirs[..3],
            [
                "start: down false, log none, essential None",
                "effect publish: Main down",
                &format!("effect spawn: Main Run: {run}"),
            ],
            "{err}"
        );
        assert!(theirs.contains(&"event SIGTERM"), "{err}");
        assert_eq!(theirs.last(), Some(&"effect publish: Main down"), "{err}");
        assert_eq!(
            err.lines()
                .filter(|l| !l.starts_with(&svscan) && !l.starts_with(web))
                .count(),
            0,
            "{err}"
        );
    }
}
