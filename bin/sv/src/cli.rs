//! sv's command line (runit.md §6.1, §6.3): options, the command word and what it means.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// Debian's default service directory (upstream runit: `/service/`).
pub const DEFAULT_SVDIR: &str = "/etc/service/";
/// Default wait in seconds.
pub const DEFAULT_WAIT: u64 = 7;
/// What `-V` prints before the usage.
pub const VERSION: &str = "$Id: 900314260c6d52c986c5357673bea2f3bd3f4698 $";
const USAGE: &str = " [-v] [-w sec] command service ...";
const USAGE_LSB: &str = " [-w sec] command";

/// What one command word does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// Letters written to `supervise/control`, and the conditions waited for (`C`: check).
    pub acts: &'static str,
    /// Whether anything is written (false for `status` and `check`).
    pub write: bool,
    /// Print status lines instead of writing (`status`).
    pub status: bool,
    /// Wait for the conditions (always for LSB words, with `-v`/`-w` for the letters).
    pub wait: bool,
    /// On timeout print `kill:` and write `k`.
    pub kill: bool,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    pub prog: String,
    /// argv[0]'s basename is not `sv`: init-script mode.
    pub lsb: bool,
    pub wait_secs: u64,
    pub action: Action,
    /// Service names exactly as typed.
    pub services: Vec<OsString>,
}

/// Why the command line was refused: the text to print on stderr and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub stderr: String,
    pub code: u8,
}

/// runit's `scan_ulong`: the leading decimal digits, 0 if there are none.
pub fn scan_ulong(s: &[u8]) -> u64 {
    herd_getopt::scan_ulong(s).0
}

fn usage(prog: &str, lsb: bool) -> Refusal {
    let (text, code) = if lsb { (USAGE_LSB, 2) } else { (USAGE, 100) };
    Refusal {
        stderr: herd_diag::usage_line(prog, text),
        code,
    }
}

fn action(word: &[u8], lsb: bool, verbose: bool) -> Option<Action> {
    let letter = |acts: &'static str| Action {
        acts,
        write: true,
        status: false,
        wait: verbose,
        kill: false,
    };
    let waited = |acts: &'static str| Action {
        wait: true,
        ..letter(acts)
    };
    let forced = |acts: &'static str| Action {
        wait: true,
        kill: true,
        ..letter(acts)
    };
    let first = *word.first()?;
    Some(match first {
        b'x' | b'e' => letter("x"),
        b'X' | b'E' => forced("x"),
        b'D' => forced("d"),
        b'T' => forced("tc"),
        b't' if word == b"try-restart" => waited("tc"),
        b'c' if word == b"check" => Action {
            write: false,
            ..waited("C")
        },
        b't' | b'c' | b'u' | b'd' | b'o' | b'p' | b'h' | b'a' | b'i' | b'k' | b'q' | b'1'
        | b'2' => letter(LETTERS.iter().find(|l| l.as_bytes()[0] == first).copied()?),
        b's' => match word {
            b"shutdown" => waited("x"),
            b"start" => waited("u"),
            b"stop" => waited("d"),
            b"status" => Action {
                acts: "s",
                write: false,
                status: true,
                wait: false,
                kill: false,
            },
            _ if lsb => return None,
            _ => Action {
                acts: "s",
                write: false,
                status: true,
                wait: false,
                kill: false,
            },
        },
        b'r' => match word {
            b"restart" => waited("tcu"),
            b"reload" => waited("h"),
            _ => return None,
        },
        b'f' => match word {
            b"force-reload" => forced("tc"),
            b"force-restart" => forced("tcu"),
            b"force-shutdown" => forced("x"),
            b"force-stop" => forced("d"),
            _ => return None,
        },
        _ => return None,
    })
}

/// The one-letter commands, as static strings.
const LETTERS: [&str; 13] = [
    "t", "c", "u", "d", "o", "p", "h", "a", "i", "k", "q", "1", "2",
];

/// Parses `argv` (with argv[0]) the way runit's sv does: `getopt("w:vV")`, stopping at the first
/// non-option; then the command word; then the services (in LSB mode the service is argv[0]'s
/// basename).
pub fn parse(argv: &[OsString], svwait: Option<&[u8]>) -> Result<Cli, Refusal> {
    let arg0 = argv.first().map(|a| a.as_bytes()).unwrap_or(b"sv");
    let base = arg0.rsplit(|&b| b == b'/').next().unwrap_or(arg0);
    let prog = String::from_utf8_lossy(base).into_owned();
    let lsb = prog != "sv";
    let mut wait_secs = svwait.map_or(DEFAULT_WAIT, scan_ulong);
    let mut verbose = false;

    let args = argv.get(1..).unwrap_or(&[]);
    let mut opts = herd_getopt::Getopt::new(args, "w:vV");
    for opt in opts.by_ref() {
        match opt {
            Ok(o) if o.letter == b'w' => {
                wait_secs = scan_ulong(o.value.as_ref().map_or(&b""[..], |v| v.as_bytes()));
                verbose = true;
            }
            Ok(o) if o.letter == b'v' => verbose = true,
            Ok(_) => {
                let mut u = usage(&prog, lsb);
                u.stderr = format!("{VERSION}\n{}", u.stderr);
                return Err(u);
            }
            Err(e) => {
                let mut u = usage(&prog, lsb);
                u.stderr = format!("{prog}: {e}\n{}", u.stderr);
                return Err(u);
            }
        }
    }
    let i = 1 + opts.operands();
    let Some(word) = argv.get(i) else {
        return Err(usage(&prog, lsb));
    };
    let Some(action) = action(word.as_bytes(), lsb, verbose) else {
        return Err(usage(&prog, lsb));
    };
    let services: Vec<OsString> = if lsb {
        vec![OsString::from(&prog)]
    } else {
        argv[i + 1..].to_vec()
    };
    if services.is_empty() {
        return Err(usage(&prog, lsb));
    }
    Ok(Cli {
        prog,
        lsb,
        wait_secs,
        action,
        services,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn words_map_to_letters() {
        let acts = |w: &str| parse(&args(&["sv", w, "x"]), None).map(|c| c.action.acts);
        assert_eq!(acts("restart"), Ok("tcu"));
        assert_eq!(acts("term"), Ok("t"));
        assert_eq!(acts("try-restart"), Ok("tc"));
        assert_eq!(acts("check"), Ok("C"));
        assert_eq!(acts("cont"), Ok("c"));
        assert_eq!(acts("stat"), Ok("s"));
        assert_eq!(acts("exit"), Ok("x"));
        assert_eq!(acts("Xyz"), Ok("x"));
        assert_eq!(acts("2"), Ok("2"));
        assert!(acts("rest").is_err());
        assert!(acts("force").is_err());
        assert!(acts("zap").is_err());
    }

    #[test]
    fn options() {
        let c = parse(
            &args(&["/usr/bin/sv", "-w", "3", "up", "a", "b"]),
            Some(b"9"),
        )
        .expect("valid");
        assert_eq!((c.wait_secs, c.action.wait, c.services.len()), (3, true, 2));
        let c = parse(&args(&["sv", "-wabc", "down", "a"]), None).expect("valid");
        assert_eq!(c.wait_secs, 0);
        let c = parse(&args(&["sv", "up", "a"]), Some(b"2x")).expect("valid");
        assert_eq!((c.wait_secs, c.action.wait), (2, false));
        let e = parse(&args(&["sv", "-x", "up", "a"]), None).expect_err("bad option");
        assert_eq!(
            e.stderr,
            "sv: illegal option -- x\nusage: sv [-v] [-w sec] command service ...\n\n"
        );
        assert_eq!(e.code, 100);
        let e = parse(&args(&["sv", "-w"]), None).expect_err("missing arg");
        assert!(e
            .stderr
            .starts_with("sv: option requires an argument -- w\n"));
        let e = parse(&args(&["sv", "status"]), None).expect_err("no service");
        assert_eq!(e.stderr, "usage: sv [-v] [-w sec] command service ...\n\n");
    }

    #[test]
    fn lsb_mode() {
        let c = parse(&args(&["/etc/init.d/web", "start"]), None).expect("valid");
        assert!(c.lsb);
        assert_eq!(c.services, args(&["web"]));
        let e = parse(&args(&["/etc/init.d/web"]), None).expect_err("usage");
        assert_eq!(
            (e.stderr.as_str(), e.code),
            ("usage: web [-w sec] command\n\n", 2)
        );
        assert!(parse(&args(&["/etc/init.d/web", "stat"]), None).is_err());
    }
}
