//! Faults: forks that fail, status writes that fail, the service directory removed.

use super::*;

#[test]
fn failed_fork_is_tried_again_after_the_throttle_and_only_then() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None);
    let mut fx = Rec {
        no_fork: true,
        ..Rec::default()
    };
    m.tick(t0, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::ForkFailed(Which::Main, Prog::Run)]);
    assert_eq!(m.next_deadline(), Some(t0 + THROTTLE));
    fx.log.clear();
    // Early wakeups (a signal, a letter) do not try again.
    m.tick(t0 + THROTTLE - Duration::from_millis(1), wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    let t1 = t0 + THROTTLE;
    m.tick(t1, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::ForkFailed(Which::Main, Prog::Run)]);
    assert_eq!(m.next_deadline(), Some(t1 + THROTTLE));
    fx.log.clear();
    fx.no_fork = false;
    m.tick(t1 + THROTTLE, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Run, 100),
            Fx::Publish(Which::Main, "run".into())
        ]
    );
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn finish_whose_fork_failed_is_tried_again_with_runs_exit() {
    let (mut m, mut fx, t0) = started(None);
    fx.finish = true;
    fx.no_fork = true;
    let t1 = t0 + Duration::from_secs(5);
    m.child_exited(pid(100), Exit::Code(3), t1, wall(), &mut fx);
    m.tick(t1, wall(), &mut fx);
    let finish = Prog::Finish(Exit::Code(3));
    // State finish with no pid (runsv shows it so between run and finish), said once.
    assert_eq!(
        fx.log,
        vec![
            Fx::ForkFailed(Which::Main, finish),
            Fx::Publish(Which::Main, "finish".into())
        ]
    );
    assert_eq!(m.next_deadline(), Some(t1 + THROTTLE));
    fx.log.clear();
    m.tick(t1 + THROTTLE, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::ForkFailed(Which::Main, finish)]);
    fx.log.clear();
    fx.no_fork = false;
    let t2 = t1 + THROTTLE * 2;
    m.tick(t2, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, finish, 101),
            Fx::Publish(Which::Main, "finish".into())
        ]
    );
    fx.log.clear();
    m.child_exited(pid(101), Exit::Code(0), t2, wall(), &mut fx);
    m.tick(t2, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Main, "down".into()),
            Fx::Spawn(Which::Main, Prog::Run, 102),
            Fx::Publish(Which::Main, "run".into())
        ]
    );
}

#[test]
fn exit_waits_for_a_finish_whose_fork_failed() {
    let (mut m, mut fx, t0) = started(None);
    fx.finish = true;
    fx.no_fork = true;
    m.terminate(&mut fx);
    m.child_exited(pid(100), SIGTERM_EXIT, t0, wall(), &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert!(!m.done());
    fx.log.clear();
    fx.no_fork = false;
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(
        fx.log[0],
        Fx::Spawn(Which::Main, Prog::Finish(SIGTERM_EXIT), 101)
    );
    m.child_exited(pid(101), Exit::Code(0), t0 + THROTTLE, wall(), &mut fx);
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert!(m.done());
}

#[test]
fn failed_status_write_is_written_again_each_second_until_it_is() {
    let (mut m, mut fx, t0) = started(None);
    fx.no_write = true;
    m.control(Which::Main, Control::Pause, &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Signal(100, Signal::SIGSTOP),
            Fx::PublishFailed(Which::Main, "run, paused".into())
        ]
    );
    assert_eq!(m.next_deadline(), Some(t0 + STATUS_RETRY));
    fx.log.clear();
    m.tick(t0 + STATUS_RETRY / 2, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    let t1 = t0 + STATUS_RETRY;
    m.tick(t1, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![Fx::PublishFailed(Which::Main, "run, paused".into())]
    );
    assert_eq!(m.next_deadline(), Some(t1 + STATUS_RETRY));
    fx.log.clear();
    // Meanwhile the state changes: the next write (the retry) says the latest.
    m.control(Which::Main, Control::Cont, &mut fx);
    fx.no_write = false;
    fx.log.clear();
    let t2 = t1 + STATUS_RETRY;
    m.tick(t2, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Publish(Which::Main, "run".into())]);
    assert_eq!(m.next_deadline(), None);
    fx.log.clear();
    m.tick(t2 + STATUS_RETRY, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
}

#[test]
fn a_write_that_succeeds_ends_the_retries() {
    let (mut m, mut fx, t0) = started(Some(false));
    fx.no_write = true;
    m.control(Which::Log, Control::Pause, &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert_eq!(m.next_deadline(), Some(t0 + STATUS_RETRY));
    fx.no_write = false;
    m.control(Which::Log, Control::Cont, &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn removed_directory_seen_after_a_failed_write_ends_supervise_as_x_does() {
    let (mut m, mut fx, t0) = started(Some(false));
    fx.no_write = true;
    fx.gone = true;
    m.child_exited(pid(101), Exit::Code(0), t0, wall(), &mut fx);
    m.tick(t0, wall(), &mut fx);
    // Nothing is started or written any more; the logger is stopped by EOF.
    assert_eq!(
        fx.log,
        vec![
            Fx::PublishFailed(Which::Main, "down".into()),
            Fx::Removed,
            Fx::ClosePipe,
        ]
    );
    assert_eq!(m.next_deadline(), None);
    fx.log.clear();
    m.child_exited(pid(100), Exit::Code(0), t0, wall(), &mut fx);
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    assert!(m.done());
}

#[test]
fn removed_directory_seen_at_a_start_stops_the_service_then_exits() {
    let (mut m, mut fx, t0) = started(Some(false));
    fx.gone = true;
    // The logger dies; its restart finds the directory gone.
    let t1 = t0 + Duration::from_secs(5);
    m.child_exited(pid(100), Exit::Code(1), t1, wall(), &mut fx);
    m.tick(t1, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Log, "down".into()),
            Fx::Removed,
            Fx::Signal(101, Signal::SIGTERM),
            Fx::Signal(101, Signal::SIGCONT),
        ]
    );
    assert_eq!(m.next_deadline(), None);
    fx.log.clear();
    m.child_exited(pid(101), SIGTERM_EXIT, t1, wall(), &mut fx);
    m.tick(t1, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    assert!(m.done());
}

#[test]
fn removed_directory_is_not_looked_for_while_all_goes_well() {
    let (mut m, mut fx, t0) = started(None);
    fx.gone = true;
    m.control(Which::Main, Control::Hup, &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Signal(100, Signal::SIGHUP)]);
    assert!(!m.done());
}
