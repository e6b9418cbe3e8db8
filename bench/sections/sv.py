"""sv section: herd's `sv` and runit's `/usr/bin/sv`, each against herd `supervise` and runit `runsv`
(the supervisors runit's `sv` can drive): wall time of `sv -w 7 restart`, `sv start` from down and
`sv status`, and the time from the invocation to the new `run`'s start stamp.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.config import CLEAN_ENV, SV, SV_WAIT, Config
from bench.flavors import Flavor, SvCombo
from bench.harness import (Harness, Supervised, TrialFailed, read_stamps, rotated, trial, wait_throttle_clear,
                           wait_until, write_control)
from bench.results import Results


def status_down(d: Path) -> bool:
    """runit's 20-byte supervise/status: pid (bytes 12–15, little-endian) 0 and state (byte 19) down."""
    try:
        b = (d / "supervise" / "status").read_bytes()
    except FileNotFoundError:
        return False
    return len(b) >= 20 and int.from_bytes(b[12:16], "little") == 0 and b[19] == 0


def run_client(client: str, args: list[str]) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic_ns()
    out = subprocess.run([client, *args], timeout=SV_WAIT + 5, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, env=CLEAN_ENV)
    return out, t0


def measure(h: Harness, cfg: Config, flavors: list[Flavor], herd_sv: str | None, res: Results) -> None:
    """herd's and runit's `sv` against the same supervisors: one service per (client, supervisor)."""
    clients = ([("herd", herd_sv)] if herd_sv else []) + ([("runit", SV)] if os.access(SV, os.X_OK) else [])
    combos = [SvCombo(f"{ck}-sv:{fl.key}", f"{ck} `sv` → {fl.label}", cp, fl)
              for fl in flavors if fl.runit_sv for ck, cp in clients]
    res.extra["sv_combos"] = {c.key: c.label for c in combos}
    if not combos:
        res.extra["sv_skipped"] = "no sv client or no runit-compatible supervisor"
        return
    print(f"bench: sv restart/start/status, {cfg.sv_trials} trials x {len(combos)} client/supervisor pairs",
          file=sys.stderr)
    svc: dict[str, tuple[Supervised, Path]] = {}
    try:
        for c in combos:
            d = h.make_service(f"sv-{c.key.replace(':', '-')}", ["{dir}/starts", "/bin/sleep", "100000"])
            svc[c.key] = (Supervised(h, c.sup, d), d)
        for c in combos:
            s, d = svc[c.key]
            trial(res, "sv_setup", c, 0, lambda s=s, d=d: (
                s.wait_stamps(d / "starts", 1, time.monotonic() + 5, "first start"),
                wait_until("supervise/ok", time.monotonic() + 5, lambda: (d / "supervise" / "ok").exists())))

        def restart(c: SvCombo):
            s, d = svc[c.key]
            starts = read_stamps(d / "starts")
            wait_throttle_clear(starts)  # up > 1 s: no throttle, and sv's 1 s status resolution is past
            out, t0 = run_client(c.client, ["-w", str(SV_WAIT), "restart", str(d)])
            t1 = time.monotonic_ns()
            if out.returncode != 0:
                raise TrialFailed(f"sv restart exited {out.returncode}: {out.stdout.strip()} {out.stderr.strip()}")
            new = s.wait_stamps(d / "starts", len(starts) + 1, time.monotonic() + 2, "the restart")
            res.add("sv_restart_ms", c.key, (t1 - t0) / 1e6)
            res.add("sv_restart_run_ms", c.key, (new[len(starts)] - t0) / 1e6)
            res.extra.setdefault("sv_output", {})[f"{c.key} restart"] = out.stdout.strip()

        def start(c: SvCombo):
            s, d = svc[c.key]
            starts = read_stamps(d / "starts")
            wait_throttle_clear(starts)  # runsv sleeps 1 s after a run that lived < 1 s
            write_control(d, b"d")
            wait_until("the service to be down", time.monotonic() + 5,
                       lambda: s.check_alive() or status_down(d))
            out, t0 = run_client(c.client, ["start", str(d)])
            t1 = time.monotonic_ns()
            if out.returncode != 0:
                raise TrialFailed(f"sv start exited {out.returncode}: {out.stdout.strip()} {out.stderr.strip()}")
            new = s.wait_stamps(d / "starts", len(starts) + 1, time.monotonic() + 2, "the start")
            res.add("sv_start_ms", c.key, (t1 - t0) / 1e6)
            res.add("sv_start_run_ms", c.key, (new[len(starts)] - t0) / 1e6)
            res.extra.setdefault("sv_output", {})[f"{c.key} start"] = out.stdout.strip()

        def status(c: SvCombo):
            _, d = svc[c.key]
            for _ in range(cfg.sv_status_per_trial):
                out, t0 = run_client(c.client, ["status", str(d)])
                t1 = time.monotonic_ns()
                if out.returncode != 0 or not out.stdout.startswith("run: "):
                    raise TrialFailed(f"sv status exited {out.returncode}: {out.stdout.strip()} "
                                      f"{out.stderr.strip()}")
                res.add("sv_status_ms", c.key, (t1 - t0) / 1e6)
            res.extra.setdefault("sv_output", {})[f"{c.key} status"] = out.stdout.strip()

        for i in range(cfg.sv_trials):
            order = rotated(combos, i)
            for op, metric in ((restart, "sv_restart_ms"), (start, "sv_start_ms"), (status, "sv_status_ms")):
                for c in order:
                    trial(res, metric, c, i, lambda op=op, c=c: op(c))
    finally:
        h.stop_many([s.proc for s, _ in svc.values()])
