"""The report's notes, one function per section plus the general notes and the failed or bounded
trials of a section: how each figure was taken, in words, with the constants and sample counts of
the run filled in, and observations that depend on the samples (missing columns, files over the
limit, lines out of sequence).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.config import (LOG_BOUND_S, LOG_FILE_SIZE, LOG_FILLER, LOG_IDLE_LINES, LOG_KEEP, LOG_LINE, LOG_TS,
                          MANY_SIZES, MYINIT_BINS, MYINIT_CMD_BOUND_S, MYINIT_KILL_PROCESS_TIMEOUT, MYINIT_PATH,
                          MYINIT_SERVICES, MYINIT_STOP_BOUND_S, MYINIT_STUBBORN, MYINIT_UP_BOUND_S, ORPHANS,
                          PICKUP_BOUND_S, PICKUP_IDLE_S, ROOT, RUN_LIFE_S, SCAN_SERVICES, SETTLE_S, START_BOUND_S,
                          STOP_BOUND_S, STOP_SERVICES, STOP_SETTLE_S, SV_WAIT, THROTTLE_CLEAR_S, WAKEUP_SETTLE_S,
                          ZOMBIE_BOUND_S, ZOMBIE_CHECK_S, ZOMBIE_POLL_S, Config)
from bench.flavors import Flavor, Logger, Scanner
from bench.report.tables import fmt
from bench.results import Results, median, p90, section_of


def general_notes(cfg: Config, flavors: list[Flavor], scanners: list[Scanner], res: Results) -> list[str]:
    notes = []
    notes.append("Flavors are interleaved within each trial, and the order rotates from trial to trial. "
                 "Scratch service and scan directories are on tmpfs (/dev/shm); herd's binaries, the "
                 "files the PID-1 services log to and the loggers' log directories are on disk (/var/tmp).")
    hb = res.extra.get("herd_binaries", {})
    if hb:
        srcs = {os.path.relpath(os.path.dirname(b["source"]), ROOT) for b in hb.values()}
        # One multi-call `herd` (every tool a link to it) or, in older runs, one binary per tool.
        one = len({b["sha256"] for b in hb.values()}) == 1 and len(hb) > 1
        if one:
            b = next(iter(hb.values()))
            what = (f"herd's one binary, `herd` (`{'`, `'.join(hb)}` are links to it; sha256 "
                    f"`{b['sha256'][:12]}…`, {b['bytes']} bytes), was")
            runs = "svscan runs itself as supervise."
        else:
            what = (f"herd's binaries ({', '.join(f'`{k}`' for k in hb)}) were copied from "
                    f"`{', '.join(sorted(srcs))}` at the start of the run (sha256 "
                    + ", ".join(f"{k} `{b['sha256'][:12]}…` {b['bytes']} bytes" for k, b in hb.items())
                    + ") and the copies")
            runs = "svscan runs the `supervise` next to it."
        if one:
            what += f" copied from `{', '.join(sorted(srcs))}` at the start of the run and the copy"
        notes.append(
            what + " measured, so a rebuild during the run cannot change " + ("it" if one else "them") + ". On disk "
            "and synced: smaps counts a file page as dirty until it is written back, so a freshly built binary "
            "(or one on tmpfs) would show its text as Private_Dirty. " + runs)
    link = res.extra.get("linkage", {})
    if link:
        notes.append(
            "Linkage: " + ", ".join(f"{k} {v}" for k, v in link.items()) + ". A dynamically linked "
            "program shares libc's pages with every other process, which keeps its PSS low; a static "
            "one shares its pages only with other instances of itself, so a lone instance's PSS is close "
            "to its RSS.")
    wall = median(res.get("overhead_spawn_wait_ms", "harness"))
    to_stamp = median(res.get("overhead_spawn_to_stamp_ms", "harness"))
    run = median(res.get("overhead_run_capture_ms", "harness"))
    if wall is not None:
        notes.append(
            f"Harness overhead: the stamp helper ({res.extra.get('stamp_link', 'gcc')}), spawned "
            f"{cfg.overhead_calls} times from Python with `posix_spawn`: {fmt(wall, 3)} ms per call "
            f"(spawn, stamp, exit, reap), median; {fmt(to_stamp, 3)} ms from the spawn call to the stamp; "
            f"{fmt(run, 3)} ms through `subprocess.run` with captured output (as the sv clients are run). "
            "Stamps are taken inside the supervised processes, so the harness's polling does not enter any "
            "timing; an exec of the helper is part of every start (as an exec of `run` is in real use).")
    for fl in res.extra.get("unavailable", []):
        notes.append(f"{fl} was skipped: not executable.")
    if res.extra.get("left_out"):
        notes.append(f"Left out with `--only`: {', '.join(res.extra['left_out'])}.")
    return notes


def supervise_notes(cfg: Config, flavors: list[Flavor], res: Results) -> list[str]:
    notes = []
    notes.append(
        f"Samples per flavor: memory {cfg.mem_trials} trials; {' and '.join(map(str, MANY_SIZES))} at once "
        f"{cfg.many_trials} trial(s) each; wakeups one {cfg.wakeup_window_s:g} s window "
        f"(all supervisors idle side by side, scaled to 20 s); restart {cfg.restart_trials}×{cfg.restart_per_trial}; "
        f"crash loop {cfg.crash_trials}×{cfg.crash_per_trial} intervals; control restart "
        f"{cfg.control_trials}×{cfg.control_per_trial}.")
    notes.append(
        "Memory: `Rss`, `Pss` and `Private_Dirty` from `/proc/PID/smaps_rollup` of the supervisor process only (not `run`, "
        f"not the logger), {SETTLE_S:g} s after `run` (and `log/run`) started. `run` is `exec sleep`, "
        "`log/run` is `exec cat` with output to /dev/null. One supervisor runs at a time (except in the "
        "² row), so no two instances of one binary split shared pages: PSS is that of a lone instance. With "
        "many services, text pages are shared and PSS per instance drops: the \"N running at once\" "
        "rows are the mean PSS and private dirty of N supervisors of one flavor started together (median over "
        f"{cfg.many_trials} trial(s)), closer to the per-service cost under a scanner. PSS also depends on how many "
        "other processes on the machine map the same libc pages, so compare columns from one run only. Private dirty "
        "(heap, stack, written data) is what each further instance costs no matter how pages are shared.")
    notes.append(
        "Idle wakeups: voluntary + nonvoluntary context switches from `/proc/PID/status` of each supervisor, "
        f"with `run` and the logger up and idle; the window opens {WAKEUP_SETTLE_S:g} s after both started, "
        "to leave out one-off start-up work (daemontools' supervise wakes once, 1 s after starting `run`).")
    notes.append(
        f"Restart: `run` stamps CLOCK_MONOTONIC at start (the stamp helper is `run` itself), runs "
        f"`sleep {RUN_LIFE_S}`, then execs the stamp helper, which stamps and exits. Latency = next start stamp "
        "− exit stamp: it covers the exit, the supervisor's reaction, fork and exec of `run`. "
        "Crash loop: `run` stamps and exits at once; interval = between consecutive start stamps. "
        "The timing scenarios use services without `log/`.")
    notes.append(
        "Control restart: from just before the harness writes `t` to `supervise/control` (herd, runsv, "
        "daemontools) or runs `s6-svc -r DIR` (s6; includes spawning s6-svc) to the new `run`'s start stamp. "
        f"Each restart is sent at least {THROTTLE_CLEAR_S:g} s after the previous start, past every 1 s throttle. "
        "`sv` is measured in its own section below.")
    if any(fl.key == "s6" for fl in flavors):
        notes.append(
            "s6-supervise waits 1 s before every restart unless the service was *ready* for more than 1 s "
            "(these services have no readiness notification), so its restart and control-restart times "
            "are about 1 s by design, not by cost.")
    for metric in ("restart_ms", "crash_ms", "control_ms"):
        empty = [fl.key for fl in flavors if not res.get(metric, fl.key)]
        if empty:
            notes.append(f"No `{metric}` samples for: {', '.join(empty)}.")
    return notes


def sv_notes(cfg: Config, res: Results) -> list[str]:
    notes = []
    run = median(res.get("overhead_run_capture_ms", "harness"))
    notes.append(
        f"Columns: client → supervisor. herd's `sv` (static) and runit's `/usr/bin/sv` (dynamic) drive the same "
        f"supervisor binaries: one service per column, idle `run` (`exec sleep`). {cfg.sv_trials} trials; in each, "
        f"every column gets one restart, then one start, then {cfg.sv_status_per_trial} status calls, the columns "
        "in rotating order. Wall time is from just before `subprocess.run` to its return (client started with "
        f"`PATH` only, output captured); the same call on the do-nothing stamp helper takes "
        f"{fmt(run, 2)} ms (general notes), which is part of every figure here.")
    notes.append(
        f"`sv -w {SV_WAIT} restart DIR`: sent at least {THROTTLE_CLEAR_S:g} s after the service's last start, so no "
        "supervisor throttles it, and the 1-second resolution of sv's `ok` test (the status time must be before "
        "sv's start second) is past: both clients wait for the new process. \"→ new `run` started\" is the new "
        "`run`'s own start stamp minus the invocation time.")
    notes.append(
        f"`sv start DIR` (default wait, {SV_WAIT} s): the harness first writes `d` to `supervise/control` "
        f"(at least {THROTTLE_CLEAR_S:g} s after the last start: runsv sleeps 1 s after a `run` that lived less "
        "than 1 s) and waits until `supervise/status` says down; then times `sv start`, which writes `u` and waits "
        "until the service is up. `sv status DIR`: a running service.")
    notes.append(
        "runit's `sv` checks once right after writing and then every 420 ms, so a restart or start costs it at "
        "least one 420 ms sleep whatever the supervisor (unless its first check already succeeds); herd's `sv` "
        "waits for changes in `supervise/` (dnotify since issue 15, inotify before) and returns as soon as the "
        "status file says the command took effect.")
    ino = res.get("overhead_inotify_close_ms", "harness")
    dno = res.get("overhead_dnotify_close_ms", "harness")
    if ino:
        notes.append(
            "Kernel cost at the exit of a waiting client: closing an inotify fd that had a watch (`inotify_add_watch`, "
            f"`inotify_rm_watch`, `close`, {len(ino)} times, 50 ms apart) took {fmt(median(ino), 2)} ms median, "
            f"{fmt(p90(ino), 2)} ms p90, {fmt(max(ino), 2)} ms max: bimodal (well under 1 ms, or 10–20 ms), as the "
            "kernel may wait for an SRCU grace period when it tears down an inotify group that had marks, and "
            "a process's exit is reported only after its descriptors are closed. "
            + (f"Closing a directory fd that holds a dnotify mark took {fmt(median(dno), 3)} ms median, "
               f"{fmt(max(dno), 3)} ms max. " if dno else "")
            + "herd's `sv` waited with inotify until issue 15 (after quick checks at 1, 2, 4 and 8 ms, so that most "
            "commands never made a watch) and with dnotify since; runs before then paid the inotify figure in its "
            "wall times whenever a watch was needed (not in the \"→ `run` started\" rows). `sv status` watches "
            "nothing.")
    return notes


def scanner_notes(cfg: Config, scanners: list[Scanner], res: Results) -> list[str]:
    keys = {s.key for s in scanners}
    notes = []
    notes.append(
        "Scanners run with `PATH=/usr/sbin:/usr/bin:/sbin:/bin` and nothing else in the environment: runsvdir "
        "starts `runsv` and daemontools' svscan `supervise` from PATH (the Debian binaries), s6-svscan "
        "`/usr/bin/s6-supervise`, herd's svscan the `supervise` copied next to it. Each service's `run` is the "
        "stamp helper (`exec sleep` after the stamp) unless said otherwise. Scan directories are on tmpfs.")
    pick = [f"{cfg.pickup_trials} trials"]
    if "s6" in keys:
        pick.append(f"s6 without a trigger {cfg.pickup_untriggered_trials}")
    notes.append(
        f"Pickup ({', '.join(pick)}; each bounded at {PICKUP_BOUND_S:g} s, the whole scenario capped at "
        f"{cfg.pickup_cap_s:g} s): each scanner runs on its own scan dir; a complete service dir (`run` in place) "
        "is prepared on the same tmpfs and renamed into the scan dir; latency = the new `run`'s start stamp − "
        f"the time just before `rename(2)`. The scanner has been idle at least {PICKUP_IDLE_S:g} s before each "
        "trial (its previous pickup done). The scan dirs keep the services picked up so far. s6-svscan never "
        "scans on its own (no `-t`): the first row shows it without a trigger; the next rows with "
        "`s6-svscanctl -a DIR` run right after the rename (spawning s6-svscanctl is part of the time). "
        "runsvdir and daemontools' svscan look at the directory every 5 s, so their latency is spread over 0–5 s."
        + (f" {res.extra['scan_pickup_capped']}." if "scan_pickup_capped" in res.extra else ""))
    notes.append(
        f"Start of N services ({cfg.start_trials} trial(s) per N): N service dirs prepared in the scan dir; "
        "time from just before the scanner is spawned to the last of the N start stamps (all runs append to "
        f"one file); bounded at {START_BOUND_S:g} s. s6-svscan 2.11 is run with its default cap of 500 services.")
    notes.append(
        f"Shutdown as PID 1 ({cfg.stop_trials} trial(s) per variant): `unshare --pid --fork --mount-proc "
        f"--kill-child SCANNER DIR`, {STOP_SERVICES} services whose `run` is `#!/bin/sh` with `trap 'echo NAME >> "
        "FILE; exit 0' TERM` and `while :; do sleep 1 & wait; done` (FILE on disk); in the second variant one of "
        "them has `trap '' TERM` instead. Every service has been up at least "
        f"{STOP_SETTLE_S:g} s when the harness sends SIGTERM to the scanner (its host pid); the time runs until "
        "the unshare process exits (which it does when its child, the namespace's init, has exited; the kernel "
        "then kills whatever is left in the namespace), seen through a pidfd. Clean = distinct names in FILE. "
        f"Each trial is bounded at {STOP_BOUND_S:g} s: then the harness SIGKILLs the init (which empties the "
        "namespace), counts FILE, and leaves that flavor out of that variant's later trials"
        + (f" ({', '.join(res.extra['scan_stop_single_trial'])})" if res.extra.get("scan_stop_single_trial") else "")
        + ". Exit status: that of unshare, which passes on its child's (`signal N` when it was killed).")
    beh = []
    if "herd" in keys:
        beh.append("herd's svscan stops every service in parallel and exits when none is left, with its default "
                   "7 s bound (no `-t`, no `SVSCAN_STOP_TIMEOUT`): the TERM-ignoring service is SIGKILLed at 7 s and "
                   "svscan exits 124")
    if "runit" in keys:
        beh.append("runsvdir exits 0 at once on SIGTERM, leaving every runsv running: as PID 1 its exit makes the "
                   "kernel SIGKILL the whole namespace, so no service sees a TERM")
    if "daemontools" in keys:
        beh.append("daemontools' svscan has no SIGTERM handler and, as PID 1, the kernel drops the signal: it runs on")
    if "s6" in keys:
        beh.append("s6-svscan 2.11 (run as `s6-svscan DIR`, with no `.s6-svscan/` scripts of ours) shuts down on "
                   "SIGTERM: SIGTERM to every s6-supervise, waits for them, then exits; it has no global bound, so "
                   "a service that ignores TERM and has no `timeout-kill` file keeps it waiting")
    if beh:
        notes.append("What each does on SIGTERM as PID 1: " + "; ".join(beh) + ".")
    if "herd" in keys and "s6" in keys:
        notes.append(
            "Where the time goes (measured by hand on this machine kind: the CPU time of the whole tree from a "
            "cpuacct cgroup, `perf sched timehist`, and `perf record -e sched:sched_switch -g` for where svscan "
            "sleeps): herd's stop of the 50 services costs about 26 ms of CPU (s6: about 39 ms), mostly in the 50 "
            "supervise processes (about 0.25 ms each: the status writes of the stop, then their own exit), the "
            "50 `run` shells' TERM handlers and exits, svscan's 50 `kill`s and reaps, and the 50 orphaned "
            "`sleep`s it signals at the end; no stage waits on a timer. Until issue 18, svscan then closed its "
            "inotify descriptor on the way out, and the kernel made that `close` wait for a grace period (10 to "
            "17 ms, in about half the trials): the watches are now removed when the stop begins, and the grace "
            "period runs while the services stop. With loggers, a supervise that has closed its log pipe tells "
            "svscan at once, which then signals the orphan holding the pipe without waiting for its 10 ms sweep; "
            "each logger's last `fsync` is then the tail.")
    notes.append(
        f"Idle wakeups: one {cfg.scan_window_s:g} s window, all scanners side by side, each with {SCAN_SERVICES} idle "
        f"services, opened {WAKEUP_SETTLE_S:g} s after every `run` started; voluntary + nonvoluntary context "
        "switches of the scanner and its direct children (the supervisors, not the `run` processes), scaled to one "
        "minute. runsvdir and daemontools' svscan wake every 5 s by design (12 per minute for the scanner alone).")
    notes.append(
        f"Scanner memory ({cfg.scan_mem_trials} trial(s)): `smaps_rollup` of the scanner process alone, one scanner "
        f"at a time, {SETTLE_S:g} s after its {SCAN_SERVICES} services' `run`s started.")
    notes.append(
        f"Zombies ({cfg.zombie_trials} trial(s)): the scanner as PID 1 of a new pid namespace, with one service whose "
        f"`run` (`#!/bin/sh`) makes {ORPHANS} orphans with `( : & )` in a loop (each subshell exits at once, so its "
        "background child is reparented to PID 1 and exits), then stamps and execs `sleep`. The harness scans "
        "/proc for processes in state Z in that namespace from the stamp on: the count at "
        f"{ZOMBIE_CHECK_S:g} s, and the end of the first scan that found none (an upper bound: a scan takes "
        f"{fmt(max((x for k in keys for x in res.get('scan_zombies_scan_ms', k)), default=None), 1)} ms at most "
        f"here, and scans are {ZOMBIE_POLL_S * 1000:g} ms apart). Bounded at {ZOMBIE_BOUND_S:g} s.")
    return notes


def logger_notes(cfg: Config, loggers: list[Logger], res: Results) -> list[str]:
    keys = [lg.key for lg in loggers]
    n = cfg.log_bytes // LOG_LINE
    notes = []
    cmd = []
    for lg in loggers:
        shown = " ".join(os.path.basename(lg.path) if j == 0 else a
                         for j, a in enumerate(lg.argv(Path("DIR"))))
        cmd.append(f"{lg.key}: `{shown}`" + (f" with `DIR/config` = `s{LOG_FILE_SIZE}`, `n{LOG_KEEP}`"
                                            if lg.config else ""))
    notes.append(
        "Command lines: " + "; ".join(cmd) + ". Every one rotates `current` at 10 MB and keeps 5 old files "
        f"(`@….s`). DIR is a fresh directory on disk ({res.extra.get('log_fs', '?')}, under /var/tmp), "
        "made by the harness. Timestamps: svlog and svlogd `-tt` write `YYYY-MM-DD_HH:MM:SS.xxxxx` and a space, "
        "multilog and s6-log `t` write `@` + 24 hex digits (TAI64N) and a space: 26 bytes each, so every "
        f"{LOG_LINE}-byte input line is a {LOG_TS + 1 + LOG_LINE}-byte line in the files.")
    if "s6" in keys and "s6-b" in keys:
        notes.append(
            "s6-log is run in its default mode and with `-b` (blocking: it stops reading stdin while it has "
            "unflushed buffers, as multilog does; by default it reads on and buffers in memory).")
    wnull = median(res.get("log_writer_null_mbps", "harness"))
    wpipe = median(res.get("log_writer_pipe_mbps", "harness"))
    wcpu = [x for k in keys for x in res.get("log_writer_cpu_s", k)]
    notes.append(
        f"Throughput ({cfg.log_trials} trials, the loggers interleaved in a rotating order, each run bounded at "
        f"{LOG_BOUND_S:g} s): {n} lines ({cfg.log_bytes / 1e6:g} MB), line k being the 10-digit zero-padded k, "
        f"a `-` and {len(LOG_FILLER)} filler characters, from a C writer (`bench/loggen.c`, 64,000-byte writes) "
        "through a pipe to the logger's stdin. The logger is started first; the clock starts just before the writer "
        "is spawned, once the logger has made `current`, and stops when the logger exits at EOF (pidfd), after its "
        "last write, fsync and close; MB/s = input bytes (10^6) / that time. CPU time and peak RSS are the "
        "logger's own, from `wait4` in a small static parent (`loggen -x`) that forks and execs it (a peak RSS "
        "carries over an exec: forked from the Python harness, every logger would show Python's). On this kernel "
        "`ru_maxrss` reads about 150 KiB below the `VmHWM` that /proc shows for the same process (svlog, checked "
        "by hand), so compare it across columns, not with the idle RSS row. The harness runs `sync` before each run and deletes the run's files after "
        "it is checked.")
    if wnull is not None:
        notes.append(
            f"The writer is not the bottleneck: alone, `loggen` writes the {cfg.log_bytes / 1e6:g} MB at "
            f"{fmt(wnull, 0)} MB/s into /dev/null and at {fmt(wpipe, 0)} MB/s through a pipe into a reader that "
            f"discards it (`loggen -s`), medians of {cfg.writer_trials}; its CPU time while feeding the loggers "
            f"was {fmt(min(wcpu, default=None), 2)}–{fmt(max(wcpu, default=None), 2)} s per run.")
    unlinked = sum(x for k in keys for x in res.get("log_unlinked", k))
    other = res.extra.get("log_other_files")
    notes.append(
        "Lines are checked in the files, after the logger exited: each rotated file is hard-linked into a side "
        "directory as soon as inotify reports it (so the logger's deletion of old files, `n5`, frees nothing "
        "the check needs), then the rotated files are read in name order and `current` last. A line must be "
        f"{LOG_TS + 1 + LOG_LINE} bytes: a {LOG_TS}-character timestamp, a space and one of the input lines, "
        "byte for byte, else it counts as malformed. Lost = input lines never found; duplicated = extra copies. "
        "The input ends with a newline, so svlogd's loss of a last line without one does not apply. "
        + ("Every rotated file was linked before the logger deleted it." if not unlinked else
           f"{unlinked} rotated file(s) were deleted before the harness could link them: their lines count as "
           "lost (a harness limit, see `log_unlinked` in the JSON).")
        + (f" Files other than `@….s`, `current`, `lock`, `state`, `config` left in DIR: {other}." if other else ""))
    over = {k: max(res.get("log_largest_file", k)) for k in keys
            if res.get("log_largest_file", k) and max(res.get("log_largest_file", k)) > LOG_FILE_SIZE}
    if over:
        notes.append(f"Files larger than the {LOG_FILE_SIZE}-byte limit: "
                     + ", ".join(f"{k} up to {v} bytes (+{v - LOG_FILE_SIZE})" for k, v in over.items())
                     + ". The others rotate before a line that would not fit.")
    kept = {k: median(res.get("log_kept", k)) for k in keys
            if res.get("log_kept", k)
            and median(res.get("log_kept", k)) != min(LOG_KEEP, median(res.get("log_rotated", k)))}
    if kept:
        notes.append(f"Old files left with `n{LOG_KEEP}` after {fmt(median(res.get('log_rotated', keys[0])), 0)} "
                     "rotations: " + ", ".join(f"{k} {fmt(v, 0)}" for k, v in kept.items())
                     + f" (the others {LOG_KEEP}).")
    notes.append(
        "System calls, counted by hand with `strace -c` for 100,000 lines (10 MB, one rotation): svlogd makes one "
        "`write` per line (100,000) and reads stdin in 1 KiB pieces (its default `-b`), each after a `poll` "
        "(9,772 `read`s); multilog 29,297 `write`s and 9,768 `read`s; s6-log 1,221 `write`s and 1,222 `readv`s "
        "(2,443 `ppoll`s with `-b`); svlog 314 `write`s, 320 `read`s (159 of them EAGAIN) and 158 `ppoll`s. That "
        "is most of the difference in system time. All but multilog set O_NONBLOCK on stdin.")
    breaks = {k: sum(res.get("log_breaks", k)) for k in keys if sum(res.get("log_breaks", k))}
    if breaks:
        notes.append("Lines out of sequence (a number other than the previous + 1; a lost line also makes one): "
                     + ", ".join(f"{k} {v}" for k, v in breaks.items()) + ".")
    flushed = {k: res.get("log_idle_flushed", k) for k in keys}
    notes.append(
        f"Idle wakeups: one {cfg.log_window_s:g} s window, all loggers side by side, each on its own pipe that the "
        f"harness holds open; {LOG_IDLE_LINES} lines are written to each, then the window opens "
        f"{WAKEUP_SETTLE_S:g} s later; voluntary + nonvoluntary context switches of the logger, scaled to 20 s. "
        "Idle RSS and private dirty: `smaps_rollup` of each logger just before that window (the loggers run "
        "side by side here, so PSS, which two s6-log instances would split, is not reported). "
        "Lines in `current` at the end of the window (of "
        f"{LOG_IDLE_LINES}): " + ", ".join(f"{k} {v[0] if v else '—'}" for k, v in flushed.items()) + ".")
    h = "herd"
    if h in keys:
        mbps, cpu = median(res.get("log_mbps", h)), median(res.get("log_cpu_s", h))
        s6cpu = median(res.get("log_cpu_s", "s6"))
        lost = sum(res.get("log_lost", h)) + sum(res.get("log_duplicated", h)) + sum(res.get("log_malformed", h))
        wake = median(res.get("log_wakeups", h))

        def verdict(ok):
            return "—" if ok is None else "met" if ok else "**not met**"

        notes.append(
            "Goal for svlog (issue): ≥ 150 MB/s: " + f"{fmt(mbps, 1)} MB/s, {verdict(None if mbps is None else mbps >= 150)}; "
            "CPU ≤ s6-log's (default mode): " + f"{fmt(cpu, 2)} s vs {fmt(s6cpu, 2)} s, "
            f"{verdict(None if cpu is None or s6cpu is None else cpu <= s6cpu)}; 0 lines lost, duplicated or "
            f"malformed: {lost}, {verdict(lost == 0 if res.get('log_lost', h) else None)}; 0 idle wakeups: "
            f"{fmt(wake, 1)}, {verdict(None if wake is None else wake == 0)}.")
    return notes


def myinit_notes(cfg: Config, res: Results) -> list[str]:
    notes = []
    root = res.extra.get("myinit_root", {})
    log = ("herd's `svlog /out/log`" if root.get("log") == "svlog" else "busybox `cat >> /out/s09.log`")
    notes.append(
        "The root (a fresh one per trial, on tmpfs under /dev/shm; the binaries hard-linked from one copy): "
        "static busybox (`/bin/busybox` of busybox-static) with its applets linked in /bin; herd's static "
        f"`{'`, `'.join(MYINIT_BINS)}`" + (" and `svlog`" if "svlog" in root.get("binaries", []) else "")
        + " in /usr/bin (the snapshot of the general notes; no libraries in the root); "
        "`/sbin/my_init -> /usr/bin/svscan`; `/dev/null` (busybox sh gives a background job /dev/null as stdin); "
        "`/etc/container_environment/FOO` = `orig`; `/etc/my_init.d/10_change_env` (writes `changed` to that "
        "file) and `20_see_env`, then `/etc/rc.local`, each logging the `FOO` it sees; "
        "`/etc/my_init.pre_shutdown.d/10` and `/etc/my_init.post_shutdown.d/10`, logging `pre` and `post`; "
        f"{MYINIT_SERVICES} services `/etc/service/s00` … `s{MYINIT_SERVICES - 1:02d}` whose `run` is "
        "`#!/bin/sh`, `trap 'echo NAME got TERM >> /out/term; exit 0' 1 2 3 6 15`, `echo NAME up >> /out/up`, "
        "then `while :; do sleep 1 & wait; done`; "
        f"`s{MYINIT_SERVICES - 1:02d}` also has `log/run` = `exec` {log}. The TERM-ignoring variants add "
        f"`/etc/service/{MYINIT_STUBBORN}` with `trap '' 15` instead.")
    ok = res.get("myinit_startup_ok", "herd")
    if ok:
        notes.append(
            "Run as `unshare --pid --fork --mount-proc=ROOT/proc --kill-child chroot ROOT /sbin/my_init` with "
            f"`PATH={MYINIT_PATH}` and nothing else in the environment (plus `KILL_PROCESS_TIMEOUT` in its "
            "variants), stdout and stderr to files. Start-up went as phusion's does (10_change_env saw "
            "`FOO=orig`, 20_see_env and rc.local `FOO=changed`, before any service) in "
            f"{sum(1 for x in ok if x)} of {len(ok)} trials.")
    notes.append(
        f"Shutdown ({cfg.myinit_trials} trial(s) per variant, the variants in a rotating order): the harness waits "
        f"(bounded at {MYINIT_UP_BOUND_S:g} s) until every service has written its `up` line, then "
        f"{STOP_SETTLE_S:g} s more, sends SIGTERM to my_init (its host pid) and times until the unshare process "
        "exits (it does when its child, the namespace's init, has exited), seen through a pidfd, as in the "
        "scanners' PID-1 shutdown above. Each stop is bounded at "
        f"{MYINIT_STOP_BOUND_S:g} s. TERM handlers = distinct `NAME got TERM` lines; exit status = unshare's, "
        "which passes on my_init's; shutdown scripts = the `pre`/`post` lines written after the SIGTERM.")
    notes.append(
        "Timeouts: with neither `KILL_PROCESS_TIMEOUT` nor `KILL_ALL_PROCESSES_TIMEOUT` set, herd's my_init has "
        "one 7 s bound for the whole stop (at the bound everything left is SIGKILLed, exit 124). With "
        f"`KILL_PROCESS_TIMEOUT={MYINIT_KILL_PROCESS_TIMEOUT}` alone, the services get "
        f"{MYINIT_KILL_PROCESS_TIMEOUT} s; "
        "then the post-shutdown scripts run, everything left gets SIGTERM and SIGCONT, and "
        "`KILL_ALL_PROCESSES_TIMEOUT` (5 s when unset) later what is still there is SIGKILLed: a service that "
        f"ignores TERM is killed at {MYINIT_KILL_PROCESS_TIMEOUT} + 5 = "
        f"{int(MYINIT_KILL_PROCESS_TIMEOUT) + 5} s (docs/migrating-from-phusion.md). phusion's sequence "
        "([its my_init](https://github.com/phusion/baseimage-docker/blob/master/image/bin/my_init)): "
        "pre-shutdown scripts, `sv -w $KILL_PROCESS_TIMEOUT force-stop` of every "
        "service, SIGTERM to runsvdir, `sv status` polled every 0.1 s, post-shutdown scripts, then `kill(-1, "
        "SIGTERM)` and up to `KILL_ALL_PROCESSES_TIMEOUT` before SIGKILL; 30 s and 30 s by default.")
    stop, nolog = median(res.get("myinit_stop_ms", "herd")), median(res.get("myinit_stop_nolog_ms", "herd"))
    if stop is not None and nolog is not None:
        notes.append(
            f"With and without the `log/`: {fmt(stop, 1)} ms and {fmt(nolog, 1)} ms. When "
            f"s{MYINIT_SERVICES - 1:02d}'s trap runs `exit 0`, the `sleep 1` it started in the background lives on "
            "(re-parented to my_init) and still holds the log pipe as its stdout. While the supervisors stop, svscan "
            "sends SIGTERM every 10 ms to processes orphaned since the stop began, and at once when a supervise "
            "says it has closed its log pipe and waits for its logger, so that `sleep` ends at once, the "
            "logger reads EOF and its `supervise` exits (before that sweep existed, this cost up to 1 s here, and a "
            "`sleep 100 &` held the stop until the bound; before the supervise said so, up to the sweep's 10 ms). "
            "Daemons left by start-up scripts are not swept early: they are stopped after the services, as "
            "phusion does.")
    notes.append(
        "A service that ignores TERM is SIGKILLed by its supervise after three quarters of the bound (5.25 s of "
        "the default 7 s; with `KILL_PROCESS_TIMEOUT=3`, at 3 s, as phusion's `sv force-stop` would), its logger "
        "drains, the post-shutdown scripts run, and my_init exits 124.")
    errs = res.extra.get("myinit_stderr", {})
    if errs.get("myinit_stopx"):
        warn = [x for x in errs["myinit_stopx"].splitlines() if not x.startswith("***")]
        if warn:
            notes.append(f"my_init's stderr in the TERM-ignoring variant ends with `{warn[-1]}` (progress lines "
                         "`*** …` as phusion's; full texts under `extra.myinit_stderr` in the JSON).")
    notes.append(
        f"Memory (in the default variant's trials, just before the SIGTERM, {MYINIT_SERVICES} services and the "
        "logger up): `Rss` and `Pss` from `/proc/PID/smaps_rollup` of my_init, and of each of its children named "
        "`supervise` (herd's supervise runs `log/run` itself: one process per service). The binaries are on "
        "tmpfs here, so their text pages count as dirty and private dirty is not reported (RSS and PSS do not "
        "depend on it). phusion's 11.8 MB is the RSS of its Python my_init alone; its runsvdir and one runsv per "
        "service come on top.")
    counts = "; ".join(
        f"{label}: up {fmt(median(res.get(f'{k}_up', 'herd')), 0)} of {MYINIT_SERVICES}, TERM handlers run "
        f"{fmt(median(res.get(f'{k}_clean', 'herd')), 0)}"
        for k, label in (("myinit_cmd", "with the `log/`"), ("myinit_cmd_nolog", "without"))
        if res.get(f"{k}_up", "herd"))
    notes.append(
        f"Main command: `my_init -- sh -c 'exit 3'` in the same tree, and in the tree without the `log/` (each "
        f"bounded at {MYINIT_CMD_BOUND_S:g} s), timed from just before the unshare process is spawned to its exit: "
        "start-up scripts, the services started, `sh` run and exited at once, then the whole stop (with the "
        "`log/` effect above: the `sleep 1` of s09 has just started). Services by the time my_init exited, "
        f"medians: {counts or 'none recorded'}. \"Spawn → all services up\" is from the same kind of spawn to the "
        "last service's stamp (the stamp helper, static, copied into the root and run by each `run` after its "
        "`up` line), in the default variant.")
    ns = res.get("myinit_ns_ms", "harness")
    if ns:
        notes.append(
            f"Part of every spawn-to-exit figure: the namespace and chroot alone (`unshare … chroot ROOT /bin/true` "
            f"in the same kind of root) take {fmt(median(ns), 1)} ms median (p90 {fmt(p90(ns), 1)} ms) here.")
    notes.append(
        "phusion's column is not measured here: there is no phusion my_init on this machine (a Python script in "
        "phusion's Docker image, which the harness does not fetch). Its figures come from "
        "a measurement of ours, outside this harness (phusion's my_init read from master, then run elsewhere "
        "with its paths "
        "moved to /tmp, with one TERM-trapping service): 30 s + 30 s default timeouts (its README admits Docker "
        "kills at 10 s; the same setup takes about 30 s), 3.84 s with `KILL_PROCESS_TIMEOUT=3` and exit 2, exit 2 "
        "after any SIGTERM, `sh -c 'exit 3'` gives 3, ~11.8 MB RSS.")
    return notes


def section_issues(res: Results, section: str) -> list[str]:
    notes = []
    bounded = [b for b in res.bounded if section_of(b["metric"]) == section]
    if bounded:
        notes.append(f"{len(bounded)} trial(s) reached their bound (a result, not a harness failure; "
                     "`bounded` in the JSON). A cell marked ⁺ is the median of the trials that finished:")
        for b in bounded:
            notes.append(f"  - {b['flavor']}: `{b['metric']}` trial {b['trial']}: not within {b['bound_s']:g} s: "
                         f"{b['what']}")
    fails = [f for f in res.failures if section_of(f["metric"]) == section]
    if fails:
        notes.append(f"{len(fails)} trial(s) failed (all of them are in `failures` in the JSON):")
        for f in fails[:20]:
            notes.append(f"  - {f['flavor']}: `{f['metric']}` trial {f['trial']}: {f['why']}")
    elif not bounded:
        notes.append("Every trial finished within its deadline.")
    return notes
