#!/usr/bin/env python3
"""Measure which code and data a running herd tree touches, and write bin/herd/layout.ld: the
linker script that puts it in segments of its own (docs/size.md, "Hot and cold").

    scripts/layout.py    measure and rewrite bin/herd/layout.ld (as root; about a minute)

Run it when tests/layout.rs fails: code a tree runs has changed, and some of it is in a cold
segment. Commit the new layout.ld with the change.

Why: the kernel maps a file's pages a whole page-cache folio at a time, and a folio of a file
written in one go can be a megabyte, so a process that touches one page of a segment soon maps
all of it. Code and data no process of a tree runs (std's backtrace printer, glibc's iconv,
printf, scanf and dlopen, error paths) must therefore sit in segments of their own, which then
stay unmapped. This script finds the set a tree touches:

1. It links herd once more with the release flags, `--reproduce` and a map, into
   target/layout/, then links those same objects again with every `.text` input section on a
   page of its own (an 8 MB binary that runs like the real one).
2. It runs a workload with that binary on a loop-mounted file system with `read_ahead_kb` = 0, so
   that a page is in the page cache only if some process touched it, then asks `mincore` which
   pages are. With one input section per page, a touched page is a touched function.
   The measuring link also puts every writable input section (`.data.rel.ro`, `.data`, `.bss`)
   on a page of its own, and the workload reads `/proc/PID/pagemap` of the tree's processes: a
   present, anonymous page that is not the zero page is a written section.
3. It writes layout.ld: the touched `.text` sections (hashes in their names replaced by `*`, so
   that a rebuild matches them; glibc's by archive member) into `.text.hot`, everything else into
   `.text`, a segment of its own; glibc's read-only data of members no tree touches into
   `.rodata.cold`, a segment of its own; and the written data together (docs/size.md, "Written
   data, together"), so that each process has as few private pages of it as can be.

The workload is a tree as containers run it: svscan over services with svlog loggers, one with
chpst, a `finish`, readiness (`notification-fd`), a dependency, a `health` check, a
`down-signal` and `timeout-kill`; sv's commands; log lines and rotation; svscan restarted over
directories a killed tree left behind; svscan as PID 1 reaping an orphan (its stop runs, but
what only the stop runs is left cold: those processes are about to exit); all
with LD_LIBRARY_PATH set, which static glibc parses at start-up. Only the processes that stay
running count: sv and chpst (which execs the service) run from another copy of the binary, so
their code stays cold, and a `sv` maps it when it runs. When the string function glibc picks for
this CPU is hot, so are its AVX2, EVEX and AVX-512 variants, which other current CPUs pick.
tests/layout.rs checks that such a tree maps no page of the cold segments.

Standard library only. Needs root (losetup, mount), util-linux and e2fsprogs.
"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYOUT = os.path.join(ROOT, "bin/herd/layout.ld")
TARGET = os.path.join(ROOT, "target/layout")
TRIPLE = "x86_64-unknown-linux-gnu"
PAGE = 4096
DEADLINE_S = 10.0

# The IFUNC variants of a string function glibc picks by CPU: when the one this machine picks is
# hot, the ones other current x86-64 CPUs pick are kept hot with it.
IFUNC = re.compile(r"^((?:mem|str|stp|raw|wcs|wmem)[a-z0-9_]*?)-(sse2|ssse3|sse4_2|avx2|avx|evex|avx512)(.*)\.o$")
IFUNC_KEEP = ("avx2", "evex", "avx512")


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, **kw)


# --- 1. link ---------------------------------------------------------------------------------

def link_reproduce():
    """Builds herd with the release flags plus --reproduce and a map; returns (repro dir, map)."""
    os.makedirs(TARGET, exist_ok=True)
    tar = os.path.join(TARGET, "repro.tar")
    mapf = os.path.join(TARGET, "herd.map")
    for f in (tar, mapf):
        if os.path.exists(f):
            os.remove(f)
    # Linked as the release build is (bin/herd/build.rs), with the current layout.ld, which
    # relink() leaves out again.
    env = dict(os.environ, HERD_LAYOUT="1")
    env["RUSTFLAGS"] = (
        "-C target-feature=+crt-static -C relocation-model=static "
        f"-C link-arg=-Wl,--reproduce={tar} -C link-arg=-Wl,-Map={mapf}"
    )
    # The link must run: clean herd's own artifacts (not its dependencies') first.
    sh("cargo", "clean", "-q", "--release", "-p", "herd", "--target", TRIPLE, "--target-dir", TARGET,
       cwd=ROOT)
    sh("cargo", "build", "-q", "--release", "-p", "herd", "--bins", "--target", TRIPLE,
       "--target-dir", TARGET, cwd=ROOT, env=env)
    repro = os.path.join(TARGET, "repro")
    shutil.rmtree(repro, ignore_errors=True)
    os.makedirs(repro)
    sh("tar", "-C", repro, "-xf", tar)
    return os.path.join(repro, "repro"), mapf


def lld():
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True,
                             check=True).stdout.strip()
    return os.path.join(sysroot, "lib/rustlib", TRIPLE, "bin/rust-lld")


def relink(repro, out, script, mapf):
    """Links the reproduced objects again into `out`, with linker script `script` added."""
    resp = open(os.path.join(repro, "response.txt")).read().splitlines()
    # Without the layout script the release link had (`--script PATH` in a response file).
    resp = [l for l in resp if not l.startswith("--script ")]
    resp = [f"-o {out}" if l.startswith("-o ") else
            f"--Map {mapf}" if l.startswith("--Map ") else l for l in resp]
    rf = os.path.join(repro, "response-layout.txt")
    open(rf, "w").write("\n".join(resp) + "\n")
    # The response file chroots input paths to the reproduction: the script goes in there too.
    shutil.copyfile(script, os.path.join(repro, "layout-input.ld"))
    sh(lld(), "-flavor", "gnu", f"@{rf}", "-T", "layout-input.ld", cwd=repro)


def input_sections(mapf):
    """(output section, vaddr, size, input name) of every input section in an LLD map."""
    out, cur = [], None
    for line in open(mapf):
        m = re.match(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (\s*)(\S.*)$", line.rstrip("\n"))
        if not m:
            continue
        addr, size, indent, name = int(m[1], 16), int(m[2], 16), len(m[3]), m[4]
        if indent == 0:
            cur = name
        elif indent == 8 and not name.startswith(". ="):
            out.append((cur, addr, size, name))
    return out


def split_name(name):
    """An input section's (file pattern, section name) in linker-script form."""
    m = re.match(r"^(.*):\(([^)]*)\)$", name)
    if not m:
        return None
    f, sec = m.groups()
    am = re.match(r".*/([^/]+\.a)\(([^)]+)\)$", f)
    return (f"*{am[1]}:{am[2]}" if am else "*" + f.rsplit("/", 1)[-1]), sec


def aligned_script(sections):
    """Every `.text` input section, and glibc's read-only data member by member, on pages of
    their own."""
    text, rodata = [], set()
    data = {o: [] for o in WRITABLE}
    for out, _, _, name in sections:
        sp = split_name(name)
        if out in data and sp:
            line = f"    . = ALIGN({PAGE}); {sp[0]}({sp[1]})"
            if line not in data[out]:
                data[out].append(line)
        # The reproduction was linked with the current layout.ld: its hot and cold halves.
        if out in (".text", ".text.hot") and sp:
            text.append(f"    . = ALIGN({PAGE}); {sp[0]}({sp[1]})")
        elif out in (".rodata", ".rodata.cold") and sp and sp[0].startswith("*libc.a:"):
            # By exact name: a pattern would also take the member's mergeable strings and
            # constants, and LLD puts the merged ones of every file where the first of them is.
            rodata.add(f"    . = ALIGN({PAGE}); {sp[0]}({sp[1]})")
    return ("SECTIONS {\n  .rodata : {\n" + "\n".join(sorted(rodata)) +
            "\n    *(.rodata .rodata.*)\n  }\n} INSERT AFTER .rela.dyn;\n"
            "SECTIONS {\n  .text : {\n" + "\n".join(text) + "\n    *(.text .text.*)\n  }\n"
            "} INSERT BEFORE .init;\n" +
            "".join(f"SECTIONS {{\n  {o} : {{\n" + "\n".join(data[o]) +
                    f"\n    *({o} {o}.*)" + (" *(COMMON)" if o == ".bss" else "") +
                    # What follows (`.got`, or glibc's sections before `.bss`) is written, or
                    # zeroed by the kernel at the file data's end: not on the last one's page.
                    ("" if o == ".bss" else f"\n    . = ALIGN({PAGE});") +
                    f"\n  }}\n}} INSERT {where};\n" for o, where in WRITABLE_AT))


# The writable output sections whose input sections are put in order of what a tree writes,
# and where each is inserted (where LLD places them without a script).
WRITABLE_AT = ((".data.rel.ro", "BEFORE .got"), (".data", "AFTER .tm_clone_table"),
               (".bss", "BEFORE __libc_freeres_ptrs"))
WRITABLE = tuple(o for o, _ in WRITABLE_AT)


def writable_script(relro, data, bss):
    """`.data.rel.ro`, `.data` and `.bss` with what a tree writes put together. `relro` and
    `data`: file patterns (glibc's members) whose sections go last; `bss`: input section
    descriptions that go first. glibc writes some of `.data.rel.ro` at start, before it is made
    read-only: that part goes last, from a page boundary, next to `.got.plt` (whose ifunc entries
    are written too). In `.data` the written part goes last and in `.bss` first, so that the two
    meet across the page where the file's data ends and the zeroed memory begins (which the
    kernel writes anyway)."""
    def last(out, files):
        if not files:
            return f"    *({out} {out}.*)"
        return (f"    *(EXCLUDE_FILE({' '.join(files)}) {out} {out}.*)\n" +
                ("    . = ALIGN(0x1000);\n" if out == ".data.rel.ro" else "") +
                "\n".join(f"    {f}({out} {out}.*)" for f in files))
    body = {".data.rel.ro": last(".data.rel.ro", relro), ".data": last(".data", data),
            ".bss": "".join(l + "\n" for l in bss) + "    *(.bss .bss.*) *(COMMON)"}
    return "".join(f"SECTIONS {{\n  {o} : {{\n{body[o]}\n  }}\n}} INSERT {where};\n"
                   for o, where in WRITABLE_AT)


# --- 2. measure ------------------------------------------------------------------------------

def libc_mm():
    """The C library, with `mmap`'s signature (it returns a pointer)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    return libc


class LoopFs:
    """A small ext4 on a loop device with no read-ahead: the page cache of a file on it holds
    exactly the pages that were read."""

    def __init__(self, work):
        self.img = os.path.join(work, "fs.img")
        self.mnt = os.path.join(work, "mnt")
        os.makedirs(self.mnt)
        with open(self.img, "wb") as f:
            f.truncate(64 << 20)
        sh("mkfs.ext4", "-q", "-F", self.img)
        self.dev = subprocess.run(["losetup", "-f", "--show", self.img], capture_output=True,
                                  text=True, check=True).stdout.strip()
        with open(f"/sys/block/{os.path.basename(self.dev)}/queue/read_ahead_kb", "w") as f:
            f.write("0")
        sh("mount", self.dev, self.mnt)

    def install(self, binary):
        """Copies `binary` in and remounts, so that none of its pages is cached."""
        dst = os.path.join(self.mnt, "herd")
        shutil.copyfile(binary, dst)
        os.chmod(dst, 0o755)
        sh("sync")
        sh("umount", self.mnt)
        sh("mount", self.dev, self.mnt)
        return dst

    def cached_pages(self, path):
        libc = libc_mm()
        fd = os.open(path, os.O_RDONLY)
        size = os.fstat(fd).st_size
        vec = (ctypes.c_ubyte * ((size + PAGE - 1) // PAGE))()
        p = libc.mmap(None, size, 1, 2, fd, 0)  # PROT_READ, MAP_PRIVATE
        if libc.mincore(ctypes.c_void_p(p), ctypes.c_size_t(size), vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore")
        libc.munmap(ctypes.c_void_p(p), ctypes.c_size_t(size))
        os.close(fd)
        return {i for i, v in enumerate(vec) if v & 1}

    def close(self):
        subprocess.run(["umount", self.mnt])
        subprocess.run(["losetup", "-d", self.dev])


def zero_pfn():
    """The page frame of the kernel's zero page, which an anonymous page that was only read
    maps (`.bss` read but never written costs nothing)."""
    libc = libc_mm()
    p = libc.mmap(None, PAGE, 1, 0x22, -1, 0)  # PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS
    ctypes.c_ubyte.from_address(p).value  # noqa: B018 (the read maps the zero page)
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(p // PAGE * 8)
        entry = int.from_bytes(f.read(8), "little")
    libc.munmap(ctypes.c_void_p(p), ctypes.c_size_t(PAGE))
    return entry & ((1 << 55) - 1)


def written_pages(root, exe, lo, hi):
    """The pages in [lo, hi) (the binary's writable segments) that some process under `root`
    running `exe` has written: present, anonymous (a private copy) and not the zero page."""
    zero, out = zero_pfn(), set()
    for pid in descendants(root):
        try:
            if os.readlink(f"/proc/{pid}/exe") != exe:
                continue
            with open(f"/proc/{pid}/pagemap", "rb") as f:
                f.seek(lo // PAGE * 8)
                raw = f.read((hi - lo) // PAGE * 8)
        except OSError:
            continue
        for i in range(len(raw) // 8):
            e = int.from_bytes(raw[i * 8:i * 8 + 8], "little")
            if e >> 63 & 1 and not e >> 61 & 1 and e & ((1 << 55) - 1) != zero:
                out.add(lo // PAGE + i)
    return out


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in open(f"/proc/{p}/task/{t}/children").read().split()]
        except OSError:
            pass
    return out


def kill_tree(pid):
    for p in descendants(pid):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for(what, cond):
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise SystemExit(f"layout: timed out waiting for {what}")


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def workload(herd, source, work, snapshot):
    """Runs a tree as containers run it from `herd` (see the module's doc). Only what stays
    running counts: sv and chpst, which run and exit (chpst execs the service), run from a copy
    of the binary elsewhere, so that what they touch is not measured."""
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    driver = os.path.join(work, "driver-herd")
    shutil.copyfile(source, driver)  # not from `herd`: reading it would cache its every page
    os.chmod(driver, 0o755)
    for n in ("svscan", "supervise", "svlog", "my_init"):
        os.symlink(herd, os.path.join(bindir, n))
    for n in ("sv", "chpst"):
        os.symlink(driver, os.path.join(bindir, n))
    B = lambda n: os.path.join(bindir, n)  # noqa: E731
    scan = os.path.join(work, "service")
    logrun = f"#!/bin/sh\nexec {B('svlog')} -tt main\n"

    def service(name, run, log=True, **files):
        d = os.path.join(scan, name)
        write(f"{d}/run", run, 0o755)
        for f, text in files.items():
            write(f"{d}/{f.replace('_', '-')}", text, 0o755 if f in ("finish", "health", "check") else 0o644)
        if log:
            write(f"{d}/log/run", logrun, 0o755)
            os.makedirs(f"{d}/log/main", exist_ok=True)

    service("web", "#!/bin/sh\necho web starting\nexec sleep 1000\n")
    service("app", f"#!/bin/sh\nexec {B('chpst')} -u nobody sh -c 'echo app up; exec sleep 1000'\n",
            finish="#!/bin/sh\nexit 0\n")
    service("db", "#!/bin/sh\necho ready >&3\nexec sleep 1000\n", notification_fd="3\n",
            down_signal="TERM\n", timeout_kill="2000\n")
    service("api", "#!/bin/sh\nexec sleep 1000\n", health="#!/bin/sh\nexit 0\n",
            health_interval="1\n")
    os.makedirs(os.path.join(scan, "api/dependencies.d"))
    open(os.path.join(scan, "api/dependencies.d/db"), "w").close()
    service("cron", "#!/bin/sh\nexec sleep 1000\n", log=False)
    names = ["web", "app", "db", "api", "cron"]

    def sv(*args):
        return subprocess.run([B("sv"), *args], capture_output=True, text=True, timeout=DEADLINE_S,
                              env={"SVDIR": scan, "PATH": os.environ["PATH"]})

    def all_up():
        return all(sv("status", n).stdout.startswith("run:") for n in names)

    # Static glibc parses LD_LIBRARY_PATH at start-up (its dlopen's search path) when it is set,
    # as it is in some images and in `cargo test`: that code runs in every process.
    env = dict(os.environ, LD_LIBRARY_PATH="/usr/local/lib:/opt/lib")

    def tree():
        return subprocess.Popen([B("svscan"), scan], stdout=subprocess.DEVNULL, env=env,
                                stderr=subprocess.DEVNULL, start_new_session=True)

    p = tree()
    try:
        wait_for("every service up", all_up)
        wait_for("a health check", lambda: os.path.exists(os.path.join(scan, "api/supervise/health")))
        sv("-w", "7", "restart", "web")
        sv("-w", "7", "down", "app")
        sv("-w", "7", "up", "app")
        sv("term", "cron")
        sv("alarm", "web/log")
        sv("hup", "app/log")
        sv("status", *names)
        sv("check", "db")
        sv("-w", "7", "restart", "db")
        time.sleep(1.5)  # a health interval, and the throttle past the restarts
    finally:
        kill_tree(p.pid)
        p.wait()
    # Over what a killed tree left: instance files, orphans gone, status files in place.
    p = tree()
    try:
        wait_for("every service up again", all_up)
        time.sleep(1.5)
    finally:
        kill_tree(p.pid)
        p.wait()
    # As PID 1: an orphan to reap, then a stop. What the stop alone runs is left cold: the
    # processes that run it are about to exit. `snapshot` is taken just before it.
    write(os.path.join(scan, "orphan/run"),
          "#!/bin/sh\n(sleep 0.2 &) ; exec sleep 1000\n", 0o755)
    p = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", B("svscan"), scan],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_for("every service up as PID 1", all_up)
        time.sleep(1.0)
        pages = snapshot(p.pid)
        svscan = int(open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()[0])
        os.kill(svscan, signal.SIGTERM)
        p.wait(timeout=DEADLINE_S)
    finally:
        kill_tree(p.pid)
        p.wait()
    return pages


# --- 3. the script ---------------------------------------------------------------------------

def pattern(fpat, sec):
    """A rebuild-proof pattern: Rust's symbol hashes (legacy `17h<hex>E`, v0 crate
    disambiguators `Cs<base62>_`) become `*`."""
    sec = re.sub(r"17h[0-9a-f]{16}E", "17h*E", sec)
    sec = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", sec)
    return f"{fpat}({sec})"


def layout_script(text_hot, rodata_lines, writable):
    return f"""/* herd's layout: what a running tree touches in segments of its own, the rest in others
   that stay unmapped (docs/size.md, "Hot and cold"). Generated by scripts/layout.py; do not
   edit. scripts/release.sh links with it; tests/layout.rs checks it. */
SECTIONS {{
  .rodata : {{
{rodata_lines}
    *(EXCLUDE_FILE(*libc.a:*) .rodata .rodata.*)
  }}
}} INSERT AFTER .rela.dyn;
SECTIONS {{
  .rodata.cold : AT(ADDR(.rodata.cold)) {{ *(.rodata .rodata.*) }}
  .gcc_except_table : {{ *(.gcc_except_table .gcc_except_table.*) }}
  .eh_frame_hdr : {{ *(.eh_frame_hdr) }}
  .eh_frame : {{ KEEP(*(.eh_frame)) }}
  .init : {{ KEEP(*(SORT_NONE(.init))) }}
  .fini : {{ KEEP(*(SORT_NONE(.fini))) }}
  .iplt : {{ *(.iplt) }}
  .text.hot : {{
{text_hot}
  }}
  .text : AT(ADDR(.text)) {{ *(.text .text.*) }}
}} INSERT AFTER .rodata;
{writable}"""


def generate(sections, pages, loads, written):
    def touched(addr, size):
        for v, o, sz in loads:
            if v <= addr < v + sz:
                off = addr - v + o
                return any(p in pages for p in range(off // PAGE, (off + max(size, 1) - 1) // PAGE + 1))
        return False

    hot, members, rodata_members = [], set(), set()
    relro, data, bss = set(), set(), []
    for out, addr, size, name in sections:
        sp = split_name(name)
        if sp and out in WRITABLE and any(
                p in written for p in range(addr // PAGE, (addr + max(size, 1) - 1) // PAGE + 1)):
            # glibc's by member (each has one section of each kind); std's and herd's
            # (`.bss` only: they write no `.data`) by name.
            libc = sp[0].startswith("*libc.a:")
            if out == ".data.rel.ro" and libc:
                relro.add(sp[0])
            elif out == ".data" and libc:
                data.add(sp[0])
            elif out == ".bss":
                line = (f"{sp[0]}({sp[1]})" if libc or not sp[0].endswith(".rcgu.o")
                        else pattern("*.rcgu.o", sp[1]))
                if line not in bss:
                    bss.append(line)
        if not sp or not touched(addr, size):
            continue
        if out == ".rodata" and sp[0].startswith("*libc.a:"):
            rodata_members.add(sp[0].split(":", 1)[1])
        if out != ".text":
            continue
        am = re.match(r"\*libc\.a:(.+)$", sp[0])
        if am:
            members.add(am[1])
        elif ".a:" in sp[0]:
            hot.append(f"{sp[0]}(.text .text.*)")
        elif sp[0].endswith(".rcgu.o"):
            hot.append(pattern("*.rcgu.o", sp[1]))
        else:
            hot.append(f"{sp[0]}({sp[1]})")
    for m in list(members):
        im = IFUNC.match(m)
        if im:
            for out, _, _, name in sections:
                sp = split_name(name)
                om = IFUNC.match(sp[0].split(":", 1)[1]) if sp and sp[0].startswith("*libc.a:") else None
                if om and om[1] == im[1] and om[2] in IFUNC_KEEP and "rtm" not in om[3]:
                    members.add(sp[0].split(":", 1)[1])
    # Herd's and std's functions in one description, so that LLD keeps them in the order the
    # compiler emitted them (callers near callees), not in the order of the patterns (by name).
    rust = sorted({h[len("*.rcgu.o("):-1] for h in hot if h.startswith("*.rcgu.o(")})
    other = sorted({h for h in hot if not h.startswith("*.rcgu.o(")})
    lines = (["*.rcgu.o(", *(f"  {r}" for r in rust), ")"] + other
             + [f"*libc.a:{m}(.text .text.*)" for m in sorted(members)])
    rodata = [f"*libc.a:{m}(.rodata .rodata.*)" for m in sorted(members | rodata_members)]
    return layout_script("\n".join("    " + l for l in lines),
                         "\n".join("    " + l for l in rodata),
                         writable_script(sorted(relro), sorted(data), ["    " + l for l in bss]))


def segments(binary):
    """The binary's LOAD segments: (vaddr, file offset, size in memory, writable)."""
    out = []
    for l in subprocess.run(["readelf", "-lW", binary], capture_output=True, text=True,
                            check=True).stdout.splitlines():
        f = l.split()
        if f and f[0] == "LOAD":
            out.append((int(f[2], 16), int(f[1], 16), int(f[5], 16), "W" in "".join(f[6:-1])))
    return out


def loads_of(binary):
    return [(v, o, sz) for v, o, sz, _ in segments(binary)]


def writable_range(binary):
    """[lo, hi), page-aligned, of the binary's writable segments in memory."""
    rw = [(v, v + sz) for v, _, sz, w in segments(binary) if w]
    return min(v for v, _ in rw) // PAGE * PAGE, -(-max(e for _, e in rw) // PAGE) * PAGE


def main(argv):
    if argv[1:]:
        print(f"usage: {argv[0]} (no arguments; as root)", file=sys.stderr)
        return 100
    if os.geteuid() != 0:
        print("layout: fatal: needs root (losetup, mount)", file=sys.stderr)
        return 100
    repro, mapf = link_reproduce()
    work = tempfile.mkdtemp(prefix="herd-layout-")
    fs = LoopFs(work)
    try:
        binary = os.path.join(work, "herd-aligned")
        script = os.path.join(work, "aligned.ld")
        write(script, aligned_script(input_sections(mapf)))
        aligned_map = os.path.join(work, "aligned.map")
        relink(repro, binary, script, aligned_map)
        herd = fs.install(binary)
        lo, hi = writable_range(binary)
        pages, written = workload(herd, binary, os.path.join(work, "w"),
                                  lambda root: (fs.cached_pages(herd),
                                                written_pages(root, herd, lo, hi)))
        write(LAYOUT, generate(input_sections(aligned_map), pages, loads_of(binary), written))
        print(f"layout: wrote {os.path.relpath(LAYOUT, ROOT)} ({len(pages)} pages touched, "
              f"{len(written)} written)")
        return 0
    finally:
        fs.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
