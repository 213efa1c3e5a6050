//! `/api/groups/` and `/api/group_sets/`: groups of org units and sets of groups, scoped to
//! the account's versions. Reading: `iaso_org_units`, `iaso_org_units_read` (groups also
//! `iaso_completeness_stats`); writing: `iaso_org_units` or `iaso_org_unit_groups`.

use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::routes::geo_common::{self, editable_types, keep_fields, select_fields};
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use iaso_domain::validation::required_text;
use iaso_domain::{FieldErrors, GroupId, GroupSetId, OrgUnitId, Permission, SourceVersionId};
use iaso_store::groups::{
    Group, GroupChanges, GroupFilter, GroupSet, GroupSetChanges, GroupSetFilter, VersionRef,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

const GROUP_READ: &[Permission] = &[
    Permission::OrgUnits,
    Permission::OrgUnitsRead,
    Permission::CompletenessStats,
];
const SET_READ: &[Permission] = &[Permission::OrgUnits, Permission::OrgUnitsRead];
const WRITE: &[Permission] = &[Permission::OrgUnits, Permission::OrgUnitGroups];

fn version_json(v: &VersionRef) -> Value {
    json!({"id": v.id, "number": v.number, "data_source": {"id": v.data_source_id, "name": v.data_source_name}})
}

const SET_FIELDS: &[&str] = &[
    "id",
    "name",
    "group_belonging",
    "source_version",
    "source_ref",
    "groups",
    "group_ids",
    "created_at",
    "updated_at",
];
const SET_DEFAULT_FIELDS: &[&str] = &[
    "id",
    "name",
    "group_belonging",
    "source_version",
    "source_ref",
    "group_ids",
    "created_at",
    "updated_at",
];

fn set_json(s: &GroupSet, fields: &Option<Vec<String>>) -> Value {
    keep_fields(
        json!({
            "id": s.id,
            "name": s.name,
            "group_belonging": s.group_belonging,
            "source_version": version_json(&s.version),
            "source_ref": s.source_ref,
            "groups": s.groups.iter().map(|g| json!({
                "id": g.id, "name": g.name, "created_at": epoch(g.created_at), "updated_at": epoch(g.updated_at),
                "source_version": version_json(&g.version),
            })).collect::<Vec<_>>(),
            "group_ids": s.groups.iter().map(|g| g.id).collect::<Vec<_>>(),
            "created_at": epoch(s.created_at),
            "updated_at": epoch(s.updated_at),
        }),
        fields,
    )
}

fn group_json(
    g: &Group,
    members: &HashMap<i64, Vec<i64>>,
    sets: &HashMap<i64, Vec<Value>>,
    light: bool,
) -> Value {
    let mut v = json!({
        "id": g.id,
        "name": g.name,
        "source_ref": g.source_ref,
        "source_version": version_json(&g.version),
        "group_sets": sets.get(&g.id.get()).cloned().unwrap_or_default(),
        "org_units": members.get(&g.id.get()).cloned().unwrap_or_default(),
        "created_at": epoch(g.created_at),
        "updated_at": epoch(g.updated_at),
        "block_of_countries": g.block_of_countries,
    });
    if !light {
        v["org_unit_count"] = json!(g.org_unit_count);
    }
    v
}

/// Members and sets of the groups, for their answers (two queries).
async fn decorate(
    state: &AppState,
    scope: &iaso_store::org_units::OrgUnitScope,
    groups: &[Group],
) -> ApiResult<(HashMap<i64, Vec<i64>>, HashMap<i64, Vec<Value>>)> {
    let ids: Vec<i64> = groups.iter().map(|g| g.id.get()).collect();
    let mut members: HashMap<i64, Vec<i64>> = HashMap::new();
    for (g, u) in state.store.groups_member_ids(&ids).await? {
        members.entry(g).or_default().push(u);
    }
    let mut sets: HashMap<i64, Vec<Value>> = HashMap::new();
    let all_sets = state
        .store
        .list_group_sets(scope, &GroupSetFilter::default())
        .await?;
    let fields = Some(SET_DEFAULT_FIELDS.iter().map(|s| s.to_string()).collect());
    for s in &all_sets {
        for g in &s.groups {
            if ids.contains(&g.id) {
                sets.entry(g.id).or_default().push(set_json(s, &fields));
            }
        }
    }
    Ok((members, sets))
}

fn group_filter(q: &QueryParams, member: &Member) -> ApiResult<GroupFilter> {
    let mut f = GroupFilter {
        block_of_countries: q.get("blockOfCountries") == Some("true"),
        search: q.get("search").map(String::from),
        order: q.list("order"),
        ..Default::default()
    };
    if let Some(v) = q.i64("version")? {
        f.versions = vec![v];
    } else if q.get("versionIds").is_some() {
        f.versions = q.ids("versionIds")?;
    } else if let Some(d) = q.i64("dataSource")? {
        f.data_sources = vec![d];
    } else if q.get("dataSourceIds").is_some() {
        f.data_sources = q.ids("dataSourceIds")?;
    } else {
        if q.get("defaultVersion") == Some("true") {
            f.versions = vec![member
                .membership()
                .account
                .default_version_id
                .map_or(-1, |v| v.get())];
        }
        f.project_ids = q.ids("projectIds")?;
    }
    Ok(f)
}

/// Groups of the account's versions (`groups`); filters `version`, `dataSource`,
/// `defaultVersion`, `projectIds`, `search`, `blockOfCountries`, `order`.
#[utoipa::path(get, path = "/api/groups/", tag = "groups",
    params(("version" = Option<i64>, Query), ("dataSource" = Option<i64>, Query), ("defaultVersion" = Option<bool>, Query),
           ("search" = Option<String>, Query), ("light" = Option<bool>, Query), ("order" = Option<String>, Query),
           ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "`{groups: [...]}` or paged")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require_any(GROUP_READ)?;
    let scope = geo_common::scope(&state, &member).await?;
    let groups = state
        .store
        .list_groups(&scope, &group_filter(&q, &member)?)
        .await?;
    let light = q.get("light").is_some();
    // Page first, then decorate only the page.
    let paging = Paging::from_query(&q, None)?;
    let count = groups.len() as i64;
    let paging = paging.resolve(count, OutOfRange::NotFound)?;
    let req = paging.request();
    let page: Vec<Group> = groups
        .into_iter()
        .skip(usize::try_from(req.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(req.limit).unwrap_or(usize::MAX))
        .collect();
    let (members, sets) = decorate(&state, &scope, &page).await?;
    let items = page
        .iter()
        .map(|g| group_json(g, &members, &sets, light))
        .collect();
    Ok(Json(paging.envelope("groups", items, count)))
}

/// Groups for dropdowns: `[{id, name, label}]`.
#[utoipa::path(get, path = "/api/groups/dropdown/", tag = "groups",
    responses((status = 200, description = "A list")))]
pub async fn dropdown(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let scope = geo_common::scope(&state, &member).await?;
    let groups = state
        .store
        .list_groups(&scope, &group_filter(&q, &member)?)
        .await?;
    let items: Vec<Value> = groups
        .iter()
        .map(|g| {
            json!({"id": g.id, "name": g.name,
                   "label": format!("{} ({} - {})", g.name, g.version.data_source_name, g.version.number)})
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

#[utoipa::path(get, path = "/api/groups/{id}/", tag = "groups", params(("id" = i64, Path)),
    responses((status = 200, description = "Group"), (status = 404, description = "Not visible")))]
pub async fn retrieve(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(GROUP_READ)?;
    let scope = geo_common::scope(&state, &member).await?;
    let g = state.store.group(&scope, GroupId(id)).await?;
    let (members, sets) = decorate(&state, &scope, std::slice::from_ref(&g)).await?;
    Ok(Json(group_json(&g, &members, &sets, false)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct GroupBody {
    name: Option<String>,
    source_ref: Option<Option<String>>,
    org_unit_ids: Option<Vec<i64>>,
    block_of_countries: Option<bool>,
}

fn group_changes(body: GroupBody, creating: bool) -> ApiResult<GroupChanges> {
    let mut errors = FieldErrors::new();
    let name = match (&body.name, creating) {
        (Some(n), _) => Some(required_text(&mut errors, "name", n, 255)),
        (None, true) => {
            errors.add("name", "This field is required.");
            None
        }
        (None, false) => None,
    };
    errors.into_result()?;
    Ok(GroupChanges {
        name,
        source_ref: body.source_ref,
        block_of_countries: body.block_of_countries,
        org_unit_ids: body
            .org_unit_ids
            .map(|l| l.into_iter().map(OrgUnitId).collect()),
    })
}

/// Create a group in the account's default version.
#[utoipa::path(post, path = "/api/groups/", tag = "groups", request_body = GroupBody,
    responses((status = 201, description = "Created"), (status = 400, description = "Field errors")))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<GroupBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require_any(WRITE)?;
    let changes = group_changes(body, true)?;
    let Some(version) = member.membership().account.default_version_id else {
        return Err(ApiError::BadRequest(
            "This account has no default version".into(),
        ));
    };
    let scope = geo_common::scope(&state, &member).await?;
    let g = state
        .store
        .create_group(
            &scope,
            editable_types(&member),
            version,
            &changes,
            Some(member.principal.user.id),
        )
        .await?;
    let (members, sets) = decorate(&state, &scope, std::slice::from_ref(&g)).await?;
    Ok((
        StatusCode::CREATED,
        Json(group_json(&g, &members, &sets, false)),
    ))
}

/// Change a group (name, ref, members).
#[utoipa::path(patch, path = "/api/groups/{id}/", tag = "groups", params(("id" = i64, Path)), request_body = GroupBody,
    responses((status = 200, description = "Updated"), (status = 404, description = "Not visible")))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<GroupBody>,
) -> ApiResult<Json<Value>> {
    let scope = geo_common::scope(&state, &member).await?;
    state.store.group(&scope, GroupId(id)).await?;
    member.require_any(WRITE)?;
    let changes = group_changes(body, false)?;
    let g = state
        .store
        .update_group(
            &scope,
            editable_types(&member),
            GroupId(id),
            &changes,
            Some(member.principal.user.id),
        )
        .await
        .map_err(read_only)?;
    let (members, sets) = decorate(&state, &scope, std::slice::from_ref(&g)).await?;
    Ok(Json(group_json(&g, &members, &sets, false)))
}

fn read_only(e: iaso_store::StoreError) -> ApiError {
    match e {
        iaso_store::StoreError::Conflict(m) => ApiError::Forbidden(m),
        other => other.into(),
    }
}

#[utoipa::path(delete, path = "/api/groups/{id}/", tag = "groups", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not visible")))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let scope = geo_common::scope(&state, &member).await?;
    state.store.group(&scope, GroupId(id)).await?;
    member.require_any(WRITE)?;
    state
        .store
        .delete_group(&scope, GroupId(id), Some(member.principal.user.id))
        .await
        .map_err(read_only)?;
    Ok(StatusCode::NO_CONTENT)
}

// ------------------------------------------------------------------------------ group sets

/// Group sets of the account's versions (`group_sets`), 10 per page unless `limit`.
#[utoipa::path(get, path = "/api/group_sets/", tag = "groups",
    params(("search" = Option<String>, Query), ("version" = Option<String>, Query), ("default_version" = Option<bool>, Query),
           ("project_ids" = Option<String>, Query), ("ordering" = Option<String>, Query), ("fields" = Option<String>, Query),
           ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "Paged `group_sets`")))]
pub async fn list_sets(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require_any(SET_READ)?;
    let fields = select_fields(&q, SET_FIELDS, SET_DEFAULT_FIELDS)?;
    let scope = geo_common::scope(&state, &member).await?;
    let mut versions: Vec<i64> = Vec::new();
    for v in q.all("version") {
        for x in v.split(',').filter(|x| !x.trim().is_empty()) {
            let id: i64 = x.trim().parse().map_err(|_| {
                ApiError::field("version", format!("\"{x}\" is not a valid value."))
            })?;
            if !scope.versions.contains(&id) {
                return Err(ApiError::field(
                    "version",
                    format!("Select a valid choice. {id} is not one of the available choices."),
                ));
            }
            versions.push(id);
        }
    }
    if q.get("default_version") == Some("true") {
        versions.push(
            member
                .membership()
                .account
                .default_version_id
                .map_or(-1, |v| v.get()),
        );
    }
    let filter = GroupSetFilter {
        versions,
        project_ids: q.ids("project_ids")?,
        search: q.get("search").map(String::from),
        order: q.list("ordering"),
    };
    let sets = state.store.list_group_sets(&scope, &filter).await?;
    let items: Vec<Value> = sets.iter().map(|s| set_json(s, &fields)).collect();
    let paging = Paging::from_query(&q, Some(10))?;
    let count = items.len() as i64;
    let paging = paging.resolve(count, OutOfRange::NotFound)?;
    let req = paging.request();
    let items: Vec<Value> = items
        .into_iter()
        .skip(usize::try_from(req.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(req.limit).unwrap_or(usize::MAX))
        .collect();
    Ok(Json(paging.envelope("group_sets", items, count)))
}

#[utoipa::path(get, path = "/api/group_sets/{id}/", tag = "groups", params(("id" = i64, Path)),
    responses((status = 200, description = "Group set"), (status = 404, description = "Not visible")))]
pub async fn retrieve_set(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require_any(SET_READ)?;
    let fields = select_fields(&q, SET_FIELDS, SET_DEFAULT_FIELDS)?;
    let scope = geo_common::scope(&state, &member).await?;
    let s = state.store.group_set(&scope, GroupSetId(id)).await?;
    Ok(Json(set_json(&s, &fields)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct GroupSetBody {
    name: Option<String>,
    source_ref: Option<Option<String>>,
    group_belonging: Option<String>,
    source_version_id: Option<i64>,
    group_ids: Option<Vec<i64>>,
}

fn set_changes(body: GroupSetBody, creating: bool) -> ApiResult<GroupSetChanges> {
    let mut errors = FieldErrors::new();
    let name = match (&body.name, creating) {
        (Some(n), _) => Some(required_text(&mut errors, "name", n, 255)),
        (None, true) => {
            errors.add("name", "This field is required.");
            None
        }
        (None, false) => None,
    };
    errors.into_result()?;
    Ok(GroupSetChanges {
        name,
        source_ref: body.source_ref,
        group_belonging: body.group_belonging,
        source_version_id: body.source_version_id.map(SourceVersionId),
        group_ids: body.group_ids.map(|g| g.into_iter().map(GroupId).collect()),
    })
}

#[utoipa::path(post, path = "/api/group_sets/", tag = "groups", request_body = GroupSetBody,
    responses((status = 201, description = "Created"), (status = 400, description = "Field errors")))]
pub async fn create_set(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<GroupSetBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require_any(WRITE)?;
    let changes = set_changes(body, true)?;
    let scope = geo_common::scope(&state, &member).await?;
    let s = state
        .store
        .create_group_set(&scope, &changes, Some(member.principal.user.id))
        .await?;
    Ok((StatusCode::CREATED, Json(set_json(&s, &None))))
}

async fn do_update_set(
    state: &AppState,
    member: &Member,
    id: i64,
    body: GroupSetBody,
) -> ApiResult<Json<Value>> {
    let scope = geo_common::scope(state, member).await?;
    state.store.group_set(&scope, GroupSetId(id)).await?;
    member.require_any(WRITE)?;
    let changes = set_changes(body, false)?;
    let s = state
        .store
        .update_group_set(
            &scope,
            GroupSetId(id),
            &changes,
            Some(member.principal.user.id),
        )
        .await
        .map_err(read_only)?;
    Ok(Json(set_json(&s, &None)))
}

#[utoipa::path(patch, path = "/api/group_sets/{id}/", tag = "groups", params(("id" = i64, Path)), request_body = GroupSetBody,
    responses((status = 200, description = "Updated"), (status = 404, description = "Not visible")))]
pub async fn update_set(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<GroupSetBody>,
) -> ApiResult<Json<Value>> {
    do_update_set(&state, &member, id, body).await
}

#[utoipa::path(put, path = "/api/group_sets/{id}/", tag = "groups", params(("id" = i64, Path)), request_body = GroupSetBody,
    responses((status = 200, description = "Updated")))]
pub async fn update_set_put(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<GroupSetBody>,
) -> ApiResult<Json<Value>> {
    do_update_set(&state, &member, id, body).await
}

#[utoipa::path(delete, path = "/api/group_sets/{id}/", tag = "groups", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not visible")))]
pub async fn delete_set(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let scope = geo_common::scope(&state, &member).await?;
    state.store.group_set(&scope, GroupSetId(id)).await?;
    member.require_any(WRITE)?;
    state
        .store
        .delete_group_set(&scope, GroupSetId(id), Some(member.principal.user.id))
        .await
        .map_err(read_only)?;
    Ok(StatusCode::NO_CONTENT)
}
