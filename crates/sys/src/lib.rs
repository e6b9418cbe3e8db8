//! The system calls herd needs that neither the standard library nor a safe nix/rustix call
//! covers, behind safe functions: spawning a child (fork, fd setup, exec), signal masks and
//! signalfd, reaping, reading a process's start time from `/proc`, and poll timeouts.
//!
//! Everything between `fork` and `exec` is async-signal-safe: argv, paths and the failure
//! message are built before the fork, and the child only calls `dup2`, `chdir`, `setsid`,
//! `sigprocmask`, `sigaction`, `execv`, `write` and `_exit`. This is the only crate with `unsafe`.

pub mod process;
pub mod signal;
pub mod time;

pub use process::{
    close_stdio, descendants, exec_replace, proc_start_time, reap, reap_any, Command, Exit, Reaped,
};
pub use time::{timespec, timespec_until};
