//! What a program's start must do before its `main` runs, for the `herd` executable, which has
//! its own C `main` (`#![no_main]`) instead of the standard library's start-up.
//!
//! std's start-up also installs a stack-overflow handler whose guard-page lookup
//! (`pthread_getattr_np`) makes a static glibc binary carry glibc's scanf and float parsers: about
//! 144 KB of text that every svscan, supervise and svlog would map (docs/size.md). herd keeps the
//! two duties of that start-up its tools rely on, with the same effect as std's:
//! - standard descriptors 0, 1 and 2 that are closed are opened on `/dev/null`, so that no file a
//!   tool opens later becomes its stdout or stderr by accident;
//! - SIGPIPE is ignored: a write to a closed pipe fails with EPIPE instead of killing the tool
//!   (children get the default action back, [`crate::Command`]).
//!
//! A stack overflow is then a plain SIGSEGV, without std's "has overflowed its stack" line.
//! Exit through [`exit`], which flushes Rust's buffered stdout as std's start-up does when `main`
//! returns.

/// Does the start-up duties above. Call it first in `main`, before any file is opened.
pub fn runtime() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the descriptor's flags; a closed one is reported as EBADF.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
        // SAFETY: open of a constant path; it takes the lowest free descriptor, which is `fd`
        // since those below it are open by now.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } == -1 {
            // As std: without a descriptor there, a later file could become stdout or stderr.
            std::process::abort();
        }
    }
    // SAFETY: setting a signal's disposition to SIG_IGN runs no code of ours.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Flushes stdout and exits with `code` (std's `process::exit` runs std's clean-up, which flushes
/// the buffered stdout).
pub fn exit(code: u8) -> ! {
    std::process::exit(i32::from(code))
}
