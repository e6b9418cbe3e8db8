#!/usr/bin/env python3
"""Benchmark herd's `supervise` against runit's `runsv`, daemontools' `supervise` and `s6-supervise`.

Usage (as root, from the repository root):

    cargo build --release --workspace --bins && python3 bench/bench.py [--quick]

Writes docs/benchmarks.md (a table, one column per supervisor) and docs/benchmarks.json (every raw
sample). Python 3.11 standard library only; needs gcc for bench/stamp.c, which is compiled into the
scratch directory at bench time.

What is measured, with the flavors interleaved trial by trial (the order rotates each trial):
  1. RSS and PSS (from /proc/PID/smaps_rollup) of one idle supervisor, with a logger and without;
     and the mean PSS of ten idle supervisors of one flavor running together.
  2. Idle wakeups: context switches of each idle supervisor over one shared window.
  3. Restart latency: time from the exit of a `run` that lived 2 s to the next start of `run`.
  4. Crash-loop interval: time between two starts of a `run` that exits at once.
  5. Control restart: time from writing `t` to supervise/control (`s6-svc -r` for s6) to the new
     start; and the wall time of runit's `sv -w 7 restart` against herd and runsv.
  6. Harness overhead: the cost of the stamp helper itself.

Every start and exit is timed by the `stamp` helper inside the supervised process (the service's
`run` is a symlink to it), on CLOCK_MONOTONIC, which is also Python's time.monotonic_ns(). Scratch
service directories live on tmpfs (/dev/shm); herd's binary is measured from a synced copy on disk
(/var/tmp), taken at the start. Every trial has a deadline: a flavor that misses one
gets a note in the report, never a hang. Every process the harness starts is killed by pid or
process group; the harness is a child subreaper so that orphans come back to it to be reaped.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import math
import os
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
SV = "/usr/bin/sv"
S6_SVC = "/usr/bin/s6-svc"
REPRODUCE = "cargo build --release --workspace --bins && python3 bench/bench.py"

PR_SET_CHILD_SUBREAPER = 36
SETTLE_S = 0.5  # idle time before a memory reading
WAKEUP_SETTLE_S = 2.0  # idle time before the wakeup window (daemontools wakes once 1 s after a start)
MANY = 10  # supervisors of one flavor running together in the shared-pages memory test
RUN_LIFE_S = 2  # how long `run` lives in the restart-latency scenario
THROTTLE_CLEAR_S = 1.2  # wait after a start before a control restart, past every 1 s throttle
POLL_S = 0.002
REPORT_WINDOW_S = 20  # wakeups are reported per this many seconds


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


FLAVORS = [
    Flavor("herd", "herd `supervise`", str(ROOT / "target/release/supervise"), True, "fifo", True),
    Flavor("runit", "runit `runsv`", "/usr/bin/runsv", True, "fifo", True),
    Flavor("daemontools", "daemontools `supervise`", "/usr/bin/supervise", False, "fifo", False),
    Flavor("s6", "s6 `s6-supervise`", "/usr/bin/s6-supervise", False, "s6-svc", False),
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
    sv_trials: int
    overhead_calls: int


FULL = Config(False, 10, 3, 20.0, 5, 2, 3, 3, 5, 2, 5, 100)
QUICK = Config(True, 2, 1, 3.0, 2, 1, 1, 3, 1, 2, 2, 100)


class TrialFailed(Exception):
    """A trial missed its deadline or a flavor misbehaved; becomes a note, not a crash."""


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


def descendants(pid: int) -> list[int]:
    kids = proc_children_map()
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


def read_stamps(path: Path) -> list[int]:
    try:
        return [int(x) for x in path.read_text().split()]
    except FileNotFoundError:
        return []


def wait_until(what: str, deadline: float, cond) -> None:
    while not cond():
        if time.monotonic() > deadline:
            raise TrialFailed(f"timed out waiting for {what}")
        time.sleep(POLL_S)


# ---------------------------------------------------------------------------------------------
# Processes


class Harness:
    """Scratch directory, the stamp helper, and every process started (for cleanup)."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.stamp = scratch / "stamp"
        self.live: dict[int, subprocess.Popen] = {}
        self.counter = 0

    def new_dir(self, tag: str) -> Path:
        self.counter += 1
        d = self.scratch / f"{self.counter:04d}-{tag}"
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

    def spawn(self, argv: list[str], errlog: Path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL):
        with open(errlog, "ab") as err:
            p = subprocess.Popen(
                argv, stdin=stdin, stdout=stdout, stderr=err, start_new_session=True, close_fds=True
            )
        self.live[p.pid] = p
        return p

    def stop(self, p: subprocess.Popen) -> None:
        """SIGSTOP the supervisor so that it cannot fork, SIGKILL it and all its descendants."""
        pid = p.pid
        try:
            os.kill(pid, signal.SIGSTOP)
        except ProcessLookupError:
            pass
        victims = descendants(pid)
        for v in victims:  # freeze the tree, then look again for anything forked meanwhile
            try:
                os.kill(v, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        victims = sorted(set(victims) | set(descendants(pid)))
        for v in [pid, *victims]:
            try:
                os.kill(v, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            print(f"bench: warning: pid {pid} did not die", file=sys.stderr)
        self.live.pop(pid, None)
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
        for p in list(self.live.values()):
            self.stop(p)


def write_stamped_run(d: Path, stamp: Path, argv: list[str]) -> None:
    (d / "stamp.argv").write_text("\n".join(argv) + "\n")
    os.symlink(stamp, d / "run")


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
        try:
            text = self.errlog.read_text(errors="replace").strip()
        except FileNotFoundError:
            return ""
        return f" (stderr: {text.splitlines()[-1][:200]})" if text else ""

    def stop(self) -> None:
        for p in (self.logger, self.proc):
            if p is not None:
                self.h.stop(p)
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


@dataclass
class Results:
    samples: dict[str, dict[str, list]] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def add(self, metric: str, flavor: str, value) -> None:
        self.samples.setdefault(metric, {}).setdefault(flavor, []).append(value)

    def fail(self, metric: str, flavor: str, trial: int, why: str) -> None:
        self.failures.append({"metric": metric, "flavor": flavor, "trial": trial, "why": why})
        print(f"bench: {flavor}: {metric} trial {trial}: {why}", file=sys.stderr)

    def get(self, metric: str, flavor: str) -> list:
        return self.samples.get(metric, {}).get(flavor, [])


def rotated(xs: list, i: int) -> list:
    k = i % len(xs) if xs else 0
    return xs[k:] + xs[:k]


def trial(res: Results, metric: str, flavor: Flavor, i: int, body) -> None:
    """Runs one trial; a TrialFailed (or an OSError from a dead flavor) becomes a note."""
    try:
        body()
    except (TrialFailed, OSError, subprocess.SubprocessError) as e:
        res.fail(metric, flavor.key, i, str(e))


# ---------------------------------------------------------------------------------------------
# Scenarios


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
    """MANY supervisors of one flavor (no log) at once: mean PSS per instance, pages shared."""
    print(f"bench: memory, {MANY} at once, {cfg.many_trials} trials", file=sys.stderr)
    for i in range(cfg.many_trials):
        for fl in rotated(flavors, i):

            def body(fl=fl):
                group: list[Supervised] = []
                try:
                    for _ in range(MANY):
                        d = h.make_service(f"many-{fl.key}", idle_run_argv())
                        group.append(Supervised(h, fl, d))
                    deadline = time.monotonic() + 10
                    for s in group:
                        s.wait_stamps(s.dir / "started", 1, deadline, "run to start")
                    time.sleep(SETTLE_S)
                    for s in group:
                        s.check_alive()
                    res.add("pss_many", fl.key, statistics.mean(smaps_rollup(s.pid)["pss"] for s in group))
                finally:
                    for s in group:
                        s.stop()

            trial(res, "memory_many", fl, i, body)


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
        for _, s in running:
            s.stop()


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


def send_restart(fl: Flavor, d: Path) -> None:
    if fl.control == "s6-svc":
        subprocess.run([S6_SVC, "-r", str(d)], check=True, timeout=5,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    else:
        # O_NONBLOCK: ENXIO (no reader) instead of blocking if the supervisor is gone.
        fd = os.open(d / "supervise" / "control", os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, b"t")
        finally:
            os.close(fd)


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


def bench_sv_restart(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    targets = [f for f in flavors if f.runit_sv]
    if not os.access(SV, os.X_OK) or not targets:
        res.extra["sv_restart_skipped"] = f"{SV} not found" if targets else "no runit-compatible flavor"
        return
    print(f"bench: sv -w 7 restart, {cfg.sv_trials} trials", file=sys.stderr)
    for i in range(cfg.sv_trials):
        for fl in rotated(targets, i):

            def body(fl=fl):
                d = h.make_service(f"sv-{fl.key}", ["{dir}/starts", "/bin/sleep", "100000"])
                s = Supervised(h, fl, d)
                try:
                    starts = s.wait_stamps(d / "starts", 1, time.monotonic() + 5, "first start")
                    wait_until("supervise/ok", time.monotonic() + 5, lambda: (d / "supervise" / "ok").exists())
                    wait_throttle_clear(starts)
                    t0 = time.monotonic_ns()
                    out = subprocess.run([SV, "-w", "7", "restart", str(d)], timeout=12,
                                         stdin=subprocess.DEVNULL, capture_output=True, text=True)
                    t1 = time.monotonic_ns()
                    if out.returncode != 0:
                        raise TrialFailed(f"sv exited {out.returncode}: {out.stdout.strip()} {out.stderr.strip()}")
                    starts = s.wait_stamps(d / "starts", 2, time.monotonic() + 2, "restart")
                    res.add("sv_restart_ms", fl.key, (t1 - t0) / 1e6)
                    res.add("sv_restart_start_ms", fl.key, (starts[1] - t0) / 1e6)
                    res.add("sv_restart_output", fl.key, out.stdout.strip())
                finally:
                    s.stop()

            trial(res, "sv_restart_ms", fl, i, body)


def bench_overhead(h: Harness, cfg: Config, res: Results) -> None:
    """Per call: posix_spawn + exit + waitpid of the stamp helper, and spawn → stamp written."""
    f = h.scratch / "overhead-stamps"
    walls, to_stamp = [], []
    for _ in range(cfg.overhead_calls):
        t0 = time.monotonic_ns()
        pid = os.posix_spawn(str(h.stamp), [str(h.stamp), str(f)], {})
        os.waitpid(pid, 0)
        walls.append((time.monotonic_ns() - t0) / 1e6)
        to_stamp.append((read_stamps(f)[-1] - t0) / 1e6)
    res.samples["overhead_spawn_wait_ms"] = {"harness": walls}
    res.samples["overhead_spawn_to_stamp_ms"] = {"harness": to_stamp}


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


def snapshot(fl: Flavor, dest_dir: Path) -> tuple[Flavor, dict]:
    """Copies a binary that may be rebuilt during the run (herd's) to `dest_dir`, on disk, synced.

    On disk and synced because smaps counts a file page as dirty until it is written back: a
    freshly built binary, or any binary on tmpfs, would show its whole text as Private_Dirty.
    """
    src = os.path.realpath(fl.path)
    data = Path(src).read_bytes()
    dest = dest_dir / fl.key / os.path.basename(fl.path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    dest.chmod(0o755)
    info = {"source": src, "copy": str(dest), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    return Flavor(fl.key, fl.label, str(dest), fl.supervises_log, fl.control, fl.runit_sv), info


def compile_stamp(scratch: Path) -> Path:
    out = scratch / "stamp"
    base = ["gcc", "-O2", "-Wall", "-o", str(out), str(STAMP_SRC)]
    # Static if possible: no dynamic loader on the start path keeps the marker cheap.
    for argv in (base[:1] + ["-static"] + base[1:], base):
        if subprocess.run(argv, capture_output=True).returncode == 0:
            return out
    raise SystemExit("bench: fatal: unable to compile bench/stamp.c with gcc")


ROWS = [
    # (row label, metric, statistic, decimals)
    ("Binary size (KiB)", "binary_kib", "median", 0),
    ("RSS, idle, with log service (KiB)", "rss_log", "median", 0),
    ("PSS, idle, with log service (KiB)", "pss_log", "median", 0),
    ("Private dirty, idle, with log service (KiB)", "dirty_log", "median", 0),
    ("PSS, all supervisor processes for service + logger (KiB)", "pss_pair", "median", 0),
    ("RSS, idle, no log (KiB)", "rss_nolog", "median", 0),
    ("PSS, idle, no log (KiB)", "pss_nolog", "median", 0),
    (f"PSS per supervisor, {MANY} running at once, no log (KiB)", "pss_many", "median", 0),
    ("Idle wakeups (context switches per 20 s)", "wakeups", "median", 1),
    ("Restart after a 2 s run, median (ms)", "restart_ms", "median", 2),
    ("Restart after a 2 s run, p90 (ms)", "restart_ms", "p90", 2),
    ("Crash-loop interval, median (ms)", "crash_ms", "median", 1),
    ("Control restart to new start, median (ms)", "control_ms", "median", 2),
    ("`sv -w 7 restart` wall time, median (ms)", "sv_restart_ms", "median", 1),
]


def fmt(v, decimals: int) -> str:
    if v is None:
        return "—"
    return f"{v:.{decimals}f}" if decimals else f"{round(v)}"


def summarize(res: Results, flavors: list[Flavor]) -> dict:
    out = {}
    for _, metric, stat, _ in ROWS:
        key = metric if stat == "median" else f"{metric}_{stat}"
        out[key] = {}
        for fl in flavors:
            xs = res.get(metric, fl.key)
            out[key][fl.key] = median(xs) if stat == "median" else p90(xs)
    return out


def render_md(meta: dict, cfg: Config, flavors: list[Flavor], res: Results, summary: dict) -> str:
    m, v = meta["machine"], meta["versions"]
    L = []
    L.append("# Benchmarks: herd `supervise` vs runsv, daemontools `supervise`, s6-supervise")
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
             + (" (this run: `--quick`)" if cfg.quick else ""))
    L.append(f"- Wall time of this run: {meta['elapsed_s']:.0f} s. Raw samples: `docs/benchmarks.json`.")
    L.append("")
    header = "| metric | " + " | ".join(fl.label for fl in flavors) + " |"
    L.append(header)
    L.append("|---|" + "---:|" * len(flavors))
    for label, metric, stat, dec in ROWS:
        key = metric if stat == "median" else f"{metric}_{stat}"
        cells = []
        for fl in flavors:
            val = summary[key][fl.key]
            cell = fmt(val, dec)
            if metric in ("rss_log", "pss_log", "dirty_log") and not fl.supervises_log and val is not None:
                cell += " ¹"
            if metric == "pss_pair" and not fl.supervises_log and val is not None:
                cell += " ²"
            cells.append(cell)
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("¹ This supervisor does not run `log/run` itself (svscan / s6-svscan make the log pipe and "
             "supervise `log/` separately): measured alone, in a service directory that has a `log/`.  ")
    L.append("² Two supervisor processes, summed (measured in their own trials): one for the service and one "
             "for `DIR/log`, joined by a pipe the harness holds open, as svscan / s6-svscan would. The two "
             "share their text pages, which lowers each one's PSS. For herd and runsv: the one process.")
    L.append("")
    L.append("## Notes")
    L.append("")
    for note in meta["notes"] + build_notes(cfg, flavors, res, summary):
        L.append(note if note.startswith("  - ") else f"- {note}")
    L.append("")
    return "\n".join(L)


def build_notes(cfg: Config, flavors: list[Flavor], res: Results, summary: dict) -> list[str]:
    notes = []
    notes.append(
        f"Samples per flavor: memory {cfg.mem_trials} trials; wakeups one {cfg.wakeup_window_s:g} s window "
        f"(all supervisors idle side by side, scaled to 20 s); restart {cfg.restart_trials}×{cfg.restart_per_trial}; "
        f"crash loop {cfg.crash_trials}×{cfg.crash_per_trial} intervals; control restart "
        f"{cfg.control_trials}×{cfg.control_per_trial}; `sv` restart {cfg.sv_trials}. "
        f"Flavors are interleaved within each trial, and the order rotates from trial to trial.")
    notes.append(
        "Memory: `Rss`, `Pss` and `Private_Dirty` from `/proc/PID/smaps_rollup` of the supervisor process only (not `run`, "
        f"not the logger), {SETTLE_S:g} s after `run` (and `log/run`) started. `run` is `exec sleep`, "
        "`log/run` is `exec cat` with output to /dev/null. One supervisor runs at a time (except in the "
        "² row), so no two instances of one binary split shared pages: PSS is that of a lone instance. With "
        f"many services, text pages are shared and PSS per instance drops: the \"{MANY} running at once\" "
        f"row is the mean PSS of {MANY} supervisors of one flavor started together (median over "
        f"{cfg.many_trials} trial(s)), closer to the per-service cost under runsvdir/svscan. PSS also depends on how many "
        "other processes on the machine map the same libc pages, so compare columns from one run only. Private dirty (heap, stack, written data) is what each "
        "further instance costs no matter how pages are shared.")
    hb = res.extra.get("herd_binary")
    if hb:
        notes.append(
            f"herd's binary was copied from `{os.path.relpath(hb['source'], ROOT)}` at the start of the run "
            f"(sha256 `{hb['sha256'][:16]}…`, {hb['bytes']} bytes) and the copy measured, so a rebuild during "
            "the run cannot change it. The copy is on disk and synced: smaps counts a file page as dirty until it "
            "is written back, so a freshly built binary (or one on tmpfs) would show its text as Private_Dirty.")
    link = res.extra.get("linkage", {})
    if link:
        notes.append(
            "Linkage: " + ", ".join(f"{k} {v}" for k, v in link.items()) + ". A dynamically linked "
            "supervisor shares libc's pages with every other process, which keeps its PSS low; a static "
            "one shares its pages only with other instances of itself, so a lone instance's PSS is close "
            "to its RSS.")
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
        f"Each restart is sent at least {THROTTLE_CLEAR_S:g} s after the previous start, past every 1 s throttle.")
    sv_note = ("`sv -w 7 restart DIR` is runit's `sv` (`/usr/bin/sv`) against herd and runsv only; it polls "
               "the status every 420 ms, so its wall time measures `sv`, not the supervisor (~420 ms is "
               "expected for both). herd's own `sv` comes in a later issue.")
    sv_starts = {fl.key: median(res.get("sv_restart_start_ms", fl.key)) for fl in flavors if fl.runit_sv}
    if any(x is not None for x in sv_starts.values()):
        sv_note += " Time from invoking `sv` to the new start stamp, median: " + ", ".join(
            f"{k} {fmt(x, 2)} ms" for k, x in sv_starts.items()) + "."
    if "sv_restart_skipped" in res.extra:
        sv_note += f" Skipped: {res.extra['sv_restart_skipped']}."
    notes.append(sv_note)
    wall = median(res.get("overhead_spawn_wait_ms", "harness"))
    to_stamp = median(res.get("overhead_spawn_to_stamp_ms", "harness"))
    if wall is not None:
        notes.append(
            f"Harness overhead: the stamp helper ({res.extra.get('stamp_link', 'gcc')}), spawned "
            f"{cfg.overhead_calls} times from Python with `posix_spawn`: {fmt(wall, 3)} ms per call "
            f"(spawn, stamp, exit, reap), median; {fmt(to_stamp, 3)} ms from the spawn call to the stamp. "
            "Stamps are taken inside the supervised processes, so the harness's polling does not enter any "
            "timing; an exec of the helper is part of every start (as an exec of `run` is in real use).")
    s6 = next((fl for fl in flavors if fl.key == "s6"), None)
    if s6 is not None:
        notes.append(
            "s6-supervise waits 1 s before every restart unless the service was *ready* for more than 1 s "
            "(these services have no readiness notification), so its restart and control-restart times "
            "are about 1 s by design, not by cost.")
    for metric in ("restart_ms", "crash_ms", "control_ms"):
        empty = [fl.key for fl in flavors if not res.get(metric, fl.key)]
        if empty:
            notes.append(f"No `{metric}` samples for: {', '.join(empty)}.")
    measured = {fl.key for fl in flavors}
    for fl in FLAVORS:
        if fl.key in measured:
            continue
        if not fl.available():
            notes.append(f"{fl.label} was skipped: `{fl.path}` is not executable"
                         + (" (run `cargo build --release --workspace --bins`)." if fl.key == "herd" else "."))
        else:
            notes.append(f"{fl.label} was left out with `--only`.")
    if res.failures:
        notes.append(f"{len(res.failures)} trial(s) failed (all of them are in `failures` in the JSON):")
        for f in res.failures[:20]:
            notes.append(f"  - {f['flavor']}: `{f['metric']}` trial {f['trial']}: {f['why']}")
    else:
        notes.append("Every trial finished within its deadline.")
    return notes


def interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few samples, short windows (checks the harness)")
    ap.add_argument("--md", default=str(DOCS / "benchmarks.md"), help="report path")
    ap.add_argument("--json", default=str(DOCS / "benchmarks.json"), help="raw samples path")
    ap.add_argument("--herd", default="", help="herd supervise binary to measure (default target/release/supervise)")
    ap.add_argument("--note", action="append", default=[], help="a line for the report's notes (repeatable)")
    ap.add_argument("--only", default="", help="comma-separated flavor keys (herd,runit,daemontools,s6)")
    args = ap.parse_args()
    cfg = QUICK if args.quick else FULL

    if os.geteuid() != 0:
        print("bench: warning: not root; smaps_rollup of other users' processes may be unreadable",
              file=sys.stderr)
    if args.herd:
        FLAVORS[0] = Flavor("herd", "herd `supervise`", os.path.abspath(args.herd), True, "fifo", True)
    flavors = [fl for fl in FLAVORS if fl.available()]
    if args.only:
        keep = set(args.only.split(","))
        flavors = [fl for fl in flavors if fl.key in keep]
    if not any(fl.key == "herd" for fl in flavors) and (not args.only or "herd" in args.only):
        print("bench: warning: target/release/supervise missing: run "
              "`cargo build --release --workspace --bins` first; benchmarking the peers only", file=sys.stderr)
    if not flavors:
        print("bench: fatal: no supervisor to benchmark", file=sys.stderr)
        return 111

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("bench: warning: unable to become a child subreaper", file=sys.stderr)
    # SIGTERM/SIGHUP unwind through the cleanup below, like ^C.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)

    tmp_base = "/dev/shm" if os.path.isdir("/dev/shm") else "/run"
    scratch = Path(tempfile.mkdtemp(prefix="herd-bench-", dir=tmp_base))
    bin_dir = Path(tempfile.mkdtemp(prefix="herd-bench-bin-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    h = Harness(scratch)
    res = Results()
    load_start = loadavg()
    machine = machine_info()  # the date is the start of the run
    started = time.monotonic()
    try:
        compile_stamp(scratch)
        res.extra["stamp_link"] = elf_linkage(str(h.stamp))
        # A concurrent `cargo build` must not swap herd's binary mid-run: measure a copy.
        for n, fl in enumerate(flavors):
            if fl.key == "herd":
                flavors[n], res.extra["herd_binary"] = snapshot(fl, bin_dir)
        for fl in flavors:
            res.add("binary_kib", fl.key, os.path.getsize(os.path.realpath(fl.path)) / 1024)
            res.extra.setdefault("linkage", {})[fl.key] = elf_linkage(fl.path)
        bench_overhead(h, cfg, res)
        bench_memory(h, cfg, flavors, res)
        bench_memory_many(h, cfg, flavors, res)
        bench_wakeups(h, cfg, flavors, res)
        bench_restart(h, cfg, flavors, res)
        bench_crash_loop(h, cfg, flavors, res)
        bench_control(h, cfg, flavors, res)
        bench_sv_restart(h, cfg, flavors, res)
    except KeyboardInterrupt:
        print("bench: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        h.stop_all()
        h.reap_orphans()
        if os.environ.get("HERD_KEEP_TMP") == "1":
            print(f"bench: kept {scratch} and {bin_dir}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(bin_dir, ignore_errors=True)

    meta = {"machine": machine, "versions": versions(), "quick": cfg.quick,
            "elapsed_s": round(time.monotonic() - started, 1), "load_start": load_start, "load_end": loadavg(),
            "notes": args.note, "command": REPRODUCE + (" --quick" if cfg.quick else ""),
            "flavors": {fl.key: res.extra.get("herd_binary", {}).get("source", fl.path) if fl.key == "herd" else fl.path
                        for fl in flavors}, "config": cfg.__dict__}
    summary = summarize(res, flavors)
    for fl in flavors:
        summary.setdefault("sv_restart_start_ms", {})[fl.key] = median(res.get("sv_restart_start_ms", fl.key))
    Path(args.json).write_text(json.dumps(
        {"meta": meta, "summary": summary, "samples": res.samples, "failures": res.failures, "extra": res.extra},
        indent=1) + "\n")
    Path(args.md).write_text(render_md(meta, cfg, flavors, res, summary))
    print(f"bench: wrote {args.md} and {args.json} in {meta['elapsed_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
