use crate::live::{LiveProgress, LiveTasks};
use crate::Registry;
use iaso_domain::{AccountId, TaskId, UserId};
use iaso_store::tasks::{NewTask, Task};
use iaso_store::{Store, StoreError, StoreResult};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::Notify;

/// The API's handle on the queue: enqueue tasks (waking the workers), kill them, read the live
/// progress of tasks running in this process. Cheap to clone; in-process workers share it.
#[derive(Clone)]
pub struct TaskQueue {
    store: Store,
    registry: Registry,
    wake: Arc<Notify>,
    live: LiveTasks,
}

impl TaskQueue {
    /// `registry` names the task types [`TaskQueue::launch`] accepts.
    pub fn new(store: Store, registry: Registry) -> TaskQueue {
        TaskQueue {
            store,
            registry,
            wake: Arc::new(Notify::new()),
            live: LiveTasks::default(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Queues a task of a registered type for `account` on behalf of `user`, with the retry
    /// policy of its handler. This is what task-creation endpoints call.
    pub async fn launch(
        &self,
        account: AccountId,
        user: Option<UserId>,
        name: &str,
        params: &impl Serialize,
    ) -> StoreResult<Task> {
        let handler = self
            .registry
            .get(name)
            .ok_or_else(|| StoreError::invalid("task", format!("Unknown task type {name:?}.")))?;
        let params = serde_json::to_value(params)
            .map_err(|e| StoreError::invalid("params", e.to_string()))?;
        self.enqueue(&NewTask {
            created_by: user,
            max_attempts: handler.max_attempts(),
            ..NewTask::new(account, handler.name(), params)
        })
        .await
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Queues a task and wakes the workers (in-process ones at once; PostgreSQL workers
    /// elsewhere through `NOTIFY` when the insert commits).
    pub async fn enqueue(&self, task: &NewTask) -> StoreResult<Task> {
        let task = self.store.enqueue_task(task).await?;
        self.wake();
        Ok(task)
    }

    /// Wakes the in-process workers (after a task was queued inside a caller's transaction).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    pub(crate) fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn live(&self) -> &LiveTasks {
        &self.live
    }

    /// Asks a task of `account` to stop. A task running in this process is flagged in memory
    /// first, so that it stops at its next checkpoint even while its transaction holds SQLite's
    /// write lock (the database flag is written once the lock is free).
    pub async fn request_kill(&self, account: AccountId, id: TaskId) -> StoreResult<Task> {
        // Checks the account before touching anything (a read: never blocked by a writer).
        let task = self.store.task(account, id).await?;
        self.live.request_kill(task.id);
        self.store.request_task_kill(account, id).await
    }

    /// The task with the freshest progress this process knows of.
    pub fn overlay(&self, mut task: Task) -> Task {
        if let Some(LiveProgress {
            progress_value,
            end_value,
            progress_message,
        }) = self.live.progress(task.id)
        {
            if task.status == iaso_store::tasks::TaskStatus::Running {
                task.progress_value = progress_value;
                task.end_value = end_value;
                if progress_message.is_some() {
                    task.progress_message = progress_message;
                }
            }
        }
        task
    }
}
