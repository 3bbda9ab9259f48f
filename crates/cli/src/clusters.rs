//! `dbcloud clusters …`: clusters and their buckets, database users, allow list and operations.

use crate::client::{Client, with_query};
use crate::error::{CliError, Result};
use crate::output::{self, Format, field};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

/// Cluster commands.
#[derive(Debug, Subcommand)]
pub enum ClustersCommand {
    /// List the clusters (Name, ID, State, Project, Cloud, Nodes, Buckets).
    #[command(after_help = "Example:\n  dbcloud clusters list --project shop --state CREATED")]
    List {
        /// Only this project (id or name).
        #[arg(long)]
        project: Option<String>,
        /// Only this cloud (id or name).
        #[arg(long)]
        cloud: Option<String>,
        /// Only this state (CREATING, CREATED, DELETED, …).
        #[arg(long)]
        state: Option<String>,
    },
    /// Show every field of a cluster (id or name): name, id, state first, then the project
    /// and cloud by name.
    #[command(after_help = "Example:\n  dbcloud clusters get orders")]
    Get {
        /// Cluster id or name.
        id: String,
    },
    /// Create a cluster in a cloud, or in a provider's region.
    #[command(
        after_help = "Example:\n  dbcloud clusters create --name orders --project shop --cloud aws-east --nodes 3 --wait\n  dbcloud clusters create --name dev --provider aws --region us-east-1"
    )]
    Create(CreateArgs),
    /// Connect to a `local` cluster with psql (TLS verify-full with the cluster CA), or print the URI.
    #[command(after_help = "Example:\n  dbcloud clusters connect app --user app --database orders\n  dbcloud clusters connect app --print")]
    Connect(crate::connect::ConnectArgs),
    /// Rename, scale or change the spend limit of a cluster.
    #[command(after_help = "Example:\n  dbcloud clusters update orders --nodes 5 --wait")]
    Update {
        /// Cluster id or name.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        /// New node count (dedicated).
        #[arg(long)]
        nodes: Option<i32>,
        /// New monthly spend limit in US cents (serverless).
        #[arg(long)]
        spend_limit: Option<i64>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Delete a cluster; asks to type its name unless --yes.
    #[command(after_help = "Example:\n  dbcloud clusters delete orders --yes --wait")]
    Delete {
        /// Cluster id or name.
        id: String,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// A cluster's buckets.
    #[command(subcommand, after_help = "Example:\n  dbcloud clusters buckets add orders travel-sample --memory-quota-mb 256")]
    Buckets(BucketsCommand),
    /// A cluster's database users.
    #[command(subcommand, after_help = "Example:\n  dbcloud clusters users add orders --name app --access readwrite")]
    Users(UsersCommand),
    /// A cluster's allow list.
    #[command(subcommand, after_help = "Example:\n  dbcloud clusters allowlist add orders 203.0.113.0/24 --comment office")]
    Allowlist(AllowlistCommand),
    /// A cluster's operations, oldest first.
    #[command(after_help = "Example:\n  dbcloud clusters operations orders")]
    Operations {
        /// Cluster id or name.
        cluster: String,
    },
}

/// `--wait` and `--timeout`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Wait until the change finished.
    #[arg(long)]
    pub wait: bool,
    /// Seconds to wait at most (exit code 5 when exceeded).
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
}

/// Arguments of `clusters create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Name: 3–63 lowercase letters, digits and hyphens.
    #[arg(long)]
    pub name: String,
    /// Project id or name (default: the organization's default project).
    #[arg(long)]
    pub project: Option<String>,
    /// Cloud id or name.
    #[arg(long, conflicts_with_all = ["provider", "region"], required_unless_present = "provider")]
    pub cloud: Option<String>,
    /// Provider (with --region; `local`, real PostgreSQL on the server's host, needs none)
    /// when no --cloud is given.
    #[arg(long)]
    pub provider: Option<String>,
    /// Region (with --provider).
    #[arg(long, requires = "provider")]
    pub region: Option<String>,
    /// Node count.
    #[arg(long)]
    pub nodes: Option<i32>,
    /// Plan: dedicated or serverless.
    #[arg(long)]
    pub plan: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// Bucket commands.
#[derive(Debug, Subcommand)]
pub enum BucketsCommand {
    /// List a cluster's buckets.
    #[command(after_help = "Example:\n  dbcloud clusters buckets list orders")]
    List {
        /// Cluster id or name.
        cluster: String,
    },
    /// Add a bucket.
    #[command(after_help = "Example:\n  dbcloud clusters buckets add orders travel-sample --memory-quota-mb 256 --replicas 1")]
    Add {
        /// Cluster id or name.
        cluster: String,
        /// Bucket name.
        name: String,
        /// Memory quota in MiB.
        #[arg(long)]
        memory_quota_mb: Option<i64>,
        /// Replicas (0–3).
        #[arg(long)]
        replicas: Option<i32>,
    },
    /// Remove a bucket (id or name).
    #[command(after_help = "Example:\n  dbcloud clusters buckets remove orders travel-sample")]
    Remove {
        /// Cluster id or name.
        cluster: String,
        /// Bucket id or name.
        bucket: String,
    },
}

/// Database user commands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a database user; the password (generated unless given) is shown once.
    #[command(after_help = "Example:\n  dbcloud clusters users add orders --name app --access readwrite")]
    Add {
        /// Cluster id or name.
        cluster: String,
        /// User name.
        #[arg(long)]
        name: String,
        /// Access: read or readwrite.
        #[arg(long)]
        access: String,
        /// Limit the access to one bucket.
        #[arg(long)]
        scope: Option<String>,
        /// Password (at least 12 characters); generated when absent.
        #[arg(long)]
        password: Option<String>,
    },
    /// List a cluster's database users.
    #[command(after_help = "Example:\n  dbcloud clusters users list orders")]
    List {
        /// Cluster id or name.
        cluster: String,
    },
    /// Delete a database user (id or name).
    #[command(after_help = "Example:\n  dbcloud clusters users delete orders app")]
    Delete {
        /// Cluster id or name.
        cluster: String,
        /// User id or name.
        user: String,
    },
    /// Change a database user's password (generated unless given).
    #[command(after_help = "Example:\n  dbcloud clusters users password orders app")]
    Password {
        /// Cluster id or name.
        cluster: String,
        /// User id or name.
        user: String,
        /// The new password; generated when absent.
        #[arg(long)]
        password: Option<String>,
    },
}

/// Allow-list commands.
#[derive(Debug, Subcommand)]
pub enum AllowlistCommand {
    /// Allow a network (CIDR or address).
    #[command(after_help = "Example:\n  dbcloud clusters allowlist add orders 203.0.113.0/24 --comment office")]
    Add {
        /// Cluster id or name.
        cluster: String,
        /// CIDR or single address.
        cidr: String,
        /// Comment.
        #[arg(long)]
        comment: Option<String>,
    },
    /// List a cluster's allow list.
    #[command(after_help = "Example:\n  dbcloud clusters allowlist list orders")]
    List {
        /// Cluster id or name.
        cluster: String,
    },
    /// Remove an entry (id or CIDR).
    #[command(after_help = "Example:\n  dbcloud clusters allowlist remove orders 203.0.113.0/24")]
    Remove {
        /// Cluster id or name.
        cluster: String,
        /// Entry id or its CIDR.
        entry: String,
    },
}

/// Resolves a cluster id or name (live clusters).
pub async fn resolve_cluster(c: &Client, id_or_name: &str) -> Result<String> {
    if crate::is_uuid(id_or_name) {
        return Ok(id_or_name.to_string());
    }
    let items = c.list_all(&with_query("/v1/clusters", &[("name", Some(id_or_name.to_string()))])).await?;
    items
        .iter()
        .find(|i| i["name"].as_str() == Some(id_or_name))
        .and_then(|i| i["id"].as_str().map(str::to_string))
        .ok_or_else(|| CliError::not_found(format!("no cluster named `{id_or_name}`")))
}

async fn resolve_child(c: &Client, list: &str, key: &str, what: &str, v: &str) -> Result<String> {
    if crate::is_uuid(v) {
        return Ok(v.to_string());
    }
    let items = c.list_all(list).await?;
    items
        .iter()
        .find(|i| i[key].as_str() == Some(v))
        .and_then(|i| i["id"].as_str().map(str::to_string))
        .ok_or_else(|| CliError::not_found(format!("no {what} `{v}`")))
}

fn names(items: &[Value]) -> HashMap<String, String> {
    items.iter().filter_map(|i| Some((i["id"].as_str()?.to_string(), i["name"].as_str()?.to_string()))).collect()
}

fn lookup(map: &HashMap<String, String>, v: &Value, key: &str) -> String {
    let id = v[key].as_str().unwrap_or_default();
    map.get(id).cloned().unwrap_or_else(|| id.to_string())
}

fn deleted(out: Format, what: &str, id: &str, v: Value) -> Result<()> {
    output::print_done(out, &format!("{what} {id} deleted"), &if v.is_null() { json!({"id": id, "deleted": true}) } else { v })
}

/// Runs a cluster command.
pub async fn run(c: &Client, out: Format, cmd: ClustersCommand) -> Result<()> {
    match cmd {
        ClustersCommand::List { project, cloud, state } => {
            let project = match project {
                Some(p) => Some(crate::resolve(c, "/v1/projects", "project", &p).await?),
                None => None,
            };
            let cloud = match cloud {
                Some(p) => Some(crate::resolve(c, "/v1/clouds", "cloud", &p).await?),
                None => None,
            };
            let path = with_query("/v1/clusters", &[("project_id", project), ("cloud_id", cloud), ("state", state)]);
            if out != Format::Table {
                return output::print_list(out, &c.list_all(&path).await?, &[]);
            }
            let (items, projects, clouds) = tokio::try_join!(c.list_all(&path), c.list_all("/v1/projects"), c.list_all("/v1/clouds"))?;
            let (projects, clouds) = (names(&projects), names(&clouds));
            let p = |v: &Value| lookup(&projects, v, "project_id");
            let cl = |v: &Value| lookup(&clouds, v, "cloud_id");
            output::print_list(
                out,
                &items,
                &[
                    ("Name", &field("name")),
                    ("ID", &field("id")),
                    ("State", &field("state")),
                    ("Project", &p),
                    ("Cloud", &cl),
                    ("Nodes", &field("node_count")),
                    ("Buckets", &field("bucket_count")),
                ],
            )
        }
        ClustersCommand::Connect(a) => crate::connect::run(c, a).await,
        ClustersCommand::Get { id } => {
            let id = resolve_cluster(c, &id).await?;
            crate::cluster_view::print(c, out, &c.get(&format!("/v1/clusters/{id}")).await?).await
        }
        ClustersCommand::Create(a) => {
            let mut body = json!({"name": a.name});
            if let Some(p) = &a.project {
                body["project_id"] = json!(crate::resolve(c, "/v1/projects", "project", p).await?);
            }
            if let Some(cl) = &a.cloud {
                body["cloud_id"] = json!(crate::resolve(c, "/v1/clouds", "cloud", cl).await?);
            }
            let region = match (&a.provider, a.region) {
                (Some(p), None) if p == "local" => Some("local".to_string()),
                (Some(p), None) => return Err(CliError::Usage(format!("--provider {p} needs --region (see `dbcloud regions list --provider {p}`)"))),
                (_, r) => r,
            };
            if let Some(p) = a.provider {
                body["provider"] = json!(p);
            }
            if let Some(r) = region {
                body["region"] = json!(r);
            }
            if let Some(n) = a.nodes {
                body["node_count"] = json!(n);
            }
            if let Some(p) = a.plan {
                body["plan"] = json!(p);
            }
            let change = c.post("/v1/clusters", &body).await?;
            if !a.wait.wait {
                return output::print_object(out, if out == Format::Table { &change["cluster"] } else { &change });
            }
            let id = change["cluster"]["id"].as_str().ok_or_else(|| CliError::Network("the answer has no cluster id".into()))?.to_string();
            let cluster = wait_for(c, out, &id, "CREATED", a.wait.timeout).await?;
            crate::cluster_view::print(c, out, &cluster).await
        }
        ClustersCommand::Update { id, name, nodes, spend_limit, wait } => {
            let id = resolve_cluster(c, &id).await?;
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = json!(n);
            }
            if let Some(n) = nodes {
                body["node_count"] = json!(n);
            }
            if let Some(s) = spend_limit {
                body["spend_limit"] = json!(s);
            }
            if body.as_object().is_some_and(|o| o.is_empty()) {
                return Err(CliError::Usage("nothing to change: give --name, --nodes or --spend-limit".into()));
            }
            let change = c.patch(&format!("/v1/clusters/{id}"), &body).await?;
            // A metadata change has no operation: it is done when answered.
            match change["operation"]["id"].as_str() {
                Some(op) if wait.wait => {
                    crate::cluster_view::wait_operation(c, op, wait.timeout).await?;
                    crate::cluster_view::print(c, out, &c.get(&format!("/v1/clusters/{id}")).await?).await
                }
                _ if out == Format::Table => crate::cluster_view::print(c, out, &change["cluster"]).await,
                _ => output::print_data(out, &change),
            }
        }
        ClustersCommand::Delete { id, yes, wait } => {
            let id = resolve_cluster(c, &id).await?;
            if !yes {
                let cluster = c.get(&format!("/v1/clusters/{id}")).await?;
                let name = cluster["name"].as_str().unwrap_or_default().to_string();
                confirm(&name)?;
            }
            let change = c.delete(&format!("/v1/clusters/{id}")).await?;
            if !wait.wait {
                return output::print_done(out, &format!("deleting cluster {id}"), &change);
            }
            let cluster = wait_for(c, out, &id, "DELETED", wait.timeout).await?;
            output::print_done(out, &format!("cluster {id} deleted"), &cluster)
        }
        ClustersCommand::Buckets(b) => buckets(c, out, b).await,
        ClustersCommand::Users(u) => users(c, out, u).await,
        ClustersCommand::Allowlist(a) => allowlist(c, out, a).await,
        ClustersCommand::Operations { cluster } => {
            let id = resolve_cluster(c, &cluster).await?;
            let items = c.list_all(&format!("/v1/clusters/{id}/operations")).await?;
            output::print_list(
                out,
                &items,
                &[
                    ("ID", &field("id")),
                    ("Kind", &field("kind")),
                    ("Status", &field("status")),
                    ("Progress", &field("progress")),
                    ("Step", &field("step")),
                    ("Created", &field("created_at")),
                ],
            )
        }
    }
}

/// Asks the user to type the cluster's name. Refuses when stdin is not a terminal.
fn confirm(name: &str) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!("refusing to delete cluster `{name}` without confirmation: stdin is not a terminal; pass --yes")));
    }
    eprint!("This deletes cluster `{name}` and its data. Type the cluster's name to confirm: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::Usage(format!("reading the confirmation: {e}")))?;
    if line.trim() == name { Ok(()) } else { Err(CliError::Usage(format!("confirmation did not match `{name}`; nothing was deleted"))) }
}

/// Polls the cluster until it reaches `target`, showing the current operation step on a
/// spinner (only when stderr is a terminal and the output is not JSON).
async fn wait_for(c: &Client, out: Format, id: &str, target: &str, timeout: u64) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let spinner = (std::io::stderr().is_terminal() && out != Format::Json).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.enable_steady_tick(Duration::from_millis(100));
        pb.set_message(format!("waiting for {target}"));
        pb
    });
    let result = async {
        loop {
            let cluster = c.get(&format!("/v1/clusters/{id}")).await?;
            let state = cluster["state"].as_str().unwrap_or_default().to_string();
            if state == target {
                return Ok(cluster);
            }
            if state == "CREATION_FAILED" {
                let why = cluster["failure_reason"].as_str().unwrap_or("no reason given");
                return Err(CliError::Api { status: 409, message: format!("cluster creation failed: {why}"), request_id: None });
            }
            if target == "CREATED" && state == "DELETED" {
                return Err(CliError::Api { status: 409, message: "the cluster was deleted while waiting".into(), request_id: None });
            }
            if let Some(pb) = &spinner
                && let Ok(ops) = c.get(&format!("/v1/clusters/{id}/operations?limit=500")).await
            {
                let items = ops["items"].as_array().cloned().unwrap_or_default();
                if let Some(op) = items.iter().rev().find(|o| matches!(o["status"].as_str(), Some("SENT" | "IN_PROGRESS"))).or(items.last()) {
                    pb.set_message(format!("{state}: {} ({}%)", op["step"].as_str().unwrap_or(""), op["progress"]));
                }
            }
            if Instant::now() >= deadline {
                return Err(CliError::Timeout(format!("timed out after {timeout} s waiting for cluster {id} to be {target} (now {state})")));
            }
            tokio::time::sleep(Duration::from_millis(250).min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }
    .await;
    if let Some(pb) = spinner {
        pb.finish_and_clear();
    }
    result
}

async fn buckets(c: &Client, out: Format, cmd: BucketsCommand) -> Result<()> {
    match cmd {
        BucketsCommand::List { cluster } => {
            let id = resolve_cluster(c, &cluster).await?;
            let items = c.list_all(&format!("/v1/clusters/{id}/buckets")).await?;
            output::print_list(
                out,
                &items,
                &[("Name", &field("name")), ("ID", &field("id")), ("Memory (MiB)", &field("memory_quota_mb")), ("Replicas", &field("replicas"))],
            )
        }
        BucketsCommand::Add { cluster, name, memory_quota_mb, replicas } => {
            let id = resolve_cluster(c, &cluster).await?;
            let body = json!({"name": name, "memory_quota_mb": memory_quota_mb, "replicas": replicas});
            output::print_object(out, &c.post(&format!("/v1/clusters/{id}/buckets"), &body).await?)
        }
        BucketsCommand::Remove { cluster, bucket } => {
            let id = resolve_cluster(c, &cluster).await?;
            let b = resolve_child(c, &format!("/v1/clusters/{id}/buckets"), "name", "bucket", &bucket).await?;
            deleted(out, "bucket", &b, c.delete(&format!("/v1/clusters/{id}/buckets/{b}")).await?)
        }
    }
}

async fn users(c: &Client, out: Format, cmd: UsersCommand) -> Result<()> {
    match cmd {
        UsersCommand::Add { cluster, name, access, scope, password } => {
            let id = resolve_cluster(c, &cluster).await?;
            let body = json!({"name": name, "access": access, "scope": scope, "password": password});
            let v = c.post(&format!("/v1/clusters/{id}/users"), &body).await?;
            if out == Format::Table {
                eprintln!("note: the password is shown only now");
            }
            output::print_object(out, &v)
        }
        UsersCommand::List { cluster } => {
            let id = resolve_cluster(c, &cluster).await?;
            let items = c.list_all(&format!("/v1/clusters/{id}/users")).await?;
            output::print_list(out, &items, &[("Name", &field("name")), ("ID", &field("id")), ("Access", &field("access")), ("Scope", &field("scope"))])
        }
        UsersCommand::Delete { cluster, user } => {
            let id = resolve_cluster(c, &cluster).await?;
            let u = resolve_child(c, &format!("/v1/clusters/{id}/users"), "name", "user", &user).await?;
            deleted(out, "user", &u, c.delete(&format!("/v1/clusters/{id}/users/{u}")).await?)
        }
        UsersCommand::Password { cluster, user, password } => {
            let id = resolve_cluster(c, &cluster).await?;
            let u = resolve_child(c, &format!("/v1/clusters/{id}/users"), "name", "user", &user).await?;
            let v = c.request(reqwest::Method::PUT, &format!("/v1/clusters/{id}/users/{u}/password"), Some(&json!({"password": password}))).await?;
            output::print_object(out, &v)
        }
    }
}

async fn allowlist(c: &Client, out: Format, cmd: AllowlistCommand) -> Result<()> {
    match cmd {
        AllowlistCommand::Add { cluster, cidr, comment } => {
            let id = resolve_cluster(c, &cluster).await?;
            let mut body = json!({"cidr": cidr});
            if let Some(cm) = comment {
                body["comment"] = json!(cm);
            }
            output::print_object(out, &c.post(&format!("/v1/clusters/{id}/allowlist"), &body).await?)
        }
        AllowlistCommand::List { cluster } => {
            let id = resolve_cluster(c, &cluster).await?;
            let items = c.list_all(&format!("/v1/clusters/{id}/allowlist")).await?;
            output::print_list(
                out,
                &items,
                &[("CIDR", &field("cidr")), ("ID", &field("id")), ("Comment", &field("comment")), ("Expires", &field("expires_at"))],
            )
        }
        AllowlistCommand::Remove { cluster, entry } => {
            let id = resolve_cluster(c, &cluster).await?;
            let e = resolve_child(c, &format!("/v1/clusters/{id}/allowlist"), "cidr", "allow-list entry", &entry).await?;
            deleted(out, "allow-list entry", &e, c.delete(&format!("/v1/clusters/{id}/allowlist/{e}")).await?)
        }
    }
}
