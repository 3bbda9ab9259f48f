//! `dbcloud clouds …`.

use crate::client::Client;
use crate::error::Result;
use crate::output::{self, Format, field};
use clap::Subcommand;
use serde_json::json;

/// Cloud commands.
#[derive(Debug, Subcommand)]
pub enum CloudsCommand {
    /// List the clouds (Name, ID, Provider, Region).
    #[command(after_help = "Example:\n  dbcloud clouds list --output json")]
    List,
    /// Show every field of a cloud (id or name).
    #[command(after_help = "Example:\n  dbcloud clouds get aws-east")]
    Get {
        /// Cloud id or name.
        id: String,
    },
    /// Create a cloud.
    #[command(after_help = "Example:\n  dbcloud clouds create --name aws-east --provider aws --region us-east-1 --cidr 10.10.0.0/16")]
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Provider: aws, gcp or azure.
        #[arg(long)]
        provider: String,
        /// Region (see `dbcloud regions list`).
        #[arg(long)]
        region: String,
        /// Virtual network CIDR (default 10.0.0.0/16).
        #[arg(long)]
        cidr: Option<String>,
    },
    /// Delete a cloud (it must have no clusters).
    #[command(after_help = "Example:\n  dbcloud clouds delete aws-east")]
    Delete {
        /// Cloud id or name.
        id: String,
    },
}

/// Runs a cloud command.
pub async fn run(c: &Client, out: Format, cmd: CloudsCommand) -> Result<()> {
    match cmd {
        CloudsCommand::List => {
            let items = c.list_all("/v1/clouds").await?;
            output::print_list(out, &items, &[("Name", &field("name")), ("ID", &field("id")), ("Provider", &field("provider")), ("Region", &field("region"))])
        }
        CloudsCommand::Get { id } => {
            let id = crate::resolve(c, "/v1/clouds", "cloud", &id).await?;
            output::print_object(out, &c.get(&format!("/v1/clouds/{id}")).await?)
        }
        CloudsCommand::Create { name, provider, region, cidr } => {
            let mut body = json!({"name": name, "provider": provider, "region": region});
            if let Some(cidr) = cidr {
                body["virtual_network_cidr"] = json!(cidr);
            }
            output::print_object(out, &c.post("/v1/clouds", &body).await?)
        }
        CloudsCommand::Delete { id } => {
            let id = crate::resolve(c, "/v1/clouds", "cloud", &id).await?;
            let v = c.delete(&format!("/v1/clouds/{id}")).await?;
            output::print_done(out, &format!("cloud {id} deleted"), &if v.is_null() { json!({"id": id, "deleted": true}) } else { v })
        }
    }
}
