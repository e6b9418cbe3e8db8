"""readiness section (issue 15): herd against s6, each with its own tools.

1. Readiness → waiter: a service (`notification-fd` 3, its `run` the notify helper) becomes ready on
   demand; from its newline to the exit of the waiter started before it: herd `sv -w 5 up DIR` under
   herd `supervise`, `s6-svwait -U DIR` under `s6-supervise`.
2. Readiness → dependent started: `app` depends on `db`; from db's newline to app's `run` start stamp.
   herd: `app/dependencies.d/db`, both under herd `supervise`, app sent `u` while db is not ready (its
   supervise waits). s6 (s6-rc is not packaged in Debian 12): `s6-svwait -U db && s6-svc -u app`, a
   shell started before db is told to be ready.
3. Stop, as PID 1, of a tree of 3 layers of 10 services (layer 1 depends on layer 0, layer 2 on layer
   1): SIGTERM → namespace empty, and how many of the 20 dependents saw every dependency still running
   when their TERM trap ran. herd `svscan` (ordered stop) vs `s6-svscan` (no order: it stops all at once).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.config import (CLEAN_ENV, NOTIFICATION_FD, READY_BOUND_S, READY_SETTLE_S, READY_WAIT_S, S6_SVC,
                          S6_SVWAIT, STOP_SETTLE_S, TREE_LAYERS, TREE_STOP_BOUND_S, TREE_WIDTH, Config)
from bench.flavors import Flavor, Scanner
from bench.harness import (POLL_S, Harness, Scan, Supervised, TrialFailed, read_stamps, rotated, trial,
                           wait_exit_ns, wait_throttle_clear, wait_until, write_control)
from bench.results import Results

DEPS_DIR = "dependencies.d"  # s6-rc's convention, which herd's supervise reads


def notify_service(h: Harness, d: Path) -> None:
    """`d` becomes a service whose `run` is the notify helper: stamps its start in `d/starts`, waits
    for a byte on the FIFO `d/trigger`, then stamps `d/readys` and writes the newline on fd 3."""
    d.mkdir(parents=True, exist_ok=True)
    os.mkfifo(d / "trigger")
    (d / "notification-fd").write_text(f"{NOTIFICATION_FD}\n")
    run = d / "run"
    run.write_text(f"#!/bin/sh\nexec {h.notify} {d}/starts {d}/trigger {d}/readys {NOTIFICATION_FD} "
                   "/bin/sleep 100000\n")
    run.chmod(0o755)


def trigger(d: Path, deadline: float) -> None:
    """One byte to `d/trigger` once the current `run` holds it open (before that: ENXIO)."""
    while True:
        try:
            fd = os.open(d / "trigger", os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            if e.errno != errno.ENXIO:
                raise
        if time.monotonic() > deadline:
            raise TrialFailed("the service never opened its trigger")
        time.sleep(POLL_S)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)


def restart(s: Supervised, d: Path) -> None:
    """Restarts the service (not ready again until triggered) and waits for the new `run`."""
    starts = read_stamps(d / "starts")
    wait_throttle_clear(starts)  # past every 1 s throttle (s6-supervise's counts from readiness)
    if s.flavor.control == "s6-svc":
        subprocess.run([S6_SVC, "-r", str(d)], check=True, timeout=5, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    else:
        write_control(d, b"t")
    s.wait_stamps(d / "starts", len(starts) + 1, time.monotonic() + 5, "the restart")


def s6_control(d: Path, opt: str) -> None:
    subprocess.run([S6_SVC, opt, str(d)], check=True, timeout=5, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def waiter_argv(fl: Flavor, herd_sv: str, d: Path) -> list[str]:
    if fl.key == "s6":
        return [S6_SVWAIT, "-U", "-t", str(READY_WAIT_S * 1000), str(d)]
    return [herd_sv, "-w", str(READY_WAIT_S), "up", str(d)]


def bench_waiter(h: Harness, cfg: Config, flavors: list[Flavor], herd_sv: str | None, res: Results) -> None:
    print(f"bench: readiness → waiter, {cfg.ready_trials} trials", file=sys.stderr)
    svc: dict[str, tuple[Supervised, Path]] = {}
    try:
        for fl in flavors:
            d = h.new_dir(f"ready-{fl.key}")
            notify_service(h, d)
            svc[fl.key] = (Supervised(h, fl, d), d)
        for fl in flavors:
            s, d = svc[fl.key]
            trial(res, "ready_wait_ms", fl, -1,
                  lambda s=s, d=d: s.wait_stamps(d / "starts", 1, time.monotonic() + 5, "the first start"))

        def one(fl: Flavor) -> None:
            s, d = svc[fl.key]
            if read_stamps(d / "readys"):
                restart(s, d)
            p = h.spawn(waiter_argv(fl, herd_sv or "", d), d.parent / f"{d.name}.waiter", stdout=subprocess.PIPE,
                        env=CLEAN_ENV)
            try:
                time.sleep(READY_SETTLE_S)
                if p.poll() is not None:
                    raise TrialFailed(f"the waiter exited {p.returncode} before the service was ready")
                before = len(read_stamps(d / "readys"))
                trigger(d, time.monotonic() + 5)
                t1 = wait_exit_ns(p, READY_BOUND_S)
                if t1 is None:
                    raise TrialFailed(f"the waiter did not return within {READY_BOUND_S:g} s")
                out = p.stdout.read().decode(errors="replace").strip() if p.stdout else ""
                if p.returncode != 0:
                    raise TrialFailed(f"the waiter exited {p.returncode}: {out}")
                readys = s.wait_stamps(d / "readys", before + 1, time.monotonic() + 1, "the ready stamp")
                res.add("ready_wait_ms", fl.key, (t1 - readys[before]) / 1e6)
                res.extra.setdefault("ready_wait_output", {})[fl.key] = out
            finally:
                if p.stdout:
                    p.stdout.close()
                h.stop(p)

        for i in range(cfg.ready_trials):
            for fl in rotated(flavors, i):
                trial(res, "ready_wait_ms", fl, i, lambda fl=fl: one(fl))
    finally:
        h.stop_many([s.proc for s, _ in svc.values()])


def bench_dependent(h: Harness, cfg: Config, flavors: list[Flavor], res: Results) -> None:
    print(f"bench: readiness → dependent started, {cfg.dep_trials} trials", file=sys.stderr)
    pairs: dict[str, tuple[Supervised, Path, Supervised, Path]] = {}
    try:
        for fl in flavors:
            scan = h.new_dir(f"dep-{fl.key}")
            db, app = scan / "db", scan / "app"
            notify_service(h, db)
            h.add_service(scan, "app", [str(app / "starts"), "/bin/sleep", "100000"])
            (app / "down").write_text("")
            if fl.key != "s6":
                (app / DEPS_DIR).mkdir()
                (app / DEPS_DIR / "db").write_text("")
            pairs[fl.key] = (Supervised(h, fl, db), db, Supervised(h, fl, app), app)
        for fl in flavors:
            sdb, db, _, _ = pairs[fl.key]
            trial(res, "ready_dep_ms", fl, -1,
                  lambda s=sdb, d=db: s.wait_stamps(d / "starts", 1, time.monotonic() + 5, "db's first start"))

        def one(fl: Flavor) -> None:
            sdb, db, sapp, app = pairs[fl.key]
            s6 = fl.key == "s6"
            if read_stamps(app / "starts"):
                if s6:
                    s6_control(app, "-d")
                    subprocess.run([S6_SVWAIT, "-D", "-t", "5000", str(app)], check=True, timeout=10,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                else:
                    write_control(app, b"d")
                    wait_until("app to stop", time.monotonic() + 5, lambda: sapp.check_alive() or runit_down(app))
            if read_stamps(db / "readys"):
                restart(sdb, db)
            starts = len(read_stamps(app / "starts"))
            waiter = None
            if s6:
                waiter = h.spawn(["/bin/sh", "-c", f'{S6_SVWAIT} -U -t {int(READY_BOUND_S * 1000)} "$1" && '
                                  f'{S6_SVC} -u "$2"', "sh", str(db), str(app)],
                                 app.parent / "waiter.stderr", env=CLEAN_ENV)
            else:
                write_control(app, b"u")
            try:
                time.sleep(READY_SETTLE_S)
                if len(read_stamps(app / "starts")) > starts:
                    raise TrialFailed("app started before db was ready")
                before = len(read_stamps(db / "readys"))
                trigger(db, time.monotonic() + 5)
                new = sapp.wait_stamps(app / "starts", starts + 1, time.monotonic() + READY_BOUND_S, "app's start")
                readys = sdb.wait_stamps(db / "readys", before + 1, time.monotonic() + 1, "db's ready stamp")
                res.add("ready_dep_ms", fl.key, (new[starts] - readys[before]) / 1e6)
            finally:
                if waiter is not None:
                    h.stop(waiter)

        for i in range(cfg.dep_trials):
            for fl in rotated(flavors, i):
                trial(res, "ready_dep_ms", fl, i, lambda fl=fl: one(fl))
    finally:
        h.stop_many([p for sdb, _, sapp, _ in pairs.values() for p in (sdb.proc, sapp.proc)])


def runit_down(d: Path) -> bool:
    """runit's 20-byte supervise/status: pid (bytes 12–15, little-endian) 0 and state (byte 19) down."""
    try:
        b = (d / "supervise" / "status").read_bytes()
    except FileNotFoundError:
        return False
    return len(b) >= 20 and int.from_bytes(b[12:16], "little") == 0 and b[19] == 0


def tree_names() -> list[list[str]]:
    prefixes = "abcdefghij"
    return [[f"{prefixes[layer]}{j}" for j in range(TREE_WIDTH)] for layer in range(TREE_LAYERS)]


def tree_deps(layer: int, j: int, names: list[list[str]]) -> list[str]:
    """Layer 0 has none; a service of layer L depends on two of layer L-1 (j and j+1), so that the
    tree is a lattice, not a set of chains."""
    if layer == 0:
        return []
    below = names[layer - 1]
    return sorted({below[j], below[(j + 1) % len(below)]})


def tree_script(name: str, deps: list[str], logs: Path) -> str:
    """A run that records its pid; on TERM it marks itself stopping, checks that no dependency has been
    told to stop and that each still runs (its /proc state is not Z), logs `NAME 1` (or `NAME 0`) and
    exits 0."""
    return f"""#!/bin/sh
L={logs}
stopping() {{
  : > $L/term/{name}
  ok=1
  for d in {' '.join(deps)}; do
    [ -e $L/term/$d ] && ok=0
    p=$(cat $L/pids/$d 2>/dev/null)
    s=$(cut -d' ' -f3 /proc/$p/stat 2>/dev/null)
    {{ [ -n "$p" ] && [ -n "$s" ] && [ "$s" != Z ]; }} || ok=0
  done
  echo "{name} $ok" >> $L/saw
  exit 0
}}
echo $$ > $L/pids/{name}
trap stopping TERM
echo {name} >> $L/started
while :; do sleep 1 & wait; done
"""


def bench_tree_stop(h: Harness, cfg: Config, scanners: list[Scanner], res: Results) -> None:
    n = TREE_LAYERS * TREE_WIDTH
    print(f"bench: stop of a {TREE_LAYERS}-layer tree of {n} services as PID 1, {cfg.tree_trials} trials",
          file=sys.stderr)
    names = tree_names()
    for i in range(cfg.tree_trials):
        for sc in rotated(scanners, i):

            def body(sc=sc):
                d = h.new_dir(f"tree-{sc.key}")
                logs = h.new_dir(f"tree-{sc.key}", base=h.disk)
                (logs / "pids").mkdir()
                (logs / "term").mkdir()
                for layer, row in enumerate(names):
                    for j, name in enumerate(row):
                        deps = tree_deps(layer, j, names)
                        svc = h.add_script_service(d, name, tree_script(name, deps, logs))
                        if deps:
                            (svc / DEPS_DIR).mkdir()
                            for dep in deps:
                                (svc / DEPS_DIR / dep).write_text("")
                scan = Scan(h, sc, d, pid1=True)
                try:
                    deadline = time.monotonic() + 15
                    init = scan.scanner_pid(deadline)
                    wait_until(f"{n} services to start", deadline,
                               lambda: scan.check_alive() or len(lines(logs / "started")) >= n)
                    time.sleep(STOP_SETTLE_S)
                    scan.check_alive()
                    t0 = time.monotonic_ns()
                    os.kill(init, signal.SIGTERM)
                    t1 = wait_exit_ns(scan.proc, TREE_STOP_BOUND_S)
                    if t1 is None:
                        res.bound("ready_tree_ms", sc.key, i, TREE_STOP_BOUND_S,
                                  f"PID 1 still running {TREE_STOP_BOUND_S:g} s after SIGTERM; namespace SIGKILLed")
                        os.kill(init, signal.SIGKILL)
                        if wait_exit_ns(scan.proc, 5) is None:
                            raise TrialFailed("the namespace did not go away after SIGKILL to its init")
                    else:
                        res.add("ready_tree_ms", sc.key, (t1 - t0) / 1e6)
                        rc = scan.proc.returncode
                        res.add("ready_tree_rc", sc.key, rc if rc >= 0 else f"signal {-rc}")
                    saw = {}
                    for line in lines(logs / "saw"):
                        name, _, ok = line.partition(" ")
                        saw[name] = ok == "1"
                    dependents = [name for row in names[1:] for name in row]
                    res.add("ready_tree_clean", sc.key, len(saw))
                    res.add("ready_tree_saw", sc.key, sum(saw.get(x, False) for x in dependents))
                    res.add("ready_tree_saw_layers", sc.key, "/".join(
                        str(sum(saw.get(x, False) for x in row)) for row in names[1:]))
                finally:
                    scan.stop()
                    shutil.rmtree(d, ignore_errors=True)

            trial(res, "ready_tree_ms", sc, i, body)


def lines(path: Path) -> list[str]:
    try:
        return path.read_text().split("\n")[:-1]
    except FileNotFoundError:
        return []


def measure(h: Harness, cfg: Config, flavors: list[Flavor], scanners: list[Scanner], herd_sv: str | None,
            res: Results) -> None:
    """herd and s6 only (runit and daemontools have no readiness); herd needs its `sv` for the waiter."""
    sups = [fl for fl in flavors if fl.key == "s6" or (fl.key == "herd" and herd_sv)]
    scans = [sc for sc in scanners if sc.key in ("herd", "s6")]
    have = {x.key for x in [*sups, *scans]}
    res.extra["ready_columns"] = [k for k in ("herd", "s6") if k in have]
    if sups:
        bench_waiter(h, cfg, sups, herd_sv, res)
        bench_dependent(h, cfg, [fl for fl in sups], res)
    if scans:
        bench_tree_stop(h, cfg, scans, res)
