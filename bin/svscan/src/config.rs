//! svscan's command line and environment (runsvdir's: `[-P] [-t sec] DIR [log]`, plus herd's
//! `-- CMD…` and `SVSCAN_*` variables), resolved into one [`Config`]. my_init's command line is in
//! `myinit.rs` and resolves into the same. Nothing here starts or opens anything.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use herd_diag::Diag;

use crate::lifecycle::{Plan, StopBound};

/// runsvdir's exit code for a bad command line.
pub const EXIT_USAGE: u8 = 1;
/// Default bound on the whole shutdown: inside Docker's 10 s stop timeout with margin.
pub const DEFAULT_STOP: Duration = Duration::from_secs(7);
/// Environment variable that sets the shutdown bound in seconds (`-t` wins).
pub const STOP_ENV: &str = "SVSCAN_STOP_TIMEOUT";
/// Environment variables naming script directories and the container environment directory.
const STARTUP_ENV: &str = "SVSCAN_STARTUP_DIR";
const PRE_SHUTDOWN_ENV: &str = "SVSCAN_PRE_SHUTDOWN_DIR";
const POST_SHUTDOWN_ENV: &str = "SVSCAN_POST_SHUTDOWN_DIR";
const ENV_DIR_ENV: &str = "SVSCAN_ENV_DIR";

/// What to run: svscan's command line or my_init's, resolved.
#[derive(Debug)]
pub struct Config {
    /// Prefix of svscan's messages: `svscan DIR` (DIR's bytes as given) or `my_init`.
    pub name: Vec<u8>,
    /// `-P`: each supervise in its own session.
    pub setsid: bool,
    pub stop: StopBound,
    /// The scan directory; `None` with my_init's `--skip-runit`.
    pub dir: Option<OsString>,
    /// The readproctitle argument and its index in argv.
    pub log: Option<(usize, OsString)>,
    /// The main command (empty: none).
    pub cmd: Vec<OsString>,
    /// Start-up scripts: directories (every executable in them, in order) and single files.
    pub startup: Vec<PathBuf>,
    pub pre_shutdown: Option<PathBuf>,
    pub post_shutdown: Option<PathBuf>,
    /// The container environment directory (`/etc/container_environment`).
    pub env_dir: Option<PathBuf>,
    /// Signal every process left once the services have stopped.
    pub kill_all: bool,
    /// my_init's `*** ` progress lines.
    pub verbose: bool,
}

pub fn seconds(s: &[u8]) -> Option<Duration> {
    let s = std::str::from_utf8(s).ok()?;
    let f: f64 = s.parse().ok()?;
    (f.is_finite() && f >= 0.0).then(|| Duration::from_secs_f64(f))
}

/// A duration in seconds from the environment.
pub fn env_seconds(name: &str) -> Option<Duration> {
    std::env::var_os(name).and_then(|v| seconds(v.as_bytes()))
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

pub fn parse(argv: &[OsString]) -> Option<Config> {
    let mut setsid = false;
    let mut stop = env_seconds(STOP_ENV).unwrap_or(DEFAULT_STOP);
    let mut i = 1;
    // As runsvdir: options come first; an unknown `-X` is taken as the directory name.
    while let Some(a) = argv.get(i).map(|a| a.as_bytes()) {
        match a {
            b"-P" => setsid = true,
            b"-t" => {
                i += 1;
                stop = seconds(argv.get(i)?.as_bytes())?;
            }
            b"--" => {
                i += 1;
                break;
            }
            _ => break,
        }
        i += 1;
    }
    let dir = argv.get(i)?.clone();
    let mut rest = &argv[i + 1..];
    let mut log = None;
    if let Some(l) = rest.first().filter(|a| a.as_bytes() != b"--") {
        log = Some((i + 1, l.clone()));
        rest = &rest[1..];
    }
    // As runsvdir, further arguments are ignored, unless they are `-- CMD…`.
    let cmd = match rest.split_first() {
        Some((dashes, cmd)) if dashes.as_bytes() == b"--" => {
            if cmd.is_empty() {
                return None;
            }
            cmd.to_vec()
        }
        _ => Vec::new(),
    };
    Some(Config {
        name: Diag::with_arg("svscan", &dir).prefix().to_vec(),
        setsid,
        stop: StopBound::Total(stop),
        dir: Some(dir),
        log,
        cmd,
        startup: env_path(STARTUP_ENV).into_iter().collect(),
        pre_shutdown: env_path(PRE_SHUTDOWN_ENV),
        post_shutdown: env_path(POST_SHUTDOWN_ENV),
        env_dir: env_path(ENV_DIR_ENV),
        kill_all: true,
        verbose: false,
    })
}

impl Config {
    /// What the lifecycle needs to know of this configuration.
    pub fn plan(&self) -> Plan {
        Plan {
            env: self.env_dir.is_some(),
            startup: !self.startup.is_empty(),
            scan: self.dir.is_some(),
            main: !self.cmd.is_empty(),
            pre_shutdown: self.pre_shutdown.is_some(),
            post_shutdown: self.post_shutdown.is_some(),
            kill_all: self.kill_all,
            stop: self.stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn command_line() {
        let c = parse(&args(&["svscan", "-P", "/s"])).unwrap();
        assert!(c.setsid);
        assert_eq!(c.dir.as_deref(), Some("/s".as_ref()));
        assert!(c.log.is_none() && c.cmd.is_empty());

        let c = parse(&args(&["svscan", "/s", "log: ......."])).unwrap();
        assert_eq!(c.log, Some((2, OsString::from("log: ......."))));

        let c = parse(&args(&["svscan", "/s", "--", "sh", "-c", "exit 3"])).unwrap();
        assert!(c.log.is_none());
        assert_eq!(c.cmd, args(&["sh", "-c", "exit 3"]));

        let c = parse(&args(&[
            "svscan",
            "-t",
            "2",
            "/s",
            "log: .......",
            "--",
            "x",
        ]))
        .unwrap();
        assert_eq!(c.stop, StopBound::Total(Duration::from_secs(2)));
        assert!(c.log.is_some());
        assert_eq!(c.cmd, args(&["x"]));

        assert!(parse(&args(&["svscan"])).is_none());
        assert!(parse(&args(&["svscan", "/s", "--"])).is_none());
        let c = parse(&args(&["svscan", "/s", "log: .......", "extra"])).unwrap();
        assert!(c.cmd.is_empty());
        assert!(parse(&args(&["svscan", "-t", "x", "/s"])).is_none());
    }
}
