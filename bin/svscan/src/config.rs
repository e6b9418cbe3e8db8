//! svscan's command line and environment (runsvdir's: `[-P] [-t sec] DIR [log]`, plus herd's
//! `-- CMD…` and `SVSCAN_*` variables), resolved into one [`Config`]. my_init's command line is in
//! `myinit.rs` and resolves into the same. Nothing here starts or opens anything.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use herd_diag::Diag;
use herd_getopt::Long;

use crate::lifecycle::{CmdWait, Plan, StopBound};

/// runsvdir's exit code for a bad command line.
pub const EXIT_USAGE: u8 = 1;
/// What follows the name in the usage line.
const USAGE: &str = " [-P] [-t sec] dir [log] [-- command...]";
/// Default bound on the whole shutdown: inside Docker's 10 s stop timeout with margin.
pub const DEFAULT_STOP: Duration = Duration::from_secs(7);
/// Environment variable that sets the shutdown bound in seconds (`-t` wins).
pub const STOP_ENV: &str = "SVSCAN_STOP_TIMEOUT";
/// Environment variables naming script directories and the container environment directory.
/// my_init reads them too, each moving one of phusion's fixed paths.
pub const STARTUP_ENV: &str = "SVSCAN_STARTUP_DIR";
pub const PRE_SHUTDOWN_ENV: &str = "SVSCAN_PRE_SHUTDOWN_DIR";
pub const POST_SHUTDOWN_ENV: &str = "SVSCAN_POST_SHUTDOWN_DIR";
pub const ENV_DIR_ENV: &str = "SVSCAN_ENV_DIR";
/// The main command waits for the services: ours, then s6-overlay's name (ours wins).
const CMD_WAIT_ENV: [&str; 2] = ["SVSCAN_CMD_WAIT", "S6_CMD_WAIT_FOR_SERVICES"];
/// How long it waits at most, in milliseconds (0: for ever): ours, then s6-overlay's.
const CMD_WAIT_MAX_ENV: [&str; 2] = [
    "SVSCAN_CMD_WAIT_MAXTIME",
    "S6_CMD_WAIT_FOR_SERVICES_MAXTIME",
];

/// Why svscan does not start: a bad command line, or `--help`/`--version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// What to print on stderr, and the exit code.
    Usage(String, u8),
    Long(Long),
}

/// `--help` for `svscan` or runit's `runsvdir` (`name`, the name it was called by).
pub fn help(name: &str) -> String {
    let name = if name == "runsvdir" { name } else { "svscan" };
    herd_getopt::Help {
        synopsis: USAGE,
        about: "Runs one supervise per service directory in dir, starting new ones at once, as runit's\n\
                runsvdir does; a correct PID 1 for a container. See svscan(8).\n",
        options: &[
            ("-P", "each supervise in a new session (setsid)"),
            ("-t sec", "bound on the whole shutdown, in seconds (default 7, or $SVSCAN_STOP_TIMEOUT)"),
            ("log", "readproctitle window for ps, at least 7 characters (log: .......)"),
            ("-- command", "run command once the services are started; its exit status is svscan's"),
        ],
    }
    .render(name)
}

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
    /// my_init with `SVSCAN_ENV_DIR` elsewhere: the image's `/etc/container_environment`, read
    /// at start under the moved directory's files (never written: it may be read-only), and
    /// the moved directory is created if missing.
    pub env_defaults: Option<PathBuf>,
    /// Signal every process left once the services have stopped.
    pub kill_all: bool,
    /// my_init's `*** ` progress lines.
    pub verbose: bool,
    /// Whether the main command waits for the services to be ready.
    pub wait: CmdWait,
    /// What is ignored, each warned about at start.
    pub ignored: Vec<Ignored>,
}

/// Something of the command line or the environment that is ignored, with a warning at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// A variable set to something that is not a number of seconds.
    Env { name: &'static str, value: OsString },
    /// my_init's `--enable-insecure-key`.
    InsecureKey,
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ignored::Env { name, value } => {
                write!(f, "invalid {name}: {}: ignored", value.to_string_lossy())
            }
            Ignored::InsecureKey => f.write_str(
                "--enable-insecure-key is not supported (no SSH key is shipped): ignored",
            ),
        }
    }
}

/// How the environment is read: the value of a variable, if set (`std::env::var_os` in main,
/// a table in the tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// A duration in seconds from the environment (`herd_value::seconds`: decimals allowed, more
/// than 2^32 - 1 s saturates). Unset or empty: `None`; anything else that is not a number of
/// seconds: `None`, noted in `ignored`.
pub fn env_seconds(
    env: Env<'_>,
    name: &'static str,
    ignored: &mut Vec<Ignored>,
) -> Option<Duration> {
    let value = env(name).filter(|v| !v.is_empty())?;
    match herd_value::seconds(value.as_bytes()) {
        Ok(d) => Some(d),
        Err(_) => {
            ignored.push(Ignored::Env { name, value });
            None
        }
    }
}

/// The first of `names` that is set and not empty, read with `parse`; a value `parse` refuses
/// is noted in `ignored` (the next name is not looked at).
fn env_first<T, E>(
    env: Env<'_>,
    names: [&'static str; 2],
    parse: fn(&[u8]) -> Result<T, E>,
    ignored: &mut Vec<Ignored>,
) -> Option<T> {
    let (name, value) = names
        .into_iter()
        .find_map(|n| Some((n, env(n).filter(|v| !v.is_empty())?)))?;
    match parse(value.as_bytes()) {
        Ok(v) => Some(v),
        Err(_) => {
            ignored.push(Ignored::Env { name, value });
            None
        }
    }
}

/// `SVSCAN_CMD_WAIT` (a number, not 0: wait) and `SVSCAN_CMD_WAIT_MAXTIME` (milliseconds, 0:
/// for ever), or s6-overlay's names for them. Unset, or not a number: the main command does not
/// wait, or waits for ever.
pub fn env_cmd_wait(env: Env<'_>, ignored: &mut Vec<Ignored>) -> CmdWait {
    let on = env_first(env, CMD_WAIT_ENV, herd_value::count, ignored).is_some_and(|n| n != 0);
    let max = env_first(env, CMD_WAIT_MAX_ENV, herd_value::milliseconds, ignored);
    match (on, max) {
        (false, _) => CmdWait::Off,
        (true, Some(d)) if !d.is_zero() => CmdWait::Upto(d),
        (true, _) => CmdWait::Forever,
    }
}

pub fn env_path(env: Env<'_>, name: &str) -> Option<PathBuf> {
    env(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// svscan's command line (argv[0] included) and environment; nothing is printed here.
pub fn parse(argv: &[OsString], env: Env<'_>) -> Result<Config, Refusal> {
    let argv0 = argv
        .first()
        .map_or("svscan".into(), |a| a.to_string_lossy());
    let usage = || Refusal::Usage(herd_diag::usage_line(&argv0, USAGE), EXIT_USAGE);
    let mut setsid = false;
    let mut ignored = Vec::new();
    let mut stop = env_seconds(env, STOP_ENV, &mut ignored).unwrap_or(DEFAULT_STOP);
    let wait = env_cmd_wait(env, &mut ignored);
    let mut i = 1;
    // As runsvdir: options come first; an unknown `-X` is taken as the directory name.
    while let Some(a) = argv.get(i) {
        if let Some(long) = Long::of(a) {
            return Err(Refusal::Long(long));
        }
        match a.as_bytes() {
            b"-P" => setsid = true,
            b"-t" => {
                i += 1;
                let sec = argv.get(i).ok_or_else(usage)?;
                stop = herd_value::seconds(sec.as_bytes()).map_err(|_| usage())?;
            }
            b"--" => {
                i += 1;
                break;
            }
            _ => break,
        }
        i += 1;
    }
    let dir = argv.get(i).ok_or_else(usage)?.clone();
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
                return Err(usage());
            }
            cmd.to_vec()
        }
        _ => Vec::new(),
    };
    Ok(Config {
        name: Diag::with_arg("svscan", &dir).prefix().to_vec(),
        setsid,
        stop: StopBound::Total(stop),
        dir: Some(dir),
        log,
        cmd,
        startup: env_path(env, STARTUP_ENV).into_iter().collect(),
        pre_shutdown: env_path(env, PRE_SHUTDOWN_ENV),
        post_shutdown: env_path(env, POST_SHUTDOWN_ENV),
        env_dir: env_path(env, ENV_DIR_ENV),
        env_defaults: None,
        kill_all: true,
        verbose: false,
        wait,
        ignored,
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
            wait: self.wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn no_env(_: &str) -> Option<OsString> {
        None
    }

    #[test]
    fn command_line() {
        let c = parse(&args(&["svscan", "-P", "/s"]), &no_env).unwrap();
        assert!(c.setsid);
        assert_eq!(c.dir.as_deref(), Some("/s".as_ref()));
        assert!(c.log.is_none() && c.cmd.is_empty());

        let c = parse(&args(&["svscan", "/s", "log: ......."]), &no_env).unwrap();
        assert_eq!(c.log, Some((2, OsString::from("log: ......."))));

        let c = parse(
            &args(&["svscan", "/s", "--", "sh", "-c", "exit 3"]),
            &no_env,
        )
        .unwrap();
        assert!(c.log.is_none());
        assert_eq!(c.cmd, args(&["sh", "-c", "exit 3"]));

        let c = parse(
            &args(&["svscan", "-t", "2", "/s", "log: .......", "--", "x"]),
            &no_env,
        )
        .unwrap();
        assert_eq!(c.stop, StopBound::Total(Duration::from_secs(2)));
        assert!(c.log.is_some());
        assert_eq!(c.cmd, args(&["x"]));

        assert!(parse(&args(&["svscan"]), &no_env).is_err());
        assert!(parse(&args(&["svscan", "/s", "--"]), &no_env).is_err());
        let c = parse(&args(&["svscan", "/s", "log: .......", "extra"]), &no_env).unwrap();
        assert!(c.cmd.is_empty());
        assert!(parse(&args(&["svscan", "-t", "x", "/s"]), &no_env).is_err());
        // Seconds are decimals: no exponent, no sign; beyond 2^32 - 1 s they saturate.
        assert!(parse(&args(&["svscan", "-t", "1e20", "/s"]), &no_env).is_err());
        assert!(parse(&args(&["svscan", "-t", "-1", "/s"]), &no_env).is_err());
        let c = parse(&args(&["svscan", "-t", "0.25", "/s"]), &no_env).unwrap();
        assert_eq!(c.stop, StopBound::Total(Duration::from_millis(250)));
        let c = parse(
            &args(&["svscan", "-t", "100000000000000000000", "/s"]),
            &no_env,
        )
        .unwrap();
        assert_eq!(c.stop, StopBound::Total(herd_value::MAX_DURATION));
    }

    #[test]
    fn help_and_version_only_where_an_option_may_stand() {
        let long = |a: &[&str]| parse(&args(a), &no_env).err();
        assert_eq!(long(&["svscan", "--help"]), Some(Refusal::Long(Long::Help)));
        assert_eq!(
            long(&["runsvdir", "-P", "-t", "2", "--version", "/s"]),
            Some(Refusal::Long(Long::Version))
        );
        // A value, the log argument, or after `--`: not an option.
        assert!(matches!(
            long(&["svscan", "-t", "--help", "/s"]),
            Some(Refusal::Usage(_, EXIT_USAGE))
        ));
        let c = parse(&args(&["svscan", "/s", "--help"]), &no_env).unwrap();
        assert_eq!(c.log, Some((2, OsString::from("--help"))));
        let c = parse(&args(&["svscan", "--", "--help"]), &no_env).unwrap();
        assert_eq!(c.dir.as_deref(), Some("--help".as_ref()));
        let c = parse(&args(&["svscan", "/s", "--", "app", "--help"]), &no_env).unwrap();
        assert_eq!(c.cmd, args(&["app", "--help"]));
    }

    fn wait_with(vars: &[(&str, &str)]) -> (CmdWait, Vec<String>) {
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        };
        let c = parse(&args(&["svscan", "/s", "--", "app"]), &env).unwrap();
        (c.wait, c.ignored.iter().map(|i| i.to_string()).collect())
    }

    #[test]
    fn the_main_commands_wait_from_the_environment() {
        let ms = Duration::from_millis;
        assert_eq!(wait_with(&[]), (CmdWait::Off, vec![]));
        assert_eq!(
            wait_with(&[("SVSCAN_CMD_WAIT", "1")]),
            (CmdWait::Forever, vec![])
        );
        let on = ("SVSCAN_CMD_WAIT", "1");
        assert_eq!(
            wait_with(&[on, ("SVSCAN_CMD_WAIT_MAXTIME", "2500")]),
            (CmdWait::Upto(ms(2500)), vec![])
        );
        assert_eq!(
            wait_with(&[on, ("SVSCAN_CMD_WAIT_MAXTIME", "0")]).0,
            CmdWait::Forever
        );
        assert_eq!(
            wait_with(&[("SVSCAN_CMD_WAIT", "0"), ("SVSCAN_CMD_WAIT_MAXTIME", "10")]).0,
            CmdWait::Off
        );
        // s6-overlay's names; ours win when both are set.
        let s6 = [
            ("S6_CMD_WAIT_FOR_SERVICES", "1"),
            ("S6_CMD_WAIT_FOR_SERVICES_MAXTIME", "300"),
        ];
        assert_eq!(wait_with(&s6).0, CmdWait::Upto(ms(300)));
        let mut both = s6.to_vec();
        both.push(("SVSCAN_CMD_WAIT_MAXTIME", "100"));
        assert_eq!(wait_with(&both).0, CmdWait::Upto(ms(100)));
        both.push(("SVSCAN_CMD_WAIT", "0"));
        assert_eq!(wait_with(&both).0, CmdWait::Off);
        // A bad value: one warning, and the default.
        assert_eq!(
            wait_with(&[("SVSCAN_CMD_WAIT", "yes")]),
            (
                CmdWait::Off,
                vec!["invalid SVSCAN_CMD_WAIT: yes: ignored".to_string()]
            )
        );
        assert_eq!(
            wait_with(&[on, ("S6_CMD_WAIT_FOR_SERVICES_MAXTIME", "1.5")]),
            (
                CmdWait::Forever,
                vec!["invalid S6_CMD_WAIT_FOR_SERVICES_MAXTIME: 1.5: ignored".to_string()]
            )
        );
    }

    proptest! {
        /// Any command line: no panic; what is accepted has a directory and a bound in range.
        #[test]
        fn prop_any_command_line(
            words in prop::collection::vec(
                prop_oneof![
                    prop::sample::select(vec!["-P", "-t", "--", "-x", "log: .......", "/s", "7"])
                        .prop_map(|w| w.as_bytes().to_vec()),
                    prop::collection::vec(any::<u8>(), 0..12),
                ],
                0..8,
            )
        ) {
            use std::os::unix::ffi::OsStringExt;
            let mut argv = vec![OsString::from("svscan")];
            argv.extend(words.into_iter().map(OsString::from_vec));
            if let Ok(c) = parse(&argv, &no_env) {
                prop_assert!(c.dir.is_some());
                let StopBound::Total(d) = c.stop else { panic!("svscan has one bound") };
                prop_assert!(d <= herd_value::MAX_DURATION);
            }
        }
    }
}
