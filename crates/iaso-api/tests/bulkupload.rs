//! `POST /api/mobile/bulkupload/` on both backends: the zip is logged raw, imported by the
//! `process_mobile_bulk_upload` task in one transaction (org units, submissions, media), and
//! importing the same zip again creates nothing. Uses the mobile app's zips recorded in
//! Iaso's fixtures (`$SHARED_DIR/reference/iaso-data/iaso/tests/fixtures/mobile_bulk_uploads`).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use iaso_api::api_test;
use iaso_api::testing::{Tenant, TestApp};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixtures() -> PathBuf {
    let shared = std::env::var("SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = shared.join("reference/iaso-data/iaso/tests/fixtures/mobile_bulk_uploads");
    assert!(
        dir.is_dir(),
        "fixtures not found in {} (set SHARED_DIR)",
        dir.display()
    );
    dir
}

const REGISTRATION_CSV: &str = "survey,,,
,type,name,label
,begin_group,Registration,Registration
,text,last_name,Last name
,text,first_name,First name
,end_group,,
,integer,is_confirmed_positive,Confirmed
settings,,,
,form_title,form_id,version
,Registration,trypelim_registration,2024032701
";

const CATT_CSV: &str = "survey,,,
,type,name,label
,begin_group,CATT,CATT
,text,result,Result
,integer,position,Position
,end_group,,
,begin_group,quality_control_group,Quality
,image,rdt_control_picture,Picture
,end_group,,
settings,,,
,form_title,form_id,version
,CATT,trypelim_CATT,2024031801
";

async fn form_with(app: &TestApp, t: &Tenant, name: &str, csv: &str) -> i64 {
    let form = create_form(app, t, name).await;
    let form_id = form.to_string();
    let (ct, body) = multipart(&[
        ("form_id", None, form_id.as_bytes()),
        ("xls_file", Some("f.csv"), csv.as_bytes()),
    ]);
    let r = app
        .post("/api/formversions/")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    form
}

/// The zip of a fixture folder, with Iaso's test ids (forms 1 and 2, parent 4, type 5)
/// replaced by ours.
fn zip_of(dir: &Path, ids: &[(&str, String)], extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let mut bytes = std::fs::read(&p).unwrap();
            if rel.ends_with(".json") {
                let mut v: Value = serde_json::from_slice(&bytes).unwrap();
                for item in v.as_array_mut().unwrap() {
                    for (key, to) in ids {
                        let (field, from) = key.split_once('=').unwrap();
                        if item.get(field).and_then(Value::as_str) == Some(from) {
                            item[field] = json!(to);
                        }
                    }
                }
                bytes = serde_json::to_vec(&v).unwrap();
            }
            w.start_file(rel, opts).unwrap();
            w.write_all(&bytes).unwrap();
        }
    }
    for (name, bytes) in extra {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

async fn upload(
    app: &TestApp,
    token: Option<&str>,
    app_id: &str,
    zip: &[u8],
) -> iaso_api::testing::TestResponse {
    let (ct, body) = multipart(&[("zip_file", Some("upload.zip"), zip)]);
    let mut req = app.post(&format!(
        "/api/mobile/bulkupload/?app_id={app_id}&app_version=1.2"
    ));
    if let Some(t) = token {
        req = req.token(t);
    }
    req.body(&ct, body).send().await
}

async fn run_task(app: &TestApp, t: &Tenant, location: &str) -> Value {
    let worker = app.worker().spawn();
    let mut task = Value::Null;
    for _ in 0..1000 {
        task = app.get(location).token(&t.token).send().await.json();
        if !matches!(task["status"].as_str(), Some("QUEUED" | "RUNNING")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.shutdown().await;
    task
}

struct Counts {
    instances: i64,
    files: i64,
    new_units: i64,
}

async fn counts(app: &TestApp, t: &Tenant) -> Counts {
    let page = app
        .store()
        .list_instances(
            t.account_id,
            &Default::default(),
            iaso_store::PageRequest::all(),
        )
        .await
        .unwrap();
    let mut files = 0;
    for i in &page.items {
        files += app.store().instance_files(i.id).await.unwrap().len() as i64;
    }
    let r = app
        .get("/api/orgunits/?limit=50&validation_status=NEW&search=New%20Org%20Unit")
        .token(&t.token)
        .send()
        .await;
    Counts {
        instances: page.count,
        files,
        new_units: r.json()["count"].as_i64().unwrap(),
    }
}

fn json_of(app_instance: &iaso_store::instances::Instance, key: &str) -> Value {
    app_instance.json.as_ref().unwrap()[key].clone()
}

api_test!(bulk_upload_is_imported_once, async |app: &TestApp| {
    let t = app.tenant("A").await;
    let g = geo(app, &t).await;
    let reg = form_with(app, &t, "Registration", REGISTRATION_CSV).await;
    let catt = form_with(app, &t, "CATT", CATT_CSV).await;
    let app_id = app_id(app, &t).await;
    let ids = [
        ("formId=1", reg.to_string()),
        ("formId=2", catt.to_string()),
        ("parent_id=4", g.district.to_string()),
        ("org_unit_type_id=5", g.hf_type.to_string()),
    ];
    let zip = zip_of(&fixtures().join("catt_one_test_with_image"), &ids, &[]);

    let r = upload(app, Some(&t.token), &app_id, &zip).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let location = r.headers["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/api/tasks/"), "{location}");
    // The raw zip is logged first (and flagged until the task commits).
    let logged = app
        .store()
        .list_api_imports(t.account_id, false, iaso_store::PageRequest::all())
        .await
        .unwrap();
    let bulk = logged
        .items
        .iter()
        .find(|i| i.import_type == "bulk")
        .unwrap();
    assert!(
        bulk.has_problem && bulk.exception.contains("queued"),
        "{bulk:?}"
    );
    assert_eq!(bulk.file_size, Some(zip.len() as i64));
    assert_eq!(bulk.app_version, "1.2");

    let task = run_task(app, &t, &location).await;
    assert_eq!(task["status"], "SUCCESS", "{task}");
    assert_eq!(task["name"], "process_mobile_bulk_upload");
    let msg = task["result"]["message"].as_str().unwrap();
    assert!(
        msg.contains("1 org unit(s), 4 submission(s) (0 unchanged), 1 attachment(s)"),
        "{msg}"
    );
    let bulk = app.store().api_import(t.account_id, bulk.id).await.unwrap();
    assert!(!bulk.has_problem, "{bulk:?}");

    let c = counts(app, &t).await;
    assert_eq!((c.instances, c.files, c.new_units), (4, 1, 1));
    let unit = app
        .get("/api/orgunits/?limit=5&validation_status=NEW&search=New%20Org%20Unit")
        .token(&t.token)
        .send()
        .await
        .json()["orgunits"][0]
        .clone();
    assert_eq!(unit["parent_id"], g.district);
    let catt_i = app
        .store()
        .instance_by_uuid(t.account_id, "a5362052-408f-44f8-8abc-2a520c01ea10")
        .await
        .unwrap();
    assert_eq!(
        catt_i.org_unit_id,
        unit["id"].as_i64(),
        "orgUnitId was the device uuid"
    );
    assert_eq!(catt_i.form_id, Some(catt));
    assert_eq!(json_of(&catt_i, "result"), "positive");
    let files = app.store().instance_files(catt_i.id).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].name, "1712326156339.webp");
    let reg_i = app
        .store()
        .instance_by_uuid(t.account_id, "3f0ed68e-bfcf-4395-a2a5-a5821390ae1b")
        .await
        .unwrap();
    assert_eq!(json_of(&reg_i, "first_name"), "Disasi");
    assert_eq!(json_of(&reg_i, "is_confirmed_positive"), "0");
    // The attachment is downloadable through the API.
    let d = app
        .get(&format!("/api/instances/{}/", catt_i.id))
        .token(&t.token)
        .send()
        .await
        .json();
    let url = d["files"][0].as_str().unwrap();
    let f = app.get(&url[url.find("/files/").unwrap()..]).send().await;
    assert_eq!(f.status, 200);
    assert_eq!(f.body.len(), 204810);

    // The same zip again: nothing new.
    let r = upload(app, Some(&t.token), &app_id, &zip).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let task = run_task(app, &t, r.headers["location"].to_str().unwrap()).await;
    assert_eq!(task["status"], "SUCCESS", "{task}");
    let msg = task["result"]["message"].as_str().unwrap();
    assert!(
        msg.contains("0 org unit(s), 0 submission(s) (4 unchanged), 0 attachment(s)"),
        "{msg}"
    );
    let c = counts(app, &t).await;
    assert_eq!((c.instances, c.files, c.new_units), (4, 1, 1));

    // A later zip with newer edits of one submission replaces its XML; an unchanged
    // `updated_at` keeps the stored one.
    let before = app
        .store()
        .instance_by_uuid(t.account_id, "90619ebe-4aa5-4eca-ae66-bf989bfb1539")
        .await
        .unwrap();
    let zip2 = zip_of(&fixtures().join("labo_update_registration_form"), &ids, &[]);
    let r = upload(app, Some(&t.token), &app_id, &zip2).await;
    let task = run_task(app, &t, r.headers["location"].to_str().unwrap()).await;
    assert_eq!(task["status"], "SUCCESS", "{task}");
    let reg_i = app
        .store()
        .instance_by_uuid(t.account_id, "3f0ed68e-bfcf-4395-a2a5-a5821390ae1b")
        .await
        .unwrap();
    assert_eq!(json_of(&reg_i, "is_confirmed_positive"), "1");
    let after = app
        .store()
        .instance_by_uuid(t.account_id, "90619ebe-4aa5-4eca-ae66-bf989bfb1539")
        .await
        .unwrap();
    assert_eq!(after.file, before.file);
    assert_eq!(counts(app, &t).await.instances, 4);
});

api_test!(
    bulk_upload_failures_change_nothing,
    async |app: &TestApp| {
        let t = app.tenant("A").await;
        let g = geo(app, &t).await;
        let reg = form_with(app, &t, "Registration", REGISTRATION_CSV).await;
        let catt = form_with(app, &t, "CATT", CATT_CSV).await;
        let app_id = app_id(app, &t).await;
        // Form 2 is unknown here: the whole import is rolled back, org units included.
        let ids = [
            ("formId=1", reg.to_string()),
            ("formId=2", "999999".to_string()),
            ("parent_id=4", g.district.to_string()),
            ("org_unit_type_id=5", g.hf_type.to_string()),
        ];
        let zip = zip_of(&fixtures().join("catt_one_test_with_image"), &ids, &[]);
        let r = upload(app, Some(&t.token), &app_id, &zip).await;
        assert_eq!(r.status, 204, "{}", r.text());
        let task = run_task(app, &t, r.headers["location"].to_str().unwrap()).await;
        assert_eq!(task["status"], "ERRORED", "{task}");
        assert!(
            task["result"]["message"]
                .as_str()
                .unwrap()
                .contains("Unknown form 999999"),
            "{task}"
        );
        let c = counts(app, &t).await;
        assert_eq!((c.instances, c.files, c.new_units), (0, 0, 0));
        let logged = app
            .store()
            .list_api_imports(t.account_id, true, iaso_store::PageRequest::all())
            .await
            .unwrap();
        assert!(
            logged.items.iter().any(|i| i.import_type == "bulk"),
            "kept as a problem"
        );

        // An entry escaping the folder fails the task before anything is written.
        let ok_ids = [
            ("formId=1", reg.to_string()),
            ("formId=2", catt.to_string()),
            ("parent_id=4", g.district.to_string()),
            ("org_unit_type_id=5", g.hf_type.to_string()),
        ];
        let zip = zip_of(
            &fixtures().join("disasi_only"),
            &ok_ids,
            &[("../evil.txt", b"x")],
        );
        let r = upload(app, Some(&t.token), &app_id, &zip).await;
        let task = run_task(app, &t, r.headers["location"].to_str().unwrap()).await;
        assert_eq!(task["status"], "ERRORED", "{task}");
        assert!(
            task["result"]["message"]
                .as_str()
                .unwrap()
                .contains("unsafe path"),
            "{task}"
        );

        // Bad requests.
        let r = upload(app, Some(&t.token), &app_id, b"not a zip").await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.json().get("zip_file").is_some());
        let r = app
            .post(&format!("/api/mobile/bulkupload/?app_id={app_id}"))
            .token(&t.token)
            .body("multipart/form-data; boundary=x", "--x--\r\n")
            .send()
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
        let r = upload(app, Some(&t.token), "no.such.app", &zip).await;
        assert_eq!(r.status, 404);
        let r = upload(app, Some(&t.token), "", &zip).await;
        assert_eq!(r.status, 400);
        // Another account's user cannot upload into this project.
        let other = app.tenant("B").await;
        let r = upload(app, Some(&other.token), &app_id, &zip).await;
        assert_eq!(r.status, 401, "{}", r.text());
        // Anonymous: refused when the project requires authentication, else queued with no user.
        let r = app
            .patch(&format!("/api/projects/{}/", t.project_id.get()))
            .token(&t.token)
            .json(json!({"needs_authentication": true}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let good = zip_of(&fixtures().join("disasi_only"), &ok_ids, &[]);
        let r = upload(app, None, &app_id, &good).await;
        assert_eq!(r.status, 401, "{}", r.text());
        app.patch(&format!("/api/projects/{}/", t.project_id.get()))
            .token(&t.token)
            .json(json!({"needs_authentication": false}))
            .send()
            .await;
        let r = upload(app, None, &app_id, &good).await;
        assert_eq!(r.status, 204, "{}", r.text());
        let task = run_task(app, &t, r.headers["location"].to_str().unwrap()).await;
        assert_eq!(task["status"], "SUCCESS", "{task}");
        assert_eq!(task["created_by"], Value::Null, "{task}");
    }
);
