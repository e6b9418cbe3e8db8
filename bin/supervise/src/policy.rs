//! Reading the policy files of the service directory (docs/policy.md) before each start of
//! `./run`: `down-signal`, `timeout-kill`, `flag-timeout-killpg`, `timeout-finish`,
//! `restart-backoff`, `restart-limit`. The parsing is the machine's (`machine::parse_*`); this
//! reads the first bytes of each file and words the warning for a bad value, which then counts as
//! absent (the default), as docs/reliability.md's input table says.

use herd_diag::{Diag, Reason};

use crate::options::{self, Present, Unreadable};

use crate::machine::{parse_backoff, parse_down_signal, parse_limit, parse_timeout, Policy};

pub const DOWN_SIGNAL: &str = "down-signal";
pub const TIMEOUT_KILL: &str = "timeout-kill";
pub const FLAG_TIMEOUT_KILLPG: &str = "flag-timeout-killpg";
pub const TIMEOUT_FINISH: &str = "timeout-finish";
pub const RESTART_BACKOFF: &str = "restart-backoff";
pub const RESTART_LIMIT: &str = "restart-limit";
/// Bytes of a policy file read for its first line.
const POLICY_READ: usize = 128;

/// The first bytes of `name`, `None` if it does not exist (or cannot be read: then the default
/// applies, with a warning).
fn read(present: Present, name: &str, buf: &mut [u8; POLICY_READ], diag: &Diag) -> Option<usize> {
    match options::read_first(present, name, buf)? {
        Ok(bytes) => Some(bytes.len()),
        Err(e) => {
            let what = match e {
                Unreadable::Open(_) => "open",
                Unreadable::Read(_) => "read",
            };
            diag.warn(&format_args!(
                "unable to {what} {name}: {}",
                Reason(e.errno().raw_os_error())
            ));
            None
        }
    }
}

/// The policy of the service directory (the current one).
pub fn read_policy(present: Present, diag: &Diag) -> Policy {
    let mut p = Policy::default();
    let mut buf = [0u8; POLICY_READ];
    let bad = |name: &str, buf: &[u8], default: &str| {
        diag.warn(&format_args!(
            "invalid {name}: {}: {default}",
            herd_value::first_line(buf).escape_ascii()
        ));
    };
    if let Some(n) = read(present, DOWN_SIGNAL, &mut buf, diag) {
        match parse_down_signal(&buf[..n]) {
            Some(sig) => p.down_signal = sig,
            None => bad(DOWN_SIGNAL, &buf[..n], "using SIGTERM"),
        }
    }
    if let Some(n) = read(present, TIMEOUT_KILL, &mut buf, diag) {
        match parse_timeout(&buf[..n]) {
            Ok(t) => p.timeout_kill = t,
            Err(_) => bad(TIMEOUT_KILL, &buf[..n], "no kill"),
        }
    }
    p.killpg =
        present.may_exist(FLAG_TIMEOUT_KILLPG) && rustix::fs::stat(FLAG_TIMEOUT_KILLPG).is_ok();
    if let Some(n) = read(present, TIMEOUT_FINISH, &mut buf, diag) {
        match parse_timeout(&buf[..n]) {
            Ok(t) => p.timeout_finish = t,
            Err(_) => bad(TIMEOUT_FINISH, &buf[..n], "no limit"),
        }
    }
    if let Some(n) = read(present, RESTART_BACKOFF, &mut buf, diag) {
        p.backoff = parse_backoff(&buf[..n]);
        if p.backoff.is_none() {
            bad(RESTART_BACKOFF, &buf[..n], "no backoff");
        }
    }
    if let Some(n) = read(present, RESTART_LIMIT, &mut buf, diag) {
        p.limit = parse_limit(&buf[..n]);
        if p.limit.is_none() {
            bad(RESTART_LIMIT, &buf[..n], "no limit");
        }
    }
    p
}
