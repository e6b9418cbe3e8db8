//! Reading the scan directory into entries (docs/runit-compatibility.md#runsvdir-scanning): every
//! subdirectory whose name does not start with `.` (symlinks followed), identified by (device,
//! inode), ready when its `run` is executable. Warnings use runsvdir's words. What the entries mean
//! is the service table's business; the answer goes to the lifecycle as one event.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use herd_diag::{Diag, Reason};

use crate::lifecycle::Event;
use crate::table::{Entry, Id};
use crate::watch::{run_ready, Watches};

/// Reads `dir`; with `watches`, also watches `dir` if it was missing until now, and keeps the
/// watches on directories waiting for their `run` (services the lifecycle `knows` need none).
/// The error that comes with the event, if any, is inotify's: the caller does without it.
pub fn scan(
    dir: &Path,
    mut watches: Option<&mut Watches>,
    knows: impl Fn(Id) -> bool,
    diag: &Diag,
) -> (Event, Option<std::io::Error>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            diag.warn(&format_args!(
                "unable to open directory {}: {}",
                dir.display(),
                Reason::of(&e)
            ));
            return (Event::ScanFailed, None);
        }
    };
    let mut lost = None;
    // Open, then watched, then read: nothing created in between is missed.
    if let Some(w) = watches.as_deref_mut().filter(|w| !w.watching_scan_dir()) {
        lost = w.watch_scan_dir(dir).err();
    }
    let mut entries = Vec::new();
    // Something could not be examined (a dangling symlink): look again in a while, as it may be
    // fixed without an event here.
    let mut retry = false;
    for ent in rd {
        let ent = match ent {
            Ok(e) => e,
            Err(e) => {
                diag.warn(&format_args!(
                    "unable to read directory {}: {}",
                    dir.display(),
                    Reason::of(&e)
                ));
                retry = true;
                break;
            }
        };
        let name = ent.file_name();
        if name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        let path = dir.join(&name);
        let md = match std::fs::metadata(&path) {
            Ok(md) => md,
            Err(e) => {
                diag.warn(&format_args!(
                    "unable to stat {}: {}",
                    name.to_string_lossy(),
                    Reason::of(&e)
                ));
                retry = true;
                continue;
            }
        };
        if md.is_dir() {
            entries.push(Entry {
                ready: run_ready(&path),
                name,
                id: (md.dev(), md.ino()),
            });
        }
    }
    if let Some(w) = watches.filter(|_| lost.is_none()) {
        if w.update_pending(dir, &entries, knows) {
            // A `run` appeared between our look and the watch: it counts now.
            for e in entries.iter_mut() {
                e.ready = e.ready || run_ready(&dir.join(&e.name));
            }
        }
    }
    (Event::Scanned { entries, retry }, lost)
}
