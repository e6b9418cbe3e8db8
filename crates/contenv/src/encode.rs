//! The three text encodings of the dumps, byte for byte as phusion's Python writes them:
//! `shlex.quote` for values in `container_environment.sh`, the `[A-Za-z0-9_]` name
//! sanitizer, and `json.dumps` string literals with `ensure_ascii`.
//!
//! Input is bytes, not `str`. Python sees an environment decoded as UTF-8 with
//! `surrogateescape`: every byte of an invalid UTF-8 sequence is one character (U+DC80 + byte).
//! The encoders below treat such a byte exactly as Python treats that character, so
//! non-UTF-8 names and values come out the way Python would print them. They only append to
//! `out` and never fail.

/// Bytes `shlex.quote` leaves unquoted: ASCII `\w` plus `@%+=:,./-`.
fn shell_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b)
}

/// Appends `v` quoted for a POSIX shell, as Python's `shlex.quote`: `''` for an empty value,
/// the value itself if every byte is in `[A-Za-z0-9_@%+=:,./-]`, and otherwise the value in
/// single quotes with each `'` written as `'"'"'`.
pub fn shell_quote(v: &[u8], out: &mut Vec<u8>) {
    if v.is_empty() {
        out.extend_from_slice(b"''");
    } else if v.iter().all(|&b| shell_safe(b)) {
        out.extend_from_slice(v);
    } else {
        out.push(b'\'');
        for &b in v {
            if b == b'\'' {
                out.extend_from_slice(b"'\"'\"'");
            } else {
                out.push(b);
            }
        }
        out.push(b'\'');
    }
}

/// Appends `n` with every character outside `[A-Za-z0-9_]` replaced by one `_`: a UTF-8
/// character counts once (`é` gives `_`), and so does each byte that is not valid UTF-8.
pub fn shell_name(n: &[u8], out: &mut Vec<u8>) {
    for chunk in n.utf8_chunks() {
        for c in chunk.valid().chars() {
            out.push(if c.is_ascii_alphanumeric() || c == '_' {
                c as u8
            } else {
                b'_'
            });
        }
        out.extend(chunk.invalid().iter().map(|_| b'_'));
    }
}

/// Whether a sanitized name can follow `export`: a POSIX shell name does not start with a digit
/// and is not empty. dash and busybox sh abort the whole `.` on `export 1X=…`.
pub(crate) fn is_shell_name(sanitized: &[u8]) -> bool {
    sanitized.first().is_some_and(|b| !b.is_ascii_digit())
}

const HEX: &[u8; 16] = b"0123456789abcdef";
/// Python's `surrogateescape` maps an undecodable byte `b` to the character U+DC00 + `b`.
const SURROGATE_ESCAPE_BASE: u32 = 0xdc00;
/// First code point `ensure_ascii` writes as a surrogate pair.
const FIRST_ASTRAL: u32 = 0x1_0000;
const HIGH_SURROGATE_BASE: u32 = 0xd800;
const LOW_SURROGATE_BASE: u32 = 0xdc00;
const SURROGATE_BITS: u32 = 10;
const SURROGATE_MASK: u32 = (1 << SURROGATE_BITS) - 1;

/// `\uXXXX` with lowercase hex digits, as Python writes it.
fn push_u_escape(u: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[((u >> shift) & 0xf) as usize]);
    }
}

/// Appends one character as `json.dumps(..., ensure_ascii=True)` does.
fn push_json_char(c: char, out: &mut Vec<u8>) {
    match c {
        '"' => out.extend_from_slice(b"\\\""),
        '\\' => out.extend_from_slice(b"\\\\"),
        '\n' => out.extend_from_slice(b"\\n"),
        '\r' => out.extend_from_slice(b"\\r"),
        '\t' => out.extend_from_slice(b"\\t"),
        '\u{8}' => out.extend_from_slice(b"\\b"),
        '\u{c}' => out.extend_from_slice(b"\\f"),
        // Python keeps exactly the printable ASCII range ' '..='~' as it is (DEL is escaped).
        ' '..='~' => out.push(c as u8),
        _ => {
            let u = u32::from(c);
            if u < FIRST_ASTRAL {
                push_u_escape(u, out);
            } else {
                let v = u - FIRST_ASTRAL;
                push_u_escape(HIGH_SURROGATE_BASE + (v >> SURROGATE_BITS), out);
                push_u_escape(LOW_SURROGATE_BASE + (v & SURROGATE_MASK), out);
            }
        }
    }
}

/// Appends `v` as a JSON string literal in Python's `json.dumps` form (`ensure_ascii`): ASCII
/// only, `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other characters outside `' '..='~'` as
/// lowercase `\uXXXX` (surrogate pairs above U+FFFF), and each byte that is not valid UTF-8 as
/// `\udcXX`, the character Python's `surrogateescape` decodes it to.
pub fn json_string(v: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for chunk in v.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_json_char(c, out);
        }
        for &b in chunk.invalid() {
            push_u_escape(SURROGATE_ESCAPE_BASE + u32::from(b), out);
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote(v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        shell_quote(v, &mut out);
        out
    }

    fn name(n: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        shell_name(n, &mut out);
        out
    }

    fn json(v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        json_string(v, &mut out);
        out
    }

    #[test]
    fn shell_quote_is_shlex_quote() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b"''"),
            (b"plain_1", b"plain_1"),
            (b"a@b%c+d=e:f,g./h-i", b"a@b%c+d=e:f,g./h-i"),
            (b"two words", b"'two words'"),
            (b"it's", b"'it'\"'\"'s'"),
            (b"'", b"''\"'\"''"),
            (b"say \"hi\"", b"'say \"hi\"'"),
            (b"$HOME", b"'$HOME'"),
            (b"a\\b", b"'a\\b'"),
            (b"l1\nl2", b"'l1\nl2'"),
            (b"\t", b"'\t'"),
            ("é".as_bytes(), "'é'".as_bytes()),
            (b"\xff", b"'\xff'"),
            (b"~", b"'~'"),
        ];
        for (v, want) in cases {
            assert_eq!(
                quote(v),
                *want,
                "shell_quote({:?})",
                String::from_utf8_lossy(v)
            );
        }
    }

    #[test]
    fn shell_name_keeps_only_word_bytes() {
        assert_eq!(name(b"PATH"), b"PATH");
        assert_eq!(name(b"my-var.x"), b"my_var_x");
        assert_eq!(name(b"a/b c"), b"a_b_c");
        assert_eq!(name("caf\u{e9}".as_bytes()), b"caf_");
        assert_eq!(name("x\u{1f600}".as_bytes()), b"x_");
        assert_eq!(name(b"N\xff\xfeX"), b"N__X");
        assert_eq!(name(b""), b"");
        assert!(is_shell_name(b"_1"));
        assert!(is_shell_name(b"A"));
        assert!(!is_shell_name(b"1A"));
        assert!(!is_shell_name(b""));
    }

    #[test]
    fn json_string_is_python_ensure_ascii() {
        let cases: &[(&[u8], &str)] = &[
            (b"", r#""""#),
            (b"plain / text ~", r#""plain / text ~""#),
            (b"q\"b\\", r#""q\"b\\""#),
            (b"\n\r\t\x08\x0c", r#""\n\r\t\b\f""#),
            (b"\x00\x01\x1f\x7f", r#""\u0000\u0001\u001f\u007f""#),
            ("é€".as_bytes(), r#""\u00e9\u20ac""#),
            ("😀".as_bytes(), r#""\ud83d\ude00""#),
            ("\u{10ffff}".as_bytes(), r#""\udbff\udfff""#),
            (b"a\xffb", r#""a\udcffb""#),
            // A truncated sequence and an encoded surrogate: every byte escapes on its own.
            (b"\xe2\x82", r#""\udce2\udc82""#),
            (b"\xed\xa0\x80", r#""\udced\udca0\udc80""#),
        ];
        for (v, want) in cases {
            assert_eq!(
                String::from_utf8_lossy(&json(v)),
                *want,
                "json_string({:?})",
                String::from_utf8_lossy(v)
            );
        }
    }

    /// The reference shell reader for what `shell_quote` writes: single-quoted runs, the
    /// double-quoted `'` between them, and unquoted safe bytes.
    fn unquote(mut q: &[u8]) -> Option<Vec<u8>> {
        let mut v = Vec::new();
        while let Some((&c, rest)) = q.split_first() {
            match c {
                b'\'' => {
                    let end = rest.iter().position(|&b| b == b'\'')?;
                    v.extend_from_slice(&rest[..end]);
                    q = &rest[end + 1..];
                }
                b'"' => {
                    let end = rest.iter().position(|&b| b == b'"')?;
                    v.extend_from_slice(&rest[..end]);
                    q = &rest[end + 1..];
                }
                c if shell_safe(c) => {
                    v.push(c);
                    q = rest;
                }
                _ => return None,
            }
        }
        Some(v)
    }

    /// The reference JSON reader for what `json_string` writes, with Python's surrogateescape:
    /// `\udc80`..`\udcff` alone is the byte 0x80..0xff.
    fn unjson(j: &[u8]) -> Option<Vec<u8>> {
        let inner = j.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        let mut units: Vec<u32> = Vec::new();
        let mut i = 0;
        while i < inner.len() {
            if inner[i] != b'\\' {
                units.push(u32::from(inner[i]));
                i += 1;
                continue;
            }
            let e = *inner.get(i + 1)?;
            let u = match e {
                b'n' => 10,
                b'r' => 13,
                b't' => 9,
                b'b' => 8,
                b'f' => 12,
                b'"' | b'\\' => u32::from(e),
                b'u' => {
                    u32::from_str_radix(std::str::from_utf8(inner.get(i + 2..i + 6)?).ok()?, 16)
                        .ok()?
                }
                _ => return None,
            };
            i += if e == b'u' { 6 } else { 2 };
            units.push(u);
        }
        let mut out = Vec::new();
        let mut k = 0;
        while k < units.len() {
            let u = units[k];
            if (0xd800..0xdc00).contains(&u) {
                let lo = *units.get(k + 1)?;
                let c = char::from_u32(0x1_0000 + ((u - 0xd800) << 10) + (lo - 0xdc00))?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                k += 2;
            } else if (0xdc80..=0xdcff).contains(&u) {
                out.push(u8::try_from(u - 0xdc00).ok()?);
                k += 1;
            } else {
                out.extend_from_slice(char::from_u32(u)?.encode_utf8(&mut [0; 4]).as_bytes());
                k += 1;
            }
        }
        Some(out)
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn prop_shell_quote_reads_back(v in prop::collection::vec(any::<u8>(), 0..40)) {
                prop_assert_eq!(unquote(&quote(&v)), Some(v));
            }

            #[test]
            fn prop_json_reads_back(v in prop::collection::vec(any::<u8>(), 0..40), s in "\\PC{0,8}") {
                prop_assert_eq!(unjson(&json(&v)), Some(v.clone()));
                let j = json(s.as_bytes());
                prop_assert!(j.iter().all(|&b| (b' '..=b'~').contains(&b)));
                prop_assert_eq!(unjson(&j), Some(s.into_bytes()));
            }

            #[test]
            fn prop_shell_name(n in prop::collection::vec(any::<u8>(), 0..40)) {
                let out = name(&n);
                prop_assert!(out.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_'));
                let chars: usize = n
                    .utf8_chunks()
                    .map(|c| c.valid().chars().count() + c.invalid().len())
                    .sum();
                prop_assert_eq!(out.len(), chars);
            }
        }
    }
}
