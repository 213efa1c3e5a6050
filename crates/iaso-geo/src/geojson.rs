//! GeoJSON geometry input (strict, validated) and output as `serde_json::Value`.
//!
//! Input: [`parse_geometry`] takes a geometry object (`Point`, `Polygon`, `MultiPolygon`);
//! [`parse_geo_json`] also unwraps a `Feature` or a `FeatureCollection` of exactly one feature,
//! which is what Iaso's web client sends in an org unit's `geo_json`. Other geometry types are
//! refused with [`GeometryError::UnsupportedType`]. A `Polygon` becomes a one-part
//! `MultiPolygon`. Vertex counts are checked before anything is allocated.
//!
//! Output: [`to_geometry_value`] gives the geometry object (`Point` with 2 or 3 numbers,
//! `MultiPolygon`), and [`to_feature_collection`] wraps it the way Iaso serialises an org unit's
//! `geo_json` (`{"type":"FeatureCollection","features":[{"type":"Feature","id":…,
//! "geometry":…,"properties":{}}]}`, with the optional `crs` member of Iaso's `asLocation`
//! variant). See `docs/decisions/0200-geo-formats.md`.

use serde_json::{json, Map, Value};

use crate::geometry::validate::{self, check_lon_lat, Limits};
use crate::geometry::{Coord, Geometry, GeometryError, MultiPolygon, Point, Polygon};

/// Parses a GeoJSON text holding a geometry, a Feature or a one-feature FeatureCollection.
/// serde_json refuses JSON nested deeper than 128 levels, which bounds recursion.
pub fn parse_geo_json_str(text: &str, limits: &Limits) -> Result<Geometry, GeometryError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| GeometryError::Json(e.to_string()))?;
    parse_geo_json(&value, limits)
}

/// Parses a geometry, a Feature (its `geometry`) or a FeatureCollection of exactly one feature.
/// A feature whose geometry is `null` gives [`GeometryError::Empty`].
pub fn parse_geo_json(value: &Value, limits: &Limits) -> Result<Geometry, GeometryError> {
    let obj = as_object(value)?;
    match type_of(obj)? {
        "Feature" => parse_geometry(feature_geometry(obj)?, limits),
        "FeatureCollection" => {
            let features = obj
                .get("features")
                .ok_or(GeometryError::MissingMember("features"))?
                .as_array()
                .ok_or(GeometryError::InvalidMember {
                    member: "features",
                    expected: "an array",
                })?;
            if features.len() != 1 {
                return Err(GeometryError::FeatureCount(features.len()));
            }
            let feature = as_object(&features[0])?;
            if type_of(feature)? != "Feature" {
                return Err(GeometryError::InvalidMember {
                    member: "type",
                    expected: "\"Feature\" inside a FeatureCollection",
                });
            }
            parse_geometry(feature_geometry(feature)?, limits)
        }
        _ => parse_geometry(value, limits),
    }
}

/// Parses a GeoJSON geometry object and validates it.
pub fn parse_geometry(value: &Value, limits: &Limits) -> Result<Geometry, GeometryError> {
    let obj = as_object(value)?;
    let ty = type_of(obj)?;
    let coords = || {
        obj.get("coordinates")
            .ok_or(GeometryError::MissingMember("coordinates"))
    };
    let geometry = match ty {
        "Point" => Geometry::Point(parse_point(coords()?)?),
        "Polygon" => {
            let mut budget = limits.max_vertices;
            let poly = parse_polygon(coords()?, "coordinates", &mut budget, limits, 0)?;
            Geometry::MultiPolygon(MultiPolygon::new(vec![poly]))
        }
        "MultiPolygon" => {
            let arr = array(coords()?, "coordinates", "an array of polygons")?;
            if arr.len() > limits.max_parts {
                return Err(GeometryError::TooManyParts {
                    count: arr.len(),
                    limit: limits.max_parts,
                });
            }
            let mut budget = limits.max_vertices;
            let mut polygons = Vec::with_capacity(arr.len());
            for (pi, p) in arr.iter().enumerate() {
                let path = format!("coordinates[{pi}]");
                polygons.push(parse_polygon(p, &path, &mut budget, limits, pi)?);
            }
            Geometry::MultiPolygon(MultiPolygon::new(polygons))
        }
        "LineString" | "MultiLineString" | "MultiPoint" | "GeometryCollection" => {
            return Err(GeometryError::UnsupportedType(ty.to_owned()))
        }
        other => return Err(GeometryError::UnknownType(other.to_owned())),
    };
    validate::validate(&geometry, limits)?;
    Ok(geometry)
}

fn as_object(value: &Value) -> Result<&Map<String, Value>, GeometryError> {
    value.as_object().ok_or(GeometryError::NotAnObject {
        found: json_kind(value),
    })
}

fn type_of(obj: &Map<String, Value>) -> Result<&str, GeometryError> {
    obj.get("type")
        .ok_or(GeometryError::MissingMember("type"))?
        .as_str()
        .ok_or(GeometryError::InvalidMember {
            member: "type",
            expected: "a string",
        })
}

fn feature_geometry(feature: &Map<String, Value>) -> Result<&Value, GeometryError> {
    match feature.get("geometry") {
        None => Err(GeometryError::MissingMember("geometry")),
        Some(Value::Null) => Err(GeometryError::Empty),
        Some(g) => Ok(g),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn array<'a>(
    v: &'a Value,
    path: &str,
    expected: &'static str,
) -> Result<&'a Vec<Value>, GeometryError> {
    v.as_array().ok_or_else(|| GeometryError::BadNesting {
        path: path.to_owned(),
        expected,
    })
}

fn number(v: &Value, path: impl FnOnce() -> String) -> Result<f64, GeometryError> {
    v.as_f64().ok_or_else(|| GeometryError::BadNesting {
        path: path(),
        expected: "a number",
    })
}

fn parse_point(v: &Value) -> Result<Point, GeometryError> {
    let arr = array(v, "coordinates", "a position (array of numbers)")?;
    if arr.len() != 2 && arr.len() != 3 {
        return Err(GeometryError::BadPosition {
            path: "coordinates".to_owned(),
            found: arr.len(),
        });
    }
    let x = number(&arr[0], || "coordinates[0]".to_owned())?;
    let y = number(&arr[1], || "coordinates[1]".to_owned())?;
    let z = match arr.get(2) {
        Some(z) => Some(number(z, || "coordinates[2]".to_owned())?),
        None => None,
    };
    check_lon_lat(x, y, || "coordinates".to_owned())?;
    Ok(Point::new(x, y, z))
}

fn parse_polygon(
    v: &Value,
    path: &str,
    budget: &mut usize,
    limits: &Limits,
    polygon: usize,
) -> Result<Polygon, GeometryError> {
    let rings_v = array(v, path, "an array of rings")?;
    if rings_v.is_empty() {
        return Err(GeometryError::PolygonWithoutRing { polygon });
    }
    if rings_v.len() > limits.max_rings_per_polygon {
        return Err(GeometryError::TooManyRings {
            polygon,
            count: rings_v.len(),
            limit: limits.max_rings_per_polygon,
        });
    }
    let mut rings = Vec::with_capacity(rings_v.len());
    for (ri, ring_v) in rings_v.iter().enumerate() {
        let positions = ring_v.as_array().ok_or_else(|| GeometryError::BadNesting {
            path: format!("{path}[{ri}]"),
            expected: "a ring (array of positions)",
        })?;
        if positions.len() > *budget {
            return Err(GeometryError::TooManyVertices {
                count: limits.max_vertices - *budget + positions.len(),
                limit: limits.max_vertices,
            });
        }
        *budget -= positions.len();
        let mut ring = Vec::with_capacity(positions.len());
        for (vi, pos_v) in positions.iter().enumerate() {
            let pos = pos_v.as_array().ok_or_else(|| GeometryError::BadNesting {
                path: format!("{path}[{ri}][{vi}]"),
                expected: "a position (array of numbers)",
            })?;
            if pos.first().is_some_and(Value::is_array) {
                return Err(GeometryError::BadNesting {
                    path: format!("{path}[{ri}][{vi}][0]"),
                    expected: "a number (arrays are nested too deep)",
                });
            }
            if pos.len() != 2 && pos.len() != 3 {
                return Err(GeometryError::BadPosition {
                    path: format!("{path}[{ri}][{vi}]"),
                    found: pos.len(),
                });
            }
            let x = number(&pos[0], || format!("{path}[{ri}][{vi}][0]"))?;
            let y = number(&pos[1], || format!("{path}[{ri}][{vi}][1]"))?;
            if let Some(z) = pos.get(2) {
                // Checked for type only: polygon altitudes are dropped.
                number(z, || format!("{path}[{ri}][{vi}][2]"))?;
            }
            check_lon_lat(x, y, || format!("{path}[{ri}][{vi}]"))?;
            ring.push(Coord::new(x, y));
        }
        rings.push(ring);
    }
    Ok(Polygon::new(rings))
}

fn num(x: f64) -> Value {
    // Validated geometries only hold finite numbers; a non-finite one becomes null.
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn ring_value(ring: &[Coord]) -> Value {
    Value::Array(
        ring.iter()
            .map(|c| Value::Array(vec![num(c.x), num(c.y)]))
            .collect(),
    )
}

/// The GeoJSON geometry object.
pub fn to_geometry_value(geometry: &Geometry) -> Value {
    match geometry {
        Geometry::Point(p) => {
            let mut coords = vec![num(p.x), num(p.y)];
            if let Some(z) = p.z {
                coords.push(num(z));
            }
            json!({"type": "Point", "coordinates": coords})
        }
        Geometry::MultiPolygon(mp) => {
            let polys: Vec<Value> = mp
                .polygons
                .iter()
                .map(|p| Value::Array(p.rings.iter().map(|r| ring_value(r)).collect()))
                .collect();
            json!({"type": "MultiPolygon", "coordinates": polys})
        }
    }
}

/// Iaso's `geo_json` shape: a FeatureCollection holding one feature with the org unit id and
/// empty properties. With `with_crs`, adds `"crs": {"type":"name","properties":{"name":"EPSG:4326"}}`.
pub fn to_feature_collection(id: Option<i64>, geometry: &Geometry, with_crs: bool) -> Value {
    let mut feature = Map::new();
    feature.insert("type".into(), Value::from("Feature"));
    if let Some(id) = id {
        feature.insert("id".into(), Value::from(id));
    }
    feature.insert("geometry".into(), to_geometry_value(geometry));
    feature.insert("properties".into(), Value::Object(Map::new()));
    let mut fc = Map::new();
    fc.insert("type".into(), Value::from("FeatureCollection"));
    if with_crs {
        fc.insert(
            "crs".into(),
            json!({"type": "name", "properties": {"name": "EPSG:4326"}}),
        );
    }
    fc.insert(
        "features".into(),
        Value::Array(vec![Value::Object(feature)]),
    );
    Value::Object(fc)
}
