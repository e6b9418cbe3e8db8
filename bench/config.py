"""What a run measures: the paths of herd's and the peers' tools, every constant that sets a scenario
(service counts, bounds, settle times, the log line format), and the two sample budgets, FULL and QUICK.

One home for each number: the sections measure with it and the report quotes it, so neither holds a
copy. Plain values only: importing this module runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAMP_SRC = ROOT / "bench" / "stamp.c"
DOCS = ROOT / "docs"
DEFAULT_HERD_DIR = "target/x86_64-unknown-linux-gnu/release"
HERD_BINS = ("supervise", "svscan", "sv", "svlog")
LOGGEN_SRC = ROOT / "bench" / "loggen.c"
NOTIFY_SRC = ROOT / "bench" / "notify.c"
SV = "/usr/bin/sv"
S6_SVC = "/usr/bin/s6-svc"
S6_SVSCANCTL = "/usr/bin/s6-svscanctl"
S6_SVWAIT = "/usr/bin/s6-svwait"
UNSHARE = "/usr/bin/unshare"
REPRODUCE = ("just bench (= just release, then python3 -m bench --herd-dir "
             f"{DEFAULT_HERD_DIR})")
# Scanners find their supervisor on PATH (runsvdir: runsv, daemontools: supervise); herd's svscan
# uses the supervise next to it, s6-svscan an absolute path. No SVDIR/SVWAIT/SVSCAN_STOP_TIMEOUT.
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
# herd svscan's forker (docs/svscan.md, "The forker"), a child of svscan that starts each supervise:
# its memory is counted with the scanner's.
FORKER = "svscan-fork"

SETTLE_S = 0.5  # idle time before a memory reading
WAKEUP_SETTLE_S = 2.0  # idle time before the wakeup window (daemontools wakes once 1 s after a start)
MANY_SIZES = (10, 100)  # supervisors of one flavor running together in the shared-pages memory test
RUN_LIFE_S = 2  # how long `run` lives in the restart-latency scenario
THROTTLE_CLEAR_S = 1.2  # wait after a start before a control restart, past every 1 s throttle
REPORT_WINDOW_S = 20  # supervisor wakeups are reported per this many seconds
SV_WAIT = 7  # `sv -w` in the sv scenario
SCAN_SERVICES = 10  # services under a scanner in the wakeup and memory scenarios
PICKUP_IDLE_S = 1.0  # the scanner is idle this long before each pickup trial
PICKUP_BOUND_S = 8.0
START_SIZES = (100, 500)
START_BOUND_S = 30.0
STOP_SERVICES = 50
STOP_SETTLE_S = 1.2  # every service up this long before the SIGTERM, past every 1 s throttle
STOP_BOUND_S = 15.0
DEFAULT_STOP_S = 7.0  # herd svscan's shutdown bound without -t or SVSCAN_STOP_TIMEOUT (docs/svscan.md)
ORPHANS = 500
ZOMBIE_CHECK_S = 2.0
ZOMBIE_BOUND_S = 8.0
ZOMBIE_POLL_S = 0.005
LOG_LINE = 100  # bytes per line written to the loggers, newline included (bench/loggen.c)
# Line k as bench/loggen.c writes it: the LOG_DIGITS-digit k, `-`, LOG_FILLER, a newline.
LOG_FILLER = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz"
LOG_DIGITS = 10
LOG_TS = 25  # `@` + 24 hex digits (TAI64N), or svlogd -tt's `YYYY-MM-DD_HH:MM:SS.xxxxx`; then a space
LOG_FILE_SIZE = 10_000_000  # every logger rotates at this size ...
LOG_KEEP = 5  # ... and keeps this many old files
LOG_BOUND_S = 180.0  # one throughput run: writer start → logger exit
LOG_START_BOUND_S = 5.0  # logger start → its `current` exists
LOG_IDLE_LINES = 10  # lines written to each logger before its idle window
CHROOT = "/usr/sbin/chroot"
BUSYBOX = "/bin/busybox"  # busybox-static: the phusion-style root's shell and tools
BUSYBOX_APPLETS = ("sh", "echo", "cat", "sleep", "rm", "printf", "grep", "id", "true", "mkdir", "ls")
MYINIT_BINS = ("svscan", "supervise", "sv")  # herd's binaries in the root's /usr/bin (static)
MYINIT_SERVICES = 10  # /etc/service/s00 … s09, each trapping TERM; the last one has a log/
MYINIT_STUBBORN = "stubborn"  # the extra service that ignores TERM, in the stubborn variants
MYINIT_KILL_PROCESS_TIMEOUT = "3"  # as in phusion's measured 3.84 s (measured once on phusion's my_init from github.com/phusion/baseimage-docker, image/bin/my_init)
MYINIT_UP_BOUND_S = 15.0  # my_init spawned → every service up
MYINIT_STOP_BOUND_S = 15.0  # SIGTERM → my_init exited (herd's longest expected: 3 s + 5 s)
MYINIT_CMD_BOUND_S = 15.0  # `my_init -- sh -c 'exit 3'` spawned → exited
MYINIT_PATH = "/usr/bin:/bin:/sbin"  # my_init's whole environment, plus the variant's timeouts
NOTIFICATION_FD = 3  # the services of the readiness section write their newline on this fd
READY_WAIT_S = 5  # `sv -w` / `s6-svwait -t` of the readiness waiters
READY_SETTLE_S = 0.2  # a waiter runs this long before the service is told to become ready
READY_BOUND_S = 10.0  # one readiness trial: trigger → the waiter exited / the dependent started
TREE_LAYERS = 3  # the dependency tree stopped as PID 1: layers of ...
TREE_WIDTH = 10  # ... this many services each (layer 0 has no dependency)
TREE_STOP_BOUND_S = 15.0
HEALTH_SCRIPT = "#!/bin/sh\nexit 0\n"  # the policy section's `health`: passes at once ...
HEALTH_INTERVAL = "1"  # ... every this many seconds (`health-interval`)
DOWN_SIGNAL = "TERM"  # `down-signal` of the policy section's restart: the signal sent without it ...
TIMEOUT_KILL_MS = "5000"  # ... and `timeout-kill`, never reached (`run` dies on TERM)
REPRODUCE_POLICY = ("just release, then python3 -m bench --herd-dir target/x86_64-unknown-linux-gnu/release "
                    "--sections policy")
TREE_SIZES = (1, 5, 20, 100)  # services of the whole-tree memory scenario, each with a logger to a directory
TREE_SLOPE = (20, 100)  # what one more service costs: the slope of the tree's total between these two sizes
TREE_UP_BOUND_S = 30.0  # scanner start → every logger has written its service's line
TREE_SETTLE_S = 1.0  # idle time after that, before the memory reading
TREE_LINE = "up"  # the one line each service writes to its logger before it execs sleep
STARTUP_GOAL = 1.2  # startup of N services ≤ this × the floor (N × one supervise + `run` start / cores)
FLOOR_BOUND_S = 5.0  # one supervisor spawned → its `run` stamped
S6_INSTALL_MIN = ("s6-svscan", "s6-supervise", "s6-svscanctl", "s6-svc", "s6-svok", "s6-svstat", "s6-svwait",
                  "s6-log")  # the s6 programs a supervision tree alone uses (the install section's second s6 column)
INSTALL_PREFIX = "/usr"  # scripts/install.sh's PREFIX in the install section
TINI_STATIC = "/usr/bin/tini-static"  # Debian's tini package: the static build, the one a FROM scratch image takes
REPRODUCE_SCALE = ("just release, then python3 -m bench --herd-dir target/x86_64-unknown-linux-gnu/release "
                   "--sections tree,install,startup")


@dataclass
class Config:
    quick: bool
    mem_trials: int
    many_trials: int
    wakeup_window_s: float
    restart_trials: int
    restart_per_trial: int
    crash_trials: int
    crash_per_trial: int
    control_trials: int
    control_per_trial: int
    overhead_calls: int
    sv_trials: int
    sv_status_per_trial: int
    pickup_trials: int
    pickup_untriggered_trials: int  # s6 without `s6-svscanctl -a`: each one waits out the bound
    pickup_cap_s: float
    start_trials: int
    stop_trials: int
    scan_window_s: float
    scan_mem_trials: int
    zombie_trials: int
    log_trials: int
    log_bytes: int  # per throughput run, a multiple of LOG_LINE
    log_window_s: float
    writer_trials: int
    myinit_trials: int = 5  # each of: 4 stop variants, the main command, the namespace baseline
    ready_trials: int = 20  # readiness → waiter, per flavor
    dep_trials: int = 10  # readiness → dependent started, per flavor
    tree_trials: int = 3  # stop of the dependency tree as PID 1, per scanner
    health_window_s: float = 20.0  # the wakeup window of supervise with and without `health`
    policy_trials: int = 8  # control restarts with and without the stop files: trials per flavor ...
    policy_per_trial: int = 2  # ... and restarts per trial
    tree_mem_trials: int = 3  # the whole tree's memory: trials per scanner and size (PSS is nearly deterministic)
    floor_trials: int = 40  # one supervisor + its `run` started: samples per supervisor (the floor) ...
    startup_trials: int = 5  # ... and starts of START_SIZES services per scanner, interleaved with them


FULL = Config(quick=False, mem_trials=10, many_trials=3, wakeup_window_s=20.0, restart_trials=10,
              restart_per_trial=2, crash_trials=3, crash_per_trial=3, control_trials=10, control_per_trial=2,
              overhead_calls=100, sv_trials=10, sv_status_per_trial=3, pickup_trials=10,
              pickup_untriggered_trials=1, pickup_cap_s=240.0, start_trials=3, stop_trials=3,
              scan_window_s=20.0, scan_mem_trials=5, zombie_trials=3, log_trials=3, log_bytes=200_000_000,
              log_window_s=20.0, writer_trials=3, myinit_trials=5, ready_trials=20, dep_trials=10, tree_trials=3,
              health_window_s=20.0, policy_trials=8, policy_per_trial=2, tree_mem_trials=3, floor_trials=40,
              startup_trials=5)


QUICK = Config(quick=True, mem_trials=2, many_trials=1, wakeup_window_s=3.0, restart_trials=2,
               restart_per_trial=1, crash_trials=1, crash_per_trial=3, control_trials=1, control_per_trial=2,
               overhead_calls=100, sv_trials=3, sv_status_per_trial=2, pickup_trials=2,
               pickup_untriggered_trials=1, pickup_cap_s=60.0, start_trials=1, stop_trials=1,
               scan_window_s=3.0, scan_mem_trials=1, zombie_trials=1, log_trials=2, log_bytes=20_000_000,
              log_window_s=3.0, writer_trials=2, myinit_trials=3, ready_trials=5, dep_trials=3, tree_trials=1,
               health_window_s=5.0, policy_trials=2, policy_per_trial=2, tree_mem_trials=1, floor_trials=8,
               startup_trials=1)


SECTIONS = ("supervise", "sv", "scanners", "loggers", "myinit", "readiness", "policy", "tree", "install", "startup")
