//! `dbcloud regions …`.

use crate::client::{Client, with_query};
use crate::error::{CliError, Result};
use crate::output::{self, Format, field};
use clap::Subcommand;
use serde_json::Value;

/// Region commands.
#[derive(Debug, Subcommand)]
pub enum RegionsCommand {
    /// List the region catalogue.
    #[command(after_help = "Example:\n  dbcloud regions list --provider gcp")]
    List {
        /// Only this provider (aws, gcp, azure).
        #[arg(long)]
        provider: Option<String>,
    },
}

/// Runs a region command.
pub async fn run(c: &Client, out: Format, cmd: RegionsCommand) -> Result<()> {
    match cmd {
        RegionsCommand::List { provider } => {
            // The catalogue is one page (`next_cursor` is always null).
            let page = c.get(&with_query("/v1/regions", &[("provider", provider)])).await?;
            let items =
                page.get("items").and_then(Value::as_array).cloned().ok_or_else(|| CliError::Network("the server answered a list without `items`".into()))?;
            output::print_list(out, &items, &[("Provider", &field("provider")), ("Name", &field("name")), ("Location", &field("location"))])
        }
    }
}
