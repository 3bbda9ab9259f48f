//! `dbcloud api-keys …`.

use crate::client::Client;
use crate::error::{CliError, Result};
use crate::output::{self, Format, field};
use clap::Subcommand;
use serde_json::json;

/// API key commands.
#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key; its secret is shown once.
    #[command(after_help = "Example:\n  dbcloud api-keys create --name ci --org-role organizationMember --allowed-cidr 10.0.0.0/8 --expiry 30")]
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Expiry in days (absent: never).
        #[arg(long)]
        expiry: Option<f64>,
        /// Organization role (repeatable), e.g. organizationOwner, organizationMember.
        #[arg(long = "org-role")]
        org_roles: Vec<String>,
        /// CIDR allowed to use the key (repeatable).
        #[arg(long = "allowed-cidr")]
        allowed_cidrs: Vec<String>,
        /// Create the key for this service account (it inherits its grants).
        #[arg(long)]
        service_account: Option<String>,
        /// Requests per second.
        #[arg(long)]
        rate_limit: Option<i64>,
    },
    /// List the keys (never their secrets).
    #[command(after_help = "Example:\n  dbcloud api-keys list")]
    List,
    /// Show a key.
    #[command(after_help = "Example:\n  dbcloud api-keys get dbc_abc")]
    Get {
        /// Access key id.
        id: String,
    },
    /// Rename or describe a key.
    #[command(after_help = "Example:\n  dbcloud api-keys rename dbc_abc --name deploy")]
    Rename {
        /// Access key id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Rotate a key's secret; the new secret is shown once.
    #[command(after_help = "Example:\n  dbcloud api-keys rotate dbc_abc --grace-period 3600")]
    Rotate {
        /// Access key id.
        id: String,
        /// Seconds the old secret keeps working.
        #[arg(long, default_value_t = 0)]
        grace_period: i64,
    },
    /// Revoke a key.
    #[command(after_help = "Example:\n  dbcloud api-keys revoke dbc_abc")]
    Revoke {
        /// Access key id.
        id: String,
    },
}

/// Runs an API key command.
pub async fn run(c: &Client, out: Format, cmd: ApiKeysCommand) -> Result<()> {
    match cmd {
        ApiKeysCommand::Create { name, description, expiry, org_roles, allowed_cidrs, service_account, rate_limit } => {
            let mut body = json!({"name": name, "description": description, "allowed_cidrs": allowed_cidrs});
            if let Some(e) = expiry {
                body["expiry"] = json!(e);
            }
            if !org_roles.is_empty() {
                body["organization_roles"] = json!(org_roles);
            }
            if let Some(s) = service_account {
                body["service_account_id"] = json!(s);
            }
            if let Some(r) = rate_limit {
                body["rate_limit"] = json!(r);
            }
            let v = c.post("/v1/api-keys", &body).await?;
            if out == Format::Table {
                eprintln!("note: the secret is shown only now");
            }
            output::print_object(out, &v)
        }
        ApiKeysCommand::List => {
            let items = c.list_all("/v1/api-keys").await?;
            output::print_list(
                out,
                &items,
                &[
                    ("Name", &field("name")),
                    ("ID", &field("id")),
                    ("State", &field("state")),
                    ("Expires", &field("expires_at")),
                    ("Last used", &field("last_used_at")),
                ],
            )
        }
        ApiKeysCommand::Get { id } => output::print_object(out, &c.get(&format!("/v1/api-keys/{id}")).await?),
        ApiKeysCommand::Rename { id, name, description } => {
            if name.is_none() && description.is_none() {
                return Err(CliError::Usage("nothing to change: give --name or --description".into()));
            }
            output::print_object(out, &c.patch(&format!("/v1/api-keys/{id}"), &json!({"name": name, "description": description})).await?)
        }
        ApiKeysCommand::Rotate { id, grace_period } => {
            let v = c.post(&format!("/v1/api-keys/{id}/rotate"), &json!({"grace_period_seconds": grace_period})).await?;
            if out == Format::Table {
                eprintln!("note: the new secret is shown only now");
            }
            output::print_object(out, &v)
        }
        ApiKeysCommand::Revoke { id } => {
            let v = c.delete(&format!("/v1/api-keys/{id}")).await?;
            output::print_done(out, &format!("key {id} revoked"), &v)
        }
    }
}
