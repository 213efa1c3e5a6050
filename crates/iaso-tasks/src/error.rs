use iaso_db::DbError;
use iaso_files::FileError;
use iaso_store::StoreError;
use thiserror::Error;

/// Why a task did not succeed.
#[derive(Debug, Error)]
pub enum TaskError {
    /// The task cannot be done; the message is for the person who launched it
    /// ("No matching profile found"). Status ERRORED.
    #[error("{0}")]
    Failed(String),
    /// A kill was requested (status KILLED); returned by checkpoints.
    #[error("killed")]
    Killed,
    /// The worker lost its lease (another worker now owns the task): nothing is recorded.
    #[error("the worker lost its lease on the task")]
    LeaseLost,
    /// The worker is shutting down: the work is rolled back and the task queued again.
    #[error("the worker is shutting down")]
    Interrupted,
    /// A bug or an infrastructure failure: logged in full, shown to users as an internal error.
    #[error("internal error: {0}")]
    Internal(String),
}

impl TaskError {
    pub fn fail(message: impl Into<String>) -> TaskError {
        TaskError::Failed(message.into())
    }

    pub fn internal(e: impl std::fmt::Display) -> TaskError {
        TaskError::Internal(e.to_string())
    }
}

impl From<StoreError> for TaskError {
    fn from(e: StoreError) -> Self {
        match e {
            // Field errors and conflicts are about the task's input: tell the person.
            StoreError::Invalid(errors) => TaskError::Failed(
                errors
                    .iter()
                    .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            StoreError::Conflict(message) => TaskError::Failed(message),
            StoreError::NotFound => TaskError::Failed("A referenced object does not exist.".into()),
            StoreError::Db(db) => TaskError::Internal(db.to_string()),
        }
    }
}

impl From<DbError> for TaskError {
    fn from(e: DbError) -> Self {
        TaskError::from(StoreError::from(e))
    }
}

impl From<FileError> for TaskError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::NotFound(key) => TaskError::Failed(format!("The file {key} is missing.")),
            other => TaskError::Internal(other.to_string()),
        }
    }
}

impl From<csv::Error> for TaskError {
    fn from(e: csv::Error) -> Self {
        TaskError::Internal(e.to_string())
    }
}
