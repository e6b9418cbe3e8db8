//! Names that are not UTF-8 (issue 13, item 4): a service directory whose name holds byte 0xff is
//! supervised, controlled and stopped like any other, and every line that names it carries the
//! name's bytes as given, as runit's tools print them. Each scenario runs under our `supervise`
//! and under runit's `runsv`, driven by our `sv` and by runit's, and the outputs must agree.
//!
//! Outputs are kept as bytes (the harness's `Output` holds text): the name's bytes are replaced by
//! `<NAME>` and what is left must be UTF-8, so a lossy `�` anywhere fails the test.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use herd_testsupport::*;

/// The service directory's name: byte 0xff is not UTF-8.
const NAME: &[u8] = b"a\xffb";

fn name() -> &'static OsStr {
    OsStr::from_bytes(NAME)
}

/// `./NAME`, the form runit's sv takes relative to the cwd.
fn dot_name() -> PathBuf {
    Path::new(".").join(name())
}

/// Both `sv`s: ours, then runit's.
fn svs() -> [PathBuf; 2] {
    [
        Flavor::Herd.program(Tool::Sv),
        Flavor::Runit.program(Tool::Sv),
    ]
}

/// What a finished command returned, its output as bytes.
struct Raw {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `program args` with its cwd in the scenario dir, bounded by the harness's deadline (its
/// process group is killed if it does not finish), and returns its output as bytes.
fn run_raw(sc: &Scenario, program: &Path, args: &[&OsStr]) -> Raw {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let (out, err) = (sc.join(format!(".out{n}")), sc.join(format!(".err{n}")));
    let mut c = Command::new(program);
    c.args(args)
        .current_dir(sc.path())
        .env("SVDIR", sc.path())
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"));
    let mut p = Proc::spawn_with_stdio(c);
    let code = p.wait(DEADLINE);
    Raw {
        code,
        stdout: std::fs::read(&out).expect("stdout"),
        stderr: std::fs::read(&err).expect("stderr"),
    }
}

/// `bytes` with the name's bytes shown as `<NAME>`; pids and seconds masked by `normalize`. The
/// rest must be UTF-8: a lossy replacement character would not be.
fn shown(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.starts_with(NAME) {
            out.extend_from_slice(b"<NAME>");
            rest = &rest[NAME.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    let text = String::from_utf8(out).unwrap_or_else(|e| panic!("not UTF-8 but the name: {e}"));
    assert!(!text.contains('\u{fffd}'), "a lossy name: {text:?}");
    normalize(&text)
}

/// Runs both `sv`s with `args` and checks that they agree, and what they print on stdout.
#[track_caller]
fn both_sv(sc: &Scenario, args: &[&OsStr], code: i32, stdout: &str) {
    for sv in svs() {
        let r = run_raw(sc, &sv, args);
        let what = format!("{} {args:?}", sv.display());
        assert_eq!(shown(&r.stdout), stdout, "stdout of {what}");
        assert_eq!(shown(&r.stderr), "", "stderr of {what}");
        assert_eq!(r.code, Some(code), "exit code of {what}");
    }
}

/// A service `NAME` that stays up, under supervisor `sup`; returns the supervisor.
fn start(sc: &Scenario, sup: Flavor) -> (Proc, PathBuf) {
    sc.script(Path::new(name()).join("run"), RUN_SLEEP);
    let svc = sc.path().join(name());
    let mut c = Command::new(sup.program(Tool::Supervise));
    c.arg(name()).current_dir(sc.path());
    (Proc::spawn(c), svc)
}

#[test]
fn supervised_controlled_and_stopped() {
    for sup in FLAVORS {
        let sc = Scenario::new();
        let (mut p, svc) = start(&sc, sup);
        let run_pid = wait_running(&svc);
        let dot = dot_name();
        let dot = dot.as_os_str();
        let status = OsStr::new("status");

        both_sv(&sc, &[status, dot], 0, "run: ./<NAME>: (pid N) Ns\n");
        // Under $SVDIR, as typed.
        both_sv(&sc, &[status, name()], 0, "run: <NAME>: (pid N) Ns\n");

        // Our sv writes the letters; both read the result.
        let r = run_raw(&sc, &bin("sv"), &[OsStr::new("down"), dot]);
        assert_eq!((r.code, r.stdout, r.stderr), (Some(0), vec![], vec![]));
        wait_status(&svc, "down", |s| s.state == State::Down && s.pid.is_none());
        assert!(!pid_alive(run_pid) || proc_state(run_pid) == Some('Z'));
        both_sv(&sc, &[status, dot], 0, "down: ./<NAME>: Ns, normally up\n");
        let r = run_raw(&sc, &bin("sv"), &[OsStr::new("up"), dot]);
        assert_eq!((r.code, r.stdout, r.stderr), (Some(0), vec![], vec![]));
        wait_running(&svc);
        both_sv(&sc, &[status, dot], 0, "run: ./<NAME>: (pid N) Ns\n");

        // Waiting commands print the name in their `ok:` lines.
        let v = OsStr::new("-v");
        both_sv(
            &sc,
            &[v, OsStr::new("down"), dot],
            0,
            "ok: down: ./<NAME>: Ns, normally up\n",
        );
        both_sv(
            &sc,
            &[v, OsStr::new("up"), dot],
            0,
            "ok: run: ./<NAME>: (pid N) Ns\n",
        );

        // `exit` stops the service and the supervisor, like any other.
        let last = wait_running(&svc);
        let r = run_raw(&sc, &bin("sv"), &[OsStr::new("exit"), dot]);
        assert_eq!((r.code, r.stdout, r.stderr), (Some(0), vec![], vec![]));
        assert_eq!(p.wait(DEADLINE), Some(0), "{sup:?} exits 0");
        wait_for("the service stopped", DEADLINE, || !pid_alive(last));
        assert_eq!(
            std::fs::read(svc.join("supervise/stat")).unwrap(),
            b"down\n"
        );
        both_sv(
            &sc,
            &[status, dot],
            1,
            "fail: ./<NAME>: runsv not running\n",
        );
    }
}

/// A second supervisor on the same directory fails with the name in its prefix, as given.
#[test]
fn fatal_lines_carry_the_name() {
    for sup in FLAVORS {
        let sc = Scenario::new();
        let (_p, svc) = start(&sc, sup);
        wait_running(&svc);
        let second = run_raw(&sc, &sup.program(Tool::Supervise), &[name()]);
        let prefix = sup.name(Tool::Supervise);
        assert_eq!(second.code, Some(111));
        assert_eq!(
            shown(&second.stderr),
            format!("{prefix} <NAME>: fatal: unable to lock supervise/lock: temporary failure\n")
        );
    }
}

/// A directory that is not there: the argument is read as bytes (it used to panic) and named
/// as given.
#[test]
fn missing_directory() {
    for sup in FLAVORS {
        let sc = Scenario::new();
        let r = run_raw(&sc, &sup.program(Tool::Supervise), &[name()]);
        let prefix = sup.name(Tool::Supervise);
        assert_eq!(r.code, Some(111));
        assert_eq!(
            shown(&r.stderr),
            format!("{prefix} <NAME>: fatal: unable to change to directory: file does not exist\n")
        );
    }
}

/// The failure text a forked child writes when `./run` cannot be executed names the service
/// as given too (it is rendered before the fork).
#[test]
fn exec_failure_text_carries_the_name() {
    for sup in FLAVORS {
        let sc = Scenario::new();
        let run = sc.script(Path::new(name()).join("run"), RUN_SLEEP);
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = sc.join(".supervisor-stderr");
        let mut c = Command::new(sup.program(Tool::Supervise));
        c.arg(name())
            .current_dir(sc.path())
            .stdin(Stdio::null())
            .stderr(File::create(&err).unwrap());
        let _p = Proc::spawn_with_stdio(c);
        let prefix = sup.name(Tool::Supervise);
        let want = format!("{prefix} <NAME>: fatal: unable to start ./run: access denied\n");
        let first = wait_until("the exec failure line", DEADLINE, || {
            let bytes = std::fs::read(&err).ok()?;
            let end = bytes.iter().position(|&b| b == b'\n')?;
            Some(bytes[..=end].to_vec())
        });
        assert_eq!(shown(&first), want);
    }
}

/// svlog logs into a directory whose name is not UTF-8 (the name is not turned into text on the
/// way to `open`).
#[test]
fn svlog_directory() {
    let sc = Scenario::new();
    std::fs::create_dir(sc.path().join(name())).unwrap();
    let out = sc
        .cmd(bin("svlog"))
        .arg(name())
        .input(b"one\ntwo\n".to_vec())
        .run();
    out.code(0).stderr("");
    assert_eq!(
        std::fs::read(sc.path().join(name()).join("current")).unwrap(),
        b"one\ntwo\n"
    );
}

/// Under svscan: the service gets its own supervise with the name's bytes as its argument, our
/// `sv` restarts it, and svscan's SIGTERM stops it like any other; svscan warns about nothing
/// and exits 0.
#[test]
fn under_svscan() {
    let sc = Scenario::new();
    let svc = sc.path().join("scan").join(name());
    // The marker is written after the trap is set; TERM is recorded, then run exits.
    sc.script(
        Path::new("scan").join(name()).join("run"),
        "#!/bin/sh\ntrap 'echo term >> ../../got-term; exit 0' TERM\necho up >> ../../up\n\
         while :; do sleep 1 & wait; done\n",
    );
    let err = sc.join(".svscan-stderr");
    let mut c = Command::new(bin("svscan"));
    c.arg(sc.path().join("scan"))
        .current_dir(sc.path())
        .stdin(Stdio::null())
        .stderr(File::create(&err).unwrap());
    let mut svscan = Proc::spawn_with_stdio(c);
    let first = wait_running(&svc);
    // svscan's children are the supervise and svscan's forker (docs/svscan.md, "The forker").
    let supervise = wait_until("svscan's supervise", DEADLINE, || {
        proc_children(svscan.pid())
            .into_iter()
            .find(|&p| std::fs::read(format!("/proc/{p}/comm")).is_ok_and(|c| c == b"supervise\n"))
    });
    let argv = std::fs::read(format!("/proc/{supervise}/cmdline")).unwrap();
    assert!(
        argv.ends_with(&[b"\0", NAME, b"\0"].concat()),
        "supervise's argv: {}",
        String::from_utf8_lossy(&argv)
    );

    // `term`, not `restart`: sv's wait for a restart compares whole seconds, as runit's does, so
    // it can see the old instance as the restarted one.
    let scan_name = Path::new("scan").join(name());
    let r = run_raw(
        &sc,
        &bin("sv"),
        &[OsStr::new("term"), scan_name.as_os_str()],
    );
    assert_eq!((r.code, r.stdout, r.stderr), (Some(0), vec![], vec![]));
    let second = wait_status(&svc, "a new instance", |s| {
        s.state == State::Run && s.pid.is_some_and(|p| p.get() != first)
    })
    .pid
    .map_or(0, |p| p.get());
    let r = run_raw(
        &sc,
        &bin("sv"),
        &[OsStr::new("status"), scan_name.as_os_str()],
    );
    assert_eq!(shown(&r.stdout), "run: scan/<NAME>: (pid N) Ns\n");
    assert_eq!((r.code, shown(&r.stderr)), (Some(0), String::new()));
    wait_for("run's trap", DEADLINE, || {
        std::fs::read_to_string(sc.join("up")).is_ok_and(|s| s.lines().count() == 2)
    });

    svscan.signal(libc::SIGTERM);
    assert_eq!(svscan.wait(DEADLINE), Some(0), "svscan's exit code");
    assert_eq!(shown(&std::fs::read(&err).unwrap()), "");
    assert_eq!(
        std::fs::read_to_string(sc.join("got-term")).unwrap(),
        "term\nterm\n",
        "the first run by sv term, the second by svscan's stop"
    );
    assert!(!pid_alive(second));
    assert_eq!(
        std::fs::read(svc.join("supervise/stat")).unwrap(),
        b"down\n"
    );
}
