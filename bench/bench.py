#!/usr/bin/env python3
"""Benchmark herd (`supervise`, `sv`, `svscan`, `svlog`, `my_init`) against runit, daemontools and s6.

Usage (as root, from the repository root):

    just bench            # = just release; python3 bench/bench.py --herd-dir target/x86_64-unknown-linux-gnu/release
    python3 bench/bench.py [--quick] [--herd-dir DIR] [--sections supervise,sv,scanners,loggers,myinit]
                           [--only herd,runit,...]
    python3 bench/bench.py --report-only docs/benchmarks.json   # rewrite docs/benchmarks.md, measure nothing

Writes docs/benchmarks.md (one table per section, one column per flavor; the goals of issue 8 with
their verdicts; binary sizes) and docs/benchmarks.json (every raw sample). Python 3.11 standard
library only; needs gcc for bench/stamp.c and bench/loggen.c, which are compiled into the scratch
directory at bench time, util-linux `unshare` for the PID-1 tests, and busybox-static plus herd's
static release build for the my_init section.

What is measured, with the flavors interleaved trial by trial (the order rotates each trial):

supervise (herd `supervise`, runit `runsv`, daemontools `supervise`, `s6-supervise`):
  1. RSS and PSS (from /proc/PID/smaps_rollup) of one idle supervisor, with a logger and without;
     and the mean PSS and private dirty of 10 and of 100 idle supervisors of one flavor at once.
  2. Idle wakeups: context switches of each idle supervisor over one shared window.
  3. Restart latency: time from the exit of a `run` that lived 2 s to the next start of `run`.
  4. Crash-loop interval: time between two starts of a `run` that exits at once.
  5. Control restart: time from writing `t` to supervise/control (`s6-svc -r` for s6) to the new start.
sv (herd's `sv` and runit's `/usr/bin/sv`, each against herd `supervise` and against `runsv`):
  6. Wall time of `sv -w 7 restart`, of `sv start` from down, and of `sv status`.
scanners (herd `svscan`, runit `runsvdir`, daemontools `svscan`, `s6-svscan`):
  7. Pickup: a complete service dir `mv`ed into the running scanner's dir → its `run` started.
  8. Start of 100 and 500 services: scanner start → every `run` started.
  9. Shutdown as PID 1 (`unshare --pid --fork --mount-proc`) of 50 services that log a clean TERM,
     and of 50 with one that ignores TERM: SIGTERM → namespace empty, clean count, exit status.
 10. Idle wakeups of the scanner and its 10 supervisors; 11. the scanner's own memory;
 12. zombies: a service makes 500 orphans under the scanner as PID 1; zombies left after 2 s, and
     time until none is left.
loggers (herd `svlog -tt`, runit `svlogd -tt`, daemontools `multilog t`, `s6-log t`, `s6-log -b t`;
         every one rotating at 10 MB and keeping 5 old files, in a log dir on disk):
 13. Throughput: 200 MB of numbered 100-byte lines through a pipe from a C writer (bench/loggen.c)
     to the logger's exit at EOF: MB/s, lines/s, the logger's CPU time and peak RSS (wait4), and
     every line checked in the files (rotated files are hard-linked aside as they appear, so the
     logger's own deletion of old files does not hide them): lost, duplicated, malformed, reordered.
 14. Idle wakeups: context switches of each logger with an open, idle stdin.
myinit (herd's svscan called `my_init`, as PID 1 of `unshare --pid --fork --mount-proc=ROOT/proc chroot
        ROOT /sbin/my_init` in a phusion/baseimage-style root on tmpfs: static busybox, herd's static
        binaries, start-up and shutdown scripts, the container environment, 10 TERM-trapping services):
 15. Shutdown: SIGTERM → my_init exited, exit code, TERM handlers run; the same tree without its log/,
     with KILL_PROCESS_TIMEOUT=3, and with one more service that ignores TERM (default, and =3).
 16. RSS and PSS of PID 1, and the PSS of PID 1 + its supervise processes; spawn → every service up.
 17. `my_init -- sh -c 'exit 3'`: spawn → exit, and its exit code. phusion's own my_init is not on this
     machine: its documented figures are shown beside, labelled as such.
  And the harness overhead: the cost of the stamp helper itself and of running a client.

Every start is timed by the `stamp` helper inside the supervised process (the service's `run` is a
symlink to it), on CLOCK_MONOTONIC, which is also Python's time.monotonic_ns(). Scratch service and
scan directories live on tmpfs (/dev/shm); the files the PID-1 services log to, and herd's
binaries, are on disk (/var/tmp): herd's binaries are copied there and synced at the start. Every
trial has a deadline: a flavor that misses one gets a note in the report, never a hang. Every
process the harness starts is killed by pid or process group (a PID-1 namespace by SIGKILL to its
init); the harness is a child subreaper so that orphans come back to it to be reaped.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import hashlib
import json
import math
import os
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP_SRC = ROOT / "bench" / "stamp.c"
DOCS = ROOT / "docs"
DEFAULT_HERD_DIR = "target/x86_64-unknown-linux-gnu/release"
HERD_BINS = ("supervise", "svscan", "sv", "svlog")
LOGGEN_SRC = ROOT / "bench" / "loggen.c"
SV = "/usr/bin/sv"
S6_SVC = "/usr/bin/s6-svc"
S6_SVSCANCTL = "/usr/bin/s6-svscanctl"
UNSHARE = "/usr/bin/unshare"
REPRODUCE = ("just bench (= just release, then python3 bench/bench.py --herd-dir "
             f"{DEFAULT_HERD_DIR})")
# Scanners find their supervisor on PATH (runsvdir: runsv, daemontools: supervise); herd's svscan
# uses the supervise next to it, s6-svscan an absolute path. No SVDIR/SVWAIT/SVSCAN_STOP_TIMEOUT.
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

PR_SET_CHILD_SUBREAPER = 36
SETTLE_S = 0.5  # idle time before a memory reading
WAKEUP_SETTLE_S = 2.0  # idle time before the wakeup window (daemontools wakes once 1 s after a start)
MANY_SIZES = (10, 100)  # supervisors of one flavor running together in the shared-pages memory test
RUN_LIFE_S = 2  # how long `run` lives in the restart-latency scenario
THROTTLE_CLEAR_S = 1.2  # wait after a start before a control restart, past every 1 s throttle
POLL_S = 0.002
REPORT_WINDOW_S = 20  # supervisor wakeups are reported per this many seconds
SV_WAIT = 7  # `sv -w` in the sv scenario
SCAN_SERVICES = 10  # services under a scanner in the wakeup and memory scenarios
PICKUP_IDLE_S = 1.0  # the scanner is idle this long before each pickup trial
PICKUP_BOUND_S = 8.0
START_SIZES = (100, 500)
START_BOUND_S = 30.0
STOP_SERVICES = 50
STOP_SETTLE_S = 1.2  # every service up this long before the SIGTERM, past every 1 s throttle
STOP_BOUND_S = 15.0
DEFAULT_STOP_S = 7.0  # herd svscan's shutdown bound without -t or SVSCAN_STOP_TIMEOUT (docs/svscan.md)
ORPHANS = 500
ZOMBIE_CHECK_S = 2.0
ZOMBIE_BOUND_S = 8.0
ZOMBIE_POLL_S = 0.005
LOG_LINE = 100  # bytes per line written to the loggers, newline included (bench/loggen.c)
LOG_FILE_SIZE = 10_000_000  # every logger rotates at this size ...
LOG_KEEP = 5  # ... and keeps this many old files
LOG_BOUND_S = 180.0  # one throughput run: writer start → logger exit
LOG_START_BOUND_S = 5.0  # logger start → its `current` exists
LOG_IDLE_LINES = 10  # lines written to each logger before its idle window
CHROOT = "/usr/sbin/chroot"
BUSYBOX = "/bin/busybox"  # busybox-static: the phusion-style root's shell and tools
BUSYBOX_APPLETS = ("sh", "echo", "cat", "sleep", "rm", "printf", "grep", "id", "true", "mkdir", "ls")
MYINIT_BINS = ("svscan", "supervise", "sv")  # herd's binaries in the root's /usr/bin (static)
MYINIT_SERVICES = 10  # /etc/service/s00 … s09, each trapping TERM; the last one has a log/
MYINIT_STUBBORN = "stubborn"  # the extra service that ignores TERM, in the stubborn variants
MYINIT_KILL_PROCESS_TIMEOUT = "3"  # as in phusion's measured 3.84 s (../shared/reference/peers.md §4)
MYINIT_UP_BOUND_S = 15.0  # my_init spawned → every service up
MYINIT_STOP_BOUND_S = 15.0  # SIGTERM → my_init exited (herd's longest expected: 3 s + 5 s)
MYINIT_CMD_BOUND_S = 15.0  # `my_init -- sh -c 'exit 3'` spawned → exited
MYINIT_PATH = "/usr/bin:/bin:/sbin"  # my_init's whole environment, plus the variant's timeouts


@dataclass(frozen=True)
class Flavor:
    key: str
    label: str
    path: str
    supervises_log: bool  # runs DIR/log/run itself, joined by a pipe
    control: str  # "fifo": write `t` to supervise/control; "s6-svc": run `s6-svc -r DIR`
    runit_sv: bool  # runit's `sv` can drive it

    def available(self) -> bool:
        return os.access(self.path, os.X_OK)


@dataclass(frozen=True)
class Scanner:
    key: str
    label: str
    path: str

    def available(self) -> bool:
        return os.access(self.path, os.X_OK)

    def argv(self, scandir: Path) -> list[str]:
        # s6-svscan 2.11's default cap is 500 services, enough for START_SIZES: run as shipped.
        return [self.path, str(scandir)]


@dataclass(frozen=True)
class Logger:
    """One logger command line; `{dir}` in args is the log directory."""

    key: str  # column
    family: str  # for --only
    label: str
    path: str
    args: tuple[str, ...]
    config: bool  # svlogd-style: size and count go in DIR/config, not on the command line

    def available(self) -> bool:
        return os.access(self.path, os.X_OK)

    def argv(self, logdir: Path) -> list[str]:
        return [self.path, *(a.replace("{dir}", str(logdir)) for a in self.args)]


@dataclass(frozen=True)
class SvCombo:
    """One `sv` client driving one supervisor flavor."""

    key: str
    label: str
    client: str
    sup: Flavor


def make_flavors(herd_dir: Path) -> list[Flavor]:
    return [
        Flavor("herd", "herd `supervise`", str(herd_dir / "supervise"), True, "fifo", True),
        Flavor("runit", "runit `runsv`", "/usr/bin/runsv", True, "fifo", True),
        Flavor("daemontools", "daemontools `supervise`", "/usr/bin/supervise", False, "fifo", False),
        Flavor("s6", "s6 `s6-supervise`", "/usr/bin/s6-supervise", False, "s6-svc", False),
    ]


def make_scanners(herd_dir: Path) -> list[Scanner]:
    return [
        Scanner("herd", "herd `svscan`", str(herd_dir / "svscan")),
        Scanner("runit", "runit `runsvdir`", "/usr/bin/runsvdir"),
        Scanner("daemontools", "daemontools `svscan`", "/usr/bin/svscan"),
        Scanner("s6", "s6 `s6-svscan`", "/usr/bin/s6-svscan"),
    ]


def make_loggers(herd_dir: Path) -> list[Logger]:
    script = ("t", f"s{LOG_FILE_SIZE}", f"n{LOG_KEEP}", "{dir}")
    return [
        Logger("herd", "herd", "herd `svlog -tt`", str(herd_dir / "svlog"), ("-tt", "{dir}"), True),
        Logger("runit", "runit", "runit `svlogd -tt`", "/usr/bin/svlogd", ("-tt", "{dir}"), True),
        Logger("daemontools", "daemontools", "daemontools `multilog t`", "/usr/bin/multilog", script, False),
        Logger("s6", "s6", "s6 `s6-log t`", "/usr/bin/s6-log", script, False),
        Logger("s6-b", "s6", "s6 `s6-log -b t`", "/usr/bin/s6-log", ("-b", *script), False),
    ]


@dataclass
class Config:
    quick: bool
    mem_trials: int
    many_trials: int
    wakeup_window_s: float
    restart_trials: int
    restart_per_trial: int
    crash_trials: int
    crash_per_trial: int
    control_trials: int
    control_per_trial: int
    overhead_calls: int
    sv_trials: int
    sv_status_per_trial: int
    pickup_trials: int
    pickup_untriggered_trials: int  # s6 without `s6-svscanctl -a`: each one waits out the bound
    pickup_cap_s: float
    start_trials: int
    stop_trials: int
    scan_window_s: float
    scan_mem_trials: int
    zombie_trials: int
    log_trials: int
    log_bytes: int  # per throughput run, a multiple of LOG_LINE
    log_window_s: float
    writer_trials: int
    myinit_trials: int = 5  # each of: 4 stop variants, the main command, the namespace baseline


FULL = Config(quick=False, mem_trials=10, many_trials=3, wakeup_window_s=20.0, restart_trials=5,
              restart_per_trial=2, crash_trials=3, crash_per_trial=3, control_trials=5, control_per_trial=2,
              overhead_calls=100, sv_trials=10, sv_status_per_trial=3, pickup_trials=10,
              pickup_untriggered_trials=1, pickup_cap_s=240.0, start_trials=3, stop_trials=3,
              scan_window_s=20.0, scan_mem_trials=5, zombie_trials=3, log_trials=3, log_bytes=200_000_000,
              log_window_s=20.0, writer_trials=3, myinit_trials=5)
QUICK = Config(quick=True, mem_trials=2, many_trials=1, wakeup_window_s=3.0, restart_trials=2,
               restart_per_trial=1, crash_trials=1, crash_per_trial=3, control_trials=1, control_per_trial=2,
               overhead_calls=100, sv_trials=3, sv_status_per_trial=2, pickup_trials=2,
               pickup_untriggered_trials=1, pickup_cap_s=60.0, start_trials=1, stop_trials=1,
               scan_window_s=3.0, scan_mem_trials=1, zombie_trials=1, log_trials=2, log_bytes=20_000_000,
              log_window_s=3.0, writer_trials=2, myinit_trials=3)

SECTIONS = ("supervise", "sv", "scanners", "loggers", "myinit")


class TrialFailed(Exception):
    """A trial missed its deadline or a flavor misbehaved; becomes a note, not a crash."""


class Bounded(Exception):
    """What a trial waits for did not happen within its bound: a result (noted), not a harness fault."""


# ---------------------------------------------------------------------------------------------
# /proc helpers


def proc_children_map() -> dict[int, list[int]]:
    """ppid -> [pid] for every process, from /proc/*/stat."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


def descendants(pid: int, kids: dict[int, list[int]] | None = None) -> list[int]:
    kids = proc_children_map() if kids is None else kids
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def smaps_rollup(pid: int) -> dict[str, int]:
    """Rss, Pss and Private_Dirty in KiB, keyed "rss", "pss", "private_dirty"."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss", "Private_Dirty"):
                out[key.lower()] = int(rest.split()[0])
    return out


def ctx_switches(pid: int) -> int:
    total = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def pid_ns(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/pid")


def ns_zombies(ns: str) -> int:
    """Processes in state Z whose pid namespace is `ns`, from a scan of /proc."""
    n = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z" and pid_ns(int(name)) == ns:
                n += 1
        except OSError:
            continue
    return n


def read_stamps(path: Path) -> list[int]:
    try:
        return [int(x) for x in path.read_text().split()]
    except FileNotFoundError:
        return []


def distinct_lines(path: Path) -> int:
    try:
        return len(set(path.read_text().split()))
    except FileNotFoundError:
        return 0


def wait_until(what: str, deadline: float, cond) -> None:
    while not cond():
        if time.monotonic() > deadline:
            raise TrialFailed(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def wait_exit_ns(p: subprocess.Popen, timeout_s: float) -> int | None:
    """CLOCK_MONOTONIC (ns) when `p` exits, seen through a pidfd (no polling); None at the timeout."""
    try:
        fd = os.pidfd_open(p.pid)
    except ProcessLookupError:  # already reaped
        return time.monotonic_ns()
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(timeout_s * 1000):
            return None
        t = time.monotonic_ns()
    finally:
        os.close(fd)
    p.wait()
    return t


# ---------------------------------------------------------------------------------------------
# Processes


class Harness:
    """Scratch directories, the stamp helper, and every process started (for cleanup)."""

    def __init__(self, scratch: Path, disk: Path):
        self.scratch = scratch  # tmpfs
        self.disk = disk  # on disk
        self.stamp = scratch / "stamp"
        self.loggen = scratch / "loggen"
        self.live: dict[int, subprocess.Popen] = {}
        self.counter = 0

    def new_dir(self, tag: str, base: Path | None = None) -> Path:
        self.counter += 1
        d = (base or self.scratch) / f"{self.counter:04d}-{tag}"
        d.mkdir()
        return d

    def make_service(self, tag: str, run_argv: list[str], log: bool = False) -> Path:
        """A service dir whose `run` is the stamp helper; `{dir}` in run_argv is the dir."""
        d = self.new_dir(tag)
        write_stamped_run(d, self.stamp, [a.replace("{dir}", str(d)) for a in run_argv])
        if log:
            (d / "log").mkdir()
            write_stamped_run(d / "log", self.stamp, [str(d / "log" / "started"), "/bin/cat"])
        return d

    def add_service(self, scandir: Path, name: str, run_argv: list[str]) -> Path:
        d = scandir / name
        d.mkdir()
        write_stamped_run(d, self.stamp, run_argv)
        return d

    @staticmethod
    def add_script_service(scandir: Path, name: str, script: str) -> Path:
        d = scandir / name
        d.mkdir()
        run = d / "run"
        run.write_text(script)
        run.chmod(0o755)
        return d

    def spawn(self, argv: list[str], errlog: Path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
              env: dict | None = None):
        with open(errlog, "ab") as err:
            p = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=err, start_new_session=True,
                                 close_fds=True, env=env)
        self.live[p.pid] = p
        return p

    def stop(self, p: subprocess.Popen) -> None:
        self.stop_many([p])

    def stop_many(self, procs: list[subprocess.Popen]) -> None:
        """SIGSTOP the roots so that they cannot fork, SIGKILL them and all their descendants."""

        def each(pids, sig):
            for v in pids:
                try:
                    os.kill(v, sig)
                except ProcessLookupError:
                    pass

        roots = [p.pid for p in procs]
        each(roots, signal.SIGSTOP)
        kids = proc_children_map()
        victims = {v for r in roots for v in descendants(r, kids)}
        each(victims, signal.SIGSTOP)  # freeze the trees, then look again for anything forked meanwhile
        kids = proc_children_map()
        victims |= {v for r in roots for v in descendants(r, kids)}
        each([*roots, *sorted(victims)], signal.SIGKILL)
        for pid in roots:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                print(f"bench: warning: pid {p.pid} did not die", file=sys.stderr)
            self.live.pop(p.pid, None)
        self.reap_orphans()

    def reap_orphans(self, deadline_s: float = 2.0) -> None:
        """Kill and reap processes reparented to us (we are a subreaper) that we do not track."""
        me = os.getpid()
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            strays = [c for c in proc_children_map().get(me, []) if c not in self.live]
            if not strays:
                return
            for c in strays:
                try:
                    os.kill(c, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    os.waitpid(c, 0)
                except ChildProcessError:
                    pass
            time.sleep(0.01)

    def stop_all(self) -> None:
        self.stop_many(list(self.live.values()))


def write_stamped_run(d: Path, stamp: Path, argv: list[str]) -> None:
    (d / "stamp.argv").write_text("\n".join(argv) + "\n")
    os.symlink(stamp, d / "run")


def stderr_tail(errlog: Path) -> str:
    try:
        text = errlog.read_text(errors="replace").strip()
    except FileNotFoundError:
        return ""
    return f" (stderr: {text.splitlines()[-1][:200]})" if text else ""


class Supervised:
    """One supervisor on one service dir (plus, for daemontools/s6, optionally one on DIR/log)."""

    def __init__(self, h: Harness, flavor: Flavor, svdir: Path, separate_log: bool = False):
        self.h, self.flavor, self.dir = h, flavor, svdir
        self.errlog = svdir.parent / f"{svdir.name}.stderr"
        self.logger: subprocess.Popen | None = None
        self.pipe: tuple[int, int] | None = None
        if separate_log:
            # As svscan would: one pipe, held open by us, from the service to its logger.
            r, w = os.pipe()
            self.pipe = (r, w)
            self.proc = h.spawn([flavor.path, str(svdir)], self.errlog, stdout=w)
            self.logger = h.spawn([flavor.path, str(svdir / "log")], self.errlog, stdin=r)
        else:
            self.proc = h.spawn([flavor.path, str(svdir)], self.errlog)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        for p in (self.proc, self.logger):
            if p is not None and p.poll() is not None:
                raise TrialFailed(f"supervisor exited with {p.returncode}{self.stderr_tail()}")

    def stderr_tail(self) -> str:
        return stderr_tail(self.errlog)

    def stop(self) -> None:
        self.h.stop_many([p for p in (self.logger, self.proc) if p is not None])
        self.close_pipe()

    def close_pipe(self) -> None:
        if self.pipe:
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None

    def wait_stamps(self, path: Path, count: int, deadline: float, what: str) -> list[int]:
        def enough() -> bool:
            self.check_alive()
            return len(read_stamps(path)) >= count

        try:
            wait_until(what, deadline, enough)
        except TrialFailed as e:
            got = len(read_stamps(path))
            raise TrialFailed(f"{e} (got {got} of {count}){self.stderr_tail()}") from None
        return read_stamps(path)


class Scan:
    """One scanner on one scan dir: a plain process, or PID 1 of a new pid namespace."""

    def __init__(self, h: Harness, sc: Scanner, scandir: Path, pid1: bool = False):
        self.h, self.sc, self.dir, self.pid1 = h, sc, scandir, pid1
        self.errlog = scandir.parent / f"{scandir.name}.stderr"
        argv = sc.argv(scandir)
        if pid1:
            # --kill-child: should the harness die, the namespace goes with unshare.
            argv = [UNSHARE, "--pid", "--fork", "--mount-proc", "--kill-child", *argv]
        self.proc = h.spawn(argv, self.errlog, env=CLEAN_ENV)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise TrialFailed(f"{self.sc.key} scanner exited with {self.proc.returncode}"
                              f"{stderr_tail(self.errlog)}")

    def scanner_pid(self, deadline: float) -> int:
        """The scanner's host pid (for PID 1: the child unshare forked, which execs the scanner)."""
        if not self.pid1:
            return self.proc.pid
        found: list[int] = []

        def child() -> bool:
            self.check_alive()
            found[:] = proc_children_map().get(self.proc.pid, [])
            return bool(found)

        wait_until("unshare's child", deadline, child)
        return found[0]

    def supervisors(self) -> list[int]:
        return proc_children_map().get(self.scanner_pid(time.monotonic() + 1), [])

    def stop(self) -> None:
        self.h.stop(self.proc)


# ---------------------------------------------------------------------------------------------
# Statistics and bookkeeping


def median(xs):
    return statistics.median(xs) if xs else None


def p90(xs):
    """Nearest-rank 90th percentile."""
    if not xs:
        return None
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def section_of(metric: str) -> str:
    if metric.startswith("sv_"):
        return "sv"
    if metric.startswith("scan_"):
        return "scanners"
    if metric.startswith("log_"):
        return "loggers"
    if metric.startswith("myinit_"):
        return "myinit"
    return "supervise"


@dataclass
class Results:
    samples: dict[str, dict[str, list]] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    bounded: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def add(self, metric: str, flavor: str, value) -> None:
        self.samples.setdefault(metric, {}).setdefault(flavor, []).append(value)

    def fail(self, metric: str, flavor: str, trial: int, why: str) -> None:
        self.failures.append({"metric": metric, "flavor": flavor, "trial": trial, "why": why})
        print(f"bench: {flavor}: {metric} trial {trial}: {why}", file=sys.stderr)

    def bound(self, metric: str, flavor: str, trial: int, bound_s: float, what: str) -> None:
        self.bounded.append({"metric": metric, "flavor": flavor, "trial": trial, "bound_s": bound_s,
                             "what": what})
        print(f"bench: {flavor}: {metric} trial {trial}: not within {bound_s:g} s: {what}", file=sys.stderr)

    def get(self, metric: str, flavor: str) -> list:
        return self.samples.get(metric, {}).get(flavor, [])

    def bounded_for(self, metric: str, flavor: str) -> list[dict]:
        return [b for b in self.bounded if b["metric"] == metric and b["flavor"] == flavor]


def rotated(xs: list, i: int) -> list:
    k = i % len(xs) if xs else 0
    return xs[k:] + xs[:k]


def trial(res: Results, metric: str, flavor, i: int, body) -> None:
    """Runs one trial; a TrialFailed (or an OSError from a dead flavor) becomes a note."""
    try:
        body()
    except (TrialFailed, OSError, subprocess.SubprocessError) as e:
        res.fail(metric, flavor.key, i, str(e))


# ---------------------------------------------------------------------------------------------
# supervise scenarios


def idle_run_argv() -> list[str]:
    return ["{dir}/started", "/bin/sleep", "100000"]


def bench_memory(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    """One supervisor at a time, so that no two instances of a binary share (and split) pages.

    Setups: "log" (a service with log/; daemontools and s6 ignore log/ and run alone), "nolog",
    and for daemontools and s6 "pair": a second supervisor on DIR/log, the two summed.
    """
    print(f"bench: memory, {cfg.mem_trials} trials", file=sys.stderr)
    for i in range(cfg.mem_trials):
        for fl in rotated(flavors, i):
            setups = ["log", "nolog"] + ([] if fl.supervises_log else ["pair"])
            for setup in setups:

                def body(fl=fl, setup=setup):
                    d = h.make_service(f"mem-{setup}-{fl.key}", idle_run_argv(), log=setup != "nolog")
                    s = Supervised(h, fl, d, separate_log=setup == "pair")
                    try:
                        deadline = time.monotonic() + 5
                        s.wait_stamps(d / "started", 1, deadline, "run to start")
                        if fl.supervises_log and setup == "log" or setup == "pair":
                            s.wait_stamps(d / "log" / "started", 1, deadline, "log/run to start")
                        time.sleep(SETTLE_S)
                        s.check_alive()
                        m = smaps_rollup(s.pid)
                        if setup == "pair":
                            res.add("pss_pair", fl.key, m["pss"] + smaps_rollup(s.logger.pid)["pss"])
                            return
                        res.add(f"rss_{setup}", fl.key, m["rss"])
                        res.add(f"pss_{setup}", fl.key, m["pss"])
                        res.add(f"dirty_{setup}", fl.key, m["private_dirty"])
                        if setup == "log" and fl.supervises_log:
                            res.add("pss_pair", fl.key, m["pss"])
                    finally:
                        s.stop()

                trial(res, f"memory_{setup}", fl, i, body)


def bench_memory_many(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    """N supervisors of one flavor (no log) at once: mean PSS and private dirty per instance."""
    print(f"bench: memory, {' and '.join(map(str, MANY_SIZES))} at once, {cfg.many_trials} trials",
          file=sys.stderr)
    for i in range(cfg.many_trials):
        for n in MANY_SIZES:
            for fl in rotated(flavors, i):

                def body(fl=fl, n=n):
                    group: list[Supervised] = []
                    try:
                        for _ in range(n):
                            d = h.make_service(f"many{n}-{fl.key}", idle_run_argv())
                            group.append(Supervised(h, fl, d))
                        deadline = time.monotonic() + 10 + n / 10
                        for s in group:
                            s.wait_stamps(s.dir / "started", 1, deadline, "run to start")
                        time.sleep(SETTLE_S)
                        for s in group:
                            s.check_alive()
                        m = [smaps_rollup(s.pid) for s in group]
                        res.add(f"pss_many_{n}", fl.key, statistics.mean(x["pss"] for x in m))
                        res.add(f"dirty_many_{n}", fl.key, statistics.mean(x["private_dirty"] for x in m))
                    finally:
                        h.stop_many([s.proc for s in group])

                trial(res, f"memory_many_{n}", fl, i, body)


def bench_wakeups(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    """All supervisors (with a logger) idle side by side through one shared window."""
    window = cfg.wakeup_window_s
    print(f"bench: idle wakeups, one {window:g} s window", file=sys.stderr)
    running: list[tuple[Flavor, Supervised]] = []
    try:
        for fl in flavors:
            d = h.make_service(f"wake-{fl.key}", idle_run_argv(), log=True)
            running.append((fl, Supervised(h, fl, d, separate_log=not fl.supervises_log)))
        ready: list[tuple[Flavor, Supervised]] = []
        deadline = time.monotonic() + 5
        for fl, s in running:
            try:
                s.wait_stamps(s.dir / "started", 1, deadline, "run to start")
                s.wait_stamps(s.dir / "log" / "started", 1, deadline, "log/run to start")
                ready.append((fl, s))
            except TrialFailed as e:
                res.fail("wakeups", fl.key, 0, str(e))
        time.sleep(WAKEUP_SETTLE_S)  # let one-off start-up work finish
        before = {}
        for fl, s in ready:
            before[fl.key] = ctx_switches(s.pid)
        t0 = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - t0
        for fl, s in ready:
            try:
                s.check_alive()
                n = ctx_switches(s.pid) - before[fl.key]
                res.add("wakeups", fl.key, n * REPORT_WINDOW_S / elapsed)
                res.add("wakeups_raw", fl.key, {"switches": n, "window_s": round(elapsed, 3)})
            except (TrialFailed, OSError) as e:
                res.fail("wakeups", fl.key, 0, str(e))
    finally:
        h.stop_many([p for _, s in running for p in (s.logger, s.proc) if p is not None])
        for _, s in running:
            s.close_pipe()


def bench_restart(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    k = cfg.restart_per_trial
    print(f"bench: restart after a {RUN_LIFE_S} s run, {cfg.restart_trials}x{k}", file=sys.stderr)
    for i in range(cfg.restart_trials):
        for fl in rotated(flavors, i):

            def body(fl=fl):
                run = ["{dir}/starts", "/bin/sh", "-c", f"sleep {RUN_LIFE_S}; exec {h.stamp} {{dir}}/exits"]
                d = h.make_service(f"restart-{fl.key}", run)
                s = Supervised(h, fl, d)
                try:
                    deadline = time.monotonic() + 3 + (k + 1) * (RUN_LIFE_S + 2)
                    starts = s.wait_stamps(d / "starts", k + 1, deadline, f"{k + 1} starts")
                    exits = read_stamps(d / "exits")
                    for j in range(k):
                        if j >= len(exits) or not exits[j] <= starts[j + 1]:
                            raise TrialFailed(f"stamps out of order: starts={starts} exits={exits}")
                        res.add("restart_ms", fl.key, (starts[j + 1] - exits[j]) / 1e6)
                finally:
                    s.stop()

            trial(res, "restart_ms", fl, i, body)


def bench_crash_loop(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    k = cfg.crash_per_trial
    print(f"bench: crash-loop interval, {cfg.crash_trials}x{k}", file=sys.stderr)
    for i in range(cfg.crash_trials):
        for fl in rotated(flavors, i):

            def body(fl=fl):
                d = h.make_service(f"crash-{fl.key}", ["{dir}/starts"])
                s = Supervised(h, fl, d)
                try:
                    deadline = time.monotonic() + 3 + (k + 1) * 2.5
                    starts = s.wait_stamps(d / "starts", k + 1, deadline, f"{k + 1} starts")
                    for j in range(k):
                        res.add("crash_ms", fl.key, (starts[j + 1] - starts[j]) / 1e6)
                finally:
                    s.stop()

            trial(res, "crash_ms", fl, i, body)


def write_control(d: Path, letters: bytes) -> None:
    # O_NONBLOCK: ENXIO (no reader) instead of blocking if the supervisor is gone.
    fd = os.open(d / "supervise" / "control", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, letters)
    finally:
        os.close(fd)


def send_restart(fl: Flavor, d: Path) -> None:
    if fl.control == "s6-svc":
        subprocess.run([S6_SVC, "-r", str(d)], check=True, timeout=5,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    else:
        write_control(d, b"t")


def wait_throttle_clear(starts: list[int]) -> None:
    left = starts[-1] / 1e9 + THROTTLE_CLEAR_S - time.monotonic()
    if left > 0:
        time.sleep(left)


def bench_control(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    k = cfg.control_per_trial
    print(f"bench: control restart, {cfg.control_trials}x{k}", file=sys.stderr)
    for i in range(cfg.control_trials):
        for fl in rotated(flavors, i):

            def body(fl=fl):
                d = h.make_service(f"control-{fl.key}", ["{dir}/starts", "/bin/sleep", "100000"])
                s = Supervised(h, fl, d)
                try:
                    starts = s.wait_stamps(d / "starts", 1, time.monotonic() + 5, "first start")
                    wait_until("supervise/control", time.monotonic() + 5,
                               lambda: (d / "supervise" / "control").exists())
                    for j in range(k):
                        wait_throttle_clear(starts)
                        t0 = time.monotonic_ns()
                        send_restart(fl, d)
                        starts = s.wait_stamps(d / "starts", j + 2, time.monotonic() + 5, "restart")
                        res.add("control_ms", fl.key, (starts[j + 1] - t0) / 1e6)
                finally:
                    s.stop()

            trial(res, "control_ms", fl, i, body)


def bench_overhead(h: Harness, cfg: Config, res: Results) -> None:
    """Per call: posix_spawn + exit + waitpid of the stamp helper, and spawn → stamp written; and
    subprocess.run with captured output, as the sv scenario runs its clients."""
    f = h.scratch / "overhead-stamps"
    walls, to_stamp, runs = [], [], []
    for _ in range(cfg.overhead_calls):
        t0 = time.monotonic_ns()
        pid = os.posix_spawn(str(h.stamp), [str(h.stamp), str(f)], {})
        os.waitpid(pid, 0)
        walls.append((time.monotonic_ns() - t0) / 1e6)
        to_stamp.append((read_stamps(f)[-1] - t0) / 1e6)
    for _ in range(cfg.overhead_calls):
        t0 = time.monotonic_ns()
        subprocess.run([str(h.stamp), str(f)], timeout=5, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=CLEAN_ENV)
        runs.append((time.monotonic_ns() - t0) / 1e6)
    res.samples["overhead_spawn_wait_ms"] = {"harness": walls}
    res.samples["overhead_spawn_to_stamp_ms"] = {"harness": to_stamp}
    res.samples["overhead_run_capture_ms"] = {"harness": runs}
    res.samples["overhead_inotify_close_ms"] = {"harness": inotify_close_ms(h.scratch, 30)}


def inotify_close_ms(d: Path, n: int) -> list[float]:
    """close(2) of an inotify fd after inotify_rm_watch, as herd's sv does before it exits (50 ms
    apart): the kernel may wait for an SRCU grace period when it tears down a group that had marks."""
    libc = ctypes.CDLL(None, use_errno=True)
    in_close_write, in_close_nowrite, in_moved_to = 0x8, 0x10, 0x80
    out = []
    for _ in range(n):
        time.sleep(0.05)
        fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            return out
        wd = libc.inotify_add_watch(fd, str(d).encode(), in_close_write | in_close_nowrite | in_moved_to)
        libc.inotify_rm_watch(fd, wd)
        t0 = time.monotonic_ns()
        os.close(fd)
        out.append((time.monotonic_ns() - t0) / 1e6)
    return out


# ---------------------------------------------------------------------------------------------
# sv scenario


def status_down(d: Path) -> bool:
    """runit's 20-byte supervise/status: pid (bytes 12–15, little-endian) 0 and state (byte 19) down."""
    try:
        b = (d / "supervise" / "status").read_bytes()
    except FileNotFoundError:
        return False
    return len(b) >= 20 and int.from_bytes(b[12:16], "little") == 0 and b[19] == 0


def run_client(client: str, args: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic_ns()
    out = subprocess.run([client, *args], timeout=SV_WAIT + 5, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, env=CLEAN_ENV)
    return out, t0


def bench_sv(h: Harness, cfg: Config, flavors: list[Flavor], herd_sv: str | None, res: Results) -> None:
    """herd's and runit's `sv` against the same supervisors: one service per (client, supervisor)."""
    clients = ([("herd", herd_sv)] if herd_sv else []) + ([("runit", SV)] if os.access(SV, os.X_OK) else [])
    combos = [SvCombo(f"{ck}-sv:{fl.key}", f"{ck} `sv` → {fl.label}", cp, fl)
              for fl in flavors if fl.runit_sv for ck, cp in clients]
    res.extra["sv_combos"] = {c.key: c.label for c in combos}
    if not combos:
        res.extra["sv_skipped"] = "no sv client or no runit-compatible supervisor"
        return
    print(f"bench: sv restart/start/status, {cfg.sv_trials} trials x {len(combos)} client/supervisor pairs",
          file=sys.stderr)
    svc: dict[str, tuple[Supervised, Path]] = {}
    try:
        for c in combos:
            d = h.make_service(f"sv-{c.key.replace(':', '-')}", ["{dir}/starts", "/bin/sleep", "100000"])
            svc[c.key] = (Supervised(h, c.sup, d), d)
        for c in combos:
            s, d = svc[c.key]
            trial(res, "sv_setup", c, 0, lambda s=s, d=d: (
                s.wait_stamps(d / "starts", 1, time.monotonic() + 5, "first start"),
                wait_until("supervise/ok", time.monotonic() + 5, lambda: (d / "supervise" / "ok").exists())))

        def restart(c: SvCombo):
            s, d = svc[c.key]
            starts = read_stamps(d / "starts")
            wait_throttle_clear(starts)  # up > 1 s: no throttle, and sv's 1 s status resolution is past
            out, t0 = run_client(c.client, ["-w", str(SV_WAIT), "restart", str(d)])
            t1 = time.monotonic_ns()
            if out.returncode != 0:
                raise TrialFailed(f"sv restart exited {out.returncode}: {out.stdout.strip()} {out.stderr.strip()}")
            new = s.wait_stamps(d / "starts", len(starts) + 1, time.monotonic() + 2, "the restart")
            res.add("sv_restart_ms", c.key, (t1 - t0) / 1e6)
            res.add("sv_restart_run_ms", c.key, (new[len(starts)] - t0) / 1e6)
            res.extra.setdefault("sv_output", {})[f"{c.key} restart"] = out.stdout.strip()

        def start(c: SvCombo):
            s, d = svc[c.key]
            starts = read_stamps(d / "starts")
            wait_throttle_clear(starts)  # runsv sleeps 1 s after a run that lived < 1 s
            write_control(d, b"d")
            wait_until("the service to be down", time.monotonic() + 5,
                       lambda: s.check_alive() or status_down(d))
            out, t0 = run_client(c.client, ["start", str(d)])
            t1 = time.monotonic_ns()
            if out.returncode != 0:
                raise TrialFailed(f"sv start exited {out.returncode}: {out.stdout.strip()} {out.stderr.strip()}")
            new = s.wait_stamps(d / "starts", len(starts) + 1, time.monotonic() + 2, "the start")
            res.add("sv_start_ms", c.key, (t1 - t0) / 1e6)
            res.add("sv_start_run_ms", c.key, (new[len(starts)] - t0) / 1e6)
            res.extra.setdefault("sv_output", {})[f"{c.key} start"] = out.stdout.strip()

        def status(c: SvCombo):
            _, d = svc[c.key]
            for _ in range(cfg.sv_status_per_trial):
                out, t0 = run_client(c.client, ["status", str(d)])
                t1 = time.monotonic_ns()
                if out.returncode != 0 or not out.stdout.startswith("run: "):
                    raise TrialFailed(f"sv status exited {out.returncode}: {out.stdout.strip()} "
                                      f"{out.stderr.strip()}")
                res.add("sv_status_ms", c.key, (t1 - t0) / 1e6)
            res.extra.setdefault("sv_output", {})[f"{c.key} status"] = out.stdout.strip()

        for i in range(cfg.sv_trials):
            order = rotated(combos, i)
            for op, metric in ((restart, "sv_restart_ms"), (start, "sv_start_ms"), (status, "sv_status_ms")):
                for c in order:
                    trial(res, metric, c, i, lambda op=op, c=c: op(c))
    finally:
        h.stop_many([s.proc for s, _ in svc.values()])


# ---------------------------------------------------------------------------------------------
# scanner scenarios


def scan_services(h: Harness, scandir: Path, n: int, stamps: Path) -> None:
    """n idle services whose runs all append their start stamp to one file."""
    for j in range(n):
        h.add_service(scandir, f"s{j:03d}", [str(stamps), "/bin/sleep", "100000"])


def bench_scan_pickup(h: Harness, cfg: Config, scanners: list[Scanner], res: Results) -> None:
    """A complete service dir renamed into a running scanner's (empty) dir → its run stamps."""
    print(f"bench: scanner pickup, {cfg.pickup_trials} trials (each bounded at {PICKUP_BOUND_S:g} s)",
          file=sys.stderr)
    prep = h.new_dir("pickup-prep")
    stamps = h.new_dir("pickup-stamps")
    running: dict[str, Scan] = {}
    last: dict[str, float] = {}
    try:
        for sc in scanners:
            running[sc.key] = Scan(h, sc, h.new_dir(f"pickup-{sc.key}"))
            last[sc.key] = time.monotonic()

        def pickup(sc: Scanner, i: int, trigger: bool, metric: str) -> None:
            scan = running[sc.key]
            idle = last[sc.key] + PICKUP_IDLE_S - time.monotonic()
            if idle > 0:
                time.sleep(idle)
            name = f"p{i:03d}" + ("a" if trigger else "n")
            src, stampf = prep / f"{sc.key}-{name}", stamps / f"{sc.key}-{name}"
            src.mkdir()
            write_stamped_run(src, h.stamp, [str(stampf), "/bin/sleep", "100000"])
            scan.check_alive()
            t0 = time.monotonic_ns()
            os.rename(src, scan.dir / name)
            if trigger:
                subprocess.run([S6_SVSCANCTL, "-a", str(scan.dir)], check=True, timeout=5,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                wait_until("run to start", time.monotonic() + PICKUP_BOUND_S,
                           lambda: scan.check_alive() or read_stamps(stampf))
            except TrialFailed:
                scan.check_alive()
                res.bound(metric, sc.key, i, PICKUP_BOUND_S, "the new service's run never started")
                if not trigger:
                    shutil.rmtree(scan.dir / name)  # so that a later `s6-svscanctl -a` does not start it
                return
            finally:
                last[sc.key] = time.monotonic()
            res.add(metric, sc.key, (read_stamps(stampf)[0] - t0) / 1e6)

        s6 = next((sc for sc in scanners if sc.key == "s6"), None)
        for i in range(cfg.pickup_untriggered_trials if s6 else 0):
            trial(res, "scan_pickup_ms", s6, i, lambda i=i: pickup(s6, i, False, "scan_pickup_ms"))
        cap = time.monotonic() + cfg.pickup_cap_s
        for i in range(cfg.pickup_trials):
            if time.monotonic() > cap:
                res.extra["scan_pickup_capped"] = (f"stopped after {i} of {cfg.pickup_trials} trials: the "
                                                   f"{cfg.pickup_cap_s:g} s cap on this scenario passed")
                print(f"bench: pickup: {res.extra['scan_pickup_capped']}", file=sys.stderr)
                break
            for sc in rotated(scanners, i):
                metric = "scan_pickup_a_ms" if sc.key == "s6" else "scan_pickup_ms"
                trial(res, metric, sc, i, lambda sc=sc, i=i, m=metric: pickup(sc, i, sc.key == "s6", m))
    finally:
        h.stop_many([s.proc for s in running.values()])


def bench_scan_start(h: Harness, cfg: Config, scanners: list[Scanner], res: Results) -> None:
    print(f"bench: scanner start of {' and '.join(map(str, START_SIZES))} services, {cfg.start_trials} trials",
          file=sys.stderr)
    for i in range(cfg.start_trials):
        for n in START_SIZES:
            for sc in rotated(scanners, i):
                metric = f"scan_start{n}_ms"

                def body(sc=sc, n=n, metric=metric):
                    d = h.new_dir(f"start{n}-{sc.key}")
                    stampf = d.parent / f"{d.name}.stamps"
                    scan_services(h, d, n, stampf)
                    t0 = time.monotonic_ns()
                    scan = Scan(h, sc, d)
                    try:
                        try:
                            wait_until(f"{n} runs to start", time.monotonic() + START_BOUND_S,
                                       lambda: scan.check_alive() or len(read_stamps(stampf)) >= n)
                        except TrialFailed:
                            scan.check_alive()
                            res.bound(metric, sc.key, i, START_BOUND_S,
                                      f"{len(read_stamps(stampf))} of {n} runs started{stderr_tail(scan.errlog)}")
                            return
                        res.add(metric, sc.key, (max(read_stamps(stampf)) - t0) / 1e6)
                    finally:
                        scan.stop()
                        shutil.rmtree(d, ignore_errors=True)

                trial(res, metric, sc, i, body)


def stop_script(name: str, startf: Path, termf: Path, stubborn: bool) -> str:
    """A run that logs a clean exit on TERM at once (`wait` returns on a trapped signal), or ignores it."""
    trap = "trap '' TERM" if stubborn else f"trap 'echo {name} >> {termf}; exit 0' TERM"
    return f"#!/bin/sh\n{trap}\necho {name} >> {startf}\nwhile :; do sleep 1 & wait; done\n"


def bench_scan_stop(h: Harness, cfg: Config, scanners: list[Scanner], res: Results) -> None:
    """The scanner as PID 1 of a new pid namespace with 50 services; SIGTERM → unshare exits."""
    print(f"bench: scanner shutdown as PID 1, {cfg.stop_trials} trials (each bounded at {STOP_BOUND_S:g} s)",
          file=sys.stderr)
    skip: set[tuple[str, str]] = set()
    for i in range(cfg.stop_trials):
        for variant, prefix in (("clean", "scan_stop"), ("stubborn", "scan_stopx")):
            for sc in rotated(scanners, i):
                if (prefix, sc.key) in skip:
                    continue

                def body(sc=sc, variant=variant, prefix=prefix):
                    d = h.new_dir(f"stop-{variant}-{sc.key}")
                    logs = h.new_dir(f"stop-{variant}-{sc.key}", base=h.disk)
                    startf, termf = logs / "started", logs / "term"
                    for j in range(STOP_SERVICES):
                        name = f"s{j:02d}"
                        h.add_script_service(d, name, stop_script(name, startf, termf, variant == "stubborn" and j == 0))
                    scan = Scan(h, sc, d, pid1=True)
                    try:
                        deadline = time.monotonic() + 15
                        init = scan.scanner_pid(deadline)
                        wait_until(f"{STOP_SERVICES} services to start", deadline,
                                   lambda: scan.check_alive() or distinct_lines(startf) >= STOP_SERVICES)
                        time.sleep(STOP_SETTLE_S)
                        scan.check_alive()
                        t0 = time.monotonic_ns()
                        os.kill(init, signal.SIGTERM)
                        t1 = wait_exit_ns(scan.proc, STOP_BOUND_S)
                        if t1 is None:
                            res.bound(f"{prefix}_ms", sc.key, i, STOP_BOUND_S,
                                      f"PID 1 still running {STOP_BOUND_S:g} s after SIGTERM "
                                      f"({distinct_lines(termf)} clean TERMs logged by then); namespace SIGKILLed")
                            skip.add((prefix, sc.key))
                            os.kill(init, signal.SIGKILL)  # the kernel kills the rest of the namespace
                            if wait_exit_ns(scan.proc, 5) is None:
                                raise TrialFailed("the namespace did not go away after SIGKILL to its init")
                            res.add(f"{prefix}_clean", sc.key, distinct_lines(termf))
                            res.add(f"{prefix}_rc", sc.key, f"SIGKILLed after {STOP_BOUND_S:g} s")
                            return
                        res.add(f"{prefix}_ms", sc.key, (t1 - t0) / 1e6)
                        res.add(f"{prefix}_clean", sc.key, distinct_lines(termf))
                        rc = scan.proc.returncode
                        res.add(f"{prefix}_rc", sc.key, rc if rc >= 0 else f"signal {-rc}")
                    finally:
                        scan.stop()
                        shutil.rmtree(d, ignore_errors=True)

                trial(res, f"{prefix}_ms", sc, i, body)
    res.extra["scan_stop_single_trial"] = sorted(f"{k} ({p})" for p, k in skip)


def bench_scan_wakeups(h: Harness, cfg: Config, scanners: list[Scanner], res: Results) -> None:
    """All scanners, each with 10 idle services, side by side through one shared window."""
    window = cfg.scan_window_s
    print(f"bench: scanner idle wakeups, one {window:g} s window", file=sys.stderr)
    running: list[tuple[Scanner, Scan, Path]] = []
    try:
        for sc in scanners:
            d = h.new_dir(f"scanwake-{sc.key}")
            stampf = d.parent / f"{d.name}.stamps"
            scan_services(h, d, SCAN_SERVICES, stampf)
            running.append((sc, Scan(h, sc, d), stampf))
        ready = []
        deadline = time.monotonic() + 10
        for sc, scan, stampf in running:
            try:
                wait_until("runs to start", deadline,
                           lambda: scan.check_alive() or len(read_stamps(stampf)) >= SCAN_SERVICES)
                ready.append((sc, scan))
            except TrialFailed as e:
                res.fail("scan_wakeups_min", sc.key, 0, str(e))
        time.sleep(WAKEUP_SETTLE_S)
        before = {}
        for sc, scan in ready:
            pids = [scan.proc.pid, *scan.supervisors()]
            before[sc.key] = (pids, {p: ctx_switches(p) for p in pids})
        t0 = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - t0
        for sc, scan in ready:
            try:
                scan.check_alive()
                pids, ctx0 = before[sc.key]
                now = set(scan.supervisors())
                if now != set(pids[1:]):
                    res.fail("scan_wakeups_min", sc.key, 0, "its supervisors changed during the window")
                    continue
                per = {p: ctx_switches(p) - ctx0[p] for p in pids}
                total = sum(per.values())
                res.add("scan_wakeups_min", sc.key, total * 60 / elapsed)
                res.add("scan_wakeups_self_min", sc.key, per[pids[0]] * 60 / elapsed)
                res.add("scan_wakeups_raw", sc.key, {"scanner": per[pids[0]], "all": total,
                                                     "supervisors": len(pids) - 1, "window_s": round(elapsed, 3)})
            except (TrialFailed, OSError) as e:
                res.fail("scan_wakeups_min", sc.key, 0, str(e))
    finally:
        h.stop_many([scan.proc for _, scan, _ in running])


def bench_scan_memory(h: Harness, cfg: Config, scanners: list[Scanner], res: Results) -> None:
    """One scanner at a time with 10 services; smaps_rollup of the scanner process only."""
    print(f"bench: scanner memory, {cfg.scan_mem_trials} trials", file=sys.stderr)
    for i in range(cfg.scan_mem_trials):
        for sc in rotated(scanners, i):

            def body(sc=sc):
                d = h.new_dir(f"scanmem-{sc.key}")
                stampf = d.parent / f"{d.name}.stamps"
                scan_services(h, d, SCAN_SERVICES, stampf)
                scan = Scan(h, sc, d)
                try:
                    wait_until("runs to start", time.monotonic() + 10,
                               lambda: scan.check_alive() or len(read_stamps(stampf)) >= SCAN_SERVICES)
                    time.sleep(SETTLE_S)
                    scan.check_alive()
                    m = smaps_rollup(scan.proc.pid)
                    res.add("scan_rss", sc.key, m["rss"])
                    res.add("scan_pss", sc.key, m["pss"])
                    res.add("scan_dirty", sc.key, m["private_dirty"])
                finally:
                    scan.stop()

            trial(res, "scan_memory", sc, i, body)


def orphans_script(donef: Path, stamp: Path) -> str:
    # `( : & )`: the subshell exits at once, so its background child ends up a child of PID 1.
    return (f"#!/bin/sh\ni=0\nwhile [ $i -lt {ORPHANS} ]; do ( : & ); i=$((i+1)); done\n"
            f"{stamp} {donef}\nexec /bin/sleep 100000\n")


def bench_scan_zombies(h: Harness, cfg: Config, scanners: list[Scanner], res: Results) -> None:
    print(f"bench: scanner zombie reaping as PID 1, {cfg.zombie_trials} trials", file=sys.stderr)
    for i in range(cfg.zombie_trials):
        for sc in rotated(scanners, i):

            def body(sc=sc):
                d = h.new_dir(f"zombies-{sc.key}")
                donef = d.parent / f"{d.name}.done"
                h.add_script_service(d, "orphans", orphans_script(donef, h.stamp))
                scan = Scan(h, sc, d, pid1=True)
                try:
                    deadline = time.monotonic() + 20
                    ns = pid_ns(scan.scanner_pid(deadline))
                    wait_until(f"{ORPHANS} orphans to be made", deadline,
                               lambda: scan.check_alive() or read_stamps(donef))
                    t_done = read_stamps(donef)[0]
                    t_check, t_bound = t_done + int(ZOMBIE_CHECK_S * 1e9), t_done + int(ZOMBIE_BOUND_S * 1e9)
                    gone = at_check = None
                    peak = slowest = 0
                    left = 0
                    while True:
                        ts = time.monotonic_ns()
                        left = ns_zombies(ns)
                        te = time.monotonic_ns()
                        slowest, peak = max(slowest, te - ts), max(peak, left)
                        if left == 0 and gone is None:
                            gone = te  # an upper bound: none was left when this scan ended
                        if at_check is None and ts >= t_check:
                            at_check = left
                        if at_check is not None and (gone is not None or te > t_bound):
                            break
                        if gone is not None:
                            time.sleep(max(0.0, (t_check - time.monotonic_ns()) / 1e9))
                        else:
                            time.sleep(ZOMBIE_POLL_S)
                    scan.check_alive()
                    res.add("scan_zombies_2s", sc.key, at_check)
                    res.add("scan_zombies_peak", sc.key, peak)
                    res.add("scan_zombies_scan_ms", sc.key, slowest / 1e6)
                    if gone is None:
                        res.bound("scan_zombies_gone_ms", sc.key, i, ZOMBIE_BOUND_S,
                                  f"{left} zombies still there {ZOMBIE_BOUND_S:g} s after the last orphan was made")
                    else:
                        res.add("scan_zombies_gone_ms", sc.key, (gone - t_done) / 1e6)
                finally:
                    scan.stop()
                    shutil.rmtree(d, ignore_errors=True)

            trial(res, "scan_zombies_gone_ms", sc, i, body)


# ---------------------------------------------------------------------------------------------
# logger scenarios

LOG_FILLER = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"
LOG_DIGITS = 10
LOG_TS = 25  # `@` + 24 hex digits (TAI64N), or svlogd -tt's `YYYY-MM-DD_HH:MM:SS.xxxxx`; then a space
IN_CREATE, IN_MOVED_TO = 0x100, 0x80


def log_line(k: int) -> bytes:
    """Line k as bench/loggen.c writes it."""
    return b"%010d-" % k + LOG_FILLER + b"\n"


class RotatedLinker:
    """Hard-links each rotated file (`@….s`) into a side directory as soon as it appears (inotify),
    so that the logger's deletion of old files (n5) frees nothing the check needs."""

    def __init__(self, logdir: Path, side: Path):
        self.logdir, self.side = logdir, side
        self.inodes: set[int] = set()
        self.missed: list[str] = []  # gone before the harness could link it
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(self.fd, str(logdir).encode(), IN_CREATE | IN_MOVED_TO) < 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, f"inotify_add_watch {logdir}")

    def drain(self) -> None:
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            off = 0
            while off + 16 <= len(buf):
                nlen = int.from_bytes(buf[off + 12 : off + 16], "little")
                name = buf[off + 16 : off + 16 + nlen].rstrip(b"\0").decode(errors="replace")
                off += 16 + nlen
                self.link(name)

    def link(self, name: str) -> None:
        if not (name.startswith("@") and name.endswith(".s")) or (self.side / name).exists():
            return
        try:
            ino = os.stat(self.logdir / name).st_ino
            if ino in self.inodes:
                return
            os.link(self.logdir / name, self.side / name)
            self.inodes.add(ino)
        except FileNotFoundError:
            self.missed.append(name)

    def sweep(self) -> None:
        self.drain()
        for name in sorted(os.listdir(self.logdir)):
            self.link(name)

    def close(self) -> None:
        os.close(self.fd)


def check_log(files: list[Path], n: int) -> dict:
    """Streams the files (rotated ones in name order, then `current`) and compares the lines, with
    the timestamp prefix stripped, with loggen's lines 0..n-1."""
    counts = bytearray(n)
    tail = b"-" + LOG_FILLER + b"\n"
    length = LOG_TS + 1 + LOG_LINE
    a, b = LOG_TS + 1, LOG_TS + 1 + LOG_DIGITS
    valid = malformed = breaks = 0
    prev = -1
    largest = 0
    for f in files:
        try:
            largest = max(largest, f.stat().st_size)
            fh = open(f, "rb", buffering=1 << 20)
        except FileNotFoundError:
            continue
        with fh:
            for line in fh:
                if len(line) != length or line[LOG_TS] != 32 or line[b:] != tail or not line[a:b].isdigit():
                    malformed += 1
                    continue
                k = int(line[a:b])
                if k >= n:
                    malformed += 1
                    continue
                if counts[k] < 255:
                    counts[k] += 1
                if k != prev + 1:
                    breaks += 1
                prev = k
                valid += 1
    lost = counts.count(0)
    return {"lines": valid, "lost": lost, "duplicated": valid - (n - lost), "malformed": malformed,
            "breaks": breaks, "largest_file": largest}


def reap_rusage(h: Harness, p: subprocess.Popen, timeout_s: float):
    """Waits (pidfd, bounded) for `p` and reaps it with wait4: (exit code, rusage), or None."""
    if wait_pidfd(p.pid, timeout_s) is None:
        return None
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    h.live.pop(p.pid, None)
    return p.returncode, ru


def wait_pidfd(pid: int, timeout_s: float, also=None) -> int | None:
    """CLOCK_MONOTONIC (ns) when `pid` exits (it stays unreaped), or None at the timeout; `also` is
    an optional (fd, callback) polled meanwhile."""
    fd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if also:
            poller.register(also[0], select.POLLIN)
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            events = poller.poll(left * 1000)
            t = time.monotonic_ns()
            if any(e[0] == fd for e in events):
                return t
            if also and events:
                also[1]()
    finally:
        os.close(fd)


def ru_cpu(ru) -> tuple[float, float]:
    return ru.ru_utime, ru.ru_stime


def bench_log_writer(h: Harness, cfg: Config, res: Results) -> None:
    """The writer alone: into /dev/null, and through a pipe into `loggen -s` (a bare pipe's rate)."""
    n = cfg.log_bytes // LOG_LINE
    print(f"bench: log writer alone, {cfg.writer_trials} trials", file=sys.stderr)
    errlog = h.scratch / "loggen.stderr"
    for i in range(cfg.writer_trials):
        with open(os.devnull, "wb") as null:
            t0 = time.monotonic_ns()
            p = h.spawn([str(h.loggen), str(n)], errlog, stdout=null)
            out = reap_rusage(h, p, 60)
            t1 = time.monotonic_ns()
        if out is None or out[0] != 0:
            if out is None:
                h.stop_many([p])
            res.fail("log_writer", "harness", i, f"loggen into /dev/null: {out and out[0]}{stderr_tail(errlog)}")
            continue
        res.add("log_writer_null_mbps", "harness", cfg.log_bytes / 1e6 / ((t1 - t0) / 1e9))
        res.add("log_writer_null_cpu_s", "harness", sum(ru_cpu(out[1])))
        r, w = os.pipe()
        try:
            t0 = time.monotonic_ns()
            sink = h.spawn([str(h.loggen), "-s"], errlog, stdin=r)
            os.close(r)
            r = -1
            p = h.spawn([str(h.loggen), str(n)], errlog, stdout=w)
            os.close(w)
            w = -1
            out = reap_rusage(h, sink, 60)
            t1 = time.monotonic_ns()
            wout = reap_rusage(h, p, 10)
        finally:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)
            h.stop_many([x for x in (sink, p) if x.returncode is None])
        if out is None or wout is None:
            res.fail("log_writer", "harness", i, f"loggen | loggen -s did not finish{stderr_tail(errlog)}")
            continue
        res.add("log_writer_pipe_mbps", "harness", cfg.log_bytes / 1e6 / ((t1 - t0) / 1e9))
        res.add("log_writer_pipe_cpu_s", "harness", sum(ru_cpu(wout[1])))


def new_logdir(h: Harness, lg: Logger, tag: str) -> tuple[Path, Path]:
    """(top, logdir): a fresh directory on disk, with DIR/config for svlogd-style loggers."""
    top = h.new_dir(f"{tag}-{lg.key}", base=h.disk)
    logdir = top / "main"
    logdir.mkdir()
    if lg.config:
        (logdir / "config").write_text(f"s{LOG_FILE_SIZE}\nn{LOG_KEEP}\n")
    return top, logdir


def wait_current(p: subprocess.Popen, logdir: Path, errlog: Path, deadline: float) -> None:
    def ready() -> bool:
        if p.poll() is not None:
            raise TrialFailed(f"logger exited with {p.returncode} at start{stderr_tail(errlog)}")
        return (logdir / "current").exists()

    wait_until("the logger's current", deadline, ready)


def bench_log_throughput(h: Harness, cfg: Config, loggers: list[Logger], res: Results) -> None:
    n = cfg.log_bytes // LOG_LINE
    print(f"bench: logger throughput, {cfg.log_bytes / 1e6:g} MB, {cfg.log_trials} trials "
          f"(each bounded at {LOG_BOUND_S:g} s)", file=sys.stderr)
    for i in range(cfg.log_trials):
        for lg in rotated(loggers, i):

            def body(lg=lg):
                top, logdir = new_logdir(h, lg, "logput")
                side = top / "rotated"
                side.mkdir()
                errlog = top / "stderr"
                os.sync()  # nothing of the previous run left to write back
                linker = RotatedLinker(logdir, side)
                r, w = os.pipe()
                procs: list[subprocess.Popen] = []
                try:
                    rufile = top / "rusage"
                    # Through `loggen -x`, which forks and execs the logger and writes its wait4 rusage:
                    # a peak RSS carries over an exec, so a child of this Python would report Python's.
                    logger = h.spawn([str(h.loggen), "-x", str(rufile), *lg.argv(logdir)], errlog, stdin=r)
                    procs.append(logger)
                    os.close(r)
                    r = -1
                    wait_current(logger, logdir, errlog, time.monotonic() + LOG_START_BOUND_S)
                    linker.drain()
                    t0 = time.monotonic_ns()
                    writer = h.spawn([str(h.loggen), str(n)], errlog, stdout=w)
                    procs.append(writer)
                    os.close(w)
                    w = -1
                    t1 = wait_pidfd(logger.pid, LOG_BOUND_S, (linker.fd, linker.drain))
                    if t1 is None:
                        linker.sweep()
                        res.bound("log_mbps", lg.key, i, LOG_BOUND_S,
                                  f"the logger had not exited {LOG_BOUND_S:g} s after the writer started "
                                  f"({len(linker.inodes)} rotated files by then)")
                        return
                    rc, _ = reap_rusage(h, logger, 1)
                    wout = reap_rusage(h, writer, 10)
                    if rc != 0:
                        raise TrialFailed(f"logger exited with {rc}{stderr_tail(errlog)}")
                    if wout is None or wout[0] != 0:
                        raise TrialFailed(f"writer: {wout and wout[0]}{stderr_tail(errlog)}")
                    _, user_us, sys_us, maxrss = map(int, rufile.read_text().split())
                    linker.sweep()
                    secs = (t1 - t0) / 1e9
                    user, system = user_us / 1e6, sys_us / 1e6
                    kept = sorted(x for x in os.listdir(logdir) if x.startswith("@"))
                    others = sorted(set(os.listdir(logdir)) - set(kept) - {"current", "lock", "state", "config"})
                    chk = check_log([*sorted(side.iterdir()), logdir / "current"], n)
                    res.add("log_mbps", lg.key, cfg.log_bytes / 1e6 / secs)
                    res.add("log_lines_s", lg.key, n / secs)
                    res.add("log_secs", lg.key, secs)
                    res.add("log_cpu_s", lg.key, user + system)
                    res.add("log_cpu_user_s", lg.key, user)
                    res.add("log_cpu_sys_s", lg.key, system)
                    res.add("log_maxrss_kib", lg.key, maxrss)
                    res.add("log_writer_cpu_s", lg.key, sum(ru_cpu(wout[1])))
                    for k in ("lost", "duplicated", "malformed", "breaks", "largest_file", "lines"):
                        res.add(f"log_{k}", lg.key, chk[k])
                    res.add("log_rotated", lg.key, len(linker.inodes))
                    res.add("log_kept", lg.key, len(kept))
                    res.add("log_unlinked", lg.key, len(linker.missed))
                    if others:
                        res.extra.setdefault("log_other_files", {})[f"{lg.key} trial {i}"] = others
                    print(f"bench:   {lg.key}: {cfg.log_bytes / 1e6 / secs:.1f} MB/s, cpu {user + system:.2f} s, "
                          f"lost {chk['lost']}, dup {chk['duplicated']}, malformed {chk['malformed']}",
                          file=sys.stderr)
                finally:
                    linker.close()
                    for fd in (r, w):
                        if fd >= 0:
                            os.close(fd)
                    h.stop_many([p for p in procs if p.returncode is None])
                    shutil.rmtree(top, ignore_errors=True)
                    os.sync()

            trial(res, "log_mbps", lg, i, body)


def bench_log_wakeups(h: Harness, cfg: Config, loggers: list[Logger], res: Results) -> None:
    """Every logger side by side, each with an open pipe on stdin, idle after a few lines."""
    window = cfg.log_window_s
    print(f"bench: logger idle wakeups, one {window:g} s window", file=sys.stderr)
    running: list[tuple[Logger, subprocess.Popen, int, Path, Path]] = []
    try:
        for lg in loggers:
            top, logdir = new_logdir(h, lg, "logwake")
            r, w = os.pipe()
            try:
                p = h.spawn(lg.argv(logdir), top / "stderr", stdin=r)
            except OSError:
                os.close(w)
                raise
            finally:
                os.close(r)
            running.append((lg, p, w, logdir, top / "stderr"))
        ready = []
        deadline = time.monotonic() + LOG_START_BOUND_S
        lines = b"".join(log_line(k) for k in range(LOG_IDLE_LINES))
        for lg, p, w, logdir, errlog in running:
            try:
                wait_current(p, logdir, errlog, deadline)
                os.write(w, lines)
                ready.append((lg, p, logdir))
            except (TrialFailed, OSError) as e:
                res.fail("log_wakeups", lg.key, 0, str(e))
        time.sleep(WAKEUP_SETTLE_S)
        for lg, p, _ in ready:
            m = smaps_rollup(p.pid)
            res.add("log_idle_rss_kib", lg.key, m["rss"])
            res.add("log_idle_dirty_kib", lg.key, m["private_dirty"])
        before = {lg.key: ctx_switches(p.pid) for lg, p, _ in ready}
        t0 = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - t0
        for lg, p, logdir in ready:
            try:
                if p.poll() is not None:
                    raise TrialFailed(f"logger exited with {p.returncode}")
                k = ctx_switches(p.pid) - before[lg.key]
                res.add("log_wakeups", lg.key, k * REPORT_WINDOW_S / elapsed)
                res.add("log_wakeups_raw", lg.key, {"switches": k, "window_s": round(elapsed, 3)})
                res.add("log_idle_flushed", lg.key, (logdir / "current").read_bytes().count(b"\n"))
            except (TrialFailed, OSError) as e:
                res.fail("log_wakeups", lg.key, 0, str(e))
    finally:
        h.stop_many([p for _, p, _, _, _ in running])
        for _, _, w, _, _ in running:
            os.close(w)



# ---------------------------------------------------------------------------------------------
# my_init scenarios (herd's svscan called `my_init`, in a phusion/baseimage-style root)


@dataclass(frozen=True)
class MyInitStop:
    """One shutdown variant: the metric prefix, the extra TERM-ignoring service, my_init's timeouts,
    and whether s09 has its log/."""

    prefix: str
    stubborn: bool
    env: tuple[tuple[str, str], ...]
    log: bool = True


MYINIT_K3 = (("KILL_PROCESS_TIMEOUT", MYINIT_KILL_PROCESS_TIMEOUT),)
MYINIT_STOPS = (
    MyInitStop("myinit_stop", False, ()),
    MyInitStop("myinit_stop_nolog", False, (), log=False),
    MyInitStop("myinit_stop_k3", False, MYINIT_K3),
    MyInitStop("myinit_stop_nolog_k3", False, MYINIT_K3, log=False),
    MyInitStop("myinit_stopx", True, ()),
    MyInitStop("myinit_stopx_k3", True, MYINIT_K3),
)
MYINIT_STARTUP = ["10 FOO=orig", "20 FOO=changed", "rc.local FOO=changed"]  # /out/order after start-up


def myinit_preflight(herd: dict[str, str]) -> str | None:
    """Why the phusion-style root cannot be built (busybox or herd's binaries missing or dynamic), or None."""
    for name, path in [("busybox", BUSYBOX), *((n, herd.get(n, "")) for n in MYINIT_BINS)]:
        what = f"`{BUSYBOX}`" if name == "busybox" else f"herd's `{name}` (--herd-dir)"
        if not path or not os.access(path, os.X_OK):
            return f"{what} not found" + (": install busybox-static" if name == "busybox"
                                          else ": build it with `just release`")
        if elf_linkage(path) != "static":
            return (f"{what} is not a static executable ({elf_linkage(path)}), and the chroot holds no libraries"
                    + (": install busybox-static" if name == "busybox" else ": build it with `just release`"))
    for tool in (UNSHARE, CHROOT):
        if not os.access(tool, os.X_OK):
            return f"`{tool}` not found"
    return None


def myinit_bins(h: Harness, herd: dict[str, str]) -> Path:
    """The root's binaries, once, on the scratch tmpfs: every root hard-links them."""
    d = h.new_dir("myinit-bins")
    shutil.copy(BUSYBOX, d / "busybox")
    for name in (*MYINIT_BINS, "svlog"):
        if herd.get(name) and elf_linkage(herd[name]) == "static":
            shutil.copy(herd[name], d / name)
    if elf_linkage(str(h.stamp)) == "static":
        shutil.copy(h.stamp, d / "stamp")
    for f in d.iterdir():
        f.chmod(0o755)
    return d


def myinit_service(name: str, stubborn: bool, stamp: bool, logged: bool) -> str:
    """A service as phusion's images write them: it traps TERM (and HUP, INT, QUIT, ABRT), says `NAME up`
    once the trap is set, and sleeps in `sleep 1 & wait` so that a trapped signal ends the wait at once.
    The stubborn one ignores TERM."""
    if stubborn:
        return f"#!/bin/sh\ntrap '' 15\necho {name} up >> /out/up\nwhile :; do sleep 1 & wait; done\n"
    return ("#!/bin/sh\n"
            f"trap 'echo {name} got TERM >> /out/term; exit 0' 1 2 3 6 15\n"
            f"echo {name} up >> /out/up\n"
            + ("/usr/bin/stamp /out/upstamps\n" if stamp else "")
            + (f"echo {name} up\n" if logged else "")
            + "while :; do sleep 1 & wait; done\n")


def phusion_root(h: Harness, bins: Path, stubborn: bool, tag: str, log: bool = True) -> Path:
    """A fresh phusion/baseimage-style root on tmpfs: busybox, herd's static binaries in /usr/bin,
    `/sbin/my_init -> /usr/bin/svscan`, /dev/null, the image's start-up scripts (the first one changes
    the container environment), shutdown scripts and 10 services (the last with a log/)."""
    root = h.new_dir(tag)
    for sub in ("bin", "sbin", "usr/bin", "dev", "proc", "tmp", "out/log"):
        (root / sub).mkdir(parents=True)
    os.link(bins / "busybox", root / "bin" / "busybox")
    for applet in BUSYBOX_APPLETS:
        os.symlink("busybox", root / "bin" / applet)
    for f in bins.iterdir():
        if f.name != "busybox":
            os.link(f, root / "usr" / "bin" / f.name)
    os.symlink("/usr/bin/svscan", root / "sbin" / "my_init")
    # busybox sh gives a backgrounded job /dev/null as stdin.
    os.mknod(root / "dev" / "null", 0o20666, os.makedev(1, 3))

    def put(rel: str, text: str, mode: int = 0o755) -> None:
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
        f.chmod(mode)

    put("etc/container_environment/FOO", "orig\n", 0o644)
    put("etc/my_init.d/10_change_env",
        "#!/bin/sh\necho \"10 FOO=$FOO\" >> /out/order\necho changed > /etc/container_environment/FOO\n")
    put("etc/my_init.d/20_see_env", "#!/bin/sh\necho \"20 FOO=$FOO\" >> /out/order\n")
    put("etc/rc.local", "#!/bin/sh\necho \"rc.local FOO=$FOO\" >> /out/order\n")
    put("etc/my_init.pre_shutdown.d/10", "#!/bin/sh\necho pre >> /out/order\n")
    put("etc/my_init.post_shutdown.d/10", "#!/bin/sh\necho post >> /out/order\n")
    stamp = (bins / "stamp").exists()
    for j in range(MYINIT_SERVICES):
        name = f"s{j:02d}"
        logged = log and j == MYINIT_SERVICES - 1
        if logged:  # log/ first: a supervise looks for it when it starts
            put(f"etc/service/{name}/log/run", "#!/bin/sh\nexec svlog /out/log\n" if (bins / "svlog").exists()
                else f"#!/bin/sh\nexec cat >> /out/{name}.log\n")
        put(f"etc/service/{name}/run", myinit_service(name, False, stamp, logged))
    if stubborn:
        put(f"etc/service/{MYINIT_STUBBORN}/run", myinit_service(MYINIT_STUBBORN, True, False, False))
    return root


def lines_of(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def spawn_my_init(h: Harness, root: Path, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """`unshare --pid --fork --mount-proc=ROOT/proc --kill-child chroot ROOT /sbin/my_init ARGS…`, with
    PATH and `env` only; stdout and stderr to files next to the root."""
    argv = [UNSHARE, "--pid", "--fork", f"--mount-proc={root / 'proc'}", "--kill-child", CHROOT, str(root),
            "/sbin/my_init", *args]
    with open(root.parent / f"{root.name}.stdout", "wb") as out:
        return h.spawn(argv, root.parent / f"{root.name}.stderr", stdout=out, env={"PATH": MYINIT_PATH, **env})


def my_init_pid(p: subprocess.Popen, errlog: Path, deadline: float) -> int:
    """The host pid of my_init (unshare's child once it has exec'd chroot, then /sbin/my_init)."""
    found: list[int] = []

    def ready() -> bool:
        if p.poll() is not None:
            raise TrialFailed(f"my_init exited with {p.returncode} during start-up{stderr_tail(errlog)}")
        for c in proc_children_map().get(p.pid, []):
            try:
                argv0 = Path(f"/proc/{c}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if argv0 == b"/sbin/my_init":
                found.append(c)
                return True
        return False

    wait_until("my_init to run under unshare", deadline, ready)
    return found[0]


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def finish(h: Harness, p: subprocess.Popen) -> None:
    """Kills `p`'s tree if it still runs; a reaped pid is never signalled (it may have been reused)."""
    if p.returncode is None and p.poll() is None:
        h.stop(p)
    else:
        h.live.pop(p.pid, None)
        h.reap_orphans()


def bench_myinit(h: Harness, cfg: Config, herd: dict[str, str], res: Results) -> None:
    """herd's my_init as PID 1 of a phusion-style chroot: shutdown (MYINIT_STOPS), memory of PID 1 and its
    supervisors, `my_init -- sh -c 'exit 3'`, and the namespace + chroot cost alone."""
    why = myinit_preflight(herd)
    if why:
        res.extra["myinit_skipped"] = why
        res.extra["myinit_failed"] = True
        print(f"bench: myinit: fatal: {why}; section skipped", file=sys.stderr)
        return
    print(f"bench: my_init in a phusion-style root, {cfg.myinit_trials} trials (each stop bounded at "
          f"{MYINIT_STOP_BOUND_S:g} s)", file=sys.stderr)
    bins = myinit_bins(h, herd)
    res.extra["myinit_root"] = {"binaries": sorted(f.name for f in bins.iterdir()),
                                "log": "svlog" if (bins / "svlog").exists() else "cat",
                                "up_stamps": (bins / "stamp").exists()}
    herd_init = Scanner("herd", "herd `my_init`", herd["svscan"])
    skip: set[str] = set()

    def stop(v: MyInitStop, i: int) -> None:
        root = phusion_root(h, bins, v.stubborn, v.prefix.replace("_", "-"), v.log)
        errlog = root.parent / f"{root.name}.stderr"
        n = MYINIT_SERVICES + v.stubborn
        t_spawn = time.monotonic_ns()
        p = spawn_my_init(h, root, [], dict(v.env))
        try:
            deadline = time.monotonic() + MYINIT_UP_BOUND_S
            init = my_init_pid(p, errlog, deadline)

            def up() -> bool:
                if p.poll() is not None:
                    raise TrialFailed(f"my_init exited with {p.returncode}{stderr_tail(errlog)}")
                return len(set(lines_of(root / "out" / "up"))) >= n

            try:
                wait_until(f"{n} services up", deadline, up)
            except TrialFailed as e:
                got = len(set(lines_of(root / "out" / "up")))
                raise TrialFailed(f"{e} ({got} of {n}){stderr_tail(errlog)}") from None
            order = lines_of(root / "out" / "order")
            res.add("myinit_startup_ok", "herd", order == MYINIT_STARTUP)
            if v.prefix == "myinit_stop":
                stamps = read_stamps(root / "out" / "upstamps")
                if len(stamps) >= MYINIT_SERVICES:
                    res.add("myinit_up_ms", "herd", (max(stamps) - t_spawn) / 1e6)
            time.sleep(STOP_SETTLE_S)
            if p.poll() is not None:
                raise TrialFailed(f"my_init exited with {p.returncode}{stderr_tail(errlog)}")
            if v.prefix == "myinit_stop":
                sups = [c for c in proc_children_map().get(init, []) if comm(c) == "supervise"]
                m = smaps_rollup(init)
                pss = [smaps_rollup(s)["pss"] for s in sups]
                res.add("myinit_rss", "herd", m["rss"])
                res.add("myinit_pss", "herd", m["pss"])
                res.add("myinit_pss_total", "herd", m["pss"] + sum(pss))
                if pss:
                    res.add("myinit_pss_supervise", "herd", statistics.mean(pss))
                res.add("myinit_supervisors", "herd", len(sups))
            t0 = time.monotonic_ns()
            os.kill(init, signal.SIGTERM)
            t1 = wait_exit_ns(p, MYINIT_STOP_BOUND_S)
            clean = len({x for x in lines_of(root / "out" / "term") if x.endswith(" got TERM")})
            if t1 is None:
                res.bound(f"{v.prefix}_ms", "herd", i, MYINIT_STOP_BOUND_S,
                          f"my_init still running {MYINIT_STOP_BOUND_S:g} s after SIGTERM ({clean} TERM "
                          "handlers run by then); namespace SIGKILLed")
                skip.add(v.prefix)
                os.kill(init, signal.SIGKILL)  # the kernel kills the rest of the namespace
                if wait_exit_ns(p, 5) is None:
                    raise TrialFailed("the namespace did not go away after SIGKILL to its init")
                res.add(f"{v.prefix}_clean", "herd", clean)
                res.add(f"{v.prefix}_rc", "herd", f"SIGKILLed after {MYINIT_STOP_BOUND_S:g} s")
                return
            rc = p.returncode
            res.add(f"{v.prefix}_ms", "herd", (t1 - t0) / 1e6)
            res.add(f"{v.prefix}_clean", "herd", clean)
            res.add(f"{v.prefix}_rc", "herd", rc if rc >= 0 else f"signal {-rc}")
            after = lines_of(root / "out" / "order")[len(order):]
            res.add(f"{v.prefix}_scripts", "herd", ", ".join(after) or "none")
            res.extra.setdefault("myinit_stderr", {}).setdefault(v.prefix, errlog.read_text(errors="replace"))
        finally:
            finish(h, p)
            shutil.rmtree(root, ignore_errors=True)

    def command(i: int, log: bool) -> None:
        prefix = "myinit_cmd" if log else "myinit_cmd_nolog"
        root = phusion_root(h, bins, False, prefix.replace("_", "-"), log)
        errlog = root.parent / f"{root.name}.stderr"
        t0 = time.monotonic_ns()
        p = spawn_my_init(h, root, ["--", "sh", "-c", "exit 3"], {})
        try:
            t1 = wait_exit_ns(p, MYINIT_CMD_BOUND_S)
            if t1 is None:
                res.bound(f"{prefix}_ms", "herd", i, MYINIT_CMD_BOUND_S, "my_init still running")
                skip.add(prefix)
                return
            rc = p.returncode
            res.add(f"{prefix}_ms", "herd", (t1 - t0) / 1e6)
            res.add(f"{prefix}_rc", "herd", rc if rc >= 0 else f"signal {-rc}")
            res.add(f"{prefix}_up", "herd", len(set(lines_of(root / "out" / "up"))))
            res.add(f"{prefix}_clean", "herd", len(set(lines_of(root / "out" / "term"))))
            res.extra.setdefault("myinit_stderr", {}).setdefault(prefix, errlog.read_text(errors="replace"))
        finally:
            finish(h, p)
            shutil.rmtree(root, ignore_errors=True)

    def baseline(i: int) -> None:
        """The same namespace and chroot, running busybox `true`: what every figure above includes."""
        root = phusion_root(h, bins, False, "myinit-true")
        t0 = time.monotonic_ns()
        argv = [UNSHARE, "--pid", "--fork", f"--mount-proc={root / 'proc'}", "--kill-child", CHROOT, str(root),
                "/bin/true"]
        p = h.spawn(argv, root.parent / f"{root.name}.stderr", env={"PATH": MYINIT_PATH})
        try:
            t1 = wait_exit_ns(p, 5)
            if t1 is None or p.returncode != 0:
                raise TrialFailed(f"unshare … chroot ROOT /bin/true: {p.returncode}")
            res.add("myinit_ns_ms", "harness", (t1 - t0) / 1e6)
        finally:
            finish(h, p)
            shutil.rmtree(root, ignore_errors=True)

    jobs = [*((v.prefix, lambda i, v=v: stop(v, i)) for v in MYINIT_STOPS),
            ("myinit_cmd", lambda i: command(i, True)), ("myinit_cmd_nolog", lambda i: command(i, False)),
            ("myinit_ns", baseline)]
    for i in range(cfg.myinit_trials):
        for name, job in rotated(jobs, i):
            if name in skip:
                continue
            trial(res, f"{name}_ms", herd_init, i, lambda job=job, i=i: job(i))


# ---------------------------------------------------------------------------------------------
# Setup and report


def sh(argv: list[str], **kw) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "unknown"


def machine_info() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": sh(["date", "-u"]), "nproc": os.cpu_count(), "kernel": os.uname().release,
            "cpu": cpu or "unknown"}


def versions() -> dict:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # read-only: never refresh the index
    head = sh(["git", "-C", str(ROOT), "describe", "--always", "--tags"], env=env)
    dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], env=env)
    herd = "working tree" if not head else head + (" + uncommitted changes (working tree)" if dirty else "")
    pkgs = {}
    for line in sh(["dpkg-query", "-W", "runit", "daemontools", "s6"]).splitlines():
        name, _, ver = line.partition("\t")
        pkgs[name] = ver
    return {"herd": herd, **pkgs}


def elf_linkage(path: str) -> str:
    """"static" or "dynamic": whether a 64-bit little-endian ELF file has a PT_INTERP header."""
    try:
        with open(path, "rb") as f:
            hdr = f.read(64)
            if hdr[:4] != b"\x7fELF" or hdr[4] != 2 or hdr[5] != 1:
                return "unknown"
            phoff = int.from_bytes(hdr[32:40], "little")
            phentsize = int.from_bytes(hdr[54:56], "little")
            phnum = int.from_bytes(hdr[56:58], "little")
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return "unknown"
    pt_interp = 3
    types = [int.from_bytes(table[i * phentsize : i * phentsize + 4], "little") for i in range(phnum)]
    return "dynamic" if pt_interp in types else "static"


def snapshot(herd_dir: Path, dest_dir: Path) -> dict[str, dict]:
    """Copies herd's binaries (which may be rebuilt during the run) to `dest_dir`, on disk, synced.

    On disk and synced because smaps counts a file page as dirty until it is written back: a
    freshly built binary, or any binary on tmpfs, would show its whole text as Private_Dirty. All
    three go to one directory: svscan runs the supervise next to it.
    """
    out = {}
    dest_dir.mkdir(parents=True, exist_ok=True)
    for name in HERD_BINS:
        src = herd_dir / name
        if not os.access(src, os.X_OK):
            continue
        data = Path(os.path.realpath(src)).read_bytes()
        dest = dest_dir / name
        with open(dest, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        dest.chmod(0o755)
        out[name] = {"source": os.path.realpath(src), "copy": str(dest),
                     "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    fd = os.open(dest_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return out


def compile_helper(scratch: Path, src: Path) -> Path:
    out = scratch / src.stem
    base = ["gcc", "-O2", "-Wall", "-o", str(out), str(src)]
    # Static if possible: no dynamic loader on the start path keeps the marker cheap.
    for argv in (base[:1] + ["-static"] + base[1:], base):
        if subprocess.run(argv, capture_output=True).returncode == 0:
            return out
    raise SystemExit(f"bench: fatal: unable to compile {os.path.relpath(src, ROOT)} with gcc")


# (row label, metric, statistic, decimals); statistic: "median", "p90" or "values" (distinct values)
SUPERVISE_ROWS = [
    ("Binary size (KiB)", "binary_kib", "median", 0),
    ("RSS, idle, with log service (KiB)", "rss_log", "median", 0),
    ("PSS, idle, with log service (KiB)", "pss_log", "median", 0),
    ("Private dirty, idle, with log service (KiB)", "dirty_log", "median", 0),
    ("PSS, all supervisor processes for service + logger (KiB)", "pss_pair", "median", 0),
    ("RSS, idle, no log (KiB)", "rss_nolog", "median", 0),
    ("PSS, idle, no log (KiB)", "pss_nolog", "median", 0),
    *[row for n in MANY_SIZES for row in (
        (f"PSS per supervisor, {n} running at once, no log (KiB)", f"pss_many_{n}", "median", 0),
        (f"Private dirty per supervisor, {n} running at once (KiB)", f"dirty_many_{n}", "median", 0))],
    ("Idle wakeups (context switches per 20 s)", "wakeups", "median", 1),
    ("Restart after a 2 s run, median (ms)", "restart_ms", "median", 2),
    ("Restart after a 2 s run, p90 (ms)", "restart_ms", "p90", 2),
    ("Crash-loop interval, median (ms)", "crash_ms", "median", 1),
    ("Control restart to new start, median (ms)", "control_ms", "median", 2),
]

SV_ROWS = [
    (f"`sv -w {SV_WAIT} restart` wall time, median (ms)", "sv_restart_ms", "median", 1),
    (f"`sv -w {SV_WAIT} restart` wall time, p90 (ms)", "sv_restart_ms", "p90", 1),
    ("`sv restart`: invocation → new `run` started, median (ms)", "sv_restart_run_ms", "median", 2),
    ("`sv start` (from down) wall time, median (ms)", "sv_start_ms", "median", 1),
    ("`sv start` (from down) wall time, p90 (ms)", "sv_start_ms", "p90", 1),
    ("`sv start`: invocation → `run` started, median (ms)", "sv_start_run_ms", "median", 2),
    ("`sv status` wall time, median (ms)", "sv_status_ms", "median", 2),
    ("`sv status` wall time, p90 (ms)", "sv_status_ms", "p90", 2),
]

SCAN_ROWS = [
    ("Binary size (KiB)", "scan_binary_kib", "median", 0),
    ("Pickup: service dir `mv`ed in → its `run` started, median (ms)", "scan_pickup_ms", "median", 1),
    ("Pickup, p90 (ms)", "scan_pickup_ms", "p90", 1),
    ("Pickup with `s6-svscanctl -a DIR` right after the `mv`, median (ms)", "scan_pickup_a_ms", "median", 1),
    ("Pickup with `s6-svscanctl -a DIR`, p90 (ms)", "scan_pickup_a_ms", "p90", 1),
    *[(f"Start of {n} services: scanner start → every `run` started, median (ms)", f"scan_start{n}_ms",
       "median", 0) for n in START_SIZES],
    (f"PID 1, {STOP_SERVICES} services: SIGTERM → namespace empty, median (ms)", "scan_stop_ms", "median", 0),
    (f"… services that logged a clean TERM (of {STOP_SERVICES}), median", "scan_stop_clean", "median", 0),
    ("… exit status of PID 1", "scan_stop_rc", "values", 0),
    (f"PID 1, {STOP_SERVICES} services, one ignores TERM: SIGTERM → namespace empty, median (ms)",
     "scan_stopx_ms", "median", 0),
    (f"… services that logged a clean TERM (of {STOP_SERVICES - 1}), median", "scan_stopx_clean", "median", 0),
    ("… exit status of PID 1", "scan_stopx_rc", "values", 0),
    (f"Idle wakeups, scanner + its {SCAN_SERVICES} supervisors (context switches per minute)",
     "scan_wakeups_min", "median", 1),
    ("Idle wakeups, scanner alone (per minute)", "scan_wakeups_self_min", "median", 1),
    (f"Scanner RSS, {SCAN_SERVICES} services (KiB)", "scan_rss", "median", 0),
    (f"Scanner PSS, {SCAN_SERVICES} services (KiB)", "scan_pss", "median", 0),
    (f"Scanner private dirty, {SCAN_SERVICES} services (KiB)", "scan_dirty", "median", 0),
    (f"PID 1: zombies left {ZOMBIE_CHECK_S:g} s after a service made {ORPHANS} orphans, median",
     "scan_zombies_2s", "median", 0),
    ("PID 1: last orphan made → no zombie left, median (ms)", "scan_zombies_gone_ms", "median", 0),
]


MYINIT_ROWS = [
    (f"PID 1, {MYINIT_SERVICES} services that trap TERM (one with a `log/`): SIGTERM → my_init exited, median (ms)",
     "myinit_stop_ms", "median", 1),
    ("… p90 (ms)", "myinit_stop_ms", "p90", 1),
    (f"… services that ran their TERM handler (of {MYINIT_SERVICES}), median", "myinit_stop_clean", "median", 0),
    ("… exit status of my_init", "myinit_stop_rc", "values", 0),
    ("… shutdown scripts that ran", "myinit_stop_scripts", "values", 0),
    ("The same tree without the `log/`: SIGTERM → my_init exited, median (ms)", "myinit_stop_nolog_ms", "median", 1),
    ("… p90 (ms)", "myinit_stop_nolog_ms", "p90", 1),
    ("… exit status of my_init", "myinit_stop_nolog_rc", "values", 0),
    (f"`KILL_PROCESS_TIMEOUT={MYINIT_KILL_PROCESS_TIMEOUT}`, the tree with the `log/`: SIGTERM → my_init exited, "
     "median (ms)", "myinit_stop_k3_ms", "median", 1),
    ("… p90 (ms)", "myinit_stop_k3_ms", "p90", 1),
    (f"… services that ran their TERM handler (of {MYINIT_SERVICES}), median", "myinit_stop_k3_clean", "median", 0),
    ("… exit status of my_init", "myinit_stop_k3_rc", "values", 0),
    (f"`KILL_PROCESS_TIMEOUT={MYINIT_KILL_PROCESS_TIMEOUT}`, the tree without the `log/`: SIGTERM → my_init "
     "exited, median (ms)", "myinit_stop_nolog_k3_ms", "median", 1),
    ("… p90 (ms)", "myinit_stop_nolog_k3_ms", "p90", 1),
    ("… exit status of my_init", "myinit_stop_nolog_k3_rc", "values", 0),
    ("Plus one service that ignores TERM, default settings: SIGTERM → my_init exited, median (ms)",
     "myinit_stopx_ms", "median", 0),
    ("… p90 (ms)", "myinit_stopx_ms", "p90", 0),
    (f"… services that ran their TERM handler (of {MYINIT_SERVICES}), median", "myinit_stopx_clean", "median", 0),
    ("… exit status of my_init", "myinit_stopx_rc", "values", 0),
    ("… shutdown scripts that ran", "myinit_stopx_scripts", "values", 0),
    (f"Plus one service that ignores TERM, `KILL_PROCESS_TIMEOUT={MYINIT_KILL_PROCESS_TIMEOUT}`: SIGTERM → my_init "
     "exited, median (ms)", "myinit_stopx_k3_ms", "median", 0),
    ("… p90 (ms)", "myinit_stopx_k3_ms", "p90", 0),
    (f"… services that ran their TERM handler (of {MYINIT_SERVICES}), median", "myinit_stopx_k3_clean", "median", 0),
    ("… exit status of my_init", "myinit_stopx_k3_rc", "values", 0),
    ("… shutdown scripts that ran", "myinit_stopx_k3_scripts", "values", 0),
    (f"PID 1 (my_init) RSS, {MYINIT_SERVICES} services up (KiB)", "myinit_rss", "median", 0),
    (f"PID 1 (my_init) PSS, {MYINIT_SERVICES} services up (KiB)", "myinit_pss", "median", 0),
    (f"PSS of my_init + its {MYINIT_SERVICES} `supervise` processes (KiB)", "myinit_pss_total", "median", 0),
    ("… per `supervise` (KiB)", "myinit_pss_supervise", "median", 0),
    (f"Spawn → all {MYINIT_SERVICES} services up (2 start-up scripts and rc.local first), median (ms)",
     "myinit_up_ms", "median", 0),
    ("`my_init -- sh -c 'exit 3'`: spawn → exit, median (ms)", "myinit_cmd_ms", "median", 0),
    ("… p90 (ms)", "myinit_cmd_ms", "p90", 0),
    ("… exit status of my_init", "myinit_cmd_rc", "values", 0),
    ("The same without the `log/`: spawn → exit, median (ms)", "myinit_cmd_nolog_ms", "median", 0),
    ("… p90 (ms)", "myinit_cmd_nolog_ms", "p90", 0),
    ("… exit status of my_init", "myinit_cmd_nolog_rc", "values", 0),
]

MYINIT_PHUSION_LABEL = "phusion `my_init` (documented, not measured here)"
# phusion's figures, from ../shared/reference/peers.md §4 (phusion's my_init read from master and run
# elsewhere, one TERM-trapping service): keyed like the summary (metric, or metric_stat).
MYINIT_PHUSION = {
    "myinit_stop_ms": "≈ 30 s with one TERM-trapping service (defaults: `KILL_PROCESS_TIMEOUT` 30 s + "
                      "`KILL_ALL_PROCESSES_TIMEOUT` 30 s), so Docker SIGKILLs it at 10 s",
    "myinit_stop_rc_values": "2 (always, after SIGTERM)",
    "myinit_stop_scripts_values": "pre, post",
    "myinit_stop_k3_ms": "3840 (one TERM-trapping service)",
    "myinit_stop_k3_rc_values": "2",
    "myinit_stopx_ms": "no figure: the defaults allow 30 s + 30 s, past Docker's SIGKILL at 10 s "
                       "(baseimage-docker#506)",
    "myinit_rss": "11.8 MB (Python 3; runsvdir and each runsv extra)",
    "myinit_cmd_rc_values": "3",
    "myinit_cmd_nolog_rc_values": "3",
}


def log_rows(cfg: Config) -> list:
    mb = f"{cfg.log_bytes / 1e6:g}"
    t = cfg.log_trials
    return [
        ("Binary size (KiB)", "log_binary_kib", "median", 0),
        (f"Throughput, {mb} MB of {LOG_LINE}-byte lines through a pipe, median (MB/s)", "log_mbps", "median", 1),
        (f"Throughput, slowest of {t} trials (MB/s)", "log_mbps", "min", 1),
        ("Lines per second, median", "log_lines_s", "median", 0),
        ("Logger CPU time, user + system, median (s)", "log_cpu_s", "median", 2),
        ("… user, median (s)", "log_cpu_user_s", "median", 2),
        ("… system, median (s)", "log_cpu_sys_s", "median", 2),
        ("Logger peak RSS during the run, largest (KiB)", "log_maxrss_kib", "max", 0),
        ("Logger RSS, idle (KiB)", "log_idle_rss_kib", "median", 0),
        ("Logger private dirty, idle (KiB)", "log_idle_dirty_kib", "median", 0),
        (f"Lines lost, sum of {t} trials", "log_lost", "sum", 0),
        (f"Lines duplicated, sum of {t} trials", "log_duplicated", "sum", 0),
        (f"Malformed lines, sum of {t} trials", "log_malformed", "sum", 0),
        ("Largest log file, any trial (bytes)", "log_largest_file", "max", 0),
        ("Rotations per run, median", "log_rotated", "median", 0),
        ("Old files left at the end, median", "log_kept", "median", 0),
        ("Idle wakeups (context switches per 20 s)", "log_wakeups", "median", 1),
    ]


def fmt(v, decimals: int) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:.{decimals}f}" if decimals else f"{round(v)}"


def stat_of(xs: list, stat: str):
    if stat == "median":
        return median(xs)
    if stat == "p90":
        return p90(xs)
    if stat in ("min", "max", "sum"):
        return {"min": min, "max": max, "sum": sum}[stat](xs) if xs else None
    seen = []
    for x in xs:
        if x not in seen:
            seen.append(x)
    return ", ".join(map(str, seen)) if seen else None


def summarize(res: Results, rows: list, keys: list[str]) -> dict:
    out = {}
    for _, metric, stat, _ in rows:
        key = metric if stat == "median" else f"{metric}_{stat}"
        out[key] = {k: stat_of(res.get(metric, k), stat) for k in keys}
    return out


def render_table(L: list[str], res: Results, rows: list, columns: list[tuple[str, str]], summary: dict,
                 mark=None) -> None:
    L.append("| metric | " + " | ".join(label for _, label in columns) + " |")
    L.append("|---|" + "---:|" * len(columns))
    for label, metric, stat, dec in rows:
        key = metric if stat == "median" else f"{metric}_{stat}"
        cells = []
        for k, _ in columns:
            val = summary[key][k]
            bounded = res.bounded_for(metric, k)
            if val is None and bounded:
                cell = f"not within {bounded[0]['bound_s']:g} s"
            else:
                cell = fmt(val, dec)
                if bounded and stat != "values":
                    cell += " ⁺"
            if mark:
                cell += mark(metric, k, val)
            cells.append(cell)
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    L.append("")


def section_issues(res: Results, section: str) -> list[str]:
    notes = []
    bounded = [b for b in res.bounded if section_of(b["metric"]) == section]
    if bounded:
        notes.append(f"{len(bounded)} trial(s) reached their bound (a result, not a harness failure; "
                     "`bounded` in the JSON). A cell marked ⁺ is the median of the trials that finished:")
        for b in bounded:
            notes.append(f"  - {b['flavor']}: `{b['metric']}` trial {b['trial']}: not within {b['bound_s']:g} s: "
                         f"{b['what']}")
    fails = [f for f in res.failures if section_of(f["metric"]) == section]
    if fails:
        notes.append(f"{len(fails)} trial(s) failed (all of them are in `failures` in the JSON):")
        for f in fails[:20]:
            notes.append(f"  - {f['flavor']}: `{f['metric']}` trial {f['trial']}: {f['why']}")
    elif not bounded:
        notes.append("Every trial finished within its deadline.")
    return notes


def render_notes(L: list[str], notes: list[str]) -> None:
    for note in notes:
        L.append(note if note.startswith("  - ") else f"- {note}")
    L.append("")


def render_md(meta: dict, cfg: Config, flavors: list[Flavor], scanners: list[Scanner], loggers: list[Logger],
              res: Results, summary: dict, sections: list[str]) -> str:
    m, v = meta["machine"], meta["versions"]
    L = []
    L.append("# Benchmarks: herd vs runit, daemontools and s6")
    L.append("")
    if cfg.quick:
        L.append("> **Quick run (`--quick`)**: few samples and short windows, for checking the harness only. "
                 "Do not compare these numbers.")
        L.append("")
    L.append(f"- Date: {m['date']}")
    L.append(f"- Machine: {m['nproc']} CPUs, {m['cpu']}, kernel {m['kernel']}; load average "
             f"{meta['load_start']} at the start, {meta['load_end']} at the end (1, 5, 15 min)")
    L.append(f"- Versions: herd {v.get('herd')}; runit {v.get('runit', '?')}; "
             f"daemontools {v.get('daemontools', '?')}; s6 {v.get('s6', '?')} (Debian packages)")
    L.append(f"- Reproduce (as root, from the repository root): `{REPRODUCE}`"
             + (f" (this run: `{meta['argv']}`)" if meta.get("argv") else ""))
    L.append(f"- Wall time of this run: {meta['elapsed_s']:.0f} s. Raw samples: `docs/benchmarks.json`.")
    if meta.get("report_only"):
        L.append(f"- This report was regenerated from `{meta['report_only']}` (`--report-only`, "
                 f"{meta.get('report_date', '')}): the measurements are those of the run above.")
    L.append("")
    L.append("## General notes")
    L.append("")
    render_notes(L, meta["notes"] + general_notes(cfg, flavors, scanners, res))
    render_goals(L, res)
    render_sizes(L, res)

    L.append("## supervise")
    L.append("")
    if "supervise" in sections:
        sup = summary["supervise"]

        def mark(metric, k, val):
            fl = next(f for f in flavors if f.key == k)
            if val is None or fl.supervises_log:
                return ""
            return " ¹" if metric in ("rss_log", "pss_log", "dirty_log") else " ²" if metric == "pss_pair" else ""

        render_table(L, res, SUPERVISE_ROWS, [(f.key, f.label) for f in flavors], sup, mark)
        L.append("¹ This supervisor does not run `log/run` itself (svscan / s6-svscan make the log pipe and "
                 "supervise `log/` separately): measured alone, in a service directory that has a `log/`.  ")
        L.append("² Two supervisor processes, summed (measured in their own trials): one for the service and one "
                 "for `DIR/log`, joined by a pipe the harness holds open, as svscan / s6-svscan would. The two "
                 "share their text pages, which lowers each one's PSS. For herd and runsv: the one process.")
        L.append("")
        L.append("### Notes")
        L.append("")
        render_notes(L, supervise_notes(cfg, flavors, res) + section_issues(res, "supervise"))
    else:
        L.append("Not run in this invocation (`--sections`).")
        L.append("")

    L.append("## sv")
    L.append("")
    combos = res.extra.get("sv_combos", {})
    if "sv" in sections and combos:
        render_table(L, res, SV_ROWS, list(combos.items()), summary["sv"])
        L.append("### Notes")
        L.append("")
        render_notes(L, sv_notes(cfg, res) + section_issues(res, "sv"))
    else:
        L.append("Not run in this invocation" + (f": {res.extra['sv_skipped']}." if "sv_skipped" in res.extra
                                                 else " (`--sections`)."))
        L.append("")

    L.append("## Scanners (svscan)")
    L.append("")
    if "scanners" in sections and scanners:
        render_table(L, res, SCAN_ROWS, [(s.key, s.label) for s in scanners], summary["scanners"])
        L.append("### Notes")
        L.append("")
        render_notes(L, scanner_notes(cfg, scanners, res) + section_issues(res, "scanners"))
    else:
        L.append("Not run in this invocation (`--sections`, or no scanner found).")
        L.append("")

    L.append("## Loggers (svlog)")
    L.append("")
    if "loggers" in sections and loggers:
        render_table(L, res, log_rows(cfg), [(lg.key, lg.label) for lg in loggers], summary["loggers"])
        L.append("### Notes")
        L.append("")
        render_notes(L, logger_notes(cfg, loggers, res) + section_issues(res, "loggers"))
    else:
        L.append("Not run in this invocation (`--sections`, or no logger found).")
        L.append("")

    L.append("## my_init (phusion/baseimage)")
    L.append("")
    if "myinit" in sections and "myinit_skipped" not in res.extra:
        columns = [("herd", "herd `my_init`"), ("phusion", MYINIT_PHUSION_LABEL)]
        shown = {k: {**v, "phusion": MYINIT_PHUSION.get(k)} for k, v in summary["myinit"].items()}
        render_table(L, res, MYINIT_ROWS, columns, shown)
        L.append("### Notes")
        L.append("")
        render_notes(L, myinit_notes(cfg, res) + section_issues(res, "myinit"))
    else:
        L.append(f"Not run in this invocation: {res.extra['myinit_skipped']}." if "myinit_skipped" in res.extra
                 else "Not run in this invocation (`--sections`).")
        L.append("")
    return "\n".join(L)


def myinit_notes(cfg: Config, res: Results) -> list[str]:
    notes = []
    root = res.extra.get("myinit_root", {})
    log = ("herd's `svlog /out/log`" if root.get("log") == "svlog" else "busybox `cat >> /out/s09.log`")
    notes.append(
        "The root (a fresh one per trial, on tmpfs under /dev/shm; the binaries hard-linked from one copy): "
        "static busybox (`/bin/busybox` of busybox-static) with its applets linked in /bin; herd's static "
        f"`{'`, `'.join(MYINIT_BINS)}`" + (" and `svlog`" if "svlog" in root.get("binaries", []) else "")
        + " in /usr/bin (the snapshot of the general notes; no libraries in the root); "
        "`/sbin/my_init -> /usr/bin/svscan`; `/dev/null` (busybox sh gives a background job /dev/null as stdin); "
        "`/etc/container_environment/FOO` = `orig`; `/etc/my_init.d/10_change_env` (writes `changed` to that "
        "file) and `20_see_env`, then `/etc/rc.local`, each logging the `FOO` it sees; "
        "`/etc/my_init.pre_shutdown.d/10` and `/etc/my_init.post_shutdown.d/10`, logging `pre` and `post`; "
        f"{MYINIT_SERVICES} services `/etc/service/s00` … `s{MYINIT_SERVICES - 1:02d}` whose `run` is "
        "`#!/bin/sh`, `trap 'echo NAME got TERM >> /out/term; exit 0' 1 2 3 6 15`, `echo NAME up >> /out/up`, "
        "then `while :; do sleep 1 & wait; done`; "
        f"`s{MYINIT_SERVICES - 1:02d}` also has `log/run` = `exec` {log}. The TERM-ignoring variants add "
        f"`/etc/service/{MYINIT_STUBBORN}` with `trap '' 15` instead.")
    ok = res.get("myinit_startup_ok", "herd")
    if ok:
        notes.append(
            "Run as `unshare --pid --fork --mount-proc=ROOT/proc --kill-child chroot ROOT /sbin/my_init` with "
            f"`PATH={MYINIT_PATH}` and nothing else in the environment (plus `KILL_PROCESS_TIMEOUT` in its "
            "variants), stdout and stderr to files. Start-up went as phusion's does (10_change_env saw "
            "`FOO=orig`, 20_see_env and rc.local `FOO=changed`, before any service) in "
            f"{sum(1 for x in ok if x)} of {len(ok)} trials.")
    notes.append(
        f"Shutdown ({cfg.myinit_trials} trial(s) per variant, the variants in a rotating order): the harness waits "
        f"(bounded at {MYINIT_UP_BOUND_S:g} s) until every service has written its `up` line, then "
        f"{STOP_SETTLE_S:g} s more, sends SIGTERM to my_init (its host pid) and times until the unshare process "
        "exits (it does when its child, the namespace's init, has exited), seen through a pidfd, as in the "
        "scanners' PID-1 shutdown above. Each stop is bounded at "
        f"{MYINIT_STOP_BOUND_S:g} s. TERM handlers = distinct `NAME got TERM` lines; exit status = unshare's, "
        "which passes on my_init's; shutdown scripts = the `pre`/`post` lines written after the SIGTERM.")
    notes.append(
        "Timeouts: with neither `KILL_PROCESS_TIMEOUT` nor `KILL_ALL_PROCESSES_TIMEOUT` set, herd's my_init has "
        "one 7 s bound for the whole stop (at the bound everything left is SIGKILLed, exit 124). With "
        f"`KILL_PROCESS_TIMEOUT={MYINIT_KILL_PROCESS_TIMEOUT}` alone, the services get "
        f"{MYINIT_KILL_PROCESS_TIMEOUT} s; "
        "then the post-shutdown scripts run, everything left gets SIGTERM and SIGCONT, and "
        "`KILL_ALL_PROCESSES_TIMEOUT` (5 s when unset) later what is still there is SIGKILLed: a service that "
        f"ignores TERM is killed at {MYINIT_KILL_PROCESS_TIMEOUT} + 5 = "
        f"{int(MYINIT_KILL_PROCESS_TIMEOUT) + 5} s (docs/migrating-from-phusion.md). phusion's sequence "
        "(../shared/reference/peers.md §4): pre-shutdown scripts, `sv -w $KILL_PROCESS_TIMEOUT force-stop` of every "
        "service, SIGTERM to runsvdir, `sv status` polled every 0.1 s, post-shutdown scripts, then `kill(-1, "
        "SIGTERM)` and up to `KILL_ALL_PROCESSES_TIMEOUT` before SIGKILL; 30 s and 30 s by default.")
    stop, nolog = median(res.get("myinit_stop_ms", "herd")), median(res.get("myinit_stop_nolog_ms", "herd"))
    if stop is not None and nolog is not None:
        notes.append(
            f"With and without the `log/`: {fmt(stop, 1)} ms and {fmt(nolog, 1)} ms. When "
            f"s{MYINIT_SERVICES - 1:02d}'s trap runs `exit 0`, the `sleep 1` it started in the background lives on "
            "(re-parented to my_init) and still holds the log pipe as its stdout. While the supervisors stop, svscan "
            "sends SIGTERM every 10 ms to processes orphaned since the stop began, so that `sleep` ends at once, the "
            "logger reads EOF and its `supervise` exits (before that sweep existed, this cost up to 1 s here, and a "
            "`sleep 100 &` held the stop until the bound). Daemons left by start-up scripts are not swept early: "
            "they are stopped after the services, as phusion does.")
    notes.append(
        "A service that ignores TERM is SIGKILLed by its supervise after three quarters of the bound (5.25 s of "
        "the default 7 s; with `KILL_PROCESS_TIMEOUT=3`, at 3 s, as phusion's `sv force-stop` would), its logger "
        "drains, the post-shutdown scripts run, and my_init exits 124.")
    errs = res.extra.get("myinit_stderr", {})
    if errs.get("myinit_stopx"):
        warn = [x for x in errs["myinit_stopx"].splitlines() if not x.startswith("***")]
        if warn:
            notes.append(f"my_init's stderr in the TERM-ignoring variant ends with `{warn[-1]}` (progress lines "
                         "`*** …` as phusion's; full texts under `extra.myinit_stderr` in the JSON).")
    notes.append(
        f"Memory (in the default variant's trials, just before the SIGTERM, {MYINIT_SERVICES} services and the "
        "logger up): `Rss` and `Pss` from `/proc/PID/smaps_rollup` of my_init, and of each of its children named "
        "`supervise` (herd's supervise runs `log/run` itself: one process per service). The binaries are on "
        "tmpfs here, so their text pages count as dirty and private dirty is not reported (RSS and PSS do not "
        "depend on it). phusion's 11.8 MB is the RSS of its Python my_init alone; its runsvdir and one runsv per "
        "service come on top.")
    counts = "; ".join(
        f"{label}: up {fmt(median(res.get(f'{k}_up', 'herd')), 0)} of {MYINIT_SERVICES}, TERM handlers run "
        f"{fmt(median(res.get(f'{k}_clean', 'herd')), 0)}"
        for k, label in (("myinit_cmd", "with the `log/`"), ("myinit_cmd_nolog", "without"))
        if res.get(f"{k}_up", "herd"))
    notes.append(
        f"Main command: `my_init -- sh -c 'exit 3'` in the same tree, and in the tree without the `log/` (each "
        f"bounded at {MYINIT_CMD_BOUND_S:g} s), timed from just before the unshare process is spawned to its exit: "
        "start-up scripts, the services started, `sh` run and exited at once, then the whole stop (with the "
        "`log/` effect above: the `sleep 1` of s09 has just started). Services by the time my_init exited, "
        f"medians: {counts or 'none recorded'}. \"Spawn → all services up\" is from the same kind of spawn to the "
        "last service's stamp (the stamp helper, static, copied into the root and run by each `run` after its "
        "`up` line), in the default variant.")
    ns = res.get("myinit_ns_ms", "harness")
    if ns:
        notes.append(
            f"Part of every spawn-to-exit figure: the namespace and chroot alone (`unshare … chroot ROOT /bin/true` "
            f"in the same kind of root) take {fmt(median(ns), 1)} ms median (p90 {fmt(p90(ns), 1)} ms) here.")
    notes.append(
        "phusion's column is not measured here: there is no phusion my_init on this machine (a Python script in "
        "phusion's Docker image, which the harness does not fetch). Its figures come from "
        "`../shared/reference/peers.md` §4 (phusion's my_init read from master, then run elsewhere with its paths "
        "moved to /tmp, with one TERM-trapping service): 30 s + 30 s default timeouts (its README admits Docker "
        "kills at 10 s; the same setup takes about 30 s), 3.84 s with `KILL_PROCESS_TIMEOUT=3` and exit 2, exit 2 "
        "after any SIGTERM, `sh -c 'exit 3'` gives 3, ~11.8 MB RSS.")
    return notes


def goal_rows(res: Results) -> list[tuple[str, str, str, str]]:
    """(goal, measured, verdict, JSON keys) per goal of issue 8, from this run's samples."""
    none = "not measured in this run"
    rows = []

    def verdict(ok: bool, miss: str) -> str:
        return "met" if ok else f"**missed** by {miss}"

    def rng(xs: list) -> str:
        return f"{fmt(min(xs), 1)}–{fmt(max(xs), 1)} ms"

    xs = res.get("scan_pickup_ms", "herd")
    g = "Pickup of a new service, p90 ≤ 20 ms (herd `svscan`)"
    keys = "`scan_pickup_ms`"
    if xs:
        v = p90(xs)
        rows.append((g, f"{fmt(v, 1)} ms (p90 of {len(xs)}; median {fmt(median(xs), 1)} ms)",
                     verdict(v <= 20, f"{fmt(v - 20, 1)} ms"), keys))
    else:
        rows.append((g, none, "—", keys))

    g = f"`sv -w {SV_WAIT} restart` ≤ 20 ms (herd `sv`, median)"
    keys = "`sv_restart_ms`"
    hh, hr = res.get("sv_restart_ms", "herd-sv:herd"), res.get("sv_restart_ms", "herd-sv:runit")
    if hh:
        v = median(hh)
        also = f"; {fmt(median(hr), 1)} ms against runit's `runsv`" if hr else ""
        rows.append((g, f"{fmt(v, 1)} ms, herd `sv` → herd `supervise`, median of {len(hh)} (p90 "
                        f"{fmt(p90(hh), 1)} ms){also}", verdict(v <= 20, f"{fmt(v - 20, 1)} ms"), keys))
    else:
        rows.append((g, none, "—", keys))

    g = f"Start of {START_SIZES[-1]} services in ≤ half of runsvdir's time"
    keys = f"`scan_start{START_SIZES[-1]}_ms`"
    h_, r_ = res.get(f"scan_start{START_SIZES[-1]}_ms", "herd"), res.get(f"scan_start{START_SIZES[-1]}_ms", "runit")
    if h_ and r_:
        a, b = median(h_), median(r_)
        rows.append((g, f"{fmt(a, 0)} ms vs runsvdir's {fmt(b, 0)} ms ({a / b:.2f}×), medians",
                     verdict(a <= b / 2, f"{fmt(a - b / 2, 0)} ms (half of runsvdir's is {fmt(b / 2, 0)} ms)"), keys))
    else:
        rows.append((g, none + (" (no runsvdir figure)" if h_ else ""), "—", keys))

    g = f"PID 1, {STOP_SERVICES} services: {STOP_SERVICES}/{STOP_SERVICES} clean shutdown in ≤ s6-svscan's time"
    keys = "`scan_stop_ms`, `scan_stop_clean`"
    h_, s_ = res.get("scan_stop_ms", "herd"), res.get("scan_stop_ms", "s6")
    clean = res.get("scan_stop_clean", "herd")
    if h_ and s_ and clean:
        a, b, c = median(h_), median(s_), min(clean)
        ok_t, ok_c = a <= b, c == STOP_SERVICES
        miss = []
        if not ok_t:
            miss.append(f"{fmt(a - b, 0)} ms (medians of {len(h_)} and {len(s_)} trials; herd {rng(h_)}, "
                        f"s6 {rng(s_)})")
        if not ok_c:
            miss.append(f"{STOP_SERVICES - c} unclean stop(s)")
        measured = f"{fmt(a, 0)} ms vs s6-svscan's {fmt(b, 0)} ms (medians); clean {c}/{STOP_SERVICES} " + (
            "in every trial" if ok_c else "in the worst trial")
        rows.append((g, measured, "met" if ok_t and ok_c else "**missed** by " + " and ".join(miss), keys))
    else:
        rows.append((g, none + (" (no s6-svscan figure)" if h_ else ""), "—", keys))

    bound_ms = DEFAULT_STOP_S * 1000
    g = (f"PID 1, {STOP_SERVICES} services, one ignores TERM: exit within the bound + 0.2 s "
         f"({DEFAULT_STOP_S:g} s, svscan's default) with {STOP_SERVICES - 1}/{STOP_SERVICES} clean")
    keys = "`scan_stopx_ms`, `scan_stopx_clean`"
    h_, clean = res.get("scan_stopx_ms", "herd"), res.get("scan_stopx_clean", "herd")
    if h_ and clean:
        worst, c = max(h_), min(clean)
        ok_t, ok_c = worst <= bound_ms + 200, c == STOP_SERVICES - 1
        miss = ([] if ok_t else [f"{fmt(worst - bound_ms - 200, 0)} ms"]) + \
               ([] if ok_c else [f"{STOP_SERVICES - 1 - c} unclean stop(s)"])
        rows.append((g, f"{fmt(worst, 0)} ms at worst ({len(h_)} trials, median {fmt(median(h_), 0)} ms); "
                        f"clean TERMs {c} of the {STOP_SERVICES - 1} that trap it, at worst",
                     "met" if ok_t and ok_c else "**missed** by " + " and ".join(miss), keys))
    else:
        rows.append((g, none, "—", keys))

    g = "PSS per supervisor ≤ 100 KiB (100 running at once)"
    keys = "`pss_many_100`, `pss_nolog`"
    xs, lone = res.get("pss_many_100", "herd"), res.get("pss_nolog", "herd")
    if xs:
        v = median(xs)
        rows.append((g, f"{fmt(v, 0)} KiB per `supervise` with 100 at once"
                        + (f"; a lone instance: {fmt(median(lone), 0)} KiB (static: its text is shared with no "
                           "other process)" if lone else ""), verdict(v <= 100, f"{fmt(v - 100, 0)} KiB"), keys))
    else:
        rows.append((g, none, "—", keys))

    g = "0 idle wakeups (supervise and scanner)"
    keys = "`wakeups`, `scan_wakeups_min`, `scan_wakeups_self_min`"
    sup, scan, own = (res.get(k, "herd") for k in ("wakeups", "scan_wakeups_min", "scan_wakeups_self_min"))
    if sup or scan:
        parts, bad = [], []
        for label, xs_, unit in (("`supervise`", sup, "per 20 s"),
                                 (f"`svscan` + its {SCAN_SERVICES} `supervise`", scan, "per minute"),
                                 ("`svscan` alone", own, "per minute")):
            if xs_:
                parts.append(f"{label} {fmt(median(xs_), 1)} {unit}")
                if median(xs_) > 0:
                    bad.append(f"{label} {fmt(median(xs_), 1)} {unit}")
            else:
                parts.append(f"{label} not measured")
        done = bool(sup and scan)
        rows.append((g, "; ".join(parts), ("met" if done else "met where measured") if not bad else
                     "**missed**: " + ", ".join(bad), keys))
    else:
        rows.append((g, none, "—", keys))

    g = f"PID 1: 0 zombies {ZOMBIE_CHECK_S:g} s after {ORPHANS} orphans, and all reaped within 100 ms"
    keys = "`scan_zombies_2s`, `scan_zombies_gone_ms`"
    z, gone = res.get("scan_zombies_2s", "herd"), res.get("scan_zombies_gone_ms", "herd")
    if z and gone:
        zw, gw = max(z), max(gone)
        miss = ([] if zw == 0 else [f"{zw} zombie(s) at {ZOMBIE_CHECK_S:g} s"]) + \
               ([] if gw <= 100 else [f"{fmt(gw - 100, 0)} ms"])
        rows.append((g, f"{zw} zombies at {ZOMBIE_CHECK_S:g} s, all reaped {fmt(gw, 0)} ms after the last orphan "
                        f"(worst of {len(gone)} trials)", "met" if not miss else "**missed** by " + " and ".join(miss),
                     keys))
    else:
        rows.append((g, none, "—", keys))

    g = "`svlog` ≥ 150 MB/s with CPU ≤ s6-log's, 0 lines lost"
    keys = "`log_mbps`, `log_cpu_s`, `log_lost`, `log_duplicated`, `log_malformed`"
    mb, cpu, s6cpu = res.get("log_mbps", "herd"), res.get("log_cpu_s", "herd"), res.get("log_cpu_s", "s6")
    if mb and cpu:
        lost = sum(sum(res.get(k, "herd")) for k in ("log_lost", "log_duplicated", "log_malformed"))
        m_, c_ = median(mb), median(cpu)
        c6 = median(s6cpu) if s6cpu else None
        miss = ([] if m_ >= 150 else [f"{fmt(150 - m_, 1)} MB/s"]) + \
               ([] if c6 is None or c_ <= c6 else [f"{fmt(c_ - c6, 2)} s of CPU"]) + \
               ([] if lost == 0 else [f"{lost} lines lost, duplicated or malformed"])
        rows.append((g, f"{fmt(m_, 1)} MB/s, CPU {fmt(c_, 2)} s vs s6-log's "
                        + (f"{fmt(c6, 2)} s" if c6 is not None else "(not measured)")
                        + f" (medians of {len(mb)}); lost, duplicated or malformed: {lost}",
                     ("met" if c6 is not None else "met where measured (no s6-log figure)") if not miss
                     else "**missed** by " + " and ".join(miss), keys))
    else:
        rows.append((g, none, "—", keys))
    return rows


def render_goals(L: list[str], res: Results) -> None:
    L.append("## Goals")
    L.append("")
    L.append("The goals of issue 8, checked against this run's samples (a goal whose section was not run says so).")
    L.append("")
    L.append("| goal | measured | verdict | from (JSON `samples`) |")
    L.append("|---|---|---|---|")
    for g, m, v, k in goal_rows(res):
        L.append(f"| {g} | {m} | {v} | {k} |")
    L.append("")


# herd binary → its runit equivalent
RUNIT_EQUIVALENTS = (("svscan", "/usr/bin/runsvdir"), ("supervise", "/usr/bin/runsv"), ("sv", "/usr/bin/sv"),
                     ("svlog", "/usr/bin/svlogd"), ("chpst", "/usr/bin/chpst"))


def binary_sizes(herd_dir: Path) -> dict:
    """Sizes and linkage of herd's binaries in --herd-dir and of runit's equivalents, and runit's libc."""
    rows = []
    for name, peer in RUNIT_EQUIVALENTS:
        row = {"herd": name, "runit": peer}
        for side, path in (("herd", herd_dir / name), ("runit", Path(peer))):
            if os.access(path, os.X_OK):
                real = os.path.realpath(path)
                row[f"{side}_bytes"] = os.path.getsize(real)
                row[f"{side}_linkage"] = elf_linkage(real)
        rows.append(row)
    libc = next((w for w in sh(["ldd", "/usr/bin/runsv"]).split() if w.endswith("/libc.so.6")), None)
    out = {"rows": rows}
    if libc and os.path.exists(libc):
        out["libc"] = {"path": libc, "bytes": os.path.getsize(os.path.realpath(libc))}
    return out


def render_sizes(L: list[str], res: Results) -> None:
    L.append("## Binary sizes")
    L.append("")
    sizes = res.extra.get("binary_sizes")
    if not sizes:
        L.append("Not recorded in this run (its JSON predates the table).")
        L.append("")
        return
    L.append("| herd | size (KiB) | linkage | runit | size (KiB) | linkage |")
    L.append("|---|---:|---|---|---:|---|")
    for r in sizes["rows"]:
        def kib(side):
            b = r.get(f"{side}_bytes")
            return "—" if b is None else f"{b / 1024:.0f}"
        L.append(f"| `{r['herd']}` | {kib('herd')} | {r.get('herd_linkage', 'not found')} | `{r['runit']}` | "
                 f"{kib('runit')} | {r.get('runit_linkage', 'not found')} |")
    L.append("")
    libc = sizes.get("libc")
    L.append(f"- herd's from `{sizes.get('herd_dir', '--herd-dir')}`, runit's from the Debian package "
             "(`dpkg -L runit`); file sizes, 1 KiB = 1024 bytes. herd's binaries are static (glibc linked in: `just release` builds "
             "them with `+crt-static`, non-PIE), so each one runs alone in a `FROM scratch` image and needs no "
             "library; runit's are dynamically linked"
             + (f" and also map `{libc['path']}` ({libc['bytes'] / 1024:.0f} KiB), which every dynamic program "
                "shares" if libc else "") + ".")
    L.append("")


def fs_of(path: Path) -> str:
    """The file system type of the mount holding `path`, from /proc/self/mountinfo."""
    best, kind = "", "unknown"
    try:
        for line in open("/proc/self/mountinfo"):
            fields = line.split()
            mnt = fields[4]
            fstype = fields[fields.index("-") + 1]
            if (str(path) == mnt or str(path).startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                best, kind = mnt, fstype
    except (OSError, ValueError, IndexError):
        pass
    return kind


def logger_notes(cfg: Config, loggers: list[Logger], res: Results) -> list[str]:
    keys = [lg.key for lg in loggers]
    n = cfg.log_bytes // LOG_LINE
    notes = []
    cmd = []
    for lg in loggers:
        shown = " ".join(os.path.basename(lg.path) if j == 0 else a
                         for j, a in enumerate(lg.argv(Path("DIR"))))
        cmd.append(f"{lg.key}: `{shown}`" + (f" with `DIR/config` = `s{LOG_FILE_SIZE}`, `n{LOG_KEEP}`"
                                            if lg.config else ""))
    notes.append(
        "Command lines: " + "; ".join(cmd) + ". Every one rotates `current` at 10 MB and keeps 5 old files "
        f"(`@….s`). DIR is a fresh directory on disk ({res.extra.get('log_fs', '?')}, under /var/tmp), "
        "made by the harness. Timestamps: svlog and svlogd `-tt` write `YYYY-MM-DD_HH:MM:SS.xxxxx` and a space, "
        "multilog and s6-log `t` write `@` + 24 hex digits (TAI64N) and a space: 26 bytes each, so every "
        f"{LOG_LINE}-byte input line is a {LOG_TS + 1 + LOG_LINE}-byte line in the files.")
    if "s6" in keys and "s6-b" in keys:
        notes.append(
            "s6-log is run in its default mode and with `-b` (blocking: it stops reading stdin while it has "
            "unflushed buffers, as multilog does; by default it reads on and buffers in memory).")
    wnull = median(res.get("log_writer_null_mbps", "harness"))
    wpipe = median(res.get("log_writer_pipe_mbps", "harness"))
    wcpu = [x for k in keys for x in res.get("log_writer_cpu_s", k)]
    notes.append(
        f"Throughput ({cfg.log_trials} trials, the loggers interleaved in a rotating order, each run bounded at "
        f"{LOG_BOUND_S:g} s): {n} lines ({cfg.log_bytes / 1e6:g} MB), line k being the 10-digit zero-padded k, "
        f"a `-` and {len(LOG_FILLER)} filler characters, from a C writer (`bench/loggen.c`, 64,000-byte writes) "
        "through a pipe to the logger's stdin. The logger is started first; the clock starts just before the writer "
        "is spawned, once the logger has made `current`, and stops when the logger exits at EOF (pidfd), after its "
        "last write, fsync and close; MB/s = input bytes (10^6) / that time. CPU time and peak RSS are the "
        "logger's own, from `wait4` in a small static parent (`loggen -x`) that forks and execs it (a peak RSS "
        "carries over an exec: forked from the Python harness, every logger would show Python's). On this kernel "
        "`ru_maxrss` reads about 150 KiB below the `VmHWM` that /proc shows for the same process (svlog, checked "
        "by hand), so compare it across columns, not with the idle RSS row. The harness runs `sync` before each run and deletes the run's files after "
        "it is checked.")
    if wnull is not None:
        notes.append(
            f"The writer is not the bottleneck: alone, `loggen` writes the {cfg.log_bytes / 1e6:g} MB at "
            f"{fmt(wnull, 0)} MB/s into /dev/null and at {fmt(wpipe, 0)} MB/s through a pipe into a reader that "
            f"discards it (`loggen -s`), medians of {cfg.writer_trials}; its CPU time while feeding the loggers "
            f"was {fmt(min(wcpu, default=None), 2)}–{fmt(max(wcpu, default=None), 2)} s per run.")
    unlinked = sum(x for k in keys for x in res.get("log_unlinked", k))
    other = res.extra.get("log_other_files")
    notes.append(
        "Lines are checked in the files, after the logger exited: each rotated file is hard-linked into a side "
        "directory as soon as inotify reports it (so the logger's deletion of old files, `n5`, frees nothing "
        "the check needs), then the rotated files are read in name order and `current` last. A line must be "
        f"{LOG_TS + 1 + LOG_LINE} bytes: a {LOG_TS}-character timestamp, a space and one of the input lines, "
        "byte for byte, else it counts as malformed. Lost = input lines never found; duplicated = extra copies. "
        "The input ends with a newline, so svlogd's loss of a last line without one does not apply. "
        + ("Every rotated file was linked before the logger deleted it." if not unlinked else
           f"{unlinked} rotated file(s) were deleted before the harness could link them: their lines count as "
           "lost (a harness limit, see `log_unlinked` in the JSON).")
        + (f" Files other than `@….s`, `current`, `lock`, `state`, `config` left in DIR: {other}." if other else ""))
    over = {k: max(res.get("log_largest_file", k)) for k in keys
            if res.get("log_largest_file", k) and max(res.get("log_largest_file", k)) > LOG_FILE_SIZE}
    if over:
        notes.append(f"Files larger than the {LOG_FILE_SIZE}-byte limit: "
                     + ", ".join(f"{k} up to {v} bytes (+{v - LOG_FILE_SIZE})" for k, v in over.items())
                     + ". The others rotate before a line that would not fit.")
    kept = {k: median(res.get("log_kept", k)) for k in keys
            if res.get("log_kept", k)
            and median(res.get("log_kept", k)) != min(LOG_KEEP, median(res.get("log_rotated", k)))}
    if kept:
        notes.append(f"Old files left with `n{LOG_KEEP}` after {fmt(median(res.get('log_rotated', keys[0])), 0)} "
                     "rotations: " + ", ".join(f"{k} {fmt(v, 0)}" for k, v in kept.items())
                     + f" (the others {LOG_KEEP}).")
    notes.append(
        "System calls, counted by hand with `strace -c` for 100,000 lines (10 MB, one rotation): svlogd makes one "
        "`write` per line (100,000) and reads stdin in 1 KiB pieces (its default `-b`), each after a `poll` "
        "(9,772 `read`s); multilog 29,297 `write`s and 9,768 `read`s; s6-log 1,221 `write`s and 1,222 `readv`s "
        "(2,443 `ppoll`s with `-b`); svlog 314 `write`s, 320 `read`s (159 of them EAGAIN) and 158 `ppoll`s. That "
        "is most of the difference in system time. All but multilog set O_NONBLOCK on stdin.")
    breaks = {k: sum(res.get("log_breaks", k)) for k in keys if sum(res.get("log_breaks", k))}
    if breaks:
        notes.append("Lines out of sequence (a number other than the previous + 1; a lost line also makes one): "
                     + ", ".join(f"{k} {v}" for k, v in breaks.items()) + ".")
    flushed = {k: res.get("log_idle_flushed", k) for k in keys}
    notes.append(
        f"Idle wakeups: one {cfg.log_window_s:g} s window, all loggers side by side, each on its own pipe that the "
        f"harness holds open; {LOG_IDLE_LINES} lines are written to each, then the window opens "
        f"{WAKEUP_SETTLE_S:g} s later; voluntary + nonvoluntary context switches of the logger, scaled to 20 s. "
        "Idle RSS and private dirty: `smaps_rollup` of each logger just before that window (the loggers run "
        "side by side here, so PSS, which two s6-log instances would split, is not reported). "
        "Lines in `current` at the end of the window (of "
        f"{LOG_IDLE_LINES}): " + ", ".join(f"{k} {v[0] if v else '—'}" for k, v in flushed.items()) + ".")
    h = "herd"
    if h in keys:
        mbps, cpu = median(res.get("log_mbps", h)), median(res.get("log_cpu_s", h))
        s6cpu = median(res.get("log_cpu_s", "s6"))
        lost = sum(res.get("log_lost", h)) + sum(res.get("log_duplicated", h)) + sum(res.get("log_malformed", h))
        wake = median(res.get("log_wakeups", h))

        def verdict(ok):
            return "—" if ok is None else "met" if ok else "**not met**"

        notes.append(
            "Goal for svlog (issue): ≥ 150 MB/s: " + f"{fmt(mbps, 1)} MB/s, {verdict(None if mbps is None else mbps >= 150)}; "
            "CPU ≤ s6-log's (default mode): " + f"{fmt(cpu, 2)} s vs {fmt(s6cpu, 2)} s, "
            f"{verdict(None if cpu is None or s6cpu is None else cpu <= s6cpu)}; 0 lines lost, duplicated or "
            f"malformed: {lost}, {verdict(lost == 0 if res.get('log_lost', h) else None)}; 0 idle wakeups: "
            f"{fmt(wake, 1)}, {verdict(None if wake is None else wake == 0)}.")
    return notes


def general_notes(cfg: Config, flavors: list[Flavor], scanners: list[Scanner], res: Results) -> list[str]:
    notes = []
    notes.append("Flavors are interleaved within each trial, and the order rotates from trial to trial. "
                 "Scratch service and scan directories are on tmpfs (/dev/shm); herd's binaries, the "
                 "files the PID-1 services log to and the loggers' log directories are on disk (/var/tmp).")
    hb = res.extra.get("herd_binaries", {})
    if hb:
        srcs = {os.path.relpath(os.path.dirname(b["source"]), ROOT) for b in hb.values()}
        notes.append(
            f"herd's binaries ({', '.join(f'`{k}`' for k in hb)}) were copied from `{', '.join(sorted(srcs))}` at "
            "the start of the run (sha256 " + ", ".join(f"{k} `{b['sha256'][:12]}…` {b['bytes']} bytes"
                                                         for k, b in hb.items())
            + ") and the copies measured, so a rebuild during the run cannot change them. The copies are on disk "
            "and synced: smaps counts a file page as dirty until it is written back, so a freshly built binary "
            "(or one on tmpfs) would show its text as Private_Dirty. svscan runs the `supervise` next to it.")
    link = res.extra.get("linkage", {})
    if link:
        notes.append(
            "Linkage: " + ", ".join(f"{k} {v}" for k, v in link.items()) + ". A dynamically linked "
            "program shares libc's pages with every other process, which keeps its PSS low; a static "
            "one shares its pages only with other instances of itself, so a lone instance's PSS is close "
            "to its RSS.")
    wall = median(res.get("overhead_spawn_wait_ms", "harness"))
    to_stamp = median(res.get("overhead_spawn_to_stamp_ms", "harness"))
    run = median(res.get("overhead_run_capture_ms", "harness"))
    if wall is not None:
        notes.append(
            f"Harness overhead: the stamp helper ({res.extra.get('stamp_link', 'gcc')}), spawned "
            f"{cfg.overhead_calls} times from Python with `posix_spawn`: {fmt(wall, 3)} ms per call "
            f"(spawn, stamp, exit, reap), median; {fmt(to_stamp, 3)} ms from the spawn call to the stamp; "
            f"{fmt(run, 3)} ms through `subprocess.run` with captured output (as the sv clients are run). "
            "Stamps are taken inside the supervised processes, so the harness's polling does not enter any "
            "timing; an exec of the helper is part of every start (as an exec of `run` is in real use).")
    for fl in res.extra.get("unavailable", []):
        notes.append(f"{fl} was skipped: not executable.")
    if res.extra.get("left_out"):
        notes.append(f"Left out with `--only`: {', '.join(res.extra['left_out'])}.")
    return notes


def supervise_notes(cfg: Config, flavors: list[Flavor], res: Results) -> list[str]:
    notes = []
    notes.append(
        f"Samples per flavor: memory {cfg.mem_trials} trials; {' and '.join(map(str, MANY_SIZES))} at once "
        f"{cfg.many_trials} trial(s) each; wakeups one {cfg.wakeup_window_s:g} s window "
        f"(all supervisors idle side by side, scaled to 20 s); restart {cfg.restart_trials}×{cfg.restart_per_trial}; "
        f"crash loop {cfg.crash_trials}×{cfg.crash_per_trial} intervals; control restart "
        f"{cfg.control_trials}×{cfg.control_per_trial}.")
    notes.append(
        "Memory: `Rss`, `Pss` and `Private_Dirty` from `/proc/PID/smaps_rollup` of the supervisor process only (not `run`, "
        f"not the logger), {SETTLE_S:g} s after `run` (and `log/run`) started. `run` is `exec sleep`, "
        "`log/run` is `exec cat` with output to /dev/null. One supervisor runs at a time (except in the "
        "² row), so no two instances of one binary split shared pages: PSS is that of a lone instance. With "
        "many services, text pages are shared and PSS per instance drops: the \"N running at once\" "
        "rows are the mean PSS and private dirty of N supervisors of one flavor started together (median over "
        f"{cfg.many_trials} trial(s)), closer to the per-service cost under a scanner. PSS also depends on how many "
        "other processes on the machine map the same libc pages, so compare columns from one run only. Private dirty "
        "(heap, stack, written data) is what each further instance costs no matter how pages are shared.")
    notes.append(
        "Idle wakeups: voluntary + nonvoluntary context switches from `/proc/PID/status` of each supervisor, "
        f"with `run` and the logger up and idle; the window opens {WAKEUP_SETTLE_S:g} s after both started, "
        "to leave out one-off start-up work (daemontools' supervise wakes once, 1 s after starting `run`).")
    notes.append(
        f"Restart: `run` stamps CLOCK_MONOTONIC at start (the stamp helper is `run` itself), runs "
        f"`sleep {RUN_LIFE_S}`, then execs the stamp helper, which stamps and exits. Latency = next start stamp "
        "− exit stamp: it covers the exit, the supervisor's reaction, fork and exec of `run`. "
        "Crash loop: `run` stamps and exits at once; interval = between consecutive start stamps. "
        "The timing scenarios use services without `log/`.")
    notes.append(
        "Control restart: from just before the harness writes `t` to `supervise/control` (herd, runsv, "
        "daemontools) or runs `s6-svc -r DIR` (s6; includes spawning s6-svc) to the new `run`'s start stamp. "
        f"Each restart is sent at least {THROTTLE_CLEAR_S:g} s after the previous start, past every 1 s throttle. "
        "`sv` is measured in its own section below.")
    if any(fl.key == "s6" for fl in flavors):
        notes.append(
            "s6-supervise waits 1 s before every restart unless the service was *ready* for more than 1 s "
            "(these services have no readiness notification), so its restart and control-restart times "
            "are about 1 s by design, not by cost.")
    for metric in ("restart_ms", "crash_ms", "control_ms"):
        empty = [fl.key for fl in flavors if not res.get(metric, fl.key)]
        if empty:
            notes.append(f"No `{metric}` samples for: {', '.join(empty)}.")
    return notes


def sv_notes(cfg: Config, res: Results) -> list[str]:
    notes = []
    run = median(res.get("overhead_run_capture_ms", "harness"))
    notes.append(
        f"Columns: client → supervisor. herd's `sv` (static) and runit's `/usr/bin/sv` (dynamic) drive the same "
        f"supervisor binaries: one service per column, idle `run` (`exec sleep`). {cfg.sv_trials} trials; in each, "
        f"every column gets one restart, then one start, then {cfg.sv_status_per_trial} status calls, the columns "
        "in rotating order. Wall time is from just before `subprocess.run` to its return (client started with "
        f"`PATH` only, output captured); the same call on the do-nothing stamp helper takes "
        f"{fmt(run, 2)} ms (general notes), which is part of every figure here.")
    notes.append(
        f"`sv -w {SV_WAIT} restart DIR`: sent at least {THROTTLE_CLEAR_S:g} s after the service's last start, so no "
        "supervisor throttles it, and the 1-second resolution of sv's `ok` test (the status time must be before "
        "sv's start second) is past: both clients wait for the new process. \"→ new `run` started\" is the new "
        "`run`'s own start stamp minus the invocation time.")
    notes.append(
        f"`sv start DIR` (default wait, {SV_WAIT} s): the harness first writes `d` to `supervise/control` "
        f"(at least {THROTTLE_CLEAR_S:g} s after the last start: runsv sleeps 1 s after a `run` that lived less "
        "than 1 s) and waits until `supervise/status` says down; then times `sv start`, which writes `u` and waits "
        "until the service is up. `sv status DIR`: a running service.")
    notes.append(
        "runit's `sv` checks once right after writing and then every 420 ms, so a restart or start costs it at "
        "least one 420 ms sleep whatever the supervisor (unless its first check already succeeds); herd's `sv` "
        "waits on inotify events on `supervise/` and returns as soon as the status file says the command took "
        "effect.")
    ino = res.get("overhead_inotify_close_ms", "harness")
    if ino:
        notes.append(
            "Kernel cost in herd's waiting commands: herd's `sv` removes its inotify watch and closes the fd "
            "before exiting (exiting with it open would pay the same). The harness did the same "
            f"(`inotify_add_watch`, `inotify_rm_watch`, `close`) {len(ino)} times, 50 ms apart: `close` took "
            f"{fmt(median(ino), 2)} ms median, {fmt(p90(ino), 2)} ms p90, {fmt(max(ino), 2)} ms max. The cost is "
            "bimodal (well under 1 ms, or 10–20 ms): the kernel may wait for an SRCU grace "
            "period when it tears down an inotify group that had marks. It lands in herd's `sv` wall times "
            "(not in the \"→ `run` started\" rows). In an strace here, herd's `sv start` from down found the "
            "service up at its first check (the supervisor starts `run` while handling the `u` write), so it "
            "never needed the watch; `sv status` does not use inotify.")
    return notes


def scanner_notes(cfg: Config, scanners: list[Scanner], res: Results) -> list[str]:
    keys = {s.key for s in scanners}
    notes = []
    notes.append(
        "Scanners run with `PATH=/usr/sbin:/usr/bin:/sbin:/bin` and nothing else in the environment: runsvdir "
        "starts `runsv` and daemontools' svscan `supervise` from PATH (the Debian binaries), s6-svscan "
        "`/usr/bin/s6-supervise`, herd's svscan the `supervise` copied next to it. Each service's `run` is the "
        "stamp helper (`exec sleep` after the stamp) unless said otherwise. Scan directories are on tmpfs.")
    pick = [f"{cfg.pickup_trials} trials"]
    if "s6" in keys:
        pick.append(f"s6 without a trigger {cfg.pickup_untriggered_trials}")
    notes.append(
        f"Pickup ({', '.join(pick)}; each bounded at {PICKUP_BOUND_S:g} s, the whole scenario capped at "
        f"{cfg.pickup_cap_s:g} s): each scanner runs on its own scan dir; a complete service dir (`run` in place) "
        "is prepared on the same tmpfs and renamed into the scan dir; latency = the new `run`'s start stamp − "
        f"the time just before `rename(2)`. The scanner has been idle at least {PICKUP_IDLE_S:g} s before each "
        "trial (its previous pickup done). The scan dirs keep the services picked up so far. s6-svscan never "
        "scans on its own (no `-t`): the first row shows it without a trigger; the next rows with "
        "`s6-svscanctl -a DIR` run right after the rename (spawning s6-svscanctl is part of the time). "
        "runsvdir and daemontools' svscan look at the directory every 5 s, so their latency is spread over 0–5 s."
        + (f" {res.extra['scan_pickup_capped']}." if "scan_pickup_capped" in res.extra else ""))
    notes.append(
        f"Start of N services ({cfg.start_trials} trial(s) per N): N service dirs prepared in the scan dir; "
        "time from just before the scanner is spawned to the last of the N start stamps (all runs append to "
        f"one file); bounded at {START_BOUND_S:g} s. s6-svscan 2.11 is run with its default cap of 500 services.")
    notes.append(
        f"Shutdown as PID 1 ({cfg.stop_trials} trial(s) per variant): `unshare --pid --fork --mount-proc "
        f"--kill-child SCANNER DIR`, {STOP_SERVICES} services whose `run` is `#!/bin/sh` with `trap 'echo NAME >> "
        "FILE; exit 0' TERM` and `while :; do sleep 1 & wait; done` (FILE on disk); in the second variant one of "
        "them has `trap '' TERM` instead. Every service has been up at least "
        f"{STOP_SETTLE_S:g} s when the harness sends SIGTERM to the scanner (its host pid); the time runs until "
        "the unshare process exits (which it does when its child, the namespace's init, has exited; the kernel "
        "then kills whatever is left in the namespace), seen through a pidfd. Clean = distinct names in FILE. "
        f"Each trial is bounded at {STOP_BOUND_S:g} s: then the harness SIGKILLs the init (which empties the "
        "namespace), counts FILE, and leaves that flavor out of that variant's later trials"
        + (f" ({', '.join(res.extra['scan_stop_single_trial'])})" if res.extra.get("scan_stop_single_trial") else "")
        + ". Exit status: that of unshare, which passes on its child's (`signal N` when it was killed).")
    beh = []
    if "herd" in keys:
        beh.append("herd's svscan stops every service in parallel and exits when none is left, with its default "
                   "7 s bound (no `-t`, no `SVSCAN_STOP_TIMEOUT`): the TERM-ignoring service is SIGKILLed at 7 s and "
                   "svscan exits 124")
    if "runit" in keys:
        beh.append("runsvdir exits 0 at once on SIGTERM, leaving every runsv running: as PID 1 its exit makes the "
                   "kernel SIGKILL the whole namespace, so no service sees a TERM")
    if "daemontools" in keys:
        beh.append("daemontools' svscan has no SIGTERM handler and, as PID 1, the kernel drops the signal: it runs on")
    if "s6" in keys:
        beh.append("s6-svscan 2.11 (run as `s6-svscan DIR`, with no `.s6-svscan/` scripts of ours) shuts down on "
                   "SIGTERM: SIGTERM to every s6-supervise, waits for them, then exits; it has no global bound, so "
                   "a service that ignores TERM and has no `timeout-kill` file keeps it waiting")
    if beh:
        notes.append("What each does on SIGTERM as PID 1: " + "; ".join(beh) + ".")
    notes.append(
        f"Idle wakeups: one {cfg.scan_window_s:g} s window, all scanners side by side, each with {SCAN_SERVICES} idle "
        f"services, opened {WAKEUP_SETTLE_S:g} s after every `run` started; voluntary + nonvoluntary context "
        "switches of the scanner and its direct children (the supervisors, not the `run` processes), scaled to one "
        "minute. runsvdir and daemontools' svscan wake every 5 s by design (12 per minute for the scanner alone).")
    notes.append(
        f"Scanner memory ({cfg.scan_mem_trials} trial(s)): `smaps_rollup` of the scanner process alone, one scanner "
        f"at a time, {SETTLE_S:g} s after its {SCAN_SERVICES} services' `run`s started.")
    notes.append(
        f"Zombies ({cfg.zombie_trials} trial(s)): the scanner as PID 1 of a new pid namespace, with one service whose "
        f"`run` (`#!/bin/sh`) makes {ORPHANS} orphans with `( : & )` in a loop (each subshell exits at once, so its "
        "background child is reparented to PID 1 and exits), then stamps and execs `sleep`. The harness scans "
        "/proc for processes in state Z in that namespace from the stamp on: the count at "
        f"{ZOMBIE_CHECK_S:g} s, and the end of the first scan that found none (an upper bound: a scan takes "
        f"{fmt(max((x for k in keys for x in res.get('scan_zombies_scan_ms', k)), default=None), 1)} ms at most "
        f"here, and scans are {ZOMBIE_POLL_S * 1000:g} ms apart). Bounded at {ZOMBIE_BOUND_S:g} s.")
    return notes


def summaries(res: Results, cfg: Config, flavors: list[Flavor], scanners: list[Scanner],
              loggers: list[Logger]) -> dict:
    return {
        "supervise": summarize(res, SUPERVISE_ROWS, [fl.key for fl in flavors]),
        "sv": summarize(res, SV_ROWS, list(res.extra.get("sv_combos", {}))),
        "scanners": summarize(res, SCAN_ROWS, [sc.key for sc in scanners]),
        "loggers": summarize(res, log_rows(cfg), [lg.key for lg in loggers]),
        "myinit": summarize(res, MYINIT_ROWS, ["herd"]),
    }


def report_only(json_path: str, md_path: str) -> int:
    """Writes the report from a previous run's JSON (no measurement): for changes to the report itself."""
    try:
        data = json.loads(Path(json_path).read_text())
    except (OSError, ValueError) as e:
        print(f"bench: fatal: unable to read {json_path}: {e}", file=sys.stderr)
        return 111
    meta = data["meta"]
    base = FULL if not meta.get("quick") else QUICK
    known = {f.name for f in dataclasses.fields(Config)}
    cfg = dataclasses.replace(base, **{k: v for k, v in meta.get("config", {}).items() if k in known})
    res = Results(samples=data.get("samples", {}), failures=data.get("failures", []),
                  bounded=data.get("bounded", []), extra=data.get("extra", {}))
    herd_dir = ROOT / DEFAULT_HERD_DIR  # labels and command lines only: nothing is run

    def ran(group, keys):
        return [x for k in keys for x in group if x.key == k]

    flavors = ran(make_flavors(herd_dir), meta.get("flavors", {}))
    scanners = ran(make_scanners(herd_dir), meta.get("scanners", {}))
    loggers = ran(make_loggers(herd_dir), meta.get("loggers", {}))
    meta = {**meta, "report_only": os.path.relpath(os.path.realpath(json_path), ROOT),
            "report_date": sh(["date", "-u"])}
    summary = summaries(res, cfg, flavors, scanners, loggers)
    Path(md_path).write_text(render_md(meta, cfg, flavors, scanners, loggers, res, summary, meta.get("sections", [])))
    print(f"bench: wrote {md_path} from {json_path}", file=sys.stderr)
    return 0


def interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few samples, short windows (checks the harness)")
    ap.add_argument("--md", default=str(DOCS / "benchmarks.md"), help="report path")
    ap.add_argument("--json", default=str(DOCS / "benchmarks.json"), help="raw samples path")
    ap.add_argument("--herd-dir", default=str(ROOT / DEFAULT_HERD_DIR),
                    help=f"directory holding herd's supervise, svscan and sv (default {DEFAULT_HERD_DIR})")
    ap.add_argument("--note", action="append", default=[], help="a line for the report's notes (repeatable)")
    ap.add_argument("--only", default="", help="comma-separated flavor keys (herd,runit,daemontools,s6)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {','.join(SECTIONS)}")
    ap.add_argument("--report-only", metavar="JSON",
                    help="measure nothing: write the report (--md) from a previous run's raw samples")
    args = ap.parse_args()
    if args.report_only:
        return report_only(args.report_only, args.md)
    cfg = QUICK if args.quick else FULL
    sections = [s for s in args.sections.split(",") if s]
    if not set(sections) <= set(SECTIONS):
        ap.error(f"--sections takes {','.join(SECTIONS)}")

    if os.geteuid() != 0:
        print("bench: warning: not root; smaps_rollup of other users' processes may be unreadable, "
              "and the PID-1 scenarios need root", file=sys.stderr)
    herd_dir = Path(args.herd_dir).resolve()
    res = Results()
    keep = set(args.only.split(",")) if args.only else None
    flavors, scanners = [], []
    for group, out in ((make_flavors(herd_dir), flavors), (make_scanners(herd_dir), scanners)):
        for x in group:
            if keep is not None and x.key not in keep:
                res.extra.setdefault("left_out", []).append(x.label)
            elif not x.available():
                res.extra.setdefault("unavailable", []).append(f"{x.label} (`{x.path}`)")
            else:
                out.append(x)
    loggers = []
    for lg in make_loggers(herd_dir):
        if keep is not None and lg.family not in keep:
            res.extra.setdefault("left_out", []).append(lg.label)
        elif not lg.available():
            res.extra.setdefault("unavailable", []).append(f"{lg.label} (`{lg.path}`)")
        else:
            loggers.append(lg)
    herd_sv = str(herd_dir / "sv") if os.access(herd_dir / "sv", os.X_OK) and (keep is None or "herd" in keep) else None
    if (keep is None or "herd" in keep) and not all(os.access(herd_dir / b, os.X_OK) for b in HERD_BINS):
        print(f"bench: warning: herd's binaries are not all in {herd_dir}: run `just release` first; "
              "benchmarking what is there", file=sys.stderr)
    if not flavors and not scanners and not loggers:
        print("bench: fatal: nothing to benchmark", file=sys.stderr)
        return 111

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("bench: warning: unable to become a child subreaper", file=sys.stderr)
    # SIGTERM/SIGHUP unwind through the cleanup below, like ^C.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)

    tmp_base = "/dev/shm" if os.path.isdir("/dev/shm") else "/run"
    scratch = Path(tempfile.mkdtemp(prefix="herd-bench-", dir=tmp_base))
    disk = Path(tempfile.mkdtemp(prefix="herd-bench-disk-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    h = Harness(scratch, disk)
    load_start = loadavg()
    machine = machine_info()  # the date is the start of the run
    started = time.monotonic()
    try:
        compile_helper(scratch, STAMP_SRC)
        compile_helper(scratch, LOGGEN_SRC)
        res.extra["stamp_link"] = elf_linkage(str(h.stamp))
        # A concurrent `cargo build` must not swap herd's binaries mid-run: measure copies.
        if any(x.key == "herd" for x in [*flavors, *scanners, *loggers]) or herd_sv:
            copies = snapshot(herd_dir, disk / "herd")
            res.extra["herd_binaries"] = copies
            flavors = [Flavor(f.key, f.label, copies["supervise"]["copy"], f.supervises_log, f.control, f.runit_sv)
                       if f.key == "herd" else f for f in flavors]
            scanners = [Scanner(s.key, s.label, copies["svscan"]["copy"]) if s.key == "herd" else s
                        for s in scanners]
            herd_sv = copies["sv"]["copy"] if herd_sv else None
            loggers = [Logger(lg.key, lg.family, lg.label, copies["svlog"]["copy"], lg.args, lg.config)
                       if lg.key == "herd" else lg for lg in loggers]
        for fl in flavors:
            res.add("binary_kib", fl.key, os.path.getsize(os.path.realpath(fl.path)) / 1024)
            res.extra.setdefault("linkage", {})[f"`{os.path.basename(fl.path)}` ({fl.key})"] = elf_linkage(fl.path)
        for sc in scanners:
            res.add("scan_binary_kib", sc.key, os.path.getsize(os.path.realpath(sc.path)) / 1024)
            res.extra.setdefault("linkage", {})[f"`{os.path.basename(sc.path)}` ({sc.key})"] = elf_linkage(sc.path)
        for lg in loggers:
            res.add("log_binary_kib", lg.key, os.path.getsize(os.path.realpath(lg.path)) / 1024)
            res.extra.setdefault("linkage", {})[f"`{os.path.basename(lg.path)}` ({lg.family})"] = elf_linkage(lg.path)
        res.extra["log_fs"] = fs_of(disk)
        res.extra["binary_sizes"] = {**binary_sizes(herd_dir), "herd_dir": os.path.relpath(herd_dir, ROOT)
                                     if herd_dir.is_relative_to(ROOT) else str(herd_dir)}
        for name, path in (("herd", herd_sv), ("runit", SV if os.access(SV, os.X_OK) else None)):
            if path:
                res.extra.setdefault("linkage", {})[f"`sv` ({name})"] = elf_linkage(path)
        bench_overhead(h, cfg, res)
        if "supervise" in sections and flavors:
            bench_memory(h, cfg, flavors, res)
            bench_memory_many(h, cfg, flavors, res)
            bench_wakeups(h, cfg, flavors, res)
            bench_restart(h, cfg, flavors, res)
            bench_crash_loop(h, cfg, flavors, res)
            bench_control(h, cfg, flavors, res)
        if "sv" in sections:
            bench_sv(h, cfg, flavors, herd_sv, res)
        if "scanners" in sections and scanners:
            bench_scan_pickup(h, cfg, scanners, res)
            bench_scan_start(h, cfg, scanners, res)
            bench_scan_stop(h, cfg, scanners, res)
            bench_scan_wakeups(h, cfg, scanners, res)
            bench_scan_memory(h, cfg, scanners, res)
            bench_scan_zombies(h, cfg, scanners, res)
        if "loggers" in sections and loggers:
            bench_log_writer(h, cfg, res)
            bench_log_wakeups(h, cfg, loggers, res)
            bench_log_throughput(h, cfg, loggers, res)
        if "myinit" in sections:
            if keep is None or "herd" in keep:
                bench_myinit(h, cfg, {k: b["copy"] for k, b in res.extra.get("herd_binaries", {}).items()}, res)
            else:
                res.extra["myinit_skipped"] = "herd was left out with `--only`"
    except KeyboardInterrupt:
        print("bench: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        h.stop_all()
        h.reap_orphans()
        if os.environ.get("HERD_KEEP_TMP") == "1":
            print(f"bench: kept {scratch} and {disk}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(disk, ignore_errors=True)

    shown, skip = [], False  # the command line, without the --note texts (they are in the notes)
    for a in sys.argv[1:]:
        if skip or a == "--note":
            skip = not skip and a == "--note"
            continue
        if not a.startswith("--note="):
            shown.append(a)
    argv = shlex.join(["python3", "bench/bench.py", *shown])
    meta = {"machine": machine, "versions": versions(), "quick": cfg.quick,
            "elapsed_s": round(time.monotonic() - started, 1), "load_start": load_start, "load_end": loadavg(),
            "notes": args.note, "command": REPRODUCE, "argv": argv, "sections": sections,
            "flavors": {fl.key: res.extra.get("herd_binaries", {}).get("supervise", {}).get("source", fl.path)
                        if fl.key == "herd" else fl.path for fl in flavors},
            "scanners": {sc.key: res.extra.get("herd_binaries", {}).get("svscan", {}).get("source", sc.path)
                         if sc.key == "herd" else sc.path for sc in scanners},
            "loggers": {lg.key: res.extra.get("herd_binaries", {}).get("svlog", {}).get("source", lg.path)
                        if lg.key == "herd" else lg.path for lg in loggers},
            "config": cfg.__dict__}
    summary = summaries(res, cfg, flavors, scanners, loggers)
    Path(args.json).write_text(json.dumps(
        {"meta": meta, "summary": summary, "samples": res.samples, "failures": res.failures,
         "bounded": res.bounded, "extra": res.extra}, indent=1) + "\n")
    Path(args.md).write_text(render_md(meta, cfg, flavors, scanners, loggers, res, summary, sections))
    print(f"bench: wrote {args.md} and {args.json} in {meta['elapsed_s']:.0f} s", file=sys.stderr)
    return 1 if res.extra.get("myinit_failed") else 0  # a section asked for could not be set up


if __name__ == "__main__":
    sys.exit(main())
