//! The CLI's profile file, written by `dbcloud serve` at bootstrap and read by the CLI.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The bootstrap credentials file `<data-dir>/bootstrap-credentials.json`.
#[derive(Clone, Serialize, Deserialize)]
pub struct BootstrapCredentials {
    /// The organization created at bootstrap.
    pub organization_id: String,
    /// The owner key's access key id.
    pub access_key: String,
    /// The owner key's secret.
    pub secret: String,
    /// `Authorization: Bearer` token (`<access key>_<secret>`).
    pub bearer_token: String,
}

impl std::fmt::Debug for BootstrapCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapCredentials")
            .field("organization_id", &self.organization_id)
            .field("access_key", &self.access_key)
            .field("secret", &"<redacted>")
            .field("bearer_token", &"<redacted>")
            .finish()
    }
}

/// One named connection of the CLI.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Profile {
    /// Base URL of the server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// Access key id.
    pub access_key: String,
    /// Secret (the file is written with mode 0600).
    pub secret: String,
    /// Credential form: `bearer`, `hmac` or `basic`.
    #[serde(default = "default_auth")]
    pub auth: String,
}

fn default_auth() -> String {
    "bearer".into()
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("url", &self.url)
            .field("access_key", &self.access_key)
            .field("secret", &"<redacted>")
            .field("auth", &self.auth)
            .finish()
    }
}

/// The CLI configuration file (`config.toml` in the CLI's config directory).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientConfig {
    /// Name of the profile used when none is named.
    pub default_profile: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}
