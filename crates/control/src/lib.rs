//! The control letters of `supervise/control` (docs/runit-compatibility.md#control-letters) and
//! writing them to the FIFO.
//!
//! runit's letters are a superset of daemontools' `svc` letters with the same meanings, so one
//! enum serves both. Unknown bytes (s6's `r`, `O`, `X`…, newlines) map to `None` and are ignored
//! by supervisors. A letter appears as a byte only in this file. Writing uses a non-blocking open,
//! so a missing reader is reported (ENXIO → [`ControlError::NotRunning`]) instead of hanging.

#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;

use herd_diag::Reason;
use nix::sys::signal::Signal;
use rustix::fs::{open, Mode, OFlags};
use rustix::io::{write, Errno};

/// The directory of the custom control scripts in the service directory: the script of a letter
/// is `control/<letter>` ([`Control::script`]).
pub const SCRIPT_DIR: &str = "control";

/// One command to a supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Control {
    /// Want up; start if down.
    Up,
    /// Want down; stop if running.
    Down,
    /// Want down; start once if down.
    Once,
    /// Stop, then the supervisor exits.
    Exit,
    /// Stop (TERM); restarts if want is up.
    Term,
    /// SIGKILL.
    Kill,
    /// SIGSTOP, and set the paused flag.
    Pause,
    /// SIGCONT, and clear the paused flag.
    Cont,
    Hup,
    Alarm,
    Interrupt,
    Quit,
    Usr1,
    Usr2,
}

impl Control {
    /// Every letter, in runit's documentation order.
    pub const ALL: [Control; 14] = [
        Control::Up,
        Control::Down,
        Control::Once,
        Control::Pause,
        Control::Cont,
        Control::Hup,
        Control::Alarm,
        Control::Interrupt,
        Control::Quit,
        Control::Usr1,
        Control::Usr2,
        Control::Term,
        Control::Kill,
        Control::Exit,
    ];

    /// The letter for a byte read from the FIFO; `None` for bytes runit ignores.
    pub fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            b'u' => Control::Up,
            b'd' => Control::Down,
            b'o' => Control::Once,
            b'x' => Control::Exit,
            b't' => Control::Term,
            b'k' => Control::Kill,
            b'p' => Control::Pause,
            b'c' => Control::Cont,
            b'h' => Control::Hup,
            b'a' => Control::Alarm,
            b'i' => Control::Interrupt,
            b'q' => Control::Quit,
            b'1' => Control::Usr1,
            b'2' => Control::Usr2,
            _ => return None,
        })
    }

    /// The byte written to the FIFO.
    pub fn byte(self) -> u8 {
        match self {
            Control::Up => b'u',
            Control::Down => b'd',
            Control::Once => b'o',
            Control::Exit => b'x',
            Control::Term => b't',
            Control::Kill => b'k',
            Control::Pause => b'p',
            Control::Cont => b'c',
            Control::Hup => b'h',
            Control::Alarm => b'a',
            Control::Interrupt => b'i',
            Control::Quit => b'q',
            Control::Usr1 => b'1',
            Control::Usr2 => b'2',
        }
    }

    /// The signal a supervisor sends to a running service for this letter, if it is one that
    /// only forwards a signal (`k p c h a i q 1 2`). `t`, `d` and `x` stop the service instead.
    pub fn signal(self) -> Option<Signal> {
        Some(match self {
            Control::Kill => Signal::SIGKILL,
            Control::Pause => Signal::SIGSTOP,
            Control::Cont => Signal::SIGCONT,
            Control::Hup => Signal::SIGHUP,
            Control::Alarm => Signal::SIGALRM,
            Control::Interrupt => Signal::SIGINT,
            Control::Quit => Signal::SIGQUIT,
            Control::Usr1 => Signal::SIGUSR1,
            Control::Usr2 => Signal::SIGUSR2,
            _ => return None,
        })
    }

    /// Path of the custom control script for this letter, relative to the service directory
    /// (docs/runit-compatibility.md#control-scripts).
    pub fn script(self) -> &'static str {
        match self {
            Control::Up => "control/u",
            Control::Down => "control/d",
            Control::Once => "control/o",
            Control::Exit => "control/x",
            Control::Term => "control/t",
            Control::Kill => "control/k",
            Control::Pause => "control/p",
            Control::Cont => "control/c",
            Control::Hup => "control/h",
            Control::Alarm => "control/a",
            Control::Interrupt => "control/i",
            Control::Quit => "control/q",
            Control::Usr1 => "control/1",
            Control::Usr2 => "control/2",
        }
    }
}

/// Why letters could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlError {
    /// The FIFO has no reader (ENXIO): no supervisor runs.
    NotRunning,
    /// Opening the FIFO failed otherwise.
    Open(Errno),
    /// Writing failed, or wrote fewer bytes than asked.
    Write(Option<Errno>),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::NotRunning => f.write_str("runsv not running"),
            ControlError::Open(e) => write!(
                f,
                "unable to open supervise/control: {}",
                Reason(e.raw_os_error())
            ),
            ControlError::Write(Some(e)) => {
                write!(
                    f,
                    "unable to write to supervise/control: {}",
                    Reason(e.raw_os_error())
                )
            }
            ControlError::Write(None) => {
                f.write_str("unable to write to supervise/control: partial write")
            }
        }
    }
}

impl std::error::Error for ControlError {}

/// Writes `letters` to the control FIFO at `path` with one non-blocking open and one write.
pub fn write_control(path: impl AsRef<Path>, letters: &[Control]) -> Result<(), ControlError> {
    let bytes: Vec<u8> = letters.iter().map(|c| c.byte()).collect();
    let fd = open(
        path.as_ref(),
        OFlags::WRONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        if e == Errno::NXIO {
            ControlError::NotRunning
        } else {
            ControlError::Open(e)
        }
    })?;
    match write(&fd, &bytes) {
        Ok(n) if n == bytes.len() => Ok(()),
        Ok(_) => Err(ControlError::Write(None)),
        Err(e) => Err(ControlError::Write(Some(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_round_trip() {
        let mut seen = Vec::new();
        for c in Control::ALL {
            assert_eq!(Control::from_byte(c.byte()), Some(c));
            assert_eq!(c.script(), format!("{SCRIPT_DIR}/{}", c.byte() as char));
            seen.push(c.byte());
        }
        assert_eq!(seen, b"udopchaiq12tkx");
    }

    #[test]
    fn unknown_bytes_are_ignored() {
        for b in b"zZ\n?!rbyOXwDUe" {
            assert_eq!(Control::from_byte(*b), None, "{}", *b as char);
        }
    }

    #[test]
    fn only_forwarding_letters_have_signals() {
        assert_eq!(Control::Term.signal(), None);
        assert_eq!(Control::Down.signal(), None);
        assert_eq!(Control::Usr2.signal(), Some(Signal::SIGUSR2));
        assert_eq!(Control::Pause.signal(), Some(Signal::SIGSTOP));
    }

    #[test]
    fn missing_reader_is_not_running() {
        let dir = std::env::temp_dir().join(format!("herd-control-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let fifo = dir.join("control");
        let _ = std::fs::remove_file(&fifo);
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, Mode::from_raw_mode(0o600)).expect("mkfifo");
        assert_eq!(
            write_control(&fifo, &[Control::Up]),
            Err(ControlError::NotRunning)
        );
        let missing = dir.join("nope");
        assert_eq!(
            write_control(&missing, &[Control::Up]),
            Err(ControlError::Open(Errno::NOENT))
        );
        // With a reader, the letters arrive as their bytes, in one write.
        let reader = rustix::fs::open(
            &fifo,
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("reader");
        write_control(&fifo, &[Control::Term, Control::Cont, Control::Up]).expect("written");
        let mut buf = [0u8; 8];
        let n = rustix::io::read(&reader, &mut buf).expect("read");
        assert_eq!(&buf[..n], b"tcu");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    proptest::proptest! {
        /// Every byte: known letters decode to the letter that encodes back to the byte; the
        /// others are ignored, as runsv ignores them.
        #[test]
        fn prop_every_byte(b in proptest::arbitrary::any::<u8>()) {
            match Control::from_byte(b) {
                Some(c) => {
                    proptest::prop_assert_eq!(c.byte(), b);
                    proptest::prop_assert!(Control::ALL.contains(&c));
                }
                None => proptest::prop_assert!(Control::ALL.iter().all(|c| c.byte() != b)),
            }
        }
    }
}
