//! Write a GeoPackage with several layers and read it back.
#![allow(clippy::unwrap_used)]

use iaso_geo::gpkg::{
    AttributeTableSpec, ColumnSpec, ColumnType, FeatureLayerSpec, GpkgError, GpkgReader,
    GpkgWriter, LayerGeometryType, ReadLimits, Value, ValueRef, WriterOptions,
};
use iaso_geo::{Coord, Geometry, MultiPolygon, Point, Polygon};

fn square(x: f64, y: f64, size: f64) -> Vec<Coord> {
    vec![
        Coord::new(x, y),
        Coord::new(x + size, y),
        Coord::new(x + size, y + size),
        Coord::new(x, y + size),
        Coord::new(x, y),
    ]
}

fn iaso_columns(spec: FeatureLayerSpec) -> FeatureLayerSpec {
    spec.column("id", ColumnType::Integer)
        .column("name", ColumnType::Text)
        .column("ref", ColumnType::Text)
        .column("parent_ref", ColumnType::Text)
        .column("group_refs", ColumnType::Text)
        .column("opening_date", ColumnType::Date)
        .column("closed_date", ColumnType::Date)
        .column("area", ColumnType::Real)
}

#[test]
fn write_then_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.gpkg");
    let mut w = GpkgWriter::create(&path, WriterOptions::default()).unwrap();

    let country = w
        .create_feature_layer(&iaso_columns(FeatureLayerSpec::new(
            "level-1-Country/Pays - COUN",
            LayerGeometryType::MultiPolygon,
        )))
        .unwrap();
    let hf = w
        .create_feature_layer(&iaso_columns(
            FeatureLayerSpec::new("level-3-Health facility", LayerGeometryType::Point).with_z(true),
        ))
        .unwrap();
    let groups = w
        .create_attribute_table(
            &AttributeTableSpec::new("groups")
                .column(ColumnSpec::new("ref", ColumnType::Text).not_null())
                .column(ColumnSpec::new("name", ColumnType::Text).not_null()),
        )
        .unwrap();

    let with_hole = MultiPolygon::new(vec![
        Polygon::new(vec![square(0.0, 0.0, 10.0), square(2.0, 2.0, 1.0)]),
        Polygon::new(vec![square(20.0, 0.0, 5.0)]),
    ]);
    let fid = w
        .append_feature(
            country,
            Some(&Geometry::MultiPolygon(with_hole.clone())),
            &[
                ValueRef::Integer(1),
                "Burkina Faso".into(),
                "BF".into(),
                ValueRef::Null,
                ValueRef::Text("g1, g2"),
                "2020-01-01".into(),
                ValueRef::Null,
                ValueRef::Real(123.5),
            ],
        )
        .unwrap();
    assert_eq!(fid, 1);
    // No geometry.
    w.append_feature(
        country,
        None,
        &[
            ValueRef::Integer(2),
            "Nowhere".into(),
            "iaso:2".into(),
            ValueRef::Null,
            ValueRef::Null,
            ValueRef::Null,
            "2021-12-31".into(),
            ValueRef::Null,
        ],
    )
    .unwrap();
    for i in 0..250 {
        let z = if i % 2 == 0 { Some(f64::from(i)) } else { None };
        let p = Geometry::Point(Point::new(1.0 + f64::from(i) * 0.01, 2.0, z));
        let name = format!("CS {i}");
        w.append_feature(
            hf,
            Some(&p),
            &[
                ValueRef::Integer(100 + i64::from(i)),
                ValueRef::Text(&name),
                ValueRef::Text(&name),
                "BF".into(),
                ValueRef::Null,
                ValueRef::Null,
                ValueRef::Null,
                ValueRef::Null,
            ],
        )
        .unwrap();
    }
    w.append_row(groups, &["g1".into(), "Group 1 / Groupe 1".into()])
        .unwrap();
    w.append_row(groups, &["g2".into(), "Group 2".into()])
        .unwrap();
    let summary = w.finish().unwrap();
    assert_eq!(
        summary.tables,
        [
            ("level-1-Country/Pays - COUN".to_owned(), 2),
            ("level-3-Health facility".to_owned(), 250),
            ("groups".to_owned(), 2)
        ]
    );

    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    assert_eq!(r.layers().len(), 2);
    assert_eq!(r.attribute_tables().len(), 1);
    assert_eq!(r.attribute_tables()[0].name, "groups");
    let c = r.layer("level-1-Country/Pays - COUN").unwrap();
    assert_eq!(c.geometry_type, "MULTIPOLYGON");
    assert_eq!(c.z, 0);
    assert_eq!(c.feature_count, 2);
    let e = c.extent.unwrap();
    assert_eq!((e.min_x, e.min_y, e.max_x, e.max_y), (0.0, 0.0, 25.0, 10.0));
    let cols: Vec<(&str, &str)> = c
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.declared_type.as_str()))
        .collect();
    assert_eq!(cols[5], ("opening_date", "DATE"));
    assert_eq!(cols[7], ("area", "REAL"));

    let f: Vec<_> = r.features(&c.name).unwrap().map(Result::unwrap).collect();
    assert_eq!(f[0].fid, 1);
    assert_eq!(f[0].geometry, Some(Geometry::MultiPolygon(with_hole)));
    assert_eq!(f[0].get("name"), Some(&Value::Text("Burkina Faso".into())));
    assert_eq!(
        f[0].get("opening_date"),
        Some(&Value::Text("2020-01-01".into()))
    );
    assert_eq!(f[0].get("closed_date"), Some(&Value::Null));
    assert_eq!(f[0].get("area"), Some(&Value::Real(123.5)));
    assert_eq!(f[1].geometry, None);
    assert_eq!(
        f[1].get("closed_date"),
        Some(&Value::Text("2021-12-31".into()))
    );

    let h = r.layer("level-3-Health facility").unwrap();
    assert_eq!((h.geometry_type.as_str(), h.z), ("POINT", 1));
    let pts: Vec<_> = r.features(&h.name).unwrap().map(Result::unwrap).collect();
    assert_eq!(pts.len(), 250, "iteration spans several batches");
    for (i, f) in pts.iter().enumerate() {
        let Some(Geometry::Point(p)) = &f.geometry else {
            panic!()
        };
        // Z layer: a point without altitude is written with Z = 0.
        let z = if i % 2 == 0 { i as f64 } else { 0.0 };
        assert_eq!(p.z, Some(z));
        assert_eq!(f.get("id"), Some(&Value::Integer(100 + i as i64)));
    }
    let groups: Vec<_> = r.rows("groups").unwrap().map(Result::unwrap).collect();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].get("fid"), Some(&Value::Integer(1)));
    assert_eq!(
        groups[0].get("name"),
        Some(&Value::Text("Group 1 / Groupe 1".into()))
    );
}

#[test]
fn metadata_is_what_gdal_expects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.gpkg");
    let mut w = GpkgWriter::create(&path, WriterOptions::default()).unwrap();
    let l = w
        .create_feature_layer(&FeatureLayerSpec::new("pts", LayerGeometryType::Point))
        .unwrap();
    w.append_feature(l, Some(&Geometry::Point(Point::new(3.0, 4.0, None))), &[])
        .unwrap();
    w.finish().unwrap();

    let conn = rusqlite_check::open(&path);
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    let ver: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!((app, ver), (0x4750_4B47, 10200));
    let srs: Vec<i64> = conn
        .prepare("SELECT srs_id FROM gpkg_spatial_ref_sys ORDER BY srs_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(srs, [-1, 0, 4326]);
    let ext: String = conn
        .query_row(
            "SELECT extension_name FROM gpkg_extensions WHERE table_name='pts'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(ext, "gpkg_rtree_index");
    let rt: (i64, f64, f64) = conn
        .query_row("SELECT id, minx, maxy FROM rtree_pts_geom", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(rt, (1, 3.0, 4.0));
    let triggers: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND tbl_name='pts'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(triggers, 6);
    let blob: Vec<u8> = conn
        .query_row("SELECT geom FROM pts", [], |r| r.get(0))
        .unwrap();
    // GP, version 0, flags: little endian, no envelope; srs 4326; WKB point.
    assert_eq!(&blob[..8], &[b'G', b'P', 0, 1, 0xE6, 0x10, 0, 0]);
    assert_eq!(&blob[8..13], &[1, 1, 0, 0, 0]);
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

mod rusqlite_check {
    pub fn open(path: &std::path::Path) -> rusqlite::Connection {
        rusqlite::Connection::open(path).unwrap()
    }
}

#[test]
fn writer_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gpkg");
    let mut w = GpkgWriter::create(&path, WriterOptions::default()).unwrap();
    assert!(matches!(
        GpkgWriter::create(&path, WriterOptions::default()),
        Err(GpkgError::AlreadyExists { .. })
    ));
    let l = w
        .create_feature_layer(
            &FeatureLayerSpec::new("l", LayerGeometryType::MultiPolygon)
                .column("d", ColumnType::Date)
                .column("n", ColumnType::Integer),
        )
        .unwrap();
    let p = Geometry::Point(Point::new(0.0, 0.0, None));
    let e = w
        .append_feature(l, Some(&p), &[ValueRef::Null, ValueRef::Null])
        .unwrap_err();
    assert!(matches!(e, GpkgError::GeometryTypeMismatch { .. }), "{e}");
    let e = w.append_feature(l, None, &[ValueRef::Null]).unwrap_err();
    assert!(
        matches!(
            e,
            GpkgError::ValueCount {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{e}"
    );
    let e = w
        .append_feature(l, None, &["01/02/2020".into(), ValueRef::Null])
        .unwrap_err();
    assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
    let e = w
        .append_feature(l, None, &[ValueRef::Null, "x".into()])
        .unwrap_err();
    assert!(matches!(e, GpkgError::BadValue { .. }), "{e}");
    assert!(matches!(
        w.create_feature_layer(&FeatureLayerSpec::new("L", LayerGeometryType::Point)),
        Err(GpkgError::DuplicateTable(_))
    ));
    assert!(matches!(
        w.create_feature_layer(&FeatureLayerSpec::new("gpkg_x", LayerGeometryType::Point)),
        Err(GpkgError::InvalidName(_))
    ));
    assert!(matches!(
        w.create_feature_layer(
            &FeatureLayerSpec::new("m", LayerGeometryType::Point).column("geom", ColumnType::Text)
        ),
        Err(GpkgError::DuplicateColumn { .. })
    ));
    let g = w
        .create_attribute_table(
            &AttributeTableSpec::new("groups")
                .column(ColumnSpec::new("ref", ColumnType::Text).not_null()),
        )
        .unwrap();
    assert!(matches!(
        w.append_row(g, &[ValueRef::Null]),
        Err(GpkgError::BadValue { .. })
    ));
    assert!(matches!(
        w.append_feature(g, None, &["a".into()]),
        Err(GpkgError::NotAFeatureLayer(_))
    ));
    assert!(matches!(
        w.append_row(l, &[ValueRef::Null, ValueRef::Null]),
        Err(GpkgError::NotAnAttributeTable(_))
    ));
    w.finish().unwrap();
    // The file is still a valid GeoPackage after refused rows.
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    assert_eq!(r.layer("l").unwrap().feature_count, 0);
    // Overwrite works when asked.
    let w = GpkgWriter::create(
        &path,
        WriterOptions {
            overwrite: true,
            ..Default::default()
        },
    )
    .unwrap();
    w.finish().unwrap();
}

#[test]
fn commits_in_batches_and_without_spatial_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batches.gpkg");
    let opts = WriterOptions {
        commit_every: 7,
        spatial_index: false,
        ..Default::default()
    };
    let mut w = GpkgWriter::create(&path, opts).unwrap();
    let l = w
        .create_feature_layer(
            &FeatureLayerSpec::new("mixed", LayerGeometryType::Geometry)
                .column("k", ColumnType::Integer),
        )
        .unwrap();
    for i in 0..100i64 {
        let g: Geometry = if i % 3 == 0 {
            Point::new(0.5, 0.5, Some(1.0)).into()
        } else {
            Polygon::new(vec![square(i as f64 * 0.1, 0.0, 0.05)]).into()
        };
        w.append_feature(l, Some(&g), &[ValueRef::Integer(i)])
            .unwrap();
    }
    w.finish().unwrap();
    let r = GpkgReader::open(&path, ReadLimits::default()).unwrap();
    let layer = r.layer("mixed").unwrap();
    assert_eq!(layer.geometry_type, "GEOMETRY");
    let features: Vec<_> = r.features("mixed").unwrap().map(Result::unwrap).collect();
    assert_eq!(features.len(), 100);
    assert!(features[0].geometry.as_ref().unwrap().as_point().is_some());
    assert!(features[1]
        .geometry
        .as_ref()
        .unwrap()
        .as_multipolygon()
        .is_some());
    assert!(!r.has_table("rtree_mixed_geom").unwrap());
}
