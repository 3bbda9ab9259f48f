//! Rules and calls that vendor dialects need beyond the native API: the vendor name
//! pattern of projects, vendor attributes of the organization, counts for organization
//! documents, and who stands behind the keys named in the audit log.

use crate::model::KeyOwner;
use crate::{Caller, Created};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Permission, Target};
use dbcloud_core::{Error, Result, validate};
use dbcloud_types::{Organization, Project, User};
use serde_json::{Map, Value};
use std::collections::HashMap;
use uuid::Uuid;

fn word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whether `s` fits the vendor pattern for names (`^\w[\w\- ]*$`, 1–512 characters).
pub fn fits_name_pattern(s: &str) -> bool {
    s.chars().next().is_some_and(word) && s.chars().count() <= 512 && s.chars().all(|c| word(c) || c == '-' || c == ' ')
}

/// `s` in the vendor name pattern: other characters become `-`, and a name that does not
/// start with a letter, digit or `_` gets `fallback` in front.
pub fn pattern_name(s: &str, fallback: &str) -> String {
    let mut out: String = s.chars().take(500).map(|c| if word(c) || c == '-' || c == ' ' { c } else { '-' }).collect();
    if !out.chars().next().is_some_and(word) {
        out.insert_str(0, fallback);
    }
    out
}

/// The vendor name rule of projects (on top of the common display-name rules).
pub fn check_name_pattern(name: &str) -> std::result::Result<(), String> {
    if fits_name_pattern(name.trim()) {
        Ok(())
    } else {
        Err("must start with a letter, digit or `_` and hold only letters, digits, `_`, `-` and spaces".into())
    }
}

/// A change of the organization with vendor attributes, as the vendor sends it (values are
/// checked here: `plan_type` 1–6, `email` an address or `null`, `notifications_enabled` a
/// boolean).
#[derive(Debug, Clone, Default)]
pub struct OrgEdit {
    /// New name.
    pub name: Option<String>,
    /// Plan type.
    pub plan_type: Option<Value>,
    /// Contact e-mail (`Some(Null)` clears it).
    pub email: Option<Value>,
    /// Whether notifications are sent.
    pub notifications_enabled: Option<Value>,
}

/// Checks an [`OrgEdit`]: the name and the attributes to merge.
pub fn check_org_edit(edit: &OrgEdit) -> Result<(Option<String>, Map<String, Value>)> {
    let mut v = Violations::new();
    let name = edit.name.as_deref().and_then(|n| v.check("name", validate::display_name(n)));
    let mut attributes = Map::new();
    if let Some(p) = &edit.plan_type {
        match p.as_i64().filter(|p| (1..=6).contains(p)) {
            Some(p) => {
                attributes.insert("plan_type".into(), Value::from(p));
            }
            None => v.add("plan_type", "must be an integer from 1 to 6"),
        }
    }
    match &edit.email {
        None => {}
        Some(Value::Null) => {
            attributes.insert("email".into(), Value::Null);
        }
        Some(Value::String(e))
            if e.len() <= 254 && e.split_once('@').is_some_and(|(a, b)| !a.is_empty() && b.contains('.')) && !e.chars().any(char::is_whitespace) =>
        {
            attributes.insert("email".into(), Value::from(e.as_str()));
        }
        Some(_) => v.add("email", "must be an email address or null"),
    }
    match &edit.notifications_enabled {
        None => {}
        Some(Value::Bool(b)) => {
            attributes.insert("notifications_enabled".into(), Value::from(*b));
        }
        Some(_) => v.add("notifications_enabled", "must be true or false"),
    }
    if edit.name.is_none() && edit.plan_type.is_none() && edit.email.is_none() && edit.notifications_enabled.is_none() {
        v.add("body", "nothing to change: give name, plan_type, email or notifications_enabled");
    }
    v.finish()?;
    Ok((name, attributes))
}

impl crate::org::Org<'_> {
    /// Renames the organization and/or sets its vendor attributes (`org.update`, checked
    /// before the values).
    pub async fn edit(&self, caller: &Caller, edit: &OrgEdit) -> Result<Organization> {
        caller.require(Permission::OrgUpdate, Target::Organization).await?;
        let (name, attributes) = check_org_edit(edit)?;
        let attrs = (!attributes.is_empty()).then_some(&attributes);
        self.app.store().update_organization(&caller.ctx(None), name.as_deref(), attrs).await
    }

    /// How many projects the organization has (`org.read`).
    pub async fn project_count(&self, caller: &Caller) -> Result<usize> {
        caller.require(Permission::OrgRead, Target::Organization).await?;
        let org = caller.org();
        let mut n = 0;
        let mut page = crate::model::PageReq::first(500);
        loop {
            let got = self.app.store().list_projects(org, page.clone()).await?;
            n += got.items.len();
            match (got.next_cursor, got.items.last()) {
                (Some(_), Some(last)) => page.after = Some(last.id),
                _ => return Ok(n),
            }
        }
    }
}

impl crate::projects::Projects<'_> {
    /// Creates a project (`project.create`) whose name also passes `name_rule` (a vendor's
    /// pattern); errors name `name`.
    pub async fn create_named(&self, caller: &Caller, name: &str, name_rule: fn(&str) -> std::result::Result<(), String>) -> Result<Project> {
        caller.require(Permission::ProjectCreate, Target::Organization).await?;
        let checked = validate::display_name(name).and_then(|n| name_rule(&n).map(|_| n)).map_err(|e| Error::field("name", e))?;
        let created: Created<Project> = self.create(caller, &checked, "", None).await?;
        Ok(created.value)
    }

    /// Renames a project (`project.update`) to a name that also passes `name_rule`.
    pub async fn rename_named(&self, caller: &Caller, id: Uuid, name: Option<&str>, name_rule: fn(&str) -> std::result::Result<(), String>) -> Result<Project> {
        caller.require(Permission::ProjectUpdate, Target::Project(id)).await?;
        if let Some(Err(e)) = name.map(|n| validate::display_name(n).and_then(|n| name_rule(&n))) {
            return Err(Error::field("name", e));
        }
        self.update(caller, id, name, None).await
    }
}

/// Who stands behind a key named in the audit log.
#[derive(Debug, Clone)]
pub enum KeyActor {
    /// A user's key (`None`: the user is gone).
    User(Uuid, Option<User>),
    /// A service account's key.
    ServiceAccount(Uuid),
    /// A key with roles of its own.
    Key,
}

impl crate::audit::Audit<'_> {
    /// Who stands behind each of `keys` (access key ids of audit actors; `audit.read`): one
    /// lookup per distinct key, whatever the number of entries. Unknown keys are left out.
    pub async fn key_actors(&self, caller: &Caller, keys: &[String]) -> Result<HashMap<String, KeyActor>> {
        caller.require(Permission::AuditRead, Target::Organization).await?;
        let org = caller.org();
        let mut out = HashMap::new();
        for k in keys {
            if out.contains_key(k) || !k.starts_with(dbcloud_core::keys::KEY_PREFIX) {
                continue;
            }
            let Ok(rec) = self.app.store().get_api_key(org, k).await else { continue };
            let actor = match rec.owner {
                KeyOwner::User(u) => KeyActor::User(u, self.app.store().get_user(org, u).await.ok()),
                KeyOwner::ServiceAccount(a) => KeyActor::ServiceAccount(a),
                KeyOwner::Key => KeyActor::Key,
            };
            out.insert(k.clone(), actor);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vendor_name_pattern() {
        assert!(fits_name_pattern("my project-1"));
        assert!(fits_name_pattern("_x"));
        assert!(!fits_name_pattern("-x"));
        assert!(!fits_name_pattern("a.b"));
        assert!(!fits_name_pattern(""));
        assert!(check_name_pattern("ok name").is_ok());
        assert_eq!(pattern_name("jane.doe", "user"), "jane-doe");
        assert_eq!(pattern_name(".x", "user"), "user-x");
    }

    #[test]
    fn organization_edits_are_checked() {
        let e = OrgEdit { plan_type: Some(json!(2)), email: Some(Value::Null), ..Default::default() };
        let (name, attrs) = check_org_edit(&e).unwrap();
        assert_eq!(name, None);
        assert_eq!(attrs.get("plan_type"), Some(&json!(2)));
        assert_eq!(attrs.get("email"), Some(&Value::Null));
        assert!(check_org_edit(&OrgEdit::default()).is_err());
        assert!(check_org_edit(&OrgEdit { plan_type: Some(json!(7)), ..Default::default() }).is_err());
        assert!(check_org_edit(&OrgEdit { email: Some(json!("nope")), ..Default::default() }).is_err());
        assert!(check_org_edit(&OrgEdit { notifications_enabled: Some(json!("yes")), ..Default::default() }).is_err());
    }
}
