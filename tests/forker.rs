//! svscan's forker (docs/svscan.md, "The forker"): every supervise is forked from it without
//! an exec, and must be what an exec would have made: the same argv, name, signals, descriptors,
//! directory and environment, for supervise and for the service it runs. A binary replaced by
//! an upgrade, a forker that is gone and svscan's stop are each handled.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use herd_testsupport::{
    bin, copy_executable, kill_tree, pid_alive, proc_children, proc_cmdline, proc_state, wait_for,
    wait_running, wait_until, without_glibc_internal_signals, Proc, Scenario, DEADLINE,
};

/// svscan and everything under it, killed whole on drop (its children are not all in its
/// process group: the services have sessions of their own).
struct Tree {
    proc: Proc,
}

impl Drop for Tree {
    fn drop(&mut self) {
        kill_tree(self.proc.pid());
    }
}

/// A copy of the `herd` binary at `SC/bin/herd`, with `svscan` and `supervise` linked to it.
fn private_herd(sc: &Scenario) -> PathBuf {
    let dir = sc.join("bin");
    fs::create_dir_all(&dir).unwrap();
    let herd = dir.join("herd");
    copy_executable(&fs::canonicalize(bin("svscan")).unwrap(), &herd);
    symlink("herd", dir.join("svscan")).unwrap();
    symlink("herd", dir.join("supervise")).unwrap();
    herd
}

/// A service whose `run` records what it was given (its environment and descriptors), in
/// `SC/NAME.fds` and then `SC/NAME.env`, then sleeps. Made aside and moved into the scan dir whole.
fn add_service(sc: &Scenario, name: &str) {
    let aside = sc.join(format!("aside-{name}"));
    sc.script(
        format!("aside-{name}/run"),
        &format!(
            "#!/bin/sh\nenv | LC_ALL=C sort > ../../{name}.env.tmp\n\
             ls /proc/$$/fd > ../../{name}.fds\n\
             mv ../../{name}.env.tmp ../../{name}.env\nexec sleep 1000\n"
        ),
    );
    fs::rename(aside, sc.join("scan").join(name)).unwrap();
}

fn start(sc: &Scenario, svscan: &Path) -> Tree {
    let mut c = Command::new(svscan);
    c.arg(sc.join("scan"))
        .current_dir(sc.path())
        .stdout(Stdio::null())
        .stderr(fs::File::create(sc.join("svscan.stderr")).unwrap());
    Tree {
        proc: Proc::spawn(c),
    }
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// svscan's child named `name` (`comm`) whose cwd is `cwd` (any, if `None`).
fn child(svscan: u32, name: &str, cwd: Option<&Path>) -> Option<u32> {
    proc_children(svscan).into_iter().find(|&p| {
        comm(p) == name
            && match cwd {
                Some(d) => fs::read_link(format!("/proc/{p}/cwd")).is_ok_and(|c| c == d),
                None => true,
            }
    })
}

/// A service of `add_service` once its `run` has recorded what it was given: its directory,
/// its supervise (svscan's child) and its `sleep`.
fn recorded(sc: &Scenario, svscan: u32, name: &str) -> (PathBuf, u32, u32) {
    let dir = sc.join("scan").join(name);
    let sleep = wait_running(&dir);
    wait_for("run to record", DEADLINE, || {
        sc.join(format!("{name}.env")).exists()
    });
    let sup = wait_until("the service's supervise", DEADLINE, || {
        child(svscan, "supervise", Some(&dir))
    });
    (dir, sup, sleep)
}

/// The names (`comm`) of svscan's children.
fn comms(svscan: u32) -> Vec<String> {
    proc_children(svscan).into_iter().map(comm).collect()
}

/// Whether the argv of `pid` (`/proc/PID/stat` field 48, arg_start) is in its stack, where
/// an exec puts it; a child of the forker has it in its heap.
fn argv_in_stack(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Field 3, the state, is the first after the name.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let arg_start: u64 = fields[48 - 3].parse().unwrap();
    fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap()
        .lines()
        .filter(|l| l.ends_with("[stack]"))
        .any(|l| {
            let (lo, hi) = l.split_once(' ').unwrap().0.split_once('-').unwrap();
            let lo = u64::from_str_radix(lo, 16).unwrap();
            let hi = u64::from_str_radix(hi, 16).unwrap();
            (lo..hi).contains(&arg_start)
        })
}

/// What a process was given, with the service's own name taken out: its name, argv, signal
/// state, descriptors (pipes and sockets by kind), directory and environment.
fn portrait(pid: u32, service: &Path, name: &str) -> Vec<String> {
    let svc = service.to_string_lossy().into_owned();
    let plain = |s: String| s.replace(&svc, "SVC");
    let mut out = vec![format!("comm {}", comm(pid))];
    let argv = proc_cmdline(pid).unwrap();
    out.push(format!(
        "argv {:?}",
        argv.iter()
            .map(|a| if a == name { "NAME" } else { a.as_str() })
            .collect::<Vec<_>>()
    ));
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let signals: String = status
        .lines()
        .filter(|l| l.starts_with("Sig") && !l.starts_with("SigQ"))
        .map(|l| format!("{l}\n"))
        .collect();
    out.push(without_glibc_internal_signals(&signals));
    let mut fds: Vec<(u32, String)> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| {
            let n = e.file_name().to_string_lossy().parse().unwrap();
            let t = fs::read_link(e.path()).unwrap_or_default();
            let t = t.to_string_lossy();
            let kind = t
                .split_once(":[")
                .map_or(t.to_string(), |(k, _)| k.to_string());
            (n, plain(kind))
        })
        .collect();
    fds.sort();
    out.push(format!("fds {fds:?}"));
    out.push(plain(format!(
        "cwd {}",
        fs::read_link(format!("/proc/{pid}/cwd")).unwrap().display()
    )));
    // Sorted: supervise gives its `run` the variables in no fixed order.
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
    let mut vars: Vec<String> = environ
        .split(|&b| b == 0)
        .map(|v| plain(String::from_utf8_lossy(v).into_owned()))
        .collect();
    vars.sort();
    out.push(format!("environ {vars:?}"));
    out
}

/// A supervise from the forker and one exec'd by svscan after the binary was replaced (as
/// scripts/install.sh upgrades it, by rename) look the same from outside, and so do their
/// services; the exec'd one runs the new binary, the forked one the old. The forker then ends,
/// and svscan's stop leaves nothing behind.
#[test]
fn a_forked_supervise_is_what_an_exec_would_make() {
    let sc = Scenario::new();
    let herd = private_herd(&sc);
    fs::create_dir(sc.join("scan")).unwrap();
    add_service(&sc, "a");
    add_service(&sc, "c");
    let mut tree = start(&sc, &sc.join("bin/svscan"));
    let svscan = tree.proc.pid();
    let first: Vec<_> = ["a", "c"]
        .into_iter()
        .map(|name| {
            let (dir, sup, sleep) = recorded(&sc, svscan, name);
            (name, dir, sup, sleep)
        })
        .collect();
    // Both are forked.
    for f in &first {
        assert!(!argv_in_stack(f.2), "{}'s supervise was exec'd", f.0);
    }
    let (name, dir, sup, sleep) = first[0].clone();
    let forker = wait_until("svscan's forker", DEADLINE, || {
        child(svscan, "svscan-fork", None)
    });
    assert_eq!(proc_cmdline(forker).unwrap(), ["svscan-fork"]);
    let supervise = sc.join("bin/supervise").to_string_lossy().into_owned();
    assert_eq!(proc_cmdline(sup).unwrap(), [supervise.as_str(), name]);

    // The upgrade: a new file renamed over the binary.
    copy_executable(&herd, &sc.join("bin/herd.new"));
    fs::rename(sc.join("bin/herd.new"), &herd).unwrap();
    add_service(&sc, "b");
    let (b, sup_b, sleep_b) = recorded(&sc, svscan, "b");
    let exe = |pid: u32| fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe(sup_b), herd, "b's supervise runs the new binary");
    assert!(argv_in_stack(sup_b), "b's supervise was exec'd");
    assert_eq!(
        exe(sup),
        PathBuf::from(format!("{} (deleted)", herd.display())),
        "the forked supervise runs the old binary"
    );
    wait_for("the forker to end", DEADLINE, || {
        !pid_alive(forker) || proc_state(forker) == Some('Z')
    });

    assert_eq!(portrait(sup, &dir, name), portrait(sup_b, &b, "b"));
    assert_eq!(portrait(sleep, &dir, name), portrait(sleep_b, &b, "b"));
    let env = |name: &str| {
        fs::read_to_string(sc.join(format!("{name}.env")))
            .unwrap()
            .replace(
                &sc.join("scan").join(name).to_string_lossy().into_owned(),
                "SVC",
            )
    };
    assert_eq!(env(name), env("b"));
    assert_eq!(
        fs::read_to_string(sc.join(format!("{name}.fds"))).unwrap(),
        fs::read_to_string(sc.join("b.fds")).unwrap()
    );

    tree.proc.signal(libc::SIGTERM);
    assert_eq!(tree.proc.wait(DEADLINE), Some(0));
    assert_eq!(fs::read_to_string(sc.join("svscan.stderr")).unwrap(), "");
    for pid in first
        .iter()
        .flat_map(|f| [f.2, f.3])
        .chain([sup_b, sleep_b])
    {
        assert!(
            !pid_alive(pid) || proc_state(pid) == Some('Z'),
            "{pid} left"
        );
    }
}

/// The forker is made at svscan's start, before any service: with an empty scan directory it
/// is svscan's only child, and the first service added is forked from it.
#[test]
fn the_forker_is_there_before_the_first_service() {
    let sc = Scenario::new();
    private_herd(&sc);
    fs::create_dir(sc.join("scan")).unwrap();
    let tree = start(&sc, &sc.join("bin/svscan"));
    let svscan = tree.proc.pid();
    let forker = wait_until("svscan's forker", DEADLINE, || {
        child(svscan, "svscan-fork", None)
    });
    assert_eq!(proc_children(svscan), [forker]);
    add_service(&sc, "a");
    let (_, sup, _) = recorded(&sc, svscan, "a");
    assert!(!argv_in_stack(sup), "a's supervise was exec'd");
    let mut names = comms(svscan);
    names.sort();
    assert_eq!(names, ["supervise", "svscan-fork"]);
}

/// A forker that is gone (killed) only means that svscan execs each supervise from then on:
/// the next service starts, and svscan says nothing.
#[test]
fn without_its_forker_svscan_execs_supervise() {
    let sc = Scenario::new();
    private_herd(&sc);
    fs::create_dir(sc.join("scan")).unwrap();
    add_service(&sc, "a");
    add_service(&sc, "c");
    let mut tree = start(&sc, &sc.join("bin/svscan"));
    let svscan = tree.proc.pid();
    wait_running(&sc.join("scan/a"));
    wait_running(&sc.join("scan/c"));
    let forker = wait_until("svscan's forker", DEADLINE, || {
        child(svscan, "svscan-fork", None)
    });
    herd_testsupport::signal(forker, libc::SIGKILL);
    wait_for("the forker reaped", DEADLINE, || !pid_alive(forker));

    add_service(&sc, "b");
    let (_, sup_b, _) = recorded(&sc, svscan, "b");
    assert!(argv_in_stack(sup_b), "b's supervise was exec'd");
    assert_eq!(comms(svscan), ["supervise", "supervise", "supervise"]);

    tree.proc.signal(libc::SIGTERM);
    assert_eq!(tree.proc.wait(DEADLINE), Some(0));
    assert_eq!(fs::read_to_string(sc.join("svscan.stderr")).unwrap(), "");
}
