//! What every handler can reach.

use crate::jwt::JwtKeys;
use crate::mail::Mailer;
use crate::Settings;
use iaso_domain::password::{HashCost, PasswordHasher};
use iaso_store::throttle::ThrottlePolicy;
use iaso_store::Store;
use iaso_tasks::{FileStore, Registry, TaskQueue};
use std::sync::Arc;

/// Settings that cannot be turned into a working application.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
    #[error(transparent)]
    Files(#[from] iaso_tasks::FileError),
}

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
    /// The background task queue (enqueue, kill, live progress).
    pub tasks: TaskQueue,
    /// Uploaded task inputs and task results.
    pub files: FileStore,
}

impl AppState {
    /// `settings.secret_key` must be set (the CLI generates one when the user did not).
    pub fn new(store: Store, settings: Settings) -> Result<AppState, StateError> {
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
        let files = FileStore::from_settings(&settings.file_settings(), &settings.data_dir)?;
        let tasks = TaskQueue::new(store.clone(), task_registry());
        Ok(AppState {
            tasks,
            files,
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

/// Every task type of this build (what the API may queue and workers run).
pub fn task_registry() -> Registry {
    iaso_tasks::kinds::registry()
}
