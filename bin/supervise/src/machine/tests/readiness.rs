//! Readiness: `supervise/ready` and its order with the status, `notification-fd`.

use super::*;

/// A machine whose service has `notification-fd`, started at `t0` as pid 100 (the startup
/// writes are cleared).
fn notifying(log: Option<bool>) -> (Machine, Rec, Instant) {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, log).with_ready_file(true);
    let mut fx = Rec {
        source: Source::Notification,
        ..Rec::default()
    };
    m.publish(Which::Main, &mut fx);
    m.tick(t0, wall(), &mut fx);
    fx.log.clear();
    (m, fx, t0)
}

fn later_wall() -> Tai64n {
    Tai64n::from_unix(1_800_000_002, 500)
}

#[test]
fn startup_writes_down_or_removes_a_stale_file_before_the_status() {
    for (kept, line) in [(true, Some("down")), (false, None)] {
        let mut m = Machine::new(wall(), true, None).with_ready_file(kept);
        let mut fx = Rec::default();
        m.publish(Which::Main, &mut fx);
        assert_eq!(
            fx.log,
            vec![ready_fx(line), Fx::Publish(Which::Main, "down".into())]
        );
        fx.log.clear();
        // Said once: a later status write leaves the file alone.
        m.control(Which::Main, Control::Pause, &mut fx);
        assert_eq!(
            fx.log,
            vec![Fx::Publish(Which::Main, "down, paused".into())]
        );
    }
}

#[test]
fn plain_service_has_no_file_and_writes_nothing_more() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, Some(false)).with_ready_file(false);
    let mut fx = Rec::default();
    m.publish(Which::Main, &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            ready_fx(None),
            Fx::Publish(Which::Main, "down".into()),
            Fx::Spawn(Which::Log, Prog::Run, 100),
            Fx::Publish(Which::Log, "run".into()),
            Fx::Spawn(Which::Main, Prog::Run, 101),
            Fx::Publish(Which::Main, "run".into()),
        ]
    );
    assert_eq!(m.readiness(), None);
    fx.log.clear();
    m.child_exited(pid(101), Exit::Code(0), t0 + THROTTLE, wall(), &mut fx);
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert!(
        !fx.log.iter().any(|f| matches!(f, Fx::Ready(_))),
        "{:?}",
        fx.log
    );
}

#[test]
fn notification_start_writes_up_before_the_status() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None).with_ready_file(true);
    let mut fx = Rec {
        source: Source::Notification,
        ..Rec::default()
    };
    m.publish(Which::Main, &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            ready_fx(Some("down")),
            Fx::Publish(Which::Main, "down".into()),
            Fx::Spawn(Which::Main, Prog::Run, 100),
            ready_fx(Some("up 100")),
            Fx::Publish(Which::Main, "run".into()),
        ]
    );
    assert_eq!(m.readiness(), Some(&Readiness::Up(pid(100))));
}

#[test]
fn newline_makes_ready_once_and_writes_only_the_file() {
    let (mut m, mut fx, _) = notifying(None);
    m.notified(later_wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Ready(Some(ready_line(100, later_wall())))]);
    fx.log.clear();
    m.notified(later_wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    assert_eq!(
        m.readiness(),
        Some(&Readiness::Ready {
            pid: pid(100),
            since: later_wall()
        })
    );
}

#[test]
fn run_ending_resets_readiness_and_closes_the_pipe() {
    let (mut m, mut fx, t0) = notifying(None);
    m.notified(later_wall(), &mut fx);
    fx.log.clear();
    let t1 = t0 + Duration::from_millis(10);
    m.child_exited(pid(100), Exit::Code(1), t1, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::CloseNotification,
            ready_fx(Some("down")),
            Fx::Publish(Which::Main, "down".into()),
        ]
    );
    fx.log.clear();
    // A newline too late (the pipe is closed, but were it read): the service is down.
    m.notified(later_wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    // The restart: not ready again until the new run says so.
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Run, 101),
            ready_fx(Some("up 101")),
            Fx::Publish(Which::Main, "run".into()),
        ]
    );
}

#[test]
fn readiness_resets_when_run_ends_even_with_finish() {
    let (mut m, mut fx, t0) = notifying(None);
    fx.finish = true;
    m.notified(later_wall(), &mut fx);
    fx.log.clear();
    m.child_exited(pid(100), Exit::Code(0), t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::CloseNotification,
            Fx::Spawn(Which::Main, Prog::Finish(Exit::Code(0)), 101),
            ready_fx(Some("down")),
            Fx::Publish(Which::Main, "finish".into()),
        ]
    );
    fx.log.clear();
    // A notification while finish runs is not about a run.
    m.notified(later_wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
}

#[test]
fn source_found_at_each_start_a_plain_restart_removes_the_file() {
    let (mut m, mut fx, t0) = notifying(None);
    fx.source = Source::Plain;
    m.child_exited(pid(100), Exit::Code(0), t0 + THROTTLE, wall(), &mut fx);
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::CloseNotification,
            ready_fx(Some("down")),
            Fx::Publish(Which::Main, "down".into()),
            Fx::Spawn(Which::Main, Prog::Run, 101),
            ready_fx(None),
            Fx::Publish(Which::Main, "run".into()),
        ]
    );
    assert_eq!(m.readiness(), None);
}

#[test]
fn the_logger_has_no_readiness() {
    let (mut m, mut fx, t0) = notifying(Some(false));
    // Log pid 100, main pid 101.
    assert_eq!(m.readiness(), Some(&Readiness::Up(pid(101))));
    m.child_exited(pid(100), Exit::Code(0), t0 + THROTTLE, wall(), &mut fx);
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Log, "down".into()),
            Fx::Spawn(Which::Log, Prog::Run, 102),
            Fx::Publish(Which::Log, "run".into()),
        ]
    );
}

#[test]
fn failed_ready_write_is_retried_with_the_status() {
    let (mut m, mut fx, t0) = notifying(None);
    fx.no_ready_write = true;
    m.notified(later_wall(), &mut fx);
    m.tick(t0, wall(), &mut fx);
    let line = Some(ready_line(100, later_wall()));
    assert_eq!(fx.log, vec![Fx::ReadyFailed(line.clone())]);
    assert_eq!(m.next_deadline(), Some(t0 + STATUS_RETRY));
    fx.log.clear();
    fx.no_ready_write = false;
    m.tick(t0 + STATUS_RETRY, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![Fx::Ready(line), Fx::Publish(Which::Main, "run".into())]
    );
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn nothing_is_written_once_the_directory_is_removed() {
    let (mut m, mut fx, t0) = notifying(None);
    fx.gone = true;
    fx.no_write = true;
    m.control(Which::Main, Control::Pause, &mut fx);
    m.tick(t0, wall(), &mut fx);
    fx.log.clear();
    m.notified(later_wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
}
