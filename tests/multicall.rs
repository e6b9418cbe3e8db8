//! The one `herd` binary (issue 18): `herd` as the dispatcher (`herd TOOL ARGS…`, `--help`,
//! `--version`, an unknown tool), a name herd does not know as sv's init-script mode (as runit's
//! sv under any name but `sv`), and svscan running herd itself as `supervise`.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use herd_testsupport::*;

/// `herd --help`'s text: the usage, then the names, one line per tool.
const HELP: &str = "usage: herd tool [args ...]\n\n\
Every herd tool in one executable: runs the tool named by argv[0] (a link to herd),\n\
or by its first argument. Any other name is sv's init-script mode (sv(8)).\n\n\
\x20 svscan runsvdir my_init\n\
\x20 supervise runsv\n\
\x20 sv\n\
\x20 svlog svlogd\n\
\x20 chpst envdir envuidgid setuidgid pgrphack softlimit setlock setuser\n\n\
\x20 --help     print this help and exit\n\
\x20 --version  print herd's version and exit\n";

#[test]
fn help_lists_every_name_and_herd_alone_is_a_usage_error() {
    let sc = Scenario::new();
    sc.cmd(bin("herd"))
        .arg("--help")
        .run()
        .code(0)
        .stdout(HELP)
        .stderr("");
    sc.cmd(bin("herd")).run().code(100).stdout("").stderr(HELP);
    // The names it lists are the ones the harness (and install.sh, tests/install.rs) link.
    let mut listed: Vec<&str> = HELP
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("  --"))
        .flat_map(str::split_whitespace)
        .collect();
    let mut names = HERD_NAMES.to_vec();
    listed.sort();
    names.sort();
    assert_eq!(listed, names);
    sc.cmd(bin("herd"))
        .arg("--version")
        .run()
        .code(0)
        .stdout(&format!("herd {}\n", env!("CARGO_PKG_VERSION")))
        .stderr("");
}

#[test]
fn unknown_tool_is_one_line() {
    let sc = Scenario::new();
    for (arg, shown) in [
        ("nosuch", "nosuch"),
        ("/usr/bin/sv", "/usr/bin/sv"),
        ("-x", "-x"),
    ] {
        sc.cmd(bin("herd"))
            .arg(arg)
            .args(["status", "web"])
            .run()
            .code(100)
            .stdout("")
            .stderr(&format!("herd: fatal: unknown tool: {shown}\n"));
    }
}

/// `herd TOOL ARGS` is TOOL called by that name: its usage, prefixes and exit codes.
#[test]
fn herd_tool_runs_the_tool_by_that_name() {
    let sc = Scenario::new();
    let herd = || sc.cmd(bin("herd"));
    herd()
        .arg("runsv")
        .run()
        .code(1)
        .stdout("")
        .stderr("usage: runsv dir\n\n");
    herd()
        .arg("supervise")
        .run()
        .code(1)
        .stderr("usage: supervise dir\n\n");
    herd()
        .args(["herd", "runsv"])
        .run()
        .code(1)
        .stderr("usage: runsv dir\n\n");
    let sv = sc.cmd(bin("sv")).args(["status", "nosuch"]).run();
    sv.code(1);
    let via = herd().args(["sv", "status", "nosuch"]).run();
    via.code(1).stdout(&sv.stdout).stderr(&sv.stderr);
    herd()
        .args(["setuser"])
        .run()
        .code(100)
        .stderr("usage: setuser user child\n\n");
    herd().args(["dsetlock", "-y"]).run().code(100).stderr(
        "dsetlock: illegal option -- y\nusage: setlock [ -nNxX ] file program [ arg ... ]\n\n",
    );
}

/// A name herd does not know is sv's init-script mode, byte for byte as runit's sv by that name.
#[test]
fn unknown_name_is_sv_lsb_mode_as_runit() {
    let sc = Scenario::new();
    for d in ["ours", "runit"] {
        fs::create_dir_all(sc.join(d)).expect("mkdir");
    }
    symlink(bin("herd"), sc.join("ours/nginx")).expect("link");
    symlink(peer("/usr/bin/sv"), sc.join("runit/nginx")).expect("link");
    fs::create_dir_all(sc.join("svdir")).expect("mkdir");
    for args in [&["status"][..], &[], &["bogus"]] {
        let run = |d: &str| {
            sc.cmd(sc.join(d).join("nginx"))
                .args(args)
                .env("SVDIR", sc.join("svdir"))
                .run()
        };
        let (ours, theirs) = (run("ours"), run("runit"));
        ours.code(theirs.code.expect("exit code"))
            .stdout(&theirs.stdout)
            .stderr(&theirs.stderr);
    }
}

/// `herd svscan DIR log…`: svscan runs herd itself as `supervise NAME` (named `supervise`: its
/// argv[0] has no directory), and runsvdir's log title works over the longer argv.
#[test]
fn herd_svscan_runs_itself_as_supervise_and_keeps_its_log_title() {
    let sc = Scenario::new();
    sc.service(
        "scan/web",
        "#!/bin/sh\necho 'web says hello' >&2\nexec sleep 1000\n",
    );
    let scan = sc.join("scan");
    let log = ".".repeat(40);
    let scanner = sc.spawn(
        bin("herd"),
        &["svscan", scan.to_str().expect("utf-8"), &log],
    );
    let pid = wait_running(&scan.join("web"));
    let ppid = proc_ppid(pid).expect("supervise's pid");
    assert_eq!(
        fs::read_link(format!("/proc/{ppid}/exe")).expect("exe"),
        fs::canonicalize(bin("herd")).expect("herd")
    );
    assert_eq!(
        fs::read(format!("/proc/{ppid}/cmdline")).expect("cmdline"),
        b"supervise\0web\0"
    );
    assert_eq!(
        fs::read_to_string(format!("/proc/{ppid}/comm")).expect("comm"),
        "supervise\n"
    );
    let cmdline = || {
        fs::read(format!("/proc/{}/cmdline", scanner.pid()))
            .map_or(String::new(), |b| String::from_utf8_lossy(&b).into_owned())
    };
    wait_for("the log title to show web's line", DEADLINE, || {
        cmdline().contains("web says hello")
    });
    let want = format!("{}\0svscan\0{}\0", bin("herd").display(), scan.display());
    assert!(cmdline().starts_with(&want), "{:?}", cmdline());
}

/// Where a test process's links are: every name, a relative link to `../herd`.
#[test]
fn harness_links_every_name_to_herd() {
    let sv = bin("sv");
    let dir: PathBuf = sv.parent().expect("dir").to_path_buf();
    if std::env::var_os("HERD_BIN_DIR").is_none() {
        assert!(dir.ends_with("herd-names"), "{}", dir.display());
        for n in HERD_NAMES {
            assert_eq!(
                fs::read_link(dir.join(n)).expect(n),
                PathBuf::from("../herd")
            );
        }
    }
}
