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
use crate::routes::tasks::launch;
use crate::state::AppState;
use crate::uploads::{store_field, StoredUpload};
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;
use iaso_domain::{DataSourceId, Permission};
use iaso_tasks::kinds::import_gpkg;
use serde_json::Value;
use std::collections::HashMap;

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
