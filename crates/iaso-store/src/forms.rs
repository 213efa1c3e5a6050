//! Forms, their versions and attachments.

use crate::audit::{self, Change};
use crate::org_unit_io::insert_pairs;
use crate::{Page, PageRequest, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn, DbError, Sql};
use iaso_domain::{AccountId, FieldErrors, UserId};
use serde_json::{json, Value};
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
struct FormRow {
    id: i64,
    account_id: i64,
    name: String,
    form_id: Option<String>,
    device_field: Option<String>,
    location_field: Option<String>,
    correlation_field: Option<String>,
    correlatable: bool,
    possible_fields: Option<Json<Value>>,
    period_type: Option<String>,
    single_per_period: bool,
    periods_before_allowed: i64,
    periods_after_allowed: i64,
    derived: bool,
    uuid: String,
    label_keys: Option<Json<Value>>,
    legend_threshold: Option<Json<Value>>,
    change_request_mode: String,
    deleted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    instances_count: i64,
    instance_updated_at: Option<DateTime<Utc>>,
    has_attachments: bool,
}

const FORM_COLUMNS: &str = "f.id, f.account_id, f.name, f.form_id, f.device_field, f.location_field, \
    f.correlation_field, f.correlatable, f.possible_fields, f.period_type, f.single_per_period, \
    f.periods_before_allowed, f.periods_after_allowed, f.derived, f.uuid, f.label_keys, \
    f.legend_threshold, f.change_request_mode, f.deleted_at, f.created_at, f.updated_at, \
    (SELECT COUNT(*) FROM instances i WHERE i.form_id = f.id AND i.file IS NOT NULL AND NOT i.deleted) AS instances_count, \
    (SELECT MAX(i.updated_at) FROM instances i WHERE i.form_id = f.id) AS instance_updated_at, \
    EXISTS (SELECT 1 FROM form_attachments fa WHERE fa.form_id = f.id) AS has_attachments";

/// A form with what its answers show.
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub id: i64,
    pub account_id: AccountId,
    pub name: String,
    pub form_id: Option<String>,
    pub device_field: Option<String>,
    pub location_field: Option<String>,
    pub correlation_field: Option<String>,
    pub correlatable: bool,
    pub possible_fields: Option<Value>,
    pub period_type: Option<String>,
    pub single_per_period: bool,
    pub periods_before_allowed: i64,
    pub periods_after_allowed: i64,
    pub derived: bool,
    pub uuid: String,
    pub label_keys: Option<Value>,
    pub legend_threshold: Option<Value>,
    pub change_request_mode: String,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub instances_count: i64,
    pub instance_updated_at: Option<DateTime<Utc>>,
    pub has_attachments: bool,
    pub project_ids: Vec<i64>,
    pub org_unit_type_ids: Vec<i64>,
    pub latest_version: Option<FormVersion>,
}

impl Form {
    /// The serialisation stored in the audit log.
    pub fn audit_json(&self) -> Value {
        json!([{ "model": "iaso.form", "pk": self.id, "fields": {
            "name": self.name, "form_id": self.form_id, "device_field": self.device_field,
            "location_field": self.location_field, "period_type": self.period_type,
            "single_per_period": self.single_per_period,
            "periods_before_allowed": self.periods_before_allowed,
            "periods_after_allowed": self.periods_after_allowed, "derived": self.derived,
            "label_keys": self.label_keys, "projects": self.project_ids,
            "org_unit_types": self.org_unit_type_ids,
            "deleted_at": self.deleted_at.map(|d| d.to_rfc3339()),
            "change_request_mode": self.change_request_mode,
        }}])
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    id: i64,
    form_id: i64,
    form_name: String,
    version_id: String,
    file: String,
    file_size: Option<i64>,
    md5: String,
    xls_file: Option<String>,
    form_descriptor: Option<Json<Value>>,
    possible_fields: Option<Json<Value>>,
    start_period: Option<String>,
    end_period: Option<String>,
    created_by_id: Option<i64>,
    created_by_username: Option<String>,
    created_by_first_name: Option<String>,
    created_by_last_name: Option<String>,
    updated_by_id: Option<i64>,
    updated_by_username: Option<String>,
    updated_by_first_name: Option<String>,
    updated_by_last_name: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const VERSION_COLUMNS: &str = "v.id, v.form_id, f.name AS form_name, v.version_id, v.file, v.file_size, v.md5, \
    v.xls_file, v.form_descriptor, v.possible_fields, v.start_period, v.end_period, \
    v.created_by_id, cu.username AS created_by_username, cu.first_name AS created_by_first_name, \
    cu.last_name AS created_by_last_name, v.updated_by_id, uu.username AS updated_by_username, \
    uu.first_name AS updated_by_first_name, uu.last_name AS updated_by_last_name, v.created_at, v.updated_at";

const VERSION_FROM: &str = "FROM form_versions v JOIN forms f ON f.id = v.form_id \
    LEFT JOIN users cu ON cu.id = v.created_by_id LEFT JOIN users uu ON uu.id = v.updated_by_id";

/// A user as nested in answers.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRef {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
}

fn user_ref(
    id: Option<i64>,
    u: Option<String>,
    f: Option<String>,
    l: Option<String>,
) -> Option<UserRef> {
    Some(UserRef {
        id: id?,
        username: u.unwrap_or_default(),
        first_name: f.unwrap_or_default(),
        last_name: l.unwrap_or_default(),
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct FormVersion {
    pub id: i64,
    pub form_id: i64,
    pub form_name: String,
    pub version_id: String,
    /// Storage key of the XForm.
    pub file: String,
    pub file_size: Option<i64>,
    pub md5: String,
    pub xls_file: Option<String>,
    pub descriptor: Option<Value>,
    pub possible_fields: Option<Value>,
    pub start_period: Option<String>,
    pub end_period: Option<String>,
    pub created_by: Option<UserRef>,
    pub updated_by: Option<UserRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<VersionRow> for FormVersion {
    fn from(r: VersionRow) -> Self {
        FormVersion {
            id: r.id,
            form_id: r.form_id,
            form_name: r.form_name,
            version_id: r.version_id,
            file: r.file,
            file_size: r.file_size,
            md5: r.md5,
            xls_file: r.xls_file,
            descriptor: r.form_descriptor.map(|j| j.0),
            possible_fields: r.possible_fields.map(|j| j.0),
            start_period: r.start_period,
            end_period: r.end_period,
            created_by: user_ref(
                r.created_by_id,
                r.created_by_username,
                r.created_by_first_name,
                r.created_by_last_name,
            ),
            updated_by: user_ref(
                r.updated_by_id,
                r.updated_by_username,
                r.updated_by_first_name,
                r.updated_by_last_name,
            ),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Which forms a list shows.
#[derive(Debug, Clone, Default)]
pub struct FormFilter {
    /// Profile restriction: when not empty, only forms of these projects.
    pub restrict_projects: Vec<i64>,
    /// Mobile: forms of this project only, derived forms excluded.
    pub app_project: Option<i64>,
    pub only_deleted: bool,
    pub show_deleted: bool,
    pub project_ids: Vec<i64>,
    pub org_unit_type_ids: Vec<i64>,
    pub search: Option<String>,
    pub ids: Vec<i64>,
    /// Mobile: only forms that have at least one version.
    pub with_versions_only: bool,
    pub order: Vec<String>,
}

/// Fields of a form; `None` leaves a field unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct FormChanges {
    pub name: Option<String>,
    pub device_field: Option<Option<String>>,
    pub location_field: Option<Option<String>>,
    pub correlation_field: Option<Option<String>>,
    pub correlatable: Option<bool>,
    pub period_type: Option<Option<String>>,
    pub single_per_period: Option<bool>,
    pub periods_before_allowed: Option<i64>,
    pub periods_after_allowed: Option<i64>,
    pub derived: Option<bool>,
    pub label_keys: Option<Option<Value>>,
    pub legend_threshold: Option<Option<Value>>,
    pub change_request_mode: Option<String>,
    pub project_ids: Option<Vec<i64>>,
    pub org_unit_type_ids: Option<Vec<i64>>,
    pub deleted_at: Option<Option<DateTime<Utc>>>,
}

/// A new version, its files already stored.
#[derive(Debug, Clone)]
pub struct NewFormVersion {
    pub form_id: i64,
    pub version_id: String,
    pub xform_id: String,
    pub file: String,
    pub file_size: i64,
    pub md5: String,
    pub xls_file: Option<String>,
    pub xls_file_size: Option<i64>,
    pub descriptor: Value,
    pub start_period: Option<String>,
    pub end_period: Option<String>,
    pub user: Option<UserId>,
}

#[derive(Debug, Clone, Default)]
pub struct VersionFilter {
    pub restrict_projects: Vec<i64>,
    pub app_project: Option<i64>,
    pub form_id: Option<i64>,
    pub version_id: Option<String>,
    pub search_name: Option<String>,
    pub order: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct FormAttachment {
    pub id: i64,
    pub form_id: i64,
    pub name: String,
    pub file: String,
    pub file_size: Option<i64>,
    pub md5: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn order_sql(order: &[String], allowed: &[(&str, &str)], default: &str) -> String {
    let mut parts = Vec::new();
    for key in order.iter().flat_map(|o| o.split(',')) {
        let key = key.trim();
        let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
        if let Some((_, col)) = allowed.iter().find(|(k, _)| *k == key) {
            parts.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
        }
    }
    if parts.is_empty() {
        parts.push(default.to_string());
    }
    parts.join(", ")
}

fn form_filter_sql(q: &mut Sql, account: AccountId, f: &FormFilter) {
    q.push(" WHERE f.account_id = ").bind(account.get());
    if f.only_deleted {
        q.push(" AND f.deleted_at IS NOT NULL");
    } else if !f.show_deleted {
        q.push(" AND f.deleted_at IS NULL");
    }
    if !f.restrict_projects.is_empty() {
        q.push(" AND EXISTS (SELECT 1 FROM form_projects fp WHERE fp.form_id = f.id AND fp.project_id IN (")
            .bind_list(f.restrict_projects.iter().copied())
            .push("))");
    }
    if let Some(p) = f.app_project {
        q.push(" AND NOT f.derived AND EXISTS (SELECT 1 FROM form_projects fp WHERE fp.form_id = f.id AND fp.project_id = ")
            .bind(p)
            .push(")");
    }
    if !f.project_ids.is_empty() {
        q.push(" AND EXISTS (SELECT 1 FROM form_projects fp WHERE fp.form_id = f.id AND fp.project_id IN (")
            .bind_list(f.project_ids.iter().copied())
            .push("))");
    }
    if !f.org_unit_type_ids.is_empty() {
        q.push(" AND EXISTS (SELECT 1 FROM form_org_unit_types ft WHERE ft.form_id = f.id AND ft.org_unit_type_id IN (")
            .bind_list(f.org_unit_type_ids.iter().copied())
            .push("))");
    }
    if !f.ids.is_empty() {
        q.push(" AND f.id IN (")
            .bind_list(f.ids.iter().copied())
            .push(")");
    }
    if let Some(s) = &f.search {
        q.push(" AND LOWER(f.name) LIKE ")
            .bind(format!("%{}%", like_escape(&s.to_lowercase())))
            .push(" ESCAPE '\\'");
    }
    if f.with_versions_only {
        q.push(" AND EXISTS (SELECT 1 FROM form_versions v WHERE v.form_id = f.id)");
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern (used with `ESCAPE '\'`).
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn complete(c: &mut impl Conn, rows: Vec<FormRow>) -> StoreResult<Vec<Form>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut q = Sql::new("SELECT form_id, project_id FROM form_projects WHERE form_id IN (");
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY project_id");
    let projects: Vec<(i64, i64)> = c.fetch_all(q).await?;
    let mut q =
        Sql::new("SELECT form_id, org_unit_type_id FROM form_org_unit_types WHERE form_id IN (");
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY org_unit_type_id");
    let types: Vec<(i64, i64)> = c.fetch_all(q).await?;
    // The latest version of each form (by creation time, then id).
    let mut q = Sql::new(format!(
        "SELECT {VERSION_COLUMNS} {VERSION_FROM} WHERE v.id IN (SELECT (SELECT v2.id FROM form_versions v2 \
         WHERE v2.form_id = f2.id ORDER BY v2.created_at DESC, v2.id DESC LIMIT 1) FROM forms f2 WHERE f2.id IN ("
    ));
    q.bind_list(ids.iter().copied()).push("))");
    let versions: Vec<VersionRow> = c.fetch_all(q).await?;
    let mut versions: Vec<FormVersion> = versions.into_iter().map(Into::into).collect();
    Ok(rows
        .into_iter()
        .map(|r| {
            let latest = versions
                .iter()
                .position(|v| v.form_id == r.id)
                .map(|i| versions.swap_remove(i));
            Form {
                project_ids: projects
                    .iter()
                    .filter(|(f, _)| *f == r.id)
                    .map(|(_, p)| *p)
                    .collect(),
                org_unit_type_ids: types
                    .iter()
                    .filter(|(f, _)| *f == r.id)
                    .map(|(_, t)| *t)
                    .collect(),
                latest_version: latest,
                id: r.id,
                account_id: AccountId(r.account_id),
                name: r.name,
                form_id: r.form_id,
                device_field: r.device_field,
                location_field: r.location_field,
                correlation_field: r.correlation_field,
                correlatable: r.correlatable,
                possible_fields: r.possible_fields.map(|j| j.0),
                period_type: r.period_type,
                single_per_period: r.single_per_period,
                periods_before_allowed: r.periods_before_allowed,
                periods_after_allowed: r.periods_after_allowed,
                derived: r.derived,
                uuid: r.uuid,
                label_keys: r.label_keys.map(|j| j.0),
                legend_threshold: r.legend_threshold.map(|j| j.0),
                change_request_mode: r.change_request_mode,
                deleted_at: r.deleted_at,
                created_at: r.created_at,
                updated_at: r.updated_at,
                instances_count: r.instances_count,
                instance_updated_at: r.instance_updated_at,
                has_attachments: r.has_attachments,
            }
        })
        .collect())
}

/// Checks that projects belong to the account.
async fn check_projects(c: &mut impl Conn, account: AccountId, ids: &[i64]) -> StoreResult<()> {
    if ids.is_empty() {
        return Err(StoreError::invalid(
            "project_ids",
            "This list may not be empty.",
        ));
    }
    let mut q = Sql::new("SELECT COUNT(*) FROM projects WHERE account_id = ");
    q.bind(account.get()).push(" AND id IN (");
    q.bind_list(ids.iter().copied()).push(")");
    let n: i64 = c.fetch_scalar(q).await?;
    let mut distinct = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if n != distinct.len() as i64 {
        return Err(StoreError::invalid("project_ids", "Invalid project ids"));
    }
    Ok(())
}

/// Checks that org unit types belong to the account (never another tenant's types).
async fn check_org_unit_types(
    c: &mut impl Conn,
    account: AccountId,
    ids: &[i64],
) -> StoreResult<()> {
    let mut distinct = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new("SELECT COUNT(*) FROM org_unit_types WHERE account_id = ");
    q.bind(account.get()).push(" AND id IN (");
    q.bind_list(distinct.iter().copied()).push(")");
    let n: i64 = c.fetch_scalar(q).await?;
    if n != distinct.len() as i64 {
        return Err(StoreError::invalid(
            "org_unit_type_ids",
            "Invalid org unit type ids",
        ));
    }
    Ok(())
}

/// The pairs without repeats, in their first order.
fn distinct_pairs(pairs: impl Iterator<Item = (i64, i64)>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for p in pairs {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

async fn write_links(c: &mut impl Conn, form: i64, ch: &FormChanges) -> StoreResult<()> {
    if let Some(projects) = &ch.project_ids {
        c.execute(sql!("DELETE FROM form_projects WHERE form_id = $1", form))
            .await?;
        let pairs = distinct_pairs(projects.iter().map(|p| (form, *p)));
        insert_pairs(c, "form_projects (form_id, project_id)", &pairs).await?;
    }
    if let Some(types) = &ch.org_unit_type_ids {
        c.execute(sql!(
            "DELETE FROM form_org_unit_types WHERE form_id = $1",
            form
        ))
        .await?;
        let pairs = distinct_pairs(types.iter().map(|t| (form, *t)));
        insert_pairs(c, "form_org_unit_types (form_id, org_unit_type_id)", &pairs).await?;
    }
    Ok(())
}

pub(crate) async fn form_in(c: &mut impl Conn, account: AccountId, id: i64) -> StoreResult<Form> {
    let mut q = Sql::new(format!("SELECT {FORM_COLUMNS} FROM forms f"));
    form_filter_sql(
        &mut q,
        account,
        &FormFilter {
            show_deleted: true,
            ..Default::default()
        },
    );
    q.push(" AND f.id = ").bind(id);
    let rows: Vec<FormRow> = c.fetch_all(q).await?;
    complete(c, rows).await?.pop().ok_or(StoreError::NotFound)
}

impl Store {
    pub async fn list_forms(
        &self,
        account: AccountId,
        filter: &FormFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Form>> {
        let mut db = self.db.clone();
        let mut count = Sql::new("SELECT COUNT(*) FROM forms f");
        form_filter_sql(&mut count, account, filter);
        let count: i64 = db.fetch_scalar(count).await?;
        let mut q = Sql::new(format!("SELECT {FORM_COLUMNS} FROM forms f"));
        form_filter_sql(&mut q, account, filter);
        let order = order_sql(
            &filter.order,
            &[
                ("id", "f.id"),
                ("name", "LOWER(f.name)"),
                ("form_id", "f.form_id"),
                ("created_at", "f.created_at"),
                ("updated_at", "f.updated_at"),
                ("instance_updated_at", "instance_updated_at"),
                ("instances_count", "instances_count"),
                ("period_type", "f.period_type"),
            ],
            "LOWER(f.name) ASC",
        );
        q.push(" ORDER BY ").push(&order).push(", f.id");
        page.push_to(&mut q);
        let rows: Vec<FormRow> = db.fetch_all(q).await?;
        Ok(Page {
            items: complete(&mut db, rows).await?,
            count,
        })
    }

    /// A form of the account, deleted or not.
    pub async fn form(&self, account: AccountId, id: i64) -> StoreResult<Form> {
        let mut db = self.db.clone();
        form_in(&mut db, account, id).await
    }

    pub async fn create_form(
        &self,
        account: AccountId,
        ch: &FormChanges,
        user: Option<UserId>,
    ) -> StoreResult<Form> {
        let mut tx = self.db.begin().await?;
        check_projects(
            &mut tx,
            account,
            ch.project_ids.as_deref().unwrap_or_default(),
        )
        .await?;
        check_org_unit_types(
            &mut tx,
            account,
            ch.org_unit_type_ids.as_deref().unwrap_or_default(),
        )
        .await?;
        let now = iaso_db::now();
        let id: i64 = tx
            .fetch_scalar(sql!(
                "INSERT INTO forms (account_id, name, device_field, location_field, correlation_field, correlatable,
                    period_type, single_per_period, periods_before_allowed, periods_after_allowed, derived, uuid,
                    label_keys, legend_threshold, change_request_mode, possible_fields, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17) RETURNING id",
                account.get(),
                ch.name.clone().unwrap_or_default(),
                ch.device_field.clone().flatten(),
                ch.location_field.clone().flatten(),
                ch.correlation_field.clone().flatten(),
                ch.correlatable.unwrap_or(false),
                ch.period_type.clone().flatten(),
                ch.single_per_period.unwrap_or(false),
                ch.periods_before_allowed.unwrap_or(0),
                ch.periods_after_allowed.unwrap_or(0),
                ch.derived.unwrap_or(false),
                uuid::Uuid::new_v4(),
                ch.label_keys.clone().flatten(),
                ch.legend_threshold.clone().flatten(),
                ch.change_request_mode.clone().unwrap_or_else(|| "CR_MODE_NONE".into()),
                json!([]),
                now
            ))
            .await?;
        write_links(&mut tx, id, ch).await?;
        let form = form_in(&mut tx, account, id).await?;
        audit::log(
            &mut tx,
            &Change {
                account: Some(account),
                content_type: "iaso.form",
                object_id: id.to_string(),
                past: json!([]),
                new: form.audit_json(),
                source: audit::sources::FORM_API,
                user,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(form)
    }

    pub async fn update_form(
        &self,
        account: AccountId,
        id: i64,
        ch: &FormChanges,
        user: Option<UserId>,
        source: &str,
    ) -> StoreResult<Form> {
        let mut tx = self.db.begin().await?;
        let before = form_in(&mut tx, account, id).await?;
        if let Some(projects) = &ch.project_ids {
            check_projects(&mut tx, account, projects).await?;
        }
        if let Some(types) = &ch.org_unit_type_ids {
            check_org_unit_types(&mut tx, account, types).await?;
        }
        let now = iaso_db::now();
        let b = before.clone();
        tx.execute(sql!(
            "UPDATE forms SET name = $1, device_field = $2, location_field = $3, correlation_field = $4,
                correlatable = $5, period_type = $6, single_per_period = $7, periods_before_allowed = $8,
                periods_after_allowed = $9, derived = $10, label_keys = $11, legend_threshold = $12,
                change_request_mode = $13, deleted_at = $14, updated_at = $15
             WHERE id = $16 AND account_id = $17",
            ch.name.clone().unwrap_or(b.name),
            ch.device_field.clone().unwrap_or(b.device_field),
            ch.location_field.clone().unwrap_or(b.location_field),
            ch.correlation_field.clone().unwrap_or(b.correlation_field),
            ch.correlatable.unwrap_or(b.correlatable),
            ch.period_type.clone().unwrap_or(b.period_type),
            ch.single_per_period.unwrap_or(b.single_per_period),
            ch.periods_before_allowed.unwrap_or(b.periods_before_allowed),
            ch.periods_after_allowed.unwrap_or(b.periods_after_allowed),
            ch.derived.unwrap_or(b.derived),
            ch.label_keys.clone().unwrap_or(b.label_keys),
            ch.legend_threshold.clone().unwrap_or(b.legend_threshold),
            ch.change_request_mode.clone().unwrap_or(b.change_request_mode),
            ch.deleted_at.unwrap_or(b.deleted_at),
            now,
            id,
            account.get()
        ))
        .await
        .map_err(|e| match e {
            DbError::UniqueViolation { .. } => StoreError::invalid(
                "form_id",
                "Another live form of this account has the same form_id.",
            ),
            other => other.into(),
        })?;
        write_links(&mut tx, id, ch).await?;
        let after = form_in(&mut tx, account, id).await?;
        audit::log(
            &mut tx,
            &Change {
                account: Some(account),
                content_type: "iaso.form",
                object_id: id.to_string(),
                past: before.audit_json(),
                new: after.audit_json(),
                source,
                user,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Adds forms to a project (and removes the project's other forms): `forms` of a project.
    pub async fn set_project_forms(
        &self,
        account: AccountId,
        project: i64,
        forms: &[i64],
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        if !forms.is_empty() {
            let mut q = Sql::new("SELECT COUNT(*) FROM forms WHERE account_id = ");
            q.bind(account.get()).push(" AND id IN (");
            q.bind_list(forms.iter().copied()).push(")");
            let n: i64 = tx.fetch_scalar(q).await?;
            let mut distinct = forms.to_vec();
            distinct.sort_unstable();
            distinct.dedup();
            if n != distinct.len() as i64 {
                return Err(StoreError::invalid("forms", "Invalid form ids"));
            }
        }
        let owned: i64 = tx
            .fetch_scalar(sql!(
                "SELECT COUNT(*) FROM projects WHERE id = $1 AND account_id = $2",
                project,
                account.get()
            ))
            .await?;
        if owned == 0 {
            return Err(StoreError::NotFound);
        }
        tx.execute(sql!(
            "DELETE FROM form_projects WHERE project_id = $1",
            project
        ))
        .await?;
        let pairs = distinct_pairs(forms.iter().map(|f| (*f, project)));
        insert_pairs(&mut tx, "form_projects (form_id, project_id)", &pairs).await?;
        tx.commit().await?;
        Ok(())
    }

    // ------------------------------------------------------------------ versions

    pub async fn list_form_versions(
        &self,
        account: AccountId,
        filter: &VersionFilter,
        page: PageRequest,
    ) -> StoreResult<Page<FormVersion>> {
        let mut db = self.db.clone();
        let mut cond = Sql::new(" WHERE f.account_id = ");
        cond.bind(account.get()).push(" AND f.deleted_at IS NULL");
        if !filter.restrict_projects.is_empty() {
            cond.push(" AND EXISTS (SELECT 1 FROM form_projects fp WHERE fp.form_id = f.id AND fp.project_id IN (")
                .bind_list(filter.restrict_projects.iter().copied())
                .push("))");
        }
        if let Some(p) = filter.app_project {
            cond.push(" AND EXISTS (SELECT 1 FROM form_projects fp WHERE fp.form_id = f.id AND fp.project_id = ")
                .bind(p)
                .push(")");
        }
        if let Some(f) = filter.form_id {
            cond.push(" AND v.form_id = ").bind(f);
        }
        if let Some(v) = &filter.version_id {
            cond.push(" AND v.version_id = ").bind(v.clone());
        }
        if let Some(s) = &filter.search_name {
            cond.push(" AND LOWER(f.name || ' - ' || v.version_id) LIKE ")
                .bind(format!("%{}%", like_escape(&s.to_lowercase())))
                .push(" ESCAPE '\\'");
        }
        let mut count =
            Sql::new("SELECT COUNT(*) FROM form_versions v JOIN forms f ON f.id = v.form_id");
        append(&mut count, &cond);
        let count: i64 = db.fetch_scalar(count).await?;
        let mut q = Sql::new(format!("SELECT {VERSION_COLUMNS} {VERSION_FROM}"));
        append(&mut q, &cond);
        let order = order_sql(
            &filter.order,
            &[
                ("id", "v.id"),
                ("version_id", "v.version_id"),
                ("created_at", "v.created_at"),
                ("updated_at", "v.updated_at"),
                ("full_name", "f.name, v.version_id"),
                ("form_name", "f.name"),
                ("form_id", "v.form_id"),
            ],
            "f.name ASC, v.version_id ASC",
        );
        q.push(" ORDER BY ").push(&order).push(", v.id");
        page.push_to(&mut q);
        let rows: Vec<VersionRow> = db.fetch_all(q).await?;
        Ok(Page {
            items: rows.into_iter().map(Into::into).collect(),
            count,
        })
    }

    /// A version of a live form of the account.
    pub async fn form_version(&self, account: AccountId, id: i64) -> StoreResult<FormVersion> {
        let mut db = self.db.clone();
        let row: VersionRow = db
            .fetch_one(sql!(
                &format!(
                    "SELECT {VERSION_COLUMNS} {VERSION_FROM} WHERE v.id = $1 AND f.account_id = $2"
                ),
                id,
                account.get()
            ))
            .await?;
        Ok(row.into())
    }

    /// Stores a new version: sets the form's `form_id` (which must not change and must be
    /// unique among the account's live forms) and recomputes its possible fields.
    pub async fn create_form_version(
        &self,
        account: AccountId,
        new: &NewFormVersion,
    ) -> StoreResult<FormVersion> {
        let mut tx = self.db.begin().await?;
        let form = form_in(&mut tx, account, new.form_id).await?;
        if form.deleted_at.is_some() {
            return Err(StoreError::invalid("form_id", "The form is deleted."));
        }
        if let Some(existing) = &form.form_id {
            if existing != &new.xform_id {
                return Err(StoreError::invalid(
                    "xls_file",
                    "Form id should stay constant across form versions.",
                ));
            }
        }
        let taken: i64 = tx
            .fetch_scalar(sql!(
                "SELECT COUNT(*) FROM forms WHERE account_id = $1 AND form_id = $2 AND id <> $3 AND deleted_at IS NULL",
                account.get(),
                new.xform_id.clone(),
                new.form_id
            ))
            .await?;
        if taken > 0 {
            return Err(StoreError::invalid(
                "xls_file",
                "The form_id is already used in another form.",
            ));
        }
        let now = iaso_db::now();
        let user = new.user.map(|u| u.get());
        let id: i64 = tx
            .fetch_scalar(sql!(
                "INSERT INTO form_versions (form_id, version_id, file, file_size, md5, xls_file, xls_file_size,
                    form_descriptor, possible_fields, start_period, end_period, created_by_id, updated_by_id,
                    created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $13) RETURNING id",
                new.form_id,
                new.version_id.clone(),
                new.file.clone(),
                new.file_size,
                new.md5.clone(),
                new.xls_file.clone(),
                new.xls_file_size,
                new.descriptor.clone(),
                iaso_domain::forms::version_possible_fields(&new.descriptor),
                new.start_period.clone(),
                new.end_period.clone(),
                user,
                now
            ))
            .await
            .map_err(|e| match e {
                DbError::UniqueViolation { .. } => StoreError::invalid(
                    "xls_file",
                    format!("The version {} already exists for this form.", new.version_id),
                ),
                other => other.into(),
            })?;
        let descriptors: Vec<(Option<Json<Value>>,)> = tx
            .fetch_all(sql!(
                "SELECT form_descriptor FROM form_versions WHERE form_id = $1 ORDER BY created_at, id",
                new.form_id
            ))
            .await?;
        let descriptors: Vec<Value> = descriptors
            .into_iter()
            .filter_map(|(d,)| d.map(|j| j.0))
            .collect();
        let possible = iaso_domain::forms::possible_fields(descriptors.iter());
        tx.execute(sql!(
            "UPDATE forms SET form_id = $1, possible_fields = $2, updated_at = $3 WHERE id = $4",
            new.xform_id.clone(),
            possible,
            now,
            new.form_id
        ))
        .await
        .map_err(|e| match e {
            DbError::UniqueViolation { .. } => {
                StoreError::invalid("xls_file", "The form_id is already used in another form.")
            }
            other => other.into(),
        })?;
        let row: VersionRow = tx
            .fetch_one(sql!(
                &format!("SELECT {VERSION_COLUMNS} {VERSION_FROM} WHERE v.id = $1"),
                id
            ))
            .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    pub async fn update_form_version_periods(
        &self,
        account: AccountId,
        id: i64,
        start: Option<String>,
        end: Option<String>,
        user: Option<UserId>,
    ) -> StoreResult<FormVersion> {
        let v = self.form_version(account, id).await?;
        let mut db = self.db.clone();
        db.execute(sql!(
            "UPDATE form_versions SET start_period = $1, end_period = $2, updated_by_id = $3, updated_at = $4 WHERE id = $5",
            start,
            end,
            user.map(|u| u.get()),
            iaso_db::now(),
            v.id
        ))
        .await?;
        self.form_version(account, id).await
    }

    // ------------------------------------------------------------------ attachments

    pub async fn list_form_attachments(
        &self,
        account: AccountId,
        restrict_projects: &[i64],
        form: Option<i64>,
        page: PageRequest,
    ) -> StoreResult<Page<FormAttachment>> {
        let mut db = self.db.clone();
        let mut cond = Sql::new(" WHERE f.account_id = ");
        cond.bind(account.get()).push(" AND f.deleted_at IS NULL");
        if !restrict_projects.is_empty() {
            cond.push(" AND EXISTS (SELECT 1 FROM form_projects fp WHERE fp.form_id = f.id AND fp.project_id IN (")
                .bind_list(restrict_projects.iter().copied())
                .push("))");
        }
        if let Some(form) = form {
            cond.push(" AND a.form_id = ").bind(form);
        }
        let mut count =
            Sql::new("SELECT COUNT(*) FROM form_attachments a JOIN forms f ON f.id = a.form_id");
        append(&mut count, &cond);
        let count: i64 = db.fetch_scalar(count).await?;
        let mut q = Sql::new(
            "SELECT a.id, a.form_id, a.name, a.file, a.file_size, a.md5, a.created_at, a.updated_at \
             FROM form_attachments a JOIN forms f ON f.id = a.form_id",
        );
        append(&mut q, &cond);
        q.push(" ORDER BY a.updated_at, a.id");
        page.push_to(&mut q);
        Ok(Page {
            items: db.fetch_all(q).await?,
            count,
        })
    }

    pub async fn form_attachment(
        &self,
        account: AccountId,
        id: i64,
    ) -> StoreResult<FormAttachment> {
        let mut db = self.db.clone();
        Ok(db
            .fetch_one(sql!(
                "SELECT a.id, a.form_id, a.name, a.file, a.file_size, a.md5, a.created_at, a.updated_at
                 FROM form_attachments a JOIN forms f ON f.id = a.form_id WHERE a.id = $1 AND f.account_id = $2",
                id,
                account.get()
            ))
            .await?)
    }

    /// Attachments of a form (no tenancy check: the caller resolved the form).
    pub async fn attachments_of_form(&self, form: i64) -> StoreResult<Vec<FormAttachment>> {
        let mut db = self.db.clone();
        Ok(db
            .fetch_all(sql!(
                "SELECT a.id, a.form_id, a.name, a.file, a.file_size, a.md5, a.created_at, a.updated_at
                 FROM form_attachments a WHERE a.form_id = $1 ORDER BY a.name",
                form
            ))
            .await?)
    }

    /// Creates or replaces (same name) an attachment; returns it and the key of the file it
    /// replaced, if any.
    pub async fn upsert_form_attachment(
        &self,
        account: AccountId,
        form: i64,
        name: &str,
        file: &str,
        size: i64,
        md5: &str,
    ) -> StoreResult<(FormAttachment, Option<String>)> {
        let mut tx = self.db.begin().await?;
        let f = form_in(&mut tx, account, form).await?;
        if f.deleted_at.is_some() {
            return Err(StoreError::invalid("form_id", "Invalid form id"));
        }
        let now = iaso_db::now();
        let previous: Option<(i64, String)> = tx
            .fetch_optional(sql!(
                "SELECT id, file FROM form_attachments WHERE form_id = $1 AND name = $2",
                form,
                name
            ))
            .await?;
        let (id, old) = match previous {
            Some((id, old)) => {
                tx.execute(sql!(
                    "UPDATE form_attachments SET file = $1, file_size = $2, md5 = $3, updated_at = $4 WHERE id = $5",
                    file,
                    size,
                    md5,
                    now,
                    id
                ))
                .await?;
                (id, Some(old))
            }
            None => {
                let id: i64 = tx
                    .fetch_scalar(sql!(
                        "INSERT INTO form_attachments (form_id, name, file, file_size, md5, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
                        form,
                        name,
                        file,
                        size,
                        md5,
                        now
                    ))
                    .await?;
                (id, None)
            }
        };
        tx.commit().await?;
        Ok((self.form_attachment(account, id).await?, old))
    }

    /// Deletes an attachment and returns its file key.
    pub async fn delete_form_attachment(&self, account: AccountId, id: i64) -> StoreResult<String> {
        let a = self.form_attachment(account, id).await?;
        let mut db = self.db.clone();
        db.execute(sql!("DELETE FROM form_attachments WHERE id = $1", a.id))
            .await?;
        Ok(a.file)
    }
}

pub(crate) fn append(q: &mut Sql, cond: &Sql) {
    // Re-number the condition's placeholders after the query's own.
    let offset = q.args().len();
    let mut text = String::new();
    let src = cond.text();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && bytes[end].is_ascii_digit() {
                end += 1;
            }
            if end > start {
                let n: usize = src[start..end].parse().unwrap_or(0);
                text.push_str(&format!("${}", n + offset));
                i = end;
                continue;
            }
        }
        text.push(bytes[i] as char);
        i += 1;
    }
    let mut args = q.args().to_vec();
    args.extend(cond.args().iter().cloned());
    *q = Sql::with_args(format!("{}{}", q.text(), text), args);
}

/// Field errors helper for the API.
pub fn invalid(field: &str, message: &str) -> FieldErrors {
    FieldErrors::single(field, message)
}
