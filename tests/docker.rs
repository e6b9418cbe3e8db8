//! herd in a real Docker container (issue 8): a private `dockerd` (tests/dockerd.rs), a `FROM
//! scratch` image whose `/usr/bin` is filled by `scripts/install.sh` from the static release
//! build, busybox for `sh`, and `svscan /etc/service` as PID 1. Checked as a user would: `sv
//! status` and `sv restart` through `docker exec`, `docker logs`, then `docker stop`: every TERM
//! handler ran, the logger got the last line, the stop is quick and the exit code is svscan's (0;
//! 124 when a service that ignores TERM had to be killed at the bound). Issue 15: an app that
//! depends on a database (`dependencies.d/`, `notification-fd`) starts after it is ready and stops
//! before it. See docs/docker.md.
//!
//! Needs root, `docker.io`, `busybox-static` and `scripts/release.sh`: it fails, never skips,
//! without them.
//!
//! Each scenario (a container) is its own test, and they share one private dockerd, a
//! [`Shared`] fixture: the first test that needs it starts it, and the last one to finish, also
//! when it panics, stops dockerd by its pid and removes its dirs. Each image is built once, by
//! the first test that needs it, in that dockerd. Containers have a name per scenario, so
//! scenarios can run at the same time. Scenarios that do not overlap (the harness picks the
//! order) each start a dockerd of their own and build again: slower, never wrong.

mod health;
mod rootless;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use herd_testsupport::*;

use crate::dockerd::*;

/// Where `scripts/release.sh` puts the static binary, under the target dir.
const RELEASE_DIR: &str = "x86_64-unknown-linux-gnu/release";
/// The one binary `scripts/install.sh` installs (every tool is a link to it).
const BINARY: &str = "herd";
/// busybox-static's binary, and the applets the run scripts use.
const BUSYBOX: &str = "/bin/busybox";
const APPLETS: [&str; 6] = ["sh", "sleep", "httpd", "wget", "touch", "cat"];
const IMAGE: &str = "herd-test:polite";
const IMAGE_STUBBORN: &str = "herd-test:stubborn";
/// The base image as a phusion/baseimage-style image: `CMD ["/sbin/my_init"]` (herd's).
const IMAGE_PHUSION: &str = "herd-test:phusion";
/// A start-up script of the phusion image: it sees the container environment and changes it.
const MY_INIT_D: &str = "#!/bin/sh\n\
    echo \"10_env saw FOO=$FOO\" >> /out/init\n\
    echo changed > /etc/container_environment/FOO\n";
/// svscan's shutdown bound in the stubborn container (`SVSCAN_STOP_TIMEOUT`).
const STUBBORN_BOUND: Duration = Duration::from_secs(3);

/// Logs numbered lines through its logger (`svlog -tt /out/logged`); on TERM, logs a last line.
const RUN_LOGGED: &str = "#!/bin/sh\n\
    trap 'echo graceful stop; echo logged >> /out/term; exit 0' TERM\n\
    i=0\n\
    while :; do i=$((i+1)); echo \"line $i\"; sleep 0.1 </dev/null >/dev/null 2>&1 & wait $!; done\n";
const RUN_LOGGED_LOG: &str = "#!/bin/sh\nexec svlog -tt /out/logged\n";
/// Writes numbered lines to svscan's stdout, which is the container's: `docker logs`.
const RUN_STDOUT: &str = "#!/bin/sh\n\
    trap 'echo stdout graceful stop; echo stdout >> /out/term; exit 0' TERM\n\
    i=0\n\
    while :; do i=$((i+1)); echo \"stdout line $i\"; sleep 0.1 </dev/null >/dev/null 2>&1 & wait $!; done\n";
/// The apache2 run script of phusion-based images: trap, start the daemon in the foreground,
/// `wait` (with `exec` the trap would be gone). The trap stops the daemon before it exits, or a
/// restart would leave the old one holding the port.
const RUN_APACHE2: &str = "#!/bin/sh\n\
    trap 'kill $daemon; wait $daemon 2>/dev/null; echo graceful-stop >> /out/apache2.marker; exit 0' 1 2 3 6 15\n\
    httpd -f -p 127.0.0.1:8080 -h /var/www &\n\
    daemon=$!\n\
    wait\n";
const INDEX_HTML: &str = "apache2 is up\n";
/// Ignores TERM, and so do its `sleep`s (an ignored signal stays ignored across exec).
const RUN_STUBBORN: &str = "#!/bin/sh\n\
    trap '' TERM\n\
    echo up > /out/stubborn.up\n\
    while :; do sleep 0.1; done\n";
const STUBBORN_WARNING: &str =
    "svscan /etc/service: warning: stubborn did not stop in time: killed\n";

/// The app/database image (issue 15): `db` and `app` only, `svscan /etc/service` as entrypoint.
const IMAGE_PAIR: &str = "herd-test:pair";
/// A fake database: ready (a newline on its `notification-fd` 3) two seconds after it starts,
/// saying `db ready` on stdout just before, so that the line comes before anything its
/// readiness lets start. Its pid goes to `/out/db.pid`. Its `sleep`s run in the background
/// (`wait` lets the trap run at once) with their own stdio, and the trap kills the one running.
const RUN_DB: &str = "#!/bin/sh\n\
    trap 'kill $s 2>/dev/null; echo db stopping; exit 0' TERM\n\
    echo $$ > /out/db.pid\n\
    sleep 2 </dev/null >/dev/null 2>&1 & s=$!\n\
    wait $s\n\
    echo db ready\n\
    echo >&3\n\
    exec 3>&-\n\
    while :; do sleep 1000 </dev/null >/dev/null 2>&1 & s=$!; wait $s; done\n";
/// The app (`dependencies.d/db`): at its start it copies db's `supervise/ready` line to
/// `/out/app.saw-db`; its TERM trap finishes its last requests (0.2 s: a database stopped at
/// the same time has exited by then) and says whether db's process (`supervise/pid`, empty when
/// db is down) still runs (busybox's `kill -0 ""` succeeds: the `-n` test is needed).
const RUN_APP: &str = "#!/bin/sh\n\
    trap 'kill $s 2>/dev/null; sleep 0.2; read -r db < /etc/service/db/supervise/pid; \
    if [ -n \"$db\" ] && kill -0 \"$db\" 2>/dev/null; then echo \"app stopping, db up\"; \
    else echo \"app stopping, db down\"; fi; exit 0' TERM\n\
    read -r l < /etc/service/db/supervise/ready\n\
    echo \"$l\" > /out/app.saw-db\n\
    echo app starting\n\
    while :; do sleep 1000 </dev/null >/dev/null 2>&1 & s=$!; wait $s; done\n";
/// How long db takes to be ready, and the least time from the container's start to the app's.
const DB_READY_AFTER: Duration = Duration::from_secs(2);

/// The health image (issue 16): `db` (ready 2 s after its start, `/out/db-ready` written then)
/// and `flaky` (exits 1 at once while `/out/break` exists), with `HEALTHCHECK CMD ["sv",
/// "health"]` every second; failures in the first 10 s do not count (db's start).
const IMAGE_HEALTH: &str = "herd-test:health";
const RUN_HEALTH_DB: &str = "#!/bin/sh\n\
    sleep 2 </dev/null >/dev/null 2>&1\n\
    echo > /out/db-ready\n\
    echo >&3\n\
    exec 3>&-\n\
    exec sleep 100000 </dev/null >/dev/null 2>&1\n";
const RUN_FLAKY: &str = "#!/bin/sh\n\
    if [ -e /out/break ]; then exit 1; fi\n\
    exec sleep 100000 </dev/null >/dev/null 2>&1\n";
const HEALTHCHECK: &str =
    "HEALTHCHECK --interval=1s --timeout=2s --start-period=10s --retries=2 CMD [\"sv\", \"health\"]\n";
/// Debian's docker-compose, by path.
const COMPOSE: &str = "/usr/bin/docker-compose";
/// The app of the compose pair: the health image with another entry point, which says whether
/// db was ready when it started.
const COMPOSE_FILE: &str = "version: \"2.1\"\n\
services:\n\
\x20 db:\n\
\x20   image: herd-test:health\n\
\x20   network_mode: none\n\
\x20   volumes: [\"OUT:/out\"]\n\
\x20 app:\n\
\x20   image: herd-test:health\n\
\x20   network_mode: none\n\
\x20   volumes: [\"OUT:/out\"]\n\
\x20   entrypoint: [\"/bin/sh\", \"-c\", \"if [ -e /out/db-ready ]; then echo yes; else echo no; fi > /out/app-saw-db; exec sleep 100000\"]\n\
\x20   depends_on:\n\
\x20     db:\n\
\x20       condition: service_healthy\n";

/// The static release build: `scripts/release.sh` puts it in the target dir.
fn release_dir() -> PathBuf {
    let dir = target_dir().join(RELEASE_DIR);
    let p = dir.join(BINARY);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/release.sh first (the docker test needs the static build)",
        p.display()
    );
    assert_static(&p, "run scripts/release.sh");
    dir
}

/// Panics unless `p` is an ELF executable without an interpreter (`PT_INTERP`): it runs in a
/// `FROM scratch` image, with no libc or loader there.
fn assert_static(p: &Path, hint: &str) {
    const PT_INTERP: u32 = 3;
    let b = fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    assert!(
        b.len() > 64 && b.starts_with(b"\x7fELF\x02\x01"),
        "{} is not a 64-bit little-endian ELF file",
        p.display()
    );
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    let interp = (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        b.get(o..o + 4)
            .is_some_and(|t| u32::from_le_bytes(t.try_into().expect("4 bytes")) == PT_INTERP)
    });
    assert!(
        !interp,
        "{} is dynamically linked: {hint} (the image has no libc)",
        p.display()
    );
}

/// Checks that `lines` are `{prefix}1`, `{prefix}2`, … (at least one), then `last` if given;
/// returns how many numbered lines there are.
#[track_caller]
fn numbered(lines: &[&str], prefix: &str, last: Option<&str>) -> usize {
    let (body, tail) = match last {
        Some(l) => {
            assert_eq!(lines.last().copied(), Some(l), "last line of {lines:?}");
            (&lines[..lines.len() - 1], Some(l))
        }
        None => (lines, None),
    };
    let want: Vec<String> = (1..=body.len()).map(|i| format!("{prefix}{i}")).collect();
    assert!(!body.is_empty(), "no numbered line in {lines:?}");
    assert_eq!(body, want, "numbered lines (then {tail:?})");
    body.len()
}

/// The text of an `svlog -tt` line: it starts with `YYYY-MM-DD_HH:MM:SS.xxxxx `.
#[track_caller]
fn strip_stamp(line: &str) -> &str {
    const SHAPE: &[u8] = b"dddd-dd-dd_dd:dd:dd.ddddd ";
    let ok = line.len() >= SHAPE.len()
        && line.bytes().zip(SHAPE).all(|(c, &s)| match s {
            b'd' => c.is_ascii_digit(),
            _ => c == s,
        });
    assert!(ok, "not an svlog -tt line: {line:?}");
    &line[SHAPE.len()..]
}

/// The texts of the complete lines `svlog -tt` wrote to `OUT/logged/current` (a line being
/// written while the file is read is left out).
fn logged_lines(out: &Path) -> Vec<String> {
    fs::read_to_string(out.join("logged/current"))
        .unwrap_or_default()
        .split_inclusive('\n')
        .filter_map(|l| l.strip_suffix('\n'))
        .map(|l| strip_stamp(l).to_string())
        .collect()
}

/// The texts of every line in `OUT/logged/current` once the logger has exited: the file ends
/// with a newline.
#[track_caller]
fn logged_final(out: &Path) -> Vec<String> {
    let current = fs::read_to_string(out.join("logged/current")).unwrap_or_default();
    assert!(current.ends_with('\n'), "log ends mid-line: {current:?}");
    logged_lines(out)
}

/// Sorted lines of a file ("" if missing).
fn sorted_lines(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// The build context of the base image: the [`bare_rootfs`], three services in `/etc/service`.
fn base_context(sc: &Scenario, release: &Path) -> PathBuf {
    let ctx = sc.join("ctx");
    bare_rootfs(sc, &ctx.join("rootfs"), release);
    sc.file("ctx/rootfs/var/www/index.html", INDEX_HTML, 0o644);
    sc.service("ctx/rootfs/etc/service/logged", RUN_LOGGED);
    sc.script("ctx/rootfs/etc/service/logged/log/run", RUN_LOGGED_LOG);
    sc.service("ctx/rootfs/etc/service/stdout", RUN_STDOUT);
    sc.service("ctx/rootfs/etc/service/apache2", RUN_APACHE2);
    sc.file(
        "ctx/Dockerfile",
        "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/usr/bin/svscan\", \"/etc/service\"]\n",
        0o644,
    );
    ctx
}

/// A root file system without services: `/usr/bin` from `scripts/install.sh`, busybox and its
/// applets in `/bin`.
fn bare_rootfs(sc: &Scenario, rootfs: &Path, release: &Path) {
    sc.cmd("/bin/sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install.sh"))
        .arg(rootfs)
        .arg("/usr")
        .arg(release)
        .run()
        .code(0)
        .stdout("")
        .stderr("");
    assert!(
        Path::new(BUSYBOX).is_file(),
        "{BUSYBOX} is missing: apt-get install -y busybox-static"
    );
    assert_static(Path::new(BUSYBOX), "apt-get install -y busybox-static");
    fs::create_dir_all(rootfs.join("bin")).expect("bin");
    fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("copy busybox");
    for a in APPLETS {
        symlink("busybox", rootfs.join("bin").join(a)).expect("applet link");
    }
}

/// The stubborn image: the base one plus a service that ignores TERM.
fn stubborn_context(sc: &Scenario) -> PathBuf {
    sc.service("ctx2/stubborn", RUN_STUBBORN);
    sc.file(
        "ctx2/Dockerfile",
        &format!("FROM {IMAGE}\nCOPY stubborn/ /etc/service/stubborn/\n"),
        0o644,
    );
    sc.join("ctx2")
}

/// The phusion-style image (issue 9): the base image with `/sbin/my_init -> /usr/bin/svscan`, a
/// start-up script, a container environment file, prefixed logs, and `CMD ["/sbin/my_init"]`.
fn phusion_context(sc: &Scenario) -> PathBuf {
    sc.script("ctx3/rootfs/etc/my_init.d/10_env", MY_INIT_D);
    sc.file("ctx3/rootfs/etc/container_environment/FOO", "orig\n", 0o644);
    fs::create_dir_all(sc.join("ctx3/rootfs/sbin")).expect("sbin");
    symlink("/usr/bin/svscan", sc.join("ctx3/rootfs/sbin/my_init")).expect("my_init link");
    sc.file(
        "ctx3/Dockerfile",
        &format!(
            "FROM {IMAGE}\nCOPY rootfs/ /\nENV SVSCAN_LOG_PREFIX=1\n\
             ENTRYPOINT []\nCMD [\"/sbin/my_init\"]\n"
        ),
        0o644,
    );
    sc.join("ctx3")
}

/// The app/database image: the [`bare_rootfs`] with `db` (`notification-fd` 3) and `app`
/// (`dependencies.d/db`) in `/etc/service`.
fn pair_context(sc: &Scenario, release: &Path) -> PathBuf {
    let ctx = sc.join("ctx4");
    bare_rootfs(sc, &ctx.join("rootfs"), release);
    sc.service("ctx4/rootfs/etc/service/db", RUN_DB);
    sc.file("ctx4/rootfs/etc/service/db/notification-fd", "3\n", 0o644);
    sc.service("ctx4/rootfs/etc/service/app", RUN_APP);
    sc.file("ctx4/rootfs/etc/service/app/dependencies.d/db", "", 0o644);
    sc.file(
        "ctx4/Dockerfile",
        "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/usr/bin/svscan\", \"/etc/service\"]\n",
        0o644,
    );
    ctx
}

/// The health image: the [`bare_rootfs`] with `db` and `flaky`, and the `HEALTHCHECK`.
fn health_context(sc: &Scenario, release: &Path) -> PathBuf {
    let ctx = sc.join("ctx5");
    bare_rootfs(sc, &ctx.join("rootfs"), release);
    sc.service("ctx5/rootfs/etc/service/db", RUN_HEALTH_DB);
    sc.file("ctx5/rootfs/etc/service/db/notification-fd", "3\n", 0o644);
    sc.service("ctx5/rootfs/etc/service/flaky", RUN_FLAKY);
    sc.file(
        "ctx5/Dockerfile",
        &format!(
            "FROM scratch\nCOPY rootfs/ /\n{HEALTHCHECK}ENTRYPOINT [\"/usr/bin/svscan\", \"/etc/service\"]\n"
        ),
        0o644,
    );
    ctx
}

/// `docker inspect`'s health status of NAME (`starting`, `healthy`, `unhealthy`).
fn health_status(d: &Dockerd, sc: &Scenario, name: &str) -> String {
    let o = d
        .docker(sc)
        .args(["inspect", "-f", "{{.State.Health.Status}}", name])
        .run();
    o.code(0).stderr("");
    o.stdout.trim_end().to_string()
}

#[track_caller]
fn build(d: &Dockerd, sc: &Scenario, ctx: &Path, tag: &str) {
    d.docker(sc)
        .args(["build", "-q", "--network", "none", "-t", tag])
        .arg(ctx)
        .timeout(DOCKER_SLOW)
        .run()
        .code(0)
        .stderr("");
}

/// `docker run -d --network none --name NAME -v OUT:/out [EXTRA…] IMAGE`, with `OUT/logged`
/// there for svlog.
#[track_caller]
fn run_container(d: &Dockerd, sc: &Scenario, name: &str, out: &Path, extra: &[&str], image: &str) {
    fs::create_dir_all(out.join("logged")).expect("out dir");
    let o = d
        .docker(sc)
        .args(["run", "-d", "--network", "none", "--name", name, "-v"])
        .arg(format!("{}:/out", out.display()))
        .args(extra)
        .arg(image)
        .timeout(DOCKER_SLOW)
        .run();
    o.code(0).stderr("");
    assert_eq!(o.stdout.len(), 65, "container id: {:?}", o.stdout);
}

/// Polls `docker exec NAME sh -c 'sv status /etc/service/*'` until every service runs (runit's
/// lines, exactly: `run: /etc/service/NAME: (pid N) Ns`, and `; run: log: (pid M) Ns` for the
/// one with a logger); returns the output.
#[track_caller]
fn wait_all_running(d: &Dockerd, sc: &Scenario, name: &str, services: &[&str]) -> String {
    let want: String = services
        .iter()
        .map(|s| match *s {
            "logged" => "run: /etc/service/logged: (pid N) Ns; run: log: (pid N) Ns\n".to_string(),
            s => format!("run: /etc/service/{s}: (pid N) Ns\n"),
        })
        .collect();
    poll("every service running", UP, || {
        let o = d
            .docker(sc)
            .args(["exec", name, "sh", "-c", "sv status /etc/service/*"])
            .run();
        if o.code == Some(0) && o.stderr.is_empty() && normalize(&o.stdout) == want {
            Ok(o.stdout)
        } else {
            Err(format!("{o:?}"))
        }
    })
}

/// What the scenarios share: the private dockerd, the build contexts (one scenario dir) and the
/// static release build they are made from, and which images are built.
struct Docker {
    dockerd: Dockerd,
    ctx: Scenario,
    release: PathBuf,
    base: OnceLock<()>,
    stubborn: OnceLock<()>,
    phusion: OnceLock<()>,
    pair: OnceLock<()>,
    health: OnceLock<()>,
}

static SHARED: Shared<Docker> = Shared::new();

/// A lease on the shared dockerd, started if no scenario holds one. The release build is
/// checked first, so that a missing one fails at once.
fn docker() -> Lease<Docker> {
    SHARED.lease(|| {
        let release = release_dir();
        Docker {
            dockerd: Dockerd::start(),
            ctx: Scenario::new(),
            release,
            base: OnceLock::new(),
            stubborn: OnceLock::new(),
            phusion: OnceLock::new(),
            pair: OnceLock::new(),
            health: OnceLock::new(),
        }
    })
}

// A build that fails leaves its OnceLock empty: the next scenario that needs the image builds
// it again and fails with the same message.
impl Docker {
    /// Builds [`IMAGE`] unless it is built.
    fn base_image(&self) {
        self.base.get_or_init(|| {
            let ctx = base_context(&self.ctx, &self.release);
            build(&self.dockerd, &self.ctx, &ctx, IMAGE);
        });
    }

    /// Builds [`IMAGE_STUBBORN`] (and the base image) unless it is built.
    fn stubborn_image(&self) {
        self.base_image();
        self.stubborn.get_or_init(|| {
            let ctx = stubborn_context(&self.ctx);
            build(&self.dockerd, &self.ctx, &ctx, IMAGE_STUBBORN);
        });
    }

    /// Builds [`IMAGE_PHUSION`] (and the base image) unless it is built.
    fn phusion_image(&self) {
        self.base_image();
        self.phusion.get_or_init(|| {
            let ctx = phusion_context(&self.ctx);
            build(&self.dockerd, &self.ctx, &ctx, IMAGE_PHUSION);
        });
    }

    /// Builds [`IMAGE_PAIR`] unless it is built.
    fn pair_image(&self) {
        self.pair.get_or_init(|| {
            let ctx = pair_context(&self.ctx, &self.release);
            build(&self.dockerd, &self.ctx, &ctx, IMAGE_PAIR);
        });
    }

    /// Builds [`IMAGE_HEALTH`] unless it is built.
    fn health_image(&self) {
        self.health.get_or_init(|| {
            let ctx = health_context(&self.ctx, &self.release);
            build(&self.dockerd, &self.ctx, &ctx, IMAGE_HEALTH);
        });
    }
}

/// The base image in a container: services up, `sv restart`, `docker logs`, `docker stop`.
#[test]
fn polite_container() {
    let docker = docker();
    docker.base_image();
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    let out = sc.join("out-polite");
    run_container(d, sc, "polite", &out, &[], IMAGE);
    let status = wait_all_running(d, sc, "polite", &["apache2", "logged", "stdout"]);
    let old = pids_in(&status)[0];
    // runit's sv takes a service that started in the second sv started as already restarted
    // (docs/sv.md, Notes): a restart in apache2's first second could report the old pid.
    poll("apache2 up for a second", Duration::from_secs(3), || {
        let o = d
            .docker(sc)
            .args(["exec", "polite", "sv", "status", "apache2"])
            .run();
        let up = o
            .stdout
            .strip_prefix(&format!("run: apache2: (pid {old}) "));
        match up.and_then(|r| r.strip_suffix("s\n")?.parse::<u32>().ok()) {
            Some(secs) if secs >= 1 => Ok(()),
            _ => Err(format!("{o:?}")),
        }
    });

    // `sv` finds apache2 under SVDIR's default, /etc/service/.
    let o = d
        .docker(sc)
        .args(["exec", "polite", "sv", "restart", "apache2"])
        .run();
    o.code(0).stderr("");
    let new = pids_in(&o.stdout).first().copied().unwrap_or(0);
    o.stdout(&format!("ok: run: apache2: (pid {new}) 0s\n"));
    assert_ne!(new, old, "sv restart kept the old pid");
    assert_eq!(
        fs::read_to_string(out.join("apache2.marker")).unwrap_or_default(),
        "graceful-stop\n",
        "apache2's trap on restart"
    );
    let o = d
        .docker(sc)
        .args(["exec", "polite", "sv", "status", "apache2"])
        .run();
    o.code(0)
        .stderr("")
        .stdout_norm("run: apache2: (pid N) Ns\n");
    assert_eq!(pids_in(&o.stdout), [new]);
    poll("the restarted apache2 to serve", UP, || {
        let o = d
            .docker(sc)
            .args(["exec", "polite", "wget", "-qO-", "http://127.0.0.1:8080/"])
            .run();
        (o.code == Some(0) && o.stdout == INDEX_HTML)
            .then_some(())
            .ok_or(format!("{o:?}"))
    });

    // The stdout service's lines are the container's output; the logged one's go to svlog.
    poll("3 lines in docker logs and in the log", UP, || {
        let o = d.docker(sc).args(["logs", "polite"]).run();
        o.code(0).stderr("");
        let logged = logged_lines(&out);
        let lines: Vec<&str> = o.stdout.lines().collect();
        if lines.len() >= 3 && logged.len() >= 3 {
            numbered(&lines, "stdout line ", None);
            numbered(
                &logged.iter().map(String::as_str).collect::<Vec<_>>(),
                "line ",
                None,
            );
            Ok(())
        } else {
            Err(format!("docker logs: {lines:?}\nlogged: {logged:?}"))
        }
    });

    let took = stop(d, sc, &[], "polite");
    eprintln!("docker stop polite took {took:?}");
    assert!(took < Duration::from_secs(2), "docker stop took {took:?}");
    assert_eq!(exit_code(d, sc, "polite"), "0\n");
    assert_eq!(sorted_lines(&out.join("term")), ["logged", "stdout"]);
    assert_eq!(
        fs::read_to_string(out.join("apache2.marker")).unwrap_or_default(),
        "graceful-stop\ngraceful-stop\n",
        "apache2's trap on restart, then on stop"
    );
    let logged = logged_final(&out);
    let n = numbered(
        &logged.iter().map(String::as_str).collect::<Vec<_>>(),
        "line ",
        Some("graceful stop"),
    );
    let o = d.docker(sc).args(["logs", "polite"]).run();
    o.code(0).stderr("");
    let m = numbered(
        &o.stdout.lines().collect::<Vec<_>>(),
        "stdout line ",
        Some("stdout graceful stop"),
    );
    eprintln!("polite: {n} lines logged, {m} lines in docker logs");
    d.docker(sc)
        .args(["rm", "polite"])
        .run()
        .code(0)
        .stdout("polite\n");
}

/// The base image plus a service that ignores TERM, with a 3 s bound: it is SIGKILLed after three
/// quarters of the bound and the stop ends within the bound, before Docker's 10 s KILL, every
/// other service stopped as usual, and svscan exits 124.
#[test]
fn stubborn_container() {
    let docker = docker();
    docker.stubborn_image();
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    let out = sc.join("out-stubborn");
    let bound = format!("SVSCAN_STOP_TIMEOUT={}", STUBBORN_BOUND.as_secs());
    run_container(d, sc, "stubborn", &out, &["-e", &bound], IMAGE_STUBBORN);
    wait_all_running(
        d,
        sc,
        "stubborn",
        &["apache2", "logged", "stdout", "stubborn"],
    );
    wait_for("the stubborn service's trap", UP, || {
        out.join("stubborn.up").exists()
    });
    wait_for("a line in the log", UP, || !logged_lines(&out).is_empty());

    let took = stop(d, sc, &["-t", "10"], "stubborn");
    eprintln!("docker stop -t 10 stubborn (SVSCAN_STOP_TIMEOUT=3) took {took:?}");
    assert!(
        took >= STUBBORN_BOUND * 3 / 4 && took < STUBBORN_BOUND + Duration::from_millis(500),
        "docker stop took {took:?}"
    );
    // Docker's own KILL would make it 137.
    assert_eq!(exit_code(d, sc, "stubborn"), "124\n");
    assert_eq!(sorted_lines(&out.join("term")), ["logged", "stdout"]);
    assert_eq!(
        fs::read_to_string(out.join("apache2.marker")).unwrap_or_default(),
        "graceful-stop\n"
    );
    let logged = logged_final(&out);
    numbered(
        &logged.iter().map(String::as_str).collect::<Vec<_>>(),
        "line ",
        Some("graceful stop"),
    );
    let o = d.docker(sc).args(["logs", "stubborn"]).run();
    o.code(0).stderr(STUBBORN_WARNING);
    numbered(
        &o.stdout.lines().collect::<Vec<_>>(),
        "stdout line ",
        Some("stdout graceful stop"),
    );
    d.docker(sc)
        .args(["rm", "stubborn"])
        .run()
        .code(0)
        .stdout("stubborn\n");
}

/// herd's my_init as a phusion image's CMD: start-up script and environment, prefixed `docker
/// logs`, `docker stop` exits 0 at once.
#[test]
fn phusion_container() {
    let docker = docker();
    docker.phusion_image();
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    let out = sc.join("out-phusion");
    run_container(d, sc, "phusion", &out, &[], IMAGE_PHUSION);
    wait_all_running(d, sc, "phusion", &["apache2", "logged", "stdout"]);
    assert_eq!(
        fs::read_to_string(out.join("init")).unwrap_or_default(),
        "10_env saw FOO=orig\n"
    );
    // Every service sees what the start-up script wrote.
    d.docker(sc)
        .args(["exec", "phusion", "sh", "-c"])
        .arg(". /etc/container_environment.sh && echo \"FOO=$FOO\"")
        .run()
        .code(0)
        .stderr("")
        .stdout("FOO=changed\n");
    // The stdout service's lines, prefixed; the logged one's go to its logger, not here.
    poll("prefixed lines in docker logs", UP, || {
        let o = d.docker(sc).args(["logs", "phusion"]).run();
        let lines: Vec<&str> = o.stdout.lines().collect();
        if lines.len() >= 3 {
            numbered(&lines, "[stdout] stdout line ", None);
            Ok(())
        } else {
            Err(format!("{o:?}"))
        }
    });
    let took = stop(d, sc, &[], "phusion");
    eprintln!("docker stop phusion (my_init) took {took:?}");
    assert!(took < Duration::from_secs(1), "docker stop took {took:?}");
    assert_eq!(exit_code(d, sc, "phusion"), "0\n");
    assert_eq!(sorted_lines(&out.join("term")), ["logged", "stdout"]);
    let o = d.docker(sc).args(["logs", "phusion"]).run();
    o.code(0);
    numbered(
        &o.stdout.lines().collect::<Vec<_>>(),
        "[stdout] stdout line ",
        Some("[stdout] stdout graceful stop"),
    );
    assert_eq!(
        o.stderr,
        "*** Running /etc/my_init.d/10_env...\n\
         *** Starting the services in /etc/service...\n\
         *** Shutting down...\n\
         *** Stopping the services...\n\
         *** Killing all processes...\n"
    );
    d.docker(sc)
        .args(["rm", "phusion"])
        .run()
        .code(0)
        .stdout("phusion\n");
}

/// herd's my_init as a phusion image's CMD with a main command:
/// `docker run IMG /sbin/my_init -- sh -c 'exit 3'`: the container exits 3.
#[test]
fn phusion_main_command_exit_code_is_the_containers() {
    let docker = docker();
    docker.phusion_image();
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    let out3 = sc.join("out-phusion3");
    fs::create_dir_all(out3.join("logged")).expect("out dir");
    let o = d
        .docker(sc)
        .args(["run", "--network", "none", "--name", "phusion3", "-v"])
        .arg(format!("{}:/out", out3.display()))
        .args([IMAGE_PHUSION, "/sbin/my_init", "--quiet", "--", "sh", "-c"])
        .arg("until [ -s /out/logged/current ]; do sleep 0.01; done; exit 3")
        .timeout(DOCKER_SLOW)
        .run();
    o.code(3);
    assert_eq!(exit_code(d, sc, "phusion3"), "3\n");
    assert_eq!(sorted_lines(&out3.join("term")), ["logged", "stdout"]);
    d.docker(sc)
        .args(["rm", "phusion3"])
        .run()
        .code(0)
        .stdout("phusion3\n");
}

/// The app/database pair (issue 15): `app` (`dependencies.d/db`) starts once `db` is ready
/// (`notification-fd`, 2 s after it starts) and not before, and `docker logs` says so in that
/// order; at `docker stop` svscan stops the app while the database still runs, then the
/// database, and exits 0.
#[test]
fn app_starts_after_its_database_is_ready_and_stops_before_it() {
    let docker = docker();
    docker.pair_image();
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    let out = sc.join("out-pair");
    let t0 = Instant::now();
    run_container(d, sc, "pair", &out, &[], IMAGE_PAIR);
    let started = poll("db ready, then app starting, in docker logs", UP, || {
        let o = d.docker(sc).args(["logs", "pair"]).run();
        o.code(0);
        let want = "db ready\napp starting\n";
        if o.stdout == want {
            return Ok(t0.elapsed());
        }
        // Anything but a beginning of the expected lines fails at once.
        assert!(
            want.starts_with(&o.stdout),
            "docker logs pair: {:?}, want {want:?}",
            o.stdout
        );
        Err(format!("{o:?}"))
    });
    assert!(
        started >= DB_READY_AFTER,
        "app started {started:?} after docker run, db takes {DB_READY_AFTER:?} to be ready"
    );
    // What db's supervise said when app's run started: ready, for the db that runs.
    let db_pid = fs::read_to_string(out.join("db.pid")).unwrap_or_default();
    let saw = fs::read_to_string(out.join("app.saw-db")).unwrap_or_default();
    let stamp = saw
        .strip_prefix(&format!("ready {} @", db_pid.trim_end()))
        .and_then(|r| r.strip_suffix('\n'));
    assert!(
        stamp.is_some_and(|t| t.len() == 24 && t.bytes().all(|c| c.is_ascii_hexdigit())),
        "app's run saw db's supervise/ready say {saw:?} (db's pid: {db_pid:?})"
    );

    let took = stop(d, sc, &[], "pair");
    eprintln!("app started {started:?} after docker run; docker stop pair took {took:?}");
    assert!(took < Duration::from_secs(2), "docker stop took {took:?}");
    assert_eq!(exit_code(d, sc, "pair"), "0\n");
    d.docker(sc)
        .args(["logs", "pair"])
        .run()
        .code(0)
        .stdout("db ready\napp starting\napp stopping, db up\ndb stopping\n")
        .stderr("supervise app: waiting for db\n");
    d.docker(sc)
        .args(["rm", "pair"])
        .run()
        .code(0)
        .stdout("pair\n");
}

/// `HEALTHCHECK CMD ["sv", "health"]` (issue 16): `starting` while db is not ready, then
/// `healthy`; `unhealthy` once `flaky` is down and wanted up (it exits 1 at each start).
#[test]
fn healthcheck_follows_sv_health() {
    let docker = docker();
    docker.health_image();
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    let out = sc.join("out-health");
    run_container(d, sc, "health", &out, &[], IMAGE_HEALTH);
    let first = health_status(d, sc, "health");
    assert_eq!(first, "starting");
    poll(
        "health: healthy",
        Duration::from_secs(20),
        || match health_status(d, sc, "health").as_str() {
            "healthy" => Ok(()),
            "starting" => Err("starting".into()),
            other => panic!("health went {other:?} before healthy"),
        },
    );
    assert!(out.join("db-ready").exists(), "healthy before db was ready");
    fs::write(out.join("break"), "").expect("break flaky");
    d.docker(sc)
        .args(["exec", "health", "sv", "term", "flaky"])
        .run()
        .code(0);
    poll(
        "health: unhealthy",
        Duration::from_secs(20),
        || match health_status(d, sc, "health").as_str() {
            "unhealthy" => Ok(()),
            other => Err(other.to_string()),
        },
    );
    let o = d
        .docker(sc)
        .args(["inspect", "-f", "{{json .State.Health.Log}}", "health"])
        .run();
    assert!(
        o.stdout.contains("flaky: down, want up"),
        "the health log names flaky: {}",
        o.stdout
    );
    stop(d, sc, &[], "health");
    d.docker(sc)
        .args(["rm", "health"])
        .run()
        .code(0)
        .stdout("health\n");
}

/// compose's `depends_on: condition: service_healthy` on a herd container: the app starts only
/// once db's `sv health` passes, so it sees db ready.
#[test]
fn compose_starts_the_app_when_the_database_is_healthy() {
    let docker = docker();
    docker.health_image();
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    assert!(
        Path::new(COMPOSE).is_file(),
        "{COMPOSE} is missing: apt-get install -y docker-compose"
    );
    let out = sc.join("out-compose");
    fs::create_dir_all(&out).expect("out dir");
    let file = sc.file(
        "compose.yml",
        &COMPOSE_FILE.replace("OUT", &out.display().to_string()),
        0o644,
    );
    let compose = |args: &[&str]| {
        let mut c = sc
            .cmd(COMPOSE)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .args(["-p", "herdh", "-f"])
            .arg(&file)
            .args(args)
            .timeout(Duration::from_secs(60));
        for (k, v) in d.client_env() {
            c = c.env(k, v);
        }
        c.run()
    };
    let up = compose(&["up", "-d"]);
    let saw = if up.code == Some(0) {
        poll("the app's start", UP, || {
            fs::read_to_string(out.join("app-saw-db"))
                .ok()
                .filter(|s| s.ends_with('\n'))
                .ok_or_else(|| "no app-saw-db yet".to_string())
        })
    } else {
        String::new()
    };
    let db_health = health_status(d, sc, "herdh_db_1");
    let down = compose(&["down"]);
    up.code(0);
    assert_eq!(db_health, "healthy");
    assert_eq!(saw, "yes\n", "the app started before db was ready");
    down.code(0);
}

/// The static check can fail: the debug build is dynamically linked.
#[test]
#[should_panic(expected = "is dynamically linked: run scripts/release.sh")]
fn dynamic_binary_is_refused() {
    assert_static(&bin("sv"), "run scripts/release.sh");
}
