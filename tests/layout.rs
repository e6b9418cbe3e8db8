//! The release binary's layout (docs/size.md, "Hot and cold"): `bin/herd/layout.ld` puts what a
//! running tree touches in segments of its own (`.text.hot`, `.rodata`) and the rest in others
//! (`.text`, `.rodata.cold`) that must stay unmapped. The kernel maps a file a whole page-cache
//! folio at a time, clamped to the mapping: one fault in a cold segment maps up to all of it, in
//! every process that faults there. So a tree of the release binary, put through what containers
//! do, must show no resident page of a cold segment in svscan, any supervise or any svlog.
//! When code on those paths changes, this fails until `scripts/layout.py` has rewritten
//! layout.ld. Needs `scripts/release.sh`; it fails, never skips.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use herd_testsupport::{
    kill_tree, proc_children, proc_descendants, status, wait_for, wait_until, Proc, Scenario,
    State, DEADLINE,
};

use crate::dockerd::target_dir;

/// The sections of the segments that stay unmapped.
const COLD: [&str; 2] = [".text", ".rodata.cold"];
/// The sections of the segments a tree runs from.
const HOT: [&str; 2] = [".text.hot", ".rodata"];

fn release_herd() -> PathBuf {
    let p = target_dir().join("x86_64-unknown-linux-gnu/release/herd");
    assert!(
        p.is_file(),
        "{} is missing: run scripts/release.sh first",
        p.display()
    );
    // As /proc/PID/exe and smaps name it.
    fs::canonicalize(&p).unwrap()
}

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Every section of an ELF64 (little-endian) file: (name, address, size).
fn sections(elf: &[u8]) -> Vec<(String, u64, u64)> {
    assert_eq!(&elf[..5], b"\x7fELF\x02", "not an ELF64 file");
    let (shoff, shentsize) = (u64_at(elf, 0x28) as usize, u16_at(elf, 0x3a));
    let (shnum, shstrndx) = (u16_at(elf, 0x3c), u16_at(elf, 0x3e));
    let sh = |i: usize| &elf[shoff + i * shentsize..shoff + (i + 1) * shentsize];
    let strtab = u64_at(sh(shstrndx), 0x18) as usize;
    (0..shnum)
        .map(|i| {
            let s = sh(i);
            let name = &elf[strtab + u32_at(s, 0)..];
            let name = &name[..name.iter().position(|&c| c == 0).unwrap()];
            (
                String::from_utf8_lossy(name).into_owned(),
                u64_at(s, 0x10),
                u64_at(s, 0x20),
            )
        })
        .collect()
}

/// The address ranges of `names` in the binary; each must be there and not empty.
fn ranges(all: &[(String, u64, u64)], names: &[&str]) -> Vec<(u64, u64)> {
    names
        .iter()
        .map(|n| {
            let &(_, addr, size) = all
                .iter()
                .find(|(name, _, _)| name == n)
                .unwrap_or_else(|| {
                    panic!("the release binary has no {n}: scripts/release.sh links with bin/herd/layout.ld")
                });
            assert!(addr > 0 && size > 0, "{n} is empty");
            (addr, addr + size)
        })
        .collect()
}

/// Kilobytes of `pid`'s mappings of `exe` that overlap `cold` and are resident, with the
/// mappings' count (which must not be 0: the segment is mapped, only not faulted in).
fn cold_rss(pid: u32, exe: &Path, cold: &[(u64, u64)]) -> (u64, usize) {
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    let (mut kb, mut vmas, mut inside) = (0, 0, false);
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let head = f.next().unwrap_or("");
        if let Some((lo, hi)) = head.split_once('-').filter(|_| !head.ends_with(':')) {
            let (lo, hi) = (
                u64::from_str_radix(lo, 16).unwrap(),
                u64::from_str_radix(hi, 16).unwrap(),
            );
            let path = f.nth(4).map(Path::new);
            inside = path == Some(exe) && cold.iter().any(|&(a, b)| lo < b && a < hi);
            vmas += usize::from(inside);
        } else if inside && head == "Rss:" {
            kb += f.next().and_then(|v| v.parse::<u64>().ok()).unwrap();
        }
    }
    (kb, vmas)
}

/// Checks every process of the tree under `root` that runs `exe` (svscan, each supervise, each
/// svlog; not the services): none has a cold page resident. Returns how many were checked.
fn check_tree(root: u32, exe: &Path, cold: &[(u64, u64)], phase: &str) -> usize {
    let mut pids = proc_descendants(root);
    pids.push(root);
    let mut checked = 0;
    for pid in pids {
        if fs::read_link(format!("/proc/{pid}/exe")).ok().as_deref() != Some(exe) {
            continue;
        }
        let comm = format!(
            "{} in {}",
            fs::read_to_string(format!("/proc/{pid}/comm"))
                .unwrap_or_default()
                .trim(),
            fs::read_link(format!("/proc/{pid}/cwd"))
                .unwrap_or_default()
                .display()
        );
        let (kb, vmas) = cold_rss(pid, exe, cold);
        assert!(vmas > 0, "{phase}: {} ({pid}) maps no cold segment", comm);
        assert_eq!(
            kb, 0,
            "{phase}: {} ({pid}) has {kb} kB of herd's cold segments resident: run \
             scripts/layout.py (root) to rewrite bin/herd/layout.ld",
            comm
        );
        checked += 1;
    }
    checked
}

/// A tree of services as containers have them, run from the release binary: plain ones with
/// loggers, one through chpst with a `finish`, one with readiness and stop files, one with a
/// health check and a dependency, one without a logger.
struct Tree {
    sc: Scenario,
    herd: PathBuf,
    bin: PathBuf,
    scan: PathBuf,
    cold: Vec<(u64, u64)>,
}

const NAMES: [&str; 5] = ["web", "app", "db", "api", "cron"];

impl Tree {
    fn new() -> Tree {
        let herd = release_herd();
        let all = sections(&fs::read(&herd).unwrap());
        ranges(&all, &HOT);
        let cold = ranges(&all, &COLD);
        let sc = Scenario::new();
        let bin = sc.join("bin");
        fs::create_dir(&bin).unwrap();
        for n in ["svscan", "supervise", "svlog", "sv", "chpst"] {
            symlink(&herd, bin.join(n)).unwrap();
        }
        let scan = sc.join("service");
        let logrun = format!("#!/bin/sh\nexec {} -tt main\n", bin.join("svlog").display());
        let svc = |name: &str, run: &str, log: bool, files: &[(&str, &str)]| {
            sc.script(format!("service/{name}/run"), run);
            for (f, text) in files {
                let mode = if ["finish", "health"].contains(f) {
                    0o755
                } else {
                    0o644
                };
                sc.file(format!("service/{name}/{f}"), text, mode);
            }
            if log {
                sc.script(format!("service/{name}/log/run"), &logrun);
                fs::create_dir_all(scan.join(name).join("log/main")).unwrap();
            }
        };
        svc(
            "web",
            "#!/bin/sh\necho web starting\nexec sleep 1000\n",
            true,
            &[],
        );
        let chpst = bin.join("chpst");
        svc(
            "app",
            &format!(
                "#!/bin/sh\nexec {} -u nobody sh -c 'echo app up; exec sleep 1000'\n",
                chpst.display()
            ),
            true,
            &[("finish", "#!/bin/sh\nexit 0\n")],
        );
        svc(
            "db",
            "#!/bin/sh\necho ready >&3\nexec sleep 1000\n",
            true,
            &[
                ("notification-fd", "3\n"),
                ("down-signal", "TERM\n"),
                ("timeout-kill", "2000\n"),
            ],
        );
        svc(
            "api",
            "#!/bin/sh\nexec sleep 1000\n",
            true,
            &[
                ("health", "#!/bin/sh\nexit 0\n"),
                ("health-interval", "1\n"),
                ("dependencies.d/db", ""),
            ],
        );
        svc("cron", "#!/bin/sh\nexec sleep 1000\n", false, &[]);
        Tree {
            sc,
            herd,
            bin,
            scan,
            cold,
        }
    }

    fn sv(&self, args: &[&str]) {
        let out = Command::new(self.bin.join("sv"))
            .args(args)
            .env("SVDIR", &self.scan)
            .output()
            .unwrap();
        assert!(out.status.success(), "sv {args:?}: {out:?}");
    }

    /// Waits until every service and logger runs under the tree of `root` (not only has a
    /// status that says so: a killed tree leaves its status files behind).
    fn wait_all_up(&self, root: u32) {
        let dirs: Vec<PathBuf> = NAMES
            .iter()
            .map(|n| self.scan.join(n))
            .chain(["web", "app", "db", "api"].map(|n| self.scan.join(n).join("log")))
            .collect();
        wait_for("every service up under this tree", DEADLINE, || {
            // As the services' namespace numbers them (svscan may be its PID 1).
            let tree: Vec<u32> = proc_descendants(root)
                .into_iter()
                .filter_map(ns_pid)
                .collect();
            dirs.iter().all(|d| {
                status(d).is_some_and(|s| {
                    s.state == State::Run && s.pid.is_some_and(|p| tree.contains(&p.get()))
                })
            })
        });
    }

    fn svscan(&self, pid1: bool) -> Running {
        let mut c = if pid1 {
            let mut c = Command::new("unshare");
            c.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
                .arg(self.bin.join("svscan"));
            c
        } else {
            Command::new(self.bin.join("svscan"))
        };
        c.arg(&self.scan).current_dir(self.sc.path());
        Running(Proc::spawn(c))
    }
}

#[test]
fn a_running_tree_maps_nothing_of_the_cold_segments() {
    let t = Tree::new();
    let health = t.scan.join("api/supervise/health");

    // Started fresh, then driven by sv.
    let p = t.svscan(false);
    t.wait_all_up(p.pid());
    wait_for("a health check", DEADLINE, || {
        fs::read_to_string(&health).is_ok_and(|h| h.starts_with("healthy"))
    });
    t.sv(&["-w", "7", "restart", "web"]);
    t.sv(&["-w", "7", "down", "app"]);
    t.sv(&["-w", "7", "up", "app"]);
    // ALRM rotates a non-empty current only.
    wait_for("web's log written", DEADLINE, || {
        fs::metadata(t.scan.join("web/log/main/current")).is_ok_and(|m| m.len() > 0)
    });
    t.sv(&["alarm", "web/log"]);
    t.sv(&["hup", "app/log"]);
    t.sv(&["-w", "7", "restart", "db"]);
    t.sv(&["term", "cron"]);
    wait_for("cron restarted", DEADLINE, || {
        fs::read_to_string(t.scan.join("cron/supervise/runs"))
            .is_ok_and(|r| r.starts_with("runs 2 "))
    });
    wait_for("web's log rotated", DEADLINE, || {
        fs::read_dir(t.scan.join("web/log/main"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with('@'))
    });
    // svscan, its forker, 5 supervise, 4 svlog.
    assert_eq!(check_tree(p.pid(), &t.herd, &t.cold, "fresh"), 11);
    stop(p);

    // Started again over what the killed tree left behind.
    let p = t.svscan(false);
    t.wait_all_up(p.pid());
    assert_eq!(check_tree(p.pid(), &t.herd, &t.cold, "restarted"), 11);
    stop(p);

    // As PID 1, with an orphan to reap: the subshell's child outlives it and is re-parented
    // to svscan, which reaps it when it exits.
    let done = t.sc.join("orphan.done");
    t.sc.script(
        "service/orphan/run",
        &format!(
            "#!/bin/sh\n(sh -c 'sleep 0.2; touch {}' &)\nexec sleep 1000\n",
            done.display()
        ),
    );
    let p = t.svscan(true);
    let svscan = wait_until("svscan in its namespace", DEADLINE, || {
        proc_children(p.pid()).first().copied()
    });
    t.wait_all_up(p.pid());
    wait_for("the orphan done", DEADLINE, || done.exists());
    wait_for("the orphan reaped", DEADLINE, || {
        proc_children(svscan).iter().all(|&c| {
            fs::read_to_string(format!("/proc/{c}/comm"))
                .is_ok_and(|n| n == "supervise\n" || n == "svscan-fork\n")
        })
    });
    // svscan, its forker, 6 supervise, 4 svlog.
    assert_eq!(check_tree(p.pid(), &t.herd, &t.cold, "PID 1"), 12);
    drop(p);
}

/// A scanner and its whole tree, which is killed on drop (also when an assertion fails midway:
/// supervise and the services are not all in the scanner's process group).
struct Running(Proc);

impl Running {
    fn pid(&self) -> u32 {
        self.0.pid()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        kill_tree(self.0.pid());
    }
}

/// Kills the tree of `p` and waits until every process of it is gone (reaped, not a zombie).
fn stop(p: Running) {
    let mut tree = proc_descendants(p.pid());
    tree.push(p.pid());
    drop(p);
    wait_for("the killed tree gone", DEADLINE, || {
        tree.iter()
            .all(|&q| !Path::new(&format!("/proc/{q}")).exists())
    });
}

/// `pid`'s number in its own pid namespace (the last of `NSpid:` in /proc/PID/status).
fn ns_pid(pid: u32) -> Option<u32> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
}
