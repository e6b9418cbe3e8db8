//! Finding a program as `execvp(3)` does, and the "is an executable file" test.
//!
//! [`candidates`] yields the paths `execvp` would try, in order: the name itself when it holds a
//! `/`, otherwise `DIR/NAME` for each directory of `PATH` (default `/bin:/usr/bin`, djb's and
//! runit's), an empty entry meaning the current directory. A caller that execs (chpst) tries
//! each in turn; a caller that only looks (svscan) takes the first one [`is_executable`] accepts.
//! Names and paths are bytes (`OsStr`) throughout: nothing here needs them to be UTF-8.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The search path when `PATH` is not set.
pub const DEFAULT_PATH: &str = "/bin:/usr/bin";
/// Any of the three execute bits.
const ANY_X: u32 = 0o111;

/// Whether `path` is a regular file (symlinks followed) with an execute bit for anyone, as
/// phusion's `is_exe` tests it.
pub fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & ANY_X != 0)
}

/// The paths `execvp` tries for `name`, searching this process's `PATH`.
pub fn candidates(name: &OsStr) -> Candidates {
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from(DEFAULT_PATH));
    candidates_in(name, &path)
}

/// The paths `execvp` tries for `name`, searching `path` (a `:`-separated list).
pub fn candidates_in(name: &OsStr, path: &OsStr) -> Candidates {
    let direct = name.as_bytes().contains(&b'/');
    Candidates {
        name: name.to_os_string(),
        path: if direct {
            None
        } else {
            Some(path.as_bytes().to_vec())
        },
        pos: 0,
        done: false,
    }
}

/// The first of [`candidates`] that [`is_executable`]; `None` if there is none.
pub fn find_executable(name: &OsStr) -> Option<PathBuf> {
    candidates(name).find(|p| is_executable(p))
}

/// The paths to try for one name; see [`candidates`].
#[derive(Debug, Clone)]
pub struct Candidates {
    name: OsString,
    /// `None`: the name holds a `/` and is its only candidate.
    path: Option<Vec<u8>>,
    /// Where the next `PATH` entry starts.
    pos: usize,
    done: bool,
}

impl Iterator for Candidates {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        if self.done {
            return None;
        }
        let Some(path) = &self.path else {
            self.done = true;
            return Some(PathBuf::from(&self.name));
        };
        let rest = &path[self.pos..];
        let end = rest.iter().position(|&b| b == b':');
        let dir = &rest[..end.unwrap_or(rest.len())];
        match end {
            Some(i) => self.pos += i + 1,
            None => self.done = true,
        }
        let mut candidate = if dir.is_empty() {
            b".".to_vec()
        } else {
            dir.to_vec()
        };
        candidate.push(b'/');
        candidate.extend_from_slice(self.name.as_bytes());
        Some(PathBuf::from(OsString::from_vec(candidate)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(name: &[u8], path: &[u8]) -> Vec<PathBuf> {
        candidates_in(OsStr::from_bytes(name), OsStr::from_bytes(path)).collect()
    }

    #[test]
    fn search_order() {
        assert_eq!(
            list(b"sh", b"/usr/local/bin:/bin"),
            [PathBuf::from("/usr/local/bin/sh"), PathBuf::from("/bin/sh")]
        );
        // Empty entries (leading, inner, trailing) are the current directory.
        assert_eq!(
            list(b"x", b":/a::/b:"),
            ["./x", "/a/x", "./x", "/b/x", "./x"].map(PathBuf::from)
        );
        assert_eq!(list(b"x", b""), [PathBuf::from("./x")]);
        // A name with a slash is not searched.
        assert_eq!(list(b"./run", b"/bin"), [PathBuf::from("./run")]);
        assert_eq!(list(b"/bin/sh", b"/usr/bin"), [PathBuf::from("/bin/sh")]);
        // Bytes, not text.
        assert_eq!(
            list(b"a\xffb", b"/d\xfe"),
            [PathBuf::from(OsStr::from_bytes(b"/d\xfe/a\xffb"))]
        );
    }

    #[test]
    fn executable_files_only() {
        let d = std::env::temp_dir().join(format!("herd-path-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("sub")).expect("temp dir");
        for (name, mode) in [("x", 0o700), ("o", 0o001), ("n", 0o644)] {
            let p = d.join(name);
            std::fs::write(&p, "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        std::os::unix::fs::symlink(d.join("x"), d.join("link")).expect("symlink");
        std::os::unix::fs::symlink(d.join("gone"), d.join("dangling")).expect("symlink");
        for (name, exe) in [
            ("x", true),
            ("o", true),
            ("link", true),
            ("n", false),
            ("sub", false),
            ("dangling", false),
            ("missing", false),
        ] {
            assert_eq!(is_executable(&d.join(name)), exe, "{name}");
        }
        let path = format!("{}:{}", d.join("sub").display(), d.display());
        let found = candidates_in(OsStr::new("link"), OsStr::new(&path)).find(|p| is_executable(p));
        assert_eq!(found, Some(d.join("link")));
        std::fs::remove_dir_all(&d).expect("cleanup");
    }
}
