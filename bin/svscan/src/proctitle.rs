//! runsvdir's `log` argument (docs/runit-compatibility.md#runsvdir-the-log-argument): everything
//! written to svscan's stderr (and so to every supervise's and service's stderr) scrolls through
//! that argument in place, so `ps` shows the latest messages. The first five characters (`log: `)
//! stay; the rest is a window of the most recent bytes. We rewrite our own argv area through
//! `/proc/self/mem`, which needs no unsafe code; `/proc/self/stat` field 48 (`herd_sys::read_stat`)
//! gives where argv starts.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use herd_diag::Diag;

/// The fixed head of the argument.
const HEAD: usize = 5;
/// Minimum length of the argument.
const MIN_LEN: usize = 7;
/// Every 15 minutes runsvdir scrolls its log window by one '.'.
pub const TICK: Duration = Duration::from_secs(900);

pub struct Title {
    mem: File,
    /// Address of the window (just after the fixed head).
    addr: u64,
    window: Vec<u8>,
}

impl Title {
    /// The window over argv[`index`] of this process, if its argv area can be found and written.
    fn new(argv: &[OsString], index: usize) -> Option<Title> {
        let arg_start = herd_sys::read_stat(nix::unistd::Pid::this())?.arg_start?;
        // `argv` is svscan's; the process's may have more in front (`herd svscan DIR log`).
        let all: Vec<OsString> = std::env::args_os().collect();
        let index = index + all.len().checked_sub(argv.len())?;
        let offset: usize = all
            .get(..index)?
            .iter()
            .map(|a| a.as_bytes().len() + 1)
            .sum();
        let arg = all.get(index)?;
        let len = arg.as_bytes().len();
        let mem = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/self/mem")
            .ok()?;
        let mut check = vec![0u8; len];
        // Addresses come from the kernel; checked all the same, never wrapped.
        let at = |off: usize| arg_start.checked_add(u64::try_from(off).ok()?);
        mem.read_exact_at(&mut check, at(offset)?).ok()?;
        if check != arg.as_bytes() {
            return None;
        }
        Some(Title {
            mem,
            addr: at(offset.checked_add(HEAD)?)?,
            window: check.get(HEAD..)?.to_vec(),
        })
    }

    /// Shifts `data` into the window (NUL bytes dropped) and rewrites it.
    pub fn push(&mut self, data: &[u8]) {
        let bytes: Vec<u8> = data.iter().copied().filter(|&b| b != 0).collect();
        let n = self.window.len();
        let k = bytes.len();
        if k >= n {
            self.window.copy_from_slice(&bytes[k - n..]);
        } else {
            self.window.copy_within(k.., 0);
            self.window[n - k..].copy_from_slice(&bytes);
        }
        let _ = self.mem.write_all_at(&self.window, self.addr);
    }
}

/// runsvdir's readproctitle log: stderr (svscan's and so every child's) becomes a pipe whose
/// read end is returned with the window over argv[`index`]; `None`, with runsvdir's warning,
/// when the log cannot be set up.
pub fn setup(
    argv: &[OsString],
    index: usize,
    log: &OsStr,
    diag: &Diag,
) -> Option<(Title, OwnedFd)> {
    let set = || {
        if log.as_bytes().len() < MIN_LEN {
            diag.warn(&"log must have at least seven characters.");
            return None;
        }
        let title = Title::new(argv, index)?;
        let (r, w) = rustix::pipe::pipe_with(
            rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
        )
        .ok()?;
        // The read end is ours; the write end becomes fd 2 for us and every child.
        if rustix::stdio::dup2_stderr(&w).is_err() {
            diag.warn(&"unable to set filedescriptor for log.");
            return None;
        }
        Some((title, r))
    };
    let got = set();
    if got.is_none() {
        diag.warn(&"log service disabled.");
    }
    got
}
