use std::path::PathBuf;

use thiserror::Error;

use super::binary::BlobError;

/// Errors of the GeoPackage reader and writer. Messages name the file, layer, feature id or
/// column concerned.
#[derive(Debug, Error)]
pub enum GpkgError {
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is empty (0 bytes): not a GeoPackage")]
    EmptyFile { path: PathBuf },
    #[error("{path} is not an SQLite database, so not a GeoPackage")]
    NotSqlite { path: PathBuf },
    #[error("{path} is truncated: its header declares {expected} bytes but it has {actual}")]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("{path} is a damaged SQLite database: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} is an SQLite database but not a GeoPackage \
         (application_id {application_id:#010x} and no gpkg_contents table)"
    )]
    NotGeoPackage { path: PathBuf, application_id: u32 },
    #[error("the GeoPackage has no table '{0}'")]
    MissingTable(String),
    #[error("table '{table}' has no column '{column}'")]
    MissingColumn { table: String, column: String },
    #[error(
        "layer '{0}' is listed in gpkg_contents as features but has no gpkg_geometry_columns entry"
    )]
    NoGeometryColumn(String),
    #[error("no feature layer named '{0}'")]
    UnknownLayer(String),
    #[error("layer '{layer}' uses spatial reference system {srs_id} ({organization} {coordsys_id}); only EPSG:4326 longitude/latitude is supported")]
    UnsupportedSrs {
        layer: String,
        srs_id: i64,
        organization: String,
        coordsys_id: i64,
    },
    #[error("too many layers: {count} (limit {limit})")]
    TooManyLayers { count: usize, limit: usize },
    #[error("too many columns in '{table}': {count} (limit {limit})")]
    TooManyColumns {
        table: String,
        count: usize,
        limit: usize,
    },
    #[error("layer '{layer}' has {count} features (limit {limit})")]
    TooManyFeatures {
        layer: String,
        count: u64,
        limit: u64,
    },
    #[error("the file holds {count} features in all (limit {limit})")]
    TooManyFeaturesTotal { count: u64, limit: u64 },
    #[error("layer '{layer}', feature {fid}: {source}")]
    Geometry {
        layer: String,
        fid: i64,
        source: BlobError,
    },
    #[error("{path} already exists")]
    AlreadyExists { path: PathBuf },
    #[error("invalid table or column name '{0}': it must be non-empty, at most 200 characters, without NUL, and not start with 'gpkg_', 'rtree_' or 'sqlite_'")]
    InvalidName(String),
    #[error("table '{0}' is declared twice")]
    DuplicateTable(String),
    #[error("table '{table}' declares column '{column}' twice (or it clashes with the fid/geometry column)")]
    DuplicateColumn { table: String, column: String },
    #[error("table '{table}' has {expected} columns but {got} values were given")]
    ValueCount {
        table: String,
        expected: usize,
        got: usize,
    },
    #[error("table '{table}', column '{column}': {problem}")]
    BadValue {
        table: String,
        column: String,
        problem: String,
    },
    #[error("layer '{layer}' is declared {declared}, it cannot store a {found}")]
    GeometryTypeMismatch {
        layer: String,
        declared: &'static str,
        found: &'static str,
    },
    #[error("'{0}' is an attribute table: features need a feature layer")]
    NotAFeatureLayer(String),
    #[error("'{0}' is a feature layer: use append_feature")]
    NotAnAttributeTable(String),
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
