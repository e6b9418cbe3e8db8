//! `sv --json status` and `sv health` (issue 16; docs/sv.md, "JSON status" and "Health"), from
//! outside: our `sv` against our `supervise`, one per service of a scan directory `sv/`. The
//! JSON is read by python3's `json` module and compared key by key, in order. `supervise/runs`
//! and `supervise/health` are written by the test where supervise does not (yet) write them:
//! sv reads the shared format whoever wrote it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use herd_testsupport::*;

const RUN_SLEEP: &str = "#!/bin/sh\nexec sleep 1000\n";
/// Ignores TERM (its `sleep` too), after saying so in `./trapped`.
const RUN_DEAF: &str = "#!/bin/sh\ntrap '' TERM\necho > trapped\nexec sleep 1000\n";
/// Exits 1 at once; `./finish` then runs for long.
const RUN_FAIL: &str = "#!/bin/sh\nexit 1\n";
const FINISH_LONG: &str = "#!/bin/sh\nexec sleep 1000\n";
/// Never ready: `notification-fd` 3, never written.
const RUN_UNREADY: &str = "#!/bin/sh\nexec sleep 1000\n";
/// The keys of an object, in order.
const KEYS: &str = "name state pid since uptime want normally_up paused got_term ready failed \
                    health restarts last_exit log";

struct Tree {
    sc: Scenario,
    procs: Vec<Proc>,
}

impl Tree {
    fn new() -> Tree {
        let sc = Scenario::new();
        fs::create_dir_all(sc.join("sv")).unwrap();
        Tree {
            sc,
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

    /// Starts `supervise NAME` (cwd the scan directory) and waits until it answers.
    fn start(&mut self, name: &str) {
        let mut c = Command::new(bin("supervise"));
        c.arg(name)
            .current_dir(self.sc.join("sv"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.procs.push(Proc::spawn(c));
        let dir = self.dir(name);
        wait_for(&format!("supervisor of {name} live"), DEADLINE, || {
            supervisor_alive(&dir) && status(&dir).is_some()
        });
    }

    fn sv(&self, args: &[&str]) -> Output {
        self.sc
            .cmd(bin("sv"))
            .env("SVDIR", self.sc.join("sv"))
            .env_remove("SVWAIT")
            .args(args)
            .timeout(Duration::from_secs(20))
            .run()
    }
}

/// Each line of `stdout` as a JSON object, flattened by python3 to `KEY=VALUE` pairs in order
/// (`log.KEY` for the log's object; values as `json.dumps` writes them).
fn objects(stdout: &str) -> Vec<Vec<(String, String)>> {
    const PY: &str = "import json, sys\n\
        def flat(o, p):\n\
        \x20   for k, v in o.items():\n\
        \x20       if k == 'log' and isinstance(v, dict): flat(v, p + 'log.')\n\
        \x20       else: print(p + k + '=' + json.dumps(v, ensure_ascii=False))\n\
        for line in sys.stdin.read().split('\\n')[:-1]:\n\
        \x20   flat(json.loads(line), ''); print('--')\n";
    let o = Scenario::new()
        .cmd("python3")
        .args(["-c", PY])
        .input(stdout.as_bytes().to_vec())
        .run();
    o.code(0).stderr("");
    o.stdout
        .split_terminator("--\n")
        .map(|obj| {
            obj.lines()
                .map(|l| {
                    let (k, v) = l.split_once('=').expect("KEY=VALUE");
                    (k.to_string(), v.to_string())
                })
                .collect()
        })
        .collect()
}

/// Checks one flattened object: its keys in order (the log's after `log.`), and each value in
/// `want` (`KEY=VALUE`, same form).
#[track_caller]
fn check(obj: &[(String, String)], log: bool, want: &[&str]) {
    let keys: Vec<&str> = obj.iter().map(|(k, _)| k.as_str()).collect();
    let mut expected: Vec<String> = KEYS.split(' ').map(String::from).collect();
    if log {
        expected.pop();
        expected.extend(KEYS.split(' ').map(|k| format!("log.{k}")));
    }
    assert_eq!(keys, expected, "keys of {obj:?}");
    for w in want {
        let (k, v) = w.split_once('=').expect("KEY=VALUE");
        let got = obj
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str());
        assert_eq!(got, Some(v), "{k} of {obj:?}");
    }
}

/// A file's text, empty if it cannot be read.
fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// The pid and Unix seconds of the stamp in DIR's status.
fn pid_since(dir: &Path) -> (String, String) {
    let st = status(dir).expect("status");
    let pid = st.pid.map_or("null".to_string(), |p| p.get().to_string());
    (pid, st.stamp.unix_secs().to_string())
}

/// Every state: run with a log, down (normally down), paused, want down with TERM ignored,
/// finish, want up while down, failed, unhealthy, restarts and the last exit, and a service that
/// cannot be read. Exit code: one per error object.
#[test]
fn json_status_of_each_state() {
    let mut t = Tree::new();
    t.script("web/run", RUN_SLEEP);
    t.script("web/log/run", RUN_SLEEP);
    t.script("idle/run", RUN_SLEEP);
    t.file("idle/down", "");
    t.script("pz/run", RUN_SLEEP);
    t.script("deaf/run", RUN_DEAF);
    t.script("fin/run", RUN_FAIL);
    t.script("fin/finish", FINISH_LONG);
    for s in ["web", "idle", "pz", "deaf", "fin"] {
        t.start(s);
    }
    let web = t.dir("web");
    wait_running(&web);
    wait_running(&web.join("log"));
    wait_running(&t.dir("pz"));
    wait_running(&t.dir("deaf"));
    wait_for("deaf's trap is set", DEADLINE, || {
        t.dir("deaf/trapped").exists()
    });
    wait_status(&t.dir("fin"), "fin in finish", |s| {
        s.state == herd_status::State::Finish && s.pid.is_some()
    });
    t.sv(&["pause", "pz"]).code(0);
    wait_status(&t.dir("pz"), "pz paused", |s| s.paused);
    t.sv(&["down", "deaf"]).code(0);
    wait_status(&t.dir("deaf"), "deaf got TERM", |s| s.term);
    // What a supervise of issue 16 writes: idle gave up after 3 runs, the last exiting 1.
    t.file("idle/supervise/runs", "runs 3 exit code 1 failed\n");
    t.file(
        "pz/supervise/health",
        "unhealthy code 1 @400000006a0b0c0d00000000\n",
    );
    t.file("pz/supervise/runs", "runs 4 exit signal 9\n");

    let o = t.sv(&[
        "--json", "status", "web", "idle", "pz", "deaf", "fin", "nosuch",
    ]);
    o.code(1).stderr("");
    let objs = objects(&o.stdout);
    assert_eq!(objs.len(), 6, "{}", o.stdout);

    let (pid, since) = pid_since(&web);
    let (lpid, lsince) = pid_since(&web.join("log"));
    check(
        &objs[0],
        true,
        &[
            "name=\"web\"",
            "state=\"run\"",
            &format!("pid={pid}"),
            &format!("since={since}"),
            "want=\"up\"",
            "normally_up=true",
            "paused=false",
            "got_term=false",
            "ready=true",
            "failed=false",
            "health=null",
            "restarts=0",
            "last_exit=null",
            "log.name=\"log\"",
            "log.state=\"run\"",
            &format!("log.pid={lpid}"),
            &format!("log.since={lsince}"),
            "log.want=\"up\"",
            "log.ready=true",
            "log.log=null",
        ],
    );
    let (_, since) = pid_since(&t.dir("idle"));
    check(
        &objs[1],
        false,
        &[
            "name=\"idle\"",
            "state=\"down\"",
            "pid=null",
            &format!("since={since}"),
            "want=\"down\"",
            "normally_up=false",
            "paused=false",
            "got_term=false",
            "ready=false",
            "failed=true",
            "health=null",
            "restarts=2",
            "last_exit={\"code\": 1}",
            "log=null",
        ],
    );
    let (pid, _) = pid_since(&t.dir("pz"));
    check(
        &objs[2],
        false,
        &[
            "name=\"pz\"",
            "state=\"run\"",
            &format!("pid={pid}"),
            "want=\"up\"",
            "paused=true",
            "ready=true",
            "failed=false",
            "health=\"unhealthy\"",
            "restarts=3",
            "last_exit={\"signal\": \"KILL\"}",
        ],
    );
    check(
        &objs[3],
        false,
        &[
            "name=\"deaf\"",
            "state=\"run\"",
            "want=\"down\"",
            "got_term=true",
            "paused=false",
        ],
    );
    let (pid, _) = pid_since(&t.dir("fin"));
    check(
        &objs[4],
        false,
        &[
            "name=\"fin\"",
            "state=\"finish\"",
            &format!("pid={pid}"),
            "want=\"up\"",
            "ready=false",
        ],
    );
    assert_eq!(
        objs[5],
        vec![
            ("name".to_string(), "\"nosuch\"".to_string()),
            (
                "error".to_string(),
                "\"unable to change to service directory: file does not exist\"".to_string()
            ),
        ]
    );
    // The same services through runit's status: unchanged by the JSON.
    t.sv(&["status", "idle"])
        .code(0)
        .stdout_norm("down: idle: Ns\n");
}

/// `failed`, `restarts`, `last_exit` and `health` as the real supervise writes them: a service
/// that exits 1 and gives up after `restart-limit 2 10`, one whose `health` passes, and the
/// give-up cleared by `sv up`.
#[test]
fn json_status_from_supervises_own_files() {
    let mut t = Tree::new();
    t.script("flap/run", "#!/bin/sh\nexit 1\n");
    t.file("flap/restart-limit", "2 10\n");
    t.script("ok/run", RUN_SLEEP);
    t.script("ok/health", "#!/bin/sh\nexit 0\n");
    t.file("ok/health-interval", "0.1\n");
    for s in ["flap", "ok"] {
        t.start(s);
    }
    let flap = t.dir("flap");
    wait_for("flap to give up", DEADLINE, || {
        read(&flap.join("supervise/runs")) == "runs 2 exit code 1 failed\n"
    });
    wait_for("ok to be healthy", DEADLINE, || {
        read(&t.dir("ok/supervise/health")).starts_with("healthy code 0 @")
    });
    let o = t.sv(&["--json", "status", "flap", "ok"]);
    o.code(0).stderr("");
    let objs = objects(&o.stdout);
    assert_eq!(objs.len(), 2, "{}", o.stdout);
    check(
        &objs[0],
        false,
        &[
            "name=\"flap\"",
            "state=\"down\"",
            "pid=null",
            "want=\"down\"",
            "normally_up=true",
            "ready=false",
            "failed=true",
            "health=null",
            "restarts=1",
            "last_exit={\"code\": 1}",
        ],
    );
    let (pid, _) = pid_since(&t.dir("ok"));
    check(
        &objs[1],
        false,
        &[
            "name=\"ok\"",
            "state=\"run\"",
            &format!("pid={pid}"),
            "ready=true",
            "failed=false",
            "health=\"healthy\"",
            "restarts=0",
            "last_exit=null",
        ],
    );
    // `sv up` clears the give-up: the next start is counted, and failed is gone.
    t.sv(&["up", "flap"]).code(0);
    wait_for("flap to start again", DEADLINE, || {
        read(&flap.join("supervise/runs")).starts_with("runs 3 ")
    });
    let o = t.sv(&["--json", "status", "flap"]);
    let objs = objects(&o.stdout);
    assert_eq!(objs.len(), 1, "{}", o.stdout);
    let failed = objs[0]
        .iter()
        .find(|(k, _)| k == "failed")
        .map(|(_, v)| v.as_str());
    assert_eq!(failed, Some("false"), "{:?}", objs[0]);
}

/// A service whose supervisor is not running: an error object, and sv's exit code counts it.
#[test]
fn json_status_errors() {
    let t = Tree::new();
    t.script("ghost/run", RUN_SLEEP);
    fs::create_dir_all(t.dir("ghost/supervise")).unwrap();
    nix::unistd::mkfifo(
        &t.dir("ghost/supervise/ok"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let o = t.sv(&["--json", "status", "ghost", "ghost"]);
    o.code(2)
        .stdout(concat!(
            "{\"name\": \"ghost\", \"error\": \"runsv not running\"}\n",
            "{\"name\": \"ghost\", \"error\": \"runsv not running\"}\n"
        ))
        .stderr("");
    // `--json` with anything but status is a usage error; runit's status is untouched.
    t.sv(&["--json", "up", "ghost"])
        .code(100)
        .stdout("")
        .stderr("usage: sv [-v] [-w sec] command service ...\n\n");
    t.sv(&["status", "ghost"])
        .code(1)
        .stdout("fail: ghost: runsv not running\n");
}

/// `sv health`: 0 and nothing when all is well; 1 and a line per service that is not, in name
/// order, with the log after its service; dot-entries and files skipped; DIR or `$SVDIR`.
#[test]
fn health_of_a_scan_directory() {
    let mut t = Tree::new();
    t.script("web/run", RUN_SLEEP);
    t.script("web/log/run", RUN_SLEEP);
    t.script("idle/run", RUN_SLEEP);
    t.file("idle/down", "");
    t.file("notes", "not a service\n");
    t.script(".hidden/run", RUN_SLEEP);
    for s in ["web", "idle"] {
        t.start(s);
    }
    wait_running(&t.dir("web"));
    wait_running(&t.dir("web/log"));
    t.sv(&["health"]).code(0).stdout("").stderr("");
    let dir = t.sc.join("sv");
    t.sc.cmd(bin("sv"))
        .env_remove("SVDIR")
        .args(["health"])
        .arg(&dir)
        .run()
        .code(0)
        .stdout("");

    // Not ready, finishing while wanted up, unhealthy, given up on, and a service without its
    // supervisor.
    t.script("nr/run", RUN_UNREADY);
    t.file("nr/notification-fd", "3\n");
    t.script("fin/run", RUN_FAIL);
    t.script("fin/finish", FINISH_LONG);
    t.script("ghost/run", RUN_SLEEP);
    for s in ["nr", "fin"] {
        t.start(s);
    }
    wait_running(&t.dir("nr"));
    wait_status(&t.dir("fin"), "fin in finish", |s| {
        s.state == herd_status::State::Finish
    });
    t.file(
        "web/supervise/health",
        "unhealthy code 1 @400000006a0b0c0d00000000\n",
    );
    t.file("idle/supervise/runs", "runs 3 exit code 1 failed\n");
    t.sv(&["health"])
        .code(1)
        .stdout(concat!(
            "fin: finish, want up\n",
            "ghost: unable to open supervise/ok: file does not exist\n",
            "idle: failed\n",
            "nr: not ready\n",
            "web: unhealthy\n",
        ))
        .stderr("");
    t.sv(&["health", "/nonexistent"])
        .code(100)
        .stdout("")
        .stderr("fatal: unable to change to directory /nonexistent: file does not exist\n");
}
