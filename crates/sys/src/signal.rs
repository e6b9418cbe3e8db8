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

/// `read(2)` on a signalfd until EAGAIN: the set of signals that arrived. A standard signal
/// pending twice is delivered once anyway, so a set loses nothing callers could act on.
pub fn drain(fd: &SignalFd) -> SigSet {
    let mut set = SigSet::empty();
    while let Ok(Some(info)) = fd.read_signal() {
        if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
            set.add(sig);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_gives_the_set() {
        // Real-time signals are not in nix's `Signal`; USR1 and USR2 stand for any pair. Other
        // tests of this process do not use them.
        let sigs = [Signal::SIGUSR1, Signal::SIGUSR2];
        let old = block(&sigs).expect("block");
        let fd = signal_fd(&sigs).expect("signalfd");
        assert_eq!(drain(&fd), SigSet::empty());
        nix::sys::signal::raise(Signal::SIGUSR2).expect("raise");
        nix::sys::signal::raise(Signal::SIGUSR2).expect("raise");
        nix::sys::signal::raise(Signal::SIGUSR1).expect("raise");
        let got = drain(&fd);
        assert_eq!(got.iter().collect::<Vec<_>>(), sigs);
        assert_eq!(drain(&fd), SigSet::empty());
        old.thread_set_mask().expect("restore");
    }
}
