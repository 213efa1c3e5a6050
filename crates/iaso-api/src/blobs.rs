//! File storage for forms and submissions (XLSForms, XForms, attachments, submission XML and
//! media, raw uploads), behind one small type so that moving to the shared storage layer
//! (local disk or S3) is a change of this file only.
//!
//! Keys are relative paths like `forms/12/xform_3.xml`; they never contain `..` or a leading
//! `/`. Files are served through signed URLs (`/files/<key>?s=<hmac>`): the signature proves
//! that the server handed the URL to a caller allowed to see the file, so the download needs
//! no session (the mobile app, ODK Collect and Enketo fetch them directly).

use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct Blobs {
    root: PathBuf,
    key: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid file key {0:?}")]
    BadKey(String),
    #[error("file storage error: {0}")]
    Io(#[from] std::io::Error),
}

/// Keeps a file name safe as one path segment.
pub fn safe_name(name: &str) -> String {
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

fn check_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && !key.contains('\\')
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if ok {
        Ok(())
    } else {
        Err(BlobError::BadKey(key.to_string()))
    }
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest as _, Md5};
    hex::encode(Md5::digest(bytes))
}

impl Blobs {
    /// Local storage under `root` (`<data_dir>/media`); `secret` signs URLs.
    pub fn local(root: PathBuf, secret: &str) -> Blobs {
        Blobs {
            root,
            key: secret.as_bytes().to_vec(),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Writes a file (atomically: a temporary file renamed into place).
    pub async fn put(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, bytes).await?;
        tokio::fs::rename(&tmp, &path).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// An open file for streaming, with its size.
    pub async fn open(&self, key: &str) -> Result<Option<(tokio::fs::File, u64)>, BlobError> {
        let path = self.path(key)?;
        match tokio::fs::File::open(&path).await {
            Ok(f) => {
                let len = f.metadata().await?.len();
                Ok(Some((f, len)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// HMAC-SHA256 of the key, hex (first 32 characters).
    pub fn sign(&self, key: &str) -> String {
        let mut k = [0u8; 64];
        if self.key.len() > 64 {
            k[..32].copy_from_slice(&Sha256::digest(&self.key));
        } else {
            k[..self.key.len()].copy_from_slice(&self.key);
        }
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&ipad)
            .chain_update(b"iaso-file:")
            .chain_update(key.as_bytes())
            .finalize();
        let outer = Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize();
        hex::encode(&outer[..16])
    }

    pub fn verify(&self, key: &str, sig: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.sign(key).as_bytes().ct_eq(sig.as_bytes()))
    }

    /// The signed download URL of a file, absolute on `base`.
    pub fn url(&self, base: &str, key: &str) -> String {
        let encoded: String = key
            .split('/')
            .map(|seg| url::form_urlencoded::byte_serialize(seg.as_bytes()).collect::<String>())
            .collect::<Vec<_>>()
            .join("/");
        format!(
            "{}/files/{encoded}?s={}",
            base.trim_end_matches('/'),
            self.sign(key)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_signatures() {
        assert!(check_key("a/b.xml").is_ok());
        assert!(check_key("../x").is_err());
        assert!(check_key("/etc/passwd").is_err());
        assert!(check_key("a//b").is_err());
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("photo 1.jpg"), "photo_1.jpg");
        let b = Blobs::local(PathBuf::from("/tmp"), "secret");
        let s = b.sign("a/b");
        assert!(b.verify("a/b", &s));
        assert!(!b.verify("a/c", &s));
        assert!(b
            .url("http://h/", "a/b c.xml")
            .starts_with("http://h/files/a/b+c.xml?s="));
    }
}
