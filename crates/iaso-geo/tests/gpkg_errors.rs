//! Hostile and broken inputs give specific errors.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use iaso_geo::gpkg::binary::BlobError;
use iaso_geo::gpkg::{
    FeatureLayerSpec, GpkgError, GpkgReader, GpkgWriter, LayerGeometryType, ReadLimits,
    WriterOptions,
};
use iaso_geo::wkb::WkbError;
use iaso_geo::{Coord, Geometry, GeometryError, MultiPolygon, Point, Polygon};
use rusqlite::{params, Connection};

fn write_points(path: &Path, layers: &[(&str, usize)]) {
    let mut w = GpkgWriter::create(path, WriterOptions::default()).unwrap();
    for (name, n) in layers {
        let l = w
            .create_feature_layer(&FeatureLayerSpec::new(*name, LayerGeometryType::Point))
            .unwrap();
        for i in 0..*n {
            let p = Geometry::Point(Point::new(i as f64 * 0.001, 1.0, None));
            w.append_feature(l, Some(&p), &[]).unwrap();
        }
    }
    w.finish().unwrap();
}

/// Replaces the geometry of feature 1 of `table` with `blob`.
fn set_blob(path: &Path, table: &str, blob: &[u8]) {
    let conn = Connection::open(path).unwrap();
    // Drop the R-tree triggers: they call ST_* functions only GDAL provides.
    let triggers: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in triggers {
        conn.execute_batch(&format!("DROP TRIGGER \"{t}\""))
            .unwrap();
    }
    conn.execute(
        &format!("UPDATE \"{table}\" SET geom = ?1 WHERE fid = 1"),
        params![blob],
    )
    .unwrap();
}

fn gp_header(mut wkb: Vec<u8>) -> Vec<u8> {
    let mut blob = vec![b'G', b'P', 0, 1, 0xE6, 0x10, 0, 0];
    blob.append(&mut wkb);
    blob
}

#[test]
fn garbage_bytes_are_not_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.gpkg");
    std::fs::write(&path, b"PK\x03\x04 this is a zip file, or something else entirely ......................................................................").unwrap();
    let e = GpkgReader::open(&path, ReadLimits::default()).unwrap_err();
    assert!(matches!(e, GpkgError::NotSqlite { .. }), "{e}");
    std::fs::write(&path, b"short").unwrap();
    let e = GpkgReader::open(&path, ReadLimits::default()).unwrap_err();
    assert!(matches!(e, GpkgError::NotSqlite { .. }), "{e}");
    std::fs::write(&path, b"").unwrap();
    let e = GpkgReader::open(&path, ReadLimits::default()).unwrap_err();
    assert!(matches!(e, GpkgError::EmptyFile { .. }), "{e}");
    let e = GpkgReader::open(dir.path().join("absent.gpkg"), ReadLimits::default()).unwrap_err();
    assert!(matches!(e, GpkgError::Io { .. }), "{e}");
}

#[test]
fn plain_sqlite_is_not_a_geopackage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(conn);
    let e = GpkgReader::open(&path, ReadLimits::default()).unwrap_err();
    assert!(matches!(e, GpkgError::NotGeoPackage { .. }), "{e}");
    assert!(e.to_string().contains("not a GeoPackage"));

    // GeoPackage application_id but metadata tables missing.
    let path = dir.path().join("half.gpkg");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA application_id = 1196444487; CREATE TABLE t (a);")
        .unwrap();
    drop(conn);
    let e = GpkgReader::open(&path, ReadLimits::default()).unwrap_err();
    assert!(
        matches!(e, GpkgError::MissingTable(ref t) if t == "gpkg_contents"),
        "{e}"
    );
}

#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.gpkg");
    write_points(&path, &[("a", 2000), ("b", 10)]);
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.gpkg");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = GpkgReader::open(&cut, ReadLimits::default()).unwrap_err();
    assert!(matches!(e, GpkgError::Truncated { .. }), "{e}");
}

#[test]
fn listed_table_missing_or_geometry_column_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gpkg");
    write_points(&path, &[("a", 1)]);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES ('ghost', 'features', 'ghost', 4326);",
    )
    .unwrap();
    drop(conn);
    let e = GpkgReader::open(&path, ReadLimits::default()).unwrap_err();
    assert!(
        matches!(e, GpkgError::MissingTable(ref t) if t == "ghost"),
        "{e}"
    );

    let path = dir.path().join("n.gpkg");
    write_points(&path, &[("a", 1)]);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("UPDATE gpkg_geometry_columns SET column_name = 'shape'")
        .unwrap();
    drop(conn);
    let e = GpkgReader::open(&path, ReadLimits::default()).unwrap_err();
    assert!(
        matches!(e, GpkgError::MissingColumn { ref column, .. } if column == "shape"),
        "{e}"
    );

    let r = GpkgReader::open(
        dir.path().join("m.gpkg"),
        ReadLimits {
            max_layers: 1,
            ..Default::default()
        },
    );
    assert!(matches!(
        r,
        Err(GpkgError::TooManyLayers { count: 2, limit: 1 })
    ));
}

#[test]
fn missing_groups_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.gpkg");
    write_points(&path, &[("a", 1)]);
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    assert!(matches!(r.rows("groups"), Err(GpkgError::MissingTable(_))));
    assert!(matches!(
        r.rows_with_columns("a", &["ref"]),
        Err(GpkgError::MissingColumn { ref column, .. }) if column == "ref"
    ));
    assert!(matches!(
        r.features("nope"),
        Err(GpkgError::UnknownLayer(_))
    ));
}

#[test]
fn unsupported_geometry_types_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.gpkg");
    write_points(&path, &[("a", 3)]);
    // LineString (type 2) with two points.
    let mut wkb = vec![1, 2, 0, 0, 0, 2, 0, 0, 0];
    for v in [0.0f64, 0.0, 1.0, 1.0] {
        wkb.extend_from_slice(&v.to_le_bytes());
    }
    set_blob(&path, "a", &gp_header(wkb));
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    let items: Vec<_> = r.features("a").unwrap().collect();
    assert_eq!(items.len(), 3);
    match &items[0] {
        Err(GpkgError::Geometry {
            fid: 1,
            source: BlobError::Wkb(WkbError::UnsupportedType("LineString")),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let msg = items[0].as_ref().unwrap_err().to_string();
    assert!(
        msg.contains("feature 1") && msg.contains("LineString"),
        "{msg}"
    );
    // The other features still come through.
    assert!(items[1].is_ok() && items[2].is_ok());

    // MultiPoint (type 4) with one point.
    let mut wkb = vec![1, 4, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0];
    wkb.extend_from_slice(&1.0f64.to_le_bytes());
    wkb.extend_from_slice(&1.0f64.to_le_bytes());
    set_blob(&path, "a", &gp_header(wkb));
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    let first = r.features("a").unwrap().next().unwrap().unwrap_err();
    assert!(first.to_string().contains("MultiPoint"), "{first}");

    // Not a GP blob at all.
    set_blob(&path, "a", b"hello world");
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    let first = r.features("a").unwrap().next().unwrap().unwrap_err();
    assert!(
        matches!(
            first,
            GpkgError::Geometry {
                source: BlobError::BadMagic,
                ..
            }
        ),
        "{first}"
    );
}

#[test]
fn huge_polygon_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.gpkg");
    let n = 20_000;
    let mut ring: Vec<Coord> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            Coord::new(a.cos(), a.sin())
        })
        .collect();
    ring.push(ring[0]);
    let mp = Geometry::MultiPolygon(MultiPolygon::new(vec![Polygon::new(vec![ring])]));
    let mut w = GpkgWriter::create(&path, WriterOptions::default()).unwrap();
    let l = w
        .create_feature_layer(&FeatureLayerSpec::new(
            "big",
            LayerGeometryType::MultiPolygon,
        ))
        .unwrap();
    w.append_feature(l, Some(&mp), &[]).unwrap();
    w.finish().unwrap();

    let mut limits = ReadLimits::default();
    limits.geometry.max_vertices = 10_000;
    let r = GpkgReader::open(&path, limits).unwrap();
    let e = r.features("big").unwrap().next().unwrap().unwrap_err();
    match &e {
        GpkgError::Geometry {
            source:
                BlobError::Wkb(WkbError::Invalid(GeometryError::TooManyVertices {
                    count,
                    limit: 10_000,
                })),
            ..
        } => assert_eq!(*count, n + 1),
        other => panic!("{other}"),
    }
    // Within the default limit it reads.
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    let f = r.features("big").unwrap().next().unwrap().unwrap();
    assert_eq!(f.geometry.unwrap().vertex_count(), n + 1);
}

#[test]
fn forged_counts_do_not_allocate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.gpkg");
    write_points(&path, &[("a", 1)]);
    // Polygon claiming 1 ring of 2^31 points, with 16 bytes of data.
    let mut wkb = vec![1, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x80];
    wkb.extend_from_slice(&[0; 16]);
    set_blob(&path, "a", &gp_header(wkb));
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    let e = r.features("a").unwrap().next().unwrap().unwrap_err();
    assert!(
        matches!(
            e,
            GpkgError::Geometry {
                source: BlobError::Wkb(WkbError::Truncated { .. }),
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn feature_count_limits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("count.gpkg");
    write_points(&path, &[("a", 30), ("b", 30)]);
    let e = GpkgReader::open(
        &path,
        ReadLimits {
            max_features_per_layer: 29,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            GpkgError::TooManyFeatures {
                count: 30,
                limit: 29,
                ..
            }
        ),
        "{e}"
    );
    let e = GpkgReader::open(
        &path,
        ReadLimits {
            max_total_features: 50,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            GpkgError::TooManyFeaturesTotal {
                count: 60,
                limit: 50
            }
        ),
        "{e}"
    );
}

#[test]
fn other_srs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("srs.gpkg");
    write_points(&path, &[("a", 1)]);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 / Pseudo-Mercator', 3857, 'EPSG', 3857, 'PROJCS[...]', NULL);
         UPDATE gpkg_geometry_columns SET srs_id = 3857; UPDATE gpkg_contents SET srs_id = 3857;",
    )
    .unwrap();
    drop(conn);
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    let e = r.features("a").map(|_| ()).unwrap_err();
    assert!(
        matches!(e, GpkgError::UnsupportedSrs { srs_id: 3857, .. }),
        "{e}"
    );
}

#[test]
fn out_of_range_coordinates_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("range.gpkg");
    write_points(&path, &[("a", 1)]);
    let mut wkb = vec![1, 1, 0, 0, 0];
    wkb.extend_from_slice(&500.0f64.to_le_bytes());
    wkb.extend_from_slice(&1.0f64.to_le_bytes());
    set_blob(&path, "a", &gp_header(wkb));
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    let e = r.features("a").unwrap().next().unwrap().unwrap_err();
    assert!(e.to_string().contains("longitude 500"), "{e}");
}

#[test]
fn views_are_not_layers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("view.gpkg");
    write_points(&path, &[("a", 1)]);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE VIEW endless AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c;
         INSERT INTO gpkg_contents (table_name, data_type, identifier) VALUES ('endless', 'attributes', 'endless');",
    )
    .unwrap();
    drop(conn);
    let e = GpkgReader::open(&path, ReadLimits::default()).unwrap_err();
    assert!(
        matches!(e, GpkgError::MissingTable(ref t) if t == "endless"),
        "{e}"
    );
}
