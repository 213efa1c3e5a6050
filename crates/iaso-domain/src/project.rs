//! Projects (one white-labelled mobile app each) and their feature flags.

use crate::{AccountId, ProjectId};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: ProjectId,
    pub account_id: AccountId,
    pub name: String,
    pub app_id: String,
    pub needs_authentication: bool,
    pub description: String,
    pub color: String,
    pub min_version: Option<i64>,
    pub redirection_url: Option<String>,
    pub external_token: Option<String>,
    pub feature_flags: Vec<ProjectFeatureFlag>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A mobile feature flag from the global catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureFlag {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub description: String,
    pub requires_authentication: bool,
    pub category: String,
    pub order: i64,
    pub is_dangerous: bool,
    pub configuration_schema: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A feature flag switched on for a project, with its optional configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectFeatureFlag {
    pub flag: FeatureFlag,
    pub configuration: Option<serde_json::Value>,
}

/// The flag whose presence means "mobile calls must be authenticated".
pub const REQUIRE_AUTHENTICATION: &str = "REQUIRE_AUTHENTICATION";

/// An `app_id` as clients use it: non-blank, no spaces, at most 255 characters.
pub fn valid_app_id(app_id: &str) -> Result<String, String> {
    let v = app_id.trim();
    if v.is_empty() {
        return Err("An App id is required".into());
    }
    if v.chars().count() > 255 {
        return Err("Ensure this field has no more than 255 characters.".into());
    }
    if v.chars().any(char::is_whitespace) {
        return Err("An App id may not contain spaces.".into());
    }
    Ok(v.to_string())
}

/// Iaso's default `app_id` for an account's first project: the name with spaces and dashes
/// turned into dots.
pub fn default_app_id(account_name: &str) -> String {
    account_name.trim().replace([' ', '-'], ".").to_lowercase()
}
