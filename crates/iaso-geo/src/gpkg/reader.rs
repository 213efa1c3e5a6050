//! Read-only access to a GeoPackage with limits.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, OptionalExtension};

use super::binary::{self, BlobError};
use super::error::GpkgError;
use super::sql::ident;
use super::value::Value;
use crate::geometry::{BBox, Geometry, Limits};

/// Rows fetched per query while iterating (keyset pagination on the fid).
const BATCH: i64 = 256;

/// Application ids accepted as GeoPackage: "GPKG" and the older "GP10"/"GP11".
const GPKG_APPLICATION_IDS: [u32; 3] = [0x4750_4B47, 0x4750_3130, 0x4750_3131];

/// Limits applied while reading an untrusted file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadLimits {
    /// Geometry validation limits (default: [`Limits::lenient`], no topology check, since
    /// shapes exported by GIS tools are often slightly invalid and Iaso accepts them).
    pub geometry: Limits,
    /// Maximum number of feature layers plus attribute tables.
    pub max_layers: usize,
    /// Maximum number of columns in one table.
    pub max_columns: usize,
    /// Maximum features in one layer.
    pub max_features_per_layer: u64,
    /// Maximum features over all feature layers.
    pub max_total_features: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            geometry: Limits::lenient(),
            max_layers: 1_000,
            max_columns: 2_000,
            max_features_per_layer: 2_000_000,
            max_total_features: 2_000_000,
        }
    }
}

/// A column of a table, as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    /// Declared type (`TEXT`, `INTEGER`, `DATE`, `TEXT(255)`, …), as written in the schema.
    pub declared_type: String,
    pub not_null: bool,
    pub primary_key: bool,
}

/// A feature layer (`data_type = 'features'` in `gpkg_contents`).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    pub name: String,
    pub identifier: Option<String>,
    pub description: Option<String>,
    /// The integer primary key (`fid` in files written by GDAL), or `rowid` if none.
    pub fid_column: String,
    pub geometry_column: String,
    /// `POINT`, `POLYGON`, `MULTIPOLYGON`, `GEOMETRY`, … as declared.
    pub geometry_type: String,
    /// 0 = no Z, 1 = Z mandatory, 2 = Z optional.
    pub z: u8,
    pub m: u8,
    pub srs_id: i64,
    /// Attribute columns (fid and geometry columns excluded), in table order.
    pub columns: Vec<ColumnInfo>,
    /// Extent recorded in `gpkg_contents`, when all four values are present.
    pub extent: Option<BBox>,
    pub feature_count: u64,
}

impl LayerInfo {
    pub fn has_column(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c.name == name)
    }
}

/// A non-feature table listed in `gpkg_contents` (usually `data_type = 'attributes'`).
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub name: String,
    pub data_type: String,
    /// All columns, primary key included.
    pub columns: Vec<ColumnInfo>,
}

/// One feature of a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub fid: i64,
    /// Attribute values in column order; names are shared by all features of the layer.
    pub properties: Vec<(Arc<str>, Value)>,
    /// `None` for a NULL or empty geometry.
    pub geometry: Option<Geometry>,
}

impl Feature {
    /// Value of a column (`None` if the layer has no such column).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }
}

/// One row of a table read generically.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub values: Vec<(Arc<str>, Value)>,
}

impl Row {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }
}

/// A `gpkg_contents` row: name, data type, identifier, description, extent.
type ContentsRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    [Option<f64>; 4],
);

/// An open GeoPackage.
pub struct GpkgReader {
    conn: Connection,
    path: PathBuf,
    limits: ReadLimits,
    layers: Vec<LayerInfo>,
    tables: Vec<TableInfo>,
}

impl std::fmt::Debug for GpkgReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpkgReader")
            .field("path", &self.path)
            .field("layers", &self.layers.len())
            .finish()
    }
}

/// What the 100-byte SQLite header says.
struct SqliteHeader {
    application_id: u32,
}

fn check_sqlite_header(path: &Path) -> Result<SqliteHeader, GpkgError> {
    let io = |source| GpkgError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Err(GpkgError::EmptyFile {
            path: path.to_owned(),
        });
    }
    let mut header = [0u8; 100];
    if len < 100 {
        return Err(GpkgError::NotSqlite {
            path: path.to_owned(),
        });
    }
    file.read_exact(&mut header).map_err(io)?;
    if &header[0..16] != b"SQLite format 3\0" {
        return Err(GpkgError::NotSqlite {
            path: path.to_owned(),
        });
    }
    let be32 =
        |o: usize| u32::from_be_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]]);
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    let page_count = u64::from(be32(28));
    // The in-header page count is valid when "version-valid-for" equals the change counter.
    if be32(92) == be32(24) && page_count > 0 {
        let expected = page_size * page_count;
        if len < expected {
            return Err(GpkgError::Truncated {
                path: path.to_owned(),
                expected,
                actual: len,
            });
        }
    }
    Ok(SqliteHeader {
        application_id: be32(68),
    })
}

fn map_open_error(path: &Path, e: rusqlite::Error) -> GpkgError {
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => GpkgError::NotSqlite {
            path: path.to_owned(),
        },
        Some(ErrorCode::DatabaseCorrupt) => GpkgError::Corrupt {
            path: path.to_owned(),
            detail: e.to_string(),
        },
        _ => GpkgError::Sqlite(e),
    }
}

/// Whether a real table of that name exists. Views are not accepted as layers or tables: in an
/// untrusted file a view can hide an endless recursive query.
fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn columns_of(conn: &Connection, table: &str) -> rusqlite::Result<Vec<ColumnInfo>> {
    let mut stmt = conn.prepare("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)")?;
    let rows = stmt.query_map([table], |r| {
        Ok(ColumnInfo {
            name: r.get(0)?,
            declared_type: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            not_null: r.get::<_, i64>(2)? != 0,
            primary_key: r.get::<_, i64>(3)? != 0,
        })
    })?;
    rows.collect()
}

impl GpkgReader {
    /// Opens `path` read-only and checks that it is a GeoPackage whose metadata is coherent.
    pub fn open(path: impl AsRef<Path>, limits: ReadLimits) -> Result<Self, GpkgError> {
        let path = path.as_ref();
        let header = check_sqlite_header(path)?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| map_open_error(path, e))?;
        // The file is untrusted: no functions with side effects from its schema.
        conn.execute_batch(
            "PRAGMA trusted_schema = OFF; PRAGMA query_only = ON; PRAGMA cell_size_check = ON;",
        )
        .map_err(|e| map_open_error(path, e))?;
        let has_contents =
            table_exists(&conn, "gpkg_contents").map_err(|e| map_open_error(path, e))?;
        if !has_contents {
            if GPKG_APPLICATION_IDS.contains(&header.application_id) {
                return Err(GpkgError::MissingTable("gpkg_contents".into()));
            }
            return Err(GpkgError::NotGeoPackage {
                path: path.to_owned(),
                application_id: header.application_id,
            });
        }
        if !table_exists(&conn, "gpkg_spatial_ref_sys")? {
            return Err(GpkgError::MissingTable("gpkg_spatial_ref_sys".into()));
        }
        let mut reader = GpkgReader {
            conn,
            path: path.to_owned(),
            limits,
            layers: Vec::new(),
            tables: Vec::new(),
        };
        reader.load_contents().map_err(|e| match e {
            GpkgError::Sqlite(e) => map_open_error(path, e),
            other => other,
        })?;
        Ok(reader)
    }

    fn load_contents(&mut self) -> Result<(), GpkgError> {
        let entries: Vec<ContentsRow> = {
            let mut stmt = self.conn.prepare(
                "SELECT table_name, lower(data_type), identifier, description, \
                        min_x, min_y, max_x, max_y \
                 FROM gpkg_contents ORDER BY rowid",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    [r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?],
                ))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if entries.len() > self.limits.max_layers {
            return Err(GpkgError::TooManyLayers {
                count: entries.len(),
                limit: self.limits.max_layers,
            });
        }
        let has_geometry_columns = table_exists(&self.conn, "gpkg_geometry_columns")?;
        let mut total = 0u64;
        for (name, data_type, identifier, description, ext) in entries {
            if !table_exists(&self.conn, &name)? {
                return Err(GpkgError::MissingTable(name));
            }
            let columns = columns_of(&self.conn, &name)?;
            if columns.len() > self.limits.max_columns {
                return Err(GpkgError::TooManyColumns {
                    table: name,
                    count: columns.len(),
                    limit: self.limits.max_columns,
                });
            }
            if data_type != "features" {
                self.tables.push(TableInfo {
                    name,
                    data_type,
                    columns,
                });
                continue;
            }
            if !has_geometry_columns {
                return Err(GpkgError::MissingTable("gpkg_geometry_columns".into()));
            }
            let geom: Option<(String, String, i64, i64, i64)> = self
                .conn
                .query_row(
                    "SELECT column_name, upper(geometry_type_name), srs_id, z, m \
                     FROM gpkg_geometry_columns WHERE table_name = ?1",
                    [&name],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((geometry_column, geometry_type, srs_id, z, m)) = geom else {
                return Err(GpkgError::NoGeometryColumn(name));
            };
            if !columns.iter().any(|c| c.name == geometry_column) {
                return Err(GpkgError::MissingColumn {
                    table: name,
                    column: geometry_column,
                });
            }
            let fid_column = columns
                .iter()
                .find(|c| c.primary_key && c.declared_type.eq_ignore_ascii_case("INTEGER"))
                .map_or_else(|| "rowid".to_owned(), |c| c.name.clone());
            let feature_count: i64 = self.conn.query_row(
                &format!("SELECT count(*) FROM {}", ident(&name)),
                [],
                |r| r.get(0),
            )?;
            let feature_count = feature_count.max(0) as u64;
            if feature_count > self.limits.max_features_per_layer {
                return Err(GpkgError::TooManyFeatures {
                    layer: name,
                    count: feature_count,
                    limit: self.limits.max_features_per_layer,
                });
            }
            total += feature_count;
            if total > self.limits.max_total_features {
                return Err(GpkgError::TooManyFeaturesTotal {
                    count: total,
                    limit: self.limits.max_total_features,
                });
            }
            let extent = match ext {
                [Some(min_x), Some(min_y), Some(max_x), Some(max_y)] => Some(BBox {
                    min_x,
                    min_y,
                    max_x,
                    max_y,
                }),
                _ => None,
            };
            let columns = columns
                .into_iter()
                .filter(|c| c.name != fid_column && c.name != geometry_column)
                .collect();
            self.layers.push(LayerInfo {
                name,
                identifier,
                description,
                fid_column,
                geometry_column,
                geometry_type,
                z: z.clamp(0, 2) as u8,
                m: m.clamp(0, 2) as u8,
                srs_id,
                columns,
                extent,
                feature_count,
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Feature layers, in `gpkg_contents` order.
    pub fn layers(&self) -> &[LayerInfo] {
        &self.layers
    }

    pub fn layer(&self, name: &str) -> Option<&LayerInfo> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// Non-feature tables listed in `gpkg_contents` (attribute tables such as `groups`).
    pub fn attribute_tables(&self) -> &[TableInfo] {
        &self.tables
    }

    /// Whether a table of that name exists, listed in `gpkg_contents` or not (views are
    /// ignored).
    pub fn has_table(&self, name: &str) -> Result<bool, GpkgError> {
        Ok(table_exists(&self.conn, name)?)
    }

    /// Columns of any table.
    pub fn table_columns(&self, name: &str) -> Result<Vec<ColumnInfo>, GpkgError> {
        if !self.has_table(name)? {
            return Err(GpkgError::MissingTable(name.to_owned()));
        }
        Ok(columns_of(&self.conn, name)?)
    }

    fn check_srs(&self, layer: &LayerInfo) -> Result<(), GpkgError> {
        let (organization, coordsys_id): (String, i64) = self
            .conn
            .query_row(
                "SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys \
                 WHERE srs_id = ?1",
                [layer.srs_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or_else(|| ("unknown".to_owned(), layer.srs_id));
        let org = organization.to_ascii_uppercase();
        let lon_lat = (org == "EPSG" && coordsys_id == 4326)
            || (org == "OGC" && coordsys_id == 84)
            || layer.srs_id == 0
            || (layer.srs_id == 4326 && org == "UNKNOWN");
        if lon_lat {
            Ok(())
        } else {
            Err(GpkgError::UnsupportedSrs {
                layer: layer.name.clone(),
                srs_id: layer.srs_id,
                organization,
                coordsys_id,
            })
        }
    }

    /// Iterates the features of a layer in fid order, a batch of rows at a time.
    /// Each item is a feature or the error of that feature (undecodable or invalid
    /// geometry); iteration can go on after a feature error.
    pub fn features(&self, layer: &str) -> Result<FeatureIter<'_>, GpkgError> {
        let info = self
            .layer(layer)
            .ok_or_else(|| GpkgError::UnknownLayer(layer.to_owned()))?;
        self.check_srs(info)?;
        let mut select = vec![ident(&info.fid_column), ident(&info.geometry_column)];
        select.extend(info.columns.iter().map(|c| ident(&c.name)));
        let fid = ident(&info.fid_column);
        let sql = format!(
            "SELECT {} FROM {} WHERE {fid} > ?1 ORDER BY {fid} LIMIT ?2",
            select.join(", "),
            ident(&info.name),
        );
        Ok(FeatureIter {
            conn: &self.conn,
            layer: info,
            names: info
                .columns
                .iter()
                .map(|c| Arc::from(c.name.as_str()))
                .collect(),
            sql,
            last: i64::MIN,
            buffer: VecDeque::new(),
            done: false,
            limits: &self.limits,
        })
    }

    /// Iterates all rows of any table (e.g. `groups`), all columns, in rowid order.
    pub fn rows(&self, table: &str) -> Result<RowIter<'_>, GpkgError> {
        let columns = self.table_columns(table)?;
        let names: Vec<String> = columns.into_iter().map(|c| c.name).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        self.rows_with_columns(table, &refs)
    }

    /// Iterates rows of a table restricted to `columns`, failing with
    /// [`GpkgError::MissingColumn`] if one is absent (e.g. `groups` without `ref`).
    pub fn rows_with_columns(
        &self,
        table: &str,
        columns: &[&str],
    ) -> Result<RowIter<'_>, GpkgError> {
        let existing = self.table_columns(table)?;
        if existing.len() > self.limits.max_columns {
            return Err(GpkgError::TooManyColumns {
                table: table.to_owned(),
                count: existing.len(),
                limit: self.limits.max_columns,
            });
        }
        for c in columns {
            if !existing.iter().any(|e| e.name == *c) {
                return Err(GpkgError::MissingColumn {
                    table: table.to_owned(),
                    column: (*c).to_owned(),
                });
            }
        }
        let select: Vec<String> = columns.iter().map(|c| ident(c)).collect();
        // Views have no rowid; plain tables (even WITHOUT ROWID ones are rare here) do.
        let sql = format!(
            "SELECT rowid, {} FROM {} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
            if select.is_empty() {
                "NULL".to_owned()
            } else {
                select.join(", ")
            },
            ident(table),
        );
        Ok(RowIter {
            conn: &self.conn,
            names: columns.iter().map(|c| Arc::from(*c)).collect(),
            sql,
            last: i64::MIN,
            buffer: VecDeque::new(),
            done: false,
        })
    }
}

/// Iterator over the features of a layer (see [`GpkgReader::features`]).
pub struct FeatureIter<'r> {
    conn: &'r Connection,
    layer: &'r LayerInfo,
    names: Vec<Arc<str>>,
    sql: String,
    last: i64,
    buffer: VecDeque<Result<Feature, GpkgError>>,
    done: bool,
    limits: &'r ReadLimits,
}

impl FeatureIter<'_> {
    fn fill(&mut self) -> Result<(), GpkgError> {
        let mut stmt = self.conn.prepare_cached(&self.sql)?;
        let mut rows = stmt.query(params![self.last, BATCH])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            n += 1;
            let fid: i64 = row.get(0)?;
            self.last = fid;
            let geometry = match row.get_ref(1)? {
                rusqlite::types::ValueRef::Null => Ok(None),
                rusqlite::types::ValueRef::Blob(b) => {
                    decode_blob(b, self.layer, &self.limits.geometry)
                }
                rusqlite::types::ValueRef::Text(_) => Err(BlobError::NotABlob("text")),
                rusqlite::types::ValueRef::Integer(_) => Err(BlobError::NotABlob("an integer")),
                rusqlite::types::ValueRef::Real(_) => Err(BlobError::NotABlob("a real")),
            };
            let item = match geometry {
                Ok(geometry) => {
                    let mut properties = Vec::with_capacity(self.names.len());
                    for (i, name) in self.names.iter().enumerate() {
                        properties
                            .push((Arc::clone(name), Value::from_sqlite(row.get_ref(i + 2)?)));
                    }
                    Ok(Feature {
                        fid,
                        properties,
                        geometry,
                    })
                }
                Err(source) => Err(GpkgError::Geometry {
                    layer: self.layer.name.clone(),
                    fid,
                    source,
                }),
            };
            self.buffer.push_back(item);
        }
        if n < BATCH {
            self.done = true;
        }
        Ok(())
    }
}

fn decode_blob(
    blob: &[u8],
    layer: &LayerInfo,
    limits: &Limits,
) -> Result<Option<Geometry>, BlobError> {
    let header = binary::read_header(blob)?;
    // srs_id 0/-1 in a blob of a 4326 layer is a common writer shortcut: accepted.
    if i64::from(header.srs_id) != layer.srs_id && header.srs_id > 0 {
        return Err(BlobError::SrsMismatch {
            expected: layer.srs_id as i32,
            found: header.srs_id,
        });
    }
    binary::decode(blob, limits)
}

impl Iterator for FeatureIter<'_> {
    type Item = Result<Feature, GpkgError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() && !self.done {
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.buffer.pop_front()
    }
}

/// Iterator over the rows of a table (see [`GpkgReader::rows`]).
pub struct RowIter<'r> {
    conn: &'r Connection,
    names: Vec<Arc<str>>,
    sql: String,
    last: i64,
    buffer: VecDeque<Row>,
    done: bool,
}

impl RowIter<'_> {
    fn fill(&mut self) -> Result<(), GpkgError> {
        let mut stmt = self.conn.prepare_cached(&self.sql)?;
        let mut rows = stmt.query(params![self.last, BATCH])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            n += 1;
            self.last = row.get(0)?;
            let mut values = Vec::with_capacity(self.names.len());
            for (i, name) in self.names.iter().enumerate() {
                values.push((Arc::clone(name), Value::from_sqlite(row.get_ref(i + 1)?)));
            }
            self.buffer.push_back(Row { values });
        }
        if n < BATCH {
            self.done = true;
        }
        Ok(())
    }
}

impl Iterator for RowIter<'_> {
    type Item = Result<Row, GpkgError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buffer.is_empty() && !self.done {
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
        self.buffer.pop_front().map(Ok)
    }
}
