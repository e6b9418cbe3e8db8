//! The main command: when it starts, what is passed on to it, and its code.

use super::*;

#[test]
fn the_main_command_starts_after_the_first_scan() {
    let t = T::running(Plan {
        main: true,
        ..plan()
    });
    assert_eq!(t.deadline_ms(), None);
}

#[test]
fn the_main_command_starts_even_when_the_scan_dir_cannot_be_read() {
    let mut t = T::new(Plan {
        main: true,
        ..plan()
    });
    t.on(Event::Begin);
    assert_eq!(t.on(Event::ScanFailed), [Effect::SpawnMain]);
    assert_eq!(t.deadline_ms(), Some(5000));
    assert_eq!(t.at(5000, Event::Tick), [Effect::Rescan]);
    assert_eq!(t.deadline_ms(), None);
}

#[test]
fn without_a_scan_dir_the_main_command_starts_at_once() {
    let mut t = T::new(Plan {
        main: true,
        scan: false,
        ..plan()
    });
    assert_eq!(t.on(Event::Begin), [Effect::SpawnMain]);
    assert_eq!(
        t.on(Event::MainStarted(Ok(pid(50)))),
        [say(Progress::RunningMain)]
    );
    // SIGALRM rescans nothing.
    assert_eq!(t.on(Event::Signal(Sig::Alrm)), []);
}

#[test]
fn a_main_command_not_found_stops_everything_with_127() {
    let mut t = T::new(Plan {
        main: true,
        ..plan()
    });
    t.on(Event::Begin);
    let scanned = Event::Scanned {
        entries: vec![entry("a", 1)],
        retry: false,
    };
    assert_eq!(t.on(scanned), [supervise("a", 1), Effect::SpawnMain]);
    t.on(Event::SuperviseStarted {
        id: (1, 1),
        pid: Some(pid(100)),
    });
    assert_eq!(
        t.on(Event::MainStarted(Err(EXIT_NOT_FOUND))),
        [
            say(Progress::ShuttingDown),
            Effect::Unwatch,
            say(Progress::StoppingServices),
            Effect::FindOrphans,
            Effect::ReadDependencies(names(&["a"])),
            sig(100, Sig::Term)
        ]
    );
    t.on(Event::Orphans(vec![pid(100)]));
    assert_eq!(t.on(Event::Reaped(pid(100), code(0))), leftovers());
    assert_eq!(t.on(Event::NoChildren), [Effect::Exit(EXIT_NOT_FOUND)]);
}

#[test]
fn the_main_command_exiting_stops_everything_with_its_code() {
    let mut t = T::running(Plan {
        main: true,
        ..plan()
    });
    assert_eq!(
        t.at(10, Event::Reaped(pid(50), code(3))),
        and_told(&[
            Effect::TakeTerminal,
            say(Progress::MainExited(3)),
            say(Progress::ShuttingDown),
            Effect::Unwatch,
        ])
    );
    t.at(10, Event::Orphans(vec![]));
    assert_eq!(t.supervisors_exit(19), leftovers());
    assert_eq!(t.at(20, Event::NoChildren), [Effect::Exit(3)]);
}

#[test]
fn sigterm_goes_to_the_main_command_first_and_the_services_stop_after_it() {
    let mut t = T::running(Plan {
        main: true,
        ..plan()
    });
    // Passed on, not sent a second time by the stop.
    assert_eq!(
        t.at(10, Event::Signal(Sig::Term)),
        [
            sig(50, Sig::Term),
            say(Progress::ShuttingDown),
            Effect::Unwatch
        ]
    );
    assert_eq!(t.deadline_ms(), Some(4010));
    assert_eq!(
        t.at(30, Event::Reaped(pid(50), killed(15))),
        and_told(&[Effect::TakeTerminal, say(Progress::MainExited(143))])
    );
    t.at(30, Event::Orphans(vec![]));
    assert_eq!(t.supervisors_exit(35), leftovers());
    assert_eq!(t.at(40, Event::NoChildren), [Effect::Exit(143)]);
}

#[test]
fn a_main_command_that_outlives_half_the_bound_is_left_and_the_services_stop() {
    let mut t = T::running(Plan {
        main: true,
        ..plan()
    });
    t.at(0, Event::Signal(Sig::Int));
    assert_eq!(t.at(4000, Event::Tick), supervisors_told());
    // It is not an orphan.
    assert_eq!(t.at(4000, Event::Orphans(vec![pid(50)])), []);
    let mut want = vec![Effect::FindOrphans];
    want.extend(leftovers());
    assert_eq!(t.supervisors_exit(4010), want);
    // Its code, when it comes, is still the one that counts.
    assert_eq!(
        t.at(4200, Event::Reaped(pid(50), code(3))),
        [Effect::TakeTerminal, say(Progress::MainExited(3))]
    );
    assert_eq!(t.at(4200, Event::NoChildren), [Effect::Exit(3)]);
}

#[test]
fn sighup_and_the_other_signals_are_only_passed_on_to_a_main_command() {
    let mut t = T::running(Plan {
        main: true,
        ..plan()
    });
    for s in [Sig::Hup, Sig::Quit, Sig::Usr1, Sig::Usr2, Sig::Winch] {
        assert_eq!(t.on(Event::Signal(s)), [sig(50, s)], "{s:?}");
    }
    // SIGCONT is not passed on; SIGALRM rescans.
    assert_eq!(t.on(Event::Signal(Sig::Cont)), []);
    assert_eq!(t.on(Event::Signal(Sig::Alrm)), [Effect::Rescan]);
    assert_eq!(t.deadline_ms(), None, "still running");
}

#[test]
fn signals_without_a_job_change_nothing() {
    let mut t = T::running(plan());
    for s in [Sig::Quit, Sig::Usr1, Sig::Usr2, Sig::Winch, Sig::Cont] {
        assert_eq!(t.on(Event::Signal(s)), [], "{s:?}");
    }
    assert_eq!(t.deadline_ms(), None);
}
