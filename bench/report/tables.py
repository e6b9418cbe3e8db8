"""The report's tables: which rows each section shows (label, metric, statistic, decimals), how a
row's statistic is taken from the samples (`summarize`, kept in the JSON as `summary`), and how a cell
is formatted and marked (⁺ for a median of the trials that finished within their bound).

phusion's documented my_init figures, shown beside herd's (not measured), are kept here too.
"""

from __future__ import annotations

from bench.config import (DOWN_SIGNAL, HEALTH_INTERVAL, LOG_LINE, MANY_SIZES, MYINIT_KILL_PROCESS_TIMEOUT,
                          MYINIT_SERVICES, ORPHANS, READY_WAIT_S, SCAN_SERVICES, START_SIZES, STARTUP_GOAL,
                          STOP_SERVICES, SV_WAIT, TIMEOUT_KILL_MS, TREE_LAYERS, TREE_SIZES, TREE_SLOPE, TREE_WIDTH,
                          ZOMBIE_CHECK_S, Config)
from bench.flavors import Flavor, Logger, Scanner
from bench.results import Results, median, p90


# (row label, metric, statistic, decimals); statistic: "median", "p90" or "values" (distinct values)
SUPERVISE_ROWS = [
    ("Binary size (KiB)", "binary_kib", "median", 0),
    ("RSS, idle, with log service (KiB)", "rss_log", "median", 0),
    ("PSS, idle, with log service (KiB)", "pss_log", "median", 0),
    ("Private dirty, idle, with log service (KiB)", "dirty_log", "median", 0),
    ("PSS, all supervisor processes for service + logger (KiB)", "pss_pair", "median", 0),
    ("RSS, idle, no log (KiB)", "rss_nolog", "median", 0),
    ("PSS, idle, no log (KiB)", "pss_nolog", "median", 0),
    *[row for n in MANY_SIZES for row in (
        (f"PSS per supervisor, {n} running at once, no log (KiB)", f"pss_many_{n}", "median", 0),
        (f"Private dirty per supervisor, {n} running at once (KiB)", f"dirty_many_{n}", "median", 0))],
    ("Idle wakeups (context switches per 20 s)", "wakeups", "median", 1),
    ("Restart after a 2 s run, median (ms)", "restart_ms", "median", 2),
    ("Restart after a 2 s run, p90 (ms)", "restart_ms", "p90", 2),
    ("Crash-loop interval, median (ms)", "crash_ms", "median", 1),
    ("Control restart to new start, median (ms)", "control_ms", "median", 2),
]


SV_ROWS = [
    (f"`sv -w {SV_WAIT} restart` wall time, median (ms)", "sv_restart_ms", "median", 1),
    (f"`sv -w {SV_WAIT} restart` wall time, p90 (ms)", "sv_restart_ms", "p90", 1),
    ("`sv restart`: invocation → new `run` started, median (ms)", "sv_restart_run_ms", "median", 2),
    ("`sv start` (from down) wall time, median (ms)", "sv_start_ms", "median", 1),
    ("`sv start` (from down) wall time, p90 (ms)", "sv_start_ms", "p90", 1),
    ("`sv start`: invocation → `run` started, median (ms)", "sv_start_run_ms", "median", 2),
    ("`sv status` wall time, median (ms)", "sv_status_ms", "median", 2),
    ("`sv status` wall time, p90 (ms)", "sv_status_ms", "p90", 2),
]


SCAN_ROWS = [
    ("Binary size (KiB)", "scan_binary_kib", "median", 0),
    ("Pickup: service dir `mv`ed in → its `run` started, median (ms)", "scan_pickup_ms", "median", 1),
    ("Pickup, p90 (ms)", "scan_pickup_ms", "p90", 1),
    ("Pickup with `s6-svscanctl -a DIR` right after the `mv`, median (ms)", "scan_pickup_a_ms", "median", 1),
    ("Pickup with `s6-svscanctl -a DIR`, p90 (ms)", "scan_pickup_a_ms", "p90", 1),
    *[(f"Start of {n} services: scanner start → every `run` started, median (ms)", f"scan_start{n}_ms",
       "median", 0) for n in START_SIZES],
    (f"PID 1, {STOP_SERVICES} services: SIGTERM → namespace empty, median (ms)", "scan_stop_ms", "median", 0),
    (f"… services that logged a clean TERM (of {STOP_SERVICES}), median", "scan_stop_clean", "median", 0),
    ("… exit status of PID 1", "scan_stop_rc", "values", 0),
    (f"PID 1, {STOP_SERVICES} services, one ignores TERM: SIGTERM → namespace empty, median (ms)",
     "scan_stopx_ms", "median", 0),
    (f"… services that logged a clean TERM (of {STOP_SERVICES - 1}), median", "scan_stopx_clean", "median", 0),
    ("… exit status of PID 1", "scan_stopx_rc", "values", 0),
    (f"Idle wakeups, scanner + its {SCAN_SERVICES} supervisors (context switches per minute)",
     "scan_wakeups_min", "median", 1),
    ("Idle wakeups, scanner alone (per minute)", "scan_wakeups_self_min", "median", 1),
    (f"Scanner RSS, {SCAN_SERVICES} services (KiB)", "scan_rss", "median", 0),
    (f"Scanner PSS, {SCAN_SERVICES} services (KiB)", "scan_pss", "median", 0),
    (f"Scanner private dirty, {SCAN_SERVICES} services (KiB)", "scan_dirty", "median", 0),
    (f"PID 1: zombies left {ZOMBIE_CHECK_S:g} s after a service made {ORPHANS} orphans, median",
     "scan_zombies_2s", "median", 0),
    ("PID 1: last orphan made → no zombie left, median (ms)", "scan_zombies_gone_ms", "median", 0),
]


MYINIT_ROWS = [
    (f"PID 1, {MYINIT_SERVICES} services that trap TERM (one with a `log/`): SIGTERM → my_init exited, median (ms)",
     "myinit_stop_ms", "median", 1),
    ("… p90 (ms)", "myinit_stop_ms", "p90", 1),
    (f"… services that ran their TERM handler (of {MYINIT_SERVICES}), median", "myinit_stop_clean", "median", 0),
    ("… exit status of my_init", "myinit_stop_rc", "values", 0),
    ("… shutdown scripts that ran", "myinit_stop_scripts", "values", 0),
    ("The same tree without the `log/`: SIGTERM → my_init exited, median (ms)", "myinit_stop_nolog_ms", "median", 1),
    ("… p90 (ms)", "myinit_stop_nolog_ms", "p90", 1),
    ("… exit status of my_init", "myinit_stop_nolog_rc", "values", 0),
    (f"`KILL_PROCESS_TIMEOUT={MYINIT_KILL_PROCESS_TIMEOUT}`, the tree with the `log/`: SIGTERM → my_init exited, "
     "median (ms)", "myinit_stop_k3_ms", "median", 1),
    ("… p90 (ms)", "myinit_stop_k3_ms", "p90", 1),
    (f"… services that ran their TERM handler (of {MYINIT_SERVICES}), median", "myinit_stop_k3_clean", "median", 0),
    ("… exit status of my_init", "myinit_stop_k3_rc", "values", 0),
    (f"`KILL_PROCESS_TIMEOUT={MYINIT_KILL_PROCESS_TIMEOUT}`, the tree without the `log/`: SIGTERM → my_init "
     "exited, median (ms)", "myinit_stop_nolog_k3_ms", "median", 1),
    ("… p90 (ms)", "myinit_stop_nolog_k3_ms", "p90", 1),
    ("… exit status of my_init", "myinit_stop_nolog_k3_rc", "values", 0),
    ("Plus one service that ignores TERM, default settings: SIGTERM → my_init exited, median (ms)",
     "myinit_stopx_ms", "median", 0),
    ("… p90 (ms)", "myinit_stopx_ms", "p90", 0),
    (f"… services that ran their TERM handler (of {MYINIT_SERVICES}), median", "myinit_stopx_clean", "median", 0),
    ("… exit status of my_init", "myinit_stopx_rc", "values", 0),
    ("… shutdown scripts that ran", "myinit_stopx_scripts", "values", 0),
    (f"Plus one service that ignores TERM, `KILL_PROCESS_TIMEOUT={MYINIT_KILL_PROCESS_TIMEOUT}`: SIGTERM → my_init "
     "exited, median (ms)", "myinit_stopx_k3_ms", "median", 0),
    ("… p90 (ms)", "myinit_stopx_k3_ms", "p90", 0),
    (f"… services that ran their TERM handler (of {MYINIT_SERVICES}), median", "myinit_stopx_k3_clean", "median", 0),
    ("… exit status of my_init", "myinit_stopx_k3_rc", "values", 0),
    ("… shutdown scripts that ran", "myinit_stopx_k3_scripts", "values", 0),
    (f"PID 1 (my_init) RSS, {MYINIT_SERVICES} services up (KiB)", "myinit_rss", "median", 0),
    (f"PID 1 (my_init) PSS, {MYINIT_SERVICES} services up (KiB)", "myinit_pss", "median", 0),
    (f"PSS of my_init + its {MYINIT_SERVICES} `supervise` processes (KiB)", "myinit_pss_total", "median", 0),
    ("… per `supervise` (KiB)", "myinit_pss_supervise", "median", 0),
    (f"Spawn → all {MYINIT_SERVICES} services up (2 start-up scripts and rc.local first), median (ms)",
     "myinit_up_ms", "median", 0),
    ("`my_init -- sh -c 'exit 3'`: spawn → exit, median (ms)", "myinit_cmd_ms", "median", 0),
    ("… p90 (ms)", "myinit_cmd_ms", "p90", 0),
    ("… exit status of my_init", "myinit_cmd_rc", "values", 0),
    ("The same without the `log/`: spawn → exit, median (ms)", "myinit_cmd_nolog_ms", "median", 0),
    ("… p90 (ms)", "myinit_cmd_nolog_ms", "p90", 0),
    ("… exit status of my_init", "myinit_cmd_nolog_rc", "values", 0),
]


TREE_SERVICES = TREE_LAYERS * TREE_WIDTH
TREE_DEPENDENTS = (TREE_LAYERS - 1) * TREE_WIDTH

READY_ROWS = [
    (f"Readiness → waiter: the service's newline → `sv -w {READY_WAIT_S} up` / `s6-svwait -U` exited, median (ms)",
     "ready_wait_ms", "median", 2),
    ("… p90 (ms)", "ready_wait_ms", "p90", 2),
    ("Readiness → dependent started: db's newline → app's `run` started, median (ms)", "ready_dep_ms", "median", 2),
    ("… p90 (ms)", "ready_dep_ms", "p90", 2),
    (f"PID 1, a tree of {TREE_SERVICES} services in {TREE_LAYERS} layers: SIGTERM → namespace empty, median (ms)",
     "ready_tree_ms", "median", 0),
    (f"… dependents whose TERM trap saw every dependency still running (of {TREE_DEPENDENTS}), worst trial",
     "ready_tree_saw", "min", 0),
    (f"… the same per layer (layers 1 to {TREE_LAYERS - 1}, of {TREE_WIDTH} each), each trial",
     "ready_tree_saw_layers", "values", 0),
    (f"… services that ran their TERM trap (of {TREE_SERVICES}), worst trial", "ready_tree_clean", "min", 0),
    ("… exit status of PID 1", "ready_tree_rc", "values", 0),
]

# The readiness section's columns: each peer with its own tools.
READY_LABELS = {"herd": "herd (`supervise`, `sv`, `svscan`)",
                "s6": "s6 (`s6-supervise`, `s6-svwait`, `s6-svc`, `s6-svscan`)"}


POLICY_ROWS = [
    (f"Wakeups of `supervise` with a `health` every {HEALTH_INTERVAL} s (context switches per minute)",
     "policy_health_wakeups_min", "median", 1),
    ("Wakeups of `supervise` on the same service without `health` (per minute)", "policy_nohealth_wakeups_min",
     "median", 1),
    ("Control restart to new start, plain service directory, median (ms)", "policy_control_ms", "median", 2),
    ("… p90 (ms)", "policy_control_ms", "p90", 2),
    (f"Control restart to new start, with `down-signal` {DOWN_SIGNAL} and `timeout-kill` {TIMEOUT_KILL_MS}, "
     "median (ms)", "policy_control_files_ms", "median", 2),
    ("… p90 (ms)", "policy_control_files_ms", "p90", 2),
]


def services(n: int) -> str:
    return f"{n} service" + ("" if n == 1 else "s")


TREE_ENDS = (TREE_SIZES[0], TREE_SIZES[-1])  # the sizes of the per-role rows

TREE_ROWS = [
    *[(f"Total PSS of the tree, {services(n)} (KiB)", f"tree_pss_{n}", "median", 0) for n in TREE_SIZES],
    *[(f"… per service, {services(n)} (KiB)", f"tree_pss_per_{n}", "median", 1) for n in TREE_SIZES],
    *[row for n in TREE_ENDS for row in (
        (f"… of which the scanner, {services(n)} (KiB)", f"tree_scanner_pss_{n}", "median", 0),
        (f"… of which the supervisors, {services(n)} (KiB)", f"tree_sup_pss_{n}", "median", 0),
        (f"… of which the loggers, {services(n)} (KiB)", f"tree_log_pss_{n}", "median", 0))],
    (f"PSS per further service: slope of the total from {TREE_SLOPE[0]} to {TREE_SLOPE[1]} services (KiB)",
     "tree_slope_pss", "median", 1),
    *[(f"Private dirty per supervisor process, mean, {services(n)} (KiB)", f"tree_sup_dirty_{n}", "median", 1)
      for n in TREE_ENDS],
    (f"Private dirty per logger, mean, {services(TREE_SIZES[-1])} (KiB)", f"tree_log_dirty_{TREE_SIZES[-1]}",
     "median", 1),
    (f"Total private dirty of the tree, {services(TREE_SIZES[-1])} (KiB)", f"tree_dirty_{TREE_SIZES[-1]}", "median",
     0),
    (f"Private dirty per further service: slope from {TREE_SLOPE[0]} to {TREE_SLOPE[1]} services (KiB)",
     "tree_slope_dirty", "median", 1),
    *[(f"Processes counted, {services(n)}", f"tree_procs_{n}", "values", 0) for n in TREE_SIZES],
]


INSTALL_ROWS = [
    ("Programs (ELF files)", "install_programs", "median", 0),
    ("Links to them", "install_links", "median", 0),
    ("Programs and links (KiB)", "install_programs_kib", "median", 0),
    ("Shared libraries they load, the loader included", "install_libs", "median", 0),
    ("… their size (KiB)", "install_libs_kib", "median", 0),
    ("Total: programs, links and libraries (KiB)", "install_total_kib", "median", 0),
    ("Man pages installed (KiB)", "install_man_kib", "median", 0),
    ("As one tar layer (what `COPY` adds; herd's with its man pages), uncompressed (KiB)", "install_tar_kib",
     "median", 0),
    ("… gzipped (KiB)", "install_gz_kib", "median", 0),
]


STARTUP_ROWS = [
    ("One supervisor and its `run`: spawn → `run` started, median (ms)", "startup_one_ms", "median", 2),
    ("… p90 (ms)", "startup_one_ms", "p90", 2),
    ("… fastest (ms)", "startup_one_ms", "min", 2),
    *[row for n in START_SIZES for row in (
        (f"Floor for {n} services: {n} × the median above / cores (ms)", f"startup_floor{n}_ms", "median", 0),
        (f"Start of {n} services: scanner start → every `run` started, median (ms)", f"startup_start{n}_ms",
         "median", 0),
        (f"… ratio to the floor (goal ≤ {STARTUP_GOAL:g}×)", f"startup_ratio{n}", "median", 2))],
]


MYINIT_PHUSION_LABEL = "phusion `my_init` (documented, not measured here)"


# phusion's figures, measured once by us outside the harness (phusion's my_init read from master and run
# elsewhere, one TERM-trapping service): keyed like the summary (metric, or metric_stat).
MYINIT_PHUSION = {
    "myinit_stop_ms": "≈ 30 s with one TERM-trapping service (defaults: `KILL_PROCESS_TIMEOUT` 30 s + "
                      "`KILL_ALL_PROCESSES_TIMEOUT` 30 s), so Docker SIGKILLs it at 10 s",
    "myinit_stop_rc_values": "2 (always, after SIGTERM)",
    "myinit_stop_scripts_values": "pre, post",
    "myinit_stop_k3_ms": "3840 (one TERM-trapping service)",
    "myinit_stop_k3_rc_values": "2",
    "myinit_stopx_ms": "no figure: the defaults allow 30 s + 30 s, past Docker's SIGKILL at 10 s "
                       "(baseimage-docker#506)",
    "myinit_rss": "11.8 MB (Python 3; runsvdir and each runsv extra)",
    "myinit_cmd_rc_values": "3",
    "myinit_cmd_nolog_rc_values": "3",
}


def log_rows(cfg: Config) -> list:
    mb = f"{cfg.log_bytes / 1e6:g}"
    t = cfg.log_trials
    return [
        ("Binary size (KiB)", "log_binary_kib", "median", 0),
        (f"Throughput, {mb} MB of {LOG_LINE}-byte lines through a pipe, median (MB/s)", "log_mbps", "median", 1),
        (f"Throughput, slowest of {t} trials (MB/s)", "log_mbps", "min", 1),
        ("Lines per second, median", "log_lines_s", "median", 0),
        ("Logger CPU time, user + system, median (s)", "log_cpu_s", "median", 2),
        ("… user, median (s)", "log_cpu_user_s", "median", 2),
        ("… system, median (s)", "log_cpu_sys_s", "median", 2),
        ("Logger peak RSS during the run, largest (KiB)", "log_maxrss_kib", "max", 0),
        ("Logger RSS, idle (KiB)", "log_idle_rss_kib", "median", 0),
        ("Logger private dirty, idle (KiB)", "log_idle_dirty_kib", "median", 0),
        (f"Lines lost, sum of {t} trials", "log_lost", "sum", 0),
        (f"Lines duplicated, sum of {t} trials", "log_duplicated", "sum", 0),
        (f"Malformed lines, sum of {t} trials", "log_malformed", "sum", 0),
        ("Largest log file, any trial (bytes)", "log_largest_file", "max", 0),
        ("Rotations per run, median", "log_rotated", "median", 0),
        ("Old files left at the end, median", "log_kept", "median", 0),
        ("Idle wakeups (context switches per 20 s)", "log_wakeups", "median", 1),
    ]


def fmt(v, decimals: int) -> str:
    if v is None:
        return "—"
    if isinstance(v, str):
        return v
    return f"{v:.{decimals}f}" if decimals else f"{round(v)}"


def stat_of(xs: list, stat: str):
    if stat == "median":
        return median(xs)
    if stat == "p90":
        return p90(xs)
    if stat in ("min", "max", "sum"):
        return {"min": min, "max": max, "sum": sum}[stat](xs) if xs else None
    seen = []
    for x in xs:
        if x not in seen:
            seen.append(x)
    return ", ".join(map(str, seen)) if seen else None


def summarize(res: Results, rows: list, keys: list[str]) -> dict:
    out = {}
    for _, metric, stat, _ in rows:
        key = metric if stat == "median" else f"{metric}_{stat}"
        out[key] = {k: stat_of(res.get(metric, k), stat) for k in keys}
    return out


def summaries(res: Results, cfg: Config, flavors: list[Flavor], scanners: list[Scanner],
              loggers: list[Logger]) -> dict:
    return {
        "supervise": summarize(res, SUPERVISE_ROWS, [fl.key for fl in flavors]),
        "sv": summarize(res, SV_ROWS, list(res.extra.get("sv_combos", {}))),
        "scanners": summarize(res, SCAN_ROWS, [sc.key for sc in scanners]),
        "loggers": summarize(res, log_rows(cfg), [lg.key for lg in loggers]),
        "myinit": summarize(res, MYINIT_ROWS, ["herd"]),
        "readiness": summarize(res, READY_ROWS, res.extra.get("ready_columns", [])),
        "policy": summarize(res, POLICY_ROWS, [fl.key for fl in flavors]),
        "tree": summarize(res, TREE_ROWS, list(res.extra.get("tree_columns", {}))),
        "install": summarize(res, INSTALL_ROWS, list(res.extra.get("install_columns", {}))),
        "startup": summarize(res, STARTUP_ROWS, [sc.key for sc in scanners]),
    }


def render_table(L: list[str], res: Results, rows: list, columns: list[tuple[str, str]], summary: dict,
                 mark=None) -> None:
    L.append("| metric | " + " | ".join(label for _, label in columns) + " |")
    L.append("|---|" + "---:|" * len(columns))
    for label, metric, stat, dec in rows:
        key = metric if stat == "median" else f"{metric}_{stat}"
        cells = []
        for k, _ in columns:
            val = summary[key][k]
            bounded = res.bounded_for(metric, k)
            if val is None and bounded:
                cell = f"not within {bounded[0]['bound_s']:g} s"
            else:
                cell = fmt(val, dec)
                if bounded and stat != "values":
                    cell += " ⁺"
            if mark:
                cell += mark(metric, k, val)
            cells.append(cell)
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    L.append("")
