//! herd's black-box tests: the built binaries driven from outside, and compared with the real
//! runit/daemontools binaries where those define the behaviour.
//!
//! Build the binaries first: `cargo build --workspace --bins && cargo test --workspace`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod chpst;
mod install;
mod interop;
mod pid1;
mod supervise;
mod supervise_ext;
mod sv;
mod svlog;
mod svscan;
