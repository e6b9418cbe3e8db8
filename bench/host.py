"""Facts about the machine and the binaries for the report's header and size table: load average,
CPU and kernel, the herd commit and the peers' Debian versions, ELF linkage, binary sizes.

Reads files and runs short queries (`date`, `git`, `dpkg-query`, `ldd`) through `sh`, which returns
"" on any failure; it never starts a program under test.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bench.config import ROOT


def sh(argv: list[str], **kw) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, **kw).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def loadavg() -> str:
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "unknown"


def machine_info() -> dict:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": sh(["date", "-u"]), "nproc": os.cpu_count(), "kernel": os.uname().release,
            "cpu": cpu or "unknown"}


def versions() -> dict:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")  # read-only: never refresh the index
    head = sh(["git", "-C", str(ROOT), "describe", "--always", "--tags"], env=env)
    dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], env=env)
    herd = "working tree" if not head else head + (" + uncommitted changes (working tree)" if dirty else "")
    pkgs = {}
    for line in sh(["dpkg-query", "-W", "runit", "daemontools", "s6"]).splitlines():
        name, _, ver = line.partition("\t")
        pkgs[name] = ver
    return {"herd": herd, **pkgs}


def elf_linkage(path: str) -> str:
    """"static" or "dynamic": whether a 64-bit little-endian ELF file has a PT_INTERP header."""
    try:
        with open(path, "rb") as f:
            hdr = f.read(64)
            if hdr[:4] != b"\x7fELF" or hdr[4] != 2 or hdr[5] != 1:
                return "unknown"
            phoff = int.from_bytes(hdr[32:40], "little")
            phentsize = int.from_bytes(hdr[54:56], "little")
            phnum = int.from_bytes(hdr[56:58], "little")
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return "unknown"
    pt_interp = 3
    types = [int.from_bytes(table[i * phentsize : i * phentsize + 4], "little") for i in range(phnum)]
    return "dynamic" if pt_interp in types else "static"


# herd binary → its runit equivalent
RUNIT_EQUIVALENTS = (("svscan", "/usr/bin/runsvdir"), ("supervise", "/usr/bin/runsv"), ("sv", "/usr/bin/sv"),
                     ("svlog", "/usr/bin/svlogd"), ("chpst", "/usr/bin/chpst"))


def binary_sizes(herd_dir: Path) -> dict:
    """Sizes and linkage of herd's binaries in --herd-dir and of runit's equivalents, and runit's libc."""
    rows = []
    for name, peer in RUNIT_EQUIVALENTS:
        row = {"herd": name, "runit": peer}
        for side, path in (("herd", herd_dir / name), ("runit", Path(peer))):
            if os.access(path, os.X_OK):
                real = os.path.realpath(path)
                row[f"{side}_bytes"] = os.path.getsize(real)
                row[f"{side}_linkage"] = elf_linkage(real)
        rows.append(row)
    libc = next((w for w in sh(["ldd", "/usr/bin/runsv"]).split() if w.endswith("/libc.so.6")), None)
    out = {"rows": rows}
    # The multi-call binary: every row above is this one file.
    one = os.path.realpath(herd_dir / "svscan")
    if os.path.basename(one) == "herd" and os.access(one, os.X_OK):
        out["herd"] = {"bytes": os.path.getsize(one), "linkage": elf_linkage(one)}
    if libc and os.path.exists(libc):
        out["libc"] = {"path": libc, "bytes": os.path.getsize(os.path.realpath(libc))}
    return out
