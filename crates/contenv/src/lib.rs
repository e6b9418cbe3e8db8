//! phusion my_init's container environment
//! (docs/runit-compatibility.md#my_init-container-environment, docs/container-environment.md): the
//! directory `/etc/container_environment` with one file per variable, and its two dumps
//! `/etc/container_environment.sh` (`export NAME=VALUE` lines) and `.json`.
//!
//! Names and values are bytes throughout (`OsString`), so nothing that is not UTF-8 is lost or
//! makes us fail. Everything is written in byte order of the names. Files are rewritten in place
//! (`O_TRUNC`, never a rename) so that an existing file keeps its owner and mode, as phusion's.
//! A missing directory is not an error: it reads as empty and disables the export. This crate
//! has no policy: when to import or export, and what to do on a [`Failure`], is the caller's.

#![forbid(unsafe_code)]

mod encode;
#[cfg(test)]
mod tests;

use std::env;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use herd_diag::Reason;

pub use encode::{json_string, shell_name, shell_quote};

/// Variables that are never written to the directory or the `.sh` dump (the `.json` dump has
/// them), and that a replacing import keeps from the process environment.
pub const SKIP: [&str; 6] = ["HOME", "USER", "GROUP", "UID", "GID", "SHELL"];
/// Appended to the directory's path for the shell dump.
pub const SH_SUFFIX: &str = ".sh";
/// Appended to the directory's path for the JSON dump.
pub const JSON_SUFFIX: &str = ".json";
/// Mode of a per-variable file we create (before the umask).
pub const VAR_FILE_MODE: u32 = 0o644;
/// Mode of a directory [`ContainerEnv::create`] makes (phusion's is 0700).
pub const DIR_MODE: u32 = 0o700;
/// Mode of a `.sh` or `.json` dump we create (before the umask).
pub const DUMP_FILE_MODE: u32 = 0o640;

/// What failed, for a one-line runit-style message:
/// `unable to write /etc/container_environment/FOO: access denied`.
#[derive(Debug)]
pub struct Failure {
    /// `open directory`, `read directory`, `read`, `write` or `mkdir`.
    pub action: &'static str,
    /// The directory or file.
    pub path: PathBuf,
    /// The system error; match on its `raw_os_error()`.
    pub error: io::Error,
}

impl Failure {
    fn new(action: &'static str, path: &Path, error: io::Error) -> Self {
        Failure {
            action,
            path: path.to_path_buf(),
            error,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unable to {} {}: {}",
            self.action,
            self.path.display(),
            Reason::of(&self.error)
        )
    }
}

impl std::error::Error for Failure {}

/// Whether `name` is on the [`SKIP`] list.
pub fn is_skipped(name: &OsStr) -> bool {
    SKIP.iter().any(|s| name.as_bytes() == s.as_bytes())
}

/// Whether `name` is a file name that [`ContainerEnv::read`] would read back: not empty, no `/`,
/// and no leading `.` (which also rules out `.` and `..`).
fn is_var_file_name(name: &[u8]) -> bool {
    name.first().is_some_and(|&b| b != b'.') && !name.contains(&b'/')
}

/// Whether `setenv(3)` and `unsetenv(3)` accept the name (`std::env` panics where they do not).
fn is_env_name(name: &OsStr) -> bool {
    let n = name.as_bytes();
    !n.is_empty() && !n.contains(&b'=') && !n.contains(&0)
}

/// Whether `setenv(3)` accepts the pair.
fn is_settable(name: &OsStr, value: &OsStr) -> bool {
    is_env_name(name) && !value.as_bytes().contains(&0)
}

/// `open(2)` with `O_WRONLY|O_CREAT|O_TRUNC`, then write all of `bytes`: the file is rewritten
/// in place, so an existing one keeps its owner and mode; a new one gets `mode` minus the umask.
fn write_in_place(path: &Path, bytes: &[u8], mode: u32) -> Result<(), Failure> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| Failure::new("write", path, e))
}

/// The container environment kept in a directory such as `/etc/container_environment`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerEnv {
    dir: PathBuf,
}

impl ContainerEnv {
    /// The environment kept in `dir`; trailing slashes are dropped, so that the dumps are
    /// `DIR.sh` and `DIR.json` and not `DIR/.sh`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let mut bytes = dir.into().into_os_string().into_vec();
        while bytes.len() > 1 && bytes.ends_with(b"/") {
            bytes.pop();
        }
        ContainerEnv {
            dir: PathBuf::from(OsString::from_vec(bytes)),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut p = self.dir.clone().into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    }

    /// Makes the directory if it is missing, mode `DIR_MODE` (before the umask), with its
    /// missing parents (0755): for a directory moved to a fresh tmpfs (a read-only root).
    pub fn create(&self) -> Result<(), Failure> {
        use std::os::unix::fs::DirBuilderExt;
        let made = match self.dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => fs::create_dir_all(p),
            _ => Ok(()),
        }
        .and_then(|()| fs::DirBuilder::new().mode(DIR_MODE).create(&self.dir));
        match made {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                Err(Failure::new("mkdir", &self.dir, e))
            }
            _ => Ok(()),
        }
    }

    /// `DIR.sh`, the shell dump.
    pub fn sh_path(&self) -> PathBuf {
        self.sibling(SH_SUFFIX)
    }

    /// `DIR.json`, the JSON dump.
    pub fn json_path(&self) -> PathBuf {
        self.sibling(JSON_SUFFIX)
    }

    /// Reads the directory: (name, value) pairs sorted by the bytes of the name. Each regular
    /// file (a symlink is followed) whose name does not start with `.` is a variable; its value
    /// is the contents with one trailing `\n` removed. Other entries are skipped, and so is a
    /// file that disappears while we read. A missing directory reads as empty.
    pub fn read(&self) -> Result<Vec<(OsString, OsString)>, Failure> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Failure::new("open directory", &self.dir, e)),
        };
        let mut vars = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Failure::new("read directory", &self.dir, e))?;
            let name = entry.file_name();
            if name.as_bytes().starts_with(b".") {
                continue;
            }
            let path = entry.path();
            // The type is checked before opening: opening a FIFO for reading would block.
            match fs::metadata(&path) {
                Ok(m) if m.is_file() => {}
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Failure::new("read", &path, e)),
            }
            let mut value = Vec::new();
            match File::open(&path).and_then(|mut f| f.read_to_end(&mut value)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Failure::new("read", &path, e)),
            }
            // Editors end files with a newline; phusion drops exactly one (baseimage-docker#49).
            if value.ends_with(b"\n") {
                value.pop();
            }
            vars.push((name, OsString::from_vec(value)));
        }
        vars.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Ok(vars)
    }

    /// Start-up import into this process's environment: a variable that is already set keeps
    /// its value (Docker's `-e` wins over the image's files). Returns the names it could not
    /// set because `setenv(3)` refuses them (a `=` in the name, a NUL byte in the value).
    pub fn import_initial(&self) -> Result<Vec<OsString>, Failure> {
        let vars = self.read()?;
        let mut refused = Vec::new();
        for (name, value) in vars {
            if !is_settable(&name, &value) {
                refused.push(name);
            } else if env::var_os(&name).is_none() {
                env::set_var(&name, &value);
            }
        }
        Ok(refused)
    }

    /// After a start-up script: the directory replaces the environment. Every variable except
    /// those on the [`SKIP`] list is removed, then every variable of the directory is set, so
    /// deleting a file unsets its variable. Returns the names it could not set, as
    /// [`ContainerEnv::import_initial`]. On a read failure the environment is left as it was.
    pub fn import_replace(&self) -> Result<Vec<OsString>, Failure> {
        let vars = self.read()?;
        for (name, _) in env::vars_os() {
            // `unsetenv(3)` refuses a name with `=` (the environment can hold `=X=1`); such an
            // entry cannot be removed and stays.
            if !is_skipped(&name) && is_env_name(&name) {
                env::remove_var(&name);
            }
        }
        let mut refused = Vec::new();
        for (name, value) in vars {
            if is_settable(&name, &value) {
                env::set_var(&name, &value);
            } else {
                refused.push(name);
            }
        }
        Ok(refused)
    }

    /// Writes `vars` out, sorted by the bytes of the name (for a name given twice, the first
    /// value counts, as `getenv(3)` finds it):
    /// - if `to_dir`, `DIR/NAME` with the value as it is (no newline), for every name not on the
    ///   [`SKIP`] list that [`ContainerEnv::read`] would read back (not empty, no `/`, no
    ///   leading `.`);
    /// - `DIR.sh`: `export NAME=VALUE\n` for every name not on the [`SKIP`] list, with the name
    ///   passed through [`shell_name`] and the value through [`shell_quote`]; a name that is
    ///   still not a shell name (empty, or starting with a digit) is left out;
    /// - `DIR.json`: one JSON object with every variable (see [`json_string`]).
    ///
    /// Does nothing if the directory does not exist. Stops at the first failure.
    pub fn export(&self, vars: &[(OsString, OsString)], to_dir: bool) -> Result<(), Failure> {
        match fs::metadata(&self.dir) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Failure::new("open directory", &self.dir, e)),
        }
        let mut sorted: Vec<&(OsString, OsString)> = vars.iter().collect();
        // A stable sort keeps duplicates in their order, so dedup keeps the first.
        sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        sorted.dedup_by(|b, a| a.0 == b.0);

        let mut sh = Vec::new();
        let mut json = vec![b'{'];
        let mut shell_var = Vec::new();
        for (i, (name, value)) in sorted.iter().enumerate() {
            let (n, v) = (name.as_bytes(), value.as_bytes());
            if i > 0 {
                json.extend_from_slice(b", ");
            }
            json_string(n, &mut json);
            json.extend_from_slice(b": ");
            json_string(v, &mut json);
            if is_skipped(name) {
                continue;
            }
            if to_dir && is_var_file_name(n) {
                write_in_place(&self.dir.join(name), v, VAR_FILE_MODE)?;
            }
            shell_var.clear();
            shell_name(n, &mut shell_var);
            if encode::is_shell_name(&shell_var) {
                sh.extend_from_slice(b"export ");
                sh.extend_from_slice(&shell_var);
                sh.push(b'=');
                shell_quote(v, &mut sh);
                sh.push(b'\n');
            }
        }
        json.push(b'}');
        write_in_place(&self.sh_path(), &sh, DUMP_FILE_MODE)?;
        write_in_place(&self.json_path(), &json, DUMP_FILE_MODE)
    }

    /// [`ContainerEnv::export`] of this process's environment.
    pub fn export_process_env(&self, to_dir: bool) -> Result<(), Failure> {
        let vars: Vec<(OsString, OsString)> = env::vars_os().collect();
        self.export(&vars, to_dir)
    }
}
