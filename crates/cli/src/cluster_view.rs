//! How one cluster reads in a terminal (`clusters get`), and waiting for a change to finish
//! (`clusters update --wait`).

use crate::client::Client;
use crate::error::{CliError, Result};
use crate::output::{self, Format, cell};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Fields shown first, in this order; every other field follows in the API's order.
const FIRST: [&str; 10] = ["name", "id", "state", "project_id", "cloud_id", "provider", "region", "plan", "version", "node_count"];

/// The rows of `clusters get`: name, id and state first; the project and the cloud by name
/// beside their ids (looked up; the bare id when the caller may not read them).
pub async fn rows(c: &Client, cluster: &Value) -> Vec<(String, String)> {
    let name_of = |path: String| async move { c.get(&path).await.ok().and_then(|v| v["name"].as_str().map(str::to_string)) };
    let project = match cluster["project_id"].as_str() {
        Some(id) => name_of(format!("/v1/projects/{id}")).await,
        None => None,
    };
    let cloud = match cluster["cloud_id"].as_str() {
        Some(id) => name_of(format!("/v1/clouds/{id}")).await,
        None => None,
    };
    let labelled = |name: Option<String>, id: &Value| match name {
        Some(n) => format!("{n} ({})", cell(id)),
        None => cell(id),
    };
    let mut rows = vec![];
    for key in FIRST {
        let v = &cluster[key];
        if v.is_null() && !matches!(key, "name" | "id" | "state") {
            continue;
        }
        let (label, text) = match key {
            "project_id" => ("project".to_string(), labelled(project.clone(), v)),
            "cloud_id" => ("cloud".to_string(), labelled(cloud.clone(), v)),
            _ => (key.to_string(), cell(v)),
        };
        rows.push((label, text));
    }
    if let Some(map) = cluster.as_object() {
        rows.extend(map.iter().filter(|(k, _)| !FIRST.contains(&k.as_str())).map(|(k, v)| (k.clone(), cell(v))));
    }
    rows
}

/// Prints a cluster: ordered rows in table mode, the API's object otherwise.
pub async fn print(c: &Client, out: Format, cluster: &Value) -> Result<()> {
    if out != Format::Table {
        return output::print_data(out, cluster);
    }
    output::print_rows(&rows(c, cluster).await);
    Ok(())
}

/// Waits for operation `op` to end; `SUCCEEDED` is Ok, `FAILED` or `CANCELLED` an error.
pub async fn wait_operation(c: &Client, op: &str, timeout: u64) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    loop {
        let v = c.get(&format!("/v1/operations/{op}")).await?;
        match v["status"].as_str().unwrap_or_default() {
            "SUCCEEDED" => return Ok(v),
            s @ ("FAILED" | "CANCELLED") => {
                let why = v["error"].as_str().or(v["failure_reason"].as_str()).unwrap_or("no reason given");
                return Err(CliError::Api { status: 409, message: format!("operation {op} ended {s}: {why}"), request_id: None });
            }
            s => {
                if Instant::now() >= deadline {
                    return Err(CliError::Timeout(format!("timed out after {timeout} s waiting for operation {op} (now {s})")));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250).min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}
