//! `dbcloud roles …`: role grants.

use crate::client::{Client, with_query};
use crate::error::Result;
use crate::output::{self, Format, field};
use clap::Subcommand;
use serde_json::{Value, json};

/// Role grant commands.
#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Grant a role to a principal.
    #[command(
        after_help = "Example:\n  dbcloud roles grant --principal-type service_account --principal-id 0190… --role projectViewer --scope-type project --scope-id 0190…"
    )]
    Grant {
        /// user, service_account or api_key.
        #[arg(long)]
        principal_type: String,
        /// The principal's id (access key id for api_key).
        #[arg(long)]
        principal_id: String,
        /// Role name.
        #[arg(long)]
        role: String,
        /// Scope type: organization, project or cluster (default organization).
        #[arg(long)]
        scope_type: Option<String>,
        /// Project or cluster id of the scope.
        #[arg(long)]
        scope_id: Option<String>,
    },
    /// Revoke a grant by its id.
    #[command(after_help = "Example:\n  dbcloud roles revoke 0190…")]
    Revoke {
        /// Grant id.
        id: String,
    },
    /// List grants.
    #[command(after_help = "Example:\n  dbcloud roles list --principal-type api_key --principal-id dbc_abc")]
    List {
        /// Only this principal type.
        #[arg(long)]
        principal_type: Option<String>,
        /// Only this principal id.
        #[arg(long)]
        principal_id: Option<String>,
    },
}

/// Runs a role grant command.
pub async fn run(c: &Client, out: Format, cmd: RolesCommand) -> Result<()> {
    match cmd {
        RolesCommand::Grant { principal_type, principal_id, role, scope_type, scope_id } => {
            let mut body = json!({"principal_type": principal_type, "principal_id": principal_id, "role": role});
            if scope_type.is_some() || scope_id.is_some() {
                body["scope"] = json!({"type": scope_type.unwrap_or_else(|| "organization".into()), "id": scope_id});
            }
            output::print_object(out, &c.post("/v1/role-grants", &body).await?)
        }
        RolesCommand::Revoke { id } => {
            let v = c.delete(&format!("/v1/role-grants/{id}")).await?;
            output::print_done(out, &format!("grant {id} revoked"), &v)
        }
        RolesCommand::List { principal_type, principal_id } => {
            let items = c.list_all(&with_query("/v1/role-grants", &[("principal_type", principal_type), ("principal_id", principal_id)])).await?;
            let scope = |v: &Value| match v["scope"]["id"].as_str() {
                Some(id) => format!("{} {id}", v["scope"]["type"].as_str().unwrap_or_default()),
                None => v["scope"]["type"].as_str().unwrap_or_default().to_string(),
            };
            output::print_list(
                out,
                &items,
                &[
                    ("ID", &field("id")),
                    ("Principal type", &field("principal_type")),
                    ("Principal", &field("principal_id")),
                    ("Role", &field("role")),
                    ("Scope", &scope),
                ],
            )
        }
    }
}
