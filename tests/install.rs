//! `scripts/install.sh` (`just install`): the herd binary and every name linked to it in a
//! DESTDIR, and an installed tree that works as runit's does when started by those names.

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
fn installs_herd_once_and_links_every_name() {
    let sc = Scenario::new();
    let dest = sc.join("img");
    let built = bin("herd").parent().expect("bin dir").to_path_buf();
    // An earlier install's separate binaries (and a stray file of a name) are replaced by links.
    let usr_bin = dest.join("usr/bin");
    for b in ["svscan", "supervise", "envdir"] {
        sc.file(usr_bin.join(b), "#!/bin/sh\nexit 9\n", 0o755);
    }
    install(&sc, &dest, &built).code(0).stdout("").stderr("");
    let p = usr_bin.join("herd");
    let md = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert!(md.file_type().is_file(), "herd is a regular file");
    assert_eq!(md.permissions().mode() & 0o7777, 0o755, "herd mode");
    assert_eq!(
        fs::read(&p).expect("installed"),
        fs::read(built.join("herd")).expect("built"),
        "herd bytes"
    );
    for name in HERD_NAMES {
        assert_eq!(
            fs::read_link(usr_bin.join(name)).expect(name),
            PathBuf::from("herd"),
            "{name}"
        );
    }
    // Nothing else was installed.
    let mut names: Vec<String> = fs::read_dir(&usr_bin)
        .expect("usr/bin")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = HERD_NAMES.iter().map(|n| n.to_string()).collect();
    want.push("herd".into());
    want.sort();
    assert_eq!(names, want);
    // A second install over the first works (a running herd is replaced by rename).
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
            "install: fatal: {}/herd is missing: run 'just release' first\n",
            sc.join("empty").display()
        )
    );
    assert!(!sc.join("img").exists());
}

/// The installed tree started by runit's names: `runsvdir` runs the installed `herd` as
/// `supervise` (named as the link next to it), the installed `sv` drives the service, `envdir` is
/// chpst's.
#[test]
fn installed_tree_runs_under_runit_names() {
    let sc = Scenario::new();
    let dest = sc.join("img");
    let built = bin("herd").parent().expect("bin dir").to_path_buf();
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
        usr_bin.join("herd")
    );
    assert_eq!(
        fs::read(format!("/proc/{ppid}/cmdline")).expect("cmdline"),
        format!("{}\0web\0", usr_bin.join("supervise").display()).into_bytes()
    );
    assert_eq!(
        fs::read_to_string(format!("/proc/{ppid}/comm")).expect("comm"),
        "supervise\n"
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

fn links_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/supervise-links.sh")
}

/// `scripts/supervise-links.sh TREE [RUNDIR]`.
fn make_links(sc: &Scenario, tree: &Path, rundir: Option<&str>) -> Output {
    let mut c = sc.cmd("/bin/sh").arg(links_script()).arg(tree);
    if let Some(r) = rundir {
        c = c.arg(r);
    }
    c.run()
}

/// Every symlink under `tree`, as `PATH -> TARGET` lines relative to `tree`, sorted (bytes that
/// are not UTF-8 shown lossily).
fn links_under(tree: &Path) -> Vec<String> {
    fn walk(dir: &Path, tree: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry"))
        {
            let p = e.path();
            let ft = e.file_type().expect("file type");
            if ft.is_symlink() {
                out.push(format!(
                    "{} -> {}",
                    p.strip_prefix(tree).expect("under tree").to_string_lossy(),
                    fs::read_link(&p).expect("link").to_string_lossy()
                ));
            } else if ft.is_dir() {
                walk(&p, tree, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(tree, tree, &mut v);
    v.sort();
    v
}

/// The links for a read-only root (issue 17): `supervise` and `log/supervise` of every service,
/// names with a space and bytes that are not UTF-8 included, dot-names and files left alone;
/// a second run changes nothing, another RUNDIR moves every link; a real `supervise/` directory
/// is refused, with one line, before anything is changed.
#[test]
fn supervise_links_are_made_for_every_service_and_refuse_a_real_supervise_dir() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let sc = Scenario::new();
    let tree = sc.join("service");
    sc.service("service/web", RUN_SLEEP);
    sc.script("service/web/log/run", "#!/bin/sh\nexec cat >/dev/null\n");
    sc.service("service/a b", RUN_SLEEP);
    let odd = tree.join(OsStr::from_bytes(b"x\xffy"));
    fs::create_dir_all(&odd).expect("odd dir");
    fs::create_dir_all(tree.join(".hidden")).expect("dot dir");
    sc.file("service/README", "not a service\n", 0o644);
    let want = [
        "a b/supervise -> /run/herd/a b/supervise",
        "web/log/supervise -> /run/herd/web/log/supervise",
        "web/supervise -> /run/herd/web/supervise",
        "x\u{fffd}y/supervise -> /run/herd/x\u{fffd}y/supervise",
    ];
    make_links(&sc, &tree, None).code(0).stdout("").stderr("");
    assert_eq!(links_under(&tree), want);
    assert_eq!(
        fs::read_link(odd.join("supervise")).expect("odd link"),
        Path::new(OsStr::from_bytes(b"/run/herd/x\xffy/supervise"))
    );
    // Idempotent.
    make_links(&sc, &tree, Some("/run/herd"))
        .code(0)
        .stdout("")
        .stderr("");
    assert_eq!(links_under(&tree), want);
    // Another RUNDIR (a trailing slash is dropped) moves every link.
    make_links(&sc, &tree, Some("/var/run/x/"))
        .code(0)
        .stdout("")
        .stderr("");
    assert_eq!(
        links_under(&tree),
        want.map(|l| l.replace("/run/herd/", "/var/run/x/"))
    );
    // A real supervise/ directory: refused before any link changes.
    fs::remove_file(tree.join("a b/supervise")).expect("rm link");
    fs::create_dir(tree.join("a b/supervise")).expect("real dir");
    make_links(&sc, &tree, None)
        .code(111)
        .stdout("")
        .stderr(&format!(
            "supervise-links: fatal: {}/a b/supervise is not a symlink: remove it first\n",
            tree.display()
        ));
    assert_eq!(
        links_under(&tree),
        want[1..]
            .iter()
            .map(|l| l.replace("/run/herd/", "/var/run/x/"))
            .collect::<Vec<_>>()
    );
    // A relative RUNDIR would be read inside each service directory.
    make_links(&sc, &tree, Some("run/herd"))
        .code(100)
        .stdout("")
        .stderr("supervise-links: fatal: RUNDIR must be an absolute path: run/herd\n");
    make_links(&sc, &sc.join("nonexistent"), None)
        .code(111)
        .stderr(&format!(
            "supervise-links: fatal: {}/nonexistent is not a directory\n",
            sc.path().display()
        ));
}

/// The links work: svscan on a linked tree whose RUNDIR does not exist yet runs the service and
/// its logger, each supervise in RUNDIR, and `sv` (ours and runit's) reads the status and
/// restarts the service through the links.
#[test]
fn supervise_links_run_under_svscan() {
    let sc = Scenario::new();
    let tree = sc.join("service");
    sc.service("service/web", RUN_SLEEP);
    sc.script("service/web/log/run", "#!/bin/sh\nexec cat >/dev/null\n");
    let rundir = sc.join("run/herd");
    make_links(&sc, &tree, Some(rundir.to_str().expect("utf-8")))
        .code(0)
        .stderr("");
    let _scanner = sc.spawn(bin("svscan"), &[tree.to_str().expect("utf-8")]);
    wait_running(&tree.join("web"));
    wait_running(&tree.join("web/log"));
    for d in ["web/supervise", "web/log/supervise"] {
        assert!(rundir.join(d).join("lock").is_file(), "{d}/lock in RUNDIR");
        assert!(fs::symlink_metadata(tree.join(d))
            .expect("link")
            .file_type()
            .is_symlink());
    }
    // Ours and runit's alike: runit's sv works unchanged through the links.
    for sv in [bin("sv"), peer("/usr/bin/sv")] {
        sc.cmd(&sv)
            .args(["status", "web"])
            .env("SVDIR", &tree)
            .run()
            .code(0)
            .stdout_norm("run: web: (pid N) Ns; run: log: (pid N) Ns\n");
    }
    let old = wait_running(&tree.join("web"));
    sc.cmd(peer("/usr/bin/sv"))
        .args(["restart", "web"])
        .env("SVDIR", &tree)
        .run()
        .code(0);
    // runit's sv may say ok before the new pid is there (its wait compares seconds): wait for it.
    wait_for("runit's sv restarted web", DEADLINE, || {
        status(&tree.join("web")).is_some_and(|s| s.pid.is_some_and(|p| p.get() != old))
    });
}
