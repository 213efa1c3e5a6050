use crate::live::{LiveProgress, LiveTask};
use crate::TaskError;
use iaso_db::{Backend, Conn, FromDbRow, Sql, Tx};
use iaso_domain::{AccountId, TaskId, UserId};
use iaso_files::FileStore;
use iaso_store::tasks::{Lease, ProgressAnswer, ProgressUpdate};
use iaso_store::Store;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SAVEPOINT: &str = "task_work";

/// What a handler gets while it runs. See the crate documentation for the pattern.
pub struct TaskContext {
    pub(crate) lease: Lease,
    account: AccountId,
    name: String,
    params: Value,
    created_by: Option<UserId>,
    launcher: Option<UserId>,
    store: Store,
    files: FileStore,
    pub(crate) live: Arc<LiveTask>,
    lease_duration: chrono::Duration,
    progress_interval: Duration,
    sync: tokio::sync::Mutex<SyncState>,
    tx_slot: Arc<Mutex<Option<Tx>>>,
    tx_open: Arc<AtomicBool>,
    pending_logs: Mutex<Vec<String>>,
}

struct SyncState {
    last: Option<Instant>,
    dirty: ProgressUpdate,
}

pub(crate) struct ContextParts {
    pub lease: Lease,
    pub account: AccountId,
    pub name: String,
    pub params: Value,
    pub created_by: Option<UserId>,
    pub launcher: Option<UserId>,
    pub store: Store,
    pub files: FileStore,
    pub live: Arc<LiveTask>,
    pub lease_duration: chrono::Duration,
    pub progress_interval: Duration,
}

impl TaskContext {
    pub(crate) fn new(p: ContextParts) -> TaskContext {
        TaskContext {
            lease: p.lease,
            account: p.account,
            name: p.name,
            params: p.params,
            created_by: p.created_by,
            launcher: p.launcher,
            store: p.store,
            files: p.files,
            live: p.live,
            lease_duration: p.lease_duration,
            progress_interval: p.progress_interval,
            sync: tokio::sync::Mutex::new(SyncState {
                last: None,
                dirty: ProgressUpdate::default(),
            }),
            tx_slot: Arc::new(Mutex::new(None)),
            tx_open: Arc::new(AtomicBool::new(false)),
            pending_logs: Mutex::new(Vec::new()),
        }
    }

    pub fn task_id(&self) -> TaskId {
        self.lease.task_id
    }

    /// The account the task belongs to: every query of the handler must be scoped to it.
    pub fn account_id(&self) -> AccountId {
        self.account
    }

    /// The task name (its type).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who asked for the task.
    pub fn created_by(&self) -> Option<UserId> {
        self.created_by
    }

    /// Who (re)launched it last: the user on whose behalf it runs.
    pub fn user_id(&self) -> Option<UserId> {
        self.launcher.or(self.created_by)
    }

    /// 1 for the first run; more when a previous worker died under the task.
    pub fn attempt(&self) -> i64 {
        self.lease.attempt
    }

    /// The parameters, decoded; undecodable parameters fail the task with a clear message.
    pub fn params<P: DeserializeOwned>(&self) -> Result<P, TaskError> {
        serde_json::from_value(self.params.clone())
            .map_err(|e| TaskError::Failed(format!("Invalid task parameters: {e}")))
    }

    pub fn raw_params(&self) -> &Value {
        &self.params
    }

    /// The store, for reads and for writes outside the task's transaction. While a [`TaskTx`]
    /// is open on SQLite, write only through it: the store would wait for the write lock the
    /// transaction holds.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn files(&self) -> &FileStore {
        &self.files
    }

    /// The key for a result file of this task.
    pub fn result_key(&self, file_name: &str) -> String {
        crate::result_key(self.account, self.lease.task_id, file_name)
    }

    /// Opens the task's transaction (one at a time). Its work commits together with the
    /// SUCCESS status when the handler returns `Ok`, and is rolled back on error, kill or
    /// panic. See [`TaskTx`].
    pub async fn begin(&self) -> Result<TaskTx, TaskError> {
        if self.tx_open.swap(true, Ordering::SeqCst) {
            return Err(TaskError::internal(
                "the task already has an open transaction",
            ));
        }
        let opened = async {
            let mut tx = self.store.db().begin().await?;
            tx.execute(Sql::new(format!("SAVEPOINT {SAVEPOINT}")))
                .await?;
            Ok::<Tx, iaso_db::DbError>(tx)
        }
        .await;
        match opened {
            Ok(tx) => Ok(TaskTx {
                tx: Some(tx),
                slot: self.tx_slot.clone(),
                open: self.tx_open.clone(),
                lease: self.lease.clone(),
                lease_duration: self.lease_duration,
            }),
            Err(e) => {
                self.tx_open.store(false, Ordering::SeqCst);
                Err(e.into())
            }
        }
    }

    /// Reports progress (`done` of `total`, with a message) and stops the task if it was
    /// killed. Cheap: it updates memory, and writes to the database (renewing the lease and
    /// reading the kill flag) at most once per progress interval.
    pub async fn progress(
        &self,
        done: i64,
        total: i64,
        message: impl Into<String>,
    ) -> Result<(), TaskError> {
        let message = message.into();
        let message = (!message.is_empty()).then_some(message);
        if let Ok(mut p) = self.live.progress.lock() {
            p.progress_value = done;
            p.end_value = total;
            if message.is_some() {
                p.progress_message = message.clone();
            }
        }
        {
            let mut s = self.sync.lock().await;
            s.dirty.progress_value = Some(done);
            s.dirty.end_value = Some(total);
            if message.is_some() {
                s.dirty.progress_message = message;
            }
        }
        self.sync(false).await
    }

    /// Sets the message only (Iaso's `report_progress_and_stop_if_killed(progress_message=...)`).
    pub async fn message(&self, message: impl Into<String>) -> Result<(), TaskError> {
        let message = message.into();
        if let Ok(mut p) = self.live.progress.lock() {
            p.progress_message = Some(message.clone());
        }
        self.sync.lock().await.dirty.progress_message = Some(message);
        self.sync(false).await
    }

    /// Stops the task if it was killed (no progress change).
    pub async fn checkpoint(&self) -> Result<(), TaskError> {
        self.sync(false).await
    }

    /// Writes pending progress now (and checks the kill flag), ignoring the interval.
    pub async fn flush(&self) -> Result<(), TaskError> {
        self.sync(true).await
    }

    /// Appends a line to the task's history (`/api/tasks/<id>/logs/`).
    pub async fn log(&self, message: impl Into<String>) -> Result<(), TaskError> {
        let message = message.into();
        if self.sqlite_locked() {
            if let Ok(mut logs) = self.pending_logs.lock() {
                logs.push(message);
            }
            return Ok(());
        }
        self.store
            .add_task_log(self.lease.task_id, &message)
            .await?;
        Ok(())
    }

    fn check_flags(&self) -> Result<(), TaskError> {
        if self.live.kill.load(Ordering::SeqCst) {
            return Err(TaskError::Killed);
        }
        if self.live.lease_lost.load(Ordering::SeqCst) {
            return Err(TaskError::LeaseLost);
        }
        if self.live.interrupt.load(Ordering::SeqCst) {
            return Err(TaskError::Interrupted);
        }
        Ok(())
    }

    /// True while this task's transaction holds SQLite's write lock: nothing else may write.
    pub(crate) fn sqlite_locked(&self) -> bool {
        self.store.backend() == Backend::Sqlite && self.tx_open.load(Ordering::SeqCst)
    }

    async fn sync(&self, force: bool) -> Result<(), TaskError> {
        self.check_flags()?;
        let mut s = self.sync.lock().await;
        if !force && s.last.is_some_and(|t| t.elapsed() < self.progress_interval) {
            return Ok(());
        }
        s.last = Some(Instant::now());
        let answer = if self.sqlite_locked() {
            // Progress stays in memory (the API of this process shows it) and its message goes
            // to the history at the end: nothing else may write meanwhile.
            if let Some(message) = s.dirty.progress_message.take() {
                if let Ok(mut logs) = self.pending_logs.lock() {
                    logs.push(message);
                }
            }
            self.store.task_kill_requested(&self.lease).await?
        } else {
            let update = std::mem::take(&mut s.dirty);
            self.store
                .report_task_progress(&self.lease, &update, self.lease_duration)
                .await?
        };
        match answer {
            ProgressAnswer::Continue => Ok(()),
            ProgressAnswer::KillRequested => {
                self.live.kill.store(true, Ordering::SeqCst);
                Err(TaskError::Killed)
            }
            ProgressAnswer::LeaseLost => {
                self.live.lease_lost.store(true, Ordering::SeqCst);
                Err(TaskError::LeaseLost)
            }
        }
    }

    pub(crate) fn live_progress(&self) -> LiveProgress {
        self.live
            .progress
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// The transaction the handler left behind, if any (and marks it closed).
    pub(crate) fn take_tx(&self) -> Option<Tx> {
        let tx = self.tx_slot.lock().ok()?.take();
        self.tx_open.store(false, Ordering::SeqCst);
        tx
    }

    pub(crate) fn take_pending_logs(&self) -> Vec<String> {
        self.pending_logs
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }

    pub(crate) fn savepoint() -> &'static str {
        SAVEPOINT
    }
}

/// The task's transaction. Use it like a [`Tx`] (it derefs to one and implements [`Conn`]), for
/// every write of the task. Do not commit it: when it goes out of scope the worker takes it
/// back and commits it together with the task's SUCCESS status, or rolls the work back on
/// error. [`TaskTx::commit`] exists for tasks that deliberately commit in several steps.
pub struct TaskTx {
    tx: Option<Tx>,
    slot: Arc<Mutex<Option<Tx>>>,
    open: Arc<AtomicBool>,
    lease: Lease,
    lease_duration: chrono::Duration,
}

impl TaskTx {
    fn inner(&mut self) -> &mut Tx {
        // `tx` is only taken by `commit` and `drop`, which consume the value.
        self.tx.as_mut().expect("TaskTx used after commit")
    }

    /// Commits the work done so far right now and closes the transaction (multi-step tasks;
    /// a later error will not undo it). The lease is renewed in the same transaction, so a
    /// worker that lost its task commits nothing.
    pub async fn commit(mut self) -> Result<(), TaskError> {
        let tx = self.tx.take();
        self.open.store(false, Ordering::SeqCst);
        if let Some(mut tx) = tx {
            let renewed =
                iaso_store::tasks::renew_lease_in(&mut tx, &self.lease, self.lease_duration)
                    .await?;
            if !renewed {
                tx.rollback().await?;
                return Err(TaskError::LeaseLost);
            }
            tx.commit().await?;
        }
        Ok(())
    }
}

impl std::ops::Deref for TaskTx {
    type Target = Tx;
    fn deref(&self) -> &Tx {
        self.tx.as_ref().expect("TaskTx used after commit")
    }
}

impl std::ops::DerefMut for TaskTx {
    fn deref_mut(&mut self) -> &mut Tx {
        self.inner()
    }
}

impl Drop for TaskTx {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            if let Ok(mut slot) = self.slot.lock() {
                *slot = Some(tx);
            }
        }
    }
}

impl Conn for TaskTx {
    fn backend(&self) -> Backend {
        (**self).backend()
    }

    // The inner futures are returned as they are (no `async` wrapper), which keeps them `Send`
    // for every lifetime in the eyes of the compiler.
    fn fetch_all<T: FromDbRow>(
        &mut self,
        q: Sql,
    ) -> impl std::future::Future<Output = iaso_db::Result<Vec<T>>> + Send {
        self.inner().fetch_all(q)
    }

    fn fetch_optional<T: FromDbRow>(
        &mut self,
        q: Sql,
    ) -> impl std::future::Future<Output = iaso_db::Result<Option<T>>> + Send {
        self.inner().fetch_optional(q)
    }

    fn execute(
        &mut self,
        q: Sql,
    ) -> impl std::future::Future<Output = iaso_db::Result<u64>> + Send {
        self.inner().execute(q)
    }
}
