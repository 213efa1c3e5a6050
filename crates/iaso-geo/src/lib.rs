//! Geometry and geo formats for the Iaso georegistry (placeholder docs, completed below).

pub mod ewkt;
pub mod geojson;
pub mod geojson_out;
pub mod geometry;
pub mod wkb;

pub use geometry::{
    BBox, Coord, Geometry, GeometryError, GeometryKind, Limits, MultiPolygon, Point, Polygon, Ring,
};
pub mod gpkg;
