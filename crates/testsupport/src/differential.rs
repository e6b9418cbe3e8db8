//! The differential harness: one run of a scenario with runit's tool, one with herd's, and the
//! two transcripts held to be equal. [`Flavor`] says whose tool a run uses and [`Tool`] which
//! tool; runit's binaries are Debian's, by path; an argv[0] form (`envdir`, an init.d-style link
//! to `sv`) is a symlink with the same name for both flavors ([`Flavor::link`]).
//!
//! [`compare_flavors`] runs both flavors (at once or in turn), and on a difference panics with
//! the first line that differs and both transcripts; a run that panics is reported with its
//! flavor's name and the other flavor's transcript. Equality is the transcript type's own
//! `PartialEq`: the lines are only how a failure is shown.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::{bin, peer};

/// Whose implementation of a [`Tool`] a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// The peer that defines the behaviour: runit 2.1.2 as Debian installs it.
    Runit,
    /// Ours, from the build under test.
    Herd,
}

/// Both flavors, runit's first: it is the reference.
pub const FLAVORS: [Flavor; 2] = [Flavor::Runit, Flavor::Herd];

/// A tool that herd and runit both have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// `chpst` (and its argv[0] forms `envdir`, `setlock`…, reached through [`Flavor::link`]).
    Chpst,
    /// runit's `runsv`, our `supervise`.
    Supervise,
    /// `sv` (and its init.d-style form, a link named after the service).
    Sv,
    /// runit's `svlogd`, our `svlog`.
    Svlog,
}

impl Tool {
    /// runit's binary, by path: Debian's daemontools also installs a `supervise` and an
    /// `svscan`, so nothing is looked up through PATH.
    fn runit_path(self) -> &'static str {
        match self {
            Tool::Chpst => "/usr/bin/chpst",
            Tool::Supervise => "/usr/bin/runsv",
            Tool::Sv => "/usr/bin/sv",
            Tool::Svlog => "/usr/bin/svlogd",
        }
    }

    /// Our binary's name in the target dir.
    fn herd_name(self) -> &'static str {
        match self {
            Tool::Chpst => "chpst",
            Tool::Supervise => "supervise",
            Tool::Sv => "sv",
            Tool::Svlog => "svlog",
        }
    }
}

impl Flavor {
    /// Path of this flavor's `tool`.
    pub fn program(self, tool: Tool) -> PathBuf {
        match self {
            Flavor::Runit => peer(tool.runit_path()),
            Flavor::Herd => bin(tool.herd_name()),
        }
    }

    /// The program's own name (`runsv`, `supervise`, `svlogd`…), as failure reports give it.
    pub fn name(self, tool: Tool) -> &'static str {
        match self {
            Flavor::Runit => tool
                .runit_path()
                .rsplit('/')
                .next()
                .unwrap_or(tool.runit_path()),
            Flavor::Herd => tool.herd_name(),
        }
    }

    /// `DIR/NAME`, a symlink to this flavor's `tool` (made once; `DIR` is created): an argv[0]
    /// form with the same basename for both flavors.
    pub fn link(self, tool: Tool, dir: &Path, name: &str) -> PathBuf {
        fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let link = dir.join(name);
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(self.program(tool), &link)
                .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
        }
        link
    }
}

/// `runit` or `herd`.
impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::Runit => "runit",
            Flavor::Herd => "herd",
        })
    }
}

/// How [`compare_flavors`] schedules the two runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Both at the same time, one thread each: for runs that mostly wait (on a supervisor, a
    /// logger, runsv's one-second sleeps).
    AtOnce,
    /// runit's run, then herd's, on the calling thread.
    InTurn,
}

/// What a run of a differential test produces. Two transcripts are the same when they are equal
/// (`PartialEq`); [`Transcript::report_lines`] is how a failure report shows one.
pub trait Transcript: PartialEq + Send {
    /// The transcript as the lines a failure report shows (a name of its own: `lines` would
    /// shadow `str::lines` for every `String` where this trait is in scope).
    fn report_lines(&self) -> Vec<String>;
}

impl Transcript for String {
    fn report_lines(&self) -> Vec<String> {
        self.lines().map(String::from).collect()
    }
}

/// For runs that each assert on their own (each flavor held to its own expectations): only a
/// panic can fail the comparison, and it is reported with its flavor.
impl Transcript for () {
    fn report_lines(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Transcript for Vec<String> {
    fn report_lines(&self) -> Vec<String> {
        self.clone()
    }
}

/// Runs `run` for runit's and for herd's `tool` (as `schedule` says), asserts that the two
/// transcripts are equal and returns herd's. `what` (may be empty) starts every failure message.
///
/// A failure names the flavor: the first differing line with both transcripts, or the panic of
/// one run with the other run's transcript.
#[track_caller]
pub fn compare_flavors<T: Transcript>(
    tool: Tool,
    schedule: Schedule,
    what: &str,
    run: impl Fn(Flavor) -> T + Sync,
) -> T {
    let [runit, herd] = match schedule {
        Schedule::AtOnce => std::thread::scope(|s| {
            let run = &run;
            FLAVORS
                .map(|f| s.spawn(move || run(f)))
                .map(|h| h.join().map_err(|e| panic_text(&*e)))
        }),
        Schedule::InTurn => FLAVORS.map(|f| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(f)))
                .map_err(|e| panic_text(&*e))
        }),
    };
    let lead = if what.is_empty() {
        String::new()
    } else {
        format!("{what}: ")
    };
    let title = |f: Flavor| format!("{f}'s {}", f.name(tool));
    let shown = |r: &Result<T, String>| match r {
        Ok(t) => t.report_lines().join("\n"),
        Err(e) => format!("PANICKED: {e}"),
    };
    let (runit, herd) = match (runit, herd) {
        (Ok(r), Ok(h)) => (r, h),
        (r, h) => {
            let failed: Vec<String> = [(Flavor::Runit, &r), (Flavor::Herd, &h)]
                .iter()
                .filter(|(_, x)| x.is_err())
                .map(|(f, _)| title(*f))
                .collect();
            panic!(
                "{lead}the run with {} failed\n=== {} ===\n{}\n=== {} ===\n{}",
                failed.join(" and with "),
                title(Flavor::Runit),
                shown(&r),
                title(Flavor::Herd),
                shown(&h)
            );
        }
    };
    if runit != herd {
        let (a, b) = (runit.report_lines(), herd.report_lines());
        let first = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "{lead}{} differs from {} at line {}\n  {}: {}\n  {}: {}\n=== {} ===\n{}\n=== {} ===\n{}",
            title(Flavor::Herd),
            title(Flavor::Runit),
            first + 1,
            Flavor::Runit,
            a.get(first).map_or("<end>", String::as_str),
            Flavor::Herd,
            b.get(first).map_or("<end>", String::as_str),
            title(Flavor::Runit),
            a.join("\n"),
            title(Flavor::Herd),
            b.join("\n")
        );
    }
    herd
}

/// The message of a panic payload (`panic!` gives a `String` or a `&str`).
fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(a panic without a message)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
        panic_text(&*std::panic::catch_unwind(f).expect_err("must fail"))
    }

    #[test]
    fn names_and_display() {
        assert_eq!(Flavor::Runit.name(Tool::Supervise), "runsv");
        assert_eq!(Flavor::Herd.name(Tool::Supervise), "supervise");
        assert_eq!(Flavor::Runit.name(Tool::Svlog), "svlogd");
        assert_eq!(format!("{}.d", Flavor::Herd), "herd.d");
    }

    #[test]
    fn equal_transcripts_give_herds() {
        for schedule in [Schedule::AtOnce, Schedule::InTurn] {
            let t = compare_flavors(Tool::Sv, schedule, "x", |_| vec!["a".to_string()]);
            assert_eq!(t, ["a"]);
        }
    }

    #[test]
    fn a_difference_names_the_first_differing_line() {
        let m = message(|| {
            compare_flavors(Tool::Svlog, Schedule::InTurn, "t", |f| {
                format!("same\n{f}\nsame\n")
            });
        });
        assert!(
            m.starts_with(
                "t: herd's svlog differs from runit's svlogd at line 2\n  runit: runit\n  herd: herd\n"
            ),
            "{m}"
        );
    }

    #[test]
    fn a_failed_run_is_named_and_the_other_shown() {
        for schedule in [Schedule::AtOnce, Schedule::InTurn] {
            let m = message(|| {
                compare_flavors(Tool::Supervise, schedule, "", |f| {
                    assert!(f == Flavor::Runit, "boom");
                    "fine".to_string()
                });
            });
            assert_eq!(
                m,
                "the run with herd's supervise failed\n=== runit's runsv ===\nfine\n\
                 === herd's supervise ===\nPANICKED: boom"
            );
        }
    }
}
