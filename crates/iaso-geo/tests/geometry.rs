//! Geometry parsing, validation, outputs and algorithms.
#![allow(clippy::unwrap_used)]

use iaso_geo::geojson::{
    parse_geo_json, parse_geo_json_str, parse_geometry, to_feature_collection, to_geometry_value,
};
use iaso_geo::{
    ewkt, wkb, BBox, Coord, Geometry, GeometryError, Limits, MultiPolygon, Point, Polygon,
};
use serde_json::json;

fn parse(v: serde_json::Value) -> Result<Geometry, GeometryError> {
    parse_geometry(&v, &Limits::default())
}

fn sq(x: f64, y: f64, s: f64) -> Vec<[f64; 2]> {
    vec![[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]
}

fn ring(points: &[[f64; 2]]) -> Vec<Coord> {
    points.iter().map(|p| Coord::new(p[0], p[1])).collect()
}

#[test]
fn points_with_and_without_altitude() {
    let g = parse(json!({"type": "Point", "coordinates": [13.5, -4.25, 300.0]})).unwrap();
    assert_eq!(g, Geometry::Point(Point::new(13.5, -4.25, Some(300.0))));
    let g = parse(json!({"type": "Point", "coordinates": [13.5, -4.25]})).unwrap();
    assert_eq!(g.as_point().unwrap().z, None);
    assert_eq!(
        to_geometry_value(&g),
        json!({"type": "Point", "coordinates": [13.5, -4.25]})
    );
}

#[test]
fn polygon_becomes_one_part_multipolygon() {
    let g = parse(json!({"type": "Polygon", "coordinates": [sq(0.0, 0.0, 1.0)]})).unwrap();
    let mp = g.as_multipolygon().unwrap();
    assert_eq!(mp.polygons.len(), 1);
    assert_eq!(
        to_geometry_value(&g),
        json!({"type": "MultiPolygon", "coordinates": [[sq(0.0, 0.0, 1.0)]]})
    );
    // Z on polygon positions is accepted and dropped.
    let g = parse(json!({"type": "Polygon", "coordinates": [[[0,0,5],[1,0,5],[1,1,5],[0,0,5]]]}))
        .unwrap();
    assert_eq!(g.vertex_count(), 4);
}

#[test]
fn structural_errors() {
    use GeometryError as E;
    assert!(matches!(
        parse(json!([1, 2])),
        Err(E::NotAnObject { found: "an array" })
    ));
    assert!(matches!(
        parse(json!({"coordinates": [1, 2]})),
        Err(E::MissingMember("type"))
    ));
    assert!(matches!(
        parse(json!({"type": "Point"})),
        Err(E::MissingMember("coordinates"))
    ));
    assert!(
        matches!(parse(json!({"type": "LineString", "coordinates": [[0,0],[1,1]]})), Err(E::UnsupportedType(t)) if t == "LineString")
    );
    assert!(matches!(
        parse(json!({"type": "Circle", "coordinates": []})),
        Err(E::UnknownType(_))
    ));
    assert!(matches!(
        parse(json!({"type": "Point", "coordinates": [1]})),
        Err(E::BadPosition { found: 1, .. })
    ));
    assert!(matches!(
        parse(json!({"type": "Point", "coordinates": [1, "2"]})),
        Err(E::BadNesting { .. })
    ));
    // Too deep: a ring where a position is expected.
    let e = parse(json!({"type": "Polygon", "coordinates": [[[[0, 0]]]]})).unwrap_err();
    assert!(
        matches!(&e, E::BadNesting { path, .. } if path == "coordinates[0][0][0]"),
        "{e}"
    );
    // Too shallow.
    let e = parse(json!({"type": "MultiPolygon", "coordinates": [[[0, 0], [1, 1]]]})).unwrap_err();
    assert!(matches!(e, E::BadNesting { .. }), "{e}");
    assert!(matches!(
        parse(json!({"type": "MultiPolygon", "coordinates": []})),
        Err(E::Empty)
    ));
    assert!(matches!(
        parse(json!({"type": "Polygon", "coordinates": []})),
        Err(E::PolygonWithoutRing { .. })
    ));
    // Deeply nested JSON text is refused by the JSON parser itself.
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(
        parse_geo_json_str(&deep, &Limits::default()),
        Err(E::Json(_))
    ));
}

#[test]
fn coordinate_errors() {
    use GeometryError as E;
    let e = parse(json!({"type": "Point", "coordinates": [181, 0]})).unwrap_err();
    assert!(matches!(e, E::LongitudeOutOfRange { value, .. } if value == 181.0));
    let e = parse(json!({"type": "Point", "coordinates": [0, -90.5]})).unwrap_err();
    assert!(matches!(e, E::LatitudeOutOfRange { .. }));
    let mut r = sq(0.0, 0.0, 1.0);
    r[2] = [1.0, 95.0];
    let e = parse(json!({"type": "Polygon", "coordinates": [r]})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "at coordinates[0][2]: latitude 95 is outside [-90, 90]"
    );
    // Non-finite numbers cannot come from JSON text, but can from WKB.
    let mut bytes = vec![1, 1, 0, 0, 0];
    bytes.extend_from_slice(&f64::INFINITY.to_le_bytes());
    bytes.extend_from_slice(&0.0f64.to_le_bytes());
    let e = wkb::from_wkb(&bytes, &Limits::default()).unwrap_err();
    assert!(e.to_string().contains("not a finite number"), "{e}");
}

#[test]
fn ring_errors() {
    use GeometryError as E;
    let e =
        parse(json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,1]]]})).unwrap_err();
    assert!(
        matches!(
            e,
            E::RingNotClosed {
                polygon: 0,
                ring: 0
            }
        ),
        "{e}"
    );
    let e = parse(json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[0,0]]]})).unwrap_err();
    assert!(matches!(e, E::RingTooShort { positions: 3, .. }), "{e}");
    // A flat ring: its edges overlap (topology check), and its area is zero (always checked).
    let flat = json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[2,0],[0,0]]]});
    let e = parse(flat.clone()).unwrap_err();
    assert!(matches!(e, E::SelfIntersection { .. }), "{e}");
    let e = parse_geometry(&flat, &Limits::lenient()).unwrap_err();
    assert!(matches!(e, E::ZeroAreaRing { .. }), "{e}");
}

#[test]
fn topology_errors() {
    use GeometryError as E;
    // Bow tie.
    let e = parse(json!({"type": "Polygon", "coordinates": [[[0,0],[2,2],[2,0],[0,2],[0,0]]]}))
        .unwrap_err();
    assert!(
        matches!(e, E::SelfIntersection { polygon: 0, ring: 0, x, y } if x == 1.0 && y == 1.0),
        "{e}"
    );
    let e = parse(json!({"type": "Polygon", "coordinates": [[[0,0],[2,2],[2,0],[0,3],[0,0]]]}))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("polygon 0, ring 0: the ring intersects itself near (1.2, 1.2"),
        "{e}"
    );
    // Ring touching itself at a vertex (figure eight through (1,1)).
    let e = parse(
        json!({"type": "Polygon", "coordinates": [[[0,0],[1,1],[2,0],[2,2],[1,1],[0,2],[0,0]]]}),
    )
    .unwrap_err();
    assert!(matches!(e, E::SelfIntersection { .. }), "{e}");
    // Spike going back on itself.
    let e = parse(
        json!({"type": "Polygon", "coordinates": [[[0,0],[2,0],[2,2],[2,3],[2,1],[0,2],[0,0]]]}),
    )
    .unwrap_err();
    assert!(matches!(e, E::SelfIntersection { .. }), "{e}");
    // Hole crossing the shell.
    let e = parse(json!({"type": "Polygon", "coordinates": [sq(0.0,0.0,4.0), sq(3.0,1.0,2.0)]}))
        .unwrap_err();
    assert!(
        matches!(
            e,
            E::RingsCross {
                polygon_a: 0,
                polygon_b: 0,
                ..
            }
        ),
        "{e}"
    );
    // Hole outside the shell.
    let e = parse(json!({"type": "Polygon", "coordinates": [sq(0.0,0.0,4.0), sq(10.0,10.0,1.0)]}))
        .unwrap_err();
    assert!(
        matches!(
            e,
            E::HoleOutsideShell {
                polygon: 0,
                ring: 1
            }
        ),
        "{e}"
    );
    // Nested holes.
    let e = parse(json!({"type": "Polygon", "coordinates": [sq(0.0,0.0,10.0), sq(1.0,1.0,8.0), sq(2.0,2.0,1.0)]})).unwrap_err();
    assert!(matches!(e, E::NestedHoles { .. }), "{e}");
    // Overlapping parts (one inside the other, no crossing edge).
    let e = parse(
        json!({"type": "MultiPolygon", "coordinates": [[sq(0.0,0.0,10.0)], [sq(2.0,2.0,1.0)]]}),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            E::PartsOverlap {
                polygon_a: 0,
                polygon_b: 1
            }
        ),
        "{e}"
    );
    // Crossing parts.
    let e = parse(
        json!({"type": "MultiPolygon", "coordinates": [[sq(0.0,0.0,2.0)], [sq(1.0,1.0,2.0)]]}),
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            E::RingsCross {
                polygon_a: 0,
                polygon_b: 1,
                ..
            }
        ),
        "{e}"
    );
    // Parts sharing an edge.
    let e = parse(
        json!({"type": "MultiPolygon", "coordinates": [[sq(0.0,0.0,1.0)], [sq(1.0,0.0,1.0)]]}),
    )
    .unwrap_err();
    assert!(matches!(e, E::RingsCross { .. }), "{e}");

    // Valid: hole touching the shell at one point, parts touching at a corner, island in a hole,
    // repeated consecutive positions.
    parse(json!({"type": "Polygon", "coordinates": [sq(0.0,0.0,4.0), [[0,0],[1,2],[2,1],[0,0]]]}))
        .unwrap();
    parse(json!({"type": "MultiPolygon", "coordinates": [[sq(0.0,0.0,1.0)], [sq(1.0,1.0,1.0)]]}))
        .unwrap();
    parse(json!({"type": "MultiPolygon", "coordinates": [[sq(0.0,0.0,10.0), sq(2.0,2.0,6.0)], [sq(4.0,4.0,1.0)]]})).unwrap();
    parse(json!({"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,0],[1,1],[0,1],[0,0]]]}))
        .unwrap();
    // And the bow tie passes when topology checks are off.
    let lenient = Limits::lenient();
    parse_geometry(
        &json!({"type": "Polygon", "coordinates": [[[0,0],[2,2],[2,0],[0,3],[0,0]]]}),
        &lenient,
    )
    .unwrap();
}

#[test]
fn topology_budget_bounds_the_work() {
    // A comb: many long thin teeth whose x-ranges all overlap.
    let mut pts = vec![[0.0, 0.0]];
    for i in 0..2000 {
        let x = i as f64 * 0.01;
        pts.push([x, 1.0]);
        pts.push([x + 0.005, 1.0]);
        pts.push([x + 0.005, 0.1]);
    }
    pts.push([20.0, 0.1]);
    pts.push([20.0, 0.0]);
    pts.push([0.0, 0.0]);
    let v = json!({"type": "Polygon", "coordinates": [pts]});
    parse(v.clone()).unwrap();
    let tiny = Limits {
        max_topology_tests: 10,
        ..Limits::default()
    };
    parse_geometry(&v, &tiny).unwrap();
}

#[test]
fn vertex_limit() {
    let limits = Limits {
        max_vertices: 9,
        ..Limits::default()
    };
    let v = json!({"type": "MultiPolygon", "coordinates": [[sq(0.0,0.0,1.0)], [sq(5.0,5.0,1.0)]]});
    let e = parse_geometry(&v, &limits).unwrap_err();
    assert!(
        matches!(
            e,
            GeometryError::TooManyVertices {
                count: 10,
                limit: 9
            }
        ),
        "{e}"
    );
    let limits = Limits {
        max_parts: 1,
        ..Limits::default()
    };
    assert!(matches!(
        parse_geometry(&v, &limits),
        Err(GeometryError::TooManyParts { .. })
    ));
}

#[test]
fn feature_and_feature_collection_inputs() {
    let l = Limits::default();
    let geom = json!({"type": "Point", "coordinates": [1, 2]});
    let f = json!({"type": "Feature", "properties": {}, "geometry": geom});
    assert!(parse_geo_json(&f, &l).unwrap().as_point().is_some());
    let fc = json!({"type": "FeatureCollection", "features": [f]});
    assert!(parse_geo_json(&fc, &l).unwrap().as_point().is_some());
    let fc2 = json!({"type": "FeatureCollection", "features": [f, f]});
    assert!(matches!(
        parse_geo_json(&fc2, &l),
        Err(GeometryError::FeatureCount(2))
    ));
    let null = json!({"type": "Feature", "properties": {}, "geometry": null});
    assert!(matches!(
        parse_geo_json(&null, &l),
        Err(GeometryError::Empty)
    ));
    // Strict geometry parsing does not unwrap features.
    assert!(matches!(
        parse_geometry(&f, &l),
        Err(GeometryError::UnknownType(_))
    ));
}

#[test]
fn iaso_feature_collection_shape() {
    let g = Geometry::Point(Point::new(1.0, 2.0, Some(0.0)));
    assert_eq!(
        to_feature_collection(Some(42), &g, false),
        json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": 42, "geometry": {"type": "Point", "coordinates": [1.0, 2.0, 0.0]}, "properties": {}}
        ]})
    );
    let with_crs = to_feature_collection(None, &g, true);
    assert_eq!(with_crs["crs"]["properties"]["name"], "EPSG:4326");
    assert!(with_crs["features"][0].get("id").is_none());
}

#[test]
fn bbox() {
    let g = parse(
        json!({"type": "MultiPolygon", "coordinates": [[sq(-1.0,2.0,1.0)], [sq(5.0,-3.0,2.0)]]}),
    )
    .unwrap();
    assert_eq!(
        g.bbox(),
        BBox {
            min_x: -1.0,
            min_y: -3.0,
            max_x: 7.0,
            max_y: 3.0
        }
    );
    let p = Geometry::Point(Point::new(3.0, 4.0, None));
    assert_eq!(
        p.bbox(),
        BBox {
            min_x: 3.0,
            min_y: 4.0,
            max_x: 3.0,
            max_y: 4.0
        }
    );
    assert!(BBox::EMPTY.is_empty());
}

#[test]
fn point_in_polygon() {
    let g = parse(json!({"type": "MultiPolygon", "coordinates": [
        [sq(0.0,0.0,10.0), sq(2.0,2.0,2.0)],
        [sq(20.0,0.0,1.0)]
    ]}))
    .unwrap();
    let mp = g.as_multipolygon().unwrap();
    assert!(mp.contains(1.0, 1.0));
    assert!(!mp.contains(3.0, 3.0), "inside the hole");
    assert!(mp.contains(2.0, 3.0), "on the hole boundary");
    assert!(mp.contains(0.0, 5.0), "on the shell boundary");
    assert!(mp.contains(10.0, 10.0), "on a vertex");
    assert!(mp.contains(20.5, 0.5), "second part");
    assert!(!mp.contains(15.0, 0.5));
    assert!(!mp.contains(-0.000001, 5.0));
    // Horizontal ray through a vertex must not double count.
    let tri = Polygon::new(vec![ring(&[
        [0.0, 0.0],
        [2.0, 1.0],
        [0.0, 2.0],
        [1.0, 1.0],
        [0.0, 0.0],
    ])]);
    let tri = MultiPolygon::new(vec![tri]);
    assert!(!tri.contains(0.5, 1.0));
    assert!(tri.contains(1.5, 1.0));
}

#[test]
fn simplification_keeps_rings_valid() {
    // A circle with 1000 vertices simplifies to far fewer, still valid.
    let n = 1000;
    let mut circle: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            [10.0 + a.cos(), 10.0 + a.sin()]
        })
        .collect();
    circle.push(circle[0]);
    let g = parse(json!({"type": "Polygon", "coordinates": [circle]})).unwrap();
    let mp = g.as_multipolygon().unwrap();
    let s = iaso_geo::geometry::simplify_iaso(mp);
    let kept = s.vertex_count();
    assert!((4..200).contains(&kept), "{kept}");
    Geometry::MultiPolygon(s.clone())
        .validate(&Limits::default())
        .unwrap();
    assert_eq!(
        iaso_geo::geometry::iaso_simplify_tolerance(&g.bbox()),
        0.002
    );
    // A tiny hole would collapse: it is kept as is.
    let g = parse(json!({"type": "Polygon", "coordinates": [sq(0.0,0.0,10.0), sq(5.0,5.0,0.001)]}))
        .unwrap();
    let s = iaso_geo::geometry::simplify(g.as_multipolygon().unwrap(), 0.5);
    assert_eq!(s.polygons[0].rings[1].len(), 5);
    Geometry::MultiPolygon(s)
        .validate(&Limits::default())
        .unwrap();
    // Zero tolerance: unchanged.
    let s = iaso_geo::geometry::simplify(g.as_multipolygon().unwrap(), 0.0);
    assert_eq!(&s, g.as_multipolygon().unwrap());
    // Points are untouched.
    let p = Geometry::Point(Point::new(1.0, 1.0, None));
    assert_eq!(p.simplified(1.0), p);
}

#[test]
fn simplification_never_breaks_a_valid_polygon() {
    // A thin hole near the shell: simplifying the shell alone would cut through the hole.
    let shell = vec![
        [0.0, 0.0],
        [10.0, 0.0],
        [10.0, 10.0],
        [5.0, 10.4],
        [0.0, 10.0],
        [0.0, 0.0],
    ];
    let hole = vec![[1.0, 9.9], [9.0, 9.9], [5.0, 10.3], [1.0, 9.9]];
    let g = parse(json!({"type": "Polygon", "coordinates": [shell, hole]})).unwrap();
    let s = iaso_geo::geometry::simplify(g.as_multipolygon().unwrap(), 0.5);
    Geometry::MultiPolygon(s.clone())
        .validate(&Limits::default())
        .unwrap();
    assert_eq!(
        &s,
        g.as_multipolygon().unwrap(),
        "fell back to the original polygon"
    );
}

#[test]
fn wkb_round_trip_and_formats() {
    let p = Geometry::Point(Point::new(1.5, -2.25, Some(100.0)));
    let bytes = wkb::to_wkb(&p);
    assert_eq!(&bytes[..5], &[1, 0xE9, 0x03, 0, 0], "ISO PointZ = 1001");
    assert_eq!(wkb::from_wkb(&bytes, &Limits::default()).unwrap(), Some(p));
    let p2 = Geometry::Point(Point::new(1.5, -2.25, None));
    assert_eq!(wkb::to_wkb(&p2).len(), 21);
    let mp = parse(json!({"type": "MultiPolygon", "coordinates": [[sq(0.0,0.0,4.0), sq(1.0,1.0,1.0)], [sq(10.0,10.0,1.0)]]})).unwrap();
    let bytes = wkb::to_wkb(&mp);
    assert_eq!(
        wkb::from_wkb(&bytes, &Limits::default()).unwrap(),
        Some(mp.clone())
    );
    // Big endian EWKB PointZ with SRID.
    let mut be = vec![0u8];
    be.extend_from_slice(&(0x8000_0001u32 | 0x2000_0000).to_be_bytes());
    be.extend_from_slice(&4326u32.to_be_bytes());
    for v in [3.0f64, 4.0, 5.0] {
        be.extend_from_slice(&v.to_be_bytes());
    }
    assert_eq!(
        wkb::from_wkb(&be, &Limits::default()).unwrap(),
        Some(Geometry::Point(Point::new(3.0, 4.0, Some(5.0))))
    );
    // Empty point (NaN) decodes to None.
    let mut empty = vec![1, 1, 0, 0, 0];
    empty.extend_from_slice(&f64::NAN.to_le_bytes());
    empty.extend_from_slice(&f64::NAN.to_le_bytes());
    assert_eq!(wkb::from_wkb(&empty, &Limits::default()).unwrap(), None);
    // Trailing and truncated bytes.
    let mut t = wkb::to_wkb(&p2);
    t.push(0);
    assert!(matches!(
        wkb::from_wkb(&t, &Limits::default()),
        Err(wkb::WkbError::TrailingBytes(1))
    ));
    assert!(matches!(
        wkb::from_wkb(&bytes[..bytes.len() - 1], &Limits::default()),
        Err(wkb::WkbError::Truncated { .. })
    ));
    assert!(matches!(
        wkb::from_wkb(&[7], &Limits::default()),
        Err(wkb::WkbError::BadByteOrder(7, 0))
    ));
}

#[test]
fn ewkt_like_geodjango() {
    let p = Geometry::Point(Point::new(13.059383984086399, -5.85027684637961, Some(0.0)));
    assert_eq!(
        ewkt::to_ewkt(&p),
        "SRID=4326;POINT Z (13.059383984086399 -5.85027684637961 0)"
    );
    let p = Geometry::Point(Point::new(1.0, 2.5, None));
    assert_eq!(ewkt::to_wkt(&p), "POINT (1 2.5)");
    let mp = parse(
        json!({"type": "MultiPolygon", "coordinates": [[sq(0.0,0.0,1.0)], [sq(2.0,2.0,0.5)]]}),
    )
    .unwrap();
    assert_eq!(
        ewkt::to_ewkt(&mp),
        "SRID=4326;MULTIPOLYGON (((0 0, 1 0, 1 1, 0 1, 0 0)), ((2 2, 2.5 2, 2.5 2.5, 2 2.5, 2 2)))"
    );
}

#[test]
fn streaming_feature_collection() {
    use iaso_geo::geojson_out::FeatureCollectionWriter;
    let mut w = FeatureCollectionWriter::with_crs(Vec::new(), "EPSG:4326").unwrap();
    let mp = parse(
        json!({"type": "MultiPolygon", "coordinates": [[sq(0.0,0.0,1.0), sq(0.25,0.25,0.5)]]}),
    )
    .unwrap();
    let name = json!("Zone \"A\"");
    w.write_feature_pairs(Some(1), Some(&mp), [("name", &name)])
        .unwrap();
    w.write_feature(None, None, None).unwrap();
    let p = Geometry::Point(Point::new(1e-7, 2.0, Some(3.5)));
    w.write_feature(Some(3), Some(&p), json!({"a": [1, 2]}).as_object())
        .unwrap();
    assert_eq!(w.count(), 3);
    let text = String::from_utf8(w.finish().unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "FeatureCollection");
    assert_eq!(v["crs"]["properties"]["name"], "EPSG:4326");
    let f = v["features"].as_array().unwrap();
    assert_eq!(f.len(), 3);
    assert_eq!(f[0]["geometry"], to_geometry_value(&mp));
    assert_eq!(f[0]["properties"]["name"], "Zone \"A\"");
    assert_eq!(f[1]["geometry"], serde_json::Value::Null);
    assert_eq!(f[1]["properties"], json!({}));
    assert_eq!(f[2]["geometry"], to_geometry_value(&p));
    // Round trip through the parser.
    let back = parse_geo_json(&f[2]["geometry"], &Limits::default()).unwrap();
    assert_eq!(back, p);
    let empty = FeatureCollectionWriter::new(Vec::new())
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(empty, br#"{"type":"FeatureCollection","features":[]}"#);
}
