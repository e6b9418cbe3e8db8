"""startup section (issue 18): the start of 100 and 500 services as a ratio to the floor.

The floor of a suite is N × the cost of starting one of its supervisors and that supervisor's `run`
(from just before the harness spawns the supervisor on a fresh service dir to `run`'s start stamp, median,
one at a time), divided by the cores the harness may run on. The start of N services is the scanners
section's (scanner spawned → the last of the N start stamps, `time_start`), measured here again, in rounds
interleaved with the floor's samples so that both see the same load. herd `svscan`/`supervise`, runit
`runsvdir`/`runsv`, daemontools `svscan`/`supervise`, `s6-svscan`/`s6-supervise`.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time

from bench.config import FLOOR_BOUND_S, START_SIZES, Config
from bench.flavors import Flavor, Scanner
from bench.harness import Harness, Supervised, rotated, trial
from bench.results import Results, median
from bench.sections.scanners import time_start


def floor_once(h: Harness, fl: Flavor, res: Results) -> None:
    """One supervisor spawned on a fresh service dir (no `log/`) → its `run`'s start stamp."""
    d = h.make_service(f"floor-{fl.key}", ["{dir}/started", "/bin/sleep", "100000"])
    t0 = time.monotonic_ns()
    s = Supervised(h, fl, d)
    try:
        stamps = s.wait_stamps(d / "started", 1, time.monotonic() + FLOOR_BOUND_S, "run to start")
        res.add("startup_one_ms", fl.key, (stamps[0] - t0) / 1e6)
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)


def cores() -> int:
    """The CPUs this process may run on (its affinity mask), which its children inherit."""
    return len(os.sched_getaffinity(0))


def measure(h: Harness, cfg: Config, flavors: list[Flavor], scanners: list[Scanner], res: Results) -> None:
    by_key = {fl.key: fl for fl in flavors}
    pairs = [(sc, by_key[sc.key]) for sc in scanners if sc.key in by_key]  # each scanner with its supervisor
    rounds = max(1, cfg.startup_trials)
    per_round = math.ceil(cfg.floor_trials / rounds)
    print(f"bench: startup vs floor: {rounds} round(s) of {per_round} single starts per supervisor, then the start "
          f"of {' and '.join(map(str, START_SIZES))} services per scanner", file=sys.stderr)
    n_cores = cores()
    res.extra["startup_cores"] = n_cores
    for r in range(rounds):
        for k in range(per_round):
            j = r * per_round + k
            for _, fl in rotated(pairs, j):
                trial(res, "startup_one_ms", fl, j, lambda fl=fl: floor_once(h, fl, res))
        for n in START_SIZES:
            for sc, _ in rotated(pairs, r):
                metric = f"startup_start{n}_ms"
                trial(res, metric, sc, r, lambda sc=sc, n=n, metric=metric: time_start(h, sc, n, res, metric, r))
    for sc, fl in pairs:
        one = median(res.get("startup_one_ms", fl.key))
        if one is None:
            continue
        for n in START_SIZES:
            floor = n * one / n_cores
            res.add(f"startup_floor{n}_ms", sc.key, floor)
            start = median(res.get(f"startup_start{n}_ms", sc.key))
            if start is not None:
                res.add(f"startup_ratio{n}", sc.key, start / floor)
