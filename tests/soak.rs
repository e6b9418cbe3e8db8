//! The chaos soak (issue 14, item 5; docs/reliability.md, "Chaos soak"): svscan as PID 1 of a
//! pid namespace with 300 services, each logging through svlog, while services' `run`, `svlog`
//! and `supervise` processes are SIGKILLed at random, service directories are removed and added,
//! and our `sv` sends `restart`, `down` and `up`. Every second the invariants are checked (svscan
//! alive; at most one `run` per service, exactly one when it should run; no zombie older than
//! 100 ms; svscan's and a sample of supervisors' fd counts and RSS within 10 % of their value
//! after the warm-up; every line each service wrote in its log exactly once, in order), and at
//! the end, after svscan's SIGTERM stopped everything, every line is checked once more, with no
//! lag allowed. A summary table is printed; any violation fails the test.
//!
//! `HERD_SOAK_SECONDS` sets the length (default 30, the run of the test suite; `just soak 600`
//! runs ten minutes), `HERD_SOAK_SEED` the random seed (printed), `HERD_SOAK_SERVICES` the
//! number of services (default 300). Each service's `run` is `herd-soak-writer` (testsupport),
//! whose journal says exactly which numbered lines it wrote. Everything runs inside the pid
//! namespace, started through `setpriv --pdeathsig KILL unshare … --kill-child`: whatever
//! happens to this test, svscan dies, and with it every process it started; nothing is mounted
//! outside the namespace.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use herd_testsupport::*;

use crate::pid1::Ns;

/// Length of the run without `HERD_SOAK_SECONDS`.
const DEFAULT_SECONDS: u64 = 30;
/// Services without `HERD_SOAK_SERVICES`.
const DEFAULT_SERVICES: usize = 300;
/// Services whose supervise is never killed nor removed: their fds and RSS are watched.
const SAMPLE: usize = 8;
/// One service in this many writes bursts (20 lines every 20 ms) instead of a line now and then:
/// their loggers are busy most of the time, so kills find them in the middle of their work.
const BUSY_EVERY: usize = 60;
/// Time between two injected events.
const EVENT_EVERY: Duration = Duration::from_millis(100);
/// Time between two rounds of checks.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A zombie seen and still there this much later is a violation.
const ZOMBIE_AGE: Duration = Duration::from_millis(100);
/// How long after the last event on a service its processes must be what its state says.
const SETTLE: Duration = Duration::from_secs(5);
/// A line whose write returned this long ago must be in the log (a killed logger or supervise is
/// restarted within about a second; the rest is room for a loaded machine).
const LOG_LAG: Duration = Duration::from_secs(10);
/// Chaos before the fd counts and RSS are taken as the reference.
const WARMUP: Duration = Duration::from_secs(5);
/// How far an fd count or RSS may move from its reference, in percent.
const FLAT_PERCENT: u64 = 10;
/// svscan's shutdown bound (`-t`), and how long the test waits for its exit.
const STOP_BOUND: &str = "20";
const STOP_WAIT: Duration = Duration::from_secs(40);
/// How long the services get to start at first.
const START_WAIT: Duration = Duration::from_secs(120);
/// `config` of every log directory: rotate every 16 KiB, delete nothing.
const LOG_CONFIG: &str = "s16384\nn0\n";
/// `svlog -tt`: each line starts with a 25-byte UTC stamp and a space.
const STAMP: usize = 26;
/// Journal slot size (see herd-soak-writer).
const SLOT: usize = 32;
/// Violations shown in full in the report.
const SHOWN: usize = 30;

/// xorshift64*: enough randomness for choosing, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            let v = v.trim();
            v.strip_prefix("0x")
                .map_or_else(|| v.parse(), |h| u64::from_str_radix(h, 16))
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

// ------------------------------------------------------------------------------------------
// Processes

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Supervise,
    /// The service's `run` (the shell before its exec, then the writer).
    Run,
    /// The logger (`log/run` before its exec, then svlog).
    Logger,
}

#[derive(Clone, Debug)]
struct ProcInfo {
    pid: u32,
    start: u64,
    zombie: bool,
    /// The service and the role, from the cwd (zombies have none).
    of: Option<(String, Role)>,
}

/// `/proc/PID/stat`: comm, state, ppid and start time.
fn stat(pid: u32) -> Option<(String, char, u32, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let f: Vec<&str> = s[close + 1..].split_ascii_whitespace().collect();
    // Field 3 (state) is f[0]; field 4 (ppid) f[1]; field 22 (starttime) f[19].
    let state = f.first()?.chars().next()?;
    Some((
        comm,
        state,
        f.get(1)?.parse().ok()?,
        f.get(19)?.parse().ok()?,
    ))
}

fn proc_info(pid: u32, roots: &[PathBuf; 2]) -> Option<ProcInfo> {
    let (comm, state, _, start) = stat(pid)?;
    let zombie = state == 'Z' || state == 'X';
    let of = fs::read_link(format!("/proc/{pid}/cwd"))
        .ok()
        .and_then(|cwd| {
            let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
            let parent = cwd.parent()?;
            if roots.iter().any(|r| r == parent) {
                let role = if comm == "supervise" {
                    Role::Supervise
                } else {
                    Role::Run
                };
                return Some((name(&cwd)?, role));
            }
            let grand = parent.parent()?;
            (cwd.file_name()? == "log" && roots.iter().any(|r| r == grand))
                .then(|| Some((name(parent)?, Role::Logger)))
                .flatten()
        });
    Some(ProcInfo {
        pid,
        start,
        zombie,
        of,
    })
}

/// Whether `pid` is still the process that started at `start` and not a zombie.
fn same_live(pid: u32, start: u64) -> bool {
    stat(pid).is_some_and(|(_, st, _, s)| s == start && st != 'Z' && st != 'X')
}

fn fd_count(pid: u32) -> Option<u64> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

fn rss_kib(pid: u32) -> Option<u64> {
    proc_status_line(pid, "VmRSS")?
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

// ------------------------------------------------------------------------------------------
// Logs

/// The files of a log directory in the order they were written: rotated files (`@` + 24 hex +
/// `.s`/`.u`) by name, then `current`; each with its inode and size. The directory is listed
/// again after the files were looked at, until both listings agree: a rotation in between would
/// otherwise show the new `current` without the file the old one became.
fn log_files(dir: &Path) -> Vec<(String, u64, u64)> {
    let names = || -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                let saved =
                    n.len() == 27 && n.starts_with('@') && (n.ends_with(".s") || n.ends_with(".u"));
                saved || n == "current"
            })
            .collect();
        // "current" sorts after every "@…" name.
        v.sort();
        v
    };
    for _ in 0..20 {
        let before = names();
        let files: Vec<(String, u64, u64)> = before
            .iter()
            .filter_map(|n| {
                let md = fs::symlink_metadata(dir.join(n)).ok()?;
                Some((n.clone(), md.ino(), md.len()))
            })
            .collect();
        if names() == before && files.len() == before.len() {
            return files;
        }
    }
    // Rotating all the time: nothing this round.
    Vec::new()
}

/// What the soak has read of one service's log so far.
#[derive(Default)]
struct LogState {
    /// (inode, bytes read) of each file read, in log order.
    files: Vec<(u64, u64)>,
    /// Last line number seen of each instance.
    seen: BTreeMap<u64, u64>,
    /// The latest instance seen.
    last: u64,
    lines: u64,
}

impl LogState {
    /// Reads what was added to the log directory `dir` since the last call. A file that shrank
    /// or went away (a logger's recovery) makes it start again from scratch (`true`). With
    /// `complete`, `current` is read to its end (nothing writes any more).
    fn update(&mut self, name: &str, dir: &Path, complete: bool, bad: &mut Vec<String>) -> bool {
        let files = log_files(dir);
        let consistent = self
            .files
            .iter()
            .all(|&(ino, read)| files.iter().any(|f| f.1 == ino && f.2 >= read));
        let restarted = !consistent;
        if restarted {
            *self = LogState::default();
        }
        for (fname, ino, _) in files {
            let is_current = fname == "current";
            let from = self.files.iter().find(|f| f.0 == ino).map_or(0, |f| f.1);
            let Ok(mut f) = fs::File::open(dir.join(&fname)) else {
                // Renamed since the listing: next round.
                break;
            };
            if f.metadata().map(|m| m.ino()).ok() != Some(ino) {
                break;
            }
            let mut data = Vec::new();
            if f.seek(SeekFrom::Start(from)).is_err() || f.read_to_end(&mut data).is_err() {
                break;
            }
            let upto = if is_current && !complete {
                data.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)
            } else {
                data.len()
            };
            let partial = data.last().is_some_and(|&b| b != b'\n');
            if partial && (!is_current || complete) {
                bad.push(format!(
                    "{name}: {fname} ends in the middle of a line: {:?}",
                    String::from_utf8_lossy(&data[data.len().saturating_sub(60)..])
                ));
            }
            for line in data[..upto].split_inclusive(|&b| b == b'\n') {
                self.line(name, line.strip_suffix(b"\n").unwrap_or(line), bad);
            }
            let read = from + upto as u64;
            match self.files.iter_mut().find(|f| f.0 == ino) {
                Some(f) => f.1 = read,
                None => self.files.push((ino, read)),
            }
        }
        restarted
    }

    fn line(&mut self, name: &str, line: &[u8], bad: &mut Vec<String>) {
        self.lines += 1;
        let shown = || String::from_utf8_lossy(line).into_owned();
        let stamped = line.len() > STAMP && line[10] == b'_' && line[STAMP - 1] == b' ';
        let fields: Option<(String, u64, u64)> = stamped
            .then(|| {
                let body = std::str::from_utf8(&line[STAMP..]).ok()?;
                let mut it = body.split(' ');
                let r = (
                    it.next()?.to_string(),
                    it.next()?.parse().ok()?,
                    it.next()?.parse().ok()?,
                );
                it.next().is_none().then_some(r)
            })
            .flatten();
        let Some((who, inst, seq)) = fields else {
            bad.push(format!("{name}: malformed line {:?}", shown()));
            return;
        };
        if who != name {
            bad.push(format!("{name}: a line of {who} in its log: {:?}", shown()));
            return;
        }
        if inst < self.last {
            bad.push(format!(
                "{name}: line {seq} of instance {inst} after lines of instance {}",
                self.last
            ));
        }
        let prev = self.seen.get(&inst).copied();
        if inst > self.last {
            if prev.is_some() {
                bad.push(format!(
                    "{name}: instance {inst} resumes after instance {}",
                    self.last
                ));
            }
            self.last = inst;
        }
        let prev = prev.unwrap_or(0);
        if seq <= prev {
            bad.push(format!("{name}: instance {inst} line {seq} duplicated"));
        } else if seq > prev + 1 {
            bad.push(format!(
                "{name}: instance {inst} lines {}..={} missing (line {seq} follows line {prev})",
                prev + 1,
                seq - 1
            ));
        }
        self.seen.insert(inst, prev.max(seq));
    }
}

/// The writer's journal of `dir`: (intent, ack) of each instance, instance 1 first.
fn journal(dir: &Path) -> Vec<(u64, u64)> {
    let data = fs::read(dir.join("soak-journal")).unwrap_or_default();
    data.chunks(SLOT)
        .map(|c| {
            let t = String::from_utf8_lossy(c);
            let mut it = t.split_ascii_whitespace().map(|n| n.parse().unwrap_or(0));
            (it.next().unwrap_or(0), it.next().unwrap_or(0))
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// The soak

struct Svc {
    name: String,
    removed: bool,
    want_up: bool,
    sample: bool,
    last_event: Instant,
    log: LogState,
    /// Per instance: acks seen with their time, and the highest one at least LOG_LAG old.
    acks: BTreeMap<u64, (VecDeque<(Instant, u64)>, u64)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Event {
    KillRun,
    KillLogger,
    KillSupervise,
    Restart,
    Down,
    Up,
    Remove,
    AddBack,
    AddNew,
}

impl Event {
    fn label(self) -> &'static str {
        match self {
            Event::KillRun => "SIGKILL run",
            Event::KillLogger => "SIGKILL svlog",
            Event::KillSupervise => "SIGKILL supervise",
            Event::Restart => "sv restart",
            Event::Down => "sv down",
            Event::Up => "sv up",
            Event::Remove => "remove a service dir",
            Event::AddBack => "add it back",
            Event::AddNew => "add a new service dir",
        }
    }
}

/// Weights of the events drawn (AddNew only when nothing can be added back).
const WEIGHTS: [(Event, usize); 8] = [
    (Event::KillRun, 20),
    (Event::KillLogger, 20),
    (Event::KillSupervise, 15),
    (Event::Restart, 10),
    (Event::Down, 8),
    (Event::Up, 12),
    (Event::Remove, 6),
    (Event::AddBack, 6),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Check {
    SvscanAlive,
    OneRun,
    Zombies,
    Flat,
    LogLines,
    FinalLines,
    Stop,
}

impl Check {
    fn label(self) -> &'static str {
        match self {
            Check::SvscanAlive => "svscan alive",
            Check::OneRun => "one run (and one logger) per service",
            Check::Zombies => "no zombie older than 100 ms",
            Check::Flat => "fd counts and RSS within 10 %",
            Check::LogLines => "log: each line once, in order, none lost",
            Check::FinalLines => "final: every line written is logged once",
            Check::Stop => "SIGTERM: clean stop, nothing left",
        }
    }
}

const CHECKS: [Check; 7] = [
    Check::SvscanAlive,
    Check::OneRun,
    Check::Zombies,
    Check::Flat,
    Check::LogLines,
    Check::FinalLines,
    Check::Stop,
];

struct Soak {
    sc: Scenario,
    /// `SC/scan` and `SC/removed`, canonical.
    roots: [PathBuf; 2],
    writer: PathBuf,
    svlog: PathBuf,
    sv: PathBuf,
    rng: Rng,
    svcs: Vec<Svc>,
    index: HashMap<String, usize>,
    procs: Vec<ProcInfo>,
    /// Zombies to look at again: (pid, start, when first seen).
    zombies: Vec<(u32, u64, Instant)>,
    zombies_seen: u64,
    injected: BTreeMap<Event, u64>,
    skipped: BTreeMap<Event, u64>,
    checks: BTreeMap<Check, u64>,
    violations: BTreeMap<Check, u64>,
    /// Distinct violation messages, first ones first.
    messages: Vec<String>,
    known: HashSet<String>,
    started: Instant,
    /// The reference fd count and RSS of svscan and each sample supervise: (pid, fds, rss).
    reference: Option<Vec<(u32, u64, u64)>>,
    /// The extremes seen after the reference: (min fds, max fds, min rss, max rss) per entry.
    extremes: Vec<(u64, u64, u64, u64)>,
    reparses: u64,
    bursts_in_doubt: u64,
    lines_logged: u64,
}

impl Soak {
    fn root(&self, removed: bool) -> &Path {
        &self.roots[usize::from(removed)]
    }

    fn dir(&self, i: usize) -> PathBuf {
        let s = &self.svcs[i];
        self.root(s.removed).join(&s.name)
    }

    /// A service directory NAME under `root`, complete (`run` last).
    fn make_service(&self, root: &Path, name: &str, n: usize) {
        let dir = root.join(name);
        let (interval, burst) = if n % BUSY_EVERY == BUSY_EVERY - 1 {
            (20, 20)
        } else {
            (100 + (n * 7919) % 900, 1)
        };
        fs::create_dir_all(dir.join("log/main")).unwrap();
        fs::write(dir.join("log/main/config"), LOG_CONFIG).unwrap();
        write_script(
            &dir.join("log/run"),
            &format!("#!/bin/sh\nexec {} -tt main\n", self.svlog.display()),
        );
        write_script(
            &dir.join("run"),
            &format!(
                "#!/bin/sh\nexec {} {name} {interval} {burst}\n",
                self.writer.display()
            ),
        );
    }

    fn add_svc(&mut self, name: String, sample: bool) -> usize {
        let i = self.svcs.len();
        self.index.insert(name.clone(), i);
        self.svcs.push(Svc {
            name,
            removed: false,
            want_up: true,
            sample,
            last_event: Instant::now(),
            log: LogState::default(),
            acks: BTreeMap::new(),
        });
        i
    }

    fn violation(&mut self, check: Check, msg: String) {
        if !self.known.insert(msg.clone()) {
            return;
        }
        *self.violations.entry(check).or_default() += 1;
        let at = self.started.elapsed().as_secs_f64();
        eprintln!("soak: violation at {at:.1}s: {msg}");
        self.messages.push(format!("{at:7.1}s  {msg}"));
    }

    fn checked(&mut self, check: Check) {
        *self.checks.entry(check).or_default() += 1;
    }

    fn snapshot(&mut self, ns: &Ns) {
        let roots = self.roots.clone();
        self.procs = ns
            .pids()
            .into_iter()
            .filter_map(|p| proc_info(p, &roots))
            .collect();
    }

    /// The live processes of service `i` in `role`.
    fn of(&self, i: usize, role: Role) -> Vec<&ProcInfo> {
        let name = &self.svcs[i].name;
        self.procs
            .iter()
            .filter(|p| !p.zombie && p.of.as_ref().is_some_and(|(n, r)| n == name && *r == role))
            .collect()
    }

    // ----- events

    fn inject(&mut self) {
        let total: usize = WEIGHTS.iter().map(|w| w.1).sum();
        let mut pick = self.rng.below(total);
        let mut event = Event::KillRun;
        for (e, w) in WEIGHTS {
            if pick < w {
                event = e;
                break;
            }
            pick -= w;
        }
        let done = match event {
            Event::KillRun => self.kill(Role::Run, false),
            Event::KillLogger => self.kill(Role::Logger, false),
            Event::KillSupervise => self.kill(Role::Supervise, true),
            Event::Restart | Event::Down | Event::Up => self.sv(event),
            Event::Remove => self.remove(),
            Event::AddBack | Event::AddNew => {
                let e = self.add();
                *self.injected.entry(e).or_default() += 1;
                return;
            }
        };
        *(if done {
            &mut self.injected
        } else {
            &mut self.skipped
        })
        .entry(event)
        .or_default() += 1;
    }

    /// A random service that is in the scan dir (and not a sample one when `no_sample`).
    fn active(&mut self, no_sample: bool) -> Option<usize> {
        let v: Vec<usize> = (0..self.svcs.len())
            .filter(|&i| !(self.svcs[i].removed || no_sample && self.svcs[i].sample))
            .collect();
        (!v.is_empty()).then(|| v[self.rng.below(v.len())])
    }

    fn kill(&mut self, role: Role, no_sample: bool) -> bool {
        let Some(i) = self.active(no_sample) else {
            return false;
        };
        let Some((pid, start)) = self.of(i, role).first().map(|p| (p.pid, p.start)) else {
            return false;
        };
        if !same_live(pid, start) {
            return false;
        }
        signal(pid, libc::SIGKILL);
        let s = &mut self.svcs[i];
        s.last_event = Instant::now();
        if role == Role::Supervise {
            // The next supervise starts the service: no `down` file.
            s.want_up = true;
        }
        true
    }

    fn sv(&mut self, event: Event) -> bool {
        let candidates: Vec<usize> = (0..self.svcs.len())
            .filter(|&i| {
                let s = &self.svcs[i];
                !s.removed && (event != Event::Up || !s.want_up)
            })
            .collect();
        if candidates.is_empty() {
            return false;
        }
        let i = candidates[self.rng.below(candidates.len())];
        let verb = match event {
            Event::Restart => "restart",
            Event::Down => "down",
            _ => "up",
        };
        let out = self.sc.cmd(&self.sv).args([verb]).arg(self.dir(i)).run();
        let s = &mut self.svcs[i];
        s.last_event = Instant::now();
        if out.code != Some(0) {
            // No supervise right now (it was killed and is not back yet): nothing changed.
            return false;
        }
        s.want_up = event != Event::Down;
        true
    }

    fn remove(&mut self) -> bool {
        let Some(i) = self.active(true) else {
            return false;
        };
        let from = self.dir(i);
        let to = self.root(true).join(&self.svcs[i].name);
        fs::rename(from, to).unwrap();
        let s = &mut self.svcs[i];
        s.removed = true;
        s.last_event = Instant::now();
        true
    }

    /// Moves back a removed service whose processes are all gone, or makes a new one.
    fn add(&mut self) -> Event {
        let now = Instant::now();
        let ready: Vec<usize> = (0..self.svcs.len())
            .filter(|&i| {
                let s = &self.svcs[i];
                s.removed
                    && now.duration_since(s.last_event) >= SETTLE
                    && !self
                        .procs
                        .iter()
                        .any(|p| p.of.as_ref().is_some_and(|(n, _)| *n == s.name))
            })
            .collect();
        if let Some(&i) = ready.get(self.rng.below(ready.len().max(1))) {
            let from = self.dir(i);
            let to = self.root(false).join(&self.svcs[i].name);
            fs::rename(from, to).unwrap();
            let s = &mut self.svcs[i];
            s.removed = false;
            s.want_up = true;
            s.last_event = now;
            return Event::AddBack;
        }
        let n = self.svcs.len();
        let name = format!("s{n:03}");
        // Made complete outside the scan dir, then moved in.
        let staging = self.root(true).to_path_buf();
        self.make_service(&staging, &name, n);
        fs::rename(staging.join(&name), self.root(false).join(&name)).unwrap();
        self.add_svc(name, false);
        Event::AddNew
    }

    // ----- checks

    fn check(&mut self, ns: &Ns, chaos_since: Instant) {
        let now = Instant::now();
        self.snapshot(ns);
        self.checked(Check::SvscanAlive);
        if !pid_alive(ns.init()) {
            self.violation(Check::SvscanAlive, "svscan is gone".into());
        }
        // Zombies: each one seen is looked at again once ZOMBIE_AGE has passed.
        self.checked(Check::Zombies);
        for p in self.procs.iter().filter(|p| p.zombie) {
            if !self.zombies.iter().any(|z| z.0 == p.pid && z.1 == p.start) {
                self.zombies.push((p.pid, p.start, now));
                self.zombies_seen += 1;
            }
        }
        self.check_instances(now);
        self.check_flat(ns, now.duration_since(chaos_since) >= WARMUP);
        self.check_logs(now, false);
    }

    fn check_zombies(&mut self) {
        let now = Instant::now();
        let due: Vec<(u32, u64, Instant)> = self
            .zombies
            .iter()
            .copied()
            .filter(|z| now.duration_since(z.2) >= ZOMBIE_AGE)
            .collect();
        self.zombies
            .retain(|z| now.duration_since(z.2) < ZOMBIE_AGE);
        for (pid, start, seen) in due {
            if let Some((comm, 'Z', ppid, s)) = stat(pid) {
                if s == start {
                    let parent = stat(ppid).map(|p| p.0).unwrap_or_default();
                    self.violation(
                        Check::Zombies,
                        format!(
                            "zombie {pid} ({comm}) still there {:?} after it was seen; parent \
                             {ppid} ({parent})",
                            seen.elapsed()
                        ),
                    );
                }
            }
        }
    }

    fn next_zombie_look(&self) -> Option<Instant> {
        self.zombies.iter().map(|z| z.2 + ZOMBIE_AGE).min()
    }

    fn check_instances(&mut self, now: Instant) {
        for i in 0..self.svcs.len() {
            self.checked(Check::OneRun);
            let runs = self.of(i, Role::Run).len();
            let loggers = self.of(i, Role::Logger).len();
            let supervisors = self.of(i, Role::Supervise).len();
            let s = &self.svcs[i];
            let name = s.name.clone();
            let settled = now.duration_since(s.last_event) >= SETTLE;
            let (want_runs, want_loggers) = match (s.removed, s.want_up) {
                (true, _) => (0, 0),
                (false, up) => (usize::from(up), 1),
            };
            let mut bad = Vec::new();
            if runs > 1 {
                bad.push(format!("{name}: {runs} run instances"));
            }
            if loggers > 1 {
                bad.push(format!("{name}: {loggers} loggers"));
            }
            if settled && (runs != want_runs || loggers != want_loggers) {
                // No time in the text: the same fault seen again is not a new violation.
                bad.push(format!(
                    "{name}: {runs} run and {loggers} loggers ({supervisors} supervise) \
                     {SETTLE:?} after its last event, want {want_runs} and {want_loggers} ({})",
                    if s.removed {
                        "removed"
                    } else if s.want_up {
                        "up"
                    } else {
                        "down"
                    }
                ));
            }
            for m in bad {
                self.violation(Check::OneRun, m);
            }
        }
    }

    fn check_flat(&mut self, ns: &Ns, warm: bool) {
        if !warm {
            return;
        }
        let mut watched = vec![ns.init()];
        for i in 0..self.svcs.len().min(SAMPLE) {
            if let Some(p) = self.of(i, Role::Supervise).first() {
                watched.push(p.pid);
            }
        }
        let now: Vec<(u32, u64, u64)> = watched
            .iter()
            .filter_map(|&p| Some((p, fd_count(p)?, rss_kib(p)?)))
            .collect();
        let Some(reference) = self.reference.clone() else {
            if now.len() == SAMPLE + 1 {
                self.extremes = now.iter().map(|&(_, f, r)| (f, f, r, r)).collect();
                self.reference = Some(now);
            }
            return;
        };
        for (k, &(pid, fds0, rss0)) in reference.iter().enumerate() {
            self.checked(Check::Flat);
            let what = if k == 0 {
                "svscan".to_string()
            } else {
                format!("supervise {}", self.svcs[k - 1].name)
            };
            let Some(&(_, fds, rss)) = now.iter().find(|n| n.0 == pid) else {
                self.violation(Check::Flat, format!("{what} (pid {pid}) is gone"));
                continue;
            };
            let e = &mut self.extremes[k];
            *e = (e.0.min(fds), e.1.max(fds), e.2.min(rss), e.3.max(rss));
            let off = |v: u64, v0: u64| v.abs_diff(v0) * 100 > v0 * FLAT_PERCENT;
            if off(fds, fds0) {
                self.violation(
                    Check::Flat,
                    format!("{what}: {fds} fds, {fds0} after the warm-up"),
                );
            }
            if off(rss, rss0) {
                self.violation(
                    Check::Flat,
                    format!("{what}: RSS {rss} KiB, {rss0} KiB after the warm-up"),
                );
            }
        }
    }

    /// Reads every log; with `last`, everything must be there (nothing runs any more).
    fn check_logs(&mut self, now: Instant, last: bool) {
        // What is wrong with the lines themselves is the same fault whenever it is seen; what
        // is missing is judged with a lag while running, exactly at the end.
        let whole = if last {
            Check::FinalLines
        } else {
            Check::LogLines
        };
        for i in 0..self.svcs.len() {
            let dir = self.dir(i);
            let s = &mut self.svcs[i];
            let mut bad = Vec::new();
            let before = s.log.lines;
            if s.log.update(&s.name, &dir.join("log/main"), last, &mut bad) {
                self.reparses += 1;
            }
            self.lines_logged += s.log.lines.saturating_sub(before);
            let mut missing = Vec::new();
            let slots = journal(&dir);
            for (k, &(intent, ack)) in slots.iter().enumerate() {
                let inst = k as u64 + 1;
                let got = s.log.seen.get(&inst).copied().unwrap_or(0);
                if got > intent {
                    bad.push(format!(
                        "{}: instance {inst}: {got} lines logged, only {intent} written",
                        s.name
                    ));
                }
                if last {
                    if got != ack && got != intent {
                        missing.push(format!(
                            "{}: instance {inst}: {got} lines logged, {ack} written{}",
                            s.name,
                            if intent != ack {
                                format!(" ({intent} if its last write went through)")
                            } else {
                                String::new()
                            }
                        ));
                    }
                    if intent != ack {
                        self.bursts_in_doubt += 1;
                    }
                    continue;
                }
                let (hist, due) = s.acks.entry(inst).or_default();
                if hist.back().is_none_or(|&(_, a)| a != ack) {
                    hist.push_back((now, ack));
                }
                while let Some(&(t, a)) = hist.front() {
                    if now.duration_since(t) < LOG_LAG {
                        break;
                    }
                    *due = (*due).max(a);
                    hist.pop_front();
                }
                if got < *due {
                    missing.push(format!(
                        "{}: instance {inst}: {got} lines logged, {} written more than {LOG_LAG:?} \
                         ago",
                        s.name, *due
                    ));
                }
            }
            if last && dir.join("log/main/spool").exists() {
                // A clean stop leaves nothing to take again.
                missing.push(format!("{}: svlog's spool left after the stop", s.name));
            }
            if let Some((&inst, _)) = s.log.seen.iter().next_back() {
                if inst as usize > slots.len() {
                    bad.push(format!(
                        "{}: lines of instance {inst}, never started",
                        s.name
                    ));
                }
            }
            self.checked(whole);
            for m in bad {
                self.violation(Check::LogLines, m);
            }
            for m in missing {
                self.violation(whole, m);
            }
        }
    }

    fn report(&self, run: &str, stop: &str, stderr_kinds: &BTreeMap<String, u64>) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "{run}; {} service directories in all", self.svcs.len());
        let _ = writeln!(t, "\n| event | injected | skipped |\n|---|---:|---:|");
        let mut events: Vec<Event> = WEIGHTS.iter().map(|w| w.0).collect();
        events.push(Event::AddNew);
        let mut total = 0;
        for e in events {
            let i = self.injected.get(&e).copied().unwrap_or(0);
            total += i;
            let _ = writeln!(
                t,
                "| {} | {i} | {} |",
                e.label(),
                self.skipped.get(&e).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(t, "| **all** | **{total}** | |");
        let _ = writeln!(t, "\n| invariant | checks | violations |\n|---|---:|---:|");
        let mut bad = 0;
        for c in CHECKS {
            let v = self.violations.get(&c).copied().unwrap_or(0);
            bad += v;
            let _ = writeln!(
                t,
                "| {} | {} | {v} |",
                c.label(),
                self.checks.get(&c).copied().unwrap_or(0)
            );
        }
        let _ = writeln!(t, "| **all** | | **{bad}** |");
        let _ = writeln!(t, "\nmeasured:");
        let _ = writeln!(t, "- lines logged and checked: {}", self.lines_logged);
        let _ = writeln!(
            t,
            "- last bursts of SIGKILLed writers (either count is right): {}",
            self.bursts_in_doubt
        );
        let _ = writeln!(
            t,
            "- logs read again from the start (a logger recovered after a kill): {}",
            self.reparses
        );
        let _ = writeln!(t, "- zombies seen: {}", self.zombies_seen);
        if let Some(cpu) = proc_cpu_time(std::process::id()) {
            let _ = writeln!(
                t,
                "- CPU time of the test process (injecting and checking): {cpu:.1?} in {:.0?}",
                self.started.elapsed()
            );
        }
        if let Some(r) = &self.reference {
            for (k, (&(_, fds0, rss0), e)) in r.iter().zip(&self.extremes).enumerate() {
                let what = if k == 0 {
                    "svscan".to_string()
                } else {
                    format!("supervise {}", self.svcs[k - 1].name)
                };
                let _ = writeln!(
                    t,
                    "- {what}: fds {fds0} after warm-up ({}..{}), RSS {rss0} KiB ({}..{})",
                    e.0, e.1, e.2, e.3
                );
            }
        }
        let _ = writeln!(t, "- stop: {stop}");
        for (k, v) in stderr_kinds {
            let _ = writeln!(t, "- stderr: {v} × {k}");
        }
        if !self.messages.is_empty() {
            let _ = writeln!(t, "\nviolations ({} distinct):", self.messages.len());
            for m in self.messages.iter().take(SHOWN) {
                let _ = writeln!(t, "  {m}");
            }
        }
        t
    }
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Kinds of lines on svscan's stderr (the supervisors' and loggers' too): the text after the
/// `PROG NAME: ` prefix, with numbers masked.
fn stderr_kinds(text: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let rest = l
            .find(": warning: ")
            .or_else(|| l.find(": fatal: "))
            .or_else(|| l.find(": pausing: "))
            .map_or(l, |p| &l[p + 2..]);
        // Numbers (pids) masked, so that lines of one kind count together.
        let mut masked = String::new();
        for c in rest.chars() {
            if !c.is_ascii_digit() {
                masked.push(c);
            } else if !masked.ends_with('N') {
                masked.push('N');
            }
        }
        *m.entry(masked).or_default() += 1;
    }
    m
}

#[test]
fn chaos_soak() {
    let seconds = env_number("HERD_SOAK_SECONDS", DEFAULT_SECONDS);
    let services = env_number("HERD_SOAK_SERVICES", DEFAULT_SERVICES as u64) as usize;
    let seed = env_number(
        "HERD_SOAK_SEED",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1,
    );
    let run = format!("chaos soak: {seconds} s, {services} services, HERD_SOAK_SEED={seed:#x}");
    eprintln!("{run}");
    let sc = Scenario::new();
    fs::create_dir_all(sc.join("scan")).unwrap();
    fs::create_dir_all(sc.join("removed")).unwrap();
    let base = fs::canonicalize(sc.path()).unwrap();
    let mut soak = Soak {
        roots: [base.join("scan"), base.join("removed")],
        sc,
        writer: bin("herd-soak-writer"),
        svlog: bin("svlog"),
        sv: bin("sv"),
        rng: Rng(seed),
        svcs: Vec::new(),
        index: HashMap::new(),
        procs: Vec::new(),
        zombies: Vec::new(),
        zombies_seen: 0,
        injected: BTreeMap::new(),
        skipped: BTreeMap::new(),
        checks: BTreeMap::new(),
        violations: BTreeMap::new(),
        messages: Vec::new(),
        known: HashSet::new(),
        started: Instant::now(),
        reference: None,
        extremes: Vec::new(),
        reparses: 0,
        bursts_in_doubt: 0,
        lines_logged: 0,
    };
    for n in 0..services {
        let name = format!("s{n:03}");
        let scan = soak.roots[0].clone();
        soak.make_service(&scan, &name, n);
        soak.add_svc(name, n < SAMPLE);
    }
    let scan = soak.roots[0].to_string_lossy().into_owned();
    let mut ns = Ns::start_via(
        &soak.sc,
        &["/usr/bin/setpriv", "--pdeathsig", "KILL"],
        &["-t", STOP_BOUND, &scan],
    );

    // Every service up, with its logger, before the chaos starts.
    let t0 = Instant::now();
    wait_for("every service and logger running", START_WAIT, || {
        soak.snapshot(&ns);
        (0..soak.svcs.len())
            .all(|i| soak.of(i, Role::Run).len() == 1 && soak.of(i, Role::Logger).len() == 1)
    });
    eprintln!(
        "soak: {} services up after {:?}",
        soak.svcs.len(),
        t0.elapsed()
    );

    let chaos = Instant::now();
    soak.started = chaos;
    for s in &mut soak.svcs {
        s.last_event = chaos;
    }
    let end = chaos + Duration::from_secs(seconds);
    let mut next_event = chaos;
    let mut next_check = chaos + CHECK_EVERY;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if soak.next_zombie_look().is_some_and(|t| t <= now) {
            soak.check_zombies();
        }
        if now >= next_event {
            soak.inject();
            next_event = (next_event + EVENT_EVERY).max(now);
        }
        if now >= next_check {
            soak.check(&ns, chaos);
            next_check = (next_check + CHECK_EVERY).max(now);
        }
        // Pacing of the load, not a wait for an event.
        let wake = [
            Some(next_event),
            Some(next_check),
            soak.next_zombie_look(),
            Some(end),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(end);
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    while !soak.zombies.is_empty() {
        std::thread::sleep(soak.next_zombie_look().map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        }));
        soak.check_zombies();
    }

    // The stop: SIGTERM to PID 1 stops every service, loggers last; then every line must be there.
    let t_stop = Instant::now();
    ns.signal(libc::SIGTERM);
    let code = ns.wait(STOP_WAIT);
    let took = t_stop.elapsed();
    let stop = format!("svscan exited {code:?} {took:.2?} after SIGTERM");
    soak.checked(Check::Stop);
    if code != Some(0) {
        soak.violation(Check::Stop, stop.clone());
    }
    let left = ns.pids();
    if !left.is_empty() {
        soak.violation(
            Check::Stop,
            format!("processes left in the namespace: {left:?}"),
        );
    }
    let left = pids_with_cwd_under(soak.sc.path());
    if !left.is_empty() {
        soak.violation(
            Check::Stop,
            format!("processes left in the scenario: {left:?}"),
        );
    }
    soak.check_logs(Instant::now(), true);
    let stderr = ns.stderr();
    soak.checked(Check::Stop);
    for l in stderr.lines().filter(|l| l.contains("panicked")) {
        soak.violation(Check::Stop, format!("panic: {l}"));
    }
    // A second supervise for a service: the soak adds a service back only once its processes
    // are gone, and a killed supervise's lock goes with it.
    for l in stderr
        .lines()
        .filter(|l| l.contains("fatal: unable to lock supervise/lock"))
    {
        soak.violation(Check::OneRun, format!("svscan's stderr: {l}"));
    }
    let report = soak.report(&run, &stop, &stderr_kinds(&stderr));
    eprintln!("{report}");
    assert!(
        soak.messages.is_empty(),
        "chaos soak: {} violations (HERD_SOAK_SEED={seed:#x})\n{report}",
        soak.messages.len()
    );
}

/// The log reader finds each kind of fault in a log it is given.
#[test]
fn log_reader_finds_faults() {
    let sc = Scenario::new();
    let dir = sc.join("L");
    fs::create_dir_all(&dir).unwrap();
    let stamp = "2026-01-01_00:00:00.00000 ";
    let lines = |v: &[&str]| -> String { v.iter().map(|l| format!("{stamp}{l}\n")).collect() };
    let faults = |log: &mut LogState, complete: bool| {
        let mut bad = Vec::new();
        log.update("a", &dir, complete, &mut bad);
        bad
    };
    let mut log = LogState::default();
    fs::write(dir.join("current"), lines(&["a 1 1", "a 1 2"])).unwrap();
    assert_eq!(faults(&mut log, false), Vec::<String>::new());
    assert_eq!((log.lines, log.seen.get(&1)), (2, Some(&2)));
    // Appended: a duplicate, a gap, a new instance, a line of another service, garbage, and
    // an unfinished line (not read until complete).
    let more = lines(&["a 1 2", "a 1 5", "a 2 1", "b 2 2", "junk"]) + stamp + "a 2";
    fs::write(
        dir.join("current"),
        lines(&["a 1 1", "a 1 2"]) + more.as_str(),
    )
    .unwrap();
    assert_eq!(
        faults(&mut log, false),
        [
            "a: instance 1 line 2 duplicated",
            "a: instance 1 lines 3..=4 missing (line 5 follows line 2)",
            &format!("a: a line of b in its log: \"{stamp}b 2 2\""),
            &format!("a: malformed line \"{stamp}junk\""),
        ]
    );
    // The unfinished line completed, then rotated away: read in order; an older instance after
    // a newer one.
    fs::write(
        dir.join("current"),
        lines(&["a 1 1", "a 1 2"]) + more.as_str() + " 2\n",
    )
    .unwrap();
    fs::rename(dir.join("current"), dir.join("@400000006b0000000000000a.u")).unwrap();
    fs::write(dir.join("current"), lines(&["a 1 6"])).unwrap();
    assert_eq!(
        faults(&mut log, false),
        ["a: line 6 of instance 1 after lines of instance 2"]
    );
    assert_eq!((log.lines, log.seen.get(&2)), (9, Some(&2)));
    // Read to the end: an unfinished line is a fault of a finished file.
    fs::write(dir.join("current"), lines(&["a 1 6"]) + "x").unwrap();
    assert_eq!(
        faults(&mut log, true),
        [
            "a: current ends in the middle of a line: \"x\"",
            "a: malformed line \"x\""
        ]
    );
    // A file that shrank (a logger's recovery): read again from the start.
    fs::write(dir.join("current"), "").unwrap();
    let mut bad = Vec::new();
    assert!(log.update("a", &dir, false, &mut bad));
}
