//! A service's own `health` check seen by Docker's `HEALTHCHECK CMD ["sv", "health"]` (issue
//! 16; docs/policy.md, "Health"): `healthy` while the check passes, `unhealthy` once it fails.

use super::*;

const IMAGE_HEALTH_CHECK: &str = "herd-test:health-check";
/// `web` runs; its `health` passes until `sick` exists in its directory.
const RUN_WEB: &str = "#!/bin/sh\nexec sleep 100000 </dev/null >/dev/null 2>&1\n";
const HEALTH_WEB: &str = "#!/bin/sh\n[ ! -e sick ]\n";

/// The image: the [`bare_rootfs`] with `web`, checked every 0.5 s, unhealthy at the first
/// failure; `restart-limit 1 60` gives up at the restart that follows (an unhealthy run counts as
/// failed), so that the service stays down and `sv health` keeps failing.
fn health_check_context(sc: &Scenario, release: &Path) -> PathBuf {
    let ctx = sc.join("ctx");
    bare_rootfs(sc, &ctx.join("rootfs"), release);
    let web = "ctx/rootfs/etc/service/web";
    sc.service(web, RUN_WEB);
    sc.script(format!("{web}/health"), HEALTH_WEB);
    sc.file(format!("{web}/health-interval"), "0.5\n", 0o644);
    sc.file(format!("{web}/health-retries"), "1\n", 0o644);
    sc.file(format!("{web}/restart-limit"), "1 60\n", 0o644);
    sc.file(
        "ctx/Dockerfile",
        &format!(
            "FROM scratch\nCOPY rootfs/ /\n{HEALTHCHECK}ENTRYPOINT [\"/usr/bin/svscan\", \"/etc/service\"]\n"
        ),
        0o644,
    );
    ctx
}

/// `docker exec NAME ARGS…`: its exit code and stdout (stderr must be empty).
fn exec(d: &Dockerd, sc: &Scenario, name: &str, args: &[&str]) -> (Option<i32>, String) {
    let o = d.docker(sc).arg("exec").arg(name).args(args).run();
    o.stderr("");
    (o.code, o.stdout)
}

/// `healthy` while web's check passes; `touch sick` in the container: supervise finds web
/// unhealthy, restarts it and gives up (`restart-limit 1 60`); `sv health` says `web: failed`,
/// and Docker's check goes `unhealthy`.
#[test]
fn a_failing_health_check_makes_the_container_unhealthy() {
    let docker = docker();
    let (d, sc) = (&docker.dockerd, &Scenario::new());
    build(
        d,
        sc,
        &health_check_context(sc, &docker.release),
        IMAGE_HEALTH_CHECK,
    );
    let name = "health-check";
    let out = sc.join("out-health-check");
    run_container(d, sc, name, &out, &[], IMAGE_HEALTH_CHECK);
    poll(
        "health: healthy",
        Duration::from_secs(20),
        || match health_status(d, sc, name).as_str() {
            "healthy" => Ok(()),
            "starting" => Err("starting".into()),
            other => panic!("health went {other:?} before healthy"),
        },
    );
    assert_eq!(
        exec(d, sc, name, &["sv", "health"]),
        (Some(0), String::new())
    );
    let health = "/etc/service/web/supervise/health";
    let (code, line) = exec(d, sc, name, &["cat", health]);
    assert_eq!(code, Some(0));
    assert!(line.starts_with("healthy code 0 @4000"), "{line:?}");
    assert_eq!(
        exec(d, sc, name, &["touch", "/etc/service/web/sick"]),
        (Some(0), String::new())
    );
    poll(
        "health: unhealthy",
        Duration::from_secs(20),
        || match health_status(d, sc, name).as_str() {
            "unhealthy" => Ok(()),
            other => Err(other.to_string()),
        },
    );
    assert_eq!(
        exec(d, sc, name, &["sv", "health"]),
        (Some(1), "web: failed\n".to_string())
    );
    // One run, stopped by its TERM for being unhealthy, counted as failed; the last check
    // exited 1.
    assert_eq!(
        exec(d, sc, name, &["cat", "/etc/service/web/supervise/runs"]),
        (Some(0), "runs 1 exit signal 15 failed\n".to_string())
    );
    let (code, line) = exec(d, sc, name, &["cat", health]);
    assert_eq!(code, Some(0));
    assert!(line.starts_with("none code 1 @4000"), "{line:?}");
    let o = d
        .docker(sc)
        .args(["inspect", "-f", "{{json .State.Health.Log}}", name])
        .run();
    assert!(
        o.stdout.contains("web: failed"),
        "the health log names web: {}",
        o.stdout
    );
    stop(d, sc, &[], name);
    d.docker(sc)
        .args(["rm", name])
        .run()
        .code(0)
        .stdout(&format!("{name}\n"));
}
