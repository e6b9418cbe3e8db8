//! docs/docker.md's Dockerfiles, built exactly as printed in a private dockerd (issue 17, item 7):
//! `just test-images`. The recipes are read from the doc when the test runs, never copied here:
//! every ```` ```dockerfile ```` block with a `FROM` line is a recipe, named by its `##` section.
//! Its staging is the ```` ```sh ```` block just before it in its section or, when there is none,
//! the page's first recipe's (`FROM scratch`'s); each staging is run once, as printed, by
//! `/bin/sh -e` in a directory of its own laid out like the repository (`scripts/` and `target/`
//! linked, a copy of `service/`), which is then the build context of the recipes it stages. A
//! `sh` block after the Dockerfile in its section gives how the image runs: its `docker run … IMG`
//! line (`\` continuations joined, `#` comments dropped) the options, everything between `docker
//! run` and `IMG` but `-d` and `--name c` (the test runs every container `-d --network none` under
//! a name of its own); its `docker exec [--user U] c sv restart NAME` line the service restarted
//! and the user. A section without a Dockerfile but with a `docker run … IMG` line in a `sh` block
//! (docs/docker.md's "Non-root") is a recipe too: the image of the nearest recipe above it, run
//! with its own options, restart line and exit code. Each recipe runs as a container: its
//! services come up (`docker exec c sv status …`), `sv restart` of the service its section names
//! (or of the first) answers `ok: run: …` with a new pid, and `docker stop` gives the exit code
//! that its section states in the words "`docker stop` exits N", once. A block without `FROM`
//! (the `HEALTHCHECK` line) is a fragment and is not built.
//!
//! There is no registry here, so the bases are made: `debian:bookworm-slim` by `debootstrap
//! --variant=minbase` from the Debian mirror apt is configured with, and
//! `phusion/baseimage:jammy-1.0.1` as a stand-in: the same plus runit, python3 and cron, with
//! phusion's layout (`/etc/service` with a `cron` service, `/etc/my_init.d`, the shutdown dirs,
//! `/etc/container_environment`) and a `/sbin/my_init` of our own, [`MY_INIT`]. The debootstrap
//! trees are cached as tarballs in [`CACHE`] and reused; `HERD_IMAGES_REBUILD=1` makes them again.
//!
//! Needs root, `docker.io`, `busybox-static`, `debootstrap` and the mirror: `#[ignore]`d in the
//! normal suite, run by `just test-images`. The doc's shape (recipes, staging, exit codes) is
//! checked by the tests that are not ignored.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use herd_testsupport::*;

use crate::dockerd::*;

/// The page whose recipes are built.
const DOC: &str = "docs/docker.md";
/// Where the debootstrap trees are kept as tarballs, between runs.
const CACHE: &str = "/var/tmp/herd-images";
/// Set (to anything but empty or 0) to make the cached tarballs again.
const REBUILD: &str = "HERD_IMAGES_REBUILD";
const DEBOOTSTRAP: &str = "/usr/sbin/debootstrap";
/// The Debian release of `debian:bookworm-slim`.
const SUITE: &str = "bookworm";
/// What the phusion stand-in adds to minbase: runsvdir, runsv, sv… and the Python my_init runs
/// on, and cron, one of phusion's own services.
const PHUSION_PACKAGES: &str = "runit,python3,cron";
/// The base images the recipes name, as they name them.
const DEBIAN_BASE: &str = "debian:bookworm-slim";
const PHUSION_BASE: &str = "phusion/baseimage:jammy-1.0.1";
/// The debootstrap tree of the phusion stand-in, imported under this name before its layout is
/// added.
const PHUSION_ROOTFS: &str = "herd-images/phusion-rootfs";
/// `debootstrap` (downloads included), `tar` of a tree, `docker import` of a tarball.
const DEBOOTSTRAP_SLOW: Duration = Duration::from_secs(600);
const TAR_SLOW: Duration = Duration::from_secs(180);
/// `docker build` of a recipe (a `RUN` step starts a container) and `docker import`.
const BUILD_SLOW: Duration = Duration::from_secs(180);
/// The staging block runs `scripts/release.sh`: nothing to do after `just release`, a whole
/// static build otherwise.
const STAGING_SLOW: Duration = Duration::from_secs(900);
/// What a container must reach once it runs (services up: python3 starts first in the phusion
/// one).
const IMAGES_UP: Duration = Duration::from_secs(20);

/// phusion's services in the stand-in base: cron as phusion runs it, and a logger for it through
/// runit's name (`svlogd`), as docs/docker.md says log/run scripts keep working.
const CRON_RUN: &str = "#!/bin/sh\nexec /usr/sbin/cron -f\n";
const CRON_LOG_RUN: &str = "#!/bin/sh\nexec svlogd -tt /var/log/cron\n";

/// A stand-in for phusion/baseimage's `/sbin/my_init`, written for this test (not phusion's code,
/// which is Python too). It reproduces only what docs/docker.md says of phusion's and the recipe
/// that keeps it relies on: it runs every executable in `/etc/my_init.d` in order (one that fails
/// makes it exit 1), starts `/usr/bin/runsvdir -P /etc/service` and reaps every child; on SIGTERM
/// or SIGINT it runs `/usr/bin/sv down /etc/service/*`, sends SIGTERM to runsvdir and waits for it
/// (SIGKILL after 5 s, phusion's `KILL_PROCESS_TIMEOUT`), sends SIGTERM to every process left
/// (SIGKILL after 5 s) and exits 2, whatever runsvdir said. It does not import or export the
/// container environment, run `/etc/rc.local` or the shutdown dirs, or take options or a main
/// command.
const MY_INIT: &str = r#"#!/usr/bin/python3 -u
# A stand-in for phusion's my_init, for herd's image tests: see tests/images.rs.
import glob, os, signal, sys, time

KILL_PROCESS_TIMEOUT = 5


class Stop(Exception):
    pass


def on_stop(signo, frame):
    raise Stop()


def reap(pid, timeout):
    """Reaps children until pid is gone (any child: None) or timeout passes; whether it went."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid is not None and got == pid:
            return True
        if got == 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def main():
    for path in sorted(glob.glob("/etc/my_init.d/*")):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            print("*** Running %s..." % path, file=sys.stderr)
            if os.spawnv(os.P_WAIT, path, [path]) != 0:
                sys.exit(1)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    runsvdir = os.spawnv(os.P_NOWAIT, "/usr/bin/runsvdir",
                         ["/usr/bin/runsvdir", "-P", "/etc/service"])
    try:
        while True:
            pid, status = os.waitpid(-1, 0)
            if pid == runsvdir:
                sys.exit(os.waitstatus_to_exitcode(status))
    except Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("*** Init system aborted.", file=sys.stderr)
    os.system("/usr/bin/sv down /etc/service/*")
    os.kill(runsvdir, signal.SIGTERM)
    if not reap(runsvdir, KILL_PROCESS_TIMEOUT):
        os.kill(runsvdir, signal.SIGKILL)
        reap(runsvdir, KILL_PROCESS_TIMEOUT)
    try:
        os.kill(-1, signal.SIGTERM)
    except ProcessLookupError:
        pass
    if not reap(None, KILL_PROCESS_TIMEOUT):
        os.kill(-1, signal.SIGKILL)
    sys.exit(2)


main()
"#;

/// The stand-in's layer over its debootstrap tree: phusion's dirs (a real `/etc/service`, where
/// Debian's runit package makes a link), then the files of `layout/`.
const PHUSION_LAYER: &str = "\
RUN rm -f /etc/service && mkdir -p /etc/service /etc/my_init.d /etc/my_init.pre_shutdown.d \
/etc/my_init.post_shutdown.d /var/log/cron && mkdir -m 0700 /etc/container_environment\n\
COPY layout/ /\n\
CMD [\"/sbin/my_init\"]\n";

/// A fenced block of the doc.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    /// The fence's info string (`dockerfile`, `sh`).
    lang: String,
    /// The lines between the fences, each with its newline.
    text: String,
}

/// A `##` section: its heading, its prose (the lines outside blocks, joined by spaces, so that a
/// statement may wrap) and its blocks in order.
#[derive(Debug, Default)]
struct Section {
    heading: String,
    prose: String,
    blocks: Vec<Block>,
}

/// A recipe of the doc: the image of a Dockerfile (its own section's, or for a section with only a
/// `docker run … IMG` block, the one of the recipe above it), run as its section says, with the
/// exit code that section states.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recipe {
    heading: String,
    /// The `sh` block that makes the build context: the one just before the Dockerfile in its
    /// section, or else the page's first recipe's.
    staging: String,
    dockerfile: String,
    /// The section's `docker run` line, or the plain run when it has none.
    run: Run,
    stop_code: i32,
}

/// How a section runs its image: `docker run -d --name c OPTIONS… IMG` and `docker exec [--user
/// U] c sv restart NAME`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Run {
    /// The words between `docker run` and `IMG`, less `-d` and `--name c` (the test runs every
    /// container detached, under a name of its own).
    options: Vec<String>,
    /// The `docker exec … sv restart NAME` line, if the section has one: the service it restarts
    /// and the user it does it as.
    restart: Option<Restart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Restart {
    user: Option<String>,
    service: String,
}

/// What the test builds from the doc.
#[derive(Debug, PartialEq, Eq)]
struct Recipes {
    recipes: Vec<Recipe>,
    /// The headings of sections whose `dockerfile` blocks have no `FROM` line.
    fragments: Vec<String>,
}

/// Splits markdown into `##` sections (the text before the first is a section with no heading).
fn sections(md: &str) -> Vec<Section> {
    let mut out = vec![Section::default()];
    let mut open: Option<Block> = None;
    for line in md.lines() {
        let cur = out.last_mut().expect("one section at least");
        if let Some(b) = open.as_mut() {
            if line.trim_start().starts_with("```") {
                cur.blocks.push(open.take().expect("an open block"));
            } else {
                b.text.push_str(line);
                b.text.push('\n');
            }
        } else if let Some(info) = line.trim_start().strip_prefix("```") {
            open = Some(Block {
                lang: info.trim().to_string(),
                text: String::new(),
            });
        } else if let Some(h) = line.strip_prefix("## ") {
            out.push(Section {
                heading: h.trim().to_string(),
                ..Section::default()
            });
        } else {
            cur.prose.push_str(line);
            cur.prose.push(' ');
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    out
}

/// The exit code a section states as "`docker stop` exits N", which it must state exactly once.
fn stated_stop_code(s: &Section) -> Result<i32, String> {
    const STATEMENT: &str = "`docker stop` exits ";
    let codes = s
        .prose
        .match_indices(STATEMENT)
        .map(|(i, _)| {
            let rest = &s.prose[i + STATEMENT.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().map_err(|_| {
                format!(
                    "section {:?}: \"{STATEMENT}\" is not followed by a number: {:?}",
                    s.heading,
                    rest.chars().take(30).collect::<String>()
                )
            })
        })
        .collect::<Result<Vec<i32>, String>>()?;
    match codes[..] {
        [code] => Ok(code),
        _ => Err(format!(
            "section {:?} has a recipe (a Dockerfile or a `docker run … IMG` line), so it must \
             say \"{STATEMENT}N\" once (tests/images.rs checks that code): it says it {} times",
            s.heading,
            codes.len()
        )),
    }
}

/// The commands of a `sh` block as words: `\` continuations joined, comments (a word starting
/// with `#`, to the end of the line) and empty lines left out.
fn sh_commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if let Some(part) = line.strip_suffix('\\') {
            cur.push_str(part);
            cur.push(' ');
            continue;
        }
        cur.push_str(line);
        let words: Vec<String> = cur
            .split_whitespace()
            .take_while(|w| !w.starts_with('#'))
            .map(str::to_string)
            .collect();
        if !words.is_empty() {
            out.push(words);
        }
        cur.clear();
    }
    out
}

/// A section's `docker run … IMG` and `docker exec … sv restart NAME` lines, from `blocks` (its
/// `sh` blocks after its Dockerfile, or all of them when it has none); `None` when there is no
/// `docker run` line.
fn section_run(heading: &str, blocks: &[Block]) -> Result<Option<Run>, String> {
    let mut options = None;
    let mut restart = None;
    let commands = blocks
        .iter()
        .filter(|b| b.lang == "sh")
        .flat_map(|b| sh_commands(&b.text));
    for words in commands {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let bad = |why: &str| Err(format!("section {heading:?}: {:?}: {why}", w.join(" ")));
        match w[..] {
            ["docker", "run", ref rest @ ..] => {
                let Some(img) = rest.iter().position(|&x| x == "IMG") else {
                    return bad("a `docker run` line runs IMG, the image built above");
                };
                if img + 1 != rest.len() {
                    return bad("the test runs IMG's own command: nothing may follow IMG");
                }
                let mut opts: Vec<&str> = rest[..img].to_vec();
                let Some(d) = opts.iter().position(|&x| x == "-d") else {
                    return bad("the test runs the container detached: `-d` is missing");
                };
                opts.remove(d);
                let Some(n) = opts.windows(2).position(|p| p == ["--name", "c"]) else {
                    return bad("the test execs into the container as `c`: `--name c` is missing");
                };
                opts.drain(n..n + 2);
                if opts.iter().any(|o| o.contains(['\'', '"', '$', '`'])) {
                    return bad("the test passes the options as words: no quotes or `$`");
                }
                if options.is_some() {
                    return bad("a second `docker run` line: which one does the test run?");
                }
                options = Some(opts.into_iter().map(str::to_string).collect());
            }
            ["docker", "exec", ref rest @ ..] => {
                let (user, rest) = match rest {
                    ["--user", u, rest @ ..] => (Some(u.to_string()), rest),
                    _ => (None, rest),
                };
                if let ["c", "sv", "restart", name] = rest {
                    if restart.is_some() {
                        return bad("a second `sv restart` line: which one does the test run?");
                    }
                    restart = Some(Restart {
                        user,
                        service: name.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(options.map(|options| Run { options, restart }))
}

/// The recipes of a page shaped as docs/docker.md is, or what is wrong with its shape.
fn read_recipes(md: &str) -> Result<Recipes, String> {
    let mut recipes: Vec<Recipe> = Vec::new();
    let mut fragments = Vec::new();
    for s in sections(md) {
        let mut images = Vec::new();
        for (i, b) in s.blocks.iter().enumerate() {
            if b.lang != "dockerfile" {
                continue;
            } else if b.text.lines().any(|l| l.starts_with("FROM ")) {
                images.push(i);
            } else {
                fragments.push(s.heading.clone());
            }
        }
        let recipe = match images[..] {
            [] => {
                let Some(run) = section_run(&s.heading, &s.blocks)? else {
                    continue;
                };
                let Some(above) = recipes.last() else {
                    return Err(format!(
                        "section {:?} runs IMG, but no Dockerfile above it makes one",
                        s.heading
                    ));
                };
                Recipe {
                    heading: s.heading.clone(),
                    staging: above.staging.clone(),
                    dockerfile: above.dockerfile.clone(),
                    run,
                    stop_code: stated_stop_code(&s)?,
                }
            }
            [i] => {
                let staging = match (i.checked_sub(1).map(|p| &s.blocks[p]), recipes.first()) {
                    (Some(b), _) if b.lang == "sh" => b.text.clone(),
                    (_, Some(first)) => first.staging.clone(),
                    (_, None) => {
                        return Err(format!(
                            "section {:?}: the page's first Dockerfile needs the `sh` block that \
                             stages its build context just before it",
                            s.heading
                        ))
                    }
                };
                Recipe {
                    heading: s.heading.clone(),
                    staging,
                    dockerfile: s.blocks[i].text.clone(),
                    run: section_run(&s.heading, &s.blocks[i + 1..])?.unwrap_or_default(),
                    stop_code: stated_stop_code(&s)?,
                }
            }
            _ => {
                return Err(format!(
                    "section {:?} has two Dockerfiles: which one does its exit code belong to?",
                    s.heading
                ))
            }
        };
        recipes.push(recipe);
    }
    if recipes.is_empty() {
        return Err("no Dockerfile with a FROM line".into());
    }
    Ok(Recipes { recipes, fragments })
}

/// The image a Dockerfile starts from (its first `FROM` line).
fn from_image(dockerfile: &str) -> &str {
    dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("FROM "))
        .map(str::trim)
        .expect("a recipe has a FROM line")
}

/// A name for docker made of a heading: `herd's own my_init` → `herd-s-own-my-init`.
fn slug(heading: &str) -> String {
    let mut s = String::new();
    for c in heading.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_end_matches('-').to_string()
}

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the repository")
        .to_path_buf()
}

/// docs/docker.md's recipes.
fn doc_recipes() -> Recipes {
    let p = repo().join(DOC);
    let md = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    read_recipes(&md).unwrap_or_else(|e| panic!("{DOC}: {e}"))
}

/// The Debian mirror apt is configured with: the first `deb` source of [`SUITE`] with `main`,
/// from `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.list` (one-line form) and
/// `*.sources` (deb822).
fn debian_mirror() -> String {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    let mut d: Vec<PathBuf> = fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    d.sort();
    files.extend(d);
    for f in files {
        let Ok(text) = fs::read_to_string(&f) else {
            continue;
        };
        let found = match f.extension().and_then(|e| e.to_str()) {
            Some("sources") => mirror_deb822(&text),
            _ if f.ends_with("sources.list") || f.extension().is_some_and(|e| e == "list") => {
                mirror_one_line(&text)
            }
            _ => None,
        };
        if let Some(uri) = found {
            return uri;
        }
    }
    panic!("no `deb` source for {SUITE} main in /etc/apt/sources.list or sources.list.d/")
}

/// The URI of the first enabled deb822 stanza with `Types: deb`, [`SUITE`] and `main`.
fn mirror_deb822(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    lines.split(|l| l.trim().is_empty()).find_map(|stanza| {
        let field = |name: &str| -> Vec<&str> {
            stanza
                .iter()
                .filter_map(|l| l.split_once(':'))
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .flat_map(|(_, v)| v.split_whitespace())
                .collect()
        };
        let enabled = !field("Enabled").contains(&"no");
        (enabled
            && field("Types").contains(&"deb")
            && field("Suites").contains(&SUITE)
            && field("Components").contains(&"main"))
        .then(|| field("URIs").first().map(|u| u.to_string()))
        .flatten()
    })
}

/// The URI of the first `deb [options] URI SUITE COMPONENTS…` line of [`SUITE`] with `main`.
fn mirror_one_line(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace().peekable();
        if w.next() != Some("deb") {
            return None;
        }
        if w.peek().is_some_and(|o| o.starts_with('[')) {
            // Options run to the word that ends with `]`.
            for o in w.by_ref() {
                if o.ends_with(']') {
                    break;
                }
            }
        }
        let uri = w.next()?;
        let suite = w.next()?;
        let mut comps = w;
        (suite == SUITE && comps.any(|c| c == "main")).then(|| uri.to_string())
    })
}

/// Whether [`REBUILD`] asks for the cached tarballs to be made again.
fn rebuild() -> bool {
    std::env::var(REBUILD).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `CACHE/NAME.tar`: a `debootstrap --variant=minbase [--include=INCLUDE] bookworm` tree, made
/// unless it is there (or [`rebuild`]), without apt's downloaded packages and lists (as Docker's
/// slim images). The packages are kept in `CACHE/debs` for the next debootstrap.
fn cached_rootfs(sc: &Scenario, name: &str, include: Option<&str>) -> PathBuf {
    let tar = Path::new(CACHE).join(format!("{name}.tar"));
    if tar.is_file() && !rebuild() {
        eprintln!("images: {} (cached)", tar.display());
        return tar;
    }
    assert!(
        Path::new(DEBOOTSTRAP).is_file(),
        "{DEBOOTSTRAP} is missing: apt-get install -y debootstrap (`just test-images` does)"
    );
    let debs = Path::new(CACHE).join("debs");
    fs::create_dir_all(&debs).unwrap_or_else(|e| panic!("{}: {e}", debs.display()));
    let tree = Tree(Path::new(CACHE).join(format!("{name}.{}", std::process::id())));
    let _ = fs::remove_dir_all(&tree.0);
    let t0 = Instant::now();
    let mut c = sc
        .cmd(DEBOOTSTRAP)
        .arg("--variant=minbase")
        .arg(format!("--cache-dir={}", debs.display()));
    if let Some(pkgs) = include {
        c = c.arg(format!("--include={pkgs}"));
    }
    let o = c
        .arg(SUITE)
        .arg(&tree.0)
        .arg(debian_mirror())
        .timeout(DEBOOTSTRAP_SLOW)
        .run();
    if o.code != Some(0) {
        panic!(
            "debootstrap {name} failed ({:?}):\n{}{}",
            o.code,
            tail(&o.stdout),
            tail(&o.stderr)
        );
    }
    let new = tar.with_extension("tar.new");
    let o = sc
        .cmd("/bin/tar")
        .arg("-C")
        .arg(&tree.0)
        .args([
            "--exclude=./var/cache/apt/archives/*.deb",
            "--exclude=./var/lib/apt/lists/*",
            "-cf",
        ])
        .arg(&new)
        .arg(".")
        .timeout(TAR_SLOW)
        .run();
    drop(tree);
    o.code(0).stderr("");
    fs::rename(&new, &tar).unwrap_or_else(|e| panic!("{}: {e}", tar.display()));
    eprintln!(
        "images: debootstrap {name} into {} took {:?}",
        tar.display(),
        t0.elapsed()
    );
    tar
}

/// A debootstrap tree, removed on drop (also when debootstrap fails or is killed at its
/// deadline), after unmounting whatever a failed run left mounted in it.
struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        for m in mounts_under(&self.0) {
            let _ = std::process::Command::new("/bin/umount")
                .arg("-l")
                .arg(m)
                .status();
        }
        if let Err(e) = fs::remove_dir_all(&self.0) {
            if e.kind() != std::io::ErrorKind::NotFound {
                eprintln!("warning: unable to remove {}: {e}", self.0.display());
            }
        }
    }
}

/// The last lines of a command's output.
fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let mut t = lines[lines.len().saturating_sub(20)..].join("\n");
    t.push('\n');
    t
}

/// `docker import TAR TAG`.
fn import(d: &Dockerd, sc: &Scenario, tar: &Path, tag: &str) {
    let t0 = Instant::now();
    d.docker(sc)
        .arg("import")
        .arg(tar)
        .arg(tag)
        .timeout(BUILD_SLOW)
        .run()
        .code(0)
        .stderr("");
    eprintln!("images: docker import {tag} took {:?}", t0.elapsed());
}

/// `docker build -q --network none -f FILE -t TAG CTX`: the base images are all here, and the
/// recipes' `RUN` steps need no network.
fn build_file(d: &Dockerd, sc: &Scenario, ctx: &Path, file: &Path, tag: &str) {
    let t0 = Instant::now();
    let o = d
        .docker(sc)
        .args(["build", "-q", "--network", "none", "-f"])
        .arg(file)
        .args(["-t", tag])
        .arg(ctx)
        .timeout(BUILD_SLOW)
        .run();
    o.code(0).stderr("");
    eprintln!("images: docker build {tag} took {:?}", t0.elapsed());
}

/// Makes the base image a recipe starts `FROM` in the private dockerd, once.
fn provide_base(d: &Dockerd, sc: &Scenario, from: &str, made: &mut Vec<String>) {
    if from == "scratch" || made.iter().any(|m| m == from) {
        return;
    }
    match from {
        DEBIAN_BASE => import(
            d,
            sc,
            &cached_rootfs(sc, "debian-minbase", None),
            DEBIAN_BASE,
        ),
        PHUSION_BASE => {
            let tar = cached_rootfs(sc, "phusion-rootfs", Some(PHUSION_PACKAGES));
            import(d, sc, &tar, PHUSION_ROOTFS);
            let ctx = sc.join("phusion-base");
            sc.script("phusion-base/layout/sbin/my_init", MY_INIT);
            sc.script("phusion-base/layout/etc/service/cron/run", CRON_RUN);
            sc.script("phusion-base/layout/etc/service/cron/log/run", CRON_LOG_RUN);
            let file = sc.file(
                "phusion-base/Dockerfile",
                &format!("FROM {PHUSION_ROOTFS}\n{PHUSION_LAYER}"),
                0o644,
            );
            build_file(d, sc, &ctx, &file, PHUSION_BASE);
        }
        other => panic!(
            "{DOC} builds FROM {other}: tests/images.rs knows how to make only scratch, \
             {DEBIAN_BASE} and {PHUSION_BASE}"
        ),
    }
    made.push(from.to_string());
}

/// The services of a tree, sorted: each directory with a `run`, and whether it has `log/run`.
fn services_in(tree: &Path) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = fs::read_dir(tree)
        .unwrap_or_else(|e| panic!("{}: {e}", tree.display()))
        .flatten()
        .filter(|e| e.path().join("run").is_file())
        .map(|e| {
            let logged = e.path().join("log/run").is_file();
            (e.file_name().to_string_lossy().into_owned(), logged)
        })
        .collect();
    v.sort();
    v
}

/// Copies a service tree, leaving out `supervise` (what `just run` leaves in the repository's
/// `service/`: state, not part of the tree).
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for e in fs::read_dir(from)
        .unwrap_or_else(|e| panic!("{}: {e}", from.display()))
        .flatten()
    {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let ty = e.file_type().expect("file type");
        if e.file_name() == "supervise" {
            continue;
        } else if ty.is_dir() {
            copy_tree(&src, &dst);
        } else if ty.is_symlink() {
            symlink(fs::read_link(&src).expect("readlink"), &dst).expect("symlink");
        } else {
            fs::copy(&src, &dst).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        }
    }
}

/// Runs a staging block of the doc as printed, in `sc/DIR` laid out like the repository:
/// `scripts` and `target` link to the repository's (so `scripts/release.sh` builds there and
/// `scripts/install.sh` finds its build), `service/` is a copy. Returns the dir.
fn stage(sc: &Scenario, dir: &str, staging: &str) -> PathBuf {
    let ctx = sc.join(dir);
    fs::create_dir_all(&ctx).expect("ctx");
    symlink(repo().join("scripts"), ctx.join("scripts")).expect("scripts link");
    symlink(target_dir(), ctx.join("target")).expect("target link");
    copy_tree(&repo().join("service"), &ctx.join("service"));
    let t0 = Instant::now();
    let o = sc
        .cmd("/bin/sh")
        .arg("-ec")
        .arg(staging)
        .current_dir(&ctx)
        .timeout(STAGING_SLOW)
        .run();
    o.code(0);
    eprintln!("images: staging {dir} took {:?}", t0.elapsed());
    ctx
}

/// `sv status` of `services`, exactly as runit's sv prints it, once all run.
fn wait_services_up(d: &Dockerd, sc: &Scenario, c: &str, services: &[(String, bool)]) -> String {
    let want: String = services
        .iter()
        .map(|(s, logged)| match logged {
            true => format!("run: {s}: (pid N) Ns; run: log: (pid N) Ns\n"),
            false => format!("run: {s}: (pid N) Ns\n"),
        })
        .collect();
    poll(&format!("{c}: every service running"), IMAGES_UP, || {
        let o = d
            .docker(sc)
            .args(["exec", c, "sv", "status"])
            .args(services.iter().map(|(s, _)| s))
            .run();
        if o.code == Some(0) && o.stderr.is_empty() && normalize(&o.stdout) == want {
            Ok(o.stdout)
        } else {
            Err(format!("{o:?}\nwant (normalized):\n{want}"))
        }
    })
}

/// `sv restart NAME` in the container (`docker exec --user U` when `user` is given), once NAME
/// has run for a second (runit's sv counts a service started in its own second as restarted
/// already: docs/sv.md, Notes): `ok: run: NAME: (pid NEW) 0s`, NEW another pid than OLD.
fn restart(d: &Dockerd, sc: &Scenario, c: &str, user: Option<&str>, name: &str, old: u32) {
    poll(&format!("{c}: {name} up for a second"), IMAGES_UP, || {
        let o = d.docker(sc).args(["exec", c, "sv", "status", name]).run();
        let secs = o
            .stdout
            .strip_prefix(&format!("run: {name}: (pid {old}) "))
            .and_then(|r| r.split('s').next()?.parse::<u32>().ok());
        match secs {
            Some(s) if s >= 1 => Ok(()),
            _ => Err(format!("{o:?}")),
        }
    });
    let mut exec = d.docker(sc).arg("exec");
    if let Some(u) = user {
        exec = exec.args(["--user", u]);
    }
    let o = exec.args([c, "sv", "restart", name]).run();
    o.code(0).stderr("");
    let new = pids_in(&o.stdout).first().copied().unwrap_or(0);
    o.stdout(&format!("ok: run: {name}: (pid {new}) 0s\n"));
    assert_ne!(new, old, "{c}: sv restart {name} kept the old pid");
}

/// The images built so far, each made once: its staging and Dockerfile, the tag, the build
/// context. Recipes that share a staging share its context.
#[derive(Default)]
struct Built {
    contexts: Vec<(String, PathBuf)>,
    images: Vec<(String, String, String)>,
    bases: Vec<String>,
}

impl Built {
    /// The recipe's image (staged and built unless an earlier recipe made the same one) and its
    /// build context.
    fn image(&mut self, d: &Dockerd, sc: &Scenario, recipe: &Recipe) -> (String, PathBuf) {
        let name = slug(&recipe.heading);
        let ctx = match self.contexts.iter().find(|(s, _)| *s == recipe.staging) {
            Some((_, ctx)) => ctx.clone(),
            None => {
                let ctx = stage(sc, &format!("ctx-{name}"), &recipe.staging);
                self.contexts.push((recipe.staging.clone(), ctx.clone()));
                ctx
            }
        };
        let same =
            |(s, f, _): &&(String, String, String)| *s == recipe.staging && *f == recipe.dockerfile;
        if let Some((_, _, tag)) = self.images.iter().find(same) {
            eprintln!("images: {:?} runs {tag}", recipe.heading);
            return (tag.clone(), ctx);
        }
        provide_base(d, sc, from_image(&recipe.dockerfile), &mut self.bases);
        let file = sc.file(format!("Dockerfile.{name}"), &recipe.dockerfile, 0o644);
        let tag = format!("herd-images:{name}");
        build_file(d, sc, &ctx, &file, &tag);
        self.images.push((
            recipe.staging.clone(),
            recipe.dockerfile.clone(),
            tag.clone(),
        ));
        (tag, ctx)
    }
}

/// The recipe in a container run with its section's options: services up, `sv restart` (of the
/// service and as the user its section names, or of the first service), `docker stop` and its
/// exit code; returns how long the stop took.
fn check_recipe(d: &Dockerd, sc: &Scenario, recipe: &Recipe, built: &mut Built) -> Duration {
    let name = slug(&recipe.heading);
    let (tag, ctx) = built.image(d, sc, recipe);
    // The services: the staged tree in the images that copy it, the base's in phusion's.
    let services = match from_image(&recipe.dockerfile) {
        PHUSION_BASE => vec![("cron".to_string(), true)],
        _ => services_in(&ctx.join("service")),
    };
    assert!(!services.is_empty(), "{name}: no service to check");
    let o = d
        .docker(sc)
        .args(["run", "-d", "--network", "none", "--name", &name])
        .args(&recipe.run.options)
        .arg(&tag)
        .timeout(DOCKER_SLOW)
        .run();
    o.code(0).stderr("");
    let status = wait_services_up(d, sc, &name, &services);
    let (user, service) = match &recipe.run.restart {
        Some(r) => (r.user.as_deref(), r.service.as_str()),
        None => (None, services[0].0.as_str()),
    };
    let Some(i) = services.iter().position(|(s, _)| s == service) else {
        panic!(
            "{:?}: `sv restart {service}`, but the image's services are {services:?}",
            recipe.heading
        );
    };
    let old = pids_in(status.lines().nth(i).unwrap_or_default())[0];
    restart(d, sc, &name, user, service, old);
    wait_services_up(d, sc, &name, &services);
    let took = stop(d, sc, &[], &name);
    let code = exit_code(d, sc, &name);
    if code.trim_end() != recipe.stop_code.to_string() {
        let logs = d.docker(sc).args(["logs", &name]).run();
        panic!(
            "{:?}: docker stop took {took:?} and exited {}, the doc says {}\ndocker logs:\n{}{}",
            recipe.heading,
            code.trim_end(),
            recipe.stop_code,
            logs.stdout,
            logs.stderr
        );
    }
    d.docker(sc)
        .args(["rm", &name])
        .run()
        .code(0)
        .stdout(&format!("{name}\n"));
    took
}

/// Every Dockerfile of docs/docker.md, built as printed from what its staging block makes, each
/// run as its section says: services up, `sv restart`, and `docker stop`'s exit code as the doc
/// states it.
#[test]
#[ignore = "builds every Dockerfile of docs/docker.md (minutes, the Debian mirror): just test-images"]
fn docker_md_recipes_build_and_run_as_printed() {
    let t0 = Instant::now();
    let doc = doc_recipes();
    for f in &doc.fragments {
        eprintln!("images: {f:?}: a fragment (no FROM), not built");
    }
    let sc = Scenario::new();
    let d = Dockerd::start();
    let mut built = Built::default();
    let mut report = Vec::new();
    for r in &doc.recipes {
        let t = Instant::now();
        let took = check_recipe(&d, &sc, r, &mut built);
        report.push(format!(
            "{:?}: built and checked in {:?}; docker stop took {took:?} and exited {}",
            r.heading,
            t.elapsed(),
            r.stop_code
        ));
    }
    drop(d);
    for l in report {
        eprintln!("images: {l}");
    }
    eprintln!("images: all of {DOC} in {:?}", t0.elapsed());
}

/// docs/docker.md as the image test reads it: six recipes with the exit code each section states,
/// the read-only one staged by its own block (with the supervise links) and run with its options,
/// "Non-root" running that image as 1000; the others staged by `FROM scratch`'s block; the
/// `HEALTHCHECK` line a fragment.
#[test]
fn docker_md_states_each_recipes_stop_code() {
    let doc = doc_recipes();
    let got: Vec<(&str, &str, String, Option<Restart>, i32)> = doc
        .recipes
        .iter()
        .map(|r| {
            (
                r.heading.as_str(),
                from_image(&r.dockerfile),
                r.run.options.join(" "),
                r.run.restart.clone(),
                r.stop_code,
            )
        })
        .collect();
    let hello = |user: Option<&str>| {
        Some(Restart {
            user: user.map(str::to_string),
            service: "hello".into(),
        })
    };
    assert_eq!(
        got,
        [
            ("`FROM scratch`", "scratch", String::new(), None, 0),
            (
                "Read-only root",
                "scratch",
                "--read-only --tmpfs /run".into(),
                hello(None),
                0
            ),
            (
                "Non-root",
                "scratch",
                "--user 1000:1000 --read-only --tmpfs /run:uid=1000,gid=1000".into(),
                hello(Some("1000:1000")),
                0
            ),
            (
                "Debian (or any distribution)",
                DEBIAN_BASE,
                String::new(),
                None,
                0
            ),
            (
                "phusion/baseimage with runit swapped for herd",
                PHUSION_BASE,
                String::new(),
                None,
                2
            ),
            ("herd's own my_init", PHUSION_BASE, String::new(), None, 0),
        ]
    );
    let r = &doc.recipes;
    assert!(r[0].staging.starts_with("scripts/release.sh\n"), "{r:?}");
    assert!(!r[0].staging.contains("supervise-links.sh"), "{r:?}");
    assert!(r[1].staging.starts_with("scripts/release.sh\n"), "{r:?}");
    assert!(
        r[1].staging
            .lines()
            .any(|l| l.starts_with("scripts/supervise-links.sh img/etc/service")),
        "{r:?}"
    );
    assert_eq!(
        (&r[2].staging, &r[2].dockerfile),
        (&r[1].staging, &r[1].dockerfile)
    );
    for later in &r[3..] {
        assert_eq!(later.staging, r[0].staging, "{:?}", later.heading);
    }
    assert_eq!(doc.fragments, ["Health checks"]);
}

/// The reader on a page of its own: a recipe's staging is the `sh` block just before its
/// Dockerfile (not one elsewhere), else the first recipe's; a `sh` block after the Dockerfile
/// gives the run options and the restart line, continuations joined; a section with only a
/// `docker run … IMG` block runs the image above it; a statement may wrap; a block without
/// `FROM` is a fragment.
#[test]
fn recipe_reader_takes_blocks_sections_and_stated_codes() {
    let md = "# t\n\n## Run scripts\n\n```sh\nexec x\n```\n\n## One\n\nStage:\n\n```sh\n\
              make img\n```\n\n```dockerfile\nFROM scratch\nCOPY img/ /\n```\n\nThen `docker \
              stop` exits 3 here,\nand `docker stop`\nexits 3 is said once: no. \n\n## Two\n\n\
              ```dockerfile\nHEALTHCHECK CMD [\"sv\", \"health\"]\n```\n\n## Three\n\n\
              `docker stop` exits 12.\n\n```dockerfile\nFROM debian:bookworm-slim\n```\n\n\
              ```sh\ndocker run -d --name c --read-only \\\n    --tmpfs /run IMG   # a comment\n\
              docker exec c sv restart a      # ok: run: a: (pid N) 0s\n```\n\n\
              ## Four\n\nStage it again:\n\n```sh\nmake img2\n```\n\n```dockerfile\n\
              FROM scratch\n```\n\n```sh\ndocker exec c sv status a\n```\n\n\
              `docker stop` exits 0.\n\n## Five\n\n```sh\n# docker run -d --name c IMG\n\
              docker run --user 1:1 -d --tmpfs /run:uid=1 --name c IMG\n\
              docker exec --user 1:1 c sv restart b\n```\n\n`docker stop` exits 5.\n\n\
              ## Six\n\n```sh\ndocker exec c sv restart b\n```\n";
    assert_eq!(
        read_recipes(md),
        Err(
            "section \"One\" has a recipe (a Dockerfile or a `docker run … IMG` line), so it \
             must say \"`docker stop` exits N\" once (tests/images.rs checks that code): it says \
             it 2 times"
                .into()
        )
    );
    let md = md.replace("and `docker stop`\nexits 3 is said once: no.", "");
    let opts = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        read_recipes(&md),
        Ok(Recipes {
            recipes: vec![
                Recipe {
                    heading: "One".into(),
                    staging: "make img\n".into(),
                    dockerfile: "FROM scratch\nCOPY img/ /\n".into(),
                    run: Run::default(),
                    stop_code: 3
                },
                Recipe {
                    heading: "Three".into(),
                    staging: "make img\n".into(),
                    dockerfile: "FROM debian:bookworm-slim\n".into(),
                    run: Run {
                        options: opts(&["--read-only", "--tmpfs", "/run"]),
                        restart: Some(Restart {
                            user: None,
                            service: "a".into()
                        })
                    },
                    stop_code: 12
                },
                Recipe {
                    heading: "Four".into(),
                    staging: "make img2\n".into(),
                    dockerfile: "FROM scratch\n".into(),
                    run: Run::default(),
                    stop_code: 0
                },
                Recipe {
                    heading: "Five".into(),
                    staging: "make img2\n".into(),
                    dockerfile: "FROM scratch\n".into(),
                    run: Run {
                        options: opts(&["--user", "1:1", "--tmpfs", "/run:uid=1"]),
                        restart: Some(Restart {
                            user: Some("1:1".into()),
                            service: "b".into()
                        })
                    },
                    stop_code: 5
                },
            ],
            fragments: vec!["Two".into()],
        })
    );
    // What the reader refuses rather than run something else than what is printed.
    let refused = |from: &str, to: &str| read_recipes(&md.replace(from, to)).unwrap_err();
    assert_eq!(
        refused("--tmpfs /run:uid=1 --name c IMG", "--name c IMG sh"),
        "section \"Five\": \"docker run --user 1:1 -d --name c IMG sh\": the test runs IMG's own \
         command: nothing may follow IMG"
    );
    assert_eq!(
        refused("--user 1:1 -d --tmpfs", "--user 1:1 --tmpfs"),
        "section \"Five\": \"docker run --user 1:1 --tmpfs /run:uid=1 --name c IMG\": the test \
         runs the container detached: `-d` is missing"
    );
    assert_eq!(
        refused(
            "--name c IMG\ndocker exec --user",
            "--name c IMG\ndocker run -d --name c IMG\ndocker exec --user"
        ),
        "section \"Five\": \"docker run -d --name c IMG\": a second `docker run` line: which one \
         does the test run?"
    );
    assert_eq!(
        refused("## One\n\nStage:\n\n```sh\nmake img\n```\n", "## One\n\n"),
        "section \"One\": the page's first Dockerfile needs the `sh` block that stages its build \
         context just before it"
    );
    assert_eq!(slug("herd's own my_init"), "herd-s-own-my-init");
    assert_eq!(slug("`FROM scratch`"), "from-scratch");
}

/// The mirror as apt's two source formats give it.
#[test]
fn mirror_is_read_from_both_source_formats() {
    let deb822 = "Types: deb\n# a comment\nURIs: http://security.example/debian-security\n\
                  Suites: bookworm-security\nComponents: main\n\n\
                  Types: deb deb-src\nURIs: http://mirror.example/debian\n\
                  Suites: bookworm bookworm-updates\nComponents: main contrib\n";
    assert_eq!(
        mirror_deb822(deb822).as_deref(),
        Some("http://mirror.example/debian")
    );
    assert_eq!(
        mirror_deb822(
            "Types: deb\nURIs: http://x/\nSuites: bookworm\nComponents: main\nEnabled: no\n"
        ),
        None
    );
    let list = "deb http://security.example/ bookworm-security main\n\
                deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main\n";
    assert_eq!(
        mirror_one_line(list).as_deref(),
        Some("http://mirror.example/debian")
    );
}
