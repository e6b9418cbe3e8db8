//! The spool: what svlog has taken from its input pipe and not yet written everywhere, in a file
//! of the log directory, so that a SIGKILL at any point loses no line and writes none twice.
//!
//! Input moves from the pipe into `spool` with `splice(2)`: the bytes leave the pipe exactly when
//! they are in the file, so there is no moment where they are only in svlog's memory. They are
//! read back from the file and written to the log directories. Offsets count every byte ever
//! spooled (the file is cut back to its header once every directory has taken everything, and
//! the header says which offset its data starts at), so an offset never means two bytes. The
//! first page of the file is that header, with one slot per log directory: the offset up to which
//! that directory has taken every line, and the inode and size of its `current` at that point (a
//! commit, one `pwrite` inside one page: all or nothing for a killed process). A commit follows
//! every write to `current` and every rotation, so only `current` can hold lines past its
//! directory's offset. After a kill the next svlog cuts `current` back to the committed size and
//! takes the lines again from the committed offset: each line ends up in each directory exactly
//! once. A clean exit removes the spool.
//!
//! Deliberately not covered: a power loss (nothing is fsynced per line, as in svlogd); a full disk
//! (the spool gives up its copy so that the space goes to the logs, and svlog is as svlogd: a
//! kill during that pause loses what it holds); input that is not a pipe; and a single line
//! longer than `s`, which is split across two files and may be written again in part.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, Mode, OFlags};
use rustix::io::Errno;
use rustix::pipe::SpliceFlags;

/// The spool's name in the log directory.
pub const SPOOL: &str = "spool";
/// Size of the header; the data starts after it.
const HEADER: u64 = 4096;
const MAGIC: &[u8; 8] = b"svlspool";
/// Where the offset of the first byte of data is (little-endian u64), after the magic.
const BASE_AT: usize = MAGIC.len();
/// Where the slots start.
const SLOTS_AT: usize = BASE_AT + 8;
/// A slot: six little-endian u64 (directory dev and inode, offset, current's dev, inode, size).
const SLOT_LEN: usize = 48;
/// Slots in the header.
pub const MAX_SLOTS: usize = (HEADER as usize - SLOTS_AT) / SLOT_LEN;
/// A committed size that says "do not cut": the spool gave its data up on a full disk.
const ANY_SIZE: u64 = u64::MAX;
/// Holes are punched in whole pages.
const PAGE: u64 = 4096;

/// A (dev, inode) pair.
pub type FileId = (u64, u64);

/// What a log directory has committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    /// The directory, by (dev, inode): a rename does not change it.
    pub dir: FileId,
    /// Every line that ends at or before this offset is in the directory.
    pub end: u64,
    /// `current` at the commit.
    pub cur: FileId,
    /// `current`'s size at the commit.
    pub size: u64,
}

impl Slot {
    fn encode(&self) -> [u8; SLOT_LEN] {
        let mut out = [0u8; SLOT_LEN];
        let fields = [
            self.dir.0, self.dir.1, self.end, self.cur.0, self.cur.1, self.size,
        ];
        for (chunk, v) in out.chunks_exact_mut(8).zip(fields) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn decode(b: &[u8]) -> Slot {
        let mut f = b
            .chunks_exact(8)
            .map(|c| c.try_into().map_or(0, u64::from_le_bytes));
        let mut next = || f.next().unwrap_or(0);
        Slot {
            dir: (next(), next()),
            end: next(),
            cur: (next(), next()),
            size: next(),
        }
    }

    /// The size `current` must be cut back to after a kill, if `cur` is still the file committed.
    pub fn cut(&self, cur: FileId, size: u64) -> Option<u64> {
        (self.size != ANY_SIZE && cur == self.cur && size > self.size).then_some(self.size)
    }
}

pub struct Spool {
    fd: OwnedFd,
    /// The log directory holding the spool (for the removal).
    dir: OwnedFd,
    /// Offset of the first byte of data (at `HEADER` in the file).
    base: u64,
    /// Offset of the end of the data.
    end: u64,
    /// The slots in the file, one per log directory in use.
    slots: Vec<Slot>,
    /// The slots found at open (the previous svlog's).
    found: Vec<Slot>,
    /// Up to where in the file the data every directory has taken is a hole already.
    punched: u64,
}

fn offset(slot: usize) -> u64 {
    (SLOTS_AT + slot * SLOT_LEN) as u64
}

impl Spool {
    /// Opens (or creates) the spool of the log directory `dir`, which the caller has locked, and
    /// reads what a previous svlog committed.
    pub fn open(dir: &OwnedFd) -> Result<Spool, Errno> {
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let fd = rfs::openat(dir, SPOOL, flags, Mode::from_raw_mode(0o600))?;
        let size = u64::try_from(rfs::fstat(&fd)?.st_size).unwrap_or(0);
        let mut header = vec![0u8; HEADER as usize];
        let n = pread_full(&fd, &mut header, 0)?;
        let ours = n == header.len() && header.starts_with(MAGIC);
        let mut sp = Spool {
            fd,
            dir: rustix::io::fcntl_dupfd_cloexec(dir, 0)?,
            base: 0,
            end: 0,
            slots: Vec::new(),
            found: Vec::new(),
            punched: HEADER,
        };
        if !ours {
            // New, or not ours: start empty.
            rfs::ftruncate(&sp.fd, 0)?;
            rfs::ftruncate(&sp.fd, HEADER)?;
            sp.write_header()?;
            return Ok(sp);
        }
        sp.base = u64_at(&header, BASE_AT);
        sp.found = header[SLOTS_AT..]
            .chunks_exact(SLOT_LEN)
            .map(Slot::decode)
            .filter(|s| s.dir != (0, 0))
            .collect();
        sp.end = sp.base.saturating_add(size.saturating_sub(HEADER));
        // Killed between cutting the file back and writing the new header: offsets past the
        // data were all taken, and new data must start after them.
        if let Some(past) = sp.found.iter().map(|s| s.end).filter(|&e| e > sp.end).max() {
            rfs::ftruncate(&sp.fd, HEADER)?;
            sp.base = past;
            sp.end = past;
        }
        Ok(sp)
    }

    /// What the previous svlog committed for the directory `dir`.
    pub fn found(&self, dir: FileId) -> Option<Slot> {
        self.found.iter().find(|s| s.dir == dir).copied()
    }

    /// Where a directory takes up the input again: its committed offset, or for a directory
    /// without one the first offset not taken by all.
    pub fn resume(&self, dir: FileId) -> u64 {
        let clamp = |end: u64| end.clamp(self.base, self.end);
        match self.found(dir) {
            Some(s) => clamp(s.end),
            None => self
                .found
                .iter()
                .map(|s| clamp(s.end))
                .min()
                .unwrap_or(self.base),
        }
    }

    /// Offset of the first byte of data.
    pub fn start(&self) -> u64 {
        self.base
    }

    /// Makes `slots` the spool's slots (one per directory in use, in that order) and writes the
    /// header. `None` if there are more directories than slots.
    pub fn bind(&mut self, slots: Vec<Slot>) -> Option<()> {
        if slots.len() > MAX_SLOTS {
            return None;
        }
        self.slots = slots;
        self.found.clear();
        let _ = self.write_header();
        Some(())
    }

    /// Offset of the end of the data.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Where offset `at` is in the file.
    fn position(&self, at: u64) -> u64 {
        HEADER + at.saturating_sub(self.base)
    }

    /// `splice(2)`: moves up to `max` bytes from the pipe `from` to the end of the spool, and
    /// returns how many (0 at end of input).
    pub fn take(&mut self, from: BorrowedFd<'_>, max: usize) -> Result<usize, Errno> {
        let mut at = self.position(self.end);
        let n = rustix::pipe::splice(
            from,
            None,
            &self.fd,
            Some(&mut at),
            max,
            SpliceFlags::NONBLOCK,
        )?;
        self.end += n as u64;
        Ok(n)
    }

    /// Reads the spool's bytes at offset `at` into `buf` (all of it, or an error).
    pub fn read_at(&self, buf: &mut [u8], at: u64) -> Result<(), Errno> {
        if at < self.base {
            return Err(Errno::INVAL);
        }
        match pread_full(&self.fd, buf, self.position(at))? {
            n if n == buf.len() => Ok(()),
            _ => Err(Errno::IO),
        }
    }

    /// Commits slot `i`: its directory has every line up to `end` (clamped to the data), and
    /// `current` is `cur` with `size` bytes.
    pub fn commit(&mut self, i: usize, end: u64, cur: FileId, size: u64) {
        let end = end.min(self.end);
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let new = Slot {
            end,
            cur,
            size,
            ..*slot
        };
        if new == *slot {
            return;
        }
        *slot = new;
        // A failed write of a page that exists (EIO) leaves the old commit: after a kill some
        // lines would be written again. Nothing better can be done about it here.
        let _ = rustix::io::pwrite(&self.fd, &new.encode(), offset(i));
    }

    /// Whether every directory has taken everything.
    pub fn drained(&self) -> bool {
        self.slots.iter().all(|s| s.end >= self.end)
    }

    /// Cuts the file back to the header once every directory has taken everything. The cut comes
    /// first: a kill before the new header leaves offsets past the data, which mean "all taken".
    ///
    /// While a line is in progress (input read in chunks rarely ends at a line's end, so under a
    /// steady stream the spool is seldom all taken), the whole pages every directory has taken
    /// are given back as a hole instead (`fallocate(PUNCH_HOLE)`): offsets do not move, nothing
    /// is ever read there again, and the pages are freed before the kernel writes them to disk.
    pub fn settle(&mut self) {
        if self.end > self.base && self.drained() && rfs::ftruncate(&self.fd, HEADER).is_ok() {
            self.base = self.end;
            self.punched = HEADER;
            let _ = self.write_header();
            return;
        }
        let taken = self.slots.iter().map(|s| s.end).min().unwrap_or(self.base);
        let upto = self.position(taken.clamp(self.base, self.end)) / PAGE * PAGE;
        if upto > self.punched {
            let mode = rfs::FallocateFlags::PUNCH_HOLE | rfs::FallocateFlags::KEEP_SIZE;
            // A file system without holes keeps the pages: nothing is lost but disk writes.
            if rfs::fallocate(&self.fd, mode, self.punched, upto - self.punched).is_ok() {
                self.punched = upto;
            }
        }
    }

    /// On a full disk: gives up the spool's data (svlog still holds it in memory) so that its
    /// space goes to the logs. Returns whether there was any. Until each directory's next
    /// commit, a kill keeps whatever its `current` holds and takes nothing again.
    pub fn release(&mut self) -> bool {
        if self.end == self.base || rfs::ftruncate(&self.fd, HEADER).is_err() {
            return false;
        }
        self.base = self.end;
        self.punched = HEADER;
        for s in &mut self.slots {
            *s = Slot {
                end: self.end,
                size: ANY_SIZE,
                ..*s
            };
        }
        let _ = self.write_header();
        true
    }

    /// At a clean exit: removes the spool if everything was taken (otherwise the next svlog
    /// takes the rest).
    pub fn remove(self) {
        if self.drained() {
            let _ = rfs::unlinkat(&self.dir, SPOOL, rfs::AtFlags::empty());
        }
    }

    fn write_header(&self) -> Result<(), Errno> {
        let mut header = vec![0u8; HEADER as usize];
        header[..MAGIC.len()].copy_from_slice(MAGIC);
        header[BASE_AT..SLOTS_AT].copy_from_slice(&self.base.to_le_bytes());
        for (i, s) in self.slots.iter().enumerate() {
            let at = offset(i) as usize;
            header[at..at + SLOT_LEN].copy_from_slice(&s.encode());
        }
        match rustix::io::pwrite(&self.fd, &header, 0)? {
            n if n == header.len() => Ok(()),
            _ => Err(Errno::IO),
        }
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|c| c.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// `pread(2)` until `buf` is full or the end of the file; returns the bytes read.
fn pread_full(fd: impl AsFd, buf: &mut [u8], at: u64) -> Result<usize, Errno> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pread(fd.as_fd(), &mut buf[done..], at + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_round_trip() {
        let s = Slot {
            dir: (1, 2),
            end: 5000,
            cur: (1, 99),
            size: 1234,
        };
        assert_eq!(Slot::decode(&s.encode()), s);
        assert_eq!(MAX_SLOTS, 85);
    }

    #[test]
    fn cut_only_the_committed_file_and_only_down() {
        let s = Slot {
            dir: (1, 2),
            end: 0,
            cur: (1, 7),
            size: 100,
        };
        assert_eq!(s.cut((1, 7), 150), Some(100));
        assert_eq!(s.cut((1, 7), 100), None);
        assert_eq!(s.cut((1, 8), 150), None);
        assert_eq!(
            Slot {
                size: ANY_SIZE,
                ..s
            }
            .cut((1, 7), 150),
            None
        );
    }

    /// A steady stream whose chunks end inside a line is never all taken: the pages every
    /// directory has taken become a hole (no disk space, nothing to write back), the offsets stay,
    /// and the data not yet taken is still read back whole.
    #[test]
    fn taken_pages_become_a_hole_while_a_line_is_in_progress() {
        let dir = std::env::temp_dir().join(format!("herd-spool-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("temp dir");
        let dfd = rfs::open(&dir, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).expect("dir");
        let mut sp = Spool::open(&dfd).expect("spool");
        sp.bind(vec![Slot {
            dir: (1, 1),
            ..Slot::default()
        }])
        .expect("a slot");
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        let chunk = vec![b'x'; 60_000];
        let mut taken = 0u64;
        for _ in 0..10 {
            assert_eq!(rustix::io::write(&w, &chunk), Ok(chunk.len()));
            taken += sp.take(r.as_fd(), chunk.len()).expect("splice") as u64;
        }
        assert_eq!(taken, 600_000);
        let blocks = |sp: &Spool| rfs::fstat(&sp.fd).expect("fstat").st_blocks;
        let before = blocks(&sp);
        // Everything but the last 1000 bytes (a line in progress) is taken.
        sp.commit(0, sp.end() - 1000, (0, 0), 0);
        sp.settle();
        assert!(!sp.drained());
        assert!(
            blocks(&sp) < before / 4,
            "{} of {before} blocks left",
            blocks(&sp)
        );
        let mut rest = vec![0u8; 1000];
        sp.read_at(&mut rest, sp.end() - 1000).expect("the rest");
        assert_eq!(rest, vec![b'x'; 1000]);
        // All taken: cut back to the header.
        sp.commit(0, sp.end(), (0, 0), 0);
        sp.settle();
        assert!(sp.drained());
        assert_eq!(rfs::fstat(&sp.fd).expect("fstat").st_size, HEADER as i64);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
