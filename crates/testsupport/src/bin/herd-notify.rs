//! `herd-notify TRIGGER STAMP FD`: a service's `run` that becomes ready when a test tells it to
//! (`tests/sv_ready.rs`). It opens the FIFO TRIGGER read+write (so that it never reads EOF) and
//! blocks until it reads one byte; then it appends CLOCK_MONOTONIC in ns (`herd_testsupport::
//! clock::monotonic_ns`) and a newline to STAMP, writes a newline on descriptor FD (s6's readiness
//! notification), and sleeps until it is killed. The stamp is taken just before the
//! newline, so a test measures a waiter's latency from there.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::process::ExitCode;

fn fail(what: &str, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("herd-notify: fatal: {what}: {e}");
    ExitCode::from(111)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [trigger, stamp, fd] = &args[..] else {
        return fail("usage", &"herd-notify TRIGGER STAMP FD");
    };
    let Ok(fd) = fd.parse::<i32>() else {
        return fail("bad descriptor", fd);
    };
    let mut t = match OpenOptions::new().read(true).write(true).open(trigger) {
        Ok(f) => f,
        Err(e) => return fail("unable to open the trigger", &e),
    };
    let mut byte = [0u8; 1];
    if let Err(e) = t.read_exact(&mut byte) {
        return fail("unable to read the trigger", &e);
    }
    drop(t);
    // The supervisor's pipe, reached through /proc without taking over the descriptor (that
    // would need unsafe code): the same pipe, another open file.
    let mut out = match OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
    {
        Ok(f) => f,
        Err(e) => return fail("unable to open the notification descriptor", &e),
    };
    let now = herd_testsupport::clock::monotonic_ns();
    if let Err(e) = out.write_all(b"\n") {
        return fail("unable to write the newline", &e);
    }
    drop(out);
    let line = format!("{now}\n");
    let written = OpenOptions::new()
        .append(true)
        .create(true)
        .open(stamp)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        return fail("unable to write the stamp", &e);
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
