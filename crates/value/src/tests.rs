//! Golden values for each kind, and property tests: no panic on any bytes, agreement with a
//! reference written plainly (through `u128` and text, not the fold the parsers use), round
//! trips of what we print back through what we read.

use super::*;
use proptest::prelude::*;

/// The reference `scan_ulong`: the leading digits as text, leading zeros dropped, compared by
/// length and then as a `u128`.
fn ref_scan(s: &[u8]) -> (u64, usize) {
    let n = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let text = std::str::from_utf8(&s[..n]).expect("digits are ASCII");
    let significant = text.trim_start_matches('0');
    let v = if significant.len() > 20 {
        u64::MAX
    } else if significant.is_empty() {
        0
    } else {
        let big: u128 = significant.parse().expect("at most 20 digits fit u128");
        u64::try_from(big).unwrap_or(u64::MAX)
    };
    (v, n)
}

/// The reference `seconds`: split at the one dot, pad or cut the fraction to 9 digits.
fn ref_seconds(s: &[u8]) -> Result<Duration, Error> {
    let text = std::str::from_utf8(s).map_err(|_| Error::Invalid)?;
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || (int.is_empty() && frac.is_empty()) {
        return Err(Error::Invalid);
    }
    let (secs, _) = ref_scan(int.as_bytes());
    let mut nine: String = frac.chars().take(9).collect();
    while nine.len() < 9 {
        nine.push('0');
    }
    let nanos: u32 = nine.parse().expect("nine digits");
    if secs > MAX_SECONDS {
        return Ok(MAX_DURATION);
    }
    Ok(Duration::new(secs, nanos).min(MAX_DURATION))
}

/// Text that is mostly numbers, with the characters the parsers must refuse mixed in.
fn numberish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            8 => b'0'..=b'9',
            1 => Just(b'.'),
            1 => prop::sample::select(b"+- eEkmhx\n\t\xff:".to_vec()),
        ],
        0..40,
    )
}

#[test]
fn digits_golden() {
    assert_eq!(scan_ulong(b"12ab"), (12, 2));
    assert_eq!(scan_ulong(b"abc"), (0, 0));
    assert_eq!(scan_ulong(b"18446744073709551615"), (u64::MAX, 20));
    assert_eq!(scan_ulong(b"99999999999999999999"), (u64::MAX, 20));
    assert_eq!(scan_ulong(b"000000000000000000000000007"), (7, 27));
    assert_eq!(first_line(b"  12 \r\nrest"), b"12");
    assert_eq!(first_line(b""), b"");
}

#[test]
fn seconds_golden() {
    let ok = |s: &str| seconds(s.as_bytes());
    assert_eq!(ok("7"), Ok(Duration::from_secs(7)));
    assert_eq!(ok("0.25"), Ok(Duration::from_millis(250)));
    assert_eq!(ok(".5"), Ok(Duration::from_millis(500)));
    assert_eq!(ok("3."), Ok(Duration::from_secs(3)));
    assert_eq!(ok("1.0000000019"), Ok(Duration::new(1, 1)));
    assert_eq!(ok("4294967295"), Ok(MAX_DURATION));
    assert_eq!(
        ok("4294967294.5"),
        Ok(Duration::new(4_294_967_294, 500_000_000))
    );
    assert_eq!(ok("4294967295.5"), Ok(MAX_DURATION));
    assert_eq!(ok("100000000000000000000"), Ok(MAX_DURATION));
    for bad in [
        "", ".", "1e20", "+5", "-1", " 5", "5 ", "inf", "NaN", "1.2.3", "0x10", "5s",
    ] {
        assert_eq!(ok(bad), Err(Error::Invalid), "{bad:?}");
    }
    assert_eq!(scan_seconds(b"99999999999999999999"), MAX_DURATION);
    assert_eq!(scan_seconds(b"3x"), Duration::from_secs(3));
    assert_eq!(scan_seconds(b"x"), Duration::ZERO);
    assert_eq!(scan_seconds_unit(b"5m"), Duration::from_secs(300));
    assert_eq!(scan_seconds_unit(b"2h"), Duration::from_secs(7200));
    assert_eq!(scan_seconds_unit(b"9223372036854775807"), MAX_DURATION);
    assert_eq!(scan_seconds_unit(b"9223372036854775807h"), MAX_DURATION);
    assert_eq!(milliseconds(b"1500"), Ok(Duration::from_millis(1500)));
    assert_eq!(milliseconds(b"99999999999999999999"), Ok(MAX_DURATION));
    assert_eq!(milliseconds(b""), Err(Error::Invalid));
}

#[test]
fn later_saturates() {
    let now = Instant::now();
    assert_eq!(
        later(now, Duration::from_secs(5)),
        now + Duration::from_secs(5)
    );
    assert_eq!(later(now, Duration::MAX), now + MAX_DURATION);
    assert_eq!(later(now, Duration::ZERO), now);
}

#[test]
fn counts_and_sizes_golden() {
    assert_eq!(count(b"5"), Ok(5));
    assert_eq!(count(b"99999999999"), Ok(u32::MAX));
    assert_eq!(count(b"5 "), Err(Error::Invalid));
    assert_eq!(scan_count(b"10x"), 10);
    assert_eq!(scan_count(b"99999999999999999999"), u32::MAX);
    assert_eq!(scan_size(b"99999999999999999999"), u64::MAX);
    assert_eq!(scan_size_unit(b"10k"), 10_240);
    assert_eq!(scan_size_unit(b"3m"), 3 * 1024 * 1024);
    assert_eq!(scan_size_unit(b"18446744073709551615m"), u64::MAX);
    assert_eq!(rlimit(b""), Ok(0));
    assert_eq!(rlimit(b"99999999999999999999"), Ok(u64::MAX));
    assert_eq!(rlimit(b"5k"), Err(Error::Invalid));
    assert_eq!(nice(b"-3"), Ok(-3));
    assert_eq!(nice(b"+2"), Ok(2));
    assert_eq!(nice(b"-"), Ok(0));
    assert_eq!(nice(b"99999999999"), Ok(MAX_NICE));
    assert_eq!(nice(b"-99999999999"), Ok(-MAX_NICE));
    assert_eq!(nice(b"+-3"), Err(Error::Invalid));
}

#[test]
fn named_things_golden() {
    assert_eq!(fd(b"3"), Ok(3));
    assert_eq!(fd(b"2147483647"), Ok(i32::MAX));
    assert_eq!(fd(b"2147483648"), Err(Error::OutOfRange));
    assert_eq!(fd(b"-1"), Err(Error::Invalid));
    assert_eq!(port(b"514"), Ok(514));
    assert_eq!(port(b"0"), Err(Error::OutOfRange));
    assert_eq!(port(b"70000"), Err(Error::OutOfRange));
    assert_eq!(id(b"4294967294"), Ok(u32::MAX - 1));
    assert_eq!(id(b"4294967295"), Err(Error::OutOfRange));
    assert_eq!(id(b"4294967296"), Err(Error::OutOfRange));
    assert_eq!(pid(b"1").map(NonZeroU32::get), Ok(1));
    assert_eq!(pid(b"0"), Err(Error::OutOfRange));
    assert_eq!(pid(b"2147483648"), Err(Error::OutOfRange));
    assert_eq!(clock_ticks(b"18446744073709551615"), Ok(u64::MAX));
    assert_eq!(clock_ticks(b"0018446744073709551615"), Ok(u64::MAX));
    assert_eq!(clock_ticks(b"18446744073709551616"), Err(Error::OutOfRange));
    assert_eq!(clock_ticks(b""), Err(Error::Invalid));
    assert_eq!(exit_code(b"255"), Ok(255));
    assert_eq!(exit_code(b"256"), Err(Error::OutOfRange));
    assert_eq!(signal(b"TERM"), Ok(libc::SIGTERM));
    assert_eq!(signal(b"SIGHUP"), Ok(libc::SIGHUP));
    assert_eq!(signal(b"9"), Ok(9));
    assert_eq!(signal(b"64"), Ok(64));
    assert_eq!(signal(b"65"), Err(Error::OutOfRange));
    assert_eq!(signal(b"0"), Err(Error::OutOfRange));
    assert_eq!(signal(b"term"), Err(Error::Invalid));
    assert_eq!(signal(b""), Err(Error::Invalid));
    assert_eq!(signal_name(libc::SIGTERM), Some("TERM"));
    assert_eq!(signal_name(libc::SIGWINCH), Some("WINCH"));
    assert_eq!(signal_name(34), None);
    for n in 1..=31 {
        let name = signal_name(n).expect("every classic signal has a name");
        assert_eq!(signal(name.as_bytes()), Ok(n));
    }
}

proptest! {
    #[test]
    fn prop_no_kind_panics_on_any_bytes(s in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = (scan_ulong(&s), seconds(&s), milliseconds(&s), scan_seconds(&s));
        let _ = (scan_seconds_unit(&s), count(&s), scan_count(&s), scan_size(&s));
        let _ = (scan_size_unit(&s), rlimit(&s), nice(&s), fd(&s), port(&s), id(&s));
        let _ = (pid(&s), exit_code(&s), signal(&s), first_line(&s), split_digits(&s));
        let _ = clock_ticks(&s);
    }

    #[test]
    fn prop_scan_ulong_agrees_with_reference(s in numberish()) {
        prop_assert_eq!(scan_ulong(&s), ref_scan(&s));
    }

    #[test]
    fn prop_clock_ticks_agrees_with_reference(s in numberish()) {
        let all = !s.is_empty() && s.iter().all(u8::is_ascii_digit);
        let want = if !all {
            Err(Error::Invalid)
        } else {
            let big = std::str::from_utf8(&s).expect("digits").trim_start_matches('0');
            match big.parse::<u128>() {
                _ if big.is_empty() => Ok(0),
                Ok(v) => u64::try_from(v).map_err(|_| Error::OutOfRange),
                Err(_) => Err(Error::OutOfRange),
            }
        };
        prop_assert_eq!(clock_ticks(&s), want);
    }

    #[test]
    fn prop_seconds_agrees_with_reference(s in numberish()) {
        prop_assert_eq!(seconds(&s), ref_seconds(&s));
    }

    #[test]
    fn prop_seconds_round_trip(secs in 0..=MAX_SECONDS, nanos in 0..1_000_000_000u32) {
        let d = Duration::new(secs, nanos).min(MAX_DURATION);
        let text = format!("{}.{:09}", d.as_secs(), d.subsec_nanos());
        prop_assert_eq!(seconds(text.as_bytes()), Ok(d));
        prop_assert_eq!(scan_seconds(secs.to_string().as_bytes()), Duration::from_secs(secs));
    }

    #[test]
    fn prop_durations_stay_in_range(s in numberish()) {
        for d in [seconds(&s).ok(), milliseconds(&s).ok()].into_iter().flatten() {
            prop_assert!(d <= MAX_DURATION);
        }
        prop_assert!(scan_seconds(&s) <= MAX_DURATION);
        prop_assert!(scan_seconds_unit(&s) <= MAX_DURATION);
    }

    #[test]
    fn prop_later_saturates(secs in any::<u64>(), nanos in 0..1_000_000_000u32) {
        let now = Instant::now();
        let d = Duration::new(secs, nanos);
        let t = later(now, d);
        prop_assert_eq!(t, now + d.min(MAX_DURATION));
        prop_assert!(later(now, d.saturating_add(Duration::from_secs(1))) >= t);
    }

    #[test]
    fn prop_whole_kinds_agree_with_reference(n in any::<u64>(), zeros in 0..3usize) {
        let text = format!("{}{n}", "0".repeat(zeros));
        let s = text.as_bytes();
        prop_assert_eq!(count(s), Ok(u32::try_from(n).unwrap_or(u32::MAX)));
        prop_assert_eq!(rlimit(s), Ok(n));
        prop_assert_eq!(clock_ticks(s), Ok(n));
        prop_assert_eq!(scan_size(s), n);
        let named = |lo: u64, hi: u64| if (lo..=hi).contains(&n) { Ok(()) } else { Err(Error::OutOfRange) };
        prop_assert_eq!(fd(s).map(|_| ()), named(0, i32::MAX as u64));
        prop_assert_eq!(port(s).map(|_| ()), named(1, 65535));
        prop_assert_eq!(id(s).map(|_| ()), named(0, u64::from(u32::MAX) - 1));
        prop_assert_eq!(pid(s).map(|_| ()), named(1, i32::MAX as u64));
        prop_assert_eq!(exit_code(s).map(|_| ()), named(0, 255));
        prop_assert_eq!(signal(s).map(|_| ()), named(1, 64));
        prop_assert_eq!(milliseconds(s), Ok(Duration::from_millis(n).min(MAX_DURATION)));
    }

    #[test]
    fn prop_named_values_round_trip(n in any::<i32>()) {
        let text = n.to_string();
        let s = text.as_bytes();
        if n >= 0 {
            prop_assert_eq!(fd(s), Ok(n));
            prop_assert_eq!(id(s), Ok(n.unsigned_abs()));
        } else {
            prop_assert_eq!(fd(s), Err(Error::Invalid));
        }
        if n > 0 {
            prop_assert_eq!(pid(s).map(NonZeroU32::get), Ok(n.unsigned_abs()));
        }
    }

    #[test]
    fn prop_nice_agrees_with_reference(sign in prop::sample::select(vec!["", "+", "-"]), n in any::<u64>()) {
        let text = format!("{sign}{n}");
        let magnitude = i32::try_from(n.min(40)).expect("at most 40");
        let want = if sign == "-" { -magnitude } else { magnitude };
        prop_assert_eq!(nice(text.as_bytes()), Ok(want));
    }

    #[test]
    fn prop_units_multiply(n in 0..=u64::MAX, unit in prop::sample::select(vec![b'k', b'm', b'h', b'x'])) {
        let text = format!("{n}{}", unit as char);
        let by = |f: u64| n.saturating_mul(f);
        let size = match unit { b'k' => by(1024), b'm' => by(1 << 20), _ => n };
        prop_assert_eq!(scan_size_unit(text.as_bytes()), size);
        let secs = match unit { b'm' => by(60), b'h' => by(3600), _ => n };
        prop_assert_eq!(scan_seconds_unit(text.as_bytes()), Duration::from_secs(secs.min(MAX_SECONDS)));
    }
}
