//! Forms, form versions, attachments, the mobile submission flow, OpenRosa, review and exports.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use iaso_api::api_test;
use iaso_api::testing::TestApp;
use iaso_store::audit::LogFilter;
use iaso_store::PageRequest;
use serde_json::{json, Value};

api_test!(form_crud_and_versions, async |app: &TestApp| {
    let (t, form) = setup(app).await;
    let r = app
        .get("/api/forms/?limit=10&page=1&order=id")
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200);
    let body = r.json();
    assert_eq!(body["count"], 1);
    let f = &body["forms"][0];
    assert_eq!(f["form_id"], "demo_form");
    assert_eq!(f["latest_form_version"]["version_id"], "2024010101");
    assert_eq!(f["project_ids"], json!([t.project_id.get()]));

    // The version's XForm is downloadable through its URL and matches its md5.
    let r = app
        .get(&format!(
            "/api/formversions/?form_id={form}&fields=descriptor,file,md5,version_id"
        ))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json()["form_versions"][0].clone();
    assert_eq!(v["descriptor"]["version"], "2024010101");
    assert_eq!(v["descriptor"]["id_string"], "demo_form");
    let file = v["file"].as_str().unwrap();
    let path = &file[file.find("/files/").unwrap()..];
    let x = app.get(path).send().await;
    assert_eq!(x.status, 200);
    assert!(x
        .text()
        .contains("<data id=\"demo_form\" version=\"2024010101\""));
    assert_eq!(iaso_ingest::md5_hex(&x.body), v["md5"].as_str().unwrap());
    // A tampered signature is refused.
    let bad = app.get(&path.replace("?s=", "?s=0")).send().await;
    assert_eq!(bad.status, 404);

    // Unknown fields are a 400 naming `fields`.
    let r = app
        .get("/api/formversions/?fields=nope")
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["fields"].is_array());

    // The version must grow; a generated version when the XLSForm has none.
    let (s, v) = upload_version(app, &t, form, "2024010101").await;
    assert_eq!(s, 400, "{v}");
    assert!(v["xls_file"][0].as_str().unwrap().contains("greater"));
    let (s, v) = upload_version(app, &t, form, "").await;
    assert_eq!(s, 201, "{v}");
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    assert_eq!(v["version_id"], format!("{today}01"));

    // The form_id of a form cannot change.
    let (ct, body) = multipart(&[
        ("form_id", None, form.to_string().as_bytes()),
        (
            "xls_file",
            Some("x.csv"),
            DEMO_CSV
                .replace("demo_form", "other_id")
                .replace("VERSION", "2099010101")
                .as_bytes(),
        ),
    ]);
    let r = app
        .post("/api/formversions/")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("constant"), "{}", r.text());

    // Conversion errors come back as 400 with the engine's message.
    let (ct, body) = multipart(&[
        ("form_id", None, form.to_string().as_bytes()),
        (
            "xls_file",
            Some("x.csv"),
            b"survey,,\n,type,name\n,begin_group,g\n".as_slice(),
        ),
    ]);
    let r = app
        .post("/api/formversions/")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["xls_file"][0]
        .as_str()
        .unwrap()
        .starts_with("Invalid XLS form content"));

    // Update, soft delete, restore; possible fields.
    let r = app.patch(&format!("/api/forms/{form}/")).token(&t.token)
        .json(json!({"period_type": "MONTH", "periods_before_allowed": 1, "periods_after_allowed": 0, "label_keys": ["name_of_site"]}))
        .send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["period_type"], "MONTH");
    let r = app.patch(&format!("/api/forms/{form}/")).token(&t.token)
        .json(json!({"period_type": "MONTH", "periods_before_allowed": 0, "periods_after_allowed": 0})).send().await;
    assert_eq!(r.status, 400);
    let r = app
        .get(&format!("/api/forms/{form}/?fields=possible_fields,id"))
        .token(&t.token)
        .send()
        .await;
    let names: Vec<String> = r.json()["possible_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names.contains(&"rooms".to_string()) && names.contains(&"note_text".to_string()),
        "{names:?}"
    );
    let r = app
        .delete(&format!("/api/forms/{form}/"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 204);
    let r = app.get("/api/forms/").token(&t.token).send().await;
    assert_eq!(r.json()["forms"].as_array().unwrap().len(), 0);
    let r = app
        .get("/api/forms/?only_deleted=1")
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.json()["forms"].as_array().unwrap().len(), 1);
    let r = app
        .patch(&format!("/api/forms/{form}/"))
        .token(&t.token)
        .json(json!({"deleted_at": null}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["deleted_at"], Value::Null);
    // Every change is audited.
    let log = app
        .store()
        .list_modifications(
            t.account_id,
            &LogFilter {
                content_type: Some("iaso.form".into()),
                object_id: Some(form.to_string()),
                ..LogFilter::default()
            },
            PageRequest::new(100, 1),
        )
        .await
        .unwrap()
        .items;
    assert!(log.len() >= 4, "{}", log.len());
});

api_test!(projects_and_forms_both_ways, async |app: &TestApp| {
    let t = app.tenant("A").await;
    let form = create_form(app, &t, "F").await;
    let r = app
        .post("/api/projects/")
        .token(&t.token)
        .json(json!({"name": "P2", "app_id": "org.p2", "forms": [form]}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let p2 = r.json()["id"].as_i64().unwrap();
    let r = app
        .get(&format!("/api/forms/{form}/"))
        .token(&t.token)
        .send()
        .await;
    let ids = r.json()["project_ids"].clone();
    assert!(ids.as_array().unwrap().contains(&json!(p2)), "{ids}");
    let other = app.tenant("B").await;
    let theirs = create_form(app, &other, "G").await;
    let r = app
        .patch(&format!("/api/projects/{p2}/"))
        .token(&t.token)
        .json(json!({"forms": [theirs]}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = app
        .post("/api/forms/")
        .token(&t.token)
        .json(json!({"name": "X", "project_ids": [other.project_id.get()]}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
});

api_test!(
    mobile_flow_is_idempotent_in_both_orders,
    async |app: &TestApp| {
        let (t, form) = setup(app).await;
        let g = geo(app, &t).await;
        let ou = g.facilities[0];
        let app_id = app_id(app, &t).await;
        let meta = |id: &str, file: &str| {
            json!([{"id": id, "file": format!("/sdcard/odk/{file}"), "name": "Demo", "formId": form.to_string(),
        "orgUnitId": ou, "created_at": 1712326182.45, "updated_at": 1712326182.45, "latitude": 50.1, "longitude": 4.2, "altitude": 10, "accuracy": 12.744, "period": null}])
        };
        // Metadata first, then XML, then both again.
        for _ in 0..2 {
            let r = app
                .post(&format!("/api/instances/?app_id={app_id}"))
                .token(&t.token)
                .json(meta("u-1", "one.xml"))
                .send()
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.json(), json!({"res": "ok"}));
            let (ct, body) = multipart(&[
                (
                    "xml_submission_file",
                    Some("one.xml"),
                    submission("2024010101", "i-1", "Site 1").as_bytes(),
                ),
                ("p.jpg", Some("p.jpg"), b"JPEGDATA"),
            ]);
            let r = app
                .post("/sync/form_upload/")
                .token(&t.token)
                .body(&ct, body)
                .send()
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
        }
        assert_eq!(count(app, &t, form).await, 1);
        // XML first (anonymous, open project), then metadata.
        let (ct, body) = multipart(&[(
            "xml_submission_file",
            Some("two.xml"),
            submission("2024010101", "i-2", "Site 2").as_bytes(),
        )]);
        let r = app
            .post("/sync/form_upload/")
            .body(&ct, body.clone())
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(
            count(app, &t, form).await,
            1,
            "a pending upload is not visible"
        );
        let r = app
            .post(&format!("/api/instances/?app_id={app_id}"))
            .json(meta("u-2", "two.xml"))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = app.post("/sync/form_upload/").body(&ct, body).send().await;
        assert_eq!(r.status, 201);
        assert_eq!(count(app, &t, form).await, 2);

        let r = app
            .get(&format!(
                "/api/instances/?form_ids={form}&limit=10&order=id"
            ))
            .token(&t.token)
            .send()
            .await;
        let items = r.json()["instances"].clone();
        let first = &items[0];
        assert_eq!(first["uuid"], "u-1");
        assert_eq!(first["file_content"]["name_of_site"], "Site 1");
        assert_eq!(first["file_content"]["note_text"], "ok & fine");
        assert_eq!(
            first["file_content"]["rooms"],
            json!([{"room_name": "A", "beds": "2"}, {"room_name": "B", "beds": "3"}])
        );
        assert_eq!(first["file_content"]["_version"], "2024010101");
        assert_eq!(first["latitude"], 50.1);
        assert_eq!(
            items[1]["file_content"]["rooms"][1]["room_name"], "B",
            "re-parsed with the descriptor once claimed"
        );
        let id = first["id"].as_i64().unwrap();
        let r = app
            .get(&format!("/api/instances/{id}/"))
            .token(&t.token)
            .send()
            .await;
        assert_eq!(r.status, 200);
        let d = r.json();
        assert_eq!(d["files"].as_array().unwrap().len(), 1);
        assert_eq!(d["form_descriptor"]["id_string"], "demo_form");
        assert_eq!(d["accuracy"], 12.74);
        // Every raw upload was logged.
        let logs = app
            .store()
            .list_api_imports(t.account_id, false, iaso_store::PageRequest::all())
            .await
            .unwrap();
        assert!(logs.count >= 5, "{}", logs.count);
    }
);

api_test!(bad_uploads_are_refused_and_logged, async |app: &TestApp| {
    let (t, form) = setup(app).await;
    let app_id = app_id(app, &t).await;
    let up = |xml: String, name: &str| {
        let (ct, body) = multipart(&[("xml_submission_file", Some(name), xml.as_bytes())]);
        app.post("/sync/form_upload/")
            .token(&t.token)
            .body(&ct, body)
            .send()
    };
    let r = up("<data id=\"demo_form\"><a></data>".into(), "m1.xml").await;
    assert_eq!(r.status, 400, "{}", r.text());
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]><data id=\"demo_form\"><name_of_site>&lol2;</name_of_site></data>";
    let r = up(bomb.into(), "m2.xml").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("DTD"), "{}", r.text());
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><data id=\"demo_form\"><name_of_site>&x;</name_of_site></data>";
    assert_eq!(up(xxe.into(), "m3.xml").await.status, 400);
    let r = up(
        submission("2024010101", "z", "S").replace("id=\"demo_form\"", "id=\"nope\""),
        "m4.xml",
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Unknown form"), "{}", r.text());
    // Wrong content type.
    let r = app
        .post("/sync/form_upload/")
        .token(&t.token)
        .body("application/json", "{}")
        .send()
        .await;
    assert_eq!(r.status, 400);
    // Unknown form in the metadata call.
    let r = app
        .post(&format!("/api/instances/?app_id={app_id}"))
        .token(&t.token)
        .json(json!([{"id": "x", "file": "x.xml", "formId": 999999}]))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Unknown org unit (a uuid that resolves to nothing).
    let r = app.post(&format!("/api/instances/?app_id={app_id}")).token(&t.token)
        .json(json!([{"id": "y", "file": "y.xml", "formId": form, "orgUnitId": "9dcb6991-c72c-416d-ba38-4556c62b400f"}])).send().await;
    assert_eq!(r.status, 400, "{}", r.text());
    // A deleted form accepts no submission.
    app.delete(&format!("/api/forms/{form}/"))
        .token(&t.token)
        .send()
        .await;
    let r = up(submission("2024010101", "d", "S"), "m5.xml").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("deleted"), "{}", r.text());
    assert_eq!(count(app, &t, form).await, 0);
    // Every one of them is in the raw upload log, marked as a problem.
    let logs = app
        .store()
        .list_api_imports(t.account_id, true, iaso_store::PageRequest::all())
        .await
        .unwrap();
    assert!(logs.count >= 7, "{}", logs.count);
    assert!(logs.items.iter().all(|l| !l.exception.is_empty()));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_upload_is_413() {
    for backend in [
        iaso_api::testing::Backend::Sqlite,
        iaso_api::testing::Backend::Postgres,
    ] {
        let Some(app) = TestApp::with_settings(backend, |s| s.max_body_bytes = 50_000).await else {
            continue;
        };
        let (t, _form) = setup(&app).await;
        let app_id = app_id(&app, &t).await;
        let big = vec![b'x'; 80_000];
        let xml = submission("2024010101", "big", "S");
        let (ct, body) = multipart(&[
            ("xml_submission_file", Some("b.xml"), xml.as_bytes()),
            ("photo.jpg", Some("photo.jpg"), &big),
        ]);
        let r = app
            .post("/sync/form_upload/")
            .token(&t.token)
            .body(&ct, body.clone())
            .send()
            .await;
        assert_eq!(r.status, 413, "{}", r.text());
        let r = app
            .post(&format!("/openrosa/{app_id}/submission"))
            .body(&ct, body)
            .send()
            .await;
        assert_eq!(r.status, 413, "{}", r.text());
        app.cleanup().await;
    }
}

api_test!(openrosa_collect_flow, async |app: &TestApp| {
    let (t, _form) = setup(app).await;
    let app_id = app_id(app, &t).await;
    let list = app
        .get(&format!("/openrosa/{app_id}/formList"))
        .send()
        .await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(list.headers["x-openrosa-version"], "1.0");
    let text = list.text();
    let hash = text
        .split("<hash>md5:")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let url = text
        .split("<downloadUrl>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let path = &url[url.find("/openrosa/").unwrap()..];
    let x = app.get(path).send().await;
    assert_eq!(x.status, 200);
    assert_eq!(iaso_ingest::md5_hex(&x.body), hash);

    let head = app
        .request(
            axum::http::Method::HEAD,
            &format!("/openrosa/{app_id}/submission"),
        )
        .send()
        .await;
    assert_eq!(head.status, 204);
    assert!(head
        .headers
        .contains_key("x-openrosa-accept-content-length"));
    let xml = submission("2024010101", "c-1", "Collect");
    let (ct, body) = multipart(&[("xml_submission_file", Some("c.xml"), xml.as_bytes())]);
    let r = app
        .post(&format!("/openrosa/{app_id}/submission"))
        .header("x-openrosa-version", "1.0")
        .body(&ct, body.clone())
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.text().contains("OpenRosaResponse"));
    let r = app
        .post(&format!("/openrosa/{app_id}/submission"))
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let other = xml.replace("Collect", "Changed");
    let (ct, body) = multipart(&[("xml_submission_file", Some("c.xml"), other.as_bytes())]);
    let r = app
        .post(&format!("/openrosa/{app_id}/submission"))
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 409);
    let (ct, body) = multipart(&[(
        "xml_submission_file",
        Some("c.xml"),
        b"<data id=\"demo_form\"><oops></data>".as_slice(),
    )]);
    let r = app
        .post(&format!("/openrosa/{app_id}/submission"))
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("OpenRosaResponse"));
    let r = app.get("/openrosa/no.such.app/formList").send().await;
    assert_eq!(r.status, 404);

    // A project that needs authentication challenges with Basic and accepts it.
    let r = app
        .patch(&format!("/api/projects/{}/", t.project_id.get()))
        .token(&t.token)
        .json(json!({"needs_authentication": true}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .get(&format!("/openrosa/{app_id}/formList"))
        .send()
        .await;
    assert_eq!(r.status, 401);
    assert!(r.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        t.username,
        iaso_api::testing::PASSWORD
    ));
    let r = app
        .get(&format!("/openrosa/{app_id}/formList"))
        .header("authorization", &format!("Basic {basic}"))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let bad = base64::engine::general_purpose::STANDARD.encode(format!("{}:wrong", t.username));
    let r = app
        .get(&format!("/openrosa/{app_id}/formList"))
        .header("authorization", &format!("Basic {bad}"))
        .send()
        .await;
    assert_eq!(r.status, 401);
});

api_test!(review_and_exports, async |app: &TestApp| {
    let (t, form) = setup(app).await;
    let app_id = app_id(app, &t).await;
    for n in 0..3 {
        let xml = submission("2024010101", &format!("e-{n}"), &format!("=Site {n}"));
        let (ct, body) = multipart(&[("xml_submission_file", Some("e.xml"), xml.as_bytes())]);
        let r = app
            .post(&format!("/openrosa/{app_id}/submission"))
            .body(&ct, body)
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = app
        .get(&format!("/api/instances/?form_id={form}&csv=true"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200);
    let csv = r.text();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with(
            "ID du formulaire,Soumission de référence,Version du formulaire,Export id,Latitude"
        ),
        "{header}"
    );
    assert!(
        header.ends_with("name_of_site,visitors,open,gps,note_text,rooms,photo,instanceID"),
        "{header}"
    );
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.contains("'=Site 1"), "formulas are neutralised");
    let r = app
        .get(&format!("/api/instances/?form_id={form}&xlsx=true"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..2], b"PK");
    let r = app
        .get("/api/instances/?csv=true")
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 400);

    // Filters, JsonLogic, PATCH, bulk delete and restore.
    let r = app
        .get(&format!(
            "/api/instances/?form_ids={form}&limit=10&jsonContent={}",
            urlencode(r#"{"==": [{"var": "name_of_site"}, "=Site 2"]}"#)
        ))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["count"], 1);
    let r = app
        .get(&format!(
            "/api/instances/?form_ids={form}&limit=10&jsonContent={}",
            urlencode(r#"{">": [{"var": "visitors"}, 10]}"#)
        ))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.json()["count"], 3);
    let r = app
        .get(&format!("/api/instances/?form_ids={form}&dateFrom=nope"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 400);
    let r = app
        .get(&format!(
            "/api/instances/?form_ids={form}&limit=10&order=id"
        ))
        .token(&t.token)
        .send()
        .await;
    let ids: Vec<i64> = r.json()["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    let r = app
        .patch(&format!("/api/instances/{}/", ids[0]))
        .token(&t.token)
        .json(json!({"period": "202401"}))
        .send()
        .await;
    assert_eq!(r.status, 400, "the form has no period type");
    // Iaso refuses any change to a submission without an org unit.
    let r = app
        .patch(&format!("/api/instances/{}/", ids[0]))
        .token(&t.token)
        .json(json!({"deleted": false}))
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["error"][0],
        "You don't have the permission to modify this instance."
    );
    let r = app
        .post("/api/instances/bulkdelete/")
        .token(&t.token)
        .json(json!({"select_all": true, "unselected_ids": [ids[0]], "form_ids": form.to_string()}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(count(app, &t, form).await, 1);
    let r = app
        .post("/api/instances/bulkdelete/")
        .token(&t.token)
        .json(json!({"selected_ids": [ids[1], ids[2]], "is_deletion": false}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(count(app, &t, form).await, 3);
    let log = app
        .store()
        .list_modifications(
            t.account_id,
            &LogFilter {
                content_type: Some("iaso.instance".into()),
                object_id: Some(ids[1].to_string()),
                ..LogFilter::default()
            },
            PageRequest::new(100, 1),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(log.len(), 3, "created, deleted, restored");
});

// The dashboard's "fill a form" flow: a logged-in browser (session cookie + CSRF header)
// announces the submission with its org unit and period (`POST /api/instances/`), then sends
// the XML that ODK Web Forms produced through OpenRosa; the instanceID's uuid joins the two.
api_test!(dashboard_submits_through_openrosa, async |app: &TestApp| {
    let (t, form) = setup(app).await;
    let g = geo(app, &t).await;
    let app_id = app_id(app, &t).await;
    let r = app
        .patch(&format!("/api/forms/{form}/"))
        .token(&t.token)
        .json(json!({"period_type": "QUARTER", "periods_before_allowed": 4, "periods_after_allowed": 1}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app
        .post("/login/")
        .json(json!({"username": t.username, "password": iaso_api::testing::PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let cookie = r
        .cookies()
        .iter()
        .find(|c| c.starts_with("sessionid="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = r.json()["csrf_token"].as_str().unwrap().to_string();
    let uuid = "5f1c2a8e-0d7b-4c43-9a51-2b0d6f0e7a11";
    let meta = json!([{"id": uuid, "file": format!("{uuid}.xml"), "name": "Web", "formId": form,
        "orgUnitId": g.facilities[0], "period": "2024Q1", "created_at": 1712326182}]);
    // Without the CSRF header a cookie write is refused.
    let r = app
        .post(&format!("/api/instances/?app_id={app_id}"))
        .header("cookie", &cookie)
        .json(meta.clone())
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = app
        .post(&format!("/api/instances/?app_id={app_id}"))
        .header("cookie", &cookie)
        .header("x-csrftoken", &csrf)
        .json(meta)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let xml = submission("2024010101", uuid, "From the browser");
    let (ct, body) = multipart(&[
        (
            "xml_submission_file",
            Some("xml_submission_file"),
            xml.as_bytes(),
        ),
        ("p.jpg", Some("p.jpg"), b"\x89PNG fake".as_slice()),
    ]);
    let post = |body: Vec<u8>| {
        app.post(&format!("/openrosa/{app_id}/submission"))
            .header("cookie", &cookie)
            .header("x-csrftoken", &csrf)
            .body(&ct, body)
            .send()
    };
    let r = post(body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    // A retry (the browser lost the answer) is recognised.
    let r = post(body).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(count(app, &t, form).await, 1);
    let i = app
        .store()
        .instance_by_uuid(t.account_id, uuid)
        .await
        .unwrap();
    assert_eq!(i.org_unit_id, Some(g.facilities[0]));
    assert_eq!(i.period.as_deref(), Some("2024Q1"));
    assert_eq!(i.file_name.as_deref(), Some(format!("{uuid}.xml").as_str()));
    assert_eq!(
        i.created_by.as_ref().map(|u| u.username.as_str()),
        Some(t.username.as_str())
    );
    let d = app
        .get(&format!("/api/instances/{}/", i.id))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(d.status, 200);
    let d = d.json();
    assert_eq!(d["file_content"]["name_of_site"], "From the browser");
    assert_eq!(d["org_unit"]["id"], g.facilities[0]);
    assert_eq!(d["files"].as_array().unwrap().len(), 1);

    // Its history (the dashboard's detail page), for its account only.
    let r = app
        .patch(&format!("/api/instances/{}/", i.id))
        .token(&t.token)
        .json(json!({"period": "2024Q2"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let logs_path = format!(
        "/api/logs/?contentType=iaso.instance&objectId={}&fields=field_diffs",
        i.id
    );
    let r = app.get(&logs_path).token(&t.token).send().await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["count"], 2, "{}", r.text());
    let other = app.tenant("B").await;
    let r = app.get(&logs_path).token(&other.token).send().await;
    assert_eq!(r.status, 401, "{}", r.text());

    // Another account's user cannot post to this account's project.
    let xml = submission("2024010101", "5f1c2a8e-0000-4c43-9a51-2b0d6f0e7a11", "x");
    let (ct, body) = multipart(&[("xml_submission_file", Some("x.xml"), xml.as_bytes())]);
    let r = app
        .post(&format!("/openrosa/{app_id}/submission"))
        .token(&other.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
});
