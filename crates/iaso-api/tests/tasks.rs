//! `/api/tasks/`: create → worker → progress → result file → download, kill, permissions.
#![allow(clippy::unwrap_used)]

use iaso_api::api_test;
use iaso_api::testing::{TestApp, PASSWORD};
use serde_json::{json, Value};
use std::time::Duration;

async fn wait_for_end(app: &TestApp, token: &str, id: i64) -> Value {
    for _ in 0..500 {
        let r = app
            .get(&format!("/api/tasks/{id}/"))
            .token(token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let t = r.json();
        if !matches!(t["status"].as_str(), Some("QUEUED" | "RUNNING")) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("task {id} did not end");
}

async fn add_user(app: &TestApp, token: &str, name: &str, permissions: Value) -> i64 {
    let r = app
        .post("/api/profiles/")
        .token(token)
        .json(json!({"user_name": name, "password": PASSWORD, "first_name": "F", "last_name": name, "user_permissions": permissions}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

api_test!(export_runs_and_downloads, async |app: &TestApp| {
    let a = app.tenant("A").await;
    for i in 0..3 {
        add_user(app, &a.token, &format!("user{i}"), json!([])).await;
    }
    let r = app
        .post("/api/tasks/create/exportprofiles/")
        .token(&a.token)
        .json(json!({}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let task = r.json()["task"].clone();
    assert_eq!(task["status"], "QUEUED");
    assert_eq!(task["name"], "profiles_export");
    assert_eq!(task["created_by"]["username"], a.username);
    assert_eq!(task["launcher"]["id"], a.user_id.get());
    assert!(task.get("params").is_none(), "params are never shown");
    let id = task["id"].as_i64().unwrap();

    let worker = app.worker().spawn();
    let done = wait_for_end(app, &a.token, id).await;
    worker.shutdown().await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["result"]["message"], "4 users exported");
    assert_eq!(
        (done["progress_value"].as_i64(), done["end_value"].as_i64()),
        (Some(4), Some(4))
    );
    assert!(done["started_at"].as_f64().unwrap() >= done["created_at"].as_f64().unwrap());
    let data = done["result"]["data"].as_str().unwrap();
    assert!(
        data.starts_with(&format!("file:tasks/{}/{id}/", a.account_id)),
        "{data}"
    );

    // Authenticated download, streamed with a file name.
    let r = app
        .get(&format!("/api/tasks/{id}/download/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains(".csv"));
    let csv = r.text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("username,email,first_name,last_name"));
    assert!(lines.iter().any(|l| l.starts_with("user1,")));

    // A presigned link works without credentials, and only for this task.
    let r = app
        .get(&format!("/api/tasks/{id}/presigned-url/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let url = r.json()["presigned_url"].as_str().unwrap().to_string();
    let path = url.trim_start_matches(&app.state.settings.public_url);
    assert!(
        path.starts_with(&format!("/api/tasks/{id}/download/?token=")),
        "{url}"
    );
    let r = app.get(path).send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), csv);
    let tampered = format!("{path}x");
    assert_eq!(app.get(&tampered).send().await.status, 403);
    assert_eq!(
        app.get(&format!("/api/tasks/{id}/download/"))
            .send()
            .await
            .status,
        401
    );

    // Logs, types, list with Iaso's filters and paging.
    let r = app
        .get(&format!("/api/tasks/{id}/logs/"))
        .token(&a.token)
        .send()
        .await;
    let logs = r.json();
    assert_eq!(logs["status"], "SUCCESS");
    assert!(logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["message"] == "4 users exported"));
    let r = app.get("/api/tasks/types/").token(&a.token).send().await;
    assert_eq!(r.json(), json!(["profiles_export"]));
    let r = app
        .get(&format!("/api/tasks/?status=SUCCESS,ERRORED&task_type=profiles_export&users={}&limit=10&page=1&order=-created_at", a.user_id))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.json();
    assert_eq!(page["count"], 1);
    assert_eq!(page["pages"], 1);
    assert_eq!(page["tasks"][0]["id"], id);
    let r = app
        .get("/api/tasks/?status=QUEUED")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.json(), json!({"tasks": []}));
    let r = app
        .get("/api/tasks/?status=DONE")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .get("/api/tasks/?start_date=2999-01-01")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.json()["tasks"], json!([]));
    let r = app
        .get("/api/tasks/?limit=10&page=3")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 404);

    // No result file: presigned-url refuses, download is not found.
    let r = app
        .post("/api/tasks/create/profilesbulkupdate/")
        .token(&a.token)
        .json(json!({"selected_ids": [], "language": "fr"}))
        .send()
        .await;
    let failed = r.json()["task"]["id"].as_i64().unwrap();
    let worker = app.worker().spawn();
    let t = wait_for_end(app, &a.token, failed).await;
    worker.shutdown().await;
    assert_eq!(t["status"], "ERRORED");
    assert_eq!(t["result"]["message"], "No matching profile found");
    let r = app
        .get(&format!("/api/tasks/{failed}/presigned-url/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .get(&format!("/api/tasks/{failed}/download/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 404);
    // Relaunch: ERRORED only.
    let r = app
        .patch(&format!("/api/tasks/{failed}/relaunch/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "QUEUED");
    let r = app
        .patch(&format!("/api/tasks/{id}/relaunch/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["status"][0],
        "You cannot relaunch a task with status SUCCESS."
    );
});

api_test!(bulk_update_and_kill, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let p1 = add_user(app, &a.token, "one", json!([])).await;
    let p2 = add_user(app, &a.token, "two", json!([])).await;
    let r = app
        .post("/api/userroles/")
        .token(&a.token)
        .json(json!({"name": "Surveyor", "permissions": ["iaso_forms"]}))
        .send()
        .await;
    let role = r.json()["id"].as_i64().unwrap();

    // Killed while queued: never runs.
    let r = app
        .post("/api/tasks/create/profilesbulkupdate/")
        .token(&a.token)
        .json(json!({"selected_ids": [p1, p2], "organization": "Killed Org"}))
        .send()
        .await;
    let killed = r.json()["task"]["id"].as_i64().unwrap();
    let r = app
        .patch(&format!("/api/tasks/{killed}/"))
        .token(&a.token)
        .json(json!({"should_be_killed": true}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "KILLED");
    assert_eq!(r.json()["should_be_killed"], true);

    let r = app
        .post("/api/tasks/create/profilesbulkupdate/")
        .token(&a.token)
        .json(json!({"select_all": true, "unselected_ids": [p2], "search": "on", "roles_id_added": [role], "language": "fr", "user_roles": ""}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["task"]["id"].as_i64().unwrap();
    let worker = app.worker().spawn();
    let done = wait_for_end(app, &a.token, id).await;
    let k = wait_for_end(app, &a.token, killed).await;
    worker.shutdown().await;
    assert_eq!(k["status"], "KILLED");
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(
        done["result"],
        json!({"result": "SUCCESS", "message": "1 modified"})
    );
    let one = app
        .get(&format!("/api/profiles/{p1}/"))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(one["language"], "fr");
    assert_eq!(
        one["organization"],
        Value::Null,
        "the killed task changed nothing"
    );
    assert_eq!(one["user_roles"], json!([role]));
    let two = app
        .get(&format!("/api/profiles/{p2}/"))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(two["user_roles"], json!([]));

    // A role of another account fails the task with a message, changing nothing.
    let b = app.tenant("B").await;
    let r = app
        .post("/api/userroles/")
        .token(&b.token)
        .json(json!({"name": "Other", "permissions": []}))
        .send()
        .await;
    let foreign = r.json()["id"].as_i64().unwrap();
    let r = app
        .post("/api/tasks/create/profilesbulkupdate/")
        .token(&a.token)
        .json(json!({"selected_ids": [p2], "roles_id_added": [foreign], "language": "es"}))
        .send()
        .await;
    let id = r.json()["task"]["id"].as_i64().unwrap();
    let worker = app.worker().spawn();
    let t = wait_for_end(app, &a.token, id).await;
    worker.shutdown().await;
    assert_eq!(t["status"], "ERRORED");
    assert!(
        t["result"]["message"]
            .as_str()
            .unwrap()
            .contains("roles_id_added"),
        "{t}"
    );
    let two = app
        .get(&format!("/api/profiles/{p2}/"))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(two["language"], Value::Null, "nothing changed");
});

api_test!(task_permissions, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let b = app.tenant("B").await;
    add_user(app, &a.token, "plain", json!([])).await;
    let plain = app.login("plain", PASSWORD).await;
    let plain_id = app
        .store()
        .credentials("plain")
        .await
        .unwrap()
        .unwrap()
        .user
        .id;

    // Without the task permissions: no list, no kill, no creation of admin tasks...
    assert_eq!(
        app.get("/api/tasks/").token(&plain).send().await.status,
        403
    );
    assert_eq!(
        app.get("/api/tasks/types/")
            .token(&plain)
            .send()
            .await
            .status,
        403
    );
    let r = app
        .post("/api/tasks/create/exportprofiles/")
        .token(&plain)
        .send()
        .await;
    assert_eq!(r.status, 403);
    // ... but one's own task is visible.
    let own = app
        .state
        .tasks
        .launch(a.account_id, Some(plain_id), "profiles_export", &json!({}))
        .await
        .unwrap();
    let r = app
        .get(&format!("/api/tasks/{}/", own.id))
        .token(&plain)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .get(&format!("/api/tasks/{}/logs/", own.id))
        .token(&plain)
        .send()
        .await;
    assert_eq!(r.status, 200);
    let others = app
        .post("/api/tasks/create/exportprofiles/")
        .token(&a.token)
        .send()
        .await
        .json()["task"]["id"]
        .as_i64()
        .unwrap();
    let r = app
        .get(&format!("/api/tasks/{others}/"))
        .token(&plain)
        .send()
        .await;
    assert_eq!(r.status, 403);

    // Another account sees nothing of these tasks.
    for path in [
        format!("/api/tasks/{others}/"),
        format!("/api/tasks/{others}/logs/"),
        format!("/api/tasks/{others}/presigned-url/"),
        format!("/api/tasks/{others}/download/"),
    ] {
        let r = app.get(&path).token(&b.token).send().await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
    }
    let r = app
        .patch(&format!("/api/tasks/{others}/relaunch/"))
        .token(&b.token)
        .send()
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .patch(&format!("/api/tasks/{others}/"))
        .token(&b.token)
        .json(json!({"should_be_killed": true}))
        .send()
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        app.get("/api/tasks/types/")
            .token(&b.token)
            .send()
            .await
            .json(),
        json!([])
    );

    // Deployment status: superuser and staff only.
    assert_eq!(
        app.get("/api/tasks/deployment-status/")
            .token(&a.token)
            .send()
            .await
            .status,
        403
    );
});
