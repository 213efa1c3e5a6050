//! Submissions ("instances"): ingest from the mobile flow and OpenRosa (idempotent), review,
//! soft delete/restore, export streams, and the raw upload log (`api_imports`).
//!
//! Idempotency keys (docs/decisions/0500-submissions.md): within an account, the mobile app's
//! submission id (`uuid`), the XML's file name (`file_name`, which joins the two calls of the
//! mobile flow) and, for OpenRosa, the XML's `meta/instanceID`. Unique indexes make a second
//! row impossible; a concurrent duplicate loses the race on the index and is retried as an
//! update of the winner.

use crate::audit::{self, Change};
use crate::forms::{append, like_escape};
use crate::{Page, PageRequest, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::StreamExt;
use iaso_db::{sql, Conn, DbError, Sql};
use iaso_domain::submission::Submission;
use iaso_domain::{AccountId, UserId};
use serde_json::{json, Map, Value};
use sqlx::types::Json;

// ---------------------------------------------------------------------------- raw uploads

/// A raw upload to log before processing it.
#[derive(Debug, Clone, Default)]
pub struct NewApiImport {
    pub account: Option<AccountId>,
    pub user: Option<UserId>,
    /// `instance`, `form_upload`, `openrosa`, `bulk`.
    pub import_type: String,
    pub json_body: Option<Value>,
    pub headers: Value,
    /// Blob key of the raw body (multipart uploads).
    pub file: Option<String>,
    pub file_size: Option<i64>,
    pub app_id: String,
    pub app_version: String,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ApiImport {
    pub id: i64,
    pub account_id: Option<i64>,
    pub user_id: Option<i64>,
    pub import_type: String,
    pub json_body: Option<Json<Value>>,
    pub headers: Option<Json<Value>>,
    pub file: Option<String>,
    pub file_size: Option<i64>,
    pub has_problem: bool,
    pub exception: String,
    pub app_id: String,
    pub app_version: String,
    pub created_at: DateTime<Utc>,
}

// ---------------------------------------------------------------------------- ingest

/// The caller of an upload, as far as it is known.
#[derive(Debug, Clone, Copy, Default)]
pub struct UploadContext {
    /// Known from the caller's token or the app_id's project.
    pub account: Option<AccountId>,
    pub project: Option<i64>,
    pub user: Option<UserId>,
}

/// One item of `POST /api/instances/` (the mobile app's metadata call).
#[derive(Debug, Clone, Default)]
pub struct MobileMeta {
    pub uuid: Option<String>,
    pub file_name: String,
    pub name: Option<String>,
    pub period: Option<String>,
    pub accuracy: Option<f64>,
    pub org_unit: Option<OrgUnitRef>,
    pub form_id: i64,
    pub planning_id: Option<i64>,
    pub entity_uuid: Option<String>,
    pub entity_type_id: Option<i64>,
    pub source_created_at: Option<DateTime<Utc>>,
    pub source_updated_at: Option<DateTime<Utc>>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub altitude: Option<f64>,
}

/// How an upload names its org unit (`orgUnitId`): an id, or the uuid a device gave to a
/// unit it created (looked up in the account's default version, as Iaso does).
#[derive(Debug, Clone, PartialEq)]
pub enum OrgUnitRef {
    Id(i64),
    Uuid(String),
}

impl OrgUnitRef {
    /// Digits are an id, anything else a uuid.
    pub fn parse(s: &str) -> Option<OrgUnitRef> {
        let s = s.trim();
        if s.is_empty() {
            None
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().map(OrgUnitRef::Id)
        } else {
            Some(OrgUnitRef::Uuid(s.to_string()))
        }
    }
}

impl std::fmt::Display for OrgUnitRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrgUnitRef::Id(i) => write!(f, "{i}"),
            OrgUnitRef::Uuid(u) => write!(f, "{u}"),
        }
    }
}

/// The id of the org unit an upload names, checked to be one of the account's units.
pub async fn resolve_org_unit(
    c: &mut impl Conn,
    account: AccountId,
    r: &OrgUnitRef,
) -> StoreResult<i64> {
    let versions = crate::sources::account_version_ids(c, account).await?;
    let found: Option<(i64,)> = match r {
        OrgUnitRef::Id(id) if !versions.is_empty() => {
            let mut q = Sql::new("SELECT id FROM org_units WHERE id = ");
            q.bind(*id)
                .push(" AND version_id IN (")
                .bind_list(versions.iter().copied())
                .push(")");
            c.fetch_optional(q).await?
        }
        OrgUnitRef::Id(_) => None,
        OrgUnitRef::Uuid(uuid) => {
            c.fetch_optional(sql!(
                "SELECT ou.id FROM org_units ou JOIN accounts a ON a.default_version_id = ou.version_id
                 WHERE a.id = $1 AND ou.uuid = $2 ORDER BY ou.id LIMIT 1",
                account.get(),
                uuid.clone()
            ))
            .await?
        }
    };
    found
        .map(|(id,)| id)
        .ok_or_else(|| StoreError::invalid("orgUnitId", format!("Unknown org unit {r}.")))
}

#[derive(Debug, Clone, PartialEq)]
pub enum MetaOutcome {
    Created(i64),
    /// The XML came first: its row now has its metadata; it must be parsed again with the
    /// form's descriptor (the API does it, it holds the blob storage).
    Claimed(i64),
    Updated(i64),
    /// Already received (same `uuid`): nothing changed.
    Duplicate(i64),
}

/// A media file of a submission, already stored.
#[derive(Debug, Clone)]
pub struct NewInstanceFile {
    pub name: String,
    pub file: String,
    pub size: i64,
    pub md5: String,
}

/// How an XML upload finds its submission.
#[derive(Debug, Clone)]
pub enum UploadKey {
    /// Mobile flow: the basename of the XML.
    FileName(String),
    /// OpenRosa: `meta/instanceID`.
    InstanceId(String),
    /// Bulk uploads: the mobile app's submission id (its metadata is in the same zip).
    Uuid(String),
}

/// An XML upload, its files already stored.
#[derive(Debug, Clone)]
pub struct XmlUpload<'a> {
    pub key: UploadKey,
    pub file_name: String,
    pub file: String,
    pub file_size: i64,
    pub md5: String,
    pub submission: &'a Submission,
    pub media: Vec<NewInstanceFile>,
    pub source: &'a str,
    /// The device's last edit time (bulk uploads): when set, a different XML replaces the
    /// stored one only if this is newer than the stored `source_updated_at` (else the stored
    /// one is kept, outcome `Conflict`), and it becomes the new `source_updated_at`.
    pub source_updated_at: Option<DateTime<Utc>>,
}

/// What an XML upload did, and which of the upload's stored files ended up unused (the same
/// media file was already there): the caller may delete them.
#[derive(Debug, Clone, PartialEq)]
pub struct XmlIngest {
    pub outcome: XmlOutcome,
    pub unused_files: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum XmlOutcome {
    Created(i64),
    /// The metadata came first; its row now has its XML.
    Completed(i64),
    /// The same XML was received before; new media files (if any) were added.
    Duplicate(i64),
    /// Another XML was received before under the same key; the first one is kept.
    Conflict(i64),
    /// The mobile app re-sent the submission edited: the new XML replaced the previous one.
    Replaced(i64),
    /// Anonymous upload whose account is not known yet: kept aside until its metadata call.
    Pending(i64),
}

impl XmlOutcome {
    pub fn id(&self) -> i64 {
        match self {
            XmlOutcome::Created(i)
            | XmlOutcome::Completed(i)
            | XmlOutcome::Duplicate(i)
            | XmlOutcome::Conflict(i)
            | XmlOutcome::Replaced(i)
            | XmlOutcome::Pending(i) => *i,
        }
    }
}

#[derive(sqlx::FromRow)]
struct IngestRow {
    id: i64,
    account_id: Option<i64>,
    form_id: Option<i64>,
    file: Option<String>,
    file_md5: Option<String>,
    source_updated_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct FormInfo {
    id: i64,
    form_id: Option<String>,
    deleted: bool,
    device_field: Option<String>,
    location_field: Option<String>,
}

async fn form_info(c: &mut impl Conn, account: AccountId, id: i64) -> StoreResult<FormInfo> {
    c.fetch_optional(sql!(
        "SELECT id, form_id, deleted_at IS NOT NULL AS deleted, device_field, location_field
         FROM forms WHERE id = $1 AND account_id = $2",
        id,
        account.get()
    ))
    .await?
    .ok_or_else(|| StoreError::invalid("formId", format!("Unknown form {id}.")))
}

async fn form_by_xform_id(
    c: &mut impl Conn,
    account: AccountId,
    xform_id: &str,
) -> StoreResult<Option<FormInfo>> {
    Ok(c.fetch_optional(sql!(
        "SELECT id, form_id, deleted_at IS NOT NULL AS deleted, device_field, location_field
         FROM forms WHERE account_id = $1 AND form_id = $2 ORDER BY deleted_at IS NOT NULL, id LIMIT 1",
        account.get(),
        xform_id
    ))
    .await?)
}

/// The version's id and descriptor.
async fn version_of(
    c: &mut impl Conn,
    form: i64,
    version: Option<&str>,
) -> StoreResult<Option<(i64, Option<Value>)>> {
    let Some(version) = version else {
        return Ok(None);
    };
    let row: Option<(i64, Option<Json<Value>>)> = c
        .fetch_optional(sql!(
            "SELECT id, form_descriptor FROM form_versions WHERE form_id = $1 AND version_id = $2",
            form,
            version
        ))
        .await?;
    Ok(row.map(|(id, d)| (id, d.map(|j| j.0))))
}

/// Flat JSON of a submission with its form version's descriptor, and the version id.
async fn submission_json(
    c: &mut impl Conn,
    form: i64,
    s: &Submission,
) -> StoreResult<(Map<String, Value>, Option<i64>)> {
    let version = version_of(c, form, s.version.as_deref()).await?;
    Ok(match version {
        Some((id, Some(d))) => {
            let repeats = iaso_domain::forms::repeat_names(&d);
            let paths = iaso_domain::forms::question_paths(&d);
            (s.flat_json(&repeats, Some(&paths)), Some(id))
        }
        Some((id, None)) => (s.flat_json(&Default::default(), None), Some(id)),
        None => (s.flat_json(&Default::default(), None), None),
    })
}

async fn device_id(c: &mut impl Conn, account: AccountId, imei: &str) -> StoreResult<i64> {
    let now = iaso_db::now();
    if let Some((id,)) = c
        .fetch_optional::<(i64,)>(sql!(
            "SELECT id FROM devices WHERE account_id = $1 AND imei = $2",
            account.get(),
            imei
        ))
        .await?
    {
        return Ok(id);
    }
    Ok(c.fetch_scalar(sql!(
        "INSERT INTO devices (account_id, imei, test_device, created_at, updated_at) VALUES ($1, $2, FALSE, $3, $3)
         ON CONFLICT (account_id, imei) DO UPDATE SET updated_at = excluded.updated_at RETURNING id",
        account.get(),
        imei,
        now
    ))
    .await?)
}

fn retry_on_race(e: &StoreError) -> bool {
    matches!(e, StoreError::Db(DbError::UniqueViolation { .. }))
}

/// Random 11-character DHIS2-style uid (a letter then 10 letters or digits).
fn export_id() -> String {
    use rand_like::pick;
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut s = String::with_capacity(11);
    s.push(pick(LETTERS) as char);
    for _ in 0..10 {
        s.push(pick(ALNUM) as char);
    }
    s
}

mod rand_like {
    /// A random byte of `set`, from a v4 UUID's randomness.
    pub fn pick(set: &[u8]) -> u8 {
        let b = uuid::Uuid::new_v4().as_u128();
        set[(b % set.len() as u128) as usize]
    }
}

/// Adds (or replaces, by name) media files; returns the keys of the given files that were not
/// used because the same content was already attached under that name.
async fn add_media(
    c: &mut impl Conn,
    instance: i64,
    media: &[NewInstanceFile],
) -> StoreResult<Vec<String>> {
    let now = iaso_db::now();
    let mut unused = Vec::new();
    if media.is_empty() {
        return Ok(unused);
    }
    let existing: Vec<(String, String)> = c
        .fetch_all(sql!(
            "SELECT name, md5 FROM instance_files WHERE instance_id = $1 AND NOT deleted",
            instance
        ))
        .await?;
    for m in media {
        if existing
            .iter()
            .any(|(n, md5)| *n == m.name && *md5 == m.md5)
        {
            unused.push(m.file.clone());
            continue;
        }
        c.execute(sql!(
            "INSERT INTO instance_files (instance_id, name, file, file_size, md5, deleted, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6)
             ON CONFLICT (instance_id, name) DO UPDATE SET file = excluded.file, file_size = excluded.file_size,
                md5 = excluded.md5, deleted = FALSE, updated_at = excluded.updated_at",
            instance,
            m.name.clone(),
            m.file.clone(),
            m.size,
            m.md5.clone(),
            now
        ))
        .await?;
    }
    Ok(unused)
}

/// Location and device from the answers.
async fn derived_fields(
    c: &mut impl Conn,
    account: AccountId,
    form: &FormInfo,
    json: &Map<String, Value>,
) -> StoreResult<(Option<(f64, f64, Option<f64>, Option<f64>)>, Option<i64>)> {
    let location = form
        .location_field
        .as_deref()
        .and_then(|f| json.get(f))
        .and_then(Value::as_str)
        .and_then(iaso_domain::forms::parse_geopoint);
    let field = form.device_field.as_deref().unwrap_or("deviceid");
    let device = match json.get(field).and_then(Value::as_str).map(str::trim) {
        Some(imei) if !imei.is_empty() => Some(device_id(c, account, imei).await?),
        _ => None,
    };
    Ok((location, device))
}

/// Records the outcome of a logged upload, in the caller's transaction.
pub async fn finish_api_import_in(
    c: &mut impl Conn,
    id: i64,
    account: Option<AccountId>,
    problem: Option<&str>,
) -> StoreResult<()> {
    c.execute(sql!(
        "UPDATE api_imports SET has_problem = $1, exception = $2, account_id = COALESCE(account_id, $3) WHERE id = $4",
        problem.is_some(),
        problem.unwrap_or(""),
        account.map(|a| a.get()),
        id
    ))
    .await?;
    Ok(())
}

impl Store {
    /// Logs a raw upload in its own transaction, before it is processed.
    pub async fn log_api_import(&self, new: &NewApiImport) -> StoreResult<i64> {
        let mut db = self.db.clone();
        Ok(db
            .fetch_scalar(sql!(
                "INSERT INTO api_imports (account_id, user_id, import_type, json_body, headers, file, file_size,
                    has_problem, exception, app_id, app_version, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, '', $8, $9, $10) RETURNING id",
                new.account.map(|a| a.get()),
                new.user.map(|u| u.get()),
                new.import_type.clone(),
                new.json_body.clone(),
                new.headers.clone(),
                new.file.clone(),
                new.file_size,
                new.app_id.clone(),
                new.app_version.clone(),
                iaso_db::now()
            ))
            .await?)
    }

    /// Records the outcome of a logged upload.
    pub async fn finish_api_import(
        &self,
        id: i64,
        account: Option<AccountId>,
        problem: Option<&str>,
    ) -> StoreResult<()> {
        let mut db = self.db.clone();
        finish_api_import_in(&mut db, id, account, problem).await
    }

    /// Raw uploads of the account (newest first).
    pub async fn list_api_imports(
        &self,
        account: AccountId,
        only_problems: bool,
        page: PageRequest,
    ) -> StoreResult<Page<ApiImport>> {
        let mut db = self.db.clone();
        let mut cond = Sql::new(" WHERE account_id = ");
        cond.bind(account.get());
        if only_problems {
            cond.push(" AND has_problem");
        }
        let mut count = Sql::new("SELECT COUNT(*) FROM api_imports");
        append(&mut count, &cond);
        let count: i64 = db.fetch_scalar(count).await?;
        let mut q = Sql::new(
            "SELECT id, account_id, user_id, import_type, json_body, headers, file, file_size, has_problem,
                exception, app_id, app_version, created_at FROM api_imports",
        );
        append(&mut q, &cond);
        q.push(" ORDER BY id DESC");
        page.push_to(&mut q);
        Ok(Page {
            items: db.fetch_all(q).await?,
            count,
        })
    }

    /// One raw upload of the account.
    pub async fn api_import(&self, account: AccountId, id: i64) -> StoreResult<ApiImport> {
        let mut db = self.db.clone();
        Ok(db
            .fetch_one(sql!(
                "SELECT id, account_id, user_id, import_type, json_body, headers, file, file_size, has_problem,
                    exception, app_id, app_version, created_at FROM api_imports WHERE id = $1 AND account_id = $2",
                id,
                account.get()
            ))
            .await?)
    }

    /// The metadata call of the mobile flow, for one submission (one transaction).
    pub async fn ingest_mobile_meta(
        &self,
        ctx: UploadContext,
        meta: &MobileMeta,
    ) -> StoreResult<MetaOutcome> {
        let once = || async {
            let mut tx = self.db.begin().await?;
            let outcome = ingest_mobile_meta_in(&mut tx, ctx, meta).await?;
            tx.commit().await?;
            Ok(outcome)
        };
        match once().await {
            Err(e) if retry_on_race(&e) => once().await,
            other => other,
        }
    }

    /// Re-parses a claimed submission's XML with its form's descriptor.
    pub async fn reparse_instance(&self, id: i64, s: &Submission) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        reparse_instance_in(&mut tx, id, s).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The XML call of the mobile flow, or an OpenRosa submission (one transaction).
    pub async fn ingest_xml(
        &self,
        ctx: UploadContext,
        up: &XmlUpload<'_>,
    ) -> StoreResult<XmlIngest> {
        let once = || async {
            let mut tx = self.db.begin().await?;
            let outcome = ingest_xml_in(&mut tx, ctx, up).await?;
            tx.commit().await?;
            Ok(outcome)
        };
        match once().await {
            Err(e) if retry_on_race(&e) => once().await,
            other => other,
        }
    }
}

/// Re-parses a claimed submission's XML with its form's descriptor, in the caller's transaction.
pub async fn reparse_instance_in(c: &mut impl Conn, id: i64, s: &Submission) -> StoreResult<()> {
    let row: (Option<i64>, Option<i64>) = c
        .fetch_one(sql!(
            "SELECT account_id, form_id FROM instances WHERE id = $1",
            id
        ))
        .await?;
    let (Some(account), Some(form)) = row else {
        return Ok(());
    };
    let account = AccountId(account);
    let info = form_info(&mut *c, account, form).await?;
    let (json, version) = submission_json(&mut *c, form, s).await?;
    let (location, device) = derived_fields(&mut *c, account, &info, &json).await?;
    set_parsed(&mut *c, id, &json, version, location, device).await?;
    Ok(())
}

/// The metadata call of the mobile flow for one submission, in the caller's transaction.
pub async fn ingest_mobile_meta_in(
    c: &mut impl Conn,
    ctx: UploadContext,
    meta: &MobileMeta,
) -> StoreResult<MetaOutcome> {
    let account = ctx
        .account
        .ok_or_else(|| StoreError::invalid("app_id", "Unknown project."))?;
    if let Some(uuid) = &meta.uuid {
        let existing: Option<(i64,)> = c
            .fetch_optional(sql!(
                "SELECT id FROM instances WHERE account_id = $1 AND uuid = $2",
                account.get(),
                uuid.clone()
            ))
            .await?;
        if let Some((id,)) = existing {
            return Ok(MetaOutcome::Duplicate(id));
        }
    }
    let form = form_info(&mut *c, account, meta.form_id).await?;
    if form.deleted {
        return Err(StoreError::invalid(
            "formId",
            format!("The form {} is deleted.", form.id),
        ));
    }
    let org_unit_id = match &meta.org_unit {
        Some(r) => Some(resolve_org_unit(&mut *c, account, r).await?),
        None => None,
    };
    let now = iaso_db::now();
    let mut existing: Option<IngestRow> = c
        .fetch_optional(sql!(
            "SELECT id, account_id, form_id, file, file_md5, source_updated_at FROM instances WHERE account_id = $1 AND file_name = $2",
            account.get(),
            meta.file_name.clone()
        ))
        .await?;
    let mut claimed = false;
    if existing.is_none() {
        existing = c
            .fetch_optional(sql!(
                "SELECT id, account_id, form_id, file, file_md5, source_updated_at FROM instances WHERE account_id IS NULL AND file_name = $1",
                meta.file_name.clone()
            ))
            .await?;
        claimed = existing.is_some();
    }
    let has_location = meta.latitude.is_some() && meta.longitude.is_some();
    let outcome = match existing {
        Some(row) => {
            if row.form_id.is_some_and(|f| f != form.id) {
                return Err(StoreError::invalid(
                    "formId",
                    format!("The file {} was uploaded for another form.", meta.file_name),
                ));
            }
            c.execute(sql!(
                "UPDATE instances SET account_id = $1, project_id = $2, form_id = $3, uuid = $4, name = $5,
                    period = $6, accuracy = COALESCE($7, accuracy), org_unit_id = $8, planning_id = $9,
                    entity_uuid = $10, entity_type_id = $11, source_created_at = $12, source_updated_at = $13,
                    latitude = CASE WHEN $14 THEN $15 ELSE latitude END,
                    longitude = CASE WHEN $14 THEN $16 ELSE longitude END,
                    altitude = CASE WHEN $14 THEN $17 ELSE altitude END,
                    created_by_id = COALESCE(created_by_id, $18), updated_at = $19
                 WHERE id = $20",
                account.get(),
                ctx.project,
                form.id,
                meta.uuid.clone(),
                meta.name.clone(),
                meta.period.clone(),
                meta.accuracy,
                org_unit_id,
                meta.planning_id,
                meta.entity_uuid.clone(),
                meta.entity_type_id,
                meta.source_created_at,
                meta.source_updated_at,
                has_location,
                meta.latitude,
                meta.longitude,
                meta.altitude.or(Some(0.0)),
                ctx.user.map(|u| u.get()),
                now,
                row.id
            ))
            .await?;
            if claimed {
                MetaOutcome::Claimed(row.id)
            } else {
                MetaOutcome::Updated(row.id)
            }
        }
        None => {
            let id: i64 = c
                .fetch_scalar(sql!(
                    "INSERT INTO instances (account_id, project_id, form_id, uuid, file_name, name, period, accuracy,
                        org_unit_id, planning_id, entity_uuid, entity_type_id, source_created_at, source_updated_at,
                        latitude, longitude, altitude, created_by_id, export_id, deleted, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, FALSE, $20, $20)
                     RETURNING id",
                    account.get(),
                    ctx.project,
                    form.id,
                    meta.uuid.clone(),
                    meta.file_name.clone(),
                    meta.name.clone(),
                    meta.period.clone(),
                    meta.accuracy,
                    org_unit_id,
                    meta.planning_id,
                    meta.entity_uuid.clone(),
                    meta.entity_type_id,
                    meta.source_created_at,
                    meta.source_updated_at,
                    if has_location { meta.latitude } else { None },
                    if has_location { meta.longitude } else { None },
                    if has_location { meta.altitude.or(Some(0.0)) } else { None },
                    ctx.user.map(|u| u.get()),
                    export_id(),
                    now
                ))
                .await
                .map_err(StoreError::Db)?;
            MetaOutcome::Created(id)
        }
    };
    Ok(outcome)
}

/// The XML call of the mobile flow, or an OpenRosa submission, in the caller's transaction.
pub async fn ingest_xml_in(
    c: &mut impl Conn,
    ctx: UploadContext,
    up: &XmlUpload<'_>,
) -> StoreResult<XmlIngest> {
    let now = iaso_db::now();
    let s = up.submission;
    // 1. Find the submission this upload belongs to.
    let existing: Option<IngestRow> = match (&up.key, ctx.account) {
        (UploadKey::FileName(name), Some(account)) => {
            c.fetch_optional(sql!(
                "SELECT id, account_id, form_id, file, file_md5, source_updated_at FROM instances WHERE account_id = $1 AND file_name = $2",
                account.get(),
                name.clone()
            ))
            .await?
        }
        (UploadKey::InstanceId(iid), Some(account)) => {
            let by_instance_id: Option<IngestRow> = c
                .fetch_optional(sql!(
                    "SELECT id, account_id, form_id, file, file_md5, source_updated_at FROM instances WHERE account_id = $1 AND instance_id = $2
                     ORDER BY id LIMIT 1",
                    account.get(),
                    iid.clone()
                ))
                .await?;
            match by_instance_id {
                Some(row) => Some(row),
                // A submission announced by a metadata call (`POST /api/instances/`: the
                // dashboard, which sets the org unit and period there) under the uuid of this
                // instanceID, still waiting for its XML.
                None => {
                    c.fetch_optional(sql!(
                        "SELECT id, account_id, form_id, file, file_md5, source_updated_at FROM instances
                         WHERE account_id = $1 AND uuid = $2 AND file IS NULL ORDER BY id LIMIT 1",
                        account.get(),
                        iid.strip_prefix("uuid:").unwrap_or(iid).to_string()
                    ))
                    .await?
                }
            }
        }
        (UploadKey::FileName(name), None) => {
            // Anonymous: only a submission of an open project that still waits for its XML
            // (never another account's data), else a pending one.
            let open: Option<IngestRow> = c
                .fetch_optional(sql!(
                    "SELECT i.id, i.account_id, i.form_id, i.file, i.file_md5, i.source_updated_at FROM instances i
                     JOIN projects p ON p.id = i.project_id
                     WHERE i.file_name = $1 AND i.account_id IS NOT NULL AND NOT p.needs_authentication
                       AND i.file IS NULL
                     ORDER BY i.id LIMIT 1",
                    name.clone()
                ))
                .await?;
            match open {
                Some(row) => Some(row),
                None => {
                    c.fetch_optional(sql!(
                        "SELECT id, account_id, form_id, file, file_md5, source_updated_at FROM instances WHERE account_id IS NULL AND file_name = $1",
                        name.clone()
                    ))
                    .await?
                }
            }
        }
        (UploadKey::Uuid(uuid), Some(account)) => {
            c.fetch_optional(sql!(
                "SELECT id, account_id, form_id, file, file_md5, source_updated_at FROM instances WHERE account_id = $1 AND uuid = $2",
                account.get(),
                uuid.clone()
            ))
            .await?
        }
        (UploadKey::InstanceId(_) | UploadKey::Uuid(_), None) => {
            return Err(StoreError::invalid("app_id", "Unknown project."));
        }
    };
    let account = ctx
        .account
        .or_else(|| existing.as_ref().and_then(|r| r.account_id.map(AccountId)));

    // 2. Already has its XML: duplicate or conflict.
    // (The mobile app re-sends an edited submission under the same file name: it replaces
    // the previous XML, as in Iaso. OpenRosa edits come with a new instanceID.)
    let mut replaced = false;
    if let Some(row) = &existing {
        if row.file.is_some() {
            let same = row.file_md5.as_deref() == Some(up.md5.as_str());
            if same {
                let unused_files = add_media(&mut *c, row.id, &up.media).await?;
                return Ok(XmlIngest {
                    outcome: XmlOutcome::Duplicate(row.id),
                    unused_files,
                });
            }
            let stale = match (up.source_updated_at, row.source_updated_at) {
                (Some(incoming), Some(stored)) => incoming <= stored,
                _ => false,
            };
            if matches!(up.key, UploadKey::InstanceId(_)) || row.account_id.is_none() || stale {
                return Ok(XmlIngest {
                    outcome: XmlOutcome::Conflict(row.id),
                    unused_files: up.media.iter().map(|m| m.file.clone()).collect(),
                });
            }
            replaced = true;
        }
    }

    // 3. No account known: keep it aside until the metadata call claims it.
    let Some(account) = account else {
        let id = match &existing {
            Some(row) => row.id,
            None => {
                c.fetch_scalar(sql!(
                    "INSERT INTO instances (account_id, file_name, export_id, deleted, created_at, updated_at)
                     VALUES (NULL, $1, $2, FALSE, $3, $3) RETURNING id",
                    up.file_name.clone(),
                    export_id(),
                    now
                ))
                .await
                .map_err(StoreError::Db)?
            }
        };
        let json = s.flat_json(&Default::default(), None);
        c.execute(sql!(
            "UPDATE instances SET file = $1, file_size = $2, file_md5 = $3, instance_id = $4, json = $5,
                created_by_id = COALESCE(created_by_id, $6), last_modified_by_id = $6, updated_at = $7 WHERE id = $8",
            up.file.clone(),
            up.file_size,
            up.md5.clone(),
            s.instance_id.clone(),
            Value::Object(json),
            ctx.user.map(|u| u.get()),
            now,
            id
        ))
        .await?;
        let unused_files = add_media(&mut *c, id, &up.media).await?;
        return Ok(XmlIngest {
            outcome: XmlOutcome::Pending(id),
            unused_files,
        });
    };

    // 4. The form: from the metadata row, else from the XML's form id.
    let form = match existing.as_ref().and_then(|r| r.form_id) {
        Some(f) => form_info(&mut *c, account, f).await?,
        None => {
            let xid = s.form_id.as_deref().ok_or_else(|| {
                StoreError::invalid(
                    "xml_submission_file",
                    "The submission's root element has no id attribute naming its form.",
                )
            })?;
            form_by_xform_id(&mut *c, account, xid)
                .await?
                .ok_or_else(|| {
                    StoreError::invalid("xml_submission_file", format!("Unknown form {xid:?}."))
                })?
        }
    };
    if form.deleted {
        return Err(StoreError::invalid(
            "xml_submission_file",
            format!(
                "The form {:?} is deleted: it no longer accepts submissions.",
                form.form_id.as_deref().unwrap_or("")
            ),
        ));
    }
    if let (Some(xid), Some(fid)) = (s.form_id.as_deref(), form.form_id.as_deref()) {
        if xid != fid {
            return Err(StoreError::invalid(
                "xml_submission_file",
                format!("The submission is for the form {xid:?}, not {fid:?}."),
            ));
        }
    }
    let (json, version) = submission_json(&mut *c, form.id, s).await?;
    let (location, device) = derived_fields(&mut *c, account, &form, &json).await?;
    let (id, outcome) = match &existing {
        Some(row) if replaced => (row.id, XmlOutcome::Replaced(row.id)),
        Some(row) => (row.id, XmlOutcome::Completed(row.id)),
        None => {
            let uuid = match &up.key {
                UploadKey::InstanceId(iid) => {
                    Some(iid.strip_prefix("uuid:").unwrap_or(iid).to_string())
                }
                UploadKey::Uuid(u) => Some(u.clone()),
                UploadKey::FileName(_) => None,
            };
            let id: i64 = c
                .fetch_scalar(sql!(
                    "INSERT INTO instances (account_id, project_id, form_id, uuid, file_name, created_by_id,
                        export_id, deleted, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $8) RETURNING id",
                    account.get(),
                    ctx.project,
                    form.id,
                    uuid,
                    up.file_name.clone(),
                    ctx.user.map(|u| u.get()),
                    export_id(),
                    now
                ))
                .await
                .map_err(StoreError::Db)?;
            (id, XmlOutcome::Created(id))
        }
    };
    c.execute(sql!(
        "UPDATE instances SET file = $1, file_size = $2, file_md5 = $3, instance_id = $4, form_id = $5,
            created_by_id = COALESCE(created_by_id, $6), last_modified_by_id = $6, updated_at = $7,
            source_updated_at = COALESCE($8, source_updated_at) WHERE id = $9",
        up.file.clone(),
        up.file_size,
        up.md5.clone(),
        s.instance_id.clone(),
        form.id,
        ctx.user.map(|u| u.get()),
        now,
        up.source_updated_at,
        id
    ))
    .await?;
    set_parsed(&mut *c, id, &json, version, location, device).await?;
    let unused_files = add_media(&mut *c, id, &up.media).await?;
    audit::log(
        &mut *c,
        &Change {
            account: Some(account),
            content_type: "iaso.instance",
            object_id: id.to_string(),
            past: json!([]),
            new: json!([{"model": "iaso.instance", "pk": id, "fields": {"file_name": up.file_name, "form": form.id, "json": json}}]),
            source: up.source,
            user: ctx.user,
        },
    )
    .await?;
    Ok(XmlIngest {
        outcome,
        unused_files,
    })
}

async fn set_parsed(
    c: &mut impl Conn,
    id: i64,
    json: &Map<String, Value>,
    version: Option<i64>,
    location: Option<(f64, f64, Option<f64>, Option<f64>)>,
    device: Option<i64>,
) -> StoreResult<()> {
    c.execute(sql!(
        "UPDATE instances SET json = $1, form_version_id = $2, device_id = COALESCE($3, device_id) WHERE id = $4",
        Value::Object(json.clone()),
        version,
        device,
        id
    ))
    .await?;
    if let Some((lat, lon, alt, acc)) = location {
        c.execute(sql!(
            "UPDATE instances SET latitude = $1, longitude = $2, altitude = $3, accuracy = COALESCE($4, accuracy) WHERE id = $5",
            lat,
            lon,
            alt.unwrap_or(0.0),
            acc,
            id
        ))
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------- review

/// Computed status (Iaso's `with_status`).
const STATUS_SQL: &str =
    "CASE WHEN f.single_per_period AND i.period IS NOT NULL AND i.period <> '' \
    AND EXISTS (SELECT 1 FROM instances d WHERE d.form_id = i.form_id AND d.period = i.period \
    AND ((d.org_unit_id IS NULL AND i.org_unit_id IS NULL) OR d.org_unit_id = i.org_unit_id) \
    AND d.id <> i.id AND NOT d.deleted AND d.file IS NOT NULL) THEN 'DUPLICATED' \
    WHEN i.last_export_success_at IS NOT NULL THEN 'EXPORTED' ELSE 'READY' END";

/// Who is looking at submissions: Iaso's `Instance.filter_for_user` and lock rules.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Viewer {
    /// Paths of the sub-trees the caller's profile is restricted to: only submissions whose org
    /// unit is inside one of them are visible (no superuser bypass, as in Iaso). `None`: the
    /// whole account; `Some(vec![])`: nothing (restricted to units that no longer exist).
    pub roots: Option<Vec<String>>,
    /// Sub-trees inside which a lock does not bind the caller (Iaso's `OrgUnit.filter_for_user`,
    /// which superusers bypass). `None`: no lock binds the caller.
    pub lock_roots: Option<Vec<String>>,
    /// Projects the caller is restricted to (empty: every project of the account).
    pub projects: Vec<i64>,
    /// Ids of the profile's org units (`roots`' units), for choosing a lock's level.
    pub root_ids: Vec<i64>,
}

impl Viewer {
    /// Everything in the account (tests, tasks of the whole account).
    pub fn unrestricted() -> Viewer {
        Viewer::default()
    }
}

#[derive(sqlx::FromRow)]
struct InstanceRow {
    id: i64,
    account_id: i64,
    project_id: Option<i64>,
    project_name: Option<String>,
    project_color: Option<String>,
    form_id: Option<i64>,
    form_name: Option<String>,
    form_version_id: Option<i64>,
    version_id: Option<String>,
    org_unit_id: Option<i64>,
    org_unit_name: Option<String>,
    org_unit_source_ref: Option<String>,
    uuid: Option<String>,
    file_name: Option<String>,
    file: Option<String>,
    json: Option<Json<Value>>,
    name: Option<String>,
    period: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    altitude: Option<f64>,
    accuracy: Option<f64>,
    device_imei: Option<String>,
    entity_uuid: Option<String>,
    planning_id: Option<i64>,
    created_by_id: Option<i64>,
    created_by_username: Option<String>,
    created_by_first_name: Option<String>,
    created_by_last_name: Option<String>,
    last_modified_by_username: Option<String>,
    source_created_at: Option<DateTime<Utc>>,
    source_updated_at: Option<DateTime<Utc>>,
    export_id: Option<String>,
    correlation_id: Option<i64>,
    last_export_success_at: Option<DateTime<Utc>>,
    deleted: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    status: String,
    active_locks: i64,
    blocking_locks: i64,
    parent1: Option<String>,
    parent2: Option<String>,
    parent3: Option<String>,
    parent4: Option<String>,
}

/// `(col in one of the sub-trees)`: a byte-wise range per root (see `org_units`).
fn push_in_subtrees(q: &mut Sql, col: &str, roots: &[String]) {
    q.push("(");
    for (n, r) in roots.iter().enumerate() {
        if n > 0 {
            q.push(" OR ");
        }
        q.push(&format!("({col} >= "))
            .bind(r.clone())
            .push(&format!(" AND {col} < "))
            .bind(format!("{r}/"))
            .push(")");
    }
    q.push(")");
}

/// `SELECT <columns> FROM ...` of an instance; `parents` adds the names of four ancestors of
/// its org unit (exports).
fn push_select(q: &mut Sql, viewer: &Viewer, parents: bool) {
    q.push(
        "SELECT i.id, i.account_id, i.project_id, p.name AS project_name, p.color AS project_color, i.form_id,
        f.name AS form_name, i.form_version_id, v.version_id, i.org_unit_id, ou.name AS org_unit_name,
        ou.source_ref AS org_unit_source_ref, i.uuid, i.file_name, i.file, i.json,
        i.name, i.period, i.latitude, i.longitude, i.altitude, i.accuracy, dv.imei AS device_imei, i.entity_uuid,
        i.planning_id, i.created_by_id, cu.username AS created_by_username, cu.first_name AS created_by_first_name,
        cu.last_name AS created_by_last_name, mu.username AS last_modified_by_username, i.source_created_at,
        i.source_updated_at, i.export_id, i.correlation_id, i.last_export_success_at, i.deleted, i.created_at,
        i.updated_at, ",
    );
    q.push(STATUS_SQL).push(
        " AS status, (SELECT COUNT(*) FROM instance_locks l WHERE l.instance_id = i.id \
         AND l.unlocked_by_id IS NULL) AS active_locks, ",
    );
    match &viewer.lock_roots {
        None => {
            q.push("CAST(0 AS BIGINT) AS blocking_locks");
        }
        Some(roots) => {
            q.push(
                "(SELECT COUNT(*) FROM instance_locks l JOIN org_units lt ON lt.id = l.top_org_unit_id \
                 WHERE l.instance_id = i.id AND l.unlocked_by_id IS NULL",
            );
            if !roots.is_empty() {
                q.push(" AND NOT ");
                push_in_subtrees(q, "lt.path", roots);
            }
            q.push(") AS blocking_locks");
        }
    }
    if parents {
        q.push(", p1.name AS parent1, p2.name AS parent2, p3.name AS parent3, p4.name AS parent4");
    } else {
        q.push(
            ", CAST(NULL AS TEXT) AS parent1, CAST(NULL AS TEXT) AS parent2, \
             CAST(NULL AS TEXT) AS parent3, CAST(NULL AS TEXT) AS parent4",
        );
    }
    q.push(INSTANCE_FROM);
    if parents {
        q.push(
            " LEFT JOIN org_units p1 ON p1.id = ou.parent_id LEFT JOIN org_units p2 ON p2.id = p1.parent_id \
             LEFT JOIN org_units p3 ON p3.id = p2.parent_id LEFT JOIN org_units p4 ON p4.id = p3.parent_id",
        );
    }
}

const INSTANCE_FROM: &str = " FROM instances i LEFT JOIN forms f ON f.id = i.form_id \
    LEFT JOIN projects p ON p.id = i.project_id LEFT JOIN form_versions v ON v.id = i.form_version_id \
    LEFT JOIN devices dv ON dv.id = i.device_id LEFT JOIN users cu ON cu.id = i.created_by_id \
    LEFT JOIN users mu ON mu.id = i.last_modified_by_id LEFT JOIN org_units ou ON ou.id = i.org_unit_id";

/// A submission with what its answers show.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: i64,
    pub account_id: AccountId,
    pub project_id: Option<i64>,
    pub project_name: Option<String>,
    pub project_color: Option<String>,
    pub form_id: Option<i64>,
    pub form_name: Option<String>,
    pub form_version_id: Option<i64>,
    pub version_id: Option<String>,
    pub org_unit_id: Option<i64>,
    pub org_unit_name: Option<String>,
    pub org_unit_source_ref: Option<String>,
    /// Names of the org unit's parent, grand-parent... (four levels; exports only).
    pub org_unit_parents: [Option<String>; 4],
    pub uuid: Option<String>,
    pub file_name: Option<String>,
    pub file: Option<String>,
    pub json: Option<Value>,
    pub name: Option<String>,
    pub period: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub altitude: Option<f64>,
    pub accuracy: Option<f64>,
    pub device_imei: Option<String>,
    pub entity_uuid: Option<String>,
    pub planning_id: Option<i64>,
    pub created_by: Option<crate::forms::UserRef>,
    pub last_modified_by: Option<String>,
    pub source_created_at: Option<DateTime<Utc>>,
    pub source_updated_at: Option<DateTime<Utc>>,
    pub export_id: Option<String>,
    pub correlation_id: Option<i64>,
    pub last_export_success_at: Option<DateTime<Utc>>,
    pub deleted: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: String,
    /// Some lock is active.
    pub is_locked: bool,
    /// No active lock binds the viewer (Iaso's `can_user_modify`).
    pub can_user_modify: bool,
}

impl From<InstanceRow> for Instance {
    fn from(r: InstanceRow) -> Self {
        Instance {
            id: r.id,
            account_id: AccountId(r.account_id),
            project_id: r.project_id,
            project_name: r.project_name,
            project_color: r.project_color,
            form_id: r.form_id,
            form_name: r.form_name,
            form_version_id: r.form_version_id,
            version_id: r.version_id,
            org_unit_id: r.org_unit_id,
            org_unit_name: r.org_unit_name,
            org_unit_source_ref: r.org_unit_source_ref,
            org_unit_parents: [r.parent1, r.parent2, r.parent3, r.parent4],
            uuid: r.uuid,
            file_name: r.file_name,
            file: r.file,
            json: r.json.map(|j| j.0),
            name: r.name,
            period: r.period,
            latitude: r.latitude,
            longitude: r.longitude,
            altitude: r.altitude,
            accuracy: r.accuracy,
            device_imei: r.device_imei,
            entity_uuid: r.entity_uuid,
            planning_id: r.planning_id,
            created_by: r.created_by_id.map(|id| crate::forms::UserRef {
                id,
                username: r.created_by_username.unwrap_or_default(),
                first_name: r.created_by_first_name.unwrap_or_default(),
                last_name: r.created_by_last_name.unwrap_or_default(),
            }),
            last_modified_by: r.last_modified_by_username,
            source_created_at: r.source_created_at,
            source_updated_at: r.source_updated_at,
            export_id: r.export_id,
            correlation_id: r.correlation_id,
            last_export_success_at: r.last_export_success_at,
            deleted: r.deleted,
            created_at: r.created_at,
            updated_at: r.updated_at,
            status: r.status,
            is_locked: r.active_locks > 0,
            can_user_modify: r.blocking_locks == 0,
        }
    }
}

impl Instance {
    pub fn audit_json(&self) -> Value {
        json!([{"model": "iaso.instance", "pk": self.id, "fields": {
            "org_unit": self.org_unit_id, "period": self.period, "deleted": self.deleted,
            "form": self.form_id, "file_name": self.file_name, "json": self.json,
        }}])
    }
}

/// Iaso's submission filters.
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    pub viewer: Viewer,
    pub form_ids: Vec<i64>,
    pub project_ids: Vec<i64>,
    /// `orgUnitId`: submissions of these units.
    pub org_unit_ids: Vec<i64>,
    /// `orgUnitParentId`: submissions of these units and their descendants.
    pub org_unit_parent_ids: Vec<i64>,
    /// `orgUnitTypeId`.
    pub org_unit_type_ids: Vec<i64>,
    /// `org_unit_status`: validation status of the submission's unit.
    pub org_unit_status: Option<String>,
    pub periods: Vec<String>,
    pub period_from: Option<String>,
    pub period_to: Option<String>,
    pub statuses: Vec<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub modified_from: Option<DateTime<Utc>>,
    pub modified_to: Option<DateTime<Utc>>,
    pub sent_from: Option<DateTime<Utc>>,
    pub sent_to: Option<DateTime<Utc>>,
    pub user_ids: Vec<i64>,
    pub with_location: Option<bool>,
    /// `[min_lon, min_lat, max_lon, max_lat]` of the submission's location (map mode).
    pub bbox: Option<[f64; 4]>,
    pub ids: Vec<i64>,
    /// `search=refs:a,b`: external references of the submissions' org units.
    pub org_unit_refs: Vec<String>,
    /// Text in the org unit's name or aliases (or the submission's uuid).
    pub search: Option<String>,
    pub show_deleted: bool,
    /// JsonLogic condition, translated to SQL by [`crate::jsonlogic`].
    pub json_content: Option<Value>,
    pub device_id: Option<i64>,
    pub order: Vec<String>,
}

/// What a filter needs from the database before it becomes SQL.
struct Resolved {
    /// Paths of the `org_unit_parent_ids` found in the account (`None`: no such filter).
    parent_paths: Option<Vec<String>>,
}

async fn resolve_filter(
    c: &mut impl Conn,
    account: AccountId,
    f: &InstanceFilter,
) -> StoreResult<Resolved> {
    let parent_paths = if f.org_unit_parent_ids.is_empty() {
        None
    } else {
        let versions = crate::sources::account_version_ids(c, account).await?;
        if versions.is_empty() {
            Some(Vec::new())
        } else {
            let mut q = Sql::new("SELECT path FROM org_units WHERE id IN (");
            q.bind_list(f.org_unit_parent_ids.iter().copied())
                .push(") AND version_id IN (")
                .bind_list(versions.iter().copied())
                .push(")");
            let rows: Vec<(String,)> = c.fetch_all(q).await?;
            Some(rows.into_iter().map(|r| r.0).collect())
        }
    };
    Ok(Resolved { parent_paths })
}

fn instance_filter_sql(
    q: &mut Sql,
    account: AccountId,
    f: &InstanceFilter,
    resolved: &Resolved,
    backend: iaso_db::Backend,
) -> StoreResult<()> {
    q.push(" WHERE i.account_id = ").bind(account.get());
    q.push(" AND i.file IS NOT NULL AND (f.id IS NULL OR f.deleted_at IS NULL)");
    q.push(" AND (dv.id IS NULL OR NOT dv.test_device)");
    if f.show_deleted {
        q.push(" AND i.deleted");
    } else {
        q.push(" AND NOT i.deleted");
    }
    let in_subtrees = |q: &mut Sql, roots: &Option<Vec<String>>| match roots {
        None => {}
        Some(r) if r.is_empty() => {
            q.push(" AND 1 = 0");
        }
        Some(r) => {
            q.push(" AND ");
            push_in_subtrees(q, "ou.path", r);
        }
    };
    in_subtrees(q, &f.viewer.roots);
    in_subtrees(q, &resolved.parent_paths);
    let ids = |q: &mut Sql, col: &str, v: &[i64]| {
        if !v.is_empty() {
            q.push(&format!(" AND {col} IN ("))
                .bind_list(v.iter().copied())
                .push(")");
        }
    };
    ids(q, "i.project_id", &f.viewer.projects);
    ids(q, "i.form_id", &f.form_ids);
    ids(q, "i.project_id", &f.project_ids);
    ids(q, "i.org_unit_id", &f.org_unit_ids);
    ids(q, "ou.org_unit_type_id", &f.org_unit_type_ids);
    ids(q, "i.created_by_id", &f.user_ids);
    ids(q, "i.id", &f.ids);
    if let Some(st) = &f.org_unit_status {
        q.push(" AND ou.validation_status = ").bind(st.clone());
    }
    if !f.org_unit_refs.is_empty() {
        q.push(" AND ou.source_ref IN (")
            .bind_list(f.org_unit_refs.iter().cloned())
            .push(")");
    }
    if let Some(d) = f.device_id {
        q.push(" AND i.device_id = ").bind(d);
    }
    if !f.periods.is_empty() {
        q.push(" AND i.period IN (")
            .bind_list(f.periods.iter().cloned())
            .push(")");
    }
    if let Some(p) = &f.period_from {
        q.push(" AND i.period >= ").bind(p.clone());
    }
    if let Some(p) = &f.period_to {
        q.push(" AND i.period <= ").bind(p.clone());
    }
    if !f.statuses.is_empty() {
        q.push(&format!(" AND ({STATUS_SQL}) IN ("))
            .bind_list(f.statuses.iter().cloned())
            .push(")");
    }
    let created = "COALESCE(i.source_created_at, i.created_at)";
    let range = |q: &mut Sql, col: &str, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| {
        if let Some(t) = from {
            q.push(&format!(" AND {col} >= ")).bind(t);
        }
        if let Some(t) = to {
            q.push(&format!(" AND {col} <= ")).bind(t);
        }
    };
    range(q, created, f.created_from, f.created_to);
    range(q, "i.updated_at", f.modified_from, f.modified_to);
    range(q, "i.created_at", f.sent_from, f.sent_to);
    match f.with_location {
        Some(true) => {
            q.push(" AND i.latitude IS NOT NULL");
        }
        Some(false) => {
            q.push(" AND i.latitude IS NULL");
        }
        None => {}
    }
    if let Some([min_lon, min_lat, max_lon, max_lat]) = f.bbox {
        q.push(" AND i.latitude IS NOT NULL AND i.longitude >= ")
            .bind(min_lon)
            .push(" AND i.longitude <= ")
            .bind(max_lon)
            .push(" AND i.latitude >= ")
            .bind(min_lat)
            .push(" AND i.latitude <= ")
            .bind(max_lat);
    }
    if let Some(s) = &f.search {
        let lower = s.to_lowercase();
        q.push(" AND (ou.name_key LIKE ")
            .bind(format!("%{}%", like_escape(&lower)))
            .push(" ESCAPE '\\' OR ou.aliases_key LIKE ")
            .bind(format!("%|{}|%", like_escape(&lower)))
            .push(" ESCAPE '\\' OR i.uuid = ")
            .bind(s.clone())
            .push(")");
    }
    if let Some(logic) = &f.json_content {
        let cond = crate::jsonlogic::to_sql(logic, backend)
            .map_err(|e| StoreError::invalid("jsonContent", e))?;
        append(q, &cond);
    }
    Ok(())
}

fn order_instances(order: &[String]) -> String {
    let mut parts = Vec::new();
    for key in order.iter().flat_map(|o| o.split(',')) {
        let key = key.trim();
        let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
        let col = match key {
            "id" => "i.id",
            "updated_at" => "i.updated_at",
            "created_at" => "COALESCE(i.source_created_at, i.created_at)",
            "period" => "i.period",
            "form__name" | "form_name" => "f.name",
            "org_unit__name" => "ou.name_key",
            "org_unit_id" | "org_unit" => "i.org_unit_id",
            "status" => "status",
            "last_modified_by" => "i.last_modified_by_id",
            "form_version__version_id" => "v.version_id",
            "source_created_at" => "i.source_created_at",
            _ => continue,
        };
        parts.push(format!("{col} {}", if desc { "DESC" } else { "ASC" }));
    }
    if parts.is_empty() {
        parts.push("i.updated_at ASC".into());
    }
    parts.push("i.id".into());
    parts.join(", ")
}

/// Changes of a submission through `PATCH /api/instances/{id}/`.
#[derive(Debug, Clone, Default)]
pub struct InstanceChanges {
    pub org_unit_id: Option<Option<i64>>,
    pub period: Option<Option<String>>,
    pub deleted: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InstanceFile {
    pub id: i64,
    pub instance_id: i64,
    pub name: String,
    pub file: String,
    pub file_size: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub form_name: Option<String>,
    pub org_unit_id: Option<i64>,
    pub org_unit_name: Option<String>,
    pub submitted_at: DateTime<Utc>,
}

/// A located submission (map mode).
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InstanceLocation {
    pub id: i64,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// A lock of a submission with the names its answers show.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InstanceLock {
    pub id: i64,
    pub top_org_unit_id: i64,
    pub top_org_unit_name: String,
    pub locked_at: DateTime<Utc>,
    pub locked_by_id: i64,
    pub locked_by_username: String,
    pub locked_by_first_name: String,
    pub locked_by_last_name: String,
    pub unlocked_at: Option<DateTime<Utc>>,
    pub unlocked_by_id: Option<i64>,
    pub unlocked_by_username: Option<String>,
    pub unlocked_by_first_name: Option<String>,
    pub unlocked_by_last_name: Option<String>,
}

const FILE_SELECT: &str = "SELECT x.id, x.instance_id, x.name, x.file, x.file_size, x.created_at, \
    f.name AS form_name, i.org_unit_id, ou.name AS org_unit_name, i.created_at AS submitted_at \
    FROM instance_files x JOIN instances i ON i.id = x.instance_id LEFT JOIN forms f ON f.id = i.form_id \
    LEFT JOIN org_units ou ON ou.id = i.org_unit_id";

async fn load_instance(
    c: &mut impl Conn,
    account: AccountId,
    viewer: &Viewer,
    id: i64,
) -> StoreResult<Instance> {
    let mut q = Sql::new("");
    push_select(&mut q, viewer, false);
    q.push(" WHERE i.id = ")
        .bind(id)
        .push(" AND i.account_id = ")
        .bind(account.get())
        .push(" AND (f.id IS NULL OR f.deleted_at IS NULL)");
    let row: InstanceRow = c.fetch_one(q).await?;
    Ok(row.into())
}

impl Store {
    /// The caller's view of submissions: `org_units` are the profile's org units (ids),
    /// `superuser` frees the caller from locks, `projects` the profile's projects.
    pub async fn instance_viewer(
        &self,
        account: AccountId,
        org_units: &[iaso_domain::OrgUnitId],
        superuser: bool,
        projects: &[i64],
    ) -> StoreResult<Viewer> {
        let (roots, root_ids) = if org_units.is_empty() {
            (None, Vec::new())
        } else {
            let mut db = self.db.clone();
            let versions = crate::sources::account_version_ids(&mut db, account).await?;
            let rows: Vec<(i64, String)> = if versions.is_empty() {
                Vec::new()
            } else {
                let mut q = Sql::new("SELECT id, path FROM org_units WHERE id IN (");
                q.bind_list(org_units.iter().map(|o| o.get()))
                    .push(") AND version_id IN (")
                    .bind_list(versions.iter().copied())
                    .push(") ORDER BY path");
                db.fetch_all(q).await?
            };
            let ids = rows.iter().map(|r| r.0).collect();
            (Some(rows.into_iter().map(|r| r.1).collect()), ids)
        };
        Ok(Viewer {
            lock_roots: if superuser { None } else { roots.clone() },
            roots,
            projects: projects.to_vec(),
            root_ids,
        })
    }

    pub async fn list_instances(
        &self,
        account: AccountId,
        filter: &InstanceFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Instance>> {
        let mut db = self.db.clone();
        let resolved = resolve_filter(&mut db, account, filter).await?;
        let mut count = Sql::new(format!("SELECT COUNT(*) {INSTANCE_FROM}"));
        instance_filter_sql(&mut count, account, filter, &resolved, self.backend())?;
        let count: i64 = db.fetch_scalar(count).await?;
        let mut q = Sql::new("");
        push_select(&mut q, &filter.viewer, false);
        instance_filter_sql(&mut q, account, filter, &resolved, self.backend())?;
        q.push(" ORDER BY ").push(&order_instances(&filter.order));
        page.push_to(&mut q);
        let rows: Vec<InstanceRow> = db.fetch_all(q).await?;
        Ok(Page {
            items: rows.into_iter().map(Into::into).collect(),
            count,
        })
    }

    /// Located submissions for a map: at most `limit`, newest first.
    pub async fn instance_locations(
        &self,
        account: AccountId,
        filter: &InstanceFilter,
        limit: i64,
    ) -> StoreResult<Vec<InstanceLocation>> {
        let mut db = self.db.clone();
        let resolved = resolve_filter(&mut db, account, filter).await?;
        let mut q = Sql::new(format!(
            "SELECT i.id, i.latitude, i.longitude {INSTANCE_FROM}"
        ));
        instance_filter_sql(&mut q, account, filter, &resolved, self.backend())?;
        q.push(" AND i.latitude IS NOT NULL AND i.longitude IS NOT NULL ORDER BY i.id DESC LIMIT ")
            .bind(limit);
        Ok(db.fetch_all(q).await?)
    }

    /// Streams the matching submissions with the names of their org unit's ancestors
    /// (exports): rows come from the database as they are consumed, so memory stays bounded
    /// whatever their number.
    pub async fn stream_instances(
        &self,
        account: AccountId,
        filter: &InstanceFilter,
    ) -> StoreResult<BoxStream<'static, StoreResult<Instance>>> {
        let mut db = self.db.clone();
        let resolved = resolve_filter(&mut db, account, filter).await?;
        let mut q = Sql::new("");
        push_select(&mut q, &filter.viewer, true);
        instance_filter_sql(&mut q, account, filter, &resolved, self.backend())?;
        q.push(" ORDER BY ").push(&order_instances(&filter.order));
        Ok(self
            .db
            .stream::<InstanceRow>(q)
            .map(|r| r.map(Instance::from).map_err(StoreError::from))
            .boxed())
    }

    /// A submission of the account (deleted ones too) as `viewer` sees it; `NotFound` when
    /// its XML was not received or it is outside the viewer's sub-trees or projects.
    pub async fn instance(
        &self,
        account: AccountId,
        viewer: &Viewer,
        id: i64,
    ) -> StoreResult<Instance> {
        let mut db = self.db.clone();
        let i = load_instance(&mut db, account, viewer, id).await?;
        self.check_visible(viewer, &i).await?;
        Ok(i)
    }

    async fn check_visible(&self, viewer: &Viewer, i: &Instance) -> StoreResult<()> {
        if i.file.is_none()
            || (!viewer.projects.is_empty()
                && !i.project_id.is_some_and(|p| viewer.projects.contains(&p)))
        {
            return Err(StoreError::NotFound);
        }
        if let Some(roots) = &viewer.roots {
            let path = match i.org_unit_id {
                Some(ou) => self
                    .org_unit_paths(&[ou])
                    .await?
                    .into_iter()
                    .next()
                    .map(|r| r.2),
                None => None,
            };
            if !path.is_some_and(|p| roots.iter().any(|r| crate::org_units::in_subtree(&p, r))) {
                return Err(StoreError::NotFound);
            }
        }
        Ok(())
    }

    /// A submission by the mobile app's uuid (the whole account).
    pub async fn instance_by_uuid(&self, account: AccountId, uuid: &str) -> StoreResult<Instance> {
        let mut db = self.db.clone();
        let mut q = Sql::new("");
        push_select(&mut q, &Viewer::unrestricted(), false);
        q.push(" WHERE i.uuid = ")
            .bind(uuid)
            .push(" AND i.account_id = ")
            .bind(account.get());
        let row: InstanceRow = db.fetch_one(q).await?;
        Ok(row.into())
    }

    pub async fn instance_files(&self, instance: i64) -> StoreResult<Vec<InstanceFile>> {
        let mut db = self.db.clone();
        let mut q = Sql::new(FILE_SELECT);
        q.push(" WHERE x.instance_id = ")
            .bind(instance)
            .push(" AND NOT x.deleted ORDER BY x.id");
        Ok(db.fetch_all(q).await?)
    }

    /// Attachments of the submissions matching `filter`.
    pub async fn list_instance_files(
        &self,
        account: AccountId,
        filter: &InstanceFilter,
        extensions: Option<&[&str]>,
        exclude_extensions: Option<&[&str]>,
        page: PageRequest,
    ) -> StoreResult<Page<InstanceFile>> {
        let mut db = self.db.clone();
        let resolved = resolve_filter(&mut db, account, filter).await?;
        let mut inner = Sql::new(format!("SELECT i.id {INSTANCE_FROM}"));
        instance_filter_sql(&mut inner, account, filter, &resolved, self.backend())?;
        let mut cond = Sql::new(" WHERE NOT x.deleted AND x.instance_id IN (");
        append(&mut cond, &inner);
        cond.push(")");
        let ext_expr = "LOWER(x.name)";
        if let Some(exts) = extensions {
            cond.push(" AND (");
            for (n, e) in exts.iter().enumerate() {
                if n > 0 {
                    cond.push(" OR ");
                }
                cond.push(&format!("{ext_expr} LIKE "))
                    .bind(format!("%.{e}"));
            }
            cond.push(")");
        }
        if let Some(exts) = exclude_extensions {
            for e in exts {
                cond.push(&format!(" AND {ext_expr} NOT LIKE "))
                    .bind(format!("%.{e}"));
            }
        }
        let mut count = Sql::new("SELECT COUNT(*) FROM instance_files x");
        append(&mut count, &cond);
        let count: i64 = db.fetch_scalar(count).await?;
        let mut q = Sql::new(FILE_SELECT);
        append(&mut q, &cond);
        q.push(" ORDER BY x.created_at, x.id");
        page.push_to(&mut q);
        Ok(Page {
            items: db.fetch_all(q).await?,
            count,
        })
    }

    /// Changes a submission and records the change. Refused while a lock binds the viewer; a
    /// new org unit must be one of the account's units visible to the viewer.
    pub async fn update_instance(
        &self,
        account: AccountId,
        viewer: &Viewer,
        id: i64,
        ch: &InstanceChanges,
        user: UserId,
        source: &str,
    ) -> StoreResult<Instance> {
        let mut tx = self.db.begin().await?;
        let before = load_instance(&mut tx, account, viewer, id).await?;
        if !before.can_user_modify {
            return Err(StoreError::Conflict(
                "This submission is locked at a level above yours: it cannot be changed.".into(),
            ));
        }
        tx.execute(sql!(
            "UPDATE instances SET org_unit_id = $1, period = $2, deleted = $3, last_modified_by_id = $4,
                updated_at = $5 WHERE id = $6 AND account_id = $7",
            ch.org_unit_id.unwrap_or(before.org_unit_id),
            ch.period.clone().unwrap_or(before.period.clone()),
            ch.deleted.unwrap_or(before.deleted),
            user.get(),
            iaso_db::now(),
            id,
            account.get()
        ))
        .await?;
        let after = load_instance(&mut tx, account, viewer, id).await?;
        audit::log(
            &mut tx,
            &Change {
                account: Some(account),
                content_type: "iaso.instance",
                object_id: id.to_string(),
                past: before.audit_json(),
                new: after.audit_json(),
                source,
                user: Some(user),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Soft-deletes (or restores) the matching submissions in one transaction; returns how many
    /// changed. A submission locked above the viewer makes the whole operation fail.
    pub async fn bulk_delete_instances(
        &self,
        account: AccountId,
        filter: &InstanceFilter,
        delete: bool,
        user: UserId,
    ) -> StoreResult<i64> {
        let mut tx = self.db.begin().await?;
        let resolved = resolve_filter(&mut tx, account, filter).await?;
        let mut q = Sql::new("");
        push_select(&mut q, &filter.viewer, false);
        instance_filter_sql(&mut q, account, filter, &resolved, self.backend())?;
        q.push(" ORDER BY i.id");
        let rows: Vec<InstanceRow> = tx.fetch_all(q).await?;
        let items: Vec<Instance> = rows.into_iter().map(Into::into).collect();
        if let Some(locked) = items.iter().find(|i| !i.can_user_modify) {
            return Err(StoreError::Conflict(format!(
                "The submission {} is locked: nothing was changed.",
                locked.id
            )));
        }
        let now = iaso_db::now();
        let mut n = 0;
        for before in items {
            if before.deleted == delete {
                continue;
            }
            tx.execute(sql!(
                "UPDATE instances SET deleted = $1, last_modified_by_id = $2, updated_at = $3 WHERE id = $4",
                delete,
                user.get(),
                now,
                before.id
            ))
            .await?;
            let mut after = before.clone();
            after.deleted = delete;
            audit::log(
                &mut tx,
                &Change {
                    account: Some(account),
                    content_type: "iaso.instance",
                    object_id: before.id.to_string(),
                    past: before.audit_json(),
                    new: after.audit_json(),
                    source: audit::sources::INSTANCE_API_BULK,
                    user: Some(user),
                },
            )
            .await?;
            n += 1;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Storage key of a submission's XML.
    pub async fn instance_file_key(&self, id: i64) -> StoreResult<Option<String>> {
        let mut db = self.db.clone();
        let row: Option<(Option<String>,)> = db
            .fetch_optional(sql!("SELECT file FROM instances WHERE id = $1", id))
            .await?;
        Ok(row.and_then(|r| r.0))
    }

    /// The account of a submission (None while it waits for its metadata).
    pub async fn instance_account(&self, id: i64) -> StoreResult<Option<AccountId>> {
        let mut db = self.db.clone();
        let row: Option<(Option<i64>,)> = db
            .fetch_optional(sql!("SELECT account_id FROM instances WHERE id = $1", id))
            .await?;
        Ok(row.and_then(|r| r.0).map(AccountId))
    }

    /// Locks a submission (Iaso's `add_lock`): at the highest of the viewer's org units that
    /// contains the submission's unit, or at the root of that unit's tree for an unrestricted
    /// viewer. Refused when a lock already binds the viewer, or the submission has no unit.
    pub async fn lock_instance(
        &self,
        account: AccountId,
        viewer: &Viewer,
        id: i64,
        user: UserId,
    ) -> StoreResult<i64> {
        let i = self.instance(account, viewer, id).await?;
        if !i.can_user_modify {
            return Err(StoreError::Conflict(
                "This submission is locked at a level above yours.".into(),
            ));
        }
        let Some(ou) = i.org_unit_id else {
            return Err(StoreError::invalid(
                "org_unit",
                "This submission has no org unit: it cannot be locked.",
            ));
        };
        let Some((_, _, path)) = self.org_unit_paths(&[ou]).await?.into_iter().next() else {
            return Err(StoreError::NotFound);
        };
        let top = match &viewer.roots {
            None => crate::org_units::path_ids(&path).first().copied(),
            Some(roots) => roots
                .iter()
                .filter(|r| crate::org_units::in_subtree(&path, r))
                .min_by_key(|r| r.split('.').count())
                .and_then(|r| crate::org_units::path_ids(r).last().copied()),
        };
        let Some(top) = top else {
            return Err(StoreError::NotFound);
        };
        let mut db = self.db.clone();
        Ok(db
            .fetch_scalar(sql!(
                "INSERT INTO instance_locks (instance_id, locked_at, locked_by_id, top_org_unit_id)
                 VALUES ($1, $2, $3, $4) RETURNING id",
                i.id,
                iaso_db::now(),
                user.get(),
                top
            ))
            .await?)
    }

    /// Unlocks a lock of a submission the viewer sees and may change.
    pub async fn unlock_instance(
        &self,
        account: AccountId,
        viewer: &Viewer,
        lock: i64,
        user: UserId,
    ) -> StoreResult<i64> {
        let mut db = self.db.clone();
        let row: Option<(i64, i64, Option<i64>)> = db
            .fetch_optional(sql!(
                "SELECT l.id, l.instance_id, l.unlocked_by_id FROM instance_locks l JOIN instances i ON i.id = l.instance_id
                 WHERE l.id = $1 AND i.account_id = $2",
                lock,
                account.get()
            ))
            .await?;
        let invalid = || {
            StoreError::invalid(
                "lock",
                format!("Invalid pk \"{lock}\" - object does not exist."),
            )
        };
        let Some((id, instance, unlocked)) = row else {
            return Err(invalid());
        };
        let i = match self.instance(account, viewer, instance).await {
            Err(StoreError::NotFound) => return Err(invalid()),
            other => other?,
        };
        if !i.can_user_modify {
            return Err(StoreError::Conflict(
                "This submission is locked at a level above yours.".into(),
            ));
        }
        if unlocked.is_some() {
            return Err(StoreError::invalid("lock", "Lock already unlocked"));
        }
        db.execute(sql!(
            "UPDATE instance_locks SET unlocked_by_id = $1, unlocked_at = $2 WHERE id = $3 AND unlocked_by_id IS NULL",
            user.get(),
            iaso_db::now(),
            id
        ))
        .await?;
        Ok(id)
    }

    /// Lock history of a submission, newest first.
    pub async fn instance_locks(&self, instance: i64) -> StoreResult<Vec<InstanceLock>> {
        let mut db = self.db.clone();
        Ok(db
            .fetch_all(sql!(
                "SELECT l.id, l.top_org_unit_id, t.name AS top_org_unit_name, l.locked_at, l.locked_by_id,
                    lu.username AS locked_by_username, lu.first_name AS locked_by_first_name,
                    lu.last_name AS locked_by_last_name, l.unlocked_at, l.unlocked_by_id,
                    uu.username AS unlocked_by_username, uu.first_name AS unlocked_by_first_name,
                    uu.last_name AS unlocked_by_last_name
                 FROM instance_locks l JOIN org_units t ON t.id = l.top_org_unit_id
                 JOIN users lu ON lu.id = l.locked_by_id LEFT JOIN users uu ON uu.id = l.unlocked_by_id
                 WHERE l.instance_id = $1 ORDER BY l.locked_at DESC, l.id DESC",
                instance
            ))
            .await?)
    }
}

// ---------------------------------------------------------------------------- answers edited

/// A submission's answers edited in a browser (Iaso's Enketo edit,
/// `POST /api/enketo/submission`): the new XML, its media already stored.
#[derive(Debug, Clone)]
pub struct AnswersEdit<'a> {
    pub file: String,
    pub file_size: i64,
    pub md5: String,
    pub submission: &'a Submission,
    pub media: Vec<NewInstanceFile>,
    /// Every text value of the XML: attachments whose name is none of them are no longer
    /// used by the answers and get marked deleted.
    pub referenced: Vec<String>,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswersEdited {
    /// The same XML as the stored one: nothing but new media changed.
    pub unchanged: bool,
    /// Stored files of the upload that the submission does not use (the XML when unchanged,
    /// media already attached with the same content): the caller may delete them.
    pub unused_files: Vec<String>,
    /// Names of the attachments marked deleted.
    pub removed_files: Vec<String>,
}

impl Store {
    /// Replaces a submission's XML with an edited one (one transaction): the answers are parsed
    /// again with the version the XML names, `source_updated_at` is now, `last_modified_by`
    /// the editor, new media are attached, attachments the XML no longer names are marked
    /// deleted, and the change is audited. `NotFound` outside the viewer's submissions,
    /// `Conflict` while a lock binds the viewer, `Invalid` when the XML is for another form.
    pub async fn edit_instance_answers(
        &self,
        account: AccountId,
        viewer: &Viewer,
        id: i64,
        user: UserId,
        edit: &AnswersEdit<'_>,
    ) -> StoreResult<AnswersEdited> {
        // Visibility (sub-trees, projects, XML received) first, then everything in one
        // transaction.
        self.instance(account, viewer, id).await?;
        let mut tx = self.db.begin().await?;
        let before = load_instance(&mut tx, account, viewer, id).await?;
        if !before.can_user_modify {
            return Err(StoreError::Conflict(
                "This submission is locked at a level above yours: its answers cannot be changed."
                    .into(),
            ));
        }
        let Some(form_id) = before.form_id else {
            return Err(StoreError::invalid(
                "xml_submission_file",
                "This submission has no form: its answers cannot be edited.",
            ));
        };
        let form = form_info(&mut tx, account, form_id).await?;
        let s = edit.submission;
        match (s.form_id.as_deref(), form.form_id.as_deref()) {
            (Some(xid), Some(fid)) if xid == fid => {}
            (None, _) => {
                return Err(StoreError::invalid(
                    "xml_submission_file",
                    "The submission's root element has no id attribute naming its form.",
                ))
            }
            (Some(xid), fid) => {
                return Err(StoreError::invalid(
                    "xml_submission_file",
                    format!(
                        "The edited answers are for the form {xid:?}, but this submission is of the form {:?}.",
                        fid.unwrap_or("")
                    ),
                ))
            }
        }
        let stored_md5: Option<String> = tx
            .fetch_scalar(sql!("SELECT file_md5 FROM instances WHERE id = $1", id))
            .await?;
        let unchanged = stored_md5.as_deref() == Some(edit.md5.as_str());
        let now = iaso_db::now();
        let mut unused_files = add_media(&mut tx, id, &edit.media).await?;
        let media_added = unused_files.len() < edit.media.len();
        if unchanged {
            unused_files.push(edit.file.clone());
        } else {
            let (json, version) = submission_json(&mut tx, form.id, s).await?;
            let (location, device) = derived_fields(&mut tx, account, &form, &json).await?;
            tx.execute(sql!(
                "UPDATE instances SET file = $1, file_size = $2, file_md5 = $3,
                    instance_id = COALESCE($4, instance_id), last_modified_by_id = $5,
                    source_updated_at = $6, updated_at = $6 WHERE id = $7 AND account_id = $8",
                edit.file.clone(),
                edit.file_size,
                edit.md5.clone(),
                s.instance_id.clone(),
                user.get(),
                now,
                id,
                account.get()
            ))
            .await?;
            set_parsed(&mut tx, id, &json, version, location, device).await?;
        }
        let attached: Vec<(i64, String)> = tx
            .fetch_all(sql!(
                "SELECT id, name FROM instance_files WHERE instance_id = $1 AND NOT deleted ORDER BY id",
                id
            ))
            .await?;
        let mut removed_files = Vec::new();
        for (file_id, name) in attached {
            if edit.referenced.contains(&name) {
                continue;
            }
            tx.execute(sql!(
                "UPDATE instance_files SET deleted = TRUE, updated_at = $1 WHERE id = $2",
                now,
                file_id
            ))
            .await?;
            removed_files.push(name);
        }
        if !unchanged || media_added || !removed_files.is_empty() {
            let after = load_instance(&mut tx, account, viewer, id).await?;
            audit::log(
                &mut tx,
                &Change {
                    account: Some(account),
                    content_type: "iaso.instance",
                    object_id: id.to_string(),
                    past: before.audit_json(),
                    new: after.audit_json(),
                    source: audit::sources::INSTANCE_API,
                    user: Some(user),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(AnswersEdited {
            unchanged,
            unused_files,
            removed_files,
        })
    }

    /// Every attachment of a submission, deleted ones too: `(name, deleted)` by id.
    pub async fn instance_file_states(&self, instance: i64) -> StoreResult<Vec<(String, bool)>> {
        let mut db = self.db.clone();
        Ok(db
            .fetch_all(sql!(
                "SELECT name, deleted FROM instance_files WHERE instance_id = $1 ORDER BY id",
                instance
            ))
            .await?)
    }
}
