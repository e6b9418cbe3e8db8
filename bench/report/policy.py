"""The policy section of the report (issue 16): its notes, which say how each row is measured (shown
whether or not this run measured the section), and its goals for the goals table.
"""

from __future__ import annotations

from bench.config import (DOWN_SIGNAL, HEALTH_INTERVAL, REPRODUCE_POLICY, THROTTLE_CLEAR_S, TIMEOUT_KILL_MS,
                          WAKEUP_SETTLE_S, Config)
from bench.report.tables import fmt
from bench.results import Results, median, p90

NOISE_FLOOR_MS = 0.1  # the least slack the restart goal allows over the plain row (see the notes)


def restart_bound(plain: list) -> float:
    """The restart goal's bound: the plain row's p90, or its median + NOISE_FLOOR_MS if that is larger."""
    return max(p90(plain), median(plain) + NOISE_FLOOR_MS)


def policy_notes(cfg: Config, res: Results) -> list[str]:
    """How the rows are measured, with this run's figures where there are some."""
    notes = [
        "Columns: the supervisors of the supervise section. None of the peers runs periodic health checks "
        "(runit's `runsv`, daemontools' `supervise` and `s6-supervise` have no `health`), so the two wakeup rows "
        "are herd's only. `s6-supervise` reads `down-signal` and `timeout-kill` as herd does; runit and "
        "daemontools ignore both files, so their with-files cells are \"—\" (not measured: they would repeat "
        "the plain figure above them, which is measured as a reference). "
        f"Reproduce this section alone (as root): `{REPRODUCE_POLICY}`.",
    ]
    per_min = median(res.get("policy_health_wakeups_min", "herd"))
    notes.append(
        f"Health-check wakeups: one {cfg.health_window_s:g} s window, two herd `supervise` side by side, each on "
        "a service whose `run` is the stamp helper, then `exec sleep` (no `log/`). One service also has an "
        f"executable `health` (`#!/bin/sh`, `exit 0`) and `health-interval` = {HEALTH_INTERVAL} (no other health "
        "file: timeout 10 s, 3 retries, no start period); the other has neither. The window opens "
        f"{WAKEUP_SETTLE_S:g} s after both `run`s started (a plain service is ready at once, and its first check "
        f"comes {HEALTH_INTERVAL} s later). Counted, as in the supervise section's idle-wakeups row (the same "
        "code): voluntary + nonvoluntary context switches from `/proc/PID/status` of the supervise process "
        "alone, here scaled to one minute (that row is per 20 s). Each check is a process of its own (a fork of "
        "supervise that execs `/bin/sh`), whose switches are not counted: what is counted is supervise waking for "
        "the checks (the deadline that starts one, learning that it was executed, its exit). After the window "
        "`supervise/health` must say `healthy`, else the sample is a failure. The interval runs from the end of "
        "one check to the start of the next, so a minute holds a little under 60 checks"
        + (f": {fmt(per_min, 1)} per minute is about {fmt(per_min / 60, 1)} wakeups per check."
           if per_min is not None else "."))
    notes.append(
        "Control restart with the stop files: as the supervise section's control restart (from just before `t` "
        "is written to `supervise/control`, or `s6-svc -r DIR` is run for s6, to the new `run`'s start stamp; "
        f"each sent at least {THROTTLE_CLEAR_S:g} s after the previous start), for two service directories that "
        f"differ only in `down-signal` = `{DOWN_SIGNAL}` (the signal sent without the file, so `run`, an `exec "
        f"sleep`, dies the same way) and `timeout-kill` = `{TIMEOUT_KILL_MS}` (never reached). "
        f"{cfg.policy_trials} trials × {cfg.policy_per_trial} restarts per column and variant; in each trial every "
        "column and variant runs once, in an order that rotates from trial to trial, so that both variants see "
        "the same load. The plain row is this section's own, measured beside the other (the supervise section's "
        "row is the same measurement, in another part of the run). herd's supervise reads both files before "
        "each start of `./run` (docs/policy.md). s6-supervise waits 1 s before a restart of a service that was "
        "not ready for 1 s (supervise notes), with or without the files.")
    notes.append(
        "The restart goal's criterion: herd's with-files median at most the plain row's p90 in the same run, or "
        f"its median + {NOISE_FLOOR_MS:g} ms if that is larger. The variants are interleaved, so the plain row's "
        "own spread (median to p90) is the noise a restart meets on this machine at that time; a median above "
        "it is a cost of the files. The files add two small reads per start (microseconds): the "
        f"{NOISE_FLOOR_MS:g} ms floor only keeps a very tight plain row from turning timer jitter into a miss.")
    return notes


def policy_goal_rows(res: Results) -> list[tuple[str, str, str, str]]:
    """The goals of issue 16 ("Measure"), from this run's samples."""
    none = "not measured in this run"
    rows = []
    g = f"`supervise` without `health`: 0 wakeups; with a `health` every {HEALTH_INTERVAL} s: the checks' cost only"
    keys = "`policy_nohealth_wakeups_min`, `policy_health_wakeups_min`"
    off, on = res.get("policy_nohealth_wakeups_min", "herd"), res.get("policy_health_wakeups_min", "herd")
    if off:
        v = median(off)
        measured = f"{fmt(v, 1)} per minute without; " + (
            f"{fmt(median(on), 1)} per minute with (about {fmt(median(on) / 60, 1)} per check)" if on
            else "with: not measured")
        rows.append((g, measured, "met" if v == 0 else f"**missed**: {fmt(v, 1)} per minute without `health`",
                     keys))
    else:
        rows.append((g, none, "—", keys))
    g = (f"Control restart with `down-signal` and `timeout-kill` ≤ the plain one + noise (herd `supervise`; "
         f"noise: the plain row's p90, at least its median + {NOISE_FLOOR_MS:g} ms)")
    keys = "`policy_control_files_ms`, `policy_control_ms`"
    files, plain = res.get("policy_control_files_ms", "herd"), res.get("policy_control_ms", "herd")
    if files and plain:
        a, b, bound = median(files), median(plain), restart_bound(plain)
        s6f, s6p = res.get("policy_control_files_ms", "s6"), res.get("policy_control_ms", "s6")
        measured = (f"{fmt(a, 2)} ms with the files vs {fmt(b, 2)} ms plain (p90 {fmt(p90(plain), 2)} ms; "
                    f"medians of {len(files)} and {len(plain)}, interleaved)"
                    + (f"; s6-supervise {fmt(median(s6f), 2)} vs {fmt(median(s6p), 2)} ms" if s6f and s6p else ""))
        rows.append((g, measured, "met" if a <= bound else f"**missed** by {fmt(a - bound, 2)} ms "
                     f"(bound {fmt(bound, 2)} ms)", keys))
    else:
        rows.append((g, none, "—", keys))
    return rows
