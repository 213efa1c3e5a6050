//! Background tasks: Iaso's long jobs (imports, exports, bulk updates) run by workers that
//! claim them from the database.
//!
//! - [`TaskHandler`]: one per task type (Iaso's task name), registered in a [`Registry`].
//! - [`TaskQueue`]: what the API holds: enqueue (and wake workers), kill, live progress.
//! - [`Worker`]: claims tasks of the registered types, runs them with a lease renewed by a
//!   heartbeat, records their result; several workers (threads or processes) never run the
//!   same task. `iaso serve` runs one in-process; `iaso worker` runs one alone.
//! - [`TaskContext`]: what a handler gets: params, store, file storage, account and user,
//!   [`TaskContext::progress`] (which is also the kill checkpoint) and
//!   [`TaskContext::begin`] for the task's single transaction.
//!
//! # Writing a task
//!
//! ```ignore
//! struct Rename;
//!
//! #[async_trait::async_trait]
//! impl TaskHandler for Rename {
//!     fn name(&self) -> &'static str { "rename_things" }
//!
//!     async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
//!         let params: RenameParams = ctx.params()?;          // bad params: ERRORED, clear message
//!         let ids = load_ids(ctx.store(), ctx.account_id()).await?;
//!         let mut tx = ctx.begin().await?;                    // the task's one transaction
//!         for (i, id) in ids.iter().enumerate() {
//!             ctx.progress(i as i64, ids.len() as i64, "Renaming").await?; // stops here if killed
//!             rename(&mut tx, *id, &params.name).await?;      // writes go through `tx` only
//!         }
//!         Ok(TaskOutcome::message(format!("{} renamed", ids.len())))
//!     }   // `tx` commits with the SUCCESS status, or rolls back on error, kill or panic
//! }
//! ```
//!
//! The transaction is handed back to the worker when the handler returns (it is dropped): on
//! `Ok` the worker writes the SUCCESS status inside it and commits both together; on `Err`,
//! kill or panic it rolls the work back to a savepoint and records the end in the same
//! transaction. So an import is all-or-nothing, and its final status can never disagree with
//! its data.

mod context;
mod error;
pub mod kinds;
mod live;
mod queue;
mod registry;
mod worker;

pub use context::{TaskContext, TaskTx};
pub use error::TaskError;
pub use live::{LiveProgress, LiveTasks};
pub use queue::TaskQueue;
pub use registry::{Registry, TaskHandler, TaskOutcome};
pub use worker::{Worker, WorkerConfig, WorkerHandle};

pub use iaso_files::{FileError, FileSettings, FileStore};
pub use iaso_store::tasks::{NewTask, Task, TaskStatus};

/// The key of a result file of a task: `tasks/<account>/<task>/<file name>`.
pub fn result_key(
    account: iaso_domain::AccountId,
    task: iaso_domain::TaskId,
    file_name: &str,
) -> String {
    format!(
        "tasks/{}/{}/{}",
        account.get(),
        task.get(),
        iaso_files::safe_file_name(file_name)
    )
}

/// The key for an uploaded input file: `uploads/<account>/<random>/<file name>`.
pub fn upload_key(account: iaso_domain::AccountId, file_name: &str) -> String {
    format!(
        "uploads/{}/{}/{}",
        account.get(),
        uuid::Uuid::new_v4().simple(),
        iaso_files::safe_file_name(file_name)
    )
}

/// The value of `result.data` for a task whose result is a file (Iaso's `file:<key>`).
pub fn file_result_data(key: &str) -> String {
    format!("file:{key}")
}

/// The key inside a `file:<key>` result, if the result is a file.
pub fn result_file_key(result: Option<&serde_json::Value>) -> Option<&str> {
    result?
        .get("data")?
        .as_str()?
        .strip_prefix("file:")
        .filter(|k| iaso_files::check_key(k).is_ok())
}
