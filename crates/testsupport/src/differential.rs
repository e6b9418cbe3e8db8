//! The differential harness: one run of a scenario with runit's tool, one with herd's, and the
//! two transcripts held to be equal. [`Flavor`] says whose tool a run uses and [`Tool`] which
//! tool; runit's binaries are Debian's, by path; an argv[0] form (`envdir`, an init.d-style link
//! to `sv`) is a symlink with the same name for both flavors ([`Flavor::link`]).
//!
//! [`compare_flavors`] runs both flavors (at once or in turn), and on a difference panics with
//! the first line that differs and both transcripts; a run that panics is reported with its
//! flavor's name and the other flavor's transcript. Equality is the transcript type's own
//! `PartialEq`: the lines are only how a failure is shown.
//!
//! Readiness has its own pair, [`NotifyFlavor`]: s6's `s6-supervise` (runit has no readiness)
//! against ours, compared by [`compare_notify_flavors`] in the same way.

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
    let title = |f: Flavor| format!("{f}'s {}", f.name(tool));
    compare_pair(FLAVORS, FLAVORS.map(title), schedule, what, run)
}

/// Whose supervisor a readiness run uses: s6's `s6-supervise`, which defines the
/// `notification-fd` protocol, or herd's `supervise`. Each reports readiness its own way
/// ([`NotifyFlavor::is_ready`]); a run compares what the two report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyFlavor {
    /// s6 2.11 as Debian installs it: the reference.
    S6,
    /// Ours, from the build under test.
    Herd,
}

/// Both, s6's first: it is the reference.
pub const NOTIFY_FLAVORS: [NotifyFlavor; 2] = [NotifyFlavor::S6, NotifyFlavor::Herd];

/// Bytes of s6's `supervise/status` (s6 2.11), and what readiness reads from it.
const S6_STATUS_LEN: usize = 35;
const S6_PID: std::ops::Range<usize> = 24..32;
const S6_FLAGS: usize = 34;
const S6_FLAG_FINISHING: u8 = 0x02;
const S6_FLAG_READY: u8 = 0x08;

impl NotifyFlavor {
    /// Path of this flavor's supervisor.
    pub fn program(self) -> PathBuf {
        match self {
            NotifyFlavor::S6 => peer("/usr/bin/s6-supervise"),
            NotifyFlavor::Herd => bin("supervise"),
        }
    }

    /// The supervisor's own name.
    pub fn name(self) -> &'static str {
        match self {
            NotifyFlavor::S6 => "s6-supervise",
            NotifyFlavor::Herd => "supervise",
        }
    }

    /// Whether the service in `dir` is up and ready, as this flavor reports it: for s6 the pid
    /// and the ready flag (0x08) of its 35-byte status, outside `finish` (what `s6-svstat -o
    /// up,ready` prints as `true true`); for herd `supervise/status` with `supervise/ready`
    /// (`herd_status::is_ready`).
    pub fn is_ready(self, dir: &Path) -> bool {
        let status = fs::read(dir.join("supervise/status")).unwrap_or_default();
        match self {
            NotifyFlavor::S6 => {
                status.len() == S6_STATUS_LEN
                    && status[S6_PID].iter().any(|&b| b != 0)
                    && status[S6_FLAGS] & S6_FLAG_FINISHING == 0
                    && status[S6_FLAGS] & S6_FLAG_READY != 0
            }
            NotifyFlavor::Herd => {
                let Ok(status) = herd_status::Status::decode(&status) else {
                    return false;
                };
                let ready = match fs::read(dir.join("supervise/ready")) {
                    Ok(b) => Some(herd_status::Readiness::decode(&b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(_) => Some(None),
                };
                herd_status::is_ready(&status, ready.as_ref().map(Option::as_ref))
            }
        }
    }
}

/// `s6` or `herd`.
impl fmt::Display for NotifyFlavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotifyFlavor::S6 => "s6",
            NotifyFlavor::Herd => "herd",
        })
    }
}

/// [`compare_flavors`] for readiness: runs `run` with s6's and with herd's supervisor, asserts
/// that the two transcripts are equal and returns herd's.
#[track_caller]
pub fn compare_notify_flavors<T: Transcript>(
    schedule: Schedule,
    what: &str,
    run: impl Fn(NotifyFlavor) -> T + Sync,
) -> T {
    let title = |f: NotifyFlavor| format!("{f}'s {}", f.name());
    compare_pair(
        NOTIFY_FLAVORS,
        NOTIFY_FLAVORS.map(title),
        schedule,
        what,
        run,
    )
}

/// Runs `run` for the reference flavor and for ours (`flavors`, in that order, with `titles`
/// as failure reports name them), asserts that the two transcripts are equal and returns ours.
#[track_caller]
fn compare_pair<F, T>(
    flavors: [F; 2],
    titles: [String; 2],
    schedule: Schedule,
    what: &str,
    run: impl Fn(F) -> T + Sync,
) -> T
where
    F: Copy + fmt::Display + Send,
    T: Transcript,
{
    let [reference, ours] = match schedule {
        Schedule::AtOnce => std::thread::scope(|s| {
            let run = &run;
            flavors
                .map(|f| s.spawn(move || run(f)))
                .map(|h| h.join().map_err(|e| panic_text(&*e)))
        }),
        Schedule::InTurn => flavors.map(|f| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(f)))
                .map_err(|e| panic_text(&*e))
        }),
    };
    let lead = if what.is_empty() {
        String::new()
    } else {
        format!("{what}: ")
    };
    let shown = |r: &Result<T, String>| match r {
        Ok(t) => t.report_lines().join("\n"),
        Err(e) => format!("PANICKED: {e}"),
    };
    let (reference, ours) = match (reference, ours) {
        (Ok(r), Ok(h)) => (r, h),
        (r, h) => {
            let failed: Vec<&str> = [r.is_err(), h.is_err()]
                .iter()
                .zip(&titles)
                .filter(|(failed, _)| **failed)
                .map(|(_, t)| t.as_str())
                .collect();
            panic!(
                "{lead}the run with {} failed\n=== {} ===\n{}\n=== {} ===\n{}",
                failed.join(" and with "),
                titles[0],
                shown(&r),
                titles[1],
                shown(&h)
            );
        }
    };
    if reference != ours {
        let (a, b) = (reference.report_lines(), ours.report_lines());
        let first = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "{lead}{} differs from {} at line {}\n  {}: {}\n  {}: {}\n=== {} ===\n{}\n=== {} ===\n{}",
            titles[1],
            titles[0],
            first + 1,
            flavors[0],
            a.get(first).map_or("<end>", String::as_str),
            flavors[1],
            b.get(first).map_or("<end>", String::as_str),
            titles[0],
            a.join("\n"),
            titles[1],
            b.join("\n")
        );
    }
    ours
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
