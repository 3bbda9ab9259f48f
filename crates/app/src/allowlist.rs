//! Allow lists: which networks may connect to a cluster. One set of rules (canonical CIDRs,
//! no host bits, comments, expiry in the future) for every surface.

use crate::buckets::all_pages;
use crate::idempotency::{self, Created};
use crate::model::{NewAllowlistEntry, PageReq};
use crate::{App, Caller};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::Permission;
use dbcloud_core::{Result, cluster, validate};
use dbcloud_store::NewOperation;
use dbcloud_types::{AllowlistEntry, Operation, OperationKind, Page};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Longest comment.
pub const MAX_COMMENT: usize = 256;

/// Checks one entry (`prefix` names it in errors, e.g. `allowlist[2]`; empty for a single
/// entry) and returns it with its CIDR in canonical form.
pub fn check_entry(prefix: &str, e: &NewAllowlistEntry) -> Result<NewAllowlistEntry> {
    let mut v = Violations::new();
    let checked = check_into(&mut v, prefix, e);
    v.finish()?;
    Ok(checked.expect("checked"))
}

fn field(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

/// [`check_entry`] collecting into `v`.
pub fn check_into(v: &mut Violations, prefix: &str, e: &NewAllowlistEntry) -> Option<NewAllowlistEntry> {
    let cidr = v.check(&field(prefix, "cidr"), validate::cidr(&e.cidr));
    let comment = v.check(&field(prefix, "comment"), validate::free_text(&e.comment, MAX_COMMENT));
    if e.expires_at.is_some_and(|x| x <= time::OffsetDateTime::now_utc()) {
        v.add(field(prefix, "expires_at"), "must be in the future");
    }
    Some(NewAllowlistEntry { cidr: cidr?, comment: comment?, expires_at: e.expires_at, attributes: e.attributes.clone() })
}

/// Allow-list use cases (see [`App::allowlist`]).
pub struct Allowlist<'a> {
    pub(crate) app: &'a App,
}

impl Allowlist<'_> {
    /// Adds a network (`allowlist.manage`).
    pub async fn add(&self, caller: &Caller, cluster_id: Uuid, entry: NewAllowlistEntry, idempotency_key: Option<&str>) -> Result<Created<AllowlistEntry>> {
        let c = self.app.clusters().authorized(caller, cluster_id, Permission::AllowlistManage).await?;
        let entry = check_entry("", &entry)?;
        cluster::check_accepts_children(&c)?;
        let identity = serde_json::json!({"cluster": cluster_id, "cidr": entry.cidr, "comment": entry.comment, "expires_at": entry.expires_at.map(dbcloud_core::time_to_ms), "attributes": entry.attributes});
        let store = self.app.0.store.clone();
        let created = idempotency::run(self.app, caller, idempotency_key, "allowlist.create", &identity, |ctx| async move {
            store.create_allowlist_entry(&ctx, cluster_id, &entry).await
        })
        .await?;
        self.app.local_changed(caller, cluster_id).await;
        Ok(created)
    }

    /// One page of a cluster's allow list (`cluster.read`).
    pub async fn list(&self, caller: &Caller, cluster_id: Uuid, page: PageReq) -> Result<Page<AllowlistEntry>> {
        self.app.clusters().get(caller, cluster_id).await?;
        self.app.store().list_allowlist(caller.org(), cluster_id, page).await
    }

    /// A cluster's whole allow list (`cluster.read`).
    pub async fn list_all(&self, caller: &Caller, cluster_id: Uuid) -> Result<Vec<AllowlistEntry>> {
        self.app.clusters().get(caller, cluster_id).await?;
        let org = caller.org();
        all_pages(|p| self.app.store().list_allowlist(org, cluster_id, p)).await
    }

    /// The allow lists of several clusters the caller has read, in one query (lists).
    pub async fn of_clusters(&self, caller: &Caller, clusters: &[Uuid]) -> Result<Vec<AllowlistEntry>> {
        self.app.store().allowlists_of(caller.org(), clusters).await
    }

    /// Removes an entry (`allowlist.manage`).
    pub async fn delete(&self, caller: &Caller, cluster_id: Uuid, entry_id: Uuid) -> Result<()> {
        self.app.clusters().authorized(caller, cluster_id, Permission::AllowlistManage).await?;
        self.app.store().delete_allowlist_entry(&caller.ctx(None), cluster_id, entry_id).await?;
        self.app.local_changed(caller, cluster_id).await;
        Ok(())
    }

    /// Changes an entry's comment and/or replaces its vendor attributes (`allowlist.manage`).
    pub async fn set(
        &self,
        caller: &Caller,
        cluster_id: Uuid,
        entry_id: Uuid,
        comment: Option<&str>,
        attributes: Option<&Map<String, Value>>,
    ) -> Result<AllowlistEntry> {
        self.app.clusters().authorized(caller, cluster_id, Permission::AllowlistManage).await?;
        let comment = match comment {
            Some(c) => Some(validate::free_text(c, MAX_COMMENT).map_err(|e| dbcloud_core::Error::field("comment", e))?),
            None => None,
        };
        self.app.store().set_allowlist_entry(&caller.ctx(None), cluster_id, entry_id, comment.as_deref(), attributes).await
    }

    /// Replaces the whole allow list, atomically (`allowlist.manage`); with `apply`, an
    /// allow-list-update operation applies it (refused with `Busy` while another runs).
    /// Fields are named `[i].cidr` etc. in errors.
    pub async fn replace(
        &self,
        caller: &Caller,
        cluster_id: Uuid,
        entries: Vec<NewAllowlistEntry>,
        apply: bool,
    ) -> Result<(Vec<AllowlistEntry>, Option<Operation>)> {
        let c = self.app.clusters().authorized(caller, cluster_id, Permission::AllowlistManage).await?;
        let mut v = Violations::new();
        let mut checked = vec![];
        for (i, e) in entries.iter().enumerate() {
            if let Some(e) = check_into(&mut v, &format!("[{i}]"), e) {
                if checked.iter().any(|x: &NewAllowlistEntry| x.cidr == e.cidr) {
                    v.add(format!("[{i}].cidr"), format!("{} is listed twice", e.cidr));
                }
                checked.push(e);
            }
        }
        v.finish()?;
        cluster::check_accepts_children(&c)?;
        let op = apply.then(|| NewOperation::new(OperationKind::AllowlistUpdate, serde_json::json!({ "entries": checked.len() })));
        let out = self.app.store().replace_allowlist(&caller.ctx(None), cluster_id, &checked, op.as_ref()).await;
        self.app.0.clusters.invalidate(cluster_id);
        let out = out?;
        if out.1.is_some() {
            self.app.0.runner.wake();
        }
        self.app.local_changed(caller, cluster_id).await;
        Ok(out)
    }
}
