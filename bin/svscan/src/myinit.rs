//! svscan called `my_init`: phusion/baseimage's command line, paths and timeouts, mapped onto
//! svscan's sequence. See docs/migrating-from-phusion.md for every difference from phusion's.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use herd_getopt::Long;

use crate::config::{
    env_cmd_wait, env_path, env_seconds, Config, Env, Ignored, Refusal, DEFAULT_STOP, ENV_DIR_ENV,
    POST_SHUTDOWN_ENV, PRE_SHUTDOWN_ENV, STARTUP_ENV, STOP_ENV,
};
use crate::lifecycle::StopBound;

/// The prefix of my_init's messages.
pub const PROG: &str = "my_init";
/// argparse's exit code for a bad command line, which phusion's my_init uses.
const EXIT_USAGE: u8 = 2;
const USAGE: &str = "usage: my_init [-h] [--enable-insecure-key] [--skip-startup-files] \
[--skip-runit] [--no-kill-all-on-exit] [--quiet] [-- MAIN_COMMAND ...]";
/// The timeouts phusion's users set; either one set switches to a two-phase bound.
const KILL_PROCESS_TIMEOUT: &str = "KILL_PROCESS_TIMEOUT";
const KILL_ALL_PROCESSES_TIMEOUT: &str = "KILL_ALL_PROCESSES_TIMEOUT";
/// What the one not set defaults to, then (phusion's default before 0.11.1).
const PHASE_DEFAULT: Duration = Duration::from_secs(5);
/// phusion's start-up directory and the variable of phusion's that moves it (ours wins).
const INIT_DIR: &str = "/etc/my_init.d";
const ENV_INIT_DIRECTORY: &str = "ENV_INIT_DIRECTORY";
const RC_LOCAL: &str = "/etc/rc.local";
const PRE_SHUTDOWN_DIR: &str = "/etc/my_init.pre_shutdown.d";
const POST_SHUTDOWN_DIR: &str = "/etc/my_init.post_shutdown.d";
const ENV_DIR: &str = "/etc/container_environment";

/// `--help` (and `-h`): phusion's argparse help, with herd's `--version` and what herd does with
/// `--enable-insecure-key`.
const HELP: &str = "\
Initialize the system.

positional arguments:
  MAIN_COMMAND           The main command to run. (default: None)

optional arguments:
  -h, --help             show this help message and exit
  --version              show herd's version and exit
  --enable-insecure-key  Install the insecure SSH key (accepted and ignored: no key is shipped)
  --skip-startup-files   Skip running /etc/my_init.d/* and /etc/rc.local
  --skip-runit           Do not run runit services
  --no-kill-all-on-exit  Don't kill all processes on the system upon exiting
  --quiet                Only print warnings and errors
";

/// my_init's `--help`: the usage line, then argparse's sections.
pub fn help() -> String {
    format!("{USAGE}\n\n{HELP}")
}

fn error(msg: &str) -> Refusal {
    Refusal::Usage(format!("{USAGE}\n{PROG}: error: {msg}\n"), EXIT_USAGE)
}

/// my_init's command line and environment; nothing is printed here.
pub fn parse(argv: &[OsString], env: Env<'_>) -> Result<Config, Refusal> {
    let mut ignored = Vec::new();
    let mut skip_startup = false;
    let mut skip_runit = false;
    let mut kill_all = true;
    let mut quiet = false;
    let mut i = 1;
    while let Some(a) = argv.get(i) {
        match a.as_bytes() {
            b"--enable-insecure-key" => ignored.push(Ignored::InsecureKey),
            b"--skip-startup-files" => skip_startup = true,
            b"--skip-runit" => skip_runit = true,
            b"--no-kill-all-on-exit" => kill_all = false,
            b"--quiet" => quiet = true,
            b"-h" | b"--help" => return Err(Refusal::Long(Long::Help)),
            b"--version" => return Err(Refusal::Long(Long::Version)),
            b"--" => {
                i += 1;
                break;
            }
            a if a.starts_with(b"-") => {
                return Err(error(&format!(
                    "unrecognized arguments: {}",
                    String::from_utf8_lossy(a)
                )))
            }
            _ => break,
        }
        i += 1;
    }
    let cmd = argv[i.min(argv.len())..].to_vec();
    if skip_runit && cmd.is_empty() {
        return Err(error("--skip-runit needs a main command"));
    }
    let stop = match (
        env_seconds(env, KILL_PROCESS_TIMEOUT, &mut ignored),
        env_seconds(env, KILL_ALL_PROCESSES_TIMEOUT, &mut ignored),
    ) {
        (None, None) => {
            StopBound::Total(env_seconds(env, STOP_ENV, &mut ignored).unwrap_or(DEFAULT_STOP))
        }
        (services, all) => StopBound::Phased {
            services: services.unwrap_or(PHASE_DEFAULT),
            all: all.unwrap_or(PHASE_DEFAULT),
        },
    };
    let wait = env_cmd_wait(env, &mut ignored);
    // Each of phusion's fixed paths can be moved by svscan's variable for it (for a read-only
    // root, or an image laid out otherwise); phusion's ENV_INIT_DIRECTORY still moves my_init.d.
    let init_dir = env_path(env, STARTUP_ENV)
        .or_else(|| env_path(env, ENV_INIT_DIRECTORY))
        .unwrap_or_else(|| PathBuf::from(INIT_DIR));
    let env_dir = env_path(env, ENV_DIR_ENV).unwrap_or_else(|| PathBuf::from(ENV_DIR));
    // Moved: the image's own directory is still read, as defaults, so that one baked into a
    // read-only root is not lost.
    let env_defaults = (env_dir != Path::new(ENV_DIR)).then(|| PathBuf::from(ENV_DIR));
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
            vec![init_dir, PathBuf::from(RC_LOCAL)]
        },
        pre_shutdown: Some(
            env_path(env, PRE_SHUTDOWN_ENV).unwrap_or_else(|| PathBuf::from(PRE_SHUTDOWN_DIR)),
        ),
        post_shutdown: Some(
            env_path(env, POST_SHUTDOWN_ENV).unwrap_or_else(|| PathBuf::from(POST_SHUTDOWN_DIR)),
        ),
        env_dir: Some(env_dir),
        env_defaults,
        kill_all,
        verbose: !quiet,
        wait,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    #[test]
    fn options() {
        let c = parse(&args(&["my_init"]), &no_env).unwrap();
        assert_eq!(c.dir.as_deref(), Some("/etc/service".as_ref()));
        assert!(c.setsid && c.kill_all && c.verbose && c.cmd.is_empty());
        assert_eq!(c.startup.len(), 2);

        let c = parse(
            &args(&[
                "my_init",
                "--quiet",
                "--skip-startup-files",
                "--no-kill-all-on-exit",
                "--",
                "sh",
                "-c",
                "exit 3",
            ]),
            &no_env,
        )
        .unwrap();
        assert!(!c.verbose && !c.kill_all && c.startup.is_empty());
        assert_eq!(c.cmd, args(&["sh", "-c", "exit 3"]));

        let c = parse(&args(&["my_init", "--skip-runit", "--", "true"]), &no_env).unwrap();
        assert!(c.dir.is_none());
        // Without `--`, the first non-option starts the command, as with argparse.
        let c = parse(&args(&["my_init", "bash", "-l"]), &no_env).unwrap();
        assert_eq!(c.cmd, args(&["bash", "-l"]));

        let Refusal::Usage(text, code) =
            parse(&args(&["my_init", "--bogus"]), &no_env).unwrap_err()
        else {
            panic!("not a usage error");
        };
        assert_eq!(code, 2);
        assert!(text.ends_with("\nmy_init: error: unrecognized arguments: --bogus\n"));
        let e = parse(&args(&["my_init", "--skip-runit"]), &no_env).unwrap_err();
        assert!(matches!(e, Refusal::Usage(_, 2)));
        let e = parse(&args(&["my_init", "-h"]), &no_env).unwrap_err();
        assert_eq!(e, Refusal::Long(Long::Help));
        let e = parse(&args(&["my_init", "--quiet", "--version"]), &no_env).unwrap_err();
        assert_eq!(e, Refusal::Long(Long::Version));
        // The command's own options are its.
        let c = parse(&args(&["my_init", "--", "app", "--help"]), &no_env).unwrap();
        assert_eq!(c.cmd, args(&["app", "--help"]));
        let c = parse(&args(&["my_init", "app", "--version"]), &no_env).unwrap();
        assert_eq!(c.cmd, args(&["app", "--version"]));
    }

    /// Every path of phusion's that a read-only root may need elsewhere is moved by svscan's
    /// variable for it; phusion's ENV_INIT_DIRECTORY still works, and ours wins over it.
    #[test]
    fn paths_moved_by_the_environment() {
        let c = parse(&args(&["my_init"]), &no_env).unwrap();
        assert_eq!(
            c.startup,
            [
                PathBuf::from("/etc/my_init.d"),
                PathBuf::from("/etc/rc.local")
            ]
        );
        assert_eq!(
            c.pre_shutdown.as_deref(),
            Some(Path::new("/etc/my_init.pre_shutdown.d"))
        );
        assert_eq!(
            c.post_shutdown.as_deref(),
            Some(Path::new("/etc/my_init.post_shutdown.d"))
        );
        assert_eq!(
            c.env_dir.as_deref(),
            Some(Path::new("/etc/container_environment"))
        );
        assert_eq!(c.env_defaults, None);

        let vars = [
            ("SVSCAN_STARTUP_DIR", "/opt/init"),
            ("ENV_INIT_DIRECTORY", "/opt/phusion-init"),
            ("SVSCAN_PRE_SHUTDOWN_DIR", "/opt/pre"),
            ("SVSCAN_POST_SHUTDOWN_DIR", "/opt/post"),
            ("SVSCAN_ENV_DIR", "/run/container_environment"),
        ];
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        };
        let c = parse(&args(&["my_init"]), &env).unwrap();
        assert_eq!(
            c.startup,
            [PathBuf::from("/opt/init"), PathBuf::from("/etc/rc.local")]
        );
        assert_eq!(c.pre_shutdown.as_deref(), Some(Path::new("/opt/pre")));
        assert_eq!(c.post_shutdown.as_deref(), Some(Path::new("/opt/post")));
        assert_eq!(
            c.env_dir.as_deref(),
            Some(Path::new("/run/container_environment"))
        );
        assert_eq!(
            c.env_defaults.as_deref(),
            Some(Path::new("/etc/container_environment"))
        );

        let env = |name: &str| match name {
            "ENV_INIT_DIRECTORY" => Some(OsString::from("/opt/phusion-init")),
            "SVSCAN_STARTUP_DIR" | "SVSCAN_ENV_DIR" => Some(OsString::new()),
            _ => None,
        };
        let c = parse(&args(&["my_init"]), &env).unwrap();
        assert_eq!(c.startup[0], PathBuf::from("/opt/phusion-init"));
        // Empty is unset.
        assert_eq!(c.env_defaults, None);
        // The default place named: nothing moved.
        let env = |name: &str| {
            (name == "SVSCAN_ENV_DIR").then(|| OsString::from("/etc/container_environment/"))
        };
        assert_eq!(parse(&args(&["my_init"]), &env).unwrap().env_defaults, None);
    }

    #[test]
    fn timeouts_from_the_environment() {
        let env = |name: &str| match name {
            "KILL_PROCESS_TIMEOUT" => Some(OsString::from("3")),
            "KILL_ALL_PROCESSES_TIMEOUT" => Some(OsString::from("1e20")),
            _ => None,
        };
        let c = parse(&args(&["my_init"]), &env).unwrap();
        assert_eq!(
            c.stop,
            StopBound::Phased {
                services: Duration::from_secs(3),
                all: PHASE_DEFAULT
            }
        );
        assert_eq!(
            c.ignored
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["invalid KILL_ALL_PROCESSES_TIMEOUT: 1e20: ignored"]
        );
    }

    proptest::proptest! {
        /// Any command line and any values of the three timeouts: no panic, a bound in range, and
        /// a bad value is ignored (with its warning) rather than refused.
        #[test]
        fn prop_any_command_line_and_environment(
            words in proptest::collection::vec(
                proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..12),
                0..6,
            ),
            flags in proptest::collection::vec(
                proptest::sample::select(vec![
                    "--skip-runit", "--quiet", "--", "-h", "--skip-startup-files",
                    "--no-kill-all-on-exit", "sh",
                ]),
                0..4,
            ),
            values in proptest::collection::vec(
                proptest::option::of(proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..24)),
                3,
            ),
        ) {
            use std::os::unix::ffi::OsStringExt;
            let mut argv = vec![OsString::from("my_init")];
            argv.extend(flags.iter().map(OsString::from));
            argv.extend(words.into_iter().map(OsString::from_vec));
            let names = [KILL_PROCESS_TIMEOUT, KILL_ALL_PROCESSES_TIMEOUT, STOP_ENV];
            let env = |name: &str| {
                let i = names.iter().position(|n| *n == name)?;
                values[i].clone().map(OsString::from_vec)
            };
            if let Ok(c) = parse(&argv, &env) {
                let (a, b) = match c.stop {
                    StopBound::Total(d) => (d, d),
                    StopBound::Phased { services, all } => (services, all),
                };
                proptest::prop_assert!(a <= herd_value::MAX_DURATION && b <= herd_value::MAX_DURATION);
                for i in &c.ignored {
                    if let Ignored::Env { value, .. } = i {
                        proptest::prop_assert!(herd_value::seconds(value.as_bytes()).is_err());
                    }
                }
            }
        }
    }
}
