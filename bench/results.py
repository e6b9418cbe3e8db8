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


# A metric's section, by its name's prefix; anything else is the supervise section's.
SECTION_PREFIXES = (("sv_", "sv"), ("scan_", "scanners"), ("log_", "loggers"), ("myinit_", "myinit"),
                    ("ready_", "readiness"), ("policy_", "policy"), ("tree_", "tree"),
                    ("install_", "install"), ("startup_", "startup"))


def section_of(metric: str) -> str:
    return next((sec for pre, sec in SECTION_PREFIXES if metric.startswith(pre)), "supervise")


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
