//! Projects: create (the creator owns what it creates), list what the caller may read,
//! rename, delete when no live cluster remains.

use crate::idempotency::{self, Created};
use crate::identity::grants::grant_creator;
use crate::model::{NumberedPage, PageReq};
use crate::{App, Caller};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Permission, Role, Scope, Target, Visibility};
use dbcloud_core::{Result, validate};
use dbcloud_types::{Page, Project};
use uuid::Uuid;

/// Longest project description.
pub const MAX_DESCRIPTION: usize = 1024;

/// Checks a new name and/or description of a rename; at least one must be given.
pub fn check_rename(name: Option<&str>, description: Option<&str>) -> Result<(Option<String>, Option<String>)> {
    let mut v = Violations::new();
    let n = name.and_then(|n| v.check("name", validate::display_name(n)));
    let d = description.and_then(|d| v.check("description", validate::free_text(d, MAX_DESCRIPTION)));
    if name.is_none() && description.is_none() {
        v.add("body", "nothing to change: give name or description");
    }
    v.finish()?;
    Ok((n, d))
}

/// Project use cases (see [`App::projects`]).
pub struct Projects<'a> {
    pub(crate) app: &'a App,
}

impl Projects<'_> {
    /// Creates a project (`project.create`); a projectCreator becomes its owner.
    pub async fn create(&self, caller: &Caller, name: &str, description: &str, idempotency_key: Option<&str>) -> Result<Created<Project>> {
        caller.require(Permission::ProjectCreate, Target::Organization).await?;
        let mut v = Violations::new();
        let name = v.check("name", validate::display_name(name));
        let description = v.check("description", validate::free_text(description, MAX_DESCRIPTION));
        v.finish()?;
        let (name, description) = (name.expect("checked"), description.expect("checked"));
        let identity = serde_json::json!({"name": name, "description": description});
        let store = self.app.0.store.clone();
        let created = idempotency::run(self.app, caller, idempotency_key, "project.create", &identity, |ctx| async move {
            store.create_project(&ctx, &name, &description).await
        })
        .await?;
        if !created.replayed {
            let p = created.value.id;
            grant_creator(self.app, caller, Permission::ProjectRead, Target::Project(p), Role::ProjectOwner, Scope::Project(p)).await;
        }
        Ok(created)
    }

    /// One page of the projects the caller may read (every one with an organization-wide
    /// grant, else those its project grants name), in creation order.
    pub async fn list(&self, caller: &Caller, page: PageReq) -> Result<Page<Project>> {
        match caller.visibility(Permission::ProjectRead) {
            Visibility::All => self.app.store().list_projects(caller.org(), page).await,
            Visibility::Only { projects, .. } if projects.is_empty() => Err(caller.denied(Permission::ProjectRead.as_str(), "any").await),
            Visibility::Only { projects, .. } => {
                // A principal's project grants are few: read them and page here.
                let mut items = vec![];
                for id in projects.into_iter().filter(|id| page.after.is_none_or(|a| *id > a)) {
                    match self.app.store().get_project(caller.org(), id).await {
                        Ok(p) => items.push(p),
                        Err(dbcloud_core::Error::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                    if items.len() > page.limit as usize {
                        break;
                    }
                }
                let next_cursor = (items.len() > page.limit as usize).then(|| {
                    items.truncate(page.limit as usize);
                    dbcloud_core::cursor::encode(items.last().map(|p| p.id).unwrap_or_default())
                });
                Ok(Page { items, next_cursor })
            }
        }
    }

    /// One numbered page of the projects the caller may read, and how many it may read.
    pub async fn page(&self, caller: &Caller, page: NumberedPage) -> Result<(u64, Vec<Project>)> {
        let only = match caller.visibility(Permission::ProjectRead) {
            Visibility::All => None,
            Visibility::Only { projects, .. } if projects.is_empty() => return Err(caller.denied(Permission::ProjectRead.as_str(), "any").await),
            Visibility::Only { projects, .. } => Some(projects.into_iter().collect()),
        };
        self.app.store().page_projects(caller.org(), &NumberedPage { only, ..page }).await
    }

    /// Every project the caller may read.
    pub async fn list_all(&self, caller: &Caller) -> Result<Vec<Project>> {
        crate::buckets::all_pages(|p| self.list(caller, p)).await
    }

    /// A project (`project.read`).
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Project> {
        caller.require(Permission::ProjectRead, Target::Project(id)).await?;
        self.app.store().get_project(caller.org(), id).await
    }

    /// The organization's default project (where clusters go when a request names none).
    pub async fn default_project(&self, caller: &Caller) -> Result<Project> {
        self.app.store().default_project(caller.org()).await
    }

    /// Renames or describes a project (`project.update`).
    pub async fn update(&self, caller: &Caller, id: Uuid, name: Option<&str>, description: Option<&str>) -> Result<Project> {
        caller.require(Permission::ProjectUpdate, Target::Project(id)).await?;
        let (name, description) = check_rename(name, description)?;
        self.app.store().update_project(&caller.ctx(None), id, name.as_deref(), description.as_deref()).await
    }

    /// Deletes a project without live clusters (`project.delete`).
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        caller.require(Permission::ProjectDelete, Target::Project(id)).await?;
        self.app.store().delete_project(&caller.ctx(None), id).await
    }
}

impl Projects<'_> {
    /// The id of the organization's default project, remembered by the service (it never
    /// changes): constant cost, unlike [`Projects::default_project`], which counts clusters.
    pub async fn default_project_id(&self, caller: &Caller) -> Result<Uuid> {
        let org = caller.org();
        if let Some(id) = self.app.0.default_projects.read().ok().and_then(|m| m.get(&org).copied()) {
            return Ok(id);
        }
        let id = self.app.store().default_project(org).await?.id;
        if let Ok(mut m) = self.app.0.default_projects.write() {
            m.insert(org, id);
        }
        Ok(id)
    }
}
