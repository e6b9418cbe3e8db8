//! Health checks: the schedule, the verdicts, the timeout, the start period, the restart.

use super::super::health::HealthConfig;
use super::*;

const MS: fn(u64) -> Duration = Duration::from_millis;

fn config(retries: u32, start_period: Duration) -> HealthConfig {
    HealthConfig {
        interval: MS(1000),
        timeout: MS(500),
        retries,
        start_period,
    }
}

/// A plain service with `health`, started at `t0` as pid 100: the file says `starting`.
fn healthy_service(c: HealthConfig) -> (Machine, Rec, Instant) {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None).with_health_file(true);
    let mut fx = Rec {
        health: Some(c),
        ..Rec::default()
    };
    m.publish(Which::Main, &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::HealthFile(Some("none".into())),
            Fx::Publish(Which::Main, "down".into()),
        ]
    );
    fx.log.clear();
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Run, 100),
            Fx::Publish(Which::Main, "run".into()),
            Fx::HealthFile(Some("starting".into())),
        ]
    );
    assert_eq!(m.next_deadline(), Some(t0 + MS(1000)), "the first check");
    fx.log.clear();
    (m, fx, t0)
}

fn at(n: u64) -> Tai64n {
    Tai64n::from_unix(1_800_000_000 + n, 0)
}

fn line(state: &str, end: &str, n: u64) -> Fx {
    let label = String::from_utf8_lossy(&at(n).label()).into_owned();
    Fx::HealthFile(Some(format!("{state} {end} {label}")))
}

/// Runs the check due at `t` (pid `check`) and ends it with `exit` 10 ms later, at wall `n`.
fn check(m: &mut Machine, fx: &mut Rec, t: Instant, check: u32, exit: Exit, n: u64) -> Instant {
    assert_eq!(m.next_deadline(), Some(t));
    m.tick(t, wall(), fx);
    assert_eq!(fx.log, vec![Fx::Health(check)]);
    assert_eq!(m.next_deadline(), Some(t + MS(500)), "its timeout");
    fx.log.clear();
    let end = t + MS(10);
    m.child_exited(pid(check), exit, end, at(n), fx);
    m.tick(end, wall(), fx);
    end
}

#[test]
fn a_pass_makes_healthy_and_the_next_check_comes_an_interval_after_the_end() {
    let (mut m, mut fx, t0) = healthy_service(config(3, Duration::ZERO));
    let end = check(&mut m, &mut fx, t0 + MS(1000), 101, Exit::Code(0), 1);
    assert_eq!(fx.log, vec![line("healthy", "code 0", 1)]);
    assert_eq!(m.next_deadline(), Some(end + MS(1000)));
    fx.log.clear();
    // The same answer again changes nothing in the file but its time.
    let end = check(&mut m, &mut fx, end + MS(1000), 102, Exit::Code(0), 2);
    assert_eq!(fx.log, vec![line("healthy", "code 0", 2)]);
    fx.log.clear();
    // Fewer failures than retries: still healthy.
    check(&mut m, &mut fx, end + MS(1000), 103, Exit::Code(1), 3);
    assert_eq!(fx.log, vec![line("healthy", "code 1", 3)]);
}

#[test]
fn retries_failures_in_a_row_make_unhealthy_and_restart_as_t_does() {
    let (mut m, mut fx, t0) = healthy_service(config(2, Duration::ZERO));
    let end = check(&mut m, &mut fx, t0 + MS(1000), 101, Exit::Code(1), 1);
    assert_eq!(fx.log, vec![line("starting", "code 1", 1)]);
    fx.log.clear();
    let end = check(&mut m, &mut fx, end + MS(1000), 102, Exit::Code(1), 2);
    assert_eq!(
        fx.log,
        vec![
            line("unhealthy", "code 1", 2),
            Fx::Signal(100, Signal::SIGTERM),
            Fx::Publish(Which::Main, "run, got TERM".into()),
        ]
    );
    assert_eq!(m.next_deadline(), None, "no more checks");
    fx.log.clear();
    // The service ends: the file says none (keeping the last check), before the status, and
    // it starts again (its throttle is over): starting, the count of failures from 0.
    let gone = end + MS(100);
    m.child_exited(pid(100), SIGTERM_EXIT, gone, wall(), &mut fx);
    m.tick(gone, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            line("none", "code 1", 2),
            Fx::Publish(Which::Main, "down".into()),
            Fx::Spawn(Which::Main, Prog::Run, 103),
            Fx::Publish(Which::Main, "run".into()),
            line("starting", "code 1", 2),
        ]
    );
    fx.log.clear();
    check(&mut m, &mut fx, gone + MS(1000), 104, Exit::Code(1), 3);
    assert_eq!(fx.log, vec![line("starting", "code 1", 3)]);
}

#[test]
fn an_unhealthy_restart_is_a_failed_run() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None)
        .with_health_file(true)
        .with_essential(1);
    let mut fx = Rec {
        health: Some(config(1, Duration::ZERO)),
        ..Rec::default()
    };
    m.tick(t0, wall(), &mut fx);
    fx.log.clear();
    let end = check(&mut m, &mut fx, t0 + MS(1000), 101, Exit::Code(1), 1);
    assert_eq!(fx.log[1], Fx::Signal(100, Signal::SIGTERM));
    fx.log.clear();
    // It exits 0 on TERM, and still counts: the essential service (limit 1) stops for good.
    m.child_exited(pid(100), Exit::Code(0), end, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            line("none", "code 1", 1),
            Fx::Publish(Which::Main, "down".into()),
            Fx::Stopped(0),
        ]
    );
}

#[test]
fn a_check_still_running_at_the_timeout_is_killed_and_fails() {
    let (mut m, mut fx, t0) = healthy_service(config(3, Duration::ZERO));
    let t = t0 + MS(1000);
    m.tick(t, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Health(101)]);
    fx.log.clear();
    m.tick(t + MS(499), wall(), &mut fx);
    assert_eq!(fx.log, vec![], "not yet");
    m.tick(t + MS(500), at(1), &mut fx);
    assert_eq!(
        fx.log,
        vec![Fx::KillHealth(101), line("starting", "timeout", 1)]
    );
    assert_eq!(m.next_deadline(), Some(t + MS(1500)));
    fx.log.clear();
    // Its exit, when reaped, is not a second answer.
    m.child_exited(
        pid(101),
        Exit::Signal {
            signo: 9,
            core: false,
        },
        t + MS(501),
        at(2),
        &mut fx,
    );
    m.tick(t + MS(501), wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
}

#[test]
fn failures_in_the_start_period_do_not_count_and_a_pass_in_it_makes_healthy() {
    let (mut m, mut fx, t0) = healthy_service(config(1, MS(2500)));
    // Checks beginning at 1 s and 2.01 s: inside 2.5 s, so retries 1 does not end it.
    let end = check(&mut m, &mut fx, t0 + MS(1000), 101, Exit::Code(1), 1);
    assert_eq!(fx.log, vec![line("starting", "code 1", 1)]);
    fx.log.clear();
    let end = check(&mut m, &mut fx, end + MS(1000), 102, Exit::Code(0), 2);
    assert_eq!(fx.log, vec![line("healthy", "code 0", 2)]);
    fx.log.clear();
    // Healthy: the start period is over for this run, the next failure counts (still inside
    // 2.5 s? no: 3.02 s; and even inside it would, once healthy).
    check(&mut m, &mut fx, end + MS(1000), 103, Exit::Code(1), 3);
    assert_eq!(fx.log[0], line("unhealthy", "code 1", 3));
}

#[test]
fn a_failure_after_the_start_period_counts() {
    let (mut m, mut fx, t0) = healthy_service(config(1, MS(900)));
    check(&mut m, &mut fx, t0 + MS(1000), 101, Exit::Code(1), 1);
    assert_eq!(fx.log[0], line("unhealthy", "code 1", 1));
    assert_eq!(fx.log[1], Fx::Signal(100, Signal::SIGTERM));
}

#[test]
fn the_end_of_run_kills_the_check_and_says_none() {
    let (mut m, mut fx, t0) = healthy_service(config(3, Duration::ZERO));
    let t = t0 + MS(1000);
    m.tick(t, wall(), &mut fx);
    fx.log.clear();
    m.child_exited(pid(100), Exit::Code(0), t, wall(), &mut fx);
    m.tick(t, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::KillHealth(101),
            Fx::HealthFile(Some("none".into())),
            Fx::Publish(Which::Main, "down".into()),
            Fx::Spawn(Which::Main, Prog::Run, 102),
            Fx::Publish(Which::Main, "run".into()),
            Fx::HealthFile(Some("starting".into())),
        ]
    );
    // The killed check's exit is nobody's answer.
    fx.log.clear();
    m.child_exited(
        pid(101),
        Exit::Signal {
            signo: 9,
            core: false,
        },
        t,
        at(1),
        &mut fx,
    );
    m.tick(t, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    assert_eq!(m.next_deadline(), Some(t + MS(1000)));
}

#[test]
fn checks_wait_for_readiness_and_pause() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None)
        .with_health_file(true)
        .with_ready_file(true);
    let mut fx = Rec {
        health: Some(config(3, Duration::ZERO)),
        source: Source::Check,
        ..Rec::default()
    };
    m.tick(t0, wall(), &mut fx);
    assert!(!fx.log.contains(&Fx::HealthFile(Some("starting".into()))));
    assert_eq!(m.next_deadline(), None, "./check runs, no health deadline");
    fx.log.clear();
    let t = t0 + MS(5);
    m.child_exited(pid(101), Exit::Code(0), t, wall(), &mut fx);
    m.tick(t, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Ready(Some(ready_line(100, wall()))),
            Fx::HealthFile(Some("starting".into())),
        ]
    );
    assert_eq!(m.next_deadline(), Some(t + MS(1000)));
    fx.log.clear();
    // Paused: no checks, none.
    m.control(Which::Main, Control::Pause, &mut fx);
    m.tick(t, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Signal(100, Signal::SIGSTOP),
            Fx::Publish(Which::Main, "run, paused".into()),
            Fx::HealthFile(Some("none".into())),
        ]
    );
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn without_health_nothing_happens_and_a_stale_file_goes() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None).with_health_file(false);
    let mut fx = Rec::default();
    m.publish(Which::Main, &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::HealthFile(None),
            Fx::Publish(Which::Main, "down".into()),
        ]
    );
    fx.log.clear();
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Run, 100),
            Fx::Publish(Which::Main, "run".into()),
        ]
    );
    assert_eq!(m.next_deadline(), None, "no timer at all");
    assert_eq!(m.health(), None);
}

#[test]
fn a_check_that_cannot_start_is_tried_an_interval_later_without_a_verdict() {
    let (mut m, mut fx, t0) = healthy_service(config(1, Duration::ZERO));
    fx.no_health = true;
    let t = t0 + MS(1000);
    m.tick(t, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::HealthFailed]);
    assert_eq!(m.next_deadline(), Some(t + MS(1000)));
}

#[test]
fn an_unhealthy_stop_sends_the_down_signal_and_arms_timeout_kill() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None).with_health_file(true);
    let mut fx = Rec {
        health: Some(config(1, Duration::ZERO)),
        policy: Policy {
            down_signal: Signal::SIGQUIT,
            timeout_kill: Some(MS(300)),
            ..Policy::default()
        },
        ..Rec::default()
    };
    m.tick(t0, wall(), &mut fx);
    fx.log.clear();
    let end = check(&mut m, &mut fx, t0 + MS(1000), 101, Exit::Code(1), 1);
    assert_eq!(
        fx.log,
        vec![
            line("unhealthy", "code 1", 1),
            Fx::Signal(100, Signal::SIGQUIT),
            Fx::Publish(Which::Main, "run, got TERM".into()),
        ]
    );
    assert_eq!(m.next_deadline(), Some(end + MS(300)), "the kill, at once");
    fx.log.clear();
    m.tick(end + MS(300), wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::KillRun(100, false)]);
}
