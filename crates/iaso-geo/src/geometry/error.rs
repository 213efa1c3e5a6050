use thiserror::Error;

/// Why a geometry was refused. Messages name the offending place: `path` is a JSON-style path
/// into the coordinates (`coordinates[0][2][5]`), `polygon`/`ring` are zero-based indexes.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum GeometryError {
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("a GeoJSON geometry must be a JSON object, found {found}")]
    NotAnObject { found: &'static str },
    #[error("GeoJSON member '{0}' is missing")]
    MissingMember(&'static str),
    #[error("GeoJSON member '{member}' must be {expected}")]
    InvalidMember {
        member: &'static str,
        expected: &'static str,
    },
    #[error("unsupported geometry type '{0}': only Point, Polygon and MultiPolygon are accepted")]
    UnsupportedType(String),
    #[error("unknown geometry type '{0}'")]
    UnknownType(String),
    #[error(
        "a FeatureCollection must hold exactly one feature to be used as a geometry, found {0}"
    )]
    FeatureCount(usize),
    #[error("at {path}: {expected}")]
    BadNesting {
        path: String,
        expected: &'static str,
    },
    #[error("at {path}: a position needs 2 or 3 numbers, found {found}")]
    BadPosition { path: String, found: usize },
    #[error("at {path}: coordinate is not a finite number")]
    NonFinite { path: String },
    #[error("at {path}: longitude {value} is outside [-180, 180]")]
    LongitudeOutOfRange { path: String, value: f64 },
    #[error("at {path}: latitude {value} is outside [-90, 90]")]
    LatitudeOutOfRange { path: String, value: f64 },
    #[error("the geometry is empty")]
    Empty,
    #[error("polygon {polygon} has no ring")]
    PolygonWithoutRing { polygon: usize },
    #[error(
        "polygon {polygon}, ring {ring}: the ring is not closed (first and last positions differ)"
    )]
    RingNotClosed { polygon: usize, ring: usize },
    #[error(
        "polygon {polygon}, ring {ring}: a ring needs at least 4 positions, found {positions}"
    )]
    RingTooShort {
        polygon: usize,
        ring: usize,
        positions: usize,
    },
    #[error("polygon {polygon}, ring {ring}: the ring has zero area")]
    ZeroAreaRing { polygon: usize, ring: usize },
    #[error("polygon {polygon}, ring {ring}: the ring intersects itself near ({x}, {y})")]
    SelfIntersection {
        polygon: usize,
        ring: usize,
        x: f64,
        y: f64,
    },
    #[error(
        "polygon {polygon_a} ring {ring_a} crosses polygon {polygon_b} ring {ring_b} near ({x}, {y})"
    )]
    RingsCross {
        polygon_a: usize,
        ring_a: usize,
        polygon_b: usize,
        ring_b: usize,
        x: f64,
        y: f64,
    },
    #[error("polygon {polygon}, ring {ring}: the hole is not inside the exterior ring")]
    HoleOutsideShell { polygon: usize, ring: usize },
    #[error("polygon {polygon}: holes {ring_a} and {ring_b} are nested")]
    NestedHoles {
        polygon: usize,
        ring_a: usize,
        ring_b: usize,
    },
    #[error("polygons {polygon_a} and {polygon_b} of the multipolygon overlap")]
    PartsOverlap { polygon_a: usize, polygon_b: usize },
    #[error("too many vertices: {count} (limit {limit})")]
    TooManyVertices { count: usize, limit: usize },
    #[error("too many polygons: {count} (limit {limit})")]
    TooManyParts { count: usize, limit: usize },
    #[error("too many rings in polygon {polygon}: {count} (limit {limit})")]
    TooManyRings {
        polygon: usize,
        count: usize,
        limit: usize,
    },
}
