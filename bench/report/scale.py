"""The sections of the report for issue 18: the memory of the whole tree, the install size and startup vs
floor. Their notes say how each row is measured (shown whether or not this run measured the section), and
their goals go into the goals table.
"""

from __future__ import annotations

from bench.config import (INSTALL_PREFIX, LOG_FILE_SIZE, LOG_KEEP, REPRODUCE_SCALE, S6_INSTALL_MIN, START_BOUND_S,
                          START_SIZES, STARTUP_GOAL, TINI_STATIC, TREE_LINE, TREE_SETTLE_S, TREE_SIZES, TREE_SLOPE,
                          TREE_UP_BOUND_S, Config)
from bench.report.tables import fmt, services
from bench.results import Results, median


def tree_notes(cfg: Config, res: Results) -> list[str]:
    sizes = ", ".join(map(str, TREE_SIZES))
    lo, hi = TREE_SLOPE
    return [
        f"Reproduce this section and the next two alone (as root): `{REPRODUCE_SCALE}`.",
        f"Columns: each scanner with its own supervisor and logger. For N = {sizes} "
        f"({cfg.tree_mem_trials} trial(s) per column and N, the columns in a rotating order, one tree at a time so "
        "that no two trees share pages): N services in a scan dir on tmpfs; each `run` is `#!/bin/sh`, "
        f"`echo {TREE_LINE}`, `exec sleep 100000`; each `log/run` is `#!/bin/sh`, `exec LOGGER DIR` with the "
        "loggers section's command line (herd `svlog -tt DIR`, runit `svlogd -tt DIR` without a `config`, "
        f"`multilog t s{LOG_FILE_SIZE} n{LOG_KEEP} DIR`, `s6-log t s{LOG_FILE_SIZE} n{LOG_KEEP} DIR`), DIR on disk. "
        "The scanner is started as in the "
        f"scanners section; when every `DIR/current` holds the `{TREE_LINE}` line (bounded at "
        f"{TREE_UP_BOUND_S:g} s) and {TREE_SETTLE_S:g} s more have passed, `Pss`, `Rss` and `Private_Dirty` "
        "are read from `/proc/PID/smaps_rollup` of every process under the scanner, and summed.",
        "What is counted: the scanner (for herd, with its forker `svscan-fork`, the child of svscan that "
        "starts each supervise); its children, the supervisors (herd's `supervise` and `runsv` run "
        "`log/run` themselves: one per service; daemontools' `supervise` and `s6-supervise`: one for the service "
        "and one for its `log/`); below them, every process that is not the service's `sleep` (the loggers). "
        "A trial in which the tree does not hold exactly N `sleep`s and N loggers fails. The processes counted "
        "are in the last rows; the per-process figures are under `tree_raw_N` in the JSON.",
        f"PSS splits each shared page between the processes that map it, so a tree of one binary's instances "
        "costs less per instance as N grows; runit's and s6's programs are dynamically linked and also split "
        "libc's pages with every other process on the machine, which lowers their PSS as the machine gets "
        "busier. Private dirty (heap, stack, written data) does not depend on sharing: it is what each further "
        f"supervisor really costs. The slopes are (median at {hi} − median at {lo}) / {hi - lo}.",
    ]


def install_notes(res: Results) -> list[str]:
    counted = res.extra.get("install_counted", {})

    def names(key: str) -> str:
        c = counted.get(key, {})
        return ", ".join(sorted(f"`{p.rsplit('/', 1)[-1]}`" for p in c.get("programs", {})))

    notes = [
        "Sizes are file sizes (1 KiB = 1024 bytes), a link counted as the length of its target; nothing is "
        "measured at run time, and the figures do not depend on the load. No goal of issue 18 bounds them.",
        f"herd: `scripts/install.sh DESTDIR {INSTALL_PREFIX} HERD_DIR` into an empty DESTDIR, with HERD_DIR the "
        "`--herd-dir` of the run; programs and links are what it puts in `bin/`"
        + (f" ({names('herd')})" if counted.get("herd") else "")
        + ", the man pages what it puts in `share/man/`. This is herd's part of docs/docker.md's `FROM scratch` "
        "image (its staging runs `scripts/install.sh img /usr`), and the tar row is that tree as one layer"
        + (": herd's programs are static, they need no library." if res.get("install_libs", "herd") == [0] else "."),
        "runit: the ELF programs of Debian's `runit` package in a `bin` or `sbin` directory (`dpkg -L runit`; "
        "its shell scripts left out)" + (f": {names('runit')}" if counted.get("runit") else "")
        + "; they are dynamically linked, so a `FROM scratch` image also needs what `ldd` lists for them: libc "
        "and the loader.",
        "s6: an s6-overlay-like setup runs execline scripts under s6: the ELF programs of Debian's `s6` and "
        "`execline` packages, each name once (execline ships `execlineb` twice), and the libraries `ldd` lists "
        "for them (libs6, libexecline, libskarnet, libc, the loader). s6-overlay also ships s6-rc, "
        "s6-linux-init and s6-portable-utils, which Debian 12 does not package: the column is a lower bound "
        "for s6-overlay (about 3 MB, issue 18). \"s6, supervision only\": "
        + ", ".join(f"`{n}`" for n in S6_INSTALL_MIN) + " and their libraries.",
        f"tini: `{TINI_STATIC}` of Debian's `tini` package, static with glibc (the package's dynamic "
        "`/usr/bin/tini` is smaller but needs libc and the loader, as runit's programs do); tini runs one process "
        "and logs nothing, so it is no peer of a tree, only a size to compare with.",
        "Tar rows: the column's files written by Python's `tarfile` (GNU format) as one stream, then `gzip -6` "
        "of it (as `docker push` compresses layers): a layer's size in an image, uncompressed and as pulled.",
    ]
    return notes


def startup_notes(cfg: Config, res: Results) -> list[str]:
    n_cores = res.extra.get("startup_cores")
    return [
        f"The floor: for each scanner's own supervisor, {cfg.floor_trials} single starts: a fresh service dir "
        "(`run` is the stamp helper, then `exec sleep`; no `log/`), the harness spawns the supervisor on it "
        "(`subprocess.Popen`, new session, as the other sections do) and times from just before the spawn to "
        "`run`'s start stamp; the supervisor is killed before the next one. The floor for N services is N × the "
        "median of those / the cores the harness may run on"
        + (f" ({n_cores} in this run)" if n_cores else "") + ": what starting N supervisors and their `run`s "
        "would take if the cores did nothing else. The spawn from Python is part of each single start, as a "
        "scanner's fork and exec of each supervisor is part of its start. herd's svscan starts every supervise "
        "with its forker, without an exec (docs/svscan.md, \"The forker\"): work that a single start by exec "
        "does and svscan's start of N does not.",
        f"The start of N services: as in the scanners section (N services whose `run` is the stamp helper in a "
        "scan dir on tmpfs; from just before the scanner is spawned to the last of the N start stamps; bounded at "
        f"{START_BOUND_S:g} s), {cfg.startup_trials} trial(s) per scanner and N, in rounds: each round takes its "
        "share of the single starts, then one start of each N per scanner, so that both see the same load. "
        "Ratio = the median start / the floor, each scanner against its own supervisor's floor (runit's "
        "`runsvdir` with `runsv`, s6-svscan with s6-supervise); the peers' ratios are shown for context, the goal "
        "is herd's.",
        "Compare ratios from a quiet run only: a single start is a latency and the start of N a throughput, so "
        "on a busy machine each single start also waits for a core and the floor grows more than the start of N "
        "does (with a load average of about 10 on 2 cores, single starts took 2–16 ms and every ratio fell below "
        "1). The load averages at the start and end of the run are in the header.",
    ]


def scale_goal_rows(res: Results) -> list[tuple[str, str, str, str]]:
    """The goals of issue 18 (items 2 and 5), from this run's samples."""
    none = "not measured in this run"
    rows = []
    g = (f"Whole tree, each service with a logger: herd's total PSS ≤ runit's at N = "
         f"{', '.join(map(str, TREE_SIZES))}")
    keys = ", ".join(f"`tree_pss_{n}`" for n in TREE_SIZES)
    pairs = [(n, median(res.get(f"tree_pss_{n}", "herd")), median(res.get(f"tree_pss_{n}", "runit")))
             for n in TREE_SIZES]
    have = [(n, a, b) for n, a, b in pairs if a is not None and b is not None]
    if have:
        measured = "; ".join(f"{services(n)}: {fmt(a, 0)} KiB vs {fmt(b, 0)}" for n, a, b in have)
        miss = [f"{fmt(a - b, 0)} KiB at {n}" for n, a, b in have if a > b]
        missing = [str(n) for n, a, b in pairs if a is None or b is None]
        done = "met" if not missing else f"met where measured (not at {', '.join(missing)})"
        rows.append((g, measured + " (medians)", done if not miss else "**missed** by " + ", ".join(miss), keys))
    else:
        rows.append((g, none, "—", keys))

    n = TREE_SIZES[-1]
    g = f"Private dirty per supervisor the lowest of all (mean per supervisor process, {services(n)})"
    keys = f"`tree_sup_dirty_{n}`, `tree_slope_dirty`"
    cols = res.extra.get("tree_columns", {})
    vals = {k: median(res.get(f"tree_sup_dirty_{n}", k)) for k in cols}
    vals = {k: v for k, v in vals.items() if v is not None}
    if "herd" in vals and len(vals) > 1:
        others = {k: v for k, v in vals.items() if k != "herd"}
        slope = median(res.get("tree_slope_dirty", "herd"))
        measured = (f"herd {fmt(vals['herd'], 1)} KiB vs " + ", ".join(f"{k} {fmt(v, 1)}" for k, v in others.items())
                    + (f"; herd's tree grows by {fmt(slope, 1)} KiB of private dirty per further service" if slope
                       is not None else ""))
        worse = {k: v for k, v in others.items() if v < vals["herd"]}
        rows.append((g, measured, "met" if not worse else "**missed**: lower in " + ", ".join(
            f"{k} (by {fmt(vals['herd'] - v, 1)} KiB)" for k, v in worse.items()), keys))
    else:
        rows.append((g, none + (" (no peer figure)" if "herd" in vals else ""), "—", keys))

    g = f"Start of {' and '.join(map(str, START_SIZES))} services ≤ {STARTUP_GOAL:g}× the floor (herd `svscan`)"
    keys = ", ".join(f"`startup_ratio{n}`" for n in START_SIZES)
    ratios = [(n, median(res.get(f"startup_ratio{n}", "herd"))) for n in START_SIZES]
    have = [(n, r) for n, r in ratios if r is not None]
    if have:
        measured = "; ".join(
            f"{n}: {fmt(median(res.get(f'startup_start{n}_ms', 'herd')), 0)} ms against a floor of "
            f"{fmt(median(res.get(f'startup_floor{n}_ms', 'herd')), 0)} ms ({r:.2f}×)" for n, r in have)
        miss = [f"{r - STARTUP_GOAL:.2f}× at {n}" for n, r in have if r > STARTUP_GOAL]
        rows.append((g, measured, ("met" if len(have) == len(ratios) else "met where measured") if not miss
                     else "**missed** by " + ", ".join(miss), keys))
    else:
        rows.append((g, none, "—", keys))
    return rows
