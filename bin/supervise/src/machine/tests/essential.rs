//! Essential services: the give-up rule and its report.

use super::*;

/// An essential service with `limit`, started at `t0` as pid 100.
fn essential(limit: u32) -> (Machine, Rec, Instant) {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None).with_essential(limit);
    let mut fx = Rec::default();
    m.tick(t0, wall(), &mut fx);
    fx.log.clear();
    (m, fx, t0)
}

/// `./run` (pid `pid`, started at `start`) ends with `exit` after `lived`; then the machine
/// ticks at the restart deadline. Returns what happened.
fn run_ends(
    m: &mut Machine,
    fx: &mut Rec,
    pid_: u32,
    start: Instant,
    lived: Duration,
    exit: Exit,
) -> Vec<Fx> {
    fx.log.clear();
    let t = start + lived;
    m.child_exited(pid(pid_), exit, t, wall(), fx);
    m.tick(t.max(start + THROTTLE), wall(), fx);
    std::mem::take(&mut fx.log)
}

#[test]
fn failure_limit_defaults_to_5() {
    assert_eq!(failure_limit(b"2"), 2);
    assert_eq!(failure_limit(b" 12\t\r\nmore"), 12);
    assert_eq!(failure_limit(b""), 5);
    assert_eq!(failure_limit(b"   "), 5);
    assert_eq!(failure_limit(b"two"), 5);
    assert_eq!(failure_limit(b"2 tries"), 5);
    assert_eq!(failure_limit(b"-1"), 5);
    assert_eq!(failure_limit(b"+2"), 5);
    assert_eq!(failure_limit(b"\xff"), 5);
    assert_eq!(failure_limit(b"0"), 1);
    assert_eq!(failure_limit(b"4294967295"), u32::MAX);
    // Beyond the range it saturates: practically never gives up.
    assert_eq!(failure_limit(b"4294967296"), u32::MAX);
    assert_eq!(failure_limit(b"99999999999999999999999"), u32::MAX);
}

#[test]
fn essential_stops_for_good_after_limit_failures_in_a_row() {
    let (mut m, mut fx, t0) = essential(2);
    let short = Duration::from_millis(10);
    let restart = |pid| {
        vec![
            Fx::Publish(Which::Main, "down".into()),
            Fx::Spawn(Which::Main, Prog::Run, pid),
            Fx::Publish(Which::Main, "run".into()),
        ]
    };
    assert_eq!(
        run_ends(&mut m, &mut fx, 100, t0, short, Exit::Code(3)),
        restart(101)
    );
    let t1 = t0 + THROTTLE;
    assert_eq!(
        run_ends(&mut m, &mut fx, 101, t1, short, Exit::Code(3)),
        vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(3)]
    );
    let st = m.status(Which::Main).expect("main");
    assert_eq!((st.state, st.want, st.pid), (State::Down, Want::Down, None));
    assert_eq!(m.next_deadline(), None);
    m.tick(t1 + Duration::from_secs(60), wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    // `u` starts it again with a fresh count: one failure is not enough any more.
    m.control(Which::Main, Control::Up, &mut fx);
    let t2 = t1 + Duration::from_secs(60);
    m.tick(t2, wall(), &mut fx);
    assert_eq!(fx.log[1], Fx::Spawn(Which::Main, Prog::Run, 102));
    assert_eq!(
        run_ends(&mut m, &mut fx, 102, t2, short, Exit::Code(3)),
        restart(103)
    );
}

#[test]
fn exit_0_and_a_stable_run_end_the_streak() {
    let (mut m, mut fx, t0) = essential(2);
    let short = Duration::from_millis(10);
    let mut t = t0;
    let mut pid = 100;
    let mut end = |m: &mut Machine, fx: &mut Rec, lived: Duration, exit: Exit| {
        let seen = run_ends(m, fx, pid, t, lived, exit);
        pid += 1;
        t = (t + lived).max(t + THROTTLE);
        seen.contains(&Fx::Stopped(exit.shell_code()))
    };
    assert!(!end(&mut m, &mut fx, short, Exit::Code(1)));
    assert!(!end(&mut m, &mut fx, short, Exit::Code(0)));
    assert!(!end(&mut m, &mut fx, short, Exit::Code(1)));
    // Failed, but after 10 s up: a new streak of one.
    assert!(!end(&mut m, &mut fx, STABLE, Exit::Code(1)));
    // 9.999 s is not stable.
    assert!(end(
        &mut m,
        &mut fx,
        STABLE - Duration::from_millis(1),
        Exit::Signal {
            signo: 9,
            core: true
        }
    ));
    assert_eq!(fx.log, vec![]);
    assert_eq!(m.status(Which::Main).map(|s| s.want), Some(Want::Down));
}

#[test]
fn essential_wanted_down_stops_for_good_with_runs_exit() {
    let (mut m, mut fx, t0) = essential(5);
    m.control(Which::Main, Control::Down, &mut fx);
    assert_eq!(
        run_ends(&mut m, &mut fx, 100, t0, THROTTLE, SIGTERM_EXIT),
        vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(143)]
    );
    // `o` on a down service: the run that ends is wanted down.
    m.control(Which::Main, Control::Once, &mut fx);
    let t1 = t0 + Duration::from_secs(5);
    m.tick(t1, wall(), &mut fx);
    assert_eq!(fx.log[1], Fx::Spawn(Which::Main, Prog::Run, 101));
    assert_eq!(
        run_ends(&mut m, &mut fx, 101, t1, THROTTLE, Exit::Code(0)),
        vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(0)]
    );
}

#[test]
fn essential_notice_comes_after_finish() {
    let (mut m, mut fx, t0) = essential(5);
    fx.finish = true;
    m.control(Which::Main, Control::Once, &mut fx);
    assert_eq!(
        run_ends(&mut m, &mut fx, 100, t0, THROTTLE, Exit::Code(7)),
        vec![
            Fx::Spawn(Which::Main, Prog::Finish(Exit::Code(7)), 101),
            Fx::Publish(Which::Main, "finish, want down".into()),
        ]
    );
    assert_eq!(
        run_ends(&mut m, &mut fx, 101, t0, THROTTLE, Exit::Code(0)),
        vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(7)]
    );
}

#[test]
fn essential_exit_stops_for_good() {
    let (mut m, mut fx, t0) = essential(5);
    m.terminate(&mut fx);
    let seen = run_ends(&mut m, &mut fx, 100, t0, THROTTLE, SIGTERM_EXIT);
    assert_eq!(
        seen,
        vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(143)]
    );
    assert!(m.done());
}

#[test]
fn runs_stopped_on_request_are_not_failures() {
    let (mut m, mut fx, t0) = essential(1);
    let short = Duration::from_millis(10);
    m.control(Which::Main, Control::Term, &mut fx);
    let seen = run_ends(&mut m, &mut fx, 100, t0, short, SIGTERM_EXIT);
    assert_eq!(seen[1], Fx::Spawn(Which::Main, Prog::Run, 101));
    m.control(Which::Main, Control::Kill, &mut fx);
    let kill = Exit::Signal {
        signo: 9,
        core: false,
    };
    let seen = run_ends(&mut m, &mut fx, 101, t0 + THROTTLE, short, kill);
    assert_eq!(seen[1], Fx::Spawn(Which::Main, Prog::Run, 102));
    // A signal from elsewhere is a failure.
    let seen = run_ends(&mut m, &mut fx, 102, t0 + THROTTLE * 2, short, kill);
    assert_eq!(
        seen,
        vec![Fx::Publish(Which::Main, "down".into()), Fx::Stopped(137)]
    );
}

#[test]
fn plain_service_never_stops_for_good() {
    let (mut m, mut fx, t0) = started(None);
    let mut t = t0;
    for pid in 100..110 {
        let seen = run_ends(&mut m, &mut fx, pid, t, Duration::ZERO, Exit::Code(3));
        assert_eq!(seen[1], Fx::Spawn(Which::Main, Prog::Run, pid + 1));
        t += THROTTLE;
    }
    m.control(Which::Main, Control::Down, &mut fx);
    let seen = run_ends(&mut m, &mut fx, 110, t, THROTTLE, SIGTERM_EXIT);
    assert_eq!(seen, vec![Fx::Publish(Which::Main, "down".into())]);
}

proptest::proptest! {
    /// `essential` of any bytes: a limit of at least 1; a first line of digits (blanks
    /// around) reads as their value, saturating.
    #[test]
    fn prop_failure_limit(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..64)) {
        proptest::prop_assert!(failure_limit(&bytes) >= 1);
    }

    #[test]
    fn prop_failure_limit_reads_digits(n in proptest::arbitrary::any::<u64>(), pad in "[ \t]{0,2}", rest in "(\n.*)?") {
        let text = format!("{pad}{n}{pad}{rest}");
        let want = u32::try_from(n).unwrap_or(u32::MAX).max(1);
        proptest::prop_assert_eq!(failure_limit(text.as_bytes()), want);
    }
}
