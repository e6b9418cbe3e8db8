//! `supervise`'s herd-only features (issue 9, items 4 and 5; docs/supervise.md): prefixed logs
//! on supervise's own stdout and stderr (`SVSCAN_LOG_PREFIX`), and essential services (the
//! `essential` file and the `SVSCAN_NOTIFY_FD` notices).
//!
//! supervise's stdout and stderr are pipes read by a thread each ([`Capture`]), as a container's
//! are. The notify pipe reaches supervise as descriptor [`NOTIFY_FD`] through `/bin/sh -c 'exec
//! 5>&0 …'` with the pipe on stdin: clearing close-on-exec in this process instead would let the
//! children that other tests start meanwhile inherit it.

use std::fs;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herd_testsupport::*;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};

/// The descriptor number supervise gets the notify pipe as.
const NOTIFY_FD: i32 = 5;
/// The longest text of one prefixed line for a service named `web`: 4096 - `[web] ` - newline.
const WEB_MAX: usize = 4096 - 6 - 1;

/// A pipe with both ends close-on-exec.
fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).expect("pipe2")
}

/// Everything written to a pipe, collected by a thread until EOF.
struct Capture {
    data: Arc<Mutex<Vec<u8>>>,
    eof: mpsc::Receiver<()>,
}

impl Capture {
    /// A capture and the write end to give away (as a child's stdout or stderr).
    fn new() -> (Capture, OwnedFd) {
        let (r, w) = pipe();
        let data = Arc::new(Mutex::new(Vec::new()));
        let (tx, eof) = mpsc::channel();
        let sink = Arc::clone(&data);
        std::thread::spawn(move || {
            let mut r = fs::File::from(r);
            let mut buf = [0u8; 65536];
            while let Ok(n @ 1..) = r.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ = tx.send(());
        });
        (Capture { data, eof }, w)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.data.lock().unwrap()).into_owned()
    }

    /// Waits until everything captured so far is exactly `want`.
    #[track_caller]
    fn wait_text(&self, want: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let got = self.text();
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the capture to be\n{}\n--- last seen:\n{}",
                shorten(want),
                shorten(&got)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for EOF (every writer gone), then returns everything.
    #[track_caller]
    fn wait_eof(&self) -> String {
        self.eof
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("no EOF within {DEADLINE:?}; so far: {}", self.text()));
        self.text()
    }
}

/// A long text cut down for a failure message.
fn shorten(s: &str) -> String {
    if s.len() <= 2000 {
        return s.to_string();
    }
    let (head, tail) = (&s[..1000], &s[s.len() - 1000..]);
    format!("{head}\n[… {} bytes …]\n{tail}", s.len() - 2000)
}

/// `supervise ARG` in the scenario dir with neither variable of ours set (whatever the
/// environment of the tests holds).
fn supervise(sc: &Scenario, arg: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(bin("supervise"));
    c.arg(arg)
        .current_dir(sc.path())
        .env_remove("SVSCAN_LOG_PREFIX")
        .env_remove("SVSCAN_NOTIFY_FD");
    c
}

/// Starts `c` with its stdout and stderr captured.
fn spawn_captured(mut c: Command) -> (Proc, Capture, Capture) {
    let (out, out_w) = Capture::new();
    let (err, err_w) = Capture::new();
    c.stdout(Stdio::from(out_w)).stderr(Stdio::from(err_w));
    (Proc::spawn(c), out, err)
}

/// Sends `x` and waits until supervise exits 0.
#[track_caller]
fn exit_supervise(sup: &mut Proc, dir: &Path) {
    control(dir, "x");
    assert_eq!(sup.wait(DEADLINE), Some(0), "supervise's exit code");
}

/// A file's contents, or "" if it does not exist.
fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Prefixed logs

/// Prints one line on stderr between two on stdout, then stays up.
const RUN_PRINTS: &str = "#!/bin/sh\necho out1\necho err1 >&2\necho out2\nexec sleep 1000\n";

#[test]
fn prefix_puts_service_name_before_stdout_and_stderr_lines() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_PRINTS);
    // The name is the last component of the argument, here an absolute path with a slash.
    let mut c = supervise(&sc, format!("{}/", svc.display()));
    c.env("SVSCAN_LOG_PREFIX", "1");
    let (mut sup, out, err) = spawn_captured(c);
    out.wait_text("[web] out1\n[web] out2\n");
    err.wait_text("[web] err1\n");
    exit_supervise(&mut sup, &svc);
    assert_eq!(out.wait_eof(), "[web] out1\n[web] out2\n");
    assert_eq!(err.wait_eof(), "[web] err1\n");
}

#[test]
fn prefix_unset_empty_or_0_leaves_output_as_it_is() {
    for value in [None, Some(""), Some("0")] {
        let sc = Scenario::new();
        let svc = sc.service("web", RUN_PRINTS);
        let mut c = supervise(&sc, "web");
        if let Some(v) = value {
            c.env("SVSCAN_LOG_PREFIX", v);
        }
        let (mut sup, out, err) = spawn_captured(c);
        out.wait_text("out1\nout2\n");
        err.wait_text("err1\n");
        exit_supervise(&mut sup, &svc);
        assert_eq!(
            out.wait_eof(),
            "out1\nout2\n",
            "SVSCAN_LOG_PREFIX={value:?}"
        );
        assert_eq!(err.wait_eof(), "err1\n", "SVSCAN_LOG_PREFIX={value:?}");
    }
}

#[test]
fn prefix_leaves_a_service_with_a_log_unchanged() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_PRINTS);
    sc.script("web/log/run", "#!/bin/sh\nexec cat > ../log.out\n");
    let mut c = supervise(&sc, "web");
    c.env("SVSCAN_LOG_PREFIX", "1");
    let (mut sup, out, err) = spawn_captured(c);
    // stdout goes to the logger, stderr is supervise's own, neither prefixed.
    wait_for("log.out has both stdout lines", DEADLINE, || {
        read(&svc.join("log.out")) == "out1\nout2\n"
    });
    err.wait_text("err1\n");
    exit_supervise(&mut sup, &svc);
    assert_eq!(out.wait_eof(), "");
    assert_eq!(err.wait_eof(), "err1\n");
    assert_eq!(read(&svc.join("log.out")), "out1\nout2\n");
}

/// Waits for `../go`, writes 10 000 numbered lines, then waits for TERM; the TERM trap writes
/// 1 000 more lines and exits 0.
const RUN_CHATTY: &str = "#!/bin/sh
name=${PWD##*/}
pad=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz
burst() { i=0; while [ $i -lt 1000 ]; do echo \"term $i $name\"; i=$((i+1)); done; }
trap 'burst; kill $sleeper; exit 0' TERM
while [ ! -e ../go ]; do sleep 0.01; done
i=0
while [ $i -lt 10000 ]; do echo \"line $i $name $pad\"; i=$((i+1)); done
sleep 1000 &
sleeper=$!
touch written
wait
";

/// The lines `RUN_CHATTY` in directory `name` writes, with `[name] ` before each.
fn chatty_lines(name: &str) -> Vec<String> {
    let pad = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
    (0..10000)
        .map(|i| format!("[{name}] line {i} {name} {pad}"))
        .chain((0..1000).map(|i| format!("[{name}] term {i} {name}")))
        .collect()
}

#[test]
fn three_supervisors_on_one_pipe_write_every_line_once_and_whole() {
    let sc = Scenario::new();
    let names = ["alpha", "bravo", "charlie"];
    let (out, out_w) = Capture::new();
    let (err, err_w) = Capture::new();
    let mut sups: Vec<Proc> = names
        .iter()
        .map(|name| {
            sc.service(name, RUN_CHATTY);
            let mut c = supervise(&sc, name);
            c.env("SVSCAN_LOG_PREFIX", "yes")
                .stdout(Stdio::from(out_w.try_clone().unwrap()))
                .stderr(Stdio::from(err_w.try_clone().unwrap()));
            Proc::spawn(c)
        })
        .collect();
    drop((out_w, err_w));
    for name in names {
        wait_running(&sc.join(name));
    }
    fs::write(sc.join("go"), "").unwrap();
    for name in names {
        wait_for(&format!("{name} wrote its lines"), DEADLINE, || {
            sc.join(name).join("written").exists()
        });
    }
    // TERM while the lines may still be in the pipes; the trap writes its burst on the way out.
    for sup in &sups {
        sup.signal(libc::SIGTERM);
    }
    for sup in &mut sups {
        assert_eq!(sup.wait(DEADLINE), Some(0), "supervise's exit code");
    }
    let text = out.wait_eof();
    assert_eq!(err.wait_eof(), "");
    assert!(text.ends_with('\n'), "{}", shorten(&text));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3 * 11000);
    let mut runs = 0;
    for name in names {
        let prefix = format!("[{name}] ");
        let mine: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert_eq!(mine, chatty_lines(name), "the lines of {name}");
        runs += lines
            .windows(2)
            .filter(|w| w[0].starts_with(&prefix) && !w[1].starts_with(&prefix))
            .count();
    }
    // Not a requirement, but the point of the test: the three did write at the same time.
    eprintln!("{runs} changes of writer in {} lines", lines.len());
}

#[test]
fn long_lines_are_cut_and_a_last_unfinished_line_is_ended_when_run_exits() {
    let sc = Scenario::new();
    let svc = sc.service(
        "web",
        "#!/bin/sh
head -c 5000 /dev/zero | tr '\\0' a; echo
head -c 4089 /dev/zero | tr '\\0' b; echo
printf tail
printf etail >&2
",
    );
    sc.file("web/down", "", 0o644);
    let mut c = supervise(&sc, "web");
    c.env("SVSCAN_LOG_PREFIX", "1");
    let (mut sup, out, err) = spawn_captured(c);
    wait_status(&svc, "status written", |_| true);
    control(&svc, "o");
    let want = format!(
        "[web] {}\n[web] {}\n[web] {}\n[web] tail\n",
        "a".repeat(WEB_MAX),
        "a".repeat(5000 - WEB_MAX),
        "b".repeat(WEB_MAX),
    );
    // While supervise still runs: the unfinished line was ended when run exited.
    out.wait_text(&want);
    err.wait_text("[web] etail\n");
    assert!(sup.alive());
    exit_supervise(&mut sup, &svc);
    assert_eq!(out.wait_eof(), want);
    assert_eq!(err.wait_eof(), "[web] etail\n");
}

/// A background process of the service writes after `./run` has exited: supervise is not its
/// parent and does not see it end, so the unfinished line it leaves is ended when supervise exits.
#[test]
fn unfinished_line_of_a_leftover_process_is_ended_when_supervise_exits() {
    let sc = Scenario::new();
    // One printf, one write: when `late` shows, `partial` has been read with it.
    let svc = sc.service(
        "web",
        "#!/bin/sh
touch ran
(while [ ! -e ../go ]; do sleep 0.01; done; printf 'late\\npartial') &
",
    );
    sc.file("web/down", "", 0o644);
    let mut c = supervise(&sc, "web");
    c.env("SVSCAN_LOG_PREFIX", "1");
    let (mut sup, out, err) = spawn_captured(c);
    wait_status(&svc, "status written", |_| true);
    control(&svc, "o");
    // `ran` is made after the status said run: down now means run has exited.
    wait_status(&svc, "run started and exited", |s| {
        s.state == State::Down && svc.join("ran").exists()
    });
    fs::write(sc.join("go"), "").unwrap();
    out.wait_text("[web] late\n");
    exit_supervise(&mut sup, &svc);
    assert_eq!(out.wait_eof(), "[web] late\n[web] partial\n");
    assert_eq!(err.wait_eof(), "");
}

#[test]
fn lines_across_run_restarts_are_all_there_in_order() {
    let sc = Scenario::new();
    // Three runs of 1000 lines each end with an unfinished line and exit 1; the fourth stays.
    let svc = sc.service(
        "web",
        "#!/bin/sh
n=$(cat count 2>/dev/null || echo 0)
echo $((n+1)) > count
[ \"$n\" -ge 3 ] && exec sleep 1000
i=0
while [ $i -lt 1000 ]; do echo \"$n.$i\"; i=$((i+1)); done
echo \"err $n\" >&2
printf 'end %s' \"$n\"
exit 1
",
    );
    let mut c = supervise(&sc, "web");
    c.env("SVSCAN_LOG_PREFIX", "1");
    let (mut sup, out, err) = spawn_captured(c);
    let mut want = String::new();
    for n in 0..3 {
        for i in 0..1000 {
            want.push_str(&format!("[web] {n}.{i}\n"));
        }
        want.push_str(&format!("[web] end {n}\n"));
    }
    // Three runs take two restart pauses of 1 s.
    out.wait_text(&want);
    err.wait_text("[web] err 0\n[web] err 1\n[web] err 2\n");
    wait_for("the fourth run", DEADLINE, || {
        read(&svc.join("count")) == "4\n"
    });
    exit_supervise(&mut sup, &svc);
    assert_eq!(out.wait_eof(), want);
    assert_eq!(err.wait_eof(), "[web] err 0\n[web] err 1\n[web] err 2\n");
}

// ---------------------------------------------------------------------------------------------
// Essential services

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
    // No restart (it would come a second after the last start), no other notice.
    assert_eq!(notices.read(Duration::from_millis(1300)), "");
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
