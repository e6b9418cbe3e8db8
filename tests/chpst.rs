//! chpst against runit's: every option of docs/runit-compatibility.md#chpst-options and every
//! argv[0] form of #chpst-forms, run once with `/usr/bin/chpst` and once with ours, with the same
//! arguments in two scenario dirs (paths inside them are shown as `$SC`). Exit code, stdout, stderr
//! and what the program saw (ids, groups, environment, cwd and root, session, nice, limits, open
//! fds, lock files) must be identical, and are also checked against exact expectations.
//!
//! The argv[0] forms are reached through symlinks named `envdir`, `setlock`… in the scenario
//! (Debian's `/usr/bin/envdir` and friends belong to daemontools, never used here). phusion's
//! `setuser` exists only in herd, so it is checked against expectations alone, in a chroot with
//! its own `/etc/passwd` and `/etc/group`.
//!
//! Chroots are scenario dirs holding busybox-static (`/bin/busybox`, with `sh`, `id`, `env`,
//! `cat` linked to it) and their own `etc/passwd` and `etc/group`.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use herd_testsupport::*;

/// busybox-static, copied into chroots.
const BUSYBOX: &str = "/bin/busybox";

const USAGE: &str = "usage: chpst [-vVP012] [-u user[:group]] [-U user[:group]] [-b argv0] [-e dir] [-/ root] [-n nice] [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-t n] prog\n\n";
const SOFTLIMIT_USAGE: &str = "usage: softlimit [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes] [-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes] [-s stackbytes] [-t cpusecs] child\n\n";
const SETLOCK_USAGE: &str = "usage: setlock [ -nNxX ] file program [ arg ... ]\n\n";
const VERSION: &str = "$Id: f279d44141c981dd7535a12260efcf1ef7beed26 $\n";

/// A command that must not block (`-L`, setlock without `-n`): "fails at once".
const AT_ONCE: Duration = Duration::from_secs(2);

/// The program `name` of `flavor` in `sc`: the chpst binary itself for `chpst`, otherwise a
/// symlink `sc/links/NAME` to it (so argv[0]'s basename is `name` for both flavors).
fn program(sc: &Scenario, flavor: Flavor, name: &str) -> PathBuf {
    if name == "chpst" {
        flavor.program(Tool::Chpst)
    } else {
        flavor.link(Tool::Chpst, &sc.join("links"), name)
    }
}

/// What one run showed, with the scenario path written as `$SC`: exit code, stdout, stderr,
/// and `extra`, what was read from the scenario afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    extra: String,
}

impl Seen {
    fn show(&self) -> String {
        format!(
            "--- code: {:?}\n--- stdout:\n{}--- stderr:\n{}--- extra:\n{}---",
            self.code, self.stdout, self.stderr, self.extra
        )
    }

    /// Exact expectation on code, stdout and stderr.
    #[track_caller]
    fn is(&self, code: i32, stdout: &str, stderr: &str) -> &Self {
        assert_eq!(
            (self.code, self.stdout.as_str(), self.stderr.as_str()),
            (Some(code), stdout, stderr),
            "\n{}",
            self.show()
        );
        self
    }

    /// Exact expectation on what was observed after the run.
    #[track_caller]
    fn extra(&self, extra: &str) -> &Self {
        assert_eq!(self.extra, extra, "\n{}", self.show());
        self
    }
}

/// Compared field by field; a failure report shows [`Seen::show`].
impl Transcript for Seen {
    fn report_lines(&self) -> Vec<String> {
        self.show().lines().map(String::from).collect()
    }
}

fn masked(sc: &Scenario, s: &str) -> String {
    s.replace(&sc.path().to_string_lossy().into_owned(), "$SC")
}

/// Runs one flavor: `setup` (whose result lives until the end), then the command `build`
/// makes from the program path, then `observe`.
fn run_flavor<G>(
    flavor: Flavor,
    name: &str,
    setup: &dyn Fn(&Scenario) -> G,
    build: &dyn Fn(&Scenario, &Path) -> Cmd,
    observe: &dyn Fn(&Scenario) -> String,
) -> Seen {
    let sc = Scenario::new();
    let prog = program(&sc, flavor, name);
    let guard = setup(&sc);
    let out = build(&sc, &prog).run();
    let extra = observe(&sc);
    drop(guard);
    Seen {
        code: out.code,
        stdout: masked(&sc, &out.stdout),
        stderr: masked(&sc, &out.stderr),
        extra: masked(&sc, &extra),
    }
}

/// Runs both flavors in turn, asserts they showed the same, and returns what herd showed.
#[track_caller]
fn differential<G>(
    name: &str,
    setup: impl Fn(&Scenario) -> G + Sync,
    build: impl Fn(&Scenario, &Path) -> Cmd + Sync,
    observe: impl Fn(&Scenario) -> String + Sync,
) -> Seen {
    compare_flavors(Tool::Chpst, Schedule::InTurn, name, |f| {
        run_flavor(f, name, &setup, &build, &observe)
    })
}

/// `NAME ARGS…` in a bare scenario (cwd = the scenario dir).
#[track_caller]
fn same_as(name: &str, args: &[&str]) -> Seen {
    differential(
        name,
        |_| (),
        |sc, p| sc.cmd(p).args(args),
        |_| String::new(),
    )
}

/// `chpst ARGS…` in a bare scenario.
#[track_caller]
fn same(args: &[&str]) -> Seen {
    same_as("chpst", args)
}

/// `env -i VARS… PROG`: the program's environment is exactly `vars` plus chpst's changes.
fn env_i(sc: &Scenario, vars: &[&str], prog: &Path) -> Cmd {
    sc.cmd("/usr/bin/env").arg("-i").args(vars).arg(prog)
}

/// A script printing what the program runs as (exec'd by chpst, so `$$` is chpst's pid).
const PROBE: &str = r#"#!/bin/sh
echo "id: $(id)"
grep -E '^(Uid|Gid|Groups):' /proc/$$/status
echo "cwd: $(readlink /proc/$$/cwd)"
echo "root: $(readlink /proc/$$/root)"
set -- $(cat /proc/$$/stat)
if [ "$5" = $$ ]; then echo "pgrp leader: yes"; else echo "pgrp leader: no"; fi
if [ "$6" = $$ ]; then echo "session leader: yes"; else echo "session leader: no"; fi
echo "nice: ${19}"
echo "UID=${UID-unset} GID=${GID-unset}"
"#;

/// `NAME ARGS… $SC/probe`, the probe being readable and executable by anyone. `via_sh`: started
/// by a shell (so that chpst does not lead its process group, and can setsid).
#[track_caller]
fn probe_as(name: &str, args: &[&str], via_sh: bool) -> Seen {
    differential(
        name,
        |sc| sc.script("probe", PROBE),
        |sc, p| {
            let c = if via_sh {
                sc.cmd("/bin/sh")
                    .args(["-c", "\"$0\" \"$@\"; exit $?"])
                    .arg(p)
            } else {
                sc.cmd(p)
            };
            c.args(args).arg(sc.join("probe"))
        },
        |_| String::new(),
    )
}

/// `chpst ARGS… $SC/probe`.
#[track_caller]
fn probe(args: &[&str]) -> Seen {
    probe_as("chpst", args, false)
}

/// The nice value of the test process (which chpst's children inherit).
fn own_nice() -> i64 {
    let s = fs::read_to_string("/proc/self/stat").expect("own stat");
    let rest = &s[s.rfind(')').expect("comm") + 1..];
    rest.split_ascii_whitespace()
        .nth(16)
        .expect("nice field")
        .parse()
        .expect("nice number")
}

/// Which of process group and session the probe leads.
#[derive(Clone, Copy)]
enum Lead {
    /// Neither (started by a shell, without setsid).
    Neither,
    /// Its process group only: what the harness gives every command it runs.
    Group,
    /// Its process group and its session (setsid).
    Session,
}

/// What [`PROBE`] prints.
fn probe_text(id: &str, uid: u32, gid: u32, groups: &str, lead: Lead, nice: i64) -> String {
    let (pgrp, session) = match lead {
        Lead::Neither => ("no", "no"),
        Lead::Group => ("yes", "no"),
        Lead::Session => ("yes", "yes"),
    };
    format!(
        "id: {id}\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\nGroups:\t{groups}\n\
         cwd: $SC\nroot: /\npgrp leader: {pgrp}\nsession leader: {session}\nnice: {nice}\nUID=unset GID=unset\n"
    )
}

/// [`probe_text`] for root with the test's own groups and nice level.
fn probe_root(lead: Lead) -> String {
    probe_text(
        "uid=0(root) gid=0(root) groups=0(root)",
        0,
        0,
        &own_groups(),
        lead,
        own_nice(),
    )
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| format!("<{}: {e}>", p.display()))
}

fn mode(p: &Path) -> String {
    match fs::metadata(p) {
        Ok(m) => format!("{:o}", m.mode() & 0o7777),
        Err(_) => "absent".to_string(),
    }
}

// ------------------------------------------------------------------------------------------
// -u, -U, -b

#[test]
fn u_user_takes_its_primary_group_only() {
    probe(&["-u", "nobody"]).is(
        0,
        &probe_text(
            "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)",
            65534,
            65534,
            "65534 ",
            Lead::Group,
            own_nice(),
        ),
        "",
    );
}

#[test]
fn u_user_with_groups_sets_exactly_those() {
    probe(&["-u", "nobody:sys:adm"]).is(
        0,
        &probe_text(
            "uid=65534(nobody) gid=3(sys) groups=3(sys),4(adm)",
            65534,
            3,
            "3 4 ",
            Lead::Group,
            own_nice(),
        ),
        "",
    );
}

#[test]
fn u_numeric_ids_need_no_lookup() {
    probe(&["-u", ":1234:5678:91"]).is(
        0,
        &probe_text(
            "uid=1234 gid=5678 groups=5678,91",
            1234,
            5678,
            "91 5678 ",
            Lead::Group,
            own_nice(),
        ),
        "",
    );
    same(&["-u", ":1234:5678:91", "id"]).is(0, "uid=1234 gid=5678 groups=5678,91\n", "");
}

#[test]
fn u_lookup_failures() {
    same(&["-u", "nobody:nosuchgroup", "id"]).is(
        111,
        "",
        "chpst: fatal: unknown user/group: nobody:nosuchgroup\n",
    );
    same(&["-u", "nosuchuser", "id"]).is(111, "", "chpst: fatal: unknown user/group: nosuchuser\n");
    same(&["-u", ":12", "id"]).is(111, "", "chpst: fatal: invalid uid/gids: 12\n");
    same(&["-u", ":abc:1", "id"]).is(111, "", "chpst: fatal: invalid uid/gids: abc:1\n");
}

#[test]
fn u_lock_is_taken_as_the_new_user() {
    // The scenario dir belongs to root (0755): nobody cannot create the lock file in it.
    let seen = differential(
        "chpst",
        |_| (),
        |sc, p| sc.cmd(p).args(["-u", "nobody", "-L", "lk", "true"]),
        |sc| mode(&sc.join("lk")),
    );
    seen.is(
        111,
        "",
        "chpst: fatal: unable to open lock: lk: access denied\n",
    )
    .extra("absent");
}

#[test]
fn big_u_sets_uid_and_gid_in_the_environment_only() {
    let env = |spec: &'static str| {
        differential(
            "chpst",
            |_| (),
            move |sc, p| {
                env_i(sc, &["A=1", "UID=5", "GID=7"], p)
                    .args(["-U", spec, "/bin/sh", "-c"])
                    .arg("echo \"UID=$UID GID=$GID\"; grep -E '^(Uid|Gid|Groups):' /proc/$$/status")
            },
            |_| String::new(),
        )
    };
    let root_ids = "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
    let groups = fs::read_to_string("/proc/self/status")
        .expect("own status")
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .expect("Groups line")
        .to_string();
    env("daemon:sys").is(0, &format!("UID=1 GID=3\n{root_ids}{groups}\n"), "");
    env(":12:34").is(0, &format!("UID=12 GID=34\n{root_ids}{groups}\n"), "");
    env("nobody").is(0, &format!("UID=65534 GID=65534\n{root_ids}{groups}\n"), "");
    env("nobody:nosuchgroup").is(
        111,
        "",
        "chpst: fatal: unknown user/group: nobody:nosuchgroup\n",
    );
}

#[test]
fn b_sets_argv0() {
    same(&[
        "-b",
        "myname",
        "/bin/sh",
        "-c",
        "echo \"$0\"; tr '\\0' ' ' < /proc/$$/cmdline",
    ])
    .is(
        0,
        "myname\nmyname -c echo \"$0\"; tr '\\0' ' ' < /proc/$$/cmdline ",
        "",
    );
    same(&["-b", "foo", "nonexist"]).is(
        111,
        "",
        "chpst: fatal: unable to run: foo: file does not exist\n",
    );
}

// ------------------------------------------------------------------------------------------
// -e

/// An envdir `envd` covering every rule of §8.1 (no subdirectory).
fn envdir_files(sc: &Scenario) {
    sc.file("envd/TRAIL", "hello  \t \nsecond line\n", 0o644);
    fs::write(sc.join("envd/NUL"), b"a\0b\0c\n").expect("NUL file");
    sc.file("envd/GONE", "", 0o644);
    sc.file("envd/NEVERSET", "", 0o644);
    sc.file("envd/NEW", "new\n", 0o644);
    sc.file("envd/LEAD", " \tlead\n", 0o644);
    sc.file("envd/NL_ONLY", "\n", 0o644);
    sc.file("envd/NOEOL", "noeol", 0o644);
    sc.file("envd/.hidden", "hidden\n", 0o644);
}

/// `env -0` output as sorted entries, one per line (values may contain newlines).
fn sorted_env0(s: &str) -> String {
    let mut v: Vec<&str> = s.split('\0').filter(|e| !e.is_empty()).collect();
    v.sort_unstable();
    v.iter().map(|e| format!("{e}\n")).collect()
}

/// Runs `NAME ARGS… /usr/bin/env -0` under `env -i VARS` in a scenario with [`envdir_files`]
/// (plus `extra_setup`) for both flavors; compares the sorted environments.
#[track_caller]
fn envdir_env(name: &str, vars: &[&str], args: &[&str], extra_setup: fn(&Scenario)) -> Seen {
    let setup = |sc: &Scenario| {
        envdir_files(sc);
        extra_setup(sc);
    };
    let build =
        |sc: &Scenario, p: &Path| env_i(sc, vars, p).args(args).args(["/usr/bin/env", "-0"]);
    let sorted = |mut s: Seen| {
        s.stdout = sorted_env0(&s.stdout);
        s
    };
    compare_flavors(
        Tool::Chpst,
        Schedule::InTurn,
        &format!("{name} {args:?}: the environment"),
        |f| sorted(run_flavor(f, name, &setup, &build, &|_| String::new())),
    )
}

/// The environment [`envdir_files`] gives, sorted, from `A=1 GONE=x TRAIL=old Z=26`.
const ENVDIR_RESULT: &str =
    "A=1\nLEAD= \tlead\nNEW=new\nNL_ONLY=\nNOEOL=noeol\nNUL=a\nb\nc\nTRAIL=hello\nZ=26\n";

#[test]
fn e_sets_first_lines_and_unsets_empty_files() {
    envdir_env(
        "chpst",
        &["A=1", "GONE=x", "TRAIL=old", "Z=26"],
        &["-e", "envd"],
        |_| {},
    )
    .is(0, ENVDIR_RESULT, "");
}

#[test]
fn e_skips_a_subdirectory_silently_and_warns_with_v() {
    let sub = |sc: &Scenario| {
        fs::create_dir_all(sc.join("envd/sub")).expect("subdir");
    };
    let vars = ["A=1", "GONE=x", "TRAIL=old", "Z=26"];
    envdir_env("chpst", &vars, &["-e", "envd"], sub).is(0, ENVDIR_RESULT, "");
    envdir_env("chpst", &vars, &["-v", "-e", "envd"], sub).is(
        0,
        ENVDIR_RESULT,
        "chpst: warning: unable to read envd/sub: is a directory\n",
    );
}

#[test]
fn e_file_name_with_equals_sign() {
    // runit's pathexec takes the name up to the first `=`: the file `WITH=EQ` replaces the
    // caller's `WITH` by `WITH=EQ=v`.
    let setup = |sc: &Scenario| {
        sc.file("envd/WITH=EQ", "v\n", 0o644);
    };
    let build = |sc: &Scenario, p: &Path| {
        env_i(sc, &["WITH=old", "A=1"], p).args(["-e", "envd", "/usr/bin/env"])
    };
    let seen = differential("chpst", setup, build, |_| String::new());
    seen.is(0, "A=1\nWITH=EQ=v\n", "");
    let seen = differential(
        "chpst",
        setup,
        |sc, p| env_i(sc, &["A=1"], p).args(["-e", "envd", "/usr/bin/env"]),
        |_| String::new(),
    );
    seen.is(0, "A=1\nWITH=EQ=v\n", "");
}

#[test]
fn e_environment_order_is_runits() {
    // runit (djb's pathexec) removes a variable by moving the last entry into its slot, then
    // appends the new value: the resulting order is visible to the program.
    let build = |args: &'static [&'static str]| {
        move |sc: &Scenario, p: &Path| {
            env_i(
                sc,
                &["A=1", "TRAIL=old", "B=2", "GONE=x", "UID=5", "C=3", "GID=7"],
                p,
            )
            .args(args)
            .args(["/usr/bin/env", "-0"])
        }
    };
    let one_file = |sc: &Scenario| {
        sc.file("envd/TRAIL", "new\n", 0o644);
    };
    differential("chpst", one_file, build(&["-e", "envd"]), |_| String::new()).is(
        0,
        "A=1\0GID=7\0B=2\0GONE=x\0UID=5\0C=3\0TRAIL=new\0",
        "",
    );
    differential("chpst", |_| (), build(&["-U", ":1:2"]), |_| String::new()).is(
        0,
        "A=1\0TRAIL=old\0B=2\0GONE=x\0GID=2\0C=3\0UID=1\0",
        "",
    );
    let seen = differential("chpst", envdir_files, build(&["-e", "envd"]), |_| {
        String::new()
    });
    assert_eq!(sorted_env0(&seen.stdout), "A=1\nB=2\nC=3\nGID=7\nLEAD= \tlead\nNEW=new\nNL_ONLY=\nNOEOL=noeol\nNUL=a\nb\nc\nTRAIL=hello\nUID=5\n");
    differential("envdir", envdir_files, build(&["envd"]), |_| String::new());
}

#[test]
fn e_errors() {
    same(&["-e", "nonexist", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to switch to directory: nonexist: file does not exist\n",
    );
    differential(
        "chpst",
        |sc| sc.file("plain", "x\n", 0o644),
        |sc, p| sc.cmd(p).args(["-e", "plain", "true"]),
        |_| String::new(),
    )
    .is(
        111,
        "",
        "chpst: fatal: unable to switch to directory: plain: not a directory\n",
    );
}

#[test]
fn program_is_found_with_the_original_path() {
    let setup = |sc: &Scenario| {
        sc.script("p1/prog", "#!/bin/sh\necho \"p1 PATH=$PATH\"\n");
        sc.script("p2/prog", "#!/bin/sh\necho p2\n");
        sc.file("pe/PATH", &format!("{}\n", sc.join("p2").display()), 0o644);
    };
    differential(
        "chpst",
        setup,
        |sc, p| {
            let path = format!("PATH={}:/usr/bin:/bin", sc.join("p1").display());
            env_i(sc, &[&path], p).args(["-e", "pe", "prog"])
        },
        |_| String::new(),
    )
    .is(0, "p1 PATH=$SC/p2\n", "");
}

#[test]
fn path_search_edge_cases() {
    let setup = |sc: &Scenario| {
        sc.script("p1/prog", "#!/bin/sh\necho p1\n");
        sc.file("noexec/prog", "#!/bin/sh\necho noexec\n", 0o644);
        fs::create_dir_all(sc.join("isdir/prog")).expect("dir named prog");
    };
    let with_path = |dirs: &'static str, prog: &'static str| {
        differential(
            "chpst",
            setup,
            move |sc, p| {
                let sc_path = sc.path().display().to_string();
                let path = format!("PATH={}", dirs.replace("$SC", &sc_path));
                env_i(sc, &[&path], p).arg(prog)
            },
            |_| String::new(),
        )
    };
    with_path("$SC/isdir:$SC/noexec:$SC/p1", "prog").is(0, "p1\n", "");
    with_path("$SC/nonexist:$SC/noexec", "prog").is(
        111,
        "",
        "chpst: fatal: unable to run: prog: access denied\n",
    );
    with_path("$SC/nonexist", "prog").is(
        111,
        "",
        "chpst: fatal: unable to run: prog: file does not exist\n",
    );
    same(&["./nonexist"]).is(
        111,
        "",
        "chpst: fatal: unable to run: ./nonexist: file does not exist\n",
    );
    differential(
        "chpst",
        setup,
        |sc, p| sc.cmd(p).arg("noexec/prog"),
        |_| String::new(),
    )
    .is(
        111,
        "",
        "chpst: fatal: unable to run: noexec/prog: access denied\n",
    );
    // No PATH at all: /bin:/usr/bin.
    differential(
        "chpst",
        |_| (),
        |sc, p| env_i(sc, &[], p).args(["echo", "default"]),
        |_| String::new(),
    )
    .is(0, "default\n", "");
}

// ------------------------------------------------------------------------------------------
// -/ (chroot)

const ROOT_PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ncuser:x:4321:4322:c:/home/c:/bin/sh\n";
const ROOT_GROUP: &str = "root:x:0:\ncgroup:x:4322:\ncextra:x:4323:cuser\n";

/// A chroot at `sc/rel`: busybox-static as `/bin/busybox` (with `sh`, `id`, `env`, `cat`),
/// `/etc/passwd`, `/etc/group` and `/marker`.
fn chroot_tree(sc: &Scenario, rel: &str, passwd: &str, group: &str) -> PathBuf {
    let root = sc.join(rel);
    fs::create_dir_all(root.join("bin")).expect("root/bin");
    copy_executable(&peer(BUSYBOX), &root.join("bin/busybox"));
    fs::set_permissions(root.join("bin/busybox"), fs::Permissions::from_mode(0o755))
        .expect("chmod busybox");
    for applet in ["sh", "id", "env", "cat"] {
        symlink("busybox", root.join("bin").join(applet)).expect("applet link");
    }
    sc.file(format!("{rel}/etc/passwd"), passwd, 0o644);
    sc.file(format!("{rel}/etc/group"), group, 0o644);
    sc.file(format!("{rel}/marker"), "inside\n", 0o644);
    root
}

fn root_setup(sc: &Scenario) {
    chroot_tree(sc, "root", ROOT_PASSWD, ROOT_GROUP);
}

#[track_caller]
fn in_root(args: &[&str]) -> Seen {
    differential(
        "chpst",
        root_setup,
        |sc, p| env_i(sc, &["PATH=/bin"], p).args(args),
        |_| String::new(),
    )
}

#[test]
fn root_changes_root_and_cwd() {
    in_root(&[
        "-/",
        "root",
        "/bin/sh",
        "-c",
        "pwd; cat /marker /etc/passwd",
    ])
    .is(0, &format!("/\ninside\n{ROOT_PASSWD}"), "");
}

#[test]
fn root_users_are_looked_up_inside() {
    in_root(&["-/", "root", "-u", "cuser", "/bin/id"]).is(
        0,
        "uid=4321(cuser) gid=4322(cgroup) groups=4322(cgroup)\n",
        "",
    );
    in_root(&["-/", "root", "-u", "cuser:cextra:cgroup", "/bin/id"]).is(
        0,
        "uid=4321(cuser) gid=4323(cextra) groups=4322(cgroup),4323(cextra)\n",
        "",
    );
    // nobody exists on the host only.
    in_root(&["-/", "root", "-u", "nobody", "/bin/id"]).is(
        111,
        "",
        "chpst: fatal: unknown user/group: nobody\n",
    );
    in_root(&["-/", "root", "-U", "cuser", "/bin/env"]).is(
        0,
        "PATH=/bin\nGID=4322\nUID=4321\n",
        "",
    );
    in_root(&["-/", "root", "-U", "nobody", "/bin/env"]).is(
        111,
        "",
        "chpst: fatal: unknown user/group: nobody\n",
    );
}

#[test]
fn root_envdir_is_read_outside_and_lock_taken_inside() {
    let setup = |sc: &Scenario| {
        root_setup(sc);
        sc.file("envd/FOO", "bar\n", 0o644);
    };
    differential(
        "chpst",
        setup,
        |sc, p| env_i(sc, &["PATH=/bin"], p).args(["-/", "root", "-e", "envd", "/bin/env"]),
        |_| String::new(),
    )
    .is(0, "PATH=/bin\nFOO=bar\n", "");
    // The lock is created inside, by the new user (root/tmp is 1777, root/ is root's 0755).
    let with_tmp = |sc: &Scenario| {
        root_setup(sc);
        fs::create_dir_all(sc.join("root/tmp")).expect("root/tmp");
        fs::set_permissions(sc.join("root/tmp"), fs::Permissions::from_mode(0o1777))
            .expect("chmod root/tmp");
    };
    let lock_files = |sc: &Scenario| {
        let owner = |p: &Path| fs::metadata(p).map_or(0, |m| m.uid());
        format!(
            "root/tmp/lk {} uid {}; root/lk {}; tmp/lk {}\n",
            mode(&sc.join("root/tmp/lk")),
            owner(&sc.join("root/tmp/lk")),
            mode(&sc.join("root/lk")),
            mode(&sc.join("tmp/lk"))
        )
    };
    let lock_as_cuser = |lock: &'static str| {
        move |sc: &Scenario, p: &Path| {
            env_i(sc, &["PATH=/bin"], p).args(["-/", "root", "-L", lock, "-u", "cuser", "/bin/id"])
        }
    };
    differential("chpst", with_tmp, lock_as_cuser("/tmp/lk"), lock_files)
        .is(
            0,
            "uid=4321(cuser) gid=4322(cgroup) groups=4322(cgroup)\n",
            "",
        )
        .extra("root/tmp/lk 600 uid 4321; root/lk absent; tmp/lk absent\n");
    differential("chpst", with_tmp, lock_as_cuser("lk"), lock_files)
        .is(
            111,
            "",
            "chpst: fatal: unable to open lock: lk: access denied\n",
        )
        .extra("root/tmp/lk absent uid 0; root/lk absent; tmp/lk absent\n");
}

#[test]
fn root_errors() {
    in_root(&["-/", "nonexist", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to change directory: nonexist: file does not exist\n",
    );
    in_root(&["-/", "root/marker", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to change directory: root/marker: not a directory\n",
    );
    // `true` exists on the host, not inside.
    in_root(&["-/", "root", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to run: true: file does not exist\n",
    );
}

// ------------------------------------------------------------------------------------------
// -n, -P

#[test]
fn n_changes_the_nice_level() {
    let base = own_nice();
    let after = |inc: i64| (base + inc).clamp(-20, 19);
    for (arg, inc) in [("-3", -3), ("+2", 2), ("5", 5), ("-0", 0), ("99", 99)] {
        probe(&["-n", arg]).is(
            0,
            &probe_text(
                "uid=0(root) gid=0(root) groups=0(root)",
                0,
                0,
                &own_groups(),
                Lead::Group,
                after(inc),
            ),
            "",
        );
    }
    for bad in ["abc", "1x", "--3", "+-1"] {
        same(&["-n", bad, "true"]).is(100, "", USAGE);
    }
}

/// The `Groups:` value of the test process, as `/proc/PID/status` shows it (trailing blank).
fn own_groups() -> String {
    let s = fs::read_to_string("/proc/self/status").expect("own status");
    let l = s
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .expect("Groups line");
    l["Groups:".len()..].trim_start_matches('\t').to_string()
}

#[test]
fn n_empty_or_sign_only_means_zero() {
    // runit scans digits with scan_ulong and only checks that nothing follows them.
    for arg in ["", "+", "-"] {
        same(&[
            "-n",
            arg,
            "/bin/sh",
            "-c",
            "set -- $(cat /proc/$$/stat); echo ${19}",
        ])
        .is(0, &format!("{}\n", own_nice()), "");
    }
}

#[test]
fn big_p_makes_a_session_leader() {
    probe_as("chpst", &["-P"], true).is(0, &probe_root(Lead::Session), "");
    probe_as("chpst", &[], true).is(0, &probe_root(Lead::Neither), "");
    // A process group leader cannot setsid (EPERM): chpst goes on without a word.
    probe(&["-P"]).is(0, &probe_root(Lead::Group), "");
}

// ------------------------------------------------------------------------------------------
// -l, -L

/// Takes an exclusive flock on `path` (created if need be) in the test process; dropping the
/// result releases it.
fn hold_lock(path: &Path) -> nix::fcntl::Flock<fs::File> {
    let f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open lock file");
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock)
        .unwrap_or_else(|(_, e)| panic!("flock {}: {e}", path.display()))
}

/// Whether `pid` waits for a flock (a `->` line of `/proc/locks`).
fn blocked_on_flock(pid: u32) -> bool {
    let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
    locks.lines().any(|l| {
        let f: Vec<&str> = l.split_ascii_whitespace().collect();
        f.len() > 5 && f[1] == "->" && f[2] == "FLOCK" && f[5] == pid.to_string()
    })
}

/// Runs `NAME ARGS… /bin/sh -c 'echo ran >> out'` while the test holds `lk`: waits (bounded)
/// until it blocks on the lock, checks that the program has not run, releases the lock, and
/// returns the transcript (exit code, `out`, stderr).
fn waits_for_lock(flavor: Flavor, name: &str, args: &[&str]) -> String {
    let sc = Scenario::new();
    let prog = program(&sc, flavor, name);
    let held = hold_lock(&sc.join("lk"));
    let mut c = Command::new(&prog);
    c.args(args)
        .args(["/bin/sh", "-c", "echo ran >> out"])
        .current_dir(sc.path())
        .stdout(Stdio::from(
            fs::File::create(sc.join("stdout")).expect("stdout"),
        ))
        .stderr(Stdio::from(
            fs::File::create(sc.join("stderr")).expect("stderr"),
        ));
    let mut p = Proc::spawn(c);
    let pid = p.pid();
    wait_for(&format!("{name} {args:?} blocked on lk"), DEADLINE, || {
        blocked_on_flock(pid)
    });
    let mut t = format!(
        "while held: alive={} out={}\n",
        p.alive(),
        mode(&sc.join("out"))
    );
    drop(held);
    let code = p.wait(DEADLINE);
    t.push_str(&format!(
        "after release: code={code:?} out={:?} stdout={:?} stderr={:?}\n",
        read(&sc.join("out")),
        read(&sc.join("stdout")),
        read(&sc.join("stderr"))
    ));
    t
}

#[track_caller]
fn lock_wait_differential(name: &str, args: &[&str]) {
    let herd = compare_flavors(
        Tool::Chpst,
        Schedule::InTurn,
        &format!("{name} {args:?}"),
        |f| waits_for_lock(f, name, args),
    );
    assert_eq!(
        herd,
        "while held: alive=true out=absent\n\
         after release: code=Some(0) out=\"ran\\n\" stdout=\"\" stderr=\"\"\n"
    );
}

/// Runs `NAME ARGS…` (which must not wait) while the test holds `lk`.
#[track_caller]
fn with_lock_held(name: &str, args: &[&str]) -> Seen {
    differential(
        name,
        |sc| hold_lock(&sc.join("lk")),
        |sc, p| sc.cmd(p).args(args).timeout(AT_ONCE),
        |sc| format!("out {}\n", mode(&sc.join("out"))),
    )
}

#[test]
fn big_l_fails_at_once_when_held() {
    with_lock_held("chpst", &["-L", "lk", "/bin/sh", "-c", "echo ran > out"])
        .is(
            111,
            "",
            "chpst: fatal: unable to lock: lk: temporary failure\n",
        )
        .extra("out absent\n");
}

#[test]
fn l_waits_for_the_lock() {
    lock_wait_differential("chpst", &["-l", "lk"]);
}

#[test]
fn lock_file_mode_and_descriptor() {
    for opt in ["-l", "-L"] {
        differential(
            "chpst",
            |_| (),
            |sc, p| sc.cmd(p).args([opt, "lk", "/bin/sh", "-c", FDS]),
            |sc| format!("lk {} fds {}", mode(&sc.join("lk")), read(&sc.join("fds"))),
        )
        .is(0, "", "")
        .extra("lk 600 fds 0 1 2 3 \n");
    }
}

#[test]
fn lock_errors() {
    same(&["-L", "nodir/lk", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to open lock: nodir/lk: file does not exist\n",
    );
    same(&["-l", "nodir/lk", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to open lock: nodir/lk: file does not exist\n",
    );
    same(&["-L", "/proc", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to open lock: /proc: is a directory\n",
    );
    same(&["-l", "a", "-L", "b", "true"]).is(100, "", USAGE);
    same(&["-L", "a", "-L", "b", "true"]).is(100, "", USAGE);
}

// ------------------------------------------------------------------------------------------
// limits

/// `NAME ARGS… cat /proc/self/limits`.
#[track_caller]
fn limits(name: &str, args: &[&str]) -> Seen {
    differential(
        name,
        |_| (),
        |sc, p| sc.cmd(p).args(args).args(["cat", "/proc/self/limits"]),
        |_| String::new(),
    )
}

/// (soft, hard) of the `/proc/PID/limits` line starting with `row`.
fn limit_of(text: &str, row: &str) -> (String, String) {
    let l = text
        .lines()
        .find(|l| l.starts_with(row))
        .unwrap_or_else(|| panic!("no {row} in\n{text}"));
    let f: Vec<&str> = l[row.len()..].split_ascii_whitespace().collect();
    (f[0].to_string(), f[1].to_string())
}

/// The test process's own limits, with the rows in `set` given a new soft value.
fn own_limits_with(set: &[(&str, &str)]) -> String {
    let own = fs::read_to_string("/proc/self/limits").expect("own limits");
    own.lines()
        .map(|l| {
            let Some((row, soft)) = set.iter().find(|(row, _)| l.starts_with(row)) else {
                return format!("{l}\n");
            };
            // Columns: name (26 chars), soft (21), hard (21), units.
            let (_, hard) = limit_of(l, row);
            let units = l.get(68..).unwrap_or("");
            format!("{row:<26}{soft:<21}{hard:<21}{units}\n")
        })
        .collect()
}

/// `value`, clamped to the hard limit of `row` in the test process.
fn clamped(row: &str, value: u64) -> String {
    let own = fs::read_to_string("/proc/self/limits").expect("own limits");
    match limit_of(&own, row).1.parse::<u64>() {
        Ok(hard) if hard < value => hard.to_string(),
        _ => value.to_string(),
    }
}

const DATA: &str = "Max data size";
const STACK: &str = "Max stack size";
const MEMLOCK: &str = "Max locked memory";
const AS: &str = "Max address space";
const NOFILE: &str = "Max open files";
const NPROC: &str = "Max processes";
const FSIZE: &str = "Max file size";
const CORE: &str = "Max core file size";
const RSS: &str = "Max resident set";
const CPU: &str = "Max cpu time";

#[test]
fn limit_options_set_soft_limits() {
    let m = 200_000_000u64;
    limits("chpst", &["-m", "200000000"]).is(
        0,
        &own_limits_with(&[
            (DATA, &clamped(DATA, m)),
            (STACK, &clamped(STACK, m)),
            (MEMLOCK, &clamped(MEMLOCK, m)),
            (AS, &clamped(AS, m)),
        ]),
        "",
    );
    for (opt, row, v) in [
        ("-d", DATA, 300_000_000u64),
        ("-o", NOFILE, 77),
        ("-p", NPROC, 555),
        ("-f", FSIZE, 123_456),
        ("-c", CORE, 4096),
        ("-r", RSS, 7_777_777),
        ("-t", CPU, 99),
    ] {
        limits("chpst", &[opt, &v.to_string()]).is(
            0,
            &own_limits_with(&[(row, &clamped(row, v))]),
            "",
        );
    }
    limits("chpst", &["-o", "50", "-c", "0", "-t", "1000"]).is(
        0,
        &own_limits_with(&[(NOFILE, "50"), (CORE, "0"), (CPU, "1000")]),
        "",
    );
}

#[test]
fn limit_above_hard_is_clamped() {
    let huge = 99_999_999_999u64;
    for (opt, row) in [("-o", NOFILE), ("-p", NPROC), ("-m", MEMLOCK)] {
        let seen = limits("chpst", &[opt, &huge.to_string()]);
        assert_eq!(seen.code, Some(0), "{}", seen.show());
        assert_eq!(
            limit_of(&seen.stdout, row).0,
            clamped(row, huge),
            "{}",
            seen.show()
        );
    }
    // Whatever the hard limits here, the soft one never exceeds them.
    let seen = limits("chpst", &["-o", &huge.to_string()]);
    let (soft, hard) = limit_of(&seen.stdout, NOFILE);
    if hard != "unlimited" {
        assert_eq!(soft, hard);
    }
}

#[test]
fn limit_values_must_be_numbers() {
    for opt in ["-m", "-d", "-o", "-p", "-f", "-c", "-r", "-t"] {
        for bad in ["abc", "1k", "-1", "="] {
            same(&[opt, bad, "true"]).is(100, "", USAGE);
        }
    }
}

#[test]
fn limit_empty_value_means_zero() {
    // runit: `if (optarg[scan_ulong(optarg, &ul)]) usage();` accepts an empty value as 0.
    limits("chpst", &["-c", ""]).is(0, &own_limits_with(&[(CORE, "0")]), "");
    limits("chpst", &["-f", ""]).is(0, &own_limits_with(&[(FSIZE, "0")]), "");
}

#[test]
fn limit_overflowing_value_saturates() {
    // A deliberate difference (docs/chpst.md): runit's scan_ulong wraps modulo 2^64, so
    // 99999999999999999999 gives 7766279631452241919; ours takes the largest value, clamped to
    // the hard limit like any value above it.
    let sc = Scenario::new();
    let out = sc
        .cmd(bin("chpst"))
        .args(["-c", "99999999999999999999", "cat", "/proc/self/limits"])
        .run();
    out.code(0).stderr("");
    let expected = match clamped(CORE, u64::MAX).as_str() {
        "18446744073709551615" => "unlimited".to_string(),
        hard => hard.to_string(),
    };
    assert_eq!(limit_of(&out.stdout, CORE).0, expected);
}

// ------------------------------------------------------------------------------------------
// -0 -1 -2

/// Writes the open descriptors among 0–9 to `fds` without opening any (test is a builtin).
const FDS: &str =
    "r=; for f in 0 1 2 3 4 5 6 7 8 9; do [ -e /proc/self/fd/$f ] && r=\"$r$f \"; done; echo \"$r\" > fds";

#[test]
fn close_stdio_descriptors() {
    for (opts, fds) in [
        (&["-0"][..], "1 2 \n"),
        (&["-1"][..], "0 2 \n"),
        (&["-2"][..], "0 1 \n"),
        (&["-012"][..], "\n"),
        (&["-0", "-2"][..], "1 \n"),
        (&[][..], "0 1 2 \n"),
    ] {
        differential(
            "chpst",
            |_| (),
            |sc, p| sc.cmd(p).args(opts).args(["/bin/sh", "-c", FDS]),
            |sc| read(&sc.join("fds")),
        )
        .is(0, "", "")
        .extra(fds);
    }
    // A program writing to a closed stdout fails as it would anywhere.
    same(&["-1", "/bin/sh", "-c", "echo x; echo rc=$? >&2"]).is(
        0,
        "",
        "/bin/sh: 1: echo: echo: I/O error\nrc=1\n",
    );
}

// ------------------------------------------------------------------------------------------
// -v, -V, command line errors

#[test]
fn command_line() {
    same(&[]).is(100, "", USAGE);
    same(&["-v"]).is(100, "", USAGE);
    same(&["-P", "-u", "nobody"]).is(100, "", USAGE);
    same(&["-V"]).is(100, "", &format!("{VERSION}{USAGE}"));
    same(&["-V", "true"]).is(100, "", &format!("{VERSION}{USAGE}"));
    same(&["-x", "true"]).is(100, "", &format!("chpst: illegal option -- x\n{USAGE}"));
    same(&["-vx", "true"]).is(100, "", &format!("chpst: illegal option -- x\n{USAGE}"));
    for opt in [
        "u", "U", "b", "e", "/", "n", "l", "L", "m", "d", "o", "p", "f", "c", "r", "t",
    ] {
        same(&[&format!("-{opt}")]).is(
            100,
            "",
            &format!("chpst: option requires an argument -- {opt}\n{USAGE}"),
        );
    }
    same(&["-v", "true"]).is(0, "", "");
    same(&["-v", "-P", "-0", "echo", "ok"]).is(0, "ok\n", "");
    same(&["--", "echo", "-v"]).is(0, "-v\n", "");
    same(&["nonexist"]).is(
        111,
        "",
        "chpst: fatal: unable to run: nonexist: file does not exist\n",
    );
    same(&["sh", "-c", "exit 7"]).is(7, "", "");
}

// ------------------------------------------------------------------------------------------
// argv[0] emulations

#[test]
fn emulation_usages() {
    for (name, usage) in [
        ("envdir", "usage: envdir dir child\n\n"),
        ("envuidgid", "usage: envuidgid account child\n\n"),
        ("setuidgid", "usage: setuidgid account child\n\n"),
        ("pgrphack", "usage: pgrphack child\n\n"),
        ("softlimit", SOFTLIMIT_USAGE),
        ("setlock", SETLOCK_USAGE),
        ("dsetlock", SETLOCK_USAGE),
        ("denvdir", "usage: envdir dir child\n\n"),
        ("dchpst", USAGE),
    ] {
        same_as(name, &[]).is(100, "", usage);
    }
    same_as("envdir", &["d"]).is(100, "", "usage: envdir dir child\n\n");
    same_as("setuidgid", &["nobody"]).is(100, "", "usage: setuidgid account child\n\n");
    same_as("envuidgid", &["nobody"]).is(100, "", "usage: envuidgid account child\n\n");
    same_as("setlock", &["lk"]).is(100, "", SETLOCK_USAGE);
    same_as("setlock", &["-n"]).is(100, "", SETLOCK_USAGE);
    same_as("softlimit", &["-o", "5"]).is(100, "", SOFTLIMIT_USAGE);
}

#[test]
fn envdir_emulation() {
    envdir_env(
        "envdir",
        &["A=1", "GONE=x", "TRAIL=old", "Z=26"],
        &["envd"],
        |_| {},
    )
    .is(0, ENVDIR_RESULT, "");
    differential(
        "envdir",
        |sc| {
            envdir_files(sc);
            fs::create_dir_all(sc.join("envd/sub")).expect("subdir");
        },
        |sc, p| sc.cmd(p).args(["envd", "/bin/echo", "ran"]),
        |_| String::new(),
    )
    .is(
        111,
        "",
        "chpst: fatal: unable to read envd/sub: is a directory\n",
    );
    same_as("envdir", &["nonexist", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to switch to directory: nonexist: file does not exist\n",
    );
    // No options: `-x` is the directory.
    same_as("envdir", &["-x", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to switch to directory: -x: file does not exist\n",
    );
}

#[test]
fn setuidgid_and_envuidgid_emulations() {
    let script = "id; grep -E '^(Uid|Gid|Groups):' /proc/$$/status";
    same_as("setuidgid", &["nobody", "/bin/sh", "-c", script]).is(
        0,
        "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n\
         Uid:\t65534\t65534\t65534\t65534\nGid:\t65534\t65534\t65534\t65534\nGroups:\t65534 \n",
        "",
    );
    same_as("setuidgid", &["nobody:nogroup", "id"]).is(
        111,
        "",
        "chpst: fatal: unknown account: nobody:nogroup\n",
    );
    same_as("setuidgid", &[":65534", "id"]).is(111, "", "chpst: fatal: unknown account: :65534\n");
    same_as("setuidgid", &["nosuch", "id"]).is(111, "", "chpst: fatal: unknown account: nosuch\n");
    same_as("setuidgid", &["-x", "id"]).is(111, "", "chpst: fatal: unknown account: -x\n");
    differential(
        "envuidgid",
        |_| (),
        |sc, p| env_i(sc, &["A=1"], p).args(["daemon", "/usr/bin/env"]),
        |_| String::new(),
    )
    .is(0, "A=1\nGID=1\nUID=1\n", "");
    same_as("envuidgid", &["daemon", "/bin/sh", "-c", "id -u"]).is(0, "0\n", "");
    same_as("envuidgid", &["nobody:nogroup", "true"]).is(
        111,
        "",
        "chpst: fatal: unknown account: nobody:nogroup\n",
    );
}

#[test]
fn pgrphack_emulation() {
    probe_as("pgrphack", &[], true).is(0, &probe_root(Lead::Session), "");
    probe_as("pgrphack", &[], false).is(0, &probe_root(Lead::Group), "");
    same_as("pgrphack", &["nonexist"]).is(
        111,
        "",
        "chpst: fatal: unable to run: nonexist: file does not exist\n",
    );
}

#[test]
fn softlimit_emulation() {
    let own = fs::read_to_string("/proc/self/limits").expect("own limits");
    let hard = |row: &str| limit_of(&own, row).1;
    limits("softlimit", &["-o", "="]).is(0, &own_limits_with(&[(NOFILE, &hard(NOFILE))]), "");
    limits("softlimit", &["-c", "="]).is(0, &own_limits_with(&[(CORE, &hard(CORE))]), "");
    limits("softlimit", &["-o", "60", "-o", "="]).is(
        0,
        &own_limits_with(&[(NOFILE, &hard(NOFILE))]),
        "",
    );
    let m = 100_000_000u64;
    limits("softlimit", &["-m", "100000000"]).is(
        0,
        &own_limits_with(&[
            (DATA, &clamped(DATA, m)),
            (STACK, &clamped(STACK, m)),
            (MEMLOCK, &clamped(MEMLOCK, m)),
            (AS, &clamped(AS, m)),
        ]),
        "",
    );
    limits("softlimit", &["-m", "="]).is(
        0,
        &own_limits_with(&[
            (DATA, &hard(DATA)),
            (STACK, &hard(STACK)),
            (MEMLOCK, &hard(MEMLOCK)),
            (AS, &hard(AS)),
        ]),
        "",
    );
    for (opt, row, v) in [
        ("-a", AS, 200_000_000u64),
        ("-c", CORE, 0),
        ("-d", DATA, 123_456_789),
        ("-f", FSIZE, 1_000_000),
        ("-l", MEMLOCK, 65536),
        ("-o", NOFILE, 100),
        ("-p", NPROC, 300),
        ("-r", RSS, 4_000_000),
        ("-s", STACK, 1_000_000),
        ("-t", CPU, 50),
        ("-o", NOFILE, 99_999_999_999),
    ] {
        limits("softlimit", &[opt, &v.to_string()]).is(
            0,
            &own_limits_with(&[(row, &clamped(row, v))]),
            "",
        );
    }
    same_as("softlimit", &["-x", "1", "true"]).is(
        100,
        "",
        &format!("softlimit: illegal option -- x\n{SOFTLIMIT_USAGE}"),
    );
    same_as("softlimit", &["-o"]).is(
        100,
        "",
        &format!("softlimit: option requires an argument -- o\n{SOFTLIMIT_USAGE}"),
    );
    // A bad number gives chpst's usage text under softlimit's name.
    let chpst_usage_as_softlimit = USAGE.replacen("chpst", "softlimit", 1);
    for bad in ["abc", "=5", "-1"] {
        same_as("softlimit", &["-o", bad, "true"]).is(100, "", &chpst_usage_as_softlimit);
    }
}

#[test]
fn softlimit_empty_value_means_zero() {
    limits("softlimit", &["-c", ""]).is(0, &own_limits_with(&[(CORE, "0")]), "");
}

#[test]
fn setlock_emulation_without_contention() {
    for name in ["setlock", "dsetlock"] {
        for opts in [&[][..], &["-n"][..], &["-N"][..], &["-x"][..], &["-X"][..]] {
            differential(
                name,
                |_| (),
                |sc, p| sc.cmd(p).args(opts).args(["lk", "/bin/sh", "-c", FDS]),
                |sc| format!("lk {} fds {}", mode(&sc.join("lk")), read(&sc.join("fds"))),
            )
            .is(0, "", "")
            .extra("lk 600 fds 0 1 2 3 \n");
        }
    }
    same_as("setlock", &["nodir/lk", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to open lock: nodir/lk: file does not exist\n",
    );
    same_as("setlock", &["-x", "nodir/lk", "true"]).is(0, "", "");
    same_as("setlock", &["-X", "nodir/lk", "true"]).is(
        111,
        "",
        "chpst: fatal: unable to open lock: nodir/lk: file does not exist\n",
    );
    same_as("setlock", &["-z", "lk", "true"]).is(
        100,
        "",
        &format!("setlock: illegal option -- z\n{SETLOCK_USAGE}"),
    );
}

#[test]
fn setlock_emulation_when_held() {
    let held = "chpst: fatal: unable to lock: lk: temporary failure\n";
    let cmd = ["lk", "/bin/sh", "-c", "echo ran > out"];
    for name in ["setlock", "dsetlock"] {
        for opts in [&[][..], &["-N"][..], &["-X"][..], &["-xX"][..]] {
            let args: Vec<&str> = opts.iter().chain(cmd.iter()).copied().collect();
            with_lock_held(name, &args)
                .is(111, "", held)
                .extra("out absent\n");
        }
        for opts in [&["-x"][..], &["-Xx"][..], &["-Nx"][..]] {
            let args: Vec<&str> = opts.iter().chain(cmd.iter()).copied().collect();
            with_lock_held(name, &args)
                .is(0, "", "")
                .extra("out absent\n");
        }
    }
}

#[test]
fn setlock_n_waits() {
    lock_wait_differential("setlock", &["-n", "lk"]);
    lock_wait_differential("dsetlock", &["-n", "lk"]);
    lock_wait_differential("setlock", &["-nx", "lk"]);
}

#[test]
fn leading_d_is_dropped_for_the_tool_but_kept_in_option_errors() {
    // runit's getopt messages use argv[0]'s basename as it is; the tool and its usage text
    // come from the name with one leading `d` dropped.
    same_as("dchpst", &["-x"]).is(100, "", &format!("dchpst: illegal option -- x\n{USAGE}"));
    same_as("dchpst", &["-u"]).is(
        100,
        "",
        &format!("dchpst: option requires an argument -- u\n{USAGE}"),
    );
    same_as("dsoftlimit", &["-x", "1", "true"]).is(
        100,
        "",
        &format!("dsoftlimit: illegal option -- x\n{SOFTLIMIT_USAGE}"),
    );
    same_as("dsetlock", &["-z", "lk", "true"]).is(
        100,
        "",
        &format!("dsetlock: illegal option -- z\n{SETLOCK_USAGE}"),
    );
}

// ------------------------------------------------------------------------------------------
// setuser (herd only)

const APP_PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234:app:/home/app:/bin/sh\n";
const APP_GROUP: &str = "root:x:0:\napp:x:1234:\nextra:x:777:bob,app\nother:x:888:bob\n";

/// A chroot with busybox, `app`'s passwd and group entries, and our chpst as `/setuser` with
/// the shared libraries it needs (from `ldd`; none for a static build).
fn setuser_root(sc: &Scenario) -> PathBuf {
    let root = chroot_tree(sc, "root", APP_PASSWD, APP_GROUP);
    fs::create_dir_all(root.join("home/app")).expect("home");
    let chpst = bin("chpst");
    copy_executable(&chpst, &root.join("setuser"));
    let ldd = Command::new("/usr/bin/ldd")
        .arg(&chpst)
        .output()
        .expect("run ldd");
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_ascii_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let dest = root.join(lib.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().expect("lib dir")).expect("mkdir lib dir");
        copy_executable(Path::new(lib), &dest);
    }
    root
}

/// `env -i PATH=/bin HOME=/root USER=root chroot ROOT /setuser ARGS…`.
fn setuser(args: &[&str]) -> Output {
    let sc = Scenario::new();
    let root = setuser_root(&sc);
    sc.cmd("/usr/bin/env")
        .args([
            "-i",
            "PATH=/bin",
            "HOME=/root",
            "USER=root",
            "/usr/sbin/chroot",
        ])
        .arg(root)
        .arg("/setuser")
        .args(args)
        .run()
}

#[test]
fn setuser_becomes_the_user_with_its_groups_and_environment() {
    setuser(&[
        "app",
        "/bin/sh",
        "-c",
        "id; echo \"HOME=$HOME USER=$USER LOGNAME=$LOGNAME UID=$UID PATH=$PATH\"; pwd",
    ])
    .code(0)
    .stdout(
        "uid=1234(app) gid=1234(app) groups=777(extra),1234(app)\n\
         HOME=/home/app USER=app LOGNAME=app UID=1234 PATH=/bin\n/\n",
    )
    .stderr("");
}

#[test]
fn setuser_errors() {
    setuser(&["nosuch", "/bin/id"])
        .code(111)
        .stdout("")
        .stderr("setuser: fatal: unknown account: nosuch\n");
    // A user of the host only is unknown in the chroot.
    setuser(&["daemon", "/bin/id"])
        .code(111)
        .stdout("")
        .stderr("setuser: fatal: unknown account: daemon\n");
    setuser(&[])
        .code(100)
        .stdout("")
        .stderr("usage: setuser user child\n\n");
    setuser(&["app"])
        .code(100)
        .stdout("")
        .stderr("usage: setuser user child\n\n");
    setuser(&["app", "nonexist"])
        .code(111)
        .stdout("")
        .stderr("setuser: fatal: unable to run: nonexist: file does not exist\n");
}

// ------------------------------------------------------------------------------------------
// Non-root (issue 17)

/// `setpriv --reuid=1000 --regid=1000 --clear-groups NAME ARGS…`: chpst run by a user without
/// privileges, in a bare scenario.
#[track_caller]
fn same_as_non_root(name: &str, args: &[&str]) -> Seen {
    differential(
        name,
        |_| (),
        |sc, p| {
            sc.cmd(peer("/usr/bin/setpriv"))
                .args(["--reuid=1000", "--regid=1000", "--clear-groups"])
                .arg(p)
                .args(args)
        },
        |_| String::new(),
    )
}

/// What needs root fails as a non-root user with runit's one line, byte for byte, and exit 111:
/// changing the user (even to one's own ids: setgroups needs the privilege), chroot, a lower
/// nice value; what does not need it works.
#[test]
fn options_that_need_root_fail_with_runits_line_as_non_root() {
    let setgroups = "chpst: fatal: unable to setgroups: permission denied\n";
    same_as_non_root("chpst", &["-u", "nobody", "/bin/true"]).is(111, "", setgroups);
    same_as_non_root("chpst", &["-u", ":1000:1000", "/bin/true"]).is(111, "", setgroups);
    same_as_non_root("setuidgid", &["nobody", "/bin/true"]).is(111, "", setgroups);
    same_as_non_root("chpst", &["-/", "/", "/bin/true"]).is(
        111,
        "",
        "chpst: fatal: unable to change root directory: permission denied\n",
    );
    same_as_non_root("chpst", &["-n", "-1", "/bin/true"]).is(
        111,
        "",
        "chpst: fatal: unable to set nice level: permission denied\n",
    );
    same_as_non_root(
        "chpst",
        &["-n", "1", "-U", "nobody", "/bin/sh", "-c", "echo $UID:$GID"],
    )
    .is(0, "65534:65534\n", "");
    // A limit above the hard one is capped at it, without a word.
    let seen = same_as_non_root(
        "chpst",
        &[
            "-o",
            "999999999",
            "/bin/sh",
            "-c",
            "[ $(ulimit -n) = $(ulimit -H -n) ]",
        ],
    );
    seen.is(0, "", "");
}
