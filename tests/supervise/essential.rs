//! supervise's essential services (herd only; issue 9, item 5; docs/supervise.md): the
//! `essential` file and the notices written to `SVSCAN_NOTIFY_FD`.
//!
//! The notify pipe reaches supervise as descriptor [`NOTIFY_FD`] through `/bin/sh -c 'exec
//! 5>&0 …'` with the pipe on stdin: clearing close-on-exec in this process instead would let the
//! children that other tests start meanwhile inherit it.

use std::fs;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herd_testsupport::*;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::captured::{exit_supervise, pipe, spawn_captured, supervise, Capture};
use super::read;

/// The descriptor number supervise gets the notify pipe as.
const NOTIFY_FD: i32 = 5;

/// The read end of the notify pipe.
struct Notices {
    r: OwnedFd,
}

impl Notices {
    /// Reads what arrives within `timeout` (until EOF or the first line is complete): "" if
    /// nothing came.
    fn read(&self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = PollTimeout::try_from(left.as_millis().min(60_000) as u32).unwrap();
            let mut fds = [PollFd::new(self.r.as_fd(), PollFlags::POLLIN)];
            if nix::poll::poll(&mut fds, ms).unwrap() == 0 {
                break;
            }
            let mut buf = [0u8; 256];
            match nix::unistd::read(&self.r, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if got.ends_with(b"\n") {
                break;
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    /// The next line, which must come within [`DEADLINE`].
    #[track_caller]
    fn line(&self) -> String {
        let got = self.read(DEADLINE);
        assert!(
            got.ends_with('\n'),
            "no notify line within {DEADLINE:?}: {got:?}"
        );
        got
    }
}

/// Starts `supervise NAME` with the write end of a new pipe as descriptor [`NOTIFY_FD`] and
/// `SVSCAN_NOTIFY_FD` naming it; stdout and stderr captured. supervise is exec'd by the shell,
/// so the Proc's pid is supervise's.
fn spawn_notified(sc: &Scenario, name: &str) -> (Proc, Notices, Capture) {
    let (r, w) = pipe();
    let mut c = Command::new("/bin/sh");
    c.args([
        "-c",
        &format!("exec {NOTIFY_FD}>&0 </dev/null; exec \"$0\" \"$@\""),
    ])
    .arg(bin("supervise"))
    .arg(name)
    .current_dir(sc.path())
    .env_remove("SVSCAN_LOG_PREFIX")
    .env("SVSCAN_NOTIFY_FD", NOTIFY_FD.to_string())
    .env("HERD_TEST_VAR", "kept")
    .stdin(Stdio::from(w))
    .stdout(Stdio::null());
    let (err, err_w) = Capture::new();
    c.stderr(Stdio::from(err_w));
    let sup = Proc::spawn_with_stdio(c);
    // Once supervise has exec'd, the shell's "$0" is gone from the command line.
    wait_for("supervise exec'd", DEADLINE, || {
        proc_cmdline(sup.pid()).is_some_and(|a| a.len() == 2 && a[1] == name)
    });
    (sup, Notices { r }, err)
}

/// Bytes 12-19 of `DIR/supervise/status`: pid, paused, want, TERM flag, state.
fn status_tail(dir: &Path) -> Vec<u8> {
    fs::read(dir.join("supervise/status")).unwrap()[12..].to_vec()
}

/// Down, want down, no pid, not paused, no TERM flag.
const DOWN_WANT_DOWN: [u8; 8] = [0, 0, 0, 0, 0, b'd', 0, 0];

#[test]
fn essential_service_taken_down_is_told_with_its_exit_code() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    sc.file("web/essential", "", 0o644);
    let (mut sup, notices, err) = spawn_notified(&sc, "web");
    wait_running(&svc);
    control(&svc, "d");
    // sleep killed by the TERM of `d`: 128 + 15.
    assert_eq!(notices.line(), format!("{} 143\n", sup.pid()));
    wait_status(&svc, "down", |s| s.state == State::Down);
    assert_eq!(status_tail(&svc), DOWN_WANT_DOWN);
    // Going down was one stop for good; exiting while down is none.
    exit_supervise(&mut sup, &svc);
    assert_eq!(notices.read(DEADLINE), "", "after supervise's exit");
    assert_eq!(err.wait_eof(), "");
}

#[test]
fn essential_service_wanted_down_reports_runs_own_exit_code() {
    let sc = Scenario::new();
    let svc = sc.service(
        "web",
        "#!/bin/sh\ntrap 'exit 5' TERM\nwhile [ ! -e stop ]; do sleep 0.01; done\nexit 7\n",
    );
    sc.file("web/essential", "3\n", 0o644);
    let (mut sup, notices, err) = spawn_notified(&sc, "web");
    wait_running(&svc);
    // `o`: want down, the run goes on; its exit 7 stops the service for good.
    control(&svc, "o");
    wait_status(&svc, "want down", |s| s.want == Want::Down);
    fs::write(svc.join("stop"), "").unwrap();
    assert_eq!(notices.line(), format!("{} 7\n", sup.pid()));
    fs::remove_file(svc.join("stop")).unwrap();
    // With the down file's meaning: `o` on a down service runs it once; `x` TERMs it, and the
    // trap's code is what is told.
    control(&svc, "o");
    let run = wait_running(&svc);
    wait_for("run's TERM trap is set", DEADLINE, || {
        proc_status_line(run, "SigCgt").is_some_and(|m| {
            u64::from_str_radix(&m, 16).is_ok_and(|m| m & (1 << (libc::SIGTERM - 1)) != 0)
        })
    });
    sup.signal(libc::SIGTERM);
    assert_eq!(notices.line(), format!("{} 5\n", sup.pid()));
    assert_eq!(sup.wait(DEADLINE), Some(0));
    assert_eq!(notices.read(DEADLINE), "");
    assert_eq!(err.wait_eof(), "");
}

/// Appends a line to `runs` and exits 3.
const RUN_FAILS: &str = "#!/bin/sh\necho run >> runs\nexit 3\n";

#[test]
fn essential_service_stops_for_good_after_limit_failures() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_FAILS);
    sc.file("web/essential", "2\n", 0o644);
    let (mut sup, notices, err) = spawn_notified(&sc, "web");
    assert_eq!(notices.line(), format!("{} 3\n", sup.pid()));
    assert_eq!(read(&svc.join("runs")), "run\nrun\n");
    assert_eq!(status_tail(&svc), DOWN_WANT_DOWN);
    assert_eq!(read(&svc.join("supervise/stat")), "down\n");
    sc.cmd(bin("sv"))
        .args(["status", "./web"])
        .run()
        .code(0)
        .stdout_norm("down: ./web: Ns, normally up\n");
    // No restart (it would come a second after the last start), no other notice: the quiet
    // window starts when that restart would.
    assert_eq!(notices.read(Duration::from_secs(1) + QUIET), "");
    assert_eq!(read(&svc.join("runs")), "run\nrun\n");
    assert!(sup.alive());
    exit_supervise(&mut sup, &svc);
    assert_eq!(err.wait_eof(), "");
}

#[test]
fn essential_file_without_a_number_allows_5_failures() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_FAILS);
    sc.file("web/essential", "many\n", 0o644);
    let (mut sup, notices, _err) = spawn_notified(&sc, "web");
    // Five runs take four restart pauses of 1 s.
    let got = notices.read(Duration::from_secs(8));
    assert_eq!(got, format!("{} 3\n", sup.pid()));
    assert_eq!(read(&svc.join("runs")), "run\n".repeat(5));
    assert_eq!(status_tail(&svc), DOWN_WANT_DOWN);
    exit_supervise(&mut sup, &svc);
}

#[test]
fn killed_by_a_signal_is_128_plus_the_signal() {
    let sc = Scenario::new();
    let svc = sc.service("web", "#!/bin/sh\necho run >> runs\nkill -9 $$\n");
    sc.file("web/essential", "1", 0o644);
    let (mut sup, notices, err) = spawn_notified(&sc, "web");
    assert_eq!(notices.line(), format!("{} 137\n", sup.pid()));
    assert_eq!(read(&svc.join("runs")), "run\n");
    assert_eq!(status_tail(&svc), DOWN_WANT_DOWN);
    exit_supervise(&mut sup, &svc);
    assert_eq!(err.wait_eof(), "");
}

#[test]
fn notify_fd_and_variable_do_not_reach_the_service() {
    let sc = Scenario::new();
    let svc = sc.service("web", "#!/bin/sh\nenv > ../env.out\nexec sleep 1000\n");
    sc.file("web/essential", "", 0o644);
    let (mut sup, notices, _err) = spawn_notified(&sc, "web");
    let run = wait_running(&svc);
    wait_for("run wrote its environment", DEADLINE, || {
        read(&sc.join("env.out")).contains("HERD_TEST_VAR=kept\n")
    });
    let env = read(&sc.join("env.out"));
    assert!(!env.contains("SVSCAN_NOTIFY_FD"), "{env}");
    // run has no copy of the pipe, by its number or any other.
    let target = |pid: u32, fd: &str| {
        fs::read_link(format!("/proc/{pid}/fd/{fd}"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let ours = target(
        std::process::id(),
        &std::os::fd::AsRawFd::as_raw_fd(&notices.r).to_string(),
    );
    assert!(ours.starts_with("pipe:["), "{ours}");
    let fds_of = |pid: u32| -> Vec<(String, String)> {
        fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .map(|e| {
                let fd = e.file_name().to_string_lossy().into_owned();
                let t = target(pid, &fd);
                (fd, t)
            })
            .collect()
    };
    let run_fds = fds_of(run);
    assert!(
        run_fds
            .iter()
            .all(|(fd, t)| *t != ours && *fd != NOTIFY_FD.to_string()),
        "run's fds: {run_fds:?}"
    );
    // supervise holds one copy: close-on-exec and non-blocking, and not the inherited number.
    let sup_fds: Vec<(String, String)> = fds_of(sup.pid())
        .into_iter()
        .filter(|(_, t)| *t == ours)
        .collect();
    assert_eq!(sup_fds.len(), 1, "{sup_fds:?}");
    assert_ne!(sup_fds[0].0, NOTIFY_FD.to_string());
    let info = read(Path::new(&format!(
        "/proc/{}/fdinfo/{}",
        sup.pid(),
        sup_fds[0].0
    )));
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u64::from_str_radix(f.trim(), 8).ok())
        .unwrap();
    let want = (libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_WRONLY | libc::O_APPEND) as u64;
    assert_eq!(flags & want, want, "flags {flags:o}");
    // supervise still holds its own copy and uses it.
    control(&svc, "d");
    assert_eq!(notices.line(), format!("{} 143\n", sup.pid()));
    exit_supervise(&mut sup, &svc);
}

#[test]
fn plain_service_sends_no_notice() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_FAILS);
    let (mut sup, notices, err) = spawn_notified(&sc, "web");
    wait_for("a failure and a restart", DEADLINE, || {
        read(&svc.join("runs")) == "run\nrun\n"
    });
    assert_eq!(notices.read(QUIET), "");
    control(&svc, "d");
    wait_status(&svc, "want down", |s| s.want == Want::Down);
    assert_eq!(notices.read(QUIET), "");
    exit_supervise(&mut sup, &svc);
    assert_eq!(notices.read(DEADLINE), "");
    assert_eq!(err.wait_eof(), "");
}

#[test]
fn unusable_notify_fd_is_warned_about_and_supervision_goes_on() {
    for (value, warning) in [
        ("five", "invalid SVSCAN_NOTIFY_FD: five"),
        ("1", "invalid SVSCAN_NOTIFY_FD: 1"),
        (
            "999",
            "unable to open SVSCAN_NOTIFY_FD 999: file descriptor not open",
        ),
    ] {
        let sc = Scenario::new();
        let svc = sc.service("web", RUN_SLEEP);
        sc.file("web/essential", "", 0o644);
        let mut c = supervise(&sc, "web");
        c.env("SVSCAN_NOTIFY_FD", value);
        let (mut sup, _out, err) = spawn_captured(c);
        wait_running(&svc);
        exit_supervise(&mut sup, &svc);
        assert_eq!(
            err.wait_eof(),
            format!("supervise web: warning: {warning}\n")
        );
    }
}
