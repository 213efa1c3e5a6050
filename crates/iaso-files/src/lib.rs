//! File storage for uploaded task inputs (GeoPackages, CSVs) and task results (exports).
//!
//! One [`FileStore`] type over two back-ends, both through the `object_store` crate:
//! - a local folder (the default: `<data_dir>/files`), for the single-binary deployment;
//! - an S3-compatible bucket (AWS S3, MinIO, Garage, Scaleway, ...) chosen by settings, for
//!   several servers and workers sharing files.
//!
//! Files are addressed by **keys**: relative paths made of safe segments
//! (`tasks/12/345/profiles.csv`). Keys never come from users unchecked: [`FileStore`] refuses
//! empty, absolute, `..` and odd-character segments, so a key cannot escape the store's root.
//!
//! Reads are streams ([`FileStore::get`]), so the API can send a large export without holding it
//! in memory; writes are either whole buffers ([`FileStore::put`]) or an `AsyncWrite`
//! ([`FileStore::writer`]) that switches to a multipart upload on S3 for large files.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::signer::Signer;
use object_store::{ObjectStore, PutPayload};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::io::AsyncWriteExt;

#[derive(Debug, Error)]
pub enum FileError {
    #[error("no file {0:?}")]
    NotFound(String),
    #[error("invalid file key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("file storage misconfigured: {0}")]
    Config(String),
    #[error("file storage error: {0}")]
    Backend(String),
    #[error("file storage I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<object_store::Error> for FileError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { path, .. } => FileError::NotFound(path),
            other => FileError::Backend(other.to_string()),
        }
    }
}

pub type FileResult<T> = Result<T, FileError>;

/// Where files go, as read from the settings (`[files]` in the TOML file or `IASO_FILES_*`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FileSettings {
    /// "local" (default) or "s3".
    pub backend: String,
    /// Local folder; empty means `<data_dir>/files`.
    pub local_dir: Option<PathBuf>,
    /// S3 bucket name.
    pub s3_bucket: String,
    /// S3 endpoint for S3-compatible services (MinIO: `http://127.0.0.1:9000`); empty for AWS.
    pub s3_endpoint: String,
    pub s3_region: String,
    /// Credentials; empty: taken from the usual AWS_* environment variables.
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
    /// Prefix inside the bucket, e.g. "iaso/production".
    pub s3_prefix: String,
    /// Allow plain-HTTP endpoints (a local MinIO).
    pub s3_allow_http: bool,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            backend: "local".into(),
            local_dir: None,
            s3_bucket: String::new(),
            s3_endpoint: String::new(),
            s3_region: "us-east-1".into(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: String::new(),
            s3_prefix: String::new(),
            s3_allow_http: false,
        }
    }
}

impl std::fmt::Display for FileSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.backend.as_str() {
            "s3" => write!(f, "s3://{}/{}", self.s3_bucket, self.s3_prefix),
            _ => write!(
                f,
                "local folder {}",
                self.local_dir
                    .as_deref()
                    .map_or("<data_dir>/files".into(), |p| p.display().to_string())
            ),
        }
    }
}

#[derive(Clone)]
enum Backend {
    Local(PathBuf),
    S3(Arc<object_store::aws::AmazonS3>),
}

/// A file store. Cheap to clone.
#[derive(Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
    prefix: Option<StorePath>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Local(root) => write!(f, "FileStore(local {})", root.display()),
            Backend::S3(_) => write!(f, "FileStore(s3)"),
        }
    }
}

/// A file being read: its size and its bytes as a stream.
pub struct FileRead {
    pub size: u64,
    pub stream: BoxStream<'static, FileResult<Bytes>>,
}

/// A file on the local disk for code that needs a path (SQLite-based GeoPackage reader): the
/// stored file itself on the local back-end, a downloaded temporary copy on S3 (deleted when
/// this value is dropped).
pub struct LocalFile {
    path: PathBuf,
    _temp: Option<tempfile::TempPath>,
}

impl LocalFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes a file piece by piece; call [`FileWriter::finish`] to complete it (dropping it
/// without finishing abandons the upload).
pub struct FileWriter {
    inner: BufWriter,
    written: u64,
}

impl FileWriter {
    pub async fn write(&mut self, bytes: &[u8]) -> FileResult<()> {
        self.inner.write_all(bytes).await?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Completes the upload and returns the file size.
    pub async fn finish(mut self) -> FileResult<u64> {
        self.inner.shutdown().await?;
        Ok(self.written)
    }

    /// Abandons the upload (nothing is left behind on S3; the local temp file is removed).
    pub async fn abort(mut self) -> FileResult<()> {
        self.inner
            .abort()
            .await
            .map_err(|e| FileError::Backend(e.to_string()))
    }
}

/// Checks a key and converts it to an object-store path.
pub fn check_key(key: &str) -> FileResult<()> {
    let bad = |reason| {
        Err(FileError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() || key.len() > 1024 {
        return bad("empty or longer than 1024 characters");
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return bad("empty, '.' or '..' segment");
        }
        if segment.starts_with('.') {
            return bad("segments may not start with a dot");
        }
        if !segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return bad("only letters, digits, '-', '_' and '.' are allowed in segments");
        }
    }
    Ok(())
}

/// A file name reduced to characters safe in a key (`"My file (1).gpkg"` → `"My_file_1_.gpkg"`).
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while out.starts_with('.') {
        out.remove(0);
    }
    out.truncate(120);
    if out.is_empty() {
        "file".into()
    } else {
        out
    }
}

impl FileStore {
    /// Builds the store named by `settings`; `data_dir` is where the default local folder goes.
    pub fn from_settings(settings: &FileSettings, data_dir: &Path) -> FileResult<FileStore> {
        match settings.backend.trim() {
            "" | "local" => {
                let dir = settings
                    .local_dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("files"));
                FileStore::local(&dir)
            }
            "s3" => FileStore::s3(settings),
            other => Err(FileError::Config(format!(
                "unknown file storage backend {other:?} (use \"local\" or \"s3\")"
            ))),
        }
    }

    /// Files under a local folder (created if missing).
    pub fn local(root: &Path) -> FileResult<FileStore> {
        std::fs::create_dir_all(root).map_err(|e| {
            FileError::Config(format!("cannot create the folder {}: {e}", root.display()))
        })?;
        let root = root.canonicalize()?;
        let store = LocalFileSystem::new_with_prefix(&root)?;
        Ok(FileStore {
            store: Arc::new(store),
            backend: Backend::Local(root),
            prefix: None,
        })
    }

    /// Files in an S3-compatible bucket.
    pub fn s3(settings: &FileSettings) -> FileResult<FileStore> {
        if settings.s3_bucket.trim().is_empty() {
            return Err(FileError::Config(
                "the S3 file storage needs a bucket (files.s3_bucket / IASO_FILES_S3_BUCKET)"
                    .into(),
            ));
        }
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(settings.s3_bucket.trim())
            .with_region(settings.s3_region.trim())
            .with_allow_http(settings.s3_allow_http);
        if !settings.s3_endpoint.trim().is_empty() {
            // Self-hosted S3 implementations usually want path-style requests.
            builder = builder
                .with_endpoint(settings.s3_endpoint.trim())
                .with_virtual_hosted_style_request(false);
        }
        if !settings.s3_access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&settings.s3_access_key_id)
                .with_secret_access_key(&settings.s3_secret_access_key);
        }
        let s3 = Arc::new(
            builder
                .build()
                .map_err(|e| FileError::Config(e.to_string()))?,
        );
        let prefix = settings.s3_prefix.trim().trim_matches('/');
        let prefix = if prefix.is_empty() {
            None
        } else {
            Some(StorePath::parse(prefix).map_err(|e| FileError::Config(e.to_string()))?)
        };
        Ok(FileStore {
            store: s3.clone(),
            backend: Backend::S3(s3),
            prefix,
        })
    }

    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local(_))
    }

    fn path(&self, key: &str) -> FileResult<StorePath> {
        check_key(key)?;
        let relative = StorePath::parse(key).map_err(|_| FileError::InvalidKey {
            key: key.to_string(),
            reason: "not a valid path",
        })?;
        Ok(match &self.prefix {
            Some(prefix) => prefix.parts().chain(relative.parts()).collect(),
            None => relative,
        })
    }

    /// Stores `bytes` under `key`, replacing any previous file.
    pub async fn put(&self, key: &str, bytes: impl Into<Bytes>) -> FileResult<()> {
        let path = self.path(key)?;
        self.store
            .put(&path, PutPayload::from_bytes(bytes.into()))
            .await?;
        Ok(())
    }

    /// A writer for a (possibly large) file under `key`.
    pub fn writer(&self, key: &str) -> FileResult<FileWriter> {
        let path = self.path(key)?;
        Ok(FileWriter {
            inner: BufWriter::with_capacity(self.store.clone(), path, 8 * 1024 * 1024),
            written: 0,
        })
    }

    /// Copies a local file into the store.
    pub async fn put_file(&self, key: &str, local: &Path) -> FileResult<u64> {
        let mut file = tokio::fs::File::open(local).await?;
        let mut writer = self.writer(key)?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await?;
            if n == 0 {
                break;
            }
            writer.write(&buf[..n]).await?;
        }
        writer.finish().await
    }

    /// Opens a file for streaming.
    pub async fn get(&self, key: &str) -> FileResult<FileRead> {
        let path = self.path(key)?;
        let result = self.store.get(&path).await?;
        let size = result.meta.size;
        let stream = result.into_stream().map_err(FileError::from).boxed();
        Ok(FileRead { size, stream })
    }

    /// Reads a whole (small) file.
    pub async fn get_bytes(&self, key: &str) -> FileResult<Bytes> {
        let path = self.path(key)?;
        Ok(self.store.get(&path).await?.bytes().await?)
    }

    /// The size of a file, or `None` when there is none.
    pub async fn size(&self, key: &str) -> FileResult<Option<u64>> {
        let path = self.path(key)?;
        match self.store.head(&path).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a file; deleting a missing file is not an error.
    pub async fn delete(&self, key: &str) -> FileResult<()> {
        let path = self.path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The file as a path on the local disk (see [`LocalFile`]).
    pub async fn local_copy(&self, key: &str) -> FileResult<LocalFile> {
        if let Backend::Local(root) = &self.backend {
            check_key(key)?;
            let path = root.join(key);
            if !tokio::fs::try_exists(&path).await? {
                return Err(FileError::NotFound(key.to_string()));
            }
            return Ok(LocalFile { path, _temp: None });
        }
        let mut read = self.get(key).await?;
        let temp = tempfile::NamedTempFile::new()?;
        let (std_file, temp_path) = temp.into_parts();
        let mut file = tokio::fs::File::from_std(std_file);
        while let Some(chunk) = read.stream.next().await {
            file.write_all(&chunk?).await?;
        }
        file.flush().await?;
        Ok(LocalFile {
            path: temp_path.to_path_buf(),
            _temp: Some(temp_path),
        })
    }

    /// A URL that lets anyone holding it download the file for `expires_in`, when the back-end
    /// can sign one (S3); `None` for the local folder (the API then serves the file itself).
    pub async fn presigned_url(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> FileResult<Option<url::Url>> {
        let path = self.path(key)?;
        match &self.backend {
            Backend::Local(_) => Ok(None),
            Backend::S3(s3) => Ok(Some(
                s3.signed_url(http::Method::GET, &path, expires_in).await?,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape() {
        assert!(check_key("tasks/1/2/out.csv").is_ok());
        for bad in [
            "", "/abs", "a//b", "../x", "a/../b", "a/./b", ".hidden", "a b", "a\\b", "é",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            safe_file_name("../../etc/My file (1).gpkg"),
            "My_file__1_.gpkg"
        );
        assert_eq!(safe_file_name("..."), "file");
        assert_eq!(safe_file_name(""), "file");
    }
}
