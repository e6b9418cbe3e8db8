# herd's tasks. `just` is optional: every recipe is a plain cargo/python command.

# Build every binary and the static release build (the docker test runs it in a FROM scratch
# image), then run the whole test suite (unit + black-box + interop with runit + docker).
test:
    cargo build --workspace --bins
    scripts/release.sh
    cargo test --workspace

# Run the bundled example service tree under svscan in the foreground (Ctrl-C stops everything).
run:
    cargo build --release --workspace --bins
    target/release/herd svscan -P service

# The chaos soak (docs/reliability.md): svscan as PID 1 of a pid namespace with 300 services, each
# with an svlog logger, while run, svlog and supervise processes are SIGKILLed, service directories
# removed and added and `sv restart/down/up` sent, for SECONDS; the invariants are checked every
# second, a summary table is printed and any violation fails. The test suite runs it for 30 s.
soak SECONDS="600":
    cargo build --workspace --bins
    HERD_SOAK_SECONDS={{SECONDS}} cargo test -p herd-tests --test main soak:: -- --nocapture

# The static release binary, herd (glibc static, non-PIE): target/x86_64-unknown-linux-gnu/release/.
# It runs in a FROM scratch image and shares its text between svscan, every supervise and svlog.
release:
    scripts/release.sh

# Install the static herd once, every tool's name (runit's too) a link to it, and the man pages under
# PREFIX/share/man/man8 (`man svscan`): `just install /img /usr`.
install DESTDIR="" PREFIX="/usr": release
    scripts/install.sh "{{DESTDIR}}" "{{PREFIX}}"

# Regenerate the man pages, man/man8/, from docs/{svscan,supervise,sv,svlog,chpst}.md (commit
# both). `python3 scripts/man.py --check` says which page is stale without writing (a test runs it).
man:
    python3 scripts/man.py

# Measure herd's supervise, sv, svscan, svlog and my_init (the static release build) against runit,
# daemontools and s6, as root, in one run (~20 min; `just bench --quick` checks the harness in ~6 min;
# `--sections myinit` runs one section). Writes docs/benchmarks.md and docs/benchmarks.json.
bench *ARGS: release
    python3 -m bench --herd-dir target/x86_64-unknown-linux-gnu/release {{ARGS}}

# Restart latency only, herd's supervise against runsv, interleaved, in about a minute, as root
# (`--base PATH` adds another herd binary, for before/after; `--only herd,runit,daemontools`).
bench-ab *ARGS: release
    python3 -m bench.ab {{ARGS}}

# Rewrite docs/benchmarks.md from docs/benchmarks.json (no measurement; for changes to the report).
bench-report:
    python3 -m bench --report-only docs/benchmarks.json

# Check that `--report-only` imports no measuring module (harness, procfs, overhead, run, sections):
# renders the report into /dev/null, then looks at sys.modules. No root needed; about a second.
bench-check:
    python3 -c 'import sys; from bench.__main__ import main; \
        sys.argv[1:] = ["--report-only", "docs/benchmarks.json", "--md", "/dev/null"]; assert main() == 0; \
        bench = sorted(m for m in sys.modules if m.startswith("bench")); \
        bad = [m for m in bench if m.split(".")[1:2] in (["harness"], ["procfs"], ["overhead"], ["run"], ["sections"])]; \
        assert not bad, f"--report-only imported {bad}"; print("bench-check: --report-only imports", *bench)'

# The checks CI runs besides the tests.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The property tests in their long mode (docs/reliability.md, "Input"): CASES cases for each
# (CI runs proptest's default, 256). Debug build on purpose: integer overflow panics there.
proptest-long CASES="200000":
    PROPTEST_CASES={{CASES}} cargo test --workspace --lib --bins -- prop

# Build every Dockerfile of docs/docker.md exactly as printed (after its staging `sh` block, run as
# printed) in a private dockerd, and run each image: services up, `sv restart`, and the exit code
# of `docker stop` that the doc states. Not part of `just test` or CI: it takes minutes and needs
# the Debian mirror, from which debootstrap makes the debian:bookworm-slim and phusion-like bases,
# cached under /var/tmp/herd-images (`HERD_IMAGES_REBUILD=1 just test-images` makes them again).
test-images:
    command -v debootstrap >/dev/null || (apt-get update && apt-get install -y debootstrap)
    scripts/release.sh
    cargo test -p herd-tests --test main images:: -- --include-ignored --nocapture
