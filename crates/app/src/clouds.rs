//! Clouds (connections clusters are deployed into) and the region catalogue.

use crate::idempotency::{self, Created};
use crate::model::{NumberedPage, PageReq};
use crate::{App, Caller};
use dbcloud_core::error::Violations;
use dbcloud_core::perms::{Permission, Target};
use dbcloud_core::{Result, regions, validate};
use dbcloud_store::NewCloud;
use dbcloud_types::{Cloud, Page, Provider, Region};
use uuid::Uuid;

/// The network of a cloud created without one.
pub const DEFAULT_VPC_CIDR: &str = "10.0.0.0/16";

/// Cloud use cases (see [`App::clouds`]).
pub struct Clouds<'a> {
    pub(crate) app: &'a App,
}

impl Clouds<'_> {
    /// Creates a cloud (`cloud.manage`) in a region of the provider's catalogue.
    pub async fn create(
        &self,
        caller: &Caller,
        name: &str,
        provider: Provider,
        region: &str,
        vpc_cidr: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<Created<Cloud>> {
        caller.require(Permission::CloudManage, Target::Organization).await?;
        let mut v = Violations::new();
        let name = v.check("name", validate::display_name(name));
        if !regions::is_valid(provider, region) {
            v.add("region", format!("`{region}` is not a region of {provider}; see GET /v1/regions?provider={provider}"));
        }
        let vpc = v.check("virtual_network_cidr", validate::vpc_cidr(vpc_cidr.unwrap_or(DEFAULT_VPC_CIDR)));
        v.finish()?;
        let new = NewCloud { name: name.expect("checked"), provider, region: region.to_string(), vpc_cidr: vpc.expect("checked") };
        let identity = serde_json::json!({"name": new.name, "provider": provider, "region": region, "vpc": new.vpc_cidr});
        let store = self.app.0.store.clone();
        idempotency::run(self.app, caller, idempotency_key, "cloud.create", &identity, |ctx| async move { store.create_cloud(&ctx, &new).await }).await
    }

    /// One page of clouds, optionally of one provider (`cloud.read` anywhere).
    pub async fn list(&self, caller: &Caller, provider: Option<Provider>, page: PageReq) -> Result<Page<Cloud>> {
        caller.require_somewhere(Permission::CloudRead).await?;
        self.app.store().list_clouds(caller.org(), provider, page).await
    }

    /// One numbered page of clouds, and how many there are (`cloud.read` anywhere).
    pub async fn page(&self, caller: &Caller, page: NumberedPage) -> Result<(u64, Vec<Cloud>)> {
        caller.require_somewhere(Permission::CloudRead).await?;
        self.app.store().page_clouds(caller.org(), &NumberedPage { only: None, ..page }).await
    }

    /// Every cloud (`cloud.read` anywhere).
    pub async fn list_all(&self, caller: &Caller) -> Result<Vec<Cloud>> {
        crate::buckets::all_pages(|p| self.list(caller, None, p)).await
    }

    /// A cloud (`cloud.read` anywhere).
    pub async fn get(&self, caller: &Caller, id: Uuid) -> Result<Cloud> {
        caller.require_somewhere(Permission::CloudRead).await?;
        self.app.store().get_cloud(caller.org(), id).await
    }

    /// Renames a cloud or changes its network while it has no clusters (`cloud.manage`).
    pub async fn update(&self, caller: &Caller, id: Uuid, name: Option<&str>, vpc_cidr: Option<&str>) -> Result<Cloud> {
        caller.require(Permission::CloudManage, Target::Organization).await?;
        let mut v = Violations::new();
        let n = name.and_then(|n| v.check("name", validate::display_name(n)));
        let vpc = vpc_cidr.and_then(|c| v.check("virtual_network_cidr", validate::vpc_cidr(c)));
        if name.is_none() && vpc_cidr.is_none() {
            v.add("body", "nothing to change: give name or virtual_network_cidr");
        }
        v.finish()?;
        self.app.store().update_cloud(&caller.ctx(None), id, n.as_deref(), vpc.as_deref()).await
    }

    /// Deletes a cloud without live clusters (`cloud.manage`).
    pub async fn delete(&self, caller: &Caller, id: Uuid) -> Result<()> {
        caller.require(Permission::CloudManage, Target::Organization).await?;
        self.app.store().delete_cloud(&caller.ctx(None), id).await
    }

    /// The region catalogue, optionally of one provider (`cloud.read` anywhere).
    pub async fn regions(&self, caller: &Caller, provider: Option<Provider>) -> Result<Vec<Region>> {
        caller.require_somewhere(Permission::CloudRead).await?;
        Ok(regions::regions(provider))
    }
}

/// Where clouds are, by organization and cloud id: a cloud's provider and region never
/// change, so this map (one per `App`) is never stale and stays small: one entry per cloud.
pub(crate) type Places = std::collections::HashMap<(Uuid, Uuid), (Provider, String)>;

impl Clouds<'_> {
    /// The provider and region of the clouds the given clusters run in (which the caller has
    /// read: no further check), by cloud id. Remembered by the service (they never change), so a
    /// page of clusters costs the same whatever the organization's size. A cloud that cannot
    /// be found is left out.
    pub async fn places_of(&self, caller: &Caller, clusters: &[dbcloud_types::Cluster]) -> Result<std::collections::HashMap<Uuid, (Provider, String)>> {
        let org = caller.org();
        let mut out = std::collections::HashMap::new();
        for c in clusters {
            if out.contains_key(&c.cloud_id) {
                continue;
            }
            let known = self.app.0.places.read().ok().and_then(|m| m.get(&(org, c.cloud_id)).cloned());
            let place = match known {
                Some(p) => p,
                None => match self.app.store().get_cloud(org, c.cloud_id).await {
                    Ok(k) => {
                        let p = (k.provider, k.region);
                        if let Ok(mut m) = self.app.0.places.write() {
                            m.insert((org, c.cloud_id), p.clone());
                        }
                        p
                    }
                    Err(dbcloud_core::Error::NotFound(_)) => continue,
                    Err(e) => return Err(e),
                },
            };
            out.insert(c.cloud_id, place);
        }
        Ok(out)
    }
}
