//! Users and groups read from `/etc/passwd` and `/etc/group` of the current root, with no NSS,
//! so that a static chpst works in a `FROM scratch` image and after `-/` (chroot).
//! Spec: runit.md §8.1 (`-u`, `-U` and their `:uid:gid` numeric form).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// One `/etc/passwd` entry (the fields chpst and setuser use). Names are bytes, as in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    pub name: OsString,
    pub uid: u32,
    pub gid: u32,
    pub home: OsString,
}

/// A user with the groups to run under: the first gid is the primary one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gids: Vec<u32>,
}

/// Why a user or group could not be resolved.
#[derive(Debug)]
pub enum LookupError {
    /// The spec names no known user or group.
    Unknown,
    /// A `:uid:gid…` spec that is not all numbers.
    Invalid,
    /// `/etc/passwd` or `/etc/group` could not be read.
    Io(io::Error),
}

fn read(path: &str) -> Result<Vec<u8>, LookupError> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(LookupError::Io(e)),
    }
}

/// The `:`-separated fields of each line of a passwd or group file.
fn records(text: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    text.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .map(|l| l.split(|&b| b == b':').collect())
}

/// A decimal field.
fn number(field: &[u8]) -> Option<u32> {
    herd_getopt::all_digits(field).and_then(|n| u32::try_from(n).ok())
}

/// The passwd entry of `name`.
pub fn passwd(name: &OsStr) -> Result<Option<Passwd>, LookupError> {
    Ok(records(&read("/etc/passwd")?).find_map(|f| {
        if f.len() < 7 || f[0] != name.as_bytes() {
            return None;
        }
        Some(Passwd {
            name: OsString::from_vec(f[0].to_vec()),
            uid: number(f[2])?,
            gid: number(f[3])?,
            home: OsString::from_vec(f[5].to_vec()),
        })
    }))
}

/// The gid of group `name`.
pub fn group(name: &[u8]) -> Result<Option<u32>, LookupError> {
    Ok(records(&read("/etc/group")?).find_map(|f| {
        if f.len() < 3 || f[0] != name {
            return None;
        }
        number(f[2])
    }))
}

/// `initgroups`: `primary` followed by every group listing `user` as a member.
pub fn member_groups(user: &OsStr, primary: u32) -> Result<Vec<u32>, LookupError> {
    let mut gids = vec![primary];
    for f in records(&read("/etc/group")?) {
        if f.len() >= 4 && f[3].split(|&b| b == b',').any(|m| m == user.as_bytes()) {
            if let Some(g) = number(f[2]) {
                if !gids.contains(&g) {
                    gids.push(g);
                }
            }
        }
    }
    Ok(gids)
}

/// chpst's `-u`/`-U` spec: `user[:group[:group…]]` (by name; the user's primary group when none
/// is listed) or `:uid:gid[:gid…]` (numbers, no lookup).
pub fn ids_ext(spec: &OsStr) -> Result<Ids, LookupError> {
    if let Some(nums) = spec.as_bytes().strip_prefix(b":") {
        let nums: Option<Vec<u32>> = nums.split(|&b| b == b':').map(number).collect();
        return match nums {
            Some(n) if n.len() >= 2 => Ok(Ids {
                uid: n[0],
                gids: n[1..].to_vec(),
            }),
            _ => Err(LookupError::Invalid),
        };
    }
    let mut parts = spec.as_bytes().split(|&b| b == b':');
    let user = parts.next().unwrap_or_default();
    let pw = passwd(OsStr::from_bytes(user))?.ok_or(LookupError::Unknown)?;
    let mut gids = Vec::new();
    for g in parts {
        gids.push(group(g)?.ok_or(LookupError::Unknown)?);
    }
    if gids.is_empty() {
        gids.push(pw.gid);
    }
    Ok(Ids { uid: pw.uid, gids })
}

/// `setuidgid`'s and `envuidgid`'s account: a user name only, with its primary group.
pub fn ids_account(name: &OsStr) -> Result<Ids, LookupError> {
    let pw = passwd(name)?.ok_or(LookupError::Unknown)?;
    Ok(Ids {
        uid: pw.uid,
        gids: vec![pw.gid],
    })
}
