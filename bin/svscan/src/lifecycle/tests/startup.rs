//! Start-up: the container environment and the start-up scripts, one at a time.

use super::*;

#[test]
fn begin_scans_and_starts_a_supervise_per_service() {
    let t = T::running(plan());
    assert_eq!(t.deadline_ms(), None, "an idle svscan never wakes");
}

#[test]
fn a_failed_initial_environment_exits_100_at_once() {
    let mut t = T::new(Plan {
        env: true,
        ..plan()
    });
    assert_eq!(t.on(Event::Begin), [Effect::SyncEnv(Sync::Initial)]);
    assert_eq!(t.on(Event::EnvSynced(false)), [Effect::Exit(EXIT_FATAL)]);
    assert_eq!(t.on(Event::Signal(Sig::Term)), []);
    assert_eq!(t.deadline_ms(), None);
}

#[test]
fn startup_scripts_run_one_at_a_time_with_the_environment_synced_after_each() {
    let mut t = T::new(Plan {
        env: true,
        startup: true,
        ..plan()
    });
    assert_eq!(t.on(Event::Begin), [Effect::SyncEnv(Sync::Initial)]);
    assert_eq!(
        t.on(Event::EnvSynced(true)),
        [Effect::ListScripts(ScriptKind::Startup)]
    );
    assert_eq!(
        t.on(Event::Scripts(paths(&["/i/10", "/i/20"]))),
        [
            say(Progress::RunningScript("/i/10".into())),
            Effect::StartScript("/i/10".into())
        ]
    );
    assert_eq!(t.on(Event::ScriptStarted(Some(pid(10)))), []);
    assert_eq!(
        t.on(Event::Reaped(pid(10), code(0))),
        [Effect::SyncEnv(Sync::AfterScript)]
    );
    // The next script waits for the environment.
    assert_eq!(t.on(Event::Tick), []);
    assert_eq!(
        t.on(Event::EnvSynced(true)),
        [
            say(Progress::RunningScript("/i/20".into())),
            Effect::StartScript("/i/20".into())
        ]
    );
    assert_eq!(t.on(Event::ScriptStarted(Some(pid(11)))), []);
    assert_eq!(
        t.on(Event::Reaped(pid(11), code(0))),
        [Effect::SyncEnv(Sync::AfterScript)]
    );
    assert_eq!(
        t.on(Event::EnvSynced(true)),
        [
            say(Progress::StartingServices),
            Effect::Watch,
            Effect::Rescan
        ]
    );
}

#[test]
fn startup_scripts_without_an_environment_follow_each_other_at_once() {
    let mut t = T::new(Plan {
        startup: true,
        ..plan()
    });
    assert_eq!(
        t.on(Event::Begin),
        [Effect::ListScripts(ScriptKind::Startup)]
    );
    t.on(Event::Scripts(paths(&["/i/10", "/i/20"])));
    t.on(Event::ScriptStarted(Some(pid(10))));
    assert_eq!(
        t.on(Event::Reaped(pid(10), code(0))),
        [
            say(Progress::RunningScript("/i/20".into())),
            Effect::StartScript("/i/20".into())
        ]
    );
}

/// Start-up with one script `/i/10` running as pid 10, then the `ev` that ends it.
fn startup_ends(ev: Event) -> (T, Vec<Effect>) {
    let mut t = T::new(Plan {
        env: true,
        startup: true,
        ..plan()
    });
    t.on(Event::Begin);
    t.on(Event::EnvSynced(true));
    t.on(Event::Scripts(paths(&["/i/10", "/i/20"])));
    t.on(Event::ScriptStarted(Some(pid(10))));
    let fx = t.on(ev);
    (t, fx)
}

/// What the stop does when nothing has started: no supervisors, nothing left.
fn empty_stop() -> Vec<Effect> {
    let mut v = vec![
        say(Progress::ShuttingDown),
        Effect::Unwatch,
        say(Progress::StoppingServices),
        Effect::FindOrphans,
    ];
    v.extend(leftovers());
    v
}

#[test]
fn a_failing_startup_script_stops_everything_with_its_code() {
    let (mut t, fx) = startup_ends(Event::Reaped(pid(10), code(3)));
    let mut want = vec![Effect::Report(Report::ScriptFailed {
        path: "/i/10".into(),
        code: 3,
        fatal: true,
    })];
    want.extend(empty_stop());
    assert_eq!(fx, want);
    assert_eq!(t.on(Event::Orphans(vec![])), []);
    assert_eq!(t.on(Event::NoChildren), [Effect::Exit(3)]);
}

#[test]
fn a_startup_script_killed_by_a_signal_gives_128_plus_its_number() {
    let (mut t, fx) = startup_ends(Event::Reaped(pid(10), killed(9)));
    assert_eq!(
        fx[0],
        Effect::Report(Report::ScriptFailed {
            path: "/i/10".into(),
            code: 137,
            fatal: true
        })
    );
    assert_eq!(t.on(Event::NoChildren), [Effect::Exit(137)]);
}

#[test]
fn a_startup_script_that_cannot_be_forked_stops_everything_with_126() {
    let mut t = T::new(Plan {
        startup: true,
        ..plan()
    });
    t.on(Event::Begin);
    t.on(Event::Scripts(paths(&["/i/10", "/i/20"])));
    assert_eq!(t.on(Event::ScriptStarted(None)), empty_stop());
    assert_eq!(t.on(Event::NoChildren), [Effect::Exit(EXIT_CANNOT_EXEC)]);
}

#[test]
fn an_environment_that_cannot_be_written_after_a_script_stops_with_100() {
    let (mut t, fx) = startup_ends(Event::Reaped(pid(10), code(0)));
    assert_eq!(fx, [Effect::SyncEnv(Sync::AfterScript)]);
    assert_eq!(t.on(Event::EnvSynced(false)), empty_stop());
    assert_eq!(t.on(Event::NoChildren), [Effect::Exit(EXIT_FATAL)]);
}

#[test]
fn sigterm_during_startup_stops_the_script_and_starts_nothing() {
    let (mut t, fx) = startup_ends(Event::Signal(Sig::Term));
    assert_eq!(
        fx,
        [
            sig(10, Sig::Term),
            sig(10, Sig::Cont),
            say(Progress::ShuttingDown),
            Effect::Unwatch
        ]
    );
    // Its end is no failure now, and /i/20 never runs.
    let mut want = vec![say(Progress::StoppingServices), Effect::FindOrphans];
    want.extend(leftovers());
    assert_eq!(t.at(30, Event::Reaped(pid(10), killed(15))), want);
    assert_eq!(t.at(30, Event::NoChildren), [Effect::Exit(0)]);
}

#[test]
fn a_startup_script_that_outlives_half_the_bound_is_killed() {
    let (mut t, _) = startup_ends(Event::Signal(Sig::Term));
    assert_eq!(t.deadline_ms(), Some(4000));
    assert_eq!(t.at(3999, Event::Tick), []);
    let mut want = vec![
        Effect::Report(Report::ScriptKilled("/i/10".into())),
        sig(10, Sig::Kill),
        say(Progress::StoppingServices),
        Effect::FindOrphans,
    ];
    want.extend(leftovers());
    assert_eq!(t.at(4000, Event::Tick), want);
    // Its reaping later changes nothing.
    assert_eq!(t.at(4001, Event::Reaped(pid(10), killed(9))), []);
    assert_eq!(t.at(4002, Event::NoChildren), [Effect::Exit(0)]);
}

#[test]
fn sighup_during_startup_stops_with_111_and_signals_without_a_job_do_nothing() {
    let (mut t, _) = startup_ends(Event::Signal(Sig::Alrm));
    assert_eq!(t.on(Event::Signal(Sig::Quit)), []);
    assert_eq!(t.on(Event::DirChanged), [], "nothing is scanned yet");
    assert_eq!(
        t.on(Event::Signal(Sig::Hup)),
        [
            sig(10, Sig::Term),
            sig(10, Sig::Cont),
            say(Progress::ShuttingDown),
            Effect::Unwatch
        ]
    );
    t.at(30, Event::Reaped(pid(10), killed(1)));
    assert_eq!(t.at(30, Event::NoChildren), [Effect::Exit(EXIT_HANGUP)]);
}
