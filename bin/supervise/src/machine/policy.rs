//! The main service's stop and restart policies (docs/policy.md): s6-supervise's `down-signal`,
//! `timeout-kill`, `flag-timeout-killpg` and `timeout-finish`, and herd's `restart-backoff` and
//! `restart-limit`; the parsing of those files and the state the rules keep between runs.
//!
//! The shell reads the files before each start of `./run` ([`Effects::policy`]); the machine
//! keeps the counts. Without the files, [`Policy::default`] is runsv's behaviour to the byte:
//! SIGTERM, no kill, no finish limit, the 1 s throttle, no give-up. A run *failed* when it exited
//! non-zero or was killed by a signal, and supervise had not asked it to stop (`Svc::asked`).
//! Pure: no clock but the instants passed in, no I/O.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use herd_value::{first_line, later};
use nix::sys::signal::Signal;

/// A run that stays up this long (or `restart-backoff`'s MAX, if longer) ends a streak of
/// failures: the next failure waits MIN again.
pub const BACKOFF_RESET: Duration = Duration::from_secs(10);
/// The most failures `restart-limit` remembers: a larger COUNT is cut to it.
pub const LIMIT_MAX_COUNT: u32 = 4096;

/// `restart-backoff`: `MIN MAX`, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

/// `restart-limit`: `COUNT SECONDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failed runs (1 to [`LIMIT_MAX_COUNT`]).
    pub count: u32,
    pub within: Duration,
}

/// The policy files of the service directory, as found before a start of `./run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// `down-signal`: sent in place of SIGTERM by `d`, `t`, `x` and SIGTERM to supervise.
    pub down_signal: Signal,
    /// `timeout-kill`: SIGKILL this long after the down signal (absent or 0: never).
    pub timeout_kill: Option<Duration>,
    /// `flag-timeout-killpg`: that SIGKILL goes to `./run`'s process group.
    pub killpg: bool,
    /// `timeout-finish`: `./finish` is killed after this long (absent or 0: never, as runsv).
    pub timeout_finish: Option<Duration>,
    pub backoff: Option<Backoff>,
    pub limit: Option<Limit>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            down_signal: Signal::SIGTERM,
            timeout_kill: None,
            killpg: false,
            timeout_finish: None,
            backoff: None,
            limit: None,
        }
    }
}

/// `down-signal`'s first line: a name (`QUIT`, `SIGQUIT`) or a number (`herd_value::signal`).
/// Real-time signals are refused (`None`): the machine's signals are the classic ones.
pub fn parse_down_signal(contents: &[u8]) -> Option<Signal> {
    let n = herd_value::signal(first_line(contents)).ok()?;
    Signal::try_from(n).ok()
}

/// `timeout-kill`'s or `timeout-finish`'s first line: milliseconds, 0 meaning never. `Err` for
/// a malformed value.
pub fn parse_timeout(contents: &[u8]) -> Result<Option<Duration>, herd_value::Error> {
    let d = herd_value::milliseconds(first_line(contents))?;
    Ok((!d.is_zero()).then_some(d))
}

/// Two numbers separated by blanks on the first line.
fn two(contents: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut words = first_line(contents)
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty());
    let pair = (words.next()?, words.next()?);
    words.next().is_none().then_some(pair)
}

/// `restart-backoff`'s first line: `MIN MAX` in milliseconds, MIN at least 1 and at most MAX.
pub fn parse_backoff(contents: &[u8]) -> Option<Backoff> {
    let (min, max) = two(contents)?;
    let min = herd_value::milliseconds(min).ok()?;
    let max = herd_value::milliseconds(max).ok()?;
    (!min.is_zero() && min <= max).then_some(Backoff { min, max })
}

/// `restart-limit`'s first line: `COUNT SECONDS`, COUNT at least 1 (cut to
/// [`LIMIT_MAX_COUNT`]), SECONDS as `herd_value::seconds` reads them.
pub fn parse_limit(contents: &[u8]) -> Option<Limit> {
    let (count, within) = two(contents)?;
    let count = herd_value::count(count).ok()?;
    let within = herd_value::seconds(within).ok()?;
    (count > 0).then_some(Limit {
        count: count.min(LIMIT_MAX_COUNT),
        within,
    })
}

/// What the policies remember between runs of the main service.
#[derive(Debug, Clone, Default)]
pub(super) struct Memory {
    pub(super) policy: Policy,
    /// The down signal was sent: the `timeout-kill` deadline starts at the next tick.
    pub(super) kill_armed: bool,
    /// When `./run` gets SIGKILL.
    pub(super) kill_at: Option<Instant>,
    /// When `./finish` gets SIGKILL.
    pub(super) finish_kill_at: Option<Instant>,
    /// The wait before the next restart after a failure (the streak's last); `None`: no streak.
    pub(super) delay: Option<Duration>,
    /// The wait for the coming restart, decided when `./run` ended.
    pub(super) next_delay: Option<Duration>,
    /// When the recent failed runs ended (at most `limit.count` of them).
    pub(super) failures: VecDeque<Instant>,
    /// `restart-limit` was reached by the run that just ended.
    pub(super) limit_hit: bool,
}

impl Memory {
    /// `./run` ended at `now` after `lived`; `failed` as the module says. Decides the wait
    /// before the next start and whether the limit is reached.
    pub(super) fn run_ended(&mut self, failed: bool, lived: Option<Duration>, now: Instant) {
        self.kill_armed = false;
        self.kill_at = None;
        let p = self.policy;
        if let Some(b) = p.backoff {
            let stable = lived.is_some_and(|d| d >= b.max.max(BACKOFF_RESET));
            if !failed || stable {
                self.delay = None;
            }
            self.next_delay = failed.then(|| {
                let d = self.delay.map_or(b.min, |d| d.saturating_mul(2).min(b.max));
                self.delay = Some(d);
                d
            });
        } else {
            self.delay = None;
            self.next_delay = None;
        }
        let Some(limit) = p.limit else {
            self.failures.clear();
            return;
        };
        if !failed {
            return;
        }
        let count = limit.count as usize;
        if self.failures.capacity() < count {
            // Once per size of the limit: the window never grows beyond it.
            self.failures.reserve_exact(count - self.failures.len());
        }
        while self.failures.len() >= count {
            self.failures.pop_front();
        }
        self.failures.push_back(now);
        let oldest = self.failures.front().copied().unwrap_or(now);
        if self.failures.len() == count && now.saturating_duration_since(oldest) <= limit.within {
            self.limit_hit = true;
        }
    }

    /// `u` or `o`: a fresh start, without the failures before it.
    pub(super) fn forget(&mut self) {
        self.delay = None;
        self.next_delay = None;
        self.failures.clear();
        self.limit_hit = false;
    }

    /// The next start after a stop at `now`: `None` when the throttle decides.
    pub(super) fn restart_at(&mut self, now: Instant) -> Option<Instant> {
        self.next_delay.take().map(|d| later(now, d))
    }
}
