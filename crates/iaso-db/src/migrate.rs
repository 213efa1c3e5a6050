//! Schema migrations written once for both backends.
//!
//! A migration is a SQL template in the common subset of the two dialects, with a few tokens
//! for the types that differ:
//!
//! | token      | PostgreSQL                    | SQLite                              |
//! |------------|-------------------------------|-------------------------------------|
//! | `{{pk}}`   | `BIGSERIAL PRIMARY KEY`       | `INTEGER PRIMARY KEY AUTOINCREMENT` |
//! | `{{ts}}`   | `TIMESTAMPTZ`                 | `TEXT` (RFC 3339, UTC)              |
//! | `{{date}}` | `DATE`                        | `TEXT` (YYYY-MM-DD)                 |
//! | `{{json}}` | `JSONB`                       | `TEXT`                              |
//! | `{{blob}}` | `BYTEA`                       | `BLOB`                              |
//!
//! Lines between `--@postgres` and `--@end` (or `--@sqlite` and `--@end`) are kept for that
//! backend only, for the rare statement that has no common form (partial or expression
//! indexes, triggers). Applied migrations are recorded with a checksum of their template;
//! editing one after it ran is refused, so schema changes always come as new migrations.

use crate::{Backend, Conn, Db, DbError, Result, Sql};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub template: &'static str,
}

/// Renders a template for one backend.
pub fn render(template: &str, backend: Backend) -> String {
    let mut out = String::with_capacity(template.len());
    let mut keep = true;
    for line in template.lines() {
        match line.trim() {
            "--@postgres" => keep = backend == Backend::Postgres,
            "--@sqlite" => keep = backend == Backend::Sqlite,
            "--@end" => keep = true,
            _ if keep => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {}
        }
    }
    let tokens: &[(&str, &str, &str)] = &[
        (
            "{{pk}}",
            "BIGSERIAL PRIMARY KEY",
            "INTEGER PRIMARY KEY AUTOINCREMENT",
        ),
        ("{{ts}}", "TIMESTAMPTZ", "TEXT"),
        ("{{date}}", "DATE", "TEXT"),
        ("{{json}}", "JSONB", "TEXT"),
        ("{{blob}}", "BYTEA", "BLOB"),
    ];
    for (token, pg, sqlite) in tokens {
        out = out.replace(
            token,
            if backend == Backend::Postgres {
                pg
            } else {
                sqlite
            },
        );
    }
    out
}

fn checksum(template: &str) -> String {
    hex::encode(Sha256::digest(template.as_bytes()))
}

#[derive(Debug, Default)]
pub struct MigrationReport {
    pub applied: Vec<(i64, &'static str)>,
    pub already: usize,
}

#[derive(sqlx::FromRow)]
struct AppliedRow {
    version: i64,
    checksum: String,
}

/// Applies every pending migration in one transaction. On PostgreSQL an advisory lock makes
/// concurrent starts (several `iaso serve` processes) wait for each other; on SQLite the
/// transaction's write lock does the same.
pub async fn run(db: &Db, migrations: &[Migration]) -> Result<MigrationReport> {
    let mut tx = db.begin().await?;
    if tx.backend() == Backend::Postgres {
        tx.execute(Sql::new("SELECT pg_advisory_xact_lock(727100001)"))
            .await?;
    }
    tx.execute(Sql::new(
        "CREATE TABLE IF NOT EXISTS iaso_schema_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    ))
    .await?;
    let applied: Vec<AppliedRow> = tx
        .fetch_all(Sql::new(
            "SELECT version, checksum FROM iaso_schema_migrations ORDER BY version",
        ))
        .await?;

    let mut report = MigrationReport::default();
    for row in &applied {
        match migrations.iter().find(|m| m.version == row.version) {
            None => {
                return Err(DbError::UnknownMigration {
                    version: row.version,
                })
            }
            Some(m) if checksum(m.template) != row.checksum => {
                return Err(DbError::MigrationChanged {
                    version: m.version,
                    name: m.name.into(),
                })
            }
            Some(_) => report.already += 1,
        }
    }
    let backend = tx.backend();
    for m in migrations
        .iter()
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
    {
        tracing::info!(version = m.version, name = m.name, "applying migration");
        tx.execute_script(&render(m.template, backend))
            .await
            .map_err(|source| DbError::Migration {
                version: m.version,
                name: m.name.into(),
                source,
            })?;
        tx.execute(crate::sql!(
            "INSERT INTO iaso_schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
            m.version,
            m.name,
            checksum(m.template),
            crate::now().to_rfc3339()
        ))
        .await?;
        report.applied.push((m.version, m.name));
    }
    tx.commit().await?;
    Ok(report)
}
