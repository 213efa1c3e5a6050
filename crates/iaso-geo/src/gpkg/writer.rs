//! Streaming GeoPackage writer.
//!
//! Rows go through cached prepared statements inside a transaction committed every
//! [`WriterOptions::commit_every`] rows; the geometry blob buffer is reused, so memory stays
//! flat whatever the number of features. The R-tree index is filled row by row from the
//! bounding box computed here; its maintenance triggers (which call `ST_*` functions that only
//! GeoPackage-aware readers provide) are created by [`GpkgWriter::finish`], after the data.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use super::binary;
use super::error::GpkgError;
use super::sql::{ident, rtree_triggers, CREATE_CORE, SRS_ROWS};
use super::value::ValueRef;
use super::{APPLICATION_ID_GPKG, USER_VERSION};
use crate::geometry::{BBox, Geometry, Point};

const SRS_ID: i32 = 4326;
const FID: &str = "fid";

/// Declared type of an attribute column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    Real,
    /// `YYYY-MM-DD` text.
    Date,
    /// ISO-8601 `YYYY-MM-DDTHH:MM:SS[.SSS]Z` text.
    DateTime,
    Blob,
}

impl ColumnType {
    fn sql(self) -> &'static str {
        match self {
            ColumnType::Text => "TEXT",
            ColumnType::Integer => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Date => "DATE",
            ColumnType::DateTime => "DATETIME",
            ColumnType::Blob => "BLOB",
        }
    }
}

/// An attribute column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: ColumnType,
    pub not_null: bool,
}

impl ColumnSpec {
    pub fn new(name: impl Into<String>, ty: ColumnType) -> Self {
        Self {
            name: name.into(),
            ty,
            not_null: false,
        }
    }

    pub fn not_null(mut self) -> Self {
        self.not_null = true;
        self
    }
}

/// Geometry type declared for a feature layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerGeometryType {
    Point,
    MultiPolygon,
    /// Mixed points and multipolygons (`GEOMETRY`).
    Geometry,
}

impl LayerGeometryType {
    fn sql(self) -> &'static str {
        match self {
            LayerGeometryType::Point => "POINT",
            LayerGeometryType::MultiPolygon => "MULTIPOLYGON",
            LayerGeometryType::Geometry => "GEOMETRY",
        }
    }
}

/// A feature layer to create. The primary key is `fid`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureLayerSpec {
    pub name: String,
    pub geometry_column: String,
    pub geometry_type: LayerGeometryType,
    /// Points carry Z (`gpkg_geometry_columns.z = 1`); a point without altitude is then
    /// written with Z = 0, as Iaso does.
    pub has_z: bool,
    pub columns: Vec<ColumnSpec>,
    pub description: String,
}

impl FeatureLayerSpec {
    /// A layer with geometry column `geom` and no attribute column yet.
    pub fn new(name: impl Into<String>, geometry_type: LayerGeometryType) -> Self {
        Self {
            name: name.into(),
            geometry_column: "geom".into(),
            geometry_type,
            has_z: false,
            columns: Vec::new(),
            description: String::new(),
        }
    }

    pub fn with_z(mut self, has_z: bool) -> Self {
        self.has_z = has_z;
        self
    }

    pub fn column(mut self, name: impl Into<String>, ty: ColumnType) -> Self {
        self.columns.push(ColumnSpec::new(name, ty));
        self
    }
}

/// An attribute (non-spatial) table to create, registered in `gpkg_contents` as
/// `attributes`. The primary key is `fid`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeTableSpec {
    pub name: String,
    pub columns: Vec<ColumnSpec>,
    pub description: String,
}

impl AttributeTableSpec {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            columns: Vec::new(),
            description: String::new(),
        }
    }

    pub fn column(mut self, spec: ColumnSpec) -> Self {
        self.columns.push(spec);
        self
    }
}

/// Writer settings.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterOptions {
    /// Replace an existing file instead of failing.
    pub overwrite: bool,
    /// Create the R-tree spatial index extension for each feature layer.
    pub spatial_index: bool,
    /// Rows per transaction.
    pub commit_every: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            overwrite: false,
            spatial_index: true,
            commit_every: 50_000,
        }
    }
}

/// Refers to a table created by this writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerHandle(usize);

struct TableState {
    name: String,
    columns: Vec<ColumnSpec>,
    insert_sql: String,
    geometry: Option<GeometryState>,
    rows: u64,
}

struct GeometryState {
    column: String,
    ty: LayerGeometryType,
    has_z: bool,
    rtree_insert_sql: Option<String>,
    extent: BBox,
}

/// What [`GpkgWriter::finish`] reports: `(table, rows)` in creation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSummary {
    pub tables: Vec<(String, u64)>,
}

/// Creates a GeoPackage file. Call [`GpkgWriter::finish`]: dropping the writer without it
/// rolls back the rows of the current batch and leaves a file without extents or R-tree
/// triggers, to be deleted. Geometries are written as given: validate them beforehand.
pub struct GpkgWriter {
    conn: Connection,
    path: PathBuf,
    options: WriterOptions,
    tables: Vec<TableState>,
    pending: usize,
    blob: Vec<u8>,
}

fn check_name(name: &str) -> Result<(), GpkgError> {
    let lower = name.to_ascii_lowercase();
    if name.is_empty()
        || name.chars().count() > 200
        || name.contains('\0')
        || lower.starts_with("gpkg_")
        || lower.starts_with("rtree_")
        || lower.starts_with("sqlite_")
    {
        return Err(GpkgError::InvalidName(name.to_owned()));
    }
    Ok(())
}

fn check_column_names(
    table: &str,
    reserved: &[&str],
    columns: &[ColumnSpec],
) -> Result<(), GpkgError> {
    let mut seen: Vec<String> = reserved.iter().map(|s| s.to_ascii_lowercase()).collect();
    for c in columns {
        if c.name.is_empty() || c.name.contains('\0') {
            return Err(GpkgError::InvalidName(c.name.clone()));
        }
        let lower = c.name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(GpkgError::DuplicateColumn {
                table: table.to_owned(),
                column: c.name.clone(),
            });
        }
        seen.push(lower);
    }
    Ok(())
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn check_value(table: &str, spec: &ColumnSpec, v: &ValueRef<'_>) -> Result<(), GpkgError> {
    let problem = match (spec.ty, v) {
        (_, ValueRef::Null) if spec.not_null => Some("NULL in a NOT NULL column".to_owned()),
        (_, ValueRef::Null) => None,
        (ColumnType::Text, ValueRef::Text(_)) => None,
        (ColumnType::Integer, ValueRef::Integer(_)) => None,
        (ColumnType::Real, ValueRef::Real(f)) if f.is_finite() => None,
        (ColumnType::Real, ValueRef::Integer(_)) => None,
        (ColumnType::Blob, ValueRef::Blob(_)) => None,
        (ColumnType::Date, ValueRef::Text(s)) if is_date(s) => None,
        (ColumnType::Date, ValueRef::Text(s)) => Some(format!("'{s}' is not a YYYY-MM-DD date")),
        (ColumnType::DateTime, ValueRef::Text(s))
            if s.len() >= 19 && is_date(&s[..10]) && s.as_bytes()[10] == b'T' =>
        {
            None
        }
        (ColumnType::DateTime, ValueRef::Text(s)) => Some(format!(
            "'{s}' is not an ISO-8601 YYYY-MM-DDTHH:MM:SS date-time"
        )),
        (ty, v) => Some(format!("a {} column cannot hold {v:?}", ty.sql())),
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(GpkgError::BadValue {
            table: table.to_owned(),
            column: spec.name.clone(),
            problem,
        }),
    }
}

impl GpkgWriter {
    /// Creates the file and the GeoPackage metadata tables.
    pub fn create(path: impl AsRef<Path>, options: WriterOptions) -> Result<Self, GpkgError> {
        let path = path.as_ref().to_owned();
        if path.exists() {
            if !options.overwrite {
                return Err(GpkgError::AlreadyExists { path });
            }
            std::fs::remove_file(&path).map_err(|source| GpkgError::Io {
                path: path.clone(),
                source,
            })?;
        }
        let conn = Connection::open(&path)?;
        // A file being created is worthless if the process dies: no fsync, journal in memory.
        conn.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID_GPKG};
             PRAGMA user_version = {USER_VERSION};
             PRAGMA journal_mode = MEMORY;
             PRAGMA synchronous = OFF;
             PRAGMA cache_size = -16000;
             BEGIN;"
        ))?;
        conn.set_prepared_statement_cache_capacity(256);
        conn.execute_batch(CREATE_CORE)?;
        for (name, id, org, org_id, def, desc) in SRS_ROWS {
            conn.execute(
                "INSERT INTO gpkg_spatial_ref_sys VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, id, org, org_id, def, desc],
            )?;
        }
        Ok(Self {
            conn,
            path,
            options,
            tables: Vec::new(),
            pending: 0,
            blob: Vec::with_capacity(4096),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_new_table(&self, name: &str) -> Result<(), GpkgError> {
        check_name(name)?;
        if self
            .tables
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case(name))
        {
            return Err(GpkgError::DuplicateTable(name.to_owned()));
        }
        Ok(())
    }

    fn column_ddl(columns: &[ColumnSpec]) -> String {
        columns
            .iter()
            .map(|c| {
                format!(
                    ", {} {}{}",
                    ident(&c.name),
                    c.ty.sql(),
                    if c.not_null { " NOT NULL" } else { "" }
                )
            })
            .collect()
    }

    /// Creates a feature layer.
    pub fn create_feature_layer(
        &mut self,
        spec: &FeatureLayerSpec,
    ) -> Result<LayerHandle, GpkgError> {
        self.check_new_table(&spec.name)?;
        if spec.geometry_column.is_empty() || spec.geometry_column.contains('\0') {
            return Err(GpkgError::InvalidName(spec.geometry_column.clone()));
        }
        check_column_names(&spec.name, &[FID, &spec.geometry_column], &spec.columns)?;
        let t = ident(&spec.name);
        let g = ident(&spec.geometry_column);
        self.conn.execute_batch(&format!(
            "CREATE TABLE {t} ({} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {g} {}{})",
            ident(FID),
            spec.geometry_type.sql(),
            Self::column_ddl(&spec.columns),
        ))?;
        self.conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) \
             VALUES (?1, 'features', ?1, ?2, ?3)",
            params![spec.name, spec.description, SRS_ID],
        )?;
        let z = i32::from(spec.has_z && spec.geometry_type != LayerGeometryType::MultiPolygon);
        self.conn.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?1, ?2, ?3, ?4, ?5, 0)",
            params![
                spec.name,
                spec.geometry_column,
                spec.geometry_type.sql(),
                SRS_ID,
                z
            ],
        )?;
        let rtree_insert_sql = if self.options.spatial_index {
            let r = ident(&format!("rtree_{}_{}", spec.name, spec.geometry_column));
            self.conn.execute_batch(&format!(
                "CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy)"
            ))?;
            self.conn.execute(
                "INSERT INTO gpkg_extensions VALUES (?1, ?2, 'gpkg_rtree_index', \
                 'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')",
                params![spec.name, spec.geometry_column],
            )?;
            Some(format!("INSERT INTO {r} VALUES (?1, ?2, ?3, ?4, ?5)"))
        } else {
            None
        };
        let mut cols = vec![g];
        cols.extend(spec.columns.iter().map(|c| ident(&c.name)));
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let insert_sql = format!(
            "INSERT INTO {t} ({}) VALUES ({})",
            cols.join(", "),
            placeholders.join(", ")
        );
        self.tables.push(TableState {
            name: spec.name.clone(),
            columns: spec.columns.clone(),
            insert_sql,
            geometry: Some(GeometryState {
                column: spec.geometry_column.clone(),
                ty: spec.geometry_type,
                has_z: z == 1,
                rtree_insert_sql,
                extent: BBox::EMPTY,
            }),
            rows: 0,
        });
        Ok(LayerHandle(self.tables.len() - 1))
    }

    /// Creates an attribute table (e.g. Iaso's `groups(fid, ref, name)`).
    pub fn create_attribute_table(
        &mut self,
        spec: &AttributeTableSpec,
    ) -> Result<LayerHandle, GpkgError> {
        self.check_new_table(&spec.name)?;
        check_column_names(&spec.name, &[FID], &spec.columns)?;
        let t = ident(&spec.name);
        self.conn.execute_batch(&format!(
            "CREATE TABLE {t} ({} INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL{})",
            ident(FID),
            Self::column_ddl(&spec.columns),
        ))?;
        self.conn.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) \
             VALUES (?1, 'attributes', ?1, ?2)",
            params![spec.name, spec.description],
        )?;
        let cols: Vec<String> = spec.columns.iter().map(|c| ident(&c.name)).collect();
        let placeholders: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let insert_sql = if cols.is_empty() {
            format!("INSERT INTO {t} DEFAULT VALUES")
        } else {
            format!(
                "INSERT INTO {t} ({}) VALUES ({})",
                cols.join(", "),
                placeholders.join(", ")
            )
        };
        self.tables.push(TableState {
            name: spec.name.clone(),
            columns: spec.columns.clone(),
            insert_sql,
            geometry: None,
            rows: 0,
        });
        Ok(LayerHandle(self.tables.len() - 1))
    }

    fn table(&self, handle: LayerHandle) -> &TableState {
        // Handles are only made by this writer, indexes into `tables`.
        &self.tables[handle.0]
    }

    fn check_values(&self, state: &TableState, values: &[ValueRef<'_>]) -> Result<(), GpkgError> {
        if values.len() != state.columns.len() {
            return Err(GpkgError::ValueCount {
                table: state.name.clone(),
                expected: state.columns.len(),
                got: values.len(),
            });
        }
        for (spec, v) in state.columns.iter().zip(values) {
            check_value(&state.name, spec, v)?;
        }
        Ok(())
    }

    fn after_row(&mut self) -> Result<(), GpkgError> {
        self.pending += 1;
        if self.pending >= self.options.commit_every.max(1) {
            self.conn.execute_batch("COMMIT; BEGIN;")?;
            self.pending = 0;
        }
        Ok(())
    }

    /// Appends a feature (values in the layer's column order); returns its fid.
    pub fn append_feature(
        &mut self,
        layer: LayerHandle,
        geometry: Option<&Geometry>,
        values: &[ValueRef<'_>],
    ) -> Result<i64, GpkgError> {
        let state = self.table(layer);
        let Some(gs) = &state.geometry else {
            return Err(GpkgError::NotAFeatureLayer(state.name.clone()));
        };
        self.check_values(state, values)?;
        if let Some(g) = geometry {
            let ok = match gs.ty {
                LayerGeometryType::Point => matches!(g, Geometry::Point(_)),
                LayerGeometryType::MultiPolygon => matches!(g, Geometry::MultiPolygon(_)),
                LayerGeometryType::Geometry => true,
            };
            if !ok {
                return Err(GpkgError::GeometryTypeMismatch {
                    layer: state.name.clone(),
                    declared: gs.ty.sql(),
                    found: match g {
                        Geometry::Point(_) => "Point",
                        Geometry::MultiPolygon(_) => "MultiPolygon",
                    },
                });
            }
        }
        // A Z layer gets Z = 0 for points without altitude.
        let with_z = match geometry {
            Some(Geometry::Point(p)) if gs.has_z && p.z.is_none() => {
                Some(Geometry::Point(Point::new(p.x, p.y, Some(0.0))))
            }
            _ => None,
        };
        let geometry = with_z.as_ref().or(geometry);
        self.blob.clear();
        let bbox = geometry.map(|g| {
            binary::encode(g, SRS_ID, &mut self.blob);
            g.bbox()
        });
        let state = &self.tables[layer.0];
        let fid = {
            let mut stmt = self.conn.prepare_cached(&state.insert_sql)?;
            let blob: Option<&[u8]> = bbox.map(|_| self.blob.as_slice());
            let mut i = 1;
            stmt.raw_bind_parameter(i, blob)?;
            for v in values {
                i += 1;
                stmt.raw_bind_parameter(i, v)?;
            }
            stmt.raw_execute()?;
            self.conn.last_insert_rowid()
        };
        if let (Some(b), Some(sql)) = (
            bbox,
            state
                .geometry
                .as_ref()
                .and_then(|g| g.rtree_insert_sql.as_ref()),
        ) {
            let mut stmt = self.conn.prepare_cached(sql)?;
            stmt.execute(params![fid, b.min_x, b.max_x, b.min_y, b.max_y])?;
        }
        let state = &mut self.tables[layer.0];
        state.rows += 1;
        if let (Some(b), Some(gs)) = (bbox, state.geometry.as_mut()) {
            gs.extent.extend(&b);
        }
        self.after_row()?;
        Ok(fid)
    }

    /// Appends a row to an attribute table; returns its fid.
    pub fn append_row(
        &mut self,
        table: LayerHandle,
        values: &[ValueRef<'_>],
    ) -> Result<i64, GpkgError> {
        let state = self.table(table);
        if state.geometry.is_some() {
            return Err(GpkgError::NotAnAttributeTable(state.name.clone()));
        }
        self.check_values(state, values)?;
        let fid = {
            let mut stmt = self.conn.prepare_cached(&state.insert_sql)?;
            for (i, v) in values.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, v)?;
            }
            stmt.raw_execute()?;
            self.conn.last_insert_rowid()
        };
        self.tables[table.0].rows += 1;
        self.after_row()?;
        Ok(fid)
    }

    /// Writes extents, creates the R-tree triggers, commits and closes the file.
    pub fn finish(self) -> Result<WriteSummary, GpkgError> {
        for t in &self.tables {
            let Some(gs) = &t.geometry else { continue };
            if !gs.extent.is_empty() {
                self.conn.execute(
                    "UPDATE gpkg_contents SET min_x = ?2, min_y = ?3, max_x = ?4, max_y = ?5, \
                     last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE table_name = ?1",
                    params![
                        t.name,
                        gs.extent.min_x,
                        gs.extent.min_y,
                        gs.extent.max_x,
                        gs.extent.max_y
                    ],
                )?;
            }
            if gs.rtree_insert_sql.is_some() {
                self.conn
                    .execute_batch(&rtree_triggers(&t.name, &gs.column, FID))?;
            }
        }
        self.conn.execute_batch("COMMIT;")?;
        let summary = WriteSummary {
            tables: self
                .tables
                .iter()
                .map(|t| (t.name.clone(), t.rows))
                .collect(),
        };
        self.conn.close().map_err(|(_, e)| GpkgError::Sqlite(e))?;
        Ok(summary)
    }
}
