//! `dbcloud profile …`: named connections in the configuration file (mode 0600).

use crate::GlobalArgs;
use crate::client::AuthMode;
use crate::config;
use crate::error::{CliError, Result};
use crate::output;
use clap::Subcommand;
use dbcloud_types::profile::Profile;
use serde_json::{Value, json};
use std::io::IsTerminal;

/// Profile commands. `add` takes the global `--url`, `--access-key`, `--secret` and `--auth`.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Add or replace a profile (the secret is prompted for when not given and the terminal is interactive).
    #[command(after_help = "Example:\n  dbcloud profile add prod --url https://dbcloud.example.com --access-key dbc_abc --auth hmac")]
    Add {
        /// Profile name.
        name: String,
    },
    /// Make a profile the default.
    #[command(after_help = "Example:\n  dbcloud profile use prod")]
    Use {
        /// Profile name.
        name: String,
    },
    /// List the profiles.
    #[command(after_help = "Example:\n  dbcloud profile list")]
    List,
    /// Show a profile (never its secret); the default profile when no name is given.
    #[command(after_help = "Example:\n  dbcloud profile show local")]
    Show {
        /// Profile name.
        name: Option<String>,
    },
}

fn public(name: &str, p: &Profile, default: bool) -> Value {
    json!({"name": name, "url": p.url, "access_key": p.access_key, "auth": p.auth, "default": default, "has_secret": !p.secret.is_empty()})
}

/// Runs a profile command.
pub fn run(g: &GlobalArgs, cmd: ProfileCommand) -> Result<()> {
    let path = config::config_path()?;
    let mut cfg = config::load(&path)?;
    match cmd {
        ProfileCommand::Add { name } => {
            let url = g.url.clone().ok_or_else(|| CliError::Usage("profile add needs --url".into()))?;
            let access_key = g.access_key.clone().ok_or_else(|| CliError::Usage("profile add needs --access-key".into()))?;
            let secret = match g.secret_value() {
                Some(s) => s,
                None if std::io::stdin().is_terminal() => {
                    rpassword::prompt_password(format!("Secret for {access_key}: ")).map_err(|e| CliError::Usage(format!("reading the secret: {e}")))?
                }
                None => return Err(CliError::Usage("no secret: give DBCLOUD_SECRET or --secret, or run interactively to be prompted".into())),
            };
            if secret.trim().is_empty() {
                return Err(CliError::Usage("the secret is empty".into()));
            }
            let auth = g.auth.unwrap_or(AuthMode::Bearer).as_str().to_string();
            cfg.profiles.insert(name.clone(), Profile { url, access_key, secret: secret.trim().to_string(), auth });
            if cfg.default_profile.is_none() {
                cfg.default_profile = Some(name.clone());
            }
            config::save(&path, &cfg)?;
            let p = &cfg.profiles[&name];
            output::print_done(
                g.output,
                &format!("profile `{name}` saved to {}", path.display()),
                &public(&name, p, cfg.default_profile.as_deref() == Some(&name)),
            )
        }
        ProfileCommand::Use { name } => {
            if !cfg.profiles.contains_key(&name) {
                return Err(CliError::Usage(format!("no profile named `{name}`")));
            }
            cfg.default_profile = Some(name.clone());
            config::save(&path, &cfg)?;
            output::print_done(g.output, &format!("default profile is now `{name}`"), &json!({"default_profile": name}))
        }
        ProfileCommand::List => {
            let items: Vec<Value> = cfg.profiles.iter().map(|(n, p)| public(n, p, cfg.default_profile.as_deref() == Some(n.as_str()))).collect();
            let default = |v: &Value| {
                if v["default"] == json!(true) { "*".to_string() } else { String::new() }
            };
            output::print_list(
                g.output,
                &items,
                &[
                    ("Default", &default),
                    ("Name", &output::field("name")),
                    ("URL", &output::field("url")),
                    ("Access key", &output::field("access_key")),
                    ("Auth", &output::field("auth")),
                ],
            )
        }
        ProfileCommand::Show { name } => {
            let name = name
                .or_else(|| g.profile.clone())
                .or_else(|| cfg.default_profile.clone())
                .ok_or_else(|| CliError::Usage("no default profile; name one".into()))?;
            let p = cfg.profiles.get(&name).ok_or_else(|| CliError::Usage(format!("no profile named `{name}`")))?;
            output::print_object(g.output, &public(&name, p, cfg.default_profile.as_deref() == Some(name.as_str())))
        }
    }
}
