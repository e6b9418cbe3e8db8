"""scanners section: herd `svscan` vs runit `runsvdir`, daemontools `svscan` and `s6-svscan`: pickup of
a service dir moved in, start of 100 and 500 services, shutdown as PID 1 of a pid namespace (50
services, and 50 with one that ignores TERM), idle wakeups, the scanner's memory, and the reaping of
500 orphans as PID 1.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.config import (FORKER, ORPHANS, PICKUP_BOUND_S, PICKUP_IDLE_S, S6_SVSCANCTL, SCAN_SERVICES, SETTLE_S,
                          START_BOUND_S, START_SIZES, STOP_BOUND_S, STOP_SERVICES, STOP_SETTLE_S, WAKEUP_SETTLE_S,
                          ZOMBIE_BOUND_S, ZOMBIE_CHECK_S, ZOMBIE_POLL_S, Config)
from bench.flavors import Scanner
from bench.harness import (Harness, Scan, TrialFailed, read_stamps, rotated, stderr_tail, trial, wait_exit_ns,
                           wait_until, write_stamped_run)
from bench.procfs import comm, ctx_switches, ns_zombies, pid_ns, proc_children_map, smaps_rollup
from bench.results import Results


def distinct_lines(path: Path) -> int:
    try:
        return len(set(path.read_text().split()))
    except FileNotFoundError:
        return 0


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


def time_start(h: Harness, sc: Scanner, n: int, res: Results, metric: str, i: int) -> None:
    """One start of `n` services under a new `sc` scanner: from just before the scanner is spawned to the
    last of the `n` start stamps, added to `metric`; a start that misses START_BOUND_S is a bounded trial."""
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


def bench_scan_start(h: Harness, cfg: Config, scanners: list[Scanner], res: Results) -> None:
    print(f"bench: scanner start of {' and '.join(map(str, START_SIZES))} services, {cfg.start_trials} trials",
          file=sys.stderr)
    for i in range(cfg.start_trials):
        for n in START_SIZES:
            for sc in rotated(scanners, i):
                metric = f"scan_start{n}_ms"
                trial(res, metric, sc, i, lambda sc=sc, n=n, metric=metric: time_start(h, sc, n, res, metric, i))


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
    """One scanner at a time with 10 services; smaps_rollup of the scanner process only, with herd svscan's
    forker (`svscan-fork`, its child that starts each supervise) added to it."""
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
                    for child in proc_children_map().get(scan.proc.pid, []):
                        if comm(child) == FORKER:
                            f = smaps_rollup(child)
                            m = {k: m[k] + f[k] for k in ("rss", "pss", "private_dirty")}
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


def measure(h: Harness, cfg: Config, scanners: list[Scanner], res: Results) -> None:
    """The section, in the order of a run: pickup, start, PID-1 shutdown, wakeups, memory, zombies."""
    bench_scan_pickup(h, cfg, scanners, res)
    bench_scan_start(h, cfg, scanners, res)
    bench_scan_stop(h, cfg, scanners, res)
    bench_scan_wakeups(h, cfg, scanners, res)
    bench_scan_memory(h, cfg, scanners, res)
    bench_scan_zombies(h, cfg, scanners, res)
