//! `org_unit_bulk_update` (Iaso's `/api/tasks/create/orgunitsbulkupdate/`): sets the type,
//! adds/removes groups and sets the validation status of selected units, in one transaction,
//! with one audit row per changed unit (source `org_unit_api_bulk`). Units of types the
//! launcher may not edit are skipped and listed in the result message.

use crate::{TaskContext, TaskError, TaskHandler, TaskOutcome};
use iaso_domain::OrgUnitId;
use iaso_store::audit::sources as audit_sources;
use iaso_store::org_unit_io::{self, AuditRow};
use iaso_store::org_unit_search::OrgUnitFilter;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "org_unit_bulk_update";

/// Units changed per statement batch (and between two kill checkpoints).
const BATCH: usize = 1_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Params {
    pub select_all: bool,
    pub selected_ids: Vec<i64>,
    pub unselected_ids: Vec<i64>,
    /// With `select_all`: the list filters (one per search; none = every visible unit).
    pub filters: Vec<OrgUnitFilter>,
    pub org_unit_type: Option<i64>,
    pub groups_added: Vec<i64>,
    pub groups_removed: Vec<i64>,
    pub validation_status: Option<String>,
    /// The launcher's sub-tree restriction (profile org units), empty = none.
    pub roots: Vec<i64>,
    /// Types the launcher may edit, empty = all.
    pub editable_types: Vec<i64>,
}

pub struct OrgUnitBulkUpdate;

#[async_trait::async_trait]
impl TaskHandler for OrgUnitBulkUpdate {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        let p: Params = ctx.params()?;
        let account = ctx.account_id();
        let roots: Vec<OrgUnitId> = p.roots.iter().copied().map(OrgUnitId).collect();
        let scope = ctx.store().org_unit_scope(account, &roots).await?;
        ctx.message("Searching for Org Units to modify").await?;
        let mut tx = ctx.begin().await?;
        let filters = if p.filters.is_empty() {
            vec![OrgUnitFilter::default()]
        } else {
            p.filters.clone()
        };
        let selected = org_unit_io::select_units(
            &mut *tx,
            &scope,
            p.select_all.then_some(filters.as_slice()),
            &p.selected_ids,
            &p.unselected_ids,
        )
        .await?;
        if selected.is_empty() {
            return Err(TaskError::fail("No matching org unit found"));
        }
        if selected.iter().any(|u| u.read_only) {
            return Err(TaskError::fail(
                "Modification on read only source are not allowed",
            ));
        }
        if let Some(t) = p.org_unit_type {
            if !org_unit_io::account_type_exists(&mut *tx, account, t).await? {
                return Err(TaskError::fail(format!(
                    "Org unit type {t} does not exist in this account"
                )));
            }
        }
        let mut group_ids = p.groups_added.clone();
        group_ids.extend(&p.groups_removed);
        let group_versions = org_unit_io::group_versions(&mut *tx, &group_ids).await?;
        for g in &group_ids {
            match group_versions.get(g) {
                Some(v) if scope.versions.contains(v) => {}
                _ => return Err(TaskError::fail(format!("Group {g} does not exist"))),
            }
        }
        let (editable, skipped): (Vec<_>, Vec<_>) = selected.into_iter().partition(|u| {
            p.editable_types.is_empty()
                || u.org_unit_type_id
                    .is_some_and(|t| p.editable_types.contains(&t))
        });
        let total = editable.len() as i64;
        let mut done = 0i64;
        for chunk in editable.chunks(BATCH) {
            ctx.progress(done, total, format!("{done} of {total} org units modified"))
                .await?;
            let ids: Vec<i64> = chunk.iter().map(|u| u.id).collect();
            let before = org_unit_io::unit_snapshots(&mut *tx, &ids).await?;
            org_unit_io::set_status_and_type(
                &mut *tx,
                &ids,
                p.validation_status.as_deref(),
                p.org_unit_type,
            )
            .await
            .map_err(super::pyramid::code_conflict)?;
            org_unit_io::remove_from_groups(&mut *tx, &ids, &group_ids).await?;
            // Added groups: only in the unit's own version (memberships never cross versions).
            let pairs: Vec<(i64, i64)> = chunk
                .iter()
                .flat_map(|u| {
                    p.groups_added
                        .iter()
                        .filter(|g| group_versions.get(g) == Some(&u.version_id))
                        .map(|g| (*g, u.id))
                        .collect::<Vec<_>>()
                })
                .collect();
            org_unit_io::insert_memberships(&mut *tx, &pairs).await?;
            let after = org_unit_io::unit_snapshots(&mut *tx, &ids).await?;
            let rows: Vec<AuditRow> = ids
                .iter()
                .filter_map(|id| {
                    Some(AuditRow {
                        object_id: *id,
                        past: before.get(id)?.clone(),
                        new: after.get(id)?.clone(),
                    })
                })
                .collect();
            org_unit_io::insert_audit_bulk(
                &mut *tx,
                account,
                "iaso.orgunit",
                audit_sources::ORG_UNIT_API_BULK,
                ctx.user_id(),
                &rows,
            )
            .await?;
            done += chunk.len() as i64;
        }
        ctx.progress(total, total, "").await?;
        if skipped.is_empty() {
            Ok(TaskOutcome::message(format!("{total} modified")))
        } else {
            let mut m = format!("{total} modified\n{} skipped", skipped.len());
            for u in &skipped {
                m.push_str(&format!(
                    "\nSkipped {} (id {}): you cannot edit org units of its type",
                    u.name, u.id
                ));
            }
            Ok(TaskOutcome::message(m))
        }
    }
}
