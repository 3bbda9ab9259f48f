//! `dbcloud api METHOD PATH [BODY|-]`: the raw escape hatch.

use crate::client::Client;
use crate::error::{CliError, Result};
use clap::Args;
use std::io::Read;

/// Arguments of `dbcloud api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// HTTP method (GET, POST, PATCH, PUT, DELETE).
    pub method: String,
    /// Path with optional query, e.g. /v1/clusters?limit=10.
    pub path: String,
    /// JSON body, or `-` to read it from stdin.
    pub body: Option<String>,
}

/// Sends the request and prints the JSON response (pretty).
pub async fn run(c: &Client, a: ApiArgs) -> Result<()> {
    let method =
        reqwest::Method::from_bytes(a.method.to_ascii_uppercase().as_bytes()).map_err(|_| CliError::Usage(format!("invalid method `{}`", a.method)))?;
    let path = if a.path.starts_with('/') { a.path } else { format!("/{}", a.path) };
    let body = match a.body.as_deref() {
        None => None,
        Some("-") => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| CliError::Usage(format!("reading stdin: {e}")))?;
            Some(s)
        }
        Some(s) => Some(s.to_string()),
    };
    let body = match body {
        Some(s) if !s.trim().is_empty() => Some(serde_json::from_str(&s).map_err(|e| CliError::Usage(format!("the body is not JSON: {e}")))?),
        _ => None,
    };
    let v = c.request(method, &path, body.as_ref()).await?;
    if !v.is_null() {
        crate::output::emit(&format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default()));
    }
    Ok(())
}
