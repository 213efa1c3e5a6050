//! Geometry and geo formats for the Iaso georegistry: a pure library (no application
//! database, no HTTP) used by the georegistry, import/export and API code.
//!
//! # Model ([`geometry`])
//! * [`Geometry`] is either a [`Point`] (longitude, latitude, optional altitude: Iaso's
//!   `PointZ`) or a [`MultiPolygon`] (Iaso's `MultiPolygon`; a polygon input becomes a
//!   one-part multipolygon). Everything is SRID 4326, degrees.
//! * [`Geometry::validate`] with [`Limits`]: finite coordinates, |lon| ≤ 180, |lat| ≤ 90,
//!   closed rings of ≥ 4 positions with non-zero area, vertex/part/ring counts, and (unless
//!   [`Limits::lenient`]) a bounded topology check: self-intersections, crossing rings, holes
//!   outside their shell or nested, overlapping parts. Errors are [`GeometryError`] values
//!   that name the place (`coordinates[0][2][5]`, polygon/ring indexes, coordinates).
//! * [`Geometry::bbox`] ([`BBox`]) for a bounding-box index; [`MultiPolygon::contains`] for
//!   "which unit contains this point"; [`geometry::simplify`] / [`geometry::simplify_iaso`]
//!   (Douglas–Peucker that never yields an invalid ring, for `simplified_geom`).
//!
//! # Formats
//! * [`geojson`]: strict parsing of a GeoJSON geometry (or a Feature / one-feature
//!   FeatureCollection, as Iaso's `geo_json` field carries) and output as
//!   `serde_json::Value`, including Iaso's `geo_json` FeatureCollection shape.
//! * [`geojson_out::FeatureCollectionWriter`]: streams a FeatureCollection to any
//!   `std::io::Write`, feature by feature.
//! * [`wkb`]: ISO WKB encoding (little endian, PointZ as type 1001) for storage in the
//!   application database, and bounded decoding of WKB/EWKB.
//! * [`ewkt`]: `SRID=4326;POINT Z (…)` / `SRID=4326;MULTIPOLYGON (…)` as GeoDjango writes them
//!   in Iaso's audit snapshots.
//! * [`gpkg`]: GeoPackage reader ([`gpkg::GpkgReader`]: checked open, layer listing,
//!   batched feature and row iterators, limits) and streaming writer
//!   ([`gpkg::GpkgWriter`]: feature layers, attribute tables, R-tree index, extents) that
//!   GDAL/QGIS/fiona read. Synchronous (rusqlite on the workspace's single SQLite); call it
//!   from `spawn_blocking` in async code.
//!
//! # Example
//! ```
//! use iaso_geo::{geojson, ewkt, wkb, Limits};
//! let v = serde_json::json!({"type": "Polygon",
//!     "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]});
//! let g = geojson::parse_geometry(&v, &Limits::default()).unwrap();
//! assert_eq!(g.kind().to_string(), "MultiPolygon");
//! assert!(g.as_multipolygon().unwrap().contains(0.9, 0.1));
//! assert_eq!(ewkt::to_ewkt(&g), "SRID=4326;MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))");
//! let stored = wkb::to_wkb(&g);
//! assert_eq!(wkb::from_wkb(&stored, &Limits::default()).unwrap(), Some(g));
//! ```

pub mod ewkt;
pub mod geojson;
pub mod geojson_out;
pub mod geometry;
pub mod gpkg;
pub mod wkb;

pub use geometry::{
    BBox, Coord, Geometry, GeometryError, GeometryKind, Limits, MultiPolygon, Point, Polygon, Ring,
};
