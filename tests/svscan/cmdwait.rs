//! The main command waiting for the services (`SVSCAN_CMD_WAIT`, docs/svscan.md, "Main
//! command"; docs/readiness.md): it starts once every service is ready, not before; when the
//! maximum passes, one line names the services not ready, everything stops in order and svscan
//! exits 99; s6-overlay's names work too, ours winning; a `status` left by a killed svscan is
//! not taken for readiness.
//!
//! Run scripts append timestamped lines (`date +%s%N`) to `SC/marks/events`.

use super::*;

/// `SC/marks/events`, created empty.
fn events(sc: &Scenario) -> PathBuf {
    let _ = fs::create_dir(sc.join("marks"));
    sc.join("marks/events")
}

/// A service `scan/NAME` that is ready (notification-fd 3) `after` seconds after it starts,
/// and appends `NAME ready NS` to the events just before.
fn slow_service(sc: &Scenario, name: &str, after: &str) {
    let ev = events(sc);
    sc.service(
        &format!("scan/{name}"),
        &format!(
            "#!/bin/sh\n\
             sleep {after}\n\
             echo {name} ready $(date +%s%N) >> {}\n\
             echo >&3\n\
             exec 3>&-\n\
             exec sleep 1000\n",
            ev.display()
        ),
    );
    sc.file(format!("scan/{name}/notification-fd"), "3\n", 0o644);
}

/// A service that never says it is ready.
fn never_ready(sc: &Scenario, name: &str) {
    sc.service(&format!("scan/{name}"), RUN_SLEEP);
    sc.file(format!("scan/{name}/notification-fd"), "3\n", 0o644);
}

/// The main command: appends `main start NS` to the events and exits 0.
fn main_cmd(sc: &Scenario) -> Vec<String> {
    vec![
        "--".into(),
        "sh".into(),
        "-c".into(),
        format!("echo main start $(date +%s%N) >> {}", events(sc).display()),
    ]
}

/// `(what, ns)` of each line of the events.
fn timeline(sc: &Scenario) -> Vec<(String, u128)> {
    read(&events(sc))
        .lines()
        .filter_map(|l| {
            let (what, ns) = l.rsplit_once(' ')?;
            Some((what.to_string(), ns.parse().ok()?))
        })
        .collect()
}

fn svscan_args(sc: &Scenario) -> Vec<String> {
    let mut a = vec![sc.join("scan").display().to_string()];
    a.extend(main_cmd(sc));
    a
}

#[test]
fn the_main_command_starts_once_every_service_is_ready_and_not_before() {
    let sc = Scenario::new();
    slow_service(&sc, "slow", "1");
    sc.service("scan/plain", RUN_SLEEP);
    let mut s = Svscan::start_env(&sc, &svscan_args(&sc), &[("SVSCAN_CMD_WAIT", "1")]);
    assert_eq!(s.proc.wait(Duration::from_secs(10)), Some(0));
    let t = timeline(&sc);
    let what: Vec<&str> = t.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(what, ["slow ready", "main start"]);
    eprintln!(
        "the main command started {:.2} ms after the last service was ready",
        (t[1].1 - t[0].1) as f64 / 1e6
    );
    assert_eq!(s.stderr(), "");
}

/// y depends on x; `never` never says it is ready. After the maximum: the line, a stop in
/// order (y's TERM trap sees x alive), exit 99, and the main command never ran.
#[test]
fn services_not_ready_at_the_maximum_stop_everything_in_order_with_99() {
    let sc = Scenario::new();
    let dir = sc.path().display();
    never_ready(&sc, "never");
    sc.service(
        "scan/x",
        &format!(
            "#!/bin/sh\necho $$ > {dir}/x.pid\n\
             trap 'echo x TERM >> {dir}/term.txt; exit 0' TERM\n\
             sleep 1000 & wait\n"
        ),
    );
    sc.service(
        "scan/y",
        &format!(
            "#!/bin/sh\n\
             trap 'sleep 0.3; if kill -0 $(cat {dir}/x.pid); then s=alive; else s=dead; fi; \
             echo y TERM x $s >> {dir}/term.txt; exit 0' TERM\n\
             sleep 1000 & wait\n"
        ),
    );
    sc.file("scan/y/dependencies.d/x", "", 0o644);
    let scan = sc.join("scan");
    let t0 = Instant::now();
    let mut s = Svscan::start_env(
        &sc,
        &svscan_args(&sc),
        &[
            ("SVSCAN_CMD_WAIT", "1"),
            ("SVSCAN_CMD_WAIT_MAXTIME", "1500"),
        ],
    );
    assert_eq!(s.proc.wait(Duration::from_secs(10)), Some(99));
    let took = t0.elapsed();
    eprintln!("svscan exited after {took:?}");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "{took:?}"
    );
    // y says it waits for x only if it looked before x was up.
    let err = s.stderr();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| *l != "supervise y: waiting for x")
        .collect();
    assert_eq!(
        lines,
        [format!(
            "svscan {}: fatal: unable to run sh: services not ready after 1500 ms: never",
            scan.display()
        )]
    );
    assert_eq!(read(&sc.join("term.txt")), "y TERM x alive\nx TERM\n");
    assert_eq!(timeline(&sc), []);
    assert_eq!(pids_with_cwd_under(sc.path()), Vec::<u32>::new());
}

/// s6-overlay's names work; where both are set, ours win.
#[test]
fn s6_overlays_names_are_aliases_and_ours_win() {
    for (env, ms) in [
        (
            vec![
                ("S6_CMD_WAIT_FOR_SERVICES", "1"),
                ("S6_CMD_WAIT_FOR_SERVICES_MAXTIME", "200"),
            ],
            200,
        ),
        (
            vec![
                ("S6_CMD_WAIT_FOR_SERVICES", "1"),
                ("S6_CMD_WAIT_FOR_SERVICES_MAXTIME", "60000"),
                ("SVSCAN_CMD_WAIT_MAXTIME", "250"),
            ],
            250,
        ),
    ] {
        let sc = Scenario::new();
        never_ready(&sc, "never");
        let mut s = Svscan::start_env(&sc, &svscan_args(&sc), &env);
        assert_eq!(s.proc.wait(Duration::from_secs(10)), Some(99), "{env:?}");
        assert_eq!(
            s.stderr(),
            format!(
                "svscan {}: fatal: unable to run sh: services not ready after {ms} ms: never\n",
                sc.join("scan").display()
            )
        );
    }
}

/// A `supervise/status` and `supervise/ready` left by an svscan that was SIGKILLed with its
/// supervisors say `ready`: the next svscan's main command still waits for the new instance.
#[test]
fn a_status_left_by_a_killed_svscan_is_not_taken_for_readiness() {
    let sc = Scenario::new();
    slow_service(&sc, "slow", "1");
    let scan = sc.join("scan");
    let first = Svscan::start(&sc, &[&scan]);
    wait_for("slow ready", Duration::from_secs(10), || {
        timeline(&sc).len() == 1
    });
    wait_for("supervise/ready to say so", DEADLINE, || {
        read(&scan.join("slow/supervise/ready")).starts_with("ready ")
    });
    kill_tree(first.pid());
    drop(first);
    assert!(read(&scan.join("slow/supervise/ready")).starts_with("ready "));
    fs::remove_file(events(&sc)).unwrap();
    let mut s = Svscan::start_env(&sc, &svscan_args(&sc), &[("SVSCAN_CMD_WAIT", "1")]);
    assert_eq!(s.proc.wait(Duration::from_secs(10)), Some(0));
    let what: Vec<String> = timeline(&sc).into_iter().map(|(w, _)| w).collect();
    assert_eq!(what, ["slow ready", "main start"]);
}
