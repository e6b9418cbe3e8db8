//! supervise run as a container runs it: its stdout and stderr are pipes read by a thread each
//! ([`Capture`]), and neither of herd's variables (`SVSCAN_LOG_PREFIX`, `SVSCAN_NOTIFY_FD`) comes
//! from the environment the tests run in. Shared by [`super::prefixed_logs`] and
//! [`super::essential`].

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herd_testsupport::*;
use nix::fcntl::OFlag;

/// A pipe with both ends close-on-exec.
pub(super) fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).expect("pipe2")
}

/// Everything written to a pipe, collected by a thread until EOF.
pub(super) struct Capture {
    data: Arc<Mutex<Vec<u8>>>,
    eof: mpsc::Receiver<()>,
}

impl Capture {
    /// A capture and the write end to give away (as a child's stdout or stderr).
    pub(super) fn new() -> (Capture, OwnedFd) {
        let (r, w) = pipe();
        let data = Arc::new(Mutex::new(Vec::new()));
        let (tx, eof) = mpsc::channel();
        let sink = Arc::clone(&data);
        std::thread::spawn(move || {
            let mut r = fs::File::from(r);
            let mut buf = [0u8; 65536];
            while let Ok(n @ 1..) = r.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            let _ = tx.send(());
        });
        (Capture { data, eof }, w)
    }

    pub(super) fn text(&self) -> String {
        String::from_utf8_lossy(&self.data.lock().unwrap()).into_owned()
    }

    /// Waits until everything captured so far is exactly `want`.
    #[track_caller]
    pub(super) fn wait_text(&self, want: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let got = self.text();
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for the capture to be\n{}\n--- last seen:\n{}",
                shorten(want),
                shorten(&got)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for EOF (every writer gone), then returns everything.
    #[track_caller]
    pub(super) fn wait_eof(&self) -> String {
        self.eof
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("no EOF within {DEADLINE:?}; so far: {}", self.text()));
        self.text()
    }
}

/// A long text cut down for a failure message.
pub(super) fn shorten(s: &str) -> String {
    if s.len() <= 2000 {
        return s.to_string();
    }
    let (head, tail) = (&s[..1000], &s[s.len() - 1000..]);
    format!("{head}\n[… {} bytes …]\n{tail}", s.len() - 2000)
}

/// `supervise ARG` in the scenario dir with neither variable of ours set (whatever the
/// environment of the tests holds).
pub(super) fn supervise(sc: &Scenario, arg: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(bin("supervise"));
    c.arg(arg)
        .current_dir(sc.path())
        .env_remove("SVSCAN_LOG_PREFIX")
        .env_remove("SVSCAN_NOTIFY_FD");
    c
}

/// Starts `c` with its stdout and stderr captured.
pub(super) fn spawn_captured(mut c: Command) -> (Proc, Capture, Capture) {
    let (out, out_w) = Capture::new();
    let (err, err_w) = Capture::new();
    c.stdout(Stdio::from(out_w)).stderr(Stdio::from(err_w));
    (Proc::spawn(c), out, err)
}

/// Sends `x` and waits until supervise exits 0.
#[track_caller]
pub(super) fn exit_supervise(sup: &mut Proc, dir: &Path) {
    control(dir, "x");
    assert_eq!(sup.wait(DEADLINE), Some(0), "supervise's exit code");
}
