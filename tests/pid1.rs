//! `svscan` as the init of a pid namespace (`unshare --pid --fork --mount-proc`), the way it
//! runs as a container's PID 1: zombies reaped at once, SIGTERM/SIGINT/SIGHUP stop every
//! service in order (loggers drained, backgrounded grandchildren given their TERM) within one
//! bound, signals with no job ignored, children started with a clean signal state
//! (docs/runit-compatibility.md#pid-1-in-a-container; docs/svscan.md).
//!
//! The namespace's processes are seen from the host: their host pids, `/proc/PID/ns/pid`, and
//! the files their run scripts write in the scenario dir (same filesystem). svscan's exit code is
//! unshare's. Killing unshare's process group kills svscan, and with it the whole namespace.

mod deps;
mod policy;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herd_testsupport::*;

/// The environment variable that sets the shutdown bound.
const STOP_ENV: &str = "SVSCAN_STOP_TIMEOUT";

/// svscan as PID 1 of a fresh pid namespace. Dropping it kills unshare's process group (unshare
/// and svscan), which ends the namespace.
pub(crate) struct Ns {
    /// `unshare`.
    proc: Proc,
    /// svscan's host pid.
    init: u32,
    /// svscan's pid namespace (`pid:[N]`).
    ns: String,
    stderr: PathBuf,
}

impl Ns {
    /// `unshare --pid --fork --mount-proc --kill-child svscan ARGS…`, cwd the scenario dir,
    /// stdout on /dev/null, stderr in `SC/svscan.stderr`, no `SVSCAN_STOP_TIMEOUT`.
    pub(crate) fn start(sc: &Scenario, args: &[&str]) -> Ns {
        Self::start_via(sc, &[], args)
    }

    /// The same, with `unshare` started through `via` (e.g. `env --default-signal`), which
    /// must exec it in the process it starts.
    pub(crate) fn start_via(sc: &Scenario, via: &[&str], args: &[&str]) -> Ns {
        let svscan = bin("svscan");
        let stderr = sc.join("svscan.stderr");
        let unshare = peer("/usr/bin/unshare");
        let mut c = match via.split_first() {
            Some((prog, rest)) => {
                let mut c = Command::new(prog);
                c.args(rest).arg(&unshare);
                c
            }
            None => Command::new(&unshare),
        };
        c.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(&svscan)
            .args(args)
            .current_dir(sc.path())
            .env_remove(STOP_ENV)
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).unwrap());
        let proc = Proc::spawn(c);
        let want = svscan.to_string_lossy().into_owned();
        let init = wait_until("svscan to run under unshare", DEADLINE, || {
            proc_children(proc.pid())
                .into_iter()
                .find(|&p| proc_cmdline(p).is_some_and(|a| a.first() == Some(&want)))
        });
        // NSpid: the host pid, then the pid in the new namespace.
        let nspid = proc_status_line(init, "NSpid").unwrap();
        assert_eq!(
            nspid,
            format!("{init}\t1"),
            "svscan is not PID 1 of its namespace"
        );
        let ns = pid_ns(init).unwrap();
        assert_ne!(pid_ns(std::process::id()).unwrap(), ns);
        Ns {
            proc,
            init,
            ns,
            stderr,
        }
    }

    /// Sends `sig` to svscan (PID 1 inside).
    pub(crate) fn signal(&self, sig: i32) {
        signal(self.init, sig);
    }

    /// svscan's host pid.
    pub(crate) fn init(&self) -> u32 {
        self.init
    }

    /// Waits (bounded) for svscan, and so unshare, to exit; returns the exit code.
    #[track_caller]
    pub(crate) fn wait(&mut self, timeout: Duration) -> Option<i32> {
        self.proc.wait(timeout)
    }

    /// Host pids of every process of the namespace, zombies included.
    pub(crate) fn pids(&self) -> Vec<u32> {
        pids_in_ns(&self.ns)
    }

    /// Zombies in the namespace.
    fn zombies(&self) -> Vec<u32> {
        self.pids()
            .into_iter()
            .filter(|&p| proc_state(p) == Some('Z'))
            .collect()
    }

    /// Live processes of the namespace whose argv is exactly `argv`.
    fn running(&self, argv: &[&str]) -> Vec<u32> {
        self.pids()
            .into_iter()
            .filter(|&p| pid_alive(p) && proc_cmdline(p).is_some_and(|a| a == argv))
            .collect()
    }

    pub(crate) fn stderr(&self) -> String {
        read(&self.stderr)
    }

    /// Sends `sig` to svscan and waits for it (and so unshare) to exit; returns its exit code and
    /// how long that took. Afterwards the namespace is empty, and nothing the scenario started
    /// is left anywhere.
    #[track_caller]
    pub(crate) fn stop(
        &mut self,
        sc: &Scenario,
        sig: i32,
        timeout: Duration,
    ) -> (Option<i32>, Duration) {
        let t0 = Instant::now();
        self.signal(sig);
        let code = self.proc.wait(timeout);
        let took = t0.elapsed();
        eprintln!("svscan exited {code:?} after {took:?}");
        assert_eq!(self.pids(), Vec::<u32>::new(), "namespace not empty");
        assert_eq!(pids_with_cwd_under(sc.path()), Vec::<u32>::new());
        (code, took)
    }
}

/// A file's contents, or "" if it does not exist.
fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// Sorted lines of a file.
fn sorted_lines(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = read(p).lines().map(String::from).collect();
    v.sort();
    v
}

/// Waits until `SC/up.txt` has `n` lines (each service writes its name there once its trap is
/// set).
#[track_caller]
fn wait_up(sc: &Scenario, n: usize) {
    wait_for(&format!("{n} services up"), DEADLINE, || {
        read(&sc.join("up.txt")).lines().count() == n
    });
}

/// A service `scan/NAME` whose run traps TERM: it appends `NAME got TERM` to `SC/term.txt`,
/// prints `NAME last line` to its logger and exits 0. Its logger appends to `SC/NAME.log`. A
/// backgrounded sleep (not on the log pipe) is left for svscan's leftover stage.
fn polite_service(sc: &Scenario, name: &str) {
    let dir = sc.path().display();
    sc.service(
        &format!("scan/{name}"),
        &format!(
            "#!/bin/sh\n\
             trap 'echo {name} got TERM >> {dir}/term.txt; echo {name} last line; exit 0' TERM\n\
             echo {name} first line\n\
             sleep 1000 </dev/null >/dev/null 2>&1 &\n\
             echo {name} >> {dir}/up.txt\n\
             wait\n"
        ),
    );
    sc.script(
        format!("scan/{name}/log/run"),
        &format!("#!/bin/sh\nexec cat >> {dir}/{name}.log\n"),
    );
}

/// Waits until every logger of `names` has logged its service's first line.
#[track_caller]
fn wait_loggers(sc: &Scenario, names: &[String]) {
    wait_for("every logger running", DEADLINE, || {
        names
            .iter()
            .all(|n| read(&sc.join(format!("{n}.log"))) == format!("{n} first line\n"))
    });
}

/// The service names `s00`, `s01`, ….
fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("s{i:02}")).collect()
}

#[test]
fn zombie_storm_is_reaped_at_once() {
    let sc = Scenario::new();
    let dir = sc.path().display();
    sc.service(
        "scan/storm",
        &format!(
            "#!/bin/sh\n\
             (sleep 999 </dev/null >/dev/null 2>&1 &)\n\
             for i in $(seq 500); do (sh -c 'exit 0' &); done\n\
             echo done > {dir}/storm.done\n\
             exec sleep 1000\n"
        ),
    );
    let ns = Ns::start(&sc, &[sc.join("scan").to_str().unwrap()]);
    // The long-lived orphan shows where orphans go: to PID 1.
    let orphan = wait_until("the long-lived orphan", DEADLINE, || {
        ns.running(&["sleep", "999"]).first().copied()
    });
    wait_for("the orphan to be re-parented to PID 1", DEADLINE, || {
        proc_ppid(orphan) == Some(ns.init)
    });
    let mut most = 0;
    wait_for("the storm to end", Duration::from_secs(20), || {
        most = most.max(ns.zombies().len());
        sc.join("storm.done").exists()
    });
    let svscan = bin("svscan").to_string_lossy().into_owned();
    let supervise = bin("supervise").to_string_lossy().into_owned();
    let mut want = vec![
        vec![svscan, sc.join("scan").to_string_lossy().into_owned()],
        vec!["svscan-fork".into()],
        vec![supervise, "storm".into()],
        vec!["sleep".into(), "1000".into()],
        vec!["sleep".into(), "999".into()],
    ];
    want.sort();
    // What is left: exactly these five processes (svscan's forker is one: docs/svscan.md, "The
    // forker"), no zombie (a zombie's cmdline is empty).
    let argvs = || {
        let mut v: Vec<Vec<String>> = ns.pids().into_iter().filter_map(proc_cmdline).collect();
        v.sort();
        v
    };
    let t0 = Instant::now();
    wait_for(
        "no zombie and no orphan left",
        Duration::from_secs(1),
        || {
            most = most.max(ns.zombies().len());
            ns.zombies().is_empty() && argvs() == want
        },
    );
    eprintln!(
        "storm cleared {:?} after its end; most zombies seen at once: {most}",
        t0.elapsed()
    );
    assert_eq!(argvs(), want);
}

#[test]
fn run_script_gets_its_own_childrens_exit_codes() {
    // PID 1 reaps orphans only: a run script waiting for its own children gets their codes.
    let sc = Scenario::new();
    let dir = sc.path().display();
    sc.service(
        "scan/w",
        &format!(
            "#!/bin/sh\n\
             for i in $(seq 1 20); do sh -c \"sleep 0.1; exit $i\" & eval p$i=\\$!; done\n\
             for i in $(seq 1 20); do eval wait \\$p$i; echo $?; done > {dir}/codes.tmp\n\
             mv {dir}/codes.tmp {dir}/codes\n\
             exec sleep 1000\n"
        ),
    );
    let mut ns = Ns::start(&sc, &[sc.join("scan").to_str().unwrap()]);
    let codes = wait_until("codes", DEADLINE, || {
        fs::read_to_string(sc.join("codes")).ok()
    });
    let want: String = (1..=20).map(|i| format!("{i}\n")).collect();
    assert_eq!(codes, want);
    assert_eq!(ns.stop(&sc, libc::SIGTERM, DEADLINE).0, Some(0));
}

#[test]
fn term_stops_every_service_then_its_logger_and_exits_0() {
    let sc = Scenario::new();
    let names = names(20);
    for n in &names {
        polite_service(&sc, n);
    }
    let mut ns = Ns::start(&sc, &[sc.join("scan").to_str().unwrap()]);
    wait_up(&sc, names.len());
    wait_loggers(&sc, &names);
    let (code, took) = ns.stop(&sc, libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    let want: Vec<String> = names.iter().map(|n| format!("{n} got TERM")).collect();
    assert_eq!(sorted_lines(&sc.join("term.txt")), want);
    for n in &names {
        assert_eq!(
            read(&sc.join(format!("{n}.log"))),
            format!("{n} first line\n{n} last line\n"),
            "{n}'s log"
        );
    }
    assert_eq!(ns.stderr(), "");
}

/// A supervise that has closed its log pipe on the way out tells svscan (a `PID -` notice), and
/// svscan looks for orphans at once: the backgrounded `sleep` that holds the pipe gets its TERM
/// without waiting for the next 10 ms sweep (docs/svscan.md, "Shutdown").
#[test]
fn a_draining_logger_has_the_orphan_on_its_pipe_signalled_at_once() {
    let sc = Scenario::new();
    let dir = sc.path().display();
    sc.service(
        "scan/web",
        &format!(
            "#!/bin/sh\n\
             trap 'echo web last line; exit 0' TERM\n\
             echo web first line\n\
             sleep 1000 &\n\
             echo web >> {dir}/up.txt\n\
             wait\n"
        ),
    );
    sc.script(
        "scan/web/log/run",
        &format!("#!/bin/sh\nexec cat >> {dir}/web.log\n"),
    );
    let scan = sc.join("scan");
    let scan = scan.to_str().unwrap();
    let mut ns = Ns::start_via(&sc, &["/usr/bin/env", "HERD_TRACE=1"], &[scan]);
    wait_up(&sc, 1);
    wait_loggers(&sc, &["web".to_string()]);
    let (code, _) = ns.stop(&sc, libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(read(&sc.join("web.log")), "web first line\nweb last line\n");
    let prefix = format!("svscan {scan}: trace: ");
    let stderr = ns.stderr();
    let svscan: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect();
    let Some(at) = svscan.iter().position(|l| l.starts_with("event Draining(")) else {
        panic!("no drain notice in svscan's trace:\n{}", svscan.join("\n"));
    };
    let next = svscan[at..].iter().find(|l| l.starts_with("effect "));
    assert_eq!(next, Some(&"effect FindOrphans"), "{}", svscan.join("\n"));
}

#[test]
fn term_ignoring_service_is_killed_at_the_bound_and_exit_is_124() {
    let sc = Scenario::new();
    let dir = sc.path().display();
    let names = names(19);
    for n in &names {
        polite_service(&sc, n);
    }
    sc.service(
        "scan/stub",
        &format!(
            "#!/bin/sh\ntrap '' TERM\necho stub >> {dir}/up.txt\nwhile :; do sleep 0.1; done\n"
        ),
    );
    let scan = sc.join("scan");
    let mut ns = Ns::start(&sc, &["-t", "2", scan.to_str().unwrap()]);
    wait_up(&sc, names.len() + 1);
    wait_loggers(&sc, &names);
    let (code, took) = ns.stop(&sc, libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(code, Some(124));
    // The services get three quarters of the bound; then the stubborn one is SIGKILLed and the
    // rest of the stop is quick.
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_millis(2200),
        "shutdown with -t 2 took {took:?}"
    );
    let want: Vec<String> = names.iter().map(|n| format!("{n} got TERM")).collect();
    assert_eq!(sorted_lines(&sc.join("term.txt")), want);
    for n in &names {
        assert_eq!(
            read(&sc.join(format!("{n}.log"))),
            format!("{n} first line\n{n} last line\n"),
            "{n}'s log"
        );
    }
    assert_eq!(
        ns.stderr(),
        format!(
            "svscan {}: warning: stub did not stop in time: killed\n",
            scan.display()
        )
    );
}

#[test]
fn backgrounded_grandchild_finishes_its_cleanup_before_exit() {
    let sc = Scenario::new();
    let dir = sc.path().display();
    // supervise signals run's pid only: the job is left for PID 1's leftover stage.
    sc.service(
        "scan/bg",
        &format!(
            "#!/bin/sh\n\
             (trap 'sleep 0.3; echo done >> {dir}/bg.txt; exit 0' TERM\n\
             echo ready > {dir}/bg.ready\n\
             while :; do sleep 0.05; done) </dev/null >/dev/null 2>&1 &\n\
             exec sleep 1000\n"
        ),
    );
    let mut ns = Ns::start(&sc, &[sc.join("scan").to_str().unwrap()]);
    wait_for("the job ready", DEADLINE, || sc.join("bg.ready").exists());
    wait_running(&sc.join("scan/bg"));
    let (code, took) = ns.stop(&sc, libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(read(&sc.join("bg.txt")), "done\n");
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "shutdown took {took:?}"
    );
    assert_eq!(ns.stderr(), "");
}

/// svscan blocks 19 signals for its signalfd: its children get an empty mask, and no ignored
/// signal. unshare is started through `env --default-signal`, so that svscan starts with every
/// signal at its default action (but glibc's internal ones: see
/// [`without_glibc_internal_signals`]).
#[test]
fn services_start_with_an_empty_signal_mask_and_no_ignored_signal() {
    let sc = Scenario::new();
    let out = sc.join("mask.txt");
    sc.service(
        "scan/m",
        &format!(
            "#!/bin/sh\ngrep -E '^(SigBlk|SigIgn)' /proc/self/status > {0}.tmp\nmv {0}.tmp {0}\nexec sleep 1000\n",
            out.display()
        ),
    );
    let mut ns = Ns::start_via(
        &sc,
        &["/usr/bin/env", "--default-signal"],
        &[sc.join("scan").to_str().unwrap()],
    );
    let got = wait_until("mask.txt", DEADLINE, || fs::read_to_string(&out).ok());
    assert_eq!(
        without_glibc_internal_signals(&got),
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
    assert_eq!(ns.stop(&sc, libc::SIGTERM, DEADLINE).0, Some(0));
}

/// HUP and INT run the same ordered shutdown as TERM; only the exit code differs.
fn stop_by(sig: i32, code: i32) {
    let sc = Scenario::new();
    let names = names(3);
    for n in &names {
        polite_service(&sc, n);
    }
    let mut ns = Ns::start(&sc, &[sc.join("scan").to_str().unwrap()]);
    wait_up(&sc, names.len());
    wait_loggers(&sc, &names);
    let (got, took) = ns.stop(&sc, sig, Duration::from_secs(10));
    assert_eq!(got, Some(code));
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    assert_eq!(
        sorted_lines(&sc.join("term.txt")),
        ["s00 got TERM", "s01 got TERM", "s02 got TERM"]
    );
    for n in &names {
        assert_eq!(
            read(&sc.join(format!("{n}.log"))),
            format!("{n} first line\n{n} last line\n")
        );
    }
    assert_eq!(ns.stderr(), "");
}

#[test]
fn hup_stops_everything_in_order_and_exits_111() {
    stop_by(libc::SIGHUP, 111);
}

#[test]
fn int_stops_everything_in_order_and_exits_0() {
    stop_by(libc::SIGINT, 0);
}

#[test]
fn signals_with_no_job_change_nothing() {
    let sc = Scenario::new();
    sc.service("scan/a", RUN_SLEEP);
    let a = sc.join("scan/a");
    let mut ns = Ns::start(&sc, &[sc.join("scan").to_str().unwrap()]);
    let pid = wait_running(&a);
    let before = ns.pids();
    for sig in [
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGQUIT,
        libc::SIGPIPE,
        libc::SIGWINCH,
        libc::SIGCONT,
        libc::SIGTSTP,
    ] {
        ns.signal(sig);
    }
    std::thread::sleep(QUIET);
    assert!(ns.proc.alive(), "svscan exited");
    assert_eq!(proc_state(ns.init).map(|s| s != 'T'), Some(true));
    assert_eq!(ns.pids(), before);
    assert_eq!(wait_running(&a), pid);
    assert!(supervisor_alive(&a));
    assert_eq!(
        fs::read_to_string(a.join("supervise/stat")).unwrap(),
        "run\n"
    );
    // Still a working init: TERM stops it cleanly.
    assert_eq!(ns.stop(&sc, libc::SIGTERM, DEADLINE).0, Some(0));
    assert_eq!(ns.stderr(), "");
}
