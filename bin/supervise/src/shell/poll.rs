//! The one `poll(2)` of supervise's loop: the descriptors it waits on, by what they are.

use std::os::fd::BorrowedFd;

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;

/// What a descriptor of the loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    Signals,
    Control,
    LogControl,
    /// Prefixed logs: the service's stdout and stderr pipes.
    Stdout,
    Stderr,
    /// supervise's end of the running `./run`'s notification pipe.
    Notification,
    /// The inotify descriptor that watches the dependency waited for.
    Dependencies,
}

const SLOTS: usize = 7;

/// The descriptors of one turn of the loop (at most one per [`Slot`]), on the stack.
pub(super) struct PollSet<'a> {
    fds: [PollFd<'a>; SLOTS],
    /// Where each slot is in `fds`.
    index: [Option<usize>; SLOTS],
    len: usize,
}

/// Which slots had something to read (or hung up).
#[derive(Debug, Clone, Copy)]
pub(super) struct Readable([bool; SLOTS]);

impl Readable {
    pub(super) fn has(&self, slot: Slot) -> bool {
        self.0[slot as usize]
    }
}

impl<'a> PollSet<'a> {
    /// A set holding the signalfd.
    pub(super) fn new(signals: BorrowedFd<'a>) -> Self {
        let mut set = PollSet {
            fds: std::array::from_fn(|_| PollFd::from_borrowed_fd(signals, PollFlags::IN)),
            index: [None; SLOTS],
            len: 0,
        };
        set.add(Slot::Signals, signals);
        set
    }

    pub(super) fn add(&mut self, slot: Slot, fd: BorrowedFd<'a>) {
        self.fds[self.len] = PollFd::from_borrowed_fd(fd, PollFlags::IN);
        self.index[slot as usize] = Some(self.len);
        self.len += 1;
    }

    /// `poll(2)` until one is readable or `timeout` passes (EINTR is a wakeup like any other).
    pub(super) fn wait(mut self, timeout: Option<&Timespec>) -> Result<Readable, Errno> {
        match poll(&mut self.fds[..self.len], timeout) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
        let fds = &self.fds;
        Ok(Readable(
            self.index
                .map(|i| i.is_some_and(|i| !fds[i].revents().is_empty())),
        ))
    }
}
