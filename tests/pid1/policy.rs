//! `restart-limit` with `essential` under svscan as PID 1 (docs/policy.md, "Restart"): when the
//! limit gives up on an essential service, the container stops with the service's code.

use super::*;

/// boss exits 7 at once; `essential` allows 9 failures in a row, `restart-limit` `3 10` only 3:
/// the limit decides. After the third run supervise gives up (`failed`), svscan stops web and
/// exits 7, and nothing of the namespace is left. boss waits for web to be up first, so that
/// web is there to be stopped.
#[test]
fn restart_limit_gives_up_on_an_essential_service_and_stops_the_container_with_its_code() {
    let sc = Scenario::new();
    let dir = sc.path().display();
    polite_service(&sc, "web");
    sc.service(
        "scan/boss",
        &format!(
            "#!/bin/sh\n\
             until grep -q web {dir}/up.txt 2>/dev/null; do sleep 0.01; done\n\
             echo run >> {dir}/boss.runs\n\
             exit 7\n"
        ),
    );
    sc.file("scan/boss/essential", "9\n", 0o644);
    sc.file("scan/boss/restart-limit", "3 10\n", 0o644);
    let scan = sc.join("scan");
    let t0 = Instant::now();
    let mut ns = Ns::start(&sc, &[scan.to_str().unwrap()]);
    // Runs start 1 s apart (runit's throttle): 3 runs take 2 s; 9 would take 8.
    let code = ns.wait(Duration::from_secs(15));
    let took = t0.elapsed();
    assert_eq!(code, Some(7), "svscan's exit code");
    assert_eq!(read(&sc.join("boss.runs")), "run\nrun\nrun\n");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "svscan exited after {took:?}"
    );
    assert_eq!(
        read(&scan.join("boss/supervise/runs")),
        "runs 3 exit code 7 failed\n"
    );
    assert_eq!(read(&sc.join("term.txt")), "web got TERM\n");
    assert_eq!(read(&sc.join("web.log")), "web first line\nweb last line\n");
    assert_eq!(ns.pids(), Vec::<u32>::new(), "namespace not empty");
    assert_eq!(pids_with_cwd_under(sc.path()), Vec::<u32>::new());
    assert_eq!(
        ns.stderr(),
        format!(
            "svscan {}: warning: essential service boss stopped with status 7: stopping everything\n",
            scan.display()
        )
    );
}
