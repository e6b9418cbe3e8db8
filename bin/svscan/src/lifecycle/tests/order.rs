//! The stop order: dependents first, layer by layer, each layer told once the one before has
//! exited; the three-quarters SIGKILL to every service left whatever its layer.

use super::*;

fn deps(pairs: &[(&str, &[&str])]) -> Vec<(OsString, Vec<OsString>)> {
    pairs.iter().map(|(n, d)| (n.into(), names(d))).collect()
}

fn told(names_: &[&str], first: &[Effect]) -> Vec<Effect> {
    let mut v = vec![
        say(Progress::ShuttingDown),
        Effect::Unwatch,
        say(Progress::StoppingServices),
        Effect::FindOrphans,
        Effect::ReadDependencies(names(names_)),
    ];
    v.extend_from_slice(first);
    v
}

/// c depends on b, b on a: c (102) stops first, then b (101), then a (100).
#[test]
fn a_chain_stops_from_its_top_one_layer_at_a_time() {
    let mut t = T::with_services(plan(), &["a", "b", "c"]);
    t.deps = deps(&[("b", &["a"]), ("c", &["b"])]);
    assert_eq!(
        t.on(Event::Signal(Sig::Term)),
        told(&["a", "b", "c"], &[sig(102, Sig::Term)])
    );
    assert_eq!(t.on(Event::Orphans(vec![])), []);
    assert_eq!(t.at(10, Event::Tick), [Effect::FindOrphans]);
    assert_eq!(
        t.at(12, Event::Reaped(pid(102), code(0))),
        [sig(101, Sig::Term)]
    );
    assert_eq!(
        t.at(15, Event::Reaped(pid(101), code(0))),
        [sig(100, Sig::Term)]
    );
    assert_eq!(t.at(18, Event::Reaped(pid(100), code(0))), leftovers());
    assert_eq!(t.at(18, Event::NoChildren), [Effect::Exit(EXIT_CLEAN)]);
}

/// A supervise that exits before its layer's turn is skipped; a layer waits for every one of
/// its supervisors.
#[test]
fn a_layer_waits_for_all_of_its_supervisors_and_one_gone_early_is_skipped() {
    let mut t = T::with_services(plan(), &["db", "api", "web", "cache"]);
    // web and api depend on db and cache; cache on db.
    t.deps = deps(&[
        ("api", &["cache", "db"]),
        ("cache", &["db"]),
        ("web", &["cache", "db"]),
    ]);
    assert_eq!(
        t.on(Event::Signal(Sig::Term)),
        told(
            &["db", "api", "web", "cache"],
            &[sig(101, Sig::Term), sig(102, Sig::Term)]
        )
    );
    t.on(Event::Orphans(vec![]));
    // cache's supervise dies on its own meanwhile.
    assert_eq!(t.at(2, Event::Reaped(pid(103), killed(9))), []);
    assert_eq!(t.at(3, Event::Reaped(pid(101), code(0))), []);
    assert_eq!(
        t.at(4, Event::Reaped(pid(102), code(0))),
        [sig(100, Sig::Term)]
    );
    assert_eq!(t.at(5, Event::Reaped(pid(100), code(0))), leftovers());
}

/// A cycle stops in one layer, after its dependents and before what it depends on.
#[test]
fn a_cycle_stops_together_between_its_dependents_and_its_dependencies() {
    let mut t = T::with_services(plan(), &["app", "x", "y", "base"]);
    t.deps = deps(&[("app", &["x"]), ("x", &["y"]), ("y", &["x", "base"])]);
    assert_eq!(
        t.on(Event::Signal(Sig::Term)),
        told(&["app", "x", "y", "base"], &[sig(100, Sig::Term)])
    );
    t.on(Event::Orphans(vec![]));
    assert_eq!(
        t.at(5, Event::Reaped(pid(100), code(0))),
        [sig(101, Sig::Term), sig(102, Sig::Term)]
    );
    assert_eq!(t.at(6, Event::Reaped(pid(102), code(0))), []);
    assert_eq!(
        t.at(7, Event::Reaped(pid(101), code(0))),
        [sig(103, Sig::Term)]
    );
}

/// Dependencies on services that have no supervise (not in the scan directory, or not started)
/// are not waited for: here everything stops at once.
#[test]
fn dependencies_on_services_not_running_order_nothing() {
    let mut t = T::with_services(plan(), &["a", "c"]);
    // b is not running: c's dependency on it (and b's on a, unknown) orders nothing.
    t.deps = deps(&[("c", &["b"]), ("a", &["missing"])]);
    assert_eq!(
        t.on(Event::Signal(Sig::Term)),
        told(&["a", "c"], &[sig(100, Sig::Term), sig(101, Sig::Term)])
    );
}

/// At three quarters of the bound every service left is SIGKILLed, the layers not told yet
/// included (their supervisors get their SIGTERM then); the exit code is 124.
#[test]
fn a_layer_still_running_at_three_quarters_of_the_bound_is_killed_with_those_below() {
    let mut t = T::with_services(plan(), &["a", "b", "c"]);
    t.deps = deps(&[("b", &["a"]), ("c", &["b"])]);
    t.on(Event::Signal(Sig::Term));
    t.on(Event::Orphans(vec![]));
    assert_eq!(
        t.at(5, Event::Reaped(pid(102), code(0))),
        [sig(101, Sig::Term)]
    );
    // b ignores its TERM.
    assert_eq!(t.deadline_ms(), Some(10), "the orphan sweep");
    assert_eq!(t.at(5990, Event::Tick), [Effect::FindOrphans]);
    assert_eq!(t.deadline_ms(), Some(6000));
    assert_eq!(
        t.at(6000, Event::Tick),
        [
            sig(100, Sig::Term),
            Effect::ForceKill("a".into()),
            Effect::ForceKill("b".into()),
            Effect::FindOrphans,
        ]
    );
    assert_eq!(t.at(6005, Event::Reaped(pid(100), code(0))), []);
    assert_eq!(t.at(6009, Event::Reaped(pid(101), killed(9))), leftovers());
    assert_eq!(t.at(6010, Event::NoChildren), [Effect::Exit(EXIT_FORCED)]);
}

/// The bound passing kills everything left, whatever its layer.
#[test]
fn at_the_bound_every_layer_left_is_killed() {
    let mut t = T::with_services(plan(), &["a", "b"]);
    t.deps = deps(&[("b", &["a"])]);
    t.on(Event::Signal(Sig::Term));
    t.on(Event::Orphans(vec![]));
    t.at(6000, Event::Tick);
    assert_eq!(
        t.at(8000, Event::Tick),
        [
            Effect::FindOrphans,
            Effect::Report(Report::TimedOut),
            Effect::SignalLeftovers(Sig::Kill),
            sig(100, Sig::Kill),
            sig(101, Sig::Kill),
            Effect::Reap,
        ]
    );
}

/// With no supervise left to stop, the dependencies are not read.
#[test]
fn no_supervise_no_dependencies_read() {
    let mut t = T::with_services(plan(), &[]);
    assert_eq!(
        t.on(Event::Signal(Sig::Term)),
        [
            say(Progress::ShuttingDown),
            Effect::Unwatch,
            say(Progress::StoppingServices),
            Effect::FindOrphans,
            say(Progress::KillingAll),
            Effect::SignalLeftovers(Sig::Term),
            Effect::SignalLeftovers(Sig::Cont),
            Effect::Reap,
        ]
    );
}
