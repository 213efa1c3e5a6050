//! User roles: named, account-scoped sets of permissions.

use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn, Sql};
use iaso_domain::{AccountId, FieldErrors, OrgUnitTypeId, Permission, UserRoleId};

#[derive(Debug, Clone, PartialEq)]
pub struct UserRole {
    pub id: UserRoleId,
    pub account_id: AccountId,
    pub name: String,
    pub permissions: Vec<Permission>,
    /// Org unit types holders of the role may create and edit (none = no restriction).
    pub editable_org_unit_type_ids: Vec<OrgUnitTypeId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: i64,
    account_id: i64,
    name: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

async fn with_permissions(c: &mut impl Conn, rows: Vec<RoleRow>) -> StoreResult<Vec<UserRole>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(
        "SELECT user_role_id, permission FROM user_role_permissions WHERE user_role_id IN (",
    );
    q.bind_list(rows.iter().map(|r| r.id))
        .push(") ORDER BY permission");
    let perms: Vec<(i64, String)> = c.fetch_all(q).await?;
    let mut q = Sql::new(
        "SELECT user_role_id, org_unit_type_id FROM user_role_editable_org_unit_types WHERE user_role_id IN (",
    );
    q.bind_list(rows.iter().map(|r| r.id))
        .push(") ORDER BY org_unit_type_id");
    let types: Vec<(i64, i64)> = c.fetch_all(q).await?;
    Ok(rows
        .into_iter()
        .map(|r| UserRole {
            permissions: perms
                .iter()
                .filter(|p| p.0 == r.id)
                .filter_map(|p| Permission::from_code(&p.1))
                .collect(),
            editable_org_unit_type_ids: types
                .iter()
                .filter(|t| t.0 == r.id)
                .map(|t| OrgUnitTypeId(t.1))
                .collect(),
            id: UserRoleId(r.id),
            account_id: AccountId(r.account_id),
            name: r.name,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

async fn write_permissions(
    c: &mut impl Conn,
    role: i64,
    permissions: &[Permission],
) -> StoreResult<()> {
    c.execute(sql!(
        "DELETE FROM user_role_permissions WHERE user_role_id = $1",
        role
    ))
    .await?;
    let mut seen = std::collections::BTreeSet::new();
    for p in permissions.iter().filter(|p| seen.insert(**p)) {
        c.execute(sql!(
            "INSERT INTO user_role_permissions (user_role_id, permission) VALUES ($1, $2)",
            role,
            p.code()
        ))
        .await?;
    }
    Ok(())
}

fn name_taken(e: iaso_db::DbError) -> StoreError {
    match e {
        iaso_db::DbError::UniqueViolation { .. } => {
            StoreError::invalid("name", "User role already exists")
        }
        other => other.into(),
    }
}

impl Store {
    pub async fn list_user_roles(
        &self,
        account: AccountId,
        search: Option<&str>,
        descending: bool,
    ) -> StoreResult<Vec<UserRole>> {
        let mut db = self.db.clone();
        let mut q = Sql::new("SELECT id, account_id, name, created_at, updated_at FROM user_roles WHERE account_id = ");
        q.bind(account.get());
        if let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) {
            q.push(" AND name_key LIKE ")
                .bind(format!("%{}%", s.to_lowercase()));
        }
        q.push(if descending {
            " ORDER BY name_key DESC, id"
        } else {
            " ORDER BY name_key, id"
        });
        let rows: Vec<RoleRow> = db.fetch_all(q).await?;
        with_permissions(&mut db, rows).await
    }

    pub async fn user_role(&self, account: AccountId, id: UserRoleId) -> StoreResult<UserRole> {
        let mut db = self.db.clone();
        let row: RoleRow = db
            .fetch_one(sql!(
                "SELECT id, account_id, name, created_at, updated_at FROM user_roles WHERE account_id = $1 AND id = $2",
                account.get(),
                id.get()
            ))
            .await?;
        with_permissions(&mut db, vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    pub async fn create_user_role(
        &self,
        account: AccountId,
        name: &str,
        permissions: &[Permission],
    ) -> StoreResult<UserRole> {
        let mut tx = self.db.begin().await?;
        let now = iaso_db::now();
        let id: i64 = tx
            .fetch_scalar(sql!(
                "INSERT INTO user_roles (account_id, name, name_key, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $4) RETURNING id",
                account.get(),
                name.trim(),
                name.trim().to_lowercase(),
                now
            ))
            .await
            .map_err(name_taken)?;
        write_permissions(&mut tx, id, permissions).await?;
        tx.commit().await?;
        self.user_role(account, UserRoleId(id)).await
    }

    /// Renames a role and, when given, replaces its permissions.
    pub async fn update_user_role(
        &self,
        account: AccountId,
        id: UserRoleId,
        name: Option<&str>,
        permissions: Option<&[Permission]>,
    ) -> StoreResult<UserRole> {
        let mut tx = self.db.begin().await?;
        let exists: Option<(i64,)> = tx
            .fetch_optional(sql!(
                "SELECT id FROM user_roles WHERE account_id = $1 AND id = $2",
                account.get(),
                id.get()
            ))
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        if let Some(name) = name {
            tx.execute(sql!(
                "UPDATE user_roles SET name = $1, name_key = $2, updated_at = $3 WHERE id = $4",
                name.trim(),
                name.trim().to_lowercase(),
                iaso_db::now(),
                id.get()
            ))
            .await
            .map_err(name_taken)?;
        }
        if let Some(perms) = permissions {
            write_permissions(&mut tx, id.get(), perms).await?;
        }
        tx.commit().await?;
        self.user_role(account, id).await
    }

    /// Deletes a role; profiles that had it simply lose it.
    pub async fn delete_user_role(&self, account: AccountId, id: UserRoleId) -> StoreResult<()> {
        let mut db = self.db.clone();
        let n = db
            .execute(sql!(
                "DELETE FROM user_roles WHERE account_id = $1 AND id = $2",
                account.get(),
                id.get()
            ))
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

impl Store {
    /// The roles of `account` among `ids` (others are ignored), by name.
    pub async fn user_roles_by_ids(
        &self,
        account: AccountId,
        ids: &[UserRoleId],
    ) -> StoreResult<Vec<UserRole>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut db = self.db.clone();
        let mut q = Sql::new("SELECT id, account_id, name, created_at, updated_at FROM user_roles WHERE account_id = ");
        q.bind(account.get())
            .push(" AND id IN (")
            .bind_list(ids.iter().map(|i| i.get()))
            .push(") ORDER BY name_key");
        let rows: Vec<RoleRow> = db.fetch_all(q).await?;
        with_permissions(&mut db, rows).await
    }
}

impl Store {
    /// Replaces the org unit types a role may edit (types of the account only).
    pub async fn set_user_role_editable_types(
        &self,
        account: AccountId,
        id: UserRoleId,
        types: &[OrgUnitTypeId],
    ) -> StoreResult<UserRole> {
        let mut tx = self.db.begin().await?;
        if !types.is_empty() {
            let mut q =
                Sql::new("SELECT COUNT(DISTINCT id) FROM org_unit_types WHERE account_id = ");
            q.bind(account.get())
                .push(" AND id IN (")
                .bind_list(types.iter().map(|t| t.get()))
                .push(")");
            let found: i64 = tx.fetch_scalar(q).await?;
            let distinct = types
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len() as i64;
            if found != distinct {
                return Err(StoreError::Invalid(FieldErrors::single(
                    "editable_org_unit_type_ids",
                    "Invalid pk - object does not exist.",
                )));
            }
        }
        let exists: Option<(i64,)> = tx
            .fetch_optional(sql!(
                "SELECT id FROM user_roles WHERE account_id = $1 AND id = $2",
                account.get(),
                id.get()
            ))
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        tx.execute(sql!(
            "DELETE FROM user_role_editable_org_unit_types WHERE user_role_id = $1",
            id.get()
        ))
        .await?;
        for t in types.iter().collect::<std::collections::BTreeSet<_>>() {
            tx.execute(sql!(
                "INSERT INTO user_role_editable_org_unit_types (user_role_id, org_unit_type_id) VALUES ($1, $2)",
                id.get(),
                t.get()
            ))
            .await?;
        }
        tx.commit().await?;
        self.user_role(account, id).await
    }
}
