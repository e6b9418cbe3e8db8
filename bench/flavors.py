"""The programs compared, one column each: supervisors (`Flavor`), scanners, loggers, and the `sv`
client → supervisor pairs of the sv section.

Each knows its label, its path and how to build its command line; `make_*` list them in column order
for a given herd directory. Nothing here runs them: the report builds these too, for labels and
command lines.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.config import LOG_FILE_SIZE, LOG_KEEP


@dataclass(frozen=True)
class Flavor:
    key: str
    label: str
    path: str
    supervises_log: bool  # runs DIR/log/run itself, joined by a pipe
    control: str  # "fifo": write `t` to supervise/control; "s6-svc": run `s6-svc -r DIR`
    runit_sv: bool  # runit's `sv` can drive it

    def available(self) -> bool:
        return os.access(self.path, os.X_OK)


@dataclass(frozen=True)
class Scanner:
    key: str
    label: str
    path: str

    def available(self) -> bool:
        return os.access(self.path, os.X_OK)

    def argv(self, scandir: Path) -> list[str]:
        # s6-svscan 2.11's default cap is 500 services, enough for START_SIZES: run as shipped.
        return [self.path, str(scandir)]


@dataclass(frozen=True)
class Logger:
    """One logger command line; `{dir}` in args is the log directory."""

    key: str  # column
    family: str  # for --only
    label: str
    path: str
    args: tuple[str, ...]
    config: bool  # svlogd-style: size and count go in DIR/config, not on the command line

    def available(self) -> bool:
        return os.access(self.path, os.X_OK)

    def argv(self, logdir: Path) -> list[str]:
        return [self.path, *(a.replace("{dir}", str(logdir)) for a in self.args)]


@dataclass(frozen=True)
class SvCombo:
    """One `sv` client driving one supervisor flavor."""

    key: str
    label: str
    client: str
    sup: Flavor


def make_flavors(herd_dir: Path) -> list[Flavor]:
    return [
        Flavor("herd", "herd `supervise`", str(herd_dir / "supervise"), True, "fifo", True),
        Flavor("runit", "runit `runsv`", "/usr/bin/runsv", True, "fifo", True),
        Flavor("daemontools", "daemontools `supervise`", "/usr/bin/supervise", False, "fifo", False),
        Flavor("s6", "s6 `s6-supervise`", "/usr/bin/s6-supervise", False, "s6-svc", False),
    ]


def make_scanners(herd_dir: Path) -> list[Scanner]:
    return [
        Scanner("herd", "herd `svscan`", str(herd_dir / "svscan")),
        Scanner("runit", "runit `runsvdir`", "/usr/bin/runsvdir"),
        Scanner("daemontools", "daemontools `svscan`", "/usr/bin/svscan"),
        Scanner("s6", "s6 `s6-svscan`", "/usr/bin/s6-svscan"),
    ]


def make_loggers(herd_dir: Path) -> list[Logger]:
    script = ("t", f"s{LOG_FILE_SIZE}", f"n{LOG_KEEP}", "{dir}")
    return [
        Logger("herd", "herd", "herd `svlog -tt`", str(herd_dir / "svlog"), ("-tt", "{dir}"), True),
        Logger("runit", "runit", "runit `svlogd -tt`", "/usr/bin/svlogd", ("-tt", "{dir}"), True),
        Logger("daemontools", "daemontools", "daemontools `multilog t`", "/usr/bin/multilog", script, False),
        Logger("s6", "s6", "s6 `s6-log t`", "/usr/bin/s6-log", script, False),
        Logger("s6-b", "s6", "s6 `s6-log -b t`", "/usr/bin/s6-log", ("-b", *script), False),
    ]
