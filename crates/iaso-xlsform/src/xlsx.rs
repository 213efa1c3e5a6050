//! A small, fast `.xlsx`/`.xlsm` reader: only the parts a form needs.
//!
//! It opens the zip once, checks its declared sizes (zip bombs), and decompresses
//! only the package and workbook relationships, the workbook, the shared strings,
//! the worksheets it converts, and the styles (lazily: only when a number cell
//! carries a style, to tell dates from numbers). Themes, document properties,
//! drawings and the like are never decompressed. XML is parsed from borrowed
//! slices, so text that needs no unescaping is not copied.
//!
//! Cell values follow SpreadsheetML (ECMA-376 part 1, 18.3.1.4 `c`, 18.18.11
//! `ST_CellType`): `s` shared string, `inlineStr` (`<is>`), `str` formula text,
//! `b` boolean, `e` error (ignored), `d` ISO 8601 date, `n`/absent number, which
//! is a date when its number format (18.8.30/18.8.31) is a date/time format.
//! Text runs are concatenated, phonetic runs (`rPh`) skipped, `_xHHHH_` escapes
//! (ECMA-376 22.4.2.4 `ST_Xstring`) decoded.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Cursor;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::ConvertError;
use crate::reader::{
    build_sheet, clean_text, excel_serial_to_string, py_float, Limits, Workbook,
    MAX_ADJACENT_EMPTY_COLS, SUPPORTED_SHEETS,
};

/// Most entries an archive may have.
pub const MAX_ENTRIES: usize = 10_000;

fn read_err(e: impl std::fmt::Display) -> ConvertError {
    ConvertError::Read(format!("Error reading .xlsx file: {e}"))
}

struct Package<'a> {
    input: &'a [u8],
    zip: zip::ZipArchive<Cursor<&'a [u8]>>,
    inflater: Option<flate2::Decompress>,
    limits: Limits,
    /// Normalised (lower-case, forward slashes, no leading slash) name -> index.
    names: HashMap<String, usize>,
}

fn normalise(name: &str) -> String {
    name.trim_start_matches(['/', '\\'])
        .replace('\\', "/")
        .to_ascii_lowercase()
}

impl<'a> Package<'a> {
    fn open(input: &'a [u8], limits: &Limits) -> Result<Self, ConvertError> {
        let zip = zip::ZipArchive::new(Cursor::new(input)).map_err(read_err)?;
        if zip.len() > MAX_ENTRIES {
            return Err(ConvertError::Limit(
                "The .xlsx archive has too many entries.".into(),
            ));
        }
        let mut names = HashMap::with_capacity(zip.len());
        let mut total: u64 = 0;
        for i in 0..zip.len() {
            let f = zip.by_index_data(i).map_err(read_err)?;
            let name = f.name().map_err(read_err)?;
            let size = f.size();
            if size > limits.max_entry_bytes {
                return Err(ConvertError::Limit(format!(
                    "The .xlsx entry '{name}' is too large when uncompressed ({size} bytes)."
                )));
            }
            let compressed = f.compressed_size().max(1);
            if size > 1_000_000 && size / compressed > 1000 {
                return Err(ConvertError::Limit(format!(
                    "The .xlsx entry '{name}' has a suspicious compression ratio (zip bomb?)."
                )));
            }
            total = total.saturating_add(size);
            names.entry(normalise(&name)).or_insert(i);
        }
        if total > limits.max_unzipped_bytes {
            return Err(ConvertError::Limit(format!(
                "The .xlsx archive is too large when uncompressed ({total} bytes)."
            )));
        }
        Ok(Package {
            input,
            zip,
            inflater: None,
            limits: *limits,
            names,
        })
    }

    /// The text of an entry (`None` if absent). Inflates straight from the input
    /// into a buffer of the declared size (itself limited); output beyond the
    /// declared size is an error, so a lying header cannot inflate memory.
    fn text(&mut self, path: &str) -> Result<Option<String>, ConvertError> {
        let Some(&i) = self.names.get(&normalise(path)) else {
            return Ok(None);
        };
        let (method, start, compressed, declared) = {
            let f = self.zip.by_index_raw(i).map_err(read_err)?;
            if f.encrypted() {
                return Err(read_err("the workbook is encrypted"));
            }
            let start = f
                .data_start()
                .ok_or_else(|| read_err(format!("no data for '{path}'")))?;
            (f.compression(), start, f.compressed_size(), f.size())
        };
        let data = usize::try_from(start)
            .ok()
            .and_then(|s| Some(s..s.checked_add(usize::try_from(compressed).ok()?)?))
            .and_then(|r| self.input.get(r))
            .ok_or_else(|| read_err(format!("truncated entry '{path}'")))?;
        let declared = declared.min(self.limits.max_entry_bytes) as usize;
        let bytes = match method {
            zip::CompressionMethod::Stored => data[..declared.min(data.len())].to_vec(),
            zip::CompressionMethod::Deflated => {
                let inflater = self.inflater.get_or_insert_with(take_inflater);
                inflater.reset(false);
                // One spare byte tells "exactly the declared size" from "more".
                let mut out = Vec::with_capacity(declared + 1);
                loop {
                    let before = inflater.total_in();
                    let consumed = (inflater.total_in() as usize).min(data.len());
                    let status = inflater
                        .decompress_vec(
                            &data[consumed..],
                            &mut out,
                            flate2::FlushDecompress::Finish,
                        )
                        .map_err(read_err)?;
                    if out.len() > declared {
                        return Err(ConvertError::Limit(format!(
                            "The .xlsx entry '{path}' is larger than its declared size."
                        )));
                    }
                    match status {
                        flate2::Status::StreamEnd => break,
                        _ if inflater.total_in() == before && out.len() < out.capacity() => {
                            return Err(read_err(format!("truncated entry '{path}'")));
                        }
                        _ => {
                            if out.len() == out.capacity() {
                                out.reserve(1);
                            }
                        }
                    }
                }
                out
            }
            other => {
                return Err(read_err(format!(
                    "unsupported compression method {other:?} for '{path}'"
                )))
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                return Err(read_err(format!(
                    "'{path}' is not UTF-8 (byte {})",
                    e.utf8_error().valid_up_to()
                )))
            }
        };
        Ok(Some(match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_string(),
            None => text,
        }))
    }
}

thread_local! {
    /// One inflater per thread, reused across conversions (its state and
    /// 32 KiB window are the largest allocation of a small conversion).
    static INFLATER: std::cell::RefCell<Option<flate2::Decompress>> =
        const { std::cell::RefCell::new(None) };
}

fn take_inflater() -> flate2::Decompress {
    INFLATER
        .with(|c| c.borrow_mut().take())
        .unwrap_or_else(|| flate2::Decompress::new(false))
}

impl Drop for Package<'_> {
    fn drop(&mut self) {
        if let Some(inflater) = self.inflater.take() {
            INFLATER.with(|c| *c.borrow_mut() = Some(inflater));
        }
    }
}

/// Resolve a relationship target against the folder of the part that owns it.
fn resolve(base_dir: &str, target: &str) -> String {
    let joined = if let Some(abs) = target.strip_prefix('/') {
        abs.to_string()
    } else {
        format!("{base_dir}{target}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn dir_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    }
}

fn local(name: &str) -> &str {
    match name.rfind(':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Attributes of a start tag as raw `(key, value)` pairs (values not
/// unescaped). A small byte scanner: faster than a general attribute iterator
/// for the many short tags of worksheets (real files hold thousands of empty
/// styled cells); malformed input just ends the scan.
fn raw_attrs<'x>(e: &'x BytesStart<'_>) -> impl Iterator<Item = (&'x str, &'x str)> {
    let text = e.attributes_raw();
    let b = text.as_bytes();
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        while pos < b.len() && b[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let eq = pos + memchr::memchr(b'=', b.get(pos..)?)?;
        let mut key_end = eq;
        while key_end > pos && b[key_end - 1].is_ascii_whitespace() {
            key_end -= 1;
        }
        let mut q = eq + 1;
        while q < b.len() && b[q].is_ascii_whitespace() {
            q += 1;
        }
        let quote = *b.get(q).filter(|c| **c == b'"' || **c == b'\'')?;
        let end = q + 1 + memchr::memchr(quote, &b[q + 1..])?;
        // All split points are ASCII bytes, so char boundaries.
        let key = &text[pos..key_end];
        let value = &text[q + 1..end];
        pos = end + 1;
        Some((key, value))
    })
}

/// An attribute value by local name (unescaped).
fn attr<'x>(e: &'x BytesStart<'_>, key: &str) -> Option<Cow<'x, str>> {
    let (_, v) = raw_attrs(e).find(|(k, _)| local(k) == key)?;
    if v.contains('&') {
        quick_xml::escape::unescape(v)
            .ok()
            .map(|c| Cow::Owned(c.into_owned()))
    } else {
        Some(Cow::Borrowed(v))
    }
}

/// The raw (not unescaped) value of an attribute known to hold plain ASCII
/// tokens (cell references, numbers, types).
fn raw_attr<'x>(e: &'x BytesStart<'_>, key: &str) -> Option<&'x str> {
    raw_attrs(e).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// Relationships of a part: (Id, Type, resolved Target).
fn relationships(xml: &str, base_dir: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut r = Reader::from_str(xml);
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if local(e.name().as_ref()) == "Relationship" =>
            {
                let (mut id, mut ty, mut target, mut external) = ("", "", "", false);
                for (k, v) in raw_attrs(&e) {
                    match local(k) {
                        "Id" => id = v,
                        "Type" => ty = v,
                        "Target" => target = v,
                        "TargetMode" => external = v == "External",
                        _ => {}
                    }
                }
                if external {
                    continue;
                }
                let unescape = |v: &str| -> String {
                    if v.contains('&') {
                        quick_xml::escape::unescape(v)
                            .map(|c| c.into_owned())
                            .unwrap_or_else(|_| v.to_string())
                    } else {
                        v.to_string()
                    }
                };
                out.push((
                    unescape(id),
                    unescape(ty),
                    resolve(base_dir, &unescape(target)),
                ));
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// Decode `_xHHHH_` escapes (UTF-16 code units; `_x005F_` escapes the underscore).
fn unescape_xstring(s: &str) -> Cow<'_, str> {
    fn unit_at(b: &[u8], i: usize) -> Option<u16> {
        let w = b.get(i..i + 7)?;
        if w[0] != b'_' || w[1] != b'x' || w[6] != b'_' {
            return None;
        }
        let hex = std::str::from_utf8(&w[2..6]).ok()?;
        if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        u16::from_str_radix(hex, 16).ok()
    }
    let b = s.as_bytes();
    let mut first = None;
    let mut from = 0;
    while let Some(j) = memchr_x(b, from) {
        if unit_at(b, j).is_some() {
            first = Some(j);
            break;
        }
        from = j + 1;
    }
    let Some(first) = first else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..first]);
    let mut i = first;
    while i < b.len() {
        if let Some(u) = unit_at(b, i) {
            i += 7;
            match u {
                0xD800..=0xDBFF => match unit_at(b, i) {
                    Some(lo @ 0xDC00..=0xDFFF) => {
                        let cp =
                            0x10000 + ((u32::from(u) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                        out.push(char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER));
                        i += 7;
                    }
                    _ => out.push(char::REPLACEMENT_CHARACTER),
                },
                0xDC00..=0xDFFF => out.push(char::REPLACEMENT_CHARACTER),
                u => out.push(char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER)),
            }
            continue;
        }
        // Copy up to the next '_' (a char boundary: '_' is ASCII).
        let next = memchr_x(b, i + 1).unwrap_or(b.len());
        out.push_str(&s[i..next]);
        i = next;
    }
    Cow::Owned(out)
}

fn memchr_x(b: &[u8], from: usize) -> Option<usize> {
    b.get(from..)?
        .iter()
        .position(|&c| c == b'_')
        .map(|p| p + from)
}

/// Reads a string item (`<si>` or `<is>`) up to its end tag, appending the text
/// of its runs to `out` (phonetic runs skipped).
fn read_string_item(
    r: &mut Reader<&[u8]>,
    end: &str,
    out: &mut String,
) -> Result<(), ConvertError> {
    let mut phonetic = 0usize;
    loop {
        match r.read_event().map_err(read_err)? {
            Event::Start(e) => match local(e.name().as_ref()) {
                "rPh" => phonetic += 1,
                "t" if phonetic == 0 => {
                    let preserve =
                        e.attributes().with_checks(false).flatten().any(|a| {
                            a.key.as_ref() == "xml:space" && a.value.as_ref() == "preserve"
                        });
                    let mut text = String::new();
                    read_text(r, e.name().as_ref(), &mut text)?;
                    let t = if preserve {
                        text.as_str()
                    } else {
                        text.trim_matches([' ', '\t', '\r', '\n'])
                    };
                    out.push_str(&unescape_xstring(t));
                }
                _ => {}
            },
            Event::End(e) => {
                let n = e.name();
                if n.as_ref() == end {
                    return Ok(());
                }
                if local(n.as_ref()) == "rPh" {
                    phonetic = phonetic.saturating_sub(1);
                }
            }
            Event::Eof => return Err(read_err("unexpected end of a string item")),
            _ => {}
        }
    }
}

/// Reads text content up to the end tag `end`, resolving entity and character references.
fn read_text(r: &mut Reader<&[u8]>, end: &str, out: &mut String) -> Result<(), ConvertError> {
    let mut depth = 0usize;
    loop {
        match r.read_event().map_err(read_err)? {
            Event::Text(t) => out.push_str(&t.xml10_content()),
            Event::CData(t) => out.push_str(&t.xml10_content()),
            Event::GeneralRef(g) => {
                let name: &str = &g;
                match name {
                    "amp" => out.push('&'),
                    "lt" => out.push('<'),
                    "gt" => out.push('>'),
                    "quot" => out.push('"'),
                    "apos" => out.push('\''),
                    _ => match g.resolve_char_ref() {
                        Ok(Some(c)) => out.push(c),
                        _ => return Err(read_err(format!("unknown entity '&{name};'"))),
                    },
                }
            }
            Event::Start(_) => depth += 1,
            Event::End(e) => {
                if depth == 0 && e.name().as_ref() == end {
                    return Ok(());
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => return Err(read_err("unexpected end of a text element")),
            _ => {}
        }
    }
}

fn shared_strings(xml: &str, limits: &Limits) -> Result<Vec<String>, ConvertError> {
    let mut out = Vec::new();
    let mut r = Reader::from_str(xml);
    loop {
        match r.read_event().map_err(read_err)? {
            Event::Start(e) if local(e.name().as_ref()) == "si" => {
                let mut s = String::new();
                read_string_item(&mut r, e.name().as_ref(), &mut s)?;
                out.push(s);
            }
            Event::Empty(e) if local(e.name().as_ref()) == "si" => out.push(String::new()),
            Event::Eof => break,
            _ => {}
        }
        if out.len() > limits.max_cells {
            return Err(ConvertError::Limit(
                "The shared strings table is too large.".into(),
            ));
        }
    }
    Ok(out)
}

/// Whether a number format code shows a date or time: its first section has a
/// day/month/year/hour/minute/second token outside quoted text, escapes,
/// fill/skip characters and bracketed modifiers (colours, conditions, locales);
/// elapsed-time brackets `[h]`, `[mm]`, `[ss]` count as time.
pub(crate) fn is_date_format(code: &str) -> bool {
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        match c {
            ';' => return false,
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                let mut inner = String::new();
                for q in chars.by_ref() {
                    if q == ']' {
                        break;
                    }
                    inner.push(q);
                }
                let lower = inner.to_ascii_lowercase();
                if !lower.is_empty()
                    && (lower.chars().all(|x| x == 'h')
                        || lower.chars().all(|x| x == 'm')
                        || lower.chars().all(|x| x == 's'))
                {
                    return true;
                }
            }
            'd' | 'm' | 'y' | 'h' | 's' | 'D' | 'M' | 'Y' | 'H' | 'S' => return true,
            _ => {}
        }
    }
    false
}

/// Built-in number formats that are dates or times (ECMA-376 18.8.30, including
/// the East Asian locale-dependent ids).
fn is_builtin_date_format(id: u32) -> bool {
    matches!(id, 14..=22 | 27..=36 | 45..=47 | 50..=58)
}

/// For each cell style (`cellXfs/xf`), whether it formats numbers as dates.
fn date_styles(xml: &str) -> Vec<bool> {
    let mut custom: HashMap<u32, bool> = HashMap::new();
    let mut out = Vec::new();
    let mut in_cell_xfs = false;
    let mut r = Reader::from_str(xml);
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => match local(e.name().as_ref()) {
                "numFmt" => {
                    if let (Some(id), Some(code)) = (attr(&e, "numFmtId"), attr(&e, "formatCode")) {
                        if let Ok(id) = id.trim().parse::<u32>() {
                            custom.insert(id, is_date_format(&code));
                        }
                    }
                }
                "cellXfs" => in_cell_xfs = true,
                "xf" if in_cell_xfs => {
                    let id = attr(&e, "numFmtId")
                        .and_then(|v| v.trim().parse::<u32>().ok())
                        .unwrap_or(0);
                    let date = custom
                        .get(&id)
                        .copied()
                        .unwrap_or_else(|| is_builtin_date_format(id));
                    out.push(date);
                }
                _ => {}
            },
            Ok(Event::End(e)) if local(e.name().as_ref()) == "cellXfs" => in_cell_xfs = false,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// Column index (0-based) of a cell reference like `AB12`.
fn col_of(r: &str) -> Option<u32> {
    let mut n: u32 = 0;
    let mut any = false;
    for c in r.bytes() {
        if c.is_ascii_alphabetic() {
            n = n
                .checked_mul(26)?
                .checked_add(u32::from(c.to_ascii_uppercase() - b'A') + 1)?;
            any = true;
        } else {
            break;
        }
    }
    if any {
        Some(n - 1)
    } else {
        None
    }
}

fn parse_u32(b: &str) -> Option<u32> {
    b.trim().parse().ok()
}

struct SheetContext<'p, 'a> {
    strings: &'p [String],
    pkg: &'p mut Package<'a>,
    styles_path: Option<String>,
    date_styles: Option<Vec<bool>>,
    is_1904: bool,
}

impl SheetContext<'_, '_> {
    fn is_date_style(&mut self, style: u32) -> bool {
        if self.date_styles.is_none() {
            let styles = match &self.styles_path {
                Some(p) => self.pkg.text(p).ok().flatten(),
                None => None,
            };
            self.date_styles = Some(styles.as_deref().map(date_styles).unwrap_or_default());
        }
        self.date_styles
            .as_ref()
            .and_then(|d| d.get(style as usize).copied())
            .unwrap_or(false)
    }

    fn number(
        &mut self,
        v: &str,
        style: u32,
        explicit_type: bool,
    ) -> Result<Option<String>, ConvertError> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(None);
        }
        match t.parse::<f64>() {
            Ok(f) => {
                if style != 0 && self.is_date_style(style) {
                    let serial = if self.is_1904 { f + 1462.0 } else { f };
                    Ok(Some(excel_serial_to_string(serial)))
                } else {
                    Ok(Some(py_float(f)))
                }
            }
            Err(_) if !explicit_type => Ok(clean_text(v)),
            Err(_) => Err(read_err(format!("invalid number '{t}'"))),
        }
    }
}

type Grid = Vec<(u32, Vec<(u32, String)>)>;

fn read_cells(
    xml: &str,
    sheet_name: &str,
    ctx: &mut SheetContext<'_, '_>,
    limits: &Limits,
) -> Result<Grid, ConvertError> {
    let mut grid: Grid = Vec::new();
    let mut r = Reader::from_str(xml);
    let mut next_row: u32 = 0;
    let mut row: u32 = 0;
    let mut next_col: u32 = 0;
    let mut count = 0usize;
    let mut value = String::new();
    loop {
        let ev = r.read_event().map_err(read_err)?;
        let (e, empty) = match ev {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::Eof => break,
            _ => continue,
        };
        match local(e.name().as_ref()) {
            "row" => {
                row = raw_attr(&e, "r")
                    .and_then(parse_u32)
                    .and_then(|v| v.checked_sub(1))
                    .unwrap_or(next_row);
                next_row = row.saturating_add(1);
                next_col = 0;
            }
            "c" => {
                if empty {
                    // No value (often just a style): only its position matters.
                    let col = raw_attr(&e, "r").and_then(col_of).unwrap_or(next_col);
                    next_col = col.saturating_add(1);
                    continue;
                }
                let mut cref: Option<u32> = None;
                let mut ty: Option<String> = None;
                let mut style = 0u32;
                for (k, v) in raw_attrs(&e) {
                    match k {
                        "r" => cref = col_of(v),
                        "t" => ty = Some(v.to_string()),
                        "s" => style = parse_u32(v).unwrap_or(0),
                        _ => {}
                    }
                }
                let col = cref.unwrap_or(next_col);
                next_col = col.saturating_add(1);
                // Events borrow the sheet text, not the reader: names need no copy.
                let end = e.name();
                // Children: <f>, <v>, <is>, <extLst>.
                let mut cell: Option<String> = None;
                loop {
                    match r.read_event().map_err(read_err)? {
                        Event::Start(c) => {
                            let qname = c.name();
                            let name: &str = qname.as_ref();
                            match local(name) {
                                "v" => {
                                    value.clear();
                                    read_text(&mut r, name, &mut value)?;
                                    cell = match ty.as_deref() {
                                        Some("inlineStr") => cell,
                                        Some("s") => {
                                            let t = value.trim();
                                            if t.is_empty() {
                                                None
                                            } else {
                                                let idx: usize = t.parse().map_err(|_| {
                                                    read_err(format!(
                                                        "invalid shared string index '{t}'"
                                                    ))
                                                })?;
                                                let s = ctx.strings.get(idx).ok_or_else(|| {
                                                    read_err("Cell string index not found in shared strings table")
                                                })?;
                                                clean_text(s)
                                            }
                                        }
                                        Some("b") => match value.trim() {
                                            "" => None,
                                            "0" => Some("FALSE".to_string()),
                                            "1" => Some("TRUE".to_string()),
                                            t if t.eq_ignore_ascii_case("false") => {
                                                Some("FALSE".to_string())
                                            }
                                            t if t.eq_ignore_ascii_case("true") => {
                                                Some("TRUE".to_string())
                                            }
                                            t => {
                                                return Err(read_err(format!(
                                                    "invalid boolean cell value '{t}'"
                                                )))
                                            }
                                        },
                                        Some("e") => None,
                                        Some("d") => clean_text(&value),
                                        Some("str") => clean_text(&unescape_xstring(&value)),
                                        Some("n") => ctx.number(&value, style, true)?,
                                        None => ctx.number(&value, style, false)?,
                                        Some(other) => {
                                            return Err(read_err(format!(
                                                "unknown cell type '{}'",
                                                other
                                            )))
                                        }
                                    };
                                }
                                "is" => {
                                    value.clear();
                                    read_string_item(&mut r, name, &mut value)?;
                                    cell = clean_text(&value);
                                }
                                _ => {
                                    r.read_to_end(c.name()).map_err(read_err)?;
                                }
                            }
                        }
                        Event::End(c) if c.name().as_ref() == end.as_ref() => break,
                        Event::Eof => return Err(read_err("unexpected end of a cell")),
                        _ => {}
                    }
                }
                if col as usize >= limits.max_cols + MAX_ADJACENT_EMPTY_COLS + 1 {
                    continue;
                }
                let Some(v) = cell else { continue };
                count += 1;
                if count > limits.max_cells {
                    return Err(ConvertError::Limit(format!(
                        "The '{sheet_name}' sheet has more than {} cells.",
                        limits.max_cells
                    )));
                }
                match grid.last_mut() {
                    Some((lr, cells)) if *lr == row => cells.push((col, v)),
                    _ => {
                        if grid.len() > limits.max_rows + 1 {
                            return Err(ConvertError::Limit(format!(
                                "The '{sheet_name}' sheet has more than {} rows.",
                                limits.max_rows
                            )));
                        }
                        grid.push((row, vec![(col, v)]));
                    }
                }
            }
            _ => {}
        }
    }
    // Rows are normally in order; keep the first occurrence order stable otherwise.
    if grid.windows(2).any(|w| w[0].0 > w[1].0) {
        grid.sort_by_key(|g| g.0);
    }
    Ok(grid)
}

/// Read the supported sheets of an `.xlsx`/`.xlsm` workbook.
pub(crate) fn read_xlsx(input: &[u8], limits: &Limits) -> Result<Workbook, ConvertError> {
    let mut pkg = Package::open(input, limits)?;
    // Main part: the usual place, else where the package relationships say.
    let workbook_path = if pkg.names.contains_key("xl/workbook.xml") {
        "xl/workbook.xml".to_string()
    } else {
        let root_rels = pkg.text("_rels/.rels")?.unwrap_or_default();
        relationships(&root_rels, "")
            .into_iter()
            .find(|(_, ty, _)| ty.ends_with("/officeDocument"))
            .map(|(_, _, t)| t)
            .filter(|t| pkg.names.contains_key(&normalise(t)))
            .unwrap_or_else(|| "xl/workbook.xml".to_string())
    };
    let Some(workbook) = pkg.text(&workbook_path)? else {
        return Err(read_err("the workbook part is missing"));
    };
    let wb_dir = dir_of(&workbook_path).to_string();
    let rels_path = format!("{wb_dir}_rels/{}.rels", &workbook_path[wb_dir.len()..]);
    let rels = relationships(&pkg.text(&rels_path)?.unwrap_or_default(), &wb_dir);
    let by_type = |suffix: &str| {
        rels.iter()
            .find(|(_, ty, _)| ty.ends_with(suffix))
            .map(|(_, _, t)| t.clone())
    };
    let strings_path =
        by_type("/sharedStrings").unwrap_or_else(|| format!("{wb_dir}sharedStrings.xml"));
    let styles_path = by_type("/styles").or_else(|| Some(format!("{wb_dir}styles.xml")));

    // Sheets, in workbook order, and the date system.
    let mut sheets: Vec<(String, Option<String>)> = Vec::new();
    let mut is_1904 = false;
    {
        let mut r = Reader::from_str(&workbook);
        loop {
            match r.read_event() {
                Ok(Event::Start(e)) | Ok(Event::Empty(e)) => match local(e.name().as_ref()) {
                    "workbookPr" => {
                        is_1904 = matches!(attr(&e, "date1904").as_deref(), Some("1" | "true"));
                    }
                    "sheet" => {
                        let name = attr(&e, "name").unwrap_or_default().into_owned();
                        // The relationship id: an `r:id`-like attribute (any prefix).
                        let id = e
                            .attributes()
                            .with_checks(false)
                            .flatten()
                            .find(|a| {
                                let k = a.key.as_ref();
                                k.contains(':') && local(k) == "id"
                            })
                            .map(|a| a.value.into_owned());
                        let path = id.and_then(|id| {
                            rels.iter()
                                .find(|(rid, _, _)| *rid == id)
                                .map(|(_, _, t)| t.clone())
                        });
                        sheets.push((name, path));
                    }
                    _ => {}
                },
                Ok(Event::Eof) => break,
                Err(e) => return Err(read_err(e)),
                _ => {}
            }
        }
    }
    let names: Vec<String> = sheets.iter().map(|(n, _)| n.clone()).collect();
    let mut wb = Workbook {
        sheet_names: names.clone(),
        sheets: Default::default(),
    };
    let wanted: Vec<(String, &str, Option<&String>)> = sheets
        .iter()
        .filter_map(|(name, path)| {
            let lower = name.to_lowercase();
            let key = if SUPPORTED_SHEETS.contains(&lower.as_str()) {
                lower
            } else if names.len() == 1 {
                "survey".to_string()
            } else {
                return None;
            };
            Some((key, name.as_str(), path.as_ref()))
        })
        .collect();
    if wanted.is_empty() {
        return Ok(wb);
    }
    let strings = match pkg.text(&strings_path)? {
        Some(x) => shared_strings(&x, limits)?,
        None => Vec::new(),
    };
    let mut ctx = SheetContext {
        strings: &strings,
        pkg: &mut pkg,
        styles_path,
        date_styles: None,
        is_1904,
    };
    for (key, name, path) in wanted {
        let xml = match path {
            Some(p) => ctx.pkg.text(p)?,
            None => None,
        };
        let Some(xml) = xml else {
            return Err(read_err(format!("sheet '{name}' not found")));
        };
        let grid = read_cells(&xml, name, &mut ctx, limits)?;
        drop(xml);
        let sheet = build_sheet(name, grid, limits)?;
        wb.sheets.insert(key, sheet);
    }
    Ok(wb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xstring_escapes() {
        assert_eq!(unescape_xstring("a_x000D_b"), "a\rb");
        assert_eq!(unescape_xstring("_x005F_x000D_"), "_x000D_");
        assert_eq!(unescape_xstring("_xD83D__xDCF7_"), "\u{1F4F7}");
        assert_eq!(unescape_xstring("snake_case_x"), "snake_case_x");
        assert_eq!(unescape_xstring("é_x0041_"), "éA");
    }

    #[test]
    fn date_formats() {
        for f in [
            "yyyy-mm-dd",
            "d/m/yy h:mm",
            "[h]:mm:ss",
            "mm:ss",
            "[$-409]d-mmm-yy",
        ] {
            assert!(is_date_format(f), "{f}");
        }
        for f in [
            "General",
            "0.00",
            "#,##0",
            "\"days\" 0",
            "0_m",
            "[Red]0.0",
            "0;[h]",
        ] {
            assert!(!is_date_format(f), "{f}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(
            resolve("xl/", "worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(
            resolve("xl/", "/xl/worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(resolve("xl/", "../xl/./a.xml"), "xl/a.xml");
        assert_eq!(col_of("A1"), Some(0));
        assert_eq!(col_of("AB7"), Some(27));
        assert_eq!(col_of("12"), None);
    }
}
