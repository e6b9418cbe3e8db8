//! What herd reads from `/proc` about processes: one parser of `/proc/PID/stat` for the fields
//! herd needs (parent pid, start time, where argv starts), a process's direct children and its
//! descendants. proc(5) is the spec. The command name (field 2) is in parentheses and may hold
//! anything, `)`, spaces and newlines included, so fields are counted from the **last** `)`.
//! Reading a process that is gone gives `None` or nothing: that is a race, not an error.

use std::num::NonZeroU32;

use nix::unistd::Pid;

/// Field numbers in `/proc/PID/stat` (1-based, as proc(5) counts them).
const PPID: usize = 4;
const START_TIME: usize = 22;
/// Since Linux 3.5.
const ARG_START: usize = 48;
/// The first field after the command name's `)`: the state.
pub(crate) const AFTER_COMM: usize = 3;

/// The fields of `/proc/PID/stat` herd reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Field 4: the parent's pid (0 for a namespace's init).
    pub ppid: Pid,
    /// Field 22: when the process started, in clock ticks after boot. With the pid it names one
    /// process: pids are reused, start times of one pid are not.
    pub start_time: u64,
    /// Field 48: the address where argv starts; `None` on kernels before 3.5.
    pub arg_start: Option<u64>,
}

/// The fields of a `/proc/PID/stat` after the command name: field [`AFTER_COMM`] first.
fn after_comm(text: &[u8]) -> Option<&str> {
    let close = text.iter().rposition(|&b| b == b')')?;
    // After the name every field is a number or the state letter: ASCII.
    std::str::from_utf8(text.get(close + 1..)?).ok()
}

/// Every field of a `/proc/PID/stat` after the command name as a number (the state letter as
/// 0): index 0 is field [`AFTER_COMM`]. For the fields [`Stat`] does not name.
pub(crate) fn numeric_fields(text: &[u8]) -> Option<Vec<u64>> {
    Some(
        after_comm(text)?
            .split_ascii_whitespace()
            .map(|w| w.parse().unwrap_or(0))
            .collect(),
    )
}

/// Parses the text of a `/proc/PID/stat`; `None` if it is not one.
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    let rest = after_comm(text)?;
    let mut words = rest.split_ascii_whitespace();
    let mut at = AFTER_COMM;
    let mut field = |n: usize| {
        let w = words.nth(n - at)?;
        at = n + 1;
        Some(w)
    };
    let ppid = field(PPID)?.parse::<i32>().ok()?;
    let start_time = field(START_TIME)?.parse().ok()?;
    let arg_start = field(ARG_START).and_then(|w| w.parse().ok());
    Some(Stat {
        ppid: Pid::from_raw(ppid),
        start_time,
        arg_start,
    })
}

/// Reads and parses `/proc/PID/stat`; `None` if the process is gone.
pub fn read_stat(pid: Pid) -> Option<Stat> {
    parse_stat(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)
}

/// The start time of `pid` (field 22 of `/proc/PID/stat`), `None` if it is gone.
pub fn proc_start_time(pid: Pid) -> Option<u64> {
    read_stat(pid).map(|s| s.start_time)
}

/// Every pid in `/proc` (processes, not threads), in directory order.
fn all_pids() -> impl Iterator<Item = Pid> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<NonZeroU32>().ok())
        .filter_map(|p| i32::try_from(p.get()).ok().map(Pid::from_raw))
}

/// The direct children of `pid`, read from `/proc/PID/task/TID/children` of each of its threads
/// (a child belongs to the thread that forked it). Empty if `pid` is gone (or the kernel lacks
/// `CONFIG_PROC_CHILDREN`).
pub fn children(pid: Pid) -> Vec<Pid> {
    let mut out = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
    for task in tasks.into_iter().flatten().flatten() {
        let Ok(list) = std::fs::read_to_string(task.path().join("children")) else {
            continue;
        };
        out.extend(
            list.split_ascii_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
                .map(Pid::from_raw),
        );
    }
    out
}

/// Every live process that descends from `ancestor` (children, grandchildren…), read from the
/// parent pids in `/proc`.
pub fn descendants(ancestor: Pid) -> Vec<Pid> {
    let parent_of: Vec<(Pid, Pid)> = all_pids()
        .filter_map(|p| Some((p, read_stat(p)?.ppid)))
        .collect();
    let mut out = vec![ancestor];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out.remove(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::{wait_for, Command};
    use herd_status::Exit;

    /// A real line (Linux 6.x), with 52 fields.
    const LINE: &[u8] =
        b"4242 (sleep) S 4200 4242 4200 34816 4242 4194304 94 0 0 0 0 0 0 0 20 0 1 0 \
123456 2285568 256 18446744073709551615 94787 94800 140726 0 0 0 0 0 0 1 0 0 17 1 0 0 0 0 0 \
94811 94812 94813 140726000 140726040 140726040 140726100 0\n";

    #[test]
    fn fields_of_a_real_line() {
        assert_eq!(
            parse_stat(LINE),
            Some(Stat {
                ppid: Pid::from_raw(4200),
                start_time: 123456,
                arg_start: Some(140726000),
            })
        );
    }

    #[test]
    fn any_command_name() {
        for comm in [
            &b"a) b (c) 7 8"[..],
            b"x\ny",
            b")",
            b"",
            b" S 1 2 3",
            b"\xff\xfe",
        ] {
            let mut line = b"17 (".to_vec();
            line.extend_from_slice(comm);
            line.extend_from_slice(&LINE[b"4242 (sleep".len()..]);
            let st = parse_stat(&line).expect("parsed");
            assert_eq!((st.ppid.as_raw(), st.start_time), (4200, 123456));
        }
    }

    #[test]
    fn short_or_broken_lines() {
        // An old kernel: no arg_start.
        let short: Vec<u8> = LINE
            .split(|&b| b == b' ')
            .take(30)
            .collect::<Vec<_>>()
            .join(&b' ');
        let st = parse_stat(&short).expect("parsed");
        assert_eq!((st.start_time, st.arg_start), (123456, None));
        assert_eq!(parse_stat(b"4242 (sleep) S 4200 4242"), None);
        assert_eq!(parse_stat(b"4242 sleep S 4200"), None);
        assert_eq!(parse_stat(b"4242 (sleep) S x 4242"), None);
        assert_eq!(parse_stat(b""), None);
    }

    #[test]
    fn own_stat() {
        let me = Pid::this();
        let st = read_stat(me).expect("own stat");
        assert_eq!(st.ppid, nix::unistd::getppid());
        assert!(st.arg_start.is_some());
        assert_eq!(proc_start_time(me), Some(st.start_time));
        assert_eq!(proc_start_time(Pid::from_raw(i32::MAX)), None);
    }

    #[test]
    fn children_and_descendants() {
        let mut c = Command::new("/bin/sh", "test: ").expect("no NUL");
        c.set_args(["-c", "sleep 30 & wait"]).expect("no NUL");
        let pid = c.spawn().expect("fork");
        assert!(children(Pid::this()).contains(&pid));
        let mut grandchildren = Vec::new();
        for _ in 0..400 {
            grandchildren = children(pid);
            if !grandchildren.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(grandchildren.len(), 1, "the sleep");
        let found = descendants(Pid::this());
        assert!(found.contains(&pid) && found.contains(&grandchildren[0]));
        // Only our child's tree: other tests of this process run children of their own.
        assert_eq!(descendants(pid), grandchildren);
        for p in grandchildren.iter().chain([&pid]) {
            let _ = nix::sys::signal::kill(*p, nix::sys::signal::Signal::SIGKILL);
        }
        assert!(matches!(wait_for(pid), Some(Exit::Signal { signo: 9, .. })));
        assert!(children(Pid::from_raw(i32::MAX)).is_empty());
    }

    proptest::proptest! {
        /// `/proc/PID/stat` is the kernel's, but read as any other file: no panic on any bytes.
        #[test]
        fn prop_parse_stat_any_bytes(b in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..120)) {
            let _ = parse_stat(&b);
        }
    }
}
