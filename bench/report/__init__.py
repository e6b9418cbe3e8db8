"""The report: docs/benchmarks.md, from a run's Results or, with `--report-only`, from its JSON.

tables (rows, statistics, cells), goals (the goals of issues 8, 15, 16 and 18 and their verdicts), notes
(each section's notes, from the samples and the constants they quote; readiness, policy and scale (issue
18: the whole tree's memory, install size, startup vs floor) have modules of their own, with their goals),
render (the whole document; `report_only`). The
report imports bench.config, bench.flavors, bench.results and bench.host, and nothing that starts a
process under test: `just bench-check` asserts it.
"""
