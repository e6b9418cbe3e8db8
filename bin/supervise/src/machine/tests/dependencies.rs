//! Dependencies: every start of `./run` waits until none is unmet; what is said and published.

use super::super::ready::DEPS_RETRY;
use super::*;

/// A service with `dependencies.d/` waiting for `db` at `t0` (the startup writes cleared).
fn waiting_for_db() -> (Machine, Rec, Instant) {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None).with_ready_file(true);
    let mut fx = Rec {
        source: Source::Up,
        unmet: unmet("db", false),
        ..Rec::default()
    };
    m.publish(Which::Main, &mut fx);
    fx.log.clear();
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Waiting("db".into(), false),
            ready_fx(Some("waiting db")),
        ]
    );
    assert_eq!(m.next_deadline(), None, "a watched wait has no timer");
    fx.log.clear();
    (m, fx, t0)
}

fn started_at() -> Tai64n {
    Tai64n::from_unix(1_800_000_003, 500)
}

#[test]
fn start_waits_then_goes_when_all_are_ready() {
    let (mut m, mut fx, t0) = waiting_for_db();
    // Wakeups while still waiting: nothing new is said or written.
    fx.unmet = unmet("db", true);
    m.tick(t0 + Duration::from_secs(3), wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    // db ready; cache is next: said once, published.
    fx.unmet = unmet("cache", true);
    m.tick(t0 + Duration::from_secs(4), wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Waiting("cache".into(), true),
            ready_fx(Some("waiting cache")),
        ]
    );
    fx.log.clear();
    fx.unmet = None;
    m.tick(t0 + Duration::from_secs(5), started_at(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::EndWait,
            Fx::Spawn(Which::Main, Prog::Run, 100),
            Fx::Ready(Some(ready_line(100, started_at()))),
            Fx::Publish(Which::Main, "run".into()),
        ]
    );
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn every_start_waits_restarts_too() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None).with_ready_file(true);
    let mut fx = Rec {
        source: Source::Up,
        ..Rec::default()
    };
    m.tick(t0, wall(), &mut fx);
    fx.log.clear();
    // Once started, a dependency going down stops nothing.
    fx.unmet = unmet("db", true);
    m.tick(t0 + Duration::from_millis(500), wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    // The restart after the run's end waits (after the throttle).
    m.child_exited(
        pid(100),
        Exit::Code(1),
        t0 + Duration::from_millis(500),
        wall(),
        &mut fx,
    );
    fx.log.clear();
    m.tick(t0 + Duration::from_millis(600), wall(), &mut fx);
    assert_eq!(fx.log, vec![], "the throttle comes first");
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![Fx::Waiting("db".into(), true), ready_fx(Some("waiting db")),]
    );
    // The throttle's deadline is gone: waiting is not a busy loop.
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn down_and_exit_while_waiting_act_at_once() {
    let (mut m, mut fx, t0) = waiting_for_db();
    m.control(Which::Main, Control::Down, &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Main, "down".into()),
            Fx::EndWait,
            ready_fx(Some("down")),
        ]
    );
    fx.log.clear();
    // Up again: the wait starts again, and is said again.
    m.control(Which::Main, Control::Up, &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Main, "down".into()),
            Fx::Waiting("db".into(), false),
            ready_fx(Some("waiting db")),
        ]
    );
    fx.log.clear();
    m.terminate(&mut fx);
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Main, "down".into()),
            Fx::EndWait,
            ready_fx(Some("down")),
        ]
    );
    assert!(m.done());
}

#[test]
fn once_waits_like_up() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), true, None).with_ready_file(true);
    let mut fx = Rec {
        source: Source::Up,
        unmet: unmet("db", true),
        ..Rec::default()
    };
    m.control(Which::Main, Control::Once, &mut fx);
    fx.log.clear();
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![Fx::Waiting("db".into(), true), ready_fx(Some("waiting db")),]
    );
    fx.unmet = None;
    fx.log.clear();
    m.tick(t0, wall(), &mut fx);
    assert_eq!(fx.log[1], Fx::Spawn(Which::Main, Prog::Run, 100));
}

#[test]
fn an_unwatched_wait_looks_again_each_second() {
    let (mut m, mut fx, t0) = waiting_for_db();
    fx.unmet = Some(Unmet {
        name: b"db".to_vec(),
        exists: false,
        watched: false,
    });
    let t1 = t0 + Duration::from_millis(7);
    m.tick(t1, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    assert_eq!(m.next_deadline(), Some(t1 + DEPS_RETRY));
    fx.unmet = unmet("db", false);
    m.tick(t1 + DEPS_RETRY, wall(), &mut fx);
    assert_eq!(m.next_deadline(), None, "watched again: no timer");
}

#[test]
fn the_logger_does_not_wait() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, Some(false)).with_ready_file(true);
    let mut fx = Rec {
        source: Source::Up,
        unmet: unmet("db", true),
        ..Rec::default()
    };
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Log, Prog::Run, 100),
            Fx::Publish(Which::Log, "run".into()),
            Fx::Waiting("db".into(), true),
            ready_fx(Some("waiting db")),
        ]
    );
}

#[test]
fn a_plain_service_whose_dependencies_went_has_no_file_at_its_start() {
    let (mut m, mut fx, t0) = waiting_for_db();
    fx.unmet = None;
    fx.source = Source::Plain;
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::EndWait,
            Fx::Spawn(Which::Main, Prog::Run, 100),
            ready_fx(None),
            Fx::Publish(Which::Main, "run".into()),
        ]
    );
}
