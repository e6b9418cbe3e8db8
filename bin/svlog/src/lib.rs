//! `svlog [-tttv] [-r c] [-R xyz] [-l len] [-b buflen] dir...`: runit's svlogd, losing nothing.
//! See docs/svlog.md.

#![forbid(unsafe_code)]

mod logdir;
mod pattern;
mod spool;

use std::cell::RefCell;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use herd_diag::{Diag, Reason};
use herd_getopt::Getopt;
use herd_status::Exit;
use herd_sys::signal::{self, Sig};
use herd_sys::{reap_any, timespec_until, Reaped};
use herd_tai64n::Tai64n;
use herd_value::later;
use logdir::{Logdir, Stop, PAUSE};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use spool::{Slot, Spool};

const EXIT_FAIL: u8 = 111;
const USAGE: &str = " [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...";
const VERSION: &str = "$Id: 5e55a90e0a1b35ec47fed3021453c50675ea1117 $";
const DEFAULT_LINEMAX: u64 = 1000;
const DEFAULT_BUFLEN: u64 = 1024;
/// Our read size, whatever `-b` says (it stays accepted).
const READ_SIZE: usize = 128 * 1024;
/// How long SIGTERM waits for the rest of a line in progress.
const FINISH_LINE: Duration = Duration::from_secs(1);
const HANDLED: [Sig; 4] = [Sig::SIGTERM, Sig::SIGALRM, Sig::SIGHUP, Sig::SIGCHLD];

/// How lines are stamped: one more `-t` each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamping {
    None,
    /// `-t`: the TAI64N label (`@4000…`).
    Tai64n,
    /// `-tt`: UTC, `YYYY-MM-DD_HH:MM:SS.xxxxx`.
    Utc,
    /// `-ttt`: UTC in ISO form, `YYYY-MM-DDTHH:MM:SS.xxxxx`.
    Iso,
}

impl Stamping {
    /// What one more `-t` gives (`-tttt` is `-ttt`).
    fn more(self) -> Self {
        match self {
            Stamping::None => Stamping::Tai64n,
            Stamping::Tai64n => Stamping::Utc,
            Stamping::Utc | Stamping::Iso => Stamping::Iso,
        }
    }
}

struct Opts {
    stamping: Stamping,
    replace_char: Option<u8>,
    replace: Vec<u8>,
    linemax: u64,
    verbose: bool,
    /// The log directories, as given.
    dirs: Vec<PathBuf>,
}

/// A length from the command line as a slice length (`usize` holds any `u64` here; saturating
/// where it would not).
fn as_len(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn usage(argv0: &str) -> String {
    herd_diag::usage_line(argv0, USAGE)
}

/// `--help` for `svlog` or runit's `svlogd` (`name`, the name it was called by).
pub fn help(name: &str) -> String {
    let name = if name == "svlogd" { name } else { "svlog" };
    herd_getopt::Help {
        synopsis: USAGE,
        about:
            "Reads lines on stdin and writes them to each log directory dir, timestamped, rotated\n\
                and filtered by dir/config, as runit's svlogd does. See svlog(8).\n",
        options: &[
            ("-t", "prefix each line with a TAI64N timestamp (@4000...)"),
            (
                "-tt",
                "prefix each line with UTC time, YYYY-MM-DD_HH:MM:SS.xxxxx",
            ),
            ("-ttt", "the same, with T between date and time"),
            ("-r c", "replace characters outside 32..126 with c"),
            (
                "-R xyz",
                "also replace these characters (with _ unless -r says otherwise)",
            ),
            (
                "-l len",
                "length used for patterns and the stderr and UDP copies (default 1000)",
            ),
            (
                "-b buflen",
                "accepted for compatibility; must be greater than len",
            ),
            ("-v", "svlogd: info: messages on stderr"),
            (
                "-V",
                "print runit's version line, then the usage, on stderr (exit 111)",
            ),
        ],
    }
    .render(name)
}

/// Why svlog does not start: what to print on stderr before exiting 111, or `--help`/`--version`.
#[derive(Debug)]
enum Refusal {
    Usage(String),
    Long(herd_getopt::Long),
}

impl From<String> for Refusal {
    fn from(text: String) -> Self {
        Refusal::Usage(text)
    }
}

/// svlogd's command line.
fn parse(argv0: &str, args: &[OsString]) -> Result<Opts, Refusal> {
    let mut o = Opts {
        stamping: Stamping::None,
        replace_char: None,
        replace: Vec::new(),
        linemax: DEFAULT_LINEMAX,
        verbose: false,
        dirs: Vec::new(),
    };
    let mut buflen = DEFAULT_BUFLEN;
    let mut g = Getopt::new(args, "R:r:l:b:tvV");
    for opt in g.by_ref() {
        let opt = match opt {
            Ok(opt) => opt,
            Err(herd_getopt::Error::Long(long)) => return Err(Refusal::Long(long)),
            Err(e) => {
                // As sgetopt: the last part of argv[0].
                let base = argv0.rsplit('/').next().unwrap_or(argv0);
                return Err(format!("{base}: {e}\n{}", usage(argv0)).into());
            }
        };
        let v = opt.value.as_ref().map_or(&b""[..], |v| v.as_bytes());
        match opt.letter {
            b'R' => {
                o.replace = v.to_vec();
                o.replace_char.get_or_insert(b'_');
            }
            b'r' => match v {
                [c] => o.replace_char = Some(*c),
                _ => return Err(usage(argv0).into()),
            },
            // runit's leading digits, saturating (`herd_value::scan_size`); 0 is the default.
            b'l' => {
                o.linemax = Some(herd_value::scan_size(v))
                    .filter(|&n| n > 0)
                    .unwrap_or(DEFAULT_LINEMAX)
            }
            b'b' => {
                buflen = Some(herd_value::scan_size(v))
                    .filter(|&n| n > 0)
                    .unwrap_or(DEFAULT_BUFLEN)
            }
            b't' => o.stamping = o.stamping.more(),
            b'v' => o.verbose = true,
            _ => return Err(format!("{VERSION}\n{}", usage(argv0)).into()),
        }
    }
    o.dirs = args[g.operands()..].iter().map(PathBuf::from).collect();
    if o.dirs.is_empty() || buflen <= o.linemax {
        return Err(usage(argv0).into());
    }
    Ok(o)
}

/// Waits out one pause (3 s) on the signalfd; SIGTERM ends it with `Stop::Terminate`, other
/// signals are kept for later.
fn pause_wait(sigfd: &SignalFd, pending: &mut SigSet) -> Result<(), Stop> {
    let deadline = later(Instant::now(), PAUSE);
    loop {
        if Instant::now() >= deadline {
            return Ok(());
        }
        let ts = timespec_until(deadline);
        let mut fds = [PollFd::new(sigfd, PollFlags::IN)];
        let _ = poll(&mut fds, Some(&ts));
        let sigs = signal::drain(sigfd);
        if sigs.contains(Signal::SIGTERM) {
            return Err(Stop::Terminate);
        }
        pending.extend(sigs.iter());
    }
}

/// A line's timestamp and the space after it, on the stack (svlog takes one per read).
#[derive(Clone, Copy)]
struct Stamp {
    buf: [u8; herd_tai64n::LABEL_LEN + 1],
    len: usize,
}

impl Stamp {
    /// The time now in the form `stamping` asks for (empty for none).
    fn now(stamping: Stamping) -> Stamp {
        let now = Tai64n::from_system_time(SystemTime::now());
        let mut st = Stamp {
            buf: [0; herd_tai64n::LABEL_LEN + 1],
            len: 0,
        };
        let text: &[u8] = match stamping {
            Stamping::Tai64n => &now.label(),
            Stamping::Utc => &now.utc(false),
            Stamping::Iso => &now.utc(true),
            Stamping::None => return st,
        };
        st.buf[..text.len()].copy_from_slice(text);
        st.buf[text.len()] = b' ';
        st.len = text.len() + 1;
        st
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Opens every log directory; with `spool`, the spool too (in the first directory that can be
/// used), and each `current` is cut back to its last commit.
fn open_all(
    o: &Opts,
    sigfd: &SignalFd,
    pending: &mut SigSet,
    mut spool: Option<&mut Option<Spool>>,
) -> Result<Vec<Logdir>, Stop> {
    let mut dirs = Vec::new();
    for name in &o.dirs {
        let wait = &mut || pause_wait(sigfd, pending);
        if let Some(d) = Logdir::open(name, o.verbose, wait, spool.as_deref_mut())? {
            dirs.push(d);
        }
    }
    Ok(dirs)
}

/// The spool slots of `dirs`, each having taken the input up to its entry of `ends`.
fn slots(dirs: &[Logdir], ends: &[u64]) -> Vec<Slot> {
    dirs.iter()
        .zip(ends)
        .map(|(d, &end)| {
            let (cur, size) = d.current();
            Slot {
                dir: d.id(),
                end,
                cur,
                size,
            }
        })
        .collect()
}

/// Gives each directory its slot of the spool (at start: from what it committed before a
/// kill, the lines it has to be skipped when taken again); returns the shared spool, or `None`
/// when the directories do not fit in its header (svlog then runs without one).
fn bind_spool(mut spool: Spool, dirs: &mut [Logdir]) -> Option<Rc<RefCell<Spool>>> {
    let ends: Vec<u64> = dirs.iter().map(|d| spool.resume(d.id())).collect();
    spool.bind(slots(dirs, &ends))?;
    let spool = Rc::new(RefCell::new(spool));
    for (i, (d, &end)) in dirs.iter_mut().zip(&ends).enumerate() {
        d.attach(spool.clone(), i, end);
        d.skip_until = end;
    }
    Some(spool)
}

/// Whether stdin is a pipe (the spool needs one: `splice(2)`).
fn stdin_is_pipe() -> bool {
    rustix::fs::fstat(rustix::stdio::stdin()).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    })
}

/// Binds to the address as a value, not as the text "0.0.0.0:0": a `&str` goes through
/// `ToSocketAddrs`'s name lookup, which links glibc's resolver and NSS (about 170 KB of text)
/// into the binary for an address that is never a name.
fn udp_socket(dirs: &[Logdir]) -> Option<UdpSocket> {
    dirs.iter()
        .any(|d| d.cfg.udp.is_some())
        .then(|| UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).ok())
        .flatten()
}

/// Everything about one complete line: where it goes and how.
struct Out<'a> {
    o: &'a Opts,
    rec: Vec<u8>,
    /// Where a pause waits for signals ([`pause_wait`]).
    sigfd: &'a SignalFd,
    /// The socket UDP copies go out from (made again when the directories are reopened).
    udp: Option<UdpSocket>,
}

impl Out<'_> {
    /// Writes one complete `line`, read at `stamp`, to every log directory that selects it (and
    /// to stderr and UDP where they do); signals that come during a pause are kept in `pending`.
    /// The line ends at spool offset `end` (`u64::MAX` without a spool); a directory that
    /// already has it (taken again after a kill) is skipped.
    fn line(
        &mut self,
        line: &[u8],
        stamp: Option<&Stamp>,
        end: u64,
        dirs: &mut [Logdir],
        pending: &mut SigSet,
    ) -> Result<(), Stop> {
        let stamp = stamp.map_or(&[][..], Stamp::as_bytes);
        let sigfd = self.sigfd;
        let wait = &mut || pause_wait(sigfd, pending);
        let linemax = self.o.linemax;
        let cut = &line[..line.len().min(as_len(linemax))];
        let dots: &[u8] = if line.len() >= as_len(linemax) {
            b"..."
        } else {
            b""
        };
        for d in dirs.iter_mut() {
            if end <= d.skip_until {
                continue;
            }
            let sel = d.select(cut);
            let copies = sel.stderr || (sel.file && d.cfg.udp.is_some());
            if copies {
                // The stderr and UDP copies: cut to `len`, with `...` when cut.
                self.rec.clear();
                for part in [stamp, &d.cfg.prefix, cut, dots, b"\n"] {
                    self.rec.extend_from_slice(part);
                }
            }
            if sel.stderr {
                let _ = rustix::io::write(rustix::stdio::stderr(), &self.rec);
            }
            if !sel.file {
                d.end = end;
                continue;
            }
            if d.cfg.udp.is_some() {
                let msg = std::mem::take(&mut self.rec);
                d.send_udp(self.udp.as_ref(), &msg, linemax, wait)?;
                self.rec = msg;
            }
            if !d.cfg.udp_only {
                self.rec.clear();
                for part in [stamp, &d.cfg.prefix, line, b"\n"] {
                    self.rec.extend_from_slice(part);
                }
                let rec = std::mem::take(&mut self.rec);
                d.write_record(&rec, end, linemax, wait)?;
                self.rec = rec;
            } else {
                d.end = end;
            }
        }
        Ok(())
    }
}

/// The tool, called with `argv` (`argv[0]` is the name it was called by).
pub fn main(argv: Vec<OsString>) -> u8 {
    let argv0 = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "svlog".into());
    let o = match parse(&argv0, argv.get(1..).unwrap_or(&[])) {
        Ok(o) => o,
        Err(Refusal::Usage(text)) => {
            herd_diag::emit(text);
            return EXIT_FAIL;
        }
        Err(Refusal::Long(long)) => {
            let name = argv0.rsplit('/').next().unwrap_or_default();
            let diag = Diag::new(logdir::PROG);
            return herd_getopt::answer(long, &help(name), &diag);
        }
    };
    let sigfd = match signal::block(&HANDLED).and_then(|_| signal::signal_fd(&HANDLED)) {
        Ok(fd) => fd,
        Err(e) => {
            Diag::new(logdir::PROG).fatal(&format_args!(
                "unable to set up signals: {}",
                Reason(e as i32)
            ));
            return EXIT_FAIL;
        }
    };
    let _ = rustix::io::ioctl_fionbio(rustix::stdio::stdin(), true);
    // Err(Stop::Terminate): SIGTERM while paused, a clean exit.
    run(&o, &sigfd).unwrap_or(0)
}

/// The line being read: its bytes so far and the time its first byte was read.
struct Input {
    line: Vec<u8>,
    stamp: Option<Stamp>,
}

impl Input {
    /// Takes `bytes` of input, which start at spool offset `base` (`None`: not in the spool, so
    /// every line they end takes the whole spool); writes each line they complete. Returns
    /// whether one was.
    fn feed(
        &mut self,
        bytes: &[u8],
        base: Option<u64>,
        spool: Option<&Rc<RefCell<Spool>>>,
        out: &mut Out<'_>,
        dirs: &mut [Logdir],
        pending: &mut SigSet,
    ) -> Result<bool, Stop> {
        let o = out.o;
        let chunk_stamp = Stamp::now(o.stamping);
        let mut done_line = false;
        for (i, &b) in bytes.iter().enumerate() {
            if self.line.is_empty() && self.stamp.is_none() {
                self.stamp = Some(chunk_stamp);
            }
            if b == b'\n' {
                let end = match base {
                    Some(base) => base + i as u64 + 1,
                    None => spool_end(spool),
                };
                out.line(&self.line, self.stamp.as_ref(), end, dirs, pending)?;
                self.line.clear();
                self.stamp = None;
                done_line = true;
                continue;
            }
            let b = match o.replace_char {
                Some(r) if !(32..=126).contains(&b) || o.replace.contains(&b) => r,
                _ => b,
            };
            self.line.push(b);
        }
        Ok(done_line)
    }

    /// Writes the line in progress, if any (at the end of input, or when SIGTERM gives up on
    /// its end), with a newline; it takes the whole spool.
    fn finish(
        &mut self,
        spool: Option<&Rc<RefCell<Spool>>>,
        out: &mut Out<'_>,
        dirs: &mut [Logdir],
        pending: &mut SigSet,
    ) -> Result<(), Stop> {
        if !self.line.is_empty() {
            let end = spool_end(spool);
            out.line(&self.line, self.stamp.as_ref(), end, dirs, pending)?;
            self.line.clear();
            self.stamp = None;
        }
        Ok(())
    }
}

/// The offset a line ends at when its end is not in the spool: the spool's end (all of it is
/// taken), or without a spool a value that no directory skips.
fn spool_end(spool: Option<&Rc<RefCell<Spool>>>) -> u64 {
    spool.map_or(u64::MAX, |sp| sp.borrow().end())
}

/// Flushes every directory (each commits), then cuts the spool back if all is taken.
fn flush_all(
    dirs: &mut [Logdir],
    spool: Option<&Rc<RefCell<Spool>>>,
    sigfd: &SignalFd,
    pending: &mut SigSet,
) -> Result<(), Stop> {
    for d in dirs.iter_mut() {
        d.flush(&mut || pause_wait(sigfd, pending))?;
    }
    if let Some(sp) = spool {
        sp.borrow_mut().settle();
    }
    Ok(())
}

/// Reads `buf.len()` bytes of the spool at `at`; a failure pauses and retries as svlogd does.
fn read_spool(
    sp: &Rc<RefCell<Spool>>,
    buf: &mut [u8],
    at: u64,
    sigfd: &SignalFd,
    pending: &mut SigSet,
) -> Result<(), Stop> {
    loop {
        match sp.borrow().read_at(buf, at) {
            Ok(()) => return Ok(()),
            Err(e) => logdir::pausing(&format_args!(
                "unable to read {}: {}",
                spool::SPOOL,
                Reason(e.raw_os_error())
            )),
        }
        pause_wait(sigfd, pending)?;
    }
}

/// At a clean exit: the spool goes if everything in it was taken.
fn remove_spool(spool: Option<Rc<RefCell<Spool>>>, dirs: Vec<Logdir>) {
    drop(dirs);
    if let Some(sp) = spool.and_then(|sp| Rc::try_unwrap(sp).ok()) {
        sp.into_inner().remove();
    }
}

fn run(o: &Opts, sigfd: &SignalFd) -> Result<u8, Stop> {
    let mut pending = SigSet::empty();
    let mut found: Option<Spool> = None;
    let spooling = stdin_is_pipe() && o.dirs.len() <= spool::MAX_SLOTS;
    let mut dirs = open_all(o, sigfd, &mut pending, spooling.then_some(&mut found))?;
    if dirs.is_empty() {
        Diag::new(logdir::PROG).fatal(&"no functional log directories.");
        return Ok(EXIT_FAIL);
    }
    let spool = found.and_then(|sp| bind_spool(sp, &mut dirs));
    let mut out = Out {
        o,
        rec: Vec::with_capacity(4096),
        sigfd,
        udp: udp_socket(&dirs),
    };
    let mut inbuf = vec![0u8; READ_SIZE];
    let mut input = Input {
        // Grown as lines need it: `-l` may be as large as 2^64 - 2.
        line: Vec::with_capacity(as_len(o.linemax).min(READ_SIZE)),
        stamp: None,
    };
    let mut term_deadline: Option<Instant> = None;
    let mut eof = false;

    // What a killed svlog left in the spool is taken first: each directory from its last commit.
    if let Some(sp) = &spool {
        let len = sp.borrow().end();
        let mut at = dirs
            .iter()
            .map(|d| d.end)
            .min()
            .unwrap_or(len)
            .max(sp.borrow().start());
        while at < len {
            let n = ((len - at) as usize).min(READ_SIZE);
            read_spool(sp, &mut inbuf[..n], at, sigfd, &mut pending)?;
            input.feed(
                &inbuf[..n],
                Some(at),
                Some(sp),
                &mut out,
                &mut dirs,
                &mut pending,
            )?;
            at += n as u64;
        }
        for d in dirs.iter_mut() {
            d.skip_until = 0;
        }
        flush_all(&mut dirs, Some(sp), sigfd, &mut pending)?;
    }

    loop {
        // Signals first (also those that arrived during a pause).
        let mut sigs = std::mem::replace(&mut pending, SigSet::empty());
        sigs.extend(signal::drain(sigfd).iter());
        // svlogd's order: rotate (ALRM) before reopening (HUP).
        for s in [
            Signal::SIGTERM,
            Signal::SIGALRM,
            Signal::SIGHUP,
            Signal::SIGCHLD,
        ] {
            if !sigs.contains(s) {
                continue;
            }
            match s {
                Signal::SIGTERM => {
                    if o.verbose {
                        logdir::info(&"sigterm received.");
                    }
                    term_deadline.get_or_insert(later(Instant::now(), FINISH_LINE));
                }
                Signal::SIGALRM => {
                    if o.verbose {
                        logdir::info(&"sigalarm received.");
                    }
                    for d in dirs.iter_mut() {
                        d.rotate(&mut || pause_wait(sigfd, &mut pending))?;
                    }
                }
                Signal::SIGHUP => {
                    if o.verbose {
                        logdir::info(&"sighangup received.");
                    }
                    for d in dirs.iter_mut() {
                        d.close(&mut || pause_wait(sigfd, &mut pending))?;
                    }
                    // Every directory has taken the input up to the same line.
                    let end = dirs.iter().map(|d| d.end).min();
                    dirs.clear();
                    dirs = open_all(o, sigfd, &mut pending, None)?;
                    if dirs.is_empty() {
                        Diag::new(logdir::PROG).fatal(&"no functional log directories.");
                        remove_spool(spool, dirs);
                        return Ok(EXIT_FAIL);
                    }
                    if let (Some(sp), Some(end)) = (&spool, end) {
                        let ends = vec![end; dirs.len()];
                        if sp.borrow_mut().bind(slots(&dirs, &ends)).is_some() {
                            for (i, d) in dirs.iter_mut().enumerate() {
                                d.attach(sp.clone(), i, end);
                            }
                        }
                    }
                    out.udp = udp_socket(&dirs);
                }
                Signal::SIGCHLD => {
                    while let Reaped::Child(pid, exit) = reap_any() {
                        if let Some(d) = dirs.iter_mut().find(|d| d.owns(pid)) {
                            d.processor_done(exit == Exit::Code(0));
                        }
                    }
                }
                _ => {}
            }
        }
        let now = Instant::now();
        for d in dirs.iter_mut() {
            if d.trotate.is_some_and(|t| t <= now) {
                d.rotate(&mut || pause_wait(sigfd, &mut pending))?;
            }
            d.retry_due(now);
        }
        // SIGTERM ends at a line boundary, or when the line in progress does not end in time:
        // either way what was read is written.
        let terminating = term_deadline.is_some();
        let give_up = term_deadline.is_some_and(|t| now >= t);
        if eof || (terminating && (input.line.is_empty() || give_up)) {
            input.finish(spool.as_ref(), &mut out, &mut dirs, &mut pending)?;
            for d in dirs.iter_mut() {
                d.close(&mut || pause_wait(sigfd, &mut pending))?;
            }
            remove_spool(spool, dirs);
            return Ok(0);
        }

        let wake = dirs
            .iter()
            .filter_map(|d| d.trotate)
            .chain(
                dirs.iter()
                    .filter_map(|d| d.retry.as_ref().map(|(t, _)| *t)),
            )
            .chain(term_deadline)
            .min();
        let timeout = wake.map(timespec_until);
        let (ready, sig) = {
            let stdin = rustix::stdio::stdin();
            let mut fds = [
                PollFd::new(&stdin, PollFlags::IN),
                PollFd::new(sigfd, PollFlags::IN),
            ];
            let _ = poll(&mut fds, timeout.as_ref());
            (!fds[0].revents().is_empty(), !fds[1].revents().is_empty())
        };
        if sig || !ready {
            continue;
        }
        // While finishing a line for SIGTERM, take one byte at a time: what follows the line
        // stays in the pipe for the next logger.
        let want = if terminating { 1 } else { READ_SIZE };
        // Into the spool first (the bytes leave the pipe only when they are in the file), then
        // read back; without a spool, or when it cannot take them (a full disk), read directly.
        let spooled = match &spool {
            Some(sp) => {
                let at = sp.borrow().end();
                let taken = sp.borrow_mut().take(rustix::stdio::stdin(), want);
                match taken {
                    Ok(0) => {
                        eof = true;
                        continue;
                    }
                    Ok(n) => {
                        read_spool(sp, &mut inbuf[..n], at, sigfd, &mut pending)?;
                        Some((n, at))
                    }
                    Err(Errno::AGAIN | Errno::INTR) => continue,
                    Err(_) => None,
                }
            }
            None => None,
        };
        let (n, base) = match spooled {
            Some((n, at)) => (n, Some(at)),
            None => match rustix::io::read(rustix::stdio::stdin(), &mut inbuf[..want]) {
                Ok(0) => {
                    eof = true;
                    continue;
                }
                Ok(n) => (n, None),
                Err(Errno::AGAIN | Errno::INTR) => continue,
                Err(e) => {
                    logdir::warn(&format_args!(
                        "unable to read standard input: {}",
                        Reason(e.raw_os_error())
                    ));
                    eof = true;
                    continue;
                }
            },
        };
        let done_line = input.feed(
            &inbuf[..n],
            base,
            spool.as_ref(),
            &mut out,
            &mut dirs,
            &mut pending,
        )?;
        if done_line || !terminating {
            flush_all(&mut dirs, spool.as_ref(), sigfd, &mut pending)?;
        }
    }
}

#[cfg(test)]
impl Refusal {
    /// The usage text, in tests that expect one.
    fn text(self) -> Option<String> {
        match self {
            Refusal::Usage(text) => Some(text),
            Refusal::Long(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn lengths() {
        let o = parse("svlog", &args(&["-l", "10", "-b", "20", "d"])).expect("valid");
        assert_eq!(o.linemax, 10);
        // `-l x` reads as 0, the default; a huge `-l` saturates and needs a larger `-b`.
        let o = parse("svlog", &args(&["-l", "x", "d"])).expect("valid");
        assert_eq!(o.linemax, DEFAULT_LINEMAX);
        let e = parse("svlog", &args(&["-l", "99999999999999999999", "d"])).err();
        assert_eq!(e.and_then(Refusal::text), Some(usage("svlog")));
        let o = parse(
            "svlog",
            &args(&[
                "-l",
                "18446744073709551614",
                "-b",
                "99999999999999999999",
                "d",
            ]),
        )
        .expect("valid");
        assert_eq!(o.linemax, u64::MAX - 1);
        assert_eq!(
            parse("/x/svlog", &args(&["-y", "d"])).err().and_then(Refusal::text).as_deref(),
            Some("svlog: illegal option -- y\nusage: /x/svlog [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...\n\n")
        );
        // The long options stand where an option may; after `--` or as a value they do not.
        assert!(matches!(
            parse("svlogd", &args(&["-tt", "--version", "d"])),
            Err(Refusal::Long(herd_getopt::Long::Version))
        ));
        let o = parse("svlog", &args(&["-r", "x", "--", "--help"])).expect("valid");
        assert_eq!(o.dirs, [PathBuf::from("--help")]);
    }

    proptest! {
        /// Any command line: no panic; a refusal ends with the usage; an accepted one has
        /// directories and `-b` above `-l`.
        #[test]
        fn prop_any_command_line(
            words in prop::collection::vec(
                prop_oneof![
                    prop::sample::select(vec![
                        "-t", "-tt", "-v", "-V", "-l", "-b", "-r", "-R", "-x", "--", "d",
                        "99999999999999999999", "5",
                    ]).prop_map(|w| w.as_bytes().to_vec()),
                    prop::collection::vec(any::<u8>(), 0..10),
                ],
                0..8,
            )
        ) {
            use std::os::unix::ffi::OsStringExt;
            let argv: Vec<OsString> = words.into_iter().map(OsString::from_vec).collect();
            match parse("svlog", &argv) {
                Ok(o) => prop_assert!(!o.dirs.is_empty() && o.linemax > 0),
                Err(Refusal::Usage(text)) => prop_assert!(text.ends_with(&usage("svlog"))),
                Err(Refusal::Long(_)) => {}
            }
        }
    }
}
