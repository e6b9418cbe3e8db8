//! `herd`: every herd tool in one executable. argv[0]'s basename picks the tool (`svscan`,
//! `runsv`, `envdir`, … as [`tool::NAMES`] lists them; any other name is sv's init-script mode,
//! as for runit's sv); called `herd`, the first argument names it: `herd TOOL ARGS…` runs TOOL
//! with argv[0] = TOOL. One text for every svscan, supervise and svlog on a machine is what keeps
//! a small tree small. See README.md, "One binary".

// herd has its own C `main`: std's start-up would link in glibc's scanf and float parsers for
// its stack-overflow handler (docs/size.md); `herd_sys::start` does the rest of what it does.
// The unit tests (`cargo test`) keep the test harness's `main`.
#![cfg_attr(not(test), no_main)]
// Without the C `main`, the dispatcher is not called in a unit-test build; it is tested as the
// built binary (tests/multicall.rs).
#![cfg_attr(test, allow(dead_code))]
#![deny(unsafe_code)]

mod tool;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use herd_diag::Diag;
use tool::{Tool, HERD, NAMES};

/// A bad command line (`herd` alone, an unknown tool): chpst's and s6's usage code.
const EXIT_USAGE: u8 = 100;
const SYNOPSIS: &str = " tool [args ...]";

/// `herd --help` (on stdout, exit 0), and what `herd` alone says (on stderr, exit 100): the
/// usage line, then the names, one line per tool.
fn help() -> String {
    let mut out = format!(
        "usage: {HERD}{SYNOPSIS}\n\n\
         Every herd tool in one executable: runs the tool named by argv[0] (a link to herd),\n\
         or by its first argument. Any other name is sv's init-script mode (sv(8)).\n\n"
    );
    for tool in [
        Tool::Svscan,
        Tool::Supervise,
        Tool::Sv,
        Tool::Svlog,
        Tool::Chpst,
    ] {
        let names: Vec<&str> = NAMES.iter().filter(|n| n.1 == tool).map(|n| n.0).collect();
        out.push_str(&format!("  {}\n", names.join(" ")));
    }
    out.push_str(
        "\n  --help     print this help and exit\n  --version  print herd's version and exit\n",
    );
    out
}

/// Runs the tool `argv[0]` names, or for `herd` the one its first argument names.
fn dispatch(mut argv: Vec<OsString>) -> u8 {
    let arg0 = argv.first().map_or(&b""[..], |a| a.as_bytes());
    let name = tool::basename(arg0);
    let tool = tool::tool_of(name);
    if tool != Tool::Herd {
        // The kernel names the process after the file it ran: `herd` when svscan runs itself
        // as supervise, or for `herd sv`. `ps -e`, `top` and `pidof` show the tool's name.
        if let Ok(comm) = std::ffi::CString::new(name) {
            let _ = nix::sys::prctl::set_name(&comm);
        }
    }
    match tool {
        Tool::Svscan => herd_svscan::main(argv, Some(herd_supervise::main)),
        Tool::Supervise => herd_supervise::main(argv),
        Tool::Sv => herd_sv::main(argv),
        Tool::Svlog => herd_svlog::main(argv),
        Tool::Chpst => herd_chpst::main(argv),
        Tool::Herd => {
            let diag = Diag::new(HERD);
            let Some(first) = argv.get(1) else {
                herd_diag::emit(help());
                return EXIT_USAGE;
            };
            if let Some(long) = herd_getopt::Long::of(first) {
                return herd_getopt::answer(long, &help(), &diag);
            }
            // A name with a `/` is not a tool's name: `herd /x/sv` would otherwise be sv.
            if first.as_bytes().contains(&b'/') || tool::known(first.as_bytes()).is_none() {
                diag.fatal(&format_args!("unknown tool: {}", first.to_string_lossy()));
                return EXIT_USAGE;
            }
            argv.remove(0);
            dispatch(argv)
        }
    }
}

/// The C runtime's `main`. The arguments are read through `std::env::args_os`, which std's glibc
/// support fills in before any `main` runs.
#[cfg(not(test))]
#[allow(unsafe_code)] // `no_mangle`: this is the symbol the C runtime calls.
#[no_mangle]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    herd_sys::start::runtime();
    herd_sys::start::exit(dispatch(std::env::args_os().collect()))
}

/// The release build links with `--wrap=__register_frame_info` (`build.rs`): the C runtime's
/// start-up (`crtbeginT.o`) registers the binary's unwind tables with libgcc, and in doing so reads
/// the first word of `.eh_frame`, which `layout.ld` keeps in a segment no tree maps. The
/// registration is redundant in herd: libgcc finds the tables through `PT_GNU_EH_FRAME` when a
/// backtrace needs them (`panic = "abort"`: nothing unwinds). So it is not done.
#[cfg(not(test))]
#[allow(unsafe_code)] // `no_mangle`: the name `--wrap` gives the start-up's call.
#[no_mangle]
extern "C" fn __wrap___register_frame_info(
    _begin: *const std::ffi::c_void,
    _object: *mut std::ffi::c_void,
) {
}

/// The exit's counterpart of [`__wrap___register_frame_info`]: nothing was registered.
#[cfg(not(test))]
#[allow(unsafe_code)] // `no_mangle`: the name `--wrap` gives the exit's call.
#[no_mangle]
extern "C" fn __wrap___deregister_frame_info(
    _begin: *const std::ffi::c_void,
) -> *mut std::ffi::c_void {
    std::ptr::null_mut()
}
