"""A measuring run: picks the columns (`--only`, what is installed), becomes a child subreaper, makes the
scratch directories, compiles the stamp and loggen helpers, snapshots herd's binaries, runs the
harness overhead and each section asked for, cleans up every process and directory (also on ^C,
SIGTERM, SIGHUP), then writes docs/benchmarks.json and docs/benchmarks.md.

Imported only for a run, never for `--report-only`.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.config import FULL, HERD_BINS, LOGGEN_SRC, NOTIFY_SRC, QUICK, REPRODUCE, ROOT, STAMP_SRC, SV
from bench.flavors import Flavor, Logger, Scanner, make_flavors, make_loggers, make_scanners
from bench.harness import Harness
from bench.host import binary_sizes, elf_linkage, loadavg, machine_info, versions
from bench.overhead import bench_overhead
from bench.procfs import fs_of
from bench.report.render import render_md
from bench.report.tables import summaries
from bench.results import Results
from bench.sections import install as install_section
from bench.sections import loggers as loggers_section
from bench.sections import myinit as myinit_section
from bench.sections import policy as policy_section
from bench.sections import readiness as readiness_section
from bench.sections import scanners as scanners_section
from bench.sections import startup as startup_section
from bench.sections import supervise as supervise_section
from bench.sections import sv as sv_section
from bench.sections import tree as tree_section

PR_SET_CHILD_SUBREAPER = 36


def snapshot(herd_dir: Path, dest_dir: Path) -> dict[str, dict]:
    """Copies herd's binaries (which may be rebuilt during the run) to `dest_dir`, on disk, synced.

    On disk and synced because smaps counts a file page as dirty until it is written back: a
    freshly built binary, or any binary on tmpfs, would show its whole text as Private_Dirty. All
    three go to one directory: svscan runs the supervise next to it.
    """
    out = {}
    dest_dir.mkdir(parents=True, exist_ok=True)
    one = herd_dir / "herd"
    if os.access(one, os.X_OK):
        # The multi-call binary: one copy, and each tool's name a link to it (as install.sh
        # makes them); svscan runs the herd it is (/proc/self/exe) as supervise.
        data = Path(os.path.realpath(one)).read_bytes()
        dest = dest_dir / "herd"
        with open(dest, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        dest.chmod(0o755)
        for name in HERD_BINS:
            link = dest_dir / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to("herd")
            out[name] = {"source": os.path.realpath(one), "copy": str(link),
                         "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    for name in HERD_BINS if not out else ():
        src = herd_dir / name
        if not os.access(src, os.X_OK):
            continue
        data = Path(os.path.realpath(src)).read_bytes()
        dest = dest_dir / name
        with open(dest, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        dest.chmod(0o755)
        out[name] = {"source": os.path.realpath(src), "copy": str(dest),
                     "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    fd = os.open(dest_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return out


def compile_helper(scratch: Path, src: Path) -> Path:
    out = scratch / src.stem
    base = ["gcc", "-O2", "-Wall", "-o", str(out), str(src)]
    # Static if possible: no dynamic loader on the start path keeps the marker cheap.
    for argv in (base[:1] + ["-static"] + base[1:], base):
        if subprocess.run(argv, capture_output=True).returncode == 0:
            return out
    raise SystemExit(f"bench: fatal: unable to compile {os.path.relpath(src, ROOT)} with gcc")


def interrupt(signum, _frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace, sections: list[str]) -> int:
    """The whole run for parsed arguments; the exit code (0; 1 if a section asked for could not be set
    up; 111 if there is nothing to benchmark; 130 if interrupted)."""
    cfg = QUICK if args.quick else FULL
    if os.geteuid() != 0:
        print("bench: warning: not root; smaps_rollup of other users' processes may be unreadable, "
              "and the PID-1 scenarios need root", file=sys.stderr)
    herd_dir = Path(args.herd_dir).resolve()
    if os.access(herd_dir / "herd", os.X_OK) and not os.access(herd_dir / "svscan", os.X_OK):
        # The multi-call binary alone (scripts/release.sh): its tools by name, as links to it.
        # `herd` too: snapshot() must see the one binary, or it copies each name to a file of
        # its own, and svscan, supervise and svlog would no longer share their text.
        names = Path(tempfile.mkdtemp(prefix="herd-names-"))
        for name in (*HERD_BINS, "herd"):
            (names / name).symlink_to(herd_dir / "herd")
        herd_dir = names
    res = Results()
    keep = set(args.only.split(",")) if args.only else None
    flavors, scanners = [], []
    for group, out in ((make_flavors(herd_dir), flavors), (make_scanners(herd_dir), scanners)):
        for x in group:
            if keep is not None and x.key not in keep:
                res.extra.setdefault("left_out", []).append(x.label)
            elif not x.available():
                res.extra.setdefault("unavailable", []).append(f"{x.label} (`{x.path}`)")
            else:
                out.append(x)
    loggers = []
    for lg in make_loggers(herd_dir):
        if keep is not None and lg.family not in keep:
            res.extra.setdefault("left_out", []).append(lg.label)
        elif not lg.available():
            res.extra.setdefault("unavailable", []).append(f"{lg.label} (`{lg.path}`)")
        else:
            loggers.append(lg)
    herd_sv = str(herd_dir / "sv") if os.access(herd_dir / "sv", os.X_OK) and (keep is None or "herd" in keep) else None
    if (keep is None or "herd" in keep) and not all(os.access(herd_dir / b, os.X_OK) for b in HERD_BINS):
        print(f"bench: warning: herd's binaries are not all in {herd_dir}: run `just release` first; "
              "benchmarking what is there", file=sys.stderr)
    if not flavors and not scanners and not loggers:
        print("bench: fatal: nothing to benchmark", file=sys.stderr)
        return 111

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("bench: warning: unable to become a child subreaper", file=sys.stderr)
    # SIGTERM/SIGHUP unwind through the cleanup below, like ^C.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)

    tmp_base = "/dev/shm" if os.path.isdir("/dev/shm") else "/run"
    scratch = Path(tempfile.mkdtemp(prefix="herd-bench-", dir=tmp_base))
    disk = Path(tempfile.mkdtemp(prefix="herd-bench-disk-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None))
    h = Harness(scratch, disk)
    load_start = loadavg()
    machine = machine_info()  # the date is the start of the run
    started = time.monotonic()
    try:
        compile_helper(scratch, STAMP_SRC)
        compile_helper(scratch, LOGGEN_SRC)
        compile_helper(scratch, NOTIFY_SRC)
        res.extra["stamp_link"] = elf_linkage(str(h.stamp))
        # A concurrent `cargo build` must not swap herd's binaries mid-run: measure copies.
        if any(x.key == "herd" for x in [*flavors, *scanners, *loggers]) or herd_sv:
            copies = snapshot(herd_dir, disk / "herd")
            res.extra["herd_binaries"] = copies
            flavors = [Flavor(f.key, f.label, copies["supervise"]["copy"], f.supervises_log, f.control, f.runit_sv)
                       if f.key == "herd" else f for f in flavors]
            scanners = [Scanner(s.key, s.label, copies["svscan"]["copy"]) if s.key == "herd" else s
                        for s in scanners]
            herd_sv = copies["sv"]["copy"] if herd_sv else None
            loggers = [Logger(lg.key, lg.family, lg.label, copies["svlog"]["copy"], lg.args, lg.config)
                       if lg.key == "herd" else lg for lg in loggers]
        for fl in flavors:
            res.add("binary_kib", fl.key, os.path.getsize(os.path.realpath(fl.path)) / 1024)
            res.extra.setdefault("linkage", {})[f"`{os.path.basename(fl.path)}` ({fl.key})"] = elf_linkage(fl.path)
        for sc in scanners:
            res.add("scan_binary_kib", sc.key, os.path.getsize(os.path.realpath(sc.path)) / 1024)
            res.extra.setdefault("linkage", {})[f"`{os.path.basename(sc.path)}` ({sc.key})"] = elf_linkage(sc.path)
        for lg in loggers:
            res.add("log_binary_kib", lg.key, os.path.getsize(os.path.realpath(lg.path)) / 1024)
            res.extra.setdefault("linkage", {})[f"`{os.path.basename(lg.path)}` ({lg.family})"] = elf_linkage(lg.path)
        res.extra["log_fs"] = fs_of(disk)
        res.extra["binary_sizes"] = {**binary_sizes(herd_dir), "herd_dir": os.path.relpath(herd_dir, ROOT)
                                     if herd_dir.is_relative_to(ROOT) else str(herd_dir)}
        for name, path in (("herd", herd_sv), ("runit", SV if os.access(SV, os.X_OK) else None)):
            if path:
                res.extra.setdefault("linkage", {})[f"`sv` ({name})"] = elf_linkage(path)
        bench_overhead(h, cfg, res)
        if "supervise" in sections and flavors:
            supervise_section.measure(h, cfg, flavors, res)
        if "sv" in sections:
            sv_section.measure(h, cfg, flavors, herd_sv, res)
        if "scanners" in sections and scanners:
            scanners_section.measure(h, cfg, scanners, res)
        if "loggers" in sections and loggers:
            loggers_section.measure(h, cfg, loggers, res)
        if "myinit" in sections:
            if keep is None or "herd" in keep:
                herd_copies = {k: b["copy"] for k, b in res.extra.get("herd_binaries", {}).items()}
                myinit_section.measure(h, cfg, herd_copies, res)
            else:
                res.extra["myinit_skipped"] = "herd was left out with `--only`"
        if "readiness" in sections:
            readiness_section.measure(h, cfg, flavors, scanners, herd_sv, res)
        if "policy" in sections and flavors:
            policy_section.measure(h, cfg, flavors, res)
        if "tree" in sections and scanners and loggers:
            tree_section.measure(h, cfg, scanners, loggers, res)
        if "install" in sections:
            install_section.measure(h, herd_dir, keep, res)
        if "startup" in sections and scanners and flavors:
            startup_section.measure(h, cfg, flavors, scanners, res)
    except KeyboardInterrupt:
        print("bench: interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        h.stop_all()
        h.reap_orphans()
        if os.environ.get("HERD_KEEP_TMP") == "1":
            print(f"bench: kept {scratch} and {disk}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(disk, ignore_errors=True)

    shown, skip = [], False  # the command line, without the --note texts (they are in the notes)
    for a in sys.argv[1:]:
        if skip or a == "--note":
            skip = not skip and a == "--note"
            continue
        if not a.startswith("--note="):
            shown.append(a)
    argv = shlex.join(["python3", "-m", "bench", *shown])
    meta = {"machine": machine, "versions": versions(), "quick": cfg.quick,
            "elapsed_s": round(time.monotonic() - started, 1), "load_start": load_start, "load_end": loadavg(),
            "notes": args.note, "command": REPRODUCE, "argv": argv, "sections": sections,
            "flavors": {fl.key: res.extra.get("herd_binaries", {}).get("supervise", {}).get("source", fl.path)
                        if fl.key == "herd" else fl.path for fl in flavors},
            "scanners": {sc.key: res.extra.get("herd_binaries", {}).get("svscan", {}).get("source", sc.path)
                         if sc.key == "herd" else sc.path for sc in scanners},
            "loggers": {lg.key: res.extra.get("herd_binaries", {}).get("svlog", {}).get("source", lg.path)
                        if lg.key == "herd" else lg.path for lg in loggers},
            "config": cfg.__dict__}
    summary = summaries(res, cfg, flavors, scanners, loggers)
    Path(args.json).write_text(json.dumps(
        {"meta": meta, "summary": summary, "samples": res.samples, "failures": res.failures,
         "bounded": res.bounded, "extra": res.extra}, indent=1) + "\n")
    Path(args.md).write_text(render_md(meta, cfg, flavors, scanners, loggers, res, summary, sections))
    print(f"bench: wrote {args.md} and {args.json} in {meta['elapsed_s']:.0f} s", file=sys.stderr)
    return 1 if res.extra.get("myinit_failed") else 0  # a section asked for could not be set up
