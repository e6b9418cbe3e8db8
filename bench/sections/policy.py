"""policy section (issue 16): what the stop and health files cost.

1. Health-check wakeups: two herd `supervise` side by side through one window, one on a service with
   an executable `health` (`#!/bin/sh`, `exit 0`) and `health-interval` 1, one on the same service
   without `health`; context switches of each supervisor (the idle-wakeups code of the supervise
   section), per minute. No peer runs periodic health checks, so herd only.
2. Control restart with the stop files: the supervise section's control restart (`t`, or
   `s6-svc -r`, to the new `run`'s start stamp), for a plain service directory and for one with
   `down-signal` (TERM: the service behaves the same) and `timeout-kill` (5000 ms, never reached),
   the two variants interleaved trial by trial. herd and s6-supervise read both files; runit and
   daemontools ignore them, so they get the plain variant only.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.config import DOWN_SIGNAL, HEALTH_INTERVAL, HEALTH_SCRIPT, TIMEOUT_KILL_MS, Config
from bench.flavors import Flavor
from bench.harness import Harness, Supervised, TrialFailed, rotated, trial, wait_until
from bench.results import Results
from bench.sections.supervise import control_restarts, control_run_argv, idle_run_argv, idle_switches

STOP_FILES_READERS = ("herd", "s6")  # the supervisors that read `down-signal` and `timeout-kill`
HEALTH_METRIC = "policy_health_wakeups_min"  # with `health`
NO_HEALTH_METRIC = "policy_nohealth_wakeups_min"  # the same service without


def add_health(d: Path) -> None:
    health = d / "health"
    health.write_text(HEALTH_SCRIPT)
    health.chmod(0o755)
    (d / "health-interval").write_text(HEALTH_INTERVAL + "\n")


def add_stop_files(d: Path) -> None:
    (d / "down-signal").write_text(DOWN_SIGNAL + "\n")
    (d / "timeout-kill").write_text(TIMEOUT_KILL_MS + "\n")


def bench_health_wakeups(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    herd = next((fl for fl in flavors if fl.key == "herd"), None)
    if herd is None:
        return
    window = cfg.health_window_s
    print(f"bench: supervise wakeups with and without `health`, one {window:g} s window", file=sys.stderr)
    running: list[tuple[str, Supervised]] = []
    try:
        for metric, with_health in ((HEALTH_METRIC, True), (NO_HEALTH_METRIC, False)):
            d = h.make_service("health" if with_health else "nohealth", idle_run_argv())
            if with_health:
                add_health(d)
            running.append((metric, Supervised(h, herd, d)))
        ready: list[tuple[str, Supervised]] = []
        deadline = time.monotonic() + 5
        for metric, s in running:
            try:
                s.wait_stamps(s.dir / "started", 1, deadline, "run to start")
                ready.append((metric, s))
            except TrialFailed as e:
                res.fail(metric, "herd", 0, str(e))
        switches = idle_switches(ready, window, lambda metric, why: res.fail(metric, "herd", 0, why))
        for metric, s in ready:
            if metric not in switches:
                continue
            n, elapsed = switches[metric]
            if metric == HEALTH_METRIC:
                # The checks did run (and pass): `supervise/health` says so.
                try:
                    wait_until("supervise/health to say healthy", time.monotonic() + 1,
                               lambda s=s: health_line(s.dir).startswith("healthy"))
                except TrialFailed as e:
                    res.fail(metric, "herd", 0, f"{e} (it says {health_line(s.dir)!r})")
                    continue
            res.add(metric, "herd", n * 60 / elapsed)
            res.add(f"{metric}_raw", "herd", {"switches": n, "window_s": round(elapsed, 3)})
    finally:
        h.stop_many([s.proc for _, s in running])


def health_line(d: Path) -> str:
    try:
        return (d / "supervise" / "health").read_text().strip()
    except OSError:
        return ""


def bench_control_files(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    k = cfg.policy_per_trial
    runs = [(fl, False) for fl in flavors] + [(fl, True) for fl in flavors if fl.key in STOP_FILES_READERS]
    print(f"bench: control restart with and without `down-signal`/`timeout-kill`, {cfg.policy_trials}x{k}",
          file=sys.stderr)
    for i in range(cfg.policy_trials):
        for fl, files in rotated(runs, i):
            metric = "policy_control_files_ms" if files else "policy_control_ms"

            def body(fl=fl, files=files, metric=metric):
                d = h.make_service(f"policy-{'files' if files else 'plain'}-{fl.key}", control_run_argv())
                if files:
                    add_stop_files(d)
                control_restarts(h, fl, d, k, lambda ms: res.add(metric, fl.key, ms))

            trial(res, metric, fl, i, body)


def measure(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    """The section, in the order of a run: health-check wakeups, then the control restarts."""
    bench_health_wakeups(h, cfg, flavors, res)
    bench_control_files(h, cfg, flavors, res)
