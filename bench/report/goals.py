"""The goals of issues 8, 15, 16 and 18, each with what this run measured, a verdict (met, or **missed** by how much)
and the JSON keys it comes from; a goal whose samples are missing says so instead of a verdict.
"""

from __future__ import annotations

from bench.config import DEFAULT_STOP_S, ORPHANS, SCAN_SERVICES, START_SIZES, STOP_SERVICES, SV_WAIT, ZOMBIE_CHECK_S
from bench.report.policy import policy_goal_rows
from bench.report.readiness import readiness_goal_rows
from bench.report.scale import scale_goal_rows
from bench.report.tables import fmt
from bench.results import Results, median, p90


def goal_rows(res: Results) -> list[tuple[str, str, str, str]]:
    """(goal, measured, verdict, JSON keys) per goal of issues 8, 15, 16 and 18, from this run's samples."""
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
    return rows + readiness_goal_rows(res) + policy_goal_rows(res) + scale_goal_rows(res)


def render_goals(L: list[str], res: Results) -> None:
    L.append("## Goals")
    L.append("")
    L.append("The goals of issues 8, 15, 16 and 18, checked against this run's samples (a goal whose section was not run "
             "says so).")
    L.append("")
    L.append("| goal | measured | verdict | from (JSON `samples`) |")
    L.append("|---|---|---|---|")
    for g, m, v, k in goal_rows(res):
        L.append(f"| {g} | {m} | {v} | {k} |")
    L.append("")
