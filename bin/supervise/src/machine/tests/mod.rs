use super::*;
use std::num::NonZeroU32;

#[derive(Debug, PartialEq, Eq, Clone)]
enum Fx {
    Spawn(Which, Prog, u32),
    /// A spawn whose fork failed.
    ForkFailed(Which, Prog),
    /// A status write that failed.
    PublishFailed(Which, String),
    /// `removed` answered `true`.
    Removed,
    Signal(u32, Signal),
    Custom(Control),
    Publish(Which, String),
    ClosePipe,
    /// `stopped_for_good`, with the code the shell reports.
    Stopped(i32),
    /// `supervise/ready` written with this line (without its newline), or removed (`None`).
    Ready(Option<String>),
    /// A write of `supervise/ready` that failed.
    ReadyFailed(Option<String>),
    CloseNotification,
    /// `./check` started as this pid.
    Check(u32),
    /// `./check` could not be started.
    CheckFailed,
    KillCheck(u32),
    /// `say_waiting`: the name, and whether it exists.
    Waiting(String, bool),
    EndWait,
    /// `./health` started as this pid.
    Health(u32),
    /// `./health` could not be started.
    HealthFailed,
    KillHealth(u32),
    /// `supervise/health` written with this line (without its newline), or removed (`None`).
    HealthFile(Option<String>),
    /// `supervise/runs` written with this line (without its newline).
    Runs(String),
    /// `timeout-kill`: SIGKILL to the pid (its group with `true`).
    KillRun(u32, bool),
    /// `timeout-finish`: SIGKILL to finish.
    KillFinish(u32),
}

#[derive(Default)]
struct Rec {
    log: Vec<Fx>,
    next_pid: u32,
    finish: bool,
    handled: Vec<Control>,
    scripts: bool,
    /// Forks fail.
    no_fork: bool,
    /// Status writes fail.
    no_write: bool,
    /// The service directory is gone.
    gone: bool,
    /// What `readiness_source` finds.
    source: Source,
    /// Writes of `supervise/ready` fail.
    no_ready_write: bool,
    /// `./check` cannot be started.
    no_check: bool,
    /// What `unmet_dependency` answers.
    unmet: Option<Unmet>,
    /// What `health_config` answers.
    health: Option<HealthConfig>,
    /// `./health` cannot be started.
    no_health: bool,
    /// What `policy` answers.
    policy: Policy,
    /// Record writes of `supervise/runs` (off by default: runsv's tests do not see them).
    runs: bool,
}

impl Effects for Rec {
    fn spawn(&mut self, which: Which, prog: Prog) -> Option<Pid> {
        if self.no_fork {
            self.log.push(Fx::ForkFailed(which, prog));
            return None;
        }
        self.next_pid += 1;
        self.log.push(Fx::Spawn(which, prog, self.next_pid + 99));
        NonZeroU32::new(self.next_pid + 99)
    }
    fn signal(&mut self, pid: Pid, sig: Signal) {
        self.log.push(Fx::Signal(pid.get(), sig));
    }
    fn custom(&mut self, c: Control) -> bool {
        if self.scripts {
            self.log.push(Fx::Custom(c));
        }
        self.handled.contains(&c)
    }
    fn has_finish(&mut self) -> bool {
        self.finish
    }
    fn publish(&mut self, which: Which, status: &Status) -> bool {
        let s = String::from_utf8_lossy(status.stat_text().as_bytes())
            .trim_end()
            .to_string();
        if self.no_write {
            self.log.push(Fx::PublishFailed(which, s));
            return false;
        }
        self.log.push(Fx::Publish(which, s));
        true
    }
    fn removed(&mut self) -> bool {
        if self.gone {
            self.log.push(Fx::Removed);
        }
        self.gone
    }
    fn close_log_pipe(&mut self) {
        self.log.push(Fx::ClosePipe);
    }
    fn stopped_for_good(&mut self, exit: Exit) {
        self.log.push(Fx::Stopped(exit.shell_code()));
    }
    fn readiness_source(&mut self) -> Source {
        self.source
    }
    fn publish_ready(&mut self, ready: Option<&Readiness>) -> bool {
        let line = ready.map(|r| String::from_utf8_lossy(r.encode().trim_ascii_end()).into_owned());
        if self.no_ready_write {
            self.log.push(Fx::ReadyFailed(line));
            return false;
        }
        self.log.push(Fx::Ready(line));
        true
    }
    fn close_notification(&mut self) {
        self.log.push(Fx::CloseNotification);
    }
    fn spawn_check(&mut self) -> Option<Pid> {
        if self.no_check {
            self.log.push(Fx::CheckFailed);
            return None;
        }
        self.next_pid += 1;
        self.log.push(Fx::Check(self.next_pid + 99));
        NonZeroU32::new(self.next_pid + 99)
    }
    fn kill_check(&mut self, pid: Pid) {
        self.log.push(Fx::KillCheck(pid.get()));
    }
    fn unmet_dependency(&mut self) -> Option<Unmet> {
        self.unmet.clone()
    }
    fn say_waiting(&mut self, unmet: &Unmet) {
        let name = String::from_utf8_lossy(&unmet.name).into_owned();
        self.log.push(Fx::Waiting(name, unmet.exists));
    }
    fn end_wait(&mut self) {
        self.log.push(Fx::EndWait);
    }
    fn health_config(&mut self) -> Option<HealthConfig> {
        self.health
    }
    fn spawn_health(&mut self) -> Option<Pid> {
        if self.no_health {
            self.log.push(Fx::HealthFailed);
            return None;
        }
        self.next_pid += 1;
        self.log.push(Fx::Health(self.next_pid + 99));
        NonZeroU32::new(self.next_pid + 99)
    }
    fn kill_health(&mut self, pid: Pid) {
        self.log.push(Fx::KillHealth(pid.get()));
    }
    fn publish_health(&mut self, health: Option<&herd_status::Health>) -> bool {
        let line =
            health.map(|h| String::from_utf8_lossy(h.encode().trim_ascii_end()).into_owned());
        self.log.push(Fx::HealthFile(line));
        true
    }
    fn policy(&mut self) -> Policy {
        self.policy
    }
    fn publish_runs(&mut self, runs: &Runs) -> bool {
        if self.runs {
            let line = String::from_utf8_lossy(runs.encode().trim_ascii_end()).into_owned();
            self.log.push(Fx::Runs(line));
        }
        !self.no_write
    }
    fn kill_run(&mut self, pid: Pid, group: bool) {
        self.log.push(Fx::KillRun(pid.get(), group));
    }
    fn kill_finish(&mut self, pid: Pid) {
        self.log.push(Fx::KillFinish(pid.get()));
    }
}

/// A dependency `name` not ready (`exists`, watched).
fn unmet(name: &str, exists: bool) -> Option<Unmet> {
    Some(Unmet {
        name: name.as_bytes().to_vec(),
        exists,
        watched: true,
    })
}

/// `Fx::Ready` of a line (`None`: the file removed).
fn ready_fx(line: Option<&str>) -> Fx {
    Fx::Ready(line.map(String::from))
}

/// The `ready PID @…` line of `pid` ready since `at`.
fn ready_line(pid_: u32, at: Tai64n) -> String {
    let r = Readiness::Ready {
        pid: pid(pid_),
        since: at,
    };
    String::from_utf8_lossy(r.encode().trim_ascii_end()).into_owned()
}

fn pid(n: u32) -> Pid {
    NonZeroU32::new(n).expect("nonzero")
}

fn wall() -> Tai64n {
    Tai64n::from_unix(1_800_000_000, 500)
}

fn started(log: Option<bool>) -> (Machine, Rec, Instant) {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, log);
    let mut fx = Rec::default();
    m.tick(t0, wall(), &mut fx);
    fx.log.clear();
    (m, fx, t0)
}

const SIGTERM_EXIT: Exit = Exit::Signal {
    signo: 15,
    core: false,
};

mod check;
mod dependencies;
mod essential;
mod faults;
mod health;
mod policy;
mod readiness;
mod runsv;
