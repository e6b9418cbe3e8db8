#!/bin/sh
# Builds herd's static release binaries (glibc static, non-PIE) into
# target/x86_64-unknown-linux-gnu/release/: they run in a FROM scratch image and share their text
# between all supervise instances. scripts/install.sh installs them; tests/docker.rs uses them.
set -eu
# -P: the repository also when scripts/ is reached through a link (tests/images.rs runs
# docs/docker.md's staging in a directory that links it).
cd -P "$(dirname "$0")/.."
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  exec cargo build --release --workspace --bins --target x86_64-unknown-linux-gnu
