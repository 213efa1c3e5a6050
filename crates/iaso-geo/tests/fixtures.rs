//! Every Iaso GeoPackage fixture (`shared/reference/iaso-data/iaso/tests/fixtures/gpkg`) reads,
//! or fails with the expected error. Skipped (with a note) when the fixtures are not present.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use iaso_geo::gpkg::{GpkgError, GpkgReader, ReadLimits, Value};
use iaso_geo::{Geometry, Limits};

fn fixtures_dir() -> Option<PathBuf> {
    let beside_repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/iaso-data/iaso/tests/fixtures/gpkg");
    let shared = PathBuf::from("/work/shared/reference/iaso-data/iaso/tests/fixtures/gpkg");
    let found = [beside_repo, shared].into_iter().find(|d| d.is_dir());
    if found.is_none() {
        eprintln!("iaso gpkg fixtures not found: fixture tests skipped");
    }
    found
}

fn open(name: &str) -> Option<Result<GpkgReader, GpkgError>> {
    let dir = fixtures_dir()?;
    Some(GpkgReader::open(dir.join(name), ReadLimits::default()))
}

#[test]
fn every_fixture_reads_or_fails_as_expected() {
    let Some(dir) = fixtures_dir() else { return };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "gpkg"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 18,
        "expected the 18 Iaso fixtures, found {}",
        paths.len()
    );
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let result = GpkgReader::open(&path, ReadLimits::default());
        if name == "missing_ref.gpkg" {
            // A 0-byte file in Iaso's fixtures.
            assert!(
                matches!(result, Err(GpkgError::EmptyFile { .. })),
                "{name}: {result:?}"
            );
            continue;
        }
        let reader = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!reader.layers().is_empty(), "{name}: no layer");
        assert!(
            reader.has_table("groups").unwrap(),
            "{name}: no groups table"
        );
        let groups: Vec<_> = reader
            .rows_with_columns("groups", &["ref", "name"])
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!groups.is_empty(), "{name}: empty groups");
        for layer in reader.layers() {
            assert!(layer.name.starts_with("level-"), "{name}: {}", layer.name);
            let mut n = 0;
            for feature in reader.features(&layer.name).unwrap() {
                let feature = feature.unwrap_or_else(|e| panic!("{name}: {e}"));
                n += 1;
                if let Some(g) = &feature.geometry {
                    // Iaso's fixtures are topologically valid too.
                    g.validate(&Limits::default()).unwrap_or_else(|e| {
                        panic!("{name} {} fid {}: {e}", layer.name, feature.fid)
                    });
                }
            }
            assert_eq!(n, layer.feature_count, "{name} {}", layer.name);
        }
    }
}

#[test]
fn minimal_simplified_content() {
    let Some(reader) = open("minimal_simplified.gpkg") else {
        return;
    };
    let reader = reader.unwrap();
    let names: Vec<&str> = reader.layers().iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["level-5-FOSA", "level-3-DS", "level-4-AS"]);
    let fosa = reader.layer("level-5-FOSA").unwrap();
    assert_eq!(fosa.geometry_column, "geom");
    assert_eq!(fosa.geometry_type, "POINT");
    assert_eq!(fosa.fid_column, "fid");
    assert_eq!(fosa.srs_id, 4326);
    let cols: Vec<&str> = fosa.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(cols, ["name", "ref", "parent_ref", "group_refs"]);

    let f: Vec<_> = reader
        .features("level-5-FOSA")
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].get("name"),
        Some(&Value::Text("CSI de Garga-Sarali".into()))
    );
    assert_eq!(
        f[0].get("group_refs"),
        Some(&Value::Text("group_b, group_a".into()))
    );
    let Some(Geometry::Point(p)) = &f[0].geometry else {
        panic!("point expected")
    };
    assert!(
        (p.x - 13.9993).abs() < 1e-3 && (p.y - 5.1795).abs() < 1e-3,
        "{p:?}"
    );
    assert_eq!(p.z, None);

    let areas: Vec<_> = reader
        .features("level-4-AS")
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(areas.len(), 2);
    assert!(matches!(areas[0].geometry, Some(Geometry::MultiPolygon(_))));
    assert_eq!(areas[1].get("ref"), Some(&Value::Text("empty_geom".into())));
    assert_eq!(areas[1].geometry, None);
    assert_eq!(areas[1].get("parent_ref"), Some(&Value::Null));

    let groups: Vec<_> = reader.rows("groups").unwrap().map(Result::unwrap).collect();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].get("ref"), Some(&Value::Text("group_a".into())));
    assert_eq!(groups[1].get("name"), Some(&Value::Text("Group B".into())));
}

#[test]
fn missing_columns_are_visible() {
    let Some(reader) = open("missing_column_ref.gpkg") else {
        return;
    };
    let reader = reader.unwrap();
    let ds = reader.layer("level-3-DS").unwrap();
    assert!(!ds.has_column("ref"));
    assert!(ds.has_column("name"));
    let Some(reader) = open("missing_column_name.gpkg") else {
        return;
    };
    assert!(!reader
        .unwrap()
        .layer("level-3-DS")
        .unwrap()
        .has_column("name"));
}

#[test]
fn point_z_and_names_with_slashes() {
    let Some(reader) = open("multiple-internal-ref-formats.gpkg") else {
        return;
    };
    let reader = reader.unwrap();
    let hf = reader
        .layer("level-5-Health facility/Formation sanitaire - HF")
        .unwrap();
    assert_eq!(hf.z, 1);
    let f: Vec<_> = reader
        .features(&hf.name)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(f.len(), 3);
    let Some(Geometry::Point(p)) = &f[0].geometry else {
        panic!()
    };
    assert!(p.z.is_some());
    assert_eq!(f[1].geometry, None);
    assert_eq!(f[1].get("ref"), Some(&Value::Text("iaso#178465".into())));
    assert_eq!(f[0].get("id"), Some(&Value::Integer(6823)));
    let country = &reader.layers()[0];
    assert_eq!(country.geometry_type, "MULTIPOLYGON");
    let e = country.extent.unwrap();
    assert!(e.min_x < -5.0 && e.max_y > 15.0);
}
