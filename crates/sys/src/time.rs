//! Timeouts for `poll(2)`: the one conversion of a `Duration` (or the time left until a deadline)
//! to the `Timespec` rustix's `poll` takes. Saturating: a duration too long for a `Timespec`
//! becomes the longest one, which the kernel treats as "practically forever"; never a panic and
//! never a wrap to a short or negative timeout.

use std::time::{Duration, Instant};

use rustix::event::Timespec;

/// The longest timeout: `time_t`'s largest second count.
const FOREVER: Timespec = Timespec {
    tv_sec: i64::MAX,
    tv_nsec: 0,
};

/// `d` as a `Timespec`, saturating at the longest one.
pub fn timespec(d: Duration) -> Timespec {
    Timespec::try_from(d).unwrap_or(FOREVER)
}

/// The time left until `deadline` (zero once it has passed), as a `Timespec`.
pub fn timespec_until(deadline: Instant) -> Timespec {
    timespec(deadline.saturating_duration_since(Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_saturates() {
        let t = timespec(Duration::new(3, 250_000_000));
        assert_eq!((t.tv_sec, t.tv_nsec), (3, 250_000_000));
        let t = timespec(Duration::MAX);
        assert_eq!((t.tv_sec, t.tv_nsec), (i64::MAX, 0));
        let t = timespec_until(Instant::now() - Duration::from_secs(1));
        assert_eq!((t.tv_sec, t.tv_nsec), (0, 0));
        let t = timespec_until(Instant::now() + Duration::from_secs(60));
        assert!((58..=60).contains(&t.tv_sec), "{}", t.tv_sec);
    }
}
