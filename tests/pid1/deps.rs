//! Dependencies under svscan as PID 1 (docs/readiness.md): a chain starts from its bottom, each
//! service as soon as its dependency is ready, and stops from its top, each TERM trap seeing its
//! dependency still running; a cycle and a missing dependency hang nothing; a tree without
//! `dependencies.d/` stops all at once, as before.
//!
//! Each run script (bash, for its `$EPOCHREALTIME`: a time stamp without a fork) appends
//! `NAME start NS` to `SC/start.txt` and its pid to `SC/NAME.pid`; each TERM trap appends one
//! line to `SC/term.txt`.

use super::*;

/// The time in nanoseconds, in bash, without a fork (microseconds, then three zeros).
const NOW: &str = "${EPOCHREALTIME/./}000";

/// A service `scan/NAME` depending on `deps`. Its TERM trap waits `linger` (so that a
/// dependency told at the same moment would be gone by then), then appends `NAME TERM` to
/// `SC/term.txt` with ` DEP alive` or ` DEP dead` for each dependency, and exits 0. `ready`:
/// shell lines run before the service idles (after its start line).
fn chain_service(sc: &Scenario, name: &str, deps: &[&str], linger: &str, ready: &str) {
    let dir = sc.path().display();
    let checks: String = deps
        .iter()
        .map(|d| {
            format!(
                "if kill -0 $(cat {dir}/{d}.pid) 2>/dev/null; then s=\"$s {d} alive\"; else s=\"$s {d} dead\"; fi; "
            )
        })
        .collect();
    sc.service(
        &format!("scan/{name}"),
        &format!(
            "#!/bin/bash\n\
             echo {name} start {NOW} >> {dir}/start.txt\n\
             echo $$ > {dir}/{name}.pid\n\
             trap 's=\"{name} TERM\"; sleep {linger}; {checks}echo \"$s\" >> {dir}/term.txt; exit 0' TERM\n\
             {ready}\
             sleep 1000 & wait\n"
        ),
    );
    if !deps.is_empty() {
        for d in deps {
            sc.file(format!("scan/{name}/dependencies.d/{d}"), "", 0o644);
        }
    }
}

/// `(name, nanoseconds)` of each `NAME start NS` line of `SC/start.txt`, in order.
fn starts(sc: &Scenario) -> Vec<(String, u128)> {
    read(&sc.join("start.txt"))
        .lines()
        .filter_map(|l| {
            let mut w = l.split(' ');
            let name = w.next()?.to_string();
            let _ = w.next()?;
            Some((name, w.next()?.parse().ok()?))
        })
        .collect()
}

/// Shell lines that make a service ready (notification-fd 3) after `sleep` seconds, appending
/// `NAME ready NS` to `SC/start.txt` just before.
fn ready_after(sc: &Scenario, name: &str, sleep: &str) -> String {
    sc.file(format!("scan/{name}/notification-fd"), "3\n", 0o644);
    format!(
        "sleep {sleep}\n\
         echo {name} ready {NOW} >> {}/start.txt\n\
         echo >&3\n\
         exec 3>&-\n",
        sc.path().display()
    )
}

/// c depends on b, b on a; a is ready 1 s after it starts, b at once (both by notification-fd,
/// so that each readiness has its time stamp). They start a, b, c, each within 20 ms of its
/// dependency's readiness; at SIGTERM they stop c, b, a, each TERM trap seeing its dependency
/// alive; svscan exits 0.
#[test]
fn a_chain_starts_from_its_bottom_and_stops_from_its_top() {
    let sc = Scenario::new();
    let a_ready = ready_after(&sc, "a", "1");
    chain_service(&sc, "a", &[], "0", &a_ready);
    let b_ready = ready_after(&sc, "b", "0");
    chain_service(&sc, "b", &["a"], "0.3", &b_ready);
    chain_service(&sc, "c", &["b"], "0.3", "");
    let mut ns = Ns::start(&sc, &[sc.join("scan").to_str().unwrap()]);
    wait_for("c to start", Duration::from_secs(10), || {
        starts(&sc).iter().any(|(n, _)| n == "c")
    });
    wait_for("every pid file", DEADLINE, || {
        ["a", "b", "c"]
            .iter()
            .all(|n| !read(&sc.join(format!("{n}.pid"))).is_empty())
    });
    let got = starts(&sc);
    let order: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    // start, ready, start, ready, start.
    assert_eq!(order, ["a", "a", "b", "b", "c"], "start.txt: {got:?}");
    let at: Vec<u128> = got.iter().map(|(_, t)| *t).collect();
    let ms = |ns: u128| ns as f64 / 1e6;
    let (b_after, c_after) = (at[2] - at[1], at[4] - at[3]);
    eprintln!(
        "a ready {:.1} ms after its start; b started {:.2} ms after a was ready, c {:.2} ms \
         after b was",
        ms(at[1] - at[0]),
        ms(b_after),
        ms(c_after)
    );
    assert!(at[1] - at[0] >= 1_000_000_000);
    assert!(b_after < 20_000_000, "b started {:.2} ms late", ms(b_after));
    assert!(c_after < 20_000_000, "c started {:.2} ms late", ms(c_after));
    let (code, took) = ns.stop(&sc, libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert_eq!(
        read(&sc.join("term.txt")),
        "c TERM b alive\nb TERM a alive\na TERM\n"
    );
    // Two layers each wait 0.3 s in their trap.
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    assert_eq!(
        sorted(&ns.stderr()),
        ["supervise b: waiting for a", "supervise c: waiting for b"]
    );
}

/// The lines of `text`, sorted (supervisors write concurrently).
fn sorted(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.lines().collect();
    v.sort();
    v
}

/// x and y depend on each other, z on a service that does not exist: one line for the cycle,
/// one for z; x and y start, z waits; SIGTERM stops everything at once and svscan exits 0.
#[test]
fn a_cycle_and_a_missing_dependency_hang_nothing() {
    let sc = Scenario::new();
    chain_service(&sc, "x", &["y"], "0", "");
    chain_service(&sc, "y", &["x"], "0", "");
    chain_service(&sc, "z", &["missing"], "0", "");
    let mut ns = Ns::start(&sc, &[sc.join("scan").to_str().unwrap()]);
    wait_for("x and y to start", DEADLINE, || starts(&sc).len() == 2);
    wait_for("the supervisors' lines", DEADLINE, || {
        ns.stderr().lines().count() == 2
    });
    std::thread::sleep(QUIET);
    let mut started: Vec<String> = starts(&sc).into_iter().map(|(n, _)| n).collect();
    started.sort();
    assert_eq!(started, ["x", "y"], "z must not start");
    let (code, took) = ns.stop(&sc, libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(1), "shutdown took {took:?}");
    // A cycle stops in one layer: each may see the other alive or gone.
    let mut term: Vec<String> = read(&sc.join("term.txt"))
        .lines()
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    term.sort();
    assert_eq!(term, ["x TERM", "y TERM"]);
    assert_eq!(
        sorted(&ns.stderr()),
        [
            "supervise x: warning: dependency cycle: x -> y -> x: \
             its services start without waiting for each other",
            "supervise z: waiting for missing, which does not exist yet",
        ]
    );
}

/// Services without `dependencies.d/` are one layer: every TERM at once, as before issue 15
/// (each trap waits 0.3 s: layers would space them by that much).
#[test]
fn a_tree_without_dependencies_stops_at_once() {
    let sc = Scenario::new();
    let dir = sc.path().display();
    let names = names(5);
    for n in &names {
        sc.service(
            &format!("scan/{n}"),
            &format!(
                "#!/bin/sh\n\
                 trap 'echo {n} $(date +%s%N) >> {dir}/term.txt; sleep 0.3; exit 0' TERM\n\
                 echo {n} >> {dir}/up.txt\n\
                 sleep 1000 & wait\n"
            ),
        );
    }
    let mut ns = Ns::start(&sc, &[sc.join("scan").to_str().unwrap()]);
    wait_up(&sc, names.len());
    let (code, took) = ns.stop(&sc, libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(code, Some(0));
    let at: Vec<u128> = read(&sc.join("term.txt"))
        .lines()
        .filter_map(|l| l.split(' ').nth(1)?.parse().ok())
        .collect();
    assert_eq!(at.len(), names.len());
    let spread = at.iter().max().unwrap() - at.iter().min().unwrap();
    eprintln!("TERM spread {:.2} ms, stop {took:?}", spread as f64 / 1e6);
    assert!(spread < 200_000_000, "TERMs spread over {spread} ns");
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert_eq!(ns.stderr(), "");
}
