//! `/api/enketo/submission`: a submission's answers edited in a browser (Iaso's Enketo edit
//! path; the dashboard sends what ODK Web Forms produced). The multipart body is OpenRosa's
//! (`xml_submission_file` + media); the XML's root names the submission in its `iasoInstance`
//! attribute.
//!
//! Unlike Iaso, which accepts anyone and trusts `meta/editUserID`, the caller must be
//! authenticated, hold `iaso_update_submission` and see the submission (account, profile
//! sub-trees and projects, as `/api/instances/`); a lock above the caller refuses the edit.
//! The editor recorded is the caller.

use super::instances::viewer;
use super::submissions::{ingest_error, split_multipart};
use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::extract::RawBody;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use iaso_domain::Permission;
use iaso_ingest::IngestError;
use iaso_store::StoreError;
use serde_json::json;

/// OpenRosa's pre-flight: the largest body accepted.
#[utoipa::path(head, path = "/api/enketo/submission", tag = "instances",
    responses((status = 204, description = "Ready; `x-openrosa-accept-content-length`")))]
pub async fn submission_head(State(state): State<AppState>) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = header::HeaderValue::from_str(&state.settings.max_body_bytes.to_string()) {
        r.headers_mut().insert(
            header::HeaderName::from_static("x-openrosa-accept-content-length"),
            v,
        );
    }
    r
}

/// Replaces a submission's answers with an edited XML (root attribute `iasoInstance` = the
/// submission's id): the XML is stored, the answers parsed again with the version it names,
/// `source_updated_at` set to now, the caller recorded as last editor, new media attached and
/// attachments the XML no longer names marked deleted; audited (`instance_api`). 404 for a
/// submission the caller does not see, 403 while a lock above the caller applies, 400 for
/// malformed XML or another form's answers.
#[utoipa::path(post, path = "/api/enketo/submission", tag = "instances",
    responses((status = 201, description = "`{result: \"success\", instance_id}`"),
              (status = 400, description = "Malformed XML, no iasoInstance, another form"),
              (status = 403, description = "No iaso_update_submission, or locked above the caller"),
              (status = 404, description = "Unknown submission")))]
pub async fn submission_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    member.require(Permission::UpdateSubmission)?;
    let parts = split_multipart(&headers, body).await?;
    let (_, xml) = parts
        .xml
        .ok_or_else(|| ApiError::field("xml_submission_file", "This field is required."))?;
    let viewer = viewer(&state, &member).await?;
    let (id, done) = iaso_ingest::xml::edit_answers(
        &state.store,
        &state.files,
        member.account_id(),
        &viewer,
        member.principal.user.id,
        &xml,
        &parts.media,
    )
    .await
    .map_err(|e| match e {
        IngestError::Store(StoreError::Conflict(message)) => ApiError::Forbidden(message),
        other => ingest_error(other),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "result": "success",
            "instance_id": id,
            "unchanged": done.unchanged,
            "removed_files": done.removed_files,
        })),
    )
        .into_response())
}
