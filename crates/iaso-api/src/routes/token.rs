//! `POST /api/token/` and `POST /api/token/refresh/` (SimpleJWT's contract).

use crate::error::{ApiError, ApiResult};
use crate::extract::JsonOrForm;
use crate::jwt::TokenType;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use iaso_domain::user::User;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshBody {
    pub refresh: String,
}

const BAD_CREDENTIALS: &str = "No active account found with the given credentials";

/// Checks a username and password with throttling; the same answer for an unknown user and a
/// wrong password, after the same amount of work.
pub(crate) async fn check_credentials(
    state: &AppState,
    username: &str,
    password: &str,
) -> ApiResult<User> {
    let store = &state.store;
    if let Some(until) = store.login_locked_until(username).await? {
        let wait = (until - chrono::Utc::now()).num_seconds().max(1);
        return Err(ApiError::TooManyRequests {
            retry_after: wait,
            detail: format!("Too many failed login attempts; try again in {wait} seconds."),
        });
    }
    let found = store.credentials(username).await?;
    let hasher = state.hasher.clone();
    let candidate = password.to_string();
    let verified = tokio::task::spawn_blocking(move || match &found {
        Some(c) if c.user.is_active => hasher
            .verify(&c.password_hash, &candidate)
            .then(|| c.user.clone()),
        _ => {
            hasher.verify_decoy(&candidate);
            None
        }
    })
    .await
    .map_err(ApiError::internal)?;
    match verified {
        Some(user) => {
            store.clear_login_failures(username).await?;
            store.record_login(user.id).await?;
            Ok(user)
        }
        None => {
            if let Some(until) = store
                .record_login_failure(username, &state.throttle)
                .await?
            {
                tracing::warn!(username, %until, "login locked after repeated failures");
            }
            Err(ApiError::Unauthenticated(BAD_CREDENTIALS.into()))
        }
    }
}

fn pair(state: &AppState, user: &User) -> ApiResult<Value> {
    let access = state
        .jwt
        .issue(user.id, user.token_version, TokenType::Access)
        .map_err(ApiError::internal)?;
    let refresh = state
        .jwt
        .issue(user.id, user.token_version, TokenType::Refresh)
        .map_err(ApiError::internal)?;
    Ok(json!({ "refresh": refresh, "access": access }))
}

/// Obtain an access/refresh token pair. Any `Authorization` header is ignored.
#[utoipa::path(post, path = "/api/token/", tag = "auth", request_body = Credentials,
    responses((status = 200, description = "`{refresh, access}`"), (status = 401, description = "Bad credentials"),
               (status = 429, description = "Too many failed attempts")))]
pub async fn obtain(
    State(state): State<AppState>,
    JsonOrForm(body): JsonOrForm<Credentials>,
) -> ApiResult<Json<Value>> {
    let user = check_credentials(&state, &body.username, &body.password).await?;
    Ok(Json(pair(&state, &user)?))
}

/// Trade a refresh token for a new pair (the refresh token is rotated).
#[utoipa::path(post, path = "/api/token/refresh/", tag = "auth", request_body = RefreshBody,
    responses((status = 200, description = "`{access, refresh}`"), (status = 401, description = "Invalid or expired refresh token")))]
pub async fn refresh(
    State(state): State<AppState>,
    JsonOrForm(body): JsonOrForm<RefreshBody>,
) -> ApiResult<Json<Value>> {
    let claims = state
        .jwt
        .verify(&body.refresh, TokenType::Refresh)
        .ok_or(ApiError::InvalidToken)?;
    let user = state
        .store
        .user(iaso_domain::UserId(claims.user_id))
        .await
        .map_err(|_| ApiError::InvalidToken)?;
    if !user.is_active || user.token_version != claims.ver {
        return Err(ApiError::InvalidToken);
    }
    Ok(Json(pair(&state, &user)?))
}
