"""install section (issue 18): the bytes each suite puts in a `FROM scratch` image. Starts no program under
test: it runs `scripts/install.sh` into a scratch DESTDIR and reads files, `dpkg -L` and `ldd`.

Columns: herd (everything `scripts/install.sh DESTDIR /usr HERD_DIR` installs: the executables, their links and
the man pages), runit (the ELF programs of Debian's `runit` package), s6 (the ELF programs of Debian's `s6` and
`execline` packages, each name once), s6 supervision only (S6_INSTALL_MIN) and tini (`tini-static`). A dynamic
program also needs the shared libraries `ldd` lists for it (the loader included), each counted once per column.
For each column the files are also written as one tar stream (what `COPY` adds as a layer) and gzipped.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from bench.config import INSTALL_PREFIX, ROOT, S6_INSTALL_MIN, TINI_STATIC
from bench.harness import Harness
from bench.host import elf_linkage, sh
from bench.results import Results

BIN_DIRS = ("bin", "sbin")  # a packaged file is a program when one of its directories is named so

# column key → label, in the table's order
COLUMNS = {"herd": "herd (`scripts/install.sh`)", "runit": "runit (Debian `runit`)",
           "s6": "s6 + execline (Debian `s6`, `execline`)", "s6-min": "s6, supervision only",
           "tini": "tini (`tini-static`)"}


class Counted:
    """The files of one column: programs and links (path → size or link target), libraries, man pages."""

    def __init__(self):
        self.programs: dict[str, int] = {}
        self.links: dict[str, str] = {}
        self.libs: dict[str, int] = {}
        self.lib_links: dict[str, str] = {}
        self.man: int = 0

    def add_libs(self, programs: list[str]) -> None:
        """The shared libraries `ldd` lists for each dynamic program in `programs` (the loader too)."""
        for p in programs:
            if elf_linkage(p) != "dynamic":
                continue
            for line in sh(["ldd", p]).splitlines():
                words = line.split()
                path = words[2] if len(words) > 2 and words[1] == "=>" else words[0] if words else ""
                if not path.startswith("/") or not os.path.exists(path):
                    continue
                real = os.path.realpath(path)
                self.libs[real] = os.path.getsize(real)
                if os.path.islink(path):
                    self.lib_links[path] = os.readlink(path)


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def packaged_programs(packages: list[str]) -> list[str]:
    """The ELF programs the Debian `packages` install in a bin or sbin directory, each name once (the first
    seen: execline has two copies of `execlineb`; merged /usr lists /sbin/X and /usr/sbin/X)."""
    seen, out = set(), []
    for line in sh(["dpkg", "-L", *packages]).splitlines():
        if not set(Path(line).parts[1:-1]) & set(BIN_DIRS) or os.path.islink(line) or not os.path.isfile(line):
            continue
        name = os.path.basename(line)
        if name not in seen and is_elf(line):
            seen.add(name)
            out.append(line)
    return out


def count_programs(paths: list[str]) -> Counted:
    c = Counted()
    for p in paths:
        c.programs[p] = os.path.getsize(os.path.realpath(p))
    c.add_libs(paths)
    return c


def count_herd(h: Harness, herd_dir: Path) -> tuple[Counted, Path]:
    """Runs scripts/install.sh into a new DESTDIR and counts what it installed."""
    dest = h.new_dir("install-herd")
    r = subprocess.run(["sh", str(ROOT / "scripts" / "install.sh"), str(dest), INSTALL_PREFIX, str(herd_dir)],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise OSError(f"scripts/install.sh exited {r.returncode}: {r.stderr.strip()[-200:]}")
    c = Counted()
    inodes = set()
    for top, dirs, files in os.walk(dest):
        rel = Path(top).relative_to(dest)
        in_bin = bool(set(rel.parts) & set(BIN_DIRS))
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            p = os.path.join(top, name)
            st = os.lstat(p)
            shown = "/" + str(rel / name)
            if not in_bin:
                c.man += st.st_size if not os.path.islink(p) else len(os.readlink(p))
            elif os.path.islink(p):
                c.links[shown] = os.readlink(p)
            elif (st.st_dev, st.st_ino) not in inodes:
                inodes.add((st.st_dev, st.st_ino))
                c.programs[shown] = st.st_size
    c.add_libs([str(dest / p.lstrip("/")) for p in c.programs])
    return c, dest


def tar_sizes(add) -> tuple[int, int]:
    """The size of the tar stream `add(tar)` writes, plain and gzipped (level 6, as `docker push`)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|", format=tarfile.GNU_FORMAT) as tar:
        add(tar)
    data = buf.getvalue()
    return len(data), len(gzip.compress(data, compresslevel=6, mtime=0))


def record(res: Results, key: str, c: Counted, tar: tuple[int, int]) -> None:
    prog, links = sum(c.programs.values()), sum(len(t) for t in c.links.values())
    libs = sum(c.libs.values()) + sum(len(t) for t in c.lib_links.values())
    res.add("install_programs", key, len(c.programs))
    res.add("install_links", key, len(c.links))
    res.add("install_programs_kib", key, (prog + links) / 1024)
    res.add("install_libs", key, len(c.libs))
    res.add("install_libs_kib", key, libs / 1024)
    res.add("install_total_kib", key, (prog + links + libs) / 1024)
    res.add("install_tar_kib", key, tar[0] / 1024)
    res.add("install_gz_kib", key, tar[1] / 1024)
    if key == "herd":
        res.add("install_man_kib", key, c.man / 1024)
    res.extra.setdefault("install_counted", {})[key] = {
        "programs": c.programs, "links": c.links, "libs": c.libs, "lib_links": c.lib_links}


def add_files(c: Counted):
    """A tar writer for a peer's column: its programs and libraries by their paths, the soname links too."""

    def add(tar: tarfile.TarFile) -> None:
        for p in [*c.programs, *c.libs]:
            tar.add(os.path.realpath(p), arcname=p.lstrip("/"), recursive=False)
        for p, target in c.lib_links.items():
            info = tarfile.TarInfo(p.lstrip("/"))
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)

    return add


def measure(h: Harness, herd_dir: Path, keep: set[str] | None, res: Results) -> None:
    """Every column that is installed and kept by `--only` (`keep`: flavor keys; s6-min goes with s6)."""
    print("bench: install size", file=sys.stderr)
    shown = {}

    def kept(key: str) -> bool:
        return keep is None or key.split("-")[0] in keep

    if kept("herd"):
        try:
            c, dest = count_herd(h, herd_dir)
            # The layer of the FROM scratch recipe (docs/docker.md): `COPY img/ /` of the DESTDIR.
            record(res, "herd", c, tar_sizes(lambda tar: tar.add(dest, arcname=".")))
            shown["herd"] = COLUMNS["herd"]
        except (OSError, subprocess.SubprocessError) as e:
            res.fail("install_total_kib", "herd", 0, str(e))
    peers = {"runit": packaged_programs(["runit"]), "s6": packaged_programs(["s6", "execline"]),
             "s6-min": [p for p in (f"/usr/bin/{n}" for n in S6_INSTALL_MIN) if os.access(p, os.X_OK)],
             "tini": [TINI_STATIC] if os.access(TINI_STATIC, os.X_OK) else []}
    for key, programs in peers.items():
        if not kept(key):
            res.extra.setdefault("left_out", []).append(COLUMNS[key])
            continue
        if not programs:
            res.extra.setdefault("unavailable", []).append(f"{COLUMNS[key]} (install size: not installed)")
            continue
        c = count_programs(programs)
        record(res, key, c, tar_sizes(add_files(c)))
        shown[key] = COLUMNS[key]
    res.extra["install_columns"] = shown
