//! The signals svscan reads and sends, and their names in the lifecycle: every signal with no
//! job is blocked and read from the signalfd, so that none can kill PID 1.

use herd_sys::signal::Sig as Signal;

use crate::lifecycle::Sig;

/// Every signal that has no job must not kill svscan: all are blocked and read from a signalfd.
pub const BLOCKED: [Signal; 19] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGPIPE,
    Signal::SIGALRM,
    Signal::SIGTERM,
    Signal::SIGCHLD,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGURG,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGWINCH,
];

/// The lifecycle's name for a signal svscan reads, if it has one.
pub fn sig_of(s: Signal) -> Option<Sig> {
    Some(match s {
        Signal::SIGHUP => Sig::Hup,
        Signal::SIGINT => Sig::Int,
        Signal::SIGQUIT => Sig::Quit,
        Signal::SIGUSR1 => Sig::Usr1,
        Signal::SIGUSR2 => Sig::Usr2,
        Signal::SIGALRM => Sig::Alrm,
        Signal::SIGTERM => Sig::Term,
        Signal::SIGWINCH => Sig::Winch,
        Signal::SIGCONT => Sig::Cont,
        _ => return None,
    })
}

pub fn signal_of(s: Sig) -> Signal {
    match s {
        Sig::Hup => Signal::SIGHUP,
        Sig::Int => Signal::SIGINT,
        Sig::Quit => Signal::SIGQUIT,
        Sig::Usr1 => Signal::SIGUSR1,
        Sig::Usr2 => Signal::SIGUSR2,
        Sig::Alrm => Signal::SIGALRM,
        Sig::Term => Signal::SIGTERM,
        Sig::Winch => Signal::SIGWINCH,
        Sig::Cont => Signal::SIGCONT,
        Sig::Kill => Signal::SIGKILL,
    }
}
