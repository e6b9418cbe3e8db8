//! herd only: the health files of the service directory (docs/policy.md, "Health"): `health`,
//! the check, and Docker's HEALTHCHECK options one file each, read before each start of
//! `./run`. Each option file is its first line, read by one `herd-value` parser (seconds with a
//! fraction, or a count); a file that is missing gives the default, a bad one the default and
//! one warning line (docs/reliability.md, "Input"). The check itself runs as `./check` does
//! (`readiness::CheckCommand`).

use std::time::Duration;

use herd_diag::{Diag, Reason};
use herd_svdir::{HEALTH, HEALTH_INTERVAL, HEALTH_RETRIES, HEALTH_START_PERIOD, HEALTH_TIMEOUT};
use rustix::fs::{accessat, Access, AtFlags, CWD};

use crate::machine::HealthConfig;
use crate::options::{self, Present};

/// Bytes of an option file read for its first line.
const OPTION_READ: usize = 64;
/// Longest piece of a bad value shown in the warning.
const SHOWN_MAX: usize = 32;

/// Whether the service directory (the current one) has an executable `health`.
pub fn has_health(present: Present) -> bool {
    present.may_exist(HEALTH) && accessat(CWD, HEALTH, Access::EXEC_OK, AtFlags::EACCESS).is_ok()
}

/// The health options, or `None` without an executable `health`.
pub fn read_config(present: Present, diag: &Diag) -> Option<HealthConfig> {
    if !has_health(present) {
        return None;
    }
    let d = HealthConfig::default();
    Some(HealthConfig {
        interval: read_option(
            present,
            diag,
            HEALTH_INTERVAL,
            d.interval,
            herd_value::seconds,
        ),
        timeout: read_option(
            present,
            diag,
            HEALTH_TIMEOUT,
            d.timeout,
            herd_value::seconds,
        ),
        retries: read_option(present, diag, HEALTH_RETRIES, d.retries, herd_value::count),
        start_period: read_option(
            present,
            diag,
            HEALTH_START_PERIOD,
            d.start_period,
            herd_value::seconds,
        ),
    })
}

/// A value shown in a message: its unit after it.
trait Shown: Copy {
    fn show(self) -> String;
}

impl Shown for Duration {
    fn show(self) -> String {
        format!("{}s", self.as_secs_f64())
    }
}

impl Shown for u32 {
    fn show(self) -> String {
        self.to_string()
    }
}

/// One option file: its value, or `default` (with a warning if the file is there but bad).
fn read_option<T: Shown>(
    present: Present,
    diag: &Diag,
    name: &str,
    default: T,
    parse: fn(&[u8]) -> Result<T, herd_value::Error>,
) -> T {
    let mut buf = [0u8; OPTION_READ];
    let bytes = match options::read_first(present, name, &mut buf) {
        None => return default,
        Some(Ok(bytes)) => bytes,
        Some(Err(e)) => {
            diag.warn(&format_args!(
                "unable to read {name}: {}: using {}",
                Reason(e.errno().raw_os_error()),
                default.show()
            ));
            return default;
        }
    };
    let line = herd_value::first_line(bytes);
    match parse(line) {
        Ok(v) => v,
        Err(_) => {
            let shown = line[..line.len().min(SHOWN_MAX)].escape_ascii();
            diag.warn(&format_args!(
                "invalid {name}: {shown}: using {}",
                default.show()
            ));
            default
        }
    }
}
