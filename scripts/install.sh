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
# a phusion image links /sbin/my_init to it, docs/migrating-from-phusion.md). Installs the man
# pages (man/man8/, generated from docs/ by scripts/man.py) into PREFIX/share/man/man8, so that
# `man svscan` works: the five tools' pages as files, and every other name (runsvdir, my_init,
# runsv, svlogd, chpst's forms) as a symlink to its tool's page. Symlinks rather than the
# checked-in `.so` pages: man-db and mandoc follow both, but a `.so` is resolved against the
# manual's root (so `man -l` of it works only from there, and mandoc lints it as fragile), while a
# symlink works from anywhere, as Debian's policy prefers. Existing files of those names are
# replaced.
set -eu

DESTDIR=${1-${DESTDIR-}}
PREFIX=${2-${PREFIX-/usr}}
BIN_DIR=${3-${BIN_DIR-target/x86_64-unknown-linux-gnu/release}}
bindir="$DESTDIR$PREFIX/bin"
mansrc="$(dirname "$0")/../man/man8"
mandir="$DESTDIR$PREFIX/share/man/man8"

for b in svscan supervise sv svlog chpst; do
  if [ ! -x "$BIN_DIR/$b" ]; then
    echo "install: fatal: $BIN_DIR/$b is missing: run 'just release' first" >&2
    exit 111
  fi
done
for p in svscan supervise sv svlog chpst; do
  if [ ! -f "$mansrc/$p.8" ]; then
    echo "install: fatal: $mansrc/$p.8 is missing: run 'just man' first" >&2
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

mkdir -p "$mandir"
for p in "$mansrc"/*.8; do
  name=${p##*/}
  # A link page is one `.so man8/TOOL.8` line after its comment: install it as a symlink.
  target=$(sed -n 's|^\.so man8/||p' "$p")
  if [ -n "$target" ]; then
    ln -sfn "$target" "$mandir/$name"
  else
    cp "$p" "$mandir/.$name.new"
    chmod 0644 "$mandir/.$name.new"
    mv -f "$mandir/.$name.new" "$mandir/$name"
  fi
done
