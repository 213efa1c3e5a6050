//! Tree import (Iaso's schools.csv with its data dictionary, the simple CSV layout, bad
//! tables), bulk update (audited, one transaction) and copy of a version, on both backends.
#![allow(clippy::unwrap_used)]

mod io_common;

use iaso_api::api_test;
use iaso_api::testing::{Tenant, TestApp};
use io_common::*;
use serde_json::{json, Value};
use std::path::PathBuf;

fn testdata(name: &str) -> Option<Vec<u8>> {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/iaso-data/testdata")
        .join(name);
    let shared = PathBuf::from("/work/shared/reference/iaso-data/testdata").join(name);
    let found = [beside, shared].into_iter().find(|p| p.is_file());
    if found.is_none() {
        eprintln!("{name} not found: test skipped");
    }
    found.map(|p| std::fs::read(p).unwrap())
}

async fn tree_import(
    app: &TestApp,
    t: &Tenant,
    fields: &[(&str, &str)],
    file: (&str, &[u8]),
) -> Value {
    let (ct, body) = multipart(fields, Some(file));
    let r = app
        .post("/api/tasks/create/importtree/")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["task"]["id"].as_i64().unwrap();
    let worker = app.worker().spawn();
    let done = wait_for_end(app, &t.token, id).await;
    worker.shutdown().await;
    done
}

api_test!(schools_csv_with_data_dict_imports, async |app: &TestApp| {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let a = app.tenant("A").await;
    let (Some(csv), Some(dict)) = (testdata("schools.csv"), testdata("data_dict.json")) else {
        return;
    };
    let source = new_source(app, &a, "wb_schools_2019").await;
    let s = source.to_string();
    let dict = String::from_utf8(dict).unwrap();
    let done = tree_import(
        app,
        &a,
        &[
            ("data_source", &s),
            ("version_number", "1"),
            ("data_dict", &dict),
            ("main_org_unit_name", "maternelle"),
        ],
        ("schools.csv", &csv),
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(
        done["result"]["message"],
        "Imported 6687 OrgUnits (291 parent levels, 6396 leaves)"
    );
    assert_eq!(count(app, "org_units").await, 6687);
    // 4 types, levels nested: every school has 3 ancestors.
    let types = app
        .get("/api/v2/orgunittypes/")
        .token(&a.token)
        .send()
        .await
        .json();
    let names: Vec<String> = types["orgUnitTypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    for n in ["maternelle", "ProvincePoliAdmin", "Proved", "Sproved"] {
        assert!(names.contains(&n.to_string()), "{names:?}");
    }
    let r = app
        .get("/api/orgunits/?limit=1&search=ECOLE%20PRIMAIRE%20KISOLOKELE")
        .token(&a.token)
        .send()
        .await
        .json();
    let school = &r["orgunits"][0];
    assert_eq!(school["parent"]["name"], "BOMA", "{r}");
    assert_eq!(school["parent"]["parent"]["name"], "KONGO CENTRAL 1");
    assert!(school["latitude"].as_f64().unwrap() < -5.8);

    // The variant dictionary of Iaso's repository names columns that the file lacks.
    if let Some(bad) = testdata("import_schools_data_dict.json") {
        let before = count(app, "org_units").await;
        let bad = String::from_utf8(bad).unwrap();
        let done = tree_import(
            app,
            &a,
            &[("data_source", &s), ("data_dict", &bad)],
            ("schools.csv", &csv),
        )
        .await;
        assert_eq!(done["status"], "ERRORED", "{done}");
        let msg = done["result"]["message"].as_str().unwrap();
        assert!(
            msg.contains("Row 1: the data dictionary names columns"),
            "{msg}"
        );
        assert!(msg.contains("Country"), "{msg}");
        assert_eq!(count(app, "org_units").await, before);
    }
});

api_test!(bad_tables_fail_naming_the_row, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let source = new_source(app, &a, "tables").await;
    let s = source.to_string();
    let dict = r#"{"name": "school", "parents": ["province", "district"], "latitude": "lat", "longitude": "lon"}"#;
    let cases: Vec<(Vec<u8>, &str, &str)> = vec![
        (
            b"province;district;school;lat;lon\nP;D;S;abc;1\n".to_vec(),
            dict,
            "Row 2: latitude 'abc' is not a number",
        ),
        (
            b"province,district,school,lat,lon\nP,D,S,1,1\n".to_vec(),
            dict,
            "Row 1: the header has a single column with the delimiter ';' (the file seems to use ',')",
        ),
        (
            b"province;district;school;lat;lon\nP\xe9;D;S;1;1\n".to_vec(),
            dict,
            "Row 2: the file is not valid UTF-8",
        ),
        (
            b"province;district;school;lat;lon\nP;D;S;1;1\n;;T;1;1\n".to_vec(),
            dict,
            "Row 3: no parent level is filled in",
        ),
        (
            b"province;district;school;lat;lon\nP;D;;1;1\n".to_vec(),
            dict,
            "Row 2: column 'school' (the name) is empty",
        ),
    ];
    for (bytes, d, message) in cases {
        let done = tree_import(
            app,
            &a,
            &[("data_source", &s), ("data_dict", d)],
            ("t.csv", &bytes),
        )
        .await;
        assert_eq!(done["status"], "ERRORED", "{message}: {done}");
        let msg = done["result"]["message"].as_str().unwrap();
        assert!(msg.contains(message), "{msg}");
    }
    // Simple layout errors name the row too.
    let cases: Vec<(&[u8], &str)> = vec![
        (
            b"ref,name,parent_ref,type\nA,Alpha,,Country\nB,Beta,ZZ,Region\n",
            "Row 3: Bad GPKG parent ZZ for Beta",
        ),
        (
            b"ref,name,parent_ref,type,opening_date\nA,Alpha,,Country,2020-13-45\n",
            "Row 2: Error parsing opening_date for Alpha",
        ),
        (
            b"ref,name,parent_ref,type\nA,Alpha,,Country\nA,Again,,Country\n",
            "Row 3: duplicate ref 'A', already used on row 2",
        ),
        (
            b"name,parent_ref,type\nAlpha,,Country\n",
            "Missing required column: ref",
        ),
    ];
    for (bytes, message) in cases {
        let done = tree_import(app, &a, &[("data_source", &s)], ("s.csv", bytes)).await;
        assert_eq!(done["status"], "ERRORED", "{message}: {done}");
        let msg = done["result"]["message"].as_str().unwrap();
        assert!(msg.contains(message), "{msg}");
    }
    assert_eq!(count(app, "org_units").await, 0);
});

api_test!(simple_csv_layout_imports, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let source = new_source(app, &a, "simple").await;
    let s = source.to_string();
    let csv = "ref,name,parent_ref,type,depth,latitude,longitude,code,opening_date\n\
               BF,Burkina,,Country,1,,,BF01,2000-01-01\n\
               R1,Region 1,BF,Region,2,,,,\n\
               H1,Health centre,R1,Health facility,3,12.5,-1.5,,\n";
    let done = tree_import(
        app,
        &a,
        &[("data_source", &s), ("default_valid", "true")],
        ("simple.csv", csv.as_bytes()),
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["result"]["message"], "Imported 3 OrgUnits");
    let r = app
        .get("/api/orgunits/?limit=10&search=health")
        .token(&a.token)
        .send()
        .await
        .json();
    let h = &r["orgunits"][0];
    assert_eq!(h["parent"]["name"], "Region 1");
    assert_eq!(h["latitude"], 12.5);
    assert_eq!(h["org_unit_type_name"], "Health facility");
});

async fn seeded(app: &TestApp, t: &Tenant) -> (i64, i64) {
    let source = new_source(app, t, "pyr").await;
    let bytes = make_gpkg(
        &[
            (
                "level-1-Country",
                vec![("C", "Country", None, Some("g1"), None)],
            ),
            (
                "level-2-Region",
                vec![
                    ("R1", "Region 1", Some("C"), None, None),
                    ("R2", "Region 2", Some("C"), Some("g1"), None),
                ],
            ),
        ],
        &[("g1", "Group one"), ("g2", "Group two")],
    );
    let done = import(app, t, source, "p.gpkg", &bytes, &[("version_number", "1")]).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let src = app
        .get(&format!("/api/datasources/{source}/"))
        .token(&t.token)
        .send()
        .await
        .json();
    let version = src["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["number"] == 1)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    (source, version)
}

async fn run_task(app: &TestApp, t: &Tenant, path: &str, body: Value) -> Value {
    let r = app.post(path).token(&t.token).json(body).send().await;
    assert!(r.status.is_success(), "{}", r.text());
    let id = r.json()["task"]["id"].as_i64().unwrap();
    let worker = app.worker().spawn();
    let done = wait_for_end(app, &t.token, id).await;
    worker.shutdown().await;
    done
}

api_test!(bulk_update_changes_and_audits, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let (_source, version) = seeded(app, &a).await;
    let list = app
        .get(&format!(
            "/api/orgunits/?limit=10&version={version}&validation_status=all&order=id"
        ))
        .token(&a.token)
        .send()
        .await
        .json();
    let ids: Vec<i64> = list["orgunits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    let groups = app
        .get(&format!("/api/groups/?version={version}"))
        .token(&a.token)
        .send()
        .await
        .json();
    let gid = |name: &str| {
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let before_audit = count(app, "modifications").await;
    // Select all regions through a search, minus one.
    let done = run_task(
        app,
        &a,
        "/api/tasks/create/orgunitsbulkupdate/",
        json!({"select_all": true, "searches": [{"search": "region", "validation_status": "all", "version": version}],
               "unselected_ids": [ids[2]], "validation_status": "VALID",
               "groups_added": [gid("Group two")], "groups_removed": [gid("Group one")]}),
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["result"]["message"], "1 modified");
    assert_eq!(count(app, "modifications").await, before_audit + 1);
    let r1 = app
        .get(&format!("/api/orgunits/{}/", ids[1]))
        .token(&a.token)
        .send()
        .await
        .json();
    assert_eq!(r1["validation_status"], "VALID");
    let names: Vec<&str> = r1["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Group two"]);
    // Nothing selected (another tenant's ids) → ERRORED.
    let b = app.tenant("B").await;
    let done = run_task(
        app,
        &b,
        "/api/tasks/create/orgunitsbulkupdate/",
        json!({"selected_ids": ids, "validation_status": "REJECTED"}),
    )
    .await;
    assert_eq!(done["status"], "ERRORED");
    assert_eq!(done["result"]["message"], "No matching org unit found");
    // Bad status refused at creation.
    let r = app
        .post("/api/tasks/create/orgunitsbulkupdate/")
        .token(&a.token)
        .json(json!({"selected_ids": ids, "validation_status": "MAYBE"}))
        .send()
        .await;
    assert_eq!(r.status, 400);
});

api_test!(copy_version_copies_everything, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let (source, _version) = seeded(app, &a).await;
    let done = run_task(
        app,
        &a,
        "/api/copyversion/",
        json!({"source_source_id": source, "source_version_number": 1, "destination_version_number": 5}),
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["result"]["message"], "3 copied");
    assert_eq!(count(app, "org_units").await, 6);
    assert_eq!(count(app, "groups").await, 4);
    assert_eq!(count(app, "group_org_units").await, 4);
    let src = app
        .get(&format!("/api/datasources/{source}/"))
        .token(&a.token)
        .send()
        .await
        .json();
    let v5 = src["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["number"] == 5)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let list = app
        .get(&format!(
            "/api/orgunits/?limit=10&version={v5}&validation_status=all&search=region%202"
        ))
        .token(&a.token)
        .send()
        .await
        .json();
    let r2 = &list["orgunits"][0];
    assert_eq!(r2["source_ref"], "R2");
    assert_eq!(r2["parent"]["name"], "Country");
    assert_eq!(r2["groups"][0]["name"], "Group one");
    // Copying onto a version with units needs force.
    let r = app
        .post("/api/copyversion/")
        .token(&a.token)
        .json(json!({"source_source_id": source, "source_version_number": 1, "destination_version_number": 5}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert!(r
        .text()
        .contains("This is going to delete 3 org units records"));
    let r = app
        .post("/api/copyversion/")
        .token(&a.token)
        .json(json!({"source_source_id": source, "source_version_number": 1, "destination_version_number": 1}))
        .send()
        .await;
    assert_eq!(r.status, 400);
    let done = run_task(
        app,
        &a,
        "/api/tasks/create/copyversion/",
        json!({"source_source_id": source, "source_version_number": 1, "destination_version_number": 5, "force": true}),
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(count(app, "org_units").await, 6);
    // Another account cannot copy A's source.
    let b = app.tenant("B").await;
    let r = app
        .post("/api/copyversion/")
        .token(&b.token)
        .json(json!({"source_source_id": source, "source_version_number": 1}))
        .send()
        .await;
    assert_eq!(r.status, 400);
});
