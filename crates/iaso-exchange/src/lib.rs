//! Org unit exchange formats, independent of HTTP and of the task queue:
//!
//! * [`gpkg_import`]: reads and checks an Iaso GeoPackage (`groups` table, `level-*` layers)
//!   into [`gpkg_import::GpkgInput`];
//! * [`tree`]: tables (CSV/XLSX) for Iaso's `tree_importer` with a data dictionary, and the
//!   simple CSV layout (read into the same `GpkgInput`);
//! * [`export`]: CSV/XLSX with Iaso's French columns, GeoPackage in Iaso's layout, GeoJSON.
//!
//! The database side (streams, bulk statements) is `iaso_store::org_unit_io`; the tasks that
//! run imports and exports are in `iaso-tasks`. Design: `docs/decisions/0700-import-export.md`.

pub mod export;
pub mod gpkg_import;
pub mod parquet;
pub mod tree;

/// A problem with an imported file, for the person who sent it (names the layer/row).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ImportError(pub String);
