"""Results bookkeeping: the raw samples of a run keyed by metric and column, the failed and bounded
trials, the `extra` facts for the notes, and the two statistics every table uses (median, nearest-rank
p90).

This is what docs/benchmarks.json holds and what `--report-only` reads back; `section_of` tells which
report section a metric belongs to, from its name's prefix.
"""

from __future__ import annotations

import math
import statistics
import sys
from dataclasses import dataclass, field


def median(xs):
    return statistics.median(xs) if xs else None


def p90(xs):
    """Nearest-rank 90th percentile."""
    if not xs:
        return None
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def section_of(metric: str) -> str:
    if metric.startswith("sv_"):
        return "sv"
    if metric.startswith("scan_"):
        return "scanners"
    if metric.startswith("log_"):
        return "loggers"
    if metric.startswith("myinit_"):
        return "myinit"
    if metric.startswith("ready_"):
        return "readiness"
    if metric.startswith("policy_"):
        return "policy"
    if metric.startswith("tree_"):
        return "tree"
    if metric.startswith("install_"):
        return "install"
    if metric.startswith("startup_"):
        return "startup"
    return "supervise"


@dataclass
class Results:
    samples: dict[str, dict[str, list]] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    bounded: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def add(self, metric: str, flavor: str, value) -> None:
        self.samples.setdefault(metric, {}).setdefault(flavor, []).append(value)

    def fail(self, metric: str, flavor: str, trial: int, why: str) -> None:
        self.failures.append({"metric": metric, "flavor": flavor, "trial": trial, "why": why})
        print(f"bench: {flavor}: {metric} trial {trial}: {why}", file=sys.stderr)

    def bound(self, metric: str, flavor: str, trial: int, bound_s: float, what: str) -> None:
        self.bounded.append({"metric": metric, "flavor": flavor, "trial": trial, "bound_s": bound_s,
                             "what": what})
        print(f"bench: {flavor}: {metric} trial {trial}: not within {bound_s:g} s: {what}", file=sys.stderr)

    def get(self, metric: str, flavor: str) -> list:
        return self.samples.get(metric, {}).get(flavor, [])

    def bounded_for(self, metric: str, flavor: str) -> list[dict]:
        return [b for b in self.bounded if b["metric"] == metric and b["flavor"] == flavor]
