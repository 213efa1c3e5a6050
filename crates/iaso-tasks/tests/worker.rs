//! Workers on both backends: results, kill with rollback, errors and panics, dead workers,
//! several workers, wake-ups, shutdown.
#![allow(clippy::unwrap_used)]

use iaso_db::{backend_test, sql, Conn, Db, DbOptions};
use iaso_domain::{AccountId, Module, TaskId, UserId};
use iaso_store::migrations::MIGRATIONS;
use iaso_store::setup::NewAccount;
use iaso_store::tasks::{NewTask, Task, TaskStatus};
use iaso_store::users::NewUser;
use iaso_store::Store;
use iaso_tasks::{
    FileStore, Registry, TaskContext, TaskError, TaskHandler, TaskOutcome, TaskQueue, Worker,
    WorkerConfig,
};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Writes one user role per step inside the task's transaction, reporting progress; the
/// params say how many steps, how long each takes and how to end.
struct Steps;

#[derive(Deserialize)]
struct StepParams {
    steps: i64,
    #[serde(default)]
    step_ms: u64,
    #[serde(default)]
    end: String,
}

#[async_trait::async_trait]
impl TaskHandler for Steps {
    fn name(&self) -> &'static str {
        "steps"
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        let p: StepParams = ctx.params()?;
        let mut tx = ctx.begin().await?;
        for i in 0..p.steps {
            ctx.progress(i, p.steps, format!("step {i}")).await?;
            tx.execute(sql!(
                "INSERT INTO user_roles (account_id, name, name_key, created_at, updated_at)
                 VALUES ($1, $2, $2, $3, $3)",
                ctx.account_id().get(),
                format!("role-{}-{i}", ctx.task_id()),
                iaso_db::now()
            ))
            .await?;
            tokio::time::sleep(Duration::from_millis(p.step_ms)).await;
        }
        match p.end.as_str() {
            "fail" => Err(TaskError::fail("The input is wrong at step 3.")),
            "panic" => panic!("boom"),
            "file" => {
                let key = ctx.result_key("out.txt");
                ctx.files().put(&key, "done").await?;
                Ok(TaskOutcome::file("wrote a file", key))
            }
            _ => Ok(TaskOutcome::message(format!("{} steps", p.steps))),
        }
    }
}

/// Counts how many times each task ran.
#[derive(Clone, Default)]
struct Counter(Arc<Mutex<HashMap<TaskId, usize>>>);

#[async_trait::async_trait]
impl TaskHandler for Counter {
    fn name(&self) -> &'static str {
        "count"
    }

    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        *self.0.lock().unwrap().entry(ctx.task_id()).or_default() += 1;
        ctx.progress(1, 1, "").await?;
        Ok(TaskOutcome::message("counted"))
    }
}

fn fast() -> WorkerConfig {
    WorkerConfig {
        concurrency: 2,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_secs(3600),
        progress_interval: Duration::ZERO,
        sweep_interval: Duration::from_millis(50),
        retry_delay: Duration::ZERO,
        shutdown_grace: Duration::from_secs(10),
        name: "test".into(),
    }
}

struct Env {
    store: Store,
    queue: TaskQueue,
    files: FileStore,
    account: AccountId,
    user: UserId,
    _dir: tempfile::TempDir,
}

async fn env(db: Db) -> Env {
    let store = Store::new(db);
    let setup = store
        .setup_account(&NewAccount {
            account_name: "A".into(),
            user: NewUser {
                username: "a_admin".into(),
                password_hash: "h".into(),
                ..Default::default()
            },
            modules: vec![Module::Default],
            language: None,
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    Env {
        queue: TaskQueue::new(store.clone(), Registry::new()),
        files: FileStore::local(dir.path()).unwrap(),
        store,
        account: setup.account.id,
        user: setup.user.id,
        _dir: dir,
    }
}

impl Env {
    fn worker(&self, registry: Registry, config: WorkerConfig) -> Worker {
        Worker::new(self.queue.clone(), self.files.clone(), registry, config)
    }

    async fn enqueue(&self, name: &str, params: serde_json::Value) -> Task {
        self.queue
            .enqueue(&NewTask {
                created_by: Some(self.user),
                ..NewTask::new(self.account, name, params)
            })
            .await
            .unwrap()
    }

    async fn wait_for(&self, id: TaskId, done: impl Fn(&Task) -> bool) -> Task {
        for _ in 0..600 {
            let t = self.store.task(self.account, id).await.unwrap();
            if done(&t) {
                return t;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("task {id} never reached the expected state");
    }

    async fn roles_of(&self, id: TaskId) -> i64 {
        let mut db = self.store.db().clone();
        db.fetch_scalar(sql!(
            "SELECT COUNT(*) FROM user_roles WHERE name LIKE $1",
            format!("role-{id}-%")
        ))
        .await
        .unwrap()
    }
}

fn ended(t: &Task) -> bool {
    !t.status.is_alive()
}

backend_test!(
    MIGRATIONS,
    success_commits_work_with_status,
    |db: Db| async move {
        let e = env(db).await;
        let worker = e.worker(Registry::new().with(Steps), fast()).spawn();
        let t = e.enqueue("steps", json!({"steps": 5})).await;
        let done = e.wait_for(t.id, ended).await;
        assert_eq!(done.status, TaskStatus::Success, "{:?}", done.result);
        assert_eq!(
            done.result,
            Some(json!({"result": "SUCCESS", "message": "5 steps"}))
        );
        assert_eq!((done.progress_value, done.end_value), (4, 5));
        assert_eq!(done.attempts, 1);
        assert_eq!(e.roles_of(t.id).await, 5);
        let logs = e.store.task_logs(e.account, t.id, false).await.unwrap();
        assert!(logs.iter().any(|l| l.message == "step 0"), "{logs:?}");
        assert_eq!(logs.last().unwrap().message, "5 steps");

        let f = e.enqueue("steps", json!({"steps": 1, "end": "file"})).await;
        let done = e.wait_for(f.id, ended).await;
        let key = iaso_tasks::result_file_key(done.result.as_ref())
            .unwrap()
            .to_string();
        assert_eq!(key, format!("tasks/{}/{}/out.txt", e.account, f.id));
        assert_eq!(&e.files.get_bytes(&key).await.unwrap()[..], b"done");

        // Bad params: ERRORED with a message for a person.
        let bad = e.enqueue("steps", json!({"steps": "many"})).await;
        let done = e.wait_for(bad.id, ended).await;
        assert_eq!(done.status, TaskStatus::Errored);
        assert!(done
            .progress_message
            .unwrap()
            .starts_with("Invalid task parameters"));
        worker.shutdown().await;
    }
);

backend_test!(
    MIGRATIONS,
    errors_and_panics_roll_back,
    |db: Db| async move {
        let e = env(db).await;
        let worker = e.worker(Registry::new().with(Steps), fast()).spawn();
        let failing = e.enqueue("steps", json!({"steps": 3, "end": "fail"})).await;
        let panicking = e
            .enqueue("steps", json!({"steps": 3, "end": "panic"}))
            .await;
        let f = e.wait_for(failing.id, ended).await;
        assert_eq!(f.status, TaskStatus::Errored);
        assert_eq!(
            f.result.as_ref().unwrap()["message"],
            "The input is wrong at step 3."
        );
        assert_eq!(
            f.result.as_ref().unwrap()["last_progress_message"],
            "step 2"
        );
        assert_eq!(
            e.roles_of(failing.id).await,
            0,
            "work of a failed task is rolled back"
        );
        let p = e.wait_for(panicking.id, ended).await;
        assert_eq!(p.status, TaskStatus::Errored);
        assert!(p.progress_message.unwrap().contains("internal error"));
        assert_eq!(e.roles_of(panicking.id).await, 0);
        // The worker survives panics.
        let ok = e.enqueue("steps", json!({"steps": 1})).await;
        assert_eq!(e.wait_for(ok.id, ended).await.status, TaskStatus::Success);
        worker.shutdown().await;
    }
);

backend_test!(
    MIGRATIONS,
    kill_stops_at_next_checkpoint_and_rolls_back,
    |db: Db| async move {
        let e = env(db).await;
        let worker = e.worker(Registry::new().with(Steps), fast()).spawn();
        let t = e
            .enqueue("steps", json!({"steps": 10_000, "step_ms": 5}))
            .await;
        // Running, with progress visible while its transaction is open.
        e.wait_for(t.id, |t| t.status == TaskStatus::Running).await;
        let mut seen = None;
        for _ in 0..200 {
            let live = e
                .queue
                .overlay(e.store.task(e.account, t.id).await.unwrap());
            if live.progress_value > 3 {
                seen = Some(live);
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let seen = seen.expect("progress visible while running");
        assert_eq!(seen.end_value, 10_000);
        assert!(seen.progress_message.unwrap().starts_with("step "));

        let flagged = e.queue.request_kill(e.account, t.id).await.unwrap();
        assert!(flagged.should_be_killed);
        let killed = e.wait_for(t.id, ended).await;
        assert_eq!(killed.status, TaskStatus::Killed);
        assert_eq!(
            killed.result,
            Some(json!({"result": "KILLED", "message": "Killed"}))
        );
        assert!(killed.progress_value > 0);
        assert_eq!(
            e.roles_of(t.id).await,
            0,
            "a killed task's work is rolled back"
        );
        worker.shutdown().await;
    }
);

backend_test!(MIGRATIONS, kill_from_another_process, |db: Db| async move {
    // The kill flag reaches a worker that shares no memory with the API (PostgreSQL: through
    // the database; SQLite: the reader sees the flag once the writer can write it).
    let e = env(db.clone()).await;
    let other = Store::new(db.connect_again(&DbOptions::default()).await.unwrap());
    // On SQLite no notification crosses processes: the worker polls.
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(100),
        ..fast()
    };
    let worker = Worker::new(
        TaskQueue::new(other.clone(), Registry::new()),
        e.files.clone(),
        Registry::new().with(Steps),
        config,
    )
    .spawn();
    let t = e.enqueue("steps", json!({"steps": 3, "step_ms": 1})).await;
    let slow = e
        .enqueue("steps", json!({"steps": 100_000, "step_ms": 2}))
        .await;
    e.wait_for(t.id, ended).await;
    if e.store.backend() == iaso_db::Backend::Postgres {
        e.wait_for(slow.id, |t| {
            t.status == TaskStatus::Running && t.progress_value > 2
        })
        .await;
        e.store.request_task_kill(e.account, slow.id).await.unwrap();
        let killed = e.wait_for(slow.id, ended).await;
        assert_eq!(killed.status, TaskStatus::Killed);
        assert_eq!(e.roles_of(slow.id).await, 0);
    }
    worker.shutdown().await;
    other.db().close().await;
});

backend_test!(
    MIGRATIONS,
    dead_worker_task_is_retried,
    |db: Db| async move {
        let e = env(db).await;
        let t = e.enqueue("steps", json!({"steps": 2})).await;
        // A worker claims the task with a short lease and dies (never heartbeats).
        let claim = e
            .store
            .claim_task(
                "dead-worker",
                &["steps"],
                chrono::Duration::milliseconds(100),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claim.lease.task_id, t.id);
        let worker = e.worker(Registry::new().with(Steps), fast()).spawn();
        let done = e.wait_for(t.id, ended).await;
        assert_eq!(done.status, TaskStatus::Success);
        assert_eq!(done.attempts, 2);
        assert_eq!(e.roles_of(t.id).await, 2);
        let logs = e.store.task_logs(e.account, t.id, false).await.unwrap();
        assert!(
            logs.iter()
                .any(|l| l.message.contains("stopped responding")),
            "{logs:?}"
        );
        worker.shutdown().await;
    }
);

backend_test!(
    MIGRATIONS,
    heartbeat_keeps_long_tasks,
    |db: Db| async move {
        // Lease shorter than the task: the heartbeat (or, on SQLite, the write lock the task's
        // transaction holds) keeps other sweepers from taking it over.
        let e = env(db).await;
        let config = WorkerConfig {
            lease: Duration::from_millis(300),
            ..fast()
        };
        let worker = e.worker(Registry::new().with(Steps), config).spawn();
        let t = e
            .enqueue("steps", json!({"steps": 20, "step_ms": 50}))
            .await;
        let done = e.wait_for(t.id, ended).await;
        assert_eq!(done.status, TaskStatus::Success, "{:?}", done.result);
        assert_eq!(done.attempts, 1);
        worker.shutdown().await;
    }
);

backend_test!(
    MIGRATIONS,
    several_workers_never_run_a_task_twice,
    |db: Db| async move {
        let e = env(db.clone()).await;
        let counter = Counter::default();
        let mut handles = Vec::new();
        let mut stores = Vec::new();
        for p in 0..3 {
            let store = if p == 0 {
                e.store.clone()
            } else {
                let s = Store::new(db.connect_again(&DbOptions::default()).await.unwrap());
                stores.push(s.clone());
                s
            };
            let queue = if p == 0 {
                e.queue.clone()
            } else {
                TaskQueue::new(store, Registry::new())
            };
            let config = WorkerConfig {
                concurrency: 3,
                poll_interval: Duration::from_millis(50),
                name: format!("proc{p}"),
                ..fast()
            };
            handles.push(
                Worker::new(
                    queue,
                    e.files.clone(),
                    Registry::new().with(counter.clone()),
                    config,
                )
                .spawn(),
            );
        }
        let mut ids = Vec::new();
        for _ in 0..60 {
            ids.push(e.enqueue("count", json!({})).await.id);
        }
        for id in &ids {
            assert_eq!(e.wait_for(*id, ended).await.status, TaskStatus::Success);
        }
        let counts = counter.0.lock().unwrap().clone();
        assert_eq!(counts.len(), 60);
        assert!(counts.values().all(|n| *n == 1), "{counts:?}");
        for h in handles {
            h.shutdown().await;
        }
        for s in stores {
            s.db().close().await;
        }
    }
);

backend_test!(MIGRATIONS, wake_up_without_polling, |db: Db| async move {
    // Poll interval of an hour: only a wake-up can start the task quickly.
    let e = env(db.clone()).await;
    let worker = e.worker(Registry::new().with(Steps), fast()).spawn();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = e.enqueue("steps", json!({"steps": 1})).await;
    e.wait_for(t.id, ended).await;
    worker.shutdown().await;

    if e.store.backend() == iaso_db::Backend::Postgres {
        // Another process queues the task: LISTEN/NOTIFY wakes this worker.
        let other = Store::new(db.connect_again(&DbOptions::default()).await.unwrap());
        let remote = Worker::new(
            TaskQueue::new(other.clone(), Registry::new()),
            e.files.clone(),
            Registry::new().with(Steps),
            fast(),
        )
        .spawn();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = e.enqueue("steps", json!({"steps": 1})).await;
        let started = std::time::Instant::now();
        e.wait_for(t.id, ended).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        remote.shutdown().await;
        other.db().close().await;
    }
});

backend_test!(
    MIGRATIONS,
    shutdown_interrupts_and_requeues,
    |db: Db| async move {
        let e = env(db).await;
        let config = WorkerConfig {
            shutdown_grace: Duration::from_millis(100),
            ..fast()
        };
        let worker = e.worker(Registry::new().with(Steps), config).spawn();
        let t = e
            .enqueue("steps", json!({"steps": 100_000, "step_ms": 2}))
            .await;
        e.wait_for(t.id, |t| t.status == TaskStatus::Running).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        worker.shutdown().await;
        let back = e.store.task(e.account, t.id).await.unwrap();
        assert_eq!(back.status, TaskStatus::Queued);
        assert_eq!(back.attempts, 0);
        assert_eq!(e.roles_of(t.id).await, 0);
    }
);
