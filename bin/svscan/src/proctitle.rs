//! runsvdir's `log` argument (runit.md §5.5): everything written to svscan's stderr (and so to
//! every supervise's and service's stderr) scrolls through that argument in place, so `ps` shows
//! the latest messages. The first five characters (`log: `) stay; the rest is a window of the
//! most recent bytes. We rewrite our own argv area through `/proc/self/mem`, which needs no
//! unsafe code; `/proc/self/stat` field 48 (`herd_sys::read_stat`) gives where argv starts.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;

/// The fixed head of the argument.
const HEAD: usize = 5;
/// Minimum length of the argument.
pub const MIN_LEN: usize = 7;

pub struct Title {
    mem: File,
    /// Address of the window (just after the fixed head).
    addr: u64,
    window: Vec<u8>,
}

impl Title {
    /// The window over argv[`index`] of this process, if its argv area can be found and written.
    pub fn new(argv: &[std::ffi::OsString], index: usize) -> Option<Title> {
        use std::os::unix::ffi::OsStrExt;
        let arg_start = herd_sys::read_stat(nix::unistd::Pid::this())?.arg_start?;
        let offset: usize = argv[..index].iter().map(|a| a.as_bytes().len() + 1).sum();
        let len = argv.get(index)?.as_bytes().len();
        let mem = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/proc/self/mem")
            .ok()?;
        let mut check = vec![0u8; len];
        mem.read_exact_at(&mut check, arg_start + offset as u64)
            .ok()?;
        if check != argv[index].as_bytes() {
            return None;
        }
        Some(Title {
            mem,
            addr: arg_start + (offset + HEAD) as u64,
            window: check[HEAD..].to_vec(),
        })
    }

    /// Shifts `data` into the window (NUL bytes dropped) and rewrites it.
    pub fn push(&mut self, data: &[u8]) {
        let bytes: Vec<u8> = data.iter().copied().filter(|&b| b != 0).collect();
        let n = self.window.len();
        let k = bytes.len();
        if k >= n {
            self.window.copy_from_slice(&bytes[k - n..]);
        } else {
            self.window.copy_within(k.., 0);
            self.window[n - k..].copy_from_slice(&bytes);
        }
        let _ = self.mem.write_all_at(&self.window, self.addr);
    }
}
