//! The audit log (Iaso's `Modification`): one row per create, update or delete, with the
//! object before and after in Django's serializer format
//! (`[{"model": "iaso.orgunit", "pk": 1, "fields": {...}}]`, `[]` for none).
//!
//! Any module may log through [`log`] inside its own transaction. Reading is scoped to the
//! caller's account; the API checks that the caller may see the object itself.

use crate::{Page, PageRequest, Store, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{Conn, Sql};
use iaso_domain::{AccountId, UserId};
use serde_json::{json, Map, Value};
use sqlx::types::Json;

/// Well-known audit sources (Iaso's names).
pub mod sources {
    pub const ORG_UNIT_API: &str = "org_unit_api";
    pub const ORG_UNIT_API_BULK: &str = "org_unit_api_bulk";
    pub const GROUP_API: &str = "group_api";
    pub const GROUP_SET_API: &str = "group_set_api";
    pub const GPKG_IMPORT: &str = "gpkg_import";
    pub const MOBILE: &str = "org_unit_mobile_api";
    pub const FORM_API: &str = "form_api";
    pub const INSTANCE_API: &str = "instance_api";
    pub const INSTANCE_API_BULK: &str = "instance_api_bulk";
    /// Submissions coming from the mobile app's upload or OpenRosa.
    pub const SYNC_FORM_UPLOAD: &str = "SYNC FORM UPLOAD";
    /// Submissions from ODK Collect or Enketo (OpenRosa; Iaso has no such endpoint).
    pub const OPENROSA: &str = "openrosa";
    /// Submissions and org units of a mobile bulk upload (zip).
    pub const BULK_UPLOAD: &str = "bulk_upload";
}

/// One change to log.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub account: Option<AccountId>,
    /// `app_label.model`, e.g. `iaso.orgunit`.
    pub content_type: &'a str,
    pub object_id: String,
    /// Before (`[]` for a creation).
    pub past: Value,
    /// After (`[]` for a deletion).
    pub new: Value,
    pub source: &'a str,
    pub user: Option<UserId>,
}

/// Writes one modification row in the caller's transaction.
pub async fn log(c: &mut impl Conn, ch: &Change<'_>) -> StoreResult<i64> {
    let id: i64 = c
        .fetch_scalar(iaso_db::sql!(
            "INSERT INTO modifications (account_id, content_type, object_id, past_value, new_value, source, user_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            ch.account.map(|a| a.get()),
            ch.content_type,
            ch.object_id.as_str(),
            ch.past.clone(),
            ch.new.clone(),
            ch.source,
            ch.user.map(|u| u.get()),
            iaso_db::now()
        ))
        .await?;
    Ok(id)
}

/// `{added, removed, modified}` between the `fields` of two snapshots (Iaso's `field_diffs`).
pub fn field_diffs(past: &Value, new: &Value) -> Value {
    let empty = Map::new();
    let fields = |v: &Value| -> Map<String, Value> {
        v.get(0)
            .and_then(|o| o.get("fields"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (a, b) = (fields(past), fields(new));
    let mut added = Map::new();
    let mut removed = Map::new();
    let mut modified = Map::new();
    for (k, v) in &b {
        match a.get(k) {
            None => {
                added.insert(k.clone(), json!({"before": null, "after": v}));
            }
            Some(old) if old != v => {
                modified.insert(k.clone(), json!({"before": old, "after": v}));
            }
            Some(_) => {}
        }
    }
    for (k, v) in &a {
        if !b.contains_key(k) {
            removed.insert(k.clone(), json!({"before": v, "after": null}));
        }
    }
    json!({"added": added, "removed": removed, "modified": modified})
}

/// A logged modification with its author.
#[derive(Debug, Clone, PartialEq)]
pub struct Modification {
    pub id: i64,
    pub account_id: Option<AccountId>,
    pub content_type: String,
    pub object_id: String,
    pub past_value: Value,
    pub new_value: Value,
    pub source: String,
    pub user: Option<Author>,
    pub org_unit_change_request_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// The author as the log answers show it (Iaso's profile `as_short_dict`).
#[derive(Debug, Clone, PartialEq)]
pub struct Author {
    pub user_id: UserId,
    pub profile_id: Option<i64>,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub language: Option<String>,
    pub phone_number: String,
    pub color: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ModRow {
    id: i64,
    account_id: Option<i64>,
    content_type: String,
    object_id: String,
    past_value: Json<Value>,
    new_value: Json<Value>,
    source: String,
    org_unit_change_request_id: Option<i64>,
    created_at: DateTime<Utc>,
    user_id: Option<i64>,
    profile_id: Option<i64>,
    username: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    language: Option<String>,
    phone_number: Option<String>,
    color: Option<String>,
}

impl From<ModRow> for Modification {
    fn from(r: ModRow) -> Self {
        Modification {
            id: r.id,
            account_id: r.account_id.map(AccountId),
            content_type: r.content_type,
            object_id: r.object_id,
            past_value: r.past_value.0,
            new_value: r.new_value.0,
            source: r.source,
            org_unit_change_request_id: r.org_unit_change_request_id,
            created_at: r.created_at,
            user: match (r.user_id, r.username) {
                (Some(id), Some(username)) => Some(Author {
                    user_id: UserId(id),
                    profile_id: r.profile_id,
                    username,
                    first_name: r.first_name.unwrap_or_default(),
                    last_name: r.last_name.unwrap_or_default(),
                    email: r.email.unwrap_or_default(),
                    language: r.language,
                    phone_number: r.phone_number.unwrap_or_default(),
                    color: r.color,
                }),
                _ => None,
            },
        }
    }
}

const MOD_SELECT: &str = "SELECT m.id, m.account_id, m.content_type, m.object_id, m.past_value, \
    m.new_value, m.source, m.org_unit_change_request_id, m.created_at, m.user_id, p.id AS profile_id, \
    u.username, u.first_name, u.last_name, u.email, p.language, p.phone_number, p.color \
    FROM modifications m LEFT JOIN users u ON u.id = m.user_id \
    LEFT JOIN profiles p ON p.user_id = m.user_id AND p.account_id = m.account_id";

/// Filters of `/api/logs/`.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub content_type: Option<String>,
    pub object_id: Option<String>,
    pub user_ids: Vec<UserId>,
    pub source: Option<String>,
    pub date_from: Option<DateTime<Utc>>,
    pub date_to: Option<DateTime<Utc>>,
    /// Iaso ordering keys; default `-created_at`.
    pub order: Vec<String>,
}

fn push_filters(q: &mut Sql, account: AccountId, f: &LogFilter) {
    q.push(" WHERE m.account_id = ").bind(account.get());
    if let Some(ct) = &f.content_type {
        q.push(" AND m.content_type = ").bind(ct.as_str());
    }
    if let Some(o) = &f.object_id {
        q.push(" AND m.object_id = ").bind(o.as_str());
    }
    if !f.user_ids.is_empty() {
        q.push(" AND m.user_id IN (")
            .bind_list(f.user_ids.iter().map(|u| u.get()))
            .push(")");
    }
    if let Some(s) = &f.source {
        q.push(" AND m.source = ").bind(s.as_str());
    }
    if let Some(d) = f.date_from {
        q.push(" AND m.created_at >= ").bind(d);
    }
    if let Some(d) = f.date_to {
        q.push(" AND m.created_at <= ").bind(d);
    }
}

fn order_clause(order: &[String]) -> String {
    let mut parts = Vec::new();
    for key in order.iter().flat_map(|o| o.split(',')) {
        let key = key.trim();
        let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
        let col = match key {
            "created_at" => "m.created_at",
            "id" => "m.id",
            "source" => "m.source",
            "user" | "user__username" => "u.username",
            "object_id" => "m.object_id",
            _ => continue,
        };
        parts.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
    }
    if parts.is_empty() {
        parts.push("m.created_at DESC".into());
    }
    parts.push("m.id DESC".into());
    parts.join(", ")
}

impl Store {
    /// Modifications logged in the account.
    pub async fn list_modifications(
        &self,
        account: AccountId,
        filter: &LogFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Modification>> {
        let mut db = self.db.clone();
        let mut count = Sql::new("SELECT COUNT(*) FROM modifications m");
        push_filters(&mut count, account, filter);
        let count: i64 = db.fetch_scalar(count).await?;
        let mut q = Sql::new(MOD_SELECT);
        push_filters(&mut q, account, filter);
        q.push(" ORDER BY ").push(&order_clause(&filter.order));
        page.push_to(&mut q);
        let rows: Vec<ModRow> = db.fetch_all(q).await?;
        Ok(Page {
            items: rows.into_iter().map(Into::into).collect(),
            count,
        })
    }

    pub async fn modification(&self, account: AccountId, id: i64) -> StoreResult<Modification> {
        let mut db = self.db.clone();
        let mut q = Sql::new(MOD_SELECT);
        q.push(" WHERE m.account_id = ")
            .bind(account.get())
            .push(" AND m.id = ")
            .bind(id);
        let row: ModRow = db.fetch_one(q).await?;
        Ok(row.into())
    }
}
