//! Login identities.

use crate::{Store, StoreError, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn};
use iaso_domain::user::User;
use iaso_domain::{AccountId, UserId};

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    /// Selected as `user_id` so that joins with tables having their own `id` stay unambiguous.
    user_id: i64,
    username: String,
    email: String,
    first_name: String,
    last_name: String,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    token_version: i64,
    current_account_id: Option<i64>,
    date_joined: DateTime<Utc>,
    last_login: Option<DateTime<Utc>>,
}

pub(crate) const USER_COLUMNS: &str =
    "u.id AS user_id, u.username, u.email, u.first_name, u.last_name, u.is_active, \
    u.is_staff, u.is_superuser, u.token_version, u.current_account_id, u.date_joined, u.last_login";

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.user_id),
            username: r.username,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            is_active: r.is_active,
            is_staff: r.is_staff,
            is_superuser: r.is_superuser,
            date_joined: r.date_joined,
            last_login: r.last_login,
            token_version: r.token_version,
            current_account_id: r.current_account_id.map(AccountId),
        }
    }
}

/// What is needed to create a login.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    /// Already hashed; empty = unusable until a reset or invitation sets one.
    pub password_hash: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub is_superuser: bool,
    pub current_account_id: Option<AccountId>,
}

pub(crate) fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}

pub(crate) async fn insert_user(c: &mut impl Conn, new: &NewUser) -> StoreResult<User> {
    let now = iaso_db::now();
    let row: UserRow = c
        .fetch_one(sql!(
            &format!(
                "INSERT INTO users (username, username_key, password_hash, email, first_name, last_name,
                    is_active, is_staff, is_superuser, current_account_id, date_joined, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7, $8, $9, $9)
                 RETURNING {}",
                USER_COLUMNS.replace("u.", "")
            ),
            new.username.trim(),
            username_key(&new.username),
            new.password_hash.as_str(),
            new.email.trim(),
            new.first_name.trim(),
            new.last_name.trim(),
            new.is_superuser,
            new.current_account_id.map(AccountId::get),
            now
        ))
        .await
        .map_err(|e| match e {
            iaso_db::DbError::UniqueViolation { .. } => {
                StoreError::invalid("user_name", "A user with this username already exists.")
            }
            other => other.into(),
        })?;
    Ok(row.into())
}

/// A user and its password hash, for logging in.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

#[derive(sqlx::FromRow)]
struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

impl Store {
    pub async fn user(&self, id: UserId) -> StoreResult<User> {
        let mut db = self.db.clone();
        let row: UserRow = db
            .fetch_one(sql!(
                &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"),
                id.get()
            ))
            .await?;
        Ok(row.into())
    }

    /// Looks a login up by username, case-insensitively.
    pub async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>> {
        let mut db = self.db.clone();
        let row: Option<CredentialsRow> = db
            .fetch_optional(sql!(
                &format!(
                    "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.username_key = $1"
                ),
                username_key(username)
            ))
            .await?;
        Ok(row.map(|r| Credentials {
            user: r.user.into(),
            password_hash: r.password_hash,
        }))
    }

    pub async fn credentials_by_id(&self, id: UserId) -> StoreResult<Credentials> {
        let mut db = self.db.clone();
        let row: CredentialsRow = db
            .fetch_one(sql!(
                &format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.id = $1"),
                id.get()
            ))
            .await?;
        Ok(Credentials {
            user: row.user.into(),
            password_hash: row.password_hash,
        })
    }

    /// Users whose e-mail matches (password reset), active ones only.
    pub async fn users_by_email(&self, email: &str) -> StoreResult<Vec<User>> {
        let mut db = self.db.clone();
        let rows: Vec<UserRow> = db
            .fetch_all(sql!(
                &format!(
                    "SELECT {USER_COLUMNS} FROM users u WHERE lower(u.email) = $1 AND u.is_active ORDER BY u.id"
                ),
                email.trim().to_lowercase()
            ))
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Creates a login that belongs to no account yet (superusers from the CLI).
    pub async fn create_user(&self, new: &NewUser) -> StoreResult<User> {
        let mut tx = self.db.begin().await?;
        let user = insert_user(&mut tx, new).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Stores a new password hash and revokes every token and session issued before.
    pub async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<User> {
        let mut tx = self.db.begin().await?;
        let n = tx
            .execute(sql!(
                "UPDATE users SET password_hash = $1, token_version = token_version + 1, updated_at = $2 WHERE id = $3",
                hash,
                iaso_db::now(),
                id.get()
            ))
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.execute(sql!("DELETE FROM sessions WHERE user_id = $1", id.get()))
            .await?;
        tx.commit().await?;
        self.user(id).await
    }

    pub async fn record_login(&self, id: UserId) -> StoreResult<()> {
        let mut db = self.db.clone();
        db.execute(sql!(
            "UPDATE users SET last_login = $1 WHERE id = $2",
            iaso_db::now(),
            id.get()
        ))
        .await?;
        Ok(())
    }

    /// Makes `account` the user's current account; the user must have a profile there.
    pub async fn switch_account(&self, id: UserId, account: AccountId) -> StoreResult<()> {
        let mut db = self.db.clone();
        let n = db
            .execute(sql!(
                "UPDATE users SET current_account_id = $1, updated_at = $2
                 WHERE id = $3 AND EXISTS (SELECT 1 FROM profiles p WHERE p.user_id = $3 AND p.account_id = $1)",
                account.get(),
                iaso_db::now(),
                id.get()
            ))
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Makes an existing login a superuser (CLI `create-superuser` on an existing name).
    pub async fn promote_superuser(&self, id: UserId) -> StoreResult<()> {
        let mut db = self.db.clone();
        db.execute(sql!(
            "UPDATE users SET is_superuser = TRUE, is_staff = TRUE, updated_at = $1 WHERE id = $2",
            iaso_db::now(),
            id.get()
        ))
        .await?;
        Ok(())
    }

    pub async fn count_users(&self) -> StoreResult<i64> {
        let mut db = self.db.clone();
        Ok(db.fetch_scalar(sql!("SELECT COUNT(*) FROM users")).await?)
    }
}
