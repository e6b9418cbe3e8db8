//! svlog SIGKILLed at every step of its work, by `strace`'s fault injection (issue 14, item 5):
//! the next svlog on the same pipe logs every line exactly once, in order, in whole lines. The
//! steps are the k-th call of each system call svlog makes while it takes input and writes it:
//! `splice` (input into the spool), `pread64` (read back), `write` (to `current`), `pwrite64`
//! (the commits), `ftruncate` (the spool cut back), `renameat`, `fsync` and `openat` (start-up
//! and rotations, every four lines with `s150`). svlogd loses what it has read when it is killed before writing it; so
//! did svlog before its spool. Needs `/usr/bin/strace` (Debian's `strace` package).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use herd_testsupport::*;

/// Lines written in each of the three chunks.
const CHUNK: usize = 8;
/// Positions tried per system call (a kind that runs out earlier stops earlier).
const MOST: usize = 12;
/// `svlog -tt`: a 25-byte stamp and a space before each line.
const STAMP: usize = 26;

fn pipe() -> (fs::File, fs::File) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
    (fs::File::from(r), fs::File::from(w))
}

fn chunk(k: usize) -> String {
    (k * CHUNK + 1..=(k + 1) * CHUNK)
        .map(|i| format!("line-{i:04}\n"))
        .collect()
}

/// The lines of every file of log directory `dir` (rotated ones first), stamps removed; each
/// file must end with a newline.
fn logged(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('@') || n == "current")
        .collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let data = fs::read_to_string(dir.join(&n)).unwrap();
        assert!(
            data.is_empty() || data.ends_with('\n'),
            "{n} ends mid-line: {data:?}"
        );
        out.extend(
            data.lines()
                .map(|l| l.get(STAMP..).unwrap_or("(short line)").to_string()),
        );
    }
    out
}

/// Newlines in the files of `dir` (while svlog may be writing).
fn newlines(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            n.to_string_lossy().starts_with('@') || n == "current"
        })
        .map(|e| {
            fs::read(e.path())
                .unwrap_or_default()
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        })
        .sum()
}

/// Logs three chunks through one pipe: the first svlog is killed at the `k`-th `syscall` (if
/// it gets that far), a second one logs the rest. Returns whether the kill happened.
fn kill_at(syscall: &str, k: usize) -> bool {
    let sc = Scenario::new();
    let dir = sc.join("L");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config"), "s150\nn0\n").unwrap();
    let (rd, mut w) = pipe();
    let svlog = bin("svlog");
    let logger = |traced: bool, err: &str| {
        let mut c = if traced {
            let mut c = Command::new(peer("/usr/bin/strace"));
            c.args(["-qq", "-o", "/dev/null", "-e"])
                .arg(format!("trace={syscall}"))
                .arg("-e")
                .arg(format!("inject={syscall}:signal=KILL:when={k}"))
                .arg(&svlog);
            c
        } else {
            Command::new(&svlog)
        };
        c.args(["-tt", "L"])
            .current_dir(sc.path())
            .stdin(Stdio::from(rd.try_clone().unwrap()))
            .stdout(Stdio::null())
            .stderr(Stdio::from(fs::File::create(sc.join(err)).unwrap()));
        Proc::spawn_with_stdio(c)
    };
    let mut first = logger(true, "err1");
    let mut killed = false;
    let mut want = String::new();
    for n in 0..2 {
        want.push_str(&chunk(n));
        w.write_all(chunk(n).as_bytes()).unwrap();
        let lines = want.lines().count();
        wait_for(
            &format!("{syscall} #{k}: chunk {n} logged or svlog killed"),
            DEADLINE,
            || {
                killed = !first.alive();
                killed || newlines(&dir) == lines
            },
        );
        if killed {
            break;
        }
    }
    if !killed {
        // Not killed: svlog (strace's child) is told to stop; strace exits with it.
        for pid in proc_children(first.pid()) {
            signal(pid, libc::SIGTERM);
        }
        // Its stop may reach the k-th call (an fsync at the close).
        match first.wait(DEADLINE) {
            Some(0) => {}
            None | Some(137) => killed = true,
            other => panic!("{syscall} #{k}: svlog exited {other:?} after SIGTERM"),
        }
    }
    let mut second = logger(false, "err2");
    want.push_str(&chunk(2));
    w.write_all(chunk(2).as_bytes()).unwrap();
    drop(w);
    assert_eq!(
        second.wait(DEADLINE),
        Some(0),
        "{syscall} #{k}: second svlog"
    );
    for err in ["err1", "err2"] {
        assert_eq!(
            fs::read_to_string(sc.join(err)).unwrap(),
            "",
            "{syscall} #{k}: {err}"
        );
    }
    let want: Vec<&str> = want.lines().collect();
    let got = logged(&dir);
    assert!(
        got == want,
        "svlog killed at {syscall} #{k}: lines lost or repeated\ngot  {got:?}\nwant {want:?}"
    );
    assert!(
        !dir.join("spool").exists(),
        "{syscall} #{k}: spool left after a clean exit"
    );
    killed
}

#[test]
fn killed_at_every_step_loses_and_repeats_nothing() {
    // `write` first: the step where svlogd (and svlog before its spool) loses lines.
    for syscall in [
        "write",
        "pwrite64",
        "splice",
        "pread64",
        "ftruncate",
        "renameat",
        "fsync",
        "openat",
    ] {
        let mut kills = 0;
        for k in 1..=MOST {
            if !kill_at(syscall, k) {
                break;
            }
            kills += 1;
        }
        assert!(kills > 0, "svlog never called {syscall}");
        eprintln!("{syscall}: killed at each of its first {kills} calls");
    }
}
