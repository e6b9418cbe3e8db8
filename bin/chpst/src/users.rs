//! Users and groups read from `/etc/passwd` and `/etc/group` of the current root, with no NSS,
//! so that a static chpst works in a `FROM scratch` image and after `-/` (chroot).
//! Spec: runit.md §8.1 (`-u`, `-U` and their `:uid:gid` numeric form).

use std::io;

/// One `/etc/passwd` entry (the fields chpst and setuser use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
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

fn read(path: &str) -> Result<String, LookupError> {
    match std::fs::read(path) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(LookupError::Io(e)),
    }
}

/// The passwd entry of `name`.
pub fn passwd(name: &str) -> Result<Option<Passwd>, LookupError> {
    Ok(read("/etc/passwd")?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 7 || f[0] != name {
            return None;
        }
        Some(Passwd {
            name: f[0].to_string(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5].to_string(),
        })
    }))
}

/// The gid of group `name`.
pub fn group(name: &str) -> Result<Option<u32>, LookupError> {
    Ok(read("/etc/group")?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() < 3 || f[0] != name {
            return None;
        }
        f[2].parse().ok()
    }))
}

/// `initgroups`: `primary` followed by every group listing `user` as a member.
pub fn member_groups(user: &str, primary: u32) -> Result<Vec<u32>, LookupError> {
    let mut gids = vec![primary];
    for l in read("/etc/group")?.lines() {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() >= 4 && f[3].split(',').any(|m| m == user) {
            if let Ok(g) = f[2].parse() {
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
pub fn ids_ext(spec: &str) -> Result<Ids, LookupError> {
    if let Some(nums) = spec.strip_prefix(':') {
        let parts: Vec<&str> = nums.split(':').collect();
        let nums: Option<Vec<u32>> = parts
            .iter()
            .map(|p| herd_getopt::all_digits(p.as_bytes()).and_then(|n| u32::try_from(n).ok()))
            .collect();
        return match nums {
            Some(n) if n.len() >= 2 => Ok(Ids {
                uid: n[0],
                gids: n[1..].to_vec(),
            }),
            _ => Err(LookupError::Invalid),
        };
    }
    let mut parts = spec.split(':');
    let user = parts.next().unwrap_or_default();
    let pw = passwd(user)?.ok_or(LookupError::Unknown)?;
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
pub fn ids_account(name: &str) -> Result<Ids, LookupError> {
    let pw = passwd(name)?.ok_or(LookupError::Unknown)?;
    Ok(Ids {
        uid: pw.uid,
        gids: vec![pw.gid],
    })
}
