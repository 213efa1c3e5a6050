//! `/_health/` (and its aliases) as Iaso answers it, for load balancers and monitoring.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

async fn answer(state: &AppState) -> Response {
    let s = &state.settings;
    let mut body = json!({
        "up": "ok",
        "env": s.environment,
        "database": state.store.backend().name(),
        "DEPLOYED_ON": s.deployed_on.clone().unwrap_or_else(|| state.started_at.to_rfc3339()),
        "DEPLOYED_BY": s.deployed_by,
        "VERSION": env!("CARGO_PKG_VERSION"),
    });
    match state.store.count_accounts().await {
        Ok(n) => {
            body["account_count"] = json!(n);
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            body["error"] = json!("db_fail");
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// Service health: version, environment, deployment time and whether the database answers.
#[utoipa::path(get, path = "/_health/", tag = "health",
    responses((status = 200, description = "Up, database reachable"), (status = 503, description = "Database unreachable")))]
pub async fn health(State(state): State<AppState>) -> Response {
    answer(&state).await
}

/// Same as `/_health/`.
#[utoipa::path(get, path = "/health/", tag = "health", responses((status = 200, description = "Up")))]
pub async fn health_alias(State(state): State<AppState>) -> Response {
    answer(&state).await
}
