//! `dbcloud service-accounts …`.

use crate::client::Client;
use crate::error::Result;
use crate::output::{self, Format, field};
use clap::Subcommand;
use serde_json::{Value, json};

/// Service account commands.
#[derive(Debug, Subcommand)]
pub enum ServiceAccountsCommand {
    /// List the service accounts.
    #[command(after_help = "Example:\n  dbcloud service-accounts list")]
    List,
    /// Create a service account.
    #[command(after_help = "Example:\n  dbcloud service-accounts create --name deployer --role READ")]
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Organization-wide role (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Delete a service account (id or name).
    #[command(after_help = "Example:\n  dbcloud service-accounts delete deployer")]
    Delete {
        /// Id or name.
        id: String,
    },
}

/// Runs a service account command.
pub async fn run(c: &Client, out: Format, cmd: ServiceAccountsCommand) -> Result<()> {
    match cmd {
        ServiceAccountsCommand::List => {
            let items = c.list_all("/v1/service-accounts").await?;
            let roles =
                |v: &Value| v["roles"].as_array().map(|a| a.iter().filter_map(|g| g["role"].as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default();
            output::print_list(out, &items, &[("Name", &field("name")), ("ID", &field("id")), ("Roles", &roles), ("Description", &field("description"))])
        }
        ServiceAccountsCommand::Create { name, description, roles } => {
            output::print_object(out, &c.post("/v1/service-accounts", &json!({"name": name, "description": description, "roles": roles})).await?)
        }
        ServiceAccountsCommand::Delete { id } => {
            let id = crate::resolve(c, "/v1/service-accounts", "service account", &id).await?;
            let v = c.delete(&format!("/v1/service-accounts/{id}")).await?;
            output::print_done(out, &format!("service account {id} deleted"), &if v.is_null() { json!({"id": id, "deleted": true}) } else { v })
        }
    }
}
