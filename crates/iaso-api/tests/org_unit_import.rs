//! GeoPackage imports through the API on both backends: every Iaso fixture, update of an
//! existing version, and each bad input (ERRORED with a message naming the place, nothing
//! kept), kill of a running import.
#![allow(clippy::unwrap_used)]

mod io_common;

use iaso_api::api_test;
use iaso_api::testing::{Tenant, TestApp};
use iaso_geo::gpkg::{
    ColumnType, FeatureLayerSpec, GpkgWriter, LayerGeometryType, ValueRef, WriterOptions,
};
use io_common::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn units(app: &TestApp, t: &Tenant, extra: &str) -> Vec<Value> {
    let r = app
        .get(&format!(
            "/api/orgunits/?validation_status=all&limit=1000&order=id{extra}"
        ))
        .token(&t.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["orgunits"].as_array().unwrap().clone()
}

async fn count_units(app: &TestApp) -> i64 {
    let mut db = app.store().db().clone();
    use iaso_db::Conn;
    db.fetch_scalar(iaso_db::Sql::new("SELECT COUNT(*) FROM org_units"))
        .await
        .unwrap()
}

fn read_fixture(name: &str) -> Option<Vec<u8>> {
    Some(std::fs::read(fixtures_dir()?.join(name)).unwrap())
}

api_test!(every_valid_fixture_imports, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let expected = [
        ("minimal.gpkg", 3),
        ("minimal_all_optional.gpkg", 3),
        ("minimal_simplified.gpkg", 4),
        ("multiple-internal-ref-formats.gpkg", 7),
        ("empty_name.gpkg", 3),
        ("blank_parent_ref.gpkg", 3),
        ("empty_parent_ref.gpkg", 3),
        ("null_parent_ref.gpkg", 3),
        ("missing_column_parent_ref.gpkg", 3),
    ];
    for (i, (file, n)) in expected.iter().enumerate() {
        let Some(bytes) = read_fixture(file) else {
            return;
        };
        let source = new_source(app, &a, &format!("src {i}")).await;
        let done = import(app, &a, source, file, &bytes, &[("default_valid", "true")]).await;
        assert_eq!(done["status"], "SUCCESS", "{file}: {done}");
        assert_eq!(
            done["result"]["message"],
            format!("Imported {n} OrgUnits"),
            "{file}"
        );
        let list = units(app, &a, &format!("&source={source}")).await;
        assert_eq!(list.len(), *n as usize, "{file}");
        assert!(list.iter().all(|u| u["validation_status"] == "VALID"));
    }
});

api_test!(
    minimal_import_keeps_iaso_semantics,
    async |app: &TestApp| {
        let a = app.tenant("A").await;
        let Some(bytes) = read_fixture("minimal_simplified.gpkg") else {
            return;
        };
        let source = new_source(app, &a, "minimal").await;
        let done = import(app, &a, source, "minimal_simplified.gpkg", &bytes, &[]).await;
        assert_eq!(done["status"], "SUCCESS", "{done}");
        // Version 0 created (first import), default version of the source and of the account.
        let r = app
            .get(&format!("/api/datasources/{source}/"))
            .token(&a.token)
            .send()
            .await;
        let src = r.json();
        assert_eq!(src["versions"][0]["number"], 0, "{src}");
        assert!(!src["default_version"].is_null(), "{src}");
        let list = units(app, &a, "").await;
        assert_eq!(list.len(), 4);
        assert!(list.iter().all(|u| u["validation_status"] == "NEW"));
        let by_name = |n: &str| list.iter().find(|u| u["name"] == n).unwrap().clone();
        let fosa = by_name("CSI de Garga-Sarali");
        let area = by_name("AS Tongo Gadima");
        let district = by_name("District Betare Oya");
        assert_eq!(fosa["parent_id"], area["id"]);
        assert_eq!(area["parent_id"], district["id"]);
        assert!(district["parent_id"].is_null());
        assert!(fosa["latitude"].is_number());
        assert_eq!(fosa["altitude"], 0.0);
        assert!(by_name("empty_geom")["latitude"].is_null());
        // Groups replaced by the file's list; 3 types (one per layer) linked to the project.
        let groups: Vec<&str> = fosa["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(groups.len(), 2, "{fosa}");
        assert_eq!(count(app, "org_unit_types").await, 3);
        // Audit: only units with a geometry (3 of 4), source gpkg_import; plus 2 groups.
        let mut db = app.store().db().clone();
        use iaso_db::Conn;
        let n: i64 = db
        .fetch_scalar(iaso_db::Sql::new(
            "SELECT COUNT(*) FROM modifications WHERE source = 'gpkg_import' AND content_type = 'iaso.orgunit'",
        ))
        .await
        .unwrap();
        assert_eq!(n, 3);

        // Re-import into the same version: matched by ref, nothing duplicated, codes erased.
        let done = import(
            app,
            &a,
            source,
            "minimal_simplified.gpkg",
            &bytes,
            &[("version_number", "0"), ("default_valid", "true")],
        )
        .await;
        assert_eq!(done["status"], "SUCCESS", "{done}");
        let again = units(app, &a, "").await;
        assert_eq!(again.len(), 4);
        assert!(again.iter().all(|u| u["validation_status"] == "VALID"));
        // A new version number: copies, not matches.
        let done = import(app, &a, source, "minimal_simplified.gpkg", &bytes, &[]).await;
        assert_eq!(done["status"], "SUCCESS", "{done}");
        assert_eq!(count_units(app).await, 8);
    }
);

api_test!(fixture_errors_keep_nothing, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let cases = [
        ("blank_name.gpkg", "Column 'name' cannot be empty or blank"),
        ("null_name.gpkg", "Column 'name' cannot be null"),
        ("blank_ref.gpkg", "Column 'ref' cannot be empty or blank"),
        ("empty_ref.gpkg", "Column 'ref' cannot be empty or blank"),
        ("null_ref.gpkg", "Column 'ref' cannot be null"),
        ("missing_column_name.gpkg", "Missing required column: name"),
        ("missing_column_ref.gpkg", "Missing required column: ref"),
        ("missing_ref.gpkg", "not a valid GeoPackage"),
        ("minimal_simplified_group.gpkg", "Bad GPKG group"),
    ];
    let source = new_source(app, &a, "bad").await;
    let versions = count(app, "source_versions").await;
    for (file, message) in cases {
        let Some(bytes) = read_fixture(file) else {
            return;
        };
        let done = import(app, &a, source, file, &bytes, &[]).await;
        assert_eq!(done["status"], "ERRORED", "{file}: {done}");
        let msg = done["result"]["message"].as_str().unwrap();
        assert!(msg.contains(message), "{file}: {msg}");
        assert!(msg.contains(file), "{file}: {msg}");
        if file != "missing_ref.gpkg" {
            assert!(
                msg.contains("Layer 'level-") || msg.contains("layer 'level-"),
                "{file}: the message names the layer: {msg}"
            );
        }
    }
    assert_eq!(count_units(app).await, 0);
    assert_eq!(count(app, "groups").await, 0);
    assert_eq!(count(app, "source_versions").await, versions);
    assert_eq!(count(app, "org_unit_types").await, 0);
});

api_test!(group_existing_in_version_is_found, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let Some(bytes) = read_fixture("minimal_simplified_group.gpkg") else {
        return;
    };
    let Some(base) = read_fixture("minimal_simplified.gpkg") else {
        return;
    };
    let source = new_source(app, &a, "grp").await;
    let done = import(
        app,
        &a,
        source,
        "base.gpkg",
        &base,
        &[("version_number", "1")],
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    // Create the group the file refers to in that version, then import into it.
    let version = app
        .get(&format!("/api/datasources/{source}/"))
        .token(&a.token)
        .send()
        .await
        .json()["versions"][0]["id"]
        .as_i64()
        .unwrap();
    let mut db = app.store().db().clone();
    iaso_store::groups::insert_group(
        &mut db,
        iaso_domain::SourceVersionId(version),
        "Not in gpkg",
        Some("group_not_in_gpkg"),
        &[],
    )
    .await
    .unwrap();
    let done = import(
        app,
        &a,
        source,
        "g.gpkg",
        &bytes,
        &[("version_number", "1")],
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
});

api_test!(bad_inputs_fail_and_keep_nothing, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let source = new_source(app, &a, "bad inputs").await;
    let versions = count(app, "source_versions").await;
    let good_top = (
        "level-1-Country",
        vec![("C1", "Country", None, Some("g1"), Some("2020-01-01"))],
    );
    let mut not_sqlite = b"SQLite format 3\0".to_vec();
    not_sqlite.extend_from_slice(&[0u8; 50]);
    let truncated = {
        let full = make_gpkg(std::slice::from_ref(&good_top), &[("g1", "G1")]);
        full[..full.len() / 2].to_vec()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text.gpkg", b"name;ref\nA;1\n".to_vec(), "not an SQLite database"),
        ("empty.gpkg", Vec::new(), "empty"),
        ("short.gpkg", not_sqlite, "not a valid GeoPackage"),
        ("truncated.gpkg", truncated, "not a valid GeoPackage"),
        (
            "unknown_parent.gpkg",
            make_gpkg(
                &[
                    good_top.clone(),
                    ("level-2-Region", vec![("R1", "Region", Some("NOPE"), None, None)]),
                ],
                &[("g1", "G1")],
            ),
            "Layer 'level-2-Region', feature 1: Bad GPKG parent NOPE for Region don't exist in input or SourceVersion",
        ),
        (
            "unknown_group.gpkg",
            make_gpkg(
                &[("level-1-Country", vec![("C1", "Country", None, Some("g1, g9"), None)])],
                &[("g1", "G1")],
            ),
            "Layer 'level-1-Country', feature 1: Bad GPKG group [\"g9\"]",
        ),
        (
            "cycle.gpkg",
            make_gpkg(
                &[(
                    "level-2-Region",
                    vec![
                        ("A", "Alpha", Some("B"), None, None),
                        ("B", "Beta", Some("C"), None, None),
                        ("C", "Gamma", Some("A"), None, None),
                    ],
                )],
                &[],
            ),
            "cycle",
        ),
        (
            "bad_date.gpkg",
            make_gpkg(
                &[("level-1-Country", vec![("C1", "Country", None, None, Some("31/12/2020"))])],
                &[],
            ),
            "Layer 'level-1-Country', feature 1: Error parsing opening_date for Country",
        ),
        (
            "duplicate.gpkg",
            make_gpkg(
                &[
                    ("level-1-Country", vec![("C1", "Country", None, None, None)]),
                    ("level-2-Region", vec![("C1", "Region", None, None, None)]),
                ],
                &[],
            ),
            "Layer 'level-2-Region', feature 1: duplicate ref 'C1', already used by layer 'level-1-Country', feature 1",
        ),
        (
            "bad_layer.gpkg",
            make_gpkg(&[("level-x-Country", vec![("C1", "Country", None, None, None)])], &[]),
            "Layer 'level-x-Country': the depth 'x' is not an integer",
        ),
        (
            "no_groups.gpkg",
            {
                // A valid GeoPackage without the groups table.
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("n.gpkg");
                let mut w = GpkgWriter::create(&path, WriterOptions::default()).unwrap();
                let spec = FeatureLayerSpec::new("level-1-C", LayerGeometryType::Point)
                    .column("ref", ColumnType::Text)
                    .column("name", ColumnType::Text);
                let h = w.create_feature_layer(&spec).unwrap();
                w.append_feature(h, None, &[ValueRef::Text("a"), ValueRef::Text("A")])
                    .unwrap();
                w.finish().unwrap();
                std::fs::read(&path).unwrap()
            },
            "no 'groups' table",
        ),
    ];
    for (file, bytes, message) in cases {
        let done = import(app, &a, source, file, &bytes, &[]).await;
        assert_eq!(done["status"], "ERRORED", "{file}: {done}");
        let msg = done["result"]["message"].as_str().unwrap();
        assert!(msg.contains(message), "{file}: {msg}");
    }
    assert_eq!(count_units(app).await, 0);
    assert_eq!(count(app, "groups").await, 0);
    assert_eq!(count(app, "source_versions").await, versions);
    assert_eq!(count(app, "org_unit_types").await, 0);
});

api_test!(unsupported_geometry_is_refused, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let source = new_source(app, &a, "lines").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.gpkg");
    std::fs::write(
        &path,
        make_gpkg(
            &[("level-1-Country", vec![("C1", "Country", None, None, None)])],
            &[],
        ),
    )
    .unwrap();
    {
        // Replace the polygon by a LineString blob (GP header + WKB type 2).
        let conn = rusqlite::Connection::open(&path).unwrap();
        // Our R-tree triggers call ST_* functions that only GeoPackage readers register.
        let triggers: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for t in triggers {
            conn.execute_batch(&format!("DROP TRIGGER \"{t}\""))
                .unwrap();
        }
        let mut blob = vec![b'G', b'P', 0, 1, 0xE6, 0x10, 0, 0];
        blob.push(1);
        blob.extend_from_slice(&2u32.to_le_bytes());
        blob.extend_from_slice(&2u32.to_le_bytes());
        for v in [0.0f64, 0.0, 1.0, 1.0] {
            blob.extend_from_slice(&v.to_le_bytes());
        }
        conn.execute("UPDATE \"level-1-Country\" SET geom = ?1", [blob])
            .unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let done = import(app, &a, source, "lines.gpkg", &bytes, &[]).await;
    assert_eq!(done["status"], "ERRORED", "{done}");
    let msg = done["result"]["message"].as_str().unwrap();
    assert!(
        msg.contains("Layer 'level-1-Country', feature 1: Unhandled geom type"),
        "{msg}"
    );
    assert!(msg.contains("LineString"), "{msg}");
    assert_eq!(count_units(app).await, 0);
});

api_test!(parents_in_version_and_moves, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let source = new_source(app, &a, "moves").await;
    let first = make_gpkg(
        &[
            ("level-1-Country", vec![("C", "Country", None, None, None)]),
            (
                "level-2-Region",
                vec![
                    ("R1", "Region 1", Some("C"), None, None),
                    ("R2", "Region 2", Some("C"), None, None),
                ],
            ),
            (
                "level-3-District",
                vec![("D1", "District 1", Some("R1"), Some("g"), None)],
            ),
        ],
        &[("g", "Group")],
    );
    let done = import(
        app,
        &a,
        source,
        "first.gpkg",
        &first,
        &[("version_number", "1"), ("default_valid", "true")],
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    // Second file: only R1 moves under R2 (children follow), a new unit under an existing one.
    let second = make_gpkg(
        &[(
            "level-2-Region",
            vec![
                ("R1", "Region 1 bis", Some("R2"), None, None),
                ("N", "New", Some("D1"), None, None),
            ],
        )],
        &[],
    );
    let done = import(
        app,
        &a,
        source,
        "second.gpkg",
        &second,
        &[("version_number", "1"), ("default_valid", "true")],
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let list = units(app, &a, "").await;
    let by_ref = |r: &str| list.iter().find(|u| u["source_ref"] == r).unwrap().clone();
    assert_eq!(by_ref("R1")["parent_id"], by_ref("R2")["id"]);
    assert_eq!(by_ref("R1")["name"], "Region 1 bis");
    assert_eq!(by_ref("N")["parent_id"], by_ref("D1")["id"]);
    // Paths follow: the district is now at depth 4 under C.R2.R1.
    let r = app
        .get(&format!("/api/orgunits/{}/", by_ref("N")["id"]))
        .token(&a.token)
        .send()
        .await
        .json();
    let mut names = Vec::new();
    let mut p = &r["parent"];
    while !p.is_null() {
        names.push(p["name"].as_str().unwrap().to_string());
        p = &p["parent"];
    }
    assert_eq!(names, ["District 1", "Region 1 bis", "Region 2", "Country"]);
    // A cycle through a unit of the version is refused: C under D1.
    let cyc = make_gpkg(
        &[(
            "level-1-Country",
            vec![("C", "Country", Some("D1"), None, None)],
        )],
        &[],
    );
    let done = import(
        app,
        &a,
        source,
        "cycle.gpkg",
        &cyc,
        &[("version_number", "1")],
    )
    .await;
    assert_eq!(done["status"], "ERRORED", "{done}");
    assert!(done["result"]["message"]
        .as_str()
        .unwrap()
        .contains("cycle"));
    assert_eq!(count_units(app).await, 5);
});

api_test!(
    killing_a_running_import_leaves_nothing,
    async |app: &TestApp| {
        let a = app.tenant("A").await;
        let source = new_source(app, &a, "kill").await;
        let versions = count(app, "source_versions").await;
        let rows: Vec<(String, String)> = (0..20_000)
            .map(|i| (format!("r{i}"), format!("Unit {i}")))
            .collect();
        let layer_rows: Vec<Row<'_>> = rows
            .iter()
            .map(|(r, n)| (r.as_str(), n.as_str(), None, None, None))
            .collect();
        let bytes = make_gpkg(&[("level-1-Unit", layer_rows)], &[]);
        let (ct, body) = multipart(
            &[("data_source", &source.to_string())],
            Some(("big.gpkg", &bytes)),
        );
        let r = app
            .post("/api/tasks/create/importgpkg/")
            .token(&a.token)
            .body(&ct, body)
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["task"]["id"].as_i64().unwrap();
        // Kill it as soon as it runs.
        let worker = app.worker().spawn();
        for _ in 0..2000 {
            let t = app
                .get(&format!("/api/tasks/{id}/"))
                .token(&a.token)
                .send()
                .await
                .json();
            if t["status"] != "QUEUED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let r = app
            .patch(&format!("/api/tasks/{id}/"))
            .token(&a.token)
            .json(json!({"should_be_killed": true}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let done = wait_for_end(app, &a.token, id).await;
        worker.shutdown().await;
        assert!(
            done["status"] == "KILLED" || done["status"] == "SUCCESS",
            "{done}"
        );
        if done["status"] == "KILLED" {
            assert_eq!(count_units(app).await, 0);
            assert_eq!(count(app, "source_versions").await, versions);
        } else {
            // The machine was faster than the kill: everything is there.
            assert_eq!(count_units(app).await, 20_000);
        }
    }
);

api_test!(
    import_needs_permission_and_own_source,
    async |app: &TestApp| {
        let a = app.tenant("A").await;
        let b = app.tenant("B").await;
        let source_b = new_source(app, &b, "theirs").await;
        let (ct, body) = multipart(
            &[("data_source", &source_b.to_string())],
            Some(("x.gpkg", b"x")),
        );
        let r = app
            .post("/api/tasks/create/importgpkg/")
            .token(&a.token)
            .body(&ct, body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["data_source"][0], "Unauthorized DataSource");
        let (ct, body) = multipart(&[("data_source", "1")], None);
        let r = app
            .post("/api/tasks/create/importgpkg/")
            .token(&a.token)
            .body(&ct, body)
            .send()
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
    }
);
