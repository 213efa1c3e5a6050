//! `/api/forms/` (and `/api/mobile/forms/`): form metadata, soft delete and restore, the
//! OpenRosa manifest of a form's attachments.
//!
//! Reading needs a member of the account, or — for the mobile app — an `app_id` whose project
//! does not require authentication. Writing needs `iaso_forms`.

use crate::auth::{MaybeCaller, Member};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::{epoch, epoch_opt};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use iaso_domain::project::Project;
use iaso_domain::{AccountId, FieldErrors, Permission, ProjectId};
use iaso_store::audit::sources as audit_sources;
use iaso_store::forms::{Form, FormChanges, FormFilter, FormVersion};
use iaso_store::principal::Principal;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Absolute base URL of this server as the client reached it (for file URLs).
pub(crate) fn base_url(headers: &HeaderMap, state: &AppState) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        });
    match host {
        Some(h) => {
            let proto = headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .filter(|p| *p == "https" || *p == "http")
                .unwrap_or("http");
            format!("{proto}://{h}")
        }
        None => state.settings.public_url.trim_end_matches('/').to_string(),
    }
}

/// Who reads: a member of an account, or an anonymous mobile app of an open project.
pub(crate) struct Reader {
    pub account: AccountId,
    #[allow(dead_code)]
    pub principal: Option<Principal>,
    /// The app's project when `app_id` was given.
    pub app_project: Option<Project>,
    /// Profile restriction to some projects.
    pub restrict_projects: Vec<i64>,
}

/// Resolves `app_id` (optional) and the caller into a reader, as Iaso's
/// `IsAuthenticatedOrReadOnlyWhenNoAuthenticationRequired` does.
pub(crate) async fn reader(
    state: &AppState,
    caller: MaybeCaller,
    app_id: Option<&str>,
) -> ApiResult<Reader> {
    let project = match app_id {
        Some(app_id) => Some(
            state
                .store
                .project_by_app_id(app_id)
                .await?
                .ok_or(ApiError::NotFound)?,
        ),
        None => None,
    };
    let restrict = |p: &Principal| {
        p.membership
            .as_ref()
            .map(|m| m.project_ids.iter().map(|p| p.get()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    match (caller.0, project) {
        (Some(p), project) => {
            let account = p.account_id().ok_or_else(|| {
                ApiError::Forbidden("This user has no profile in any account.".into())
            })?;
            if let Some(project) = &project {
                if project.account_id != account {
                    return Err(ApiError::Unauthenticated(
                        "This app belongs to another account.".into(),
                    ));
                }
            }
            Ok(Reader {
                account,
                restrict_projects: restrict(&p),
                principal: Some(p),
                app_project: project,
            })
        }
        (None, Some(project)) => {
            if project.needs_authentication {
                return Err(ApiError::Unauthenticated(
                    "Authentication credentials were not provided.".into(),
                ));
            }
            Ok(Reader {
                account: project.account_id,
                principal: None,
                app_project: Some(project),
                restrict_projects: Vec::new(),
            })
        }
        (None, None) => Err(ApiError::Unauthenticated(
            "Authentication credentials were not provided.".into(),
        )),
    }
}

pub(crate) fn version_nested(v: &FormVersion, state: &AppState, base: &str) -> Value {
    json!({
        "id": v.id,
        "version_id": v.version_id,
        "file": crate::files::url(state, base, &v.file),
        "xls_file": v.xls_file.as_ref().map(|k| crate::files::url(state, base, k)),
        "created_at": epoch(v.created_at),
        "updated_at": epoch(v.updated_at),
    })
}

const DEFAULT_FIELDS: &[&str] = &[
    "id",
    "name",
    "form_id",
    "device_field",
    "location_field",
    "org_unit_types",
    "org_unit_type_ids",
    "org_unit_groups",
    "org_unit_group_ids",
    "projects",
    "project_ids",
    "period_type",
    "single_per_period",
    "periods_before_allowed",
    "periods_after_allowed",
    "latest_form_version",
    "instances_count",
    "instance_updated_at",
    "created_at",
    "updated_at",
    "deleted_at",
    "derived",
    "label_keys",
    "reference_form_of_org_unit_types",
    "legend_threshold",
    "change_request_mode",
    "has_mappings",
    "validation_workflow",
];

const EXTRA_FIELDS: &[&str] = &[
    "possible_fields",
    "predefined_filters",
    "has_attachments",
    "possible_fields_with_latest_version",
    "correlation_field",
    "correlatable",
    "uuid",
];

/// Keeps the requested `fields` (comma list) of `full`; unknown names are a 400 on `fields`.
pub(crate) fn select_fields(
    full: Map<String, Value>,
    defaults: &[&str],
    requested: &Option<Vec<String>>,
) -> Map<String, Value> {
    let wanted: Vec<&str> = match requested {
        Some(r) if r.iter().any(|f| f == ":all") => return full,
        Some(r) => r.iter().map(String::as_str).collect(),
        None => defaults.to_vec(),
    };
    let mut out = Map::new();
    for (k, v) in full {
        if wanted.contains(&k.as_str()) {
            out.insert(k, v);
        }
    }
    out
}

pub(crate) fn parse_fields(q: &QueryParams, allowed: &[&[&str]]) -> ApiResult<Option<Vec<String>>> {
    let fields = q.list("fields");
    if fields.is_empty() {
        return Ok(None);
    }
    let unknown: Vec<&String> = fields
        .iter()
        .filter(|f| f.as_str() != ":all" && !allowed.iter().any(|a| a.contains(&f.as_str())))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::field(
            "fields",
            format!(
                "Unknown field(s): {}. Known fields: {}.",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                allowed
                    .iter()
                    .flat_map(|a| a.iter())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(Some(fields))
}

pub(crate) fn form_json(
    f: &Form,
    projects: &[Project],
    state: &AppState,
    base: &str,
    string_ids: bool,
) -> Map<String, Value> {
    let latest_names: Vec<String> = f
        .latest_version
        .as_ref()
        .and_then(|v| v.descriptor.as_ref())
        .map(|d| {
            iaso_domain::forms::questions_by_name(d)
                .into_iter()
                .map(|(n, _)| n)
                .collect()
        })
        .unwrap_or_default();
    let possible = f.possible_fields.clone().unwrap_or_else(|| json!([]));
    let with_latest: Vec<Value> = possible
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let mut p = p.clone();
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            p["is_latest"] = json!(latest_names.contains(&name));
            p
        })
        .collect();
    let id_val = |id: i64| {
        if string_ids {
            json!(id.to_string())
        } else {
            json!(id)
        }
    };
    let v = json!({
        "id": f.id,
        "name": f.name,
        "form_id": f.form_id,
        "device_field": f.device_field,
        "location_field": f.location_field,
        "correlation_field": f.correlation_field,
        "correlatable": f.correlatable,
        "uuid": f.uuid,
        "org_unit_types": f.org_unit_type_ids.iter().map(|t| json!({"id": t})).collect::<Vec<_>>(),
        "org_unit_type_ids": f.org_unit_type_ids.iter().map(|t| id_val(*t)).collect::<Vec<_>>(),
        "org_unit_groups": [],
        "org_unit_group_ids": [],
        "projects": projects.iter().filter(|p| f.project_ids.contains(&p.id.get()))
            .map(super::projects::project_json).collect::<Vec<_>>(),
        "project_ids": f.project_ids.iter().map(|p| id_val(*p)).collect::<Vec<_>>(),
        "period_type": f.period_type,
        "single_per_period": f.single_per_period,
        "periods_before_allowed": f.periods_before_allowed,
        "periods_after_allowed": f.periods_after_allowed,
        "latest_form_version": f.latest_version.as_ref().map(|v| version_nested(v, state, base)),
        "instances_count": f.instances_count,
        "instance_updated_at": epoch_opt(f.instance_updated_at),
        "created_at": epoch(f.created_at),
        "updated_at": epoch(f.updated_at),
        "deleted_at": epoch_opt(f.deleted_at),
        "derived": f.derived,
        "label_keys": f.label_keys.clone().unwrap_or_else(|| json!([])),
        "reference_form_of_org_unit_types": [],
        "legend_threshold": f.legend_threshold,
        "change_request_mode": f.change_request_mode,
        "has_mappings": false,
        "validation_workflow": Value::Null,
        "possible_fields": possible,
        "predefined_filters": [],
        "has_attachments": f.has_attachments,
        "possible_fields_with_latest_version": with_latest,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn filter_from_query(q: &QueryParams, reader: &Reader) -> ApiResult<FormFilter> {
    let flag = |name: &str| {
        q.get(name)
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    };
    let mut org_unit_types = q.ids("orgUnitTypeIds")?;
    org_unit_types.extend(q.ids("orgUnitTypeId")?);
    Ok(FormFilter {
        restrict_projects: reader.restrict_projects.clone(),
        app_project: reader.app_project.as_ref().map(|p| p.id.get()),
        only_deleted: flag("only_deleted"),
        show_deleted: flag("show_deleted"),
        project_ids: q.ids("projectsIds")?,
        org_unit_type_ids: org_unit_types,
        search: q.get("search").map(String::from),
        ids: q.ids("ids")?,
        with_versions_only: false,
        order: q.list("order"),
    })
}

async fn list_impl(
    state: &AppState,
    headers: &HeaderMap,
    reader: Reader,
    q: &QueryParams,
    mobile: bool,
) -> ApiResult<Response> {
    let mut filter = filter_from_query(q, &reader)?;
    filter.with_versions_only = mobile;
    let fields = parse_fields(q, &[DEFAULT_FIELDS, EXTRA_FIELDS])?;
    let paging = Paging::from_query(q, None)?;
    let first = state
        .store
        .list_forms(reader.account, &filter, iaso_store::PageRequest::new(1, 1))
        .await?;
    let paging = paging.resolve(first.count, OutOfRange::NotFound)?;
    let page = state
        .store
        .list_forms(reader.account, &filter, paging.request())
        .await?;
    let projects = state
        .store
        .list_projects(reader.account, &Default::default(), &[])
        .await?;
    let base = base_url(headers, state);
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|f| {
            Value::Object(select_fields(
                form_json(f, &projects, state, &base, false),
                DEFAULT_FIELDS,
                &fields,
            ))
        })
        .collect();
    let csv = q.get("csv").is_some();
    if csv {
        return Ok(forms_csv(&page.items));
    }
    Ok(Json(paging.envelope("forms", items, page.count)).into_response())
}

fn forms_csv(forms: &[Form]) -> Response {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let _ = w.write_record([
        "ID du formulaire",
        "Nom",
        "Enregistrement(s)",
        "Type",
        "Date de création",
        "Date de modification",
    ]);
    for f in forms {
        let _ = w.write_record([
            crate::routes::exports::safe_cell(f.form_id.as_deref().unwrap_or("")),
            crate::routes::exports::safe_cell(&f.name),
            f.instances_count.to_string(),
            String::new(),
            f.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            f.instance_updated_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "2019-01-01 00:00:00".into()),
        ]);
    }
    let body = w.into_inner().unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/csv"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=forms.csv",
            ),
        ],
        body,
    )
        .into_response()
}

/// Forms of the caller's account (or of the app's project); `limit`/`page` page them.
#[utoipa::path(get, path = "/api/forms/", tag = "forms",
    params(("app_id" = Option<String>, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query),
           ("order" = Option<String>, Query), ("search" = Option<String>, Query), ("projectsIds" = Option<String>, Query),
           ("orgUnitTypeIds" = Option<String>, Query), ("show_deleted" = Option<String>, Query),
           ("only_deleted" = Option<String>, Query), ("fields" = Option<String>, Query)),
    responses((status = 200, description = "`{forms: [...]}` or paged")))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    q: QueryParams,
) -> ApiResult<Response> {
    let reader = reader(&state, caller, q.get("app_id")).await?;
    list_impl(&state, &headers, reader, &q, false).await
}

/// The mobile app's forms: those of the app's project that have a version.
#[utoipa::path(get, path = "/api/mobile/forms/", tag = "forms",
    params(("app_id" = String, Query)),
    responses((status = 200, description = "`{forms: [...]}`")))]
pub async fn mobile_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    q: QueryParams,
) -> ApiResult<Response> {
    let reader = reader(&state, caller, q.get("app_id")).await?;
    list_impl(&state, &headers, reader, &q, true).await
}

async fn visible_form(state: &AppState, reader: &Reader, id: i64) -> ApiResult<Form> {
    let form = state.store.form(reader.account, id).await?;
    let restricted = !reader.restrict_projects.is_empty()
        && !form
            .project_ids
            .iter()
            .any(|p| reader.restrict_projects.contains(p));
    let outside_app = reader
        .app_project
        .as_ref()
        .is_some_and(|p| !form.project_ids.contains(&p.id.get()) || form.derived);
    if restricted || outside_app {
        return Err(ApiError::NotFound);
    }
    Ok(form)
}

/// One form (deleted forms too, so that they can be restored).
#[utoipa::path(get, path = "/api/forms/{id}/", tag = "forms", params(("id" = i64, Path), ("fields" = Option<String>, Query)),
    responses((status = 200, description = "Form"), (status = 404, description = "Not visible")))]
pub async fn retrieve(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    Path(id): Path<i64>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let reader = reader(&state, caller, q.get("app_id")).await?;
    let fields = parse_fields(&q, &[DEFAULT_FIELDS, EXTRA_FIELDS])?;
    let form = visible_form(&state, &reader, id).await?;
    let projects = state
        .store
        .list_projects(reader.account, &Default::default(), &[])
        .await?;
    let base = base_url(&headers, &state);
    let mut defaults = DEFAULT_FIELDS.to_vec();
    defaults.extend(["possible_fields", "has_attachments", "predefined_filters"]);
    Ok(Json(Value::Object(select_fields(
        form_json(&form, &projects, &state, &base, false),
        &defaults,
        &fields,
    ))))
}

/// A field that may be sent as `null` to clear it: absent = unchanged.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct FormBody {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    device_field: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    location_field: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    correlation_field: Option<Option<String>>,
    correlatable: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    period_type: Option<Option<String>>,
    single_per_period: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    periods_before_allowed: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    periods_after_allowed: Option<Option<i64>>,
    derived: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    label_keys: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    legend_threshold: Option<Option<Value>>,
    change_request_mode: Option<String>,
    project_ids: Option<Vec<i64>>,
    org_unit_type_ids: Option<Vec<i64>>,
    org_unit_group_ids: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    deleted_at: Option<Option<f64>>,
}

fn to_changes(body: FormBody, current: Option<&Form>) -> ApiResult<FormChanges> {
    let mut errors = FieldErrors::new();
    let creating = current.is_none();
    let name = match body.name {
        Some(n) if n.trim().is_empty() => {
            errors.add("name", "This field may not be blank.");
            None
        }
        Some(n) => Some(n.trim().to_string()),
        None if creating => {
            errors.add("name", "This field is required.");
            None
        }
        None => None,
    };
    if creating && body.project_ids.is_none() {
        errors.add("project_ids", "This field is required.");
    }
    if let Some(Some(p)) = &body.period_type {
        if !iaso_domain::forms::PERIOD_TYPES.contains(&p.as_str()) {
            errors.add("period_type", format!("\"{p}\" is not a valid choice."));
        }
    }
    if let Some(m) = &body.change_request_mode {
        if !iaso_domain::forms::CR_MODES.contains(&m.as_str()) {
            errors.add(
                "change_request_mode",
                format!("\"{m}\" is not a valid choice."),
            );
        }
    }
    let before = body.periods_before_allowed.map(|v| v.unwrap_or(0));
    let after = body.periods_after_allowed.map(|v| v.unwrap_or(0));
    if let Some(pt) = &body.period_type {
        let b = before
            .or(current.map(|c| c.periods_before_allowed))
            .unwrap_or(0);
        let a = after
            .or(current.map(|c| c.periods_after_allowed))
            .unwrap_or(0);
        match pt {
            None => {
                if b != 0 {
                    errors.add(
                        "periods_before_allowed",
                        "Should be 0 when period type is not specified",
                    );
                }
                if a != 0 {
                    errors.add(
                        "periods_after_allowed",
                        "Should be 0 when period type is not specified",
                    );
                }
            }
            Some(_) => {
                if b + a < 1 {
                    errors.add(
                        "periods_allowed",
                        "periods_before_allowed + periods_after_allowed should be greater than or equal to 1",
                    );
                }
            }
        }
    }
    if before.is_some_and(|v| v < 0) || after.is_some_and(|v| v < 0) {
        errors.add("periods_allowed", "Periods allowed cannot be negative.");
    }
    if body
        .org_unit_group_ids
        .as_ref()
        .is_some_and(|g| !g.is_empty())
    {
        errors.add("org_unit_group_ids", "Invalid org unit group ids");
    }
    let deleted_at = match body.deleted_at {
        Some(Some(ts)) => match chrono::DateTime::from_timestamp(ts.trunc() as i64, 0) {
            Some(t) => Some(Some(t)),
            None => {
                errors.add("deleted_at", "Invalid timestamp.");
                None
            }
        },
        Some(None) => Some(None),
        None => None,
    };
    errors.into_result()?;
    Ok(FormChanges {
        name,
        device_field: body.device_field,
        location_field: body.location_field,
        correlation_field: body.correlation_field,
        correlatable: body.correlatable,
        period_type: body.period_type,
        single_per_period: body.single_per_period,
        periods_before_allowed: before,
        periods_after_allowed: after,
        derived: body.derived,
        label_keys: body.label_keys.map(|o| o.map(|v| json!(v))),
        legend_threshold: body.legend_threshold,
        change_request_mode: body.change_request_mode,
        project_ids: body.project_ids,
        org_unit_type_ids: body.org_unit_type_ids.or(if creating {
            Some(Vec::new())
        } else {
            None
        }),
        deleted_at,
    })
}

fn check_project_restriction(member: &Member, ids: Option<&Vec<i64>>) -> ApiResult<()> {
    let only = &member.membership().project_ids;
    if let Some(ids) = ids {
        if !only.is_empty() && ids.iter().any(|p| !only.contains(&ProjectId(*p))) {
            return Err(ApiError::field("project_ids", "Invalid project ids"));
        }
    }
    Ok(())
}

/// Create a form (`iaso_forms`).
#[utoipa::path(post, path = "/api/forms/", tag = "forms", request_body = FormBody,
    responses((status = 201, description = "Created"), (status = 400, description = "Field errors")))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    ApiJson(body): ApiJson<FormBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::Forms)?;
    check_project_restriction(&member, body.project_ids.as_ref())?;
    let changes = to_changes(body, None)?;
    let form = state
        .store
        .create_form(
            member.account_id(),
            &changes,
            Some(member.principal.user.id),
        )
        .await?;
    let projects = state
        .store
        .list_projects(member.account_id(), &Default::default(), &[])
        .await?;
    let base = base_url(&headers, &state);
    Ok((
        StatusCode::CREATED,
        Json(Value::Object(form_json(
            &form, &projects, &state, &base, false,
        ))),
    ))
}

async fn do_update(
    state: &AppState,
    headers: &HeaderMap,
    member: &Member,
    id: i64,
    body: FormBody,
) -> ApiResult<Json<Value>> {
    member.require(Permission::Forms)?;
    let reader = Reader {
        account: member.account_id(),
        principal: None,
        app_project: None,
        restrict_projects: member
            .membership()
            .project_ids
            .iter()
            .map(|p| p.get())
            .collect(),
    };
    let current = visible_form(state, &reader, id).await?;
    check_project_restriction(member, body.project_ids.as_ref())?;
    let changes = to_changes(body, Some(&current))?;
    let form = state
        .store
        .update_form(
            member.account_id(),
            id,
            &changes,
            Some(member.principal.user.id),
            audit_sources::FORM_API,
        )
        .await?;
    let projects = state
        .store
        .list_projects(member.account_id(), &Default::default(), &[])
        .await?;
    let base = base_url(headers, state);
    Ok(Json(Value::Object(form_json(
        &form, &projects, state, &base, false,
    ))))
}

/// Change a form (`iaso_forms`); `{"deleted_at": null}` restores a deleted form.
#[utoipa::path(patch, path = "/api/forms/{id}/", tag = "forms", params(("id" = i64, Path)), request_body = FormBody,
    responses((status = 200, description = "Updated"), (status = 404, description = "Not in this account")))]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<FormBody>,
) -> ApiResult<Json<Value>> {
    do_update(&state, &headers, &member, id, body).await
}

/// Same as PATCH.
#[utoipa::path(put, path = "/api/forms/{id}/", tag = "forms", params(("id" = i64, Path)), request_body = FormBody,
    responses((status = 200, description = "Updated")))]
pub async fn update_put(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<FormBody>,
) -> ApiResult<Json<Value>> {
    do_update(&state, &headers, &member, id, body).await
}

/// Soft-delete a form (`iaso_forms`): its versions and submissions stay, it disappears from
/// lists and the mobile app, and it accepts no more submissions.
#[utoipa::path(delete, path = "/api/forms/{id}/", tag = "forms", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not in this account")))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    member.require(Permission::Forms)?;
    let reader = Reader {
        account: member.account_id(),
        principal: None,
        app_project: None,
        restrict_projects: member
            .membership()
            .project_ids
            .iter()
            .map(|p| p.get())
            .collect(),
    };
    let form = visible_form(&state, &reader, id).await?;
    if form.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    state
        .store
        .update_form(
            member.account_id(),
            id,
            &FormChanges {
                deleted_at: Some(Some(iaso_db_now())),
                ..Default::default()
            },
            Some(member.principal.user.id),
            audit_sources::FORM_API,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn iaso_db_now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The OpenRosa manifest of a form's attachments.
pub(crate) async fn manifest_response(
    state: &AppState,
    base: &str,
    form: i64,
) -> ApiResult<Response> {
    let attachments = state.store.attachments_of_form(form).await?;
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<manifest xmlns=\"http://openrosa.org/xforms/xformsManifest\">\n",
    );
    for a in &attachments {
        body.push_str(&format!(
            "  <mediaFile>\n    <filename>{}</filename>\n    <hash>md5:{}</hash>\n    <downloadUrl>{}</downloadUrl>\n  </mediaFile>\n",
            xml_escape(&a.name),
            a.md5,
            xml_escape(&crate::files::url(state, base, &a.file))
        ));
    }
    body.push_str("</manifest>\n");
    Ok(openrosa_xml(StatusCode::OK, body))
}

pub(crate) fn openrosa_xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/xml; charset=utf-8"),
            (header::HeaderName::from_static("x-openrosa-version"), "1.0"),
        ],
        body,
    )
        .into_response()
}

/// The OpenRosa manifest of the form's attachments (the mobile app downloads them).
#[utoipa::path(get, path = "/api/forms/{id}/manifest/", tag = "forms", params(("id" = i64, Path), ("app_id" = Option<String>, Query)),
    responses((status = 200, description = "OpenRosa manifest XML")))]
pub async fn manifest(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    Path(id): Path<i64>,
    q: QueryParams,
) -> ApiResult<Response> {
    let reader = reader(&state, caller, q.get("app_id")).await?;
    let form = visible_form(&state, &reader, id).await?;
    if form.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    manifest_response(&state, &base_url(&headers, &state), form.id).await
}
