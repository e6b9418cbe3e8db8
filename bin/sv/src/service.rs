//! What sv does to one service, with the process's cwd in that service's directory (sv `chdir`s
//! there, as runit's does): read the status through the `ok` liveness test, print it, write
//! control letters, and test whether a command has taken effect
//! (docs/runit-compatibility.md#sv-commands to #sv-the-check-script). Where the supervisor keeps
//! `supervise/ready`, "up" means ready and a status line may say so (crate::readiness).

use herd_control::{write_control, Control, ControlError};
use herd_diag::{Diag, Kind, Reason};
use herd_status::Exit;
use herd_status::{Pid, State, Status, Want};
use herd_svdir::{CHECK, CHECK_ARGV0, MAIN, NOTIFICATION_FD};
use herd_sys::process::wait_for;
use herd_sys::Command;
use nix::sys::signal::SigSet;
use rustix::fs::{self, FileType};
use rustix::io::Errno;

use crate::cli::{Action, Verb};
use crate::json::{put_entry, Entry};
use crate::look::{normally_up, read_facts, read_live, Unread, NOT_RUNNING};
use crate::readiness::{appendix, is_new_instance, up_test, UpTest};
use crate::report::{warn_stderr, Out, KILL, OK, TIMEOUT};

/// How reading a service's status went.
enum Get {
    Status(Status),
    /// No supervisor reads `supervise/ok`; already reported.
    NotRunning,
    /// Already reported as a warning.
    Failed,
}

/// Result of testing a command's conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Reported (`ok: …`): stop waiting for this service.
    Done,
    /// Reported as a failure: stop waiting for this service.
    Gone,
    /// Not yet. `script` says whether `./check` ran and failed (then it is worth re-running on a
    /// back-off even without a status change).
    NotYet { script: bool },
}

/// sv's state across services: output, the times, and the command.
pub struct Sv {
    pub out: Out,
    /// TAI64 seconds when sv started (the 1-second resolution of the term/once conditions).
    pub start_secs: u64,
    /// TAI64 seconds of "now", refreshed before each round of checks.
    pub now_secs: u64,
    /// The command.
    pub action: Action,
    pub lsb: bool,
    /// The signal mask sv started with, for `./check` (sv blocks SIGIO while it waits).
    pub mask: Option<SigSet>,
}

/// Whether `./check` (or the supervisor's readiness) let a started service count as up.
enum Up {
    Yes,
    No,
    /// `./check` ran and failed.
    ScriptFailed,
}

fn raw(e: Errno) -> i32 {
    e.raw_os_error()
}

impl Sv {
    /// runit's `svstatus_get` (crate::look), with its failure reported.
    fn get(&mut self, name: &[u8], log: bool) -> Get {
        match read_live() {
            Ok(st) => Get::Status(st),
            Err(Unread::NotRunning) => {
                if self.action.exits() {
                    self.out.ok(name, log, NOT_RUNNING);
                } else {
                    self.out.fail(name, log, NOT_RUNNING, None);
                }
                Get::NotRunning
            }
            Err(Unread::Warn { what, errno }) => {
                self.out.warn(name, log, what, errno);
                Get::Failed
            }
        }
    }

    /// runit's `svstatus_print`: the status line without newline. `None` if `down` could not be
    /// tested (then only a stderr warning is printed). `service` names the service in that warning.
    /// For the main service (`main`) of a directory with `notification-fd` or `dependencies.d/`,
    /// the line ends with the readiness appendix.
    fn print(&mut self, shown: &[u8], service: &[u8], st: &Status, main: bool) -> Option<bool> {
        let normally_up = match normally_up() {
            Ok(up) => up,
            Err(e) => {
                let name = String::from_utf8_lossy(service);
                warn_stderr(&format_args!(
                    "unable to stat {name}/down: {}",
                    Reason(raw(e))
                ));
                return None;
            }
        };
        self.out.status_line(shown, st, normally_up, self.now_secs);
        if main && shows_readiness() {
            let ready = herd_svdir::read_ready(&MAIN);
            let a = appendix(st, ready.as_ref().map(Option::as_ref), self.now_secs);
            self.out.appendix(a);
        }
        Some(st.pid.is_some())
    }

    /// `sv status`: the service's line and, if `log/` exists, `; ` and the log's. In LSB mode
    /// returns the exit code to leave with (0 running, 3 down, 4 unknown).
    pub fn status(&mut self, name: &[u8]) -> Option<u8> {
        let st = match self.get(name, false) {
            Get::Status(st) => st,
            Get::Failed => return self.lsb.then_some(4),
            Get::NotRunning => return None,
        };
        let mut up = self.print(name, name, &st, true);
        match std::env::set_current_dir("log") {
            Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => self.out.puts("\n"),
            Err(e) => {
                self.out.puts("; ");
                self.out
                    .warn(name, true, "unable to change directory", e.raw_os_error());
            }
            Ok(()) => {
                self.out.puts("; ");
                // runit prints a log line from the main service's bytes when the log's status
                // cannot be read (a stale buffer); we print only the warning.
                if let Get::Status(log) = self.get(name, true) {
                    up = self.print(b"log", name, &log, false);
                    self.out.puts("\n");
                }
            }
        }
        self.out.flush();
        if !self.lsb {
            return None;
        }
        Some(match up {
            Some(true) => 0,
            Some(false) => 3,
            None => 4,
        })
    }

    /// `sv --json status`: the service's object and newline. Each error object (the service's or
    /// its log's) counts as a failure, as sv's `fail:`/`warning:` lines do.
    pub fn json_status(&mut self, name: &[u8]) {
        let main = read_facts();
        let main_text = main.as_ref().err().map(Unread::text).unwrap_or_default();
        let main_entry = match &main {
            Ok(f) => Entry::Facts(*f),
            Err(_) => Entry::Error(&main_text),
        };
        // The log is read only when the service could be: an error object has no `log`.
        let log: Option<Result<crate::json::Facts, String>> =
            match (&main, std::env::set_current_dir("log")) {
                (Err(_), _) => None,
                (Ok(_), Err(e)) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => None,
                (Ok(_), Err(e)) => Some(Err(format!(
                    "unable to change directory: {}",
                    herd_diag::errno_text(e.raw_os_error().unwrap_or(0))
                ))),
                (Ok(_), Ok(())) => Some(read_facts().map_err(|u| u.text())),
            };
        let log_entry = log.as_ref().map(|l| match l {
            Ok(f) => Entry::Facts(*f),
            Err(t) => Entry::Error(t),
        });
        let errors = u32::from(main.is_err()) + u32::from(matches!(log, Some(Err(_))));
        self.out.rc = self.out.rc.saturating_add(errors);
        let mut buf = Vec::with_capacity(512);
        put_entry(
            &mut buf,
            name,
            &main_entry,
            log_entry.as_ref(),
            self.now_secs,
        );
        buf.push(b'\n');
        self.out.put(&buf);
        self.out.flush();
    }

    /// `sv --json status` of a service sv could not get to: `{"name": …, "error": "WHAT: REASON"}`,
    /// counted as a failure.
    pub fn json_error(&mut self, name: &[u8], what: &str, errno: Option<i32>) {
        let text = match errno {
            Some(e) => format!("{what}: {}", herd_diag::errno_text(e)),
            None => what.to_string(),
        };
        self.out.rc = self.out.rc.saturating_add(1);
        let mut buf = Vec::with_capacity(128);
        put_entry(&mut buf, name, &Entry::Error(&text), None, self.now_secs);
        buf.push(b'\n');
        self.out.put(&buf);
        self.out.flush();
    }

    /// runit's `control`: writes `letters` unless want already says so (the write-skip rule).
    /// `None` if the service is to be dropped (already reported); else the pid that ran before
    /// the letters were written (what a restart must see replaced).
    /// Nothing to write (`check`) is done at once, without looking at the service.
    pub fn control(&mut self, name: &[u8], letters: &[Control]) -> Option<Option<Pid>> {
        let Some(&first) = letters.first() else {
            return Some(None);
        };
        let st = match self.get(name, false) {
            Get::Status(st) => st,
            _ => return None,
        };
        let before = st.pid;
        let already = match first {
            Control::Up => st.want == Want::Up,
            Control::Down => st.want != Want::Up && st.term,
            _ => false,
        };
        if already {
            return Some(before);
        }
        match write_control(MAIN.control, letters) {
            Ok(()) => Some(before),
            Err(ControlError::NotRunning) => {
                if first == Control::Exit {
                    self.out.ok(name, false, NOT_RUNNING);
                } else {
                    self.out.fail(name, false, NOT_RUNNING, None);
                }
                None
            }
            Err(ControlError::Open(e)) => {
                self.out.warn(
                    name,
                    false,
                    "unable to open supervise/control",
                    Some(raw(e)),
                );
                None
            }
            Err(ControlError::Write(e)) => {
                self.out.warn(
                    name,
                    false,
                    "unable to write to supervise/control",
                    e.map(raw),
                );
                None
            }
        }
    }

    /// runit's `check`: whether every condition of the command holds (each letter taken effect);
    /// prints `ok: …` when they do. `before` is the pid [`Sv::control`] saw: a term, kill or
    /// restart holds only for another instance.
    pub fn check(&mut self, name: &[u8], before: Option<Pid>) -> Check {
        let st = match self.get(name, false) {
            Get::Status(st) => st,
            Get::NotRunning if self.action.exits() => return Check::Done,
            _ => return Check::Gone,
        };
        let pid = st.pid.is_some();
        let want_down = st.want != Want::Up;
        // `check` waits for what the service wants (runit 2.1.2 ignored want: a bug).
        let conditions: &[Control] = match self.action.verb {
            Verb::Send(letters) => letters,
            Verb::Check if want_down => &[Control::Down],
            Verb::Check => &[Control::Up],
            Verb::Status | Verb::Health => &[],
        };
        for &c in conditions {
            let holds = match c {
                Control::Exit => false,
                Control::Up => {
                    if !pid || st.state != State::Run {
                        false
                    } else {
                        match self.up(name, &st) {
                            Up::Yes => true,
                            Up::No => false,
                            Up::ScriptFailed => return Check::NotYet { script: true },
                        }
                    }
                }
                Control::Down => !pid && st.state == State::Down,
                Control::Term | Control::Kill => {
                    if !pid && want_down {
                        true
                    } else if self.start_secs > st.stamp.secs
                        || !pid
                        || st.term
                        || !is_new_instance(&st, before)
                    {
                        false
                    } else {
                        match self.up(name, &st) {
                            Up::Yes => true,
                            Up::No => false,
                            Up::ScriptFailed => return Check::NotYet { script: true },
                        }
                    }
                }
                // Once: up and wanting down, or down since sv started.
                Control::Once => {
                    if pid {
                        want_down
                    } else {
                        self.start_secs <= st.stamp.secs
                    }
                }
                Control::Pause => !pid || st.paused,
                Control::Cont => !pid || !st.paused,
                _ => true,
            };
            if !holds {
                return Check::NotYet { script: false };
            }
        }
        self.out.puts(OK);
        self.print(name, name, &st, true);
        self.out.puts("\n");
        self.out.flush();
        Check::Done
    }

    /// Prints `timeout: …` or `kill: …` for a service that did not get there, and for `kill:`
    /// writes `k`.
    pub fn timeout(&mut self, name: &[u8], kill: bool) {
        self.out.puts(if kill { KILL } else { TIMEOUT });
        if let Get::Status(st) = self.get(name, false) {
            self.print(name, name, &st, true);
            self.out.rc = self.out.rc.saturating_add(1);
        }
        self.out.puts("\n");
        self.out.flush();
        if kill {
            self.control(name, &[Control::Kill]);
        }
    }

    /// Whether the running service `st` is up for a wait: ready by its `supervise/ready` when
    /// there is one (the supervisor ran any `./check`), else runit's rule (`./check` exits 0).
    fn up(&mut self, name: &[u8], st: &Status) -> Up {
        let ready = herd_svdir::read_ready(&MAIN);
        match up_test(st, ready.as_ref().map(Option::as_ref)) {
            UpTest::Decided(true) => Up::Yes,
            UpTest::Decided(false) => Up::No,
            UpTest::Script if self.check_script(name) => Up::Yes,
            UpTest::Script => Up::ScriptFailed,
        }
    }

    /// Runs `./check` if it exists: stdout closed, cwd the service dir. `true` if it exited 0.
    /// A `./check` that cannot be run fails (runit 2.1.2 counted it as passing: a bug).
    fn check_script(&mut self, name: &[u8]) -> bool {
        let shown = String::from_utf8_lossy(name);
        match fs::stat(CHECK) {
            Ok(_) => {}
            Err(Errno::NOENT) => return true,
            Err(e) => {
                warn_stderr(&format_args!(
                    "unable to stat {shown}/check: {}",
                    Reason(raw(e))
                ));
                return false;
            }
        }
        let failure =
            Diag::bare().head(Kind::Warning, &format_args!("unable to run {shown}/check"));
        let Ok(mut cmd) = Command::new(CHECK, failure) else {
            return false;
        };
        if cmd.arg0(CHECK_ARGV0).is_err() {
            return false;
        }
        cmd.close_stdout();
        if let Some(mask) = self.mask {
            cmd.mask(mask);
        }
        match cmd.spawn() {
            Ok(pid) => wait_for(pid) == Some(Exit::Code(0)),
            Err(e) => {
                warn_stderr(&format_args!(
                    "unable to fork for {shown}/check: {}",
                    Reason(e as i32)
                ));
                false
            }
        }
    }
}

/// Whether the service directory (the cwd) has `notification-fd` or a `dependencies.d/`
/// directory: then its status line says how ready it is. Anything that cannot be looked at
/// counts as absent (runit's line).
fn shows_readiness() -> bool {
    fs::stat(NOTIFICATION_FD).is_ok()
        || fs::stat(herd_deps::DIR)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
}
