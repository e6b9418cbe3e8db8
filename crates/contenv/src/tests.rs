//! Tests against real files, real shells and Python's `json`. Checks that change the process
//! environment, or need another uid, run in a child process: the test binary re-runs one
//! `#[ignore]`d helper test (`--exact tests::NAME --ignored`), so the environment of the tests
//! running in parallel here is never touched.

use super::*;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Tells a helper test which directory to work on; unset in a normal test run.
const CHILD_DIR: &str = "HERD_CONTENV_TEST_DIR";
/// Set for the export helper when it should write per-variable files.
const CHILD_TO_DIR: &str = "HERD_CONTENV_TEST_TO_DIR";
/// The uid and gid of `nobody`.
const NOBODY: &str = "65534";
const SETPRIV: &str = "/usr/bin/setpriv";

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let p = env::temp_dir().join(format!("herd-contenv-{}-{n}-{label}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir(&p).unwrap();
        // Traversable by the uid the permission test switches to, whatever our umask.
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(p)
    }

    /// A subdirectory, created.
    fn mkdir(&self, name: &str) -> PathBuf {
        let d = self.0.join(name);
        fs::create_dir(&d).unwrap();
        d
    }
}

/// Makes every directory writable again, so that removal works without root.
fn make_writable(p: &Path) {
    if fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()) {
        let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o755));
        if let Ok(entries) = fs::read_dir(p) {
            for e in entries.flatten() {
                make_writable(&e.path());
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        make_writable(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn os(b: &[u8]) -> OsString {
    OsStr::from_bytes(b).to_os_string()
}

fn pairs(list: &[(&[u8], &[u8])]) -> Vec<(OsString, OsString)> {
    list.iter().map(|(n, v)| (os(n), os(v))).collect()
}

fn write(dir: &Path, name: &[u8], value: &[u8]) {
    fs::write(dir.join(OsStr::from_bytes(name)), value).unwrap();
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().mode() & 0o7777
}

/// This process's umask, from `/proc/self/status`.
fn umask() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The variables of the export tests, in no particular order; `SPACES` is given twice.
const TRICKY: &[(&[u8], &[u8])] = &[
    (b"SPACES", b"two words"),
    (b"EMPTY", b""),
    (b"SQUOTE", b"it's"),
    (b"DQUOTE", b"say \"hi\""),
    (b"DOLLAR", b"$HOME `id`"),
    (b"BACKSLASH", b"a\\b"),
    (b"NEWLINE", b"l1\nl2\n"),
    (b"TAB", b"a\tb"),
    ("UNICODE".as_bytes(), "é😀".as_bytes()),
    (b"BYTES", b"\xff\xfe"),
    (b"my-name.x", b"dash-dot"),
    (b"N\xffX", b"name"),
    (b"1ST", b"digit"),
    (b"a/b", b"slash"),
    (b".dot", b"dot"),
    (b"HOME", b"/root"),
    (b"SHELL", b"/bin/sh"),
    (b"SAFE", b"a@b%c+d=e:f,g./h-i"),
    (b"CTRL", b"\x01\x7f\r\x08\x0c"),
    (b"SPACES", b"dup: the first one counts"),
];

/// [`TRICKY`] as export sees it: sorted by name bytes, the first of two equal names kept.
fn tricky_sorted() -> Vec<(OsString, OsString)> {
    let mut v = pairs(TRICKY);
    v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    v.dedup_by(|b, a| a.0 == b.0);
    v
}

const TRICKY_SH: &[u8] = b"export _dot=dot
export BACKSLASH='a\\b'
export BYTES='\xff\xfe'
export CTRL='\x01\x7f\r\x08\x0c'
export DOLLAR='$HOME `id`'
export DQUOTE='say \"hi\"'
export EMPTY=''
export NEWLINE='l1
l2
'
export N_X=name
export SAFE=a@b%c+d=e:f,g./h-i
export SPACES='two words'
export SQUOTE='it'\"'\"'s'
export TAB='a\tb'
export UNICODE='\xc3\xa9\xf0\x9f\x98\x80'
export a_b=slash
export my_name_x=dash-dot
";

const TRICKY_JSON: &str = concat!(
    r#"{".dot": "dot", "1ST": "digit", "BACKSLASH": "a\\b", "BYTES": "\udcff\udcfe", "#,
    r#""CTRL": "\u0001\u007f\r\b\f", "DOLLAR": "$HOME `id`", "DQUOTE": "say \"hi\"", "#,
    r#""EMPTY": "", "HOME": "/root", "NEWLINE": "l1\nl2\n", "N\udcffX": "name", "#,
    r#""SAFE": "a@b%c+d=e:f,g./h-i", "SHELL": "/bin/sh", "SPACES": "two words", "#,
    r#""SQUOTE": "it's", "TAB": "a\tb", "UNICODE": "\u00e9\ud83d\ude00", "a/b": "slash", "#,
    r#""my-name.x": "dash-dot"}"#,
);

#[test]
fn paths_are_siblings_of_the_directory() {
    let ce = ContainerEnv::new("/etc/container_environment//");
    assert_eq!(ce.dir(), Path::new("/etc/container_environment"));
    assert_eq!(ce.sh_path(), Path::new("/etc/container_environment.sh"));
    assert_eq!(ce.json_path(), Path::new("/etc/container_environment.json"));
    assert_eq!(ContainerEnv::new("/").dir(), Path::new("/"));
}

#[test]
fn read_strips_one_newline_and_skips_what_is_not_a_variable() {
    let t = TempDir::new("read");
    let d = t.mkdir("env");
    write(&d, b"ONE", b"x\n");
    write(&d, b"TWO", b"y\n\n");
    write(&d, b"NONE", b"z");
    write(&d, b"EMPTY", b"");
    write(&d, b"NL", b"\n");
    write(&d, b"CRLF", b"w\r\n");
    write(&d, b"N\xffX", b"v\xfe\n");
    write(&d, b".hidden", b"h");
    fs::create_dir(d.join("SUBDIR")).unwrap();
    write(&d.join("SUBDIR"), b"INNER", b"i");
    let fifo = Command::new("mkfifo").arg(d.join("FIFO")).status().unwrap();
    assert!(fifo.success());
    std::os::unix::fs::symlink("ONE", d.join("LINK")).unwrap();
    std::os::unix::fs::symlink("nowhere", d.join("DANGLING")).unwrap();

    let got = ContainerEnv::new(&d).read().unwrap();
    let want = pairs(&[
        (b"CRLF", b"w\r"),
        (b"EMPTY", b""),
        (b"LINK", b"x"),
        (b"NL", b""),
        (b"NONE", b"z"),
        (b"N\xffX", b"v\xfe"),
        (b"ONE", b"x"),
        (b"TWO", b"y\n"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn missing_directory_reads_empty_and_disables_export() {
    let t = TempDir::new("missing");
    let ce = ContainerEnv::new(t.0.join("nope"));
    assert_eq!(ce.read().unwrap(), Vec::new());
    ce.export(&pairs(&[(b"A", b"1")]), true).unwrap();
    assert!(!ce.sh_path().exists());
    assert!(!ce.json_path().exists());
    assert_eq!(fs::read_dir(&t.0).unwrap().count(), 0);
}

#[test]
fn a_file_in_place_of_the_directory_is_a_failure() {
    let t = TempDir::new("notdir");
    let f = t.0.join("file");
    fs::write(&f, "").unwrap();

    let e = ContainerEnv::new(&f).read().unwrap_err();
    assert_eq!(e.action, "open directory");
    assert_eq!(e.path, f);
    let want = format!("unable to open directory {}: not a directory", f.display());
    assert_eq!(e.to_string(), want);

    let below = f.join("env");
    let e = ContainerEnv::new(&below).export(&[], true).unwrap_err();
    let want = format!(
        "unable to open directory {}: not a directory",
        below.display()
    );
    assert_eq!(e.to_string(), want);
}

#[test]
fn export_writes_exact_bytes() {
    let t = TempDir::new("export");
    let d = t.mkdir("env");
    let ce = ContainerEnv::new(&d);
    // Existing files are rewritten in place and keep their mode.
    fs::write(
        ce.sh_path(),
        "old contents, longer than the new ones? no, but truncated",
    )
    .unwrap();
    fs::set_permissions(ce.sh_path(), fs::Permissions::from_mode(0o600)).unwrap();
    write(&d, b"EMPTY", b"old value");
    fs::set_permissions(d.join("EMPTY"), fs::Permissions::from_mode(0o604)).unwrap();

    ce.export(&pairs(TRICKY), true).unwrap();

    assert_eq!(fs::read(ce.sh_path()).unwrap(), TRICKY_SH);
    assert_eq!(fs::read_to_string(ce.json_path()).unwrap(), TRICKY_JSON);

    // One file per variable: not the skip list, not the names that cannot be read back.
    let mut files: Vec<OsString> = fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    files.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let want_files: Vec<(OsString, OsString)> = tricky_sorted()
        .into_iter()
        .filter(|(n, _)| !is_skipped(n) && ![&b"a/b"[..], b".dot"].contains(&n.as_bytes()))
        .collect();
    let names: Vec<OsString> = want_files.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(files, names);
    for (n, v) in &want_files {
        assert_eq!(fs::read(d.join(n)).unwrap(), v.as_bytes(), "{n:?}");
    }

    let mask = umask();
    assert_eq!(mode(&ce.sh_path()), 0o600);
    assert_eq!(mode(&d.join("EMPTY")), 0o604);
    assert_eq!(mode(&ce.json_path()), DUMP_FILE_MODE & !mask);
    assert_eq!(mode(&d.join("TAB")), VAR_FILE_MODE & !mask);

    // Reading back gives every value, except that one trailing newline is gone (as in phusion).
    let back: Vec<(OsString, OsString)> = want_files
        .into_iter()
        .map(|(n, v)| {
            let v = v.as_bytes().strip_suffix(b"\n").map(os).unwrap_or(v);
            (n, v)
        })
        .collect();
    assert_eq!(ce.read().unwrap(), back);
}

#[test]
fn export_without_to_dir_writes_only_the_dumps() {
    let t = TempDir::new("nodir");
    let d = t.mkdir("env");
    let ce = ContainerEnv::new(&d);
    ce.export(
        &pairs(&[(b"B", b"x y"), (b"A", b"1"), (b"USER", b"u")]),
        false,
    )
    .unwrap();
    assert_eq!(fs::read_dir(&d).unwrap().count(), 0);
    assert_eq!(
        fs::read_to_string(ce.sh_path()).unwrap(),
        "export A=1\nexport B='x y'\n"
    );
    assert_eq!(
        fs::read_to_string(ce.json_path()).unwrap(),
        r#"{"A": "1", "B": "x y", "USER": "u"}"#
    );
    ce.export(&[], false).unwrap();
    assert_eq!(fs::read_to_string(ce.sh_path()).unwrap(), "");
    assert_eq!(fs::read_to_string(ce.json_path()).unwrap(), "{}");
}

#[test]
fn export_stops_at_a_failure_with_a_runit_message() {
    let t = TempDir::new("eisdir");
    let d = t.mkdir("env");
    fs::create_dir(d.join("B")).unwrap();
    let ce = ContainerEnv::new(&d);
    let e = ce
        .export(&pairs(&[(b"A", b"1"), (b"B", b"2"), (b"C", b"3")]), true)
        .unwrap_err();
    assert_eq!(e.action, "write");
    assert_eq!(e.path, d.join("B"));
    assert_eq!(
        e.to_string(),
        format!("unable to write {}: is a directory", d.join("B").display())
    );
    assert_eq!(fs::read(d.join("A")).unwrap(), b"1");
    assert!(!d.join("C").exists());
    assert!(!ce.sh_path().exists());
}

/// Sources the `.sh` dump in `shell` and checks every variable byte for byte.
fn check_sourced(shell: &[&str], sh_file: &Path, want: &[(Vec<u8>, &OsStr)]) {
    let script = want
        .iter()
        .map(|(n, _)| format!(" \"${}\"", String::from_utf8_lossy(n)))
        .fold(String::from(". \"$1\" && printf '%s\\0'"), |s, v| s + &v);
    let out = Command::new(shell[0])
        .args(&shell[1..])
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .arg(sh_file)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell:?}: {}",
        show(&out)
    );
    let got: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
    assert_eq!(got.len(), want.len() + 1, "{shell:?}: {}", show(&out));
    for ((n, v), g) in want.iter().zip(&got) {
        assert_eq!(
            *g,
            v.as_bytes(),
            "{shell:?}: ${}",
            String::from_utf8_lossy(n)
        );
    }
}

#[test]
fn sourcing_the_sh_dump_gives_back_every_value() {
    let t = TempDir::new("source");
    let d = t.mkdir("env");
    let ce = ContainerEnv::new(&d);
    let vars = tricky_sorted();
    ce.export(&vars, false).unwrap();
    let want: Vec<(Vec<u8>, &OsStr)> = vars
        .iter()
        .filter(|(n, _)| !is_skipped(n))
        .map(|(n, v)| {
            let mut s = Vec::new();
            shell_name(n.as_bytes(), &mut s);
            (s, v.as_os_str())
        })
        .filter(|(s, _)| encode::is_shell_name(s))
        .collect();
    assert_eq!(want.len(), 16);
    check_sourced(&["/bin/sh"], &ce.sh_path(), &want);
    if Path::new("/bin/busybox").exists() {
        check_sourced(&["/bin/busybox", "sh"], &ce.sh_path(), &want);
    }
    if Path::new("/bin/bash").exists() {
        check_sourced(&["/bin/bash"], &ce.sh_path(), &want);
    }
}

/// Checks the JSON dump with Python: `json.loads` gives back the pairs (in order, with
/// undecodable bytes as `surrogateescape` characters), and `json.dumps` of the same dict is
/// byte for byte our file.
const PY_CHECK_JSON: &str = r#"
import json, sys
raw = open(sys.argv[1], 'rb').read().split(b'\0')[:-1]
dec = lambda b: b.decode('utf-8', 'surrogateescape')
pairs = [(dec(raw[i]), dec(raw[i + 1])) for i in range(0, len(raw), 2)]
ours = open(sys.argv[2], 'rb').read()
loaded = list(json.loads(ours.decode('ascii')).items())
assert loaded == pairs, ('loads', loaded, pairs)
want = json.dumps(dict(pairs)).encode('ascii')
assert ours == want, ('dumps', ours, want)
print('ok', len(pairs))
"#;

#[test]
fn python_reads_the_json_dump_and_writes_the_same_bytes() {
    let t = TempDir::new("json");
    let d = t.mkdir("env");
    let ce = ContainerEnv::new(&d);
    ce.export(&pairs(TRICKY), false).unwrap();
    let vars = tricky_sorted();
    let mut raw = Vec::new();
    for (n, v) in &vars {
        raw.extend_from_slice(n.as_bytes());
        raw.push(0);
        raw.extend_from_slice(v.as_bytes());
        raw.push(0);
    }
    let raw_file = t.0.join("pairs");
    fs::write(&raw_file, raw).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(PY_CHECK_JSON)
        .arg(&raw_file)
        .arg(ce.json_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("ok {}\n", vars.len())
    );
}

/// Runs the `#[ignore]`d helper test `name` of this binary in a child process.
fn run_child(name: &str, prefix: &[&str], setup: impl FnOnce(&mut Command)) -> Output {
    let exe = env::current_exe().unwrap();
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env_clear();
    setup(&mut cmd);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name}: {}",
        show(&out)
    );
    out
}

#[test]
fn import_sets_and_replaces_the_environment() {
    let t = TempDir::new("import");
    let d = t.mkdir("env");
    write(&d, b"KEEP", b"file\n");
    write(&d, b"NEW", b"new\n");
    write(&d, b"HOME", b"/from/file");
    write(&d, b"N\xff", b"\xfe");
    write(&d, b"EQ=X", b"1");
    write(&d, b"NUL", b"a\0b");
    write(&d, b".hidden", b"h");
    run_child("tests::import_child", &[], |c| {
        c.env(CHILD_DIR, &d)
            .env("KEEP", "orig")
            .env("HOME", "/home/x")
            .env("USER", "u")
            .env("OTHER", "o");
    });
}

fn env_snapshot() -> Vec<(OsString, OsString)> {
    let mut v: Vec<(OsString, OsString)> = env::vars_os().collect();
    v.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    v
}

#[test]
#[ignore = "helper: run in a child process by import_sets_and_replaces_the_environment"]
fn import_child() {
    let Some(dir) = env::var_os(CHILD_DIR) else {
        return;
    };
    let d = PathBuf::from(&dir);
    let ce = ContainerEnv::new(&d);
    let refused = vec![os(b"EQ=X"), os(b"NUL")];

    assert_eq!(ce.import_initial().unwrap(), refused);
    let want = pairs(&[
        (b"HERD_CONTENV_TEST_DIR", dir.as_bytes()),
        (b"HOME", b"/home/x"),
        (b"KEEP", b"orig"),
        (b"NEW", b"new"),
        (b"N\xff", b"\xfe"),
        (b"OTHER", b"o"),
        (b"USER", b"u"),
    ]);
    assert_eq!(env_snapshot(), want);

    // What a start-up script does: change a value, delete one, add one.
    write(&d, b"KEEP", b"changed\n");
    fs::remove_file(d.join("NEW")).unwrap();
    write(&d, b"ADDED", b"a");
    assert_eq!(ce.import_replace().unwrap(), refused);
    let want = pairs(&[
        (b"ADDED", b"a"),
        (b"HOME", b"/from/file"),
        (b"KEEP", b"changed"),
        (b"N\xff", b"\xfe"),
        (b"USER", b"u"),
    ]);
    assert_eq!(env_snapshot(), want);

    // A failed read leaves the environment alone.
    let broken = ContainerEnv::new(d.join("KEEP"));
    assert!(broken.import_replace().is_err());
    assert_eq!(env_snapshot(), want);
}

/// Whether permission bits stop this process (false for root and CAP_DAC_OVERRIDE).
fn permission_bits_apply(t: &TempDir) -> bool {
    let probe = t.mkdir("probe");
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o555)).unwrap();
    let applies = File::create(probe.join("x")).is_err();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).unwrap();
    fs::remove_dir_all(&probe).unwrap();
    applies
}

/// Runs [`export_child`] on `dir` (as nobody when we are privileged) and returns its result line.
fn export_as_user(dir: &Path, to_dir: bool, privileged: bool) -> String {
    let setpriv = [
        SETPRIV,
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
    ];
    let prefix: &[&str] = if privileged { &setpriv } else { &[] };
    let out = run_child("tests::export_child", prefix, |c| {
        c.env(CHILD_DIR, dir);
        if to_dir {
            c.env(CHILD_TO_DIR, "1");
        }
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // libtest's "test NAME ... " precedes the line on the same row.
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r));
    line.unwrap_or_else(|| panic!("no result line: {}", show(&out)))
        .to_string()
}

#[test]
fn export_without_write_permission_is_access_denied() {
    let t = TempDir::new("perm");
    let d = t.mkdir("env");
    let ce = ContainerEnv::new(&d);
    let privileged = !permission_bits_apply(&t);
    assert!(
        !privileged || Path::new(SETPRIV).exists(),
        "running privileged: {SETPRIV} is needed to test as an unprivileged user"
    );
    let ro = fs::Permissions::from_mode(0o555);
    fs::set_permissions(&d, ro.clone()).unwrap();
    fs::set_permissions(&t.0, ro).unwrap();

    let var = d.join("A");
    let want = format!("unable to write {}: access denied", var.display());
    assert_eq!(export_as_user(&d, true, privileged), want);
    let want = format!("unable to write {}: access denied", ce.sh_path().display());
    assert_eq!(export_as_user(&d, false, privileged), want);

    // Writable DIR, DIR.sh and DIR.json are enough; their parent stays read-only.
    fs::set_permissions(&t.0, fs::Permissions::from_mode(0o755)).unwrap();
    for f in [ce.sh_path(), ce.json_path()] {
        fs::write(&f, "old").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o666)).unwrap();
    }
    fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(&t.0, fs::Permissions::from_mode(0o555)).unwrap();
    assert_eq!(export_as_user(&d, true, privileged), "ok");
    assert_eq!(fs::read(&var).unwrap(), b"1");
    assert_eq!(fs::read_to_string(ce.sh_path()).unwrap(), "export A=1\n");
    assert_eq!(fs::read_to_string(ce.json_path()).unwrap(), r#"{"A": "1"}"#);
    assert_eq!(mode(&ce.sh_path()), 0o666);
    if privileged {
        let nobody: u32 = NOBODY.parse().unwrap();
        assert_eq!(fs::metadata(&var).unwrap().uid(), nobody);
        // Rewritten in place: still ours.
        let ours = fs::metadata(&t.0).unwrap().uid();
        assert_eq!(fs::metadata(ce.sh_path()).unwrap().uid(), ours);
    }
}

#[test]
#[ignore = "helper: run in a child process by export_without_write_permission_is_access_denied"]
fn export_child() {
    let Some(dir) = env::var_os(CHILD_DIR) else {
        return;
    };
    let to_dir = env::var_os(CHILD_TO_DIR).is_some();
    match ContainerEnv::new(dir).export(&pairs(&[(b"A", b"1")]), to_dir) {
        Ok(()) => println!("RESULT ok"),
        Err(e) => println!("RESULT {e}"),
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    /// A file name: any bytes but `/` and NUL, not `.` or `..`.
    fn file_name() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            any::<u8>().prop_filter("a name byte", |&b| b != b'/' && b != 0),
            1..12,
        )
        .prop_filter("not . or ..", |n| n != b"." && n != b"..")
    }

    proptest! {
        // Real files: the long mode's case count is capped here.
        #![proptest_config(ProptestConfig {
            cases: ProptestConfig::default().cases.min(20_000),
            ..ProptestConfig::default()
        })]

        /// A directory of any names and values reads back sorted, without dot files, each value
        /// with one trailing newline less.
        #[test]
        fn prop_read_any_files(
            files in prop::collection::btree_map(file_name(), prop::collection::vec(any::<u8>(), 0..20), 0..6)
        ) {
            let t = TempDir::new("prop");
            for (n, v) in &files {
                write(&t.0, n, v);
            }
            let got = ContainerEnv::new(&t.0).read().unwrap();
            let want: Vec<(OsString, OsString)> = files
                .iter()
                .filter(|(n, _)| !n.starts_with(b"."))
                .map(|(n, v)| (os(n), os(v.strip_suffix(b"\n").unwrap_or(v))))
                .collect();
            prop_assert_eq!(got, want);
        }
    }
}
