//! Task records and the durable queue on both backends.
#![allow(clippy::unwrap_used)]

use chrono::Duration;
use iaso_db::{backend_test, Db, DbOptions};
use iaso_domain::{AccountId, Module, UserId};
use iaso_store::migrations::MIGRATIONS;
use iaso_store::setup::NewAccount;
use iaso_store::tasks::{
    finish_task_in, NewTask, ProgressAnswer, ProgressUpdate, TaskEnd, TaskFilter, TaskStatus,
};
use iaso_store::users::NewUser;
use iaso_store::{PageRequest, Store, StoreError};
use serde_json::json;
use std::collections::HashSet;

async fn account(store: &Store, name: &str) -> (AccountId, UserId) {
    let setup = store
        .setup_account(&NewAccount {
            account_name: name.into(),
            user: NewUser {
                username: format!("{name}_admin"),
                password_hash: "h".into(),
                ..Default::default()
            },
            modules: vec![Module::Default],
            language: None,
        })
        .await
        .unwrap();
    (setup.account.id, setup.user.id)
}

fn task(account: AccountId, user: UserId, name: &str) -> NewTask {
    NewTask {
        created_by: Some(user),
        ..NewTask::new(account, name, json!({"n": 1}))
    }
}

const LEASE: Duration = Duration::seconds(60);

backend_test!(MIGRATIONS, enqueue_list_and_scope, |db: Db| async move {
    let store = Store::new(db);
    let (a, ua) = account(&store, "A").await;
    let (b, ub) = account(&store, "B").await;
    let t1 = store.enqueue_task(&task(a, ua, "alpha")).await.unwrap();
    let t2 = store.enqueue_task(&task(a, ua, "beta")).await.unwrap();
    let tb = store.enqueue_task(&task(b, ub, "alpha")).await.unwrap();
    assert_eq!(t1.status, TaskStatus::Queued);
    assert_eq!(t1.created_by.as_ref().unwrap().username, "A_admin");
    assert_eq!(t1.launcher.as_ref().unwrap().id, ua);
    assert_eq!(t1.attempts, 0);

    let page = store
        .list_tasks(a, &TaskFilter::default(), PageRequest::all())
        .await
        .unwrap();
    assert_eq!(page.count, 2);
    // Newest first by default.
    assert_eq!(page.items[0].id, t2.id);
    let only_alpha = store
        .list_tasks(
            a,
            &TaskFilter {
                name: Some("alpha".into()),
                ..Default::default()
            },
            PageRequest::all(),
        )
        .await
        .unwrap();
    assert_eq!(only_alpha.items.len(), 1);
    assert_eq!(only_alpha.items[0].id, t1.id);
    let by_name = store
        .list_tasks(
            a,
            &TaskFilter {
                order: vec!["name".into()],
                statuses: vec![TaskStatus::Queued, TaskStatus::Running],
                users: vec![ua],
                start: Some(chrono::Utc::now() - Duration::days(1)),
                end: Some(chrono::Utc::now() + Duration::days(1)),
                ..Default::default()
            },
            PageRequest::new(1, 2),
        )
        .await
        .unwrap();
    assert_eq!(by_name.count, 2);
    assert_eq!(by_name.items[0].name, "beta");
    let future = store
        .list_tasks(
            a,
            &TaskFilter {
                start: Some(chrono::Utc::now() + Duration::days(1)),
                ..Default::default()
            },
            PageRequest::all(),
        )
        .await
        .unwrap();
    assert_eq!(future.count, 0);

    assert!(matches!(
        store.task(a, tb.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.request_task_kill(a, tb.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.task_types(a).await.unwrap(), vec!["alpha", "beta"]);
    assert_eq!(store.task_params(a, t1.id).await.unwrap(), json!({"n": 1}));
});

backend_test!(MIGRATIONS, claim_progress_finish, |db: Db| async move {
    let store = Store::new(db);
    let (a, ua) = account(&store, "A").await;
    let first = store.enqueue_task(&task(a, ua, "alpha")).await.unwrap();
    let _other_kind = store.enqueue_task(&task(a, ua, "unknown")).await.unwrap();
    let second = store.enqueue_task(&task(a, ua, "alpha")).await.unwrap();

    // Oldest first, only the kinds the worker knows.
    let c1 = store
        .claim_task("w1", &["alpha"], LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c1.lease.task_id, first.id);
    assert_eq!(c1.lease.attempt, 1);
    assert_eq!(c1.params, json!({"n": 1}));
    let c2 = store
        .claim_task("w1", &["alpha"], LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c2.lease.task_id, second.id);
    assert!(store
        .claim_task("w1", &["alpha"], LEASE)
        .await
        .unwrap()
        .is_none());

    let running = store.task(a, first.id).await.unwrap();
    assert_eq!(running.status, TaskStatus::Running);
    assert!(running.started_at.is_some());
    assert_eq!(running.worker_id.as_deref(), Some("w1"));

    let answer = store
        .report_task_progress(
            &c1.lease,
            &ProgressUpdate {
                progress_value: Some(5),
                end_value: Some(10),
                progress_message: Some("half way".into()),
            },
            LEASE,
        )
        .await
        .unwrap();
    assert_eq!(answer, ProgressAnswer::Continue);
    let t = store.task(a, first.id).await.unwrap();
    assert_eq!((t.progress_value, t.end_value), (5, 10));
    assert_eq!(t.progress_message.as_deref(), Some("half way"));

    assert!(store
        .finish_task(&c1.lease, &TaskEnd::success("10 done"))
        .await
        .unwrap());
    // A second finish with the same lease writes nothing.
    assert!(!store
        .finish_task(&c1.lease, &TaskEnd::errored("late", None))
        .await
        .unwrap());
    let done = store.task(a, first.id).await.unwrap();
    assert_eq!(done.status, TaskStatus::Success);
    assert_eq!(
        done.result,
        Some(json!({"result": "SUCCESS", "message": "10 done"}))
    );
    assert!(done.ended_at.is_some());
    let logs = store.task_logs(a, first.id, false).await.unwrap();
    let messages: Vec<&str> = logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["half way", "10 done"]);

    // Work and the final status commit together, or not at all.
    let mut tx = store.db().begin().await.unwrap();
    assert!(finish_task_in(&mut tx, &c2.lease, &TaskEnd::success("ok"))
        .await
        .unwrap());
    tx.rollback().await.unwrap();
    assert_eq!(
        store.task(a, second.id).await.unwrap().status,
        TaskStatus::Running
    );
});

backend_test!(MIGRATIONS, kill_requests, |db: Db| async move {
    let store = Store::new(db);
    let (a, ua) = account(&store, "A").await;
    let queued = store.enqueue_task(&task(a, ua, "alpha")).await.unwrap();
    let killed = store.request_task_kill(a, queued.id).await.unwrap();
    assert_eq!(killed.status, TaskStatus::Killed);
    assert!(killed.should_be_killed);
    assert_eq!(
        killed.result,
        Some(json!({"result": "KILLED", "message": "Killed"}))
    );
    assert!(store
        .claim_task("w", &["alpha"], LEASE)
        .await
        .unwrap()
        .is_none());

    let running = store.enqueue_task(&task(a, ua, "alpha")).await.unwrap();
    let claim = store
        .claim_task("w", &["alpha"], LEASE)
        .await
        .unwrap()
        .unwrap();
    let flagged = store.request_task_kill(a, running.id).await.unwrap();
    assert_eq!(flagged.status, TaskStatus::Running);
    assert!(flagged.should_be_killed);
    assert_eq!(
        store.task_kill_requested(&claim.lease).await.unwrap(),
        ProgressAnswer::KillRequested
    );
    assert_eq!(
        store
            .report_task_progress(&claim.lease, &ProgressUpdate::default(), LEASE)
            .await
            .unwrap(),
        ProgressAnswer::KillRequested
    );
    assert!(store
        .finish_task(&claim.lease, &TaskEnd::killed())
        .await
        .unwrap());
    assert_eq!(
        store.task(a, running.id).await.unwrap().status,
        TaskStatus::Killed
    );
});

backend_test!(
    MIGRATIONS,
    expired_leases_are_retried_then_errored,
    |db: Db| async move {
        let store = Store::new(db);
        let (a, ua) = account(&store, "A").await;
        let t = store
            .enqueue_task(&NewTask {
                max_attempts: 2,
                ..task(a, ua, "alpha")
            })
            .await
            .unwrap();
        let short = Duration::milliseconds(1);
        let dead = store
            .claim_task("dead", &["alpha"], short)
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;

        let recovered = store
            .recover_expired_tasks(iaso_db::now(), Duration::zero())
            .await
            .unwrap();
        assert_eq!(recovered.len(), 1);
        assert_eq!(recovered[0].status, TaskStatus::Queued);
        let requeued = store.task(a, t.id).await.unwrap();
        assert_eq!(requeued.status, TaskStatus::Queued);
        assert_eq!(requeued.attempts, 1);
        assert!(requeued.worker_id.is_none());
        // The dead worker's lease is fenced off.
        assert!(!store.heartbeat_task(&dead.lease, LEASE).await.unwrap());
        assert_eq!(
            store
                .report_task_progress(&dead.lease, &ProgressUpdate::default(), LEASE)
                .await
                .unwrap(),
            ProgressAnswer::LeaseLost
        );

        // Second attempt dies too: no attempt left.
        let again = store
            .claim_task("dead2", &["alpha"], short)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.lease.attempt, 2);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        // Nothing expired yet from the point of view of an earlier clock.
        assert!(store
            .recover_expired_tasks(iaso_db::now() - Duration::minutes(1), Duration::zero())
            .await
            .unwrap()
            .is_empty());
        let recovered = store
            .recover_expired_tasks(iaso_db::now(), Duration::zero())
            .await
            .unwrap();
        assert_eq!(recovered[0].status, TaskStatus::Errored);
        let errored = store.task(a, t.id).await.unwrap();
        assert_eq!(errored.status, TaskStatus::Errored);
        assert_eq!(errored.result.as_ref().unwrap()["result"], "ERRORED");
        assert!(!store
            .finish_task(&again.lease, &TaskEnd::success("too late"))
            .await
            .unwrap());

        // A live lease renewed by its heartbeat is left alone.
        let live = store.enqueue_task(&task(a, ua, "alpha")).await.unwrap();
        let claim = store
            .claim_task("alive", &["alpha"], short)
            .await
            .unwrap()
            .unwrap();
        assert!(store.heartbeat_task(&claim.lease, LEASE).await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert!(store
            .recover_expired_tasks(iaso_db::now(), Duration::zero())
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.task(a, live.id).await.unwrap().status,
            TaskStatus::Running
        );

        // A kill requested while the worker was dying ends as KILLED, not retried.
        let doomed = store.enqueue_task(&task(a, ua, "beta")).await.unwrap();
        let _c = store
            .claim_task("dead3", &["beta"], short)
            .await
            .unwrap()
            .unwrap();
        store.request_task_kill(a, doomed.id).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let recovered = store
            .recover_expired_tasks(iaso_db::now(), Duration::zero())
            .await
            .unwrap();
        assert_eq!(recovered[0].status, TaskStatus::Killed);

        // Relaunch works on ERRORED tasks only.
        let relaunched = store.relaunch_task(a, t.id, ua).await.unwrap();
        assert_eq!(relaunched.status, TaskStatus::Queued);
        assert_eq!(relaunched.attempts, 0);
        assert!(matches!(
            store.relaunch_task(a, t.id, ua).await,
            Err(StoreError::Invalid(_))
        ));
    }
);

backend_test!(
    MIGRATIONS,
    release_gives_the_attempt_back,
    |db: Db| async move {
        let store = Store::new(db);
        let (a, ua) = account(&store, "A").await;
        let t = store.enqueue_task(&task(a, ua, "alpha")).await.unwrap();
        let c = store
            .claim_task("w", &["alpha"], LEASE)
            .await
            .unwrap()
            .unwrap();
        assert!(store
            .release_task(&c.lease, "worker stopping")
            .await
            .unwrap());
        let back = store.task(a, t.id).await.unwrap();
        assert_eq!((back.status, back.attempts), (TaskStatus::Queued, 0));
        let c = store
            .claim_task("w", &["alpha"], LEASE)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.lease.attempt, 1);
    }
);

backend_test!(
    MIGRATIONS,
    concurrent_claimers_never_share_a_task,
    |db: Db| async move {
        let store = Store::new(db.clone());
        let (a, ua) = account(&store, "A").await;
        const TASKS: usize = 60;
        for _ in 0..TASKS {
            store.enqueue_task(&task(a, ua, "alpha")).await.unwrap();
        }
        // Three "processes" (separate pools on the same database), each with three claimers.
        let mut stores = vec![store.clone()];
        for _ in 0..2 {
            let other = db
                .connect_again(&DbOptions {
                    max_connections: 3,
                    ..DbOptions::default()
                })
                .await
                .unwrap();
            stores.push(Store::new(other));
        }
        let mut handles = Vec::new();
        for (p, s) in stores.iter().enumerate() {
            for c in 0..3 {
                let s = s.clone();
                handles.push(tokio::spawn(async move {
                    let me = format!("p{p}c{c}");
                    let mut mine = Vec::new();
                    while let Some(claim) = s.claim_task(&me, &["alpha"], LEASE).await.unwrap() {
                        mine.push(claim.lease.task_id);
                        assert!(s
                            .finish_task(&claim.lease, &TaskEnd::success("ok"))
                            .await
                            .unwrap());
                    }
                    mine
                }));
            }
        }
        let mut seen = HashSet::new();
        let mut total = 0;
        for h in handles {
            for id in h.await.unwrap() {
                total += 1;
                assert!(seen.insert(id), "task {id} claimed twice");
            }
        }
        assert_eq!(total, TASKS);
        let done = store
            .list_tasks(
                a,
                &TaskFilter {
                    statuses: vec![TaskStatus::Success],
                    ..Default::default()
                },
                PageRequest::all(),
            )
            .await
            .unwrap();
        assert_eq!(done.count, TASKS as i64);
        for s in &stores[1..] {
            s.db().close().await;
        }
    }
);
