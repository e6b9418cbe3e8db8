use super::*;
use herd_tai64n::Tai64n;
use proptest::prelude::*;
use std::num::NonZeroU32;

fn s(b: &[u8]) -> String {
    let mut out = Vec::new();
    put_str(&mut out, b);
    String::from_utf8(out).expect("always UTF-8")
}

#[test]
fn strings_are_escaped() {
    assert_eq!(s(b"web"), r#""web""#);
    assert_eq!(s(b"a\"b\\c"), r#""a\"b\\c""#);
    assert_eq!(s(b"l\n\r\t"), r#""l\n\r\t""#);
    assert_eq!(s(b"\x00\x1f\x7f"), "\"\\u0000\\u001f\x7f\"");
    assert_eq!(s("caf\u{e9} \u{2603}".as_bytes()), "\"caf\u{e9} \u{2603}\"");
    // Not UTF-8: U+FFFD for each bad sequence, the rest kept.
    assert_eq!(s(b"d\xffb"), "\"d\u{fffd}b\"");
    assert_eq!(s(b"\xe2\x98"), "\"\u{fffd}\"");
    assert_eq!(s(b""), r#""""#);
}

fn status() -> Status {
    Status {
        stamp: Tai64n::from_unix(1_700_000_000, 500),
        pid: NonZeroU32::new(4242),
        paused: false,
        want: Want::Up,
        term: false,
        state: State::Run,
    }
}

fn facts() -> Facts {
    Facts {
        status: status(),
        normally_up: true,
        want_exit: false,
        ready: true,
        runs: None,
        health: None,
    }
}

fn line(e: &Entry<'_>, log: Option<&Entry<'_>>) -> String {
    let mut out = Vec::new();
    put_entry(&mut out, b"web", e, log, status().stamp.secs + 7);
    String::from_utf8(out).expect("UTF-8")
}

const LOG_NULL: &str = r#""log": null}"#;

#[test]
fn a_running_service_without_herd_files() {
    assert_eq!(
        line(&Entry::Facts(facts()), None),
        format!(
            concat!(
                r#"{{"name": "web", "state": "run", "pid": 4242, "since": 1700000000, "uptime": 7, "#,
                r#""want": "up", "normally_up": true, "paused": false, "got_term": false, "#,
                r#""ready": true, "failed": false, "health": null, "restarts": 0, "last_exit": null, {}"#
            ),
            LOG_NULL
        )
    );
}

#[test]
fn down_failed_with_a_log() {
    let f = Facts {
        status: Status {
            pid: None,
            state: State::Down,
            want: Want::Down,
            paused: true,
            ..status()
        },
        normally_up: false,
        ready: false,
        runs: Some(Runs {
            started: 3,
            last_exit: Some(Exit::Code(1)),
            failed: true,
        }),
        health: Some(Some(Health {
            state: HealthState::None,
            last: None,
        })),
        ..facts()
    };
    let log = Facts {
        runs: Some(Runs {
            started: 1,
            last_exit: Some(Exit::Signal {
                signo: 15,
                core: false,
            }),
            failed: false,
        }),
        ..facts()
    };
    let got = line(&Entry::Facts(f), Some(&Entry::Facts(log)));
    assert_eq!(
        got,
        concat!(
            r#"{"name": "web", "state": "down", "pid": null, "since": 1700000000, "uptime": 7, "#,
            r#""want": "down", "normally_up": false, "paused": true, "got_term": false, "#,
            r#""ready": false, "failed": true, "health": "starting", "restarts": 2, "#,
            r#""last_exit": {"code": 1}, "log": {"name": "log", "state": "run", "pid": 4242, "#,
            r#""since": 1700000000, "uptime": 7, "want": "up", "normally_up": true, "#,
            r#""paused": false, "got_term": false, "ready": true, "failed": false, "#,
            r#""health": null, "restarts": 0, "last_exit": {"signal": "TERM"}, "log": null}}"#
        )
    );
}

#[test]
fn errors_and_odd_values() {
    assert_eq!(
        line(&Entry::Error("runsv not running"), None),
        r#"{"name": "web", "error": "runsv not running"}"#
    );
    let log = Entry::Error("unable to open supervise/ok: access denied");
    assert!(line(&Entry::Facts(facts()), Some(&log)).ends_with(
        r#""log": {"name": "log", "error": "unable to open supervise/ok: access denied"}}"#
    ));
    let f = Facts {
        status: Status {
            state: State::Other(7),
            want: Want::Down,
            term: true,
            ..status()
        },
        want_exit: true,
        runs: Some(Runs {
            started: 0,
            last_exit: Some(Exit::Signal {
                signo: 34,
                core: true,
            }),
            failed: false,
        }),
        ..facts()
    };
    let got = line(&Entry::Facts(f), None);
    assert!(got.contains(r#""state": null, "pid": 4242"#), "{got}");
    assert!(got.contains(r#""want": "exit""#), "{got}");
    assert!(got.contains(r#""got_term": true"#), "{got}");
    assert!(
        got.contains(r#""restarts": 0, "last_exit": {"signal": "34"}"#),
        "{got}"
    );
    // A stamp in the future: uptime 0.
    let mut out = Vec::new();
    put_entry(&mut out, b"w", &Entry::Facts(facts()), None, 0);
    assert!(String::from_utf8_lossy(&out).contains(r#""uptime": 0,"#));
}

#[test]
fn health_words() {
    let h = |state| Some(Some(Health { state, last: None }));
    assert_eq!(health_word(None), None);
    assert_eq!(health_word(Some(None)), None);
    assert_eq!(health_word(h(HealthState::None)), Some("starting"));
    assert_eq!(health_word(h(HealthState::Starting)), Some("starting"));
    assert_eq!(health_word(h(HealthState::Healthy)), Some("healthy"));
    assert_eq!(health_word(h(HealthState::Unhealthy)), Some("unhealthy"));
}

proptest! {
    /// Any bytes make one JSON string: quoted, no raw control byte, every `"` inside escaped.
    #[test]
    fn prop_any_name_is_one_string(b in prop::collection::vec(any::<u8>(), 0..40)) {
        let out = s(&b);
        prop_assert!(out.len() >= 2 && out.starts_with('"') && out.ends_with('"'));
        let inner = &out[1..out.len() - 1];
        prop_assert!(!inner.bytes().any(|c| c < 0x20));
        let mut esc = false;
        for c in inner.chars() {
            prop_assert!(esc || c != '"');
            esc = !esc && c == '\\';
        }
        prop_assert!(!esc);
        // Valid UTF-8 names come back unchanged apart from escapes.
        if let Ok(text) = std::str::from_utf8(&b) {
            if !text.chars().any(|c| c < ' ' || c == '"' || c == '\\') {
                prop_assert_eq!(inner, text);
            }
        }
    }
}
