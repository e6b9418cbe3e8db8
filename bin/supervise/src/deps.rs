//! The dependencies of the main service (docs/readiness.md, "Dependencies"): `dependencies.d/`
//! names sibling services of the scan directory, each of which must be up and ready
//! (`herd_svdir::At::is_ready`) before `./run` starts.
//!
//! The scan directory is the one that holds the service directory as supervise was given it
//! (`supervise web` run by svscan in its scan directory, or `supervise /a/b/web`: `/a/b`),
//! found before supervise changes into the service directory. While the machine waits, the
//! dependency waited for is watched with inotify (the scan directory, `SCAN/NAME` and
//! `SCAN/NAME/supervise` as they appear, and where a `supervise` symlink points), so that any
//! change wakes the loop: no polling. Without
//! inotify (no descriptor left, say) supervise says so once and the machine looks again each
//! second. The services of a cycle do not wait for each other; the member whose name sorts
//! first says so, once.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use herd_deps::Graph;
use herd_diag::{Diag, Reason};
use herd_svdir::MAIN;
use inotify::{Inotify, WatchDescriptor, WatchMask};
use rustix::io::Errno;

use crate::machine::Unmet;
use crate::options::Present;

/// What is watched in the scan directory: services appearing and disappearing.
const SCAN_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO);
/// In the dependency's directory: its `supervise/` appearing (made, or a symlink put there).
const SERVICE_MASK: WatchMask = SCAN_MASK;
/// In its `supervise/`: `status` and `ready` renamed into place (every supervisor writes them
/// so: runsv, s6, daemontools, ours), `ready` removed. Not the writes of the `.new` files.
const SUPERVISE_MASK: WatchMask = WatchMask::MOVED_TO.union(WatchMask::DELETE);
/// What supervise does while it cannot watch: the machine looks again each second.
const RETRYING: &str = "looking again each second";
/// Bytes read from inotify at a time.
const EVENTS_BUF: usize = 4096;
/// Reads of the inotify descriptor per wakeup, at most.
const READS_MAX: usize = 64;

/// The main service's dependencies and the watch on the one waited for.
pub struct Dependencies {
    /// The scan directory (absolute) and the service's name in it; `Err` if they could not be
    /// found (said when a dependency is to be waited for).
    place: Result<(PathBuf, OsString), io::Error>,
    watch: Option<Watch>,
    /// A watch no longer needed, its watches removed, kept for the next wait: the last close of
    /// an inotify descriptor waits for the kernel's SRCU grace period (12 to 40 ms measured),
    /// and would block the loop just after the start that ended the wait (a service ready at
    /// once was then seen 17-20 ms late), or, closed before that start, delay it.
    retired: Option<Watch>,
    /// The cycles said so far (each once for supervise's life).
    said_cycles: Vec<String>,
    /// A failure to read `dependencies.d/`, to find the scan directory or to watch has been
    /// said (once until things work again).
    said_fault: bool,
}

struct Watch {
    ino: Inotify,
    /// The dependency watched.
    name: OsString,
    wds: Vec<WatchDescriptor>,
}

impl Dependencies {
    /// Finds the scan directory of the service directory `dir` (supervise's argument), from the
    /// current directory: call before changing into `dir`.
    pub fn locate(dir: &OsStr) -> Self {
        Dependencies {
            place: locate(Path::new(dir)),
            watch: None,
            retired: None,
            said_cycles: Vec::new(),
            said_fault: false,
        }
    }

    /// The inotify descriptor, while a dependency is watched.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.watch.as_ref().map(|w| w.ino.as_fd())
    }

    /// Reads the pending events (what changed does not matter: the caller looks again). An
    /// error closes the watch; the next look makes a new one.
    pub fn drain(&mut self) {
        let Some(w) = &mut self.watch else { return };
        let mut buf = [0u8; EVENTS_BUF];
        for _ in 0..READS_MAX {
            match w.ino.read_events(&mut buf) {
                Ok(mut events) => {
                    if events.next().is_none() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.watch = None;
                    return;
                }
            }
        }
    }

    /// Nothing is waited for any more: the watch is retired (no wakeup of any kind follows):
    /// its watches are removed (`inotify_rm_watch(2)` does not wait), its descriptor kept.
    pub fn end(&mut self) {
        if let Some(mut w) = self.watch.take() {
            for wd in w.wds.drain(..) {
                let _ = w.ino.watches().remove(wd);
            }
            self.retired = Some(w);
        }
    }

    /// The first dependency (in the order of their names) that is not up and ready, leaving out
    /// those in a cycle with this service; `None` if there is none, or the scan directory is not
    /// known (said). A `dependencies.d/` that cannot be read (no descriptor left, say) is waited
    /// for under its own name, unwatched: said once, looked at again each second.
    pub fn unmet(&mut self, present: Present, diag: &Diag) -> Option<Unmet> {
        // Looked at without a descriptor first: with none left, a missing `dependencies.d`
        // could not be told from one that cannot be read.
        if !crate::readiness::has_dependencies(present) {
            return None;
        }
        let names = match herd_deps::read(Path::new(".")) {
            Ok(names) if names.is_empty() => return None,
            Ok(names) => names,
            Err(e) => {
                let what = format_args!("unable to read {}", herd_deps::DIR);
                self.fault(diag, &what, &e, RETRYING);
                self.watch = None;
                return Some(Unmet {
                    name: herd_deps::DIR.as_bytes().to_vec(),
                    exists: true,
                    watched: false,
                });
            }
        };
        let (scan, me) = match &self.place {
            Ok(place) => place.clone(),
            Err(e) => {
                let e = io::Error::new(e.kind(), e.to_string());
                let what = "unable to find the scan directory";
                self.fault(diag, &what, &e, "starting without waiting for dependencies");
                return None;
            }
        };
        let graph = Graph::build([me.clone()], |n| {
            if n == me {
                names.clone()
            } else {
                herd_deps::read(&scan.join(n)).unwrap_or_default()
            }
        });
        let cycle = graph.cycle_of(&me);
        if cycle.first() == Some(&me) {
            if let Some(path) = graph.cycle_path(&me) {
                self.say_cycle(diag, herd_deps::cycle_text(&path));
            }
        }
        let ready = |name: &OsStr| MAIN.at(&scan.join(name)).is_ready();
        // Look, watch, look again: a change between the first look and the watch is seen.
        for _ in 0..=names.len() {
            let Some(name) = names
                .iter()
                .filter(|n| !cycle.contains(n))
                .find(|n| !ready(n))
            else {
                break;
            };
            let watched = self.watch_for(diag, &scan, name);
            if !ready(name) {
                let exists = scan.join(name).is_dir();
                diag.trace(&format_args!(
                    "effect dependencies: waiting for {}{}{}",
                    name.as_bytes().escape_ascii(),
                    if exists { "" } else { " (not there)" },
                    if watched { "" } else { " (not watched)" }
                ));
                return Some(Unmet {
                    name: name.as_bytes().to_vec(),
                    exists,
                    watched,
                });
            }
        }
        diag.trace(&"effect dependencies: all ready");
        None
    }

    /// Watches the scan directory, `SCAN/NAME` and `SCAN/NAME/supervise` (those that exist):
    /// `false` if that cannot be done (said once).
    fn watch_for(&mut self, diag: &Diag, scan: &Path, name: &OsStr) -> bool {
        if self.watch.as_ref().is_some_and(|w| w.name != name) {
            if let Some(w) = &mut self.watch {
                for wd in w.wds.drain(..) {
                    let _ = w.ino.watches().remove(wd);
                }
            }
        }
        if self.watch.is_none() {
            // The retired descriptor, if any (its events since are only wakeups to look again).
            match self
                .retired
                .take()
                .map(|w| Ok(w.ino))
                .unwrap_or_else(Inotify::init)
            {
                Ok(ino) => {
                    self.watch = Some(Watch {
                        ino,
                        name: name.to_os_string(),
                        wds: Vec::new(),
                    })
                }
                Err(e) => {
                    self.fault(diag, &"unable to watch dependencies", &e, RETRYING);
                    return false;
                }
            }
        }
        let Some(w) = &mut self.watch else {
            return false;
        };
        w.name = name.to_os_string();
        let service = scan.join(name);
        let supervise = service.join("supervise");
        // `supervise` may be a symlink to a directory made later elsewhere (Debian's
        // `supervise -> /run/runit/supervise.NAME`): the directory that will hold it is watched.
        let link_parent = std::fs::read_link(&supervise)
            .ok()
            .and_then(|t| service.join(t).parent().map(Path::to_path_buf))
            .unwrap_or_else(|| service.clone());
        for (path, mask) in [
            (scan, SCAN_MASK),
            (&service, SERVICE_MASK),
            (&link_parent, SERVICE_MASK),
            (&supervise, SUPERVISE_MASK),
        ] {
            match w.ino.watches().add(path, mask) {
                Ok(wd) => {
                    if !w.wds.contains(&wd) {
                        w.wds.push(wd);
                    }
                }
                // Not there yet: the watch one level up sees it come.
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound
                        || e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()) => {}
                Err(e) => {
                    self.watch = None;
                    self.fault(diag, &"unable to watch dependencies", &e, RETRYING);
                    return false;
                }
            }
        }
        self.said_fault = false;
        true
    }

    /// Says a fault once (until things work again): `WHAT: REASON: THEN`.
    fn fault(&mut self, diag: &Diag, what: &dyn std::fmt::Display, e: &io::Error, then: &str) {
        if !std::mem::replace(&mut self.said_fault, true) {
            diag.warn(&format_args!("{what}: {}: {then}", Reason::of(e)));
        }
    }

    fn say_cycle(&mut self, diag: &Diag, text: String) {
        if !self.said_cycles.contains(&text) {
            diag.warn(&format_args!(
                "dependency cycle: {text}: its services start without waiting for each other"
            ));
            self.said_cycles.push(text);
        }
    }
}

/// The scan directory (absolute) and the service's name in it, for the service directory
/// `dir` as given: its last component and what is before it (`web` → `./web`; `/a/b/web/` →
/// `/a/b`, `web`). `.` and `..` name a directory by its real path.
fn locate(dir: &Path) -> io::Result<(PathBuf, OsString)> {
    let (parent, name) = match dir.file_name() {
        Some(name) => {
            let parent = dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            (parent.to_path_buf(), name.to_os_string())
        }
        None => {
            let real = std::fs::canonicalize(dir)?;
            match (real.parent(), real.file_name()) {
                (Some(p), Some(n)) => (p.to_path_buf(), n.to_os_string()),
                _ => return Err(io::Error::from_raw_os_error(Errno::INVAL.raw_os_error())),
            }
        }
    };
    let scan = if parent.is_absolute() {
        parent
    } else {
        std::env::current_dir()?.join(parent)
    };
    Ok((scan, name))
}
