//! Differential tests: the same scenario under runit's runsv and under our supervise.
//!
//! Each test builds the same service tree twice (one scenario dir per flavor), starts
//! `/usr/bin/runsv svc` in one and `supervise svc` in the other, drives both with the same steps
//! (runit's `sv`, raw control bytes, files the scripts wait for) and records a transcript of
//! normalized observations: `supervise/status` bytes (stamp and pid masked), `stat`, `pid`, the
//! modes of everything in `supervise/`, and the output and exit codes of runit's `sv` and
//! daemontools' `svstat`/`svok`. The two transcripts must be identical. Both flavors run at the
//! same time, in two threads.
//!
//! runsv sleeps a blocking second after a run that lived less than one; supervise throttles with
//! a deadline instead. Steps therefore wait (bounded) for a stable state before observing, so the
//! transcripts converge whatever the timing. `sv -v` is used only where its output cannot depend
//! on that timing (its first check runs before the supervisor has read the letter).
//!
//! On a mismatch both transcripts and the first differing line are printed;
//! `HERD_TRANSCRIPT=1` (with `--nocapture`) prints supervise's transcript of every test.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use herd_testsupport::*;

/// Name of the service directory in every scenario.
const SVC: &str = "svc";
/// Name of its log service directory.
const LOG: &str = "svc/log";

/// runsv's messages start with `runsv DIR:`, ours with `supervise DIR:`.
fn norm_prefix(s: &str) -> String {
    s.lines()
        .map(|l| match l.strip_prefix("runsv ") {
            Some(rest) => format!("supervise {rest}\n"),
            None => format!("{l}\n"),
        })
        .collect()
}

/// One flavor's run of a scenario: the supervisor, the scenario dir and the transcript.
struct Run<'a> {
    /// Whose supervisor runs the service; runit's `sv` and daemontools' `svstat`/`svok` observe
    /// both.
    flavor: Flavor,
    sc: &'a Scenario,
    t: Vec<String>,
    sup: Option<Proc>,
    /// Last status stamp seen per service dir, to record whether a step changed it.
    stamps: HashMap<String, Vec<u8>>,
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "=== {} transcript so far ===\n{}",
                self.name(),
                self.t.join("\n")
            );
        }
    }
}

impl<'a> Run<'a> {
    fn new(flavor: Flavor, sc: &'a Scenario) -> Self {
        Run {
            flavor,
            sc,
            t: Vec::new(),
            sup: None,
            stamps: HashMap::new(),
        }
    }

    fn dir(&self, rel: &str) -> PathBuf {
        self.sc.join(rel)
    }

    /// The supervisor's name (`runsv`, `supervise`), for messages.
    fn name(&self) -> &'static str {
        self.flavor.name(Tool::Supervise)
    }

    fn note(&mut self, s: impl Into<String>) {
        self.t.push(s.into());
    }

    /// Starts the supervisor on `svc` (stdout and stderr to files) and waits until it is live.
    fn start(&mut self) {
        let mut c = Command::new(self.flavor.program(Tool::Supervise));
        c.arg(SVC)
            .current_dir(self.sc.path())
            .stdout(Stdio::from(
                fs::File::create(self.sc.join("sup.out")).expect("sup.out"),
            ))
            .stderr(Stdio::from(
                fs::File::create(self.sc.join("sup.err")).expect("sup.err"),
            ));
        self.sup = Some(Proc::spawn(c));
        let svc = self.dir(SVC);
        wait_for(
            "supervisor live (supervise/ok has a reader)",
            DEADLINE,
            || supervisor_alive(&svc) && status(&svc).is_some(),
        );
        if self.dir(LOG).is_dir() {
            let log = self.dir(LOG);
            wait_for("log supervisor live", DEADLINE, || {
                supervisor_alive(&log) && status(&log).is_some()
            });
        }
    }

    /// Runs the supervisor to completion (it is expected to fail at startup) and records it.
    fn start_fails(&mut self, dir: &str) {
        let out = self
            .sc
            .cmd(self.flavor.program(Tool::Supervise))
            .arg(dir)
            .run();
        self.note(format!(
            "supervisor {dir}: rc={:?} out={:?} err={:?}",
            out.code,
            out.stdout,
            norm_prefix(&out.stderr)
        ));
    }

    /// Waits for the running supervisor to exit and records its exit code and output.
    fn supervisor_exit(&mut self) {
        let code = self
            .sup
            .as_mut()
            .expect("supervisor started")
            .wait(DEADLINE);
        self.note(format!("supervisor exit: {code:?}"));
        self.outputs();
    }

    /// Records what the supervisor (and services without a log) wrote to stdout and stderr.
    fn outputs(&mut self) {
        if !self.sc.join("sup.err").exists() {
            return;
        }
        let out = fs::read_to_string(self.sc.join("sup.out")).unwrap_or_default();
        let err = fs::read_to_string(self.sc.join("sup.err")).unwrap_or_default();
        self.note(format!(
            "supervisor stdout={out:?} stderr={:?}",
            norm_prefix(&err)
        ));
    }

    /// runit's `sv ARGS` (for both flavors) with `SVDIR` = the scenario dir; output normalized.
    fn sv(&mut self, args: &[&str]) -> Output {
        let out = self
            .sc
            .cmd(Flavor::Runit.program(Tool::Sv))
            .env("SVDIR", self.sc.path())
            .env_remove("SVWAIT")
            .args(args)
            .timeout(Duration::from_secs(10))
            .run();
        self.note(format!(
            "$ sv {}: rc={:?} out={:?} err={:?}",
            args.join(" "),
            out.code,
            normalize(&out.stdout),
            normalize(&out.stderr)
        ));
        out
    }

    /// Writes raw bytes to `DIR/supervise/control`.
    fn control(&mut self, dir: &str, bytes: &[u8]) {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.dir(dir).join("supervise/control"))
            .expect("open control FIFO");
        f.write_all(bytes).expect("write control FIFO");
        self.note(format!(
            "control {dir} <- {:?}",
            String::from_utf8_lossy(bytes)
        ));
    }

    /// Waits until `dir`'s status satisfies `cond`.
    fn wait(&self, dir: &str, what: &str, cond: impl Fn(&Status) -> bool) -> Status {
        wait_status(&self.dir(dir), what, cond)
    }

    /// Waits until `dir` runs a process other than `old`; returns its pid.
    fn wait_new_run(&self, dir: &str, old: u32) -> u32 {
        let st = self.wait(dir, "a new run", |s| {
            s.state == State::Run && s.pid.is_some_and(|p| p.get() != old)
        });
        st.pid.map_or(0, |p| p.get())
    }

    /// Waits until `dir` is down with no process.
    fn wait_down(&self, dir: &str) {
        self.wait(dir, "down", |s| s.state == State::Down && s.pid.is_none());
    }

    /// Waits until the file `rel` (in the scenario dir) holds exactly `content`.
    fn wait_file(&self, rel: &str, content: &str) {
        let p = self.sc.join(rel);
        wait_for(&format!("{rel} == {content:?}"), DEADLINE, || {
            fs::read_to_string(&p).is_ok_and(|s| s == content)
        });
    }

    /// Records the content of a file of the scenario dir.
    fn file(&mut self, rel: &str) {
        let s = fs::read_to_string(self.sc.join(rel)).unwrap_or_else(|e| format!("<{e}>"));
        self.note(format!("file {rel}: {s:?}"));
    }

    /// Records how a child of the supervisor was started: argv, parent, process group, session,
    /// environment, signal mask and ignored signals, cwd and open descriptors. Waits until its
    /// command line is `argv` (the run script has exec'd).
    fn observe_proc(&mut self, what: &str, pid: u32, argv: &[&str]) {
        let cmdline = |p: u32| {
            fs::read(format!("/proc/{p}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default()
        };
        let want = argv.iter().map(|a| format!("{a} ")).collect::<String>();
        // After exec the dynamic loader still holds /etc/ld.so.cache for a moment: wait until
        // the program sleeps (in nanosleep or read).
        wait_for(
            &format!("{what} execs {argv:?} and sleeps"),
            DEADLINE,
            || cmdline(pid) == want && proc_state(pid) == Some('S'),
        );
        let sup = self.sup.as_ref().expect("supervisor started").pid();
        // Fields after the command name in /proc/PID/stat: state ppid pgrp session.
        let stat = |p: u32| -> Vec<String> {
            let s = fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let rest = s.rfind(')').map_or("", |i| &s[i + 1..]);
            rest.split_whitespace().map(str::to_string).collect()
        };
        let (child, parent) = (stat(pid), stat(sup));
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map_or(String::new(), |v| v.trim().to_string())
        };
        let environ = |p: u32| -> Vec<String> {
            let b = fs::read(format!("/proc/{p}/environ")).unwrap_or_default();
            let mut v: Vec<String> = String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect();
            v.sort();
            v
        };
        // Variables that differ between the child and the supervisor (the shell sets PWD).
        let (env_child, env_sup) = (environ(pid), environ(sup));
        let mut env_diff: Vec<&str> = env_child
            .iter()
            .filter(|e| !env_sup.contains(e))
            .chain(env_sup.iter().filter(|e| !env_child.contains(e)))
            .map(|e| e.split('=').next().unwrap_or(e))
            .collect();
        env_diff.sort();
        env_diff.dedup();
        let root = self.sc.path().display().to_string();
        let link = |p: PathBuf| {
            let t = fs::read_link(p).map_or_else(|e| format!("<{e}>"), |t| t.display().to_string());
            let t = t.replace(&root, "$SC");
            if t.starts_with("pipe:") {
                "pipe".to_string()
            } else {
                t
            }
        };
        let mut fds: Vec<(u32, String)> = fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let n = e.file_name().to_str()?.parse().ok()?;
                        Some((n, link(e.path())))
                    })
                    .collect()
            })
            .unwrap_or_default();
        fds.sort();
        let fds: Vec<String> = fds.iter().map(|(n, t)| format!("{n}->{t}")).collect();
        self.note(format!(
            "proc {what}: argv={:?} parent is supervisor: {}, pgrp same: {}, session same: {}, \
             env differs in: {env_diff:?}, SigBlk={} SigIgn={} cwd={} fds=[{}]",
            cmdline(pid),
            child.get(1).map(String::as_str) == Some(sup.to_string().as_str()),
            child.get(2).is_some() && child.get(2) == parent.get(2),
            child.get(3).is_some() && child.get(3) == parent.get(3),
            field("SigBlk:"),
            field("SigIgn:"),
            link(PathBuf::from(format!("/proc/{pid}/cwd"))),
            fds.join(" ")
        ));
    }

    /// Records everything observable about the service (and its log, if any).
    fn snap(&mut self, label: &str) {
        self.note(format!("--- {label}"));
        let mut dirs = vec![SVC];
        if self.dir(LOG).is_dir() {
            dirs.push(LOG);
        }
        for d in &dirs {
            self.observe(d);
        }
        self.clients_of(&dirs);
    }

    /// Records what runit's and daemontools' clients say about the service (and its log).
    fn clients(&mut self, label: &str) {
        self.note(format!("--- {label}"));
        let mut dirs = vec![SVC];
        if self.dir(LOG).is_dir() {
            dirs.push(LOG);
        }
        self.clients_of(&dirs);
    }

    fn clients_of(&mut self, dirs: &[&str]) {
        self.sv(&["status", SVC]);
        for d in dirs {
            let out = self.sc.cmd(peer("/usr/bin/svstat")).arg(d).run();
            self.note(format!(
                "$ svstat {d}: rc={:?} out={:?} err={:?}",
                out.code,
                normalize(&out.stdout),
                out.stderr
            ));
            let out = self.sc.cmd(peer("/usr/bin/svok")).arg(d).run();
            self.note(format!("$ svok {d}: rc={:?}", out.code));
        }
    }

    /// Records `d/supervise/`: file modes, `status` bytes (masked), `stat` and `pid`.
    fn observe(&mut self, d: &str) {
        let sup = self.dir(d).join("supervise");
        // pid, stat and status are renamed one after the other (and runsv can write two updates
        // in a row, e.g. entering finish with pid 0, then finish's pid): read everything twice
        // and accept only a quiet, consistent view.
        let read = || {
            let status = fs::read(sup.join("status")).ok();
            let stat = fs::read_to_string(sup.join("stat")).ok();
            let pid = fs::read_to_string(sup.join("pid")).ok();
            (listing(&sup), status, stat, pid)
        };
        let (files, bytes, stat, pid) = wait_until(
            &format!("{}: a stable, consistent {d}/supervise", self.name()),
            DEADLINE,
            || {
                let a = read();
                std::thread::sleep(Duration::from_millis(2));
                let consistent = match (&a.1, &a.3) {
                    (Some(b), Some(pid)) if b.len() == 20 => {
                        let spid = u32::from_le_bytes([b[12], b[13], b[14], b[15]]);
                        *pid == if spid == 0 {
                            String::new()
                        } else {
                            format!("{spid}\n")
                        }
                    }
                    _ => true,
                };
                (consistent && !a.0.contains(".new ") && a == read()).then_some(a)
            },
        );
        self.note(format!("files {d}/supervise: {files}"));
        let Some(bytes) = bytes else {
            self.note(format!("status {d}: missing"));
            return;
        };
        assert_eq!(
            bytes.len(),
            20,
            "{}: {d}/supervise/status is {bytes:?}",
            self.name()
        );
        let nanos = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        assert_eq!(
            nanos % 1000,
            500,
            "{}: {d}: status nanoseconds {nanos} do not end in 500",
            self.name()
        );
        let secs = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        let unix = secs.wrapping_sub(0x4000_0000_0000_000a);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        assert!(
            unix <= now && now - unix < 120,
            "{}: {d}: status stamp {unix} is not recent (now {now})",
            self.name()
        );
        let spid = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
        let stamp = bytes[..12].to_vec();
        let change = match self.stamps.insert(d.to_string(), stamp.clone()) {
            None => "first",
            Some(old) if old == stamp => "same",
            Some(_) => "new",
        };
        let hex: Vec<String> = bytes
            .iter()
            .enumerate()
            .map(|(i, b)| match i {
                4..=11 => "**".to_string(),
                12..=15 if spid != 0 => "PP".to_string(),
                _ => format!("{b:02x}"),
            })
            .collect();
        self.note(format!("status {d}: {} (stamp {change})", hex.join(" ")));
        self.note(format!("stat {d}: {:?}", stat.unwrap_or_default()));
        // Consistent with status (checked above): masked to "PID\n", or empty.
        let pid = pid.map_or("<missing>".to_string(), |p| {
            if p.is_empty() {
                p
            } else {
                "PID\n".to_string()
            }
        });
        self.note(format!("pid {d}: {pid:?}"));
    }
}

/// `MODE TYPE` of a path (`stat -c '%a %F'`), following symlinks.
fn mode_type(p: &Path) -> String {
    match fs::metadata(p) {
        Ok(m) => format!("{:o} {}", m.permissions().mode() & 0o7777, kind(&m)),
        Err(e) => format!("<{}>", e.kind()),
    }
}

fn kind(m: &fs::Metadata) -> &'static str {
    let ft = m.file_type();
    if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "file"
    } else {
        "other"
    }
}

/// The supervise dir and its entries with modes and types (herd's own `instance` and `runs` left
/// out: supervise writes them for every service; `ready` and `health` only for a service that has
/// the files to ask for them, which these directories do not).
fn listing(sup: &Path) -> String {
    let mut parts = vec![format!(". {}", mode_type(sup))];
    let mut names: Vec<String> = match fs::read_dir(sup) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !["instance", "instance.new", "runs", "runs.new"].contains(&n.as_str()))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    for n in names {
        let p = sup.join(&n);
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        let size = match n.as_str() {
            "lock" | "status" => format!(" {}B", m.len()),
            _ => String::new(),
        };
        parts.push(format!(
            "{n} {:o} {}{size}",
            m.permissions().mode() & 0o7777,
            kind(&m)
        ));
    }
    parts.join("; ")
}

/// Runs `steps` on a scenario made by `setup`, under runsv and under supervise at the same time,
/// and asserts that the two transcripts are identical.
#[track_caller]
fn differential(setup: fn(&Scenario), steps: fn(&mut Run)) {
    compare_flavors(Tool::Supervise, Schedule::AtOnce, "", |flavor| {
        let sc = Scenario::new();
        setup(&sc);
        let mut run = Run::new(flavor, &sc);
        steps(&mut run);
        run.outputs();
        drop(run.sup.take());
        let t = std::mem::take(&mut run.t);
        if flavor == Flavor::Herd && std::env::var_os("HERD_TRANSCRIPT").is_some() {
            eprintln!("=== transcript ===\n{}", t.join("\n"));
        }
        t
    });
}

// ------------------------------------------------------------------------------------------------
// Scenarios

#[test]
fn plain_up() {
    differential(
        |sc| {
            sc.service(SVC, RUN_SLEEP);
        },
        |r| {
            r.start();
            let p1 = wait_running(&r.dir(SVC));
            r.observe_proc("run", p1, &["sleep", "1000"]);
            r.snap("started");
            r.sv(&["-v", "up", SVC]);
            r.sv(&["-v", "down", SVC]);
            r.wait_down(SVC);
            r.snap("after down");
            r.sv(&["-v", "up", SVC]);
            let p2 = r.wait_new_run(SVC, p1);
            r.snap("after up");
            r.sv(&["-v", "kill", SVC]);
            r.wait_new_run(SVC, p2);
            r.snap("after kill (restarted)");
            r.sv(&["-v", "once", SVC]);
            r.snap("after once");
            // Not -v: sv's first check may pass with the old pid if run started in sv's second.
            r.sv(&["term", SVC]);
            r.wait_down(SVC);
            r.snap("after term");
            r.sv(&["-w", "5", "exit", SVC]);
            r.supervisor_exit();
            r.snap("after exit");
        },
    );
}

#[test]
fn down_file() {
    differential(
        |sc| {
            sc.service(SVC, RUN_SLEEP);
            sc.file("svc/down", "", 0o644);
        },
        |r| {
            r.start();
            std::thread::sleep(QUIET);
            r.snap("started with down");
            r.sv(&["-v", "up", SVC]);
            let p1 = wait_running(&r.dir(SVC));
            r.snap("after up");
            r.sv(&["-v", "down", SVC]);
            r.wait_down(SVC);
            r.snap("after down");
            r.sv(&["once", SVC]);
            r.wait_new_run(SVC, p1);
            r.snap("after once");
            r.sv(&["-v", "down", SVC]);
            r.wait_down(SVC);
            r.snap("down again");
        },
    );
}

#[test]
fn crash_loop() {
    differential(
        |sc| {
            sc.service(SVC, "#!/bin/sh\ndate +%s%N >> ../starts\nexit 3\n");
        },
        |r| {
            r.start();
            let starts = r.sc.join("starts");
            let count = || {
                fs::read_to_string(&starts)
                    .map(|s| s.lines().count())
                    .unwrap_or(0)
            };
            // Observe right after a start, so that the ~1 s down window is ahead of us.
            wait_for("second start", DEADLINE, || count() >= 2);
            r.wait(SVC, "down, want up", |s| {
                s.state == State::Down && s.pid.is_none() && s.want == Want::Up
            });
            r.snap("crash loop, down between starts");
            wait_for("fourth start", DEADLINE, || count() >= 4);
            let times: Vec<u64> = fs::read_to_string(&starts)
                .expect("starts")
                .lines()
                .map(|l| l.trim().parse().expect("date +%s%N"))
                .collect();
            let gaps_ok = times
                .windows(2)
                .all(|w| (900_000_000..2_000_000_000).contains(&(w[1] - w[0])));
            r.note(format!("restarts 0.9 s to 2 s apart: {gaps_ok}"));
            // runsv reads the `d` only after its 1 s sleep: wait for want down.
            r.sv(&["down", SVC]);
            r.wait(SVC, "down, want down", |s| {
                s.state == State::Down && s.pid.is_none() && s.want == Want::Down
            });
            let n = count();
            std::thread::sleep(QUIET);
            r.note(format!("no start after down: {}", count() == n));
            r.snap("after down");
        },
    );
}

/// `./run` that waits for the file `../go`, then does `$1`.
fn gated_run(then: &str) -> String {
    format!("#!/bin/sh\nwhile [ ! -e ../go ]; do sleep 0.02; done\n{then}\n")
}

#[test]
fn finish_after_exit() {
    differential(
        |sc| {
            sc.service(SVC, &gated_run("exit 3"));
            sc.file("svc/down", "", 0o644);
            sc.script(
                "svc/finish",
                "#!/bin/sh\necho \"$@\" >> ../finish.args\n\
                 while [ ! -e ../release ]; do sleep 0.02; done\n",
            );
        },
        |r| {
            r.start();
            r.snap("started");
            r.sv(&["once", SVC]);
            wait_running(&r.dir(SVC));
            r.snap("run (once)");
            r.sc.file("go", "", 0o644);
            // runsv first writes state finish with pid 0, then finish's pid.
            r.wait(SVC, "finish", |s| {
                s.state == State::Finish && s.pid.is_some()
            });
            r.wait_file("finish.args", "3 0\n");
            r.snap("in finish");
            r.sc.file("release", "", 0o644);
            r.wait_down(SVC);
            r.snap("after finish");
            r.file("finish.args");
        },
    );
}

#[test]
fn finish_after_signal() {
    differential(
        |sc| {
            sc.service(SVC, &gated_run("kill -9 $$"));
            sc.file("svc/down", "", 0o644);
            sc.script("svc/finish", "#!/bin/sh\necho \"$@\" >> ../finish.args\n");
        },
        |r| {
            r.start();
            r.sv(&["once", SVC]);
            let p1 = wait_running(&r.dir(SVC));
            r.sc.file("go", "", 0o644);
            r.wait_file("finish.args", "-1 9\n");
            r.wait_down(SVC);
            r.snap("after kill -9");
            r.sc.script("svc/run", RUN_SLEEP);
            r.sv(&["once", SVC]);
            r.wait_new_run(SVC, p1);
            r.snap("run again (once)");
            r.sv(&["term", SVC]);
            r.wait_file("finish.args", "-1 9\n-1 15\n");
            r.wait_down(SVC);
            r.snap("after sv term");
        },
    );
}

#[test]
fn pause_and_cont() {
    differential(
        |sc| {
            sc.service(SVC, RUN_SLEEP);
        },
        |r| {
            r.start();
            let p = wait_running(&r.dir(SVC));
            r.snap("running");
            r.sv(&["-v", "pause", SVC]);
            wait_for("run stopped (state T)", DEADLINE, || {
                proc_state(p) == Some('T')
            });
            r.note("process state T");
            r.snap("paused");
            r.sv(&["-v", "cont", SVC]);
            wait_for(
                "run continued",
                DEADLINE,
                || matches!(proc_state(p), Some(c) if c != 'T'),
            );
            r.note("process state not T");
            r.snap("continued");
            r.sv(&["-v", "down", SVC]);
            r.wait_down(SVC);
            r.sv(&["-v", "pause", SVC]);
            // runsv may still be in its 1 s sleep: wait for the flag.
            r.wait(SVC, "paused while down", |s| s.paused);
            r.snap("paused while down");
            r.sv(&["-v", "up", SVC]);
            r.wait_new_run(SVC, p);
            r.snap("up again (start clears paused)");
        },
    );
}

/// A run that ignores TERM, and so does the `sleep` it execs; it touches `ready` once its trap is
/// set. Status `run` is written right after the fork: a TERM passed on before the trap is set
/// kills the shell, so the scenarios wait for `ready` first (runsv and supervise alike).
const TERM_IGNORING_RUN: &str = "#!/bin/sh\ntrap '' TERM\ntouch ../ready\nexec sleep 1000\n";

#[track_caller]
fn wait_trap(r: &Run<'_>) {
    let ready = r.dir("ready");
    wait_for("run's trap", DEADLINE, || ready.exists());
}

#[test]
fn term_ignoring_service() {
    differential(
        |sc| {
            // An ignored signal stays ignored across exec: sleep ignores TERM. `ready` says the
            // trap is set: a TERM passed on before that would kill `run`.
            sc.service(SVC, TERM_IGNORING_RUN);
        },
        |r| {
            r.start();
            let p = wait_running(&r.dir(SVC));
            wait_trap(r);
            r.snap("running");
            r.sv(&["down", SVC]);
            r.wait(SVC, "TERM flag", |s| s.term);
            r.snap("after sv down");
            r.note(format!("still alive: {}", pid_alive(p)));
            r.sv(&["-w", "1", "down", SVC]);
            r.sv(&["-w", "1", "force-stop", SVC]);
            wait_for("run killed", DEADLINE, || !pid_alive(p));
            r.wait_down(SVC);
            r.snap("after force-stop");
        },
    );
}

#[test]
fn log_service() {
    differential(
        |sc| {
            sc.service(SVC, "#!/bin/sh\necho start\nexec sleep 1000\n");
            sc.script("svc/log/run", "#!/bin/sh\nexec cat >> ../../out\n");
            // finish and control scripts write to the log pipe too.
            sc.script("svc/finish", "#!/bin/sh\necho finish \"$@\"\n");
            sc.script("svc/control/h", "#!/bin/sh\necho control/h\nexit 0\n");
        },
        |r| {
            r.start();
            let main = wait_running(&r.dir(SVC));
            let log = wait_running(&r.dir(LOG));
            r.wait_file("out", "start\n");
            r.observe_proc("run", main, &["sleep", "1000"]);
            r.observe_proc("log/run", log, &["cat"]);
            r.snap("running with log");
            r.sv(&["status", LOG]);
            // `x` on the log's control is ignored.
            r.sv(&["exit", LOG]);
            std::thread::sleep(QUIET);
            r.note(format!(
                "log still runs: {}",
                status(&r.dir(LOG)).and_then(|s| s.pid).map(|p| p.get()) == Some(log)
            ));
            r.sv(&["hup", SVC]);
            r.wait_file("out", "start\ncontrol/h\n");
            // Not -v: in finish, sv's first check may pass if run started in sv's second.
            r.sv(&["term", SVC]);
            r.wait_new_run(SVC, main);
            r.wait_file("out", "start\ncontrol/h\nfinish -1 15\nstart\n");
            r.note(format!(
                "log pid unchanged: {}",
                status(&r.dir(LOG)).and_then(|s| s.pid).map(|p| p.get()) == Some(log)
            ));
            r.snap("main restarted");
            r.sv(&["-v", "kill", LOG]);
            let log2 = r.wait_new_run(LOG, log);
            let main2 = wait_running(&r.dir(SVC));
            r.sv(&["term", SVC]);
            r.wait_new_run(SVC, main2);
            r.wait_file(
                "out",
                "start\ncontrol/h\nfinish -1 15\nstart\nfinish -1 15\nstart\n",
            );
            r.note(format!(
                "new log pid unchanged: {}",
                status(&r.dir(LOG)).and_then(|s| s.pid).map(|p| p.get()) == Some(log2)
            ));
            r.snap("log restarted, then main");
        },
    );
}

#[test]
fn exit_with_log() {
    differential(
        |sc| {
            sc.service(SVC, "#!/bin/sh\necho hello\nexec sleep 1000\n");
            sc.script("svc/log/run", "#!/bin/sh\nexec cat >> ../../out\n");
        },
        |r| {
            r.start();
            let main = wait_running(&r.dir(SVC));
            let log = wait_running(&r.dir(LOG));
            r.wait_file("out", "hello\n");
            r.snap("running with log");
            r.sv(&["-w", "5", "exit", SVC]);
            r.supervisor_exit();
            r.note(format!(
                "service gone: {}, logger gone: {}",
                !pid_alive(main),
                !pid_alive(log)
            ));
            r.file("out");
            r.snap("after exit");
        },
    );
}

#[test]
fn custom_control_scripts() {
    differential(
        |sc| {
            sc.service(
                SVC,
                "#!/bin/sh\necho start >> ../run.log\n\
                 trap 'echo hup >> ../run.log' HUP\n\
                 trap 'echo term >> ../run.log; exit 0' TERM\n\
                 while :; do sleep 0.05; done\n",
            );
            // control/u shares run.log with run: it runs before every start, in order.
            sc.script("svc/control/u", "#!/bin/sh\necho control/u >> ../run.log\n");
            sc.script(
                "svc/control/h",
                "#!/bin/sh\necho control/h >> ../control.log\nexit 0\n",
            );
            sc.script(
                "svc/control/t",
                "#!/bin/sh\necho control/t >> ../control.log\nexit 1\n",
            );
            sc.script(
                "svc/control/d",
                "#!/bin/sh\necho control/d >> ../control.log\n",
            );
            sc.script(
                "svc/control/x",
                "#!/bin/sh\necho control/x >> ../control.log\n",
            );
        },
        |r| {
            r.start();
            let p1 = wait_running(&r.dir(SVC));
            r.wait_file("run.log", "control/u\nstart\n");
            r.snap("started");
            r.sv(&["hup", SVC]);
            r.wait_file("control.log", "control/h\n");
            // control/h exited 0: no HUP may reach run.
            std::thread::sleep(QUIET);
            r.file("run.log");
            r.sv(&["term", SVC]);
            r.wait_file("control.log", "control/h\ncontrol/t\n");
            r.wait_file("run.log", "control/u\nstart\nterm\ncontrol/u\nstart\n");
            let p2 = r.wait_new_run(SVC, p1);
            r.snap("restarted after term");
            r.sv(&["down", SVC]);
            r.wait_down(SVC);
            r.wait_file(
                "control.log",
                "control/h\ncontrol/t\ncontrol/t\ncontrol/d\n",
            );
            r.snap("down");
            r.sv(&["once", SVC]);
            r.wait_new_run(SVC, p2);
            r.wait_file(
                "run.log",
                "control/u\nstart\nterm\ncontrol/u\nstart\nterm\ncontrol/u\nstart\n",
            );
            r.snap("once");
            r.sv(&["-w", "5", "exit", SVC]);
            r.supervisor_exit();
            r.file("control.log");
            r.file("run.log");
            r.snap("after exit");
        },
    );
}

#[test]
fn supervise_symlink() {
    differential(
        |sc| {
            sc.service(SVC, RUN_SLEEP);
            fs::create_dir(sc.join("target")).expect("mkdir target");
            std::os::unix::fs::symlink("../target/S", sc.join("svc/supervise")).expect("symlink");
        },
        |r| {
            r.start();
            wait_running(&r.dir(SVC));
            let link = fs::symlink_metadata(r.dir("svc/supervise")).expect("lstat");
            r.note(format!(
                "svc/supervise is a symlink: {}, target/S: {}",
                link.file_type().is_symlink(),
                mode_type(&r.dir("target/S"))
            ));
            r.snap("running through the symlink");
        },
    );
}

#[test]
fn lock_already_held() {
    differential(
        |sc| {
            sc.service(SVC, RUN_SLEEP);
        },
        |r| {
            r.start();
            let p = wait_running(&r.dir(SVC));
            r.start_fails(SVC);
            let alive = r.sup.as_mut().is_some_and(Proc::alive);
            let same = wait_running(&r.dir(SVC)) == p;
            r.note(format!("first supervisor alive: {alive}, same run: {same}"));
            r.snap("after the second supervisor");
        },
    );
}

#[test]
fn control_not_a_fifo() {
    differential(
        |sc| {
            sc.service(SVC, RUN_SLEEP);
            fs::create_dir(sc.join("svc/supervise")).expect("mkdir supervise");
            fs::set_permissions(sc.join("svc/supervise"), fs::Permissions::from_mode(0o755))
                .expect("chmod");
            sc.file("svc/supervise/control", "", 0o644);
        },
        |r| {
            r.start_fails(SVC);
            let sup = r.dir("svc/supervise");
            r.note(format!("files svc/supervise: {}", listing(&sup)));
        },
    );
}

#[test]
fn missing_directory() {
    differential(
        |_| {},
        |r| {
            r.start_fails("nonexist");
        },
    );
}

#[test]
fn unknown_control_bytes() {
    differential(
        |sc| {
            sc.service(SVC, RUN_SLEEP);
        },
        |r| {
            r.start();
            let p = wait_running(&r.dir(SVC));
            r.snap("running");
            r.control(SVC, b"zZ\n?!");
            std::thread::sleep(QUIET);
            r.snap("after zZ\\n?!");
            // A known letter after them proves they were read (and ignored).
            r.sv(&["-v", "pause", SVC]);
            r.sv(&["-v", "cont", SVC]);
            r.note(format!("same run: {}", wait_running(&r.dir(SVC)) == p));
            r.snap("after pause and cont");
        },
    );
}

#[test]
fn log_not_a_directory() {
    differential(
        |sc| {
            sc.service(SVC, "#!/bin/sh\necho to-stdout\nexec sleep 1000\n");
            sc.file("svc/log", "", 0o644);
        },
        |r| {
            r.start();
            let p = wait_running(&r.dir(SVC));
            r.wait_file("sup.out", "to-stdout\n");
            r.observe_proc("run", p, &["sleep", "1000"]);
            r.snap("running without a log");
        },
    );
}

#[test]
fn run_not_executable() {
    differential(
        |sc| {
            sc.file("svc/run", "#!/bin/sh\nexec sleep 1000\n", 0o644);
            sc.file("svc/down", "", 0o644);
            sc.script("svc/finish", "#!/bin/sh\necho \"$@\" >> ../finish.args\n");
        },
        |r| {
            r.start();
            r.sv(&["once", SVC]);
            r.wait_file("finish.args", "111 0\n");
            r.wait(SVC, "down, want down", |s| {
                s.state == State::Down && s.pid.is_none() && s.want == Want::Down
            });
            r.snap("after the failed exec");
        },
    );
}

#[test]
fn finish_not_executable() {
    differential(
        |sc| {
            sc.service(SVC, "#!/bin/sh\necho ran >> ../run.log\nexit 0\n");
            sc.file("svc/down", "", 0o644);
            sc.file(
                "svc/finish",
                "#!/bin/sh\necho finished >> ../run.log\n",
                0o644,
            );
        },
        |r| {
            r.start();
            r.sv(&["once", SVC]);
            r.wait_file("run.log", "ran\n");
            // run may write before the supervisor publishes "run": wait for finish's failure.
            let err = r.sc.join("sup.err");
            wait_for("finish's exec failure on stderr", DEADLINE, || {
                fs::read_to_string(&err).is_ok_and(|e| e.contains("./finish"))
            });
            r.wait(SVC, "down, want down", |s| {
                s.state == State::Down && s.pid.is_none() && s.want == Want::Down
            });
            r.file("run.log");
            r.snap("after run and the failed finish");
        },
    );
}

#[test]
fn sigterm_to_supervisor() {
    differential(
        |sc| {
            sc.service(SVC, TERM_IGNORING_RUN);
        },
        |r| {
            r.start();
            let p = wait_running(&r.dir(SVC));
            wait_trap(r);
            r.sup.as_ref().expect("supervisor").signal(libc::SIGTERM);
            r.wait(SVC, "TERM flag", |s| s.term);
            std::thread::sleep(QUIET);
            let alive = r.sup.as_mut().is_some_and(Proc::alive);
            r.note(format!(
                "supervisor alive: {alive}, run alive: {}",
                pid_alive(p)
            ));
            r.snap("TERM ignored, supervisor waits");
            r.sv(&["-w", "1", "force-shutdown", SVC]);
            r.supervisor_exit();
            wait_for("run killed", DEADLINE, || !pid_alive(p));
            // The status files left behind are compared in `force_shutdown_final_status`.
            r.clients("after force-shutdown");
        },
    );
}

/// `sv force-shutdown` of a TERM-ignoring service: `x`, then `k` after the wait. What do the
/// status files say once the supervisor has exited?
#[test]
fn force_shutdown_final_status() {
    differential(
        |sc| {
            sc.service(SVC, TERM_IGNORING_RUN);
        },
        |r| {
            r.start();
            let p = wait_running(&r.dir(SVC));
            wait_trap(r);
            r.sv(&["-w", "1", "force-shutdown", SVC]);
            r.supervisor_exit();
            wait_for("run killed", DEADLINE, || !pid_alive(p));
            // A deliberate difference (docs/supervise.md, Notes): runsv exits on `k` before it
            // reaps the killed child and leaves a stale "running" status behind; supervise
            // reaps it first and leaves the true state. Each side is held to its exact bytes.
            let svc = r.dir(SVC);
            let stat = fs::read_to_string(svc.join("supervise/stat")).expect("stat");
            let pid = fs::read_to_string(svc.join("supervise/pid")).expect("pid");
            let st = status(&svc).expect("status");
            match r.flavor {
                Flavor::Runit => {
                    assert_eq!(stat, "run, got TERM, want exit\n");
                    assert_eq!(pid, format!("{p}\n"));
                    assert_eq!(
                        (st.pid.map(|x| x.get()), st.term, st.state),
                        (Some(p), true, State::Run)
                    );
                }
                Flavor::Herd => {
                    assert_eq!(stat, "down\n");
                    assert_eq!(pid, "");
                    assert_eq!((st.pid, st.term, st.state), (None, false, State::Down));
                }
            }
            r.note("final status files as documented for this flavor");
        },
    );
}
