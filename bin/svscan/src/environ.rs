//! The container environment as svscan keeps it (docs/container-environment.md): imported and
//! exported at start, re-imported after each start-up script. A directory moved by
//! `SVSCAN_ENV_DIR` under my_init is made if missing, and the image's own directory is read
//! under it (docs/svscan.md, "Files").

use herd_contenv::{ContainerEnv, Failure};
use herd_diag::Diag;

use crate::config::Config;

/// The configured directory, and the image's under a moved one.
pub struct Environ {
    dir: ContainerEnv,
    defaults: Option<ContainerEnv>,
}

impl Environ {
    /// `None` when no container environment is configured.
    pub fn new(config: &Config) -> Option<Environ> {
        Some(Environ {
            dir: ContainerEnv::new(config.env_dir.clone()?),
            defaults: config.env_defaults.clone().map(ContainerEnv::new),
        })
    }

    /// At start (`initial`) the directory's files are imported (variables already set win),
    /// then those of the image's directory under a moved one (which is made first if missing),
    /// and everything is written back to the (moved) directory; after a start-up script the
    /// directory's view replaces the environment and `.sh`/`.json` are rewritten. Files that
    /// cannot be variables (`=` in the name, NUL in the value) get a warning. `false` after a
    /// fatal message: a file could not be read or written.
    pub fn sync(&self, initial: bool, diag: &Diag) -> bool {
        match self.import(initial).and_then(|skipped| {
            self.dir.export_process_env(initial)?;
            Ok(skipped)
        }) {
            Ok(skipped) => {
                for n in skipped {
                    diag.warn(&format_args!(
                        "unable to set {} from the container environment: invalid name or value",
                        n.to_string_lossy()
                    ));
                }
                true
            }
            Err(f) => {
                diag.fatal(&f);
                false
            }
        }
    }

    fn import(&self, initial: bool) -> Result<Vec<std::ffi::OsString>, Failure> {
        if !initial {
            return self.dir.import_replace();
        }
        let Some(defaults) = &self.defaults else {
            return self.dir.import_initial();
        };
        self.dir.create()?;
        let mut skipped = self.dir.import_initial()?;
        skipped.extend(defaults.import_initial()?);
        Ok(skipped)
    }
}
