//! A read-only root and a non-root user in a real dockerd (issue 17; docs/docker.md, "Read-only
//! root" and "Non-root"): the `FROM scratch` image with `scripts/supervise-links.sh`'s links,
//! run with `--read-only --tmpfs /run` as root, then with `--user 1000:1000` on a tree owned by
//! 1000, as svscan and as my_init; and without the links, where supervise names the real cause.

use super::*;

/// The image with `supervise -> /run/herd/NAME/supervise` links, its tree owned by 1000.
const IMAGE_RO: &str = "herd-test:read-only";
/// The same tree without the links.
const IMAGE_RO_NOLINKS: &str = "herd-test:read-only-nolinks";
/// Where the logger writes: a tmpfs of its own at run time.
const LOG_DIR: &str = "/var/log/herd";
/// `web` says what it sees of the container environment on stdout (`docker logs`), then runs
/// with a TERM trap.
const RUN_WEB: &str = "#!/bin/sh\n\
    trap 'exit 0' TERM\n\
    echo \"web FOO=${FOO-unset}\"\n\
    while :; do sleep 1000 </dev/null >/dev/null 2>&1 & wait $!; done\n";
/// `logged` writes numbered lines through its logger into [`LOG_DIR`].
const RUN_LOGGED_RO: &str = "#!/bin/sh\n\
    trap 'echo graceful stop; exit 0' TERM\n\
    i=0\n\
    while :; do i=$((i+1)); echo \"line $i\"; sleep 0.1 </dev/null >/dev/null 2>&1 & wait $!; done\n";
const RUN_LOGGED_RO_LOG: &str = "#!/bin/sh\nexec svlog -tt /var/log/herd\n";
/// my_init's start-up script: it sees the image's container environment and changes it in the
/// moved directory.
const MY_INIT_D_RO: &str = "#!/bin/sh\n\
    echo \"10_env saw FOO=$FOO as $(id -u)\"\n\
    echo changed > /run/container_environment/FOO\n";

/// The build context: the [`bare_rootfs`] (plus `id`), `web` and `logged` in `/etc/service`, a
/// start-up script and a container environment for my_init, `/sbin/my_init`; with `links`,
/// `scripts/supervise-links.sh` run on the tree on the host. The Dockerfile copies the tree with
/// `--chown=1000:1000`.
fn read_only_context(sc: &Scenario, release: &Path, dir: &str, links: bool) -> PathBuf {
    let ctx = sc.join(dir);
    let rootfs = ctx.join("rootfs");
    bare_rootfs(sc, &rootfs, release);
    symlink("busybox", rootfs.join("bin/id")).expect("id applet");
    fs::create_dir_all(rootfs.join("sbin")).expect("sbin");
    symlink("/usr/bin/svscan", rootfs.join("sbin/my_init")).expect("my_init link");
    fs::create_dir_all(rootfs.join(&LOG_DIR[1..])).expect("log dir");
    sc.script(format!("{dir}/rootfs/etc/my_init.d/10_env"), MY_INIT_D_RO);
    sc.file(
        format!("{dir}/rootfs/etc/container_environment/FOO"),
        "orig\n",
        0o644,
    );
    sc.service(&format!("{dir}/service/web"), RUN_WEB);
    sc.service(&format!("{dir}/service/logged"), RUN_LOGGED_RO);
    sc.script(format!("{dir}/service/logged/log/run"), RUN_LOGGED_RO_LOG);
    if links {
        sc.cmd("/bin/sh")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/supervise-links.sh"))
            .arg(ctx.join("service"))
            .run()
            .code(0)
            .stdout("")
            .stderr("");
    }
    sc.file(
        format!("{dir}/Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nCOPY --chown=1000:1000 service/ /etc/service/\n\
         ENTRYPOINT [\"/usr/bin/svscan\", \"/etc/service\"]\n",
        0o644,
    );
    ctx
}

/// Builds both images once per dockerd (they are not in [`Docker`]'s table: this module's own).
fn read_only_images(docker: &Docker) {
    static BUILT: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    // A new dockerd (another data root) has none of them.
    if built.as_deref() == Some(docker.dockerd.root.as_path()) {
        return;
    }
    let (d, sc) = (&docker.dockerd, &docker.ctx);
    let ctx = read_only_context(sc, &docker.release, "ctx-ro", true);
    build(d, sc, &ctx, IMAGE_RO);
    let ctx = read_only_context(sc, &docker.release, "ctx-ro-nolinks", false);
    build(d, sc, &ctx, IMAGE_RO_NOLINKS);
    *built = Some(docker.dockerd.root.clone());
}

/// `docker exec [--user U] NAME ARGS…`.
fn exec_as(d: &Dockerd, sc: &Scenario, user: Option<&str>, name: &str, args: &[&str]) -> Output {
    let mut c = d.docker(sc).arg("exec");
    if let Some(u) = user {
        c = c.args(["--user", u]);
    }
    c.arg(name).args(args).run()
}

/// Both services run, web up for a second (runit's sv takes a service in its first second as
/// already restarted: docs/sv.md, Notes); returns web's pid.
#[track_caller]
fn wait_up(d: &Dockerd, sc: &Scenario, name: &str) -> u32 {
    wait_all_running(d, sc, name, &["logged", "web"]);
    poll("web up for a second", UP, || {
        let o = exec_as(d, sc, None, name, &["sv", "status", "web"]);
        let rest = o.stdout.strip_prefix("run: web: (pid ");
        let parsed = rest.and_then(|r| {
            let (pid, up) = r.split_once(") ")?;
            Some((
                pid.parse::<u32>().ok()?,
                up.strip_suffix("s\n")?.parse::<u32>().ok()?,
            ))
        });
        match parsed {
            Some((pid, secs)) if secs >= 1 => Ok(pid),
            _ => Err(format!("{o:?}")),
        }
    })
}

/// `sv restart web` (as `user`, if given) prints the doc's line with a new pid.
#[track_caller]
fn restart_web(d: &Dockerd, sc: &Scenario, user: Option<&str>, name: &str, old: u32) {
    let o = exec_as(d, sc, user, name, &["sv", "restart", "web"]);
    o.code(0).stderr("");
    let new = pids_in(&o.stdout).first().copied().unwrap_or(0);
    o.stdout(&format!("ok: run: web: (pid {new}) 0s\n"));
    assert_ne!(new, old, "sv restart kept the old pid");
}

/// The logger writes `line 1`, `line 2`… into the tmpfs [`LOG_DIR`].
#[track_caller]
fn wait_logged(d: &Dockerd, sc: &Scenario, name: &str) {
    poll("3 lines in the tmpfs log dir", UP, || {
        let o = exec_as(d, sc, None, name, &["cat", "/var/log/herd/current"]);
        let lines: Vec<&str> = o
            .stdout
            .split_inclusive('\n')
            .filter_map(|l| l.strip_suffix('\n'))
            .map(strip_stamp)
            .collect();
        if o.code == Some(0) && lines.len() >= 3 {
            numbered(&lines, "line ", None);
            Ok(())
        } else {
            Err(format!("{o:?}"))
        }
    });
}

/// The `Uid:` line of PID 1 in the container.
fn pid1_uid(d: &Dockerd, sc: &Scenario, name: &str) -> String {
    let o = exec_as(d, sc, None, name, &["cat", "/proc/1/status"]);
    o.code(0);
    o.stdout
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or_default()
        .to_string()
}

/// `docker stop` within a bound and exit 0, then `docker rm`.
#[track_caller]
fn stop_and_remove(d: &Dockerd, sc: &Scenario, name: &str) -> Duration {
    let took = stop(d, sc, &[], name);
    eprintln!("docker stop {name} took {took:?}");
    assert!(took < Duration::from_secs(2), "docker stop took {took:?}");
    assert_eq!(exit_code(d, sc, name), "0\n");
    d.docker(sc)
        .args(["rm", name])
        .run()
        .code(0)
        .stdout(&format!("{name}\n"));
    took
}

/// `docker run --read-only --tmpfs /run` as root: the services run with their supervise
/// directories in `/run/herd`, `sv restart` works through the links, the logger writes to a
/// tmpfs log dir, `docker stop` exits 0 at once.
#[test]
fn read_only_root_with_supervise_links() {
    let docker = docker();
    read_only_images(&docker);
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    let name = "read-only";
    let extra = ["--read-only", "--tmpfs", "/run", "--tmpfs", LOG_DIR];
    run_container(d, sc, name, &sc.join("out"), &extra, IMAGE_RO);
    let old = wait_up(d, sc, name);
    assert_eq!(pid1_uid(d, sc, name), "Uid:\t0\t0\t0\t0");
    exec_as(d, sc, None, name, &["cat", "/run/herd/web/supervise/stat"])
        .code(0)
        .stdout("run\n");
    restart_web(d, sc, None, name, old);
    wait_logged(d, sc, name);
    // The root is read-only indeed.
    exec_as(d, sc, None, name, &["touch", "/etc/service/web/x"])
        .code(1)
        .stdout("")
        .stderr("touch: /etc/service/web/x: Read-only file system\n");
    stop_and_remove(d, sc, name);
}

/// The same image as uid 1000 (`--user 1000:1000`, `--tmpfs /run:uid=1000`): svscan is PID 1 as
/// 1000, `sv` works as 1000 through `docker exec --user`, the logger writes; then as my_init
/// with `SVSCAN_ENV_DIR=/run/container_environment`: the start-up script runs as 1000 and sees
/// the image's environment, its change reaches the services and the moved `.sh`.
#[test]
fn read_only_root_as_non_root_user() {
    let docker = docker();
    read_only_images(&docker);
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    let name = "non-root";
    let user = "1000:1000";
    let log_tmpfs = format!("{LOG_DIR}:uid=1000,gid=1000");
    let extra = [
        "--user",
        user,
        "--read-only",
        "--tmpfs",
        "/run:uid=1000,gid=1000",
        "--tmpfs",
        &log_tmpfs,
    ];
    run_container(d, sc, name, &sc.join("out"), &extra, IMAGE_RO);
    let old = wait_up(d, sc, name);
    assert_eq!(pid1_uid(d, sc, name), "Uid:\t1000\t1000\t1000\t1000");
    restart_web(d, sc, Some(user), name, old);
    wait_logged(d, sc, name);
    stop_and_remove(d, sc, name);

    // my_init, its container environment moved to /run.
    let name = "non-root-my-init";
    let mut extra = extra.to_vec();
    extra.extend([
        "-e",
        "SVSCAN_ENV_DIR=/run/container_environment",
        "--entrypoint",
        "/sbin/my_init",
    ]);
    run_container(d, sc, name, &sc.join("out2"), &extra, IMAGE_RO);
    let old = wait_up(d, sc, name);
    restart_web(d, sc, Some(user), name, old);
    let o = d
        .docker(sc)
        .args(["exec", "--user", user, name, "sh", "-c"])
        .arg(". /run/container_environment.sh && echo \"FOO=$FOO\"")
        .run();
    o.code(0).stderr("").stdout("FOO=changed\n");
    wait_logged(d, sc, name);
    let took = stop(d, sc, &[], name);
    eprintln!("docker stop {name} took {took:?}");
    assert!(took < Duration::from_secs(2), "docker stop took {took:?}");
    assert_eq!(exit_code(d, sc, name), "0\n");
    let o = d.docker(sc).args(["logs", name]).run();
    o.code(0)
        .stdout("10_env saw FOO=orig as 1000\nweb FOO=changed\nweb FOO=changed\n")
        .stderr(
            "*** Running /etc/my_init.d/10_env...\n\
             *** Starting the services in /etc/service...\n\
             *** Shutting down...\n\
             *** Stopping the services...\n\
             *** Killing all processes...\n",
        );
    d.docker(sc)
        .args(["rm", name])
        .run()
        .code(0)
        .stdout(&format!("{name}\n"));
}

/// Without the links, a read-only root makes every supervise fail, and `docker logs` names the
/// real cause in supervise's line.
#[test]
fn read_only_root_without_links_names_the_real_cause() {
    let docker = docker();
    read_only_images(&docker);
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    let name = "read-only-nolinks";
    run_container(
        d,
        sc,
        name,
        &sc.join("out"),
        &["--read-only", "--tmpfs", "/run"],
        IMAGE_RO_NOLINKS,
    );
    let lines = poll("both supervise lines in docker logs", UP, || {
        let o = d.docker(sc).args(["logs", name]).run();
        o.code(0).stdout("");
        let mut lines: Vec<String> = o.stderr.lines().map(String::from).collect();
        lines.sort();
        lines.dedup();
        if lines.len() >= 2 {
            Ok(lines)
        } else {
            Err(format!("{o:?}"))
        }
    });
    assert_eq!(
        lines,
        [
            "supervise logged: fatal: unable to mkdir supervise: read-only file system",
            "supervise web: fatal: unable to mkdir supervise: read-only file system",
        ]
    );
    d.docker(sc)
        .args(["rm", "-f", name])
        .timeout(DOCKER_SLOW)
        .run()
        .code(0)
        .stdout(&format!("{name}\n"));
}
