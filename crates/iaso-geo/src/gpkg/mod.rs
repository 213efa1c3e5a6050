//! GeoPackage (OGC GPKG 1.2, an SQLite file) reading and writing.
//!
//! * [`GpkgReader`] opens a file read-only, checks that it is a GeoPackage, lists feature
//!   layers ([`LayerInfo`]) and attribute tables, and iterates features ([`Feature`]) or the
//!   rows of any table in bounded batches, never holding a whole layer in memory.
//! * [`GpkgWriter`] creates a new file that GDAL/QGIS/fiona read: feature layers
//!   (`Point`/`PointZ`, `MultiPolygon` or mixed `GEOMETRY`), attribute tables (e.g. Iaso's
//!   `groups`), optional R-tree spatial index, extents in `gpkg_contents`.
//! * [`binary`] encodes/decodes the GeoPackage geometry blob (`GP` header + WKB).
//!
//! The API is synchronous (rusqlite); from async code run it in `spawn_blocking` and pass
//! features through a channel.

pub mod binary;
mod error;
mod reader;
mod sql;
mod value;
mod writer;

pub use error::GpkgError;
pub use reader::{
    ColumnInfo, Feature, FeatureIter, GpkgReader, LayerInfo, ReadLimits, Row, RowIter, TableInfo,
};
pub use value::{Value, ValueRef};
pub use writer::{
    AttributeTableSpec, ColumnSpec, ColumnType, FeatureLayerSpec, GpkgWriter, LayerGeometryType,
    LayerHandle, WriteSummary, WriterOptions,
};

/// `PRAGMA application_id` of a GeoPackage ("GPKG").
pub const APPLICATION_ID_GPKG: i32 = 0x4750_4B47;
/// `PRAGMA user_version` written (GeoPackage 1.2.0).
pub const USER_VERSION: i32 = 10200;
