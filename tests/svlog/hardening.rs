//! A log directory cannot be turned against a root svlog (docs/reliability.md, "Files and
//! permissions"): a symlink planted as `current`, `lock`, `state` or `newstate` is not followed.
//! svlogd follows each of them: it appends the log to the link's target and chmods it 0744,
//! creates and locks the target of `lock`, hands the target of `state` to the processor and
//! truncates the target of `newstate`. svlog treats the link as a failure of that open, in
//! svlogd's words with runit's text for ELOOP, and loses no line.

use std::os::unix::fs::symlink;

use super::*;

/// What a planted symlink points at: a file of root's that svlog must leave alone.
const VICTIM: &str = "not svlog's to write\n";

/// `SC/victim` (mode 0600) with [`VICTIM`] in it.
fn victim(sc: &Scenario) -> PathBuf {
    sc.file("victim", VICTIM, 0o600)
}

/// Asserts that `p` still holds [`VICTIM`] with mode 0600.
#[track_caller]
fn assert_untouched(p: &Path) {
    assert_eq!(
        fs::read_to_string(p).unwrap(),
        VICTIM,
        "{} was written",
        p.display()
    );
    let mode = fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "{} had its mode changed", p.display());
}

/// Asserts that every line of `err` is `line` (and that there is one at least).
#[track_caller]
fn assert_only(err: &str, line: &str) {
    assert!(
        !err.is_empty() && err.split_inclusive('\n').all(|l| l == line),
        "expected only {line:?}, got:\n{err}"
    );
}

/// `current` a symlink: svlog pauses (`unable to open current`, every 3 s, as for any failure
/// to open it) instead of appending to the link's target; once the link is removed it opens a
/// real `current` and writes every line. The size it counts is the new file's (0), not the
/// link's: with `s20` the 14 bytes fit, and nothing is rotated.
#[test]
fn symlink_planted_as_current_is_not_followed_and_pauses_until_removed() {
    let sc = Scenario::new();
    logdir(&sc, "s20\n");
    let v = victim(&sc);
    let link = sc.join("L/current");
    symlink(&v, &link).unwrap();
    let mut l = Live::start(&sc, Herd, &["L"], "err");
    l.write(b"one\ntwo\n");
    let msg = "svlogd: pausing: unable to open current: L: symbolic link loop\n";
    wait_for("the pausing message", DEADLINE, || l.stderr().contains(msg));
    assert_untouched(&v);
    fs::remove_file(&link).unwrap();
    wait_content(&link, "one\ntwo\n");
    wait_current_open(l.pid(), &sc.join("L"));
    l.write(b"three\n");
    l.eof();
    let out = l.exit(RUN);
    assert!(out.starts_with("rc=Some(0)\n"), "{out}");
    assert_eq!(fs::read_to_string(&link).unwrap(), "one\ntwo\nthree\n");
    assert_eq!(saved(&sc.join("L")), Vec::<String>::new());
    assert_untouched(&v);
    assert_only(&l.stderr(), msg);
}

/// `lock` a symlink: the directory cannot be locked (a warning), so with no other directory
/// svlog exits 111, and the link's target is not created.
#[test]
fn symlink_planted_as_lock_is_a_lock_failure_and_creates_nothing() {
    let sc = Scenario::new();
    logdir(&sc, "");
    let target = sc.join("created-by-svlog");
    symlink(&target, sc.join("L/lock")).unwrap();
    run(&sc, Herd, &["L"], b"line\n")
        .code(111)
        .stdout("")
        .stderr(
            "svlogd: warning: unable to lock directory: L: symbolic link loop\n\
             svlogd: fatal: no functional log directories.\n",
        );
    assert!(fs::symlink_metadata(&target).is_err(), "target created");
}

/// `state` or `newstate` a symlink: the processor is not started on it (a warning in svlogd's
/// words for that file, and a new try every second, as for a processor that failed); once the
/// link is removed the processor runs on the rotated file, and every line is kept.
#[test]
fn symlink_planted_as_a_processor_file_is_not_followed() {
    for file in ["state", "newstate"] {
        let sc = Scenario::new();
        logdir(&sc, "s25\n!cat; echo done >&5\n");
        let v = victim(&sc);
        let link = sc.join("L").join(file);
        symlink(&v, &link).unwrap();
        let dir = sc.join("L");
        let mut l = Live::ready(&sc, Herd, &["L"], "err", "L");
        // Two lines fill `s`: the third rotates them out, to be processed.
        l.write(b"0123456789\n0123456789\nabcdefghij\n");
        let msg = format!(
            "svlogd: warning: unable to open {file} for processor: L: symbolic link loop\n"
        );
        wait_for("the warning", DEADLINE, || l.stderr().contains(&msg));
        assert_untouched(&v);
        fs::remove_file(&link).unwrap();
        wait_for("the processed file", DEADLINE, || {
            saved(&dir).iter().any(|n| n.ends_with(".s"))
        });
        l.eof();
        let out = l.exit(RUN);
        assert!(out.starts_with("rc=Some(0)\n"), "{file}: {out}");
        let files = saved(&dir);
        assert_eq!(files.len(), 1, "{file}: {files:?}");
        assert_eq!(
            fs::read_to_string(dir.join(&files[0])).unwrap(),
            "0123456789\n0123456789\n",
            "{file}"
        );
        assert_eq!(
            fs::read_to_string(dir.join("current")).unwrap(),
            "abcdefghij\n"
        );
        assert_eq!(fs::read_to_string(dir.join("state")).unwrap(), "done\n");
        assert_untouched(&v);
        assert_only(&l.stderr(), &msg);
    }
}
