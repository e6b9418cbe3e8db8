//! Issue 14, "no input can panic a tool": the absurd but possible numbers that made svscan, sv
//! and svlog panic (a Rust panic message and exit 101, 134 in the release build) each give the
//! documented result (docs/reliability.md, "Input"): the exact line and exit code, and the tool
//! alive and working where it should go on.

use std::fs;
use std::path::Path;

use herd_status::State;
use herd_testsupport::*;

/// Beyond `u64::MAX` seconds: runit's C wraps it around, `Duration::from_secs_f64` panicked.
const HUGE: &str = "100000000000000000000";
/// Inside the window (about 6.2e18 to 1.8e19 s) where svscan used to start normally and then
/// panic only on SIGTERM, in the shutdown arithmetic.
const HUGE_IN_RANGE: &str = "10000000000000000000";
/// svlogd's `t` line of the issue.
const T_HUGE: &str = "t9223372036854775807\n";

/// svscan on `scan` with a service `a`; returns it once `a` runs, with a's pid.
fn svscan_with_service(sc: &Scenario, args: &[&str], env: &[(&str, &str)]) -> (Proc, u32) {
    let scan = sc.join("scan");
    fs::create_dir_all(&scan).unwrap();
    let a = sc.service("scan/a", RUN_SLEEP);
    let mut c = std::process::Command::new(bin("svscan"));
    c.args(args).arg(&scan).current_dir(sc.path());
    for (k, v) in env {
        c.env(k, v);
    }
    let p = Proc::spawn(c);
    let pid = wait_running(&a);
    (p, pid)
}

/// SIGTERM stops svscan, its supervise and the service, and svscan exits 0.
fn sigterm_stops_everything(p: &mut Proc, service_pid: u32) {
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(DEADLINE), Some(0), "svscan's exit code");
    assert!(!pid_alive(service_pid), "the service was stopped");
}

#[test]
fn issue_14_svscan_t_in_exponent_form_is_a_usage_error() {
    let sc = Scenario::new();
    fs::create_dir(sc.join("scan")).unwrap();
    let svscan = bin("svscan");
    sc.cmd(&svscan)
        .args(["-t", "1e20", "scan"])
        .run()
        .code(1)
        .stdout("")
        .stderr(&format!(
            "usage: {} [-P] [-t sec] dir [log] [-- command...]\n\n",
            svscan.display()
        ));
}

#[test]
fn issue_14_svscan_huge_t_saturates_and_sigterm_still_stops() {
    let sc = Scenario::new();
    let (mut p, pid) = svscan_with_service(&sc, &["-t", HUGE], &[]);
    sigterm_stops_everything(&mut p, pid);
}

#[test]
fn issue_14_svscan_huge_stop_timeout_survives_sigterm() {
    let sc = Scenario::new();
    let (mut p, pid) = svscan_with_service(&sc, &[], &[("SVSCAN_STOP_TIMEOUT", HUGE_IN_RANGE)]);
    sigterm_stops_everything(&mut p, pid);
}

#[test]
fn issue_14_svscan_stop_timeout_not_a_number_is_ignored_with_a_warning() {
    let sc = Scenario::new();
    fs::create_dir(sc.join("scan")).unwrap();
    sc.cmd(bin("svscan"))
        .args(["scan", "--", "sh", "-c", "exit 3"])
        .env("SVSCAN_STOP_TIMEOUT", "1e20")
        .run()
        .code(3)
        .stdout("")
        .stderr("svscan scan: warning: invalid SVSCAN_STOP_TIMEOUT: 1e20: ignored\n");
}

/// A supervised service `s` (a sleep), running.
fn supervised(sc: &Scenario) -> (Proc, std::path::PathBuf) {
    let s = sc.service("s", RUN_SLEEP);
    let p = sc.spawn(bin("supervise"), &["s"]);
    wait_running(&s);
    (p, s)
}

#[test]
fn issue_14_sv_huge_w_waits_and_reports() {
    let sc = Scenario::new();
    let (_sup, s) = supervised(&sc);
    sc.cmd(bin("sv"))
        .args(["-w", HUGE, "down", "./s"])
        .run()
        .code(0)
        .stderr("")
        .stdout_norm("ok: down: ./s: Ns, normally up\n");
    assert_eq!(status(&s).map(|st| st.state), Some(State::Down));
}

#[test]
fn issue_14_sv_huge_svwait_waits_and_reports() {
    let sc = Scenario::new();
    let (_sup, s) = supervised(&sc);
    control(&s, "d");
    wait_status(&s, "s down", |st| st.state == State::Down);
    sc.cmd(bin("sv"))
        .args(["-v", "up", "./s"])
        .env("SVWAIT", HUGE)
        .run()
        .code(0)
        .stderr("")
        .stdout_norm("ok: run: ./s: (pid N) Ns\n");
}

#[test]
fn issue_14_svlog_huge_t_at_start() {
    let sc = Scenario::new();
    let log = sc.join("log");
    fs::create_dir(&log).unwrap();
    fs::write(log.join("config"), T_HUGE).unwrap();
    sc.cmd(bin("svlog"))
        .arg("log")
        .input("a\nb\n")
        .run()
        .code(0)
        .stdout("")
        .stderr("");
    assert_eq!(fs::read_to_string(log.join("current")).unwrap(), "a\nb\n");
}

/// The lines of `DIR/current`.
fn current(dir: &Path) -> String {
    fs::read_to_string(dir.join("current")).unwrap_or_default()
}

#[test]
fn issue_14_svlog_huge_t_after_sighup_keeps_logging() {
    let sc = Scenario::new();
    // The service says `ready` once its trap is set, and one numbered line per SIGHUP.
    let s = sc.service(
        "s",
        "#!/bin/sh\nn=0\ntrap 'n=$((n+1)); echo hup-$n' HUP\necho ready\n\
         while :; do sleep 1000 & wait; done\n",
    );
    // The logger's messages (-v) go to a file: they tell when the HUP has been handled.
    sc.script(
        "s/log/run",
        &format!(
            "#!/bin/sh\nexec {} -v ./main 2>>../../logger.err\n",
            bin("svlog").display()
        ),
    );
    let main = sc.join("s/log/main");
    fs::create_dir(&main).unwrap();
    fs::write(main.join("config"), "s100000\n").unwrap();
    let _sup = sc.spawn(bin("supervise"), &["s"]);
    let logger = wait_running(&s.join("log"));
    wait_for("ready in the log", DEADLINE, || current(&main) == "ready\n");

    // The edited config is read on HUP: the logger must survive it, and go on logging.
    fs::write(main.join("config"), format!("s100000\n{T_HUGE}")).unwrap();
    sc.cmd(bin("sv"))
        .args(["hup", "./s/log"])
        .run()
        .code(0)
        .stdout("")
        .stderr("");
    let err = sc.join("logger.err");
    let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
    wait_for("the logger reopened its directory", DEADLINE, || {
        read(&err).contains("append: ")
    });
    sc.cmd(bin("sv"))
        .args(["hup", "./s"])
        .run()
        .code(0)
        .stdout("")
        .stderr("");
    wait_for("hup-1 in the log", DEADLINE, || {
        current(&main) == "ready\nhup-1\n"
    });
    let st = status(&s.join("log")).expect("log status");
    assert_eq!(
        (st.state, st.pid.map(|p| p.get())),
        (State::Run, Some(logger)),
        "the same logger still runs"
    );
    assert_eq!(
        read(&err),
        "svlogd: info: read: ./main/config\n\
         svlogd: info: new: ./main/current\n\
         svlogd: info: sighangup received.\n\
         svlogd: info: close: ./main\n\
         svlogd: info: read: ./main/config\n\
         svlogd: info: append: ./main/current\n"
    );
}
