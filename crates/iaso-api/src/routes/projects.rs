//! `/api/projects/` (reading: any member, restricted to the profile's projects; writing:
//! `iaso_projects`) and the feature-flag catalogue `/api/featureflags/`.

use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use iaso_domain::project::{valid_app_id, FeatureFlag, Project};
use iaso_domain::validation::{color, required_text};
use iaso_domain::{FieldErrors, Permission, ProjectId};
use iaso_store::projects::{FlagChoice, ProjectChanges, ProjectScope};
use serde::Deserialize;
use serde_json::{json, Value};

fn flag_json(f: &FeatureFlag) -> Value {
    json!({
        "id": f.id,
        "code": f.code,
        "name": f.name,
        "description": f.description,
        "requires_authentication": f.requires_authentication,
        "category": f.category,
        "order": f.order,
        "is_dangerous": f.is_dangerous,
        "configuration_schema": f.configuration_schema,
        "created_at": epoch(f.created_at),
        "updated_at": epoch(f.updated_at),
    })
}

pub(crate) fn project_json(p: &Project) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "app_id": p.app_id,
        "description": p.description,
        "feature_flags": p.feature_flags.iter().map(|pf| {
            let mut v = json!({
                "id": pf.flag.id,
                "name": pf.flag.name,
                "code": pf.flag.code,
                "description": pf.flag.description,
                "created_at": epoch(pf.flag.created_at),
                "updated_at": epoch(pf.flag.updated_at),
            });
            // Old mobile apps do not expect a null configuration: omit it instead.
            if let Some(c) = &pf.configuration {
                v["configuration"] = c.clone();
            }
            v
        }).collect::<Vec<_>>(),
        "created_at": epoch(p.created_at),
        "updated_at": epoch(p.updated_at),
        "needs_authentication": p.needs_authentication,
        "qr_code": Value::Null,
        "color": p.color,
    })
}

/// The projects the caller may see (all of the account unless its profile is restricted;
/// `bypass_restrictions=true` lifts that for holders of `iaso_users`).
#[utoipa::path(get, path = "/api/projects/", tag = "projects",
    params(("order" = Option<String>, Query, description = "app_id, name, id (- for descending)"),
           ("bypass_restrictions" = Option<bool>, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "`{projects: [...]}` or paged")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let bypass = q.bool("bypass_restrictions")?.unwrap_or(false);
    if bypass && !member.has(Permission::Users) {
        return Err(ApiError::Forbidden(
            "iaso_users permission is required to access all projects.".into(),
        ));
    }
    let scope = ProjectScope {
        only: if bypass {
            Vec::new()
        } else {
            member.membership().project_ids.clone()
        },
    };
    let order = q.list("order");
    let projects = state
        .store
        .list_projects(member.account_id(), &scope, &order)
        .await?;
    let paging = Paging::from_query(&q, None)?;
    let count = projects.len() as i64;
    let paging = paging.resolve(count, OutOfRange::NotFound)?;
    let req = paging.request();
    let items: Vec<Value> = projects
        .iter()
        .skip(usize::try_from(req.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(req.limit).unwrap_or(usize::MAX))
        .map(project_json)
        .collect();
    Ok(Json(paging.envelope("projects", items, count)))
}

fn visible(member: &Member, id: ProjectId) -> bool {
    let only = &member.membership().project_ids;
    only.is_empty() || only.contains(&id)
}

/// One project.
#[utoipa::path(get, path = "/api/projects/{id}/", tag = "projects", params(("id" = i64, Path)),
    responses((status = 200, description = "Project"), (status = 404, description = "Not visible")))]
pub async fn retrieve(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    if !visible(&member, ProjectId(id)) {
        return Err(ApiError::NotFound);
    }
    let p = state
        .store
        .project(member.account_id(), ProjectId(id))
        .await?;
    Ok(Json(project_json(&p)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct FlagBody {
    code: String,
    #[serde(default)]
    configuration: Option<Value>,
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct ProjectBody {
    name: Option<String>,
    app_id: Option<String>,
    needs_authentication: Option<bool>,
    description: Option<String>,
    color: Option<String>,
    feature_flags: Option<Vec<FlagBody>>,
    /// Form ids offered in the app (filled by the forms module).
    forms: Option<Vec<i64>>,
}

fn to_changes(body: ProjectBody, creating: bool) -> ApiResult<(ProjectChanges, Option<Vec<i64>>)> {
    let forms = body.forms.clone();
    let mut errors = FieldErrors::new();
    let name = match (body.name, creating) {
        (Some(n), _) => Some(required_text(&mut errors, "name", &n, 255)),
        (None, true) => {
            errors.add("name", "This field is required.");
            None
        }
        (None, false) => None,
    };
    let app_id = match (body.app_id, creating) {
        (Some(a), _) => match valid_app_id(&a) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.add("app_id", e);
                None
            }
        },
        (None, true) => {
            errors.add("app_id", "An App id is required");
            None
        }
        (None, false) => None,
    };
    let color = body.color.map(|c| color(&mut errors, "color", &c));
    errors.into_result()?;
    Ok((
        ProjectChanges {
            name,
            app_id,
            needs_authentication: body.needs_authentication,
            description: body.description,
            color,
            feature_flags: body.feature_flags.map(|fs| {
                fs.into_iter()
                    .map(|f| FlagChoice {
                        code: f.code,
                        configuration: f.configuration,
                    })
                    .collect()
            }),
        },
        forms,
    ))
}

/// Create a project (`iaso_projects`).
#[utoipa::path(post, path = "/api/projects/", tag = "projects", request_body = ProjectBody,
    responses((status = 201, description = "Created"), (status = 400, description = "Field errors")))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<ProjectBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::Projects)?;
    let (changes, forms) = to_changes(body, true)?;
    let p = state
        .store
        .create_project(member.account_id(), &changes)
        .await?;
    if let Some(forms) = forms {
        state
            .store
            .set_project_forms(member.account_id(), p.id.get(), &forms)
            .await?;
    }
    Ok((StatusCode::CREATED, Json(project_json(&p))))
}

async fn do_update(
    state: &AppState,
    member: &Member,
    id: i64,
    body: ProjectBody,
) -> ApiResult<Json<Value>> {
    member.require(Permission::Projects)?;
    let (changes, forms) = to_changes(body, false)?;
    let p = state
        .store
        .update_project(member.account_id(), ProjectId(id), &changes)
        .await?;
    if let Some(forms) = forms {
        state
            .store
            .set_project_forms(member.account_id(), p.id.get(), &forms)
            .await?;
    }
    Ok(Json(project_json(&p)))
}

/// Change a project (`iaso_projects`).
#[utoipa::path(patch, path = "/api/projects/{id}/", tag = "projects", params(("id" = i64, Path)), request_body = ProjectBody,
    responses((status = 200, description = "Updated"), (status = 404, description = "Not in this account")))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProjectBody>,
) -> ApiResult<Json<Value>> {
    do_update(&state, &member, id, body).await
}

/// Same as PATCH.
#[utoipa::path(put, path = "/api/projects/{id}/", tag = "projects", params(("id" = i64, Path)), request_body = ProjectBody,
    responses((status = 200, description = "Updated")))]
pub async fn update_put(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProjectBody>,
) -> ApiResult<Json<Value>> {
    do_update(&state, &member, id, body).await
}

/// The catalogue of mobile feature flags.
#[utoipa::path(get, path = "/api/featureflags/", tag = "projects", responses((status = 200, description = "`{featureflags: [...]}`")))]
pub async fn feature_flags(
    State(state): State<AppState>,
    _member: Member,
) -> ApiResult<Json<Value>> {
    let flags = state.store.feature_flags().await?;
    Ok(Json(
        json!({ "featureflags": flags.iter().map(flag_json).collect::<Vec<_>>() }),
    ))
}
