//! `sv` and readiness (issue 15; docs/sv.md, "Ready" and "Readiness in status lines"), from
//! outside: our `sv` against our `supervise`, which publishes `supervise/ready`, and against
//! runit's `sv` where the line must stay runit's.
//!
//! The ready service is `notification-fd` 3 with `herd-notify` (testsupport) as its `run`: it
//! blocks on a FIFO until the test writes a byte, then stamps CLOCK_MONOTONIC and writes the
//! newline. Seconds and pids in lines are masked ([`normalize`]); the pid shown is checked
//! against `supervise/status` separately.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herd_testsupport::clock::wait_exit_ns;
use herd_testsupport::*;

/// A logger that discards its input.
const LOG_RUN: &str = "#!/bin/sh\nexec cat >/dev/null\n";
/// How far sv's exit may lag the service's newline (issue 15).
const READY_LAG: Duration = Duration::from_millis(5);

/// A scan directory `sv/` (the `SVDIR`), one supervisor per started service.
struct Tree {
    sc: Scenario,
    sup: Flavor,
    procs: Vec<Proc>,
}

impl Tree {
    fn new(sup: Flavor) -> Tree {
        let sc = Scenario::new();
        fs::create_dir_all(sc.join("sv")).unwrap();
        Tree {
            sc,
            sup,
            procs: Vec::new(),
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.sc.join("sv").join(name)
    }

    fn script(&self, rel: &str, text: &str) {
        self.sc.script(Path::new("sv").join(rel), text);
    }

    fn file(&self, rel: &str, text: &str) {
        self.sc.file(Path::new("sv").join(rel), text, 0o644);
    }

    /// A service that is ready when told ([`Tree::make_ready`]).
    fn notifying(&self, name: &str) {
        self.script(
            &format!("{name}/run"),
            &format!(
                "#!/bin/sh\nexec {} ./trigger ./ready-stamps 3\n",
                bin("herd-notify").display()
            ),
        );
        self.file(&format!("{name}/notification-fd"), "3\n");
        nix::unistd::mkfifo(
            &self.dir(name).join("trigger"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
    }

    /// Starts the supervisor as svscan would (`supervise NAME`, cwd the scan directory) and
    /// waits until it answers; returns its pid.
    fn start(&mut self, name: &str) -> u32 {
        let mut c = Command::new(self.sup.program(Tool::Supervise));
        c.arg(name)
            .current_dir(self.sc.join("sv"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let p = Proc::spawn(c);
        let pid = p.pid();
        self.procs.push(p);
        let dir = self.dir(name);
        wait_for(&format!("supervisor of {name} live"), DEADLINE, || {
            supervisor_alive(&dir) && status(&dir).is_some()
        });
        pid
    }

    /// Writes the byte that makes the current `herd-notify` of NAME ready, once it holds its
    /// FIFO open; returns how many ready stamps there were before.
    #[track_caller]
    fn make_ready(&self, name: &str) -> usize {
        let dir = self.dir(name);
        let before = stamps(&dir).len();
        let mut f = wait_until(
            &format!("{name}'s run waits for its trigger"),
            DEADLINE,
            || {
                fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(dir.join("trigger"))
                    .ok()
            },
        );
        f.write_all(b"x").unwrap();
        before
    }

    fn sv_cmd(&self, prog: &Path, args: &[&str]) -> Cmd {
        self.sc
            .cmd(prog)
            .env("SVDIR", self.sc.join("sv"))
            .env_remove("SVWAIT")
            .args(args)
            .timeout(Duration::from_secs(20))
    }

    /// Our `sv ARGS` as a plain command (stdout piped, stderr discarded), for timing its exit.
    fn sv_raw(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin("sv"));
        c.current_dir(self.sc.path())
            .env("SVDIR", self.sc.join("sv"))
            .env_remove("SVWAIT")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        c
    }

    fn sv(&self, args: &[&str]) -> Output {
        self.sv_cmd(&bin("sv"), args).run()
    }
}

/// The ready stamps `herd-notify` wrote in DIR (ns, CLOCK_MONOTONIC).
fn stamps(dir: &Path) -> Vec<u64> {
    fs::read_to_string(dir.join("ready-stamps"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// `supervise/ready` of DIR as text ("" if absent).
fn ready_line(dir: &Path) -> String {
    fs::read_to_string(dir.join("supervise/ready")).unwrap_or_default()
}

/// Waits until `supervise/ready` of DIR starts with `prefix`.
#[track_caller]
fn wait_ready_line(dir: &Path, prefix: &str) {
    wait_for(
        &format!("{}/supervise/ready to say {prefix:?}", dir.display()),
        DEADLINE,
        || ready_line(dir).starts_with(prefix),
    );
}

/// The running pid of DIR (0 if none).
fn pid_of(dir: &Path) -> u32 {
    status(dir).and_then(|s| s.pid).map_or(0, |p| p.get())
}

/// The pid in the first `(pid N)` of `s`.
fn line_pid(s: &str) -> Option<u32> {
    let i = s.find("(pid ")? + 5;
    let n: String = s[i..].chars().take_while(char::is_ascii_digit).collect();
    n.parse().ok()
}

/// Status lines of a `notification-fd` service with a log, before and after it is ready, and
/// across `sv -w 5 restart`, which returns only once the new instance is ready.
#[test]
fn notification_fd_status_lines() {
    let mut t = Tree::new(Flavor::Herd);
    t.notifying("db");
    t.script("db/log/run", LOG_RUN);
    t.start("db");
    let db = t.dir("db");
    let pid = wait_running(&db);
    wait_running(&db.join("log"));
    wait_ready_line(&db, &format!("up {pid}\n"));
    let o = t.sv(&["status", "db"]);
    o.code(0)
        .stdout_norm("run: db: (pid N) Ns, not ready; run: log: (pid N) Ns\n")
        .stderr("");
    assert_eq!(line_pid(&o.stdout), Some(pid));
    // LSB mode: the same line, and running is 0 whether ready or not.
    t.sv_cmd(&bin("sv"), &["status"])
        .arg0("/etc/init.d/db")
        .run()
        .code(0)
        .stdout_norm("run: db: (pid N) Ns, not ready; run: log: (pid N) Ns\n");
    t.sv(&["-w", "1", "check", "db"])
        .code(1)
        .stdout_norm("timeout: run: db: (pid N) Ns, not ready\n");

    t.make_ready("db");
    wait_ready_line(&db, &format!("ready {pid} @"));
    t.sv(&["status", "db"])
        .code(0)
        .stdout_norm("run: db: (pid N) Ns, ready Ns; run: log: (pid N) Ns\n")
        .stderr("");
    t.sv(&["-w", "1", "check", "db"])
        .code(0)
        .stdout_norm("ok: run: db: (pid N) Ns, ready Ns\n");

    // A restart: sv waits for the new instance to be ready, not just for it to run.
    let sv = t
        .sv_cmd(&bin("sv"), &["-w", "5", "restart", "db"])
        .timeout(Duration::from_secs(10));
    let h = std::thread::spawn(move || sv.run());
    let new = wait_status(&db, "db restarted", |s| {
        s.state == State::Run && s.pid.is_some_and(|p| p.get() != pid)
    })
    .pid
    .map_or(0, |p| p.get());
    wait_ready_line(&db, &format!("up {new}\n"));
    t.sv(&["status", "db"])
        .stdout_norm("run: db: (pid N) Ns, not ready; run: log: (pid N) Ns\n");
    std::thread::sleep(QUIET);
    assert!(
        !h.is_finished(),
        "sv restart returned before the new instance was ready"
    );
    t.make_ready("db");
    let o = h.join().expect("sv thread");
    o.code(0)
        .stdout_norm("ok: run: db: (pid N) Ns, ready Ns\n")
        .stderr("");
    assert_eq!(line_pid(&o.stdout), Some(new), "ok line shows the new pid");
}

/// A child killed (by its pid, if it still runs) and reaped on drop.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        // std sends nothing to a child it has already reaped.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sv -w 5 restart` returns within 5 ms of the new instance's newline (median of 5; every one
/// after it), measured on CLOCK_MONOTONIC on both sides.
#[test]
fn restart_returns_right_after_readiness() {
    let mut t = Tree::new(Flavor::Herd);
    t.notifying("r");
    t.start("r");
    let dir = t.dir("r");
    wait_running(&dir);
    t.make_ready("r");
    wait_ready_line(&dir, "ready ");
    let mut started = Instant::now();
    let mut lags = Vec::new();
    for _ in 0..5 {
        let old = pid_of(&dir);
        // No restart throttle: the instance has run for more than a second.
        wait_for("a second since the start", Duration::from_secs(2), || {
            started.elapsed() >= Duration::from_millis(1050)
        });
        let mut sv = Reaped(t.sv_raw(&["-w", "5", "restart", "r"]).spawn().unwrap());
        let child = &mut sv.0;
        wait_status(&dir, "r restarted", |s| {
            s.state == State::Run && s.pid.is_some_and(|p| p.get() != old)
        });
        started = Instant::now();
        std::thread::sleep(QUIET);
        assert!(
            child.try_wait().unwrap().is_none(),
            "sv returned before the new instance was ready"
        );
        let before = t.make_ready("r");
        let (st, exited) = wait_exit_ns(child, DEADLINE).expect("sv exits once r is ready");
        assert!(st.success(), "sv restart: {st}");
        let newline = wait_until("the ready stamp", DEADLINE, || {
            stamps(&dir).get(before).copied()
        });
        assert!(exited > newline, "sv exited before the newline");
        lags.push(Duration::from_nanos(exited - newline));
    }
    lags.sort();
    let median = lags[lags.len() / 2];
    assert!(
        median <= READY_LAG,
        "sv restart returned {median:?} after the newline (median; all: {lags:?})"
    );
    eprintln!("newline → sv restart exited: {lags:?}");
}

/// runit's restart condition compares whole seconds: a restart sent in the second the running
/// instance started passes it at once, with the old pid. Ours waits for another pid (and for it to
/// be ready). Tries until an instance is ready early enough in its second to start sv within it.
/// supervise is stopped (SIGSTOP) while sv writes and checks, so that the old instance is still
/// there, ready, whatever the scheduling.
#[test]
fn restart_in_the_same_second_waits_for_the_new_pid() {
    let mut t = Tree::new(Flavor::Herd);
    t.notifying("s");
    let sup = t.start("s");
    let dir = t.dir("s");
    for _ in 0..8 {
        let old = wait_running(&dir);
        t.make_ready("s");
        wait_ready_line(&dir, &format!("ready {old} @"));
        let stamp = status(&dir).expect("status").stamp;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        if now.as_secs() != stamp.unix_secs() as u64 || now.subsec_millis() > 800 {
            // Too late in the second, or in the next one: restart early in a second, past the
            // 1-second restart rule (which would keep the phase of the previous start), and try
            // again.
            wait_for(
                "early in a second, 1 s after the start",
                Duration::from_secs(3),
                || {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap();
                    let started = Duration::new(stamp.unix_secs() as u64, stamp.nanos);
                    now >= started + Duration::from_millis(1050) && now.subsec_millis() < 100
                },
            );
            control(&dir, "t");
            wait_status(&dir, "s restarted", |s| {
                s.pid.is_some_and(|p| p.get() != old)
            });
            continue;
        }
        let sv = t
            .sv_cmd(&bin("sv"), &["-w", "5", "restart", "s"])
            .timeout(Duration::from_secs(10));
        signal(sup, libc::SIGSTOP);
        let h = std::thread::spawn(move || sv.run());
        std::thread::sleep(QUIET);
        let early = h.is_finished();
        signal(sup, libc::SIGCONT);
        assert!(
            !early,
            "sv restart returned while the old instance still ran"
        );
        let new = wait_status(&dir, "s restarted by sv", |s| {
            s.state == State::Run && s.pid.is_some_and(|p| p.get() != old)
        })
        .pid
        .map_or(0, |p| p.get());
        assert!(
            !h.is_finished(),
            "sv restart returned before the new instance was ready"
        );
        t.make_ready("s");
        let o = h.join().expect("sv thread");
        o.code(0).stdout_norm("ok: run: s: (pid N) Ns, ready Ns\n");
        assert_eq!(line_pid(&o.stdout), Some(new), "ok line shows the new pid");
        return;
    }
    panic!("no instance was ready early enough in its second to try");
}

/// A dependency that is missing, then not ready: the dependent's lines say which one it waits
/// for, the `timeout:` line included; once db is ready app starts and is ready (up is ready).
#[test]
fn dependencies_waiting_lines() {
    let mut t = Tree::new(Flavor::Herd);
    t.script("app/run", RUN_SLEEP);
    t.file("app/dependencies.d/db", "");
    t.start("app");
    let app = t.dir("app");
    wait_ready_line(&app, "waiting db\n");
    t.sv(&["status", "app"])
        .code(0)
        .stdout_norm("down: app: Ns, normally up, want up, waiting for db\n")
        .stderr("");
    t.sv(&["-w", "1", "up", "app"])
        .code(1)
        .stdout_norm("timeout: down: app: Ns, normally up, want up, waiting for db\n");

    t.notifying("db");
    t.start("db");
    let db = t.dir("db");
    wait_running(&db);
    wait_ready_line(&db, "up ");
    t.sv(&["status", "app"])
        .stdout_norm("down: app: Ns, normally up, want up, waiting for db\n");
    t.make_ready("db");
    let pid = wait_running(&app);
    wait_ready_line(&app, &format!("ready {pid} @"));
    t.sv(&["status", "app", "db"])
        .code(0)
        .stdout_norm("run: app: (pid N) Ns, ready Ns\nrun: db: (pid N) Ns, ready Ns\n")
        .stderr("");
}

/// runit's `sv` and ours, one after the other against the same service, until both saw the same
/// second (at most three tries): their outputs.
fn both(t: &Tree, args: &[&str]) -> (Output, Output) {
    let mut last = None;
    for _ in 0..3 {
        let r = t.sv_cmd(&peer("/usr/bin/sv"), args).run();
        let h = t.sv(args);
        if normalize(&r.stdout) == normalize(&h.stdout) && r.stdout != h.stdout {
            last = Some((r, h));
            continue;
        }
        return (r, h);
    }
    last.expect("three tries")
}

/// A `check` script alone changes nothing in the lines (runit's, byte for byte), under our
/// supervise (which keeps `supervise/ready` for it, and runs `./check` itself: our sv does not)
/// and under runsv; `notification-fd` under runsv (which ignores it) shows ours `ready` since the
/// start, where runit's shows nothing.
#[test]
fn check_alone_keeps_runits_line() {
    for sup in [Flavor::Herd, Flavor::Runit] {
        let mut t = Tree::new(sup);
        t.script("ck/run", RUN_SLEEP);
        t.script("ck/check", "#!/bin/sh\necho x >> check-runs\n");
        t.script("ck/log/run", LOG_RUN);
        t.start("ck");
        let ck = t.dir("ck");
        wait_running(&ck);
        wait_running(&ck.join("log"));
        if sup == Flavor::Herd {
            wait_ready_line(&ck, "ready ");
        }
        for args in [
            &["status", "ck"][..],
            &["-w", "2", "up", "ck"],
            &["-w", "2", "check", "ck"],
        ] {
            let (r, h) = both(&t, args);
            assert_eq!(
                (h.code, &h.stdout, &h.stderr),
                (r.code, &r.stdout, &r.stderr),
                "{}: sv {args:?}: ours, runit's",
                sup.name(Tool::Supervise)
            );
        }
        // Our sv runs `./check` only where no supervise/ready says what it gave: under runsv.
        let runs = || {
            fs::read_to_string(ck.join("check-runs"))
                .unwrap_or_default()
                .len()
        };
        let before = runs();
        t.sv(&["-w", "2", "up", "ck"]).code(0);
        let ran = runs() - before;
        match sup {
            Flavor::Herd => assert_eq!(ran, 0, "our sv ran ./check beside supervise"),
            Flavor::Runit => assert_eq!(ran, 2, "our sv ran ./check {} times", ran / 2),
        }
    }
    let mut t = Tree::new(Flavor::Runit);
    t.script("nf/run", RUN_SLEEP);
    t.file("nf/notification-fd", "3\n");
    t.start("nf");
    wait_running(&t.dir("nf"));
    let (r, h) = both(&t, &["status", "nf"]);
    r.stdout_norm("run: nf: (pid N) Ns\n");
    h.stdout_norm("run: nf: (pid N) Ns, ready Ns\n");
}
