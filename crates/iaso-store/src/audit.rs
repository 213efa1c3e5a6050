//! The audit log (`modifications`): one row per change with the object before and after.

use crate::{Store, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn};
use iaso_domain::{AccountId, UserId};
use serde_json::Value;
use sqlx::types::Json;

/// A change to record.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub account: Option<AccountId>,
    /// `iaso.form`, `iaso.instance`, ...
    pub content_type: &'a str,
    pub object_id: String,
    /// `[]` for a creation.
    pub past: Value,
    pub new: Value,
    /// `form_api`, `instance_api`, `instance_api_bulk`, `SYNC FORM UPLOAD`, ...
    pub source: &'a str,
    pub user: Option<UserId>,
}

pub(crate) async fn log_modification(c: &mut impl Conn, ch: &Change<'_>) -> StoreResult<()> {
    c.execute(sql!(
        "INSERT INTO modifications (account_id, content_type, object_id, past_value, new_value, source, user_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ch.account.map(|a| a.get()),
        ch.content_type,
        ch.object_id.clone(),
        ch.past.clone(),
        ch.new.clone(),
        ch.source,
        ch.user.map(|u| u.get()),
        iaso_db::now()
    ))
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Modification {
    pub id: i64,
    pub content_type: String,
    pub object_id: String,
    pub past_value: Json<Value>,
    pub new_value: Json<Value>,
    pub source: String,
    pub user_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// The changes recorded for an object of the account, oldest first.
    pub async fn modifications(
        &self,
        account: AccountId,
        content_type: &str,
        object_id: &str,
    ) -> StoreResult<Vec<Modification>> {
        let mut db = self.db.clone();
        Ok(db
            .fetch_all(sql!(
                "SELECT id, content_type, object_id, past_value, new_value, source, user_id, created_at
                 FROM modifications WHERE account_id = $1 AND content_type = $2 AND object_id = $3 ORDER BY id",
                account.get(),
                content_type,
                object_id
            ))
            .await?)
    }
}
