"""The report: docs/benchmarks.md, from a run's Results or, with `--report-only`, from its JSON.

tables (rows, statistics, cells), goals (issue 8's goals and verdicts), notes (each section's notes,
from the samples and the constants they quote), render (the whole document; `report_only`). The
report imports bench.config, bench.flavors, bench.results and bench.host, and nothing that starts a
process under test: `just bench-check` asserts it.
"""
