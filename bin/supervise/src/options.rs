//! Reading an option file of the service directory (the current one): `notification-fd`, the
//! policy files, the health options. One reader for all of them, so that each is looked at the
//! same way: without a descriptor first, so that a file that is not there is told apart from one
//! that cannot be opened even when no descriptor is left (EMFILE), and never blocking on a FIFO.
//! Before a start supervise looks for some fifteen of them, most often all missing: a [`Listing`]
//! of the directory, read once for all of them, spares the lookups of those that are not there.

use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;

use herd_svdir::{
    CHECK, ESSENTIAL, FINISH_FILE, HEALTH, HEALTH_INTERVAL, HEALTH_RETRIES, HEALTH_START_PERIOD,
    HEALTH_TIMEOUT, NOTIFICATION_FD,
};
use rustix::fs::{self, Mode, OFlags, RawDir, SeekFrom};
use rustix::io::Errno;

use crate::policy::{
    DOWN_SIGNAL, FLAG_TIMEOUT_KILLPG, RESTART_BACKOFF, RESTART_LIMIT, TIMEOUT_FINISH, TIMEOUT_KILL,
};

/// The names a [`Listing`] keeps track of, each by its index in a [`Present`]: the files of the
/// service directory supervise looks for while it runs. A path under one of them (`control/u`)
/// goes with its first component.
const KNOWN: [&str; 17] = [
    FINISH_FILE,
    herd_control::SCRIPT_DIR,
    herd_deps::DIR,
    NOTIFICATION_FD,
    CHECK,
    HEALTH,
    HEALTH_INTERVAL,
    HEALTH_TIMEOUT,
    HEALTH_RETRIES,
    HEALTH_START_PERIOD,
    DOWN_SIGNAL,
    TIMEOUT_KILL,
    FLAG_TIMEOUT_KILLPG,
    TIMEOUT_FINISH,
    RESTART_BACKOFF,
    RESTART_LIMIT,
    ESSENTIAL,
];
/// Bytes of the buffer `getdents(2)` fills: room for several entries of the longest name.
const DIRENT_BUF: usize = 1024;

/// Which of the [`KNOWN`] names were in the service directory when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Present {
    /// Bit `i` stands for `KNOWN[i]`.
    names: u32,
    /// The whole directory was read: a known name without its bit is not there.
    complete: bool,
}

impl Present {
    /// Nothing known: every name may be there.
    pub const UNKNOWN: Present = Present {
        names: 0,
        complete: false,
    };

    /// Whether `path` (relative to the service directory) may exist, so that it has to be looked
    /// up: `false` only for a known name that was not in a complete listing.
    pub fn may_exist(self, path: &str) -> bool {
        let first = path.split('/').next().unwrap_or(path);
        match KNOWN.iter().position(|k| *k == first) {
            Some(i) => !self.complete || self.names & (1 << i) != 0,
            None => true,
        }
    }

    /// The names in a directory listing: those of `names` that are known.
    fn of<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Present {
        let mut present = Present {
            names: 0,
            complete: true,
        };
        for name in names {
            if let Some(i) = KNOWN.iter().position(|k| k.as_bytes() == name) {
                present.names |= 1 << i;
            }
        }
        present
    }
}

/// The service directory (the current one) as its names were a moment ago: read at the first
/// lookup that wants it ([`Listing::read`]) and kept until the loop next waits or a control
/// script has run ([`Listing::expire`]), so that what one start looks for is read once, and a
/// file added or removed is seen at the next start, as a lookup would. Only a name's presence is
/// kept: each file that is there is looked up and read as before, so one edited in place counts
/// at the next start too. The directory is opened once, at supervise's start, so that reading it
/// needs no free descriptor; if it could not be opened or cannot be read, every name is looked up.
pub struct Listing {
    dir: Option<OwnedFd>,
    present: Option<Present>,
}

impl Listing {
    /// The listing of `dir`, a descriptor of the service directory (`None`: it could not be
    /// opened).
    pub fn new(dir: Option<OwnedFd>) -> Self {
        Listing { dir, present: None }
    }

    /// The names present: read now (`lseek(2)` and `getdents(2)`) unless already read since the
    /// last [`Listing::expire`].
    pub fn read(&mut self) -> Present {
        if let Some(p) = self.present {
            return p;
        }
        let p = self.dir.as_ref().map_or(Present::UNKNOWN, |dir| {
            read_names(dir).unwrap_or(Present::UNKNOWN)
        });
        self.present = Some(p);
        p
    }

    /// The names present as last read, if still current (none is read for a lone lookup: that
    /// would cost more than the lookup).
    pub fn current(&self) -> Present {
        self.present.unwrap_or(Present::UNKNOWN)
    }

    /// The listing may be out of date from now on: the next [`Listing::read`] reads again.
    pub fn expire(&mut self) {
        self.present = None;
    }
}

/// The known names of the directory `dir`, read from its start.
fn read_names(dir: &OwnedFd) -> Result<Present, Errno> {
    fs::seek(dir, SeekFrom::Start(0))?;
    let mut buf = [MaybeUninit::<u8>::uninit(); DIRENT_BUF];
    let mut entries = RawDir::new(dir, &mut buf);
    let mut present = Present::of([]);
    while let Some(entry) = entries.next() {
        present.names |= Present::of([entry?.file_name().to_bytes()]).names;
    }
    Ok(present)
}

/// Why an option file that is there could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    Open(Errno),
    Read(Errno),
}

impl Unreadable {
    pub fn errno(self) -> Errno {
        match self {
            Unreadable::Open(e) | Unreadable::Read(e) => e,
        }
    }
}

/// The first bytes of the option file `name` (as many as `buf` holds): `None` if there is no
/// such file (`present` says so, or a lookup), else what was read or why it could not be.
pub fn read_first<'a>(
    present: Present,
    name: &str,
    buf: &'a mut [u8],
) -> Option<Result<&'a [u8], Unreadable>> {
    if !present.may_exist(name) {
        return None;
    }
    if let Err(Errno::NOENT) = fs::stat(name) {
        return None;
    }
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match fs::open(name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return None,
        Err(e) => return Some(Err(Unreadable::Open(e))),
    };
    let n = loop {
        match rustix::io::read(&fd, &mut *buf) {
            Err(Errno::INTR) => {}
            Err(e) => return Some(Err(Unreadable::Read(e))),
            Ok(n) => break n,
        }
    };
    Some(Ok(&buf[..n]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_fit_and_differ() {
        assert!(KNOWN.len() <= u32::BITS as usize);
        for (i, a) in KNOWN.iter().enumerate() {
            assert!(!a.contains('/'), "{a}");
            assert!(!KNOWN[i + 1..].contains(a), "{a} twice");
        }
    }

    #[test]
    fn only_a_known_name_missing_from_a_complete_listing_is_spared() {
        let p = Present::of([&b"run"[..], b"finish", b"control", b"down-signal"]);
        assert!(p.may_exist("finish"));
        assert!(p.may_exist("control/u"));
        assert!(p.may_exist("down-signal"));
        assert!(!p.may_exist("timeout-kill"));
        assert!(!p.may_exist("notification-fd"));
        // Unknown names and paths are always looked up.
        assert!(p.may_exist("run"));
        assert!(p.may_exist("something-else"));
        assert!(p.may_exist("./finish"));
        let none = Present::of([&b"run"[..]]);
        assert!(!none.may_exist("control/t"));
        assert!(!none.may_exist("dependencies.d"));
        for name in KNOWN {
            assert!(Present::UNKNOWN.may_exist(name));
        }
    }
}
