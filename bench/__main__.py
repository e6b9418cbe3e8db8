"""The one entry point, `python3 -m bench` from the repository root: parses the command line, then
either renders the report from a previous run's JSON (`--report-only`: bench.report only) or measures
(bench.run, imported only then, with the harness and the sections).

`just bench-check` runs `--report-only` and asserts that no measuring module (bench.harness,
bench.procfs, bench.overhead, bench.run, bench.sections.*) was imported.
"""

from __future__ import annotations

import argparse
import sys

import bench
from bench.config import DEFAULT_HERD_DIR, DOCS, ROOT, SECTIONS


def main() -> int:
    ap = argparse.ArgumentParser(prog="python3 -m bench", description=bench.__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few samples, short windows (checks the harness)")
    ap.add_argument("--md", default=str(DOCS / "benchmarks.md"), help="report path")
    ap.add_argument("--json", default=str(DOCS / "benchmarks.json"), help="raw samples path")
    ap.add_argument("--herd-dir", default=str(ROOT / DEFAULT_HERD_DIR),
                    help=f"directory holding herd's supervise, svscan and sv (default {DEFAULT_HERD_DIR})")
    ap.add_argument("--note", action="append", default=[], help="a line for the report's notes (repeatable)")
    ap.add_argument("--only", default="", help="comma-separated flavor keys (herd,runit,daemontools,s6)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {','.join(SECTIONS)}")
    ap.add_argument("--report-only", metavar="JSON",
                    help="measure nothing: write the report (--md) from a previous run's raw samples")
    args = ap.parse_args()
    if args.report_only:
        from bench.report.render import report_only

        return report_only(args.report_only, args.md)
    sections = [s for s in args.sections.split(",") if s]
    if not set(sections) <= set(SECTIONS):
        ap.error(f"--sections takes {','.join(SECTIONS)}")
    from bench.run import run

    return run(args, sections)


if __name__ == "__main__":
    sys.exit(main())
