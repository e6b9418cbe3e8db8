//! svscan's inotify watches: the scan directory, the parent of each symlink on the way to it (so
//! that switching a link such as Debian's `/etc/service`, or creating a missing scan dir, is seen
//! at once), and each new service directory that has no executable `run` yet. What an event
//! means for the lifecycle is one word: rescan. Losing inotify is reported to the caller, who
//! falls back to runsvdir's periodic rescan.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

use crate::table::{Entry, Id};

const SCAN_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF);
const PENDING_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::ATTRIB)
    .union(WatchMask::CLOSE_WRITE)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF);
const CHAIN_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO);
/// Symlinks followed on the way to the scan directory, at most (the kernel's own limit is 40).
const CHAIN_MAX: usize = 16;
/// Reads of the inotify descriptor per wakeup, at most: enough for a full queue (16384 events
/// by default) with a 4 KiB buffer, yet a bound, so that a directory changing without pause
/// cannot keep the loop from its signals.
const READS_MAX: usize = 256;

pub struct Watches {
    ino: Inotify,
    scan: Option<WatchDescriptor>,
    /// (watch on a parent directory, the name in it that leads to the scan dir).
    chain: Vec<(WatchDescriptor, OsString)>,
    /// Service directories waiting for their `run`.
    pending: Vec<(Id, WatchDescriptor)>,
}

/// Ready once `run` is there and executable by its owner: starting before the chmod of a new
/// `run` would cost a failed exec and a 1 s pause.
pub fn run_ready(service: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(service.join("run")).is_ok_and(|m| m.mode() & 0o100 != 0)
}

impl Watches {
    /// `inotify_init1(2)`.
    pub fn new() -> std::io::Result<Self> {
        Ok(Watches {
            ino: Inotify::init()?,
            scan: None,
            chain: Vec::new(),
            pending: Vec::new(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.ino.as_fd()
    }

    /// `inotify_rm_watch(2)` of every watch, the descriptor kept: for the stop, which never
    /// rescans. The last close of an inotify descriptor that still has watches waits for the
    /// kernel's SRCU grace period (10 to 22 ms measured here), which svscan paid at its exit, after
    /// every service had stopped; removing a watch does not wait, and the grace period runs while
    /// the services stop.
    pub fn unwatch_all(&mut self) {
        let wds = self.scan.take().into_iter();
        let wds = wds.chain(self.chain.drain(..).map(|(wd, _)| wd));
        let wds: Vec<WatchDescriptor> = wds
            .chain(self.pending.drain(..).map(|(_, wd)| wd))
            .collect();
        for wd in wds {
            let _ = self.ino.watches().remove(wd);
        }
    }

    /// Whether the scan directory itself is watched (it may not exist yet).
    pub fn watching_scan_dir(&self) -> bool {
        self.scan.is_some()
    }

    /// Watches `dir` (following symlinks) and the parent of every symlink on the way to it.
    /// A missing `dir` is not an error: the watch on its parent sees it appear.
    pub fn watch_scan_dir(&mut self, dir: &Path) -> std::io::Result<()> {
        for (wd, _) in self.chain.drain(..) {
            let _ = self.ino.watches().remove(wd);
        }
        let mut link = dir.to_path_buf();
        for _ in 0..CHAIN_MAX {
            let parent = match link.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let Some(name) = link.file_name().map(OsStr::to_os_string) else {
                break;
            };
            if let Ok(wd) = self
                .ino
                .watches()
                .add(&parent, CHAIN_MASK | WatchMask::ONLYDIR)
            {
                self.chain.push((wd, name));
            }
            match std::fs::read_link(&link) {
                Ok(target) => link = parent.join(target),
                Err(_) => break,
            }
        }
        match self.ino.watches().add(dir, SCAN_MASK) {
            Ok(new) => {
                if let Some(old) = self.scan.replace(new.clone()).filter(|old| *old != new) {
                    let _ = self.ino.watches().remove(old);
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(old) = self.scan.take() {
                    let _ = self.ino.watches().remove(old);
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Reads every pending event (up to [`READS_MAX`] reads): `Ok(true)` when the scan directory
    /// should be read again, once for a whole burst of changes. The watches on the way to it are
    /// renewed here when a link on the way or the directory itself changed.
    pub fn read(&mut self, dir: &Path, buf: &mut [u8]) -> std::io::Result<bool> {
        let mut rewatch = false;
        let mut rescan = false;
        for _ in 0..READS_MAX {
            let events = match self.ino.read_events(&mut *buf) {
                Ok(events) => events,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            };
            for ev in events {
                if ev.mask.contains(EventMask::Q_OVERFLOW) {
                    rewatch = true;
                    rescan = true;
                }
                // A parent directory on the way to DIR: only the name that leads to DIR
                // counts, so that busy parents such as /etc cost no rescan.
                if self
                    .chain
                    .iter()
                    .any(|(wd, name)| *wd == ev.wd && ev.name == Some(name.as_os_str()))
                {
                    rewatch = true;
                    rescan = true;
                }
                if self.scan.as_ref() == Some(&ev.wd) {
                    rescan = true;
                    if ev
                        .mask
                        .intersects(EventMask::DELETE_SELF | EventMask::MOVE_SELF)
                    {
                        rewatch = true;
                    }
                }
                if self.pending.iter().any(|(_, wd)| *wd == ev.wd) {
                    rescan = true;
                }
            }
        }
        if rewatch {
            self.watch_scan_dir(dir)?;
        }
        Ok(rescan)
    }

    /// Keeps a watch on each service directory of `entries` that waits for its `run` and is
    /// not known (`knows`), and only on those. Returns whether a newly watched directory turned
    /// out ready after all (its `run` came between the scan's look and the watch), so that the
    /// caller looks again.
    pub fn update_pending(
        &mut self,
        dir: &Path,
        entries: &[Entry],
        knows: impl Fn(Id) -> bool,
    ) -> bool {
        let waiting = |id: Id| entries.iter().any(|e| e.id == id && !e.ready) && !knows(id);
        let ino = &mut self.ino;
        self.pending.retain(|(id, wd)| {
            let keep = waiting(*id);
            if !keep {
                let _ = ino.watches().remove(wd.clone());
            }
            keep
        });
        let mut late = false;
        for e in entries {
            if !waiting(e.id) || self.pending.iter().any(|(id, _)| *id == e.id) {
                continue;
            }
            let path = dir.join(&e.name);
            if let Ok(wd) = self.ino.watches().add(&path, PENDING_MASK) {
                self.pending.push((e.id, wd));
            }
            late |= run_ready(&path);
        }
        late
    }
}
