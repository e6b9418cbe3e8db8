//! The ordered stop: its stages, their deadlines, the orphan sweep and the exit code.

use super::*;

#[test]
fn sigterm_without_a_main_command_stops_everything_and_exits_0() {
    let mut t = T::stopped_at(plan(), 0);
    assert_eq!(t.deadline_ms(), Some(10), "the orphan sweep");
    assert_eq!(t.supervisors_exit(5), leftovers());
    assert_eq!(t.deadline_ms(), Some(8000));
    assert_eq!(t.at(6, Event::Reaped(pid(300), code(0))), []);
    assert_eq!(t.at(6, Event::NoChildren), [Effect::Exit(0)]);
}

#[test]
fn sighup_without_a_main_command_stops_everything_and_exits_111() {
    let mut t = T::running(plan());
    assert_eq!(
        t.on(Event::Signal(Sig::Hup))[0],
        say(Progress::ShuttingDown)
    );
    t.on(Event::Orphans(vec![]));
    t.supervisors_exit(5);
    assert_eq!(t.at(5, Event::NoChildren), [Effect::Exit(EXIT_HANGUP)]);
}

#[test]
fn a_second_sigterm_or_a_sighup_during_the_stop_only_changes_the_code_to_111() {
    let mut t = T::stopped_at(plan(), 0);
    assert_eq!(t.at(1, Event::Signal(Sig::Term)), []);
    assert_eq!(t.at(2, Event::Signal(Sig::Int)), []);
    assert_eq!(t.deadline_ms(), Some(10));
    assert_eq!(t.at(3, Event::Signal(Sig::Hup)), []);
    t.supervisors_exit(5);
    assert_eq!(t.at(5, Event::NoChildren), [Effect::Exit(EXIT_HANGUP)]);
}

#[test]
fn a_second_sigterm_is_passed_on_to_a_main_command_still_running() {
    let mut t = T::running(Plan {
        main: true,
        ..plan()
    });
    t.at(0, Event::Signal(Sig::Term));
    assert_eq!(t.at(100, Event::Signal(Sig::Term)), [sig(50, Sig::Term)]);
    assert_eq!(t.at(200, Event::Signal(Sig::Hup)), [sig(50, Sig::Hup)]);
    assert_eq!(t.deadline_ms(), Some(4000), "still waiting for it");
}

#[test]
fn new_orphans_get_sigterm_once_and_orphans_of_before_are_left() {
    let mut t = T::running(plan());
    t.at(0, Event::Signal(Sig::Term));
    // pid 300 was an orphan before the supervisors were told.
    assert_eq!(
        t.at(0, Event::Orphans(vec![pid(100), pid(101), pid(300)])),
        []
    );
    assert_eq!(t.at(10, Event::Tick), [Effect::FindOrphans]);
    assert_eq!(t.deadline_ms(), Some(20));
    assert_eq!(
        t.at(10, Event::Orphans(vec![pid(100), pid(300), pid(301)])),
        [sig(301, Sig::Term), sig(301, Sig::Cont)]
    );
    assert_eq!(t.at(20, Event::Tick), [Effect::FindOrphans]);
    assert_eq!(t.at(20, Event::Orphans(vec![pid(300), pid(301)])), []);
}

#[test]
fn a_supervise_whose_logger_drains_has_the_orphans_looked_for_at_once() {
    let mut t = T::running(plan());
    t.at(0, Event::Signal(Sig::Term));
    assert_eq!(t.at(0, Event::Orphans(vec![pid(300)])), []);
    // Not at the next sweep (10 ms): the orphan holding the log pipe is signalled now. Drains
    // told before the answer need no other look.
    assert_eq!(t.at(2, Event::Draining(pid(100))), [Effect::FindOrphans]);
    assert_eq!(t.at(2, Event::Draining(pid(101))), []);
    assert_eq!(
        t.at(2, Event::Orphans(vec![pid(300), pid(301)])),
        [sig(301, Sig::Term), sig(301, Sig::Cont)]
    );
    assert_eq!(t.at(3, Event::Draining(pid(101))), [Effect::FindOrphans]);
    assert_eq!(t.at(3, Event::Orphans(vec![pid(300), pid(301)])), []);
    // The periodic sweep goes on, for orphans that come later.
    assert_eq!(t.deadline_ms(), Some(10));
    assert_eq!(t.at(10, Event::Tick), [Effect::FindOrphans]);
}

#[test]
fn a_drain_outside_the_stop_of_the_supervisors_looks_for_nothing() {
    let mut t = T::running(plan());
    assert_eq!(t.at(0, Event::Draining(pid(100))), []);
    let mut t = T::running(Plan {
        main: true,
        ..plan()
    });
    t.at(0, Event::Signal(Sig::Term));
    // Still waiting for the main command: the supervisors have not been told.
    assert_eq!(t.at(1, Event::Draining(pid(100))), []);
}

#[test]
fn services_still_running_at_three_quarters_of_the_bound_are_killed_and_the_code_is_124() {
    let mut t = T::stopped_at(plan(), 0);
    assert_eq!(
        t.at(5990, Event::Reaped(pid(101), code(0))),
        [Effect::FindOrphans]
    );
    assert_eq!(t.deadline_ms(), Some(6000));
    assert_eq!(
        t.at(6000, Event::Tick),
        [Effect::ForceKill("a".into()), Effect::FindOrphans]
    );
    // The services' deadline is spent: only the sweep wakes svscan now.
    assert_eq!(t.deadline_ms(), Some(6010));
    assert_eq!(t.at(6005, Event::Tick), []);
    assert_eq!(t.at(6009, Event::Reaped(pid(100), killed(9))), leftovers());
    assert_eq!(t.at(6100, Event::NoChildren), [Effect::Exit(EXIT_FORCED)]);
}

#[test]
fn at_the_bound_everything_left_is_killed_and_the_exit_follows_the_grace() {
    let mut t = T::running(Plan {
        main: true,
        ..plan()
    });
    t.at(0, Event::Signal(Sig::Term));
    t.at(4000, Event::Tick);
    t.at(4000, Event::Orphans(vec![]));
    t.at(6000, Event::Tick);
    assert_eq!(
        t.at(8000, Event::Tick),
        [
            Effect::FindOrphans,
            Effect::Report(Report::TimedOut),
            Effect::SignalLeftovers(Sig::Kill),
            sig(100, Sig::Kill),
            sig(101, Sig::Kill),
            sig(50, Sig::Kill),
            Effect::Reap,
        ]
    );
    assert_eq!(t.deadline_ms(), Some(8500));
    assert_eq!(t.at(8499, Event::Tick), []);
    assert_eq!(t.at(8500, Event::Tick), [Effect::Exit(EXIT_FORCED)]);
}

#[test]
fn the_main_commands_code_stands_when_the_bound_forces_a_kill() {
    let mut t = T::running(Plan {
        main: true,
        ..plan()
    });
    t.at(0, Event::Signal(Sig::Term));
    t.at(10, Event::Reaped(pid(50), code(0)));
    t.at(10, Event::Orphans(vec![]));
    t.at(6000, Event::Tick);
    t.at(8000, Event::Tick);
    assert_eq!(t.at(8001, Event::NoChildren), [Effect::Exit(0)]);
}

#[test]
fn pre_shutdown_scripts_run_in_order_before_the_supervisors_are_told() {
    let mut t = T::running(Plan {
        pre_shutdown: true,
        ..plan()
    });
    assert_eq!(
        t.on(Event::Signal(Sig::Term)),
        [
            say(Progress::ShuttingDown),
            Effect::Unwatch,
            Effect::ListScripts(ScriptKind::PreShutdown)
        ]
    );
    assert_eq!(
        t.on(Event::Scripts(paths(&["/pre/1", "/pre/2"]))),
        [Effect::StartScript("/pre/1".into())]
    );
    assert_eq!(t.on(Event::ScriptStarted(Some(pid(20)))), []);
    assert_eq!(
        t.at(10, Event::Reaped(pid(20), code(4))),
        [
            Effect::Report(Report::ScriptFailed {
                path: "/pre/1".into(),
                code: 4,
                fatal: false
            }),
            Effect::StartScript("/pre/2".into())
        ]
    );
    // One that cannot be forked is skipped.
    assert_eq!(t.at(10, Event::ScriptStarted(None)), supervisors_told());
}

#[test]
fn a_pre_shutdown_script_still_running_at_half_the_bound_is_killed() {
    let mut t = T::running(Plan {
        pre_shutdown: true,
        ..plan()
    });
    t.on(Event::Signal(Sig::Term));
    t.on(Event::Scripts(paths(&["/pre/1", "/pre/2"])));
    t.on(Event::ScriptStarted(Some(pid(20))));
    assert_eq!(t.deadline_ms(), Some(4000));
    assert_eq!(
        t.at(4000, Event::Tick),
        and_told(&[
            Effect::Report(Report::ScriptKilled("/pre/1".into())),
            sig(20, Sig::Kill),
        ])
    );
}

#[test]
fn post_shutdown_scripts_run_after_the_supervisors_and_before_the_leftovers() {
    let mut t = T::stopped_at(
        Plan {
            post_shutdown: true,
            ..plan()
        },
        0,
    );
    assert_eq!(
        t.supervisors_exit(9),
        [Effect::ListScripts(ScriptKind::PostShutdown)]
    );
    assert_eq!(
        t.at(10, Event::Scripts(paths(&["/post/1"]))),
        [Effect::StartScript("/post/1".into())]
    );
    t.at(10, Event::ScriptStarted(Some(pid(30))));
    assert_eq!(
        t.deadline_ms(),
        Some(8000),
        "no sweep after the supervisors"
    );
    // A script that has not started yet does not make the namespace empty.
    assert_eq!(t.at(11, Event::NoChildren), []);
    assert_eq!(t.at(20, Event::Reaped(pid(30), code(0))), leftovers());
    assert_eq!(t.at(20, Event::NoChildren), [Effect::Exit(0)]);
}

#[test]
fn without_kill_all_svscan_exits_after_the_post_shutdown_scripts() {
    let mut t = T::stopped_at(
        Plan {
            kill_all: false,
            ..plan()
        },
        0,
    );
    assert_eq!(t.supervisors_exit(9), [Effect::Exit(0)]);
    assert_eq!(t.at(20, Event::NoChildren), []);
}

#[test]
fn without_kill_all_a_forced_service_still_gives_124() {
    let mut t = T::stopped_at(
        Plan {
            kill_all: false,
            ..plan()
        },
        0,
    );
    t.at(6000, Event::Tick);
    assert_eq!(t.supervisors_exit(6009), [Effect::Exit(EXIT_FORCED)]);
}

#[test]
fn phusions_two_timeouts_bound_the_services_then_everything() {
    let mut t = T::stopped_at(
        Plan {
            stop: StopBound::Phased {
                services: Duration::from_secs(3),
                all: Duration::from_secs(5),
            },
            ..plan()
        },
        0,
    );
    assert_eq!(
        t.at(3000, Event::Tick),
        [
            Effect::ForceKill("a".into()),
            Effect::ForceKill("b".into()),
            Effect::FindOrphans
        ]
    );
    assert_eq!(t.supervisors_exit(3009), leftovers());
    assert_eq!(t.deadline_ms(), Some(8000));
}

#[test]
fn a_bound_too_large_for_the_clock_does_not_panic() {
    let mut t = T::running(Plan {
        stop: StopBound::Total(Duration::MAX),
        ..plan()
    });
    assert_eq!(
        t.on(Event::Signal(Sig::Term))[0],
        say(Progress::ShuttingDown)
    );
    assert!(t.lc.next_deadline().is_some());
}

#[test]
fn a_post_shutdown_script_still_running_at_the_bound_is_killed_with_everything_left() {
    let mut t = T::stopped_at(
        Plan {
            post_shutdown: true,
            ..plan()
        },
        0,
    );
    t.supervisors_exit(9);
    t.at(9, Event::Scripts(paths(&["/post/1"])));
    t.at(9, Event::ScriptStarted(Some(pid(30))));
    assert_eq!(t.at(7999, Event::Tick), []);
    assert_eq!(
        t.at(8000, Event::Tick),
        [
            Effect::Report(Report::TimedOut),
            Effect::SignalLeftovers(Sig::Kill),
            sig(30, Sig::Kill),
            Effect::Reap,
        ]
    );
    assert_eq!(t.at(8001, Event::NoChildren), [Effect::Exit(EXIT_FORCED)]);
}

#[test]
fn leftovers_that_outlive_the_bound_are_killed_and_the_exit_follows_the_grace() {
    let mut t = T::stopped_at(plan(), 0);
    assert_eq!(t.supervisors_exit(9), leftovers());
    assert_eq!(t.deadline_ms(), Some(8000));
    assert_eq!(
        t.at(8000, Event::Tick),
        [
            Effect::Report(Report::TimedOut),
            Effect::SignalLeftovers(Sig::Kill),
            Effect::Reap,
        ]
    );
    assert_eq!(t.at(8200, Event::Reaped(pid(300), killed(9))), []);
    assert_eq!(t.at(8500, Event::Tick), [Effect::Exit(EXIT_FORCED)]);
    // Nothing follows the exit.
    assert_eq!(t.at(8600, Event::Signal(Sig::Term)), []);
    assert_eq!(t.at(8600, Event::NoChildren), []);
    assert_eq!(t.deadline_ms(), None);
}

/// The watches go when the stop begins (it never rescans), not with svscan's exit: the kernel's
/// grace period for them then runs while the services stop.
#[test]
fn the_stop_drops_the_watches_when_it_begins() {
    let mut t = T::running(plan());
    let fx = t.at(0, Event::Signal(Sig::Term));
    assert_eq!(fx[..2], [say(Progress::ShuttingDown), Effect::Unwatch]);
    assert_eq!(t.at(0, Event::Orphans(vec![])), []);
    assert_eq!(t.at(1, Event::Signal(Sig::Term)), []);
}
