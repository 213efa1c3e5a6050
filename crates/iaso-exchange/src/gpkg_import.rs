//! Reading an Iaso GeoPackage for import: the `groups` table and every `level-{depth}-{type}`
//! layer, checked row by row with Iaso's rules (`iaso-import-export.md` §2.1). Everything that
//! can be checked without the database is checked here, so a bad file fails before any write;
//! references to units and groups already in the target version are checked by the importer.
//!
//! Messages name the layer and the feature id (`fid`) and keep Iaso's wording of the problem.

use crate::ImportError;
use chrono::NaiveDate;
use iaso_geo::gpkg::{GpkgError, GpkgReader, ReadLimits, Value};
use iaso_geo::{Geometry, MultiPolygon, Point};
use iaso_store::org_unit_io::normalize_ref;
use std::collections::HashMap;
use std::path::Path;

/// A row of the `groups` table.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupIn {
    pub fid: i64,
    pub reference: String,
    pub name: String,
}

/// One `level-*` layer: one org unit type.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerIn {
    pub name: String,
    pub depth: i64,
    pub type_name: String,
}

/// A date column: absent (unchanged), present but empty (cleared), or a date.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DateIn {
    Absent,
    Clear,
    Set(NaiveDate),
}

impl DateIn {
    /// `None` = leave as is, `Some(v)` = set to `v`.
    pub fn change(self) -> Option<Option<NaiveDate>> {
        match self {
            DateIn::Absent => None,
            DateIn::Clear => Some(None),
            DateIn::Set(d) => Some(Some(d)),
        }
    }

    pub fn value(self) -> Option<NaiveDate> {
        match self {
            DateIn::Set(d) => Some(d),
            _ => None,
        }
    }
}

/// A feature of a `level-*` layer.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitIn {
    /// Index in [`GpkgInput::layers`].
    pub layer: usize,
    pub fid: i64,
    pub reference: String,
    pub name: String,
    pub parent_ref: Option<String>,
    /// `None`: no `group_refs` column (memberships untouched); `Some(list)`: replace by exactly
    /// these (empty = remove all).
    pub group_refs: Option<Vec<String>>,
    pub code: String,
    pub opening_date: DateIn,
    pub closed_date: DateIn,
    pub location: Option<Point>,
    pub geom: Option<MultiPolygon>,
}

/// Everything a GeoPackage holds for an import.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpkgInput {
    pub groups: Vec<GroupIn>,
    pub layers: Vec<LayerIn>,
    pub units: Vec<UnitIn>,
    /// Read from a table (simple CSV layout): `fid` is the row number.
    pub from_table: bool,
}

impl GpkgInput {
    /// Where a unit comes from, for messages: `layer 'level-3-DS', feature 4`.
    pub fn place(&self, u: &UnitIn) -> String {
        if self.from_table {
            return format!("Row {}", u.fid);
        }
        format!(
            "Layer '{}', feature {}",
            self.layers.get(u.layer).map_or("?", |l| l.name.as_str()),
            u.fid
        )
    }
}

fn open_error(e: GpkgError) -> ImportError {
    ImportError(format!("The file is not a valid GeoPackage: {e}"))
}

/// Text of a cell as Iaso reads it: strings as they are; numbers written as text (GIS tools
/// sometimes type a code column as integer); NULL as `None`.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::Text(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

/// Iaso's `validate_required_property`: present, not NULL, a string, not blank.
fn required(
    v: Option<&Value>,
    column: &str,
    place: impl Fn() -> String,
) -> Result<String, ImportError> {
    match v {
        None => Err(ImportError(format!(
            "{}: Missing required column: {column} (Column '{column}' is required but missing from GPKG)",
            place()
        ))),
        Some(Value::Null) => Err(ImportError(format!(
            "{}: Column '{column}' cannot be null",
            place()
        ))),
        Some(Value::Text(s)) if s.trim().is_empty() => Err(ImportError(format!(
            "{}: Column '{column}' cannot be empty or blank",
            place()
        ))),
        Some(Value::Text(s)) => Ok(s.trim().to_string()),
        Some(other) => Err(ImportError(format!(
            "{}: Column '{column}' must be a string, got {}",
            place(),
            match other {
                Value::Integer(_) => "an integer",
                Value::Real(_) => "a real number",
                _ => "a blob",
            }
        ))),
    }
}

fn date(
    v: Option<&Value>,
    column: &str,
    unit_name: &str,
    place: impl Fn() -> String,
) -> Result<DateIn, ImportError> {
    let Some(v) = v else {
        return Ok(DateIn::Absent);
    };
    let Some(s) = text(Some(v)) else {
        return Ok(DateIn::Clear);
    };
    let s = s.trim();
    if s.is_empty() {
        return Ok(DateIn::Clear);
    }
    // GDAL writes DATE columns as YYYY-MM-DD; a DATETIME typed column keeps its date part only
    // if it is exactly a date, as Iaso's strptime does.
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(DateIn::Set)
        .map_err(|_| {
            ImportError(format!(
                "{}: Error parsing {column} for {unit_name}: '{s}' does not match format YYYY-MM-DD",
                place()
            ))
        })
}

/// Splits a layer name `level-{depth}-{type}` (the type may itself contain dashes).
pub fn parse_layer_name(name: &str) -> Result<Option<(i64, String)>, ImportError> {
    if !name.starts_with("level-") {
        return Ok(None);
    }
    let mut parts = name.splitn(3, '-');
    let _level = parts.next();
    let depth = parts.next().unwrap_or("");
    let Some(type_name) = parts.next() else {
        return Err(ImportError(format!(
            "Layer '{name}': the name must be level-<depth>-<type name>"
        )));
    };
    let depth: i64 = depth.trim().parse().map_err(|_| {
        ImportError(format!(
            "Layer '{name}': the depth '{depth}' is not an integer (layer names are level-<depth>-<type name>)"
        ))
    })?;
    if type_name.trim().is_empty() {
        return Err(ImportError(format!(
            "Layer '{name}': the type name after level-{depth}- is empty"
        )));
    }
    Ok(Some((depth, type_name.to_string())))
}

/// Reads and checks the whole file. `progress` is called with the number of features read.
pub fn read_gpkg(path: &Path, progress: &mut dyn FnMut(usize)) -> Result<GpkgInput, ImportError> {
    let reader = GpkgReader::open(path, ReadLimits::default()).map_err(open_error)?;
    let mut input = GpkgInput::default();

    // Groups: a plain table `groups(ref, name)` (Iaso reads it with SQL: it is mandatory).
    if !reader.has_table("groups").map_err(open_error)? {
        return Err(ImportError(
            "The GeoPackage has no 'groups' table (columns ref and name; it may be empty)".into(),
        ));
    }
    let rows = reader
        .rows_with_columns("groups", &["ref", "name"])
        .map_err(|e| match e {
            GpkgError::MissingColumn { column, .. } => {
                ImportError(format!("Table 'groups': Missing required column: {column}"))
            }
            other => open_error(other),
        })?;
    for (i, row) in rows.enumerate() {
        let row = row.map_err(open_error)?;
        let fid = i as i64 + 1;
        let place = || format!("Table 'groups', row {fid}");
        let reference = normalize_ref(&required(row.get("ref"), "ref", place)?);
        if reference.contains(',') {
            return Err(ImportError(format!(
                "{}: group ref '{reference}' cannot contain a comma (group_refs are comma-separated)",
                place()
            )));
        }
        let name = match text(row.get("name")) {
            Some(n) if !n.trim().is_empty() => n.trim().to_string(),
            _ => {
                return Err(ImportError(format!(
                    "{}: Column 'name' cannot be empty or blank (group {reference})",
                    place()
                )))
            }
        };
        input.groups.push(GroupIn {
            fid,
            reference,
            name,
        });
    }

    let mut seen: HashMap<String, (usize, i64)> = HashMap::new();
    let mut read = 0usize;
    for info in reader.layers() {
        let Some((depth, type_name)) = parse_layer_name(&info.name)? else {
            continue;
        };
        let layer = input.layers.len();
        input.layers.push(LayerIn {
            name: info.name.clone(),
            depth,
            type_name,
        });
        for column in ["ref", "name"] {
            if !info.has_column(column) {
                return Err(ImportError(format!(
                    "Layer '{}': Missing required column: {column} (Column '{column}' is required but missing from GPKG)",
                    info.name
                )));
            }
        }
        let has_groups = info.has_column("group_refs");
        let features = reader.features(&info.name).map_err(open_error)?;
        for feature in features {
            let f = feature.map_err(|e| match e {
                GpkgError::Geometry { layer, fid, source } => ImportError(format!(
                    "Layer '{layer}', feature {fid}: Unhandled geom type or invalid geometry: {source}"
                )),
                other => open_error(other),
            })?;
            let fid = f.fid;
            let place = || format!("Layer '{}', feature {fid}", info.name);
            let reference = normalize_ref(&required(f.get("ref"), "ref", place)?);
            let name = required(f.get("name"), "name", place)?;
            let parent_ref = text(f.get("parent_ref"))
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .map(|p| normalize_ref(&p));
            let group_refs = if has_groups {
                Some(
                    text(f.get("group_refs"))
                        .unwrap_or_default()
                        .split(',')
                        .map(|r| normalize_ref(r.trim()))
                        .filter(|r| !r.is_empty())
                        .collect(),
                )
            } else {
                None
            };
            let code = text(f.get("code"))
                .map(|c| c.trim().to_string())
                .unwrap_or_default();
            let opening_date = date(f.get("opening_date"), "opening_date", &name, place)?;
            let closed_date = date(f.get("closed_date"), "closed_date", &name, place)?;
            let (location, geom) = match f.geometry {
                None => (None, None),
                Some(Geometry::Point(p)) => {
                    if p.x.is_nan() || p.y.is_nan() {
                        (None, None)
                    } else {
                        // Iaso's points are 3-D: a 2-D point gets z = 0.
                        (Some(Point::new(p.x, p.y, Some(p.z.unwrap_or(0.0)))), None)
                    }
                }
                Some(Geometry::MultiPolygon(mp)) => (None, Some(mp)),
            };
            if let Some((l, other_fid)) = seen.get(&reference) {
                return Err(ImportError(format!(
                    "{}: duplicate ref '{reference}', already used by layer '{}', feature {other_fid}",
                    place(),
                    input.layers[*l].name
                )));
            }
            seen.insert(reference.clone(), (layer, fid));
            input.units.push(UnitIn {
                layer,
                fid,
                reference,
                name,
                parent_ref,
                group_refs,
                code,
                opening_date,
                closed_date,
                location,
                geom,
            });
            read += 1;
            if read.is_multiple_of(10_000) {
                progress(read);
            }
        }
    }
    if input.layers.is_empty() {
        return Err(ImportError(
            "The GeoPackage has no layer named level-<depth>-<type name>: nothing to import".into(),
        ));
    }
    progress(read);
    Ok(input)
}
