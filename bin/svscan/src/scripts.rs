//! Script directories (start-up, pre-shutdown, post-shutdown): which scripts to run, in order.
//! Running them is the shell's job; this only lists and hands them out one at a time.

use std::collections::VecDeque;
use std::path::PathBuf;

use herd_sys::is_executable;

/// The scripts of `sources`, in order: for a directory, every executable in it in byte order of
/// the names; for a file, the file if it is executable. What is missing is skipped.
pub fn list(sources: &[PathBuf]) -> VecDeque<PathBuf> {
    let mut out = VecDeque::new();
    for src in sources {
        if src.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(src)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            names.sort();
            out.extend(
                names
                    .into_iter()
                    .map(|n| src.join(n))
                    .filter(|p| is_executable(p)),
            );
        } else if is_executable(src) {
            out.push_back(src.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn order_and_filter() {
        let d = std::env::temp_dir().join(format!("herd-scripts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("init/sub")).unwrap();
        for (name, mode) in [
            ("20_b", 0o755),
            ("10_a", 0o700),
            ("15_off", 0o644),
            ("B", 0o755),
        ] {
            let p = d.join("init").join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let rc = d.join("rc.local");
        std::fs::write(&rc, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o755)).unwrap();
        let got: Vec<PathBuf> = list(&[d.join("init"), rc.clone(), d.join("missing")]).into();
        assert_eq!(
            got,
            vec![
                d.join("init/10_a"),
                d.join("init/20_b"),
                d.join("init/B"),
                rc.clone()
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
