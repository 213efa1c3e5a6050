//! Reading workbooks (xlsx/xlsm, xls, csv) into plain string tables.
//!
//! Every cell becomes a string the way the reference converter renders it:
//! integral numbers without a decimal point, booleans as `TRUE`/`FALSE`,
//! dates as `YYYY-MM-DD HH:MM:SS`, text trimmed with non-breaking spaces
//! replaced by spaces. Empty rows are kept (row numbers stay accurate) but a
//! run of 60 empty rows, or 20 empty header columns, ends the sheet.

use indexmap::IndexMap;

use crate::error::ConvertError;

/// Hard limits that keep memory proportional to a sane form.
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// Maximum total declared uncompressed size of a zip (xlsx) archive.
pub const MAX_UNZIPPED_BYTES: u64 = 256 * 1024 * 1024;
/// Maximum declared uncompressed size of one zip entry.
pub const MAX_ENTRY_BYTES: u64 = 128 * 1024 * 1024;
/// Maximum number of data rows read from one sheet.
pub const MAX_ROWS: usize = 200_000;
/// Maximum number of columns read from one sheet.
pub const MAX_COLS: usize = 1_000;
/// Maximum number of cells read from one sheet.
pub const MAX_CELLS: usize = 5_000_000;

/// Size limits applied while reading; the defaults are the `MAX_*` constants.
/// Memory use stays proportional to these, whatever the file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input file, in bytes.
    pub max_input_bytes: usize,
    /// Largest total uncompressed size of an `.xlsx` archive.
    pub max_unzipped_bytes: u64,
    /// Largest uncompressed size of one `.xlsx` archive entry.
    pub max_entry_bytes: u64,
    /// Most data rows in one sheet.
    pub max_rows: usize,
    /// Most columns in one sheet.
    pub max_cols: usize,
    /// Most non-empty cells in one sheet.
    pub max_cells: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: MAX_INPUT_BYTES,
            max_unzipped_bytes: MAX_UNZIPPED_BYTES,
            max_entry_bytes: MAX_ENTRY_BYTES,
            max_rows: MAX_ROWS,
            max_cols: MAX_COLS,
            max_cells: MAX_CELLS,
        }
    }
}

pub(crate) const MAX_ADJACENT_EMPTY_ROWS: usize = 60;
pub(crate) const MAX_ADJACENT_EMPTY_COLS: usize = 20;

/// A sheet: its header names (in order) and rows (header -> value, non-empty only).
#[derive(Debug, Default, Clone)]
pub struct Sheet {
    pub headers: Vec<String>,
    pub rows: Vec<IndexMap<String, String>>,
    /// A data row has a value in a column without a header (a sign that the
    /// header row is missing); such values are otherwise ignored.
    pub unnamed_data: bool,
}

/// The workbook as the converter sees it.
#[derive(Debug, Default, Clone)]
pub struct Workbook {
    /// Original sheet names, for spelling suggestions.
    pub sheet_names: Vec<String>,
    /// Supported sheets by lower-case name.
    pub sheets: IndexMap<String, Sheet>,
}

pub const SUPPORTED_SHEETS: [&str; 6] = [
    "survey",
    "choices",
    "settings",
    "external_choices",
    "osm",
    "entities",
];

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Xls,
    Csv,
}

/// Pick the format from magic bytes, then from the file name.
pub fn detect_format(input: &[u8], file_name: &str) -> Format {
    if input.starts_with(b"PK\x03\x04") || input.starts_with(b"PK\x05\x06") {
        return Format::Xlsx;
    }
    if input.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Format::Xls;
    }
    let lower = file_name.to_ascii_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") {
        Format::Xlsx
    } else if lower.ends_with(".xls") {
        Format::Xls
    } else {
        Format::Csv
    }
}

pub fn read_workbook(
    input: &[u8],
    file_name: &str,
    limits: &Limits,
) -> Result<Workbook, ConvertError> {
    if input.len() > limits.max_input_bytes {
        return Err(ConvertError::Limit(format!(
            "The file is too large ({} bytes; the limit is {} bytes).",
            input.len(),
            limits.max_input_bytes
        )));
    }
    match detect_format(input, file_name) {
        Format::Xlsx => crate::xlsx::read_xlsx(input, limits),
        Format::Xls => crate::xls::read_xls(input, limits),
        Format::Csv => read_csv(input, limits),
    }
}

fn is_empty_str(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

fn collapse_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_space = false;
    for c in s.chars() {
        if c == ' ' {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out
}

/// Format a float the way Python's `str(float)` does for common values.
pub fn py_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        return format!("{}", v as i64);
    }
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let abs = v.abs();
    if (1e-4..1e16).contains(&abs) {
        // Shortest round-trip representation, like repr().
        let s = format!("{v}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{v:e}");
        // Rust: 1e-5 -> "1e-5"; Python: "1e-05".
        match s.split_once('e') {
            Some((mant, exp)) => {
                let (sign, digits) = if let Some(d) = exp.strip_prefix('-') {
                    ('-', d)
                } else {
                    ('+', exp)
                };
                let digits = if digits.len() < 2 {
                    format!("0{digits}")
                } else {
                    digits.to_string()
                };
                format!("{mant}e{sign}{digits}")
            }
            None => s,
        }
    }
}

pub(crate) fn excel_serial_to_string(serial: f64) -> String {
    // Excel 1900 date system (with the 1900 leap-year bug): day 60 is 1900-02-29.
    let days = serial.floor() as i64;
    let mut secs = ((serial - serial.floor()) * 86400.0).round() as i64;
    let mut days = days;
    if secs >= 86400 {
        secs -= 86400;
        days += 1;
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if days == 0 {
        return format!("{h:02}:{m:02}:{s:02}");
    }
    // Days since 1899-12-30 for serial > 60.
    let offset = if days < 60 { days + 1 } else { days };
    let (y, mo, d) = civil_from_days(offset - 25569); // 25569 = 1970-01-01
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02}:{s:02}")
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(crate) fn clean_text(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    Some(t.replace('\u{a0}', " "))
}

/// Build a [`Sheet`] from sparse cells grouped by row (0-based row index -> (col, value)).
pub(crate) fn build_sheet(
    sheet_name: &str,
    grid: Vec<(u32, Vec<(u32, String)>)>,
    limits: &Limits,
) -> Result<Sheet, ConvertError> {
    let mut iter = grid.into_iter().peekable();
    // Header row is the first row (row 0) if present.
    let header_cells: Vec<(u32, String)> = match iter.peek() {
        Some((0, _)) => iter.next().map(|(_, c)| c).unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut headers: Vec<Option<String>> = Vec::new();
    {
        let mut by_col: Vec<(u32, String)> = header_cells;
        by_col.sort_by_key(|c| c.0);
        let mut adjacent_empty = 0usize;
        let mut next_col = 0u32;
        let mut it = by_col.into_iter();
        let mut pending = it.next();
        loop {
            let cell = match &pending {
                Some((c, v)) if *c == next_col => {
                    let v = v.clone();
                    pending = it.next();
                    Some(v)
                }
                Some(_) => None,
                None => break,
            };
            match cell {
                Some(v) if !is_empty_str(&v) => {
                    adjacent_empty = 0;
                    let clean = collapse_spaces(v.trim());
                    if headers.iter().any(|h| h.as_deref() == Some(v.as_str())) {
                        return Err(ConvertError::Form(format!("Duplicate column header: {v}")));
                    }
                    headers.push(Some(clean));
                }
                _ => {
                    headers.push(None);
                    if adjacent_empty == MAX_ADJACENT_EMPTY_COLS {
                        break;
                    }
                    adjacent_empty += 1;
                }
            }
            next_col += 1;
            if headers.len() > limits.max_cols {
                return Err(ConvertError::Limit(format!(
                    "The '{sheet_name}' sheet has more than {} columns.",
                    limits.max_cols
                )));
            }
        }
        let keep = headers.len() - adjacent_empty.min(headers.len());
        headers.truncate(keep);
        while matches!(headers.last(), Some(None)) {
            headers.pop();
        }
    }
    let mut rows: Vec<IndexMap<String, String>> = Vec::new();
    let mut unnamed_data = false;
    let mut adjacent_empty = 0usize;
    let mut expected_row = 1u32;
    'outer: for (r, cells) in iter {
        // Rows missing from the sparse grid are empty rows.
        while expected_row < r {
            if adjacent_empty == MAX_ADJACENT_EMPTY_ROWS {
                break 'outer;
            }
            adjacent_empty += 1;
            rows.push(IndexMap::new());
            expected_row += 1;
        }
        let mut row = IndexMap::new();
        let mut cells = cells;
        cells.sort_by_key(|c| c.0);
        for (c, v) in cells {
            if is_empty_str(&v) {
                continue;
            }
            if let Some(Some(h)) = headers.get(c as usize) {
                row.insert(h.clone(), v);
            } else {
                unnamed_data = true;
            }
        }
        if row.is_empty() {
            if adjacent_empty == MAX_ADJACENT_EMPTY_ROWS {
                break;
            }
            adjacent_empty += 1;
        } else {
            adjacent_empty = 0;
        }
        rows.push(row);
        expected_row = r + 1;
        if rows.len() > limits.max_rows {
            return Err(ConvertError::Limit(format!(
                "The '{sheet_name}' sheet has more than {} rows.",
                limits.max_rows
            )));
        }
    }
    let keep = rows.len() - adjacent_empty.min(rows.len());
    rows.truncate(keep);
    Ok(Sheet {
        headers: headers.into_iter().flatten().collect(),
        rows,
        unnamed_data,
    })
}

fn read_csv(input: &[u8], limits: &Limits) -> Result<Workbook, ConvertError> {
    let text = std::str::from_utf8(input).map_err(|e| {
        ConvertError::read(format!(
            "Error reading .csv file: the file is not valid UTF-8 (byte {}).",
            e.valid_up_to()
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let head: String = text.chars().take(5000).collect();
    if head.matches(',').count() < 4 {
        return Err(ConvertError::read(
            "Error reading .csv file: The input data does not appear to be a valid XLSForm.".into(),
        ));
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut wb = Workbook::default();
    let mut current: Option<String> = None;
    let mut headers: Option<Vec<String>> = None;
    let mut count = 0usize;
    for rec in rdr.records() {
        let rec = rec.map_err(|e| ConvertError::read(format!("Error reading .csv file: {e}")))?;
        count += 1;
        if count > limits.max_rows {
            return Err(ConvertError::Limit(format!(
                "The CSV file has more than {} rows.",
                limits.max_rows
            )));
        }
        if rec.is_empty() {
            continue;
        }
        let first = rec.get(0).unwrap_or("").trim().to_string();
        let content: Vec<String> = rec.iter().skip(1).map(|v| v.trim().to_string()).collect();
        let has_content = content.iter().any(|c| !c.is_empty());
        if rec.len() == 1 || !first.is_empty() {
            if !first.is_empty() {
                let lower = first.to_lowercase();
                if !wb.sheet_names.contains(&first) {
                    wb.sheet_names.push(first.clone());
                    wb.sheets.insert(lower.clone(), Sheet::default());
                }
                current = Some(lower);
                headers = None;
            }
        }
        if has_content {
            let Some(sheet_name) = current.clone() else {
                continue;
            };
            let Some(sheet) = wb.sheets.get_mut(&sheet_name) else {
                continue;
            };
            match &headers {
                None => {
                    sheet.headers = content.clone();
                    headers = Some(content);
                }
                Some(h) => {
                    let mut row = IndexMap::new();
                    if content.iter().skip(h.len()).any(|v| !v.is_empty()) {
                        sheet.unnamed_data = true;
                    }
                    for (k, v) in h.iter().zip(content) {
                        if !v.is_empty() {
                            row.insert(k.clone(), v);
                        }
                    }
                    sheet.rows.push(row);
                }
            }
        }
    }
    // Keep only supported sheets (or a single sheet as survey).
    let mut out = Workbook {
        sheet_names: wb.sheet_names.clone(),
        sheets: IndexMap::new(),
    };
    let single = wb.sheets.len() == 1;
    for (k, v) in wb.sheets {
        if SUPPORTED_SHEETS.contains(&k.as_str()) {
            out.sheets.insert(k, v);
        } else if single {
            out.sheets.insert("survey".into(), v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_python() {
        assert_eq!(py_float(1.0), "1");
        assert_eq!(py_float(0.5), "0.5");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(-2.25), "-2.25");
    }

    #[test]
    fn dates() {
        assert_eq!(excel_serial_to_string(43831.0), "2020-01-01 00:00:00");
        assert_eq!(excel_serial_to_string(0.5), "12:00:00");
    }
}
