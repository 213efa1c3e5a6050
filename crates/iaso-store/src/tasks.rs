//! Background tasks: Iaso's task records (status, progress, result, logs) and the durable queue
//! the workers claim them from.
//!
//! Queue protocol (see `docs/decisions/0400-task-queue-and-files.md`):
//! - [`Store::enqueue_task`] inserts a `QUEUED` row (and, on PostgreSQL, `NOTIFY`s the workers
//!   when the transaction commits).
//! - [`Store::claim_task`] atomically takes the oldest claimable task and gives the caller a
//!   [`Lease`]: the row becomes `RUNNING` with `worker_id`, `attempts + 1` and `locked_until`.
//!   PostgreSQL uses `FOR UPDATE SKIP LOCKED` so that concurrent claimers never wait for or get
//!   the same row; SQLite runs the same `UPDATE ... WHERE id = (SELECT ...)` as one statement
//!   under its single writer, which is atomic.
//! - While it runs, the worker renews the lease ([`Store::heartbeat_task`],
//!   [`Store::report_task_progress`]); every write of the worker is fenced by the lease (worker
//!   id and attempt number), so a worker that lost its lease cannot overwrite the task.
//! - [`Store::finish_task`] (or [`finish_task_in`], inside the handler's own transaction)
//!   records the end. [`Store::recover_expired_tasks`] re-queues tasks whose lease ran out
//!   (their worker died), or marks them `ERRORED` after `max_attempts`, or `KILLED` when a kill
//!   was requested.

use crate::{Page, PageRequest, Store, StoreError, StoreResult};
use chrono::{DateTime, Duration, Utc};
use iaso_db::{sql, Backend, Conn, Sql};
use iaso_domain::{AccountId, TaskId, UserId};
use serde_json::{json, Value};
use sqlx::types::Json;

/// The PostgreSQL channel workers `LISTEN` on.
pub const NOTIFY_CHANNEL: &str = "iaso_tasks";

/// Iaso's task statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskStatus {
    Queued,
    Running,
    Success,
    Errored,
    Killed,
    Skipped,
    Exported,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskStatus::Success,
        TaskStatus::Errored,
        TaskStatus::Killed,
        TaskStatus::Skipped,
        TaskStatus::Exported,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TaskStatus::Queued => "QUEUED",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Success => "SUCCESS",
            TaskStatus::Errored => "ERRORED",
            TaskStatus::Killed => "KILLED",
            TaskStatus::Skipped => "SKIPPED",
            TaskStatus::Exported => "EXPORTED",
        }
    }

    pub fn from_code(code: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// QUEUED and RUNNING tasks are "alive".
    pub fn is_alive(self) -> bool {
        matches!(self, TaskStatus::Queued | TaskStatus::Running)
    }
}

/// A user as shown inside a task (`created_by`, `launcher`).
#[derive(Debug, Clone, PartialEq)]
pub struct TaskUser {
    pub id: UserId,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
}

/// A task record as the API shows it (its params are never loaded here).
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: TaskId,
    pub account_id: AccountId,
    pub name: String,
    pub status: TaskStatus,
    pub result: Option<Value>,
    pub progress_value: i64,
    pub end_value: i64,
    pub progress_message: Option<String>,
    pub should_be_killed: bool,
    pub external: bool,
    pub created_by: Option<TaskUser>,
    pub launcher: Option<TaskUser>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    pub max_attempts: i64,
    pub worker_id: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// A task to put in the queue.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub account: AccountId,
    pub name: String,
    pub params: Value,
    /// The user who asked for it (also its first launcher).
    pub created_by: Option<UserId>,
    /// How many times a worker may start it (a worker that dies mid-task uses one attempt).
    pub max_attempts: i64,
    /// Not before this time (now when `None`).
    pub run_after: Option<DateTime<Utc>>,
}

impl NewTask {
    pub fn new(account: AccountId, name: impl Into<String>, params: Value) -> NewTask {
        NewTask {
            account,
            name: name.into(),
            params,
            created_by: None,
            max_attempts: 3,
            run_after: None,
        }
    }
}

/// Proof that a worker holds a task: every write of the worker is fenced by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub task_id: TaskId,
    pub worker_id: String,
    /// The attempt number this claim made (1 for the first run).
    pub attempt: i64,
}

/// A task a worker has just claimed.
#[derive(Debug, Clone)]
pub struct ClaimedTask {
    pub lease: Lease,
    pub account_id: AccountId,
    pub name: String,
    pub params: Value,
    pub created_by: Option<UserId>,
    pub launcher: Option<UserId>,
    pub max_attempts: i64,
    pub locked_until: DateTime<Utc>,
}

/// Progress fields to write; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProgressUpdate {
    pub progress_value: Option<i64>,
    pub end_value: Option<i64>,
    pub progress_message: Option<String>,
}

/// What a progress report learnt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressAnswer {
    /// Carry on.
    Continue,
    /// Someone asked to kill the task.
    KillRequested,
    /// The lease is gone (expired and taken by another worker): stop without writing.
    LeaseLost,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskEnd {
    pub status: TaskStatus,
    pub result: Value,
    /// Becomes `progress_message` and a log line when set.
    pub message: Option<String>,
    /// Final progress, if the handler did not report it.
    pub progress: Option<(i64, i64)>,
}

impl TaskEnd {
    pub fn success(message: impl Into<String>) -> TaskEnd {
        let message = message.into();
        TaskEnd {
            status: TaskStatus::Success,
            result: json!({"result": "SUCCESS", "message": message}),
            message: Some(message),
            progress: None,
        }
    }

    pub fn success_with_data(message: impl Into<String>, data: Value) -> TaskEnd {
        let message = message.into();
        TaskEnd {
            status: TaskStatus::Success,
            result: json!({"result": "SUCCESS", "message": message, "data": data}),
            message: Some(message),
            progress: None,
        }
    }

    pub fn errored(message: impl Into<String>, last_progress_message: Option<String>) -> TaskEnd {
        let message = message.into();
        TaskEnd {
            status: TaskStatus::Errored,
            result: json!({
                "result": "ERRORED",
                "message": message,
                "stack_trace": null,
                "last_progress_message": last_progress_message,
            }),
            message: Some(message),
            progress: None,
        }
    }

    pub fn killed() -> TaskEnd {
        TaskEnd {
            status: TaskStatus::Killed,
            result: killed_result(),
            message: Some("Killed".into()),
            progress: None,
        }
    }
}

fn killed_result() -> Value {
    json!({"result": "KILLED", "message": "Killed"})
}

/// List filters of `/api/tasks/`.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    /// Task name (`task_type`).
    pub name: Option<String>,
    /// Created or launched by one of these users.
    pub users: Vec<UserId>,
    pub statuses: Vec<TaskStatus>,
    /// Tasks with any of their timestamps on or after this instant.
    pub start: Option<DateTime<Utc>>,
    /// Tasks with any of their timestamps on or before this instant.
    pub end: Option<DateTime<Utc>>,
    /// Only tasks created by this user (callers without `iaso_data_tasks`).
    pub created_by: Option<UserId>,
    /// Iaso ordering keys (`-created_at`, `name`, ...); unknown keys are ignored.
    pub order: Vec<String>,
}

/// One line of a task's history.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskLogEntry {
    pub created_at: DateTime<Utc>,
    pub message: String,
}

/// What a sweep of expired leases did to one task.
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    pub task_id: TaskId,
    pub status: TaskStatus,
}

/// Queue totals across accounts (deployment status).
#[derive(Debug, Clone, PartialEq)]
pub struct AliveTask {
    pub id: TaskId,
    pub name: String,
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub launcher: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    account_id: i64,
    name: String,
    status: String,
    result: Option<Json<Value>>,
    progress_value: i64,
    end_value: i64,
    progress_message: Option<String>,
    should_be_killed: bool,
    external: bool,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    attempts: i64,
    max_attempts: i64,
    worker_id: Option<String>,
    locked_until: Option<DateTime<Utc>>,
    cb_id: Option<i64>,
    cb_username: Option<String>,
    cb_first_name: Option<String>,
    cb_last_name: Option<String>,
    la_id: Option<i64>,
    la_username: Option<String>,
    la_first_name: Option<String>,
    la_last_name: Option<String>,
}

const TASK_SELECT: &str = "SELECT t.id, t.account_id, t.name, t.status, t.result, t.progress_value,
    t.end_value, t.progress_message, t.should_be_killed, t.external, t.created_at, t.started_at,
    t.ended_at, t.attempts, t.max_attempts, t.worker_id, t.locked_until,
    cb.id AS cb_id, cb.username AS cb_username, cb.first_name AS cb_first_name,
    cb.last_name AS cb_last_name,
    la.id AS la_id, la.username AS la_username, la.first_name AS la_first_name,
    la.last_name AS la_last_name
    FROM tasks t
    LEFT JOIN users cb ON cb.id = t.created_by_id
    LEFT JOIN users la ON la.id = t.launcher_id";

fn task_user(
    id: Option<i64>,
    username: Option<String>,
    first: Option<String>,
    last: Option<String>,
) -> Option<TaskUser> {
    Some(TaskUser {
        id: UserId(id?),
        username: username.unwrap_or_default(),
        first_name: first.unwrap_or_default(),
        last_name: last.unwrap_or_default(),
    })
}

impl From<TaskRow> for Task {
    fn from(r: TaskRow) -> Self {
        Task {
            id: TaskId(r.id),
            account_id: AccountId(r.account_id),
            name: r.name,
            // The CHECK constraint keeps the column within the known codes.
            status: TaskStatus::from_code(&r.status).unwrap_or(TaskStatus::Errored),
            result: r.result.map(|j| j.0),
            progress_value: r.progress_value,
            end_value: r.end_value,
            progress_message: r.progress_message,
            should_be_killed: r.should_be_killed,
            external: r.external,
            created_by: task_user(r.cb_id, r.cb_username, r.cb_first_name, r.cb_last_name),
            launcher: task_user(r.la_id, r.la_username, r.la_first_name, r.la_last_name),
            created_at: r.created_at,
            started_at: r.started_at,
            ended_at: r.ended_at,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            worker_id: r.worker_id,
            locked_until: r.locked_until,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: i64,
    account_id: i64,
    name: String,
    params: Option<Json<Value>>,
    created_by_id: Option<i64>,
    launcher_id: Option<i64>,
    attempts: i64,
    max_attempts: i64,
}

fn push_filters(q: &mut Sql, backend: Backend, account: AccountId, f: &TaskFilter) {
    q.push(" WHERE t.account_id = ").bind(account.get());
    if let Some(name) = f.name.as_deref().filter(|n| !n.is_empty()) {
        q.push(" AND t.name = ").bind(name);
    }
    if !f.users.is_empty() {
        let ids: Vec<i64> = f.users.iter().map(|u| u.get()).collect();
        q.push(" AND (t.created_by_id IN (")
            .bind_list(ids.iter().copied())
            .push(") OR t.launcher_id IN (")
            .bind_list(ids)
            .push("))");
    }
    if !f.statuses.is_empty() {
        q.push(" AND t.status IN (")
            .bind_list(f.statuses.iter().map(|s| s.code()))
            .push(")");
    }
    if let Some(user) = f.created_by {
        q.push(" AND t.created_by_id = ").bind(user.get());
    }
    // "Any of the three timestamps in the interval", as Iaso compares the greatest (resp. least)
    // of them. Missing timestamps fall back to created_at. The function names differ.
    let (greatest, least) = match backend {
        Backend::Postgres => ("GREATEST", "LEAST"),
        Backend::Sqlite => ("MAX", "MIN"),
    };
    let three =
        "t.created_at, COALESCE(t.started_at, t.created_at), COALESCE(t.ended_at, t.created_at)";
    if let Some(start) = f.start {
        q.push(&format!(" AND {greatest}({three}) >= ")).bind(start);
    }
    if let Some(end) = f.end {
        q.push(&format!(" AND {least}({three}) <= ")).bind(end);
    }
}

fn order_clause(order: &[String]) -> String {
    let mut parts = Vec::new();
    for key in order.iter().flat_map(|o| o.split(',')) {
        let key = key.trim();
        let (desc, key) = key.strip_prefix('-').map_or((false, key), |k| (true, k));
        let column = match key {
            "name" => "t.name",
            "status" => "t.status",
            "created_by__username" => "cb.username",
            "created_at" => "t.created_at",
            "started_at" => "t.started_at",
            "ended_at" => "t.ended_at",
            "id" => "t.id",
            _ => continue,
        };
        parts.push(format!("{column} {}", if desc { "DESC" } else { "ASC" }));
    }
    if parts.is_empty() {
        parts.push("t.created_at DESC".into());
    }
    parts.push("t.id DESC".into());
    parts.join(", ")
}

/// Inserts a queued task inside the caller's transaction, so that a task and the business rows
/// it refers to (an uploaded file record, ...) appear together. On PostgreSQL the workers are
/// notified when that transaction commits.
pub async fn enqueue_task_in(c: &mut impl Conn, t: &NewTask) -> StoreResult<TaskId> {
    let now = iaso_db::now();
    let name = t.name.trim();
    if name.is_empty() {
        return Err(StoreError::invalid("name", "A task needs a name."));
    }
    let id: i64 = c
        .fetch_scalar(sql!(
            "INSERT INTO tasks (account_id, name, status, params, created_by_id, launcher_id,
                created_at, run_after, max_attempts)
             VALUES ($1, $2, 'QUEUED', $3, $4, $4, $5, $6, $7) RETURNING id",
            t.account.get(),
            name,
            t.params.clone(),
            t.created_by.map(|u| u.get()),
            now,
            t.run_after.unwrap_or(now),
            t.max_attempts.max(1)
        ))
        .await?;
    notify_workers(c).await?;
    Ok(TaskId(id))
}

/// Wakes PostgreSQL workers (delivered at commit). SQLite workers are woken in-process.
async fn notify_workers(c: &mut impl Conn) -> StoreResult<()> {
    match c.backend() {
        Backend::Postgres => {
            c.execute(sql!("SELECT pg_notify($1, '')", NOTIFY_CHANNEL))
                .await?;
        }
        Backend::Sqlite => {}
    }
    Ok(())
}

/// Appends a line to a task's history.
pub async fn add_task_log_in(c: &mut impl Conn, task: TaskId, message: &str) -> StoreResult<()> {
    if message.trim().is_empty() {
        return Ok(());
    }
    c.execute(sql!(
        "INSERT INTO task_logs (task_id, message, created_at) VALUES ($1, $2, $3)",
        task.get(),
        message,
        iaso_db::now()
    ))
    .await?;
    Ok(())
}

/// Records the end of a run, fenced by the lease; `false` when the lease was lost (nothing
/// written). Call it inside the handler's transaction to commit the work and the status
/// together.
pub async fn finish_task_in(c: &mut impl Conn, lease: &Lease, end: &TaskEnd) -> StoreResult<bool> {
    let (progress_value, end_value) = end.progress.unzip();
    let touched = c
        .execute(sql!(
            "UPDATE tasks SET status = $1, result = $2, progress_message = COALESCE($3, progress_message),
                ended_at = $4, locked_until = NULL,
                progress_value = COALESCE($5, progress_value), end_value = COALESCE($6, end_value)
             WHERE id = $7 AND worker_id = $8 AND attempts = $9 AND status = 'RUNNING'",
            end.status.code(),
            end.result.clone(),
            end.message.clone(),
            iaso_db::now(),
            progress_value,
            end_value,
            lease.task_id.get(),
            lease.worker_id.as_str(),
            lease.attempt
        ))
        .await?;
    if touched == 0 {
        return Ok(false);
    }
    if let Some(message) = &end.message {
        add_task_log_in(c, lease.task_id, message).await?;
    }
    Ok(true)
}

/// Renews a lease inside the caller's transaction (a task committing part of its work);
/// `false` when the lease was lost.
pub async fn renew_lease_in(
    c: &mut impl Conn,
    lease: &Lease,
    duration: Duration,
) -> StoreResult<bool> {
    let now = iaso_db::now();
    let touched = c
        .execute(sql!(
            "UPDATE tasks SET locked_until = $1, heartbeat_at = $2
             WHERE id = $3 AND worker_id = $4 AND attempts = $5 AND status = 'RUNNING'",
            now + duration,
            now,
            lease.task_id.get(),
            lease.worker_id.as_str(),
            lease.attempt
        ))
        .await?;
    Ok(touched > 0)
}

impl Store {
    /// Puts a task in the queue and returns it.
    pub async fn enqueue_task(&self, t: &NewTask) -> StoreResult<Task> {
        let mut tx = self.db.begin().await?;
        let id = enqueue_task_in(&mut tx, t).await?;
        tx.commit().await?;
        self.task(t.account, id).await
    }

    /// Tasks of `account`, filtered, ordered and paged.
    pub async fn list_tasks(
        &self,
        account: AccountId,
        filter: &TaskFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Task>> {
        let mut db = self.db.clone();
        let backend = db.backend();
        let mut count = Sql::new("SELECT COUNT(*) FROM tasks t");
        push_filters(&mut count, backend, account, filter);
        let count: i64 = db.fetch_scalar(count).await?;
        let mut q = Sql::new(TASK_SELECT);
        push_filters(&mut q, backend, account, filter);
        q.push(" ORDER BY ").push(&order_clause(&filter.order));
        page.push_to(&mut q);
        let rows: Vec<TaskRow> = db.fetch_all(q).await?;
        Ok(Page {
            items: rows.into_iter().map(Task::from).collect(),
            count,
        })
    }

    /// A task of `account`.
    pub async fn task(&self, account: AccountId, id: TaskId) -> StoreResult<Task> {
        let mut db = self.db.clone();
        let mut q = Sql::new(TASK_SELECT);
        q.push(" WHERE t.account_id = ")
            .bind(account.get())
            .push(" AND t.id = ")
            .bind(id.get());
        let row: TaskRow = db.fetch_one(q).await?;
        Ok(row.into())
    }

    /// A task by id whatever its account (workers, CLI).
    pub async fn task_any_account(&self, id: TaskId) -> StoreResult<Task> {
        let mut db = self.db.clone();
        let mut q = Sql::new(TASK_SELECT);
        q.push(" WHERE t.id = ").bind(id.get());
        let row: TaskRow = db.fetch_one(q).await?;
        Ok(row.into())
    }

    /// The parameters a task was queued with.
    pub async fn task_params(&self, account: AccountId, id: TaskId) -> StoreResult<Value> {
        let mut db = self.db.clone();
        let row: (Option<Json<Value>>,) = db
            .fetch_one(sql!(
                "SELECT params FROM tasks WHERE id = $1 AND account_id = $2",
                id.get(),
                account.get()
            ))
            .await?;
        Ok(row.0.map_or(Value::Null, |j| j.0))
    }

    /// Distinct task names of `account`.
    pub async fn task_types(&self, account: AccountId) -> StoreResult<Vec<String>> {
        let mut db = self.db.clone();
        let rows: Vec<(String,)> = db
            .fetch_all(sql!(
                "SELECT DISTINCT name FROM tasks WHERE account_id = $1 ORDER BY name",
                account.get()
            ))
            .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// The history of a task of `account`, oldest first unless `newest_first`.
    pub async fn task_logs(
        &self,
        account: AccountId,
        id: TaskId,
        newest_first: bool,
    ) -> StoreResult<Vec<TaskLogEntry>> {
        let mut db = self.db.clone();
        let direction = if newest_first { "DESC" } else { "ASC" };
        let rows: Vec<(DateTime<Utc>, String)> = db
            .fetch_all(sql!(
                &format!(
                    "SELECT l.created_at, l.message FROM task_logs l JOIN tasks t ON t.id = l.task_id
                     WHERE t.id = $1 AND t.account_id = $2
                     ORDER BY l.created_at {direction}, l.id {direction}"
                ),
                id.get(),
                account.get()
            ))
            .await?;
        Ok(rows
            .into_iter()
            .map(|(created_at, message)| TaskLogEntry {
                created_at,
                message,
            })
            .collect())
    }

    /// Appends a line to a task's history.
    pub async fn add_task_log(&self, id: TaskId, message: &str) -> StoreResult<()> {
        let mut db = self.db.clone();
        add_task_log_in(&mut db, id, message).await
    }

    /// Asks for a task to stop. A queued task is killed at once; a running one stops at its
    /// next checkpoint; a finished one keeps its status (the flag is recorded, as Iaso does).
    pub async fn request_task_kill(&self, account: AccountId, id: TaskId) -> StoreResult<Task> {
        let mut tx = self.db.begin().await?;
        let touched = tx
            .execute(sql!(
                "UPDATE tasks SET should_be_killed = TRUE WHERE id = $1 AND account_id = $2",
                id.get(),
                account.get()
            ))
            .await?;
        if touched == 0 {
            return Err(StoreError::NotFound);
        }
        let killed = tx
            .execute(sql!(
                "UPDATE tasks SET status = 'KILLED', ended_at = $1, result = $2, progress_message = 'Killed'
                 WHERE id = $3 AND status = 'QUEUED'",
                iaso_db::now(),
                killed_result(),
                id.get()
            ))
            .await?;
        if killed > 0 {
            add_task_log_in(&mut tx, id, "Killed before it started").await?;
        }
        tx.commit().await?;
        self.task(account, id).await
    }

    /// Queues an ERRORED task again with `launcher` as its new launcher (Iaso's relaunch).
    pub async fn relaunch_task(
        &self,
        account: AccountId,
        id: TaskId,
        launcher: UserId,
    ) -> StoreResult<Task> {
        let mut tx = self.db.begin().await?;
        let status: Option<(String,)> = tx
            .fetch_optional(sql!(
                "SELECT status FROM tasks WHERE id = $1 AND account_id = $2",
                id.get(),
                account.get()
            ))
            .await?;
        let Some((status,)) = status else {
            return Err(StoreError::NotFound);
        };
        if status != TaskStatus::Errored.code() {
            return Err(StoreError::invalid(
                "status",
                format!("You cannot relaunch a task with status {status}."),
            ));
        }
        let now = iaso_db::now();
        tx.execute(sql!(
            "UPDATE tasks SET status = 'QUEUED', launcher_id = $1, run_after = $2, attempts = 0,
                worker_id = NULL, locked_until = NULL, should_be_killed = FALSE, result = NULL,
                started_at = NULL, ended_at = NULL, progress_value = 0
             WHERE id = $3",
            launcher.get(),
            now,
            id.get()
        ))
        .await?;
        add_task_log_in(&mut tx, id, "Relaunched").await?;
        notify_workers(&mut tx).await?;
        tx.commit().await?;
        self.task(account, id).await
    }

    /// Claims the oldest claimable task among `names` for `worker_id`, with a lease of `lease`.
    pub async fn claim_task(
        &self,
        worker_id: &str,
        names: &[&str],
        lease: Duration,
    ) -> StoreResult<Option<ClaimedTask>> {
        if names.is_empty() {
            return Ok(None);
        }
        let now = iaso_db::now();
        let locked_until = now + lease;
        let mut q = Sql::new("UPDATE tasks SET status = 'RUNNING', worker_id = ");
        q.bind(worker_id)
            .push(", attempts = attempts + 1, locked_until = ")
            .bind(locked_until)
            .push(", heartbeat_at = ")
            .bind(now)
            .push(", started_at = ")
            .bind(now)
            .push(", ended_at = NULL, launcher_id = COALESCE(launcher_id, created_by_id)")
            .push(" WHERE id = (SELECT id FROM tasks WHERE status = 'QUEUED' AND run_after <= ")
            .bind(now)
            .push(" AND name IN (")
            .bind_list(names.iter().copied())
            .push(") ORDER BY run_after, id LIMIT 1");
        // The one backend-specific part of the queue: PostgreSQL locks the chosen row and lets
        // concurrent claimers skip it; SQLite's single writer makes this statement atomic.
        match self.db.backend() {
            Backend::Postgres => q.push(" FOR UPDATE SKIP LOCKED)"),
            Backend::Sqlite => q.push(")"),
        };
        q.push(
            " RETURNING id, account_id, name, params, created_by_id, launcher_id, attempts, max_attempts",
        );
        let mut db = self.db.clone();
        let row: Option<ClaimRow> = db.fetch_optional(q).await?;
        Ok(row.map(|r| ClaimedTask {
            lease: Lease {
                task_id: TaskId(r.id),
                worker_id: worker_id.to_string(),
                attempt: r.attempts,
            },
            account_id: AccountId(r.account_id),
            name: r.name,
            params: r.params.map_or(Value::Null, |j| j.0),
            created_by: r.created_by_id.map(UserId),
            launcher: r.launcher_id.map(UserId),
            max_attempts: r.max_attempts,
            locked_until,
        }))
    }

    /// Renews a lease; `false` when it was lost.
    pub async fn heartbeat_task(&self, lease: &Lease, duration: Duration) -> StoreResult<bool> {
        let now = iaso_db::now();
        let mut db = self.db.clone();
        let touched = db
            .execute(sql!(
                "UPDATE tasks SET locked_until = $1, heartbeat_at = $2
                 WHERE id = $3 AND worker_id = $4 AND attempts = $5 AND status = 'RUNNING'",
                now + duration,
                now,
                lease.task_id.get(),
                lease.worker_id.as_str(),
                lease.attempt
            ))
            .await?;
        Ok(touched > 0)
    }

    /// Writes progress, renews the lease and reads the kill flag in one statement.
    pub async fn report_task_progress(
        &self,
        lease: &Lease,
        update: &ProgressUpdate,
        duration: Duration,
    ) -> StoreResult<ProgressAnswer> {
        let now = iaso_db::now();
        let mut tx = self.db.begin().await?;
        let row: Option<(bool,)> = tx
            .fetch_optional(sql!(
                "UPDATE tasks SET progress_value = COALESCE($1, progress_value),
                    end_value = COALESCE($2, end_value),
                    progress_message = COALESCE($3, progress_message),
                    locked_until = $4, heartbeat_at = $5
                 WHERE id = $6 AND worker_id = $7 AND attempts = $8 AND status = 'RUNNING'
                 RETURNING should_be_killed",
                update.progress_value,
                update.end_value,
                update.progress_message.clone(),
                now + duration,
                now,
                lease.task_id.get(),
                lease.worker_id.as_str(),
                lease.attempt
            ))
            .await?;
        let answer = match row {
            None => ProgressAnswer::LeaseLost,
            Some((true,)) => ProgressAnswer::KillRequested,
            Some((false,)) => {
                if let Some(message) = &update.progress_message {
                    add_task_log_in(&mut tx, lease.task_id, message).await?;
                }
                ProgressAnswer::Continue
            }
        };
        tx.commit().await?;
        Ok(answer)
    }

    /// Reads (without writing) whether a kill was requested and whether the lease still holds.
    /// Used while the handler's own transaction holds SQLite's write lock.
    pub async fn task_kill_requested(&self, lease: &Lease) -> StoreResult<ProgressAnswer> {
        let mut db = self.db.clone();
        let row: Option<(bool, Option<String>, i64, String)> = db
            .fetch_optional(sql!(
                "SELECT should_be_killed, worker_id, attempts, status FROM tasks WHERE id = $1",
                lease.task_id.get()
            ))
            .await?;
        Ok(match row {
            Some((killed, worker, attempts, status))
                if worker.as_deref() == Some(lease.worker_id.as_str())
                    && attempts == lease.attempt
                    && status == "RUNNING" =>
            {
                if killed {
                    ProgressAnswer::KillRequested
                } else {
                    ProgressAnswer::Continue
                }
            }
            _ => ProgressAnswer::LeaseLost,
        })
    }

    /// Records the end of a run in its own transaction (see [`finish_task_in`]).
    pub async fn finish_task(&self, lease: &Lease, end: &TaskEnd) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let done = finish_task_in(&mut tx, lease, end).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Gives a task back to the queue without counting the attempt (graceful shutdown).
    pub async fn release_task(&self, lease: &Lease, reason: &str) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let touched = tx
            .execute(sql!(
                "UPDATE tasks SET status = 'QUEUED', worker_id = NULL, locked_until = NULL,
                    attempts = attempts - 1, run_after = $1
                 WHERE id = $2 AND worker_id = $3 AND attempts = $4 AND status = 'RUNNING'",
                iaso_db::now(),
                lease.task_id.get(),
                lease.worker_id.as_str(),
                lease.attempt
            ))
            .await?;
        if touched > 0 {
            add_task_log_in(&mut tx, lease.task_id, reason).await?;
            notify_workers(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(touched > 0)
    }

    /// Deals with RUNNING tasks whose lease ran out before `now` (their worker died or hung):
    /// KILLED when a kill was requested, ERRORED when they used all their attempts, otherwise
    /// QUEUED again after `retry_delay` × attempts.
    pub async fn recover_expired_tasks(
        &self,
        now: DateTime<Utc>,
        retry_delay: Duration,
    ) -> StoreResult<Vec<Recovered>> {
        // A cheap read first: on SQLite it does not take the write lock.
        let mut db = self.db.clone();
        let any: i64 = db
            .fetch_scalar(sql!(
                "SELECT COUNT(*) FROM tasks WHERE status = 'RUNNING' AND locked_until < $1",
                now
            ))
            .await?;
        if any == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.db.begin().await?;
        let mut q = Sql::new(
            "SELECT id, should_be_killed, attempts, max_attempts, progress_message FROM tasks
             WHERE status = 'RUNNING' AND locked_until < ",
        );
        q.bind(now).push(" ORDER BY id");
        match tx.backend() {
            // Two sweepers never handle the same row; the second skips it.
            Backend::Postgres => q.push(" FOR UPDATE SKIP LOCKED"),
            Backend::Sqlite => q.push(""),
        };
        let rows: Vec<(i64, bool, i64, i64, Option<String>)> = tx.fetch_all(q).await?;
        let mut out = Vec::new();
        for (id, kill, attempts, max_attempts, last_message) in rows {
            let (status, message) = if kill {
                (
                    TaskStatus::Killed,
                    "Killed (its worker stopped before it could stop the task)".to_string(),
                )
            } else if attempts >= max_attempts {
                (
                    TaskStatus::Errored,
                    format!(
                        "The worker running this task stopped responding ({attempts} of {max_attempts} attempts used)."
                    ),
                )
            } else {
                (
                    TaskStatus::Queued,
                    format!(
                        "The worker running this task stopped responding; it will be retried (attempt {} of {max_attempts}).",
                        attempts + 1
                    ),
                )
            };
            let touched = match status {
                TaskStatus::Queued => {
                    let delay = retry_delay * i32::try_from(attempts.max(1)).unwrap_or(i32::MAX);
                    tx.execute(sql!(
                        "UPDATE tasks SET status = 'QUEUED', worker_id = NULL, locked_until = NULL,
                            run_after = $1, progress_message = $2
                         WHERE id = $3 AND status = 'RUNNING' AND locked_until < $4",
                        now + delay,
                        message.as_str(),
                        id,
                        now
                    ))
                    .await?
                }
                _ => {
                    let result = if status == TaskStatus::Killed {
                        killed_result()
                    } else {
                        TaskEnd::errored(message.clone(), last_message).result
                    };
                    tx.execute(sql!(
                        "UPDATE tasks SET status = $1, worker_id = NULL, locked_until = NULL,
                            ended_at = $2, result = $3, progress_message = $4
                         WHERE id = $5 AND status = 'RUNNING' AND locked_until < $6",
                        status.code(),
                        now,
                        result,
                        message.as_str(),
                        id,
                        now
                    ))
                    .await?
                }
            };
            if touched > 0 {
                add_task_log_in(&mut tx, TaskId(id), &message).await?;
                out.push(Recovered {
                    task_id: TaskId(id),
                    status,
                });
            }
        }
        if out.iter().any(|r| r.status == TaskStatus::Queued) {
            notify_workers(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// QUEUED and RUNNING tasks of every account (deployment status).
    pub async fn alive_tasks(&self) -> StoreResult<Vec<AliveTask>> {
        #[derive(sqlx::FromRow)]
        struct AliveRow {
            id: i64,
            name: String,
            status: String,
            created_at: DateTime<Utc>,
            started_at: Option<DateTime<Utc>>,
            launcher: Option<String>,
        }
        let mut db = self.db.clone();
        let rows: Vec<AliveRow> = db
            .fetch_all(Sql::new(
                "SELECT t.id, t.name, t.status, t.created_at, t.started_at, u.username AS launcher
                 FROM tasks t LEFT JOIN users u ON u.id = t.launcher_id
                 WHERE t.status IN ('QUEUED', 'RUNNING') ORDER BY t.created_at DESC, t.id DESC",
            ))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| AliveTask {
                id: TaskId(r.id),
                name: r.name,
                status: TaskStatus::from_code(&r.status).unwrap_or(TaskStatus::Queued),
                created_at: r.created_at,
                started_at: r.started_at,
                launcher: r.launcher,
            })
            .collect())
    }
}
