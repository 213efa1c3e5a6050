//! Org units: the versioned tree of a country's places.
//!
//! Tree: `path` holds the ids from the root to the unit ("1.5.42"), compared byte-wise, so
//! a unit and its descendants are the range `[path, path || '/')` (ids are digits, and '/' is
//! the byte after '.'); ancestors are the ids written in the path. A move rewrites the paths of
//! the whole subtree in one statement. Structural writes take a per-version lock on PostgreSQL
//! (SQLite serialises writers anyway) so that concurrent moves never create a cycle or a stale
//! path.
//!
//! Visibility ([`OrgUnitScope`]): the versions of the account's data sources, and, for a
//! profile restricted to sub-trees, only those sub-trees.

use crate::audit::{self, Change};
use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};
use iaso_db::{sql, Backend, Conn, Sql, Value};
use iaso_domain::{
    AccountId, DataSourceId, FieldErrors, GroupId, OrgUnitId, OrgUnitTypeId, SourceVersionId,
    UserId,
};
use iaso_geo::{Geometry, Limits, MultiPolygon, Point};
use serde_json::{json, Value as Json};
use sqlx::types::Json as SqlJson;
use std::collections::{BTreeSet, HashMap};

pub const VALIDATION_STATUSES: &[&str] = &["NEW", "VALID", "REJECTED"];

/// What a caller may see of the georegistry.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgUnitScope {
    pub account: AccountId,
    /// Every version visible to the account.
    pub versions: Vec<i64>,
    /// Paths of the sub-trees the caller is restricted to; empty = no restriction.
    pub roots: Vec<String>,
    /// Ids of those sub-tree roots.
    pub root_ids: Vec<OrgUnitId>,
}

impl OrgUnitScope {
    pub fn is_restricted(&self) -> bool {
        !self.root_ids.is_empty()
    }

    /// `AND <visibility of alias>` appended to a query.
    pub(crate) fn push(&self, q: &mut Sql, alias: &str) {
        if self.versions.is_empty() {
            q.push(" AND 1 = 0");
            return;
        }
        q.push(&format!(" AND {alias}.version_id IN ("))
            .bind_list(self.versions.iter().copied())
            .push(")");
        push_subtrees(q, alias, &self.roots);
    }

    /// Whether a unit with this path and version is visible.
    pub fn covers(&self, version: i64, path: &str) -> bool {
        self.versions.contains(&version)
            && (self.roots.is_empty() || self.roots.iter().any(|r| in_subtree(path, r)))
    }
}

/// Whether `path` is `root` or below it.
pub fn in_subtree(path: &str, root: &str) -> bool {
    path == root || (path.starts_with(root) && path.as_bytes().get(root.len()) == Some(&b'.'))
}

/// `AND (alias.path in one of the sub-trees)`; nothing when `roots` is empty.
pub(crate) fn push_subtrees(q: &mut Sql, alias: &str, roots: &[String]) {
    if roots.is_empty() {
        return;
    }
    q.push(" AND (");
    for (i, r) in roots.iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        q.push(&format!("({alias}.path >= "))
            .bind(r.clone())
            .push(&format!(" AND {alias}.path < "))
            .bind(format!("{r}/"))
            .push(")");
    }
    q.push(")");
}

/// The ids of a path, root first.
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('.').filter_map(|s| s.parse().ok()).collect()
}

/// The type as nested in org unit answers.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeBrief {
    pub id: OrgUnitTypeId,
    pub name: String,
    pub short_name: String,
    pub depth: Option<i64>,
    pub category: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Creator {
    pub id: UserId,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
}

impl Creator {
    /// Iaso's `get_creator_name`: "user (First Last)".
    pub fn display(&self) -> String {
        match (self.first_name.is_empty(), self.last_name.is_empty()) {
            (false, false) => format!("{} ({} {})", self.username, self.first_name, self.last_name),
            (false, true) => format!("{} ({})", self.username, self.first_name),
            (true, false) => format!("{} ({})", self.username, self.last_name),
            (true, true) => self.username.clone(),
        }
    }
}

/// An org unit with what its answers show about its version, type, parent and creator.
/// Shapes are not loaded (see [`Store::org_unit_shapes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OrgUnit {
    pub id: OrgUnitId,
    pub version_id: SourceVersionId,
    pub version_number: i64,
    pub source_id: DataSourceId,
    pub source_name: String,
    pub source_read_only: bool,
    pub parent_id: Option<OrgUnitId>,
    pub parent_name: Option<String>,
    pub path: String,
    pub depth: i64,
    pub name: String,
    pub uuid: Option<String>,
    pub custom: bool,
    pub validation_status: String,
    pub org_unit_type: Option<TypeBrief>,
    pub aliases: Option<Vec<String>>,
    pub sub_source: Option<String>,
    pub source_ref: Option<String>,
    pub code: String,
    pub location: Option<Point>,
    pub has_geom: bool,
    pub has_simplified_geom: bool,
    pub has_catchment: bool,
    pub gps_source: Option<String>,
    pub opening_date: Option<NaiveDate>,
    pub closed_date: Option<NaiveDate>,
    pub extra_fields: Json,
    pub default_image_id: Option<i64>,
    pub creator: Option<Creator>,
    pub source_created_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Index of the search that matched (`searches` queries), if any.
    pub search_index: Option<i64>,
}

impl OrgUnit {
    pub fn org_unit_type_id(&self) -> Option<OrgUnitTypeId> {
        self.org_unit_type.as_ref().map(|t| t.id)
    }

    /// Iaso's `source_created_at_with_fallback`.
    pub fn created_at_with_fallback(&self) -> DateTime<Utc> {
        self.source_created_at.unwrap_or(self.created_at)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrgUnitRow {
    id: i64,
    version_id: i64,
    version_number: i64,
    source_id: i64,
    source_name: String,
    source_read_only: bool,
    parent_id: Option<i64>,
    parent_name: Option<String>,
    path: String,
    depth: i64,
    name: String,
    uuid: Option<String>,
    custom: bool,
    validation_status: String,
    t_id: Option<i64>,
    t_name: Option<String>,
    t_short_name: Option<String>,
    t_depth: Option<i64>,
    t_category: Option<String>,
    t_created_at: Option<DateTime<Utc>>,
    t_updated_at: Option<DateTime<Utc>>,
    aliases: Option<SqlJson<Vec<String>>>,
    sub_source: Option<String>,
    source_ref: Option<String>,
    code: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
    altitude: Option<f64>,
    has_geom: bool,
    has_simplified_geom: bool,
    has_catchment: bool,
    gps_source: Option<String>,
    opening_date: Option<NaiveDate>,
    closed_date: Option<NaiveDate>,
    extra_fields: Option<SqlJson<Json>>,
    default_image_id: Option<i64>,
    creator_id: Option<i64>,
    creator_username: Option<String>,
    creator_first_name: Option<String>,
    creator_last_name: Option<String>,
    source_created_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(crate) const OU_SELECT: &str = "SELECT ou.id, ou.version_id, sv.number AS version_number, \
    ds.id AS source_id, ds.name AS source_name, ds.read_only AS source_read_only, \
    ou.parent_id, par.name AS parent_name, ou.path, ou.depth, ou.name, ou.uuid, ou.custom, \
    ou.validation_status, t.id AS t_id, t.name AS t_name, t.short_name AS t_short_name, \
    t.depth AS t_depth, t.category AS t_category, t.created_at AS t_created_at, \
    t.updated_at AS t_updated_at, ou.aliases, ou.sub_source, ou.source_ref, ou.code, \
    ou.latitude, ou.longitude, ou.altitude, (ou.geom IS NOT NULL) AS has_geom, \
    (ou.simplified_geom IS NOT NULL) AS has_simplified_geom, \
    (ou.catchment IS NOT NULL) AS has_catchment, ou.gps_source, ou.opening_date, \
    ou.closed_date, ou.extra_fields, ou.default_image_id, ou.creator_id, \
    cr.username AS creator_username, cr.first_name AS creator_first_name, \
    cr.last_name AS creator_last_name, ou.source_created_at, ou.created_at, ou.updated_at \
    FROM org_units ou \
    JOIN source_versions sv ON sv.id = ou.version_id \
    JOIN data_sources ds ON ds.id = sv.data_source_id \
    LEFT JOIN org_unit_types t ON t.id = ou.org_unit_type_id \
    LEFT JOIN org_units par ON par.id = ou.parent_id \
    LEFT JOIN users cr ON cr.id = ou.creator_id";

impl From<OrgUnitRow> for OrgUnit {
    fn from(r: OrgUnitRow) -> Self {
        let org_unit_type = match (r.t_id, r.t_created_at, r.t_updated_at) {
            (Some(id), Some(created_at), Some(updated_at)) => Some(TypeBrief {
                id: OrgUnitTypeId(id),
                name: r.t_name.unwrap_or_default(),
                short_name: r.t_short_name.unwrap_or_default(),
                depth: r.t_depth,
                category: r.t_category,
                created_at,
                updated_at,
            }),
            _ => None,
        };
        let location = match (r.longitude, r.latitude) {
            (Some(x), Some(y)) => Some(Point::new(x, y, r.altitude)),
            _ => None,
        };
        OrgUnit {
            id: OrgUnitId(r.id),
            version_id: SourceVersionId(r.version_id),
            version_number: r.version_number,
            source_id: DataSourceId(r.source_id),
            source_name: r.source_name,
            source_read_only: r.source_read_only,
            parent_id: r.parent_id.map(OrgUnitId),
            parent_name: r.parent_name,
            path: r.path,
            depth: r.depth,
            name: r.name,
            uuid: r.uuid,
            custom: r.custom,
            validation_status: r.validation_status,
            org_unit_type,
            aliases: r.aliases.map(|a| a.0),
            sub_source: r.sub_source,
            source_ref: r.source_ref,
            code: r.code,
            location,
            has_geom: r.has_geom,
            has_simplified_geom: r.has_simplified_geom,
            has_catchment: r.has_catchment,
            gps_source: r.gps_source,
            opening_date: r.opening_date,
            closed_date: r.closed_date,
            extra_fields: r.extra_fields.map_or_else(|| json!({}), |j| j.0),
            default_image_id: r.default_image_id,
            creator: match (r.creator_id, r.creator_username) {
                (Some(id), Some(username)) => Some(Creator {
                    id: UserId(id),
                    username,
                    first_name: r.creator_first_name.unwrap_or_default(),
                    last_name: r.creator_last_name.unwrap_or_default(),
                }),
                _ => None,
            },
            source_created_at: r.source_created_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            search_index: None,
        }
    }
}

/// A unit as nested in other answers (ancestors, tree nodes).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct OrgUnitBrief {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
    pub path: String,
    pub validation_status: String,
    pub version_id: i64,
    pub org_unit_type_id: Option<i64>,
    pub org_unit_type_name: Option<String>,
    pub org_unit_type_short_name: Option<String>,
}

const BRIEF_SELECT: &str = "SELECT ou.id, ou.name, ou.parent_id, ou.path, ou.validation_status, \
    ou.version_id, ou.org_unit_type_id, t.name AS org_unit_type_name, \
    t.short_name AS org_unit_type_short_name \
    FROM org_units ou LEFT JOIN org_unit_types t ON t.id = ou.org_unit_type_id";

/// A group as nested in org unit answers.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct GroupBrief {
    pub org_unit_id: i64,
    pub id: i64,
    pub name: String,
    pub source_ref: Option<String>,
    pub source_version_id: i64,
    pub block_of_countries: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which shape column to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Geom,
    Simplified,
    Catchment,
}

impl Shape {
    fn column(self) -> &'static str {
        match self {
            Shape::Geom => "geom",
            Shape::Simplified => "simplified_geom",
            Shape::Catchment => "catchment",
        }
    }
}

/// Decodes a stored shape (written by us: trusted, no topology check).
pub(crate) fn decode_shape(bytes: &[u8]) -> Option<Geometry> {
    iaso_geo::wkb::from_wkb(bytes, &Limits::lenient())
        .ok()
        .flatten()
}

/// Everything needed to create a unit. Validated by the store against the database
/// (version, parent, type, groups); geometry must already be validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct NewOrgUnit {
    pub version_id: Option<SourceVersionId>,
    pub parent_id: Option<OrgUnitId>,
    pub name: String,
    pub uuid: Option<String>,
    pub custom: bool,
    pub validation_status: Option<String>,
    pub org_unit_type_id: Option<OrgUnitTypeId>,
    pub aliases: Option<Vec<String>>,
    pub sub_source: Option<String>,
    pub source_ref: Option<String>,
    pub code: Option<String>,
    pub location: Option<Point>,
    pub geom: Option<MultiPolygon>,
    pub catchment: Option<MultiPolygon>,
    pub opening_date: Option<NaiveDate>,
    pub closed_date: Option<NaiveDate>,
    pub groups: Vec<GroupId>,
    pub extra_fields: Option<Json>,
    pub creator: Option<UserId>,
    pub source_created_at: Option<DateTime<Utc>>,
}

/// Changes to a unit; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct OrgUnitChanges {
    pub name: Option<String>,
    pub parent_id: Option<Option<OrgUnitId>>,
    pub validation_status: Option<String>,
    pub org_unit_type_id: Option<OrgUnitTypeId>,
    pub aliases: Option<Vec<String>>,
    pub source_ref: Option<Option<String>>,
    pub sub_source: Option<Option<String>>,
    pub code: Option<String>,
    pub location: Option<Option<Point>>,
    pub geom: Option<Option<MultiPolygon>>,
    /// Set the simplified shape only (Iaso's `simplified_geom` field), leaving `geom`.
    pub simplified_geom: Option<Option<MultiPolygon>>,
    pub catchment: Option<Option<MultiPolygon>>,
    pub opening_date: Option<Option<NaiveDate>>,
    pub closed_date: Option<Option<NaiveDate>>,
    pub groups: Option<Vec<GroupId>>,
    pub default_image_id: Option<Option<i64>>,
    pub extra_fields: Option<Json>,
}

/// Who is writing, for the audit log and restrictions.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub user: Option<UserId>,
    pub scope: &'a OrgUnitScope,
    /// Types the writer may create or edit; empty = all.
    pub editable_types: &'a [OrgUnitTypeId],
    /// Audit source, e.g. `org_unit_api`.
    pub source: &'a str,
}

fn aliases_key(aliases: &[String]) -> String {
    if aliases.is_empty() {
        return String::new();
    }
    let mut k = String::from("|");
    for a in aliases {
        k.push_str(&a.to_lowercase());
        k.push('|');
    }
    k
}

fn clean_aliases(aliases: Vec<String>) -> Vec<String> {
    aliases.into_iter().filter(|a| !a.is_empty()).collect()
}

/// Iaso's simplified shape (Douglas-Peucker, tolerance 0.001 × largest bbox side).
pub fn simplify(mp: &MultiPolygon) -> MultiPolygon {
    iaso_geo::geometry::simplify_iaso(mp)
}

fn wkb(mp: &MultiPolygon) -> Vec<u8> {
    iaso_geo::wkb::to_wkb(&Geometry::MultiPolygon(mp.clone()))
}

/// Bounding box of a unit: of its shape, else of its point.
fn bbox(geom: Option<&MultiPolygon>, location: Option<&Point>) -> [Option<f64>; 4] {
    if let Some(mp) = geom {
        let b = iaso_geo::BBox::of_multipolygon(mp);
        if !b.is_empty() {
            return [Some(b.min_x), Some(b.min_y), Some(b.max_x), Some(b.max_y)];
        }
    }
    match location {
        Some(p) => [Some(p.x), Some(p.y), Some(p.x), Some(p.y)],
        None => [None; 4],
    }
}

/// Ids per `IN (...)` list. SQLite resolves `$n` parameter names with a linear search while
/// parsing (quadratic in one statement's parameters), so it gets short lists.
pub(crate) fn in_list_chunk(backend: Backend) -> usize {
    match backend {
        Backend::Postgres => 5_000,
        Backend::Sqlite => 500,
    }
}

/// Serialises writes that change the tree of a version (PostgreSQL; SQLite has one writer).
pub(crate) async fn lock_version(
    c: &mut impl Conn,
    version: i64,
    exclusive: bool,
) -> StoreResult<()> {
    if c.backend() == Backend::Postgres {
        let f = if exclusive {
            "pg_advisory_xact_lock"
        } else {
            "pg_advisory_xact_lock_shared"
        };
        c.execute(sql!(
            &format!("SELECT {f}($1)"),
            7_271_000_000_000i64 + version
        ))
        .await?;
    }
    Ok(())
}

/// Reserves `n` consecutive-or-not ids for org units (bulk inserts with precomputed paths).
pub async fn reserve_org_unit_ids(c: &mut impl Conn, n: usize) -> StoreResult<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    match c.backend() {
        Backend::Postgres => {
            let rows: Vec<(i64,)> = c
                .fetch_all(sql!(
                    "SELECT nextval(pg_get_serial_sequence('org_units', 'id')) FROM generate_series(1, $1)",
                    n as i64
                ))
                .await?;
            Ok(rows.into_iter().map(|r| r.0).collect())
        }
        Backend::Sqlite => {
            // Inside the caller's write transaction: nobody else can insert meanwhile.
            let max: Option<i64> = c
                .fetch_scalar(sql!("SELECT MAX(id) FROM org_units"))
                .await?;
            let seq: Option<i64> = c
                .fetch_optional::<(i64,)>(sql!(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'org_units'"
                ))
                .await?
                .map(|r| r.0);
            let start = max.unwrap_or(0).max(seq.unwrap_or(0)) + 1;
            Ok((start..start + n as i64).collect())
        }
    }
}

/// A unit for [`insert_org_units_bulk`]: id and path already decided.
#[derive(Debug, Clone)]
pub struct BulkOrgUnit {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub path: String,
    pub name: String,
    pub validation_status: String,
    pub org_unit_type_id: Option<i64>,
    pub source_ref: Option<String>,
    pub code: String,
    pub uuid: Option<String>,
    pub aliases: Option<Vec<String>>,
    pub location: Option<Point>,
    pub geom: Option<MultiPolygon>,
    pub opening_date: Option<NaiveDate>,
    pub closed_date: Option<NaiveDate>,
}

/// Inserts many units of one version in multi-row statements (imports, demo data). Parents
/// must come before their children; ids from [`reserve_org_unit_ids`]. No audit rows: the
/// caller logs what it needs.
pub async fn insert_org_units_bulk(
    c: &mut impl Conn,
    version: SourceVersionId,
    units: &[BulkOrgUnit],
    creator: Option<UserId>,
) -> StoreResult<()> {
    const COLS: usize = 28;
    // PostgreSQL accepts 65535 bind values per statement, SQLite 32766.
    // Rows per statement: PostgreSQL amortises its round trips over a few hundred rows;
    // SQLite resolves `$n` parameter names with a linear search while parsing, which is
    // quadratic in the parameters of one statement, so it gets ~1000 parameters at a time.
    let per_statement = match c.backend() {
        Backend::Postgres => 8_000 / COLS,
        Backend::Sqlite => 1_000 / COLS,
    };
    let now = iaso_db::now();
    for chunk in units.chunks(per_statement) {
        let mut q = Sql::new(
            "INSERT INTO org_units (id, version_id, parent_id, path, depth, name, name_key, validation_status,
                org_unit_type_id, source_ref, code, uuid, aliases, aliases_key, latitude, longitude, altitude,
                geom, simplified_geom, min_lon, min_lat, max_lon, max_lat, opening_date, closed_date,
                creator_id, created_at, updated_at) VALUES ",
        );
        for (i, u) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let [min_lon, min_lat, max_lon, max_lat] = bbox(u.geom.as_ref(), u.location.as_ref());
            let (geom, simplified) = match &u.geom {
                Some(mp) => (Value::Bytes(wkb(mp)), Value::Bytes(wkb(&simplify(mp)))),
                None => (Value::Null, Value::Null),
            };
            let aliases = u.aliases.clone().map(clean_aliases);
            q.push("(")
                .bind(u.id)
                .push(", ")
                .bind(version.get())
                .push(", ")
                .bind(u.parent_id)
                .push(", ")
                .bind(u.path.as_str())
                .push(", ")
                .bind(path_ids(&u.path).len() as i64)
                .push(", ")
                .bind(u.name.as_str())
                .push(", ")
                .bind(u.name.to_lowercase())
                .push(", ")
                .bind(u.validation_status.as_str())
                .push(", ")
                .bind(u.org_unit_type_id)
                .push(", ")
                .bind(u.source_ref.clone())
                .push(", ")
                .bind(u.code.as_str())
                .push(", ")
                .bind(u.uuid.clone())
                .push(", ")
                .bind(aliases.as_ref().map(|a| json!(a)))
                .push(", ")
                .bind(aliases.as_deref().map(aliases_key).unwrap_or_default())
                .push(", ")
                .bind(u.location.map(|p| p.y))
                .push(", ")
                .bind(u.location.map(|p| p.x))
                .push(", ")
                .bind(u.location.and_then(|p| p.z))
                .push(", ")
                .bind(geom)
                .push(", ")
                .bind(simplified)
                .push(", ")
                .bind(min_lon)
                .push(", ")
                .bind(min_lat)
                .push(", ")
                .bind(max_lon)
                .push(", ")
                .bind(max_lat)
                .push(", ")
                .bind(u.opening_date)
                .push(", ")
                .bind(u.closed_date)
                .push(", ")
                .bind(creator.map(|c| c.get()))
                .push(", ")
                .bind(now)
                .push(", ")
                .bind(now)
                .push(")");
        }
        c.execute(q).await?;
    }
    if c.backend() == Backend::Postgres {
        // Explicit ids came from the sequence already; nothing to fix.
    } else if let Some(max) = units.iter().map(|u| u.id).max() {
        c.execute(sql!(
            "UPDATE sqlite_sequence SET seq = MAX(seq, $1) WHERE name = 'org_units'",
            max
        ))
        .await?;
    }
    Ok(())
}

/// Loads one unit in the scope (no shapes).
pub(crate) async fn load_org_unit(
    c: &mut impl Conn,
    scope: &OrgUnitScope,
    id: OrgUnitId,
) -> StoreResult<OrgUnit> {
    let mut q = Sql::new(OU_SELECT);
    q.push(" WHERE ou.id = ").bind(id.get());
    scope.push(&mut q, "ou");
    let row: OrgUnitRow = c.fetch_one(q).await?;
    Ok(row.into())
}

pub(crate) async fn load_org_units_by_ids(
    c: &mut impl Conn,
    ids: &[i64],
) -> StoreResult<Vec<OrgUnit>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut units: HashMap<i64, OrgUnit> = HashMap::with_capacity(ids.len());
    // Bounded IN lists (SQLite accepts 32766 bind values per statement).
    for chunk in ids.chunks(in_list_chunk(c.backend())) {
        let mut q = Sql::new(OU_SELECT);
        q.push(" WHERE ou.id IN (")
            .bind_list(chunk.iter().copied())
            .push(")");
        let rows: Vec<OrgUnitRow> = c.fetch_all(q).await?;
        units.extend(rows.into_iter().map(|r| (r.id, OrgUnit::from(r))));
    }
    Ok(ids.iter().filter_map(|i| units.remove(i)).collect())
}

/// Group ids of a unit.
async fn group_ids(c: &mut impl Conn, id: i64) -> StoreResult<Vec<i64>> {
    let rows: Vec<(i64,)> = c
        .fetch_all(sql!(
            "SELECT group_id FROM group_org_units WHERE org_unit_id = $1 ORDER BY group_id",
            id
        ))
        .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

fn django_ts(ts: Option<DateTime<Utc>>) -> Json {
    ts.map_or(Json::Null, |t| {
        json!(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
    })
}

#[derive(sqlx::FromRow)]
struct SnapshotRow {
    id: i64,
    version_id: i64,
    parent_id: Option<i64>,
    path: String,
    name: String,
    uuid: Option<String>,
    custom: bool,
    validation_status: String,
    org_unit_type_id: Option<i64>,
    aliases: Option<SqlJson<Vec<String>>>,
    sub_source: Option<String>,
    source_ref: Option<String>,
    code: String,
    latitude: Option<f64>,
    longitude: Option<f64>,
    altitude: Option<f64>,
    geom: Option<Vec<u8>>,
    simplified_geom: Option<Vec<u8>>,
    catchment: Option<Vec<u8>>,
    gps_source: Option<String>,
    opening_date: Option<NaiveDate>,
    closed_date: Option<NaiveDate>,
    extra_fields: Option<SqlJson<Json>>,
    default_image_id: Option<i64>,
    creator_id: Option<i64>,
    source_created_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// The unit in Django's serializer format, as Iaso's audit log stores it.
pub(crate) async fn snapshot(c: &mut impl Conn, id: i64) -> StoreResult<Json> {
    unit_snapshots(c, &[id])
        .await?
        .remove(&id)
        .ok_or(StoreError::NotFound)
}

/// Audit snapshots (see [`snapshot`]) of many units, read in batches; missing ids are absent.
pub async fn unit_snapshots(
    c: &mut impl Conn,
    ids: &[i64],
) -> StoreResult<std::collections::HashMap<i64, Json>> {
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    let per = crate::org_unit_io::rows_per_statement(c.backend(), 1);
    for chunk in ids.chunks(per.max(1)) {
        let mut q = Sql::new(
            "SELECT id, version_id, parent_id, path, name, uuid, custom, validation_status, org_unit_type_id,
                aliases, sub_source, source_ref, code, latitude, longitude, altitude, geom, simplified_geom,
                catchment, gps_source, opening_date, closed_date, extra_fields, default_image_id, creator_id,
                source_created_at, created_at, updated_at
             FROM org_units WHERE id IN (",
        );
        q.bind_list(chunk.iter().copied()).push(")");
        let rows: Vec<SnapshotRow> = c.fetch_all(q).await?;
        let mut g =
            Sql::new("SELECT org_unit_id, group_id FROM group_org_units WHERE org_unit_id IN (");
        g.bind_list(chunk.iter().copied())
            .push(") ORDER BY org_unit_id, group_id");
        let memberships: Vec<(i64, i64)> = c.fetch_all(g).await?;
        let mut groups: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
        for (u, gr) in memberships {
            groups.entry(u).or_default().push(gr);
        }
        for r in rows {
            let id = r.id;
            let unit_groups = groups.remove(&id).unwrap_or_default();
            out.insert(id, snapshot_json(r, unit_groups));
        }
    }
    Ok(out)
}

fn snapshot_json(r: SnapshotRow, groups: Vec<i64>) -> Json {
    let ewkt = |b: &Option<Vec<u8>>| {
        b.as_deref()
            .and_then(decode_shape)
            .map_or(Json::Null, |g| json!(iaso_geo::ewkt::to_ewkt(&g)))
    };
    let location = match (r.longitude, r.latitude) {
        (Some(x), Some(y)) => json!(iaso_geo::ewkt::to_ewkt(&Geometry::Point(Point::new(
            x,
            y,
            Some(r.altitude.unwrap_or(0.0))
        )))),
        _ => Json::Null,
    };
    let date = |d: Option<NaiveDate>| d.map_or(Json::Null, |d| json!(d.to_string()));
    json!([{
        "model": "iaso.orgunit",
        "pk": r.id,
        "fields": {
            "name": r.name,
            "uuid": r.uuid,
            "custom": r.custom,
            "validation_status": r.validation_status,
            "version": r.version_id,
            "parent": r.parent_id,
            "path": r.path,
            "aliases": r.aliases.map(|a| a.0),
            "org_unit_type": r.org_unit_type_id,
            "sub_source": r.sub_source,
            "source_ref": r.source_ref,
            "geom": ewkt(&r.geom),
            "simplified_geom": ewkt(&r.simplified_geom),
            "catchment": ewkt(&r.catchment),
            "geom_ref": Json::Null,
            "gps_source": r.gps_source,
            "location": location,
            "created_at": django_ts(Some(r.created_at)),
            "updated_at": django_ts(Some(r.updated_at)),
            "source_created_at": django_ts(r.source_created_at),
            "creator": r.creator_id,
            "extra_fields": r.extra_fields.map_or_else(|| json!({}), |j| j.0),
            "opening_date": date(r.opening_date),
            "closed_date": date(r.closed_date),
            "default_image": r.default_image_id,
            "code": r.code,
            "groups": groups,
        }
    }])
}

/// The parent row with what the rules need.
#[derive(sqlx::FromRow)]
struct ParentRow {
    version_id: i64,
    path: String,
}

async fn visible_parent(
    c: &mut impl Conn,
    scope: &OrgUnitScope,
    id: OrgUnitId,
) -> StoreResult<Option<ParentRow>> {
    let mut q = Sql::new("SELECT ou.version_id, ou.path FROM org_units ou WHERE ou.id = ");
    q.bind(id.get());
    scope.push(&mut q, "ou");
    Ok(c.fetch_optional(q).await?)
}

fn code_taken(code: &str) -> impl FnOnce(iaso_db::DbError) -> StoreError + '_ {
    move |e| {
        if e.is_unique_on("code")
            || matches!(&e, iaso_db::DbError::UniqueViolation { constraint } if constraint.contains("org_units"))
        {
            StoreError::invalid(
                "code",
                format!(
                    "Another valid OrgUnit already exists with the code '{code}' in this version"
                ),
            )
        } else {
            e.into()
        }
    }
}

/// Checks that groups exist in the scope's versions and in `version`.
async fn check_groups(
    c: &mut impl Conn,
    scope: &OrgUnitScope,
    version: i64,
    groups: &[GroupId],
    errors: &mut FieldErrors,
) -> StoreResult<()> {
    if groups.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new("SELECT id, source_version_id FROM groups WHERE id IN (");
    q.bind_list(groups.iter().map(|g| g.get())).push(")");
    let found: Vec<(i64, i64)> = c.fetch_all(q).await?;
    for g in groups {
        match found.iter().find(|f| f.0 == g.get()) {
            Some((_, v)) if *v == version => {}
            Some((_, v)) if scope.versions.contains(v) => {
                errors.add("groups", "Group must be in the same source version");
            }
            _ => {
                errors.add(
                    "groups",
                    format!("Invalid pk \"{g}\" - object does not exist."),
                );
            }
        }
    }
    Ok(())
}

async fn check_type(
    c: &mut impl Conn,
    account: AccountId,
    t: OrgUnitTypeId,
    editable: &[OrgUnitTypeId],
    errors: &mut FieldErrors,
) -> StoreResult<()> {
    let found: Option<(i64,)> = c
        .fetch_optional(sql!(
            "SELECT id FROM org_unit_types WHERE id = $1 AND account_id = $2",
            t.get(),
            account.get()
        ))
        .await?;
    if found.is_none() {
        errors.add(
            "org_unit_type_id",
            format!("Invalid pk \"{t}\" - object does not exist."),
        );
    } else if !editable.is_empty() && !editable.contains(&t) {
        errors.add(
            "org_unit_type_id",
            "You cannot create or edit an Org unit of this type",
        );
    }
    Ok(())
}

async fn write_groups(c: &mut impl Conn, id: i64, groups: &[GroupId]) -> StoreResult<()> {
    c.execute(sql!(
        "DELETE FROM group_org_units WHERE org_unit_id = $1",
        id
    ))
    .await?;
    let pairs: Vec<(i64, i64)> = groups
        .iter()
        .map(|g| g.get())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|g| (g, id))
        .collect();
    crate::org_unit_io::insert_memberships(c, &pairs).await
}

fn check_dates(opening: Option<NaiveDate>, closed: Option<NaiveDate>, errors: &mut FieldErrors) {
    if let (Some(o), Some(c)) = (opening, closed) {
        if o > c {
            errors.add(
                "closed_date",
                "Opening date must be anterior to closed date",
            );
        }
    }
}

/// Creates a unit inside a transaction (API and mobile creation). Refuses a version the scope
/// does not see, a read-only source, a parent in another version or outside the scope, a root
/// for a restricted writer, a type of another account or not editable by the writer.
pub async fn create_org_unit_in(
    c: &mut impl Conn,
    w: &Writer<'_>,
    default_version: Option<SourceVersionId>,
    new: &NewOrgUnit,
) -> StoreResult<OrgUnitId> {
    let mut errors = FieldErrors::new();
    let name = new.name.trim().to_string();
    if name.is_empty() {
        errors.add("name", "Org unit name is required");
    }
    let version = match new.version_id.or(default_version) {
        Some(v) if w.scope.versions.contains(&v.get()) => v,
        Some(v) => {
            errors.add("version_id", format!("Unauthorized version id: {v}"));
            return Err(StoreError::Invalid(errors));
        }
        None => {
            errors.add("version_id", "This account has no default version.");
            return Err(StoreError::Invalid(errors));
        }
    };
    lock_version(c, version.get(), false).await?;
    let read_only: bool = c
        .fetch_scalar(sql!(
            "SELECT ds.read_only FROM source_versions sv JOIN data_sources ds ON ds.id = sv.data_source_id WHERE sv.id = $1",
            version.get()
        ))
        .await?;
    if read_only {
        errors.add(
            "name",
            "Creation of org unit not authorized on read only data source",
        );
    }
    match new.org_unit_type_id {
        Some(t) => check_type(c, w.scope.account, t, w.editable_types, &mut errors).await?,
        None => {
            errors.add("org_unit_type_id", "Org unit type is required");
        }
    }
    let mut parent_path = None;
    match new.parent_id {
        Some(p) => match visible_parent(c, w.scope, p).await? {
            Some(parent) if parent.version_id != version.get() => {
                errors.add("parent_id", "Parent is not in the same version");
            }
            Some(parent) => parent_path = Some(parent.path),
            None => return Err(StoreError::NotFound),
        },
        None if w.scope.is_restricted() => {
            errors.add(
                "parent_id",
                "You cannot create an Org Unit without a parent",
            );
        }
        None => {}
    }
    check_dates(new.opening_date, new.closed_date, &mut errors);
    check_groups(c, w.scope, version.get(), &new.groups, &mut errors).await?;
    if let Some(s) = &new.validation_status {
        if !VALIDATION_STATUSES.contains(&s.as_str()) {
            errors.add(
                "validation_status",
                format!("Invalid validation status : {s}"),
            );
        }
    }
    errors.into_result()?;

    let now = iaso_db::now();
    let aliases = new.aliases.clone().map(clean_aliases);
    let [min_lon, min_lat, max_lon, max_lat] = bbox(new.geom.as_ref(), new.location.as_ref());
    let code = new.code.clone().unwrap_or_default();
    let id: i64 = c
        .fetch_scalar(sql!(
            "INSERT INTO org_units (version_id, parent_id, path, depth, name, name_key, uuid, custom, validation_status,
                org_unit_type_id, aliases, aliases_key, sub_source, source_ref, code, latitude, longitude, altitude,
                geom, simplified_geom, catchment, min_lon, min_lat, max_lon, max_lat, opening_date, closed_date,
                extra_fields, creator_id, source_created_at, created_at, updated_at)
             VALUES ($1, $2, '', 0, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $29) RETURNING id",
            version.get(),
            new.parent_id.map(|p| p.get()),
            name.as_str(),
            name.to_lowercase(),
            new.uuid.clone(),
            new.custom,
            new.validation_status.clone().unwrap_or_else(|| "NEW".into()),
            new.org_unit_type_id.map(|t| t.get()),
            aliases.as_ref().map(|a| json!(a)),
            aliases.as_deref().map(aliases_key).unwrap_or_default(),
            new.sub_source.clone(),
            new.source_ref.clone(),
            code.as_str(),
            new.location.map(|p| p.y),
            new.location.map(|p| p.x),
            new.location.and_then(|p| p.z),
            new.geom.as_ref().map(wkb),
            new.geom.as_ref().map(|g| wkb(&simplify(g))),
            new.catchment.as_ref().map(wkb),
            min_lon,
            min_lat,
            max_lon,
            max_lat,
            new.opening_date,
            new.closed_date,
            new.extra_fields.clone().unwrap_or_else(|| json!({})),
            new.creator.map(|u| u.get()),
            new.source_created_at,
            now
        ))
        .await
        .map_err(code_taken(&code))?;
    let path = match parent_path {
        Some(p) => format!("{p}.{id}"),
        None => id.to_string(),
    };
    c.execute(sql!(
        "UPDATE org_units SET path = $1, depth = $2 WHERE id = $3",
        path.as_str(),
        path_ids(&path).len() as i64,
        id
    ))
    .await?;
    write_groups(c, id, &new.groups).await?;
    let after = snapshot(c, id).await?;
    audit::log(
        c,
        &Change {
            account: Some(w.scope.account),
            content_type: "iaso.orgunit",
            object_id: id.to_string(),
            past: json!([]),
            new: after,
            source: w.source,
            user: w.user,
        },
    )
    .await?;
    Ok(OrgUnitId(id))
}

/// Updates a unit inside a transaction (see [`Store::update_org_unit`]).
pub async fn update_org_unit_in(
    c: &mut impl Conn,
    w: &Writer<'_>,
    id: OrgUnitId,
    ch: &OrgUnitChanges,
) -> StoreResult<()> {
    let current = load_org_unit(c, w.scope, id).await?;
    lock_version(c, current.version_id.get(), true).await?;
    // Re-read under the lock: a concurrent move may have changed the path.
    let current = load_org_unit(c, w.scope, id).await?;
    let mut errors = FieldErrors::new();
    if current.source_read_only {
        return Err(StoreError::Conflict(
            "The data source of this org unit is read only.".into(),
        ));
    }
    if let Some(t) = current.org_unit_type_id() {
        if !w.editable_types.is_empty() && !w.editable_types.contains(&t) {
            errors.add(
                "org_unit_type_id",
                "You cannot create or edit an Org unit of this type",
            );
        }
    }
    if let Some(t) = ch.org_unit_type_id {
        if Some(t) != current.org_unit_type_id() {
            check_type(c, w.scope.account, t, w.editable_types, &mut errors).await?;
        }
    }
    if let Some(name) = &ch.name {
        if name.trim().is_empty() {
            errors.add("name", "Org unit name is required");
        }
    }
    if let Some(s) = &ch.validation_status {
        if !VALIDATION_STATUSES.contains(&s.as_str()) && s != "CLOSED" {
            errors.add(
                "validation_status",
                format!("Invalid validation status : {s}"),
            );
        }
    }
    // Moving: same version, visible, never under itself.
    let mut new_parent_path: Option<Option<String>> = None;
    if let Some(parent) = ch.parent_id {
        if parent != current.parent_id {
            match parent {
                Some(p) => match visible_parent(c, w.scope, p).await? {
                    None => return Err(StoreError::NotFound),
                    Some(pr) if pr.version_id != current.version_id.get() => {
                        errors.add("parent_id", "Parent is not in the same version");
                    }
                    Some(pr) if in_subtree(&pr.path, &current.path) => {
                        errors.add(
                            "parent_id",
                            "An org unit cannot be moved under itself or one of its descendants.",
                        );
                    }
                    Some(pr) => new_parent_path = Some(Some(pr.path)),
                },
                None if w.scope.is_restricted() => {
                    errors.add(
                        "parent_id",
                        "You cannot create an Org Unit without a parent",
                    );
                }
                None => new_parent_path = Some(None),
            }
        }
    }
    let opening = ch.opening_date.unwrap_or(current.opening_date);
    let closed = ch.closed_date.unwrap_or(current.closed_date);
    check_dates(opening, closed, &mut errors);
    if let Some(groups) = &ch.groups {
        // Memberships the unit already has are kept even if they break the version rule
        // (Iaso does the same), new ones must be in the unit's version.
        let existing = group_ids(c, id.get()).await?;
        let new: Vec<GroupId> = groups
            .iter()
            .copied()
            .filter(|g| !existing.contains(&g.get()))
            .collect();
        check_groups(c, w.scope, current.version_id.get(), &new, &mut errors).await?;
    }
    errors.into_result()?;

    let before = snapshot(c, id.get()).await?;
    let now = iaso_db::now();
    let mut q = Sql::new("UPDATE org_units SET updated_at = ");
    q.bind(now);
    if let Some(name) = &ch.name {
        q.push(", name = ")
            .bind(name.trim())
            .push(", name_key = ")
            .bind(name.trim().to_lowercase());
    }
    if let Some(s) = &ch.validation_status {
        q.push(", validation_status = ").bind(s.as_str());
    }
    if let Some(t) = ch.org_unit_type_id {
        q.push(", org_unit_type_id = ").bind(t.get());
    }
    if let Some(a) = &ch.aliases {
        let a = clean_aliases(a.clone());
        q.push(", aliases_key = ").bind(aliases_key(&a));
        q.push(", aliases = ").bind(json!(a));
    }
    if let Some(v) = &ch.source_ref {
        q.push(", source_ref = ").bind(v.clone());
    }
    if let Some(v) = &ch.sub_source {
        q.push(", sub_source = ").bind(v.clone());
    }
    if let Some(v) = &ch.code {
        q.push(", code = ").bind(v.as_str());
    }
    if let Some(v) = ch.opening_date {
        q.push(", opening_date = ").bind(v);
    }
    if let Some(v) = ch.closed_date {
        q.push(", closed_date = ").bind(v);
    }
    if let Some(v) = ch.default_image_id {
        q.push(", default_image_id = ").bind(v);
    }
    if let Some(v) = &ch.extra_fields {
        q.push(", extra_fields = ").bind(v.clone());
    }
    let mut location = current.location;
    if let Some(loc) = ch.location {
        location = loc;
        q.push(", latitude = ")
            .bind(loc.map(|p| p.y))
            .push(", longitude = ")
            .bind(loc.map(|p| p.x))
            .push(", altitude = ")
            .bind(loc.and_then(|p| p.z));
    }
    // The bounding box follows the full shape (or the point when there is none).
    let mut shape_for_bbox: Option<Option<MultiPolygon>> = None;
    if let Some(geom) = &ch.geom {
        q.push(", geom = ")
            .bind(geom.as_ref().map(wkb))
            .push(", simplified_geom = ")
            .bind(geom.as_ref().map(|g| wkb(&simplify(g))));
        shape_for_bbox = Some(geom.clone());
    } else if let Some(simplified) = &ch.simplified_geom {
        q.push(", simplified_geom = ")
            .bind(simplified.as_ref().map(wkb));
    }
    if let Some(c) = &ch.catchment {
        q.push(", catchment = ").bind(c.as_ref().map(wkb));
    }
    if ch.location.is_some() || shape_for_bbox.is_some() {
        let shape = match shape_for_bbox {
            Some(s) => s,
            None => {
                let stored: Option<Vec<u8>> = c
                    .fetch_scalar(sql!("SELECT geom FROM org_units WHERE id = $1", id.get()))
                    .await?;
                stored
                    .as_deref()
                    .and_then(decode_shape)
                    .and_then(|g| g.as_multipolygon().cloned())
            }
        };
        let [a, b, cc, d] = bbox(shape.as_ref(), location.as_ref());
        q.push(", min_lon = ")
            .bind(a)
            .push(", min_lat = ")
            .bind(b)
            .push(", max_lon = ")
            .bind(cc)
            .push(", max_lat = ")
            .bind(d);
    }
    if let Some(parent) = ch.parent_id {
        q.push(", parent_id = ").bind(parent.map(|p| p.get()));
    }
    q.push(" WHERE id = ").bind(id.get());
    let code = ch.code.clone().unwrap_or(current.code.clone());
    c.execute(q).await.map_err(code_taken(&code))?;

    if let Some(parent_path) = new_parent_path {
        let new_path = match parent_path {
            Some(p) => format!("{p}.{}", id.get()),
            None => id.get().to_string(),
        };
        let delta = path_ids(&new_path).len() as i64 - current.depth;
        let old = current.path.clone();
        // The unit and its whole subtree: swap the prefix, shift the depth.
        c.execute(sql!(
            "UPDATE org_units SET path = $1 || substr(path, CAST($2 AS INTEGER)), depth = depth + $3
             WHERE path >= $4 AND path < $5",
            new_path.as_str(),
            old.len() as i64 + 1,
            delta,
            old.as_str(),
            format!("{old}/")
        ))
        .await?;
    }
    if let Some(groups) = &ch.groups {
        write_groups(c, id.get(), groups).await?;
    }
    let after = snapshot(c, id.get()).await?;
    audit::log(
        c,
        &Change {
            account: Some(w.scope.account),
            content_type: "iaso.orgunit",
            object_id: id.get().to_string(),
            past: before,
            new: after,
            source: w.source,
            user: w.user,
        },
    )
    .await?;
    Ok(())
}

impl Store {
    /// The caller's scope: the account's versions, restricted to the sub-trees of `roots` (the
    /// profile's org units) unless empty.
    pub async fn org_unit_scope(
        &self,
        account: AccountId,
        roots: &[OrgUnitId],
    ) -> StoreResult<OrgUnitScope> {
        let mut db = self.db.clone();
        let versions = crate::sources::account_version_ids(&mut db, account).await?;
        let mut paths = Vec::new();
        let mut root_ids = Vec::new();
        if !roots.is_empty() && !versions.is_empty() {
            let mut q = Sql::new("SELECT id, path FROM org_units WHERE id IN (");
            q.bind_list(roots.iter().map(|r| r.get()))
                .push(") AND version_id IN (")
                .bind_list(versions.iter().copied())
                .push(") ORDER BY path");
            let rows: Vec<(i64, String)> = db.fetch_all(q).await?;
            for (id, p) in rows {
                root_ids.push(OrgUnitId(id));
                paths.push(p);
            }
            if root_ids.is_empty() {
                // Restricted to units that no longer exist: sees nothing rather than everything.
                return Ok(OrgUnitScope {
                    account,
                    versions: Vec::new(),
                    roots: Vec::new(),
                    root_ids: roots.to_vec(),
                });
            }
        }
        Ok(OrgUnitScope {
            account,
            versions,
            roots: paths,
            root_ids,
        })
    }

    /// One unit in the scope.
    pub async fn org_unit(&self, scope: &OrgUnitScope, id: OrgUnitId) -> StoreResult<OrgUnit> {
        let mut db = self.db.clone();
        load_org_unit(&mut db, scope, id).await
    }

    /// Units by id in the given order (no scope check: ids come from a scoped query).
    pub async fn org_units_by_ids(&self, ids: &[i64]) -> StoreResult<Vec<OrgUnit>> {
        let mut db = self.db.clone();
        load_org_units_by_ids(&mut db, ids).await
    }

    /// Brief rows of units by id (ancestors of listed units); no scope check.
    pub async fn org_unit_briefs(&self, ids: &[i64]) -> StoreResult<Vec<OrgUnitBrief>> {
        let mut db = self.db.clone();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(in_list_chunk(db.backend())) {
            let mut q = Sql::new(BRIEF_SELECT);
            q.push(" WHERE ou.id IN (")
                .bind_list(chunk.iter().copied())
                .push(")");
            out.extend(db.fetch_all::<OrgUnitBrief>(q).await?);
        }
        Ok(out)
    }

    /// The ancestors of a unit, root first, as full units (detail answers).
    pub async fn org_unit_ancestors(&self, unit: &OrgUnit) -> StoreResult<Vec<OrgUnit>> {
        let mut ids = path_ids(&unit.path);
        ids.retain(|i| *i != unit.id.get());
        self.org_units_by_ids(&ids).await
    }

    /// Groups of each unit.
    pub async fn org_unit_groups(&self, unit_ids: &[i64]) -> StoreResult<Vec<GroupBrief>> {
        let mut db = self.db.clone();
        let mut out = Vec::new();
        for chunk in unit_ids.chunks(in_list_chunk(db.backend())) {
            let mut q = Sql::new(
                "SELECT gu.org_unit_id, g.id, g.name, g.source_ref, g.source_version_id, g.block_of_countries,
                    g.created_at, g.updated_at
                 FROM group_org_units gu JOIN groups g ON g.id = gu.group_id WHERE gu.org_unit_id IN (",
            );
            q.bind_list(chunk.iter().copied()).push(") ORDER BY g.id");
            out.extend(db.fetch_all::<GroupBrief>(q).await?);
        }
        Ok(out)
    }

    /// Shapes of units (`id` → geometry), skipping units without that shape.
    pub async fn org_unit_shapes(
        &self,
        ids: &[i64],
        shape: Shape,
    ) -> StoreResult<HashMap<i64, Geometry>> {
        let mut db = self.db.clone();
        let col = shape.column();
        let mut out = HashMap::new();
        for chunk in ids.chunks(in_list_chunk(db.backend())) {
            let mut q = Sql::new(format!(
                "SELECT id, {col} FROM org_units WHERE {col} IS NOT NULL AND id IN ("
            ));
            q.bind_list(chunk.iter().copied()).push(")");
            let rows: Vec<(i64, Vec<u8>)> = db.fetch_all(q).await?;
            out.extend(
                rows.into_iter()
                    .filter_map(|(id, b)| decode_shape(&b).map(|g| (id, g))),
            );
        }
        Ok(out)
    }

    /// Creates a unit and logs it; see [`create_org_unit_in`].
    pub async fn create_org_unit(
        &self,
        w: &Writer<'_>,
        default_version: Option<SourceVersionId>,
        new: &NewOrgUnit,
    ) -> StoreResult<OrgUnit> {
        let mut tx = self.db.begin().await?;
        let id = create_org_unit_in(&mut tx, w, default_version, new).await?;
        tx.commit().await?;
        self.org_unit(w.scope, id).await
    }

    /// Changes a unit, moving its subtree when the parent changes, and logs it. 404 outside
    /// the scope; 400 naming the field for a cycle, a parent in another version, bad dates,
    /// a type or group of another account/version.
    pub async fn update_org_unit(
        &self,
        w: &Writer<'_>,
        id: OrgUnitId,
        ch: &OrgUnitChanges,
    ) -> StoreResult<OrgUnit> {
        let mut tx = self.db.begin().await?;
        update_org_unit_in(&mut tx, w, id, ch).await?;
        tx.commit().await?;
        self.org_unit(w.scope, id).await
    }

    /// Number of units per type in the scope.
    pub async fn count_org_units_by_type(
        &self,
        scope: &OrgUnitScope,
    ) -> StoreResult<HashMap<i64, i64>> {
        let mut db = self.db.clone();
        let mut q = Sql::new(
            "SELECT ou.org_unit_type_id, COUNT(*) FROM org_units ou WHERE ou.org_unit_type_id IS NOT NULL",
        );
        scope.push(&mut q, "ou");
        q.push(" GROUP BY ou.org_unit_type_id");
        let rows: Vec<(i64, i64)> = db.fetch_all(q).await?;
        Ok(rows.into_iter().collect())
    }

    /// Paths of units, for checking that they are in a scope.
    pub async fn org_unit_paths(&self, ids: &[i64]) -> StoreResult<Vec<(i64, i64, String)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut db = self.db.clone();
        let mut q = Sql::new("SELECT id, version_id, path FROM org_units WHERE id IN (");
        q.bind_list(ids.iter().copied()).push(")");
        Ok(db.fetch_all(q).await?)
    }
}
