//! `/api/logs/`: the audit log (Iaso's `Modification`), paged by default (50). Except for
//! superusers, a list must name one object (`contentType` + `objectId`) that the caller can
//! see — an org unit's history is `?contentType=iaso.orgunit&objectId=<id>`.

use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::paging::pages;
use crate::routes::datasources::iso;
use crate::routes::geo_common;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use iaso_domain::{GroupId, GroupSetId, OrgUnitId, Permission, ProfileId, UserId};
use iaso_store::audit::{field_diffs, LogFilter, Modification};
use iaso_store::PageRequest;
use serde_json::{json, Value};
use std::collections::HashMap;

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "Unauthorized"})),
    )
        .into_response()
}

/// Whether the caller may see the object a log is about.
async fn can_see(
    state: &AppState,
    member: &Member,
    content_type: &str,
    object_id: &str,
) -> ApiResult<bool> {
    let Ok(id) = object_id.parse::<i64>() else {
        return Ok(false);
    };
    let scope = geo_common::scope(state, member).await?;
    let found = match content_type {
        "iaso.orgunit" => state
            .store
            .org_unit(&scope, OrgUnitId(id))
            .await
            .map(|_| ()),
        "iaso.group" => state.store.group(&scope, GroupId(id)).await.map(|_| ()),
        "iaso.groupset" => state
            .store
            .group_set(&scope, GroupSetId(id))
            .await
            .map(|_| ()),
        // A submission's history: whoever may read it (its org unit inside the caller's
        // sub-trees, its project among the caller's).
        "iaso.instance"
            if [
                Permission::Forms,
                Permission::Submissions,
                Permission::RegistryRead,
                Permission::RegistryWrite,
            ]
            .iter()
            .any(|p| member.has(*p)) =>
        {
            let viewer = super::instances::viewer(state, member).await?;
            state
                .store
                .instance(member.account_id(), &viewer, id)
                .await
                .map(|_| ())
        }
        "iaso.profile" if member.has(Permission::Users) => state
            .store
            .profile(member.account_id(), ProfileId(id))
            .await
            .map(|_| ()),
        _ => return Ok(false),
    };
    match found {
        Ok(()) => Ok(true),
        Err(iaso_store::StoreError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn author_json(m: &Modification) -> Value {
    m.user.as_ref().map_or(Value::Null, |u| {
        json!({
            "id": u.profile_id,
            "first_name": u.first_name,
            "user_name": u.username,
            "last_name": u.last_name,
            "email": u.email,
            "language": u.language,
            "user_id": u.user_id,
            "phone_number": if u.phone_number.is_empty() { Value::Null } else { json!(u.phone_number) },
            "country_code": Value::Null,
            "editable_org_unit_type_ids": [],
            "user_roles_editable_org_unit_type_ids": [],
            "color": u.color,
        })
    })
}

fn app_label(content_type: &str) -> &str {
    content_type.split('.').next().unwrap_or(content_type)
}

fn list_item(m: &Modification, fields: &[String]) -> Value {
    let mut v = json!({
        "id": m.id,
        "content_type": app_label(&m.content_type),
        "object_id": m.object_id,
        "source": m.source,
        "user": author_json(m),
        "created_at": iso(m.created_at),
        "org_unit_change_request_id": m.org_unit_change_request_id,
    });
    if fields.iter().any(|f| f == "past_value") {
        v["past_value"] = m.past_value.clone();
    }
    if fields.iter().any(|f| f == "new_value") {
        v["new_value"] = m.new_value.clone();
    }
    if fields.iter().any(|f| f == "field_diffs") {
        v["field_diffs"] = field_diffs(&m.past_value, &m.new_value);
    }
    v
}

fn parse_time(s: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let t = if end_of_day {
        d.and_hms_micro_opt(23, 59, 59, 999_999)?
    } else {
        d.and_hms_opt(0, 0, 0)?
    };
    Some(t.and_utc())
}

/// Modifications of one object (or all, for superusers): `{count, list, has_next, ...}`.
#[utoipa::path(get, path = "/api/logs/", tag = "logs",
    params(("contentType" = Option<String>, Query, description = "e.g. iaso.orgunit"), ("objectId" = Option<String>, Query),
           ("userId" = Option<String>, Query), ("source" = Option<String>, Query), ("date_from" = Option<String>, Query),
           ("date_to" = Option<String>, Query), ("order" = Option<String>, Query, description = "default -created_at"),
           ("fields" = Option<String>, Query, description = "past_value,new_value,field_diffs"),
           ("limit" = Option<i64>, Query, description = "default 50"), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "Paged `list`"), (status = 400, description = "objectId and contentType missing"),
              (status = 401, description = "The object is not visible")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Response> {
    let content_type = q.get("contentType").map(String::from);
    let object_id = q.get("objectId").map(String::from);
    if !member.principal.user.is_superuser {
        let (Some(ct), Some(oid)) = (&content_type, &object_id) else {
            return Ok((
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "objectId and contentType parameters are required. contentType Can be one of iaso.orgunit, iaso.form, iaso.instance"})),
            )
                .into_response());
        };
        if !can_see(&state, &member, ct, oid).await? {
            return Ok(unauthorized());
        }
    }
    let date = |name: &str, end: bool| -> ApiResult<Option<DateTime<Utc>>> {
        match q.get(name) {
            None => Ok(None),
            Some(s) => parse_time(s, end)
                .map(Some)
                .ok_or_else(|| ApiError::field(name, "Expected a date (YYYY-MM-DD) or a time.")),
        }
    };
    let filter = LogFilter {
        content_type,
        object_id,
        user_ids: q.ids("userId")?.into_iter().map(UserId).collect(),
        source: q.get("source").map(String::from),
        date_from: date("date_from", false)?,
        date_to: date("date_to", true)?,
        order: q.list("order"),
    };
    let limit = q.i64("limit")?.unwrap_or(50).clamp(1, 10_000);
    let fields = q.list("fields");
    let count_page = state
        .store
        .list_modifications(member.account_id(), &filter, PageRequest::new(limit, 1))
        .await?;
    let count = count_page.count;
    let n_pages = pages(count, limit);
    let page = q.i64("page")?.unwrap_or(1).clamp(1, n_pages);
    let items = if page == 1 {
        count_page.items
    } else {
        state
            .store
            .list_modifications(member.account_id(), &filter, PageRequest::new(limit, page))
            .await?
            .items
    };
    Ok(Json(json!({
        "count": count,
        "list": items.iter().map(|m| list_item(m, &fields)).collect::<Vec<_>>(),
        "has_next": page < n_pages,
        "has_previous": page > 1,
        "page": page,
        "pages": n_pages,
        "limit": limit,
    }))
    .into_response())
}

/// For org units, `org_unit_type` ids become `{id, name}` as Iaso shows them.
async fn expand_values(
    state: &AppState,
    member: &Member,
    m: &Modification,
    v: &Value,
) -> ApiResult<Value> {
    if m.content_type != "iaso.orgunit" {
        return Ok(v.clone());
    }
    let types: HashMap<i64, String> = state
        .store
        .list_org_unit_types(member.account_id())
        .await?
        .into_iter()
        .map(|t| (t.id.get(), t.name))
        .collect();
    let mut v = v.clone();
    if let Some(items) = v.as_array_mut() {
        for item in items {
            if let Some(t) = item.pointer_mut("/fields/org_unit_type") {
                if let Some(id) = t.as_i64() {
                    let name = types.get(&id).cloned().unwrap_or_else(|| "--".into());
                    *t = json!({"id": id, "name": name});
                }
            }
        }
    }
    Ok(v)
}

/// One modification with its before and after values.
#[utoipa::path(get, path = "/api/logs/{id}/", tag = "logs", params(("id" = i64, Path)),
    responses((status = 200, description = "Modification"), (status = 401, description = "The object is not visible"),
              (status = 404, description = "Not in this account")))]
pub async fn retrieve(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let m = state.store.modification(member.account_id(), id).await?;
    if !member.principal.user.is_superuser
        && !can_see(&state, &member, &m.content_type, &m.object_id).await?
    {
        return Ok(unauthorized());
    }
    let past = expand_values(&state, &member, &m, &m.past_value).await?;
    let new = expand_values(&state, &member, &m, &m.new_value).await?;
    Ok(Json(json!({
        "id": m.id,
        "content_type": app_label(&m.content_type),
        "object_id": m.object_id,
        "past_value": past,
        "new_value": new,
        "source": m.source,
        "user": author_json(&m),
        "created_at": iso(m.created_at),
        "org_unit_change_request_id": m.org_unit_change_request_id,
    }))
    .into_response())
}
