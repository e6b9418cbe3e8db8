//! runit's `supervise/status` (20 bytes), `supervise/stat` and `supervise/pid`
//! (docs/runit-compatibility.md#status-file, #the-stat-and-pid-files), and herd's `supervise/ready`
//! ([`Readiness`]), `supervise/runs` ([`Runs`]) and `supervise/health` ([`Health`]).
//!
//! The binary layout is in [`offset`]; its first 18 bytes are daemontools' format, so
//! `svstat`/`svok` read our files. Encoding and decoding live here and nowhere else. The texts are
//! rendered into fixed stack buffers: a supervisor writes them on every state change and must
//! not allocate for it. This crate does no file I/O; `herd-svdir` writes what it renders.

#![forbid(unsafe_code)]

use std::fmt;
use std::num::NonZeroU32;

use herd_tai64n::{Tai64n, PACKED_LEN};

mod ready;
mod record;
pub use ready::{is_ready, Readiness, READY_FILE};
pub use record::{CheckEnd, Health, HealthState, Runs, HEALTH_FILE, RUNS_FILE};

/// Size of runit's status file.
pub const STATUS_LEN: usize = 20;
/// Size of daemontools' status file: runit's without the TERM flag and state bytes.
pub const DAEMONTOOLS_LEN: usize = 18;

/// Byte offsets in the status file.
pub mod offset {
    /// TAI64N stamp, 12 bytes big-endian.
    pub const STAMP: usize = 0;
    /// pid, 4 bytes **little-endian**, 0 when no process runs.
    pub const PID: usize = 12;
    /// 1 when paused.
    pub const PAUSED: usize = 16;
    /// `u` when want is up, otherwise `d`.
    pub const WANT: usize = 17;
    /// 1 after TERM was sent (runit only).
    pub const TERM: usize = 18;
    /// 0 down, 1 run, 2 finish (runit only).
    pub const STATE: usize = 19;
}

const PID_LEN: usize = 4;
const WANT_UP: u8 = b'u';
const WANT_DOWN: u8 = b'd';

/// A process id as stored in the status file; never 0.
pub type Pid = NonZeroU32;

/// How a process ended, as `waitpid(2)` tells it: the value `./finish` gets and svscan's
/// exit-code rules read. Pure, so that state machines can take it without a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `exit(code)`.
    Code(u8),
    /// Killed by signal `signo`; `core` if it dumped core.
    Signal { signo: i32, core: bool },
}

impl Exit {
    /// The exit code a shell would report: the code, or 128 + signal.
    pub fn shell_code(self) -> i32 {
        match self {
            Exit::Code(c) => i32::from(c),
            Exit::Signal { signo, .. } => 128 + signo,
        }
    }
}

/// What the supervised process is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// No process runs.
    Down,
    /// `./run` runs.
    Run,
    /// `./finish` runs.
    Finish,
    /// A state byte runit does not define (sv prints no prefix for it).
    Other(u8),
}

impl State {
    /// The state byte.
    pub fn byte(self) -> u8 {
        match self {
            State::Down => 0,
            State::Run => 1,
            State::Finish => 2,
            State::Other(b) => b,
        }
    }

    /// The state for a status byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => State::Down,
            1 => State::Run,
            2 => State::Finish,
            b => State::Other(b),
        }
    }

    /// The word used in `stat` and by `sv` (`run`, `down`, `finish`); `None` for [`State::Other`].
    pub fn word(self) -> Option<&'static str> {
        match self {
            State::Down => Some("down"),
            State::Run => Some("run"),
            State::Finish => Some("finish"),
            State::Other(_) => None,
        }
    }
}

/// What the supervisor wants the service to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Want {
    Up,
    Down,
    /// Down, and the supervisor exits afterwards. Stored as `d` in the status file.
    Exit,
}

/// Everything in runit's status file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Start of the run, or time of going down, or supervisor start
    /// (docs/runit-compatibility.md#status-file).
    pub stamp: Tai64n,
    /// `./run` in state run, `./finish` in state finish.
    pub pid: Option<Pid>,
    pub paused: bool,
    pub want: Want,
    /// TERM was sent and the process has not been reaped yet.
    pub term: bool,
    pub state: State,
}

/// A status file that is neither 18 nor 20 bytes long (sv: `unable to read supervise/status: bad format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadFormat;

impl fmt::Display for BadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad format")
    }
}

impl std::error::Error for BadFormat {}

impl Status {
    /// The 20 bytes runsv writes.
    pub fn encode(&self) -> [u8; STATUS_LEN] {
        let mut b = [0u8; STATUS_LEN];
        b[offset::STAMP..offset::STAMP + PACKED_LEN].copy_from_slice(&self.stamp.pack());
        let pid = self.pid.map_or(0, NonZeroU32::get);
        b[offset::PID..offset::PID + PID_LEN].copy_from_slice(&pid.to_le_bytes());
        b[offset::PAUSED] = u8::from(self.paused);
        b[offset::WANT] = if self.want == Want::Up {
            WANT_UP
        } else {
            WANT_DOWN
        };
        b[offset::TERM] = u8::from(self.term);
        b[offset::STATE] = self.state.byte();
        b
    }

    /// Decodes runit's 20 bytes, or daemontools' 18 (then the TERM flag is clear and the state is
    /// run when a pid is present, down otherwise).
    pub fn decode(b: &[u8]) -> Result<Status, BadFormat> {
        if b.len() != STATUS_LEN && b.len() != DAEMONTOOLS_LEN {
            return Err(BadFormat);
        }
        let mut stamp = [0u8; PACKED_LEN];
        stamp.copy_from_slice(&b[offset::STAMP..offset::STAMP + PACKED_LEN]);
        let mut pid = [0u8; PID_LEN];
        pid.copy_from_slice(&b[offset::PID..offset::PID + PID_LEN]);
        let pid = NonZeroU32::new(u32::from_le_bytes(pid));
        let (term, state) = if b.len() == STATUS_LEN {
            (b[offset::TERM] != 0, State::from_byte(b[offset::STATE]))
        } else {
            (
                false,
                if pid.is_some() {
                    State::Run
                } else {
                    State::Down
                },
            )
        };
        Ok(Status {
            stamp: Tai64n::unpack(&stamp),
            pid,
            paused: b[offset::PAUSED] != 0,
            want: if b[offset::WANT] == WANT_UP {
                Want::Up
            } else {
                Want::Down
            },
            term,
            state,
        })
    }

    /// The `supervise/stat` line: `<state>[, paused][, got TERM][, want down|, want exit]\n`.
    pub fn stat_text(&self) -> Text {
        let mut t = Text::default();
        t.push(self.state.word().unwrap_or(""));
        if self.paused {
            t.push(", paused");
        }
        if self.term {
            t.push(", got TERM");
        }
        if self.state != State::Down {
            match self.want {
                Want::Up => {}
                Want::Down => t.push(", want down"),
                Want::Exit => t.push(", want exit"),
            }
        }
        t.push("\n");
        t
    }

    /// The `supervise/pid` contents: `<pid>\n`, or nothing when no process runs.
    pub fn pid_text(&self) -> Text {
        pid_text(self.pid)
    }
}

/// `<pid>\n`, or empty for `None`.
pub fn pid_text(pid: Option<Pid>) -> Text {
    let mut t = Text::default();
    if let Some(pid) = pid {
        t.push_u64(u64::from(pid.get()));
        t.push("\n");
    }
    t
}

/// Reads what [`pid_text`] writes: `Some(pid)` for `<pid>\n`, `None` for the empty file (no
/// process) or for anything else.
/// The pid is `herd_value::pid`'s: 1 to 2^31 - 1, a number `kill(2)` takes as one process.
pub fn parse_pid_text(text: &[u8]) -> Option<Pid> {
    herd_value::pid(text.strip_suffix(b"\n")?).ok()
}

/// Capacity of [`Text`]: the longest stat line is `finish, paused, got TERM, want down\n` (36).
pub const TEXT_CAP: usize = 48;

/// A short text rendered on the stack.
#[derive(Clone, Copy)]
pub struct Text {
    buf: [u8; TEXT_CAP],
    len: usize,
}

impl Default for Text {
    fn default() -> Self {
        Text {
            buf: [0; TEXT_CAP],
            len: 0,
        }
    }
}

impl Text {
    /// The rendered bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, s: &str) {
        // Callers only push the fixed words above, which fit in TEXT_CAP together.
        let end = (self.len + s.len()).min(TEXT_CAP);
        self.buf[self.len..end].copy_from_slice(&s.as_bytes()[..end - self.len]);
        self.len = end;
    }

    /// Appends decimal digits of `n`.
    pub fn push_u64(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let end = (self.len + digits.len() - i).min(TEXT_CAP);
        let take = end - self.len;
        self.buf[self.len..end].copy_from_slice(&digits[i..i + take]);
        self.len = end;
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.as_bytes()), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(n: u32) -> Option<Pid> {
        NonZeroU32::new(n)
    }

    /// Real dumps from runsv (docs/runit-compatibility.md#status-file), with what each one decodes
    /// to.
    fn golden() -> Vec<([u8; 20], Status, &'static str)> {
        let t = |s: u64, n: u32| Tai64n {
            secs: 0x4000_0000_0000_0000 | s,
            nanos: n,
        };
        vec![
            (
                [
                    0x40, 0, 0, 0, 0x6b, 0x03, 0x2a, 0x5c, 0x07, 0x5a, 0x7c, 0x04, 0, 0, 0, 0, 0,
                    0x64, 0, 0,
                ],
                Status {
                    stamp: t(0x6b032a5c, 0x075a7c04),
                    pid: None,
                    paused: false,
                    want: Want::Down,
                    term: false,
                    state: State::Down,
                },
                "down\n",
            ),
            (
                [
                    0x40, 0, 0, 0, 0x6b, 0x03, 0x2a, 0x5c, 0x19, 0xe2, 0xee, 0x24, 0xe9, 0x0b, 0,
                    0, 0, 0x75, 0, 1,
                ],
                Status {
                    stamp: t(0x6b032a5c, 0x19e2ee24),
                    pid: pid(3049),
                    paused: false,
                    want: Want::Up,
                    term: false,
                    state: State::Run,
                },
                "run\n",
            ),
            (
                [
                    0x40, 0, 0, 0, 0x6b, 0x03, 0x2a, 0x5c, 0x19, 0xe2, 0xee, 0x24, 0xe9, 0x0b, 0,
                    0, 1, 0x75, 0, 1,
                ],
                Status {
                    stamp: t(0x6b032a5c, 0x19e2ee24),
                    pid: pid(3049),
                    paused: true,
                    want: Want::Up,
                    term: false,
                    state: State::Run,
                },
                "run, paused\n",
            ),
            (
                [
                    0x40, 0, 0, 0, 0x6b, 0x03, 0x2a, 0x5c, 0x19, 0xe2, 0xee, 0x24, 0xe9, 0x0b, 0,
                    0, 0, 0x64, 0, 1,
                ],
                Status {
                    stamp: t(0x6b032a5c, 0x19e2ee24),
                    pid: pid(3049),
                    paused: false,
                    want: Want::Down,
                    term: false,
                    state: State::Run,
                },
                "run, want down\n",
            ),
            (
                [
                    0x40, 0, 0, 0, 0x6b, 0x03, 0x2a, 0x5c, 0x19, 0xe2, 0xee, 0x24, 0x05, 0x0c, 0,
                    0, 0, 0x75, 0, 2,
                ],
                Status {
                    stamp: t(0x6b032a5c, 0x19e2ee24),
                    pid: pid(3077),
                    paused: false,
                    want: Want::Up,
                    term: false,
                    state: State::Finish,
                },
                "finish\n",
            ),
            (
                [
                    0x40, 0, 0, 0, 0x6b, 0x03, 0x2a, 0x60, 0x04, 0xd4, 0xe6, 0x7c, 0x12, 0x0c, 0,
                    0, 0, 0x64, 0, 2,
                ],
                Status {
                    stamp: t(0x6b032a60, 0x04d4e67c),
                    pid: pid(3090),
                    paused: false,
                    want: Want::Down,
                    term: false,
                    state: State::Finish,
                },
                "finish, want down\n",
            ),
            (
                [
                    0x40, 0, 0, 0, 0x6b, 0x03, 0x28, 0x2b, 0x0c, 0xbb, 0xd9, 0x7c, 0xe1, 0x5b, 0,
                    0, 0, 0x64, 1, 1,
                ],
                Status {
                    stamp: t(0x6b03282b, 0x0cbbd97c),
                    pid: pid(23521),
                    paused: false,
                    want: Want::Down,
                    term: true,
                    state: State::Run,
                },
                "run, got TERM, want down\n",
            ),
        ]
    }

    #[test]
    fn golden_dumps_from_runsv() {
        for (bytes, status, stat) in golden() {
            assert_eq!(Status::decode(&bytes), Ok(status), "{bytes:02x?}");
            assert_eq!(status.encode(), bytes);
            assert_eq!(status.stat_text().as_bytes(), stat.as_bytes());
            assert_eq!(status.stamp.nanos % 1000, 500);
        }
    }

    #[test]
    fn every_combination_round_trips() {
        let stamp = Tai64n::from_unix(1_795_369_554, 434_302_500);
        for state in [State::Down, State::Run, State::Finish] {
            for want in [Want::Up, Want::Down] {
                for paused in [false, true] {
                    for term in [false, true] {
                        for p in [None, pid(1), pid(0x0102_0304), pid(u32::MAX)] {
                            let s = Status {
                                stamp,
                                pid: p,
                                paused,
                                want,
                                term,
                                state,
                            };
                            let b = s.encode();
                            assert_eq!(Status::decode(&b), Ok(s));
                            assert_eq!(b[offset::WANT], if want == Want::Up { b'u' } else { b'd' });
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn exit_is_stored_as_down_and_stated_as_exit() {
        let s = Status {
            stamp: Tai64n::default(),
            pid: pid(7),
            paused: false,
            want: Want::Exit,
            term: true,
            state: State::Run,
        };
        assert_eq!(s.encode()[offset::WANT], b'd');
        assert_eq!(s.stat_text().as_bytes(), b"run, got TERM, want exit\n");
        let down = Status {
            state: State::Down,
            pid: None,
            term: false,
            paused: true,
            ..s
        };
        assert_eq!(down.stat_text().as_bytes(), b"down, paused\n");
    }

    #[test]
    fn pid_layout_is_little_endian() {
        let s = Status {
            stamp: Tai64n::default(),
            pid: pid(0x0403_0201),
            paused: false,
            want: Want::Up,
            term: false,
            state: State::Run,
        };
        assert_eq!(&s.encode()[12..16], &[1, 2, 3, 4]);
    }

    #[test]
    fn daemontools_18_bytes() {
        let b = [
            0x40, 0, 0, 0, 0x6b, 0x03, 0x26, 0x73, 0x2f, 0x8b, 0x97, 0xbc, 0x63, 0x57, 0, 0, 1,
            0x75,
        ];
        let s = Status::decode(&b).expect("18 bytes decode");
        assert_eq!(s.pid, pid(0x5763));
        assert!(s.paused);
        assert_eq!(s.want, Want::Up);
        assert_eq!(s.state, State::Run);
        assert_eq!(&s.encode()[..18], &b);
    }

    #[test]
    fn bad_lengths() {
        assert_eq!(Status::decode(&[0; 5]), Err(BadFormat));
        assert_eq!(Status::decode(&[0; 19]), Err(BadFormat));
        assert_eq!(Status::decode(&[0; 21]), Err(BadFormat));
        assert_eq!(BadFormat.to_string(), "bad format");
    }

    #[test]
    fn unknown_state_byte_has_no_word() {
        let mut b = [0u8; 20];
        b[offset::STATE] = 7;
        assert_eq!(Status::decode(&b).map(|s| s.state), Ok(State::Other(7)));
        assert_eq!(State::Other(7).word(), None);
    }

    #[test]
    fn pid_texts() {
        assert_eq!(pid_text(pid(3049)).as_bytes(), b"3049\n");
        assert_eq!(pid_text(pid(u32::MAX)).as_bytes(), b"4294967295\n");
        assert_eq!(pid_text(None).as_bytes(), b"");
        for p in [pid(1), pid(3049), pid(i32::MAX.unsigned_abs()), None] {
            assert_eq!(parse_pid_text(pid_text(p).as_bytes()), p);
        }
        // Beyond pid_t: not a process (kill(2) would take it for a process group).
        assert_eq!(parse_pid_text(b"2147483648\n"), None);
        for bad in [
            &b"0\n"[..],
            b"12",
            b" 12\n",
            b"+12\n",
            b"12\n\n",
            b"4294967296\n",
            b"x\n",
        ] {
            assert_eq!(parse_pid_text(bad), None, "{bad:?}");
        }
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn status() -> impl Strategy<Value = Status> {
            (
                any::<u64>(),
                0..1_000_000_000u32,
                any::<u32>(),
                any::<bool>(),
                prop::sample::select(vec![Want::Up, Want::Down]),
                any::<bool>(),
                any::<u8>(),
            )
                .prop_map(|(secs, nanos, p, paused, want, term, st)| Status {
                    stamp: Tai64n { secs, nanos },
                    pid: NonZeroU32::new(p),
                    paused,
                    want,
                    term,
                    state: State::from_byte(st),
                })
        }

        proptest! {
            /// Any bytes: no panic; only 18 or 20 bytes decode.
            #[test]
            fn prop_decode_any_bytes(b in prop::collection::vec(any::<u8>(), 0..40)) {
                let r = Status::decode(&b);
                prop_assert_eq!(r.is_ok(), b.len() == STATUS_LEN || b.len() == DAEMONTOOLS_LEN);
                if let Ok(s) = r {
                    let _ = (s.stat_text(), s.pid_text());
                    // What decodes once decodes the same after encoding.
                    prop_assert_eq!(Status::decode(&s.encode()).map(|t| t.encode()), Ok(s.encode()));
                }
            }

            #[test]
            fn prop_status_round_trips(s in status()) {
                prop_assert_eq!(Status::decode(&s.encode()), Ok(s));
            }

            /// runit's own bytes (flags 0 or 1, want `u` or `d`) come back byte for byte.
            #[test]
            fn prop_canonical_bytes_round_trip(
                head in prop::array::uniform16(any::<u8>()),
                paused in 0..=1u8,
                want in prop::sample::select(vec![b'u', b'd']),
                term in 0..=1u8,
                state in any::<u8>(),
            ) {
                let mut b = [0u8; STATUS_LEN];
                b[..16].copy_from_slice(&head);
                b[16..].copy_from_slice(&[paused, want, term, state]);
                prop_assert_eq!(Status::decode(&b).map(|s| s.encode()), Ok(b));
            }

            #[test]
            fn prop_pid_text_round_trips(p in 1..=i32::MAX.unsigned_abs()) {
                let pid = NonZeroU32::new(p);
                prop_assert_eq!(parse_pid_text(pid_text(pid).as_bytes()), pid);
            }

            #[test]
            fn prop_pid_text_any_bytes(b in prop::collection::vec(any::<u8>(), 0..16)) {
                if let Some(p) = parse_pid_text(&b) {
                    let text = pid_text(Some(p));
                    prop_assert_eq!(parse_pid_text(text.as_bytes()), Some(p));
                    prop_assert!(p.get() <= i32::MAX.unsigned_abs());
                }
            }
        }
    }
}
