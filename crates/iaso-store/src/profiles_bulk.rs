//! Bulk changes of profiles (Iaso's `profiles_bulk_update` task), as helpers that run inside the
//! task's transaction.

use crate::profiles::{push_filters, ProfileFilter};
use crate::{StoreError, StoreResult};
use iaso_db::{sql, Conn, Sql};
use iaso_domain::{AccountId, FieldErrors, ProfileId, ProjectId, UserRoleId};

/// Which profiles: the selected ids, or everything matching `filter` but the unselected ids.
#[derive(Debug, Clone, Default)]
pub struct BulkSelection {
    pub select_all: bool,
    pub selected: Vec<ProfileId>,
    pub unselected: Vec<ProfileId>,
    pub filter: ProfileFilter,
}

/// What to change on each selected profile; empty lists and `None` change nothing.
#[derive(Debug, Clone, Default)]
pub struct BulkProfileChange {
    pub roles_added: Vec<UserRoleId>,
    pub roles_removed: Vec<UserRoleId>,
    pub projects_added: Vec<ProjectId>,
    pub projects_removed: Vec<ProjectId>,
    pub language: Option<String>,
    pub organization: Option<String>,
}

/// Ids of the selected profiles of `account`, in id order.
pub async fn select_profiles(
    c: &mut impl Conn,
    account: AccountId,
    sel: &BulkSelection,
) -> StoreResult<Vec<ProfileId>> {
    let mut q = Sql::new("SELECT p.id FROM profiles p JOIN users u ON u.id = p.user_id");
    if sel.select_all {
        push_filters(&mut q, account, &sel.filter);
        if !sel.unselected.is_empty() {
            q.push(" AND p.id NOT IN (")
                .bind_list(sel.unselected.iter().map(|p| p.get()))
                .push(")");
        }
    } else {
        if sel.selected.is_empty() {
            return Ok(Vec::new());
        }
        q.push(" WHERE p.account_id = ")
            .bind(account.get())
            .push(" AND p.id IN (")
            .bind_list(sel.selected.iter().map(|p| p.get()))
            .push(")");
    }
    q.push(" ORDER BY p.id");
    let rows: Vec<(i64,)> = c.fetch_all(q).await?;
    Ok(rows.into_iter().map(|r| ProfileId(r.0)).collect())
}

async fn count_in_account(
    c: &mut impl Conn,
    table: &str,
    account: AccountId,
    ids: &[i64],
) -> StoreResult<bool> {
    if ids.is_empty() {
        return Ok(true);
    }
    let mut q = Sql::new(format!(
        "SELECT COUNT(DISTINCT id) FROM {table} WHERE account_id = "
    ));
    q.bind(account.get())
        .push(" AND id IN (")
        .bind_list(ids.iter().copied())
        .push(")");
    let found: i64 = c.fetch_scalar(q).await?;
    let distinct = ids.iter().collect::<std::collections::BTreeSet<_>>().len() as i64;
    Ok(found == distinct)
}

/// Checks that every role and project named in `ch` belongs to `account`.
pub async fn check_change(
    c: &mut impl Conn,
    account: AccountId,
    ch: &BulkProfileChange,
) -> StoreResult<()> {
    let mut errors = FieldErrors::new();
    let roles: Vec<i64> = ch
        .roles_added
        .iter()
        .chain(&ch.roles_removed)
        .map(|r| r.get())
        .collect();
    if !count_in_account(c, "user_roles", account, &roles).await? {
        errors.add("roles_id_added", "Invalid pk - object does not exist.");
    }
    let projects: Vec<i64> = ch
        .projects_added
        .iter()
        .chain(&ch.projects_removed)
        .map(|p| p.get())
        .collect();
    if !count_in_account(c, "projects", account, &projects).await? {
        errors.add("projects_ids_added", "Invalid pk - object does not exist.");
    }
    errors.into_result().map_err(StoreError::Invalid)
}

/// Applies `ch` to one profile of `account` (checked with [`check_change`] beforehand).
pub async fn apply_change(
    c: &mut impl Conn,
    account: AccountId,
    profile: ProfileId,
    ch: &BulkProfileChange,
) -> StoreResult<()> {
    let pid = profile.get();
    let now = iaso_db::now();
    let touched = c
        .execute(sql!(
            "UPDATE profiles SET updated_at = $1,
                language = COALESCE($2, language), organization = COALESCE($3, organization)
             WHERE id = $4 AND account_id = $5",
            now,
            ch.language.clone(),
            ch.organization.clone(),
            pid,
            account.get()
        ))
        .await?;
    if touched == 0 {
        return Err(StoreError::NotFound);
    }
    for role in &ch.roles_added {
        c.execute(sql!(
            "INSERT INTO profile_user_roles (profile_id, user_role_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            pid,
            role.get()
        ))
        .await?;
    }
    for role in &ch.roles_removed {
        c.execute(sql!(
            "DELETE FROM profile_user_roles WHERE profile_id = $1 AND user_role_id = $2",
            pid,
            role.get()
        ))
        .await?;
    }
    for project in &ch.projects_added {
        c.execute(sql!(
            "INSERT INTO profile_projects (profile_id, project_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            pid,
            project.get()
        ))
        .await?;
    }
    for project in &ch.projects_removed {
        c.execute(sql!(
            "DELETE FROM profile_projects WHERE profile_id = $1 AND project_id = $2",
            pid,
            project.get()
        ))
        .await?;
    }
    Ok(())
}
