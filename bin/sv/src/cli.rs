//! sv's command line (docs/runit-compatibility.md#sv-command-line, #sv-commands): options, the
//! command word and what it means.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use herd_control::Control;
use herd_getopt::Long;

/// Debian's default service directory (upstream runit: `/service/`).
pub const DEFAULT_SVDIR: &str = "/etc/service/";
/// Default wait.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(7);
/// What `-V` prints before the usage.
pub const VERSION: &str = "$Id: 900314260c6d52c986c5357673bea2f3bd3f4698 $";
const USAGE: &str = " [-v] [-w sec] command service ...";
const USAGE_LSB: &str = " [-w sec] command";

/// What a command does to each service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Print the status line (`status`).
    Status,
    /// Write these letters to `supervise/control`; waiting means waiting until each has taken
    /// effect.
    Send(&'static [Control]),
    /// Write nothing; wait until the service is what it wants to be, `./check` included (`check`).
    Check,
    /// herd's `sv health [DIR]`: whether every service of a scan directory is well.
    Health,
}

/// What one command word does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    pub verb: Verb,
    /// Wait for the conditions (always for LSB words, with `-v`/`-w` for the letters).
    pub wait: bool,
    /// On timeout print `kill:` and write `k`.
    pub kill: bool,
}

impl Action {
    /// The letters written, none for `status` and `check`.
    pub fn letters(&self) -> &'static [Control] {
        match self.verb {
            Verb::Send(letters) => letters,
            Verb::Status | Verb::Check | Verb::Health => &[],
        }
    }

    /// Whether the command asks the supervisor to exit (`exit`, `shutdown`…): then a supervisor
    /// that is not running counts as done.
    pub fn exits(&self) -> bool {
        self.letters().first() == Some(&Control::Exit)
    }
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    pub prog: String,
    /// argv[0]'s basename is not `sv`: init-script mode.
    pub lsb: bool,
    /// `-w` or `SVWAIT`: runit's whole seconds (`herd_value::scan_seconds`: leading digits,
    /// none reading as 0, saturating at 2^32 - 1 s).
    pub wait: Duration,
    pub action: Action,
    /// Service names exactly as typed (for `health`: the scan directory, if given).
    pub services: Vec<OsString>,
    /// `--json` (herd's): `status` prints one JSON object per service.
    pub json: bool,
}

/// herd's option, taken only as the first argument (runit's getopt would refuse it).
pub const JSON: &[u8] = b"--json";
/// herd's command word, whole (any other word in `h` is runit's `hup`).
pub const HEALTH: &[u8] = b"health";

/// Why the command line was refused: the text to print on stderr and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub stderr: String,
    pub code: u8,
}

/// Why sv does nothing: a refused command line, or `--help`/`--version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    Usage(Refusal),
    Long(Long),
}

impl From<Refusal> for Stop {
    fn from(r: Refusal) -> Self {
        Stop::Usage(r)
    }
}

/// The command words, as `--help` lists them.
const COMMANDS: &str = "\
commands: status up down once pause cont hup alarm interrupt quit 1 2 term kill exit,
  start stop reload restart shutdown force-stop force-reload force-restart force-shutdown
  try-restart check, and herd's health [dir]; a service is a name in $SVDIR (default
  /etc/service/) or a path. See sv(8).
";

/// The same in LSB mode, for an init script NAME (a link to sv).
const COMMANDS_LSB: &str = "\
The init-script form of sv: runs command on the service named as this link, in $SVDIR
(default /etc/service/); commands: start stop reload restart shutdown force-stop
force-reload force-restart force-shutdown try-restart status, and runit's up down once
pause cont hup alarm interrupt quit 1 2 term kill exit check. See sv(8).
";

/// `--help` for `sv`, or for sv called by another name (`name`): LSB mode, an init script.
pub fn help(name: &str) -> String {
    let options: &[(&str, &str)] = &[
        (
            "-v",
            "wait for the command to take effect and report ok: or timeout:",
        ),
        (
            "-w sec",
            "wait at most sec seconds (default 7, or $SVWAIT); implies -v",
        ),
        (
            "-V",
            "print runit's version line, then the usage, on stderr (a usage error)",
        ),
        (
            "--json",
            "herd's: status as one JSON object per service (first argument only)",
        ),
    ];
    let (synopsis, about, options) = if name == "sv" {
        (USAGE, COMMANDS, options)
    } else {
        (USAGE_LSB, COMMANDS_LSB, &options[..3])
    };
    herd_getopt::Help {
        synopsis,
        about,
        options,
    }
    .render(name)
}

fn usage(prog: &str, lsb: bool) -> Refusal {
    let (text, code) = if lsb { (USAGE_LSB, 2) } else { (USAGE, 100) };
    Refusal {
        stderr: herd_diag::usage_line(prog, text),
        code,
    }
}

/// The letter alone, as a slice that lives as long as the program.
fn one(c: Control) -> &'static [Control] {
    let all: &'static [Control] = &Control::ALL;
    all.iter()
        .position(|&a| a == c)
        .map_or(&[], |i| &all[i..=i])
}

fn action(word: &[u8], lsb: bool, verbose: bool) -> Option<Action> {
    use Control::{Cont, Down, Exit, Term, Up};
    let send = |letters: &'static [Control]| Action {
        verb: Verb::Send(letters),
        wait: verbose,
        kill: false,
    };
    let waited = |letters| Action {
        wait: true,
        ..send(letters)
    };
    let forced = |letters| Action {
        wait: true,
        kill: true,
        ..send(letters)
    };
    let status = Action {
        verb: Verb::Status,
        wait: false,
        kill: false,
    };
    // runit looks at the first byte of the word, then (for some) at the whole word.
    let first = *word.first()?;
    Some(match first {
        b'x' | b'e' => send(&[Exit]),
        b'X' | b'E' => forced(&[Exit]),
        b'D' => forced(&[Down]),
        b'T' => forced(&[Term, Cont]),
        b't' if word == b"try-restart" => waited(&[Term, Cont]),
        b'c' if word == b"check" => Action {
            verb: Verb::Check,
            wait: true,
            kill: false,
        },
        b's' => match word {
            b"shutdown" => waited(&[Exit]),
            b"start" => waited(&[Up]),
            b"stop" => waited(&[Down]),
            b"status" => status,
            _ if lsb => return None,
            _ => status,
        },
        b'r' => match word {
            b"restart" => waited(&[Term, Cont, Up]),
            b"reload" => waited(&[Control::Hup]),
            _ => return None,
        },
        b'f' => match word {
            b"force-reload" => forced(&[Term, Cont]),
            b"force-restart" => forced(&[Term, Cont, Up]),
            b"force-shutdown" => forced(&[Exit]),
            b"force-stop" => forced(&[Down]),
            _ => return None,
        },
        // Every other word is taken by its first letter: `up`, `down`, `term`, `1`…
        _ => match Control::from_byte(first)? {
            Exit => return None,
            c => send(one(c)),
        },
    })
}

/// Parses `argv` (with argv[0]) the way runit's sv does: `getopt("w:vV")`, stopping at the first
/// non-option; then the command word; then the services (in LSB mode the service is argv[0]'s
/// basename).
pub fn parse(argv: &[OsString], svwait: Option<&[u8]>) -> Result<Cli, Stop> {
    let arg0 = argv.first().map(|a| a.as_bytes()).unwrap_or(b"sv");
    let base = arg0.rsplit(|&b| b == b'/').next().unwrap_or(arg0);
    // Shown in usage lines; the service of an init-script link is the name's bytes.
    let prog = String::from_utf8_lossy(base).into_owned();
    let lsb = base != b"sv";
    let mut wait = svwait.map_or(DEFAULT_WAIT, herd_value::scan_seconds);
    let mut verbose = false;

    // `sv --json ...`: herd's option, before runit's. Anywhere else runit's getopt skips it.
    let json = !lsb && argv.get(1).is_some_and(|a| a.as_bytes() == JSON);
    let first = 1 + usize::from(json);
    let args = argv.get(first..).unwrap_or(&[]);
    let mut opts = herd_getopt::Getopt::new(args, "w:vV");
    for opt in opts.by_ref() {
        match opt {
            Ok(o) if o.letter == b'w' => {
                wait =
                    herd_value::scan_seconds(o.value.as_ref().map_or(&b""[..], |v| v.as_bytes()));
                verbose = true;
            }
            Ok(o) if o.letter == b'v' => verbose = true,
            Ok(_) => {
                let mut u = usage(&prog, lsb);
                u.stderr = format!("{VERSION}\n{}", u.stderr);
                return Err(u.into());
            }
            Err(herd_getopt::Error::Long(long)) => return Err(Stop::Long(long)),
            Err(e) => {
                let mut u = usage(&prog, lsb);
                u.stderr = format!("{prog}: {e}\n{}", u.stderr);
                return Err(u.into());
            }
        }
    }
    let i = first + opts.operands();
    let Some(word) = argv.get(i) else {
        return Err(usage(&prog, lsb).into());
    };
    if !lsb && word.as_bytes() == HEALTH {
        // `sv health [DIR]`: no JSON, no waiting, at most one directory.
        let rest = &argv[i + 1..];
        if json || verbose || rest.len() > 1 {
            return Err(usage(&prog, lsb).into());
        }
        return Ok(Cli {
            prog,
            lsb,
            wait,
            action: Action {
                verb: Verb::Health,
                wait: false,
                kill: false,
            },
            services: rest.to_vec(),
            json,
        });
    }
    let Some(action) = action(word.as_bytes(), lsb, verbose) else {
        return Err(usage(&prog, lsb).into());
    };
    let services: Vec<OsString> = if lsb {
        vec![OsStr::from_bytes(base).to_os_string()]
    } else {
        argv[i + 1..].to_vec()
    };
    // `--json` goes with `status` alone (any word runit reads as status: `s`, `stat`…).
    if services.is_empty() || (json && action.verb != Verb::Status) {
        return Err(usage(&prog, lsb).into());
    }
    Ok(Cli {
        prog,
        lsb,
        wait,
        action,
        services,
        json,
    })
}

#[cfg(test)]
impl Stop {
    /// The refusal, in tests that expect one.
    fn usage(self) -> Refusal {
        match self {
            Stop::Usage(r) => r,
            Stop::Long(l) => panic!("{l:?}, not a usage error"),
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

    #[test]
    fn words_map_to_letters() {
        use Control::*;
        let verb = |w: &str| parse(&args(&["sv", w, "x"]), None).map(|c| c.action.verb);
        assert_eq!(verb("restart"), Ok(Verb::Send(&[Term, Cont, Up])));
        assert_eq!(verb("term"), Ok(Verb::Send(&[Term])));
        assert_eq!(verb("try-restart"), Ok(Verb::Send(&[Term, Cont])));
        assert_eq!(verb("check"), Ok(Verb::Check));
        assert_eq!(verb("cont"), Ok(Verb::Send(&[Cont])));
        assert_eq!(verb("stat"), Ok(Verb::Status));
        assert_eq!(verb("exit"), Ok(Verb::Send(&[Exit])));
        assert_eq!(verb("Xyz"), Ok(Verb::Send(&[Exit])));
        assert_eq!(verb("2"), Ok(Verb::Send(&[Usr2])));
        assert_eq!(verb("kill"), Ok(Verb::Send(&[Kill])));
        assert_eq!(verb("alarm"), Ok(Verb::Send(&[Alarm])));
        assert!(verb("rest").is_err());
        assert!(verb("force").is_err());
        assert!(verb("zap").is_err());
        assert!(verb("").is_err());
        let c = parse(&args(&["sv", "shutdown", "x"]), None).expect("valid");
        assert!(c.action.exits() && c.action.wait && !c.action.kill);
        let c = parse(&args(&["sv", "force-stop", "x"]), None).expect("valid");
        assert_eq!(c.action.letters(), [Down]);
        assert!(!c.action.exits() && c.action.kill);
    }

    #[test]
    fn options() {
        let c = parse(
            &args(&["/usr/bin/sv", "-w", "3", "up", "a", "b"]),
            Some(b"9"),
        )
        .expect("valid");
        let secs = Duration::from_secs;
        assert_eq!(
            (c.wait, c.action.wait, c.services.len()),
            (secs(3), true, 2)
        );
        let c = parse(&args(&["sv", "-wabc", "down", "a"]), None).expect("valid");
        assert_eq!(c.wait, secs(0));
        let c = parse(&args(&["sv", "up", "a"]), Some(b"2x")).expect("valid");
        assert_eq!((c.wait, c.action.wait), (secs(2), false));
        let c = parse(&args(&["sv", "-w", "99999999999999999999", "d", "a"]), None).expect("ok");
        assert_eq!(c.wait, herd_value::MAX_DURATION);
        let e = parse(&args(&["sv", "-x", "up", "a"]), None)
            .expect_err("bad option")
            .usage();
        assert_eq!(
            e.stderr,
            "sv: illegal option -- x\nusage: sv [-v] [-w sec] command service ...\n\n"
        );
        assert_eq!(e.code, 100);
        let e = parse(&args(&["sv", "-w"]), None)
            .expect_err("missing arg")
            .usage();
        assert!(e
            .stderr
            .starts_with("sv: option requires an argument -- w\n"));
        let e = parse(&args(&["sv", "status"]), None)
            .expect_err("no service")
            .usage();
        assert_eq!(e.stderr, "usage: sv [-v] [-w sec] command service ...\n\n");
    }

    #[test]
    fn lsb_mode() {
        let c = parse(&args(&["/etc/init.d/web", "start"]), None).expect("valid");
        assert!(c.lsb);
        assert_eq!(c.services, args(&["web"]));
        let e = parse(&args(&["/etc/init.d/web"]), None)
            .expect_err("usage")
            .usage();
        assert_eq!(
            (e.stderr.as_str(), e.code),
            ("usage: web [-w sec] command\n\n", 2)
        );
        assert!(parse(&args(&["/etc/init.d/web", "stat"]), None).is_err());
    }

    #[test]
    fn json_and_health() {
        let c = parse(&args(&["sv", "--json", "status", "a", "b"]), None).expect("valid");
        assert!(c.json && c.action.verb == Verb::Status && c.services.len() == 2);
        // Any word runit takes for status, and runit's options after `--json`.
        let c = parse(&args(&["sv", "--json", "-v", "s", "a"]), None).expect("valid");
        assert!(c.json && c.action.verb == Verb::Status);
        assert!(
            !parse(&args(&["sv", "status", "a"]), None)
                .expect("valid")
                .json
        );
        let usage = "usage: sv [-v] [-w sec] command service ...\n\n";
        for bad in [
            &["sv", "--json", "up", "a"][..],
            &["sv", "--json", "status"],
            &["sv", "--json", "health"],
            &["sv", "--json", "check", "a"],
            &["sv", "health", "a", "b"],
            &["sv", "-v", "health"],
            &["sv", "-w", "3", "health", "/etc/service"],
        ] {
            let e = parse(&args(bad), None).expect_err("usage").usage();
            assert_eq!((e.stderr.as_str(), e.code), (usage, 100), "{bad:?}");
        }
        // Elsewhere `--json` is what runit's getopt makes of it: the end of the options.
        let c = parse(&args(&["sv", "-v", "--json", "status", "a"]), None).expect("valid");
        assert!(!c.json && c.action.verb == Verb::Status && c.services == args(&["a"]));
        let c = parse(&args(&["sv", "health"]), None).expect("valid");
        assert_eq!((c.action.verb, c.services.len()), (Verb::Health, 0));
        let c = parse(&args(&["sv", "health", "/srv"]), None).expect("valid");
        assert_eq!((c.action.verb, c.services), (Verb::Health, args(&["/srv"])));
        // Only the whole word: `h`, `hup`, `healthy` stay runit's hup.
        for w in ["h", "hup", "healthy"] {
            let c = parse(&args(&["sv", w, "a"]), None).expect("valid");
            assert_eq!(c.action.verb, Verb::Send(&[Control::Hup]), "{w}");
        }
        // An init-script link: `health` is runit's hup of that service.
        let c = parse(&args(&["/etc/init.d/web", "health"]), None);
        assert!(c.map_or(true, |c| c.action.verb != Verb::Health));
    }

    proptest::proptest! {
        /// Any command line and any SVWAIT: no panic; a refusal is a usage (100, or 2 in LSB
        /// mode); what is accepted names at least one service and waits at most the maximum.
        #[test]
        fn prop_any_command_line(
            argv0 in proptest::sample::select(vec!["sv", "/usr/bin/sv", "/etc/init.d/web"]),
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        "-v", "-w", "-w3", "-V", "-x", "--", "up", "down", "restart", "status",
                        "force-stop", "check", "s", "x", "--json", "health",
                    ]).prop_map(|w| w.as_bytes().to_vec()),
                    proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..10),
                ],
                0..6,
            ),
            svwait in proptest::option::of(proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..24)),
        ) {
            use std::os::unix::ffi::OsStringExt;
            let mut argv = vec![OsString::from(argv0)];
            argv.extend(words.into_iter().map(OsString::from_vec));
            match parse(&argv, svwait.as_deref()) {
                Ok(c) => {
                    proptest::prop_assert!(!c.services.is_empty() || c.action.verb == Verb::Health);
                    proptest::prop_assert!(c.services.len() <= 1 || c.action.verb != Verb::Health);
                    proptest::prop_assert!(c.wait <= herd_value::MAX_DURATION);
                }
                Err(Stop::Long(_)) => {}
                Err(Stop::Usage(r)) => {
                    proptest::prop_assert!([2, 100].contains(&r.code));
                    proptest::prop_assert!(r.stderr.ends_with("\n\n"));
                }
            }
        }

        /// SVWAIT is read as runit reads it: the leading digits, saturating.
        #[test]
        fn prop_svwait_is_leading_digits(n in proptest::arbitrary::any::<u64>(), tail in "[a-z .]{0,3}") {
            let text = format!("{n}{tail}");
            let c = parse(&args(&["sv", "up", "a"]), Some(text.as_bytes())).expect("valid");
            proptest::prop_assert_eq!(c.wait, Duration::from_secs(n.min(herd_value::MAX_SECONDS)));
        }
    }
}
