//! supervise's prefixed logs (herd only; issue 9, item 4; docs/supervise.md): with
//! `SVSCAN_LOG_PREFIX` set, every line a service without a log writes to supervise's stdout or
//! stderr gets `[NAME] ` in front, whole lines only, even with several supervisors on one pipe.

use std::fs;
use std::process::Stdio;

use herd_testsupport::*;

use super::captured::{exit_supervise, shorten, spawn_captured, supervise, Capture};
use super::read;

/// The longest text of one prefixed line for a service named `web`: 4096 - `[web] ` - newline.
const WEB_MAX: usize = 4096 - 6 - 1;

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
