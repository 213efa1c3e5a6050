//! Browser sessions and password-reset tokens. Only SHA-256 hashes of the secrets are stored.

use crate::{secret_hash, Store, StoreResult};
use chrono::{DateTime, Duration, Utc};
use iaso_db::{sql, Conn};
use iaso_domain::password::random_token;
use iaso_domain::UserId;

/// A new session: the cookie value and the CSRF token to hand to the browser.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub key: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A live session found from its cookie.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub user_id: UserId,
    pub csrf_token: String,
    pub token_version: i64,
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    user_id: i64,
    csrf_token: String,
    token_version: i64,
    expires_at: DateTime<Utc>,
}

impl Store {
    pub async fn create_session(
        &self,
        user: UserId,
        token_version: i64,
        lifetime: Duration,
    ) -> StoreResult<NewSession> {
        let key = random_token(32);
        let csrf_token = random_token(32);
        let now = iaso_db::now();
        let expires_at = now + lifetime;
        let mut db = self.db.clone();
        // Expired sessions are swept here, so the table never grows without bound.
        db.execute(sql!("DELETE FROM sessions WHERE expires_at < $1", now))
            .await?;
        db.execute(sql!(
            "INSERT INTO sessions (key_hash, user_id, csrf_token, token_version, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            secret_hash(&key),
            user.get(),
            csrf_token.as_str(),
            token_version,
            now,
            expires_at
        ))
        .await?;
        Ok(NewSession {
            key,
            csrf_token,
            expires_at,
        })
    }

    /// The session behind a cookie value, if it exists and has not expired.
    pub async fn session(&self, key: &str) -> StoreResult<Option<Session>> {
        let mut db = self.db.clone();
        let row: Option<SessionRow> = db
            .fetch_optional(sql!(
                "SELECT user_id, csrf_token, token_version, expires_at FROM sessions WHERE key_hash = $1 AND expires_at > $2",
                secret_hash(key),
                iaso_db::now()
            ))
            .await?;
        Ok(row.map(|r| Session {
            user_id: UserId(r.user_id),
            csrf_token: r.csrf_token,
            token_version: r.token_version,
            expires_at: r.expires_at,
        }))
    }

    pub async fn delete_session(&self, key: &str) -> StoreResult<()> {
        let mut db = self.db.clone();
        db.execute(sql!(
            "DELETE FROM sessions WHERE key_hash = $1",
            secret_hash(key)
        ))
        .await?;
        Ok(())
    }

    /// A single-use password-reset token for `user`, valid for `lifetime`.
    pub async fn create_reset_token(
        &self,
        user: UserId,
        lifetime: Duration,
    ) -> StoreResult<String> {
        let token = random_token(32);
        let now = iaso_db::now();
        let mut db = self.db.clone();
        db.execute(sql!(
            "INSERT INTO password_reset_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
            secret_hash(&token),
            user.get(),
            now,
            now + lifetime
        ))
        .await?;
        Ok(token)
    }

    /// The user of a valid (unused, unexpired) reset token, without using it up: lets the API
    /// check a new password against the username before spending the token.
    pub async fn reset_token_user(&self, token: &str) -> StoreResult<Option<UserId>> {
        let mut db = self.db.clone();
        let row: Option<(i64,)> = db
            .fetch_optional(sql!(
                "SELECT user_id FROM password_reset_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                secret_hash(token),
                iaso_db::now()
            ))
            .await?;
        Ok(row.map(|r| UserId(r.0)))
    }

    /// Marks a reset token used and returns its user; `None` when unknown, used or expired.
    pub async fn consume_reset_token(&self, token: &str) -> StoreResult<Option<UserId>> {
        let now = iaso_db::now();
        let mut tx = self.db.begin().await?;
        let row: Option<(i64,)> = tx
            .fetch_optional(sql!(
                "SELECT user_id FROM password_reset_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
                secret_hash(token),
                now
            ))
            .await?;
        if row.is_some() {
            tx.execute(sql!(
                "UPDATE password_reset_tokens SET used_at = $1 WHERE token_hash = $2",
                now,
                secret_hash(token)
            ))
            .await?;
        }
        tx.commit().await?;
        Ok(row.map(|r| UserId(r.0)))
    }
}
