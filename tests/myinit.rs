//! svscan's container-init features, as PID 1 of a fresh pid namespace (`unshare --pid --fork
//! --mount-proc`): start-up scripts, the main command (`svscan DIR -- CMD`) and its exit code,
//! signals to the main command first, pre- and post-shutdown scripts within the bound, and the
//! `my_init` personality's command line (docs/svscan.md, docs/migrating-from-phusion.md).

use std::fs;
use std::path::Path;
use std::time::Duration;

use herd_testsupport::*;

use crate::pid1::Ns;

const STOP_ENV: &str = "SVSCAN_STOP_TIMEOUT";

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// `unshare --pid --fork --mount-proc --kill-child svscan ARGS…` run to completion with extra
/// environment variables, cwd the scenario dir.
fn run_ns(sc: &Scenario, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = sc
        .cmd(peer("/usr/bin/unshare"))
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(bin("svscan"))
        .args(args)
        .env_remove(STOP_ENV)
        .timeout(Duration::from_secs(15));
    for (k, v) in env {
        c = c.env(k, v);
    }
    c.run()
}

/// A service `scan/NAME` that appends `NAME up` to `SC/order` once its TERM trap is set, and
/// `NAME got TERM` when TERMed (then exits 0).
fn polite(sc: &Scenario, name: &str) {
    sc.service(
        &format!("scan/{name}"),
        &format!(
            "#!/bin/sh\n\
             trap 'echo {name} got TERM >> ../../order; exit 0' TERM\n\
             echo {name} up >> ../../order\n\
             while :; do sleep 1 & wait; done\n"
        ),
    );
}

/// A shell command for the main command: waits (bounded by the test's deadline) until `line`
/// is in `SC/order`.
fn wait_line(line: &str) -> String {
    format!("until grep -qx '{line}' order 2>/dev/null; do sleep 0.01; done")
}

#[test]
fn startup_scripts_run_in_lexical_order_before_any_service() {
    let sc = Scenario::new();
    for name in ["20_second", "10_first", "03_zero", "B_upper"] {
        sc.script(
            format!("init/{name}"),
            &format!("#!/bin/sh\necho {name} >> order\n"),
        );
    }
    sc.file(
        "init/15_not_executable",
        "#!/bin/sh\necho no >> order\n",
        0o644,
    );
    polite(&sc, "web");
    let cmd = format!("{}; echo cmd >> order", wait_line("web up"));
    run_ns(
        &sc,
        &[("SVSCAN_STARTUP_DIR", "init")],
        &["scan", "--", "/bin/sh", "-c", &cmd],
    )
    .code(0)
    .stderr("");
    assert_eq!(
        read(&sc.join("order")),
        "03_zero\n10_first\n20_second\nB_upper\nweb up\ncmd\nweb got TERM\n"
    );
}

#[test]
fn a_failing_startup_script_aborts_with_its_code_and_nothing_starts() {
    let sc = Scenario::new();
    sc.script("init/10_ok", "#!/bin/sh\necho 10 >> order\n");
    sc.script("init/20_fail", "#!/bin/sh\necho 20 >> order\nexit 3\n");
    sc.script("init/30_never", "#!/bin/sh\necho 30 >> order\n");
    polite(&sc, "web");
    run_ns(
        &sc,
        &[("SVSCAN_STARTUP_DIR", "init")],
        &["scan", "--", "/bin/sh", "-c", "echo cmd >> order"],
    )
    .code(3)
    .stderr("svscan scan: fatal: init/20_fail failed with status 3\n");
    assert_eq!(read(&sc.join("order")), "10\n20\n");
    assert!(!sc.join("scan/web/supervise").exists(), "a supervise ran");
    // Killed by a signal: 128 + n.
    sc.script("init/20_fail", "#!/bin/sh\nkill -9 $$\n");
    run_ns(&sc, &[("SVSCAN_STARTUP_DIR", "init")], &["scan"])
        .code(137)
        .stderr("svscan scan: fatal: init/20_fail failed with status 137\n");
}

#[test]
fn the_main_commands_exit_code_is_the_containers() {
    let sc = Scenario::new();
    polite(&sc, "web");
    for (cmd, code) in [
        ("exit 0", 0),
        ("exit 1", 1),
        ("exit 3", 3),
        ("exit 42", 42),
        ("exit 255", 255),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
        ("kill -SEGV $$", 139),
    ] {
        let _ = fs::remove_file(sc.join("order"));
        let script = format!("ulimit -c 0; {}; {cmd}", wait_line("web up"));
        run_ns(&sc, &[], &["scan", "--", "sh", "-c", &script])
            .code(code)
            .stderr("");
        // The services still got their clean stop after the command ended.
        assert_eq!(
            read(&sc.join("order")),
            "web up\nweb got TERM\n",
            "after `{cmd}`"
        );
    }
}

#[test]
fn a_missing_main_command_exits_127_after_stopping_the_services() {
    let sc = Scenario::new();
    polite(&sc, "web");
    run_ns(&sc, &[], &["scan", "--", "no-such-command-herd"])
        .code(127)
        .stderr("svscan scan: fatal: unable to run no-such-command-herd: file does not exist\n");
    let order = read(&sc.join("order"));
    assert!(
        order.is_empty() || order == "web up\nweb got TERM\n",
        "{order:?}"
    );
}

#[test]
fn sigterm_goes_to_the_main_command_first_then_the_services() {
    let sc = Scenario::new();
    polite(&sc, "web");
    let cmd = "trap 'echo cmd got TERM >> order; sleep 0.2; echo cmd done >> order; exit 5' TERM\n\
               echo cmd up >> order\n\
               while :; do sleep 1 & wait; done";
    let mut ns = Ns::start(&sc, &["scan", "--", "/bin/sh", "-c", cmd]);
    wait_for("command and service up", DEADLINE, || {
        let o = read(&sc.join("order"));
        o.contains("cmd up\n") && o.contains("web up\n")
    });
    let (code, _) = ns.stop(&sc, 15, DEADLINE);
    assert_eq!(code, Some(5), "{}", ns.stderr());
    let order = read(&sc.join("order"));
    assert!(
        order.ends_with("cmd got TERM\ncmd done\nweb got TERM\n"),
        "{order:?}"
    );
    assert_eq!(ns.stderr(), "");
}

#[test]
fn other_signals_are_passed_to_the_main_command() {
    let sc = Scenario::new();
    polite(&sc, "web");
    let cmd = "trap 'echo cmd got HUP >> order' HUP\n\
               trap 'echo cmd got USR1 >> order' USR1\n\
               trap 'exit 9' TERM\n\
               echo cmd up >> order\n\
               while :; do sleep 1 & wait; done";
    let mut ns = Ns::start(&sc, &["scan", "--", "/bin/sh", "-c", cmd]);
    wait_for("command up", DEADLINE, || {
        read(&sc.join("order")).contains("cmd up\n")
    });
    ns.signal(1);
    wait_for("HUP passed on", DEADLINE, || {
        read(&sc.join("order")).contains("cmd got HUP\n")
    });
    ns.signal(10);
    wait_for("USR1 passed on", DEADLINE, || {
        read(&sc.join("order")).contains("cmd got USR1\n")
    });
    // HUP did not stop svscan: the service is still up.
    assert!(!read(&sc.join("order")).contains("web got TERM"));
    let (code, _) = ns.stop(&sc, 15, DEADLINE);
    assert_eq!(code, Some(9));
}

#[test]
fn pre_and_post_shutdown_scripts_run_around_the_services_stop() {
    let sc = Scenario::new();
    polite(&sc, "web");
    sc.script("pre/10", "#!/bin/sh\necho pre10 >> order\n");
    sc.script(
        "pre/20",
        "#!/bin/sh\necho \"pre20 web is $(cat scan/web/supervise/stat)\" >> order\n",
    );
    sc.script("post/10", "#!/bin/sh\necho post10 >> order\nexit 4\n");
    let mut ns = Ns::start_via(
        &sc,
        &[
            "/usr/bin/env",
            "SVSCAN_PRE_SHUTDOWN_DIR=pre",
            "SVSCAN_POST_SHUTDOWN_DIR=post",
        ],
        &["scan"],
    );
    wait_for("web up", DEADLINE, || read(&sc.join("order")) == "web up\n");
    let (code, _) = ns.stop(&sc, 15, DEADLINE);
    assert_eq!(code, Some(0));
    assert_eq!(
        read(&sc.join("order")),
        "web up\npre10\npre20 web is run\nweb got TERM\npost10\n"
    );
    // A failing shutdown script is reported, and the shutdown goes on.
    assert_eq!(
        ns.stderr(),
        "svscan scan: warning: post/10 failed with status 4\n"
    );
}

#[test]
fn a_hanging_pre_shutdown_script_gets_half_the_bound() {
    let sc = Scenario::new();
    polite(&sc, "web");
    sc.script("pre/10", "#!/bin/sh\necho pre >> order\nexec sleep 100\n");
    let mut ns = Ns::start_via(
        &sc,
        &["/usr/bin/env", "SVSCAN_PRE_SHUTDOWN_DIR=pre"],
        &["-t", "2", "scan"],
    );
    wait_for("web up", DEADLINE, || read(&sc.join("order")) == "web up\n");
    let (code, took) = ns.stop(&sc, 15, DEADLINE);
    assert_eq!(code, Some(0), "{}", ns.stderr());
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_millis(1800),
        "{took:?}"
    );
    assert_eq!(read(&sc.join("order")), "web up\npre\nweb got TERM\n");
    assert_eq!(
        ns.stderr(),
        "svscan scan: warning: pre/10 took too long: killed\n"
    );
}

/// `my_init` is svscan called by that name (a symlink, as the install makes it).
fn my_init(sc: &Scenario) -> std::path::PathBuf {
    let link = sc.join("my_init");
    if !link.exists() {
        std::os::unix::fs::symlink(bin("svscan"), &link).unwrap();
    }
    link
}

#[test]
fn my_init_rejects_what_phusions_rejects() {
    let sc = Scenario::new();
    let usage = "usage: my_init [-h] [--enable-insecure-key] [--skip-startup-files] \
                 [--skip-runit] [--no-kill-all-on-exit] [--quiet] [-- MAIN_COMMAND ...]\n";
    sc.cmd(my_init(&sc))
        .arg("--bogus")
        .run()
        .code(2)
        .stdout("")
        .stderr(&format!(
            "{usage}my_init: error: unrecognized arguments: --bogus\n"
        ));
    sc.cmd(my_init(&sc))
        .arg("--skip-runit")
        .run()
        .code(2)
        .stderr(&format!(
            "{usage}my_init: error: --skip-runit needs a main command\n"
        ));
    sc.cmd(my_init(&sc))
        .arg("--help")
        .run()
        .code(0)
        .stdout(usage)
        .stderr("");
}

#[test]
fn my_init_skip_runit_runs_only_the_command() {
    let sc = Scenario::new();
    // No /etc/service is looked at; the command's code is the exit code; no `***` with --quiet.
    sc.cmd(peer("/usr/bin/unshare"))
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(my_init(&sc))
        .args([
            "--quiet",
            "--skip-startup-files",
            "--skip-runit",
            "--enable-insecure-key",
            "--",
            "sh",
            "-c",
            "echo hello; exit 42",
        ])
        .run()
        .code(42)
        .stdout("hello\n")
        .stderr(
            "my_init: warning: --enable-insecure-key is not supported (no SSH key is shipped): ignored\n",
        );
    // Not quiet: phusion's progress lines.
    sc.cmd(peer("/usr/bin/unshare"))
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(my_init(&sc))
        .args([
            "--skip-startup-files",
            "--skip-runit",
            "--",
            "sh",
            "-c",
            "kill -TERM $$",
        ])
        .run()
        .code(143)
        .stdout("")
        .stderr(
            "*** Running sh -c kill -TERM $$...\n\
             *** sh exited with status 143.\n\
             *** Shutting down...\n\
             *** Killing all processes...\n",
        );
}
