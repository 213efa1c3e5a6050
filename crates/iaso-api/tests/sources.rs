//! Data sources, versions, org unit types, groups and group sets through the API.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use iaso_api::api_test;
use iaso_api::testing::{Tenant, TestApp};
use serde_json::{json, Value};

async fn user_with(app: &TestApp, a: &Tenant, name: &str, perms: &[&str]) -> String {
    let r = app
        .post("/api/profiles/")
        .token(&a.token)
        .json(
            json!({"user_name": name, "password": "a-long-passphrase", "user_permissions": perms}),
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    app.login(name, "a-long-passphrase").await
}

api_test!(sources_and_versions, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let list = app
        .get("/api/datasources/")
        .token(&a.token)
        .send()
        .await
        .json();
    let default = &list["sources"][0];
    assert_eq!(default["name"], "A");
    assert_eq!(default["default_version"]["number"], 1);
    assert_eq!(default["projects"][0][0]["id"], a.project_id.get());
    assert!(default["created_at"].as_str().unwrap().ends_with('Z'));
    let r = app
        .post("/api/datasources/")
        .token(&a.token)
        .json(json!({"name": "DHIS2 import", "description": "d", "project_ids": [a.project_id], "read_only": true}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let src = r.json();
    assert_eq!(src["versions"], json!([]));
    let r = app
        .post("/api/datasources/")
        .token(&a.token)
        .json(json!({"name": "dhis2 IMPORT"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json().get("name").is_some());
    // Versions are numbered 1, 2, ...
    for n in 1..=2 {
        let v = app
            .post("/api/sourceversions/")
            .token(&a.token)
            .json(json!({"data_source_id": src["id"], "description": format!("v{n}")}))
            .send()
            .await
            .json();
        assert_eq!(v["number"], n);
        assert_eq!(v["data_source_name"], "DHIS2 import");
        assert_eq!(v["org_units_count"], 0);
    }
    let versions = app
        .get(&format!("/api/sourceversions/?source={}", src["id"]))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);
    let v2 = versions["versions"][1]["id"].as_i64().unwrap();
    // Default version: needs its own permission; must be a version of this source.
    let r = app
        .put(&format!("/api/datasources/{}/", src["id"]))
        .token(&a.token)
        .json(json!({"name": "DHIS2", "default_version_id": v2, "project_ids": [a.project_id]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["default_version"]["id"], v2);
    let other_version = default["default_version"]["id"].clone();
    let r = app
        .put(&format!("/api/datasources/{}/", src["id"]))
        .token(&a.token)
        .json(json!({"default_version_id": other_version}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Paged list.
    let page = app
        .get("/api/datasources/?limit=1&page=2&order=-name")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(page["count"], 2);
    assert_eq!(page["sources"][0]["name"], "A");
    assert_eq!(
        app.get("/api/datasources/?limit=1&page=9")
            .token(&a.token)
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Deleting a version drops it as a default.
    let r = app
        .delete(&format!("/api/sourceversions/{v2}/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let s = app
        .get(&format!("/api/datasources/{}/", src["id"]))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(s["default_version"], Value::Null);
    // Permissions.
    let reader = user_with(app, &a, "reader", &["iaso_org_units_read"]).await;
    assert_eq!(
        app.get("/api/datasources/")
            .token(&reader)
            .send()
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/datasources/")
            .token(&reader)
            .json(json!({"name": "x"}))
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let nobody = user_with(app, &a, "nobody", &[]).await;
    assert_eq!(
        app.get("/api/datasources/")
            .token(&nobody)
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/sourceversions/")
            .token(&nobody)
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
});

api_test!(org_unit_types_v1_v2, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let create = |body: Value| {
        let token = a.token.clone();
        async move {
            app.post("/api/v2/orgunittypes/")
                .token(&token)
                .json(body)
                .send()
                .await
        }
    };
    let hf = create(json!({"name": "Health facility", "short_name": "HF", "depth": 3, "project_ids": [a.project_id]})).await.json();
    let district = create(json!({"name": "District", "short_name": "DS", "depth": 2, "project_ids": [a.project_id],
        "sub_unit_type_ids": [hf["id"]], "allow_creating_sub_unit_type_ids": [hf["id"]], "category": "DISTRICT"})).await;
    assert_eq!(district.status, StatusCode::CREATED, "{}", district.text());
    let district = district.json();
    assert_eq!(district["sub_unit_types"][0]["id"], hf["id"]);
    assert_eq!(
        district["allow_creating_sub_unit_types"][0]["short_name"],
        "HF"
    );
    assert_eq!(district["projects"][0]["app_id"], "a");
    // A cycle in the type graph is refused.
    let r = app
        .patch(&format!("/api/v2/orgunittypes/{}/", hf["id"]))
        .token(&a.token)
        .json(json!({"sub_unit_type_ids": [district["id"]]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json().get("sub_unit_type_ids").is_some());
    for (body, key) in [
        (
            json!({"short_name": "x", "project_ids": [a.project_id]}),
            "name",
        ),
        (
            json!({"name": "x", "short_name": "x", "project_ids": []}),
            "project_ids",
        ),
        (
            json!({"name": "x", "short_name": "x", "project_ids": [999999]}),
            "project_ids",
        ),
    ] {
        let r = create(body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.json().get(key).is_some(), "{key}");
    }
    // Lists (iaso-client pages through `orgUnitTypes` with order=id).
    let page = app
        .get("/api/v2/orgunittypes/?page=1&limit=1&order=id")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(page["orgUnitTypes"][0]["id"], hf["id"]);
    assert_eq!(page["has_next"], true);
    let v1 = app
        .get("/api/orgunittypes/?search=dist")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(v1["orgUnitTypes"][0]["sub_unit_types"][0]["id"], hf["id"]);
    assert!(v1["orgUnitTypes"][0]
        .get("allow_creating_sub_unit_types")
        .is_none());
    let h = app
        .get(&format!(
            "/api/v2/orgunittypes/{}/hierarchy/",
            district["id"]
        ))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(h["category"], "DISTRICT");
    assert_eq!(h["sub_unit_types"][0]["name"], "Health facility");
    let detail = app
        .get(&format!("/api/v2/orgunittypes/{}/", hf["id"]))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(detail["units_count"], 0);
    // A type in use cannot be deleted; an unused one can.
    app.post("/api/orgunits/create_org_unit/")
        .token(&a.token)
        .json(json!({"name": "CSPS", "org_unit_type_id": hf["id"]}))
        .send()
        .await;
    let r = app
        .delete(&format!("/api/v2/orgunittypes/{}/", hf["id"]))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!("You can't delete a type that still has org units")
    );
    let r = app
        .delete(&format!("/api/orgunittypes/{}/", district["id"]))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // Another account's types are neither visible nor usable as sub types.
    let b = app.tenant("B").await;
    let r = app
        .get(&format!("/api/v2/orgunittypes/{}/hierarchy/", hf["id"]))
        .token(&b.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.post("/api/v2/orgunittypes/").token(&b.token)
        .json(json!({"name": "x", "short_name": "x", "project_ids": [b.project_id], "sub_unit_type_ids": [hf["id"]]})).send().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Writing needs iaso_org_unit_types; reading does not.
    let reader = user_with(app, &a, "reader", &[]).await;
    assert_eq!(
        app.get("/api/v2/orgunittypes/")
            .token(&reader)
            .send()
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/v2/orgunittypes/")
            .token(&reader)
            .json(json!({"name": "x"}))
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Anonymous reading through a public app (v1, for the mobile app).
    let r = app.get("/api/orgunittypes/?app_id=a").send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["orgUnitTypes"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/api/orgunittypes/").send().await.status,
        StatusCode::UNAUTHORIZED
    );
});

api_test!(groups_and_group_sets, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let t = app
        .post("/api/v2/orgunittypes/")
        .token(&a.token)
        .json(json!({"name": "HF", "short_name": "HF", "project_ids": [a.project_id]}))
        .send()
        .await
        .json();
    let mut units = Vec::new();
    for i in 0..3 {
        let u = app.post("/api/orgunits/create_org_unit/").token(&a.token)
            .json(json!({"name": format!("U{i}"), "org_unit_type_id": t["id"], "validation_status": "VALID"})).send().await.json();
        units.push(u["id"].as_i64().unwrap());
    }
    let r = app
        .post("/api/groups/")
        .token(&a.token)
        .json(json!({"name": "Public", "source_ref": "pub", "org_unit_ids": [units[0], units[1]]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let g = r.json();
    assert_eq!(g["org_unit_count"], 2);
    assert_eq!(g["source_version"]["number"], 1);
    assert_eq!(g["source_version"]["data_source"]["name"], "A");
    let r = app
        .post("/api/groups/")
        .token(&a.token)
        .json(json!({"name": "Dup", "source_ref": "pub"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .patch(&format!("/api/groups/{}/", g["id"]))
        .token(&a.token)
        .json(json!({"org_unit_ids": [units[2]]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["org_units"], json!([units[2]]));
    let list = app
        .get("/api/groups/?search=pub&defaultVersion=true")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(list["groups"].as_array().unwrap().len(), 1);
    let in_group = app
        .get(&format!("/api/orgunits/?limit=10&group={}", g["id"]))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(in_group["count"], 1);
    assert_eq!(in_group["orgunits"][0]["groups"][0]["name"], "Public");
    // Another account's units cannot join.
    let b = app.tenant("B").await;
    let tb = app
        .post("/api/v2/orgunittypes/")
        .token(&b.token)
        .json(json!({"name": "HF", "short_name": "HF", "project_ids": [b.project_id]}))
        .send()
        .await
        .json();
    let ub = app
        .post("/api/orgunits/create_org_unit/")
        .token(&b.token)
        .json(json!({"name": "B1", "org_unit_type_id": tb["id"]}))
        .send()
        .await
        .json();
    let r = app
        .patch(&format!("/api/groups/{}/", g["id"]))
        .token(&a.token)
        .json(json!({"org_unit_ids": [ub["id"]]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Group sets.
    let me = app
        .get("/api/profiles/me/")
        .token(&a.token)
        .send()
        .await
        .json();
    let version = me["account"]["default_version"]["id"].clone();
    let r = app.post("/api/group_sets/").token(&a.token)
        .json(json!({"name": "Ownership", "source_version_id": version, "group_ids": [g["id"]], "group_belonging": "MULTIPLE"})).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let set = r.json();
    assert_eq!(set["group_ids"], json!([g["id"]]));
    let sets = app
        .get("/api/group_sets/")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(sets["count"], 1);
    assert_eq!(sets["limit"], 10);
    assert!(sets["group_sets"][0].get("groups").is_none());
    let sets = app
        .get("/api/group_sets/?fields=:all")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(sets["group_sets"][0]["groups"][0]["name"], "Public");
    let r = app
        .post("/api/group_sets/")
        .token(&a.token)
        .json(json!({"name": "x"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json().get("source_version_id").is_some());
    let r = app
        .patch(&format!("/api/group_sets/{}/", set["id"]))
        .token(&a.token)
        .json(json!({"group_belonging": "MAYBE"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let g_detail = app
        .get(&format!("/api/groups/{}/", g["id"]))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(g_detail["group_sets"][0]["name"], "Ownership");
    assert_eq!(
        app.delete(&format!("/api/group_sets/{}/", set["id"]))
            .token(&a.token)
            .send()
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&format!("/api/groups/{}/", g["id"]))
            .token(&a.token)
            .send()
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Read-only users cannot write.
    let reader = user_with(app, &a, "reader", &["iaso_org_units_read"]).await;
    assert_eq!(
        app.get("/api/groups/").token(&reader).send().await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/groups/")
            .token(&reader)
            .json(json!({"name": "x"}))
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
});

api_test!(account_default_version, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let b = app.tenant("B").await;
    let source_of = async |t: &Tenant| {
        app.get("/api/datasources/")
            .token(&t.token)
            .send()
            .await
            .json()["sources"][0]["id"]
            .clone()
    };
    let (sa, sb) = (source_of(&a).await, source_of(&b).await);
    let v2 = app
        .post("/api/sourceversions/")
        .token(&a.token)
        .json(json!({"data_source_id": sa, "description": "second"}))
        .send()
        .await
        .json()["id"]
        .clone();
    let vb = app
        .post("/api/sourceversions/")
        .token(&b.token)
        .json(json!({"data_source_id": sb}))
        .send()
        .await
        .json()["id"]
        .clone();
    let path = format!("/api/accounts/{}/set-default-version/", a.account_id.get());
    let r = app
        .put(&path)
        .token(&a.token)
        .json(json!({"default_version": v2}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let me = app
        .get("/api/profiles/me/")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(me["account"]["default_version"]["id"], v2);
    assert_eq!(me["account"]["default_version"]["number"], 2);
    // Another account's version: refused, nothing changed.
    let r = app
        .patch(&path)
        .token(&a.token)
        .json(json!({"default_version": vb}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["default_version"][0]
        .as_str()
        .unwrap()
        .contains("not allowed"));
    let r = app.put(&path).token(&a.token).json(json!({})).send().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Another account: not found; without iaso_sources: forbidden.
    let r = app
        .put(&path)
        .token(&b.token)
        .json(json!({"default_version": vb}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let reader = user_with(app, &a, "reader", &["iaso_org_units"]).await;
    let r = app
        .put(&path)
        .token(&reader)
        .json(json!({"default_version": v2}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let me = app
        .get("/api/profiles/me/")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(me["account"]["default_version"]["id"], v2);
});
