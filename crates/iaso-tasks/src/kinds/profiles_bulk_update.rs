//! `profiles_bulk_update` (Iaso's `/api/tasks/create/profilesbulkupdate/`): adds or removes
//! roles and projects, sets language and organisation, on selected profiles — in one
//! transaction, so a kill or an error leaves every profile as it was.

use crate::{TaskContext, TaskError, TaskHandler, TaskOutcome};
use iaso_domain::{ProfileId, ProjectId, UserRoleId};
use iaso_store::profiles::ProfileFilter;
use iaso_store::profiles_bulk::{
    apply_change, check_change, select_profiles, BulkProfileChange, BulkSelection,
};
use serde::{Deserialize, Serialize};

pub const NAME: &str = "profiles_bulk_update";

/// The body of Iaso's endpoint (the parts this port supports), stored as the task's params.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Params {
    pub select_all: bool,
    pub selected_ids: Vec<i64>,
    pub unselected_ids: Vec<i64>,
    pub projects_ids_added: Vec<i64>,
    pub projects_ids_removed: Vec<i64>,
    pub roles_id_added: Vec<i64>,
    pub roles_id_removed: Vec<i64>,
    pub language: Option<String>,
    pub organization: Option<String>,
    /// Filters applied with `select_all`, as on `/api/profiles/`.
    pub search: Option<String>,
    pub user_roles: Vec<i64>,
    pub projects: Vec<i64>,
}

impl Params {
    pub fn selection(&self) -> BulkSelection {
        BulkSelection {
            select_all: self.select_all,
            selected: self.selected_ids.iter().copied().map(ProfileId).collect(),
            unselected: self.unselected_ids.iter().copied().map(ProfileId).collect(),
            filter: ProfileFilter {
                search: self.search.clone(),
                user_roles: self.user_roles.iter().copied().map(UserRoleId).collect(),
                projects: self.projects.iter().copied().map(ProjectId).collect(),
                ..ProfileFilter::default()
            },
        }
    }

    pub fn change(&self) -> BulkProfileChange {
        let text = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        BulkProfileChange {
            roles_added: self
                .roles_id_added
                .iter()
                .copied()
                .map(UserRoleId)
                .collect(),
            roles_removed: self
                .roles_id_removed
                .iter()
                .copied()
                .map(UserRoleId)
                .collect(),
            projects_added: self
                .projects_ids_added
                .iter()
                .copied()
                .map(ProjectId)
                .collect(),
            projects_removed: self
                .projects_ids_removed
                .iter()
                .copied()
                .map(ProjectId)
                .collect(),
            language: text(&self.language),
            organization: text(&self.organization),
        }
    }
}

pub struct ProfilesBulkUpdate;

#[async_trait::async_trait]
impl TaskHandler for ProfilesBulkUpdate {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        let params: Params = ctx.params()?;
        let started = std::time::Instant::now();
        ctx.message("Searching for Profiles to modify").await?;
        let account = ctx.account_id();
        let change = params.change();
        let mut tx = ctx.begin().await?;
        check_change(&mut tx, account, &change).await?;
        let ids = select_profiles(&mut tx, account, &params.selection()).await?;
        if ids.is_empty() {
            return Err(TaskError::fail("No matching profile found"));
        }
        let total = ids.len() as i64;
        for (i, id) in ids.iter().enumerate() {
            ctx.progress(
                i as i64,
                total,
                format!(
                    "{:.2} sec, processed {i} profiles",
                    started.elapsed().as_secs_f64()
                ),
            )
            .await?;
            apply_change(&mut tx, account, *id, &change).await?;
        }
        ctx.progress(total, total, "").await?;
        Ok(TaskOutcome::message(format!("{total} modified")))
    }
}
