//! Queue throughput: tasks claimed, run (a no-op handler) and completed per second, with 1 and
//! 4 concurrent worker slots, on SQLite and (when TEST_DATABASE_URL is set) PostgreSQL.
//!
//! `cargo bench -p iaso-tasks --bench queue_throughput` (TASKS=2000 by default).

use iaso_db::{Backend, Db};
use iaso_domain::Module;
use iaso_store::migrations::MIGRATIONS;
use iaso_store::setup::NewAccount;
use iaso_store::tasks::{NewTask, TaskFilter, TaskStatus};
use iaso_store::users::NewUser;
use iaso_store::{PageRequest, Store};
use iaso_tasks::{
    FileStore, Registry, TaskContext, TaskError, TaskHandler, TaskOutcome, TaskQueue, Worker,
    WorkerConfig,
};
use std::time::{Duration, Instant};

struct Noop;

#[async_trait::async_trait]
impl TaskHandler for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }
    async fn run(&self, ctx: &TaskContext) -> Result<TaskOutcome, TaskError> {
        ctx.progress(1, 1, "").await?;
        Ok(TaskOutcome::message("ok"))
    }
}

async fn measure(db: Db, slots: usize, tasks: usize) -> f64 {
    let store = Store::new(db);
    let setup = store
        .setup_account(&NewAccount {
            account_name: format!("bench{slots}"),
            user: NewUser {
                username: format!("bench{slots}"),
                password_hash: "h".into(),
                ..Default::default()
            },
            modules: vec![Module::Default],
            language: None,
        })
        .await
        .expect("account");
    let account = setup.account.id;
    for _ in 0..tasks {
        store
            .enqueue_task(&NewTask::new(account, "noop", serde_json::json!({})))
            .await
            .expect("enqueue");
    }
    let dir = tempfile::tempdir().expect("dir");
    let queue = TaskQueue::new(store.clone(), Registry::new().with(Noop));
    let config = WorkerConfig {
        concurrency: slots,
        progress_interval: Duration::from_millis(500),
        poll_interval: Duration::from_millis(50),
        ..WorkerConfig::default()
    };
    let started = Instant::now();
    let worker = Worker::new(
        queue,
        FileStore::local(dir.path()).expect("files"),
        Registry::new().with(Noop),
        config,
    )
    .spawn();
    let filter = TaskFilter {
        statuses: vec![TaskStatus::Success],
        ..Default::default()
    };
    loop {
        let done = store
            .list_tasks(account, &filter, PageRequest::new(1, 1))
            .await
            .expect("count")
            .count;
        if done as usize >= tasks {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let elapsed = started.elapsed();
    worker.shutdown().await;
    tasks as f64 / elapsed.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let tasks: usize = std::env::var("TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    for backend in [Backend::Sqlite, Backend::Postgres] {
        for slots in [1, 4] {
            let Some(test_db) = iaso_db::testing::fresh(backend, MIGRATIONS).await else {
                continue;
            };
            let rate = measure(test_db.db.clone(), slots, tasks).await;
            println!(
                "{:<10} {slots} worker slot(s): {rate:>8.0} tasks/s ({tasks} tasks claimed, run, completed)",
                backend.name()
            );
            test_db.cleanup().await;
        }
    }
}
