#!/bin/sh
# Builds herd's static release binary, herd (glibc static, non-PIE: every tool in one), into
# target/x86_64-unknown-linux-gnu/release/: it runs in a FROM scratch image and shares its text
# between svscan and every supervise and svlog. scripts/install.sh installs it and links the
# tools' names to it; tests/docker.rs uses it.
set -eu
# -P: the repository also when scripts/ is reached through a link (tests/images.rs runs
# docs/docker.md's staging in a directory that links it).
cd -P "$(dirname "$0")/.."
# HERD_LAYOUT=1: bin/herd/build.rs links with bin/herd/layout.ld (scripts/layout.py), which puts
# what a running tree touches in segments of its own.
HERD_LAYOUT=1 RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  exec cargo build --release -p herd --bins --target x86_64-unknown-linux-gnu
