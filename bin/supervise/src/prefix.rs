//! Prefixed logs (docs/supervise.md, "Prefixed logs"): with `SVSCAN_LOG_PREFIX` on and no `log/`,
//! the stdout and stderr of `./run` and `./finish` are two pipes that supervise holds for its whole
//! life, and it copies each line to its own stdout or stderr as `[NAME] line`.
//!
//! Invariants: every `write(2)` holds whole prefixed lines only and at most `PIPE_BUF` bytes, so
//! the lines of many supervisors sharing one pipe (a container's stdout) never interleave; a line
//! too long for that is cut into pieces, each written as its own line. The buffers are allocated
//! once, when the feature is on. Writes are blocking, like a full log pipe; a write error (EPIPE,
//! EBADF…) drops the lines. Not done here: timestamps, rate limits, the control scripts' output.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::fs::OFlags;
use rustix::io::Errno;
use rustix::pipe::PIPE_BUF;

/// The switch, inherited from svscan: on when set to a non-empty value other than `0`.
pub const ENV: &str = "SVSCAN_LOG_PREFIX";
/// Longest service name put in the prefix (`NAME_MAX`): keeps room for the line in one write.
const NAME_MAX: usize = 255;
/// Bytes read and not yet written: at least one whole piece plus room for a read.
const IN_CAP: usize = 2 * PIPE_BUF;
/// What is read per readiness when the pipe's capacity cannot be asked (Linux's default).
const DEFAULT_PIPE_SIZE: usize = 65536;

/// Whether `SVSCAN_LOG_PREFIX` asks for prefixed logs.
pub fn enabled() -> bool {
    std::env::var_os(ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// The service's name for the prefix: the last component of supervise's argument (`web` for
/// `/etc/sv/web/`), or of the directory it names when the argument has none (`.`, `..`).
pub fn service_name(dir: &OsStr) -> Vec<u8> {
    let name = Path::new(dir)
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .or_else(|| {
            let cwd = std::env::current_dir().ok()?;
            cwd.file_name().map(|n| n.as_bytes().to_vec())
        })
        .unwrap_or_else(|| dir.as_bytes().to_vec());
    name[..name.len().min(NAME_MAX)].to_vec()
}

/// Cuts a byte stream into lines and packs them, prefixed, into writes of whole lines of at most
/// `PIPE_BUF` bytes. No system calls: the writes go to `sink`.
pub struct Lines {
    /// `[NAME] `.
    prefix: Box<[u8]>,
    /// The most bytes of a line that fit in one write with the prefix and the newline.
    max: usize,
    /// Bytes read: the start of a line that has no newline yet, then the last read.
    buf: Box<[u8]>,
    len: usize,
    /// Prefixed whole lines waiting to be written.
    out: Box<[u8]>,
    out_len: usize,
}

impl Lines {
    /// Lines prefixed with `[name] ` (`name` is cut to [`NAME_MAX`] bytes).
    pub fn new(name: &[u8]) -> Self {
        let name = &name[..name.len().min(NAME_MAX)];
        let mut prefix = Vec::with_capacity(name.len() + 3);
        prefix.push(b'[');
        prefix.extend_from_slice(name);
        prefix.extend_from_slice(b"] ");
        Lines {
            max: PIPE_BUF - prefix.len() - 1,
            prefix: prefix.into_boxed_slice(),
            buf: vec![0; IN_CAP].into_boxed_slice(),
            len: 0,
            out: vec![0; PIPE_BUF].into_boxed_slice(),
            out_len: 0,
        }
    }

    /// The most bytes of one line that are written as one prefixed line; longer lines are cut.
    #[cfg(test)]
    pub fn max(&self) -> usize {
        self.max
    }

    /// Where the next read goes (never empty: an unfinished line holds at most `max` bytes).
    pub fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// Takes the `n` bytes just read into [`Lines::space`]: every complete line is packed, and
    /// an unfinished one longer than `max` gives its first pieces.
    pub fn push(&mut self, n: usize, sink: &mut impl FnMut(&[u8])) {
        self.len += n;
        let mut start = 0;
        while let Some(i) = self.buf[start..self.len].iter().position(|&b| b == b'\n') {
            let end = start + i;
            self.line(start, end, sink);
            start = end + 1;
        }
        // Cut only past `max`: a newline right after `max` bytes must not make an empty line.
        while self.len - start > self.max {
            self.piece(start, start + self.max, sink);
            start += self.max;
        }
        self.buf.copy_within(start..self.len, 0);
        self.len -= start;
    }

    /// Ends an unfinished line as if a newline had come, then writes everything packed.
    pub fn end_line(&mut self, sink: &mut impl FnMut(&[u8])) {
        if self.len > 0 {
            self.piece(0, self.len, sink);
            self.len = 0;
        }
        self.flush(sink);
    }

    /// Writes the lines packed so far (one call of `sink`).
    pub fn flush(&mut self, sink: &mut impl FnMut(&[u8])) {
        if self.out_len > 0 {
            sink(&self.out[..self.out_len]);
            self.out_len = 0;
        }
    }

    /// Packs the line `buf[from..to]` (without its newline), cut into pieces of `max` bytes.
    fn line(&mut self, mut from: usize, to: usize, sink: &mut impl FnMut(&[u8])) {
        loop {
            let end = to.min(from + self.max);
            self.piece(from, end, sink);
            from = end;
            if from >= to {
                return;
            }
        }
    }

    /// Packs `[NAME] ` + `buf[from..to]` + newline (at most `max` bytes of text).
    fn piece(&mut self, from: usize, to: usize, sink: &mut impl FnMut(&[u8])) {
        let need = self.prefix.len() + (to - from) + 1;
        if self.out_len + need > self.out.len() {
            self.flush(sink);
        }
        let Lines {
            prefix,
            buf,
            out,
            out_len,
            ..
        } = self;
        let o = &mut out[*out_len..*out_len + need];
        o[..prefix.len()].copy_from_slice(prefix);
        o[prefix.len()..need - 1].copy_from_slice(&buf[from..to]);
        o[need - 1] = b'\n';
        *out_len += need;
    }
}

/// One pipe of a service's output and the descriptor its lines are copied to.
struct Stream {
    /// Non-blocking.
    read: OwnedFd,
    /// The service's end (blocking), held so that the pipe never reads EOF.
    write: OwnedFd,
    /// supervise's stdout or stderr.
    target: BorrowedFd<'static>,
    lines: Lines,
    /// Bytes read per readiness at most (the pipe's capacity), so that a service that never
    /// stops writing cannot keep the loop from its signals and control bytes.
    budget: usize,
}

impl Stream {
    fn new(
        (read, write): (OwnedFd, OwnedFd),
        target: BorrowedFd<'static>,
        name: &[u8],
    ) -> Result<Self, Errno> {
        rustix::fs::fcntl_setfl(&read, OFlags::NONBLOCK)?;
        let budget = rustix::pipe::fcntl_getpipe_size(&read).unwrap_or(DEFAULT_PIPE_SIZE);
        Ok(Stream {
            read,
            write,
            target,
            lines: Lines::new(name),
            budget,
        })
    }

    /// Reads what the pipe holds (up to the budget) and writes the whole lines; with `end`, an
    /// unfinished last line is ended too.
    fn drain(&mut self, end: bool) {
        let target = self.target;
        let sink = &mut |bytes: &[u8]| write_all(target, bytes);
        let mut got = 0;
        while got < self.budget {
            match rustix::io::read(&self.read, self.lines.space()) {
                Ok(0) => break,
                Ok(n) => {
                    got += n;
                    self.lines.push(n, sink);
                }
                Err(Errno::INTR) => {}
                // EAGAIN: the pipe is empty.
                Err(_) => break,
            }
        }
        if end {
            self.lines.end_line(sink);
        } else {
            self.lines.flush(sink);
        }
    }
}

/// `write(2)` of all of `bytes` to `fd`, blocking (also when `fd` is non-blocking: then it waits
/// in `poll`). Errors drop the bytes: supervise must not die because its stdout went away.
fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(0) => return,
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::OUT)];
                let _ = poll(&mut fds, None);
            }
            Err(_) => return,
        }
    }
}

/// The service's stdout and stderr pipes.
pub struct Output {
    out: Stream,
    err: Stream,
}

impl Output {
    /// Prefixed output for the service `name`, from two pipes (both ends close-on-exec).
    pub fn new(
        name: &[u8],
        out: (OwnedFd, OwnedFd),
        err: (OwnedFd, OwnedFd),
    ) -> Result<Self, Errno> {
        Ok(Output {
            out: Stream::new(out, rustix::stdio::stdout(), name)?,
            err: Stream::new(err, rustix::stdio::stderr(), name)?,
        })
    }

    /// The service's stdout.
    pub fn stdout(&self) -> BorrowedFd<'_> {
        self.out.write.as_fd()
    }

    /// The service's stderr.
    pub fn stderr(&self) -> BorrowedFd<'_> {
        self.err.write.as_fd()
    }

    /// The read ends, to wait on.
    pub fn readers(&self) -> [BorrowedFd<'_>; 2] {
        [self.out.read.as_fd(), self.err.read.as_fd()]
    }

    /// Copies what is ready: `ready` says which of [`Output::readers`] polled readable.
    pub fn copy(&mut self, ready: [bool; 2]) {
        if ready[0] {
            self.out.drain(false);
        }
        if ready[1] {
            self.err.drain(false);
        }
    }

    /// Copies everything left in both pipes and ends unfinished last lines: when `./run` or
    /// `./finish` has exited, and before supervise exits.
    pub fn finish(&mut self) {
        self.out.drain(true);
        self.err.drain(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one read each, then ends the last line; returns the writes.
    fn writes(name: &str, chunks: &[&[u8]], end: bool) -> Vec<Vec<u8>> {
        let mut l = Lines::new(name.as_bytes());
        let mut seen = Vec::new();
        let sink = &mut |b: &[u8]| seen.push(b.to_vec());
        for c in chunks {
            // A read returns at most the space there is.
            let mut c: &[u8] = c;
            while !c.is_empty() {
                let n = c.len().min(l.space().len());
                l.space()[..n].copy_from_slice(&c[..n]);
                l.push(n, sink);
                c = &c[n..];
            }
            l.flush(sink);
        }
        if end {
            l.end_line(sink);
        }
        seen
    }

    #[test]
    fn whole_lines_get_the_prefix() {
        assert_eq!(
            writes("web", &[b"a\nbb\n\nc"], false),
            [b"[web] a\n[web] bb\n[web] \n".to_vec()]
        );
        assert_eq!(
            writes("web", &[b"a\nb", b"c\nd"], true),
            [
                b"[web] a\n".to_vec(),
                b"[web] bc\n".to_vec(),
                b"[web] d\n".to_vec()
            ]
        );
        assert_eq!(writes("web", &[b""], true), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn max_is_pipe_buf_less_prefix_and_newline() {
        assert_eq!(Lines::new(b"web").max(), 4096 - 6 - 1);
        assert_eq!(Lines::new(&[b'n'; 300]).max(), 4096 - 258 - 1);
    }

    #[test]
    fn long_lines_are_cut_into_pieces_of_max() {
        let max = Lines::new(b"w").max();
        let line: Vec<u8> = (0..2 * max + 10).map(|i| b'a' + (i % 26) as u8).collect();
        let mut input = line.clone();
        input.push(b'\n');
        // In one read, in reads of 1000 bytes, and in bytes one by one.
        for size in [input.len(), 1000, 1] {
            let chunks: Vec<&[u8]> = input.chunks(size).collect();
            let all: Vec<u8> = writes("w", &chunks, false).concat();
            let pieces: Vec<u8> = line
                .chunks(max)
                .flat_map(|p| [b"[w] ", p, b"\n"].concat())
                .collect();
            assert_eq!(all, pieces, "reads of {size}");
        }
    }

    #[test]
    fn a_line_of_exactly_max_is_not_cut() {
        let max = Lines::new(b"w").max();
        let mut input = vec![b'x'; max];
        for split in [max, max / 2] {
            let (a, b) = input.split_at(split);
            let mut b = b.to_vec();
            b.push(b'\n');
            let w = writes("w", &[a, &b], false);
            assert_eq!(
                w.concat(),
                [b"[w] ".to_vec(), input.clone(), b"\n".to_vec()].concat()
            );
        }
        input.push(b'y');
        let w = writes("w", &[&input], true);
        assert_eq!(w.concat(), [b"[w] ", &input[..max], b"\n[w] y\n"].concat());
    }

    #[test]
    fn every_write_is_whole_lines_of_at_most_pipe_buf() {
        let text: Vec<u8> = (0..5000)
            .flat_map(|i| format!("line {i} {}\n", "x".repeat(i % 97)).into_bytes())
            .collect();
        let chunks: Vec<&[u8]> = text.chunks(4093).collect();
        let w = writes("svc", &chunks, false);
        for b in &w {
            assert!(b.len() <= PIPE_BUF, "{}", b.len());
            assert!(b.starts_with(b"[svc] ") && b.ends_with(b"\n"));
        }
        let lines: Vec<u8> = text
            .split_inclusive(|&b| b == b'\n')
            .flat_map(|l| [b"[svc] ", l].concat())
            .collect();
        assert_eq!(w.concat(), lines);
    }

    #[test]
    fn name_is_the_last_component() {
        let name = |d: &str| service_name(OsStr::new(d));
        assert_eq!(name("web"), b"web");
        assert_eq!(name("/etc/sv/web/"), b"web");
        assert_eq!(name("sv/web/."), b"web");
        assert_eq!(name(&"n".repeat(300)).len(), NAME_MAX);
        assert_eq!(service_name(OsStr::from_bytes(b"sv/a\xffb")), b"a\xffb");
    }
}
