//! The geometry model: what an org unit can carry (SRID 4326, longitude/latitude degrees).
//!
//! * [`Point`]: a location with an optional altitude (Iaso stores `PointZ`).
//! * [`MultiPolygon`]: a shape (Iaso stores `MultiPolygon`; a polygon input becomes a one-part
//!   multipolygon). Polygon rings are 2-D: a Z coordinate on a polygon input is dropped.
//!
//! Values are only built through the parsers (GeoJSON, WKB, GeoPackage), which validate them
//! (see [`validate`]), or through [`MultiPolygon::new`]/[`Point::new`] followed by
//! [`Geometry::validate`] when built by hand.

mod bbox;
mod error;
mod pip;
mod simplify;
mod topology;
pub mod validate;

pub use bbox::BBox;
pub use error::GeometryError;
pub use simplify::{iaso_simplify_tolerance, simplify, simplify_iaso};
pub use validate::Limits;

/// A 2-D position: `x` = longitude, `y` = latitude, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coord {
    pub x: f64,
    pub y: f64,
}

impl Coord {
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }
}

/// A location: longitude, latitude and an optional altitude (metres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub z: Option<f64>,
}

impl Point {
    pub const fn new(x: f64, y: f64, z: Option<f64>) -> Self {
        Self { x, y, z }
    }

    pub fn coord(&self) -> Coord {
        Coord::new(self.x, self.y)
    }
}

/// A closed ring: the first and last positions are equal, at least 4 positions.
pub type Ring = Vec<Coord>;

/// A polygon: one exterior ring followed by zero or more holes.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    pub rings: Vec<Ring>,
}

impl Polygon {
    pub fn new(rings: Vec<Ring>) -> Self {
        Self { rings }
    }

    pub fn exterior(&self) -> Option<&Ring> {
        self.rings.first()
    }

    pub fn holes(&self) -> &[Ring] {
        self.rings.get(1..).unwrap_or(&[])
    }

    pub fn vertex_count(&self) -> usize {
        self.rings.iter().map(Vec::len).sum()
    }
}

/// One or more polygons.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiPolygon {
    pub polygons: Vec<Polygon>,
}

impl MultiPolygon {
    pub fn new(polygons: Vec<Polygon>) -> Self {
        Self { polygons }
    }

    /// Total number of positions over all rings (closing positions included).
    pub fn vertex_count(&self) -> usize {
        self.polygons.iter().map(Polygon::vertex_count).sum()
    }

    /// Whether `(x, y)` lies inside the shape or on its boundary (holes excluded).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        pip::multipolygon_contains(self, Coord::new(x, y))
    }
}

/// Everything an org unit geometry can be.
#[derive(Debug, Clone, PartialEq)]
pub enum Geometry {
    Point(Point),
    MultiPolygon(MultiPolygon),
}

/// The two kinds of [`Geometry`], used in messages and layer declarations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryKind {
    Point,
    MultiPolygon,
}

impl std::fmt::Display for GeometryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GeometryKind::Point => "Point",
            GeometryKind::MultiPolygon => "MultiPolygon",
        })
    }
}

impl Geometry {
    pub fn kind(&self) -> GeometryKind {
        match self {
            Geometry::Point(_) => GeometryKind::Point,
            Geometry::MultiPolygon(_) => GeometryKind::MultiPolygon,
        }
    }

    /// Bounding box (a point gives a degenerate box).
    pub fn bbox(&self) -> BBox {
        match self {
            Geometry::Point(p) => BBox::of_point(p.x, p.y),
            Geometry::MultiPolygon(mp) => BBox::of_multipolygon(mp),
        }
    }

    pub fn vertex_count(&self) -> usize {
        match self {
            Geometry::Point(_) => 1,
            Geometry::MultiPolygon(mp) => mp.vertex_count(),
        }
    }

    /// Whether the geometry has a Z coordinate (only points can).
    pub fn has_z(&self) -> bool {
        matches!(self, Geometry::Point(Point { z: Some(_), .. }))
    }

    /// Checks the geometry against `limits` (see [`validate::validate`]).
    pub fn validate(&self, limits: &Limits) -> Result<(), GeometryError> {
        validate::validate(self, limits)
    }

    pub fn as_point(&self) -> Option<&Point> {
        match self {
            Geometry::Point(p) => Some(p),
            Geometry::MultiPolygon(_) => None,
        }
    }

    pub fn as_multipolygon(&self) -> Option<&MultiPolygon> {
        match self {
            Geometry::MultiPolygon(mp) => Some(mp),
            Geometry::Point(_) => None,
        }
    }
}

impl From<Point> for Geometry {
    fn from(p: Point) -> Self {
        Geometry::Point(p)
    }
}

impl From<MultiPolygon> for Geometry {
    fn from(mp: MultiPolygon) -> Self {
        Geometry::MultiPolygon(mp)
    }
}

impl From<Polygon> for Geometry {
    fn from(p: Polygon) -> Self {
        Geometry::MultiPolygon(MultiPolygon::new(vec![p]))
    }
}
