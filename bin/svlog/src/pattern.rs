//! svlogd's patterns (docs/runit-compatibility.md#svlogd-patterns): a plain character matches
//! itself; `*` matches any run of characters up to the next pattern character (at the end of the
//! pattern, everything); `+` matches one or more of the next character. Only the first `len`
//! characters of a line are matched, and the caller cuts the line to them.

/// Whether `line` matches `pat`.
pub fn matches(pat: &[u8], mut s: &[u8]) -> bool {
    let mut p = pat;
    loop {
        let Some(&c) = p.first() else {
            return s.is_empty();
        };
        match c {
            b'*' => {
                let Some(&next) = p.get(1) else { return true };
                loop {
                    match s.first() {
                        None => return false,
                        Some(&x) if x == next => break,
                        Some(_) => s = &s[1..],
                    }
                }
                p = &p[1..];
            }
            b'+' => {
                let next = p.get(1).copied();
                if next.is_none() || s.first().copied() != next {
                    return false;
                }
                while s.first().copied() == next {
                    s = &s[1..];
                }
                // As in runit: a line used up by the repeated character matches.
                if s.is_empty() {
                    return true;
                }
                p = &p[2..];
            }
            _ => {
                if s.first() != Some(&c) {
                    return false;
                }
                p = &p[1..];
                s = &s[1..];
            }
        }
    }
}

/// The selection of one line for one log directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Written to the directory (and UDP): initially yes; `+`/`-` lines decide, the last match wins.
    pub file: bool,
    /// Copied to stderr: initially no; `e`/`E` lines decide.
    pub stderr: bool,
}

/// Applies a directory's `+ - e E` config lines (each one the letter then its pattern) to `line`.
pub fn select(rules: &[Vec<u8>], line: &[u8]) -> Selection {
    let mut sel = Selection {
        file: true,
        stderr: false,
    };
    for r in rules {
        let Some((&kind, pat)) = r.split_first() else {
            continue;
        };
        if matches(pat, line) {
            match kind {
                b'+' => sel.file = true,
                b'-' => sel.file = false,
                b'e' => sel.stderr = true,
                b'E' => sel.stderr = false,
                _ => {}
            }
        }
    }
    sel
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference: the rules of docs/runit-compatibility.md#svlogd-patterns as a recursion over
    /// the pattern.
    fn reference(p: &[u8], s: &[u8]) -> bool {
        match p {
            [] => s.is_empty(),
            [b'*'] => true,
            [b'*', next, ..] => match s.iter().position(|b| b == next) {
                Some(i) => reference(&p[1..], &s[i..]),
                None => false,
            },
            [b'+'] => false,
            [b'+', c, rest @ ..] => {
                if s.first() != Some(c) {
                    return false;
                }
                let run = s.iter().take_while(|b| *b == c).count();
                run == s.len() || reference(rest, &s[run..])
            }
            [c, rest @ ..] => s.first() == Some(c) && reference(rest, &s[1..]),
        }
    }

    /// Bytes from a small alphabet, so that patterns and lines meet.
    fn small() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"ab*+".to_vec()), 0..10)
    }

    proptest! {
        #[test]
        fn prop_matches_agrees_with_reference(p in small(), s in small()) {
            prop_assert_eq!(matches(&p, &s), reference(&p, &s));
        }

        #[test]
        fn prop_any_bytes(p in prop::collection::vec(any::<u8>(), 0..20), s in prop::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(matches(&p, &s), reference(&p, &s));
            let rules = vec![[b"-".as_slice(), &p].concat(), [b"e".as_slice(), &p].concat()];
            let sel = select(&rules, &s);
            prop_assert_eq!(sel.file, !sel.stderr);
        }

        #[test]
        fn prop_plain_patterns_match_only_themselves(p in "[a-z ]{0,8}", s in "[a-z ]{0,8}") {
            prop_assert_eq!(matches(p.as_bytes(), s.as_bytes()), p == s);
            prop_assert!(matches(b"*", s.as_bytes()));
        }
    }

    #[test]
    fn plain_star_and_plus() {
        assert!(matches(b"abc", b"abc"));
        assert!(!matches(b"abc", b"abcd"));
        assert!(matches(b"*", b"anything"));
        assert!(matches(b"*ERR*", b"an ERR happened"));
        assert!(!matches(b"*ERR*", b"an error"));
        assert!(matches(b"a*c", b"abbbc"));
        assert!(!matches(b"a*c", b"abcx"));
        // `+` repeats the character after it.
        assert!(matches(b"a+bc", b"abbbc"));
        assert!(matches(b"+ab", b"aaab"));
        assert!(!matches(b"a+bc", b"ac"));
    }

    #[test]
    fn example_from_the_spec() {
        // config -*, +*ERR*, e*, E*debug* (docs/runit-compatibility.md#svlogd-patterns)
        let rules: Vec<Vec<u8>> = ["-*", "+*ERR*", "e*", "E*debug*"]
            .iter()
            .map(|r| r.as_bytes().to_vec())
            .collect();
        let sel = |l: &str| select(&rules, l.as_bytes());
        assert_eq!(
            sel("info: ok"),
            Selection {
                file: false,
                stderr: true
            }
        );
        assert_eq!(
            sel("an ERR happened"),
            Selection {
                file: true,
                stderr: true
            }
        );
        assert_eq!(
            sel("ERR debug x"),
            Selection {
                file: true,
                stderr: false
            }
        );
        assert_eq!(
            sel("plain"),
            Selection {
                file: false,
                stderr: true
            }
        );
    }
}
