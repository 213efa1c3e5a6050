//! Fresh, migrated databases for tests, on both backends.
//!
//! SQLite always runs. PostgreSQL runs when `TEST_DATABASE_URL` points at a server where the
//! user may create databases (`.ci/run` starts one); without it the PostgreSQL half of a test
//! is skipped with a message, unless `IASO_REQUIRE_POSTGRES=1`, which turns the skip into a
//! failure so that CI cannot pass without having run it.
//!
//! Each test gets its own database: a new SQLite file, or a PostgreSQL database cloned with
//! `CREATE DATABASE ... TEMPLATE` from a template migrated once per migration set.

use crate::migrate::{self, Migration};
use crate::{Backend, Db, DbOptions};
use sha2::{Digest, Sha256};

pub struct TestDatabase {
    pub db: Db,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// Closes the pools and drops the PostgreSQL database (the SQLite folder goes with `self`).
    pub async fn cleanup(self) {
        self.db.close().await;
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            if let Ok(admin) = Db::connect(admin_url, &small_pool()).await {
                let _ = admin
                    .execute_script(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                admin.close().await;
            }
        }
    }
}

fn small_pool() -> DbOptions {
    DbOptions {
        max_connections: 4,
        ..DbOptions::default()
    }
}

/// The PostgreSQL admin URL, or `None` (after saying so) when PostgreSQL tests are skipped.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var("IASO_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!("IASO_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set");
            }
            eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL half of this test");
            None
        }
    }
}

/// A fresh migrated database on `backend`; `None` when PostgreSQL tests are skipped.
pub async fn fresh(backend: Backend, migrations: &[Migration]) -> Option<TestDatabase> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir for the test database");
            let url = format!("sqlite:{}", dir.path().join("test.sqlite3").display());
            let db = Db::connect(&url, &small_pool())
                .await
                .expect("open test SQLite");
            migrate::run(&db, migrations)
                .await
                .expect("migrate test SQLite");
            Some(TestDatabase {
                db,
                cleanup: Cleanup::Sqlite(dir),
            })
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url()?;
            let template = ensure_template(&admin_url, migrations).await;
            let name = format!("iaso_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Db::connect(&admin_url, &small_pool())
                .await
                .expect("connect admin");
            admin
                .execute_script(&format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                ))
                .await
                .expect("clone the template database");
            admin.close().await;
            let db = Db::connect(&with_database(&admin_url, &name), &small_pool())
                .await
                .expect("connect test database");
            Some(TestDatabase {
                db,
                cleanup: Cleanup::Postgres { admin_url, name },
            })
        }
    }
}

fn with_database(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(name);
    url.to_string()
}

/// Creates (once, under an advisory lock) the template database for this set of migrations.
async fn ensure_template(admin_url: &str, migrations: &[Migration]) -> String {
    let mut hash = Sha256::new();
    for m in migrations {
        hash.update(m.version.to_le_bytes());
        hash.update(m.template.as_bytes());
    }
    let name = format!("iaso_tpl_{}", &hex::encode(hash.finalize())[..16]);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await
        .expect("connect to TEST_DATABASE_URL");
    let mut conn = pool.acquire().await.expect("admin connection");
    sqlx::query("SELECT pg_advisory_lock(727100002)")
        .execute(&mut *conn)
        .await
        .expect("lock");
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut *conn)
        .await
        .expect("look up template");
    if exists.is_none() {
        let building = format!("{name}_building");
        let _ = sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
        ))
        .execute(&mut *conn)
        .await;
        sqlx::raw_sql(&format!("CREATE DATABASE \"{building}\""))
            .execute(&mut *conn)
            .await
            .expect("create template");
        let db = Db::connect(&with_database(admin_url, &building), &small_pool())
            .await
            .expect("connect template");
        migrate::run(&db, migrations)
            .await
            .expect("migrate the template database");
        db.close().await;
        // A closed pool's backends may take a moment to go away; end them, then rename.
        let _ = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&building)
        .execute(&mut *conn)
        .await;
        let rename = format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\"");
        let mut attempts = 0;
        while let Err(e) = sqlx::raw_sql(&rename).execute(&mut *conn).await {
            attempts += 1;
            assert!(attempts < 50, "publish template: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    sqlx::query("SELECT pg_advisory_unlock(727100002)")
        .execute(&mut *conn)
        .await
        .expect("unlock");
    drop(conn);
    pool.close().await;
    name
}

/// Declares one async test per backend: `backend_test!(name, |db: Db| async move { ... })`
/// expands to `name_sqlite` and `name_postgres`. `$migrations` is the migration list.
#[macro_export]
macro_rules! backend_test {
    ($migrations:expr, $name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::testing::run_on($crate::Backend::Sqlite, $migrations, $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::testing::run_on($crate::Backend::Postgres, $migrations, $body).await;
            }
        }
    };
}

/// Runs `body` on a fresh database of `backend` and cleans up afterwards.
pub async fn run_on<F, Fut>(backend: Backend, migrations: &[Migration], body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(test_db) = fresh(backend, migrations).await else {
        return;
    };
    body(test_db.db.clone()).await;
    test_db.cleanup().await;
}
