//! Editing a submission's answers (`POST /api/enketo/submission`, Iaso's Enketo edit path,
//! what the dashboard's "Edit answers" sends): permission, tenancy, locks, form check,
//! re-parsed answers, attachments, audit.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use iaso_api::api_test;
use iaso_api::testing::{Tenant, TestApp};
use iaso_store::audit::LogFilter;
use iaso_store::PageRequest;
use serde_json::json;

/// A submission at a facility (mobile pair) with its photo `p.jpg`.
async fn submission_with_photo(app: &TestApp, t: &Tenant, form: i64, unit: i64) -> i64 {
    let app_id = app_id(app, t).await;
    let uuid = "0b0f6c1e-5e59-4a1c-9a5e-000000000001";
    let item = json!({"id": uuid, "file": format!("/sdcard/{uuid}.xml"), "name": "Site", "formId": form,
        "orgUnitId": unit, "created_at": 1712326182.45, "updated_at": 1712326182.45});
    let r = app
        .post(&format!("/api/instances/?app_id={app_id}"))
        .token(&t.token)
        .json(json!([item]))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let xml = submission("2024010101", uuid, "First name");
    let name = format!("{uuid}.xml");
    let (ct, body) = multipart(&[
        ("xml_submission_file", Some(&name), xml.as_bytes()),
        ("p.jpg", Some("p.jpg"), b"old photo"),
    ]);
    let r = app
        .post("/sync/form_upload/")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    app.store()
        .instance_by_uuid(t.account_id, uuid)
        .await
        .unwrap()
        .id
}

/// The XML Web Forms sends back after an edit, with `iasoInstance` on the root.
fn edited(id: i64, site: &str, photo: &str) -> String {
    submission("2024010101", "0b0f6c1e-5e59-4a1c-9a5e-000000000002", site)
        .replace(
            "<data id=\"demo_form\"",
            &format!("<data iasoInstance=\"{id}\" id=\"demo_form\""),
        )
        .replace("<photo>p.jpg</photo>", &format!("<photo>{photo}</photo>"))
        .replace(
            "</instanceID>",
            "</instanceID><deprecatedID>uuid:0b0f6c1e-5e59-4a1c-9a5e-000000000001</deprecatedID><editUserID>1</editUserID>",
        )
}

async fn post_edit(
    app: &TestApp,
    token: &str,
    xml: &str,
    media: &[(&str, &[u8])],
) -> iaso_api::testing::TestResponse {
    let mut parts: Vec<(&str, Option<&str>, &[u8])> =
        vec![("xml_submission_file", Some("edit.xml"), xml.as_bytes())];
    for (name, data) in media {
        parts.push((name, Some(name), data));
    }
    let (ct, body) = multipart(&parts);
    app.post("/api/enketo/submission")
        .token(token)
        .body(&ct, body)
        .send()
        .await
}

async fn user_with(
    app: &TestApp,
    admin: &Tenant,
    name: &str,
    units: &[i64],
    perms: &[&str],
) -> Tenant {
    let r = app
        .post("/api/profiles/")
        .token(&admin.token)
        .json(
            json!({"user_name": name, "password": "a-long-passphrase", "org_units": units,
                     "user_permissions": perms}),
        )
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let token = app.login(name, "a-long-passphrase").await;
    Tenant {
        token,
        username: name.into(),
        ..admin.clone()
    }
}

api_test!(
    edit_answers_replaces_xml_and_attachments,
    async |app: &TestApp| {
        let (t, form) = setup(app).await;
        let g = geo(app, &t).await;
        set_form_types(app, &t, form, &[g.hf_type]).await;
        let id = submission_with_photo(app, &t, form, g.facilities[0]).await;
        let before = app
            .get(&format!("/api/instances/{id}/"))
            .token(&t.token)
            .send()
            .await
            .json();
        assert_eq!(before["file_content"]["name_of_site"], "First name");

        let r = post_edit(
            app,
            &t.token,
            &edited(id, "Second name", "q.jpg"),
            &[("q.jpg", b"new photo")],
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.json()["result"], "success");
        assert_eq!(r.json()["instance_id"], id);
        assert_eq!(r.json()["removed_files"], json!(["p.jpg"]));

        let d = app
            .get(&format!("/api/instances/{id}/"))
            .token(&t.token)
            .send()
            .await
            .json();
        assert_eq!(d["file_content"]["name_of_site"], "Second name");
        assert_eq!(d["file_content"]["photo"], "q.jpg");
        assert_eq!(d["file_content"]["editUserID"], "1");
        assert_eq!(
            d["file_content"]["rooms"][1]["beds"], "3",
            "{}",
            d["file_content"]
        );
        assert_eq!(d["last_modified_by"], t.username.as_str());
        assert!(
            d["source_updated_at"].as_f64().unwrap()
                > before["source_updated_at"].as_f64().unwrap()
        );
        // Same org unit, same form, same id.
        assert_eq!(d["org_unit"]["id"], g.facilities[0]);
        assert_eq!(d["form_id"], form);
        // The stored XML is the edited one.
        let url = d["file_url"].as_str().unwrap();
        let x = app.get(&url[url.find("/files/").unwrap()..]).send().await;
        assert!(x.text().contains("Second name"));
        // The old photo is marked deleted, the new one listed.
        let files = d["files"].as_array().unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].as_str().unwrap().contains("q.jpg"));
        assert_eq!(
            app.store().instance_file_states(id).await.unwrap(),
            vec![("p.jpg".to_string(), true), ("q.jpg".to_string(), false)]
        );
        // Audited: before and after, source instance_api, by the editor.
        let log = app
            .store()
            .list_modifications(
                t.account_id,
                &LogFilter {
                    content_type: Some("iaso.instance".into()),
                    object_id: Some(id.to_string()),
                    ..LogFilter::default()
                },
                PageRequest::new(100, 1),
            )
            .await
            .unwrap()
            .items;
        let edit = log.iter().find(|l| l.source == "instance_api").unwrap();
        assert_eq!(
            edit.past_value[0]["fields"]["json"]["name_of_site"],
            "First name"
        );
        assert_eq!(
            edit.new_value[0]["fields"]["json"]["name_of_site"],
            "Second name"
        );

        // Sending the same edit again changes nothing and is not audited again.
        let r = post_edit(
            app,
            &t.token,
            &edited(id, "Second name", "q.jpg"),
            &[("q.jpg", b"new photo")],
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text());
        assert_eq!(r.json()["unchanged"], true);
        let again = app
            .store()
            .list_modifications(
                t.account_id,
                &LogFilter {
                    content_type: Some("iaso.instance".into()),
                    object_id: Some(id.to_string()),
                    ..LogFilter::default()
                },
                PageRequest::new(100, 1),
            )
            .await
            .unwrap()
            .items;
        assert_eq!(again.len(), log.len());
    }
);

async fn name_of(app: &TestApp, token: &str, id: i64) -> serde_json::Value {
    app.get(&format!("/api/instances/{id}/"))
        .token(token)
        .send()
        .await
        .json()["file_content"]["name_of_site"]
        .clone()
}

api_test!(edit_answers_is_refused, async |app: &TestApp| {
    let (t, form) = setup(app).await;
    let g = geo(app, &t).await;
    set_form_types(app, &t, form, &[g.hf_type]).await;
    let id = submission_with_photo(app, &t, form, g.facilities[0]).await;
    let xml = edited(id, "Changed", "p.jpg");

    // Another account: 404, as for any id it does not have.
    let b = app.tenant("B").await;
    let r = post_edit(app, &b.token, &xml, &[]).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = post_edit(app, &t.token, &edited(987_654, "x", "p.jpg"), &[]).await;
    assert_eq!(r.status, 404, "{}", r.text());

    // Without iaso_update_submission: 403, even with read access.
    let reader = user_with(app, &t, "reader", &[], &["iaso_submissions", "iaso_forms"]).await;
    let r = post_edit(app, &reader.token, &xml, &[]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    // Anonymous: 401.
    let (ct, body) = multipart(&[("xml_submission_file", Some("e.xml"), xml.as_bytes())]);
    let r = app
        .post("/api/enketo/submission")
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 401, "{}", r.text());

    // Outside the editor's sub-tree: 404.
    let editor_perms = ["iaso_submissions", "iaso_forms", "iaso_update_submission"];
    let sahel = user_with(app, &t, "sahel", &[g.other_region], &editor_perms).await;
    let r = post_edit(app, &sahel.token, &xml, &[]).await;
    assert_eq!(r.status, 404, "{}", r.text());

    // Locked above the editor's level: 403 with words; the answers stay.
    let district = user_with(app, &t, "district", &[g.district], &editor_perms).await;
    let r = app
        .post(&format!("/api/instances/{id}/add_lock/"))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let lock = r.json()["lock_id"].as_i64().unwrap();
    let r = post_edit(app, &district.token, &xml, &[]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("locked"), "{}", r.text());
    assert_eq!(name_of(app, &t.token, id).await, "First name");
    // The locker's level may still edit; after unlocking, the district editor too.
    let r = app
        .post("/api/instances/unlock_lock/")
        .token(&t.token)
        .json(json!({"lock": lock}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = post_edit(app, &district.token, &xml, &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(name_of(app, &t.token, id).await, "Changed");

    // Another form's answers: 400 naming both forms.
    let other = xml.replace("id=\"demo_form\"", "id=\"other_form\"");
    let r = post_edit(app, &t.token, &other, &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let msg = r.json()["xml_submission_file"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("other_form") && msg.contains("demo_form"),
        "{msg}"
    );

    // No iasoInstance, malformed XML, a DTD: 400.
    let r = post_edit(app, &t.token, &submission("2024010101", "n", "S"), &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("iasoInstance"), "{}", r.text());
    let r = post_edit(
        app,
        &t.token,
        &format!("<data iasoInstance=\"{id}\" id=\"demo_form\"><oops></data>"),
        &[],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let dtd = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE data [<!ENTITY x \"boom\">]><data iasoInstance=\"{id}\" id=\"demo_form\"><name_of_site>&x;</name_of_site></data>"
    );
    let r = post_edit(app, &t.token, &dtd, &[]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("DTD"), "{}", r.text());
    // No XML part.
    let (ct, body) = multipart(&[("other", None, b"x")]);
    let r = app
        .post("/api/enketo/submission")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(name_of(app, &t.token, id).await, "Changed");

    // OpenRosa pre-flight.
    let r = app
        .request(axum::http::Method::HEAD, "/api/enketo/submission")
        .send()
        .await;
    assert_eq!(r.status, 204);
    assert!(r.headers.contains_key("x-openrosa-accept-content-length"));
});

api_test!(
    edit_answers_needs_a_multipart_body,
    async |app: &TestApp| {
        let (t, form) = setup(app).await;
        let g = geo(app, &t).await;
        set_form_types(app, &t, form, &[g.hf_type]).await;
        let id = submission_with_photo(app, &t, form, g.facilities[0]).await;
        let xml = edited(id, "Changed", "p.jpg");
        for ct in ["application/xml", "application/json", "multipart/form-data"] {
            let r = app
                .post("/api/enketo/submission")
                .token(&t.token)
                .body(ct, xml.clone().into_bytes())
                .send()
                .await;
            assert_eq!(r.status, 400, "{ct}: {}", r.text());
            assert!(r.text().contains("multipart/form-data"), "{}", r.text());
        }
        assert_eq!(name_of(app, &t.token, id).await, "First name");
    }
);

async fn oversized_edit_is_413(backend: iaso_api::testing::Backend) {
    let Some(app) = TestApp::with_settings(backend, |s| s.max_body_bytes = 50_000).await else {
        return;
    };
    let (t, form) = setup(&app).await;
    let g = geo(&app, &t).await;
    set_form_types(&app, &t, form, &[g.hf_type]).await;
    let id = submission_with_photo(&app, &t, form, g.facilities[0]).await;
    let big = vec![b'x'; 80_000];
    let r = post_edit(
        &app,
        &t.token,
        &edited(id, "Changed", "big.jpg"),
        &[("big.jpg", &big)],
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(name_of(&app, &t.token, id).await, "First name");
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_edit_is_413_sqlite() {
    oversized_edit_is_413(iaso_api::testing::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_edit_is_413_postgres() {
    oversized_edit_is_413(iaso_api::testing::Backend::Postgres).await;
}
