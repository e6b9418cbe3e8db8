"""The whole report: header (date, machine, versions, the command to reproduce it), general notes, goals,
binary sizes, then one table and its notes per section, or why the section was not run.

`report_only` rebuilds the Config, Results and columns from a run's JSON and renders them again,
measuring nothing (`--report-only`): a change to the report's text needs no new run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from bench.config import DEFAULT_HERD_DIR, FULL, QUICK, REPRODUCE, ROOT, Config
from bench.flavors import Flavor, Logger, Scanner, make_flavors, make_loggers, make_scanners
from bench.host import sh
from bench.report.goals import render_goals
from bench.report.notes import (general_notes, logger_notes, myinit_notes, scanner_notes, section_issues,
                                supervise_notes, sv_notes)
from bench.report.policy import policy_notes
from bench.report.readiness import readiness_notes
from bench.report.scale import install_notes, startup_notes, tree_notes
from bench.report.tables import (INSTALL_ROWS, MYINIT_PHUSION, MYINIT_PHUSION_LABEL, MYINIT_ROWS, POLICY_ROWS,
                                 READY_LABELS, READY_ROWS, SCAN_ROWS, STARTUP_ROWS, SUPERVISE_ROWS, SV_ROWS, TREE_ROWS,
                                 log_rows, render_table, summaries)
from bench.results import Results


def render_notes(L: list[str], notes: list[str]) -> None:
    for note in notes:
        L.append(note if note.startswith("  - ") else f"- {note}")
    L.append("")


def render_sizes(L: list[str], res: Results) -> None:
    L.append("## Binary sizes")
    L.append("")
    sizes = res.extra.get("binary_sizes")
    if not sizes:
        L.append("Not recorded in this run (its JSON predates the table).")
        L.append("")
        return
    L.append("| herd | size (KiB) | linkage | runit | size (KiB) | linkage |")
    L.append("|---|---:|---|---|---:|---|")
    for r in sizes["rows"]:
        def kib(side):
            b = r.get(f"{side}_bytes")
            return "—" if b is None else f"{b / 1024:.0f}"
        L.append(f"| `{r['herd']}` | {kib('herd')} | {r.get('herd_linkage', 'not found')} | `{r['runit']}` | "
                 f"{kib('runit')} | {r.get('runit_linkage', 'not found')} |")
    L.append("")
    libc = sizes.get("libc")
    L.append(f"- herd's from `{sizes.get('herd_dir', '--herd-dir')}`, runit's from the Debian package "
             "(`dpkg -L runit`); file sizes, 1 KiB = 1024 bytes. herd's binaries are static (glibc linked in: `just release` builds "
             "them with `+crt-static`, non-PIE), so each one runs alone in a `FROM scratch` image and needs no "
             "library; runit's are dynamically linked"
             + (f" and also map `{libc['path']}` ({libc['bytes'] / 1024:.0f} KiB), which every dynamic program "
                "shares" if libc else "") + ".")
    L.append("")
    L.append("- What is in the binaries (glibc's and std's floor, each tool's part) and what was cut: "
             "[size.md](size.md).")
    L.append("")


def render_md(meta: dict, cfg: Config, flavors: list[Flavor], scanners: list[Scanner], loggers: list[Logger],
              res: Results, summary: dict, sections: list[str]) -> str:
    m, v = meta["machine"], meta["versions"]
    L = []
    L.append("# Benchmarks: herd vs runit, daemontools and s6")
    L.append("")
    if cfg.quick:
        L.append("> **Quick run (`--quick`)**: few samples and short windows, for checking the harness only. "
                 "Do not compare these numbers.")
        L.append("")
    L.append(f"- Date: {m['date']}")
    L.append(f"- Machine: {m['nproc']} CPUs, {m['cpu']}, kernel {m['kernel']}; load average "
             f"{meta['load_start']} at the start, {meta['load_end']} at the end (1, 5, 15 min)")
    L.append(f"- Versions: herd {v.get('herd')}; runit {v.get('runit', '?')}; "
             f"daemontools {v.get('daemontools', '?')}; s6 {v.get('s6', '?')} (Debian packages)")
    L.append(f"- Reproduce (as root, from the repository root): `{REPRODUCE}`"
             + (f" (this run: `{meta['argv']}`)" if meta.get("argv") else ""))
    L.append(f"- Wall time of this run: {meta['elapsed_s']:.0f} s. Raw samples: `docs/benchmarks.json`.")
    if meta.get("report_only"):
        L.append(f"- This report was regenerated from `{meta['report_only']}` (`--report-only`, "
                 f"{meta.get('report_date', '')}): the measurements are those of the run above.")
    L.append("")
    L.append("## General notes")
    L.append("")
    render_notes(L, meta["notes"] + general_notes(cfg, flavors, scanners, res))
    render_goals(L, res)
    render_sizes(L, res)

    L.append("## supervise")
    L.append("")
    if "supervise" in sections:
        sup = summary["supervise"]

        def mark(metric, k, val):
            fl = next(f for f in flavors if f.key == k)
            if val is None or fl.supervises_log:
                return ""
            return " ¹" if metric in ("rss_log", "pss_log", "dirty_log") else " ²" if metric == "pss_pair" else ""

        render_table(L, res, SUPERVISE_ROWS, [(f.key, f.label) for f in flavors], sup, mark)
        L.append("¹ This supervisor does not run `log/run` itself (svscan / s6-svscan make the log pipe and "
                 "supervise `log/` separately): measured alone, in a service directory that has a `log/`.  ")
        L.append("² Two supervisor processes, summed (measured in their own trials): one for the service and one "
                 "for `DIR/log`, joined by a pipe the harness holds open, as svscan / s6-svscan would. The two "
                 "share their text pages, which lowers each one's PSS. For herd and runsv: the one process.")
        L.append("")
        L.append("### Notes")
        L.append("")
        render_notes(L, supervise_notes(cfg, flavors, res) + section_issues(res, "supervise"))
    else:
        L.append("Not run in this invocation (`--sections`).")
        L.append("")

    L.append("## sv")
    L.append("")
    combos = res.extra.get("sv_combos", {})
    if "sv" in sections and combos:
        render_table(L, res, SV_ROWS, list(combos.items()), summary["sv"])
        L.append("### Notes")
        L.append("")
        render_notes(L, sv_notes(cfg, res) + section_issues(res, "sv"))
    else:
        L.append("Not run in this invocation" + (f": {res.extra['sv_skipped']}." if "sv_skipped" in res.extra
                                                 else " (`--sections`)."))
        L.append("")

    L.append("## Scanners (svscan)")
    L.append("")
    if "scanners" in sections and scanners:
        render_table(L, res, SCAN_ROWS, [(s.key, s.label) for s in scanners], summary["scanners"])
        L.append("### Notes")
        L.append("")
        render_notes(L, scanner_notes(cfg, scanners, res) + section_issues(res, "scanners"))
    else:
        L.append("Not run in this invocation (`--sections`, or no scanner found).")
        L.append("")

    L.append("## Loggers (svlog)")
    L.append("")
    if "loggers" in sections and loggers:
        render_table(L, res, log_rows(cfg), [(lg.key, lg.label) for lg in loggers], summary["loggers"])
        L.append("### Notes")
        L.append("")
        render_notes(L, logger_notes(cfg, loggers, res) + section_issues(res, "loggers"))
    else:
        L.append("Not run in this invocation (`--sections`, or no logger found).")
        L.append("")

    L.append("## my_init (phusion/baseimage)")
    L.append("")
    if "myinit" in sections and "myinit_skipped" not in res.extra:
        columns = [("herd", "herd `my_init`"), ("phusion", MYINIT_PHUSION_LABEL)]
        shown = {k: {**v, "phusion": MYINIT_PHUSION.get(k)} for k, v in summary["myinit"].items()}
        render_table(L, res, MYINIT_ROWS, columns, shown)
        L.append("### Notes")
        L.append("")
        render_notes(L, myinit_notes(cfg, res) + section_issues(res, "myinit"))
    else:
        L.append(f"Not run in this invocation: {res.extra['myinit_skipped']}." if "myinit_skipped" in res.extra
                 else "Not run in this invocation (`--sections`).")
        L.append("")

    L.append("## Readiness and dependencies")
    L.append("")
    columns = [(k, READY_LABELS.get(k, k)) for k in res.extra.get("ready_columns", [])]
    ran = "readiness" in sections and columns
    if ran:
        render_table(L, res, READY_ROWS, columns, summary["readiness"])
    else:
        L.append("Not run in this invocation (`--sections`, or neither herd nor s6 found); what it measures:")
        L.append("")
    L.append("### Notes")
    L.append("")
    render_notes(L, readiness_notes(cfg) + (section_issues(res, "readiness") if ran else []))

    L.append("## Stop and health policies")
    L.append("")
    ran = "policy" in sections and flavors and "policy" in summary
    if ran:
        render_table(L, res, POLICY_ROWS, [(f.key, f.label) for f in flavors], summary["policy"])
    else:
        L.append("Not run in this invocation (`--sections`, or no supervisor found); what it measures:")
        L.append("")
    L.append("### Notes")
    L.append("")
    render_notes(L, policy_notes(cfg, res) + (section_issues(res, "policy") if ran else []))

    for title, section, rows, columns, notes in (
            ("Memory of the whole tree", "tree", TREE_ROWS, list(res.extra.get("tree_columns", {}).items()),
             tree_notes(cfg, res)),
            ("Install size", "install", INSTALL_ROWS, list(res.extra.get("install_columns", {}).items()),
             install_notes(res)),
            ("Startup vs floor", "startup", STARTUP_ROWS, [(sc.key, sc.label) for sc in scanners],
             startup_notes(cfg, res))):
        L.append(f"## {title}")
        L.append("")
        ran = section in sections and columns and section in summary
        if ran:
            render_table(L, res, rows, columns, summary[section])
        else:
            L.append("Not run in this invocation (`--sections`, or no column found); what it measures:")
            L.append("")
        L.append("### Notes")
        L.append("")
        render_notes(L, notes + (section_issues(res, section) if ran else []))
    return "\n".join(L)


def report_only(json_path: str, md_path: str) -> int:
    """Writes the report from a previous run's JSON (no measurement): for changes to the report itself."""
    try:
        data = json.loads(Path(json_path).read_text())
    except (OSError, ValueError) as e:
        print(f"bench: fatal: unable to read {json_path}: {e}", file=sys.stderr)
        return 111
    meta = data["meta"]
    base = FULL if not meta.get("quick") else QUICK
    known = {f.name for f in dataclasses.fields(Config)}
    cfg = dataclasses.replace(base, **{k: v for k, v in meta.get("config", {}).items() if k in known})
    res = Results(samples=data.get("samples", {}), failures=data.get("failures", []),
                  bounded=data.get("bounded", []), extra=data.get("extra", {}))
    herd_dir = ROOT / DEFAULT_HERD_DIR  # labels and command lines only: nothing is run

    def ran(group, keys):
        return [x for k in keys for x in group if x.key == k]

    flavors = ran(make_flavors(herd_dir), meta.get("flavors", {}))
    scanners = ran(make_scanners(herd_dir), meta.get("scanners", {}))
    loggers = ran(make_loggers(herd_dir), meta.get("loggers", {}))
    meta = {**meta, "report_only": os.path.relpath(os.path.realpath(json_path), ROOT),
            "report_date": sh(["date", "-u"])}
    summary = summaries(res, cfg, flavors, scanners, loggers)
    Path(md_path).write_text(render_md(meta, cfg, flavors, scanners, loggers, res, summary, meta.get("sections", [])))
    print(f"bench: wrote {md_path} from {json_path}", file=sys.stderr)
    return 0
