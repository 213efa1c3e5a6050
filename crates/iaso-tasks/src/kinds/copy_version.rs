//! `copy_version` (Iaso's `POST /api/copyversion/`): copies a version of a source (group sets,
//! groups, units with every field, memberships) into another version, new or emptied with
//! `force`, in one transaction. Types are shared, not copied. Not audited (as Iaso).

use crate::{TaskContext, TaskError, TaskHandler, TaskOutcome};
use iaso_domain::DataSourceId;
use iaso_store::org_unit_io;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "copy_version";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Params {
    pub source_source_id: i64,
    pub source_version_number: i64,
    pub destination_source_id: Option<i64>,
    pub destination_version_number: Option<i64>,
    #[serde(default)]
    pub force: bool,
}

pub struct CopyVersion;

#[async_trait::async_trait]
impl TaskHandler for CopyVersion {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        let p: Params = ctx.params()?;
        let account = ctx.account_id();
        let mut tx = ctx.begin().await?;
        let origin = org_unit_io::version_by_number(
            &mut *tx,
            account,
            DataSourceId(p.source_source_id),
            p.source_version_number,
        )
        .await?
        .ok_or_else(|| TaskError::fail("The version to copy does not exist"))?;
        let dest_source = DataSourceId(p.destination_source_id.unwrap_or(p.source_source_id));
        let source = match org_unit_io::import_source(&mut *tx, account, dest_source).await {
            Ok(s) => s,
            Err(iaso_store::StoreError::NotFound) => {
                return Err(TaskError::fail("Unauthorized destination source"))
            }
            Err(e) => return Err(e.into()),
        };
        ctx.message("Preparing the destination version").await?;
        let dest =
            org_unit_io::import_version(&mut *tx, &source, p.destination_version_number, None)
                .await?;
        if dest.id == origin {
            return Err(TaskError::fail("Cannot copy a version to the same version"));
        }
        let existing = org_unit_io::count_version_units(&mut *tx, dest.id).await?;
        if existing > 0 {
            if !p.force {
                return Err(TaskError::fail(format!(
                    "This is going to delete {existing} org units records. Use the force parameter to proceed"
                )));
            }
            org_unit_io::delete_version_units(&mut *tx, dest.id).await?;
        }
        ctx.checkpoint().await?;
        ctx.message("Copying org units").await?;
        let n = org_unit_io::copy_version_content(&mut *tx, origin, dest.id).await?;
        ctx.progress(n, n, format!("{n} copied")).await?;
        Ok(TaskOutcome::message(format!("{n} copied")))
    }
}
