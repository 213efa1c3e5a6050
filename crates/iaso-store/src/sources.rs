//! Data sources and their versions: the containers of pyramids.
//!
//! A source belongs to the account that created it and is also visible to the accounts of the
//! projects it is linked to (Iaso's tenancy link). Every query takes the caller's account.

use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn, Sql};
use iaso_domain::{AccountId, DataSourceId, ProjectId, SourceVersionId};
use sqlx::types::Json;

/// SQL condition "data source `ds` is visible to the account bound as `$n`" (`{a}` is the
/// placeholder of the account id).
pub(crate) fn source_visible(ds: &str, a: &str) -> String {
    format!(
        "({ds}.account_id = {a} OR EXISTS (SELECT 1 FROM data_source_projects dsp_v \
         JOIN projects p_v ON p_v.id = dsp_v.project_id \
         WHERE dsp_v.data_source_id = {ds}.id AND p_v.account_id = {a}))"
    )
}

/// Ids of every source version the account can see.
pub(crate) async fn account_version_ids(
    c: &mut impl Conn,
    account: AccountId,
) -> StoreResult<Vec<i64>> {
    let rows: Vec<(i64,)> = c
        .fetch_all(sql!(
            &format!(
                "SELECT sv.id FROM source_versions sv JOIN data_sources ds ON ds.id = sv.data_source_id
                 WHERE {} ORDER BY sv.id",
                source_visible("ds", "$1")
            ),
            account.get()
        ))
        .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// A version with the numbers the API shows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceVersion {
    pub id: SourceVersionId,
    pub data_source_id: DataSourceId,
    pub data_source_name: String,
    pub number: i64,
    pub description: Option<String>,
    pub is_default: bool,
    pub org_units_count: i64,
    pub tree_config_status_fields: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: i64,
    data_source_id: i64,
    data_source_name: String,
    number: i64,
    description: Option<String>,
    is_default: bool,
    org_units_count: i64,
    tree_config_status_fields: Json<Vec<String>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const VERSION_SELECT: &str = "SELECT sv.id, sv.data_source_id, ds.name AS data_source_name, sv.number, \
    sv.description, (ds.default_version_id IS NOT NULL AND ds.default_version_id = sv.id) AS is_default, \
    (SELECT COUNT(*) FROM org_units ou WHERE ou.version_id = sv.id) AS org_units_count, \
    ds.tree_config_status_fields, sv.created_at, sv.updated_at \
    FROM source_versions sv JOIN data_sources ds ON ds.id = sv.data_source_id";

impl From<VersionRow> for SourceVersion {
    fn from(r: VersionRow) -> Self {
        SourceVersion {
            id: SourceVersionId(r.id),
            data_source_id: DataSourceId(r.data_source_id),
            data_source_name: r.data_source_name,
            number: r.number,
            description: r.description,
            is_default: r.is_default,
            org_units_count: r.org_units_count,
            tree_config_status_fields: r.tree_config_status_fields.0,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A project as nested in data source answers.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProjectBrief {
    pub id: i64,
    pub name: String,
    pub app_id: String,
    pub color: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    pub id: DataSourceId,
    pub account_id: AccountId,
    pub name: String,
    pub description: Option<String>,
    pub read_only: bool,
    pub public: bool,
    pub default_version_id: Option<SourceVersionId>,
    pub tree_config_status_fields: Vec<String>,
    pub projects: Vec<ProjectBrief>,
    /// Versions visible to the caller, by number.
    pub versions: Vec<SourceVersion>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DataSource {
    pub fn default_version(&self) -> Option<&SourceVersion> {
        self.default_version_id
            .and_then(|d| self.versions.iter().find(|v| v.id == d))
    }
}

#[derive(sqlx::FromRow)]
struct SourceRow {
    id: i64,
    account_id: i64,
    name: String,
    description: Option<String>,
    read_only: bool,
    public: bool,
    default_version_id: Option<i64>,
    tree_config_status_fields: Json<Vec<String>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const SOURCE_COLUMNS: &str =
    "ds.id, ds.account_id, ds.name, ds.description, ds.read_only, ds.public, \
    ds.default_version_id, ds.tree_config_status_fields, ds.created_at, ds.updated_at";

/// Filters of `/api/datasources/`.
#[derive(Debug, Clone, Default)]
pub struct SourceFilter {
    pub name: Option<String>,
    pub project_ids: Vec<ProjectId>,
    pub filter_empty_versions: bool,
    /// Iaso ordering keys (`name`, `-id`, ...).
    pub order: Vec<String>,
}

/// Fields of a data source; `None` leaves a field unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct SourceChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub read_only: Option<bool>,
    pub public: Option<bool>,
    pub tree_config_status_fields: Option<Vec<String>>,
    /// `Some(None)` clears the default version.
    pub default_version_id: Option<Option<SourceVersionId>>,
    pub project_ids: Option<Vec<ProjectId>>,
}

async fn load_sources(
    c: &mut impl Conn,
    rows: Vec<SourceRow>,
    account: AccountId,
) -> StoreResult<Vec<DataSource>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut q = Sql::new(
        "SELECT dsp.data_source_id, p.id, p.name, p.app_id, p.color, p.description FROM data_source_projects dsp
         JOIN projects p ON p.id = dsp.project_id WHERE p.account_id = ",
    );
    q.bind(account.get())
        .push(" AND dsp.data_source_id IN (")
        .bind_list(ids.iter().copied())
        .push(") ORDER BY p.id");
    let projects: Vec<(i64, i64, String, String, String, String)> = c.fetch_all(q).await?;
    let mut q = Sql::new(format!("{VERSION_SELECT} WHERE sv.data_source_id IN ("));
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY sv.number, sv.id");
    let versions: Vec<VersionRow> = c.fetch_all(q).await?;
    let mut versions: Vec<SourceVersion> = versions.into_iter().map(Into::into).collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine: Vec<SourceVersion>;
            (mine, versions) = versions
                .drain(..)
                .partition(|v| v.data_source_id.get() == r.id);
            DataSource {
                id: DataSourceId(r.id),
                account_id: AccountId(r.account_id),
                name: r.name,
                description: r.description,
                read_only: r.read_only,
                public: r.public,
                default_version_id: r.default_version_id.map(SourceVersionId),
                tree_config_status_fields: r.tree_config_status_fields.0,
                projects: projects
                    .iter()
                    .filter(|p| p.0 == r.id)
                    .map(|p| ProjectBrief {
                        id: p.1,
                        name: p.2.clone(),
                        app_id: p.3.clone(),
                        color: p.4.clone(),
                        description: p.5.clone(),
                    })
                    .collect(),
                versions: mine,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

fn source_order(order: &[String]) -> String {
    let mut parts = Vec::new();
    for key in order.iter().flat_map(|o| o.split(',')) {
        let (desc, key) = key
            .trim()
            .strip_prefix('-')
            .map_or((false, key.trim()), |k| (true, k));
        let col = match key {
            "name" => "ds.name_key",
            "id" => "ds.id",
            "created_at" => "ds.created_at",
            "updated_at" => "ds.updated_at",
            "description" => "ds.description",
            _ => continue,
        };
        parts.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
    }
    if parts.is_empty() {
        parts.push("ds.name_key ASC".into());
    }
    parts.push("ds.id ASC".into());
    parts.join(", ")
}

fn name_taken(e: iaso_db::DbError) -> StoreError {
    match e {
        iaso_db::DbError::UniqueViolation { .. } => {
            StoreError::invalid("name", "A data source with this name already exists.")
        }
        other => other.into(),
    }
}

/// Checks that the projects belong to the account.
async fn check_projects(
    c: &mut impl Conn,
    account: AccountId,
    projects: &[ProjectId],
) -> StoreResult<()> {
    if projects.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new("SELECT COUNT(DISTINCT id) FROM projects WHERE account_id = ");
    q.bind(account.get())
        .push(" AND id IN (")
        .bind_list(projects.iter().map(|p| p.get()))
        .push(")");
    let found: i64 = c.fetch_scalar(q).await?;
    let distinct = projects
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len() as i64;
    if found != distinct {
        return Err(StoreError::invalid(
            "project_ids",
            "Invalid pk - object does not exist.",
        ));
    }
    Ok(())
}

/// Inserts a source (name unique in the account) linked to `projects`.
pub(crate) async fn insert_source(
    c: &mut impl Conn,
    account: AccountId,
    name: &str,
    description: Option<&str>,
    projects: &[ProjectId],
) -> StoreResult<DataSourceId> {
    let now = iaso_db::now();
    let id: i64 = c
        .fetch_scalar(sql!(
            "INSERT INTO data_sources (account_id, name, name_key, description, read_only, public,
                tree_config_status_fields, created_at, updated_at)
             VALUES ($1, $2, $3, $4, FALSE, FALSE, $5, $6, $6) RETURNING id",
            account.get(),
            name.trim(),
            name.trim().to_lowercase(),
            description,
            serde_json::json!([]),
            now
        ))
        .await
        .map_err(name_taken)?;
    for p in projects {
        c.execute(sql!(
            "INSERT INTO data_source_projects (data_source_id, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            id,
            p.get()
        ))
        .await?;
    }
    Ok(DataSourceId(id))
}

/// Inserts version `number` of a source (the next number when `None`).
pub(crate) async fn insert_version(
    c: &mut impl Conn,
    source: DataSourceId,
    number: Option<i64>,
    description: Option<&str>,
) -> StoreResult<SourceVersionId> {
    let number = match number {
        Some(n) => n,
        None => {
            let max: Option<i64> = c
                .fetch_scalar(sql!(
                    "SELECT MAX(number) FROM source_versions WHERE data_source_id = $1",
                    source.get()
                ))
                .await?;
            max.unwrap_or(0) + 1
        }
    };
    let now = iaso_db::now();
    let id: i64 = c
        .fetch_scalar(sql!(
            "INSERT INTO source_versions (data_source_id, number, description, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
            source.get(),
            number,
            description,
            now
        ))
        .await
        .map_err(|e| match e {
            iaso_db::DbError::UniqueViolation { .. } => StoreError::invalid(
                "number",
                format!("Version {number} already exists in this data source."),
            ),
            other => other.into(),
        })?;
    Ok(SourceVersionId(id))
}

impl Store {
    pub async fn list_sources(
        &self,
        account: AccountId,
        filter: &SourceFilter,
    ) -> StoreResult<Vec<DataSource>> {
        let mut db = self.db.clone();
        let mut q = Sql::with_args(
            format!(
                "SELECT {SOURCE_COLUMNS} FROM data_sources ds WHERE {}",
                source_visible("ds", "$1")
            ),
            vec![account.get().into()],
        );
        if let Some(name) = filter
            .name
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            q.push(" AND ds.name_key LIKE ")
                .bind(crate::like_contains(name))
                .push(" ESCAPE '\\'");
        }
        if !filter.project_ids.is_empty() {
            q.push(" AND EXISTS (SELECT 1 FROM data_source_projects dsp WHERE dsp.data_source_id = ds.id AND dsp.project_id IN (")
                .bind_list(filter.project_ids.iter().map(|p| p.get()))
                .push("))");
        }
        if filter.filter_empty_versions {
            q.push(
                " AND EXISTS (SELECT 1 FROM source_versions sv WHERE sv.data_source_id = ds.id)",
            );
        }
        q.push(" ORDER BY ").push(&source_order(&filter.order));
        let rows: Vec<SourceRow> = db.fetch_all(q).await?;
        load_sources(&mut db, rows, account).await
    }

    pub async fn source(&self, account: AccountId, id: DataSourceId) -> StoreResult<DataSource> {
        let mut db = self.db.clone();
        let row: SourceRow = db
            .fetch_one(sql!(
                &format!(
                    "SELECT {SOURCE_COLUMNS} FROM data_sources ds WHERE ds.id = $2 AND {}",
                    source_visible("ds", "$1")
                ),
                account.get(),
                id.get()
            ))
            .await?;
        load_sources(&mut db, vec![row], account)
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    pub async fn create_source(
        &self,
        account: AccountId,
        ch: &SourceChanges,
    ) -> StoreResult<DataSource> {
        let name = ch.name.clone().unwrap_or_default();
        let projects = ch.project_ids.clone().unwrap_or_default();
        let mut tx = self.db.begin().await?;
        check_projects(&mut tx, account, &projects).await?;
        let id = insert_source(
            &mut tx,
            account,
            &name,
            ch.description.clone().flatten().as_deref(),
            &projects,
        )
        .await?;
        tx.execute(sql!(
            "UPDATE data_sources SET read_only = $1, public = $2, tree_config_status_fields = $3 WHERE id = $4",
            ch.read_only.unwrap_or(false),
            ch.public.unwrap_or(false),
            serde_json::json!(ch.tree_config_status_fields.clone().unwrap_or_default()),
            id.get()
        ))
        .await?;
        tx.commit().await?;
        self.source(account, id).await
    }

    /// Changes a source visible to the account. The default version must be one of its own.
    pub async fn update_source(
        &self,
        account: AccountId,
        id: DataSourceId,
        ch: &SourceChanges,
    ) -> StoreResult<DataSource> {
        let current = self.source(account, id).await?;
        let mut tx = self.db.begin().await?;
        if let Some(projects) = &ch.project_ids {
            check_projects(&mut tx, account, projects).await?;
        }
        if let Some(Some(v)) = ch.default_version_id {
            if !current.versions.iter().any(|x| x.id == v) {
                return Err(StoreError::invalid(
                    "default_version_id",
                    "This version does not belong to the data source.",
                ));
            }
        }
        let now = iaso_db::now();
        let name = ch.name.clone().unwrap_or(current.name.clone());
        tx.execute(sql!(
            "UPDATE data_sources SET name = $1, name_key = $2, description = $3, read_only = $4, public = $5,
                tree_config_status_fields = $6, default_version_id = $7, updated_at = $8 WHERE id = $9",
            name.trim(),
            name.trim().to_lowercase(),
            ch.description.clone().unwrap_or(current.description.clone()),
            ch.read_only.unwrap_or(current.read_only),
            ch.public.unwrap_or(current.public),
            serde_json::json!(ch
                .tree_config_status_fields
                .clone()
                .unwrap_or(current.tree_config_status_fields.clone())),
            ch.default_version_id
                .unwrap_or(current.default_version_id)
                .map(|v| v.get()),
            now,
            id.get()
        ))
        .await
        .map_err(name_taken)?;
        if let Some(projects) = &ch.project_ids {
            // Only this account's links are replaced; other accounts' links stay.
            tx.execute(sql!(
                "DELETE FROM data_source_projects WHERE data_source_id = $1
                 AND project_id IN (SELECT id FROM projects WHERE account_id = $2)",
                id.get(),
                account.get()
            ))
            .await?;
            for p in projects {
                tx.execute(sql!(
                    "INSERT INTO data_source_projects (data_source_id, project_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    id.get(),
                    p.get()
                ))
                .await?;
            }
        }
        tx.commit().await?;
        self.source(account, id).await
    }

    pub async fn list_versions(
        &self,
        account: AccountId,
        source: Option<DataSourceId>,
    ) -> StoreResult<Vec<SourceVersion>> {
        let mut db = self.db.clone();
        let mut q = Sql::with_args(
            format!("{VERSION_SELECT} WHERE {}", source_visible("ds", "$1")),
            vec![account.get().into()],
        );
        if let Some(s) = source {
            q.push(" AND sv.data_source_id = ").bind(s.get());
        }
        q.push(" ORDER BY sv.id");
        let rows: Vec<VersionRow> = db.fetch_all(q).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn version(
        &self,
        account: AccountId,
        id: SourceVersionId,
    ) -> StoreResult<SourceVersion> {
        let mut db = self.db.clone();
        let row: VersionRow = db
            .fetch_one(sql!(
                &format!(
                    "{VERSION_SELECT} WHERE sv.id = $2 AND {}",
                    source_visible("ds", "$1")
                ),
                account.get(),
                id.get()
            ))
            .await?;
        Ok(row.into())
    }

    /// Creates the next version of a source visible to the account.
    pub async fn create_version(
        &self,
        account: AccountId,
        source: DataSourceId,
        number: Option<i64>,
        description: Option<&str>,
    ) -> StoreResult<SourceVersion> {
        let src = match self.source(account, source).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => {
                return Err(StoreError::invalid(
                    "data_source_id",
                    "Source does not belong to this account.",
                ))
            }
            Err(e) => return Err(e),
        };
        let mut tx = self.db.begin().await?;
        let id = insert_version(&mut tx, src.id, number, description).await?;
        tx.commit().await?;
        self.version(account, id).await
    }

    pub async fn update_version(
        &self,
        account: AccountId,
        id: SourceVersionId,
        description: Option<Option<String>>,
    ) -> StoreResult<SourceVersion> {
        let current = self.version(account, id).await?;
        let mut db = self.db.clone();
        db.execute(sql!(
            "UPDATE source_versions SET description = $1, updated_at = $2 WHERE id = $3",
            description.unwrap_or(current.description),
            iaso_db::now(),
            id.get()
        ))
        .await?;
        self.version(account, id).await
    }

    /// Deletes a version with its org units, groups and group sets (tombstones are kept for
    /// the mobile delta sync); sources and accounts using it as default lose their default.
    pub async fn delete_version(&self, account: AccountId, id: SourceVersionId) -> StoreResult<()> {
        let v = self.version(account, id).await?;
        let src = self.source(account, v.data_source_id).await?;
        if src.account_id != account {
            return Err(StoreError::Conflict(
                "Only the account owning the data source can delete its versions.".into(),
            ));
        }
        let mut tx = self.db.begin().await?;
        // Submissions keep their org unit (as in Iaso, whose foreign key refuses the delete).
        let used: i64 = tx
            .fetch_scalar(sql!(
                "SELECT COUNT(*) FROM instances i JOIN org_units ou ON ou.id = i.org_unit_id WHERE ou.version_id = $1",
                id.get()
            ))
            .await?;
        if used > 0 {
            return Err(StoreError::Conflict(format!(
                "{used} submission(s) are attached to org units of this version: it cannot be deleted."
            )));
        }
        let now = iaso_db::now();
        tx.execute(sql!(
            "INSERT INTO org_unit_tombstones (org_unit_id, version_id, deleted_at)
             SELECT id, version_id, $2 FROM org_units WHERE version_id = $1",
            id.get(),
            now
        ))
        .await?;
        tx.execute(sql!(
            "UPDATE data_sources SET default_version_id = NULL WHERE default_version_id = $1",
            id.get()
        ))
        .await?;
        tx.execute(sql!(
            "UPDATE accounts SET default_version_id = NULL WHERE default_version_id = $1",
            id.get()
        ))
        .await?;
        // Children before parents is not needed: the parent FK cascades, but deleting the
        // whole version at once is simpler and lets the database order it.
        tx.execute(sql!(
            "DELETE FROM org_units WHERE version_id = $1",
            id.get()
        ))
        .await?;
        tx.execute(sql!("DELETE FROM source_versions WHERE id = $1", id.get()))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the account's default version (the tenant's pyramid): a version it can see.
    pub async fn set_account_default_version(
        &self,
        account: AccountId,
        version: Option<SourceVersionId>,
    ) -> StoreResult<()> {
        if let Some(v) = version {
            self.version(account, v).await.map_err(|e| match e {
                StoreError::NotFound => {
                    StoreError::invalid("default_version", "Unknown source version.")
                }
                other => other,
            })?;
        }
        let mut db = self.db.clone();
        db.execute(sql!(
            "UPDATE accounts SET default_version_id = $1, updated_at = $2 WHERE id = $3",
            version.map(|v| v.get()),
            iaso_db::now(),
            account.get()
        ))
        .await?;
        Ok(())
    }

    /// The versions visible to the account.
    pub async fn account_version_ids(&self, account: AccountId) -> StoreResult<Vec<i64>> {
        let mut db = self.db.clone();
        account_version_ids(&mut db, account).await
    }
}
