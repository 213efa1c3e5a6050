//! Links to stored files for clients without a session: the mobile app, ODK Collect and Enketo
//! fetch XForms, form media and submission files directly. A link is
//! `/files/<key>?s=<signature>`, the signature an HMAC-SHA256 of the key under the server's
//! secret: only keys the API handed out work, and keys cannot be enumerated.
//!
//! The files themselves live in the one file store ([`iaso_files::FileStore`],
//! `AppState::files`: a local folder by default, an S3 bucket by settings); the link is
//! served by streaming the file from it, whatever the back-end.

use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use sha2::Sha256;

fn mac(secret: &str, key: &str) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    m.update(b"iaso-file:");
    m.update(key.as_bytes());
    Some(m)
}

/// The signature of a key (hex, 128 bits).
pub fn sign(secret: &str, key: &str) -> String {
    mac(secret, key)
        .map(|m| hex::encode(&m.finalize().into_bytes()[..16]))
        .unwrap_or_default()
}

/// Whether `sig` is the signature of `key` (constant time).
pub fn verify(secret: &str, key: &str, sig: &str) -> bool {
    let Ok(bytes) = hex::decode(sig) else {
        return false;
    };
    mac(secret, key).is_some_and(|m| m.verify_truncated_left(&bytes).is_ok() && bytes.len() == 16)
}

/// The absolute download link of a stored file.
pub fn url(state: &AppState, base: &str, key: &str) -> String {
    let encoded: String = key
        .split('/')
        .map(|seg| url::form_urlencoded::byte_serialize(seg.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/");
    format!(
        "{}/files/{encoded}?s={}",
        base.trim_end_matches('/'),
        sign(&state.settings.secret_key, key)
    )
}

/// The name a client gave a file, as one readable path segment (for names shown in answers
/// and manifests; storage keys use [`iaso_files::safe_file_name`]).
pub fn file_name_of(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "file".into()
    } else {
        cleaned
    }
}

/// Content type of a file name.
pub fn mime_of(name: &str) -> Option<&'static str> {
    let ext = name.rsplit('.').next()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "tiff" => "image/tiff",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "txt" => "text/plain",
        "xml" => "text/xml; charset=utf-8",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xls" => "application/vnd.ms-excel",
        _ => return None,
    })
}

/// A stored file, through its signed link (streamed from the file store).
pub async fn download(
    State(state): State<AppState>,
    Path(key): Path<String>,
    q: QueryParams,
) -> Response {
    let sig = q.get("s").unwrap_or("");
    if !verify(&state.settings.secret_key, &key, sig) {
        return ApiError::NotFound.into_response();
    }
    match state.files.get(&key).await {
        Ok(read) => {
            let name = key.rsplit('/').next().unwrap_or("file");
            let ct = mime_of(name).unwrap_or("application/octet-stream");
            let stream = read
                .stream
                .map(|chunk| chunk.map_err(|e| std::io::Error::other(e.to_string())));
            (
                [
                    (header::CONTENT_TYPE, ct.to_string()),
                    (header::CONTENT_LENGTH, read.size.to_string()),
                    (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
                ],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Err(iaso_files::FileError::NotFound(_)) => ApiError::NotFound.into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let s = sign("secret", "a/b");
        assert_eq!(s.len(), 32);
        assert!(verify("secret", "a/b", &s));
        assert!(!verify("secret", "a/c", &s));
        assert!(!verify("other", "a/b", &s));
        assert!(!verify("secret", "a/b", &s[..30]));
        assert!(!verify("secret", "a/b", "zz"));
        assert_eq!(file_name_of("../../etc/passwd"), "passwd");
        assert_eq!(file_name_of("photo 1.jpg"), "photo_1.jpg");
    }
}
