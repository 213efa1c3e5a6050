//! What devices send, from parsing to storage: submission metadata (the mobile app's
//! `POST /api/instances/` items), submission XML and media (`/sync/form_upload/`, OpenRosa),
//! and org units created on devices. Shared by the HTTP API and the bulk-upload task, so that
//! a submission arriving in a zip is received exactly as one arriving alone.
//!
//! Files go to the [`FileStore`] (keys `instances/<YYYY_MM>/<random>/...`), rows through the
//! store's idempotent use cases (docs/decisions/0500-submissions.md). Each function comes in
//! two forms where it matters: one owning its transaction (the API) and one taking the
//! caller's connection (`*_in`, the bulk-upload task's single transaction).

pub mod meta;
pub mod org_units;
pub mod xml;

use iaso_domain::FieldErrors;
use iaso_files::FileError;
pub use iaso_files::FileStore;
use iaso_store::StoreError;

pub use xml::{Keying, Media, MediaData, PreparedXml};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Bad input, by field.
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Files(#[from] FileError),
}

impl From<StoreError> for IngestError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(fe) => IngestError::Invalid(fe),
            other => IngestError::Store(other),
        }
    }
}

impl From<FieldErrors> for IngestError {
    fn from(e: FieldErrors) -> Self {
        IngestError::Invalid(e)
    }
}

impl IngestError {
    pub fn field(field: &str, message: impl Into<String>) -> IngestError {
        IngestError::Invalid(FieldErrors::single(field, message))
    }

    /// One line for logs and the raw upload log.
    pub fn describe(&self) -> String {
        match self {
            IngestError::Invalid(fe) => fe
                .iter()
                .map(|(f, m)| format!("{f}: {}", m.join(" ")))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
}

pub type IngestResult<T> = Result<T, IngestError>;

/// Hex md5 of a file (Iaso's `md5` fields).
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(bytes))
}

/// `YYYY_MM` of now, the folder of this month's uploads.
pub fn month() -> String {
    chrono::Utc::now().format("%Y_%m").to_string()
}
