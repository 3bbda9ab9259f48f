//! `dbcloud projects …`.

use crate::client::Client;
use crate::error::Result;
use crate::output::{self, Format, field};
use clap::Subcommand;
use serde_json::json;

/// Project commands.
#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// List the projects (Name, ID).
    #[command(after_help = "Example:\n  dbcloud projects list")]
    List,
    /// Show every field of a project (id or name).
    #[command(after_help = "Example:\n  dbcloud projects get shop")]
    Get {
        /// Project id or name.
        id: String,
    },
    /// Create a project.
    #[command(after_help = "Example:\n  dbcloud projects create --name shop --description 'web shop'")]
    Create {
        /// Name.
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete a project (it must have no clusters).
    #[command(after_help = "Example:\n  dbcloud projects delete shop")]
    Delete {
        /// Project id or name.
        id: String,
    },
}

/// Runs a project command.
pub async fn run(c: &Client, out: Format, cmd: ProjectsCommand) -> Result<()> {
    match cmd {
        ProjectsCommand::List => {
            let items = c.list_all("/v1/projects").await?;
            output::print_list(out, &items, &[("Name", &field("name")), ("ID", &field("id"))])
        }
        ProjectsCommand::Get { id } => {
            let id = crate::resolve(c, "/v1/projects", "project", &id).await?;
            output::print_object(out, &c.get(&format!("/v1/projects/{id}")).await?)
        }
        ProjectsCommand::Create { name, description } => {
            output::print_object(out, &c.post("/v1/projects", &json!({"name": name, "description": description})).await?)
        }
        ProjectsCommand::Delete { id } => {
            let id = crate::resolve(c, "/v1/projects", "project", &id).await?;
            let v = c.delete(&format!("/v1/projects/{id}")).await?;
            output::print_done(out, &format!("project {id} deleted"), &if v.is_null() { json!({"id": id, "deleted": true}) } else { v })
        }
    }
}
