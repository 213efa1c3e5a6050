//! Storage use cases. Every SQL statement of the product lives in this crate, written once for
//! both backends through [`iaso_db`]; callers (API, tasks, CLI) see domain types only.
//!
//! Each public method is one use case and owns its transaction. Helpers that must compose
//! inside a caller's transaction take `&mut impl Conn`.

pub mod accounts;
pub mod audit;
mod counts;
pub mod device_org_units;
mod error;
pub mod feature_flags;
pub mod forms;
pub mod groups;
pub mod instances;
pub mod jsonlogic;
pub mod migrations;
pub mod mobile;
pub mod org_unit_io;
pub mod org_unit_search;
pub mod org_unit_types;
pub mod org_units;
pub mod paging;
pub mod principal;
pub mod profiles;
pub mod profiles_bulk;
pub mod projects;
pub mod sessions;
pub mod setup;
pub mod sources;
pub mod tasks;
pub mod throttle;
pub mod user_roles;
pub mod users;

pub use error::{StoreError, StoreResult};
pub use iaso_db::{Backend, Db, DbOptions};
pub use paging::{Page, PageRequest};

/// Handle on the database with every storage use case as a method.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    counts: std::sync::Arc<counts::CountCache>,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Store {
            db,
            counts: Default::default(),
        }
    }

    /// Opens the database and applies pending migrations.
    pub async fn open(url: &str, options: &DbOptions) -> StoreResult<Store> {
        let db = Db::connect(url, options).await?;
        migrations::run(&db).await?;
        Ok(Store::new(db))
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        self.db.ping().await
    }

    /// Refreshes the planner's statistics (and PostgreSQL's visibility map) after bulk loads.
    pub async fn analyze(&self) -> StoreResult<()> {
        let script = match self.db.backend() {
            Backend::Sqlite => "ANALYZE",
            Backend::Postgres => "VACUUM ANALYZE",
        };
        self.db.execute_script(script).await?;
        Ok(())
    }
}

/// SHA-256 hex of a secret, for storing lookup keys of session cookies and reset tokens.
pub(crate) fn secret_hash(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A `LIKE ... ESCAPE '\\'` pattern matching `needle` anywhere, lowercased (compare with a
/// lowercased column).
pub(crate) fn like_contains(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}
