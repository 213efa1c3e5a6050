//! Org units through the API on both backends: list/search/paging, detail, PATCH rules, tree,
//! profile sub-tree restriction, mobile pyramid and delta sync, audit log.
#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use iaso_api::api_test;
use iaso_api::testing::{Tenant, TestApp};
use serde_json::{json, Value};

async fn new_type(app: &TestApp, t: &Tenant, name: &str, depth: i64) -> i64 {
    let r = app
        .post("/api/v2/orgunittypes/")
        .token(&t.token)
        .json(json!({"name": name, "short_name": &name[..3], "depth": depth, "project_ids": [t.project_id]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

async fn new_unit(app: &TestApp, t: &Tenant, body: Value) -> Value {
    let r = app
        .post("/api/orgunits/create_org_unit/")
        .token(&t.token)
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

fn square(x: f64, y: f64, s: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]]})
}

/// A country with two regions, a district and three facilities.
struct Pyramid {
    country: i64,
    region_a: i64,
    region_b: i64,
    district: i64,
    facilities: Vec<i64>,
    hf_type: i64,
}

async fn pyramid(app: &TestApp, t: &Tenant) -> Pyramid {
    let country_t = new_type(app, t, "Country", 0).await;
    let region_t = new_type(app, t, "Region", 1).await;
    let hf_t = new_type(app, t, "Health facility", 3).await;
    let country = new_unit(
        app,
        t,
        json!({"name": "Burkina", "org_unit_type_id": country_t, "validation_status": "VALID",
        "geom": square(-5.0, 9.0, 8.0), "source_ref": "BF"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let region_a = new_unit(
        app,
        t,
        json!({"name": "Centre", "org_unit_type_id": region_t, "parent_id": country,
        "validation_status": "VALID", "geom": square(-2.0, 12.0, 1.0), "aliases": ["Kadiogo"]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let region_b = new_unit(
        app,
        t,
        json!({"name": "Sahel", "org_unit_type_id": region_t, "parent_id": country,
        "validation_status": "VALID"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let district = new_unit(
        app,
        t,
        json!({"name": "Baskuy", "org_unit_type_id": region_t, "parent_id": region_a,
        "validation_status": "VALID"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let mut facilities = Vec::new();
    for (i, (name, parent, status)) in [
        ("CSPS Larle", district, "VALID"),
        ("CSPS Dapoya", district, "VALID"),
        ("CSPS Dori", region_b, "NEW"),
    ]
    .into_iter()
    .enumerate()
    {
        let u = new_unit(app, t, json!({"name": name, "org_unit_type_id": hf_t, "parent_id": parent, "validation_status": status,
            "latitude": 12.3 + i as f64 * 0.01, "longitude": -1.5, "altitude": 300, "opening_date": "01-02-2020"})).await;
        facilities.push(u["id"].as_i64().unwrap());
    }
    Pyramid {
        country,
        region_a,
        region_b,
        district,
        facilities,
        hf_type: hf_t,
    }
}

api_test!(list_search_and_paging, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let p = pyramid(app, &a).await;
    // Paged shape (iaso-client reads `orgunits` and `has_next`).
    let r = app
        .get("/api/orgunits/?limit=2&page=1&order=id")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let page = r.json();
    for k in [
        "count",
        "counts",
        "orgunits",
        "has_next",
        "has_previous",
        "page",
        "pages",
        "limit",
    ] {
        assert!(page.get(k).is_some(), "missing {k} in {page}");
    }
    assert_eq!(page["count"], 6, "VALID only by default");
    assert_eq!(page["pages"], 3);
    assert_eq!(page["orgunits"][0]["id"], p.country);
    let item = &page["orgunits"][1];
    assert_eq!(item["parent"]["id"], p.country);
    assert_eq!(item["parent"]["parent"], Value::Null);
    assert_eq!(item["org_unit_type"]["name"], "Region");
    assert_eq!(item["projects"][0]["id"], a.project_id.get());
    assert_eq!(item["has_geo_json"], true);
    assert!(item["created_at"].as_f64().is_some());
    // Out-of-range pages are clamped (Iaso's hand-made paginator).
    let last = app
        .get("/api/orgunits/?limit=2&page=99&order=id")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(last["page"], 3);
    assert_eq!(last["has_next"], false);
    // Search in names, aliases (exact), ids:, refs:; all statuses.
    for (q, n) in [
        ("search=csps&validation_status=all", 3),
        ("search=kadiogo", 1),
        ("search=kadio", 0),
        (
            &format!("search=ids:{},{}", p.country, p.district) as &str,
            2,
        ),
        ("search=refs:BF", 1),
        ("validation_status=NEW", 1),
        (&format!("orgUnitParentId={}", p.region_a), 4),
        (
            &format!("orgUnitParentId={}&onlyDirectChildren=false", p.region_a),
            3,
        ),
        (&format!("parent_id={}", p.district), 2),
        ("parent_id=0", 1),
        (&format!("orgUnitTypeId={}", p.hf_type), 2),
        ("withShape=true", 2),
        ("geography=location", 2),
        ("bbox=-1.6,12.2,-1.4,12.4", 4),
        ("depth=4", 2),
        ("open_date=01-01-2021", 6),
        ("open_date=01-01-2019", 4),
    ] {
        let r = app
            .get(&format!("/api/orgunits/?limit=10&{q}"))
            .token(&a.token)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text());
        assert_eq!(r.json()["count"], n, "{q}");
    }
    // `searches`: one result list with search_index and per-search counts.
    let searches = serde_json::to_string(
        &json!([{"search": "csps"}, {"search": "centre", "validation_status": "all"}]),
    )
    .unwrap();
    let r = app
        .get(&format!(
            "/api/orgunits/?limit=10&searches={}",
            urlencode(&searches)
        ))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(
        r["counts"],
        json!([{"index": 0, "count": 2}, {"index": 1, "count": 1}])
    );
    assert_eq!(r["orgunits"].as_array().unwrap().len(), 3);
    // Without limit: Iaso's mobile-style dicts under `orgUnits`.
    let r = app
        .get("/api/orgunits/?order=-name")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(r["orgUnits"].as_array().unwrap().len(), 6);
    assert_eq!(r["orgUnits"][0]["name"], "Sahel");
    // smallSearch, fields, asLocation.
    let r = app
        .get("/api/orgunits/?limit=5&smallSearch=true&search=larle")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(r["orgunits"][0]["parent"]["parent"]["name"], "Centre");
    let r = app
        .get("/api/orgunits/?limit=5&fields=id,name")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(r["orgunits"][0].as_object().unwrap().len(), 2);
    let r = app
        .get("/api/orgunits/?limit=5&fields=nope")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json().get("fields").is_some());
    let r = app
        .get("/api/orgunits/?asLocation=true&limit=10")
        .token(&a.token)
        .send()
        .await
        .json();
    let shaped = r
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == p.country)
        .unwrap();
    assert_eq!(
        shaped["geo_json"]["features"][0]["geometry"]["type"],
        "MultiPolygon"
    );
    // Bad parameters are named.
    let r = app
        .get("/api/orgunits/?limit=5&orgUnitTypeId=x")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json().get("orgUnitTypeId").is_some());
    let _ = p.facilities;
});

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

api_test!(detail_and_changes, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let p = pyramid(app, &a).await;
    let r = app
        .get(&format!("/api/orgunits/{}/", p.facilities[0]))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let d = r.json();
    assert_eq!(d["parent"]["id"], p.district);
    assert_eq!(d["parent"]["parent"]["id"], p.region_a);
    assert_eq!(d["parent"]["parent"]["parent"]["id"], p.country);
    // The nearest shaped ancestor carries its shape for the map.
    assert!(d["parent"]["parent"]["geo_json"]["features"].is_array());
    assert_eq!(d["opening_date"], "01/02/2020");
    assert_eq!(d["altitude"], 300.0);
    assert_eq!(d["org_unit_type"]["name"], "Health facility");
    assert_eq!(d["geo_json"], Value::Null);

    // PATCH: rename, move, aliases, groups, location.
    let group = app
        .post("/api/groups/")
        .token(&a.token)
        .json(json!({"name": "Public"}))
        .send()
        .await
        .json();
    let r = app
        .patch(&format!("/api/orgunits/{}/", p.district))
        .token(&a.token)
        .json(json!({"name": " Baskuy district ", "parent_id": p.region_b, "aliases": ["B", ""], "groups": [group["id"]],
                     "latitude": 12.0, "longitude": -1.0, "altitude": 10}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let d = r.json();
    assert_eq!(d["name"], "Baskuy district");
    assert_eq!(d["parent_id"], p.region_b);
    assert_eq!(d["aliases"], json!(["B"]));
    assert_eq!(d["groups"][0]["id"], group["id"]);
    // The sub-tree followed.
    let r = app
        .get(&format!(
            "/api/orgunits/?limit=10&orgUnitParentId={}",
            p.region_b
        ))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(r["count"], 4);

    // Errors are Iaso's [{errorKey, errorMessage}] and name the field.
    for (body, key) in [
        (json!({"parent_id": p.facilities[0]}), "parent_id"),
        (
            json!({"geom": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}),
            "geom",
        ),
        (
            json!({"geom": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]}}),
            "geom",
        ),
        (
            json!({"opening_date": "2021-05-01", "closed_date": "2020-01-01"}),
            "closed_date",
        ),
        (json!({"closed_date": "31-31-2020"}), "closed_date"),
        (json!({"validation_status": "MAYBE"}), "validation_status"),
        (json!({"latitude": 95, "longitude": 0}), "latitude"),
        (json!({"org_unit_type_id": "x"}), "org_unit_type_id"),
    ] {
        let r = app
            .patch(&format!("/api/orgunits/{}/", p.district))
            .token(&a.token)
            .json(body.clone())
            .send()
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text());
        let errors = r.json();
        assert!(
            errors
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["errorKey"] == key),
            "{body}: {errors}"
        );
    }
    // Another account's ids are not found.
    let b = app.tenant("B").await;
    let bp = pyramid(app, &b).await;
    let r = app
        .patch(&format!("/api/orgunits/{}/", p.district))
        .token(&a.token)
        .json(json!({"parent_id": bp.country}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post("/api/orgunits/create_org_unit/")
        .token(&a.token)
        .json(json!({"name": "x", "org_unit_type_id": p.hf_type, "parent_id": bp.country}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post("/api/orgunits/create_org_unit/")
        .token(&a.token)
        .json(json!({"name": "x", "org_unit_type_id": bp.hf_type, "parent_id": p.country}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .get(&format!("/api/orgunits/{}/", bp.country))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // History of the district: creation then the change.
    let logs = app
        .get(&format!(
            "/api/logs/?contentType=iaso.orgunit&objectId={}&fields=field_diffs",
            p.district
        ))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(logs["count"], 2);
    let change = &logs["list"][0];
    assert_eq!(change["source"], "org_unit_api");
    assert_eq!(change["content_type"], "iaso");
    assert_eq!(change["user"]["user_name"], a.username);
    assert_eq!(
        change["field_diffs"]["modified"]["name"]["after"],
        "Baskuy district"
    );
    let one = app
        .get(&format!("/api/logs/{}/", change["id"]))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(
        one["new_value"][0]["fields"]["org_unit_type"]["name"],
        "Region"
    );
    let r = app.get("/api/logs/").token(&a.token).send().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .get(&format!(
            "/api/logs/?contentType=iaso.orgunit&objectId={}",
            bp.country
        ))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
});

api_test!(tree_and_tree_search, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let p = pyramid(app, &a).await;
    let roots = app
        .get("/api/orgunits/tree/?validation_status=VALID")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(
        roots,
        json!([{"id": p.country, "name": "Burkina", "validation_status": "VALID", "has_children": true,
        "org_unit_type_id": roots[0]["org_unit_type_id"], "org_unit_type_short_name": "Cou"}])
    );
    let kids = app
        .get(&format!(
            "/api/orgunits/tree/?parent_id={}&validation_status=VALID",
            p.region_b
        ))
        .token(&a.token)
        .send()
        .await
        .json();
    // Sahel's only child is NEW: filtered out.
    assert_eq!(kids, json!([]));
    let kids = app
        .get(&format!("/api/orgunits/tree/?parent_id={}", p.country))
        .token(&a.token)
        .send()
        .await
        .json();
    let names: Vec<&str> = kids
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Centre", "Sahel"]);
    assert_eq!(kids[1]["has_children"], true);
    let r = app.get("/api/orgunits/tree/search/?search=csps&page=1&limit=10&validation_status=VALID&smallSearch=true").token(&a.token).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let s = r.json();
    assert_eq!(s["count"], 2);
    assert_eq!(s["results"][0]["has_children"], false);
    let r = app
        .get("/api/orgunits/tree/search/?search=csps&page=5")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get("/api/orgunits/tree/?validation_status=MAYBE")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
});

api_test!(profile_restricted_to_a_subtree, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let p = pyramid(app, &a).await;
    let r = app
        .post("/api/profiles/")
        .token(&a.token)
        .json(json!({"user_name": "field", "password": "a-long-passphrase", "org_units": [p.region_a],
                     "user_permissions": ["iaso_org_units"], "editable_org_unit_type_ids": [p.hf_type]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let prof = r.json();
    assert_eq!(prof["org_units"][0]["id"], p.region_a);
    assert_eq!(prof["editable_org_unit_types"][0]["id"], p.hf_type);
    assert_eq!(prof["account"]["default_version"]["number"], 1);
    let token = app.login("field", "a-long-passphrase").await;
    let me = app
        .get("/api/profiles/me/")
        .token(&token)
        .send()
        .await
        .json();
    assert_eq!(me["org_units"][0]["name"], "Centre");
    let r = app
        .get("/api/orgunits/?limit=20&validation_status=all")
        .token(&token)
        .send()
        .await
        .json();
    let mut names: Vec<String> = r["orgunits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["Baskuy", "CSPS Dapoya", "CSPS Larle", "Centre"]);
    assert_eq!(
        app.get(&format!("/api/orgunits/{}/", p.region_b))
            .token(&token)
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let roots = app
        .get("/api/orgunits/tree/")
        .token(&token)
        .send()
        .await
        .json();
    assert_eq!(roots[0]["id"], p.region_a);
    // Edits: only its types, never a root, never outside.
    let r = app
        .patch(&format!("/api/orgunits/{}/", p.district))
        .token(&token)
        .json(json!({"name": "x"}))
        .send()
        .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "district is not an editable type"
    );
    let r = app
        .patch(&format!("/api/orgunits/{}/", p.facilities[0]))
        .token(&token)
        .json(json!({"name": "Larle"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app
        .patch(&format!("/api/orgunits/{}/", p.facilities[0]))
        .token(&token)
        .json(json!({"parent_id": p.region_b}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post("/api/orgunits/create_org_unit/")
        .token(&token)
        .json(json!({"name": "Root", "org_unit_type_id": p.hf_type}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["errorKey"] == "parent_id"));
    // Another account's org units cannot be granted.
    let b = app.tenant("B").await;
    let bp = pyramid(app, &b).await;
    let r = app
        .patch(&format!("/api/profiles/{}/", prof["id"]))
        .token(&a.token)
        .json(json!({"org_units": [bp.country]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json().get("org_units").is_some());
});

api_test!(mobile_pyramid_and_delta, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let p = pyramid(app, &a).await;
    let r = app
        .get("/api/mobile/orgunits/?app_id=a")
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let all = r.json();
    let units = all["orgUnits"].as_array().unwrap();
    assert_eq!(units.len(), 6, "VALID units of the project's types");
    assert_eq!(units[0]["id"], p.country, "path order: root first");
    assert_eq!(all["roots"], json!([]));
    let larle = units.iter().find(|u| u["id"] == p.facilities[0]).unwrap();
    assert_eq!(larle["parent_id"], p.district);
    assert_eq!(larle["opening_date"], "2020-02-01");
    for k in [
        "name",
        "id",
        "parent_id",
        "org_unit_type_id",
        "org_unit_type_name",
        "validation_status",
        "created_at",
        "updated_at",
        "latitude",
        "longitude",
        "altitude",
        "uuid",
        "aliases",
        "groups",
        "opening_date",
        "closed_date",
    ] {
        assert!(larle.get(k).is_some(), "missing {k}");
    }
    let paged = app
        .get("/api/mobile/orgunits/?app_id=a&limit=4&page=2")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(paged["count"], 6);
    assert_eq!(paged["orgUnits"].as_array().unwrap().len(), 2);
    let shapes = app
        .get("/api/mobile/orgunits/?app_id=a&shapes=true&limit=1")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(shapes["orgUnits"][0]["geo_json"]["type"], "MultiPolygon");
    // Delta: nothing changed since the first sync, then one rename and one rejection.
    let since = app
        .get("/api/mobile/orgunits/?app_id=a&last_sync=2999-01-01T00:00:00Z")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(since["orgUnits"], json!([]));
    assert_eq!(since["deleted"], json!([]));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let before = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    app.patch(&format!("/api/orgunits/{}/", p.facilities[0]))
        .token(&a.token)
        .json(json!({"name": "Larle"}))
        .send()
        .await;
    app.patch(&format!("/api/orgunits/{}/", p.facilities[1]))
        .token(&a.token)
        .json(json!({"validation_status": "REJECTED"}))
        .send()
        .await;
    let delta = app
        .get(&format!(
            "/api/mobile/orgunits/?app_id=a&last_sync={before}"
        ))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(
        delta["orgUnits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].clone())
            .collect::<Vec<_>>(),
        vec![json!(p.facilities[0])]
    );
    assert_eq!(delta["deleted"], json!([p.facilities[1]]));
    assert!(delta["last_sync"].as_str().is_some());
    // Mobile creation: NEW, idempotent on the uuid.
    let body = json!([{"id": "c0ffee00-0000-4000-8000-000000000001", "name": "New post", "parentId": p.district,
                       "orgUnitTypeId": p.hf_type, "latitude": 12.1, "longitude": -1.2, "created_at": 1700000000}]);
    let r = app
        .post("/api/mobile/orgunits/?app_id=a")
        .token(&a.token)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()[0]["validation_status"], "NEW");
    let again = app
        .post("/api/orgunits/?app_id=a")
        .token(&a.token)
        .json(body)
        .send()
        .await
        .json();
    assert_eq!(again, json!([]));
    // Unknown app: nothing.
    let r = app
        .get("/api/mobile/orgunits/?app_id=nope")
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(r["orgUnits"], json!([]));
    let _ = p.region_a;
});
