//! Stop and restart policies (issue 16; docs/policy.md) and `supervise/runs`: `down-signal` and
//! `timeout-kill` compared with the real s6-supervise on the same directory, `timeout-finish`,
//! `restart-backoff` intervals measured from the stamps each run writes (and its reset after a run
//! that stayed up 10 s), `restart-limit` giving up and `sv up` clearing it.

use super::*;

/// A service whose `./run` writes its pid to `pid`, then `SIGNAME NANOS` to `got` for each of
/// TERM, QUIT, CONT it receives, and sleeps (each `sleep`'s pid in `sleeps`, see [`Sleeps`]).
const RUN_TRAPS: &str = "#!/bin/sh
for s in TERM QUIT CONT; do trap \"echo $s >> got\" $s; done
echo $$ > pid.new && mv pid.new pid
while :; do sleep 1000 & echo $! >> sleeps; wait; done
";

/// The `sleep`s a shell that was SIGKILLed (by `timeout-kill`, `timeout-finish`, or the test)
/// leaves behind, as its script listed them in the file: killed by pid when the test ends (the
/// kills that orphan them are the point of these tests).
struct Sleeps(PathBuf);

impl Drop for Sleeps {
    fn drop(&mut self) {
        for pid in read(&self.0)
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Sends `d` to a supervisor (ours or s6's) of `dir` running `RUN_TRAPS`; returns what the run
/// received before it died, and how long after the `d` it died.
fn down_and_time(dir: &Path) -> (String, Duration) {
    let pid: u32 = wait_until("run writes its pid", DEADLINE, || {
        fs::read_to_string(dir.join("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    });
    let t0 = Instant::now();
    control(dir, "d");
    wait_for("run killed", DEADLINE, || {
        proc_state(pid).is_none_or(|s| s == 'Z')
    });
    let took = t0.elapsed();
    (read(&dir.join("got")), took)
}

/// Starts `program` (our supervise or s6-supervise) on `dir`.
fn start(sc: &Scenario, program: &Path, name: &str) -> Proc {
    let mut c = Command::new(program);
    c.arg(name).current_dir(sc.path());
    spawn_with_stderr(sc, name, c)
}

#[test]
fn down_signal_and_timeout_kill_match_s6() {
    let s6 = peer("/usr/bin/s6-supervise");
    for signal in ["QUIT", "SIGQUIT", "3"] {
        let mut results = vec![];
        for (flavor, program) in [("herd", bin("supervise")), ("s6", s6.clone())] {
            let sc = Scenario::new();
            let dir = sc.service("svc", RUN_TRAPS);
            let _sleeps = Sleeps(dir.join("sleeps"));
            sc.file("svc/down-signal", &format!("{signal}\n"), 0o644);
            sc.file("svc/timeout-kill", "300\n", 0o644);
            let _p = start(&sc, &program, "svc");
            let (got, took) = down_and_time(&dir);
            results.push((flavor, got, took));
        }
        for (flavor, got, took) in &results {
            assert_eq!(got, "QUIT\nCONT\n", "{flavor} with down-signal {signal}");
            assert!(
                *took >= Duration::from_millis(300) && *took < Duration::from_millis(1300),
                "{flavor}: SIGKILL {took:?} after d, want 300 ms"
            );
        }
        let (a, b) = (results[0].2, results[1].2);
        let diff = a.max(b) - a.min(b);
        assert!(diff < Duration::from_millis(500), "herd {a:?}, s6 {b:?}");
    }
}

#[test]
fn without_policy_files_term_then_cont_and_no_kill() {
    let sc = Scenario::new();
    let dir = sc.service("svc", RUN_TRAPS);
    let _sleeps = Sleeps(dir.join("sleeps"));
    let _p = spawn_supervise(&sc, "svc");
    let pid = wait_running(&dir);
    wait_for("pid", DEADLINE, || dir.join("pid").exists());
    control(&dir, "d");
    wait_for("TERM and CONT", DEADLINE, || {
        read(&dir.join("got")) == "TERM\nCONT\n"
    });
    // The trap keeps it alive: no SIGKILL ever comes.
    std::thread::sleep(QUIET);
    assert!(pid_alive(pid));
    signal(pid, 9);
}

#[test]
fn timeout_finish_kills_finish_as_s6() {
    let s6 = peer("/usr/bin/s6-supervise");
    for program in [bin("supervise"), s6] {
        let sc = Scenario::new();
        let dir = sc.service("svc", "#!/bin/sh\necho > up\nexec sleep 1000\n");
        let _sleeps = Sleeps(dir.join("sleeps"));
        sc.script(
            "svc/finish",
            "#!/bin/sh\necho $$ > finish.pid\ntrap 'echo TERM >> got' TERM\n\
             while :; do sleep 1000 & echo $! >> sleeps; wait; done\n",
        );
        sc.file("svc/timeout-finish", "400\n", 0o644);
        let _p = start(&sc, &program, "svc");
        wait_for("run", DEADLINE, || dir.join("up").exists());
        let t0 = Instant::now();
        control(&dir, "d");
        let pid: u32 = wait_until("finish writes its pid", DEADLINE, || {
            fs::read_to_string(dir.join("finish.pid"))
                .ok()?
                .trim()
                .parse()
                .ok()
        });
        wait_for("finish killed", DEADLINE, || {
            proc_state(pid).is_none_or(|s| s == 'Z')
        });
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_millis(1400),
            "{}: finish killed after {took:?}",
            program.display()
        );
        // SIGKILL only, as s6 does: no TERM first.
        assert_eq!(read(&dir.join("got")), "", "{}", program.display());
    }
}

/// A run that writes a stamp (ms of CLOCK_MONOTONIC-free wall time) and exits 1, except the
/// `zero`-th run, which exits 0.
fn run_stamps(zero: usize) -> String {
    format!(
        "#!/bin/sh\ndate +%s%N >> stamps\nn=$(wc -l < stamps)\n[ \"$n\" -eq {zero} ] && exit 0\nexit 1\n"
    )
}

fn stamps(dir: &Path) -> Vec<u64> {
    read(&dir.join("stamps"))
        .lines()
        .filter_map(|l| l.parse::<u64>().ok())
        .map(|ns| ns / 1_000_000)
        .collect()
}

#[test]
fn restart_backoff_doubles_to_its_max_and_a_success_resets_it() {
    let sc = Scenario::new();
    let dir = sc.service("svc", &run_stamps(6));
    sc.file("svc/restart-backoff", "100 800\n", 0o644);
    let _p = spawn_supervise(&sc, "svc");
    let s = wait_until("8 starts", Duration::from_secs(15), || {
        let s = stamps(&dir);
        (s.len() >= 8).then_some(s)
    });
    let gaps: Vec<u64> = s.windows(2).map(|w| w[1] - w[0]).take(7).collect();
    // 5 failures: 100, 200, 400, 800, 800; the 6th run exits 0: runit's 1 s after its start;
    // the next failure starts the streak again at 100.
    let want = [100, 200, 400, 800, 800, 1000, 100];
    for (got, want) in gaps.iter().zip(want) {
        assert!(
            *got + 5 >= want && *got < want + 250,
            "gaps {gaps:?}, want {want:?}"
        );
    }
}

#[test]
fn restart_limit_gives_up_and_sv_up_clears_it() {
    let sc = Scenario::new();
    let dir = sc.service("svc", &run_stamps(0));
    sc.file("svc/restart-limit", "3 10\n", 0o644);
    sc.file("svc/restart-backoff", "50 50\n", 0o644);
    let _p = spawn_supervise(&sc, "svc");
    let runs = dir.join("supervise/runs");
    wait_for("failed", DEADLINE, || {
        read(&runs) == "runs 3 exit code 1 failed\n"
    });
    std::thread::sleep(QUIET);
    assert_eq!(stamps(&dir).len(), 3);
    let st = status(&dir).unwrap();
    assert_eq!((st.state, st.want), (State::Down, herd_status::Want::Down));
    sc.cmd(bin("sv"))
        .env("SVDIR", sc.path())
        .args(["status", "svc"])
        .run()
        .code(0)
        .stdout_norm("down: svc: Ns, normally up\n");
    sc.cmd(bin("sv"))
        .env("SVDIR", sc.path())
        .args(["up", "svc"])
        .run()
        .code(0);
    wait_for("a fourth run", DEADLINE, || stamps(&dir).len() >= 4);
    wait_for("failed again", DEADLINE, || {
        read(&runs) == "runs 6 exit code 1 failed\n"
    });
}

/// The only long test here (11 s): a run that stays up `max(MAX, 10 s)` ends the streak. Runs 1
/// to 3 fail at once (waits 100, 200, 400); run 4 stays up 10.2 s, writes `end`, and fails: the
/// wait is MIN again, 100 (800 if the streak went on), then 200 after run 5.
#[test]
fn restart_backoff_starts_again_at_min_after_a_run_that_stayed_up_10s() {
    let sc = Scenario::new();
    let dir = sc.service(
        "svc",
        "#!/bin/sh\ndate +%s%N >> stamps\nn=$(wc -l < stamps)\n\
         [ \"$n\" -eq 4 ] && { sleep 10.2; date +%s%N > end; }\nexit 1\n",
    );
    sc.file("svc/restart-backoff", "100 800\n", 0o644);
    let _p = spawn_supervise(&sc, "svc");
    let s = wait_until("6 starts", Duration::from_secs(25), || {
        let s = stamps(&dir);
        (s.len() >= 6).then_some(s)
    });
    let end: u64 = read(&dir.join("end")).trim().parse::<u64>().unwrap() / 1_000_000;
    let lived = end - s[3];
    assert!(lived >= 10_000, "run 4 stayed up {lived} ms");
    let gaps = [
        s[1] - s[0],
        s[2] - s[1],
        s[3] - s[2],
        s[4] - end,
        s[5] - s[4],
    ];
    let want = [100, 200, 400, 100, 200];
    for (got, want) in gaps.iter().zip(want) {
        assert!(
            *got + 5 >= want && *got < want + 250,
            "gaps {gaps:?}, want {want:?}"
        );
    }
}

/// A service whose `./run` appends its pid to `starts` once its traps are set, then `SIGNAME` to
/// `got` for the first of TERM, QUIT, HUP it receives, and exits (its `sleep`s in `sleeps`).
const RUN_SAYS_SIGNAL: &str = "#!/bin/sh
for s in TERM QUIT HUP; do trap \"echo $s >> got; kill \\$! 2>/dev/null; exit 0\" $s; done
echo $$ >> starts
while :; do sleep 1000 & echo $! >> sleeps; wait; done
";

/// Waits for start number `n` of [`RUN_SAYS_SIGNAL`].
#[track_caller]
fn wait_start(dir: &Path, n: usize) {
    wait_for("the start", DEADLINE, || {
        read(&dir.join("starts")).lines().count() == n
    });
}

/// Waits for start number `n` of [`RUN_SAYS_SIGNAL`], sends `t` and waits for the signal that
/// run got (the `n`-th line of `got`).
#[track_caller]
fn restart_and_signal(dir: &Path, n: usize) -> String {
    wait_start(dir, n);
    control(dir, "t");
    wait_until("the signal", DEADLINE, || {
        read(&dir.join("got")).lines().nth(n - 1).map(String::from)
    })
}

/// Each start looks at the service directory again (supervise reads its names once per start,
/// so that the policy files that are missing cost no lookup): `down-signal` added, edited in
/// place, and removed, each just after a start, counts from the next start on.
#[test]
fn down_signal_added_edited_or_removed_counts_from_the_next_start() {
    use std::os::unix::fs::MetadataExt;
    let sc = Scenario::new();
    let dir = sc.service("svc", RUN_SAYS_SIGNAL);
    let _sleeps = Sleeps(dir.join("sleeps"));
    let _p = spawn_supervise(&sc, "svc");
    let file = dir.join("down-signal");
    wait_start(&dir, 1);
    fs::write(&file, "QUIT\n").unwrap();
    assert_eq!(restart_and_signal(&dir, 1), "TERM");
    assert_eq!(restart_and_signal(&dir, 2), "QUIT");
    // Rewritten in place: the same file, so the directory does not change.
    wait_start(&dir, 3);
    let ino = fs::metadata(&file).unwrap().ino();
    fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"HUP\n"))
        .unwrap();
    assert_eq!(fs::metadata(&file).unwrap().ino(), ino);
    assert_eq!(restart_and_signal(&dir, 3), "QUIT");
    assert_eq!(restart_and_signal(&dir, 4), "HUP");
    wait_start(&dir, 5);
    fs::remove_file(&file).unwrap();
    assert_eq!(restart_and_signal(&dir, 5), "HUP");
    assert_eq!(restart_and_signal(&dir, 6), "TERM");
}

/// `control/u` runs before each start, before the policy files are read: a file it makes counts
/// for the start it comes before.
#[test]
fn a_policy_file_made_by_control_u_counts_for_that_start() {
    let sc = Scenario::new();
    let dir = sc.service("svc", RUN_SAYS_SIGNAL);
    let _sleeps = Sleeps(dir.join("sleeps"));
    sc.script("svc/control/u", "#!/bin/sh\necho QUIT > down-signal\n");
    let _p = spawn_supervise(&sc, "svc");
    assert_eq!(restart_and_signal(&dir, 1), "QUIT");
}
