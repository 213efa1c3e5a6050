//! Submission XML and its media: parsed (safely, `iaso_domain::submission`), stored in the
//! file store, then saved by the store's idempotent ingest.

use crate::{md5_hex, month, FileStore, IngestError, IngestResult};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use iaso_domain::submission::Submission;
use iaso_files::safe_file_name;
use iaso_store::instances::{
    AnswersEdit, AnswersEdited, NewInstanceFile, UploadContext, UploadKey, XmlIngest, XmlOutcome,
    XmlUpload,
};
use iaso_store::Store;
use std::path::PathBuf;

/// How an XML finds its submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keying {
    /// The mobile app: the XML's file name joins it to its metadata.
    FileName,
    /// OpenRosa: the XML's `meta/instanceID`.
    InstanceId,
}

/// The content of a media file: in memory (a multipart part) or on disk (an extracted zip).
#[derive(Debug, Clone)]
pub enum MediaData {
    Bytes(Bytes),
    File(PathBuf),
}

/// A media file sent with a submission, under the name the XML uses for it.
#[derive(Debug, Clone)]
pub struct Media {
    pub name: String,
    pub data: MediaData,
}

/// An XML upload whose files are stored, ready for [`iaso_store::instances::ingest_xml_in`].
#[derive(Debug, Clone)]
pub struct PreparedXml {
    pub parsed: Submission,
    pub key: UploadKey,
    pub file_name: String,
    pub xml_key: String,
    pub xml_size: i64,
    pub md5: String,
    pub media: Vec<NewInstanceFile>,
}

impl PreparedXml {
    pub fn upload<'a>(
        &'a self,
        source: &'a str,
        source_updated_at: Option<DateTime<Utc>>,
    ) -> XmlUpload<'a> {
        XmlUpload {
            key: self.key.clone(),
            file_name: self.file_name.clone(),
            file: self.xml_key.clone(),
            file_size: self.xml_size,
            md5: self.md5.clone(),
            submission: &self.parsed,
            media: self.media.clone(),
            source,
            source_updated_at,
        }
    }

    /// Every file this upload stored.
    pub fn stored_keys(&self) -> Vec<String> {
        std::iter::once(self.xml_key.clone())
            .chain(self.media.iter().map(|m| m.file.clone()))
            .collect()
    }

    /// The stored files the saved submission does not use: the XML when it was not taken
    /// (same XML received before, or refused), and media already attached.
    pub fn leftovers(&self, ingest: &XmlIngest) -> Vec<String> {
        let mut keys = ingest.unused_files.clone();
        if matches!(
            ingest.outcome,
            XmlOutcome::Duplicate(_) | XmlOutcome::Conflict(_)
        ) {
            keys.push(self.xml_key.clone());
        }
        keys
    }
}

/// Parses the XML, derives its key, and stores it with its media under a fresh folder.
pub async fn prepare(
    files: &FileStore,
    xml_name: &str,
    xml: &[u8],
    media: &[Media],
    keying: Keying,
) -> IngestResult<PreparedXml> {
    let parsed = iaso_domain::submission::parse(xml)
        .map_err(|e| IngestError::field("xml_submission_file", e.to_string()))?;
    let file_name = xml_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .to_string();
    let key = match keying {
        Keying::FileName => {
            if file_name.is_empty() {
                return Err(IngestError::field(
                    "xml_submission_file",
                    "The file has no name.",
                ));
            }
            UploadKey::FileName(file_name.clone())
        }
        Keying::InstanceId => {
            UploadKey::InstanceId(parsed.instance_id.clone().ok_or_else(|| {
                IngestError::field(
                    "xml_submission_file",
                    "The submission has no meta/instanceID.",
                )
            })?)
        }
    };
    let stored_name = match &key {
        UploadKey::FileName(n) | UploadKey::Uuid(n) => n.clone(),
        UploadKey::InstanceId(i) => format!("{}.xml", i.strip_prefix("uuid:").unwrap_or(i)),
    };
    let (xml_key, stored) = store_files(files, &stored_name, xml, media).await?;
    Ok(PreparedXml {
        key,
        file_name: stored_name,
        xml_size: xml.len() as i64,
        md5: md5_hex(xml),
        xml_key,
        media: stored,
        parsed,
    })
}

/// Stores an XML and its media under a fresh folder; on failure nothing stays stored.
async fn store_files(
    files: &FileStore,
    stored_name: &str,
    xml: &[u8],
    media: &[Media],
) -> IngestResult<(String, Vec<NewInstanceFile>)> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let dir = format!("instances/{}/{}", month(), &tag[..12]);
    let xml_key = format!("{dir}/{}", safe_file_name(stored_name));
    files.put(&xml_key, Bytes::copy_from_slice(xml)).await?;
    let mut stored = Vec::with_capacity(media.len());
    for (n, m) in media.iter().enumerate() {
        let k = format!("{dir}/m{n}_{}", safe_file_name(&m.name));
        let written = match &m.data {
            MediaData::Bytes(b) => files
                .put(&k, b.clone())
                .await
                .map(|()| (b.len() as i64, md5_hex(b))),
            MediaData::File(p) => match files.put_file(&k, p).await {
                Ok(size) => file_md5(p).await.map(|md5| (size as i64, md5)),
                Err(e) => Err(e),
            },
        };
        match written {
            Ok((size, md5)) => stored.push(NewInstanceFile {
                name: m.name.clone(),
                file: k,
                size,
                md5,
            }),
            Err(e) => {
                let mut keys: Vec<String> = stored.into_iter().map(|f| f.file).collect();
                keys.push(xml_key);
                discard(files, &keys).await;
                return Err(e.into());
            }
        }
    }
    Ok((xml_key, stored))
}

async fn file_md5(path: &std::path::Path) -> Result<String, iaso_files::FileError> {
    use md5::{Digest, Md5};
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(path).await?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Deletes stored files, logging failures (nothing refers to them).
pub async fn discard(files: &FileStore, keys: &[String]) {
    for k in keys {
        if let Err(e) = files.delete(k).await {
            tracing::warn!(key = %k, error = %e, "cannot delete an unused upload file");
        }
    }
}

/// Receives one XML upload: stores its files, saves the submission (one transaction) and
/// deletes the files it did not use.
#[allow(clippy::too_many_arguments)]
pub async fn ingest(
    store: &Store,
    files: &FileStore,
    ctx: UploadContext,
    xml_name: &str,
    xml: &[u8],
    media: &[Media],
    keying: Keying,
    source: &str,
) -> IngestResult<XmlOutcome> {
    let prepared = prepare(files, xml_name, xml, media, keying).await?;
    match store.ingest_xml(ctx, &prepared.upload(source, None)).await {
        Ok(done) => {
            discard(files, &prepared.leftovers(&done)).await;
            Ok(done.outcome)
        }
        Err(e) => {
            discard(files, &prepared.stored_keys()).await;
            Err(e.into())
        }
    }
}

/// Reads a stored XML back and parses it.
pub async fn read_submission(files: &FileStore, key: &str) -> IngestResult<Submission> {
    let bytes = files.get_bytes(key).await?;
    iaso_domain::submission::parse(&bytes)
        .map_err(|e| IngestError::field("xml_submission_file", e.to_string()))
}

/// Parses again the XML of a submission claimed by its metadata call (it came first,
/// anonymously, and was parsed without its form).
pub async fn reparse(store: &Store, files: &FileStore, id: i64) -> IngestResult<()> {
    let Some(key) = store.instance_file_key(id).await? else {
        return Ok(());
    };
    let parsed = read_submission(files, &key).await?;
    store.reparse_instance(id, &parsed).await?;
    Ok(())
}

/// Every non-empty text of a submission (answers naming media files among them).
pub fn texts(node: &iaso_domain::submission::Node, out: &mut Vec<String>) {
    let t = node.text.trim();
    if !t.is_empty() {
        out.push(t.to_string());
    }
    for c in &node.children {
        texts(c, out);
    }
}

/// An edit of a submission's answers (Iaso's Enketo edit): the XML's root carries the
/// submission's id in `iasoInstance`. Parses it (safely), stores it with its media, and lets
/// the store replace the submission's XML (one transaction, see
/// [`Store::edit_instance_answers`]); unused stored files are deleted. Returns the id.
pub async fn edit_answers(
    store: &Store,
    files: &FileStore,
    account: iaso_domain::AccountId,
    viewer: &iaso_store::instances::Viewer,
    user: iaso_domain::UserId,
    xml: &[u8],
    media: &[Media],
) -> IngestResult<(i64, AnswersEdited)> {
    let parsed = iaso_domain::submission::parse(xml)
        .map_err(|e| IngestError::field("xml_submission_file", e.to_string()))?;
    let id = match parsed.iaso_instance.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(IngestError::field(
                "xml_submission_file",
                "The root element has no iasoInstance attribute naming the submission to edit.",
            ))
        }
        Some(v) => v.parse::<i64>().map_err(|_| {
            IngestError::field(
                "xml_submission_file",
                format!("iasoInstance {v:?} is not a submission id."),
            )
        })?,
    };
    let stored_name = match parsed.instance_id.as_deref() {
        Some(i) => format!("{}.xml", i.strip_prefix("uuid:").unwrap_or(i)),
        None => format!("instance_{id}.xml"),
    };
    let (xml_key, stored) = store_files(files, &stored_name, xml, media).await?;
    let mut referenced = Vec::new();
    texts(&parsed.root, &mut referenced);
    let edit = AnswersEdit {
        file: xml_key.clone(),
        file_size: xml.len() as i64,
        md5: md5_hex(xml),
        submission: &parsed,
        media: stored,
        referenced,
    };
    match store
        .edit_instance_answers(account, viewer, id, user, &edit)
        .await
    {
        Ok(done) => {
            discard(files, &done.unused_files).await;
            Ok((id, done))
        }
        Err(e) => {
            let mut keys: Vec<String> = edit.media.iter().map(|m| m.file.clone()).collect();
            keys.push(xml_key);
            discard(files, &keys).await;
            Err(e.into())
        }
    }
}
