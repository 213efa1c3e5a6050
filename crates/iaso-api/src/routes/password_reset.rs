//! Password reset by e-mail: request a link, then set a new password with its token. The
//! request answers the same whether or not the address is known.

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use iaso_domain::password::check_new_password;
use iaso_domain::user::User;
use iaso_domain::FieldErrors;
use serde::Deserialize;
use serde_json::{json, Value};

const RESET_LIFETIME_HOURS: i64 = 24;
const INVITATION_LIFETIME_DAYS: i64 = 7;

fn link(state: &AppState, token: &str) -> String {
    format!(
        "{}/reset-password/?token={token}",
        state.settings.public_url.trim_end_matches('/')
    )
}

/// Sends an invitation to set a first password; failures are logged, not fatal.
pub(crate) async fn send_invitation(
    state: &AppState,
    user: &User,
    email: &str,
    account_name: &str,
) {
    let token = match state
        .store
        .create_reset_token(user.id, chrono::Duration::days(INVITATION_LIFETIME_DAYS))
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "could not create the invitation token");
            return;
        }
    };
    let body = format!(
        "Hello,\n\nAn account was created for you on {account_name} with the username {}.\n\
         Choose your password here (the link works for {INVITATION_LIFETIME_DAYS} days):\n{}\n",
        user.username,
        link(state, &token)
    );
    if let Err(e) = state.mailer.send(email, "Your account", &body).await {
        tracing::error!(error = %e, "could not send the invitation");
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetRequest {
    email: String,
}

/// Ask for a password-reset link by e-mail.
#[utoipa::path(post, path = "/api/password_reset/", tag = "auth", request_body = ResetRequest,
    responses((status = 200, description = "Sent if the address is known")))]
pub async fn request(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetRequest>,
) -> ApiResult<Json<Value>> {
    let email = body.email.trim();
    if !iaso_domain::user::valid_email(email) {
        return Err(ApiError::field("email", "Enter a valid email address."));
    }
    for user in state.store.users_by_email(email).await? {
        let token = state
            .store
            .create_reset_token(user.id, chrono::Duration::hours(RESET_LIFETIME_HOURS))
            .await?;
        let text = format!(
            "Hello {},\n\nSomeone asked to reset your password. If it was you, choose a new one here \
             (the link works for {RESET_LIFETIME_HOURS} hours):\n{}\n\nOtherwise ignore this message.\n",
            user.username,
            link(&state, &token)
        );
        if let Err(e) = state.mailer.send(email, "Password reset", &text).await {
            tracing::error!(error = %e, "could not send the password-reset mail");
        }
    }
    Ok(Json(
        json!({"detail": "If this address belongs to a user, a reset link was sent to it."}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetConfirm {
    token: String,
    password: String,
}

/// Set a new password with the token from the mail; the token works once.
#[utoipa::path(post, path = "/api/password_reset/confirm/", tag = "auth", request_body = ResetConfirm,
    responses((status = 200, description = "Password changed"), (status = 400, description = "Bad token or password")))]
pub async fn confirm(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetConfirm>,
) -> ApiResult<Json<Value>> {
    let invalid = || ApiError::field("token", "This link is invalid, expired or already used.");
    // Check the password (against the token's username too) before spending the token, so
    // that a refused password can be retried with the same link.
    let Some(user_id) = state.store.reset_token_user(&body.token).await? else {
        return Err(invalid());
    };
    let user = state.store.user(user_id).await?;
    if let Err(problems) = check_new_password(&body.password, &user.username) {
        let mut errors = FieldErrors::new();
        for p in problems {
            errors.add("password", p);
        }
        return Err(errors.into());
    }
    let hasher = state.hasher.clone();
    let password = body.password.clone();
    let hash = tokio::task::spawn_blocking(move || hasher.hash(&password))
        .await
        .map_err(ApiError::internal)?;
    // Spending it is the check that counts: a concurrent use wins once.
    if state.store.consume_reset_token(&body.token).await? != Some(user_id) {
        return Err(invalid());
    }
    state.store.set_password_hash(user_id, &hash).await?;
    Ok(Json(
        json!({"detail": "Password changed; log in with the new one."}),
    ))
}
