//! `chpst` and its argv[0] forms: `envdir`, `envuidgid`, `setuidgid`, `pgrphack`, `softlimit`,
//! `setlock` (runit's), and phusion's `setuser`. See docs/chpst.md.

#![forbid(unsafe_code)]

mod run;
mod users;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use herd_diag::Diag;
use herd_getopt::{Getopt, Long};
use run::{Limit, Lock, Plan, EXIT_FAIL, PROG};

const EXIT_USAGE: u8 = 100;
const USAGE_CHPST: &str = " [-vVP012] [-u user[:group]] [-U user[:group]] [-b argv0] [-e dir] [-/ root] [-n nice] [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-t n] prog";
const VERSION: &str = "$Id: f279d44141c981dd7535a12260efcf1ef7beed26 $";

/// A refusal: what to print on stderr, and the exit code.
struct Stop(String, u8);

/// Why nothing is run: a refusal, or `--help`/`--version`.
enum Refusal {
    Usage(Stop),
    Long(Long),
}

impl From<Stop> for Refusal {
    fn from(stop: Stop) -> Self {
        Refusal::Usage(stop)
    }
}

fn usage(prog: &str, text: &str) -> Stop {
    Stop(herd_diag::usage_line(prog, text), EXIT_USAGE)
}

/// A getopt error: `--help`/`--version`, or `INVOKED: illegal option -- x` and the usage.
fn refuse(e: herd_getopt::Error, invoked: &str, usage: Stop) -> Refusal {
    match e {
        herd_getopt::Error::Long(long) => Refusal::Long(long),
        e => Stop(format!("{invoked}: {e}\n{}", usage.0), EXIT_USAGE).into(),
    }
}

const USAGE_SETLOCK: &str = " [ -nNxX ] file program [ arg ... ]";
const USAGE_SOFTLIMIT: &str = " [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes] [-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes] [-s stackbytes] [-t cpusecs] child";

/// The options of chpst's own command line, as its docs table names them.
const CHPST_OPTIONS: &[(&str, &str)] = &[
    (
        "-u user[:grp[:grp…]]",
        "become user, with exactly these groups (:uid:gid[:gid…]: numbers)",
    ),
    (
        "-U user[:grp]",
        "set $UID and $GID to user's (and grp's) ids",
    ),
    ("-b argv0", "run prog with this argv[0]"),
    (
        "-e dir",
        "set the environment from the files of dir (envdir)",
    ),
    ("-/ root", "change the root directory to root"),
    ("-n inc", "add inc to the nice level"),
    ("-l file", "take an exclusive lock on file, waiting for it"),
    ("-L file", "take an exclusive lock on file, or fail"),
    (
        "-m n",
        "limit data, stack, locked memory and address space to n bytes",
    ),
    ("-d n", "limit the data segment to n bytes"),
    ("-o n", "limit open files to n"),
    ("-p n", "limit processes to n"),
    ("-f n", "limit file size to n bytes"),
    ("-c n", "limit core file size to n bytes"),
    ("-r n", "limit the resident set to n bytes"),
    ("-t n", "limit CPU time to n seconds"),
    ("-P", "run prog in a new session (pgrphack)"),
    ("-0", "close stdin"),
    ("-1", "close stdout"),
    ("-2", "close stderr"),
    ("-v", "warn about skipped envdir entries"),
    (
        "-V",
        "print runit's version line, then the usage, on stderr (exit 100)",
    ),
];

const SOFTLIMIT_OPTIONS: &[(&str, &str)] = &[
    ("-a allbytes", "limit the address space"),
    ("-c corebytes", "limit core file size"),
    ("-d databytes", "limit the data segment"),
    ("-f filebytes", "limit file size"),
    ("-l lockbytes", "limit locked memory"),
    (
        "-m membytes",
        "limit data, stack, locked memory and address space",
    ),
    ("-o openfiles", "limit open files"),
    ("-p processes", "limit processes"),
    ("-r residentbytes", "limit the resident set"),
    ("-s stackbytes", "limit the stack"),
    ("-t cpusecs", "limit CPU time"),
];

const SETLOCK_OPTIONS: &[(&str, &str)] = &[
    ("-n", "wait for the lock"),
    (
        "-N",
        "do not wait: fail at once if the lock is held (the default)",
    ),
    ("-x", "exit 0 silently if the lock cannot be had"),
    ("-X", "fail when the lock cannot be had (the default)"),
];

/// `--help` for each name chpst answers to (`name`: argv[0]'s basename, one leading `d`
/// dropped): runit's `chpst`, `envdir`, `envuidgid`, `setuidgid`, `pgrphack`, `softlimit`,
/// `setlock`, and phusion's `setuser`.
pub fn help(name: &str) -> String {
    let (synopsis, about, options): (&str, &str, &[(&str, &str)]) = match name {
        "envdir" => (
            " dir child",
            "Sets the environment from the files of dir (a subdirectory is fatal), then runs child.\n",
            &[],
        ),
        "envuidgid" => (
            " account child",
            "Sets $UID and $GID to account's uid and gid, then runs child.\n",
            &[],
        ),
        "setuidgid" => (
            " account child",
            "Runs child as account, with its uid and primary gid.\n",
            &[],
        ),
        "pgrphack" => (" child", "Runs child in a new session.\n", &[]),
        "softlimit" => (
            USAGE_SOFTLIMIT,
            "Runs child with resource limits; a value of = is the hard limit.\n",
            SOFTLIMIT_OPTIONS,
        ),
        "setlock" => (
            USAGE_SETLOCK,
            "Takes an exclusive lock on file, held while program runs.\n",
            SETLOCK_OPTIONS,
        ),
        "setuser" => (
            " user child",
            "phusion's: runs child as user, with the groups /etc/group gives it, and HOME,\n\
             USER, LOGNAME and UID from its passwd entry.\n",
            &[],
        ),
        _ => (
            USAGE_CHPST,
            "Runs prog with a changed process state, as runit's chpst does. See chpst(8).\n",
            CHPST_OPTIONS,
        ),
    };
    herd_getopt::Help {
        synopsis,
        about,
        options,
    }
    .render(name)
}

/// The form argv[0] names (its basename, one leading `d` dropped) and its command line read.
fn parse(argv: &[OsString]) -> (String, Parsed) {
    let arg0 = argv.first().map(|a| a.as_bytes()).unwrap_or(b"chpst");
    let base = arg0.rsplit(|&b| b == b'/').next().unwrap_or(arg0);
    // runit drops one leading 'd' (so `dsetlock` is setlock, `dchpst` is chpst).
    let name = String::from_utf8_lossy(base.strip_prefix(b"d").unwrap_or(base)).into_owned();
    // Option errors name the program as invoked; usage lines use the name without the `d`.
    let invoked = String::from_utf8_lossy(base).into_owned();
    let args = argv.get(1..).unwrap_or(&[]);
    // The forms without options: their first argument is where an option would stand.
    let optionless = ["setuidgid", "envuidgid", "setuser", "envdir", "pgrphack"];
    if let Some(long) = herd_getopt::leading(args).filter(|_| optionless.contains(&&*name)) {
        return (name, Err(Refusal::Long(long)));
    }
    let result = match name.as_str() {
        "setuidgid" => account(&name, args, false),
        "envuidgid" => account(&name, args, true),
        "setuser" => setuser(args),
        "envdir" => envdir(&name, args),
        "pgrphack" => pgrphack(&name, args),
        "setlock" => setlock(&name, &invoked, args),
        "softlimit" => softlimit(&name, &invoked, args),
        _ => chpst(&name, &invoked, args),
    };
    (name, result)
}

/// The tool, called with `argv` (`argv[0]` is the name it was called by).
pub fn main(argv: Vec<OsString>) -> u8 {
    let (name, result) = parse(&argv);
    // runit's argv[0] forms say `chpst: fatal:`; phusion's setuser is a tool of its own.
    let diag = Diag::new(if name == "setuser" { "setuser" } else { PROG });
    let Stop(text, code) = match result {
        Ok((plan, child)) => {
            let fatal = run::execute(&plan, &child);
            diag.fatal(&fatal);
            return EXIT_FAIL;
        }
        Err(Refusal::Long(long)) => return herd_getopt::answer(long, &help(&name), &diag),
        Err(Refusal::Usage(stop)) => stop,
    };
    herd_diag::emit(&text);
    code
}

type Parsed = Result<(Plan, Vec<OsString>), Refusal>;

fn value(o: &herd_getopt::Opt) -> &[u8] {
    o.value.as_ref().map_or(&b""[..], |v| v.as_bytes())
}

fn chpst(prog: &str, invoked: &str, args: &[OsString]) -> Parsed {
    let mut plan = Plan::default();
    let mut g = Getopt::new(args, "u:U:b:e:m:d:o:p:f:c:r:t:/:n:l:L:vP012V");
    let u = || usage(prog, USAGE_CHPST);
    let num = |o: &herd_getopt::Opt| {
        herd_value::rlimit(value(o))
            .map(Limit::Value)
            .map_err(|_| u())
    };
    for opt in g.by_ref() {
        let o = opt.map_err(|e| refuse(e, invoked, u()))?;
        match o.letter {
            b'u' => plan.set_user = Some((o.value.clone().unwrap_or_default(), true)),
            b'U' => plan.env_user = Some((o.value.clone().unwrap_or_default(), true)),
            b'b' => plan.argv0 = o.value.clone(),
            b'e' => plan.envdir = o.value.clone(),
            b'm' => plan.limits.memory(num(&o)?),
            b'd' => plan.limits.data = Some(num(&o)?),
            b'o' => plan.limits.nofile = Some(num(&o)?),
            b'p' => plan.limits.nproc = Some(num(&o)?),
            b'f' => plan.limits.fsize = Some(num(&o)?),
            b'c' => plan.limits.core = Some(num(&o)?),
            b'r' => plan.limits.rss = Some(num(&o)?),
            b't' => plan.limits.cpu = Some(num(&o)?),
            b'/' => plan.root = o.value.clone(),
            b'n' => plan.nice = herd_value::nice(value(&o)).map_err(|_| u())?,
            b'l' | b'L' => {
                if plan.lock.is_some() {
                    return Err(u().into());
                }
                plan.lock = Some(Lock {
                    path: o.value.clone().unwrap_or_default(),
                    wait: o.letter == b'l',
                    quiet: false,
                });
            }
            b'v' => plan.verbose = true,
            b'P' => plan.setsid = true,
            b'0' => plan.close[0] = true,
            b'1' => plan.close[1] = true,
            b'2' => plan.close[2] = true,
            _ => return Err(Stop(format!("{VERSION}\n{}", u().0), EXIT_USAGE).into()),
        }
    }
    let child = args[g.operands()..].to_vec();
    if child.is_empty() {
        return Err(u().into());
    }
    Ok((plan, child))
}

/// `NAME account child...` for setuidgid (become) and envuidgid (set $UID/$GID).
fn account(prog: &str, args: &[OsString], env_only: bool) -> Parsed {
    let [account, child @ ..] = args else {
        return Err(usage(prog, " account child").into());
    };
    if child.is_empty() {
        return Err(usage(prog, " account child").into());
    }
    let spec = Some((account.clone(), false));
    let plan = if env_only {
        Plan {
            env_user: spec,
            ..Plan::default()
        }
    } else {
        Plan {
            set_user: spec,
            ..Plan::default()
        }
    };
    Ok((plan, child.to_vec()))
}

/// phusion's `setuser USER child...`: initgroups, setgid, setuid, and HOME/USER/LOGNAME/UID.
fn setuser(args: &[OsString]) -> Parsed {
    let [user, child @ ..] = args else {
        return Err(usage("setuser", " user child").into());
    };
    if child.is_empty() {
        return Err(usage("setuser", " user child").into());
    }
    let plan = Plan {
        set_user: Some((user.clone(), false)),
        setuser: true,
        ..Plan::default()
    };
    Ok((plan, child.to_vec()))
}

fn envdir(prog: &str, args: &[OsString]) -> Parsed {
    let [dir, child @ ..] = args else {
        return Err(usage(prog, " dir child").into());
    };
    if child.is_empty() {
        return Err(usage(prog, " dir child").into());
    }
    Ok((
        Plan {
            envdir: Some(dir.clone()),
            envdir_strict: true,
            ..Plan::default()
        },
        child.to_vec(),
    ))
}

fn pgrphack(prog: &str, args: &[OsString]) -> Parsed {
    if args.is_empty() {
        return Err(usage(prog, " child").into());
    }
    Ok((
        Plan {
            setsid: true,
            ..Plan::default()
        },
        args.to_vec(),
    ))
}

/// runit's setlock: non-blocking by default, `-n` waits (the reverse of daemontools), `-x`
/// exits 0 silently when the lock cannot be had.
fn setlock(prog: &str, invoked: &str, args: &[OsString]) -> Parsed {
    const USAGE: &str = USAGE_SETLOCK;
    let mut g = Getopt::new(args, "nNxX");
    let (mut wait, mut quiet) = (false, false);
    for opt in g.by_ref() {
        match opt
            .map_err(|e| refuse(e, invoked, usage(prog, USAGE)))?
            .letter
        {
            b'n' => wait = true,
            b'N' => wait = false,
            b'x' => quiet = true,
            _ => quiet = false,
        }
    }
    let [file, child @ ..] = &args[g.operands()..] else {
        return Err(usage(prog, USAGE).into());
    };
    if child.is_empty() {
        return Err(usage(prog, USAGE).into());
    }
    Ok((
        Plan {
            lock: Some(Lock {
                path: file.clone(),
                wait,
                quiet,
            }),
            ..Plan::default()
        },
        child.to_vec(),
    ))
}

fn softlimit(prog: &str, invoked: &str, args: &[OsString]) -> Parsed {
    const USAGE: &str = USAGE_SOFTLIMIT;
    let mut plan = Plan::default();
    let mut g = Getopt::new(args, "a:c:d:f:l:m:o:p:r:s:t:");
    for opt in g.by_ref() {
        let o = opt.map_err(|e| refuse(e, invoked, usage(prog, USAGE)))?;
        // `=` means the hard limit; anything else must be digits (runit prints chpst's usage then).
        let l = match value(&o) {
            b"=" => Limit::Hard,
            v => Limit::Value(herd_value::rlimit(v).map_err(|_| usage(prog, USAGE_CHPST))?),
        };
        let lim = &mut plan.limits;
        match o.letter {
            b'a' => lim.address_space = Some(l),
            b'c' => lim.core = Some(l),
            b'd' => lim.data = Some(l),
            b'f' => lim.fsize = Some(l),
            b'l' => lim.memlock = Some(l),
            b'm' => lim.memory(l),
            b'o' => lim.nofile = Some(l),
            b'p' => lim.nproc = Some(l),
            b'r' => lim.rss = Some(l),
            b's' => lim.stack = Some(l),
            _ => lim.cpu = Some(l),
        }
    }
    let child = args[g.operands()..].to_vec();
    if child.is_empty() {
        return Err(usage(prog, USAGE).into());
    }
    Ok((plan, child))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn plan(a: &[&str]) -> Plan {
        match parse(&args(a)).1 {
            Ok((plan, _)) => plan,
            Err(Refusal::Usage(Stop(text, code))) => panic!("refused ({code}): {text}"),
            Err(Refusal::Long(l)) => panic!("{l:?}"),
        }
    }

    #[test]
    fn numbers() {
        let p = plan(&[
            "chpst",
            "-o",
            "99999999999999999999",
            "-n",
            "-99999999999",
            "x",
        ]);
        assert_eq!(p.limits.nofile, Some(Limit::Value(u64::MAX)));
        assert_eq!(p.nice, -herd_value::MAX_NICE);
        assert_eq!(
            plan(&["chpst", "-m", "", "x"]).limits.stack,
            Some(Limit::Value(0))
        );
        assert_eq!(
            plan(&["softlimit", "-o", "=", "x"]).limits.nofile,
            Some(Limit::Hard)
        );
        let Err(Refusal::Usage(Stop(text, code))) = parse(&args(&["chpst", "-o", "5k", "x"])).1
        else {
            panic!("accepted");
        };
        assert_eq!(code, EXIT_USAGE);
        assert!(text.starts_with("usage: chpst [-vVP012]"));
    }

    /// Every name chpst answers to, and some it does not.
    fn argv0() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::sample::select(vec![
                "chpst",
                "/usr/bin/chpst",
                "envdir",
                "envuidgid",
                "setuidgid",
                "softlimit",
                "setlock",
                "dsetlock",
                "pgrphack",
                "setuser",
                "d",
                "",
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ]
    }

    fn word() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::sample::select(vec![
                "-u",
                "-U",
                "-b",
                "-e",
                "-/",
                "-n",
                "-l",
                "-L",
                "-m",
                "-d",
                "-o",
                "-p",
                "-f",
                "-c",
                "-r",
                "-t",
                "-v",
                "-V",
                "-P",
                "-0",
                "-1",
                "-2",
                "-a",
                "-s",
                "-x",
                "-X",
                "-N",
                "--",
                "=",
                "5",
                "-3",
                "+2",
                "99999999999999999999",
                ":1:2",
                "prog",
            ])
            .prop_map(|s| s.as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..10),
        ]
    }

    proptest! {
        /// Any argv[0] and arguments: no panic; a refusal is a usage line (exit 100) ending
        /// with the empty line; what is accepted has a program to run.
        #[test]
        fn prop_any_form_and_arguments(a0 in argv0(), words in prop::collection::vec(word(), 0..8)) {
            use std::os::unix::ffi::OsStringExt;
            let mut argv = vec![OsString::from_vec(a0)];
            argv.extend(words.into_iter().map(OsString::from_vec));
            match parse(&argv).1 {
                Ok((_, child)) => prop_assert!(!child.is_empty()),
                Err(Refusal::Long(_)) => {}
                Err(Refusal::Usage(Stop(text, code))) => {
                    prop_assert_eq!(code, EXIT_USAGE);
                    prop_assert!(text.ends_with("\n\n"), "{:?}", text);
                }
            }
        }

        /// Limits agree with a plain reading: digits (empty is 0), saturating at 2^64 - 1.
        #[test]
        fn prop_limits_agree_with_reference(
            letter in prop::sample::select(vec!["-d", "-o", "-p", "-f", "-c", "-r", "-t", "-m"]),
            n in any::<u64>(),
            extra in "[0-9]{0,3}",
        ) {
            let text = format!("{n}{extra}");
            let want: u128 = text.parse().expect("digits");
            let want = u64::try_from(want).unwrap_or(u64::MAX);
            let p = plan(&["chpst", letter, &text, "x"]);
            let l = &p.limits;
            let got = match letter {
                "-d" | "-m" => l.data, "-o" => l.nofile, "-p" => l.nproc, "-f" => l.fsize,
                "-c" => l.core, "-r" => l.rss, _ => l.cpu,
            };
            prop_assert_eq!(got, Some(Limit::Value(want)));
        }

        #[test]
        fn prop_nice_is_clamped(sign in prop::sample::select(vec!["", "+", "-"]), n in any::<u64>()) {
            let p = plan(&["chpst", "-n", &format!("{sign}{n}"), "x"]);
            let m = i32::try_from(n.min(40)).expect("small");
            prop_assert_eq!(p.nice, if sign == "-" { -m } else { m });
        }
    }
}
