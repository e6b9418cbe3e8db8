//! runsv's rules: starts, the throttle, stops, letters, finish, exit.

use super::*;

#[test]
fn starts_log_first_then_run() {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, Some(false));
    let mut fx = Rec::default();
    m.tick(t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Log, Prog::Run, 100),
            Fx::Publish(Which::Log, "run".into()),
            Fx::Spawn(Which::Main, Prog::Run, 101),
            Fx::Publish(Which::Main, "run".into()),
        ]
    );
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn down_file_means_no_start() {
    let mut m = Machine::new(wall(), true, None);
    let mut fx = Rec::default();
    m.tick(Instant::now(), wall(), &mut fx);
    assert!(fx.log.is_empty());
    assert_eq!(m.status(Which::Main).map(|s| s.want), Some(Want::Down));
}

#[test]
fn quick_exit_is_throttled_by_a_deadline() {
    let (mut m, mut fx, t0) = started(None);
    let t1 = t0 + Duration::from_millis(10);
    m.child_exited(pid(100), Exit::Code(3), t1, wall(), &mut fx);
    m.tick(t1, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Publish(Which::Main, "down".into())]);
    assert_eq!(m.next_deadline(), Some(t0 + THROTTLE));
    fx.log.clear();
    // A control byte during the pause is handled at once.
    m.control(Which::Main, Control::Pause, &mut fx);
    assert_eq!(
        fx.log,
        vec![Fx::Publish(Which::Main, "down, paused".into())]
    );
    fx.log.clear();
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(fx.log[0], Fx::Spawn(Which::Main, Prog::Run, 101));
    assert_eq!(m.status(Which::Main).map(|s| s.paused), Some(false));
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn long_run_restarts_at_once() {
    let (mut m, mut fx, t0) = started(None);
    let t1 = t0 + Duration::from_secs(2);
    m.child_exited(pid(100), Exit::Code(0), t1, wall(), &mut fx);
    m.tick(t1, wall(), &mut fx);
    assert!(fx.log.contains(&Fx::Spawn(Which::Main, Prog::Run, 101)));
}

#[test]
fn down_during_throttle_cancels_the_start() {
    let (mut m, mut fx, t0) = started(None);
    m.child_exited(pid(100), Exit::Code(1), t0, wall(), &mut fx);
    m.control(Which::Main, Control::Down, &mut fx);
    assert_eq!(m.next_deadline(), None);
    fx.log.clear();
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert!(fx.log.is_empty());
}

#[test]
fn finish_gets_runs_exit() {
    let (mut m, mut fx, t0) = started(None);
    fx.finish = true;
    let sig = Exit::Signal {
        signo: 9,
        core: false,
    };
    m.child_exited(pid(100), sig, t0, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Finish(sig), 101),
            Fx::Publish(Which::Main, "finish".into())
        ]
    );
    fx.log.clear();
    // finish's own exit brings the service down; finish is not run again.
    m.child_exited(pid(101), Exit::Code(0), t0, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::Publish(Which::Main, "down".into())]);
}

#[test]
fn kill_during_finish_kills_finish_once() {
    let (mut m, mut fx, t0) = started(None);
    fx.finish = true;
    m.child_exited(pid(100), Exit::Code(0), t0, wall(), &mut fx);
    fx.log.clear();
    m.control(Which::Main, Control::Kill, &mut fx);
    assert_eq!(fx.log, vec![Fx::Signal(101, Signal::SIGKILL)]);
    fx.log.clear();
    m.child_exited(
        pid(101),
        Exit::Signal {
            signo: 9,
            core: false,
        },
        t0,
        wall(),
        &mut fx,
    );
    assert_eq!(fx.log, vec![Fx::Publish(Which::Main, "down".into())]);
}

#[test]
fn down_sends_term_then_cont() {
    let (mut m, mut fx, _) = started(None);
    m.control(Which::Main, Control::Down, &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Main, "run, want down".into()),
            Fx::Signal(100, Signal::SIGTERM),
            Fx::Publish(Which::Main, "run, got TERM, want down".into()),
            Fx::Signal(100, Signal::SIGCONT),
        ]
    );
}

#[test]
fn term_with_want_up_sends_no_cont() {
    let (mut m, mut fx, _) = started(None);
    m.control(Which::Main, Control::Term, &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Signal(100, Signal::SIGTERM),
            Fx::Publish(Which::Main, "run, got TERM".into())
        ]
    );
}

#[test]
fn custom_scripts_order() {
    let (mut m, mut fx, t0) = started(None);
    fx.scripts = true;
    fx.handled = vec![Control::Hup];
    m.control(Which::Main, Control::Hup, &mut fx);
    assert_eq!(fx.log, vec![Fx::Custom(Control::Hup)]);
    fx.log.clear();
    m.control(Which::Main, Control::Down, &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Main, "run, want down".into()),
            Fx::Custom(Control::Term),
            Fx::Signal(100, Signal::SIGTERM),
            Fx::Publish(Which::Main, "run, got TERM, want down".into()),
            Fx::Signal(100, Signal::SIGCONT),
            Fx::Custom(Control::Down),
        ]
    );
    fx.log.clear();
    m.child_exited(pid(100), Exit::Code(0), t0 + THROTTLE, wall(), &mut fx);
    m.control(Which::Main, Control::Once, &mut fx);
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(fx.log[2], Fx::Custom(Control::Up));
    assert_eq!(fx.log[3], Fx::Spawn(Which::Main, Prog::Run, 101));
}

#[test]
fn log_letters_run_no_scripts_and_ignore_exit() {
    let (mut m, mut fx, _) = started(Some(false));
    fx.scripts = true;
    m.control(Which::Log, Control::Exit, &mut fx);
    m.control(Which::Log, Control::Hup, &mut fx);
    assert_eq!(fx.log, vec![Fx::Signal(100, Signal::SIGHUP)]);
}

#[test]
fn unknown_bytes_change_nothing() {
    let (mut m, mut fx, _) = started(None);
    // The shell passes on only the bytes that are letters.
    for c in b"zZ\n?!".iter().filter_map(|&b| Control::from_byte(b)) {
        m.control(Which::Main, c, &mut fx);
    }
    assert!(fx.log.is_empty());
}

#[test]
fn pause_while_down_is_recorded() {
    let mut m = Machine::new(wall(), true, None);
    let mut fx = Rec::default();
    m.control(Which::Main, Control::Pause, &mut fx);
    assert_eq!(
        fx.log,
        vec![Fx::Publish(Which::Main, "down, paused".into())]
    );
}

#[test]
fn once_runs_one_time() {
    let mut m = Machine::new(wall(), true, None);
    let mut fx = Rec::default();
    let t0 = Instant::now();
    m.control(Which::Main, Control::Once, &mut fx);
    m.tick(t0, wall(), &mut fx);
    assert!(fx.log.contains(&Fx::Spawn(Which::Main, Prog::Run, 100)));
    let t1 = t0 + Duration::from_secs(5);
    m.child_exited(pid(100), Exit::Code(0), t1, wall(), &mut fx);
    fx.log.clear();
    m.tick(t1, wall(), &mut fx);
    assert!(fx.log.is_empty());
}

#[test]
fn exit_stops_service_then_closes_log_pipe() {
    let (mut m, mut fx, t0) = started(Some(false));
    m.terminate(&mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Main, "run, want exit".into()),
            Fx::Signal(101, Signal::SIGTERM),
            Fx::Publish(Which::Main, "run, got TERM, want exit".into()),
            Fx::Signal(101, Signal::SIGCONT),
        ]
    );
    fx.log.clear();
    let t1 = t0 + Duration::from_millis(5);
    m.child_exited(
        pid(101),
        Exit::Signal {
            signo: 15,
            core: false,
        },
        t1,
        wall(),
        &mut fx,
    );
    m.tick(t1, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Publish(Which::Main, "down".into()),
            Fx::Publish(Which::Log, "run, want exit".into()),
            Fx::ClosePipe,
        ]
    );
    assert!(!m.done());
    assert_eq!(m.next_deadline(), None);
    m.child_exited(pid(100), Exit::Code(0), t1, wall(), &mut fx);
    m.tick(t1, wall(), &mut fx);
    assert!(m.done());
}

#[test]
fn exit_is_final() {
    let (mut m, mut fx, t0) = started(None);
    for c in [Control::Exit, Control::Up] {
        m.control(Which::Main, c, &mut fx);
    }
    m.child_exited(
        pid(100),
        Exit::Signal {
            signo: 15,
            core: false,
        },
        t0,
        wall(),
        &mut fx,
    );
    fx.log.clear();
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert!(fx.log.is_empty(), "{:?}", fx.log);
    assert!(m.done());
}

#[test]
fn exit_without_log_is_immediate_when_down() {
    let mut m = Machine::new(wall(), true, None);
    let mut fx = Rec::default();
    m.terminate(&mut fx);
    m.tick(Instant::now(), wall(), &mut fx);
    assert!(m.done());
}

#[test]
fn term_ignoring_service_keeps_supervise_waiting() {
    let (mut m, mut fx, t0) = started(None);
    m.terminate(&mut fx);
    m.tick(t0, wall(), &mut fx);
    assert!(!m.done());
    assert_eq!(
        m.status(Which::Main)
            .map(|s| String::from_utf8_lossy(s.stat_text().as_bytes()).into_owned()),
        Some("run, got TERM, want exit\n".into())
    );
}
