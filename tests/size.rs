//! What the static release binaries must not contain (docs/size.md): glibc's resolver and NSS,
//! about 170 KB of text that every process of the tree would map, are linked into a static
//! binary as soon as something resolves a name (`ToSocketAddrs` on a `&str`, `getaddrinfo`,
//! `getpwnam`). herd never resolves names: chpst reads `/etc/passwd` itself and svlog's UDP
//! target is an address. Needs `scripts/release.sh`; it fails, never skips.

use std::fs;

use crate::dockerd::target_dir;

/// Where `scripts/release.sh` puts the static binaries, under the target dir.
const RELEASE_DIR: &str = "x86_64-unknown-linux-gnu/release";
/// Whichever of these the release build has: the multi-call binary and/or one per tool.
const CANDIDATES: [&str; 6] = ["herd", "svscan", "supervise", "sv", "svlog", "chpst"];
/// Files only glibc's resolver and NSS name: their text comes with them.
const RESOLVER_FILES: [&[u8]; 3] = [b"/etc/nsswitch.conf", b"/etc/resolv.conf", b"/etc/gai.conf"];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn release_binaries_link_no_resolver() {
    let dir = target_dir().join(RELEASE_DIR);
    let found: Vec<_> = CANDIDATES
        .iter()
        .map(|b| dir.join(b))
        .filter(|p| p.is_file())
        .collect();
    assert!(
        !found.is_empty(),
        "no release binary in {}: run scripts/release.sh first",
        dir.display()
    );
    for p in &found {
        let bytes = fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        for f in RESOLVER_FILES {
            assert!(
                !contains(&bytes, f),
                "{} links glibc's resolver or NSS (it names {})",
                p.display(),
                String::from_utf8_lossy(f)
            );
        }
    }
}
