//! Signal masks and signalfd: herd handles signals only by reading a signalfd, never in a handler.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

pub use nix::sys::signal::Signal as Sig;

/// `pthread_sigmask(SIG_BLOCK)`: blocks `signals` and returns the mask that was in force before.
pub fn block(signals: &[Signal]) -> nix::Result<SigSet> {
    let mut set = SigSet::empty();
    for s in signals {
        set.add(*s);
    }
    let mut old = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old))?;
    Ok(old)
}

/// `signalfd(2)`: a non-blocking, close-on-exec descriptor that reads the given (blocked) signals.
pub fn signal_fd(signals: &[Signal]) -> nix::Result<SignalFd> {
    let mut set = SigSet::empty();
    for s in signals {
        set.add(*s);
    }
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
}

/// Reads every pending signal from `fd` (until EAGAIN) and passes each signal number to `f`.
pub fn drain(fd: &SignalFd, mut f: impl FnMut(i32)) {
    while let Ok(Some(info)) = fd.read_signal() {
        f(info.ssi_signo as i32);
    }
}
