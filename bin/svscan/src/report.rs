//! The lines svscan writes for what the lifecycle reports: runsvdir-style warnings and fatal
//! lines through `herd-diag`, and my_init's `*** ` progress lines (only when verbose).

use std::path::Path;

use herd_diag::{emit, Diag};

use crate::config::Config;
use crate::lifecycle::{Progress, Report};

/// Writes the line for `r`.
pub fn say(diag: &Diag, config: &Config, r: Report) {
    match r {
        Report::Progress(p) => progress(config, p),
        Report::ScriptFailed { path, code, fatal } => {
            let msg = format!("{} failed with status {code}", path.display());
            if fatal {
                diag.fatal(&msg);
            } else {
                diag.warn(&msg);
            }
        }
        Report::ScriptKilled(path) => {
            diag.warn(&format_args!("{} took too long: killed", path.display()))
        }
        Report::EssentialStopped { name, code } => diag.warn(&format_args!(
            "essential service {} stopped with status {code}: stopping everything",
            name.to_string_lossy()
        )),
        Report::TimedOut => diag.warn(&"shutdown timed out: killing every process left"),
        Report::NotReady { names, after } => {
            let names: Vec<_> = names.iter().map(|n| n.to_string_lossy()).collect();
            diag.fatal(&format_args!(
                "unable to run {}: services not ready after {} ms: {}",
                config
                    .cmd
                    .first()
                    .map(|c| c.to_string_lossy())
                    .unwrap_or_default(),
                after.as_millis(),
                names.join(", ")
            ))
        }
    }
}

/// my_init's `*** ` progress lines on stderr (not with `--quiet`, never for plain svscan).
fn progress(config: &Config, p: Progress) {
    if !config.verbose {
        return;
    }
    let cmd = &config.cmd;
    let line = match p {
        Progress::RunningScript(path) => format!("Running {}...", path.display()),
        Progress::StartingServices => format!(
            "Starting the services in {}...",
            config
                .dir
                .as_deref()
                .map(Path::new)
                .unwrap_or(Path::new(""))
                .display()
        ),
        Progress::RunningMain => {
            let words: Vec<_> = cmd.iter().map(|a| a.to_string_lossy()).collect();
            format!("Running {}...", words.join(" "))
        }
        Progress::MainExited(code) => format!(
            "{} exited with status {code}.",
            cmd.first().map(|c| c.to_string_lossy()).unwrap_or_default()
        ),
        Progress::ShuttingDown => "Shutting down...".into(),
        Progress::StoppingServices => "Stopping the services...".into(),
        Progress::KillingAll => "Killing all processes...".into(),
    };
    emit(format!("*** {line}\n"));
}
