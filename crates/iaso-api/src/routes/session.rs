//! Browser login and logout with a session cookie. The login answer also sets the
//! `csrftoken` cookie; cookie-authenticated writes must echo it in `X-CSRFToken`.

use crate::auth::{CSRF_COOKIE, SESSION_COOKIE};
use crate::error::ApiResult;
use crate::extract::JsonOrForm;
use crate::routes::token::{check_credentials, Credentials};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use iaso_domain::user::User;
use serde_json::{json, Value};

fn cookie(name: &'static str, value: String, http_only: bool, max_age: i64) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(http_only)
        .same_site(SameSite::Lax)
        .max_age(time_duration(max_age))
        .build()
}

fn time_duration(seconds: i64) -> time::Duration {
    time::Duration::seconds(seconds)
}

/// Log in a browser: sets the `sessionid` (HTTP-only) and `csrftoken` cookies.
#[utoipa::path(post, path = "/login/", tag = "auth", request_body = Credentials,
    responses((status = 200, description = "Logged in"), (status = 401, description = "Bad credentials")))]
pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    JsonOrForm(body): JsonOrForm<Credentials>,
) -> ApiResult<(CookieJar, Json<Value>)> {
    let user = check_credentials(&state, &body.username, &body.password).await?;
    let (jar, csrf_token) = start_session(&state, jar, &user).await?;
    Ok((
        jar,
        Json(json!({"detail": "Logged in.", "user_id": user.id, "csrf_token": csrf_token})),
    ))
}

/// Opens a session for `user` (at its current token version) and adds its cookies to `jar`;
/// also returns the CSRF token.
pub(crate) async fn start_session(
    state: &AppState,
    jar: CookieJar,
    user: &User,
) -> ApiResult<(CookieJar, String)> {
    let lifetime = state.settings.session_lifetime as i64;
    let session = state
        .store
        .create_session(
            user.id,
            user.token_version,
            chrono::Duration::seconds(lifetime),
        )
        .await?;
    let jar = jar
        .add(cookie(SESSION_COOKIE, session.key, true, lifetime))
        .add(cookie(
            CSRF_COOKIE,
            session.csrf_token.clone(),
            false,
            lifetime,
        ));
    Ok((jar, session.csrf_token))
}

async fn end_session(state: &AppState, jar: CookieJar) -> ApiResult<(CookieJar, Json<Value>)> {
    if let Some(c) = jar.get(SESSION_COOKIE) {
        state.store.delete_session(c.value()).await?;
    }
    let jar = jar
        .remove(Cookie::build(SESSION_COOKIE).path("/"))
        .remove(Cookie::build(CSRF_COOKIE).path("/"));
    Ok((jar, Json(json!({"detail": "Logged out."}))))
}

/// Log out: deletes the session and its cookies.
#[utoipa::path(post, path = "/logout/", tag = "auth", responses((status = 200, description = "Logged out")))]
pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
) -> ApiResult<(CookieJar, Json<Value>)> {
    end_session(&state, jar).await
}

/// Log out with a plain link, as Iaso's `/logout/` allows.
#[utoipa::path(get, path = "/logout/", tag = "auth", responses((status = 200, description = "Logged out")))]
pub async fn logout_get(
    State(state): State<AppState>,
    jar: CookieJar,
) -> ApiResult<(CookieJar, Json<Value>)> {
    end_session(&state, jar).await
}
