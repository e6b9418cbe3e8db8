//! herd's black-box tests: the built binaries driven from outside, and compared with the real
//! runit/daemontools binaries where those define the behaviour.
//!
//! Build the binaries first (the Docker test needs the static release build):
//! `cargo build --workspace --bins && scripts/release.sh && cargo test --workspace`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod chpst;
mod docker;
mod dockerd;
mod docs;
mod forker;
mod help;
mod images;
mod input;
mod install;
mod interop;
mod layout;
mod man;
mod multicall;
mod myinit;
mod non_utf8;
mod pid1;
mod size;
mod soak;
mod supervise;
mod sv;
mod sv_json;
mod sv_ready;
mod svlog;
mod svlog_kill;
mod svscan;
