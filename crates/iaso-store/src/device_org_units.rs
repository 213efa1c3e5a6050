//! Org units created on devices (the mobile app's `POST /api/mobile/orgunits/` and the
//! `orgUnits.json` of a bulk upload): idempotent on the device's uuid, in the account's
//! default version, NEW and custom, parents named by id or by the uuid of a unit created on a
//! device too (possibly earlier in the same batch).

use crate::instances::OrgUnitRef;
use crate::org_units::{create_org_unit_in, NewOrgUnit, OrgUnit, Writer};
use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn};
use iaso_domain::{OrgUnitId, OrgUnitTypeId, SourceVersionId};
use iaso_geo::Point;

/// One unit as a device sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceOrgUnit {
    /// The device's id of the unit (`id`).
    pub uuid: String,
    pub name: String,
    pub parent: Option<OrgUnitRef>,
    pub org_unit_type_id: Option<OrgUnitTypeId>,
    pub location: Option<Point>,
    pub created_at: Option<DateTime<Utc>>,
}

/// The unit with this device uuid in a version, if any.
pub async fn org_unit_by_uuid_in(
    c: &mut impl Conn,
    version: SourceVersionId,
    uuid: &str,
) -> StoreResult<Option<OrgUnitId>> {
    let row: Option<(i64,)> = c
        .fetch_optional(sql!(
            "SELECT id FROM org_units WHERE version_id = $1 AND uuid = $2 ORDER BY id LIMIT 1",
            version.get(),
            uuid
        ))
        .await?;
    Ok(row.map(|r| OrgUnitId(r.0)))
}

/// Creates the units a device sent, oldest first, skipping uuids already known; returns the
/// ids of the units created. Runs in the caller's transaction.
pub async fn create_device_org_units_in(
    c: &mut impl Conn,
    w: &Writer<'_>,
    version: SourceVersionId,
    items: &[DeviceOrgUnit],
) -> StoreResult<Vec<OrgUnitId>> {
    let mut items: Vec<&DeviceOrgUnit> = items.iter().collect();
    items.sort_by_key(|i| i.created_at);
    let mut created = Vec::new();
    for item in items {
        if org_unit_by_uuid_in(&mut *c, version, &item.uuid)
            .await?
            .is_some()
        {
            continue;
        }
        let parent_id = match &item.parent {
            None => None,
            Some(OrgUnitRef::Id(id)) => Some(OrgUnitId(*id)),
            Some(OrgUnitRef::Uuid(u)) => Some(
                org_unit_by_uuid_in(&mut *c, version, u)
                    .await?
                    .ok_or_else(|| {
                        StoreError::invalid(
                            "parent_id",
                            format!("Parent OrgUnit with uuid {u} not found."),
                        )
                    })?,
            ),
        };
        let id = create_org_unit_in(
            &mut *c,
            w,
            Some(version),
            &NewOrgUnit {
                name: item.name.clone(),
                uuid: Some(item.uuid.clone()),
                custom: true,
                validation_status: Some("NEW".into()),
                parent_id,
                org_unit_type_id: item.org_unit_type_id,
                location: item.location,
                creator: w.user,
                source_created_at: item.created_at,
                ..Default::default()
            },
        )
        .await?;
        created.push(id);
    }
    Ok(created)
}

impl Store {
    /// Creates the units a device sent in one transaction (all or none); returns them.
    pub async fn create_device_org_units(
        &self,
        w: &Writer<'_>,
        version: SourceVersionId,
        items: &[DeviceOrgUnit],
    ) -> StoreResult<Vec<OrgUnit>> {
        let mut tx = self.db.begin().await?;
        let ids = create_device_org_units_in(&mut tx, w, version, items).await?;
        tx.commit().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.org_unit(w.scope, id).await?);
        }
        Ok(out)
    }
}
