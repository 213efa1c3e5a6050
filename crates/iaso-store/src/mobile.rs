//! The mobile app's pyramid: the VALID units of the account's default version whose type is
//! linked to the app's project, in path order, read in chunks (keyset on the unique path) so
//! that a whole country streams with bounded memory; and the delta since a previous sync.

use crate::org_units::push_subtrees;
use crate::{Store, StoreResult};
use chrono::{DateTime, NaiveDate, Utc};
use iaso_db::{Conn, Sql};
use sqlx::types::Json;
use std::collections::HashMap;

/// Which units the app gets.
#[derive(Debug, Clone)]
pub struct MobileScope {
    pub project_id: i64,
    pub version_id: i64,
    /// Sub-trees the download is limited to (`LIMIT_OU_DOWNLOAD_TO_ROOTS`); empty = all.
    pub roots: Vec<String>,
    /// Only units changed at or after this time (delta sync).
    pub since: Option<DateTime<Utc>>,
    /// Only these units (whatever their status), Iaso's `ids=`.
    pub ids: Option<Vec<i64>>,
}

/// A unit as the app receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct MobileOrgUnit {
    pub id: i64,
    pub name: String,
    /// The parent when the app also gets it (VALID and of a type of the project), else `None`.
    pub parent_id: Option<i64>,
    pub org_unit_type_id: Option<i64>,
    pub org_unit_type_name: Option<String>,
    pub validation_status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub altitude: Option<f64>,
    pub uuid: Option<String>,
    pub aliases: Option<Vec<String>>,
    pub opening_date: Option<NaiveDate>,
    pub closed_date: Option<NaiveDate>,
    pub groups: Vec<i64>,
    /// The simplified shape (else the full one), when asked for.
    pub shape: Option<iaso_geo::Geometry>,
    pub path: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    name: String,
    parent_id: Option<i64>,
    org_unit_type_id: Option<i64>,
    org_unit_type_name: Option<String>,
    validation_status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    altitude: Option<f64>,
    uuid: Option<String>,
    aliases: Option<Json<Vec<String>>>,
    opening_date: Option<NaiveDate>,
    closed_date: Option<NaiveDate>,
    shape: Option<Vec<u8>>,
    path: String,
}

fn push_where(q: &mut Sql, s: &MobileScope) {
    q.push(" WHERE ou.version_id = ").bind(s.version_id);
    match &s.ids {
        Some(ids) if ids.is_empty() => {
            q.push(" AND 1 = 0");
        }
        Some(ids) => {
            q.push(" AND ou.id IN (")
                .bind_list(ids.iter().copied())
                .push(")");
        }
        None => {
            q.push(" AND ou.validation_status = 'VALID'");
        }
    }
    q.push(" AND ou.org_unit_type_id IN (SELECT org_unit_type_id FROM org_unit_type_projects WHERE project_id = ")
        .bind(s.project_id)
        .push(")");
    push_subtrees(q, "ou", &s.roots);
    if let Some(t) = s.since {
        q.push(" AND ou.updated_at >= ").bind(t);
    }
}

impl Store {
    pub async fn mobile_count(&self, s: &MobileScope) -> StoreResult<i64> {
        let mut db = self.db.clone();
        let mut q = Sql::new("SELECT COUNT(*) FROM org_units ou");
        push_where(&mut q, s);
        Ok(db.fetch_scalar(q).await?)
    }

    /// Units after `after_path` (keyset) or at `offset`, in path order.
    pub async fn mobile_org_units(
        &self,
        s: &MobileScope,
        after_path: Option<&str>,
        offset: i64,
        limit: i64,
        with_shapes: bool,
    ) -> StoreResult<Vec<MobileOrgUnit>> {
        let mut db = self.db.clone();
        let shape = if with_shapes {
            "COALESCE(ou.simplified_geom, ou.geom)"
        } else {
            "NULL"
        };
        // $1 is the project (used in the CASE).
        let mut q = Sql::with_args(format!(
            "SELECT ou.id, ou.name,
                CASE WHEN par.id IS NOT NULL AND par.validation_status = 'VALID' AND par.org_unit_type_id IN
                    (SELECT org_unit_type_id FROM org_unit_type_projects WHERE project_id = $1)
                THEN par.id ELSE NULL END AS parent_id,
                ou.org_unit_type_id, t.name AS org_unit_type_name, ou.validation_status, ou.created_at, ou.updated_at,
                ou.latitude, ou.longitude, ou.altitude, ou.uuid, ou.aliases, ou.opening_date, ou.closed_date,
                {shape} AS shape, ou.path
             FROM org_units ou LEFT JOIN org_units par ON par.id = ou.parent_id
             LEFT JOIN org_unit_types t ON t.id = ou.org_unit_type_id"
        ), vec![s.project_id.into()]);
        push_where(&mut q, s);
        if let Some(p) = after_path {
            q.push(" AND ou.path > ").bind(p);
        }
        q.push(" ORDER BY ou.path LIMIT ")
            .bind(limit)
            .push(" OFFSET ")
            .bind(offset);
        let rows: Vec<Row> = db.fetch_all(q).await?;
        let mut groups: HashMap<i64, Vec<i64>> = HashMap::new();
        if !rows.is_empty() {
            let mut gq = Sql::new(
                "SELECT org_unit_id, group_id FROM group_org_units WHERE org_unit_id IN (",
            );
            gq.bind_list(rows.iter().map(|r| r.id))
                .push(") ORDER BY org_unit_id, group_id");
            let pairs: Vec<(i64, i64)> = db.fetch_all(gq).await?;
            for (u, g) in pairs {
                groups.entry(u).or_default().push(g);
            }
        }
        Ok(rows
            .into_iter()
            .map(|r| MobileOrgUnit {
                groups: groups.remove(&r.id).unwrap_or_default(),
                shape: r.shape.as_deref().and_then(crate::org_units::decode_shape),
                id: r.id,
                name: r.name,
                parent_id: r.parent_id,
                org_unit_type_id: r.org_unit_type_id,
                org_unit_type_name: r.org_unit_type_name,
                validation_status: r.validation_status,
                created_at: r.created_at,
                updated_at: r.updated_at,
                latitude: r.latitude,
                longitude: r.longitude,
                altitude: r.altitude,
                uuid: r.uuid,
                aliases: r.aliases.map(|a| a.0),
                opening_date: r.opening_date,
                closed_date: r.closed_date,
                path: r.path,
            })
            .collect())
    }

    /// Ids the app must drop since `since`: units of the version changed since then that are
    /// no longer VALID or no longer of a type of the project, and units deleted for good.
    pub async fn mobile_deleted_since(
        &self,
        s: &MobileScope,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<i64>> {
        let mut db = self.db.clone();
        let mut q = Sql::new("SELECT ou.id FROM org_units ou WHERE ou.version_id = ");
        q.bind(s.version_id)
            .push(" AND ou.updated_at >= ")
            .bind(since)
            .push(" AND (ou.validation_status <> 'VALID' OR ou.org_unit_type_id IS NULL OR ou.org_unit_type_id NOT IN (SELECT org_unit_type_id FROM org_unit_type_projects WHERE project_id = ")
            .bind(s.project_id)
            .push("))");
        push_subtrees(&mut q, "ou", &s.roots);
        let mut ids: Vec<i64> = db
            .fetch_all::<(i64,)>(q)
            .await?
            .into_iter()
            .map(|r| r.0)
            .collect();
        let gone: Vec<(i64,)> = db
            .fetch_all(iaso_db::sql!(
                "SELECT org_unit_id FROM org_unit_tombstones WHERE version_id = $1 AND deleted_at >= $2",
                s.version_id,
                since
            ))
            .await?;
        ids.extend(gone.into_iter().map(|r| r.0));
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }
}
