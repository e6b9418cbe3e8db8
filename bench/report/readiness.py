"""The readiness section of the report (issue 15): its notes, which say how each row is measured
(shown whether or not this run measured the section), and its goals for the goals table.
"""

from __future__ import annotations

from bench.config import (NOTIFICATION_FD, READY_BOUND_S, READY_SETTLE_S, READY_WAIT_S, STOP_SETTLE_S,
                          THROTTLE_CLEAR_S, TREE_LAYERS, TREE_STOP_BOUND_S, TREE_WIDTH, Config)
from bench.report.tables import TREE_DEPENDENTS, TREE_SERVICES, fmt
from bench.results import Results, median, p90

REPRODUCE_READY = ("just release, then python3 -m bench --herd-dir target/x86_64-unknown-linux-gnu/release "
                   "--sections readiness")


def readiness_notes(cfg: Config) -> list[str]:
    """How the rows are measured: the same text whether the section ran or not."""
    last = TREE_LAYERS - 1
    return [
        "Columns: each peer with its own tools. herd: `supervise`, `sv` and `svscan`; s6 2.11 (Debian): "
        "`s6-supervise`, `s6-svwait`, `s6-svc` and `s6-svscan`. runit and daemontools have no readiness. "
        f"Reproduce this section alone (as root): `{REPRODUCE_READY}`.",
        f"The ready service: `notification-fd` holds {NOTIFICATION_FD}, and `run` (`#!/bin/sh`) execs the notify "
        "helper (`bench/notify.c`, compiled at bench time): it stamps its start, blocks reading a FIFO of the "
        "service directory, and when the harness writes a byte there it takes CLOCK_MONOTONIC, writes the newline "
        f"on fd {NOTIFICATION_FD} and records the time taken. Every readiness latency runs from that stamp, taken "
        "just before the newline.",
        f"Readiness → waiter ({cfg.ready_trials} trials per column, the order rotating): the service is restarted "
        f"(`t`, or `s6-svc -r`; at least {THROTTLE_CLEAR_S:g} s after its previous start) so that it is not ready; "
        f"the waiter is started (herd: `sv -w {READY_WAIT_S} up DIR`, s6: `s6-svwait -U -t {READY_WAIT_S * 1000} "
        f"DIR`); {READY_SETTLE_S:g} s later the harness writes the byte. Latency = the waiter's exit (seen through "
        "a pidfd) − the stamp. It covers the supervisor reading the newline and publishing it (herd: "
        "`supervise/ready` renamed into place; s6: its status file and a notice in `event/`), the waiter waking, "
        "reading, printing (sv's `ok:` line) and exiting.",
        f"Readiness → dependent started ({cfg.dep_trials} trials per column): `db` (the ready service) and `app` "
        "(`run` is the stamp helper) in one directory, each under its own supervisor. Each trial stops app, "
        f"restarts db (not ready), asks for app, and {READY_SETTLE_S:g} s later tells db to be ready; latency = "
        "app's start stamp − db's stamp. herd: `app/dependencies.d/db`, `u` written to app's `supervise/control`: "
        "app's supervise waits for db to be up and ready, then starts `run`. s6: s6-rc, which would do this, is "
        "not packaged in Debian 12, so a `/bin/sh -c 's6-svwait -U db && s6-svc -u app'` started in place of the "
        "`u` (spawning s6-svc is in the figure, as it would be in a script). Each trial bounded at "
        f"{READY_BOUND_S:g} s.",
        f"Tree stop ({cfg.tree_trials} trial(s) per column): {TREE_SERVICES} services in {TREE_LAYERS} layers of "
        f"{TREE_WIDTH} (`a0`…, `b0`…, …); a service of layer L ≥ 1 depends (`dependencies.d/`) on services j and "
        "j+1 of layer L−1, so the tree is a lattice, not chains. The scanner runs as PID 1 "
        "(`unshare --pid --fork --mount-proc --kill-child`); when every service has been up "
        f"{STOP_SETTLE_S:g} s the harness sends SIGTERM to it and times until unshare exits. Each `run` "
        "(`#!/bin/sh`) writes its pid to a file; its TERM trap first marks itself stopping, then checks each "
        "dependency: not marked stopping, and its `run` still alive (its `/proc/PID/stat` state not Z); it "
        "logs 1 if every one passed, else 0, and exits 0. The \"saw\" rows count the dependents (layers 1 to "
        f"{last}, {TREE_DEPENDENTS} in all) that logged 1. s6-svscan ignores `dependencies.d/` and stops every "
        "service at once (it has no stop order): its row shows what an unordered stop gives. Bounded at "
        f"{TREE_STOP_BOUND_S:g} s.",
    ]


def readiness_goal_rows(res: Results) -> list[tuple[str, str, str, str]]:
    """The goals of issue 15 ("Measure"), from this run's samples."""
    none = "not measured in this run"
    rows = []
    g = "Readiness → waiter ≤ `s6-svwait -U`'s time and ≤ 2 ms (herd `sv -w`, median)"
    keys = "`ready_wait_ms`"
    hh, ss = res.get("ready_wait_ms", "herd"), res.get("ready_wait_ms", "s6")
    if hh:
        v = median(hh)
        s6 = median(ss) if ss else None
        miss = ([] if v <= 2 else [f"{fmt(v - 2, 2)} ms over 2 ms"]) + \
               ([] if s6 is None or v <= s6 else [f"{fmt(v - s6, 2)} ms over s6"])
        measured = (f"{fmt(v, 2)} ms (median of {len(hh)}, p90 {fmt(p90(hh), 2)} ms) vs s6-svwait's "
                    + (f"{fmt(s6, 2)} ms" if s6 is not None else "(not measured)"))
        rows.append((g, measured, ("met" if s6 is not None else "met where measured") if not miss
                     else "**missed** by " + " and ".join(miss), keys))
    else:
        rows.append((g, none, "—", keys))
    g = f"Stop of a {TREE_LAYERS}-layer tree of {TREE_SERVICES}: every dependent sees its dependencies up (herd `svscan`)"
    keys = "`ready_tree_saw`, `ready_tree_ms`"
    saw, ms = res.get("ready_tree_saw", "herd"), res.get("ready_tree_ms", "herd")
    if saw:
        w = min(saw)
        rows.append((g, f"{w}/{TREE_DEPENDENTS} in the worst of {len(saw)} trial(s); stop took "
                        f"{fmt(median(ms), 0)} ms (median)", "met" if w == TREE_DEPENDENTS
                     else f"**missed**: {TREE_DEPENDENTS - w} saw a dependency stopping", keys))
    else:
        rows.append((g, none, "—", keys))
    return rows
