//! Login throttling shared by every server process: after too many failures within a window,
//! a username is locked for a while, whatever password is tried.

use crate::users::username_key;
use crate::{Store, StoreResult};
use chrono::{DateTime, Duration, Utc};
use iaso_db::{sql, Conn};

/// When a username gets locked.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub max_failures: i64,
    pub window: Duration,
    pub lockout: Duration,
}

impl Default for ThrottlePolicy {
    /// Iaso locks a username for 30 s after 10 failures.
    fn default() -> Self {
        ThrottlePolicy {
            max_failures: 10,
            window: Duration::minutes(15),
            lockout: Duration::seconds(30),
        }
    }
}

#[derive(sqlx::FromRow)]
struct FailureRow {
    failures: i64,
    first_failure_at: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

impl Store {
    /// Until when the username is locked, if it is.
    pub async fn login_locked_until(&self, username: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let mut db = self.db.clone();
        let row: Option<FailureRow> = db
            .fetch_optional(sql!(
                "SELECT failures, first_failure_at, locked_until FROM login_failures WHERE username_key = $1",
                username_key(username)
            ))
            .await?;
        let now = iaso_db::now();
        Ok(row
            .and_then(|r| r.locked_until)
            .filter(|until| *until > now))
    }

    /// Counts a failed login; returns the lock end when this failure triggers a lockout.
    pub async fn record_login_failure(
        &self,
        username: &str,
        policy: &ThrottlePolicy,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let key = username_key(username);
        let now = iaso_db::now();
        let mut tx = self.db.begin().await?;
        let row: Option<FailureRow> = tx
            .fetch_optional(sql!(
                "SELECT failures, first_failure_at, locked_until FROM login_failures WHERE username_key = $1",
                key.as_str()
            ))
            .await?;
        let (failures, first) = match row {
            Some(r)
                if now - r.first_failure_at < policy.window
                    && r.locked_until.is_none_or(|u| u > now) =>
            {
                (r.failures + 1, r.first_failure_at)
            }
            _ => (1, now),
        };
        let locked_until = (failures >= policy.max_failures).then(|| now + policy.lockout);
        // After a lockout the count starts again, so each further burst earns a new lockout.
        let (stored_failures, stored_first) = if locked_until.is_some() {
            (0, now)
        } else {
            (failures, first)
        };
        tx.execute(sql!(
            "DELETE FROM login_failures WHERE username_key = $1",
            key.as_str()
        ))
        .await?;
        tx.execute(sql!(
            "INSERT INTO login_failures (username_key, failures, first_failure_at, locked_until) VALUES ($1, $2, $3, $4)",
            key.as_str(),
            stored_failures,
            stored_first,
            locked_until
        ))
        .await?;
        tx.commit().await?;
        Ok(locked_until)
    }

    pub async fn clear_login_failures(&self, username: &str) -> StoreResult<()> {
        let mut db = self.db.clone();
        db.execute(sql!(
            "DELETE FROM login_failures WHERE username_key = $1",
            username_key(username)
        ))
        .await?;
        Ok(())
    }
}
