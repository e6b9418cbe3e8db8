//! The lifecycle driven without processes: each step feeds one event at a chosen time and
//! asserts the exact list of effects. The bound is 8 s: the main command and the pre-shutdown
//! scripts get until 4 s, the services until 6 s, everything until 8 s. One module per phase;
//! the harness is here.

mod cmdwait;
mod main_command;
mod order;
mod running;
mod startup;
mod stop;

use super::*;
use crate::table::Entry;
use std::ffi::OsString;

const BOUND: Duration = Duration::from_secs(8);

fn pid(n: u32) -> Pid {
    Pid::new(n).expect("nonzero")
}

fn plan() -> Plan {
    Plan {
        env: false,
        startup: false,
        scan: true,
        main: false,
        pre_shutdown: false,
        post_shutdown: false,
        kill_all: true,
        stop: StopBound::Total(BOUND),
        wait: CmdWait::Off,
    }
}

fn entry(name: &str, n: u64) -> Entry {
    Entry {
        name: name.into(),
        id: (1, n),
        ready: true,
    }
}

fn supervise(name: &str, n: u64) -> Effect {
    Effect::StartSupervise {
        id: (1, n),
        name: name.into(),
    }
}

fn say(p: Progress) -> Effect {
    Effect::Report(Report::Progress(p))
}

fn sig(n: u32, s: Sig) -> Effect {
    Effect::Signal(pid(n), s)
}

fn code(c: u8) -> Exit {
    Exit::Code(c)
}

fn killed(signo: i32) -> Exit {
    Exit::Signal { signo, core: false }
}

fn paths(p: &[&str]) -> VecDeque<PathBuf> {
    p.iter().map(PathBuf::from).collect()
}

/// What the stop does when it comes to the supervisors of `T::running`: SIGTERM to each, after
/// reading the orphans there are and the services' dependencies (none).
fn supervisors_told() -> Vec<Effect> {
    vec![
        say(Progress::StoppingServices),
        Effect::FindOrphans,
        Effect::ReadDependencies(names(&["a", "b"])),
        sig(100, Sig::Term),
        sig(101, Sig::Term),
    ]
}

fn names(n: &[&str]) -> Vec<OsString> {
    n.iter().map(OsString::from).collect()
}

/// `first`, then [`supervisors_told`].
fn and_told(first: &[Effect]) -> Vec<Effect> {
    let mut v = first.to_vec();
    v.extend(supervisors_told());
    v
}

/// The effects that follow the supervisors' end with the default plan: nothing to run after
/// them, SIGTERM to what is left, and a reap to see whether anything is.
fn leftovers() -> Vec<Effect> {
    vec![
        say(Progress::KillingAll),
        Effect::SignalLeftovers(Sig::Term),
        Effect::SignalLeftovers(Sig::Cont),
        Effect::Reap,
    ]
}

struct T {
    lc: Lifecycle,
    t0: Instant,
    /// The answer to each [`Effect::ReadDependencies`].
    deps: Vec<(OsString, Vec<OsString>)>,
}

impl T {
    fn new(plan: Plan) -> Self {
        T {
            lc: Lifecycle::new(plan),
            t0: Instant::now(),
            deps: Vec::new(),
        }
    }

    /// Feeds `ev` at `ms` milliseconds after the start; returns the effects. As the shell does,
    /// [`Effect::ReadDependencies`] is answered (with `self.deps`) before the next effect, and
    /// the effects of the answer follow it.
    fn at(&mut self, ms: u64, ev: Event) -> Vec<Effect> {
        let now = self.t0 + Duration::from_millis(ms);
        let mut fx = Vec::new();
        self.lc.handle(ev, now, &mut fx);
        let mut i = 0;
        while i < fx.len() {
            if matches!(fx[i], Effect::ReadDependencies(_)) {
                let mut more = Vec::new();
                self.lc
                    .handle(Event::Dependencies(self.deps.clone()), now, &mut more);
                fx.splice(i + 1..i + 1, more);
            }
            i += 1;
        }
        fx
    }

    fn on(&mut self, ev: Event) -> Vec<Effect> {
        self.at(0, ev)
    }

    fn deadline_ms(&self) -> Option<u128> {
        self.lc
            .next_deadline()
            .map(|d| d.duration_since(self.t0).as_millis())
    }

    /// Started, with services `a` (supervise pid 100) and `b` (101), and the main command as
    /// pid 50 when the plan has one.
    fn running(plan: Plan) -> Self {
        let mut t = T::new(plan);
        assert_eq!(
            t.on(Event::Begin),
            [
                say(Progress::StartingServices),
                Effect::Watch,
                Effect::Rescan
            ]
        );
        let mut want = vec![supervise("a", 1), supervise("b", 2)];
        if plan.main {
            want.push(Effect::SpawnMain);
        }
        let scanned = Event::Scanned {
            entries: vec![entry("a", 1), entry("b", 2)],
            retry: false,
        };
        assert_eq!(t.on(scanned), want);
        for (n, p) in [(1, 100), (2, 101)] {
            let started = Event::SuperviseStarted {
                id: (1, n),
                pid: Some(pid(p)),
            };
            assert_eq!(t.on(started), []);
        }
        if plan.main {
            assert_eq!(
                t.on(Event::MainStarted(Ok(pid(50)))),
                [say(Progress::RunningMain)]
            );
        }
        t
    }

    /// Started without a main command, with the services `names` (ids 1, 2, …; supervise pids
    /// 100, 101, …).
    fn with_services(plan: Plan, names: &[&str]) -> Self {
        let mut t = T::new(plan);
        t.on(Event::Begin);
        let entries = (1..).zip(names).map(|(i, n)| entry(n, i)).collect();
        let starts: Vec<Effect> = (1..).zip(names).map(|(i, n)| supervise(n, i)).collect();
        assert_eq!(
            t.on(Event::Scanned {
                entries,
                retry: false
            }),
            starts
        );
        for (i, p) in (1..).zip(100..).take(names.len()) {
            let started = Event::SuperviseStarted {
                id: (1, i),
                pid: Some(pid(p)),
            };
            assert_eq!(t.on(started), []);
        }
        t
    }

    /// Stops a running `T` (no main command) with SIGTERM at `ms`, up to the supervisors' stage.
    fn stopped_at(plan: Plan, ms: u64) -> Self {
        let mut t = T::running(plan);
        assert_eq!(
            t.at(ms, Event::Signal(Sig::Term)),
            and_told(&[say(Progress::ShuttingDown), Effect::Unwatch])
        );
        assert_eq!(t.at(ms, Event::Orphans(vec![pid(100), pid(101)])), []);
        t
    }

    /// Both supervisors exit at `ms`; returns the effects.
    fn supervisors_exit(&mut self, ms: u64) -> Vec<Effect> {
        let mut fx = self.at(ms, Event::Reaped(pid(100), code(0)));
        fx.extend(self.at(ms, Event::Reaped(pid(101), code(0))));
        fx
    }
}

#[test]
fn the_exit_code_rules_in_order() {
    let mut lc = Lifecycle::new(plan());
    assert_eq!(lc.exit_code(), EXIT_CLEAN);
    lc.hangup = true;
    assert_eq!(lc.exit_code(), EXIT_HANGUP);
    lc.forced = true;
    assert_eq!(lc.exit_code(), EXIT_FORCED);
    lc.decide(3);
    assert_eq!(lc.exit_code(), 3);
    lc.decide(7);
    assert_eq!(lc.exit_code(), 3, "the first decisive status stands");
}
