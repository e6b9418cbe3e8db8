//! Readiness by `./check`: its first run at once, the back-off, the answer, the end of `./run`.

use super::super::ready::{CHECK_FIRST_DELAY, CHECK_MAX_DELAY};
use super::*;

/// A service with `check`, started at `t0` as pid 100, its first `./check` (pid 101) started.
fn checked() -> (Machine, Rec, Instant) {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None).with_ready_file(true);
    let mut fx = Rec {
        source: Source::Check,
        ..Rec::default()
    };
    m.publish(Which::Main, &mut fx);
    fx.log.clear();
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Run, 100),
            ready_fx(Some("up 100")),
            Fx::Publish(Which::Main, "run".into()),
            Fx::Check(101),
        ]
    );
    assert_eq!(m.next_deadline(), None);
    fx.log.clear();
    (m, fx, t0)
}

fn ready_at() -> Tai64n {
    Tai64n::from_unix(1_800_000_001, 500)
}

#[test]
fn first_check_at_once_and_exit_0_makes_ready() {
    let (mut m, mut fx, t0) = checked();
    let t1 = t0 + Duration::from_millis(3);
    m.child_exited(pid(101), Exit::Code(0), t1, ready_at(), &mut fx);
    m.tick(t1, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Ready(Some(ready_line(100, ready_at())))]);
    // Ready: nothing more to do, ever, until the run ends.
    assert_eq!(m.next_deadline(), None);
    fx.log.clear();
    m.tick(t1 + Duration::from_secs(60), wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
}

#[test]
fn failures_back_off_from_10_ms_doubling_to_1_s() {
    let (mut m, mut fx, t0) = checked();
    let mut t = t0;
    let mut check = 101;
    let mut waits = Vec::new();
    for _ in 0..10 {
        t += Duration::from_millis(1);
        m.child_exited(pid(check), Exit::Code(1), t, wall(), &mut fx);
        m.tick(t, wall(), &mut fx);
        assert_eq!(fx.log, vec![], "nothing until the wait is over");
        let next = m.next_deadline().expect("a next check");
        waits.push(next - t);
        // Early wakeups start nothing.
        m.tick(next - Duration::from_micros(1), wall(), &mut fx);
        assert_eq!(fx.log, vec![]);
        t = next;
        m.tick(t, wall(), &mut fx);
        check += 1;
        assert_eq!(fx.log, vec![Fx::Check(check)]);
        assert_eq!(m.next_deadline(), None, "no deadline while a check runs");
        fx.log.clear();
    }
    let ms = |n| Duration::from_millis(n);
    assert_eq!(
        waits,
        [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000].map(ms)
    );
    assert_eq!(waits[0], CHECK_FIRST_DELAY);
    assert_eq!(waits[9], CHECK_MAX_DELAY);
    // A signal is a failure too; then exit 0.
    m.child_exited(
        pid(check),
        Exit::Signal {
            signo: 9,
            core: false,
        },
        t,
        wall(),
        &mut fx,
    );
    m.tick(t, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    t += CHECK_MAX_DELAY;
    m.tick(t, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Check(check + 1)]);
    fx.log.clear();
    m.child_exited(pid(check + 1), Exit::Code(0), t, ready_at(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Ready(Some(ready_line(100, ready_at())))]);
}

#[test]
fn a_check_that_cannot_start_is_tried_again_with_the_back_off() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None).with_ready_file(true);
    let mut fx = Rec {
        source: Source::Check,
        no_check: true,
        ..Rec::default()
    };
    m.tick(t0, wall(), &mut fx);
    assert_eq!(fx.log.last(), Some(&Fx::CheckFailed));
    assert_eq!(m.next_deadline(), Some(t0 + CHECK_FIRST_DELAY));
    fx.log.clear();
    m.tick(t0 + CHECK_FIRST_DELAY, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::CheckFailed]);
    assert_eq!(
        m.next_deadline(),
        Some(t0 + CHECK_FIRST_DELAY + CHECK_FIRST_DELAY * 2)
    );
    assert_eq!(m.readiness(), Some(&Readiness::Up(pid(100))));
}

#[test]
fn run_ending_kills_the_check_and_ignores_its_answer() {
    let (mut m, mut fx, t0) = checked();
    let t1 = t0 + Duration::from_millis(50);
    m.child_exited(pid(100), Exit::Code(1), t1, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::KillCheck(101),
            ready_fx(Some("down")),
            Fx::Publish(Which::Main, "down".into()),
        ]
    );
    fx.log.clear();
    // The killed check's exit comes later: it is about a run that is gone.
    m.child_exited(pid(101), Exit::Code(0), t1, wall(), &mut fx);
    m.tick(t1, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    assert_eq!(m.readiness(), Some(&Readiness::Down));
    // The restart checks afresh, at once.
    assert_eq!(m.next_deadline(), Some(t0 + THROTTLE));
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Run, 102),
            ready_fx(Some("up 102")),
            Fx::Publish(Which::Main, "run".into()),
            Fx::Check(103),
        ]
    );
}

#[test]
fn run_ending_between_two_checks_cancels_the_next() {
    let (mut m, mut fx, t0) = checked();
    m.child_exited(pid(101), Exit::Code(1), t0, wall(), &mut fx);
    assert_eq!(m.next_deadline(), Some(t0 + CHECK_FIRST_DELAY));
    m.control(Which::Main, Control::Down, &mut fx);
    m.child_exited(pid(100), SIGTERM_EXIT, t0, wall(), &mut fx);
    fx.log.clear();
    assert_eq!(m.next_deadline(), None);
    m.tick(t0 + CHECK_MAX_DELAY, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
}

#[test]
fn a_check_exit_while_paused_still_counts() {
    let (mut m, mut fx, t0) = checked();
    m.control(Which::Main, Control::Pause, &mut fx);
    fx.log.clear();
    m.child_exited(pid(101), Exit::Code(0), t0, ready_at(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Ready(Some(ready_line(100, ready_at())))]);
}
