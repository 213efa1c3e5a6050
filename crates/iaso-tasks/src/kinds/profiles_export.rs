//! `profiles_export`: the account's users as a CSV file (a task of this port; Iaso exports
//! profiles synchronously from `/api/profiles/?csv=true`). The result is a downloadable file.

use crate::{TaskContext, TaskError, TaskHandler, TaskOutcome};
use iaso_domain::{ProjectId, UserRoleId};
use iaso_store::profiles::ProfileFilter;
use iaso_store::PageRequest;
use serde::{Deserialize, Serialize};

pub const NAME: &str = "profiles_export";

/// Rows read per page (and between two checkpoints).
const PAGE: i64 = 500;

pub const COLUMNS: [&str; 11] = [
    "username",
    "email",
    "first_name",
    "last_name",
    "profile_language",
    "dhis2_id",
    "organization",
    "permissions",
    "user_roles",
    "projects",
    "phone_number",
];

/// Which profiles to export (the filters of `/api/profiles/`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    pub search: Option<String>,
    pub user_roles: Vec<i64>,
    pub projects: Vec<i64>,
}

pub struct ProfilesExport;

#[async_trait::async_trait]
impl TaskHandler for ProfilesExport {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        let params: Params = ctx.params()?;
        let filter = ProfileFilter {
            search: params.search,
            user_roles: params.user_roles.into_iter().map(UserRoleId).collect(),
            projects: params.projects.into_iter().map(ProjectId).collect(),
            order: vec!["user__username".into()],
            ..ProfileFilter::default()
        };
        ctx.message("Listing users").await?;
        let key = ctx.result_key(&format!("users-{}.csv", ctx.task_id()));
        let mut out = ctx.files().writer(&key)?;
        let written = export(ctx, &filter, &mut out).await;
        match written {
            Ok(n) => {
                out.finish().await?;
                Ok(TaskOutcome::file(format!("{n} users exported"), key))
            }
            Err(e) => {
                // Nothing half-written is left behind.
                let _ = out.abort().await;
                Err(e)
            }
        }
    }
}

async fn export(
    ctx: &TaskContext,
    filter: &ProfileFilter,
    out: &mut iaso_files::FileWriter,
) -> Result<i64, TaskError> {
    let mut header = csv::Writer::from_writer(Vec::new());
    header.write_record(COLUMNS)?;
    out.write(&header.into_inner().map_err(TaskError::internal)?)
        .await?;
    let mut page = 1;
    let mut done = 0;
    loop {
        let chunk = ctx
            .store()
            .list_profiles(ctx.account_id(), filter, PageRequest::new(PAGE, page))
            .await?;
        let mut w = csv::Writer::from_writer(Vec::new());
        for p in &chunk.items {
            let permissions: Vec<&str> = p.direct_permissions.iter().map(|x| x.code()).collect();
            let roles: Vec<&str> = p.roles.iter().map(|r| r.name.as_str()).collect();
            let projects: Vec<&str> = p.projects.iter().map(|x| x.name.as_str()).collect();
            w.write_record([
                p.user.username.as_str(),
                p.user.email.as_str(),
                p.user.first_name.as_str(),
                p.user.last_name.as_str(),
                p.profile.language.as_deref().unwrap_or(""),
                p.profile.dhis2_id.as_deref().unwrap_or(""),
                p.profile.organization.as_deref().unwrap_or(""),
                &permissions.join(","),
                &roles.join(","),
                &projects.join(","),
                p.profile.phone_number.as_str(),
            ])?;
        }
        out.write(&w.into_inner().map_err(TaskError::internal)?)
            .await?;
        done += chunk.items.len() as i64;
        ctx.progress(
            done,
            chunk.count,
            format!("{done} of {} users exported", chunk.count),
        )
        .await?;
        if chunk.items.len() < PAGE as usize {
            return Ok(done);
        }
        page += 1;
    }
}
