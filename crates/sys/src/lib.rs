//! The system calls herd needs that neither the standard library nor a safe nix/rustix call
//! covers, behind safe functions: spawning a child (fork, fd setup, exec), signal masks and
//! signalfd, dnotify, reaping, the `/proc` fields herd reads, poll timeouts, and execvp's PATH
//! search.
//!
//! Everything between `fork` (or `clone`) and `exec` is async-signal-safe: argv, paths and the
//! failure message are built before the fork, and the child only calls `getpid`,
//! `clock_gettime`, `open`, `read`, `write`, `close`, `rename` and `unlink` (the record of a
//! recorded spawn), `dup2`, `chdir`, `setsid`, `sigprocmask`, `sigaction`, `execv` and `_exit`.
//! This is the only crate with `unsafe`.

pub mod dnotify;
pub mod forker;
pub mod path;
pub mod process;
pub mod procfs;
pub mod sched;
pub mod signal;
pub mod start;
pub mod time;

pub use path::{find_executable, is_executable};
pub use process::{
    close_stdio, exec_replace, reap, reap_any, status_pid, system_pid, Command, Encode, Reaped,
    Record, SpawnError, SpawnStack, RECORD_MAX,
};
pub use procfs::{children, descendants, proc_start_time, read_stat, Stat};
pub use time::{timespec, timespec_until};
