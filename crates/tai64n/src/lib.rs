//! TAI64N labels as runit writes them (docs/runit-compatibility.md#tai64n-stamps,
//! <https://cr.yp.to/libtai/tai64.html>).
//!
//! A label is 8 bytes of TAI64 seconds (`2^62 + 10 + unix seconds`, big-endian) and 4 bytes of
//! nanoseconds (big-endian). runit derives the nanoseconds from `gettimeofday` as
//! `usec * 1000 + 500`, so every label it writes ends in 500 ns; [`Tai64n::from_system_time`]
//! does the same so that our files cannot be told apart from runsv's.
//! This crate reads no clock: callers pass the time in. The attosecond part is never written.

#![forbid(unsafe_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// TAI64 label of the Unix epoch: 2^62 plus the 10 s TAI−UTC offset of 1970.
pub const UNIX_EPOCH_LABEL: u64 = 0x4000_0000_0000_000a;
/// Size of a packed TAI64N label.
pub const PACKED_LEN: usize = 12;
/// Size of the `@` + 24 hex digits text label.
pub const LABEL_LEN: usize = 25;
/// The nanosecond remainder runit leaves in every label (microseconds × 1000 + 500).
pub const RUNIT_NANOS_BIAS: u32 = 500;

const SECS_LEN: usize = 8;
const NANOS_PER_SEC: u32 = 1_000_000_000;

/// A TAI64N instant: the TAI64 seconds label and nanoseconds within the second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tai64n {
    /// TAI64 seconds label (not Unix seconds).
    pub secs: u64,
    /// Nanoseconds, below 10^9.
    pub nanos: u32,
}

impl Tai64n {
    /// The label for `unix_secs` seconds and `nanos` nanoseconds after the Unix epoch, exactly.
    pub fn from_unix(unix_secs: u64, nanos: u32) -> Self {
        Tai64n {
            secs: UNIX_EPOCH_LABEL.wrapping_add(unix_secs),
            nanos: nanos % NANOS_PER_SEC,
        }
    }

    /// The label runit would write for `t`: microsecond precision plus 500 ns.
    /// Times before 1970 are clamped to the epoch.
    pub fn from_system_time(t: SystemTime) -> Self {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Self::from_unix(d.as_secs(), d.subsec_micros() * 1000 + RUNIT_NANOS_BIAS)
    }

    /// Whole seconds since the Unix epoch (negative for labels before it).
    pub fn unix_secs(&self) -> i64 {
        self.secs.wrapping_sub(UNIX_EPOCH_LABEL) as i64
    }

    /// The 12-byte big-endian wire form.
    pub fn pack(&self) -> [u8; PACKED_LEN] {
        let mut b = [0u8; PACKED_LEN];
        b[..SECS_LEN].copy_from_slice(&self.secs.to_be_bytes());
        b[SECS_LEN..].copy_from_slice(&self.nanos.to_be_bytes());
        b
    }

    /// Reads the 12-byte wire form. Nanoseconds are taken as stored.
    pub fn unpack(b: &[u8; PACKED_LEN]) -> Self {
        let mut secs = [0u8; SECS_LEN];
        let mut nanos = [0u8; PACKED_LEN - SECS_LEN];
        secs.copy_from_slice(&b[..SECS_LEN]);
        nanos.copy_from_slice(&b[SECS_LEN..]);
        Tai64n {
            secs: u64::from_be_bytes(secs),
            nanos: u32::from_be_bytes(nanos),
        }
    }

    /// The text label `@` + 24 lowercase hex digits, as in svlogd `-t` and `@….s` file names.
    pub fn label(&self) -> [u8; LABEL_LEN] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; LABEL_LEN];
        out[0] = b'@';
        for (i, byte) in self.pack().iter().enumerate() {
            out[1 + 2 * i] = HEX[usize::from(byte >> 4)];
            out[2 + 2 * i] = HEX[usize::from(byte & 0xf)];
        }
        out
    }

    /// Parses a text label (`@` + 24 hex digits, either case). Returns `None` for anything else.
    pub fn parse_label(s: &[u8]) -> Option<Self> {
        if s.len() != LABEL_LEN || s[0] != b'@' {
            return None;
        }
        let mut packed = [0u8; PACKED_LEN];
        for (i, pair) in s[1..].chunks_exact(2).enumerate() {
            packed[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Some(Self::unpack(&packed))
    }
}

/// Length of [`Tai64n::utc`]: `YYYY-MM-DD_HH:MM:SS.xxxxx`.
pub const UTC_LEN: usize = 25;

impl Tai64n {
    /// The UTC time as svlogd's `-tt` writes it, `YYYY-MM-DD_HH:MM:SS.xxxxx` (5 fractional
    /// digits), or with `T` instead of `_` for `-ttt` (`iso`). Leap seconds are not applied,
    /// as in runit.
    pub fn utc(&self, iso: bool) -> [u8; UTC_LEN] {
        let secs = self.unix_secs();
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let mut out = [0u8; UTC_LEN];
        let mut put = |at: usize, v: i64, width: usize| {
            let mut v = v.unsigned_abs();
            for i in (0..width).rev() {
                out[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, y, 4);
        put(5, m, 2);
        put(8, d, 2);
        put(11, rem / 3600, 2);
        put(14, rem / 60 % 60, 2);
        put(17, rem % 60, 2);
        put(20, i64::from(self.nanos / 10_000), 5);
        out[4] = b'-';
        out[7] = b'-';
        out[10] = if iso { b'T' } else { b'_' };
        out[13] = b':';
        out[16] = b':';
        out[19] = b'.';
        out
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes of a real runsv status file (docs/runit-compatibility.md#status-file, "after sv up
    /// (pid 3049)").
    const GOLDEN: [u8; 12] = [
        0x40, 0, 0, 0, 0x6b, 0x03, 0x2a, 0x5c, 0x19, 0xe2, 0xee, 0x24,
    ];

    #[test]
    fn golden_bytes_from_runsv_decode() {
        let t = Tai64n::unpack(&GOLDEN);
        assert_eq!(t.unix_secs(), 1_795_369_554);
        assert_eq!(t.nanos, 434_302_500);
        assert_eq!(t.nanos % 1000, RUNIT_NANOS_BIAS);
        assert_eq!(t.pack(), GOLDEN);
    }

    #[test]
    fn system_time_is_rounded_like_runit() {
        let t = UNIX_EPOCH + Duration::new(1_795_369_554, 434_302_999);
        assert_eq!(Tai64n::from_system_time(t), Tai64n::unpack(&GOLDEN));
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(Tai64n::from_system_time(before), Tai64n::from_unix(0, 500));
    }

    #[test]
    fn label_round_trips() {
        let t = Tai64n::unpack(&GOLDEN);
        assert_eq!(&t.label(), b"@400000006b032a5c19e2ee24");
        assert_eq!(Tai64n::parse_label(&t.label()), Some(t));
        assert_eq!(Tai64n::parse_label(b"@400000006B032A5C19E2EE24"), Some(t));
        assert_eq!(Tai64n::parse_label(b"@400000006b032a5c19e2ee2"), None);
        assert_eq!(Tai64n::parse_label(b"#400000006b032a5c19e2ee24"), None);
        assert_eq!(Tai64n::parse_label(b"@400000006b032a5c19e2ee2g"), None);
    }

    #[test]
    fn utc_text() {
        // 2026-11-22 17:41:17.471105 UTC, as svlogd -tt printed it
        // (docs/runit-compatibility.md#svlogd-command-line).
        let t = Tai64n::from_unix(1_795_369_277, 471_105_500);
        assert_eq!(&t.utc(false), b"2026-11-22_17:41:17.47110");
        assert_eq!(&t.utc(true), b"2026-11-22T17:41:17.47110");
        assert_eq!(
            &Tai64n::from_unix(0, 0).utc(false),
            b"1970-01-01_00:00:00.00000"
        );
        assert_eq!(
            &Tai64n::from_unix(951_782_400, 0).utc(false),
            b"2000-02-29_00:00:00.00000"
        );
    }

    #[test]
    fn epoch_label() {
        assert_eq!(
            Tai64n::from_unix(0, 0).pack(),
            [0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0]
        );
        assert_eq!(Tai64n::from_unix(0, 0).unix_secs(), 0);
    }

    proptest::proptest! {
        #[test]
        fn prop_labels(secs in proptest::arbitrary::any::<u64>(), nanos in proptest::arbitrary::any::<u32>()) {
            let t = Tai64n { secs, nanos };
            proptest::prop_assert_eq!(Tai64n::parse_label(&t.label()), Some(t));
            proptest::prop_assert_eq!(Tai64n::unpack(&t.pack()), t);
            let _ = (t.utc(false), t.utc(true), t.unix_secs());
        }

        #[test]
        fn prop_parse_label_any_bytes(b in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..30)) {
            if let Some(t) = Tai64n::parse_label(&b) {
                proptest::prop_assert!(t.label().eq_ignore_ascii_case(&b));
            }
        }
    }
}
