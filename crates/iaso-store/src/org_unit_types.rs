//! Org unit types (country, district, health facility...): account-scoped, linked to projects,
//! with allowed child types.

use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn, Sql};
use iaso_domain::{AccountId, FieldErrors, OrgUnitTypeId, ProjectId};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq)]
pub struct OrgUnitType {
    pub id: OrgUnitTypeId,
    pub account_id: AccountId,
    pub name: String,
    pub short_name: String,
    pub category: Option<String>,
    pub depth: Option<i64>,
    pub project_ids: Vec<ProjectId>,
    /// Allowed child types.
    pub sub_unit_type_ids: Vec<OrgUnitTypeId>,
    /// Child types the mobile app may create.
    pub creatable_sub_unit_type_ids: Vec<OrgUnitTypeId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct TypeRow {
    id: i64,
    account_id: i64,
    name: String,
    short_name: String,
    category: Option<String>,
    depth: Option<i64>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const TYPE_COLUMNS: &str =
    "t.id, t.account_id, t.name, t.short_name, t.category, t.depth, t.created_at, t.updated_at";

pub const CATEGORIES: &[&str] = &["COUNTRY", "REGION", "DISTRICT", "HF"];

/// Fields of a type; `None` leaves a field unchanged on update.
#[derive(Debug, Clone, Default)]
pub struct TypeChanges {
    pub name: Option<String>,
    pub short_name: Option<String>,
    pub category: Option<Option<String>>,
    pub depth: Option<Option<i64>>,
    pub project_ids: Option<Vec<ProjectId>>,
    pub sub_unit_type_ids: Option<Vec<OrgUnitTypeId>>,
    pub creatable_sub_unit_type_ids: Option<Vec<OrgUnitTypeId>>,
}

async fn load_types(c: &mut impl Conn, rows: Vec<TypeRow>) -> StoreResult<Vec<OrgUnitType>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut links: HashMap<(&str, i64), Vec<i64>> = HashMap::new();
    for (table, col) in [
        ("org_unit_type_projects", "project_id"),
        ("org_unit_type_sub_types", "sub_type_id"),
        ("org_unit_type_creatable_sub_types", "sub_type_id"),
    ] {
        let mut q = Sql::new(format!(
            "SELECT org_unit_type_id, {col} FROM {table} WHERE org_unit_type_id IN ("
        ));
        q.bind_list(ids.iter().copied())
            .push(&format!(") ORDER BY {col}"));
        let rows: Vec<(i64, i64)> = c.fetch_all(q).await?;
        for (t, other) in rows {
            links.entry((table, t)).or_default().push(other);
        }
    }
    let mut take = |table: &'static str, id: i64| links.remove(&(table, id)).unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|r| OrgUnitType {
            project_ids: take("org_unit_type_projects", r.id)
                .into_iter()
                .map(ProjectId)
                .collect(),
            sub_unit_type_ids: take("org_unit_type_sub_types", r.id)
                .into_iter()
                .map(OrgUnitTypeId)
                .collect(),
            creatable_sub_unit_type_ids: take("org_unit_type_creatable_sub_types", r.id)
                .into_iter()
                .map(OrgUnitTypeId)
                .collect(),
            id: OrgUnitTypeId(r.id),
            account_id: AccountId(r.account_id),
            name: r.name,
            short_name: r.short_name,
            category: r.category,
            depth: r.depth,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

async fn check_links(
    c: &mut impl Conn,
    account: AccountId,
    id: Option<OrgUnitTypeId>,
    ch: &TypeChanges,
) -> StoreResult<()> {
    let mut errors = FieldErrors::new();
    if let Some(projects) = ch.project_ids.as_ref().filter(|p| !p.is_empty()) {
        let mut q = Sql::new("SELECT COUNT(DISTINCT id) FROM projects WHERE account_id = ");
        q.bind(account.get())
            .push(" AND id IN (")
            .bind_list(projects.iter().map(|p| p.get()))
            .push(")");
        let found: i64 = c.fetch_scalar(q).await?;
        if found != projects.iter().collect::<BTreeSet<_>>().len() as i64 {
            errors.add("project_ids", "Invalid project ids");
        }
    }
    // Every type of the account with its allowed children: small, loaded whole.
    let edges: Vec<(i64, i64)> = c
        .fetch_all(sql!(
            "SELECT s.org_unit_type_id, s.sub_type_id FROM org_unit_type_sub_types s
             JOIN org_unit_types t ON t.id = s.org_unit_type_id WHERE t.account_id = $1",
            account.get()
        ))
        .await?;
    let own: Vec<(i64,)> = c
        .fetch_all(sql!(
            "SELECT id FROM org_unit_types WHERE account_id = $1",
            account.get()
        ))
        .await?;
    let own: BTreeSet<i64> = own.into_iter().map(|r| r.0).collect();
    // The ancestors of `id` in the type graph (types that list it, directly or not, as a child).
    let mut parents = BTreeSet::new();
    if let Some(id) = id {
        let mut todo = vec![id.get()];
        while let Some(t) = todo.pop() {
            for (p, _) in edges.iter().filter(|(_, s)| *s == t) {
                if parents.insert(*p) {
                    todo.push(*p);
                }
            }
        }
        parents.insert(id.get());
    }
    for (field, list) in [
        ("sub_unit_type_ids", &ch.sub_unit_type_ids),
        (
            "allow_creating_sub_unit_type_ids",
            &ch.creatable_sub_unit_type_ids,
        ),
    ] {
        for t in list.iter().flatten() {
            if !own.contains(&t.get()) {
                errors.add(
                    field,
                    format!("Invalid pk \"{t}\" - object does not exist."),
                );
            } else if parents.contains(&t.get()) {
                errors.add(
                    field,
                    format!(
                        "Type {t} is a parent of this type and cannot be one of its sub types."
                    ),
                );
            }
        }
    }
    errors.into_result().map_err(StoreError::Invalid)
}

async fn write_links(c: &mut impl Conn, id: OrgUnitTypeId, ch: &TypeChanges) -> StoreResult<()> {
    for (table, col, list) in [
        (
            "org_unit_type_projects",
            "project_id",
            ch.project_ids
                .as_ref()
                .map(|l| l.iter().map(|p| p.get()).collect::<Vec<_>>()),
        ),
        (
            "org_unit_type_sub_types",
            "sub_type_id",
            ch.sub_unit_type_ids
                .as_ref()
                .map(|l| l.iter().map(|p| p.get()).collect()),
        ),
        (
            "org_unit_type_creatable_sub_types",
            "sub_type_id",
            ch.creatable_sub_unit_type_ids
                .as_ref()
                .map(|l| l.iter().map(|p| p.get()).collect()),
        ),
    ] {
        let Some(list) = list else { continue };
        c.execute(sql!(
            &format!("DELETE FROM {table} WHERE org_unit_type_id = $1"),
            id.get()
        ))
        .await?;
        for other in list.into_iter().collect::<BTreeSet<_>>() {
            c.execute(sql!(
                &format!("INSERT INTO {table} (org_unit_type_id, {col}) VALUES ($1, $2)"),
                id.get(),
                other
            ))
            .await?;
        }
    }
    Ok(())
}

/// Inserts a type (used by the API, the demo generator and imports).
pub async fn insert_org_unit_type(
    c: &mut impl Conn,
    account: AccountId,
    ch: &TypeChanges,
) -> StoreResult<OrgUnitTypeId> {
    let now = iaso_db::now();
    let name = ch.name.clone().unwrap_or_default();
    let short_name = ch.short_name.clone().unwrap_or_else(|| {
        name.rsplit(" - ")
            .next()
            .unwrap_or(&name)
            .trim()
            .to_string()
    });
    let id: i64 = c
        .fetch_scalar(sql!(
            "INSERT INTO org_unit_types (account_id, name, short_name, category, depth, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            account.get(),
            name.trim(),
            short_name,
            ch.category.clone().flatten(),
            ch.depth.flatten(),
            now
        ))
        .await?;
    let id = OrgUnitTypeId(id);
    write_links(c, id, ch).await?;
    Ok(id)
}

impl Store {
    /// Every type of the account, by id.
    pub async fn list_org_unit_types(&self, account: AccountId) -> StoreResult<Vec<OrgUnitType>> {
        let mut db = self.db.clone();
        let rows: Vec<TypeRow> = db
            .fetch_all(sql!(
                &format!(
                    "SELECT {TYPE_COLUMNS} FROM org_unit_types t WHERE t.account_id = $1 ORDER BY t.id"
                ),
                account.get()
            ))
            .await?;
        load_types(&mut db, rows).await
    }

    pub async fn org_unit_type(
        &self,
        account: AccountId,
        id: OrgUnitTypeId,
    ) -> StoreResult<OrgUnitType> {
        let mut db = self.db.clone();
        let row: TypeRow = db
            .fetch_one(sql!(
                &format!(
                    "SELECT {TYPE_COLUMNS} FROM org_unit_types t WHERE t.account_id = $1 AND t.id = $2"
                ),
                account.get(),
                id.get()
            ))
            .await?;
        load_types(&mut db, vec![row])
            .await?
            .pop()
            .ok_or(StoreError::NotFound)
    }

    pub async fn create_org_unit_type(
        &self,
        account: AccountId,
        ch: &TypeChanges,
    ) -> StoreResult<OrgUnitType> {
        let mut tx = self.db.begin().await?;
        check_links(&mut tx, account, None, ch).await?;
        let id = insert_org_unit_type(&mut tx, account, ch).await?;
        tx.commit().await?;
        self.org_unit_type(account, id).await
    }

    pub async fn update_org_unit_type(
        &self,
        account: AccountId,
        id: OrgUnitTypeId,
        ch: &TypeChanges,
    ) -> StoreResult<OrgUnitType> {
        let current = self.org_unit_type(account, id).await?;
        let mut tx = self.db.begin().await?;
        check_links(&mut tx, account, Some(id), ch).await?;
        tx.execute(sql!(
            "UPDATE org_unit_types SET name = $1, short_name = $2, category = $3, depth = $4, updated_at = $5
             WHERE id = $6 AND account_id = $7",
            ch.name.clone().unwrap_or(current.name).trim(),
            ch.short_name.clone().unwrap_or(current.short_name),
            ch.category.clone().unwrap_or(current.category),
            ch.depth.unwrap_or(current.depth),
            iaso_db::now(),
            id.get(),
            account.get()
        ))
        .await?;
        write_links(&mut tx, id, ch).await?;
        tx.commit().await?;
        self.org_unit_type(account, id).await
    }

    /// Deletes a type that no org unit uses any more.
    pub async fn delete_org_unit_type(
        &self,
        account: AccountId,
        id: OrgUnitTypeId,
    ) -> StoreResult<()> {
        self.org_unit_type(account, id).await?;
        let mut tx = self.db.begin().await?;
        let used: i64 = tx
            .fetch_scalar(sql!(
                "SELECT COUNT(*) FROM org_units WHERE org_unit_type_id = $1",
                id.get()
            ))
            .await?;
        if used > 0 {
            return Err(StoreError::Conflict(
                "You can't delete a type that still has org units".into(),
            ));
        }
        tx.execute(sql!(
            "DELETE FROM org_unit_types WHERE id = $1 AND account_id = $2",
            id.get(),
            account.get()
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
