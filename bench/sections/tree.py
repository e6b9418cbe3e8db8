"""tree section (issue 18): the memory of a whole supervision tree of N = 1, 5, 20 and 100 services, each
with a logger writing to a directory on disk: herd `svscan` + `supervise` + `svlog`, runit `runsvdir` + `runsv`
+ `svlogd`, daemontools `svscan` + `supervise` (per service and per logger) + `multilog`, s6 `s6-svscan` +
`s6-supervise` (per service and per logger) + `s6-log`.

One tree at a time (so that no two trees share pages). Once every logger has written its service's line and
the tree has been idle TREE_SETTLE_S, `smaps_rollup` of every process of the tree is summed: the scanner and
all its descendants except the services' own `sleep`s. Nothing here decides a verdict: bench.report.scale does.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

from bench.config import FORKER, TREE_LINE, TREE_SETTLE_S, TREE_SIZES, TREE_SLOPE, TREE_UP_BOUND_S, Config
from bench.flavors import Logger, Scanner
from bench.harness import Harness, Scan, TrialFailed, rotated, trial, wait_until
from bench.procfs import comm, depths, exe, proc_children_map, smaps_rollup
from bench.results import Results, median

SLEEP = "/bin/sleep"  # each service's `run` ends in it; the one program of the tree that is not counted


def tree_pairs(scanners: list[Scanner], loggers: list[Logger]) -> list[tuple[Scanner, Logger]]:
    """Each scanner with the logger of its own suite (the same column key)."""
    by_key = {lg.key: lg for lg in loggers}
    return [(sc, by_key[sc.key]) for sc in scanners if sc.key in by_key]


def build_tree(h: Harness, sc: Scanner, lg: Logger, n: int) -> tuple[Path, list[Path]]:
    """A scan dir of `n` services, each `run` writing TREE_LINE and exec'ing sleep, each `log/run` exec'ing
    `lg` on its own directory (on disk); returns the scan dir and the log directories' `current` files."""
    d = h.new_dir(f"tree{n}-{sc.key}")
    logs = h.new_dir(f"tree{n}-{sc.key}", base=h.disk)
    currents = []
    for j in range(n):
        name = f"s{j:03d}"
        svc = h.add_script_service(d, name, f"#!/bin/sh\necho {TREE_LINE}\nexec {SLEEP} 100000\n")
        logdir = logs / name
        logdir.mkdir()
        h.add_script_service(svc, "log", f"#!/bin/sh\nexec {shlex.join(lg.argv(logdir))}\n")
        currents.append(logdir / "current")
    return d, currents


def logged(current: Path) -> bool:
    try:
        return TREE_LINE.encode() in current.read_bytes()
    except FileNotFoundError:
        return False


def tree_memory(root: int, n: int) -> dict:
    """The tree under the scanner `root`, by role, each process's smaps_rollup summed: a child of the scanner
    is a supervisor, but herd svscan's forker (`svscan-fork`, which starts each supervise) counts as the
    scanner's; below a supervisor, `sleep` is a service (not counted) and anything else its logger."""
    sleep = os.path.realpath(SLEEP)
    roles: dict[str, list[int]] = {"scanner": [root], "supervisor": [], "logger": [], "service": [], "other": []}
    for pid, depth in depths(root, proc_children_map()).items():
        if depth == 1:
            roles["scanner" if comm(pid) == FORKER else "supervisor"].append(pid)
        elif depth == 2:
            roles["service" if exe(pid) == sleep else "logger"].append(pid)
        else:
            roles["other"].append(pid)
    if len(roles["service"]) != n or len(roles["logger"]) != n:
        raise TrialFailed(f"found {len(roles['service'])} services and {len(roles['logger'])} loggers "
                          f"under the scanner, not {n} of each")
    out = {}
    for role, pids in roles.items():
        if role == "service":
            continue
        m = [smaps_rollup(p) for p in pids]
        out[role] = {"procs": len(pids), **{k: sum(x[k] for x in m) for k in ("pss", "rss", "private_dirty")}}
    return out


def bench_tree(h: Harness, cfg: Config, pairs: list[tuple[Scanner, Logger]], res: Results) -> None:
    print(f"bench: memory of the whole tree at N = {', '.join(map(str, TREE_SIZES))}, {cfg.tree_mem_trials} "
          "trial(s)", file=sys.stderr)
    for i in range(cfg.tree_mem_trials):
        for n in TREE_SIZES:
            for sc, lg in rotated(pairs, i):

                def body(sc=sc, lg=lg, n=n):
                    d, currents = build_tree(h, sc, lg, n)
                    scan = Scan(h, sc, d)
                    try:
                        waiting = set(currents)

                        def all_logged() -> bool:
                            scan.check_alive()
                            waiting.difference_update([c for c in waiting if logged(c)])
                            return not waiting

                        try:
                            wait_until(f"{n} loggers to write their service's line",
                                       time.monotonic() + TREE_UP_BOUND_S, all_logged)
                        except TrialFailed as e:
                            raise TrialFailed(f"{e} ({n - len(waiting)} of {n})") from None
                        time.sleep(TREE_SETTLE_S)
                        scan.check_alive()
                        m = tree_memory(scan.proc.pid, n)
                    finally:
                        scan.stop()
                        shutil.rmtree(d, ignore_errors=True)
                    counted = list(m.values())
                    total = sum(r["pss"] for r in counted)
                    res.add(f"tree_pss_{n}", sc.key, total)
                    res.add(f"tree_pss_per_{n}", sc.key, total / n)
                    res.add(f"tree_dirty_{n}", sc.key, sum(r["private_dirty"] for r in counted))
                    res.add(f"tree_procs_{n}", sc.key, sum(r["procs"] for r in counted))
                    res.add(f"tree_scanner_pss_{n}", sc.key, m["scanner"]["pss"])
                    res.add(f"tree_sup_pss_{n}", sc.key, m["supervisor"]["pss"])
                    res.add(f"tree_log_pss_{n}", sc.key, m["logger"]["pss"])
                    res.add(f"tree_sup_dirty_{n}", sc.key, m["supervisor"]["private_dirty"] / m["supervisor"]["procs"])
                    res.add(f"tree_log_dirty_{n}", sc.key, m["logger"]["private_dirty"] / m["logger"]["procs"])
                    res.add(f"tree_raw_{n}", sc.key, m)

                trial(res, f"tree_pss_{n}", sc, i, body)
    lo, hi = TREE_SLOPE
    for sc, _ in pairs:
        for what in ("pss", "dirty"):
            a, b = median(res.get(f"tree_{what}_{lo}", sc.key)), median(res.get(f"tree_{what}_{hi}", sc.key))
            if a is not None and b is not None:
                res.add(f"tree_slope_{what}", sc.key, (b - a) / (hi - lo))


def measure(h: Harness, cfg: Config, scanners: list[Scanner], loggers: list[Logger], res: Results) -> None:
    pairs = tree_pairs(scanners, loggers)
    res.extra["tree_columns"] = {sc.key: f"{sc.label} + {lg.label}" for sc, lg in pairs}
    bench_tree(h, cfg, pairs, res)
