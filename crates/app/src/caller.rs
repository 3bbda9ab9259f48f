//! The caller of one request, and the permission checks every call makes explicitly.

use crate::model::{KeyOwner, PrincipalRef};
use dbcloud_core::perms::{Permission, Principal, Target, Visibility};
use dbcloud_core::{Error, Result};
use dbcloud_store::{AuditEvent, Ctx, IdempotencyKey, Store};
use std::sync::Arc;
use uuid::Uuid;

/// An authenticated caller: the principal with its grants, who owns the key it used, and
/// the request's id and source address (for the audit log).
#[derive(Clone)]
pub struct Caller {
    /// The principal.
    pub principal: Principal,
    /// Who owns the calling key.
    pub owner: KeyOwner,
    /// Request id (`x-request-id`).
    pub request_id: String,
    /// Client address (after trusted proxies).
    pub source_ip: String,
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").field("key", &self.principal.key_id).field("owner", &self.owner).field("request_id", &self.request_id).finish()
    }
}

impl Caller {
    pub(crate) fn new(principal: Principal, owner: KeyOwner, request_id: String, source_ip: String, store: Arc<dyn Store>) -> Self {
        Caller { principal, owner, request_id, source_ip, store }
    }

    /// Checks the principal holds `p` on `t`; a refusal is audited and answered
    /// [`Error::PermissionDenied`].
    pub async fn require(&self, p: Permission, t: Target) -> Result<()> {
        if self.principal.can(p, t) { Ok(()) } else { Err(self.denied(p.as_str(), &format!("{t:?}")).await) }
    }

    /// Checks the principal holds `p` at some scope (catalogues every member may read).
    pub async fn require_somewhere(&self, p: Permission) -> Result<()> {
        if self.principal.can_somewhere(p) { Ok(()) } else { Err(self.denied(p.as_str(), "any").await) }
    }

    /// Where the caller holds `p` (the filter of every list).
    pub fn visibility(&self, p: Permission) -> Visibility {
        self.principal.visibility(p)
    }

    /// Records a refusal in the audit log and returns the error to answer.
    pub async fn denied(&self, what: &str, target: &str) -> Error {
        let event = AuditEvent {
            id: dbcloud_core::new_id(),
            organization_id: Some(self.org()),
            time: dbcloud_core::now(),
            actor: self.principal.key_id.clone(),
            source_ip: self.source_ip.clone(),
            action: format!("denied:{what}"),
            target: target.to_string(),
            outcome: "denied".into(),
            request_id: self.request_id.clone(),
            details: serde_json::json!({}),
        };
        if let Err(e) = self.store.append_audit(&event).await {
            tracing::warn!(error = %e, "could not audit a denial");
        }
        Error::PermissionDenied
    }

    /// The organization the caller acts in.
    pub fn org(&self) -> Uuid {
        self.principal.organization_id
    }

    /// The principal that role grants name for this caller (the key's owner).
    pub fn principal_ref(&self) -> PrincipalRef {
        match self.owner {
            KeyOwner::Key => PrincipalRef { kind: "api_key".into(), id: self.principal.key_id.clone() },
            KeyOwner::ServiceAccount(id) => PrincipalRef { kind: "service_account".into(), id: id.to_string() },
            KeyOwner::User(id) => PrincipalRef { kind: "user".into(), id: id.to_string() },
        }
    }

    /// The store context of a change made by this caller.
    pub(crate) fn ctx(&self, idempotency: Option<IdempotencyKey>) -> Ctx {
        Ctx {
            organization_id: self.principal.organization_id,
            actor: self.principal.key_id.clone(),
            request_id: self.request_id.clone(),
            source_ip: self.source_ip.clone(),
            idempotency,
        }
    }
}
