"""The measuring sections, one module each, named as on the command line (`--sections`): supervise,
sv, scanners, loggers, myinit, readiness, policy. Each one's `measure` runs its scenarios in order and
adds samples to a Results; the report (bench.report) renders them and never imports these modules.
"""
