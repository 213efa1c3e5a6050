//! `/api/userroles/`: named permission sets of the account. Reading: any member; writing:
//! `iaso_user_roles`.

use crate::auth::Member;
use crate::error::ApiResult;
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use iaso_domain::validation::required_text;
use iaso_domain::{FieldErrors, OrgUnitTypeId, Permission, UserRoleId};
use iaso_store::user_roles::UserRole;
use serde::Deserialize;
use serde_json::{json, Value};

fn role_json(r: &UserRole) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "permissions": r.permissions,
        "editable_org_unit_type_ids": r.editable_org_unit_type_ids,
        "created_at": epoch(r.created_at),
        "updated_at": epoch(r.updated_at),
    })
}

/// The account's roles, by name (`order=-group__name` reverses); `search` in names.
#[utoipa::path(get, path = "/api/userroles/", tag = "user roles",
    params(("search" = Option<String>, Query), ("order" = Option<String>, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "`{results: [...]}` or paged")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let descending = q.get("order").is_some_and(|o| o.starts_with('-'));
    let roles = state
        .store
        .list_user_roles(member.account_id(), q.get("search"), descending)
        .await?;
    let paging = Paging::from_query(&q, None)?;
    let count = roles.len() as i64;
    let paging = paging.resolve(count, OutOfRange::NotFound)?;
    let req = paging.request();
    let items: Vec<Value> = roles
        .iter()
        .skip(usize::try_from(req.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(req.limit).unwrap_or(usize::MAX))
        .map(role_json)
        .collect();
    Ok(Json(paging.envelope("results", items, count)))
}

/// One role.
#[utoipa::path(get, path = "/api/userroles/{id}/", tag = "user roles", params(("id" = i64, Path)),
    responses((status = 200, description = "Role"), (status = 404, description = "Not in this account")))]
pub async fn retrieve(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let r = state
        .store
        .user_role(member.account_id(), UserRoleId(id))
        .await?;
    Ok(Json(role_json(&r)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RoleBody {
    name: Option<String>,
    permissions: Option<Vec<String>>,
    editable_org_unit_type_ids: Option<Vec<i64>>,
}

fn validate(
    member: &Member,
    body: &RoleBody,
    creating: bool,
) -> ApiResult<(Option<String>, Option<Vec<Permission>>)> {
    let mut errors = FieldErrors::new();
    let name = match (&body.name, creating) {
        (Some(n), _) => Some(required_text(&mut errors, "name", n, 150)),
        (None, true) => {
            errors.add("name", "This field is required.");
            None
        }
        (None, false) => None,
    };
    let modules = &member.membership().account.modules;
    let permissions = body.permissions.as_ref().map(|codes| {
        let mut invalid = Vec::new();
        let mut perms = Vec::new();
        for code in codes {
            match Permission::from_code(code).filter(|p| p.available_with(modules)) {
                Some(p) => perms.push(p),
                None => invalid.push(code.as_str()),
            }
        }
        if !invalid.is_empty() {
            errors.add(
                "permissions",
                format!("Invalid permission codenames: {}", invalid.join(", ")),
            );
        }
        perms
    });
    if permissions
        .as_ref()
        .is_some_and(|p| p.contains(&Permission::Users))
        && !member.has(Permission::Users)
    {
        errors.add(
            "permissions",
            "Only a user holding iaso_users may grant it.",
        );
    }
    errors.into_result()?;
    Ok((name, permissions))
}

/// The editable org unit types must be types of the account (checked before anything is
/// written).
async fn check_types(state: &AppState, member: &Member, body: &RoleBody) -> ApiResult<()> {
    let Some(wanted) = body
        .editable_org_unit_type_ids
        .as_ref()
        .filter(|t| !t.is_empty())
    else {
        return Ok(());
    };
    let types = state.store.list_org_unit_types(member.account_id()).await?;
    if wanted
        .iter()
        .all(|w| types.iter().any(|t| t.id.get() == *w))
    {
        Ok(())
    } else {
        Err(crate::error::ApiError::field(
            "editable_org_unit_type_ids",
            "Invalid pk - object does not exist.",
        ))
    }
}

/// Create a role (`iaso_user_roles`). Names are unique in the account, ignoring case.
#[utoipa::path(post, path = "/api/userroles/", tag = "user roles", request_body = RoleBody,
    responses((status = 201, description = "Created"), (status = 400, description = "Field errors")))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::UserRoles)?;
    let (name, permissions) = validate(&member, &body, true)?;
    check_types(&state, &member, &body).await?;
    let r = state
        .store
        .create_user_role(
            member.account_id(),
            name.as_deref().unwrap_or_default(),
            &permissions.unwrap_or_default(),
        )
        .await?;
    let r = match &body.editable_org_unit_type_ids {
        Some(types) => {
            state
                .store
                .set_user_role_editable_types(
                    member.account_id(),
                    r.id,
                    &types.iter().map(|t| OrgUnitTypeId(*t)).collect::<Vec<_>>(),
                )
                .await?
        }
        None => r,
    };
    Ok((StatusCode::CREATED, Json(role_json(&r))))
}

/// Rename a role and/or replace its permissions (`iaso_user_roles`).
#[utoipa::path(put, path = "/api/userroles/{id}/", tag = "user roles", params(("id" = i64, Path)), request_body = RoleBody,
    responses((status = 200, description = "Updated"), (status = 404, description = "Not in this account")))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<RoleBody>,
) -> ApiResult<Json<Value>> {
    member.require(Permission::UserRoles)?;
    let (name, permissions) = validate(&member, &body, false)?;
    check_types(&state, &member, &body).await?;
    let r = state
        .store
        .update_user_role(
            member.account_id(),
            UserRoleId(id),
            name.as_deref(),
            permissions.as_deref(),
        )
        .await?;
    let r = match &body.editable_org_unit_type_ids {
        Some(types) => {
            state
                .store
                .set_user_role_editable_types(
                    member.account_id(),
                    r.id,
                    &types.iter().map(|t| OrgUnitTypeId(*t)).collect::<Vec<_>>(),
                )
                .await?
        }
        None => r,
    };
    Ok(Json(role_json(&r)))
}

/// Delete a role (`iaso_user_roles`); users who had it lose its permissions.
#[utoipa::path(delete, path = "/api/userroles/{id}/", tag = "user roles", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not in this account")))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    member.require(Permission::UserRoles)?;
    state
        .store
        .delete_user_role(member.account_id(), UserRoleId(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
