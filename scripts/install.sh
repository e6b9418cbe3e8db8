#!/bin/sh
# Installs herd's binaries so that they stand where runit's do.
#
#   scripts/install.sh [DESTDIR] [PREFIX] [BIN_DIR]
#
# DESTDIR (default empty) is prepended to every path; PREFIX defaults to /usr; BIN_DIR is where the
# built binaries are (default: the static release build, target/x86_64-unknown-linux-gnu/release).
# Installs the one herd binary into PREFIX/bin and links every name it answers to to it
# (relative links: svscan -> herd): our tools (svscan supervise sv svlog chpst), chpst's argv[0]
# forms (envdir envuidgid setuidgid pgrphack softlimit setlock) and phusion's setuser, and
# runit's names (runsvdir, runsv, svlogd), so that a runit-based image works with herd in runit's
# place, and my_init (phusion's my_init; a phusion image links /sbin/my_init to it,
# docs/migrating-from-phusion.md). The names are herd's, read from its dispatch table (bin/herd/src/tool.rs; `herd --help` lists them). Installs the man
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
toolrs="$(dirname "$0")/../bin/herd/src/tool.rs"
mandir="$DESTDIR$PREFIX/share/man/man8"

if [ ! -x "$BIN_DIR/herd" ]; then
  echo "install: fatal: $BIN_DIR/herd is missing: run 'just release' first" >&2
  exit 111
fi
if [ ! -f "$toolrs" ]; then
  echo "install: fatal: $toolrs is missing: run install.sh from herd's source tree" >&2
  exit 111
fi
for p in svscan supervise sv svlog chpst herd; do
  if [ ! -f "$mansrc/$p.8" ]; then
    echo "install: fatal: $mansrc/$p.8 is missing: run 'just man' first" >&2
    exit 111
  fi
done

mkdir -p "$bindir"
# Write under a temporary name, then rename: a running herd is not disturbed.
cp "$BIN_DIR/herd" "$bindir/.herd.new"
chmod 0755 "$bindir/.herd.new"
mv -f "$bindir/.herd.new" "$bindir/herd"
# The names: herd's dispatch table (`("runsv", Tool::Supervise),` rows), the one list of them.
names=$(sed -n 's/^ *("\([^"]*\)", Tool::[A-Za-z]*),$/\1/p' "$toolrs")
for n in $names; do
  # A link made aside and renamed over the name: an earlier install's binary of that name is
  # replaced in one step.
  ln -sfn herd "$bindir/.$n.new"
  mv -f "$bindir/.$n.new" "$bindir/$n"
done

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
