//! Helpers shared by the import and export tests.
#![allow(clippy::unwrap_used, dead_code)]

use iaso_api::testing::{Tenant, TestApp};
use iaso_geo::gpkg::{
    AttributeTableSpec, ColumnSpec, ColumnType, FeatureLayerSpec, GpkgWriter, LayerGeometryType,
    ValueRef, WriterOptions,
};
use iaso_geo::{Coord, Geometry, MultiPolygon, Point, Polygon};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

pub fn fixtures_dir() -> Option<PathBuf> {
    let beside_repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/iaso-data/iaso/tests/fixtures/gpkg");
    let shared = PathBuf::from("/work/shared/reference/iaso-data/iaso/tests/fixtures/gpkg");
    let found = [beside_repo, shared].into_iter().find(|d| d.is_dir());
    if found.is_none() {
        eprintln!("iaso gpkg fixtures not found: fixture tests skipped");
    }
    found
}

/// A multipart body: text fields then one file.
pub fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----iasotestboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn new_source(app: &TestApp, t: &Tenant, name: &str) -> i64 {
    let r = app
        .post("/api/datasources/")
        .token(&t.token)
        .json(json!({"name": name, "project_ids": [t.project_id]}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["id"].as_i64().unwrap()
}

pub async fn wait_for_end(app: &TestApp, token: &str, id: i64) -> Value {
    for _ in 0..3000 {
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

/// Uploads `bytes` and runs the import task to its end.
pub async fn import(
    app: &TestApp,
    t: &Tenant,
    source: i64,
    file_name: &str,
    bytes: &[u8],
    extra: &[(&str, &str)],
) -> Value {
    let source = source.to_string();
    let mut fields = vec![("data_source", source.as_str())];
    fields.extend_from_slice(extra);
    let (ct, body) = multipart(&fields, Some((file_name, bytes)));
    let r = app
        .post("/api/tasks/create/importgpkg/")
        .token(&t.token)
        .body(&ct, body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let task = r.json()["task"].clone();
    assert_eq!(task["status"], "QUEUED");
    assert_eq!(task["name"], "import_gpkg_task");
    let worker = app.worker().spawn();
    let done = wait_for_end(app, &t.token, task["id"].as_i64().unwrap()).await;
    worker.shutdown().await;
    done
}

pub fn square(x: f64, y: f64) -> Geometry {
    Geometry::MultiPolygon(MultiPolygon::new(vec![Polygon::new(vec![vec![
        Coord::new(x, y),
        Coord::new(x + 1.0, y),
        Coord::new(x + 1.0, y + 1.0),
        Coord::new(x, y + 1.0),
        Coord::new(x, y),
    ]])]))
}

/// A unit of a hand-made GeoPackage: (ref, name, parent_ref, group_refs, opening_date).
pub type Row<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

/// Writes a GeoPackage with one layer per `(layer name, rows)` and the given groups.
pub fn make_gpkg(layers: &[(&str, Vec<Row<'_>>)], groups: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.gpkg");
    let mut w = GpkgWriter::create(&path, WriterOptions::default()).unwrap();
    for (name, rows) in layers {
        let spec = FeatureLayerSpec::new(*name, LayerGeometryType::Geometry)
            .column("ref", ColumnType::Text)
            .column("name", ColumnType::Text)
            .column("parent_ref", ColumnType::Text)
            .column("group_refs", ColumnType::Text)
            .column("opening_date", ColumnType::Text);
        let h = w.create_feature_layer(&spec).unwrap();
        for (i, (r, n, p, g, d)) in rows.iter().enumerate() {
            let x = (i % 100) as f64;
            let geom = if i % 2 == 0 {
                square(x, 1.0)
            } else {
                Geometry::Point(Point::new(x, 2.0, None))
            };
            w.append_feature(
                h,
                Some(&geom),
                &[
                    ValueRef::Text(r),
                    ValueRef::Text(n),
                    (*p).into(),
                    (*g).into(),
                    (*d).into(),
                ],
            )
            .unwrap();
        }
    }
    let t = w
        .create_attribute_table(
            &AttributeTableSpec::new("groups")
                .column(ColumnSpec::new("ref", ColumnType::Text))
                .column(ColumnSpec::new("name", ColumnType::Text)),
        )
        .unwrap();
    for (r, n) in groups {
        w.append_row(t, &[ValueRef::Text(r), ValueRef::Text(n)])
            .unwrap();
    }
    w.finish().unwrap();
    std::fs::read(&path).unwrap()
}

pub async fn count(app: &TestApp, table: &str) -> i64 {
    let mut db = app.store().db().clone();
    use iaso_db::Conn;
    db.fetch_scalar(iaso_db::Sql::new(format!("SELECT COUNT(*) FROM {table}")))
        .await
        .unwrap()
}
