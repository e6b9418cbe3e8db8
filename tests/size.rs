//! What the static release binaries must not contain (docs/size.md): glibc's resolver and NSS,
//! about 170 KB of text that every process of the tree would map, are linked into a static
//! binary as soon as something resolves a name (`ToSocketAddrs` on a `&str`, `getaddrinfo`,
//! `getpwnam`). herd never resolves names: chpst reads `/etc/passwd` itself and svlog's UDP
//! target is an address. Needs `scripts/release.sh`; it fails, never skips.

use std::fs;

use crate::dockerd::target_dir;

/// Where `scripts/release.sh` puts the static binaries, under the target dir.
const RELEASE_DIR: &str = "x86_64-unknown-linux-gnu/release";
/// The one tool binary (a release dir may still hold the per-tool binaries of older builds:
/// they are not looked at).
const HERD: &str = "herd";
/// Files only glibc's resolver and NSS name: their text comes with them.
const RESOLVER_FILES: [&[u8]; 3] = [b"/etc/nsswitch.conf", b"/etc/resolv.conf", b"/etc/gai.conf"];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn release_binary_links_no_resolver() {
    let p = target_dir().join(RELEASE_DIR).join(HERD);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/release.sh first",
        p.display()
    );
    let bytes = fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    for f in RESOLVER_FILES {
        assert!(
            !contains(&bytes, f),
            "{} links glibc's resolver or NSS (it names {})",
            p.display(),
            String::from_utf8_lossy(f)
        );
    }
}
