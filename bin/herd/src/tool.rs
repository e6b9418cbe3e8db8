//! The dispatch table: which tool each name is. The one list of the names herd answers to
//! (install.sh links each of them, `herd --help` lists them); a name not in it is sv's init-script
//! (LSB) mode, as runit's `sv` is under any name but `sv` (`/etc/init.d/web -> /usr/bin/sv`).
//! Pure: names in, tools out.

/// One of the tools in the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `herd` itself: the dispatcher.
    Herd,
    Svscan,
    Supervise,
    Sv,
    Svlog,
    Chpst,
}

/// Every name herd answers to as a tool, with its tool, in the order `herd --help` lists them.
pub const NAMES: [(&str, Tool); 16] = [
    ("svscan", Tool::Svscan),
    ("runsvdir", Tool::Svscan),
    ("my_init", Tool::Svscan),
    ("supervise", Tool::Supervise),
    ("runsv", Tool::Supervise),
    ("sv", Tool::Sv),
    ("svlog", Tool::Svlog),
    ("svlogd", Tool::Svlog),
    ("chpst", Tool::Chpst),
    ("envdir", Tool::Chpst),
    ("envuidgid", Tool::Chpst),
    ("setuidgid", Tool::Chpst),
    ("pgrphack", Tool::Chpst),
    ("softlimit", Tool::Chpst),
    ("setlock", Tool::Chpst),
    ("setuser", Tool::Chpst),
];

/// The dispatcher's own name.
pub const HERD: &str = "herd";

/// The tool a name (argv[0]'s basename) is, if herd knows the name: one of [`NAMES`], `herd`, or
/// one of runit's chpst forms with the leading `d` chpst drops (`dsetlock`, `dchpst`).
pub fn known(name: &[u8]) -> Option<Tool> {
    if name == HERD.as_bytes() {
        return Some(Tool::Herd);
    }
    let find = |n: &[u8]| {
        NAMES
            .iter()
            .find(|(known, _)| known.as_bytes() == n)
            .map(|&(_, tool)| tool)
    };
    find(name).or_else(|| {
        name.strip_prefix(b"d")
            .and_then(find)
            .filter(|&t| t == Tool::Chpst)
    })
}

/// The tool argv[0]'s basename `name` runs: a known name's tool, else sv in its LSB mode.
pub fn tool_of(name: &[u8]) -> Tool {
    known(name).unwrap_or(Tool::Sv)
}

/// argv[0]'s basename (what follows the last `/`).
pub fn basename(arg0: &[u8]) -> &[u8] {
    arg0.rsplit(|&b| b == b'/').next().unwrap_or(arg0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_its_tool() {
        let got: Vec<(&str, Tool)> = NAMES
            .iter()
            .map(|&(n, _)| (n, tool_of(n.as_bytes())))
            .collect();
        assert_eq!(got, NAMES.to_vec());
        assert_eq!(tool_of(b"herd"), Tool::Herd);
        for n in ["svscan", "runsvdir", "my_init"] {
            assert_eq!(tool_of(n.as_bytes()), Tool::Svscan, "{n}");
        }
        for n in ["supervise", "runsv"] {
            assert_eq!(tool_of(n.as_bytes()), Tool::Supervise, "{n}");
        }
        for n in ["svlog", "svlogd"] {
            assert_eq!(tool_of(n.as_bytes()), Tool::Svlog, "{n}");
        }
        let chpst = [
            "chpst",
            "envdir",
            "envuidgid",
            "setuidgid",
            "pgrphack",
            "softlimit",
            "setlock",
            "setuser",
        ];
        for n in chpst {
            assert_eq!(tool_of(n.as_bytes()), Tool::Chpst, "{n}");
        }
        assert_eq!(tool_of(b"sv"), Tool::Sv);
    }

    #[test]
    fn chpst_drops_one_leading_d() {
        assert_eq!(known(b"dchpst"), Some(Tool::Chpst));
        assert_eq!(known(b"dsetlock"), Some(Tool::Chpst));
        assert_eq!(known(b"denvdir"), Some(Tool::Chpst));
        // chpst drops it from every name, phusion's setuser too; only chpst's, and only one.
        assert_eq!(known(b"dsetuser"), Some(Tool::Chpst));
        assert_eq!(known(b"ddchpst"), None);
        assert_eq!(known(b"dsv"), None);
        assert_eq!(known(b"dsvscan"), None);
    }

    #[test]
    fn any_other_name_is_sv_in_lsb_mode() {
        for n in [
            &b"web"[..],
            b"",
            b"Sv",
            b"sv ",
            b"herd2",
            b"nginx",
            b"\xff",
            b"-",
        ] {
            assert_eq!(known(n), None, "{n:?}");
            assert_eq!(tool_of(n), Tool::Sv, "{n:?}");
        }
    }

    #[test]
    fn basenames() {
        assert_eq!(basename(b"/usr/bin/svscan"), b"svscan");
        assert_eq!(basename(b"svscan"), b"svscan");
        assert_eq!(basename(b"/etc/init.d/web"), b"web");
        assert_eq!(basename(b"dir/"), b"");
        assert_eq!(basename(b""), b"");
    }
}
