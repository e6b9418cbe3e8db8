"""The harness: scratch directories, service directories whose `run` is the stamp helper, every process
started (killed by pid and process group, never by name), supervisors and scanners under test, and
the trial loop (flavors in a rotating order; a failed trial is a note, not a crash).

Waits are bounded: `wait_until` polls every POLL_S up to a deadline, exits are seen through a pidfd.
The harness is a child subreaper (set in bench.run), so orphans come back to it to be reaped.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.config import CLEAN_ENV, THROTTLE_CLEAR_S, UNSHARE
from bench.flavors import Flavor, Scanner
from bench.procfs import descendants, proc_children_map
from bench.results import Results

POLL_S = 0.002


class TrialFailed(Exception):
    """A trial missed its deadline or a flavor misbehaved; becomes a note, not a crash."""


def read_stamps(path: Path) -> list[int]:
    try:
        return [int(x) for x in path.read_text().split()]
    except FileNotFoundError:
        return []


def wait_until(what: str, deadline: float, cond) -> None:
    while not cond():
        if time.monotonic() > deadline:
            raise TrialFailed(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def wait_exit_ns(p: subprocess.Popen, timeout_s: float) -> int | None:
    """CLOCK_MONOTONIC (ns) when `p` exits, seen through a pidfd (no polling); None at the timeout."""
    try:
        fd = os.pidfd_open(p.pid)
    except ProcessLookupError:  # already reaped
        return time.monotonic_ns()
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(timeout_s * 1000):
            return None
        t = time.monotonic_ns()
    finally:
        os.close(fd)
    p.wait()
    return t


def wait_pidfd(pid: int, timeout_s: float, also=None) -> int | None:
    """CLOCK_MONOTONIC (ns) when `pid` exits (it stays unreaped), or None at the timeout; `also` is
    an optional (fd, callback) polled meanwhile."""
    fd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if also:
            poller.register(also[0], select.POLLIN)
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            events = poller.poll(left * 1000)
            t = time.monotonic_ns()
            if any(e[0] == fd for e in events):
                return t
            if also and events:
                also[1]()
    finally:
        os.close(fd)


def reap_rusage(h: Harness, p: subprocess.Popen, timeout_s: float):
    """Waits (pidfd, bounded) for `p` and reaps it with wait4: (exit code, rusage), or None."""
    if wait_pidfd(p.pid, timeout_s) is None:
        return None
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    h.live.pop(p.pid, None)
    return p.returncode, ru


class Harness:
    """Scratch directories, the stamp helper, and every process started (for cleanup)."""

    def __init__(self, scratch: Path, disk: Path):
        self.scratch = scratch  # tmpfs
        self.disk = disk  # on disk
        self.stamp = scratch / "stamp"
        self.loggen = scratch / "loggen"
        self.notify = scratch / "notify"
        self.live: dict[int, subprocess.Popen] = {}
        self.counter = 0

    def new_dir(self, tag: str, base: Path | None = None) -> Path:
        self.counter += 1
        d = (base or self.scratch) / f"{self.counter:04d}-{tag}"
        d.mkdir()
        return d

    def make_service(self, tag: str, run_argv: list[str], log: bool = False) -> Path:
        """A service dir whose `run` is the stamp helper; `{dir}` in run_argv is the dir."""
        d = self.new_dir(tag)
        write_stamped_run(d, self.stamp, [a.replace("{dir}", str(d)) for a in run_argv])
        if log:
            (d / "log").mkdir()
            write_stamped_run(d / "log", self.stamp, [str(d / "log" / "started"), "/bin/cat"])
        return d

    def add_service(self, scandir: Path, name: str, run_argv: list[str]) -> Path:
        d = scandir / name
        d.mkdir()
        write_stamped_run(d, self.stamp, run_argv)
        return d

    @staticmethod
    def add_script_service(scandir: Path, name: str, script: str) -> Path:
        d = scandir / name
        d.mkdir()
        run = d / "run"
        run.write_text(script)
        run.chmod(0o755)
        return d

    def spawn(self, argv: list[str], errlog: Path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
              env: dict | None = None):
        with open(errlog, "ab") as err:
            p = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=err, start_new_session=True,
                                 close_fds=True, env=env)
        self.live[p.pid] = p
        return p

    def stop(self, p: subprocess.Popen) -> None:
        self.stop_many([p])

    def stop_many(self, procs: list[subprocess.Popen]) -> None:
        """SIGSTOP the roots so that they cannot fork, SIGKILL them and all their descendants."""

        def each(pids, sig):
            for v in pids:
                try:
                    os.kill(v, sig)
                except ProcessLookupError:
                    pass

        roots = [p.pid for p in procs]
        each(roots, signal.SIGSTOP)
        kids = proc_children_map()
        victims = {v for r in roots for v in descendants(r, kids)}
        each(victims, signal.SIGSTOP)  # freeze the trees, then look again for anything forked meanwhile
        kids = proc_children_map()
        victims |= {v for r in roots for v in descendants(r, kids)}
        each([*roots, *sorted(victims)], signal.SIGKILL)
        for pid in roots:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                print(f"bench: warning: pid {p.pid} did not die", file=sys.stderr)
            self.live.pop(p.pid, None)
        self.reap_orphans()

    def reap_orphans(self, deadline_s: float = 2.0) -> None:
        """Kill and reap processes reparented to us (we are a subreaper) that we do not track."""
        me = os.getpid()
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            strays = [c for c in proc_children_map().get(me, []) if c not in self.live]
            if not strays:
                return
            for c in strays:
                try:
                    os.kill(c, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    os.waitpid(c, 0)
                except ChildProcessError:
                    pass
            time.sleep(0.01)

    def stop_all(self) -> None:
        self.stop_many(list(self.live.values()))


def write_stamped_run(d: Path, stamp: Path, argv: list[str]) -> None:
    (d / "stamp.argv").write_text("\n".join(argv) + "\n")
    os.symlink(stamp, d / "run")


def stderr_tail(errlog: Path) -> str:
    try:
        text = errlog.read_text(errors="replace").strip()
    except FileNotFoundError:
        return ""
    return f" (stderr: {text.splitlines()[-1][:200]})" if text else ""


class Supervised:
    """One supervisor on one service dir (plus, for daemontools/s6, optionally one on DIR/log)."""

    def __init__(self, h: Harness, flavor: Flavor, svdir: Path, separate_log: bool = False):
        self.h, self.flavor, self.dir = h, flavor, svdir
        self.errlog = svdir.parent / f"{svdir.name}.stderr"
        self.logger: subprocess.Popen | None = None
        self.pipe: tuple[int, int] | None = None
        if separate_log:
            # As svscan would: one pipe, held open by us, from the service to its logger.
            r, w = os.pipe()
            self.pipe = (r, w)
            self.proc = h.spawn([flavor.path, str(svdir)], self.errlog, stdout=w)
            self.logger = h.spawn([flavor.path, str(svdir / "log")], self.errlog, stdin=r)
        else:
            self.proc = h.spawn([flavor.path, str(svdir)], self.errlog)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        for p in (self.proc, self.logger):
            if p is not None and p.poll() is not None:
                raise TrialFailed(f"supervisor exited with {p.returncode}{self.stderr_tail()}")

    def stderr_tail(self) -> str:
        return stderr_tail(self.errlog)

    def stop(self) -> None:
        self.h.stop_many([p for p in (self.logger, self.proc) if p is not None])
        self.close_pipe()

    def close_pipe(self) -> None:
        if self.pipe:
            for fd in self.pipe:
                os.close(fd)
            self.pipe = None

    def wait_stamps(self, path: Path, count: int, deadline: float, what: str) -> list[int]:
        def enough() -> bool:
            self.check_alive()
            return len(read_stamps(path)) >= count

        try:
            wait_until(what, deadline, enough)
        except TrialFailed as e:
            got = len(read_stamps(path))
            raise TrialFailed(f"{e} (got {got} of {count}){self.stderr_tail()}") from None
        return read_stamps(path)


def write_control(d: Path, letters: bytes) -> None:
    # O_NONBLOCK: ENXIO (no reader) instead of blocking if the supervisor is gone.
    fd = os.open(d / "supervise" / "control", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, letters)
    finally:
        os.close(fd)


def wait_throttle_clear(starts: list[int]) -> None:
    left = starts[-1] / 1e9 + THROTTLE_CLEAR_S - time.monotonic()
    if left > 0:
        time.sleep(left)


class Scan:
    """One scanner on one scan dir: a plain process, or PID 1 of a new pid namespace."""

    def __init__(self, h: Harness, sc: Scanner, scandir: Path, pid1: bool = False):
        self.h, self.sc, self.dir, self.pid1 = h, sc, scandir, pid1
        self.errlog = scandir.parent / f"{scandir.name}.stderr"
        argv = sc.argv(scandir)
        if pid1:
            # --kill-child: should the harness die, the namespace goes with unshare.
            argv = [UNSHARE, "--pid", "--fork", "--mount-proc", "--kill-child", *argv]
        self.proc = h.spawn(argv, self.errlog, env=CLEAN_ENV)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise TrialFailed(f"{self.sc.key} scanner exited with {self.proc.returncode}"
                              f"{stderr_tail(self.errlog)}")

    def scanner_pid(self, deadline: float) -> int:
        """The scanner's host pid (for PID 1: the child unshare forked, which execs the scanner)."""
        if not self.pid1:
            return self.proc.pid
        found: list[int] = []

        def child() -> bool:
            self.check_alive()
            found[:] = proc_children_map().get(self.proc.pid, [])
            return bool(found)

        wait_until("unshare's child", deadline, child)
        return found[0]

    def supervisors(self) -> list[int]:
        return proc_children_map().get(self.scanner_pid(time.monotonic() + 1), [])

    def stop(self) -> None:
        self.h.stop(self.proc)


def rotated(xs: list, i: int) -> list:
    k = i % len(xs) if xs else 0
    return xs[k:] + xs[:k]


def trial(res: Results, metric: str, flavor, i: int, body) -> None:
    """Runs one trial; a TrialFailed (or an OSError from a dead flavor) becomes a note."""
    try:
        body()
    except (TrialFailed, OSError, subprocess.SubprocessError) as e:
        res.fail(metric, flavor.key, i, str(e))
