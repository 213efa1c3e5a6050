//! Receiving submissions: the Iaso mobile flow (`POST /api/instances/?app_id=` with the
//! metadata, `POST /sync/form_upload/` with the XML and media, in either order) and OpenRosa
//! 1.0 for ODK Collect and Enketo (`/openrosa/{app_id}/formList`, form download, manifest,
//! `submission`).
//!
//! Every upload is logged raw first (`api_imports` row + the raw body in the file store),
//! in its own transaction, before anything is parsed: a failed or crashed import can be
//! inspected and replayed, and nothing a device sent is lost. Each submission is then saved in
//! one transaction, idempotently (see docs/decisions/0500-submissions.md), by
//! [`iaso_ingest`], which the bulk-upload task shares.

use super::forms::{base_url, manifest_response, openrosa_xml};
use crate::auth::MaybeCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryParams, RawBody};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use iaso_domain::project::Project;
use iaso_domain::{AccountId, UserId};
use iaso_ingest::{IngestError, Keying, Media, MediaData};
use iaso_store::audit::sources as audit_sources;
use iaso_store::instances::{NewApiImport, UploadContext, XmlOutcome};
use iaso_store::principal::Principal;
use serde_json::{json, Value};

/// Headers kept with a raw upload.
fn headers_json(method: &Method, path: &str, query: &str, headers: &HeaderMap) -> Value {
    let get = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    json!({
        "REQUEST_METHOD": method.as_str(),
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": get("content-type"),
        "CONTENT_LENGTH": get("content-length"),
        "HTTP_USER_AGENT": get("user-agent"),
        "HTTP_X_FORWARDED_FOR": get("x-forwarded-for"),
        "HTTP_X_OPENROSA_VERSION": get("x-openrosa-version"),
        "HTTP_DATE": get("date"),
    })
}

struct Logged {
    id: i64,
}

/// Logs a raw upload (body in the file store unless it is JSON kept in the row).
#[allow(clippy::too_many_arguments)]
async fn log_raw(
    state: &AppState,
    kind: &str,
    method: &Method,
    path: &str,
    q: &QueryParams,
    query: &str,
    headers: &HeaderMap,
    account: Option<AccountId>,
    user: Option<UserId>,
    body: &Bytes,
    json_body: Option<Value>,
) -> ApiResult<Logged> {
    let (file, size) = if json_body.is_none() && !body.is_empty() {
        let key = format!(
            "raw/{}/{}_{kind}.bin",
            iaso_ingest::month(),
            uuid::Uuid::new_v4().simple()
        );
        state
            .files
            .put(&key, body.clone())
            .await
            .map_err(ApiError::internal)?;
        (Some(key), Some(body.len() as i64))
    } else {
        (None, None)
    };
    let id = state
        .store
        .log_api_import(&NewApiImport {
            account,
            user,
            import_type: kind.into(),
            json_body,
            headers: headers_json(method, path, query, headers),
            file,
            file_size: size,
            app_id: q.get("app_id").unwrap_or("").into(),
            app_version: q.get("app_version").unwrap_or("").into(),
        })
        .await?;
    Ok(Logged { id })
}

async fn finish(
    state: &AppState,
    logged: &Logged,
    account: Option<AccountId>,
    problem: Option<String>,
) {
    if let Err(e) = state
        .store
        .finish_api_import(logged.id, account, problem.as_deref())
        .await
    {
        tracing::error!(error = %e, id = logged.id, "cannot record the outcome of a raw upload");
    }
}

fn problem_text(e: &ApiError) -> String {
    match e {
        ApiError::Invalid(errors) => errors
            .iter()
            .map(|(f, m)| format!("{f}: {}", m.join(" ")))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// The project of `app_id` and the caller, checked as Iaso does for mobile writes.
async fn app_context(
    state: &AppState,
    caller: &Option<Principal>,
    app_id: Option<&str>,
) -> ApiResult<(Option<Project>, UploadContext)> {
    let project = match app_id {
        Some(a) => Some(
            state
                .store
                .project_by_app_id(a)
                .await?
                .ok_or_else(|| ApiError::field("app_id", format!("Unknown app_id {a:?}.")))?,
        ),
        None => None,
    };
    let user = caller.as_ref().map(|p| p.user.id);
    let caller_account = caller.as_ref().and_then(|p| p.account_id());
    match (&project, caller_account) {
        (Some(p), Some(a)) if p.account_id != a => Err(ApiError::Unauthenticated(
            "This app belongs to another account.".into(),
        )),
        (Some(p), None) if p.needs_authentication => Err(ApiError::Unauthenticated(
            "This project requires authentication.".into(),
        )),
        (Some(p), _) => Ok((
            project.clone(),
            UploadContext {
                account: Some(p.account_id),
                project: Some(p.id.get()),
                user,
            },
        )),
        (None, account) => Ok((
            None,
            UploadContext {
                account,
                project: None,
                user,
            },
        )),
    }
}

// ------------------------------------------------------------------ metadata call

/// The mobile app's metadata call: a JSON list of submissions. Idempotent: a known `id`
/// changes nothing; the XML may come before or after (`/sync/form_upload/`).
#[utoipa::path(post, path = "/api/instances/", tag = "instances",
    params(("app_id" = String, Query)),
    responses((status = 200, description = "`{res: \"ok\"}`"), (status = 400, description = "What was wrong, per item")))]
pub async fn mobile_post(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    caller: MaybeCaller,
    q: QueryParams,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let json_body: Option<Value> = serde_json::from_slice(&body).ok();
    let user = caller.0.as_ref().map(|p| p.user.id);
    let account = caller.0.as_ref().and_then(|p| p.account_id());
    let logged = log_raw(
        &state,
        "instance",
        &method,
        uri.path(),
        &q,
        uri.query().unwrap_or(""),
        &headers,
        account,
        user,
        &body,
        json_body.clone(),
    )
    .await?;
    let result = mobile_post_inner(&state, &caller.0, &q, json_body).await;
    match result {
        Ok((account, errors)) if errors.is_empty() => {
            finish(&state, &logged, account, None).await;
            Ok(Json(json!({"res": "ok"})).into_response())
        }
        Ok((account, errors)) => {
            finish(&state, &logged, account, Some(errors.join("; "))).await;
            let mut fe = iaso_domain::FieldErrors::new();
            for e in errors {
                fe.add("instances", e);
            }
            Err(ApiError::Invalid(fe))
        }
        Err(e) => {
            finish(&state, &logged, account, Some(problem_text(&e))).await;
            Err(e)
        }
    }
}

async fn mobile_post_inner(
    state: &AppState,
    caller: &Option<Principal>,
    q: &QueryParams,
    json_body: Option<Value>,
) -> ApiResult<(Option<AccountId>, Vec<String>)> {
    let (project, ctx) = app_context(state, caller, q.get("app_id")).await?;
    if project.is_none() {
        return Err(ApiError::field("app_id", "This field is required."));
    }
    let items = iaso_ingest::meta::items_of(json_body).map_err(|_| {
        ApiError::BadRequest(
            "Send a JSON list of submissions (Content-Type: application/json).".into(),
        )
    })?;
    let errors = iaso_ingest::meta::ingest_items(&state.store, &state.files, ctx, &items)
        .await
        .map_err(ingest_error)?;
    Ok((ctx.account, errors))
}

/// An ingest failure as an API error (bad input 400, the rest 500).
pub(crate) fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::Invalid(fe) => ApiError::Invalid(fe),
        IngestError::Store(se) => se.into(),
        IngestError::Files(fe) => ApiError::internal(fe),
    }
}

// ------------------------------------------------------------------ XML call

pub(crate) struct Parts {
    pub(crate) xml: Option<(String, Bytes)>,
    pub(crate) media: Vec<Media>,
}

pub(crate) async fn split_multipart(headers: &HeaderMap, body: Bytes) -> ApiResult<Parts> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(ct).map_err(|_| {
        ApiError::BadRequest(
            "Send the submission as multipart/form-data with an xml_submission_file part.".into(),
        )
    })?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut parts = Parts {
        xml: None,
        media: Vec::new(),
    };
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(format!("Invalid multipart body: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(String::from);
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::BadRequest(format!("Invalid multipart body: {e}")))?;
        if name == "xml_submission_file" {
            parts.xml = Some((file_name.unwrap_or_else(|| "submission.xml".into()), data));
        } else if file_name.is_some() || !data.is_empty() {
            let label = if name.is_empty() {
                file_name.unwrap_or_default()
            } else {
                name
            };
            parts.media.push(Media {
                name: label,
                data: MediaData::Bytes(data),
            });
        }
    }
    Ok(parts)
}

async fn ingest_parts(
    state: &AppState,
    ctx: UploadContext,
    parts: Parts,
    keying: Keying,
    source: &str,
) -> ApiResult<XmlOutcome> {
    let (xml_name, xml) = parts
        .xml
        .ok_or_else(|| ApiError::field("xml_submission_file", "This field is required."))?;
    iaso_ingest::xml::ingest(
        &state.store,
        &state.files,
        ctx,
        &xml_name,
        &xml,
        &parts.media,
        keying,
        source,
    )
    .await
    .map_err(ingest_error)
}

/// The mobile app's XML call (multipart `xml_submission_file` + media files). Works with or
/// without a token; anonymous uploads only complete submissions of open projects.
#[utoipa::path(post, path = "/sync/form_upload/", tag = "instances",
    responses((status = 201, description = "`{result: \"success\"}`"), (status = 400, description = "Bad XML or unknown form"),
              (status = 413, description = "Too large")))]
pub async fn form_upload(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    caller: MaybeCaller,
    q: QueryParams,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let user = caller.0.as_ref().map(|p| p.user.id);
    let account = caller.0.as_ref().and_then(|p| p.account_id());
    let logged = log_raw(
        &state,
        "form_upload",
        &method,
        uri.path(),
        &q,
        uri.query().unwrap_or(""),
        &headers,
        account,
        user,
        &body,
        None,
    )
    .await?;
    let result = async {
        let (_, ctx) = app_context(&state, &caller.0, q.get("app_id")).await?;
        let parts = split_multipart(&headers, body).await?;
        ingest_parts(
            &state,
            ctx,
            parts,
            Keying::FileName,
            audit_sources::SYNC_FORM_UPLOAD,
        )
        .await
    }
    .await;
    match result {
        Ok(outcome) => {
            let account = state
                .store
                .instance_account(outcome.id())
                .await
                .ok()
                .flatten();
            let problem = matches!(outcome, XmlOutcome::Conflict(_)).then(|| {
                "another XML was already received for this submission; the first one is kept"
                    .to_string()
            });
            finish(&state, &logged, account, problem).await;
            Ok((StatusCode::CREATED, Json(json!({"result": "success"}))).into_response())
        }
        Err(e) => {
            finish(&state, &logged, account, Some(problem_text(&e))).await;
            Err(e)
        }
    }
}

// ------------------------------------------------------------------ OpenRosa

fn openrosa_response(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<OpenRosaResponse xmlns=\"http://openrosa.org/http/response\">\n  <message nature=\"{}\">{}</message>\n</OpenRosaResponse>\n",
        if status.is_success() { "submit_success" } else { "error" },
        message.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
    );
    let mut r = openrosa_xml(status, body);
    r.headers_mut().insert(
        header::HeaderName::from_static("x-openrosa-accept-content-length"),
        header::HeaderValue::from(10_000_000u64),
    );
    r
}

fn openrosa_error(e: ApiError) -> Response {
    let status = e.status();
    let mut r = openrosa_response(status, &problem_text(&e));
    if matches!(e, ApiError::Unauthenticated(_) | ApiError::InvalidToken) {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Basic realm=\"iaso\""),
        );
    }
    r
}

/// Who calls an OpenRosa endpoint: HTTP Basic (what ODK Collect sends), or a Bearer token.
async fn openrosa_caller(
    state: &AppState,
    headers: &HeaderMap,
    caller: MaybeCaller,
) -> ApiResult<Option<Principal>> {
    if let Some(p) = caller.0 {
        return Ok(Some(p));
    }
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Ok(None);
    };
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| ApiError::Unauthenticated("Malformed Basic credentials.".into()))?;
    let text = String::from_utf8(decoded)
        .map_err(|_| ApiError::Unauthenticated("Malformed Basic credentials.".into()))?;
    let (username, password) = text
        .split_once(':')
        .ok_or_else(|| ApiError::Unauthenticated("Malformed Basic credentials.".into()))?;
    let user_id = match state.basic_cache.get(username, password) {
        Some(id) => id,
        None => {
            let user = super::token::check_credentials(state, username, password).await?;
            state.basic_cache.put(username, password, user.id);
            user.id
        }
    };
    state.store.principal(user_id).await.map_err(Into::into)
}

async fn openrosa_context(
    state: &AppState,
    headers: &HeaderMap,
    caller: MaybeCaller,
    app_id: &str,
) -> ApiResult<(Project, UploadContext)> {
    // ODK Collect does not send credentials until challenged: anonymous callers of a project
    // that requires authentication get a 401 with a Basic challenge.
    let principal = openrosa_caller(state, headers, caller).await?;
    let (project, ctx) =
        app_context(state, &principal, Some(app_id))
            .await
            .map_err(|e| match e {
                ApiError::Invalid(_) => ApiError::NotFound,
                other => other,
            })?;
    let project = project.ok_or(ApiError::NotFound)?;
    Ok((project, ctx))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// OpenRosa form list of a project (ODK Collect's "Get blank form").
#[utoipa::path(get, path = "/openrosa/{app_id}/formList", tag = "openrosa", params(("app_id" = String, Path)),
    responses((status = 200, description = "OpenRosa xforms list"), (status = 401, description = "Credentials needed")))]
pub async fn form_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    Path(app_id): Path<String>,
) -> Response {
    match form_list_inner(&state, &headers, caller, &app_id).await {
        Ok(r) => r,
        Err(e) => openrosa_error(e),
    }
}

async fn form_list_inner(
    state: &AppState,
    headers: &HeaderMap,
    caller: MaybeCaller,
    app_id: &str,
) -> ApiResult<Response> {
    let (project, _) = openrosa_context(state, headers, caller, app_id).await?;
    let page = state
        .store
        .list_forms(
            project.account_id,
            &iaso_store::forms::FormFilter {
                app_project: Some(project.id.get()),
                with_versions_only: true,
                ..Default::default()
            },
            iaso_store::PageRequest::all(),
        )
        .await?;
    let base = base_url(headers, state);
    let root = format!("{base}/openrosa/{}", url_segment(app_id));
    let mut body = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xforms xmlns=\"http://openrosa.org/xforms/xformsList\">\n",
    );
    for f in &page.items {
        let Some(v) = &f.latest_version else { continue };
        body.push_str(&format!(
            "  <xform>\n    <formID>{}</formID>\n    <name>{}</name>\n    <version>{}</version>\n    <hash>md5:{}</hash>\n    <downloadUrl>{root}/forms/{}/form.xml</downloadUrl>\n",
            xml_escape(f.form_id.as_deref().unwrap_or("")),
            xml_escape(&f.name),
            xml_escape(&v.version_id),
            v.md5,
            f.id
        ));
        if f.has_attachments {
            body.push_str(&format!(
                "    <manifestUrl>{root}/forms/{}/manifest</manifestUrl>\n",
                f.id
            ));
        }
        body.push_str("  </xform>\n");
    }
    body.push_str("</xforms>\n");
    Ok(openrosa_xml(StatusCode::OK, body))
}

fn url_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn openrosa_form(
    state: &AppState,
    headers: &HeaderMap,
    caller: MaybeCaller,
    app_id: &str,
    form_id: i64,
) -> ApiResult<(Project, iaso_store::forms::Form)> {
    let (project, _) = openrosa_context(state, headers, caller, app_id).await?;
    let form = state.store.form(project.account_id, form_id).await?;
    if form.deleted_at.is_some() || form.derived || !form.project_ids.contains(&project.id.get()) {
        return Err(ApiError::NotFound);
    }
    Ok((project, form))
}

/// The XForm of a form's latest version (the body's md5 is the hash in the form list).
#[utoipa::path(get, path = "/openrosa/{app_id}/forms/{id}/form.xml", tag = "openrosa",
    params(("app_id" = String, Path), ("id" = i64, Path)), responses((status = 200, description = "XForm")))]
pub async fn form_download(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    Path((app_id, id)): Path<(String, i64)>,
) -> Response {
    let result = async {
        let (_, form) = openrosa_form(&state, &headers, caller, &app_id, id).await?;
        let v = form.latest_version.ok_or(ApiError::NotFound)?;
        let bytes = state
            .files
            .get_bytes(&v.file)
            .await
            .map_err(ApiError::internal)?;
        Ok::<_, ApiError>(
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, "text/xml; charset=utf-8"),
                    (header::HeaderName::from_static("x-openrosa-version"), "1.0"),
                ],
                bytes,
            )
                .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(openrosa_error)
}

/// The manifest of a form's media files.
#[utoipa::path(get, path = "/openrosa/{app_id}/forms/{id}/manifest", tag = "openrosa",
    params(("app_id" = String, Path), ("id" = i64, Path)), responses((status = 200, description = "Manifest")))]
pub async fn form_manifest(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    Path((app_id, id)): Path<(String, i64)>,
) -> Response {
    let result = async {
        let (_, form) = openrosa_form(&state, &headers, caller, &app_id, id).await?;
        manifest_response(&state, &base_url(&headers, &state), form.id).await
    }
    .await;
    result.unwrap_or_else(openrosa_error)
}

/// OpenRosa's pre-flight: tells the client the largest body accepted.
#[utoipa::path(head, path = "/openrosa/{app_id}/submission", tag = "openrosa", params(("app_id" = String, Path)),
    responses((status = 204, description = "Ready")))]
pub async fn submission_head(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    Path(app_id): Path<String>,
) -> Response {
    match openrosa_context(&state, &headers, caller, &app_id).await {
        Ok(_) => {
            let mut r = openrosa_response(StatusCode::NO_CONTENT, "");
            *r.body_mut() = axum::body::Body::empty();
            if let Ok(v) = header::HeaderValue::from_str(&state.settings.max_body_bytes.to_string())
            {
                r.headers_mut().insert(
                    header::HeaderName::from_static("x-openrosa-accept-content-length"),
                    v,
                );
            }
            r
        }
        Err(e) => openrosa_error(e),
    }
}

/// An OpenRosa submission (multipart `xml_submission_file` + media). 201 when new, 202 when
/// the same submission was already received (a retry), 409 when another one has its
/// instanceID.
#[utoipa::path(post, path = "/openrosa/{app_id}/submission", tag = "openrosa", params(("app_id" = String, Path)),
    responses((status = 201, description = "OpenRosaResponse"), (status = 400, description = "Bad submission")))]
#[allow(clippy::too_many_arguments)]
pub async fn submission_post(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    caller: MaybeCaller,
    q: QueryParams,
    Path(app_id): Path<String>,
    RawBody(body): RawBody,
) -> Response {
    let ctx = match openrosa_context(&state, &headers, caller, &app_id).await {
        Ok((_, ctx)) => ctx,
        Err(e) => return openrosa_error(e),
    };
    let logged = match log_raw(
        &state,
        "openrosa",
        &method,
        uri.path(),
        &q,
        uri.query().unwrap_or(""),
        &headers,
        ctx.account,
        ctx.user,
        &body,
        None,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return openrosa_error(e),
    };
    let result = async {
        let parts = split_multipart(&headers, body).await?;
        ingest_parts(
            &state,
            ctx,
            parts,
            Keying::InstanceId,
            audit_sources::OPENROSA,
        )
        .await
    }
    .await;
    match result {
        Ok(XmlOutcome::Duplicate(_)) => {
            finish(&state, &logged, ctx.account, None).await;
            openrosa_response(
                StatusCode::ACCEPTED,
                "This submission was already received.",
            )
        }
        Ok(XmlOutcome::Conflict(_)) => {
            let msg = "Another submission with the same instanceID was already received.";
            finish(&state, &logged, ctx.account, Some(msg.into())).await;
            openrosa_response(StatusCode::CONFLICT, msg)
        }
        Ok(_) => {
            finish(&state, &logged, ctx.account, None).await;
            openrosa_response(StatusCode::CREATED, "Form received.")
        }
        Err(e) => {
            finish(&state, &logged, ctx.account, Some(problem_text(&e))).await;
            openrosa_error(e)
        }
    }
}

// ------------------------------------------------------------------ bulk upload

/// The mobile app's bulk upload: a zip (`zip_file`) holding org units created on the device,
/// submissions' metadata, and one folder per submission with its XML and media. The zip is
/// stored and logged raw (`api_imports`, type `bulk`) first, then imported by the
/// `process_mobile_bulk_upload` task in one transaction; sending the same zip again creates
/// nothing. 204 as in Iaso, with the task in `Location` (extension).
#[utoipa::path(post, path = "/api/mobile/bulkupload/", tag = "mobile", params(("app_id" = String, Query)),
    responses((status = 204, description = "Queued; `Location` names the task"),
              (status = 400, description = "No app_id, no zip_file, or not a zip"),
              (status = 401, description = "The project requires authentication"),
              (status = 404, description = "Unknown app_id")))]
pub async fn bulk_upload(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    caller: MaybeCaller,
    q: QueryParams,
    mut mp: axum::extract::Multipart,
) -> ApiResult<Response> {
    let app_id = q
        .get("app_id")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::field("app_id", "This field is required."))?;
    let project = state
        .store
        .project_by_app_id(app_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let (_, ctx) = app_context(&state, &caller.0, Some(app_id)).await?;
    let account = project.account_id;
    let mut stored = None;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(format!("Invalid multipart body: {}", e.body_text())))?
    {
        if field.name() == Some("zip_file") && stored.is_none() {
            stored = Some(crate::uploads::store_field(&state, account, field).await?);
        }
    }
    let upload = stored.ok_or_else(|| ApiError::field("zip_file", "No file was submitted."))?;
    if !is_zip(&state, &upload.key).await {
        let _ = state.files.delete(&upload.key).await;
        return Err(ApiError::field("zip_file", "The file is not a zip."));
    }
    let logged = state
        .store
        .log_api_import(&NewApiImport {
            account: Some(account),
            user: ctx.user,
            import_type: "bulk".into(),
            json_body: Some(json!({
                "user_agent": headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
                "file_name": upload.file_name,
            })),
            headers: headers_json(&method, uri.path(), uri.query().unwrap_or(""), &headers),
            file: Some(upload.key.clone()),
            file_size: Some(upload.size as i64),
            app_id: app_id.into(),
            app_version: q.get("app_version").unwrap_or("").into(),
        })
        .await?;
    let params = iaso_tasks::kinds::mobile_bulk_upload::Params {
        api_import_id: logged,
        project_id: project.id.get(),
        zip_key: upload.key,
    };
    let task = state
        .tasks
        .launch(
            account,
            ctx.user,
            iaso_tasks::kinds::mobile_bulk_upload::NAME,
            &params,
        )
        .await;
    let logged = Logged { id: logged };
    let task = match task {
        Ok(t) => t,
        Err(e) => {
            finish(&state, &logged, Some(account), Some(e.to_string())).await;
            return Err(e.into());
        }
    };
    // Until the task commits its import, the raw upload counts as not processed.
    finish(
        &state,
        &logged,
        Some(account),
        Some(format!(
            "queued as task {}; not imported yet",
            task.id.get()
        )),
    )
    .await;
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = header::HeaderValue::from_str(&format!("/api/tasks/{}/", task.id.get())) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// Whether a stored file starts like a zip.
async fn is_zip(state: &AppState, key: &str) -> bool {
    use futures::StreamExt;
    let Ok(mut read) = state.files.get(key).await else {
        return false;
    };
    let mut head = Vec::new();
    while head.len() < 4 {
        match read.stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            _ => break,
        }
    }
    head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
}
