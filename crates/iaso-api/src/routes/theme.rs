//! `/api/theme/`: the dashboard's look from configuration (title, logo, favicon, colours).
//! Open to anonymous callers: the login page needs it.

use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

/// The dashboard theme: `app_title`, `logo_url` and `favicon_url` (empty: built-in),
/// `primary_color`, `secondary_color`, `primary_background_color`, `show_name_with_logo`.
#[utoipa::path(get, path = "/api/theme/", tag = "dashboard",
    responses((status = 200, description = "Theme settings")))]
pub async fn theme(State(state): State<AppState>) -> Json<Value> {
    let s = &state.settings;
    Json(json!({
        "app_title": s.app_title,
        "logo_url": s.logo_url,
        "favicon_url": s.favicon_url,
        "primary_color": s.theme_primary_color,
        "secondary_color": s.theme_secondary_color,
        "primary_background_color": s.theme_primary_background_color,
        "show_name_with_logo": s.show_name_with_logo,
    }))
}
