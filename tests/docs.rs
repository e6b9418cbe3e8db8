//! The documentation stands on its own (issue 17): every markdown link in the repository's
//! `*.md` files (README, `docs/`, `bench/`, …) either points at a file inside the repository that
//! exists, with an anchor that page has, or is an `https://` address. A relative link that climbs
//! above the repository root works in no clone, so it is an error, as is `http://`, an absolute
//! path, a missing file and a missing `#anchor`.
//!
//! Anchors follow GitHub's rules: a heading's text with its markdown removed, lowercased, every
//! character that is not a letter, digit, space, `-` or `_` dropped, spaces turned into `-`, and
//! `-1`, `-2`… appended to repeats. Code (fenced blocks and `` `spans` ``) is not read for links.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use herd_testsupport::*;

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    fs::canonicalize(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()))
}

/// Every `*.md` under `root`, sorted, leaving out build output and hidden directories.
fn markdown_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.expect("directory entry");
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || (dir == root && name == "target") {
                continue;
            }
            let path = entry.path();
            let ft = entry.file_type().expect("file type");
            if ft.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".md") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The lines of a page that are prose: fenced code blocks blanked out, inline code spans
/// removed. Line numbers are kept (index + 1).
fn prose_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let run = |c: char| trimmed.chars().take_while(|&x| x == c).count();
        match fence {
            Some((c, n)) => {
                if run(c) >= n && trimmed.trim_start_matches(c).trim().is_empty() {
                    fence = None;
                }
                out.push(String::new());
            }
            None => {
                let (bt, tl) = (run('`'), run('~'));
                if indent < 4 && (bt >= 3 || tl >= 3) {
                    fence = Some(if bt >= 3 { ('`', bt) } else { ('~', tl) });
                    out.push(String::new());
                } else {
                    out.push(strip_code_spans(line));
                }
            }
        }
    }
    out
}

/// Removes `` `code` `` spans (a run of N backticks up to the next run of exactly N).
fn strip_code_spans(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'`' {
            i += 1;
            continue;
        }
        let n = b[i..].iter().take_while(|&&c| c == b'`').count();
        let mut j = i + n;
        let mut close = None;
        while j < b.len() {
            if b[j] == b'`' {
                let m = b[j..].iter().take_while(|&&c| c == b'`').count();
                if m == n {
                    close = Some(j + m);
                    break;
                }
                j += m;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                out.push_str(&line[copied..i]);
                copied = end;
                i = end;
            }
            None => i += n,
        }
    }
    out.push_str(&line[copied..]);
    out
}

/// GitHub's anchor for a heading's text.
fn slug(heading: &str) -> String {
    // Links and images keep their text only: `[text](dest)` -> `text`.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find("](") {
        let Some(close) = rest[open..].find(')') else {
            break;
        };
        text.push_str(&rest[..open]);
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor a page has: its headings' slugs (repeats numbered) and explicit `id="…"` or
/// `name="…"` attributes.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let run = |c: char| trimmed.chars().take_while(|&x| x == c).count();
        if let Some((c, n)) = fence {
            if run(c) >= n && trimmed.trim_start_matches(c).trim().is_empty() {
                fence = None;
            }
            continue;
        }
        let (bt, tl) = (run('`'), run('~'));
        if indent < 4 && (bt >= 3 || tl >= 3) {
            fence = Some(if bt >= 3 { ('`', bt) } else { ('~', tl) });
            continue;
        }
        let hashes = run('#');
        if indent < 4 && (1..=6).contains(&hashes) {
            let after = &trimmed[hashes..];
            if after.is_empty() || after.starts_with(' ') || after.starts_with('\t') {
                let title = after.trim().trim_end_matches('#').trim_end();
                let base = slug(title);
                let n = seen.entry(base.clone()).or_insert(0);
                out.push(if *n == 0 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                });
                *n += 1;
            }
        }
        for attr in ["id=\"", "name=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(attr) {
                rest = &rest[at + attr.len()..];
                if let Some(end) = rest.find('"') {
                    out.push(rest[..end].to_string());
                }
            }
        }
    }
    out
}

/// The link destinations on one prose line: inline links and images `[t](dest "title")`,
/// reference definitions `[id]: dest`, autolinks `<scheme:…>` and HTML `href="…"`.
fn destinations(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let s = rest.trim_start();
        let dest = if let Some(inner) = s.strip_prefix('<') {
            inner.split('>').next().unwrap_or("").to_string()
        } else {
            let mut depth = 0usize;
            let mut end = s.len();
            for (i, c) in s.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 0 => {
                        end = i;
                        break;
                    }
                    ')' => depth -= 1,
                    c if c.is_whitespace() => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            s[..end].to_string()
        };
        out.push(dest);
    }
    let t = line.trim_start();
    if line.len() - t.len() < 4 && t.starts_with('[') {
        if let Some(close) = t.find("]:") {
            if !t[1..close].contains('[') {
                if let Some(dest) = t[close + 2..].split_whitespace().next() {
                    out.push(
                        dest.trim_start_matches('<')
                            .trim_end_matches('>')
                            .to_string(),
                    );
                }
            }
        }
    }
    let mut rest = line;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let inner = &rest[..end];
        if let Some(colon) = inner.find(':') {
            let scheme = &inner[..colon];
            let is_scheme = scheme.len() >= 2
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
            if is_scheme && !inner.contains(char::is_whitespace) {
                out.push(inner.to_string());
            }
        }
    }
    let mut rest = line;
    while let Some(at) = rest.find("href=\"") {
        rest = &rest[at + 6..];
        if let Some(end) = rest.find('"') {
            out.push(rest[..end].to_string());
        }
    }
    out
}

/// What is wrong with one destination written in `page`, or None.
fn check_destination(root: &Path, page: &Path, dest: &str) -> Option<String> {
    if dest.is_empty() {
        return Some("empty link".into());
    }
    let scheme_end = dest.find(':').filter(|&i| {
        i > 0
            && dest[..i].starts_with(|c: char| c.is_ascii_alphabetic())
            && dest[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if scheme_end.is_some() {
        return (!dest.starts_with("https://"))
            .then(|| format!("{dest}: an external link must be https://"));
    }
    if dest.starts_with('/') {
        return Some(format!(
            "{dest}: an absolute path; link relative to the page"
        ));
    }
    let (path, fragment) = match dest.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (dest, None),
    };
    let path = path.split('?').next().unwrap_or("");
    let target = if path.is_empty() {
        page.to_path_buf()
    } else {
        let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
        let rel = page
            .parent()
            .and_then(|d| d.strip_prefix(root).ok())
            .unwrap_or(Path::new(""));
        let joined = rel.join(path);
        for c in joined.components() {
            match c {
                Component::Normal(s) => parts.push(s),
                Component::CurDir => {}
                Component::ParentDir => {
                    if parts.pop().is_none() {
                        return Some(format!("{dest}: leaves the repository"));
                    }
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Some(format!(
                        "{dest}: an absolute path; link relative to the page"
                    ))
                }
            }
        }
        let mut t = root.to_path_buf();
        t.extend(parts);
        t
    };
    if !target.exists() {
        return Some(format!("{dest}: no such file in the repository"));
    }
    let fragment = fragment?;
    if target.extension().is_some_and(|e| e == "md") {
        let text = fs::read_to_string(&target).ok()?;
        if !anchors(&text).iter().any(|a| a == fragment) {
            return Some(format!("{dest}: the page has no anchor #{fragment}"));
        }
    }
    None
}

/// Every problem of every markdown page under `root`, as `PATH:LINE: what`.
fn link_problems(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for page in markdown_files(root) {
        let text = fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        let shown = page
            .strip_prefix(root)
            .unwrap_or(&page)
            .display()
            .to_string();
        for (i, line) in prose_lines(&text).iter().enumerate() {
            for dest in destinations(line) {
                if let Some(p) = check_destination(root, &page, &dest) {
                    out.push(format!("{shown}:{}: {p}", i + 1));
                }
            }
        }
    }
    out
}

#[test]
fn every_markdown_link_stays_in_the_repository_and_resolves() {
    let root = repo_root();
    let pages = markdown_files(&root);
    assert!(
        pages.iter().any(|p| p.ends_with("README.md")) && pages.len() > 5,
        "the walk found the docs: {pages:?}"
    );
    let problems = link_problems(&root);
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

/// Every `docs/PAGE.md` or `docs/PAGE.md#anchor` that a source file (`*.rs`) cites in a comment
/// must exist, as `PATH:LINE: what`. Comments point at the docs this way (for example
/// `docs/runit-compatibility.md#status-file`), so a renamed section breaks no citation unseen.
fn citation_problems(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    let mut sources = Vec::new();
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let entry = entry.expect("directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || (dir == root && name == "target") {
                continue;
            }
            if entry.file_type().expect("file type").is_dir() {
                dirs.push(entry.path());
            } else if name.ends_with(".rs") {
                sources.push(entry.path());
            }
        }
    }
    sources.sort();
    // This file's fixtures name pages that do not exist, on purpose.
    sources.retain(|s| !s.ends_with("tests/docs.rs"));
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    for src in sources {
        let text = fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        let shown = src.strip_prefix(root).unwrap_or(&src).display().to_string();
        for (i, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("docs/") {
                let before = &line[..line.len() - rest.len() + at];
                rest = &rest[at + 5..];
                if before.ends_with(|c: char| word(c) || c == '/' || c == '.') {
                    continue;
                }
                let page_len = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
                if !rest[page_len..].starts_with(".md") {
                    continue;
                }
                let page = format!("docs/{}.md", &rest[..page_len]);
                let after = &rest[page_len + 3..];
                let dest = match after.strip_prefix('#') {
                    Some(a) => format!(
                        "{page}#{}",
                        &a[..a.find(|c: char| !word(c)).unwrap_or(a.len())]
                    ),
                    None => page,
                };
                if let Some(p) = check_destination(root, &root.join("README.md"), &dest) {
                    out.push(format!("{shown}:{}: {p}", i + 1));
                }
            }
        }
    }
    out
}

#[test]
fn every_docs_citation_in_the_source_resolves() {
    let root = repo_root();
    let problems = citation_problems(&root);
    assert!(
        problems.is_empty(),
        "citations of missing pages or sections:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_citation_check_finds_a_missing_page_and_section() {
    let sc = Scenario::new();
    let root = sc.join("repo");
    fs::create_dir_all(root.join("docs")).expect("mkdir");
    fs::create_dir_all(root.join("bin/x/src")).expect("mkdir");
    fs::write(root.join("README.md"), "# R\n").expect("write");
    fs::write(root.join("docs/a.md"), "# A\n## Status file\n").expect("write");
    fs::write(
        root.join("bin/x/src/lib.rs"),
        "//! Spec: docs/a.md#status-file and docs/a.md, docs/a.md#status.\n\
         // docs/gone.md; see also mydocs/z.md and ../docs/y.md\n",
    )
    .expect("write");
    assert_eq!(
        citation_problems(&root),
        [
            "bin/x/src/lib.rs:1: docs/a.md#status: the page has no anchor #status",
            "bin/x/src/lib.rs:2: docs/gone.md: no such file in the repository",
        ]
    );
}

#[test]
fn the_link_check_finds_each_kind_of_broken_link() {
    let sc = Scenario::new();
    let root = sc.join("repo");
    fs::create_dir_all(root.join("docs")).expect("mkdir");
    fs::create_dir_all(root.join("target")).expect("mkdir");
    fs::create_dir_all(root.join(".hidden")).expect("mkdir");
    fs::write(
        root.join("README.md"),
        "# Top\n\
         [ok](docs/a.md) [ok](docs/a.md#exit-codes) [ok](https://smarden.org/runit/runsv.8)\n\
         [up](../outside/notes.md) [http](http://smarden.org/runit/sv.8.html)\n\
         [gone](docs/missing.md) [anchor](docs/a.md#no-such-section) [abs](/etc/passwd)\n\
         `[code](../ignored.md)` and <http://example.org/autolink>\n\
         ```\n[fenced](../ignored.md)\n```\n\
         [ref]: ../../elsewhere.md\n",
    )
    .expect("write");
    fs::write(
        root.join("docs/a.md"),
        "# A\n## Exit codes\n## `supervise/` files, and status (20 bytes)\n## Notes\n## Notes\n\
         [self](#supervise-files-and-status-20-bytes) [dup](#notes-1) [bad](#Notes)\n\
         [top](../README.md#top) [out](../../x.md)\n",
    )
    .expect("write");
    fs::write(root.join("target/skipped.md"), "[x](../../../nowhere.md)\n").expect("write");
    fs::write(
        root.join(".hidden/skipped.md"),
        "[x](../../../nowhere.md)\n",
    )
    .expect("write");
    assert_eq!(
        link_problems(&root),
        [
            "README.md:3: ../outside/notes.md: leaves the repository",
            "README.md:3: http://smarden.org/runit/sv.8.html: an external link must be https://",
            "README.md:4: docs/missing.md: no such file in the repository",
            "README.md:4: docs/a.md#no-such-section: the page has no anchor #no-such-section",
            "README.md:4: /etc/passwd: an absolute path; link relative to the page",
            "README.md:5: http://example.org/autolink: an external link must be https://",
            "README.md:9: ../../elsewhere.md: leaves the repository",
            "docs/a.md:6: #Notes: the page has no anchor #Notes",
            "docs/a.md:7: ../../x.md: leaves the repository",
        ]
    );
}

#[test]
fn anchors_follow_githubs_rules() {
    assert_eq!(slug("`supervise/` files"), "supervise-files");
    assert_eq!(
        slug("0.1 Error strings (runit's wording)"),
        "01-error-strings-runits-wording"
    );
    assert_eq!(slug("Exit codes — LSB mode"), "exit-codes--lsb-mode");
    assert_eq!(slug("See [sv](sv.md) and SVDIR_X"), "see-sv-and-svdir_x");
    assert_eq!(
        anchors("# A\n```\n# not a heading\n```\n## A\n#no\n<a id=\"x\"></a>\n"),
        ["a", "a-1", "x"]
    );
}
