"""Benchmark herd (`supervise`, `sv`, `svscan`, `svlog`, `my_init`) against runit, daemontools and s6.

Usage (as root, from the repository root):

    just bench            # = just release; python3 -m bench --herd-dir target/x86_64-unknown-linux-gnu/release
    python3 -m bench [--quick] [--herd-dir DIR] [--sections supervise,sv,scanners,loggers,myinit,readiness,policy,
                                                                tree,install,startup]
                     [--only herd,runit,...]
    python3 -m bench --report-only docs/benchmarks.json   # rewrite docs/benchmarks.md, measure nothing
    just bench-check      # checks that --report-only loads no measuring module

Writes docs/benchmarks.md (one table per section, one column per flavor; the goals of issues 8,
15, 16 and 18 with their verdicts; binary sizes) and docs/benchmarks.json (every raw sample). Python 3.11
standard library only; needs gcc for bench/stamp.c, bench/loggen.c and bench/notify.c, which are
compiled into the scratch directory at bench time, util-linux `unshare` for the PID-1 tests, and
busybox-static plus herd's static release build for the my_init section.

What is measured, with the flavors interleaved trial by trial (the order rotates each trial):

supervise (herd `supervise`, runit `runsv`, daemontools `supervise`, `s6-supervise`):
  1. RSS and PSS (from /proc/PID/smaps_rollup) of one idle supervisor, with a logger and without;
     and the mean PSS and private dirty of 10 and of 100 idle supervisors of one flavor at once.
  2. Idle wakeups: context switches of each idle supervisor over one shared window.
  3. Restart latency: time from the exit of a `run` that lived 2 s to the next start of `run`.
  4. Crash-loop interval: time between two starts of a `run` that exits at once.
  5. Control restart: time from writing `t` to supervise/control (`s6-svc -r` for s6) to the new start.
sv (herd's `sv` and runit's `/usr/bin/sv`, each against herd `supervise` and against `runsv`):
  6. Wall time of `sv -w 7 restart`, of `sv start` from down, and of `sv status`.
scanners (herd `svscan`, runit `runsvdir`, daemontools `svscan`, `s6-svscan`):
  7. Pickup: a complete service dir `mv`ed into the running scanner's dir → its `run` started.
  8. Start of 100 and 500 services: scanner start → every `run` started.
  9. Shutdown as PID 1 (`unshare --pid --fork --mount-proc`) of 50 services that log a clean TERM,
     and of 50 with one that ignores TERM: SIGTERM → namespace empty, clean count, exit status.
 10. Idle wakeups of the scanner and its 10 supervisors; 11. the scanner's own memory;
 12. zombies: a service makes 500 orphans under the scanner as PID 1; zombies left after 2 s, and
     time until none is left.
loggers (herd `svlog -tt`, runit `svlogd -tt`, daemontools `multilog t`, `s6-log t`, `s6-log -b t`;
         every one rotating at 10 MB and keeping 5 old files, in a log dir on disk):
 13. Throughput: 200 MB of numbered 100-byte lines through a pipe from a C writer (bench/loggen.c)
     to the logger's exit at EOF: MB/s, lines/s, the logger's CPU time and peak RSS (wait4), and
     every line checked in the files (rotated files are hard-linked aside as they appear, so the
     logger's own deletion of old files does not hide them): lost, duplicated, malformed, reordered.
 14. Idle wakeups: context switches of each logger with an open, idle stdin.
myinit (herd's svscan called `my_init`, as PID 1 of `unshare --pid --fork --mount-proc=ROOT/proc chroot
        ROOT /sbin/my_init` in a phusion/baseimage-style root on tmpfs: static busybox, herd's static
        binaries, start-up and shutdown scripts, the container environment, 10 TERM-trapping services):
 15. Shutdown: SIGTERM → my_init exited, exit code, TERM handlers run; the same tree without its log/,
     with KILL_PROCESS_TIMEOUT=3, and with one more service that ignores TERM (default, and =3).
 16. RSS and PSS of PID 1, and the PSS of PID 1 + its supervise processes; spawn → every service up.
 17. `my_init -- sh -c 'exit 3'`: spawn → exit, and its exit code. phusion's own my_init is not on this
     machine: its documented figures are shown beside, labelled as such.
readiness (issue 15; herd `supervise`/`sv`/`svscan` against `s6-supervise`/`s6-svwait`/`s6-svc`/`s6-svscan`):
 18. Readiness → waiter: a `notification-fd` service (its `run` the notify helper, bench/notify.c) writes its
     newline when the harness tells it to; from that newline to the exit of `sv -w 5 up` / `s6-svwait -U`.
 19. Readiness → dependent started: `app` depends on `db` (herd: `dependencies.d/db`; s6, without s6-rc in
     Debian: `s6-svwait -U db && s6-svc -u app`); from db's newline to app's `run` start.
 20. Stop as PID 1 of a 3-layer tree of 30 services: SIGTERM → namespace empty, and how many dependents' TERM
     traps saw every dependency still running.
policy (issue 16; herd `supervise` beside runsv, daemontools' supervise and s6-supervise):
 21. Wakeups per minute of a `supervise` whose service has a `health` (`exit 0`) every 1 s, and of one
     without (herd only: no peer has periodic health checks).
 22. Control restart (as 5.) of a plain service dir and of one with `down-signal` TERM and `timeout-kill`
     5000, interleaved (the files for herd and s6-supervise, which read them; runsv and supervise don't).
tree (issue 18; herd `svscan` + `supervise` + `svlog`, runit `runsvdir` + `runsv` + `svlogd`, daemontools
      `svscan` + `supervise` + `multilog`, `s6-svscan` + `s6-supervise` + `s6-log`):
 23. The whole tree at N = 1, 5, 20, 100 services, each with a logger writing to a directory: the summed PSS
     and private dirty (smaps_rollup) of the scanner, every supervisor and every logger, once all are up and
     settled; per service, per role, and the slope from 20 to 100 services.
install (issue 18; no process started):
 24. Bytes installed: herd's `scripts/install.sh` into a temp DESTDIR (programs, links, man pages) vs runit's,
     s6 + execline's and tini's Debian programs plus the shared libraries they load; also as one tar layer.
startup (issue 18; the scanners and their supervisors):
 25. The floor (N × one supervisor spawned → its `run` started, median, / cores) and the start of 100 and 500
     services (as 8.) as a ratio to it, in interleaved rounds.
  And the harness overhead: the cost of the stamp helper itself and of running a client, and what closing
  an inotify and a dnotify watch costs at a waiting client's exit.

Every start is timed by the `stamp` helper inside the supervised process (the service's `run` is a
symlink to it), on CLOCK_MONOTONIC, which is also Python's time.monotonic_ns(). Scratch service and
scan directories live on tmpfs (/dev/shm); the files the PID-1 services log to, and herd's
binaries, are on disk (/var/tmp): herd's binaries are copied there and synced at the start. Every
trial has a deadline: a flavor that misses one gets a note in the report, never a hang. Every
process the harness starts is killed by pid or process group (a PID-1 namespace by SIGKILL to its
init); the harness is a child subreaper so that orphans come back to it to be reaped.

Modules (the package is `bench/`; run it from the repository root):

    __main__      the command line: `--report-only` imports bench.report, a run bench.run
    config        tool paths, every scenario constant, the FULL and QUICK budgets
    flavors       the columns: supervisors, scanners, loggers, sv client → supervisor pairs
    results       raw samples, failed and bounded trials, median and p90
    host          machine, versions, ELF linkage and binary sizes (short queries only)
    procfs        readers of /proc
    harness       scratch dirs, service dirs, processes under test, waits, the trial loop
    overhead      the harness's own costs, measured first in every run
    sections/     supervise, sv, scanners, loggers, myinit, readiness, policy, tree, install, startup:
                  one module per section
    run           a measuring run, from the columns to the written JSON and report
    report/       tables, goals, notes and the rendered docs/benchmarks.md
"""
