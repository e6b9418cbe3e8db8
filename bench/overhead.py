"""The harness's own costs, measured before any section in every run: the stamp helper spawned with
`posix_spawn` and through `subprocess.run` (as the sv clients are run); and two kernel costs a
waiting client pays at its exit: the `close` of an inotify fd that had a watch (what herd's `sv`
paid until issue 15), and of a directory fd with a dnotify mark (what it pays now).

The general notes and the sv notes quote these figures; they are not a section of their own.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

from bench.config import CLEAN_ENV, Config
from bench.harness import Harness, read_stamps
from bench.results import Results


def bench_overhead(h: Harness, cfg: Config, res: Results) -> None:
    """Per call: posix_spawn + exit + waitpid of the stamp helper, and spawn → stamp written; and
    subprocess.run with captured output, as the sv scenario runs its clients."""
    f = h.scratch / "overhead-stamps"
    walls, to_stamp, runs = [], [], []
    for _ in range(cfg.overhead_calls):
        t0 = time.monotonic_ns()
        pid = os.posix_spawn(str(h.stamp), [str(h.stamp), str(f)], {})
        os.waitpid(pid, 0)
        walls.append((time.monotonic_ns() - t0) / 1e6)
        to_stamp.append((read_stamps(f)[-1] - t0) / 1e6)
    for _ in range(cfg.overhead_calls):
        t0 = time.monotonic_ns()
        subprocess.run([str(h.stamp), str(f)], timeout=5, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=CLEAN_ENV)
        runs.append((time.monotonic_ns() - t0) / 1e6)
    res.samples["overhead_spawn_wait_ms"] = {"harness": walls}
    res.samples["overhead_spawn_to_stamp_ms"] = {"harness": to_stamp}
    res.samples["overhead_run_capture_ms"] = {"harness": runs}
    res.samples["overhead_inotify_close_ms"] = {"harness": inotify_close_ms(h.scratch, 30)}
    res.samples["overhead_dnotify_close_ms"] = {"harness": dnotify_close_ms(h.scratch, 30)}


def inotify_close_ms(d: Path, n: int) -> list[float]:
    """close(2) of an inotify fd after inotify_rm_watch, as herd's sv did before it exited (50 ms
    apart): the kernel may wait for an SRCU grace period when it tears down a group that had marks."""
    libc = ctypes.CDLL(None, use_errno=True)
    in_close_write, in_close_nowrite, in_moved_to = 0x8, 0x10, 0x80
    out = []
    for _ in range(n):
        time.sleep(0.05)
        fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if fd < 0:
            return out
        wd = libc.inotify_add_watch(fd, str(d).encode(), in_close_write | in_close_nowrite | in_moved_to)
        libc.inotify_rm_watch(fd, wd)
        t0 = time.monotonic_ns()
        os.close(fd)
        out.append((time.monotonic_ns() - t0) / 1e6)
    return out


def dnotify_close_ms(d: Path, n: int) -> list[float]:
    """close(2) of a directory fd that holds a dnotify mark (`F_NOTIFY`, DN_CREATE | DN_RENAME |
    DN_MULTISHOT), as herd's sv has while it waits (50 ms apart). SIGIO is ignored meanwhile: nothing
    changes in `d`, but its default action would end the harness."""
    old = signal.signal(signal.SIGIO, signal.SIG_IGN)
    out = []
    try:
        for _ in range(n):
            time.sleep(0.05)
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fcntl.fcntl(fd, fcntl.F_NOTIFY, fcntl.DN_CREATE | fcntl.DN_RENAME | fcntl.DN_MULTISHOT)
            except OSError:
                os.close(fd)
                return out
            t0 = time.monotonic_ns()
            os.close(fd)
            out.append((time.monotonic_ns() - t0) / 1e6)
    finally:
        signal.signal(signal.SIGIO, old)
    return out
