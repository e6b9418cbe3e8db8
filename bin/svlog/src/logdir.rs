//! One log directory (docs/runit-compatibility.md#svlogd-log-directory to #svlogd-processor,
//! #svlogd-disk-full): its lock, `config`, `current` and the rotated `@TAI64N.s/.u/.t` files, the
//! processor, and writes that never lose or split a line.
//!
//! Output is buffered per directory and written in large writes. Rotation happens only between
//! records, so a file holds whole lines and never more than `s` bytes (a single record longer
//! than `s` is the one exception: it is split at the limit). A write error pauses: the record
//! stays buffered, input is not read (the writer is held back by the pipe), and the write is
//! retried every 3 s; SIGTERM during a pause ends svlog in bounded time.
//!
//! Unlike svlogd, no file svlog creates, truncates, appends to or chmods in a log directory is
//! opened through a symlink (`O_NOFOLLOW`): a link planted there (`current`, `lock`, `state`…)
//! cannot make a root logger write or change another file. Such an open fails with ELOOP
//! (`symbolic link loop`) and is handled as any other failure of that open. `config` and the log
//! directory itself may be symlinks.
//!
//! With a spool ([`crate::spool`]) each directory commits after every write to `current` and
//! after every rotation, and at start cuts a `current` back to what was committed before a kill.

use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use herd_diag::{Diag, Kind, Reason};
use herd_tai64n::Tai64n;
use herd_value::later;
use rustix::fs::{self as rfs, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use crate::pattern;
use crate::spool::{FileId, Spool};

/// Default `s`: rotate at 1 000 000 bytes.
const DEFAULT_SIZE: u64 = 1_000_000;
/// Default `n` and `N`.
const DEFAULT_COUNT: u64 = 10;
/// Default UDP port.
const SYSLOG_PORT: u16 = 514;
/// A rotated file's name: `@` + 24 hex + `.` + state letter.
const SAVED_LEN: usize = 27;
/// Flush a directory's buffer once it holds this much.
pub const FLUSH_AT: usize = 64 * 1024;
/// Descriptors handed to the processor are first moved at or above this.
const HIGH_FD: i32 = 10;
/// Time between two runs of a processor that failed.
const PROCESSOR_RETRY: Duration = Duration::from_secs(1);
/// svlogd's pause before retrying a failed operation.
pub const PAUSE: Duration = Duration::from_secs(3);
/// Flags of every open of a file in a log directory: never through a symlink, never inherited,
/// and never blocking on a FIFO planted in the file's place.
const PRIVATE: OFlags = OFlags::NOFOLLOW
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK);

/// The prefix of svlog's messages: svlogd's, whatever svlog is called.
pub const PROG: &str = "svlogd";

/// `svlogd: KIND: MSG` on stderr.
pub fn say(kind: Kind, msg: &dyn fmt::Display) {
    Diag::new(PROG).say(kind, msg);
}
pub fn warn(msg: &dyn fmt::Display) {
    say(Kind::Warning, msg);
}
pub fn info(msg: &dyn fmt::Display) {
    say(Kind::Info, msg);
}
pub fn pausing(msg: &dyn fmt::Display) {
    say(Kind::Pausing, msg);
}

/// A directory's `config`.
#[derive(Debug, Clone)]
pub struct Config {
    pub size: u64,
    pub nmax: u64,
    pub nmin: u64,
    /// `t`: rotate a non-empty `current` this old (zero: never).
    pub tmax: Duration,
    /// `!CMD`: run with `sh -c`; bytes, as written in `config`.
    pub processor: Option<OsString>,
    pub udp: Option<SocketAddrV4>,
    pub udp_only: bool,
    pub prefix: Vec<u8>,
    /// `+ - e E` lines, letter first.
    pub rules: Vec<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            size: DEFAULT_SIZE,
            nmax: DEFAULT_COUNT,
            nmin: DEFAULT_COUNT,
            tmax: Duration::ZERO,
            processor: None,
            udp: None,
            udp_only: false,
            prefix: Vec::new(),
            rules: Vec::new(),
        }
    }
}

/// `a.b.c.d[:port]`, as svlogd reads it (the port's leading digits, `herd_value::port`: 1 to
/// 65535); the warnings are svlogd's, pushed to `warnings`.
fn udp_target(s: &[u8], warnings: &mut Vec<String>) -> Option<SocketAddrV4> {
    let text = String::from_utf8_lossy(s);
    let (ip, port) = match text.split_once(':') {
        Some((ip, p)) => {
            let (digits, _) = herd_value::split_digits(p.as_bytes());
            match herd_value::port(digits) {
                Ok(port) => (ip.to_string(), port),
                Err(_) => {
                    warnings.push(format!("unable to scan port number: {p}"));
                    return None;
                }
            }
        }
        None => (text.to_string(), SYSLOG_PORT),
    };
    match ip.parse() {
        Ok(addr) => Some(SocketAddrV4::new(addr, port)),
        Err(_) => {
            warnings.push(format!("unable to scan ip address: {text}"));
            None
        }
    }
}

impl Config {
    /// Parses `config`: only the first character of each line matters
    /// (docs/runit-compatibility.md#svlogd-config). The numbers are herd-value's `scan_*` kinds
    /// (runit's leading digits, saturating). Warnings (a bad UDP target) are pushed to `warnings`,
    /// for the caller to print.
    pub fn parse(text: &[u8], warnings: &mut Vec<String>) -> Config {
        let mut c = Config::default();
        for line in text.split(|&b| b == b'\n') {
            let Some((&kind, rest)) = line.split_first() else {
                continue;
            };
            match kind {
                b'+' | b'-' | b'e' | b'E' => c.rules.push(line.to_vec()),
                b's' => c.size = herd_value::scan_size_unit(rest),
                b'n' => c.nmax = u64::from(herd_value::scan_count(rest)),
                b'N' => c.nmin = u64::from(herd_value::scan_count(rest)),
                b't' => c.tmax = herd_value::scan_seconds_unit(rest),
                b'!' if !rest.is_empty() => c.processor = Some(OsString::from_vec(rest.to_vec())),
                b'u' | b'U' => {
                    if let Some(t) = udp_target(rest, warnings) {
                        c.udp = Some(t);
                        c.udp_only = kind == b'U';
                    }
                }
                b'p' if !rest.is_empty() => c.prefix = rest.to_vec(),
                _ => {}
            }
        }
        c
    }
}

/// Why a write did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM arrived while paused.
    Terminate,
}

/// Waits up to `PAUSE` for SIGTERM while an operation is paused; `Err` if it came.
pub type PauseWait<'a> = &'a mut dyn FnMut() -> Result<(), Stop>;

pub struct Logdir {
    /// As given on the command line.
    pub name: PathBuf,
    dir: OwnedFd,
    _lock: OwnedFd,
    cur: OwnedFd,
    /// Bytes in `current`, written or buffered.
    size: u64,
    pub cfg: Config,
    /// When `t` rotates next.
    pub trotate: Option<Instant>,
    /// The running processor and the `.u` file it works on.
    processor: Option<(nix::unistd::Pid, String)>,
    /// A processor that failed, to run again on its `.u` at this instant (svlogd restarts it at
    /// once, in a loop; we wait a second between tries).
    pub retry: Option<(Instant, String)>,
    buf: Vec<u8>,
    verbose: bool,
    /// The directory's (dev, inode).
    id: FileId,
    /// `current`'s (dev, inode).
    cur_id: FileId,
    /// The spool and this directory's slot in it, when svlog spools its input.
    spool: Option<(Rc<RefCell<Spool>>, usize)>,
    /// Every line that ends at or before this spool offset has been dealt with: buffered for
    /// `current`, or not selected.
    pub end: u64,
    /// While the spool is taken again after a kill: lines ending at or before this offset are
    /// already in the directory.
    pub skip_until: u64,
}

/// `WHAT: DIR: REASON`.
fn sys_msg(what: &str, name: &Path, e: Errno) -> String {
    format!("{what}: {}: {}", name.display(), Reason(e.raw_os_error()))
}

/// Retries `op` on `dir` every 3 s with svlogd's `pausing:` message until it works.
fn retry<T>(
    dir: &OwnedFd,
    name: &Path,
    wait: PauseWait<'_>,
    what: &str,
    mut op: impl FnMut(&OwnedFd) -> Result<T, Errno>,
) -> Result<T, Stop> {
    loop {
        match op(dir) {
            Ok(v) => return Ok(v),
            Err(e) => {
                pausing(&sys_msg(what, name, e));
                wait()?;
            }
        }
    }
}

/// (dev, inode) of an open file ((0, 0) if `fstat` fails, which matches nothing).
fn file_id(fd: &OwnedFd) -> FileId {
    rfs::fstat(fd).map_or((0, 0), |st| (st.st_dev, st.st_ino))
}

/// Opens `current` for appending, pausing with `svlogd: pausing: WHAT: DIR: REASON` until it
/// can (svlogd's WHAT is `unable to open current` at start, `unable to create new current` at
/// rotation).
fn open_current(
    dir: &OwnedFd,
    name: &Path,
    wait: PauseWait<'_>,
    what: &str,
) -> Result<OwnedFd, Stop> {
    let flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | PRIVATE;
    let fd = retry(dir, name, wait, what, |d| {
        rfs::openat(d, "current", flags, Mode::from_raw_mode(0o644))
    })?;
    retry(dir, name, wait, "unable to set mode of current", |_| {
        rfs::fchmod(&fd, Mode::from_raw_mode(0o644))
    })?;
    Ok(fd)
}

/// The number of `@….s`/`.u` files in `dir` (read through `list`) and the oldest one (other
/// than `keep`); leftover `.t` files of a processor are removed on the way.
fn saved_files(dir: &OwnedFd, list: rfs::Dir, keep: Option<&str>) -> (u64, Option<String>) {
    let mut count = 0;
    let mut oldest: Option<String> = None;
    for e in list.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.len() != SAVED_LEN || !n.starts_with('@') {
            continue;
        }
        if n.ends_with('t') {
            let _ = rfs::unlinkat(dir, n.as_str(), rfs::AtFlags::empty());
            continue;
        }
        count += 1;
        if Some(n.as_str()) != keep && oldest.as_ref().is_none_or(|o| n < *o) {
            oldest = Some(n);
        }
    }
    (count, oldest)
}

/// Deletes the oldest saved file if there are more than `nmax` (one per rotation, as svlogd).
/// A directory that cannot be read pauses, as in svlogd (an open at EMFILE, say): skipping
/// would leave one file too many for good.
fn remove_oldest(
    dir: &OwnedFd,
    name: &Path,
    nmax: u64,
    keep: Option<&str>,
    verbose: bool,
    wait: PauseWait<'_>,
) -> Result<(), Stop> {
    let list = retry(
        dir,
        name,
        wait,
        "unable to open directory, want rotate",
        |d| rfs::Dir::read_from(d),
    )?;
    let (count, oldest) = saved_files(dir, list, keep);
    if nmax > 0 && count > nmax {
        if let Some(old) = oldest {
            if verbose {
                info(&format_args!("delete: {}/{old}", name.display()));
            }
            if let Err(e) = rfs::unlinkat(dir, old.as_str(), rfs::AtFlags::empty()) {
                warn(&sys_msg("unable to unlink oldest logfile", name, e));
            }
        }
    }
    Ok(())
}

/// A fresh `@TAI64N.x` name that does not exist yet in `dir`.
fn saved_name(dir: &OwnedFd, state: u8) -> String {
    loop {
        let label = Tai64n::from_system_time(SystemTime::now()).label();
        let mut name = String::from_utf8_lossy(&label).into_owned();
        name.push('.');
        name.push(state as char);
        if matches!(
            rfs::statat(dir, name.as_str(), rfs::AtFlags::SYMLINK_NOFOLLOW),
            Err(Errno::NOENT)
        ) {
            return name;
        }
        std::thread::sleep(Duration::from_micros(1));
    }
}

impl Logdir {
    /// Opens and locks `name`, reads its config, recovers an unclean `current`. `None` (after a
    /// warning) if the directory cannot be used. With `spool`, the spool is opened in the first
    /// directory that can be used, and `current` is first cut back to what was committed.
    pub fn open(
        name: &Path,
        verbose: bool,
        wait: PauseWait<'_>,
        mut spool: Option<&mut Option<Spool>>,
    ) -> Result<Option<Logdir>, Stop> {
        let dir = match rfs::open(name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(d) => d,
            Err(e) => {
                warn(&sys_msg("unable to open log directory", name, e));
                return Ok(None);
            }
        };
        // svlogd opens the path, then fails at fchdir when it is not a directory.
        let id = match rfs::fstat(&dir) {
            Ok(st) if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory => {
                (st.st_dev, st.st_ino)
            }
            Ok(_) => {
                warn(&sys_msg("unable to change directory", name, Errno::NOTDIR));
                return Ok(None);
            }
            Err(e) => {
                warn(&sys_msg("unable to change directory", name, e));
                return Ok(None);
            }
        };
        let lock_flags = OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE | PRIVATE;
        let lock = match rfs::openat(&dir, "lock", lock_flags, Mode::from_raw_mode(0o600))
            .and_then(|fd| rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive).map(|()| fd))
        {
            Ok(fd) => fd,
            Err(e) => {
                warn(&sys_msg("unable to lock directory", name, e));
                return Ok(None);
            }
        };
        let cfg = match rfs::openat(
            &dir,
            "config",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => {
                let mut text = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    match rustix::io::read(&fd, &mut chunk) {
                        Ok(0) => break,
                        Ok(n) => text.extend_from_slice(&chunk[..n]),
                        Err(Errno::INTR) => {}
                        Err(e) => {
                            warn(&sys_msg("unable to read config", name, e));
                            break;
                        }
                    }
                }
                // As svlogd: `read:` comes after the attempt, even a failed one.
                if verbose {
                    info(&format_args!("read: {}/config", name.display()));
                }
                let mut warnings = Vec::new();
                let cfg = Config::parse(&text, &mut warnings);
                for w in &warnings {
                    warn(w);
                }
                cfg
            }
            Err(Errno::NOENT) => Config::default(),
            Err(e) => {
                warn(&sys_msg("unable to read config", name, e));
                if verbose {
                    info(&format_args!("read: {}/config", name.display()));
                }
                Config::default()
            }
        };
        let mut opened_here = false;
        let found = match spool.as_deref_mut() {
            Some(sp) => {
                if sp.is_none() {
                    *sp = Spool::open(&dir).ok();
                    opened_here = sp.is_some();
                }
                sp.as_ref().and_then(|sp| sp.found(id))
            }
            None => None,
        };
        if let Some(slot) = found {
            // Lines written after the last commit are taken again from the spool.
            let st = rfs::statat(&dir, "current", rfs::AtFlags::SYMLINK_NOFOLLOW);
            if let Some(size) = st.ok().and_then(|st| {
                slot.cut(
                    (st.st_dev, st.st_ino),
                    u64::try_from(st.st_size).unwrap_or(0),
                )
            }) {
                retry(&dir, name, wait, "unable to truncate current", |d| {
                    let flags = OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
                    rfs::ftruncate(rfs::openat(d, "current", flags, Mode::empty())?, size)
                })?;
            }
        }
        let mut fresh = true;
        // The entry itself: a symlink is not followed here either (and then fails to open).
        match rfs::statat(&dir, "current", rfs::AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if st.st_size > 0 && st.st_mode & 0o100 == 0 => {
                // Not closed cleanly: keep it as an unfinished file.
                let saved = saved_name(&dir, b'u');
                retry(&dir, name, wait, "unable to rename current", |d| {
                    rfs::renameat(d, "current", d, saved.as_str())
                })?;
                remove_oldest(&dir, name, cfg.nmax, None, verbose, wait)?;
            }
            Ok(_) => fresh = false,
            Err(Errno::NOENT) => {}
            Err(e) => {
                warn(&sys_msg("unable to stat current", name, e));
                if opened_here {
                    if let Some(sp) = spool {
                        // Not this directory's lock any more: the next one holds the spool.
                        *sp = None;
                    }
                }
                return Ok(None);
            }
        }
        let cur = open_current(&dir, name, wait, "unable to open current")?;
        // What was opened, not what was looked at: the entry may have changed in between (a
        // symlink there, once removed, is not what gets appended to).
        let size = rfs::fstat(&cur).map_or(0, |st| u64::try_from(st.st_size).unwrap_or(0));
        let cur_id = file_id(&cur);
        if verbose {
            info(&format_args!(
                "{}: {}/current",
                if fresh { "new" } else { "append" },
                name.display()
            ));
        }
        let ld = Logdir {
            name: name.to_path_buf(),
            dir,
            _lock: lock,
            cur,
            size,
            trotate: (!cfg.tmax.is_zero()).then(|| later(Instant::now(), cfg.tmax)),
            cfg,
            processor: None,
            retry: None,
            // Grown as lines come (to about FLUSH_AT, kept after a flush): an idle logger holds
            // a few bytes, and its heap stays where start-up left it (docs/size.md).
            buf: Vec::new(),
            verbose,
            id,
            cur_id,
            spool: None,
            end: 0,
            skip_until: 0,
        };
        Ok(Some(ld))
    }

    /// The directory's (dev, inode).
    pub fn id(&self) -> FileId {
        self.id
    }

    /// `current`'s (dev, inode) and size.
    pub fn current(&self) -> (FileId, u64) {
        (self.cur_id, self.size)
    }

    /// Takes slot `slot` of `spool`: this directory has every line up to `end`.
    pub fn attach(&mut self, spool: Rc<RefCell<Spool>>, slot: usize, end: u64) {
        self.spool = Some((spool, slot));
        self.end = end;
    }

    /// Records in the spool what this directory holds (after a write or a rotation).
    fn commit(&self) {
        if let Some((sp, slot)) = &self.spool {
            sp.borrow_mut()
                .commit(*slot, self.end, self.cur_id, self.size);
        }
    }

    /// Appends one record, rotating first if it would not fit in `s`
    /// (docs/runit-compatibility.md#svlogd-rotation, but whole lines: see the module doc), and
    /// after it if `current` is within `len` of `s`. The record takes the input up to spool offset
    /// `end` (a commit before it is buffered must not say so, one after it must).
    pub fn write_record(
        &mut self,
        rec: &[u8],
        end: u64,
        linemax: u64,
        wait: PauseWait<'_>,
    ) -> Result<(), Stop> {
        let max = self.cfg.size;
        let len = |b: &[u8]| u64::try_from(b.len()).unwrap_or(u64::MAX);
        if max > 0 && self.size > 0 && self.size.saturating_add(len(rec)) > max {
            self.rotate(wait)?;
        }
        let mut rest = rec;
        while max > 0 && self.size.saturating_add(len(rest)) > max {
            // One record longer than `s`: split it at the limit (`size` is below `max` here:
            // a rotation leaves it 0, and only this loop brings it to `max`).
            let room = usize::try_from(max.saturating_sub(self.size))
                .unwrap_or(usize::MAX)
                .min(rest.len());
            self.buf.extend_from_slice(&rest[..room]);
            self.size = max;
            rest = &rest[room..];
            self.rotate(wait)?;
        }
        self.buf.extend_from_slice(rest);
        self.size = self.size.saturating_add(len(rest));
        self.end = end;
        if self.buf.len() >= FLUSH_AT {
            self.flush(wait)?;
        }
        if max > 0 && max >= linemax && rec.last() == Some(&b'\n') && self.size >= max - linemax {
            self.rotate(wait)?;
        }
        Ok(())
    }

    /// Writes out the buffer; on a full disk applies `N`, otherwise pauses and retries.
    pub fn flush(&mut self, wait: PauseWait<'_>) -> Result<(), Stop> {
        let mut off = 0;
        while off < self.buf.len() {
            match rustix::io::write(&self.cur, &self.buf[off..]) {
                Ok(n) => off += n,
                Err(Errno::INTR | Errno::AGAIN) => {}
                Err(e) => {
                    // The spool's copy goes first: svlog holds it in memory meanwhile.
                    if e == Errno::NOSPC
                        && self
                            .spool
                            .as_ref()
                            .is_some_and(|(sp, _)| sp.borrow_mut().release())
                    {
                        continue;
                    }
                    if e == Errno::NOSPC && self.cfg.nmin < self.cfg.nmax && self.delete_for_space()
                    {
                        continue;
                    }
                    // Keep what is written out of the buffer: a retry must not duplicate it.
                    self.buf.drain(..off);
                    off = 0;
                    pausing(&sys_msg("unable to write to current", &self.name, e));
                    wait()?;
                }
            }
        }
        self.buf.clear();
        self.commit();
        Ok(())
    }

    /// On ENOSPC with `N` < `n`: delete the oldest saved file while more than `N` exist.
    fn delete_for_space(&mut self) -> bool {
        let Ok(list) = rfs::Dir::read_from(&self.dir) else {
            return false;
        };
        let (count, oldest) = saved_files(&self.dir, list, None);
        match oldest {
            Some(old) if count > self.cfg.nmin => {
                warn(&format_args!(
                    "out of disk space, delete: {}/{old}",
                    self.name.display()
                ));
                rfs::unlinkat(&self.dir, old.as_str(), rfs::AtFlags::empty()).is_ok()
            }
            _ => false,
        }
    }

    /// Rotates `current` if it is not empty: flush, fsync, mode 0744, rename to `@….s` (`.u`
    /// with a processor), new `current`, delete the oldest, start the processor.
    pub fn rotate(&mut self, wait: PauseWait<'_>) -> Result<(), Stop> {
        // As svlogd, the `t` schedule moves only when it has expired: other rotations (size,
        // ALRM) do not push it back.
        let now = Instant::now();
        if !self.cfg.tmax.is_zero() && self.trotate.is_none_or(|t| t <= now) {
            self.trotate = Some(later(now, self.cfg.tmax));
        }
        if self.size == 0 {
            return Ok(());
        }
        self.flush(wait)?;
        self.finish_processor(wait)?;
        let (dir, name, cur) = (&self.dir, self.name.as_path(), &self.cur);
        retry(dir, name, wait, "unable to fsync current logfile", |_| {
            rfs::fsync(cur)
        })?;
        retry(dir, name, wait, "unable to set mode of current", |_| {
            rfs::fchmod(cur, Mode::from_raw_mode(0o744))
        })?;
        let saved = saved_name(
            &self.dir,
            if self.cfg.processor.is_some() {
                b'u'
            } else {
                b's'
            },
        );
        if self.verbose {
            info(&format!(
                "rename: {}/current {saved} {}",
                self.name.display(),
                self.size
            ));
        }
        retry(
            &self.dir,
            &self.name,
            wait,
            "unable to rename current",
            |d| rfs::renameat(d, "current", d, saved.as_str()),
        )?;
        self.cur = open_current(&self.dir, &self.name, wait, "unable to create new current")?;
        self.cur_id = file_id(&self.cur);
        self.size = 0;
        self.commit();
        remove_oldest(
            &self.dir,
            &self.name,
            self.cfg.nmax,
            Some(&saved),
            self.verbose,
            wait,
        )?;
        if self.cfg.processor.is_some() {
            self.start_processor(saved);
        }
        Ok(())
    }

    /// `/bin/sh -c CMD` with stdin `@X.u`, stdout `@X.t`, fd 4 `state`, fd 5 `newstate`, in the
    /// log directory. If a file cannot be opened (svlogd's words for which) or the processor
    /// cannot be started, it is tried again like a processor that failed.
    fn start_processor(&mut self, unfinished: String) {
        let Some(cmd) = self.cfg.processor.clone() else {
            return;
        };
        let out_name = format!("{}t", &unfinished[..SAVED_LEN - 1]);
        let ro = OFlags::RDONLY | PRIVATE;
        let trunc = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | PRIVATE;
        let mode = Mode::from_raw_mode(0o644);
        let dir = &self.dir;
        let open = |what: &'static str, file: &str, flags: OFlags| {
            rfs::openat(dir, file, flags, mode).map_err(|e| (what, e))
        };
        let files = (|| -> Result<[OwnedFd; 4], (&'static str, Errno)> {
            let input = open("unable to open input for processor", &unfinished, ro)?;
            let output = open("unable to open output for processor", &out_name, trunc)?;
            let state = match open("unable to open state for processor", "state", ro) {
                Err((_, Errno::NOENT)) => {
                    drop(open(
                        "unable to create empty state for processor",
                        "state",
                        trunc,
                    )?);
                    open("unable to open state for processor", "state", ro)?
                }
                r => r?,
            };
            let newstate = open("unable to open newstate for processor", "newstate", trunc)?;
            Ok([input, output, state, newstate])
        })();
        let files = match files {
            Ok(f) => f,
            Err((what, e)) => {
                warn(&sys_msg(what, &self.name, e));
                let _ = rfs::unlinkat(&self.dir, out_name.as_str(), rfs::AtFlags::empty());
                self.processor_later(unfinished);
                return;
            }
        };
        // Out of the way of the targets 0, 1, 4 and 5, so that no dup2 clobbers another source.
        let files: Vec<OwnedFd> = match files
            .iter()
            .map(|f| rustix::io::fcntl_dupfd_cloexec(f, HIGH_FD))
            .collect()
        {
            Ok(f) => f,
            Err(e) => {
                warn(&sys_msg(
                    "unable to move filedescriptor for processor",
                    &self.name,
                    e,
                ));
                self.processor_later(unfinished);
                return;
            }
        };
        let diag = Diag::new(PROG);
        let shown = self.name.display();
        let failure = diag.head(
            Kind::Fatal,
            &format_args!("unable to run processor: {shown}"),
        );
        let Ok(mut c) = herd_sys::Command::new("/bin/sh", failure) else {
            return;
        };
        if c.arg0("sh")
            .and_then(|()| c.set_args([OsStr::new("-c"), &cmd]))
            .is_err()
        {
            return;
        }
        c.current_dir_fd(
            self.dir.as_fd(),
            diag.head(
                Kind::Fatal,
                &format_args!("unable to change directory: {shown}"),
            ),
        );
        c.stdin(files[0].as_fd());
        c.stdout(files[1].as_fd());
        c.fd(files[2].as_fd(), 4);
        c.fd(files[3].as_fd(), 5);
        if self.verbose {
            info(&format_args!(
                "processing: {}/{unfinished}",
                self.name.display()
            ));
        }
        match c.spawn() {
            Ok(pid) => self.processor = Some((pid, unfinished)),
            Err(e) => {
                warn(&sys_msg(
                    "unable to fork for processor",
                    &self.name,
                    Errno::from_raw_os_error(e as i32),
                ));
                self.processor_later(unfinished);
            }
        }
    }

    /// Runs the processor on `unfinished` again after [`PROCESSOR_RETRY`].
    fn processor_later(&mut self, unfinished: String) {
        self.retry = Some((
            herd_value::later(Instant::now(), PROCESSOR_RETRY),
            unfinished,
        ));
    }

    /// Whether `pid` is this directory's processor.
    pub fn owns(&self, pid: nix::unistd::Pid) -> bool {
        self.processor.as_ref().is_some_and(|(p, _)| *p == pid)
    }

    /// After the processor exited with `ok`: keep its output as `.s`, or discard it and run again.
    pub fn processor_done(&mut self, ok: bool) {
        let Some((_, unfinished)) = self.processor.take() else {
            return;
        };
        let stem = &unfinished[..SAVED_LEN - 1];
        let (t, s) = (format!("{stem}t"), format!("{stem}s"));
        let none = rfs::AtFlags::empty();
        if !ok {
            warn(&format_args!(
                "processor failed, restart: {}",
                self.name.display()
            ));
            let _ = rfs::unlinkat(&self.dir, t.as_str(), none);
            self.retry = Some((later(Instant::now(), PROCESSOR_RETRY), unfinished));
            return;
        }
        let d = &self.dir;
        if rfs::renameat(d, t.as_str(), d, s.as_str()).is_ok() {
            // Through a descriptor: chmod by name would follow a symlink put there meanwhile.
            if let Ok(fd) = rfs::openat(d, s.as_str(), OFlags::RDONLY | PRIVATE, Mode::empty()) {
                let _ = rfs::fchmod(&fd, Mode::from_raw_mode(0o744));
            }
            let _ = rfs::unlinkat(d, unfinished.as_str(), none);
            let _ = rfs::renameat(d, "newstate", d, "state");
            if self.verbose {
                info(&format_args!("processed: {}/{s}", self.name.display()));
            }
        }
    }

    /// Starts the processor again on its `.u` if its retry is due.
    pub fn retry_due(&mut self, now: Instant) {
        if self.processor.is_none() && self.retry.as_ref().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, unfinished)) = self.retry.take() {
                self.start_processor(unfinished);
            }
        }
    }

    /// Waits for the running processor (svlogd runs one at a time per directory); a failed one
    /// waiting for its retry gets one more run now. A second failure leaves its `.u` in place.
    pub fn finish_processor(&mut self, _wait: PauseWait<'_>) -> Result<(), Stop> {
        for _ in 0..2 {
            if self.processor.is_none() {
                match self.retry.take() {
                    Some((_, unfinished)) => self.start_processor(unfinished),
                    None => return Ok(()),
                }
            }
            if let Some((pid, _)) = self.processor.clone() {
                let ok = herd_sys::process::wait_for(pid) == Some(herd_status::Exit::Code(0));
                self.processor_done(ok);
            }
        }
        self.retry = None;
        Ok(())
    }

    /// Flush, fsync, mode 0744, as at exit and on HUP.
    pub fn close(&mut self, wait: PauseWait<'_>) -> Result<(), Stop> {
        if self.verbose {
            info(&format_args!("close: {}", self.name.display()));
        }
        self.flush(wait)?;
        self.finish_processor(wait)?;
        let _ = rfs::fsync(&self.cur);
        let _ = rfs::fchmod(&self.cur, Mode::from_raw_mode(0o744));
        Ok(())
    }

    /// Sends a UDP copy; a failure is written into the log, as svlogd does.
    pub fn send_udp(
        &mut self,
        sock: Option<&UdpSocket>,
        msg: &[u8],
        linemax: u64,
        wait: PauseWait<'_>,
    ) -> Result<(), Stop> {
        let Some(target) = self.cfg.udp else {
            return Ok(());
        };
        let sent = sock.map(|s| s.send_to(msg, target));
        let what = match sent {
            Some(Ok(n)) if n == msg.len() => return Ok(()),
            Some(_) => "failure sending through udp",
            None => "no udp socket available",
        };
        // The record is `warning: WHAT: ` and the line, without svlogd's prefix.
        let mut rec = Diag::bare().head(Kind::Warning, &what);
        rec.extend_from_slice(msg);
        // Part of the line's record, which follows it: the input it takes is not done yet.
        self.write_record(&rec, self.end, linemax, wait)
    }

    /// The selection of `line` by this directory's patterns.
    pub fn select(&self, line: &[u8]) -> pattern::Selection {
        pattern::select(&self.cfg.rules, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> (Config, Vec<String>) {
        let mut w = Vec::new();
        (Config::parse(text.as_bytes(), &mut w), w)
    }

    #[test]
    fn config_numbers() {
        let (c, w) = parse("s10k\nn3\nN1\nt5m\nu127.0.0.1:70000\nu10.0.0.1\n");
        assert_eq!((c.size, c.nmax, c.nmin), (10_240, 3, 1));
        assert_eq!(c.tmax, Duration::from_secs(300));
        assert_eq!(c.udp, Some("10.0.0.1:514".parse().expect("address")));
        assert_eq!(w, ["unable to scan port number: 70000"]);
        // Huge values saturate (svlogd's C wraps around); never a panic.
        let (c, w) = parse("t9223372036854775807\ns99999999999999999999\nn99999999999999999999\n");
        assert_eq!(c.tmax, herd_value::MAX_DURATION);
        assert_eq!((c.size, c.nmax), (u64::MAX, u64::from(u32::MAX)));
        assert!(w.is_empty());
        let (_, w) = parse("u1.2.3:9\nU1.2.3.4:\n");
        assert_eq!(
            w,
            [
                "unable to scan ip address: 1.2.3:9",
                "unable to scan port number: "
            ]
        );
    }

    /// One config line as the model sees it.
    #[derive(Debug, Clone)]
    enum Line {
        Size(u64, &'static str),
        Keep(u64),
        Min(u64),
        Time(u64, &'static str),
        Rule(u8, Vec<u8>),
        Other(Vec<u8>),
    }

    fn line() -> impl Strategy<Value = Line> {
        let unit = || prop::sample::select(vec!["", "k", "m", "h", "x"]);
        let text = || {
            prop::collection::vec(
                any::<u8>().prop_filter("no newline", |&b| b != b'\n'),
                0..12,
            )
        };
        prop_oneof![
            (any::<u64>(), unit()).prop_map(|(n, u)| Line::Size(n, u)),
            any::<u64>().prop_map(Line::Keep),
            any::<u64>().prop_map(Line::Min),
            (any::<u64>(), unit()).prop_map(|(n, u)| Line::Time(n, u)),
            (prop::sample::select(b"+-eE".to_vec()), text()).prop_map(|(k, p)| Line::Rule(k, p)),
            text().prop_map(|t| Line::Other([b"#".to_vec(), t].concat())),
        ]
    }

    proptest! {
        #[test]
        fn prop_config_any_bytes(text in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut w = Vec::new();
            let c = Config::parse(&text, &mut w);
            prop_assert!(c.tmax <= herd_value::MAX_DURATION);
        }

        /// The last line of each kind wins; rules are kept in order; the numbers are runit's
        /// leading digits with their units, saturating.
        #[test]
        fn prop_config_agrees_with_model(lines in prop::collection::vec(line(), 0..12)) {
            let mut text = Vec::new();
            let mut want = Config::default();
            for l in &lines {
                let sat = |n: u64, f: u64| n.saturating_mul(f);
                match l {
                    Line::Size(n, u) => {
                        text.extend(format!("s{n}{u}").bytes());
                        want.size = match *u { "k" => sat(*n, 1024), "m" => sat(*n, 1 << 20), _ => *n };
                    }
                    Line::Keep(n) => {
                        text.extend(format!("n{n}").bytes());
                        want.nmax = (*n).min(u64::from(u32::MAX));
                    }
                    Line::Min(n) => {
                        text.extend(format!("N{n}").bytes());
                        want.nmin = (*n).min(u64::from(u32::MAX));
                    }
                    Line::Time(n, u) => {
                        text.extend(format!("t{n}{u}").bytes());
                        let secs = match *u { "m" => sat(*n, 60), "h" => sat(*n, 3600), _ => *n };
                        want.tmax = Duration::from_secs(secs.min(herd_value::MAX_SECONDS));
                    }
                    Line::Rule(k, p) => {
                        text.push(*k);
                        text.extend(p);
                        want.rules.push([&[*k][..], p].concat());
                    }
                    Line::Other(t) => text.extend(t),
                }
                text.push(b'\n');
            }
            let mut w = Vec::new();
            let c = Config::parse(&text, &mut w);
            prop_assert_eq!((c.size, c.nmax, c.nmin, c.tmax), (want.size, want.nmax, want.nmin, want.tmax));
            prop_assert_eq!(c.rules, want.rules);
            prop_assert!(w.is_empty());
        }
    }
}
