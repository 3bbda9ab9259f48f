//! The audit log: every change, failed authentication and denial, with who, from where and
//! the request id.

use crate::model::{AuditEvent, AuditFilter, PageReq};
use crate::{App, Caller};
use dbcloud_core::Result;
use dbcloud_core::perms::{Permission, Target};
use dbcloud_types::Page;

/// Audit use cases (see [`App::audit`]).
pub struct Audit<'a> {
    pub(crate) app: &'a App,
}

impl Audit<'_> {
    /// One page of audit events with `filter` (`audit.read`).
    pub async fn list(&self, caller: &Caller, filter: &AuditFilter, page: PageReq) -> Result<Page<AuditEvent>> {
        caller.require(Permission::AuditRead, Target::Organization).await?;
        self.app.store().list_audit_filtered(caller.org(), filter, page).await
    }

    /// Records an event outside any change (failed authentications, console sign-ins).
    pub async fn append(&self, event: &AuditEvent) -> Result<()> {
        self.app.store().append_audit(event).await
    }
}
