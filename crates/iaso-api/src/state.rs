//! What every handler can reach.

use crate::jwt::JwtKeys;
use crate::mail::Mailer;
use crate::Settings;
use iaso_domain::password::{HashCost, PasswordHasher};
use iaso_store::throttle::ThrottlePolicy;
use iaso_store::Store;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub jwt: JwtKeys,
    pub hasher: PasswordHasher,
    pub mailer: Mailer,
    pub throttle: ThrottlePolicy,
    /// When this process started (shown by `/_health/` when no deployment time is set).
    pub started_at: chrono::DateTime<chrono::Utc>,
}

impl AppState {
    /// `settings.secret_key` must be set (the CLI generates one when the user did not).
    pub fn new(store: Store, settings: Settings) -> Result<AppState, crate::mail::MailError> {
        let jwt = JwtKeys::new(
            &settings.secret_key,
            settings.access_token_lifetime as i64,
            settings.refresh_token_lifetime as i64,
        );
        let hasher = PasswordHasher::new(settings.hash_cost.unwrap_or(HashCost::Standard));
        let mailer = Mailer::from_settings(&settings)?;
        let throttle = ThrottlePolicy {
            max_failures: settings.login_max_failures,
            lockout: chrono::Duration::seconds(settings.login_lockout),
            ..ThrottlePolicy::default()
        };
        Ok(AppState {
            store,
            settings: Arc::new(settings),
            jwt,
            hasher,
            mailer,
            throttle,
            started_at: chrono::Utc::now(),
        })
    }
}
