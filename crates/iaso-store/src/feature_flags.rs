//! The global catalogue of mobile feature flags.

use crate::{Store, StoreResult};
use chrono::{DateTime, Utc};
use iaso_db::{sql, Conn};
use iaso_domain::project::FeatureFlag;
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
pub(crate) struct FeatureFlagRow {
    pub(crate) id: i64,
    code: String,
    name: String,
    description: String,
    requires_authentication: bool,
    category: String,
    display_order: i64,
    is_dangerous: bool,
    configuration_schema: Option<Json<serde_json::Value>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(crate) const FLAG_COLUMNS: &str = "f.id, f.code, f.name, f.description, f.requires_authentication, \
    f.category, f.display_order, f.is_dangerous, f.configuration_schema, f.created_at, f.updated_at";

impl From<FeatureFlagRow> for FeatureFlag {
    fn from(r: FeatureFlagRow) -> Self {
        FeatureFlag {
            id: r.id,
            code: r.code,
            name: r.name,
            description: r.description,
            requires_authentication: r.requires_authentication,
            category: r.category,
            order: r.display_order,
            is_dangerous: r.is_dangerous,
            configuration_schema: r.configuration_schema.map(|j| j.0),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl Store {
    /// Every flag, in catalogue order.
    pub async fn feature_flags(&self) -> StoreResult<Vec<FeatureFlag>> {
        let mut db = self.db.clone();
        let rows: Vec<FeatureFlagRow> = db
            .fetch_all(sql!(&format!(
                "SELECT {FLAG_COLUMNS} FROM feature_flags f ORDER BY f.category, f.display_order, f.code"
            )))
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
