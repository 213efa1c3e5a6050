//! `/api/accounts/`: the accounts of the caller, and switching between them.

use crate::auth::{Caller, Member};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use iaso_domain::{AccountId, FieldErrors, Module, Permission, SourceVersionId};
use serde::Deserialize;
use serde_json::{json, Value};

/// The accounts the caller belongs to (`iaso_account_management`).
#[utoipa::path(get, path = "/api/accounts/", tag = "accounts",
    params(("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "`{results: [{id, name, created_at, updated_at}]}`")))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    member.require(Permission::AccountManagement)?;
    let accounts = state
        .store
        .accounts_of_user(member.principal.user.id)
        .await?;
    let paging = Paging::from_query(&q, None)?;
    let count = accounts.len() as i64;
    let paging = paging.resolve(count, OutOfRange::NotFound)?;
    let req = paging.request();
    let items: Vec<Value> = accounts
        .iter()
        .skip(usize::try_from(req.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(req.limit).unwrap_or(usize::MAX))
        .map(|a| json!({"id": a.id, "name": a.name, "created_at": epoch(a.created_at), "updated_at": epoch(a.updated_at)}))
        .collect();
    Ok(Json(paging.envelope("results", items, count)))
}

/// One of the caller's accounts (`iaso_account_management`).
#[utoipa::path(get, path = "/api/accounts/{id}/", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, description = "Account"), (status = 404, description = "Not one of the caller's accounts")))]
pub async fn retrieve(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    member.require(Permission::AccountManagement)?;
    let accounts = state
        .store
        .accounts_of_user(member.principal.user.id)
        .await?;
    let a = accounts
        .iter()
        .find(|a| a.id == AccountId(id))
        .ok_or(ApiError::NotFound)?;
    Ok(Json(json!({
        "id": a.id,
        "name": a.name,
        "created_at": epoch(a.created_at),
        "updated_at": epoch(a.updated_at),
        "user_manual_path": a.user_manual_path,
        "forum_path": a.forum_path,
        "modules": a.modules,
        "feature_flags": a.feature_flags,
        "enforce_password_validation": a.enforce_password_validation,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountChanges {
    modules: Option<Vec<String>>,
    feature_flags: Option<Vec<String>>,
}

/// Change the current account's modules or feature flags (`iaso_account_management`;
/// modules need a superuser, since they decide which permissions exist).
#[utoipa::path(patch, path = "/api/accounts/{id}/", tag = "accounts", params(("id" = i64, Path)), request_body = AccountChanges,
    responses((status = 204, description = "Updated"), (status = 404, description = "Not the current account")))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AccountChanges>,
) -> ApiResult<StatusCode> {
    member.require(Permission::AccountManagement)?;
    if member.account_id() != AccountId(id) {
        return Err(ApiError::NotFound);
    }
    if let Some(codes) = &body.modules {
        if !member.principal.user.is_superuser {
            return Err(ApiError::Forbidden(
                "Only a superuser can change the modules of an account.".into(),
            ));
        }
        let mut errors = FieldErrors::new();
        let modules: Vec<Module> = codes
            .iter()
            .filter_map(|c| {
                let m = Module::from_code(c);
                if m.is_none() {
                    errors.add("modules", format!("Unknown module {c:?}."));
                }
                m
            })
            .collect();
        errors.into_result()?;
        state
            .store
            .set_account_modules(AccountId(id), &modules)
            .await?;
    }
    if let Some(flags) = &body.feature_flags {
        state
            .store
            .set_account_feature_flags(AccountId(id), flags)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DefaultVersionBody {
    default_version: Option<i64>,
}

/// Set the account's default version, the pyramid its users work on (`iaso_sources`; Iaso's
/// `set-default-version` action): a version of one of the account's data sources.
#[utoipa::path(put, path = "/api/accounts/{id}/set-default-version/", tag = "accounts", params(("id" = i64, Path)),
    request_body = DefaultVersionBody,
    responses((status = 204, description = "Set"), (status = 400, description = "Unknown version"),
              (status = 404, description = "Not the current account")))]
pub async fn set_default_version(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<DefaultVersionBody>,
) -> ApiResult<StatusCode> {
    member.require(Permission::Sources)?;
    if member.account_id() != AccountId(id) {
        return Err(ApiError::NotFound);
    }
    let Some(version) = body.default_version else {
        return Err(ApiError::field(
            "default_version",
            "This field is required.",
        ));
    };
    match state
        .store
        .set_account_default_version(AccountId(id), Some(SourceVersionId(version)))
        .await
    {
        Err(iaso_store::StoreError::Invalid(_)) => Err(ApiError::field(
            "default_version",
            "Account not allowed to access this default_source.",
        )),
        other => other.map(|()| StatusCode::NO_CONTENT).map_err(Into::into),
    }
}

/// `PATCH` does the same as `PUT` (Iaso accepts both).
#[utoipa::path(patch, path = "/api/accounts/{id}/set-default-version/", tag = "accounts", params(("id" = i64, Path)),
    request_body = DefaultVersionBody,
    responses((status = 204, description = "Set")))]
pub async fn set_default_version_patch(
    state: State<AppState>,
    member: Member,
    id: Path<i64>,
    body: ApiJson<DefaultVersionBody>,
) -> ApiResult<StatusCode> {
    set_default_version(state, member, id, body).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SwitchBody {
    account_id: i64,
}

/// Work in another of the caller's accounts from now on (tokens stay valid).
#[utoipa::path(post, path = "/api/accounts/switch/", tag = "accounts", request_body = SwitchBody,
    responses((status = 204, description = "Switched"), (status = 400, description = "Not one of the caller's accounts")))]
pub async fn switch(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SwitchBody>,
) -> ApiResult<StatusCode> {
    match state
        .store
        .switch_account(caller.principal.user.id, AccountId(body.account_id))
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(iaso_store::StoreError::NotFound) => Err(ApiError::field(
            "account_id",
            format!(
                "Invalid pk \"{}\" - object does not exist.",
                body.account_id
            ),
        )),
        Err(e) => Err(e.into()),
    }
}
