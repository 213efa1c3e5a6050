//! `/api/instances/`: reviewing submissions (list with Iaso's filters, map mode, detail,
//! PATCH, soft delete and restore in bulk, locks, attachments, CSV/XLSX exports).
//!
//! Reading needs one of `iaso_forms`, `iaso_submissions`, `iaso_registry_read/write`. Users
//! restricted to org-unit sub-trees see only the submissions inside them (no superuser bypass,
//! as in Iaso), and cannot change a submission locked at a level above theirs.

use super::forms::base_url;
use super::geo_common::{as_dict, as_dict_with_parents, detail_context};
use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::{epoch, epoch_opt};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use iaso_domain::Permission;
use iaso_store::audit::sources as audit_sources;
use iaso_store::instances::{Instance, InstanceChanges, InstanceFile, InstanceFilter, Viewer};
use iaso_store::org_units::OrgUnit;
use iaso_store::StoreError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

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

/// What the caller sees of submissions: the profile's org-unit sub-trees and projects.
pub(crate) async fn viewer(state: &AppState, member: &Member) -> ApiResult<Viewer> {
    let m = member.membership();
    let projects: Vec<i64> = m.project_ids.iter().map(|p| p.get()).collect();
    Ok(state
        .store
        .instance_viewer(
            member.account_id(),
            &m.org_unit_ids,
            member.principal.user.is_superuser,
            &projects,
        )
        .await?)
}

/// `min_lon,min_lat,max_lon,max_lat`.
fn bbox(q: &QueryParams) -> ApiResult<Option<[f64; 4]>> {
    let Some(b) = q.get("bbox") else {
        return Ok(None);
    };
    let parts: Vec<f64> = b
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .filter(|x: &f64| x.is_finite())
        .collect();
    match parts.as_slice() {
        [a, b, c, d] if a <= c && b <= d => Ok(Some([*a, *b, *c, *d])),
        _ => Err(ApiError::field(
            "bbox",
            "Expected min_lon,min_lat,max_lon,max_lat.",
        )),
    }
}

/// Iaso's submission filters from a query (or a bulk body converted to one).
pub(crate) fn filter_from_query(q: &QueryParams, viewer: Viewer) -> ApiResult<InstanceFilter> {
    let mut form_ids = q.ids("form_ids")?;
    if let Some(f) = q.i64("form_id")? {
        form_ids.push(f);
    }
    let mut periods = q.list("period_ids");
    if periods.is_empty() {
        periods = q.list("periods");
    }
    if periods.is_empty() {
        periods = q.list("period");
    }
    let mut ids = Vec::new();
    let mut org_unit_refs = Vec::new();
    let mut search = q
        .get("search")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from);
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
    } else if let Some(s) = search.as_deref().and_then(|s| s.strip_prefix("refs:")) {
        org_unit_refs = s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect();
        search = None;
    }
    let org_unit_status = match q.get("org_unit_status") {
        None | Some("") => None,
        Some(st) if ["NEW", "VALID", "REJECTED"].contains(&st) => Some(st.to_string()),
        Some(st) => {
            return Err(ApiError::field(
                "org_unit_status",
                format!("Unknown status {st:?}."),
            ))
        }
    };
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
        viewer,
        form_ids,
        project_ids: q.ids("project_ids")?,
        org_unit_ids: q.ids("orgUnitId")?,
        org_unit_parent_ids: q.ids("orgUnitParentId")?,
        org_unit_type_ids: q.ids("orgUnitTypeId")?,
        org_unit_status,
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
        bbox: bbox(q)?,
        ids,
        org_unit_refs,
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

/// Iaso's `Instance.as_dict()` plus the lock flags of the list; `org_unit` is the
/// submission's unit (loaded by the caller, in one query per page).
pub(crate) fn instance_json(
    i: &Instance,
    org_unit: Option<&OrgUnit>,
    state: &AppState,
    base: &str,
) -> Value {
    json!({
        "uuid": i.uuid,
        "export_id": i.export_id,
        "file_name": i.file_name,
        "file_content": i.json.clone().unwrap_or_else(|| json!({})),
        "file_url": i.file.as_ref().map(|k| crate::files::url(state, base, k)),
        "id": i.id,
        "form_id": i.form_id,
        "form_name": i.form_name,
        "created_at": epoch(i.created_at),
        "updated_at": epoch(i.updated_at),
        "source_created_at": epoch_opt(i.source_created_at),
        "source_updated_at": epoch_opt(i.source_updated_at),
        "org_unit": org_unit.map(as_dict),
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
        "can_user_modify": i.can_user_modify,
        "is_locked": i.is_locked,
        "is_instance_of_reference_form": false,
        "is_reference_instance": false,
    })
}

/// The org units of a page of submissions, by id.
async fn org_units_of(state: &AppState, items: &[Instance]) -> ApiResult<HashMap<i64, OrgUnit>> {
    let mut ids: Vec<i64> = items.iter().filter_map(|i| i.org_unit_id).collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(state
        .store
        .org_units_by_ids(&ids)
        .await?
        .into_iter()
        .map(|u| (u.id.get(), u))
        .collect())
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

/// Submissions (JSON, paged with `limit`; `csv`/`xlsx` for a file export of one form;
/// `asLocation=true` for the map mode of `/api/instances/map/`).
#[utoipa::path(get, path = "/api/instances/", tag = "instances",
    params(("form_id" = Option<i64>, Query), ("form_ids" = Option<String>, Query), ("limit" = Option<i64>, Query),
           ("page" = Option<i64>, Query), ("order" = Option<String>, Query), ("csv" = Option<String>, Query),
           ("xlsx" = Option<String>, Query), ("showDeleted" = Option<bool>, Query), ("jsonContent" = Option<String>, Query),
           ("orgUnitId" = Option<String>, Query), ("orgUnitParentId" = Option<String>, Query, description = "The unit and its descendants"),
           ("orgUnitTypeId" = Option<String>, Query), ("org_unit_status" = Option<String>, Query),
           ("search" = Option<String>, Query, description = "Org unit name or alias, `ids:1,2` or `refs:a,b`"),
           ("asLocation" = Option<bool>, Query, description = "Map mode (extension)"),
           ("bbox" = Option<String>, Query, description = "min_lon,min_lat,max_lon,max_lat (extension)")),
    responses((status = 200, description = "`{instances: [...]}`, paged, or a file")))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    q: QueryParams,
) -> ApiResult<Response> {
    member.require_any(READ)?;
    let filter = filter_from_query(&q, viewer(&state, &member).await?)?;
    if q.bool("asLocation")?.unwrap_or(false) {
        return locations(&state, &member, &q, filter).await;
    }
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
    let units = org_units_of(&state, &page.items).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for i in &page.items {
        let ou = i.org_unit_id.and_then(|id| units.get(&id));
        let mut v = instance_json(i, ou, &state, &base);
        if with_descriptor {
            v["form_descriptor"] = descriptor_of(&state, &member, i).await;
        }
        items.push(v);
    }
    Ok(Json(paging.envelope("instances", items, page.count)).into_response())
}

/// Default and largest number of points of the map mode.
const MAP_LIMIT: i64 = 3_000;
const MAP_MAX: i64 = 50_000;

async fn locations(
    state: &AppState,
    member: &Member,
    q: &QueryParams,
    mut filter: InstanceFilter,
) -> ApiResult<Response> {
    let limit = q.i64("limit")?.unwrap_or(MAP_LIMIT).clamp(1, MAP_MAX);
    filter.with_location = Some(true);
    let points = state
        .store
        .instance_locations(member.account_id(), &filter, limit)
        .await?;
    let items: Vec<Value> = points
        .iter()
        .map(|p| json!({"id": p.id, "latitude": p.latitude, "longitude": p.longitude}))
        .collect();
    Ok(Json(Value::Array(items)).into_response())
}

/// Map mode: `[{id, latitude, longitude}]` of the located submissions matching the filters,
/// newest first, at most `limit` (default 3000); `bbox` (extension) keeps those inside a box.
#[utoipa::path(get, path = "/api/instances/map/", tag = "instances",
    params(("form_ids" = Option<String>, Query), ("limit" = Option<i64>, Query),
           ("bbox" = Option<String>, Query, description = "min_lon,min_lat,max_lon,max_lat (extension)")),
    responses((status = 200, description = "`[{id, latitude, longitude}]`")))]
pub async fn map(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Response> {
    member.require_any(READ)?;
    let filter = filter_from_query(&q, viewer(&state, &member).await?)?;
    locations(&state, &member, &q, filter).await
}

fn user_short(id: i64, username: &str, first: &str, last: &str) -> Value {
    json!({
        "id": id,
        "first_name": first,
        "last_name": last,
        "username": username,
        "full_name": format!("{first} {last}").trim(),
    })
}

async fn detail_json(
    state: &AppState,
    member: &Member,
    headers: &HeaderMap,
    i: &Instance,
) -> ApiResult<Value> {
    let base = base_url(headers, state);
    let unit = match i.org_unit_id {
        Some(id) => state
            .store
            .org_units_by_ids(&[id])
            .await?
            .into_iter()
            .next(),
        None => None,
    };
    let mut v = instance_json(i, unit.as_ref(), state, &base);
    if let Some(u) = &unit {
        let ancestors: HashMap<i64, OrgUnit> = state
            .store
            .org_unit_ancestors(u)
            .await?
            .into_iter()
            .map(|a| (a.id.get(), a))
            .collect();
        let mut all: Vec<&OrgUnit> = ancestors.values().collect();
        all.push(u);
        let ctx = detail_context(state, member, &all).await?;
        v["org_unit"] = as_dict_with_parents(u, &ancestors, &ctx, false, false);
    }
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
        .map(|f| crate::files::url(state, &base, &f.file))
        .collect::<Vec<_>>());
    v["last_export_success_at"] = json!(epoch_opt(i.last_export_success_at));
    v["export_statuses"] = json!([]);
    v["deleted"] = json!(i.deleted);
    v["change_requests"] = json!([]);
    v["entity"] = Value::Null;
    v["instance_locks"] = json!(locks
        .iter()
        .map(|l| json!({
            "id": l.id,
            "top_org_unit": {"id": l.top_org_unit_id, "name": l.top_org_unit_name},
            "locked_by": user_short(l.locked_by_id, &l.locked_by_username, &l.locked_by_first_name, &l.locked_by_last_name),
            "locked_at": l.locked_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "unlocked_by": l.unlocked_by_id.map(|id| user_short(
                id,
                l.unlocked_by_username.as_deref().unwrap_or(""),
                l.unlocked_by_first_name.as_deref().unwrap_or(""),
                l.unlocked_by_last_name.as_deref().unwrap_or(""),
            )),
        }))
        .collect::<Vec<_>>());
    Ok(v)
}

/// A submission the caller sees (404 otherwise).
async fn visible(state: &AppState, member: &Member, id: i64) -> ApiResult<(Instance, Viewer)> {
    let viewer = viewer(state, member).await?;
    let i = state
        .store
        .instance(member.account_id(), &viewer, id)
        .await?;
    Ok((i, viewer))
}

/// Iaso refuses any change to a submission locked above the caller's level.
fn check_modifiable(i: &Instance) -> ApiResult<()> {
    if i.can_user_modify {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "You do not have permission to perform this action.".into(),
        ))
    }
}

/// Whether an org unit is in the caller's georegistry scope (Iaso's
/// `OrgUnit.filter_for_user`: superusers see every unit of the account).
async fn org_unit_accessible(state: &AppState, member: &Member, id: i64) -> ApiResult<bool> {
    let scope = super::geo_common::scope(state, member).await?;
    Ok(state
        .store
        .org_unit_paths(&[id])
        .await?
        .into_iter()
        .any(|(_, version, path)| scope.covers(version, &path)))
}

/// One submission with its org unit (and ancestors), attachments, locks and descriptor.
#[utoipa::path(get, path = "/api/instances/{id}/", tag = "instances", params(("id" = i64, Path)),
    responses((status = 200, description = "Submission"), (status = 404, description = "Not visible")))]
pub async fn retrieve(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let (i, _) = visible(&state, &member, id).await?;
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

/// Change a submission's org unit, period or deleted flag; audited. Refused (403) while a
/// lock above the caller's level applies, and (400) when the submission's current unit is not
/// one the caller may see. A new unit must have a type of the form and be visible.
#[utoipa::path(patch, path = "/api/instances/{id}/", tag = "instances", params(("id" = i64, Path)), request_body = InstancePatch,
    responses((status = 200, description = "Updated"), (status = 403, description = "Locked above the caller")))]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<InstancePatch>,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let (current, viewer) = visible(&state, &member, id).await?;
    check_modifiable(&current)?;
    let allowed = match current.org_unit_id {
        Some(ou) => org_unit_accessible(&state, &member, ou).await?,
        None => false,
    };
    if !allowed {
        return Err(ApiError::field(
            "error",
            "You don't have the permission to modify this instance.",
        ));
    }
    let form = match current.form_id {
        Some(f) => Some(state.store.form(member.account_id(), f).await?),
        None => None,
    };
    if let Some(Some(new_ou)) = body.org_unit {
        if Some(new_ou) != current.org_unit_id {
            let unit = state
                .store
                .org_units_by_ids(&[new_ou])
                .await?
                .into_iter()
                .next();
            let type_ok = unit
                .as_ref()
                .and_then(|u| u.org_unit_type_id())
                .is_some_and(|t| {
                    form.as_ref()
                        .is_some_and(|f| f.org_unit_type_ids.contains(&t.get()))
                });
            if !type_ok || !org_unit_accessible(&state, &member, new_ou).await? {
                return Err(ApiError::field(
                    "org_unit",
                    "Org unit type not assigned to this form or not accessible to this user",
                ));
            }
        }
    }
    let org_unit = match body.org_unit {
        Some(None) => {
            return Err(ApiError::field("org_unit", "This field may not be null."));
        }
        other => other,
    };
    let period = match body.period {
        Some(p) if p.trim().is_empty() => Some(None),
        Some(p) => {
            let expected = form.as_ref().and_then(|f| f.period_type.clone());
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
    let changes = InstanceChanges {
        org_unit_id: org_unit,
        period,
        deleted: body.deleted,
    };
    apply_changes(&state, &member, &headers, &viewer, id, &changes).await
}

/// Writes `changes` to a submission the caller sees (audited as `instance_api`) and answers
/// its detail: the common end of PATCH and DELETE.
async fn apply_changes(
    state: &AppState,
    member: &Member,
    headers: &HeaderMap,
    viewer: &Viewer,
    id: i64,
    changes: &InstanceChanges,
) -> ApiResult<Json<Value>> {
    let i = state
        .store
        .update_instance(
            member.account_id(),
            viewer,
            id,
            changes,
            member.principal.user.id,
            audit_sources::INSTANCE_API,
        )
        .await?;
    Ok(Json(detail_json(state, member, headers, &i).await?))
}

/// Soft-delete a submission (restore with PATCH `deleted: false` or bulkdelete).
#[utoipa::path(delete, path = "/api/instances/{id}/", tag = "instances", params(("id" = i64, Path)),
    responses((status = 200, description = "The deleted submission"), (status = 403, description = "Locked above the caller")))]
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let (current, viewer) = visible(&state, &member, id).await?;
    check_modifiable(&current)?;
    let changes = InstanceChanges {
        deleted: Some(true),
        ..Default::default()
    };
    apply_changes(&state, &member, &headers, &viewer, id, &changes).await
}

/// Lock a submission at the caller's highest org unit containing it (or at the root of its
/// tree for an unrestricted caller): users below that level can no longer change it.
#[utoipa::path(post, path = "/api/instances/{id}/add_lock/", tag = "instances", params(("id" = i64, Path)),
    responses((status = 200, description = "`{status: \"lock added\", lock_id}`"), (status = 403, description = "Locked above the caller")))]
pub async fn add_lock(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let (current, viewer) = visible(&state, &member, id).await?;
    check_modifiable(&current)?;
    let lock = state
        .store
        .lock_instance(member.account_id(), &viewer, id, member.principal.user.id)
        .await?;
    Ok(Json(json!({"status": "lock added", "lock_id": lock})))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UnlockBody {
    #[serde(deserialize_with = "lock_id")]
    lock: i64,
}

fn lock_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| serde::de::Error::custom("Incorrect type. Expected pk value.")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("Incorrect type. Expected pk value.")),
        _ => Err(serde::de::Error::custom(
            "Incorrect type. Expected pk value.",
        )),
    }
}

/// Unlock a lock (`{"lock": id}`) of a submission the caller may change.
#[utoipa::path(post, path = "/api/instances/unlock_lock/", tag = "instances", request_body = UnlockBody,
    responses((status = 200, description = "`{status: \"lock removed\", lock_id}`"), (status = 400, description = "Unknown or already unlocked lock")))]
pub async fn unlock_lock(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<UnlockBody>,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let viewer = viewer(&state, &member).await?;
    let id = state
        .store
        .unlock_instance(
            member.account_id(),
            &viewer,
            body.lock,
            member.principal.user.id,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ApiError::Forbidden("You do not have permission to perform this action.".into())
            }
            other => other.into(),
        })?;
    Ok(Json(json!({"status": "lock removed", "lock_id": id})))
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
    let mut filter = filter_from_query(&q, viewer(&state, &member).await?)?;
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
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ApiError::Forbidden("You do not have permission to perform this action.".into())
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(json!({"result": "success"}))))
}

const IMAGES: &[&str] = &["jpg", "jpeg", "png", "gif", "bmp", "tiff", "webp"];
const VIDEOS: &[&str] = &["mp4", "mov"];
const DOCS: &[&str] = &["pdf", "doc", "docx", "xls", "xlsx", "csv", "txt"];

fn file_json(f: &InstanceFile, state: &AppState, base: &str) -> Value {
    json!({
        "id": f.id,
        "instance_id": f.instance_id,
        "file": crate::files::url(state, base, &f.file),
        "created_at": epoch(f.created_at),
        "file_type": crate::files::mime_of(&f.name).map(|m| m.split(';').next().unwrap_or(m)),
        "name": f.name,
        "submitted_at": epoch(f.submitted_at),
        "org_unit": f.org_unit_id.map(|id| json!({"id": id, "name": f.org_unit_name})),
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
    let filter = filter_from_query(&q, viewer(&state, &member).await?)?;
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
    let filter = filter_from_query(&q, viewer(&state, &member).await?)?;
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
