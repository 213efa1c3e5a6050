//! `/api/instances/`: reviewing submissions (list with Iaso's filters, detail, PATCH, soft
//! delete and restore in bulk, attachments, CSV/XLSX exports), and `/files/...`, the signed
//! downloads of stored files.
//!
//! Reading needs one of `iaso_forms`, `iaso_submissions`, `iaso_registry_read/write`.

use super::forms::base_url;
use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::{epoch, epoch_opt};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use iaso_domain::Permission;
use iaso_store::audit::sources as audit_sources;
use iaso_store::instances::{Instance, InstanceChanges, InstanceFile, InstanceFilter};
use serde::Deserialize;
use serde_json::{json, Value};

const READ: &[Permission] = &[
    Permission::Forms,
    Permission::Submissions,
    Permission::RegistryRead,
    Permission::RegistryWrite,
];

fn day(q: &QueryParams, name: &str, end: bool) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(v) = q.get(name) else {
        return Ok(None);
    };
    let date = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(v, "%d-%m-%Y"))
        .map_err(|_| ApiError::field(name, format!("{v:?} is not a date (use YYYY-MM-DD).")))?;
    let t = if end {
        date.and_hms_micro_opt(23, 59, 59, 999_999)
    } else {
        date.and_hms_opt(0, 0, 0)
    };
    Ok(t.map(|t| t.and_utc()))
}

/// Iaso's submission filters from a query (or a bulk body converted to one).
pub(crate) fn filter_from_query(q: &QueryParams, member: &Member) -> ApiResult<InstanceFilter> {
    let mut form_ids = q.ids("form_ids")?;
    if let Some(f) = q.i64("form_id")? {
        form_ids.push(f);
    }
    let mut org_units = q.ids("orgUnitId")?;
    org_units.extend(q.ids("orgUnitParentId")?);
    let mut periods = q.list("period_ids");
    if periods.is_empty() {
        periods = q.list("periods");
    }
    if periods.is_empty() {
        periods = q.list("period");
    }
    let mut ids = Vec::new();
    let mut search = q.get("search").map(String::from);
    if let Some(s) = search.as_deref().and_then(|s| s.strip_prefix("ids:")) {
        ids = s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| {
                x.parse::<i64>()
                    .map_err(|_| ApiError::field("search", format!("{x:?} is not an id.")))
            })
            .collect::<Result<_, _>>()?;
        search = None;
    }
    let json_content = match q.get("jsonContent") {
        Some(s) => Some(
            serde_json::from_str::<Value>(s)
                .map_err(|e| ApiError::field("jsonContent", format!("Invalid JSON: {e}")))?,
        ),
        None => None,
    };
    let statuses = q.list("status");
    for s in &statuses {
        if !["READY", "DUPLICATED", "EXPORTED"].contains(&s.as_str()) {
            return Err(ApiError::field("status", format!("Unknown status {s:?}.")));
        }
    }
    Ok(InstanceFilter {
        restrict_projects: member
            .membership()
            .project_ids
            .iter()
            .map(|p| p.get())
            .collect(),
        form_ids,
        project_ids: q.ids("project_ids")?,
        org_unit_ids: org_units,
        periods,
        period_from: q.get("startPeriod").map(String::from),
        period_to: q.get("endPeriod").map(String::from),
        statuses,
        created_from: day(q, "dateFrom", false)?,
        created_to: day(q, "dateTo", true)?,
        modified_from: day(q, "modificationDateFrom", false)?,
        modified_to: day(q, "modificationDateTo", true)?,
        sent_from: day(q, "sentDateFrom", false)?,
        sent_to: day(q, "sentDateTo", true)?,
        user_ids: q.ids("userIds")?,
        with_location: q.bool("withLocation")?,
        ids,
        search,
        show_deleted: q.bool("showDeleted")?.unwrap_or(false),
        json_content,
        device_id: q.i64("deviceId")?,
        order: q.list("order"),
    })
}

fn user_json(i: &Instance) -> Value {
    match &i.created_by {
        Some(u) => {
            json!({"username": u.username, "first_name": u.first_name, "last_name": u.last_name})
        }
        None => Value::Null,
    }
}

pub(crate) fn instance_json(i: &Instance, state: &AppState, base: &str) -> Value {
    json!({
        "uuid": i.uuid,
        "export_id": i.export_id,
        "file_name": i.file_name,
        "file_content": i.json.clone().unwrap_or_else(|| json!({})),
        "file_url": i.file.as_ref().map(|k| state.blobs.url(base, k)),
        "id": i.id,
        "form_id": i.form_id,
        "form_name": i.form_name,
        "created_at": epoch(i.created_at),
        "updated_at": epoch(i.updated_at),
        "source_created_at": epoch_opt(i.source_created_at),
        "source_updated_at": epoch_opt(i.source_updated_at),
        "org_unit": i.org_unit_id.map(|id| json!({"id": id})),
        "latitude": i.latitude,
        "longitude": i.longitude,
        "altitude": i.altitude,
        "period": i.period,
        "project_name": i.project_name,
        "project_color": i.project_color,
        "project_id": i.project_id,
        "status": i.status,
        "correlation_id": i.correlation_id,
        "created_by": user_json(i),
        "last_modified_by": i.last_modified_by,
        "can_user_modify": !i.is_locked,
        "is_locked": i.is_locked,
        "is_instance_of_reference_form": false,
        "is_reference_instance": false,
    })
}

async fn descriptor_of(state: &AppState, member: &Member, i: &Instance) -> Value {
    match i.form_version_id {
        Some(v) => state
            .store
            .form_version(member.account_id(), v)
            .await
            .ok()
            .and_then(|v| v.descriptor)
            .unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// Submissions (JSON, paged with `limit`; `csv`/`xlsx` for a file export of one form).
#[utoipa::path(get, path = "/api/instances/", tag = "instances",
    params(("form_id" = Option<i64>, Query), ("form_ids" = Option<String>, Query), ("limit" = Option<i64>, Query),
           ("page" = Option<i64>, Query), ("order" = Option<String>, Query), ("csv" = Option<String>, Query),
           ("xlsx" = Option<String>, Query), ("showDeleted" = Option<bool>, Query), ("jsonContent" = Option<String>, Query)),
    responses((status = 200, description = "`{instances: [...]}`, paged, or a file")))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    q: QueryParams,
) -> ApiResult<Response> {
    member.require_any(READ)?;
    let filter = filter_from_query(&q, &member)?;
    if q.has("csv") || q.has("xlsx") {
        let form = match filter.form_ids.as_slice() {
            [one] => *one,
            _ => {
                return Ok((
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "There is no form"})),
                )
                    .into_response())
            }
        };
        return if q.has("csv") {
            super::exports::csv_response(&state, member.account_id(), form, filter).await
        } else {
            super::exports::xlsx_response(&state, member.account_id(), form, filter).await
        };
    }
    let paging = Paging::from_query(&q, None)?;
    let with_descriptor = q.get("with_descriptor") == Some("true");
    let base = base_url(&headers, &state);
    let first = state
        .store
        .list_instances(
            member.account_id(),
            &filter,
            iaso_store::PageRequest::new(1, 1),
        )
        .await?;
    let paging = paging.resolve(first.count, OutOfRange::Clamp)?;
    let page = state
        .store
        .list_instances(member.account_id(), &filter, paging.request())
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for i in &page.items {
        let mut v = instance_json(i, &state, &base);
        if with_descriptor {
            v["form_descriptor"] = descriptor_of(&state, &member, i).await;
        }
        items.push(v);
    }
    Ok(Json(paging.envelope("instances", items, page.count)).into_response())
}

async fn detail_json(
    state: &AppState,
    member: &Member,
    headers: &HeaderMap,
    i: &Instance,
) -> ApiResult<Value> {
    let base = base_url(headers, state);
    let mut v = instance_json(i, state, &base);
    let files = state.store.instance_files(i.id).await?;
    let locks = state.store.instance_locks(i.id).await?;
    v["modification"] = json!(true);
    v["device_id"] = json!(i.device_imei);
    v["form_version_id"] = json!(i.form_version_id);
    v["form_descriptor"] = descriptor_of(state, member, i).await;
    v["accuracy"] = json!(i.accuracy);
    v["planning_id"] = json!(i.planning_id);
    v["planning_name"] = Value::Null;
    v["team_id"] = Value::Null;
    v["files"] = json!(files
        .iter()
        .map(|f| state.blobs.url(&base, &f.file))
        .collect::<Vec<_>>());
    v["last_export_success_at"] = json!(epoch_opt(i.last_export_success_at));
    v["export_statuses"] = json!([]);
    v["deleted"] = json!(i.deleted);
    v["change_requests"] = json!([]);
    v["entity"] = Value::Null;
    v["instance_locks"] = json!(locks.iter().map(|l| json!({
        "id": l.id,
        "top_org_unit": {"id": l.top_org_unit_id},
        "locked_by": {"id": l.locked_by_id, "username": l.locked_by_username},
        "locked_at": l.locked_at.to_rfc3339(),
        "unlocked_by": l.unlocked_by_id.map(|id| json!({"id": id, "username": l.unlocked_by_username})),
    })).collect::<Vec<_>>());
    Ok(v)
}

async fn visible(state: &AppState, member: &Member, id: i64) -> ApiResult<Instance> {
    let i = state.store.instance(member.account_id(), id).await?;
    let only = &member.membership().project_ids;
    if i.file.is_none()
        || (!only.is_empty()
            && !i
                .project_id
                .is_some_and(|p| only.iter().any(|o| o.get() == p)))
    {
        return Err(ApiError::NotFound);
    }
    Ok(i)
}

/// One submission with its attachments, locks and descriptor.
#[utoipa::path(get, path = "/api/instances/{id}/", tag = "instances", params(("id" = i64, Path)),
    responses((status = 200, description = "Submission"), (status = 404, description = "Not visible")))]
pub async fn retrieve(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let i = visible(&state, &member, id).await?;
    Ok(Json(detail_json(&state, &member, &headers, &i).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct InstancePatch {
    #[serde(default, deserialize_with = "opt_id")]
    org_unit: Option<Option<i64>>,
    period: Option<String>,
    deleted: Option<bool>,
}

fn opt_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::Null => Ok(Some(None)),
        Value::Number(n) => n
            .as_i64()
            .map(|i| Some(Some(i)))
            .ok_or_else(|| serde::de::Error::custom("org_unit must be an id")),
        Value::String(s) => s
            .trim()
            .parse()
            .map(|i| Some(Some(i)))
            .map_err(|_| serde::de::Error::custom("org_unit must be an id")),
        _ => Err(serde::de::Error::custom("org_unit must be an id")),
    }
}

/// Change a submission's org unit, period or deleted flag (refused while locked); audited.
#[utoipa::path(patch, path = "/api/instances/{id}/", tag = "instances", params(("id" = i64, Path)), request_body = InstancePatch,
    responses((status = 200, description = "Updated"), (status = 409, description = "Locked")))]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<InstancePatch>,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let current = visible(&state, &member, id).await?;
    let period = match body.period {
        Some(p) if p.trim().is_empty() => Some(None),
        Some(p) => {
            let form = match current.form_id {
                Some(f) => Some(state.store.form(member.account_id(), f).await?),
                None => None,
            };
            let expected = form.and_then(|f| f.period_type);
            let detected = iaso_domain::periods::detect(&p);
            if expected.as_deref() != detected {
                return Err(ApiError::field(
                    "period",
                    format!(
                        "Wrong period type, expecting: {}. Received type: {}",
                        expected.as_deref().unwrap_or("None"),
                        detected.unwrap_or("None")
                    ),
                ));
            }
            Some(Some(p))
        }
        None => None,
    };
    let i = state
        .store
        .update_instance(
            member.account_id(),
            id,
            &InstanceChanges {
                org_unit_id: body.org_unit,
                period,
                deleted: body.deleted,
            },
            member.principal.user.id,
            audit_sources::INSTANCE_API,
        )
        .await?;
    Ok(Json(detail_json(&state, &member, &headers, &i).await?))
}

/// Soft-delete a submission (restore with PATCH `deleted: false` or bulkdelete).
#[utoipa::path(delete, path = "/api/instances/{id}/", tag = "instances", params(("id" = i64, Path)),
    responses((status = 200, description = "The deleted submission")))]
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    visible(&state, &member, id).await?;
    let i = state
        .store
        .update_instance(
            member.account_id(),
            id,
            &InstanceChanges {
                deleted: Some(true),
                ..Default::default()
            },
            member.principal.user.id,
            audit_sources::INSTANCE_API,
        )
        .await?;
    Ok(Json(detail_json(&state, &member, &headers, &i).await?))
}

fn body_to_query(body: &Value) -> QueryParams {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(obj) = body.as_object() {
        for (k, v) in obj {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                Value::Null => continue,
                other => other.to_string(),
            };
            pairs.push((k.clone(), s));
        }
    }
    QueryParams::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Soft-delete or restore many submissions at once (`select_all` with filters and
/// `unselected_ids`, or `selected_ids`; `is_deletion: false` restores). All or nothing.
#[utoipa::path(post, path = "/api/instances/bulkdelete/", tag = "instances",
    responses((status = 201, description = "`{result: \"success\"}`")))]
pub async fn bulk_delete(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require_any(READ)?;
    let q = body_to_query(&body);
    let mut filter = filter_from_query(&q, &member)?;
    let is_deletion = body
        .get("is_deletion")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    // Restoring works on deleted submissions.
    filter.show_deleted = !is_deletion;
    let select_all = body
        .get("select_all")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let ids = |k: &str| -> Vec<i64> {
        body.get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| {
                        v.as_i64()
                            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    if select_all {
        let unselected = ids("unselected_ids");
        let all = state
            .store
            .list_instances(member.account_id(), &filter, iaso_store::PageRequest::all())
            .await?;
        filter.ids = all
            .items
            .iter()
            .map(|i| i.id)
            .filter(|id| !unselected.contains(id))
            .collect();
        if filter.ids.is_empty() {
            return Ok((StatusCode::CREATED, Json(json!({"result": "success"}))));
        }
    } else {
        let selected = ids("selected_ids");
        if selected.is_empty() {
            return Err(ApiError::field(
                "selected_ids",
                "Select at least one submission.",
            ));
        }
        filter.ids = selected;
    }
    state
        .store
        .bulk_delete_instances(
            member.account_id(),
            &filter,
            is_deletion,
            member.principal.user.id,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"result": "success"}))))
}

const IMAGES: &[&str] = &["jpg", "jpeg", "png", "gif", "bmp", "tiff", "webp"];
const VIDEOS: &[&str] = &["mp4", "mov"];
const DOCS: &[&str] = &["pdf", "doc", "docx", "xls", "xlsx", "csv", "txt"];

fn mime_of(name: &str) -> Option<&'static str> {
    let ext = name.rsplit('.').next()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "tiff" => "image/tiff",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "txt" => "text/plain",
        "xml" => "text/xml",
        _ => return None,
    })
}

fn file_json(f: &InstanceFile, state: &AppState, base: &str) -> Value {
    json!({
        "id": f.id,
        "instance_id": f.instance_id,
        "file": state.blobs.url(base, &f.file),
        "created_at": epoch(f.created_at),
        "file_type": mime_of(&f.name),
        "name": f.name,
        "submitted_at": epoch(f.submitted_at),
        "org_unit": f.org_unit_id.map(|id| json!({"id": id, "name": Value::Null})),
        "question_name": Value::Null,
        "question_id": Value::Null,
        "form_name": f.form_name,
    })
}

/// Attachments of the matching submissions (`image_only`, `video_only`, `document_only`,
/// `other_only`).
#[utoipa::path(get, path = "/api/instances/attachments/", tag = "instances",
    params(("form_id" = Option<i64>, Query), ("image_only" = Option<bool>, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "`{results: [...]}` or paged")))]
pub async fn attachments(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let filter = filter_from_query(&q, &member)?;
    let (include, exclude) = file_kinds(&q)?;
    let paging = Paging::from_query(&q, None)?;
    let first = state
        .store
        .list_instance_files(
            member.account_id(),
            &filter,
            include.as_deref(),
            exclude.as_deref(),
            iaso_store::PageRequest::new(1, 1),
        )
        .await?;
    let paging = paging.resolve(first.count, OutOfRange::NotFound)?;
    let page = state
        .store
        .list_instance_files(
            member.account_id(),
            &filter,
            include.as_deref(),
            exclude.as_deref(),
            paging.request(),
        )
        .await?;
    let base = base_url(&headers, &state);
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|f| file_json(f, &state, &base))
        .collect();
    if paging.limit.is_none() {
        return Ok(Json(json!(items)));
    }
    Ok(Json(paging.envelope("results", items, page.count)))
}

type Kinds = (Option<Vec<&'static str>>, Option<Vec<&'static str>>);

fn file_kinds(q: &QueryParams) -> ApiResult<Kinds> {
    let mut include: Vec<&'static str> = Vec::new();
    if q.bool("image_only")?.unwrap_or(false) {
        include.extend(IMAGES);
    }
    if q.bool("video_only")?.unwrap_or(false) {
        include.extend(VIDEOS);
    }
    if q.bool("document_only")?.unwrap_or(false) {
        include.extend(DOCS);
    }
    if q.bool("other_only")?.unwrap_or(false) {
        if include.is_empty() {
            let all: Vec<&'static str> = IMAGES.iter().chain(VIDEOS).chain(DOCS).copied().collect();
            return Ok((None, Some(all)));
        }
        // "other" combined with a kind: everything except the kinds not asked for.
        return Ok((None, None));
    }
    Ok((
        if include.is_empty() {
            None
        } else {
            Some(include)
        },
        None,
    ))
}

/// Counts of attachments per kind.
#[utoipa::path(get, path = "/api/instances/attachments_count/", tag = "instances",
    responses((status = 200, description = "`{images, videos, docs, others, total}`")))]
pub async fn attachments_count(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let filter = filter_from_query(&q, &member)?;
    let one = iaso_store::PageRequest::new(1, 1);
    let acc = member.account_id();
    let store = &state.store;
    let all: Vec<&str> = IMAGES.iter().chain(VIDEOS).chain(DOCS).copied().collect();
    let images = store
        .list_instance_files(acc, &filter, Some(IMAGES), None, one)
        .await?
        .count;
    let videos = store
        .list_instance_files(acc, &filter, Some(VIDEOS), None, one)
        .await?
        .count;
    let docs = store
        .list_instance_files(acc, &filter, Some(DOCS), None, one)
        .await?
        .count;
    let others = store
        .list_instance_files(acc, &filter, None, Some(&all), one)
        .await?
        .count;
    Ok(Json(json!({
        "images": images, "videos": videos, "docs": docs, "others": others,
        "total": images + videos + docs + others,
    })))
}

/// A stored file, through its signed URL.
pub async fn download(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryParams,
) -> Response {
    let sig = q.get("s").unwrap_or("");
    if !state.blobs.verify(&key, sig) {
        return ApiError::NotFound.into_response();
    }
    match state.blobs.open(&key).await {
        Ok(Some((file, len))) => {
            let name = key.rsplit('/').next().unwrap_or("file").to_string();
            let ct = if name.ends_with(".xml") {
                "text/xml; charset=utf-8"
            } else if name.ends_with(".xlsx") {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            } else {
                mime_of(&name).unwrap_or("application/octet-stream")
            };
            let stream = async_stream::stream! {
                use tokio::io::AsyncReadExt;
                let mut file = file;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match file.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => yield Ok::<Bytes, std::io::Error>(Bytes::copy_from_slice(&buf[..n])),
                        Err(e) => { yield Err(e); break; }
                    }
                }
            };
            (
                [
                    (header::CONTENT_TYPE, ct.to_string()),
                    (header::CONTENT_LENGTH, len.to_string()),
                    (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
                ],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Ok(None) => ApiError::NotFound.into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}
