//! Writes a small Iaso-style org unit export, used by `scripts/check-gpkg-with-gdal.sh`:
//!
//! * `level-1-Country/Pays - COUN`: one MultiPolygon (two parts, one with a hole);
//! * `level-2-District`: three MultiPolygons, the third without geometry;
//! * `level-3-Health facility/Formation sanitaire - HF`: five PointZ;
//! * `groups`: attribute table with two rows.
//!
//! Usage: `cargo run -p iaso-geo --example write_sample_gpkg -- OUT.gpkg`

use iaso_geo::gpkg::{
    AttributeTableSpec, ColumnSpec, ColumnType, FeatureLayerSpec, GpkgError, GpkgWriter,
    LayerGeometryType, ValueRef, WriterOptions,
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

fn iaso_layer(name: &str, ty: LayerGeometryType) -> FeatureLayerSpec {
    let mut spec = FeatureLayerSpec::new(name, ty).with_z(ty == LayerGeometryType::Point);
    for col in [
        "name",
        "ref",
        "code",
        "parent",
        "parent_ref",
        "group_refs",
        "group_names",
        "uuid",
    ] {
        spec = spec.column(col, ColumnType::Text);
    }
    spec.column("opening_date", ColumnType::Date)
        .column("closed_date", ColumnType::Date)
        .column("id", ColumnType::Integer)
}

struct Unit<'a> {
    name: &'a str,
    reference: &'a str,
    parent: Option<&'a str>,
    parent_ref: Option<&'a str>,
    groups: Option<(&'a str, &'a str)>,
    opening: Option<&'a str>,
    id: i64,
}

impl Unit<'_> {
    fn values(&self) -> [ValueRef<'_>; 11] {
        [
            self.name.into(),
            self.reference.into(),
            "".into(),
            self.parent.into(),
            self.parent_ref.into(),
            self.groups.map(|g| g.0).into(),
            self.groups.map(|g| g.1).into(),
            ValueRef::Null,
            self.opening.into(),
            ValueRef::Null,
            self.id.into(),
        ]
    }
}

fn main() -> Result<(), GpkgError> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: write_sample_gpkg OUT.gpkg");
        std::process::exit(2);
    };
    let options = WriterOptions {
        overwrite: true,
        ..WriterOptions::default()
    };
    let mut w = GpkgWriter::create(&path, options)?;
    let country = w.create_feature_layer(&iaso_layer(
        "level-1-Country/Pays - COUN",
        LayerGeometryType::MultiPolygon,
    ))?;
    let district = w.create_feature_layer(&iaso_layer(
        "level-2-District",
        LayerGeometryType::MultiPolygon,
    ))?;
    let hf = w.create_feature_layer(&iaso_layer(
        "level-3-Health facility/Formation sanitaire - HF",
        LayerGeometryType::Point,
    ))?;
    let groups = w.create_attribute_table(
        &AttributeTableSpec::new("groups")
            .column(ColumnSpec::new("ref", ColumnType::Text).not_null())
            .column(ColumnSpec::new("name", ColumnType::Text).not_null()),
    )?;

    let shape = MultiPolygon::new(vec![
        Polygon::new(vec![square(0.0, 0.0, 10.0), square(4.0, 4.0, 2.0)]),
        Polygon::new(vec![square(12.0, 0.0, 3.0)]),
    ]);
    let bf = Unit {
        name: "Burkina Faso",
        reference: "zmSNCYjqQGj",
        parent: None,
        parent_ref: None,
        groups: None,
        opening: Some("1960-08-05"),
        id: 1,
    };
    w.append_feature(country, Some(&Geometry::MultiPolygon(shape)), &bf.values())?;

    for i in 0..3i64 {
        let name = format!("District {i}");
        let reference = format!("iaso:{}", 10 + i);
        let unit = Unit {
            name: &name,
            reference: &reference,
            parent: Some("Burkina Faso (Country/Pays - COUN)"),
            parent_ref: Some("zmSNCYjqQGj"),
            groups: (i == 0).then_some(("g1, g2", "Group 1, Group 2")),
            opening: None,
            id: 10 + i,
        };
        let geometry = (i < 2).then(|| {
            Geometry::MultiPolygon(MultiPolygon::new(vec![Polygon::new(vec![square(
                i as f64 * 5.0,
                0.0,
                5.0,
            )])]))
        });
        w.append_feature(district, geometry.as_ref(), &unit.values())?;
    }

    for i in 0..5i64 {
        let name = format!("CSPS {i}");
        let reference = format!("hf{i}");
        let unit = Unit {
            name: &name,
            reference: &reference,
            parent: Some("District 0 (District)"),
            parent_ref: Some("iaso:10"),
            groups: Some(("g2", "Group 2")),
            opening: Some("2020-01-31"),
            id: 100 + i,
        };
        let altitude = (i % 2 == 0).then_some(250.0 + i as f64);
        let p = Geometry::Point(Point::new(1.0 + i as f64, 1.5, altitude));
        w.append_feature(hf, Some(&p), &unit.values())?;
    }

    w.append_row(groups, &["g1".into(), "Group 1".into()])?;
    w.append_row(groups, &["g2".into(), "Group 2".into()])?;
    let summary = w.finish()?;
    for (table, rows) in summary.tables {
        println!("{table}: {rows}");
    }
    Ok(())
}
