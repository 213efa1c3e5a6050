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
    /// Recently verified HTTP Basic credentials (OpenRosa clients send them on every request).
    pub basic_cache: BasicCache,
    /// The background task queue (enqueue, kill, live progress).
    pub tasks: TaskQueue,
    /// Every stored file: forms and attachments, submissions and their media, raw uploads,
    /// task inputs and results (a local folder, or S3 by settings).
    pub files: FileStore,
}

type CacheMap = std::collections::HashMap<[u8; 32], (iaso_domain::UserId, std::time::Instant)>;

/// Verified Basic credentials for a few minutes, keyed by a SHA-256 of username and password,
/// so that an ODK Collect upload does not cost an argon2 verification each time.
#[derive(Clone, Default)]
pub struct BasicCache {
    inner: Arc<std::sync::Mutex<CacheMap>>,
}

impl BasicCache {
    const TTL: std::time::Duration = std::time::Duration::from_secs(300);
    const MAX: usize = 10_000;

    fn key(username: &str, password: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::new()
            .chain_update(username.as_bytes())
            .chain_update([0u8])
            .chain_update(password.as_bytes())
            .finalize()
            .into()
    }

    pub fn get(&self, username: &str, password: &str) -> Option<iaso_domain::UserId> {
        let map = self.inner.lock().ok()?;
        map.get(&Self::key(username, password))
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(id, _)| *id)
    }

    pub fn put(&self, username: &str, password: &str, id: iaso_domain::UserId) {
        if let Ok(mut map) = self.inner.lock() {
            if map.len() >= Self::MAX {
                map.retain(|_, (_, at)| at.elapsed() < Self::TTL);
                if map.len() >= Self::MAX {
                    map.clear();
                }
            }
            map.insert(
                Self::key(username, password),
                (id, std::time::Instant::now()),
            );
        }
    }
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
            basic_cache: BasicCache::default(),
        })
    }
}

/// Every task type of this build (what the API may queue and workers run).
pub fn task_registry() -> Registry {
    iaso_tasks::kinds::registry()
}
