//! `svscan [-P] [-t sec] DIR [log] [-- CMD…]`: runit's runsvdir, with inotify pickup, a correct
//! PID 1, start-up and shutdown scripts, the container environment, a main command and essential
//! services. Called `my_init`, it takes phusion's command line instead. See docs/svscan.md and
//! docs/migrating-from-phusion.md. The lifecycle is the pure machine in `lifecycle/`; `shell.rs`
//! drives it and applies its effects through the other modules.

#![forbid(unsafe_code)]

mod config;
mod environ;
mod lifecycle;
mod myinit;
mod proctitle;
mod ready;
mod report;
mod scan;
mod scripts;
mod shell;
mod signals;
mod spawn;
mod table;
mod watch;

use std::ffi::OsString;

use config::Refusal;
use herd_diag::{emit, Diag};
use herd_sys::forker::Inline;

/// `--help` for each name svscan answers to: `svscan`, runit's `runsvdir`, phusion's `my_init`.
pub fn help(name: &str) -> String {
    if name == myinit::PROG {
        myinit::help()
    } else {
        config::help(name)
    }
}

/// The tool, called with `argv` (`argv[0]` is the name it was called by).
/// `supervise`: supervise's `main`, when it is in this executable (the `herd` binary): svscan's
/// forker (`herd_sys::forker`) then starts each supervise without an exec.
pub fn main(argv: Vec<OsString>, supervise: Option<Inline>) -> u8 {
    let env = |name: &str| std::env::var_os(name);
    let argv0 = argv
        .first()
        .map_or("svscan".into(), |a| a.to_string_lossy());
    let name = argv0.rsplit('/').next().unwrap_or_default();
    let parsed = if name == myinit::PROG {
        myinit::parse(&argv, &env)
    } else {
        config::parse(&argv, &env)
    };
    let config = match parsed {
        Ok(config) => config,
        Err(Refusal::Usage(text, code)) => {
            emit(text);
            return code;
        }
        Err(Refusal::Long(long)) => {
            let prog = if name == myinit::PROG { name } else { "svscan" };
            return herd_getopt::answer(long, &help(name), &Diag::new(prog));
        }
    };
    herd_sys::sched::prompt_wakeups();
    shell::run(&config, &argv, supervise)
}
