//! `scripts/install.sh` (`just install`): herd's binaries under runit's names in a DESTDIR, and an
//! installed tree that works as runit's does when started by those names.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use herd_testsupport::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install.sh")
}

/// Installs from the directory holding the built binaries into `dest` with PREFIX /usr.
fn install(sc: &Scenario, dest: &Path, bin_dir: &Path) -> Output {
    sc.cmd("/bin/sh")
        .arg(script())
        .arg(dest)
        .arg("/usr")
        .arg(bin_dir)
        .run()
}

#[test]
fn installs_binaries_and_runit_names() {
    let sc = Scenario::new();
    let dest = sc.join("img");
    let built = bin("svscan").parent().expect("bin dir").to_path_buf();
    install(&sc, &dest, &built).code(0).stdout("").stderr("");
    let usr_bin = dest.join("usr/bin");
    for b in ["svscan", "supervise", "sv", "svlog", "chpst"] {
        let p = usr_bin.join(b);
        let md = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(md.file_type().is_file(), "{b} is a regular file");
        assert_eq!(md.permissions().mode() & 0o7777, 0o755, "{b} mode");
        assert_eq!(
            fs::read(&p).expect("installed"),
            fs::read(built.join(b)).expect("built"),
            "{b} bytes"
        );
    }
    let links = [
        ("envdir", "chpst"),
        ("envuidgid", "chpst"),
        ("setuidgid", "chpst"),
        ("pgrphack", "chpst"),
        ("softlimit", "chpst"),
        ("setlock", "chpst"),
        ("setuser", "chpst"),
        ("runsvdir", "svscan"),
        ("runsv", "supervise"),
        ("svlogd", "svlog"),
        ("my_init", "svscan"),
    ];
    for (name, target) in links {
        assert_eq!(
            fs::read_link(usr_bin.join(name)).expect(name),
            PathBuf::from(target),
            "{name}"
        );
    }
    // Nothing else was installed.
    let mut names: Vec<String> = fs::read_dir(&usr_bin)
        .expect("usr/bin")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 16, "{names:?}");
    // A second install over the first works (running binaries are replaced by rename).
    install(&sc, &dest, &built).code(0).stderr("");
}

#[test]
fn missing_build_is_refused() {
    let sc = Scenario::new();
    fs::create_dir_all(sc.join("empty")).expect("mkdir");
    let out = install(&sc, &sc.join("img"), &sc.join("empty"));
    out.code(111).stdout("");
    assert_eq!(
        out.stderr,
        format!(
            "install: fatal: {}/svscan is missing: run 'just release' first\n",
            sc.join("empty").display()
        )
    );
    assert!(!sc.join("img").exists());
}

/// The installed tree started by runit's names: `runsvdir` finds the installed `supervise`
/// next to itself, the installed `sv` drives the service, `envdir` is chpst's.
#[test]
fn installed_tree_runs_under_runit_names() {
    let sc = Scenario::new();
    let dest = sc.join("img");
    let built = bin("svscan").parent().expect("bin dir").to_path_buf();
    install(&sc, &dest, &built).code(0);
    let usr_bin = dest.join("usr/bin");
    let scan = sc.join("service");
    sc.service("service/web", RUN_SLEEP);
    // No -P: supervise stays in the scanner's process group, which the harness kills on drop.
    let _scanner = sc.spawn(usr_bin.join("runsvdir"), &[scan.to_str().expect("utf-8")]);
    let pid = wait_running(&scan.join("web"));
    // The supervise that runs is the installed one.
    let sup = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let ppid: u32 = sup[sup.rfind(')').expect(")") + 1..]
        .split_whitespace()
        .nth(1)
        .expect("ppid")
        .parse()
        .expect("num");
    assert_eq!(
        fs::read_link(format!("/proc/{ppid}/exe")).expect("exe"),
        usr_bin.join("supervise")
    );
    sc.cmd(usr_bin.join("sv"))
        .args(["status", "web"])
        .env("SVDIR", &scan)
        .run()
        .code(0)
        .stdout_norm("run: web: (pid N) Ns\n");
    sc.file("envd/GREETING", "hello\n", 0o644);
    sc.cmd(usr_bin.join("envdir"))
        .args(["envd", "/bin/sh", "-c", "echo $GREETING"])
        .run()
        .code(0)
        .stdout("hello\n");
}
