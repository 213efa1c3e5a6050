//! `/api/datasources/` and `/api/sourceversions/`: the containers of pyramids.
//!
//! Reading needs one of `iaso_mappings`, `iaso_org_units`, `iaso_org_units_read`, `iaso_links`,
//! `iaso_sources`; writing sources needs `iaso_write_sources` (and
//! `iaso_sources_can_change_default_version` to change a default version); writing versions
//! needs `iaso_write_sources` or `iaso_sources`.

use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use iaso_domain::validation::required_text;
use iaso_domain::{DataSourceId, FieldErrors, Permission, ProjectId, SourceVersionId};
use iaso_store::sources::{DataSource, SourceChanges, SourceFilter, SourceVersion};
use serde::Deserialize;
use serde_json::{json, Value};

const READ: &[Permission] = &[
    Permission::Mappings,
    Permission::OrgUnits,
    Permission::OrgUnitsRead,
    Permission::Links,
    Permission::Sources,
];

/// DRF's ISO 8601 rendering of a timestamp.
pub(crate) fn iso(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `SourceVersion.as_dict_without_data_source()`.
pub(crate) fn version_small_json(v: &SourceVersion) -> Value {
    json!({
        "number": v.number,
        "description": v.description,
        "id": v.id,
        "created_at": epoch(v.created_at),
        "updated_at": epoch(v.updated_at),
        "org_units_count": v.org_units_count,
    })
}

fn source_json(s: &DataSource) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "read_only": s.read_only,
        "credentials": Value::Null,
        "description": s.description,
        "created_at": iso(s.created_at),
        "updated_at": iso(s.updated_at),
        "default_version": s.default_version().map(version_small_json),
        "tree_config_status_fields": s.tree_config_status_fields,
        // Iaso answers a list wrapped in a one-element list here; clients expect it.
        "projects": [s.projects.iter().map(|p| json!({
            "id": p.id, "name": p.name, "app_id": p.app_id, "color": p.color, "description": p.description,
        })).collect::<Vec<_>>()],
        "versions": s.versions.iter().map(version_small_json).collect::<Vec<_>>(),
        "url": Value::Null,
    })
}

fn version_json(v: &SourceVersion) -> Value {
    json!({
        "id": v.id,
        "data_source": v.data_source_id,
        "number": v.number,
        "description": v.description,
        "created_at": iso(v.created_at),
        "updated_at": iso(v.updated_at),
        "data_source_name": v.data_source_name,
        "is_default": v.is_default,
        "org_units_count": v.org_units_count,
        "tree_config_status_fields": v.tree_config_status_fields,
    })
}

/// Pages a fully loaded list the DRF way (404 beyond the last page).
pub(crate) fn page_of(q: &QueryParams, key: &str, items: Vec<Value>) -> ApiResult<Value> {
    let paging = Paging::from_query(q, None)?;
    let count = items.len() as i64;
    let paging = paging.resolve(count, OutOfRange::NotFound)?;
    let req = paging.request();
    let items: Vec<Value> = items
        .into_iter()
        .skip(usize::try_from(req.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(req.limit).unwrap_or(usize::MAX))
        .collect();
    Ok(paging.envelope(key, items, count))
}

/// The account's data sources (`sources`), with their versions.
#[utoipa::path(get, path = "/api/datasources/", tag = "data sources",
    params(("order" = Option<String>, Query), ("name" = Option<String>, Query), ("project_ids" = Option<String>, Query),
           ("filter_empty_versions" = Option<bool>, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "`{sources: [...]}` or paged")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let filter = SourceFilter {
        name: q.get("name").map(String::from),
        project_ids: q.ids("project_ids")?.into_iter().map(ProjectId).collect(),
        filter_empty_versions: q.bool("filter_empty_versions")?.unwrap_or(false),
        order: q.list("order"),
    };
    let sources = state
        .store
        .list_sources(member.account_id(), &filter)
        .await?;
    Ok(Json(page_of(
        &q,
        "sources",
        sources.iter().map(source_json).collect(),
    )?))
}

/// One data source.
#[utoipa::path(get, path = "/api/datasources/{id}/", tag = "data sources", params(("id" = i64, Path)),
    responses((status = 200, description = "Data source"), (status = 404, description = "Not visible")))]
pub async fn retrieve(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(READ)?;
    let s = state
        .store
        .source(member.account_id(), DataSourceId(id))
        .await?;
    Ok(Json(source_json(&s)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SourceBody {
    name: Option<String>,
    description: Option<Option<String>>,
    read_only: Option<bool>,
    public: Option<bool>,
    project_ids: Option<Vec<i64>>,
    default_version_id: Option<Option<i64>>,
    tree_config_status_fields: Option<Vec<String>>,
    /// DHIS2 credentials are not supported yet (refused when filled).
    credentials: Option<Value>,
}

fn to_changes(body: SourceBody, creating: bool) -> ApiResult<SourceChanges> {
    let mut errors = FieldErrors::new();
    let name = match (&body.name, creating) {
        (Some(n), _) => Some(required_text(&mut errors, "name", n, 255)),
        (None, true) => {
            errors.add("name", "This field is required.");
            None
        }
        (None, false) => None,
    };
    if let Some(fields) = &body.tree_config_status_fields {
        for f in fields {
            if !iaso_store::org_units::VALIDATION_STATUSES.contains(&f.as_str()) {
                errors.add(
                    "tree_config_status_fields",
                    format!("\"{f}\" is not a valid choice."),
                );
            }
        }
    }
    if body
        .credentials
        .as_ref()
        .is_some_and(|c| !c.is_null() && c.as_object().is_none_or(|o| !o.is_empty()))
    {
        errors.add(
            "credentials",
            "DHIS2 credentials are not supported on this server yet.",
        );
    }
    errors.into_result()?;
    let mut fields = body.tree_config_status_fields;
    if let Some(f) = fields.as_mut() {
        f.sort();
        f.dedup();
    }
    Ok(SourceChanges {
        name,
        description: body.description,
        read_only: body.read_only,
        public: body.public,
        tree_config_status_fields: fields,
        default_version_id: body.default_version_id.map(|v| v.map(SourceVersionId)),
        project_ids: body
            .project_ids
            .map(|p| p.into_iter().map(ProjectId).collect()),
    })
}

/// Create a data source (`iaso_write_sources`), linked to projects of the account.
#[utoipa::path(post, path = "/api/datasources/", tag = "data sources", request_body = SourceBody,
    responses((status = 201, description = "Created"), (status = 400, description = "Field errors")))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<SourceBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::WriteSources)?;
    let mut changes = to_changes(body, true)?;
    // A new source has no version yet.
    changes.default_version_id = None;
    let s = state
        .store
        .create_source(member.account_id(), &changes)
        .await?;
    Ok((StatusCode::CREATED, Json(source_json(&s))))
}

/// Change a data source (`iaso_write_sources`). As in Iaso, a PUT without
/// `default_version_id` clears the default version.
#[utoipa::path(put, path = "/api/datasources/{id}/", tag = "data sources", params(("id" = i64, Path)), request_body = SourceBody,
    responses((status = 200, description = "Updated"), (status = 404, description = "Not visible")))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<SourceBody>,
) -> ApiResult<Json<Value>> {
    member.require(Permission::WriteSources)?;
    let account = member.account_id();
    let current = state.store.source(account, DataSourceId(id)).await?;
    let mut changes = to_changes(body, false)?;
    let wanted = changes.default_version_id.unwrap_or(None);
    if wanted != current.default_version_id
        && wanted.is_some()
        && !member.has(Permission::SourcesCanChangeDefaultVersion)
    {
        return Err(ApiError::BadRequest(
            "User doesn't have the permission to change the default version of a data source."
                .into(),
        ));
    }
    changes.default_version_id = Some(wanted);
    let s = state
        .store
        .update_source(account, DataSourceId(id), &changes)
        .await?;
    Ok(Json(source_json(&s)))
}

const VERSION_READ: &[Permission] = READ;
const VERSION_WRITE: &[Permission] = &[Permission::WriteSources, Permission::Sources];

/// Versions of the account's sources (`versions`), by id.
#[utoipa::path(get, path = "/api/sourceversions/", tag = "source versions",
    params(("source" = Option<i64>, Query, description = "A data source id"), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "`{versions: [...]}` or paged")))]
pub async fn list_versions(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require_any(VERSION_READ)?;
    let source = q.i64("source")?.or(q.i64("data_source")?).map(DataSourceId);
    let versions = state
        .store
        .list_versions(member.account_id(), source)
        .await?;
    Ok(Json(page_of(
        &q,
        "versions",
        versions.iter().map(version_json).collect(),
    )?))
}

#[utoipa::path(get, path = "/api/sourceversions/{id}/", tag = "source versions", params(("id" = i64, Path)),
    responses((status = 200, description = "Version"), (status = 404, description = "Not visible")))]
pub async fn retrieve_version(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require_any(VERSION_READ)?;
    let v = state
        .store
        .version(member.account_id(), SourceVersionId(id))
        .await?;
    Ok(Json(version_json(&v)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct VersionBody {
    data_source_id: Option<i64>,
    description: Option<Option<String>>,
}

/// Create the next version of a data source (number = last + 1).
#[utoipa::path(post, path = "/api/sourceversions/", tag = "source versions", request_body = VersionBody,
    responses((status = 200, description = "Created (Iaso answers 200)"), (status = 400, description = "Field errors")))]
pub async fn create_version(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<VersionBody>,
) -> ApiResult<Json<Value>> {
    member.require_any(VERSION_WRITE)?;
    let Some(source) = body.data_source_id else {
        return Err(ApiError::field("data_source_id", "This field is required."));
    };
    let v = state
        .store
        .create_version(
            member.account_id(),
            DataSourceId(source),
            None,
            body.description.flatten().as_deref(),
        )
        .await?;
    Ok(Json(version_json(&v)))
}

/// Change a version's description.
#[utoipa::path(put, path = "/api/sourceversions/{id}/", tag = "source versions", params(("id" = i64, Path)), request_body = VersionBody,
    responses((status = 200, description = "Updated"), (status = 404, description = "Not visible")))]
pub async fn update_version(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<VersionBody>,
) -> ApiResult<Json<Value>> {
    member.require_any(VERSION_WRITE)?;
    let v = state
        .store
        .update_version(member.account_id(), SourceVersionId(id), body.description)
        .await?;
    Ok(Json(version_json(&v)))
}

/// Delete a version with its org units, groups and group sets.
#[utoipa::path(delete, path = "/api/sourceversions/{id}/", tag = "source versions", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not visible")))]
pub async fn delete_version(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    member.require_any(VERSION_WRITE)?;
    state
        .store
        .delete_version(member.account_id(), SourceVersionId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
