//! Readiness of the main service (issue 15, item 1; docs/readiness.md): `notification-fd`
//! compared with s6's own `s6-supervise` case by case, what herd does where it deliberately
//! differs (the warnings, descriptors 0 to 2, blanks) and `supervise/ready` beside runit's files
//! are in [`files`]; readiness by `check` is in [`check`].
//!
//! A differential case runs the same service under both supervisors at once and records what
//! each reports after each step: [`NotifyFlavor::is_ready`] (s6's ready flag, herd's
//! `supervise/ready`), the fate of the first `./run`, files the run wrote. A step that waits for
//! the run to get somewhere waits for a file it touches; the run waits for the test on the FIFO
//! `go` (`read _ < go`), so nothing depends on timing.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use super::*;

mod check;
mod files;

/// What the service directory holds as `notification-fd`.
#[derive(Clone, Copy)]
enum FdFile {
    Text(&'static str),
    Dir,
}

/// One step of a case, and the transcript line it gives.
#[derive(Clone, Copy)]
enum Step {
    /// Waits until the run has touched this file (it then blocks in `read _ < go`).
    Reached(&'static str),
    /// Waits (up to [`DEADLINE`]) for up and ready: `ready`, or `not ready`.
    Ready,
    /// Watches for [`QUIET`]: `not ready`, or `ready` if it became ready meanwhile.
    NotReady,
    /// Lets the run go on past its `read _ < go`: `go`.
    Go,
    /// Waits until the first run has died or has touched `alive`: `run ended` / `run alive`.
    Fate,
    /// Waits for the file the run writes, then `NAME: CONTENT`.
    Show(&'static str),
    /// Waits until the supervisor no longer holds its end of the notification pipe (descriptor
    /// 3 of the first run): `pipe closed`. s6 closes it a moment after it says ready.
    Closed,
}

/// The prologue of every case's run: the pid of each run in `pids`.
const PROLOGUE: &str = "#!/bin/sh\necho $$ >> pids\n";

/// A service `svc` in a fresh scenario with `notification-fd` as `fd` and `run` = PROLOGUE +
/// `body` + `exec sleep MARKER`, under `flavor`'s supervisor; runs `steps`, then stops the
/// supervisor and whatever is left of the service.
fn notify_case(flavor: NotifyFlavor, fd: FdFile, body: &str, steps: &[Step]) -> Vec<String> {
    let sc = Scenario::new();
    let mark = marker(4242);
    let svc = sc.service("svc", &format!("{PROLOGUE}{body}exec sleep {mark}\n"));
    match fd {
        FdFile::Text(t) => {
            fs::write(svc.join("notification-fd"), t).unwrap();
        }
        FdFile::Dir => fs::create_dir(svc.join("notification-fd")).unwrap(),
    }
    nix::unistd::mkfifo(
        &svc.join("go"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let mut c = Command::new(flavor.program());
    c.arg("svc").current_dir(sc.path());
    let mut sup = spawn_with_stderr(&sc, "svc", c);
    let mut out = Vec::new();
    let first_pid = || {
        read(&svc.join("pids"))
            .lines()
            .next()
            .and_then(|l| l.parse::<u32>().ok())
    };
    for step in steps {
        out.push(match *step {
            Step::Reached(f) => {
                wait_for(&format!("{flavor}: the run reaches {f}"), DEADLINE, || {
                    svc.join(f).exists()
                });
                format!("reached {f}")
            }
            Step::Ready => {
                let deadline = Instant::now() + DEADLINE;
                while !flavor.is_ready(&svc) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(2));
                }
                word(flavor.is_ready(&svc)).to_string()
            }
            Step::NotReady => {
                let deadline = Instant::now() + QUIET;
                let mut seen = false;
                while !seen && Instant::now() < deadline {
                    seen = flavor.is_ready(&svc);
                    std::thread::sleep(Duration::from_millis(2));
                }
                word(seen).to_string()
            }
            Step::Go => {
                let mut fifo = wait_until(&format!("{flavor}: the run opens go"), DEADLINE, || {
                    fs::OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_NONBLOCK)
                        .open(svc.join("go"))
                        .ok()
                });
                fifo.write_all(b"go\n").unwrap();
                "go".to_string()
            }
            Step::Fate => {
                let pid = first_pid().expect("a first run");
                wait_until(
                    &format!("{flavor}: run {pid} ends or lives"),
                    DEADLINE,
                    || {
                        if svc.join("alive").exists() {
                            Some("run alive")
                        } else if !pid_alive(pid) {
                            Some("run ended")
                        } else {
                            None
                        }
                    },
                )
                .to_string()
            }
            Step::Closed => {
                let pid = first_pid().expect("a first run");
                let pipe = fs::read_link(format!("/proc/{pid}/fd/3")).unwrap();
                wait_for(&format!("{flavor}: pipe closed"), DEADLINE, || {
                    !fds(sup.pid()).values().any(|t| Path::new(t) == pipe)
                });
                "pipe closed".to_string()
            }
            Step::Show(f) => {
                let p = svc.join(f);
                wait_for(&format!("{flavor}: the run writes {f}"), DEADLINE, || {
                    read(&p).ends_with('\n')
                });
                format!("{f}: {}", read(&p).trim_end())
            }
        });
    }
    // SIGTERM: both stop the service, then exit.
    sup.signal(libc::SIGTERM);
    assert_eq!(sup.wait(DEADLINE), Some(0), "{flavor}: exit after SIGTERM");
    for pid in read(&svc.join("pids"))
        .lines()
        .filter_map(|l| l.parse().ok())
    {
        signal(pid, libc::SIGKILL);
    }
    out
}

fn word(ready: bool) -> &'static str {
    if ready {
        "ready"
    } else {
        "not ready"
    }
}

/// Runs a case under s6 and herd at once; both must report the same, and that must be `want`.
#[track_caller]
fn differential(what: &str, fd: FdFile, body: &str, steps: &[Step], want: &[&str]) {
    let got = compare_notify_flavors(Schedule::AtOnce, what, |f| notify_case(f, fd, body, steps));
    assert_eq!(got, want, "{what}");
}

#[test]
fn notify_a_newline_makes_ready() {
    differential(
        "a newline",
        FdFile::Text("3\n"),
        "printf '\\n' >&3\n",
        &[Step::Ready],
        &["ready"],
    );
}

#[test]
fn notify_bytes_before_the_newline_are_ignored() {
    differential(
        "bytes, then later the newline",
        FdFile::Text("3\n"),
        "printf 'starting' >&3\ntouch reached\nread _ < go\nprintf ' done\\n' >&3\n",
        &[
            Step::Reached("reached"),
            Step::NotReady,
            Step::Go,
            Step::Ready,
        ],
        &["reached reached", "not ready", "go", "ready"],
    );
}

#[test]
fn notify_several_newlines_in_one_write() {
    differential(
        "several newlines in one write",
        FdFile::Text("3\n"),
        "printf 'a\\nb\\nc\\n' >&3\nread _ < go\necho alive > alive\n",
        &[Step::Ready, Step::Go, Step::Fate, Step::Ready],
        &["ready", "go", "run alive", "ready"],
    );
}

/// s6 closes its end at the first newline: a later write gets EPIPE, and the default SIGPIPE
/// kills the run (s6's children, like ours, have SIGPIPE at its default action).
#[test]
fn notify_a_later_write_gets_sigpipe() {
    differential(
        "a second newline in a later write",
        FdFile::Text("3\n"),
        "printf '\\n' >&3\nread _ < go\nprintf '\\n' >&3\necho alive > alive\n",
        &[Step::Ready, Step::Closed, Step::Go, Step::Fate],
        &["ready", "pipe closed", "go", "run ended"],
    );
}

#[test]
fn notify_closed_without_a_newline_is_never_ready() {
    differential(
        "closed without a newline",
        FdFile::Text("3\n"),
        "printf 'no newline' >&3\nexec 3>&-\ntouch reached\nread _ < go\n",
        &[
            Step::Reached("reached"),
            Step::NotReady,
            Step::Go,
            Step::NotReady,
        ],
        &["reached reached", "not ready", "go", "not ready"],
    );
}

#[test]
fn notify_death_before_the_newline_is_never_ready() {
    differential(
        "the run dies before its newline",
        FdFile::Text("3\n"),
        "printf 'partial' >&3\ntouch reached\nread _ < go\nexit 3\n",
        &[
            Step::Reached("reached"),
            Step::NotReady,
            Step::Go,
            Step::Fate,
            Step::NotReady,
        ],
        &[
            "reached reached",
            "not ready",
            "go",
            "run ended",
            "not ready",
        ],
    );
}

#[test]
fn notify_on_another_descriptor() {
    differential(
        "descriptor 7",
        FdFile::Text("7\n"),
        "printf '\\n' >&7\n",
        &[Step::Ready],
        &["ready"],
    );
}

/// What the run of a bad `notification-fd` finds at descriptor 3: both start it without one.
const PROBE_FD3: &str =
    "if { printf '\\n' >&3; } 2>/dev/null; then echo open > fd3; else echo closed > fd3; fi\n";

#[test]
fn notify_bad_files_start_the_run_without_readiness() {
    for (what, fd) in [
        ("not a number", FdFile::Text("abc\n")),
        ("empty", FdFile::Text("")),
        ("a directory", FdFile::Dir),
        ("out of range", FdFile::Text("99999999999\n")),
        ("a sign", FdFile::Text("+3\n")),
    ] {
        differential(
            what,
            fd,
            PROBE_FD3,
            &[Step::Show("fd3"), Step::NotReady],
            &["fd3: closed", "not ready"],
        );
    }
}

/// The end of every warning about a `notification-fd` that gives no descriptor.
const NOT_READY: &str = "the service starts, but cannot become ready";

/// `x`, then supervise's exit 0.
#[track_caller]
fn exit_and_wait(sup: &mut Proc, svc: &Path) {
    control(svc, "x");
    assert_eq!(sup.wait(DEADLINE), Some(0), "supervise's exit code");
}

/// The `ready PID @…` line of `supervise/ready`, with the stamp checked for shape.
#[track_caller]
fn ready_line_pid(svc: &Path) -> u32 {
    let text = read(&svc.join("supervise/ready"));
    let rest = text
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("ready file {text:?}"));
    let (pid, stamp) = rest.split_once(' ').unwrap();
    assert!(
        stamp.len() == 26 && stamp.starts_with("@4000") && stamp.ends_with('\n'),
        "{text:?}"
    );
    pid.parse().unwrap()
}
