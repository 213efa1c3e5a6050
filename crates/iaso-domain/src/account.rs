//! Tenants.

use crate::{AccountId, Module, SourceVersionId};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    /// The tenant's canonical pyramid version (filled by the georegistry).
    pub default_version_id: Option<SourceVersionId>,
    pub modules: Vec<Module>,
    /// Account-level feature flag codes (web-side switches).
    pub feature_flags: Vec<String>,
    pub user_manual_path: Option<String>,
    pub forum_path: Option<String>,
    pub analytics_script: Option<String>,
    pub enforce_password_validation: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Iaso's `short_sanitized_name`: a file-path friendly form of the account name.
pub fn short_sanitized_name(name: &str) -> String {
    let slug: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let collapsed: Vec<&str> = slug.split('_').filter(|p| !p.is_empty()).collect();
    let joined: String = collapsed.join("_").chars().take(30).collect();
    if joined.is_empty() {
        "invalid_name".into()
    } else {
        joined
    }
}

/// The codes of the account feature flags Iaso knows.
pub const ACCOUNT_FEATURE_FLAGS: &[&str] = &[
    "ALLOW_SHAPE_EDITION",
    "ALLOW_CATCHMENT_EDITION",
    "HIDE_PERIOD_QUARTER_NAME",
    "SHOW_DHIS2_LINK",
    "SHOW_LINK_INSTANCE_REFERENCE",
    "SHOW_BENEFICIARY_TYPES_IN_LIST_MENU",
    "SHOW_HOME_ONLINE",
    "SHOW_DEV_FEATURES",
    "ENTITY_DUPLICATES_SOFT_DELETE",
    "SHOW_MOBILE_NO_ORGUNIT_PROJECT_FEATURE_FLAG",
    "SUBMISSION_VALIDATION_WORKFLOW",
];

#[cfg(test)]
mod tests {
    #[test]
    fn sanitized_names() {
        assert_eq!(
            super::short_sanitized_name("Burkina Faso - MoH"),
            "burkina_faso_moh"
        );
        assert_eq!(super::short_sanitized_name("!!!"), "invalid_name");
    }
}
