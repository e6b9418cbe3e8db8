//! `supervise/` cannot be turned against a root supervise (docs/reliability.md, "Files and
//! permissions"): a symlink planted in place of a file it creates, truncates or locks is not
//! followed (runsv follows it and writes the link's target), a FIFO planted there cannot hang
//! it, an `instance` file it did not write names no process for it to stop, and control of a
//! service can be given to a group through a pre-made `supervise/` with group-writable FIFOs,
//! with our `sv` and runit's, under our supervise and under runsv.

use std::os::unix::fs::{symlink, FileTypeExt};

use super::*;

/// What a planted symlink points at: a file of root's that supervise must leave alone.
const VICTIM: &str = "not supervise's to write\n";
/// A user and groups that exist nowhere else (numeric only: nothing is added to the system).
const USER: u32 = 47001;
const USER_GROUP: u32 = 47002;
const OPS: u32 = 47003;

/// `SC/victim` (mode 0600) with [`VICTIM`] in it.
fn victim(sc: &Scenario) -> PathBuf {
    sc.file("victim", VICTIM, 0o600)
}

/// Asserts that `p` still holds [`VICTIM`] with mode 0600.
#[track_caller]
fn assert_untouched(p: &Path) {
    assert_eq!(read(p), VICTIM, "{} was written", p.display());
    let mode = fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "{} had its mode changed", p.display());
}

/// A run script that appends its pid to `SC/NAME.runs`, then sleeps.
fn counting_run(sc: &Scenario, name: &str) -> String {
    format!(
        "#!/bin/sh\necho $$ >> {}\nexec sleep 1000\n",
        sc.join(format!("{name}.runs")).display()
    )
}

/// Pids written by [`counting_run`] so far.
fn runs(sc: &Scenario, name: &str) -> Vec<u32> {
    read(&sc.join(format!("{name}.runs")))
        .lines()
        .map(|l| l.parse().unwrap())
        .collect()
}

/// Waits for the `n`th start of `name`'s run (by [`counting_run`]) and returns its pid.
#[track_caller]
fn wait_run_number(sc: &Scenario, name: &str, n: usize) -> u32 {
    wait_until(&format!("start number {n} of {name}"), DEADLINE, || {
        runs(sc, name).get(n - 1).copied()
    })
}

/// Waits until supervise's stderr has `n` lines, then holds [`QUIET`] and returns it.
#[track_caller]
fn stderr_after_lines(sc: &Scenario, name: &str, n: usize) -> String {
    wait_for(&format!("{n} lines on stderr"), DEADLINE, || {
        stderr_of(sc, name).lines().count() >= n
    });
    std::thread::sleep(QUIET);
    stderr_of(sc, name)
}

/// For each file supervise writes through `NAME.new` + rename: with `supervise/NAME.new` a
/// symlink to a file of root's, supervise neither truncates nor writes that file; each update
/// that needs it warns once, in runsv's words with runit's text for ELOOP, and supervision goes
/// on. Once the link is gone, the next update writes the file. (runsv truncates the target and
/// writes the update into it.)
#[test]
fn symlink_planted_as_a_new_file_is_not_followed_and_each_update_warns() {
    // The file, and how many updates need it: five status updates (start, run, then for `d`:
    // want down, got TERM, down); `instance.new` is written once per process started.
    for (file, updates) in [
        ("pid.new", 5),
        ("stat.new", 5),
        ("status.new", 5),
        ("instance.new", 1),
    ] {
        let sc = Scenario::new();
        let svc = sc.service("web", &counting_run(&sc, "web"));
        let v = victim(&sc);
        fs::create_dir(svc.join("supervise")).unwrap();
        let link = svc.join("supervise").join(file);
        symlink(&v, &link).unwrap();
        let _sup = spawn_supervise(&sc, "web");
        let pid = wait_run_number(&sc, "web", 1);
        control(&svc, "d");
        wait_for("run to stop", DEADLINE, || !pid_alive(pid));
        let line = format!(
            "supervise web: warning: unable to open supervise/{file}: symbolic link loop\n"
        );
        assert_eq!(
            stderr_after_lines(&sc, "web", updates),
            line.repeat(updates),
            "{file}"
        );
        assert_untouched(&v);
        assert!(fs::symlink_metadata(&link).unwrap().is_symlink(), "{file}");

        // The link removed, the next update is written in full.
        fs::remove_file(&link).unwrap();
        control(&svc, "u");
        let pid = wait_run_number(&sc, "web", 2);
        wait_stat(&svc, "run\n", DEADLINE);
        // `status` is renamed into place after `stat`.
        wait_for(
            &format!("{file}: status to name the new run"),
            DEADLINE,
            || status(&svc).and_then(|s| s.pid).map(|p| p.get()) == Some(pid),
        );
        let target = svc.join("supervise").join(file.trim_end_matches(".new"));
        assert!(fs::symlink_metadata(&target).unwrap().is_file(), "{file}");
        assert_untouched(&v);
        assert_eq!(stderr_of(&sc, "web"), line.repeat(updates), "{file}");
    }
}

/// A symlink as `supervise/lock` (or `log/supervise/lock`): fatal, exit 111, before anything
/// starts, and the link's target is not created (runsv creates it, as root, and locks it).
#[test]
fn symlink_planted_as_the_lock_is_fatal_and_creates_nothing() {
    for lock in ["supervise/lock", "log/supervise/lock"] {
        let sc = Scenario::new();
        let svc = sc.service("web", &counting_run(&sc, "web"));
        sc.script("web/log/run", &counting_run(&sc, "log"));
        let parent = svc.join(lock).parent().unwrap().to_path_buf();
        fs::create_dir_all(&parent).unwrap();
        let target = sc.join("created-by-supervise");
        symlink(&target, svc.join(lock)).unwrap();
        sc.cmd(bin("supervise"))
            .arg("web")
            .run()
            .code(111)
            .stdout("")
            .stderr(&format!(
                "supervise web: fatal: unable to open {lock}: symbolic link loop\n"
            ));
        assert!(
            fs::symlink_metadata(&target).is_err(),
            "{lock}: target created"
        );
        assert!(runs(&sc, "web").is_empty() && runs(&sc, "log").is_empty());
    }
}

/// Symlinks as the FIFOs. `control` pointing at a FIFO elsewhere is not a FIFO (runsv reads
/// commands from wherever it points): fatal before the service starts. `ok` is never opened
/// through the link: the link is replaced by a FIFO of supervise's own, as any non-FIFO there is
/// (supervise::faults), and the FIFO it pointed at is left as it was.
#[test]
fn symlinks_planted_as_the_fifos_are_not_followed() {
    for fifo in ["control", "ok"] {
        let sc = Scenario::new();
        let svc = sc.service("web", &counting_run(&sc, "web"));
        let elsewhere = sc.join("elsewhere");
        nix::unistd::mkfifo(&elsewhere, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        fs::create_dir(svc.join("supervise")).unwrap();
        let link = svc.join("supervise").join(fifo);
        symlink(&elsewhere, &link).unwrap();
        if fifo == "control" {
            sc.cmd(bin("supervise"))
                .arg("web")
                .run()
                .code(111)
                .stdout("")
                .stderr("supervise web: fatal: supervise/control exists but is not a fifo\n");
            assert!(runs(&sc, "web").is_empty(), "{fifo}");
        } else {
            let _sup = spawn_supervise(&sc, "web");
            wait_run_number(&sc, "web", 1);
            assert_eq!(
                stderr_after_lines(&sc, "web", 1),
                "supervise web: warning: supervise/ok exists but is not a fifo: replacing it\n"
            );
            let md = fs::symlink_metadata(&link).unwrap();
            assert!(md.file_type().is_fifo(), "{fifo} is a FIFO of its own now");
        }
        let md = fs::symlink_metadata(&elsewhere).unwrap();
        assert!(md.file_type().is_fifo(), "the FIFO elsewhere is left alone");
    }
}

/// A FIFO planted as `supervise/stat.new`: opening it non-blocking (as runsv does) fails with
/// ENXIO instead of waiting forever for a reader; supervise warns and supervises.
#[test]
fn fifo_planted_as_a_new_file_does_not_hang_supervise() {
    let sc = Scenario::new();
    let svc = sc.service("web", &counting_run(&sc, "web"));
    fs::create_dir(svc.join("supervise")).unwrap();
    let fifo = svc.join("supervise/stat.new");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let _sup = spawn_supervise(&sc, "web");
    let pid = wait_run_number(&sc, "web", 1);
    // The run can count itself before supervise has published its pid (as with runsv).
    let expected = format!("{pid}\n");
    wait_for("supervise/pid names the run", DEADLINE, || {
        fs::read_to_string(svc.join("supervise/pid"))
            .ok()
            .as_deref()
            == Some(expected.as_str())
    });
    let line = "supervise web: warning: unable to open supervise/stat.new: device not configured\n";
    assert_eq!(stderr_after_lines(&sc, "web", 2), line.repeat(2));
}

/// `supervise/instance` names the process a previous supervise left running, to be stopped at
/// start. One that supervise did not write itself names nothing: not a file owned by another
/// user (who could write it in a group-writable `supervise/`), and not a symlink, even to a
/// file of root's; each naming a live process with its true start time.
#[test]
fn instance_file_not_written_by_supervise_names_nothing_to_stop() {
    for how in ["owned by another user", "a symlink"] {
        let sc = Scenario::new();
        let svc = sc.service("web", &counting_run(&sc, "web"));
        let mut c = Command::new("/bin/sleep");
        c.arg(marker(1007));
        let mut bystander = Proc::spawn(c);
        wait_exec(bystander.pid(), &["/bin/sleep", &marker(1007)]);
        let line = format!("{} {}\n", bystander.pid(), start_time(bystander.pid()));
        fs::create_dir(svc.join("supervise")).unwrap();
        let instance = svc.join("supervise/instance");
        if how == "a symlink" {
            let real = sc.file("instance-elsewhere", &line, 0o644);
            symlink(real, &instance).unwrap();
        } else {
            fs::write(&instance, &line).unwrap();
            std::os::unix::fs::chown(&instance, Some(USER), Some(USER_GROUP)).unwrap();
        }
        let _sup = spawn_supervise(&sc, "web");
        wait_run_number(&sc, "web", 1);
        std::thread::sleep(QUIET);
        assert!(bystander.alive(), "{how}: supervise stopped pid {line}");
        assert_eq!(stderr_of(&sc, "web"), "", "{how}");
    }
}

/// `setpriv` from util-linux: runs a command as another user and groups.
const SETPRIV: &str = "/usr/bin/setpriv";

/// Runs `sv ARGS` (`flavor`'s) in the scenario dir as [`USER`], with the supplementary group
/// [`OPS`] if `member`.
fn sv_as_user(sc: &Scenario, flavor: Flavor, member: bool, args: &[&str]) -> Output {
    let groups = if member {
        format!("--groups={OPS}")
    } else {
        "--clear-groups".to_string()
    };
    sc.cmd(peer(SETPRIV))
        .arg(format!("--reuid={USER}"))
        .arg(format!("--regid={USER_GROUP}"))
        .arg(groups)
        .arg("--")
        .arg(flavor.program(Tool::Sv))
        .args(args)
        .run()
}

/// Delegating control to a group (docs/reliability.md): a pre-made `supervise/` of root's, mode
/// 0750 and group OPS, with `control` and `ok` FIFOs of mode 0660 and group OPS. A supervisor
/// started as root keeps them as they are, so a non-root member of OPS runs `sv status`, `down`
/// and `up` with our `sv` and runit's, under our supervise and under runsv; a non-member is
/// refused in runit's words.
#[test]
fn group_members_control_a_root_service_through_a_pre_made_supervise_dir() {
    for supervisor in FLAVORS {
        let sc = Scenario::new();
        let svc = sc.service("web", RUN_SLEEP);
        for d in [sc.path(), svc.as_path()] {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let dir = svc.join("supervise");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::chown(&dir, Some(0), Some(OPS)).unwrap();
        for fifo in ["control", "ok"] {
            let p = dir.join(fifo);
            nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o660)).unwrap();
            // mkfifo's mode goes through the umask: set it exactly.
            fs::set_permissions(&p, fs::Permissions::from_mode(0o660)).unwrap();
            std::os::unix::fs::chown(&p, Some(0), Some(OPS)).unwrap();
        }
        let mut c = Command::new(supervisor.program(Tool::Supervise));
        c.arg("web").current_dir(sc.path());
        let _sup = spawn_with_stderr(&sc, "web", c);
        wait_running(&svc);
        for client in FLAVORS {
            let what = format!("{client}'s sv under {supervisor}'s supervise");
            let out = sv_as_user(&sc, client, true, &["status", "./web"]);
            out.code(0);
            assert_eq!(normalize(&out.stdout), "run: ./web: (pid N) Ns\n", "{what}");
            let out = sv_as_user(&sc, client, true, &["-w", "5", "down", "./web"]);
            out.code(0).stderr("");
            assert_eq!(
                normalize(&out.stdout),
                "ok: down: ./web: Ns, normally up\n",
                "{what}"
            );
            let out = sv_as_user(&sc, client, true, &["-w", "5", "up", "./web"]);
            out.code(0).stderr("");
            assert_eq!(
                normalize(&out.stdout),
                "ok: run: ./web: (pid N) Ns\n",
                "{what}"
            );
            sv_as_user(&sc, client, false, &["down", "./web"])
                .code(1)
                .stdout("warning: ./web: unable to open supervise/ok: access denied\n")
                .stderr("");
            assert_eq!(stat(&svc), "run\n", "{what}: a non-member stopped it");
        }
        // The supervisor left the pre-made directory and FIFOs as they were.
        let meta = |p: &Path| fs::symlink_metadata(p).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta(&dir).mode() & 0o7777, meta(&dir).gid()), (0o750, OPS));
        for fifo in ["control", "ok"] {
            let m = meta(&dir.join(fifo));
            assert_eq!((m.mode() & 0o7777, m.gid()), (0o660, OPS), "{fifo}");
        }
        assert_eq!(stderr_of(&sc, "web"), "", "{supervisor}");
    }
}
