//! Reading an option file of the service directory (the current one): `notification-fd`, the
//! policy files, the health options. One reader for all of them, so that each is looked at the
//! same way: without a descriptor first, so that a file that is not there is told apart from one
//! that cannot be opened even when no descriptor is left (EMFILE), and never blocking on a FIFO.

use rustix::fs::{self, Mode, OFlags};
use rustix::io::Errno;

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
/// such file, else what was read or why it could not be.
pub fn read_first<'a>(name: &str, buf: &'a mut [u8]) -> Option<Result<&'a [u8], Unreadable>> {
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
