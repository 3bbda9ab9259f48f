//! The CLI configuration file (`ClientConfig` as TOML), its location and private writes.

use crate::error::{CliError, Result};
use dbcloud_types::profile::ClientConfig;
use std::path::{Path, PathBuf};

/// The configuration directory: `$DBCLOUD_CONFIG_DIR`, else `<user config dir>/dbcloud`.
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("DBCLOUD_CONFIG_DIR").filter(|v| !v.is_empty()).map(PathBuf::from).or_else(|| {
        std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .map(|d| d.join("dbcloud"))
    })
}

/// The configuration file path.
pub fn config_path() -> Result<PathBuf> {
    config_dir().map(|d| d.join("config.toml")).ok_or_else(|| CliError::Usage("cannot locate the configuration directory; set DBCLOUD_CONFIG_DIR".into()))
}

/// Loads the configuration; a missing file is an empty configuration.
pub fn load(path: &Path) -> Result<ClientConfig> {
    match std::fs::read_to_string(path) {
        Ok(s) => toml::from_str(&s).map_err(|e| CliError::Usage(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ClientConfig::default()),
        Err(e) => Err(CliError::Usage(format!("reading {}: {e}", path.display()))),
    }
}

/// Writes the configuration with mode 0600 (via a temporary file and a rename).
pub fn save(path: &Path, cfg: &ClientConfig) -> Result<()> {
    let text = toml::to_string_pretty(cfg).map_err(|e| CliError::Usage(format!("serializing the configuration: {e}")))?;
    let err = |e: std::io::Error| CliError::Usage(format!("writing {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("toml.tmp");
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        }
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}
