//! Stop and restart policies, and `supervise/runs`: exact effects for each transition.

use super::*;

const MS: Duration = Duration::from_millis(1);

/// A main service with `policy`, started at `t0` as pid 100, `supervise/runs` recorded.
fn with_policy(policy: Policy, essential: Option<u32>) -> (Machine, Rec, Instant) {
    let t0 = Instant::now();
    let mut m = Machine::new(wall(), false, None);
    if let Some(limit) = essential {
        m = m.with_essential(limit);
    }
    let mut fx = Rec {
        policy,
        runs: true,
        ..Rec::default()
    };
    m.tick(t0, wall(), &mut fx);
    (m, fx, t0)
}

fn publish(s: &str) -> Fx {
    Fx::Publish(Which::Main, s.into())
}

fn runs(s: &str) -> Fx {
    Fx::Runs(s.into())
}

fn backoff(min: u32, max: u32) -> Policy {
    Policy {
        backoff: Some(Backoff {
            min: min * MS,
            max: max * MS,
        }),
        ..Policy::default()
    }
}

#[test]
fn runs_is_written_after_the_status_at_each_start_and_end() {
    let (mut m, mut fx, t0) = with_policy(Policy::default(), None);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Run, 100),
            publish("run"),
            runs("runs 1 exit none")
        ]
    );
    fx.log.clear();
    // A pause changes the status only.
    m.control(Which::Main, Control::Pause, &mut fx);
    assert_eq!(
        fx.log,
        vec![Fx::Signal(100, Signal::SIGSTOP), publish("run, paused")]
    );
    fx.log.clear();
    m.child_exited(pid(100), Exit::Code(4), t0 + MS, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![publish("down, paused"), runs("runs 1 exit code 4")]
    );
    fx.log.clear();
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Run, 101),
            publish("run"),
            runs("runs 2 exit code 4")
        ]
    );
}

#[test]
fn a_restart_due_at_once_writes_runs_once_with_the_start() {
    let (mut m, mut fx, t0) = with_policy(Policy::default(), None);
    m.control(Which::Main, Control::Term, &mut fx);
    fx.log.clear();
    // Up past the throttle: the start is due as soon as it is down.
    let t1 = t0 + THROTTLE + MS;
    m.child_exited(pid(100), SIGTERM_EXIT, t1, wall(), &mut fx);
    assert_eq!(fx.log, vec![publish("down")]);
    fx.log.clear();
    m.tick(t1, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Run, 101),
            publish("run"),
            runs("runs 2 exit signal 15")
        ]
    );
    fx.log.clear();
    // Throttled: the end writes it, and the start again.
    m.child_exited(pid(101), Exit::Code(1), t1 + MS, wall(), &mut fx);
    assert_eq!(fx.log, vec![publish("down"), runs("runs 2 exit code 1")]);
}

#[test]
fn a_held_runs_is_written_when_the_start_does_not_come() {
    let t1 = Instant::now() + THROTTLE + MS;
    // Its fork fails: written in the same tick.
    let (mut m, mut fx, _) = with_policy(Policy::default(), None);
    m.child_exited(pid(100), Exit::Code(0), t1, wall(), &mut fx);
    fx.no_fork = true;
    fx.log.clear();
    m.tick(t1, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::ForkFailed(Which::Main, Prog::Run),
            runs("runs 1 exit code 0")
        ]
    );
    // It waits for a dependency: written before the wait is.
    let (mut m, mut fx, _) = with_policy(Policy::default(), None);
    m.child_exited(pid(100), Exit::Code(0), t1, wall(), &mut fx);
    fx.unmet = unmet("db", true);
    fx.log.clear();
    m.tick(t1, wall(), &mut fx);
    assert_eq!(fx.log[0], runs("runs 1 exit code 0"));
    assert_eq!(fx.log[1], Fx::Waiting("db".into(), true));
    // A letter in between writes it with its status.
    let (mut m, mut fx, _) = with_policy(Policy::default(), None);
    m.child_exited(pid(100), Exit::Code(0), t1, wall(), &mut fx);
    fx.log.clear();
    m.control(Which::Main, Control::Down, &mut fx);
    m.tick(t1, wall(), &mut fx);
    assert_eq!(fx.log, vec![publish("down"), runs("runs 1 exit code 0")]);
}

#[test]
fn down_signal_replaces_term_and_cont_follows() {
    let policy = Policy {
        down_signal: Signal::SIGQUIT,
        ..Policy::default()
    };
    let (mut m, mut fx, _) = with_policy(policy, None);
    fx.log.clear();
    m.control(Which::Main, Control::Term, &mut fx);
    assert_eq!(
        fx.log,
        vec![Fx::Signal(100, Signal::SIGQUIT), publish("run, got TERM")]
    );
    fx.log.clear();
    m.control(Which::Main, Control::Down, &mut fx);
    assert_eq!(
        fx.log,
        vec![
            publish("run, got TERM, want down"),
            Fx::Signal(100, Signal::SIGQUIT),
            publish("run, got TERM, want down"),
            Fx::Signal(100, Signal::SIGCONT),
        ]
    );
    // No timeout-kill: no deadline at all.
    assert_eq!(m.next_deadline(), None);
}

#[test]
fn a_control_script_still_wins_over_down_signal() {
    let policy = Policy {
        down_signal: Signal::SIGQUIT,
        ..Policy::default()
    };
    let (mut m, mut fx, _) = with_policy(policy, None);
    fx.handled = vec![Control::Term];
    fx.log.clear();
    m.control(Which::Main, Control::Term, &mut fx);
    assert_eq!(fx.log, vec![]);
}

#[test]
fn timeout_kill_follows_the_down_signal() {
    for killpg in [false, true] {
        let policy = Policy {
            timeout_kill: Some(300 * MS),
            killpg,
            ..Policy::default()
        };
        let (mut m, mut fx, t0) = with_policy(policy, None);
        let t1 = t0 + 50 * MS;
        m.control(Which::Main, Control::Down, &mut fx);
        m.tick(t1, wall(), &mut fx);
        assert_eq!(m.next_deadline(), Some(t1 + 300 * MS));
        fx.log.clear();
        m.tick(t1 + 299 * MS, wall(), &mut fx);
        assert_eq!(fx.log, vec![]);
        m.tick(t1 + 300 * MS, wall(), &mut fx);
        assert_eq!(fx.log, vec![Fx::KillRun(100, killpg)]);
        assert_eq!(m.next_deadline(), None);
        fx.log.clear();
        // Killed by the SIGKILL supervise sent: asked, not a failure.
        let killed = Exit::Signal {
            signo: 9,
            core: false,
        };
        m.child_exited(pid(100), killed, t1 + 301 * MS, wall(), &mut fx);
        assert_eq!(fx.log, vec![publish("down"), runs("runs 1 exit signal 9")]);
    }
}

#[test]
fn timeout_kill_is_cancelled_by_the_exit() {
    let policy = Policy {
        timeout_kill: Some(300 * MS),
        ..Policy::default()
    };
    let (mut m, mut fx, t0) = with_policy(policy, None);
    m.control(Which::Main, Control::Term, &mut fx);
    m.tick(t0, wall(), &mut fx);
    m.child_exited(pid(100), SIGTERM_EXIT, t0 + 10 * MS, wall(), &mut fx);
    fx.log.clear();
    m.tick(t0 + THROTTLE, wall(), &mut fx);
    assert_eq!(fx.log[0], Fx::Spawn(Which::Main, Prog::Run, 101));
    fx.log.clear();
    m.tick(t0 + THROTTLE + 400 * MS, wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
}

#[test]
fn timeout_finish_kills_finish() {
    let policy = Policy {
        timeout_finish: Some(500 * MS),
        ..Policy::default()
    };
    let (mut m, mut fx, t0) = with_policy(policy, None);
    fx.finish = true;
    fx.log.clear();
    m.child_exited(pid(100), Exit::Code(0), t0 + MS, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            Fx::Spawn(Which::Main, Prog::Finish(Exit::Code(0)), 101),
            publish("finish"),
            runs("runs 1 exit code 0")
        ]
    );
    assert_eq!(m.next_deadline(), Some(t0 + 501 * MS));
    fx.log.clear();
    m.tick(t0 + 501 * MS, wall(), &mut fx);
    assert_eq!(fx.log, vec![Fx::KillFinish(101)]);
}

/// `./run` (pid `p`) fails at once at `t`; the next start comes at the deadline: returns it.
fn fail_at(m: &mut Machine, fx: &mut Rec, p: u32, t: Instant, exit: Exit) -> Instant {
    m.child_exited(pid(p), exit, t, wall(), fx);
    // No deadline: the start is due at once.
    let next = m.next_deadline().unwrap_or(t);
    fx.log.clear();
    if next > t {
        m.tick(next - MS, wall(), fx);
        assert_eq!(fx.log, vec![], "no start before the deadline");
    }
    m.tick(next, wall(), fx);
    assert_eq!(fx.log[0], Fx::Spawn(Which::Main, Prog::Run, p + 1));
    fx.log.clear();
    next
}

#[test]
fn backoff_doubles_up_to_max_and_a_success_resets_it() {
    let (mut m, mut fx, t0) = with_policy(backoff(100, 800), None);
    let mut t = t0;
    let mut p = 100;
    let mut waits = vec![];
    for _ in 0..5 {
        let next = fail_at(&mut m, &mut fx, p, t, Exit::Code(1));
        waits.push((next - t).as_millis());
        t = next;
        p += 1;
    }
    assert_eq!(waits, vec![100, 200, 400, 800, 800]);
    // Exit 0 is not a failure: runsv's throttle (1 s after the start), and the streak ends.
    let next = fail_at(&mut m, &mut fx, p, t + 5 * MS, Exit::Code(0));
    assert_eq!(next - t, THROTTLE);
    let next2 = fail_at(&mut m, &mut fx, p + 1, next, Exit::Code(1));
    assert_eq!((next2 - next).as_millis(), 100);
}

#[test]
fn backoff_resets_after_a_run_of_ten_seconds() {
    let (mut m, mut fx, t0) = with_policy(backoff(100, 800), None);
    let t1 = fail_at(&mut m, &mut fx, 100, t0, Exit::Code(1));
    let t2 = fail_at(&mut m, &mut fx, 101, t1, Exit::Code(1));
    assert_eq!((t2 - t1).as_millis(), 200);
    // Up just under 10 s: the streak goes on.
    let end = t2 + BACKOFF_RESET - MS;
    let t3 = fail_at(&mut m, &mut fx, 102, end, Exit::Code(1));
    assert_eq!((t3 - end).as_millis(), 400);
    let end = t3 + BACKOFF_RESET;
    let t4 = fail_at(&mut m, &mut fx, 103, end, Exit::Code(1));
    assert_eq!((t4 - end).as_millis(), 100);
}

#[test]
fn a_stop_that_supervise_asked_for_is_not_a_failure() {
    let (mut m, mut fx, t0) = with_policy(backoff(100, 800), None);
    m.control(Which::Main, Control::Term, &mut fx);
    let next = fail_at(&mut m, &mut fx, 100, t0 + 5 * MS, SIGTERM_EXIT);
    assert_eq!(next - t0, THROTTLE);
}

fn limit(count: u32, secs: u64) -> Policy {
    Policy {
        limit: Some(Limit {
            count,
            within: Duration::from_secs(secs),
        }),
        ..Policy::default()
    }
}

#[test]
fn restart_limit_gives_up_and_u_clears_it() {
    let (mut m, mut fx, t0) = with_policy(limit(3, 10), None);
    let t1 = fail_at(&mut m, &mut fx, 100, t0, Exit::Code(1));
    let t2 = fail_at(&mut m, &mut fx, 101, t1, Exit::Code(1));
    m.child_exited(pid(102), Exit::Code(1), t2, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![publish("down"), runs("runs 3 exit code 1 failed")]
    );
    assert_eq!(m.next_deadline(), None);
    fx.log.clear();
    m.tick(t2 + Duration::from_secs(60), wall(), &mut fx);
    assert_eq!(fx.log, vec![]);
    m.control(Which::Main, Control::Up, &mut fx);
    assert_eq!(fx.log, vec![publish("down"), runs("runs 3 exit code 1")]);
    fx.log.clear();
    // A fresh count: the next failure restarts.
    let t3 = t2 + Duration::from_secs(60);
    m.tick(t3, wall(), &mut fx);
    fx.log.clear();
    fail_at(&mut m, &mut fx, 103, t3, Exit::Code(1));
}

#[test]
fn restart_limit_counts_within_its_window_only() {
    let (mut m, mut fx, t0) = with_policy(limit(3, 10), None);
    let t1 = fail_at(&mut m, &mut fx, 100, t0, Exit::Code(1));
    // 11 s later: the first failure is out of the window.
    let late = t1 + Duration::from_secs(11);
    let t2 = fail_at(&mut m, &mut fx, 101, late, Exit::Code(1));
    let t3 = fail_at(&mut m, &mut fx, 102, t2, Exit::Code(1));
    m.child_exited(pid(103), Exit::Code(1), t3, wall(), &mut fx);
    assert_eq!(fx.log[1], runs("runs 4 exit code 1 failed"));
}

#[test]
fn restart_limit_of_an_essential_service_reports_its_code() {
    let (mut m, mut fx, t0) = with_policy(limit(2, 10), Some(5));
    let t1 = fail_at(&mut m, &mut fx, 100, t0, Exit::Code(3));
    m.child_exited(pid(101), Exit::Code(7), t1, wall(), &mut fx);
    assert_eq!(
        fx.log,
        vec![
            publish("down"),
            runs("runs 2 exit code 7 failed"),
            Fx::Stopped(7)
        ]
    );
}

#[test]
fn policy_files_parse() {
    assert_eq!(parse_down_signal(b"QUIT\n"), Some(Signal::SIGQUIT));
    assert_eq!(parse_down_signal(b"SIGWINCH"), Some(Signal::SIGWINCH));
    assert_eq!(parse_down_signal(b"3"), Some(Signal::SIGQUIT));
    assert_eq!(parse_down_signal(b"quit"), None);
    assert_eq!(parse_down_signal(b"40"), None);
    assert_eq!(parse_down_signal(b""), None);
    assert_eq!(parse_timeout(b"300\n"), Ok(Some(300 * MS)));
    assert_eq!(parse_timeout(b"0"), Ok(None));
    assert!(parse_timeout(b"3s").is_err());
    assert_eq!(
        parse_backoff(b" 100\t800 \n"),
        Some(Backoff {
            min: 100 * MS,
            max: 800 * MS
        })
    );
    assert_eq!(parse_backoff(b"800 100"), None);
    assert_eq!(parse_backoff(b"0 100"), None);
    assert_eq!(parse_backoff(b"100"), None);
    assert_eq!(parse_backoff(b"1 2 3"), None);
    assert_eq!(
        parse_limit(b"3 10"),
        Some(Limit {
            count: 3,
            within: Duration::from_secs(10)
        })
    );
    assert_eq!(
        parse_limit(b"99999 0.5").map(|l| l.count),
        Some(LIMIT_MAX_COUNT)
    );
    assert_eq!(parse_limit(b"0 10"), None);
    assert_eq!(parse_limit(b"3"), None);
}
