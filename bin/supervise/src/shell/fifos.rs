//! The control FIFOs of a service, read in the loop, and kept FIFOs when something replaces them.

use std::os::fd::{AsFd, OwnedFd};

use herd_control::Control;
use herd_diag::Diag;
use herd_svdir::{self as svdir, FifoState, Held, Layout};

use super::{Fatal, Shell};
use crate::machine::{Machine, Which};

/// Reads every byte available on a control FIFO and hands each letter to the machine.
pub(super) fn read_control(fd: &OwnedFd, which: Which, machine: &mut Machine, shell: &mut Shell) {
    let mut buf = [0u8; 64];
    while let Ok(n @ 1..) = rustix::io::read(fd, &mut buf) {
        for c in buf[..n].iter().filter_map(|&b| Control::from_byte(b)) {
            shell
                .diag
                .trace(&format_args!("event control: {which:?} {c:?}"));
            machine.control(which, c, shell);
        }
    }
}

/// The FIFOs of one service (`supervise/control` and `ok`). After each status write, and on
/// SIGIO, [`Fifos::check`] puts back a FIFO that was replaced (by a regular file, say) and opens
/// one that someone made anew, so that `sv` reaches supervise again. A FIFO removed is left alone
/// (the service may be being removed). Not watched between status writes: a watch (dnotify)
/// made every supervise's exit measurably slower, for a fault this rare.
pub(super) struct Fifos {
    pub(super) layout: &'static Layout,
    pub(super) which: Which,
    pub(super) control: OwnedFd,
    /// Held open, never read: clients open it for writing to see that supervise runs.
    pub(super) ok: Option<OwnedFd>,
}

impl Fifos {
    /// Opens `supervise/control` (step 4 of runsv's startup).
    pub(super) fn open_control(layout: &'static Layout, which: Which) -> Result<Self, Fatal> {
        let control = svdir::open_control(layout)?;
        Ok(Fifos {
            layout,
            which,
            control,
            ok: None,
        })
    }

    /// Opens `supervise/ok` (step 7): something other than a FIFO there is replaced first, or
    /// `sv` would take supervise for alive even after it is gone.
    pub(super) fn open_ok(&mut self, diag: &Diag) -> Result<(), Fatal> {
        if svdir::check_fifo(self.layout.ok, None) == FifoState::NotFifo {
            if let Some(fd) = replace(self.layout.ok, Held::Ok, diag) {
                self.ok = Some(fd);
                return Ok(());
            }
        }
        self.ok = Some(svdir::open_ok(self.layout)?);
        Ok(())
    }

    /// Are `control` and `ok` still ours? A FIFO replaced (by a regular file, say) is put back,
    /// one someone made anew is opened; one only removed is left alone.
    pub(super) fn check(&mut self, machine: &mut Machine, shell: &mut Shell) {
        let l = self.layout;
        match svdir::check_fifo(l.control, Some(self.control.as_fd())) {
            FifoState::Held | FifoState::Missing => {}
            state => {
                let replaced = (state == FifoState::NotFifo)
                    .then(|| replace(l.control, Held::Control, &shell.diag))
                    .flatten();
                match replaced.map_or_else(|| svdir::open_control(l), Ok) {
                    Ok(fd) => {
                        // Letters written before the switch are not lost.
                        read_control(&self.control, self.which, machine, shell);
                        self.control = fd;
                    }
                    Err(e) => shell.diag.warn(&e),
                }
            }
        }
        let held = self.ok.as_ref().map(|fd| fd.as_fd());
        match svdir::check_fifo(l.ok, held) {
            FifoState::Held | FifoState::Missing => {}
            state => {
                let replaced = (state == FifoState::NotFifo)
                    .then(|| replace(l.ok, Held::Ok, &shell.diag))
                    .flatten();
                match replaced.map_or_else(|| svdir::open_ok(l), Ok) {
                    // The new one is open before the old one closes: no moment without a reader.
                    Ok(fd) => self.ok = Some(fd),
                    Err(e) => shell.diag.warn(&e),
                }
            }
        }
    }
}

/// Replaces what is at a FIFO's path with a new FIFO, saying so; the new FIFO opened as `held`
/// says, or `None` if that failed (said).
fn replace(path: &'static str, held: Held, diag: &Diag) -> Option<OwnedFd> {
    diag.warn(&format_args!(
        "{}: replacing it",
        svdir::Error::NotFifo { path }
    ));
    svdir::replace_fifo(path, held)
        .map_err(|e| diag.warn(&e))
        .ok()
}
