"""A quick A/B of restart latency, herd `supervise` against runit's `runsv` (and daemontools'
`supervise`), in about a minute: `python3 -m bench.ab [--rounds N] [--copies K] [--herd PATH]
[--base PATH]`.

The two rows of the supervise section, with the same stamp helper as `run`, but interleaved: every
supervisor runs for the whole script, and each round restarts each once, one at a time, in an order
that rotates, so that load and CPU frequency drift hit every flavor alike.
- exit: `run` is `sh -c 'read x <FIFO; exec stamp exits'`; the script writes a line to the FIFO
  instead of the section's `sleep 2`, so a round waits only for the 1 s throttle. Latency: the old
  run's `exits` stamp → the new run's `starts` stamp, both taken by the processes themselves.
- control: `run` is `stamp starts sleep 100000`; `t` written to `supervise/control`. Latency: just
  before the write → the new run's `starts` stamp.
Medians and p90 in ms. Not a replacement for the full section (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.config import ROOT, STAMP_SRC, THROTTLE_CLEAR_S
from bench.flavors import Flavor, make_flavors
from bench.harness import Harness, Supervised, read_stamps, wait_throttle_clear, write_control
from bench.run import PR_SET_CHILD_SUBREAPER, compile_helper

DEADLINE_S = 5.0


def p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10)[-1] if len(xs) > 1 else xs[0]


class Exit:
    """One supervisor whose `run` waits for a line on a FIFO, then execs the stamp into `exits`."""

    def __init__(self, h: Harness, fl: Flavor):
        self.fl = fl
        self.dir = h.new_dir(f"ab-exit-{fl.key}")
        fifo = self.dir / "go"
        os.mkfifo(fifo)
        # Held read+write for the whole run: the run's `read` never sees EOF, our write never blocks.
        self.go = os.open(fifo, os.O_RDWR)
        script = f"read x <{fifo}; exec {h.stamp} {self.dir}/exits"
        (self.dir / "stamp.argv").write_text("\n".join([f"{self.dir}/starts", "/bin/sh", "-c", script]) + "\n")
        os.symlink(h.stamp, self.dir / "run")
        self.sup = Supervised(h, fl, self.dir)

    def once(self) -> float:
        starts = self.sup.wait_stamps(self.dir / "starts", 1, time.monotonic() + DEADLINE_S, "start")
        wait_throttle_clear(starts)
        os.write(self.go, b"\n")
        after = self.sup.wait_stamps(self.dir / "starts", len(starts) + 1, time.monotonic() + DEADLINE_S, "restart")
        exits = read_stamps(self.dir / "exits")
        return (after[-1] - exits[-1]) / 1e6


class Control:
    """One supervisor whose `run` sleeps; restarted with `t`."""

    def __init__(self, h: Harness, fl: Flavor):
        self.fl = fl
        self.dir = h.new_dir(f"ab-control-{fl.key}")
        (self.dir / "stamp.argv").write_text(f"{self.dir}/starts\n/bin/sleep\n100000\n")
        os.symlink(h.stamp, self.dir / "run")
        self.sup = Supervised(h, fl, self.dir)

    def once(self) -> float:
        starts = self.sup.wait_stamps(self.dir / "starts", 1, time.monotonic() + DEADLINE_S, "start")
        wait_throttle_clear(starts)
        t0 = time.monotonic_ns()
        write_control(self.dir, b"t")
        after = self.sup.wait_stamps(self.dir / "starts", len(starts) + 1, time.monotonic() + DEADLINE_S, "restart")
        return (after[-1] - t0) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench.ab", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--herd", default=str(ROOT / "target/x86_64-unknown-linux-gnu/release/herd"),
                    help="herd's binary (default: scripts/release.sh's)")
    ap.add_argument("--base", help="another herd binary (say, before a change), measured as `herd-base`")
    ap.add_argument("--only", default="herd,runit", help="flavor keys (herd,runit,daemontools)")
    ap.add_argument("--copies", type=int, default=1,
                    help="supervisors per flavor and scenario, each restarted once a round: more samples "
                         "in the same time (a round lasts the 1.2 s throttle wait either way)")
    args = ap.parse_args()

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    scratch = Path(tempfile.mkdtemp(prefix="herd-ab-", dir="/dev/shm"))
    names = scratch / "names"
    names.mkdir()
    (names / "supervise").symlink_to(Path(args.herd).resolve())
    keep = args.only.split(",")
    flavors = [f for f in make_flavors(names) if f.key in keep and f.control == "fifo" and f.available()]
    if args.base:
        (scratch / "base").mkdir()
        (scratch / "base" / "supervise").symlink_to(Path(args.base).resolve())
        herd = next(f for f in make_flavors(scratch / "base") if f.key == "herd")
        flavors.append(Flavor("herd-base", "herd `supervise` (base)", herd.path, herd.supervises_log, herd.control,
                              herd.runit_sv))
    h = Harness(scratch, scratch)
    compile_helper(scratch, STAMP_SRC)
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        subjects = [kind(h, fl) for kind in (Exit, Control) for _ in range(args.copies) for fl in flavors]
        t_end = time.monotonic()
        for r in range(args.rounds):
            k = r % len(subjects)
            for s in subjects[k:] + subjects[:k]:
                samples.setdefault((type(s).__name__.lower(), s.fl.key), []).append(s.once())
            if r == 0:
                t_end = time.monotonic() + (args.rounds - 1) * (time.monotonic() - t_end)
                print(f"ab: {len(subjects)} supervisors, about {t_end - time.monotonic():.0f} s more", file=sys.stderr)
    finally:
        h.stop_all()
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'scenario':<8} {'flavor':<12} {'n':>3} {'median':>7} {'p90':>7} {'min':>7}  (ms; throttle {THROTTLE_CLEAR_S} s)")
    for (scenario, key), xs in samples.items():
        print(f"{scenario:<8} {key:<12} {len(xs):>3} {statistics.median(xs):7.3f} {p90(xs):7.3f} {min(xs):7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
