"""supervise section: herd `supervise` vs runit `runsv`, daemontools `supervise` and `s6-supervise`, one
supervisor per service dir with no scanner: memory of one and of many at once, idle wakeups, restart
latency after a 2 s run, crash-loop interval, and control restart (`t`, or `s6-svc -r`).

Every start is timed by the stamp helper that is the service's `run`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.config import MANY_SIZES, REPORT_WINDOW_S, RUN_LIFE_S, S6_SVC, SETTLE_S, WAKEUP_SETTLE_S, Config
from bench.flavors import Flavor
from bench.harness import (Harness, Supervised, TrialFailed, read_stamps, rotated, trial, wait_throttle_clear,
                           wait_until, write_control)
from bench.procfs import ctx_switches, smaps_rollup
from bench.results import Results


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


def idle_switches(ready: list[tuple[str, Supervised]], window: float, fail) -> dict[str, tuple[int, float]]:
    """Context switches of each supervisor in `ready` (keyed) over one shared window, after the settle
    time: {key: (switches, elapsed s)}; a supervisor that died or vanished is `fail(key, why)`."""
    time.sleep(WAKEUP_SETTLE_S)  # let one-off start-up work finish
    before = {key: ctx_switches(s.pid) for key, s in ready}
    t0 = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - t0
    out = {}
    for key, s in ready:
        try:
            s.check_alive()
            out[key] = (ctx_switches(s.pid) - before[key], elapsed)
        except (TrialFailed, OSError) as e:
            fail(key, str(e))
    return out


def bench_wakeups(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    """All supervisors (with a logger) idle side by side through one shared window."""
    window = cfg.wakeup_window_s
    print(f"bench: idle wakeups, one {window:g} s window", file=sys.stderr)
    running: list[tuple[Flavor, Supervised]] = []
    try:
        for fl in flavors:
            d = h.make_service(f"wake-{fl.key}", idle_run_argv(), log=True)
            running.append((fl, Supervised(h, fl, d, separate_log=not fl.supervises_log)))
        ready: list[tuple[str, Supervised]] = []
        deadline = time.monotonic() + 5
        for fl, s in running:
            try:
                s.wait_stamps(s.dir / "started", 1, deadline, "run to start")
                s.wait_stamps(s.dir / "log" / "started", 1, deadline, "log/run to start")
                ready.append((fl.key, s))
            except TrialFailed as e:
                res.fail("wakeups", fl.key, 0, str(e))
        for key, (n, elapsed) in idle_switches(
                ready, window, lambda key, why: res.fail("wakeups", key, 0, why)).items():
            res.add("wakeups", key, n * REPORT_WINDOW_S / elapsed)
            res.add("wakeups_raw", key, {"switches": n, "window_s": round(elapsed, 3)})
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


def send_restart(fl: Flavor, d: Path) -> None:
    if fl.control == "s6-svc":
        subprocess.run([S6_SVC, "-r", str(d)], check=True, timeout=5,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    else:
        write_control(d, b"t")


def control_restarts(h: Harness, fl: Flavor, d: Path, k: int, add) -> None:
    """`k` control restarts of the service `d` under a new `fl` supervisor, each sent past every 1 s
    throttle; `add(ms)` gets each one's time from just before the `t` (or `s6-svc -r`) to the new
    `run`'s start stamp, as it is taken."""
    s = Supervised(h, fl, d)
    try:
        starts = s.wait_stamps(d / "starts", 1, time.monotonic() + 5, "first start")
        wait_until("supervise/control", time.monotonic() + 5, lambda: (d / "supervise" / "control").exists())
        for j in range(k):
            wait_throttle_clear(starts)
            t0 = time.monotonic_ns()
            send_restart(fl, d)
            starts = s.wait_stamps(d / "starts", j + 2, time.monotonic() + 5, "restart")
            add((starts[j + 1] - t0) / 1e6)
    finally:
        s.stop()


def control_run_argv() -> list[str]:
    return ["{dir}/starts", "/bin/sleep", "100000"]


def bench_control(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    k = cfg.control_per_trial
    print(f"bench: control restart, {cfg.control_trials}x{k}", file=sys.stderr)
    for i in range(cfg.control_trials):
        for fl in rotated(flavors, i):

            def body(fl=fl):
                d = h.make_service(f"control-{fl.key}", control_run_argv())
                control_restarts(h, fl, d, k, lambda ms: res.add("control_ms", fl.key, ms))

            trial(res, "control_ms", fl, i, body)


def measure(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    """The section, in the order of a run: memory, memory of many, wakeups, restart, crash loop, control."""
    bench_memory(h, cfg, flavors, res)
    bench_memory_many(h, cfg, flavors, res)
    bench_wakeups(h, cfg, flavors, res)
    bench_restart(h, cfg, flavors, res)
    bench_crash_loop(h, cfg, flavors, res)
    bench_control(h, cfg, flavors, res)
