//! The man pages: `man/man8/` is what `scripts/man.py` makes of `docs/` (`--check`, which names a
//! stale page), every page passes `mandoc -T lint` and has the sections a tool's page must have,
//! and `scripts/install.sh` installs them so that each name renders its tool's page.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use herd_testsupport::*;

const TOOLS: [&str; 6] = ["svscan", "supervise", "sv", "svlog", "chpst", "herd"];

/// Every other name and the tool whose page it is.
const LINKS: [(&str, &str); 11] = [
    ("runsvdir", "svscan"),
    ("my_init", "svscan"),
    ("runsv", "supervise"),
    ("svlogd", "svlog"),
    ("envdir", "chpst"),
    ("envuidgid", "chpst"),
    ("setuidgid", "chpst"),
    ("pgrphack", "chpst"),
    ("softlimit", "chpst"),
    ("setlock", "chpst"),
    ("setuser", "chpst"),
];

/// The sections every tool's page has, in this order.
const SECTIONS: [&str; 9] = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    "ENVIRONMENT",
    "FILES",
    "EXIT STATUS",
    "EXAMPLES",
    "SEE ALSO",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

/// A program the test needs from Debian (by absolute path, as the peers are).
fn tool(path: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.is_file(),
        "{path} is missing: apt-get install -y {package}"
    );
    p
}

fn python() -> PathBuf {
    tool("/usr/bin/python3", "python3")
}

fn mandoc() -> PathBuf {
    tool("/usr/bin/mandoc", "mandoc")
}

/// `mandoc -T utf8` output as plain text: overstrike (bold `X\bX`, underline `_\bX`) removed.
fn plain(rendered: &str) -> String {
    let mut out = String::new();
    for c in rendered.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    out
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first line of the first fenced block of the doc's `## Interface`: its synopsis.
fn synopsis(tool: &str) -> String {
    let doc = fs::read_to_string(root().join(format!("docs/{tool}.md"))).expect("doc");
    let interface = doc
        .split("\n## Interface\n")
        .nth(1)
        .unwrap_or_else(|| panic!("docs/{tool}.md has no ## Interface"));
    let fence = interface.find("```").expect("a fenced block");
    let block = &interface[fence..];
    block.lines().nth(1).expect("a synopsis line").to_string()
}

/// The `.SH` titles of a page, in order.
fn sections(page: &str) -> Vec<String> {
    page.lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .map(|t| t.trim_matches('"').to_string())
        .collect()
}

#[test]
fn pages_are_what_the_docs_give() {
    let sc = Scenario::new();
    let out = sc
        .cmd(python())
        .arg(root().join("scripts/man.py"))
        .arg("--check")
        .run();
    assert_eq!(
        out.code,
        Some(0),
        "the man pages are stale: run `just man` (python3 scripts/man.py) and commit man/man8/\n{}",
        out.stderr
    );
    out.stdout("").stderr("");
}

/// A copy of the repository's docs, pages, dispatch table and script: `--check` passes on it, names the page
/// a changed doc makes stale, and passes again once the pages are regenerated.
#[test]
fn check_names_the_page_a_changed_doc_makes_stale() {
    let sc = Scenario::new();
    let repo = root();
    fs::create_dir_all(sc.join("scripts")).expect("mkdir");
    fs::create_dir_all(sc.join("docs")).expect("mkdir");
    fs::create_dir_all(sc.join("man/man8")).expect("mkdir");
    fs::copy(repo.join("scripts/man.py"), sc.join("scripts/man.py")).expect("copy");
    fs::copy(repo.join("Cargo.toml"), sc.join("Cargo.toml")).expect("copy");
    // The names of the link pages: herd's dispatch table.
    fs::create_dir_all(sc.join("bin/herd/src")).expect("mkdir");
    fs::copy(
        repo.join("bin/herd/src/tool.rs"),
        sc.join("bin/herd/src/tool.rs"),
    )
    .expect("copy");
    for t in TOOLS {
        fs::copy(
            repo.join(format!("docs/{t}.md")),
            sc.join(format!("docs/{t}.md")),
        )
        .expect("copy doc");
    }
    for e in fs::read_dir(repo.join("man/man8")).expect("man/man8") {
        let e = e.expect("entry");
        fs::copy(e.path(), sc.join("man/man8").join(e.file_name())).expect("copy page");
    }
    let check = || {
        sc.cmd(python())
            .arg(sc.join("scripts/man.py"))
            .arg("--check")
            .run()
    };
    check().code(0).stdout("").stderr("");

    let doc = sc.join("docs/sv.md");
    let mut text = fs::read_to_string(&doc).expect("doc");
    text.push_str("\nA sentence added to the doc.\n");
    fs::write(&doc, text).expect("write doc");
    check()
        .code(1)
        .stdout("")
        .stderr("man.py: man/man8/sv.8 is not what docs/sv.md gives: run 'just man'\n");

    // A page removed and a page that no doc makes are named too.
    fs::remove_file(sc.join("man/man8/runsv.8")).expect("rm");
    fs::write(sc.join("man/man8/stray.8"), ".TH STRAY 8\n").expect("write");
    check().code(1).stdout("").stderr(
        "man.py: man/man8/runsv.8 is missing: run 'just man'\n\
         man.py: man/man8/sv.8 is not what docs/sv.md gives: run 'just man'\n\
         man.py: man/man8/stray.8 is not generated from any doc: remove it\n",
    );

    sc.cmd(python())
        .arg(sc.join("scripts/man.py"))
        .run()
        .code(0)
        .stdout("")
        .stderr("");
    check().code(0).stdout("").stderr("");
    let page = fs::read_to_string(sc.join("man/man8/sv.8")).expect("page");
    assert!(
        page.contains("\nA sentence added to the doc.\n"),
        "regenerated from the doc"
    );
    assert!(!sc.join("man/man8/stray.8").exists());
    assert!(sc.join("man/man8/runsv.8").exists());

    // A tool page without one of the required sections is refused, naming it.
    let doc = sc.join("docs/chpst.md");
    let text = fs::read_to_string(&doc).expect("doc");
    fs::write(
        &doc,
        text.replace("\n## Examples\n", "\n## Some examples\n"),
    )
    .expect("write");
    check()
        .code(111)
        .stdout("")
        .stderr("man.py: fatal: docs/chpst.md: no ## Examples section\n");
}

#[test]
fn every_page_lints_clean_and_has_the_sections() {
    let sc = Scenario::new();
    let dir = root().join("man/man8");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("man/man8")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = TOOLS
        .iter()
        .chain(LINKS.iter().map(|(n, _)| n))
        .map(|n| format!("{n}.8"))
        .collect();
    expected.sort();
    assert_eq!(
        names, expected,
        "man/man8 holds exactly the generated pages"
    );

    for t in TOOLS {
        let path = dir.join(format!("{t}.8"));
        sc.cmd(mandoc())
            .args(["-T", "lint"])
            .arg(&path)
            .run()
            .code(0)
            .stdout("")
            .stderr("");
        let page = fs::read_to_string(&path).expect("page");
        assert!(
            page.starts_with(&format!(
                ".\\\" Generated from docs/{t}.md by scripts/man.py: do not edit.\n"
            )),
            "{t}.8 says it is generated"
        );
        let found = sections(&page);
        let required: Vec<String> = found
            .iter()
            .filter(|s| SECTIONS.contains(&s.as_str()))
            .cloned()
            .collect();
        assert_eq!(required, SECTIONS, "{t}.8: the required sections, in order");
        // SIGNALS and NOTES where the doc has them.
        let doc = fs::read_to_string(root().join(format!("docs/{t}.md"))).expect("doc");
        for (doc_title, man_title) in [("Signals", "SIGNALS"), ("Notes", "NOTES")] {
            assert_eq!(
                doc.contains(&format!("\n## {doc_title}\n")),
                found.iter().any(|s| s == man_title),
                "{t}.8: {man_title} exactly when docs/{t}.md has ## {doc_title}"
            );
        }
    }
    for (name, target) in LINKS {
        assert_eq!(
            fs::read_to_string(dir.join(format!("{name}.8"))).expect("link page"),
            format!(
                ".\\\" Generated by scripts/man.py: do not edit. {name} is {target}.\n\
                 .so man8/{target}.8\n"
            ),
            "{name}.8"
        );
    }
}

/// `scripts/install.sh` puts the pages under PREFIX/share/man/man8: the tools' as files, every
/// other name as a symlink; each renders with its tool's synopsis.
#[test]
fn install_puts_the_pages_where_man_finds_them() {
    let sc = Scenario::new();
    let dest = sc.join("img");
    let built = bin("herd").parent().expect("bin dir").to_path_buf();
    sc.cmd("/bin/sh")
        .arg(root().join("scripts/install.sh"))
        .arg(&dest)
        .arg("/usr")
        .arg(&built)
        .run()
        .code(0)
        .stdout("")
        .stderr("");
    let mandir = dest.join("usr/share/man/man8");
    let mut installed: Vec<String> = fs::read_dir(&mandir)
        .expect("share/man/man8")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    installed.sort();
    assert_eq!(installed.len(), TOOLS.len() + LINKS.len(), "{installed:?}");

    let render = |page: &Path| {
        let out = sc.cmd(mandoc()).args(["-T", "utf8"]).arg(page).run();
        out.code(0).stderr("");
        words(&plain(&out.stdout))
    };
    for t in TOOLS {
        let page = mandir.join(format!("{t}.8"));
        let md = fs::symlink_metadata(&page).unwrap_or_else(|e| panic!("{t}.8: {e}"));
        assert!(md.file_type().is_file(), "{t}.8 is a file");
        assert_eq!(md.permissions().mode() & 0o7777, 0o644, "{t}.8 mode");
        assert_eq!(
            fs::read(&page).expect("installed"),
            fs::read(root().join(format!("man/man8/{t}.8"))).expect("generated"),
            "{t}.8 bytes"
        );
        let text = render(&page);
        let syn = words(&synopsis(t));
        assert!(
            text.contains(&format!("SYNOPSIS {syn}")),
            "{t}.8 renders its synopsis `{syn}`:\n{text}"
        );
    }
    for (name, target) in LINKS {
        let page = mandir.join(format!("{name}.8"));
        assert_eq!(
            fs::read_link(&page).unwrap_or_else(|e| panic!("{name}.8: {e}")),
            PathBuf::from(format!("{target}.8")),
            "{name}.8"
        );
        let text = render(&page);
        let syn = words(&synopsis(target));
        assert!(
            text.contains(&format!("SYNOPSIS {syn}")),
            "{name}.8 renders {target}'s synopsis"
        );
        assert!(
            text.contains(&format!(" {name}")),
            "{name} is named on {target}'s page"
        );
    }
}
