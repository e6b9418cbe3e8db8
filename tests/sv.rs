//! `sv` from outside: ours (`bin/sv`) against runit 2.1.2's `/usr/bin/sv`, byte for byte.
//!
//! Two ways of comparing:
//! - **Same supervisor.** For commands that leave a service as it is (status, a command the
//!   service already obeys, a signal it ignores, anything at all when no supervisor runs), runit's
//!   sv and ours run one after the other against the same service. The pair is retried when the
//!   service's `supervise/status` changed meanwhile, so both saw the same state.
//! - **Same sequence.** Commands that change state run as a sequence on two identical fresh trees
//!   (one driven by runit's sv, one by ours, in two threads); every step has an expected output
//!   (what runit's sv prints), and the two transcripts must be identical.
//!
//! Both ways run under runit's `runsv` and under our `supervise`. Outputs are compared exactly,
//! with only pids and seconds masked ([`normalize`]) and the scenario path replaced by `$SC`.
//! Steps whose outcome depends on the second the service started in (`once`, `term`, `kill`,
//! `restart`: runit's 1-second resolution) first wait until the service has run for a second.
//!
//! Deliberate differences (docs/sv.md) are asserted separately, ours and runit's side by side:
//! `check` waits for what the service wants, an un-exec-able `./check` fails, and sv waits
//! event-driven (latency tests, whose bounds runit's 420 ms poll cannot meet).

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use herd_testsupport::*;

/// runit's usage text for `sv` (stderr, rc 100).
const USAGE: &str = "usage: sv [-v] [-w sec] command service ...\n\n";
/// What `-V` prints before the usage.
const VERSION: &str = "$Id: 900314260c6d52c986c5357673bea2f3bd3f4698 $\n";
/// A service that stays up and ignores every signal sv can send except TERM and KILL.
const RUN_QUIET: &str = "#!/bin/sh\ntrap '' HUP ALRM INT QUIT USR1 USR2\nexec sleep 1000\n";
/// A service that ignores TERM too.
const RUN_DEAF: &str = "#!/bin/sh\ntrap '' TERM HUP ALRM INT QUIT USR1 USR2\nexec sleep 1000\n";
/// A service that exits at once (a crash loop while want is up).
const RUN_CRASH: &str = "#!/bin/sh\nexit 1\n";
/// A logger.
const LOG_RUN: &str = "#!/bin/sh\nexec cat >/dev/null\n";
/// A `./check` that always fails.
const CHECK_FAIL: &str = "#!/bin/sh\nexit 1\n";
/// How long `check_backoff` lets `./check` fail (and sees that `sv` does not return) before the
/// file it tests appears. Shorter than [`QUIET`] on purpose: the latency bound there is reckoned
/// from where our back-off stands after ~100 ms of failures (a check every ~80 ms); after 300 ms
/// the next check can be ~320 ms away, past the bound.
const CHECK_FAILING: Duration = Duration::from_millis(100);

/// runit's sv and ours, in that order (what [`same`] compares).
fn both() -> [PathBuf; 2] {
    FLAVORS.map(|f| f.program(Tool::Sv))
}

/// A scenario with a service directory `sv/` (the `SVDIR`), one supervisor per started service.
struct Tree {
    sc: Scenario,
    /// Whose supervisor (runsv or supervise) runs the services.
    sup: Flavor,
    procs: HashMap<String, Proc>,
}

impl Tree {
    fn new(sup: Flavor) -> Tree {
        let sc = Scenario::new();
        fs::create_dir_all(sc.join("sv")).unwrap();
        Tree {
            sc,
            sup,
            procs: HashMap::new(),
        }
    }

    fn root(&self) -> &Path {
        self.sc.path()
    }

    fn svdir(&self) -> PathBuf {
        self.sc.join("sv")
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.svdir().join(name)
    }

    /// `sv/NAME` with an executable `run`.
    fn service(&self, name: &str, run: &str) -> PathBuf {
        self.sc.service(&format!("sv/{name}"), run)
    }

    /// A file under `sv/`.
    fn file(&self, rel: &str, contents: &str, mode: u32) -> PathBuf {
        self.sc.file(format!("sv/{rel}"), contents, mode)
    }

    /// Writes a script under `sv/`.
    fn script(&self, rel: &str, contents: &str) -> PathBuf {
        self.file(rel, contents, 0o755)
    }

    /// Starts the supervisor on `sv/NAME` and waits until it (and its log's) is live.
    fn start(&mut self, name: &str) {
        let mut c = Command::new(self.sup.program(Tool::Supervise));
        c.arg(name)
            .current_dir(self.svdir())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.procs.insert(name.to_string(), Proc::spawn(c));
        let dir = self.dir(name);
        wait_for(&format!("supervisor of {name} live"), DEADLINE, || {
            supervisor_alive(&dir) && status(&dir).is_some()
        });
        let log = dir.join("log");
        if log.is_dir() {
            wait_for(&format!("log supervisor of {name} live"), DEADLINE, || {
                supervisor_alive(&log) && status(&log).is_some()
            });
            if !log.join("down").exists() {
                wait_running(&log);
            }
        }
    }

    /// Waits (bounded) for the supervisor of NAME to exit; returns its exit code.
    fn wait_exit(&mut self, name: &str) -> Option<i32> {
        self.procs
            .get_mut(name)
            .expect("supervisor started")
            .wait(DEADLINE)
    }

    /// `sv ARGS` (program `prog`) in `cwd`, with `SVDIR` = `sv/` and no `SVWAIT`.
    fn sv_cmd(&self, prog: &Path, cwd: &Path, args: &[&str]) -> Cmd {
        self.sc
            .cmd(prog)
            .current_dir(cwd)
            .env("SVDIR", self.svdir())
            .env_remove("SVWAIT")
            .args(args)
            .timeout(Duration::from_secs(20))
    }

    fn sv(&self, which: Flavor, args: &[&str]) -> Output {
        self.sv_cmd(&which.program(Tool::Sv), self.root(), args)
            .run()
    }
}

/// Waits until the service is down with no process.
#[track_caller]
fn wait_down(dir: &Path) {
    wait_status(dir, &format!("{} down", dir.display()), |s| {
        s.state == State::Down && s.pid.is_none()
    });
}

/// Waits until the service runs a process other than `old`; returns its pid.
#[track_caller]
fn wait_new_run(dir: &Path, old: u32) -> u32 {
    wait_status(dir, &format!("{} runs a new process", dir.display()), |s| {
        s.state == State::Run && s.pid.is_some_and(|p| p.get() != old)
    })
    .pid
    .map_or(0, |p| p.get())
}

/// Waits until `dir` is in `state` with a process that has exec'd `sleep 1000` (so the traps
/// of [`RUN_QUIET`]/[`RUN_DEAF`] are in place); returns its pid.
#[track_caller]
fn wait_sleeping(dir: &Path, state: State) -> u32 {
    wait_until(
        &format!("{} {state:?} in sleep 1000", dir.display()),
        DEADLINE,
        || {
            let s = status(dir).filter(|s| s.state == state)?;
            let pid = s.pid?.get();
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            (cmdline == b"sleep\x001000\x00").then_some(pid)
        },
    )
}

/// When the status stamp of `dir` was written.
fn stamp_time(dir: &Path) -> SystemTime {
    let st = status(dir).expect("status readable");
    UNIX_EPOCH + Duration::new(st.stamp.unix_secs() as u64, st.stamp.nanos)
}

/// Waits until every service in `dirs` has been in its state for more than a second, so that sv
/// starts in a later second than the status stamp (runit's 1-second resolution of the
/// once/term/kill conditions) and runsv's 1-second restart rule does not apply.
#[track_caller]
fn settle(dirs: &[&Path]) {
    let until = dirs
        .iter()
        .map(|d| stamp_time(d))
        .max()
        .expect("at least one dir")
        + Duration::from_millis(1050);
    wait_for(
        "a second after the last status change",
        Duration::from_secs(3),
        || SystemTime::now() >= until,
    );
}

/// `supervise/pid` of `dir`, if it holds a pid.
fn pid_file(dir: &Path) -> Option<u32> {
    fs::read_to_string(dir.join("supervise/pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The pid in the first `(pid N)` of `s`.
fn line_pid(s: &str) -> Option<u32> {
    let i = s.find("(pid ")? + 5;
    let n: String = s[i..].chars().take_while(char::is_ascii_digit).collect();
    n.parse().ok()
}

/// The running pid of `dir`.
fn pid_of(dir: &Path) -> u32 {
    status(dir).and_then(|s| s.pid).map_or(0, |p| p.get())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// What a command showed, masked: pids and seconds ([`normalize`]), the scenario path as `$SC`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    code: Option<i32>,
    out: String,
    err: String,
}

impl Seen {
    fn of(o: &Output, root: &Path) -> Seen {
        let root = root.display().to_string();
        let mask = |s: &str| normalize(&s.replace(&root, "$SC"));
        Seen {
            code: o.code,
            out: mask(&o.stdout),
            err: mask(&o.stderr),
        }
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rc={:?} out={:?} err={:?}",
            self.code, self.out, self.err
        )
    }
}

/// The expected [`Seen`].
fn exp(code: i32, out: &str, err: &str) -> Seen {
    Seen {
        code: Some(code),
        out: out.to_string(),
        err: err.to_string(),
    }
}

/// The raw `supervise/status` bytes of each dir and of its `log/`.
fn snap(dirs: &[PathBuf]) -> Vec<Option<Vec<u8>>> {
    dirs.iter()
        .flat_map(|d| [d.join("supervise/status"), d.join("log/supervise/status")])
        .map(|p| fs::read(p).ok())
        .collect()
}

/// Runs the command `mk(prog)` for runit's program then ours (`progs`), and returns what each
/// showed. Retried when a status file of `watch` changed in between, so both saw one state.
fn same(
    watch: &[PathBuf],
    root: &Path,
    progs: &[PathBuf; 2],
    mk: impl Fn(&Path) -> Cmd,
) -> [Seen; 2] {
    for _ in 0..8 {
        let before = snap(watch);
        let r = Seen::of(&mk(&progs[0]).run(), root);
        let h = Seen::of(&mk(&progs[1]).run(), root);
        if snap(watch) == before {
            return [r, h];
        }
    }
    panic!("the status of {watch:?} kept changing while comparing");
}

/// As [`same`], both commands at once (for comparisons that wait out a timeout and change
/// nothing).
fn same_parallel(
    watch: &[PathBuf],
    root: &Path,
    progs: &[PathBuf; 2],
    mk: impl Fn(&Path) -> Cmd + Sync,
) -> [Seen; 2] {
    for _ in 0..4 {
        let before = snap(watch);
        let [r, h] = std::thread::scope(|s| {
            let r = s.spawn(|| mk(&progs[0]).run());
            let h = mk(&progs[1]).run();
            [r.join().expect("runit's sv thread"), h]
        });
        if snap(watch) == before {
            return [Seen::of(&r, root), Seen::of(&h, root)];
        }
    }
    panic!("the status of {watch:?} kept changing while comparing");
}

/// Collects mismatches so that one test reports all of them.
#[derive(Default)]
struct Report {
    problems: Vec<String>,
    compared: usize,
}

impl Report {
    /// Ours must equal runit's; runit's must equal `expect` (if given: the test's assumption
    /// about the state, so a broken setup cannot make the comparison vacuous).
    fn check(&mut self, what: &str, [r, h]: &[Seen; 2], expect: Option<&Seen>) {
        self.compared += 1;
        if h != r {
            self.problems
                .push(format!("{what}\n    runit: {r}\n    herd:  {h}"));
        } else if let Some(e) = expect.filter(|e| *e != r) {
            self.problems.push(format!(
                "{what}: runit's sv is not as the test expects\n    runit:    {r}\n    expected: {e}"
            ));
        }
    }

    #[track_caller]
    fn done(self) {
        assert!(
            self.problems.is_empty(),
            "{} of {} comparisons failed:\n{}",
            self.problems.len(),
            self.compared,
            self.problems.join("\n")
        );
    }
}

// ------------------------------------------------------------------------------------------------
// 1. The differential matrix: every state, every name form, against the same supervisor.

/// Commands a running service (want up, not paused, ignoring HUP ALRM INT QUIT USR1 USR2)
/// already obeys.
const CMDS_UP: &[&[&str]] = &[
    &["up"],
    &["u"],
    &["upper"],
    &["-v", "up"],
    &["start"],
    &["cont"],
    &["checks"],
    &["-v", "c"],
    &["check"],
    &["-v", "check"],
    &["hup"],
    &["-v", "hUP"],
    &["alarm"],
    &["-v", "a"],
    &["interrupt"],
    &["-v", "i"],
    &["quit"],
    &["-v", "q"],
    &["1"],
    &["-v", "1"],
    &["2"],
    &["-w", "2", "2"],
    &["reload"],
    &["h"],
];

/// Commands a down service that wants down already obeys.
const CMDS_DOWN: &[&[&str]] = &[
    &["down"],
    &["d"],
    &["-v", "down"],
    &["stop"],
    &["force-stop"],
    &["D"],
    &["Down"],
    &["check"],
    &["pause"],
    &["-v", "p"],
    &["cont"],
    &["-v", "cont"],
    &["term"],
    &["-v", "term"],
    &["tries"],
    &["kill"],
    &["-v", "k"],
    &["try-restart"],
    &["force-reload"],
    &["T"],
    &["hup"],
    &["-v", "1"],
    &["-v", "2"],
    &["reload"],
    &["-v", "a"],
    &["interrupt"],
    &["quit"],
];

/// Commands a paused running service already obeys.
const CMDS_PAUSED: &[&[&str]] = &[
    &["pause"],
    &["p"],
    &["-v", "pause"],
    &["up"],
    &["-v", "up"],
    &["start"],
    &["check"],
    &["hup"],
    &["-v", "alarm"],
];

/// Commands a service in `finish` (want up; finish ignores the signals) already obeys.
const CMDS_FINISH: &[&[&str]] = &[
    &["up"],
    &["u"],
    &["cont"],
    &["-v", "cont"],
    &["hup"],
    &["-v", "h"],
    &["-v", "quit"],
];

/// Commands a TERM-ignoring service that got `d` already obeys.
const CMDS_DEAF: &[&[&str]] = &[
    &["down"],
    &["d"],
    &["once"],
    &["o"],
    &["-v", "once"],
    &["term"],
    &["t"],
    &["hup"],
    &["-v", "hup"],
    &["-v", "cont"],
];

/// Commands a crash-looping service already obeys.
const CMDS_CRASH: &[&[&str]] = &[&["up"], &["u"], &["upstart"]];

/// Every command word and letter, for services no supervisor runs (nothing can change).
const CMDS_ALL: &[&[&str]] = &[
    &["up"],
    &["down"],
    &["once"],
    &["pause"],
    &["cont"],
    &["hup"],
    &["alarm"],
    &["interrupt"],
    &["quit"],
    &["1"],
    &["2"],
    &["term"],
    &["kill"],
    &["exit"],
    &["start"],
    &["stop"],
    &["reload"],
    &["restart"],
    &["shutdown"],
    &["try-restart"],
    &["force-stop"],
    &["force-reload"],
    &["force-restart"],
    &["force-shutdown"],
    &["check"],
    &["u"],
    &["d"],
    &["o"],
    &["p"],
    &["c"],
    &["h"],
    &["a"],
    &["i"],
    &["q"],
    &["t"],
    &["k"],
    &["x"],
    &["e"],
    &["X"],
    &["E"],
    &["D"],
    &["T"],
    &["Down"],
    &["-v", "up"],
    &["-v", "exit"],
    &["-v", "x"],
    &["-w", "1", "down"],
    &["-w", "1", "force-restart"],
    &["-v", "check"],
];

/// One state of the matrix: the service's name, the status line runit's sv prints for it (with
/// its rc), and the commands that leave it as it is.
struct MState {
    name: &'static str,
    status: (i32, &'static str),
    cmds: &'static [&'static [&'static str]],
    /// Extra commands only for the plain name form (slow ones).
    slow: &'static [&'static [&'static str]],
}

const STATES: &[MState] = &[
    MState {
        name: "up",
        status: (0, "run: up: (pid N) Ns; run: log: (pid N) Ns\n"),
        cmds: CMDS_UP,
        slow: &[],
    },
    MState {
        name: "nolog",
        status: (0, "run: nolog: (pid N) Ns\n"),
        cmds: CMDS_UP,
        slow: &[],
    },
    MState {
        name: "nd",
        status: (0, "run: nd: (pid N) Ns, normally down\n"),
        cmds: CMDS_UP,
        slow: &[],
    },
    MState {
        name: "stopped",
        status: (0, "down: stopped: Ns, normally up\n"),
        cmds: CMDS_DOWN,
        slow: &[],
    },
    MState {
        name: "dn",
        status: (0, "down: dn: Ns\n"),
        cmds: CMDS_DOWN,
        slow: &[],
    },
    MState {
        name: "pz",
        status: (0, "run: pz: (pid N) Ns, paused\n"),
        cmds: CMDS_PAUSED,
        slow: &[],
    },
    MState {
        name: "fin",
        status: (0, "finish: fin: (pid N) Ns\n"),
        cmds: CMDS_FINISH,
        slow: &[],
    },
    MState {
        name: "deaf",
        status: (0, "run: deaf: (pid N) Ns, want down, got TERM\n"),
        cmds: CMDS_DEAF,
        slow: &[&["-w", "0", "down"], &["-w", "0", "stop"]],
    },
    MState {
        name: "crash",
        status: (0, "down: crash: Ns, normally up, want up\n"),
        cmds: CMDS_CRASH,
        slow: &[],
    },
    MState {
        name: "gone",
        status: (1, "fail: gone: runsv not running\n"),
        cmds: CMDS_ALL,
        slow: &[],
    },
    MState {
        name: "killed",
        status: (1, "fail: killed: runsv not running\n"),
        cmds: CMDS_ALL,
        slow: &[],
    },
    MState {
        name: "nosup",
        status: (
            1,
            "warning: nosup: unable to open supervise/ok: file does not exist\n",
        ),
        cmds: CMDS_ALL,
        slow: &[],
    },
    MState {
        name: "missing",
        status: (
            1,
            "fail: missing: unable to change to service directory: file does not exist\n",
        ),
        cmds: CMDS_ALL,
        slow: &[],
    },
];

/// Builds every state of [`STATES`] under `sup`.
fn matrix_tree(sup: Flavor) -> Tree {
    let mut t = Tree::new(sup);
    t.service("up", RUN_QUIET);
    t.service("up/log", LOG_RUN);
    t.service("nolog", RUN_QUIET);
    t.service("nd", RUN_QUIET);
    t.file("nd/down", "", 0o644);
    t.service("stopped", RUN_QUIET);
    t.service("dn", RUN_QUIET);
    t.file("dn/down", "", 0o644);
    t.service("pz", RUN_QUIET);
    t.service("fin", RUN_SLEEP);
    t.script("fin/finish", RUN_QUIET);
    t.service("deaf", RUN_DEAF);
    t.service("crash", RUN_CRASH);
    t.service("gone", RUN_SLEEP);
    t.service("killed", RUN_SLEEP);
    t.service("nosup", RUN_SLEEP);
    for name in [
        "up", "nolog", "nd", "stopped", "dn", "pz", "fin", "deaf", "crash", "gone", "killed",
    ] {
        t.start(name);
    }
    for name in ["up", "nolog", "stopped", "pz", "fin", "deaf", "killed"] {
        wait_sleeping(&t.dir(name), State::Run);
    }
    control(&t.dir("nd"), "u");
    wait_sleeping(&t.dir("nd"), State::Run);
    control(&t.dir("stopped"), "d");
    wait_down(&t.dir("stopped"));
    control(&t.dir("pz"), "p");
    wait_status(&t.dir("pz"), "pz paused", |s| s.paused);
    control(&t.dir("fin"), "t");
    wait_sleeping(&t.dir("fin"), State::Finish);
    control(&t.dir("deaf"), "d");
    wait_status(&t.dir("deaf"), "deaf got TERM", |s| {
        s.term && s.want == Want::Down && s.pid.is_some()
    });
    control(&t.dir("gone"), "x");
    t.wait_exit("gone");
    t.procs
        .get("killed")
        .expect("started")
        .signal(libc::SIGKILL);
    t.wait_exit("killed");
    t
}

/// The name forms of one service: (name as typed, cwd).
fn name_forms(t: &Tree, name: &str) -> Vec<(String, PathBuf)> {
    vec![
        (name.to_string(), t.root().to_path_buf()),
        (format!("./{name}"), t.svdir()),
        (t.dir(name).display().to_string(), t.root().to_path_buf()),
        (format!("{name}/"), t.svdir()),
    ]
}

fn matrix(sup: Flavor) {
    let under = sup.name(Tool::Supervise);
    let t = matrix_tree(sup);
    let progs = both();
    let reports: Vec<Report> = std::thread::scope(|s| {
        let handles: Vec<_> = STATES
            .iter()
            .map(|st| {
                let (t, progs) = (&t, &progs);
                s.spawn(move || matrix_state(t, progs, st))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("matrix thread"))
            .collect()
    });
    let mut all = Report::default();
    for r in reports {
        all.problems.extend(r.problems);
        all.compared += r.compared;
    }
    // Several services in one call: output in argument order, rc = number of failures.
    let names: Vec<&str> = STATES.iter().map(|s| s.name).collect();
    let watch: Vec<PathBuf> = names.iter().map(|n| t.dir(n)).collect();
    let mut args = vec!["status"];
    args.extend(&names);
    let pair = same(&watch, t.root(), &progs, |p| t.sv_cmd(p, t.root(), &args));
    all.check(&format!("{under}: sv {}", args.join(" ")), &pair, None);
    let args = ["-v", "up", "up", "nolog", "nd", "gone", "missing"];
    let pair = same(&watch, t.root(), &progs, |p| t.sv_cmd(p, t.root(), &args));
    all.check(
        &format!("{under}: sv {}", args.join(" ")),
        &pair,
        Some(&exp(
            2,
            "fail: gone: runsv not running\n\
             fail: missing: unable to change to service directory: file does not exist\n\
             ok: run: up: (pid N) Ns\n\
             ok: run: nolog: (pid N) Ns\n\
             ok: run: nd: (pid N) Ns, normally down\n",
            "",
        )),
    );
    // `x/` is relative to cwd; `sv/x/` from the parent too, but the wait loop of `-v` looks it
    // up under SVDIR (runit's quirk, copied).
    let up = t.dir("up");
    for (cwd, args, want) in [
        (
            t.root().to_path_buf(),
            vec!["status", "up/"],
            exp(
                1,
                "fail: up/: unable to change to service directory: file does not exist\n",
                "",
            ),
        ),
        (
            t.root().to_path_buf(),
            vec!["status", "sv/up/"],
            exp(0, "run: sv/up/: (pid N) Ns; run: log: (pid N) Ns\n", ""),
        ),
        (
            t.root().to_path_buf(),
            vec!["status", "sv/up"],
            exp(
                1,
                "fail: sv/up: unable to change to service directory: file does not exist\n",
                "",
            ),
        ),
        (
            t.root().to_path_buf(),
            vec!["-v", "up", "sv/up/"],
            exp(
                1,
                "fail: sv/up/: unable to change to service directory: file does not exist\n",
                "",
            ),
        ),
        (
            t.svdir(),
            vec!["-v", "up", "../sv/up/"],
            exp(0, "ok: run: ../sv/up/: (pid N) Ns\n", ""),
        ),
    ] {
        let pair = same(std::slice::from_ref(&up), t.root(), &progs, |p| {
            t.sv_cmd(p, &cwd, &args)
        });
        all.check(
            &format!("{under}: (cwd {}) sv {}", cwd.display(), args.join(" ")),
            &pair,
            Some(&want),
        );
    }
    eprintln!("{under}: {} sv invocations compared", all.compared);
    all.done();
}

/// Every command of one state, through every name form.
fn matrix_state(t: &Tree, progs: &[PathBuf; 2], st: &MState) -> Report {
    let mut rep = Report::default();
    let watch = [t.dir(st.name)];
    let status_words: &[&[&str]] = &[
        &["status"],
        &["s"],
        &["stat"],
        &["sx"],
        &["-v", "status"],
        &["-w", "1", "status"],
    ];
    for (form_no, (name, cwd)) in name_forms(t, st.name).into_iter().enumerate() {
        let mut cmds: Vec<&[&str]> = status_words.to_vec();
        if form_no == 0 {
            cmds.extend(st.cmds);
            cmds.extend(st.slow);
        } else {
            // The other name forms: the first two commands and every waiting one (the wait
            // loop resolves names again).
            cmds.extend(
                st.cmds
                    .iter()
                    .enumerate()
                    .filter(|(i, c)| *i < 2 || c[0].starts_with('-'))
                    .map(|(_, c)| *c),
            );
        }
        for cmd in cmds {
            let mut args = cmd.to_vec();
            args.push(&name);
            let pair = same(&watch, t.root(), progs, |p| t.sv_cmd(p, &cwd, &args));
            let expect =
                (form_no == 0 && cmd == ["status"]).then(|| exp(st.status.0, st.status.1, ""));
            rep.check(
                &format!(
                    "{}, state {}: (cwd {}) sv {}",
                    t.sup.name(Tool::Supervise),
                    st.name,
                    cwd.display(),
                    args.join(" ")
                ),
                &pair,
                expect.as_ref(),
            );
        }
    }
    rep
}

#[test]
fn matrix_under_runsv() {
    matrix(Flavor::Runit);
}

#[test]
fn matrix_under_supervise() {
    matrix(Flavor::Herd);
}

// ------------------------------------------------------------------------------------------------
// 1b. State-changing commands: the same sequence on two fresh trees, one per sv.

/// One sv's run of a sequence: the tree and the transcript.
struct Seq {
    /// Whose sv runs the commands.
    which: Flavor,
    t: Tree,
    lines: Vec<String>,
}

impl Drop for Seq {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "=== transcript with {}'s sv so far ===\n{}",
                self.which,
                self.lines.join("\n")
            );
        }
    }
}

impl Seq {
    fn dir(&self, name: &str) -> PathBuf {
        self.t.dir(name)
    }

    fn note(&mut self, s: impl Into<String>) {
        self.lines.push(s.into());
    }

    /// `sv ARGS`, recorded; a `!!` line is added when it is not `code`/`out`/`err`.
    fn sv_err(&mut self, args: &[&str], code: i32, out: &str, err: &str) -> Output {
        let o = self.t.sv(self.which, args);
        let s = Seen::of(&o, self.t.root());
        self.lines.push(format!("$ sv {}: {s}", args.join(" ")));
        let e = exp(code, out, err);
        if s != e {
            self.lines.push(format!("!! expected {e}"));
        }
        o
    }

    fn sv(&mut self, args: &[&str], code: i32, out: &str) -> Output {
        self.sv_err(args, code, out, "")
    }

    /// Records whether the `ok:` line of `o` names the service's current pid and whether that
    /// differs from `old`.
    fn new_pid(&mut self, what: &str, o: &Output, old: u32) {
        let dir = self.dir(what);
        let shown = line_pid(&o.stdout);
        let now = pid_file(&dir);
        self.note(format!(
            "{what}: pid shown is supervise/pid: {}, differs from the old pid: {}",
            shown.is_some() && shown == now,
            shown.is_some_and(|p| p != old)
        ));
    }

    fn exited(&mut self, name: &str) {
        let code = self.t.wait_exit(name);
        self.note(format!("supervisor of {name} exited: {code:?}"));
    }
}

/// Runs `f` once with runit's sv and once with ours (two trees, two threads) and compares the
/// transcripts; then checks runit's transcript met every expectation.
#[track_caller]
fn differential(sup: Flavor, f: fn(&mut Seq)) {
    let under = sup.name(Tool::Supervise);
    let lines = compare_flavors(
        Tool::Sv,
        Schedule::AtOnce,
        &format!("under {under}"),
        |which| {
            let mut q = Seq {
                which,
                t: Tree::new(sup),
                lines: Vec::new(),
            };
            f(&mut q);
            std::mem::take(&mut q.lines)
        },
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("!!")),
        "under {under}: runit's sv (and ours alike) did not print what the test expects:\n{}",
        lines.join("\n")
    );
}

/// up, pause, cont, once, down, o, term, u, stop, start, force-stop, exit on a normally
/// down service with a log.
fn seq_lifecycle(q: &mut Seq) {
    q.t.service("a", RUN_SLEEP);
    q.t.file("a/down", "", 0o644);
    q.t.service("a/log", LOG_RUN);
    q.t.start("a");
    let a = q.dir("a");
    q.sv(&["status", "a"], 0, "down: a: Ns; run: log: (pid N) Ns\n");
    q.sv(
        &["-v", "up", "a"],
        0,
        "ok: run: a: (pid N) Ns, normally down\n",
    );
    q.sv(
        &["-v", "pause", "a"],
        0,
        "ok: run: a: (pid N) Ns, normally down, paused\n",
    );
    q.sv(
        &["status", "a"],
        0,
        "run: a: (pid N) Ns, normally down, paused; run: log: (pid N) Ns\n",
    );
    q.sv(
        &["-v", "cont", "a"],
        0,
        "ok: run: a: (pid N) Ns, normally down\n",
    );
    q.sv(
        &["-v", "once", "a"],
        0,
        "ok: run: a: (pid N) Ns, normally down, want down\n",
    );
    q.sv(&["-v", "down", "a"], 0, "ok: down: a: Ns\n");
    settle(&[&a]);
    q.sv(
        &["-v", "o", "a"],
        0,
        "ok: run: a: (pid N) Ns, normally down, want down\n",
    );
    settle(&[&a]);
    q.sv(&["-v", "term", "a"], 0, "ok: down: a: Ns\n");
    q.sv(&["status", "a"], 0, "down: a: Ns; run: log: (pid N) Ns\n");
    q.sv(
        &["-v", "u", "a"],
        0,
        "ok: run: a: (pid N) Ns, normally down\n",
    );
    q.sv(&["stop", "a"], 0, "ok: down: a: Ns\n");
    q.sv(
        &["start", "a"],
        0,
        "ok: run: a: (pid N) Ns, normally down\n",
    );
    q.sv(&["force-stop", "a"], 0, "ok: down: a: Ns\n");
    q.sv(&["u", "a"], 0, "");
    wait_running(&a);
    q.sv(&["-v", "exit", "a"], 0, "ok: a: runsv not running\n");
    q.exited("a");
    q.sv(&["status", "a"], 1, "fail: a: runsv not running\n");
    q.sv(&["-v", "up", "a"], 1, "fail: a: runsv not running\n");
    q.sv(&["exit", "a"], 0, "ok: a: runsv not running\n");
}

/// restart, try-restart, force-reload, force-restart, term, kill, T on services up > 1 s (each
/// reports the new pid), then once, up, pause, cont on several services.
fn seq_restarts(q: &mut Seq) {
    let cmds: [(&str, &[&str]); 7] = [
        ("r1", &["restart"]),
        ("r2", &["try-restart"]),
        ("r3", &["force-reload"]),
        ("r4", &["force-restart"]),
        ("r5", &["-v", "term"]),
        ("r6", &["-v", "kill"]),
        ("r7", &["Terminate"]),
    ];
    for (name, _) in cmds {
        q.t.service(name, RUN_QUIET);
        q.t.start(name);
    }
    let dirs: Vec<PathBuf> = cmds.iter().map(|(n, _)| q.dir(n)).collect();
    for d in &dirs {
        wait_running(d);
    }
    settle(&dirs.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    for (name, cmd) in cmds {
        let old = pid_of(&q.dir(name));
        let mut args = cmd.to_vec();
        args.push(name);
        let o = q.sv(&args, 0, &format!("ok: run: {name}: (pid N) Ns\n"));
        q.new_pid(name, &o, old);
    }
    q.sv(
        &["-v", "o", "r1"],
        0,
        "ok: run: r1: (pid N) Ns, want down\n",
    );
    // Several services: those done at the first check are reported in argument order (later
    // ones in the order they complete, which is where runit's poll and our events differ).
    q.sv(
        &["-v", "up", "r2", "nonexist", "r3"],
        1,
        "fail: nonexist: unable to change to service directory: file does not exist\n\
         ok: run: r2: (pid N) Ns\n\
         ok: run: r3: (pid N) Ns\n",
    );
    q.sv(
        &["-v", "pause", "r4"],
        0,
        "ok: run: r4: (pid N) Ns, paused\n",
    );
    q.sv(&["-v", "c", "r4"], 0, "ok: run: r4: (pid N) Ns\n");
    q.sv(&["d", "r6", "r7"], 0, "");
    wait_down(&q.dir("r6"));
    wait_down(&q.dir("r7"));
    q.sv(
        &["status", "r1", "r6", "r7"],
        0,
        "run: r1: (pid N) Ns, want down\ndown: r6: Ns, normally up\ndown: r7: Ns, normally up\n",
    );
    q.sv(&["start", "r6"], 0, "ok: run: r6: (pid N) Ns\n");
}

/// exit, shutdown, force-shutdown and their first-character forms; `x` on a log is ignored.
fn seq_exits(q: &mut Seq) {
    for name in ["x1", "x2", "x3", "x4", "x5", "x6"] {
        q.t.service(name, RUN_SLEEP);
    }
    q.t.service("x1/log", LOG_RUN);
    for name in ["x1", "x2", "x3", "x4", "x5", "x6"] {
        q.t.start(name);
        wait_running(&q.dir(name));
    }
    q.sv(&["exit", "x1/log"], 0, "");
    q.sv(
        &["status", "x1"],
        0,
        "run: x1: (pid N) Ns; run: log: (pid N) Ns\n",
    );
    q.sv(&["shutdown", "x1"], 0, "ok: x1: runsv not running\n");
    q.exited("x1");
    q.sv(&["force-shutdown", "x2"], 0, "ok: x2: runsv not running\n");
    q.exited("x2");
    q.sv(&["-v", "e", "x3"], 0, "ok: x3: runsv not running\n");
    q.exited("x3");
    q.sv(&["X", "x4"], 0, "ok: x4: runsv not running\n");
    q.exited("x4");
    q.sv(&["Exit", "x5"], 0, "ok: x5: runsv not running\n");
    q.exited("x5");
    q.sv(&["xyz", "x6"], 0, "");
    q.exited("x6");
    q.sv(&["exit", "x1"], 0, "ok: x1: runsv not running\n");
    q.sv(
        &["-v", "exit", "x1", "x2"],
        0,
        "ok: x1: runsv not running\nok: x2: runsv not running\n",
    );
    q.sv(
        &["status", "x1", "x2", "x6"],
        3,
        "fail: x1: runsv not running\nfail: x2: runsv not running\nfail: x6: runsv not running\n",
    );
}

/// A TERM-ignoring service: timeouts and the `kill:` commands (-w 1).
fn seq_deaf(q: &mut Seq) {
    deaf(q, true);
}

/// [`seq_deaf`] without restart and force-restart (they need the service up for a second).
fn seq_deaf_short(q: &mut Seq) {
    deaf(q, false);
}

fn deaf(q: &mut Seq, restarts: bool) {
    q.t.service("ig", RUN_DEAF);
    q.t.start("ig");
    let ig = q.dir("ig");
    wait_sleeping(&ig, State::Run);
    q.sv(
        &["-w", "1", "down", "ig"],
        1,
        "timeout: run: ig: (pid N) Ns, want down, got TERM\n",
    );
    let old = pid_of(&ig);
    q.sv(
        &["-w", "1", "force-stop", "ig"],
        1,
        "kill: run: ig: (pid N) Ns, want down, got TERM\n",
    );
    wait_down(&ig);
    wait_for("the killed process is gone", DEADLINE, || !pid_alive(old));
    q.note("process gone after force-stop");
    q.sv(&["-v", "up", "ig"], 0, "ok: run: ig: (pid N) Ns\n");
    wait_sleeping(&ig, State::Run);
    if restarts {
        settle(&[&ig]);
        q.sv(
            &["-w", "1", "restart", "ig"],
            1,
            "timeout: run: ig: (pid N) Ns, got TERM\n",
        );
        let old = pid_of(&ig);
        q.sv(
            &["-w", "1", "force-restart", "ig"],
            1,
            "kill: run: ig: (pid N) Ns, got TERM\n",
        );
        wait_new_run(&ig, old);
        wait_sleeping(&ig, State::Run);
        q.note("restarted after force-restart");
    }
    q.sv(
        &["-w", "1", "force-shutdown", "ig"],
        1,
        "kill: run: ig: (pid N) Ns, want down, got TERM\n",
    );
    q.exited("ig");
    q.sv(&["status", "ig"], 1, "fail: ig: runsv not running\n");
}

#[test]
fn lifecycle_under_runsv() {
    differential(Flavor::Runit, seq_lifecycle);
}

#[test]
fn lifecycle_under_supervise() {
    differential(Flavor::Herd, seq_lifecycle);
}

#[test]
fn restarts_under_runsv() {
    differential(Flavor::Runit, seq_restarts);
}

#[test]
fn restarts_under_supervise() {
    differential(Flavor::Herd, seq_restarts);
}

#[test]
fn exits_under_runsv() {
    differential(Flavor::Runit, seq_exits);
}

#[test]
fn exits_under_supervise() {
    differential(Flavor::Herd, seq_exits);
}

// ------------------------------------------------------------------------------------------------
// 3. -w timeouts on a TERM-ignoring service.

#[test]
fn term_ignoring_timeouts_under_supervise() {
    differential(Flavor::Herd, seq_deaf);
}

#[test]
fn term_ignoring_timeouts_under_runsv() {
    differential(Flavor::Runit, seq_deaf_short);
}

// ------------------------------------------------------------------------------------------------
// 2. LSB mode.

fn lsb(sup: Flavor) {
    let under = sup.name(Tool::Supervise);
    let mut t = Tree::new(sup);
    t.service("lrun", RUN_QUIET);
    t.service("llog", RUN_QUIET);
    t.service("llog/log", LOG_RUN);
    t.service("ldown", RUN_QUIET);
    t.file("ldown/down", "", 0o644);
    t.service("ldownlog", RUN_QUIET);
    t.file("ldownlog/down", "", 0o644);
    t.service("ldownlog/log", LOG_RUN);
    t.service("lfin", RUN_SLEEP);
    t.script("lfin/finish", RUN_QUIET);
    t.service("lnosup", RUN_SLEEP);
    t.service("ldead", RUN_SLEEP);
    t.service("lstart", RUN_SLEEP);
    t.file("lstart/down", "", 0o644);
    for n in [
        "lrun", "llog", "ldown", "ldownlog", "lfin", "ldead", "lstart",
    ] {
        t.start(n);
    }
    wait_sleeping(&t.dir("lrun"), State::Run);
    wait_sleeping(&t.dir("llog"), State::Run);
    wait_sleeping(&t.dir("lfin"), State::Run);
    control(&t.dir("lfin"), "t");
    wait_sleeping(&t.dir("lfin"), State::Finish);
    control(&t.dir("ldead"), "x");
    t.wait_exit("ldead");

    // init.d-style symlinks: runit.d/NAME -> /usr/bin/sv, herd.d/NAME -> our sv.
    let names = [
        "lrun", "llog", "ldown", "ldownlog", "lfin", "lnosup", "ldead", "lmissing", "lstart",
    ];
    for n in names {
        for f in FLAVORS {
            f.link(Tool::Sv, &t.sc.join(format!("{f}.d")), n);
        }
    }
    let progs = |n: &str| [t.sc.join("runit.d").join(n), t.sc.join("herd.d").join(n)];
    let usage = |n: &str| format!("usage: {n} [-w sec] command\n\n");
    let mut rep = Report::default();
    let mut cmp = |n: &str, args: &[&str], want: Seen| {
        let watch = [t.dir(n)];
        let pair = same(&watch, t.root(), &progs(n), |p| t.sv_cmd(p, t.root(), args));
        rep.check(
            &format!("{under}: LSB {n} {}", args.join(" ")),
            &pair,
            Some(&want),
        );
    };
    cmp("lrun", &["status"], exp(0, "run: lrun: (pid N) Ns\n", ""));
    cmp(
        "lrun",
        &["status", "extra"],
        exp(0, "run: lrun: (pid N) Ns\n", ""),
    );
    cmp(
        "llog",
        &["status"],
        exp(0, "run: llog: (pid N) Ns; run: log: (pid N) Ns\n", ""),
    );
    cmp("ldown", &["status"], exp(3, "down: ldown: Ns\n", ""));
    // The log's line decides the code (runit's quirk, copied).
    cmp(
        "ldownlog",
        &["status"],
        exp(0, "down: ldownlog: Ns; run: log: (pid N) Ns\n", ""),
    );
    cmp(
        "lfin",
        &["status"],
        exp(0, "finish: lfin: (pid N) Ns\n", ""),
    );
    cmp(
        "lnosup",
        &["status"],
        exp(
            4,
            "warning: lnosup: unable to open supervise/ok: file does not exist\n",
            "",
        ),
    );
    cmp(
        "ldead",
        &["status"],
        exp(1, "fail: ldead: runsv not running\n", ""),
    );
    cmp(
        "lmissing",
        &["status"],
        exp(
            1,
            "fail: lmissing: unable to change to service directory: file does not exist\n",
            "",
        ),
    );
    for args in [
        &[][..],
        &["stat"],
        &["s"],
        &["statusx"],
        &["rest"],
        &["force"],
        &["zap"],
        &["-v"],
        &["-w", "3"],
    ] {
        cmp("lrun", args, exp(2, "", &usage("lrun")));
    }
    cmp(
        "lrun",
        &["-V", "status"],
        exp(2, "", &format!("{VERSION}{}", usage("lrun"))),
    );
    cmp(
        "lrun",
        &["-x", "status"],
        exp(
            2,
            "",
            &format!("lrun: illegal option -- x\n{}", usage("lrun")),
        ),
    );
    cmp(
        "lrun",
        &["-w"],
        exp(
            2,
            "",
            &format!("lrun: option requires an argument -- w\n{}", usage("lrun")),
        ),
    );
    cmp("lrun", &["up"], exp(0, "", ""));
    cmp(
        "lrun",
        &["-v", "up"],
        exp(0, "ok: run: lrun: (pid N) Ns\n", ""),
    );
    cmp(
        "lrun",
        &["reload"],
        exp(0, "ok: run: lrun: (pid N) Ns\n", ""),
    );
    cmp(
        "lrun",
        &["check"],
        exp(0, "ok: run: lrun: (pid N) Ns\n", ""),
    );
    cmp(
        "lrun",
        &["-w", "2", "start"],
        exp(0, "ok: run: lrun: (pid N) Ns\n", ""),
    );
    cmp("ldown", &["check"], exp(0, "ok: down: ldown: Ns\n", ""));
    cmp("ldown", &["stop"], exp(0, "ok: down: ldown: Ns\n", ""));
    cmp(
        "ldead",
        &["start"],
        exp(1, "fail: ldead: runsv not running\n", ""),
    );
    cmp(
        "ldead",
        &["shutdown"],
        exp(0, "ok: ldead: runsv not running\n", ""),
    );
    cmp(
        "lnosup",
        &["start"],
        exp(
            1,
            "warning: lnosup: unable to open supervise/ok: file does not exist\n",
            "",
        ),
    );
    cmp(
        "lmissing",
        &["stop"],
        exp(
            1,
            "fail: lmissing: unable to change to service directory: file does not exist\n",
            "",
        ),
    );
    // start/stop change the state: runit's first, back to down, then ours.
    let dir = t.dir("lstart");
    let [rp, hp] = progs("lstart");
    let mut seen = Vec::new();
    for p in [&rp, &hp] {
        let mut row = Vec::new();
        for args in [&["start"][..], &["status"], &["stop"], &["status"]] {
            row.push(Seen::of(&t.sv_cmd(p, t.root(), args).run(), t.root()));
        }
        wait_down(&dir);
        seen.push(row);
    }
    let expect = [
        exp(0, "ok: run: lstart: (pid N) Ns, normally down\n", ""),
        exp(0, "run: lstart: (pid N) Ns, normally down\n", ""),
        exp(0, "ok: down: lstart: Ns\n", ""),
        exp(3, "down: lstart: Ns\n", ""),
    ];
    for (i, (e, what)) in expect
        .iter()
        .zip(["start", "status", "stop", "status"])
        .enumerate()
    {
        rep.check(
            &format!("{under}: LSB lstart {what} (step {i})"),
            &[seen[0][i].clone(), seen[1][i].clone()],
            Some(e),
        );
    }
    rep.done();
}

#[test]
fn lsb_under_supervise() {
    lsb(Flavor::Herd);
}

#[test]
fn lsb_under_runsv() {
    lsb(Flavor::Runit);
}

// ------------------------------------------------------------------------------------------------
// 4. Latency: restart reports the new pid without runit's 420 ms poll.

fn restart_latency(sup: Flavor) {
    let under = sup.name(Tool::Supervise);
    let mut t = Tree::new(sup);
    let names = ["l1", "l2", "l3"];
    for n in names {
        t.service(n, RUN_SLEEP);
        t.start(n);
    }
    let dirs: Vec<PathBuf> = names.iter().map(|n| t.dir(n)).collect();
    for d in &dirs {
        wait_running(d);
    }
    settle(&dirs.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    let mut times = Vec::new();
    for (n, d) in names.iter().zip(&dirs) {
        let old = pid_of(d);
        let t0 = Instant::now();
        let o = t.sv(Flavor::Herd, &["-w", "7", "restart", n]);
        times.push(t0.elapsed());
        o.code(0)
            .stdout_norm(&format!("ok: run: {n}: (pid N) Ns\n"))
            .stderr("");
        let shown = line_pid(&o.stdout).expect("pid in the ok line");
        assert_eq!(Some(shown), pid_file(d), "{n}: ok line shows supervise/pid");
        assert_ne!(shown, old, "{n}: ok line shows the new pid");
    }
    let m = median(times.clone());
    assert!(
        m < Duration::from_millis(400),
        "{under}: median sv restart took {m:?} (all: {times:?}); runit's poll period is 420 ms"
    );
}

#[test]
fn restart_latency_under_supervise() {
    restart_latency(Flavor::Herd);
}

#[test]
fn restart_latency_under_runsv() {
    restart_latency(Flavor::Runit);
}

// ------------------------------------------------------------------------------------------------
// 5. ./check.

/// A check that fails until `ready` exists: ours notices within the back-off, not 420 ms.
#[test]
fn check_backoff() {
    let mut t = Tree::new(Flavor::Herd);
    // One fresh service per round, so no restart throttle delays the start.
    let names = ["ck1", "ck2", "ck3"];
    for n in names {
        t.service(n, RUN_SLEEP);
        t.file(&format!("{n}/down"), "", 0o644);
        t.script(&format!("{n}/check"), "#!/bin/sh\ntest -e ready\n");
        t.start(n);
    }
    let mut lat = Vec::new();
    for n in names {
        let dir = t.dir(n);
        let cmd = t.sv_cmd(&bin("sv"), t.root(), &["-w", "5", "start", n]);
        let h = std::thread::spawn(move || {
            let o = cmd.run();
            (o, Instant::now())
        });
        wait_running(&dir);
        // Nothing happens while ./check fails.
        std::thread::sleep(CHECK_FAILING);
        assert!(!h.is_finished(), "sv start returned while ./check failed");
        fs::write(dir.join("ready"), "").unwrap();
        let created = Instant::now();
        let (o, end) = h.join().expect("sv thread");
        o.code(0)
            .stdout_norm(&format!("ok: run: {n}: (pid N) Ns, normally down\n"))
            .stderr("");
        lat.push(end.saturating_duration_since(created));
    }
    // ./check has failed for ~100 ms when the file appears: our back-off (10 ms doubling) is at
    // ~80 ms steps, so sv sees it well under 250 ms later. runit's sv polls at 0 and 420 ms after
    // the start: ~310 ms.
    let m = median(lat.clone());
    assert!(
        m < Duration::from_millis(250),
        "sv noticed the passing ./check after {m:?} (all: {lat:?}); runit's poll is 420 ms"
    );
}

/// Always-failing check, stdout closed, argv[0] and cwd; deliberate differences for ours.
fn check_script(sup: Flavor) {
    let under = sup.name(Tool::Supervise);
    let mut t = Tree::new(sup);
    t.service("ckfail", RUN_SLEEP);
    t.script("ckfail/check", CHECK_FAIL);
    t.service("ckout", RUN_SLEEP);
    // Passes only with argv[0] = ./check, cwd = the service dir and stdout closed.
    // Passes only with cwd = the service dir and stdout closed; its stderr is sv's.
    t.script(
        "ckout/check",
        "#!/bin/sh\ntest -f run || exit 5\necho check-stderr >&2\n\
         if echo x 2>/dev/null; then exit 3; fi\nexit 0\n",
    );
    t.service("cknx", RUN_SLEEP);
    t.file("cknx/check", "#!/bin/sh\nexit 0\n", 0o644);
    t.service("deaf", RUN_DEAF);
    t.service("fin", RUN_SLEEP);
    t.script("fin/finish", RUN_QUIET);
    for n in ["ckfail", "ckout", "cknx", "deaf", "fin"] {
        t.start(n);
        wait_sleeping(&t.dir(n), State::Run);
    }
    control(&t.dir("deaf"), "d");
    wait_status(&t.dir("deaf"), "deaf got TERM", |s| s.term);
    control(&t.dir("fin"), "t");
    wait_sleeping(&t.dir("fin"), State::Finish);
    let progs = both();
    let mut rep = Report::default();

    let watch = [t.dir("ckfail")];
    let pair = same_parallel(&watch, t.root(), &progs, |p| {
        t.sv_cmd(p, t.root(), &["-w", "1", "check", "ckfail"])
    });
    rep.check(
        &format!("{under}: sv -w 1 check ckfail"),
        &pair,
        Some(&exp(1, "timeout: run: ckfail: (pid N) Ns\n", "")),
    );
    let watch = [t.dir("ckout")];
    for args in [
        &["check", "ckout"][..],
        &["-v", "up", "ckout"],
        &["-w", "2", "u", "ckout"],
    ] {
        let pair = same(&watch, t.root(), &progs, |p| t.sv_cmd(p, t.root(), args));
        rep.check(
            &format!("{under}: sv {}", args.join(" ")),
            &pair,
            Some(&exp(0, "ok: run: ckout: (pid N) Ns\n", "check-stderr\n")),
        );
    }
    rep.done();

    // Not copied: an un-exec-able ./check fails (runit's passed it).
    let nx = "warning: unable to run cknx/check: access denied";
    let o = t.sv(Flavor::Herd, &["-w", "1", "check", "cknx"]);
    o.code(1).stdout_norm("timeout: run: cknx: (pid N) Ns\n");
    assert!(
        !o.stderr.is_empty() && o.stderr.lines().all(|l| l == nx),
        "stderr of our sv -w 1 check cknx: {:?}",
        o.stderr
    );
    t.sv(Flavor::Runit, &["-w", "1", "check", "cknx"])
        .code(0)
        .stdout_norm("ok: run: cknx: (pid N) Ns\n")
        .stderr(&format!("{nx}\n"));

    // Not copied: check waits for what the service wants (down), runit 2.1.2 said ok at once.
    t.sv(Flavor::Herd, &["-w", "1", "check", "deaf"])
        .code(1)
        .stdout_norm("timeout: run: deaf: (pid N) Ns, want down, got TERM\n")
        .stderr("");
    t.sv(Flavor::Runit, &["-w", "1", "check", "deaf"])
        .code(0)
        .stdout_norm("ok: run: deaf: (pid N) Ns, want down, got TERM\n")
        .stderr("");
    // The same for a service in finish that wants up.
    t.sv(Flavor::Herd, &["-w", "0", "check", "fin"])
        .code(1)
        .stdout_norm("timeout: finish: fin: (pid N) Ns\n")
        .stderr("");
    t.sv(Flavor::Runit, &["-w", "0", "check", "fin"])
        .code(0)
        .stdout_norm("ok: finish: fin: (pid N) Ns\n")
        .stderr("");
}

/// Under runsv: both sv run `./check` themselves. Our supervise runs it itself and publishes
/// `supervise/ready`, which our sv then reads instead (tests/sv_ready.rs).
#[test]
fn check_script_under_runsv() {
    check_script(Flavor::Runit);
}

/// How `./check` is executed: runit calls `execve("check", {"./check", 0})`, so a script's
/// interpreter gets the path `check` (the shell's `$0`), and a binary gets argv[0] `./check`.
/// Under runsv, where our sv runs it too.
#[test]
fn check_script_exec_path() {
    let mut t = Tree::new(Flavor::Runit);
    t.service("ck0", RUN_SLEEP);
    t.script(
        "ck0/check",
        "#!/bin/sh\nprintf '%s|%s' \"$0\" \"$(cat /proc/$$/cmdline | tr '\\0' ' ')\" >seen\n",
    );
    t.start("ck0");
    let dir = t.dir("ck0");
    wait_running(&dir);
    let mut seen = Vec::new();
    for which in [Flavor::Runit, Flavor::Herd] {
        let _ = fs::remove_file(dir.join("seen"));
        t.sv(which, &["check", "ck0"])
            .code(0)
            .stdout_norm("ok: run: ck0: (pid N) Ns\n")
            .stderr("");
        seen.push(fs::read_to_string(dir.join("seen")).unwrap_or_default());
    }
    assert_eq!(
        seen[0], "check|/bin/sh check ",
        "runit's ./check invocation"
    );
    assert_eq!(
        seen[1], seen[0],
        "our ./check is executed differently from runit's ($0|cmdline)"
    );
}

// ------------------------------------------------------------------------------------------------
// 6. Bad input.

#[test]
fn bad_input() {
    let mut t = Tree::new(Flavor::Herd);
    t.service("up", RUN_QUIET);
    t.service("ckfail", RUN_SLEEP);
    t.script("ckfail/check", CHECK_FAIL);
    t.start("up");
    t.start("ckfail");
    wait_running(&t.dir("up"));
    wait_running(&t.dir("ckfail"));
    let progs = both();
    let watch = [t.dir("up"), t.dir("ckfail")];
    let mut rep = Report::default();
    let usage = exp(100, "", USAGE);
    let fail_up = |what: &str| {
        exp(
            1,
            &format!("fail: {what}: unable to change to service directory: file does not exist\n"),
            "",
        )
    };
    let cases: Vec<(Vec<&str>, Seen)> = vec![
        (vec![], usage.clone()),
        (vec!["status"], usage.clone()),
        (vec!["-v"], usage.clone()),
        (vec!["-v", "status"], usage.clone()),
        (vec!["-w", "1", "up"], usage.clone()),
        (vec!["zap", "up"], usage.clone()),
        (vec!["rest", "up"], usage.clone()),
        (vec!["force", "up"], usage.clone()),
        (vec!["force-Stop", "up"], usage.clone()),
        (vec!["rEstart", "up"], usage.clone()),
        (vec!["reloads", "up"], usage.clone()),
        (vec!["Up", "up"], usage.clone()),
        (vec!["Status", "up"], usage.clone()),
        (vec!["Kill", "up"], usage.clone()),
        (vec!["", "up"], usage.clone()),
        (vec!["-", "up"], usage.clone()),
        (
            vec!["-x"],
            exp(100, "", &format!("sv: illegal option -- x\n{USAGE}")),
        ),
        (
            vec!["-x", "status", "up"],
            exp(100, "", &format!("sv: illegal option -- x\n{USAGE}")),
        ),
        (
            vec!["-vq", "status", "up"],
            exp(100, "", &format!("sv: illegal option -- q\n{USAGE}")),
        ),
        (
            vec!["-w"],
            exp(
                100,
                "",
                &format!("sv: option requires an argument -- w\n{USAGE}"),
            ),
        ),
        (vec!["-V"], exp(100, "", &format!("{VERSION}{USAGE}"))),
        (
            vec!["-V", "status", "up"],
            exp(100, "", &format!("{VERSION}{USAGE}")),
        ),
        (
            vec!["-vV", "status", "up"],
            exp(100, "", &format!("{VERSION}{USAGE}")),
        ),
        (
            vec!["--", "status", "up"],
            exp(0, "run: up: (pid N) Ns\n", ""),
        ),
        (
            vec!["-vw1", "status", "up"],
            exp(0, "run: up: (pid N) Ns\n", ""),
        ),
        (
            vec!["-w", "abc", "up", "up"],
            exp(0, "ok: run: up: (pid N) Ns\n", ""),
        ),
        (
            vec!["-w", "abc", "check", "ckfail"],
            exp(1, "timeout: run: ckfail: (pid N) Ns\n", ""),
        ),
        (
            vec!["-wabc", "check", "ckfail"],
            exp(1, "timeout: run: ckfail: (pid N) Ns\n", ""),
        ),
        (vec!["status", ""], fail_up("")),
        (vec!["status", "-x"], fail_up("-x")),
        (vec!["status", "up", "-w", "1"], {
            let mut e = fail_up("-w");
            e.out = format!("run: up: (pid N) Ns\n{}{}", e.out, fail_up("1").out);
            e.code = Some(2);
            e
        }),
    ];
    for (args, want) in &cases {
        let pair = same(&watch, t.root(), &progs, |p| t.sv_cmd(p, t.root(), args));
        rep.check(&format!("sv {args:?}"), &pair, Some(want));
    }

    // SVDIR missing or empty; names relative to cwd still work.
    for svdir in ["/nonexistent-herd-svdir", ""] {
        for (args, want) in [
            (vec!["status", "up"], fail_up("up")),
            (vec!["-v", "up", "up"], fail_up("up")),
            (
                vec!["status", "./sv/up"],
                exp(0, "run: ./sv/up: (pid N) Ns\n", ""),
            ),
            (
                vec!["-v", "up", "./sv/up"],
                exp(0, "ok: run: ./sv/up: (pid N) Ns\n", ""),
            ),
        ] {
            let pair = same(&watch, t.root(), &progs, |p| {
                t.sv_cmd(p, t.root(), &args).env("SVDIR", svdir)
            });
            rep.check(&format!("SVDIR={svdir:?} sv {args:?}"), &pair, Some(&want));
        }
    }

    // 120 missing names: rc capped at 99.
    let many: Vec<String> = (1..=120).map(|i| i.to_string()).collect();
    let mut args = vec!["status"];
    args.extend(many.iter().map(String::as_str));
    let want_out: String = many
        .iter()
        .map(|n| format!("fail: {n}: unable to change to service directory: file does not exist\n"))
        .collect();
    let pair = same(&watch, t.root(), &progs, |p| t.sv_cmd(p, t.root(), &args));
    rep.check("sv status 1..120", &pair, Some(&exp(99, &want_out, "")));

    // As nobody: an unreadable cwd is fatal (100, or 151 through an LSB symlink); an unreadable
    // supervise/ is a warning.
    let noread = t.sc.join("noread");
    fs::create_dir(&noread).unwrap();
    fs::set_permissions(&noread, fs::Permissions::from_mode(0o700)).unwrap();
    for f in FLAVORS {
        f.link(Tool::Sv, &t.sc.join(format!("{f}.d")), "up");
    }
    let nobody = |prog: &Path, cwd: &Path, args: &[&str]| {
        t.sv_cmd(&peer("/usr/bin/setpriv"), cwd, &[])
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(prog)
            .args(args)
    };
    let fatal = "fatal: unable to open current directory: access denied\n";
    let pair = same(&watch, t.root(), &progs, |p| {
        nobody(p, &noread, &["status", "up"])
    });
    rep.check(
        "nobody in an unreadable cwd: sv status up",
        &pair,
        Some(&exp(100, "", fatal)),
    );
    let lsb = [t.sc.join("runit.d/up"), t.sc.join("herd.d/up")];
    let pair = same(&watch, t.root(), &lsb, |p| nobody(p, &noread, &["status"]));
    rep.check(
        "nobody in an unreadable cwd: up status (LSB)",
        &pair,
        Some(&exp(151, "", fatal)),
    );
    let pair = same(&watch, t.root(), &lsb, |p| nobody(p, &noread, &[]));
    rep.check(
        "nobody in an unreadable cwd: up (LSB, usage first)",
        &pair,
        Some(&exp(2, "", "usage: up [-w sec] command\n\n")),
    );
    let abs = t.dir("up").display().to_string();
    for cmd in ["up", "status", "check"] {
        let pair = same(&watch, t.root(), &progs, |p| {
            nobody(p, t.root(), &[cmd, &abs])
        });
        rep.check(
            &format!("nobody: sv {cmd} /abs/up"),
            &pair,
            Some(&exp(
                1,
                "warning: $SC/sv/up: unable to open supervise/ok: access denied\n",
                "",
            )),
        );
    }
    rep.done();
}

// ------------------------------------------------------------------------------------------------
// 7. SVWAIT.

#[test]
fn svwait() {
    let mut t = Tree::new(Flavor::Herd);
    t.service("ckfail", RUN_SLEEP);
    t.script("ckfail/check", CHECK_FAIL);
    t.start("ckfail");
    let dir = t.dir("ckfail");
    wait_running(&dir);
    let timeout_line = "timeout: run: ckfail: (pid N) Ns\n";
    let mut seen = Vec::new();
    for which in [Flavor::Herd, Flavor::Runit] {
        settle(&[&dir]);
        let t0 = Instant::now();
        let o = t
            .sv_cmd(&which.program(Tool::Sv), t.root(), &["restart", "ckfail"])
            .env("SVWAIT", "1")
            .run();
        let took = t0.elapsed();
        if which == Flavor::Herd {
            assert!(
                took >= Duration::from_secs(1) && took < Duration::from_secs(2),
                "SVWAIT=1 sv restart (failing check) took {took:?}"
            );
        }
        seen.push(Seen::of(&o, t.root()));
    }
    let mut rep = Report::default();
    rep.check(
        "SVWAIT=1 sv restart ckfail",
        &[seen[1].clone(), seen[0].clone()],
        Some(&exp(1, timeout_line, "")),
    );
    // -w overrides SVWAIT; a non-numeric SVWAIT is 0.
    let t0 = Instant::now();
    let o = t
        .sv_cmd(&bin("sv"), t.root(), &["-w", "1", "check", "ckfail"])
        .env("SVWAIT", "100")
        .run();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(2),
        "SVWAIT=100 sv -w 1 check took {took:?}"
    );
    o.code(1).stdout_norm(timeout_line).stderr("");
    let watch = [dir.clone()];
    let pair = same(&watch, t.root(), &both(), |p| {
        t.sv_cmd(p, t.root(), &["check", "ckfail"])
            .env("SVWAIT", "abc")
    });
    rep.check(
        "SVWAIT=abc sv check ckfail",
        &pair,
        Some(&exp(1, timeout_line, "")),
    );
    rep.done();
}

// ------------------------------------------------------------------------------------------------
// 8. sv -v exit returns as soon as the supervisor is gone.

fn exit_latency(sup: Flavor) {
    let under = sup.name(Tool::Supervise);
    // Two identical trees: one for runit's sv, one for ours.
    let mut trees = [Tree::new(sup), Tree::new(sup)];
    for t in &mut trees {
        t.service("e", RUN_SLEEP);
        t.service("el", RUN_SLEEP);
        t.service("el/log", LOG_RUN);
        t.start("e");
        t.start("el");
        wait_running(&t.dir("e"));
        wait_running(&t.dir("el"));
    }
    let mut rep = Report::default();
    for name in ["e", "el"] {
        let mut seen = Vec::new();
        for (t, which) in trees.iter_mut().zip([Flavor::Runit, Flavor::Herd]) {
            let t0 = Instant::now();
            let o = t.sv(which, &["-v", "exit", name]);
            let took = t0.elapsed();
            assert!(
                !supervisor_alive(&t.dir(name)),
                "{which}'s sv returned while the supervisor of {name} lives"
            );
            t.wait_exit(name);
            if which == Flavor::Herd {
                assert!(
                    took < Duration::from_millis(400),
                    "{under}: our sv -v exit {name} took {took:?}"
                );
            }
            seen.push(Seen::of(&o, t.root()));
        }
        rep.check(
            &format!("{under}: sv -v exit {name}"),
            &[seen[0].clone(), seen[1].clone()],
            Some(&exp(0, &format!("ok: {name}: runsv not running\n"), "")),
        );
    }
    rep.done();
}

#[test]
fn exit_latency_under_supervise() {
    exit_latency(Flavor::Herd);
}

#[test]
fn exit_latency_under_runsv() {
    exit_latency(Flavor::Runit);
}
