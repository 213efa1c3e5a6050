//! `import_gpkg_task` (Iaso's `/api/tasks/create/importgpkg/`): imports a GeoPackage in Iaso's
//! layout into a new or existing version of a data source, in one transaction. The simple CSV
//! layout of this port (`format = "csv"`) goes through the same rules.

use super::pyramid::{self, Target};
use crate::{TaskContext, TaskError, TaskHandler, TaskOutcome};
use iaso_domain::DataSourceId;
use iaso_store::audit::sources as audit_sources;
use iaso_store::org_unit_io;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "import_gpkg_task";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Params {
    /// The uploaded file in the file store.
    pub file_key: String,
    /// Its name as sent (messages).
    pub file_name: String,
    pub data_source_id: i64,
    pub version_number: Option<i64>,
    pub description: Option<String>,
    /// `VALID` (Iaso's `default_valid`) or `NEW`.
    pub validation_status: String,
    /// `gpkg` (default) or `csv` (the simple layout, `;` or `,` separated).
    #[serde(default)]
    pub format: Option<String>,
    /// Delimiter of a CSV (default `,`).
    #[serde(default)]
    pub delimiter: Option<String>,
}

pub struct ImportGpkg;

/// Reads the whole uploaded file (CSV inputs are small next to GeoPackages).
async fn read_input(
    ctx: &TaskContext,
    p: &Params,
) -> Result<iaso_exchange::gpkg_import::GpkgInput, TaskError> {
    let local = ctx.files().local_copy(&p.file_key).await?;
    let path = local.path().to_path_buf();
    let csv = p.format.as_deref() == Some("csv");
    let delimiter = p
        .delimiter
        .as_deref()
        .and_then(|d| d.bytes().next())
        .unwrap_or(b',');
    let read = tokio::task::spawn_blocking(move || {
        if csv {
            let bytes = std::fs::read(&path)
                .map_err(|e| iaso_exchange::ImportError(format!("Cannot read the file: {e}")))?;
            let table = iaso_exchange::tree::read_csv(&bytes, delimiter)?;
            iaso_exchange::tree::simple_from_table(&table)
        } else {
            iaso_exchange::gpkg_import::read_gpkg(&path, &mut |_| {})
        }
    })
    .await
    .map_err(TaskError::internal)?;
    drop(local);
    read.map_err(|e| TaskError::Failed(format!("{}: {}", p.file_name, e.0)))
}

#[async_trait::async_trait]
impl TaskHandler for ImportGpkg {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        let p: Params = ctx.params()?;
        ctx.message(format!("Reading {}", p.file_name)).await?;
        let input = read_input(ctx, &p).await?;
        let status = if p.validation_status.eq_ignore_ascii_case("VALID") {
            "VALID"
        } else {
            "NEW"
        };
        let mut tx = ctx.begin().await?;
        let source = match org_unit_io::import_source(
            &mut *tx,
            ctx.account_id(),
            DataSourceId(p.data_source_id),
        )
        .await
        {
            Ok(s) => s,
            Err(iaso_store::StoreError::NotFound) => {
                return Err(TaskError::fail("Unauthorized DataSource"))
            }
            Err(e) => return Err(e.into()),
        };
        if source.project_ids.is_empty() {
            return Err(TaskError::fail(
                "DataSource must have at least one project assigned",
            ));
        }
        let version = org_unit_io::import_version(
            &mut *tx,
            &source,
            p.version_number,
            p.description.as_deref(),
        )
        .await?;
        ctx.message(format!(
            "Importing into version {} of {}",
            version.number, source.name
        ))
        .await?;
        let n = pyramid::apply(
            ctx,
            &mut tx,
            &Target {
                account: ctx.account_id(),
                user: ctx.user_id(),
                source: &source,
                version,
                validation_status: status,
                audit_source: audit_sources::GPKG_IMPORT,
            },
            input,
        )
        .await
        .map_err(|e| match e {
            TaskError::Failed(m) => TaskError::Failed(format!("{}: {m}", p.file_name)),
            other => other,
        })?;
        Ok(TaskOutcome::message(format!("Imported {n} OrgUnits")))
    }
}
