//! svscan called `my_init`: phusion/baseimage's command line, paths and timeouts, mapped onto
//! svscan's sequence. See docs/migrating-from-phusion.md for every difference from phusion's.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use herd_diag::{emit, Diag};

use crate::config::{env_seconds, Config, DEFAULT_STOP, STOP_ENV};
use crate::lifecycle::StopBound;

/// The prefix of my_init's messages.
const PROG: &str = "my_init";
/// argparse's exit code for a bad command line, which phusion's my_init uses.
const EXIT_USAGE: u8 = 2;
const USAGE: &str = "usage: my_init [-h] [--enable-insecure-key] [--skip-startup-files] \
[--skip-runit] [--no-kill-all-on-exit] [--quiet] [-- MAIN_COMMAND ...]";
/// The timeouts phusion's users set; either one set switches to a two-phase bound.
const KILL_PROCESS_TIMEOUT: &str = "KILL_PROCESS_TIMEOUT";
const KILL_ALL_PROCESSES_TIMEOUT: &str = "KILL_ALL_PROCESSES_TIMEOUT";
/// What the one not set defaults to, then (phusion's default before 0.11.1).
const PHASE_DEFAULT: Duration = Duration::from_secs(5);

/// my_init's command line; `Err(exit code)` after printing usage or help.
pub fn parse(argv: &[OsString]) -> Result<Config, u8> {
    let mut skip_startup = false;
    let mut skip_runit = false;
    let mut kill_all = true;
    let mut quiet = false;
    let mut i = 1;
    while let Some(a) = argv.get(i) {
        match a.as_bytes() {
            b"--enable-insecure-key" => Diag::new(PROG)
                .warn(&"--enable-insecure-key is not supported (no SSH key is shipped): ignored"),
            b"--skip-startup-files" => skip_startup = true,
            b"--skip-runit" => skip_runit = true,
            b"--no-kill-all-on-exit" => kill_all = false,
            b"--quiet" => quiet = true,
            b"-h" | b"--help" => {
                println!("{USAGE}");
                return Err(0);
            }
            b"--" => {
                i += 1;
                break;
            }
            a if a.starts_with(b"-") => {
                emit(format!(
                    "{USAGE}\nmy_init: error: unrecognized arguments: {}\n",
                    String::from_utf8_lossy(a)
                ));
                return Err(EXIT_USAGE);
            }
            _ => break,
        }
        i += 1;
    }
    let cmd = argv[i.min(argv.len())..].to_vec();
    if skip_runit && cmd.is_empty() {
        emit(format!(
            "{USAGE}\nmy_init: error: --skip-runit needs a main command\n"
        ));
        return Err(EXIT_USAGE);
    }
    let stop = match (
        env_seconds(KILL_PROCESS_TIMEOUT),
        env_seconds(KILL_ALL_PROCESSES_TIMEOUT),
    ) {
        (None, None) => StopBound::Total(env_seconds(STOP_ENV).unwrap_or(DEFAULT_STOP)),
        (services, all) => StopBound::Phased {
            services: services.unwrap_or(PHASE_DEFAULT),
            all: all.unwrap_or(PHASE_DEFAULT),
        },
    };
    let init_dir = std::env::var_os("ENV_INIT_DIRECTORY")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/etc/my_init.d"), PathBuf::from);
    Ok(Config {
        name: PROG.into(),
        setsid: true,
        stop,
        dir: (!skip_runit).then(|| OsString::from("/etc/service")),
        log: None,
        cmd,
        startup: if skip_startup {
            Vec::new()
        } else {
            vec![init_dir, PathBuf::from("/etc/rc.local")]
        },
        pre_shutdown: Some(PathBuf::from("/etc/my_init.pre_shutdown.d")),
        post_shutdown: Some(PathBuf::from("/etc/my_init.post_shutdown.d")),
        env_dir: Some(PathBuf::from("/etc/container_environment")),
        kill_all,
        verbose: !quiet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn options() {
        let c = parse(&args(&["my_init"])).unwrap();
        assert_eq!(c.dir.as_deref(), Some("/etc/service".as_ref()));
        assert!(c.setsid && c.kill_all && c.verbose && c.cmd.is_empty());
        assert_eq!(c.startup.len(), 2);

        let c = parse(&args(&[
            "my_init",
            "--quiet",
            "--skip-startup-files",
            "--no-kill-all-on-exit",
            "--",
            "sh",
            "-c",
            "exit 3",
        ]))
        .unwrap();
        assert!(!c.verbose && !c.kill_all && c.startup.is_empty());
        assert_eq!(c.cmd, args(&["sh", "-c", "exit 3"]));

        let c = parse(&args(&["my_init", "--skip-runit", "--", "true"])).unwrap();
        assert!(c.dir.is_none());
        // Without `--`, the first non-option starts the command, as with argparse.
        let c = parse(&args(&["my_init", "bash", "-l"])).unwrap();
        assert_eq!(c.cmd, args(&["bash", "-l"]));

        assert_eq!(parse(&args(&["my_init", "--bogus"])).unwrap_err(), 2);
        assert_eq!(parse(&args(&["my_init", "--skip-runit"])).unwrap_err(), 2);
    }
}
