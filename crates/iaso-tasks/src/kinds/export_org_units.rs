//! Org unit file exports (CSV, XLSX, GeoPackage, GeoJSON, Parquet), used two ways:
//!
//! * synchronously by `GET /api/orgunits/?csv=true|xlsx=true|gpkg=true|geojson=true` (Iaso's
//!   way): [`produce`] writes into a bounded channel that feeds the HTTP body;
//! * as the task `export_org_units` (`POST /api/tasks/create/exportorgunits/`), whose result
//!   is a file in the file store, downloadable from `/api/tasks/<id>/download/`.
//!
//! Rows are streamed from the database (`Store::stream_export_rows`) into the writer: CSV and
//! GeoJSON chunks go out as they are produced; XLSX (constant-memory mode) and GeoPackage are
//! built in a temporary file by a blocking thread fed through a bounded channel, then streamed.
//! Memory stays bounded whatever the number of rows.

use crate::{TaskContext, TaskError, TaskHandler, TaskOutcome};
use bytes::Bytes;
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use iaso_domain::OrgUnitId;
use iaso_exchange::export::{CsvExport, Format, GeoJsonExport, GpkgExport, Table, XlsxExport};
use iaso_exchange::parquet::{ExtraFields, ParquetExport};
use iaso_store::org_unit_io::{ExportQuery, ExportRow};
use iaso_store::org_unit_search::OrgUnitFilter;
use iaso_store::Store;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub const NAME: &str = "export_org_units";

/// Chunk size of streamed output.
const CHUNK: usize = 64 * 1024;
/// Rows in flight between the database stream and a blocking writer.
const ROWS_IN_FLIGHT: usize = 1024;

/// A failed export (after the response may have started).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExportError(pub String);

fn err(e: impl std::fmt::Display) -> ExportError {
    ExportError(e.to_string())
}

/// A temporary file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(ext: &str) -> TempFile {
        TempFile(std::env::temp_dir().join(format!(
            "iaso-export-{}.{ext}",
            uuid::Uuid::new_v4().simple()
        )))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn send(out: &mut mpsc::Sender<Bytes>, chunk: Vec<u8>) -> Result<(), ExportError> {
    out.send(Bytes::from(chunk))
        .await
        .map_err(|_| ExportError("the receiver went away".into()))
}

/// Writes the export of `q` in `format` into `out`, chunk by chunk. `rows` counts rows done.
pub async fn produce(
    store: &Store,
    q: &ExportQuery,
    format: Format,
    mut out: mpsc::Sender<Bytes>,
    rows: Arc<AtomicU64>,
) -> Result<(), ExportError> {
    let groups = store.export_groups(q).await.map_err(err)?;
    let mut stream = store
        .stream_export_rows(q, format.shapes())
        .await
        .map_err(err)?;
    match format {
        Format::Csv => {
            let table = Table::new(Vec::new(), groups);
            let mut w = CsvExport::new(&table);
            while let Some(row) = stream.next().await {
                let row = row.map_err(err)?;
                w.write(&table.row(&row, None));
                rows.fetch_add(1, Ordering::Relaxed);
                if w.buffered() >= CHUNK {
                    send(&mut out, w.take()).await?;
                }
            }
            send(&mut out, w.take()).await?;
        }
        Format::GeoJson => {
            let refs: HashMap<i64, String> = groups.iter().map(|g| (g.id, g.reference())).collect();
            let mut w = GeoJsonExport::new().map_err(err)?;
            while let Some(row) = stream.next().await {
                let row = row.map_err(err)?;
                w.write(&row, &refs).map_err(err)?;
                rows.fetch_add(1, Ordering::Relaxed);
                if w.buffered() >= CHUNK {
                    send(&mut out, w.take()).await?;
                }
            }
            send(&mut out, w.finish().map_err(err)?).await?;
        }
        Format::Xlsx | Format::Gpkg | Format::Parquet(_) => {
            let layers = if format == Format::Gpkg {
                store.export_layers(q).await.map_err(err)?
            } else {
                Vec::new()
            };
            let (max_depth, ancestors) = if let Format::Parquet(_) = format {
                let depth = store.export_max_depth(q).await.map_err(err)?;
                (depth, store.export_ancestors(q).await.map_err(err)?)
            } else {
                (0, Vec::new())
            };
            let file = TempFile::new(format.extension());
            let path = file.0.clone();
            let (tx, mut rx) = tokio::sync::mpsc::channel::<ExportRow>(ROWS_IN_FLIGHT);
            let writer = tokio::task::spawn_blocking(move || -> Result<(), ExportError> {
                match format {
                    Format::Xlsx => {
                        let table = Table::new(Vec::new(), groups);
                        let mut w = XlsxExport::new(&table).map_err(err)?;
                        while let Some(row) = rx.blocking_recv() {
                            w.write(&table.row(&row, None)).map_err(err)?;
                        }
                        w.save(&path).map_err(err)
                    }
                    Format::Parquet(extras) => {
                        let file =
                            std::io::BufWriter::new(std::fs::File::create(&path).map_err(err)?);
                        let mut w = ParquetExport::new(
                            file,
                            usize::try_from(max_depth).unwrap_or(0),
                            extras,
                            groups,
                            ancestors,
                        )
                        .map_err(err)?;
                        while let Some(row) = rx.blocking_recv() {
                            w.write(&row).map_err(err)?;
                        }
                        use std::io::Write;
                        w.finish().map_err(err)?.flush().map_err(err)
                    }
                    _ => {
                        let mut w = GpkgExport::create(&path, &layers, &groups).map_err(err)?;
                        while let Some(row) = rx.blocking_recv() {
                            w.write(&row).map_err(err)?;
                        }
                        w.finish().map_err(err)
                    }
                }
            });
            let mut failed = None;
            while let Some(row) = stream.next().await {
                match row {
                    Ok(row) => {
                        if tx.send(row).await.is_err() {
                            failed = Some(err("the file writer stopped"));
                            break;
                        }
                        rows.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        failed = Some(err(e));
                        break;
                    }
                }
            }
            drop(tx);
            let written = writer.await.map_err(err)?;
            if let Some(e) = failed {
                // The writer's own error, if any, says more.
                return Err(written.err().unwrap_or(e));
            }
            written?;
            let mut f = tokio::fs::File::open(&file.0).await.map_err(err)?;
            loop {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; CHUNK];
                let n = f.read(&mut buf).await.map_err(err)?;
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                send(&mut out, buf).await?;
            }
        }
    }
    Ok(())
}

/// Parameters of the export task: what `GET /api/orgunits/` would export.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Params {
    /// `csv`, `xlsx`, `gpkg`, `geojson` or `parquet`.
    pub format: String,
    /// Parquet only: Iaso's `extra_fields` (comma list or `:all`).
    #[serde(default)]
    pub extra_fields: Option<String>,
    pub filters: Vec<OrgUnitFilter>,
    #[serde(default)]
    pub order: Vec<String>,
    /// The caller's sub-tree restriction (profile org units), empty = none.
    #[serde(default)]
    pub roots: Vec<i64>,
    /// The file name to give the result.
    pub file_name: String,
}

pub struct ExportOrgUnits;

#[async_trait::async_trait]
impl TaskHandler for ExportOrgUnits {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        let p: Params = ctx.params()?;
        let format = match Format::from_name(&p.format) {
            Some(Format::Parquet(_)) => Format::Parquet(
                ExtraFields::parse(p.extra_fields.as_deref().unwrap_or(""))
                    .map_err(|e| TaskError::fail(e.to_string()))?,
            ),
            Some(f) => f,
            None => {
                return Err(TaskError::fail(format!(
                    "Unknown export format {}",
                    p.format
                )))
            }
        };
        let roots: Vec<OrgUnitId> = p.roots.iter().copied().map(OrgUnitId).collect();
        let scope = ctx.store().org_unit_scope(ctx.account_id(), &roots).await?;
        let q = ExportQuery {
            scope,
            filters: p.filters.clone(),
            order: if p.order.is_empty() {
                vec!["name".into()]
            } else {
                p.order.clone()
            },
        };
        ctx.message("Exporting org units").await?;
        let key = ctx.result_key(&p.file_name);
        let mut file = ctx.files().writer(&key)?;
        let (tx, mut rx) = mpsc::channel::<Bytes>(8);
        let rows = Arc::new(AtomicU64::new(0));
        let store = ctx.store().clone();
        let counter = rows.clone();
        let producer = tokio::spawn(async move { produce(&store, &q, format, tx, counter).await });
        let mut result = Ok(());
        while let Some(chunk) = rx.next().await {
            if let Err(e) = file.write(&chunk).await {
                result = Err(TaskError::from(e));
                break;
            }
            let n = rows.load(Ordering::Relaxed) as i64;
            if let Err(e) = ctx.progress(n, 0, format!("{n} org units exported")).await {
                result = Err(e);
                break;
            }
        }
        drop(rx);
        let produced = producer.await.map_err(TaskError::internal)?;
        let outcome = match (result, produced) {
            (Err(e), _) => Err(e),
            (Ok(()), Err(e)) => Err(TaskError::internal(e)),
            (Ok(()), Ok(())) => Ok(()),
        };
        match outcome {
            Ok(()) => {
                file.finish().await?;
                let n = rows.load(Ordering::Relaxed);
                Ok(TaskOutcome::file(format!("{n} org units exported"), key))
            }
            Err(e) => {
                let _ = file.abort().await;
                Err(e)
            }
        }
    }
}
