//! Tree import from a table (CSV or XLSX): Iaso's `tree_importer` with its data dictionary
//! (`iaso-import-export.md` §1), and the simple CSV layout of this port (one row per unit with
//! `ref` and `parent_ref`, read into the same structure as a GeoPackage import).
//!
//! Every row is checked before anything is written; a problem names the row (1 = header).

use crate::gpkg_import::{DateIn, GpkgInput, LayerIn, UnitIn};
use crate::ImportError;
use chrono::NaiveDate;
use iaso_geo::Point;
use iaso_store::org_unit_io::normalize_ref;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Iaso's data dictionary: header names of the leaf's columns and of the parent levels (top
/// level first; each is also the name of that level's org unit type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataDict {
    pub name: String,
    #[serde(default)]
    pub parents: Vec<String>,
    #[serde(default)]
    pub latitude: Option<String>,
    #[serde(default)]
    pub longitude: Option<String>,
    #[serde(default)]
    pub source_ref: Option<String>,
}

/// A table read from CSV or XLSX: header and rows of text cells.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }
}

/// Reads a CSV file: UTF-8 (a BOM is accepted), with `delimiter`. A wrong encoding or a
/// delimiter that yields a single column is refused with a message saying so.
pub fn read_csv(bytes: &[u8], delimiter: u8) -> Result<Table, ImportError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let upto = e.valid_up_to();
        let line = bytes[..upto].iter().filter(|b| **b == b'\n').count() + 1;
        return Err(ImportError(format!(
            "Row {line}: the file is not valid UTF-8 (byte {:#04x} at offset {upto}); save it as UTF-8 CSV",
            bytes[upto]
        )));
    }
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut table = Table::default();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| ImportError(format!("Row {}: unreadable CSV: {e}", i + 1)))?;
        let cells: Vec<String> = rec.iter().map(|c| c.to_string()).collect();
        if i == 0 {
            table.header = cells.iter().map(|c| c.trim().to_string()).collect();
        } else if cells.iter().any(|c| !c.trim().is_empty()) {
            table.rows.push(cells);
        } else {
            // Keep row numbers right for messages: blank lines are kept as empty rows.
            table.rows.push(Vec::new());
        }
    }
    if table.header.len() <= 1 {
        let delim = delimiter as char;
        let hint = table
            .header
            .first()
            .map(|h| {
                [';', ',', '\t']
                    .iter()
                    .filter(|c| **c != delim && h.contains(**c))
                    .map(|c| format!("'{}'", c.escape_default()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        return Err(ImportError(format!(
            "Row 1: the header has a single column with the delimiter '{}'{}",
            delim.escape_default(),
            if hint.is_empty() {
                String::new()
            } else {
                format!(" (the file seems to use {})", hint.join(" or "))
            }
        )));
    }
    Ok(table)
}

/// Reads the first sheet of an XLSX workbook (first row = header).
pub fn read_xlsx(bytes: &[u8]) -> Result<Table, ImportError> {
    use calamine::{Data, Reader};
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| ImportError(format!("The file is not a readable XLSX workbook: {e}")))?;
    let Some(Ok(range)) = wb.worksheet_range_at(0) else {
        return Err(ImportError("The workbook has no sheet".into()));
    };
    let cell = |d: &Data| match d {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                f.to_string()
            }
        }
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        other => other.to_string(),
    };
    let mut table = Table::default();
    for (i, row) in range.rows().enumerate() {
        let cells: Vec<String> = row.iter().map(cell).collect();
        if i == 0 {
            table.header = cells.iter().map(|c| c.trim().to_string()).collect();
        } else {
            table.rows.push(cells);
        }
    }
    Ok(table)
}

/// `unidecode(value).lower().replace("neant", "").strip()` non-empty: a level is present.
fn level_present(v: &str) -> bool {
    let folded: String = v
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => 'e',
            'á' | 'à' | 'â' | 'ä' | 'Á' | 'À' | 'Â' | 'Ä' => 'a',
            'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'Ó' | 'Ò' | 'Ô' | 'Ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => 'u',
            other => other,
        })
        .collect::<String>()
        .to_lowercase()
        .replace("neant", "");
    !folded.trim().is_empty()
}

/// One leaf of a data-dictionary import.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeLeaf {
    /// 1-based line of the row in the file (header = 1).
    pub row: usize,
    /// Names of the present parent levels: `(level index, name)`, top first.
    pub levels: Vec<(usize, String)>,
    pub name: String,
    pub source_ref: String,
    pub location: Option<Point>,
}

/// A data-dictionary import, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeInput {
    /// Level type names (the `parents` entries).
    pub levels: Vec<String>,
    pub leaves: Vec<TreeLeaf>,
}

/// Applies a data dictionary to a table.
pub fn tree_from_table(table: &Table, dict: &DataDict) -> Result<TreeInput, ImportError> {
    let mut missing = Vec::new();
    let mut col = |name: &str| -> Option<usize> {
        let c = table.column(name);
        if c.is_none() && !missing.contains(&name.to_string()) {
            missing.push(name.to_string());
        }
        c
    };
    let name_col = col(&dict.name);
    let parent_cols: Vec<Option<usize>> = dict.parents.iter().map(|p| col(p)).collect();
    let lat_col = dict.latitude.as_deref().map(&mut col);
    let lon_col = dict.longitude.as_deref().map(&mut col);
    let ref_col = dict.source_ref.as_deref().map(&mut col);
    if !missing.is_empty() {
        return Err(ImportError(format!(
            "Row 1: the data dictionary names columns that the file does not have: {} (columns of the file: {})",
            missing.join(", "),
            table.header.join(", ")
        )));
    }
    let get = |row: &[String], c: Option<Option<usize>>| -> String {
        c.flatten()
            .and_then(|i| row.get(i))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut leaves = Vec::with_capacity(table.rows.len());
    for (i, row) in table.rows.iter().enumerate() {
        let line = i + 2;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let name = get(row, Some(name_col));
        if name.is_empty() {
            return Err(ImportError(format!(
                "Row {line}: column '{}' (the name) is empty",
                dict.name
            )));
        }
        let mut levels = Vec::new();
        for (li, c) in parent_cols.iter().enumerate() {
            let v = get(row, Some(*c));
            if level_present(&v) {
                levels.push((li, v));
            }
        }
        if levels.is_empty() && !dict.parents.is_empty() {
            return Err(ImportError(format!(
                "Row {line}: no parent level is filled in (columns {})",
                dict.parents.join(", ")
            )));
        }
        let lat = get(row, lat_col);
        let lon = get(row, lon_col);
        let location = if !lat.is_empty() && !lon.is_empty() {
            let parse = |v: &str, what: &str| -> Result<f64, ImportError> {
                v.replace(',', ".")
                    .parse::<f64>()
                    .map_err(|_| ImportError(format!("Row {line}: {what} '{v}' is not a number")))
            };
            let y = parse(&lat, "latitude")?;
            let x = parse(&lon, "longitude")?;
            if !(-90.0..=90.0).contains(&y) || !(-180.0..=180.0).contains(&x) {
                return Err(ImportError(format!(
                    "Row {line}: coordinates ({y}, {x}) are out of range (latitude -90..90, longitude -180..180)"
                )));
            }
            Some(Point::new(x, y, Some(0.0)))
        } else {
            None
        };
        leaves.push(TreeLeaf {
            row: line,
            levels,
            name,
            source_ref: get(row, ref_col),
            location,
        });
    }
    Ok(TreeInput {
        levels: dict.parents.clone(),
        leaves,
    })
}

/// Columns of the simple CSV layout (`docs/decisions/0700-import-export.md`).
pub const SIMPLE_COLUMNS: [&str; 11] = [
    "ref",
    "name",
    "parent_ref",
    "type",
    "depth",
    "latitude",
    "longitude",
    "code",
    "opening_date",
    "closed_date",
    "group_refs",
];

/// Reads the simple layout into the structure of a GeoPackage import: one layer per
/// `(depth, type)`; `ref`, `name`, `type` required; groups must exist in the target version.
pub fn simple_from_table(table: &Table) -> Result<GpkgInput, ImportError> {
    let col = |n: &str| table.column(n);
    for required in ["ref", "name", "type"] {
        if col(required).is_none() {
            return Err(ImportError(format!(
                "Row 1: Missing required column: {required} (the simple layout has the columns {})",
                SIMPLE_COLUMNS.join(", ")
            )));
        }
    }
    let has = |n: &str| col(n).is_some();
    let get = |row: &[String], n: &str| -> String {
        col(n)
            .and_then(|i| row.get(i))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let mut input = GpkgInput::default();
    let mut layers: HashMap<(i64, String), usize> = HashMap::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, row) in table.rows.iter().enumerate() {
        let line = i + 2;
        if row.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let reference = normalize_ref(&get(row, "ref"));
        let name = get(row, "name");
        let type_name = get(row, "type");
        for (v, c) in [(&reference, "ref"), (&name, "name"), (&type_name, "type")] {
            if v.is_empty() {
                return Err(ImportError(format!(
                    "Row {line}: Column '{c}' cannot be empty or blank"
                )));
            }
        }
        let depth_text = get(row, "depth");
        let depth = if depth_text.is_empty() {
            0
        } else {
            depth_text.parse().map_err(|_| {
                ImportError(format!(
                    "Row {line}: depth '{depth_text}' is not an integer"
                ))
            })?
        };
        let layer = *layers.entry((depth, type_name.clone())).or_insert_with(|| {
            input.layers.push(LayerIn {
                name: format!("level-{depth}-{type_name}"),
                depth,
                type_name: type_name.clone(),
            });
            input.layers.len() - 1
        });
        if let Some(other) = seen.insert(reference.clone(), line) {
            return Err(ImportError(format!(
                "Row {line}: duplicate ref '{reference}', already used on row {other}"
            )));
        }
        let date = |c: &str| -> Result<DateIn, ImportError> {
            if !has(c) {
                return Ok(DateIn::Absent);
            }
            let v = get(row, c);
            if v.is_empty() {
                return Ok(DateIn::Clear);
            }
            NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                .map(DateIn::Set)
                .map_err(|_| {
                    ImportError(format!(
                        "Row {line}: Error parsing {c} for {name}: '{v}' does not match format YYYY-MM-DD"
                    ))
                })
        };
        let (lat, lon) = (get(row, "latitude"), get(row, "longitude"));
        let location = if lat.is_empty() && lon.is_empty() {
            None
        } else {
            let y: f64 = lat.parse().map_err(|_| {
                ImportError(format!("Row {line}: latitude '{lat}' is not a number"))
            })?;
            let x: f64 = lon.parse().map_err(|_| {
                ImportError(format!("Row {line}: longitude '{lon}' is not a number"))
            })?;
            if !(-90.0..=90.0).contains(&y) || !(-180.0..=180.0).contains(&x) {
                return Err(ImportError(format!(
                    "Row {line}: coordinates ({y}, {x}) are out of range"
                )));
            }
            Some(Point::new(x, y, Some(0.0)))
        };
        let parent_ref = Some(get(row, "parent_ref"))
            .filter(|p| !p.is_empty())
            .map(|p| normalize_ref(&p));
        input.units.push(UnitIn {
            layer,
            fid: line as i64,
            reference,
            name: name.clone(),
            parent_ref,
            group_refs: has("group_refs").then(|| {
                get(row, "group_refs")
                    .split(',')
                    .map(|r| normalize_ref(r.trim()))
                    .filter(|r| !r.is_empty())
                    .collect()
            }),
            code: get(row, "code"),
            opening_date: date("opening_date")?,
            closed_date: date("closed_date")?,
            location,
            geom: None,
        });
    }
    input.from_table = true;
    Ok(input)
}
