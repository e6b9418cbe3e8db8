#!/bin/sh
# Installs herd's binaries so that they stand where runit's do.
#
#   scripts/install.sh [DESTDIR] [PREFIX] [BIN_DIR]
#
# DESTDIR (default empty) is prepended to every path; PREFIX defaults to /usr; BIN_DIR is where the
# built binaries are (default: the static release build, target/x86_64-unknown-linux-gnu/release).
# Installs svscan supervise sv svlog chpst into PREFIX/bin, links chpst's argv[0] forms (envdir
# envuidgid setuidgid pgrphack softlimit setlock) and phusion's setuser to chpst, and links
# runit's names to ours (runsvdir -> svscan, runsv -> supervise, svlogd -> svlog), so that a
# runit-based image works with herd in runit's place, and my_init -> svscan (phusion's my_init;
# a phusion image links /sbin/my_init to it, docs/migrating-from-phusion.md). Existing files of
# those names are replaced.
set -eu

DESTDIR=${1-${DESTDIR-}}
PREFIX=${2-${PREFIX-/usr}}
BIN_DIR=${3-${BIN_DIR-target/x86_64-unknown-linux-gnu/release}}
bindir="$DESTDIR$PREFIX/bin"

for b in svscan supervise sv svlog chpst; do
  if [ ! -x "$BIN_DIR/$b" ]; then
    echo "install: fatal: $BIN_DIR/$b is missing: run 'just release' first" >&2
    exit 111
  fi
done

mkdir -p "$bindir"
for b in svscan supervise sv svlog chpst; do
  # Write under a temporary name, then rename: a running binary of that name is not disturbed.
  cp "$BIN_DIR/$b" "$bindir/.$b.new"
  chmod 0755 "$bindir/.$b.new"
  mv -f "$bindir/.$b.new" "$bindir/$b"
done
link() { ln -sfn "$1" "$bindir/$2"; }
for n in envdir envuidgid setuidgid pgrphack softlimit setlock setuser; do
  link chpst "$n"
done
link svscan runsvdir
link supervise runsv
link svlog svlogd
link svscan my_init
