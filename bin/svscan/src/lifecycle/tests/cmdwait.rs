//! The main command waiting for the services (`SVSCAN_CMD_WAIT`): when it starts, what a
//! change or a rescan asks for, the maximum, and a stop while it waits.

use super::*;

fn waiting(wait: CmdWait) -> Plan {
    Plan {
        main: true,
        wait,
        ..plan()
    }
}

fn not_ready(n: &[&str]) -> Event {
    Event::Readiness {
        not_ready: names(n),
        watched: true,
    }
}

/// Started with services a (100) and b (101); the main command waits.
fn started(wait: CmdWait) -> T {
    let mut t = T::new(waiting(wait));
    t.on(Event::Begin);
    let scanned = Event::Scanned {
        entries: vec![entry("a", 1), entry("b", 2)],
        retry: false,
    };
    assert_eq!(
        t.on(scanned),
        [
            supervise("a", 1),
            supervise("b", 2),
            Effect::AwaitReady(names(&["a", "b"]))
        ]
    );
    for (n, p) in [(1, 100), (2, 101)] {
        let started = Event::SuperviseStarted {
            id: (1, n),
            pid: Some(pid(p)),
        };
        assert_eq!(t.on(started), []);
    }
    assert_eq!(t.on(not_ready(&["a", "b"])), []);
    t
}

#[test]
fn the_main_command_starts_when_the_last_service_is_ready() {
    let mut t = started(CmdWait::Upto(Duration::from_millis(2000)));
    assert_eq!(t.deadline_ms(), Some(2000));
    assert_eq!(t.at(300, not_ready(&["b"])), []);
    assert_eq!(
        t.at(1000, not_ready(&[])),
        [Effect::SpawnMain, Effect::EndAwait]
    );
    assert_eq!(t.deadline_ms(), None);
    // Once it runs, readiness is no concern.
    assert_eq!(t.at(1500, not_ready(&["a"])), []);
    assert_eq!(
        t.at(1500, Event::MainStarted(Ok(pid(50)))),
        [say(Progress::RunningMain)]
    );
    assert_eq!(t.at(2500, Event::Tick), []);
}

#[test]
fn services_not_ready_at_the_maximum_stop_everything_with_99() {
    let mut t = started(CmdWait::Upto(Duration::from_millis(2000)));
    t.at(300, not_ready(&["b"]));
    assert_eq!(t.at(1999, Event::Tick), []);
    assert_eq!(
        t.at(2000, Event::Tick),
        and_told(&[
            Effect::Report(Report::NotReady {
                names: names(&["b"]),
                after: Duration::from_millis(2000)
            }),
            Effect::EndAwait,
            say(Progress::ShuttingDown),
            Effect::Unwatch,
        ])
    );
    t.at(2000, Event::Orphans(vec![]));
    assert_eq!(t.supervisors_exit(2005), leftovers());
    assert_eq!(
        t.at(2005, Event::NoChildren),
        [Effect::Exit(EXIT_NOT_READY)]
    );
}

#[test]
fn without_a_maximum_it_waits_for_ever_and_a_service_added_meanwhile_is_waited_for() {
    let mut t = started(CmdWait::Forever);
    assert_eq!(t.deadline_ms(), None);
    let scanned = Event::Scanned {
        entries: vec![entry("a", 1), entry("b", 2), entry("c", 3)],
        retry: false,
    };
    assert_eq!(
        t.at(100, scanned),
        [
            supervise("c", 3),
            Effect::AwaitReady(names(&["a", "b", "c"]))
        ]
    );
    assert_eq!(t.at(100, not_ready(&["a", "b", "c"])), []);
    // One that leaves is no longer waited for.
    let scanned = Event::Scanned {
        entries: vec![entry("a", 1), entry("c", 3)],
        retry: false,
    };
    assert_eq!(
        t.at(200, scanned),
        [sig(101, Sig::Term), Effect::AwaitReady(names(&["a", "c"]))]
    );
    assert_eq!(
        t.at(200, not_ready(&[])),
        [Effect::SpawnMain, Effect::EndAwait]
    );
}

#[test]
fn a_sigterm_while_it_waits_ends_the_wait_and_stops_with_0() {
    let mut t = started(CmdWait::Forever);
    assert_eq!(
        t.at(100, Event::Signal(Sig::Term)),
        and_told(&[
            Effect::EndAwait,
            say(Progress::ShuttingDown),
            Effect::Unwatch
        ])
    );
    assert_eq!(t.at(100, not_ready(&[])), [], "no main command in a stop");
    t.at(100, Event::Orphans(vec![]));
    t.supervisors_exit(110);
    assert_eq!(t.at(110, Event::NoChildren), [Effect::Exit(EXIT_CLEAN)]);
}

#[test]
fn unwatched_readiness_is_asked_for_again() {
    let mut t = started(CmdWait::Upto(Duration::from_millis(2000)));
    let unwatched = Event::Readiness {
        not_ready: names(&["a"]),
        watched: false,
    };
    assert_eq!(t.at(10, unwatched), []);
    assert_eq!(t.deadline_ms(), Some(110));
    assert_eq!(
        t.at(110, Event::Tick),
        [Effect::AwaitReady(names(&["a", "b"]))]
    );
    assert_eq!(t.deadline_ms(), Some(2000));
}

#[test]
fn without_a_scan_dir_nothing_is_waited_for() {
    let mut t = T::new(Plan {
        scan: false,
        ..waiting(CmdWait::Forever)
    });
    assert_eq!(t.on(Event::Begin), [Effect::AwaitReady(vec![])]);
    assert_eq!(t.on(not_ready(&[])), [Effect::SpawnMain, Effect::EndAwait]);
}

#[test]
fn off_the_main_command_starts_after_the_first_scan() {
    let mut t = T::new(waiting(CmdWait::Off));
    t.on(Event::Begin);
    let scanned = Event::Scanned {
        entries: vec![entry("a", 1)],
        retry: false,
    };
    assert_eq!(t.on(scanned), [supervise("a", 1), Effect::SpawnMain]);
}
