//! `/api/v2/orgunittypes/` and the legacy `/api/orgunittypes/` kept for the mobile app (where
//! `sub_unit_types` means the types the app may create). Reading: any member (or anyone with
//! the `app_id` of a project that needs no authentication, on v1); writing:
//! `iaso_org_unit_types`.

use crate::auth::{MaybeCaller, Member};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::routes::datasources::page_of;
use crate::routes::geo_common::{self, app_project, keep_fields, select_fields};
use crate::routes::projects::project_json;
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use iaso_domain::project::Project;
use iaso_domain::validation::required_text;
use iaso_domain::{AccountId, FieldErrors, OrgUnitTypeId, Permission, ProjectId};
use iaso_store::org_unit_types::{OrgUnitType, TypeChanges, CATEGORIES};
use iaso_store::projects::ProjectScope;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

const V2_FIELDS: &[&str] = &[
    "id",
    "name",
    "short_name",
    "depth",
    "projects",
    "sub_unit_types",
    "allow_creating_sub_unit_types",
    "created_at",
    "updated_at",
    "units_count",
    "reference_forms",
];
const V1_FIELDS: &[&str] = &[
    "id",
    "name",
    "short_name",
    "depth",
    "projects",
    "sub_unit_types",
    "created_at",
    "updated_at",
    "units_count",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    V1,
    V2,
}

/// Everything rendering needs: all types and projects of the account, unit counts.
struct Ctx {
    types: HashMap<i64, OrgUnitType>,
    projects: HashMap<i64, Project>,
    counts: Option<HashMap<i64, i64>>,
    /// `app_id` filter on sub types: only types linked to this project.
    app_project: Option<i64>,
}

fn small(t: &OrgUnitType) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "short_name": t.short_name,
        "depth": t.depth,
        "created_at": epoch(t.created_at),
        "updated_at": epoch(t.updated_at),
    })
}

fn type_json(t: &OrgUnitType, ctx: &Ctx, flavour: Flavour, fields: &Option<Vec<String>>) -> Value {
    let subs = |ids: &[OrgUnitTypeId]| -> Vec<Value> {
        ids.iter()
            .filter_map(|i| ctx.types.get(&i.get()))
            .filter(|s| {
                ctx.app_project
                    .is_none_or(|p| s.project_ids.contains(&ProjectId(p)))
            })
            .map(small)
            .collect()
    };
    let mut v = json!({
        "id": t.id,
        "name": t.name,
        "short_name": t.short_name,
        "depth": t.depth,
        "projects": t.project_ids.iter().filter_map(|p| ctx.projects.get(&p.get())).map(project_json).collect::<Vec<_>>(),
    });
    match flavour {
        Flavour::V1 => {
            v["sub_unit_types"] = json!(subs(&t.creatable_sub_unit_type_ids));
        }
        Flavour::V2 => {
            v["sub_unit_types"] = json!(subs(&t.sub_unit_type_ids));
            v["allow_creating_sub_unit_types"] = json!(subs(&t.creatable_sub_unit_type_ids));
        }
    }
    v["created_at"] = json!(epoch(t.created_at));
    v["updated_at"] = json!(epoch(t.updated_at));
    if let Some(counts) = &ctx.counts {
        v["units_count"] = json!(counts.get(&t.id.get()).copied().unwrap_or(0));
    }
    if flavour == Flavour::V2 {
        // Reference forms belong to the forms module.
        v["reference_forms"] = json!([]);
    }
    keep_fields(v, fields)
}

async fn context(
    state: &AppState,
    account: AccountId,
    counts: Option<HashMap<i64, i64>>,
    app_project: Option<i64>,
) -> ApiResult<Ctx> {
    let types = state.store.list_org_unit_types(account).await?;
    let projects = state
        .store
        .list_projects(account, &ProjectScope::default(), &[])
        .await?;
    Ok(Ctx {
        types: types.into_iter().map(|t| (t.id.get(), t)).collect(),
        projects: projects.into_iter().map(|p| (p.id.get(), p)).collect(),
        counts,
        app_project,
    })
}

fn sort_types(types: &mut [&OrgUnitType], order: &[String]) {
    let keys: Vec<(bool, String)> = order
        .iter()
        .flat_map(|o| o.split(','))
        .map(|k| {
            let k = k.trim();
            k.strip_prefix('-')
                .map_or((false, k.to_string()), |x| (true, x.to_string()))
        })
        .collect();
    let keys = if keys.is_empty() {
        vec![(false, "name".to_string())]
    } else {
        keys
    };
    types.sort_by(|a, b| {
        for (desc, k) in &keys {
            let o = match k.as_str() {
                "id" => a.id.cmp(&b.id),
                "name" => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
                "short_name" => a
                    .short_name
                    .to_lowercase()
                    .cmp(&b.short_name.to_lowercase()),
                "depth" => a.depth.cmp(&b.depth),
                "created_at" => a.created_at.cmp(&b.created_at),
                "updated_at" => a.updated_at.cmp(&b.updated_at),
                _ => std::cmp::Ordering::Equal,
            };
            let o = if *desc { o.reverse() } else { o };
            if o != std::cmp::Ordering::Equal {
                return o;
            }
        }
        a.id.cmp(&b.id)
    });
}

async fn do_list(
    state: &AppState,
    caller: &MaybeCaller,
    q: &QueryParams,
    flavour: Flavour,
) -> ApiResult<Json<Value>> {
    let app_id = q.get("app_id");
    // The account: the caller's, or the app's project's for an anonymous caller.
    let (account, app_project_id) = match (caller.0.as_ref(), app_id) {
        (p, Some(app)) => match app_project(state, p, app).await? {
            Some(project) => (project.account_id, Some(project.id.get())),
            None => return Ok(Json(page_of(q, "orgUnitTypes", Vec::new())?)),
        },
        (Some(p), None) => match p.account_id() {
            Some(a) => (a, None),
            None => {
                return Err(ApiError::Forbidden(
                    "This user has no profile in any account.".into(),
                ))
            }
        },
        (None, None) => {
            return Err(ApiError::Unauthenticated(
                "Authentication credentials were not provided.".into(),
            ))
        }
    };
    let all = if flavour == Flavour::V2 {
        V2_FIELDS
    } else {
        V1_FIELDS
    };
    let fields = select_fields(q, all, all)?;
    let counts = if q.has("with_units_count") {
        let roots = caller
            .0
            .as_ref()
            .filter(|p| !p.user.is_superuser)
            .and_then(|p| p.membership.as_ref())
            .map(|m| m.org_unit_ids.clone())
            .unwrap_or_default();
        let scope = state.store.org_unit_scope(account, &roots).await?;
        Some(state.store.count_org_units_by_type(&scope).await?)
    } else {
        None
    };
    let ctx = context(state, account, counts, app_project_id).await?;
    let search = q.get("search").map(str::to_lowercase);
    let project = q.i64("project")?;
    let project_ids: HashSet<i64> = q.ids("project_ids")?.into_iter().collect();
    let mut types: Vec<&OrgUnitType> = ctx
        .types
        .values()
        .filter(|t| app_project_id.is_none_or(|p| t.project_ids.contains(&ProjectId(p))))
        .filter(|t| {
            flavour == Flavour::V1 || project.is_none_or(|p| t.project_ids.contains(&ProjectId(p)))
        })
        .filter(|t| {
            flavour == Flavour::V1
                || project_ids.is_empty()
                || t.project_ids.iter().any(|p| project_ids.contains(&p.get()))
        })
        .filter(|t| {
            search.as_ref().is_none_or(|s| {
                t.name.to_lowercase().contains(s) || t.short_name.to_lowercase().contains(s)
            })
        })
        .collect();
    sort_types(&mut types, &q.list("order"));
    let items = types
        .iter()
        .map(|t| type_json(t, &ctx, flavour, &fields))
        .collect();
    Ok(Json(page_of(q, "orgUnitTypes", items)?))
}

async fn do_retrieve(
    state: &AppState,
    member: &Member,
    id: i64,
    flavour: Flavour,
) -> ApiResult<Json<Value>> {
    let t = state
        .store
        .org_unit_type(member.account_id(), OrgUnitTypeId(id))
        .await?;
    let scope = geo_common::scope(state, member).await?;
    let counts = state.store.count_org_units_by_type(&scope).await?;
    let ctx = context(state, member.account_id(), Some(counts), None).await?;
    Ok(Json(type_json(&t, &ctx, flavour, &None)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TypeBody {
    name: Option<String>,
    short_name: Option<String>,
    depth: Option<Option<i64>>,
    category: Option<Option<String>>,
    project_ids: Option<Vec<i64>>,
    sub_unit_type_ids: Option<Vec<i64>>,
    allow_creating_sub_unit_type_ids: Option<Vec<i64>>,
    reference_forms_ids: Option<Vec<i64>>,
    /// Sent by the dashboard; ignored.
    #[allow(dead_code)]
    id: Option<i64>,
}

fn to_changes(body: TypeBody, creating: bool, flavour: Flavour) -> ApiResult<TypeChanges> {
    let mut errors = FieldErrors::new();
    let mut text = |field: &str, v: &Option<String>| match (v, creating) {
        (Some(n), _) => Some(required_text(&mut errors, field, n, 255)),
        (None, true) => {
            errors.add(field, "This field is required.");
            None
        }
        (None, false) => None,
    };
    let name = text("name", &body.name);
    let short_name = text("short_name", &body.short_name);
    match (&body.project_ids, creating) {
        (Some(p), _) if p.is_empty() => {
            errors.add("project_ids", "This list may not be empty.");
        }
        (None, true) => {
            errors.add("project_ids", "This field is required.");
        }
        _ => {}
    }
    if let Some(Some(d)) = body.depth {
        if d < 0 {
            errors.add("depth", "Ensure this value is greater than or equal to 0.");
        }
    }
    if let Some(Some(c)) = &body.category {
        if !CATEGORIES.contains(&c.as_str()) {
            errors.add("category", format!("\"{c}\" is not a valid choice."));
        }
    }
    if body
        .reference_forms_ids
        .as_ref()
        .is_some_and(|f| !f.is_empty())
    {
        errors.add(
            "reference_forms_ids",
            "Reference forms cannot be set on this server yet.",
        );
    }
    errors.into_result()?;
    let ids = |v: Option<Vec<i64>>| v.map(|l| l.into_iter().map(OrgUnitTypeId).collect());
    let (subs, creatable) = match flavour {
        // v1's `sub_unit_type_ids` are the types the app may create.
        Flavour::V1 => (None, ids(body.sub_unit_type_ids)),
        Flavour::V2 => (
            ids(body.sub_unit_type_ids),
            ids(body.allow_creating_sub_unit_type_ids),
        ),
    };
    Ok(TypeChanges {
        name,
        short_name,
        category: body.category,
        depth: body.depth,
        project_ids: body
            .project_ids
            .map(|p| p.into_iter().map(ProjectId).collect()),
        sub_unit_type_ids: subs,
        creatable_sub_unit_type_ids: creatable,
    })
}

async fn do_create(
    state: &AppState,
    member: &Member,
    body: TypeBody,
    flavour: Flavour,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::OrgUnitTypes)?;
    let changes = to_changes(body, true, flavour)?;
    let t = state
        .store
        .create_org_unit_type(member.account_id(), &changes)
        .await?;
    let ctx = context(state, member.account_id(), None, None).await?;
    Ok((
        StatusCode::CREATED,
        Json(type_json(&t, &ctx, flavour, &None)),
    ))
}

async fn do_update(
    state: &AppState,
    member: &Member,
    id: i64,
    body: TypeBody,
    flavour: Flavour,
) -> ApiResult<Json<Value>> {
    member.require(Permission::OrgUnitTypes)?;
    let changes = to_changes(body, false, flavour)?;
    let t = state
        .store
        .update_org_unit_type(member.account_id(), OrgUnitTypeId(id), &changes)
        .await?;
    let ctx = context(state, member.account_id(), None, None).await?;
    Ok(Json(type_json(&t, &ctx, flavour, &None)))
}

async fn do_delete(state: &AppState, member: &Member, id: i64) -> ApiResult<Response> {
    member.require(Permission::OrgUnitTypes)?;
    match state
        .store
        .delete_org_unit_type(member.account_id(), OrgUnitTypeId(id))
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        // Iaso answers a bare JSON string here.
        Err(iaso_store::StoreError::Conflict(m)) => {
            Ok((StatusCode::BAD_REQUEST, Json(json!(m))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

macro_rules! type_routes {
    ($flavour:expr, $base:literal, $detail:literal, $tag:literal, $list:ident, $create:ident, $retrieve:ident, $update:ident, $update_put:ident, $delete:ident) => {
        /// Org unit types of the account (`orgUnitTypes`); filters `search`, `project`,
        /// `project_ids`, `app_id`, `with_units_count`, `order`, `fields`.
        #[utoipa::path(get, path = $base, tag = $tag,
            params(("search" = Option<String>, Query), ("app_id" = Option<String>, Query), ("order" = Option<String>, Query),
                   ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
            responses((status = 200, description = "`{orgUnitTypes: [...]}` or paged")))]
        pub async fn $list(
            State(state): State<AppState>,
            caller: MaybeCaller,
            q: QueryParams,
        ) -> ApiResult<Json<Value>> {
            do_list(&state, &caller, &q, $flavour).await
        }

        /// Create an org unit type (`iaso_org_unit_types`).
        #[utoipa::path(post, path = $base, tag = $tag, request_body = TypeBody,
            responses((status = 201, description = "Created"), (status = 400, description = "Field errors")))]
        pub async fn $create(
            State(state): State<AppState>,
            member: Member,
            ApiJson(body): ApiJson<TypeBody>,
        ) -> ApiResult<(StatusCode, Json<Value>)> {
            do_create(&state, &member, body, $flavour).await
        }

        /// One org unit type, with its number of units.
        #[utoipa::path(get, path = $detail, tag = $tag, params(("id" = i64, Path)),
            responses((status = 200, description = "Type"), (status = 404, description = "Not in this account")))]
        pub async fn $retrieve(
            State(state): State<AppState>,
            member: Member,
            Path(id): Path<i64>,
        ) -> ApiResult<Json<Value>> {
            do_retrieve(&state, &member, id, $flavour).await
        }

        /// Change an org unit type (`iaso_org_unit_types`).
        #[utoipa::path(patch, path = $detail, tag = $tag, params(("id" = i64, Path)), request_body = TypeBody,
            responses((status = 200, description = "Updated"), (status = 404, description = "Not in this account")))]
        pub async fn $update(
            State(state): State<AppState>,
            member: Member,
            Path(id): Path<i64>,
            ApiJson(body): ApiJson<TypeBody>,
        ) -> ApiResult<Json<Value>> {
            do_update(&state, &member, id, body, $flavour).await
        }

        /// Same as PATCH.
        #[utoipa::path(put, path = $detail, tag = $tag, params(("id" = i64, Path)), request_body = TypeBody,
            responses((status = 200, description = "Updated")))]
        pub async fn $update_put(
            State(state): State<AppState>,
            member: Member,
            Path(id): Path<i64>,
            ApiJson(body): ApiJson<TypeBody>,
        ) -> ApiResult<Json<Value>> {
            do_update(&state, &member, id, body, $flavour).await
        }

        /// Delete a type no org unit uses (`iaso_org_unit_types`).
        #[utoipa::path(delete, path = $detail, tag = $tag, params(("id" = i64, Path)),
            responses((status = 204, description = "Deleted"), (status = 400, description = "Still used")))]
        pub async fn $delete(
            State(state): State<AppState>,
            member: Member,
            Path(id): Path<i64>,
        ) -> ApiResult<Response> {
            do_delete(&state, &member, id).await
        }
    };
}

type_routes!(
    Flavour::V2,
    "/api/v2/orgunittypes/",
    "/api/v2/orgunittypes/{id}/",
    "org unit types",
    list_v2,
    create_v2,
    retrieve_v2,
    update_v2,
    update_put_v2,
    delete_v2
);
type_routes!(
    Flavour::V1,
    "/api/orgunittypes/",
    "/api/orgunittypes/{id}/",
    "org unit types",
    list_v1,
    create_v1,
    retrieve_v1,
    update_v1,
    update_put_v1,
    delete_v1
);

fn hierarchy_json(t: &OrgUnitType, all: &HashMap<i64, OrgUnitType>, seen: &mut Vec<i64>) -> Value {
    seen.push(t.id.get());
    let mut subs: Vec<Value> = Vec::new();
    for s in &t.sub_unit_type_ids {
        if seen.contains(&s.get()) {
            continue;
        }
        if let Some(sub) = all.get(&s.get()) {
            subs.push(hierarchy_json(sub, all, seen));
        }
    }
    seen.pop();
    json!({
        "id": t.id,
        "name": t.name,
        "short_name": t.short_name,
        "depth": t.depth,
        "category": t.category,
        "sub_unit_types": subs,
    })
}

/// A type with its allowed sub types, recursively.
#[utoipa::path(get, path = "/api/v2/orgunittypes/{id}/hierarchy/", tag = "org unit types", params(("id" = i64, Path)),
    responses((status = 200, description = "Nested `sub_unit_types`"), (status = 404, description = "Not in this account")))]
pub async fn hierarchy(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let types = state.store.list_org_unit_types(member.account_id()).await?;
    let all: HashMap<i64, OrgUnitType> = types.into_iter().map(|t| (t.id.get(), t)).collect();
    let t = all.get(&id).ok_or(ApiError::NotFound)?;
    Ok(Json(hierarchy_json(t, &all, &mut Vec::new())))
}

/// Types for dropdowns: `[{id, name, depth, sub_unit_types: [ids]}]`.
#[utoipa::path(get, path = "/api/v2/orgunittypes/dropdown/", tag = "org unit types",
    responses((status = 200, description = "A list")))]
pub async fn dropdown(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let mut types = state.store.list_org_unit_types(member.account_id()).await?;
    types.sort_by_key(|t| (t.name.to_lowercase(), t.id));
    let search = q.get("search").map(str::to_lowercase);
    Ok(Json(json!(types
        .iter()
        .filter(|t| search
            .as_ref()
            .is_none_or(|s| t.name.to_lowercase().contains(s)))
        .map(|t| json!({"id": t.id, "name": t.name, "depth": t.depth, "sub_unit_types": t.sub_unit_type_ids}))
        .collect::<Vec<_>>())))
}
