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
use std::process::ExitCode;

use herd_diag::{emit, usage_line};

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let env = |name: &str| std::env::var_os(name);
    let argv0 = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "svscan".into());
    let config = if argv0.rsplit('/').next() == Some("my_init") {
        match myinit::parse(&argv, &env) {
            Ok(config) => config,
            Err(r) => {
                if r.stdout {
                    print!("{}", r.text);
                } else {
                    emit(r.text);
                }
                return ExitCode::from(r.code);
            }
        }
    } else {
        match config::parse(&argv, &env) {
            Some(config) => config,
            None => {
                emit(usage_line(
                    &argv0,
                    " [-P] [-t sec] dir [log] [-- command...]",
                ));
                return ExitCode::from(config::EXIT_USAGE);
            }
        }
    };
    ExitCode::from(shell::run(&config, &argv))
}
