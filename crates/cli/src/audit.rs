//! `dbcloud audit …`.

use crate::client::{Client, encode, with_query};
use crate::error::Result;
use crate::output::{self, Format, field};
use clap::Subcommand;
use serde_json::Value;

/// Audit commands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, newest first.
    #[command(after_help = "Example:\n  dbcloud audit list --action apikey. --since 2026-01-01T00:00:00Z --limit 50")]
    List {
        /// Only events at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Only events before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Only this actor (key id).
        #[arg(long)]
        actor: Option<String>,
        /// Only actions starting with this prefix.
        #[arg(long)]
        action: Option<String>,
        /// Events to show.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

/// Runs an audit command.
pub async fn run(c: &Client, out: Format, cmd: AuditCommand) -> Result<()> {
    match cmd {
        AuditCommand::List { since, until, actor, action, limit } => {
            let path = with_query("/v1/audit-events", &[("since", since), ("until", until), ("actor", actor), ("action", action)]);
            let sep = if path.contains('?') { '&' } else { '?' };
            let mut items: Vec<Value> = vec![];
            let mut cursor: Option<String> = None;
            while items.len() < limit as usize {
                let want = (limit as usize - items.len()).min(500);
                let url = match &cursor {
                    Some(cur) => format!("{path}{sep}limit={want}&cursor={}", encode(cur)),
                    None => format!("{path}{sep}limit={want}"),
                };
                let page = c.get(&url).await?;
                items.extend(page["items"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(cur) if !cur.is_empty() => cursor = Some(cur.to_string()),
                    _ => break,
                }
            }
            items.truncate(limit as usize);
            output::print_list(
                out,
                &items,
                &[
                    ("Time", &field("time")),
                    ("Actor", &field("actor")),
                    ("Action", &field("action")),
                    ("Target", &field("target")),
                    ("Outcome", &field("outcome")),
                    ("Request id", &field("request_id")),
                ],
            )
        }
    }
}
