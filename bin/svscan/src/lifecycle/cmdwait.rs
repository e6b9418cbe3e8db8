//! When the main command starts (docs/svscan.md, "Main command"): after the first scan, or, with
//! `SVSCAN_CMD_WAIT`, once every service is up and ready. While it waits, the services run as
//! usual (rescans, restarts); the shell watches their readiness and tells each change
//! ([`super::Event::Readiness`]). The services waited for are the table's, given again after each scan,
//! so that a service added meanwhile is waited for too and one removed is not. When the maximum
//! passes, one line names the services not ready and everything stops ([`EXIT_NOT_READY`]).

use std::ffi::OsString;
use std::time::{Duration, Instant};

use herd_value::later;

use super::{CmdWait, Effect, Lifecycle, Phase, Report, EXIT_NOT_READY};

/// How soon readiness is asked for again when the shell cannot watch it (no inotify).
pub const RECHECK: Duration = Duration::from_millis(100);

/// The main command, while the services run.
#[derive(Debug)]
pub(super) enum MainDue {
    /// There is none, or it was started.
    No,
    /// It starts once the first scan's answer is in.
    AfterScan,
    /// It starts when every service is ready.
    Awaiting(Awaiting),
}

#[derive(Debug)]
pub(super) struct Awaiting {
    /// `None`: however long it takes.
    until: Option<Instant>,
    /// The services not ready, as last told.
    not_ready: Vec<OsString>,
    /// The shell cannot watch: readiness is asked for again at this.
    recheck_at: Option<Instant>,
}

impl MainDue {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        match self {
            MainDue::Awaiting(a) => [a.until, a.recheck_at].into_iter().flatten().min(),
            MainDue::No | MainDue::AfterScan => None,
        }
    }
}

impl Lifecycle {
    /// After each scan (or failed scan): the main command starts after the first, or waits for
    /// the services; while it waits, the services to wait for are given again.
    pub(super) fn main_due(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        let Phase::Running { main } = &mut self.phase else {
            return;
        };
        match (&*main, self.plan.wait) {
            (MainDue::No, _) => {}
            (MainDue::AfterScan, CmdWait::Off) => {
                *main = MainDue::No;
                fx.push(Effect::SpawnMain);
            }
            (MainDue::AfterScan, wait) => {
                let until = match wait {
                    CmdWait::Upto(d) => Some(later(now, d)),
                    CmdWait::Off | CmdWait::Forever => None,
                };
                *main = MainDue::Awaiting(Awaiting {
                    until,
                    not_ready: Vec::new(),
                    recheck_at: None,
                });
                fx.push(Effect::AwaitReady(self.table.names()));
            }
            (MainDue::Awaiting(_), _) => fx.push(Effect::AwaitReady(self.table.names())),
        }
    }

    /// The answer to [`Effect::AwaitReady`], or a change since: the main command starts when
    /// no service is left to wait for.
    pub(super) fn readiness(
        &mut self,
        not_ready: Vec<OsString>,
        watched: bool,
        now: Instant,
        fx: &mut Vec<Effect>,
    ) {
        let Phase::Running {
            main: main @ MainDue::Awaiting(_),
        } = &mut self.phase
        else {
            return;
        };
        if not_ready.is_empty() {
            *main = MainDue::No;
            // The main command first: nothing of the wait's end delays it.
            fx.extend([Effect::SpawnMain, Effect::EndAwait]);
        } else if let MainDue::Awaiting(a) = main {
            a.not_ready = not_ready;
            a.recheck_at = (!watched).then(|| later(now, RECHECK));
        }
    }

    /// What is due at `now` while the main command waits: the maximum (a line, then the stop,
    /// which ends the wait), or asking again when the shell cannot watch.
    pub(super) fn await_due(&mut self, now: Instant, fx: &mut Vec<Effect>) {
        let Phase::Running {
            main: MainDue::Awaiting(a),
        } = &mut self.phase
        else {
            return;
        };
        if a.until.is_some_and(|t| now >= t) {
            let after = match self.plan.wait {
                CmdWait::Upto(d) => d,
                CmdWait::Off | CmdWait::Forever => Duration::ZERO,
            };
            let names = std::mem::take(&mut a.not_ready);
            fx.push(Effect::Report(Report::NotReady { names, after }));
            self.decide(EXIT_NOT_READY);
            self.begin_stop(now, fx);
        } else if a.recheck_at.is_some_and(|t| now >= t) {
            a.recheck_at = None;
            fx.push(Effect::AwaitReady(self.table.names()));
        }
    }

    /// Whether the main command waits for the services (the stop then ends the watch).
    pub(super) fn awaiting(&self) -> bool {
        matches!(
            self.phase,
            Phase::Running {
                main: MainDue::Awaiting(_)
            }
        )
    }
}
