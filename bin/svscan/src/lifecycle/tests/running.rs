//! Running: the service table, rescans, and essential services.

use super::*;

#[test]
fn sigalrm_and_inotify_rescan_while_running_and_not_while_stopping() {
    let mut t = T::running(plan());
    assert_eq!(t.on(Event::Signal(Sig::Alrm)), [Effect::Rescan]);
    assert_eq!(t.on(Event::DirChanged), [Effect::Rescan]);
    t.on(Event::Signal(Sig::Term));
    assert_eq!(t.on(Event::Signal(Sig::Alrm)), []);
    assert_eq!(t.on(Event::DirChanged), []);
    let scanned = Event::Scanned {
        entries: vec![entry("c", 3)],
        retry: false,
    };
    assert_eq!(t.on(scanned), [], "a stop starts no supervise");
}

#[test]
fn something_that_could_not_be_examined_is_looked_at_again_in_5_s() {
    let mut t = T::running(plan());
    let scanned = Event::Scanned {
        entries: vec![entry("a", 1), entry("b", 2)],
        retry: true,
    };
    assert_eq!(t.at(100, scanned), []);
    assert_eq!(t.deadline_ms(), Some(5100));
    assert_eq!(t.at(5100, Event::Tick), [Effect::Rescan]);
    let scanned = Event::Scanned {
        entries: vec![entry("a", 1), entry("b", 2)],
        retry: false,
    };
    assert_eq!(t.at(5100, scanned), []);
    assert_eq!(t.deadline_ms(), None);
}

#[test]
fn without_inotify_the_scan_dir_is_read_every_5_s() {
    let mut t = T::new(plan());
    assert_eq!(t.on(Event::InotifyLost), []);
    t.on(Event::Begin);
    assert_eq!(
        t.at(
            10,
            Event::Scanned {
                entries: vec![],
                retry: false
            }
        ),
        []
    );
    assert_eq!(t.deadline_ms(), Some(5010));
    assert_eq!(t.at(5010, Event::Tick), [Effect::Rescan]);
    t.at(
        5020,
        Event::Scanned {
            entries: vec![],
            retry: false,
        },
    );
    assert_eq!(t.deadline_ms(), Some(10020));
}

#[test]
fn inotify_back_ends_the_periodic_rescans() {
    let mut t = T::new(plan());
    t.on(Event::InotifyLost);
    t.on(Event::Begin);
    let empty = || Event::Scanned {
        entries: vec![],
        retry: false,
    };
    t.at(10, empty());
    assert_eq!(t.at(5010, Event::Tick), [Effect::Rescan]);
    // The shell answers that rescan with inotify set up again, then the scan.
    assert_eq!(t.at(5010, Event::InotifyBack), []);
    assert_eq!(t.at(5010, empty()), []);
    assert_eq!(t.deadline_ms(), None);
    assert_eq!(t.on(Event::DirChanged), [Effect::Rescan]);
    // Something that could not be examined is still looked at again.
    let retry = Event::Scanned {
        entries: vec![],
        retry: true,
    };
    assert_eq!(t.at(6000, retry), []);
    assert_eq!(t.deadline_ms(), Some(11000));
}

#[test]
fn a_dead_supervise_is_started_again_at_most_once_a_second() {
    let mut t = T::running(plan());
    assert_eq!(t.at(200, Event::Reaped(pid(100), killed(9))), []);
    assert_eq!(t.deadline_ms(), Some(1000));
    assert_eq!(t.at(999, Event::Tick), []);
    assert_eq!(t.at(1000, Event::Tick), [supervise("a", 1)]);
    assert_eq!(t.at(1000, Event::Tick), [], "asked once");
    t.at(
        1000,
        Event::SuperviseStarted {
            id: (1, 1),
            pid: Some(pid(102)),
        },
    );
    // A supervise that ran a long time is started again at once.
    assert_eq!(
        t.at(9000, Event::Reaped(pid(102), code(0))),
        [supervise("a", 1)]
    );
}

#[test]
fn a_supervise_that_cannot_be_forked_is_tried_again_after_the_pause() {
    let mut t = T::new(plan());
    t.on(Event::Begin);
    t.on(Event::Scanned {
        entries: vec![entry("a", 1)],
        retry: false,
    });
    assert_eq!(
        t.at(
            0,
            Event::SuperviseStarted {
                id: (1, 1),
                pid: None
            }
        ),
        []
    );
    assert_eq!(t.deadline_ms(), Some(1000));
    assert_eq!(t.at(1000, Event::Tick), [supervise("a", 1)]);
}

#[test]
fn a_service_that_leaves_the_scan_dir_gets_its_supervise_termed() {
    let mut t = T::running(plan());
    let scanned = Event::Scanned {
        entries: vec![entry("b", 2)],
        retry: false,
    };
    assert_eq!(t.at(100, scanned), [sig(100, Sig::Term)]);
    assert_eq!(t.at(200, Event::Reaped(pid(100), code(0))), []);
    assert_eq!(t.deadline_ms(), None, "gone for good");
}

#[test]
fn an_essential_service_stopping_for_good_stops_everything_with_its_code() {
    let mut t = T::running(plan());
    assert_eq!(
        t.at(
            10,
            Event::Notice {
                pid: pid(101),
                code: 7
            }
        ),
        and_told(&[
            Effect::Report(Report::EssentialStopped {
                name: "b".into(),
                code: 7
            }),
            say(Progress::ShuttingDown),
            Effect::Unwatch,
        ])
    );
    t.at(10, Event::Orphans(vec![]));
    assert_eq!(t.supervisors_exit(15), leftovers());
    assert_eq!(t.at(20, Event::NoChildren), [Effect::Exit(7)]);
}

#[test]
fn notices_from_strangers_and_during_the_stop_are_ignored() {
    let mut t = T::running(plan());
    let stranger = Event::Notice {
        pid: pid(999),
        code: 7,
    };
    assert_eq!(t.on(stranger), []);
    t.on(Event::Signal(Sig::Term));
    let late = Event::Notice {
        pid: pid(100),
        code: 7,
    };
    assert_eq!(t.on(late), []);
    t.on(Event::Orphans(vec![]));
    assert_eq!(t.supervisors_exit(9), leftovers());
    assert_eq!(t.at(10, Event::NoChildren), [Effect::Exit(0)]);
}

#[test]
fn the_first_decisive_status_stands_an_essential_service_before_the_main_command() {
    let mut t = T::running(Plan {
        main: true,
        ..plan()
    });
    let notice = Event::Notice {
        pid: pid(100),
        code: 7,
    };
    let fx = t.at(10, notice);
    // The main command was not told by a signal: the stop sends it SIGTERM at once.
    assert_eq!(
        fx[1..5],
        [
            sig(50, Sig::Term),
            sig(50, Sig::Cont),
            say(Progress::ShuttingDown),
            Effect::Unwatch
        ]
    );
    t.at(15, Event::Reaped(pid(50), killed(15)));
    t.at(15, Event::Orphans(vec![]));
    assert_eq!(t.supervisors_exit(19), leftovers());
    assert_eq!(t.at(30, Event::NoChildren), [Effect::Exit(7)]);
}
