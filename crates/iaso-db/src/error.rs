use thiserror::Error;

/// What can go wrong talking to the database, classified so that callers can answer a person
/// (a unique violation is a 409/400 about the offending field, not a 500).
#[derive(Debug, Error)]
pub enum DbError {
    #[error("no row matched the query")]
    NotFound,
    #[error("a row with the same {constraint} already exists")]
    UniqueViolation { constraint: String },
    #[error("the row refers to a missing or still-referenced row ({constraint})")]
    ForeignKeyViolation { constraint: String },
    #[error("a check constraint failed ({constraint})")]
    CheckViolation { constraint: String },
    #[error("invalid database URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migration {version} ({name}) was changed after it was applied; write a new migration instead")]
    MigrationChanged { version: i64, name: String },
    #[error(
        "the database has migration {version}, which this build does not know; run a newer build"
    )]
    UnknownMigration { version: i64 },
    #[error("database error: {0}")]
    Sqlx(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => DbError::NotFound,
            sqlx::Error::Database(db) => {
                let constraint = db.constraint().unwrap_or_else(|| db.message()).to_string();
                match db.kind() {
                    sqlx::error::ErrorKind::UniqueViolation => {
                        DbError::UniqueViolation { constraint }
                    }
                    sqlx::error::ErrorKind::ForeignKeyViolation => {
                        DbError::ForeignKeyViolation { constraint }
                    }
                    sqlx::error::ErrorKind::CheckViolation => {
                        DbError::CheckViolation { constraint }
                    }
                    _ => DbError::Sqlx(err),
                }
            }
            _ => DbError::Sqlx(err),
        }
    }
}

impl DbError {
    /// True for a unique-constraint violation whose constraint (or SQLite message) mentions
    /// `needle` — used to turn a race on a unique column into a field error.
    pub fn is_unique_on(&self, needle: &str) -> bool {
        matches!(self, DbError::UniqueViolation { constraint } if constraint.contains(needle))
    }
}
