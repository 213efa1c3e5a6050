use crate::context::{ContextParts, TaskContext};
use crate::{Registry, TaskError, TaskOutcome, TaskQueue};
use iaso_db::{Backend, Conn, Tx};
use iaso_files::FileStore;
use iaso_store::tasks::{add_task_log_in, finish_task_in, ClaimedTask, TaskEnd, NOTIFY_CHANNEL};
use iaso_store::{Store, StoreResult};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};

/// What users see when a task fails on a bug or an infrastructure problem (details are logged).
const INTERNAL_FAILURE: &str =
    "The task stopped on an internal error; the problem was logged for the administrators.";

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Tasks run at the same time by this worker.
    pub concurrency: usize,
    /// How long a claim holds without a heartbeat; a worker silent for longer is presumed dead
    /// and its task is retried elsewhere.
    pub lease: Duration,
    /// Longest sleep between two looks at the queue when no wake-up arrives.
    pub poll_interval: Duration,
    /// Shortest interval between two progress writes of one task.
    pub progress_interval: Duration,
    /// How often to look for tasks whose worker died.
    pub sweep_interval: Duration,
    /// Delay before a task whose worker died is retried (× the attempt number).
    pub retry_delay: Duration,
    /// On shutdown, how long running tasks may go on before they are interrupted (rolled back
    /// and queued again).
    pub shutdown_grace: Duration,
    /// Name of this worker in the task rows (`worker_id`): host and process by default.
    pub name: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        let host = hostname::get()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".into());
        WorkerConfig {
            concurrency: 2,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(30),
            progress_interval: Duration::from_millis(500),
            sweep_interval: Duration::from_secs(15),
            retry_delay: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            name: format!("{host}:{}", std::process::id()),
        }
    }
}

/// Claims and runs tasks. See the crate documentation.
pub struct Worker {
    queue: TaskQueue,
    store: Store,
    files: FileStore,
    registry: Registry,
    config: WorkerConfig,
}

/// A running worker; [`WorkerHandle::shutdown`] stops it gracefully.
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    join: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops claiming, lets running tasks finish within the grace period, then interrupts
    /// them (rolled back and queued again) and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.join.await;
    }
}

fn lease_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(60))
}

impl Worker {
    pub fn new(
        queue: TaskQueue,
        files: FileStore,
        registry: Registry,
        config: WorkerConfig,
    ) -> Worker {
        Worker {
            store: queue.store().clone(),
            queue,
            files,
            registry,
            config,
        }
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Starts the worker on the current runtime.
    pub fn spawn(self) -> WorkerHandle {
        let (stop, rx) = watch::channel(false);
        let join = tokio::spawn(Arc::new(self).run(rx));
        WorkerHandle { stop, join }
    }

    /// Runs until `shutdown` resolves, then stops gracefully.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) {
        let handle = self.spawn();
        shutdown.await;
        handle.shutdown().await;
    }

    async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        tracing::info!(
            worker = %self.config.name,
            concurrency = self.config.concurrency,
            kinds = ?self.registry.names(),
            "task worker started"
        );
        let mut slots = JoinSet::new();
        for slot in 0..self.config.concurrency.max(1) {
            slots.spawn(self.clone().slot_loop(slot, stop.clone()));
        }
        let mut helpers = JoinSet::new();
        helpers.spawn(self.clone().sweep_loop(stop.clone()));
        if self.store.backend() == Backend::Postgres {
            helpers.spawn(self.clone().listen_loop(stop.clone()));
        }
        let _ = stop.wait_for(|s| *s).await;
        helpers.abort_all();
        let all_done = async { while slots.join_next().await.is_some() {} };
        if tokio::time::timeout(self.config.shutdown_grace, all_done)
            .await
            .is_err()
        {
            tracing::warn!("tasks still running after the grace period: interrupting them");
            self.queue.live().interrupt_all();
            let rest = async { while slots.join_next().await.is_some() {} };
            let patience = self.config.progress_interval * 2 + Duration::from_secs(5);
            if tokio::time::timeout(patience, rest).await.is_err() {
                // Their leases will expire and another worker will retry them.
                slots.abort_all();
            }
        }
        tracing::info!(worker = %self.config.name, "task worker stopped");
    }

    async fn slot_loop(self: Arc<Self>, slot: usize, mut stop: watch::Receiver<bool>) {
        let wake = self.queue.waker();
        loop {
            if *stop.borrow() {
                return;
            }
            // Registered before looking at the queue, so that a wake-up arriving while we look
            // is not lost.
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.run_one(slot).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim a task; retrying shortly");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn sweep_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            match self
                .store
                .recover_expired_tasks(iaso_db::now(), lease_chrono(self.config.retry_delay))
                .await
            {
                Ok(recovered) if !recovered.is_empty() => {
                    for r in &recovered {
                        tracing::warn!(task = %r.task_id, status = r.status.code(), "task whose worker stopped responding");
                    }
                    self.queue.wake();
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweep of expired task leases failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.sweep_interval) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// PostgreSQL: wakes the slots when another process queues a task.
    async fn listen_loop(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let Some(pool) = self.store.db().as_postgres().cloned() else {
            return;
        };
        loop {
            match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => match listener.listen(NOTIFY_CHANNEL).await {
                    Ok(()) => {
                        // Anything queued while we were not listening.
                        self.queue.wake();
                        loop {
                            tokio::select! {
                                n = listener.recv() => match n {
                                    Ok(_) => self.queue.wake(),
                                    Err(e) => {
                                        tracing::warn!(error = %e, "task notifications lost; reconnecting");
                                        break;
                                    }
                                },
                                _ = stop.changed() => return,
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN for tasks"),
                },
                Err(e) => tracing::warn!(error = %e, "cannot connect to LISTEN for tasks"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Claims one task and runs it to its end; `false` when there was nothing to do.
    pub async fn run_one(&self, slot: usize) -> StoreResult<bool> {
        let names = self.registry.names();
        let worker_id = format!("{}#{slot}", self.config.name);
        let Some(claim) = self
            .store
            .claim_task(&worker_id, &names, lease_chrono(self.config.lease))
            .await?
        else {
            return Ok(false);
        };
        self.execute(claim).await;
        Ok(true)
    }

    async fn execute(&self, claim: ClaimedTask) {
        let id = claim.lease.task_id;
        let Some(handler) = self.registry.get(&claim.name) else {
            // Not reachable: claims are filtered by the registered names.
            let _ = self
                .store
                .finish_task(&claim.lease, &TaskEnd::errored("Unknown task type.", None))
                .await;
            return;
        };
        tracing::info!(task = %id, name = %claim.name, attempt = claim.lease.attempt, "task started");
        let live = self.queue.live().register(id);
        let ctx = Arc::new(TaskContext::new(ContextParts {
            lease: claim.lease,
            account: claim.account_id,
            name: claim.name,
            params: claim.params,
            created_by: claim.created_by,
            launcher: claim.launcher,
            store: self.store.clone(),
            files: self.files.clone(),
            live,
            lease_duration: lease_chrono(self.config.lease),
            progress_interval: self.config.progress_interval,
        }));
        let heartbeat = tokio::spawn(heartbeat(
            ctx.clone(),
            self.store.clone(),
            self.config.lease,
        ));
        let run = tokio::spawn({
            let ctx = ctx.clone();
            async move { handler.run(&ctx).await }
        });
        let result = match run.await {
            Ok(r) => r,
            Err(e) => Err(TaskError::Internal(panic_message(e))),
        };
        heartbeat.abort();
        self.record(&ctx, result).await;
        self.queue.live().unregister(id);
    }

    async fn record(&self, ctx: &TaskContext, result: Result<TaskOutcome, TaskError>) {
        let tx = ctx.take_tx();
        let logs = ctx.take_pending_logs();
        let live = ctx.live_progress();
        let progress = (live.progress_value != 0 || live.end_value != 0)
            .then_some((live.progress_value, live.end_value));
        let lease = &ctx.lease;
        let id = lease.task_id;
        let (end, keep_work) = match result {
            Ok(outcome) => {
                let mut end = outcome.into_end();
                end.progress = progress;
                (end, true)
            }
            Err(TaskError::Failed(message)) => {
                tracing::info!(task = %id, %message, "task failed");
                (TaskEnd::errored(message, live.progress_message), false)
            }
            Err(TaskError::Internal(detail)) => {
                tracing::error!(task = %id, %detail, "task failed on an internal error");
                (
                    TaskEnd::errored(INTERNAL_FAILURE, live.progress_message),
                    false,
                )
            }
            Err(TaskError::Killed) => {
                tracing::info!(task = %id, "task killed");
                let mut end = TaskEnd::killed();
                end.progress = progress;
                (end, false)
            }
            Err(TaskError::LeaseLost) => {
                tracing::warn!(task = %id, "lease lost: another worker owns the task now");
                drop(tx);
                return;
            }
            Err(TaskError::Interrupted) => {
                drop(tx);
                match self
                    .store
                    .release_task(lease, "The worker was stopped; the task was queued again.")
                    .await
                {
                    Ok(_) => tracing::info!(task = %id, "task interrupted and queued again"),
                    Err(e) => tracing::warn!(task = %id, error = %e, "cannot release the task"),
                }
                return;
            }
        };
        if let Some(tx) = tx {
            match finish_in_tx(tx, lease, &end, &logs, keep_work).await {
                Ok(true) => return,
                Ok(false) => {
                    tracing::warn!(task = %id, "lease lost before the end: work rolled back");
                    return;
                }
                Err(e) => {
                    tracing::error!(task = %id, error = %e, "cannot commit the task's work");
                    let end = TaskEnd::errored(INTERNAL_FAILURE, end.message.clone());
                    self.finish_alone(ctx, &end, &logs).await;
                    return;
                }
            }
        }
        self.finish_alone(ctx, &end, &logs).await;
    }

    async fn finish_alone(&self, ctx: &TaskContext, end: &TaskEnd, logs: &[String]) {
        let lease = &ctx.lease;
        let done = async {
            let mut tx = self.store.db().begin().await?;
            for line in logs {
                add_task_log_in(&mut tx, lease.task_id, line).await?;
            }
            let done = finish_task_in(&mut tx, lease, end).await?;
            tx.commit().await?;
            Ok::<bool, iaso_store::StoreError>(done)
        }
        .await;
        match done {
            Ok(true) => {
                tracing::info!(task = %lease.task_id, status = end.status.code(), "task ended")
            }
            Ok(false) => tracing::warn!(task = %lease.task_id, "lease lost before the end"),
            Err(e) => {
                tracing::error!(task = %lease.task_id, error = %e, "cannot record the end of the task")
            }
        }
    }
}

/// Records the end inside the handler's transaction: the work is kept (`keep_work`) or rolled
/// back to the savepoint taken when it began, then the status is written and everything
/// commits at once. `false` when the lease was lost (everything rolled back).
async fn finish_in_tx(
    mut tx: Tx,
    lease: &iaso_store::tasks::Lease,
    end: &TaskEnd,
    logs: &[String],
    keep_work: bool,
) -> Result<bool, iaso_store::StoreError> {
    if !keep_work {
        // Through the Conn trait (a prepared statement): sqlx's raw-SQL executor is not `Send`
        // for every lifetime, which spawned futures need.
        tx.execute(iaso_db::Sql::new(format!(
            "ROLLBACK TO SAVEPOINT {}",
            TaskContext::savepoint()
        )))
        .await?;
    }
    for line in logs {
        add_task_log_in(&mut tx, lease.task_id, line).await?;
    }
    if !finish_task_in(&mut tx, lease, end).await? {
        tx.rollback().await?;
        return Ok(false);
    }
    tx.commit().await?;
    tracing::info!(task = %lease.task_id, status = end.status.code(), "task ended");
    Ok(true)
}

/// Renews the lease while the task runs. Skipped while the task's own transaction holds
/// SQLite's write lock: then nobody else can write either, so nobody can take the task over,
/// and the end is recorded inside that transaction.
async fn heartbeat(ctx: Arc<TaskContext>, store: Store, lease: Duration) {
    let every = (lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(every).await;
        if ctx.sqlite_locked() {
            continue;
        }
        match store.heartbeat_task(&ctx.lease, lease_chrono(lease)).await {
            Ok(true) => {}
            Ok(false) => {
                ctx.live.lease_lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(e) => tracing::warn!(task = %ctx.lease.task_id, error = %e, "heartbeat failed"),
        }
    }
}

fn panic_message(e: JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown payload".into());
            format!("the task panicked: {text}")
        }
        Err(_) => "the task was cancelled".into(),
    }
}
