//! Submission exports as CSV and XLSX with Iaso's columns, streamed: rows are read from the
//! database as a stream and written out in chunks (CSV) or into a temporary file (XLSX, a zip
//! written entry by entry), so memory stays bounded whatever the number of submissions.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use iaso_domain::AccountId;
use iaso_store::instances::{Instance, InstanceFilter};
use serde_json::Value;
use std::io::Write;

/// Neutralises spreadsheet formulas (`=`, `+`, `-`, `@`, tab, CR at the start of a cell).
/// Numbers and lists of numbers (a geopoint `-4.3 15.3 280 5`) are data, left as they are:
/// clients parse them (openhexa-toolbox reads geopoints of the southern hemisphere).
pub fn safe_cell(s: &str) -> String {
    let numeric = || {
        s.split_ascii_whitespace()
            .all(|t| t.parse::<f64>().is_ok_and(f64::is_finite))
            && !s.trim().is_empty()
    };
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if !numeric() => format!("'{s}"),
        _ => s.to_string(),
    }
}

/// Python's float formatting for whole numbers (`0.0`), as Iaso's exports show them.
fn py_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

const META_COLUMNS: &[&str] = &[
    "ID du formulaire",
    "Soumission de référence",
    "Version du formulaire",
    "Export id",
    "Latitude",
    "Longitude",
    "Altitude",
    "Précision",
    "Période",
    "Date de création",
    "Création dans IASO",
    "Date de modification",
    "Créé par",
    "Créé par id",
    "Status",
    "Entité",
    "Entité id",
    "Org unit",
    "Org unit id",
    "Référence externe",
    "parent1",
    "parent2",
    "parent3",
    "parent4",
];

/// The columns of an export of one form: meta columns, then one per question of the latest
/// version (repeats are one column holding their list as JSON).
pub struct Layout {
    pub questions: Vec<(String, String)>,
    pub correlatable: bool,
}

impl Layout {
    pub fn header(&self) -> Vec<String> {
        let mut h: Vec<String> = META_COLUMNS.iter().map(|s| s.to_string()).collect();
        if self.correlatable {
            h.push("correlation id".into());
        }
        h.extend(self.questions.iter().map(|(n, _)| n.clone()));
        h
    }

    pub fn labels(&self) -> Vec<String> {
        let mut l = vec![String::new(); META_COLUMNS.len() + usize::from(self.correlatable)];
        l.extend(self.questions.iter().map(|(_, label)| label.clone()));
        l
    }

    pub fn row(&self, i: &Instance) -> Vec<String> {
        let opt = |v: Option<f64>| v.map(py_float).unwrap_or_default();
        let json = i.json.as_ref().and_then(Value::as_object);
        let mut r = vec![
            i.id.to_string(),
            "False".into(),
            json.and_then(|j| j.get("_version"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            i.export_id.clone().unwrap_or_default(),
            opt(i.latitude),
            opt(i.longitude),
            opt(i.altitude),
            i.accuracy.map(|a| format!("{a:.2}")).unwrap_or_default(),
            safe_cell(i.period.as_deref().unwrap_or("")),
            ts(i.source_created_at.unwrap_or(i.created_at)),
            ts(i.created_at),
            ts(i.source_updated_at.unwrap_or(i.updated_at)),
            safe_cell(
                &i.created_by
                    .as_ref()
                    .map(|u| {
                        let full = format!("{} {}", u.first_name, u.last_name)
                            .trim()
                            .to_string();
                        if full.is_empty() {
                            u.username.clone()
                        } else {
                            format!("{} ({full})", u.username)
                        }
                    })
                    .unwrap_or_default(),
            ),
            i.created_by
                .as_ref()
                .map(|u| u.id.to_string())
                .unwrap_or_default(),
            i.status.clone(),
            i.entity_uuid
                .as_ref()
                .map(|u| format!("uuid:{u}"))
                .unwrap_or_default(),
            String::new(),
            safe_cell(i.org_unit_name.as_deref().unwrap_or("")),
            i.org_unit_id.map(|o| o.to_string()).unwrap_or_default(),
            safe_cell(i.org_unit_source_ref.as_deref().unwrap_or("")),
        ];
        for p in &i.org_unit_parents {
            r.push(safe_cell(p.as_deref().unwrap_or("")));
        }
        if self.correlatable {
            r.push(i.correlation_id.map(|c| c.to_string()).unwrap_or_default());
        }
        for (name, _) in &self.questions {
            let cell = match json.and_then(|j| j.get(name)) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => safe_cell(s),
                Some(other) => safe_cell(&other.to_string()),
            };
            r.push(cell);
        }
        r
    }
}

pub async fn layout(
    state: &AppState,
    account: AccountId,
    form_id: i64,
) -> ApiResult<(Layout, String)> {
    let form = state.store.form(account, form_id).await?;
    let questions = form
        .latest_version
        .as_ref()
        .and_then(|v| v.descriptor.as_ref())
        .map(|d| {
            iaso_domain::forms::questions_by_name(d)
                .into_iter()
                .map(|(n, q)| {
                    let label = match q.get("label") {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    };
                    (n, label)
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((
        Layout {
            questions,
            correlatable: form.correlatable,
        },
        format!(
            "instances-{}-{}",
            form.id,
            chrono::Utc::now().format("%Y-%m-%d-%H-%M")
        ),
    ))
}

fn csv_line(cells: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(256));
    let _ = w.write_record(cells);
    w.into_inner().unwrap_or_default()
}

/// Streams the CSV export.
pub async fn csv_response(
    state: &AppState,
    account: AccountId,
    form_id: i64,
    filter: InstanceFilter,
) -> ApiResult<Response> {
    let (layout, name) = layout(state, account, form_id).await?;
    let mut rows = state.store.stream_instances(account, &filter).await?;
    let stream = async_stream::stream! {
        let mut buf = csv_line(&layout.header());
        while let Some(item) = rows.next().await {
            match item {
                Ok(i) => {
                    buf.extend(csv_line(&layout.row(&i)));
                    if buf.len() >= 64 * 1024 {
                        yield Ok::<Bytes, std::io::Error>(Bytes::from(std::mem::take(&mut buf)));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "CSV export stopped");
                    yield Err(std::io::Error::other(e.to_string()));
                    return;
                }
            }
        }
        if !buf.is_empty() {
            yield Ok(Bytes::from(buf));
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={name}.csv"),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

fn col_name(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn xml_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn sheet_row(w: &mut impl Write, r: usize, cells: &[String]) -> std::io::Result<()> {
    write!(w, "<row r=\"{r}\">")?;
    for (c, v) in cells.iter().enumerate() {
        if v.is_empty() {
            continue;
        }
        write!(
            w,
            "<c r=\"{}{r}\" t=\"inlineStr\"><is><t xml:space=\"preserve\">{}</t></is></c>",
            col_name(c),
            xml_text(v)
        )?;
    }
    write!(w, "</row>")
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Forms" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

/// Builds the XLSX in a temporary file (rows flow through a bounded channel into the zip
/// writer on a blocking thread), then streams the file.
pub async fn xlsx_response(
    state: &AppState,
    account: AccountId,
    form_id: i64,
    filter: InstanceFilter,
) -> ApiResult<Response> {
    let (layout, name) = layout(state, account, form_id).await?;
    let mut rows = state.store.stream_instances(account, &filter).await?;
    let path = std::env::temp_dir().join(format!(
        "iaso-export-{}.xlsx",
        uuid::Uuid::new_v4().simple()
    ));
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<String>>(256);
    let header_row = layout.header();
    let labels = layout.labels();
    let file_path = path.clone();
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let file = std::fs::File::create(&file_path)?;
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let zerr = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
        for (n, body) in [
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ] {
            zip.start_file(n, opts).map_err(zerr)?;
            zip.write_all(body.as_bytes())?;
        }
        zip.start_file("xl/worksheets/sheet1.xml", opts)
            .map_err(zerr)?;
        write!(zip, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>")?;
        sheet_row(&mut zip, 1, &header_row)?;
        sheet_row(&mut zip, 2, &labels)?;
        let mut r = 3;
        while let Some(cells) = rx.blocking_recv() {
            sheet_row(&mut zip, r, &cells)?;
            r += 1;
        }
        write!(zip, "</sheetData></worksheet>")?;
        zip.finish().map_err(zerr)?;
        Ok(())
    });
    while let Some(item) = rows.next().await {
        let i = item?;
        if tx.send(layout.row(&i)).await.is_err() {
            break;
        }
    }
    drop(tx);
    writer
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(ApiError::internal)?;
    let cleanup = path.clone();
    let stream = async_stream::stream! {
        use tokio::io::AsyncReadExt;
        let mut file = file;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => yield Ok::<Bytes, std::io::Error>(Bytes::copy_from_slice(&buf[..n])),
                Err(e) => { yield Err(e); break; }
            }
        }
        let _ = tokio::fs::remove_file(&cleanup).await;
    };
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={name}.xlsx"),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(safe_cell("=1+1"), "'=1+1");
        assert_eq!(safe_cell("-3"), "-3");
        assert_eq!(safe_cell("-4.3 15.3 280 5"), "-4.3 15.3 280 5");
        assert_eq!(safe_cell("-1+cmd"), "'-1+cmd");
        assert_eq!(safe_cell("- 3"), "'- 3");
        assert_eq!(safe_cell("@x"), "'@x");
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(11.716788), "11.716788");
        assert_eq!(col_name(0), "A");
        assert_eq!(col_name(26), "AA");
    }
}
