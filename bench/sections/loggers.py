"""loggers section: herd `svlog -tt` vs runit `svlogd -tt`, daemontools `multilog t` and `s6-log t`
(and `-b`), each rotating at 10 MB and keeping 5 files in a log dir on disk: throughput of numbered
lines from bench/loggen.c through a pipe, with the logger's CPU time and peak RSS and every line
checked in the files; the writer alone; idle wakeups and memory.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.config import (LOG_BOUND_S, LOG_DIGITS, LOG_FILE_SIZE, LOG_FILLER, LOG_IDLE_LINES, LOG_KEEP, LOG_LINE,
                          LOG_START_BOUND_S, LOG_TS, REPORT_WINDOW_S, WAKEUP_SETTLE_S, Config)
from bench.flavors import Logger
from bench.harness import (Harness, TrialFailed, reap_rusage, rotated, stderr_tail, trial, wait_pidfd,
                           wait_until)
from bench.procfs import ctx_switches, smaps_rollup
from bench.results import Results

IN_CREATE, IN_MOVED_TO = 0x100, 0x80


def log_line(k: int) -> bytes:
    """Line k as bench/loggen.c writes it."""
    return b"%010d-" % k + LOG_FILLER + b"\n"


class RotatedLinker:
    """Hard-links each rotated file (`@….s`) into a side directory as soon as it appears (inotify),
    so that the logger's deletion of old files (n5) frees nothing the check needs."""

    def __init__(self, logdir: Path, side: Path):
        self.logdir, self.side = logdir, side
        self.inodes: set[int] = set()
        self.missed: list[str] = []  # gone before the harness could link it
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(self.fd, str(logdir).encode(), IN_CREATE | IN_MOVED_TO) < 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(err, f"inotify_add_watch {logdir}")

    def drain(self) -> None:
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            off = 0
            while off + 16 <= len(buf):
                nlen = int.from_bytes(buf[off + 12 : off + 16], "little")
                name = buf[off + 16 : off + 16 + nlen].rstrip(b"\0").decode(errors="replace")
                off += 16 + nlen
                self.link(name)

    def link(self, name: str) -> None:
        if not (name.startswith("@") and name.endswith(".s")) or (self.side / name).exists():
            return
        try:
            ino = os.stat(self.logdir / name).st_ino
            if ino in self.inodes:
                return
            os.link(self.logdir / name, self.side / name)
            self.inodes.add(ino)
        except FileNotFoundError:
            self.missed.append(name)

    def sweep(self) -> None:
        self.drain()
        for name in sorted(os.listdir(self.logdir)):
            self.link(name)

    def close(self) -> None:
        os.close(self.fd)


def check_log(files: list[Path], n: int) -> dict:
    """Streams the files (rotated ones in name order, then `current`) and compares the lines, with
    the timestamp prefix stripped, with loggen's lines 0..n-1."""
    counts = bytearray(n)
    tail = b"-" + LOG_FILLER + b"\n"
    length = LOG_TS + 1 + LOG_LINE
    a, b = LOG_TS + 1, LOG_TS + 1 + LOG_DIGITS
    valid = malformed = breaks = 0
    prev = -1
    largest = 0
    for f in files:
        try:
            largest = max(largest, f.stat().st_size)
            fh = open(f, "rb", buffering=1 << 20)
        except FileNotFoundError:
            continue
        with fh:
            for line in fh:
                if len(line) != length or line[LOG_TS] != 32 or line[b:] != tail or not line[a:b].isdigit():
                    malformed += 1
                    continue
                k = int(line[a:b])
                if k >= n:
                    malformed += 1
                    continue
                if counts[k] < 255:
                    counts[k] += 1
                if k != prev + 1:
                    breaks += 1
                prev = k
                valid += 1
    lost = counts.count(0)
    return {"lines": valid, "lost": lost, "duplicated": valid - (n - lost), "malformed": malformed,
            "breaks": breaks, "largest_file": largest}


def ru_cpu(ru) -> tuple[float, float]:
    return ru.ru_utime, ru.ru_stime


def bench_log_writer(h: Harness, cfg: Config, res: Results) -> None:
    """The writer alone: into /dev/null, and through a pipe into `loggen -s` (a bare pipe's rate)."""
    n = cfg.log_bytes // LOG_LINE
    print(f"bench: log writer alone, {cfg.writer_trials} trials", file=sys.stderr)
    errlog = h.scratch / "loggen.stderr"
    for i in range(cfg.writer_trials):
        with open(os.devnull, "wb") as null:
            t0 = time.monotonic_ns()
            p = h.spawn([str(h.loggen), str(n)], errlog, stdout=null)
            out = reap_rusage(h, p, 60)
            t1 = time.monotonic_ns()
        if out is None or out[0] != 0:
            if out is None:
                h.stop_many([p])
            res.fail("log_writer", "harness", i, f"loggen into /dev/null: {out and out[0]}{stderr_tail(errlog)}")
            continue
        res.add("log_writer_null_mbps", "harness", cfg.log_bytes / 1e6 / ((t1 - t0) / 1e9))
        res.add("log_writer_null_cpu_s", "harness", sum(ru_cpu(out[1])))
        r, w = os.pipe()
        try:
            t0 = time.monotonic_ns()
            sink = h.spawn([str(h.loggen), "-s"], errlog, stdin=r)
            os.close(r)
            r = -1
            p = h.spawn([str(h.loggen), str(n)], errlog, stdout=w)
            os.close(w)
            w = -1
            out = reap_rusage(h, sink, 60)
            t1 = time.monotonic_ns()
            wout = reap_rusage(h, p, 10)
        finally:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)
            h.stop_many([x for x in (sink, p) if x.returncode is None])
        if out is None or wout is None:
            res.fail("log_writer", "harness", i, f"loggen | loggen -s did not finish{stderr_tail(errlog)}")
            continue
        res.add("log_writer_pipe_mbps", "harness", cfg.log_bytes / 1e6 / ((t1 - t0) / 1e9))
        res.add("log_writer_pipe_cpu_s", "harness", sum(ru_cpu(wout[1])))


def new_logdir(h: Harness, lg: Logger, tag: str) -> tuple[Path, Path]:
    """(top, logdir): a fresh directory on disk, with DIR/config for svlogd-style loggers."""
    top = h.new_dir(f"{tag}-{lg.key}", base=h.disk)
    logdir = top / "main"
    logdir.mkdir()
    if lg.config:
        (logdir / "config").write_text(f"s{LOG_FILE_SIZE}\nn{LOG_KEEP}\n")
    return top, logdir


def wait_current(p: subprocess.Popen, logdir: Path, errlog: Path, deadline: float) -> None:
    def ready() -> bool:
        if p.poll() is not None:
            raise TrialFailed(f"logger exited with {p.returncode} at start{stderr_tail(errlog)}")
        return (logdir / "current").exists()

    wait_until("the logger's current", deadline, ready)


def bench_log_throughput(h: Harness, cfg: Config, loggers: list[Logger], res: Results) -> None:
    n = cfg.log_bytes // LOG_LINE
    print(f"bench: logger throughput, {cfg.log_bytes / 1e6:g} MB, {cfg.log_trials} trials "
          f"(each bounded at {LOG_BOUND_S:g} s)", file=sys.stderr)
    for i in range(cfg.log_trials):
        for lg in rotated(loggers, i):

            def body(lg=lg):
                top, logdir = new_logdir(h, lg, "logput")
                side = top / "rotated"
                side.mkdir()
                errlog = top / "stderr"
                os.sync()  # nothing of the previous run left to write back
                linker = RotatedLinker(logdir, side)
                r, w = os.pipe()
                procs: list[subprocess.Popen] = []
                try:
                    rufile = top / "rusage"
                    # Through `loggen -x`, which forks and execs the logger and writes its wait4 rusage:
                    # a peak RSS carries over an exec, so a child of this Python would report Python's.
                    logger = h.spawn([str(h.loggen), "-x", str(rufile), *lg.argv(logdir)], errlog, stdin=r)
                    procs.append(logger)
                    os.close(r)
                    r = -1
                    wait_current(logger, logdir, errlog, time.monotonic() + LOG_START_BOUND_S)
                    linker.drain()
                    t0 = time.monotonic_ns()
                    writer = h.spawn([str(h.loggen), str(n)], errlog, stdout=w)
                    procs.append(writer)
                    os.close(w)
                    w = -1
                    t1 = wait_pidfd(logger.pid, LOG_BOUND_S, (linker.fd, linker.drain))
                    if t1 is None:
                        linker.sweep()
                        res.bound("log_mbps", lg.key, i, LOG_BOUND_S,
                                  f"the logger had not exited {LOG_BOUND_S:g} s after the writer started "
                                  f"({len(linker.inodes)} rotated files by then)")
                        return
                    rc, _ = reap_rusage(h, logger, 1)
                    wout = reap_rusage(h, writer, 10)
                    if rc != 0:
                        raise TrialFailed(f"logger exited with {rc}{stderr_tail(errlog)}")
                    if wout is None or wout[0] != 0:
                        raise TrialFailed(f"writer: {wout and wout[0]}{stderr_tail(errlog)}")
                    _, user_us, sys_us, maxrss = map(int, rufile.read_text().split())
                    linker.sweep()
                    secs = (t1 - t0) / 1e9
                    user, system = user_us / 1e6, sys_us / 1e6
                    kept = sorted(x for x in os.listdir(logdir) if x.startswith("@"))
                    others = sorted(set(os.listdir(logdir)) - set(kept) - {"current", "lock", "state", "config"})
                    chk = check_log([*sorted(side.iterdir()), logdir / "current"], n)
                    res.add("log_mbps", lg.key, cfg.log_bytes / 1e6 / secs)
                    res.add("log_lines_s", lg.key, n / secs)
                    res.add("log_secs", lg.key, secs)
                    res.add("log_cpu_s", lg.key, user + system)
                    res.add("log_cpu_user_s", lg.key, user)
                    res.add("log_cpu_sys_s", lg.key, system)
                    res.add("log_maxrss_kib", lg.key, maxrss)
                    res.add("log_writer_cpu_s", lg.key, sum(ru_cpu(wout[1])))
                    for k in ("lost", "duplicated", "malformed", "breaks", "largest_file", "lines"):
                        res.add(f"log_{k}", lg.key, chk[k])
                    res.add("log_rotated", lg.key, len(linker.inodes))
                    res.add("log_kept", lg.key, len(kept))
                    res.add("log_unlinked", lg.key, len(linker.missed))
                    if others:
                        res.extra.setdefault("log_other_files", {})[f"{lg.key} trial {i}"] = others
                    print(f"bench:   {lg.key}: {cfg.log_bytes / 1e6 / secs:.1f} MB/s, cpu {user + system:.2f} s, "
                          f"lost {chk['lost']}, dup {chk['duplicated']}, malformed {chk['malformed']}",
                          file=sys.stderr)
                finally:
                    linker.close()
                    for fd in (r, w):
                        if fd >= 0:
                            os.close(fd)
                    h.stop_many([p for p in procs if p.returncode is None])
                    shutil.rmtree(top, ignore_errors=True)
                    os.sync()

            trial(res, "log_mbps", lg, i, body)


def bench_log_wakeups(h: Harness, cfg: Config, loggers: list[Logger], res: Results) -> None:
    """Every logger side by side, each with an open pipe on stdin, idle after a few lines."""
    window = cfg.log_window_s
    print(f"bench: logger idle wakeups, one {window:g} s window", file=sys.stderr)
    running: list[tuple[Logger, subprocess.Popen, int, Path, Path]] = []
    try:
        for lg in loggers:
            top, logdir = new_logdir(h, lg, "logwake")
            r, w = os.pipe()
            try:
                p = h.spawn(lg.argv(logdir), top / "stderr", stdin=r)
            except OSError:
                os.close(w)
                raise
            finally:
                os.close(r)
            running.append((lg, p, w, logdir, top / "stderr"))
        ready = []
        deadline = time.monotonic() + LOG_START_BOUND_S
        lines = b"".join(log_line(k) for k in range(LOG_IDLE_LINES))
        for lg, p, w, logdir, errlog in running:
            try:
                wait_current(p, logdir, errlog, deadline)
                os.write(w, lines)
                ready.append((lg, p, logdir))
            except (TrialFailed, OSError) as e:
                res.fail("log_wakeups", lg.key, 0, str(e))
        time.sleep(WAKEUP_SETTLE_S)
        for lg, p, _ in ready:
            m = smaps_rollup(p.pid)
            res.add("log_idle_rss_kib", lg.key, m["rss"])
            res.add("log_idle_dirty_kib", lg.key, m["private_dirty"])
        before = {lg.key: ctx_switches(p.pid) for lg, p, _ in ready}
        t0 = time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - t0
        for lg, p, logdir in ready:
            try:
                if p.poll() is not None:
                    raise TrialFailed(f"logger exited with {p.returncode}")
                k = ctx_switches(p.pid) - before[lg.key]
                res.add("log_wakeups", lg.key, k * REPORT_WINDOW_S / elapsed)
                res.add("log_wakeups_raw", lg.key, {"switches": k, "window_s": round(elapsed, 3)})
                res.add("log_idle_flushed", lg.key, (logdir / "current").read_bytes().count(b"\n"))
            except (TrialFailed, OSError) as e:
                res.fail("log_wakeups", lg.key, 0, str(e))
    finally:
        h.stop_many([p for _, p, _, _, _ in running])
        for _, _, w, _, _ in running:
            os.close(w)


def measure(h: Harness, cfg: Config, loggers: list[Logger], res: Results) -> None:
    """The section, in the order of a run: the writer alone, idle wakeups, throughput."""
    bench_log_writer(h, cfg, res)
    bench_log_wakeups(h, cfg, loggers, res)
    bench_log_throughput(h, cfg, loggers, res)
