//! A bounded `.xls` reader (BIFF8, and BIFF5 for old files) on a small
//! Compound File reader.
//!
//! Memory stays proportional to the input, whatever the file claims: the
//! input is limited in size, every sector chain is followed at most once per
//! sector (cycles and out-of-range sectors are errors), streams are at most as
//! large as the sectors that hold them, strings are cut at their record, and
//! sheets are limited in rows, columns and cells while they are read (the same
//! limits as `.xlsx`).
//!
//! Formats: [MS-CFB] for the container (header, DIFAT/FAT/mini FAT sector
//! chains, directory), [MS-XLS] for the `Workbook` (BIFF8) or `Book` (BIFF5)
//! stream: the globals substream (BOUNDSHEET, SST + CONTINUE, FORMAT, XF,
//! DATEMODE, CODEPAGE, FILEPASS) and each worksheet substream (LABELSST,
//! LABEL, RSTRING, NUMBER, RK, MULRK, BOOLERR, FORMULA + STRING).

use crate::error::ConvertError;
use crate::reader::{
    build_sheet, clean_text, excel_serial_to_string, py_float, Limits, Workbook,
    MAX_ADJACENT_EMPTY_COLS, SUPPORTED_SHEETS,
};

fn err(msg: impl std::fmt::Display) -> ConvertError {
    ConvertError::Read(format!("Error reading .xls file: {msg}"))
}

const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
const FREE_SECT: u32 = 0xFFFF_FFFF;

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

fn f64_at(b: &[u8], i: usize) -> Option<f64> {
    Some(f64::from_le_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

/// A parsed compound file: sector size, FAT, directory and the input.
struct Cfb<'a> {
    data: &'a [u8],
    sector_size: usize,
    fat: Vec<u32>,
    /// (name, type, start sector, size) of each directory entry.
    entries: Vec<(String, u8, u32, u64)>,
    mini_cutoff: u64,
    mini_fat_start: u32,
}

impl<'a> Cfb<'a> {
    fn sector_count(&self) -> usize {
        (self.data.len() / self.sector_size).saturating_sub(1)
    }

    fn sector(&self, n: u32) -> Result<&'a [u8], ConvertError> {
        let start = (n as usize + 1)
            .checked_mul(self.sector_size)
            .ok_or_else(|| err("bad sector number"))?;
        self.data
            .get(start..start + self.sector_size)
            .ok_or_else(|| err("sector out of range"))
    }

    /// Follow a chain in `table`, calling `visit` for each sector; a sector is
    /// visited at most once and at most `limit` sectors are followed.
    fn chain(
        table: &[u32],
        start: u32,
        limit: usize,
        mut visit: impl FnMut(u32) -> Result<bool, ConvertError>,
    ) -> Result<(), ConvertError> {
        let mut seen = vec![false; table.len()];
        let mut n = start;
        let mut steps = 0usize;
        while n != END_OF_CHAIN && n != FREE_SECT {
            let i = n as usize;
            if i >= table.len() || seen[i] {
                return Err(err("corrupt sector chain"));
            }
            seen[i] = true;
            steps += 1;
            if steps > limit {
                return Err(err("sector chain too long"));
            }
            if !visit(n)? {
                break;
            }
            n = table[i];
        }
        Ok(())
    }

    fn open(data: &'a [u8]) -> Result<Self, ConvertError> {
        if data.len() < 512 || data[..8] != [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] {
            return Err(err("not a compound file"));
        }
        let h = |i| u32_at(data, i).unwrap_or(0);
        let shift = u16_at(data, 0x1E).unwrap_or(0);
        let sector_size = match shift {
            9 => 512,
            12 => 4096,
            _ => return Err(err("bad sector size")),
        };
        let mini_shift = u16_at(data, 0x20).unwrap_or(0);
        if mini_shift != 6 {
            return Err(err("bad mini sector size"));
        }
        let mut cfb = Cfb {
            data,
            sector_size,
            fat: Vec::new(),
            entries: Vec::new(),
            mini_cutoff: u64::from(h(0x38)),
            mini_fat_start: h(0x3C),
        };
        let sectors = cfb.sector_count();
        // FAT sector numbers: 109 in the header, then the DIFAT chain.
        let fat_count = h(0x2C) as usize;
        if fat_count > sectors {
            return Err(err("bad FAT size"));
        }
        let mut fat_sectors: Vec<u32> = Vec::with_capacity(fat_count);
        for k in 0..109 {
            if fat_sectors.len() == fat_count {
                break;
            }
            fat_sectors.push(h(0x4C + 4 * k));
        }
        let per_difat = sector_size / 4 - 1;
        let mut difat = h(0x44);
        let mut difat_steps = 0usize;
        while fat_sectors.len() < fat_count && difat != END_OF_CHAIN && difat != FREE_SECT {
            difat_steps += 1;
            if difat_steps > sectors {
                return Err(err("corrupt DIFAT chain"));
            }
            let s = cfb.sector(difat)?;
            for k in 0..per_difat {
                if fat_sectors.len() == fat_count {
                    break;
                }
                fat_sectors.push(u32_at(s, 4 * k).unwrap_or(FREE_SECT));
            }
            difat = u32_at(s, 4 * per_difat).unwrap_or(END_OF_CHAIN);
        }
        let mut fat = Vec::with_capacity(fat_sectors.len() * sector_size / 4);
        for &fs in &fat_sectors {
            let s = cfb.sector(fs)?;
            fat.extend(
                s.chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            );
        }
        // Only sectors that exist in the file can be chained.
        fat.truncate(sectors);
        cfb.fat = fat;
        // Directory.
        let mut dir = Vec::new();
        Self::chain(&cfb.fat, h(0x30), sectors, |n| {
            dir.extend_from_slice(cfb.sector(n)?);
            Ok(true)
        })?;
        for e in dir.chunks_exact(128) {
            let len = u16_at(e, 0x40).unwrap_or(0) as usize;
            let units: Vec<u16> = e[..len.min(64)]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .take_while(|&u| u != 0)
                .collect();
            let name = String::from_utf16_lossy(&units);
            let ty = e[0x42];
            let start = u32_at(e, 0x74).unwrap_or(END_OF_CHAIN);
            let size = if sector_size == 512 {
                u64::from(u32_at(e, 0x78).unwrap_or(0))
            } else {
                u32_at(e, 0x78).map(u64::from).unwrap_or(0)
                    | (u64::from(u32_at(e, 0x7C).unwrap_or(0)) << 32)
            };
            cfb.entries.push((name, ty, start, size));
        }
        Ok(cfb)
    }

    /// The bytes of a stream (by case-insensitive name).
    fn stream(&self, name: &str) -> Result<Option<Vec<u8>>, ConvertError> {
        let Some(&(_, _, start, size)) = self
            .entries
            .iter()
            .find(|(n, ty, _, _)| *ty == 2 && n.eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        // A stream can never be larger than the file that holds it.
        let size = usize::try_from(size.min(self.data.len() as u64)).unwrap_or(0);
        let mut out = Vec::with_capacity(size);
        if (size as u64) < self.mini_cutoff {
            // In the mini stream (held by the root entry), 64-byte mini sectors.
            let Some(&(_, _, root_start, root_size)) =
                self.entries.iter().find(|(_, ty, _, _)| *ty == 5)
            else {
                return Err(err("no root entry"));
            };
            let mut mini_stream = Vec::new();
            let root_size = usize::try_from(root_size.min(self.data.len() as u64)).unwrap_or(0);
            Self::chain(&self.fat, root_start, self.sector_count(), |n| {
                mini_stream.extend_from_slice(self.sector(n)?);
                Ok(mini_stream.len() < root_size)
            })?;
            let mut mini_fat = Vec::new();
            Self::chain(&self.fat, self.mini_fat_start, self.sector_count(), |n| {
                let s = self.sector(n)?;
                mini_fat.extend(
                    s.chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
                Ok(true)
            })?;
            mini_fat.truncate(mini_stream.len() / 64);
            Self::chain(&mini_fat, start, mini_fat.len(), |n| {
                let at = n as usize * 64;
                let s = mini_stream
                    .get(at..at + 64)
                    .ok_or_else(|| err("mini sector out of range"))?;
                out.extend_from_slice(s);
                Ok(out.len() < size)
            })?;
        } else {
            Self::chain(&self.fat, start, self.sector_count(), |n| {
                out.extend_from_slice(self.sector(n)?);
                Ok(out.len() < size)
            })?;
        }
        out.truncate(size);
        Ok(Some(out))
    }
}

/// BIFF records of a stream from `pos`: (type, data).
struct Records<'s> {
    s: &'s [u8],
    pos: usize,
}

impl<'s> Iterator for Records<'s> {
    type Item = (u16, &'s [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let ty = u16_at(self.s, self.pos)?;
        let len = u16_at(self.s, self.pos + 2)? as usize;
        let start = self.pos + 4;
        let data = self.s.get(start..start + len)?;
        self.pos = start + len;
        Some((ty, data))
    }
}

const BOF: u16 = 0x0809;
const EOF: u16 = 0x000A;
const CONTINUE: u16 = 0x003C;

/// Text decoding for BIFF5 byte strings (Windows code page; Latin-1 fallback).
fn decode_bytes(b: &[u8], codepage: u16) -> String {
    match codepage {
        65001 => String::from_utf8_lossy(b).into_owned(),
        1252 | 0x8001 | 0 => b.iter().map(|&c| cp1252(c)).collect(),
        _ => b.iter().map(|&c| char::from(c)).collect(),
    }
}

fn cp1252(c: u8) -> char {
    const HIGH: [u16; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    if (0x80..0xA0).contains(&c) {
        char::from_u32(u32::from(HIGH[(c - 0x80) as usize])).unwrap_or('\u{FFFD}')
    } else {
        char::from(c)
    }
}

/// Characters of a BIFF8 string body: up to `cch` characters, compressed (one
/// byte each) or not (UTF-16LE), cut at the end of the data. Returns the number
/// of characters (UTF-16 code units) consumed.
fn chars(data: &[u8], cch: usize, high: bool, out: &mut String) -> usize {
    if high {
        let n = cch.min(data.len() / 2);
        let units = data[..2 * n]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        out.extend(char::decode_utf16(units).map(|r| r.unwrap_or('\u{FFFD}')));
        n
    } else {
        let n = cch.min(data.len());
        out.extend(data[..n].iter().map(|&c| char::from(c)));
        n
    }
}

/// A BIFF8 `XLUnicodeString` (16-bit count) or BIFF5 byte string at `data`.
fn unicode_string(data: &[u8], biff8: bool, codepage: u16, wide_count: bool) -> String {
    let (cch, rest) = if wide_count {
        (
            u16_at(data, 0).unwrap_or(0) as usize,
            data.get(2..).unwrap_or(&[]),
        )
    } else {
        (
            data.first().copied().unwrap_or(0) as usize,
            data.get(1..).unwrap_or(&[]),
        )
    };
    if !biff8 {
        let n = cch.min(rest.len());
        return decode_bytes(&rest[..n], codepage);
    }
    let Some((&flags, body)) = rest.split_first() else {
        return String::new();
    };
    let mut skip = 0usize;
    if flags & 0x08 != 0 {
        skip += 2;
    }
    if flags & 0x04 != 0 {
        skip += 4;
    }
    let body = body.get(skip..).unwrap_or(&[]);
    let mut s = String::new();
    chars(body, cch, flags & 0x01 != 0, &mut s);
    s
}

/// The shared string table from an SST record and its CONTINUE records.
fn shared_strings(parts: &[&[u8]]) -> Result<Vec<String>, ConvertError> {
    let mut out = Vec::new();
    let Some(first) = parts.first() else {
        return Ok(out);
    };
    let unique = u32_at(first, 4).unwrap_or(0) as usize;
    // Cursor over the parts; strings' characters may continue in the next part,
    // which then starts with a fresh flags byte.
    let mut part = 0usize;
    let mut pos = 8usize;
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let limit = unique.min(total / 3 + 1);
    while out.len() < limit {
        // Header of one string: cch (2), flags (1), [cRun (2)], [cbExtRst (4)].
        let mut header = [0u8; 9];
        let mut got = 0usize;
        let mut need = 3usize;
        while got < need {
            while part < parts.len() && pos >= parts[part].len() {
                part += 1;
                pos = 0;
            }
            let Some(p) = parts.get(part) else {
                return Ok(out);
            };
            header[got] = p[pos];
            pos += 1;
            got += 1;
            if got == 3 {
                let flags = header[2];
                need = 3
                    + if flags & 0x08 != 0 { 2 } else { 0 }
                    + if flags & 0x04 != 0 { 4 } else { 0 };
            }
        }
        let cch = u16::from_le_bytes([header[0], header[1]]) as usize;
        let mut flags = header[2];
        let mut extra_len = 0usize;
        let mut k = 3;
        if flags & 0x08 != 0 {
            extra_len += 4 * u16::from_le_bytes([header[k], header[k + 1]]) as usize;
            k += 2;
        }
        if flags & 0x04 != 0 {
            extra_len +=
                u32::from_le_bytes([header[k], header[k + 1], header[k + 2], header[k + 3]])
                    as usize;
        }
        let mut s = String::new();
        let mut left = cch;
        while left > 0 {
            while part < parts.len() && pos >= parts[part].len() {
                part += 1;
                pos = 0;
                // A string continued in a new record restarts with its flags byte.
                if let Some(p) = parts.get(part) {
                    if let Some(&f) = p.first() {
                        flags = (flags & !0x01) | (f & 0x01);
                        pos = 1;
                    }
                }
            }
            let Some(p) = parts.get(part) else {
                out.push(s);
                return Ok(out);
            };
            let high = flags & 0x01 != 0;
            let n = chars(&p[pos..], left, high, &mut s);
            if n == 0 {
                // A lone byte of a wide character at the end of a record: skip it.
                pos = p.len();
                continue;
            }
            pos += if high { 2 * n } else { n };
            left -= n;
        }
        // Skip formatting runs and phonetic data (they may span records).
        let mut skip = extra_len;
        while skip > 0 {
            while part < parts.len() && pos >= parts[part].len() {
                part += 1;
                pos = 0;
            }
            let Some(p) = parts.get(part) else {
                out.push(s);
                return Ok(out);
            };
            let n = skip.min(p.len() - pos);
            pos += n;
            skip -= n;
        }
        out.push(s);
    }
    Ok(out)
}

/// Whether a number format code shows a date or time (same rule as `.xlsx`).
use crate::xlsx::is_date_format;

fn is_builtin_date_format(id: u16) -> bool {
    matches!(id, 14..=22 | 27..=36 | 45..=47 | 50..=58)
}

fn rk_value(rk: u32) -> f64 {
    let v = if rk & 0x02 != 0 {
        f64::from((rk as i32) >> 2)
    } else {
        f64::from_bits(u64::from(rk & 0xFFFF_FFFC) << 32)
    };
    if rk & 0x01 != 0 {
        v / 100.0
    } else {
        v
    }
}

struct Globals {
    biff8: bool,
    codepage: u16,
    is_1904: bool,
    strings: Vec<String>,
    /// For each XF record: whether its number format is a date/time format.
    date_xf: Vec<bool>,
    /// (name, substream offset, sheet type).
    sheets: Vec<(String, usize, u8)>,
}

fn globals(stream: &[u8]) -> Result<Globals, ConvertError> {
    let mut recs = Records { s: stream, pos: 0 }.peekable();
    let Some((ty, bof)) = recs.next() else {
        return Err(err("empty workbook stream"));
    };
    if ty != BOF && ty & 0xFF != 0x09 {
        return Err(err("the workbook stream does not start with a BOF record"));
    }
    let version = u16_at(bof, 0).unwrap_or(0);
    let biff8 = version == 0x0600;
    if !biff8 && version != 0x0500 {
        return Err(err(format!(
            "unsupported BIFF version {version:#06x} (save the file as .xlsx)"
        )));
    }
    let mut g = Globals {
        biff8,
        codepage: 1252,
        is_1904: false,
        strings: Vec::new(),
        date_xf: Vec::new(),
        sheets: Vec::new(),
    };
    let mut custom_formats: Vec<(u16, bool)> = Vec::new();
    let mut xf_formats: Vec<u16> = Vec::new();
    while let Some((ty, data)) = recs.next() {
        match ty {
            EOF => break,
            0x002F => return Err(err("the workbook is password-protected")),
            0x0042 => g.codepage = u16_at(data, 0).unwrap_or(1252),
            0x0022 => g.is_1904 = u16_at(data, 0).unwrap_or(0) == 1,
            0x0085 => {
                let pos = u32_at(data, 0).unwrap_or(0) as usize;
                let kind = data.get(5).copied().unwrap_or(0);
                let name = unicode_string(data.get(6..).unwrap_or(&[]), biff8, g.codepage, false);
                g.sheets.push((name, pos, kind));
            }
            0x041E | 0x001E => {
                let id = u16_at(data, 0).unwrap_or(0);
                let code = unicode_string(data.get(2..).unwrap_or(&[]), biff8, g.codepage, biff8);
                custom_formats.push((id, is_date_format(&code)));
            }
            0x00E0 => {
                if xf_formats.len() < 65_536 {
                    xf_formats.push(u16_at(data, 2).unwrap_or(0));
                }
            }
            0x00FC => {
                let mut parts: Vec<&[u8]> = vec![data];
                while let Some((CONTINUE, more)) = recs.peek().copied() {
                    parts.push(more);
                    recs.next();
                }
                g.strings = shared_strings(&parts)?;
            }
            _ => {}
        }
    }
    g.date_xf = xf_formats
        .iter()
        .map(|&f| {
            custom_formats
                .iter()
                .rev()
                .find(|(id, _)| *id == f)
                .map(|(_, d)| *d)
                .unwrap_or_else(|| is_builtin_date_format(f))
        })
        .collect();
    Ok(g)
}

type Grid = Vec<(u32, Vec<(u32, String)>)>;

fn read_sheet(
    stream: &[u8],
    g: &Globals,
    start: usize,
    name: &str,
    limits: &Limits,
) -> Result<Grid, ConvertError> {
    let mut cells: Vec<(u32, u32, String)> = Vec::new();
    let mut recs = Records {
        s: stream,
        pos: start,
    }
    .peekable();
    match recs.next() {
        Some((ty, _)) if ty & 0xFF == 0x09 => {}
        _ => return Err(err(format!("sheet '{name}' has no BOF record"))),
    }
    let number = |xf: u16, v: f64| -> String {
        if g.date_xf.get(xf as usize).copied().unwrap_or(false) {
            excel_serial_to_string(if g.is_1904 { v + 1462.0 } else { v })
        } else {
            py_float(v)
        }
    };
    let mut push = |row: u16, col: u16, v: Option<String>| -> Result<(), ConvertError> {
        let Some(v) = v else { return Ok(()) };
        if col as usize >= limits.max_cols + MAX_ADJACENT_EMPTY_COLS + 1 {
            return Ok(());
        }
        if row as usize > limits.max_rows + 1 {
            return Err(ConvertError::Limit(format!(
                "The '{name}' sheet has more than {} rows.",
                limits.max_rows
            )));
        }
        if cells.len() >= limits.max_cells {
            return Err(ConvertError::Limit(format!(
                "The '{name}' sheet has more than {} cells.",
                limits.max_cells
            )));
        }
        cells.push((u32::from(row), u32::from(col), v));
        Ok(())
    };
    while let Some((ty, d)) = recs.next() {
        let row = u16_at(d, 0).unwrap_or(0);
        let col = u16_at(d, 2).unwrap_or(0);
        let xf = u16_at(d, 4).unwrap_or(0);
        match ty {
            EOF => break,
            // A nested substream (chart, ...): skip to its EOF.
            t if t & 0xFF == 0x09 => {
                for (t2, _) in recs.by_ref() {
                    if t2 == EOF {
                        break;
                    }
                }
            }
            0x00FD => {
                let idx = u32_at(d, 6).unwrap_or(u32::MAX) as usize;
                push(row, col, g.strings.get(idx).and_then(|s| clean_text(s)))?;
            }
            0x0204 | 0x00D6 => {
                let s = unicode_string(d.get(6..).unwrap_or(&[]), g.biff8, g.codepage, true);
                push(row, col, clean_text(&s))?;
            }
            0x0203 => {
                if let Some(v) = f64_at(d, 6) {
                    push(row, col, Some(number(xf, v)))?;
                }
            }
            0x027E => {
                if let Some(rk) = u32_at(d, 6) {
                    push(row, col, Some(number(xf, rk_value(rk))))?;
                }
            }
            0x00BD => {
                // MULRK: row, first col, (xf, rk)*, last col.
                let body = d.get(4..d.len().saturating_sub(2)).unwrap_or(&[]);
                for (k, c) in body.chunks_exact(6).enumerate() {
                    let xf = u16::from_le_bytes([c[0], c[1]]);
                    let rk = u32::from_le_bytes([c[2], c[3], c[4], c[5]]);
                    let col = col.saturating_add(k as u16);
                    push(row, col, Some(number(xf, rk_value(rk))))?;
                }
            }
            0x0205 => {
                let (v, is_err) = (
                    d.get(6).copied().unwrap_or(0),
                    d.get(7).copied().unwrap_or(0),
                );
                if is_err == 0 {
                    push(
                        row,
                        col,
                        Some(if v != 0 { "TRUE" } else { "FALSE" }.to_string()),
                    )?;
                }
            }
            0x0006 => {
                let Some(res) = d.get(6..14) else { continue };
                if res[6] == 0xFF && res[7] == 0xFF {
                    match res[0] {
                        0 => {
                            // The string result follows in a STRING record.
                            if let Some((0x0207, s)) = recs.peek().copied() {
                                recs.next();
                                let text = unicode_string(s, g.biff8, g.codepage, true);
                                push(row, col, clean_text(&text))?;
                            }
                        }
                        1 => push(
                            row,
                            col,
                            Some(if res[2] != 0 { "TRUE" } else { "FALSE" }.to_string()),
                        )?,
                        _ => {}
                    }
                } else if let Some(v) = f64_at(res, 0) {
                    push(row, col, Some(number(xf, v)))?;
                }
            }
            _ => {}
        }
    }
    cells.sort_by_key(|c| (c.0, c.1));
    let mut grid: Grid = Vec::new();
    for (r, c, v) in cells {
        match grid.last_mut() {
            Some((lr, row)) if *lr == r => {
                // A later record for the same cell replaces the earlier one.
                if row.last().map(|x| x.0) == Some(c) {
                    row.pop();
                }
                row.push((c, v));
            }
            _ => grid.push((r, vec![(c, v)])),
        }
    }
    Ok(grid)
}

/// Read the supported sheets of an `.xls` workbook.
pub(crate) fn read_xls(input: &[u8], limits: &Limits) -> Result<Workbook, ConvertError> {
    let cfb = Cfb::open(input)?;
    let stream = match cfb.stream("Workbook")? {
        Some(s) => s,
        None => cfb
            .stream("Book")?
            .ok_or_else(|| err("no Workbook stream (not an Excel file?)"))?,
    };
    drop(cfb);
    let g = globals(&stream)?;
    let names: Vec<String> = g.sheets.iter().map(|(n, _, _)| n.clone()).collect();
    let mut wb = Workbook {
        sheet_names: names.clone(),
        sheets: Default::default(),
    };
    for (name, pos, kind) in &g.sheets {
        let lower = name.to_lowercase();
        let key = if SUPPORTED_SHEETS.contains(&lower.as_str()) {
            lower
        } else if names.len() == 1 {
            "survey".to_string()
        } else {
            continue;
        };
        if *kind != 0 {
            continue;
        }
        let grid = read_sheet(&stream, &g, *pos, name, limits)?;
        wb.sheets.insert(key, build_sheet(name, grid, limits)?);
    }
    Ok(wb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rk_numbers() {
        assert_eq!(rk_value((5 << 2) | 0x02), 5.0);
        assert_eq!(rk_value((-3i32 << 2) as u32 | 0x02), -3.0);
        assert_eq!(rk_value((1234 << 2) | 0x03), 12.34);
        let bits = (1.5f64.to_bits() >> 32) as u32;
        assert_eq!(rk_value(bits), 1.5);
    }

    #[test]
    fn sst_across_continue() {
        // Two strings; the second's characters continue in a CONTINUE record,
        // switching from compressed to UTF-16.
        let sst: Vec<u8> = [
            &[2, 0, 0, 0, 2, 0, 0, 0][..],
            &[2, 0, 0, b'h', b'i'],
            &[4, 0, 0, b'a', b'b'],
        ]
        .concat();
        let cont: Vec<u8> = [&[1u8][..], &[0xE9, 0, b'z', 0]].concat();
        let strings = shared_strings(&[&sst, &cont]).unwrap_or_default();
        assert_eq!(strings, vec!["hi".to_string(), "ab\u{e9}z".to_string()]);
    }

    #[test]
    fn not_a_compound_file() {
        assert!(read_xls(b"hello", &Limits::default()).is_err());
        let mut bad = vec![0u8; 1024];
        bad[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
        assert!(read_xls(&bad, &Limits::default()).is_err());
    }
}
