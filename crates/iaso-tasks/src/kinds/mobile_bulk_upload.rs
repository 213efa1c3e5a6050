//! `process_mobile_bulk_upload` (Iaso's task behind `POST /api/mobile/bulkupload/`): a zip
//! the mobile app sends instead of many calls, holding `orgUnits.json` (units created on the
//! device), `instances.json` (the metadata of each submission, as `POST /api/instances/`) and
//! one folder per submission uuid with its XML and media.
//!
//! The raw zip is in the file store and logged in `api_imports` before the task is queued.
//! Everything is saved in the task's one transaction, through the same ingest as the single
//! calls (`iaso_ingest`), so the import is all or nothing and idempotent: sending the same zip
//! again finds every unit (device uuid) and submission (uuid, file name, same XML) already
//! there and creates nothing. A submission sent again with newer device edits
//! (`updated_at`) replaces the stored XML; an older one is ignored (as in Iaso).
//! `storageLogs.json`, `stockLedgerItems.json` and `changeRequests.json` are not supported
//! yet: they are reported in the result message and left untouched.

use crate::{TaskContext, TaskError, TaskHandler, TaskOutcome};
use iaso_ingest::{IngestError, Keying, Media, MediaData};
use iaso_store::audit::sources;
use iaso_store::device_org_units::create_device_org_units_in;
use iaso_store::instances::{
    finish_api_import_in, ingest_mobile_meta_in, ingest_xml_in, reparse_instance_in, MetaOutcome,
    UploadContext, UploadKey, XmlOutcome,
};
use iaso_store::org_units::Writer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const NAME: &str = "process_mobile_bulk_upload";

/// Limits of what a zip may hold (a device's backlog is far below).
pub const MAX_ENTRIES: usize = 100_000;
pub const MAX_UNCOMPRESSED_BYTES: u64 = 4 << 30;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Params {
    /// The `api_imports` row logging the raw upload.
    pub api_import_id: i64,
    pub project_id: i64,
    /// The zip in the file store.
    pub zip_key: String,
}

const INSTANCES_JSON: &str = "instances.json";
const ORG_UNITS_JSON: &str = "orgUnits.json";
const UNSUPPORTED: &[&str] = &[
    "storageLogs.json",
    "stockLedgerItems.json",
    "changeRequests.json",
];

/// The extracted zip: its files by path inside the zip.
struct Extracted {
    _dir: tempfile::TempDir,
    files: BTreeMap<String, PathBuf>,
}

impl Extracted {
    fn get(&self, name: &str) -> Option<&Path> {
        self.files.get(name).map(PathBuf::as_path)
    }

    /// Files directly inside `folder/`.
    fn folder(&self, folder: &str) -> Vec<(&str, &Path)> {
        let prefix = format!("{folder}/");
        self.files
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('/'))
            .map(|(k, p)| (&k[prefix.len()..], p.as_path()))
            .collect()
    }
}

/// Extracts a zip into a temporary folder, refusing paths that leave it and bombs.
fn extract(zip_path: &Path) -> Result<Extracted, String> {
    let file = std::fs::File::open(zip_path).map_err(|e| format!("cannot open the zip: {e}"))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| format!("The upload is not a valid zip: {e}"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!(
            "The zip holds {} entries, more than {MAX_ENTRIES}.",
            archive.len()
        ));
    }
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let mut files = BTreeMap::new();
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format!("The zip is damaged: {e}"))?;
        if entry.is_dir() {
            continue;
        }
        let Some(rel) = entry.enclosed_name() else {
            return Err(format!(
                "The zip entry {:?} has an unsafe path.",
                entry.name()
            ));
        };
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let target = dir.path().join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot extract: {e}"))?;
        }
        let mut out = std::fs::File::create(&target).map_err(|e| format!("cannot extract: {e}"))?;
        let budget = MAX_UNCOMPRESSED_BYTES - total;
        let written = std::io::copy(&mut (&mut entry).take(budget + 1), &mut out)
            .map_err(|e| format!("The zip entry {name:?} is damaged: {e}"))?;
        if written > budget {
            return Err(format!(
                "The zip expands to more than {MAX_UNCOMPRESSED_BYTES} bytes."
            ));
        }
        total += written;
        files.insert(name, target);
    }
    Ok(Extracted { _dir: dir, files })
}

use std::io::Read as _;

async fn read_json(x: &Extracted, name: &str) -> Result<Option<Value>, TaskError> {
    let Some(path) = x.get(name) else {
        return Ok(None);
    };
    let bytes = tokio::fs::read(path).await.map_err(TaskError::internal)?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| TaskError::fail(format!("{name} is not valid JSON: {e}")))?;
    Ok(Some(v))
}

fn ingest_failure(what: &str, e: IngestError) -> TaskError {
    match e {
        IngestError::Invalid(_) => TaskError::fail(format!("{what}: {}", e.describe())),
        other => TaskError::internal(other),
    }
}

#[derive(Default)]
struct Stats {
    org_units: usize,
    submissions: usize,
    unchanged: usize,
    files: usize,
    waiting_for_xml: usize,
}

pub struct MobileBulkUpload;

#[async_trait::async_trait]
impl TaskHandler for MobileBulkUpload {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The work is one transaction: a retry after a dead worker redoes it from scratch.
    fn max_attempts(&self) -> i64 {
        3
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        let params: Params = ctx.params()?;
        let mut stored = Vec::new();
        let result = import(ctx, &params, &mut stored).await;
        if result.is_err() {
            // Rolled back: nothing refers to the files this run stored.
            iaso_ingest::xml::discard(ctx.files(), &stored).await;
        }
        result
    }
}

async fn import(
    ctx: &TaskContext,
    params: &Params,
    stored: &mut Vec<String>,
) -> Result<TaskOutcome, TaskError> {
    let account = ctx.account_id();
    let user = ctx.created_by();
    ctx.progress(0, 100, "Starting").await?;
    // Everything read from the store happens before the task's transaction opens.
    let account_row = ctx.store().account(account).await?;
    let version = account_row.default_version_id;
    let roots = match user {
        Some(u) => ctx
            .store()
            .principal(u)
            .await?
            .and_then(|p| p.membership)
            .filter(|m| m.account.id == account)
            .map(|m| m.org_unit_ids)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let scope = ctx.store().org_unit_scope(account, &roots).await?;

    let local = ctx.files().local_copy(&params.zip_key).await?;
    let zip_path = local.path().to_path_buf();
    let x = tokio::task::spawn_blocking(move || extract(&zip_path))
        .await
        .map_err(TaskError::internal)?
        .map_err(TaskError::fail)?;
    drop(local);
    let org_units = read_json(&x, ORG_UNITS_JSON).await?;
    let instances = read_json(&x, INSTANCES_JSON).await?;
    let skipped: Vec<&str> = UNSUPPORTED
        .iter()
        .copied()
        .filter(|n| x.get(n).is_some())
        .collect();

    let upload = UploadContext {
        account: Some(account),
        project: Some(params.project_id),
        user,
    };
    let mut stats = Stats::default();
    let mut tx = ctx.begin().await?;

    if let Some(body) = &org_units {
        ctx.progress(0, 100, "Importing org units").await?;
        let items = iaso_ingest::org_units::parse_device_org_units(body)
            .map_err(|e| ingest_failure(ORG_UNITS_JSON, e.into()))?;
        let Some(version) = version else {
            return Err(TaskError::fail(
                "The project's account has no default version: org units cannot be created.",
            ));
        };
        let writer = Writer {
            user,
            scope: &scope,
            editable_types: &[],
            source: sources::BULK_UPLOAD,
        };
        let created = create_device_org_units_in(&mut tx, &writer, version, &items)
            .await
            .map_err(|e| ingest_failure(ORG_UNITS_JSON, e.into()))?;
        stats.org_units = created.len();
    }

    if let Some(body) = instances {
        let items = iaso_ingest::meta::items_of(Some(body))
            .map_err(|e| ingest_failure(INSTANCES_JSON, e))?;
        let total = items.len() as i64;
        for (i, item) in items.iter().enumerate() {
            ctx.progress(i as i64, total, "Processing forms and files")
                .await?;
            let meta = iaso_ingest::meta::parse_meta(item, i)
                .map_err(|e| TaskError::fail(format!("{INSTANCES_JSON}: {e}")))?;
            let what = format!("{INSTANCES_JSON} item {i}");
            let outcome = ingest_mobile_meta_in(&mut tx, upload, &meta)
                .await
                .map_err(|e| ingest_failure(&what, e.into()))?;
            if let MetaOutcome::Claimed(id) = outcome {
                if let Some(key) = ctx.store().instance_file_key(id).await? {
                    let parsed = iaso_ingest::xml::read_submission(ctx.files(), &key)
                        .await
                        .map_err(|e| ingest_failure(&what, e))?;
                    reparse_instance_in(&mut tx, id, &parsed).await?;
                }
            }
            let folder = item
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let xml_path = x.get(&format!("{folder}/{}", meta.file_name));
            let Some(xml_path) = xml_path else {
                ctx.log(format!(
                    "{what}: no {folder}/{} in the zip; the submission waits for its XML",
                    meta.file_name
                ))
                .await?;
                stats.waiting_for_xml += 1;
                continue;
            };
            let xml = tokio::fs::read(xml_path)
                .await
                .map_err(TaskError::internal)?;
            let media: Vec<Media> = x
                .folder(&folder)
                .into_iter()
                .filter(|(name, _)| !name.to_ascii_lowercase().ends_with(".xml"))
                .map(|(name, path)| Media {
                    name: name.to_string(),
                    data: MediaData::File(path.to_path_buf()),
                })
                .collect();
            let mut prepared = iaso_ingest::xml::prepare(
                ctx.files(),
                &meta.file_name,
                &xml,
                &media,
                Keying::FileName,
            )
            .await
            .map_err(|e| ingest_failure(&what, e))?;
            stored.extend(prepared.stored_keys());
            // The submission is the one of this metadata (Iaso looks it up by uuid), whatever
            // the XML's file name.
            if let Some(uuid) = &meta.uuid {
                prepared.key = UploadKey::Uuid(uuid.clone());
            }
            let done = ingest_xml_in(
                &mut tx,
                upload,
                &prepared.upload(sources::BULK_UPLOAD, meta.source_updated_at),
            )
            .await
            .map_err(|e| ingest_failure(&what, e.into()))?;
            let leftovers = prepared.leftovers(&done);
            stats.files += media.len().saturating_sub(done.unused_files.len());
            match done.outcome {
                XmlOutcome::Duplicate(_) | XmlOutcome::Conflict(_) => stats.unchanged += 1,
                _ => stats.submissions += 1,
            }
            // Files the saved rows do not use are deleted now (nothing refers to them).
            iaso_ingest::xml::discard(ctx.files(), &leftovers).await;
            stored.retain(|k| !leftovers.contains(k));
        }
        ctx.progress(total, total, "").await?;
    }

    finish_api_import_in(&mut tx, params.api_import_id, Some(account), None).await?;
    let mut message = format!(
        "Mobile bulk upload imported: {} org unit(s), {} submission(s) ({} unchanged), {} attachment(s).",
        stats.org_units, stats.submissions, stats.unchanged, stats.files
    );
    if stats.waiting_for_xml > 0 {
        message.push_str(&format!(
            " {} submission(s) had no XML in the zip and wait for it.",
            stats.waiting_for_xml
        ));
    }
    if !skipped.is_empty() {
        message.push_str(&format!(" Not supported, ignored: {}.", skipped.join(", ")));
    }
    Ok(TaskOutcome::message(message))
}
