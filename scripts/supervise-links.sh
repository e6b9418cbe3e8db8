#!/bin/sh
# Gives every service of a tree a writable supervise directory elsewhere, for a read-only root:
#
#   scripts/supervise-links.sh TREE [RUNDIR]
#
# For each directory TREE/NAME (a name not starting with `.`, as svscan sees services), makes
#   TREE/NAME/supervise     -> RUNDIR/NAME/supervise
#   TREE/NAME/log/supervise -> RUNDIR/NAME/log/supervise   (when TREE/NAME/log is a directory)
# RUNDIR defaults to /run/herd and must be absolute: the links are read inside the container.
# supervise creates a link's missing target with its parents when it starts, so an image can
# run with `--read-only --tmpfs /run` (docs/docker.md, "Read-only root").
#
# Run it at build time on the host or in a builder stage (COPY keeps symlinks): a FROM scratch
# image has no shell. It is idempotent: a link already there is made again, pointing where it
# should. It refuses, before changing anything, a `supervise` that is a real directory or any
# other non-link (remove it first: it holds a supervise's state, not the image's). Any name
# works, spaces and bytes that are not UTF-8 included.
set -eu

prog=supervise-links
if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
  echo "usage: $prog TREE [RUNDIR]" >&2
  exit 100
fi
tree=$1
rundir=${2-/run/herd}
case $rundir in
  /*) ;;
  *)
    printf '%s: fatal: RUNDIR must be an absolute path: %s\n' "$prog" "$rundir" >&2
    exit 100
    ;;
esac
# A trailing slash would give RUNDIR//NAME.
while [ "$rundir" != / ] && [ "${rundir%/}" != "$rundir" ]; do rundir=${rundir%/}; done
[ "$rundir" = / ] && rundir=
if [ ! -d "$tree" ]; then
  printf '%s: fatal: %s is not a directory\n' "$prog" "$tree" >&2
  exit 111
fi

# First pass: refuse before anything changes.
for s in "$tree"/*; do
  [ -d "$s" ] || continue
  for p in "$s/supervise" "$s/log/supervise"; do
    if [ ! -L "$p" ] && [ -e "$p" ]; then
      printf '%s: fatal: %s is not a symlink: remove it first\n' "$prog" "$p" >&2
      exit 111
    fi
  done
done

# Second pass: the links. `ln -sfn` replaces a link without following it.
for s in "$tree"/*; do
  [ -d "$s" ] || continue
  name=${s##*/}
  ln -sfn "$rundir/$name/supervise" "$s/supervise"
  if [ -d "$s/log" ]; then
    ln -sfn "$rundir/$name/log/supervise" "$s/log/supervise"
  fi
done
