//! `--help` and `--version` for every name each tool answers to (issue 17): the help goes to
//! stdout, lists every option of that name's Options table in the docs (read from the
//! repository at test time: the table is the source of truth), and exits 0; the version is the
//! workspace's. Neither is ever taken for a directory, a service or a command, and runit's own
//! short options (`sv -V`, `svlogd -V`, `chpst -V`, `runsvdir -P`) keep runit's behaviour,
//! compared with Debian's runit.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use herd_testsupport::*;

/// Every name: the binary it is a link to, its doc page, and the heading its Options table
/// comes after. `web` is sv's init-script form (a link named after a service).
const NAMES: &[(&str, &str, &str, &str)] = &[
    ("svscan", "svscan", "svscan.md", "## Options"),
    ("runsvdir", "svscan", "svscan.md", "## Options"),
    ("my_init", "svscan", "svscan.md", "### my_init"),
    ("supervise", "supervise", "supervise.md", "## Options"),
    ("runsv", "supervise", "supervise.md", "## Options"),
    ("sv", "sv", "sv.md", "## Options"),
    ("web", "sv", "sv.md", "## Options"),
    ("svlog", "svlog", "svlog.md", "## Options"),
    ("svlogd", "svlog", "svlog.md", "## Options"),
    ("chpst", "chpst", "chpst.md", "## Options"),
    ("softlimit", "chpst", "chpst.md", "### softlimit"),
    ("setlock", "chpst", "chpst.md", "### setlock"),
    ("envdir", "chpst", "chpst.md", FORMS),
    ("envuidgid", "chpst", "chpst.md", FORMS),
    ("setuidgid", "chpst", "chpst.md", FORMS),
    ("pgrphack", "chpst", "chpst.md", FORMS),
    ("setuser", "chpst", "chpst.md", FORMS),
    ("herd", "herd", "herd.md", "## Options"),
];

/// The heading of the table shared by chpst's forms without options.
const FORMS: &str = "### envdir, envuidgid, setuidgid, pgrphack, setuser";

/// The prefix of each name's fatal lines (sv's have none).
fn prefix(name: &str) -> &'static str {
    match name {
        "svscan" | "runsvdir" => "svscan: ",
        "my_init" => "my_init: ",
        "supervise" | "runsv" => "supervise: ",
        "sv" | "web" => "",
        "svlog" | "svlogd" => "svlogd: ",
        "setuser" => "setuser: ",
        "herd" => "herd: ",
        _ => "chpst: ",
    }
}

/// `DIR/NAME`, a link to our `binary` (called by path, never through PATH).
fn link(sc: &Scenario, name: &str, binary: &str) -> PathBuf {
    let dir = sc.join("bin");
    fs::create_dir_all(&dir).expect("mkdir bin");
    let p = dir.join(name);
    if fs::symlink_metadata(&p).is_err() {
        symlink(bin(binary), &p).expect("symlink");
    }
    p
}

/// What `--version` prints: the workspace's version (this crate's is the workspace's).
fn version_line() -> String {
    format!("herd {}\n", env!("CARGO_PKG_VERSION"))
}

/// The options named in the first column of the table that follows `heading` in `docs/doc`:
/// each text in backticks (a row may name several).
fn doc_options(doc: &str, heading: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(doc);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines().skip_while(|l| l.trim_end() != heading);
    assert!(lines.next().is_some(), "{doc}: no heading {heading:?}");
    let rows: Vec<&str> = lines
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    assert!(!rows.is_empty(), "{doc}: no table after {heading:?}");
    rows.iter()
        .flat_map(|row| {
            let first = row.split('|').nth(1).unwrap_or_default();
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether `help` has a line for `option`: the line's option column (up to two blanks) is the
/// option, or names it among others (argparse's `-h, --help`).
fn has_line(help: &str, option: &str) -> bool {
    help.lines().any(|l| {
        let l = l.trim_start();
        let column = l.split_once("  ").map_or(l, |(c, _)| c);
        column.split(", ").any(|o| o == option)
    })
}

#[test]
fn every_name_prints_its_help_with_every_option_of_its_docs_table() {
    let sc = Scenario::new();
    for &(name, binary, doc, heading) in NAMES {
        let options = doc_options(doc, heading);
        for long in ["--help", "--version"] {
            assert!(
                options.iter().any(|o| o == long),
                "{doc} {heading}: no {long} row"
            );
        }
        let out = sc.cmd(link(&sc, name, binary)).arg("--help").run();
        out.code(0).stderr("");
        let first = out.stdout.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(&format!("usage: {name} ")),
            "{name}: first line {first:?}"
        );
        for option in &options {
            assert!(
                has_line(&out.stdout, option),
                "{name} --help has no line for {option:?} ({doc}):\n{}",
                out.stdout
            );
        }
    }
}

#[test]
fn every_name_prints_the_workspace_version() {
    let sc = Scenario::new();
    for &(name, binary, _, _) in NAMES {
        sc.cmd(link(&sc, name, binary))
            .arg("--version")
            .run()
            .code(0)
            .stdout(&version_line())
            .stderr("");
    }
}

/// Each name's own synopsis: the runit names print runit's, the forms theirs.
#[test]
fn each_name_shows_its_own_synopsis() {
    let sc = Scenario::new();
    for (name, binary, usage) in [
        ("runsv", "supervise", "usage: runsv dir\n"),
        ("envdir", "chpst", "usage: envdir dir child\n"),
        ("setuidgid", "chpst", "usage: setuidgid account child\n"),
        ("setuser", "chpst", "usage: setuser user child\n"),
        ("web", "sv", "usage: web [-w sec] command\n"),
        (
            "svlogd",
            "svlog",
            "usage: svlogd [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...\n",
        ),
        (
            "my_init",
            "svscan",
            "usage: my_init [-h] [--enable-insecure-key] [--skip-startup-files] \
             [--skip-runit] [--no-kill-all-on-exit] [--quiet] [-- MAIN_COMMAND ...]\n",
        ),
    ] {
        let out = sc.cmd(link(&sc, name, binary)).arg("--help").run();
        out.code(0);
        assert!(out.stdout.starts_with(usage), "{name}:\n{}", out.stdout);
    }
}

/// Where an option may stand: after other options, and my_init's `-h`.
#[test]
fn the_long_options_count_after_other_options() {
    let sc = Scenario::new();
    let version = version_line();
    for (name, binary, args) in [
        ("svscan", "svscan", &["-P", "-t", "2", "--version"][..]),
        ("my_init", "svscan", &["--quiet", "--version"]),
        ("sv", "sv", &["-v", "-w", "3", "--version"]),
        ("sv", "sv", &["--json", "--version"]),
        ("svlogd", "svlog", &["-tt", "-r", "_", "--version"]),
        (
            "chpst",
            "chpst",
            &["-P", "-u", "nobody", "--version", "true"],
        ),
        ("setlock", "chpst", &["-n", "--version"]),
        ("softlimit", "chpst", &["-o", "5", "--version"]),
    ] {
        sc.cmd(link(&sc, name, binary))
            .args(args)
            .run()
            .code(0)
            .stdout(&version)
            .stderr("");
    }
    let out = sc.cmd(link(&sc, "my_init", "svscan")).arg("-h").run();
    out.code(0).stderr("");
    assert!(has_line(&out.stdout, "--version"), "{}", out.stdout);
}

/// runsvdir's command line took `--help` for the directory and waited for it for ever.
#[test]
fn svscan_help_returns_at_once_even_with_a_directory_called_help() {
    let sc = Scenario::new();
    fs::create_dir(sc.join("--help")).expect("mkdir --help");
    sc.service("--help/web", RUN_SLEEP);
    for name in ["svscan", "runsvdir"] {
        let out = sc.cmd(link(&sc, name, "svscan")).arg("--help").run();
        out.code(0).stderr("");
        assert!(out.stdout.starts_with(&format!("usage: {name} ")));
    }
    // Nothing was started in it.
    assert!(!sc.join("--help/web/supervise").exists());
}

/// Not an option there: the value of an option, an operand, or after `--`.
#[test]
fn the_long_options_are_never_a_directory_service_or_command_named_so() {
    let sc = Scenario::new();
    // sv: a service called --help (after the command word).
    sc.cmd(bin("sv"))
        .args(["status", "--help"])
        .env("SVDIR", sc.path())
        .run()
        .code(1)
        .stdout("fail: --help: unable to change to service directory: file does not exist\n")
        .stderr("");
    // chpst: the program's own argument.
    let echo_arg = ["/bin/sh", "-c", "echo \"$1\"", "sh", "--help"];
    sc.cmd(bin("chpst"))
        .arg("-v")
        .args(echo_arg)
        .run()
        .code(0)
        .stdout("--help\n")
        .stderr("");
    // svscan: -t's value.
    sc.cmd(bin("svscan"))
        .args(["-t", "--help", "scan"])
        .run()
        .code(1)
        .stdout("");
    // my_init: the main command's own options.
    sc.cmd(peer("/usr/bin/unshare"))
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(link(&sc, "my_init", "svscan"))
        .args(["--quiet", "--skip-startup-files", "--skip-runit", "--"])
        .args(["/bin/sh", "-c", "echo \"$1\"", "sh", "--version"])
        .run()
        .code(0)
        .stdout("--version\n");
}

/// A service directory called `--help` or `--version` is supervised like any other: svscan
/// names it `./--help` to its supervise.
#[test]
fn a_service_called_help_or_version_is_supervised() {
    let sc = Scenario::new();
    let scan = sc.join("scan");
    sc.service("scan/--help", RUN_SLEEP);
    sc.service("scan/--version", RUN_SLEEP);
    let mut c = Command::new(bin("svscan"));
    c.arg(&scan)
        .current_dir(sc.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _svscan = Proc::spawn(c);
    wait_running(&scan.join("--help"));
    wait_running(&scan.join("--version"));
}

/// runit's short options keep runit's meaning even before a long one: the exit code and which
/// stream, against Debian's binaries (the texts are pinned in the tools' own modules).
#[test]
fn runits_short_options_keep_runits_behaviour() {
    let sc = Scenario::new();
    let runit = sc.join("runit");
    fs::create_dir_all(&runit).expect("mkdir runit");
    let ours = sc.join("bin");
    for (name, peer_path, binary, args) in [
        ("sv", "/usr/bin/sv", "sv", &["-V", "--help"][..]),
        (
            "sv",
            "/usr/bin/sv",
            "sv",
            &["-V", "--version", "status", "x"],
        ),
        ("svlogd", "/usr/bin/svlogd", "svlog", &["-V", "--help", "d"]),
        (
            "chpst",
            "/usr/bin/chpst",
            "chpst",
            &["-V", "--help", "true"],
        ),
        ("runsvdir", "/usr/bin/runsvdir", "svscan", &["-P"]),
    ] {
        let theirs = runit.join(name);
        if fs::symlink_metadata(&theirs).is_err() {
            symlink(peer(peer_path), &theirs).expect("symlink");
        }
        link(&sc, name, binary);
        let shape = |p: &Path| {
            let o = sc.cmd(p).args(args).run();
            (o.code, o.stdout.is_empty(), o.stderr.is_empty())
        };
        let want = shape(&theirs);
        assert_eq!(shape(&ours.join(name)), want, "{name} {args:?}");
        assert_eq!(
            (want.1, want.2),
            (true, false),
            "{name} {args:?}: stderr only"
        );
    }
}

/// Any other `--WORD` is, to runit's getopt, a `--`: the end of the options, skipped. Exact
/// bytes and exit codes against Debian's binaries, with an option after it that would be refused.
#[test]
fn other_double_dash_words_end_the_options_as_in_runit() {
    let sc = Scenario::new();
    for (peer_path, binary, args) in [
        ("/usr/bin/sv", "sv", &["--foo", "status", "nosuch"][..]),
        (
            "/usr/bin/sv",
            "sv",
            &["-v", "--json", "-x", "status", "nosuch"][..],
        ),
        (
            "/usr/bin/chpst",
            "chpst",
            &["--foo", "/bin/echo", "ran"][..],
        ),
        (
            "/usr/bin/chpst",
            "chpst",
            &["--helpx", "-Q", "/bin/true"][..],
        ),
        ("/usr/bin/svlogd", "svlog", &["--foo", "nosuch/dir"][..]),
    ] {
        let theirs = sc.cmd(peer(peer_path)).args(args).run();
        let ours = sc.cmd(bin(binary)).args(args).run();
        let shape = |o: &Output| (o.code, o.stdout.clone(), o.stderr.clone());
        assert_eq!(shape(&ours), shape(&theirs), "{binary} {args:?}");
    }
}

/// A stdout that cannot take the text: one fatal line, exit 111; a closed stdout is not a panic.
#[test]
fn help_to_a_full_or_closed_stdout_does_not_panic() {
    let sc = Scenario::new();
    for &(name, binary, _, _) in NAMES {
        let p = link(&sc, name, binary);
        sc.cmd("/bin/sh")
            .args(["-c", "exec \"$0\" --help >/dev/full"])
            .arg(&p)
            .run()
            .code(111)
            .stdout("")
            .stderr(&format!(
                "{}fatal: unable to write to stdout: out of disk space\n",
                prefix(name)
            ));
        // Closed: herd's start-up (herd_sys::start) gives a closed fd 1 /dev/null before the
        // tool runs.
        sc.cmd("/bin/sh")
            .args(["-c", "exec \"$0\" --version >&-"])
            .arg(&p)
            .run()
            .code(0)
            .stdout("")
            .stderr("");
    }
}
