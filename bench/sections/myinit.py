"""myinit section: herd's svscan as `my_init`, PID 1 of `unshare --pid --fork --mount-proc=ROOT/proc
chroot ROOT /sbin/my_init` in a phusion/baseimage-style root on tmpfs (static busybox, herd's static
binaries, start-up and shutdown scripts, the container environment, 10 TERM-trapping services):
shutdown in six variants, memory of PID 1 and its supervisors, start-up, `my_init -- sh -c 'exit 3'`,
and the namespace + chroot cost alone. Needs busybox-static and herd's static release build.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.config import (BUSYBOX, BUSYBOX_APPLETS, CHROOT, MYINIT_BINS, MYINIT_CMD_BOUND_S,
                          MYINIT_KILL_PROCESS_TIMEOUT, MYINIT_PATH, MYINIT_SERVICES, MYINIT_STOP_BOUND_S,
                          MYINIT_STUBBORN, MYINIT_UP_BOUND_S, STOP_SETTLE_S, UNSHARE, Config)
from bench.flavors import Scanner
from bench.harness import Harness, TrialFailed, read_stamps, rotated, stderr_tail, trial, wait_exit_ns, wait_until
from bench.host import elf_linkage
from bench.procfs import argv0, comm, proc_children_map, smaps_rollup
from bench.results import Results


@dataclass(frozen=True)
class MyInitStop:
    """One shutdown variant: the metric prefix, the extra TERM-ignoring service, my_init's timeouts,
    and whether s09 has its log/."""

    prefix: str
    stubborn: bool
    env: tuple[tuple[str, str], ...]
    log: bool = True


MYINIT_K3 = (("KILL_PROCESS_TIMEOUT", MYINIT_KILL_PROCESS_TIMEOUT),)
MYINIT_STOPS = (
    MyInitStop("myinit_stop", False, ()),
    MyInitStop("myinit_stop_nolog", False, (), log=False),
    MyInitStop("myinit_stop_k3", False, MYINIT_K3),
    MyInitStop("myinit_stop_nolog_k3", False, MYINIT_K3, log=False),
    MyInitStop("myinit_stopx", True, ()),
    MyInitStop("myinit_stopx_k3", True, MYINIT_K3),
)
MYINIT_STARTUP = ["10 FOO=orig", "20 FOO=changed", "rc.local FOO=changed"]  # /out/order after start-up


def myinit_preflight(herd: dict[str, str]) -> str | None:
    """Why the phusion-style root cannot be built (busybox or herd's binaries missing or dynamic), or None."""
    for name, path in [("busybox", BUSYBOX), *((n, herd.get(n, "")) for n in MYINIT_BINS)]:
        what = f"`{BUSYBOX}`" if name == "busybox" else f"herd's `{name}` (--herd-dir)"
        if not path or not os.access(path, os.X_OK):
            return f"{what} not found" + (": install busybox-static" if name == "busybox"
                                          else ": build it with `just release`")
        if elf_linkage(path) != "static":
            return (f"{what} is not a static executable ({elf_linkage(path)}), and the chroot holds no libraries"
                    + (": install busybox-static" if name == "busybox" else ": build it with `just release`"))
    for tool in (UNSHARE, CHROOT):
        if not os.access(tool, os.X_OK):
            return f"`{tool}` not found"
    return None


def myinit_bins(h: Harness, herd: dict[str, str]) -> Path:
    """The root's binaries, once, on the scratch tmpfs: every root hard-links them."""
    d = h.new_dir("myinit-bins")
    shutil.copy(BUSYBOX, d / "busybox")
    for name in (*MYINIT_BINS, "svlog"):
        if herd.get(name) and elf_linkage(herd[name]) == "static":
            shutil.copy(herd[name], d / name)
    if elf_linkage(str(h.stamp)) == "static":
        shutil.copy(h.stamp, d / "stamp")
    for f in d.iterdir():
        f.chmod(0o755)
    return d


def myinit_service(name: str, stubborn: bool, stamp: bool, logged: bool) -> str:
    """A service as phusion's images write them: it traps TERM (and HUP, INT, QUIT, ABRT), says `NAME up`
    once the trap is set, and sleeps in `sleep 1 & wait` so that a trapped signal ends the wait at once.
    The stubborn one ignores TERM."""
    if stubborn:
        return f"#!/bin/sh\ntrap '' 15\necho {name} up >> /out/up\nwhile :; do sleep 1 & wait; done\n"
    return ("#!/bin/sh\n"
            f"trap 'echo {name} got TERM >> /out/term; exit 0' 1 2 3 6 15\n"
            f"echo {name} up >> /out/up\n"
            + ("/usr/bin/stamp /out/upstamps\n" if stamp else "")
            + (f"echo {name} up\n" if logged else "")
            + "while :; do sleep 1 & wait; done\n")


def phusion_root(h: Harness, bins: Path, stubborn: bool, tag: str, log: bool = True) -> Path:
    """A fresh phusion/baseimage-style root on tmpfs: busybox, herd's static binaries in /usr/bin,
    `/sbin/my_init -> /usr/bin/svscan`, /dev/null, the image's start-up scripts (the first one changes
    the container environment), shutdown scripts and 10 services (the last with a log/)."""
    root = h.new_dir(tag)
    for sub in ("bin", "sbin", "usr/bin", "dev", "proc", "tmp", "out/log"):
        (root / sub).mkdir(parents=True)
    os.link(bins / "busybox", root / "bin" / "busybox")
    for applet in BUSYBOX_APPLETS:
        os.symlink("busybox", root / "bin" / applet)
    for f in bins.iterdir():
        if f.name != "busybox":
            os.link(f, root / "usr" / "bin" / f.name)
    os.symlink("/usr/bin/svscan", root / "sbin" / "my_init")
    # busybox sh gives a backgrounded job /dev/null as stdin.
    os.mknod(root / "dev" / "null", 0o20666, os.makedev(1, 3))

    def put(rel: str, text: str, mode: int = 0o755) -> None:
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
        f.chmod(mode)

    put("etc/container_environment/FOO", "orig\n", 0o644)
    put("etc/my_init.d/10_change_env",
        "#!/bin/sh\necho \"10 FOO=$FOO\" >> /out/order\necho changed > /etc/container_environment/FOO\n")
    put("etc/my_init.d/20_see_env", "#!/bin/sh\necho \"20 FOO=$FOO\" >> /out/order\n")
    put("etc/rc.local", "#!/bin/sh\necho \"rc.local FOO=$FOO\" >> /out/order\n")
    put("etc/my_init.pre_shutdown.d/10", "#!/bin/sh\necho pre >> /out/order\n")
    put("etc/my_init.post_shutdown.d/10", "#!/bin/sh\necho post >> /out/order\n")
    stamp = (bins / "stamp").exists()
    for j in range(MYINIT_SERVICES):
        name = f"s{j:02d}"
        logged = log and j == MYINIT_SERVICES - 1
        if logged:  # log/ first: a supervise looks for it when it starts
            put(f"etc/service/{name}/log/run", "#!/bin/sh\nexec svlog /out/log\n" if (bins / "svlog").exists()
                else f"#!/bin/sh\nexec cat >> /out/{name}.log\n")
        put(f"etc/service/{name}/run", myinit_service(name, False, stamp, logged))
    if stubborn:
        put(f"etc/service/{MYINIT_STUBBORN}/run", myinit_service(MYINIT_STUBBORN, True, False, False))
    return root


def lines_of(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def spawn_my_init(h: Harness, root: Path, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """`unshare --pid --fork --mount-proc=ROOT/proc --kill-child chroot ROOT /sbin/my_init ARGS…`, with
    PATH and `env` only; stdout and stderr to files next to the root."""
    argv = [UNSHARE, "--pid", "--fork", f"--mount-proc={root / 'proc'}", "--kill-child", CHROOT, str(root),
            "/sbin/my_init", *args]
    with open(root.parent / f"{root.name}.stdout", "wb") as out:
        return h.spawn(argv, root.parent / f"{root.name}.stderr", stdout=out, env={"PATH": MYINIT_PATH, **env})


def my_init_pid(p: subprocess.Popen, errlog: Path, deadline: float) -> int:
    """The host pid of my_init (unshare's child once it has exec'd chroot, then /sbin/my_init)."""
    found: list[int] = []

    def ready() -> bool:
        if p.poll() is not None:
            raise TrialFailed(f"my_init exited with {p.returncode} during start-up{stderr_tail(errlog)}")
        for c in proc_children_map().get(p.pid, []):
            try:
                name = argv0(c)
            except OSError:
                continue
            if name == b"/sbin/my_init":
                found.append(c)
                return True
        return False

    wait_until("my_init to run under unshare", deadline, ready)
    return found[0]


def finish(h: Harness, p: subprocess.Popen) -> None:
    """Kills `p`'s tree if it still runs; a reaped pid is never signalled (it may have been reused)."""
    if p.returncode is None and p.poll() is None:
        h.stop(p)
    else:
        h.live.pop(p.pid, None)
        h.reap_orphans()


def measure(h: Harness, cfg: Config, herd: dict[str, str], res: Results) -> None:
    """herd's my_init as PID 1 of a phusion-style chroot: shutdown (MYINIT_STOPS), memory of PID 1 and its
    supervisors, `my_init -- sh -c 'exit 3'`, and the namespace + chroot cost alone."""
    why = myinit_preflight(herd)
    if why:
        res.extra["myinit_skipped"] = why
        res.extra["myinit_failed"] = True
        print(f"bench: myinit: fatal: {why}; section skipped", file=sys.stderr)
        return
    print(f"bench: my_init in a phusion-style root, {cfg.myinit_trials} trials (each stop bounded at "
          f"{MYINIT_STOP_BOUND_S:g} s)", file=sys.stderr)
    bins = myinit_bins(h, herd)
    res.extra["myinit_root"] = {"binaries": sorted(f.name for f in bins.iterdir()),
                                "log": "svlog" if (bins / "svlog").exists() else "cat",
                                "up_stamps": (bins / "stamp").exists()}
    herd_init = Scanner("herd", "herd `my_init`", herd["svscan"])
    skip: set[str] = set()

    def stop(v: MyInitStop, i: int) -> None:
        root = phusion_root(h, bins, v.stubborn, v.prefix.replace("_", "-"), v.log)
        errlog = root.parent / f"{root.name}.stderr"
        n = MYINIT_SERVICES + v.stubborn
        t_spawn = time.monotonic_ns()
        p = spawn_my_init(h, root, [], dict(v.env))
        try:
            deadline = time.monotonic() + MYINIT_UP_BOUND_S
            init = my_init_pid(p, errlog, deadline)

            def up() -> bool:
                if p.poll() is not None:
                    raise TrialFailed(f"my_init exited with {p.returncode}{stderr_tail(errlog)}")
                return len(set(lines_of(root / "out" / "up"))) >= n

            try:
                wait_until(f"{n} services up", deadline, up)
            except TrialFailed as e:
                got = len(set(lines_of(root / "out" / "up")))
                raise TrialFailed(f"{e} ({got} of {n}){stderr_tail(errlog)}") from None
            order = lines_of(root / "out" / "order")
            res.add("myinit_startup_ok", "herd", order == MYINIT_STARTUP)
            if v.prefix == "myinit_stop":
                stamps = read_stamps(root / "out" / "upstamps")
                if len(stamps) >= MYINIT_SERVICES:
                    res.add("myinit_up_ms", "herd", (max(stamps) - t_spawn) / 1e6)
            time.sleep(STOP_SETTLE_S)
            if p.poll() is not None:
                raise TrialFailed(f"my_init exited with {p.returncode}{stderr_tail(errlog)}")
            if v.prefix == "myinit_stop":
                sups = [c for c in proc_children_map().get(init, []) if comm(c) == "supervise"]
                m = smaps_rollup(init)
                pss = [smaps_rollup(s)["pss"] for s in sups]
                res.add("myinit_rss", "herd", m["rss"])
                res.add("myinit_pss", "herd", m["pss"])
                res.add("myinit_pss_total", "herd", m["pss"] + sum(pss))
                if pss:
                    res.add("myinit_pss_supervise", "herd", statistics.mean(pss))
                res.add("myinit_supervisors", "herd", len(sups))
            t0 = time.monotonic_ns()
            os.kill(init, signal.SIGTERM)
            t1 = wait_exit_ns(p, MYINIT_STOP_BOUND_S)
            clean = len({x for x in lines_of(root / "out" / "term") if x.endswith(" got TERM")})
            if t1 is None:
                res.bound(f"{v.prefix}_ms", "herd", i, MYINIT_STOP_BOUND_S,
                          f"my_init still running {MYINIT_STOP_BOUND_S:g} s after SIGTERM ({clean} TERM "
                          "handlers run by then); namespace SIGKILLed")
                skip.add(v.prefix)
                os.kill(init, signal.SIGKILL)  # the kernel kills the rest of the namespace
                if wait_exit_ns(p, 5) is None:
                    raise TrialFailed("the namespace did not go away after SIGKILL to its init")
                res.add(f"{v.prefix}_clean", "herd", clean)
                res.add(f"{v.prefix}_rc", "herd", f"SIGKILLed after {MYINIT_STOP_BOUND_S:g} s")
                return
            rc = p.returncode
            res.add(f"{v.prefix}_ms", "herd", (t1 - t0) / 1e6)
            res.add(f"{v.prefix}_clean", "herd", clean)
            res.add(f"{v.prefix}_rc", "herd", rc if rc >= 0 else f"signal {-rc}")
            after = lines_of(root / "out" / "order")[len(order):]
            res.add(f"{v.prefix}_scripts", "herd", ", ".join(after) or "none")
            res.extra.setdefault("myinit_stderr", {}).setdefault(v.prefix, errlog.read_text(errors="replace"))
        finally:
            finish(h, p)
            shutil.rmtree(root, ignore_errors=True)

    def command(i: int, log: bool) -> None:
        prefix = "myinit_cmd" if log else "myinit_cmd_nolog"
        root = phusion_root(h, bins, False, prefix.replace("_", "-"), log)
        errlog = root.parent / f"{root.name}.stderr"
        t0 = time.monotonic_ns()
        p = spawn_my_init(h, root, ["--", "sh", "-c", "exit 3"], {})
        try:
            t1 = wait_exit_ns(p, MYINIT_CMD_BOUND_S)
            if t1 is None:
                res.bound(f"{prefix}_ms", "herd", i, MYINIT_CMD_BOUND_S, "my_init still running")
                skip.add(prefix)
                return
            rc = p.returncode
            res.add(f"{prefix}_ms", "herd", (t1 - t0) / 1e6)
            res.add(f"{prefix}_rc", "herd", rc if rc >= 0 else f"signal {-rc}")
            res.add(f"{prefix}_up", "herd", len(set(lines_of(root / "out" / "up"))))
            res.add(f"{prefix}_clean", "herd", len(set(lines_of(root / "out" / "term"))))
            res.extra.setdefault("myinit_stderr", {}).setdefault(prefix, errlog.read_text(errors="replace"))
        finally:
            finish(h, p)
            shutil.rmtree(root, ignore_errors=True)

    def baseline(i: int) -> None:
        """The same namespace and chroot, running busybox `true`: what every figure above includes."""
        root = phusion_root(h, bins, False, "myinit-true")
        t0 = time.monotonic_ns()
        argv = [UNSHARE, "--pid", "--fork", f"--mount-proc={root / 'proc'}", "--kill-child", CHROOT, str(root),
                "/bin/true"]
        p = h.spawn(argv, root.parent / f"{root.name}.stderr", env={"PATH": MYINIT_PATH})
        try:
            t1 = wait_exit_ns(p, 5)
            if t1 is None or p.returncode != 0:
                raise TrialFailed(f"unshare … chroot ROOT /bin/true: {p.returncode}")
            res.add("myinit_ns_ms", "harness", (t1 - t0) / 1e6)
        finally:
            finish(h, p)
            shutil.rmtree(root, ignore_errors=True)

    jobs = [*((v.prefix, lambda i, v=v: stop(v, i)) for v in MYINIT_STOPS),
            ("myinit_cmd", lambda i: command(i, True)), ("myinit_cmd_nolog", lambda i: command(i, False)),
            ("myinit_ns", baseline)]
    for i in range(cfg.myinit_trials):
        for name, job in rotated(jobs, i):
            if name in skip:
                continue
            trial(res, f"{name}_ms", herd_init, i, lambda job=job, i=i: job(i))
