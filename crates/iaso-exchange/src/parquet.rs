//! Iaso's Parquet pyramid export (`GET /api/orgunits/?parquet=true`, `iaso-import-export.md`
//! §3): one row per unit with its own columns, then one set of `level_N_*` columns per level
//! of the tree (level 1 = the root of the unit's path), then its point, then the optional
//! `extra_fields`. Rows are buffered column by column and written in row groups, so memory
//! is bounded by the row group, not by the number of units.

use chrono::{DateTime, NaiveDate, Utc};
use iaso_geo::geojson::to_geometry_value;
use iaso_geo::{Geometry, MultiPolygon};
use iaso_store::org_unit_io::{ExportGroup, ExportRow, LevelInfo};
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{Type, TypePtr};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;

/// Rows per row group: a few MB of buffered columns for a plain pyramid.
const ROW_GROUP_ROWS: usize = 32 * 1024;
/// A row group is also closed when its buffered text (shapes as GeoJSON) passes this size.
const ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;

/// Why an export cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ParquetExportError {
    #[error("unknown extra field {0:?}: use geom_geojson, location_geojson, simplified_geom_geojson, biggest_polygon_geojson, groups_exploded, groups_exploded_code, groups_json or :all")]
    UnknownExtraField(String),
    #[error("the groups {0:?} and {1:?} give the same column name with groups_exploded_code: use groups_exploded")]
    GroupNameClash(String, String),
    #[error("cannot write the Parquet file: {0}")]
    Write(#[from] ParquetError),
}

/// The optional columns asked for with `extra_fields` (a comma list, or `:all`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtraFields {
    pub geom_geojson: bool,
    pub location_geojson: bool,
    pub simplified_geom_geojson: bool,
    pub biggest_polygon_geojson: bool,
    pub groups_exploded: bool,
    pub groups_exploded_code: bool,
    pub groups_json: bool,
}

impl ExtraFields {
    pub fn parse(list: &str) -> Result<ExtraFields, ParquetExportError> {
        let mut x = ExtraFields::default();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                ":all" => {
                    x = ExtraFields {
                        geom_geojson: true,
                        location_geojson: true,
                        simplified_geom_geojson: true,
                        biggest_polygon_geojson: true,
                        groups_exploded: true,
                        groups_exploded_code: true,
                        groups_json: true,
                    }
                }
                "geom_geojson" => x.geom_geojson = true,
                "location_geojson" => x.location_geojson = true,
                "simplified_geom_geojson" => x.simplified_geom_geojson = true,
                "biggest_polygon_geojson" => x.biggest_polygon_geojson = true,
                "groups_exploded" => x.groups_exploded = true,
                "groups_exploded_code" => x.groups_exploded_code = true,
                "groups_json" => x.groups_json = true,
                other => return Err(ParquetExportError::UnknownExtraField(other.to_string())),
            }
        }
        Ok(x)
    }

    /// Whether rows must carry `geom` and `simplified_geom`.
    pub fn needs_shapes(&self) -> bool {
        self.geom_geojson || self.simplified_geom_geojson || self.biggest_polygon_geojson
    }

    fn needs_groups(&self) -> bool {
        self.groups_exploded || self.groups_exploded_code || self.groups_json
    }
}

/// A group name as a column name: lower case ASCII letters and digits, `_` elsewhere.
fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// With `groups_exploded_code`, group columns are named after the groups alone: two groups
/// whose names give the same column cannot be exported that way.
pub fn check_group_columns(groups: &[ExportGroup]) -> Result<(), ParquetExportError> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for g in groups {
        if let Some(other) = seen.insert(safe_name(&g.name), &g.name) {
            return Err(ParquetExportError::GroupNameClash(
                other.to_string(),
                g.name.clone(),
            ));
        }
    }
    Ok(())
}

/// One output column: its buffered values and definition levels (0 = null).
enum Column {
    Int64(Vec<i64>, Vec<i16>),
    Int32(Vec<i32>, Vec<i16>),
    Double(Vec<f64>, Vec<i16>),
    Text(Vec<ByteArray>, Vec<i16>),
}

#[derive(Clone, Copy)]
enum Kind {
    Int64,
    Double,
    Text,
    Date,
    Timestamp,
}

impl Column {
    fn new(kind: Kind) -> Column {
        match kind {
            Kind::Int64 | Kind::Timestamp => Column::Int64(Vec::new(), Vec::new()),
            Kind::Date => Column::Int32(Vec::new(), Vec::new()),
            Kind::Double => Column::Double(Vec::new(), Vec::new()),
            Kind::Text => Column::Text(Vec::new(), Vec::new()),
        }
    }
}

fn field(name: &str, kind: Kind) -> TypePtr {
    let (physical, logical) = match kind {
        Kind::Int64 => (PhysicalType::INT64, None),
        Kind::Double => (PhysicalType::DOUBLE, None),
        Kind::Text => (PhysicalType::BYTE_ARRAY, Some(LogicalType::String)),
        Kind::Date => (PhysicalType::INT32, Some(LogicalType::Date)),
        Kind::Timestamp => (
            PhysicalType::INT64,
            Some(LogicalType::timestamp(true, TimeUnit::MICROS)),
        ),
    };
    // Building a primitive type only fails on inconsistent annotations, which these are not.
    Arc::new(
        Type::primitive_type_builder(name, physical)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(logical)
            .build()
            .unwrap_or_else(|e| panic!("column {name}: {e}")),
    )
}

/// The export's columns, in Iaso's order.
fn columns(max_depth: usize, extras: &ExtraFields, groups: &[ExportGroup]) -> Vec<(String, Kind)> {
    let mut c: Vec<(String, Kind)> = [
        ("org_unit_id", Kind::Int64),
        ("org_unit_name", Kind::Text),
        ("org_unit_source_ref", Kind::Text),
        ("org_unit_code", Kind::Text),
        ("org_unit_created_at", Kind::Timestamp),
        ("org_unit_source_created_at", Kind::Timestamp),
        ("org_unit_created_by_username", Kind::Text),
        ("org_unit_created_by_id", Kind::Int64),
        ("org_unit_updated_at", Kind::Timestamp),
        ("org_unit_opening_date", Kind::Date),
        ("org_unit_closed_date", Kind::Date),
        ("org_unit_validation_status", Kind::Text),
        ("org_unit_version_id", Kind::Int64),
        ("org_unit_path", Kind::Text),
        ("org_unit_type_id", Kind::Int64),
        ("org_unit_type_name", Kind::Text),
        ("org_unit_level", Kind::Int64),
    ]
    .into_iter()
    .map(|(n, k)| (n.to_string(), k))
    .collect();
    for level in 1..=max_depth {
        for (suffix, kind) in [
            ("id", Kind::Int64),
            ("name", Kind::Text),
            ("source_ref", Kind::Text),
            ("closed_date", Kind::Date),
            ("validation_status", Kind::Text),
        ] {
            c.push((format!("level_{level}_{suffix}"), kind));
        }
    }
    for n in [
        "org_unit_longitude",
        "org_unit_latitude",
        "org_unit_altitude",
    ] {
        c.push((n.to_string(), Kind::Double));
    }
    for (on, n) in [
        (extras.geom_geojson, "org_unit_geom_geojson"),
        (extras.location_geojson, "org_unit_location_geojson"),
        (
            extras.simplified_geom_geojson,
            "org_unit_simplified_geom_geojson",
        ),
        (
            extras.biggest_polygon_geojson,
            "org_unit_biggest_polygon_geojson",
        ),
    ] {
        if on {
            c.push((n.to_string(), Kind::Text));
        }
    }
    if extras.groups_exploded {
        for g in groups {
            c.push((
                format!("group_{}_{}", g.id, safe_name(&g.name)),
                Kind::Int64,
            ));
        }
    }
    if extras.groups_exploded_code {
        for g in groups {
            c.push((format!("group_{}", safe_name(&g.name)), Kind::Int64));
        }
    }
    if extras.groups_json {
        c.push(("org_unit_groups_json".to_string(), Kind::Text));
    }
    c
}

/// A value pushed into a column.
enum Cell<'a> {
    Null,
    Int(i64),
    Float(f64),
    Text(&'a str),
    Owned(String),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

fn opt<'a, T>(v: Option<T>, f: impl FnOnce(T) -> Cell<'a>) -> Cell<'a> {
    v.map_or(Cell::Null, f)
}

/// Days since 1970-01-01 (Parquet's DATE).
fn epoch_days(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days() as i32
}

/// The largest polygon (by planar area of its outer ring) of a multipolygon, as GeoJSON.
fn biggest_polygon(mp: &MultiPolygon) -> Option<String> {
    let area = |ring: &[iaso_geo::Coord]| -> f64 {
        ring.windows(2)
            .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
            .sum::<f64>()
            .abs()
            / 2.0
    };
    let best = mp.polygons.iter().max_by(|a, b| {
        let (x, y) = (
            a.exterior().map_or(0.0, |r| area(r)),
            b.exterior().map_or(0.0, |r| area(r)),
        );
        x.total_cmp(&y)
    })?;
    let coords: Vec<Vec<[f64; 2]>> = best
        .rings
        .iter()
        .map(|r| r.iter().map(|c| [c.x, c.y]).collect())
        .collect();
    Some(json!({"type": "Polygon", "coordinates": coords}).to_string())
}

fn geojson_of(wkb: Option<&[u8]>) -> Option<Geometry> {
    wkb.and_then(|b| {
        iaso_geo::wkb::from_wkb(b, &iaso_geo::Limits::lenient())
            .ok()
            .flatten()
    })
}

/// The writer: create, [`ParquetExport::write`] each row, [`ParquetExport::finish`].
pub struct ParquetExport<W: Write + Send> {
    writer: SerializedFileWriter<W>,
    columns: Vec<Column>,
    max_depth: usize,
    extras: ExtraFields,
    groups: Vec<ExportGroup>,
    levels: HashMap<i64, LevelInfo>,
    rows: usize,
    bytes: usize,
}

impl<W: Write + Send> ParquetExport<W> {
    /// `levels`: every possible ancestor (see `Store::export_ancestors`); `groups`: the groups
    /// of the exported units, for the group columns.
    pub fn new(
        out: W,
        max_depth: usize,
        extras: ExtraFields,
        groups: Vec<ExportGroup>,
        levels: Vec<LevelInfo>,
    ) -> Result<ParquetExport<W>, ParquetExportError> {
        if extras.groups_exploded_code {
            check_group_columns(&groups)?;
        }
        let spec = columns(max_depth, &extras, &groups);
        let schema = Type::group_type_builder("schema")
            .with_fields(spec.iter().map(|(n, k)| field(n, *k)).collect())
            .build()?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("iaso (Rust)".into())
            .build();
        let writer = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props))?;
        Ok(ParquetExport {
            writer,
            columns: spec.iter().map(|(_, k)| Column::new(*k)).collect(),
            max_depth,
            extras,
            groups,
            levels: levels.into_iter().map(|l| (l.id, l)).collect(),
            rows: 0,
            bytes: 0,
        })
    }

    pub fn write(&mut self, r: &ExportRow) -> Result<(), ParquetExportError> {
        let mut cells: Vec<Cell> = vec![
            Cell::Int(r.id),
            Cell::Text(&r.name),
            opt(r.source_ref.as_deref(), Cell::Text),
            Cell::Text(&r.code),
            Cell::Time(r.created_at),
            opt(r.source_created_at, Cell::Time),
            opt(r.creator_username.as_deref(), Cell::Text),
            opt(r.creator_id, Cell::Int),
            Cell::Time(r.updated_at),
            opt(r.opening_date, Cell::Date),
            opt(r.closed_date, Cell::Date),
            Cell::Text(&r.validation_status),
            Cell::Int(r.version_id),
            Cell::Text(&r.path),
            opt(r.type_id, Cell::Int),
            opt(r.type_name.as_deref(), Cell::Text),
            Cell::Int(r.depth),
        ];
        let path: Vec<i64> = r.path.split('.').filter_map(|s| s.parse().ok()).collect();
        for level in 0..self.max_depth {
            match path.get(level) {
                Some(&id) if id == r.id => cells.extend([
                    Cell::Int(id),
                    Cell::Text(&r.name),
                    opt(r.source_ref.as_deref(), Cell::Text),
                    opt(r.closed_date, Cell::Date),
                    Cell::Text(&r.validation_status),
                ]),
                Some(&id) => match self.levels.get(&id) {
                    Some(a) => cells.extend([
                        Cell::Int(id),
                        Cell::Text(&a.name),
                        opt(a.source_ref.as_deref(), Cell::Text),
                        opt(a.closed_date, Cell::Date),
                        Cell::Text(&a.validation_status),
                    ]),
                    None => cells.extend([
                        Cell::Int(id),
                        Cell::Null,
                        Cell::Null,
                        Cell::Null,
                        Cell::Null,
                    ]),
                },
                None => cells.extend((0..5).map(|_| Cell::Null)),
            }
        }
        cells.extend([
            opt(r.longitude, Cell::Float),
            opt(r.latitude, Cell::Float),
            opt(r.altitude, Cell::Float),
        ]);
        let x = self.extras;
        if x.needs_shapes() || x.location_geojson {
            let geom = geojson_of(r.shape.as_deref());
            let simplified = geojson_of(r.simplified_shape.as_deref());
            let as_text = |g: &Option<Geometry>| match g {
                Some(g) => Cell::Owned(to_geometry_value(g).to_string()),
                None => Cell::Null,
            };
            if x.geom_geojson {
                cells.push(as_text(&geom));
            }
            if x.location_geojson {
                cells.push(match r.location() {
                    Some(p) => Cell::Owned(to_geometry_value(&Geometry::Point(p)).to_string()),
                    None => Cell::Null,
                });
            }
            if x.simplified_geom_geojson {
                cells.push(as_text(&simplified));
            }
            if x.biggest_polygon_geojson {
                cells.push(match &simplified {
                    Some(Geometry::MultiPolygon(mp)) => opt(biggest_polygon(mp), Cell::Owned),
                    _ => Cell::Null,
                });
            }
        }
        if x.needs_groups() {
            let mine: HashSet<i64> = r.groups().collect();
            let flag = |g: &ExportGroup| Cell::Int(i64::from(mine.contains(&g.id)));
            if x.groups_exploded {
                cells.extend(self.groups.iter().map(flag));
            }
            if x.groups_exploded_code {
                cells.extend(self.groups.iter().map(flag));
            }
            if x.groups_json {
                let list: Vec<_> = self
                    .groups
                    .iter()
                    .filter(|g| mine.contains(&g.id))
                    .map(|g| json!({"id": g.id, "name": g.name}))
                    .collect();
                cells.push(Cell::Owned(serde_json::Value::Array(list).to_string()));
            }
        }
        for (col, cell) in self.columns.iter_mut().zip(cells) {
            self.bytes += push(col, cell);
        }
        self.rows += 1;
        if self.rows >= ROW_GROUP_ROWS || self.bytes >= ROW_GROUP_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the buffered rows as one row group.
    fn flush(&mut self) -> Result<(), ParquetExportError> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for col in &mut self.columns {
            let Some(mut w) = group.next_column()? else {
                break;
            };
            match col {
                Column::Int64(v, d) => {
                    w.typed::<Int64Type>().write_batch(v, Some(d), None)?;
                    v.clear();
                    d.clear();
                }
                Column::Int32(v, d) => {
                    w.typed::<Int32Type>().write_batch(v, Some(d), None)?;
                    v.clear();
                    d.clear();
                }
                Column::Double(v, d) => {
                    w.typed::<DoubleType>().write_batch(v, Some(d), None)?;
                    v.clear();
                    d.clear();
                }
                Column::Text(v, d) => {
                    w.typed::<ByteArrayType>().write_batch(v, Some(d), None)?;
                    v.clear();
                    d.clear();
                }
            }
            w.close()?;
        }
        group.close()?;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }

    /// Writes the last row group and the footer; returns the output.
    pub fn finish(mut self) -> Result<W, ParquetExportError> {
        self.flush()?;
        Ok(self.writer.into_inner()?)
    }
}

/// Appends a cell to its column; returns the bytes added.
fn push(col: &mut Column, cell: Cell) -> usize {
    match (col, cell) {
        (Column::Int64(v, d), Cell::Int(x)) => {
            v.push(x);
            d.push(1);
            8
        }
        (Column::Int64(v, d), Cell::Time(t)) => {
            v.push(t.timestamp_micros());
            d.push(1);
            8
        }
        (Column::Int32(v, d), Cell::Date(x)) => {
            v.push(epoch_days(x));
            d.push(1);
            4
        }
        (Column::Double(v, d), Cell::Float(x)) => {
            v.push(x);
            d.push(1);
            8
        }
        (Column::Text(v, d), Cell::Text(s)) => {
            v.push(ByteArray::from(s));
            d.push(1);
            s.len()
        }
        (Column::Text(v, d), Cell::Owned(s)) => {
            let n = s.len();
            v.push(ByteArray::from(s.into_bytes()));
            d.push(1);
            n
        }
        (
            Column::Int64(_, d) | Column::Int32(_, d) | Column::Double(_, d) | Column::Text(_, d),
            cell,
        ) => {
            // Only nulls belong here: a value of another kind is a bug in `write`'s column order.
            debug_assert!(
                matches!(cell, Cell::Null),
                "a value of the wrong kind for its column"
            );
            d.push(0);
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iaso_geo::{Coord, Polygon};

    fn square(x: f64, size: f64) -> Polygon {
        let c = |x, y| Coord { x, y };
        Polygon::new(vec![vec![
            c(x, 0.0),
            c(x + size, 0.0),
            c(x + size, size),
            c(x, size),
            c(x, 0.0),
        ]])
    }

    #[test]
    fn biggest_polygon_is_the_largest_outer_ring() {
        let mp = MultiPolygon::new(vec![square(0.0, 1.0), square(5.0, 3.0), square(10.0, 2.0)]);
        let out: serde_json::Value = serde_json::from_str(&biggest_polygon(&mp).unwrap()).unwrap();
        assert_eq!(out["type"], "Polygon");
        assert_eq!(out["coordinates"][0][0], json!([5.0, 0.0]));
        assert_eq!(biggest_polygon(&MultiPolygon::new(Vec::new())), None);
    }

    #[test]
    fn extra_fields_parse_names_and_all() {
        let x = ExtraFields::parse("geom_geojson, groups_json").unwrap();
        assert!(x.geom_geojson && x.groups_json && !x.location_geojson);
        assert!(x.needs_shapes());
        let all = ExtraFields::parse(":all").unwrap();
        assert!(all.biggest_polygon_geojson && all.groups_exploded_code);
        assert_eq!(ExtraFields::parse("").unwrap(), ExtraFields::default());
        let e = ExtraFields::parse("geom_geojson,shape").unwrap_err();
        assert!(e.to_string().contains("\"shape\""), "{e}");
    }

    #[test]
    fn clashing_group_names_are_refused() {
        let g = |id, name: &str| ExportGroup {
            id,
            name: name.into(),
            source_ref: None,
        };
        assert!(check_group_columns(&[g(1, "Urban"), g(2, "Rural")]).is_ok());
        let e = check_group_columns(&[g(1, "Rural area"), g(2, "rural-area")]).unwrap_err();
        assert!(e.to_string().contains("Rural area") && e.to_string().contains("rural-area"));
    }
}
