//! First-start bootstrap: an organization, its owner key and its first console user (the
//! owner, with a one-time password), written once to
//! `<data-dir>/bootstrap-credentials.json` (mode 0600), plus a CLI profile.

use dbcloud_core::crypto::MasterKey;
use dbcloud_core::keys::NewKey;
use dbcloud_core::perms::{Grant, Role, Scope};
use dbcloud_store::{KeyOwner, NewApiKey, Store};
use dbcloud_types::profile::{BootstrapCredentials, ClientConfig, Profile};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the credentials file in the data directory.
pub const CREDENTIALS_FILE: &str = "bootstrap-credentials.json";

/// Writes `contents` to `path` with mode 0600 (created that way, never world-readable).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// E-mail address of the first console user (organizationOwner), created at bootstrap.
pub const OWNER_EMAIL: &str = "owner@dbcloud.local";

/// Requests per second of the bootstrap owner key (other keys default to 10).
pub const BOOTSTRAP_RATE_LIMIT: i64 = 100;

/// What bootstrap did.
#[derive(Debug)]
pub enum Outcome {
    /// The store was empty: credentials were created and written to this file.
    Created(PathBuf),
    /// The store already had an organization; nothing was written.
    AlreadyDone,
}

/// Creates the first organization, owner key and owner user if the store is empty, and
/// writes the credentials file: the key (`organization_id`, `access_key`, `secret`,
/// `bearer_token`) and the console sign-in (`console_email`, `console_password`). The
/// secrets are only ever in that file (and the profile).
pub async fn ensure(store: &dyn Store, data_dir: &Path, master: &MasterKey) -> anyhow::Result<(Outcome, Option<BootstrapCredentials>)> {
    let key = NewKey::generate();
    let new = NewApiKey {
        access_key: key.access_key.clone(),
        name: "bootstrap owner".into(),
        description: "Created at first start; owner of the organization.".into(),
        secret_hash: key.secret_hash.clone(),
        secret_enc: Some(master.seal(&key.access_key, &key.secret)),
        grants: vec![Grant { role: Role::OrganizationOwner, scope: Scope::Organization }],
        owner: KeyOwner::Key,
        allowed_cidrs: vec![],
        expires_at: None,
        // The operator's own key: scripts and the CLI use it back to back.
        rate_limit: Some(BOOTSTRAP_RATE_LIMIT),
    };
    let Some(org) = store.bootstrap("default", &new).await? else {
        return Ok((Outcome::AlreadyDone, None));
    };
    let creds = BootstrapCredentials {
        organization_id: org.to_string(),
        access_key: key.access_key.clone(),
        secret: key.secret.clone(),
        bearer_token: key.bearer_token(),
    };
    let (_, password) = dbcloud_app::sessions::create_owner(store, org, OWNER_EMAIL).await?;
    let mut file = serde_json::to_value(&creds)?;
    file["console_email"] = OWNER_EMAIL.into();
    file["console_password"] = password.into();
    let path = data_dir.join(CREDENTIALS_FILE);
    write_private(&path, serde_json::to_string_pretty(&file)?.as_bytes())?;
    Ok((Outcome::Created(path), Some(creds)))
}

/// Name of the master key file in the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Loads the master key: `DBCLOUD_MASTER_KEY` (base64), else the file named by
/// `DBCLOUD_MASTER_KEY_FILE`, else `<data-dir>/master.key`, generated (mode 0600) on first
/// start. Replicas sharing a PostgreSQL must be given the same key.
pub fn load_master_key(data_dir: &Path) -> anyhow::Result<MasterKey> {
    if let Ok(v) = std::env::var("DBCLOUD_MASTER_KEY") {
        return MasterKey::from_base64(&v).map_err(|e| anyhow::anyhow!("DBCLOUD_MASTER_KEY: {e}"));
    }
    let path = match std::env::var_os("DBCLOUD_MASTER_KEY_FILE") {
        Some(p) => PathBuf::from(p),
        None => data_dir.join(MASTER_KEY_FILE),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterKey::from_base64(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && std::env::var_os("DBCLOUD_MASTER_KEY_FILE").is_none() => {
            let (key, text) = MasterKey::generate();
            write_private(&path, text.as_bytes())?;
            tracing::info!(path = %path.display(), "generated a new master key");
            Ok(key)
        }
        Err(e) => Err(anyhow::anyhow!("reading the master key {}: {e}", path.display())),
    }
}

/// The CLI's configuration directory: `$DBCLOUD_CONFIG_DIR`, else `<config dir>/dbcloud`.
pub fn client_config_dir() -> Option<PathBuf> {
    std::env::var_os("DBCLOUD_CONFIG_DIR").map(PathBuf::from).or_else(|| dirs_config().map(|d| d.join("dbcloud")))
}

fn dirs_config() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
}

/// Where [`write_client_profile`] put the new server's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenProfile {
    /// The config file.
    pub path: PathBuf,
    /// The profile written: `name`, or `name-2`, `name-3`… when `name` already pointed at
    /// another server (other credentials), which is never overwritten.
    pub name: String,
    /// The URL of the existing profile `name` that was kept, when another name was used.
    pub kept: Option<String>,
    /// Whether the written profile is the default one.
    pub default: bool,
}

/// Adds profile `name` to the CLI config, and makes it the default when there is none. An
/// existing profile of that name that holds other credentials (another server or data
/// directory) is kept: the new one gets the first free `name-N` instead.
pub fn write_client_profile(dir: &Path, name: &str, url: &str, creds: &BootstrapCredentials) -> anyhow::Result<WrittenProfile> {
    let path = dir.join("config.toml");
    let mut cfg: ClientConfig = match std::fs::read_to_string(&path) {
        Ok(s) => toml::from_str(&s)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ClientConfig::default(),
        Err(e) => return Err(e.into()),
    };
    let ours = |p: &Profile| p.access_key == creds.access_key;
    let (chosen, kept) = match cfg.profiles.get(name) {
        Some(p) if !ours(p) => {
            let kept = Some(p.url.clone());
            let free = (2..).map(|n| format!("{name}-{n}")).find(|n| cfg.profiles.get(n).is_none_or(ours)).expect("an unused profile name");
            (free, kept)
        }
        _ => (name.to_string(), None),
    };
    cfg.profiles.insert(chosen.clone(), Profile { url: url.into(), access_key: creds.access_key.clone(), secret: creds.secret.clone(), auth: "bearer".into() });
    if cfg.default_profile.is_none() {
        cfg.default_profile = Some(chosen.clone());
    }
    write_private(&path, toml::to_string_pretty(&cfg)?.as_bytes())?;
    let default = cfg.default_profile.as_deref() == Some(chosen.as_str());
    Ok(WrittenProfile { path, name: chosen, kept, default })
}
