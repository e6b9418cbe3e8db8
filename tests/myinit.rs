//! svscan's container-init features, as PID 1 of a fresh pid namespace (`unshare --pid --fork
//! --mount-proc`): start-up scripts, the main command (`svscan DIR -- CMD`) and its exit code,
//! signals to the main command first, pre- and post-shutdown scripts within the bound, and the
//! `my_init` personality's command line (docs/svscan.md, docs/migrating-from-phusion.md).

use std::fs;
use std::path::{Path, PathBuf};
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
    let quoted = line.replace('\'', "'\"'\"'");
    format!("until grep -qxF '{quoted}' order 2>/dev/null; do sleep 0.01; done")
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

/// A path that names nothing is "not found" too (127, as a shell says), and one that exists but
/// cannot be executed is 126.
#[test]
fn a_missing_main_command_path_exits_127_and_a_non_executable_one_126() {
    let sc = Scenario::new();
    polite(&sc, "web");
    run_ns(&sc, &[], &["scan", "--", "/no/such/herd-command"])
        .code(127)
        .stderr("svscan scan: fatal: unable to run /no/such/herd-command: file does not exist\n");
    sc.file("plain", "#!/bin/sh\n", 0o644);
    let plain = sc.join("plain");
    let plain = plain.to_str().unwrap();
    run_ns(&sc, &[], &["scan", "--", plain])
        .code(126)
        .stderr(&format!(
            "svscan scan: fatal: unable to run {plain}: access denied\n"
        ));
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
    // argparse's help, on stdout (every option listed: tests/help.rs).
    let out = sc.cmd(my_init(&sc)).arg("--help").run();
    out.code(0).stderr("");
    assert!(
        out.stdout.starts_with(&format!("{usage}\n")),
        "{}",
        out.stdout
    );
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

/// `env -i sh -c '. FILE; printf …'`: the values a shell gets from sourcing FILE.
fn sourced(file: &Path, names: &[&str]) -> String {
    let mut script = format!(". {}", file.display());
    for n in names {
        script.push_str(&format!("; printf '%s=%s\\n' {n} \"${{{n}-unset}}\""));
    }
    let out = std::process::Command::new("/usr/bin/env")
        .args(["-i", "/bin/sh", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// `python3 -c 'json.load…'`: the values of NAMES in a JSON file.
fn from_json(file: &Path, names: &[&str]) -> String {
    let script = format!(
        "import json,sys\nd=json.load(open({:?}))\nfor n in sys.argv[1:]: print(n + '=' + d.get(n, 'unset'))",
        file.display().to_string()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(names)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The container environment directory `dir` (with `dir.sh` and `dir.json` next to it) after the
/// start-up script changed FOO, with FROM_DOCKER given by `docker run -e`: the files as phusion
/// writes them.
fn assert_changed_env(dir: &Path) {
    assert_eq!(read(&dir.join("FROM_DOCKER")), "yes");
    assert_eq!(read(&dir.join("FOO")), "changed\n");
    let sibling = |ext: &str| {
        let mut p = dir.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let want = "FOO=changed\nFROM_DOCKER=yes\n";
    assert_eq!(sourced(&sibling(".sh"), &["FOO", "FROM_DOCKER"]), want);
    assert_eq!(from_json(&sibling(".json"), &["FOO", "FROM_DOCKER"]), want);
}

/// The container environment of `SVSCAN_ENV_DIR=env`, with start-up scripts changing it.
fn env_scenario(sc: &Scenario) {
    sc.file("env/FOO", "from-file\n", 0o644);
    sc.file("env/KEEP", "from-file", 0o644);
    sc.file("env/GONE", "here", 0o644);
    sc.script(
        "init/10",
        "#!/bin/sh\n\
         echo \"10 FOO=$FOO KEEP=$KEEP GONE=${GONE-unset} NEW=${NEW-unset}\" >> order\n\
         printf 'it'\"'\"'s changed' > env/FOO\n\
         echo brand new > env/NEW\n\
         rm env/GONE\n",
    );
    sc.script(
        "init/20",
        "#!/bin/sh\necho \"20 FOO=$FOO KEEP=$KEEP GONE=${GONE-unset} NEW=${NEW-unset}\" >> order\n",
    );
    sc.service(
        "scan/web",
        "#!/bin/sh\necho \"web FOO=$FOO NEW=$NEW\" >> ../../order\nexec sleep 100\n",
    );
}

#[test]
fn the_container_environment_is_imported_changed_by_scripts_and_exported() {
    let sc = Scenario::new();
    env_scenario(&sc);
    let cmd = format!(
        "{}; echo \"cmd FOO=$FOO GONE=${{GONE-unset}}\" >> order",
        wait_line("web FOO=it's changed NEW=brand new")
    );
    run_ns(
        &sc,
        &[
            ("SVSCAN_STARTUP_DIR", "init"),
            ("SVSCAN_ENV_DIR", "env"),
            ("KEEP", "from-docker"),
        ],
        &["scan", "--", "/bin/sh", "-c", &cmd],
    )
    .code(0)
    .stderr("");
    assert_eq!(
        read(&sc.join("order")),
        "10 FOO=from-file KEEP=from-docker GONE=here NEW=unset\n\
         20 FOO=it's changed KEEP=from-docker GONE=unset NEW=brand new\n\
         web FOO=it's changed NEW=brand new\n\
         cmd FOO=it's changed GONE=unset\n"
    );
    // The directory was written at start (Docker's KEEP won), then changed by the script.
    assert_eq!(read(&sc.join("env/KEEP")), "from-docker");
    assert_eq!(read(&sc.join("env/FOO")), "it's changed");
    assert_eq!(
        read(&sc.join("env/STOP_ENV_NOT_SET_HERE")),
        "",
        "no file for an unset variable"
    );
    // .sh and .json were rewritten after the last script.
    let names = ["FOO", "KEEP", "GONE", "NEW"];
    let expected = "FOO=it's changed\nKEEP=from-docker\nGONE=unset\nNEW=brand new\n";
    assert_eq!(sourced(&sc.join("env.sh"), &names), expected);
    assert_eq!(from_json(&sc.join("env.json"), &names), expected);
    assert!(
        read(&sc.join("env.sh")).contains("\nexport FOO='it'\"'\"'s changed'\n"),
        "{}",
        read(&sc.join("env.sh"))
    );
}

#[test]
fn the_container_environment_works_as_non_root_and_fails_clearly_without_access() {
    let sc = Scenario::new();
    env_scenario(&sc);
    let nobody = "65534";
    let chown = |p: &str| {
        let st = std::process::Command::new("chown")
            .args([
                "-R",
                &format!("{nobody}:{nobody}"),
                &sc.join(p).display().to_string(),
            ])
            .status()
            .unwrap();
        assert!(st.success());
    };
    for p in ["env", "scan", "init"] {
        chown(p);
    }
    // The scenario dir itself: the scripts write `order` there, and `env.sh` goes there.
    chown(".");
    let as_nobody = |env: &[(&str, &str)]| {
        let mut c = sc
            .cmd(peer("/usr/bin/unshare"))
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(peer("/usr/bin/setpriv"))
            .args(["--reuid", nobody, "--regid", nobody, "--clear-groups"])
            .arg(bin("svscan"))
            .args(["scan", "--", "/bin/sh", "-c"])
            .arg(format!(
                "{}; id -u >> order",
                wait_line("web FOO=it's changed NEW=brand new")
            ))
            .env_remove(STOP_ENV)
            .timeout(Duration::from_secs(15));
        for (k, v) in env {
            c = c.env(k, v);
        }
        c.run()
    };
    as_nobody(&[("SVSCAN_STARTUP_DIR", "init"), ("SVSCAN_ENV_DIR", "env")])
        .code(0)
        .stderr("");
    assert!(read(&sc.join("order")).ends_with("web FOO=it's changed NEW=brand new\n65534\n"));
    assert_eq!(sourced(&sc.join("env.sh"), &["FOO"]), "FOO=it's changed\n");

    // A directory the user cannot write: one clear line, exit 100, nothing started.
    let sc2 = Scenario::new();
    sc2.file("env/FOO", "x", 0o644);
    fs::set_permissions(
        sc2.join("env"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    sc2.service(
        "scan/web",
        "#!/bin/sh\necho web >> ../../order\nexec sleep 100\n",
    );
    let out = sc2
        .cmd(peer("/usr/bin/unshare"))
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(peer("/usr/bin/setpriv"))
        .args(["--reuid", nobody, "--regid", nobody, "--clear-groups"])
        .arg(bin("svscan"))
        .arg("scan")
        .env("SVSCAN_ENV_DIR", "env")
        .env_remove(STOP_ENV)
        .run();
    out.code(100);
    assert!(
        out.stderr
            .starts_with("svscan scan: fatal: unable to write env/")
            && out.stderr.ends_with(": access denied\n")
            && out.stderr.lines().count() == 1,
        "{out:?}"
    );
    assert_eq!(read(&sc2.join("order")), "");
}

/// The shared libraries a binary needs (`ldd`), as (path on the host).
fn libraries(binary: &Path) -> Vec<std::path::PathBuf> {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(std::path::PathBuf::from)
        .collect()
}

/// A phusion/baseimage-style root: busybox for the shell tools, herd's svscan, supervise and sv
/// (with their libraries) in /usr/bin, `/sbin/my_init -> /usr/bin/svscan`, and the image's
/// `/etc/my_init.d`, `/etc/rc.local`, `/etc/container_environment`, `/etc/service/*` and
/// shutdown script directories, unchanged from what a phusion image holds.
fn phusion_root(sc: &Scenario) -> std::path::PathBuf {
    let root = sc.join("root");
    for d in ["bin", "sbin", "usr/bin", "proc", "out", "tmp"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    copy_executable(Path::new("/bin/busybox"), &root.join("bin/busybox"));
    for applet in ["sh", "echo", "cat", "sleep", "rm", "printf", "grep", "id"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    for b in ["svscan", "supervise", "sv"] {
        let src = bin(b);
        copy_executable(&src, &root.join("usr/bin").join(b));
        for lib in libraries(&src) {
            let dst = root.join(lib.strip_prefix("/").unwrap());
            fs::create_dir_all(dst.parent().unwrap()).unwrap();
            if !dst.exists() {
                copy_executable(&lib, &dst);
            }
        }
    }
    std::os::unix::fs::symlink("/usr/bin/svscan", root.join("sbin/my_init")).unwrap();
    // busybox sh reads a backgrounded job's stdin from /dev/null.
    fs::create_dir_all(root.join("dev")).unwrap();
    let st = std::process::Command::new("mknod")
        .arg(root.join("dev/null"))
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    assert!(st.success(), "mknod /dev/null");
    let f = |rel: &str, text: &str, mode: u32| sc.file(Path::new("root").join(rel), text, mode);
    f("etc/container_environment/FOO", "orig\n", 0o644);
    f(
        "etc/my_init.d/10_change_env",
        "#!/bin/sh\necho \"10 FOO=$FOO\" >> /out/order\necho changed > /etc/container_environment/FOO\n",
        0o755,
    );
    f(
        "etc/my_init.d/20_see_env",
        "#!/bin/sh\necho \"20 FOO=$FOO\" >> /out/order\n",
        0o755,
    );
    f(
        "etc/rc.local",
        "#!/bin/sh\necho \"rc.local FOO=$FOO\" >> /out/order\n",
        0o755,
    );
    for name in ["cron", "web"] {
        f(
            &format!("etc/service/{name}/run"),
            &format!(
                "#!/bin/sh\n\
                 trap 'echo {name} got TERM >> /out/term; exit 0' 1 2 3 6 15\n\
                 echo \"{name} FOO=$FOO\" >> /out/up\n\
                 while :; do sleep 1 & wait; done\n"
            ),
            0o755,
        );
    }
    f(
        "etc/my_init.pre_shutdown.d/10",
        "#!/bin/sh\necho pre >> /out/order\n",
        0o755,
    );
    f(
        "etc/my_init.post_shutdown.d/10",
        "#!/bin/sh\necho post >> /out/order\n",
        0o755,
    );
    root
}

/// What my_init is started with: only `PATH` and `env`, the scenario dir as cwd, stdout and
/// stderr to `SC/stdout` and `SC/stderr`.
fn my_init_env_and_output(c: &mut std::process::Command, sc: &Scenario, env: &[(&str, &str)]) {
    c.env_clear()
        .env("PATH", "/usr/bin:/bin:/sbin")
        .current_dir(sc.path())
        .stdout(fs::File::create(sc.join("stdout")).unwrap())
        .stderr(fs::File::create(sc.join("stderr")).unwrap());
    for (k, v) in env {
        c.env(k, v);
    }
}

/// `unshare --pid --fork --mount-proc=ROOT/proc --kill-child chroot ROOT /sbin/my_init ARGS…`;
/// returns unshare's process and my_init's host pid.
fn start_my_init(sc: &Scenario, root: &Path, args: &[&str], env: &[(&str, &str)]) -> (Proc, u32) {
    let mut c = std::process::Command::new(peer("/usr/bin/unshare"));
    c.args(["--pid", "--fork", "--kill-child"])
        .arg(format!("--mount-proc={}", root.join("proc").display()))
        .arg(peer("/usr/sbin/chroot"))
        .arg(root)
        .arg("/sbin/my_init")
        .args(args);
    my_init_env_and_output(&mut c, sc, env);
    let proc = Proc::spawn(c);
    let init = wait_until("my_init to run under unshare", DEADLINE, || {
        proc_children(proc.pid()).into_iter().find(|&p| {
            proc_cmdline(p).is_some_and(|a| a.first().map(String::as_str) == Some("/sbin/my_init"))
        })
    });
    (proc, init)
}

#[test]
fn a_phusion_style_image_runs_unchanged_under_herds_my_init() {
    let sc = Scenario::new();
    let root = phusion_root(&sc);
    let (mut proc, init) = start_my_init(&sc, &root, &[], &[("FROM_DOCKER", "yes")]);
    wait_for("both services up", DEADLINE, || {
        read(&root.join("out/up")).lines().count() == 2
    });
    assert_eq!(
        read(&root.join("out/order")),
        "10 FOO=orig\n20 FOO=changed\nrc.local FOO=changed\n"
    );
    let mut up: Vec<String> = read(&root.join("out/up"))
        .lines()
        .map(String::from)
        .collect();
    up.sort();
    assert_eq!(up, ["cron FOO=changed", "web FOO=changed"]);
    // The environment files, as phusion writes them.
    assert_changed_env(&root.join("etc/container_environment"));
    // `sv` inside the image sees the services.
    let t0 = std::time::Instant::now();
    signal(init, 15);
    let code = proc.wait(DEADLINE);
    let took = t0.elapsed();
    eprintln!("my_init stopped in {took:?}");
    assert_eq!(code, Some(0), "{}", read(&sc.join("stderr")));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let mut term: Vec<String> = read(&root.join("out/term"))
        .lines()
        .map(String::from)
        .collect();
    term.sort();
    assert_eq!(term, ["cron got TERM", "web got TERM"]);
    assert_eq!(
        read(&root.join("out/order")),
        "10 FOO=orig\n20 FOO=changed\nrc.local FOO=changed\npre\npost\n"
    );
    assert_eq!(
        read(&sc.join("stderr")),
        "*** Running /etc/my_init.d/10_change_env...\n\
         *** Running /etc/my_init.d/20_see_env...\n\
         *** Running /etc/rc.local...\n\
         *** Starting the services in /etc/service...\n\
         *** Shutting down...\n\
         *** Stopping the services...\n\
         *** Killing all processes...\n"
    );
}

#[test]
fn my_init_with_a_main_command_and_a_term_ignoring_service() {
    let sc = Scenario::new();
    let root = phusion_root(&sc);
    // The main command's code, after the services' clean stop.
    let (mut proc, _) = start_my_init(
        &sc,
        &root,
        &[
            "--quiet",
            "--",
            "sh",
            "-c",
            "until [ -s /out/up ]; do sleep 0.01; done; exit 3",
        ],
        &[],
    );
    assert_eq!(proc.wait(DEADLINE), Some(3), "{}", read(&sc.join("stderr")));
    assert_eq!(read(&sc.join("stderr")), "");
    // A service that ignores TERM: KILL_PROCESS_TIMEOUT=1 (set explicitly, with
    // KILL_ALL_PROCESSES_TIMEOUT=1) is the services' time: then it is SIGKILLed, the rest stops at
    // once, and the code is 124.
    sc.file(
        "root/etc/service/stubborn/run",
        "#!/bin/sh\ntrap '' 15\necho stubborn >> /out/up\nwhile :; do sleep 0.1; done\n",
        0o755,
    );
    let _ = fs::remove_file(root.join("out/up"));
    let (mut proc, init) = start_my_init(
        &sc,
        &root,
        &["--quiet"],
        &[
            ("KILL_PROCESS_TIMEOUT", "1"),
            ("KILL_ALL_PROCESSES_TIMEOUT", "1"),
        ],
    );
    wait_for("three services up", DEADLINE, || {
        read(&root.join("out/up")).lines().count() == 3
    });
    let t0 = std::time::Instant::now();
    signal(init, 15);
    let code = proc.wait(DEADLINE);
    let took = t0.elapsed();
    eprintln!("my_init with a TERM-ignoring service stopped in {took:?}");
    assert_eq!(code, Some(124), "{}", read(&sc.join("stderr")));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(1700),
        "{took:?}"
    );
    assert_eq!(
        read(&sc.join("stderr")),
        "my_init: warning: stubborn did not stop in time: killed\n"
    );
}

#[test]
fn the_main_command_gets_the_terminal() {
    let sc = Scenario::new();
    polite(&sc, "web");
    // `script` gives svscan a terminal; the command reports its pid, process group and the
    // terminal's foreground group from /proc/self/stat (fields 1, 5 and 8).
    let inner = format!(
        "{} --pid --fork --mount-proc --kill-child {} scan -- /bin/sh -c \
         'read -r pid comm state ppid pgrp sid tty tpgid rest < /proc/self/stat; \
         echo \"self=$$ pid=$pid pgrp=$pgrp tpgid=$tpgid\"'",
        peer("/usr/bin/unshare").display(),
        bin("svscan").display()
    );
    let out = sc
        .cmd(peer("/usr/bin/script"))
        .args(["-qec", &inner, "/dev/null"])
        .env_remove(STOP_ENV)
        .run();
    out.code(0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("self="))
        .unwrap_or_else(|| panic!("{out:?}"))
        .trim_end_matches('\r')
        .to_string();
    let f: Vec<&str> = line.split([' ', '=']).collect();
    // self=P pid=P pgrp=P tpgid=P: its own group, and the terminal's foreground group.
    assert_eq!(f.len(), 8, "{line}");
    assert!(f[1] == f[3] && f[3] == f[5] && f[5] == f[7], "{line}");
    assert_ne!(f[1], "1", "{line}");
}

// ---------------------------------------------------------------------------------------------
// Essential services and prefixed logs: supervise's side of them, seen through svscan.

const ESSENTIAL_WARNING: &str = "svscan scan: warning: essential service boss stopped with status";

#[test]
fn an_essential_service_that_gives_up_stops_the_container_with_its_code() {
    let sc = Scenario::new();
    polite(&sc, "web");
    // `essential` holding 1: the first failure is final.
    sc.service(
        "scan/boss",
        "#!/bin/sh\nuntil grep -q 'web up' ../../order 2>/dev/null; do sleep 0.01; done\nexit 7\n",
    );
    sc.file("scan/boss/essential", "1\n", 0o644);
    let t0 = std::time::Instant::now();
    run_ns(&sc, &[], &["scan"])
        .code(7)
        .stderr(&format!("{ESSENTIAL_WARNING} 7: stopping everything\n"));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(read(&sc.join("order")), "web up\nweb got TERM\n");
}

#[test]
fn an_essential_service_wanted_down_stops_the_container_before_the_main_command() {
    let sc = Scenario::new();
    polite(&sc, "web");
    sc.service(
        "scan/boss",
        "#!/bin/sh\ntrap 'exit 7' TERM\necho boss up >> ../../order\nwhile :; do sleep 1 & wait; done\n",
    );
    sc.file("scan/boss/essential", "", 0o644);
    // The main command takes boss down, then would run on; boss's code wins.
    let cmd = format!(
        "{}; {}; {} down ./scan/boss; exec sleep 100",
        wait_line("boss up"),
        wait_line("web up"),
        bin("sv").display()
    );
    let t0 = std::time::Instant::now();
    run_ns(&sc, &[], &["scan", "--", "/bin/sh", "-c", &cmd])
        .code(7)
        .stdout("")
        .stderr(&format!("{ESSENTIAL_WARNING} 7: stopping everything\n"));
    // The main command got its SIGTERM at once, not at half the bound.
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    let order = read(&sc.join("order"));
    assert!(order.ends_with("web got TERM\n"), "{order:?}");
}

#[test]
fn a_crash_looping_essential_service_stops_the_container_after_n_failures() {
    let sc = Scenario::new();
    polite(&sc, "web");
    sc.service("scan/boss", "#!/bin/sh\necho run >> ../../runs\nexit 4\n");
    sc.file("scan/boss/essential", "3\n", 0o644);
    let t0 = std::time::Instant::now();
    run_ns(&sc, &[], &["scan"])
        .code(4)
        .stderr(&format!("{ESSENTIAL_WARNING} 4: stopping everything\n"));
    // Three runs, one second apart (supervise's restart throttle).
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(read(&sc.join("runs")), "run\nrun\nrun\n");
    assert_eq!(read(&sc.join("order")), "web up\nweb got TERM\n");
}

#[test]
fn prefixed_logs_keep_every_line_whole_through_the_stop() {
    let sc = Scenario::new();
    let names = ["alpha", "beta", "gamma"];
    for name in names {
        // 10 000 numbered lines on stdout, every 1000th also on stderr; on TERM a last burst of
        // 200 lines, written after svscan began the stop.
        sc.service(
            &format!("scan/{name}"),
            &format!(
                "#!/bin/sh\n\
                 trap 'i=1; while [ $i -le 200 ]; do echo \"{name} bye $i\"; i=$((i+1)); done; exit 0' TERM\n\
                 i=1\n\
                 while [ $i -le 10000 ]; do\n\
                   echo \"{name} line $i\"\n\
                   [ $((i % 1000)) -eq 0 ] && echo \"{name} err $i\" >&2\n\
                   i=$((i+1))\n\
                 done\n\
                 echo {name} >> ../../done\n\
                 while :; do sleep 1 & wait; done\n"
            ),
        );
    }
    let cmd = "until [ \"$(cat done 2>/dev/null | wc -l)\" -eq 3 ]; do sleep 0.01; done";
    let out = run_ns(
        &sc,
        &[("SVSCAN_LOG_PREFIX", "1")],
        &["scan", "--", "/bin/sh", "-c", cmd],
    );
    out.code(0);
    for name in names {
        let prefix = format!("[{name}] ");
        let mine: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        let want: Vec<String> = (1..=10000)
            .map(|i| format!("[{name}] {name} line {i}"))
            .chain((1..=200).map(|i| format!("[{name}] {name} bye {i}")))
            .collect();
        assert_eq!(mine.len(), want.len(), "{name}: line count");
        assert!(mine.iter().zip(&want).all(|(a, b)| a == b), "{name}: lines");
        let errs: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        let want: Vec<String> = (1..=10)
            .map(|i| format!("[{name}] {name} err {}", i * 1000))
            .collect();
        assert_eq!(errs, want, "{name}: stderr");
    }
    // Nothing else: every line carries one of the prefixes, none is cut or merged.
    assert_eq!(out.stdout.lines().count(), 3 * 10200);
    assert_eq!(out.stderr.lines().count(), 30, "{}", out.stderr);
}

#[test]
fn my_init_no_kill_all_on_exit_leaves_the_last_sweep_out() {
    for (args, swept) in [(&[][..], true), (&["--no-kill-all-on-exit"][..], false)] {
        let sc = Scenario::new();
        let root = phusion_root(&sc);
        // A start-up script leaves a daemon behind, outside every service: only the final sweep
        // (SIGTERM to every process left) gives it its TERM; without the sweep it is SIGKILLed
        // by the kernel when PID 1 exits.
        sc.file(
            "root/etc/my_init.d/30_daemon",
            "#!/bin/sh\n\
             sh -c 'trap \"echo daemon got TERM >> /out/daemon; exit 0\" TERM; \
             echo up > /out/daemon; while :; do sleep 1 & wait; done' </dev/null >/dev/null 2>&1 &\n",
            0o755,
        );
        let mut all = vec!["--quiet"];
        all.extend_from_slice(args);
        let (mut proc, init) = start_my_init(&sc, &root, &all, &[]);
        wait_for("services and daemon up", DEADLINE, || {
            read(&root.join("out/up")).lines().count() == 2
                && read(&root.join("out/daemon")) == "up\n"
        });
        signal(init, 15);
        assert_eq!(proc.wait(DEADLINE), Some(0), "{}", read(&sc.join("stderr")));
        let want = if swept {
            "up\ndaemon got TERM\n"
        } else {
            "up\n"
        };
        assert_eq!(read(&root.join("out/daemon")), want, "{args:?}");
        assert_eq!(
            sorted_lines_of(&root.join("out/term")),
            ["cron got TERM", "web got TERM"]
        );
    }
}

fn sorted_lines_of(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = read(p).lines().map(String::from).collect();
    v.sort();
    v
}

/// A stop that waits for nothing but the processes' own exits: well under half the default
/// 7 s bound (the longest step 1 may wait for a main command or a start-up script), so that a
/// stop that waited on a timer fails, and generous for a loaded 2-core machine (500 ms was not).
const PROMPT_STOP: Duration = Duration::from_secs(2);

#[test]
fn orphans_holding_a_log_pipe_do_not_hold_the_stop_but_start_up_daemons_go_last() {
    let sc = Scenario::new();
    // The service's backgrounded `sleep 100` holds the log pipe after the run script exits: it
    // is swept (SIGTERM) as soon as it is orphaned, so the logger gets EOF at once.
    sc.service(
        "scan/svc",
        "#!/bin/sh\n\
         trap 'echo svc got TERM >> ../../order; echo bye; exit 0' TERM\n\
         echo hi\n\
         while :; do sleep 100 & wait; done\n",
    );
    sc.script(
        "scan/svc/log/run",
        "#!/bin/sh\nexec cat >> ../../../svc.log\n",
    );
    // A daemon left by a start-up script is an orphan from the start: it is stopped after the
    // services, as phusion stops syslog-ng after runit.
    sc.script(
        "init/10_daemon",
        "#!/bin/sh\n\
         sh -c 'trap \"echo daemon got TERM >> order; exit 0\" TERM; echo daemon up >> order; \
         while :; do sleep 1 & wait; done' </dev/null >/dev/null 2>&1 &\n",
    );
    let mut ns = Ns::start_via(&sc, &["/usr/bin/env", "SVSCAN_STARTUP_DIR=init"], &["scan"]);
    wait_for("daemon up and svc logging", DEADLINE, || {
        read(&sc.join("order")) == "daemon up\n" && read(&sc.join("svc.log")) == "hi\n"
    });
    let (code, took) = ns.stop(&sc, 15, DEADLINE);
    assert_eq!(code, Some(0), "{}", ns.stderr());
    assert!(took < PROMPT_STOP, "{took:?}");
    assert_eq!(read(&sc.join("svc.log")), "hi\nbye\n");
    assert_eq!(
        read(&sc.join("order")),
        "daemon up\nsvc got TERM\ndaemon got TERM\n"
    );
    assert_eq!(ns.stderr(), "");
}

#[test]
fn sigterm_during_start_up_stops_the_script_and_starts_nothing() {
    let sc = Scenario::new();
    polite(&sc, "web");
    sc.script(
        "init/10_slow",
        "#!/bin/sh\ntrap 'echo init got TERM >> order; exit 1' TERM\necho init up >> order\n\
         while :; do sleep 1 & wait; done\n",
    );
    sc.script("init/20_never", "#!/bin/sh\necho never >> order\n");
    let mut ns = Ns::start_via(&sc, &["/usr/bin/env", "SVSCAN_STARTUP_DIR=init"], &["scan"]);
    wait_for("the start-up script", DEADLINE, || {
        read(&sc.join("order")) == "init up\n"
    });
    let (code, took) = ns.stop(&sc, 15, DEADLINE);
    assert_eq!(code, Some(0), "{}", ns.stderr());
    assert!(took < PROMPT_STOP, "{took:?}");
    assert_eq!(read(&sc.join("order")), "init up\ninit got TERM\n");
    assert!(!sc.join("scan/web/supervise").exists(), "a supervise ran");
    assert_eq!(ns.stderr(), "");
}

/// `start_my_init` with the root's `/etc` bind-mounted read-only (in a mount namespace of its
/// own), as in a `--read-only` container; `ROOT/run` stays writable. Returns unshare's process
/// (my_init may have exited already: its host pid is looked for by the caller if it needs it).
fn start_my_init_ro_etc(sc: &Scenario, root: &Path, env: &[(&str, &str)]) -> Proc {
    fs::create_dir_all(root.join("run")).unwrap();
    let etc = root.join("etc").display().to_string();
    let mut c = std::process::Command::new(peer("/usr/bin/unshare"));
    c.args(["--mount", "--pid", "--fork", "--kill-child"])
        .arg(format!("--mount-proc={}", root.join("proc").display()))
        .args(["/bin/sh", "-c"])
        .arg(
            "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\" && \
             exec /usr/sbin/chroot \"$2\" /sbin/my_init",
        )
        .args(["sh", &etc, &root.display().to_string()]);
    my_init_env_and_output(&mut c, sc, env);
    Proc::spawn(c)
}

/// A read-only root (issue 17): with `/etc` read-only, my_init cannot write
/// `/etc/container_environment` and says why in one line (exit 100, nothing started). With
/// `SVSCAN_ENV_DIR=/run/container_environment`, the image's `/etc/container_environment` is
/// imported, the export goes to the moved directory (made, 0700), start-up scripts change it
/// there, and every service sees the result; `SVSCAN_STARTUP_DIR`, `SVSCAN_PRE_SHUTDOWN_DIR`
/// and `SVSCAN_POST_SHUTDOWN_DIR` move phusion's script directories.
#[test]
fn my_init_on_a_read_only_etc_moves_the_container_environment() {
    use std::os::unix::fs::PermissionsExt;
    let sc = Scenario::new();
    let root = phusion_root(&sc);
    let mut proc = start_my_init_ro_etc(&sc, &root, &[("FROM_DOCKER", "yes")]);
    assert_eq!(proc.wait(DEADLINE), Some(100));
    assert_eq!(
        read(&sc.join("stderr")),
        "my_init: fatal: unable to write /etc/container_environment/FOO: read-only file system\n"
    );
    assert_eq!(read(&root.join("out/order")), "");
    assert_eq!(read(&root.join("out/up")), "");

    // The moved places: start-up scripts that write the moved directory, shutdown scripts.
    let f = |rel: &str, text: &str| sc.file(Path::new("root").join(rel), text, 0o755);
    f(
        "opt/init/10_change_env",
        "#!/bin/sh\necho \"10 FOO=$FOO\" >> /out/order\n\
         echo changed > /run/container_environment/FOO\n",
    );
    f(
        "opt/init/20_see_env",
        "#!/bin/sh\necho \"20 FOO=$FOO FROM_DOCKER=$FROM_DOCKER\" >> /out/order\n",
    );
    f("opt/pre/10", "#!/bin/sh\necho moved pre >> /out/order\n");
    f("opt/post/10", "#!/bin/sh\necho moved post >> /out/order\n");
    // The services' supervise directories go to /run too (docs/docker.md, "Read-only root").
    sc.cmd("/bin/sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/supervise-links.sh"))
        .arg(root.join("etc/service"))
        .run()
        .code(0)
        .stderr("");
    let mut proc = start_my_init_ro_etc(
        &sc,
        &root,
        &[
            ("FROM_DOCKER", "yes"),
            ("SVSCAN_ENV_DIR", "/run/container_environment"),
            ("SVSCAN_STARTUP_DIR", "/opt/init"),
            ("SVSCAN_PRE_SHUTDOWN_DIR", "/opt/pre"),
            ("SVSCAN_POST_SHUTDOWN_DIR", "/opt/post"),
        ],
    );
    wait_for("both services up", DEADLINE, || {
        read(&root.join("out/up")).lines().count() == 2
    });
    let init = wait_until("my_init under unshare", DEADLINE, || {
        proc_children(proc.pid()).into_iter().find(|&p| {
            proc_cmdline(p).is_some_and(|a| a.first().map(String::as_str) == Some("/sbin/my_init"))
        })
    });
    let mut up: Vec<String> = read(&root.join("out/up"))
        .lines()
        .map(String::from)
        .collect();
    up.sort();
    assert_eq!(up, ["cron FOO=changed", "web FOO=changed"]);
    let moved = root.join("run/container_environment");
    assert_eq!(
        fs::metadata(&moved).unwrap().permissions().mode() & 0o7777,
        0o700
    );
    assert_changed_env(&moved);
    signal(init, 15);
    assert_eq!(proc.wait(DEADLINE), Some(0), "{}", read(&sc.join("stderr")));
    assert_eq!(
        read(&root.join("out/order")),
        "10 FOO=orig\n20 FOO=changed FROM_DOCKER=yes\nrc.local FOO=changed\nmoved pre\nmoved post\n"
    );
    // The image's directory is as it was.
    assert_eq!(read(&root.join("etc/container_environment/FOO")), "orig\n");
    assert!(!root.join("etc/container_environment/FROM_DOCKER").exists());
    assert_eq!(
        read(&sc.join("stderr")),
        "*** Running /opt/init/10_change_env...\n\
         *** Running /opt/init/20_see_env...\n\
         *** Running /etc/rc.local...\n\
         *** Starting the services in /etc/service...\n\
         *** Shutting down...\n\
         *** Stopping the services...\n\
         *** Killing all processes...\n"
    );
}
