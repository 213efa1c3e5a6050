use iaso_db::DbError;
use iaso_domain::FieldErrors;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The object does not exist, or not in the caller's account (the two are not told apart,
    /// so that ids of other tenants leak nothing).
    #[error("not found")]
    NotFound,
    /// Input refused by a rule that needs the database (uniqueness, references).
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),
    /// The operation is not allowed on this object in its current state.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(DbError),
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound => StoreError::NotFound,
            other => StoreError::Db(other),
        }
    }
}

impl From<FieldErrors> for StoreError {
    fn from(e: FieldErrors) -> Self {
        StoreError::Invalid(e)
    }
}

impl StoreError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        StoreError::Invalid(FieldErrors::single(field, message))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
