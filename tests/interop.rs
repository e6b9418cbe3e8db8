//! Differential tests: the same scenario under runit's runsv and under our supervise.
