//! Command-line options the way runit's tools read them (`sgetopt`, traditional `getopt(3)`),
//! and herd's two long options, `--help` and `--version`, answered the same way by every tool.
//!
//! Options come first: parsing stops at the first argument that is not an option, at `-` alone,
//! or after `--`. Flags can be grouped (`-vP`); an option's value is the rest of its argument
//! (`-w3`) or the next argument (`-w 3`). Errors carry the option letter, and [`Error`] displays
//! them in runit's words (`illegal option -- x`, `option requires an argument -- w`). The caller
//! prefixes the program name and prints the usage.
//!
//! `--help` and `--version` ([`Long`]) count only where an option may stand: a whole argument
//! before the first operand and before `--`, never an option's value. [`Getopt`] stops at one
//! ([`Error::Long`]); tools with their own parser ask [`Long::of`] at their option position.
//! [`answer`] prints the help text (the tool's, a function of the name it was called by) or
//! `herd VERSION` on stdout; a write error is one fatal line and exit 111, never a panic. runit
//! has no long options: its short ones (`-V`) keep runit's meaning.

#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use herd_diag::{Diag, Reason};

/// What `--version` prints: the workspace's version.
pub const VERSION_LINE: &str = concat!("herd ", env!("CARGO_PKG_VERSION"), "\n");
/// Exit code when the answer cannot be written (s6's and runit's "temporary failure" code).
pub const EXIT_WRITE: u8 = 111;

/// herd's long options, the same for every tool and every name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Long {
    /// `--help`: the usage synopsis and one line per option, on stdout, exit 0.
    Help,
    /// `--version`: `herd VERSION`, on stdout, exit 0.
    Version,
}

impl Long {
    /// Whether the whole argument `arg` is `--help` or `--version` (no abbreviations, no `=`).
    pub fn of(arg: &OsStr) -> Option<Long> {
        match arg.as_bytes() {
            b"--help" => Some(Long::Help),
            b"--version" => Some(Long::Version),
            _ => None,
        }
    }
}

/// For a tool without options (`supervise DIR`, `envdir DIR CHILD`): its first argument, where
/// an option would stand, if that is `--help` or `--version`.
pub fn leading(args: &[OsString]) -> Option<Long> {
    args.first().and_then(|a| Long::of(a))
}

/// A tool's `--help` for one of its names: `usage: NAME SYNOPSIS`, what it does, then one line
/// per option (the option, then a short explanation), `--help` and `--version` last.
#[derive(Debug, Clone, Copy)]
pub struct Help<'a> {
    /// What follows the name in the usage line, as the tool's usage error prints it.
    pub synopsis: &'a str,
    /// What the tool does, in a line or two (lines end with `\n`).
    pub about: &'a str,
    /// Each option (or operand) as the docs' Options table names it, and what it does.
    pub options: &'a [(&'a str, &'a str)],
}

/// The lines every tool's help ends with.
const LONG_OPTIONS: [(&str, &str); 2] = [
    ("--help", "print this help and exit"),
    ("--version", "print herd's version and exit"),
];

impl Help<'_> {
    /// The text for `name` (the name the tool was called by, without its directory).
    pub fn render(&self, name: &str) -> String {
        let all = || self.options.iter().chain(LONG_OPTIONS.iter());
        let width = all().map(|(o, _)| o.chars().count()).max().unwrap_or(0) + 2;
        let mut out = format!("usage: {name}{}\n\n{}\n", self.synopsis, self.about);
        for (option, what) in all() {
            out.push_str(&format!("  {option:width$}{what}\n"));
        }
        out
    }
}

/// Answers `long`: writes `help` (for [`Long::Help`]) or [`VERSION_LINE`] to stdout and returns
/// the exit code, 0; when stdout cannot take it (closed, a full disk, a broken pipe) says
/// `PREFIX: fatal: unable to write to stdout: REASON` through `diag` and returns [`EXIT_WRITE`].
pub fn answer(long: Long, help: &str, diag: &Diag) -> u8 {
    let text = match long {
        Long::Help => help,
        Long::Version => VERSION_LINE,
    };
    match write_stdout(text.as_bytes()) {
        Ok(()) => 0,
        Err(e) => {
            diag.fatal(&format_args!(
                "unable to write to stdout: {}",
                Reason(e.raw_os_error())
            ));
            EXIT_WRITE
        }
    }
}

/// `write(2)` to fd 1 until all of `bytes` is written. Not `std::io::stdout`, which reports a
/// closed stdout (EBADF) as success.
fn write_stdout(mut bytes: &[u8]) -> Result<(), rustix::io::Errno> {
    while !bytes.is_empty() {
        match rustix::io::write(rustix::stdio::stdout(), bytes) {
            Ok(0) => return Err(rustix::io::Errno::IO),
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One option found: its letter and, for options that take one, its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub letter: u8,
    pub value: Option<OsString>,
}

/// A bad command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// A letter not in the spec.
    Illegal(u8),
    /// An option that takes a value came last.
    MissingValue(u8),
    /// `--help` or `--version` where an option may stand: not an error, but where reading
    /// stops; the caller [`answer`]s it.
    Long(Long),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Illegal(c) => write!(f, "illegal option -- {}", *c as char),
            Error::MissingValue(c) => write!(f, "option requires an argument -- {}", *c as char),
            // What the letter `-` of `--help` would be without long options.
            Error::Long(_) => f.write_str("illegal option -- -"),
        }
    }
}

/// Reads the options of `args` (without argv[0]) against `spec` (`getopt` syntax: a letter
/// followed by `:` takes a value), one at a time, as C's `getopt` does: an error is reported
/// only when it is reached, after the options before it.
pub struct Getopt<'a> {
    args: &'a [OsString],
    spec: &'a [u8],
    /// Index of the argument being read.
    i: usize,
    /// Position within it (0: at the start of a new argument).
    j: usize,
    done: bool,
}

impl<'a> Getopt<'a> {
    pub fn new(args: &'a [OsString], spec: &'a str) -> Self {
        Getopt {
            args,
            spec: spec.as_bytes(),
            i: 0,
            j: 0,
            done: false,
        }
    }

    /// Index in `args` of the first operand (valid once the iterator is exhausted).
    pub fn operands(&self) -> usize {
        self.i
    }

    fn takes(&self, c: u8) -> Option<bool> {
        let i = self.spec.iter().position(|&s| s == c && s != b':')?;
        Some(self.spec.get(i + 1) == Some(&b':'))
    }
}

impl Iterator for Getopt<'_> {
    type Item = Result<Opt, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.j == 0 {
            let Some(a) = self.args.get(self.i).map(|a| a.as_bytes()) else {
                self.done = true;
                return None;
            };
            if a == b"--" {
                self.i += 1;
                self.done = true;
                return None;
            }
            if a.len() < 2 || a[0] != b'-' {
                self.done = true;
                return None;
            }
            if let Some(long) = Long::of(OsStr::from_bytes(a)) {
                self.done = true;
                return Some(Err(Error::Long(long)));
            }
            // Any other `--WORD` ends the options and is skipped, as `--` is: runit's getopt
            // looks only at the second `-` (`sv --json status x` is runit's `sv status x`).
            if a[1] == b'-' {
                self.i += 1;
                self.done = true;
                return None;
            }
            self.j = 1;
        }
        let a = self.args[self.i].as_bytes();
        let c = a[self.j];
        self.j += 1;
        let at_end = self.j >= a.len();
        let item = match self.takes(c) {
            None => {
                self.done = true;
                Err(Error::Illegal(c))
            }
            Some(false) => Ok(Opt {
                letter: c,
                value: None,
            }),
            Some(true) if !at_end => {
                let value = OsString::from_vec(a[self.j..].to_vec());
                self.i += 1;
                self.j = 0;
                return Some(Ok(Opt {
                    letter: c,
                    value: Some(value),
                }));
            }
            Some(true) => match self.args.get(self.i + 1) {
                Some(v) => {
                    let value = v.clone();
                    self.i += 2;
                    self.j = 0;
                    return Some(Ok(Opt {
                        letter: c,
                        value: Some(value),
                    }));
                }
                None => {
                    self.done = true;
                    Err(Error::MissingValue(c))
                }
            },
        };
        if at_end {
            self.i += 1;
            self.j = 0;
        }
        Some(item)
    }
}

/// Reads all the options at once: the options and the index of the first operand, or the first error.
pub fn parse(args: &[OsString], spec: &str) -> Result<(Vec<Opt>, usize), Error> {
    let mut g = Getopt::new(args, spec);
    let opts = g.by_ref().collect::<Result<Vec<_>, _>>()?;
    Ok((opts, g.operands()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn o(letter: u8, value: Option<&str>) -> Opt {
        Opt {
            letter,
            value: value.map(OsString::from),
        }
    }

    #[test]
    fn grouped_flags_and_values() {
        let (opts, rest) =
            parse(&args(&["-vP", "-u", "web", "-w3", "prog", "-x"]), "u:w:vP").expect("valid");
        assert_eq!(
            opts,
            vec![
                o(b'v', None),
                o(b'P', None),
                o(b'u', Some("web")),
                o(b'w', Some("3"))
            ]
        );
        assert_eq!(rest, 4);
    }

    #[test]
    fn stops_at_dash_dash_and_dash() {
        assert_eq!(
            parse(&args(&["-v", "--", "-P"]), "vP"),
            Ok((vec![o(b'v', None)], 2))
        );
        assert_eq!(parse(&args(&["-", "x"]), "v"), Ok((vec![], 0)));
        // runit's getopt looks only at the second `-`: any `--WORD` is a `--` (skipped).
        assert_eq!(
            parse(&args(&["-v", "--json", "-P", "x"]), "vP"),
            Ok((vec![o(b'v', None)], 2))
        );
    }

    #[test]
    fn options_before_an_error_are_seen() {
        let a = args(&["-V", "-x"]);
        let mut g = Getopt::new(&a, "V");
        assert_eq!(g.next(), Some(Ok(o(b'V', None))));
        assert_eq!(g.next(), Some(Err(Error::Illegal(b'x'))));
        assert_eq!(g.next(), None);
    }

    #[test]
    fn errors() {
        assert_eq!(parse(&args(&["-x"]), "v"), Err(Error::Illegal(b'x')));
        assert_eq!(
            parse(&args(&["-vw"]), "vw:"),
            Err(Error::MissingValue(b'w'))
        );
        assert_eq!(Error::Illegal(b'x').to_string(), "illegal option -- x");
        assert_eq!(
            Error::MissingValue(b'w').to_string(),
            "option requires an argument -- w"
        );
    }

    #[test]
    fn long_options_stand_only_where_an_option_may() {
        let a = args(&["-v", "--help", "-x"]);
        let mut g = Getopt::new(&a, "vw:");
        assert_eq!(g.next(), Some(Ok(o(b'v', None))));
        assert_eq!(g.next(), Some(Err(Error::Long(Long::Help))));
        assert_eq!(g.next(), None);
        assert_eq!(
            parse(&args(&["--version", "x"]), ""),
            Err(Error::Long(Long::Version))
        );
        // An option's value, an operand, or after `--`: not an option.
        assert_eq!(
            parse(&args(&["-w", "--help", "x"]), "w:"),
            Ok((vec![o(b'w', Some("--help"))], 2))
        );
        assert_eq!(parse(&args(&["dir", "--help"]), "v"), Ok((vec![], 0)));
        assert_eq!(parse(&args(&["--", "--help"]), "v"), Ok((vec![], 1)));
        // Whole words only: anything else is runit's end of the options.
        assert_eq!(parse(&args(&["--helpx", "x"]), "v"), Ok((vec![], 1)));
        assert_eq!(parse(&args(&["--hel"]), "v"), Ok((vec![], 1)));
        // runit's short options come first when they come first.
        let a = args(&["-V", "--help"]);
        assert_eq!(Getopt::new(&a, "V").next(), Some(Ok(o(b'V', None))));
        assert_eq!(Error::Long(Long::Help).to_string(), "illegal option -- -");
        assert_eq!(leading(&args(&["--help", "x"])), Some(Long::Help));
        assert_eq!(leading(&args(&["x", "--help"])), None);
        assert_eq!(leading(&[]), None);
    }

    #[test]
    fn help_is_a_usage_line_then_one_line_per_option() {
        let help = Help {
            synopsis: " [-v] dir",
            about: "Does it.\n",
            options: &[("-v", "verbose"), ("-w sec", "wait")],
        };
        assert_eq!(
            help.render("tool"),
            "usage: tool [-v] dir\n\nDoes it.\n\n  -v         verbose\n  -w sec     wait\n  \
             --help     print this help and exit\n  --version  print herd's version and exit\n"
        );
    }

    #[test]
    fn the_version_is_the_workspaces() {
        assert_eq!(
            VERSION_LINE,
            format!("herd {}\n", env!("CARGO_PKG_VERSION"))
        );
    }

    /// The reference: all options at once, with nested loops over arguments and letters.
    fn reference(args: &[Vec<u8>], spec: &[u8]) -> (Vec<Result<Opt, Error>>, Option<usize>) {
        let mut out = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if a == b"--" {
                return (out, Some(i + 1));
            }
            if a.len() < 2 || a[0] != b'-' {
                break;
            }
            if a == b"--help" || a == b"--version" {
                let long = if a == b"--help" {
                    Long::Help
                } else {
                    Long::Version
                };
                out.push(Err(Error::Long(long)));
                return (out, None);
            }
            if a[1] == b'-' {
                return (out, Some(i + 1));
            }
            let mut j = 1;
            let mut next = i + 1;
            while j < a.len() {
                let c = a[j];
                let pos = spec.iter().position(|&s| s == c).filter(|_| c != b':');
                let Some(pos) = pos else {
                    out.push(Err(Error::Illegal(c)));
                    return (out, None);
                };
                if spec.get(pos + 1) != Some(&b':') {
                    out.push(Ok(Opt {
                        letter: c,
                        value: None,
                    }));
                    j += 1;
                    continue;
                }
                let value = if j + 1 < a.len() {
                    a[j + 1..].to_vec()
                } else if let Some(v) = args.get(i + 1) {
                    next = i + 2;
                    v.clone()
                } else {
                    out.push(Err(Error::MissingValue(c)));
                    return (out, None);
                };
                out.push(Ok(Opt {
                    letter: c,
                    value: Some(OsString::from_vec(value)),
                }));
                break;
            }
            i = next;
        }
        (out, Some(i))
    }

    fn arg() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(prop::sample::select(b"-abw:x".to_vec()), 0..5),
            prop::collection::vec(any::<u8>(), 0..6),
            prop::sample::select(vec!["--help", "--version", "--helpx", "-help"])
                .prop_map(|s| s.as_bytes().to_vec()),
        ]
    }

    proptest! {
        #[test]
        fn prop_agrees_with_reference(
            args in prop::collection::vec(arg(), 0..6),
            spec in prop::sample::select(vec!["abw:", "w:vV", "a:b:", ":ab", "", "x"]),
        ) {
            let os: Vec<OsString> = args.iter().cloned().map(OsString::from_vec).collect();
            let mut g = Getopt::new(&os, spec);
            let got: Vec<_> = g.by_ref().collect();
            let (want, operands) = reference(&args, spec.as_bytes());
            prop_assert_eq!(&got, &want);
            if let Some(n) = operands {
                prop_assert_eq!(g.operands(), n);
            }
            // Exhausted stays exhausted.
            prop_assert_eq!(g.next(), None);
        }
    }
}
