//! `/api/formversions/`: XLSForm uploads converted by our engine (iaso-xlsform), and
//! `/api/formattachments/`: media files of a form (listed in its OpenRosa manifest).

use super::forms::{base_url, parse_fields, reader, select_fields};
use crate::auth::{MaybeCaller, Member};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, QueryParams};
use crate::files::file_name_of;
use crate::paging::{OutOfRange, Paging};
use crate::state::AppState;
use crate::timestamps::epoch;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use iaso_domain::Permission;
use iaso_files::safe_file_name;
use iaso_ingest::md5_hex;
use iaso_store::forms::{FormAttachment, FormVersion, NewFormVersion, UserRef, VersionFilter};
use serde::Deserialize;
use serde_json::{json, Map, Value};

const DEFAULT_FIELDS: &[&str] = &[
    "id",
    "version_id",
    "form_id",
    "form_name",
    "full_name",
    "mapped",
    "xls_file",
    "file",
    "md5",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "start_period",
    "end_period",
    "mapping_versions",
];
const EXTRA_FIELDS: &[&str] = &["descriptor", "possible_fields"];

fn user_json(u: &Option<UserRef>) -> Value {
    match u {
        Some(u) => {
            json!({"id": u.id, "username": u.username, "first_name": u.first_name, "last_name": u.last_name})
        }
        None => Value::Null,
    }
}

pub(crate) fn version_json(v: &FormVersion, state: &AppState, base: &str) -> Map<String, Value> {
    let value = json!({
        "id": v.id,
        "version_id": v.version_id,
        "form_id": v.form_id,
        "form_name": v.form_name,
        "full_name": format!("{} - V{}", v.form_name, v.version_id),
        "mapped": false,
        "xls_file": v.xls_file.as_ref().map(|k| crate::files::url(state, base, k)),
        "file": crate::files::url(state, base, &v.file),
        "md5": v.md5,
        "descriptor": v.descriptor.clone().unwrap_or_else(|| json!({})),
        "created_at": epoch(v.created_at),
        "updated_at": epoch(v.updated_at),
        "created_by": user_json(&v.created_by),
        "updated_by": user_json(&v.updated_by),
        "start_period": v.start_period,
        "end_period": v.end_period,
        "mapping_versions": [],
        "possible_fields": v.possible_fields.clone().unwrap_or_else(|| json!([])),
    });
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Versions of the account's live forms (or of the app's project).
#[utoipa::path(get, path = "/api/formversions/", tag = "forms",
    params(("form_id" = Option<i64>, Query), ("version_id" = Option<String>, Query), ("search_name" = Option<String>, Query),
           ("mapped" = Option<String>, Query), ("fields" = Option<String>, Query), ("order" = Option<String>, Query),
           ("app_id" = Option<String>, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "`{form_versions: [...]}` or paged")))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let reader = reader(&state, caller, q.get("app_id")).await?;
    let fields = parse_fields(&q, &[DEFAULT_FIELDS, EXTRA_FIELDS])?;
    let filter = VersionFilter {
        restrict_projects: reader.restrict_projects.clone(),
        app_project: reader.app_project.as_ref().map(|p| p.id.get()),
        form_id: q.i64("form_id")?,
        version_id: q.get("version_id").map(String::from),
        search_name: q.get("search_name").map(String::from),
        order: q.list("order"),
    };
    let paging = Paging::from_query(&q, None)?;
    // No version is mapped to DHIS2 on this server: `mapped=true` lists nothing.
    let mapped_only = q.get("mapped") == Some("true");
    let first = state
        .store
        .list_form_versions(reader.account, &filter, iaso_store::PageRequest::new(1, 1))
        .await?;
    let count = if mapped_only { 0 } else { first.count };
    let paging = paging.resolve(count, OutOfRange::NotFound)?;
    let items = if mapped_only {
        Vec::new()
    } else {
        state
            .store
            .list_form_versions(reader.account, &filter, paging.request())
            .await?
            .items
    };
    let base = base_url(&headers, &state);
    let items: Vec<Value> = items
        .iter()
        .map(|v| {
            Value::Object(select_fields(
                version_json(v, &state, &base),
                DEFAULT_FIELDS,
                &fields,
            ))
        })
        .collect();
    Ok(Json(paging.envelope("form_versions", items, count)))
}

/// One version, with its descriptor.
#[utoipa::path(get, path = "/api/formversions/{id}/", tag = "forms", params(("id" = i64, Path), ("fields" = Option<String>, Query)),
    responses((status = 200, description = "Form version"), (status = 404, description = "Not visible")))]
pub async fn retrieve(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    Path(id): Path<i64>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let reader = reader(&state, caller, q.get("app_id")).await?;
    let fields = parse_fields(&q, &[DEFAULT_FIELDS, EXTRA_FIELDS])?;
    let v = state.store.form_version(reader.account, id).await?;
    let form = state.store.form(reader.account, v.form_id).await?;
    let hidden = form.deleted_at.is_some()
        || (!reader.restrict_projects.is_empty()
            && !form
                .project_ids
                .iter()
                .any(|p| reader.restrict_projects.contains(p)))
        || reader
            .app_project
            .as_ref()
            .is_some_and(|p| !form.project_ids.contains(&p.id.get()));
    if hidden {
        return Err(ApiError::NotFound);
    }
    let base = base_url(&headers, &state);
    let mut defaults = DEFAULT_FIELDS.to_vec();
    defaults.push("descriptor");
    Ok(Json(Value::Object(select_fields(
        version_json(&v, &state, &base),
        &defaults,
        &fields,
    ))))
}

/// The stored descriptor: the engine's (already pyxform's `to_json_dict` shape), with the
/// version actually used (generated when the XLSForm had none).
pub fn iaso_descriptor(meta: &iaso_xlsform::FormMeta, version: &str) -> Value {
    let mut tree = serde_json::to_value(&meta.descriptor).unwrap_or(Value::Null);
    if let Value::Object(root) = &mut tree {
        root.insert("version".into(), json!(version));
        root.entry("id_string")
            .or_insert_with(|| json!(meta.form_id));
        root.entry("title").or_insert_with(|| json!(meta.title));
    }
    tree
}

/// Puts `version="..."` on the primary instance's root when the XLSForm had none.
pub fn ensure_xform_version(xform: &str, form_id: &str, version: &str) -> String {
    let Some(instance) = xform.find("<instance>") else {
        return xform.to_string();
    };
    let needle = format!(
        "id=\"{}\"",
        form_id.replace('&', "&amp;").replace('"', "&quot;")
    );
    let Some(rel) = xform[instance..].find(&needle) else {
        return xform.to_string();
    };
    let at = instance + rel;
    let tag_end = xform[at..].find('>').map(|e| at + e).unwrap_or(at);
    if xform[at..tag_end].contains(" version=") {
        return xform.to_string();
    }
    let insert_at = at + needle.len();
    format!(
        "{} version=\"{version}\"{}",
        &xform[..insert_at],
        &xform[insert_at..]
    )
}

struct Upload {
    form_id: Option<i64>,
    file_name: String,
    bytes: Vec<u8>,
    start_period: Option<String>,
    end_period: Option<String>,
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(format!("Invalid multipart body: {}", e.body_text()))
    }
}

async fn read_upload(mut mp: Multipart, file_field: &str) -> ApiResult<Upload> {
    let mut up = Upload {
        form_id: None,
        file_name: String::new(),
        bytes: Vec::new(),
        start_period: None,
        end_period: None,
    };
    let mut has_file = false;
    while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        if name == file_field {
            up.file_name = field.file_name().unwrap_or("upload").to_string();
            up.bytes = field.bytes().await.map_err(multipart_error)?.to_vec();
            has_file = true;
        } else {
            let text = field.text().await.map_err(multipart_error)?;
            match name.as_str() {
                "form_id" => {
                    up.form_id = Some(text.trim().parse().map_err(|_| {
                        ApiError::field("form_id", format!("{text:?} is not a valid id."))
                    })?)
                }
                "start_period" if !text.trim().is_empty() => up.start_period = Some(text),
                "end_period" if !text.trim().is_empty() => up.end_period = Some(text),
                _ => {}
            }
        }
    }
    if !has_file || up.bytes.is_empty() {
        return Err(ApiError::field(file_field, "No file was submitted."));
    }
    Ok(up)
}

/// Upload an XLSForm as a new version of a form (multipart `form_id`, `xls_file`,
/// optional `start_period`/`end_period`). The version comes from the XLSForm's settings or is
/// generated (`yyyymmddNN`); it must grow; the XLSForm's `form_id` must not change.
#[utoipa::path(post, path = "/api/formversions/", tag = "forms",
    responses((status = 201, description = "Created"), (status = 400, description = "Conversion or field errors")))]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    mp: Multipart,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::Forms)?;
    let up = read_upload(mp, "xls_file").await?;
    let form_id = up
        .form_id
        .ok_or_else(|| ApiError::field("form_id", "This field is required."))?;
    let account = member.account_id();
    let form = state
        .store
        .form(account, form_id)
        .await
        .map_err(|_| ApiError::field("form_id", "Invalid form id"))?;
    let restrict = &member.membership().project_ids;
    if form.deleted_at.is_some()
        || (!restrict.is_empty()
            && !form
                .project_ids
                .iter()
                .any(|p| restrict.iter().any(|r| r.get() == *p)))
    {
        return Err(ApiError::field("form_id", "Invalid form id"));
    }
    let file_name = file_name_of(&up.file_name);
    let bytes = up.bytes;
    let name_for_engine = file_name.clone();
    let conversion = tokio::task::spawn_blocking(move || {
        let conv = iaso_xlsform::convert(&bytes, &name_for_engine, &Default::default());
        (conv, bytes)
    })
    .await
    .map_err(ApiError::internal)?;
    let (conv, bytes) = conversion;
    let conv = conv.map_err(|e| {
        ApiError::field(
            "xls_file",
            format!("Invalid XLS form content: Invalid XLS file: {e}"),
        )
    })?;
    let previous = form.latest_version.as_ref().map(|v| v.version_id.clone());
    let version = iaso_domain::forms::next_version(
        conv.meta.version.as_deref(),
        previous.as_deref(),
        chrono::Utc::now().date_naive(),
    )
    .map_err(|e| {
        ApiError::field(
            "xls_file",
            format!("Invalid XLS form content: Invalid XLS file: {e}"),
        )
    })?;
    if conv.meta.form_id.is_empty() {
        return Err(ApiError::field(
            "xls_file",
            "Invalid XLS form content: the form has no form_id.",
        ));
    }
    let xform = ensure_xform_version(&conv.xform, &conv.meta.form_id, &version);
    let descriptor = iaso_descriptor(&conv.meta, &version);
    let ext = std::path::Path::new(&file_name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("xlsx")
        .to_ascii_lowercase();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let slug = safe_file_name(&form.name.to_lowercase());
    let xml_key = format!("forms/{}/{slug}_{version}_{}.xml", form.id, &tag[..8]);
    let xls_key = format!("forms/{}/{slug}_{version}_{}.{ext}", form.id, &tag[..8]);
    state
        .files
        .put(&xml_key, xform.clone().into_bytes())
        .await
        .map_err(ApiError::internal)?;
    state
        .files
        .put(&xls_key, bytes.clone())
        .await
        .map_err(ApiError::internal)?;
    let created = state
        .store
        .create_form_version(
            account,
            &NewFormVersion {
                form_id: form.id,
                version_id: version,
                xform_id: conv.meta.form_id.clone(),
                file: xml_key.clone(),
                file_size: xform.len() as i64,
                md5: md5_hex(xform.as_bytes()),
                xls_file: Some(xls_key.clone()),
                xls_file_size: Some(bytes.len() as i64),
                descriptor,
                start_period: up.start_period,
                end_period: up.end_period,
                user: Some(member.principal.user.id),
            },
        )
        .await;
    let created = match created {
        Ok(v) => v,
        Err(e) => {
            let _ = state.files.delete(&xml_key).await;
            let _ = state.files.delete(&xls_key).await;
            return Err(e.into());
        }
    };
    let base = base_url(&headers, &state);
    let mut out = version_json(&created, &state, &base);
    out.insert("warnings".into(), json!(conv.warnings));
    Ok((StatusCode::CREATED, Json(Value::Object(out))))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct VersionPatch {
    form_id: Option<i64>,
    start_period: Option<String>,
    end_period: Option<String>,
}

async fn do_update(
    state: &AppState,
    headers: &HeaderMap,
    member: &Member,
    id: i64,
    body: VersionPatch,
) -> ApiResult<Json<Value>> {
    member.require(Permission::Forms)?;
    let current = state.store.form_version(member.account_id(), id).await?;
    if body.form_id.is_some_and(|f| f != current.form_id) {
        return Err(ApiError::field(
            "form_id",
            "The form of a version cannot change.",
        ));
    }
    let v = state
        .store
        .update_form_version_periods(
            member.account_id(),
            id,
            body.start_period,
            body.end_period,
            Some(member.principal.user.id),
        )
        .await?;
    Ok(Json(Value::Object(version_json(
        &v,
        state,
        &base_url(headers, state),
    ))))
}

/// Change a version's period of validity (the only editable fields).
#[utoipa::path(patch, path = "/api/formversions/{id}/", tag = "forms", params(("id" = i64, Path)), request_body = VersionPatch,
    responses((status = 200, description = "Updated")))]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<VersionPatch>,
) -> ApiResult<Json<Value>> {
    do_update(&state, &headers, &member, id, body).await
}

/// Same as PATCH.
#[utoipa::path(put, path = "/api/formversions/{id}/", tag = "forms", params(("id" = i64, Path)), request_body = VersionPatch,
    responses((status = 200, description = "Updated")))]
pub async fn update_put(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<VersionPatch>,
) -> ApiResult<Json<Value>> {
    do_update(&state, &headers, &member, id, body).await
}

// ------------------------------------------------------------------ attachments

fn attachment_json(a: &FormAttachment, state: &AppState, base: &str) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "file": crate::files::url(state, base, &a.file),
        "md5": a.md5,
        "form_id": a.form_id,
        "created_at": epoch(a.created_at),
        "updated_at": epoch(a.updated_at),
        "scan_result": "PENDING",
        "scan_timestamp": Value::Null,
    })
}

/// Media files of the account's forms (`form_id` to pick one form).
#[utoipa::path(get, path = "/api/formattachments/", tag = "forms",
    params(("form_id" = Option<i64>, Query), ("app_id" = Option<String>, Query), ("limit" = Option<i64>, Query), ("page" = Option<i64>, Query)),
    responses((status = 200, description = "`{results: [...]}` or paged")))]
pub async fn attachments_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: MaybeCaller,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    let reader = reader(&state, caller, q.get("app_id")).await?;
    let form = q.i64("form_id")?;
    if let Some(f) = form {
        state
            .store
            .form(reader.account, f)
            .await
            .map_err(|_| ApiError::NotFound)?;
    }
    let mut restrict = reader.restrict_projects.clone();
    if let Some(p) = &reader.app_project {
        restrict = vec![p.id.get()];
    }
    let paging = Paging::from_query(&q, None)?;
    let first = state
        .store
        .list_form_attachments(
            reader.account,
            &restrict,
            form,
            iaso_store::PageRequest::new(1, 1),
        )
        .await?;
    let paging = paging.resolve(first.count, OutOfRange::NotFound)?;
    let page = state
        .store
        .list_form_attachments(reader.account, &restrict, form, paging.request())
        .await?;
    let base = base_url(&headers, &state);
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|a| attachment_json(a, &state, &base))
        .collect();
    Ok(Json(paging.envelope("results", items, page.count)))
}

/// One attachment.
#[utoipa::path(get, path = "/api/formattachments/{id}/", tag = "forms", params(("id" = i64, Path)),
    responses((status = 200, description = "Attachment")))]
pub async fn attachment_retrieve(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let a = state.store.form_attachment(member.account_id(), id).await?;
    Ok(Json(attachment_json(
        &a,
        &state,
        &base_url(&headers, &state),
    )))
}

/// Upload a media file for a form (multipart `form_id`, `file`); a file with the same name
/// replaces the previous one. The md5 goes into the form's OpenRosa manifest.
#[utoipa::path(post, path = "/api/formattachments/", tag = "forms",
    responses((status = 201, description = "Created")))]
pub async fn attachment_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    member: Member,
    mp: Multipart,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::Forms)?;
    let up = read_upload(mp, "file").await?;
    let form_id = up
        .form_id
        .ok_or_else(|| ApiError::field("form_id", "This field is required."))?;
    let form = state
        .store
        .form(member.account_id(), form_id)
        .await
        .map_err(|_| ApiError::field("form_id", "Invalid form id"))?;
    let name = file_name_of(&up.file_name);
    let key = format!(
        "forms/{}/attachments/{}_{}",
        form.id,
        &uuid::Uuid::new_v4().simple().to_string()[..8],
        safe_file_name(&name)
    );
    state
        .files
        .put(&key, up.bytes.clone())
        .await
        .map_err(ApiError::internal)?;
    let result = state
        .store
        .upsert_form_attachment(
            member.account_id(),
            form.id,
            &name,
            &key,
            up.bytes.len() as i64,
            &md5_hex(&up.bytes),
        )
        .await;
    match result {
        Ok((a, old)) => {
            if let Some(old) = old {
                let _ = state.files.delete(&old).await;
            }
            Ok((
                StatusCode::CREATED,
                Json(attachment_json(&a, &state, &base_url(&headers, &state))),
            ))
        }
        Err(e) => {
            let _ = state.files.delete(&key).await;
            Err(e.into())
        }
    }
}

/// Delete an attachment (`iaso_forms`).
#[utoipa::path(delete, path = "/api/formattachments/{id}/", tag = "forms", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted")))]
pub async fn attachment_delete(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    member.require(Permission::Forms)?;
    let key = state
        .store
        .delete_form_attachment(member.account_id(), id)
        .await?;
    let _ = state.files.delete(&key).await;
    Ok(StatusCode::NO_CONTENT)
}
