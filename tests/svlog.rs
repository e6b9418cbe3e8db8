//! svlog against runit's svlogd, and svlog's own guarantees.
//!
//! Differential tests run the same input and `config` through `/usr/bin/svlogd` and through our
//! `svlog` (both with `argv[0]` = `/usr/bin/svlogd`, so usage lines need no rewriting), each in
//! its own scenario dir, the two flavors at the same time in two threads. Each run is recorded as a
//! transcript: exit code, stdout, stderr, and every file of the log directories (name, mode, size
//! and content), with TAI64N labels and UTC stamps masked (after checking that they are well
//! formed and close to now). The two transcripts must be identical.
//!
//! Where svlog differs from svlogd on purpose (docs/svlog.md, Notes), the tests assert svlog's
//! behaviour exactly instead, and say which difference applies:
//! (1) a final line without newline is kept; (2) SIGTERM completes and writes the line in
//! progress; (3) rotation only between records, files never above `s`; (4) a full disk pauses
//! without losing or spinning; (5) a failed processor is retried once a second; (6) `-r`/`-R`
//! apply to the whole line; (7) `-b` does not size reads and writes.
//!
//! svlog alone is also checked for what svlogd does not promise: a million lines through a pipe
//! the test holds while svlog is TERMed and restarted (nothing lost, duplicated or cut), a full
//! disk (a 64 KiB tmpfs mounted in the scenario: needs root), TERM in the middle of a line, and
//! an idle svlog that never wakes up.
//!
//! Live loggers read a pipe whose write end the test holds; a logger is "ready" once it has
//! `DIR/current` open (lock taken, config read, signal handling set up, in both programs).
//!
//! [`hardening`] checks that symlinks planted in a log directory are not followed, and
//! [`faults`] that faults of the system (EMFILE) are survived without losing a line.

mod faults;
mod hardening;

use std::fs;
use std::io::{Read, Write};
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use herd_tai64n::Tai64n;
use herd_testsupport::*;

/// `argv[0]` given to both loggers.
const ARGV0: &str = "/usr/bin/svlogd";
/// How long a run to EOF may take.
const RUN: Duration = Duration::from_secs(10);
/// Between two looks during a long watch (two seconds with nothing to see), and what a logger
/// is given to settle into its wait before such a watch.
const LOOK: Duration = Duration::from_millis(200);

use Flavor::{Herd, Runit};

// ------------------------------------------------------------------------------------------
// Masking and transcripts

/// Whether `s` starts with a TAI64N label (`@` + 24 lowercase hex digits); if so, checks that
/// it is within 10 minutes of now and that its nanoseconds end in 500, as runit writes them.
fn tai_at(s: &[u8]) -> bool {
    if s.len() < 25
        || s[0] != b'@'
        || !s[1..25]
            .iter()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    {
        return false;
    }
    let t = Tai64n::parse_label(&s[..25]).expect("label");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!(
        (t.unix_secs() - now).abs() < 600,
        "TAI64N label {} is not close to now",
        String::from_utf8_lossy(&s[..25])
    );
    assert_eq!(
        t.nanos % 1000,
        500,
        "TAI64N label {} does not end in 500 ns",
        String::from_utf8_lossy(&s[..25])
    );
    true
}

/// Whether `s` starts with a UTC stamp `YYYY-MM-DD_HH:MM:SS.xxxxx` (`Some(false)`) or the same
/// with `T` (`Some(true)`); a stamp found must be within 10 minutes of now.
fn utc_at(s: &[u8]) -> Option<bool> {
    const SHAPE: &[u8; 25] = b"dddd-dd-dd?dd:dd:dd.ddddd";
    if s.len() < 25 {
        return None;
    }
    for (c, want) in s[..25].iter().zip(SHAPE) {
        let ok = match want {
            b'd' => c.is_ascii_digit(),
            b'?' => *c == b'_' || *c == b'T',
            w => c == w,
        };
        if !ok {
            return None;
        }
    }
    let iso = s[10] == b'T';
    let at = |d: i64| {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        Tai64n::from_unix((now + d) as u64, 0).utc(iso)
    };
    let (lo, hi) = (at(-600), at(600));
    assert!(
        lo[..] <= s[..25] && s[..25] <= hi[..],
        "UTC stamp {} is not close to now",
        String::from_utf8_lossy(&s[..25])
    );
    Some(iso)
}

/// `s` with every TAI64N label replaced by `@<tai64n>` and every UTC stamp by `<utc>` (`-tt`)
/// or `<iso>` (`-ttt`).
fn mask(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if tai_at(&s[i..]) {
            out.extend_from_slice(b"@<tai64n>");
            i += 25;
        } else if let Some(iso) = utc_at(&s[i..]) {
            out.extend_from_slice(if iso { b"<iso>" } else { b"<utc>" });
            i += 25;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// Masked text, one `|`-prefixed line per line, non-printables escaped; a last line without
/// newline is marked.
fn show_lines(s: &[u8]) -> String {
    let mut out = String::new();
    for line in s.split_inclusive(|&b| b == b'\n') {
        let (body, nl) = match line.strip_suffix(b"\n") {
            Some(b) => (b, true),
            None => (line, false),
        };
        out.push_str("  |");
        out.push_str(&mask(body).escape_ascii().to_string());
        if !nl {
            out.push_str(" (no newline)");
        }
        out.push('\n');
    }
    out
}

/// Every file of log directory `dir`, in name order: `name mode size`, then its content (not
/// for `config` and `lock`). Labels in names are masked.
fn snapshot(dir: &Path) -> String {
    let Ok(rd) = fs::read_dir(dir) else {
        return "  (no directory)\n".into();
    };
    let mut names: Vec<String> = rd
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    let mut out = String::new();
    for n in names {
        let p = dir.join(&n);
        let md = fs::symlink_metadata(&p).expect("stat");
        let mode = md.permissions().mode() & 0o7777;
        let shown = String::from_utf8_lossy(&mask(n.as_bytes())).into_owned();
        if md.is_dir() {
            out.push_str(&format!("{shown}/ {mode:o}\n"));
            continue;
        }
        out.push_str(&format!("{shown} {mode:o} {}\n", md.len()));
        if n != "config" && n != "lock" {
            out.push_str(&show_lines(&fs::read(&p).expect("read log file")));
        }
    }
    out
}

/// Exit code, stdout and stderr (masked) of a run.
fn show_output(out: &Output) -> String {
    format!(
        "rc={:?}\nstdout={:?}\nstderr:\n{}",
        out.code,
        out.stdout,
        show_lines(out.stderr.as_bytes())
    )
}

/// Runs `f` for svlogd and for svlog at the same time and asserts that the transcripts are the
/// same; returns svlog's.
#[track_caller]
fn same(f: impl Fn(Flavor) -> String + Sync) -> String {
    compare_flavors(Tool::Svlog, Schedule::AtOnce, "", f)
}

/// Runs a logger to EOF on `input`, in `sc`.
fn run(sc: &Scenario, f: Flavor, args: &[&str], input: &[u8]) -> Output {
    sc.cmd(f.program(Tool::Svlog))
        .arg0(ARGV0)
        .args(args)
        .input(input)
        .timeout(RUN)
        .run()
}

/// A fresh scenario prepared by `setup`, one run to EOF, and its transcript: the output and a
/// snapshot of each of `dirs`.
fn batch(
    f: Flavor,
    setup: impl Fn(&Scenario),
    args: &[&str],
    input: &[u8],
    dirs: &[&str],
) -> String {
    let sc = Scenario::new();
    setup(&sc);
    let out = run(&sc, f, args, input);
    let mut t = show_output(&out);
    for d in dirs {
        t.push_str(&format!("{d}:\n{}", snapshot(&sc.join(d))));
    }
    t
}

/// Log directory `L` with `config` (none if empty).
fn logdir(sc: &Scenario, config: &str) {
    fs::create_dir_all(sc.join("L")).expect("mkdir L");
    if !config.is_empty() {
        sc.file("L/config", config, 0o644);
    }
}

/// `n` lines `line-NNN-xxx…` of `len` bytes each (newline included), from `from`.
fn numbered(from: usize, n: usize, len: usize) -> String {
    (from..from + n)
        .map(|i| {
            let head = format!("line-{i:03}-");
            format!("{head}{}\n", "x".repeat(len - head.len() - 1))
        })
        .collect()
}

/// The expected snapshot entry of one file with `content` (masked as [`snapshot`] shows it).
fn entry(name: &str, mode: u32, content: &str) -> String {
    entry_sized(name, mode, content.len(), content)
}

/// [`entry`] for content with masked stamps: `size` is the real size.
fn entry_sized(name: &str, mode: u32, size: usize, content: &str) -> String {
    format!("{name} {mode:o} {size}\n{}", show_lines(content.as_bytes()))
}

/// The snapshot line of `config`.
fn config_entry(config: &str) -> String {
    format!("config 644 {}\n", config.len())
}

/// On-disk length of one stamp and its space (`-t`, `-tt` and `-ttt` alike).
const STAMP: usize = 26;

/// Names of the rotated files (`@….s`/`.u`/`.t`) of `dir`, oldest first.
fn saved(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.len() == 27 && n.starts_with('@'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

// ------------------------------------------------------------------------------------------
// A logger kept running

/// A pipe whose ends are closed on exec.
fn pipe() -> (fs::File, fs::File) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
    (fs::File::from(r), fs::File::from(w))
}

/// A logger reading a pipe the test writes to. The test keeps a copy of the pipe's read end,
/// so what the logger leaves unread can be read back.
struct Live {
    p: Proc,
    input: Option<fs::File>,
    rd: fs::File,
    err: PathBuf,
}

impl Live {
    /// Starts `f` with `args` in `sc`, stderr to the file `err`, stdin the read end `rd`.
    fn start_on(sc: &Scenario, f: Flavor, args: &[&str], err: &str, rd: &fs::File) -> Proc {
        let mut c = Command::new(f.program(Tool::Svlog));
        c.arg0(ARGV0)
            .args(args)
            .current_dir(sc.path())
            .stdin(Stdio::from(rd.try_clone().expect("dup")))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                fs::File::create(sc.join(err)).expect("stderr file"),
            ));
        Proc::spawn_with_stdio(c)
    }

    fn start(sc: &Scenario, f: Flavor, args: &[&str], err: &str) -> Live {
        let (rd, w) = pipe();
        let p = Live::start_on(sc, f, args, err, &rd);
        Live {
            p,
            input: Some(w),
            rd,
            err: sc.join(err),
        }
    }

    /// Starts and waits until `dir/current` is open (lock taken, config read, signals set up).
    /// Started, with `DIR/current` open and back in poll: a signal sent now is handled there.
    /// (svlogd unblocks its signals just before its poll: one that came earlier, while it was
    /// still setting up, would be handled then, and its rotation done only after the next read,
    /// taking the line the test writes next with it.)
    fn ready(sc: &Scenario, f: Flavor, args: &[&str], err: &str, dir: &str) -> Live {
        let l = Live::start(sc, f, args, err);
        wait_current_open(l.p.pid(), &sc.join(dir));
        wait_polling(l.p.pid());
        l
    }

    fn write(&mut self, b: &[u8]) {
        self.input
            .as_mut()
            .expect("input open")
            .write_all(b)
            .expect("write to logger");
    }

    /// Closes the test's write end: EOF for the logger.
    fn eof(&mut self) {
        self.input = None;
    }

    fn signal(&self, sig: i32) {
        self.p.signal(sig);
    }

    fn pid(&self) -> u32 {
        self.p.pid()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Waits for the exit; returns the exit code and stderr (masked).
    #[track_caller]
    fn exit(&mut self, timeout: Duration) -> String {
        let code = self.p.wait(timeout);
        format!(
            "rc={code:?}\nstderr:\n{}",
            show_lines(self.stderr().as_bytes())
        )
    }

    /// What is left in the pipe, once the logger is gone and the write end closed.
    fn leftover(&mut self) -> Vec<u8> {
        self.eof();
        let mut v = Vec::new();
        self.rd.read_to_end(&mut v).expect("read leftover");
        v
    }
}

/// Waits until `pid` has `dir/current` open.
#[track_caller]
fn wait_current_open(pid: u32, dir: &Path) {
    let cur = fs::canonicalize(dir).expect("log dir").join("current");
    wait_for(
        &format!("{} open by {pid}", cur.display()),
        DEADLINE,
        || {
            fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| fs::read_link(e.path()).is_ok_and(|l| l == cur))
        },
    );
}

/// Waits until logger `pid` is blocked waiting for input: in poll (svlogd) or ppoll (svlog).
#[track_caller]
fn wait_polling(pid: u32) {
    let waiting = [libc::SYS_poll, libc::SYS_ppoll].map(|nr| format!("{nr} "));
    wait_for(&format!("pid {pid} waiting in poll"), DEADLINE, || {
        fs::read_to_string(format!("/proc/{pid}/syscall"))
            .is_ok_and(|s| waiting.iter().any(|w| s.starts_with(w.as_str())))
    });
}

/// Waits until `path` holds exactly `want`.
#[track_caller]
fn wait_content(path: &Path, want: &str) {
    wait_for(
        &format!("{} to hold {want:?}", path.display()),
        DEADLINE,
        || fs::read(path).is_ok_and(|c| c == want.as_bytes()),
    );
}

/// Waits until `dir` has `n` rotated files.
#[track_caller]
fn wait_saved(dir: &Path, n: usize, timeout: Duration) {
    wait_for(
        &format!("{n} rotated files in {}", dir.display()),
        timeout,
        || saved(dir).len() == n,
    );
}

/// Bytes `pid` has read so far (`rchar` of `/proc/PID/io`).
fn rchar(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("rchar:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------
// 1. Differential: command line

#[test]
fn usage_and_option_errors() {
    let usage = "usage: /usr/bin/svlogd [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...\n\n";
    let cases: &[(&[&str], &str)] = &[
        (&[], usage),
        (&["-t"], usage),
        (&["-l", "10", "-b", "10", "L"], usage),
        (&["-l", "10", "-b", "5", "L"], usage),
        // -b defaults to 1024: -l 1024 is too long for it.
        (&["-l", "1024", "L"], usage),
        // -l 0 is 1000, -b 1000 is then too short.
        (&["-l", "0", "-b", "1000", "L"], usage),
        (&["-r", "ab", "L"], usage),
        (&["-r", "", "L"], usage),
    ];
    for (args, want) in cases {
        let t = same(|f| batch(f, |sc| logdir(sc, ""), args, b"", &[]));
        assert_eq!(
            t,
            format!(
                "rc=Some(111)\nstdout=\"\"\nstderr:\n{}",
                show_lines(want.as_bytes())
            ),
            "{args:?}"
        );
    }
    // -V prints the version first.
    let t = same(|f| batch(f, |sc| logdir(sc, ""), &["-V", "L"], b"", &[]));
    assert_eq!(
        t,
        format!(
            "rc=Some(111)\nstdout=\"\"\nstderr:\n{}",
            show_lines(
                format!("$Id: 5e55a90e0a1b35ec47fed3021453c50675ea1117 $\n{usage}").as_bytes()
            )
        )
    );
    // Options end at the first operand: `-l` is then a directory.
    let t = same(|f| batch(f, |sc| logdir(sc, ""), &["L", "-l"], b"x\n", &["L"]));
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\n{}L:\n{}lock 600 0\n",
            show_lines(b"svlogd: warning: unable to open log directory: -l: file does not exist\n"),
            entry("current", 0o744, "x\n")
        )
    );
    // Accepted: -l x reads as 0, i.e. 1000, and -b 1001 is then enough; -b 0 is 1024.
    for args in [
        &["-l", "x", "-b", "1001", "L"][..],
        &["-l", "1023", "-b", "0", "L"],
    ] {
        let t = same(|f| batch(f, |sc| logdir(sc, ""), args, b"ok\n", &["L"]));
        assert_eq!(
            t,
            format!(
                "rc=Some(0)\nstdout=\"\"\nstderr:\nL:\n{}lock 600 0\n",
                entry("current", 0o744, "ok\n")
            ),
            "{args:?}"
        );
    }
}

/// getopt's complaints name the program by the last part of `argv[0]` in svlogd
/// (`svlogd: illegal option -- z` when run as `/usr/bin/svlogd`).
#[test]
fn illegal_option_names_the_program() {
    let usage = "usage: /usr/bin/svlogd [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...\n\n";
    let t = same(|f| batch(f, |sc| logdir(sc, ""), &["-z", "L"], b"", &[]));
    assert_eq!(
        t,
        format!(
            "rc=Some(111)\nstdout=\"\"\nstderr:\n{}",
            show_lines(format!("svlogd: illegal option -- z\n{usage}").as_bytes())
        )
    );
    let t = same(|f| batch(f, |sc| logdir(sc, ""), &["-l"], b"", &[]));
    assert_eq!(
        t,
        format!(
            "rc=Some(111)\nstdout=\"\"\nstderr:\n{}",
            show_lines(format!("svlogd: option requires an argument -- l\n{usage}").as_bytes())
        )
    );
}

/// Our own name in the usage line when run under it.
#[test]
fn usage_names_argv0() {
    let sc = Scenario::new();
    let prog = bin("svlog");
    let out = sc.cmd(&prog).run();
    out.code(111).stdout("").stderr(&format!(
        "usage: {} [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...\n\n",
        prog.display()
    ));
}

// ------------------------------------------------------------------------------------------
// 1. Differential: timestamps, files and modes

#[test]
fn timestamps_files_and_modes() {
    for (args, stamp) in [
        (&[][..], ""),
        (&["-t"][..], "@<tai64n> "),
        (&["-tt"][..], "<utc> "),
        (&["-ttt"][..], "<iso> "),
        // More than three count as three.
        (&["-t", "-t", "-tt"][..], "<iso> "),
    ] {
        let mut a: Vec<&str> = args.to_vec();
        a.push("L");
        let t = same(|f| batch(f, |sc| logdir(sc, ""), &a, b"a\n\nb c\n", &["L"]));
        let size = 7 + if stamp.is_empty() { 0 } else { 3 * STAMP };
        assert_eq!(
            t,
            format!(
                "rc=Some(0)\nstdout=\"\"\nstderr:\nL:\n{}lock 600 0\n",
                entry_sized(
                    "current",
                    0o744,
                    size,
                    &format!("{stamp}a\n{stamp}\n{stamp}b c\n")
                )
            ),
            "{args:?}"
        );
    }
}

#[test]
fn verbose_messages_and_append() {
    let t = same(|f| {
        let sc = Scenario::new();
        logdir(&sc, "s2500\nn3\n");
        let mut t = show_output(&run(&sc, f, &["-v", "L"], numbered(1, 40, 100).as_bytes()));
        // Clean exit: the next start appends.
        t.push_str(&show_output(&run(&sc, f, &["-v", "L"], b"again\n")));
        t.push_str(&snapshot(&sc.join("L")));
        t
    });
    let want_err = "svlogd: info: read: L/config\n\
        svlogd: info: new: L/current\n\
        svlogd: info: rename: L/current @<tai64n>.s 1500\n\
        svlogd: info: rename: L/current @<tai64n>.s 1500\n\
        svlogd: info: close: L\n";
    let want_err2 = "svlogd: info: read: L/config\n\
        svlogd: info: append: L/current\n\
        svlogd: info: close: L\n";
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\n{}rc=Some(0)\nstdout=\"\"\nstderr:\n{}{}{}{}{}lock 600 0\n",
            show_lines(want_err.as_bytes()),
            show_lines(want_err2.as_bytes()),
            entry("@<tai64n>.s", 0o744, &numbered(1, 15, 100)),
            entry("@<tai64n>.s", 0o744, &numbered(16, 15, 100)),
            config_entry("s2500\nn3\n"),
            entry("current", 0o744, &(numbered(31, 10, 100) + "again\n")),
        )
    );
}

// ------------------------------------------------------------------------------------------
// 1. Differential: size rotation and n

/// docs/runit-compatibility.md#svlogd-rotation: `s2500 n3`, 100 lines of 100 bytes: three files of
/// 1500 bytes (the older ones deleted), current 1000 bytes.
#[test]
fn size_rotation_and_n() {
    let t = same(|f| {
        batch(
            f,
            |sc| logdir(sc, "s2500\nn3\n"),
            &["L"],
            numbered(1, 100, 100).as_bytes(),
            &["L"],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\nL:\n{}{}{}{}{}lock 600 0\n",
            entry("@<tai64n>.s", 0o744, &numbered(46, 15, 100)),
            entry("@<tai64n>.s", 0o744, &numbered(61, 15, 100)),
            entry("@<tai64n>.s", 0o744, &numbered(76, 15, 100)),
            config_entry("s2500\nn3\n"),
            entry("current", 0o744, &numbered(91, 10, 100)),
        )
    );
    // n0 keeps everything; k suffix; -v shows renames and deletes; timestamps count in the size.
    for (config, args) in [
        ("s2500\nn0\n", &["L"][..]),
        ("s3k\nn2\n", &["-v", "L"][..]),
        ("s2500\nn2\n", &["-tt", "-v", "L"][..]),
        ("s2500\nn2\n", &["-ttt", "L"][..]),
        ("# comment\n\nx\ns2500\nn2\n", &["-t", "L"][..]),
    ] {
        same(|f| {
            batch(
                f,
                |sc| logdir(sc, config),
                args,
                numbered(1, 100, 74).as_bytes(),
                &["L"],
            )
        });
    }
    let t = same(|f| {
        batch(
            f,
            |sc| logdir(sc, "s2500\nn0\n"),
            &["L"],
            numbered(1, 100, 100).as_bytes(),
            &["L"],
        )
    });
    assert_eq!(t.matches(".s 744 1500\n").count(), 6, "{t}");
}

/// With `s` below `len` (1000 by default), svlogd rotates only before a write that finds
/// current at `s` (its "after the line" check `size >= s - len` underflows and never fires).
/// Lines of 20 bytes fill 100-byte files exactly: no line is split, so no deliberate difference
/// applies and the files must be the same.
#[test]
fn s_below_len_fills_files_like_svlogd() {
    let t = same(|f| {
        batch(
            f,
            |sc| logdir(sc, "s100\n"),
            &["L"],
            numbered(1, 10, 20).as_bytes(),
            &["L"],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\nL:\n{}{}{}lock 600 0\n",
            entry("@<tai64n>.s", 0o744, &numbered(1, 5, 20)),
            config_entry("s100\n"),
            entry("current", 0o744, &numbered(6, 5, 20)),
        )
    );
}

/// Deliberate difference (3): with `s100` and 30-byte lines svlogd cuts the fourth line across
/// two files; svlog keeps lines whole and fills each file as far as whole lines go (90 bytes).
#[test]
fn whole_lines_when_s_is_below_line_multiple() {
    let sc = Scenario::new();
    logdir(&sc, "s100\n");
    run(&sc, Herd, &["L"], numbered(1, 10, 30).as_bytes())
        .code(0)
        .stderr("");
    assert_eq!(
        snapshot(&sc.join("L")),
        format!(
            "{}{}{}{}{}lock 600 0\n",
            entry("@<tai64n>.s", 0o744, &numbered(1, 3, 30)),
            entry("@<tai64n>.s", 0o744, &numbered(4, 3, 30)),
            entry("@<tai64n>.s", 0o744, &numbered(7, 3, 30)),
            config_entry("s100\n"),
            entry("current", 0o744, &numbered(10, 1, 30)),
        )
    );
    // What svlogd does with it: 100-byte files, the fourth line split.
    let sc = Scenario::new();
    logdir(&sc, "s100\n");
    run(&sc, Runit, &["L"], numbered(1, 10, 30).as_bytes()).code(0);
    let files: Vec<u64> = saved(&sc.join("L"))
        .iter()
        .map(|n| fs::metadata(sc.join("L").join(n)).expect("stat").len())
        .collect();
    assert_eq!(files, [100, 100]);
}

/// Deliberate difference (3): a record longer than `s` is split at the limit, and only such a
/// record; the lines around it stay whole (`-l 10`, so the "after the line" check is at 90).
#[test]
fn record_longer_than_s_is_split_at_the_limit() {
    let sc = Scenario::new();
    logdir(&sc, "s100\n");
    let long: String = (0..249).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let input = format!("short1\n{long}\nshort2\n");
    run(&sc, Herd, &["-l", "10", "-b", "20", "L"], input.as_bytes())
        .code(0)
        .stderr("");
    let rec = format!("{long}\n");
    assert_eq!(
        snapshot(&sc.join("L")),
        format!(
            "{}{}{}{}{}lock 600 0\n",
            entry("@<tai64n>.s", 0o744, "short1\n"),
            entry("@<tai64n>.s", 0o744, &rec[..100]),
            entry("@<tai64n>.s", 0o744, &rec[100..200]),
            config_entry("s100\n"),
            entry("current", 0o744, &format!("{}short2\n", &rec[200..])),
        )
    );
}

// ------------------------------------------------------------------------------------------
// 1. Differential: EOF (deliberate difference 1)

#[test]
fn final_line_without_newline() {
    // svlogd drops it.
    let sc = Scenario::new();
    logdir(&sc, "");
    run(&sc, Runit, &["L"], b"one\nlast-no-newline").code(0);
    assert_eq!(
        fs::read_to_string(sc.join("L/current")).expect("current"),
        "one\n"
    );
    // Deliberate difference (1): svlog keeps it, with a newline.
    let sc = Scenario::new();
    logdir(&sc, "");
    run(&sc, Herd, &["L"], b"one\nlast-no-newline")
        .code(0)
        .stderr("");
    assert_eq!(
        snapshot(&sc.join("L")),
        format!(
            "{}lock 600 0\n",
            entry("current", 0o744, "one\nlast-no-newline\n")
        )
    );
    // Also when it is the only input, and with a timestamp.
    let sc = Scenario::new();
    logdir(&sc, "");
    run(&sc, Herd, &["-tt", "L"], b"alone").code(0).stderr("");
    assert_eq!(
        show_lines(&fs::read(sc.join("L/current")).expect("current")),
        "  |<utc> alone\n"
    );
}

// ------------------------------------------------------------------------------------------
// 1. Differential: -r, -R, -l, -b

#[test]
fn replace_characters() {
    let input: &[u8] = b"tab\there\x01ctl\x7fdel\xffhigh \xc3\xa9 ok\nabcabc\n~{|}\n";
    for args in [
        &["-r", ".", "L"][..],
        &["-R", "a", "L"],
        &["-r", "x", "-R", "ab", "L"],
        &["-R", "ab", "-r", "x", "L"],
        &["-R", "", "L"],
        &["-r", "~", "-R", "~|", "L"],
    ] {
        same(|f| batch(f, |sc| logdir(sc, ""), args, input, &["L"]));
    }
    // The spec's example.
    let t = same(|f| {
        batch(
            f,
            |sc| logdir(sc, ""),
            &["-R", "a", "L"],
            b"tab\there\n",
            &["L"],
        )
    });
    assert!(t.contains("  |t_b_here\n"), "{t}");
    let t = same(|f| batch(f, |sc| logdir(sc, ""), &["-r", ".", "L"], input, &["L"]));
    assert!(
        t.contains("  |tab.here.ctl.del.high .. ok\n  |abcabc\n  |~{|}\n"),
        "{t}"
    );
}

/// Deliberate difference (6): svlog replaces in the whole line; svlogd only in the first `len`
/// characters.
#[test]
fn replace_applies_to_the_whole_line() {
    let input = b"a\tb\tc\td\te\tf\tg\th\n";
    let sc = Scenario::new();
    logdir(&sc, "");
    run(&sc, Herd, &["-l", "5", "-b", "10", "-r", "_", "L"], input)
        .code(0)
        .stderr("");
    assert_eq!(
        fs::read_to_string(sc.join("L/current")).expect("current"),
        "a_b_c_d_e_f_g_h\n"
    );
    let sc = Scenario::new();
    logdir(&sc, "");
    run(&sc, Runit, &["-l", "5", "-b", "10", "-r", "_", "L"], input).code(0);
    assert_eq!(
        fs::read_to_string(sc.join("L/current")).expect("current"),
        "a_b_c\td\te\tf\tg\th\n"
    );
}

/// docs/runit-compatibility.md#svlogd-line-length: `-l 10 -b 20` with `e*` and a prefix: stderr
/// copies are cut to 10 characters plus `...` (also a line of exactly 10), the file keeps lines
/// whole.
#[test]
fn line_length_cuts_copies_not_files() {
    let input = b"this line is much longer than ten\n0123456789\n012345678\n\nshort\n";
    let t = same(|f| {
        batch(
            f,
            |sc| logdir(sc, "pPFX:\ne*\n"),
            &["-l", "10", "-b", "20", "L"],
            input,
            &["L"],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\n{}L:\n{}{}lock 600 0\n",
            show_lines(
                b"PFX:this line ...\nPFX:0123456789...\nPFX:012345678\nPFX:\nPFX:short\n"
            ),
            config_entry("pPFX:\ne*\n"),
            entry(
                "current",
                0o744,
                "PFX:this line is much longer than ten\nPFX:0123456789\nPFX:012345678\nPFX:\nPFX:short\n"
            ),
        )
    );
    // Deliberate difference (7): -b only has to be greater than -l; big lines go through
    // whatever it is.
    let big = format!("{}\n", "y".repeat(100_000));
    let t = same(|f| {
        batch(
            f,
            |sc| logdir(sc, "e*\n"),
            &["-tt", "-l", "1", "-b", "2", "L"],
            big.as_bytes(),
            &["L"],
        )
    });
    assert!(t.contains("stderr:\n  |<utc> y...\n"), "{t}");
}

/// Deliberate difference (7): `-b` is checked against `-l` but does not size svlog's reads and
/// writes. 1 MiB already in the pipe with `-l 1 -b 2` (svlogd would make a million 2-byte reads)
/// and at least 1024 writes) takes svlog a few dozen read and write calls.
#[test]
fn big_reads_and_writes_whatever_b() {
    let sc = Scenario::new();
    logdir(&sc, "s10000000\n");
    let (rd, mut w) = pipe();
    nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20)).expect("pipe size");
    let data = numbered(0, 1024, 1024);
    w.write_all(data.as_bytes()).expect("fill pipe");
    let mut p = Live::start_on(&sc, Herd, &["-l", "1", "-b", "2", "L"], "err", &rd);
    wait_for("all written", DEADLINE, || {
        fs::metadata(sc.join("L/current")).is_ok_and(|m| m.len() == data.len() as u64)
    });
    let io = fs::read_to_string(format!("/proc/{}/io", p.pid())).expect("io");
    let field = |k: &str| -> u64 {
        io.lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().parse().ok())
            .expect("io field")
    };
    let (reads, writes) = (field("syscr:"), field("syscw:"));
    // Counted: every read and write call of the process, the loader's and the signalfd's too.
    assert!(reads < 200, "{reads} reads");
    assert!(writes < 200, "{writes} writes");
    drop(w);
    assert_eq!(p.wait(DEADLINE), Some(0));
    assert_eq!(
        fs::read_to_string(sc.join("L/current")).expect("current"),
        data
    );
    assert_eq!(fs::read_to_string(sc.join("err")).expect("err"), "");
}

// ------------------------------------------------------------------------------------------
// 1. Differential: patterns, prefix, UDP

#[test]
fn patterns_select_lines() {
    // The spec's example (docs/runit-compatibility.md#svlogd-patterns).
    let t = same(|f| {
        batch(
            f,
            |sc| logdir(sc, "-*\n+*ERR*\ne*\nE*debug*\n"),
            &["L"],
            b"info: ok\nan ERR happened\nERR debug x\nplain\n",
            &["L"],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\n{}L:\n{}{}lock 600 0\n",
            show_lines(b"info: ok\nan ERR happened\nplain\n"),
            config_entry("-*\n+*ERR*\ne*\nE*debug*\n"),
            entry("current", 0o744, "an ERR happened\nERR debug x\n"),
        )
    );
    // More: `*` stops at the first occurrence of the next character, `+` takes a run of one
    // character (and a line used up by it matches), plain characters, last match wins.
    let lines = b"ab\nabab\naaab\naaabc\nb\nxy\nx-y\nx-yz\nthe end\nended\nfoo*bar\nfoo bar\n\
                  a\naa\nbb\nabcabc\nERROR: x\nerror: y\n";
    for config in [
        "-*\n+*b\n",
        "-*\n+a+b\n+x*y\n",
        "-*\n+*end\ne*end*\n",
        "+*\n-a*\n+ab*\n",
        "-*\n+foo**bar\n+foo*\n-foo b*\n",
        "-*\n+a+ab\n+b+b\n",
        "e*\nE+a*\ne+aab\n",
        "-\n",
        "-*\n+\n+ERROR*\n+*: y\n",
        "E*\ne*:*\n-*:*\n",
    ] {
        same(|f| batch(f, |sc| logdir(sc, config), &["L"], lines, &["L"]));
    }
    // Matching sees only the first `len` characters.
    for config in ["-*\n+*long*\n", "-*\n+ab*\ne*line\n", "-*\n+0123*\n"] {
        same(|f| {
            batch(
                f,
                |sc| logdir(sc, config),
                &["-l", "5", "-b", "6", "L"],
                b"a long line\nlong\nab line\n0123456789\n0123\n",
                &["L"],
            )
        });
    }
}

#[test]
fn prefix() {
    let t = same(|f| {
        batch(
            f,
            |sc| logdir(sc, "pP> \ne*\n"),
            &["-tt", "L"],
            b"first line\nsecond\n",
            &["L"],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\n{}L:\n{}{}lock 600 0\n",
            show_lines(b"<utc> P> first line\n<utc> P> second\n"),
            config_entry("pP> \ne*\n"),
            entry_sized(
                "current",
                0o744,
                2 * STAMP + "P> first line\nP> second\n".len(),
                "<utc> P> first line\n<utc> P> second\n"
            ),
        )
    );
    // An empty `p` line keeps the previous prefix; the last one wins.
    same(|f| batch(f, |sc| logdir(sc, "pA\np\npB:\n"), &["L"], b"x\n", &["L"]));
}

/// Receives `n` datagrams (each within the deadline), then checks that no more come.
fn datagrams(sock: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    sock.set_read_timeout(Some(DEADLINE)).expect("timeout");
    for _ in 0..n {
        let got = sock.recv(&mut buf).expect("datagram");
        out.push(buf[..got].to_vec());
    }
    sock.set_read_timeout(Some(QUIET)).expect("timeout");
    if let Ok(got) = sock.recv(&mut buf) {
        panic!(
            "unexpected datagram {:?}",
            String::from_utf8_lossy(&buf[..got])
        );
    }
    out
}

#[test]
fn udp_copies() {
    let input = b"a rather long line here\nskip me\nshort\n\n";
    for (letter, args) in [
        ('u', &["-tt", "-l", "12", "-b", "13", "L"][..]),
        ('U', &["-tt", "-l", "12", "-b", "13", "L"][..]),
        ('u', &["L"][..]),
    ] {
        let t = same(|f| {
            let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
            let port = sock.local_addr().expect("addr").port();
            let config = format!("{letter}127.0.0.1:{port}\npP: \n-skip*\ne*\n");
            let mut t = batch(f, |sc| logdir(sc, &config), args, input, &["L"]);
            t = t.replace(&format!("config 644 {}", config.len()), "config");
            t.push_str("datagrams:\n");
            for d in datagrams(&sock, 3) {
                t.push_str(&show_lines(&d));
            }
            t
        });
        if letter == 'U' {
            // UDP only: nothing in the file.
            assert!(t.contains("current 744 0\n"), "{t}");
            assert!(
                t.ends_with(
                    "datagrams:\n  |<utc> P: a rather lon...\n  |<utc> P: short\n  |<utc> P: \n"
                ),
                "{t}"
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// 1. Differential: unusable directories and configs

#[test]
fn locked_directory() {
    same(|f| {
        let sc = Scenario::new();
        logdir(&sc, "");
        fs::create_dir(sc.join("M")).expect("mkdir M");
        let mut first = Live::ready(&sc, f, &["L"], "first.err", "L");
        let mut t = show_output(&run(&sc, f, &["L"], b"second\n"));
        // With another directory, the locked one is skipped.
        t.push_str(&show_output(&run(&sc, f, &["L", "M"], b"third\n")));
        first.write(b"first\n");
        first.eof();
        t.push_str(&first.exit(DEADLINE));
        t.push_str(&format!(
            "L:\n{}M:\n{}",
            snapshot(&sc.join("L")),
            snapshot(&sc.join("M"))
        ));
        assert_eq!(
            t,
            format!(
                "rc=Some(111)\nstdout=\"\"\nstderr:\n{}rc=Some(0)\nstdout=\"\"\nstderr:\n{}rc=Some(0)\nstderr:\nL:\n{}lock 600 0\nM:\n{}lock 600 0\n",
                show_lines(
                    b"svlogd: warning: unable to lock directory: L: temporary failure\n\
                      svlogd: fatal: no functional log directories.\n"
                ),
                show_lines(b"svlogd: warning: unable to lock directory: L: temporary failure\n"),
                entry("current", 0o744, "first\n"),
                entry("current", 0o744, "third\n"),
            ),
            "{f}"
        );
        t
    });
}

#[test]
fn missing_directories() {
    let t = same(|f| batch(f, |_| {}, &["nonexist"], b"x\n", &[]));
    assert_eq!(
        t,
        format!(
            "rc=Some(111)\nstdout=\"\"\nstderr:\n{}",
            show_lines(
                b"svlogd: warning: unable to open log directory: nonexist: file does not exist\n\
                  svlogd: fatal: no functional log directories.\n"
            )
        )
    );
    // Two directories, one missing: works on the other.
    let t = same(|f| {
        batch(
            f,
            |sc| logdir(sc, ""),
            &["-tt", "nonexist", "L"],
            b"x\ny\n",
            &["L"],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\n{}L:\n{}lock 600 0\n",
            show_lines(
                b"svlogd: warning: unable to open log directory: nonexist: file does not exist\n"
            ),
            entry_sized("current", 0o744, 2 * STAMP + 4, "<utc> x\n<utc> y\n"),
        )
    );
}

/// Two directories with their own patterns and prefixes: each line goes where it is selected.
#[test]
fn two_directories() {
    let t = same(|f| {
        batch(
            f,
            |sc| {
                logdir(sc, "-b*\n");
                sc.file("M/config", "-*\n+b*\npM:\ne*\n", 0o644);
            },
            &["L", "M"],
            b"apple\nbanana\ncherry\nblueberry\n",
            &["L", "M"],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\n{}L:\n{}{}lock 600 0\nM:\n{}{}lock 600 0\n",
            show_lines(b"M:apple\nM:banana\nM:cherry\nM:blueberry\n"),
            config_entry("-b*\n"),
            entry("current", 0o744, "apple\ncherry\n"),
            config_entry("-*\n+b*\npM:\ne*\n"),
            entry("current", 0o744, "M:banana\nM:blueberry\n"),
        )
    );
}

/// A log "directory" that is a plain file: svlogd opens it (`open_read` succeeds) and fails to
/// `fchdir` into it.
#[test]
fn log_directory_is_a_file() {
    let t = same(|f| {
        batch(
            f,
            |sc| {
                sc.file("F", "", 0o644);
            },
            &["F"],
            b"x\n",
            &[],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(111)\nstdout=\"\"\nstderr:\n{}",
            show_lines(
                b"svlogd: warning: unable to change directory: F: not a directory\n\
                  svlogd: fatal: no functional log directories.\n"
            )
        )
    );
}

/// `config` that cannot be read (a directory): a warning, then the defaults. With `-v`, svlogd
/// says `read:` after trying.
#[test]
fn unreadable_config() {
    let t = same(|f| {
        batch(
            f,
            |sc| fs::create_dir_all(sc.join("L/config")).expect("mkdir"),
            &["-v", "L"],
            numbered(1, 3, 10).as_bytes(),
            &["L"],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\n{}L:\nconfig/ 755\n{}lock 600 0\n",
            show_lines(
                b"svlogd: warning: unable to read config: L: is a directory\n\
                  svlogd: info: read: L/config\n\
                  svlogd: info: new: L/current\n\
                  svlogd: info: close: L\n"
            ),
            entry("current", 0o744, &numbered(1, 3, 10)),
        )
    );
    // Without -v the warning alone.
    same(|f| {
        batch(
            f,
            |sc| fs::create_dir_all(sc.join("L/config")).expect("mkdir"),
            &["L"],
            b"x\n",
            &["L"],
        )
    });
}

/// docs/runit-compatibility.md#svlogd-log-directory: a non-empty `current` without its execute bit
/// (svlogd was killed) becomes `@….u`; old files beyond `n` are deleted (one); with the bit set it
/// is appended to.
#[test]
fn crash_recovery() {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let old: Vec<String> = (0..3)
        .map(|i| {
            let label = Tai64n::from_unix(now - 100 + i, 500).label();
            format!("{}.s", String::from_utf8_lossy(&label))
        })
        .collect();
    let t = same(|f| {
        batch(
            f,
            |sc| {
                logdir(sc, "n2\n");
                for (i, n) in old.iter().enumerate() {
                    sc.file(format!("L/{n}"), &format!("old{i}\n"), 0o744);
                }
                sc.file("L/current", "line1\n", 0o644);
            },
            &["-v", "L"],
            b"line2\n",
            &["L"],
        )
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstdout=\"\"\nstderr:\n{}L:\n{}{}{}{}{}lock 600 0\n",
            show_lines(
                b"svlogd: info: read: L/config\n\
                  svlogd: info: delete: L/@<tai64n>.s\n\
                  svlogd: info: new: L/current\n\
                  svlogd: info: close: L\n"
            ),
            entry("@<tai64n>.s", 0o744, "old1\n"),
            entry("@<tai64n>.s", 0o744, "old2\n"),
            entry("@<tai64n>.u", 0o644, "line1\n"),
            config_entry("n2\n"),
            entry("current", 0o744, "line2\n"),
        )
    );
    // Executable current: appended. Empty current without x: kept (nothing to save).
    for (content, mode) in [("line1\n", 0o744), ("", 0o644)] {
        let t = same(|f| {
            batch(
                f,
                |sc| {
                    logdir(sc, "");
                    sc.file("L/current", content, mode);
                },
                &["-v", "L"],
                b"line2\n",
                &["L"],
            )
        });
        assert!(t.contains("svlogd: info: append: L/current\n"), "{t}");
        assert!(
            t.contains(&entry("current", 0o744, &format!("{content}line2\n"))),
            "{t}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// 1. Differential: signals

#[test]
fn alrm_rotates_a_non_empty_current() {
    let t = same(|f| {
        let sc = Scenario::new();
        logdir(&sc, "");
        let mut l = Live::ready(&sc, f, &["-v", "L"], "err", "L");
        // Empty current: nothing to rotate.
        l.signal(libc::SIGALRM);
        wait_for("sigalarm noted", DEADLINE, || {
            l.stderr().contains("sigalarm received.")
        });
        // svlogd prints that in its handler and acts at the top of its next read: a line
        // written now could be read first and rotated away. Back in poll, it has acted.
        wait_polling(l.pid());
        l.write(b"one\n");
        wait_content(&sc.join("L/current"), "one\n");
        assert!(saved(&sc.join("L")).is_empty());
        l.signal(libc::SIGALRM);
        wait_saved(&sc.join("L"), 1, DEADLINE);
        l.write(b"two\n");
        l.eof();
        let mut t = l.exit(DEADLINE);
        t.push_str(&snapshot(&sc.join("L")));
        t
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstderr:\n{}{}{}lock 600 0\n",
            show_lines(
                b"svlogd: info: new: L/current\n\
                  svlogd: info: sigalarm received.\n\
                  svlogd: info: sigalarm received.\n\
                  svlogd: info: rename: L/current @<tai64n>.s 4\n\
                  svlogd: info: close: L\n"
            ),
            entry("@<tai64n>.s", 0o744, "one\n"),
            entry("current", 0o744, "two\n"),
        )
    );
}

/// HUP closes, re-reads `config` and appends: the new `s` applies (`-l 100`, so a line that
/// leaves current at 400 or more rotates with `s500`).
#[test]
fn hup_rereads_config() {
    let t = same(|f| {
        let sc = Scenario::new();
        logdir(&sc, "n5\n");
        let mut l = Live::ready(&sc, f, &["-v", "-l", "100", "-b", "200", "L"], "err", "L");
        l.write(numbered(1, 3, 100).as_bytes());
        wait_content(&sc.join("L/current"), &numbered(1, 3, 100));
        sc.file("L/config", "s500\n", 0o644);
        l.signal(libc::SIGHUP);
        wait_for("reopened after HUP", DEADLINE, || {
            l.stderr().matches("append: L/current").count() == 1
        });
        l.write(numbered(4, 3, 100).as_bytes());
        l.eof();
        let mut t = l.exit(DEADLINE);
        t.push_str(&snapshot(&sc.join("L")));
        t
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstderr:\n{}{}{}{}lock 600 0\n",
            show_lines(
                b"svlogd: info: read: L/config\n\
                  svlogd: info: new: L/current\n\
                  svlogd: info: sighangup received.\n\
                  svlogd: info: close: L\n\
                  svlogd: info: read: L/config\n\
                  svlogd: info: append: L/current\n\
                  svlogd: info: rename: L/current @<tai64n>.s 400\n\
                  svlogd: info: close: L\n"
            ),
            entry("@<tai64n>.s", 0o744, &numbered(1, 4, 100)),
            config_entry("s500\n"),
            entry("current", 0o744, &numbered(5, 2, 100)),
        )
    );
}

/// HUP when the directory is gone: nothing usable is left, so fatal, exit 111.
#[test]
fn hup_without_usable_directory() {
    let t = same(|f| {
        let sc = Scenario::new();
        logdir(&sc, "");
        let mut l = Live::ready(&sc, f, &["L"], "err", "L");
        l.write(b"one\n");
        wait_content(&sc.join("L/current"), "one\n");
        fs::rename(sc.join("L"), sc.join("L2")).expect("rename");
        l.signal(libc::SIGHUP);
        let mut t = l.exit(DEADLINE);
        t.push_str(&snapshot(&sc.join("L2")));
        t
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(111)\nstderr:\n{}{}lock 600 0\n",
            show_lines(
                b"svlogd: warning: unable to open log directory: L: file does not exist\n\
                  svlogd: fatal: no functional log directories.\n"
            ),
            entry("current", 0o744, "one\n"),
        )
    );
}

/// `t2`: a non-empty current is rotated about 2 s after the start (not before 1.5 s).
#[test]
fn t_rotates_by_age() {
    let t = same(|f| {
        let sc = Scenario::new();
        logdir(&sc, "t2\n");
        let start = Instant::now();
        let mut l = Live::ready(&sc, f, &["L"], "err", "L");
        l.write(b"a\n");
        wait_saved(&sc.join("L"), 1, Duration::from_secs(4));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1500) && took < Duration::from_millis(3500),
            "{f}: rotated after {took:?}"
        );
        l.write(b"b\n");
        l.eof();
        let mut t = l.exit(DEADLINE);
        t.push_str(&snapshot(&sc.join("L")));
        t
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstderr:\n{}{}{}lock 600 0\n",
            entry("@<tai64n>.s", 0o744, "a\n"),
            config_entry("t2\n"),
            entry("current", 0o744, "b\n"),
        )
    );
}

/// svlogd's `t` is a fixed schedule from the start (or the last `t` rotation): a rotation by
/// ALRM (or size) in between does not move it. `t2`, ALRM at ~0.6 s: the next `t` rotation of
/// a non-empty current is still at ~2 s (not at ~2.6 s).
#[test]
fn t_schedule_is_not_moved_by_other_rotations() {
    same(|f| {
        let sc = Scenario::new();
        logdir(&sc, "t2\n");
        let start = Instant::now();
        let mut l = Live::ready(&sc, f, &["L"], "err", "L");
        l.write(b"a\n");
        wait_content(&sc.join("L/current"), "a\n");
        // Pace: ALRM at ~0.6 s, well before the first `t` rotation.
        std::thread::sleep(Duration::from_millis(300).saturating_sub(start.elapsed()));
        std::thread::sleep(Duration::from_millis(300));
        l.signal(libc::SIGALRM);
        wait_saved(&sc.join("L"), 1, DEADLINE);
        l.write(b"b\n");
        wait_saved(&sc.join("L"), 2, Duration::from_secs(4));
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1700) && took < Duration::from_millis(2300),
            "{f}: second rotation after {took:?}, want ~2 s"
        );
        l.eof();
        let mut t = l.exit(DEADLINE);
        t.push_str(&snapshot(&sc.join("L")));
        t
    });
}

// ------------------------------------------------------------------------------------------
// 1. Differential: processor

#[test]
fn processor_success() {
    let config = "!tr a-z A-Z; cat <&4; echo ns >&5\n";
    let t = same(|f| {
        let sc = Scenario::new();
        logdir(&sc, config);
        let mut l = Live::ready(&sc, f, &["L"], "err", "L");
        let dir = sc.join("L");
        let processed = |n: usize| {
            let v = saved(&dir);
            v.len() == n && v.iter().all(|s| s.ends_with(".s"))
        };
        l.write(b"hello one\n");
        wait_content(&sc.join("L/current"), "hello one\n");
        l.signal(libc::SIGALRM);
        wait_for("first processed", DEADLINE, || processed(1));
        l.write(b"hello two\n");
        wait_content(&sc.join("L/current"), "hello two\n");
        l.signal(libc::SIGALRM);
        wait_for("second processed", DEADLINE, || processed(2));
        l.eof();
        let mut t = l.exit(DEADLINE);
        t.push_str(&snapshot(&sc.join("L")));
        t
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstderr:\n{}{}{}{}lock 600 0\n{}",
            entry("@<tai64n>.s", 0o744, "HELLO ONE\n"),
            entry("@<tai64n>.s", 0o744, "HELLO TWO\nns\n"),
            config_entry(config),
            entry("current", 0o744, ""),
            entry("state", 0o644, "ns\n"),
        )
    );
}

/// A processor that always fails: `svlogd: warning: processor failed, restart: L`, its output
/// discarded and the `.u` kept. svlogd restarts it at once, in a loop; deliberate difference
/// (5): svlog once a second.
#[test]
fn processor_failure() {
    compare_flavors(Tool::Svlog, Schedule::AtOnce, "", |f| {
        let sc = Scenario::new();
        logdir(&sc, "!echo run >> ../runs; echo out; exit 1\n");
        let mut l = Live::ready(&sc, f, &["L"], "err", "L");
        l.write(b"hello\n");
        wait_content(&sc.join("L/current"), "hello\n");
        l.signal(libc::SIGALRM);
        wait_for("processor failed", DEADLINE, || {
            l.stderr().contains("processor failed")
        });
        let t0 = Instant::now();
        let runs = || {
            fs::read_to_string(sc.join("runs"))
                .unwrap_or_default()
                .lines()
                .count()
        };
        let r0 = runs();
        // Watch for two seconds, a look every 200 ms.
        while t0.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(LOOK);
            // The .u, and the .t of a run in progress.
            let v = saved(&sc.join("L"));
            assert!(
                v.len() == 1 && v[0].ends_with(".u")
                    || v.len() == 2 && v[0].ends_with(".t") && v[1].ends_with(".u"),
                "{f}: {v:?}"
            );
        }
        let runs_2s = runs() - r0;
        let err = l.stderr();
        assert!(
            err.lines()
                .all(|x| x == "svlogd: warning: processor failed, restart: L"),
            "{f}: {err}"
        );
        let u = saved(&sc.join("L"))
            .into_iter()
            .find(|n| n.ends_with(".u"))
            .expect(".u");
        assert_eq!(
            fs::read_to_string(sc.join("L").join(&u)).expect(".u"),
            "hello\n"
        );
        match f {
            // A tight loop.
            Runit => assert!(runs_2s > 20, "svlogd ran it {runs_2s} times"),
            Herd => {
                assert!(
                    (1..=3).contains(&runs_2s),
                    "svlog ran it {runs_2s} times in 2 s"
                );
                // At EOF: one more try, then exit with the .u in place.
                l.eof();
                assert_eq!(
                    l.exit(Duration::from_secs(3)).lines().next(),
                    Some("rc=Some(0)")
                );
                let v = saved(&sc.join("L"));
                assert_eq!(v.len(), 1, "{v:?}");
                assert!(v[0].ends_with(".u"), "{v:?}");
                assert_eq!(
                    fs::read_to_string(sc.join("L").join(&v[0])).expect(".u"),
                    "hello\n"
                );
            }
        }
    });
}

/// A processor that fails until `../ok` exists, then succeeds: the same files in the end.
#[test]
fn processor_recovers() {
    let config = "!test -e ../ok || exit 1; tr a-z A-Z; echo done >&5\n";
    let t = same(|f| {
        let sc = Scenario::new();
        logdir(&sc, config);
        let mut l = Live::ready(&sc, f, &["L"], "err", "L");
        l.write(b"hello\n");
        wait_content(&sc.join("L/current"), "hello\n");
        l.signal(libc::SIGALRM);
        wait_for("processor failed", DEADLINE, || {
            l.stderr().contains("processor failed")
        });
        sc.file("ok", "", 0o644);
        wait_for("processed", DEADLINE, || {
            saved(&sc.join("L")).iter().any(|n| n.ends_with(".s"))
        });
        l.eof();
        let code = l.p.wait(DEADLINE);
        let mut errs: Vec<String> = l.stderr().lines().map(String::from).collect();
        errs.dedup();
        format!("rc={code:?}\nstderr={errs:?}\n{}", snapshot(&sc.join("L")))
    });
    assert_eq!(
        t,
        format!(
            "rc=Some(0)\nstderr=[\"svlogd: warning: processor failed, restart: L\"]\n{}{}{}lock 600 0\n{}",
            entry("@<tai64n>.s", 0o744, "HELLO\n"),
            config_entry(config),
            entry("current", 0o744, ""),
            entry("state", 0o644, "done\n"),
        )
    );
}

// ------------------------------------------------------------------------------------------
// 2. Lossless under restarts (svlog only)

/// One million numbered lines through a pipe the test holds, while svlog is TERMed and started
/// again six times, rotating every 4 KiB and deleting nothing: every number arrives exactly
/// once and in order, each file holds whole lines and is at most 4096 bytes.
#[test]
fn lossless_across_restarts_and_rotations() {
    const LINES: usize = 1_000_000;
    const RESTARTS: usize = 6;
    let sc = Scenario::new();
    logdir(&sc, "s4096\nn0\n");
    let (rd, mut w) = pipe();
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let written = written.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::with_capacity(70_000);
            let mut i = 0;
            while i < LINES {
                buf.clear();
                while i < LINES && buf.len() < 65_536 {
                    buf.extend_from_slice(format!("{i}\n").as_bytes());
                    i += 1;
                }
                w.write_all(&buf).expect("write");
                written.store(i, Ordering::SeqCst);
            }
            // Dropping w: EOF once the pipe is drained.
        })
    };
    let start = Instant::now();
    for k in 0..RESTARTS {
        let mut p = Live::start_on(&sc, Herd, &["L"], &format!("err{k}"), &rd);
        wait_current_open(p.pid(), &sc.join("L"));
        // Let it log a while (the writer paces itself on the pipe).
        let target = (k + 1) * LINES / (RESTARTS + 2);
        wait_until("writer progress", Duration::from_secs(15), || {
            (written.load(Ordering::SeqCst) >= target).then_some(())
        });
        p.signal(libc::SIGTERM);
        assert_eq!(p.wait(Duration::from_secs(3)), Some(0));
        assert_eq!(
            fs::read_to_string(sc.join(format!("err{k}"))).expect("err"),
            ""
        );
    }
    let mut p = Live::start_on(&sc, Herd, &["L"], "errlast", &rd);
    writer.join().expect("writer");
    assert_eq!(p.wait(Duration::from_secs(20)), Some(0));
    assert_eq!(fs::read_to_string(sc.join("errlast")).expect("err"), "");
    let elapsed = start.elapsed();

    let dir = sc.join("L");
    let mut files = saved(&dir);
    assert!(files.iter().all(|n| n.ends_with(".s")), "{files:?}");
    files.push("current".into());
    let mut next = 0usize;
    for n in &files {
        let data = fs::read(dir.join(n)).expect("read");
        assert!(data.len() <= 4096, "{n} has {} bytes", data.len());
        if n != "current" {
            assert!(!data.is_empty(), "{n} is empty");
        }
        if data.is_empty() {
            continue;
        }
        assert_eq!(data.last(), Some(&b'\n'), "{n} does not end with a newline");
        for line in data[..data.len() - 1].split(|&b| b == b'\n') {
            let got: usize = std::str::from_utf8(line)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{n}: bad line {:?}", String::from_utf8_lossy(line)));
            assert_eq!(got, next, "{n}: line out of order");
            next += 1;
        }
    }
    assert_eq!(next, LINES);
    eprintln!(
        "lossless: {LINES} lines, {} files, {elapsed:?}",
        files.len()
    );
}

// ------------------------------------------------------------------------------------------
// 3. Disk full (svlog only, deliberate difference 4)

/// A small tmpfs mounted in the scenario, unmounted (lazily) on drop, even after a failure.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: PathBuf, size: &str) -> Tmpfs {
        fs::create_dir_all(&dir).expect("mkdir mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("mount");
        assert!(out.status.success(), "mount: {out:?}");
        Tmpfs { dir }
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .output()
            .expect("remount");
        assert!(out.status.success(), "remount: {out:?}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// A thread writing lines `0 … n-1` (each `NNNNN` + padding, 60 bytes) into a pipe; returns
/// the read end for the logger, and the count of lines written so far.
fn line_writer(n: usize) -> (fs::File, Arc<AtomicUsize>, std::thread::JoinHandle<()>) {
    let (rd, mut w) = pipe();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let h = std::thread::spawn(move || {
        for i in 0..n {
            let line = format!("{i:05} {}\n", "z".repeat(53));
            if w.write_all(line.as_bytes()).is_err() {
                return;
            }
            c.store(i + 1, Ordering::SeqCst);
        }
    });
    (rd, count, h)
}

/// The lines of the rotated files (oldest first) then of current; each file must hold whole
/// lines and be at most `max` bytes.
fn all_lines(dir: &Path, max: u64) -> Vec<String> {
    let mut files = saved(dir);
    files.push("current".into());
    let mut out = Vec::new();
    for n in files {
        let data = fs::read_to_string(dir.join(&n)).expect("read");
        assert!(data.len() as u64 <= max, "{n}: {} bytes", data.len());
        assert!(data.is_empty() || data.ends_with('\n'), "{n} ends mid-line");
        out.extend(data.lines().map(String::from));
    }
    out
}

fn expected_line(i: usize) -> String {
    format!("{i:05} {}", "z".repeat(53))
}

/// 64 KiB tmpfs, `s16384 n0` (no N: nothing may be deleted): svlog pauses with svlogd's message
/// every 3 s, does not spin and does not read meanwhile; after the filesystem grows, every line
/// arrives exactly once, in order.
#[test]
fn disk_full_pauses_without_loss() {
    // 480 KB: more than the filesystem, the pipe and svlog's buffers hold together.
    const LINES: usize = 8000;
    let sc = Scenario::new();
    let fsys = Tmpfs::mount(sc.join("full"), "64k");
    fs::create_dir(sc.join("full/L")).expect("mkdir");
    sc.file("full/L/config", "s16384\nn0\n", 0o644);
    let (rd, count, writer) = line_writer(LINES);
    let mut p = Live::start_on(&sc, Herd, &["full/L"], "err", &rd);
    drop(rd);
    let err = || fs::read_to_string(sc.join("err")).unwrap_or_default();
    let msg = "svlogd: pausing: unable to write to current: full/L: out of disk space\n";
    wait_for("pausing message", Duration::from_secs(10), || {
        err().contains(msg)
    });
    let t0 = Instant::now();
    let cpu0 = proc_cpu_time(p.pid()).expect("cpu");
    // Pace: give the writer the time to fill the pipe, which svlog no longer reads.
    std::thread::sleep(Duration::from_millis(200));
    let read0 = rchar(p.pid());
    let lines0 = count.load(Ordering::SeqCst);
    assert!(lines0 < LINES, "the writer is held back");
    wait_for("second pausing message", Duration::from_secs(5), || {
        err().matches(msg).count() >= 2
    });
    let between = t0.elapsed();
    assert!(
        between >= Duration::from_millis(2500),
        "pausing messages {between:?} apart"
    );
    let cpu = proc_cpu_time(p.pid()).expect("cpu") - cpu0;
    assert!(
        cpu < Duration::from_millis(200),
        "used {cpu:?} of CPU while paused"
    );
    assert_eq!(rchar(p.pid()), read0, "input read while paused");
    assert_eq!(
        count.load(Ordering::SeqCst),
        lines0,
        "writer went on while paused"
    );
    assert!(err().lines().all(|l| format!("{l}\n") == msg), "{}", err());

    fsys.resize("1m");
    writer.join().expect("writer");
    assert_eq!(p.wait(Duration::from_secs(10)), Some(0));
    let got = all_lines(&sc.join("full/L"), 16384);
    let want: Vec<String> = (0..LINES).map(expected_line).collect();
    assert!(
        got == want,
        "lines lost or duplicated: {} of {}",
        got.len(),
        want.len()
    );
    drop(fsys);
}

/// `N1 n5` (N below n): on a full disk the oldest files are deleted with svlogd's warning and
/// writing goes on without a pause; what is left is the tail of the input, in order.
#[test]
fn disk_full_deletes_down_to_nmin() {
    const LINES: usize = 2500;
    let sc = Scenario::new();
    let fsys = Tmpfs::mount(sc.join("full"), "64k");
    fs::create_dir(sc.join("full/L")).expect("mkdir");
    sc.file("full/L/config", "s16384\nn5\nN1\n", 0o644);
    let (rd, _count, writer) = line_writer(LINES);
    let mut p = Live::start_on(&sc, Herd, &["full/L"], "err", &rd);
    drop(rd);
    writer.join().expect("writer");
    assert_eq!(p.wait(Duration::from_secs(10)), Some(0));
    let err = fs::read_to_string(sc.join("err")).expect("err");
    assert!(!err.is_empty(), "no delete message");
    for l in err.lines() {
        let name = l
            .strip_prefix("svlogd: warning: out of disk space, delete: full/L/")
            .unwrap_or_else(|| panic!("unexpected message {l:?}"));
        assert!(tai_at(name.as_bytes()) && name.len() == 27, "{l}");
        assert!(!sc.join("full/L").join(name).exists(), "{name} still there");
    }
    let got = all_lines(&sc.join("full/L"), 16384);
    assert!(!got.is_empty());
    let first: usize = got[0][..5].parse().expect("number");
    let want: Vec<String> = (first..LINES).map(expected_line).collect();
    assert!(got == want, "not the tail of the input from line {first}");
    drop(fsys);
}

/// SIGTERM during a disk-full pause: svlog exits promptly (svlogd would sleep on forever).
#[test]
fn term_during_disk_full_pause() {
    let sc = Scenario::new();
    let fsys = Tmpfs::mount(sc.join("full"), "64k");
    fs::create_dir(sc.join("full/L")).expect("mkdir");
    sc.file("full/L/config", "s16384\nn0\n", 0o644);
    let (rd, _count, writer) = line_writer(2500);
    let mut p = Live::start_on(&sc, Herd, &["full/L"], "err", &rd);
    drop(rd);
    wait_for("pausing", Duration::from_secs(10), || {
        fs::read_to_string(sc.join("err")).is_ok_and(|e| e.contains("pausing"))
    });
    let t0 = Instant::now();
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(Duration::from_secs(2)), Some(0));
    assert!(t0.elapsed() < Duration::from_secs(2));
    drop(p);
    writer.join().expect("writer");
    drop(fsys);
}

// ------------------------------------------------------------------------------------------
// 4. EOF and TERM (svlog only, deliberate difference 2)

/// Starts svlog on `L` with `-v` and writes `partial` (no newline); returns once svlog has read it.
fn partial_line(sc: &Scenario) -> Live {
    logdir(sc, "");
    let mut l = Live::ready(sc, Herd, &["-v", "L"], "err", "L");
    let before = rchar(l.pid());
    l.write(b"partial");
    wait_for("partial read", DEADLINE, || rchar(l.pid()) >= before + 7);
    l
}

/// TERM in the middle of a line: svlog reads on to its newline (one byte at a time), writes
/// the whole line and exits; the next line stays in the pipe for the next logger.
#[test]
fn term_mid_line_completes_the_line() {
    let sc = Scenario::new();
    let mut l = partial_line(&sc);
    l.signal(libc::SIGTERM);
    wait_for("TERM noted", DEADLINE, || {
        l.stderr().contains("sigterm received.")
    });
    l.write(b" rest\nnext\n");
    assert_eq!(
        l.exit(Duration::from_secs(2)),
        format!(
            "rc=Some(0)\nstderr:\n{}",
            show_lines(
                b"svlogd: info: new: L/current\n\
                  svlogd: info: sigterm received.\n\
                  svlogd: info: close: L\n"
            )
        )
    );
    assert_eq!(
        snapshot(&sc.join("L")),
        format!("{}lock 600 0\n", entry("current", 0o744, "partial rest\n"))
    );
    assert_eq!(l.leftover(), b"next\n");
}

/// TERM in the middle of a line whose end does not come: after about a second svlog writes what
/// it has, with a newline, and exits.
#[test]
fn term_mid_line_gives_up_after_a_second() {
    let sc = Scenario::new();
    let mut l = partial_line(&sc);
    let t0 = Instant::now();
    l.signal(libc::SIGTERM);
    let t = l.exit(Duration::from_secs(3));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2000),
        "exited after {took:?}"
    );
    assert!(t.starts_with("rc=Some(0)\n"), "{t}");
    assert_eq!(
        snapshot(&sc.join("L")),
        format!("{}lock 600 0\n", entry("current", 0o744, "partial\n"))
    );
    assert_eq!(l.leftover(), b"");
}

/// TERM at a line boundary: svlog exits at once; unread input stays in the pipe.
#[test]
fn term_at_line_boundary_exits_at_once() {
    let sc = Scenario::new();
    logdir(&sc, "");
    let mut l = Live::ready(&sc, Herd, &["L"], "err", "L");
    l.write(b"a\n");
    wait_content(&sc.join("L/current"), "a\n");
    let t0 = Instant::now();
    l.signal(libc::SIGTERM);
    assert_eq!(l.exit(Duration::from_secs(1)), "rc=Some(0)\nstderr:\n");
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        snapshot(&sc.join("L")),
        format!("{}lock 600 0\n", entry("current", 0o744, "a\n"))
    );
    // svlogd, for comparison, also exits at once here.
    let sc = Scenario::new();
    logdir(&sc, "");
    let mut l = Live::ready(&sc, Runit, &["L"], "err", "L");
    l.write(b"a\n");
    wait_content(&sc.join("L/current"), "a\n");
    l.signal(libc::SIGTERM);
    assert_eq!(l.exit(Duration::from_secs(1)), "rc=Some(0)\nstderr:\n");
}

// ------------------------------------------------------------------------------------------
// 5. Idle

/// An idle svlog (no input, no `t`) does not wake up: its context-switch counts stay the same
/// over two seconds.
#[test]
fn idle_logger_does_not_wake_up() {
    let sc = Scenario::new();
    logdir(&sc, "");
    let mut l = Live::ready(&sc, Herd, &["L"], "err", "L");
    l.write(b"a\n");
    wait_content(&sc.join("L/current"), "a\n");
    let switches = || {
        (
            proc_status_line(l.pid(), "voluntary_ctxt_switches"),
            proc_status_line(l.pid(), "nonvoluntary_ctxt_switches"),
        )
    };
    // Let it settle into its wait.
    std::thread::sleep(LOOK);
    let before = switches();
    assert!(before.0.is_some());
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(LOOK);
        assert_eq!(switches(), before, "woke up after {:?}", t0.elapsed());
    }
    l.eof();
    assert_eq!(l.exit(DEADLINE), "rc=Some(0)\nstderr:\n");
}
