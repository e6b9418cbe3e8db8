//! Users and groups read from `/etc/passwd` and `/etc/group` of the current root, with no NSS,
//! so that a static chpst works in a `FROM scratch` image and after `-/` (chroot).
//! Spec: docs/runit-compatibility.md#chpst-options (`-u`, `-U` and their `:uid:gid` numeric form).

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

/// A user or group id: `herd_value::id` (digits, 0 to 2^32 - 2; anything else is refused,
/// where runit's C would wrap 4294967296 around to 0, root).
fn number(field: &[u8]) -> Option<u32> {
    herd_value::id(field).ok()
}

/// The passwd entry of `name`.
pub fn passwd(name: &OsStr) -> Result<Option<Passwd>, LookupError> {
    Ok(passwd_in(&read("/etc/passwd")?, name))
}

/// The entry of `name` in the text of a passwd file.
fn passwd_in(text: &[u8], name: &OsStr) -> Option<Passwd> {
    records(text).find_map(|f| {
        if f.len() < 7 || f[0] != name.as_bytes() {
            return None;
        }
        Some(Passwd {
            name: OsString::from_vec(f[0].to_vec()),
            uid: number(f[2])?,
            gid: number(f[3])?,
            home: OsString::from_vec(f[5].to_vec()),
        })
    })
}

/// The gid of group `name`.
pub fn group(name: &[u8]) -> Result<Option<u32>, LookupError> {
    Ok(group_in(&read("/etc/group")?, name))
}

/// The gid of `name` in the text of a group file.
fn group_in(text: &[u8], name: &[u8]) -> Option<u32> {
    records(text).find_map(|f| {
        if f.len() < 3 || f[0] != name {
            return None;
        }
        number(f[2])
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids() {
        let ids = ids_ext(OsStr::new(":1234:5678:91")).expect("numeric");
        assert_eq!((ids.uid, ids.gids), (1234, vec![5678, 91]));
        // 2^32 would be root after runit's wrap-around: refused, as is (uid_t)-1.
        for bad in [
            ":4294967296:0",
            ":4294967295:0",
            ":1",
            ":1:x",
            ":-1:0",
            "::",
        ] {
            assert!(
                matches!(ids_ext(OsStr::new(bad)), Err(LookupError::Invalid)),
                "{bad}"
            );
        }
        let text = b"root:x:0:0:root:/root:/bin/sh\nweb:x:99999999999:1:w:/w:/bin/sh\n";
        assert_eq!(passwd_in(text, OsStr::new("root")).map(|p| p.uid), Some(0));
        assert_eq!(passwd_in(text, OsStr::new("web")), None);
        assert_eq!(group_in(b"wheel:x:10:a,b\n", b"wheel"), Some(10));
    }

    proptest! {
        /// The numeric form: no panic on any bytes; ids within 0..2^32-2 are read back exactly.
        #[test]
        fn prop_numeric_ids(rest in prop::collection::vec(any::<u8>(), 0..30)) {
            let spec = [b":".as_slice(), &rest].concat();
            let _ = ids_ext(OsStr::from_bytes(&spec));
        }

        #[test]
        fn prop_numeric_ids_round_trip(ids in prop::collection::vec(0..u32::MAX, 2..6)) {
            let text: Vec<String> = ids.iter().map(u32::to_string).collect();
            let spec = format!(":{}", text.join(":"));
            let got = ids_ext(OsStr::new(&spec)).expect("valid");
            prop_assert_eq!(got.uid, ids[0]);
            prop_assert_eq!(got.gids, ids[1..].to_vec());
        }

        /// passwd and group files of any bytes: no panic.
        #[test]
        fn prop_files_any_bytes(text in prop::collection::vec(any::<u8>(), 0..300), name in "[a-z]{0,3}") {
            let _ = passwd_in(&text, OsStr::new(&name));
            let _ = group_in(&text, name.as_bytes());
        }
    }
}
