//! Tenancy: for every tenant-scoped endpoint, account A can neither list, read, change nor
//! delete account B's objects. A new endpoint must be added to `RESOURCES` (or to `EXEMPT`
//! with the reason it is not tenant-scoped): `every_route_is_covered` fails otherwise.
#![allow(clippy::unwrap_used)]

use axum::http::Method;
use futures::FutureExt;
use iaso_api::api_test;
use iaso_api::testing::{assert_isolated, Tenant, TenantResource, TestApp};
use serde_json::json;

async fn form_with_version(app: &TestApp, t: &iaso_api::testing::Tenant) -> (i64, i64, String) {
    let r = app
        .post("/api/forms/")
        .token(&t.token)
        .json(json!({"name": "F", "project_ids": [t.project_id.get()]}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let form = r.json()["id"].as_i64().unwrap();
    let xid = format!("tenancy_{}", uuid::Uuid::new_v4().simple());
    let csv = format!(
        "survey,,,\n,type,name,label\n,text,q,Q\nsettings,,,\n,form_id,version,\n,{xid},1,\n"
    );
    let (ct, body) = multipart(&[
        ("form_id", None, form.to_string().as_bytes()),
        ("xls_file", Some("f.csv"), csv.as_bytes()),
    ]);
    let r = app
        .post("/api/formversions/")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    (form, r.json()["id"].as_i64().unwrap(), xid)
}

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----tenancyboundary";
    let mut body = Vec::new();
    for (name, file, data) in parts {
        body.extend(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend(*data);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn resources() -> Vec<TenantResource> {
    vec![
        TenantResource {
            name: "forms",
            list: Some(("/api/forms/", "forms")),
            detail: "/api/forms/{id}/",
            create: |app, t| async move { form_with_version(app, t).await.0 }.boxed(),
            update: Some((Method::PATCH, || json!({"name": "Stolen"}))),
            delete: true,
        },
        TenantResource {
            name: "form versions",
            list: Some(("/api/formversions/", "form_versions")),
            detail: "/api/formversions/{id}/",
            create: |app, t| async move { form_with_version(app, t).await.1 }.boxed(),
            update: Some((Method::PATCH, || json!({"start_period": "202001"}))),
            delete: false,
        },
        TenantResource {
            name: "form attachments",
            list: Some(("/api/formattachments/", "results")),
            detail: "/api/formattachments/{id}/",
            create: |app, t| {
                async move {
                    let (form, _, _) = form_with_version(app, t).await;
                    let (ct, body) = multipart(&[
                        ("form_id", None, form.to_string().as_bytes()),
                        ("file", Some("a.csv"), b"x,y"),
                    ]);
                    let r = app
                        .post("/api/formattachments/")
                        .token(&t.token)
                        .body(&ct, body)
                        .send()
                        .await;
                    assert_eq!(r.status, 201, "{}", r.text());
                    r.json()["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: None,
            delete: true,
        },
        TenantResource {
            name: "instances",
            list: Some(("/api/instances/", "instances")),
            detail: "/api/instances/{id}/",
            create: |app, t| {
                async move {
                    let (_, _, xid) = form_with_version(app, t).await;
                    let p = app.get(&format!("/api/projects/{}/", t.project_id.get())).token(&t.token).send().await;
                    let app_id = p.json()["app_id"].as_str().unwrap().to_string();
                    let xml = format!("<data id=\"{xid}\" version=\"1\"><q>x</q><meta><instanceID>uuid:{}</instanceID></meta></data>", t.account_id);
                    let (ct, body) = multipart(&[("xml_submission_file", Some("s.xml"), xml.as_bytes())]);
                    let r = app.post(&format!("/openrosa/{app_id}/submission")).body(&ct, body).send().await;
                    assert_eq!(r.status, 201, "{}", r.text());
                    let r = app.get("/api/instances/").token(&t.token).send().await;
                    r.json()["instances"][0]["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: Some((Method::PATCH, || json!({"org_unit": 1}))),
            delete: true,
        },
        TenantResource {
            name: "profiles",
            list: Some(("/api/profiles/", "results")),
            detail: "/api/profiles/{id}/",
            create: |app, t| {
                async move {
                    let r = app
                        .post("/api/profiles/")
                        .token(&t.token)
                        .json(json!({"user_name": format!("u_{}", t.account_id), "password": "a-long-passphrase"}))
                        .send()
                        .await;
                    assert_eq!(r.status, 201, "{}", r.text());
                    r.json()["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: Some((Method::PATCH, || json!({"first_name": "Mallory"}))),
            delete: true,
        },
        TenantResource {
            name: "projects",
            list: Some(("/api/projects/", "projects")),
            detail: "/api/projects/{id}/",
            create: |app, t| {
                async move {
                    let r = app
                        .post("/api/projects/")
                        .token(&t.token)
                        .json(json!({"name": "P", "app_id": format!("app.{}", t.account_id)}))
                        .send()
                        .await;
                    assert_eq!(r.status, 201, "{}", r.text());
                    r.json()["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: Some((Method::PATCH, || json!({"name": "Stolen"}))),
            delete: false,
        },
        TenantResource {
            name: "user roles",
            list: Some(("/api/userroles/", "results")),
            detail: "/api/userroles/{id}/",
            create: |app, t| {
                async move {
                    let r = app
                        .post("/api/userroles/")
                        .token(&t.token)
                        .json(json!({"name": "Role", "permissions": ["iaso_forms"]}))
                        .send()
                        .await;
                    assert_eq!(r.status, 201, "{}", r.text());
                    r.json()["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: Some((Method::PUT, || json!({"name": "Stolen", "permissions": []}))),
            delete: true,
        },
        TenantResource {
            name: "tasks",
            list: Some(("/api/tasks/", "tasks")),
            detail: "/api/tasks/{id}/",
            create: |app, t| {
                async move {
                    let r = app
                        .post("/api/tasks/create/exportprofiles/")
                        .token(&t.token)
                        .json(json!({}))
                        .send()
                        .await;
                    assert_eq!(r.status, 201, "{}", r.text());
                    r.json()["task"]["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: Some((Method::PATCH, || json!({"should_be_killed": true}))),
            delete: false,
        },
        TenantResource {
            name: "accounts",
            list: Some(("/api/accounts/", "results")),
            detail: "/api/accounts/{id}/",
            create: |_app, t| async move { t.account_id.get() }.boxed(),
            update: Some((
                Method::PATCH,
                || json!({"feature_flags": ["SHOW_DEV_FEATURES"]}),
            )),
            delete: false,
        },
        TenantResource {
            name: "data sources",
            list: Some(("/api/datasources/", "sources")),
            detail: "/api/datasources/{id}/",
            create: |app, t| {
                async move {
                    let r = app
                        .post("/api/datasources/")
                        .token(&t.token)
                        .json(json!({"name": format!("Source {}", t.account_id), "project_ids": [t.project_id]}))
                        .send()
                        .await;
                    assert_eq!(r.status, 201, "{}", r.text());
                    r.json()["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: Some((Method::PUT, || json!({"name": "Stolen"}))),
            delete: false,
        },
        TenantResource {
            name: "source versions",
            list: Some(("/api/sourceversions/", "versions")),
            detail: "/api/sourceversions/{id}/",
            create: |app, t| {
                async move {
                    let sources = app
                        .get("/api/datasources/")
                        .token(&t.token)
                        .send()
                        .await
                        .json();
                    let source = sources["sources"][0]["id"].as_i64().unwrap();
                    let r = app
                        .post("/api/sourceversions/")
                        .token(&t.token)
                        .json(json!({"data_source_id": source, "description": "v2"}))
                        .send()
                        .await;
                    assert_eq!(r.status, 200, "{}", r.text());
                    r.json()["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: Some((Method::PUT, || json!({"description": "Stolen"}))),
            delete: true,
        },
        TenantResource {
            name: "org unit types (v2)",
            list: Some(("/api/v2/orgunittypes/", "orgUnitTypes")),
            detail: "/api/v2/orgunittypes/{id}/",
            create: |app, t| create_type(app, t).boxed(),
            update: Some((Method::PATCH, || json!({"name": "Stolen"}))),
            delete: true,
        },
        TenantResource {
            name: "org unit types (v1)",
            list: Some(("/api/orgunittypes/", "orgUnitTypes")),
            detail: "/api/orgunittypes/{id}/",
            create: |app, t| create_type(app, t).boxed(),
            update: Some((Method::PUT, || json!({"name": "Stolen"}))),
            delete: true,
        },
        TenantResource {
            name: "org units",
            list: Some(("/api/orgunits/", "orgUnits")),
            detail: "/api/orgunits/{id}/",
            create: |app, t| create_unit(app, t).boxed(),
            update: Some((Method::PATCH, || json!({"name": "Stolen"}))),
            delete: false,
        },
        TenantResource {
            name: "groups",
            list: Some(("/api/groups/", "groups")),
            detail: "/api/groups/{id}/",
            create: |app, t| {
                async move {
                    let unit = create_unit(app, t).await;
                    let r = app
                        .post("/api/groups/")
                        .token(&t.token)
                        .json(json!({"name": "Group", "org_unit_ids": [unit]}))
                        .send()
                        .await;
                    assert_eq!(r.status, 201, "{}", r.text());
                    r.json()["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: Some((
                Method::PATCH,
                || json!({"name": "Stolen", "org_unit_ids": []}),
            )),
            delete: true,
        },
        TenantResource {
            name: "group sets",
            list: Some(("/api/group_sets/", "group_sets")),
            detail: "/api/group_sets/{id}/",
            create: |app, t| {
                async move {
                    let me = app
                        .get("/api/profiles/me/")
                        .token(&t.token)
                        .send()
                        .await
                        .json();
                    let version = me["account"]["default_version"]["id"].as_i64().unwrap();
                    let r = app
                        .post("/api/group_sets/")
                        .token(&t.token)
                        .json(json!({"name": "Set", "source_version_id": version}))
                        .send()
                        .await;
                    assert_eq!(r.status, 201, "{}", r.text());
                    r.json()["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: Some((Method::PATCH, || json!({"name": "Stolen"}))),
            delete: true,
        },
        TenantResource {
            name: "audit log",
            list: None,
            detail: "/api/logs/{id}/",
            create: |app, t| {
                async move {
                    let unit = create_unit(app, t).await;
                    let r = app
                        .get(&format!(
                            "/api/logs/?contentType=iaso.orgunit&objectId={unit}"
                        ))
                        .token(&t.token)
                        .send()
                        .await;
                    assert_eq!(r.status, 200, "{}", r.text());
                    r.json()["list"][0]["id"].as_i64().unwrap()
                }
                .boxed()
            },
            update: None,
            delete: false,
        },
    ]
}

async fn create_type(app: &TestApp, t: &Tenant) -> i64 {
    let r = app
        .post("/api/v2/orgunittypes/")
        .token(&t.token)
        .json(json!({"name": "District", "short_name": "Dis", "depth": 2, "project_ids": [t.project_id]}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

async fn create_unit(app: &TestApp, t: &Tenant) -> i64 {
    let ty = create_type(app, t).await;
    let r = app
        .post("/api/orgunits/create_org_unit/")
        .token(&t.token)
        .json(json!({"name": "Unit", "org_unit_type_id": ty, "validation_status": "VALID"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

/// Routes that hold no tenant data, with the reason.
const EXEMPT: &[(&str, &str)] = &[
    ("/_health/", "service health"),
    ("/health/", "service health"),
    ("/api/token/", "authentication"),
    ("/api/token/refresh/", "authentication"),
    ("/login/", "authentication"),
    ("/logout/", "authentication"),
    ("/api/profiles/me/", "the caller's own profile"),
    (
        "/api/profiles/{id}/update-password/",
        "checked in auth.rs and profiles tests: id is resolved in the caller's account",
    ),
    ("/api/featureflags/", "global catalogue"),
    (
        "/api/permissions/",
        "global catalogue filtered by the caller's modules",
    ),
    ("/api/permissions/grouped_permissions/", "global catalogue"),
    (
        "/api/accounts/switch/",
        "only the caller's own memberships; tested in accounts tests",
    ),
    ("/api/setupaccount/", "superusers create accounts"),
    (
        "/api/accounts/{id}/set-default-version/",
        "only the current account, and only its versions (tests/accounts.rs)",
    ),
    ("/api/password_reset/", "authentication"),
    ("/api/password_reset/confirm/", "authentication"),
    ("/api/theme/", "server configuration, no tenant data"),
    (
        "/api/forms/{id}/manifest/",
        "same lookup as /api/forms/{id}/ (visible_form)",
    ),
    (
        "/api/mobile/forms/",
        "same query as /api/forms/ scoped to the app's project",
    ),
    (
        "/api/instances/bulkdelete/",
        "ids filtered by the caller's account in the store; tested in forms tests",
    ),
    (
        "/api/instances/attachments/",
        "instances filtered by account; tested in forms tests",
    ),
    (
        "/api/instances/attachments_count/",
        "instances filtered by account",
    ),
    (
        "/api/mobile/bulkupload/",
        "upload into the app_id's project (another account's user gets 401); tested in bulkupload tests",
    ),
    (
        "/api/instances/map/",
        "same account-scoped filter as /api/instances/ (submissions_geo tests)",
    ),
    (
        "/api/instances/{id}/add_lock/",
        "instance looked up in the caller's account and scope; 404 otherwise (submissions_geo tests)",
    ),
    (
        "/api/enketo/submission",
        "edits a submission looked up (iasoInstance) in the caller's account and scope; another account's id → 404 (tests/enketo_edit.rs)",
    ),
    (
        "/api/instances/unlock_lock/",
        "lock looked up through its instance in the caller's account; 400 otherwise (submissions_geo tests)",
    ),
    (
        "/sync/form_upload/",
        "upload: scoped to the caller's account or an open project; tested in forms tests",
    ),
    (
        "/openrosa/{app_id}/formList",
        "OpenRosa, scoped to the app_id's project; tested in forms tests",
    ),
    (
        "/openrosa/{app_id}/forms/{id}/form.xml",
        "OpenRosa, form must belong to the app_id's project",
    ),
    (
        "/openrosa/{app_id}/forms/{id}/manifest",
        "OpenRosa, form must belong to the app_id's project",
    ),
    (
        "/openrosa/{app_id}/submission",
        "OpenRosa upload into the app_id's project",
    ),
    (
        "/api/tasks/{id}/logs/",
        "task sub-resource; other accounts get 404 (tests/tasks.rs task_permissions)",
    ),
    (
        "/api/tasks/{id}/relaunch/",
        "task sub-resource; other accounts get 404 (tests/tasks.rs task_permissions)",
    ),
    (
        "/api/tasks/{id}/presigned-url/",
        "task sub-resource; other accounts get 404 (tests/tasks.rs task_permissions)",
    ),
    (
        "/api/tasks/{id}/download/",
        "task sub-resource; other accounts get 404 (tests/tasks.rs task_permissions)",
    ),
    (
        "/api/tasks/types/",
        "names of the caller's account's tasks only",
    ),
    ("/api/tasks/deployment-status/", "superuser and staff only"),
    (
        "/api/tasks/create/profilesbulkupdate/",
        "creates a task in the caller's account; selection scoped in the store (tests/tasks.rs)",
    ),
    (
        "/api/tasks/create/exportprofiles/",
        "creates a task in the caller's account",
    ),
    (
        "/api/tasks/create/importgpkg/",
        "creates a task in the caller's account; another account's data source is refused (org_unit_import tests)",
    ),
    (
        "/api/tasks/create/exportorgunits/",
        "creates a task in the caller's account; rows read through the caller's scope (org_unit_export tests)",
    ),
    (
        "/api/tasks/create/orgunitsbulkupdate/",
        "creates a task in the caller's account; selection through the caller's scope (org_unit_bulk tests)",
    ),
    (
        "/api/tasks/create/importtree/",
        "creates a task in the caller's account; another account's data source is refused (org_unit_bulk tests)",
    ),
    (
        "/api/tasks/create/copyversion/",
        "creates a task in the caller's account; versions of other accounts are refused (org_unit_bulk tests)",
    ),
    (
        "/api/copyversion/",
        "Iaso's path of copyversion; same checks (org_unit_bulk tests)",
    ),
    (
        "/api/orgunits/create_org_unit/",
        "creation; a parent, version, type or group of another account is refused (orgunits tests)",
    ),
    (
        "/api/orgunits/tree/",
        "reads through the caller's scope; tested in orgunits tests",
    ),
    (
        "/api/orgunits/tree/search/",
        "reads through the caller's scope; tested in orgunits tests",
    ),
    (
        "/api/mobile/orgunits/",
        "scoped by app_id (project of the caller's account or public); tested in orgunits tests",
    ),
    (
        "/api/v2/orgunittypes/{id}/hierarchy/",
        "account's types only; 404 for another account's type (sources tests)",
    ),
    ("/api/v2/orgunittypes/dropdown/", "account's types only"),
    ("/api/groups/dropdown/", "account's versions only"),
    (
        "/api/logs/",
        "needs objectId+contentType of an object the caller sees (orgunits tests)",
    ),
];

api_test!(tenants_are_isolated, async |app: &TestApp| {
    assert_isolated(app, &resources()).await;
});

#[test]
fn every_route_is_covered() {
    let (_, doc) = iaso_api::routes::api_routes().split_for_parts();
    let resources = resources();
    let mut missing = Vec::new();
    for path in doc.paths.paths.keys() {
        let covered = resources
            .iter()
            .any(|r| r.detail == path || r.list.is_some_and(|(l, _)| l == path))
            || EXEMPT.iter().any(|(p, _)| p == path);
        if !covered {
            missing.push(path.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "register these routes in the tenancy harness (or EXEMPT with a reason): {missing:?}"
    );
}
