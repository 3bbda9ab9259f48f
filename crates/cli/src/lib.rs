#![forbid(unsafe_code)]
//! The `dbcloud` command-line client: one module per resource of the native API.
//!
//! The binary crate flattens [`GlobalArgs`] and [`Command`] into its own parser and calls
//! [`run`], which returns the process exit code (see [`error`]).

pub mod api_keys;
pub mod audit;
pub mod client;
pub mod clouds;
pub mod cluster_view;
pub mod clusters;
pub mod config;
pub mod connect;
pub mod error;
pub mod output;
pub mod profile;
pub mod projects;
pub mod raw;
pub mod regions;
pub mod roles;
pub mod service_accounts;

use clap::{Args, Subcommand};
use client::{AuthMode, Client};
use error::{CliError, Result};
use output::Format;

/// Connection and output flags shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Profile of the configuration file to use (default: the file's default profile).
    #[arg(long, global = true, env = "DBCLOUD_PROFILE")]
    pub profile: Option<String>,
    /// Server URL, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, env = "DBCLOUD_URL")]
    pub url: Option<String>,
    /// Access key id.
    #[arg(long, global = true, env = "DBCLOUD_ACCESS_KEY")]
    pub access_key: Option<String>,
    /// Secret of the access key. Prefer the environment variable DBCLOUD_SECRET or a
    /// profile: a flag is visible to other users of the machine.
    #[arg(long, global = true)]
    pub secret: Option<String>,
    /// Credential form (default: the profile's, else bearer).
    #[arg(long, global = true, value_enum)]
    pub auth: Option<AuthMode>,
    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

impl GlobalArgs {
    /// The secret from `--secret` (warning on stderr) or `DBCLOUD_SECRET`.
    pub fn secret_value(&self) -> Option<String> {
        if let Some(s) = &self.secret {
            return Some(s.clone());
        }
        std::env::var("DBCLOUD_SECRET").ok().filter(|s| !s.is_empty())
    }

    /// Prints the warning about a secret given on the command line.
    fn warn_plain_secret(&self) {
        if self.secret.is_some() {
            eprintln!("warning: --secret on the command line is visible to other users; prefer DBCLOUD_SECRET or a profile");
        }
    }
}

/// Client commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage connection profiles (config.toml).
    #[command(subcommand, after_help = "Example:\n  dbcloud profile add prod --url https://dbcloud.example.com --access-key dbc_…\n  dbcloud profile use prod")]
    Profile(profile::ProfileCommand),
    /// Cloud connections clusters are deployed into.
    #[command(subcommand, after_help = "Example:\n  dbcloud clouds list\n  dbcloud clouds create --name aws-east --provider aws --region us-east-1")]
    Clouds(clouds::CloudsCommand),
    /// Projects (groups of clusters).
    #[command(subcommand, after_help = "Example:\n  dbcloud projects create --name shop --description 'web shop'")]
    Projects(projects::ProjectsCommand),
    /// Database clusters, their buckets, users, allow list and operations.
    #[command(
        subcommand,
        after_help = "Example:\n  dbcloud clusters create --name orders --provider aws --region us-east-1 --wait\n  dbcloud clusters list --output json"
    )]
    Clusters(clusters::ClustersCommand),
    /// The region catalogue.
    #[command(subcommand, after_help = "Example:\n  dbcloud regions list --provider aws")]
    Regions(regions::RegionsCommand),
    /// API keys.
    #[command(subcommand, name = "api-keys", after_help = "Example:\n  dbcloud api-keys create --name ci --org-role organizationMember")]
    ApiKeys(api_keys::ApiKeysCommand),
    /// Service accounts.
    #[command(subcommand, name = "service-accounts", after_help = "Example:\n  dbcloud service-accounts create --name deployer --role READ")]
    ServiceAccounts(service_accounts::ServiceAccountsCommand),
    /// Role grants.
    #[command(subcommand, after_help = "Example:\n  dbcloud roles list --principal-type api_key")]
    Roles(roles::RolesCommand),
    /// The audit log.
    #[command(subcommand, after_help = "Example:\n  dbcloud audit list --action cluster. --limit 20")]
    Audit(audit::AuditCommand),
    /// Send a raw request and print the JSON response.
    #[command(after_help = "Example:\n  dbcloud api GET /v1/organization\n  echo '{\"name\":\"x\"}' | dbcloud api POST /v1/projects -")]
    Api(raw::ApiArgs),
    /// Print a shell completion script.
    #[command(after_help = "Example:\n  dbcloud completions bash > /etc/bash_completion.d/dbcloud\n  dbcloud completions zsh > \"${fpath[1]}/_dbcloud\"")]
    Completions {
        /// Shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs a client command; `root` builds the whole command tree (for completions).
/// Returns the process exit code; errors are printed as one line on stderr.
pub async fn run(global: GlobalArgs, command: Command, root: impl FnOnce() -> clap::Command) -> u8 {
    global.warn_plain_secret();
    match dispatch(&global, command, root).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

async fn dispatch(g: &GlobalArgs, command: Command, root: impl FnOnce() -> clap::Command) -> Result<()> {
    let client = || Client::from_args(g);
    match command {
        Command::Profile(c) => profile::run(g, c),
        Command::Completions { shell } => {
            let mut cmd = root();
            let name = cmd.get_name().to_string();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, name, &mut buf);
            output::emit(&String::from_utf8_lossy(&buf));
            Ok(())
        }
        Command::Clouds(c) => clouds::run(&client()?, g.output, c).await,
        Command::Projects(c) => projects::run(&client()?, g.output, c).await,
        Command::Clusters(c) => clusters::run(&client()?, g.output, c).await,
        Command::Regions(c) => regions::run(&client()?, g.output, c).await,
        Command::ApiKeys(c) => api_keys::run(&client()?, g.output, c).await,
        Command::ServiceAccounts(c) => service_accounts::run(&client()?, g.output, c).await,
        Command::Roles(c) => roles::run(&client()?, g.output, c).await,
        Command::Audit(c) => audit::run(&client()?, g.output, c).await,
        Command::Api(a) => raw::run(&client()?, a).await,
    }
}

/// Whether a string is a UUID (an id rather than a name).
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// Resolves an id or a name among the items of a list endpoint.
pub async fn resolve(client: &Client, list_path: &str, what: &str, id_or_name: &str) -> Result<String> {
    if is_uuid(id_or_name) {
        return Ok(id_or_name.to_string());
    }
    let items = client.list_all(list_path).await?;
    items
        .iter()
        .find(|i| i.get("name").and_then(|n| n.as_str()) == Some(id_or_name))
        .and_then(|i| i.get("id").and_then(|v| v.as_str()).map(str::to_string))
        .ok_or_else(|| CliError::not_found(format!("no {what} named `{id_or_name}`")))
}
