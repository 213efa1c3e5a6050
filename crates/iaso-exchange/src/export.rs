//! Org unit file exports with Iaso's columns (`iaso-import-export.md` §2.3 and §3): CSV and
//! XLSX (French headers, one column per group), GeoPackage (one `level-{depth}-{type}` layer
//! per type plus the `groups` table, re-importable), GeoJSON and Parquet (`crate::parquet`). Every writer takes rows one
//! at a time, so memory does not depend on the number of units.

use crate::parquet::ExtraFields;
use chrono::{DateTime, Utc};
use iaso_geo::geojson_out::FeatureCollectionWriter;
use iaso_geo::gpkg::{
    AttributeTableSpec, ColumnSpec, ColumnType, FeatureLayerSpec, GpkgError, GpkgWriter,
    LayerGeometryType, LayerHandle, ValueRef, WriterOptions,
};
use iaso_geo::Geometry;
use iaso_store::org_unit_io::{ExportGroup, ExportLayer, ExportRow, ExportShapes};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Export formats of `GET /api/orgunits/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
    Gpkg,
    GeoJson,
    /// Iaso's pyramid export, with its optional columns (see [`crate::parquet`]).
    Parquet(ExtraFields),
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Gpkg => "gpkg",
            Format::GeoJson => "geojson",
            Format::Parquet(_) => "parquet",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Gpkg => "application/octet-stream",
            Format::GeoJson => "application/geo+json",
            Format::Parquet(_) => "application/vnd.apache.parquet",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            "gpkg" => Some(Format::Gpkg),
            "geojson" => Some(Format::GeoJson),
            "parquet" => Some(Format::Parquet(ExtraFields::default())),
            _ => None,
        }
    }

    /// Which shapes the rows must carry.
    pub fn shapes(self) -> ExportShapes {
        match self {
            Format::Gpkg | Format::GeoJson => ExportShapes::Best,
            Format::Parquet(x) if x.needs_shapes() => ExportShapes::Both,
            Format::Csv | Format::Xlsx | Format::Parquet(_) => ExportShapes::None,
        }
    }
}

/// Iaso's file name: `<environment>-<account name>-org_units-<YYYY-MM-DD-HH-MM>.<ext>`.
pub fn file_name(environment: &str, account: &str, at: DateTime<Utc>, format: Format) -> String {
    let raw = format!(
        "{environment}-{account}-org_units-{}.{}",
        at.format("%Y-%m-%d-%H-%M"),
        format.extension()
    );
    // Header-safe: no quotes, separators or control characters.
    raw.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | '\\' | '/' | ';' | ',') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Neutralises spreadsheet formulas in a text cell: a cell starting with `=`, `+`, `-`, `@`
/// (or a tab or carriage return) gets a leading `'`.
pub fn safe_text(s: &str) -> std::borrow::Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{s}")),
        _ => std::borrow::Cow::Borrowed(s),
    }
}

/// Python's `str(float)` for coordinates (`5.0`, `-5.85027684637961`), as Iaso's CSV shows.
pub fn py_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        let s = format!("{f}");
        // Rust never uses exponents in Display; Python does below 1e-4, rare for degrees.
        s
    }
}

/// The fixed CSV/XLSX columns (before the form and group columns), in Iaso's order.
pub const COLUMNS: [&str; 22] = [
    "ID",
    "Nom",
    "Type",
    "Latitude",
    "Longitude",
    "Code",
    "Date d'ouverture",
    "Date de fermeture",
    "Date de création",
    "Date de modification",
    "Créé par",
    "Source",
    "Validé",
    "Référence externe",
    "parent 1",
    "parent 2",
    "parent 3",
    "parent 4",
    "Ref Ext parent 1",
    "Ref Ext parent 2",
    "Ref Ext parent 3",
    "Ref Ext parent 4",
];

/// Column widths of Iaso's XLSX.
const WIDTHS: [f64; 22] = [
    10.0, 25.0, 15.0, 15.0, 15.0, 15.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 15.0, 17.0, 20.0, 20.0,
    20.0, 20.0, 20.0, 20.0, 20.0, 20.0,
];

/// A cell of a tabular export.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    fn opt_text(s: Option<impl Into<String>>) -> Cell {
        match s {
            Some(s) => Cell::Text(s.into()),
            None => Cell::Empty,
        }
    }

    /// As written in the CSV (text cells neutralised).
    pub fn csv(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Cell::Empty => "".into(),
            Cell::Int(i) => i.to_string().into(),
            Cell::Float(f) => py_float(*f).into(),
            Cell::Text(s) => safe_text(s),
        }
    }
}

/// The tabular layout: fixed columns, form counts, groups.
#[derive(Debug, Clone)]
pub struct Table {
    /// Forms whose submissions are counted (`Total de soumissions <name>`), by id.
    pub forms: Vec<(i64, String)>,
    pub groups: Vec<ExportGroup>,
    group_index: HashMap<i64, usize>,
}

impl Table {
    pub fn new(forms: Vec<(i64, String)>, groups: Vec<ExportGroup>) -> Table {
        let group_index = groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        Table {
            forms,
            groups,
            group_index,
        }
    }

    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
        for (_, name) in &self.forms {
            h.push(format!("Total de soumissions {name}"));
        }
        h.push("Total de soumissions".into());
        h.extend(self.groups.iter().map(|g| g.name.clone()));
        h
    }

    pub fn widths(&self) -> Vec<f64> {
        let mut w = WIDTHS.to_vec();
        w.extend(std::iter::repeat_n(15.0, self.forms.len() + 1));
        w.extend(std::iter::repeat_n(20.0, self.groups.len()));
        w
    }

    /// The cells of one unit. `counts`: submissions per form (same order as `forms`) and total.
    pub fn row(&self, r: &ExportRow, counts: Option<(&[i64], i64)>) -> Vec<Cell> {
        let mut out = Vec::with_capacity(COLUMNS.len() + self.forms.len() + 1 + self.groups.len());
        let loc = r.location();
        out.push(Cell::Int(r.id));
        out.push(Cell::text(r.name.clone()));
        out.push(Cell::opt_text(r.type_name.clone()));
        out.push(loc.map_or(Cell::Empty, |p| Cell::Float(p.y)));
        out.push(loc.map_or(Cell::Empty, |p| Cell::Float(p.x)));
        out.push(if r.code.is_empty() {
            Cell::Empty
        } else {
            Cell::text(r.code.clone())
        });
        out.push(Cell::opt_text(
            r.opening_date.map(|d| d.format("%Y-%m-%d").to_string()),
        ));
        out.push(Cell::opt_text(
            r.closed_date.map(|d| d.format("%Y-%m-%d").to_string()),
        ));
        out.push(Cell::text(
            r.created_at.format("%Y-%m-%d %H:%M").to_string(),
        ));
        out.push(Cell::text(
            r.updated_at.format("%Y-%m-%d %H:%M").to_string(),
        ));
        let creator = r.creator();
        out.push(if creator.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(creator)
        });
        out.push(Cell::text(r.source_name.clone()));
        out.push(Cell::text(r.validation_status.clone()));
        out.push(Cell::Text(r.reference()));
        for n in 1..=4 {
            out.push(Cell::opt_text(r.ancestor(n).map(|a| a.0.to_string())));
        }
        for n in 1..=4 {
            out.push(Cell::opt_text(r.ancestor(n).map(|a| a.1)));
        }
        match counts {
            Some((per_form, total)) => {
                for i in 0..self.forms.len() {
                    out.push(Cell::Int(per_form.get(i).copied().unwrap_or(0)));
                }
                out.push(Cell::Int(total));
            }
            None => {
                for _ in 0..=self.forms.len() {
                    out.push(Cell::Int(0));
                }
            }
        }
        let first_group = out.len();
        out.extend(std::iter::repeat_n(Cell::Int(0), self.groups.len()));
        for g in r.groups() {
            if let Some(i) = self.group_index.get(&g) {
                out[first_group + i] = Cell::Int(1);
            }
        }
        out
    }
}

/// CSV writer into an in-memory buffer that the caller drains (`take`) as it streams:
/// comma-separated, CRLF line ends, fields quoted only when needed (Python's csv defaults, as
/// Iaso writes them).
pub struct CsvExport {
    buf: Vec<u8>,
    num: String,
}

fn csv_field(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

impl CsvExport {
    pub fn new(table: &Table) -> CsvExport {
        let mut w = CsvExport {
            buf: Vec::with_capacity(128 * 1024),
            num: String::new(),
        };
        for (i, h) in table.header().iter().enumerate() {
            if i > 0 {
                w.buf.push(b',');
            }
            csv_field(&mut w.buf, &safe_text(h));
        }
        w.buf.extend_from_slice(b"\r\n");
        w
    }

    pub fn write(&mut self, cells: &[Cell]) {
        use std::fmt::Write as _;
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            match c {
                Cell::Empty => {}
                Cell::Int(v) => {
                    self.num.clear();
                    let _ = write!(self.num, "{v}");
                    self.buf.extend_from_slice(self.num.as_bytes());
                }
                Cell::Float(v) => {
                    self.buf.extend_from_slice(py_float(*v).as_bytes());
                }
                Cell::Text(s) => csv_field(&mut self.buf, &safe_text(s)),
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    /// Bytes written and not taken yet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Takes the bytes written so far.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.buf, Vec::with_capacity(128 * 1024))
    }
}

/// XLSX writer in rust_xlsxwriter's constant-memory mode (rows go to a temporary file as they
/// come): one sheet `Forms`, header bold and frozen, Iaso's column widths.
pub struct XlsxExport {
    workbook: rust_xlsxwriter::Workbook,
    row: u32,
}

impl XlsxExport {
    pub fn new(table: &Table) -> Result<XlsxExport, rust_xlsxwriter::XlsxError> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name("Forms")?;
        let bold = rust_xlsxwriter::Format::new().set_bold().set_text_wrap();
        for (i, w) in table.widths().iter().enumerate() {
            sheet.set_column_width(i as u16, *w)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        for (i, h) in table.header().iter().enumerate() {
            sheet.write_string_with_format(0, i as u16, h, &bold)?;
        }
        Ok(XlsxExport { workbook, row: 1 })
    }

    pub fn write(&mut self, cells: &[Cell]) -> Result<(), rust_xlsxwriter::XlsxError> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (i, c) in cells.iter().enumerate() {
            let col = i as u16;
            match c {
                Cell::Empty => {}
                Cell::Int(v) => {
                    sheet.write_number(self.row, col, *v as f64)?;
                }
                Cell::Float(v) => {
                    sheet.write_number(self.row, col, *v)?;
                }
                Cell::Text(s) => {
                    // Written as strings: never evaluated as formulas.
                    sheet.write_string(self.row, col, s)?;
                }
            }
        }
        self.row += 1;
        Ok(())
    }

    pub fn save(mut self, path: &Path) -> Result<(), rust_xlsxwriter::XlsxError> {
        self.workbook.save(path)
    }
}

/// GPKG layer name of a type (`depth` NULL → 999, no type → `Unknown`).
pub fn layer_name(depth: Option<i64>, type_name: Option<&str>) -> String {
    format!(
        "level-{}-{}",
        depth.unwrap_or(999),
        type_name.unwrap_or("Unknown")
    )
}

/// Attribute columns of an exported layer, after `fid` and `geom`.
const GPKG_COLUMNS: [(&str, ColumnType); 11] = [
    ("id", ColumnType::Integer),
    ("name", ColumnType::Text),
    ("ref", ColumnType::Text),
    ("code", ColumnType::Text),
    ("parent", ColumnType::Text),
    ("parent_ref", ColumnType::Text),
    ("group_refs", ColumnType::Text),
    ("group_names", ColumnType::Text),
    ("uuid", ColumnType::Text),
    ("opening_date", ColumnType::Date),
    ("closed_date", ColumnType::Date),
];

/// GeoPackage export in Iaso's layout (importable by our importer and Iaso's).
pub struct GpkgExport {
    writer: GpkgWriter,
    layers: HashMap<String, LayerHandle>,
    groups: HashMap<i64, (String, String)>,
}

impl GpkgExport {
    /// Creates the file with every layer (sorted by name, as Iaso's export) and the `groups`
    /// table filled.
    pub fn create(
        path: &Path,
        layers: &[ExportLayer],
        groups: &[ExportGroup],
    ) -> Result<GpkgExport, GpkgError> {
        let mut writer = GpkgWriter::create(
            path,
            WriterOptions {
                overwrite: true,
                ..WriterOptions::default()
            },
        )?;
        let mut specs: Vec<(String, LayerGeometryType)> = layers
            .iter()
            .map(|l| {
                let ty = if l.with_point_only == 0 && l.with_shape > 0 {
                    LayerGeometryType::MultiPolygon
                } else if l.with_shape == 0 {
                    LayerGeometryType::Point
                } else {
                    LayerGeometryType::Geometry
                };
                (layer_name(l.type_depth, l.type_name.as_deref()), ty)
            })
            .collect();
        specs.sort_by(|a, b| a.0.cmp(&b.0));
        specs.dedup_by(|a, b| {
            if a.0 == b.0 {
                // Two types with the same depth and name: one mixed layer.
                b.1 = LayerGeometryType::Geometry;
                true
            } else {
                false
            }
        });
        let mut handles = HashMap::new();
        for (name, ty) in specs {
            let mut spec = FeatureLayerSpec::new(name.clone(), ty).with_z(true);
            for (c, t) in GPKG_COLUMNS {
                spec = spec.column(c, t);
            }
            handles.insert(name, writer.create_feature_layer(&spec)?);
        }
        let table = writer.create_attribute_table(
            &AttributeTableSpec::new("groups")
                .column(ColumnSpec::new("ref", ColumnType::Text).not_null())
                .column(ColumnSpec::new("name", ColumnType::Text).not_null()),
        )?;
        let mut by_id = HashMap::new();
        for g in groups {
            let r = g.reference();
            writer.append_row(table, &[ValueRef::Text(&r), ValueRef::Text(&g.name)])?;
            by_id.insert(g.id, (r, g.name.clone()));
        }
        Ok(GpkgExport {
            writer,
            layers: handles,
            groups: by_id,
        })
    }

    pub fn write(&mut self, r: &ExportRow) -> Result<(), GpkgError> {
        let name = layer_name(r.type_depth, r.type_name.as_deref());
        let Some(layer) = self.layers.get(&name).copied() else {
            return Err(GpkgError::UnknownLayer(name));
        };
        let geometry = r
            .shape_geometry()
            .or_else(|| r.location().map(Geometry::Point));
        let parent = r.p1_id.map(|_| {
            format!(
                "{} ({})",
                r.p1_name.as_deref().unwrap_or(""),
                r.p1_type_name.as_deref().unwrap_or("")
            )
        });
        let parent_ref = r.ancestor(1).map(|a| a.1);
        let mut refs = Vec::new();
        let mut names = Vec::new();
        for g in r.groups() {
            if let Some((gr, gn)) = self.groups.get(&g) {
                refs.push(gr.as_str());
                names.push(gn.as_str());
            }
        }
        let group_refs = (!refs.is_empty()).then(|| refs.join(", "));
        let group_names = (!names.is_empty()).then(|| names.join(", "));
        let reference = r.reference();
        let code = (!r.code.is_empty()).then_some(r.code.as_str());
        let opening = r.opening_date.map(|d| d.format("%Y-%m-%d").to_string());
        let closed = r.closed_date.map(|d| d.format("%Y-%m-%d").to_string());
        // A Point layer cannot hold a shape and vice versa: mixed layers are GEOMETRY.
        self.writer.append_feature(
            layer,
            geometry.as_ref(),
            &[
                ValueRef::Integer(r.id),
                ValueRef::Text(&r.name),
                ValueRef::Text(&reference),
                code.into(),
                parent.as_deref().into(),
                parent_ref.as_deref().into(),
                group_refs.as_deref().into(),
                group_names.as_deref().into(),
                r.uuid.as_deref().into(),
                opening.as_deref().into(),
                closed.as_deref().into(),
            ],
        )?;
        Ok(())
    }

    pub fn finish(self) -> Result<(), GpkgError> {
        self.writer.finish().map(|_| ())
    }
}

/// GeoJSON FeatureCollection of units: geometry = shape, else point; properties with the
/// references needed to rebuild the tree.
pub struct GeoJsonExport {
    w: FeatureCollectionWriter<Vec<u8>>,
}

impl GeoJsonExport {
    pub fn new() -> std::io::Result<GeoJsonExport> {
        Ok(GeoJsonExport {
            w: FeatureCollectionWriter::new(Vec::with_capacity(128 * 1024))?,
        })
    }

    pub fn write(&mut self, r: &ExportRow, groups: &HashMap<i64, String>) -> std::io::Result<()> {
        let geometry = r
            .shape_geometry()
            .or_else(|| r.location().map(Geometry::Point));
        let group_refs: Vec<&str> = r
            .groups()
            .filter_map(|g| groups.get(&g).map(String::as_str))
            .collect();
        let props: Vec<(&str, Value)> = vec![
            ("name", json!(r.name)),
            ("ref", json!(r.reference())),
            ("code", json!(r.code)),
            ("org_unit_type", json!(r.type_name)),
            ("depth", json!(r.type_depth)),
            ("parent_ref", json!(r.ancestor(1).map(|a| a.1))),
            ("validation_status", json!(r.validation_status)),
            (
                "opening_date",
                json!(r.opening_date.map(|d| d.format("%Y-%m-%d").to_string())),
            ),
            (
                "closed_date",
                json!(r.closed_date.map(|d| d.format("%Y-%m-%d").to_string())),
            ),
            ("group_refs", json!(group_refs)),
            ("source", json!(r.source_name)),
        ];
        self.w.write_feature_pairs(
            Some(r.id),
            geometry.as_ref(),
            props.iter().map(|(k, v)| (*k, v)),
        )
    }

    pub fn buffered(&mut self) -> usize {
        self.w.get_mut().len()
    }

    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(self.w.get_mut())
    }

    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        let mut out = self.w.finish()?;
        out.flush()?;
        Ok(out)
    }
}
