//! Profiles: a user's membership of an account, with roles, direct permissions and projects.

use crate::users::{insert_user, username_key, NewUser, UserRow, USER_COLUMNS};
use crate::{Page, PageRequest, Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn, Sql};
use iaso_domain::user::{Profile, User};
use iaso_domain::{
    AccountId, FieldErrors, OrgUnitId, OrgUnitTypeId, Permission, ProfileId, ProjectId, UserId,
    UserRoleId,
};

#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: i64,
    user_id: i64,
    account_id: i64,
    language: Option<String>,
    organization: Option<String>,
    phone_number: String,
    dhis2_id: Option<String>,
    home_page: Option<String>,
    color: String,
    external_user_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const PROFILE_COLUMNS: &str =
    "p.id, p.user_id, p.account_id, p.language, p.organization, p.phone_number, \
    p.dhis2_id, p.home_page, p.color, p.external_user_id, p.created_at, p.updated_at";

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Profile {
            id: ProfileId(r.id),
            user_id: UserId(r.user_id),
            account_id: AccountId(r.account_id),
            language: r.language,
            organization: r.organization,
            phone_number: r.phone_number,
            dhis2_id: r.dhis2_id,
            home_page: r.home_page,
            color: r.color,
            external_user_id: r.external_user_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ProfileUserRow {
    #[sqlx(flatten)]
    profile: ProfileRow,
    #[sqlx(flatten)]
    user: UserRow,
}

/// A project as nested in profile answers.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ProjectRef {
    pub id: i64,
    pub name: String,
    pub app_id: String,
    pub color: String,
}

/// A role as nested in profile answers.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRef {
    pub id: UserRoleId,
    pub name: String,
}

/// A profile with everything the profile endpoints show.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileView {
    pub profile: Profile,
    pub user: User,
    pub roles: Vec<RoleRef>,
    pub projects: Vec<ProjectRef>,
    /// Permissions granted directly (not through roles).
    pub direct_permissions: Vec<Permission>,
    /// True when the login also has profiles in other accounts (its user-level fields then
    /// belong to nobody in particular and cannot be changed from one account).
    pub shared_login: bool,
    /// Org units whose sub-trees the profile is restricted to.
    pub org_unit_ids: Vec<OrgUnitId>,
    /// Types the profile itself may edit (roles may add more).
    pub editable_org_unit_type_ids: Vec<OrgUnitTypeId>,
    /// Types the profile's roles may edit.
    pub role_editable_org_unit_type_ids: Vec<OrgUnitTypeId>,
}

/// List filters of `/api/profiles/`.
#[derive(Debug, Clone, Default)]
pub struct ProfileFilter {
    pub search: Option<String>,
    pub user_ids: Vec<UserId>,
    pub user_roles: Vec<UserRoleId>,
    pub projects: Vec<ProjectId>,
    pub permissions: Vec<Permission>,
    pub has_email: Option<bool>,
    /// Iaso ordering keys (`user__username`, `-id`, ...); unknown keys are ignored.
    pub order: Vec<String>,
}

/// Fields of a profile and its login; `None` leaves a field unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub language: Option<Option<String>>,
    pub organization: Option<Option<String>>,
    pub dhis2_id: Option<Option<String>>,
    pub home_page: Option<Option<String>>,
    pub phone_number: Option<String>,
    pub color: Option<String>,
    pub user_roles: Option<Vec<UserRoleId>>,
    pub projects: Option<Vec<ProjectId>>,
    pub permissions: Option<Vec<Permission>>,
    pub org_units: Option<Vec<OrgUnitId>>,
    pub editable_org_unit_type_ids: Option<Vec<OrgUnitTypeId>>,
}

impl ProfileChanges {
    fn touches_login(&self) -> bool {
        self.username.is_some()
            || self.password_hash.is_some()
            || self.email.is_some()
            || self.first_name.is_some()
            || self.last_name.is_some()
    }
}

fn order_clause(order: &[String]) -> String {
    let mut parts = Vec::new();
    for key in order.iter().flat_map(|o| o.split(',')) {
        let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
        let column = match key.trim() {
            "id" => "p.id",
            "user__username" | "user_name" => "u.username_key",
            "user__email" | "email" => "u.email",
            "user__first_name" | "first_name" => "u.first_name",
            "user__last_name" | "last_name" => "u.last_name",
            "phone_number" => "p.phone_number",
            "annotated_first_user_role" => {
                "(SELECT MIN(r.name_key) FROM profile_user_roles pr JOIN user_roles r ON r.id = pr.user_role_id WHERE pr.profile_id = p.id)"
            }
            _ => continue,
        };
        parts.push(format!("{column} {}", if desc { "DESC" } else { "ASC" }));
    }
    parts.push("p.id ASC".into());
    parts.join(", ")
}

pub(crate) fn push_filters(q: &mut Sql, account: AccountId, f: &ProfileFilter) {
    q.push(" WHERE p.account_id = ").bind(account.get());
    if let Some(search) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", search.to_lowercase());
        q.push(" AND (u.username_key LIKE ").bind(pattern.clone());
        q.push(" OR lower(u.first_name) LIKE ")
            .bind(pattern.clone());
        q.push(" OR lower(u.last_name) LIKE ").bind(pattern.clone());
        q.push(" OR lower(u.email) LIKE ").bind(pattern);
        q.push(")");
    }
    if !f.user_ids.is_empty() {
        q.push(" AND p.user_id IN (")
            .bind_list(f.user_ids.iter().map(|i| i.get()))
            .push(")");
    }
    if !f.user_roles.is_empty() {
        q.push(" AND EXISTS (SELECT 1 FROM profile_user_roles pr WHERE pr.profile_id = p.id AND pr.user_role_id IN (")
            .bind_list(f.user_roles.iter().map(|i| i.get()))
            .push("))");
    }
    if !f.projects.is_empty() {
        q.push(" AND EXISTS (SELECT 1 FROM profile_projects pp WHERE pp.profile_id = p.id AND pp.project_id IN (")
            .bind_list(f.projects.iter().map(|i| i.get()))
            .push("))");
    }
    if !f.permissions.is_empty() {
        q.push(" AND EXISTS (SELECT 1 FROM profile_permissions pm WHERE pm.profile_id = p.id AND pm.permission IN (")
            .bind_list(f.permissions.iter().map(|p| p.code()))
            .push("))");
    }
    match f.has_email {
        Some(true) => {
            q.push(" AND u.email <> ''");
        }
        Some(false) => {
            q.push(" AND u.email = ''");
        }
        None => {}
    }
}

/// Loads roles, projects and permissions of many profiles in three queries (no N+1).
async fn decorate(c: &mut impl Conn, rows: Vec<ProfileUserRow>) -> StoreResult<Vec<ProfileView>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.profile.id).collect();
    let user_ids: Vec<i64> = rows.iter().map(|r| r.profile.user_id).collect();

    let mut q = Sql::new(
        "SELECT pr.profile_id, r.id, r.name FROM profile_user_roles pr JOIN user_roles r ON r.id = pr.user_role_id
         WHERE pr.profile_id IN (",
    );
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY r.name_key");
    let roles: Vec<(i64, i64, String)> = c.fetch_all(q).await?;

    let mut q = Sql::new(
        "SELECT pp.profile_id, pj.id, pj.name, pj.app_id, pj.color FROM profile_projects pp
         JOIN projects pj ON pj.id = pp.project_id WHERE pp.profile_id IN (",
    );
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY pj.name, pj.id");
    let projects: Vec<(i64, i64, String, String, String)> = c.fetch_all(q).await?;

    let mut q =
        Sql::new("SELECT profile_id, permission FROM profile_permissions WHERE profile_id IN (");
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY permission");
    let perms: Vec<(i64, String)> = c.fetch_all(q).await?;

    let mut q =
        Sql::new("SELECT profile_id, org_unit_id FROM profile_org_units WHERE profile_id IN (");
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY org_unit_id");
    let org_units: Vec<(i64, i64)> = c.fetch_all(q).await?;

    let mut q = Sql::new(
        "SELECT profile_id, org_unit_type_id FROM profile_editable_org_unit_types WHERE profile_id IN (",
    );
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY org_unit_type_id");
    let editable: Vec<(i64, i64)> = c.fetch_all(q).await?;

    let mut q = Sql::new(
        "SELECT DISTINCT pr.profile_id, re.org_unit_type_id FROM profile_user_roles pr
         JOIN user_role_editable_org_unit_types re ON re.user_role_id = pr.user_role_id WHERE pr.profile_id IN (",
    );
    q.bind_list(ids.iter().copied())
        .push(") ORDER BY re.org_unit_type_id");
    let role_editable: Vec<(i64, i64)> = c.fetch_all(q).await?;

    let mut q = Sql::new("SELECT user_id, COUNT(*) FROM profiles WHERE user_id IN (");
    q.bind_list(user_ids.iter().copied())
        .push(") GROUP BY user_id");
    let memberships: Vec<(i64, i64)> = c.fetch_all(q).await?;

    Ok(rows
        .into_iter()
        .map(|r| {
            let pid = r.profile.id;
            let uid = r.profile.user_id;
            ProfileView {
                roles: roles
                    .iter()
                    .filter(|x| x.0 == pid)
                    .map(|x| RoleRef {
                        id: UserRoleId(x.1),
                        name: x.2.clone(),
                    })
                    .collect(),
                projects: projects
                    .iter()
                    .filter(|x| x.0 == pid)
                    .map(|x| ProjectRef {
                        id: x.1,
                        name: x.2.clone(),
                        app_id: x.3.clone(),
                        color: x.4.clone(),
                    })
                    .collect(),
                direct_permissions: perms
                    .iter()
                    .filter(|x| x.0 == pid)
                    .filter_map(|x| Permission::from_code(&x.1))
                    .collect(),
                shared_login: memberships.iter().any(|m| m.0 == uid && m.1 > 1),
                org_unit_ids: org_units
                    .iter()
                    .filter(|x| x.0 == pid)
                    .map(|x| OrgUnitId(x.1))
                    .collect(),
                editable_org_unit_type_ids: editable
                    .iter()
                    .filter(|x| x.0 == pid)
                    .map(|x| OrgUnitTypeId(x.1))
                    .collect(),
                role_editable_org_unit_type_ids: role_editable
                    .iter()
                    .filter(|x| x.0 == pid)
                    .map(|x| OrgUnitTypeId(x.1))
                    .collect(),
                profile: r.profile.into(),
                user: r.user.into(),
            }
        })
        .collect())
}

fn select_profiles() -> String {
    format!(
        "SELECT {PROFILE_COLUMNS}, {USER_COLUMNS} FROM profiles p JOIN users u ON u.id = p.user_id"
    )
}

/// Checks that every referenced role and project belongs to `account`.
async fn check_references(
    c: &mut impl Conn,
    account: AccountId,
    ch: &ProfileChanges,
) -> StoreResult<()> {
    let mut errors = FieldErrors::new();
    if let Some(roles) = ch.user_roles.as_ref().filter(|r| !r.is_empty()) {
        let mut q = Sql::new("SELECT COUNT(DISTINCT id) FROM user_roles WHERE account_id = ");
        q.bind(account.get())
            .push(" AND id IN (")
            .bind_list(roles.iter().map(|r| r.get()))
            .push(")");
        let found: i64 = c.fetch_scalar(q).await?;
        let distinct = roles
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64;
        if found != distinct {
            errors.add("user_roles", "Invalid pk - object does not exist.");
        }
    }
    if let Some(projects) = ch.projects.as_ref().filter(|p| !p.is_empty()) {
        let mut q = Sql::new("SELECT COUNT(DISTINCT id) FROM projects WHERE account_id = ");
        q.bind(account.get())
            .push(" AND id IN (")
            .bind_list(projects.iter().map(|p| p.get()))
            .push(")");
        let found: i64 = c.fetch_scalar(q).await?;
        let distinct = projects
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64;
        if found != distinct {
            errors.add("projects", "Invalid pk - object does not exist.");
        }
    }
    if let Some(units) = ch.org_units.as_ref().filter(|u| !u.is_empty()) {
        let versions = crate::sources::account_version_ids(c, account).await?;
        let found = if versions.is_empty() {
            0
        } else {
            let mut q = Sql::new("SELECT COUNT(DISTINCT id) FROM org_units WHERE id IN (");
            q.bind_list(units.iter().map(|u| u.get()))
                .push(") AND version_id IN (")
                .bind_list(versions)
                .push(")");
            c.fetch_scalar::<i64>(q).await?
        };
        let distinct = units
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64;
        if found != distinct {
            errors.add("org_units", "Invalid pk - object does not exist.");
        }
    }
    if let Some(types) = ch
        .editable_org_unit_type_ids
        .as_ref()
        .filter(|t| !t.is_empty())
    {
        let mut q = Sql::new("SELECT COUNT(DISTINCT id) FROM org_unit_types WHERE account_id = ");
        q.bind(account.get())
            .push(" AND id IN (")
            .bind_list(types.iter().map(|t| t.get()))
            .push(")");
        let found: i64 = c.fetch_scalar(q).await?;
        let distinct = types
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len() as i64;
        if found != distinct {
            errors.add(
                "editable_org_unit_type_ids",
                "Invalid pk - object does not exist.",
            );
        }
    }
    errors.into_result().map_err(StoreError::Invalid)
}

/// Replaces the role, project and permission links named in `ch`.
async fn write_links(
    c: &mut impl Conn,
    profile: ProfileId,
    ch: &ProfileChanges,
) -> StoreResult<()> {
    let pid = profile.get();
    if let Some(roles) = &ch.user_roles {
        c.execute(sql!(
            "DELETE FROM profile_user_roles WHERE profile_id = $1",
            pid
        ))
        .await?;
        let mut seen = std::collections::BTreeSet::new();
        for r in roles.iter().filter(|r| seen.insert(**r)) {
            c.execute(sql!(
                "INSERT INTO profile_user_roles (profile_id, user_role_id) VALUES ($1, $2)",
                pid,
                r.get()
            ))
            .await?;
        }
    }
    if let Some(projects) = &ch.projects {
        c.execute(sql!(
            "DELETE FROM profile_projects WHERE profile_id = $1",
            pid
        ))
        .await?;
        let mut seen = std::collections::BTreeSet::new();
        for p in projects.iter().filter(|p| seen.insert(**p)) {
            c.execute(sql!(
                "INSERT INTO profile_projects (profile_id, project_id) VALUES ($1, $2)",
                pid,
                p.get()
            ))
            .await?;
        }
    }
    if let Some(units) = &ch.org_units {
        c.execute(sql!(
            "DELETE FROM profile_org_units WHERE profile_id = $1",
            pid
        ))
        .await?;
        let mut seen = std::collections::BTreeSet::new();
        for u in units.iter().filter(|u| seen.insert(**u)) {
            c.execute(sql!(
                "INSERT INTO profile_org_units (profile_id, org_unit_id) VALUES ($1, $2)",
                pid,
                u.get()
            ))
            .await?;
        }
    }
    if let Some(types) = &ch.editable_org_unit_type_ids {
        c.execute(sql!(
            "DELETE FROM profile_editable_org_unit_types WHERE profile_id = $1",
            pid
        ))
        .await?;
        let mut seen = std::collections::BTreeSet::new();
        for t in types.iter().filter(|t| seen.insert(**t)) {
            c.execute(sql!(
                "INSERT INTO profile_editable_org_unit_types (profile_id, org_unit_type_id) VALUES ($1, $2)",
                pid,
                t.get()
            ))
            .await?;
        }
    }
    if let Some(perms) = &ch.permissions {
        c.execute(sql!(
            "DELETE FROM profile_permissions WHERE profile_id = $1",
            pid
        ))
        .await?;
        let mut seen = std::collections::BTreeSet::new();
        for p in perms.iter().filter(|p| seen.insert(**p)) {
            c.execute(sql!(
                "INSERT INTO profile_permissions (profile_id, permission) VALUES ($1, $2)",
                pid,
                p.code()
            ))
            .await?;
        }
    }
    Ok(())
}

fn map_dhis2_conflict(e: iaso_db::DbError) -> StoreError {
    if e.is_unique_on("dhis2") {
        StoreError::invalid(
            "dhis2_id",
            "This DHIS2 id is already used by another user of the account.",
        )
    } else {
        e.into()
    }
}

pub(crate) async fn insert_profile(
    c: &mut impl Conn,
    account: AccountId,
    user: UserId,
    ch: &ProfileChanges,
) -> StoreResult<ProfileId> {
    let now = iaso_db::now();
    let id: i64 = c
        .fetch_scalar(sql!(
            "INSERT INTO profiles (user_id, account_id, language, organization, phone_number, dhis2_id, home_page,
                color, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id",
            user.get(),
            account.get(),
            ch.language.clone().flatten(),
            ch.organization.clone().flatten(),
            ch.phone_number.clone().unwrap_or_default(),
            ch.dhis2_id.clone().flatten(),
            ch.home_page.clone().flatten(),
            ch.color.clone().unwrap_or_else(|| "#1976D2".into()),
            now
        ))
        .await
        .map_err(|e| match e {
            iaso_db::DbError::UniqueViolation { ref constraint } if !constraint.contains("dhis2") => {
                StoreError::invalid("user_name", "This user already has a profile in this account.")
            }
            other => map_dhis2_conflict(other),
        })?;
    let pid = ProfileId(id);
    write_links(c, pid, ch).await?;
    Ok(pid)
}

impl Store {
    pub async fn list_profiles(
        &self,
        account: AccountId,
        filter: &ProfileFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ProfileView>> {
        let mut db = self.db.clone();
        let mut count =
            Sql::new("SELECT COUNT(*) FROM profiles p JOIN users u ON u.id = p.user_id");
        push_filters(&mut count, account, filter);
        let count: i64 = db.fetch_scalar(count).await?;

        let mut q = Sql::new(select_profiles());
        push_filters(&mut q, account, filter);
        q.push(" ORDER BY ").push(&order_clause(&filter.order));
        page.push_to(&mut q);
        let rows: Vec<ProfileUserRow> = db.fetch_all(q).await?;
        Ok(Page {
            items: decorate(&mut db, rows).await?,
            count,
        })
    }

    /// A profile of `account` by its id.
    pub async fn profile(&self, account: AccountId, id: ProfileId) -> StoreResult<ProfileView> {
        let mut db = self.db.clone();
        let mut q = Sql::new(select_profiles());
        q.push(" WHERE p.account_id = ")
            .bind(account.get())
            .push(" AND p.id = ")
            .bind(id.get());
        let row: ProfileUserRow = db.fetch_one(q).await?;
        decorate(&mut db, vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    /// The profile of `user` in `account`, if any.
    pub async fn profile_of_user(
        &self,
        account: AccountId,
        user: UserId,
    ) -> StoreResult<Option<ProfileView>> {
        let mut db = self.db.clone();
        let mut q = Sql::new(select_profiles());
        q.push(" WHERE p.account_id = ")
            .bind(account.get())
            .push(" AND p.user_id = ")
            .bind(user.get());
        let Some(row) = db.fetch_optional::<ProfileUserRow>(q).await? else {
            return Ok(None);
        };
        Ok(decorate(&mut db, vec![row]).await?.pop())
    }

    /// Creates a profile in `account`. A new username creates its login; an existing one is
    /// attached as it is (its password and names are not touched: they belong to its owner).
    pub async fn create_profile(
        &self,
        account: AccountId,
        ch: &ProfileChanges,
    ) -> StoreResult<ProfileView> {
        let username = ch.username.clone().unwrap_or_default();
        let mut tx = self.db.begin().await?;
        check_references(&mut tx, account, ch).await?;
        let existing: Option<i64> = tx
            .fetch_optional::<(i64,)>(sql!(
                "SELECT id FROM users WHERE username_key = $1",
                username_key(&username)
            ))
            .await?
            .map(|r| r.0);
        let user_id = match existing {
            Some(id) => UserId(id),
            None => {
                let user = insert_user(
                    &mut tx,
                    &NewUser {
                        username: username.clone(),
                        password_hash: ch.password_hash.clone().unwrap_or_default(),
                        email: ch.email.clone().unwrap_or_default(),
                        first_name: ch.first_name.clone().unwrap_or_default(),
                        last_name: ch.last_name.clone().unwrap_or_default(),
                        is_superuser: false,
                        current_account_id: Some(account),
                    },
                )
                .await?;
                user.id
            }
        };
        let pid = insert_profile(&mut tx, account, user_id, ch).await?;
        tx.commit().await?;
        self.profile(account, pid).await
    }

    /// Updates a profile of `account` and, unless the login is shared with other accounts, its
    /// login fields.
    pub async fn update_profile(
        &self,
        account: AccountId,
        id: ProfileId,
        ch: &ProfileChanges,
    ) -> StoreResult<ProfileView> {
        let current = self.profile(account, id).await?;
        if current.shared_login && ch.touches_login() {
            return Err(StoreError::invalid(
                "user_name",
                "This login also belongs to other accounts; its name, e-mail and password can only be changed by its owner.",
            ));
        }
        let mut tx = self.db.begin().await?;
        check_references(&mut tx, account, ch).await?;
        let uid = current.user.id.get();
        let now = iaso_db::now();
        if let Some(username) = &ch.username {
            tx.execute(sql!(
                "UPDATE users SET username = $1, username_key = $2, updated_at = $3 WHERE id = $4",
                username.trim(),
                username_key(username),
                now,
                uid
            ))
            .await
            .map_err(|e| match e {
                iaso_db::DbError::UniqueViolation { .. } => {
                    StoreError::invalid("user_name", "A user with this username already exists.")
                }
                other => other.into(),
            })?;
        }
        if let Some(hash) = &ch.password_hash {
            tx.execute(sql!(
                "UPDATE users SET password_hash = $1, token_version = token_version + 1, updated_at = $2 WHERE id = $3",
                hash.as_str(),
                now,
                uid
            ))
            .await?;
            tx.execute(sql!("DELETE FROM sessions WHERE user_id = $1", uid))
                .await?;
        }
        for (column, value) in [
            ("email", &ch.email),
            ("first_name", &ch.first_name),
            ("last_name", &ch.last_name),
        ] {
            if let Some(v) = value {
                tx.execute(sql!(
                    &format!("UPDATE users SET {column} = $1, updated_at = $2 WHERE id = $3"),
                    v.trim(),
                    now,
                    uid
                ))
                .await?;
            }
        }
        for (column, value) in [
            ("language", &ch.language),
            ("organization", &ch.organization),
            ("dhis2_id", &ch.dhis2_id),
            ("home_page", &ch.home_page),
        ] {
            if let Some(v) = value {
                tx.execute(sql!(
                    &format!("UPDATE profiles SET {column} = $1, updated_at = $2 WHERE id = $3"),
                    v.clone(),
                    now,
                    id.get()
                ))
                .await
                .map_err(map_dhis2_conflict)?;
            }
        }
        for (column, value) in [("phone_number", &ch.phone_number), ("color", &ch.color)] {
            if let Some(v) = value {
                tx.execute(sql!(
                    &format!("UPDATE profiles SET {column} = $1, updated_at = $2 WHERE id = $3"),
                    v.as_str(),
                    now,
                    id.get()
                ))
                .await?;
            }
        }
        write_links(&mut tx, id, ch).await?;
        tx.commit().await?;
        self.profile(account, id).await
    }

    /// Deletes a profile; its login goes too unless it still belongs to another account.
    pub async fn delete_profile(&self, account: AccountId, id: ProfileId) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        let user: Option<(i64,)> = tx
            .fetch_optional(sql!(
                "SELECT user_id FROM profiles WHERE id = $1 AND account_id = $2",
                id.get(),
                account.get()
            ))
            .await?;
        let Some((user_id,)) = user else {
            return Err(StoreError::NotFound);
        };
        tx.execute(sql!("DELETE FROM profiles WHERE id = $1", id.get()))
            .await?;
        tx.execute(sql!(
            "DELETE FROM users WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM profiles WHERE user_id = $1)",
            user_id
        ))
        .await?;
        // A login left in other accounts must not keep this one as its current account.
        tx.execute(sql!(
            "UPDATE users SET current_account_id = NULL WHERE id = $1 AND current_account_id = $2",
            user_id,
            account.get()
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The single profile row of a user in an account (used by the principal loader).
pub(crate) async fn profile_row(
    c: &mut impl Conn,
    account: AccountId,
    user: UserId,
) -> StoreResult<Option<Profile>> {
    let row: Option<ProfileRow> = c
        .fetch_optional(sql!(
            &format!("SELECT {PROFILE_COLUMNS} FROM profiles p WHERE p.account_id = $1 AND p.user_id = $2"),
            account.get(),
            user.get()
        ))
        .await?;
    Ok(row.map(Into::into))
}

impl Store {
    /// Org units whose sub-trees a profile is restricted to (empty = no restriction).
    pub async fn profile_org_unit_ids(&self, profile: ProfileId) -> StoreResult<Vec<OrgUnitId>> {
        let mut db = self.db.clone();
        let rows: Vec<(i64,)> = db
            .fetch_all(sql!(
                "SELECT org_unit_id FROM profile_org_units WHERE profile_id = $1 ORDER BY org_unit_id",
                profile.get()
            ))
            .await?;
        Ok(rows.into_iter().map(|r| OrgUnitId(r.0)).collect())
    }

    /// Types a profile may edit, directly or through its roles (empty = every type).
    pub async fn editable_org_unit_type_ids(
        &self,
        profile: ProfileId,
    ) -> StoreResult<Vec<OrgUnitTypeId>> {
        let mut db = self.db.clone();
        let rows: Vec<(i64,)> = db
            .fetch_all(sql!(
                "SELECT org_unit_type_id FROM profile_editable_org_unit_types WHERE profile_id = $1
                 UNION
                 SELECT re.org_unit_type_id FROM profile_user_roles pr
                 JOIN user_role_editable_org_unit_types re ON re.user_role_id = pr.user_role_id
                 WHERE pr.profile_id = $1",
                profile.get()
            ))
            .await?;
        let mut ids: Vec<OrgUnitTypeId> = rows.into_iter().map(|r| OrgUnitTypeId(r.0)).collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}
