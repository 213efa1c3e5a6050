//! `/api/mobile/orgunits/?app_id=`: the pyramid for the mobile app, optionally paged
//! (`limit`, `page`), with shapes (`shapes=true`), or specific units (`ids=`). The whole
//! pyramid is streamed in chunks, so its size does not grow the server's memory.
//!
//! Extension (Iaso has none): `last_sync=<ISO 8601 time or epoch seconds>` answers only what
//! changed since, plus `deleted` (ids to drop) and the `last_sync` to send next time.

use crate::auth::MaybeCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::paging::pages;
use crate::routes::geo_common::app_project;
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use iaso_store::mobile::{MobileOrgUnit, MobileScope};
use serde_json::{json, Value};

/// Overlap of consecutive delta syncs: a write committed up to this long after it stamped
/// its `updated_at` is still picked up by the next sync.
const SYNC_OVERLAP: chrono::Duration = chrono::Duration::minutes(10);
const CHUNK: i64 = 2_000;

fn unit_json(u: &MobileOrgUnit, shapes: bool) -> Value {
    let mut v = json!({
        "name": u.name,
        "id": u.id,
        "parent_id": u.parent_id,
        "org_unit_type_id": u.org_unit_type_id,
        "org_unit_type_name": u.org_unit_type_name,
        "validation_status": u.validation_status,
        "created_at": epoch(u.created_at),
        "updated_at": epoch(u.updated_at),
        "latitude": u.latitude,
        "longitude": u.longitude,
        "altitude": u.altitude,
        "uuid": u.uuid,
        "aliases": u.aliases,
        "groups": u.groups,
        "opening_date": u.opening_date.map(|d| d.to_string()),
        "closed_date": u.closed_date.map(|d| d.to_string()),
    });
    if shapes {
        v["geo_json"] = u
            .shape
            .as_ref()
            .map(iaso_geo::geojson::to_geometry_value)
            .unwrap_or(Value::Null);
    }
    v
}

fn parse_since(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(secs) = s.parse::<f64>() {
        return DateTime::from_timestamp(secs.trunc() as i64, 0);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// The app's org units.
#[utoipa::path(get, path = "/api/mobile/orgunits/", tag = "mobile",
    params(("app_id" = String, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query),
           ("shapes" = Option<bool>, Query), ("ids" = Option<String>, Query),
           ("last_sync" = Option<String>, Query, description = "Extension: only changes since this time, with `deleted`")),
    responses((status = 200, description = "`{orgUnits: [...], roots: [...]}`, paged with `limit`"),
              (status = 404, description = "Unknown ids")))]
pub async fn list(
    State(state): State<AppState>,
    caller: MaybeCaller,
    q: QueryParams,
) -> ApiResult<Response> {
    let Some(app_id) = q.get("app_id") else {
        return Ok(Json(Value::Null).into_response());
    };
    let started = Utc::now();
    let project = app_project(&state, caller.0.as_ref(), app_id).await?;
    let roots_of_caller: Vec<i64> = caller
        .0
        .as_ref()
        .and_then(|p| p.membership.as_ref())
        .map(|m| m.org_unit_ids.iter().map(|i| i.get()).collect())
        .unwrap_or_default();
    let Some(project) = project else {
        return Ok(Json(json!({"orgUnits": [], "roots": roots_of_caller})).into_response());
    };
    let account = state.store.account(project.account_id).await?;
    let Some(version) = account.default_version_id else {
        return Ok(Json(json!({"orgUnits": [], "roots": roots_of_caller})).into_response());
    };
    // With LIMIT_OU_DOWNLOAD_TO_ROOTS, an authenticated user gets its sub-trees only.
    let limit_to_roots = caller.0.is_some()
        && project
            .feature_flags
            .iter()
            .any(|f| f.flag.code == "LIMIT_OU_DOWNLOAD_TO_ROOTS");
    let roots = if limit_to_roots {
        let member_roots: Vec<iaso_domain::OrgUnitId> = caller
            .0
            .as_ref()
            .filter(|p| !p.user.is_superuser)
            .and_then(|p| p.membership.as_ref())
            .filter(|m| m.account.id == account.id)
            .map(|m| m.org_unit_ids.clone())
            .unwrap_or_default();
        state
            .store
            .org_unit_scope(account.id, &member_roots)
            .await?
            .roots
    } else {
        Vec::new()
    };
    let shapes = q.get("shapes") == Some("true");
    let since = match q.get("last_sync") {
        Some(s) => Some(parse_since(s).ok_or_else(|| {
            ApiError::field("last_sync", "Expected an ISO 8601 time or epoch seconds.")
        })?),
        None => None,
    };
    let ids = match q.get("ids") {
        Some(_) => Some(q.ids("ids")?),
        None => None,
    };
    let scope = MobileScope {
        project_id: project.id.get(),
        version_id: version.get(),
        roots,
        since,
        ids: ids.clone(),
    };
    if let Some(ids) = ids {
        let units = state
            .store
            .mobile_org_units(&scope, None, 0, ids.len().max(1) as i64, shapes)
            .await?;
        let mut wanted = ids.clone();
        wanted.sort_unstable();
        wanted.dedup();
        if units.len() != wanted.len() {
            return Ok((StatusCode::NOT_FOUND, "One or more IDs were not found.").into_response());
        }
        return Ok(Json(json!({
            "orgUnits": units.iter().map(|u| unit_json(u, shapes)).collect::<Vec<_>>()
        }))
        .into_response());
    }
    let page = q.i64("page")?.unwrap_or(1).max(1);
    let mut head = serde_json::Map::new();
    if page == 1 {
        head.insert("roots".into(), json!(roots_of_caller));
    }
    if let Some(since) = since {
        head.insert(
            "deleted".into(),
            json!(state.store.mobile_deleted_since(&scope, since).await?),
        );
        head.insert(
            "last_sync".into(),
            json!((started - SYNC_OVERLAP).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
    }
    if let Some(limit) = q.i64("limit")? {
        if limit < 1 {
            return Err(ApiError::field("limit", "Ensure this value is at least 1."));
        }
        // Iaso caps pages at 1000 when shapes are asked.
        let limit = if shapes { limit.min(1000) } else { limit };
        let count = state.store.mobile_count(&scope).await?;
        let n_pages = pages(count, limit);
        if page > n_pages {
            return Err(ApiError::InvalidPage);
        }
        let units = state
            .store
            .mobile_org_units(&scope, None, (page - 1) * limit, limit, shapes)
            .await?;
        let mut body = serde_json::Map::new();
        body.insert("count".into(), json!(count));
        body.insert(
            "orgUnits".into(),
            json!(units
                .iter()
                .map(|u| unit_json(u, shapes))
                .collect::<Vec<_>>()),
        );
        body.insert("has_next".into(), json!(page < n_pages));
        body.insert("has_previous".into(), json!(page > 1));
        body.insert("page".into(), json!(page));
        body.insert("pages".into(), json!(n_pages));
        body.insert("limit".into(), json!(limit));
        body.extend(head);
        return Ok(Json(Value::Object(body)).into_response());
    }
    Ok(stream_all(state, scope, shapes, head))
}

/// Streams `{"orgUnits": [...], <head>}` chunk by chunk.
fn stream_all(
    state: AppState,
    scope: MobileScope,
    shapes: bool,
    head: serde_json::Map<String, Value>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut after: Option<String> = None;
        let mut first = true;
        if tx.send(Ok(b"{\"orgUnits\": [".to_vec())).await.is_err() {
            return;
        }
        loop {
            let units = match state
                .store
                .mobile_org_units(&scope, after.as_deref(), 0, CHUNK, shapes)
                .await
            {
                Ok(u) => u,
                Err(e) => {
                    tracing::error!(cause = %e, "mobile pyramid stream failed");
                    let _ = tx.send(Err(std::io::Error::other("database error"))).await;
                    return;
                }
            };
            let Some(last) = units.last() else { break };
            after = Some(last.path.clone());
            let mut buf = Vec::with_capacity(units.len() * 300);
            for u in &units {
                if !first {
                    buf.push(b',');
                }
                first = false;
                if serde_json::to_writer(&mut buf, &unit_json(u, shapes)).is_err() {
                    return;
                }
            }
            if tx.send(Ok(buf)).await.is_err() {
                return;
            }
            if (units.len() as i64) < CHUNK {
                break;
            }
        }
        let mut tail = b"]".to_vec();
        for (k, v) in &head {
            tail.extend_from_slice(b", ");
            let _ = serde_json::to_writer(&mut tail, k);
            tail.extend_from_slice(b": ");
            let _ = serde_json::to_writer(&mut tail, v);
        }
        tail.push(b'}');
        let _ = tx.send(Ok(tail)).await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Org units created on the device (see `POST /api/orgunits/`).
#[utoipa::path(post, path = "/api/mobile/orgunits/", tag = "mobile", request_body = Object,
    params(("app_id" = String, Query)),
    responses((status = 200, description = "The created units")))]
pub async fn create(
    State(state): State<AppState>,
    caller: MaybeCaller,
    q: QueryParams,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    crate::routes::org_units::create_from_mobile(&state, &caller, &q, body).await
}
