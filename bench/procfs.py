"""Readers of /proc: the process tree (ppid → children), memory (`smaps_rollup`), context switches,
pid namespaces and their zombies, a process's name, program and argv[0], and the file system under a path.

Each reads what the kernel shows at the moment of the call and returns plain values; a process that
has gone raises OSError (or is skipped, in the scans of all of /proc). Nothing here starts, signals or
waits for a process.
"""

from __future__ import annotations

import os
from pathlib import Path


def proc_children_map() -> dict[int, list[int]]:
    """ppid -> [pid] for every process, from /proc/*/stat."""
    kids: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


def descendants(pid: int, kids: dict[int, list[int]] | None = None) -> list[int]:
    kids = proc_children_map() if kids is None else kids
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def depths(pid: int, kids: dict[int, list[int]] | None = None) -> dict[int, int]:
    """Every descendant of `pid` with its depth below it (a child is 1, a grandchild 2, ...)."""
    kids = proc_children_map() if kids is None else kids
    out: dict[int, int] = {}
    todo = [(pid, 0)]
    while todo:
        p, d = todo.pop()
        for c in kids.get(p, []):
            out[c] = d + 1
            todo.append((c, d + 1))
    return out


def exe(pid: int) -> str:
    """The path of the program `pid` runs, from /proc/PID/exe; OSError if it is gone."""
    return os.readlink(f"/proc/{pid}/exe")


def smaps_rollup(pid: int) -> dict[str, int]:
    """Rss, Pss and Private_Dirty in KiB, keyed "rss", "pss", "private_dirty"."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss", "Private_Dirty"):
                out[key.lower()] = int(rest.split()[0])
    return out


def ctx_switches(pid: int) -> int:
    total = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def pid_ns(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/pid")


def ns_zombies(ns: str) -> int:
    """Processes in state Z whose pid namespace is `ns`, from a scan of /proc."""
    n = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            if stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z" and pid_ns(int(name)) == ns:
                n += 1
        except OSError:
            continue
    return n


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def argv0(pid: int) -> bytes:
    """argv[0] of `pid`, from /proc/PID/cmdline; OSError if it is gone."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]


def fs_of(path: Path) -> str:
    """The file system type of the mount holding `path`, from /proc/self/mountinfo."""
    best, kind = "", "unknown"
    try:
        for line in open("/proc/self/mountinfo"):
            fields = line.split()
            mnt = fields[4]
            fstype = fields[fields.index("-") + 1]
            if (str(path) == mnt or str(path).startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
                best, kind = mnt, fstype
    except (OSError, ValueError, IndexError):
        pass
    return kind
