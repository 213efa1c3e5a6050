//! Storage side of org unit imports and exports (GeoPackage, tree CSV/XLSX, copies, bulk
//! updates, file exports): set-based helpers that run inside the caller's transaction and
//! scale to hundreds of thousands of units (multi-row statements, no per-unit round trip on
//! the hot paths), and the export row stream.
//!
//! Import algorithms live in `iaso-tasks` (one transaction per task); file formats in
//! `iaso-exchange`. See `docs/decisions/0700-import-export.md`.

use crate::org_unit_search::OrgUnitFilter;
use crate::org_units::{decode_shape, OrgUnitScope};
use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};
use futures::stream::BoxStream;
use iaso_db::{sql, Backend, Conn, Sql, Value};
use iaso_domain::{AccountId, DataSourceId, OrgUnitTypeId, SourceVersionId, UserId};
use iaso_geo::{Geometry, Point};
use serde_json::{json, Value as Json};
use std::collections::HashMap;

/// Rows per multi-row statement with `cols` bind values per row: SQLite resolves `$n` names
/// with a linear search while parsing (quadratic in one statement's parameters), so it gets
/// about 1000 parameters per statement; PostgreSQL about 8000.
pub fn rows_per_statement(backend: Backend, cols: usize) -> usize {
    let params = match backend {
        Backend::Postgres => 8_000,
        Backend::Sqlite => 1_000,
    };
    (params / cols.max(1)).max(1)
}

/// Iaso's artificial reference of a unit or group without `source_ref`.
pub fn iaso_ref(id: i64) -> String {
    format!("iaso:{id}")
}

/// `source_ref` if non-empty (old `iaso#` prefix rewritten), else `iaso:<id>` (Iaso's `get_ref`).
pub fn ref_of(id: i64, source_ref: Option<&str>) -> String {
    match source_ref {
        Some(r) if !r.is_empty() => normalize_ref(r),
        _ => iaso_ref(id),
    }
}

/// Rewrites the old internal prefix `iaso#` to `iaso:`.
pub fn normalize_ref(r: &str) -> String {
    match r.strip_prefix("iaso#") {
        Some(rest) => format!("iaso:{rest}"),
        None => r.to_string(),
    }
}

/// A data source as an import needs it.
#[derive(Debug, Clone)]
pub struct ImportSource {
    pub id: DataSourceId,
    pub name: String,
    pub read_only: bool,
    pub default_version_id: Option<i64>,
    /// Linked projects, by id.
    pub project_ids: Vec<i64>,
    /// The account of the first project (Iaso sets its default version).
    pub first_project_account: Option<i64>,
}

/// The source, if the account can see it.
pub async fn import_source(
    c: &mut impl Conn,
    account: AccountId,
    source: DataSourceId,
) -> StoreResult<ImportSource> {
    let row: Option<(i64, String, bool, Option<i64>)> = c
        .fetch_optional(sql!(
            &format!(
                "SELECT ds.id, ds.name, ds.read_only, ds.default_version_id FROM data_sources ds
                 WHERE ds.id = $1 AND {}",
                crate::sources::source_visible("ds", "$2")
            ),
            source.get(),
            account.get()
        ))
        .await?;
    let Some((id, name, read_only, default_version_id)) = row else {
        return Err(StoreError::NotFound);
    };
    let projects: Vec<(i64, i64)> = c
        .fetch_all(sql!(
            "SELECT p.id, p.account_id FROM data_source_projects dsp JOIN projects p ON p.id = dsp.project_id
             WHERE dsp.data_source_id = $1 ORDER BY p.id",
            id
        ))
        .await?;
    Ok(ImportSource {
        id: DataSourceId(id),
        name,
        read_only,
        default_version_id,
        first_project_account: projects.first().map(|p| p.1),
        project_ids: projects.into_iter().map(|p| p.0).collect(),
    })
}

/// The version an import writes to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportVersion {
    pub id: SourceVersionId,
    pub number: i64,
    pub created: bool,
}

/// Iaso's version rule for imports: `number` or the next one (`max + 1`, 0 for a source
/// without versions), created if missing (with `description`), touched otherwise. The source's
/// and the first project's account's default versions are set when empty.
pub async fn import_version(
    c: &mut impl Conn,
    source: &ImportSource,
    number: Option<i64>,
    description: Option<&str>,
) -> StoreResult<ImportVersion> {
    let number = match number {
        Some(n) => n,
        None => {
            let max: Option<i64> = c
                .fetch_scalar(sql!(
                    "SELECT MAX(number) FROM source_versions WHERE data_source_id = $1",
                    source.id.get()
                ))
                .await?;
            max.map_or(0, |m| m + 1)
        }
    };
    let now = iaso_db::now();
    let existing: Option<(i64,)> = c
        .fetch_optional(sql!(
            "SELECT id FROM source_versions WHERE data_source_id = $1 AND number = $2",
            source.id.get(),
            number
        ))
        .await?;
    let (id, created) = match existing {
        Some((id,)) => {
            c.execute(sql!(
                "UPDATE source_versions SET updated_at = $1 WHERE id = $2",
                now,
                id
            ))
            .await?;
            (id, false)
        }
        None => {
            let id: i64 = c
                .fetch_scalar(sql!(
                    "INSERT INTO source_versions (data_source_id, number, description, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $4) RETURNING id",
                    source.id.get(),
                    number,
                    description,
                    now
                ))
                .await?;
            (id, true)
        }
    };
    c.execute(sql!(
        "UPDATE data_sources SET default_version_id = $1, updated_at = $2 WHERE id = $3 AND default_version_id IS NULL",
        id,
        now,
        source.id.get()
    ))
    .await?;
    if let Some(a) = source.first_project_account {
        c.execute(sql!(
            "UPDATE accounts SET default_version_id = $1, updated_at = $2 WHERE id = $3 AND default_version_id IS NULL",
            id,
            now,
            a
        ))
        .await?;
    }
    Ok(ImportVersion {
        id: SourceVersionId(id),
        number,
        created,
    })
}

/// Iaso's `get_or_create_org_unit_type(name, depth, account, preferred_project)`: a type of
/// the account with that name and depth linked to `preferred_project`, else linked to any
/// project of the account, else a new one (short name: the part after the last " - ").
/// The type is then linked to every project in `link_projects`.
pub async fn get_or_create_type(
    c: &mut impl Conn,
    account: AccountId,
    name: &str,
    depth: Option<i64>,
    preferred_project: Option<i64>,
    link_projects: &[i64],
) -> StoreResult<OrgUnitTypeId> {
    let mut q = Sql::new(
        "SELECT t.id, EXISTS (SELECT 1 FROM org_unit_type_projects tp WHERE tp.org_unit_type_id = t.id AND tp.project_id = ",
    );
    q.bind(preferred_project.unwrap_or(-1))
        .push(") AS preferred, EXISTS (SELECT 1 FROM org_unit_type_projects tp JOIN projects p ON p.id = tp.project_id WHERE tp.org_unit_type_id = t.id AND p.account_id = ")
        .bind(account.get())
        .push(") AS in_account FROM org_unit_types t WHERE t.account_id = ")
        .bind(account.get())
        .push(" AND t.name = ")
        .bind(name);
    match depth {
        Some(d) => q.push(" AND t.depth = ").bind(d),
        None => q.push(" AND t.depth IS NULL"),
    };
    q.push(" ORDER BY t.id");
    let found: Vec<(i64, bool, bool)> = c.fetch_all(q).await?;
    let chosen = found
        .iter()
        .find(|f| f.1)
        .or_else(|| found.iter().find(|f| f.2))
        .map(|f| f.0);
    let id = match chosen {
        Some(id) => OrgUnitTypeId(id),
        None => {
            crate::org_unit_types::insert_org_unit_type(
                c,
                account,
                &crate::org_unit_types::TypeChanges {
                    name: Some(name.to_string()),
                    depth: Some(depth),
                    ..Default::default()
                },
            )
            .await?
        }
    };
    link_type_to_projects(c, id, link_projects).await?;
    Ok(id)
}

/// Adds project links a type does not have yet.
pub async fn link_type_to_projects(
    c: &mut impl Conn,
    t: OrgUnitTypeId,
    projects: &[i64],
) -> StoreResult<()> {
    for p in projects {
        c.execute(sql!(
            "INSERT INTO org_unit_type_projects (org_unit_type_id, project_id)
             SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM org_unit_type_projects WHERE org_unit_type_id = $1 AND project_id = $2)",
            t.get(),
            *p
        ))
        .await?;
    }
    Ok(())
}

/// Adds `sub` to the allowed child types of `parent` if missing.
pub async fn link_sub_type(
    c: &mut impl Conn,
    parent: OrgUnitTypeId,
    sub: OrgUnitTypeId,
) -> StoreResult<()> {
    c.execute(sql!(
        "INSERT INTO org_unit_type_sub_types (org_unit_type_id, sub_type_id)
         SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM org_unit_type_sub_types WHERE org_unit_type_id = $1 AND sub_type_id = $2)",
        parent.get(),
        sub.get()
    ))
    .await?;
    Ok(())
}

/// Who writes, for audit rows.
#[derive(Debug, Clone, Copy)]
pub struct Author<'a> {
    pub account: AccountId,
    pub user: Option<UserId>,
    /// Audit source (`gpkg_import`...).
    pub source: &'a str,
}

/// A group of a version, for reference lookups.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GroupIndexRow {
    pub id: i64,
    pub name: String,
    pub source_ref: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn version_groups(
    c: &mut impl Conn,
    version: SourceVersionId,
) -> StoreResult<Vec<GroupIndexRow>> {
    Ok(c
        .fetch_all(sql!(
            "SELECT id, name, source_ref, created_at, updated_at FROM groups WHERE source_version_id = $1 ORDER BY id",
            version.get()
        ))
        .await?)
}

/// Creates or renames a group of a version, returning its id (Iaso's import of the `groups`
/// table), with its audit row.
pub async fn upsert_group(
    c: &mut impl Conn,
    who: &Author<'_>,
    version: SourceVersionId,
    existing: Option<&GroupIndexRow>,
    source_ref: &str,
    name: &str,
) -> StoreResult<i64> {
    let Author {
        account,
        user,
        source: audit_source,
    } = *who;
    let now = iaso_db::now();
    let group_json = |id: i64, name: &str, created: DateTime<Utc>| {
        json!([{"model": "iaso.group", "pk": id, "fields": {
            "name": name, "source_ref": source_ref, "source_version": version.get(),
            "block_of_countries": false,
            "created_at": created.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "updated_at": now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        }}])
    };
    let (id, past, created) = match existing {
        Some(g) => {
            c.execute(sql!(
                "UPDATE groups SET name = $1, source_ref = $2, updated_at = $3 WHERE id = $4",
                name,
                source_ref,
                now,
                g.id
            ))
            .await?;
            let past = json!([{"model": "iaso.group", "pk": g.id, "fields": {
                "name": g.name, "source_ref": g.source_ref, "source_version": version.get(),
                "block_of_countries": false,
                "created_at": g.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                "updated_at": g.updated_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            }}]);
            (g.id, past, g.created_at)
        }
        None => {
            let id = crate::groups::insert_group(c, version, name, Some(source_ref), &[])
                .await?
                .get();
            (id, json!([]), now)
        }
    };
    crate::audit::log(
        c,
        &crate::audit::Change {
            account: Some(account),
            content_type: "iaso.group",
            object_id: id.to_string(),
            past,
            new: group_json(id, name, created),
            source: audit_source,
            user,
        },
    )
    .await?;
    Ok(id)
}

/// A unit of a version, for reference lookups and tree computations.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct UnitIndexRow {
    pub id: i64,
    pub source_ref: Option<String>,
    pub parent_id: Option<i64>,
    pub path: String,
    pub name: String,
    pub org_unit_type_id: Option<i64>,
}

/// Every unit of a version (id, ref, parent, path, name, type), read in pages.
pub async fn version_unit_index(
    c: &mut impl Conn,
    version: SourceVersionId,
) -> StoreResult<Vec<UnitIndexRow>> {
    let mut out = Vec::new();
    let mut last = 0i64;
    loop {
        let rows: Vec<UnitIndexRow> = c
            .fetch_all(sql!(
                "SELECT id, source_ref, parent_id, path, name, org_unit_type_id FROM org_units
                 WHERE version_id = $1 AND id > $2 ORDER BY id LIMIT 50000",
                version.get(),
                last
            ))
            .await?;
        let n = rows.len();
        if let Some(r) = rows.last() {
            last = r.id;
        }
        out.extend(rows);
        if n < 50_000 {
            return Ok(out);
        }
    }
}

/// Inserts group memberships in multi-row statements (duplicates must be removed first).
pub async fn insert_memberships(c: &mut impl Conn, pairs: &[(i64, i64)]) -> StoreResult<()> {
    insert_pairs(c, "group_org_units (group_id, org_unit_id)", pairs).await
}

/// Inserts rows of a two-column link table, `table` naming it with its columns
/// (`"form_projects (form_id, project_id)"`), in multi-row statements. Duplicates (in `pairs`
/// or with existing rows) must be removed first.
pub(crate) async fn insert_pairs(
    c: &mut impl Conn,
    table: &str,
    pairs: &[(i64, i64)],
) -> StoreResult<()> {
    let per = rows_per_statement(c.backend(), 2);
    for chunk in pairs.chunks(per) {
        let mut q = Sql::new(format!("INSERT INTO {table} VALUES "));
        for (i, (a, b)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(").bind(*a).push(", ").bind(*b).push(")");
        }
        c.execute(q).await?;
    }
    Ok(())
}

/// Removes every group membership of these units.
pub async fn delete_memberships(c: &mut impl Conn, units: &[i64]) -> StoreResult<()> {
    let per = rows_per_statement(c.backend(), 1);
    for chunk in units.chunks(per) {
        if chunk.is_empty() {
            continue;
        }
        let mut q = Sql::new("DELETE FROM group_org_units WHERE org_unit_id IN (");
        q.bind_list(chunk.iter().copied()).push(")");
        c.execute(q).await?;
    }
    Ok(())
}

/// One audit row for [`insert_audit_bulk`].
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub object_id: i64,
    pub past: Json,
    pub new: Json,
}

/// Writes many audit rows of one content type and source in multi-row statements.
pub async fn insert_audit_bulk(
    c: &mut impl Conn,
    account: AccountId,
    content_type: &str,
    source: &str,
    user: Option<UserId>,
    rows: &[AuditRow],
) -> StoreResult<()> {
    let now = iaso_db::now();
    let per = rows_per_statement(c.backend(), 8);
    for chunk in rows.chunks(per) {
        if chunk.is_empty() {
            continue;
        }
        let mut q = Sql::new(
            "INSERT INTO modifications (account_id, content_type, object_id, past_value, new_value, source, user_id, created_at) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind(account.get())
                .push(", ")
                .bind(content_type)
                .push(", ")
                .bind(r.object_id.to_string())
                .push(", ")
                .bind(Value::Json(r.past.clone()))
                .push(", ")
                .bind(Value::Json(r.new.clone()))
                .push(", ")
                .bind(source)
                .push(", ")
                .bind(user.map(|u| u.get()))
                .push(", ")
                .bind(now)
                .push(")");
        }
        c.execute(q).await?;
    }
    Ok(())
}

/// Audit snapshots of many units (one implementation, in `org_units`).
pub use crate::org_units::unit_snapshots;

/// New tree position of a unit.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeMove {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub path: String,
}

/// Rewrites parents, paths and depths of units (computed by the caller for a whole version).
/// Paths end with the unit's own id, so no intermediate state collides on the unique path.
pub async fn apply_tree_moves(c: &mut impl Conn, moves: &[TreeMove]) -> StoreResult<()> {
    let per = rows_per_statement(c.backend(), 6);
    for chunk in moves.chunks(per) {
        if chunk.is_empty() {
            continue;
        }
        // One UPDATE per chunk with CASE expressions.
        let mut q = Sql::new("UPDATE org_units SET parent_id = CASE id");
        for m in chunk {
            q.push(" WHEN ")
                .bind(m.id)
                .push(" THEN CAST(")
                .bind(m.parent_id)
                .push(" AS BIGINT)");
        }
        q.push(" END, path = CASE id");
        for m in chunk {
            q.push(" WHEN ")
                .bind(m.id)
                .push(" THEN ")
                .bind(m.path.as_str());
        }
        q.push(" END, depth = CASE id");
        for m in chunk {
            q.push(" WHEN ")
                .bind(m.id)
                .push(" THEN CAST(")
                .bind(crate::org_units::path_ids(&m.path).len() as i64)
                .push(" AS BIGINT)");
        }
        q.push(" END WHERE id IN (")
            .bind_list(chunk.iter().map(|m| m.id))
            .push(")");
        c.execute(q).await?;
    }
    Ok(())
}

/// What an import changes on an existing unit (Iaso's GPKG update rules: name, type, status,
/// ref and code always; dates when their column exists; geometry when given).
#[derive(Debug, Clone)]
pub struct ImportUpdate {
    pub id: i64,
    pub name: String,
    pub org_unit_type_id: i64,
    pub validation_status: String,
    pub source_ref: String,
    pub code: String,
    pub opening_date: Option<Option<NaiveDate>>,
    pub closed_date: Option<Option<NaiveDate>>,
    pub location: Option<Point>,
    pub geom: Option<iaso_geo::MultiPolygon>,
}

pub async fn apply_import_update(c: &mut impl Conn, u: &ImportUpdate) -> StoreResult<()> {
    let mut q = Sql::new("UPDATE org_units SET updated_at = ");
    q.bind(iaso_db::now())
        .push(", name = ")
        .bind(u.name.as_str())
        .push(", name_key = ")
        .bind(u.name.to_lowercase())
        .push(", org_unit_type_id = ")
        .bind(u.org_unit_type_id)
        .push(", validation_status = ")
        .bind(u.validation_status.as_str())
        .push(", source_ref = ")
        .bind(u.source_ref.as_str())
        .push(", code = ")
        .bind(u.code.as_str());
    if let Some(d) = u.opening_date {
        q.push(", opening_date = ").bind(d);
    }
    if let Some(d) = u.closed_date {
        q.push(", closed_date = ").bind(d);
    }
    if let Some(p) = u.location {
        q.push(", latitude = ")
            .bind(p.y)
            .push(", longitude = ")
            .bind(p.x)
            .push(", altitude = ")
            .bind(p.z);
    }
    if let Some(mp) = &u.geom {
        let b = iaso_geo::BBox::of_multipolygon(mp);
        q.push(", geom = ")
            .bind(iaso_geo::wkb::to_wkb(&Geometry::MultiPolygon(mp.clone())))
            .push(", simplified_geom = ")
            .bind(iaso_geo::wkb::to_wkb(&Geometry::MultiPolygon(
                crate::org_units::simplify(mp),
            )))
            .push(", min_lon = ")
            .bind(b.min_x)
            .push(", min_lat = ")
            .bind(b.min_y)
            .push(", max_lon = ")
            .bind(b.max_x)
            .push(", max_lat = ")
            .bind(b.max_y);
    } else if let Some(p) = u.location {
        // The box follows the point only when the unit has no shape.
        q.push(", min_lon = CASE WHEN geom IS NULL THEN ")
            .bind(p.x)
            .push(" ELSE min_lon END, max_lon = CASE WHEN geom IS NULL THEN ")
            .bind(p.x)
            .push(" ELSE max_lon END, min_lat = CASE WHEN geom IS NULL THEN ")
            .bind(p.y)
            .push(" ELSE min_lat END, max_lat = CASE WHEN geom IS NULL THEN ")
            .bind(p.y)
            .push(" ELSE max_lat END");
    }
    q.push(" WHERE id = ").bind(u.id);
    c.execute(q).await.map_err(|e| {
        if e.is_unique_on("code")
            || matches!(&e, iaso_db::DbError::UniqueViolation { constraint } if constraint.contains("org_units"))
        {
            StoreError::Conflict(format!(
                "Another valid OrgUnit already exists with the code '{}' in this version ({})",
                u.code, u.name
            ))
        } else {
            e.into()
        }
    })?;
    Ok(())
}

// ----------------------------------------------------------------------------------- exports

/// One org unit as the file exports need it (CSV/XLSX columns, GPKG/GeoJSON attributes).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExportRow {
    pub id: i64,
    pub name: String,
    pub type_name: Option<String>,
    pub type_depth: Option<i64>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub altitude: Option<f64>,
    pub code: String,
    pub uuid: Option<String>,
    pub opening_date: Option<NaiveDate>,
    pub closed_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub creator_username: Option<String>,
    pub creator_first_name: Option<String>,
    pub creator_last_name: Option<String>,
    pub source_name: String,
    pub validation_status: String,
    pub source_ref: Option<String>,
    pub p1_id: Option<i64>,
    pub p1_name: Option<String>,
    pub p1_ref: Option<String>,
    pub p1_type_name: Option<String>,
    pub p2_id: Option<i64>,
    pub p2_name: Option<String>,
    pub p2_ref: Option<String>,
    pub p3_id: Option<i64>,
    pub p3_name: Option<String>,
    pub p3_ref: Option<String>,
    pub p4_id: Option<i64>,
    pub p4_name: Option<String>,
    pub p4_ref: Option<String>,
    /// Comma-separated ids of the unit's groups.
    pub group_ids: Option<String>,
    /// The shape to export as WKB (see [`ExportShapes`]).
    pub shape: Option<Vec<u8>>,
    /// The simplified shape as WKB, with [`ExportShapes::Both`] only.
    pub simplified_shape: Option<Vec<u8>>,
    pub source_created_at: Option<DateTime<Utc>>,
    pub creator_id: Option<i64>,
    pub version_id: i64,
    /// Materialised path of ids, root first (`"1.5.42"`).
    pub path: String,
    pub type_id: Option<i64>,
    /// Number of levels of the path (1 for a root).
    pub depth: i64,
}

/// Which shapes an export reads (WKB is the bulk of a row: only read it when written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportShapes {
    None,
    /// `geom`, else `simplified_geom`, in `shape`.
    Best,
    /// `geom` in `shape` and `simplified_geom` in `simplified_shape`.
    Both,
}

/// What the Parquet export says of an ancestor level (`level_N_*` columns).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LevelInfo {
    pub id: i64,
    pub name: String,
    pub source_ref: Option<String>,
    pub closed_date: Option<NaiveDate>,
    pub validation_status: String,
}

impl ExportRow {
    /// Iaso's `get_ref`.
    pub fn reference(&self) -> String {
        ref_of(self.id, self.source_ref.as_deref())
    }

    pub fn location(&self) -> Option<Point> {
        match (self.longitude, self.latitude) {
            (Some(x), Some(y)) => Some(Point::new(x, y, self.altitude)),
            _ => None,
        }
    }

    /// The decoded shape, if any.
    pub fn shape_geometry(&self) -> Option<Geometry> {
        self.shape.as_deref().and_then(decode_shape)
    }

    /// Ids of the unit's groups, ascending.
    pub fn groups(&self) -> impl Iterator<Item = i64> + '_ {
        let mut ids: Vec<i64> = self
            .group_ids
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        ids.sort_unstable();
        ids.into_iter()
    }

    /// Iaso's "Créé par": `username (first last)`, else the username.
    pub fn creator(&self) -> String {
        match (
            self.creator_username.as_deref(),
            self.creator_first_name.as_deref().unwrap_or(""),
            self.creator_last_name.as_deref().unwrap_or(""),
        ) {
            (Some(u), f, l) if !f.is_empty() && !l.is_empty() => format!("{u} ({f} {l})"),
            (Some(u), _, _) => u.to_string(),
            (None, _, _) => String::new(),
        }
    }

    /// `(name, ref)` of the n-th ancestor (1 = parent).
    pub fn ancestor(&self, n: usize) -> Option<(&str, String)> {
        let (id, name, r) = match n {
            1 => (self.p1_id, &self.p1_name, &self.p1_ref),
            2 => (self.p2_id, &self.p2_name, &self.p2_ref),
            3 => (self.p3_id, &self.p3_name, &self.p3_ref),
            4 => (self.p4_id, &self.p4_name, &self.p4_ref),
            _ => return None,
        };
        let id = id?;
        Some((name.as_deref().unwrap_or(""), ref_of(id, r.as_deref())))
    }
}

/// A group that contains exported units.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExportGroup {
    pub id: i64,
    pub name: String,
    pub source_ref: Option<String>,
}

impl ExportGroup {
    pub fn reference(&self) -> String {
        ref_of(self.id, self.source_ref.as_deref())
    }
}

/// A GPKG layer of an export: units of one type depth and name, with what geometry kinds occur.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ExportLayer {
    pub type_depth: Option<i64>,
    pub type_name: Option<String>,
    pub units: i64,
    pub with_shape: i64,
    pub with_point_only: i64,
}

#[derive(sqlx::FromRow)]
struct LayerRow {
    type_depth: Option<i64>,
    type_name: Option<String>,
    units: i64,
    with_shape: Option<i64>,
    with_point_only: Option<i64>,
}

/// What to export: the caller's scope and the list filters (one, or several `searches`
/// unioned), in `order`.
#[derive(Debug, Clone)]
pub struct ExportQuery {
    pub scope: OrgUnitScope,
    pub filters: Vec<OrgUnitFilter>,
    pub order: Vec<String>,
}

fn group_concat(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "(SELECT string_agg(CAST(gu.group_id AS TEXT), ',' ORDER BY gu.group_id) FROM group_org_units gu WHERE gu.org_unit_id = ou.id)"
        }
        Backend::Sqlite => {
            // Not ordered here (an ORDER BY would build a sorter per row): `ExportRow::groups`
            // sorts the ids.
            "(SELECT group_concat(gu.group_id, ',') FROM group_org_units gu WHERE gu.org_unit_id = ou.id)"
        }
    }
}

impl Store {
    async fn export_filters(
        &self,
        q: &ExportQuery,
    ) -> StoreResult<crate::org_unit_search::ResolvedFilters> {
        let mut db = self.db.clone();
        crate::org_unit_search::resolve_filters(&mut db, &q.scope, &q.filters).await
    }

    /// Streams the rows of an export (no full result in memory), in the requested order.
    pub async fn stream_export_rows(
        &self,
        q: &ExportQuery,
        shapes: ExportShapes,
    ) -> StoreResult<BoxStream<'static, iaso_db::Result<ExportRow>>> {
        let filters = self.export_filters(q).await?;
        let none = match self.backend() {
            Backend::Sqlite => "CAST(NULL AS BLOB)",
            Backend::Postgres => "CAST(NULL AS BYTEA)",
        };
        let (shape, simplified) = match shapes {
            ExportShapes::None => (none, none),
            ExportShapes::Best => ("COALESCE(ou.geom, ou.simplified_geom)", none),
            ExportShapes::Both => ("ou.geom", "ou.simplified_geom"),
        };
        // LEFT joins for the version and its source (both always exist): `ou` stays the outer
        // loop, so SQLite can read it in the order of an index instead of sorting every row
        // (a sorter holds the whole export in memory with temp_store=memory).
        let mut s = Sql::new(format!(
            "SELECT ou.id, ou.name, t.name AS type_name, t.depth AS type_depth, ou.latitude, ou.longitude,
                ou.altitude, ou.code, ou.uuid, ou.opening_date, ou.closed_date, ou.created_at, ou.updated_at,
                cr.username AS creator_username, cr.first_name AS creator_first_name,
                cr.last_name AS creator_last_name, ds.name AS source_name, ou.validation_status, ou.source_ref,
                p1.id AS p1_id, p1.name AS p1_name, p1.source_ref AS p1_ref, t1.name AS p1_type_name,
                p2.id AS p2_id, p2.name AS p2_name, p2.source_ref AS p2_ref,
                p3.id AS p3_id, p3.name AS p3_name, p3.source_ref AS p3_ref,
                p4.id AS p4_id, p4.name AS p4_name, p4.source_ref AS p4_ref,
                {} AS group_ids, {shape} AS shape, {simplified} AS simplified_shape,
                ou.source_created_at, ou.creator_id, ou.version_id, ou.path,
                ou.org_unit_type_id AS type_id, ou.depth
             FROM org_units ou
             LEFT JOIN source_versions sv ON sv.id = ou.version_id
             LEFT JOIN data_sources ds ON ds.id = sv.data_source_id
             LEFT JOIN org_unit_types t ON t.id = ou.org_unit_type_id
             LEFT JOIN users cr ON cr.id = ou.creator_id
             LEFT JOIN org_units p1 ON p1.id = ou.parent_id
             LEFT JOIN org_unit_types t1 ON t1.id = p1.org_unit_type_id
             LEFT JOIN org_units p2 ON p2.id = p1.parent_id
             LEFT JOIN org_units p3 ON p3.id = p2.parent_id
             LEFT JOIN org_units p4 ON p4.id = p3.parent_id",
            group_concat(self.backend())
        ));
        s.push(" WHERE 1 = 1");
        crate::org_unit_search::push_filters(&mut s, self.backend(), &q.scope, &filters);
        s.push(" ORDER BY ")
            .push(&crate::org_unit_search::export_order(&q.order));
        Ok(self.db.stream::<ExportRow>(s))
    }

    /// Groups containing at least one exported unit, by id (Iaso's extra CSV columns and the
    /// GPKG `groups` table).
    pub async fn export_groups(&self, q: &ExportQuery) -> StoreResult<Vec<ExportGroup>> {
        let filters = self.export_filters(q).await?;
        let mut s = Sql::new(
            "SELECT g.id, g.name, g.source_ref FROM groups g WHERE g.id IN (
                SELECT gu.group_id FROM group_org_units gu WHERE gu.org_unit_id IN (SELECT ou.id FROM org_units ou WHERE 1 = 1",
        );
        crate::org_unit_search::push_filters(&mut s, self.backend(), &q.scope, &filters);
        s.push(")) ORDER BY g.id");
        let mut db = self.db.clone();
        Ok(db.fetch_all(s).await?)
    }

    /// The deepest level among the exported units (0 when none): the Parquet export has one
    /// set of `level_N_*` columns per level.
    pub async fn export_max_depth(&self, q: &ExportQuery) -> StoreResult<i64> {
        let filters = self.export_filters(q).await?;
        let mut s = Sql::new("SELECT MAX(ou.depth) FROM org_units ou WHERE 1 = 1");
        crate::org_unit_search::push_filters(&mut s, self.backend(), &q.scope, &filters);
        let mut db = self.db.clone();
        let (max,): (Option<i64>,) = db.fetch_one(s).await?;
        Ok(max.unwrap_or(0))
    }

    /// Every unit of the scope's versions that has children, i.e. every possible ancestor of
    /// an exported unit, for the Parquet `level_N_*` columns. Internal nodes are a small
    /// fraction of a pyramid (about 1% of a country's units), so they are held in memory.
    pub async fn export_ancestors(&self, q: &ExportQuery) -> StoreResult<Vec<LevelInfo>> {
        // Only the versions the filters can match (a unit's ancestors share its version).
        let versions: Vec<i64> = q
            .scope
            .versions
            .iter()
            .copied()
            .filter(|v| {
                q.filters
                    .iter()
                    .any(|f| f.versions.as_ref().is_none_or(|fv| fv.contains(v)))
            })
            .collect();
        if versions.is_empty() {
            return Ok(Vec::new());
        }
        let mut s = Sql::new(
            "SELECT a.id, a.name, a.source_ref, a.closed_date, a.validation_status FROM org_units a
             WHERE EXISTS (SELECT 1 FROM org_units c WHERE c.parent_id = a.id)",
        );
        s.and_in("a.version_id", versions);
        let mut db = self.db.clone();
        Ok(db.fetch_all(s).await?)
    }

    /// The GPKG layers of an export (type depth and name, with geometry kinds).
    pub async fn export_layers(&self, q: &ExportQuery) -> StoreResult<Vec<ExportLayer>> {
        let filters = self.export_filters(q).await?;
        let mut s = Sql::new(
            "SELECT t.depth AS type_depth, t.name AS type_name, COUNT(*) AS units,
                SUM(CASE WHEN ou.geom IS NOT NULL OR ou.simplified_geom IS NOT NULL THEN 1 ELSE 0 END) AS with_shape,
                SUM(CASE WHEN ou.geom IS NULL AND ou.simplified_geom IS NULL AND ou.latitude IS NOT NULL THEN 1 ELSE 0 END) AS with_point_only
             FROM org_units ou LEFT JOIN org_unit_types t ON t.id = ou.org_unit_type_id WHERE 1 = 1",
        );
        crate::org_unit_search::push_filters(&mut s, self.backend(), &q.scope, &filters);
        s.push(" GROUP BY t.depth, t.name");
        let mut db = self.db.clone();
        let rows: Vec<LayerRow> = db.fetch_all(s).await?;
        Ok(rows
            .into_iter()
            .map(|r| ExportLayer {
                type_depth: r.type_depth,
                type_name: r.type_name,
                units: r.units,
                with_shape: r.with_shape.unwrap_or(0),
                with_point_only: r.with_point_only.unwrap_or(0),
            })
            .collect())
    }
}

// ------------------------------------------------------------------------------ bulk update

/// A unit selected by a bulk operation.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SelectedUnit {
    pub id: i64,
    pub name: String,
    pub version_id: i64,
    pub org_unit_type_id: Option<i64>,
    pub read_only: bool,
}

/// Units of the scope: matching any of `filters` (select all), or among `ids`; minus
/// `excluded`. In id order.
pub async fn select_units(
    c: &mut impl Conn,
    scope: &OrgUnitScope,
    filters: Option<&[OrgUnitFilter]>,
    ids: &[i64],
    excluded: &[i64],
) -> StoreResult<Vec<SelectedUnit>> {
    let head = "SELECT ou.id, ou.name, ou.version_id, ou.org_unit_type_id, ds.read_only FROM org_units ou
         JOIN source_versions sv ON sv.id = ou.version_id JOIN data_sources ds ON ds.id = sv.data_source_id
         WHERE 1 = 1";
    let mut out = Vec::new();
    match filters {
        Some(filters) => {
            let resolved = crate::org_unit_search::resolve_filters(c, scope, filters).await?;
            let mut q = Sql::new(head);
            scope.push(&mut q, "ou");
            crate::org_unit_search::push_filters(&mut q, c.backend(), scope, &resolved);
            q.push(" ORDER BY ou.id");
            out = c.fetch_all(q).await?;
        }
        None => {
            let per = rows_per_statement(c.backend(), 1);
            for chunk in ids.chunks(per) {
                let mut q = Sql::new(head);
                scope.push(&mut q, "ou");
                q.push(" AND ou.id IN (")
                    .bind_list(chunk.iter().copied())
                    .push(") ORDER BY ou.id");
                let rows: Vec<SelectedUnit> = c.fetch_all(q).await?;
                out.extend(rows);
            }
        }
    }
    if !excluded.is_empty() {
        let ex: std::collections::HashSet<i64> = excluded.iter().copied().collect();
        out.retain(|u| !ex.contains(&u.id));
    }
    Ok(out)
}

/// Groups by id with their version (bulk changes check versions).
pub async fn group_versions(c: &mut impl Conn, ids: &[i64]) -> StoreResult<HashMap<i64, i64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut q = Sql::new("SELECT id, source_version_id FROM groups WHERE id IN (");
    q.bind_list(ids.iter().copied()).push(")");
    let rows: Vec<(i64, i64)> = c.fetch_all(q).await?;
    Ok(rows.into_iter().collect())
}

/// Sets the status and/or type of units (one statement per call).
pub async fn set_status_and_type(
    c: &mut impl Conn,
    ids: &[i64],
    status: Option<&str>,
    type_id: Option<i64>,
) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new("UPDATE org_units SET updated_at = ");
    q.bind(iaso_db::now());
    if let Some(s) = status {
        q.push(", validation_status = ").bind(s);
    }
    if let Some(t) = type_id {
        q.push(", org_unit_type_id = ").bind(t);
    }
    q.push(" WHERE id IN (")
        .bind_list(ids.iter().copied())
        .push(")");
    c.execute(q).await?;
    Ok(())
}

/// Removes memberships of `groups` for `units`.
pub async fn remove_from_groups(
    c: &mut impl Conn,
    units: &[i64],
    groups: &[i64],
) -> StoreResult<()> {
    if units.is_empty() || groups.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new("DELETE FROM group_org_units WHERE group_id IN (");
    q.bind_list(groups.iter().copied())
        .push(") AND org_unit_id IN (")
        .bind_list(units.iter().copied())
        .push(")");
    c.execute(q).await?;
    Ok(())
}

/// The account's org unit type, if it exists.
pub async fn account_type_exists(
    c: &mut impl Conn,
    account: AccountId,
    id: i64,
) -> StoreResult<bool> {
    let row: Option<(i64,)> = c
        .fetch_optional(sql!(
            "SELECT id FROM org_unit_types WHERE id = $1 AND account_id = $2",
            id,
            account.get()
        ))
        .await?;
    Ok(row.is_some())
}

// ------------------------------------------------------------------------------ copy version

/// The id of version `number` of a source visible to the account.
pub async fn version_by_number(
    c: &mut impl Conn,
    account: AccountId,
    source: DataSourceId,
    number: i64,
) -> StoreResult<Option<SourceVersionId>> {
    let row: Option<(i64,)> = c
        .fetch_optional(sql!(
            &format!(
                "SELECT sv.id FROM source_versions sv JOIN data_sources ds ON ds.id = sv.data_source_id
                 WHERE ds.id = $1 AND sv.number = $2 AND {}",
                crate::sources::source_visible("ds", "$3")
            ),
            source.get(),
            number,
            account.get()
        ))
        .await?;
    Ok(row.map(|r| SourceVersionId(r.0)))
}

/// Number of units of a version.
pub async fn count_version_units(c: &mut impl Conn, version: SourceVersionId) -> StoreResult<i64> {
    Ok(c.fetch_scalar(sql!(
        "SELECT COUNT(*) FROM org_units WHERE version_id = $1",
        version.get()
    ))
    .await?)
}

/// Deletes every unit of a version (Iaso's `force` of copy_version), keeping tombstones for
/// the mobile delta sync.
pub async fn delete_version_units(c: &mut impl Conn, version: SourceVersionId) -> StoreResult<()> {
    c.execute(sql!(
        "INSERT INTO org_unit_tombstones (org_unit_id, version_id, deleted_at)
         SELECT id, version_id, $2 FROM org_units WHERE version_id = $1",
        version.get(),
        iaso_db::now()
    ))
    .await?;
    c.execute(sql!(
        "DELETE FROM org_units WHERE version_id = $1",
        version.get()
    ))
    .await?;
    Ok(())
}

const COPIED_COLUMNS: &str = "name, name_key, uuid, custom, validation_status, org_unit_type_id, aliases, \
    aliases_key, sub_source, source_ref, code, latitude, longitude, altitude, geom, simplified_geom, catchment, \
    min_lon, min_lat, max_lon, max_lat, gps_source, opening_date, closed_date, extra_fields, default_image_id, \
    creator_id, source_created_at, created_at, updated_at";

/// Copies groups sets, groups, units (every column, new ids, remapped parents and paths) and
/// memberships of `from` into `to`. Returns the number of units copied.
pub async fn copy_version_content(
    c: &mut impl Conn,
    from: SourceVersionId,
    to: SourceVersionId,
) -> StoreResult<i64> {
    let now = iaso_db::now();
    // Groups and group sets.
    let groups = version_groups(c, from).await?;
    let mut group_map: HashMap<i64, i64> = HashMap::new();
    for g in &groups {
        let id = crate::groups::insert_group(c, to, &g.name, g.source_ref.as_deref(), &[])
            .await?
            .get();
        group_map.insert(g.id, id);
    }
    let sets: Vec<(i64, String, Option<String>, String)> = c
        .fetch_all(sql!(
            "SELECT id, name, source_ref, group_belonging FROM group_sets WHERE source_version_id = $1 ORDER BY id",
            from.get()
        ))
        .await?;
    for (id, name, source_ref, belonging) in sets {
        let new: i64 = c
            .fetch_scalar(sql!(
                "INSERT INTO group_sets (source_version_id, name, source_ref, group_belonging, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                to.get(),
                name,
                source_ref,
                belonging,
                now
            ))
            .await?;
        let members: Vec<(i64,)> = c
            .fetch_all(sql!(
                "SELECT group_id FROM group_set_groups WHERE group_set_id = $1 ORDER BY group_id",
                id
            ))
            .await?;
        let pairs: Vec<(i64, i64)> = members
            .iter()
            .filter_map(|(g,)| group_map.get(g).map(|ng| (new, *ng)))
            .collect();
        insert_pairs(c, "group_set_groups (group_set_id, group_id)", &pairs).await?;
    }
    // Units: a temporary map old id → new id and new path, then one INSERT ... SELECT.
    let index = version_unit_index(c, from).await?;
    let n = index.len();
    let fresh = crate::org_units::reserve_org_unit_ids(c, n).await?;
    let map: HashMap<i64, i64> = index.iter().map(|u| u.id).zip(fresh).collect();
    c.execute(Sql::new(
        "CREATE TEMPORARY TABLE copy_version_map (old_id BIGINT PRIMARY KEY, new_id BIGINT NOT NULL, new_path TEXT NOT NULL)",
    ))
    .await?;
    let per = rows_per_statement(c.backend(), 3);
    for chunk in index.chunks(per) {
        let mut q = Sql::new("INSERT INTO copy_version_map (old_id, new_id, new_path) VALUES ");
        for (i, u) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let path: Vec<String> = crate::org_units::path_ids(&u.path)
                .iter()
                .map(|id| map.get(id).copied().unwrap_or(*id).to_string())
                .collect();
            q.push("(")
                .bind(u.id)
                .push(", ")
                .bind(map.get(&u.id).copied().unwrap_or(u.id))
                .push(", ")
                .bind(path.join("."))
                .push(")");
        }
        c.execute(q).await?;
    }
    c.execute(sql!(
        &format!(
            "INSERT INTO org_units (id, version_id, parent_id, path, depth, {COPIED_COLUMNS})
             SELECT m.new_id, $1, pm.new_id, m.new_path, ou.depth, {}
             FROM org_units ou JOIN copy_version_map m ON m.old_id = ou.id
             LEFT JOIN copy_version_map pm ON pm.old_id = ou.parent_id
             WHERE ou.version_id = $2 ORDER BY ou.depth, ou.id",
            COPIED_COLUMNS
                .split(", ")
                .map(|c| format!("ou.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        to.get(),
        from.get()
    ))
    .await?;
    for (old, new) in &group_map {
        c.execute(sql!(
            "INSERT INTO group_org_units (group_id, org_unit_id)
             SELECT $1, m.new_id FROM group_org_units gu JOIN copy_version_map m ON m.old_id = gu.org_unit_id
             WHERE gu.group_id = $2",
            *new,
            *old
        ))
        .await?;
    }
    c.execute(Sql::new("DROP TABLE copy_version_map")).await?;
    if c.backend() == Backend::Sqlite {
        if let Some(max) = map.values().max() {
            c.execute(sql!(
                "UPDATE sqlite_sequence SET seq = MAX(seq, $1) WHERE name = 'org_units'",
                *max
            ))
            .await?;
        }
    }
    Ok(n as i64)
}
