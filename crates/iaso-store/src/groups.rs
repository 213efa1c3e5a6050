//! Groups of org units and group sets, both scoped to a source version.

use crate::audit::{self, Change};
use crate::org_units::OrgUnitScope;
use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn, Sql};
use iaso_domain::{
    FieldErrors, GroupId, GroupSetId, OrgUnitId, OrgUnitTypeId, SourceVersionId, UserId,
};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A version as nested in group answers.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRef {
    pub id: i64,
    pub number: i64,
    pub data_source_id: i64,
    pub data_source_name: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub source_ref: Option<String>,
    pub block_of_countries: bool,
    pub version: VersionRef,
    pub org_unit_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: i64,
    name: String,
    source_ref: Option<String>,
    block_of_countries: bool,
    version_id: i64,
    version_number: i64,
    data_source_id: i64,
    data_source_name: String,
    read_only: bool,
    org_unit_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Self {
        Group {
            id: GroupId(r.id),
            name: r.name,
            source_ref: r.source_ref,
            block_of_countries: r.block_of_countries,
            version: VersionRef {
                id: r.version_id,
                number: r.version_number,
                data_source_id: r.data_source_id,
                data_source_name: r.data_source_name,
                read_only: r.read_only,
            },
            org_unit_count: r.org_unit_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const GROUP_SELECT: &str = "SELECT g.id, g.name, g.source_ref, g.block_of_countries, \
    sv.id AS version_id, sv.number AS version_number, ds.id AS data_source_id, \
    ds.name AS data_source_name, ds.read_only, \
    (SELECT COUNT(*) FROM group_org_units gu WHERE gu.group_id = g.id) AS org_unit_count, \
    g.created_at, g.updated_at \
    FROM groups g JOIN source_versions sv ON sv.id = g.source_version_id \
    JOIN data_sources ds ON ds.id = sv.data_source_id";

/// Filters of `/api/groups/`.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    pub versions: Vec<i64>,
    pub data_sources: Vec<i64>,
    /// Versions of the sources linked to these projects.
    pub project_ids: Vec<i64>,
    pub block_of_countries: bool,
    pub search: Option<String>,
    pub order: Vec<String>,
}

/// Fields of a group; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub source_ref: Option<Option<String>>,
    pub block_of_countries: Option<bool>,
    pub org_unit_ids: Option<Vec<OrgUnitId>>,
}

fn group_order(order: &[String]) -> String {
    let mut parts = Vec::new();
    for key in order.iter().flat_map(|o| o.split(',')) {
        let key = key.trim();
        let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
        let col = match key {
            "name" => "g.name",
            "id" => "g.id",
            "source_ref" => "g.source_ref",
            "created_at" => "g.created_at",
            "updated_at" => "g.updated_at",
            "org_unit_count" => "org_unit_count",
            "source_version__number" => "sv.number",
            "source_version__data_source__name" => "ds.name",
            _ => continue,
        };
        parts.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
    }
    if parts.is_empty() {
        parts.push("g.name ASC".into());
    }
    parts.push("g.id ASC".into());
    parts.join(", ")
}

fn group_snapshot(g: &Group, members: &[i64]) -> Value {
    json!([{
        "model": "iaso.group",
        "pk": g.id,
        "fields": {
            "name": g.name,
            "source_ref": g.source_ref,
            "org_units": members,
            "block_of_countries": g.block_of_countries,
            "source_version": g.version.id,
            "created_at": g.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "updated_at": g.updated_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        }
    }])
}

/// Checks that the units are in the scope and in `version` (and of editable types).
async fn check_members(
    c: &mut impl Conn,
    scope: &OrgUnitScope,
    editable_types: &[OrgUnitTypeId],
    version: i64,
    units: &[OrgUnitId],
) -> StoreResult<()> {
    if units.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(
        "SELECT ou.id, ou.version_id, ou.org_unit_type_id FROM org_units ou WHERE ou.id IN (",
    );
    q.bind_list(units.iter().map(|u| u.get())).push(")");
    scope.push(&mut q, "ou");
    let found: Vec<(i64, i64, Option<i64>)> = c.fetch_all(q).await?;
    let mut errors = FieldErrors::new();
    for u in units.iter().collect::<BTreeSet<_>>() {
        match found.iter().find(|f| f.0 == u.get()) {
            None => {
                errors.add(
                    "org_unit_ids",
                    format!("Invalid pk \"{u}\" - object does not exist."),
                );
            }
            Some((_, v, _)) if *v != version => {
                errors.add(
                    "org_unit_ids",
                    "Org units must be in the group's source version",
                );
            }
            Some((_, _, t)) => {
                if !editable_types.is_empty()
                    && !t.is_some_and(|t| editable_types.contains(&OrgUnitTypeId(t)))
                {
                    errors.add(
                        "org_unit_ids",
                        format!("Invalid pk \"{u}\" - object does not exist."),
                    );
                }
            }
        }
    }
    errors.into_result().map_err(StoreError::Invalid)
}

async fn members(c: &mut impl Conn, group: i64) -> StoreResult<Vec<i64>> {
    let rows: Vec<(i64,)> = c
        .fetch_all(sql!(
            "SELECT org_unit_id FROM group_org_units WHERE group_id = $1 ORDER BY org_unit_id",
            group
        ))
        .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Inserts a group in a version (API, demo data, imports).
pub async fn insert_group(
    c: &mut impl Conn,
    version: SourceVersionId,
    name: &str,
    source_ref: Option<&str>,
    units: &[i64],
) -> StoreResult<GroupId> {
    let now = iaso_db::now();
    let id: i64 = c
        .fetch_scalar(sql!(
            "INSERT INTO groups (source_version_id, name, source_ref, block_of_countries, created_at, updated_at)
             VALUES ($1, $2, $3, FALSE, $4, $4) RETURNING id",
            version.get(),
            name,
            source_ref,
            now
        ))
        .await?;
    let pairs: Vec<(i64, i64)> = units.iter().map(|u| (id, *u)).collect();
    crate::org_unit_io::insert_memberships(c, &pairs).await?;
    Ok(GroupId(id))
}

impl Store {
    pub async fn list_groups(
        &self,
        scope: &OrgUnitScope,
        filter: &GroupFilter,
    ) -> StoreResult<Vec<Group>> {
        let mut db = self.db.clone();
        let mut q = Sql::new(GROUP_SELECT);
        q.push(" WHERE 1 = 1");
        if scope.versions.is_empty() {
            return Ok(Vec::new());
        }
        q.push(" AND g.source_version_id IN (")
            .bind_list(scope.versions.iter().copied())
            .push(")");
        if !filter.versions.is_empty() {
            q.push(" AND g.source_version_id IN (")
                .bind_list(filter.versions.iter().copied())
                .push(")");
        }
        if !filter.data_sources.is_empty() {
            q.push(" AND ds.id IN (")
                .bind_list(filter.data_sources.iter().copied())
                .push(")");
        }
        if !filter.project_ids.is_empty() {
            q.push(" AND EXISTS (SELECT 1 FROM data_source_projects dsp WHERE dsp.data_source_id = ds.id AND dsp.project_id IN (")
                .bind_list(filter.project_ids.iter().copied())
                .push("))");
        }
        if filter.block_of_countries {
            q.push(" AND g.block_of_countries = TRUE");
        }
        if let Some(s) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            q.push(" AND lower(g.name) LIKE ")
                .bind(crate::like_contains(s))
                .push(" ESCAPE '\\'");
        }
        q.push(" ORDER BY ").push(&group_order(&filter.order));
        let rows: Vec<GroupRow> = db.fetch_all(q).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn group(&self, scope: &OrgUnitScope, id: GroupId) -> StoreResult<Group> {
        if scope.versions.is_empty() {
            return Err(StoreError::NotFound);
        }
        let mut db = self.db.clone();
        let mut q = Sql::new(GROUP_SELECT);
        q.push(" WHERE g.id = ")
            .bind(id.get())
            .push(" AND g.source_version_id IN (")
            .bind_list(scope.versions.iter().copied())
            .push(")");
        let row: GroupRow = db.fetch_one(q).await?;
        Ok(row.into())
    }

    /// Member ids of many groups (`group id` → unit ids), all units (list answers).
    pub async fn groups_member_ids(&self, ids: &[i64]) -> StoreResult<Vec<(i64, i64)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut db = self.db.clone();
        let mut q =
            Sql::new("SELECT group_id, org_unit_id FROM group_org_units WHERE group_id IN (");
        q.bind_list(ids.iter().copied())
            .push(") ORDER BY group_id, org_unit_id");
        Ok(db.fetch_all(q).await?)
    }

    /// Creates a group in `version` (the account's default version for the API).
    pub async fn create_group(
        &self,
        scope: &OrgUnitScope,
        editable_types: &[OrgUnitTypeId],
        version: SourceVersionId,
        ch: &GroupChanges,
        user: Option<UserId>,
    ) -> StoreResult<Group> {
        if !scope.versions.contains(&version.get()) {
            return Err(StoreError::invalid(
                "source_version",
                "Unknown source version.",
            ));
        }
        let mut tx = self.db.begin().await?;
        let read_only: bool = tx
            .fetch_scalar(sql!(
                "SELECT ds.read_only FROM source_versions sv JOIN data_sources ds ON ds.id = sv.data_source_id WHERE sv.id = $1",
                version.get()
            ))
            .await?;
        if read_only {
            return Err(StoreError::invalid(
                "source_version",
                "The data source of the default version is read only.",
            ));
        }
        if let Some(Some(r)) = &ch.source_ref {
            let taken: Option<(i64,)> = tx
                .fetch_optional(sql!(
                    "SELECT id FROM groups WHERE source_version_id = $1 AND source_ref = $2",
                    version.get(),
                    r.as_str()
                ))
                .await?;
            if taken.is_some() {
                return Err(StoreError::invalid(
                    "source_ref",
                    "This source ref is already used by another group in your default version",
                ));
            }
        }
        let units = ch.org_unit_ids.clone().unwrap_or_default();
        check_members(&mut tx, scope, editable_types, version.get(), &units).await?;
        let unit_ids: Vec<i64> = units
            .iter()
            .map(|u| u.get())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let id = insert_group(
            &mut tx,
            version,
            ch.name.as_deref().unwrap_or_default().trim(),
            ch.source_ref.clone().flatten().as_deref(),
            &unit_ids,
        )
        .await?;
        if ch.block_of_countries == Some(true) {
            tx.execute(sql!(
                "UPDATE groups SET block_of_countries = TRUE WHERE id = $1",
                id.get()
            ))
            .await?;
        }
        tx.commit().await?;
        let g = self.group(scope, id).await?;
        let mut db = self.db.clone();
        audit::log(
            &mut db,
            &Change {
                account: Some(scope.account),
                content_type: "iaso.group",
                object_id: id.get().to_string(),
                past: json!([]),
                new: group_snapshot(&g, &unit_ids),
                source: audit::sources::GROUP_API,
                user,
            },
        )
        .await?;
        Ok(g)
    }

    pub async fn update_group(
        &self,
        scope: &OrgUnitScope,
        editable_types: &[OrgUnitTypeId],
        id: GroupId,
        ch: &GroupChanges,
        user: Option<UserId>,
    ) -> StoreResult<Group> {
        let current = self.group(scope, id).await?;
        if current.version.read_only {
            return Err(StoreError::Conflict(
                "The data source of this group is read only.".into(),
            ));
        }
        let mut tx = self.db.begin().await?;
        let before_members = members(&mut tx, id.get()).await?;
        if let Some(units) = &ch.org_unit_ids {
            check_members(&mut tx, scope, editable_types, current.version.id, units).await?;
        }
        tx.execute(sql!(
            "UPDATE groups SET name = $1, source_ref = $2, block_of_countries = $3, updated_at = $4 WHERE id = $5",
            ch.name.clone().unwrap_or(current.name.clone()).trim(),
            ch.source_ref.clone().unwrap_or(current.source_ref.clone()),
            ch.block_of_countries.unwrap_or(current.block_of_countries),
            iaso_db::now(),
            id.get()
        ))
        .await?;
        if let Some(units) = &ch.org_unit_ids {
            // Members outside the caller's scope stay: a restricted user edits only its part.
            let visible: Vec<i64> = {
                let mut q = Sql::new(
                    "SELECT ou.id FROM group_org_units gu JOIN org_units ou ON ou.id = gu.org_unit_id WHERE gu.group_id = ",
                );
                q.bind(id.get());
                scope.push(&mut q, "ou");
                let rows: Vec<(i64,)> = tx.fetch_all(q).await?;
                rows.into_iter().map(|r| r.0).collect()
            };
            if !visible.is_empty() {
                let mut q = Sql::new("DELETE FROM group_org_units WHERE group_id = ");
                q.bind(id.get())
                    .push(" AND org_unit_id IN (")
                    .bind_list(visible.iter().copied())
                    .push(")");
                tx.execute(q).await?;
            }
            for u in units.iter().map(|u| u.get()).collect::<BTreeSet<_>>() {
                tx.execute(sql!(
                    "INSERT INTO group_org_units (group_id, org_unit_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    id.get(),
                    u
                ))
                .await?;
            }
        }
        let after_members = members(&mut tx, id.get()).await?;
        tx.commit().await?;
        let g = self.group(scope, id).await?;
        let mut db = self.db.clone();
        audit::log(
            &mut db,
            &Change {
                account: Some(scope.account),
                content_type: "iaso.group",
                object_id: id.get().to_string(),
                past: group_snapshot(&current, &before_members),
                new: group_snapshot(&g, &after_members),
                source: audit::sources::GROUP_API,
                user,
            },
        )
        .await?;
        Ok(g)
    }

    pub async fn delete_group(
        &self,
        scope: &OrgUnitScope,
        id: GroupId,
        user: Option<UserId>,
    ) -> StoreResult<()> {
        let current = self.group(scope, id).await?;
        if current.version.read_only {
            return Err(StoreError::Conflict(
                "The data source of this group is read only.".into(),
            ));
        }
        let mut tx = self.db.begin().await?;
        let before_members = members(&mut tx, id.get()).await?;
        tx.execute(sql!("DELETE FROM groups WHERE id = $1", id.get()))
            .await?;
        audit::log(
            &mut tx,
            &Change {
                account: Some(scope.account),
                content_type: "iaso.group",
                object_id: id.get().to_string(),
                past: group_snapshot(&current, &before_members),
                new: json!([]),
                source: audit::sources::GROUP_API,
                user,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

// ------------------------------------------------------------------------------ group sets

#[derive(Debug, Clone, PartialEq)]
pub struct GroupSet {
    pub id: GroupSetId,
    pub name: String,
    pub source_ref: Option<String>,
    pub group_belonging: String,
    pub version: VersionRef,
    pub groups: Vec<GroupRefInSet>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A group as nested in group set answers.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRefInSet {
    pub id: i64,
    pub name: String,
    pub version: VersionRef,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct GroupSetRow {
    id: i64,
    name: String,
    source_ref: Option<String>,
    group_belonging: String,
    version_id: i64,
    version_number: i64,
    data_source_id: i64,
    data_source_name: String,
    read_only: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const GROUP_SET_SELECT: &str = "SELECT gs.id, gs.name, gs.source_ref, gs.group_belonging, \
    sv.id AS version_id, sv.number AS version_number, ds.id AS data_source_id, \
    ds.name AS data_source_name, ds.read_only, gs.created_at, gs.updated_at \
    FROM group_sets gs JOIN source_versions sv ON sv.id = gs.source_version_id \
    JOIN data_sources ds ON ds.id = sv.data_source_id";

/// Filters of `/api/group_sets/`.
#[derive(Debug, Clone, Default)]
pub struct GroupSetFilter {
    pub versions: Vec<i64>,
    pub project_ids: Vec<i64>,
    pub search: Option<String>,
    pub order: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct GroupSetChanges {
    pub name: Option<String>,
    pub source_ref: Option<Option<String>>,
    pub group_belonging: Option<String>,
    pub source_version_id: Option<SourceVersionId>,
    pub group_ids: Option<Vec<GroupId>>,
}

async fn load_sets(c: &mut impl Conn, rows: Vec<GroupSetRow>) -> StoreResult<Vec<GroupSet>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(
        "SELECT gsg.group_set_id, g.id, g.name, sv.id, sv.number, ds.id, ds.name, ds.read_only, g.created_at, g.updated_at
         FROM group_set_groups gsg JOIN groups g ON g.id = gsg.group_id
         JOIN source_versions sv ON sv.id = g.source_version_id JOIN data_sources ds ON ds.id = sv.data_source_id
         WHERE gsg.group_set_id IN (",
    );
    q.bind_list(rows.iter().map(|r| r.id))
        .push(") ORDER BY g.id");
    #[allow(clippy::type_complexity)]
    let groups: Vec<(
        i64,
        i64,
        String,
        i64,
        i64,
        i64,
        String,
        bool,
        DateTime<Utc>,
        DateTime<Utc>,
    )> = c.fetch_all(q).await?;
    Ok(rows
        .into_iter()
        .map(|r| GroupSet {
            groups: groups
                .iter()
                .filter(|g| g.0 == r.id)
                .map(|g| GroupRefInSet {
                    id: g.1,
                    name: g.2.clone(),
                    version: VersionRef {
                        id: g.3,
                        number: g.4,
                        data_source_id: g.5,
                        data_source_name: g.6.clone(),
                        read_only: g.7,
                    },
                    created_at: g.8,
                    updated_at: g.9,
                })
                .collect(),
            id: GroupSetId(r.id),
            name: r.name,
            source_ref: r.source_ref,
            group_belonging: r.group_belonging,
            version: VersionRef {
                id: r.version_id,
                number: r.version_number,
                data_source_id: r.data_source_id,
                data_source_name: r.data_source_name,
                read_only: r.read_only,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

fn set_snapshot(s: &GroupSet) -> Value {
    json!([{
        "model": "iaso.groupset",
        "pk": s.id,
        "fields": {
            "name": s.name,
            "source_ref": s.source_ref,
            "source_version": s.version.id,
            "groups": s.groups.iter().map(|g| g.id).collect::<Vec<_>>(),
            "group_belonging": s.group_belonging,
            "created_at": s.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "updated_at": s.updated_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        }
    }])
}

impl Store {
    pub async fn list_group_sets(
        &self,
        scope: &OrgUnitScope,
        filter: &GroupSetFilter,
    ) -> StoreResult<Vec<GroupSet>> {
        if scope.versions.is_empty() {
            return Ok(Vec::new());
        }
        let mut db = self.db.clone();
        let mut q = Sql::new(GROUP_SET_SELECT);
        q.push(" WHERE gs.source_version_id IN (")
            .bind_list(scope.versions.iter().copied())
            .push(")");
        if !filter.versions.is_empty() {
            q.push(" AND gs.source_version_id IN (")
                .bind_list(filter.versions.iter().copied())
                .push(")");
        }
        if !filter.project_ids.is_empty() {
            q.push(" AND EXISTS (SELECT 1 FROM data_source_projects dsp WHERE dsp.data_source_id = ds.id AND dsp.project_id IN (")
                .bind_list(filter.project_ids.iter().copied())
                .push("))");
        }
        if let Some(s) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            q.push(" AND lower(gs.name) LIKE ")
                .bind(crate::like_contains(s))
                .push(" ESCAPE '\\'");
        }
        let mut parts = Vec::new();
        for key in filter.order.iter().flat_map(|o| o.split(',')) {
            let key = key.trim();
            let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
            let col = match key {
                "name" => "gs.name",
                "id" => "gs.id",
                "created_at" => "gs.created_at",
                "updated_at" => "gs.updated_at",
                "group_belonging" => "gs.group_belonging",
                _ => continue,
            };
            parts.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
        }
        if parts.is_empty() {
            parts.push("gs.name ASC".into());
        }
        parts.push("gs.id ASC".into());
        q.push(" ORDER BY ").push(&parts.join(", "));
        let rows: Vec<GroupSetRow> = db.fetch_all(q).await?;
        load_sets(&mut db, rows).await
    }

    pub async fn group_set(&self, scope: &OrgUnitScope, id: GroupSetId) -> StoreResult<GroupSet> {
        if scope.versions.is_empty() {
            return Err(StoreError::NotFound);
        }
        let mut db = self.db.clone();
        let mut q = Sql::new(GROUP_SET_SELECT);
        q.push(" WHERE gs.id = ")
            .bind(id.get())
            .push(" AND gs.source_version_id IN (")
            .bind_list(scope.versions.iter().copied())
            .push(")");
        let row: GroupSetRow = db.fetch_one(q).await?;
        load_sets(&mut db, vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    async fn check_set(
        &self,
        c: &mut impl Conn,
        scope: &OrgUnitScope,
        version: i64,
        ch: &GroupSetChanges,
    ) -> StoreResult<()> {
        let mut errors = FieldErrors::new();
        if let Some(b) = &ch.group_belonging {
            if b != "SINGLE" && b != "MULTIPLE" {
                errors.add("group_belonging", format!("\"{b}\" is not a valid choice."));
            }
        }
        if let Some(groups) = ch.group_ids.as_ref().filter(|g| !g.is_empty()) {
            let mut q = Sql::new("SELECT id, source_version_id FROM groups WHERE id IN (");
            q.bind_list(groups.iter().map(|g| g.get()))
                .push(") AND source_version_id IN (")
                .bind_list(scope.versions.iter().copied())
                .push(")");
            let found: Vec<(i64, i64)> = c.fetch_all(q).await?;
            let distinct: BTreeSet<i64> = groups.iter().map(|g| g.get()).collect();
            if found.len() != distinct.len() {
                errors.add("group_ids", "Some groups do not exist.");
            } else if found.iter().any(|f| f.1 != version) {
                errors.add(
                    "group_ids",
                    "Groups do not all belong to the same source version as the group set.",
                );
            }
        }
        errors.into_result().map_err(StoreError::Invalid)
    }

    pub async fn create_group_set(
        &self,
        scope: &OrgUnitScope,
        ch: &GroupSetChanges,
        user: Option<UserId>,
    ) -> StoreResult<GroupSet> {
        let Some(version) = ch.source_version_id else {
            return Err(StoreError::invalid(
                "source_version_id",
                "This field is required.",
            ));
        };
        if !scope.versions.contains(&version.get()) {
            return Err(StoreError::invalid(
                "source_version_id",
                "Not found or no access to it.",
            ));
        }
        let mut tx = self.db.begin().await?;
        self.check_set(&mut tx, scope, version.get(), ch).await?;
        let now = iaso_db::now();
        let id: i64 = tx
            .fetch_scalar(sql!(
                "INSERT INTO group_sets (source_version_id, name, source_ref, group_belonging, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                version.get(),
                ch.name.clone().unwrap_or_default().trim(),
                ch.source_ref.clone().flatten(),
                ch.group_belonging.clone().unwrap_or_else(|| "SINGLE".into()),
                now
            ))
            .await?;
        for g in ch.group_ids.iter().flatten().collect::<BTreeSet<_>>() {
            tx.execute(sql!(
                "INSERT INTO group_set_groups (group_set_id, group_id) VALUES ($1, $2)",
                id,
                g.get()
            ))
            .await?;
        }
        tx.commit().await?;
        let s = self.group_set(scope, GroupSetId(id)).await?;
        let mut db = self.db.clone();
        audit::log(
            &mut db,
            &Change {
                account: Some(scope.account),
                content_type: "iaso.groupset",
                object_id: id.to_string(),
                past: json!([]),
                new: set_snapshot(&s),
                source: audit::sources::GROUP_SET_API,
                user,
            },
        )
        .await?;
        Ok(s)
    }

    pub async fn update_group_set(
        &self,
        scope: &OrgUnitScope,
        id: GroupSetId,
        ch: &GroupSetChanges,
        user: Option<UserId>,
    ) -> StoreResult<GroupSet> {
        let current = self.group_set(scope, id).await?;
        if current.version.read_only {
            return Err(StoreError::Conflict(
                "The data source of this group set is read only.".into(),
            ));
        }
        let version = match ch.source_version_id {
            Some(v) if !scope.versions.contains(&v.get()) => {
                return Err(StoreError::invalid(
                    "source_version_id",
                    "Not found or no access to it.",
                ))
            }
            Some(v) => v.get(),
            None => current.version.id,
        };
        if ch.group_ids.is_none() && version != current.version.id && !current.groups.is_empty() {
            return Err(StoreError::invalid(
                "source_version_id",
                "Groups do not belong to the same SourceVersion.",
            ));
        }
        let mut tx = self.db.begin().await?;
        self.check_set(&mut tx, scope, version, ch).await?;
        tx.execute(sql!(
            "UPDATE group_sets SET name = $1, source_ref = $2, group_belonging = $3, source_version_id = $4, updated_at = $5
             WHERE id = $6",
            ch.name.clone().unwrap_or(current.name.clone()).trim(),
            ch.source_ref.clone().unwrap_or(current.source_ref.clone()),
            ch.group_belonging.clone().unwrap_or(current.group_belonging.clone()),
            version,
            iaso_db::now(),
            id.get()
        ))
        .await?;
        if let Some(groups) = &ch.group_ids {
            tx.execute(sql!(
                "DELETE FROM group_set_groups WHERE group_set_id = $1",
                id.get()
            ))
            .await?;
            for g in groups.iter().collect::<BTreeSet<_>>() {
                tx.execute(sql!(
                    "INSERT INTO group_set_groups (group_set_id, group_id) VALUES ($1, $2)",
                    id.get(),
                    g.get()
                ))
                .await?;
            }
        }
        tx.commit().await?;
        let s = self.group_set(scope, id).await?;
        let mut db = self.db.clone();
        audit::log(
            &mut db,
            &Change {
                account: Some(scope.account),
                content_type: "iaso.groupset",
                object_id: id.get().to_string(),
                past: set_snapshot(&current),
                new: set_snapshot(&s),
                source: audit::sources::GROUP_SET_API,
                user,
            },
        )
        .await?;
        Ok(s)
    }

    pub async fn delete_group_set(
        &self,
        scope: &OrgUnitScope,
        id: GroupSetId,
        user: Option<UserId>,
    ) -> StoreResult<()> {
        let current = self.group_set(scope, id).await?;
        if current.version.read_only {
            return Err(StoreError::Conflict(
                "The data source of this group set is read only.".into(),
            ));
        }
        let mut tx = self.db.begin().await?;
        tx.execute(sql!("DELETE FROM group_sets WHERE id = $1", id.get()))
            .await?;
        audit::log(
            &mut tx,
            &Change {
                account: Some(scope.account),
                content_type: "iaso.groupset",
                object_id: id.get().to_string(),
                past: set_snapshot(&current),
                new: json!([]),
                source: audit::sources::GROUP_SET_API,
                user,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
