//! `herd-soak-writer NAME INTERVAL_MS BURST`: the `run` of every service of the chaos soak
//! (`tests/soak.rs`). Every INTERVAL_MS it writes BURST numbered lines `NAME INSTANCE SEQ\n` to
//! stdout (the log pipe) in one `write(2)`, and records in `./soak-journal` what it wrote, so that
//! the soak can tell exactly which lines must be in the service's log.
//!
//! Each start is a new instance: slot INSTANCE (1, 2, …) of the journal, 32 bytes at offset
//! 32 × (INSTANCE − 1), holds `INTENT ACK\n`. Before a write INTENT is the last number it carries;
//! after the write ACK catches up. A `pwrite` of 32 bytes inside one page is all or nothing for a
//! process killed at any point, so after a SIGKILL the lines of the interrupted burst are either
//! all in the pipe or none (a write of at most `PIPE_BUF` bytes to a pipe is atomic): the log must
//! hold exactly ACK or exactly INTENT lines of that instance. SIGTERM (blocked, read through a
//! signalfd between bursts) ends it with INTENT = ACK. A broken pipe ends it too (exit 1).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::process::ExitCode;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// The journal, in the service directory (the writer's cwd).
const JOURNAL: &str = "soak-journal";
/// Bytes per journal slot: two 15-digit numbers, a space and a newline.
const SLOT: u64 = 32;
/// The most a burst may take: one atomic pipe write.
const PIPE_BUF: usize = 4096;

fn slot_text(intent: u64, ack: u64) -> [u8; SLOT as usize] {
    let mut out = [b' '; SLOT as usize];
    let text = format!("{intent:>15} {ack:>15}\n");
    out.copy_from_slice(&text.as_bytes()[..SLOT as usize]);
    out
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("herd-soak-writer: fatal: {what}: {e}");
    ExitCode::from(111)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, interval, burst] = args.as_slice() else {
        return fail("usage", &"herd-soak-writer NAME INTERVAL_MS BURST");
    };
    let (Ok(interval), Ok(burst)) = (interval.parse::<u64>(), burst.parse::<u64>()) else {
        return fail("usage", &"INTERVAL_MS and BURST are numbers");
    };
    let mut term = SigSet::empty();
    term.add(Signal::SIGTERM);
    if let Err(e) = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&term), None) {
        return fail("block SIGTERM", &e);
    }
    let sigfd = match SignalFd::with_flags(&term, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC) {
        Ok(fd) => fd,
        Err(e) => return fail("signalfd", &e),
    };
    let journal = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(JOURNAL)
    {
        Ok(f) => f,
        Err(e) => return fail("open soak-journal", &e),
    };
    let offset = match journal.metadata() {
        // A slot cut short by a kill between `open` and the first `pwrite` cannot happen (the
        // claim is one pwrite), but round up anyway: never write over another instance.
        Ok(m) => m.len().div_ceil(SLOT) * SLOT,
        Err(e) => return fail("stat soak-journal", &e),
    };
    let record = |journal: &File, intent: u64, ack: u64| {
        journal.write_all_at(&slot_text(intent, ack), offset)
    };
    if let Err(e) = record(&journal, 0, 0) {
        return fail("write soak-journal", &e);
    }
    let instance = offset / SLOT + 1;
    // Not through std's line-buffered `Stdout`: one burst must be exactly one write(2).
    let out = std::io::stdout();
    let mut buf = Vec::with_capacity(PIPE_BUF);
    let timeout =
        PollTimeout::try_from(Duration::from_millis(interval)).unwrap_or(PollTimeout::MAX);
    let mut seq = 0u64;
    loop {
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(&sigfd),
            PollFlags::POLLIN,
        )];
        match poll(&mut fds, timeout) {
            Ok(0) => {}
            Ok(_) => return ExitCode::SUCCESS,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return fail("poll", &e),
        }
        buf.clear();
        let mut last = seq;
        while last < seq + burst {
            let line = format!("{name} {instance} {}\n", last + 1);
            if buf.len() + line.len() > PIPE_BUF {
                break;
            }
            buf.extend_from_slice(line.as_bytes());
            last += 1;
        }
        if let Err(e) = record(&journal, last, seq) {
            return fail("write soak-journal", &e);
        }
        // One write of at most PIPE_BUF bytes: all of it or nothing.
        match nix::unistd::write(&out, &buf) {
            Ok(n) if n == buf.len() => {}
            Ok(n) => return fail("short write", &n),
            Err(e) => return fail("write", &e),
        }
        seq = last;
        if let Err(e) = record(&journal, seq, seq) {
            return fail("write soak-journal", &e);
        }
    }
}
