//! `supervise` on its own: what runsv does, and where herd deliberately does better.

use herd_testsupport::*;

#[test]
fn usage_is_runsvs() {
    let sc = Scenario::new();
    let sup = bin("supervise");
    sc.cmd(&sup)
        .run()
        .code(1)
        .stdout("")
        .stderr(&format!("usage: {} dir\n\n", sup.display()));
    sc.cmd(&sup).args(["a", "b"]).run().code(1);
}

#[test]
fn starts_run_and_publishes_status() {
    let sc = Scenario::new();
    let svc = sc.service("web", RUN_SLEEP);
    let _sup = sc.spawn(bin("supervise"), &["web"]);
    let pid = wait_running(&svc);
    assert_eq!(
        std::fs::read_to_string(svc.join("supervise/pid")).unwrap(),
        format!("{pid}\n")
    );
    assert_eq!(
        std::fs::read_to_string(svc.join("supervise/stat")).unwrap(),
        "run\n"
    );
}
