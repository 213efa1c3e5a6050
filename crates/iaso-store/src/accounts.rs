//! Accounts (tenants).

use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn};
use iaso_domain::account::Account;
use iaso_domain::{AccountId, Module, SourceVersionId, UserId};
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
pub(crate) struct AccountRow {
    id: i64,
    name: String,
    default_version_id: Option<i64>,
    modules: Json<Vec<String>>,
    feature_flags: Json<Vec<String>>,
    user_manual_path: Option<String>,
    forum_path: Option<String>,
    analytics_script: Option<String>,
    enforce_password_validation: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(crate) const ACCOUNT_COLUMNS: &str =
    "a.id, a.name, a.default_version_id, a.modules, a.feature_flags, \
    a.user_manual_path, a.forum_path, a.analytics_script, a.enforce_password_validation, \
    a.created_at, a.updated_at";

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            id: AccountId(r.id),
            name: r.name,
            default_version_id: r.default_version_id.map(SourceVersionId),
            // Unknown module codes (from a newer build) are ignored rather than failing reads.
            modules: r
                .modules
                .0
                .iter()
                .filter_map(|m| Module::from_code(m))
                .collect(),
            feature_flags: r.feature_flags.0,
            user_manual_path: r.user_manual_path,
            forum_path: r.forum_path,
            analytics_script: r.analytics_script,
            enforce_password_validation: r.enforce_password_validation,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn module_codes(modules: &[Module]) -> serde_json::Value {
    let mut codes: Vec<&str> = modules.iter().map(|m| m.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    serde_json::json!(codes)
}

/// Inserts an account; a taken name is a field error on `account_name`.
pub(crate) async fn insert_account(
    c: &mut impl Conn,
    name: &str,
    modules: &[Module],
) -> StoreResult<Account> {
    let now = iaso_db::now();
    let row: AccountRow = c
        .fetch_one(sql!(
            "INSERT INTO accounts (name, modules, feature_flags, enforce_password_validation, created_at, updated_at)
             VALUES ($1, $2, $3, TRUE, $4, $4)
             RETURNING id, name, default_version_id, modules, feature_flags, user_manual_path, forum_path,
                       analytics_script, enforce_password_validation, created_at, updated_at",
            name,
            module_codes(modules),
            serde_json::json!([]),
            now
        ))
        .await
        .map_err(|e| match e {
            iaso_db::DbError::UniqueViolation { .. } => {
                StoreError::invalid("account_name", "An account with this name already exists.")
            }
            other => other.into(),
        })?;
    Ok(row.into())
}

impl Store {
    pub async fn account(&self, id: AccountId) -> StoreResult<Account> {
        let mut db = self.db.clone();
        let row: AccountRow = db
            .fetch_one(sql!(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = $1"),
                id.get()
            ))
            .await?;
        Ok(row.into())
    }

    /// The accounts in which `user` has a profile, by name.
    pub async fn accounts_of_user(&self, user: UserId) -> StoreResult<Vec<Account>> {
        let mut db = self.db.clone();
        let rows: Vec<AccountRow> = db
            .fetch_all(sql!(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts a JOIN profiles p ON p.account_id = a.id
                     WHERE p.user_id = $1 ORDER BY a.name"
                ),
                user.get()
            ))
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Every account (superuser views), by name.
    pub async fn all_accounts(&self) -> StoreResult<Vec<Account>> {
        let mut db = self.db.clone();
        let rows: Vec<AccountRow> = db
            .fetch_all(sql!(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts a ORDER BY a.name"
            )))
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Replaces the active modules of an account (`DEFAULT` is always kept).
    pub async fn set_account_modules(
        &self,
        id: AccountId,
        modules: &[Module],
    ) -> StoreResult<Account> {
        let mut all = modules.to_vec();
        all.push(Module::Default);
        let mut db = self.db.clone();
        let n = db
            .execute(sql!(
                "UPDATE accounts SET modules = $1, updated_at = $2 WHERE id = $3",
                module_codes(&all),
                iaso_db::now(),
                id.get()
            ))
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        self.account(id).await
    }

    /// Replaces the account feature flags (unknown codes are a field error).
    pub async fn set_account_feature_flags(
        &self,
        id: AccountId,
        codes: &[String],
    ) -> StoreResult<Account> {
        if let Some(bad) = codes
            .iter()
            .find(|c| !iaso_domain::account::ACCOUNT_FEATURE_FLAGS.contains(&c.as_str()))
        {
            return Err(StoreError::invalid(
                "feature_flags",
                format!("Unknown account feature flag {bad:?}."),
            ));
        }
        let mut db = self.db.clone();
        db.execute(sql!(
            "UPDATE accounts SET feature_flags = $1, updated_at = $2 WHERE id = $3",
            serde_json::json!(codes),
            iaso_db::now(),
            id.get()
        ))
        .await?;
        self.account(id).await
    }
}

impl Store {
    pub async fn count_accounts(&self) -> StoreResult<i64> {
        let mut db = self.db.clone();
        Ok(db
            .fetch_scalar(sql!("SELECT COUNT(*) FROM accounts"))
            .await?)
    }
}
