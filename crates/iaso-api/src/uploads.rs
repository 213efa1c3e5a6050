//! Uploaded inputs of tasks (a GeoPackage to import, a CSV of changes): streamed from a
//! multipart field into the file store, never held whole in memory. The creation endpoint
//! puts the returned key in the task's params; the handler reads it back with
//! `ctx.files().local_copy(&key)` (a path) or `ctx.files().get(&key)` (a stream).

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::multipart::Field;
use iaso_domain::AccountId;

/// A stored upload.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUpload {
    /// Key in the file store (`uploads/<account>/<random>/<file name>`).
    pub key: String,
    /// The file name the client sent (for messages), reduced to safe characters.
    pub file_name: String,
    pub size: u64,
}

/// Streams one multipart field into the file store under a fresh key of `account`.
/// A client that stops half-way leaves nothing behind.
pub async fn store_field(
    state: &AppState,
    account: AccountId,
    mut field: Field<'_>,
) -> ApiResult<StoredUpload> {
    let file_name = iaso_files::safe_file_name(field.file_name().unwrap_or("upload"));
    let key = iaso_tasks::upload_key(account, &file_name);
    let mut writer = state.files.writer(&key).map_err(ApiError::internal)?;
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if let Err(e) = writer.write(&chunk).await {
                    let _ = writer.abort().await;
                    return Err(ApiError::internal(e));
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest(format!("The upload was interrupted: {}", e.body_text()))
                });
            }
        }
    }
    let size = writer.finish().await.map_err(ApiError::internal)?;
    Ok(StoredUpload {
        key,
        file_name,
        size,
    })
}
