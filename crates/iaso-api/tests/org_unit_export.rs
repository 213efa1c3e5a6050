//! Org unit file exports on both backends: CSV/XLSX columns and French headers, formula
//! neutralisation, file names, filters; GeoPackage round trip (export → import keeps names,
//! refs, parents, groups, geometry) and GDAL reading when `ogrinfo` is installed; GeoJSON;
//! the export task.
#![allow(clippy::unwrap_used)]

mod io_common;

use iaso_api::api_test;
use iaso_api::testing::{Tenant, TestApp};
use io_common::*;
use serde_json::Value;

/// What the round trip compares: name, ref, parent ref, group names, latitude, has a shape.
type Summary = (String, String, Option<String>, Vec<String>, Value, bool);

/// A small pyramid imported from a GeoPackage: country > 2 regions > district, groups.
async fn seed(app: &TestApp, t: &Tenant, source_name: &str) -> i64 {
    let source = new_source(app, t, source_name).await;
    let bytes = make_gpkg(
        &[
            (
                "level-1-Country",
                vec![("C", "Country", None, Some("g1"), Some("2001-02-03"))],
            ),
            (
                "level-2-Region",
                vec![
                    ("R1", "=HYPERLINK(\"x\")", Some("C"), Some("g1, g2"), None),
                    ("R2", "Region, \"two\"", Some("C"), None, None),
                ],
            ),
            (
                "level-3-District",
                vec![("D1", "District 1", Some("R1"), Some("g2"), None)],
            ),
        ],
        &[("g1", "Group one"), ("g2", "Group two")],
    );
    let done = import(
        app,
        t,
        source,
        "seed.gpkg",
        &bytes,
        &[("version_number", "1"), ("default_valid", "true")],
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    source
}

async fn version_of(app: &TestApp, t: &Tenant, source: i64, number: i64) -> i64 {
    let src = app
        .get(&format!("/api/datasources/{source}/"))
        .token(&t.token)
        .send()
        .await
        .json();
    src["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["number"] == number)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    r.records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect()
}

api_test!(csv_export_has_iaso_columns, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let source = seed(app, &a, "csv").await;
    let v = version_of(app, &a, source, 1).await;
    let r = app
        .get(&format!("/api/orgunits/?csv=true&version={v}"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.headers["content-type"], "text/csv");
    let cd = r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cd.starts_with("attachment; filename=development-A-org_units-") && cd.ends_with(".csv"),
        "{cd}"
    );
    let text = r.text();
    assert!(text.contains("\r\n"), "CRLF line ends");
    let rows = parse_csv(&text);
    assert_eq!(
        rows[0],
        [
            "ID",
            "Nom",
            "Type",
            "Latitude",
            "Longitude",
            "Code",
            "Date d'ouverture",
            "Date de fermeture",
            "Date de création",
            "Date de modification",
            "Créé par",
            "Source",
            "Validé",
            "Référence externe",
            "parent 1",
            "parent 2",
            "parent 3",
            "parent 4",
            "Ref Ext parent 1",
            "Ref Ext parent 2",
            "Ref Ext parent 3",
            "Ref Ext parent 4",
            "Total de soumissions",
            "Group one",
            "Group two"
        ]
    );
    assert_eq!(rows.len(), 5);
    // Ordered by name (Iaso's default): "=HYPERLINK..." neutralised, sorted as its raw name.
    let names: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        [
            "'=HYPERLINK(\"x\")",
            "Country",
            "District 1",
            "Region, \"two\""
        ]
    );
    let district = rows.iter().find(|r| r[1] == "District 1").unwrap();
    assert_eq!(district[2], "District");
    assert_eq!(district[12], "VALID");
    assert_eq!(district[13], "D1");
    assert_eq!(district[14], "'=HYPERLINK(\"x\")");
    assert_eq!(district[15], "Country");
    assert_eq!(district[16], "");
    assert_eq!(district[18], "R1");
    assert_eq!(district[19], "C");
    assert_eq!(district[22], "0");
    assert_eq!((district[23].as_str(), district[24].as_str()), ("0", "1"));
    let country = rows.iter().find(|r| r[1] == "Country").unwrap();
    assert_eq!(country[6], "2001-02-03");
    assert_eq!(country[23], "1");
    assert_eq!(country[11], "csv");
    // Filters apply: search, and the default VALID status.
    let r = app
        .get(&format!("/api/orgunits/?csv=1&version={v}&search=district"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(parse_csv(&r.text()).len(), 2);
    let r = app
        .get(&format!(
            "/api/orgunits/?csv=true&version={v}&validation_status=NEW"
        ))
        .token(&a.token)
        .send()
        .await;
    let rows = parse_csv(&r.text());
    assert_eq!(rows.len(), 1, "only the header");
    assert_eq!(rows[0].len(), 23, "no group column without units");
    // Another tenant exports nothing of A.
    let b = app.tenant("B").await;
    let r = app
        .get(&format!("/api/orgunits/?csv=true&version={v}"))
        .token(&b.token)
        .send()
        .await;
    assert_eq!(parse_csv(&r.text()).len(), 1);
});

/// A Parquet file's column names and rows (each row as column name -> value text).
fn read_parquet(bytes: Vec<u8>) -> (Vec<String>, Vec<std::collections::HashMap<String, String>>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
    let names = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    let rows = reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect()
        })
        .collect();
    (names, rows)
}

api_test!(
    parquet_export_has_the_pyramid_columns,
    async |app: &TestApp| {
        let a = app.tenant("A").await;
        let source = seed(app, &a, "parquet").await;
        let v = version_of(app, &a, source, 1).await;
        let r = app
        .get(&format!(
            "/api/orgunits/?parquet=true&version={v}&validation_status=all&extra_fields=location_geojson,groups_exploded,groups_json"
        ))
        .token(&a.token)
        .send()
        .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.headers["content-type"], "application/vnd.apache.parquet");
        assert!(r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".parquet"));
        let (names, rows) = read_parquet(r.body);
        // Iaso's columns in its order: the unit, one set per level (3 levels here), the point.
        let fixed = "org_unit_id,org_unit_name,org_unit_source_ref,org_unit_code,org_unit_created_at,\
        org_unit_source_created_at,org_unit_created_by_username,org_unit_created_by_id,org_unit_updated_at,\
        org_unit_opening_date,org_unit_closed_date,org_unit_validation_status,org_unit_version_id,org_unit_path,\
        org_unit_type_id,org_unit_type_name,org_unit_level";
        let mut expected: Vec<String> = fixed.split(',').map(String::from).collect();
        for level in 1..=3 {
            for c in [
                "id",
                "name",
                "source_ref",
                "closed_date",
                "validation_status",
            ] {
                expected.push(format!("level_{level}_{c}"));
            }
        }
        expected.extend(
            [
                "org_unit_longitude",
                "org_unit_latitude",
                "org_unit_altitude",
                "org_unit_location_geojson",
            ]
            .map(String::from),
        );
        assert_eq!(names[..expected.len()], expected[..]);
        let group_columns: Vec<&String> = names[expected.len()..names.len() - 1].iter().collect();
        assert_eq!(group_columns.len(), 2, "{names:?}");
        assert!(
            group_columns[0].starts_with("group_") && group_columns[0].ends_with("_group_one"),
            "{group_columns:?}"
        );
        assert_eq!(
            names.last().map(String::as_str),
            Some("org_unit_groups_json")
        );
        assert_eq!(rows.len(), 4);
        let district = rows
            .iter()
            .find(|r| r["org_unit_name"] == "\"District 1\"")
            .unwrap();
        assert_eq!(district["org_unit_level"], "3");
        assert_eq!(district["level_1_name"], "\"Country\"");
        assert_eq!(district["level_1_source_ref"], "\"C\"");
        // No formula neutralisation in a typed file: the name is kept as it is.
        assert_eq!(district["level_2_name"], "\"=HYPERLINK(\"x\")\"");
        assert_eq!(district["level_3_id"], district["org_unit_id"]);
        assert_eq!(district["org_unit_path"].matches('.').count(), 2);
        assert_eq!(district[group_columns[0].as_str()], "0");
        assert_eq!(district[group_columns[1].as_str()], "1");
        assert!(
            district["org_unit_groups_json"].contains("Group two"),
            "{district:?}"
        );
        let country = rows
            .iter()
            .find(|r| r["org_unit_name"] == "\"Country\"")
            .unwrap();
        assert_eq!(country["level_2_id"], "null");
        assert_eq!(country["org_unit_opening_date"], "2001-02-03");
        assert_eq!(country[group_columns[0].as_str()], "1");
        // Unknown extra fields are refused, naming the parameter.
        let r = app
            .get("/api/orgunits/?parquet=true&extra_fields=geom_geojson,nope")
            .token(&a.token)
            .send()
            .await;
        assert_eq!(r.status, 400);
        assert!(
            r.text().contains("extra_fields") && r.text().contains("nope"),
            "{}",
            r.text()
        );
        // Another tenant's export is empty.
        let b = app.tenant("B").await;
        let r = app
            .get(&format!("/api/orgunits/?parquet=true&version={v}"))
            .token(&b.token)
            .send()
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(read_parquet(r.body).1.len(), 0);
    }
);

api_test!(
    parquet_group_columns_by_name_must_not_clash,
    async |app: &TestApp| {
        let a = app.tenant("A").await;
        let source = new_source(app, &a, "clash").await;
        let bytes = make_gpkg(
            &[(
                "level-1-Country",
                vec![("C", "Country", None, Some("g1,g2"), None)],
            )],
            &[("g1", "Rural area"), ("g2", "rural-area")],
        );
        let done = import(
            app,
            &a,
            source,
            "c.gpkg",
            &bytes,
            &[("version_number", "1"), ("default_valid", "true")],
        )
        .await;
        assert_eq!(done["status"], "SUCCESS", "{done}");
        let v = version_of(app, &a, source, 1).await;
        let r = app
            .get(&format!(
                "/api/orgunits/?parquet=true&version={v}&extra_fields=groups_exploded_code"
            ))
            .token(&a.token)
            .send()
            .await;
        assert_eq!(r.status, 409, "{}", r.text());
        assert!(
            r.text().contains("Rural area") && r.text().contains("rural-area"),
            "{}",
            r.text()
        );
        // The export task says it too, before any task is queued.
        let r = app
            .post(&format!(
                "/api/tasks/create/exportorgunits/?format=parquet&version={v}&extra_fields=groups_exploded_code"
            ))
            .token(&a.token)
            .send()
            .await;
        assert_eq!(r.status, 409, "{}", r.text());
        let tasks = app.get("/api/tasks/").token(&a.token).send().await.json();
        assert!(
            tasks["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["name"] == "import_gpkg_task"),
            "{tasks}"
        );
        // With ids in the names there is no clash.
        let r = app
            .get(&format!(
                "/api/orgunits/?parquet=true&version={v}&extra_fields=groups_exploded"
            ))
            .token(&a.token)
            .send()
            .await;
        assert_eq!(r.status, 200);
        let (names, rows) = read_parquet(r.body);
        assert_eq!(names.iter().filter(|n| n.starts_with("group_")).count(), 2);
        assert_eq!(rows.len(), 1);
    }
);

api_test!(xlsx_export_is_a_workbook, async |app: &TestApp| {
    use calamine::Reader;
    let a = app.tenant("A").await;
    let source = seed(app, &a, "xlsx").await;
    let v = version_of(app, &a, source, 1).await;
    let r = app
        .get(&format!("/api/orgunits/?xlsx=true&version={v}"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(".xlsx"));
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(r.body.clone())).unwrap();
    assert_eq!(wb.sheet_names(), ["Forms"]);
    let range = wb.worksheet_range("Forms").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0][1], "Nom");
    assert_eq!(rows[0][24], "Group two");
    // Text is written as text: the formula-looking name is a plain string.
    assert_eq!(rows[1][1], "=HYPERLINK(\"x\")");
});

api_test!(gpkg_export_round_trips, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let source = seed(app, &a, "gpkg").await;
    let v = version_of(app, &a, source, 1).await;
    let r = app
        .get(&format!("/api/orgunits/?gpkg=true&version={v}"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .ends_with(".gpkg"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.gpkg");
    std::fs::write(&path, &r.body).unwrap();
    {
        let reader =
            iaso_geo::gpkg::GpkgReader::open(&path, iaso_geo::gpkg::ReadLimits::default()).unwrap();
        let names: Vec<&str> = reader.layers().iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["level-1-Country", "level-2-Region", "level-3-District"]
        );
        let cols: Vec<&str> = reader.layers()[1]
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            cols,
            [
                "id",
                "name",
                "ref",
                "code",
                "parent",
                "parent_ref",
                "group_refs",
                "group_names",
                "uuid",
                "opening_date",
                "closed_date"
            ]
        );
        let f: Vec<_> = reader
            .features("level-2-Region")
            .unwrap()
            .map(|f| f.unwrap())
            .collect();
        let r1 = f
            .iter()
            .find(|f| f.get("ref").and_then(|v| v.as_str()) == Some("R1"))
            .unwrap();
        assert_eq!(
            r1.get("parent").and_then(|v| v.as_str()),
            Some("Country (Country)")
        );
        assert_eq!(
            r1.get("group_refs").and_then(|v| v.as_str()),
            Some("g1, g2")
        );
        assert_eq!(
            r1.get("group_names").and_then(|v| v.as_str()),
            Some("Group one, Group two")
        );
    }
    gdal_check(&path);

    // Round trip into a new source.
    let copy = new_source(app, &a, "copy").await;
    let done = import(
        app,
        &a,
        copy,
        "export.gpkg",
        &r.body,
        &[("version_number", "1"), ("default_valid", "true")],
    )
    .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let v2 = version_of(app, &a, copy, 1).await;
    let list = |version: i64| {
        let token = a.token.clone();
        async move {
            let r = app
                .get(&format!(
                    "/api/orgunits/?limit=100&version={version}&validation_status=all"
                ))
                .token(&token)
                .send()
                .await
                .json();
            let items = r["orgunits"].as_array().unwrap().clone();
            let by_id: std::collections::HashMap<i64, Value> = items
                .iter()
                .map(|u| (u["id"].as_i64().unwrap(), u.clone()))
                .collect();
            let mut out: Vec<Summary> = items
                .iter()
                .map(|u| {
                    let parent_ref = u["parent_id"]
                        .as_i64()
                        .map(|p| by_id[&p]["source_ref"].as_str().unwrap().to_string());
                    let mut groups: Vec<String> = u["groups"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|g| g["name"].as_str().unwrap().to_string())
                        .collect();
                    groups.sort();
                    (
                        u["name"].as_str().unwrap().to_string(),
                        u["source_ref"].as_str().unwrap().to_string(),
                        parent_ref,
                        groups,
                        u["latitude"].clone(),
                        u["has_geo_json"].as_bool().unwrap(),
                    )
                })
                .collect();
            out.sort_by(|a, b| a.1.cmp(&b.1));
            out
        }
    };
    let before = list(v).await;
    let after = list(v2).await;
    assert_eq!(before.len(), 4);
    assert_eq!(before, after);
    // Shapes are equal too.
    let shape = |version: i64| {
        let token = a.token.clone();
        async move {
            let r = app
                .get(&format!(
                    "/api/orgunits/?geojson=true&version={version}&order=source_ref"
                ))
                .token(&token)
                .send()
                .await;
            let fc: Value = serde_json::from_slice(&r.body).unwrap();
            fc["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| (f["properties"]["ref"].clone(), f["geometry"].clone()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(shape(v).await, shape(v2).await);
});

/// Reads an export with GDAL's `ogrinfo` when it is installed (CI installs gdal-bin).
fn gdal_check(path: &std::path::Path) {
    let out = match std::process::Command::new("ogrinfo")
        .args(["-ro", "-al", "-so"])
        .arg(path)
        .output()
    {
        Ok(o) => o,
        Err(_) => {
            eprintln!("ogrinfo not installed: GDAL check skipped");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ogrinfo failed: {err}");
    assert!(!err.contains("ERROR"), "ogrinfo: {err}");
    assert!(text.contains("Layer name: level-2-Region"), "{text}");
    assert!(text.contains("Feature Count: 2"), "{text}");
    assert!(text.contains("group_refs: String"), "{text}");
}

api_test!(
    geojson_export_is_a_feature_collection,
    async |app: &TestApp| {
        let a = app.tenant("A").await;
        let source = seed(app, &a, "geojson").await;
        let v = version_of(app, &a, source, 1).await;
        let r = app
            .get(&format!("/api/orgunits/?geojson=true&version={v}"))
            .token(&a.token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.headers["content-type"], "application/geo+json");
        let fc: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(fc["type"], "FeatureCollection");
        let features = fc["features"].as_array().unwrap();
        assert_eq!(features.len(), 4);
        let d = features
            .iter()
            .find(|f| f["properties"]["ref"] == "D1")
            .unwrap();
        assert_eq!(d["properties"]["parent_ref"], "R1");
        assert_eq!(d["properties"]["group_refs"], serde_json::json!(["g2"]));
        assert!(d["geometry"]["type"].is_string());
    }
);

api_test!(export_task_writes_a_file, async |app: &TestApp| {
    let a = app.tenant("A").await;
    let source = seed(app, &a, "task").await;
    let v = version_of(app, &a, source, 1).await;
    let r = app
        .post(&format!(
            "/api/tasks/create/exportorgunits/?format=csv&version={v}"
        ))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["task"]["id"].as_i64().unwrap();
    let worker = app.worker().spawn();
    let done = wait_for_end(app, &a.token, id).await;
    worker.shutdown().await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(done["result"]["message"], "4 org units exported");
    let r = app
        .get(&format!("/api/tasks/{id}/download/"))
        .token(&a.token)
        .send()
        .await;
    assert_eq!(r.status, 200);
    let rows = parse_csv(&r.text());
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0][1], "Nom");
});

api_test!(
    export_task_refuses_bad_extra_fields_before_queueing,
    async |app: &TestApp| {
        let a = app.tenant("A").await;
        let source = seed(app, &a, "task-bad").await;
        let v = version_of(app, &a, source, 1).await;
        for path in [
            format!("/api/tasks/create/exportorgunits/?format=parquet&version={v}&extra_fields=bad"),
            format!("/api/tasks/create/exportorgunits/?parquet=true&version={v}&extra_fields=geom_geojson,bad"),
        ] {
            let r = app.post(&path).token(&a.token).send().await;
            assert_eq!(r.status, 400, "{path}: {}", r.text());
            assert!(
                r.text().contains("extra_fields") && r.text().contains("bad"),
                "{}",
                r.text()
            );
        }
        // No export task was queued (the seed's import task is the only one).
        let r = app.get("/api/tasks/").token(&a.token).send().await;
        assert_eq!(r.status, 200, "{}", r.text());
        let tasks = r.json()["tasks"].as_array().unwrap().clone();
        assert!(
            tasks.iter().all(|t| t["name"] == "import_gpkg_task"),
            "{}",
            r.text()
        );
    }
);

api_test!(
    extra_fields_without_parquet_is_ignored,
    async |app: &TestApp| {
        let a = app.tenant("A").await;
        let source = seed(app, &a, "extras-ignored").await;
        let v = version_of(app, &a, source, 1).await;
        // A list: extra_fields is a Parquet parameter only.
        let r = app
            .get(&format!(
                "/api/orgunits/?version={v}&validation_status=all&extra_fields=nope&limit=10"
            ))
            .token(&a.token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["count"], 4, "{}", r.text());
        // A CSV export: the same.
        let r = app
            .get(&format!(
                "/api/orgunits/?csv=true&version={v}&extra_fields=nope"
            ))
            .token(&a.token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(parse_csv(&r.text()).len(), 5);
    }
);
