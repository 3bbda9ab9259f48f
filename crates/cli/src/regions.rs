//! `dbcloud regions …`.

use crate::client::{Client, with_query};
use crate::error::Result;
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
            let v = c.get(&with_query("/v1/regions", &[("provider", provider)])).await?;
            let items = match v {
                Value::Array(a) => a,
                Value::Object(ref o) if o.contains_key("items") => o["items"].as_array().cloned().unwrap_or_default(),
                other => vec![other],
            };
            output::print_list(out, &items, &[("Provider", &field("provider")), ("Name", &field("name")), ("Location", &field("location"))])
        }
    }
}
