//! The readiness of the services the main command waits for (docs/svscan.md, "Main command"). A
//! service is done when its directory has a `down` file, or when its supervise runs
//! (`At::supervised`: so that a `status` left by an earlier container is not believed) and says
//! it is up and ready (`At::is_ready`). Each service directory is watched with inotify for
//! `supervise/` and `down` coming and going, and its `supervise/` for `status` and `ready` being
//! renamed into place or removed (and, until its supervise is seen running, for `ok` being
//! opened). An event makes only the services it concerns be looked at again. Without inotify
//! (or with a watch refused for want of a resource) the caller asks again in a while.
//!
//! The inotify descriptor is kept open once made, its watches removed when the wait ends: the
//! last close of an inotify descriptor waits for the kernel's SRCU grace period (12 to 22 ms
//! measured here), and a child forked meanwhile would pay it in its `execve` (the main command,
//! started at the end of the wait, did: 22 ms), as would svscan itself.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use herd_svdir::MAIN;
use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

/// The service directory: `supervise` and `down` appearing or going.
const DIR_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::ONLYDIR);
/// `supervise/`: `status` and `ready` renamed into place, `ready` removed.
const SUPERVISE_MASK: WatchMask = WatchMask::MOVED_TO
    .union(WatchMask::DELETE)
    .union(WatchMask::ONLYDIR);
/// The names in the service directory that matter.
const DIR_NAMES: [&str; 2] = ["supervise", "down"];
/// The names in `supervise/` that matter.
const SUPERVISE_NAMES: [&str; 3] = ["status", "ready", "ok"];

struct Service {
    name: OsString,
    dir: PathBuf,
    dir_wd: Option<WatchDescriptor>,
    supervise_wd: Option<WatchDescriptor>,
    /// Its supervise was seen running: `status` is that supervise's.
    supervised: bool,
    done: bool,
    /// To be looked at again after the events being read.
    dirty: bool,
}

pub struct Readiness {
    /// `None`: no inotify.
    ino: Option<Inotify>,
    /// Services are waited for (between [`Readiness::set`] and [`Readiness::end`]).
    active: bool,
    /// A watch was refused for want of a resource, or the events could not be read.
    lost: bool,
    services: Vec<Service>,
}

impl Readiness {
    /// `inotify_init1(2)`; without it, services are only looked at when asked.
    pub fn new() -> Self {
        let ino = Inotify::init().ok();
        Readiness {
            lost: ino.is_none(),
            ino,
            active: false,
            services: Vec::new(),
        }
    }

    /// The inotify descriptor, to wait on while services are waited for.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.ino.as_ref().filter(|_| self.active).map(|i| i.as_fd())
    }

    /// The wait is over: every watch is removed (`inotify_rm_watch(2)` does not wait), the
    /// descriptor is kept.
    pub fn end(&mut self) {
        self.set(Path::new(""), &[]);
        self.active = false;
    }

    /// Whether every change is seen (else the caller must ask again).
    pub fn watched(&self) -> bool {
        !self.lost
    }

    /// Waits for the services `names` of the scan directory `scan` from now on, and for no
    /// other; each new one is looked at.
    pub fn set(&mut self, scan: &Path, names: &[OsString]) {
        self.active = true;
        let ino = &mut self.ino;
        self.services.retain(|s| {
            let keep = names.contains(&s.name);
            if !keep {
                if let Some(ino) = ino.as_mut() {
                    for wd in [&s.dir_wd, &s.supervise_wd].into_iter().flatten() {
                        let _ = ino.watches().remove(wd.clone());
                    }
                }
            }
            keep
        });
        for name in names {
            if self.services.iter().any(|s| s.name == *name) {
                continue;
            }
            let mut s = Service {
                name: name.clone(),
                dir: scan.join(name),
                dir_wd: None,
                supervise_wd: None,
                supervised: false,
                done: false,
                dirty: false,
            };
            look(&mut self.ino, &mut self.lost, &mut s);
            self.services.push(s);
        }
    }

    /// Reads the pending events and looks again at the services they concern; `true` if one of
    /// them became done or not done, or if changes are no longer all seen.
    pub fn read(&mut self, buf: &mut [u8]) -> bool {
        let was_lost = self.lost;
        let Some(ino) = self.ino.as_mut() else {
            return false;
        };
        loop {
            let events = match ino.read_events(&mut *buf) {
                Ok(events) => events,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.lost = true;
                    break;
                }
            };
            for ev in events {
                let overflow = ev.mask.contains(EventMask::Q_OVERFLOW);
                let gone = ev.mask.contains(EventMask::IGNORED);
                for s in &mut self.services {
                    if overflow {
                        s.dirty = true;
                    } else if s.dir_wd.as_ref() == Some(&ev.wd) {
                        if gone {
                            s.dir_wd = None;
                        }
                        s.dirty |= gone || named(ev.name, &DIR_NAMES);
                    } else if s.supervise_wd.as_ref() == Some(&ev.wd) {
                        if gone {
                            s.supervise_wd = None;
                        }
                        s.dirty |= gone || named(ev.name, &SUPERVISE_NAMES);
                    }
                }
            }
        }
        let mut changed = self.lost != was_lost;
        for s in self.services.iter_mut().filter(|s| s.dirty) {
            let was = s.done;
            look(&mut self.ino, &mut self.lost, s);
            changed |= s.done != was;
        }
        changed
    }

    /// The services not done, sorted by their bytes (`OsStr`'s order on Unix).
    pub fn not_ready(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = self
            .services
            .iter()
            .filter(|s| !s.done)
            .map(|s| s.name.clone())
            .collect();
        v.sort();
        v
    }
}

fn named(name: Option<&OsStr>, names: &[&str]) -> bool {
    name.is_some_and(|n| names.iter().any(|m| n == *m))
}

/// Looks at one service: watches first (so that no change after the look is missed), then the
/// files.
fn look(ino: &mut Option<Inotify>, lost: &mut bool, s: &mut Service) {
    s.dirty = false;
    let at = MAIN.at(&s.dir);
    if s.dir_wd.is_none() {
        s.dir_wd = watch(ino, lost, &s.dir, DIR_MASK);
    }
    if at.down().exists() {
        s.done = true;
        return;
    }
    // Until its supervise is seen running, `ok` being opened (by it) is a change too.
    let mask = match s.supervised {
        true => SUPERVISE_MASK,
        false => SUPERVISE_MASK | WatchMask::OPEN,
    };
    if s.supervise_wd.is_none() {
        s.supervise_wd = watch(ino, lost, &at.supervise(), mask);
    }
    if !s.supervised {
        if !at.supervised() {
            s.done = false;
            return;
        }
        s.supervised = true;
        // The same watch, without OPEN: our own reads of `status` and `ready` wake nobody.
        if s.supervise_wd.is_some() {
            s.supervise_wd = watch(ino, lost, &at.supervise(), SUPERVISE_MASK);
        }
    }
    s.done = at.is_ready();
}

/// `inotify_add_watch(2)`; a path that does not exist (yet) is no error, a want of resources is.
fn watch(
    ino: &mut Option<Inotify>,
    lost: &mut bool,
    path: &Path,
    mask: WatchMask,
) -> Option<WatchDescriptor> {
    match ino.as_mut()?.watches().add(path, mask) {
        Ok(wd) => Some(wd),
        Err(e) => {
            use rustix::io::Errno;
            let absent = [Errno::NOENT, Errno::NOTDIR]
                .iter()
                .any(|n| e.raw_os_error() == Some(n.raw_os_error()));
            *lost |= !absent;
            None
        }
    }
}
