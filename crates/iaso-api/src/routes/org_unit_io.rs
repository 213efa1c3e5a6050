//! Org unit imports, bulk changes, copies and file exports:
//!
//! * `POST /api/tasks/create/importgpkg/` (multipart) → task `import_gpkg_task`;
//! * `POST /api/tasks/create/importtree/` (multipart: CSV/XLSX + data dictionary, or the simple
//!   CSV layout) → task `tree_importer`;
//! * `POST /api/tasks/create/orgunitsbulkupdate/` → task `org_unit_bulk_update`;
//! * `POST /api/tasks/create/copyversion/` and Iaso's `POST /api/copyversion/` → `copy_version`;
//! * `GET /api/orgunits/?csv|xlsx|gpkg|geojson=true`: streamed exports (see [`export`]);
//!   `POST /api/tasks/create/exportorgunits/` → the same file as a task result.
//!
//! Design and limits: `docs/decisions/0700-import-export.md`.

use crate::auth::Member;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::routes::geo_common::{self, ORG_UNIT_READ};
use crate::routes::tasks::launch;
use crate::state::AppState;
use crate::uploads::{store_field, StoredUpload};
use axum::body::Body;
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use iaso_domain::{DataSourceId, Permission};
use iaso_exchange::export::Format;
use iaso_exchange::parquet::ExtraFields;
use iaso_store::org_unit_io::ExportQuery;
use iaso_store::org_unit_search::OrgUnitFilter;
use iaso_store::org_units::OrgUnitScope;
use iaso_tasks::kinds::{
    copy_version, export_org_units, import_gpkg, org_unit_bulk_update, tree_import,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Reads a multipart form: the `file` field goes to the file store, text fields are kept.
async fn read_form(
    state: &AppState,
    member: &Member,
    mut multipart: Multipart,
) -> ApiResult<(Option<StoredUpload>, HashMap<String, String>)> {
    let mut upload = None;
    let mut fields = HashMap::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                if let Some(u) = &upload {
                    discard(state, u).await;
                }
                return Err(if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest(format!("Invalid multipart body: {}", e.body_text()))
                });
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "file" && upload.is_none() {
            upload = Some(store_field(state, member.account_id(), field).await?);
        } else {
            let text = field.text().await.map_err(|e| {
                ApiError::BadRequest(format!("Invalid multipart field {name}: {}", e.body_text()))
            });
            match text {
                Ok(t) => {
                    fields.insert(name, t);
                }
                Err(e) => {
                    if let Some(u) = &upload {
                        discard(state, u).await;
                    }
                    return Err(e);
                }
            }
        }
    }
    Ok((upload, fields))
}

async fn discard(state: &AppState, u: &StoredUpload) {
    if let Err(e) = state.files.delete(&u.key).await {
        tracing::warn!(key = %u.key, error = %e, "could not delete a refused upload");
    }
}

fn form_bool(fields: &HashMap<String, String>, name: &str) -> ApiResult<bool> {
    match fields.get(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v.is_empty() || v == "false" || v == "0" || v == "no" => Ok(false),
        Some(v) if v == "true" || v == "1" || v == "yes" => Ok(true),
        Some(v) => Err(ApiError::field(
            name,
            format!("\"{v}\" is not a valid boolean."),
        )),
    }
}

fn form_int(fields: &HashMap<String, String>, name: &str) -> ApiResult<Option<i64>> {
    match fields.get(name).map(|v| v.trim()) {
        None | Some("") | Some("null") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::field(name, "A valid integer is required.")),
    }
}

/// Checks that the data source is visible to the caller's account.
async fn check_source(state: &AppState, member: &Member, id: i64) -> ApiResult<()> {
    match state
        .store
        .source(member.account_id(), DataSourceId(id))
        .await
    {
        Ok(_) => Ok(()),
        Err(iaso_store::StoreError::NotFound) => {
            Err(ApiError::field("data_source", "Unauthorized DataSource"))
        }
        Err(e) => Err(e.into()),
    }
}

/// Import a GeoPackage (task `import_gpkg_task`)
///
/// Multipart: `file` (the GeoPackage), `data_source` (id), `version_number` (optional: next
/// number), `description` (≤ 200 characters), `default_valid` (imported units VALID instead
/// of NEW). Layout and rules: Iaso's (`level-{depth}-{type}` layers, `groups` table).
#[utoipa::path(post, path = "/api/tasks/create/importgpkg/", tag = "tasks",
    responses((status = 201, description = "`{task}`"), (status = 400), (status = 403)))]
pub async fn create_import_gpkg(
    State(state): State<AppState>,
    member: Member,
    multipart: Multipart,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::Sources)?;
    let (upload, fields) = read_form(&state, &member, multipart).await?;
    let Some(upload) = upload else {
        return Err(ApiError::field("file", "No file was submitted."));
    };
    let params = async {
        let source = form_int(&fields, "data_source")?
            .ok_or_else(|| ApiError::field("data_source", "This field is required."))?;
        check_source(&state, &member, source).await?;
        let description = fields
            .get("description")
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty() && d != "null");
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 200)
        {
            return Err(ApiError::field(
                "description",
                "Ensure this field has no more than 200 characters.",
            ));
        }
        let format = match fields.get("format").map(|f| f.trim()) {
            None | Some("") | Some("gpkg") => None,
            Some("csv") => Some("csv".to_string()),
            Some(other) => {
                return Err(ApiError::field(
                    "format",
                    format!("\"{other}\" is not a valid choice (gpkg or csv)."),
                ))
            }
        };
        Ok(import_gpkg::Params {
            file_key: upload.key.clone(),
            file_name: upload.file_name.clone(),
            data_source_id: source,
            version_number: form_int(&fields, "version_number")?,
            description,
            validation_status: if form_bool(&fields, "default_valid")? {
                "VALID".into()
            } else {
                "NEW".into()
            },
            format,
            delimiter: fields.get("delimiter").cloned().filter(|d| !d.is_empty()),
        })
    }
    .await;
    match params {
        Ok(p) => launch(&state, &member, import_gpkg::NAME, &p).await,
        Err(e) => {
            discard(&state, &upload).await;
            Err(e)
        }
    }
}

// ------------------------------------------------------------------------------- exports

/// The export asked by a list query, if any: Iaso exports when `csv`, `xlsx`, `gpkg` or
/// `parquet` has any non-empty value (even `false`); `geojson` is an addition of this port.
/// Parquet takes Iaso's `extra_fields` (an unknown one is a 400 naming it). Unlike Iaso, which
/// answers 409 when a Parquet export is given any other parameter, the list filters apply.
pub(crate) fn export_format(q: &QueryParams) -> ApiResult<Option<Format>> {
    let set = |k: &str| q.get(k).is_some_and(|v| !v.is_empty());
    if set("parquet") {
        let extras = ExtraFields::parse(q.get("extra_fields").unwrap_or(""))
            .map_err(|e| ApiError::field("extra_fields", e.to_string()))?;
        return Ok(Some(Format::Parquet(extras)));
    }
    Ok([
        ("csv", Format::Csv),
        ("xlsx", Format::Xlsx),
        ("gpkg", Format::Gpkg),
        ("geojson", Format::GeoJson),
    ]
    .into_iter()
    .find(|(k, _)| set(k))
    .map(|(_, f)| f))
}

fn export_file_name(state: &AppState, member: &Member, format: Format) -> String {
    iaso_exchange::export::file_name(
        &state.settings.environment,
        &member.membership().account.name,
        chrono::Utc::now(),
        format,
    )
}

/// Parquet with `groups_exploded_code` names group columns after the groups alone: two names
/// giving the same column are a 409, said before any file is written.
async fn ensure_group_columns(state: &AppState, format: Format, q: &ExportQuery) -> ApiResult<()> {
    if let Format::Parquet(x) = format {
        if x.groups_exploded_code {
            let groups = state.store.export_groups(q).await?;
            iaso_exchange::parquet::check_group_columns(&groups)
                .map_err(|e| ApiError::Conflict(e.to_string()))?;
        }
    }
    Ok(())
}

/// Streams an export as the response body (bounded memory; the body starts when the first
/// chunk is ready: at once for CSV/GeoJSON, after the file is built for XLSX/GeoPackage).
pub(crate) async fn export_response(
    state: &AppState,
    member: &Member,
    scope: OrgUnitScope,
    filters: Vec<OrgUnitFilter>,
    order: Vec<String>,
    format: Format,
) -> ApiResult<Response> {
    let name = export_file_name(state, member, format);
    let q = ExportQuery {
        scope,
        filters,
        order,
    };
    // Before the body starts, so that the clash is a 409, not a cut stream.
    ensure_group_columns(state, format, &q).await?;
    let (tx, rx) = futures::channel::mpsc::channel::<bytes::Bytes>(8);
    let store = state.store.clone();
    let rows = Arc::new(AtomicU64::new(0));
    let (done_tx, done_rx) = futures::channel::oneshot::channel::<Result<(), String>>();
    tokio::spawn(async move {
        let r = export_org_units::produce(&store, &q, format, tx, rows).await;
        if let Err(e) = &r {
            tracing::error!(error = %e, "org unit export failed");
        }
        let _ = done_tx.send(r.map_err(|e| e.0));
    });
    // The body ends with an error (the connection is cut) when the export fails half-way.
    let tail = futures::stream::once(async move {
        match done_rx.await {
            Ok(Ok(())) | Err(_) => None,
            Ok(Err(e)) => Some(Err(std::io::Error::other(e))),
        }
    })
    .filter_map(|x| async move { x });
    let body = rx.map(Ok::<_, std::io::Error>).chain(tail);
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={name}")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// Export org units as a task (result file)
///
/// The query string is the one of `GET /api/orgunits/` (filters, `searches`, `order`) with
/// `format=csv|xlsx|gpkg|geojson` (or `csv=true` etc.). The file is written to the file store
/// and downloaded from `/api/tasks/{id}/download/`. An addition of this port for very large
/// exports; Iaso only exports synchronously.
#[utoipa::path(post, path = "/api/tasks/create/exportorgunits/", tag = "tasks",
    responses((status = 201, description = "`{task}`"), (status = 400), (status = 403)))]
pub async fn create_export(
    State(state): State<AppState>,
    member: Member,
    q: QueryParams,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require_any(ORG_UNIT_READ)?;
    let format = match q.get("format") {
        Some(f) => Format::from_name(f).ok_or_else(|| {
            ApiError::field(
                "format",
                format!("\"{f}\" is not one of csv, xlsx, gpkg, geojson, parquet."),
            )
        })?,
        None => export_format(&q)?.unwrap_or(Format::Csv),
    };
    // `format=parquet` takes its `extra_fields` as `parquet=true` does (400 on an unknown one).
    let format = match format {
        Format::Parquet(_) => Format::Parquet(
            ExtraFields::parse(q.get("extra_fields").unwrap_or(""))
                .map_err(|e| ApiError::field("extra_fields", e.to_string()))?,
        ),
        f => f,
    };
    let scope = geo_common::scope(&state, &member).await?;
    let (filters, _) = super::org_units::list_filters(&state, &member, &scope, &q).await?;
    ensure_group_columns(
        &state,
        format,
        &ExportQuery {
            scope: scope.clone(),
            filters: filters.clone(),
            order: Vec::new(),
        },
    )
    .await?;
    let roots = if member.principal.user.is_superuser {
        Vec::new()
    } else {
        member
            .membership()
            .org_unit_ids
            .iter()
            .map(|i| i.get())
            .collect()
    };
    let params = export_org_units::Params {
        format: format.extension().to_string(),
        filters,
        order: q
            .get("order")
            .map(|o| vec![o.to_string()])
            .unwrap_or_default(),
        roots,
        file_name: export_file_name(&state, &member, format),
        extra_fields: match format {
            Format::Parquet(_) => q.get("extra_fields").map(str::to_string),
            _ => None,
        },
    };
    launch(&state, &member, export_org_units::NAME, &params).await
}

// ------------------------------------------------------------------------ bulk update, copy

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct BulkUpdateBody {
    #[serde(default)]
    select_all: bool,
    #[serde(default)]
    selected_ids: Vec<i64>,
    #[serde(default)]
    unselected_ids: Vec<i64>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    searches: Vec<Value>,
    org_unit_type: Option<i64>,
    #[serde(default)]
    groups_added: Vec<i64>,
    #[serde(default)]
    groups_removed: Vec<i64>,
    validation_status: Option<String>,
}

/// Bulk change of org units (task `org_unit_bulk_update`)
///
/// Iaso's body: `select_all`, `selected_ids`, `unselected_ids`, `searches` (list filters, with
/// `select_all`), `org_unit_type`, `groups_added`, `groups_removed`, `validation_status`.
/// Runs in one transaction, audited (`org_unit_api_bulk`); units of types the caller may not
/// edit are skipped.
#[utoipa::path(post, path = "/api/tasks/create/orgunitsbulkupdate/", tag = "tasks",
    request_body = BulkUpdateBody,
    responses((status = 201, description = "`{task}`"), (status = 400), (status = 403)))]
pub async fn create_bulk_update(
    State(state): State<AppState>,
    member: Member,
    crate::extract::ApiJson(body): crate::extract::ApiJson<BulkUpdateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require_any(super::org_units::WRITE)?;
    if let Some(s) = &body.validation_status {
        if !iaso_store::org_units::VALIDATION_STATUSES.contains(&s.as_str()) {
            return Err(ApiError::field(
                "validation_status",
                format!("\"{s}\" is not a valid choice."),
            ));
        }
    }
    if !body.select_all && body.selected_ids.is_empty() {
        return Err(ApiError::field(
            "selected_ids",
            "Select org units, or use select_all.",
        ));
    }
    let scope = geo_common::scope(&state, &member).await?;
    let filters = if body.select_all && !body.searches.is_empty() {
        super::org_units::filters_from_searches(&state, &member, &scope, &body.searches).await?
    } else {
        Vec::new()
    };
    let params = org_unit_bulk_update::Params {
        select_all: body.select_all,
        selected_ids: body.selected_ids,
        unselected_ids: body.unselected_ids,
        filters,
        org_unit_type: body.org_unit_type,
        groups_added: body.groups_added,
        groups_removed: body.groups_removed,
        validation_status: body.validation_status,
        roots: scope.root_ids.iter().map(|i| i.get()).collect(),
        editable_types: geo_common::editable_types(&member)
            .iter()
            .map(|t| t.get())
            .collect(),
    };
    launch(&state, &member, org_unit_bulk_update::NAME, &params).await
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CopyVersionBody {
    source_source_id: i64,
    source_version_number: i64,
    destination_source_id: Option<i64>,
    destination_version_number: Option<i64>,
    #[serde(default)]
    force: bool,
}

async fn copy_version(
    state: &AppState,
    member: &Member,
    body: CopyVersionBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::Sources)?;
    let account = member.account_id();
    let origin = state
        .store
        .source(account, DataSourceId(body.source_source_id))
        .await
        .map_err(|_| ApiError::field("source_source_id", "Unauthorized source"))?;
    if !origin
        .versions
        .iter()
        .any(|v| v.number == body.source_version_number)
    {
        return Err(ApiError::field(
            "source_version_number",
            "This version does not exist.",
        ));
    }
    let dest_id = body.destination_source_id.unwrap_or(body.source_source_id);
    let dest = state
        .store
        .source(account, DataSourceId(dest_id))
        .await
        .map_err(|_| ApiError::field("destination_source_id", "Unauthorized source"))?;
    if dest_id == body.source_source_id
        && body.destination_version_number == Some(body.source_version_number)
    {
        return Err(ApiError::BadRequest(
            "Cannot copy a version to the same version".into(),
        ));
    }
    if let Some(n) = body.destination_version_number {
        if let Some(v) = dest.versions.iter().find(|v| v.number == n) {
            if v.org_units_count > 0 && !body.force {
                return Err(ApiError::BadRequest(format!(
                    "This is going to delete {} org units records. Use the force parameter to proceed",
                    v.org_units_count
                )));
            }
        }
    }
    let params = copy_version::Params {
        source_source_id: body.source_source_id,
        source_version_number: body.source_version_number,
        destination_source_id: body.destination_source_id,
        destination_version_number: body.destination_version_number,
        force: body.force,
    };
    launch(state, member, copy_version::NAME, &params).await
}

/// Copy a version (task `copy_version`, Iaso's path)
#[utoipa::path(post, path = "/api/copyversion/", tag = "tasks", request_body = CopyVersionBody,
    responses((status = 200, description = "`{task}`"), (status = 400), (status = 403)))]
pub async fn create_copy_version_iaso(
    State(state): State<AppState>,
    member: Member,
    crate::extract::ApiJson(body): crate::extract::ApiJson<CopyVersionBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    // Iaso answers 200 on this path.
    copy_version(&state, &member, body)
        .await
        .map(|(_, j)| (StatusCode::OK, j))
}

/// Copy a version (task `copy_version`)
///
/// Body: `source_source_id`, `source_version_number`, `destination_source_id` (default: the
/// same source), `destination_version_number` (default: next), `force` (replace the
/// destination's units).
#[utoipa::path(post, path = "/api/tasks/create/copyversion/", tag = "tasks",
    request_body = CopyVersionBody,
    responses((status = 201, description = "`{task}`"), (status = 400), (status = 403)))]
pub async fn create_copy_version(
    State(state): State<AppState>,
    member: Member,
    crate::extract::ApiJson(body): crate::extract::ApiJson<CopyVersionBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    copy_version(&state, &member, body).await
}

/// Import a tree from CSV/XLSX (task `tree_importer`)
///
/// Multipart: `file` (`.csv` or `.xlsx`), `data_source` (id), `version_number` (optional),
/// and either `data_dict` (Iaso's tree_importer data dictionary as JSON: `name`, `parents`,
/// `latitude`, `longitude`, `source_ref`) with `main_org_unit_name` (the leaf type), or no
/// dictionary for the simple layout (`ref,name,parent_ref,type,depth,latitude,longitude,code,
/// opening_date,closed_date,group_refs`, with `default_valid`). `delimiter`: `;` by default
/// with a dictionary (Iaso's), `,` for the simple layout.
#[utoipa::path(post, path = "/api/tasks/create/importtree/", tag = "tasks",
    responses((status = 201, description = "`{task}`"), (status = 400), (status = 403)))]
pub async fn create_tree_import(
    State(state): State<AppState>,
    member: Member,
    multipart: Multipart,
) -> ApiResult<(StatusCode, Json<Value>)> {
    member.require(Permission::Sources)?;
    let (upload, fields) = read_form(&state, &member, multipart).await?;
    let Some(upload) = upload else {
        return Err(ApiError::field("file", "No file was submitted."));
    };
    let params = async {
        let source = form_int(&fields, "data_source")?
            .ok_or_else(|| ApiError::field("data_source", "This field is required."))?;
        check_source(&state, &member, source).await?;
        let data_dict = match fields.get("data_dict").map(|d| d.trim()) {
            None | Some("") => None,
            Some(raw) => Some(serde_json::from_str(raw).map_err(|e| {
                ApiError::field("data_dict", format!("Invalid data dictionary: {e}"))
            })?),
        };
        let format = if upload.file_name.to_ascii_lowercase().ends_with(".xlsx") {
            "xlsx"
        } else {
            "csv"
        };
        Ok(tree_import::Params {
            file_key: upload.key.clone(),
            file_name: upload.file_name.clone(),
            data_source_id: source,
            version_number: form_int(&fields, "version_number")?,
            data_dict,
            main_org_unit_name: fields.get("main_org_unit_name").cloned(),
            format: format.into(),
            delimiter: fields.get("delimiter").cloned().filter(|d| !d.is_empty()),
            validation_status: Some(if form_bool(&fields, "default_valid")? {
                "VALID".into()
            } else {
                "NEW".into()
            }),
        })
    }
    .await;
    match params {
        Ok(p) => launch(&state, &member, tree_import::NAME, &p).await,
        Err(e) => {
            discard(&state, &upload).await;
            Err(e)
        }
    }
}
